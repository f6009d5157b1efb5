"""Benchmark of mxkit.train: optimiser steps per second of the refinement networks, per device.

Workload: two SynthME micro-expression clips of 60 frames (256 px, 200 fps; see
``benchmarks/_common.py``), prepared with the packaged weights' options and DIS flow,
coarse-fitted (``smoothed``), turned into training samples with their 3D ground truth
(:func:`mxkit.train.make_training_sample`, frames kept for the photometric term). Then
:func:`mxkit.train.train` runs a few steps of the micro fine-tuning configuration
(:data:`~mxkit.train.FINETUNE_DEFAULTS`: batch of 2 clips, 4 frames per clip, AdamW) on
``device`` for each module combination of the ablation (encoder + deformer, encoder only,
deformer only), and for the full networks with the photometric term (pytorch3d
rasterization of every drawn frame: slow on a CPU, so fewer steps there).

The time of a step is read between consecutive ``callback`` calls (the first step, which
includes building the networks, the graph operators and moving the samples to the device, is
left out; the device is synchronised before each reading). Reported: the median seconds per
step, steps/s and frames/s (steps/s x clips per step x frames per clip).

Run ``python -m benchmarks.bench_train [--quick] [--device cuda]``; it prints Markdown.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from benchmarks import _common

N_FRAMES = 60
#: (label, TrainConfig changes, photometric term)
CONFIGS = (
    ("encoder + deformer", {}, False),
    ("encoder only", {"use_deformer": False}, False),
    ("deformer only", {"use_encoder": False}, False),
    ("encoder + deformer + photometric", {"w_photometric": 0.1}, True),
)


def _samples(n_clips: int, n_frames: int, model: Any, *, quick: bool) -> list[Any]:
    from mxkit.pipeline import prepare
    from mxkit.train import make_training_sample
    from mxkit.workflows import DEFAULT_PREPARE, coarse_fit, load_weights

    _, settings = load_weights(None, variant="full", model=model)
    options = {**DEFAULT_PREPARE, **settings.get("prepare", {}), "flow": "dis"}
    subject = _common.synthme_subject(seed=0, texture_size=512 if quick else 1024)
    out = []
    for i in range(n_clips):
        clip = _common.synthme_micro_clip(n_frames, subject=subject, seed=i)
        prep = prepare(clip, **options)
        fit = coarse_fit(prep.landmarks, model, fit_options=settings.get("fit"))
        out.append(make_training_sample(prep, fit, model, vertices=clip.ground_truth,
                                        expression_type="micro", keep_frames=True))
    return out


def _steps_per_s(samples: list[Any], model: Any, config: Any, device: Any) -> dict[str, Any]:
    from mxkit.train import train

    stamps: list[float] = []

    def tick(step: int, terms: dict[str, float]) -> None:
        _common.synchronize(device)
        stamps.append(time.perf_counter())

    start = time.perf_counter()
    result = train(samples, model=model, config=config, device=device, callback=tick)
    total = time.perf_counter() - start
    steps = sorted(b - a for a, b in zip(stamps, stamps[1:], strict=False))
    sec = steps[len(steps) // 2] if steps else total
    clips = min(config.batch_size, len(samples))
    return {"steps": config.steps, "seconds_per_step": sec, "steps_per_s": 1.0 / sec,
            "frames_per_s": clips * config.frames_per_clip / sec,
            "first_step_s": stamps[0] - start if stamps else total, "total_s": total,
            "final_loss": float(result.history.rows[-1]["loss"]) if result.history.rows
            else float("nan")}


def run(quick: bool = False, device: str = "cpu") -> dict[str, Any]:
    """Training steps per second of each module combination on ``device``.

    Parameters
    ----------
    quick : bool, default False
        One 16-frame clip, 3 steps, no photometric row (a smoke run).
    device : str, default "cpu"
        Where to train (``"cuda"``...); the samples and networks are copied there.

    Returns
    -------
    dict
        ``benchmark``, ``quick``, ``device``, ``machine``, ``cpu_count``, ``torch_threads``,
        ``load_average``, ``n_clips``, ``n_frames``, ``data_s`` (building the samples),
        ``batch_size``, ``frames_per_clip``, ``rows`` (one per configuration: ``config``,
        ``steps``, ``seconds_per_step`` (median, first step excluded), ``steps_per_s``,
        ``frames_per_s``, ``first_step_s``, ``total_s``, ``final_loss``).
    """
    import torch

    from mxkit.morph import load_face_model
    from mxkit.train import FINETUNE_DEFAULTS

    dev = torch.device(device)
    model = load_face_model("mh-head")
    n_clips, n_frames = (1, 16) if quick else (2, N_FRAMES)
    start = time.perf_counter()
    samples = _samples(n_clips, n_frames, model, quick=quick)
    data_s = time.perf_counter() - start
    rows = []
    for label, changes, photometric in CONFIGS:
        if photometric and quick:
            continue
        steps = 3 if quick else (4 if photometric and dev.type == "cpu" else 12)
        config = dataclasses.replace(FINETUNE_DEFAULTS, steps=steps, warmup_steps=0, **changes)
        rows.append({"config": label, **_steps_per_s(samples, model, config, dev)})
    return {
        "benchmark": "train",
        "quick": bool(quick),
        "device": str(dev),
        "machine": _common.machine(),
        "cpu_count": _common.cores(),
        "torch_threads": torch.get_num_threads(),
        "load_average": _common.load_average(),
        "n_clips": n_clips,
        "n_frames": n_frames,
        "data_s": data_s,
        "batch_size": FINETUNE_DEFAULTS.batch_size,
        "frames_per_clip": FINETUNE_DEFAULTS.frames_per_clip,
        "rows": rows,
    }


def headline(result: dict[str, Any]) -> str:
    """One line for the runner's summary table."""
    r = result["rows"][0]
    return f"{r['steps_per_s']:.2f} steps/s ({r['config']}, {result['device']})"


def to_markdown(result: dict[str, Any]) -> str:
    """Format :func:`run`'s result as a Markdown table."""
    load = result["load_average"]
    lines = [
        f"Training steps on {result['device']}: {result['n_clips']} SynthME micro clip(s) of "
        f"{result['n_frames']} frames, batch {result['batch_size']} clips x "
        f"{result['frames_per_clip']} frames, fine-tuning config; torch threads "
        f"{result['torch_threads']}, 1-min load {_common.fmt_load(load)}; "
        f"building the samples took {result['data_s']:.1f} s; quick={result['quick']}",
        "",
        "| networks | steps | s/step | steps/s | frames/s | first step s | final loss |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['config']} | {r['steps']} | {r['seconds_per_step']:.3f} | "
                     f"{r['steps_per_s']:.2f} | {r['frames_per_s']:.1f} | "
                     f"{r['first_step_s']:.2f} | {r['final_loss']:.4g} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    _common.cli(__doc__, run, to_markdown, argv, quick_help="one short clip, 3 steps",
                device=True)


if __name__ == "__main__":
    main()
