"""Network inputs of a clip: motion relative to the onset, computed once from plain tensors.

:func:`clip_features` turns the measurements of one clip -- landmarks ``(T, L, 2)``,
optical flow onset -> t ``(T, H, W, 2)``, optical strain ``(T, H, W)`` (all in the pixels of
the same frames), a :class:`~mxkit.fit.CoarseFit` of a :class:`~mxkit.morph.FaceModel` to
those landmarks -- into a :class:`ClipFeatures`. :func:`features_from_prepared` is the thin
adapter for a prepared clip (anything with ``.landmarks``, ``.flow``, ``.strain``,
``.onset``, ``.apex``). No network runs here, so training builds these once per clip.

Rigid head motion, removed from the flow
----------------------------------------
Let ``X_0`` be the coarse onset mesh and ``p_0 = P_0(X_0)`` its projection with the coarse
fit's onset camera. Every frame's camera ``P_t`` (head rotation ``R_t``, scale ``s_t`` px/m
at the head origin, image translation ``c_t``, and one camera distance ``d`` per clip) is
re-estimated from the flow ``q_t = p_0 + f_t(p_0)`` of the whole visible onset mesh
(:func:`register_rigid`, robust Gauss-Newton on thousands of flow vectors, region prior
:data:`RIGID_REGION_WEIGHTS`; ``d`` given, or estimated by :func:`estimate_distance`)::

    P_t(X) = c_t + s_t k (Y_x, -Y_y),   Y = R_t X,   k = d / (d - Y_z)

(``d = inf``, the default, is the weak perspective of :mod:`mxkit.fit.result`). This is far
less noisy than a pose from 68 landmarks, whose errors would otherwise swamp
micro-expression motion (a 0.5 % scale error moves the face edge by ~0.3 mm).

Metric motion
-------------
A pixel residual ``n`` at a point ``Y`` is converted to metres in the model frame by the
local inverse of the camera, ``to_metric(n) = R_t^T (n_u, -n_v, 0) / (s_t k)`` (the
minimal-norm 3D displacement with that image motion; its component along the viewing ray
is 0). With ``Pperp_t X = R_t^T diag(1, 1, 0) R_t X`` (``X`` without its component along the
ray), the per-vertex measurements are (all 0 at the onset):

* **flow motion** ``m_tv = to_metric(q_tv - P_t(X_0v)) - (same at the onset)``: the
  non-rigid motion the flow sees at vertex ``v``; strain ``e_tv`` sampled at ``p_0v``;
* **flow residual** ``r_tv = m_tv - Pperp_t (X_tv - X_0v)``: what the (refined) coarse mesh
  ``X_t`` does not explain;
* **landmark motion** ``to_metric(l_t - P_t(L_0))`` (since the onset) and **landmark
  residual** (minus ``Pperp_t (L_t - L_0)`` of the coarse mesh's landmarks ``L``), spread to
  the vertices over their ``k`` nearest template landmarks with inverse-distance weights;
* **coarse displacement** ``X_tv - X_0v``.

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

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from .._checks import check_finite, check_shape, renamed_keywords
from ..camera import (
    backproject,
    estimate_distance,
    perspective_factor,
    plane_projection,
    project_points,
    register_rigid,
    to_metric,
)
from ..errors import InputValueError, ShapeError
from ..geometry import axis_angle_to_matrix, vertex_normals

__all__ = [
    "ClipFeatures",
    "clip_features",
    "features_from_prepared",
    "backproject",
    "plane_projection",
    "project_points",
    "to_metric",
    "register_rigid",
    "estimate_distance",
    "RIGID_REGION_WEIGHTS",
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
#: number of per-vertex input channels of the MeshDeformer (before the dynamic code)
DEFORMER_IN_FEATURES = len(DEFORMER_CHANNELS)

#: prior weights of facial regions in the flow-based rigid registration (others: 1)
RIGID_REGION_WEIGHTS: dict[str, float] = {
    "forehead": 1.0, "nose": 1.0, "other": 1.0, "jaw_left": 0.5, "jaw_right": 0.5,
    "cheek_left": 0.5, "cheek_right": 0.5, "chin": 0.2, "brow_left": 0.2, "brow_right": 0.2,
    "eye_left": 0.0, "eye_right": 0.0, "mouth": 0.0,
}


def encoder_in_features(n_landmarks: int, n_regions: int, n_expressions: int) -> int:
    """Width of :attr:`ClipFeatures.encoder_input`: ``3 L + 3 R + R + E + 1``."""
    return 3 * n_landmarks + 4 * n_regions + n_expressions + 1


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
        Head rotations ``R_t`` of the cameras ``P_t``: registered on the flow
        (:func:`register_rigid`) or, with ``register=False``, the coarse fit's.
    scale : Tensor, shape (T,)
        Their scales ``s_t``, px/m at the head origin.
    t2d : Tensor, shape (T, 2)
        Their image translations ``c_t``, px.
    distance : float
        Camera distance ``d`` of the cameras, metres (``inf``: weak perspective).
    onset_px : Tensor, shape (V, 2)
        Coarse onset vertices projected to the onset frame, px.
    flow_px : Tensor, shape (T, V, 2)
        Flow sampled at ``onset_px``, px (0 at the onset).
    nonrigid_px : Tensor, shape (T, V, 2)
        ``onset_px + flow_px - P_t(X_0)`` since the onset: the image motion that the rigid
        head motion does not explain, px.
    flow_motion : Tensor, shape (T, V, 3)
        ``nonrigid_px`` in metres (:func:`to_metric`): the flow motion ``m_t``.
    strain : Tensor, shape (T, V)
        Strain sampled at ``onset_px`` (dimensionless).
    visibility : Tensor, shape (V,)
        In [0, 1]: on the image, facing the camera at the onset, and in ``vertex_mask``.
    vertex_mask : Tensor, shape (V,)
        1 on vertices that may be deformed (skin by default), else 0.
    landmarks_px : Tensor, shape (T, L, 2)
        Observed landmarks, px.
    landmark_motion : Tensor, shape (T, L, 3)
        Non-rigid landmark motion since the onset, metres (like ``flow_motion``).
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
    nonrigid_px: torch.Tensor
    flow_motion: torch.Tensor
    strain: torch.Tensor
    visibility: torch.Tensor
    vertex_mask: torch.Tensor
    landmarks_px: torch.Tensor
    landmark_motion: torch.Tensor
    landmark_faces: torch.Tensor
    landmark_bary: torch.Tensor
    knn_index: torch.Tensor
    knn_weight: torch.Tensor
    geometry: torch.Tensor
    distance: float = math.inf
    model_name: str = ""

    def __post_init__(self) -> None:
        T, V = check_shape(self.coarse_vertices, ("T", "V", 3), "coarse_vertices").values()
        L = check_shape(self.landmarks_px, (T, "L", 2), "landmarks_px")["L"]
        check_shape(self.encoder_input, (T, None), "encoder_input")
        for name, spec in (("rotation", (T, 3, 3)), ("scale", (T,)), ("t2d", (T, 2)),
                           ("onset_px", (V, 2)), ("flow_px", (T, V, 2)),
                           ("nonrigid_px", (T, V, 2)), ("flow_motion", (T, V, 3)),
                           ("strain", (T, V)),
                           ("visibility", (V,)), ("vertex_mask", (V,)),
                           ("landmark_motion", (T, L, 3)), ("landmark_faces", (L, 3)),
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

    def project(self, points: torch.Tensor, frames: Any = None) -> torch.Tensor:
        """Project model-frame points of some frames with the features' cameras ``P_t``.

        Parameters
        ----------
        points : Tensor, shape (N, V', 3)
        frames : Tensor, shape (N,), int64, optional
            Default all frames (then ``N = T``).

        Returns
        -------
        Tensor, shape (N, V', 2)
            Pixels.
        """
        fr = slice(None) if frames is None else frames
        return project_points(points, self.rotation[fr], self.scale[fr], self.t2d[fr],
                              self.distance)

    def summary(self) -> dict[str, Any]:
        """Plain numbers: frames, vertices, amplitude (mm), IOD (mm), camera distance (m),
        visible fraction."""
        return {"frames": self.n_frames, "vertices": self.n_vertices, "onset": self.onset,
                "apex": self.apex, "amplitude_mm": float(self.amplitude) * 1e3,
                "iod_mm": float(self.iod) * 1e3, "camera_distance_m": float(self.distance),
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


@renamed_keywords(kind="scheme")
def clip_features(
    landmarks: Any,
    flow: Any,
    strain: Any,
    fit: Any,
    model: Any,
    *,
    onset: int,
    apex: int | None = None,
    scheme: str = "ibug68",
    vertex_mask: Any = None,
    k: int = 4,
    register: bool = True,
    distance: float | str = math.inf,
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
    scheme : str
        Landmark scheme (embedding) of ``model`` the landmarks follow (``kind`` is a deprecated
        alias).
    vertex_mask : array or Tensor, shape (V,), optional
        Vertices the deformer may move (default: the model's ``"skin"`` part when it has
        one, else all).
    k : int
        Nearest landmarks per vertex (at most ``L``).
    register : bool
        Re-estimate each frame's camera from the flow of the onset mesh
        (:func:`register_rigid`); ``False`` keeps the coarse fit's weak-perspective cameras
        (see the module docstring).
    distance : float or "estimate"
        Camera distance ``d`` of the registered cameras, metres: ``inf`` (default, weak
        perspective, the model the coarse fit used), a known value, or ``"estimate"``
        (:func:`estimate_distance`). On SynthME (camera at 0.8 m) the coarse mesh, fitted
        under weak perspective, already absorbs the perspective distortion: the estimate
        is ``inf`` and a true ``d`` fits the flow worse.

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
        p0 = project_points(X[onset:onset + 1], R[onset:onset + 1], s[onset:onset + 1],
                      c[onset:onset + 1])[0]                              # (V, 2)
        fpx, valid = _sample(fl, p0[None].expand(T, V, 2))
        spx, _ = _sample(torch.stack([st, st], -1), p0[None].expand(T, V, 2))
        spx = spx[..., 0]

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

        # head pose of every frame from the flow of the rigid onset mesh
        q = p0[None] + fpx                                               # (T, V, 2)
        if not register:
            distance = math.inf
        elif not (distance == "estimate" or (isinstance(distance, (int, float))
                                             and float(distance) > 0)):
            raise InputValueError(f"distance must be a positive number, inf or 'estimate'; "
                                  f"got {distance!r}")
        tri = model.faces[getattr(model, f"_lmk_{scheme}_faces")]       # (L, 3)
        bary = getattr(model, f"_lmk_{scheme}_bary").to(like)
        if tri.shape[0] != L:
            raise ShapeError(f"landmarks have {L} points; the model's {scheme!r} embedding has "
                             f"{tri.shape[0]}")
        if register:
            prior = torch.ones(V, dtype=dtype, device=dev)
            for name in model.region_names:
                if name in RIGID_REGION_WEIGHTS:
                    prior[torch.as_tensor(model.region_mask(name), device=dev)] = \
                        RIGID_REGION_WEIGHTS[name]
            wr = vis * prior
            if distance == "estimate":
                distance = estimate_distance(X[onset], q, wr, rotation=R, scale=s, t2d=c)
            R, s, c = register_rigid(X[onset], q, wr, rotation=R, scale=s, t2d=c,
                                     distance=float(distance))

        def nonrigid(points3d: torch.Tensor, observed: torch.Tensor):
            """Observed pixels minus the rigid prediction, since the onset: (px, metres)."""
            pred = project_points(points3d[None].expand(T, -1, -1), R, s, c, distance)
            Y = points3d[None] @ R.transpose(-1, -2)
            n = observed - pred
            n = n - n[onset]
            return n, to_metric(n, R, s, perspective_factor(Y, distance))

        n_px, motion = nonrigid(X[onset], q)                            # (T, V, 2), (T, V, 3)
        n_px, motion = n_px * vis[None, :, None], motion * vis[None, :, None]

        # amplitude and inter-ocular distance
        w = vis / vis.sum().clamp_min(1e-12)
        rms = ((motion.pow(2).sum(-1) * w).sum(-1)).sqrt()               # (T,)
        A = rms.max().clamp_min(MIN_AMPLITUDE)
        lmk3d_onset = (X[onset][tri] * bary[..., None]).sum(-2)
        iod = _iod(lmk3d_onset).clamp_min(1e-6)
        a = A / iod
        log_a = torch.log(a / 0.01)

        # landmarks
        _, lm = nonrigid(lmk3d_onset, lmk)                               # (T, L, 3)
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
        rotation=R.contiguous(), scale=s.contiguous(), t2d=c.contiguous(), onset_px=p0,
        flow_px=fpx.contiguous(), nonrigid_px=n_px.contiguous(), flow_motion=motion.contiguous(),
        strain=spx.contiguous(), visibility=vis, vertex_mask=mask, landmarks_px=lmk,
        landmark_motion=lm.contiguous(), landmark_faces=tri, landmark_bary=bary,
        knn_index=idx, knn_weight=iw, geometry=geometry, distance=float(distance),
        model_name=str(getattr(model, "name", "")),
    )


@renamed_keywords(kind="scheme")
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
        ``scheme``, ``vertex_mask``, ``k``, ``register``, ``distance`` of
        :func:`clip_features` (``kind``: deprecated alias of ``scheme``).

    Raises
    ------
    InputValueError
        If ``prepared`` has no landmarks or flow (or they hold NaNs).
    """
    for name in ("landmarks", "flow", "onset"):
        if getattr(prepared, name, None) is None:
            raise InputValueError(f"prepared clip has no {name!r}; run mxkit.prepare with "
                                  f"landmarks and flow first")
    unknown = set(options) - {"scheme", "vertex_mask", "k", "register", "distance"}
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
    motion = f.flow_motion[frames]
    X0 = f.coarse_vertices[on]
    coarse = vertices - X0
    residual = motion - plane_projection(coarse, R) * vis

    def lmk3d(X: torch.Tensor) -> torch.Tensor:                         # (N, L, 3)
        return (X[:, f.landmark_faces] * f.landmark_bary[..., None]).sum(-2)

    lmot = f.landmark_motion[frames]
    lres = lmot - plane_projection(lmk3d(vertices) - lmk3d(X0[None]), R)

    def spread(x: torch.Tensor) -> torch.Tensor:                        # (N, L, 3) -> (N, V, 3)
        return (x[:, f.knn_index] * f.knn_weight[None, :, :, None]).sum(-2)

    strain = (f.strain[frames] - f.strain[on]) * f.visibility * (LENGTH_SCALE / A)
    log_a = torch.log(A / f.iod / 0.01)
    const = torch.cat([f.visibility[:, None], f.geometry], 1)            # (V, 8)
    return torch.cat([
        motion / A, residual / A, coarse / A, spread(lmot) / A, spread(lres) / A,
        strain[..., None], const[None].expand(N, -1, -1),
        log_a.expand(N, f.n_vertices, 1),
    ], -1)
