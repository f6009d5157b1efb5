"""Classification metrics of micro-expression recognition: UF1, UAR, WF1, ACC.

Implemented directly from the formulas of the MEGC protocol (``DATASETS.md`` §5.4), over
the *pooled* predictions. With one-vs-rest counts ``TP_c, FP_c, FN_c`` of each class ``c`` of
the label set, ``N_c = TP_c + FN_c`` and ``N = sum_c N_c``:

* ``F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c)``; ``recall_c = TP_c / N_c``;
* ``UF1 = mean_c F1_c`` (macro F1); ``UAR = mean_c recall_c`` (balanced accuracy);
* ``WF1 = sum_c (N_c / N) F1_c``; ``ACC = sum_c TP_c / N`` (= WAR).

**Empty classes.** A class of the label set can be absent from a subset (a LOSO fold, one
dataset of a composite):

* absent from the truth (``N_c = 0``): its recall is undefined and it is **left out of UAR**
  (both policies; as sklearn's ``balanced_accuracy_score``). If it was predicted
  (``FP_c > 0``) its F1 is 0 by the formula and counts in UF1;
* absent from truth *and* predictions (``TP_c = FP_c = FN_c = 0``): F1 is 0/0. Policy
  ``empty_class='exclude'`` (**default**) leaves it out of UF1 -- the mean runs over the
  classes that occur in the subset, which is what sklearn's ``f1_score(average='macro')``
  does without ``labels`` and what the published MEGC code ends up doing (its per-class
  ``try/except`` drops the class); ``empty_class='zero'`` counts it as ``F1_c = 0``
  (sklearn ``f1_score(labels=all, average='macro', zero_division=0)``).

WF1 and ACC do not depend on the policy (an empty class has weight ``N_c / N = 0``). With
pooled LOSO predictions every class normally occurs, so the policy only matters for subsets
and per-fold numbers; it is recorded on every result card.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._checks import check_option
from ..errors import InputValueError, ShapeError

__all__ = [
    "METRICS",
    "EMPTY_CLASS_POLICIES",
    "check_classes",
    "encode_labels",
    "confusion_matrix",
    "class_scores",
    "classification_metrics",
]

#: The metrics reported for every recognition result, in this order.
METRICS = ("UF1", "UAR", "WF1", "ACC")
#: Policies for the F1 of a class absent from truth and predictions (module docstring).
EMPTY_CLASS_POLICIES = ("exclude", "zero")


def _as_list(x: Any, name: str) -> list:
    if isinstance(x, (str, bytes)) or not hasattr(x, "__len__"):
        raise InputValueError(f"{name} must be a sequence of labels; got {type(x).__name__}")
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ShapeError(f"{name} must be one-dimensional (N,); got shape {arr.shape}")
    return arr.tolist()


def check_classes(classes: Sequence[Any]) -> tuple[str, ...]:
    """Validate a label set: at least two distinct, non-empty class names."""
    if isinstance(classes, str):
        raise InputValueError(f"classes must be a sequence of class names; got the string {classes!r}")
    out = tuple(str(c) for c in classes)
    if len(set(out)) != len(out) or not all(out):
        raise InputValueError(f"classes must be distinct non-empty names; got {list(out)}")
    if len(out) < 2:
        raise InputValueError(f"recognition needs at least 2 classes; got {list(out)}")
    return out


def encode_labels(labels: Sequence[Any], classes: Sequence[str], *, name: str = "labels") -> np.ndarray:
    """Class indices (N,) int64 of labels given as class names or as indices into ``classes``.

    Raises
    ------
    InputValueError
        A name that is not a class, an index out of range, or a mix of names and indices.
    """
    classes = tuple(classes)
    items = _as_list(labels, name)
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
        idx = np.asarray(items, dtype=np.int64)
        bad = idx[(idx < 0) | (idx >= len(classes))]
        if bad.size:
            raise InputValueError(f"{name} holds class indices outside [0, {len(classes)}): {sorted(set(bad.tolist()))[:5]}")
        return idx
    lookup = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(v) for v in items if str(v) not in lookup})
    if unknown:
        raise InputValueError(f"{name} holds unknown class name(s) {unknown[:5]}; the classes are {list(classes)}")
    return np.asarray([lookup[str(v)] for v in items], dtype=np.int64)


def _encode_pair(y_true: Sequence[Any], y_pred: Sequence[Any],
                 classes: Sequence[Any] | None) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    t, p = _as_list(y_true, "y_true"), _as_list(y_pred, "y_pred")
    if len(t) != len(p):
        raise ShapeError(f"y_true and y_pred must have the same length; got {len(t)} and {len(p)}")
    if not t:
        raise InputValueError("no samples: y_true and y_pred are empty")
    if classes is None:
        classes = sorted({str(v) for v in t + p})
    classes = check_classes(classes)
    return encode_labels(t, classes, name="y_true"), encode_labels(p, classes, name="y_pred"), classes


def confusion_matrix(y_true: Sequence[Any], y_pred: Sequence[Any], *,
                     classes: Sequence[str] | None = None) -> pd.DataFrame:
    """Confusion counts as a DataFrame: rows = true class, columns = predicted class.

    Parameters
    ----------
    y_true, y_pred : sequence, length N
        Class names or indices into ``classes``.
    classes : sequence of str, optional
        Label set and order (default: the sorted names found in either sequence).

    Returns
    -------
    pandas.DataFrame, shape (C, C), int64
        Index named ``'true'``, columns named ``'pred'``, every class present even when empty.

    Examples
    --------
    >>> confusion_matrix(["a", "b", "b"], ["a", "a", "b"], classes=["a", "b", "c"]).values.tolist()
    [[1, 0, 0], [1, 1, 0], [0, 0, 0]]
    """
    t, p, classes = _encode_pair(y_true, y_pred, classes)
    C = len(classes)
    counts = np.bincount(t * C + p, minlength=C * C).reshape(C, C)
    return pd.DataFrame(counts, index=pd.Index(classes, name="true"),
                        columns=pd.Index(classes, name="pred"))


def class_scores(y_true: Sequence[Any], y_pred: Sequence[Any], *, classes: Sequence[str] | None = None,
                 empty_class: Literal["exclude", "zero"] = "exclude") -> pd.DataFrame:
    """Per-class counts and scores with the empty-class policy applied.

    Returns
    -------
    pandas.DataFrame
        One row per class: ``class, support (N_c), tp, fp, fn, precision, recall, f1,
        in_uf1, in_uar``; ``recall`` is NaN when ``N_c = 0``, ``f1`` NaN for an empty class
        under ``'exclude'``, ``precision`` NaN without predictions of the class.
    """
    check_option(empty_class, EMPTY_CLASS_POLICIES, "empty_class")
    table = confusion_matrix(y_true, y_pred, classes=classes)
    cm = table.to_numpy()
    tp = np.diag(cm).astype(np.int64)
    fp = cm.sum(0) - tp
    fn = cm.sum(1) - tp
    support = tp + fn
    denom = 2 * tp + fp + fn
    empty = denom == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(empty, np.nan if empty_class == "exclude" else 0.0, 2 * tp / np.maximum(denom, 1))
        recall = np.where(support > 0, tp / np.maximum(support, 1), np.nan)
        pred_n = tp + fp
        precision = np.where(pred_n > 0, tp / np.maximum(pred_n, 1), np.nan)
    return pd.DataFrame({"class": list(table.index), "support": support, "tp": tp, "fp": fp, "fn": fn,
                         "precision": precision, "recall": recall, "f1": f1,
                         "in_uf1": ~np.isnan(f1), "in_uar": support > 0})


def classification_metrics(y_true: Sequence[Any], y_pred: Sequence[Any], *,
                           classes: Sequence[str] | None = None,
                           empty_class: Literal["exclude", "zero"] = "exclude") -> dict[str, float]:
    """UF1, UAR, WF1 and ACC of one set of predictions (see the module docstring).

    Parameters
    ----------
    y_true, y_pred : sequence, length N
        Class names or indices into ``classes``.
    classes : sequence of str, optional
        The label set (default: the sorted names found in either sequence). Pass the
        protocol's classes so that absent classes are handled by ``empty_class``.
    empty_class : {'exclude', 'zero'}, default 'exclude'
        F1 of a class absent from truth and predictions: left out of UF1, or counted as 0.

    Returns
    -------
    dict
        ``UF1, UAR, WF1, ACC`` (floats in [0, 1]) and ``n`` (samples).

    Raises
    ------
    ShapeError
        ``y_true`` and ``y_pred`` of different length.
    InputValueError
        No samples, an unknown class name, fewer than 2 classes.

    Examples
    --------
    >>> m = classification_metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"], classes=["a", "b", "c"])
    >>> {k: round(v, 4) for k, v in m.items()}
    {'UF1': 0.7333, 'UAR': 0.75, 'WF1': 0.7333, 'ACC': 0.75, 'n': 4}
    """
    s = class_scores(y_true, y_pred, classes=classes, empty_class=empty_class)
    n = int(s["support"].sum())
    f1 = s["f1"].to_numpy(dtype=np.float64)
    uf1 = float(np.nanmean(f1))
    uar = float(s.loc[s["in_uar"], "recall"].mean())
    wf1 = float((s["support"].to_numpy() * np.nan_to_num(f1)).sum() / n)
    acc = float(s["tp"].sum() / n)
    return {"UF1": uf1, "UAR": uar, "WF1": wf1, "ACC": acc, "n": n}
