"""Benchmark of mxkit.fit: batched coarse fitting vs a per-frame Python loop.

Workload: a 200-frame synthetic clip of the embedded ``mh-head`` model (68 iBUG landmarks,
smooth head motion of +-10 degrees, smile / brow / jaw activations, 0.5 px landmark noise;
:func:`mxkit.fit.synthetic.synthetic_clip` with seed 0). The same landmarks are fitted

* in one batched call (``fit_landmarks``, default settings: Gauss-Newton, clip identity),
* in one batched call of the static per-frame baseline (``fit_frames_independently``),
* in one batched call with temporal smoothing (``smooth=10``),
* frame by frame in a Python loop (``fit_landmarks`` on each ``(1, 68, 2)`` frame),

each with 1 torch thread and with torch's default thread count (2 on the target machine).
The load average is reported because the machine may be shared: OpenMP's two threads slow
down badly when other processes compete for the cores, while one thread does not.

Run ``python -m benchmarks.bench_fit [--quick]``; it prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Any

import torch

from mxkit._threads import torch_threads


def _median_time(fn, repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2], out


def run(quick: bool = False) -> dict[str, Any]:
    """Frames per second of batched coarse fitting and of a per-frame loop.

    Parameters
    ----------
    quick : bool, default False
        40 frames and one repeat instead of 200 frames and the median of three (a smoke
        run of a few seconds).

    Returns
    -------
    dict
        ``{"benchmark", "model", "n_frames", "quick", "machine", "load_average", "rows"}``;
        one row per (mode, threads) with ``mode``, ``threads``, ``seconds``,
        ``frames_per_s``, ``iterations`` and ``mean_error_px`` (reprojection error).
    """
    from mxkit.fit import fit_frames_independently, fit_landmarks
    from mxkit.fit.synthetic import synthetic_clip
    from mxkit.morph import load_face_model

    n_frames = 40 if quick else 200
    repeats = 1 if quick else 3
    model = load_face_model("mh-head")
    clip = synthetic_clip(model, n_frames=n_frames, noise_px=0.5,
                          generator=torch.Generator().manual_seed(0))
    lm = clip.landmarks
    fit_landmarks(model, lm[:5])                      # warm-up (lazy library initialisation)

    def loop(threads):
        fits = [fit_landmarks(model, lm[t:t + 1], threads=threads) for t in range(n_frames)]
        return fits

    # the fit's own `threads` argument (default 1) is set to the measured count
    modes = {
        "batched (clip identity)": (lambda th: fit_landmarks(model, lm, threads=th), repeats),
        "batched per-frame baseline": (lambda th: fit_frames_independently(model, lm, threads=th), repeats),
        "batched, smooth=10": (lambda th: fit_landmarks(model, lm, smooth=10.0, threads=th), 1),
        "per-frame Python loop": (loop, 1),
    }
    rows = []
    for threads in sorted({1, torch.get_num_threads()}):
        with torch_threads(threads):                       # restored after each count
            for mode, (fn, reps) in modes.items():
                seconds, out = _median_time(lambda fn=fn, th=threads: fn(th), reps)
                if isinstance(out, list):
                    iters = sum(f.n_iters for f in out) / len(out)
                    err = sum(float(f.error_px.mean()) for f in out) / len(out)
                else:
                    iters, err = out.n_iters, float(out.error_px.mean())
                rows.append({"mode": mode, "threads": threads, "seconds": seconds,
                             "frames_per_s": n_frames / seconds, "iterations": iters,
                             "mean_error_px": err})
    return {
        "benchmark": "fit",
        "model": f"mh-head (K={model.n_identity}, E={model.n_expressions}, 68 landmarks)",
        "n_frames": n_frames,
        "quick": quick,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "rows": rows,
    }


def to_markdown(result: dict[str, Any]) -> str:
    """Format :func:`run`'s result as a Markdown table."""
    load = result["load_average"]
    lines = [
        f"Coarse-fit benchmark: {result['model']}, {result['n_frames']}-frame synthetic clip, "
        f"quick={result['quick']}, machine {result['machine']}, 1-min load average "
        f"{'n/a' if load is None else f'{load:.2f}'}",
        "",
        "| mode | torch threads | seconds | frames/s | iterations | mean error px |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['mode']} | {r['threads']} | {r['seconds']:.3f} | "
                     f"{r['frames_per_s']:.0f} | {r['iterations']:.1f} | "
                     f"{r['mean_error_px']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 frames, one repeat")
    args = parser.parse_args(argv)
    print(to_markdown(run(quick=args.quick)))


if __name__ == "__main__":
    main()
