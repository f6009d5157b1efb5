"""Network inputs of a clip: motion relative to the onset, computed once from plain tensors.

:func:`clip_features` turns the measurements of one clip -- landmarks ``(T, L, 2)``,
optical flow onset -> t ``(T, H, W, 2)``, optical strain ``(T, H, W)`` (all in the pixels of
the same frames), a :class:`~mxkit.fit.CoarseFit` of a :class:`~mxkit.morph.FaceModel` to
those landmarks -- into a :class:`ClipFeatures`. :func:`features_from_prepared` is the thin
adapter for a prepared clip (anything with ``.landmarks``, ``.flow``, ``.strain``,
``.onset``, ``.apex``). No network runs here, so training builds these once per clip.

Metric motion (the one conversion used everywhere)
--------------------------------------------------
A pixel ``p`` of frame ``t`` is back-projected into the head's model frame with the fitted
weak-perspective camera (scale ``s_t`` px/m, head rotation ``R_t``, image translation
``c_t``; see :mod:`mxkit.fit.result`)::

    b_t(p) = R_t^T Pi^T (p - c_t) / s_t,        Pi^T (du, dv) = (du, -dv, 0)

i.e. the model-frame point on the plane through the origin orthogonal to the viewing ray.
It removes the fitted head rotation, scale and translation, so motions ``b_t(p_t) -
b_0(p_0)`` are in metres in the model frame (their component along the viewing ray is 0).
With ``Pperp_t X = R_t^T Pi^T Pi R_t X`` (``X`` minus its component along the ray):
``b_t(P_t(X)) = Pperp_t X`` exactly.

Per-vertex measurements (vertex ``v``, its coarse onset position ``X_0v``, projected to
``p_0v = P_0(X_0v)``):

* flow motion ``m_tv = b_t(p_0v + f_t(p_0v)) - b_0(p_0v)`` (the flow sampled at the
  vertex's projected onset position, in metres), strain ``e_tv`` sampled there;
* flow residual ``r_tv = b_t(p_0v + f_t(p_0v)) - Pperp_t X_tv``: the part of the measured
  motion the (refined) coarse mesh ``X_t`` does not explain (0 at the onset);
* landmark motion ``b_t(l_t) - b_0(l_0)`` and landmark residual (observed minus the coarse
  mesh's landmarks, since onset), spread to vertices over their ``k`` nearest template
  landmarks with inverse-distance weights;
* coarse displacement since onset ``X_tv - X_0v``.

Intensity normalisation
-----------------------
The clip amplitude ``A`` (metres) is the largest, over frames, visibility-weighted RMS of
the flow motion ``m_t`` over the vertices (floored at ``1e-5`` m); ``a = A / IOD`` is the
same amplitude in units of the subject's inter-ocular distance (outer eye corners of the
coarse onset mesh). Every motion input is divided by ``A``, strain and expression weights
by ``A / ell`` with ``ell = 1 cm`` (a unit strain or a unit ARKit weight moves a 1 cm
neighbourhood by about 1 cm), so inputs are O(1) for a macro- and a micro-expression alike;
``log(a / 0.01)`` is a separate input, and the networks multiply their outputs by ``A``
(:mod:`mxkit.nets.encoder`, :mod:`mxkit.nets.deformer`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from .._checks import check_finite, check_shape
from ..errors import InputValueError, ShapeError
from ..geometry import axis_angle_to_matrix
from .graph import vertex_normals

__all__ = [
    "ClipFeatures",
    "clip_features",
    "features_from_prepared",
    "backproject",
    "plane_projection",
    "deformer_inputs",
    "encoder_in_features",
    "DEFORMER_IN_FEATURES",
    "DEFORMER_CHANNELS",
    "LENGTH_SCALE",
    "MIN_AMPLITUDE",
]

#: metres: "a unit strain or a unit expression weight moves a 1 cm neighbourhood by ~1 cm"
LENGTH_SCALE = 0.01
#: metres: floor of the clip amplitude ``A`` (a still clip)
MIN_AMPLITUDE = 1e-5
_POS_SCALE = 0.1      # metres: template positions are divided by this
_DIST_SCALE = 0.05    # metres: distance to the nearest landmark is divided by this
_IDW_EPS = 0.005      # metres: inverse-distance weights 1 / (d + eps)
_FACING = 0.3         # visibility ramps from 0 to 1 as the normal turns 0 -> 17 deg toward camera

#: names of the deformer's per-vertex input channels (before the dynamic code), in order
DEFORMER_CHANNELS: tuple[str, ...] = (
    "flow_motion_x", "flow_motion_y", "flow_motion_z",
    "flow_residual_x", "flow_residual_y", "flow_residual_z",
    "coarse_motion_x", "coarse_motion_y", "coarse_motion_z",
    "landmark_motion_x", "landmark_motion_y", "landmark_motion_z",
    "landmark_residual_x", "landmark_residual_y", "landmark_residual_z",
    "strain", "visibility",
    "template_x", "template_y", "template_z", "normal_x", "normal_y", "normal_z",
    "landmark_distance", "log_amplitude",
)
DEFORMER_IN_FEATURES = len(DEFORMER_CHANNELS)


def encoder_in_features(n_landmarks: int, n_regions: int, n_expressions: int) -> int:
    """Width of :attr:`ClipFeatures.encoder_input`: ``3 L + 3 R + R + E + 1``."""
    return 3 * n_landmarks + 4 * n_regions + n_expressions + 1


# ----------------------------------------------------------------------------- geometry
def backproject(points: torch.Tensor, rotation: torch.Tensor, scale: torch.Tensor,
                t2d: torch.Tensor) -> torch.Tensor:
    """Back-project pixels to the model frame with weak-perspective cameras (``b_t(p)``).

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
        ``R_t^T (du, -dv, 0) / s_t`` with ``(du, dv) = p - t2d_t``, metres.

    Examples
    --------
    >>> R = torch.eye(3)[None]
    >>> backproject(torch.tensor([[[12.0, 8.0]]]), R, torch.tensor([100.0]),
    ...             torch.tensor([[10.0, 10.0]])).tolist()
    [[[0.019999999552965164, 0.019999999552965164, 0.0]]]
    """
    d = (points - t2d[:, None, :]) / scale[:, None, None]
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


def _project(points: torch.Tensor, rotation: torch.Tensor, scale: torch.Tensor,
             t2d: torch.Tensor) -> torch.Tensor:
    """Weak-perspective pixels ``s Pi R X + c`` of (T, N, 3) model-frame points."""
    cam = points @ rotation.transpose(-1, -2)
    uv = torch.stack([cam[..., 0], -cam[..., 1]], -1)
    return scale[:, None, None] * uv + t2d[:, None, :]


# ----------------------------------------------------------------------------- container
@dataclass(frozen=True, eq=False)
class ClipFeatures:
    """Everything mxkit's networks read about one clip (built by :func:`clip_features`).

    ``T`` frames, ``V`` vertices, ``L`` landmarks, ``k`` neighbours; metres in the model
    frame unless stated. See the module docstring for the definitions.

    Attributes
    ----------
    onset, apex : int
        0-based frame indices.
    amplitude : Tensor, shape ()
        Clip amplitude ``A``, metres.
    iod : Tensor, shape ()
        Inter-ocular distance of the coarse onset mesh, metres.
    encoder_input : Tensor, shape (T, F)
        Intensity-normalised DynamicEncoder input (``F = encoder_in_features(L, R, E)``):
        landmark motion (3L), region-pooled flow motion (3R) and strain (R), coarse
        expression since onset (E), log amplitude (1); all 0 at the onset except the last.
    coarse_vertices : Tensor, shape (T, V, 3)
        Coarse-fit vertices (identity + expression, unposed).
    rotation : Tensor, shape (T, 3, 3)
        Fitted head rotations.
    scale : Tensor, shape (T,)
        Fitted weak-perspective scales, px/m.
    t2d : Tensor, shape (T, 2)
        Fitted image translations, px.
    onset_px : Tensor, shape (V, 2)
        Coarse onset vertices projected to the onset frame, px.
    flow_px : Tensor, shape (T, V, 2)
        Flow sampled at ``onset_px``, px (0 at the onset).
    flow_target : Tensor, shape (T, V, 3)
        ``b_t(onset_px + flow_px[t])``.
    strain : Tensor, shape (T, V)
        Strain sampled at ``onset_px`` (dimensionless).
    visibility : Tensor, shape (V,)
        In [0, 1]: on the image, facing the camera at the onset, and in ``vertex_mask``.
    vertex_mask : Tensor, shape (V,)
        1 on vertices that may be deformed (skin by default), else 0.
    landmarks_px : Tensor, shape (T, L, 2)
        Observed landmarks, px.
    landmark_target : Tensor, shape (T, L, 3)
        ``b_t(landmarks_px[t])``.
    landmark_faces : Tensor, shape (L, 3), int64
        Vertex indices of each landmark's triangle (for the coarse mesh's landmarks).
    landmark_bary : Tensor, shape (L, 3)
        Barycentric coordinates in those triangles.
    knn_index : Tensor, shape (V, k), int64
        Nearest template landmarks of each vertex.
    knn_weight : Tensor, shape (V, k)
        Their normalised inverse-distance weights (rows sum to 1).
    geometry : Tensor, shape (V, 7)
        Template position / 0.1 m (3), template normal (3), distance to the nearest
        landmark / 0.05 m (1).
    model_name : str
    """

    onset: int
    apex: int
    amplitude: torch.Tensor
    iod: torch.Tensor
    encoder_input: torch.Tensor
    coarse_vertices: torch.Tensor
    rotation: torch.Tensor
    scale: torch.Tensor
    t2d: torch.Tensor
    onset_px: torch.Tensor
    flow_px: torch.Tensor
    flow_target: torch.Tensor
    strain: torch.Tensor
    visibility: torch.Tensor
    vertex_mask: torch.Tensor
    landmarks_px: torch.Tensor
    landmark_target: torch.Tensor
    landmark_faces: torch.Tensor
    landmark_bary: torch.Tensor
    knn_index: torch.Tensor
    knn_weight: torch.Tensor
    geometry: torch.Tensor
    model_name: str = ""

    def __post_init__(self) -> None:
        T, V = check_shape(self.coarse_vertices, ("T", "V", 3), "coarse_vertices").values()
        L = check_shape(self.landmarks_px, (T, "L", 2), "landmarks_px")["L"]
        check_shape(self.encoder_input, (T, None), "encoder_input")
        for name, spec in (("rotation", (T, 3, 3)), ("scale", (T,)), ("t2d", (T, 2)),
                           ("onset_px", (V, 2)), ("flow_px", (T, V, 2)),
                           ("flow_target", (T, V, 3)), ("strain", (T, V)),
                           ("visibility", (V,)), ("vertex_mask", (V,)),
                           ("landmark_target", (T, L, 3)), ("landmark_faces", (L, 3)),
                           ("landmark_bary", (L, 3)), ("knn_index", (V, "k")),
                           ("knn_weight", (V, "k")), ("geometry", (V, 7))):
            check_shape(getattr(self, name), spec, name)
        if not (0 <= self.onset < T and 0 <= self.apex < T):
            raise InputValueError(f"onset {self.onset} and apex {self.apex} must lie in "
                                  f"[0, {T})")

    @property
    def n_frames(self) -> int:
        return int(self.coarse_vertices.shape[0])

    @property
    def n_vertices(self) -> int:
        return int(self.coarse_vertices.shape[1])

    @property
    def device(self) -> torch.device:
        return self.coarse_vertices.device

    @property
    def dtype(self) -> torch.dtype:
        return self.coarse_vertices.dtype

    def to(self, device: Any = None, dtype: torch.dtype | None = None) -> ClipFeatures:
        """A copy on ``device`` with floating tensors cast to ``dtype`` (if given)."""
        changes = {}
        for f in fields(self):
            x = getattr(self, f.name)
            if torch.is_tensor(x):
                changes[f.name] = x.to(device=device, dtype=dtype if x.is_floating_point()
                                       else None)
        return type(self)(**{**{f.name: getattr(self, f.name) for f in fields(self)},
                             **changes})

    def summary(self) -> dict[str, Any]:
        """Plain numbers: frames, vertices, amplitude (mm), IOD (mm), visible fraction."""
        return {"frames": self.n_frames, "vertices": self.n_vertices, "onset": self.onset,
                "apex": self.apex, "amplitude_mm": float(self.amplitude) * 1e3,
                "iod_mm": float(self.iod) * 1e3,
                "visible_fraction": float((self.visibility > 0).float().mean())}


# ----------------------------------------------------------------------------- builders
def _tensor(x: Any, name: str, like: torch.Tensor) -> torch.Tensor:
    if x is None:
        raise InputValueError(f"{name} is missing (None); the clip must carry {name}")
    t = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x)
    if not t.is_floating_point():
        t = t.to(torch.float32)
    t = t.to(device=like.device, dtype=like.dtype)
    check_finite(t, name)
    return t


def _sample(field: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    from ..flow import sample_flow

    values, valid = sample_flow(field, points)
    return values, valid


def _iod(lmk3d: torch.Tensor) -> torch.Tensor:
    """Inter-ocular distance (outer eye corners 36/45) or, for other layouts, 2 x RMS spread."""
    if lmk3d.shape[0] == 68:
        return torch.linalg.norm(lmk3d[45] - lmk3d[36])
    c = lmk3d - lmk3d.mean(0)
    return 2.0 * (c.pow(2).sum(-1).mean()).sqrt()


def clip_features(
    landmarks: Any,
    flow: Any,
    strain: Any,
    fit: Any,
    model: Any,
    *,
    onset: int,
    apex: int | None = None,
    kind: str = "ibug68",
    vertex_mask: Any = None,
    k: int = 4,
) -> ClipFeatures:
    """Compute the network inputs of one clip (see the module docstring for definitions).

    Parameters
    ----------
    landmarks : array or Tensor, shape (T, L, 2)
        Observed landmarks per frame, pixels of the frames the flow was computed on.
    flow : array or Tensor, shape (T, H, W, 2)
        Optical flow from the onset frame to each frame, pixels (0 at the onset).
    strain : array or Tensor, shape (T, H, W), optional
        Optical strain magnitude; ``None`` gives zeros.
    fit : CoarseFit
        Coarse fit of ``model`` to ``landmarks`` (``T`` frames; shared or per-frame identity).
    model : FaceModel
        The fitted model (its dtype and device are used).
    onset : int
        Onset frame (0-based).
    apex : int, optional
        Apex frame (default: the frame of largest flow motion).
    kind : str
        Landmark embedding of ``model`` the landmarks follow.
    vertex_mask : array or Tensor, shape (V,), optional
        Vertices the deformer may move (default: the model's ``"skin"`` part when it has
        one, else all).
    k : int
        Nearest landmarks per vertex (at most ``L``).

    Returns
    -------
    ClipFeatures

    Raises
    ------
    InputValueError
        Missing landmarks or flow, NaN or infinite inputs, onset/apex out of range.
    ShapeError
        Inconsistent frame counts or shapes.
    """
    like = model.v_template
    dtype, dev = like.dtype, like.device
    lmk = _tensor(landmarks, "landmarks", like)
    T, L = check_shape(lmk, ("T", "L", 2), "landmarks").values()
    fl = _tensor(flow, "flow", like)
    check_shape(fl, (T, "H", "W", 2), "flow")
    st = (torch.zeros(fl.shape[:3], dtype=dtype, device=dev) if strain is None
          else _tensor(strain, "strain", like))
    check_shape(st, (T, fl.shape[1], fl.shape[2]), "strain")
    if getattr(fit, "n_frames", None) != T:
        raise ShapeError(f"fit has {getattr(fit, 'n_frames', None)} frames; landmarks have {T}")
    if not isinstance(onset, (int, np.integer)) or not 0 <= onset < T:
        raise InputValueError(f"onset must be a frame index in [0, {T}); got {onset!r}")
    onset = int(onset)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputValueError(f"k must be an integer >= 1; got {k!r}")
    k = min(int(k), L)
    V = model.n_vertices

    with torch.no_grad():
        X = fit.vertices.to(device=dev, dtype=dtype)                     # (T, V, 3)
        R = axis_angle_to_matrix(fit.rotation.to(device=dev, dtype=dtype))
        s = fit.scale.to(device=dev, dtype=dtype)
        c = fit.t2d.to(device=dev, dtype=dtype)
        psi = fit.expression.to(device=dev, dtype=dtype)

        # onset projection, flow and strain at the vertices
        p0 = _project(X[onset:onset + 1], R[onset:onset + 1], s[onset:onset + 1],
                      c[onset:onset + 1])[0]                              # (V, 2)
        fpx, valid = _sample(fl, p0[None].expand(T, V, 2))
        spx, _ = _sample(torch.stack([st, st], -1), p0[None].expand(T, V, 2))
        spx = spx[..., 0]
        target = backproject(p0[None] + fpx, R, s, c)                    # (T, V, 3)
        motion = target - target[onset]

        # masks and visibility
        if vertex_mask is None:
            mask = (torch.as_tensor(model.part_mask("skin")) if "skin" in model.part_names
                    else torch.ones(V, dtype=torch.bool))
        else:
            mask = torch.as_tensor(np.asarray(vertex_mask) if not torch.is_tensor(vertex_mask)
                                   else vertex_mask)
            check_shape(mask, (V,), "vertex_mask")
        mask = mask.to(device=dev, dtype=dtype)
        normals = vertex_normals(X[onset], model.faces)                  # (V, 3)
        facing = (normals @ R[onset].T)[:, 2]                            # toward the camera
        vis = (facing / _FACING).clamp(0.0, 1.0) * valid.all(0).to(dtype) * mask

        # amplitude and inter-ocular distance
        w = vis / vis.sum().clamp_min(1e-12)
        rms = ((motion.pow(2).sum(-1) * w).sum(-1)).sqrt()               # (T,)
        A = rms.max().clamp_min(MIN_AMPLITUDE)
        tri = model.faces[getattr(model, f"_lmk_{kind}_faces")]         # (L, 3)
        bary = getattr(model, f"_lmk_{kind}_bary").to(like)
        if tri.shape[0] != L:
            raise ShapeError(f"landmarks have {L} points; the model's {kind!r} embedding has "
                             f"{tri.shape[0]}")
        lmk3d_onset = (X[onset][tri] * bary[..., None]).sum(-2)
        iod = _iod(lmk3d_onset).clamp_min(1e-6)
        a = A / iod
        log_a = torch.log(a / 0.01)

        # landmarks
        lt = backproject(lmk, R, s, c)                                    # (T, L, 3)
        lm = lt - lt[onset]
        template = model.v_template.to(like)
        tl = (template[tri] * bary[..., None]).sum(-2)                    # (L, 3)
        d = torch.cdist(template, tl)                                     # (V, L)
        dist, idx = torch.topk(d, k, dim=1, largest=False)
        iw = 1.0 / (dist + _IDW_EPS)
        iw = iw / iw.sum(1, keepdim=True)
        t_normals = vertex_normals(template, model.faces)
        geometry = torch.cat([template / _POS_SCALE, t_normals, dist[:, :1] / _DIST_SCALE], 1)

        # encoder input: landmark motion, region-pooled flow and strain, coarse expression
        labels = torch.as_tensor(model.region_labels, device=dev)
        R_n = len(model.region_names)
        onehot = torch.zeros(V, max(R_n, 1), dtype=dtype, device=dev)
        lab = labels.clamp_min(0)
        onehot[torch.arange(V, device=dev), lab] = (labels >= 0).to(dtype)
        onehot = onehot[:, :R_n] * vis[:, None]                           # (V, R)
        norm = onehot.sum(0).clamp_min(1e-12)
        pooled_m = torch.einsum("tvc,vr->trc", motion, onehot) / norm[None, :, None]
        pooled_s = (spx @ onehot) / norm[None]
        dpsi = psi - psi[onset]
        enc = torch.cat([lm.reshape(T, -1) / A, pooled_m.reshape(T, -1) / A,
                         pooled_s * (LENGTH_SCALE / A), dpsi * (LENGTH_SCALE / A),
                         log_a.expand(T, 1)], 1)
        enc[onset, :-1] = 0.0

    return ClipFeatures(
        onset=onset, apex=int(motion.pow(2).sum(-1).mul(w).sum(-1).argmax()) if apex is None
        else int(apex),
        amplitude=A, iod=iod, encoder_input=enc.contiguous(), coarse_vertices=X.contiguous(),
        rotation=R, scale=s, t2d=c, onset_px=p0, flow_px=fpx.contiguous(),
        flow_target=target.contiguous(), strain=spx.contiguous(), visibility=vis,
        vertex_mask=mask, landmarks_px=lmk, landmark_target=lt, landmark_faces=tri,
        landmark_bary=bary, knn_index=idx, knn_weight=iw, geometry=geometry,
        model_name=str(getattr(model, "name", "")),
    )


def features_from_prepared(prepared: Any, fit: Any, model: Any, **options: Any) -> ClipFeatures:
    """:func:`clip_features` of a prepared clip (duck-typed: ``.landmarks``, ``.flow``,
    ``.strain``, ``.onset``, ``.apex``).

    Parameters
    ----------
    prepared : Prepared-like
    fit : CoarseFit
        Of ``model`` to ``prepared.landmarks``.
    model : FaceModel
    **options
        ``kind``, ``vertex_mask``, ``k`` of :func:`clip_features`.

    Raises
    ------
    InputValueError
        If ``prepared`` has no landmarks or flow (or they hold NaNs).
    """
    for name in ("landmarks", "flow", "onset"):
        if getattr(prepared, name, None) is None:
            raise InputValueError(f"prepared clip has no {name!r}; run mxkit.prepare with "
                                  f"landmarks and flow first")
    unknown = set(options) - {"kind", "vertex_mask", "k"}
    if unknown:
        raise InputValueError(f"unknown options {sorted(unknown)}")
    return clip_features(prepared.landmarks, prepared.flow, getattr(prepared, "strain", None),
                         fit, model, onset=int(prepared.onset),
                         apex=getattr(prepared, "apex", None), **options)


# ----------------------------------------------------------------------------- deformer input
def deformer_inputs(features: ClipFeatures, vertices: torch.Tensor,
                    frames: torch.Tensor) -> torch.Tensor:
    """Per-vertex MeshDeformer inputs of some frames, given the (refined) coarse mesh there.

    Parameters
    ----------
    features : ClipFeatures
    vertices : Tensor, shape (N, V, 3)
        The coarse mesh at ``frames`` (possibly refined by the DynamicEncoder's residuals;
        at the onset it must equal ``features.coarse_vertices[onset]``). Differentiable.
    frames : Tensor, shape (N,), int64
        Frame indices.

    Returns
    -------
    Tensor, shape (N, V, DEFORMER_IN_FEATURES)
        Channels :data:`DEFORMER_CHANNELS`; motion channels divided by the amplitude ``A``
        and 0 at the onset.
    """
    f = features
    N = frames.shape[0]
    check_shape(vertices, (N, f.n_vertices, 3), "vertices")
    A = f.amplitude
    R, on = f.rotation[frames], f.onset
    vis = f.visibility[None, :, None]
    tgt = f.flow_target[frames]
    motion = (tgt - f.flow_target[on]) * vis
    X0 = f.coarse_vertices[on]
    res0 = f.flow_target[on] - plane_projection(X0[None], f.rotation[on:on + 1])[0]
    residual = (tgt - plane_projection(vertices, R) - res0) * vis
    coarse = vertices - X0

    def lmk3d(X: torch.Tensor) -> torch.Tensor:                         # (N, L, 3)
        return (X[:, f.landmark_faces] * f.landmark_bary[..., None]).sum(-2)

    lt = f.landmark_target[frames]
    lres = lt - plane_projection(lmk3d(vertices), R)
    lres0 = f.landmark_target[on] - plane_projection(lmk3d(X0[None]), f.rotation[on:on + 1])[0]
    lmot = lt - f.landmark_target[on]

    def spread(x: torch.Tensor) -> torch.Tensor:                        # (N, L, 3) -> (N, V, 3)
        return (x[:, f.knn_index] * f.knn_weight[None, :, :, None]).sum(-2)

    strain = (f.strain[frames] - f.strain[on]) * f.visibility * (LENGTH_SCALE / A)
    log_a = torch.log(A / f.iod / 0.01)
    const = torch.cat([f.visibility[:, None], f.geometry], 1)            # (V, 8)
    out = torch.cat([
        motion / A, residual / A, coarse / A, spread(lmot) / A, spread(lres - lres0) / A,
        strain[..., None], const[None].expand(N, -1, -1),
        log_a.expand(N, f.n_vertices, 1),
    ], -1)
    return out
