"""Training configuration: one frozen dataclass of small defaults (change with ``replace``)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from .._checks import check_option
from ..errors import InputValueError

__all__ = ["TrainConfig", "PRETRAIN_DEFAULTS", "FINETUNE_DEFAULTS"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (with the seed and the samples).

    Loss units: with ``relative=True`` (default) every motion term is measured in units of
    the clip amplitude ``A`` (:mod:`mxkit.nets.features`): ``motion_l1 / A``, offsets
    ``/ A`` in the offset regularisers, flow consistency ``/ (A s_t)`` px, so macro and
    micro clips weigh the same; with ``relative=False`` they are in mm (vertex terms,
    offsets) and px (flow). Landmark reprojection is in units of the inter-ocular distance;
    photometric in intensity units [0, 1]; the expression prior in squared weights.

    Attributes
    ----------
    steps : int
        Optimiser steps.
    batch_size : int
        Clips per step and per process.
    frames_per_clip : int
        Frames drawn per clip and step (the apex and random others, never the onset).
    lr, weight_decay : float
        AdamW learning rate and decoupled weight decay.
    warmup_steps : int
        Linear warm-up of the learning rate.
    schedule : {"cosine", "constant"}
        After warm-up: cosine decay to ``min_lr_ratio * lr`` or constant.
    min_lr_ratio : float
    grad_clip : float
        Max global gradient norm (0 = off).
    seed : int
        Initial weights, clip order and frame draws derive from it.
    use_encoder, use_deformer : bool
        Which modules to train (the ablation variants), when no ``init`` is given.
    hidden, code_dim, gru_hidden, n_blocks, n_layers, order : int
        Network sizes (see :class:`mxkit.nets.DynamicRefiner.for_model`).
    w_motion : float
        Supervised displacement-since-onset L1 (needs ground-truth vertices).
    w_vertex : float
        Supervised vertex L1 after rigid alignment. Default 0: the aligned shapes also
        carry the coarse identity error, which the refinement cannot fix at the onset
        (offsets and residuals are 0 there), so this term pushes spurious motion into the
        other frames.
    w_landmark, w_flow, w_photometric : float
        Self-supervised terms (photometric is slow on a CPU; opt-in).
    w_laplacian, w_magnitude, w_region_mean : float
        Offset regularisers (uniform Laplacian smoothness, magnitude, zero mean per region).
    w_expression : float
        Prior on the expression residuals; ``expression_smooth`` weighs its temporal term.
    relative : bool
        Measure motion terms in units of the clip amplitude (see above).
    checkpoint_every : int
        Steps between checkpoints (when a checkpoint path is given); the last step is
        always written.
    """

    steps: int = 200
    batch_size: int = 2
    frames_per_clip: int = 4
    lr: float = 3e-3
    weight_decay: float = 0.0
    warmup_steps: int = 10
    schedule: Literal["cosine", "constant"] = "cosine"
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0
    use_encoder: bool = True
    use_deformer: bool = True
    hidden: int = 32
    code_dim: int = 16
    gru_hidden: int = 16
    n_blocks: int = 2
    n_layers: int = 3
    order: int = 3
    w_motion: float = 1.0
    w_vertex: float = 0.0
    w_landmark: float = 0.0
    w_flow: float = 0.1
    w_photometric: float = 0.0
    w_laplacian: float = 1.0
    w_magnitude: float = 0.01
    w_region_mean: float = 0.01
    w_expression: float = 1e-3
    expression_smooth: float = 1.0
    relative: bool = True
    checkpoint_every: int = 50

    def __post_init__(self) -> None:
        ints = ("steps", "batch_size", "frames_per_clip", "warmup_steps", "seed", "hidden",
                "code_dim", "gru_hidden", "n_blocks", "n_layers", "order", "checkpoint_every")
        for name in ints:
            v = getattr(self, name)
            lo = 0 if name in ("warmup_steps", "seed", "n_blocks", "n_layers", "steps") else 1
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise InputValueError(f"TrainConfig.{name} must be an integer >= {lo}; got {v!r}")
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name.startswith("w_") or f.name in ("lr", "weight_decay", "min_lr_ratio",
                                                     "grad_clip", "expression_smooth"):
                if isinstance(v, bool) or not isinstance(v, (int, float)) \
                        or not math.isfinite(v) or v < 0:
                    raise InputValueError(f"TrainConfig.{f.name} must be a finite number >= 0; "
                                          f"got {v!r}")
        if self.lr <= 0:
            raise InputValueError(f"TrainConfig.lr must be > 0; got {self.lr}")
        check_option(self.schedule, ("cosine", "constant"), "schedule")
        if not (self.use_encoder or self.use_deformer):
            raise InputValueError("TrainConfig: use_encoder and use_deformer cannot both be False")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (what checkpoints store)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict` (unknown keys raise)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise InputValueError(f"unknown TrainConfig fields {sorted(unknown)}")
        return cls(**d)


#: defaults of :func:`mxkit.train.pretrain_macro`
PRETRAIN_DEFAULTS = TrainConfig()
#: defaults of :func:`mxkit.train.finetune_micro`: fewer steps, lower learning rate
FINETUNE_DEFAULTS = TrainConfig(steps=100, lr=1e-3, warmup_steps=0)
