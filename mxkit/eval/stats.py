"""Uncertainty: subject bootstrap intervals of recognition scores and of per-clip figures, a paired permutation test.

**Bootstrap over subjects** (:func:`bootstrap_intervals`). LOSO predictions of one subject are
not independent of each other (same face, same session), so the resampling unit is the
*subject* (a cluster bootstrap): each replicate draws, within every dataset, as many subjects
as it has, with replacement, stacks their pooled test predictions (a subject drawn twice counts
twice) and computes UF1 / UAR / WF1 / ACC once over the replicate (same formulas and empty-class
policy as the result, :mod:`mxkit.eval.metrics`). Drawing within datasets keeps a composite's
parts at their sizes. The interval is the percentile interval of the replicates at ``level``
(default 95 %). It describes how much the score depends on *which* subjects were recorded, for
these fitted folds; it does not refit the models.

**Intervals of per-clip figures** (:func:`bootstrap_interval`). The mean or median of per-clip
values (a reconstruction error, a win indicator) with a percentile bootstrap interval over the
clips or, with ``units``, over subjects (the same cluster draws, within strata).

**Paired permutation test** (:func:`paired_permutation_test`). Two feature sets (or classifiers)
evaluated on the *same samples and folds* give predictions ``a`` and ``b``. Under the null
hypothesis that they are equally good, swapping ``a`` and ``b`` within a unit does not change
the distribution of ``d = metric(a) - metric(b)``; the unit is the subject by default (the
folds' own unit; ``'sample'`` is also offered). The two-sided p-value is

    p = (1 + #{ |d*| >= |d| }) / (1 + n)      over n random swap patterns,

or the exact fraction ``#{ |d*| >= |d| } / 2^U`` over all ``2^U`` patterns when there are few
enough units (``2^U <= n_permutations``); comparisons use a tolerance of 1e-12. Identical
predictions give ``d* = 0`` for every pattern, so ``p = 1``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._checks import check_option
from ..errors import InputValueError, ShapeError
from .metrics import METRICS, classification_metrics

__all__ = ["bootstrap_intervals", "Interval", "bootstrap_interval", "PermutationTest", "paired_permutation_test"]

_TOL = 1e-12


def _result_arrays(result: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...], str]:
    try:
        y_true = np.asarray(result.y_true, dtype=np.int64)
        y_pred = np.asarray(result.y_pred, dtype=np.int64)
        subjects = np.asarray(result.subjects, dtype=object)
        datasets = np.asarray(result.datasets, dtype=object)
        classes = tuple(result.classes)
    except AttributeError as exc:
        raise InputValueError(f"expected a RecognitionResult; got {type(result).__name__}") from exc
    policy = str(getattr(result, "card", {}).get("empty_class", "exclude"))
    return y_true, y_pred, subjects, datasets, classes, policy


def _confusion_metrics(cm: np.ndarray, policy: str) -> np.ndarray:
    """UF1, UAR, WF1, ACC (B, 4) of a batch of confusion matrices (B, C, C), rows = truth.

    The formulas and empty-class policy of :func:`mxkit.eval.classification_metrics`, vectorised
    (checked against it in the tests).
    """
    tp = np.diagonal(cm, axis1=1, axis2=2)
    support = cm.sum(2)
    fp = cm.sum(1) - tp
    fn = support - tp
    denom = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1e-300), np.nan if policy == "exclude" else 0.0)
        recall = np.where(support > 0, tp / np.maximum(support, 1e-300), np.nan)
        n = support.sum(1)
        uf1 = np.nanmean(f1, axis=1)
        uar = np.nanmean(recall, axis=1)
        wf1 = (support * np.nan_to_num(f1)).sum(1) / n
        acc = tp.sum(1) / n
    return np.stack([uf1, uar, wf1, acc], 1)


def _cluster_draws(sizes: Sequence[int], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """How often each unit is drawn in each replicate, (n_boot, sum(sizes)).

    Units are numbered stratum after stratum; every replicate draws, within each stratum, as
    many units as it has, with replacement.
    """
    draws = np.zeros((n_boot, int(sum(sizes))))
    start = 0
    for n in sizes:
        pick = rng.integers(0, n, (n_boot, n)) + start
        np.add.at(draws, (np.arange(n_boot)[:, None], pick), 1.0)
        start += n
    return draws


def _onehot_pairs(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.zeros((len(y_true), n_classes * n_classes))
    out[np.arange(len(y_true)), y_true * n_classes + y_pred] = 1.0
    return out


def _scores(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str], policy: str,
            metrics: Sequence[str]) -> list[float]:
    m = classification_metrics(y_true, y_pred, classes=classes, empty_class=policy)  # type: ignore[arg-type]
    return [float(m[k]) for k in metrics]


def bootstrap_intervals(result: Any, *, metrics: Sequence[str] = METRICS, n_boot: int = 2000,
                        level: float = 0.95, seed: int = 0, by_dataset: bool = True) -> pd.DataFrame:
    """Percentile bootstrap intervals over subjects for every score of a result (module docstring).

    Parameters
    ----------
    result : RecognitionResult
        Pooled LOSO predictions (``y_true``, ``y_pred``, ``subjects``, ``datasets``).
    metrics : sequence of {'UF1', 'UAR', 'WF1', 'ACC'}
    n_boot : int, default 2000
        Replicates.
    level : float, default 0.95
    seed : int, default 0
    by_dataset : bool, default True
        Also each dataset's subset (resampling its own subjects), when there are several.

    Returns
    -------
    pandas.DataFrame
        One row per (subset, metric): ``subset`` ('all' or a dataset), ``metric``, ``value``
        (the result's pooled score), ``low``, ``high``, ``level``, ``n_boot``, ``n_subjects``,
        ``n_samples``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> r = SimpleNamespace(y_true=np.array([0, 1, 0, 1]), y_pred=np.array([0, 1, 0, 1]),
    ...                     subjects=("d/a", "d/a", "d/b", "d/b"), datasets=("d",) * 4, classes=("x", "y"))
    >>> bootstrap_intervals(r, metrics=("ACC",), n_boot=50)[["value", "low", "high"]].values.tolist()
    [[1.0, 1.0, 1.0]]
    """
    for m in metrics:
        check_option(m, METRICS, "metrics")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise InputValueError(f"n_boot must be a positive int; got {n_boot!r}")
    if not 0 < float(level) < 1:
        raise InputValueError(f"level must be in (0, 1); got {level!r}")
    y_true, y_pred, subjects, datasets, classes, policy = _result_arrays(result)
    rng = np.random.default_rng(seed)
    subsets = [("all", np.ones(len(y_true), dtype=bool))]
    names = sorted(set(datasets.tolist()))
    if by_dataset and len(names) > 1:
        subsets += [(d, datasets == d) for d in names]
    rows = []
    lo_q, hi_q = (1 - float(level)) / 2, 1 - (1 - float(level)) / 2
    for subset, sel in subsets:
        yt, yp, subj, ds = y_true[sel], y_pred[sel], subjects[sel], datasets[sel]
        strata = [sorted(set(subj[ds == d].tolist())) for d in sorted(set(ds.tolist()))]
        order = [s for st in strata for s in st]
        code = {s: i for i, s in enumerate(order)}
        sample_unit = np.asarray([code[s] for s in subj])
        draws = _cluster_draws([len(st) for st in strata], int(n_boot), rng)
        C = len(classes)
        cm = (draws[:, sample_unit] @ _onehot_pairs(yt, yp, C)).reshape(-1, C, C)
        cols = [METRICS.index(m) for m in metrics]
        reps = _confusion_metrics(cm, policy)[:, cols]
        value = _scores(yt, yp, classes, policy, metrics)
        for k, m in enumerate(metrics):
            lo, hi = np.quantile(reps[:, k], [lo_q, hi_q])
            rows.append({"subset": subset, "metric": m, "value": value[k], "low": float(lo), "high": float(hi),
                         "level": float(level), "n_boot": int(n_boot), "n_subjects": len(order),
                         "n_samples": int(sel.sum())})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Interval:
    """A statistic and its bootstrap interval (from :func:`bootstrap_interval`).

    Attributes
    ----------
    value : float
        The statistic of the values themselves.
    low, high : float
        Percentile interval of the replicates (NaN with fewer than 2 units).
    level : float
    n_boot : int
    statistic : str
        ``'mean'`` or ``'median'``.
    unit : str
        ``'value'`` (every value a unit) or ``'group'`` (a cluster bootstrap over ``units``).
    n_units : int
    n_values : int
    """

    value: float
    low: float
    high: float
    level: float
    n_boot: int
    statistic: str
    unit: str
    n_units: int
    n_values: int


def _weighted_median(x_sorted: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Median of each replicate's multiset: values ``x_sorted`` (N,) repeated ``counts`` (B, N) times."""
    cw = np.cumsum(counts, axis=1)
    n = cw[:, -1]
    lo = np.ceil(n / 2)                  # 1-based ranks of the two middle elements
    hi = np.floor(n / 2) + 1
    i_lo = (cw < lo[:, None]).sum(1)
    i_hi = (cw < hi[:, None]).sum(1)
    return 0.5 * (x_sorted[np.minimum(i_lo, len(x_sorted) - 1)] + x_sorted[np.minimum(i_hi, len(x_sorted) - 1)])


def bootstrap_interval(values: Any, *, units: Sequence[Any] | None = None, strata: Sequence[Any] | None = None,
                       statistic: Literal["mean", "median"] = "mean", n_boot: int = 2000, level: float = 0.95,
                       seed: int = 0) -> Interval:
    """Percentile bootstrap interval of the mean or median of per-clip values.

    Without ``units`` every value is resampled on its own (a bootstrap over clips). With
    ``units`` (e.g. the subject of each clip) whole units are resampled -- a replicate draws,
    within each stratum (e.g. dataset), as many units as it has, with replacement, and pools
    their values (a unit drawn twice counts twice) -- the cluster bootstrap of
    :func:`bootstrap_intervals`. The median of a replicate is that of the pooled multiset.

    Parameters
    ----------
    values : array (N,)
        Finite values (NaN are refused: drop them first).
    units, strata : sequence (N,), optional
        Unit and stratum of each value.
    statistic : {'mean', 'median'}
    n_boot : int, default 2000
    level : float, default 0.95
    seed : int, default 0

    Returns
    -------
    Interval
        ``low`` and ``high`` are NaN when there are fewer than 2 units (nothing to resample).

    Examples
    --------
    >>> ci = bootstrap_interval([1.0, 1.0, 1.0], statistic="median")
    >>> (ci.value, ci.low, ci.high)
    (1.0, 1.0, 1.0)
    """
    check_option(statistic, ("mean", "median"), "statistic")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise InputValueError(f"n_boot must be a positive int; got {n_boot!r}")
    if not 0 < float(level) < 1:
        raise InputValueError(f"level must be in (0, 1); got {level!r}")
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise InputValueError("bootstrap_interval got no values")
    if not np.isfinite(x).all():
        raise InputValueError("bootstrap_interval got non-finite values; drop them first")
    n = len(x)
    unit_of = np.arange(n) if units is None else np.asarray(units, dtype=object)
    if len(unit_of) != n:
        raise ShapeError(f"units has {len(unit_of)} entries for {n} values")
    stratum = np.zeros(n, dtype=object) if strata is None else np.asarray(strata, dtype=object)
    if len(stratum) != n:
        raise ShapeError(f"strata has {len(stratum)} entries for {n} values")
    keys = [(str(s), str(u)) for s, u in zip(stratum, unit_of, strict=True)]
    order = sorted(set(keys))
    code = {k: i for i, k in enumerate(order)}
    unit_code = np.asarray([code[k] for k in keys])
    sizes = [sum(1 for k in order if k[0] == s) for s in dict.fromkeys(k[0] for k in order)]
    value = float(np.mean(x) if statistic == "mean" else np.median(x))
    kind = "value" if units is None else "group"
    if len(order) < 2:
        return Interval(value, math.nan, math.nan, float(level), int(n_boot), statistic, kind, len(order), n)
    rng = np.random.default_rng(seed)
    counts = _cluster_draws(sizes, int(n_boot), rng)[:, unit_code]          # (B, N) per value
    if statistic == "mean":
        reps = counts @ x / counts.sum(1)
    else:
        srt = np.argsort(x, kind="stable")
        reps = _weighted_median(x[srt], counts[:, srt])
    lo, hi = np.quantile(reps, [(1 - float(level)) / 2, 1 - (1 - float(level)) / 2])
    return Interval(value, float(lo), float(hi), float(level), int(n_boot), statistic, kind, len(order), n)


@dataclass(frozen=True)
class PermutationTest:
    """Outcome of :func:`paired_permutation_test`.

    Attributes
    ----------
    metric : str
    value_a, value_b : float
        The two results' pooled scores.
    difference : float
        ``value_a - value_b``.
    p_value : float
        Two-sided.
    n_permutations : int
        Swap patterns evaluated (``2^U`` when exact).
    exact : bool
    unit : str
        ``'subject'`` or ``'sample'``.
    n_units : int
    """

    metric: str
    value_a: float
    value_b: float
    difference: float
    p_value: float
    n_permutations: int
    exact: bool
    unit: str
    n_units: int

    def to_dataframe(self) -> pd.DataFrame:
        """One row with every field."""
        return pd.DataFrame([self.__dict__])


def paired_permutation_test(a: Any, b: Any, *, metric: Literal["UF1", "UAR", "WF1", "ACC"] = "UF1",
                            n_permutations: int = 10000, unit: Literal["subject", "sample"] = "subject",
                            seed: int = 0) -> PermutationTest:
    """Is result ``a`` better than ``b`` on the same samples and folds? (module docstring)

    Parameters
    ----------
    a, b : RecognitionResult
        Same samples (``sample_ids``), truth, subjects and classes (e.g. two feature sets run
        by :func:`mxkit.eval.recognise` on the same clips).
    metric : {'UF1', 'UAR', 'WF1', 'ACC'}, default 'UF1'
    n_permutations : int, default 10000
        Random swap patterns (the exact test is used when ``2^U`` is not larger).
    unit : {'subject', 'sample'}, default 'subject'
    seed : int, default 0

    Returns
    -------
    PermutationTest

    Raises
    ------
    InputValueError
        Results on different samples, truth, subjects or classes.
    """
    check_option(metric, METRICS, "metric")
    check_option(unit, ("subject", "sample"), "unit")
    if isinstance(n_permutations, bool) or not isinstance(n_permutations, (int, np.integer)) or n_permutations < 1:
        raise InputValueError(f"n_permutations must be a positive int; got {n_permutations!r}")
    ta, pa, sa, _, ca, policy = _result_arrays(a)
    tb, pb, sb, _, cb, _ = _result_arrays(b)
    if len(pa) != len(pb):
        raise ShapeError(f"the results have {len(pa)} and {len(pb)} samples")
    ids_a, ids_b = getattr(a, "sample_ids", None), getattr(b, "sample_ids", None)
    if ids_a is not None and ids_b is not None and tuple(ids_a) != tuple(ids_b):
        raise InputValueError("the two results are on different samples (sample_ids differ); pair them on the same clips")
    if ca != cb or not np.array_equal(ta, tb) or not np.array_equal(sa, sb):
        raise InputValueError("the two results differ in classes, truth or subjects; they are not paired")
    units = sa if unit == "subject" else np.arange(len(pa)).astype(str).astype(object)
    names = sorted(set(units.tolist()))
    code = np.searchsorted(np.asarray(names, dtype=object), units)
    U = len(names)

    C = len(ca)
    col = METRICS.index(metric)
    base_a, base_b = _onehot_pairs(ta, pa, C), _onehot_pairs(ta, pb, C)
    unit_of = np.zeros((U, len(pa)))
    unit_of[code, np.arange(len(pa))] = 1.0
    delta = unit_of @ (base_b - base_a)            # (U, C*C): swapping unit u moves a's counts by this
    sum_a, sum_b = base_a.sum(0), base_b.sum(0)

    def diffs(swaps: np.ndarray) -> np.ndarray:     # swaps (P, U) bool
        moved = swaps.astype(np.float64) @ delta
        ma = _confusion_metrics((sum_a + moved).reshape(-1, C, C), policy)[:, col]
        mb = _confusion_metrics((sum_b - moved).reshape(-1, C, C), policy)[:, col]
        return ma - mb

    d0 = float(diffs(np.zeros((1, U), dtype=bool))[0])
    exact = U < 63 and 2**U <= int(n_permutations)
    if exact:
        n = 2**U
        ds = np.concatenate([diffs(((np.arange(lo, min(lo + 4096, n))[:, None] >> np.arange(U)) & 1).astype(bool))
                             for lo in range(0, n, 4096)])
        p = float(np.mean(np.abs(ds) >= abs(d0) - _TOL))
    else:
        rng = np.random.default_rng(seed)
        n = int(n_permutations)
        ds = np.concatenate([diffs(rng.random((min(4096, n - lo), U)) < 0.5) for lo in range(0, n, 4096)])
        p = float((1 + np.sum(np.abs(ds) >= abs(d0) - _TOL)) / (1 + n))
    va = _scores(ta, pa, ca, policy, (metric,))[0]
    vb = _scores(ta, pb, ca, policy, (metric,))[0]
    return PermutationTest(metric=metric, value_a=va, value_b=vb, difference=d0, p_value=p, n_permutations=n,
                           exact=bool(exact), unit=unit, n_units=U)
