"""Validation and conversion of images and frame stacks (internal to :mod:`mxkit.face`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InputValueError, ShapeError

__all__ = ["as_image", "as_rgb", "FrameSource"]


def _check_dtype_and_convert(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise InputValueError(f"{name} contains NaN or infinite values")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise InputValueError(
                f"{name} is a float image, so its values must lie in [0, 1]; got values in "
                f"[{lo:g}, {hi:g}] (pass uint8 for 0-255 data)"
            )
        return np.ascontiguousarray(np.rint(arr * 255.0).astype(np.uint8))
    raise InputValueError(
        f"{name} must be uint8 (0-255) or float in [0, 1]; got dtype {arr.dtype}"
    )


def as_image(image: Any, name: str = "image") -> np.ndarray:
    """Validate one image and return it as C-contiguous uint8 ``(H, W)`` or ``(H, W, 3)``.

    Float images must lie in [0, 1] and are scaled to 0-255 (rounded). The channel order is
    taken to be RGB and is not changed.
    """
    if not isinstance(image, np.ndarray):
        raise InputValueError(
            f"{name} must be a numpy array of shape (H, W, 3) or (H, W); got {type(image).__name__}"
        )
    if image.ndim == 3 and image.shape[2] == 3:
        pass
    elif image.ndim == 2:
        pass
    else:
        hint = " (drop the alpha channel: image[..., :3])" if image.ndim == 3 and image.shape[2] == 4 else ""
        raise ShapeError(f"{name} must have shape (H, W, 3) RGB or (H, W) gray; got {image.shape}{hint}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ShapeError(f"{name} must have at least one pixel; got shape {image.shape}")
    return _check_dtype_and_convert(image, name)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """Return a validated uint8 image as ``(H, W, 3)`` (gray is repeated over 3 channels)."""
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    return image


class FrameSource:
    """Random access to validated frames of a ``(T, H, W, 3)`` / ``(T, H, W)`` array or a list.

    Frames are converted one at a time, so a long float clip is never copied whole.
    """

    def __init__(self, frames: Any, name: str = "frames") -> None:
        self.name = name
        if isinstance(frames, np.ndarray):
            if frames.ndim == 4 and frames.shape[3] == 3:
                pass
            elif frames.ndim == 3 and frames.shape[2] != 3:
                pass
            elif frames.ndim == 3:
                raise ShapeError(
                    f"{name} must have shape (T, H, W, 3) or (T, H, W); got {frames.shape}, which "
                    f"looks like a single RGB image: pass image[None] for a one-frame clip"
                )
            else:
                raise ShapeError(f"{name} must have shape (T, H, W, 3) or (T, H, W); got {frames.shape}")
            self._frames: Sequence[Any] = frames
        elif isinstance(frames, Sequence) and not isinstance(frames, (str, bytes)):
            self._frames = frames
        else:
            raise InputValueError(
                f"{name} must be a numpy array (T, H, W, 3) or a sequence of images; "
                f"got {type(frames).__name__}"
            )
        if len(self._frames) == 0:
            raise ShapeError(f"{name} must hold at least one frame; got 0")
        self._shape: tuple[int, ...] | None = None

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, index: int) -> np.ndarray:
        img = as_image(self._frames[index], f"{self.name}[{index}]")
        if self._shape is None:
            self._shape = img.shape
        elif img.shape != self._shape:
            raise ShapeError(
                f"all {self.name} must have the same shape; {self.name}[{index}] has {img.shape}, "
                f"earlier frames {self._shape}"
            )
        return img
