"""The ``mxkit`` command line: one subcommand per stage, plus the ``demo`` main job.

Run ``mxkit --help`` (or ``python -m mxkit --help``) for the list; every subcommand has its
own ``--help``. Errors from mxkit (bad paths, bad options, malformed files) are printed as one
line on stderr and the process exits with status 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import MxkitError

__all__ = ["main", "build_parser"]

#: Expressions shown by ``mxkit model``: name -> FACS AU intensities in [0, 1].
SHOWCASE_AUS: dict[str, dict[str, float]] = {
    "neutral": {},
    "smile (AU6+12)": {"AU6": 0.6, "AU12": 0.8},
    "surprise (AU1+2+5+27)": {"AU1": 0.8, "AU2": 0.8, "AU5": 0.6, "AU27": 0.35},
    "frown (AU4+7)": {"AU4": 0.9, "AU7": 0.6},
    "disgust (AU9+10)": {"AU9": 0.8, "AU10": 0.6},
}


def _slug(name: str) -> str:
    return name.split(" ")[0]


def export_model_showcase(out: str | Path, *, model_name: str = "mh-head", image_size: int = 256,
                          progress: bool = True) -> dict[str, object]:
    """Render and export the embedded face model in a few expressions.

    Writes, under ``out``: ``renders.png`` (one rasterized frame per expression, side by
    side), ``<expression>.obj`` and ``<expression>.ply`` (PLY coloured by displacement from
    neutral, in mm), and ``viewer.html`` (a self-contained interactive plotly page with the
    meshes in linked 3D panels, coloured by displacement).

    Returns
    -------
    dict
        ``files`` (list of paths written), ``max_displacement_mm`` per expression,
        ``render_ms`` (mean time per rendered frame) and the model's sizes.
    """
    import cv2
    import numpy as np
    import torch

    from .meshio import save_html, save_obj, save_ply
    from .morph import load_face_model
    from .render import Camera, render, warmup
    from .viz import displacement_scalars, plot_meshes_side_by_side

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_face_model(model_name)
    faces = model.faces.numpy()
    names = list(SHOWCASE_AUS)
    with torch.no_grad():
        expr = torch.cat([model.aus_to_expression(SHOWCASE_AUS[n]) for n in names])
        verts = model(expression=expr).numpy()
    camera = Camera.frontal(image_size, distance=0.55, fov_deg=30.0, target=(0.0, -0.02, 0.0))
    warmup()
    files: list[Path] = []
    frames, maxdisp, t_render = [], {}, 0.0
    iterator = names
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(names, desc="exporting expressions", unit="mesh")
    for i, name in zip(range(len(names)), iterator):
        t0 = time.perf_counter()
        frames.append(render(verts[i], faces, camera, albedo=(0.85, 0.68, 0.58)).image)
        t_render += time.perf_counter() - t0
        disp = displacement_scalars(verts[0], verts[i]) if i else np.zeros(len(verts[i]))
        maxdisp[name] = round(float(disp.max()), 3)
        files.append(save_obj(out / f"{_slug(name)}.obj", verts[i], faces))
        files.append(save_ply(out / f"{_slug(name)}.ply", verts[i], faces, scalars=disp,
                              clim=(0.0, 10.0)))
    strip = (np.concatenate(frames, axis=1).clip(0, 1) * 255).round().astype(np.uint8)
    png = out / "renders.png"
    if not cv2.imwrite(str(png), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR)):
        raise MxkitError(f"could not write {png}")
    files.append(png)
    fig = plot_meshes_side_by_side(
        [(verts[i], name) for i, name in enumerate(names)], faces,
        scalars=[displacement_scalars(verts[0], verts[i]) for i in range(len(names))],
        colorbar_title="displacement (mm)", title=f"{model.name}: FACS AUs on the embedded model",
    )
    files.append(save_html(fig, out / "viewer.html"))
    return {"files": [str(f) for f in files], "max_displacement_mm": maxdisp,
            "render_ms": round(1000 * t_render / len(names), 1),
            "n_vertices": model.n_vertices, "n_faces": int(faces.shape[0])}


# ---------------------------------------------------------------------------- commands
def _cmd_model(args: argparse.Namespace) -> int:
    info = export_model_showcase(args.out, model_name=args.model, image_size=args.size,
                                 progress=not args.quiet)
    print(f"{args.model}: {info['n_vertices']} vertices, {info['n_faces']} triangles; "
          f"{info['render_ms']} ms per {args.size}x{args.size} render")
    for name, mm in info["max_displacement_mm"].items():  # type: ignore[union-attr]
        print(f"  {name:<24s} max displacement {mm:6.2f} mm")
    print(f"wrote {len(info['files'])} files to {args.out}")  # type: ignore[arg-type]
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    result = run_demo(args.out, preset=args.preset, seed=args.seed, variants=args.variants,
                      max_clips=args.max_clips, weights=args.weights, workers=args.workers,
                      progress=not args.quiet)
    summary = result.summary
    print(f"mxkit demo: {len(result.clips)} SynthME micro clips ({args.preset} preset, seed "
          f"{args.seed}), variants {', '.join(args.variants)}")
    cols = ["variant", "micro-motion L1 (mm)", "vertex L1 (mm)", "landmark NME", "SNR"]
    if "ratio to static" in summary:
        cols.append("ratio to static")
    print(summary[cols].to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.timing.items()))
    for name, path in result.files.items():
        print(f"{name:>10s}: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mxkit`` command (exposed for tests and docs)."""
    from ._version import __version__

    parser = argparse.ArgumentParser(
        prog="mxkit",
        description="Fine-grained 3D reconstruction of facial micro-expressions, and its "
                    "evaluation. Each subcommand runs one stage; `demo` runs the main job.",
    )
    parser.add_argument("--version", action="version", version=f"mxkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        return p

    from .demo import DEMO_SEED, DEMO_VARIANTS

    p = add("demo", _cmd_demo, "the main job on the embedded default: SynthME -> prepare -> "
            "reconstruct -> evaluate -> OUT/report.html")
    p.add_argument("--out", default="outputs/demo", help="output folder (default: %(default)s)")
    p.add_argument("--preset", default="small", help="SynthME preset: tiny, small or full "
                   "(default: %(default)s)")
    p.add_argument("--seed", type=int, default=DEMO_SEED, help="SynthME seed (default: "
                   "%(default)s; the shipped weights were trained on seed 0)")
    p.add_argument("--variants", nargs="+", default=list(DEMO_VARIANTS), metavar="VARIANT",
                   help="reconstruction variants (default: %(default)s)")
    p.add_argument("--max-clips", type=int, default=None, help="evaluate at most N micro clips")
    p.add_argument("--weights", default=None, help="network weights file (default: packaged)")
    p.add_argument("--workers", type=int, default=None, help="processes for the prepare step")

    p = add("model", _cmd_model, "render and export the face model in a few expressions")
    p.add_argument("--out", default="outputs/model", help="output folder (default: %(default)s)")
    p.add_argument("--model", default="mh-head", help="face model (default: %(default)s)")
    p.add_argument("--size", type=int, default=256, help="render size in pixels")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mxkit`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except MxkitError as exc:
        print(f"mxkit {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
