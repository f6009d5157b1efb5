"""Null motion on a still real face: how much motion does the full method invent?

Workload: a real photograph (scikit-image's ``astronaut``, read as data), the face scaled to
about **100 px** wide (the size of a face in a typical micro-expression recording) and to about
**200 px** (the photo as it is). A clip of :data:`N_FRAMES` frames at 200 fps shows that still
face, each frame translated by a random sub-pixel jitter (std :data:`JITTER_PX` px per axis,
exact Fourier shift, :func:`mxkit.testing.fourier_shift`) and with Gaussian sensor noise (std :data:`NOISE_DN` grey levels),
onset frame 4, apex frame 14. Nothing moves, so every reconstructed motion is an error.

Each **landmark option** of ``mxkit.prepare`` is run with the full method and the packaged
weights (their prepare settings, plus the option):

* ``detect`` -- dlib on every frame (the pipeline's default);
* ``detect+upscale4`` -- dlib on the face box enlarged 4x (``DlibBackend(upscale=4)``);
* ``detect+savgol`` -- dlib on every frame, Savitzky-Golay-smoothed tracks (``smooth='savgol'``);
* ``flow`` -- dlib at the onset only, then tracked with the optical flow (``track='flow'``);
* ``flow+upscale4`` -- the same with the upscaled predictor at the onset.

Metric: **mean |d| per coordinate over the face at the apex**, ``mean_v (|dx| + |dy| + |dz|) /
3`` of ``d = X[apex] - X[onset]`` over the ``'face'`` mask of ``mh-head`` (the fine mesh, model
frame, mm), averaged over :data:`N_SEEDS` noise seeds with a 95 % percentile bootstrap interval
over the seeds (2000 replicates; with few seeds it is coarse). Target (issue 15): <= 0.015 mm.
A typical SynthME micro-expression moves the face by about 0.1-0.2 mm on this measure.

Run ``python -m benchmarks.bench_null_motion [--quick]``. ``--quick``: one seed, the 100 px
face only (a smoke run, not a measurement).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

N_FRAMES = 24
ONSET, APEX = 4, 14
JITTER_PX = 0.2
NOISE_DN = 2.0
N_SEEDS = 5
FACE_WIDTHS = (100, 200)
TARGET_MM = 0.015
OPTIONS = ("detect", "detect+upscale4", "detect+savgol", "flow", "flow+upscale4")
#: The option the pipeline uses by default (``mxkit.prepare``'s ``track`` and the weights' settings).
DEFAULT_OPTION = "detect"


def still_clip(image: Any, *, face_width: float, seed: int, jitter_px: float = JITTER_PX,
               noise_dn: float = NOISE_DN) -> Any:
    """The still-face clip (an in-memory Clip): scaled, jittered, noisy copies of ``image``."""
    import cv2
    import numpy as np

    from mxkit.data import Clip
    from mxkit.face import detect_landmarks
    from mxkit.testing import fourier_shift

    width = float(np.ptp(detect_landmarks(image).points[:17, 0]))          # jaw to jaw, px
    scale = face_width / width
    base = image if abs(scale - 1) < 0.05 else cv2.resize(
        image, (round(image.shape[1] * scale), round(image.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    base = base.astype(np.float64)
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(N_FRAMES):
        du, dv = rng.normal(0.0, jitter_px, 2)
        f = fourier_shift(base, du, dv) + rng.normal(0.0, noise_dn, base.shape)
        frames.append(np.clip(np.round(f), 0, 255).astype(np.uint8))
    return Clip(dataset="null", subject="astronaut", clip_id=f"w{face_width}_s{seed}", frames=np.stack(frames),
                fps=200.0, onset=ONSET, apex=APEX, offset=N_FRAMES - 1)


def _options(name: str) -> dict[str, Any]:
    from mxkit.face import DlibBackend

    opts: dict[str, Any] = {}
    if name.startswith("flow"):
        opts["track"] = "flow"
    if name.endswith("upscale4"):
        opts["landmarks"] = DlibBackend(upscale=4)
    if name.endswith("savgol"):
        opts["smooth"] = "savgol"
    return opts


def run(quick: bool = False) -> dict[str, Any]:
    """Mean |d| at the apex of a still face per landmark option, face width and seed.

    Returns
    -------
    dict
        ``benchmark``, ``settings``, ``rows`` (one per option and face width: ``option``,
        ``face_px``, ``mean_abs_d_mm`` with ``low``/``high`` over seeds, ``per_seed``,
        ``meets_target``), ``seconds``.
    """
    import numpy as np
    from skimage.data import astronaut

    from mxkit.eval import bootstrap_interval
    from mxkit.morph import face_mask, load_face_model
    from mxkit.workflows import reconstruct, weights_settings

    model = load_face_model("mh-head")
    mask = face_mask(model, "face")
    base_opts = dict(weights_settings()["prepare"])
    seeds = range(1) if quick else range(N_SEEDS)
    widths = FACE_WIDTHS[:1] if quick else FACE_WIDTHS
    image = astronaut()
    rows = []
    t0 = time.perf_counter()
    for width in widths:
        clips = [still_clip(image, face_width=width, seed=s) for s in seeds]
        for name in OPTIONS:
            per_seed = []
            for clip in clips:
                rec = reconstruct(clip, model=model, variant="full", prepare_options={**base_opts, **_options(name)})
                v = rec.vertices.detach().cpu().numpy().astype(np.float64)
                d = np.abs(v[APEX] - v[ONSET])[mask].mean() * 1000.0
                per_seed.append(float(d))
            ci = bootstrap_interval(per_seed, n_boot=2000)
            rows.append({"option": name, "face_px": width, "mean_abs_d_mm": ci.value, "low": ci.low,
                         "high": ci.high, "per_seed": per_seed, "meets_target": bool(ci.value <= TARGET_MM)})
    return {"benchmark": "null_motion", "quick": bool(quick), "default_option": DEFAULT_OPTION,
            "settings": {"frames": N_FRAMES, "onset": ONSET, "apex": APEX, "jitter_px": JITTER_PX,
                         "noise_dn": NOISE_DN, "seeds": list(seeds), "face_widths_px": list(widths),
                         "prepare": {k: str(v) for k, v in base_opts.items()}, "target_mm": TARGET_MM},
            "rows": rows, "seconds": round(time.perf_counter() - t0, 1)}


def headline(result: dict[str, Any]) -> str:
    best = min(result["rows"], key=lambda r: r["mean_abs_d_mm"])
    return (f"best: {best['option']} at {best['face_px']} px, {best['mean_abs_d_mm']:.4f} mm "
            f"(target <= {TARGET_MM} mm)")


def to_markdown(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [f"Still astronaut face, {s['frames']} frames, jitter {s['jitter_px']} px (std per axis), sensor "
             f"noise {s['noise_dn']} grey levels, seeds {s['seeds']}; full method, packaged weights. Mean |d| per "
             f"coordinate over the face at the apex (mm), 95 % bootstrap interval over the seeds; target <= "
             f"{s['target_mm']} mm.", "", "| option | face width (px) | mean abs d (mm) | 95 % interval | meets target |",
             "|---|---|---|---|---|"]
    for r in result["rows"]:
        iv = "" if r["low"] != r["low"] else f"[{r['low']:.4f}, {r['high']:.4f}]"
        lines.append(f"| {r['option']} | {r['face_px']} | {r['mean_abs_d_mm']:.4f} | {iv} | "
                     f"{'yes' if r['meets_target'] else 'no'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Reconstructed motion of a still real face")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=None, help="also write the full result here")
    args = parser.parse_args(argv)
    result = run(args.quick)
    if args.json:
        import json

        from mxkit._io import atomic_write

        atomic_write(args.json, json.dumps(result, indent=1) + "\n")
    print(to_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
