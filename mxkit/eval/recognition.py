"""Micro-expression recognition under leakage-safe leave-one-subject-out (LOSO).

Protocol (``DESIGN.md`` §4, ``DATASETS.md`` §5.3):

1. **Outer LOSO** keyed by ``(dataset, subject)``: one fold per subject; subjects of
   different datasets that share an id are distinct folds (:func:`loso_folds`).
2. **Model selection inside the training subjects only**: for a grid with more than one
   candidate, the training subjects of a fold are split subject-wise into ``inner_splits``
   groups (:func:`inner_folds`); every candidate is trained on the others and predicts
   each group; the candidate with the best ``select_by`` metric over those *pooled* inner
   predictions (ties: the first in grid order) is refitted on all training subjects and
   predicts the test subject. The test subject never enters training, validation,
   standardisation or early stopping.
3. **Pooling**: test predictions of all folds are concatenated and UF1/UAR/WF1/ACC are
   computed once (:mod:`mxkit.eval.metrics`); per-dataset scores are computed on the subsets
   of the pooled predictions; per-fold values and their means are reported beside them,
   never instead of them.
4. **Determinism**: samples are put in a canonical order (subject key, sample id) before
   anything is fitted and every fold's seed is derived from ``seed`` and its test-subject
   key, so the results do not depend on the order of the samples or of the folds.

Every :class:`RecognitionResult` carries a protocol card (:func:`make_card`): datasets,
class mapping and exclusions (from :attr:`mxkit.data.ClipSet.protocol_card`), sample and
subject counts, classifier and grid, feature set, seed, empty-class policy.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._checks import check_finite, check_option
from ..errors import InputValueError, ShapeError
from .classifiers import CLASSIFIERS, DEFAULT_GRIDS, grid_candidates, make_classifier
from .metrics import METRICS, check_classes, classification_metrics, confusion_matrix, encode_labels

__all__ = [
    "Fold",
    "subject_keys",
    "loso_folds",
    "inner_folds",
    "make_card",
    "RecognitionResult",
    "recognise",
    "recognise_clips",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- splits
def subject_keys(groups: Sequence[Any]) -> np.ndarray:
    """``'dataset/subject'`` keys (N,) from ``(dataset, subject)`` pairs or ready keys.

    Parameters
    ----------
    groups : sequence of (dataset, subject) pairs, of ``'dataset/subject'`` strings, or an
        array of shape (N, 2).

    Examples
    --------
    >>> subject_keys([("casme2", "sub01"), ("samm", "006")]).tolist()
    ['casme2/sub01', 'samm/006']
    """
    if isinstance(groups, str) or not hasattr(groups, "__len__"):
        raise InputValueError(f"groups must be a sequence of (dataset, subject) pairs; got {type(groups).__name__}")
    out = []
    for g in groups:
        if isinstance(g, str):
            if "/" not in g:
                raise InputValueError(f"subject key {g!r} must read 'dataset/subject' (LOSO folds are keyed by both)")
            out.append(g)
        else:
            g = tuple(g)
            if len(g) != 2:
                raise InputValueError(f"groups items must be (dataset, subject) pairs; got {g!r}")
            out.append(f"{g[0]}/{g[1]}")
    return np.asarray(out, dtype=object)


@dataclass(frozen=True, eq=False)
class Fold:
    """One outer LOSO fold: sample indices of the training and test sets."""

    test_subject: str
    train: np.ndarray
    test: np.ndarray


def loso_folds(groups: Sequence[Any]) -> tuple[Fold, ...]:
    """Leave-one-subject-out folds keyed by ``(dataset, subject)``, in sorted subject order.

    Parameters
    ----------
    groups : sequence, length N
        See :func:`subject_keys`.

    Returns
    -------
    tuple of Fold
        ``train`` and ``test`` index arrays (sorted); no training index belongs to the test
        subject.

    Raises
    ------
    InputValueError
        Fewer than 2 subjects.

    Examples
    --------
    >>> [(f.test_subject, f.train.tolist(), f.test.tolist())
    ...  for f in loso_folds([("d", "b"), ("d", "a"), ("d", "b")])]
    [('d/a', [0, 2], [1]), ('d/b', [1], [0, 2])]
    """
    keys = subject_keys(groups)
    subjects = sorted(set(keys.tolist()))
    if len(subjects) < 2:
        raise InputValueError(f"LOSO needs samples of at least 2 subjects; got {subjects}")
    idx = np.arange(len(keys))
    return tuple(Fold(s, idx[keys != s], idx[keys == s]) for s in subjects)


def inner_folds(groups: Sequence[Any], train: Sequence[int], *, n_splits: int = 3,
                seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Subject-wise validation splits of a fold's *training* samples (model selection).

    The training subjects (sorted, then shuffled with ``seed``) are dealt into
    ``min(n_splits, n_subjects)`` groups; each split fits on the other groups and validates
    on one. Only indices from ``train`` appear; the result depends on the set of training
    subjects and the seed, not on their order.

    Returns
    -------
    list of (fit_indices, validation_indices)

    Raises
    ------
    InputValueError
        Fewer than 2 training subjects, or ``n_splits < 2``.
    """
    if not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise InputValueError(f"n_splits must be an int >= 2; got {n_splits!r}")
    keys = subject_keys(groups)
    train = np.sort(np.asarray(train, dtype=np.int64))
    subjects = np.asarray(sorted(set(keys[train].tolist())), dtype=object)
    if len(subjects) < 2:
        raise InputValueError(f"model selection needs at least 2 training subjects; got {subjects.tolist()}")
    rng = np.random.default_rng(seed)
    order = subjects[rng.permutation(len(subjects))]
    parts = np.array_split(order, min(int(n_splits), len(subjects)))
    out = []
    for part in parts:
        val = np.isin(keys[train], part)
        out.append((train[~val], train[val]))
    return out


def _fold_seed(seed: int, key: str) -> int:
    return int((zlib.crc32(key.encode()) ^ (int(seed) * 2654435761)) % (2**31 - 1))


# --------------------------------------------------------------------------- protocol card
def make_card(*, protocol: Mapping[str, Any] | Any = None, classes: Sequence[str], labels: np.ndarray,
              subjects: np.ndarray, datasets: np.ndarray, classifier: str, grid: Mapping[str, Sequence],
              feature_set: str | None, n_features: int, seed: int, inner_splits: int, select_by: str,
              empty_class: str, class_weight: str | None) -> dict[str, Any]:
    """The protocol card of a recognition result (a JSON-friendly dict).

    ``protocol`` is a :attr:`mxkit.data.ClipSet.protocol_card` dict, a
    :class:`mxkit.data.Protocol`, or None (labels used as given). Keys: ``protocol,
    description, reference, datasets, classes, class_mapping, exclusions, n_excluded,
    excluded_by_reason, n_samples, n_subjects, class_counts, class_counts_by_dataset,
    evaluation, classifier, grid, selection, feature_set, n_features, seed, empty_class,
    class_weight, mxkit_version``.
    """
    from .._version import __version__

    if protocol is not None and not isinstance(protocol, Mapping):
        card_fn = getattr(protocol, "card", None)
        if not callable(card_fn):
            raise InputValueError(f"protocol must be a protocol card dict or a Protocol; got {type(protocol).__name__}")
        protocol = card_fn()
    p = dict(protocol or {})
    if p.get("classes") is not None and tuple(p["classes"]) != tuple(classes):
        raise InputValueError(f"the protocol's classes {list(p['classes'])} differ from the classes used {list(classes)}")
    counts = {c: int((labels == i).sum()) for i, c in enumerate(classes)}
    by_ds = {}
    for d in sorted(set(datasets.tolist())):
        sel = datasets == d
        by_ds[d] = {c: int((labels[sel] == i).sum()) for i, c in enumerate(classes)}
    return {
        "protocol": p.get("name"),
        "description": p.get("description", ""),
        "reference": p.get("reference", ""),
        "datasets": sorted(set(datasets.tolist())),
        "classes": list(classes),
        "class_mapping": p.get("mapping", "labels used as given (no protocol card)"),
        "exclusions": p.get("exclusions"),
        "n_excluded": p.get("n_excluded"),
        "excluded_by_reason": p.get("excluded_by_reason"),
        "n_samples": int(len(labels)),
        "n_subjects": int(len(set(subjects.tolist()))),
        "class_counts": counts,
        "class_counts_by_dataset": by_ds,
        "evaluation": "LOSO over (dataset, subject); model selection on subject-wise inner splits of "
                      "the training subjects only; predictions pooled over folds, metrics computed once",
        "classifier": classifier,
        "grid": {k: list(v) for k, v in grid.items()},
        "selection": {"inner_splits": int(inner_splits), "select_by": select_by},
        "feature_set": feature_set,
        "n_features": int(n_features),
        "seed": int(seed),
        "empty_class": empty_class,
        "class_weight": class_weight,
        "mxkit_version": __version__,
    }


# --------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class RecognitionResult:
    """Pooled LOSO predictions, their metrics and the protocol card.

    Attributes
    ----------
    classes : tuple of str
        The label set, in order (predictions are indices into it).
    sample_ids, subjects, datasets : tuple of str, length N
        Per sample (canonical order: subject key, then sample id); ``subjects`` are
        ``'dataset/subject'`` keys (= the sample's fold).
    y_true, y_pred : numpy.ndarray (N,) int64
        Class indices.
    metrics : dict
        ``UF1, UAR, WF1, ACC, n`` over the pooled predictions.
    folds : pandas.DataFrame
        One row per fold: ``fold, n_train, n_test, params`` (JSON of the selected
        hyper-parameters), the four metrics on the fold's test samples (same empty-class
        policy; noisy for folds of 1-3 samples) and ``notes``.
    card : dict
        Protocol card (:func:`make_card`).
    """

    classes: tuple[str, ...]
    sample_ids: tuple[str, ...]
    subjects: tuple[str, ...]
    datasets: tuple[str, ...]
    y_true: np.ndarray = field(repr=False)
    y_pred: np.ndarray = field(repr=False)
    metrics: dict[str, float] = field(default_factory=dict)
    folds: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    card: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def empty_class(self) -> str:
        """The empty-class policy used (see :mod:`mxkit.eval.metrics`)."""
        return str(self.card.get("empty_class", "exclude"))

    @property
    def confusion(self) -> pd.DataFrame:
        """Pooled confusion matrix (rows true, columns predicted)."""
        return confusion_matrix(self.y_true, self.y_pred, classes=self.classes)

    @property
    def fold_means(self) -> dict[str, float]:
        """Mean of the per-fold metrics (for reference beside the pooled ones)."""
        return {m: float(self.folds[m].mean()) for m in METRICS}

    def by_dataset(self) -> pd.DataFrame:
        """Metrics on each dataset's subset of the pooled predictions (and ``'all'``).

        Returns
        -------
        pandas.DataFrame
            Index ``dataset``; columns ``UF1, UAR, WF1, ACC, n``.
        """
        ds = np.asarray(self.datasets, dtype=object)
        rows = {"all": self.metrics}
        for d in sorted(set(self.datasets)):
            sel = ds == d
            rows[d] = classification_metrics(self.y_true[sel], self.y_pred[sel], classes=self.classes,
                                             empty_class=self.empty_class)  # type: ignore[arg-type]
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("dataset")

    def predictions(self) -> pd.DataFrame:
        """One row per sample: ``sample, dataset, subject, fold, true, pred, correct``."""
        cls = np.asarray(self.classes, dtype=object)
        return pd.DataFrame({
            "sample": list(self.sample_ids), "dataset": list(self.datasets),
            "subject": [s.split("/", 1)[1] for s in self.subjects], "fold": list(self.subjects),
            "true": cls[self.y_true], "pred": cls[self.y_pred], "correct": self.y_true == self.y_pred,
        })

    def to_dataframe(self) -> pd.DataFrame:
        """Tidy metrics: ``subset`` ('all' or a dataset), ``aggregation`` ('pooled',
        'fold_mean'), ``metric``, ``value``, ``n``, plus ``classifier``, ``feature_set`` and
        ``protocol`` from the card."""
        rows = []
        for subset, m in self.by_dataset().iterrows():
            rows += [{"subset": subset, "aggregation": "pooled", "metric": k, "value": float(m[k]),
                      "n": int(m["n"])} for k in METRICS]
        rows += [{"subset": "all", "aggregation": "fold_mean", "metric": k, "value": v,
                  "n": int(len(self.folds))} for k, v in self.fold_means.items()]
        df = pd.DataFrame(rows)
        for k in ("classifier", "feature_set", "protocol"):
            df[k] = self.card.get(k)
        return df

    def summary(self) -> dict[str, Any]:
        """Plain numbers: pooled metrics (rounded to 4 digits), counts, classifier, features."""
        return {**{k: round(float(self.metrics[k]), 4) for k in METRICS},
                "n_samples": len(self.y_true), "n_subjects": len(set(self.subjects)),
                "classifier": self.card.get("classifier"), "feature_set": self.card.get("feature_set"),
                "protocol": self.card.get("protocol")}


# --------------------------------------------------------------------------- LOSO driver
def _select(X: np.ndarray, y: np.ndarray, keys: np.ndarray, train: np.ndarray, *, classifier: str,
            candidates: list[dict], n_classes: int, inner_splits: int, select_by: str, seed: int,
            class_weight: str | None, empty_class: str, fixed: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """Pick a candidate by pooled inner-validation score over the training subjects only."""
    if len(candidates) == 1:
        return candidates[0], []
    splits = inner_folds(keys, train, n_splits=inner_splits, seed=seed)
    scores = np.zeros(len(candidates))
    notes: list[str] = []
    staged = classifier == "mlp" and all(set(c) == {"n_epochs"} for c in candidates)
    if staged:
        stages = [int(c["n_epochs"]) for c in candidates]
        pooled = [np.full(len(y), -1, np.int64) for _ in candidates]
        for fit_idx, val_idx in splits:
            clf = make_classifier("mlp", n_classes, seed=seed, class_weight=class_weight, **fixed)
            for k, p in enumerate(clf.fit_staged(X[fit_idx], y[fit_idx], X[val_idx], stages)):
                pooled[k][val_idx] = p
            notes += clf.notes
        preds = pooled
    else:
        preds = []
        for cand in candidates:
            pooled = np.full(len(y), -1, np.int64)
            for fit_idx, val_idx in splits:
                clf = make_classifier(classifier, n_classes, seed=seed, class_weight=class_weight, **fixed, **cand)
                pooled[val_idx] = clf.fit(X[fit_idx], y[fit_idx]).predict(X[val_idx])
                notes += clf.notes
            preds.append(pooled)
    val = np.concatenate([v for _, v in splits])
    names = [str(i) for i in range(n_classes)]
    for k, p in enumerate(preds):
        scores[k] = classification_metrics(y[val], p[val], classes=names,
                                           empty_class=empty_class)[select_by]  # type: ignore[arg-type]
    return candidates[int(np.argmax(scores))], notes


def recognise(
    features: Any,
    labels: Sequence[Any],
    groups: Sequence[Any],
    *,
    classes: Sequence[str] | None = None,
    classifier: Literal["linear_svm", "logreg", "random_forest", "mlp"] = "linear_svm",
    grid: Mapping[str, Sequence[Any]] | None = None,
    params: Mapping[str, Any] | None = None,
    inner_splits: int = 3,
    select_by: Literal["UF1", "UAR", "WF1", "ACC"] = "UF1",
    class_weight: Literal["balanced"] | None = "balanced",
    empty_class: Literal["exclude", "zero"] = "exclude",
    seed: int = 0,
    sample_ids: Sequence[str] | None = None,
    protocol: Any = None,
    feature_set: str | None = None,
    fold_order: Sequence[str] | None = None,
    progress: bool = False,
) -> RecognitionResult:
    """Leakage-safe LOSO recognition from a feature matrix (see the module docstring).

    Parameters
    ----------
    features : array, shape (N, F)
        One feature vector per sample; must be finite.
    labels : sequence, length N
        Class names (or indices into ``classes``).
    groups : sequence, length N
        ``(dataset, subject)`` of each sample (or ``'dataset/subject'`` keys).
    classes : sequence of str, optional
        Label set and order (default: the protocol card's classes, else the sorted labels).
    classifier : {'linear_svm', 'logreg', 'random_forest', 'mlp'}, default 'linear_svm'
    grid : dict of name -> values, optional
        Hyper-parameters searched on the inner split (default :data:`DEFAULT_GRIDS`; ``{}``
        for no search). For ``'mlp'`` a grid over ``n_epochs`` only is early stopping.
    params : dict, optional
        Fixed estimator parameters (e.g. ``{"n_estimators": 50}``).
    inner_splits : int, default 3
        Subject-wise inner validation splits.
    select_by : {'UF1', 'UAR', 'WF1', 'ACC'}, default 'UF1'
    class_weight : {'balanced', None}, default 'balanced'
    empty_class : {'exclude', 'zero'}, default 'exclude'
        Empty-class policy of every metric (:mod:`mxkit.eval.metrics`).
    seed : int, default 0
    sample_ids : sequence of str, optional
        Unique sample names (default ``'0', '1', ...``); they fix the canonical order.
    protocol : ClipSet.protocol_card dict or Protocol, optional
        Recorded on the card (class mapping, exclusions).
    feature_set : str, optional
        Name of the features, for the card.
    fold_order : sequence of str, optional
        Order in which the folds are run (default sorted); the results do not depend on it.
    progress : bool, default False
        A tqdm bar over the folds.

    Returns
    -------
    RecognitionResult

    Raises
    ------
    ShapeError
        Features not 2-D, or lengths that differ.
    InputValueError
        NaN/inf features, unknown class names, fewer than 2 classes among the labels, fewer
        than 2 subjects (or 3 when a grid is searched), duplicate sample ids.
    OptionError
        Unknown classifier, ``select_by``, ``class_weight`` or ``empty_class``.
    """
    check_option(classifier, CLASSIFIERS, "classifier")
    check_option(select_by, METRICS, "select_by")
    check_option(empty_class, ("exclude", "zero"), "empty_class")
    check_option(class_weight, ("balanced", None), "class_weight")
    X = np.asarray(features.detach().cpu().numpy() if hasattr(features, "detach") else features, dtype=np.float64)
    if X.ndim != 2:
        raise ShapeError(f"features must have shape (N, F); got {X.shape}")
    N = X.shape[0]
    if N == 0:
        raise InputValueError("no samples to evaluate (empty feature matrix)")
    check_finite(X, "features")
    labels = list(labels)
    keys = subject_keys(groups)
    if len(labels) != N or len(keys) != N:
        raise ShapeError(f"features ({N}), labels ({len(labels)}) and groups ({len(keys)}) must have the same length")
    if classes is None:
        card_classes = None
        if isinstance(protocol, Mapping):
            card_classes = protocol.get("classes")
        elif protocol is not None:
            card_classes = getattr(protocol, "classes", None)
        classes = card_classes if card_classes is not None else sorted({str(v) for v in labels})
    classes = check_classes(classes)
    y = encode_labels(labels, classes)
    if np.unique(y).size < 2:
        raise InputValueError(f"all {N} samples have the same class {classes[int(y[0])]!r}; recognition needs at least 2")
    ids = np.asarray([str(i) for i in range(N)] if sample_ids is None else [str(s) for s in sample_ids], dtype=object)
    if len(ids) != N:
        raise ShapeError(f"sample_ids has {len(ids)} items for {N} samples")
    if len(set(ids.tolist())) != N:
        raise InputValueError("sample_ids must be unique")
    datasets = np.asarray([k.split("/", 1)[0] for k in keys], dtype=object)

    # canonical order: results independent of the input order
    order = np.lexsort((ids.astype(str), keys.astype(str)))
    X, y, keys, ids, datasets = X[order], y[order], keys[order], ids[order], datasets[order]

    folds = loso_folds(keys)
    by_key = {f.test_subject: f for f in folds}
    if fold_order is not None:
        if sorted(fold_order) != sorted(by_key):
            raise InputValueError("fold_order must be a permutation of the subject keys")
        run = [by_key[k] for k in fold_order]
    else:
        run = list(folds)
    grid = dict(DEFAULT_GRIDS[classifier] if grid is None else grid)
    candidates = grid_candidates(grid) if grid else [{}]
    fixed = dict(params or {})
    overlap = set(fixed) & set(grid)
    if overlap:
        raise InputValueError(f"parameters {sorted(overlap)} are both fixed (params) and searched (grid)")
    if len(candidates) > 1 and len(by_key) < 3:
        raise InputValueError(f"model selection over {len(candidates)} candidates needs at least 3 subjects "
                              f"(2 left for the inner split); got {len(by_key)}; pass grid={{}}")
    if progress:
        from tqdm.auto import tqdm

        run = tqdm(run, desc=f"LOSO {classifier}")
    y_pred = np.full(N, -1, dtype=np.int64)
    fold_rows = []
    for fold in run:
        fseed = _fold_seed(seed, fold.test_subject)
        chosen, notes = _select(X, y, keys, fold.train, classifier=classifier, candidates=candidates,
                                n_classes=len(classes), inner_splits=inner_splits, select_by=select_by,
                                seed=fseed, class_weight=class_weight, empty_class=empty_class, fixed=fixed)
        clf = make_classifier(classifier, len(classes), seed=fseed, class_weight=class_weight, **fixed, **chosen)
        y_pred[fold.test] = clf.fit(X[fold.train], y[fold.train]).predict(X[fold.test])
        m = classification_metrics(y[fold.test], y_pred[fold.test], classes=classes, empty_class=empty_class)
        fold_rows.append({"fold": fold.test_subject, "n_train": int(fold.train.size), "n_test": int(fold.test.size),
                          "params": json.dumps(chosen, sort_keys=True), **{k: m[k] for k in METRICS},
                          "notes": "; ".join(sorted(set(notes + clf.notes)))})
    fold_table = pd.DataFrame(fold_rows).sort_values("fold", kind="stable").reset_index(drop=True)
    pooled = classification_metrics(y, y_pred, classes=classes, empty_class=empty_class)
    card = make_card(protocol=protocol, classes=classes, labels=y, subjects=keys, datasets=datasets,
                     classifier=classifier, grid=grid, feature_set=feature_set, n_features=X.shape[1],
                     seed=seed, inner_splits=inner_splits, select_by=select_by, empty_class=empty_class,
                     class_weight=class_weight)
    card["params"] = fixed
    return RecognitionResult(classes=classes, sample_ids=tuple(ids.tolist()), subjects=tuple(keys.tolist()),
                             datasets=tuple(datasets.tolist()), y_true=y, y_pred=y_pred, metrics=pooled,
                             folds=fold_table, card=card)


def recognise_clips(clipset: Any, features: Any, **options: Any) -> RecognitionResult:
    """:func:`recognise` on a labelled :class:`~mxkit.data.ClipSet`.

    Parameters
    ----------
    clipset : ClipSet
        Labelled by a protocol (``clipset.map_classes(...)``); labels, subjects, sample ids
        (``'dataset/subject/clip_id'``), classes and the protocol card come from it.
    features : array (N, F) in the clip order, or mapping clip key -> vector (F,)
    **options
        Passed to :func:`recognise` (``classifier``, ``grid``, ``seed``, ``feature_set``, ...).

    Raises
    ------
    InputValueError
        An unlabelled clip set, or a mapping without some clip's key.
    """
    card = getattr(clipset, "protocol_card", None)
    clips = list(clipset)
    if card is None or any(c.label is None for c in clips):
        raise InputValueError("recognise_clips needs a ClipSet labelled by a protocol: clipset.map_classes(protocol)")
    if isinstance(features, Mapping):
        missing = [c.key for c in clips if c.key not in features]
        if missing:
            raise InputValueError(f"features lack {len(missing)} clip(s), e.g. {missing[0]}")
        features = np.stack([np.asarray(features[c.key], dtype=np.float64) for c in clips])
    for k in ("labels", "groups", "sample_ids", "protocol", "classes"):
        if k in options:
            raise InputValueError(f"recognise_clips takes {k!r} from the ClipSet; do not pass it")
    return recognise(features, [c.label for c in clips], [(c.dataset, c.subject) for c in clips],
                     classes=tuple(card["classes"]), sample_ids=["/".join(c.key) for c in clips],
                     protocol=card, **options)
