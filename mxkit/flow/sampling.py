"""Differentiable sampling of a flow field at sub-pixel points.

Points are ``(u, v)`` pixel coordinates: u = column (+ right), v = row (+ down), with the
centre of pixel ``(row r, col c)`` at ``(c, r)``. Bilinear interpolation between pixel
centres is exact for flows that are linear in ``(u, v)``.

Out-of-image policy: coordinates are clamped to the hull of the pixel centres,
``[0, W-1] x [0, H-1]`` (border replication, zero gradient w.r.t. a clamped coordinate).
``valid`` flags points inside the image area ``[-0.5, W-0.5] x [-0.5, H-0.5]``, i.e. on a
pixel of the image; samples of invalid points are border values and should be masked out.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_finite, check_option, check_shape
from ..errors import InputValueError, ShapeError

__all__ = ["FlowSamples", "sample_flow", "pixel_to_normalized"]


class FlowSamples(NamedTuple):
    """Flow values sampled at points, with the validity of each point.

    Attributes
    ----------
    values : torch.Tensor or numpy.ndarray, shape (B, N, 2) or (N, 2)
        Sampled flow (u, v) in pixels, dtype of the flow.
    valid : torch.Tensor or numpy.ndarray, shape (B, N) or (N,), bool
        True where the point lies on the image, ``-0.5 <= u <= W-0.5`` and
        ``-0.5 <= v <= H-0.5``.
    """

    values: Any
    valid: Any


def pixel_to_normalized(points: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Map pixel-centre coordinates to ``grid_sample``'s [-1, 1] (``align_corners=True``).

    Parameters
    ----------
    points : torch.Tensor, shape (..., 2)
        ``(u, v)`` in pixels; ``(0, 0)`` is the centre of the top-left pixel.
    height, width : int
        Image size ``H``, ``W`` in pixels.

    Returns
    -------
    torch.Tensor, shape (..., 2)
        ``(2 u / (W - 1) - 1, 2 v / (H - 1) - 1)``; an axis of size 1 maps to 0.

    Examples
    --------
    >>> import torch
    >>> pixel_to_normalized(torch.tensor([[0.0, 0.0], [9.0, 4.0]]), 5, 10).tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    """
    scale = points.new_tensor([2.0 / (width - 1) if width > 1 else 0.0,
                               2.0 / (height - 1) if height > 1 else 0.0])
    offset = points.new_tensor([-1.0 if width > 1 else 0.0, -1.0 if height > 1 else 0.0])
    return points * scale + offset


def sample_flow(
    flow: Any,
    points: Any,
    *,
    mode: Literal["bilinear", "nearest"] = "bilinear",
) -> FlowSamples:
    """Sample a flow field at sub-pixel points, differentiably w.r.t. flow and points.

    Uses ``torch.nn.functional.grid_sample`` with ``align_corners=True`` and the mapping of
    :func:`pixel_to_normalized`, so ``values[b, n]`` is the bilinear interpolation of
    ``flow[b]`` between the four pixel centres around ``points[b, n]``. Points outside the
    hull of the pixel centres are clamped onto it (border replication, zero gradient w.r.t.
    the clamped coordinate) and flagged in ``valid`` when they also leave the image area.
    Device and dtype follow ``flow`` (points are cast to its dtype).

    A numpy ``flow`` gives numpy outputs (a convenience; not differentiable).

    Parameters
    ----------
    flow : torch.Tensor or numpy.ndarray, shape (B, H, W, 2) or (H, W, 2)
        Flow in pixels, channel 0 = u (+ right), channel 1 = v (+ down), floating point.
    points : torch.Tensor or numpy.ndarray, shape (B, N, 2) or (N, 2)
        Query points ``(u, v)`` in pixels of the flow's grid (u = column, v = row, pixel
        centres at integers). A batch of size 1 on either side broadcasts to the other.
    mode : {'bilinear', 'nearest'}, default 'bilinear'
        Interpolation; ``'nearest'`` is not differentiable w.r.t. ``points``.

    Returns
    -------
    FlowSamples
        ``values`` shape (B, N, 2) and ``valid`` shape (B, N) bool; (N, 2) and (N,) when
        both ``flow`` and ``points`` are unbatched.

    Raises
    ------
    ShapeError
        If shapes do not match the above or the batch sizes differ (and neither is 1).
    InputValueError
        If an input is not floating point, holds NaN/inf, or the two tensors are on
        different devices.
    OptionError
        If ``mode`` is unknown.

    Examples
    --------
    >>> import torch
    >>> from mxkit.flow import sample_flow
    >>> flow = torch.zeros(4, 5, 2)
    >>> flow[..., 0] = torch.arange(5.0)          # u = x
    >>> values, valid = sample_flow(flow, torch.tensor([[1.25, 2.5], [9.0, 0.0]]))
    >>> values[:, 0].tolist(), valid.tolist()
    ([1.25, 4.0], [True, False])
    """
    check_option(mode, ("bilinear", "nearest"), "mode")
    as_numpy = not torch.is_tensor(flow)
    if as_numpy:
        flow = torch.from_numpy(np.ascontiguousarray(np.asarray(flow)))
    if not torch.is_tensor(points):
        points = torch.as_tensor(np.asarray(points), device=flow.device)
    if flow.ndim not in (3, 4):
        raise ShapeError(f"flow must have shape (B, H, W, 2) or (H, W, 2); got {tuple(flow.shape)}")
    if points.ndim not in (2, 3):
        raise ShapeError(f"points must have shape (B, N, 2) or (N, 2); got {tuple(points.shape)}")
    check_shape(flow, ("...", "H", "W", 2), "flow")
    check_shape(points, ("...", "N", 2), "points")
    if not torch.is_floating_point(flow):
        raise InputValueError(f"flow must be floating point (pixels); got dtype {flow.dtype}")
    if not (torch.is_floating_point(points) or points.dtype in (torch.int32, torch.int64)):
        raise InputValueError(f"points must be real pixel coordinates; got dtype {points.dtype}")
    if points.device != flow.device:
        raise InputValueError(
            f"flow and points must be on the same device; got {flow.device} and {points.device}"
        )
    check_finite(flow, "flow")
    check_finite(points, "points")

    unbatched = flow.ndim == 3 and points.ndim == 2
    f4 = flow if flow.ndim == 4 else flow.unsqueeze(0)
    p3 = points if points.ndim == 3 else points.unsqueeze(0)
    bf, bp = f4.shape[0], p3.shape[0]
    if bf != bp and 1 not in (bf, bp):
        raise ShapeError(
            f"flow and points must have the same batch size (or 1); got flow {tuple(flow.shape)} "
            f"and points {tuple(points.shape)}"
        )
    batch = max(bf, bp)
    height, width = f4.shape[1], f4.shape[2]
    p3 = p3.to(f4.dtype).expand(batch, -1, -1)
    f4 = f4.expand(batch, -1, -1, -1)

    grid = pixel_to_normalized(p3, height, width).unsqueeze(1)  # (B, 1, N, 2)
    sampled = F.grid_sample(
        f4.permute(0, 3, 1, 2), grid, mode=mode, padding_mode="border", align_corners=True
    )  # (B, 2, 1, N)
    values = sampled[:, :, 0, :].permute(0, 2, 1)  # (B, N, 2)
    u, v = p3[..., 0], p3[..., 1]
    valid = (u >= -0.5) & (u <= width - 0.5) & (v >= -0.5) & (v <= height - 0.5)
    if unbatched:
        values, valid = values[0], valid[0]
    if as_numpy:
        return FlowSamples(values.detach().cpu().numpy(), valid.cpu().numpy())
    return FlowSamples(values, valid)
