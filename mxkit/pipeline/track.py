"""Sub-pixel, temporally consistent landmark tracks: detect once, follow the optical flow.

A landmark predictor run on every frame jitters: dlib's cascade lands on whole pixels and
re-decides each frame, so a face that does not move still shows landmark motion of a good
fraction of a pixel -- on a face 100 px wide, enough for the coarse fit and the networks to
reconstruct several tenths of a millimetre of motion that is not there. Micro-expressions move
by less than that.

:func:`track_landmarks` detects nothing itself: it takes the landmarks of one reference frame
(the onset, detected once) and moves each point with the dense optical flow from that frame to
every other one (:func:`mxkit.flow.flow_sequence`, computed on a crop around the face, optionally
upscaled):

    p_t = p_ref + F_t(p_ref)

where ``F_t`` is the flow reference -> t averaged around the point (a Gaussian window of
``sigma`` pixels of the frame, so the point follows the skin patch, not one noisy flow vector)
and sampled bilinearly at ``p_ref``. Every frame is tracked from the reference directly (no
chaining), so errors do not accumulate over the clip; the tracks are as consistent in time as
the flow is, and sub-pixel by construction. ``mxkit.prepare(clip, track="flow")`` uses it with
the onset detection. Known answer (``tests/test_track.py``): frames shifted by a known
sub-pixel translation give tracks shifted by that amount within 0.05 px.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._checks import check_finite, check_shape
from ..errors import InputValueError, ShapeError

__all__ = ["track_landmarks", "TRACK_MODES"]

#: Values of ``mxkit.prepare(track=...)``: ``'detect'`` (the predictor on every frame) or
#: ``'flow'`` (detect at the onset, follow the flow: :func:`track_landmarks`).
TRACK_MODES = ("detect", "flow")


def _roi(points: np.ndarray, shape: tuple[int, int], margin: float) -> tuple[int, int, int, int]:
    """Integer crop (x0, y0, x1, y1) around the points, ``margin`` x their extent on each side."""
    h, w = shape
    lo, hi = points.min(0), points.max(0)
    pad = margin * float(max(hi - lo))
    x0, y0 = int(max(0, np.floor(lo[0] - pad))), int(max(0, np.floor(lo[1] - pad)))
    x1, y1 = int(min(w, np.ceil(hi[0] + pad) + 1)), int(min(h, np.ceil(hi[1] + pad) + 1))
    if x1 - x0 < 8 or y1 - y0 < 8:
        raise InputValueError(f"the landmarks span too little of the {w}x{h} frame to track them "
                              f"(crop {x1 - x0}x{y1 - y0} px)")
    return x0, y0, x1, y1


def track_landmarks(frames: Any, points: Any, *, reference: int = 0, method: str = "dis",
                    params: Mapping[str, Any] | None = None, sigma: float = 3.0, upscale: int = 2,
                    margin: float = 0.25, n_jobs: int = 1) -> np.ndarray:
    """Landmarks of every frame from those of one frame and the optical flow (module docstring).

    Parameters
    ----------
    frames : numpy.ndarray, shape (T, H, W, 3) or (T, H, W)
        uint8 (or float in [0, 1]) frames of the clip.
    points : array (N, 2)
        ``(u, v)`` pixel coordinates of the landmarks on ``frames[reference]`` (e.g. the 68
        iBUG points detected at the onset).
    reference : int, default 0
        The frame the points belong to (negative counts from the end).
    method : {'dis', 'tvl1', 'farneback'}, default 'dis'
        Optical-flow method (:func:`mxkit.flow.optical_flow`).
    params : dict, optional
        Its parameters.
    sigma : float, default 3.0
        Std of the Gaussian window the flow is averaged over around each point, pixels of the
        frame (0: the flow vector at the point).
    upscale : int, default 2
        The face crop is enlarged by this factor (bicubic) before the flow, which gains flow
        precision on small faces; 1 keeps it as is.
    margin : float, default 0.25
        The crop extends this fraction of the landmarks' extent beyond them on each side (head
        motion larger than that leaves the crop and is tracked poorly).
    n_jobs : int, default 1
        Flow worker threads (the result does not depend on it).

    Returns
    -------
    numpy.ndarray, shape (T, N, 2), float64
        The tracked points; row ``reference`` is ``points``.

    Raises
    ------
    ShapeError
        Frames or points of the wrong shape.
    InputValueError
        Non-finite points, a bad reference, sigma, upscale or margin, or landmarks that span
        too small a crop.
    """
    import cv2  # lazy: importing mxkit.pipeline must not import OpenCV

    from ..flow import flow_sequence

    arr = np.asarray(frames)
    if arr.ndim not in (3, 4) or len(arr) < 2:
        raise ShapeError(f"frames must be (T, H, W[, 3]) with T >= 2; got shape {arr.shape}")
    pts = np.asarray(points, dtype=np.float64)
    check_shape(pts, ("N", 2), "points")
    check_finite(pts, "points")
    n = len(arr)
    if isinstance(reference, bool) or not isinstance(reference, (int, np.integer)) or not -n <= reference < n:
        raise InputValueError(f"reference must index one of the {n} frames; got {reference!r}")
    ref = int(reference) % n
    if isinstance(upscale, bool) or not isinstance(upscale, (int, np.integer)) or not 1 <= upscale <= 8:
        raise InputValueError(f"upscale must be an int in [1, 8]; got {upscale!r}")
    if not (isinstance(sigma, (int, float, np.floating)) and 0 <= float(sigma) <= 50):
        raise InputValueError(f"sigma must be in [0, 50] pixels; got {sigma!r}")
    if not (isinstance(margin, (int, float, np.floating)) and 0 <= float(margin) <= 2):
        raise InputValueError(f"margin must be in [0, 2]; got {margin!r}")
    x0, y0, x1, y1 = _roi(pts, arr.shape[1:3], float(margin))
    crop = arr[:, y0:y1, x0:x1]
    s = int(upscale)
    if s > 1:
        crop = np.stack([cv2.resize(f, ((x1 - x0) * s, (y1 - y0) * s), interpolation=cv2.INTER_CUBIC)
                         for f in crop])
    flow = flow_sequence(crop, reference=ref, method=method, params=params, n_jobs=n_jobs, progress=False)
    # pixel centres: crop pixel (c, r) of the upscaled image is at frame u = x0 + (c + 0.5) / s - 0.5
    q = (pts - np.array([x0, y0], dtype=np.float64) + 0.5) * s - 0.5
    out = np.empty((n, len(pts), 2))
    for t in range(n):
        f = flow[t].astype(np.float32)
        if sigma > 0:
            f = cv2.GaussianBlur(f, (0, 0), sigmaX=float(sigma) * s, borderType=cv2.BORDER_REPLICATE)
        sx = cv2.remap(f[..., 0], q[:, 0].astype(np.float32)[None], q[:, 1].astype(np.float32)[None],
                       cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0]
        sy = cv2.remap(f[..., 1], q[:, 0].astype(np.float32)[None], q[:, 1].astype(np.float32)[None],
                       cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0]
        out[t] = pts + np.stack([sx, sy], 1).astype(np.float64) / s
    out[ref] = pts
    return out
