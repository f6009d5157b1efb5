"""Honest motion metrics: active-region errors, the no-motion reference, win rates, intervals.

A micro-expression moves a small part of the face by a fraction of a millimetre. An error
averaged over the whole face (``micro_motion_l1``) is dominated by the vertices that do not
move, so a method that predicts **no motion at all** already scores well on it. The metrics
here are measured where the face truly moves and are read against that no-motion reference.

**Displacement fields.** ``D = X[apex] - X[onset]`` per vertex (metres), the prediction
rigidly aligned at the onset (``motion_align='onset'`` of
:func:`mxkit.eval.evaluate_reconstruction`); ``P`` the predicted field, ``T`` the true one.

**Active vertices** (:func:`active_vertices`). The vertices of the evaluation mask whose true
apex motion is at least ``threshold`` (default :data:`ACTIVE_THRESHOLD` = 0.3) times the
largest true apex motion over the mask: ``A = {v : ||T_v|| >= threshold * max_u ||T_u||}``.
A region's active vertices are ``A`` inside the region (the threshold is the clip's, over the
whole mask, so "moving" means the same in every region); a region without any is left out.
With region weights ``w_v`` (1 in a facial region, the soft mask in an AU region), sums below
run over ``v in A`` and are weighted by ``w_v``:

==========================  ===========================================================================
metric                      definition
==========================  ===========================================================================
``active_rel_error``        relative error ``sum_v w_v ||P_v - T_v|| / sum_v w_v ||T_v||``: 0 is perfect,
                            **1 is what predicting no motion scores** (``P = 0``), above 1 is worse than
                            no motion
``amplitude_ratio``         ``sum_v w_v ||P_v|| / sum_v w_v ||T_v||``: the share of the true amplitude the
                            prediction recovers (1 ideal, 0 for no motion; direction not considered)
``motion_cosine``           cosine of the two fields as vectors of the active vertices,
                            ``sum_v w_v <P_v, T_v> / sqrt(sum_v w_v ||P_v||^2 * sum_v w_v ||T_v||^2)``
                            in [-1, 1] (1: same direction pattern); **0 when the prediction is exactly
                            zero there** (no direction recovered; the no-motion reference)
``active_motion_true``      ``sum_v w_v ||T_v|| / sum_v w_v``: mean true motion of the active vertices, mm
``active_vertices``         number of active vertices with ``w_v > 0`` (count)
==========================  ===========================================================================

**No-motion reference** (``variant = 'no_motion'``, :data:`NO_MOTION`): the onset shape kept for
every frame, ``P = 0``. Its ``active_rel_error`` is 1, ``amplitude_ratio`` and
``motion_cosine`` 0, its ``micro_motion_l1`` the true mean displacement. It is a reference for
the motion metrics only; it has no shape error row (its shape would be the truth's onset).

**Win rate** (:func:`win_rates`). The fraction of clips on which a variant's error (default
``active_rel_error``, region ``'all'``) is **strictly lower** than the reference variant's on the
same clip. Against ``no_motion`` this is the fraction of clips with ``active_rel_error < 1``.

**Intervals** (:func:`motion_summary`). Percentile bootstrap intervals (default 95 %, 2000
replicates, :func:`mxkit.eval.bootstrap_interval`) of each statistic, resampling **clips**
(every clip a unit) and, separately, **subjects** (a cluster bootstrap: a replicate draws as many
subjects as there are, with replacement, and pools their clips), so the interval says how much
the figure depends on which clips -- or which faces -- were drawn. The point value is the
statistic of the clips themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._checks import check_option
from ..errors import InputValueError, ShapeError
from .stats import bootstrap_interval

__all__ = [
    "ACTIVE_THRESHOLD",
    "ACTIVE_METRICS",
    "NO_MOTION",
    "MOTION_METRICS",
    "active_vertices",
    "active_motion_metrics",
    "active_motion_values",
    "win_rates",
    "MotionSummary",
    "motion_summary",
    "region_motion_table",
    "compare_variants",
]

log = logging.getLogger(__name__)

#: Default share of the largest true apex motion above which a vertex counts as active.
ACTIVE_THRESHOLD = 0.3
#: Variant name of the no-motion reference (onset shape kept for every frame).
NO_MOTION = "no_motion"
#: Metrics of :func:`active_motion_metrics` and their units.
ACTIVE_METRICS = {"active_rel_error": "ratio", "amplitude_ratio": "ratio", "motion_cosine": "ratio",
                  "active_motion_true": "mm", "active_vertices": "count"}
#: Every motion metric of the tidy tables (the no-motion reference reports only these).
MOTION_METRICS = ("micro_motion_l1", "micro_motion_l2", "motion_true", "motion_pred", *ACTIVE_METRICS)
_MM = 1000.0


def _field(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ShapeError(f"{name} must be a displacement field of shape (V, 3); got {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputValueError(f"{name} has non-finite values")
    return arr


def _check_threshold(threshold: Any) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)) \
            or not 0.0 < float(threshold) <= 1.0:
        raise InputValueError(f"threshold must be a share in (0, 1]; got {threshold!r}")
    return float(threshold)


def active_vertices(true_field: Any, *, threshold: float = ACTIVE_THRESHOLD, mask: Any = None) -> np.ndarray:
    """The vertices that truly move: ``||T_v|| >= threshold * max_u ||T_u||`` inside ``mask``.

    Parameters
    ----------
    true_field : array (V, 3)
        True apex - onset displacement, any length unit.
    threshold : float in (0, 1], default :data:`ACTIVE_THRESHOLD`
    mask : array (V,), optional
        Evaluation mask (bool or weights, > 0 counts); default every vertex.

    Returns
    -------
    numpy.ndarray of bool, shape (V,)

    Raises
    ------
    InputValueError
        The truth does not move inside the mask (no vertex can be active), or a bad threshold.

    Examples
    --------
    >>> t = np.array([[0, 0, 1.0], [0, 0.2, 0], [0.5, 0, 0]])
    >>> active_vertices(t).tolist()
    [True, False, True]
    """
    t = _field(true_field, "true_field")
    thr = _check_threshold(threshold)
    m = np.ones(len(t), dtype=bool) if mask is None else np.asarray(mask) > 0
    if m.shape != (len(t),):
        raise ShapeError(f"mask must have shape ({len(t)},); got {m.shape}")
    mag = np.linalg.norm(t, axis=1)
    top = float(mag[m].max()) if m.any() else 0.0
    if top <= 0.0:
        raise InputValueError("the true displacement field is zero inside the mask: no vertex moves, "
                              "so the active-region metrics are undefined")
    return m & (mag >= thr * top)


def active_motion_metrics(pred_field: Any, true_field: Any, *, threshold: float = ACTIVE_THRESHOLD,
                          mask: Any = None, weights: Any = None) -> dict[str, float]:
    """Active-region metrics of one predicted displacement field (module docstring).

    Parameters
    ----------
    pred_field, true_field : array (V, 3)
        Apex - onset displacement fields in metres (the prediction aligned at the onset).
    threshold : float, default :data:`ACTIVE_THRESHOLD`
    mask : array (V,), optional
        Evaluation mask that defines the maximum of the threshold (default every vertex).
    weights : array (V,), optional
        Region weights of the sums (default 1 on the mask).

    Returns
    -------
    dict
        The :data:`ACTIVE_METRICS`: ``active_rel_error``, ``amplitude_ratio``, ``motion_cosine``
        (ratios), ``active_motion_true`` (mm), ``active_vertices`` (count).

    Raises
    ------
    InputValueError
        No active vertex carries weight, or the truth does not move.

    Examples
    --------
    >>> t = np.array([[0, 0, 1e-3], [0, 1e-3, 0], [0, 0, 0]])
    >>> m = active_motion_metrics(0.5 * t, t)
    >>> [round(m[k], 6) for k in ("active_rel_error", "amplitude_ratio", "motion_cosine")]
    [0.5, 0.5, 1.0]
    >>> active_motion_metrics(np.zeros_like(t), t)["active_rel_error"]
    1.0
    """
    p, t = _field(pred_field, "pred_field"), _field(true_field, "true_field")
    if p.shape != t.shape:
        raise ShapeError(f"pred_field and true_field differ in shape: {p.shape} and {t.shape}")
    act = active_vertices(t, threshold=threshold, mask=mask)
    w = np.asarray(mask if weights is None else weights, dtype=np.float64) if (mask is not None or weights
                                                                              is not None) else np.ones(len(t))
    if w.shape != (len(t),):
        raise ShapeError(f"weights must have shape ({len(t)},); got {w.shape}")
    w = np.where(act, w, 0.0)
    if not (w > 0).any():
        raise InputValueError("no active vertex carries weight in this region")
    return _metrics(p, t, w)


def _metrics(p: np.ndarray, t: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """Active-region metrics with weights ``w`` already zero off the active set."""
    tn = np.linalg.norm(t, axis=1)
    pn = np.linalg.norm(p, axis=1)
    true_sum = float((w * tn).sum())
    pp, tt = float((w * pn * pn).sum()), float((w * tn * tn).sum())
    cos = float((w * (p * t).sum(1)).sum() / np.sqrt(pp * tt)) if pp > 0 else 0.0
    return {"active_rel_error": float((w * np.linalg.norm(p - t, axis=1)).sum()) / true_sum,
            "amplitude_ratio": float((w * pn).sum()) / true_sum,
            "motion_cosine": cos,
            "active_motion_true": true_sum / float(w.sum()) * _MM,
            "active_vertices": float(np.count_nonzero(w > 0))}


def active_motion_values(pred_field: Any, true_field: Any, regions: Mapping[str, Any], *,
                         threshold: float = ACTIVE_THRESHOLD, mask: Any = None) -> dict[str, dict[str, float]]:
    """:func:`active_motion_metrics` per region, one threshold for all (the clip's, over ``mask``).

    Parameters
    ----------
    pred_field, true_field : array (V, 3)
        Metres.
    regions : dict of name -> weights (V,)
        E.g. from :func:`mxkit.eval.region_weights`.
    threshold : float
    mask : array (V,), optional
        Support of the maximum (default ``regions['all']``, else every vertex).

    Returns
    -------
    dict of region -> metrics
        Regions without an active vertex are left out (logged). Empty when the truth does not
        move inside the mask (logged).
    """
    p, t = _field(pred_field, "pred_field"), _field(true_field, "true_field")
    if mask is None:
        mask = regions.get("all")
    try:
        act = active_vertices(t, threshold=threshold, mask=mask)
    except InputValueError:
        log.info("the truth does not move inside the mask: active-region metrics left out")
        return {}
    out = {}
    for r, w in regions.items():
        ww = np.where(act, np.asarray(w, dtype=np.float64), 0.0)
        if (ww > 0).any():
            out[r] = _metrics(p, t, ww)
        else:
            log.info("region %s has no active vertex (threshold %.2f): active metrics left out", r, threshold)
    return out


# --------------------------------------------------------------------------- over clips
_KEY = ["dataset", "subject", "clip"]


def _per_clip(metrics: pd.DataFrame, metric: str, region: str, mesh: str) -> pd.DataFrame:
    """Wide (clip key x variant) table of one metric."""
    need = {*_KEY, "variant", "mesh", "region", "metric", "value"}
    missing = need - set(metrics.columns)
    if missing:
        raise InputValueError(f"metric tables need the columns {sorted(need)}; missing {sorted(missing)}")
    sel = metrics[(metrics["metric"] == metric) & (metrics["region"] == region) & (metrics["mesh"] == mesh)]
    return sel.pivot_table(index=_KEY, columns="variant", values="value", aggfunc="first")


def win_rates(metrics: pd.DataFrame, *, against: str = NO_MOTION, metric: str = "active_rel_error",
              region: str = "all", mesh: str = "fine") -> pd.DataFrame:
    """Per clip: does each variant beat ``against`` (strictly lower ``metric``) on the same clip?

    Parameters
    ----------
    metrics : DataFrame
        Tidy clip metrics (:data:`mxkit.eval.TABLE_COLUMNS`) of several variants, including
        ``against`` (e.g. :data:`NO_MOTION` rows from :func:`mxkit.eval.evaluate_no_motion`).
    against : str, default 'no_motion'
    metric : str, default 'active_rel_error'
        Lower is better.
    region, mesh : str

    Returns
    -------
    pandas.DataFrame
        One row per (clip, variant other than ``against``): ``dataset, subject, clip, variant,
        value, reference, wins`` (bool); clips without both values are left out.

    Raises
    ------
    InputValueError
        ``against`` has no rows for this metric and region.
    """
    wide = _per_clip(metrics, metric, region, mesh)
    if against not in wide.columns:
        raise InputValueError(f"no {metric!r} rows of variant {against!r} (region {region!r}) to compare with")
    rows = []
    for v in [c for c in wide.columns if c != against]:
        both = wide[[v, against]].dropna()
        for key, (x, ref) in zip(both.index, both.to_numpy(), strict=True):
            rows.append({**dict(zip(_KEY, key, strict=True)), "variant": v, "value": float(x),
                         "reference": float(ref), "wins": bool(x < ref)})
    return pd.DataFrame(rows, columns=[*_KEY, "variant", "value", "reference", "wins"])


#: Quantities of :func:`motion_summary`: (name, metric, statistic, label).
SUMMARY_QUANTITIES = (
    ("rel_error_median", "active_rel_error", "median", "active rel. error (median)"),
    ("rel_error_mean", "active_rel_error", "mean", "active rel. error (mean)"),
    ("amplitude_ratio", "amplitude_ratio", "median", "amplitude ratio (median)"),
    ("motion_cosine", "motion_cosine", "median", "cosine (median)"),
    ("micro_motion_l1", "micro_motion_l1", "mean", "micro-motion L1, whole face (mm, mean)"),
)


@dataclass(frozen=True, eq=False)
class MotionSummary:
    """The honest motion summary of several variants (from :func:`motion_summary`).

    Attributes
    ----------
    table : pandas.DataFrame
        Tidy: one row per (variant, quantity): ``variant, quantity, metric, statistic, value,
        clips_low, clips_high, subjects_low, subjects_high, n_clips, n_subjects``. Quantities
        are those of :data:`SUMMARY_QUANTITIES` and ``wins_vs_<variant>`` (the win rate against
        that variant, a fraction of clips).
    level : float
        Interval level.
    n_boot : int
    settings : dict
        ``region``, ``mesh``, ``threshold`` (when known), ``against``, ``seed``.
    """

    table: pd.DataFrame = field(repr=False)
    level: float = 0.95
    n_boot: int = 2000
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dataframe(self) -> pd.DataFrame:
        return self.table.copy()

    @property
    def variants(self) -> list[str]:
        return list(dict.fromkeys(self.table["variant"]))

    def value(self, variant: str, quantity: str) -> float:
        """One point value (e.g. ``('full', 'rel_error_median')``, ``('full', 'wins_vs_no_motion')``)."""
        hit = self.table[(self.table["variant"] == variant) & (self.table["quantity"] == quantity)]
        if hit.empty:
            raise InputValueError(f"no {quantity!r} for variant {variant!r} in this summary")
        return float(hit["value"].iloc[0])

    def interval(self, variant: str, quantity: str, *, over: str = "clips") -> tuple[float, float]:
        """``(low, high)`` of one quantity, over ``'clips'`` or ``'subjects'``."""
        check_option(over, ("clips", "subjects"), "over")
        hit = self.table[(self.table["variant"] == variant) & (self.table["quantity"] == quantity)]
        if hit.empty:
            raise InputValueError(f"no {quantity!r} for variant {variant!r} in this summary")
        return float(hit[f"{over}_low"].iloc[0]), float(hit[f"{over}_high"].iloc[0])

    def wide(self, *, over: str = "clips", digits: int = 3) -> pd.DataFrame:
        """One row per variant, one column per quantity as ``'value [low, high]'`` strings."""
        check_option(over, ("clips", "subjects"), "over")
        labels = {q: lab for q, _, _, lab in SUMMARY_QUANTITIES}
        rows = []
        for v in self.variants:
            sub = self.table[self.table["variant"] == v]
            row: dict[str, Any] = {"variant": v, "clips": int(sub["n_clips"].max()),
                                   "subjects": int(sub["n_subjects"].max())}
            for r in sub.itertuples(index=False):
                lab = labels.get(r.quantity, r.quantity.replace("wins_vs_", "beats ") + " (share of clips)")
                row[lab] = _fmt(r.value, getattr(r, f"{over}_low"), getattr(r, f"{over}_high"), digits)
            rows.append(row)
        return pd.DataFrame(rows).fillna("")

    def caption(self, *, over: str = "clips") -> str:
        """What the numbers of :meth:`wide` are: the interval and the definitions, one paragraph."""
        check_option(over, ("clips", "subjects"), "over")
        how = (f"percentile bootstrap over clips ({self.n_boot} replicates)" if over == "clips" else
               f"cluster bootstrap over subjects ({self.n_boot} replicates)")
        thr = self.settings.get("threshold", ACTIVE_THRESHOLD)
        return (f"Value [{round(100 * self.level)} % interval, {how}]. Active vertices: true apex motion >= "
                f"{thr:g} x its maximum over the face; active rel. error = sum ||pred - true|| / sum ||true|| "
                "over them (0 perfect, 1 = no motion, > 1 worse than no motion); amplitude ratio = "
                "sum ||pred|| / sum ||true||; cosine of the two displacement fields; 'beats X' = share of "
                "clips with a strictly lower active rel. error than X on the same clip; 'no_motion' = the "
                "onset shape kept for every frame.")


def _fmt(value: float, low: float, high: float, digits: int) -> str:
    if not np.isfinite(value):
        return ""
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def motion_summary(metrics: pd.DataFrame, *, variants: Sequence[str] | None = None,
                   against: Sequence[str] = (NO_MOTION, "smoothed"), region: str = "all",
                   mesh: str = "fine", n_boot: int = 2000, level: float = 0.95, seed: int = 0,
                   threshold: float | None = None) -> MotionSummary:
    """Per variant: the honest motion figures with bootstrap intervals over clips and subjects.

    Parameters
    ----------
    metrics : DataFrame
        Tidy clip metrics (:data:`mxkit.eval.TABLE_COLUMNS`) with the active-region rows and,
        for the win rates, the ``against`` variants (``no_motion`` rows come from
        :func:`mxkit.eval.evaluate_no_motion`).
    variants : sequence of str, optional
        Rows in this order (default: those of the table, in order of appearance).
    against : sequence of str, default ('no_motion', 'smoothed')
        Win rates against these variants (those present); a variant is not compared with itself.
    region, mesh : str
        Which rows (default the whole face of the fine mesh).
    n_boot, level, seed
        Bootstrap replicates, interval level, seed.
    threshold : float, optional
        The active threshold the metrics were computed with (recorded only).

    Returns
    -------
    MotionSummary

    Raises
    ------
    InputValueError
        No rows for the region/mesh, a requested variant absent from the table.
    """
    sel = metrics[(metrics["region"] == region) & (metrics["mesh"] == mesh)]
    if sel.empty:
        raise InputValueError(f"no metric rows for region {region!r} and mesh {mesh!r}")
    present = list(dict.fromkeys(sel["variant"]))
    variants = list(variants) if variants is not None else present
    absent = [v for v in variants if v not in present]
    if absent:
        raise InputValueError(f"variant(s) {absent} have no rows for region {region!r}; present: {present}")
    rows = []
    for i, (name, metric, stat, _) in enumerate(SUMMARY_QUANTITIES):
        wide = _per_clip(sel, metric, region, mesh)
        for v in variants:
            if v not in wide.columns:
                continue
            col = wide[v].dropna()
            if col.empty:
                continue
            rows.append(_summary_row(v, name, metric, stat, col, n_boot=n_boot, level=level, seed=seed + i))
    for j, ref in enumerate(a for a in against if a in present):
        wr = win_rates(sel, against=ref, region=region, mesh=mesh)
        for v in variants:
            w = wr[wr["variant"] == v]
            if w.empty:
                continue
            col = pd.Series(w["wins"].astype(float).to_numpy(),
                            index=pd.MultiIndex.from_frame(w[_KEY]))
            rows.append(_summary_row(v, f"wins_vs_{ref}", "active_rel_error", "mean", col, n_boot=n_boot,
                                     level=level, seed=seed + 100 + j))
    table = pd.DataFrame(rows)
    return MotionSummary(table=table, level=float(level), n_boot=int(n_boot),
                         settings={"region": region, "mesh": mesh, "against": [a for a in against if a in present],
                                   "threshold": threshold if threshold is not None else ACTIVE_THRESHOLD,
                                   "seed": seed})


def _summary_row(variant: str, name: str, metric: str, stat: str, col: pd.Series, *, n_boot: int,
                 level: float, seed: int) -> dict[str, Any]:
    values = col.to_numpy(dtype=np.float64)
    subjects = ["/".join(map(str, k[:2])) for k in col.index]
    datasets = [str(k[0]) for k in col.index]
    by_clip = bootstrap_interval(values, statistic=stat, n_boot=n_boot, level=level, seed=seed)
    by_subj = bootstrap_interval(values, units=subjects, strata=datasets, statistic=stat, n_boot=n_boot,
                                 level=level, seed=seed)
    return {"variant": variant, "quantity": name, "metric": metric, "statistic": stat, "value": by_clip.value,
            "clips_low": by_clip.low, "clips_high": by_clip.high, "subjects_low": by_subj.low,
            "subjects_high": by_subj.high, "n_clips": len(values), "n_subjects": by_subj.n_units}


def region_motion_table(metrics: pd.DataFrame, *, variants: Sequence[str] | None = None,
                        metric: str = "active_rel_error", statistic: str = "median",
                        compare: tuple[str, str] | None = ("full", "smoothed"),
                        mesh: str = "fine", n_boot: int = 2000, level: float = 0.95,
                        seed: int = 0) -> pd.DataFrame:
    """Per region (``'all'``, facial regions, AU regions): ``metric`` per variant over clips.

    Parameters
    ----------
    metrics : DataFrame
        Tidy clip metrics.
    variants : sequence of str, optional
        Columns (default: every variant with rows).
    metric : str, default 'active_rel_error'
    statistic : {'median', 'mean'}
    compare : (a, b), optional
        Also the share of clips on which ``a`` is strictly lower than ``b`` in that region, with a
        bootstrap interval over clips (columns ``'<a> beats <b>'``, ``low``, ``high``), and
        ``n`` (clips with both).
    mesh : str
    n_boot, level, seed
        Of the win-rate intervals.

    Returns
    -------
    pandas.DataFrame
        One row per region: ``region``, one column per variant, then the comparison columns.
    """
    check_option(statistic, ("median", "mean"), "statistic")
    sel = metrics[(metrics["metric"] == metric) & (metrics["mesh"] == mesh)]
    if sel.empty:
        raise InputValueError(f"no {metric!r} rows (mesh {mesh!r})")
    regions = sorted(dict.fromkeys(sel["region"]), key=lambda r: (r != "all", str(r).startswith("AU"), str(r)))
    variants = list(variants) if variants is not None else list(dict.fromkeys(sel["variant"]))
    rows = []
    for r in regions:
        wide = _per_clip(sel, metric, r, mesh)
        row: dict[str, Any] = {"region": r}
        for v in variants:
            row[v] = float(getattr(wide[v].dropna(), statistic)()) if v in wide.columns else np.nan
        if compare is not None and all(c in wide.columns for c in compare):
            a, b = compare
            both = wide[[a, b]].dropna()
            wins = (both[a] < both[b]).to_numpy(dtype=np.float64)
            ci = bootstrap_interval(wins, statistic="mean", n_boot=n_boot, level=level, seed=seed)
            row.update({f"{a} beats {b}": ci.value, "low": ci.low, "high": ci.high, "n": len(wins)})
        rows.append(row)
    return pd.DataFrame(rows)


def compare_variants(metrics: pd.DataFrame, pairs: Sequence[tuple[str, str]], *,
                     metric: str = "active_rel_error", region: str = "all", mesh: str = "fine",
                     n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Paired comparisons clip by clip: is variant ``a`` better than ``b`` (lower ``metric``)?

    For each pair, on the clips both have: the mean paired difference ``a - b`` (negative: ``a``
    is better) with bootstrap intervals over clips and over subjects, and the share of clips on
    which ``a`` is strictly lower. An interval that excludes 0 says the difference is not
    explained by which clips (or faces) were drawn.

    Parameters
    ----------
    metrics : DataFrame
        Tidy clip metrics.
    pairs : sequence of (a, b)
        E.g. ``[("full", "smoothed"), ("full", "full_no_pretrain")]``; pairs with a variant
        absent from the table are left out.
    metric, region, mesh : str
    n_boot, level, seed

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``a, b, metric, mean_diff, clips_low, clips_high, subjects_low,
        subjects_high, a_wins, n_clips, n_subjects``, and ``excludes_zero`` (the clip interval
        lies below 0: ``a`` better; above: ``b`` better).
    """
    wide = _per_clip(metrics, metric, region, mesh)
    rows = []
    for i, (a, b) in enumerate(pairs):
        if a not in wide.columns or b not in wide.columns:
            continue
        both = wide[[a, b]].dropna()
        if both.empty:
            continue
        diff = (both[a] - both[b]).to_numpy(dtype=np.float64)
        subjects = ["/".join(map(str, k[:2])) for k in both.index]
        datasets = [str(k[0]) for k in both.index]
        by_clip = bootstrap_interval(diff, n_boot=n_boot, level=level, seed=seed + i)
        by_subj = bootstrap_interval(diff, units=subjects, strata=datasets, n_boot=n_boot, level=level,
                                     seed=seed + i)
        rows.append({"a": a, "b": b, "metric": metric, "mean_diff": by_clip.value, "clips_low": by_clip.low,
                     "clips_high": by_clip.high, "subjects_low": by_subj.low, "subjects_high": by_subj.high,
                     "a_wins": float((diff < 0).mean()), "n_clips": len(diff), "n_subjects": by_subj.n_units,
                     "excludes_zero": bool(by_clip.high < 0 or by_clip.low > 0)})
    return pd.DataFrame(rows, columns=["a", "b", "metric", "mean_diff", "clips_low", "clips_high", "subjects_low",
                                       "subjects_high", "a_wins", "n_clips", "n_subjects", "excludes_zero"])

