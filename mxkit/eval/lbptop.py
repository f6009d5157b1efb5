"""LBP-TOP of the aligned sequence, with the temporal interpolation model (TIM).

The classic micro-expression baseline of CASME II and SMIC (Zhao & Pietikaeinen, TPAMI 2007;
Pfister et al., ICCV-W 2011; Yan et al. 2014): local binary patterns on three orthogonal planes
of the grey clip volume ``V(t, y, x)``, histogrammed per spatial block.

**Local binary pattern.** For a centre value ``g_c`` and ``P`` neighbours ``g_p`` sampled on an
ellipse of radii ``(R_a, R_b)`` in a plane with axes ``(a, b)``,

    code = sum_p s(g_p - g_c) 2^p,   s(z) = 1 if z >= 0 else 0,

with neighbour ``p`` at ``(a + R_a cos phi_p, b - R_b sin phi_p)``, ``phi_p = 2 pi p / P``
(offsets rounded to 1e-6 so that axis-aligned neighbours are exact), its value bilinearly
interpolated; ``g_p - g_c`` is computed as the weighted sum of the corner differences, so a
flat neighbourhood gives exactly 0 (bit 1). The planes are XY (``a = x, b = y``, every frame),
XT (``a = x, b = t``, every row) and YT (``a = y, b = t``, every column); ``radii = (R_X, R_Y,
R_T)`` and ``neighbours = (P_XY, P_XT, P_YT)``.

**Uniform patterns** (``u2``, Ojala et al. 2002): a code is uniform when its circular bit string
has at most two 0/1 transitions. The ``P (P - 1) + 2`` uniform codes get bins ``0 ..`` in
increasing code order and every other code shares the last bin: ``P (P - 1) + 3`` bins
(59 for ``P = 8``) (:func:`uniform_mapping`).

**Blocks.** Centres are the voxels whose neighbours lie inside the volume in all three planes
(a border of ``ceil(R)`` voxels on each axis is left out). The frame is divided into a
``rows x cols`` grid of equal blocks (edges ``round(linspace(0, H, rows + 1))``); in every block
each plane's histogram of the centres inside it is normalised to sum 1. The feature vector is,
block by block (row-major), ``[XY, XT, YT]`` histograms: ``rows * cols * 3 * bins`` values.

**Temporal interpolation model** (TIM; Zhou, Zhao & Pietikaeinen, CVPR 2011, used by Pfister
et al. 2011 and the SMIC / CASME II baselines as "TIM10"). The ``n`` frames are the vertices of
a path graph ``P_n``; its Laplacian's eigenvectors for the non-zero eigenvalues, ``y_k``
(``k = 1 .. n - 1``, unit norm), embed frame ``i`` at ``y(i) = (y_1(i), ..., y_{n-1}(i))``, and
are samples of the continuous curve ``y_k(tau) = sqrt(2 / n) cos(pi k (tau - 1/2) / n)``,
``tau`` in ``[1, n]`` (checked numerically against the graph: :func:`path_graph_embedding`).
Zhou et al. learn the linear map ``W`` from the (PCA-reduced, mean-removed) frames ``X`` to the
embedding (``W^T X = Y``) and map new curve points back, ``x(tau) = (W W^T)^-1 W y(tau)``;
because the rows of ``X`` and ``Y`` both lie in the (n - 1)-dimensional space orthogonal to the
constant vector, this is, in closed form and for any rank of ``X``,

    x(tau) = mean + X Y^T y(tau),

a linear operator in time (:func:`tim_matrix`) applied to every pixel. ``N`` new frames are
taken at equally spaced ``tau`` from the first to the last frame; ``N = n`` returns the input
exactly. :func:`resample_frames` offers TIM or plain linear interpolation at the same
positions.

:func:`lbptop_features` takes a Prepared-like clip (``.frames`` aligned crops, ``.onset``,
``.offset``) or a frame stack, converts to grey (BT.601), keeps onset..offset, resamples to
``n_frames`` (default TIM to 10) and returns the block histograms with their names.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from .._checks import check_finite, check_option
from ..errors import InputValueError, ShapeError

__all__ = [
    "LBP_PLANES",
    "uniform_mapping",
    "uniform_bins",
    "path_graph_embedding",
    "tim_matrix",
    "resample_frames",
    "lbp_top",
    "lbptop_features",
]

#: The three orthogonal planes, in feature order.
LBP_PLANES = ("XY", "XT", "YT")
_LUMA = np.array([0.299, 0.587, 0.114])


# --------------------------------------------------------------------------- patterns
def _transitions(code: int, n_bits: int) -> int:
    bits = [(code >> i) & 1 for i in range(n_bits)]
    return sum(bits[i] != bits[(i + 1) % n_bits] for i in range(n_bits))


@functools.cache
def _mapping(n_bits: int) -> np.ndarray:
    table = np.empty(2**n_bits, dtype=np.int64)
    nxt = 0
    for code in range(2**n_bits):
        if _transitions(code, n_bits) <= 2:
            table[code] = nxt
            nxt += 1
        else:
            table[code] = -1
    table[table < 0] = nxt
    table.setflags(write=False)
    return table


def uniform_bins(n_bits: int) -> int:
    """Number of ``u2`` histogram bins for ``n_bits`` neighbours: ``P (P - 1) + 3``."""
    return int(n_bits) * (int(n_bits) - 1) + 3


def uniform_mapping(n_bits: int) -> np.ndarray:
    """The ``u2`` table: LBP code (``2^P`` values) -> histogram bin (module docstring).

    Examples
    --------
    >>> m = uniform_mapping(8)
    >>> int(m.max()) + 1, int(m[0]), int(m[255]), int(m[0b00000101])
    (59, 0, 57, 58)
    """
    if isinstance(n_bits, bool) or not isinstance(n_bits, (int, np.integer)) or not 1 <= n_bits <= 16:
        raise InputValueError(f"the number of LBP neighbours must be an int in 1..16; got {n_bits!r}")
    return _mapping(int(n_bits))


# --------------------------------------------------------------------------- TIM
def path_graph_embedding(n: int) -> np.ndarray:
    """Laplacian eigenmap of the path graph ``P_n``: ``Y`` of shape (n - 1, n).

    Row ``k - 1`` is the unit eigenvector of the ``k``-th smallest non-zero eigenvalue, with
    the sign of the continuous curve ``sqrt(2 / n) cos(pi k (tau - 1/2) / n)`` (``tau = 1 .. n``)
    that it samples; raises if the numerical eigenvectors do not match that curve.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise InputValueError(f"TIM needs at least 2 frames; got {n!r}")
    n = int(n)
    lap = np.diag(np.r_[1.0, np.full(n - 2, 2.0), 1.0]) if n > 2 else np.array([[1.0, -1.0], [-1.0, 1.0]])
    if n > 2:
        lap -= np.eye(n, k=1) + np.eye(n, k=-1)
    vals, vecs = np.linalg.eigh(lap)
    curve = _curve(n, np.arange(1, n + 1, dtype=np.float64))          # (n - 1, n)
    y = vecs[:, 1:].T.copy()
    y *= np.sign((y * curve).sum(1, keepdims=True))
    if not np.allclose(y, curve, atol=1e-8):  # pragma: no cover - a property of P_n
        raise InputValueError("path-graph eigenvectors do not match the TIM curve")
    return y


def _curve(n: int, tau: np.ndarray) -> np.ndarray:
    k = np.arange(1, n, dtype=np.float64)[:, None]
    return np.sqrt(2.0 / n) * np.cos(np.pi * k * (tau[None, :] - 0.5) / n)


def tim_matrix(n_in: int, n_out: int) -> np.ndarray:
    """The TIM operator ``M`` (n_in, n_out): ``out[j] = sum_i M[i, j] frames[i]``.

    ``M = 1/n + Y^T y(tau_j)`` with ``tau_j = 1 + (n_in - 1) j / (n_out - 1)`` (module
    docstring); its columns sum to 1, and ``n_out == n_in`` gives the identity.

    Examples
    --------
    >>> np.allclose(tim_matrix(5, 5), np.eye(5))
    True
    """
    if isinstance(n_out, bool) or not isinstance(n_out, (int, np.integer)) or n_out < 2:
        raise InputValueError(f"n_frames must be an int >= 2; got {n_out!r}")
    y = path_graph_embedding(n_in)
    tau = np.linspace(1.0, float(n_in), int(n_out))
    return 1.0 / n_in + y.T @ _curve(int(n_in), tau)


def _linear_matrix(n_in: int, n_out: int) -> np.ndarray:
    pos = np.linspace(0.0, n_in - 1.0, int(n_out))
    lo = np.clip(np.floor(pos).astype(np.int64), 0, n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    w = pos - lo
    m = np.zeros((n_in, int(n_out)))
    m[lo, np.arange(n_out)] += 1.0 - w
    m[hi, np.arange(n_out)] += w
    return m


def resample_frames(frames: Any, n_frames: int, *, method: Literal["tim", "linear"] = "tim") -> np.ndarray:
    """A clip resampled in time to ``n_frames`` frames from its first to its last.

    Parameters
    ----------
    frames : array, shape (T, ...)
        Any per-frame arrays (grey, colour); converted to float64.
    n_frames : int >= 2
    method : {'tim', 'linear'}, default 'tim'
        The temporal interpolation model (graph embedding, module docstring) or linear
        interpolation between neighbouring frames.

    Returns
    -------
    numpy.ndarray, shape (n_frames, ...), float64
        TIM may overshoot the input range slightly (a sum of cosines); nothing is clipped.

    Examples
    --------
    >>> clip = np.arange(4.0)[:, None] * np.ones((4, 3))     # a ramp in time
    >>> resample_frames(clip, 7, method="linear")[:, 0].tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    """
    check_option(method, ("tim", "linear"), "method")
    arr = np.asarray(frames, dtype=np.float64)
    if arr.ndim < 1 or arr.shape[0] < 2:
        raise ShapeError(f"frames must have shape (T, ...) with T >= 2; got {arr.shape}")
    check_finite(arr, "frames")
    n_in = arr.shape[0]
    m = tim_matrix(n_in, n_frames) if method == "tim" else _linear_matrix(n_in, n_frames)
    out = np.tensordot(m.T, arr.reshape(n_in, -1), axes=1)
    return out.reshape((int(n_frames),) + arr.shape[1:])


# --------------------------------------------------------------------------- LBP-TOP
def _offsets(n_bits: int, ra: float, rb: float) -> list[tuple[float, float]]:
    phi = 2.0 * np.pi * np.arange(n_bits) / n_bits
    return [(float(np.round(ra * np.cos(f), 6)) + 0.0, float(np.round(-rb * np.sin(f), 6)) + 0.0) for f in phi]


def _plane_codes(vol: np.ndarray, margin: tuple[int, int, int], axes: tuple[int, int], n_bits: int,
                 radii: tuple[float, float]) -> np.ndarray:
    """LBP codes (int64) of the centre region for one plane; ``axes`` = (a, b) volume axes."""
    T, H, W = vol.shape
    mt, my, mx = margin
    centre = vol[mt:T - mt, my:H - my, mx:W - mx]
    codes = np.zeros(centre.shape, dtype=np.int64)
    for p, (da, db) in enumerate(_offsets(n_bits, *radii)):
        off = np.zeros(3)
        off[axes[0]] += da
        off[axes[1]] += db
        base = np.floor(off).astype(np.int64)
        frac = off - base
        diff = np.zeros(centre.shape)
        for corner in itertools.product((0, 1), repeat=3):
            w = 1.0
            for ax in range(3):
                w *= frac[ax] if corner[ax] else 1.0 - frac[ax]
            if w == 0.0:
                continue
            s = base + np.asarray(corner)
            sl = tuple(slice(m + int(d), n - m + int(d)) for m, d, n in zip(margin, s, (T, H, W), strict=True))
            diff += w * (vol[sl] - centre)
        codes |= (diff >= 0).astype(np.int64) << p
    return codes


def _triple(x: Any, name: str, kind: type) -> tuple:
    if isinstance(x, (str, bytes)) or not hasattr(x, "__len__") or len(x) != 3:
        raise InputValueError(f"{name} must be a sequence of 3 values (XY/XT/YT or X/Y/T); got {x!r}")
    out = tuple(kind(v) for v in x)
    if any(v <= 0 for v in out):
        raise InputValueError(f"{name} must be positive; got {x!r}")
    return out


def lbp_top(volume: Any, *, grid: tuple[int, int] = (5, 5), radii: Sequence[float] = (1, 1, 2),
            neighbours: Sequence[int] = (8, 8, 8)) -> tuple[np.ndarray, list[str]]:
    """Uniform LBP-TOP block histograms of a grey volume (module docstring).

    Parameters
    ----------
    volume : array, shape (T, H, W)
        Grey values (any real scale; only comparisons matter).
    grid : (rows, cols), default (5, 5)
        Spatial blocks.
    radii : (R_X, R_Y, R_T), default (1, 1, 2)
        Sampling radii in pixels / frames.
    neighbours : (P_XY, P_XT, P_YT), default (8, 8, 8)
        Neighbours per plane (1..16).

    Returns
    -------
    values : numpy.ndarray, shape (rows * cols * sum_planes bins,)
        Each block's per-plane histogram sums to 1.
    names : list of str
        ``'lbptop:r{i}c{j}:{plane}:{bin}'``.

    Raises
    ------
    ShapeError
        A volume that is not 3-D or too small for the radii, or a block without centres.
    InputValueError
        NaN / inf values, bad radii, neighbours or grid.
    """
    vol = np.asarray(volume, dtype=np.float64)
    if vol.ndim != 3:
        raise ShapeError(f"volume must have shape (T, H, W); got {vol.shape}")
    check_finite(vol, "volume")
    rx, ry, rt = _triple(radii, "radii", float)
    nb = _triple(neighbours, "neighbours", int)
    rows, cols = (int(g) for g in grid)
    if rows < 1 or cols < 1:
        raise InputValueError(f"grid cells must be positive; got {grid!r}")
    margin = (math.ceil(rt), math.ceil(ry), math.ceil(rx))
    T, H, W = vol.shape
    if any(2 * m >= n for m, n in zip(margin, (T, H, W), strict=True)):
        raise ShapeError(f"a volume of shape {vol.shape} is too small for radii (R_X, R_Y, R_T) = {tuple(radii)}")
    planes = {"XY": ((2, 1), nb[0], (rx, ry)), "XT": ((2, 0), nb[1], (rx, rt)), "YT": ((1, 0), nb[2], (ry, rt))}
    bins = {}
    for name, (axes, n_bits, rr) in planes.items():
        bins[name] = uniform_mapping(n_bits)[_plane_codes(vol, margin, axes, n_bits, rr)]
    r_edges = np.linspace(0, H, rows + 1).round().astype(int)
    c_edges = np.linspace(0, W, cols + 1).round().astype(int)
    my, mx = margin[1], margin[2]
    values: list[np.ndarray] = []
    names: list[str] = []
    for i in range(rows):
        y0, y1 = max(r_edges[i], my) - my, min(r_edges[i + 1], H - my) - my
        for j in range(cols):
            x0, x1 = max(c_edges[j], mx) - mx, min(c_edges[j + 1], W - mx) - mx
            if y1 <= y0 or x1 <= x0:
                raise ShapeError(f"block r{i}c{j} of a {rows}x{cols} grid has no LBP centres in a "
                                 f"{H}x{W} frame; use a coarser grid")
            for plane, (_, n_bits, _) in planes.items():
                nbins = uniform_bins(n_bits)
                h = np.bincount(bins[plane][:, y0:y1, x0:x1].ravel(), minlength=nbins).astype(np.float64)
                values.append(h / h.sum())
                names += [f"lbptop:r{i}c{j}:{plane}:{k}" for k in range(nbins)]
    return np.concatenate(values), names


def _grey_clip(item: Any) -> tuple[np.ndarray, int, int]:
    frames = getattr(item, "frames", item)
    arr = np.asarray(frames)
    if arr.ndim == 4:
        if arr.shape[-1] != 3:
            raise ShapeError(f"frames must have shape (T, H, W) or (T, H, W, 3); got {arr.shape}")
        arr = arr.astype(np.float64) @ _LUMA
    elif arr.ndim != 3:
        raise ShapeError(f"frames must have shape (T, H, W) or (T, H, W, 3); got {arr.shape}")
    arr = arr.astype(np.float64)
    if np.asarray(frames).dtype == np.uint8:
        arr /= 255.0
    T = arr.shape[0]
    onset = getattr(item, "onset", None)
    offset = getattr(item, "offset", None)
    onset = 0 if onset is None else int(onset)
    offset = T - 1 if offset is None else int(offset)
    if not 0 <= onset < offset < T:
        raise InputValueError(f"need 0 <= onset < offset < {T} frames; got onset {onset}, offset {offset}")
    return arr, onset, offset


def lbptop_features(item: Any, *, n_frames: int | None = 10, interpolation: Literal["tim", "linear"] = "tim",
                    grid: tuple[int, int] = (5, 5), radii: Sequence[float] = (1, 1, 2),
                    neighbours: Sequence[int] = (8, 8, 8), magnified: bool = False) -> tuple[np.ndarray, list[str]]:
    """LBP-TOP of one clip's aligned onset..offset frames (module docstring).

    Parameters
    ----------
    item : Prepared-like, or array (T, H, W[, 3])
        ``.frames`` (aligned crops, uint8 or float), ``.onset``, ``.offset``; or the frames
        themselves (then all of them are used).
    n_frames : int or None, default 10
        Frames after temporal resampling ("TIM10"); None keeps the clip's own length.
    interpolation : {'tim', 'linear'}, default 'tim'
        :func:`resample_frames` method.
    grid, radii, neighbours
        As in :func:`lbp_top`.
    magnified : bool, default False
        Use ``item.magnified`` (Eulerian-magnified crops, from ``prepare(magnify=...)``).

    Returns
    -------
    values, names
        See :func:`lbp_top`.
    """
    src = item
    if magnified:
        mag = getattr(item, "magnified", None)
        if mag is None:
            raise InputValueError("magnified=True needs a clip prepared with magnify= (item.magnified is None)")
        src = _Frames(mag, getattr(item, "onset", None), getattr(item, "offset", None))
    grey, onset, offset = _grey_clip(src)
    clip = grey[onset:offset + 1]
    if n_frames is not None:
        clip = resample_frames(clip, n_frames, method=interpolation)
    return lbp_top(clip, grid=grid, radii=radii, neighbours=neighbours)


class _Frames:
    def __init__(self, frames: Any, onset: Any, offset: Any):
        self.frames, self.onset, self.offset = frames, onset, offset
