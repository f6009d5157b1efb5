"""Batched, differentiable 3D geometry helpers shared by every stage (layer 0).

Conventions: rotation matrices act on column vectors (``x' = R @ x``); axis-angle vectors
are rotation axis times angle in radians; everything is batched over leading dimensions
and follows the device and dtype of its inputs.

* rotations: :func:`axis_angle_to_matrix`, :func:`matrix_to_axis_angle`, :func:`euler_to_matrix`
  and its inverse :func:`matrix_to_euler`;
* alignment: :func:`procrustes` *estimates* the least-squares rigid (or similarity)
  :class:`SimilarityTransform` between two point sets, :func:`apply_similarity` applies one,
  and :func:`rigid_align` *returns the aligned points* (per frame, per clip or with the
  transform of one reference frame);
* meshes: :func:`vertex_normals` (numpy or torch).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
import torch

from ._checks import check_finite, check_option, check_shape
from .errors import InputValueError, ShapeError

__all__ = [
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "euler_to_matrix",
    "matrix_to_euler",
    "SimilarityTransform",
    "procrustes",
    "apply_similarity",
    "rigid_align",
    "ALIGN_PER",
    "vertex_normals",
]

#: Alignment modes of :func:`rigid_align`.
ALIGN_PER = ("frame", "clip", "reference")


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


def matrix_to_euler(R: torch.Tensor) -> torch.Tensor:
    """(pitch, yaw, roll) in radians of rotations ``R = Rz @ Ry @ Rx``: the inverse of
    :func:`euler_to_matrix`.

    Pitch (about x) and roll (about z) lie in (-pi, pi], yaw (about y) in [-pi/2, pi/2]; at
    yaw = +-pi/2 (gimbal lock) the roll is set to 0 and the pitch carries the rest.

    Parameters
    ----------
    R : Tensor, shape (..., 3, 3)

    Returns
    -------
    Tensor, shape (..., 3)
    """
    check_shape(R, ("...", 3, 3), "R")
    sy = (-R[..., 2, 0]).clamp(-1.0, 1.0)
    yaw = torch.asin(sy)
    cy = torch.sqrt(R[..., 2, 1] ** 2 + R[..., 2, 2] ** 2)
    lock = cy < 1e-9
    pitch = torch.where(lock, torch.atan2(-R[..., 1, 2], R[..., 1, 1]),
                        torch.atan2(R[..., 2, 1], R[..., 2, 2]))
    roll = torch.where(lock, torch.zeros_like(yaw), torch.atan2(R[..., 1, 0], R[..., 0, 0]))
    return torch.stack([pitch, yaw, roll], dim=-1)


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


def rigid_align(source: torch.Tensor, target: torch.Tensor, *,
                per: Literal["frame", "clip", "reference"] = "frame", weights: Any = None,
                reference: int = 0, allow_scale: bool = False) -> torch.Tensor:
    """``source`` moved onto ``target`` by least-squares rigid transforms (:func:`procrustes`).

    Parameters
    ----------
    source, target : Tensor, shape (T, V, 3)
        Point sets (e.g. predicted and true meshes of ``T`` frames), same shape.
    per : {'frame', 'clip', 'reference'}, default 'frame'
        ``'frame'``: one transform per frame; ``'clip'``: one transform fitted to all frames
        together; ``'reference'``: the transform mapping frame ``reference`` of ``source``
        onto that of ``target``, applied to every frame (a rigid drift of ``source`` relative
        to that frame is then kept).
    weights : array or Tensor, shape (V,), optional
        Non-negative point weights with a positive sum (bool accepted); default all 1.
    reference : int
        Frame of ``per='reference'``.
    allow_scale : bool, default False
        Similarity (isotropic scale too) instead of rigid.

    Returns
    -------
    Tensor, shape (T, V, 3)
        The aligned ``source``; differentiable with respect to ``source`` (and ``target``),
        in ``source``'s dtype and device.

    Raises
    ------
    ShapeError, InputValueError, OptionError
        Shapes that differ or are not (T, V, 3), invalid weights or ``reference``, an unknown
        ``per``.

    Examples
    --------
    >>> x = torch.randn(2, 10, 3, dtype=torch.float64)
    >>> R = axis_angle_to_matrix(torch.tensor([0.0, 0.0, 0.3], dtype=torch.float64))
    >>> torch.allclose(rigid_align(x @ R.T + 1.0, x), x)
    True
    """
    check_option(per, ALIGN_PER, "per")
    T, V = check_shape(source, ("T", "V", 3), "source").values()
    check_shape(target, (T, V, 3), "target")
    target = target.to(source)
    if weights is None:
        w = torch.ones(V, dtype=source.dtype, device=source.device)
    else:
        w = torch.as_tensor(np.ascontiguousarray(weights) if not torch.is_tensor(weights) else weights)
        w = w.to(dtype=source.dtype, device=source.device)
        check_shape(w, (V,), "weights")
        check_finite(w, "weights")
        if bool((w < 0).any()) or not float(w.sum()) > 0:
            raise InputValueError("weights must be non-negative point weights (V,) with a positive sum")
    if per == "frame":
        tf = procrustes(source, target, weights=w.expand(T, V), allow_scale=allow_scale)
        return apply_similarity(source, tf)
    if per == "clip":
        src, dst, ww = source.reshape(1, -1, 3), target.reshape(1, -1, 3), w.repeat(T)[None]
    else:
        if isinstance(reference, bool) or not isinstance(reference, (int, np.integer)) \
                or not -T <= int(reference) < T:
            raise InputValueError(f"reference must be a frame index in [0, {T}); got {reference!r}")
        k = int(reference) % T
        src, dst, ww = source[k:k + 1], target[k:k + 1], w[None]
    tf = procrustes(src, dst, weights=ww, allow_scale=allow_scale)
    tf = SimilarityTransform(tf.R.expand(T, 3, 3), tf.t.expand(T, 3), tf.scale.expand(T))
    return apply_similarity(source, tf)


def _face_indices(faces: Any, n_vertices: int) -> np.ndarray:
    f = faces.detach().cpu().numpy() if torch.is_tensor(faces) else np.asarray(faces)
    check_shape(f, ("F", 3), "faces")
    if f.size and not np.issubdtype(f.dtype, np.integer):
        raise InputValueError(f"faces must hold integer vertex indices; got dtype {f.dtype}")
    f = np.ascontiguousarray(f, dtype=np.int64)
    if f.size and (f.min() < 0 or f.max() >= n_vertices):
        raise InputValueError(f"faces index vertices outside [0, {n_vertices}); got range "
                              f"[{f.min()}, {f.max()}]")
    return f


def vertex_normals(vertices: Any, faces: Any) -> Any:
    """Area-weighted unit vertex normals of a triangle mesh (numpy or torch).

    Each face adds its cross product ``(b - a) x (c - a)`` (twice its area, so the weighting
    is by area) to its three vertices; the sums are normalised.

    Parameters
    ----------
    vertices : Tensor, shape (..., V, 3), or array-like, shape (..., V, 3)
        Vertex positions (any unit). A tensor gives a tensor (batched, differentiable, on its
        device and dtype); anything else a float64 ndarray (finite values required).
    faces : array or Tensor, shape (F, 3), int
        Triangles, counter-clockwise seen from outside (normals then point outward).

    Returns
    -------
    Tensor or ndarray, shape (..., V, 3)
        Unit normals; zero vectors for vertices used by no (non-degenerate) triangle.

    Raises
    ------
    ShapeError, InputValueError
        Malformed vertices or faces, faces indexing missing vertices, NaN/inf (arrays).

    Examples
    --------
    >>> vertex_normals(np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]), [[0, 1, 2]]).tolist()
    [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]
    """
    if torch.is_tensor(vertices):
        n = check_shape(vertices, ("...", "V", 3), "vertices")["V"]
        f = torch.as_tensor(_face_indices(faces, n), device=vertices.device)
        return _normals(vertices, f)
    try:
        v = np.asarray(vertices)
    except (TypeError, ValueError) as exc:
        raise InputValueError(f"vertices cannot be converted to an array: {exc}") from exc
    n = check_shape(v, ("...", "V", 3), "vertices")["V"]
    if not (np.issubdtype(v.dtype, np.floating) or np.issubdtype(v.dtype, np.integer)):
        raise InputValueError(f"vertices must hold real numbers; got dtype {v.dtype}")
    v = np.ascontiguousarray(v, dtype=np.float64)
    check_finite(v, "vertices")
    f = torch.from_numpy(_face_indices(faces, n))
    return _normals(torch.from_numpy(v), f).numpy()


def _normals(v: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    p0, p1, p2 = (v[..., f[:, k], :] for k in range(3))
    fn = torch.cross(p1 - p0, p2 - p0, dim=-1)                       # (..., F, 3), 2 x area
    out = torch.zeros_like(v)
    for k in range(3):
        out = out.index_add(-2, f[:, k], fn)
    norm = torch.linalg.norm(out, dim=-1, keepdim=True)
    return out / torch.where(norm > 0, norm, torch.ones_like(norm))
