"""Shallow optical-flow CNNs in the style of OFF-ApexNet and STSTNet, trained per LOSO fold.

Both networks read the onset -> apex flow of the aligned crop (:func:`mxkit.eval.apex_flow`,
TV-L1 by default) resized to ``size x size`` (28 in the papers; :func:`flow_cnn_input`):
channels ``u``, ``v`` and, for STSTNet, the optical-strain magnitude, each min-max normalised to
[0, 1] per sample (as the published pipelines turn them into images; a constant channel becomes 0).

* :class:`STSTNet` -- Liong, Gan, See, Khor & Huang, "Shallow triple stream three-dimensional
  CNN (STSTNet) for micro-expression recognition", FG 2019 (arXiv 1902.03634): three parallel
  3x3 convolutions (3, 5 and 8 filters, 'same' padding) + ReLU + 3x3 max-pool (stride 3,
  padding 1) + 2x2 average pool, concatenated (16 x 5 x 5 for 28 px), one linear layer.
* :class:`OffApexNet` -- Gan, Liong, Yau, Huang & Tan, "OFF-ApexNet on micro-expression
  recognition system", Signal Processing: Image Communication 74 (2019) 129-139: one stream per
  flow component (u, v), each two 5x5 convolutions (6 then 16 filters, 'same' padding) + ReLU +
  2x2 max-pool, concatenated, two fully connected layers of 1024 with dropout 0.5, then the
  classes. (The papers' layer sizes as described there; no code was copied.)

**Training protocol** (:func:`cnn_recognise`), leakage-safe as :func:`mxkit.eval.recognise`:
for every outer LOSO fold (keyed by ``(dataset, subject)``), the training subjects only are
split subject-wise into ``inner_splits`` groups (:func:`mxkit.eval.inner_folds`); a network is
trained on the others for ``max_epochs`` epochs and predicts each held-out group after every
epoch; the epoch count with the best ``select_by`` score over the *pooled* inner predictions
(ties: the fewest epochs) is the early-stopping point; a fresh network is then trained on all
training subjects for that many epochs and predicts the test subject. The test subject never
enters training, validation, normalisation or the stopping decision. Every fit is recorded in
``result.card['fits']`` (fold, stage, the subjects whose samples it was trained and validated
on, epochs) -- the record is made from the very index arrays the fit used.

Adam (``lr`` 1e-3, weight decay 1e-4), mini-batches of ``batch_size`` shuffled by a seeded
generator, cross-entropy with balanced class weights. Initialisation and dropout draw from
torch's global generator inside :func:`torch.random.fork_rng`, seeded per fit: results are
reproducible and the caller's random state is left untouched. CPU by default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import nn

from .._checks import check_finite, check_option
from ..errors import InputValueError, ShapeError
from ._samples import canonical_samples
from .metrics import METRICS, classification_metrics
from .recognition import (
    RecognitionResult,
    _fold_seed,
    inner_folds,
    loso_folds,
    make_card,
)

__all__ = [
    "CNN_ARCHS",
    "CNN_CHANNELS",
    "STSTNet",
    "OffApexNet",
    "build_flow_cnn",
    "flow_cnn_input",
    "flow_cnn_inputs",
    "train_flow_cnn",
    "predict_flow_cnn",
    "cnn_recognise",
]

#: Network names of :func:`build_flow_cnn` / :func:`cnn_recognise`.
CNN_ARCHS = ("ststnet", "offapexnet")
#: Input channels each network reads (:func:`flow_cnn_input`).
CNN_CHANNELS = {"ststnet": ("u", "v", "strain"), "offapexnet": ("u", "v")}


class STSTNet(nn.Module):
    """Shallow triple-stream CNN (module docstring); input (B, C, S, S), output logits (B, K)."""

    def __init__(self, n_classes: int, *, in_channels: int = 3, size: int = 28):
        super().__init__()
        self.streams = nn.ModuleList(nn.Conv2d(in_channels, k, 3, padding=1) for k in (3, 5, 8))
        self.pool = nn.MaxPool2d(3, stride=3, padding=1)
        self.avg = nn.AvgPool2d(2)
        side = ((size + 2 - 3) // 3 + 1) // 2
        if side < 1:
            raise InputValueError(f"STSTNet needs inputs of at least 4 px; got size {size}")
        self.fc = nn.Linear(16 * side * side, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [self.avg(self.pool(torch.relu(conv(x)))) for conv in self.streams]
        return self.fc(torch.cat(feats, 1).flatten(1))


class OffApexNet(nn.Module):
    """Two-stream (u, v) CNN with two dense layers (module docstring); input (B, 2, S, S)."""

    def __init__(self, n_classes: int, *, size: int = 28, hidden: int = 1024, dropout: float = 0.5):
        super().__init__()
        if size < 4:
            raise InputValueError(f"OffApexNet needs inputs of at least 4 px; got size {size}")

        def stream() -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(6, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))

        self.u, self.v = stream(), stream()
        side = (size // 2) // 2
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * 16 * side * side, hidden), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.u(x[:, :1]), self.v(x[:, 1:2])], 1))


def build_flow_cnn(arch: str, n_classes: int, *, size: int = 28) -> nn.Module:
    """A fresh network by name (``'ststnet'`` or ``'offapexnet'``)."""
    check_option(arch, CNN_ARCHS, "arch")
    if arch == "ststnet":
        return STSTNet(n_classes, in_channels=3, size=size)
    return OffApexNet(n_classes, size=size)


# --------------------------------------------------------------------------- inputs
def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def flow_cnn_input(item: Any, *, size: int = 28, channels: Sequence[str] = ("u", "v", "strain"),
                   normalise: Literal["minmax", "none"] = "minmax", method: str = "tvl1",
                   params: Mapping[str, Any] | None = None,
                   magnify: None | bool | Mapping[str, Any] = None) -> np.ndarray:
    """The CNN input (C, size, size) float32 of one clip (module docstring).

    Parameters
    ----------
    item : Prepared-like, ApexFlow, or array (H, W, 2)
        A prepared clip (its onset -> apex flow with ``method`` / ``params`` / ``magnify``,
        :func:`mxkit.eval.apex_flow`), an ApexFlow, or the flow field.
    size : int, default 28
    channels : sequence of {'u', 'v', 'strain'}
    normalise : {'minmax', 'none'}, default 'minmax'
        Per-sample, per-channel min-max to [0, 1] (no statistics shared between samples), or
        the resized values as they are (pixels of the resized grid for u, v).
    """
    import cv2

    check_option(normalise, ("minmax", "none"), "normalise")
    if isinstance(channels, str) or not channels:
        raise InputValueError(f"channels must be a non-empty sequence of 'u', 'v', 'strain'; got {channels!r}")
    for c in channels:
        check_option(c, ("u", "v", "strain"), "channels")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 4:
        raise InputValueError(f"size must be an int >= 4; got {size!r}")
    if isinstance(item, np.ndarray):
        from ..flow import optical_strain

        flow = np.asarray(item, dtype=np.float32)
        if flow.ndim != 3 or flow.shape[-1] != 2:
            raise ShapeError(f"flow must have shape (H, W, 2); got {flow.shape}")
        check_finite(flow, "flow")
        strain = np.asarray(optical_strain(flow), dtype=np.float32)
    elif hasattr(item, "strain") and hasattr(item, "settings"):
        flow, strain = item.flow, item.strain
    else:
        from .apexflow import apex_flow

        af = apex_flow(item, method=method, params=params, magnify=magnify)
        flow, strain = af.flow, af.strain
    H = flow.shape[0]
    maps = {"u": flow[..., 0], "v": flow[..., 1], "strain": strain}
    out = []
    for c in channels:
        m = cv2.resize(np.ascontiguousarray(maps[c], dtype=np.float32), (int(size), int(size)),
                       interpolation=cv2.INTER_AREA)
        if c != "strain":
            m = m * (size / H)               # displacement in pixels of the resized grid
        out.append(_minmax(m) if normalise == "minmax" else m)
    return np.stack(out).astype(np.float32)


def flow_cnn_inputs(items: Sequence[Any], *, arch: str = "ststnet", size: int = 28, **options: Any) -> np.ndarray:
    """:func:`flow_cnn_input` of many clips with the channels ``arch`` reads: (N, C, S, S)."""
    check_option(arch, CNN_ARCHS, "arch")
    items = list(items)
    if not items:
        raise InputValueError("flow_cnn_inputs got no items")
    if "channels" in options:
        raise InputValueError("flow_cnn_inputs takes the channels from arch; do not pass channels=")
    return np.stack([flow_cnn_input(it, size=size, channels=CNN_CHANNELS[arch], **options) for it in items])


# --------------------------------------------------------------------------- training
def _class_weights(y: np.ndarray, n_classes: int) -> torch.Tensor:
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    w = np.zeros(n_classes)
    present = counts > 0
    w[present] = len(y) / (present.sum() * counts[present])
    return torch.as_tensor(w, dtype=torch.float32)


def train_flow_cnn(X: Any, y: Any, *, arch: str = "ststnet", n_classes: int | None = None, epochs: int = 50,
                   batch_size: int = 32, lr: float = 1e-3, weight_decay: float = 1e-4,
                   class_weight: Literal["balanced"] | None = "balanced", seed: int = 0,
                   X_eval: Any = None, device: str | torch.device = "cpu") -> tuple[nn.Module, list[np.ndarray]]:
    """Train one network; optionally predict ``X_eval`` after every epoch.

    Parameters
    ----------
    X : array, shape (n, C, S, S)
    y : array of int, shape (n,)
        Class indices ``0 .. n_classes - 1``.
    arch : {'ststnet', 'offapexnet'}
    n_classes : int, optional
        Default ``max(y) + 1``.
    epochs, batch_size, lr, weight_decay, class_weight, seed
        See the module docstring.
    X_eval : array (m, C, S, S), optional
    device : str or torch.device, default 'cpu'

    Returns
    -------
    net : torch.nn.Module
        In eval mode, on ``device``.
    eval_predictions : list of numpy.ndarray (m,)
        One per epoch (empty without ``X_eval``).
    """
    check_option(arch, CNN_ARCHS, "arch")
    check_option(class_weight, ("balanced", None), "class_weight")
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float32))
    yt = torch.as_tensor(np.asarray(y, dtype=np.int64))
    if Xt.ndim != 4 or Xt.shape[2] != Xt.shape[3] or len(yt) != len(Xt) or len(Xt) == 0:
        raise ShapeError(f"X must have shape (n, C, S, S) with n = len(y) > 0; got {tuple(Xt.shape)} and {len(yt)} labels")
    K = int(yt.max()) + 1 if n_classes is None else int(n_classes)
    if int(epochs) < 1 or int(batch_size) < 1:
        raise InputValueError(f"epochs and batch_size must be positive; got {epochs!r}, {batch_size!r}")
    dev = torch.device(device)
    out: list[np.ndarray] = []
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(int(seed))
        net = build_flow_cnn(arch, K, size=int(Xt.shape[-1])).to(dev)
        gen = torch.Generator().manual_seed(int(seed) + 1)
        w = _class_weights(yt.numpy(), K).to(dev) if class_weight == "balanced" else None
        loss_fn = nn.CrossEntropyLoss(weight=w)
        opt = torch.optim.Adam(net.parameters(), lr=float(lr), weight_decay=float(weight_decay))
        Xd, yd = Xt.to(dev), yt.to(dev)
        Xe = None if X_eval is None else torch.as_tensor(np.asarray(X_eval, dtype=np.float32)).to(dev)
        for _ in range(int(epochs)):
            net.train()
            order = torch.randperm(len(Xd), generator=gen).to(dev)
            for start in range(0, len(Xd), int(batch_size)):
                b = order[start:start + int(batch_size)]
                opt.zero_grad()
                loss_fn(net(Xd[b]), yd[b]).backward()
                opt.step()
            if Xe is not None:
                out.append(_predict(net, Xe))
    net.eval()
    return net, out


def _predict(net: nn.Module, X: torch.Tensor) -> np.ndarray:
    net.eval()
    with torch.no_grad():
        return net(X).argmax(1).cpu().numpy().astype(np.int64)


def predict_flow_cnn(net: nn.Module, X: Any) -> np.ndarray:
    """Class indices (n,) of a trained network."""
    dev = next(net.parameters()).device
    return _predict(net, torch.as_tensor(np.asarray(X, dtype=np.float32)).to(dev))


def cnn_recognise(
    inputs: Any,
    labels: Sequence[Any],
    groups: Sequence[Any],
    *,
    arch: Literal["ststnet", "offapexnet"] = "ststnet",
    classes: Sequence[str] | None = None,
    max_epochs: int = 50,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    inner_splits: int = 3,
    select_by: Literal["UF1", "UAR", "WF1", "ACC"] = "UF1",
    class_weight: Literal["balanced"] | None = "balanced",
    empty_class: Literal["exclude", "zero"] = "exclude",
    seed: int = 0,
    sample_ids: Sequence[str] | None = None,
    protocol: Any = None,
    feature_set: str | None = None,
    device: str | torch.device = "cpu",
    threads: int | None = None,
    progress: bool = False,
) -> RecognitionResult:
    """Leakage-safe LOSO recognition with a flow CNN, early-stopped on training subjects only.

    Parameters
    ----------
    inputs : array, shape (N, C, S, S)
        :func:`flow_cnn_inputs` of the samples (the channels ``arch`` reads).
    labels, groups, classes, sample_ids, protocol, feature_set, select_by, class_weight, empty_class, seed
        As in :func:`mxkit.eval.recognise`.
    arch : {'ststnet', 'offapexnet'}, default 'ststnet'
    max_epochs : int, default 50
        Longest training considered by early stopping.
    batch_size, lr, weight_decay
        Optimiser settings (module docstring).
    inner_splits : int, default 3
        Subject-wise groups of the training subjects for early stopping.
    device : default 'cpu'
    threads : int, optional
        Torch intra-op threads during the call (restored afterwards).
    progress : bool

    Returns
    -------
    RecognitionResult
        ``folds['params']`` holds the chosen epochs; ``card['fits']`` lists every fit with the
        subjects it was trained and validated on; ``card['training']`` the settings.

    Raises
    ------
    ShapeError, InputValueError, OptionError
        As :func:`mxkit.eval.recognise` (inputs not 4-D, NaN, fewer than 3 subjects, ...).
    """
    from .._threads import torch_threads

    check_option(arch, CNN_ARCHS, "arch")
    check_option(select_by, METRICS, "select_by")
    check_option(empty_class, ("exclude", "zero"), "empty_class")
    X = np.asarray(inputs, dtype=np.float32)
    if X.ndim != 4:
        raise ShapeError(f"inputs must have shape (N, C, S, S); got {X.shape}")
    want = len(CNN_CHANNELS[arch])
    if X.shape[1] != want:
        raise ShapeError(f"{arch} reads {want} channels {CNN_CHANNELS[arch]}; inputs have {X.shape[1]}")
    check_finite(X, "inputs")
    smp = canonical_samples(len(X), labels, groups, classes=classes, protocol=protocol, sample_ids=sample_ids,
                            min_subjects=3, why="early stopping on an inner split of the training subjects")
    X, y, keys, ids, datasets, classes = X[smp.order], smp.y, smp.keys, smp.ids, smp.datasets, smp.classes
    N = len(X)
    K = len(classes)
    train_opts = {"arch": arch, "n_classes": K, "batch_size": int(batch_size), "lr": float(lr),
                  "weight_decay": float(weight_decay), "class_weight": class_weight, "device": device}
    fits: list[dict[str, Any]] = []

    def fit(idx: np.ndarray, epochs: int, fseed: int, *, fold: str, stage: str,
            eval_idx: np.ndarray | None = None, test_idx: np.ndarray | None = None) -> list[np.ndarray]:
        # the record is made from the exact indices this fit trains / validates on
        fits.append({"fold": fold, "stage": stage, "epochs": int(epochs),
                     "train_subjects": sorted(set(keys[idx].tolist())),
                     "validation_subjects": [] if eval_idx is None else sorted(set(keys[eval_idx].tolist())),
                     "n_train": int(len(idx))})
        target = eval_idx if eval_idx is not None else test_idx
        net, preds = train_flow_cnn(X[idx], y[idx], epochs=epochs, seed=fseed,
                                    X_eval=None if eval_idx is None else X[eval_idx], **train_opts)
        if eval_idx is None and target is not None:
            return [predict_flow_cnn(net, X[target])]
        return preds

    folds = loso_folds(keys)
    run = folds
    if progress:
        from tqdm.auto import tqdm

        run = tqdm(folds, desc=f"LOSO {arch}")
    y_pred = np.full(N, -1, dtype=np.int64)
    rows = []
    with torch_threads(threads):
        for fold in run:
            fseed = _fold_seed(seed, fold.test_subject)
            pooled = np.full((int(max_epochs), N), -1, dtype=np.int64)
            splits = inner_folds(keys, fold.train, n_splits=inner_splits, seed=fseed)
            for s, (fit_idx, val_idx) in enumerate(splits):
                per_epoch = fit(fit_idx, int(max_epochs), fseed + s + 1, fold=fold.test_subject,
                                stage=f"inner{s}", eval_idx=val_idx)
                for e, p in enumerate(per_epoch):
                    pooled[e, val_idx] = p
            val = np.concatenate([v for _, v in splits])
            names = [str(i) for i in range(K)]
            scores = [classification_metrics(y[val], pooled[e, val], classes=names,
                                             empty_class=empty_class)[select_by] for e in range(int(max_epochs))]
            best = int(np.argmax(scores)) + 1
            y_pred[fold.test] = fit(fold.train, best, fseed, fold=fold.test_subject, stage="refit",
                                    test_idx=fold.test)[0]
            m = classification_metrics(y[fold.test], y_pred[fold.test], classes=classes, empty_class=empty_class)
            rows.append({"fold": fold.test_subject, "n_train": int(fold.train.size), "n_test": int(fold.test.size),
                         "params": json.dumps({"epochs": best}), **{k: m[k] for k in METRICS},
                         "notes": f"inner {select_by} {max(scores):.3f} at epoch {best}"})
    pooled_m = classification_metrics(y, y_pred, classes=classes, empty_class=empty_class)
    card = make_card(protocol=protocol, classes=classes, labels=y, subjects=keys, datasets=datasets,
                     classifier=arch, grid={"epochs": list(range(1, int(max_epochs) + 1))},
                     feature_set=feature_set or f"{arch}: onset->apex flow {X.shape[1]}x{X.shape[2]}x{X.shape[3]}",
                     n_features=int(np.prod(X.shape[1:])), seed=seed, inner_splits=inner_splits,
                     select_by=select_by, empty_class=empty_class, class_weight=class_weight)
    card["evaluation"] = ("LOSO over (dataset, subject); early stopping chosen on subject-wise inner splits of "
                          "the training subjects only, then refitted on all training subjects; predictions "
                          "pooled over folds, metrics computed once")
    card["training"] = {k: (str(v) if k == "device" else v) for k, v in train_opts.items()} | {
        "max_epochs": int(max_epochs), "optimizer": "Adam"}
    card["fits"] = fits
    return RecognitionResult(classes=classes, sample_ids=tuple(ids.tolist()), subjects=tuple(keys.tolist()),
                             datasets=tuple(datasets.tolist()), y_true=y, y_pred=y_pred, metrics=pooled_m,
                             folds=pd.DataFrame(rows).sort_values("fold", kind="stable").reset_index(drop=True),
                             card=card)
