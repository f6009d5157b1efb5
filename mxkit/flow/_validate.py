"""Input validation and conversions shared by :mod:`mxkit.flow` (internal).

Image conventions (fixed across mxkit): a frame is ``(H, W)`` grey or ``(H, W, 3)`` RGB,
either ``uint8`` in [0, 255] or floating point in [0, 1]. Floating point frames may exceed
[0, 1] by at most :data:`FLOAT_RANGE_TOL` (interpolation ringing); larger excursions are
rejected because they usually mean a [0, 255] float image was passed by mistake.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_finite, check_shape
from ..errors import InputValueError, ShapeError

__all__ = [
    "FLOAT_RANGE_TOL",
    "check_image",
    "check_frames",
    "check_flow",
    "to_gray01",
    "to_unit_float",
    "check_int",
    "check_real",
]

FLOAT_RANGE_TOL = 1e-2
"""How far a floating point image may leave [0, 1] before it is rejected."""

# ITU-R BT.601 luma weights, the ones cv2.cvtColor(..., COLOR_RGB2GRAY) uses.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _as_array(x: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(x)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputValueError(f"{name} cannot be converted to a numpy array: {exc}") from exc


def _check_pixels(arr: np.ndarray, name: str) -> None:
    if arr.dtype == np.uint8:
        return
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputValueError(
            f"{name} must be uint8 in [0, 255] or floating point in [0, 1]; got dtype {arr.dtype}"
        )
    check_finite(arr, name)
    if arr.size:
        lo, hi = float(arr.min()), float(arr.max())
        if lo < -FLOAT_RANGE_TOL or hi > 1.0 + FLOAT_RANGE_TOL:
            raise InputValueError(
                f"{name} is floating point, so its values must lie in [0, 1]; got range "
                f"[{lo:.4g}, {hi:.4g}] (divide a [0, 255] image by 255 or pass uint8)"
            )


def check_image(x: Any, name: str) -> np.ndarray:
    """Validate one frame, ``(H, W)`` or ``(H, W, 3)``, and return it as a numpy array."""
    arr = _as_array(x, name)
    if arr.ndim == 2:
        check_shape(arr, ("H", "W"), name)
    elif arr.ndim == 3:
        check_shape(arr, ("H", "W", 3), name)
    else:
        raise ShapeError(f"{name} must have shape (H, W) or (H, W, 3); got {arr.shape}")
    if min(arr.shape[:2]) < 1:
        raise ShapeError(f"{name} must not be empty; got shape {arr.shape}")
    _check_pixels(arr, name)
    return arr


def check_frames(x: Any, name: str, *, min_frames: int = 2) -> np.ndarray:
    """Validate a frame stack, ``(T, H, W)`` or ``(T, H, W, 3)``, with ``T >= min_frames``."""
    arr = _as_array(x, name)
    if arr.ndim == 3:
        check_shape(arr, ("T", "H", "W"), name)
    elif arr.ndim == 4:
        check_shape(arr, ("T", "H", "W", 3), name)
    else:
        raise ShapeError(f"{name} must have shape (T, H, W) or (T, H, W, 3); got {arr.shape}")
    if arr.shape[0] < min_frames:
        raise ShapeError(
            f"{name} must hold at least {min_frames} frames along axis 0; got {arr.shape[0]} "
            f"(shape {arr.shape})"
        )
    if min(arr.shape[1:3]) < 1:
        raise ShapeError(f"{name} must not have empty frames; got shape {arr.shape}")
    _check_pixels(arr, name)
    return arr


def check_flow(x: Any, name: str = "flow", *, batched: bool = False) -> np.ndarray:
    """Validate a numpy flow field ``(H, W, 2)`` (or ``(..., H, W, 2)`` if ``batched``)."""
    arr = _as_array(x, name)
    spec: tuple = ("...", "H", "W", 2) if batched else ("H", "W", 2)
    check_shape(arr, spec, name)
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputValueError(f"{name} must be floating point (pixels); got dtype {arr.dtype}")
    check_finite(arr, name)
    return arr


def to_unit_float(arr: np.ndarray) -> np.ndarray:
    """Return a float32 copy of a validated image or stack scaled to [0, 1]."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) * np.float32(1.0 / 255.0)
    return arr.astype(np.float32, copy=True)


def to_gray01(arr: np.ndarray, *, has_channels: bool) -> np.ndarray:
    """Convert a validated image (or stack) to float32 grey in [0, 1] (BT.601 luma)."""
    out = to_unit_float(arr)
    if has_channels:
        out = out @ _LUMA
    return np.ascontiguousarray(np.clip(out, 0.0, 1.0).astype(np.float32, copy=False))


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int, raising :class:`InputValueError` if it is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputValueError(f"{name} must be an integer; got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise InputValueError(f"{name} must be >= {minimum}; got {value}")
    return value


def check_real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite float inside the given interval."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputValueError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise InputValueError(f"{name} must be finite; got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        raise InputValueError(f"{name} must be {'>' if low_open else '>='} {low}; got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise InputValueError(f"{name} must be {'<' if high_open else '<='} {high}; got {value}")
    return value
