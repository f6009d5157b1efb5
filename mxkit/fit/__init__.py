"""Coarse fitting of a :class:`~mxkit.morph.FaceModel` to 2D landmarks over a whole clip.

* :func:`fit_landmarks` — batched Gauss-Newton (or L-BFGS-B / Adam) fit of identity,
  per-frame expression and weak-perspective camera; returns a :class:`CoarseFit`.
* :func:`fit_frames_independently` — the "static per-frame" baseline.
* :func:`smooth_fit` — Gaussian temporal smoothing of a fit (the "+ smoothing" ablation).
* :mod:`mxkit.fit.synthetic` — a procedural 68-landmark model and known-answer clips.
"""

from .coarse import (
    CONTOUR_IBUG68,
    RIGID_IBUG68,
    fit_frames_independently,
    fit_landmarks,
    landmark_weights,
)
from .result import CoarseFit, camera_rotation
from .smooth import smooth_fit

__all__ = [
    "fit_landmarks",
    "fit_frames_independently",
    "smooth_fit",
    "CoarseFit",
    "camera_rotation",
    "landmark_weights",
    "RIGID_IBUG68",
    "CONTOUR_IBUG68",
]
