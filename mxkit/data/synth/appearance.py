"""How SynthME subjects look: a painted UV albedo on ``mh-head``, lighting, camera, sensor.

The albedo is painted procedurally in texture space from what each texel *is* on the
template (its 3D position and normal, its mesh part, the CC0 lip mask of the asset), so it
carries the features a face detector and optical flow need: darker brows, lips and hair,
eyes with sclera, iris and pupil, lashes, a redder nose and cheeks, darker eye sockets, and a
skin texture of pores, mottling and freckles (band-limited noise, in millimetres). Because
the albedo lives in UV space it moves with the mesh: expression, the fine-detail field and
head motion all move the texture, as skin moves on a real face.

The texture atlas re-uses the model's UVs for the skin and remaps each eyeball to a
planar-projected block of its own (the original eye islands are ~17 texels wide), so the
iris and pupil are sharp. Subject-independent parts (the texel -> template maps) are cached
per texture size.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import InputValueError

if TYPE_CHECKING:  # pragma: no cover
    from ...morph import FaceModel
    from ...render import Camera, Light

__all__ = ["Atlas", "SynthSubject", "generate_subject", "build_atlas", "check_model",
           "SKIN_TONES", "HAIR_COLOURS", "IRIS_COLOURS"]

#: Skin albedo anchors from light to dark (linear RGB in [0, 1]); subjects interpolate.
SKIN_TONES = np.array([[0.92, 0.76, 0.66], [0.86, 0.66, 0.54], [0.74, 0.54, 0.40],
                       [0.58, 0.40, 0.28], [0.44, 0.29, 0.20]], dtype=np.float32)
#: Hair and brow colours (black, dark brown, brown, auburn, dark blond).
HAIR_COLOURS = np.array([[0.05, 0.04, 0.04], [0.12, 0.08, 0.06], [0.22, 0.14, 0.09],
                         [0.30, 0.15, 0.08], [0.42, 0.32, 0.20]], dtype=np.float32)
#: Iris colours (dark brown, brown, hazel, green-grey, blue-grey).
IRIS_COLOURS = np.array([[0.18, 0.10, 0.05], [0.32, 0.20, 0.10], [0.40, 0.32, 0.16],
                         [0.32, 0.38, 0.30], [0.35, 0.45, 0.55]], dtype=np.float32)

# where the eyeballs go in the atlas: (u0, v0) of each block and its side, in UV units
_EYE_BLOCKS = {"eye_left": (0.05, 0.05), "eye_right": (0.28, 0.05)}
_EYE_BLOCK = 0.18
_EYE_MARGIN = 1.05  # block half-width in eyeball radii


def check_model(model: FaceModel) -> FaceModel:
    """The model to use: ``model``, or the embedded ``mh-head`` when None (SynthME paints
    and deforms ``mh-head`` only)."""
    if model is None:
        return _default_model()
    if getattr(model, "name", None) != "mh-head" or model.n_vertices != _default_model().n_vertices:
        raise InputValueError(f"SynthME needs the embedded 'mh-head' model (load_face_model('mh-head')); "
                              f"got {getattr(model, 'name', type(model).__name__)!r}")
    return model


@lru_cache(maxsize=1)
def _default_model() -> FaceModel:
    from ...morph import load_face_model

    return load_face_model("mh-head")


@lru_cache(maxsize=1)
def _asset_arrays() -> dict[str, np.ndarray]:
    from importlib import resources

    from ...morph.io import MH_HEAD_ASSET

    path = resources.files("mxkit") / "assets" / MH_HEAD_ASSET
    with path.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
        keys = ("v_template", "faces", "uv", "faces_uv", "part_labels", "part_names", "lip_mask")
        return {k: data[k] for k in keys}


@dataclass(frozen=True, eq=False)
class Atlas:
    """Texture atlas of ``mh-head`` at one size, with per-texel template information.

    Attributes
    ----------
    size : int
        Texture side S in texels.
    uv : ndarray, shape (N, 2), float64
        Texture coordinates (u right, v up) for :func:`mxkit.render.render`.
    faces_uv : ndarray, shape (F, 3), int32
        Per-corner indices into ``uv``.
    position, normal : ndarray, shape (S, S, 3), float32
        Template position (metres) and unit normal under each texel (nearest covered texel
        outside the islands, so bilinear lookups at island borders stay on the surface).
    part : ndarray, shape (S, S), int8
        Mesh part index (into ``part_names``).
    lip : ndarray, shape (S, S), float32
        The asset's lip mask in [0, 1].
    part_names : tuple of str
    texel_mm : float
        Median texel size on the face, millimetres.
    eyes : dict
        Per eye ``(u0, v0, block, centre (3,), radius)``.
    """

    size: int
    uv: np.ndarray
    faces_uv: np.ndarray
    position: np.ndarray
    normal: np.ndarray
    part: np.ndarray
    lip: np.ndarray
    part_names: tuple[str, ...]
    texel_mm: float
    eyes: dict[str, tuple] = field(default_factory=dict)


@lru_cache(maxsize=2)
def build_atlas(size: int = 1024) -> Atlas:
    """The ``mh-head`` texture atlas at ``size`` x ``size`` texels (cached)."""
    from scipy import ndimage

    from ...render import rasterize, vertex_normals

    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 64 <= size <= 8192:
        raise InputValueError(f"texture_size must be an int in [64, 8192]; got {size!r}")
    S = int(size)
    a = _asset_arrays()
    V = a["v_template"].astype(np.float64)
    F = a["faces"].astype(np.int64)
    parts = a["part_labels"].astype(np.int64)
    names = tuple(str(n) for n in a["part_names"].tolist())
    uv = [a["uv"].astype(np.float64)]
    fuv = a["faces_uv"].astype(np.int64).copy()
    eyes = {}
    n_uv = len(uv[0])
    for side, (u0, v0) in _EYE_BLOCKS.items():
        idx = np.flatnonzero(parts == names.index(side))
        centre = V[idx].mean(0)
        radius = float(np.linalg.norm(V[idx] - centre, axis=1).mean())
        eyes[side] = (u0, v0, _EYE_BLOCK, centre, radius)
        fm = np.flatnonzero((parts[F] == names.index(side)).all(1))
        corners = V[F[fm]].reshape(-1, 3)
        block = np.c_[u0 + _EYE_BLOCK * (0.5 + (corners[:, 0] - centre[0]) / (2 * _EYE_MARGIN * radius)),
                      v0 + _EYE_BLOCK * (0.5 + (corners[:, 1] - centre[1]) / (2 * _EYE_MARGIN * radius))]
        uv.append(block)
        fuv[fm] = n_uv + np.arange(3 * len(fm)).reshape(-1, 3)
        n_uv += len(block)
    uv_all = np.concatenate(uv)
    px = np.c_[uv_all[:, 0] * S - 0.5, (1.0 - uv_all[:, 1]) * S - 0.5, np.zeros(len(uv_all))]
    frags = rasterize(px, fuv, (S, S))
    covered = frags.mask
    normals = vertex_normals(V, F)
    # per-corner attributes, interpolated in texture space
    corner = lambda x: x[F].reshape(len(F) * 3, -1)  # noqa: E731
    cidx = np.arange(len(F) * 3).reshape(-1, 3)
    pos = frags.interpolate(corner(V), cidx)
    nrm = frags.interpolate(corner(normals), cidx)
    lip = frags.interpolate(corner(a["lip_mask"].astype(np.float64)[:, None]), cidx)[..., 0]
    _, (ii, jj) = ndimage.distance_transform_edt(~covered, return_indices=True)
    fid = frags.face_id[ii, jj]
    pos, nrm, lip = pos[ii, jj], nrm[ii, jj], lip[ii, jj]
    nrm /= np.maximum(np.linalg.norm(nrm, axis=-1, keepdims=True), 1e-12)
    part = parts[F[fid, 0]].astype(np.int8)
    front = covered & (pos[..., 2] > 0.0) & (part == names.index("skin"))
    step = np.linalg.norm(np.diff(pos, axis=0), axis=-1)[:, :-1]
    ok = front[1:, :-1] & front[:-1, :-1]
    texel_mm = float(np.median(step[ok]) * 1e3) if ok.any() else 1.0
    return Atlas(S, uv_all, fuv.astype(np.int32), pos.astype(np.float32), nrm.astype(np.float32),
                 part, np.clip(lip, 0, 1).astype(np.float32), names, texel_mm, eyes)


# ----------------------------------------------------------------------------- painting
def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _noise(rng: np.random.Generator, S: int, sigma_texels: float) -> np.ndarray:
    """Unit-variance band-limited noise (white noise blurred by a Gaussian of ``sigma``)."""
    import cv2

    n = rng.standard_normal((S, S), dtype=np.float32)
    if sigma_texels > 0.3:
        n = cv2.GaussianBlur(n, (0, 0), float(sigma_texels), borderType=cv2.BORDER_REFLECT)
    return n / max(float(n.std()), 1e-12)


def _polyline_distance(points: np.ndarray, line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance of ``points`` (N, D) to a polyline (M, D) and the arc parameter in [0, 1]."""
    best = np.full(len(points), np.inf)
    par = np.zeros(len(points))
    for i in range(len(line) - 1):
        a, b = line[i], line[i + 1]
        ab = b - a
        t = np.clip((points - a) @ ab / float(ab @ ab), 0.0, 1.0)
        d = np.linalg.norm(points - (a + t[:, None] * ab), axis=1)
        closer = d < best
        best = np.where(closer, d, best)
        par = np.where(closer, (i + t) / (len(line) - 1), par)
    return best, par


def _brow_lines() -> tuple[np.ndarray, np.ndarray]:
    """Template iBUG brow points 17-21 (subject's right) and 22-26 (left), inner end first."""
    import torch

    model = _default_model()
    with torch.no_grad():
        lm = model.landmarks(model.v_template[None], "ibug68")[0].cpu().numpy().astype(np.float64)
    return lm[21:16:-1], lm[22:27]


def paint_albedo(atlas: Atlas, look: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """Paint one subject's albedo texture.

    Parameters
    ----------
    atlas : Atlas
    look : dict
        Colours and strengths (see :func:`generate_subject`): ``skin, hair, brow, iris, lip``
        (RGB), ``pores, mottle, freckles, blush, orbital, brow_width_mm, hairline_m``.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (S, S, 3), uint8
    """
    import cv2

    S = atlas.size
    tpm = 1.0 / atlas.texel_mm  # texels per millimetre
    P = atlas.position
    x, y, z = P[..., 0], P[..., 1], P[..., 2]
    part = atlas.part
    pid = {n: i for i, n in enumerate(atlas.part_names)}
    skin = part == pid["skin"]
    face = (z > -0.03).astype(np.float32)
    tex = np.empty((S, S, 3), np.float32)
    tex[:] = np.asarray(look["skin"], np.float32)

    def blob(cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
        return np.exp(-0.5 * (((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2)) * face

    # regional colour: redder cheeks and nose tip, darker eye sockets, brow ridge shadow
    red = (blob(0.042, -0.035, 0.016, 0.014) + blob(-0.042, -0.035, 0.016, 0.014)
           + 0.8 * blob(0.0, -0.040, 0.009, 0.010))
    tex *= 1.0 + look["blush"] * red[..., None] * np.array([0.04, -0.10, -0.10], np.float32)
    orb = blob(0.032, 0.002, 0.017, 0.012) + blob(-0.032, 0.002, 0.017, 0.012)
    tex *= 1.0 - look["orbital"] * np.minimum(orb, 1.0)[..., None] * np.array([0.8, 1.0, 1.05], np.float32)
    # nostrils and the mouth cavity: surfaces facing down/back under the nose, inside the lips
    nostril = (blob(0.0, -0.045, 0.016, 0.008) > 0.3) & (atlas.normal[..., 1] < -0.55)
    inward = ((P - np.array([0.0, -0.07, -0.01], np.float32)) * atlas.normal).sum(-1) < 0
    cavity = ((np.abs(x) < 0.032) & (y < -0.045) & (y > -0.095) & (z < 0.016) & inward
              & (atlas.lip < 0.05))
    # skin texture: pores (fine), small blotches, mottling (coarse), freckles
    lum = (1.0 + look["pores"] * (0.7 * _noise(rng, S, 0.25 * tpm) + 0.5 * _noise(rng, S, 0.8 * tpm))
           + look["mottle"] * _noise(rng, S, 5.0 * tpm))
    tex *= lum[..., None]
    n_freckles = int(look["freckles"] * skin.sum() / 400)
    if n_freckles:
        cand = np.flatnonzero((skin & (z > 0.0)).ravel())
        pick = cand[rng.integers(0, len(cand), n_freckles)]
        spots = np.zeros(S * S, np.float32)
        np.add.at(spots, pick, rng.uniform(0.3, 1.0, n_freckles).astype(np.float32))
        sig = 0.45 * tpm
        spots = cv2.GaussianBlur(spots.reshape(S, S), (0, 0), max(sig, 0.5)) * (2 * np.pi * max(sig, 0.5) ** 2)
        tex *= 1.0 - 0.35 * np.minimum(spots, 1.0)[..., None] * np.array([0.8, 1.0, 1.15], np.float32)
    # lips
    lip = cv2.GaussianBlur(atlas.lip, (0, 0), max(0.6 * tpm, 0.5))[..., None]
    lip_col = np.asarray(look["lip"], np.float32) * (1.0 + 0.06 * _noise(rng, S, 0.5 * tpm))[..., None]
    tex = tex * (1.0 - lip) + lip * lip_col
    tex[nostril] *= 0.55
    tex[cavity & skin] = np.array([0.30, 0.10, 0.10], np.float32)
    # brows: bands below the brow landmarks (iBUG puts them on the upper edge), tapered outward
    strands = 0.7 + 0.3 * _noise(rng, S, 0.3 * tpm)
    # (distances in the frontal x-y plane, so that the band follows the brow ridge)
    region = np.flatnonzero((skin & (z > -0.02) & (y > -0.005) & (y < 0.05)
                             & (atlas.normal[..., 2] > 0.2)).ravel())
    pts = P.reshape(-1, 3)[region, :2].astype(np.float64)
    width = look["brow_width_mm"] * 1e-3
    dens = np.zeros(len(region))
    for line in _brow_lines():  # top edge ~1 mm above the landmarks, tapering outward
        d, s = _polyline_distance(pts, line[:, :2] - np.array([0.0, 0.5 * width - 0.001]))
        half = 0.5 * width * (1.0 - 0.5 * s)
        dens = np.maximum(dens, _smoothstep((1.0 - d / half) / 0.4) * (1.0 - 0.25 * s))
    flat = tex.reshape(-1, 3)
    w = (dens * strands.ravel()[region])[:, None].astype(np.float32) * look["brow_density"]
    flat[region] = flat[region] * (1.0 - w) + w * np.asarray(look["brow"], np.float32)
    # scalp hair above a hairline that drops toward the back of the head
    line_y = look["hairline_m"] - 0.55 * np.maximum(0.0, 0.02 - z) + 0.003 * _noise(rng, S, 4.0 * tpm)
    hair = _smoothstep((y - line_y) / 0.005 + 0.5) * skin
    hair_col = np.asarray(look["hair"], np.float32) * (1.0 + 0.25 * _noise(rng, S, 0.4 * tpm))[..., None]
    tex = tex * (1.0 - hair[..., None]) + hair[..., None] * hair_col
    # other parts
    for side in ("lashes_left", "lashes_right"):
        tex[part == pid[side]] = 0.5 * np.asarray(look["hair"], np.float32) + 0.25 * np.asarray(look["skin"], np.float32)
    tex[(part == pid["teeth_upper"]) | (part == pid["teeth_lower"])] = (0.86, 0.83, 0.76)
    tex[part == pid["tongue"]] = (0.55, 0.25, 0.25)
    _paint_eyes(tex, atlas, look, rng)
    return (np.clip(tex, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _paint_eyes(tex: np.ndarray, atlas: Atlas, look: dict[str, Any], rng: np.random.Generator) -> None:
    S = atlas.size
    iris_r = np.sin(np.radians(look["iris_deg"]))
    pupil_r = np.sin(np.radians(look["pupil_deg"]))
    iris = np.asarray(look["iris"], np.float32)
    sclera = np.asarray(look["sclera"], np.float32)
    for u0, v0, block, _, _ in atlas.eyes.values():
        c0, c1 = int(np.floor(u0 * S)), int(np.ceil((u0 + block) * S))
        r0, r1 = int(np.floor((1 - v0 - block) * S)), int(np.ceil((1 - v0) * S))
        cols = (np.arange(c0, c1) + 0.5) / S
        rows = 1.0 - (np.arange(r0, r1) + 0.5) / S
        dx = ((cols - u0) / block - 0.5) * 2 * _EYE_MARGIN
        dy = ((rows - v0) / block - 0.5) * 2 * _EYE_MARGIN
        rho = np.hypot(dx[None, :], dy[:, None])
        ang = np.arctan2(dy[:, None], dx[None, :])
        edge = 0.02
        fiber = 1.0 + 0.18 * np.sin(ang * rng.integers(20, 34) + rng.uniform(0, 6.3)) * (rho / iris_r)
        ring = _smoothstep((rho - 0.85 * iris_r) / (0.15 * iris_r))  # darker limbal ring
        iris_col = iris[None, None] * (fiber * (1.0 - 0.45 * ring))[..., None]
        w_iris = _smoothstep((iris_r - rho) / edge)[..., None]
        w_pupil = _smoothstep((pupil_r - rho) / edge)[..., None]
        vein = np.clip(rho - 0.5, 0.0, 1.0)[..., None] * np.array([0.0, 0.12, 0.12], np.float32)
        col = sclera * (1.0 - vein)
        col = col * (1.0 - w_iris) + w_iris * iris_col
        col = col * (1.0 - w_pupil) + w_pupil * np.array([0.02, 0.02, 0.025], np.float32)
        tex[r0:r1, c0:c1] = col.astype(np.float32)


# ----------------------------------------------------------------------------- subjects
@dataclass(frozen=True, eq=False)
class SynthSubject:
    """A synthetic subject: identity, painted albedo, lighting, camera and sensor.

    Attributes
    ----------
    index : int
        Subject number (1-based; the dataset writes it as its subject id).
    seed : int
        Seed the subject was drawn from.
    identity : ndarray, shape (K,), float32
        Identity coefficients of ``mh-head``.
    texture : ndarray, shape (S, S, 3), uint8, or None
        Albedo in the atlas (``uv``, ``faces_uv``); None until :meth:`painted` when the
        subject was drawn with ``paint=False``.
    uv, faces_uv : ndarray
        Texture coordinates for :func:`mxkit.render.render`.
    light : mxkit.render.Light
    background : tuple of 3 floats
        Background RGB in [0, 1].
    camera : mxkit.render.Camera
        Frontal perspective camera of the recordings.
    noise_sigma : float
        Gaussian sensor noise, in 8-bit grey levels.
    blur_sigma : float
        Optical blur, pixels.
    look : dict
        The appearance parameters (colours, strengths), for reference.
    """

    index: int
    seed: int
    identity: np.ndarray
    texture: np.ndarray | None
    uv: np.ndarray
    faces_uv: np.ndarray
    light: Light
    background: tuple[float, float, float]
    camera: Camera
    noise_sigma: float
    blur_sigma: float
    look: dict[str, Any]
    texture_size: int = 1024

    def painted(self) -> SynthSubject:
        """This subject with its albedo texture painted (itself if it already has one)."""
        if self.texture is not None:
            return self
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 7002]))
        tex = paint_albedo(build_atlas(self.texture_size), self.look, rng)
        return dataclasses.replace(self, texture=tex)

    def describe(self) -> dict[str, Any]:
        """JSON-compatible parameters (no arrays except the identity as a list)."""
        lt = self.light
        return {"index": self.index, "seed": self.seed,
                "identity": [float(v) for v in self.identity],
                "light": {"direction": list(lt.direction), "ambient": lt.ambient,
                          "diffuse": lt.diffuse, "specular": lt.specular,
                          "shininess": lt.shininess, "color": list(lt.color)},
                "background": list(self.background), "noise_sigma": self.noise_sigma,
                "blur_sigma": self.blur_sigma,
                "look": {k: (list(map(float, v)) if isinstance(v, (tuple, list, np.ndarray)) else v)
                         for k, v in self.look.items()},
                "texture_size": self.texture_size}

    def __repr__(self) -> str:
        return (f"SynthSubject({self.index}, seed={self.seed}, image_size={self.camera.image_size}, "
                f"texture={self.texture_size}px{'' if self.texture is not None else ' (not painted)'})")


def _mix(palette: np.ndarray, t: float) -> np.ndarray:
    pos = np.clip(t, 0.0, 1.0) * (len(palette) - 1)
    i = min(int(pos), len(palette) - 2)
    return palette[i] * (1 - (pos - i)) + palette[i + 1] * (pos - i)


def _f(x: Any) -> float:
    return round(float(x), 6)


def generate_subject(*, seed: int = 0, index: int = 1, model: FaceModel | None = None,
                     image_size: Any = 256, field_m: float = 0.25, distance_m: float = 0.8,
                     texture_size: int = 1024, identity_scale: float = 0.9,
                     paint: bool = True) -> SynthSubject:
    """Draw one synthetic subject (deterministic from ``seed``).

    Parameters
    ----------
    seed : int
        Seed of the subject's random draws.
    index : int
        Subject number (1-based).
    model : FaceModel, optional
        ``load_face_model("mh-head")`` (default; loaded once per process).
    image_size : int or (H, W)
        Frame size in pixels.
    field_m : float
        Metres shown across the smaller image side at the face (0.25 m at 256 px gives a
        ~155 px face box, as in CASME II's cropped frames; 0.29 m at 640x480 gives CASME II's
        ~280x340 px face in the raw frames).
    distance_m : float
        Camera distance from the face, metres.
    texture_size : int
        Albedo texture side, texels (1024: ~1 mm per texel on the face).
    identity_scale : float
        Scale of the identity coefficients (drawn N(0, 1), clipped at 2.5 sigma).
    paint : bool
        Paint the albedo now (False defers it to :meth:`SynthSubject.painted`; everything
        else is drawn, so a dataset can plan every clip before any texture exists).

    Returns
    -------
    SynthSubject
    """
    from ...render import Camera, Light
    from ...render.camera import check_image_size

    model = check_model(model)
    H, W = check_image_size(image_size)
    for name, v in (("field_m", field_m), ("distance_m", distance_m), ("identity_scale", identity_scale)):
        if not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0):
            raise InputValueError(f"{name} must be a positive number; got {v!r}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7001]))
    identity = (np.clip(rng.standard_normal(model.n_identity), -2.5, 2.5) * identity_scale).astype(np.float32)
    skin = _mix(SKIN_TONES, rng.beta(1.6, 1.8)) * rng.uniform(0.97, 1.03, 3)
    hair = _mix(HAIR_COLOURS, rng.beta(1.2, 2.5))
    look: dict[str, Any] = {
        "skin": tuple(_f(v) for v in np.clip(skin, 0, 1)),
        "hair": tuple(_f(v) for v in hair),
        "brow": tuple(_f(v) for v in np.minimum(hair * 1.15 + 0.1 * skin, skin * 0.6)),
        "lip": tuple(_f(v) for v in skin * np.array([0.82, 0.56, 0.56]) * rng.uniform(0.9, 1.05)),
        "iris": tuple(_f(v) for v in _mix(IRIS_COLOURS, rng.beta(1.0, 2.2))),
        "sclera": tuple(_f(v) for v in np.array([0.90, 0.88, 0.85]) * rng.uniform(0.92, 1.02)),
        "iris_deg": _f(rng.uniform(26.0, 30.0)), "pupil_deg": _f(rng.uniform(9.0, 12.0)),
        "pores": _f(rng.uniform(0.025, 0.045)), "mottle": _f(rng.uniform(0.01, 0.025)),
        "freckles": _f(rng.choice([0.0, 0.3, 1.0, 2.5], p=[0.35, 0.3, 0.2, 0.15]) * rng.uniform(0.5, 1.5)),
        "blush": _f(rng.uniform(0.3, 1.0)), "orbital": _f(rng.uniform(0.08, 0.18)),
        "brow_width_mm": _f(rng.uniform(8.0, 11.0)), "brow_density": _f(rng.uniform(0.8, 0.95)),
        "hairline_m": _f(rng.uniform(0.068, 0.085)),
    }
    atlas = build_atlas(int(texture_size))
    ambient = rng.uniform(0.30, 0.42)
    light = Light(direction=(_f(rng.uniform(-0.35, 0.35)), _f(rng.uniform(0.1, 0.5)), 1.0),
                  ambient=_f(ambient), diffuse=_f(1.0 - ambient + rng.uniform(-0.03, 0.05)),
                  specular=_f(rng.uniform(0.02, 0.08)), shininess=_f(rng.uniform(15, 40)),
                  color=tuple(_f(v) for v in rng.uniform(0.96, 1.04, 3)))
    grey = rng.uniform(0.35, 0.8)
    background = tuple(_f(v) for v in np.clip(grey * rng.uniform(0.95, 1.05, 3), 0, 1))
    target = np.array([rng.uniform(-0.004, 0.004), -0.03 + rng.uniform(-0.004, 0.004), 0.0])
    d = distance_m * rng.uniform(0.97, 1.03)
    az, el = np.radians(rng.uniform(-2.0, 2.0)), np.radians(rng.uniform(-2.0, 2.0))
    eye = target + d * np.array([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)])
    fov = float(np.degrees(2 * np.arctan(field_m / (2 * d))))
    camera = Camera.look_at((H, W), eye=eye, target=target, fov_deg=fov)
    subject = SynthSubject(index=int(index), seed=int(seed), identity=identity, texture=None,
                           uv=atlas.uv, faces_uv=atlas.faces_uv, light=light,
                           background=background, camera=camera,
                           noise_sigma=_f(rng.uniform(0.8, 2.0)),
                           blur_sigma=_f(rng.uniform(0.4, 0.6)), look=look,
                           texture_size=int(texture_size))
    return subject.painted() if paint else subject
