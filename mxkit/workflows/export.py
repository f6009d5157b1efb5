"""What ``mxkit reconstruct`` writes for one reconstructed clip, and the dataset-level table.

:func:`export_reconstruction` writes, under one folder, each file atomically:

* ``reconstruction.npz`` -- everything needed to re-render the clip (:func:`reconstruction_arrays`;
  plain arrays only, ``np.load(..., allow_pickle=False)`` reads it);
* ``frames.csv`` -- the tidy per-frame table (:func:`frame_table`): time, phase, head pose,
  camera, expression weights (the 52 ARKit weights for ``mh-head``), FACS AU intensities
  recovered in 3D and motion per facial region;
* ``arkit.csv`` -- the ARKit weights and head pose as a Live Link Face take
  (:func:`mxkit.morph.write_live_link_csv`; ARKit models only: FLAME's expression coefficients
  are not ARKit weights);
* ``reconstruction.glb`` -- the reconstructed clip as an animated glTF 2.0 mesh (one morph target
  per frame, :func:`mxkit.meshio.save_glb`), for Blender and browser viewers;
* ``onset.obj`` and ``apex.obj`` -- the meshes at the two key frames;
* ``viewer.html`` -- a self-contained interactive page: onset and apex side by side, coloured
  by the apex - onset displacement (mm), with the ground truth's apex when there is one.

:func:`export_frame_tables` writes the per-frame tables of many reconstructions (a dataset) as one
Parquet (needs ``pyarrow``: ``pip install mxkit[parquet]``) or CSV file.

The reconstruction NPZ
----------------------
=====================  ================  =========================================================
key                    shape / dtype     meaning
=====================  ================  =========================================================
``format``             str               ``"mxkit-reconstruction"``; ``format_version`` int (2)
``vertices``           (T, V, 3) f4      final vertices, model frame (unposed), metres
``vertices_coarse``    (T, V, 3) f4      identity + ``expression`` (no offsets)
``vertex_offsets``     (T, V, 3) f4      MeshDeformer offsets (``vertices - vertices_coarse``)
``identity``           (T, K) f4         identity coefficients of each frame
``expression``         (T, E) f4         expression weights (coarse fit + DynamicEncoder residual)
``delta_expression``   (T, E) f4         the DynamicEncoder residuals alone
``expression_names``   (E,) str          the model's names of the expression columns
``rotation``           (T, 3) f4         head rotation, axis-angle (radians), model frame
``pose``               (T, J, 3) f4      joint rotations (FLAME: ``joint_names``); models with joints
``camera``             str               ``"weak_perspective"``: pixel ``(u, v) = s Pi R X + t2d``
``camera_scale``       (T,) f4           ``s``, pixels per metre
``camera_t2d``         (T, 2) f4         ``t2d``, pixels
``faces``              (F, 3) i8         triangles
``frames``             (T,) i8           0-based frame indices of the clip
``frame_numbers``      (T,) i8           the dataset's frame numbers (``frames`` when unknown)
``onset`` ...          i8                ``onset``, ``apex``, ``offset`` (0-based)
``fps``                f8                frame rate (NaN when unknown)
``clip_key``           (3,) str          ``(dataset, subject, clip_id)``
``variant``            str               the reconstruction variant
``model_name``         str               e.g. ``"mh-head"``, ``"flame"``
``model_version``      str               the model's version (mh-head) or release variant (FLAME)
``model_fingerprint``  str               content sha256 of a user-supplied model file ("" if none)
``mxkit_version``      str
``dynamic_code``       (D,) f4           the clip's dynamic code (encoder variants only)
=====================  ================  =========================================================

Re-rendering: ``model(identity, expression, pose=pose) + vertex_offsets == vertices``; posed in the
image: rotate by ``rotation`` and project with ``camera_scale`` / ``camera_t2d``
(:mod:`mxkit.camera`). ``identity``, ``rotation`` and the camera are absent only for a
reconstruction built without a coarse fit.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError, InputValueError, OptionError

__all__ = ["ReconstructionExport", "reconstruction_arrays", "export_reconstruction",
           "frame_table", "export_frame_tables", "write_arkit_csv", "write_glb",
           "RECONSTRUCTION_FORMAT_VERSION"]

#: Version of the layout of ``reconstruction.npz`` (see the module docstring).
RECONSTRUCTION_FORMAT_VERSION = 2


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


def _np(t: Any, dtype: Any = np.float32) -> np.ndarray:
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    return np.asarray(t).astype(dtype)


def _model_version(model: Any) -> str:
    meta = getattr(model, "meta", {}) or {}
    for key in ("version", "variant"):
        if meta.get(key) not in (None, ""):
            return str(meta[key])
    return "unknown"


def _fps(rec: Any, fps: float | None) -> float:
    value = rec.fps if fps is None else fps
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
            or value <= 0:
        raise InputValueError(f"the frame rate of reconstruction {rec.clip_key} is unknown "
                              f"({value!r}); pass fps= to write timed files (glTF, ARKit CSV)")
    return float(value)


def _has_arkit(model: Any) -> bool:
    from ..morph import ARKIT_NAMES

    return model.expression_kind == "arkit" and set(ARKIT_NAMES) <= set(model.expression_names)


def reconstruction_arrays(rec: Any, model: Any) -> dict[str, np.ndarray]:
    """The arrays of ``reconstruction.npz`` (see the module docstring): no object arrays."""
    from .._version import __version__

    T = rec.n_frames
    frames = np.arange(T, dtype=np.int64)
    nums = rec.frame_numbers
    arrays: dict[str, np.ndarray] = {
        "format": np.asarray("mxkit-reconstruction"),
        "format_version": np.int64(RECONSTRUCTION_FORMAT_VERSION),
        "vertices": _np(rec.vertices), "vertices_coarse": _np(rec.vertices_coarse),
        "vertex_offsets": _np(rec.vertex_offsets), "expression": _np(rec.expression),
        "delta_expression": _np(rec.delta_expression),
        "expression_names": np.asarray(list(model.expression_names), dtype=str),
        "faces": model.faces.cpu().numpy().astype(np.int64),
        "frames": frames,
        "frame_numbers": frames.copy() if nums is None else np.asarray(nums, dtype=np.int64),
        "onset": np.int64(rec.onset), "apex": np.int64(rec.apex), "offset": np.int64(rec.offset),
        "fps": np.float64(rec.fps), "clip_key": np.asarray([str(k) for k in rec.clip_key], dtype=str),
        "variant": np.asarray(rec.variant), "model_name": np.asarray(rec.model_name),
        "model_version": np.asarray(_model_version(model)),
        "model_fingerprint": np.asarray(str((model.meta or {}).get("content_sha256", ""))),
        "mxkit_version": np.asarray(__version__),
    }
    fit = rec.coarse
    if fit is not None:
        arrays.update({
            "identity": _np(fit.identity_per_frame), "rotation": _np(fit.rotation),
            "camera": np.asarray("weak_perspective"), "camera_scale": _np(fit.scale),
            "camera_t2d": _np(fit.t2d),
        })
        pose = getattr(fit, "pose", None)
        if pose is not None:
            arrays["pose"] = _np(pose)
            arrays["joint_names"] = np.asarray(list(getattr(model, "joint_names", ())), dtype=str)
    if rec.dynamic_code is not None:
        arrays["dynamic_code"] = _np(rec.dynamic_code)
    return arrays


def _phase(T: int, onset: int, apex: int, offset: int) -> np.ndarray:
    frames = np.arange(T)
    return np.where(frames < onset, "neutral",
                    np.where(frames <= apex, "onset-apex",
                             np.where(frames <= offset, "apex-offset", "after")))


def _euler_deg(rotation: Any) -> np.ndarray:
    """(pitch, yaw, roll) in degrees of axis-angle rotations (T, 3)."""
    import torch

    from ..geometry import axis_angle_to_matrix, matrix_to_euler

    r = torch.as_tensor(_np(rotation, np.float64))
    return np.degrees(matrix_to_euler(axis_angle_to_matrix(r)).numpy())


def frame_table(rec: Any, model: Any) -> Any:
    """The tidy per-frame table of a reconstruction: one row per frame.

    Columns, in order:

    * ``dataset``, ``subject``, ``clip_id``, ``variant``, ``model``;
    * ``frame`` (0-based), ``frame_number`` (the dataset's), ``time_s`` (``frame / fps``; NaN
      when the frame rate is unknown), ``phase`` (``neutral`` before the onset,
      ``onset-apex``, ``apex-offset``, ``after``);
    * head pose ``head_pitch_deg``, ``head_yaw_deg``, ``head_roll_deg`` (the fitted head
      rotation as ``Rz(roll) Ry(yaw) Rx(pitch)``: pitch about the model's +x, the subject's
      left; yaw about +y, up; roll about +z, toward the camera) and the weak-perspective camera
      ``scale_px_per_m``, ``tu_px``, ``tv_px`` (NaN without a coarse fit);
    * for models with joints (FLAME), ``<joint>_pitch_deg``, ``<joint>_yaw_deg``,
      ``<joint>_roll_deg`` of each joint (jaw opening is ``jaw_pitch_deg``);
    * one column per expression coefficient under the model's names (for ``mh-head`` the 52
      ARKit weights ``eyeBlinkLeft`` ... ``tongueOut``, coarse fit + DynamicEncoder residuals);
    * for ARKit models, the FACS AU intensities in [0, 1] recovered in 3D, ``AU1`` ... ``AU45``
      (:meth:`~mxkit.morph.FaceModel.expression_to_aus` of those weights: the mean weight of
      each AU's shapes; the MeshDeformer's vertex offsets are not part of them);
    * ``motion_rms_mm``, ``motion_max_mm`` -- RMS and maximum over the vertices of the
      displacement since the onset (final vertices, mm), and ``motion_<region>_mm`` -- the RMS
      over each facial region's vertices (``model.region_names``);
    * ``offset_rms_mm`` (MeshDeformer offsets) and ``coarse_error_px`` (landmark
      reprojection error of the coarse fit; NaN without one).

    Parameters
    ----------
    rec : Reconstruction
    model : FaceModel
        The model of the reconstruction (names, regions, AU view).

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd
    import torch

    T = rec.n_frames
    if tuple(rec.vertices.shape[1:]) != (model.n_vertices, 3):
        raise InputValueError(f"the reconstruction has {rec.vertices.shape[1]} vertices; model "
                              f"{model.name!r} has {model.n_vertices}")
    key = tuple(str(k) for k in rec.clip_key) + ("", "", "")
    frames = np.arange(T)
    nums = frames if rec.frame_numbers is None else np.asarray(rec.frame_numbers)
    fps = rec.fps if rec.fps and math.isfinite(rec.fps) else np.nan
    cols: dict[str, Any] = {
        "dataset": key[0], "subject": key[1], "clip_id": key[2], "variant": rec.variant,
        "model": rec.model_name, "frame": frames, "frame_number": nums, "time_s": frames / fps,
        "phase": _phase(T, rec.onset, rec.apex, rec.offset),
    }
    fit = rec.coarse
    nan = np.full(T, np.nan)
    if fit is not None:
        head = _euler_deg(fit.rotation)
        scale, t2d = _np(fit.scale, np.float64), _np(fit.t2d, np.float64)
        err = _np(fit.error_px, np.float64)
    else:
        head, scale, t2d, err = np.full((T, 3), np.nan), nan, np.full((T, 2), np.nan), nan
    cols.update({"head_pitch_deg": head[:, 0], "head_yaw_deg": head[:, 1],
                 "head_roll_deg": head[:, 2], "scale_px_per_m": scale, "tu_px": t2d[:, 0],
                 "tv_px": t2d[:, 1]})
    pose = getattr(fit, "pose", None) if fit is not None else None
    if pose is not None:
        for j, jname in enumerate(getattr(model, "joint_names", ())):
            e = _euler_deg(pose[:, j])
            cols.update({f"{jname}_pitch_deg": e[:, 0], f"{jname}_yaw_deg": e[:, 1],
                         f"{jname}_roll_deg": e[:, 2]})
    expr = _np(rec.expression, np.float64)
    cols.update({name: expr[:, e] for e, name in enumerate(model.expression_names)})
    if model.expression_kind == "arkit" and model.au_names:
        aus = model.expression_to_aus(torch.as_tensor(expr)).detach().cpu().double().numpy()
        cols.update({au: aus[:, a] for a, au in enumerate(model.au_names)})
    verts = rec.vertices.detach().double().cpu()
    mot = torch.linalg.norm(verts - verts[rec.onset], dim=-1).numpy() * 1e3        # (T, V) mm
    cols["motion_rms_mm"] = np.sqrt((mot ** 2).mean(1))
    cols["motion_max_mm"] = mot.max(1)
    for r, region in enumerate(model.region_names):
        mask = model.region_labels == r
        if mask.any():
            cols[f"motion_{region}_mm"] = np.sqrt((mot[:, mask] ** 2).mean(1))
    off = torch.linalg.norm(rec.vertex_offsets.detach().double().cpu(), dim=-1).numpy() * 1e3
    cols["offset_rms_mm"] = np.sqrt((off ** 2).mean(1))
    cols["coarse_error_px"] = err
    return pd.DataFrame(cols)


def write_arkit_csv(rec: Any, path: str | os.PathLike, *, model: Any,
                    fps: float | None = None) -> Path:
    """Write a reconstruction's ARKit weights and head pose as a Live Link Face CSV take.

    Parameters
    ----------
    rec : Reconstruction
    path : path-like
    model : FaceModel
        An ARKit model (``mh-head``): its expression columns are the 52 ARKit weights.
    fps : float, optional
        Frame rate (default: the reconstruction's).

    Returns
    -------
    Path

    Notes
    -----
    The weights are clipped to [0, 1], the range of the app (the DynamicEncoder's residuals can
    take a weight slightly outside it); the head angles are radians as in the module docstring
    of :mod:`mxkit.morph.livelink`; the eye angles are 0 (``mh-head`` moves its eyes with the
    ``eyeLook*`` weights).

    Raises
    ------
    InputValueError
        The model's expressions are not the 52 ARKit shapes, or the frame rate is unknown.
    """
    from ..morph import ARKIT_NAMES, write_live_link_csv

    if not _has_arkit(model):
        raise InputValueError(f"model {model.name!r} has {model.expression_kind!r} expression "
                              "coefficients, not the 52 ARKit weights a Live Link CSV holds")
    rate = _fps(rec, fps)
    expr = _np(rec.expression, np.float64)
    weights = expr[:, model.expression_index(list(ARKIT_NAMES))]
    head = None
    if rec.coarse is not None:
        e = np.radians(_euler_deg(rec.coarse.rotation))           # (pitch, yaw, roll)
        head = e[:, [1, 0, 2]]                                    # (yaw, pitch, roll)
    return write_live_link_csv(path, np.clip(weights, 0.0, 1.0), fps=rate, head=head)


def write_glb(rec: Any, path: str | os.PathLike, *, model: Any, fps: float | None = None) -> Path:
    """Write a reconstruction as an animated glTF 2.0 file (one morph target per frame).

    The final vertices (model frame, metres) of every frame, timed by the frame rate
    (:func:`mxkit.meshio.save_glb`); ``asset.extras`` records the clip, variant, model and key
    frames.

    Parameters
    ----------
    rec : Reconstruction
    path : path-like
    model : FaceModel
        The model of the reconstruction (faces).
    fps : float, optional
        Frame rate (default: the reconstruction's).

    Returns
    -------
    Path
    """
    from ..meshio import save_glb

    rate = _fps(rec, fps)
    key = [str(k) for k in rec.clip_key]
    nums = range(rec.n_frames) if rec.frame_numbers is None else rec.frame_numbers
    extras = {"clip_key": key, "variant": rec.variant, "model": rec.model_name,
              "onset": rec.onset, "apex": rec.apex, "offset": rec.offset, "fps": rate}
    return save_glb(path, rec.vertices, model.faces, fps=rate,
                    name="/".join(k for k in key if k) or "mxkit reconstruction",
                    frame_names=[f"frame_{n:04d}" for n in nums], extras=extras)


def export_frame_tables(items: Sequence[Any], path: str | os.PathLike, *, model: Any = None) -> Path:
    """Write the per-frame tables of many clips as one file (atomically): a dataset-level table.

    Parameters
    ----------
    items : sequence of Reconstruction or pandas.DataFrame
        Reconstructions (tabulated with :func:`frame_table`) or tables made by it.
    path : path-like
        ``.parquet`` (needs ``pyarrow``) or ``.csv``.
    model : FaceModel, optional
        Needed for reconstructions.

    Returns
    -------
    Path

    Raises
    ------
    OptionError
        Another file extension.
    BackendUnavailableError
        Parquet without ``pyarrow`` (install ``mxkit[parquet]``, or write ``.csv``).
    InputValueError
        No items, or a reconstruction without ``model``.
    """
    import pandas as pd

    from .._io import atomic_write

    path = Path(path)
    kind = path.suffix.lower()
    if kind not in (".parquet", ".csv"):
        raise OptionError(f"the dataset table is written as .parquet or .csv; got {path.name!r}")
    tables = []
    for item in items:
        if isinstance(item, pd.DataFrame):
            tables.append(item)
            continue
        if model is None:
            raise InputValueError("export_frame_tables needs model= to tabulate reconstructions")
        tables.append(frame_table(item, model))
    if not tables:
        raise InputValueError("export_frame_tables got no reconstructions")
    table = pd.concat(tables, ignore_index=True)
    if kind == ".csv":
        return atomic_write(path, table.to_csv(index=False))
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError(
            f"writing {path.name} needs pyarrow: pip install 'mxkit[parquet]' (or pyarrow), or "
            "write the table as .csv") from exc
    buf = io.BytesIO()
    table.to_parquet(buf, index=False, engine="pyarrow")
    return atomic_write(path, buf.getvalue())


def export_reconstruction(rec: Any, out: str | os.PathLike, *, model: Any, truth: Any = None,
                          title: str | None = None, fps: float | None = None) -> ReconstructionExport:
    """Write a reconstruction's arrays, tables, animation, key-frame meshes and viewer under ``out``.

    The files are listed in the module docstring; ``arkit.csv`` only for ARKit models.

    Parameters
    ----------
    rec : Reconstruction
    out : path-like
        Output folder (created).
    model : FaceModel
        The model of the reconstruction (faces, names, regions).
    truth : SynthTruth, optional
        3D ground truth (SynthME): shown in the viewer and scored (micro-motion L1, vertex L1).
    title : str, optional
        Viewer title.
    fps : float, optional
        Frame rate of the timed files (default: the reconstruction's).

    Returns
    -------
    ReconstructionExport

    Raises
    ------
    InputValueError
        The frame rate is unknown and ``fps`` is not given.
    """
    from .._io import atomic_write
    from ..meshio import save_obj
    from ..viz import plot_meshes_side_by_side, save_html

    rate = _fps(rec, fps)                          # fail before writing anything
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    arrays = reconstruction_arrays(rec, model)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    verts, faces = arrays["vertices"], arrays["faces"]
    files = [atomic_write(out / "reconstruction.npz", buf.getvalue()),
             atomic_write(out / "frames.csv", frame_table(rec, model).to_csv(index=False))]
    if _has_arkit(model):
        files.append(write_arkit_csv(rec, out / "arkit.csv", model=model, fps=rate))
    files += [write_glb(rec, out / "reconstruction.glb", model=model, fps=rate),
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
