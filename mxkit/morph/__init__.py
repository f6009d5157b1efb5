"""Morphable face models: the :class:`FaceModel` interface, the embedded ``mh-head`` model,
user-supplied FLAME, landmark embeddings, the AU view and regions, the vertex masks and
region weights that evaluation and training use (:func:`face_mask`, :func:`region_weights`), and
ARKit takes in the Live Link Face CSV layout (:func:`write_live_link_csv`)."""

from .au import ARKIT_NAMES, AU_TO_ARKIT, FACS_INTENSITY, GAZE_SHAPES
from .io import available_models, face_model_from_npz, load_face_model
from .livelink import (
    LIVE_LINK_ANGLES,
    LIVE_LINK_NAMES,
    LiveLinkTake,
    read_live_link_csv,
    write_live_link_csv,
)
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
    "LIVE_LINK_NAMES",
    "LIVE_LINK_ANGLES",
    "LiveLinkTake",
    "write_live_link_csv",
    "read_live_link_csv",
]
