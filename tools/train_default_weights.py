"""Train mxkit's default reconstruction weights (``mxkit/assets/reconstruct_v1.pt``) on SynthME.

Recipe (all seeded; rerunning with the same arguments rebuilds the same data and, on the
same machine and thread count, the same weights):

1. generate the SynthME training set (``preset="small"`` at 256 px, seed ``--seed``,
   ``--subjects`` subjects with 2 micro + 3 macro clips each; training subjects only --
   ``benchmarks/bench_accuracy.py`` evaluates on other subjects drawn with another seed);
2. prepare every clip once (:func:`mxkit.prepare`, :data:`mxkit.reconstruct.DEFAULT_PREPARE`:
   dlib landmarks, DIS flow, 192 px crops) and fit the ``smoothed`` coarse base
   (:data:`mxkit.reconstruct.DEFAULT_FIT`);
3. for each network variant: ``encoder``, ``deformer`` and ``full`` are pretrained on the
   macro clips (:func:`mxkit.train.pretrain_macro`) and fine-tuned on the micro clips
   (:func:`mxkit.train.finetune_micro`); ``full_no_pretrain`` is trained on the micro clips
   alone for as many steps as pretraining and fine-tuning together;
4. write the weights bundle atomically (one network set per variant, the fit / prepare
   settings and a provenance record) and print a PROVENANCE.md section.

``--validate K`` keeps the last ``K`` training subjects out of training and reports their
micro-motion error per variant: use it to choose settings without touching the benchmark's
held-out subjects. ``--quick`` is a smoke run (tiny data, a few steps, written elsewhere).

Usage::

    .venv/bin/python tools/train_default_weights.py                  # -> mxkit/assets/reconstruct_v1.pt
    .venv/bin/python tools/train_default_weights.py --validate 2 --out /tmp/w.pt
    .venv/bin/python tools/train_default_weights.py --quick --out /tmp/w.pt
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_OUT = ROOT / "mxkit" / "assets" / "reconstruct_v1.pt"
DEFAULT_WORK = Path(os.environ.get("MXKIT_CACHE_DIR", Path.home() / ".cache" / "mxkit")) \
    / "train_default_weights"

#: the training data: SynthME "small" (256 px), 2 micro + 3 macro clips per subject
DATA = {"preset": "small", "kind": "both", "micro": 2, "macro": 3}
#: network sizes and optimisation of both phases (see mxkit.train.TrainConfig)
NETWORK = {"hidden": 32, "code_dim": 16, "gru_hidden": 16, "n_blocks": 2, "n_layers": 3,
           "order": 3}
PRETRAIN = {"steps": 300, "batch_size": 2, "frames_per_clip": 4, "lr": 3e-3,
            "warmup_steps": 20}
FINETUNE = {"steps": 200, "batch_size": 2, "frames_per_clip": 4, "lr": 1e-3,
            "warmup_steps": 0}
QUICK = {"steps": 3}


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _samples(args: argparse.Namespace, model: Any) -> tuple[list[Any], dict[str, Any]]:
    """SynthME clips -> prepared -> coarse fits -> TrainingSamples (cached in --work)."""
    import torch

    from mxkit.data.synth.truth import TRUTH_FORMAT
    from mxkit.reconstruct import DEFAULT_FIT, DEFAULT_PREPARE
    from mxkit.train.synthme import prepare_clips, synthme_dataset, synthme_samples

    data = dict(DATA, n_subjects=args.subjects, seed=args.seed)
    if args.quick:
        data.update(preset="tiny", n_subjects=2, micro=1, macro=1)
    key = hashlib.sha256(json.dumps([data, DEFAULT_PREPARE, DEFAULT_FIT], sort_keys=True)
                         .encode()).hexdigest()[:12]
    work = Path(args.work) / key
    cache = work / "samples.pt"
    info = {"synthme": {**data, "truth_format": TRUTH_FORMAT}, "prepare": dict(DEFAULT_PREPARE),
            "fit": dict(DEFAULT_FIT)}
    if cache.is_file():
        _log(f"samples from {cache}")
        return torch.load(cache, weights_only=False), info
    t0 = time.perf_counter()
    clips = list(synthme_dataset(work / "synthme", progress=args.progress, **{
        k: v for k, v in data.items()}))
    _log(f"SynthME: {len(clips)} clips in {time.perf_counter() - t0:.0f} s")
    prepared = prepare_clips(clips, cache_dir=work / "prepared", workers=args.workers,
                             progress=args.progress, **DEFAULT_PREPARE)
    _log(f"prepared in {time.perf_counter() - t0:.0f} s")
    samples = synthme_samples(clips, prepared, model, fit_options=DEFAULT_FIT,
                              progress=args.progress)
    _log(f"samples in {time.perf_counter() - t0:.0f} s")
    from mxkit.train import save_atomic

    save_atomic(samples, cache)
    return samples, info


def _configs(args: argparse.Namespace, encoder: bool, deformer: bool) -> tuple[Any, Any, Any]:
    from mxkit.train import TrainConfig

    pre = dict(PRETRAIN, **NETWORK, seed=args.seed, use_encoder=encoder, use_deformer=deformer)
    fine = dict(FINETUNE, **NETWORK, seed=args.seed, use_encoder=encoder, use_deformer=deformer)
    if args.quick:
        pre.update(QUICK)
        fine.update(QUICK)
    scratch = dict(pre, steps=pre["steps"] + fine["steps"])
    return TrainConfig(**pre), TrainConfig(**fine), TrainConfig(**scratch)


def _evaluate(results: dict[str, Any], clips: list[Any], model: Any) -> dict[str, float]:
    """Mean micro-motion L1 (mm) of every variant on validation samples (from their features)."""
    import numpy as np
    import torch

    from mxkit.eval.reconstruction import face_mask, micro_motion_error
    from mxkit.nets import MeshGraph
    from mxkit.reconstruct import coarse_fit

    mask = face_mask(model, "face")
    op = MeshGraph.from_model(model).operator("chebyshev")
    out: dict[str, list[float]] = {}
    for s in clips:
        f, gt = s.features, s.target_vertices.numpy()
        kw = dict(onset=f.onset, apex=f.apex, kind="l1", mask=mask)
        still = np.repeat(gt[f.onset][None], len(gt), 0)
        out.setdefault("zero", []).append(micro_motion_error(still, gt, **kw))
        static = coarse_fit(f.landmarks_px, model, variant="static").vertices
        out.setdefault("static", []).append(micro_motion_error(static.numpy(), gt, **kw))
        out.setdefault("smoothed", []).append(micro_motion_error(f.coarse_vertices.numpy(), gt,
                                                                 **kw))
        for name, res in results.items():
            with torch.no_grad():
                v = res.refiner(f, model.expr_basis, op).vertices
            out.setdefault(name, []).append(micro_motion_error(v.numpy(), gt, **kw))
    return {k: float(np.mean(v)) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK,
                        help="data and sample cache (reused when the settings match)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="prepare worker processes")
    parser.add_argument("--validate", type=int, default=0, metavar="K",
                        help="hold the last K training subjects out and report their error")
    parser.add_argument("--variants", nargs="*", default=None,
                        help="train only these variants (default: all)")
    parser.add_argument("--quick", action="store_true", help="smoke run (tiny data, 3 steps)")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    if args.quick and args.out == DEFAULT_OUT:
        parser.error("--quick must not overwrite the packaged weights: pass --out")

    import torch

    import mxkit
    from mxkit.morph import load_face_model
    from mxkit.reconstruct import NETWORK_VARIANTS, weights_bundle
    from mxkit.train import finetune_micro, pretrain_macro, save_atomic

    t_start = time.perf_counter()
    model = load_face_model("mh-head")
    samples, info = _samples(args, model)
    subjects = sorted({s.key[1] for s in samples})
    held = set(subjects[len(subjects) - args.validate:]) if args.validate else set()
    train_set = [s for s in samples if s.key[1] not in held]
    valid = [s for s in samples if s.key[1] in held and s.kind == "micro"]
    macro = [s for s in train_set if s.kind == "macro"]
    micro = [s for s in train_set if s.kind == "micro"]
    _log(f"training on {len(macro)} macro + {len(micro)} micro clips of "
         f"{len(subjects) - len(held)} subjects; validating on {len(valid)} micro clips")

    results, history = {}, {}
    names = args.variants or list(NETWORK_VARIANTS)
    for name in names:
        enc, dfm = NETWORK_VARIANTS[name]
        pre_cfg, fine_cfg, scratch_cfg = _configs(args, enc, dfm)
        t0 = time.perf_counter()
        if name == "full_no_pretrain":
            res = finetune_micro(micro, model=model, init=None, config=scratch_cfg,
                                 progress=args.progress)
            history[name] = {"micro": res.history.summary()}
        else:
            pre = pretrain_macro(macro, model=model, config=pre_cfg, progress=args.progress)
            res = finetune_micro(micro, model=model, init=pre, config=fine_cfg,
                                 progress=args.progress)
            history[name] = {"macro": pre.history.summary(), "micro": res.history.summary()}
        results[name] = res
        _log(f"{name}: {time.perf_counter() - t0:.0f} s, {history[name]}")
    metrics = _evaluate(results, valid, model) if valid else {}
    if metrics:
        _log("validation micro-motion L1 (mm): " + ", ".join(f"{k} {v:.4f}"
                                                             for k, v in metrics.items()))
    command = "python tools/train_default_weights.py " + " ".join(argv if argv is not None
                                                                 else sys.argv[1:])
    provenance = {
        "command": command.strip(), "seed": args.seed, "mxkit_version": mxkit.__version__,
        "torch": str(torch.__version__), "torch_threads": torch.get_num_threads(), "data": info, "held_out_validation_subjects": sorted(held),
        "n_train_clips": {"macro": len(macro), "micro": len(micro)},
        "pretrain": dataclasses.asdict(_configs(args, True, True)[0]),
        "finetune": dataclasses.asdict(_configs(args, True, True)[1]),
        "training": history, "validation_micro_motion_l1_mm": metrics,
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    bundle = weights_bundle(results, model_name=model.name, fit=info["fit"],
                            prepare=info["prepare"], provenance=provenance)
    path = save_atomic(bundle, args.out)
    size = path.stat().st_size
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    _log(f"wrote {path} ({size / 1024:.0f} KiB, sha256 {digest})")
    print(json.dumps({"sha256": digest, "bytes": size, **provenance}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
