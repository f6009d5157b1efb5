"""Training loops as plain functions: :func:`pretrain_macro`, :func:`finetune_micro`, :func:`train`.

Reproducibility and resumption
------------------------------
Everything random derives from ``config.seed``: the initial weights (a ``torch.Generator``
seeded with it), the clip order of each epoch (a :class:`DistributedSampler` with that seed
and the epoch number) and the frames drawn for clip ``i`` at step ``k`` (a generator seeded
from ``(seed, k, i)``). Nothing uses torch's global RNG. A checkpoint stores the networks,
the optimizer, the learning-rate scheduler, the generator state, the step, the config and
the history; it is written atomically (temporary file + ``os.replace``) every
``config.checkpoint_every`` steps and at the end. ``resume=True`` continues from it, and
the final weights are then bit-identical to an uninterrupted run with the same seed (on the
same device and thread count), since step ``k`` depends only on the state after step
``k - 1`` and on ``(seed, k)``.

Several processes
-----------------
Under ``torchrun`` (``WORLD_SIZE > 1`` in the environment) :func:`train` initialises
``torch.distributed`` from the environment (``nccl`` on CUDA, ``gloo`` on the CPU) unless
the caller already did, wraps the networks in :class:`DistributedDataParallel`, gives each
process its own shard of the clips (``DistributedSampler``) with ``config.batch_size``
clips per process and step, and lets only rank 0 write checkpoints. As the frame draws do
not depend on the rank, two processes with batch size ``b`` follow the same trajectory as
one process with batch size ``2 b`` (up to floating-point summation order).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .._checks import check_device
from ..errors import CheckpointError, InputValueError
from ..morph.masks import face_mask
from ..nets.graph import MeshGraph
from ..nets.refiner import DynamicRefiner
from .checkpoint import (
    _VERSION,
    TRAIN_FORMAT,
    check_topology,
    load_payload,
    load_refiner,
    save_atomic,
    weights_payload,
)
from .config import FINETUNE_DEFAULTS, PRETRAIN_DEFAULTS, TrainConfig
from .objective import BatchObjective, draw_frames
from .sample import TrainingSample

__all__ = ["train", "pretrain_macro", "finetune_micro", "TrainHistory", "TrainResult"]

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class TrainHistory:
    """Per-step record of a training run.

    Attributes
    ----------
    rows : tuple of dict
        One per step: ``step`` (1-based, counting from the start of the run), ``phase``,
        ``lr``, ``loss`` (weighted total, mean over this process's clips) and one entry per
        loss term (unweighted; see :class:`TrainConfig` for units).
    """

    rows: tuple[dict[str, Any], ...] = ()

    def __len__(self) -> int:
        return len(self.rows)

    def to_dataframe(self, *, long: bool = False) -> Any:
        """One row per step (``long=False``) or tidy ``step, phase, term, value`` rows."""
        import pandas as pd

        wide = pd.DataFrame(list(self.rows))
        if not long or wide.empty:
            return wide
        return wide.melt(id_vars=["step", "phase"], var_name="term", value_name="value")

    def summary(self, window: int = 20) -> dict[str, Any]:
        """Steps, the first / last total loss and their means over ``window`` steps."""
        if not self.rows:
            return {"steps": 0}
        n = max(1, min(int(window), len(self.rows)))
        head = [float(r["loss"]) for r in self.rows[:n]]
        tail = [float(r["loss"]) for r in self.rows[-n:]]
        return {"steps": len(self.rows), "first_loss": float(self.rows[0]["loss"]),
                "last_loss": float(self.rows[-1]["loss"]),
                "first_mean_loss": sum(head) / n, "last_mean_loss": sum(tail) / n,
                "phase": self.rows[-1].get("phase", "")}


@dataclass(frozen=True, eq=False)
class TrainResult:
    """Outcome of a training run.

    Attributes
    ----------
    refiner : DynamicRefiner
        The trained networks (on the CPU, in eval mode).
    history : TrainHistory
    config : TrainConfig
    phase : str
        ``"pretrain_macro"``, ``"finetune_micro"`` or ``"train"``.
    checkpoint : Path or None
        Where the final checkpoint was written.
    """

    refiner: DynamicRefiner
    history: TrainHistory
    config: TrainConfig
    phase: str = "train"
    checkpoint: Path | None = None

    def weights(self, **extra: Any) -> dict[str, Any]:
        """The weights payload (:func:`mxkit.train.checkpoint.weights_payload`)."""
        return weights_payload(self.refiner, extra={"phase": self.phase,
                                                    "config": self.config.to_dict(), **extra})

    def save(self, path: str | os.PathLike, **extra: Any) -> Path:
        """Write the weights atomically to ``path``."""
        return save_atomic(self.weights(**extra), path)

    def summary(self) -> dict[str, Any]:
        return {"phase": self.phase, **self.history.summary(),
                "parameters": sum(p.numel() for p in self.refiner.parameters())}


# ----------------------------------------------------------------------------- helpers
class _Schedule:
    """Linear warm-up, then cosine decay to ``min_ratio`` (or constant); picklable state."""

    def __init__(self, warmup: int, total: int, kind: str, min_ratio: float) -> None:
        self.warmup, self.total, self.kind, self.min_ratio = warmup, total, kind, min_ratio

    def __call__(self, step: int) -> float:
        if self.warmup and step < self.warmup:
            return (step + 1) / self.warmup
        if self.kind == "constant":
            return 1.0
        span = max(self.total - self.warmup, 1)
        prog = min(max(step - self.warmup, 0) / span, 1.0)
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * prog))


def _frame_generator(seed: int, step: int, index: int) -> torch.Generator:
    mixed = (seed * 1_000_003 + step * 8_191 + index * 131 + 17) % (2 ** 63 - 1)
    return torch.Generator().manual_seed(mixed)


def _dist_env() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return world, rank, local


def _check_samples(samples: Sequence[TrainingSample], model: Any, config: TrainConfig) -> None:
    if not samples:
        raise InputValueError("no training samples")
    selfsup = config.w_flow or config.w_landmark or config.w_photometric
    for i, s in enumerate(samples):
        if not isinstance(s, TrainingSample):
            raise InputValueError(f"samples[{i}] is a {type(s).__name__}, not a TrainingSample "
                                  "(build it with mxkit.train.make_training_sample)")
        if s.features.n_vertices != model.n_vertices or (
                s.features.model_name and s.features.model_name != model.name):
            raise InputValueError(f"samples[{i}] was built for model "
                                  f"{s.features.model_name!r} with {s.features.n_vertices} "
                                  f"vertices, not {model.name!r} ({model.n_vertices})")
        if not s.supervised and not selfsup:
            raise InputValueError(f"samples[{i}] has no ground-truth vertices and every "
                                  "self-supervised weight (w_flow, w_landmark, w_photometric) "
                                  "is 0: nothing to train on")
        if s.features.n_frames < 2:
            raise InputValueError(f"samples[{i}] has fewer than 2 frames")


def _resolve_device(device: Any, model: Any, world: int, local: int) -> torch.device:
    if device is not None:
        return check_device(device)
    if world > 1 and torch.cuda.is_available():
        return torch.device("cuda", local)
    return model.v_template.device


# ----------------------------------------------------------------------------- the loop
def train(
    samples: Sequence[TrainingSample],
    *,
    model: Any,
    config: TrainConfig = PRETRAIN_DEFAULTS,
    init: Any = None,
    phase: str = "train",
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    device: Any = None,
    progress: bool = False,
    callback: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train a :class:`~mxkit.nets.DynamicRefiner` on training samples.

    Parameters
    ----------
    samples : sequence of TrainingSample
        Built once per clip (:func:`mxkit.train.make_training_sample`).
    model : FaceModel
        The model the samples were built for (its expression basis and mesh are used).
    config : TrainConfig
    init : optional
        Starting weights: a :class:`TrainResult`, a :class:`DynamicRefiner`, a weights or
        checkpoint payload (dict) or its path. Default: new networks from ``config`` and
        ``config.seed``.
    phase : str
        Label stored in the history and the checkpoint.
    checkpoint : path, optional
        Training-checkpoint file, written atomically (rank 0 only).
    resume : bool
        Continue from ``checkpoint`` if it exists (its config must equal ``config``).
    device : torch.device or str, optional
        Where to train (default: the model's device; ``cuda:LOCAL_RANK`` under torchrun
        with CUDA). The samples and networks are copied there.
    progress : bool
        tqdm progress bar (rank 0).
    callback : callable, optional
        Called as ``callback(step, terms)`` after each step (1-based ``step``; plain floats).

    Returns
    -------
    TrainResult

    Raises
    ------
    InputValueError
        No samples, samples of another model, samples with nothing to train on.
    CheckpointError
        ``init`` or the checkpoint to resume from does not match the model or the config.
    """
    from torch.utils.data import DistributedSampler

    if not isinstance(config, TrainConfig):
        raise InputValueError(f"config must be a TrainConfig; got {type(config).__name__}")
    _check_samples(samples, model, config)
    world, rank, local = _dist_env()
    dev = _resolve_device(device, model, world, local)
    dtype = model.v_template.dtype

    gen = torch.Generator().manual_seed(int(config.seed))
    if init is None:
        refiner = DynamicRefiner.for_model(
            model, encoder=config.use_encoder, deformer=config.use_deformer,
            hidden=config.hidden, code_dim=config.code_dim, gru_hidden=config.gru_hidden,
            n_blocks=config.n_blocks, n_layers=config.n_layers, order=config.order,
            generator=gen)
    else:
        src = load_refiner(init, model=model, where="init")
        refiner = DynamicRefiner.from_meta(src.meta())
        refiner.load_state_dict(src.state_dict())
        if (refiner.encoder is not None) != config.use_encoder or \
                (refiner.deformer is not None) != config.use_deformer:
            raise CheckpointError(
                f"init has encoder={refiner.encoder is not None}, deformer="
                f"{refiner.deformer is not None}; config asks for encoder={config.use_encoder}, "
                f"deformer={config.use_deformer}")
    refiner = refiner.to(device=dev, dtype=dtype).train()

    optimizer = torch.optim.AdamW(refiner.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _Schedule(config.warmup_steps, config.steps, config.schedule,
                             config.min_lr_ratio))
    start, rows = 0, []
    ckpt_path = None if checkpoint is None else Path(checkpoint)
    if resume and ckpt_path is None:
        raise InputValueError("resume=True needs a checkpoint path")
    if resume and ckpt_path.is_file():
        payload = load_payload(ckpt_path, expected=(TRAIN_FORMAT,))
        check_topology(payload["meta"], model, refiner=refiner, where=str(ckpt_path))
        if payload.get("config") != config.to_dict():
            diff = {k: (payload.get("config", {}).get(k), v) for k, v in config.to_dict().items()
                    if payload.get("config", {}).get(k) != v}
            raise CheckpointError(f"{ckpt_path}: cannot resume with a different config "
                                  f"(checkpoint vs now: {diff})")
        refiner.load_state_dict(payload["networks"])
        optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["scheduler"])
        gen.set_state(payload["rng"])
        start = int(payload["step"])
        rows = [dict(r) for r in payload.get("history", [])]
        log.info("resumed %s from step %d", ckpt_path, start)

    graph = MeshGraph.from_model(model)
    basis = model.expr_basis.to(device=dev, dtype=dtype)
    objective = BatchObjective(
        refiner, expression_basis=basis,
        operator=graph.operator("chebyshev", dtype=dtype, device=dev)
        if refiner.deformer is not None else None,
        laplacian=graph.operator("uniform", dtype=dtype, device=dev),
        region_labels=torch.as_tensor(model.region_labels, device=dev),
        faces=graph.faces.to(dev), config=config,
        vertex_weights=torch.as_tensor(face_mask(model, "face"), dtype=dtype, device=dev))
    runner: Any = objective
    if world > 1:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel

        if not dist.is_initialized():
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        runner = DistributedDataParallel(
            objective, device_ids=[dev.index] if dev.type == "cuda" else None)
    data = [s.to(dev, dtype) for s in samples]

    sampler = DistributedSampler(range(len(data)), num_replicas=world, rank=rank,
                                 shuffle=True, seed=int(config.seed), drop_last=False)
    per_epoch = max(math.ceil(len(sampler) / config.batch_size), 1)
    bar = None
    if progress and rank == 0:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.steps, initial=start, desc=phase)
    order_epoch, order = -1, []
    for step in range(start, config.steps):
        epoch, pos = divmod(step, per_epoch)
        if epoch != order_epoch:
            sampler.set_epoch(epoch)
            order, order_epoch = list(sampler), epoch
        idx = order[pos * config.batch_size:(pos + 1) * config.batch_size]
        batch = [data[i] for i in idx]
        frames = [draw_frames(data[i], config.frames_per_clip,
                              _frame_generator(config.seed, step, i)) for i in idx]
        loss, terms = runner(batch, frames)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(refiner.parameters(), config.grad_clip)
        optimizer.step()
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        row = {"step": step + 1, "phase": phase, "lr": float(lr), "loss": float(loss.detach()),
               **{k: float(v) for k, v in terms.items()}}
        rows.append(row)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{row['loss']:.4g}")
        done = step + 1
        if ckpt_path is not None and rank == 0 and (
                done % config.checkpoint_every == 0 or done == config.steps):
            save_atomic(_checkpoint(refiner, optimizer, scheduler, gen, done, config, rows,
                                    phase), ckpt_path)
        if callback is not None:
            callback(done, {k: v for k, v in row.items() if k not in ("phase",)})
    if bar is not None:
        bar.close()
    final = DynamicRefiner.from_meta(refiner.meta())
    final.load_state_dict({k: v.detach().cpu() for k, v in refiner.state_dict().items()})
    final = final.to(dtype=torch.float32).eval()
    return TrainResult(final, TrainHistory(tuple(rows)), config, phase, ckpt_path)


def _checkpoint(refiner: DynamicRefiner, optimizer: Any, scheduler: Any,
                gen: torch.Generator, step: int, config: TrainConfig,
                rows: list[dict[str, Any]], phase: str) -> dict[str, Any]:
    return {"format": TRAIN_FORMAT, "version": _VERSION, "phase": phase, "step": int(step),
            "meta": refiner.meta(), "config": config.to_dict(),
            "networks": {k: v.detach().cpu().clone() for k, v in refiner.state_dict().items()},
            "optimizer": _cpu(optimizer.state_dict()), "scheduler": scheduler.state_dict(),
            "rng": gen.get_state(), "history": [dict(r) for r in rows]}


def _cpu(obj: Any) -> Any:
    if torch.is_tensor(obj):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: _cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu(v) for v in obj)
    return obj


def _check_expression_type(samples: Sequence[TrainingSample], want: str, fn: str) -> None:
    wrong = [i for i, s in enumerate(samples)
             if isinstance(s, TrainingSample) and s.expression_type not in (None, want)]
    if wrong:
        raise InputValueError(f"{fn} trains on {want} clips; samples {wrong[:5]} are "
                              f"{samples[wrong[0]].expression_type!r}")


def pretrain_macro(samples: Sequence[TrainingSample], *, model: Any,
                   config: TrainConfig = PRETRAIN_DEFAULTS, **options: Any) -> TrainResult:
    """Pretrain the refinement networks on macro-expression clips.

    Same as :func:`train` with ``phase="pretrain_macro"`` (options: ``init``,
    ``checkpoint``, ``resume``, ``device``, ``progress``, ``callback``); samples labelled
    ``expression_type="micro"`` are refused.
    """
    _check_expression_type(samples, "macro", "pretrain_macro")
    return train(samples, model=model, config=config, phase="pretrain_macro",
                 **_options(options))


def finetune_micro(samples: Sequence[TrainingSample], *, model: Any, init: Any,
                   config: TrainConfig = FINETUNE_DEFAULTS, **options: Any) -> TrainResult:
    """Fine-tune pretrained networks on micro-expression clips.

    Parameters
    ----------
    samples : sequence of TrainingSample
        Micro clips (samples labelled ``expression_type="macro"`` are refused).
    model : FaceModel
    init : TrainResult, DynamicRefiner, payload or path
        The pretrained weights (e.g. the result of :func:`pretrain_macro`); required (pass
        ``init=None`` explicitly to train from scratch, the "no pretraining" ablation).
    config : TrainConfig
        Default :data:`~mxkit.train.config.FINETUNE_DEFAULTS` (100 steps, lr 1e-3).
    **options
        ``checkpoint``, ``resume``, ``device``, ``progress``, ``callback`` of :func:`train`.
    """
    _check_expression_type(samples, "micro", "finetune_micro")
    return train(samples, model=model, config=config, init=init, phase="finetune_micro",
                 **_options(options))


def _options(options: dict[str, Any]) -> dict[str, Any]:
    allowed = {"init", "checkpoint", "resume", "device", "progress", "callback"}
    unknown = set(options) - allowed
    if unknown:
        raise InputValueError(f"unknown options {sorted(unknown)}; allowed: {sorted(allowed)}")
    return options

