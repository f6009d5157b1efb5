"""Fusion of feature sets (e.g. 2D optical flow + 3D reconstruction) under leakage-safe LOSO.

**Choice: late fusion of standardised scores.** Concatenating a 4425-value LBP-TOP block with a
few hundred reconstruction features lets the larger block dominate any regularised linear model,
and the per-feature standardisation every :class:`~mxkit.eval.Classifier` applies would undo a
per-block reweighting. mxkit therefore fuses at the score level, with every statistic fitted on
the training subjects of the fold only:

1. for each outer LOSO fold (keyed by ``(dataset, subject)``) and each block ``b`` (feature set),
   the block's hyper-parameters are chosen on subject-wise inner splits of the training subjects
   exactly as in :func:`mxkit.eval.recognise`;
2. with those parameters the block's classifier is trained on each inner split's fitting part
   and scores its held-out part, giving *out-of-sample* decision scores for every training
   sample (:meth:`mxkit.eval.Classifier.decision_scores`); their mean ``mu_b`` and standard
   deviation ``sigma_b`` (one scalar each, over all training samples and classes) standardise the
   block's scores -- a per-block standardisation fitted on the training folds only, which leaves
   each block's own ranking of the classes unchanged;
3. the block's classifier is refitted on all training subjects and scores the test subject,
   ``z_b = (s_b - mu_b) / sigma_b``;
4. the fused score is ``sum_b w_b z_b`` (``weights``, default equal) and the prediction its
   argmax (classes absent from the fold's training set are never predicted).

The result is a :class:`~mxkit.eval.RecognitionResult` like any other (pooled metrics,
per-fold table, protocol card with ``card['fusion']`` describing the blocks, weights and the
per-fold standardisation statistics).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._checks import check_finite, check_option
from ..errors import InputValueError, ShapeError
from ._samples import canonical_samples
from .classifiers import CLASSIFIERS, DEFAULT_GRIDS, grid_candidates, make_classifier
from .metrics import METRICS, classification_metrics
from .recognition import (
    RecognitionResult,
    _fold_seed,
    _select,
    inner_folds,
    loso_folds,
    make_card,
)

__all__ = ["late_fusion", "late_fusion_clips"]


def _block(values: Any, name: str, n: int | None) -> np.ndarray:
    X = np.asarray(getattr(values, "values", values), dtype=np.float64)
    if X.ndim != 2:
        raise ShapeError(f"feature set {name!r} must have shape (N, F); got {X.shape}")
    if n is not None and len(X) != n:
        raise ShapeError(f"feature set {name!r} has {len(X)} samples; expected {n}")
    check_finite(X, f"feature set {name!r}")
    return X


def late_fusion(
    feature_sets: Mapping[str, Any],
    labels: Sequence[Any],
    groups: Sequence[Any],
    *,
    weights: Mapping[str, float] | None = None,
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
) -> RecognitionResult:
    """Late fusion of several feature sets' standardised classifier scores (module docstring).

    Parameters
    ----------
    feature_sets : mapping name -> array (N, F) or FeatureSet
        The blocks, rows in the same sample order (at least two).
    labels, groups
        As in :func:`mxkit.eval.recognise`.
    weights : mapping name -> float, optional
        Non-negative block weights (default 1 each; normalised to sum 1).
    classes, classifier, grid, params, inner_splits, select_by, class_weight, empty_class, seed,
    sample_ids, protocol, feature_set
        As in :func:`mxkit.eval.recognise` (the same classifier and grid for every block).

    Returns
    -------
    RecognitionResult

    Raises
    ------
    ShapeError, InputValueError, OptionError
        Fewer than two blocks, blocks of different lengths, NaN features, bad weights, fewer
        than 3 subjects, and the errors of :func:`mxkit.eval.recognise`.
    """
    check_option(classifier, CLASSIFIERS, "classifier")
    check_option(select_by, METRICS, "select_by")
    check_option(empty_class, ("exclude", "zero"), "empty_class")
    check_option(class_weight, ("balanced", None), "class_weight")
    if not isinstance(feature_sets, Mapping) or len(feature_sets) < 2:
        raise InputValueError("late_fusion needs a mapping of at least two feature sets {name: (N, F) array}")
    names = [str(k) for k in feature_sets]
    labels = list(labels)
    N = len(labels)
    blocks = {n: _block(v, n, N) for n, v in zip(names, feature_sets.values(), strict=True)}
    w = {n: 1.0 for n in names} if weights is None else {str(k): float(v) for k, v in weights.items()}
    if set(w) != set(names) or any(not np.isfinite(v) or v < 0 for v in w.values()) or sum(w.values()) <= 0:
        raise InputValueError(f"weights must give a non-negative weight to each of {names}; got {weights!r}")
    total = sum(w.values())
    w = {n: w[n] / total for n in names}
    smp = canonical_samples(N, labels, groups, classes=classes, protocol=protocol, sample_ids=sample_ids,
                            min_subjects=3, why="late fusion standardises scores on inner splits")
    y, keys, ids, datasets, classes = smp.y, smp.keys, smp.ids, smp.datasets, smp.classes
    blocks = {n: X[smp.order] for n, X in blocks.items()}
    grid = dict(DEFAULT_GRIDS[classifier] if grid is None else grid)
    candidates = grid_candidates(grid) if grid else [{}]
    fixed = dict(params or {})
    K = len(classes)
    y_pred = np.full(N, -1, dtype=np.int64)
    rows, stats = [], []
    for fold in loso_folds(keys):
        fseed = _fold_seed(seed, fold.test_subject)
        splits = inner_folds(keys, fold.train, n_splits=inner_splits, seed=fseed)
        fused = np.zeros((fold.test.size, K))
        chosen_all, notes = {}, []
        for n in names:
            X = blocks[n]
            chosen, nt = _select(X, y, keys, fold.train, classifier=classifier, candidates=candidates,
                                 n_classes=K, inner_splits=inner_splits, select_by=select_by, seed=fseed,
                                 class_weight=class_weight, empty_class=empty_class, fixed=fixed)
            notes += nt
            oof = []
            for fit_idx, val_idx in splits:
                clf = make_classifier(classifier, K, seed=fseed, class_weight=class_weight, **fixed, **chosen)
                oof.append(clf.fit(X[fit_idx], y[fit_idx]).decision_scores(X[val_idx]))
            s = np.concatenate(oof)
            s = s[np.isfinite(s)]
            mu, sd = (float(s.mean()), float(s.std())) if s.size else (0.0, 1.0)
            sd = sd if sd > 1e-12 else 1.0
            clf = make_classifier(classifier, K, seed=fseed, class_weight=class_weight, **fixed, **chosen)
            z = (clf.fit(X[fold.train], y[fold.train]).decision_scores(X[fold.test]) - mu) / sd
            fused += w[n] * z
            notes += clf.notes
            chosen_all[n] = chosen
            stats.append({"fold": fold.test_subject, "block": n, "mu": mu, "sigma": sd})
        present = np.isin(np.arange(K), y[fold.train])
        fused[:, ~present] = -np.inf
        y_pred[fold.test] = fused.argmax(1)
        m = classification_metrics(y[fold.test], y_pred[fold.test], classes=classes, empty_class=empty_class)
        rows.append({"fold": fold.test_subject, "n_train": int(fold.train.size), "n_test": int(fold.test.size),
                     "params": json.dumps(chosen_all, sort_keys=True), **{k: m[k] for k in METRICS},
                     "notes": "; ".join(sorted(set(notes)))})
    pooled = classification_metrics(y, y_pred, classes=classes, empty_class=empty_class)
    name = feature_set or "late fusion: " + " + ".join(names)
    card = make_card(protocol=protocol, classes=classes, labels=y, subjects=keys, datasets=datasets,
                     classifier=classifier, grid=grid, feature_set=name,
                     n_features=int(sum(X.shape[1] for X in blocks.values())), seed=seed,
                     inner_splits=inner_splits, select_by=select_by, empty_class=empty_class,
                     class_weight=class_weight)
    card["params"] = fixed
    card["fusion"] = {"method": "late fusion of per-block standardised decision scores (mean and std of the "
                                "block's out-of-sample scores on the fold's training subjects)",
                      "blocks": {n: int(blocks[n].shape[1]) for n in names}, "weights": w,
                      "standardisation": stats}
    return RecognitionResult(classes=classes, sample_ids=tuple(ids.tolist()), subjects=tuple(keys.tolist()),
                             datasets=tuple(datasets.tolist()), y_true=y, y_pred=y_pred, metrics=pooled,
                             folds=pd.DataFrame(rows).sort_values("fold", kind="stable").reset_index(drop=True),
                             card=card)


def late_fusion_clips(clipset: Any, feature_sets: Mapping[str, Any], **options: Any) -> RecognitionResult:
    """:func:`late_fusion` on a labelled :class:`~mxkit.data.ClipSet`.

    ``feature_sets`` values are arrays in the clip order, :class:`~mxkit.eval.FeatureSet` (rows
    matched by clip key) or mappings clip key -> vector.
    """
    card = getattr(clipset, "protocol_card", None)
    clips = list(clipset)
    if card is None or any(c.label is None for c in clips):
        raise InputValueError("late_fusion_clips needs a ClipSet labelled by a protocol: clipset.map_classes(protocol)")
    for k in ("labels", "groups", "sample_ids", "protocol", "classes"):
        if k in options:
            raise InputValueError(f"late_fusion_clips takes {k!r} from the ClipSet; do not pass it")
    blocks = {}
    for name, fs in feature_sets.items():
        if hasattr(fs, "as_mapping"):
            fs = fs.as_mapping()
        if isinstance(fs, Mapping):
            missing = [c.key for c in clips if c.key not in fs]
            if missing:
                raise InputValueError(f"feature set {name!r} lacks {len(missing)} clip(s), e.g. {missing[0]}")
            fs = np.stack([np.asarray(fs[c.key], dtype=np.float64) for c in clips])
        blocks[name] = fs
    return late_fusion(blocks, [c.label for c in clips], [(c.dataset, c.subject) for c in clips],
                       classes=tuple(card["classes"]), sample_ids=["/".join(c.key) for c in clips],
                       protocol=card, **options)
