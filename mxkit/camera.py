"""The one weak-perspective camera of mxkit and its geometry (layer 0; torch, batched).

Every stage that maps model-frame points to pixels with a fitted head pose uses the functions
here: the coarse fit (:mod:`mxkit.fit`), the network features (:mod:`mxkit.nets`), the losses
(:mod:`mxkit.train`) and :meth:`mxkit.fit.CoarseFit.project`. (The calibrated pinhole and
orthographic :class:`mxkit.render.Camera` of the renderer is another model: intrinsics and
extrinsics, no fitted head pose.)

The camera of frame ``t``
-------------------------
A model-frame point ``X`` (metres; +x the subject's left, +y up, +z toward the camera) is
rotated by the head rotation ``R_t`` (axis-angle ``rotation`` as a matrix), ``Y = R_t X``,
and lands at the pixel (u right, v down)::

    P_t(X) = c_t + s_t k (Y_x, -Y_y),      k = d / (d - Y_z)

with ``s_t`` pixels per metre at the head origin, ``c_t`` (``t2d``) the image of the head
origin and one camera distance ``d`` per clip (:func:`project_points`). ``d = inf`` (``k =
1``) is the **weak perspective** (scaled orthographic) projection of the coarse fit; as a
2 x 3 matrix it is ``A_t = s_t diag(1, -1) R_t[:2]`` (:func:`weak_perspective_matrix`). In
the OpenCV camera frame (x right, y down, z forward) of :mod:`mxkit.render`, the camera
rotation is ``diag(1, -1, -1) @ R_t`` (:func:`camera_rotation`, :func:`flip_camera_frame`),
and :func:`weak_perspective` takes that one.

Inverse and registration
------------------------
:func:`to_metric` and :func:`backproject` turn pixel displacements and pixels into the
minimal-norm model-frame displacements and points; :func:`plane_projection` removes the
component along the viewing ray; :func:`register_rigid` re-estimates ``(R_t, s_t, c_t)`` of a
rigid point set from its image positions (robust Gauss-Newton) and
:func:`estimate_distance` the distance ``d``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ._checks import check_shape
from .errors import InputValueError, ShapeError
from .geometry import axis_angle_to_matrix

__all__ = [
    "camera_rotation",
    "flip_camera_frame",
    "weak_perspective",
    "weak_perspective_matrix",
    "project_points",
    "perspective_factor",
    "backproject",
    "to_metric",
    "plane_projection",
    "register_rigid",
    "estimate_distance",
    "DISTANCE_CANDIDATES",
]

#: Camera distances (metres) searched by :func:`estimate_distance`, then refined.
DISTANCE_CANDIDATES = (0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 3.0, 5.0, math.inf)
_FLIP = (1.0, -1.0, -1.0)


# ----------------------------------------------------------------------------- rotations
def flip_camera_frame(R: torch.Tensor) -> torch.Tensor:
    """``diag(1, -1, -1) @ R``: head rotation (model frame) <-> OpenCV camera rotation.

    Its own inverse. Batched over leading axes.

    Parameters
    ----------
    R : Tensor, shape (..., 3, 3)

    Returns
    -------
    Tensor, shape (..., 3, 3)
    """
    check_shape(R, ("...", 3, 3), "R")
    return R * R.new_tensor(_FLIP)[:, None]


def camera_rotation(rotation: torch.Tensor) -> torch.Tensor:
    """OpenCV camera rotation of a fitted head: ``diag(1, -1, -1) @ R(rotation)``.

    Parameters
    ----------
    rotation : Tensor, shape (T, 3)
        Head rotation in the model frame, axis-angle in radians.

    Returns
    -------
    Tensor, shape (T, 3, 3)
        The ``R`` to pass to :func:`weak_perspective`.

    Examples
    --------
    >>> camera_rotation(torch.zeros(1, 3))[0].diagonal().tolist()
    [1.0, -1.0, -1.0]
    """
    return flip_camera_frame(axis_angle_to_matrix(rotation))


def weak_perspective_matrix(rotation: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The weak-perspective camera as 2 x 3 matrices ``A_t = s_t diag(1, -1) R_t[:2]``.

    ``A_t X + c_t`` equals :func:`project_points` with ``distance = inf``; the coarse fit
    linearises it.

    Parameters
    ----------
    rotation : Tensor, shape (T, 3, 3)
        Head rotation matrices (model frame).
    scale : Tensor, shape (T,)
        Pixels per metre.

    Returns
    -------
    Tensor, shape (T, 2, 3)
    """
    return scale[:, None, None] * rotation[:, :2, :] * rotation.new_tensor([1.0, -1.0])[None, :, None]


def weak_perspective(points: torch.Tensor, scale: torch.Tensor, R: torch.Tensor,
                     t2d: torch.Tensor) -> torch.Tensor:
    """Weak-perspective (scaled orthographic) projection with an OpenCV camera rotation.

    ``u = s * x_c + tu`` and ``v = s * y_c + tv``, where ``(x_c, y_c)`` are the first two
    coordinates of ``R @ X`` (OpenCV camera frame, so +y of a frontal ``R = diag(1, -1, -1)``
    maps to image up). The same projection as :func:`project_points` (``distance = inf``)
    with the head rotation ``flip_camera_frame(R)``; shapes are checked and broadcast here.

    Parameters
    ----------
    points : Tensor, shape (B, N, 3)
        Model-space points in metres.
    scale : Tensor, shape (B,)
        Pixels per metre.
    R : Tensor, shape (B, 3, 3) or (3, 3)
        Model-to-camera rotations.
    t2d : Tensor, shape (B, 2)
        Image translation ``(tu, tv)`` in pixels.

    Returns
    -------
    Tensor, shape (B, N, 2)
        Pixels (u right, v down).

    Raises
    ------
    ShapeError
        On inconsistent shapes.

    Examples
    --------
    >>> R = torch.diag(torch.tensor([1.0, -1.0, -1.0]))[None]
    >>> weak_perspective(torch.tensor([[[0.1, 0.2, 0.3]]]), torch.tensor([10.0]), R,
    ...                  torch.tensor([[5.0, 5.0]]))
    tensor([[[6., 3.]]])
    """
    if not torch.is_tensor(points):
        raise InputValueError("points must be a torch.Tensor")
    B = check_shape(points, ("B", "N", 3), "points")["B"]
    scale = torch.as_tensor(scale, dtype=points.dtype, device=points.device)
    if scale.ndim == 0:
        scale = scale.reshape(1)
    check_shape(scale, (None,), "scale")
    if scale.shape[0] not in (1, B):
        raise ShapeError(f"scale must have shape ({B},); got {tuple(scale.shape)}")
    R = torch.as_tensor(R, dtype=points.dtype, device=points.device)
    if R.ndim == 2:
        R = R[None]
    check_shape(R, (None, 3, 3), "R")
    if R.shape[0] not in (1, B):
        raise ShapeError(f"R must have shape ({B}, 3, 3); got {tuple(R.shape)}")
    t2d = torch.as_tensor(t2d, dtype=points.dtype, device=points.device)
    if t2d.ndim == 1:
        t2d = t2d[None]
    check_shape(t2d, (None, 2), "t2d")
    if t2d.shape[0] not in (1, B):
        raise ShapeError(f"t2d must have shape ({B}, 2); got {tuple(t2d.shape)}")
    return project_points(points, flip_camera_frame(R), scale, t2d)


# ----------------------------------------------------------------------------- projection
def backproject(points: torch.Tensor, rotation: torch.Tensor, scale: torch.Tensor,
                t2d: torch.Tensor) -> torch.Tensor:
    """Back-project pixels to the model frame with weak-perspective cameras.

    Parameters
    ----------
    points : Tensor, shape (T, N, 2)
        Pixels (u right, v down) of each frame.
    rotation : Tensor, shape (T, 3, 3)
        Head rotation matrices ``R_t`` (model frame; ``CoarseFit.rotation`` as matrices).
    scale : Tensor, shape (T,)
        Pixels per metre.
    t2d : Tensor, shape (T, 2)
        Image translation, pixels.

    Returns
    -------
    Tensor, shape (T, N, 3)
        ``R_t^T (du, -dv, 0) / s_t`` with ``(du, dv) = p - t2d_t``, metres: the point of the
        plane through the origin orthogonal to the viewing ray that projects to ``p``.

    Examples
    --------
    >>> R = torch.eye(3)[None]
    >>> backproject(torch.tensor([[[12.0, 8.0]]]), R, torch.tensor([100.0]),
    ...             torch.tensor([[10.0, 10.0]])).tolist()
    [[[0.019999999552965164, 0.019999999552965164, 0.0]]]
    """
    return to_metric(points - t2d[:, None, :], rotation, scale)


def to_metric(residual: torch.Tensor, rotation: torch.Tensor, scale: torch.Tensor,
              factor: torch.Tensor | None = None) -> torch.Tensor:
    """Pixel displacements to the minimal-norm model-frame displacements, metres.

    Parameters
    ----------
    residual : Tensor, shape (T, N, 2)
        Image displacements (u right, v down), pixels.
    rotation : Tensor, shape (T, 3, 3)
    scale : Tensor, shape (T,)
        px/m at the head origin.
    factor : Tensor, shape (T, N), optional
        Perspective magnification ``k`` of each point (default 1: weak perspective).

    Returns
    -------
    Tensor, shape (T, N, 3)
        ``R_t^T (n_u, -n_v, 0) / (s_t k)``.
    """
    div = scale[:, None] if factor is None else scale[:, None] * factor
    d = residual / div[..., None]
    cam = torch.stack([d[..., 0], -d[..., 1], torch.zeros_like(d[..., 0])], -1)
    return cam @ rotation                                 # row vectors: (R^T x)^T = x^T R


def plane_projection(points: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """``Pperp_t X``: model-frame points minus their component along each frame's viewing ray.

    Parameters
    ----------
    points : Tensor, shape (T, N, 3)
    rotation : Tensor, shape (T, 3, 3)

    Returns
    -------
    Tensor, shape (T, N, 3)
        Equal to ``backproject(P_t(points))`` for the weak-perspective projection ``P_t``.
    """
    ray = rotation[:, 2, :]                                # R_t^T e_z, (T, 3)
    return points - (points * ray[:, None, :]).sum(-1, keepdim=True) * ray[:, None, :]


def perspective_factor(Y: torch.Tensor, distance: Any) -> torch.Tensor:
    """Magnification ``k = d / (d - Y_z)`` of camera-rotated points ``Y`` (T, N, 3) at camera
    distance ``d`` metres from the head origin (all ones for ``d = inf``), shape (T, N)."""
    d = float(distance)
    if math.isinf(d):
        return torch.ones_like(Y[..., 2])
    return d / (d - Y[..., 2])


def project_points(points: torch.Tensor, rotation: torch.Tensor, scale: torch.Tensor,
                   t2d: torch.Tensor, distance: Any = math.inf) -> torch.Tensor:
    """Pixels ``c_t + s_t k (Y_x, -Y_y)``, ``Y = R_t X``, ``k = d / (d - Y_z)``.

    Parameters
    ----------
    points : Tensor, shape (T, N, 3)
        Model-frame points, metres.
    rotation, scale, t2d : Tensor, shapes (T, 3, 3), (T,), (T, 2)
        Head rotation, px/m at the head origin, image of the head origin.
    distance : float
        Camera distance ``d`` from the head origin, metres (``inf``: weak perspective,
        :meth:`mxkit.fit.CoarseFit.project`).

    Returns
    -------
    Tensor, shape (T, N, 2)
        Differentiable w.r.t. every tensor input.
    """
    Y = points @ rotation.transpose(-1, -2)
    k = perspective_factor(Y, distance)
    uv = torch.stack([Y[..., 0], -Y[..., 1]], -1) * k[..., None]
    return scale[:, None, None] * uv + t2d[:, None, :]


def _huber_weights(dist: torch.Tensor, huber_px: float) -> torch.Tensor:
    return torch.where(dist > huber_px, huber_px / dist.clamp_min(1e-12), torch.ones_like(dist))


def register_rigid(points: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, *,
                   rotation: torch.Tensor, scale: torch.Tensor, t2d: torch.Tensor,
                   distance: Any = math.inf, n_iters: int = 6,
                   huber_px: float = 0.5) -> tuple[torch.Tensor, ...]:
    """Pose of a rigid point set in every frame from its 2D positions (robust Gauss-Newton).

    Minimises ``sum_v w_v rho(|P_t(X_v) - q_tv|)`` (``rho`` Huber, IRLS) over the camera
    ``(R_t, s_t, c_t)`` of :func:`project_points` with a fixed distance ``d``, from the given
    initial pose (rotation increments ``R <- exp([dw]x) R``).

    Parameters
    ----------
    points : Tensor, shape (V, 3)
        Model-frame points (the coarse onset mesh).
    targets : Tensor, shape (T, V, 2)
        Their pixels in each frame (e.g. onset pixels moved by the flow).
    weights : Tensor, shape (V,)
        Prior weights (0 = ignore).
    rotation, scale, t2d : Tensor, shapes (T, 3, 3), (T,), (T, 2)
        Initial pose (e.g. the coarse fit's).
    distance : float
        Camera distance, metres (``inf``: weak perspective).
    n_iters : int
    huber_px : float
        Huber threshold of the residuals, pixels.

    Returns
    -------
    rotation : Tensor, shape (T, 3, 3)
    scale : Tensor, shape (T,)
    t2d : Tensor, shape (T, 2)
    """
    R, s, c = rotation.clone(), scale.clone(), t2d.clone()
    T = targets.shape[0]
    w0 = weights[None].expand(T, -1)
    eye = torch.eye(6, dtype=points.dtype, device=points.device)
    d = float(distance)
    for _ in range(int(n_iters)):
        Y = points[None] @ R.transpose(-1, -2)                            # (T, V, 3)
        k = perspective_factor(Y, d)
        kk = torch.zeros_like(k) if math.isinf(d) else k * k / d          # dk / dY_z
        res = project_points(points[None].expand(T, -1, -1), R, s, c, d) - targets
        w = w0 * _huber_weights(torch.linalg.norm(res, dim=-1), huber_px)
        sv = s[:, None]
        Yx, Yy, Yz = Y.unbind(-1)
        zero, one = torch.zeros_like(Yx), torch.ones_like(Yx)
        # dY/dw = w x Y  ->  dY_x = (0, Yz, -Yy), dY_y = (-Yz, 0, Yx), dY_z = (Yy, -Yx, 0)
        dYz = torch.stack([Yy, -Yx, zero], -1)
        du_w = sv[..., None] * (k[..., None] * torch.stack([zero, Yz, -Yy], -1)
                                + (Yx * kk)[..., None] * dYz)
        dv_w = -sv[..., None] * (k[..., None] * torch.stack([-Yz, zero, Yx], -1)
                                 + (Yy * kk)[..., None] * dYz)
        Ju = torch.cat([du_w, torch.stack([sv * Yx * k, one, zero], -1)], -1)
        Jv = torch.cat([dv_w, torch.stack([-sv * Yy * k, zero, one], -1)], -1)
        J = torch.stack([Ju, Jv], -2)                                     # (T, V, 2, 6)
        Jw = J * w[..., None, None]
        H = torch.einsum("tvki,tvkj->tij", Jw, J) + 1e-9 * eye
        g = torch.einsum("tvki,tvk->ti", Jw, res)
        step = -torch.linalg.solve(H, g)
        R = axis_angle_to_matrix(step[:, :3]) @ R
        s = s * torch.exp(step[:, 3])
        c = c + step[:, 4:]
    return R, s, c


def _robust_cost(points, targets, weights, R, s, c, d, huber_px) -> float:
    res = torch.linalg.norm(project_points(points[None].expand(targets.shape[0], -1, -1),
                                           R, s, c, d) - targets, dim=-1)
    rho = torch.where(res > huber_px, huber_px * (2 * res - huber_px), res * res)
    return float((rho * weights[None]).sum())


def estimate_distance(points: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, *,
                      rotation: torch.Tensor, scale: torch.Tensor, t2d: torch.Tensor,
                      candidates: tuple[float, ...] = DISTANCE_CANDIDATES, max_frames: int = 12,
                      max_points: int = 1500, huber_px: float = 0.5) -> float:
    """The camera distance (one per clip) that best explains the rigid image motion.

    Registers a subset of frames (evenly spaced) and points (strided, positive weight) at
    each candidate distance with :func:`register_rigid` and returns the candidate of least
    robust cost, refined by a golden-section search in ``log d`` between its neighbours.
    Without head rotation every distance fits alike and the weak perspective (``inf``) or
    any candidate may come out; it then does not matter.

    Returns
    -------
    float
        Metres (``inf`` for weak perspective).
    """
    T = targets.shape[0]
    fr = torch.linspace(0, T - 1, min(max_frames, T)).round().long().unique()
    keep = torch.nonzero(weights > 0).flatten()
    if keep.numel() < 6:
        return math.inf
    keep = keep[:: max(1, keep.numel() // max_points)]
    X, q, w = points[keep], targets[fr][:, keep], weights[keep]
    init = dict(rotation=rotation[fr], scale=scale[fr], t2d=t2d[fr])

    def cost(d: float) -> float:
        R, s, c = register_rigid(X, q, w, distance=d, huber_px=huber_px, **init)
        return _robust_cost(X, q, w, R, s, c, d, huber_px)

    costs = [cost(d) for d in candidates]
    i = int(np.argmin(costs))
    lo = candidates[max(i - 1, 0)]
    hi = candidates[min(i + 1, len(candidates) - 1)]
    if math.isinf(hi):
        hi = 2 * candidates[-2]
    if math.isinf(candidates[i]):
        return math.inf
    a, b = math.log(lo), math.log(hi)
    g = (math.sqrt(5) - 1) / 2
    x1, x2 = b - g * (b - a), a + g * (b - a)
    f1, f2 = cost(math.exp(x1)), cost(math.exp(x2))
    for _ in range(6):
        if f1 < f2:
            b, x2, f2 = x2, x1, f1
            x1 = b - g * (b - a)
            f1 = cost(math.exp(x1))
        else:
            a, x1, f1 = x1, x2, f2
            x2 = a + g * (b - a)
            f2 = cost(math.exp(x2))
    best = math.exp(x1 if f1 < f2 else x2)
    return best if min(f1, f2) <= costs[i] else float(candidates[i])
