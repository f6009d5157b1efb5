"""Training of the refinement networks: losses, samples, loops and checkpoints.

* :mod:`.losses` -- pure loss functions (vertex / motion L1, landmark reprojection, flow
  consistency, photometric warping, regularisers).
* :class:`TrainingSample` (:func:`make_training_sample`) -- a clip's inputs and targets,
  built once.
* :func:`pretrain_macro`, :func:`finetune_micro`, :func:`train` -- plain training loops
  with a :class:`TrainConfig`, resumable atomic checkpoints and ``torchrun`` support;
  they return a :class:`TrainResult` with a :class:`TrainHistory`.
* :func:`load_refiner`, :func:`save_atomic` -- weights and checkpoint files.
"""

from . import losses
from .checkpoint import check_topology, load_payload, load_refiner, save_atomic, weights_payload
from .config import FINETUNE_DEFAULTS, PRETRAIN_DEFAULTS, TrainConfig
from .loop import TrainHistory, TrainResult, finetune_micro, pretrain_macro, train
from .objective import clip_loss, draw_frames
from .sample import (
    SAMPLES_FORMAT,
    TrainingSample,
    load_samples,
    make_training_sample,
    save_samples,
    training_sample_from_tensors,
)

__all__ = [
    "losses",
    "TrainConfig", "PRETRAIN_DEFAULTS", "FINETUNE_DEFAULTS",
    "TrainingSample", "make_training_sample", "training_sample_from_tensors",
    "SAMPLES_FORMAT", "save_samples", "load_samples",
    "train", "pretrain_macro", "finetune_micro", "TrainHistory", "TrainResult",
    "clip_loss", "draw_frames",
    "load_refiner", "save_atomic", "load_payload", "weights_payload", "check_topology",
]
