"""Scaling curves: time vs clip length, vs mesh resolution, vs number of clips and workers.

Three sweeps, each on SynthME micro clips rendered in memory (256 px, 200 fps; see
``benchmarks/_common.py``) and the packaged weights' prepare options with DIS flow:

* **clip length** -- ``mxkit.reconstruct(clip, variant="full")`` end to end on clips of
  30, 60, 120 and 240 frames, by stage (prepare, fit, features, networks), with the time to
  generate each clip beside it;
* **mesh resolution** -- the ``mh-head`` model Loop-subdivided 0, 1 and 2 times
  (:func:`mxkit.morph.subdivide.subdivide_model`: about 5k, 20k and 78k vertices): the
  rasterizer (``render`` and ``rasterize`` alone, 256 x 256, ms per frame), the model's
  forward pass (60 frames of identity + expression) and the fit / features / networks stages
  of ``reconstruct`` on a 20-frame clip with networks of the packaged weights' sizes
  (random weights: the packaged ones are for the unsubdivided mesh; the time is the same);
* **number of clips** -- :func:`mxkit.pipeline.prepare_many` on 1, 2, 4 and 8 clips of 30
  frames with 1 worker (in process) and 2 worker processes (spawned: their start-up, about
  as long as importing torch, OpenCV and dlib twice, is part of the wall time).

Torch runs with **one thread** here (the thread-count question is measured in
``bench_reconstruct``; one thread keeps the curves clean on a shared machine). The runner
calls :func:`write_figures`, which plots the three curves into ``scaling.png`` next to the
results, and the Markdown links it.

Run ``python -m benchmarks.bench_scaling [--quick] [--figures DIR]``; it prints Markdown.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import _common

LENGTHS = (30, 60, 120, 240)
LEVELS = (0, 1, 2)
N_CLIPS = (1, 2, 4, 8)
WORKERS = (1, 2)
STAGES = ("prepare", "fit", "features", "networks")
MESH_CLIP_FRAMES = 20
MANY_CLIP_FRAMES = 30
FORWARD_FRAMES = 60


def _prepare_options(model: Any) -> dict[str, Any]:
    from mxkit.workflows import DEFAULT_PREPARE, load_weights

    _, settings = load_weights(None, variant="full", model=model)
    return {**DEFAULT_PREPARE, **settings.get("prepare", {}), "flow": "dis"}


def _length_rows(lengths: tuple[int, ...], subject: Any, model: Any,
                 options: dict[str, Any]) -> list[dict[str, Any]]:
    from mxkit.workflows import reconstruct

    reconstruct(_common.synthme_micro_clip(14, subject=subject, seed=99), model=model,
                variant="full", prepare_options=options)                       # warm-up
    rows = []
    for n in lengths:
        start = time.perf_counter()
        clip = _common.synthme_micro_clip(n, subject=subject, seed=n)
        gen = time.perf_counter() - start
        start = time.perf_counter()
        rec = reconstruct(clip, model=model, variant="full", prepare_options=options)
        total = time.perf_counter() - start
        rows.append({"n_frames": n, "generate_s": gen,
                     **{f"{s}_s": float(rec.timing.get(s, 0.0)) for s in STAGES},
                     "total_s": total, "ms_per_frame": 1e3 * total / n})
    return rows


def _mesh_rows(levels: tuple[int, ...], subject: Any, model: Any, options: dict[str, Any],
               *, quick: bool) -> list[dict[str, Any]]:
    import torch

    from mxkit.morph.subdivide import subdivide_model
    from mxkit.nets import DynamicRefiner
    from mxkit.pipeline import prepare
    from mxkit.render import Camera, rasterize, render, warmup
    from mxkit.workflows import reconstruct

    warmup()
    cam = Camera.frontal((256, 256))
    prep = prepare(_common.synthme_micro_clip(14 if quick else MESH_CLIP_FRAMES,
                                              subject=subject, seed=7), **options)
    n_render = 4 if quick else 8
    gen = torch.Generator().manual_seed(0)
    rows, m, level = [], model, 0
    for target in levels:
        start = time.perf_counter()
        if target > level:
            m = subdivide_model(m, levels=target - level)
            level = target
        subdivide_s = time.perf_counter() - start
        identity = torch.zeros(FORWARD_FRAMES, m.n_identity, dtype=m.v_template.dtype)
        expression = torch.rand(FORWARD_FRAMES, m.n_expressions, generator=gen,
                                dtype=m.v_template.dtype) * 0.3
        with torch.no_grad():
            m(identity[:2], expression[:2])
            forward_s = _common.median_time(lambda m=m, i=identity, e=expression: m(i, e), 3)
            verts = m(identity[:n_render], expression[:n_render]).double().numpy()
        faces = m.faces.cpu().numpy()
        render(verts[0], faces, cam)

        def loop_render(verts=verts, faces=faces) -> None:
            for x in verts:
                render(x, faces, cam)

        def loop_raster(verts=verts, faces=faces) -> None:
            for x in verts:
                p = cam.project(x)
                rasterize(np.column_stack([p.pixels, p.depth]), faces, cam.image_size,
                          perspective_correct=True, cull_backfaces=True)

        render_ms = 1e3 * _common.median_time(loop_render, 3) / n_render
        raster_ms = 1e3 * _common.median_time(loop_raster, 3) / n_render
        refiner = DynamicRefiner.for_model(m, generator=torch.Generator().manual_seed(0))
        start = time.perf_counter()
        rec = reconstruct(prep, model=m, variant="full", weights=refiner)
        rows.append({"level": target, "n_vertices": int(m.n_vertices),
                     "n_faces": int(m.n_faces), "subdivide_s": subdivide_s,
                     "render_ms": render_ms, "rasterize_ms": raster_ms,
                     "forward_ms": 1e3 * forward_s, "forward_frames": FORWARD_FRAMES,
                     "clip_frames": int(prep.n_frames),
                     **{f"{s}_s": float(rec.timing.get(s, 0.0)) for s in STAGES[1:]},
                     "reconstruct_s": time.perf_counter() - start})
    return rows


def _many_rows(counts: tuple[int, ...], subject: Any, options: dict[str, Any],
               frames: int) -> list[dict[str, Any]]:
    from mxkit.pipeline import prepare_many

    clips = [_common.synthme_micro_clip(frames, subject=subject, seed=100 + i,
                                        clip_id=f"many{i:02d}") for i in range(max(counts))]
    rows = []
    for n in counts:
        serial = None
        for workers in WORKERS:
            start = time.perf_counter()
            batch = prepare_many(clips[:n], workers=workers, progress=False, **options)
            wall = time.perf_counter() - start
            serial = wall if workers == 1 else serial
            rows.append({"n_clips": n, "workers": workers, "used_workers": int(batch.workers),
                         "frames_per_clip": frames, "wall_s": wall, "clips_per_s": n / wall,
                         "speedup": (serial / wall) if serial else 1.0})
    return rows


def run(quick: bool = False) -> dict[str, Any]:
    """The three scaling sweeps.

    Parameters
    ----------
    quick : bool, default False
        Clips of 14 and 20 frames, subdivision levels 0 and 1, 1 and 2 clips of 14 frames
        (a smoke run).

    Returns
    -------
    dict
        ``benchmark``, ``quick``, ``machine``, ``cpu_count``, ``load_average``,
        ``torch_threads`` (1), ``prepare_options``, ``length`` rows (``n_frames``,
        ``generate_s``, ``<stage>_s``, ``total_s``, ``ms_per_frame``), ``mesh`` rows
        (``level``, ``n_vertices``, ``n_faces``, ``subdivide_s``, ``render_ms``,
        ``rasterize_ms``, ``forward_ms`` (``forward_frames`` frames), ``clip_frames``,
        ``fit_s``, ``features_s``, ``networks_s``, ``reconstruct_s``) and ``many`` rows
        (``n_clips``, ``workers``, ``used_workers``, ``frames_per_clip``, ``wall_s``,
        ``clips_per_s``, ``speedup`` over 1 worker).
    """
    from mxkit.morph import load_face_model

    load = _common.load_average()
    with _common.torch_threads(1) as threads:
        model = load_face_model("mh-head")
        options = _prepare_options(model)
        subject = _common.synthme_subject(seed=0, texture_size=512 if quick else 1024)
        length = _length_rows((14, 20) if quick else LENGTHS, subject, model, options)
        mesh = _mesh_rows((0, 1) if quick else LEVELS, subject, model, options, quick=quick)
        many = _many_rows((1, 2) if quick else N_CLIPS, subject, options,
                          14 if quick else MANY_CLIP_FRAMES)
    return {"benchmark": "scaling", "quick": bool(quick), "machine": _common.machine(),
            "cpu_count": _common.cores(), "load_average": load, "torch_threads": threads,
            "prepare_options": options, "length": length, "mesh": mesh, "many": many}


def figure(result: dict[str, Any]) -> Any:
    """The three curves as a matplotlib ``Figure`` (no pyplot)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4.4), layout="constrained")
    ax_len, ax_mesh, ax_many = fig.subplots(1, 3)
    rows = result["length"]
    n = [r["n_frames"] for r in rows]
    for key, style in (("total", "k-o"), ("prepare", "-s"), ("fit", "-^"),
                       ("features", "-v"), ("networks", "-d")):
        ax_len.plot(n, [r[f"{key}_s"] for r in rows], style, label=key)
    ax_len.plot(n, [r["generate_s"] for r in rows], ":x", color="grey",
                label="SynthME generation")
    ax_len.set(xlabel="clip length (frames)", ylabel="seconds",
               title="reconstruct (full, DIS) vs clip length")
    ax_len.legend(fontsize=8)
    ax_len.grid(alpha=0.3)

    rows = result["mesh"]
    v = [r["n_vertices"] for r in rows]
    per_frame = {"render (ms/frame)": [r["render_ms"] for r in rows],
                 "rasterize only (ms/frame)": [r["rasterize_ms"] for r in rows],
                 "model forward (ms/frame)": [r["forward_ms"] / r["forward_frames"]
                                              for r in rows],
                 "features (ms/frame)": [1e3 * r["features_s"] / r["clip_frames"] for r in rows],
                 "networks (ms/frame)": [1e3 * r["networks_s"] / r["clip_frames"] for r in rows]}
    for (label, ys), style in zip(per_frame.items(), ("-o", "--o", "-s", "-v", "-d"),
                                  strict=True):
        ax_mesh.loglog(v, ys, style, label=label)
    for r in rows:
        ax_mesh.annotate(f"level {r['level']}", (r["n_vertices"], r["render_ms"]),
                         textcoords="offset points", xytext=(4, 6), fontsize=8)
    ax_mesh.set(xlabel="mesh vertices (Loop subdivision levels)", ylabel="ms per frame",
                title="vs mesh resolution")
    ax_mesh.legend(fontsize=7, loc="upper left")
    ax_mesh.grid(alpha=0.3, which="both")

    rows = result["many"]
    for workers in sorted({r["workers"] for r in rows}):
        sel = [r for r in rows if r["workers"] == workers]
        ax_many.plot([r["n_clips"] for r in sel], [r["wall_s"] for r in sel], "-o",
                     label=f"{workers} worker{'s' if workers > 1 else ''}")
    frames = rows[0]["frames_per_clip"] if rows else 0
    ax_many.set(xlabel=f"clips ({frames} frames each)", ylabel="wall seconds",
                title="prepare_many vs number of clips")
    ax_many.legend(fontsize=8)
    ax_many.grid(alpha=0.3)
    fig.suptitle(f"mxkit scaling ({result['cpu_count']} CPU cores, torch threads "
                 f"{result['torch_threads']}, quick={result['quick']})", fontsize=10)
    return fig


def write_figures(result: dict[str, Any], folder: Any, suffix: str = "") -> list[str]:
    """Write ``scaling<suffix>.png`` into ``folder`` (atomically); returns the file names."""
    from mxkit._io import atomic_open

    name = f"scaling{suffix}.png"
    with atomic_open(Path(folder) / name, parents=True) as fh:
        figure(result).savefig(fh, format="png", dpi=110)
    return [name]


def headline(result: dict[str, Any]) -> str:
    """One line for the runner's summary table."""
    ln = result["length"][-1]
    last = max(result["many"], key=lambda r: (r["n_clips"], r["workers"]))
    return (f"{ln['n_frames']} frames in {ln['total_s']:.0f} s; {last['n_clips']} clips with "
            f"{last['workers']} workers: x{last['speedup']:.2f}")


def to_markdown(result: dict[str, Any]) -> str:
    """Format :func:`run`'s result as Markdown tables (and link the figure, if written)."""
    load = result["load_average"]
    lines = [
        f"Scaling sweeps, {result['cpu_count']} CPU cores, torch threads "
        f"{result['torch_threads']}, 1-min load {_common.fmt_load(load)} at "
        f"start, quick={result['quick']}.",
        "",
    ]
    for name in result.get("figures", []):
        lines += [f"![scaling curves]({name})", ""]
    lines += [
        "Clip length: `reconstruct(clip, variant=\"full\")`, DIS flow (seconds)",
        "",
        "| frames | generate | prepare | fit | features | networks | total | ms/frame |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["length"]:
        lines.append(f"| {r['n_frames']} | {r['generate_s']:.2f} | {r['prepare_s']:.2f} | "
                     f"{r['fit_s']:.2f} | {r['features_s']:.2f} | {r['networks_s']:.2f} | "
                     f"{r['total_s']:.2f} | {r['ms_per_frame']:.0f} |")
    clip_frames = result["mesh"][0]["clip_frames"] if result["mesh"] else 0
    lines += [
        "",
        f"Mesh resolution (Loop subdivision): rasterizer at 256x256 and model forward in ms per "
        f"frame; fit, features, networks of a {clip_frames}-frame clip in seconds",
        "",
        "| level | vertices | triangles | subdivide s | render ms | rasterize ms | forward ms "
        "| fit s | features s | networks s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["mesh"]:
        lines.append(f"| {r['level']} | {r['n_vertices']} | {r['n_faces']} | "
                     f"{r['subdivide_s']:.2f} | {r['render_ms']:.1f} | {r['rasterize_ms']:.1f} | "
                     f"{r['forward_ms'] / r['forward_frames']:.2f} | {r['fit_s']:.2f} | "
                     f"{r['features_s']:.2f} | {r['networks_s']:.2f} |")
    frames = result["many"][0]["frames_per_clip"] if result["many"] else 0
    lines += [
        "",
        f"Number of clips: `prepare_many` of {frames}-frame clips (DIS), wall seconds",
        "",
        "| clips | workers | wall s | clips/s | speed-up |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in result["many"]:
        workers = (f"{r['workers']}" if r["used_workers"] == r["workers"]
                   else f"{r['workers']} (ran {r['used_workers']})")
        lines.append(f"| {r['n_clips']} | {workers} | {r['wall_s']:.2f} | "
                     f"{r['clips_per_s']:.2f} | {r['speedup']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short clips, levels 0 and 1")
    parser.add_argument("--figures", type=Path, default=None, metavar="DIR",
                        help="also write scaling.png into this folder")
    args = parser.parse_args(argv)
    result = run(quick=args.quick)
    if args.figures is not None:
        result["figures"] = write_figures(result, args.figures)
    print(to_markdown(result))


if __name__ == "__main__":
    main()
