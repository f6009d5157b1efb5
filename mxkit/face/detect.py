"""Face detection (dlib's HOG + linear SVM frontal face detector).

dlib is imported lazily, on the first call, and the detector is built once per process
(thread-safe cache), so ``import mxkit.face`` stays cheap.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Literal

import numpy as np

from .._checks import check_option
from ..errors import BackendUnavailableError, InputValueError
from ._image import as_image
from .containers import FaceBox

__all__ = ["detect_faces", "DETECTION_BACKENDS"]

DETECTION_BACKENDS = ("dlib",)

_LOCK = threading.Lock()
_CACHE: dict[str, Any] = {}


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:  # pragma: no cover - dlib is a core dependency
        raise BackendUnavailableError(
            "the 'dlib' face backend needs dlib: pip install 'dlib-bin==20.0.1.post1' "
            f"(import failed: {exc})"
        ) from exc
    return dlib


def _hog_detector() -> Any:
    det = _CACHE.get("hog")
    if det is None:
        with _LOCK:
            det = _CACHE.get("hog")
            if det is None:
                det = _import_dlib().get_frontal_face_detector()
                _CACHE["hog"] = det
    return det


def _check_upsample(upsample: Any) -> int:
    if isinstance(upsample, bool) or not isinstance(upsample, (int, np.integer)) or not 0 <= upsample <= 4:
        raise InputValueError(f"upsample must be an int in [0, 4]; got {upsample!r}")
    return int(upsample)


def _check_threshold(threshold: Any) -> float:
    try:
        thr = float(threshold)
    except (TypeError, ValueError) as exc:
        raise InputValueError(f"threshold must be a finite number; got {threshold!r}") from exc
    if not math.isfinite(thr):
        raise InputValueError(f"threshold must be a finite number; got {threshold!r}")
    return thr


def _run_hog(image: np.ndarray, upsample: int, threshold: float) -> list[FaceBox]:
    rects, scores, _ = _hog_detector().run(image, upsample, threshold)
    boxes = [FaceBox(r.left(), r.top(), r.right(), r.bottom(), s) for r, s in zip(rects, scores, strict=True)]
    boxes.sort(key=lambda b: -b.score)
    return boxes


def detect_faces(image: np.ndarray, *, backend: Literal["dlib"] = "dlib", upsample: int = 1,
                 threshold: float = 0.0, max_faces: int | None = None) -> list[FaceBox]:
    """Detect frontal faces, best first.

    Parameters
    ----------
    image : numpy.ndarray, shape (H, W, 3) RGB or (H, W) gray
        uint8, or float in [0, 1].
    backend : {'dlib'}
        dlib's HOG detector (finds faces of about 80 px and larger at ``upsample=0``;
        each upsampling step halves that, and roughly quadruples the time).
    upsample : int, default 1
        Number of times the image is upsampled (x2) before detection, 0-4.
    threshold : float, default 0.0
        Detections with an SVM score below this are dropped (dlib's ``adjust_threshold``);
        negative values return weaker candidates too.
    max_faces : int or None
        Keep at most this many boxes (the best-scoring ones).

    Returns
    -------
    list of FaceBox
        Sorted by decreasing ``score``; empty if no face is found. The HOG detector can
        return a weak false face beside the real one, so when one face is wanted take the
        first box (as :func:`mxkit.face.detect_landmarks` does).

    Raises
    ------
    ShapeError, InputValueError
        Invalid image, ``upsample`` or ``threshold``.
    OptionError
        Unknown ``backend``.

    Examples
    --------
    >>> from skimage.data import astronaut
    >>> boxes = detect_faces(astronaut())
    >>> [round(v) for v in boxes[0].as_array()]
    [175, 76, 265, 166]
    """
    check_option(backend, DETECTION_BACKENDS, "backend")
    img = as_image(image)
    up = _check_upsample(upsample)
    thr = _check_threshold(threshold)
    if max_faces is not None and (isinstance(max_faces, bool) or not isinstance(max_faces, (int, np.integer))
                                  or max_faces < 1):
        raise InputValueError(f"max_faces must be a positive int or None; got {max_faces!r}")
    boxes = _run_hog(img, up, thr)
    return boxes if max_faces is None else boxes[: int(max_faces)]


def detect_near(image: np.ndarray, around: FaceBox, *, threshold: float = 0.0,
                search: float = 2.2, face_px: float = 110.0) -> FaceBox | None:
    """Re-detect a face in a window around ``around`` (fast per-frame presence check).

    The window is ``around`` scaled by ``search`` about its centre, clipped to the image, and
    resampled so that a face of ``around``'s size is about ``face_px`` pixels wide, which keeps
    the cost constant (and small) whatever the image and face size. Returns the best box in
    image coordinates, or ``None``.
    """
    import cv2

    h, w = image.shape[:2]
    win = around.scaled(search)
    c0, r0 = max(0, int(math.floor(win.x0))), max(0, int(math.floor(win.y0)))
    c1, r1 = min(w, int(math.ceil(win.x1)) + 1), min(h, int(math.ceil(win.y1)) + 1)
    if c1 - c0 < 8 or r1 - r0 < 8:
        return None
    crop = image[r0:r1, c0:c1]
    f = float(np.clip(face_px / max(around.width, 1.0), 0.25, 4.0))
    size = (max(1, round((c1 - c0) * f)), max(1, round((r1 - r0) * f)))
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR
    small = np.ascontiguousarray(cv2.resize(crop, size, interpolation=interp))
    fx, fy = size[0] / (c1 - c0), size[1] / (r1 - r0)
    boxes = _run_hog(small, 0, threshold)
    if not boxes:
        return None
    b = boxes[0]
    # Map pixel centres of the resized crop back: u = (u' + 0.5) / f - 0.5 + c0.
    return FaceBox((b.x0 + 0.5) / fx - 0.5 + c0, (b.y0 + 0.5) / fy - 0.5 + r0,
                   (b.x1 + 0.5) / fx - 0.5 + c0, (b.y1 + 0.5) / fy - 0.5 + r0, b.score)
