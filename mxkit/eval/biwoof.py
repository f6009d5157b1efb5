"""Bi-WOOF: bi-weighted oriented optical flow of the onset -> apex flow (Liong et al. 2018).

Liong, See, Wong & Phan, "Less is more: micro-expression recognition from video using apex
frame", Signal Processing: Image Communication 62 (2018) 82-92. From the flow ``(u, v)`` between
the onset and the apex of the aligned crop (:func:`mxkit.eval.apex_flow`, TV-L1 by default) and
its optical-strain magnitude ``eps`` (:func:`mxkit.flow.optical_strain`):

1. every pixel has an orientation ``theta = atan2(v, u)`` and a magnitude ``rho = |(u, v)|``;
   orientations fall into ``bins`` equal sectors of ``[-pi, pi)`` (:func:`orientation_bins`:
   sector ``floor((theta + pi) / (2 pi) * bins) mod bins``, so ``theta = pi`` wraps to sector 0);
2. the frame is divided into a ``rows x cols`` grid of equal blocks (edges
   ``round(linspace(0, H, rows + 1))``); in block ``b`` the orientation histogram is **locally
   weighted** by magnitude, ``h_b[c] = sum_{p in b, bin(p) = c} rho(p)``, and normalised to sum 1
   (all zeros for a block without motion);
3. each block's histogram is **globally weighted** by the block's optical strain,
   ``zeta_b = sum_{p in b} eps(p)``: ``f_b = zeta_b h_b``;
4. the concatenated vector ``f = (f_1, ..., f_B)`` is normalised to unit L2 norm (left at zero
   when it is zero).

Steps 2-4 follow the authors' published description and reference implementation (default 5 x 5
blocks and 8 bins); its blocks overlap by one pixel at their borders, mxkit's partition the
frame. The feature has ``rows * cols * bins`` values, named ``'biwoof:r{i}c{j}:{k}'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._checks import check_finite, check_shape
from ..errors import InputValueError, ShapeError

__all__ = ["orientation_bins", "grid_edges", "biwoof", "biwoof_features"]


def orientation_bins(flow: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Sector index (H, W) int64 in ``0 .. bins - 1`` and magnitude (H, W) of a flow field.

    Sector ``c`` covers orientations ``[-pi + 2 pi c / bins, -pi + 2 pi (c + 1) / bins)`` of
    ``atan2(v, u)``; ``pi`` wraps to sector 0. A zero vector has orientation 0.

    Examples
    --------
    >>> f = np.array([[[1.0, 0.0], [0.0, -1.0], [-1.0, 0.0]]])   # right, up, left
    >>> orientation_bins(f, 4)[0].tolist()
    [[2, 1, 0]]
    """
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise InputValueError(f"bins must be a positive int; got {bins!r}")
    ang = np.arctan2(flow[..., 1], flow[..., 0])
    idx = np.floor((ang + np.pi) / (2.0 * np.pi) * bins).astype(np.int64) % int(bins)
    return idx, np.hypot(flow[..., 0], flow[..., 1])


def grid_edges(height: int, width: int, grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column edges of a ``rows x cols`` grid of equal blocks over an ``H x W`` frame."""
    rows, cols = (int(g) for g in grid)
    if rows < 1 or cols < 1:
        raise InputValueError(f"grid cells must be positive; got {grid!r}")
    if rows > height or cols > width:
        raise ShapeError(f"a {rows}x{cols} grid does not fit a {height}x{width} flow")
    return (np.linspace(0, height, rows + 1).round().astype(int),
            np.linspace(0, width, cols + 1).round().astype(int))


def biwoof(flow: Any, strain: Any = None, *, grid: tuple[int, int] = (5, 5),
           bins: int = 8) -> tuple[np.ndarray, list[str]]:
    """Bi-WOOF of one onset -> apex flow field (module docstring).

    Parameters
    ----------
    flow : array, shape (H, W, 2)
        Pixels; channel 0 = u (+ right), 1 = v (+ down).
    strain : array, shape (H, W), optional
        Optical-strain magnitude (default :func:`mxkit.flow.optical_strain` of ``flow``).
    grid : (rows, cols), default (5, 5)
    bins : int, default 8

    Returns
    -------
    values : numpy.ndarray, shape (rows * cols * bins,)
        Unit L2 norm (or all zeros).
    names : list of str

    Examples
    --------
    >>> flow = np.zeros((4, 4, 2)); flow[..., 0] = 1.0        # everything moves right
    >>> v, _ = biwoof(flow, np.ones((4, 4)), grid=(1, 1), bins=4)
    >>> v.tolist()
    [0.0, 0.0, 1.0, 0.0]
    """
    arr = np.asarray(flow, dtype=np.float64)
    check_shape(arr, ("H", "W", 2), "flow")
    check_finite(arr, "flow")
    H, W = arr.shape[:2]
    if strain is None:
        from ..flow import optical_strain

        strain = optical_strain(arr)
    eps = np.asarray(strain, dtype=np.float64)
    check_shape(eps, (H, W), "strain")
    check_finite(eps, "strain")
    r_edges, c_edges = grid_edges(H, W, grid)
    idx, mag = orientation_bins(arr, bins)
    values: list[np.ndarray] = []
    names: list[str] = []
    for i in range(len(r_edges) - 1):
        for j in range(len(c_edges) - 1):
            cell = (slice(r_edges[i], r_edges[i + 1]), slice(c_edges[j], c_edges[j + 1]))
            h = np.bincount(idx[cell].ravel(), weights=mag[cell].ravel(), minlength=bins)
            total = h.sum()
            h = h / total if total > 0 else h
            values.append(eps[cell].sum() * h)
            names += [f"biwoof:r{i}c{j}:{k}" for k in range(bins)]
    vec = np.concatenate(values)
    norm = float(np.linalg.norm(vec))
    return (vec / norm if norm > 0 else vec), names


def biwoof_features(item: Any, *, grid: tuple[int, int] = (5, 5), bins: int = 8, method: str = "tvl1",
                    params: Mapping[str, Any] | None = None,
                    magnify: None | bool | Mapping[str, Any] = None) -> tuple[np.ndarray, list[str]]:
    """Bi-WOOF of one clip: :func:`mxkit.eval.apex_flow` (the field's settings), then :func:`biwoof`.

    Parameters
    ----------
    item : Prepared-like, ApexFlow, or array (H, W, 2)
        A prepared clip (its onset -> apex flow is computed with ``method`` / ``params`` /
        ``magnify``), an :class:`~mxkit.eval.ApexFlow`, or the flow itself.
    grid, bins
        As in :func:`biwoof`.
    method, params, magnify
        Flow settings (:func:`mxkit.eval.apex_flow`; default TV-L1, no magnification).
    """
    if isinstance(item, np.ndarray):
        return biwoof(item, grid=grid, bins=bins)
    if hasattr(item, "strain") and hasattr(item, "settings"):
        return biwoof(item.flow, item.strain, grid=grid, bins=bins)
    if not hasattr(item, "frames"):
        raise InputValueError(f"biwoof_features takes a prepared clip, an ApexFlow or a flow array; "
                              f"got {type(item).__name__}")
    from .apexflow import apex_flow

    af = apex_flow(item, method=method, params=params, magnify=magnify)
    return biwoof(af.flow, af.strain, grid=grid, bins=bins)
