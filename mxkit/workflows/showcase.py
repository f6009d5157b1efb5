"""The face-model showcase (``mxkit model``): a few expressions rendered and exported."""

from __future__ import annotations

import time
from pathlib import Path

from .._checks import check_int
from .._io import atomic_write, display_path
from ..errors import MxkitError

__all__ = ["SHOWCASE_AUS", "export_model_showcase", "MAX_SHOWCASE_SIZE"]

#: Largest ``image_size`` of :func:`export_model_showcase` (pixels): the rasterizer's buffers
#: grow with its square (``mxkit model --size 100000`` asked for ~112 GiB).
MAX_SHOWCASE_SIZE = 4096


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

    from ..meshio import save_obj, save_ply
    from ..morph import load_face_model
    from ..render import Camera, render, warmup
    from ..viz import displacement_scalars, plot_meshes_side_by_side, save_html

    image_size = check_int(image_size, "image_size", minimum=16, maximum=MAX_SHOWCASE_SIZE)
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
    for i, name in zip(range(len(names)), iterator, strict=True):
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
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
    if not ok:
        raise MxkitError(f"could not encode {display_path(png)}")
    atomic_write(png, encoded.tobytes())
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
