"""Benchmark of mxkit.render: frames/s of the numba rasterizer vs pytorch3d's CPU rasterizer.

Workload: the embedded ``mh-head`` mesh (``mxkit/assets/mh_head_v1.npz``: ~5k vertices,
~9.7k triangles) or, when the asset is missing, a head-sized bumpy geodesic sphere with
8,000 triangles; a frontal perspective camera; 256x256 pixels; frames with a small head
rotation so that no two frames are identical. mxkit produces the shaded image (ambient +
Lambert + Phong) plus depth, face ids, barycentrics and vertex visibility per frame;
pytorch3d is timed on the same mesh and camera (hard rasterization with one face per pixel,
and the same plus its ``HardPhongShader``). Both use all the cores they see.

Differentiable rendering (:class:`mxkit.render.DifferentiableRenderer`, pytorch3d's soft
rasterizer + Phong shading, 8 faces per pixel) is timed on ``device`` -- forward only and
forward + backward to the vertices -- on a batch of frames (1 on the CPU, where it takes
seconds per frame; 8 on a GPU). This is the part that GPU mode (``--device cuda``) measures.

Run ``python -m benchmarks.bench_render [--quick]``; it prints a Markdown table.
"""

from __future__ import annotations

import os
import platform
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import _common

SIZE = 256


def head_mesh() -> tuple[np.ndarray, np.ndarray, str]:
    """Vertices (V, 3) in metres, faces (F, 3) and a short description of the mesh used."""
    path = Path(str(resources.files("mxkit") / "assets" / "mh_head_v1.npz"))
    if path.is_file():
        with np.load(path) as data:
            v = data["v_template"].astype(np.float64)
            f = data["faces"].astype(np.int64)
        return v, f, f"mh-head ({len(v)} vertices, {len(f)} triangles)"
    from mxkit.render import icosphere

    v, f = icosphere(20, radius=1.0)
    rng = np.random.default_rng(0)
    v = v * np.array([0.08, 0.11, 0.1]) * (1.0 + 0.02 * rng.standard_normal((len(v), 1)))
    return v, f, f"bumpy icosphere ({len(v)} vertices, {len(f)} triangles)"


def _frames(v: np.ndarray, n: int) -> np.ndarray:
    """``n`` copies of ``v`` rotated about +y by up to +-10 degrees."""
    out = []
    for a in np.radians(np.linspace(-10.0, 10.0, n)):
        c, s = np.cos(a), np.sin(a)
        R = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
        out.append(v @ R.T)
    return np.stack(out)


def _time(fn, repeats: int, *, warm: bool = True) -> float:
    """Best-of-``repeats`` wall time of ``fn()`` in seconds (after one untimed call if ``warm``)."""
    if warm:
        fn()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return float(best)


def _diff_rows(v: np.ndarray, f: np.ndarray, device: Any, *, quick: bool) -> list[dict[str, Any]]:
    """Frames/s of the differentiable renderer on ``device``: forward, forward + backward."""
    import torch

    from mxkit.render import DifferentiableRenderer

    dev = torch.device(device)
    size = 64 if quick else SIZE
    batch = 1 if dev.type == "cpu" else 8
    repeats = 1 if quick or dev.type == "cpu" else 5
    renderer = DifferentiableRenderer(size)
    verts = torch.tensor(_frames(v, batch), dtype=torch.float32, device=dev)
    faces = torch.tensor(f, device=dev)

    def forward() -> None:
        with torch.no_grad():
            renderer(verts, faces).image.sum().item()

    def backward() -> None:
        x = verts.clone().requires_grad_(True)
        out = renderer(x, faces)
        (out.image.mean() + out.silhouette.mean()).backward()
        _common.synchronize(dev)

    rows = []
    for name, fn, what in (("forward", forward, "image+silhouette+depth+face_id"),
                           ("forward + backward", backward, "+ d(image, silhouette)/d(vertices)")):
        sec = _time(fn, repeats, warm=dev.type != "cpu") / batch  # CUDA: start-up, kernels
        rows.append({"method": f"pytorch3d DifferentiableRenderer {name} ({dev.type}, "
                               f"{size}x{size}, batch {batch})",
                     "frames_per_s": 1.0 / sec, "ms_per_frame": 1e3 * sec, "outputs": what,
                     "device": str(dev)})
    return rows


def run(quick: bool = False, device: str = "cpu") -> dict[str, Any]:
    """Frames/s of mxkit's rasterizer and of pytorch3d's CPU rasterizer on a head mesh.

    Parameters
    ----------
    quick : bool, default False
        Fewer frames and repeats (a smoke run of a few seconds; the differentiable renderer
        at 64x64).
    device : str, default "cpu"
        Device of the differentiable-rendering rows (the other rows always run on the CPU).

    Returns
    -------
    dict
        ``benchmark``, ``image_size``, ``mesh``, ``n_frames``, ``quick``, ``machine``,
        ``cpu_count``, ``torch_threads``, ``rows`` (one per method: ``method``,
        ``frames_per_s``, ``ms_per_frame``, ``outputs``) and ``ratio`` (mxkit ``render``
        frames/s divided by pytorch3d raster + HardPhongShader frames/s) and
        ``ratio_batch`` (the same for ``render_batch``); ``diff_rows`` are the differentiable
        renderer's rows (also ``device``).
    """
    import torch

    from mxkit.render import (
        Camera,
        Light,
        rasterize,
        rasterize_pytorch3d,
        render,
        render_batch,
        to_pytorch3d_cameras,
        warmup,
    )
    from mxkit.render.diff import _pytorch3d

    v, f, mesh = head_mesh()
    n_frames = 8 if quick else 64
    repeats = 1 if quick else 3
    frames = _frames(v, n_frames)
    cam = Camera.frontal((SIZE, SIZE))
    light = Light(specular=0.2)
    warmup()

    def loop_render() -> None:
        for b in range(n_frames):
            render(frames[b], f, cam, light=light)

    def loop_raster() -> None:
        for b in range(n_frames):
            p = cam.project(frames[b])
            rasterize(np.column_stack([p.pixels, p.depth]), f, cam.image_size,
                      perspective_correct=True, cull_backfaces=True)

    def batch() -> None:
        render_batch(frames, f, cam, light=light)

    rows = []
    for name, fn, what in (
        ("mxkit render (1 frame per call)", loop_render, "image+depth+face_id+bary+visibility"),
        ("mxkit render_batch (threads)", batch, "image+depth+face_id+bary+visibility"),
        ("mxkit rasterize only", loop_raster, "depth+face_id+bary"),
    ):
        sec = _time(fn, repeats) / n_frames
        rows.append({"method": name, "frames_per_s": 1.0 / sec, "ms_per_frame": 1e3 * sec,
                     "outputs": what})

    # pytorch3d on the same mesh and camera (slow on a CPU: few frames)
    renderer, structures = _pytorch3d()
    n_p3d = 1 if quick else 2
    verts_t = torch.tensor(frames[:n_p3d], dtype=torch.float32)
    faces_t = torch.tensor(f)
    cams = to_pytorch3d_cameras(cam)
    d, amb, dif, spe = light._arrays()
    lights = renderer.DirectionalLights(direction=[d.tolist()], ambient_color=[amb.tolist()],
                                        diffuse_color=[dif.tolist()],
                                        specular_color=[spe.tolist()])
    settings = renderer.RasterizationSettings(image_size=SIZE, blur_radius=0.0,
                                              faces_per_pixel=1, perspective_correct=True,
                                              cull_backfaces=True)
    rasterizer = renderer.MeshRasterizer(cameras=cams, raster_settings=settings)
    shader = renderer.HardPhongShader(cameras=cams, lights=lights,
                                      materials=renderer.Materials(shininess=light.shininess))

    def p3d_raster() -> None:
        with torch.no_grad():
            for b in range(n_p3d):
                rasterizer(structures.Meshes(verts=[verts_t[b]], faces=[faces_t]))

    def p3d_shade() -> None:
        with torch.no_grad():
            for b in range(n_p3d):
                mesh_b = structures.Meshes(
                    verts=[verts_t[b]], faces=[faces_t],
                    textures=renderer.TexturesVertex(torch.full((1, len(v), 3), 0.8)))
                shader(rasterizer(mesh_b), mesh_b)

    for name, fn, what in (
        ("pytorch3d MeshRasterizer (CPU)", p3d_raster, "depth+face_id+bary"),
        ("pytorch3d raster + HardPhongShader (CPU)", p3d_shade, "image+depth+face_id+bary"),
    ):
        sec = _time(fn, 1, warm=False) / n_p3d  # seconds per frame: no warm-up needed
        rows.append({"method": name, "frames_per_s": 1.0 / sec, "ms_per_frame": 1e3 * sec,
                     "outputs": what})

    # agreement on the first frame (pixels where both see the same face)
    ours = render(frames[0], f, cam, light=light)
    ref = rasterize_pytorch3d(frames[0], f, cam, cull_backfaces=True)
    both = ours.mask & ref.mask
    fps = {r["method"]: r["frames_per_s"] for r in rows}
    p3d = fps["pytorch3d raster + HardPhongShader (CPU)"]
    try:
        n_cpu = len(os.sched_getaffinity(0))
    except AttributeError:
        n_cpu = os.cpu_count() or 1
    diff_rows = _diff_rows(v, f, device, quick=quick)
    return {
        "benchmark": "render",
        "device": diff_rows[0]["device"],
        "image_size": SIZE,
        "mesh": mesh,
        "n_frames": n_frames,
        "quick": quick,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu_count": n_cpu,
        "torch_threads": torch.get_num_threads(),
        "rows": rows,
        "ratio": fps["mxkit render (1 frame per call)"] / p3d,
        "ratio_batch": fps["mxkit render_batch (threads)"] / p3d,
        "face_id_agreement": float((ours.face_id == ref.face_id)[both].mean()),
        "mask_agreement": float((ours.mask == ref.mask).mean()),
        "diff_rows": diff_rows,
    }


def headline(result: dict[str, Any]) -> str:
    """One line for the runner's summary table."""
    fps = {r["method"]: r["frames_per_s"] for r in result["rows"]}
    return (f"mxkit {fps['mxkit render (1 frame per call)']:.0f} frames/s at "
            f"{result['image_size']} px, {result['ratio']:.0f}x pytorch3d CPU")


def to_markdown(result: dict[str, Any]) -> str:
    """Format :func:`run`'s result as a Markdown table."""
    lines = [
        f"Render benchmark: {result['image_size']}x{result['image_size']} px, {result['mesh']}, "
        f"{result['cpu_count']} CPU cores (torch threads {result['torch_threads']}), "
        f"quick={result['quick']}",
        "",
        "| method | frames/s | ms/frame | outputs |",
        "|---|---:|---:|---|",
    ]
    for r in result["rows"] + result.get("diff_rows", []):
        lines.append(f"| {r['method']} | {r['frames_per_s']:.2f} | {r['ms_per_frame']:.1f} | "
                     f"{r['outputs']} |")
    lines += [
        "",
        f"Speed-up over pytorch3d (raster + shading): {result['ratio']:.0f}x per call, "
        f"{result['ratio_batch']:.0f}x batched. Agreement with pytorch3d on frame 0: "
        f"face ids {100 * result['face_id_agreement']:.2f} % of pixels covered by both, "
        f"coverage {100 * result['mask_agreement']:.2f} % of pixels.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    _common.cli(__doc__, run, to_markdown, argv, quick_help="fewer frames and repeats",
                device=True)


if __name__ == "__main__":
    main()
