"""Morphable face models: the :class:`FaceModel` interface, the embedded ``mh-head`` model,
user-supplied FLAME, landmark embeddings, the AU view and regions, and the vertex masks and
region weights that evaluation and training use (:func:`face_mask`, :func:`region_weights`)."""

from .au import ARKIT_NAMES, AU_TO_ARKIT, FACS_INTENSITY, GAZE_SHAPES
from .io import available_models, face_model_from_npz, load_face_model
from .masks import FACE_MASKS, face_mask, region_weights
from .model import FaceModel, LandmarkEmbedding

__all__ = [
    "FaceModel",
    "LandmarkEmbedding",
    "load_face_model",
    "available_models",
    "face_model_from_npz",
    "ARKIT_NAMES",
    "AU_TO_ARKIT",
    "FACS_INTENSITY",
    "GAZE_SHAPES",
    "face_mask",
    "region_weights",
    "FACE_MASKS",
]
