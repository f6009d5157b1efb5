"""Depth consistency: a reconstruction held against the depth a sensor measured (CAS(ME)³,
SynthME's CAS(ME)³ layout) -- real 3D evidence where no 3D ground truth exists.

:func:`depth_consistency` places the reconstructed mesh in the depth camera's frame with one
**rigid + scale alignment fitted on the onset frame**, renders its depth for every frame with
mxkit's z-buffer rasterizer, and compares it with the measured depth per facial region. Every
number comes with the **sensor's noise floor**, estimated from the neutral frames of the
measured depth, and with what that noise alone would make the number read.

Definitions (``D_m`` measured and ``D_r`` rendered depth in mm at a pixel, ``t`` a frame;
region pixels are those where the rendered mesh shows a face of that region and the sensor
has a reading; means are over those pixels, and over frames where several frames are used):

======================  ========================================================================
metric                  definition
======================  ========================================================================
``depth_error``         ``mean_{t,p} |D_r - D_m|`` over all frames, mm
``depth_error_onset``   the same on the onset frame (where the alignment was fitted), mm
``depth_error_apex``    the same on the apex frame, mm
``depth_bias``          ``mean_{t,p} (D_r - D_m)``: > 0 when the reconstruction lies behind the
                        measured surface, mm
``change_measured``     onset -> apex depth change at a pixel, ``D_m[apex] - D_m[onset]``,
                        averaged over the pixels the region covers at both frames (signed: < 0
                        is toward the camera), mm
``change_recon``        the same for the rendered depth, ``D_r[apex] - D_r[onset]``, mm
``change_error``        ``mean_p |(D_r[apex] - D_r[onset]) - (D_m[apex] - D_m[onset])|``, mm
======================  ========================================================================

Depth changes are taken at fixed pixels (along each pixel's ray), for the measured and the
rendered depth alike, so both see the same thing: a surface moving toward the camera, or
across a slope.

**Noise floor** ``sigma`` (column ``noise_floor_mm``, per region): the sensor's per-pixel
temporal standard deviation on the ``n`` neutral frames (default: the frames before the onset),
from temporal differences at each pixel, which a smooth motion of the head barely affects:
with ``n >= 3`` frames second differences, ``sigma^2 = mean_p sum_t (D_m[t+1, p] - 2 D_m[t, p]
+ D_m[t-1, p])^2 / (6 (n - 2))`` (a constant-velocity drift cancels), with 2 frames first
differences, ``sigma^2 = mean_p sum_t (D_m[t+1, p] - D_m[t, p])^2 / (2 (n - 1))``; over the
pixels the region covers on the onset frame, that the sensor reads on every neutral frame and
that lie away from depth edges (no 4-neighbour of the rendered onset depth more than
``edge_mm`` away: at a silhouette a sub-pixel head motion changes the depth by centimetres).
Both equal the noise variance for white noise (1 mm quantization included); head motion that
is not smooth over the neutral frames makes ``sigma`` an over-estimate (SynthME at 30 fps with
8 neutral frames: +0.5 to +5 % at sigma = 1 mm). Column ``noise_level_mm`` is what the
metric would read from white noise of that ``sigma`` alone, on a perfect reconstruction:
``sigma sqrt(2/pi)`` for the depth errors (mean absolute value of the noise), ``2 sigma /
sqrt(pi)`` for ``change_error`` (the measured change carries the noise of two frames),
``sqrt(2) sigma / sqrt(n)`` -- the standard error of the mean over ``n`` pixels -- for the
signed changes, and ``sigma / sqrt(n)`` for ``depth_bias``. A reconstruction is consistent
with the measured depth to the extent its numbers approach these levels. These levels leave
out the uncertainty of the onset alignment itself, which is fitted on one noisy frame (on
SynthME with 1 mm noise its scale is off by up to ~0.1 %, compensated by its translation: a
``depth_bias`` of a few hundredths of a mm).

**Alignment.** The reconstruction's onset mesh (posed with ``pose`` when given) is first
placed with ``camera`` (intrinsics of the depth sensor, extrinsics the initial placement).
Then, at most ``align_iters`` times (projective point-to-plane ICP with scale): it is
rendered; every pixel it covers with a sensor reading pairs the rendered surface point ``x``
(normal ``n`` of the rendered mesh) with the measured point ``y`` back-projected through the
intrinsics; pairs whose residual ``|n . (x - y)|`` exceeds ``trim`` times the median are
dropped; and the linearised similarity (rotation, translation, isotropic scale) minimising
``sum (n . (s R x + t - y))^2`` is solved and composed. The same transform is then applied to
every frame, so a drift of the reconstruction after the onset counts as error. It converges
from a placement within a few pixels and millimetres; for a real sequence build the initial
``camera`` from the coarse fit's 2D projection of the onset frame with
:func:`camera_from_weak_perspective` (CAS(ME)³'s depth maps are aligned to its colour frames).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._checks import check_shape
from ..errors import InputValueError, ShapeError
from ..geometry import SimilarityTransform, apply_similarity, axis_angle_to_matrix, vertex_normals
from .reconstruction import _neutral_indices, face_mask

__all__ = ["DepthConsistency", "depth_consistency", "depth_noise_floor", "camera_from_weak_perspective",
           "DEPTH_METRICS", "DEPTH_TABLE_COLUMNS"]

#: Metrics of :func:`depth_consistency`, in table order (see the module docstring).
DEPTH_METRICS = ("depth_error", "depth_error_onset", "depth_error_apex", "depth_bias",
                 "change_measured", "change_recon", "change_error")
#: Columns of :attr:`DepthConsistency.table`.
DEPTH_TABLE_COLUMNS = ("region", "metric", "value", "unit", "noise_floor_mm", "noise_level_mm",
                       "n_pixels", "n_frames")
_ABS = math.sqrt(2.0 / math.pi)


@dataclass(frozen=True, eq=False)
class DepthConsistency:
    """Result of :func:`depth_consistency`.

    Attributes
    ----------
    table : pandas.DataFrame
        Tidy, one row per (region, metric): columns :data:`DEPTH_TABLE_COLUMNS`; ``region``
        ``'face'`` (every evaluated pixel) then the model's facial regions.
    noise_floor_mm : dict of str to float
        Sensor noise floor ``sigma`` per region (mm).
    transform : SimilarityTransform
        The onset alignment in the camera frame (``scale``, ``R``, ``t`` in metres), applied
        after ``camera``'s extrinsics.
    rendered_depth : numpy.ndarray, shape (T, H, W), float32
        The aligned reconstruction's depth, mm (NaN where it does not cover the pixel).
    region_map : numpy.ndarray, shape (T, H, W), int16
        Region index per pixel (into ``regions``; -1 where nothing is evaluated).
    regions : tuple of str
        Region names of ``region_map``.
    alignment : dict
        ``n_pairs`` (pixels kept after the alignment), ``rms_mm`` (their RMS depth residual
        after the alignment), ``scale``, ``iterations``.
    onset, apex : int
    neutral : tuple of int
        Frames the noise floor was estimated on.
    """

    table: pd.DataFrame
    noise_floor_mm: dict[str, float]
    transform: SimilarityTransform
    rendered_depth: np.ndarray = field(repr=False)
    region_map: np.ndarray = field(repr=False)
    regions: tuple[str, ...]
    alignment: dict[str, Any]
    onset: int
    apex: int
    neutral: tuple[int, ...]

    def to_dataframe(self) -> pd.DataFrame:
        """The tidy :attr:`table` (a copy)."""
        return self.table.copy()

    def value(self, metric: str, region: str = "face") -> float:
        """One number of the table."""
        hit = self.table[(self.table["metric"] == metric) & (self.table["region"] == region)]
        if hit.empty:
            raise InputValueError(f"no {metric!r} for region {region!r}; metrics {list(DEPTH_METRICS)}, "
                                  f"regions {sorted(set(self.table['region']))}")
        return float(hit["value"].iloc[0])

    def summary(self) -> dict[str, Any]:
        """The ``'face'`` row of every metric with its noise floor, and the alignment."""
        face = self.table[self.table["region"] == "face"]
        out = {m: round(float(v), 4) for m, v in zip(face["metric"], face["value"], strict=True)}
        out["noise_floor_mm"] = round(self.noise_floor_mm.get("face", float("nan")), 4)
        out.update({f"alignment_{k}": v for k, v in self.alignment.items()})
        return out


# ----------------------------------------------------------------------------- inputs
def _vertices(recon: Any) -> np.ndarray:
    v = getattr(recon, "vertices", recon)
    if torch.is_tensor(v):
        v = v.detach().cpu().double().numpy()
    v = np.asarray(v, dtype=np.float64)
    check_shape(v, ("T", "V", 3), "recon.vertices")
    if not np.isfinite(v).all():
        raise InputValueError("the reconstruction's vertices must be finite")
    return v


def _measured(depth: Any, T: int) -> np.ndarray:
    if hasattr(depth, "load_depth"):
        depth = depth.load_depth()
    d = np.asarray(depth, dtype=np.float64)
    check_shape(d, ("T", "H", "W"), "depth")
    if d.shape[0] != T:
        raise ShapeError(f"depth has {d.shape[0]} frames but the reconstruction has {T}")
    d = d.copy()
    d[~np.isfinite(d) | (d <= 0)] = np.nan
    return d


def _posed(v: np.ndarray, pose: Any) -> np.ndarray:
    if pose is None:
        return v
    try:
        rotation, translation = pose
    except (TypeError, ValueError):
        raise InputValueError("pose must be (rotation (T, 3) axis-angle radians, translation (T, 3) metres)") from None
    rot = torch.as_tensor(np.asarray(rotation, dtype=np.float64))
    tr = np.asarray(translation, dtype=np.float64)
    check_shape(rot, (v.shape[0], 3), "pose rotation")
    check_shape(tr, (v.shape[0], 3), "pose translation")
    R = axis_angle_to_matrix(rot).numpy()
    return np.matmul(v, R.transpose(0, 2, 1)) + tr[:, None, :]


def camera_from_weak_perspective(intrinsics: Any, *, scale: float, t2d: Sequence[float],
                                 image_size: Sequence[int]) -> Any:
    """A perspective depth camera placing a weak-perspective fit (``mxkit.fit.CoarseFit``
    frame: ``u = scale * (Pi R X) + t2d``) at the matching distance.

    The model origin goes to depth ``z0 = f / scale`` on the ray through ``t2d``; the
    rotation ``diag(1, -1, -1)`` is the fit's frontal convention (pass the fit's head rotation
    as ``pose``). Use it as the initial ``camera`` of :func:`depth_consistency` on real data.

    Parameters
    ----------
    intrinsics : (fx, fy, cx, cy)
        The depth sensor's intrinsics in pixels (aligned to the colour frames).
    scale : float
        The fit's weak-perspective scale at the onset, pixels per metre.
    t2d : (tu, tv)
        The fit's image translation at the onset, pixels.
    image_size : (H, W)

    Returns
    -------
    mxkit.render.Camera
    """
    from ..render import Camera

    fx, fy, cx, cy = (float(x) for x in intrinsics)
    if not (scale > 0 and fx > 0 and fy > 0):
        raise InputValueError(f"scale and focal lengths must be positive; got scale={scale}, fx={fx}, fy={fy}")
    z0 = 0.5 * (fx + fy) / float(scale)
    tu, tv = (float(x) for x in t2d)
    t = np.array([(tu - cx) * z0 / fx, (tv - cy) * z0 / fy, z0])
    return Camera(fx=fx, fy=fy, cx=cx, cy=cy, R=np.diag([1.0, -1.0, -1.0]), t=t,
                  image_size=tuple(image_size), projection="perspective")


def _sensor(camera: Any) -> Any:
    from ..render import Camera

    if not isinstance(camera, Camera):
        raise InputValueError(f"camera must be an mxkit.render.Camera; got {type(camera).__name__}")
    if camera.projection != "perspective":
        raise InputValueError("depth consistency needs a perspective (depth sensor) camera")
    return Camera(fx=camera.fx, fy=camera.fy, cx=camera.cx, cy=camera.cy, R=np.eye(3), t=np.zeros(3),
                  image_size=camera.image_size, projection="perspective")


def _to_camera(v: np.ndarray, camera: Any) -> np.ndarray:
    return v @ np.asarray(camera.R, dtype=np.float64).T + np.asarray(camera.t, dtype=np.float64)


def _backproject(depth_mm: np.ndarray, cam: Any) -> np.ndarray:
    H, W = depth_mm.shape
    z = depth_mm / 1000.0
    vv, uu = np.mgrid[0:H, 0:W].astype(np.float64)
    return np.stack([(uu - cam.cx) / cam.fx * z, (vv - cam.cy) / cam.fy * z, z], axis=-1)


# ----------------------------------------------------------------------------- regions
def _face_regions(model: Any, faces: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    """Region index per face (-1 outside the evaluation mask): the majority label of its
    vertices among the model's facial regions (``'other'`` excluded)."""
    names = tuple(n for n in getattr(model, "region_names", ()) if n != "other")
    keep = face_mask(model, "face")
    labels = np.asarray(getattr(model, "region_labels", np.full(model.n_vertices, -1)))
    full = tuple(getattr(model, "region_names", ()))
    remap = np.full(len(full) + 1, -1, dtype=np.int64)
    for i, n in enumerate(full):
        if n in names:
            remap[i] = names.index(n)
    vlab = np.where(keep, remap[labels], -1)
    fl = vlab[faces]  # (F, 3)
    out = np.where((fl[:, 0] == fl[:, 1]) | (fl[:, 0] == fl[:, 2]), fl[:, 0],
                   np.where(fl[:, 1] == fl[:, 2], fl[:, 1], fl[:, 0]))
    out[~keep[faces].all(axis=1)] = -1
    return names, out


# ----------------------------------------------------------------------------- noise
def depth_noise_floor(depth: Any, *, neutral: Any = None, onset: int | None = None,
                      mask: Any = None) -> float:
    """The sensor's noise floor on neutral frames: per-pixel temporal standard deviation from
    second (with 3 or more frames) or first temporal differences, RMS over the pixels (mm; see
    the module docstring).

    Parameters
    ----------
    depth : array (T, H, W) mm, or a Clip with depth
        NaN / 0 = no reading.
    neutral : slice, bool mask (T,) or int indices, optional
        Consecutive frames without expression (default ``slice(0, onset)``).
    onset : int, optional
    mask : array (H, W) bool, optional
        Pixels to use (default every pixel read on all neutral frames).

    Returns
    -------
    float
        ``sigma`` in mm (NaN when no pixel qualifies).
    """
    if hasattr(depth, "load_depth"):
        depth = depth.load_depth()
    d = _measured(depth, int(np.shape(depth)[0]))
    idx = _neutral_indices(neutral, onset, d.shape[0])
    return _noise(d, idx, None if mask is None else np.asarray(mask, dtype=bool))[0]


def _noise(d: np.ndarray, idx: np.ndarray, mask: np.ndarray | None) -> tuple[float, int]:
    if idx.size < 2:
        raise InputValueError(f"the noise floor needs at least 2 neutral frames; got {idx.size}")
    if not (np.diff(idx) == 1).all():
        raise InputValueError("the noise floor needs consecutive neutral frames")
    n = d[idx]
    ok = np.isfinite(n).all(axis=0)
    if mask is not None:
        ok &= mask
    if not ok.any():
        return float("nan"), 0
    order = 2 if idx.size >= 3 else 1
    diff = np.diff(n[:, ok], n=order, axis=0)
    norm = 6.0 * (idx.size - 2) if order == 2 else 2.0 * (idx.size - 1)
    var = (diff * diff).sum(axis=0) / norm
    return float(np.sqrt(var.mean())), int(ok.sum())


# ----------------------------------------------------------------------------- alignment
def _render(verts_cam: np.ndarray, faces: np.ndarray, cam: Any, workers: int | None) -> Any:
    from ..render import render_batch

    return render_batch(verts_cam, faces, cam, workers=workers)


def _align(v0: np.ndarray, faces: np.ndarray, face_ok: np.ndarray, measured: np.ndarray, cam: Any,
           *, iters: int, trim: float) -> tuple[SimilarityTransform, dict[str, Any]]:
    """Similarity (camera frame) mapping the onset mesh ``v0`` (camera frame) onto the
    measured onset depth: projective point-to-plane ICP with scale (see the module docstring)."""
    target = _backproject(measured, cam)
    eye = torch.eye(3, dtype=torch.float64)
    tf = SimilarityTransform(eye, torch.zeros(3, dtype=torch.float64), torch.ones((), dtype=torch.float64))
    info: dict[str, Any] = {"n_pairs": 0, "rms_mm": float("nan"), "scale": 1.0, "iterations": 0}
    for it in range(max(1, int(iters))):
        cur = apply_similarity(torch.as_tensor(v0), tf).numpy()
        frag = _render(cur[None], faces, cam, 1)[0].fragments
        fid = frag.face_id
        ok = (fid >= 0) & np.isfinite(measured)
        ok &= face_ok[np.maximum(fid, 0)]
        if ok.sum() < 10:
            raise InputValueError(f"the reconstruction placed by `camera` covers {int(ok.sum())} pixels "
                                  "with a depth reading on the onset frame; check the camera (its "
                                  "extrinsics give the initial placement) and the depth maps")
        x = frag.interpolate(cur, faces)[ok]  # rendered surface points (camera frame, m)
        n = frag.interpolate(vertex_normals(cur, faces), faces)[ok]
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        y = target[ok]
        r = np.einsum("ij,ij->i", n, x - y)
        med = float(np.median(np.abs(r)))
        keep = np.abs(r) <= max(trim * med, 1e-9)
        info = {"n_pairs": int(keep.sum()), "rms_mm": float(np.sqrt((r[keep] ** 2).mean()) * 1000),
                "scale": float(tf.scale), "iterations": it}
        xk, nk = x[keep], n[keep]
        c = xk.mean(0)  # unknowns about the centroid: better conditioned than about the camera
        A = np.concatenate([np.einsum("ij,ij->i", nk, xk - c)[:, None], np.cross(xk - c, nk), nk], axis=1)
        sol, *_ = np.linalg.lstsq(A, -r[keep], rcond=None)
        sigma, omega, t = sol[0], sol[1:4], sol[4:7]
        R = axis_angle_to_matrix(torch.as_tensor(omega, dtype=torch.float64))
        s_ = 1.0 + float(sigma)
        # step: x -> s R (x - c) + c + t
        step_t = torch.as_tensor(c + t, dtype=torch.float64) - s_ * (R @ torch.as_tensor(c, dtype=torch.float64))
        tf = SimilarityTransform(R @ tf.R, s_ * (R @ tf.t) + step_t, s_ * tf.scale)
        if max(abs(float(sigma)), float(np.abs(omega).max()), float(np.abs(t).max()) / max(float(c[2]), 1e-9)) < 1e-8:
            break
    cur = apply_similarity(torch.as_tensor(v0), tf).numpy()
    frag = _render(cur[None], faces, cam, 1)[0].fragments
    ok = (frag.face_id >= 0) & np.isfinite(measured) & face_ok[np.maximum(frag.face_id, 0)]
    res = np.abs(frag.depth[ok].astype(np.float64) - target[ok][:, 2])
    keep = res <= max(trim * float(np.median(res)), 1e-9)
    info = {"n_pairs": int(keep.sum()), "rms_mm": float(np.sqrt((res[keep] ** 2).mean()) * 1000),
            "scale": float(tf.scale), "iterations": info["iterations"] + 1}
    return tf, info


# ----------------------------------------------------------------------------- the metric
def depth_consistency(recon: Any, depth: Any, *, model: Any, camera: Any, pose: Any = None,
                      onset: int | None = None, apex: int | None = None, neutral: Any = None,
                      regions: bool | Sequence[str] = True, align_iters: int = 10,
                      trim: float = 3.0, edge_mm: float = 10.0,
                      workers: int | None = None) -> DepthConsistency:
    """Hold a reconstruction against measured depth, per facial region, with the sensor's
    noise floor beside every number (definitions: module docstring).

    Parameters
    ----------
    recon : Reconstruction-like
        ``vertices`` (T, V, 3) in metres (model frame, unposed like
        :attr:`mxkit.Reconstruction.vertices`, or already posed), ``onset`` and ``apex``
        frame indices (e.g. :func:`mxkit.eval.oracle_reconstruction` of a SynthME clip).
    depth : array (T, H, W) in mm, or a Clip with depth
        The measured depth, one map per reconstructed frame, aligned to ``camera``'s pixel
        grid (NaN or 0 = no reading).
    model : FaceModel
        Faces, facial regions and the evaluation mask (:func:`mxkit.eval.face_mask`).
    camera : mxkit.render.Camera
        Perspective camera with the depth sensor's intrinsics; its extrinsics place the
        (posed) model-frame mesh in the camera frame before the alignment (SynthME:
        ``truth.camera``; real data: :func:`camera_from_weak_perspective`).
    pose : (rotation (T, 3), translation (T, 3)), optional
        Per-frame head pose applied to the vertices first (``R(rotation[t]) v +
        translation[t]``, axis-angle radians and metres; SynthME: ``truth.rotation,
        truth.translation``). Without it the vertices are used as they are.
    onset, apex : int, optional
        Override ``recon.onset`` / ``recon.apex``.
    neutral : slice, bool mask or int indices, optional
        Consecutive neutral frames for the noise floor (default: the frames before the
        onset; at least 2).
    regions : bool or sequence of str, optional
        Facial regions to report besides ``'face'`` (True: every region of the model).
    align_iters : int, optional
        Most iterations of the projective alignment (it stops earlier once converged).
    trim : float, optional
        Pairs whose depth residual exceeds ``trim`` times the median are left out of each
        alignment step (silhouettes, hair, occlusions).
    edge_mm : float, optional
        Pixels next to a depth step larger than this (in the rendered onset depth) are left
        out of the noise floor.
    workers : int, optional
        Rasterizer threads.

    Returns
    -------
    DepthConsistency

    Raises
    ------
    ShapeError
        Vertices not (T, V, 3), depth not (T, H, W) with the same T, a camera of another image
        size.
    InputValueError
        Bad frames, fewer than 2 neutral frames, an orthographic camera, or a placement that
        covers (almost) no measured pixel.

    Examples
    --------
    >>> recon = oracle_reconstruction(clip, model)                       # doctest: +SKIP
    >>> t = clip.ground_truth                                            # doctest: +SKIP
    >>> res = depth_consistency(recon, clip, model=model, camera=t.camera,
    ...                         pose=(t.rotation, t.translation))        # doctest: +SKIP
    >>> res.table[res.table.region == "face"]                            # doctest: +SKIP
    """
    verts = _vertices(recon)
    T = verts.shape[0]
    onset = int(getattr(recon, "onset", 0) if onset is None else onset)
    apex_ = getattr(recon, "apex", None) if apex is None else apex
    if apex_ is None:
        raise InputValueError("the apex frame is unknown: pass apex=")
    apex = int(apex_)
    if not (0 <= onset < T and 0 <= apex < T):
        raise InputValueError(f"onset {onset} and apex {apex} must be frames of the {T}-frame sequence")
    measured = _measured(depth, T)
    cam = _sensor(camera)
    if measured.shape[1:] != tuple(cam.image_size):
        raise ShapeError(f"the depth maps are {measured.shape[1:]} but the camera's image is {cam.image_size}")
    idx = _neutral_indices(neutral, onset, T)
    faces = np.asarray(model.faces.detach().cpu().numpy() if torch.is_tensor(model.faces) else model.faces,
                       dtype=np.int64)
    names, face_region = _face_regions(model, faces)
    if regions is not True:
        wanted = tuple(regions or ())
        unknown = [r for r in wanted if r not in names]
        if unknown:
            raise InputValueError(f"unknown region(s) {unknown}; the model's regions are {list(names)}")
    else:
        wanted = names
    cam_verts = _to_camera(_posed(verts, pose), camera)
    tf, info = _align(cam_verts[onset], faces, face_region >= 0, measured[onset], cam,
                      iters=align_iters, trim=float(trim))
    aligned = apply_similarity(torch.as_tensor(cam_verts), tf).numpy()
    out = _render(aligned, faces, cam, workers)
    rendered = (out.depth.astype(np.float64) * 1000.0)
    rendered[~np.isfinite(rendered)] = np.nan
    rmap = np.where(out.face_id >= 0, face_region[np.maximum(out.face_id, 0)], -1).astype(np.int16)
    valid = (rmap >= 0) & np.isfinite(measured)
    smooth = _smooth(rendered[onset], float(edge_mm))
    table, floors = _table(rendered, measured, rmap, valid, names, wanted, onset, apex, idx, smooth)
    rendered[rmap < 0] = np.nan
    return DepthConsistency(table=table, noise_floor_mm=floors, transform=tf,
                            rendered_depth=rendered.astype(np.float32), region_map=rmap,
                            regions=names, alignment=info, onset=onset, apex=apex,
                            neutral=tuple(int(i) for i in idx))


def _smooth(depth_mm: np.ndarray, edge_mm: float) -> np.ndarray:
    """Pixels whose 4 neighbours all have a depth within ``edge_mm`` (bool (H, W))."""
    ok = np.isfinite(depth_mm)
    pad = np.pad(depth_mm, 1, constant_values=np.nan)
    for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
        nb = pad[dy:dy + depth_mm.shape[0], dx:dx + depth_mm.shape[1]]
        with np.errstate(invalid="ignore"):
            ok &= np.isfinite(nb) & (np.abs(nb - depth_mm) <= edge_mm)
    return ok


def _table(rendered: np.ndarray, measured: np.ndarray, rmap: np.ndarray, valid: np.ndarray,
           names: tuple[str, ...], wanted: Sequence[str], onset: int, apex: int,
           idx: np.ndarray, smooth: np.ndarray) -> tuple[pd.DataFrame, dict[str, float]]:
    rows: list[dict[str, Any]] = []
    floors: dict[str, float] = {}
    err = rendered - measured
    both = valid[onset] & valid[apex] & (rmap[onset] == rmap[apex])
    dchange = (rendered[apex] - rendered[onset]) - (measured[apex] - measured[onset])
    for region in ("face", *wanted):
        sel = (rmap >= 0) if region == "face" else (rmap == names.index(region))
        v = valid & sel
        sigma, _ = _noise(measured, idx, sel[onset] & valid[onset] & smooth)
        floors[region] = sigma
        n_all = int(v.sum())
        frames_used = int(v.any(axis=(1, 2)).sum())
        c = both & sel[onset]
        nc = int(c.sum())

        def mean(a: np.ndarray, m: np.ndarray) -> float:
            return float(a[m].mean()) if m.any() else float("nan")

        values = {
            "depth_error": (mean(np.abs(err), v), sigma * _ABS, n_all, frames_used),
            "depth_error_onset": (mean(np.abs(err[onset]), v[onset]), sigma * _ABS, int(v[onset].sum()), 1),
            "depth_error_apex": (mean(np.abs(err[apex]), v[apex]), sigma * _ABS, int(v[apex].sum()), 1),
            "depth_bias": (mean(err, v), sigma / math.sqrt(max(n_all, 1)), n_all, frames_used),
            "change_measured": (mean(measured[apex] - measured[onset], c),
                                math.sqrt(2.0) * sigma / math.sqrt(max(nc, 1)), nc, 2),
            "change_recon": (mean(rendered[apex] - rendered[onset], c),
                             math.sqrt(2.0) * sigma / math.sqrt(max(nc, 1)), nc, 2),
            "change_error": (mean(np.abs(dchange), c), 2.0 * sigma / math.sqrt(math.pi), nc, 2),
        }
        for metric in DEPTH_METRICS:
            val, level, n, nf = values[metric]
            rows.append({"region": region, "metric": metric, "value": val, "unit": "mm",
                         "noise_floor_mm": sigma, "noise_level_mm": level, "n_pixels": n,
                         "n_frames": nf})
    return pd.DataFrame(rows, columns=list(DEPTH_TABLE_COLUMNS)), floors

