"""Backward warping through a flow field, and flow visualisation.

Flow convention: ``(H, W, 2)`` pixels, channel 0 = u (+ right), channel 1 = v (+ down),
mapping a reference point ``p`` to where it moved in the target: ``target(p + flow(p)) ~=
ref(p)``. Backward warping therefore reads the target at ``p + flow(p)``:
``warp(target, flow) ~= ref``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_finite, check_option, check_shape
from ..errors import InputValueError, ShapeError
from ._validate import check_flow, check_real
from .sampling import pixel_to_normalized

__all__ = ["warp", "flow_to_rgb"]

Interpolation = Literal["linear", "nearest", "cubic"]
Border = Literal["replicate", "reflect", "constant"]


def _warp_numpy(image: Any, flow: Any, interpolation: str, border: str) -> np.ndarray:
    import cv2  # lazy: importing mxkit.flow must not import OpenCV

    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ShapeError(f"image must have shape (H, W) or (H, W, C); got {image.shape}")
    if image.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise InputValueError(
            f"image must be uint8, uint16, float32 or float64; got dtype {image.dtype}"
        )
    if image.dtype.kind == "f":
        check_finite(image, "image")
    height, width = image.shape[:2]
    flow = check_flow(flow, "flow")
    check_shape(flow, (height, width, 2), "flow (must match the image's H, W)")
    if image.ndim == 3 and not 1 <= image.shape[2] <= 4:
        raise ShapeError(f"image must have 1 to 4 channels; got shape {image.shape}")
    cols, rows = np.meshgrid(np.arange(width, dtype=np.float32),
                             np.arange(height, dtype=np.float32))
    map_x = cols + flow[..., 0].astype(np.float32)
    map_y = rows + flow[..., 1].astype(np.float32)
    interp = {"linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST,
              "cubic": cv2.INTER_CUBIC}[interpolation]
    mode = {"replicate": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT_101,
            "constant": cv2.BORDER_CONSTANT}[border]
    out = cv2.remap(np.ascontiguousarray(image), map_x, map_y, interp, borderMode=mode,
                    borderValue=0)
    return out.reshape(image.shape)


def _warp_torch(image: torch.Tensor, flow: Any, interpolation: str, border: str) -> torch.Tensor:
    if image.ndim not in (3, 4):
        raise ShapeError(f"image tensor must have shape (B, C, H, W) or (C, H, W); got "
                         f"{tuple(image.shape)}")
    if not torch.is_floating_point(image):
        raise InputValueError(f"image tensor must be floating point; got dtype {image.dtype}")
    flow = torch.as_tensor(flow, device=image.device)
    if flow.ndim not in (3, 4):
        raise ShapeError(f"flow must have shape (B, H, W, 2) or (H, W, 2); got {tuple(flow.shape)}")
    height, width = image.shape[-2], image.shape[-1]
    check_shape(flow, ("...", height, width, 2), "flow (must match the image's H, W)")
    if not torch.is_floating_point(flow):
        raise InputValueError(f"flow must be floating point (pixels); got dtype {flow.dtype}")
    if flow.device != image.device:
        raise InputValueError(f"image and flow must be on the same device; got {image.device} "
                              f"and {flow.device}")
    check_finite(image, "image")
    check_finite(flow, "flow")
    unbatched = image.ndim == 3 and flow.ndim == 3
    img4 = image if image.ndim == 4 else image.unsqueeze(0)
    f4 = (flow if flow.ndim == 4 else flow.unsqueeze(0)).to(image.dtype)
    bi, bf = img4.shape[0], f4.shape[0]
    if bi != bf and 1 not in (bi, bf):
        raise ShapeError(f"image and flow must have the same batch size (or 1); got "
                         f"{tuple(image.shape)} and {tuple(flow.shape)}")
    batch = max(bi, bf)
    rows, cols = torch.meshgrid(
        torch.arange(height, dtype=image.dtype, device=image.device),
        torch.arange(width, dtype=image.dtype, device=image.device),
        indexing="ij",
    )
    coords = torch.stack([cols, rows], dim=-1) + f4  # (B, H, W, 2) pixel (u, v)
    grid = pixel_to_normalized(coords, height, width).expand(batch, -1, -1, -1)
    out = F.grid_sample(
        img4.expand(batch, -1, -1, -1), grid,
        mode={"linear": "bilinear", "nearest": "nearest", "cubic": "bicubic"}[interpolation],
        padding_mode={"replicate": "border", "reflect": "reflection", "constant": "zeros"}[border],
        align_corners=True,
    )
    return out[0] if unbatched else out


def warp(
    image: Any,
    flow: Any,
    *,
    interpolation: Interpolation = "linear",
    border: Border = "replicate",
) -> Any:
    """Backward-warp an image through a flow field: ``out(p) = image(p + flow(p))``.

    With the mxkit flow from ``ref`` to ``target``, ``warp(target, flow) ~= ref``.

    * numpy input: ``cv2.remap`` (fast; OpenCV's bilinear weights are quantised to 1/32 px).
      ``image`` is ``(H, W)`` or ``(H, W, C)`` with ``C <= 4``, dtype kept.
    * torch input: ``grid_sample`` with ``align_corners=True`` (exact bilinear, differentiable
      w.r.t. image and flow, any device); ``image`` is ``(B, C, H, W)`` or ``(C, H, W)``.

    Parameters
    ----------
    image : numpy.ndarray, shape (H, W) or (H, W, C); or torch.Tensor, shape (B, C, H, W) or (C, H, W)
        Image to sample (typically the target frame).
    flow : numpy.ndarray or torch.Tensor, shape (H, W, 2) (numpy) or (B, H, W, 2) / (H, W, 2)
        Flow in pixels, channel 0 = u (+ right), channel 1 = v (+ down). A batch of 1 on
        either side broadcasts (torch).
    interpolation : {'linear', 'nearest', 'cubic'}, default 'linear'
        Interpolation between pixel centres.
    border : {'replicate', 'reflect', 'constant'}, default 'replicate'
        Values read outside the image: edge pixel, mirror about the edge pixel centre
        (OpenCV ``BORDER_REFLECT_101``), or 0.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Warped image, same shape and dtype as ``image`` (batched if either input is, torch).

    Raises
    ------
    ShapeError
        If ``image`` or ``flow`` has the wrong shape, or their ``H, W`` differ.
    InputValueError
        If a dtype is unsupported, values are NaN/inf, or tensors are on different devices.
    OptionError
        If ``interpolation`` or ``border`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from mxkit.flow import warp
    >>> image = np.arange(20, dtype=np.float32).reshape(4, 5)
    >>> flow = np.zeros((4, 5, 2), np.float32)
    >>> flow[..., 0] = 1.0                          # read one pixel to the right
    >>> warp(image, flow)[0].tolist()
    [1.0, 2.0, 3.0, 4.0, 4.0]
    """
    check_option(interpolation, ("linear", "nearest", "cubic"), "interpolation")
    check_option(border, ("replicate", "reflect", "constant"), "border")
    if torch.is_tensor(image):
        return _warp_torch(image, flow, interpolation, border)
    return _warp_numpy(image, flow, interpolation, border)


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV -> RGB, all inputs in [0, 1]; returns (..., 3) float."""
    h6 = (h % 1.0) * 6.0
    sector = np.floor(h6).astype(np.int64) % 6
    frac = h6 - np.floor(h6)
    p = v * (1.0 - s)
    q = v * (1.0 - frac * s)
    t = v * (1.0 - (1.0 - frac) * s)
    r = np.choose(sector, [v, q, p, p, t, v])
    g = np.choose(sector, [t, v, v, q, p, p])
    b = np.choose(sector, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-1)


def flow_to_rgb(flow: Any, *, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-code a flow field (HSV colour wheel) as an RGB image.

    Hue encodes direction in image coordinates (v down): right (+u) is red, down (+v)
    yellow-green, left cyan, up violet. Saturation encodes magnitude relative to
    ``max_magnitude``; zero motion is white.

    Parameters
    ----------
    flow : numpy.ndarray or torch.Tensor, shape (..., H, W, 2)
        Flow in pixels, channel 0 = u (+ right), channel 1 = v (+ down).
    max_magnitude : float, optional
        Magnitude (pixels) shown fully saturated; larger ones are clipped. Default: the
        largest magnitude in ``flow`` (shared by all leading frames), 1 if it is zero.

    Returns
    -------
    numpy.ndarray, shape (..., H, W, 3), uint8
        RGB image(s).

    Raises
    ------
    ShapeError
        If ``flow`` is not ``(..., H, W, 2)``.
    InputValueError
        If ``flow`` is not floating point, holds NaN/inf, or ``max_magnitude <= 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from mxkit.flow import flow_to_rgb
    >>> flow = np.zeros((1, 3, 2), np.float32)
    >>> flow[0, 1] = (1.0, 0.0)                    # middle pixel moves right
    >>> flow_to_rgb(flow)[0].tolist()
    [[255, 255, 255], [255, 0, 0], [255, 255, 255]]
    """
    if torch.is_tensor(flow):
        flow = flow.detach().cpu().numpy()
    flow = check_flow(flow, "flow", batched=True).astype(np.float64)
    u, v = flow[..., 0], flow[..., 1]
    magnitude = np.hypot(u, v)
    if max_magnitude is None:
        top = float(magnitude.max()) if magnitude.size else 0.0
        max_magnitude = top if top > 0 else 1.0
    else:
        max_magnitude = check_real(max_magnitude, "max_magnitude", low=0.0, low_open=True)
    hue = np.arctan2(v, u) / (2.0 * np.pi)
    saturation = np.clip(magnitude / float(max_magnitude), 0.0, 1.0)
    rgb = _hsv_to_rgb(hue, saturation, np.ones_like(hue))
    return np.round(rgb * 255.0).astype(np.uint8)
