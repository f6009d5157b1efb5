"""Benchmark of mxkit.flow: time per 256x256 frame pair and accuracy on known motion.

Workload: a smooth random texture deformed by a known, smooth, micro-expression-like
displacement field (a local Gaussian "brow raise" plus a small global drift) whose
amplitude grows from 0 at onset to about 2 px at apex. The target frames are rendered by
backward sampling (cubic, periodic), and the true onset->frame flow is obtained by
fixed-point inversion, so the end-point error (EPE) is measured against the exact answer.

Run ``python -m benchmarks.bench_flow [--quick]``; it prints a Markdown table.
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Any

import numpy as np

from mxkit.testing import texture

SIZE = 256
MARGIN = 16


def _texture(size: int, seed: int) -> np.ndarray:
    return texture(size, size, seed=seed)


def _displacement(u: np.ndarray, v: np.ndarray, scale: float, size: int) -> np.ndarray:
    """Analytic displacement d(u, v) in px: a Gaussian bump moving up and out, plus drift."""
    cu, cv, sigma = 0.45 * size, 0.4 * size, 0.15 * size
    bump = np.exp(-((u - cu) ** 2 + (v - cv) ** 2) / (2 * sigma**2))
    du = scale * (0.3 + 0.8 * bump * (u - cu) / sigma)
    dv = scale * (-0.1 - 1.6 * bump)
    return np.stack([du, dv], axis=-1)


def known_motion_sequence(
    n_frames: int = 8, size: int = SIZE, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``(T, H, W)`` float32 in [0, 1] and exact flows onset->t ``(T, H, W, 2)``."""
    from scipy import ndimage

    ref = _texture(size, seed)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    frames = [ref]
    flows = [np.zeros((size, size, 2))]
    for t in range(1, n_frames):
        scale = t / (n_frames - 1)  # onset (0) to apex (1)
        d = _displacement(cols, rows, scale, size)
        # frame_t(q) = ref(q - d(q)): a point p of ref is found at q with q - d(q) = p.
        frame = ndimage.map_coordinates(ref, [rows - d[..., 1], cols - d[..., 0]], order=3,
                                        mode="grid-wrap")
        # True flow f(p) = d(p + f(p)), by fixed-point iteration (contraction: |grad d| << 1).
        f = d.copy()
        for _ in range(30):
            f = _displacement(cols + f[..., 0], rows + f[..., 1], scale, size)
        frames.append(np.clip(frame, 0.0, 1.0))
        flows.append(f)
    return np.stack(frames).astype(np.float32), np.stack(flows).astype(np.float32)


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def run(quick: bool = False) -> dict[str, Any]:
    """Time per 256x256 pair and EPE on the known-motion sequence, per flow method.

    Parameters
    ----------
    quick : bool, default False
        Fewer frames and timing repeats (a smoke run, seconds).

    Returns
    -------
    dict
        ``{"benchmark", "image_size", "n_frames", "quick", "machine", "rows"}`` where each row
        has ``method``, ``ms_per_pair`` (median of single ``optical_flow`` calls),
        ``seq_ms_per_pair`` (``flow_sequence`` wall time per pair, 1 and 2 threads),
        ``epe_mean_px``, ``epe_p95_px``, ``epe_max_px`` (interior, 16 px margin, frames 1..T-1)
        and ``aepe_zero_px`` (EPE of the all-zero flow, for scale).
    """
    from mxkit.flow import FLOW_METHODS, flow_sequence, optical_flow

    n_frames = 4 if quick else 8
    repeats = 1 if quick else 5
    frames, truth = known_motion_sequence(n_frames=n_frames)
    interior = (slice(1, None), slice(MARGIN, -MARGIN), slice(MARGIN, -MARGIN))
    zero_epe = float(np.hypot(truth[..., 0], truth[..., 1])[interior].mean())
    rows = []
    for method in FLOW_METHODS:
        optical_flow(frames[0], frames[1], method=method)  # warm-up (lazy import, caches)
        per_pair = _median_time(lambda m=method: optical_flow(frames[0], frames[-1], method=m),
                                repeats)
        seq_times = {}
        flows = None
        for n_jobs in (1, 2):
            start = time.perf_counter()
            flows = flow_sequence(frames, method=method, n_jobs=n_jobs, progress=False)
            seq_times[n_jobs] = (time.perf_counter() - start) / (n_frames - 1)
        err = np.hypot(flows[..., 0] - truth[..., 0], flows[..., 1] - truth[..., 1])[interior]
        rows.append({
            "method": method,
            "ms_per_pair": 1e3 * per_pair,
            "seq_ms_per_pair_1thread": 1e3 * seq_times[1],
            "seq_ms_per_pair_2threads": 1e3 * seq_times[2],
            "epe_mean_px": float(err.mean()),
            "epe_p95_px": float(np.percentile(err, 95)),
            "epe_max_px": float(err.max()),
            "aepe_zero_px": zero_epe,
        })
    return {
        "benchmark": "flow",
        "image_size": SIZE,
        "n_frames": n_frames,
        "quick": quick,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "rows": rows,
    }


def to_markdown(result: dict[str, Any]) -> str:
    """Format :func:`run`'s result as a Markdown table."""
    lines = [
        f"Flow benchmark: {result['image_size']}x{result['image_size']} px, "
        f"{result['n_frames']} frames (onset->apex up to ~2 px), quick={result['quick']}",
        "",
        "| method | ms/pair | seq ms/pair (1 thr) | seq ms/pair (2 thr) | EPE mean (px) "
        "| EPE p95 (px) | EPE max (px) | zero-flow EPE (px) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['method']} | {r['ms_per_pair']:.1f} | {r['seq_ms_per_pair_1thread']:.1f} | "
            f"{r['seq_ms_per_pair_2threads']:.1f} | {r['epe_mean_px']:.3f} | "
            f"{r['epe_p95_px']:.3f} | {r['epe_max_px']:.3f} | {r['aepe_zero_px']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames and repeats")
    args = parser.parse_args(argv)
    print(to_markdown(run(quick=args.quick)))


if __name__ == "__main__":
    main()
