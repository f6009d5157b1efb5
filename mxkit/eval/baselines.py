"""2D optical-flow recognition baseline: onset -> apex flow features + a classifier under LOSO.

Features of one clip (:func:`flow_features`) from the flow ``F`` onset -> apex (pixels, mxkit
convention) on a ``rows x cols`` grid of equal cells over the (aligned) crop:

* ``'uv'``: mean ``u`` and mean ``v`` per cell (px);
* ``'strain'``: mean optical-strain magnitude per cell (:func:`mxkit.flow.optical_strain`,
  unitless);
* ``'hoof'``: histogram of oriented optical flow per cell -- ``bins`` orientation bins of
  ``atan2(v, u)`` over [-pi, pi), each pixel voting its flow magnitude, the histogram
  normalised to sum 1 (all zeros for a cell without motion).

:func:`flow_baseline` computes them for many clips and runs :func:`mxkit.eval.recognise`
(default a linear SVM with its C chosen on the training subjects only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._checks import check_finite, check_option, check_shape
from ..errors import InputValueError, ShapeError
from .features import FeatureSet, feature_matrix
from .recognition import RecognitionResult, recognise

__all__ = ["FLOW_FEATURE_KINDS", "flow_features", "flow_feature_matrix", "flow_baseline"]

#: Flow feature kinds of :func:`flow_features`: mean u/v, mean strain, HOOF per grid cell.
FLOW_FEATURE_KINDS = ("uv", "strain", "hoof")


def _apex_flow(item: Any, apex: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    flow = getattr(item, "flow", item)
    strain = getattr(item, "strain", None)
    arr = flow.detach().cpu().numpy() if hasattr(flow, "detach") else np.asarray(flow)
    if arr.ndim == 4:
        a = apex if apex is not None else getattr(item, "apex", None)
        if a is None:
            raise InputValueError("a flow sequence (T, H, W, 2) needs apex= (or an item with .apex)")
        if not 0 <= int(a) < arr.shape[0]:
            raise InputValueError(f"apex {a} is outside the {arr.shape[0]} flow frames")
        arr = arr[int(a)]
        if strain is not None:
            strain = np.asarray(strain)[int(a)]
    check_shape(arr, ("H", "W", 2), "flow")
    arr = arr.astype(np.float64)
    check_finite(arr, "flow")
    if strain is not None:
        strain = np.asarray(strain, dtype=np.float64)
        check_shape(strain, arr.shape[:2], "strain")
    return arr, strain


def flow_features(item: Any, *, apex: int | None = None, grid: tuple[int, int] = (4, 4),
                  kinds: Sequence[str] = FLOW_FEATURE_KINDS, bins: int = 8) -> tuple[np.ndarray, list[str]]:
    """Grid features of the onset -> apex optical flow of one clip (see the module docstring).

    Parameters
    ----------
    item : Prepared-like, or array (T, H, W, 2) / (H, W, 2)
        An object with ``.flow`` (T, H, W, 2) onset -> t, ``.apex`` and optionally
        ``.strain`` (T, H, W); or the flow sequence (then ``apex=``); or the onset -> apex
        flow itself.
    apex : int, optional
        Apex frame (default ``item.apex``).
    grid : (rows, cols), default (4, 4)
    kinds : sequence of {'uv', 'strain', 'hoof'}
    bins : int, default 8
        HOOF orientation bins.

    Returns
    -------
    values : numpy.ndarray (F,)
    names : list of str
        ``'flow:r{i}c{j}:u'``, ``':v'``, ``':strain'``, ``':hoof{k}'``.

    Examples
    --------
    >>> flow = np.zeros((8, 8, 2)); flow[..., 0] = 1.0          # everything moves 1 px right
    >>> v, n = flow_features(flow, grid=(1, 1), kinds=("uv", "hoof"), bins=4)
    >>> dict(zip(n, v.round(3).tolist()))["flow:r0c0:u"], v[2:].tolist()
    (1.0, [0.0, 0.0, 1.0, 0.0])
    """
    if isinstance(kinds, str) or not kinds:
        raise InputValueError(f"kinds must be a non-empty sequence of {list(FLOW_FEATURE_KINDS)}")
    for k in kinds:
        check_option(k, FLOW_FEATURE_KINDS, "kinds")
    rows, cols = (int(g) for g in grid)
    if rows < 1 or cols < 1 or int(bins) < 1:
        raise InputValueError(f"grid cells and bins must be positive; got grid={grid!r}, bins={bins!r}")
    flow, strain = _apex_flow(item, apex)
    H, W = flow.shape[:2]
    if rows > H or cols > W:
        raise ShapeError(f"a {rows}x{cols} grid does not fit a {H}x{W} flow")
    if "strain" in kinds and strain is None:
        from ..flow import optical_strain

        strain = np.asarray(optical_strain(flow.astype(np.float32)), dtype=np.float64)
    mag = np.hypot(flow[..., 0], flow[..., 1])
    ang = np.arctan2(flow[..., 1], flow[..., 0])
    bin_idx = np.clip(((ang + np.pi) / (2 * np.pi) * bins).astype(np.int64), 0, bins - 1)
    r_edges = np.linspace(0, H, rows + 1).round().astype(int)
    c_edges = np.linspace(0, W, cols + 1).round().astype(int)
    values: list[float] = []
    names: list[str] = []
    for i in range(rows):
        for j in range(cols):
            cell = (slice(r_edges[i], r_edges[i + 1]), slice(c_edges[j], c_edges[j + 1]))
            tag = f"flow:r{i}c{j}"
            if "uv" in kinds:
                values += [flow[cell][..., 0].mean(), flow[cell][..., 1].mean()]
                names += [f"{tag}:u", f"{tag}:v"]
            if "strain" in kinds:
                values.append(strain[cell].mean())
                names.append(f"{tag}:strain")
            if "hoof" in kinds:
                h = np.bincount(bin_idx[cell].ravel(), weights=mag[cell].ravel(), minlength=bins)
                total = h.sum()
                values += (h / total if total > 0 else h).tolist()
                names += [f"{tag}:hoof{k}" for k in range(bins)]
    return np.asarray(values, dtype=np.float64), names


def flow_feature_matrix(items: Sequence[Any], *, keys: Sequence[tuple[str, str, str]] | None = None,
                        apex: Sequence[int] | None = None, grid: tuple[int, int] = (4, 4),
                        kinds: Sequence[str] = FLOW_FEATURE_KINDS, bins: int = 8,
                        progress: bool = False) -> FeatureSet:
    """:func:`flow_features` of many clips as a :class:`~mxkit.eval.FeatureSet`.

    ``items`` are Prepared-like objects (keys from ``.clip_key``) or flow arrays (then
    ``keys=`` and, for sequences, ``apex=`` per item).
    """
    items = list(items)
    if apex is not None and len(apex) != len(items):
        raise ShapeError(f"apex has {len(apex)} items for {len(items)} clips")
    apexes = iter(apex) if apex is not None else None

    def extract(it: Any) -> tuple[np.ndarray, list[str]]:
        return flow_features(it, apex=None if apexes is None else int(next(apexes)), grid=grid,
                             kinds=kinds, bins=bins)

    name = f"flow[{'+'.join(kinds)}, grid {grid[0]}x{grid[1]}" + (f", {bins} bins]" if "hoof" in kinds else "]")
    return feature_matrix(items, extract, keys=keys, name=name, progress=progress)


def flow_baseline(items: Sequence[Any], labels: Any, *, groups: Sequence[Any] | None = None,
                  keys: Sequence[tuple[str, str, str]] | None = None, apex: Sequence[int] | None = None,
                  grid: tuple[int, int] = (4, 4), kinds: Sequence[str] = FLOW_FEATURE_KINDS,
                  bins: int = 8, classifier: str = "linear_svm", seed: int = 0,
                  classes: Sequence[str] | None = None, protocol: Any = None,
                  progress: bool = False) -> RecognitionResult:
    """The 2D optical-flow baseline: :func:`flow_features` + a classifier under leakage-safe LOSO.

    Parameters
    ----------
    items : sequence of Prepared-like objects or flow arrays
        See :func:`flow_feature_matrix`.
    labels : labelled ClipSet, or sequence of class names (N,)
        A ClipSet (``clipset.map_classes(...)``) gives labels, subjects, classes and the
        protocol card; its clips must be in the order of ``items`` (checked against
        ``item.clip_key`` where available).
    groups : sequence of (dataset, subject), optional
        Default from the ClipSet or from the clip keys.
    keys, apex, grid, kinds, bins
        Feature options (:func:`flow_feature_matrix`).
    classifier, seed, classes, protocol, progress
        Passed to :func:`mxkit.eval.recognise` (its default C grid for the SVM).

    Returns
    -------
    RecognitionResult
        ``card['feature_set']`` names the flow features.
    """
    clips = None
    if hasattr(labels, "protocol_card") and hasattr(labels, "clips"):
        clips = list(labels)
        if len(clips) != len(items):
            raise ShapeError(f"the ClipSet has {len(clips)} clips for {len(items)} items")
        if keys is None:
            keys = [c.key for c in clips]
    feats = flow_feature_matrix(items, keys=keys, apex=apex, grid=grid, kinds=kinds, bins=bins, progress=progress)
    if clips is not None:
        for c, k in zip(clips, (getattr(it, "clip_key", None) for it in items), strict=True):
            if k is not None and tuple(k) != c.key:
                raise InputValueError(f"item {tuple(k)} does not match clip {c.key}; keep the ClipSet's order")
        from .recognition import recognise_clips

        return recognise_clips(labels, feats.values, classifier=classifier, seed=seed,
                               feature_set=feats.name, progress=progress)
    return recognise(feats.values, labels, feats.groups if groups is None else groups, classes=classes,
                     classifier=classifier, seed=seed, sample_ids=["/".join(k) for k in feats.keys],
                     protocol=protocol, feature_set=feats.name, progress=progress)
