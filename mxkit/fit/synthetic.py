"""Known-answer workloads for the coarse fit: a tiny 68-landmark face model and synthetic clips.

:func:`make_landmark_model` builds a procedural face model whose vertices *are* the 68 iBUG
landmarks (hand-placed average proportions, metres, mxkit's model frame) with smooth random
identity components and the 52 ARKit expression names (a few of them, such as the smiles,
``jawOpen`` and ``browInnerUp``, move the landmarks the way their names say; the rest are
random local deformations). It is for tests, benchmarks and doctests of fitting code, not a
face model for research. :func:`synthetic_clip` renders landmark tracks with known
parameters from any :class:`~mxkit.morph.FaceModel`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .._checks import check_option, renamed_keywords
from ..camera import project_points
from ..errors import InputValueError
from ..geometry import axis_angle_to_matrix, euler_to_matrix, matrix_to_axis_angle

__all__ = ["make_landmark_model", "synthetic_clip", "SyntheticClip", "project_parameters"]

# subject's right half and midline of the iBUG-68 layout, metres (x < 0 is the subject's right)
_RIGHT = {
    17: (-0.058, 0.024, -0.020), 18: (-0.047, 0.031, -0.006), 19: (-0.036, 0.033, 0.006),
    20: (-0.025, 0.031, 0.014), 21: (-0.013, 0.026, 0.019),
    31: (-0.016, -0.052, 0.025), 32: (-0.008, -0.054, 0.032),
    36: (-0.046, 0.000, 0.000), 37: (-0.038, 0.006, 0.008), 38: (-0.026, 0.006, 0.010),
    39: (-0.017, 0.000, 0.008), 40: (-0.026, -0.005, 0.009), 41: (-0.038, -0.005, 0.007),
    48: (-0.026, -0.078, 0.018), 49: (-0.017, -0.071, 0.027), 50: (-0.007, -0.068, 0.033),
    58: (-0.007, -0.090, 0.031), 59: (-0.017, -0.087, 0.026),
    60: (-0.021, -0.078, 0.020), 61: (-0.008, -0.075, 0.028), 67: (-0.008, -0.080, 0.028),
}
_MID = {27: (0.0, -0.005, 0.020), 28: (0.0, -0.018, 0.030), 29: (0.0, -0.031, 0.040),
        30: (0.0, -0.044, 0.050), 33: (0.0, -0.055, 0.036), 51: (0.0, -0.069, 0.034),
        57: (0.0, -0.091, 0.032), 62: (0.0, -0.075, 0.029), 66: (0.0, -0.080, 0.029)}
# (name, landmark indices, displacement in metres (x, y, z) for the subject's LEFT side;
# the right-side twin is mirrored)
_SEMANTIC = {
    "mouthSmileLeft": ((54, 53, 55, 64, 63, 65), (0.006, 0.007, -0.004)),
    "mouthSmileRight": ((48, 49, 59, 60, 61, 67), (-0.006, 0.007, -0.004)),
    "mouthFrownLeft": ((54, 55, 64), (0.002, -0.006, 0.0)),
    "mouthFrownRight": ((48, 59, 60), (-0.002, -0.006, 0.0)),
    "browOuterUpLeft": ((25, 26), (0.0, 0.007, 0.0)),
    "browOuterUpRight": ((17, 18), (0.0, 0.007, 0.0)),
    "browDownLeft": ((22, 23, 24), (-0.002, -0.005, 0.0)),
    "browDownRight": ((19, 20, 21), (0.002, -0.005, 0.0)),
    "eyeBlinkLeft": ((43, 44), (0.0, -0.009, 0.0)),
    "eyeBlinkRight": ((37, 38), (0.0, -0.009, 0.0)),
}


def _mean_landmarks() -> np.ndarray:
    from ..face.ibug68 import MIRROR_68

    pts = np.zeros((68, 3))
    for i in range(17):  # jaw: a U from the right ear, under the chin, to the left ear
        a = np.pi * i / 16.0
        pts[i] = (-0.070 * np.cos(a), -0.020 - 0.100 * np.sin(a),
                  -0.075 + 0.085 * np.sin(a) ** 0.7)
    for i, p in {**_RIGHT, **_MID}.items():
        pts[i] = p
    for i, p in _RIGHT.items():
        pts[MIRROR_68[i]] = (-p[0], p[1], p[2])
    # lower lip points 55-56 and 65 mirror 58-59 and 67; upper 52-53 mirror 50-49 (done above)
    return pts


def make_landmark_model(*, n_identity: int = 10, seed: int = 0,
                        dtype: torch.dtype = torch.float32):
    """A procedural 68-vertex face model whose vertices are the iBUG-68 landmarks.

    Parameters
    ----------
    n_identity : int
        Number of identity components (smooth random fields, ~3 mm per unit coefficient).
    seed : int
        Seed of the random bases (a local ``numpy`` generator; no global state).
    dtype : torch.dtype
        Dtype of the model's buffers.

    Returns
    -------
    FaceModel
        ``name="landmark68"``, V = 68, E = 52 ARKit shapes, K = ``n_identity``, landmark
        scheme ``"ibug68"`` (landmark ``l`` is vertex ``l``).

    Examples
    --------
    >>> model = make_landmark_model()
    >>> model.n_vertices, model.n_expressions, model.landmark_schemes
    (68, 52, ('ibug68',))
    """
    from ..morph import ARKIT_NAMES, FaceModel, LandmarkEmbedding

    if int(n_identity) < 0:
        raise InputValueError(f"n_identity must be >= 0; got {n_identity}")
    rng = np.random.default_rng(seed)
    X = _mean_landmarks()
    V = X.shape[0]
    # identity: smooth fields from low-order polynomials of the position
    u = X / 0.07
    feats = np.stack([np.ones(V), u[:, 0], u[:, 1], u[:, 2], u[:, 0] ** 2, u[:, 1] ** 2,
                      u[:, 0] * u[:, 1], u[:, 1] * u[:, 2], u[:, 0] * u[:, 2],
                      u[:, 2] ** 2], 1)
    ident = np.einsum("vf,kfc->kvc", feats, rng.normal(size=(int(n_identity), feats.shape[1], 3)))
    ident *= 0.003 / np.sqrt((ident ** 2).mean(axis=(1, 2), keepdims=True) + 1e-30)
    # expressions: named ones move their points, the others are random local bumps
    expr = np.zeros((len(ARKIT_NAMES), V, 3))
    for e, name in enumerate(ARKIT_NAMES):
        if name in _SEMANTIC:
            idx, d = _SEMANTIC[name]
            expr[e, list(idx)] = d
        elif name == "jawOpen":
            drop = np.clip((-X[:, 1] - 0.06) / 0.06, 0.0, 1.0)    # lower face, more at chin
            drop[[51, 50, 52, 49, 53, 61, 62, 63]] = 0.1            # upper lip barely moves
            expr[e] = drop[:, None] * np.array([0.0, -0.012, -0.003])
        elif name == "browInnerUp":
            expr[e, [20, 21, 22, 23]] = (0.0, 0.008, 0.001)
        else:
            c = X[rng.integers(V)]
            w = np.exp(-((X - c) ** 2).sum(1) / (2 * 0.02 ** 2))
            expr[e] = w[:, None] * rng.normal(scale=0.004, size=3)
    faces = np.stack([np.arange(V), (np.arange(V) + 1) % V, (np.arange(V) + 2) % V], 1)
    emb = LandmarkEmbedding(faces=np.arange(V), bary=np.tile([1.0, 0.0, 0.0], (V, 1)))
    return FaceModel(name="landmark68", v_template=X, faces=faces, expr_basis=expr,
                     expr_names=ARKIT_NAMES, id_basis=ident, landmarks={"ibug68": emb},
                     meta={"note": "procedural test model for mxkit.fit"}, dtype=dtype)


class SyntheticClip(NamedTuple):
    """Landmarks rendered from known parameters (all tensors in the model's dtype).

    Attributes
    ----------
    landmarks : Tensor, shape (T, L, 2)
        Observed landmarks (with noise), pixels.
    clean : Tensor, shape (T, L, 2)
        Noise-free landmarks, pixels.
    identity : Tensor, shape (K,)
    expression : Tensor, shape (T, E)
    rotation : Tensor, shape (T, 3)
        Head rotation, axis-angle, radians.
    scale : Tensor, shape (T,)
        Pixels per metre.
    t2d : Tensor, shape (T, 2)
        Pixels.
    """

    landmarks: torch.Tensor
    clean: torch.Tensor
    identity: torch.Tensor
    expression: torch.Tensor
    rotation: torch.Tensor
    scale: torch.Tensor
    t2d: torch.Tensor


@renamed_keywords(kind="scheme")
def project_parameters(model, identity: torch.Tensor, expression: torch.Tensor,
                       rotation: torch.Tensor, scale: torch.Tensor, t2d: torch.Tensor,
                       *, scheme: str = "ibug68") -> torch.Tensor:
    """Landmarks (T, L, 2) in pixels of given model parameters (the fit's camera model).

    Parameters
    ----------
    model : FaceModel
    identity : Tensor, shape (K,) or (T, K)
    expression : Tensor, shape (T, E)
    rotation : Tensor, shape (T, 3)
        Head rotation, axis-angle, radians.
    scale : Tensor, shape (T,)
        Pixels per metre.
    t2d : Tensor, shape (T, 2)
        Pixels.
    scheme : str
        Landmark scheme of ``model`` (``kind`` is a deprecated alias).
    """
    check_option(scheme, model.landmark_schemes, "scheme")
    like = model.v_template
    T = expression.shape[0]
    ident = identity.to(like)
    if ident.ndim == 1:
        ident = ident[None].expand(T, -1)
    verts = model(ident, expression.to(like))
    lm3 = model.landmarks(verts, scheme)
    return project_points(lm3, axis_angle_to_matrix(rotation.to(like)), scale.to(like), t2d.to(like))


@renamed_keywords(kind="scheme")
def synthetic_clip(model, *, n_frames: int = 200, scheme: str = "ibug68",
                   shapes: dict[str, float] | None = None, identity: torch.Tensor | None = None,
                   head_motion_deg: float = 10.0, image_size: int = 256,
                   noise_px: float = 0.0, generator: torch.Generator | None = None
                   ) -> SyntheticClip:
    """A landmark clip with known identity, expression and head motion.

    Parameters
    ----------
    model : FaceModel
    n_frames : int
        Number of frames ``T``.
    scheme : str
        Landmark scheme of ``model`` (``kind`` is a deprecated alias).
    shapes : dict of str to float, optional
        Apex weight of each active expression shape; each follows its own smooth
        onset-apex-offset bump over the clip (default: smiles 0.6 / 0.5, ``browInnerUp``
        0.4, ``jawOpen`` 0.3).
    identity : Tensor, shape (K,), optional
        Default: drawn from N(0, 1).
    head_motion_deg : float
        Amplitude of the smooth pitch / yaw / roll motion, degrees.
    image_size : int
        The face is framed in a square image of this many pixels (scale and centre).
    noise_px : float
        Standard deviation of the Gaussian noise added to every coordinate, pixels.
    generator : torch.Generator, optional
        Source of all randomness (CPU generator); default: seeded with 0.

    Returns
    -------
    SyntheticClip

    Examples
    --------
    >>> model = make_landmark_model()
    >>> clip = synthetic_clip(model, n_frames=3, generator=torch.Generator().manual_seed(1))
    >>> clip.landmarks.shape
    torch.Size([3, 68, 2])
    """
    T = int(n_frames)
    if T < 1:
        raise InputValueError(f"n_frames must be >= 1; got {n_frames}")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    f64 = torch.float64

    def rand(*shape):
        return torch.rand(*shape, generator=g, dtype=f64)

    if shapes is None:
        shapes = {"mouthSmileLeft": 0.6, "mouthSmileRight": 0.5, "browInnerUp": 0.4,
                  "jawOpen": 0.3}
    if identity is None:
        identity = torch.randn(model.n_identity, generator=g, dtype=f64)
    frames = torch.arange(T, dtype=f64)
    expr = torch.zeros(T, model.n_expressions, dtype=f64)
    for name, apex in shapes.items():
        (e,) = model.expression_index(name)
        centre = (0.3 + 0.4 * rand(1)) * T
        width = T / 6.0 + 1.0
        expr[:, e] = float(apex) * torch.exp(-((frames - centre) / width) ** 2)
    amp = np.deg2rad(float(head_motion_deg))
    phase = 2 * np.pi * rand(3)
    freq = (0.5 + rand(3)) * 2 * np.pi / max(T, 2)
    angles = amp * torch.sin(frames[:, None] * freq + phase) * torch.tensor([0.6, 1.0, 0.4],
                                                                             dtype=f64)
    rotation = matrix_to_axis_angle(euler_to_matrix(angles))
    span = float(np.ptp(model.landmarks(model.v_template[None].double(), scheme)[0, :, 0].cpu()
                        .numpy()))
    base = 0.6 * image_size / max(span, 1e-9)
    scale = base * (1.0 + 0.02 * torch.sin(frames * 2 * np.pi / max(T, 2) + 6.28 * rand(1)))
    centre = image_size / 2.0 - 0.5
    t2d = centre + 0.02 * image_size * torch.stack(
        [torch.sin(frames * freq[0] + phase[1]), torch.cos(frames * freq[1] + phase[2])], 1)
    like = model.v_template
    clean = project_parameters(model, identity, expr, rotation, scale, t2d, scheme=scheme)
    noise = torch.randn(clean.shape, generator=g, dtype=f64) * float(noise_px)
    return SyntheticClip(landmarks=clean + noise.to(clean), clean=clean,
                         identity=identity.to(like), expression=expr.to(like),
                         rotation=rotation.to(like), scale=scale.to(like), t2d=t2d.to(like))
