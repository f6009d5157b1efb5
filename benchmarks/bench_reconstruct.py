"""Benchmark of mxkit.reconstruct: end-to-end time of a 60-frame SynthME micro clip, by stage.

Workload: one SynthME micro-expression clip rendered in memory
(:func:`mxkit.data.synth.generate_clip`: 256 x 256 frames at 200 fps, a 1024 px skin
texture as in the ``small`` preset, head motion and sensor noise), exactly 60 frames (5
neutral frames, 50 frames onset -> apex -> offset, 5 neutral frames). It goes through
``mxkit.reconstruct(clip, variant="full")`` -- the packaged weights, the bundle's prepare
options (192 px crops) with **DIS** optical flow -- and the stages are read from
``Reconstruction.timing``:

* ``prepare``: landmark detection and tracking (dlib), alignment, optical flow (DIS) and
  strain (the split is that of a separate ``mxkit.prepare`` call with the same options);
* ``fit``: the coarse fit (one identity per clip, temporal prior);
* ``features``: the networks' inputs (rigid registration of the flow, projection...);
* ``networks``: DynamicEncoder + MeshDeformer.

The clip is reconstructed with torch's default thread count and with one thread: on a shared
2-core machine OpenMP's spinning threads can slow the many small tensor operations of the fit
down by an order of magnitude, while one thread does not care. A first call on a 14-frame
clip (loading dlib's models, the weights, the JIT-compiled kernels) is timed apart. Then the
networks alone run on ``device`` (``reconstruct(prepared, device=...)``; the fit and the
features stay on the CPU), the row that GPU mode (``--device cuda``) is about.

Target (DESIGN.md §6): the 60-frame clip in 10 s or less with DIS flow on 2 CPU cores.

Run ``python -m benchmarks.bench_reconstruct [--quick] [--device cuda]``; it prints Markdown.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks import _common

N_FRAMES = 60
TARGET_S = 10.0
STAGES = ("prepare", "fit", "features", "networks")
PREPARE_STEPS = ("detect", "align", "flow", "strain")


def run(quick: bool = False, device: str = "cpu") -> dict[str, Any]:
    """Seconds per stage of ``mxkit.reconstruct`` on a SynthME micro clip.

    Parameters
    ----------
    quick : bool, default False
        A 16-frame clip, one torch thread only, two network calls (a smoke run).
    device : str, default "cpu"
        Where the networks run in the device rows (``"cuda"``, ``"cuda:1"``...).

    Returns
    -------
    dict
        ``benchmark``, ``n_frames``, ``quick``, ``device``, ``machine``, ``cpu_count``,
        ``load_average``, ``prepare_options``, ``first_call_s`` (14-frame clip, fresh
        process), ``rows`` (end to end, one per torch thread count: ``threads``,
        ``<stage>_s`` for prepare, fit, features, networks, ``total_s``, ``ms_per_frame``,
        ``meets_target``), ``prepare_steps`` (seconds of ``detect``, ``align``, ``flow``,
        ``strain`` and ``other``), ``device_rows`` (networks on ``device``: ``device``,
        ``features_s``, ``networks_s``, ``first_networks_s`` (includes the device's
        start-up)) and ``target_s``.
    """
    import torch

    from mxkit.morph import load_face_model
    from mxkit.pipeline import prepare
    from mxkit.workflows import DEFAULT_PREPARE, load_weights, reconstruct

    dev = torch.device(device)
    n_frames = 16 if quick else N_FRAMES
    model = load_face_model("mh-head")
    subject = _common.synthme_subject(seed=0, texture_size=512 if quick else 1024)
    clip = _common.synthme_micro_clip(n_frames, subject=subject, seed=0)
    _, settings = load_weights(None, variant="full", model=model)
    options = {**DEFAULT_PREPARE, **settings.get("prepare", {}), "flow": "dis"}

    with _common.torch_threads(1):  # loading, not computing: keep OpenMP out of it
        start = time.perf_counter()
        reconstruct(_common.synthme_micro_clip(14, subject=subject, seed=1), model=model,
                    variant="full", prepare_options=options)
        first_call = time.perf_counter() - start

    default_threads = torch.get_num_threads()
    rows = []
    for threads in ([1] if quick else sorted({default_threads, 1}, reverse=True)):
        with _common.torch_threads(threads):
            start = time.perf_counter()
            rec = reconstruct(clip, model=model, variant="full", prepare_options=options)
            wall = time.perf_counter() - start
        row: dict[str, Any] = {"threads": threads}
        row.update({f"{s}_s": float(rec.timing.get(s, 0.0)) for s in STAGES})
        row.update(total_s=wall, ms_per_frame=1e3 * wall / n_frames,
                   meets_target=bool(wall <= TARGET_S))
        rows.append(row)

    prep = prepare(clip, **options)
    steps = {s: float(prep.timing.get(s, 0.0)) for s in PREPARE_STEPS}
    steps["other"] = max(float(prep.timing["total"]) - sum(steps.values()), 0.0)

    device_rows = []
    timings = []
    for _ in range(2 if quick else 4):  # the first call pays the device's start-up
        start = time.perf_counter()
        rec = reconstruct(prep, model=model, variant="full", device=dev)
        _common.synchronize(dev)
        timings.append((time.perf_counter() - start, rec.timing))
    rest = sorted(timings[1:], key=lambda t: t[1]["networks"])
    best = rest[len(rest) // 2][1]
    device_rows.append({"device": str(dev), "features_s": float(best["features"]),
                        "networks_s": float(best["networks"]),
                        "first_networks_s": float(timings[0][1]["networks"]),
                        "networks_ms_per_frame": 1e3 * float(best["networks"]) / n_frames})
    return {
        "benchmark": "reconstruct",
        "clip": "/".join(clip.key),
        "n_frames": n_frames,
        "quick": bool(quick),
        "device": str(dev),
        "machine": _common.machine(),
        "cpu_count": _common.cores(),
        "load_average": _common.load_average(),
        "prepare_options": options,
        "first_call_s": first_call,
        "rows": rows,
        "prepare_steps": steps,
        "device_rows": device_rows,
        "target_s": TARGET_S,
    }


def headline(result: dict[str, Any]) -> str:
    """One line for the runner's summary table."""
    best = min(result["rows"], key=lambda r: r["total_s"])
    return (f"{result['n_frames']} frames in {best['total_s']:.1f} s "
            f"(torch threads {best['threads']})")


def to_markdown(result: dict[str, Any]) -> str:
    """Format :func:`run`'s result as Markdown tables."""
    load = result["load_average"]
    opts = ", ".join(f"{k}={v}" for k, v in result["prepare_options"].items())
    lines = [
        f"End-to-end `mxkit.reconstruct(clip, variant=\"full\")` of a {result['n_frames']}-frame "
        f"SynthME micro clip (256 px, 200 fps; prepare options {opts}), "
        f"{result['cpu_count']} CPU cores, 1-min load {_common.fmt_load(load)}"
        f" at start, quick={result['quick']}. Target: {result['target_s']:.0f} s or less.",
        "",
        "| torch threads | prepare s | fit s | features s | networks s | total s | ms/frame "
        "| target met |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['threads']} | {r['prepare_s']:.2f} | {r['fit_s']:.2f} | "
                     f"{r['features_s']:.2f} | {r['networks_s']:.2f} | {r['total_s']:.2f} | "
                     f"{r['ms_per_frame']:.0f} | {'yes' if r['meets_target'] else 'no'} |")
    st = result["prepare_steps"]
    lines += [
        "",
        "Prepare steps (s): " + ", ".join(f"{k} {v:.2f}" for k, v in st.items())
        + f". First call in a fresh process (14 frames: loads dlib, the weights and the "
        f"compiled kernels): {result['first_call_s']:.1f} s.",
        "",
        "| networks on | features s | networks s | networks ms/frame | first call networks s |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in result["device_rows"]:
        lines.append(f"| {r['device']} | {r['features_s']:.2f} | {r['networks_s']:.3f} | "
                     f"{r['networks_ms_per_frame']:.1f} | {r['first_networks_s']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    _common.cli(__doc__, run, to_markdown, argv, quick_help="a 16-frame clip", device=True)


if __name__ == "__main__":
    main()
