"""Batched coarse fitting of a :class:`~mxkit.morph.FaceModel` to 2D landmarks over a clip.

The problem
-----------
For a clip of ``T`` frames with landmarks ``y_tl`` (pixels) and weights ``w_tl``, find an
identity ``beta`` (one per clip, or one per frame), per-frame expression weights ``psi_t``
and a per-frame weak-perspective camera (head rotation ``omega_t``, scale ``s_t``, image
translation ``t_t``) minimising

.. math::

    F = \\sum_{t,l} w_{tl} \\frac{\\lVert p_{tl} - y_{tl} \\rVert^2}{\\sigma_t^2}
      + a_\\beta \\lVert\\beta\\rVert^2 + \\sum_t \\big(a_\\psi \\lVert\\psi_t\\rVert^2
      + a_\\omega \\lVert\\omega_t\\rVert^2\\big)
      + \\lambda \\sum_t S(\\Delta^2 z_t),

with ``p_tl = s_t Pi R(omega_t) X_l(beta, psi_t) + t_t`` (see :mod:`mxkit.fit.result`).

* ``sigma_t`` is 1 % of the frame's face size (RMS distance of its landmarks from their
  centroid), so residuals are in "percent of face size" and the priors mean the same thing
  at every resolution: a weight of 1 on a prior equals the cost of one landmark being off by
  1 % of the face size.
* ``S`` (``smooth``) penalises second differences over time of the expression weights and
  the pose, each measured by the landmark motion it causes (also in percent of face size):
  expression through the landmark blendshape metric, rotation and log-scale through the
  template's landmark spread, translation directly. ``lambda = 1`` thus weighs the
  acceleration of the model's landmarks like the data term weighs their position error.
* ARKit expression weights are constrained to [0, 1] (``expression_kind == "arkit"``);
  PCA coefficients (FLAME) are unbounded with the Gaussian prior only.

Default solver: a projected Levenberg-Marquardt (Gauss-Newton) method with analytic
Jacobians. The bounds are handled as a box-constrained quadratic subproblem per iteration,
solved by a few active-set rounds in the spirit of Bertsekas' projected Newton method:
weights at a bound whose gradient pushes outward are held there, the free ones take the
damped Gauss-Newton step, weights that would cross a bound join the held set, and held ones
whose gradient turns inward are released; the step is then clipped to [0, 1] and accepted
only if the objective decreases. This keeps exact zeros (sparse, interpretable ARKit
weights) and Gauss-Newton's fast convergence (typically 5-10 iterations); a sigmoid
reparametrisation would never reach 0 or 1 and flattens the objective exactly where most
weights of a micro-expression live (near 0).

The clip-shared identity couples the frames; it is eliminated with a Schur complement
(per-frame blocks factored in one batched Cholesky). With temporal smoothing the per-frame
system becomes block-pentadiagonal in time and is factored exactly by a block-banded
Cholesky (a sequential loop over frames, so ``smooth > 0`` is several times slower).
Everything runs on the landmark rows of the bases only (``L x 3`` per shape, never
``V x 3``), in float64, on the model's device; when all frames share one weight pattern,
the expression/identity blocks of the normal equations come from precomputed landmark
products of the bases (``sum_jk Q_t[j, k] N[jk]``), without forming the Jacobian.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from .._checks import check_finite, check_option, check_shape
from .._threads import torch_threads
from ..camera import flip_camera_frame, weak_perspective_matrix
from ..errors import InputValueError, ShapeError
from ..geometry import axis_angle_to_matrix, matrix_to_axis_angle
from .result import CoarseFit

if TYPE_CHECKING:  # pragma: no cover
    from ..morph.model import FaceModel

__all__ = [
    "fit_landmarks",
    "fit_frames_independently",
    "landmark_weights",
    "RIGID_IBUG68",
    "CONTOUR_IBUG68",
]

Method = Literal["gauss_newton", "lbfgs", "adam"]
_METHODS = ("gauss_newton", "lbfgs", "adam")
_DEFAULT_ITERS = {"gauss_newton": 30, "lbfgs": 500, "adam": 500}

#: iBUG-68 points that move little with expression (upper jaw, nose, eye corners): used for
#: the closed-form camera initialisation.
RIGID_IBUG68: tuple[int, ...] = (0, 1, 2, 3, 13, 14, 15, 16, 27, 28, 29, 30, 31, 32, 33, 34,
                                 35, 36, 39, 42, 45)
#: iBUG-68 jaw-line points: image silhouette points that slide over the 3D face with yaw.
CONTOUR_IBUG68: tuple[int, ...] = tuple(range(17))

_REL_SIGMA = 0.01  # residual unit: 1 % of the face size
_FLOOR = 1e-9


# ----------------------------------------------------------------------------- helpers
def landmark_weights(kind: str, n_landmarks: int, *, contour_weight: float = 0.3,
                     dtype: torch.dtype = torch.float32,
                     device: str | torch.device | None = None) -> torch.Tensor:
    """Default per-landmark weights of a landmark kind.

    Parameters
    ----------
    kind : str
        Landmark kind; for ``"ibug68"`` the jaw-line points 0-16 get ``contour_weight``.
    n_landmarks : int
        Number of landmarks ``L``.
    contour_weight : float
        Weight of the silhouette (jaw-line) points, in [0, 1].

    Returns
    -------
    Tensor, shape (L,)
        Ones, with ``contour_weight`` on the contour points of ``kind``.

    Examples
    --------
    >>> landmark_weights("ibug68", 68)[[0, 16, 17, 30]].tolist()
    [0.30000001192092896, 0.30000001192092896, 1.0, 1.0]
    """
    w = torch.ones(int(n_landmarks), dtype=dtype, device=device)
    if kind == "ibug68" and n_landmarks == 68:
        w[list(CONTOUR_IBUG68)] = float(contour_weight)
    return w


def _skew(v: torch.Tensor) -> torch.Tensor:
    z = torch.zeros_like(v[..., 0])
    x, y, w = v.unbind(-1)
    return torch.stack([z, -w, y, w, z, -x, -y, x, z], -1).reshape(*v.shape[:-1], 3, 3)


def _rotation_jacobian(omega: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotation matrices and their derivatives w.r.t. the axis-angle components.

    Uses dR/dw_i = (w_i [w]x + [w x (I - R) e_i]x) R / |w|^2 (Gallego & Yezzi, J. Math.
    Imaging Vis. 2015), with its first-order series near 0.

    Returns ``R`` (T, 3, 3) and ``dR`` (T, 3, 3, 3) with ``dR[:, i] = dR/dw_i``.
    """
    R = axis_angle_to_matrix(omega)
    theta2 = (omega * omega).sum(-1)
    eye = torch.eye(3, dtype=omega.dtype, device=omega.device)
    W = _skew(omega)                                                   # (T,3,3)
    E = _skew(eye)                                                     # (3,3,3): [e_i]x
    IR = eye - R                                                       # (T,3,3)
    cols = IR.transpose(-1, -2)                                        # (T,3,3): row i = (I-R)e_i
    cross = torch.cross(omega[:, None, :].expand_as(cols), cols, dim=-1)
    big = (omega[:, :, None, None] * W[:, None] + _skew(cross)) @ R[:, None]
    big = big / torch.where(theta2 > 1e-16, theta2, torch.ones_like(theta2))[:, None, None, None]
    small = E[None] + 0.5 * (E[None] @ W[:, None] + W[:, None] @ E[None])
    dR = torch.where((theta2 > 1e-16)[:, None, None, None], big, small)
    return R, dR


def _second_difference(x: torch.Tensor) -> torch.Tensor:
    """``D x`` along the first axis: (T, ...) -> (T - 2, ...)."""
    return x[:-2] - 2.0 * x[1:-1] + x[2:]


def _second_difference_band(T: int, like: torch.Tensor):
    """Diagonals 0, 1, 2 of ``D^T D`` for the (T - 2, T) second-difference matrix ``D``."""
    k0 = torch.zeros(T, **_dd(like))
    k0[:-2] += 1.0
    k0[1:-1] += 4.0
    k0[2:] += 1.0
    k1 = torch.zeros(T - 1, **_dd(like))
    k1[:-1] -= 2.0          # rows j = t: coefficients (1, -2) at (t, t + 1)
    k1[1:] -= 2.0           # rows j = t - 1: coefficients (-2, 1) at (t, t + 1)
    k2 = torch.ones(T - 2, **_dd(like))
    return k0, k1, k2


def _second_difference_t(y: torch.Tensor, T: int) -> torch.Tensor:
    """``D^T y``: (T - 2, ...) -> (T, ...)."""
    out = y.new_zeros((T, *y.shape[1:]))
    out[:-2] += y
    out[1:-1] -= 2.0 * y
    out[2:] += y
    return out


# ----------------------------------------------------------------------------- the problem
@dataclass
class _Problem:
    """Everything fixed during one fit (float64, on the model's device)."""

    Y: torch.Tensor          # (T, L, 2) target pixels
    W: torch.Tensor          # (T, L) weights
    c: torch.Tensor          # (T, L) sqrt(W) / sigma_t
    sigma: torch.Tensor      # (T,) residual unit per frame, px
    L0: torch.Tensor         # (L, 3) template landmarks, metres
    Bi: torch.Tensor         # (K, L, 3) identity basis at the landmarks
    Be: torch.Tensor         # (Ea, L, 3) active expression basis at the landmarks
    active: torch.Tensor     # (Ea,) indices of the active shapes in the model's order
    bounded: bool
    clip_identity: bool
    a_id: float
    a_ex: float
    a_rot: float
    smooth: float
    M: torch.Tensor          # (P, P) smoothness metric of the per-frame vector
    t_unit: float            # px: translation smoothness unit (1 % of the median face size)
    S_flat: torch.Tensor     # (K + Ea, 3L) identity then expression bases, flattened
    N: dict | None           # (9, n) weighted basis products (weights shared by frames)

    @property
    def T(self) -> int:
        return int(self.Y.shape[0])

    @property
    def K(self) -> int:
        return int(self.Bi.shape[0])

    @property
    def Ea(self) -> int:
        return int(self.Be.shape[0])

    @property
    def Kf(self) -> int:
        """Identity coefficients inside the per-frame vector."""
        return 0 if self.clip_identity else self.K

    @property
    def P(self) -> int:
        return self.Kf + self.Ea + 6

    @property
    def coupled(self) -> bool:
        return (self.clip_identity and self.K > 0) or (self.smooth > 0 and self.T >= 3)

    # layout of the per-frame vector z_t = [beta_t, psi_t, omega_t, log s_t, t_t]
    @property
    def s_psi(self) -> slice:
        return slice(self.Kf, self.Kf + self.Ea)

    @property
    def s_rot(self) -> slice:
        return slice(self.Kf + self.Ea, self.Kf + self.Ea + 3)

    def split(self, z: torch.Tensor, beta: torch.Tensor) -> tuple[torch.Tensor, ...]:
        Kf, Ea = self.Kf, self.Ea
        b = z[:, :Kf] if Kf else beta[None].expand(z.shape[0], -1)
        return (b, z[:, Kf:Kf + Ea], z[:, Kf + Ea:Kf + Ea + 3], z[:, Kf + Ea + 3],
                z[:, Kf + Ea + 4:Kf + Ea + 6])

    def points(self, b: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
        X = self.L0.expand(psi.shape[0], -1, -1)
        if self.K:
            X = X + torch.einsum("tk,klc->tlc", b, self.Bi)
        if self.Ea:
            X = X + torch.einsum("te,elc->tlc", psi, self.Be)
        return X

    def project(self, z: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """Projected landmarks (T, L, 2), pixels; differentiable (autograd)."""
        b, psi, om, logs, t = self.split(z, beta)
        X = self.points(b, psi)
        A = weak_perspective_matrix(axis_angle_to_matrix(om), torch.exp(logs))
        return X @ A.transpose(-1, -2) + t[:, None, :]

    def costs(self, z: torch.Tensor, beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-frame cost (T,) and the coupled remainder (scalar); differentiable."""
        r = (self.project(z, beta) - self.Y) * self.c[..., None]
        b, psi, om, _, _ = self.split(z, beta)
        per = (r * r).sum((1, 2)) + self.a_ex * (psi * psi).sum(1) + self.a_rot * (om * om).sum(1)
        if self.Kf:
            per = per + self.a_id * (b * b).sum(1)
        rest = z.new_zeros(())
        if self.clip_identity and self.K:
            rest = rest + self.a_id * (beta * beta).sum()
        if self.smooth > 0 and self.T >= 3:
            d = _second_difference(z)
            rest = rest + self.smooth * ((d @ self.M) * d).sum()
        return per, rest

    def smooth_apply(self, x: torch.Tensor) -> torch.Tensor:
        """``smooth * (D^T D kron M) x`` for x (T, P)."""
        return self.smooth * _second_difference_t(_second_difference(x) @ self.M, self.T)

    def linearize(self, z: torch.Tensor, beta: torch.Tensor):
        """Residuals r (T, 2L), Jacobians J (T, 2L, P) and Jb (T, 2L, K) or None."""
        b, psi, om, logs, t = self.split(z, beta)
        T, L = z.shape[0], self.L0.shape[0]
        X = self.points(b, psi)                                        # (T,L,3)
        R, dR = _rotation_jacobian(om)
        s = torch.exp(logs)
        flip = z.new_tensor([1.0, -1.0])
        A = weak_perspective_matrix(R, s)                              # (T,2,3)
        q = X @ A.transpose(-1, -2)                                    # (T,L,2) = p - t
        r = (q + t[:, None, :] - self.Y) * self.c[..., None]
        cols = []
        if self.Kf:
            cols.append(torch.einsum("tij,klj->tlik", A, self.Bi))
        if self.Ea:
            cols.append(torch.einsum("tij,elj->tlie", A, self.Be))
        G = s[:, None, None, None] * dR[:, :, :2, :] * flip[None, None, :, None]  # (T,3,2,3)
        cols.append(torch.einsum("tkij,tlj->tlik", G, X))
        cols.append(q[..., None])
        eye2 = torch.eye(2, dtype=z.dtype, device=z.device)
        cols.append(eye2.expand(T, L, 2, 2))
        J = torch.cat(cols, -1) * self.c[:, :, None, None]
        J = J.reshape(T, 2 * L, -1)
        Jb = None
        if self.clip_identity and self.K:
            Jb = torch.einsum("tij,klj->tlik", A, self.Bi) * self.c[:, :, None, None]
            Jb = Jb.reshape(T, 2 * L, self.K)
        return r.reshape(T, 2 * L), J, Jb

    def normal_equations(self, z: torch.Tensor, beta: torch.Tensor):
        """Gauss-Newton normal equations of the data term (priors not included).

        Returns ``H`` (T, P, P), ``g`` (T, P) for the per-frame vectors and, with a clip
        identity, the coupling ``C`` (T, P, K), ``Hb`` (K, K) and ``gb`` (K,) (else None).

        When all frames share one weight pattern (the usual case), the shape-shape blocks
        are ``sum_jk Q_t[j, k] N[jk] / sigma_t^2`` with ``Q_t = A_t^T A_t`` (3 x 3) and
        precomputed landmark products ``N`` of the bases, so no (T, 2L, E) Jacobian is
        formed; otherwise the dense Jacobian is used.
        """
        if self.N is None:
            r, J, Jb = self.linearize(z, beta)
            Jt = J.transpose(1, 2)
            H, g = Jt @ J, (Jt @ r[..., None])[..., 0]
            if Jb is None:
                return H, g, None, None, None
            C = Jt @ Jb
            Hb = (Jb.transpose(1, 2) @ Jb).sum(0)
            gb = (Jb.transpose(1, 2) @ r[..., None])[..., 0].sum(0)
            return H, g, C, Hb, gb
        b, psi, om, logs, t = self.split(z, beta)
        T, L = z.shape[0], self.L0.shape[0]
        K, Ea, Ns = self.K, self.Ea, self.K + self.Ea
        X = self.points(b, psi)                                        # (T,L,3)
        R, dR = _rotation_jacobian(om)
        s = torch.exp(logs)
        flip = z.new_tensor([1.0, -1.0])
        A = weak_perspective_matrix(R, s)                              # (T,2,3)
        q = X @ A.transpose(-1, -2)                                    # (T,L,2)
        c = self.c
        r = (q + t[:, None, :] - self.Y) * c[..., None]                # (T,L,2)
        # pose columns: rotation (3), log-scale (1), translation (2)
        G = s[:, None, None, None] * dR[:, :, :2, :] * flip[None, None, :, None]  # (T,3,2,3)
        Jp = z.new_zeros(T, L, 2, 6)                                   # (T,L,2,6)
        Jp[..., :3] = (X @ G.reshape(T, 6, 3).transpose(1, 2)).reshape(T, L, 3, 2).transpose(2, 3)
        Jp[..., 3] = q
        Jp[:, :, 0, 4] = 1.0
        Jp[:, :, 1, 5] = 1.0
        Jp.mul_(c[:, :, None, None])
        Jp2 = Jp.reshape(T, 2 * L, 6)
        Hpp = Jp2.transpose(1, 2) @ Jp2                                 # (T,6,6)
        gp = (Jp2.transpose(1, 2) @ r.reshape(T, 2 * L, 1))[..., 0]     # (T,6)
        # shape columns through A^T: U = c * A^T Jp (T,L,3,6), v = c * A^T r (T,L,3)
        At = A.transpose(1, 2)[:, None]                                # (T,1,3,2)
        cc = c[:, :, None]
        U = (At[..., 0, None] * Jp[:, :, None, 0] + At[..., 1, None] * Jp[:, :, None, 1])
        U = U * cc[..., None]
        v = (At[..., 0] * r[:, :, None, 0] + At[..., 1] * r[:, :, None, 1]) * cc
        At = At[:, 0]
        Hsp = (self.S_flat @ U.reshape(T, 3 * L, 6).permute(1, 0, 2).reshape(3 * L, T * 6))
        Hsp = Hsp.reshape(Ns, T, 6).permute(1, 0, 2)                   # (T,Ns,6)
        gs = v.reshape(T, 3 * L) @ self.S_flat.T                       # (T,Ns)
        Q = (At @ A).reshape(T, 9) / (self.sigma * self.sigma)[:, None]
        Kf = self.Kf
        P = self.P
        H = z.new_empty(T, P, P)
        H[:, Kf + Ea:, Kf + Ea:] = Hpp
        if not (self.clip_identity and K):
            lo = K - Kf                                                # first per-frame shape
            H[:, :Kf + Ea, :Kf + Ea] = (Q @ self.N["ss"]).reshape(T, Ns, Ns)[:, lo:, lo:]
            H[:, :Kf + Ea, Kf + Ea:] = Hsp[:, lo:]
            H[:, Kf + Ea:, :Kf + Ea] = Hsp[:, lo:].transpose(1, 2)
            return H, torch.cat([gs[:, lo:], gp], 1), None, None, None
        H[:, :Ea, :Ea] = (Q @ self.N["ee"]).reshape(T, Ea, Ea)
        H[:, :Ea, Ea:] = Hsp[:, K:]
        H[:, Ea:, :Ea] = Hsp[:, K:].transpose(1, 2)
        C = z.new_empty(T, P, K)
        C[:, :Ea] = (Q @ self.N["eb"]).reshape(T, Ea, K)
        C[:, Ea:] = Hsp[:, :K].transpose(1, 2)
        Hb = (Q.sum(0) @ self.N["bb"]).reshape(K, K)
        return H, torch.cat([gs[:, K:], gp], 1), C, Hb, gs[:, :K].sum(0)

    def prior_diag(self, like: torch.Tensor) -> torch.Tensor:
        """Diagonal of the per-frame prior Hessian (P,)."""
        d = like.new_zeros(self.P)
        if self.Kf:
            d[:self.Kf] = self.a_id
        d[self.s_psi] = self.a_ex
        d[self.s_rot] = self.a_rot
        return d

    def clamp(self, z: torch.Tensor) -> torch.Tensor:
        if not self.bounded or not self.Ea:
            return z
        z = z.clone()
        z[:, self.s_psi] = z[:, self.s_psi].clamp(0.0, 1.0)
        return z


# ----------------------------------------------------------------------------- setup
def _landmark_bases(model: FaceModel, kind: str, active: torch.Tensor):
    """Template, identity and active expression bases restricted to the landmarks."""
    dd = dict(dtype=torch.float64, device=model.v_template.device)
    L0 = model.landmarks(model.v_template[None].to(**dd), kind)[0]
    Bi = (model.landmarks(model.id_basis.to(**dd), kind) if model.n_identity
          else L0.new_zeros(0, L0.shape[0], 3))
    Be_all = model.expr_basis.to(**dd)[active.to(model.v_template.device)]
    Be = model.landmarks(Be_all, kind) if Be_all.shape[0] else L0.new_zeros(0, L0.shape[0], 3)
    return L0, Bi, Be


def _face_size(Y: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """RMS distance (T,) of each frame's present landmarks from their centroid."""
    m = present.to(Y.dtype)
    n = m.sum(1).clamp_min(1.0)
    mu = (Y * m[..., None]).sum(1) / n[:, None]
    return torch.sqrt((((Y - mu[:, None]) ** 2).sum(-1) * m).sum(1) / n)


def _init_camera(P: _Problem, b: torch.Tensor, psi: torch.Tensor, rigid: Sequence[int] | None):
    """Closed-form weak-perspective camera per frame (rotation, log-scale, translation).

    A weighted affine camera ``y = A X + t`` (2x3) is fitted to the rigid landmarks by least
    squares; ``A`` is then replaced by its nearest scaled orthographic projection
    (``s * U V^T`` from its SVD), whose two rows complete to a proper rotation.
    """
    X = P.points(b, psi)                                               # (T,L,3)
    w = P.W.clone()
    if rigid is not None:
        keep = torch.zeros_like(w)
        keep[:, list(rigid)] = 1.0
        w_r = w * keep
        enough = (w_r > 0).sum(1) >= 6
        w = torch.where(enough[:, None], w_r, w)
    wn = w / w.sum(1, keepdim=True)
    mx = (wn[..., None] * X).sum(1)                                    # (T,3)
    my = (wn[..., None] * P.Y).sum(1)                                  # (T,2)
    Xc, Yc = X - mx[:, None], P.Y - my[:, None]
    G = (Xc * wn[..., None]).transpose(1, 2) @ Xc                      # (T,3,3)
    ridge = 1e-6 * G.diagonal(dim1=1, dim2=2).sum(-1)
    G = G + ridge[:, None, None] * torch.eye(3, dtype=G.dtype, device=G.device)
    rhs = (Xc * wn[..., None]).transpose(1, 2) @ Yc                    # (T,3,2)
    A = torch.linalg.solve(G, rhs).transpose(1, 2)                     # (T,2,3)
    U, S, Vh = torch.linalg.svd(A, full_matrices=False)                # (T,2,2),(T,2),(T,2,3)
    R2 = U @ Vh                                                        # orthonormal rows
    s = S.mean(1).clamp_min(1e-12)
    Rcam = torch.cat([R2, torch.cross(R2[:, 0], R2[:, 1], dim=-1)[:, None]], 1)
    Rhead = flip_camera_frame(Rcam)
    omega = matrix_to_axis_angle(Rhead)
    Ahat = weak_perspective_matrix(Rhead, s)
    t = my - (Ahat @ mx[..., None])[..., 0]
    return omega, torch.log(s), t


def _as_landmarks(landmarks: Any, like: torch.Tensor) -> torch.Tensor:
    if isinstance(landmarks, (list, tuple)) and len(landmarks) == 0:
        raise InputValueError("landmarks is empty: nothing to fit")
    try:
        Y = torch.as_tensor(np.asarray(landmarks) if not torch.is_tensor(landmarks) else landmarks)
    except (TypeError, ValueError) as exc:
        raise InputValueError(f"landmarks cannot be converted to a tensor: {exc}") from exc
    if Y.dtype == torch.bool or Y.is_complex():
        raise InputValueError(f"landmarks must be real numbers; got dtype {Y.dtype}")
    if Y.ndim == 3 and Y.shape[0] == 0:
        raise InputValueError("landmarks has 0 frames: nothing to fit")
    return Y.to(device=like.device, dtype=torch.float64)


def _prepare(model, landmarks, *, kind, weights, contour_weight, clip_identity, smooth,
             prior_identity, prior_expression, prior_pose, exclude,
             identity_per_frame: bool = False) -> _Problem:
    from ..morph.model import FaceModel

    if not isinstance(model, FaceModel):
        raise InputValueError(f"model must be a mxkit.morph.FaceModel; got {type(model).__name__}")
    check_option(kind, model.landmark_schemes, "kind")
    like = model.v_template
    Y = _as_landmarks(landmarks, like)
    L = len(model.landmark_embeddings[kind])
    check_shape(Y, ("T", L, 2), f"landmarks (kind {kind!r} has {L} points)")
    check_finite(Y, "landmarks")
    T = Y.shape[0]
    for value, name in ((prior_identity, "prior_identity"), (prior_expression, "prior_expression"),
                        (prior_pose, "prior_pose"), (smooth, "smooth"),
                        (contour_weight, "contour_weight")):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise InputValueError(f"{name} must be a finite number >= 0; got {value!r}")
    if weights is None:
        W = torch.ones(T, L, dtype=torch.float64, device=like.device)
    else:
        W = torch.as_tensor(weights if torch.is_tensor(weights) else np.asarray(weights))
        W = W.to(device=like.device, dtype=torch.float64)
        if W.shape == (L,):
            W = W[None].expand(T, L)
        elif W.shape != (T, L):
            raise ShapeError(f"weights must have shape ({L},) or ({T}, {L}); got {tuple(W.shape)}")
        check_finite(W, "weights")
        if bool((W < 0).any()):
            raise InputValueError("weights must be >= 0")
    W = W * landmark_weights(kind, L, contour_weight=contour_weight, dtype=torch.float64,
                             device=like.device)[None]
    present = W > 0
    n_present = present.sum(1)
    if bool((n_present < 4).any()):
        bad = int(torch.nonzero(n_present < 4)[0, 0])
        raise InputValueError(f"frame {bad} has {int(n_present[bad])} landmarks of positive "
                              "weight; at least 4 are needed to fit a camera")
    size = _face_size(Y, present)
    if bool((size <= 1e-9).any()):
        bad = int(torch.nonzero(size <= 1e-9)[0, 0])
        raise InputValueError(f"frame {bad}: all landmarks coincide (zero face size)")
    sigma = _REL_SIGMA * size
    c = torch.sqrt(W) / sigma[:, None]

    mask = model.expression_mask(exclude=tuple(exclude)).to(like.device)
    active = torch.nonzero(mask)[:, 0]
    L0, Bi, Be = _landmark_bases(model, kind, active)

    # smoothness metric: landmark motion per unit of each per-frame variable, in % face size
    Kf = 0 if clip_identity else Bi.shape[0]
    Ea = Be.shape[0]
    Pn = Kf + Ea + 6
    Lc = L0 - L0.mean(0)
    rho = float(torch.sqrt((Lc * Lc).sum(1).mean()))
    unit_m = _REL_SIGMA * rho
    M = L0.new_zeros(Pn, Pn)
    Bf = Be.reshape(Ea, 3 * L)
    M[Kf:Kf + Ea, Kf:Kf + Ea] = Bf @ Bf.T / unit_m ** 2
    Sx = _skew(Lc)                                                     # (L,3,3)
    M[Kf + Ea:Kf + Ea + 3, Kf + Ea:Kf + Ea + 3] = (Sx.transpose(1, 2) @ Sx).sum(0) / unit_m ** 2
    M[Kf + Ea + 3, Kf + Ea + 3] = (Lc * Lc).sum() / unit_m ** 2
    t_unit = float(_REL_SIGMA * size.median())
    M[Kf + Ea + 4:, Kf + Ea + 4:] = L / t_unit ** 2 * torch.eye(2, dtype=M.dtype, device=M.device)

    S_flat = torch.cat([Bi, Be], 0).reshape(Bi.shape[0] + Ea, 3 * L)  # (Ns, 3L)
    N = None
    if bool((W == W[:1]).all()):
        Ss = S_flat.reshape(S_flat.shape[0], L, 3)
        N4 = torch.einsum("l,alj,blk->jkab", W[0], Ss, Ss)            # (3, 3, Ns, Ns)
        K = Bi.shape[0]
        if clip_identity and K:
            N = {"ee": N4[:, :, K:, K:].reshape(9, Ea * Ea), "eb": N4[:, :, K:, :K].reshape(9, Ea * K),
                 "bb": N4[:, :, :K, :K].reshape(9, K * K)}
        else:
            N = {"ss": N4.reshape(9, (K + Ea) ** 2)}
    return _Problem(Y=Y, W=W, c=c, sigma=sigma, L0=L0, Bi=Bi, Be=Be, active=active,
                    bounded=model.expression_kind == "arkit", clip_identity=bool(clip_identity),
                    a_id=float(prior_identity) * (T if clip_identity and identity_per_frame else 1),
                    a_ex=float(prior_expression),
                    a_rot=float(prior_pose), smooth=float(smooth), M=M, t_unit=t_unit,
                    S_flat=S_flat, N=N)


def _initial_state(P: _Problem, init: CoarseFit | None, kind: str, model) -> tuple[torch.Tensor, torch.Tensor]:
    T, dev = P.T, P.Y.device
    dd = dict(dtype=torch.float64, device=dev)
    beta = torch.zeros(P.K, **dd)
    b_t = torch.zeros(T, P.K, **dd)
    psi = torch.zeros(T, P.Ea, **dd)
    if init is not None:
        if not isinstance(init, CoarseFit):
            raise InputValueError(f"init must be a CoarseFit; got {type(init).__name__}")
        Ti = init.n_frames
        if Ti not in (1, T):
            raise ShapeError(f"init has {Ti} frames; expected 1 or {T}")
        if init.expression.shape[1] != model.n_expressions or \
                init.identity.shape[-1] != model.n_identity:
            raise ShapeError("init was fitted with a model of different size "
                             f"(E={init.expression.shape[1]}, K={init.identity.shape[-1]}; model "
                             f"has E={model.n_expressions}, K={model.n_identity})")
        ident = init.identity_per_frame.to(**dd).expand(T, -1)
        if P.clip_identity:
            beta = ident.mean(0)
        b_t = ident.clone()
        psi = init.expression.to(**dd)[:, P.active.to(dev)].expand(T, -1).clone()
        omega = init.rotation.to(**dd).expand(T, -1).clone()
        logs = torch.log(init.scale.to(**dd)).expand(T).clone()
        t = init.t2d.to(**dd).expand(T, -1).clone()
    else:
        rigid = RIGID_IBUG68 if kind == "ibug68" and P.Y.shape[1] == 68 else None
        omega, logs, t = _init_camera(P, beta[None].expand(T, -1), psi, rigid)
    parts = ([b_t] if P.Kf else []) + [psi, omega, logs[:, None], t]
    z = P.clamp(torch.cat(parts, 1))
    return z, beta


# ----------------------------------------------------------------------------- solvers
class _Step:
    """One damped Gauss-Newton system and its solution under the ARKit bounds.

    The system is ``A d = -g`` with ``A = blockdiag(H_t + damping) (+ smoothness)``, coupled
    to the shared identity through ``C`` (Schur complement). The bounds are handled as a box
    QP by a few active-set rounds: variables at a bound whose QP gradient pushes outward are
    held at the bound, free variables that would cross a bound are added to that set, and
    held ones whose QP gradient turns inward are released.
    """

    def __init__(self, P: _Problem, H, g, C, Hb, gb, mu, mu_b, band):
        self.P = P
        dH = H.diagonal(dim1=1, dim2=2)
        floor = _FLOOR * dH.mean(1, keepdim=True).clamp_min(1e-30)
        dH.add_(mu[:, None] * (dH + floor))                           # damping, in place
        self.Hd = H
        self.g, self.C, self.gb = g, C, gb
        self.clipK = C is not None
        if self.clipK:
            dB = Hb.diagonal()
            dB.add_(mu_b * (dB + _FLOOR * dB.mean().clamp_min(1e-30)))
            self.Hbd = Hb
        self.band = band                    # diagonals of D^T D, or None without smoothing
        # diagonal blocks of the per-frame system
        self.Hblock = H if band is None else H + P.smooth * band[0][:, None, None] * P.M

    def matvec(self, vx, vb, f=None):
        """Full operator (``f`` None) or the one restricted to free variables ``f``."""
        P = self.P
        if f is not None:
            vx = vx * f
        ox = (self.Hd @ vx[..., None])[..., 0]
        if self.band is not None:
            ox = ox + P.smooth_apply(vx)
        ob = vb
        if self.clipK:
            ox = ox + (self.C @ vb[:, None])[..., 0]
            ob = self.Hbd @ vb + self.C.reshape(-1, self.C.shape[2]).T @ vx.reshape(-1)
        if f is not None:
            ox = ox * f
        return ox, ob

    def _factor(self, f):
        """Cholesky factor of the per-frame system restricted to the free variables ``f``.

        Returns ``(lower, upper)``: functions applying ``L^-1`` and ``L^-T`` to (T, P, m).
        Block-diagonal without smoothing (one batched Cholesky); block-pentadiagonal in
        time with smoothing (a sequential block-banded Cholesky over the frames).
        """
        held = f == 0
        any_held = bool(held.any())
        if any_held:
            Hp = self.Hblock.masked_fill(held[:, :, None] | held[:, None, :], 0.0)
            Hp.diagonal(dim1=1, dim2=2).add_(held.to(Hp.dtype))
        else:
            Hp = self.Hblock
        if self.band is None:
            chol, info = torch.linalg.cholesky_ex(Hp)
            if bool((info > 0).any()):
                bad = (info > 0).to(Hp.dtype)[:, None]
                Hp = Hp + torch.diag_embed(bad * (Hp.diagonal(dim1=1, dim2=2).abs() * 1e-3 + 1e-9))
                chol = torch.linalg.cholesky(Hp)

            def lower(v):
                return torch.linalg.solve_triangular(chol, v, upper=False)

            def upper(v):
                return torch.linalg.solve_triangular(chol.transpose(1, 2), v, upper=True)

            return lower, upper
        return _banded_factor(Hp, self.P.smooth * self.P.M, self.band, f)

    def solve(self, f, bx, bb, *, frames_only: bool = False):
        """Solve the system restricted to the free variables ``f`` (T, P); fixed ones get 0.

        With ``frames_only`` the identity step is kept at 0 (the caller folds a known
        identity step into ``bx``) and only the per-frame system is solved.
        """
        lower, upper = self._factor(f)
        y = lower((bx * f)[..., None])                                # (T,P,1)
        if frames_only or not self.clipK:
            return upper(y)[..., 0], torch.zeros_like(bb)
        # Schur complement on the identity: S = Hb - C^T H^-1 C = Hb - W^T W, W = L^-1 C
        K = self.C.shape[2]
        Wt = lower(self.C * f[:, :, None])                            # (T,P,K)
        W2 = Wt.reshape(Wt.shape[0] * Wt.shape[1], K)
        S = self.Hbd - W2.T @ W2
        S = 0.5 * (S + S.T)
        S.diagonal().add_(1e-12 * S.diagonal().abs().mean())
        db = torch.linalg.solve(S, bb - W2.T @ y.reshape(-1))
        dx = upper(y - Wt @ db[:, None])[..., 0]
        return dx, db

    def step(self, z, held=None, n_rounds: int = 2):
        """Step ``(dz, dbeta)`` and the final held set (warm start for the next call)."""
        P, g = self.P, self.g
        gb = self.gb if self.clipK else z.new_zeros(0)
        if not (P.bounded and P.Ea):
            return (*self.solve(torch.ones_like(z), -g, -gb), None)
        sp = P.s_psi
        psi, gp = z[:, sp], g[:, sp]
        was_lo, was_hi = held if held is not None else (False, False)
        at_lo = (psi <= 1e-12) & ((gp > 0) | was_lo)
        at_hi = (psi >= 1 - 1e-12) & ((gp < 0) | was_hi)
        db_first = None
        for _ in range(n_rounds):
            held = at_lo | at_hi
            f = torch.ones_like(z)
            f[:, sp] = (~held).to(z.dtype)
            d_held = torch.zeros_like(z)
            d_held[:, sp] = torch.where(at_lo, -psi, torch.where(at_hi, 1.0 - psi,
                                                                 torch.zeros_like(psi)))
            if db_first is None:
                # first round: the joint system (identity included)
                if bool((d_held != 0).any()):
                    ax, ab = self.matvec(d_held, z.new_zeros(gb.shape))
                    dx, db = self.solve(f, -g - ax, -gb - ab)
                else:
                    dx, db = self.solve(f, -g, -gb)
                db_first = db
            else:
                # later rounds only correct the active set: identity step kept from round 1
                ax, _ = self.matvec(d_held, db_first)
                dx, db = self.solve(f, -g - ax, -gb, frames_only=True)
                db = db_first
            d = dx * f + d_held
            new = psi + d[:, sp]
            cross_lo = ~held & (new < 0)
            cross_hi = ~held & (new > 1)
            qx, _ = self.matvec(d, db)
            q = (qx + g)[:, sp]
            rel_lo = at_lo & (q < 0)
            rel_hi = at_hi & (q > 0)
            if not bool((cross_lo | cross_hi | rel_lo | rel_hi).any()):
                break
            at_lo = (at_lo & ~rel_lo) | cross_lo
            at_hi = (at_hi & ~rel_hi) | cross_hi
        return d, db, (at_lo, at_hi)


def _gauss_newton(P: _Problem, z, beta, *, n_iters: int, tol: float, progress: bool):
    T, K = P.T, P.K
    clipK = P.clip_identity and K > 0
    prior_d = P.prior_diag(z)
    per, rest = P.costs(z, beta)
    mu = torch.full((T,), 1e-4, **_dd(z))
    mu_b = 1e-4
    history = [float(per.sum() + rest)]
    converged = False
    done = torch.zeros(T, dtype=torch.bool, device=z.device)
    held = None
    band = _second_difference_band(T, z) if P.smooth > 0 and T >= 3 else None
    bar = _progress(n_iters, progress)
    it = 0
    while it < n_iters:
        it += 1
        H, g, C, Hb, gb = P.normal_equations(z, beta)
        H.diagonal(dim1=1, dim2=2).add_(prior_d)
        g = g + prior_d * z
        if band is not None:
            g = g + P.smooth_apply(z)
        if clipK:
            Hb.diagonal().add_(P.a_id)
            gb = gb + P.a_id * beta
        dz, db, held = _Step(P, H, g, C, Hb, gb, mu, mu_b, band).step(z, held)
        z_new = P.clamp(z + dz)
        beta_new = beta + db if clipK else beta
        per_new, rest_new = P.costs(z_new, beta_new)
        if P.coupled:
            old_total, new_total = per.sum() + rest, per_new.sum() + rest_new
            if bool(new_total < old_total):
                gain = float(old_total - new_total)
                z, beta, per, rest = z_new, beta_new, per_new, rest_new
                mu = (mu / 5).clamp_min(1e-9)
                mu_b = max(mu_b / 5, 1e-9)
                converged = gain <= tol * float(old_total)
            else:
                mu = torch.where(per_new > per, mu * 8, mu * 2)
                mu_b *= 8
                converged = float(mu.min()) > 1e10
        else:
            # independent frames: accept, damp and stop each frame on its own (converged
            # frames are frozen, so a batch gives the same result as frames fitted alone)
            better = (per_new < per) & ~done
            gain = per - per_new
            z = torch.where(better[:, None], z_new, z)
            done = done | (better & (gain <= tol * per)) | (mu > 1e10)
            per = torch.where(better, per_new, per)
            mu = torch.where(better, (mu / 5).clamp_min(1e-9), mu * 8)
            converged = bool(done.all())
        history.append(float(per.sum() + rest))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{history[-1]:.4g}")
        if converged:
            break
    if bar is not None:
        bar.close()
    return z, beta, history, converged, it


def _dd(x: torch.Tensor) -> dict[str, Any]:
    return {"dtype": x.dtype, "device": x.device}


def _banded_factor(A: torch.Tensor, M: torch.Tensor, band, f: torch.Tensor):
    """Block-banded Cholesky of ``blockdiag(A_t) + (off-diagonal part of D^T D) kron M``.

    ``A`` (T, P, P) holds the diagonal blocks (smoothness diagonal included), ``M`` (P, P)
    the smoothness metric, ``band = (k0, k1, k2)`` the diagonals of ``D^T D`` and ``f``
    (T, P) the free variables (held rows and columns of the off-diagonal blocks are zero).
    Blocks (t+1, t) and (t+2, t) of the factor are the only non-zero off-diagonal ones.
    """
    T = A.shape[0]
    _, k1, k2 = band
    Ld, L1, L2 = [None] * T, [None] * T, [None] * T   # L_tt, L_{t+1,t}, L_{t+2,t}
    for t in range(T):
        S = A[t]
        if t >= 1:
            S = S - L1[t - 1] @ L1[t - 1].T
        if t >= 2:
            S = S - L2[t - 2] @ L2[t - 2].T
        Lt, info = torch.linalg.cholesky_ex(S)
        if int(info) > 0:
            S = S + torch.diag_embed(S.diagonal().abs() * 1e-6 + 1e-9)
            Lt = torch.linalg.cholesky(S)
        Ld[t] = Lt
        if t + 1 < T:
            Bt = (k1[t] * M) * (f[t + 1][:, None] * f[t][None, :])      # block (t+1, t)
            if t >= 1:
                Bt = Bt - L2[t - 1] @ L1[t - 1].T
            L1[t] = torch.linalg.solve_triangular(Lt.T, Bt, upper=True, left=False)
        if t + 2 < T:
            Ct = (k2[t] * M) * (f[t + 2][:, None] * f[t][None, :])      # block (t+2, t)
            L2[t] = torch.linalg.solve_triangular(Lt.T, Ct, upper=True, left=False)

    def lower(v):
        out = []
        for t in range(T):
            r = v[t]
            if t >= 1:
                r = r - L1[t - 1] @ out[t - 1]
            if t >= 2:
                r = r - L2[t - 2] @ out[t - 2]
            out.append(torch.linalg.solve_triangular(Ld[t], r, upper=False))
        return torch.stack(out)

    def upper(v):
        out = [None] * T
        for t in range(T - 1, -1, -1):
            r = v[t]
            if t + 1 < T:
                r = r - L1[t].T @ out[t + 1]
            if t + 2 < T:
                r = r - L2[t].T @ out[t + 2]
            out[t] = torch.linalg.solve_triangular(Ld[t].T, r, upper=True)
        return torch.stack(out)

    return lower, upper


def _progress(n: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=n, desc="fit_landmarks", leave=False)


def _scales(P: _Problem, z: torch.Tensor, beta: torch.Tensor):
    """Jacobi scaling for the first-order methods: units ``(T, P)`` and ``(K,)``.

    Each variable is measured in units of ``1 / sqrt(curvature)`` at the start (the
    diagonal of the Gauss-Newton matrix plus priors), so that a unit step changes the
    objective by about one in every direction.
    """
    H, _, _, Hb, _ = P.normal_equations(z, beta)
    d = H.diagonal(dim1=1, dim2=2) + P.prior_diag(z)
    if P.smooth > 0 and P.T >= 3:
        d = d + P.smooth * 6.0 * P.M.diagonal()
    d = d.clamp_min(1e-12 * float(d.max()) + 1e-30)
    uz = d.rsqrt()
    if P.clip_identity and P.K:
        db = (Hb.diagonal() + P.a_id).clamp_min(1e-30)
        ub = db.rsqrt()
    else:
        ub = beta.new_ones(P.K)
    return uz, ub


def _adam(P: _Problem, z, beta, *, n_iters: int, lr: float, tol: float, progress: bool):
    with torch.no_grad():
        uz, ub = _scales(P, z, beta)
    xz = (z / uz).clone().requires_grad_(True)
    clipK = P.clip_identity and P.K > 0
    xb = (beta / ub).clone().requires_grad_(clipK)
    params = [xz] + ([xb] if clipK else [])
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1.0 - 0.9 * i / max(n_iters, 1))
    history: list[float] = []
    bar = _progress(n_iters, progress)
    it = 0
    with torch.enable_grad():
        while it < n_iters:
            it += 1
            opt.zero_grad(set_to_none=True)
            per, rest = P.costs(xz * uz, xb * ub)
            loss = per.sum() + rest
            loss.backward()
            history.append(float(loss.detach()))
            opt.step()
            sched.step()
            with torch.no_grad():
                xz.copy_(P.clamp(xz * uz) / uz)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    with torch.no_grad():
        z, beta = (xz * uz).detach(), (xb * ub).detach()
        per, rest = P.costs(z, beta)
        history.append(float(per.sum() + rest))
    if not history[:-1]:
        return z, beta, history, False, it
    converged = abs(history[-2] - history[-1]) <= tol * abs(history[-2])
    return z, beta, history, converged, it


def _lbfgs(P: _Problem, z, beta, *, n_iters: int, tol: float, progress: bool):
    from scipy.optimize import Bounds, minimize

    with torch.no_grad():
        uz, ub = _scales(P, z, beta)
    clipK = P.clip_identity and P.K > 0
    T, Pn = z.shape
    x0 = torch.cat([(z / uz).reshape(-1), (beta / ub) if clipK else z.new_zeros(0)])
    dev = z.device

    def unpack(x: torch.Tensor):
        zz = x[:T * Pn].reshape(T, Pn) * uz
        bb = x[T * Pn:] * ub if clipK else beta
        return zz, bb

    def fun(x_np):
        x = torch.as_tensor(x_np, dtype=torch.float64, device=dev).requires_grad_(True)
        with torch.enable_grad():
            per, rest = P.costs(*unpack(x))
            loss = per.sum() + rest
            (grad,) = torch.autograd.grad(loss, x)
        return float(loss.detach()), grad.detach().cpu().numpy()

    bounds = None
    if P.bounded and P.Ea:
        lo = np.full((T, Pn), -np.inf)
        hi = np.full((T, Pn), np.inf)
        lo[:, P.s_psi] = 0.0
        hi[:, P.s_psi] = 1.0 / uz[:, P.s_psi].cpu().numpy()
        nb = P.K if clipK else 0
        bounds = Bounds(np.concatenate([lo.ravel(), np.full(nb, -np.inf)]),
                        np.concatenate([hi.ravel(), np.full(nb, np.inf)]))
    x0_np = x0.cpu().numpy()
    history = [fun(x0_np)[0]]
    bar = _progress(n_iters, progress)

    def callback(intermediate_result):
        history.append(float(intermediate_result.fun))
        if bar is not None:
            bar.update(1)

    res = minimize(fun, x0_np, jac=True, method="L-BFGS-B", bounds=bounds, callback=callback,
                   options={"maxiter": int(n_iters), "ftol": tol, "gtol": 1e-9, "maxcor": 20})
    if bar is not None:
        bar.close()
    zz, bb = unpack(torch.as_tensor(res.x, dtype=torch.float64, device=dev))
    return P.clamp(zz), bb.clone(), history, bool(res.success), int(res.nit)


# ----------------------------------------------------------------------------- public API
def fit_landmarks(
    model: FaceModel,
    landmarks: Any,
    *,
    kind: str = "ibug68",
    weights: Any = None,
    contour_weight: float = 0.3,
    clip_identity: bool = True,
    n_iters: int | None = None,
    lr: float = 10.0,
    tol: float = 1e-5,
    smooth: float = 0.0,
    prior_identity: float = 10.0,
    prior_expression: float = 30.0,
    prior_pose: float = 1.0,
    identity_prior: str = "clip",
    exclude: Sequence[str] = ("gaze", "tongue"),
    init: CoarseFit | None = None,
    method: Method = "gauss_newton",
    threads: int | None = 1,
    progress: bool = False,
) -> CoarseFit:
    """Fit a face model to 2D landmarks over a whole clip, all frames at once.

    One identity per clip (or per frame), and per frame: expression weights and a
    weak-perspective camera (head rotation, scale, image translation). The objective and the
    solver are described in :mod:`mxkit.fit.coarse`.

    Parameters
    ----------
    model : FaceModel
        Any face model with a ``kind`` landmark embedding (``mh-head``, FLAME, ...). The
        fit runs on its device; results have its dtype.
    landmarks : array or Tensor, shape (T, L, 2)
        Landmarks per frame in pixels (u right, v down, pixel centres at integers), in the
        order of ``kind`` (iBUG-68 for ``"ibug68"``).
    kind : str
        Landmark embedding of ``model`` to fit.
    weights : array or Tensor, shape (L,) or (T, L), optional
        Per-landmark confidences >= 0 (0 drops a landmark, e.g. an occluded one). Default 1.
    contour_weight : float
        Multiplies the weights of the jaw-line points (iBUG-68 0-16). They are silhouette
        points whose 3D position slides over the face with head yaw, while the model embeds
        them at fixed mesh points; down-weighting (default 0.3) keeps them from biasing pose
        and identity. Use 1.0 for near-frontal data, 0.0 to ignore the contour.
    clip_identity : bool
        ``True``: one identity vector shared by all frames. ``False``: one per frame (the
        "static per-frame" baseline; frames are then independent unless ``smooth > 0``).
    n_iters : int, optional
        Maximum iterations (default 30 for Gauss-Newton, 500 for L-BFGS and Adam).
    lr : float
        Adam step size, in Jacobi-scaled units (each variable divided by the square root of
        its initial curvature, so a unit step changes the objective by about 1); linearly
        decayed to 10 % of it. Ignored by the other methods.
    tol : float
        Relative decrease of the objective below which an iteration counts as converged.
    smooth : float
        Weight of the temporal smoothness term on expression and pose (second differences,
        measured as landmark motion; 0 = none). Values around 1-100 damp jitter.
    prior_identity, prior_expression, prior_pose : float
        Weights of the Gaussian priors ``|beta|^2``, ``|psi_t|^2`` and ``|omega_t|^2``
        (rotation in radians), in units of the data term (see :mod:`mxkit.fit.coarse`).
        The identity prior counts once per clip (see ``identity_prior``; once per frame
        with ``clip_identity=False``). The defaults (10, 30, 1) were chosen on ``mh-head`` with
        dlib landmarks of a real photo (weaker priors saturate unrelated shapes at 1) and
        shrink strong weights somewhat (a 0.6 smile fits as ~0.45 on synthetic data); pass
        values near 0 for exact recovery of noise-free synthetic landmarks.
    identity_prior : {"clip", "frame"}
        How often the shared identity's prior counts with ``clip_identity=True``.
        ``"clip"``: once per clip (the MAP estimate if every frame's landmark errors were
        independent, so a long clip pins the identity down from the data alone). ``"frame"``:
        once per frame (``prior_identity`` times the number of frames), so a clip fit
        regularises identity as much per frame as the per-frame fit does -- the better model
        when landmark errors are mostly a per-face bias, as a detector's are, and ``T``
        frames of one face carry hardly more identity evidence than one. With ``T`` copies of
        one frame and ``smooth=0``, ``"frame"`` gives the identity of the single-frame fit.
        Ignored with ``clip_identity=False``.
    exclude : sequence of str
        Expression shapes kept at 0: names or the groups ``"gaze"`` and ``"tongue"`` (see
        :meth:`FaceModel.expression_mask`). Gaze is not a facial action, and the tongue is
        invisible to landmarks.
    init : CoarseFit, optional
        Warm start from a previous fit of the same model with ``T`` or 1 frames (instead of
        the closed-form initialisation).
    method : {"gauss_newton", "lbfgs", "adam"}
        ``"gauss_newton"`` (default): projected Levenberg-Marquardt with analytic
        Jacobians, fastest and most accurate. ``"lbfgs"``: scipy's bounded L-BFGS-B on the
        whole clip with autograd gradients (runs the optimiser on the host). ``"adam"``:
        projected Adam (weights clipped to [0, 1] after each step), for comparison.
    threads : int or None, default 1
        torch intra-op threads during the fit on a CPU (restored afterwards); None leaves
        torch's setting. The fit is many small dense operations, for which extra threads cost
        more than they give: with 2 threads instead of 1 a 200-frame clip fit runs at about half
        the speed and the ``smooth > 0`` solve 2-4x slower (``python -m benchmarks.bench_fit``).
    progress : bool
        Show a tqdm progress bar over iterations.

    Returns
    -------
    CoarseFit
        Parameters, fitted landmarks, per-frame reprojection errors and the loss history.

    Raises
    ------
    ShapeError
        If ``landmarks`` is not (T, L, 2) with ``L`` the size of ``kind``, or ``weights`` or
        ``init`` do not match.
    InputValueError
        For empty or non-finite landmarks, negative or non-finite weights or priors, a frame
        with fewer than 4 weighted landmarks or with all landmarks at one point.
    OptionError
        For an unknown ``method`` or ``kind``.

    Notes
    -----
    The camera is initialised per frame in closed form: an affine camera fitted by weighted
    least squares to the rigid landmarks (:data:`RIGID_IBUG68`: upper jaw, nose, eye
    corners) of the mean face, projected to the nearest scaled orthographic camera (SVD).
    There is no randomness anywhere, so the result is deterministic (no ``generator``).

    Cost: a few milliseconds per frame-iteration batch; about 0.25 s for 200 frames of
    ``mh-head`` on one CPU core (``python -m benchmarks.bench_fit``). ``smooth > 0`` uses a
    sequential block-banded solver and is about 5x slower.

    Examples
    --------
    >>> from mxkit.fit.synthetic import make_landmark_model, synthetic_clip
    >>> model = make_landmark_model()
    >>> clip = synthetic_clip(model, n_frames=4, generator=torch.Generator().manual_seed(0))
    >>> fit = fit_landmarks(model, clip.landmarks)
    >>> fit.expression.shape, bool(fit.error_px.max() < 0.5)
    (torch.Size([4, 52]), True)
    >>> list(fit.summary()["top_expressions"])[:2]
    ['mouthSmileLeft', 'mouthSmileRight']
    """
    check_option(method, _METHODS, "method")
    if n_iters is None:
        n_iters = _DEFAULT_ITERS[method]
    if not isinstance(n_iters, (int, np.integer)) or n_iters < 0:
        raise InputValueError(f"n_iters must be an integer >= 0; got {n_iters!r}")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise InputValueError(f"lr must be > 0; got {lr!r}")
    if not (isinstance(tol, (int, float)) and tol >= 0):
        raise InputValueError(f"tol must be >= 0; got {tol!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer))
                                or threads < 1):
        raise InputValueError(f"threads must be an integer >= 1 or None; got {threads!r}")
    check_option(identity_prior, ("clip", "frame"), "identity_prior")
    device = getattr(getattr(model, "v_template", None), "device", None)   # model checked in _fit
    with torch_threads(threads if device is not None and device.type == "cpu" else None):
        return _fit(model, landmarks, kind=kind, weights=weights, contour_weight=contour_weight,
                    clip_identity=clip_identity, n_iters=int(n_iters), lr=lr, tol=tol, smooth=smooth,
                    prior_identity=prior_identity, prior_expression=prior_expression,
                    prior_pose=prior_pose, identity_prior=identity_prior, exclude=exclude, init=init,
                    method=method, progress=progress)


def _fit(model, landmarks, *, kind, weights, contour_weight, clip_identity, n_iters, lr, tol, smooth,
         prior_identity, prior_expression, prior_pose, identity_prior, exclude, init, method,
         progress) -> CoarseFit:
    P = _prepare(model, landmarks, kind=kind, weights=weights, contour_weight=contour_weight,
                 clip_identity=clip_identity, smooth=smooth, prior_identity=prior_identity,
                 prior_expression=prior_expression, prior_pose=prior_pose, exclude=exclude,
                 identity_per_frame=identity_prior == "frame")
    with torch.no_grad():
        z, beta = _initial_state(P, init, kind, model)
    if method == "gauss_newton":
        with torch.no_grad():
            z, beta, history, converged, its = _gauss_newton(P, z, beta, n_iters=int(n_iters),
                                                             tol=tol, progress=progress)
    elif method == "adam":
        z, beta, history, converged, its = _adam(P, z, beta, n_iters=int(n_iters), lr=float(lr),
                                                 tol=tol, progress=progress)
    else:
        z, beta, history, converged, its = _lbfgs(P, z, beta, n_iters=int(n_iters), tol=tol,
                                                  progress=progress)
    with torch.no_grad():
        return _result(P, model, z, beta, history=history, converged=converged, n_iters=its,
                       kind=kind, method=method)


def _nme_norm(Y: torch.Tensor, present: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "ibug68" and Y.shape[1] == 68:
        return torch.linalg.norm(Y[:, 45] - Y[:, 36], dim=-1).clamp_min(1e-12)
    big = torch.finfo(Y.dtype).max
    lo = torch.where(present[..., None], Y, torch.full_like(Y, big)).amin(1)
    hi = torch.where(present[..., None], Y, torch.full_like(Y, -big)).amax(1)
    return torch.sqrt(((hi - lo).prod(-1)).clamp_min(1e-24))


def _errors(pred: torch.Tensor, Y: torch.Tensor, W: torch.Tensor, kind: str):
    present = W > 0
    d = torch.linalg.norm(pred - Y, dim=-1) * present
    err = d.sum(1) / present.sum(1).clamp_min(1)
    return err, err / _nme_norm(Y, present, kind)


def _result(P: _Problem, model, z, beta, *, history, converged, n_iters, kind, method) -> CoarseFit:
    dtype, dev = model.v_template.dtype, model.v_template.device
    b, psi, om, logs, t = P.split(z, beta)
    T = P.T
    expr = z.new_zeros(T, model.n_expressions)
    expr[:, P.active] = psi
    pred = P.project(z, beta)
    err, nme = _errors(pred, P.Y, P.W, kind)
    ident = beta if P.clip_identity else b
    out = dict(identity=ident, expression=expr, rotation=om, scale=torch.exp(logs), t2d=t,
               landmarks=pred, target=P.Y, weights=P.W, error_px=err, error_nme=nme,
               loss_history=torch.tensor(history, dtype=torch.float64))
    out = {k: v.detach().to(device=dev, dtype=dtype).contiguous() for k, v in out.items()}
    return CoarseFit(**out, scheme=kind, method=method, clip_identity=P.clip_identity,
                     converged=bool(converged), n_iters=int(n_iters),
                     expression_names=tuple(model.expression_names),
                     identity_names=tuple(model.identity_names), model=model)


def fit_frames_independently(
    model: FaceModel,
    landmarks: Any,
    *,
    kind: str = "ibug68",
    weights: Any = None,
    contour_weight: float = 0.3,
    n_iters: int | None = None,
    lr: float = 10.0,
    tol: float = 1e-5,
    prior_identity: float = 10.0,
    prior_expression: float = 30.0,
    prior_pose: float = 1.0,
    exclude: Sequence[str] = ("gaze", "tongue"),
    init: CoarseFit | None = None,
    method: Method = "gauss_newton",
    threads: int | None = 1,
    progress: bool = False,
) -> CoarseFit:
    """The "static per-frame" baseline: every frame fitted alone (still batched).

    Same as :func:`fit_landmarks` with ``clip_identity=False`` and ``smooth=0``: each frame
    gets its own identity, expression and camera, and no information flows between frames.
    Combine with :func:`mxkit.fit.smooth_fit` for the "per-frame + smoothing" ablation.

    Returns
    -------
    CoarseFit
        With ``identity`` of shape (T, K).

    See Also
    --------
    fit_landmarks : parameters and errors.
    """
    return fit_landmarks(model, landmarks, kind=kind, weights=weights,
                         contour_weight=contour_weight, clip_identity=False, n_iters=n_iters,
                         lr=lr, tol=tol, smooth=0.0, prior_identity=prior_identity,
                         prior_expression=prior_expression, prior_pose=prior_pose,
                         exclude=exclude, init=init, method=method, threads=threads,
                         progress=progress)
