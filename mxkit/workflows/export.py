"""What ``mxkit reconstruct`` writes for one reconstructed clip.

:func:`export_reconstruction` writes, under one folder, each file atomically:

* ``reconstruction.npz`` -- the arrays of the :class:`~mxkit.workflows.Reconstruction`
  (``vertices``, ``vertices_coarse``, ``vertex_offsets``, ``expression``,
  ``delta_expression``, ``faces``, ``onset``, ``apex``, ``offset``, ``fps``, ``clip_key``,
  ``variant``, ``model_name`` and, with an encoder, ``dynamic_code``), float32 metres;
* ``onset.obj`` and ``apex.obj`` -- the meshes at the two key frames;
* ``viewer.html`` -- a self-contained interactive page: onset and apex side by side, coloured
  by the apex - onset displacement (mm), with the ground truth's apex when there is one.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ReconstructionExport", "reconstruction_arrays", "export_reconstruction"]


@dataclass(frozen=True)
class ReconstructionExport:
    """What :func:`export_reconstruction` wrote.

    Attributes
    ----------
    files : list of Path
    metrics : dict of str to float
        Against the 3D ground truth when there was one: ``micro_motion_l1``, ``vertex_l1`` and
        ``motion_true`` (mm); empty otherwise.
    """

    files: list[Path] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


def reconstruction_arrays(rec: Any, model: Any) -> dict[str, np.ndarray]:
    """The arrays of ``reconstruction.npz`` (see the module docstring)."""

    def f32(t: Any) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float32)

    arrays = {"vertices": f32(rec.vertices), "vertices_coarse": f32(rec.vertices_coarse),
              "vertex_offsets": f32(rec.vertex_offsets), "expression": f32(rec.expression),
              "delta_expression": f32(rec.delta_expression), "faces": model.faces.cpu().numpy(),
              "onset": np.int64(rec.onset), "apex": np.int64(rec.apex), "offset": np.int64(rec.offset),
              "fps": np.float64(rec.fps), "clip_key": np.asarray(rec.clip_key),
              "variant": np.asarray(rec.variant), "model_name": np.asarray(rec.model_name)}
    if rec.dynamic_code is not None:
        arrays["dynamic_code"] = f32(rec.dynamic_code)
    return arrays


def export_reconstruction(rec: Any, out: str | os.PathLike, *, model: Any, truth: Any = None,
                          title: str | None = None) -> ReconstructionExport:
    """Write a reconstruction's arrays, key-frame meshes and viewer under ``out`` (created).

    Parameters
    ----------
    rec : Reconstruction
    out : path-like
        Output folder.
    model : FaceModel
        The model of the reconstruction (faces).
    truth : SynthTruth, optional
        3D ground truth (SynthME): shown in the viewer and scored (micro-motion L1, vertex L1).
    title : str, optional
        Viewer title.

    Returns
    -------
    ReconstructionExport
    """
    from .._io import atomic_write
    from ..meshio import save_obj
    from ..viz import plot_meshes_side_by_side, save_html

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    arrays = reconstruction_arrays(rec, model)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    verts, faces = arrays["vertices"], arrays["faces"]
    files = [atomic_write(out / "reconstruction.npz", buf.getvalue()),
             save_obj(out / "onset.obj", verts[rec.onset], faces),
             save_obj(out / "apex.obj", verts[rec.apex], faces)]
    disp = np.linalg.norm(verts[rec.apex] - verts[rec.onset], axis=1) * 1e3
    meshes = [(verts[rec.onset], "onset"), (verts[rec.apex], f"apex ({rec.variant})")]
    scalars = [np.zeros_like(disp), disp]
    metrics: dict[str, float] = {}
    if truth is not None and callable(getattr(truth, "vertices", None)):
        from ..eval import evaluate_reconstruction

        gt = truth.vertices(model)
        meshes.append((gt[rec.apex], "apex (ground truth)"))
        scalars.append(np.linalg.norm(gt[rec.apex] - gt[rec.onset], axis=1) * 1e3)
        m = evaluate_reconstruction(rec, truth, model, regions=False, aus=None, meshes=("fine",))
        metrics = {k: float(m.value(k)) for k in ("micro_motion_l1", "vertex_l1", "motion_true")}
    fig = plot_meshes_side_by_side(meshes, faces, scalars=scalars, colorbar_title="apex − onset (mm)",
                                   title=title or f"{rec.variant} reconstruction")
    files.append(save_html(fig, out / "viewer.html"))
    return ReconstructionExport(files=files, metrics=metrics)
