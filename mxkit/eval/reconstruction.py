"""Reconstruction metrics on plain arrays, per facial region and AU region, and per clip.

Every metric works on numpy arrays or torch tensors of vertices in **metres** (mxkit model
frame) and reports **millimetres** (``unit='mm'``), pixels (``'px'``) or a ratio. Region
values are weighted means over vertices: a facial region (``model.region_mask``) weighs its
vertices 1, an AU region (``model.au_region_mask``) by its soft mask in [0, 1], and the
overall region ``'all'`` every vertex of the evaluation mask (see :func:`face_mask`).

Definitions (``d_v`` is the error vector of vertex ``v``, ``w_v`` its region weight, ``T``
the frames compared; sums over ``v`` are weighted, ``sum_v w_v (...) / sum_v w_v``):

==========================  =====================================================================
metric                      definition
==========================  =====================================================================
``vertex_l1``               per-coordinate absolute error: ``mean_{t,v} (|dx| + |dy| + |dz|) / 3``
                            (what ``torch.nn.functional.l1_loss`` computes), mm. **The "L1"
                            column of the ablation table** (:mod:`mxkit.eval.ablation`).
``vertex_l2``               mean Euclidean vertex-to-vertex distance ``mean_{t,v} ||d||_2``, mm
``vertex_rmse``             root-mean-square distance ``sqrt(mean_{t,v} ||d||_2^2)``, mm
``micro_motion_l1``         ``vertex_l1`` of the displacement fields ``D = X[apex] - X[onset]``:
                            ``mean_v |D_pred - D_true|`` per coordinate, mm
``micro_motion_l2``         ``mean_v ||D_pred - D_true||_2``, mm
``motion_true``             ``mean_v ||D_true||_2``, mm (how much the truth moves there)
``motion_pred``             ``mean_v ||D_pred||_2``, mm
``active_rel_error`` ...    the active-region motion metrics (``active_rel_error``, ``amplitude_ratio``,
                            ``motion_cosine``, ``active_motion_true``, ``active_vertices``) on the
                            vertices whose true motion is >= 30 % of its maximum: defined in
                            :mod:`mxkit.eval.motion`
``landmark_nme``            ``mean_t mean_l ||p_tl - q_tl||_2 / IOD(q_t)``, the inter-ocular
                            distance (outer eye corners 36-45) of the target, ratio
``flow_consistency``        ``mean ||(P_t,v - P_onset,v) - F_t(P_onset,v)||_2`` over the frames
                            ``t != onset`` and the vertices whose onset projection lies on the
                            image, where ``P`` are projected vertices and ``F_t`` the optical flow
                            onset -> t sampled (bilinear) at ``P_onset``, px
``noise_floor``             jitter on the neutral frames (before the onset), RMS over vertices:
                            ``sqrt(mean_v s_v^2)`` with ``s_v^2`` either (``'mean'``, default)
                            ``sum_t ||X_t,v - mean_t X_t,v||^2 / (n - 1)`` -- the 3D deviation from
                            the neutral mean -- or (``'diff'``)
                            ``sum_t ||X_t+1,v - X_t,v||^2 / (2 (n - 1))`` -- frame-to-frame, robust to
                            slow drift; both equal ``3 sigma^2`` in expectation for white noise of
                            per-coordinate std ``sigma``, mm
``signal``                  RMS apex displacement ``sqrt(mean_v ||X_apex,v - X_onset,v||^2)``, mm
``snr``                     ``signal / noise_floor`` (amplitude ratio, not dB)
==========================  =====================================================================

Rigid alignment (``align``) uses :func:`mxkit.geometry.rigid_align` (rotation + translation,
no scale unless asked) fitted on the evaluation mask and applied to the prediction:
``'frame'`` one transform per frame (vertex errors), ``'clip'`` one for all frames together,
``'onset'`` the one mapping the predicted onset mesh onto the true onset mesh, applied to every
predicted frame (micro-motion: a spurious rigid drift of the prediction counts as error, and
the alignment cannot absorb the expression itself), ``'none'``.

Tables are tidy: one row per (region, metric) with ``region, metric, value, unit``;
:func:`evaluate_reconstruction` adds ``clip, subject, dataset, variant, mesh`` and
:func:`aggregate_metrics` averages them over clips per subject or dataset.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch

from .._checks import check_finite, check_option, check_shape, renamed_keywords
from ..errors import InputValueError, ShapeError
from ..geometry import rigid_align as geometry_rigid_align
from ..morph.masks import face_mask, region_weights  # re-exported: they live on the face model
from ..morph.masks import vertex_weights as _mask
from .motion import (
    ACTIVE_METRICS,
    ACTIVE_THRESHOLD,
    MOTION_METRICS,
    NO_MOTION,
    active_motion_values,
)

__all__ = [
    "ALIGN_MODES",
    "TABLE_COLUMNS",
    "face_mask",
    "region_weights",
    "rigid_align",
    "vertex_error_map",
    "vertex_errors",
    "displacement_field",
    "micro_motion_error",
    "motion_error_map",
    "error_over_time",
    "landmark_nme",
    "flow_consistency_error",
    "noise_floor",
    "signal_to_noise",
    "vertex_error_table",
    "micro_motion_table",
    "noise_table",
    "flow_consistency_table",
    "landmark_table",
    "ReconstructionMetrics",
    "evaluate_reconstruction",
    "NoMotionReference",
    "no_motion_reference",
    "evaluate_no_motion",
    "aggregate_metrics",
]

log = logging.getLogger(__name__)

#: Rigid-alignment modes of :func:`rigid_align` (see the module docstring).
ALIGN_MODES = ("frame", "clip", "onset", "none")
#: Columns of :attr:`ReconstructionMetrics.table` (the clip-level tidy table).
TABLE_COLUMNS = ("clip", "subject", "dataset", "variant", "mesh", "region", "metric", "value", "unit")
_MM = 1000.0


# --------------------------------------------------------------------------- inputs
def _f64(x: Any, name: str) -> np.ndarray:
    if torch.is_tensor(x):
        x = x.detach().cpu().double().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputValueError(f"{name} must be a numeric array; got {type(x).__name__}") from exc
    return arr


def _sequence(x: Any, name: str) -> np.ndarray:
    """(T, V, 3) float64 from (T, V, 3) or (V, 3)."""
    arr = _f64(x, name)
    if arr.ndim == 2:
        arr = arr[None]
    check_shape(arr, ("T", "V", 3), name)
    check_finite(arr, name)
    return arr


def _pair(pred: Any, truth: Any) -> tuple[np.ndarray, np.ndarray]:
    p, t = _sequence(pred, "pred"), _sequence(truth, "truth")
    if p.shape != t.shape:
        raise ShapeError(f"pred and truth must have the same shape (T, V, 3); got {p.shape} and {t.shape}")
    return p, t


def _frame(index: Any, n: int, name: str) -> int:
    if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or not -n <= int(index) < n:
        raise InputValueError(f"{name} must be a frame index in [0, {n}); got {index!r}")
    return int(index) % n


def _neutral_indices(neutral: Any, onset: int | None, n: int) -> np.ndarray:
    from ..face.smooth import _frame_indices

    if neutral is None:
        if onset is None:
            raise InputValueError("give neutral frames or an onset (the frames before it are neutral)")
        neutral = slice(0, onset)
    return _frame_indices(neutral, n)


# --------------------------------------------------------------------------- regions
def _wmean(per_vertex: np.ndarray, w: np.ndarray) -> float:
    return float((per_vertex * w).sum() / w.sum())


# --------------------------------------------------------------------------- alignment
def rigid_align(pred: Any, truth: Any, *, align: Literal["frame", "clip", "onset", "none"] = "frame",
                mask: Any = None, onset: int = 0, allow_scale: bool = False) -> np.ndarray:
    """Rigidly align predicted vertices onto the truth, as float64 numpy (see the module docstring).

    The evaluation front end of :func:`mxkit.geometry.rigid_align` (``align='onset'`` is its
    ``per='reference'`` with ``reference=onset``; ``'none'`` returns ``pred`` unchanged).

    Parameters
    ----------
    pred, truth : array or Tensor, shape (T, V, 3) or (V, 3)
        Vertices in metres.
    align : {'frame', 'clip', 'onset', 'none'}, default 'frame'
    mask : array (V,), optional
        Vertex weights of the fit (bool or non-negative); default all vertices.
    onset : int
        Reference frame of ``align='onset'``.
    allow_scale : bool, default False
        Similarity instead of rigid (scale errors then no longer count).

    Returns
    -------
    numpy.ndarray, shape (T, V, 3), float64
        The aligned prediction, metres.

    Examples
    --------
    >>> from mxkit.geometry import axis_angle_to_matrix
    >>> x = np.random.default_rng(0).normal(size=(1, 30, 3))
    >>> R = axis_angle_to_matrix(torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64)).numpy()
    >>> bool(np.allclose(rigid_align(x @ R.T + 0.5, x), x))
    True
    """
    check_option(align, ALIGN_MODES, "align")
    p, t = _pair(pred, truth)
    if align == "none":
        return p
    per = {"frame": "frame", "clip": "clip", "onset": "reference"}[align]
    ref = _frame(onset, p.shape[0], "onset") if align == "onset" else 0
    return geometry_rigid_align(torch.as_tensor(p), torch.as_tensor(t), per=per,
                                weights=_mask(mask, p.shape[1]), reference=ref,
                                allow_scale=allow_scale).numpy()


@renamed_keywords(kind="norm")
def vertex_error_map(pred: Any, truth: Any, *, norm: Literal["l1", "l2"] = "l2",
                     align: Literal["frame", "clip", "onset", "none"] = "frame",
                     mask: Any = None, onset: int = 0) -> np.ndarray:
    """Per-vertex error after rigid alignment, mm (for heat maps).

    Parameters
    ----------
    pred, truth : array or Tensor, shape (T, V, 3) or (V, 3)
        Metres.
    norm : {'l1', 'l2'}, default 'l2'
        ``'l1'``: mean absolute coordinate error ``(|dx| + |dy| + |dz|) / 3``; ``'l2'``:
        Euclidean distance.
    align, mask, onset
        As in :func:`rigid_align` (``mask`` weighs the alignment only).

    Returns
    -------
    numpy.ndarray, shape (T, V)
        Millimetres.
    """
    check_option(norm, ("l1", "l2"), "norm")
    p, t = _pair(pred, truth)
    d = rigid_align(p, t, align=align, mask=mask, onset=onset) - t
    if norm == "l1":
        return np.abs(d).mean(-1) * _MM
    return np.linalg.norm(d, axis=-1) * _MM


def _error_summary(d: np.ndarray, w: np.ndarray, prefix: str) -> dict[str, float]:
    """d: (T, V, 3) metres -> {prefix_l1, prefix_l2, prefix_rmse} in mm with weights w (V,)."""
    l1 = np.abs(d).mean(-1).mean(0)
    sq = (d * d).sum(-1)
    return {f"{prefix}_l1": _wmean(l1, w) * _MM,
            f"{prefix}_l2": _wmean(np.sqrt(sq).mean(0), w) * _MM,
            f"{prefix}_rmse": float(np.sqrt(_wmean(sq.mean(0), w))) * _MM}


def vertex_errors(pred: Any, truth: Any, *, align: Literal["frame", "clip", "onset", "none"] = "frame",
                  mask: Any = None, weights: Any = None, onset: int = 0) -> dict[str, float]:
    """Vertex L1, L2 and RMSE (mm) after rigid alignment, averaged over frames and vertices.

    Parameters
    ----------
    pred, truth : array or Tensor, shape (T, V, 3) or (V, 3)
        Metres; the truth as :meth:`SynthTruth.vertices` gives it.
    align : {'frame', 'clip', 'onset', 'none'}, default 'frame'
    mask : array (V,), optional
        Vertex weights of the alignment (default: all vertices).
    weights : array (V,), optional
        Vertex weights of the average (default: ``mask``).
    onset : int
        Reference frame of ``align='onset'``.

    Returns
    -------
    dict
        ``vertex_l1`` (per-coordinate absolute), ``vertex_l2`` (mean Euclidean distance),
        ``vertex_rmse``, all mm (definitions in the module docstring).

    Examples
    --------
    >>> x = np.zeros((1, 4, 3)); y = x.copy(); y[0, 0] = (0.003, 0.004, 0.0)   # 5 mm at one vertex
    >>> {k: round(v, 4) for k, v in vertex_errors(y, x, align="none").items()}
    {'vertex_l1': 0.5833, 'vertex_l2': 1.25, 'vertex_rmse': 2.5}
    """
    p, t = _pair(pred, truth)
    w = _mask(mask if weights is None else weights, p.shape[1])
    d = rigid_align(p, t, align=align, mask=mask, onset=onset) - t
    return _error_summary(d, w, "vertex")


def displacement_field(vertices: Any, *, onset: int, apex: int) -> np.ndarray:
    """Apex minus onset vertices, ``X[apex] - X[onset]``, shape (V, 3), metres."""
    x = _sequence(vertices, "vertices")
    return x[_frame(apex, len(x), "apex")] - x[_frame(onset, len(x), "onset")]


def _motion_fields(pred: Any, truth: Any, onset: int, apex: int, align: str,
                   mask: Any) -> tuple[np.ndarray, np.ndarray]:
    p, t = _pair(pred, truth)
    p = rigid_align(p, t, align=align, mask=mask, onset=onset)
    return displacement_field(p, onset=onset, apex=apex), displacement_field(t, onset=onset, apex=apex)


@renamed_keywords(kind="norm")
def micro_motion_error(pred: Any, truth: Any, *, onset: int, apex: int,
                       norm: Literal["l1", "l2"] = "l2",
                       align: Literal["frame", "clip", "onset", "none"] = "onset",
                       mask: Any = None, weights: Any = None) -> float:
    """Error of the (apex - onset) displacement field, mm.

    Parameters
    ----------
    pred, truth : array or Tensor, shape (T, V, 3)
        Metres.
    onset, apex : int
        Frame indices.
    norm : {'l1', 'l2'}, default 'l2'
        ``'l1'``: ``mean_v |D_pred - D_true|`` per coordinate (``micro_motion_l1``); ``'l2'``:
        ``mean_v ||D_pred - D_true||_2`` (``micro_motion_l2``).
    align : default 'onset'
        See :func:`rigid_align`.
    mask, weights : array (V,), optional
        Alignment and averaging weights (``weights`` defaults to ``mask``), e.g. a region mask.

    Returns
    -------
    float
        Millimetres.

    Examples
    --------
    >>> x = np.zeros((3, 2, 3)); y = x.copy(); y[2, 0, 2] = 0.001     # 1 mm bump at the apex
    >>> micro_motion_error(y, x, onset=0, apex=2, align="none")
    0.5
    """
    check_option(norm, ("l1", "l2"), "norm")
    dp, dt = _motion_fields(pred, truth, onset, apex, align, mask)
    w = _mask(mask if weights is None else weights, dp.shape[0])
    e = np.abs(dp - dt).mean(-1) if norm == "l1" else np.linalg.norm(dp - dt, axis=-1)
    return _wmean(e, w) * _MM


# --------------------------------------------------------------------------- landmarks
@renamed_keywords(kind="norm")
def motion_error_map(pred: Any, truth: Any, *, onset: int, norm: Literal["l1", "l2"] = "l1",
                     align: Literal["frame", "clip", "onset", "none"] = "onset",
                     mask: Any = None) -> np.ndarray:
    """Per-vertex error of the displacement since the onset, at every frame, mm (for heat maps).

    ``E_t,v = |(X_t,v - X_onset,v) - (Y_t,v - Y_onset,v)|`` (per coordinate, averaged, for
    ``'l1'``; Euclidean for ``'l2'``) after aligning the prediction with ``align`` (default
    ``'onset'``, as the micro-motion error). Row ``apex``, averaged over vertices with the
    weights ``mask``, is :func:`micro_motion_error` of the same ``norm``; row ``onset`` is zero.

    Parameters
    ----------
    pred, truth : array or Tensor, shape (T, V, 3)
        Metres.
    onset : int
        Reference frame of the displacements (and of ``align='onset'``).
    norm : {'l1', 'l2'}, default 'l1'
    align : default 'onset'
        See :func:`rigid_align`.
    mask : array (V,), optional
        Vertex weights of the alignment (default all vertices).

    Returns
    -------
    numpy.ndarray, shape (T, V)
        Millimetres.

    Examples
    --------
    >>> x = np.zeros((3, 2, 3)); y = x.copy(); y[2, 0, 2] = 0.003     # 3 mm bump at frame 2
    >>> motion_error_map(y, x, onset=0, align="none").tolist()
    [[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]]
    """
    check_option(norm, ("l1", "l2"), "norm")
    p, t = _pair(pred, truth)
    k = _frame(onset, p.shape[0], "onset")
    p = rigid_align(p, t, align=align, mask=mask, onset=k)
    d = (p - p[k]) - (t - t[k])
    return (np.abs(d).mean(-1) if norm == "l1" else np.linalg.norm(d, axis=-1)) * _MM


#: Metrics of :func:`error_over_time` and their meaning (all mm, one value per frame).
_OVER_TIME = ("vertex_l1", "vertex_l2", "motion_l1", "motion_l2", "motion_true", "motion_pred")


def error_over_time(recon: Any, truth: Any, model: Any = None, *,
                    metrics: Sequence[str] = ("vertex_l1", "motion_l1", "motion_true"),
                    mask: Literal["face", "skin", "all"] | Any = "face",
                    mesh: Literal["fine", "coarse"] = "fine",
                    align: Literal["frame", "clip", "onset", "none"] = "frame",
                    motion_align: Literal["frame", "clip", "onset", "none"] = "onset") -> pd.DataFrame:
    """Reconstruction errors frame by frame, as a tidy table (for curves over time).

    Per frame ``t``, averaged over the evaluation mask (metres in, mm out):

    * ``vertex_l1`` / ``vertex_l2``: the per-coordinate / Euclidean vertex error after the
      alignment ``align`` (default one transform per frame); their mean over frames is the
      clip's ``vertex_l1`` / ``vertex_l2`` of :func:`evaluate_reconstruction`;
    * ``motion_l1`` / ``motion_l2``: the error of the displacement since the onset
      (:func:`motion_error_map`, ``motion_align``, default ``'onset'``): 0 at the onset, the
      clip's ``micro_motion_l1`` / ``micro_motion_l2`` at the apex;
    * ``motion_true`` / ``motion_pred``: mean length of the true / predicted displacement since
      the onset (the scale the motion errors compare to).

    Parameters
    ----------
    recon : Reconstruction-like or array (T, V, 3)
        Uses ``vertices`` (``vertices_coarse`` with ``mesh='coarse'``), ``onset``, ``apex``,
        ``offset`` and, when present, ``fps``, ``variant`` and ``clip_key``. Plain vertices
        are taken with the onset at frame 0.
    truth : SynthTruth-like or array (T, V, 3)
        Anything with ``truth.vertices(model)``, or those vertices.
    model : FaceModel, optional
        Needed for a SynthTruth and for a named ``mask``.
    metrics : sequence of str
        Any of ``vertex_l1, vertex_l2, motion_l1, motion_l2, motion_true, motion_pred``.
    mask : {'face', 'skin', 'all'} or array (V,), default 'face'
        Alignment and averaging weights (:func:`face_mask`).
    mesh : {'fine', 'coarse'}
    align, motion_align
        See :func:`rigid_align`.

    Returns
    -------
    pandas.DataFrame
        One row per (frame, metric): ``clip, variant, mesh, frame, time_ms`` (ms since the
        onset; NaN without a frame rate), ``phase`` (``'neutral'`` before the onset,
        ``'onset'``, ``'rise'``, ``'apex'``, ``'fall'``, ``'offset'``, ``'after'``),
        ``metric, value, unit``.

    Raises
    ------
    OptionError
        An unknown metric, mesh or alignment.
    ShapeError
        Prediction and truth differ in shape.

    Examples
    --------
    >>> x = np.zeros((3, 2, 3)); y = x.copy(); y[2, :, 2] = 0.001    # the truth moves 1 mm
    >>> t = error_over_time(x, y, metrics=("motion_true", "motion_l2"), mask=None)
    >>> t.pivot(index="frame", columns="metric", values="value").to_numpy().tolist()
    [[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]
    """
    check_option(mesh, ("fine", "coarse"), "mesh")
    metrics = list(metrics)
    if not metrics or isinstance(metrics, str):
        raise InputValueError("metrics must name at least one metric")
    for m in metrics:
        check_option(m, _OVER_TIME, "metrics")
    if hasattr(recon, "vertices"):
        verts = recon.vertices if mesh == "fine" else recon.vertices_coarse
        onset, apex = int(recon.onset), int(recon.apex)
        offset = int(getattr(recon, "offset", apex))
    else:
        verts, onset, apex, offset = recon, 0, None, None
    p = _sequence(verts, "recon vertices")
    t = _sequence(_truth_vertices(truth, model), "truth")
    if p.shape != t.shape:
        raise ShapeError(f"recon {mesh} vertices {p.shape} and truth {t.shape} differ in shape")
    T, V = p.shape[:2]
    if mask is None:
        w = np.ones(V)
    elif isinstance(mask, str):
        if model is None:
            raise InputValueError(f"mask={mask!r} needs the model")
        w = face_mask(model, mask).astype(np.float64)
    else:
        w = _mask(mask, V)
    per: dict[str, np.ndarray] = {}
    if {"vertex_l1", "vertex_l2"} & set(metrics):
        d = rigid_align(p, t, align=align, mask=w, onset=onset) - t
        per["vertex_l1"] = np.abs(d).mean(-1)
        per["vertex_l2"] = np.linalg.norm(d, axis=-1)
    if {"motion_l1", "motion_l2", "motion_true", "motion_pred"} & set(metrics):
        pa = rigid_align(p, t, align=motion_align, mask=w, onset=onset)
        dp, dt = pa - pa[onset], t - t[onset]
        per["motion_l1"] = np.abs(dp - dt).mean(-1)
        per["motion_l2"] = np.linalg.norm(dp - dt, axis=-1)
        per["motion_true"] = np.linalg.norm(dt, axis=-1)
        per["motion_pred"] = np.linalg.norm(dp, axis=-1)
    fps = float(getattr(recon, "fps", math.nan) or math.nan)
    frames = np.arange(T)
    time_ms = (frames - onset) * 1000.0 / fps if fps > 0 else np.full(T, math.nan)

    def phase(i: int) -> str:
        if i < onset:
            return "neutral"
        if i == onset:
            return "onset"
        if apex is None:
            return "rise"
        if i < apex:
            return "rise"
        if i == apex:
            return "apex"
        if i < offset:
            return "fall"
        return "offset" if i == offset else "after"

    phases = [phase(int(i)) for i in frames]
    key = getattr(recon, "clip_key", ("", "", ""))
    rows = [{"clip": str(key[2]) if len(key) == 3 else "", "variant": getattr(recon, "variant", None),
             "mesh": mesh, "frame": int(i), "time_ms": float(time_ms[i]), "phase": phases[i],
             "metric": m, "value": float((per[m][i] * w).sum() / w.sum() * _MM), "unit": "mm"}
            for m in metrics for i in frames]
    return pd.DataFrame(rows)


def _landmark_distances(pred: Any, target: Any) -> np.ndarray:
    """Per-landmark distance over the target's IOD, shape (T, 68)."""
    from ..face import inter_ocular_distance

    p, q = _f64(pred, "pred"), _f64(target, "target")
    p = p[None] if p.ndim == 2 else p
    q = q[None] if q.ndim == 2 else q
    check_shape(p, ("T", 68, 2), "pred")
    check_shape(q, (p.shape[0], 68, 2), "target")
    check_finite(p, "pred")
    check_finite(q, "target")
    iod = inter_ocular_distance(q)
    if not (iod > 0).all():
        raise InputValueError("the target's inter-ocular distance (landmarks 36-45) is zero")
    return np.linalg.norm(p - q, axis=-1) / iod[:, None]


def landmark_nme(pred: Any, target: Any, *, per_frame: bool = False) -> float | np.ndarray:
    """Landmark reprojection error normalised by the target's inter-ocular distance.

    Parameters
    ----------
    pred, target : array or Tensor, shape (T, 68, 2) or (68, 2)
        iBUG-68 landmarks in pixels (``pred`` e.g. projected model landmarks, ``target``
        detected or true landmarks); IOD from the target's outer eye corners 36-45
        (:func:`mxkit.face.inter_ocular_distance`).
    per_frame : bool, default False
        Return the per-frame values (T,) instead of their mean.

    Returns
    -------
    float or numpy.ndarray (T,)
        ``mean_l ||p - q|| / IOD`` (ratio).

    Examples
    --------
    >>> q = np.zeros((68, 2)); q[45] = (50.0, 0.0)            # IOD 50 px
    >>> round(landmark_nme(q + (3.0, 4.0), q), 6)              # every point 5 px off
    0.1
    """
    nme = _landmark_distances(pred, target).mean(-1)
    return nme if per_frame else float(nme.mean())


# --------------------------------------------------------------------------- flow consistency
def _flow_error_map(projected: Any, flow: Any, onset: int,
                    frames: Sequence[int] | None) -> tuple[np.ndarray, np.ndarray]:
    from ..flow import sample_flow

    P = _f64(projected, "projected")
    check_shape(P, ("T", "V", 2), "projected")
    check_finite(P, "projected")
    F = flow.detach().cpu().double().numpy() if torch.is_tensor(flow) else np.asarray(flow, dtype=np.float64)
    check_shape(F, (P.shape[0], None, None, 2), "flow")
    k = _frame(onset, P.shape[0], "onset")
    ts = [t for t in range(P.shape[0]) if t != k] if frames is None else [_frame(t, P.shape[0], "frame") for t in frames]
    if not ts:
        raise InputValueError("flow consistency needs at least one frame other than the onset")
    ts = np.asarray(ts)
    start = np.repeat(P[k][None], len(ts), axis=0)
    values, valid = sample_flow(F[ts], start)
    err = np.linalg.norm((P[ts] - P[k]) - values, axis=-1)          # (n, V) px
    return err, np.asarray(valid, dtype=np.float64)


def flow_consistency_error(projected: Any, flow: Any, *, onset: int,
                           frames: Sequence[int] | None = None, weights: Any = None) -> float:
    """Flow-consistency error: projected vertex motion vs optical flow at the vertices, px.

    Parameters
    ----------
    projected : array or Tensor, shape (T, V, 2)
        Vertices projected into the flow's image (pixels, u right, v down), e.g.
        ``recon.coarse.project(recon.vertices)``.
    flow : array or Tensor, shape (T, H, W, 2)
        Optical flow from the onset frame to each frame (mxkit convention, zeros at the onset),
        e.g. ``Prepared.flow``.
    onset : int
    frames : sequence of int, optional
        Frames compared (default: every frame but the onset).
    weights : array (V,), optional
        Vertex weights (e.g. a visible-skin mask); default all. There is no occlusion test:
        a vertex hidden behind the face is compared with the flow of whatever covers it, so
        restrict the weights to visible vertices (:func:`evaluate_reconstruction` uses
        :func:`face_mask`).

    Returns
    -------
    float
        ``mean ||(P_t - P_onset) - flow_t(P_onset)||`` over the frames and the weighted
        vertices whose onset projection lies on the image (px).

    Examples
    --------
    >>> P = np.zeros((2, 1, 2)); P[:, 0] = (2.0, 2.0); P[1, 0] += (1.0, 0.0)   # moves 1 px right
    >>> flow = np.zeros((2, 5, 5, 2))                                           # flow sees nothing
    >>> flow_consistency_error(P, flow, onset=0)
    1.0
    """
    err, valid = _flow_error_map(projected, flow, onset, frames)
    w = _mask(weights, err.shape[1])[None] * valid
    if not w.sum() > 0:
        raise InputValueError("no weighted vertex projects onto the flow image at the onset")
    return float((err * w).sum() / w.sum())


# --------------------------------------------------------------------------- jitter and SNR
def _jitter_var(x: np.ndarray, idx: np.ndarray, method: str) -> np.ndarray:
    """Per-vertex jitter variance s_v^2 (V,) in m^2 on the neutral frames idx."""
    check_option(method, ("mean", "diff"), "method")
    if idx.size < 2:
        raise InputValueError(f"the noise floor needs at least 2 neutral frames; got {idx.size}")
    n = x[idx]
    if method == "mean":
        r = n - n.mean(0, keepdims=True)
        return (r * r).sum(-1).sum(0) / (idx.size - 1)
    if not (np.diff(idx) == 1).all():
        raise InputValueError("method='diff' needs consecutive neutral frames")
    d = np.diff(n, axis=0)
    return (d * d).sum(-1).sum(0) / (2 * (idx.size - 1))


def noise_floor(vertices: Any, *, neutral: Any = None, onset: int | None = None,
                method: Literal["mean", "diff"] = "mean", weights: Any = None) -> float:
    """Jitter noise floor of a reconstructed sequence on its neutral frames, mm.

    Parameters
    ----------
    vertices : array or Tensor, shape (T, V, 3)
        Metres.
    neutral : slice, boolean mask (T,) or int indices, optional
        Frames without expression (default ``slice(0, onset)``: before the onset).
    onset : int, optional
    method : {'mean', 'diff'}, default 'mean'
        Deviation from the neutral mean, or frame-to-frame differences / sqrt(2) (see the
        module docstring; both give ``sqrt(3) sigma`` for white noise of std ``sigma``).
    weights : array (V,), optional

    Returns
    -------
    float
        RMS over the weighted vertices of the per-vertex jitter, mm.
    """
    x = _sequence(vertices, "vertices")
    idx = _neutral_indices(neutral, onset, len(x))
    var = _jitter_var(x, idx, method)
    return float(np.sqrt(_wmean(var, _mask(weights, x.shape[1])))) * _MM


def signal_to_noise(vertices: Any, *, onset: int, apex: int, neutral: Any = None,
                    method: Literal["mean", "diff"] = "mean", weights: Any = None) -> float:
    """Micro-expression signal-to-noise: RMS apex displacement over the noise floor.

    ``sqrt(mean_v ||X_apex - X_onset||^2) / noise_floor`` (amplitude ratio); ``inf`` when the
    sequence has no jitter at all.
    """
    x = _sequence(vertices, "vertices")
    w = _mask(weights, x.shape[1])
    d = displacement_field(x, onset=onset, apex=apex)
    signal = np.sqrt(_wmean((d * d).sum(-1), w))
    noise = np.sqrt(_wmean(_jitter_var(x, _neutral_indices(neutral, onset, len(x)), method), w))
    return float(signal / noise) if noise > 0 else float("inf")


# --------------------------------------------------------------------------- tidy tables
def _rows(values: Mapping[str, Mapping[str, float]], units: Mapping[str, str]) -> pd.DataFrame:
    rows = [{"region": r, "metric": m, "value": float(v), "unit": units[m]}
            for r, per in values.items() for m, v in per.items()]
    return pd.DataFrame(rows, columns=["region", "metric", "value", "unit"])


def vertex_error_table(pred: Any, truth: Any, *, regions: Mapping[str, np.ndarray] | None = None,
                       align: Literal["frame", "clip", "onset", "none"] = "frame",
                       mask: Any = None, onset: int = 0) -> pd.DataFrame:
    """``vertex_l1 / vertex_l2 / vertex_rmse`` (mm) per region.

    Parameters
    ----------
    pred, truth : (T, V, 3) metres
    regions : dict of name -> weights (V,), optional
        From :func:`region_weights`; default ``{'all': mask}``.
    align, mask, onset
        Alignment (``mask`` = alignment weights; default the ``'all'`` weights of ``regions``).

    Returns
    -------
    pandas.DataFrame
        Columns ``region, metric, value, unit``.
    """
    p, t = _pair(pred, truth)
    regions = regions or {"all": _mask(mask, p.shape[1])}
    d = rigid_align(p, t, align=align, mask=regions.get("all", mask) if mask is None else mask,
                    onset=onset) - t
    values = {r: _error_summary(d, w, "vertex") for r, w in regions.items()}
    return _rows(values, {"vertex_l1": "mm", "vertex_l2": "mm", "vertex_rmse": "mm"})


def micro_motion_table(pred: Any, truth: Any, *, onset: int, apex: int,
                       regions: Mapping[str, np.ndarray] | None = None,
                       align: Literal["frame", "clip", "onset", "none"] = "onset",
                       mask: Any = None, active_threshold: float | None = ACTIVE_THRESHOLD) -> pd.DataFrame:
    """Motion metrics of the apex - onset field per region.

    ``micro_motion_l1 / micro_motion_l2 / motion_true / motion_pred`` (mm, whole region) and the
    active-region metrics of :mod:`mxkit.eval.motion` (``active_rel_error``, ``amplitude_ratio``,
    ``motion_cosine``, ``active_motion_true``, ``active_vertices``) on the vertices whose true
    motion is at least ``active_threshold`` times its maximum over the mask (``None``: left out;
    regions without an active vertex are left out of those rows).
    """
    p, t = _pair(pred, truth)
    regions = regions or {"all": _mask(mask, p.shape[1])}
    support = regions.get("all") if mask is None else mask
    dp, dt = _motion_fields(p, t, onset, apex, align, support)
    e1, e2 = np.abs(dp - dt).mean(-1), np.linalg.norm(dp - dt, axis=-1)
    mt, mp = np.linalg.norm(dt, axis=-1), np.linalg.norm(dp, axis=-1)
    values = {r: {"micro_motion_l1": _wmean(e1, w) * _MM, "micro_motion_l2": _wmean(e2, w) * _MM,
                  "motion_true": _wmean(mt, w) * _MM, "motion_pred": _wmean(mp, w) * _MM}
              for r, w in regions.items()}
    if active_threshold is not None:
        for r, m in active_motion_values(dp, dt, regions, threshold=active_threshold,
                                         mask=_mask(support, p.shape[1])).items():
            values[r].update(m)
    return _rows(values, {"micro_motion_l1": "mm", "micro_motion_l2": "mm",
                          "motion_true": "mm", "motion_pred": "mm", **ACTIVE_METRICS})


def noise_table(vertices: Any, *, onset: int, apex: int, neutral: Any = None,
                regions: Mapping[str, np.ndarray] | None = None,
                method: Literal["mean", "diff"] = "mean") -> pd.DataFrame:
    """``noise_floor`` (mm), ``signal`` (mm) and ``snr`` (ratio) per region."""
    x = _sequence(vertices, "vertices")
    regions = regions or {"all": np.ones(x.shape[1])}
    var = _jitter_var(x, _neutral_indices(neutral, onset, len(x)), method)
    d = displacement_field(x, onset=onset, apex=apex)
    sig2 = (d * d).sum(-1)
    values = {}
    for r, w in regions.items():
        noise, signal = np.sqrt(_wmean(var, w)), np.sqrt(_wmean(sig2, w))
        values[r] = {"noise_floor": noise * _MM, "signal": signal * _MM,
                     "snr": signal / noise if noise > 0 else float("inf")}
    return _rows(values, {"noise_floor": "mm", "signal": "mm", "snr": "ratio"})


def flow_consistency_table(projected: Any, flow: Any, *, onset: int,
                           regions: Mapping[str, np.ndarray] | None = None,
                           frames: Sequence[int] | None = None) -> pd.DataFrame:
    """``flow_consistency`` (px) per region (regions whose vertices all leave the image are skipped)."""
    err, valid = _flow_error_map(projected, flow, onset, frames)
    regions = regions or {"all": np.ones(err.shape[1])}
    values = {}
    for r, w in regions.items():
        ww = w[None] * valid
        if ww.sum() > 0:
            values[r] = {"flow_consistency": float((err * ww).sum() / ww.sum())}
    return _rows(values, {"flow_consistency": "px"})


def landmark_table(pred: Any, target: Any) -> pd.DataFrame:
    """``landmark_nme`` (ratio) overall (``'all'``) and per iBUG-68 group (jaw, brows, ...)."""
    from ..face import LANDMARK_GROUPS

    dist = _landmark_distances(pred, target)
    values = {"all": {"landmark_nme": float(dist.mean())}}
    for g, idx in LANDMARK_GROUPS.items():
        values[g] = {"landmark_nme": float(dist[:, list(idx)].mean())}
    return _rows(values, {"landmark_nme": "ratio"})


# --------------------------------------------------------------------------- per clip
@dataclass(frozen=True)
class ReconstructionMetrics:
    """Reconstruction metrics of one clip (from :func:`evaluate_reconstruction`).

    Attributes
    ----------
    clip_key : tuple of str
        ``(dataset, subject, clip_id)``.
    variant : str or None
        The reconstruction variant (``'full'``, ``'static'``, ...).
    table : pandas.DataFrame
        Tidy rows with the columns :data:`TABLE_COLUMNS`: ``mesh`` is ``'fine'``
        (``recon.vertices``) or ``'coarse'`` (``recon.vertices_coarse``); ``region`` is
        ``'all'``, a facial region or an AU (``'AU12'``) or, for ``landmark_nme``, an iBUG-68
        group; metrics and units as defined in :mod:`mxkit.eval.reconstruction`.
    settings : dict
        The options used (alignment, mask, neutral frames, AUs, noise method).
    """

    clip_key: tuple[str, str, str]
    variant: str | None
    table: pd.DataFrame = field(repr=False)
    settings: dict = field(default_factory=dict)

    def to_dataframe(self) -> pd.DataFrame:
        """The tidy table (a copy)."""
        return self.table.copy()

    def summary(self, *, mesh: str = "fine") -> dict[str, float]:
        """Overall (``region='all'``) value of every metric of one mesh, plain floats."""
        t = self.table[(self.table["mesh"] == mesh) & (self.table["region"] == "all")]
        return {str(m): round(float(v), 6) for m, v in zip(t["metric"], t["value"], strict=True)}

    def value(self, metric: str, *, region: str = "all", mesh: str = "fine") -> float:
        """One number of the table."""
        t = self.table
        hit = t[(t["metric"] == metric) & (t["region"] == region) & (t["mesh"] == mesh)]
        if hit.empty:
            raise InputValueError(f"no {metric!r} for region {region!r} and mesh {mesh!r} in this table")
        return float(hit["value"].iloc[0])


def _truth_vertices(truth: Any, model: Any) -> Any:
    fn = getattr(truth, "vertices", None)
    return fn(model) if callable(fn) else truth


def evaluate_reconstruction(
    recon: Any,
    truth: Any,
    model: Any,
    *,
    mask: Literal["face", "skin", "all"] | Any = "face",
    regions: bool | Sequence[str] = True,
    aus: Sequence[str] | Literal["truth", "all"] | None = "truth",
    align: Literal["frame", "clip", "onset", "none"] = "frame",
    motion_align: Literal["frame", "clip", "onset", "none"] = "onset",
    neutral: Any = None,
    noise_method: Literal["mean", "diff"] = "mean",
    prepared: Any = None,
    target_landmarks: Any = None,
    meshes: Sequence[str] = ("fine", "coarse"),
    active_threshold: float | None = ACTIVE_THRESHOLD,
) -> ReconstructionMetrics:
    """All reconstruction metrics of one clip against its 3D ground truth.

    Duck-typed on the Reconstruction contract: uses ``recon.vertices``,
    ``recon.vertices_coarse`` (T, V, 3) metres, ``recon.onset``, ``recon.apex``,
    ``recon.clip_key`` and, if present, ``recon.variant`` and ``recon.coarse.project``
    (for the landmark and flow metrics).

    Parameters
    ----------
    recon : Reconstruction-like
    truth : SynthTruth-like or array (T, V, 3)
        Anything with ``truth.vertices(model) -> (T, V, 3)`` metres, or those vertices; a
        ``truth.aus`` dict selects the AU regions when ``aus='truth'``.
    model : FaceModel
        Regions, AU masks and landmarks.
    mask : {'face', 'skin', 'all'} or array (V,), default 'face'
        Evaluation and alignment mask (:func:`face_mask`).
    regions : bool or sequence of str, default True
        Facial regions reported beside ``'all'``.
    aus : 'truth', 'all', sequence of str or None, default 'truth'
        AU regions reported: those of ``truth.aus`` (available in the model), all of the
        model's AU masks, the given ones, or none.
    align : default 'frame'
        Alignment of the vertex errors; ``motion_align`` (default ``'onset'``) that of the
        micro-motion error (see :func:`rigid_align`).
    neutral : frames, optional
        Neutral frames of the noise floor (default: those before the onset; with fewer than
        2 the noise metrics are left out and this is logged).
    noise_method : {'mean', 'diff'}
    prepared : Prepared-like, optional
        Its ``.flow`` (T, S, S, 2) gives ``flow_consistency`` and its ``.landmarks``
        (T, 68, 2) the default target of ``landmark_nme``, both in the image the coarse fit
        was made in; they need ``recon.coarse.project``.
    target_landmarks : array (T, 68, 2), optional
        Target landmarks (px) of ``landmark_nme`` (default ``prepared.landmarks``).
    meshes : sequence of {'fine', 'coarse'}
        Which reconstructed meshes to evaluate.
    active_threshold : float or None, default 0.3
        The active-region motion metrics (:mod:`mxkit.eval.motion`) on the vertices whose true
        apex motion is at least this share of its maximum over the mask; ``None`` leaves them out.

    Returns
    -------
    ReconstructionMetrics

    Raises
    ------
    ShapeError
        If the reconstruction and the truth differ in shape.
    InputValueError
        If onset/apex are invalid or the mask selects nothing.
    """
    for m in meshes:
        check_option(m, ("fine", "coarse"), "meshes")
    key = tuple(str(k) for k in getattr(recon, "clip_key", ("", "", "")))
    if len(key) != 3:
        raise InputValueError(f"recon.clip_key must be (dataset, subject, clip_id); got {key!r}")
    onset, apex = int(recon.onset), int(recon.apex)
    true_v = _sequence(_truth_vertices(truth, model), "truth")
    V = true_v.shape[1]
    if V != int(model.n_vertices):
        raise ShapeError(f"the truth has {V} vertices but model {model.name!r} has {model.n_vertices}")
    vmask = face_mask(model, mask) if isinstance(mask, str) else np.asarray(mask)
    if aus == "truth":
        wanted = list(getattr(truth, "aus", None) or {})
        au_list = [a for a in wanted if _model_has_au(model, a)]
    elif aus == "all":
        au_list = list(getattr(model, "au_masks", {}))
    else:
        au_list = list(aus or ())
    weights = region_weights(model, mask=vmask, regions=regions, aus=au_list)
    neutral_idx = _neutral_indices(neutral, onset, len(true_v))
    coarse = getattr(recon, "coarse", None)
    can_project = callable(getattr(coarse, "project", None))
    tables = []
    for mesh in meshes:
        verts = _sequence(recon.vertices if mesh == "fine" else recon.vertices_coarse, f"recon {mesh} vertices")
        if verts.shape != true_v.shape:
            raise ShapeError(f"recon {mesh} vertices {verts.shape} and truth {true_v.shape} differ in shape")
        parts = [vertex_error_table(verts, true_v, regions=weights, align=align, onset=onset),
                 micro_motion_table(verts, true_v, onset=onset, apex=apex, regions=weights,
                                    align=motion_align, active_threshold=active_threshold)]
        if neutral_idx.size >= 2:
            parts.append(noise_table(verts, onset=onset, apex=apex, neutral=neutral_idx,
                                     regions=weights, method=noise_method))
        else:
            log.info("clip %s: %d neutral frame(s); noise floor and SNR left out", key, neutral_idx.size)
        if can_project and (prepared is not None or target_landmarks is not None):
            vt = torch.as_tensor(verts, dtype=coarse.expression.dtype, device=coarse.device)
            if prepared is not None and getattr(prepared, "flow", None) is not None:
                proj = coarse.project(vt)
                parts.append(flow_consistency_table(proj, prepared.flow, onset=onset, regions=weights))
            target = target_landmarks if target_landmarks is not None else getattr(prepared, "landmarks", None)
            if target is not None:
                lmk = coarse.project(model.landmarks(vt.to(model.v_template), "ibug68").to(vt))
                parts.append(landmark_table(lmk, target))
        t = pd.concat(parts, ignore_index=True)
        t.insert(0, "mesh", mesh)
        tables.append(t)
    table = pd.concat(tables, ignore_index=True)
    table.insert(0, "variant", getattr(recon, "variant", None))
    table.insert(0, "dataset", key[0])
    table.insert(0, "subject", key[1])
    table.insert(0, "clip", key[2])
    table = table[list(TABLE_COLUMNS)]
    settings = {"mask": mask if isinstance(mask, str) else "custom", "n_mask_vertices": int(np.count_nonzero(vmask)),
                "align": align, "motion_align": motion_align, "noise_method": noise_method,
                "neutral_frames": neutral_idx.tolist(), "aus": au_list, "onset": onset, "apex": apex,
                "active_threshold": active_threshold}
    return ReconstructionMetrics(clip_key=key, variant=getattr(recon, "variant", None),  # type: ignore[arg-type]
                                 table=table, settings=settings)


@dataclass(frozen=True)
class NoMotionReference:
    """The no-motion reference of one clip: the onset shape kept for every frame.

    Reconstruction-like (``vertices``, ``vertices_coarse`` (T, V, 3) metres, ``onset``, ``apex``,
    ``clip_key``, ``variant = 'no_motion'``), so :func:`evaluate_reconstruction` grades it.
    """

    vertices: np.ndarray = field(repr=False)
    onset: int
    apex: int
    clip_key: tuple[str, str, str]
    variant: str = NO_MOTION

    @property
    def vertices_coarse(self) -> np.ndarray:
        return self.vertices


def no_motion_reference(vertices: Any, *, onset: int, apex: int,
                        clip_key: Sequence[str] = ("", "", "")) -> NoMotionReference:
    """:class:`NoMotionReference` from a vertex sequence: its onset frame repeated over its frames.

    Parameters
    ----------
    vertices : array (T, V, 3)
        Metres (for example the clip's true vertices: its onset shape is then the truth's).
    onset, apex : int
    clip_key : (dataset, subject, clip_id)
    """
    x = _sequence(vertices, "vertices")
    o = _frame(onset, len(x), "onset")
    _frame(apex, len(x), "apex")
    return NoMotionReference(np.repeat(x[o][None], len(x), 0), onset=o, apex=int(apex) % len(x),
                             clip_key=tuple(str(k) for k in clip_key))  # type: ignore[arg-type]


def evaluate_no_motion(truth: Any, model: Any, *, onset: int, apex: int,
                       clip_key: Sequence[str] = ("", "", ""), **options: Any) -> ReconstructionMetrics:
    """Motion metrics of the no-motion reference of one clip (variant ``'no_motion'``).

    Predicts no motion at all: the true onset shape kept for every frame
    (:func:`no_motion_reference` of the truth). Only the :data:`mxkit.eval.MOTION_METRICS` rows
    are kept (fine mesh): by construction ``active_rel_error`` is 1, ``amplitude_ratio`` and
    ``motion_cosine`` 0, ``micro_motion_l1`` the true mean displacement. Its shape errors are left
    out: its shape is the truth's own onset.

    Parameters
    ----------
    truth : SynthTruth-like or array (T, V, 3)
    model : FaceModel
    onset, apex : int
        The frames the reconstructions of the clip use (``recon.onset``, ``recon.apex``).
    clip_key : (dataset, subject, clip_id)
    **options
        Of :func:`evaluate_reconstruction` (``mask``, ``regions``, ``aus``, ``motion_align``,
        ``active_threshold``); ``meshes``, ``prepared``, ``target_landmarks`` are ignored.

    Returns
    -------
    ReconstructionMetrics
    """
    for k in ("meshes", "prepared", "target_landmarks"):
        options.pop(k, None)
    ref = no_motion_reference(_truth_vertices(truth, model), onset=onset, apex=apex, clip_key=clip_key)
    res = evaluate_reconstruction(ref, truth, model, meshes=("fine",), **options)
    table = res.table[res.table["metric"].isin(MOTION_METRICS)].reset_index(drop=True)
    return ReconstructionMetrics(clip_key=res.clip_key, variant=NO_MOTION, table=table, settings=res.settings)


def _model_has_au(model: Any, au: str) -> bool:
    try:
        model.au_region_mask(au)
    except (ValueError, KeyError):
        return False
    return True


def aggregate_metrics(tables: pd.DataFrame | Sequence[ReconstructionMetrics | pd.DataFrame], *,
                      by: Literal["dataset", "subject", "clip"] | Sequence[str] = "dataset",
                      weight: Literal["clip", "subject"] = "clip") -> pd.DataFrame:
    """Average clip-level metrics per dataset, per subject or over all clips.

    Parameters
    ----------
    tables : DataFrame or sequence of ReconstructionMetrics / DataFrames
        Clip tables with the columns :data:`TABLE_COLUMNS`.
    by : 'dataset', 'subject', 'clip' or list of columns, default 'dataset'
        ``'subject'`` groups by ``(dataset, subject)``; ``[]`` pools everything.
        ``variant, mesh, region, metric, unit`` are always kept apart.
    weight : {'clip', 'subject'}, default 'clip'
        ``'clip'``: every clip counts once; ``'subject'``: clips are first averaged per
        subject, then subjects count once.

    Returns
    -------
    pandas.DataFrame
        The group columns, ``variant, mesh, region, metric, unit``, then ``mean``, ``std``
        (over the averaged units, ddof=1; NaN for one), ``n`` (number of clips or subjects).
    """
    check_option(weight, ("clip", "subject"), "weight")
    if isinstance(tables, pd.DataFrame):
        df = tables
    else:
        df = pd.concat([t.table if isinstance(t, ReconstructionMetrics) else t for t in tables],
                       ignore_index=True)
    missing = set(TABLE_COLUMNS) - set(df.columns)
    if missing:
        raise InputValueError(f"metric tables need the columns {list(TABLE_COLUMNS)}; missing {sorted(missing)}")
    named = {"dataset": ["dataset"], "subject": ["dataset", "subject"], "clip": ["dataset", "subject", "clip"]}
    keys = named[by] if isinstance(by, str) and by in named else list(by)
    if isinstance(by, str) and by not in named:
        check_option(by, list(named), "by")
    inner = ["variant", "mesh", "region", "metric", "unit"]
    df = df.copy()
    df["variant"] = df["variant"].fillna("")
    if weight == "subject":
        df = df.groupby(["dataset", "subject", *inner], sort=False, as_index=False)["value"].mean()
        if "clip" in keys:
            raise InputValueError("weight='subject' cannot group by clip")
    group = keys + inner
    out = df.groupby(group, sort=False)["value"].agg(mean="mean", std="std", n="count").reset_index()
    out["variant"] = out["variant"].replace("", None)
    return out
