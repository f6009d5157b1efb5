"""Classifiers for recognition from features: scikit-learn models and a small torch MLP.

Every classifier is a :class:`Classifier`: z-scored features (mean and std of the training
samples only) followed by an estimator, seeded explicitly, fitted on a canonical sample order
so that its predictions depend only on the training set, the test samples and the seed.

=================  ===============================================  =========================
name               estimator                                        default grid
=================  ===============================================  =========================
``linear_svm``     ``sklearn.svm.LinearSVC`` (squared hinge, L2)    ``C`` in 0.01, 0.1, 1, 10
``logreg``         ``sklearn.linear_model.LogisticRegression``      ``C`` in 0.01, 0.1, 1, 10
``random_forest``  ``sklearn.ensemble.RandomForestClassifier``      ``max_depth`` None, 4
                   (100 trees)
``mlp``            :class:`TorchMLP` (one hidden layer of 64, ReLU,  ``n_epochs`` 25, 50, 100,
                   full-batch Adam, weighted cross-entropy)         200 (early stopping)
=================  ===============================================  =========================

``class_weight='balanced'`` (default) weighs classes by ``N / (C N_c)`` (sklearn's rule) in
every model. A training set with a single class gives a constant predictor (logged).
scikit-learn is imported when a model is built, not by ``import mxkit.eval``.
"""

from __future__ import annotations

import itertools
import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .._checks import check_option
from ..errors import InputValueError

__all__ = ["CLASSIFIERS", "DEFAULT_GRIDS", "Classifier", "TorchMLP", "make_classifier", "grid_candidates"]

log = logging.getLogger(__name__)

#: Classifier names accepted by :func:`make_classifier` and :func:`mxkit.eval.recognise`.
CLASSIFIERS = ("linear_svm", "logreg", "random_forest", "mlp")

#: Hyper-parameter grids searched on the inner (training-subject) validation split.
DEFAULT_GRIDS: dict[str, dict[str, tuple]] = {
    "linear_svm": {"C": (0.01, 0.1, 1.0, 10.0)},
    "logreg": {"C": (0.01, 0.1, 1.0, 10.0)},
    "random_forest": {"max_depth": (None, 4)},
    "mlp": {"n_epochs": (25, 50, 100, 200)},
}

_DEFAULTS: dict[str, dict[str, Any]] = {
    "linear_svm": {"C": 1.0},
    "logreg": {"C": 1.0},
    "random_forest": {"n_estimators": 100, "max_depth": None},
    "mlp": {"hidden": 64, "n_epochs": 100, "lr": 1e-2, "weight_decay": 1e-3},
}


def grid_candidates(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """All parameter combinations of a grid, in a fixed order (keys sorted, values as given)."""
    keys = sorted(grid)
    for k in keys:
        if isinstance(grid[k], (str, bytes)) or not len(grid[k]):
            raise InputValueError(f"grid[{k!r}] must be a non-empty sequence of values; got {grid[k]!r}")
    return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(grid[k] for k in keys))]


def _balanced_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    present = counts > 0
    w = np.zeros(n_classes)
    w[present] = len(y) / (present.sum() * counts[present])
    return w


class TorchMLP:
    """A small deterministic MLP classifier (torch, CPU, float32, full batch).

    Parameters
    ----------
    n_classes : int
    hidden : int, default 64
        Width of the single hidden layer (ReLU).
    n_epochs : int, default 100
        Full-batch Adam steps.
    lr : float, default 1e-2
    weight_decay : float, default 1e-3
    class_weight : {'balanced', None}
    seed : int
        Seeds the weight initialisation (a private ``torch.Generator``; no global seeding).
    """

    def __init__(self, n_classes: int, *, hidden: int = 64, n_epochs: int = 100, lr: float = 1e-2,
                 weight_decay: float = 1e-3, class_weight: str | None = "balanced", seed: int = 0):
        self.n_classes, self.hidden, self.n_epochs = int(n_classes), int(hidden), int(n_epochs)
        self.lr, self.weight_decay, self.class_weight, self.seed = float(lr), float(weight_decay), class_weight, int(seed)
        self.net: torch.nn.Module | None = None

    def _build(self, n_features: int) -> torch.nn.Module:
        gen = torch.Generator().manual_seed(self.seed)
        lin1 = torch.nn.Linear(n_features, self.hidden)
        lin2 = torch.nn.Linear(self.hidden, self.n_classes)
        with torch.no_grad():
            for lin in (lin1, lin2):
                bound = 1.0 / np.sqrt(lin.in_features)
                lin.weight.copy_(torch.rand(lin.weight.shape, generator=gen) * 2 * bound - bound)
                lin.bias.zero_()
        return torch.nn.Sequential(lin1, torch.nn.ReLU(), lin2)

    def fit_staged(self, X: np.ndarray, y: np.ndarray, X_eval: np.ndarray | None = None,
                   stages: Sequence[int] = ()) -> list[np.ndarray]:
        """Train for ``max(stages)`` steps (``n_epochs`` without stages); return the predictions
        of ``X_eval`` after each stage.

        This is how early stopping is selected without touching test data: the stages are
        scored on an inner validation split of the training subjects.
        """
        Xt = torch.as_tensor(X, dtype=torch.float32)
        yt = torch.as_tensor(y, dtype=torch.int64)
        self.net = self._build(Xt.shape[1])
        w = None
        if self.class_weight == "balanced":
            w = torch.as_tensor(_balanced_weights(np.asarray(y), self.n_classes), dtype=torch.float32)
        loss_fn = torch.nn.CrossEntropyLoss(weight=w)
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        stages = sorted({int(s) for s in stages})
        total = max(stages) if stages else self.n_epochs
        out = []
        for epoch in range(1, total + 1):
            opt.zero_grad()
            loss = loss_fn(self.net(Xt), yt)
            loss.backward()
            opt.step()
            if epoch in stages and X_eval is not None:
                out.append(self.predict(X_eval))
        return out

    def fit(self, X: np.ndarray, y: np.ndarray) -> TorchMLP:
        self.fit_staged(X, y)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        if self.net is None:
            raise InputValueError("TorchMLP is not fitted")
        with torch.no_grad():
            return self.net(torch.as_tensor(X, dtype=torch.float32)).double().numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.decision_function(X).argmax(1).astype(np.int64)


class Classifier:
    """Standardisation + one estimator, fitted on class indices ``0 .. n_classes - 1``.

    Build with :func:`make_classifier`.
    """

    def __init__(self, name: str, n_classes: int, params: Mapping[str, Any], *, seed: int,
                 class_weight: str | None = "balanced"):
        self.name = check_option(name, CLASSIFIERS, "classifier")
        self.n_classes = int(n_classes)
        unknown = set(params) - set(_DEFAULTS[name])
        if unknown:
            raise InputValueError(f"unknown parameter(s) {sorted(unknown)} for classifier {name!r}; "
                                  f"known: {sorted(_DEFAULTS[name])}")
        self.params = {**_DEFAULTS[name], **dict(params)}
        self.seed = int(seed)
        self.class_weight = check_option(class_weight, ("balanced", None), "class_weight")
        self.notes: list[str] = []
        self._mu: np.ndarray | None = None
        self._constant: int | None = None
        self._est: Any = None

    def _scale(self, X: np.ndarray) -> np.ndarray:
        return (X - self._mu) / self._sd

    def _estimator(self) -> Any:
        p, cw = self.params, self.class_weight
        if self.name == "linear_svm":
            from sklearn.svm import LinearSVC

            return LinearSVC(C=p["C"], class_weight=cw, max_iter=20000, random_state=self.seed)
        if self.name == "logreg":
            from sklearn.linear_model import LogisticRegression

            return LogisticRegression(C=p["C"], class_weight=cw, max_iter=5000, random_state=self.seed)
        if self.name == "random_forest":
            from sklearn.ensemble import RandomForestClassifier

            return RandomForestClassifier(n_estimators=p["n_estimators"], max_depth=p["max_depth"],
                                          class_weight=cw, random_state=self.seed, n_jobs=1)
        return TorchMLP(self.n_classes, hidden=p["hidden"], n_epochs=p["n_epochs"], lr=p["lr"],
                        weight_decay=p["weight_decay"], class_weight=cw, seed=self.seed)

    def _prepare(self, X: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        X = np.asarray(X, dtype=np.float64)
        self._mu = X.mean(0)
        sd = X.std(0)
        self._sd = np.where(sd > 1e-12, sd, 1.0)
        classes = np.unique(y)
        if classes.size == 1:
            self._constant = int(classes[0])
            self.notes.append(f"single training class {self._constant}: constant prediction")
            log.info("%s: training set has a single class; predicting it for every sample", self.name)
            return None
        self._constant = None
        return self._scale(X)

    def fit(self, X: np.ndarray, y: np.ndarray) -> Classifier:
        """Fit on features (n, F) and class indices (n,)."""
        Xs = self._prepare(X, y)
        if Xs is None:
            return self
        self._est = self._estimator()
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            self._est.fit(Xs, np.asarray(y, dtype=np.int64))
        for w in caught:
            if issubclass(w.category, ConvergenceWarning):
                self.notes.append(f"{self.name} {self.params}: did not converge")
            else:  # pragma: no cover - re-raise anything else
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return self

    def fit_staged(self, X: np.ndarray, y: np.ndarray, X_eval: np.ndarray,
                   stages: Sequence[int]) -> list[np.ndarray]:
        """MLP only: predictions of ``X_eval`` after each number of epochs in ``stages``."""
        if self.name != "mlp":
            raise InputValueError("fit_staged is only available for the 'mlp' classifier")
        Xs = self._prepare(X, y)
        if Xs is None:
            return [self.predict(X_eval) for _ in stages]
        self._est = self._estimator()
        return self._est.fit_staged(Xs, np.asarray(y, dtype=np.int64), self._scale(np.asarray(X_eval, np.float64)), stages)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class indices (n,) int64."""
        X = np.asarray(X, dtype=np.float64)
        if self._constant is not None:
            return np.full(len(X), self._constant, dtype=np.int64)
        if self._est is None:
            raise InputValueError("the classifier is not fitted")
        return np.asarray(self._est.predict(self._scale(X)), dtype=np.int64)

    def decision_scores(self, X: np.ndarray) -> np.ndarray:
        """Per-class scores (n, n_classes), larger = more likely; ``argmax`` = :meth:`predict`.

        The estimator's ``decision_function`` (SVM, logistic regression: margins / logits; for
        two classes ``[-s, s]``), class probabilities for the random forest, logits for the MLP.
        Classes absent from the training set get ``-inf``; a constant predictor scores 1 for its
        class and 0 elsewhere.
        """
        X = np.asarray(X, dtype=np.float64)
        out = np.full((len(X), self.n_classes), -np.inf)
        if self._constant is not None:
            out[:] = 0.0
            out[:, self._constant] = 1.0
            return out
        if self._est is None:
            raise InputValueError("the classifier is not fitted")
        Xs = self._scale(X)
        if self.name == "mlp":
            return self._est.decision_function(Xs)
        if self.name == "random_forest":
            s = self._est.predict_proba(Xs)
        else:
            s = np.asarray(self._est.decision_function(Xs), dtype=np.float64)
            if s.ndim == 1:
                s = np.stack([-s, s], 1)
        out[:, np.asarray(self._est.classes_, dtype=np.int64)] = s
        return out


def make_classifier(name: str, n_classes: int, *, seed: int = 0, class_weight: str | None = "balanced",
                    **params: Any) -> Classifier:
    """A :class:`Classifier` by name (``'linear_svm'``, ``'logreg'``, ``'random_forest'``, ``'mlp'``).

    Parameters
    ----------
    name : str
    n_classes : int
        Size of the label set (predictions are indices into it).
    seed : int
    class_weight : {'balanced', None}
    **params
        Estimator parameters (see :data:`DEFAULT_GRIDS` and the module table); unknown
        names raise :class:`~mxkit.errors.InputValueError`.
    """
    return Classifier(name, n_classes, params, seed=seed, class_weight=class_weight)
