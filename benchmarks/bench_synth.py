"""Benchmark of SynthME (mxkit.data.synth): generation time per preset, and dlib on its frames.

Workload: ``make_dataset(out, preset=..., expression_type="both", layout="casme2", seed=0)`` into a
temporary folder for the ``tiny`` and ``small`` presets (the whole job: planning the ground
truth, painting the subjects' albedo, rendering, sensor noise, JPEG and the coding sheet, the
``gt/`` sidecar, then loading it back). The reference measured in the same run is mxkit's
rasterizer alone on the same mesh, texture and frame size (``render_batch``), so the
``overhead`` column says how much the whole job costs per frame on top of rasterizing. The
target is ``small`` in 60 s or less on 2 CPU cores.

The dlib check runs ``detection_report`` (HOG detector + 68-point predictor, the default
``mxkit.face`` backend) on the small set: every 10th frame plus onset, apex and offset of
every clip; it reports the detection rate and the mean landmark error over the inter-ocular
distance of the ground truth (outer eye corners).

Run ``python -m benchmarks.bench_synth [--quick] [--no-dlib]``; it prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _raster_ms(preset: str, n: int = 64) -> float:
    """ms per frame of render_batch alone (textured head, the preset's frame size)."""
    from mxkit.data.synth import PRESETS, generate_subject
    from mxkit.data.synth.appearance import _default_model
    from mxkit.render import render_batch

    p = PRESETS[preset]
    model = _default_model()
    sub = generate_subject(seed=0, image_size=p["image_size"], field_m=p["field_m"],
                           texture_size=p["texture_size"], model=model)
    v = model.v_template.numpy().astype(np.float64)
    frames = np.stack([v + [0.0002 * i, 0.0, 0.0] for i in range(n)])
    faces = model.faces.numpy()
    kw = dict(uv=sub.uv, faces_uv=sub.faces_uv, texture=sub.texture, light=sub.light,
              background=sub.background)
    render_batch(frames[:4], faces, sub.camera, **kw)  # warm
    start = time.perf_counter()
    render_batch(frames, faces, sub.camera, **kw)
    return 1e3 * (time.perf_counter() - start) / n


def run(quick: bool = False, dlib: bool = True) -> dict[str, Any]:
    """Generation time of the SynthME presets (and dlib's view of the small one).

    Parameters
    ----------
    quick : bool, default False
        ``tiny`` only, and ``small`` restricted to 1 subject (a smoke run of seconds).
    dlib : bool, default True
        Also run the dlib detection check on the small set.

    Returns
    -------
    dict
        ``benchmark``, ``quick``, ``machine``, ``cpu_count``, ``load_avg`` (1-minute load when
        the run started: other processes share the CPU), ``rows`` (per preset: ``preset``,
        ``subjects``, ``clips``, ``frames``, ``seconds`` (wall), ``cpu_seconds`` (CPU time of
        all the process's threads: less sensitive to other load), ``ms_per_frame``, ``raster_ms``,
        ``overhead`` (= ms_per_frame / raster_ms), ``bytes``), ``dlib`` (``frames``,
        ``detection_rate``, ``nme``, ``nme_by_group``, ``seconds``) or None.
    """
    from mxkit.data.synth import detection_report, make_dataset
    from mxkit.data.synth.appearance import _default_model
    from mxkit.render import warmup

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    _default_model()
    warmup()
    rows = []
    small_set = None
    tmp = Path(tempfile.mkdtemp(prefix="bench_synth_"))
    try:
        for preset, extra in (("tiny", {}), ("small", {"n_subjects": 1} if quick else {})):
            out = tmp / preset
            start, cpu0 = time.perf_counter(), time.process_time()
            clips = make_dataset(out, preset=preset, seed=0, **extra)
            sec, cpu = time.perf_counter() - start, time.process_time() - cpu0
            frames = int(sum(c.n_frames for c in clips))
            raster = _raster_ms(preset, n=16 if quick else 64)
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
            rows.append({"preset": preset + (" (1 subject)" if extra else ""),
                         "subjects": len(clips.subjects), "clips": len(clips), "frames": frames,
                         "seconds": sec, "cpu_seconds": cpu, "ms_per_frame": 1e3 * sec / frames,
                         "raster_ms": raster,
                         "overhead": 1e3 * sec / frames / raster, "bytes": size})
            if preset == "small":
                small_set = clips
        dl = None
        if dlib and small_set is not None:
            start = time.perf_counter()
            parts = [detection_report(small_set, frames=10), detection_report(small_set, frames="key")]
            import pandas as pd

            rep = pd.concat(parts).drop_duplicates(["subject", "clip_id", "frame"])
            groups = {g: float(rep[f"nme_{g}"].mean()) for g in ("jaw", "brows", "nose", "eyes", "mouth")}
            dl = {"frames": int(len(rep)), "detection_rate": float(rep.detected.mean()),
                  "nme": float(rep.nme.mean()), "nme_max": float(rep.nme.max()),
                  "nme_by_group": groups, "seconds": time.perf_counter() - start}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"benchmark": "synth", "quick": quick,
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "cpu_count": _cores(), "load_avg": load, "rows": rows, "dlib": dl}


def to_markdown(result: dict[str, Any]) -> str:
    """Format :func:`run`'s result as a Markdown table."""
    lines = [
        f"SynthME generation (make_dataset, layout casme2, expression_type both), {result['cpu_count']} CPU "
        f"cores, 1-min load {result['load_avg']:.1f} at start (shared CPU: timings are noisy), "
        f"quick={result['quick']}",
        "",
        "| preset | subjects | clips | frames | seconds | CPU s | ms/frame | raster ms/frame | overhead | MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['preset']} | {r['subjects']} | {r['clips']} | {r['frames']} | "
                     f"{r['seconds']:.1f} | {r['cpu_seconds']:.1f} | {r['ms_per_frame']:.1f} | "
                     f"{r['raster_ms']:.1f} | "
                     f"{r['overhead']:.1f}x | {r['bytes'] / 1e6:.1f} |")
    dl = result.get("dlib")
    if dl:
        g = ", ".join(f"{k} {v:.3f}" for k, v in dl["nme_by_group"].items())
        lines += ["", f"dlib on the small set ({dl['frames']} frames: every 10th + onset/apex/offset): "
                      f"detection rate {100 * dl['detection_rate']:.1f} %, landmark NME "
                      f"{dl['nme']:.4f} of the inter-ocular distance (max {dl['nme_max']:.4f}; "
                      f"{g}), {dl['seconds']:.1f} s."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny + a 1-subject small set")
    parser.add_argument("--no-dlib", action="store_true", help="skip the dlib check")
    args = parser.parse_args(argv)
    print(to_markdown(run(quick=args.quick, dlib=not args.no_dlib)))


if __name__ == "__main__":
    main()
