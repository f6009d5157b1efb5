"""The training recipe of mxkit's default reconstruction weights, importable.

``tools/train_default_weights.py`` (which builds ``mxkit/assets/reconstruct_v1.pt``) and
``mxkit train`` (:mod:`mxkit.cli`) both call :func:`train_weights`. The recipe (all seeded;
rerunning with the same arguments rebuilds the same data and, on the same machine and thread
count, the same weights):

1. generate the SynthME training set (:data:`DATA`: ``preset="small"`` at 256 px, seed
   ``seed``, ``subjects`` subjects with 2 micro + 3 macro clips each; training subjects only
   -- ``benchmarks/bench_accuracy.py`` and ``mxkit evaluate`` evaluate on other subjects, drawn
   with another seed);
2. prepare every clip once (:func:`mxkit.prepare`, :data:`mxkit.workflows.DEFAULT_PREPARE`:
   dlib landmarks, DIS flow, 192 px crops) and fit the ``smoothed`` coarse base
   (:data:`mxkit.workflows.DEFAULT_FIT`); the training samples are cached in ``work``;
3. for each network variant: ``encoder``, ``deformer`` and ``full`` are pretrained on the
   macro clips (:func:`mxkit.train.pretrain_macro`, :data:`PRETRAIN`) and fine-tuned on the
   micro clips (:func:`mxkit.train.finetune_micro`, :data:`FINETUNE`); ``full_no_pretrain`` is
   trained on the micro clips alone for as many steps as pretraining and fine-tuning together;
   network sizes :data:`NETWORK`;
4. write the weights bundle atomically (one network set per variant, the fit / prepare
   settings and a provenance record).

``validate=K`` keeps the last ``K`` training subjects out of training and reports their
micro-motion and vertex errors per variant (:func:`validation_table`; to choose settings
without touching any held-out set; ``tools/select_fit_settings.py`` cross-validates over all
training subjects). ``fit=`` changes the coarse base the networks are trained on.
``quick=True`` is a smoke run, not a model to use: tiny data (:data:`QUICK_DATA`: 1 subject,
1 short micro + 1 short macro clip), :data:`QUICK` steps and a 2-iteration coarse fit
(:data:`QUICK_FIT`, recorded in the bundle).

Checkpoints and resuming: every training phase of every variant writes an atomic training
checkpoint (:func:`mxkit.train.train`: networks, optimiser, scheduler, generator state, step,
history; every ``checkpoint_every`` steps and at the end) under
``work/<data>/checkpoints-<run>/<variant>-<phase>.pt``, where ``<run>`` is a digest of
everything the training depends on (coarse-fit settings, seed, quick, held-out subjects,
variants' configs). ``resume=True`` (``mxkit train --resume``) continues each phase from its
checkpoint, so the final weights are bit-identical to an uninterrupted run (same machine and
thread count); finished phases are read back instead of retrained. Without ``resume`` the
checkpoints are rewritten from step 0.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._checks import check_option
from .._io import cache_dir, display_path
from ..errors import CacheError, InputValueError
from ..nets.variants import NETWORK_VARIANTS
from ..train.checkpoint import save_atomic
from ..train.sample import load_samples, save_samples
from .reconstruct import coarse_fit
from .synthme import prepare_clips, synthme_dataset, synthme_samples
from .weights import DEFAULT_FIT, DEFAULT_PREPARE, weights_bundle

__all__ = ["DATA", "NETWORK", "PRETRAIN", "FINETUNE", "QUICK", "QUICK_DATA", "QUICK_FIT", "default_work",
           "TrainedWeights", "recipe_samples", "recipe_configs", "validation_table", "validation_errors",
           "train_variant", "train_weights"]

log = logging.getLogger(__name__)

#: The training data: SynthME "small" (256 px), 2 micro + 3 macro clips per subject.
DATA: dict[str, Any] = {"preset": "small", "expression_type": "both", "micro": 2, "macro": 3}
#: Network sizes (see :class:`mxkit.train.TrainConfig`).
NETWORK: dict[str, Any] = {"hidden": 32, "code_dim": 16, "gru_hidden": 16, "n_blocks": 2, "n_layers": 3,
                           "order": 3}
#: Optimisation of the macro pretraining phase.
PRETRAIN: dict[str, Any] = {"steps": 300, "batch_size": 2, "frames_per_clip": 4, "lr": 3e-3,
                            "warmup_steps": 20}
#: Optimisation of the micro fine-tuning phase.
FINETUNE: dict[str, Any] = {"steps": 200, "batch_size": 2, "frames_per_clip": 4, "lr": 1e-3,
                            "warmup_steps": 0}
#: Overrides of both phases in a quick (smoke) run (a checkpoint after every step, so an
#: interrupted quick run exercises ``resume`` at every step).
QUICK: dict[str, Any] = {"steps": 3, "checkpoint_every": 1}
#: Overrides of :data:`DATA` in a quick run: 1 tiny subject, 1 micro + 1 macro clip,
#: shortened to 0.1 s / 0.15 s (about 30 frames at 200 fps).
QUICK_DATA: dict[str, Any] = {"preset": "tiny", "n_subjects": 1, "micro": 1, "macro": 1,
                              "micro_s": (0.1, 0.1), "macro_s": (0.15, 0.15)}
#: Coarse-fit overrides in a quick run (2 Gauss-Newton iterations: a smoke test, not a fit).
QUICK_FIT: dict[str, Any] = {"n_iters": 2}
#: Default data and sample cache (``$MXKIT_CACHE_DIR`` or ``~/.cache/mxkit``, then
#: ``train_default_weights``).
def default_work() -> Path:
    """The default data and sample cache: ``cache_dir("train_default_weights")``
    (``$MXKIT_CACHE_DIR`` or ``~/.cache/mxkit``, read at call time)."""
    return cache_dir("train_default_weights")


@dataclass(frozen=True)
class TrainedWeights:
    """What :func:`train_weights` wrote.

    Attributes
    ----------
    path : Path
        The weights bundle.
    sha256 : str
    bytes : int
    provenance : dict
        The record stored in the bundle (command, seed, data, configs, training history,
        validation errors, seconds).
    """

    path: Path
    sha256: str
    bytes: int
    provenance: dict[str, Any] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, Any]:
        """``path``, ``sha256``, ``bytes``, ``seconds`` and the validation errors (if any)."""
        return {"path": str(self.path), "sha256": self.sha256, "bytes": self.bytes,
                "seconds": self.provenance.get("seconds"),
                "validation_micro_motion_l1_mm": self.provenance.get("validation_micro_motion_l1_mm", {}),
                "validation_vertex_l1_mm": self.provenance.get("validation_vertex_l1_mm", {})}


def _say(log_fn: Callable[[str], None] | None, msg: str) -> None:
    (log_fn or log.info)(msg)


def _data_root(work: str | os.PathLike | None, data: dict[str, Any]) -> Path:
    """``work/<digest of the data and prepare settings>``: the data, prepared clips, samples and
    checkpoints of one training set."""
    return Path(work if work is not None else default_work()) / _digest([data, DEFAULT_PREPARE])


def _recipe_data(*, seed: int, subjects: int, preset: str, quick: bool,
                 fit: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    data = dict(DATA, preset=preset, n_subjects=int(subjects), seed=int(seed))
    fit = {**DEFAULT_FIT, **(fit or {})}
    if quick:
        data.update(QUICK_DATA)
        fit.update(QUICK_FIT)
    return data, fit


def recipe_samples(model: Any, *, seed: int = 0, subjects: int = 8, preset: str = DATA["preset"],
                   quick: bool = False, fit: dict[str, Any] | None = None,
                   work: str | os.PathLike | None = None, workers: int | None = 2, progress: bool = False,
                   log_fn: Callable[[str], None] | None = None) -> tuple[list[Any], dict[str, Any]]:
    """SynthME clips -> prepared -> coarse fits -> TrainingSamples, cached under ``work``.

    ``fit`` updates :data:`mxkit.workflows.DEFAULT_FIT` (the coarse base the networks are
    trained on, recorded in the bundle). The data and prepared clips are cached per data and
    prepare settings, the samples per coarse-fit settings, so trying another fit reuses them.
    ``work`` defaults to :func:`default_work`. The samples file holds tensors and plain values
    only (:func:`mxkit.train.save_samples`), so it is read without unpickling; a damaged one is
    rebuilt.

    Returns
    -------
    samples : list of TrainingSample
    info : dict
        ``synthme`` (the data options and truth format), ``prepare``, ``fit``.
    """
    from ..data.synth.truth import TRUTH_FORMAT

    data, fit = _recipe_data(seed=seed, subjects=subjects, preset=preset, quick=quick, fit=fit)
    root = _data_root(work, data)
    cache = root / f"samples-{_digest(fit)}.samples.pt"
    info = {"synthme": {**data, "truth_format": TRUTH_FORMAT}, "prepare": dict(DEFAULT_PREPARE), "fit": fit}
    if cache.is_file():
        try:
            samples = load_samples(cache)
        except CacheError as exc:
            _say(log_fn, f"rebuilding damaged samples file {display_path(cache)} ({exc})")
        else:
            _say(log_fn, f"samples from {display_path(cache)}")
            return samples, info
    t0 = time.perf_counter()
    clips = list(synthme_dataset(root / "synthme", progress=progress, **data))
    _say(log_fn, f"SynthME: {len(clips)} clips in {time.perf_counter() - t0:.0f} s")
    prepared = prepare_clips(clips, cache_dir=root / "prepared", workers=workers, progress=progress,
                             **DEFAULT_PREPARE)
    _say(log_fn, f"prepared in {time.perf_counter() - t0:.0f} s")
    samples = synthme_samples(clips, prepared, model, fit_options=fit, progress=progress)
    _say(log_fn, f"samples in {time.perf_counter() - t0:.0f} s")
    save_samples(samples, cache)
    return samples, info


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def recipe_configs(*, seed: int = 0, encoder: bool = True, deformer: bool = True,
                   quick: bool = False) -> tuple[Any, Any, Any]:
    """The :class:`~mxkit.train.TrainConfig` of pretraining, fine-tuning and training from scratch."""
    from ..train.config import TrainConfig

    pre = dict(PRETRAIN, **NETWORK, seed=seed, use_encoder=encoder, use_deformer=deformer)
    fine = dict(FINETUNE, **NETWORK, seed=seed, use_encoder=encoder, use_deformer=deformer)
    if quick:
        pre.update(QUICK)
        fine.update(QUICK)
    scratch = dict(pre, steps=pre["steps"] + fine["steps"])
    return TrainConfig(**pre), TrainConfig(**fine), TrainConfig(**scratch)


def validation_table(results: dict[str, Any], samples: Sequence[Any], model: Any, *,
                     fit_options: dict[str, Any] | None = None,
                     baselines: Sequence[str] = ("zero", "static", "smoothed")) -> Any:
    """Errors of every variant on validation samples (from their features), one row per clip.

    ``baselines`` are scored too: ``zero`` (predicting no motion), ``static`` (the per-frame
    coarse fit of the samples' landmarks, with ``fit_options``) and ``smoothed`` (the samples'
    coarse base).

    Returns
    -------
    pandas.DataFrame
        Columns ``clip``, ``variant`` (``zero`` = predicting no motion, ``static``,
        ``smoothed`` and each trained variant), ``micro_motion_l1_mm`` (apex - onset
        displacement L1) and ``vertex_l1_mm`` (after per-frame rigid alignment), both on the
        evaluation's ``face`` mask.
    """
    import numpy as np
    import pandas as pd
    import torch

    from ..eval.reconstruction import micro_motion_error, vertex_errors
    from ..morph import face_mask
    from ..nets import MeshGraph

    for name in baselines:
        check_option(name, ("zero", "static", "smoothed"), "baselines")
    mask = face_mask(model, "face")
    op = MeshGraph.from_model(model).operator("chebyshev")
    rows = []
    for s in samples:
        f, gt = s.features, s.target_vertices.numpy()
        preds = {}
        for name in baselines:
            if name == "zero":
                preds[name] = np.repeat(gt[f.onset][None], len(gt), 0)
            elif name == "static":
                preds[name] = coarse_fit(f.landmarks_px, model, variant="static",
                                         fit_options=fit_options).vertices.numpy()
            else:
                preds[name] = f.coarse_vertices.numpy()
        for name, res in results.items():
            with torch.no_grad():
                preds[name] = res.refiner(f, model.expr_basis, op).vertices.numpy()
        for name, v in preds.items():
            rows.append({"clip": "/".join(map(str, s.key)), "variant": name,
                         "micro_motion_l1_mm": micro_motion_error(v, gt, onset=f.onset, apex=f.apex,
                                                                  norm="l1", mask=mask),
                         "vertex_l1_mm": vertex_errors(v, gt, align="frame", mask=mask)["vertex_l1"]})
    return pd.DataFrame(rows, columns=["clip", "variant", "micro_motion_l1_mm", "vertex_l1_mm"])


def validation_errors(results: dict[str, Any], samples: Sequence[Any], model: Any, *,
                      fit_options: dict[str, Any] | None = None,
                      baselines: Sequence[str] = ("zero", "static", "smoothed")) -> dict[str, float]:
    """Mean micro-motion L1 (mm) of every variant on validation samples (see :func:`validation_table`).

    Keys: the ``baselines`` and each trained variant.
    """
    table = validation_table(results, samples, model, fit_options=fit_options, baselines=baselines)
    means = table.groupby("variant", sort=False)["micro_motion_l1_mm"].mean()
    return {str(k): float(v) for k, v in means.items()}


def train_variant(name: str, samples: Sequence[Any], model: Any, *, seed: int = 0, quick: bool = False,
                  progress: bool = False, checkpoints: str | os.PathLike | None = None,
                  resume: bool = False) -> tuple[Any, dict[str, Any]]:
    """Train one network variant with the recipe (step 3 of the module docstring).

    ``samples`` holds the training subjects' macro and micro samples. With ``checkpoints`` (a
    folder), each phase writes ``<name>-pretrain.pt`` / ``<name>-finetune.pt`` there while it
    trains, and ``resume=True`` continues from them (see the module docstring). Returns the
    :class:`~mxkit.train.TrainResult` and the loss summary of each phase.
    """
    from ..train.loop import finetune_micro, pretrain_macro

    check_option(name, tuple(NETWORK_VARIANTS), "variant")
    enc, dfm = NETWORK_VARIANTS[name]
    pre_cfg, fine_cfg, scratch_cfg = recipe_configs(seed=seed, encoder=enc, deformer=dfm, quick=quick)
    macro = [s for s in samples if s.expression_type == "macro"]
    micro = [s for s in samples if s.expression_type == "micro"]

    def ckpt(phase: str) -> dict[str, Any]:
        if checkpoints is None:
            return {}
        return {"checkpoint": Path(checkpoints) / f"{name}-{phase}.pt", "resume": bool(resume)}

    if name == "full_no_pretrain":
        res = finetune_micro(micro, model=model, init=None, config=scratch_cfg, progress=progress,
                             **ckpt("finetune"))
        return res, {"micro": res.history.summary()}
    pre = pretrain_macro(macro, model=model, config=pre_cfg, progress=progress, **ckpt("pretrain"))
    res = finetune_micro(micro, model=model, init=pre, config=fine_cfg, progress=progress, **ckpt("finetune"))
    return res, {"macro": pre.history.summary(), "micro": res.history.summary()}


def train_weights(out: str | os.PathLike, *, seed: int = 0, subjects: int = 8, preset: str = DATA["preset"],
                  workers: int | None = 2,
                  validate: int = 0, variants: Sequence[str] | None = None, quick: bool = False,
                  fit: dict[str, Any] | None = None, work: str | os.PathLike | None = None,
                  progress: bool = False, command: str | None = None,
                  log_fn: Callable[[str], None] | None = None, resume: bool = False) -> TrainedWeights:
    """Train the reconstruction networks on SynthME with the recipe of the module docstring.

    Parameters
    ----------
    out : path-like
        The weights bundle to write (atomically; parent folders created).
    seed : int, default 0
        SynthME seed and training seed.
    subjects : int, default 8
        SynthME subjects (ignored by ``quick``).
    preset : str, default 'small'
        SynthME preset of the training data (ignored by ``quick``).
    workers : int, optional
        Prepare worker processes.
    validate : int, default 0
        Keep the last ``validate`` subjects out of training and report their micro-motion error.
    variants : sequence of str, optional
        Network variants to train (default all of :data:`mxkit.nets.NETWORK_VARIANTS`).
    quick : bool
        Smoke run (see the module docstring).
    fit : dict, optional
        Coarse-fit options updating :data:`mxkit.workflows.DEFAULT_FIT` (recorded in the
        bundle, so :func:`mxkit.reconstruct` fits the same base by default).
    work : path-like
        Data and sample cache, reused when the settings match.
    progress : bool
    command : str, optional
        The command line recorded in the provenance (default ``'mxkit.workflows.recipe.train_weights'``).
    log_fn : callable str -> None, optional
        Where progress messages go (default: this module's logger, level INFO).
    resume : bool, default False
        Continue an interrupted run from its checkpoints under ``work`` (bit-identical final
        weights; see the module docstring); without checkpoints it starts from step 0.

    Returns
    -------
    TrainedWeights

    Raises
    ------
    InputValueError
        Bad ``subjects`` / ``validate`` (every subject held out, or none left to train on).
    OptionError
        An unknown variant.
    """
    import torch

    from .._version import __version__
    from ..morph import load_face_model

    names = list(variants) if variants else list(NETWORK_VARIANTS)
    for name in names:
        check_option(name, tuple(NETWORK_VARIANTS), "variants")
    if int(subjects) < 1 or int(validate) < 0:
        raise InputValueError(f"subjects must be >= 1 and validate >= 0; got {subjects}, {validate}")
    t_start = time.perf_counter()
    model = load_face_model("mh-head")
    samples, info = recipe_samples(model, seed=seed, subjects=subjects, preset=preset, quick=quick, fit=fit,
                                   work=work, workers=workers, progress=progress, log_fn=log_fn)
    subject_ids = sorted({s.key[1] for s in samples})
    if validate >= len(subject_ids):
        raise InputValueError(f"validate={validate} holds out all {len(subject_ids)} subjects")
    held = set(subject_ids[len(subject_ids) - validate:]) if validate else set()
    train_set = [s for s in samples if s.key[1] not in held]
    valid = [s for s in samples if s.key[1] in held and s.expression_type == "micro"]
    data, _ = _recipe_data(seed=seed, subjects=subjects, preset=preset, quick=quick, fit=fit)
    run = {"fit": info["fit"], "seed": int(seed), "quick": bool(quick), "held_out": sorted(held),
           "configs": {n: [c.to_dict() for c in recipe_configs(seed=seed, encoder=NETWORK_VARIANTS[n][0],
                                                               deformer=NETWORK_VARIANTS[n][1], quick=quick)]
                       for n in names}}
    checkpoints = _data_root(work, data) / f"checkpoints-{_digest(run)}"
    if resume:
        found = sorted(p.name for p in checkpoints.glob("*.pt")) if checkpoints.is_dir() else []
        _say(log_fn, f"resuming from {display_path(checkpoints)}: {', '.join(found)}" if found else
             f"no checkpoints to resume in {display_path(checkpoints)}; training from step 0")
    macro = [s for s in train_set if s.expression_type == "macro"]
    micro = [s for s in train_set if s.expression_type == "micro"]
    _say(log_fn, f"training on {len(macro)} macro + {len(micro)} micro clips of "
         f"{len(subject_ids) - len(held)} subjects; validating on {len(valid)} micro clips")

    results, history = {}, {}
    for name in names:
        t0 = time.perf_counter()
        results[name], history[name] = train_variant(name, train_set, model, seed=seed, quick=quick,
                                                     progress=progress, checkpoints=checkpoints, resume=resume)
        _say(log_fn, f"{name}: {time.perf_counter() - t0:.0f} s, {history[name]}")
    metrics, vertex = {}, {}
    if valid:
        table = validation_table(results, valid, model, fit_options=info["fit"])
        means = table.groupby("variant", sort=False)[["micro_motion_l1_mm", "vertex_l1_mm"]].mean()
        metrics = {str(k): float(v) for k, v in means["micro_motion_l1_mm"].items()}
        vertex = {str(k): float(v) for k, v in means["vertex_l1_mm"].items()}
        _say(log_fn, "validation micro-motion L1 (mm): " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        _say(log_fn, "validation vertex L1 (mm): " + ", ".join(f"{k} {v:.3f}" for k, v in vertex.items()))
    provenance = {
        "command": (command or "mxkit.workflows.recipe.train_weights").strip(), "seed": seed,
        "mxkit_version": __version__, "torch": str(torch.__version__), "torch_threads": torch.get_num_threads(),
        "data": info, "held_out_validation_subjects": sorted(held),
        "n_train_clips": {"macro": len(macro), "micro": len(micro)},
        "pretrain": dataclasses.asdict(recipe_configs(seed=seed, quick=quick)[0]),
        "finetune": dataclasses.asdict(recipe_configs(seed=seed, quick=quick)[1]),
        "training": history, "validation_micro_motion_l1_mm": metrics, "validation_vertex_l1_mm": vertex,
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    if quick:
        provenance["quick"] = True
    bundle = weights_bundle(results, model_name=model.name, fit=info["fit"], prepare=info["prepare"],
                            provenance=provenance)
    path = save_atomic(bundle, out)
    size = path.stat().st_size
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    _say(log_fn, f"wrote {path} ({size / 1024:.0f} KiB, sha256 {digest})")
    return TrainedWeights(path=Path(path), sha256=digest, bytes=size, provenance=provenance)
