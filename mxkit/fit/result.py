"""The result of a coarse fit: :class:`CoarseFit`.

Camera convention (weak perspective, :mod:`mxkit.camera`):
a model-frame point ``X`` (metres; +x the subject's left, +y up, +z toward the camera) of
frame ``t`` lands at the pixel

.. math::

    (u, v) = s_t \\, \\Pi \\, R_t X + (t_u, t_v), \\qquad \\Pi = \\begin{pmatrix}1 & 0 & 0\\\\
    0 & -1 & 0\\end{pmatrix},

i.e. the OpenCV camera rotation is ``diag(1, -1, -1) @ R_t`` where ``R_t`` is the head
rotation in the model frame (``rotation = 0`` is a frontal face).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import torch

from .._checks import check_shape, renamed_attribute, renamed_keywords
from ..camera import camera_rotation, project_points
from ..errors import InputValueError, ShapeError
from ..geometry import axis_angle_to_matrix

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..morph.model import FaceModel

__all__ = ["CoarseFit", "camera_rotation"]


@dataclass(frozen=True, eq=False)
class CoarseFit:
    """Per-frame parameters of a face model fitted to 2D landmarks over a clip.

    Produced by :func:`mxkit.fit.fit_landmarks`; immutable. All tensors share one device and
    the dtype of the fitted model.

    Attributes
    ----------
    identity : Tensor, shape (K,) or (T, K)
        Identity coefficients (~ N(0, 1) a priori): one vector shared by the clip, or one per
        frame for a per-frame fit (``clip_identity=False``).
    expression : Tensor, shape (T, E)
        Expression coefficients in the model's order (all ``E`` shapes; excluded shapes are
        0). ARKit weights lie in [0, 1].
    rotation : Tensor, shape (T, 3)
        Head rotation in the model frame, axis-angle, radians (0 = frontal).
    scale : Tensor, shape (T,)
        Weak-perspective scale, pixels per metre.
    t2d : Tensor, shape (T, 2)
        Image translation ``(tu, tv)`` in pixels: where the model origin (midpoint between
        the eyeballs for ``mh-head``) projects.
    landmarks : Tensor, shape (T, L, 2)
        Fitted landmarks projected to the image, pixels (u right, v down).
    target : Tensor, shape (T, L, 2)
        The landmarks that were fitted, pixels.
    weights : Tensor, shape (T, L)
        Landmark weights used by the fit (after the contour down-weighting); 0 = ignored.
    error_px : Tensor, shape (T,)
        Per-frame reprojection error: mean Euclidean distance (px) between ``landmarks`` and
        ``target`` over the landmarks of positive weight.
    error_nme : Tensor, shape (T,)
        ``error_px`` normalised by the inter-ocular distance of ``target`` (outer eye
        corners 36-45) for ``scheme="ibug68"``; by the square root of the landmarks'
        bounding-box area for other landmark schemes.
    loss_history : Tensor, shape (n,)
        The objective after initialisation and after each iteration (unitless; see
        :func:`mxkit.fit.fit_landmarks` for its definition).
    scheme : str
        Landmark scheme (``"ibug68"``, ...; ``kind`` is its deprecated old name).
    method : str
        Optimiser used (``"gauss_newton"``, ``"lbfgs"``, ``"adam"``, or ``"smoothed"`` for
        :func:`mxkit.fit.smooth_fit` output).
    clip_identity : bool
        Whether ``identity`` is shared by the clip.
    converged : bool
        Whether the optimiser met its tolerance before ``n_iters``.
    n_iters : int
        Iterations performed.
    expression_names, identity_names : tuple of str
        Names of the coefficient columns (from the model).
    model : FaceModel
        The fitted model (used for :attr:`vertices`; not copied, not moved by :meth:`to`).
    """

    identity: torch.Tensor
    expression: torch.Tensor
    rotation: torch.Tensor
    scale: torch.Tensor
    t2d: torch.Tensor
    landmarks: torch.Tensor
    target: torch.Tensor
    weights: torch.Tensor
    error_px: torch.Tensor
    error_nme: torch.Tensor
    loss_history: torch.Tensor
    scheme: str = "ibug68"
    method: str = "gauss_newton"
    clip_identity: bool = True
    converged: bool = True
    n_iters: int = 0
    expression_names: tuple[str, ...] = ()
    identity_names: tuple[str, ...] = ()
    model: Any = field(default=None, repr=False, compare=False)

    kind = renamed_attribute("scheme", old="kind")

    _TENSORS = ("identity", "expression", "rotation", "scale", "t2d", "landmarks", "target",
                "weights", "error_px", "error_nme", "loss_history")

    def __post_init__(self) -> None:
        for name in self._TENSORS:
            if not torch.is_tensor(getattr(self, name)):
                raise InputValueError(f"CoarseFit.{name} must be a torch.Tensor")
        T = check_shape(self.expression, ("T", "E"), "expression")["T"]
        if self.clip_identity:
            check_shape(self.identity, ("K",), "identity")
        else:
            check_shape(self.identity, (T, "K"), "identity")
        check_shape(self.rotation, (T, 3), "rotation")
        check_shape(self.scale, (T,), "scale")
        check_shape(self.t2d, (T, 2), "t2d")
        L = check_shape(self.landmarks, (T, "L", 2), "landmarks")["L"]
        check_shape(self.target, (T, L, 2), "target")
        check_shape(self.weights, (T, L), "weights")
        check_shape(self.error_px, (T,), "error_px")
        check_shape(self.error_nme, (T,), "error_nme")
        check_shape(self.loss_history, ("n",), "loss_history")
        if self.expression_names and len(self.expression_names) != self.expression.shape[1]:
            raise ShapeError(f"expression_names has {len(self.expression_names)} names for "
                             f"{self.expression.shape[1]} expression columns")

    # ------------------------------------------------------------------ sizes
    @property
    def n_frames(self) -> int:
        """Number of frames ``T``."""
        return int(self.expression.shape[0])

    def __len__(self) -> int:
        return self.n_frames

    def __getitem__(self, frames: int | slice | torch.Tensor) -> CoarseFit:
        """The fit restricted to some frames (an int gives a 1-frame fit), same type.

        ``vertices`` is recomputed on demand; ``loss_history`` is kept (it is the clip's).
        """
        if isinstance(frames, int):
            if not -self.n_frames <= frames < self.n_frames:
                raise IndexError(f"frame {frames} out of range for {self.n_frames} frames")
            frames = slice(frames % self.n_frames, frames % self.n_frames + 1)
        per_frame = [n for n in self._TENSORS if n not in ("identity", "loss_history")]
        changes = {n: getattr(self, n)[frames] for n in per_frame}
        if not self.clip_identity:
            changes["identity"] = self.identity[frames]
        return dataclasses.replace(self, **changes)

    @property
    def device(self) -> torch.device:
        """Device of the tensors."""
        return self.expression.device

    @property
    def identity_per_frame(self) -> torch.Tensor:
        """Identity coefficients broadcast to shape (T, K)."""
        if self.clip_identity:
            return self.identity[None].expand(self.n_frames, -1)
        return self.identity

    @property
    def translation(self) -> torch.Tensor:
        """Metric translation of :meth:`vertices_world`, shape (T, 3), metres.

        ``(tu / s, -tv / s, 0)``: with it, ``model(identity, expression, rotation=rotation,
        translation=translation)`` reproduces :meth:`vertices_world` exactly.
        """
        s = self.scale[:, None]
        zero = torch.zeros_like(self.scale)[:, None]
        return torch.cat([self.t2d[:, :1] / s, -self.t2d[:, 1:] / s, zero], dim=1)

    # ------------------------------------------------------------------ geometry
    def _require_model(self) -> FaceModel:
        if self.model is None:
            raise InputValueError("this CoarseFit carries no model; vertices are unavailable")
        return self.model

    @cached_property
    def vertices(self) -> torch.Tensor:
        """Fitted shapes in the model frame, shape (T, V, 3), metres (computed on first use).

        Identity plus expression, before head rotation and camera: the frame in which
        micro-expression displacements are measured.
        """
        model = self._require_model()
        like = model.v_template
        v = model(self.identity_per_frame.to(like), self.expression.to(like))
        return v.to(device=self.device, dtype=self.expression.dtype)

    def vertices_world(self) -> torch.Tensor:
        """Posed shapes, shape (T, V, 3), metres.

        The model frame's axes (+y up, +z toward the camera), with the fitted head rotation
        and :attr:`translation` applied; the weak-perspective camera reads them as
        ``u = s * x``, ``v = -s * y``.
        """
        R = axis_angle_to_matrix(self.rotation)
        return self.vertices @ R.transpose(-1, -2) + self.translation[:, None, :]

    def project(self, points: torch.Tensor | None = None) -> torch.Tensor:
        """Project model-frame points of each frame to pixels with the fitted cameras.

        Parameters
        ----------
        points : Tensor, shape (T, N, 3), optional
            Points in the model frame (metres, before head rotation), e.g. :attr:`vertices`
            or an offset version of them. Default: :attr:`vertices`.

        Returns
        -------
        Tensor, shape (T, N, 2)
            Pixels (u right, v down).
        """
        if points is None:
            points = self.vertices
        check_shape(points, (self.n_frames, "N", 3), "points")
        return project_points(points.to(self.expression), axis_angle_to_matrix(self.rotation),
                              self.scale, self.t2d)

    # ------------------------------------------------------------------ conversions
    def to(self, device: str | torch.device) -> CoarseFit:
        """A copy with every tensor on ``device`` (the model is not moved)."""
        changes = {name: getattr(self, name).to(device) for name in self._TENSORS}
        return dataclasses.replace(self, **changes)

    def detach(self) -> CoarseFit:
        """A copy with every tensor detached from autograd."""
        changes = {name: getattr(self, name).detach() for name in self._TENSORS}
        return dataclasses.replace(self, **changes)

    def summary(self, top: int = 5) -> dict[str, Any]:
        """Plain-Python summary: frames, errors, iterations and the strongest expressions.

        Parameters
        ----------
        top : int
            How many expression shapes (by mean weight over frames) to list.
        """
        mean_w = self.expression.mean(0).cpu()
        k = min(int(top), mean_w.numel())
        vals, idx = torch.topk(mean_w, k)
        names = self.expression_names or tuple(f"e{i}" for i in range(mean_w.numel()))
        return {
            "frames": self.n_frames,
            "scheme": self.scheme,
            "method": self.method,
            "iterations": int(self.n_iters),
            "converged": bool(self.converged),
            "mean_error_px": float(self.error_px.mean()),
            "mean_error_nme": float(self.error_nme.mean()),
            "top_expressions": {names[int(i)]: round(float(v), 4) for v, i in zip(vals, idx, strict=True)},
        }

    def to_dataframe(self, *, long: bool = False) -> pd.DataFrame:
        """Tabulate the fit.

        Parameters
        ----------
        long : bool, default False
            ``False``: one row per frame with columns ``frame``, ``error_px``,
            ``error_nme``, ``scale`` (px/m), ``rot_x``, ``rot_y``, ``rot_z`` (axis-angle,
            radians), ``tu``, ``tv`` (px), then one column per expression shape (its weight),
            in the model's order. ``True``: tidy long format, one row per (frame, expression
            shape) with columns ``frame``, ``shape``, ``weight`` (for seaborn / groupby).

        Returns
        -------
        pandas.DataFrame
        """
        import numpy as np
        import pandas as pd

        T = self.n_frames
        names = list(self.expression_names or (f"e{i}" for i in range(self.expression.shape[1])))
        expr = self.expression.detach().cpu().double().numpy()
        if long:
            return pd.DataFrame({
                "frame": np.repeat(np.arange(T), len(names)),
                "shape": np.tile(np.array(names, dtype=object), T),
                "weight": expr.reshape(-1),
            })
        rot = self.rotation.detach().cpu().double().numpy()
        t2d = self.t2d.detach().cpu().double().numpy()
        cols: dict[str, Any] = {
            "frame": np.arange(T),
            "error_px": self.error_px.detach().cpu().double().numpy(),
            "error_nme": self.error_nme.detach().cpu().double().numpy(),
            "scale": self.scale.detach().cpu().double().numpy(),
            "rot_x": rot[:, 0], "rot_y": rot[:, 1], "rot_z": rot[:, 2],
            "tu": t2d[:, 0], "tv": t2d[:, 1],
        }
        table = pd.DataFrame(cols)
        return pd.concat([table, pd.DataFrame(expr, columns=names)], axis=1)


CoarseFit.__init__ = renamed_keywords(kind="scheme")(CoarseFit.__init__)  # type: ignore[method-assign]
