"""Losses of the refinement, each a pure, differentiable function with its units stated.

Supervised (3D ground truth, e.g. SynthME):

* :func:`vertex_l1` -- mean per-vertex L1 distance after a per-frame rigid alignment;
* :func:`motion_l1` -- the same on displacements since the onset (no alignment): the
  training form of the micro-motion error.

Self-supervised (2D data):

* :func:`landmark_reprojection` -- distance between projected model landmarks and detected
  landmarks, optionally normalised (e.g. by the inter-ocular distance);
* :func:`flow_consistency` -- projected vertex motion onset -> t against the optical flow
  sampled at the projected onset vertex (:func:`flow_consistency_dense` samples the field);
* :func:`photometric_loss` -- frame ``t`` against the onset frame warped through the mesh
  (pytorch3d rasterization; opt-in, slow on a CPU).

Regularisers that protect the global geometry:

* :func:`laplacian_smoothness` of the offsets, :func:`offset_magnitude`,
  :func:`region_mean` (zero mean of the offsets per facial region) and
  :func:`expression_prior` on the expression residuals.

"L1" of a vertex error is its per-coordinate absolute error ``(|dx| + |dy| + |dz|) / 3``
averaged over vertices (weighted) and frames -- what ``torch.nn.functional.l1_loss``
computes and :mod:`mxkit.eval.reconstruction` reports as ``vertex_l1``; distances are robust Charbonnier norms
``sqrt(|d|^2 + eps^2) - eps`` (smooth at 0, 0 for an exact match). Every loss returns a
0-d tensor in the units of its inputs (squared units for the quadratic regularisers).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .._checks import check_shape
from ..camera import project_points
from ..errors import InputValueError
from ..geometry import rigid_align  # per-frame rigid alignment, re-exported here

__all__ = [
    "vertex_l1",
    "motion_l1",
    "rigid_align",
    "landmark_reprojection",
    "flow_consistency",
    "flow_consistency_dense",
    "photometric_loss",
    "laplacian_smoothness",
    "offset_magnitude",
    "region_mean",
    "expression_prior",
]


def _weights(weights: Any, like: torch.Tensor, V: int, name: str = "weights") -> torch.Tensor:
    if weights is None:
        return like.new_ones(V)
    w = torch.as_tensor(weights, dtype=like.dtype, device=like.device)
    check_shape(w, (V,), name)
    if bool((w < 0).any()) or float(w.sum()) <= 0:
        raise InputValueError(f"{name} must be >= 0 with a positive sum")
    return w


def _charbonnier(d: torch.Tensor, eps: float) -> torch.Tensor:
    """``sqrt(|d|^2 + eps^2) - eps`` over the last axis."""
    return torch.sqrt(d.pow(2).sum(-1) + eps * eps) - eps


def vertex_l1(pred: torch.Tensor, target: torch.Tensor, *, weights: Any = None,
              align: bool = True) -> torch.Tensor:
    """Mean per-vertex L1 error, after a per-frame rigid alignment of ``pred`` to ``target``.

    Parameters
    ----------
    pred, target : Tensor, shape (T, V, 3)
        Vertices in the same unit (metres in mxkit).
    weights : array or Tensor, shape (V,), optional
        Vertex weights (e.g. a skin mask); used for the alignment and the mean.
    align : bool
        Rigidly align each predicted frame first (default), else compare as given.

    Returns
    -------
    Tensor, shape ()
        ``mean_t sum_v w_v |pred_tv - target_tv|_1 / (3 sum_v w_v)``.

    Examples
    --------
    >>> x = torch.zeros(1, 4, 3)
    >>> float(vertex_l1(x + torch.tensor([0.3, 0.0, 0.0]), x, align=False))
    0.10000000149011612
    """
    check_shape(pred, ("T", "V", 3), "pred")
    check_shape(target, tuple(pred.shape), "target")
    w = _weights(weights, pred, pred.shape[1])
    p = rigid_align(pred, target, weights=w) if align else pred
    err = (p - target.to(p)).abs().mean(-1)                               # (T, V)
    return ((err * w).sum(-1) / w.sum()).mean()


def motion_l1(pred: torch.Tensor, target: torch.Tensor, *, onset: int | None = None,
              weights: Any = None, pred_onset: torch.Tensor | None = None,
              target_onset: torch.Tensor | None = None) -> torch.Tensor:
    """Mean per-vertex L1 error of the displacements since the onset (model frame).

    Parameters
    ----------
    pred, target : Tensor, shape (T, V, 3)
        Vertices per frame (unposed model frame; no alignment is done, so global geometry
        errors shared by all frames, e.g. of the identity, cancel).
    onset : int, optional
        Index of the onset frame in ``pred`` / ``target``.
    weights : array or Tensor, shape (V,), optional
    pred_onset, target_onset : Tensor, shape (V, 3), optional
        The onset shapes, when the onset frame is not among ``pred`` (instead of ``onset``).

    Returns
    -------
    Tensor, shape ()
        ``vertex_l1(pred - pred_onset, target - target_onset, align=False)``.
    """
    check_shape(pred, ("T", "V", 3), "pred")
    if (onset is None) == (pred_onset is None or target_onset is None):
        raise InputValueError("give either onset or both pred_onset and target_onset")
    if onset is not None:
        pred_onset, target_onset = pred[onset], target[onset]
    return vertex_l1(pred - pred_onset, target - target_onset.to(target), weights=weights,
                     align=False)


def landmark_reprojection(pred: torch.Tensor, target: torch.Tensor, *, weights: Any = None,
                          normalizer: Any = None, eps: float = 1e-3) -> torch.Tensor:
    """Mean robust distance between projected and detected landmarks.

    Parameters
    ----------
    pred, target : Tensor, shape (T, L, 2)
        Pixels.
    weights : Tensor, shape (L,) or (T, L), optional
        Landmark confidences (0 drops one).
    normalizer : float or Tensor of shape () or (T,), optional
        Divides the distances (e.g. the inter-ocular distance in px).
    eps : float
        Charbonnier constant, px.

    Returns
    -------
    Tensor, shape ()
        ``sum w d / sum w`` with ``d = charbonnier(pred - target) / normalizer``.
    """
    T, L = check_shape(pred, ("T", "L", 2), "pred").values()
    check_shape(target, (T, L, 2), "target")
    d = _charbonnier(pred - target.to(pred), eps)                         # (T, L)
    if normalizer is not None:
        n = torch.as_tensor(normalizer, dtype=d.dtype, device=d.device)
        d = d / (n[:, None] if n.ndim == 1 else n)
    w = d.new_ones(T, L) if weights is None else torch.as_tensor(weights).to(d).expand(T, L)
    return (d * w).sum() / w.sum().clamp_min(1e-12)


def flow_consistency(motion: torch.Tensor, flow: torch.Tensor, *, weights: Any = None,
                     eps: float = 1e-2) -> torch.Tensor:
    """Projected vertex motion against optical flow sampled at the projected onset vertex.

    Parameters
    ----------
    motion : Tensor, shape (T, N, 2)
        ``P_t(X_t) - P_0(X_0)`` per vertex, pixels.
    flow : Tensor, shape (T, N, 2)
        Flow onset -> t sampled at ``P_0(X_0)``, pixels.
    weights : Tensor, shape (N,) or (T, N), optional
        E.g. visibility.
    eps : float
        Charbonnier constant, px.

    Returns
    -------
    Tensor, shape ()
        Weighted mean robust end-point error, pixels (0 for an exact match).
    """
    T, N = check_shape(motion, ("T", "N", 2), "motion").values()
    check_shape(flow, (T, N, 2), "flow")
    d = _charbonnier(motion - flow.to(motion), eps)
    w = d.new_ones(T, N) if weights is None else torch.as_tensor(weights).to(d).expand(T, N)
    return (d * w).sum() / w.sum().clamp_min(1e-12)


def flow_consistency_dense(projected: torch.Tensor, flow: torch.Tensor, *, onset: int,
                           weights: Any = None, eps: float = 1e-2) -> torch.Tensor:
    """:func:`flow_consistency` with the flow field sampled at the projected onset vertices.

    Parameters
    ----------
    projected : Tensor, shape (T, V, 2)
        Projected vertices per frame, pixels.
    flow : Tensor, shape (T, H, W, 2)
        Flow from the onset frame to each frame, pixels.
    onset : int
    weights : Tensor, shape (V,), optional
        Multiplied by the in-image flag of each sampled point.

    Returns
    -------
    Tensor, shape ()
    """
    from ..flow import sample_flow

    T, V = check_shape(projected, ("T", "V", 2), "projected").values()
    check_shape(flow, (T, "H", "W", 2), "flow")
    p0 = projected[onset]
    values, valid = sample_flow(flow.to(projected), p0[None].expand(T, V, 2))
    w = valid.to(projected.dtype)
    if weights is not None:
        w = w * _weights(weights, projected, V)
    return flow_consistency(projected - p0, values, weights=w, eps=eps)


def laplacian_smoothness(offsets: torch.Tensor, laplacian: torch.Tensor) -> torch.Tensor:
    """Mean squared Laplacian of the offsets, ``mean_{t,v} |(L delta_t)_v|^2``.

    Parameters
    ----------
    offsets : Tensor, shape (..., V, 3)
    laplacian : Tensor, shape (V, V), sparse
        E.g. :func:`mxkit.nets.uniform_laplacian` (0 on constant fields).

    Returns
    -------
    Tensor, shape ()
        Squared units of ``offsets``.
    """
    from ..nets.graph import apply_operator

    return apply_operator(laplacian.to(offsets.dtype), offsets).pow(2).sum(-1).mean()


def offset_magnitude(offsets: torch.Tensor, *, weights: Any = None) -> torch.Tensor:
    """Mean squared offset, ``sum_v w_v |delta_v|^2 / sum_v w_v`` averaged over frames.

    Parameters
    ----------
    offsets : Tensor, shape (..., V, 3)
    weights : Tensor, shape (V,), optional
    """
    V = offsets.shape[-2]
    w = _weights(weights, offsets, V)
    return ((offsets.pow(2).sum(-1) * w).sum(-1) / w.sum()).mean()


def region_mean(offsets: torch.Tensor, labels: Any) -> torch.Tensor:
    """Squared norm of the mean offset of each region, averaged over regions and frames.

    Penalises offsets that shift or inflate a whole region (which the coarse model's
    global geometry should explain) while leaving detail that averages out inside the
    region free.

    Parameters
    ----------
    offsets : Tensor, shape (..., V, 3)
    labels : array or Tensor, shape (V,), int
        Region of each vertex; negative = unlabelled (ignored).

    Returns
    -------
    Tensor, shape ()
        ``mean_{t,r} |mean_{v in r} delta_tv|^2``.
    """
    V = offsets.shape[-2]
    lab = torch.as_tensor(labels, device=offsets.device).long()
    check_shape(lab, (V,), "labels")
    keep = lab >= 0
    if not bool(keep.any()):
        return offsets.new_zeros(())
    ids, inv = torch.unique(lab[keep], return_inverse=True)
    R = ids.numel()
    onehot = offsets.new_zeros(int(keep.sum()), R)
    onehot[torch.arange(onehot.shape[0], device=offsets.device), inv] = 1.0
    onehot = onehot / onehot.sum(0, keepdim=True)
    means = torch.einsum("...vc,vr->...rc", offsets[..., keep, :], onehot)
    return means.pow(2).sum(-1).mean()


def expression_prior(delta_expression: torch.Tensor, *, smooth: float = 0.0) -> torch.Tensor:
    """Gaussian prior on the expression residuals, with optional temporal smoothness.

    Parameters
    ----------
    delta_expression : Tensor, shape (T, E)
    smooth : float
        Weight of the mean squared second difference over time.

    Returns
    -------
    Tensor, shape ()
        ``mean(dpsi^2) + smooth * mean((dpsi_{t+1} - 2 dpsi_t + dpsi_{t-1})^2)``.
    """
    check_shape(delta_expression, ("T", "E"), "delta_expression")
    out = delta_expression.pow(2).mean()
    if smooth and delta_expression.shape[0] > 2:
        d2 = delta_expression[2:] - 2.0 * delta_expression[1:-1] + delta_expression[:-2]
        out = out + float(smooth) * d2.pow(2).mean()
    return out


# ----------------------------------------------------------------------------- photometric
def _ndc(points: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pixels (u right, v down, centres at integers) -> pytorch3d NDC (+x left, +y up)."""
    s = float(min(height, width))
    x = (width - 2.0 * points[..., 0] - 1.0) / s
    y = (height - 2.0 * points[..., 1] - 1.0) / s
    return torch.stack([x, y], -1)


def photometric_loss(vertices: torch.Tensor, faces: torch.Tensor, frames: torch.Tensor, *,
                     onset: int, rotation: torch.Tensor, scale: torch.Tensor,
                     t2d: torch.Tensor, distance: float = math.inf,
                     eps: float = 1e-3) -> torch.Tensor:
    """Frame ``t`` against the onset frame warped through the mesh (differentiable).

    For every pixel that the mesh of frame ``t`` covers, the rasterizer gives the triangle
    and barycentric coordinates of the surface point seen there; the same surface point at
    the onset projects to ``sum_i b_i P_0(X_0,i)``, where the onset frame is sampled
    bilinearly. The loss is the mean robust colour difference over covered pixels and
    frames ``t != onset``. Gradients reach the vertices of frame ``t`` through the
    barycentric coordinates and the onset vertices through the sampling position.
    Rasterization uses pytorch3d (hard, one face per pixel, back faces culled) on
    weak-perspective screen coordinates; slow on a CPU, so keep meshes and images small
    there.

    Parameters
    ----------
    vertices : Tensor, shape (T, V, 3)
        Model-frame vertices per frame, metres.
    faces : Tensor, shape (F, 3), int64
    frames : Tensor, shape (T, H, W) or (T, H, W, C)
        Images, float in [0, 1] (or uint8, converted).
    onset : int
    rotation : Tensor, shape (T, 3, 3)
        Head rotation matrices (model frame).
    scale : Tensor, shape (T,)
        px/m.
    t2d : Tensor, shape (T, 2)
        px.
    distance : float
        Camera distance, metres (``inf``: weak perspective; see
        :func:`mxkit.camera.project_points`).
    eps : float
        Charbonnier constant (intensity units).

    Returns
    -------
    Tensor, shape ()

    Raises
    ------
    BackendUnavailableError
        If pytorch3d cannot be imported.
    """
    import torch.nn.functional as F

    from ..flow.sampling import pixel_to_normalized
    from ..render.diff import _pytorch3d

    T, V = check_shape(vertices, ("T", "V", 3), "vertices").values()
    img = frames if frames.is_floating_point() else frames.float() / 255.0
    if img.ndim == 3:
        img = img[..., None]
    check_shape(img, (T, "H", "W", "C"), "frames")
    H, W = img.shape[1:3]
    img = img.to(vertices)
    renderer, structures = _pytorch3d()
    from pytorch3d.renderer.mesh.rasterize_meshes import rasterize_meshes

    px = project_points(vertices, rotation.to(vertices), scale.to(vertices), t2d.to(vertices),
                        distance)
    cam_z = -(vertices @ rotation.to(vertices).transpose(-1, -2))[..., 2] + 1.0  # > 0, near<far
    p0 = px[onset]
    f = faces.to(device=vertices.device, dtype=torch.int64)
    total, count = vertices.new_zeros(()), vertices.new_zeros(())
    for t in range(T):
        if t == onset:
            continue
        verts = torch.cat([_ndc(px[t], H, W), cam_z[t, :, None]], -1).float()
        mesh = structures.Meshes(verts=[verts], faces=[f])
        p2f, _, bary, _ = rasterize_meshes(mesh, image_size=(H, W), blur_radius=0.0,
                                           faces_per_pixel=1, bin_size=0,
                                           cull_backfaces=False)
        fid = p2f[0, ..., 0]                                               # (H, W)
        hit = fid >= 0
        if not bool(hit.any()):
            continue
        b = bary[0, ..., 0, :][hit].to(vertices)                           # (P, 3)
        corners = p0[f[fid[hit]]]                                          # (P, 3, 2)
        src = (b[..., None] * corners).sum(-2)                             # onset pixels
        grid = pixel_to_normalized(src, H, W)[None, None]                  # (1, 1, P, 2)
        warped = F.grid_sample(img[onset].permute(2, 0, 1)[None], grid, mode="bilinear",
                               padding_mode="border", align_corners=True)[0, :, 0].T
        total = total + _charbonnier(warped - img[t][hit], eps).sum()
        count = count + hit.sum()
    return total / count.clamp_min(1)
