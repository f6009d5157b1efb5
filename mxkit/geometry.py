"""Batched, differentiable 3D geometry helpers shared by every stage.

Conventions: rotation matrices act on column vectors (``x' = R @ x``); axis-angle vectors
are rotation axis times angle in radians; everything is batched over leading dimensions
and follows the device and dtype of its inputs.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ._checks import check_shape

__all__ = [
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "euler_to_matrix",
    "SimilarityTransform",
    "procrustes",
    "apply_similarity",
]


def _skew(v: torch.Tensor) -> torch.Tensor:
    zero = torch.zeros_like(v[..., 0])
    x, y, z = v.unbind(-1)
    return torch.stack(
        [zero, -z, y, z, zero, -x, -y, x, zero], dim=-1
    ).reshape(*v.shape[:-1], 3, 3)


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula, differentiable everywhere (Taylor series near zero).

    Parameters
    ----------
    axis_angle : Tensor, shape (..., 3)
        Rotation axis scaled by the angle in radians.

    Returns
    -------
    Tensor, shape (..., 3, 3)
        Rotation matrices.

    Examples
    --------
    >>> R = axis_angle_to_matrix(torch.tensor([0.0, 0.0, torch.pi / 2]))
    >>> torch.allclose(R @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)
    True
    """
    check_shape(axis_angle, ("...", 3), "axis_angle")
    theta2 = (axis_angle * axis_angle).sum(-1, keepdim=True)[..., None]  # (...,1,1)
    small = theta2 < 1e-8
    safe2 = torch.where(small, torch.ones_like(theta2), theta2)
    theta = safe2.sqrt()
    a = torch.where(small, 1.0 - theta2 / 6.0 + theta2 * theta2 / 120.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0 + theta2 * theta2 / 720.0,
                    (1.0 - torch.cos(theta)) / safe2)
    K = _skew(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device).expand_as(K)
    return eye + a * K + b * (K @ K)


def matrix_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`axis_angle_to_matrix` for angles in [0, pi).

    Parameters
    ----------
    R : Tensor, shape (..., 3, 3)

    Returns
    -------
    Tensor, shape (..., 3)
    """
    check_shape(R, ("...", 3, 3), "R")
    cos = ((R.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0) / 2.0).clamp(-1.0, 1.0)
    angle = torch.acos(cos)
    w = torch.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0],
                     R[..., 1, 0] - R[..., 0, 1]], dim=-1)
    sin = torch.sin(angle)
    small = sin.abs() < 1e-6
    scale = torch.where(small, 0.5 + angle * angle / 12.0, angle / (2.0 * torch.where(small, torch.ones_like(sin), sin)))
    return w * scale[..., None]


def euler_to_matrix(angles: torch.Tensor) -> torch.Tensor:
    """Rotation from (pitch, yaw, roll) in radians about x, y, z, applied as ``Rz @ Ry @ Rx``.

    Parameters
    ----------
    angles : Tensor, shape (..., 3)

    Returns
    -------
    Tensor, shape (..., 3, 3)
    """
    check_shape(angles, ("...", 3), "angles")
    ex, ey, ez = angles.unbind(-1)
    one, zero = torch.ones_like(ex), torch.zeros_like(ex)
    cx, sx, cy, sy, cz, sz = ex.cos(), ex.sin(), ey.cos(), ey.sin(), ez.cos(), ez.sin()
    Rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1)
    Ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1)
    Rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1)
    shape = (*angles.shape[:-1], 3, 3)
    return Rz.reshape(shape) @ Ry.reshape(shape) @ Rx.reshape(shape)


class SimilarityTransform(NamedTuple):
    """``x' = scale * R @ x + t`` with ``R`` (..., 3, 3), ``t`` (..., 3), ``scale`` (...)."""

    R: torch.Tensor
    t: torch.Tensor
    scale: torch.Tensor


def apply_similarity(points: torch.Tensor, transform: SimilarityTransform) -> torch.Tensor:
    """Apply a (batched) similarity to points of shape (..., N, 3)."""
    R, t, s = transform
    return s[..., None, None] * points @ R.transpose(-1, -2) + t[..., None, :]


def procrustes(source: torch.Tensor, target: torch.Tensor, *, weights: torch.Tensor | None = None,
               allow_scale: bool = False) -> SimilarityTransform:
    """Least-squares rigid (or similarity) transform mapping ``source`` onto ``target``.

    Umeyama's closed form with reflections excluded; batched and differentiable.

    Parameters
    ----------
    source, target : Tensor, shape (..., N, 3)
    weights : Tensor, shape (..., N), optional
        Non-negative point weights.
    allow_scale : bool
        Also estimate an isotropic scale (similarity) instead of a rigid transform.

    Returns
    -------
    SimilarityTransform
        With ``apply_similarity(source, T) ~= target``.
    """
    check_shape(source, ("...", "N", 3), "source")
    check_shape(target, ("...", "N", 3), "target")
    if source.shape != target.shape:
        from .errors import ShapeError

        raise ShapeError(f"source and target must have equal shapes; got {tuple(source.shape)} "
                         f"and {tuple(target.shape)}")
    if weights is None:
        weights = torch.ones(source.shape[:-1], dtype=source.dtype, device=source.device)
    w = weights / weights.sum(-1, keepdim=True)
    mu_s = (w[..., None] * source).sum(-2)
    mu_t = (w[..., None] * target).sum(-2)
    xs, xt = source - mu_s[..., None, :], target - mu_t[..., None, :]
    cov = (w[..., None] * xt).transpose(-1, -2) @ xs  # (...,3,3)
    U, S, Vh = torch.linalg.svd(cov)
    d = torch.sign(torch.linalg.det(U @ Vh))
    D = torch.ones_like(S)
    D[..., -1] = d
    R = U @ torch.diag_embed(D) @ Vh
    if allow_scale:
        var_s = (w * (xs * xs).sum(-1)).sum(-1)
        scale = (S * D).sum(-1) / var_s
    else:
        scale = torch.ones(source.shape[:-2], dtype=source.dtype, device=source.device)
    t = mu_t - scale[..., None] * (mu_s[..., None, :] @ R.transpose(-1, -2))[..., 0, :]
    return SimilarityTransform(R, t, scale)
