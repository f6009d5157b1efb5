"""Face detection, 68-point landmarks, alignment/cropping and landmark jitter for ME clips.

Typical micro-expression pre-processing (detect on the onset, one similarity for the clip)::

    from mxkit.face import detect_landmarks_sequence, align_clip, landmark_noise_floor
    seq = detect_landmarks_sequence(frames, policy="interpolate")   # (T, 68, 2) + bookkeeping
    aligned = align_clip(frames, seq.points, reference_index=onset, output_size=224)
    floor = landmark_noise_floor(aligned.landmarks, neutral=slice(0, onset))

Images are numpy arrays ``(H, W, 3)`` uint8 RGB (or ``(H, W)`` gray; float in [0, 1] is
accepted); the centre of pixel (row r, col c) is at (u=c, v=r); landmarks are float32
``(68, 2)`` (u, v) in iBUG-300W order (see :mod:`mxkit.face.ibug68`).

Backends: ``'dlib'`` (default, offline: dlib-bin + the predictor shipped by
face-recognition-models), ``'face_alignment'`` (optional package, weights supplied by you),
``'mediapipe'`` (optional, 478 FaceMesh points only). dlib, OpenCV and the optional packages
are imported on first use, never by ``import mxkit.face``.
"""

from .align import (
    TEMPLATE_68,
    Aligned,
    Similarity,
    align_clip,
    build_template,
    estimate_similarity,
    invert,
    place_template,
    transform_points,
)
from .backends import (
    FAN_WEIGHTS_URL,
    LANDMARK_BACKENDS,
    DlibBackend,
    FaceAlignmentBackend,
    LandmarkBackend,
    MediaPipeBackend,
    get_landmark_backend,
)
from .containers import FaceBox, Landmarks, LandmarkSequence
from .detect import detect_faces
from .ibug68 import (
    LANDMARK_GROUPS,
    LANDMARK_REGIONS,
    MIRROR_68,
    inter_ocular_distance,
    landmark_group,
)
from .landmarks import detect_landmarks, detect_landmarks_sequence
from .smooth import landmark_noise_floor, smooth_landmarks

__all__ = [
    # detection and landmarks
    "detect_faces",
    "detect_landmarks",
    "detect_landmarks_sequence",
    "FaceBox",
    "Landmarks",
    "LandmarkSequence",
    # backends
    "LANDMARK_BACKENDS",
    "LandmarkBackend",
    "DlibBackend",
    "FaceAlignmentBackend",
    "MediaPipeBackend",
    "get_landmark_backend",
    "FAN_WEIGHTS_URL",
    # alignment
    "Similarity",
    "estimate_similarity",
    "transform_points",
    "invert",
    "TEMPLATE_68",
    "build_template",
    "place_template",
    "Aligned",
    "align_clip",
    # smoothing and noise floor
    "smooth_landmarks",
    "landmark_noise_floor",
    # the iBUG-68 scheme
    "LANDMARK_GROUPS",
    "LANDMARK_REGIONS",
    "MIRROR_68",
    "landmark_group",
    "inter_ocular_distance",
]
