"""Result containers of :mod:`mxkit.face`: face boxes, landmarks of one image, landmark tracks.

Coordinates everywhere are (u, v) pixels: u = column (right), v = row (down), and the centre
of pixel (row r, col c) is at (u=c, v=r).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._checks import check_shape
from ..errors import InputValueError
from .ibug68 import N_LANDMARKS, landmark_group

__all__ = ["FaceBox", "Landmarks", "LandmarkSequence"]


@dataclass(frozen=True)
class FaceBox:
    """An axis-aligned face box in pixel coordinates.

    ``(x0, y0)`` is the centre of the box's top-left pixel and ``(x1, y1)`` the centre of its
    bottom-right pixel (dlib's ``left, top, right, bottom``), so ``width = x1 - x0``.

    Attributes
    ----------
    x0, y0, x1, y1 : float
        Corners, (u, v) pixels; ``x1 > x0`` and ``y1 > y0``.
    score : float
        Detector confidence (dlib HOG: SVM margin, > 0 for a detection at the default
        threshold; larger is more confident). NaN for boxes that were not detected.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    score: float = math.nan

    def __post_init__(self) -> None:
        vals = (self.x0, self.y0, self.x1, self.y1)
        for name in ("x0", "y0", "x1", "y1", "score"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if not all(math.isfinite(v) for v in vals):
            raise InputValueError(f"FaceBox corners must be finite; got {vals}")
        if not (self.x1 > self.x0 and self.y1 > self.y0):
            raise InputValueError(
                f"FaceBox needs x1 > x0 and y1 > y0; got (x0, y0, x1, y1) = {vals}"
            )

    @classmethod
    def from_array(cls, box: Any) -> FaceBox:
        """Build a box from ``(x0, y0, x1, y1)`` or ``(x0, y0, x1, y1, score)`` (or a FaceBox)."""
        if isinstance(box, FaceBox):
            return box
        arr = np.asarray(box, dtype=np.float64).ravel()
        if arr.shape not in ((4,), (5,)):
            raise InputValueError(
                f"box must be a FaceBox or (x0, y0, x1, y1[, score]); got shape {np.shape(box)}"
            )
        return cls(*arr.tolist())

    @classmethod
    def from_points(cls, points: np.ndarray, *, margin: float = 0.0) -> FaceBox:
        """Bounding box of ``points`` (N, 2), enlarged by ``margin`` times its size on each side."""
        pts = np.asarray(points, dtype=np.float64)
        lo, hi = np.nanmin(pts, axis=0), np.nanmax(pts, axis=0)
        pad = margin * (hi - lo)
        return cls(lo[0] - pad[0], lo[1] - pad[1], hi[0] + pad[0], hi[1] + pad[1])

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def center(self) -> tuple[float, float]:
        return (0.5 * (self.x0 + self.x1), 0.5 * (self.y0 + self.y1))

    def as_array(self) -> np.ndarray:
        """Corners as a float64 array ``(x0, y0, x1, y1)``, shape (4,)."""
        return np.array([self.x0, self.y0, self.x1, self.y1], dtype=np.float64)

    def scaled(self, factor: float, *, center: tuple[float, float] | None = None,
               shift: tuple[float, float] = (0.0, 0.0)) -> FaceBox:
        """Box scaled by ``factor`` about ``center`` (default: its own centre), then shifted."""
        cx, cy = self.center if center is None else center
        hw, hh = 0.5 * self.width * factor, 0.5 * self.height * factor
        nx, ny = cx + shift[0], cy + shift[1]
        return FaceBox(nx - hw, ny - hh, nx + hw, ny + hh, self.score)

    def iou(self, other: FaceBox) -> float:
        """Intersection over union with another box (areas taken as width x height)."""
        ix = max(0.0, min(self.x1, other.x1) - max(self.x0, other.x0))
        iy = max(0.0, min(self.y1, other.y1) - max(self.y0, other.y0))
        inter = ix * iy
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union > 0 else 0.0

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Boolean mask (N,) of the points (N, 2) that lie inside the box (edges included)."""
        pts = np.asarray(points, dtype=np.float64)
        return ((pts[:, 0] >= self.x0) & (pts[:, 0] <= self.x1)
                & (pts[:, 1] >= self.y0) & (pts[:, 1] <= self.y1))


def _landmark_frame(points: np.ndarray) -> pd.DataFrame:
    n = points.shape[0]
    return pd.DataFrame({
        "landmark": np.arange(n),
        "group": [landmark_group(i) for i in range(n)],
        "u": points[:, 0].astype(np.float64),
        "v": points[:, 1].astype(np.float64),
    })


@dataclass(frozen=True)
class Landmarks:
    """Facial landmarks of one image.

    Attributes
    ----------
    points : numpy.ndarray or None, shape (68, 2), float32
        iBUG-68 landmarks, (u, v) pixels. ``None`` only for ``scheme='mediapipe478'``
        (mediapipe has no validated 478 -> 68 mapping, see :func:`detect_landmarks`).
    box : FaceBox
        The face box the landmarks were predicted in.
    score : float
        Detection score of ``box`` (NaN for a box supplied by the caller or derived by the
        backend itself).
    backend : str
        ``'dlib'``, ``'face_alignment'`` or ``'mediapipe'``.
    point_scores : numpy.ndarray or None, shape (68,), float32
        Per-landmark confidence where the backend gives one (face_alignment: heatmap peak).
    mesh : numpy.ndarray or None, shape (478, 3), float32
        MediaPipe FaceMesh points: u, v in pixels and a relative depth in pixel-like units
        (not metric; smaller is nearer the camera). Only for ``backend='mediapipe'``.
    """

    points: np.ndarray | None
    box: FaceBox
    score: float
    backend: str
    point_scores: np.ndarray | None = None
    mesh: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.points is not None:
            check_shape(self.points, (N_LANDMARKS, 2), "points")
            object.__setattr__(self, "points", np.asarray(self.points, dtype=np.float32))
        if self.point_scores is not None:
            check_shape(self.point_scores, (N_LANDMARKS,), "point_scores")
            object.__setattr__(self, "point_scores", np.asarray(self.point_scores, dtype=np.float32))
        if self.mesh is not None:
            check_shape(self.mesh, (None, 3), "mesh")
            object.__setattr__(self, "mesh", np.asarray(self.mesh, dtype=np.float32))
        if self.points is None and self.mesh is None:
            raise InputValueError("Landmarks needs points or mesh")

    def to_dataframe(self) -> pd.DataFrame:
        """Tidy table, one row per landmark: ``landmark, group, u, v`` (iBUG-68 points)."""
        if self.points is None:
            raise InputValueError(
                "these landmarks hold only a mediapipe mesh (scheme='mediapipe478'); "
                "use .mesh"
            )
        df = _landmark_frame(self.points)
        df.insert(0, "backend", self.backend)
        return df


@dataclass(frozen=True)
class LandmarkSequence:
    """iBUG-68 landmarks of every frame of a clip (from :func:`detect_landmarks_sequence`).

    ``numpy.asarray(seq)`` gives ``seq.points``.

    Attributes
    ----------
    points : numpy.ndarray, shape (T, 68, 2), float32
        Landmarks, (u, v) pixels.
    boxes : numpy.ndarray, shape (T, 4), float64
        Box ``(x0, y0, x1, y1)`` the landmarks of each frame were predicted in (NaN rows for
        interpolated frames).
    scores : numpy.ndarray, shape (T,), float64
        Face-detection score of each frame (NaN where no detection was run, i.e. frames
        after the first with ``policy='track'``, and interpolated frames).
    interpolated : tuple of int
        Indices of the frames with no detected face whose landmarks were interpolated
        (``policy='interpolate'``); empty otherwise.
    backend, policy : str
        How the sequence was produced.
    """

    points: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    interpolated: tuple[int, ...]
    backend: str
    policy: str

    def __post_init__(self) -> None:
        dims = check_shape(self.points, ("T", N_LANDMARKS, 2), "points")
        check_shape(self.boxes, (dims["T"], 4), "boxes")
        check_shape(self.scores, (dims["T"],), "scores")
        object.__setattr__(self, "points", np.asarray(self.points, dtype=np.float32))
        object.__setattr__(self, "interpolated", tuple(int(i) for i in self.interpolated))

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.points if dtype is None else self.points.astype(dtype)
        return out.copy() if copy else out

    @property
    def interpolated_mask(self) -> np.ndarray:
        """Boolean mask (T,) of the interpolated frames."""
        mask = np.zeros(len(self), dtype=bool)
        mask[list(self.interpolated)] = True
        return mask

    def to_dataframe(self) -> pd.DataFrame:
        """Tidy table, one row per (frame, landmark): ``frame, landmark, group, u, v, interpolated``."""
        n_t = len(self)
        groups = np.array([landmark_group(i) for i in range(N_LANDMARKS)], dtype=object)
        pts = self.points.astype(np.float64)
        return pd.DataFrame({
            "frame": np.repeat(np.arange(n_t), N_LANDMARKS),
            "landmark": np.tile(np.arange(N_LANDMARKS), n_t),
            "group": np.tile(groups, n_t),
            "u": pts[..., 0].ravel(),
            "v": pts[..., 1].ravel(),
            "interpolated": np.repeat(self.interpolated_mask, N_LANDMARKS),
        })
