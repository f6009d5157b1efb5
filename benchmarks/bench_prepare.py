"""Benchmark of mxkit.prepare: time per frame by step, flow accuracy, serial vs parallel clips.

Workload: clips rendered in memory by :func:`mxkit.pipeline.synthetic.known_motion_clip`
(the mh-head model with a random smooth skin texture, 384 x 384 frames, face about 230 px
wide as in CASME II's raw frames, 128 px crops):

* a 60-frame clip whose image moves by a known sub-pixel translation (up to (0.8, -0.4) px),
  prepared with each flow method: seconds per frame of every step (fingerprint, landmark
  detection and tracking, alignment, flow, strain) and the flow's end-point error (EPE) in
  the face interior against the exact answer;
* the same clip with a small smile (AU6 + AU12) for the step times with real facial motion
  (DIS) and with EVM magnification;
* several clips through ``prepare_many`` with 1 worker and with 2 worker processes (TV-L1);
* SynthME micro-expression clips (:func:`mxkit.data.synth.generate_clip`, 256 px frames,
  200 fps): the landmarks' normalised mean error (NME, by the inter-ocular distance of the
  ground truth, outer eye corners) against ``clip.ground_truth.landmarks`` mapped into the crop.

Run ``python -m benchmarks.bench_prepare [--quick]``; it prints Markdown tables.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Any

import numpy as np

IMAGE_SIZE = 384
CROP = 128
SHIFT = (0.8, -0.4)
STEPS = ("fingerprint", "detect", "align", "flow", "strain", "magnify", "total")


def _epe(prep: Any, clip: Any) -> np.ndarray:
    from mxkit.pipeline.synthetic import expected_crop_flow

    mask = prep.face_mask("inner")
    err = prep.flow[1:, mask] - expected_crop_flow(clip, prep.transform, reference=prep.onset)[1:, None, :]
    return np.hypot(err[..., 0], err[..., 1])


def _row(label: str, prep: Any, clip: Any | None = None) -> dict[str, Any]:
    n = prep.n_frames
    row: dict[str, Any] = {"run": label, "n_frames": n}
    for step in STEPS:
        row[f"{step}_ms_per_frame"] = 1e3 * prep.timing.get(step, 0.0) / n
    if clip is not None:
        epe = _epe(prep, clip)
        row.update(epe_mean_px=float(epe.mean()), epe_p95_px=float(np.percentile(epe, 95)))
    return row


def _synthme_nme(n_subjects: int, n_clips: int) -> dict[str, Any]:
    """NME of prepare's landmarks on SynthME micro clips (all 68 points and the inner 51)."""
    from mxkit.data.synth import generate_clip, generate_subject
    from mxkit.face import inter_ocular_distance
    from mxkit.pipeline import prepare

    nme, inner, frames = [], [], 0
    for s in range(n_subjects):
        subject = generate_subject(seed=s, index=s + 1)
        for c in range(n_clips):
            clip = generate_clip(subject, expression_type="micro", seed=10 * s + c)
            p = prepare(clip, size=CROP)
            truth = p.transform.apply(clip.ground_truth.landmarks.astype(np.float64))
            err = np.linalg.norm(p.landmarks - truth, axis=-1)              # (T, 68) crop px
            iod = inter_ocular_distance(truth)                              # (T,)
            nme.append(err.mean(axis=1) / iod)
            inner.append(err[:, 17:].mean(axis=1) / iod)
            frames += p.n_frames
    all_ = np.concatenate(nme)
    return {"n_clips": n_subjects * n_clips, "n_frames": frames, "nme_mean": float(all_.mean()),
            "nme_p95": float(np.percentile(all_, 95)), "nme_inner_mean": float(np.concatenate(inner).mean())}


def run(quick: bool = False) -> dict[str, Any]:
    """Per-step prepare time per frame, flow EPE per method, and prepare_many scaling.

    Parameters
    ----------
    quick : bool, default False
        12 instead of 60 frames, 2 instead of 4 clips of 12 instead of 30 frames (seconds).

    Returns
    -------
    dict
        ``{"benchmark", "image_size", "crop", "n_frames", "quick", "machine", "rows",
        "many"}``. Each row (one prepare run) has ``run``, ``n_frames``,
        ``<step>_ms_per_frame`` for fingerprint, detect, align, flow, strain, magnify and
        total, and for the known-translation runs ``epe_mean_px`` / ``epe_p95_px`` (flow error
        in the face interior, crop px). ``many`` has ``n_clips``, ``frames_per_clip``,
        ``serial_s``, ``parallel_s`` (2 workers, spawned processes included), ``speedup``,
        ``startup_s`` (2 workers on two 2-frame clips: the cost of starting the pool, whose
        workers import torch, OpenCV and dlib) and ``cpu_count``; all with TV-L1 flow.
        ``synthme`` has ``n_clips``, ``n_frames``, ``nme_mean``, ``nme_p95`` (68 points) and
        ``nme_inner_mean`` (points 17-67, without the jaw line).
    """
    from mxkit.pipeline import prepare, prepare_many
    from mxkit.pipeline.synthetic import known_motion_clip

    n_frames = 12 if quick else 60
    n_clips, clip_frames = (2, 12) if quick else (4, 30)
    apex = n_frames // 2
    shift_clip = known_motion_clip(n_frames=n_frames, image_size=IMAGE_SIZE, shift=SHIFT, apex=apex,
                                   clip_id="shift")
    smile = known_motion_clip(n_frames=n_frames, image_size=IMAGE_SIZE, shift=(0.0, 0.0), apex=apex,
                              aus={"AU6": 0.3, "AU12": 0.4}, clip_id="smile")
    # warm-up: dlib's models, OpenCV, scipy.signal (EVM)
    prepare(known_motion_clip(n_frames=2, image_size=IMAGE_SIZE), size=CROP, magnify=True)
    rows = []
    for method in ("dis", "farneback", "tvl1"):
        rows.append(_row(f"shift, {method}", prepare(shift_clip, size=CROP, flow=method), shift_clip))
    rows.append(_row("smile, dis", prepare(smile, size=CROP, flow="dis")))
    rows.append(_row("smile, dis + EVM", prepare(smile, size=CROP, flow="dis",
                                                 magnify={"alpha": 20, "r1": 0.4, "r2": 0.05})))
    clips = [known_motion_clip(n_frames=clip_frames, image_size=IMAGE_SIZE, shift=SHIFT,
                               clip_id=f"c{i}", seed=i) for i in range(n_clips)]
    timings = {}
    for label, batch, workers in (("serial", clips, 1), ("parallel", clips, 2),
                                  ("startup", clips[:2], 2)):
        if label == "startup":  # two 2-frame clips: nearly all of it is starting the workers
            batch = [c.replace(frames=c.frames[:2], frame_numbers=None, apex=1, offset=1) for c in batch]
        start = time.perf_counter()
        prepare_many(batch, workers=workers, size=CROP, flow="tvl1", progress=False)
        timings[label] = time.perf_counter() - start
    return {
        "benchmark": "prepare",
        "image_size": IMAGE_SIZE,
        "crop": CROP,
        "n_frames": n_frames,
        "quick": quick,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "rows": rows,
        "synthme": _synthme_nme(1 if quick else 2, 1 if quick else 2),
        "many": {"n_clips": n_clips, "frames_per_clip": clip_frames, "serial_s": timings["serial"],
                 "parallel_s": timings["parallel"], "speedup": timings["serial"] / timings["parallel"],
                 "startup_s": timings["startup"], "cpu_count": os.cpu_count()},
    }


def to_markdown(result: dict[str, Any]) -> str:
    """Format :func:`run`'s result as Markdown tables."""
    lines = [
        f"Prepare benchmark: {result['n_frames']}-frame rendered clip, {result['image_size']} px "
        f"frames, {result['crop']} px crops, quick={result['quick']} (ms per frame; EPE in the face "
        f"interior against the known translation, crop px)",
        "",
        "| run | fingerprint | detect | align | flow | strain | EVM | total | EPE mean | EPE p95 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        epe = (f"{r['epe_mean_px']:.3f} | {r['epe_p95_px']:.3f}" if "epe_mean_px" in r else "- | -")
        lines.append(
            f"| {r['run']} | {r['fingerprint_ms_per_frame']:.2f} | {r['detect_ms_per_frame']:.1f} | "
            f"{r['align_ms_per_frame']:.2f} | {r['flow_ms_per_frame']:.1f} | "
            f"{r['strain_ms_per_frame']:.2f} | {r['magnify_ms_per_frame']:.1f} | "
            f"{r['total_ms_per_frame']:.1f} | {epe} |"
        )
    sy = result["synthme"]
    lines += [
        "",
        f"Landmarks on SynthME: {sy['n_clips']} micro clips, {sy['n_frames']} frames, NME by the "
        f"ground truth's inter-ocular distance: 68 points mean {sy['nme_mean']:.4f} "
        f"(p95 {sy['nme_p95']:.4f}), inner 51 points mean {sy['nme_inner_mean']:.4f}",
    ]
    m = result["many"]
    lines += [
        "",
        f"prepare_many, {m['n_clips']} clips x {m['frames_per_clip']} frames (TV-L1), "
        f"{m['cpu_count']} CPUs; starting 2 spawned workers costs about {m['startup_s']:.1f} s:",
        "",
        "| workers | wall s | speed-up |",
        "|---:|---:|---:|",
        f"| 1 | {m['serial_s']:.2f} | 1.00 |",
        f"| 2 | {m['parallel_s']:.2f} | {m['speedup']:.2f} |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames and clips")
    args = parser.parse_args(argv)
    print(to_markdown(run(quick=args.quick)))


if __name__ == "__main__":
    main()
