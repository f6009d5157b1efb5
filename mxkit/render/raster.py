"""Fast, deterministic CPU z-buffer rasterizer and shader (numba), for bulk synthesis.

This renderer is **not differentiable**; see :mod:`mxkit.render.diff` for the pytorch3d
soft rasterizer. Conventions are those of :mod:`mxkit.render.camera`: model space in metres
(+x subject's left, +y up, +z toward a frontal camera), OpenCV camera frame, pixel (row r,
col c) centred at ``(u, v) = (c, r)``, depth = camera-frame z in metres. Faces are
counter-clockwise seen from outside the mesh (their right-hand normal points outward), so a
face is *front-facing* when it appears counter-clockwise on screen.

numba is imported on first use (importing :mod:`mxkit.render` stays light); the first call in
a fresh environment compiles the kernels (a few seconds, then cached on disk). Call
:func:`warmup` to pay that cost up front.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_finite, check_shape
from ..errors import InputValueError, ShapeError
from ..geometry import vertex_normals as _vertex_normals
from .camera import Camera, check_image_size

__all__ = [
    "Fragments",
    "Light",
    "RenderResult",
    "rasterize",
    "render",
    "render_batch",
    "vertex_normals",
    "warmup",
]

_DEFAULT_ALBEDO = (0.8, 0.8, 0.8)
#: Triangles with a vertex closer than this (metres) to a perspective camera are skipped.
_NEAR = 1e-4


def _kernels():
    from . import _kernels as k  # numba is imported here, never at package import

    return k


# ---------------------------------------------------------------------------- containers
@dataclass(frozen=True, eq=False)
class Fragments:
    """What a rasterization leaves in each pixel (nearest surface only).

    Attributes
    ----------
    depth : ndarray, shape (..., H, W), float32
        Camera-frame depth in metres (or the input depth units of :func:`rasterize`);
        ``+inf`` on the background.
    face_id : ndarray, shape (..., H, W), int32
        Index of the visible face; ``-1`` on the background.
    bary : ndarray, shape (..., H, W, 3), float32
        Barycentric weights of the face's three vertices (in face order) at the pixel centre,
        perspective-correct when requested; zeros on the background.
    """

    depth: np.ndarray
    face_id: np.ndarray
    bary: np.ndarray

    def __post_init__(self) -> None:
        shape = self.depth.shape
        if len(shape) < 2 or self.face_id.shape != shape or self.bary.shape != shape + (3,):
            raise ShapeError(
                f"Fragments: depth {self.depth.shape}, face_id {self.face_id.shape} and bary "
                f"{self.bary.shape} must be (..., H, W), (..., H, W) and (..., H, W, 3)"
            )

    @property
    def mask(self) -> np.ndarray:
        """Covered pixels, shape (..., H, W), bool."""
        return self.face_id >= 0

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)`` in pixels."""
        return int(self.depth.shape[-2]), int(self.depth.shape[-1])

    def interpolate(self, attributes: Any, faces: Any) -> np.ndarray:
        """Interpolate per-vertex attributes at every pixel with the stored barycentrics.

        Parameters
        ----------
        attributes : array, shape (V, C) or (V,)
            One value (or row) per vertex.
        faces : array, shape (F, 3), int
            The faces that were rasterized.

        Returns
        -------
        ndarray, shape (..., H, W, C) or (..., H, W), float64
            Interpolated values; zero on the background.
        """
        attr = np.asarray(attributes, dtype=np.float64)
        squeeze = attr.ndim == 1
        if squeeze:
            attr = attr[:, None]
        check_shape(attr, ("V", "C"), "attributes")
        faces = _faces(faces, attr.shape[0])
        fid = self.face_id
        idx = faces[np.maximum(fid, 0)]  # (..., H, W, 3)
        vals = attr[idx]  # (..., H, W, 3, C)
        out = np.einsum("...k,...kc->...c", self.bary.astype(np.float64), vals)
        out[fid < 0] = 0.0
        return out[..., 0] if squeeze else out


@dataclass(frozen=True)
class Light:
    """One directional light plus ambient light; Phong specular is optional.

    Colour = albedo * (ambient + diffuse * max(n.l, 0)) * color
    + specular * max(r.v, 0) ** shininess * color, clipped to [0, 1], with ``n`` the
    interpolated unit normal, ``l`` the unit direction *toward* the light, ``r`` the
    reflection of ``l`` about ``n`` and ``v`` the unit direction toward the camera.

    Parameters
    ----------
    direction : tuple of 3 floats
        Direction toward the light in **model space** (normalised internally). The default
        lights the face from the front and slightly above.
    ambient, diffuse, specular : float
        Non-negative weights.
    shininess : float
        Phong exponent (> 0).
    color : tuple of 3 floats
        Non-negative RGB colour of the light.

    Examples
    --------
    >>> Light(direction=(0, 0, 1), ambient=1.0, diffuse=0.0)  # unlit: pure albedo
    Light(direction=(0.0, 0.0, 1.0), ambient=1.0, diffuse=0.0, specular=0.0, shininess=32.0, color=(1.0, 1.0, 1.0))
    """

    direction: tuple[float, float, float] = (0.0, 0.3, 1.0)
    ambient: float = 0.35
    diffuse: float = 0.65
    specular: float = 0.0
    shininess: float = 32.0
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        d = np.asarray(self.direction, dtype=np.float64)
        check_shape(d, (3,), "Light.direction")
        check_finite(d, "Light.direction")
        if not np.linalg.norm(d) > 0:
            raise InputValueError("Light.direction must be a non-zero vector")
        c = np.asarray(self.color, dtype=np.float64)
        check_shape(c, (3,), "Light.color")
        check_finite(c, "Light.color")
        if (c < 0).any():
            raise InputValueError(f"Light.color must be non-negative; got {self.color}")
        object.__setattr__(self, "direction", tuple(float(x) for x in d))
        object.__setattr__(self, "color", tuple(float(x) for x in c))
        for name in ("ambient", "diffuse", "specular", "shininess"):
            v = float(getattr(self, name))
            if not (np.isfinite(v) and v >= 0) or (name == "shininess" and v == 0):
                raise InputValueError(f"Light.{name} must be a finite number >= 0 (> 0 for "
                                      f"shininess); got {getattr(self, name)!r}")
            object.__setattr__(self, name, v)

    def _arrays(self) -> tuple[np.ndarray, ...]:
        d = np.asarray(self.direction)
        c = np.asarray(self.color)
        return (d / np.linalg.norm(d), self.ambient * c, self.diffuse * c, self.specular * c)


@dataclass(frozen=True, eq=False)
class RenderResult:
    """Output of :func:`render` (shapes as below) or :func:`render_batch` (leading ``B``).

    Attributes
    ----------
    image : ndarray, shape (..., H, W, 3), float32
        Shaded RGB in [0, 1] (background colour where nothing is drawn).
    depth : ndarray, shape (..., H, W), float32
        Camera-frame depth in metres; ``+inf`` on the background.
    face_id : ndarray, shape (..., H, W), int32
        Visible face per pixel; ``-1`` on the background.
    bary : ndarray, shape (..., H, W, 3), float32
        Perspective-correct barycentrics of the visible face at the pixel centre.
    mask : ndarray, shape (..., H, W), bool
        Pixels covered by the mesh.
    visibility : ndarray, shape (..., V), bool
        Vertex is in front of the camera, inside the image, front-facing and not occluded.
    """

    image: np.ndarray
    depth: np.ndarray
    face_id: np.ndarray
    bary: np.ndarray
    mask: np.ndarray
    visibility: np.ndarray

    @property
    def fragments(self) -> Fragments:
        """The rasterization part as :class:`Fragments`."""
        return Fragments(self.depth, self.face_id, self.bary)

    def __len__(self) -> int:
        if self.image.ndim != 4:
            raise TypeError("len() is defined for batched results from render_batch only")
        return int(self.image.shape[0])

    def __getitem__(self, index: int) -> RenderResult:
        """Frame ``index`` of a batched result (from :func:`render_batch`)."""
        if self.image.ndim != 4:
            raise TypeError("indexing is defined for batched results from render_batch only")
        return RenderResult(self.image[index], self.depth[index], self.face_id[index],
                            self.bary[index], self.mask[index], self.visibility[index])


# ---------------------------------------------------------------------------- validation
def _array(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch tensor (maybe requiring grad)
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise InputValueError(f"{name} cannot be converted to an array: {exc}") from exc


def _float_array(x: Any, name: str, spec: Sequence[Any]) -> np.ndarray:
    a = _array(x, name)
    check_shape(a, spec, name)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise InputValueError(f"{name} must hold real numbers; got dtype {a.dtype}")
    a = np.ascontiguousarray(a, dtype=np.float64)
    if not a.flags.writeable:  # numba compiles read-only arrays separately: avoid that
        a = a.copy()
    check_finite(a, name)
    return a


def _faces(faces: Any, n_vertices: int, name: str = "faces") -> np.ndarray:
    f = _array(faces, name)
    check_shape(f, ("F", 3), name)
    if f.size and not np.issubdtype(f.dtype, np.integer):
        raise InputValueError(f"{name} must hold integer vertex indices; got dtype {f.dtype}")
    if f.size and (f.min() < 0 or f.max() >= n_vertices):
        raise InputValueError(f"{name} index vertices outside [0, {n_vertices}); got range "
                              f"[{f.min()}, {f.max()}]")
    f = np.ascontiguousarray(f, dtype=np.int32)
    return f if f.flags.writeable else f.copy()


def _rgb(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        a = np.repeat(a, 3)
    check_shape(a, (3,), name)
    check_finite(a, name)
    return a


def _check_range01(a: np.ndarray, name: str) -> None:
    if a.size and (a.min() < 0.0 or a.max() > 1.0):
        raise InputValueError(f"{name} must lie in [0, 1]; got range [{a.min():.4g}, {a.max():.4g}]")


def _supersample(s: Any) -> int:
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or int(s) < 1:
        raise InputValueError(f"supersample must be an integer >= 1; got {s!r}")
    return int(s)


# ---------------------------------------------------------------------------- rasterize
def rasterize(
    vertices_px: Any,
    faces: Any,
    image_size: Any,
    *,
    perspective_correct: bool = False,
    cull_backfaces: bool = False,
    near: float | None = None,
) -> Fragments:
    """Rasterize screen-space triangles with a z-buffer (nearest depth wins).

    Parameters
    ----------
    vertices_px : array, shape (V, 3)
        Per-vertex ``[u, v, depth]``: pixel coordinates (u right, v down, pixel (r, c)
        centred at (c, r)) and depth (camera-frame z; smaller is nearer).
    faces : array, shape (F, 3), int
        Triangle vertex indices.
    image_size : (H, W) or int
        Output size in pixels.
    perspective_correct : bool
        Interpolate 1/depth linearly in screen space (correct for a perspective camera)
        instead of depth; barycentrics are corrected the same way. Needs depth > 0.
    cull_backfaces : bool
        Skip faces that appear clockwise on screen (back faces of an outward-oriented mesh).
    near : float, optional
        Skip triangles with a vertex at depth <= ``near``. Default: no limit, except
        ``0`` when ``perspective_correct``.

    Returns
    -------
    Fragments
        ``depth`` (H, W) float32 (+inf background), ``face_id`` (H, W) int32 (-1
        background) and ``bary`` (H, W, 3) float32.

    Raises
    ------
    ShapeError
        If ``vertices_px`` is not (V, 3) or ``faces`` not (F, 3).
    InputValueError
        For NaN/inf vertices, face indices out of range, non-integer faces, or a
        non-positive image size.

    Notes
    -----
    Pixels are sampled at their centres; samples exactly on a shared edge follow the
    top-left rule, so a closed surface is covered once without gaps. Ties in depth keep the
    lower face index (deterministic).

    Examples
    --------
    >>> frags = rasterize([[0, 0, 1], [4, 0, 1], [0, 4, 1]], [[0, 1, 2]], (5, 5))
    >>> frags.mask.astype(int)
    array([[1, 1, 1, 1, 0],
           [1, 1, 1, 0, 0],
           [1, 1, 0, 0, 0],
           [1, 0, 0, 0, 0],
           [0, 0, 0, 0, 0]])
    """
    H, W = check_image_size(image_size)
    verts = _float_array(vertices_px, "vertices_px", ("V", 3))
    f = _faces(faces, verts.shape[0])
    if near is None:
        near_v = 0.0 if perspective_correct else -np.inf
    else:
        near_v = float(near)
        if np.isnan(near_v):
            raise InputValueError("near must be a number")
    k = _kernels()
    depth = np.empty((H, W), np.float32)
    fid = np.empty((H, W), np.int32)
    bary = np.empty((H, W, 3), np.float32)
    k.rasterize_into(verts, f, bool(perspective_correct), near_v, bool(cull_backfaces), depth,
                     fid, bary)
    return Fragments(depth, fid, bary)


def vertex_normals(vertices: Any, faces: Any) -> np.ndarray:
    """Area-weighted unit vertex normals, float64 ndarray (V, 3) (a tensor is detached).

    :func:`mxkit.geometry.vertex_normals` (the one implementation); the renderer's compiled
    loop computes the same normals in place when :func:`render` is given none.

    Examples
    --------
    >>> n = vertex_normals([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]])
    >>> n.tolist()
    [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]
    """
    return _vertex_normals(_float_array(vertices, "vertices", ("V", 3)), faces)


# ---------------------------------------------------------------------------- render
@dataclass
class _Shading:
    """Inputs of the shading kernel that do not change from frame to frame."""

    faces: np.ndarray
    mode: int
    vcol: np.ndarray  # (V, 3) or (B, V, 3) float64, or a dummy
    uv: np.ndarray
    faces_uv: np.ndarray
    texture: np.ndarray
    const: np.ndarray
    light: tuple[np.ndarray, ...]
    shininess: float
    background: np.ndarray
    supersample: int
    cull: bool
    tol: float | None


def _prepare_shading(V: int, B: int | None, faces: Any, albedo: Any, uv: Any, faces_uv: Any,
                     texture: Any, light: Light | None, background: Any, supersample: Any,
                     cull_backfaces: bool, visibility_tol: float | None) -> _Shading:
    f = _faces(faces, V)
    light = Light() if light is None else light
    if not isinstance(light, Light):
        raise InputValueError(f"light must be a mxkit.render.Light; got {type(light).__name__}")
    bg = _rgb(background, "background")
    dummy2 = np.zeros((1, 2), np.float64)
    dummy_f = np.zeros((1, 3), np.int32)
    dummy_t = np.zeros((1, 1, 3), np.float32)
    const = np.asarray(_DEFAULT_ALBEDO, np.float64)
    vcol = np.zeros((1, 3), np.float64)
    mode = 0
    uv_a, fuv_a, tex_a = dummy2, dummy_f, dummy_t
    if texture is not None:
        if albedo is not None:
            raise InputValueError("pass either albedo or texture, not both")
        tex = _array(texture, "texture")
        check_shape(tex, ("Ht", "Wt", 3), "texture")
        if tex.size == 0:
            raise InputValueError("texture must not be empty")
        if np.issubdtype(tex.dtype, np.integer):
            if tex.dtype != np.uint8:
                raise InputValueError(f"integer textures must be uint8; got {tex.dtype}")
            tex_a = np.ascontiguousarray(tex, dtype=np.float32) / np.float32(255.0)
        else:
            tex_a = np.array(tex, dtype=np.float32, order="C")  # own, writable copy
            check_finite(tex_a, "texture")
            _check_range01(tex_a, "texture")
        if uv is None:
            raise InputValueError("a texture needs uv (and faces_uv unless uv is per vertex)")
        uv_a = _float_array(uv, "uv", ("T", 2))
        if faces_uv is None:
            if uv_a.shape[0] != V:
                raise InputValueError(f"faces_uv is required when uv has {uv_a.shape[0]} rows "
                                      f"for {V} vertices")
            fuv_a = f
        else:
            fuv_a = _faces(faces_uv, uv_a.shape[0], "faces_uv")
            if fuv_a.shape[0] != f.shape[0]:
                raise ShapeError(f"faces_uv must have shape ({f.shape[0]}, 3); got {fuv_a.shape}")
        mode = 2
    elif uv is not None or faces_uv is not None:
        raise InputValueError("uv / faces_uv are only used together with a texture")
    elif albedo is not None:
        a = _array(albedo, "albedo")
        if a.ndim <= 1:
            const = _rgb(a, "albedo")
            _check_range01(const, "albedo")
        else:
            spec: tuple[Any, ...] = (V, 3) if B is None or a.ndim == 2 else (B, V, 3)
            vcol = _float_array(a, "albedo", spec)
            _check_range01(vcol, "albedo")
            mode = 1
    if visibility_tol is not None:
        visibility_tol = float(visibility_tol)
        if not (np.isfinite(visibility_tol) and visibility_tol >= 0):
            raise InputValueError(f"visibility_tol must be >= 0; got {visibility_tol!r}")
    return _Shading(f, mode, vcol, uv_a, fuv_a, tex_a, const, light._arrays(), light.shininess,
                    bg, _supersample(supersample), bool(cull_backfaces), visibility_tol)


def _project_px(verts: np.ndarray, camera: Camera) -> np.ndarray:
    """(V, 3) [u, v, depth] for the rasterizer."""
    pc = verts @ camera.R.T + camera.t
    out = np.empty_like(pc)
    z = pc[:, 2]
    if camera.projection == "perspective":
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / z
        out[:, 0] = camera.fx * pc[:, 0] * inv + camera.cx
        out[:, 1] = camera.fy * pc[:, 1] * inv + camera.cy
    else:
        out[:, 0] = camera.fx * pc[:, 0] + camera.cx
        out[:, 1] = camera.fy * pc[:, 1] + camera.cy
    out[:, 2] = z
    return out


def _render_into(k: Any, verts: np.ndarray, normals: np.ndarray | None, vcol: np.ndarray,
                 camera: Camera, sh: _Shading, image: np.ndarray, depth: np.ndarray,
                 fid: np.ndarray, bary: np.ndarray, vis: np.ndarray) -> None:
    """Render one frame into preallocated output views (runs without the GIL mostly)."""
    H, W = camera.image_size
    persp = camera.projection == "perspective"
    near = _NEAR if persp else -np.inf
    px = _project_px(verts, camera)
    if normals is None:
        normals = np.empty_like(verts)
        k.vertex_normals_into(verts, sh.faces, normals)
    cam = camera.center if persp else -camera.forward
    ldir, amb, dif, spe = sh.light
    k.rasterize_into(px, sh.faces, persp, near, sh.cull, depth, fid, bary)
    s = sh.supersample
    if s == 1:
        k.shade_into(fid, bary, sh.faces, verts, normals, sh.mode, vcol, sh.uv, sh.faces_uv,
                     sh.texture, sh.const, ldir, amb, dif, spe, sh.shininess, not persp, cam,
                     sh.background, image)
    else:
        px_s = px.copy()
        px_s[:, :2] = (px[:, :2] + 0.5) * s - 0.5
        d_s = np.empty((H * s, W * s), np.float32)
        f_s = np.empty((H * s, W * s), np.int32)
        b_s = np.empty((H * s, W * s, 3), np.float32)
        img_s = np.empty((H * s, W * s, 3), np.float32)
        k.rasterize_into(px_s, sh.faces, persp, near, sh.cull, d_s, f_s, b_s)
        k.shade_into(f_s, b_s, sh.faces, verts, normals, sh.mode, vcol, sh.uv, sh.faces_uv,
                     sh.texture, sh.const, ldir, amb, dif, spe, sh.shininess, not persp, cam,
                     sh.background, img_s)
        k.downsample_into(img_s, s, image)
    tol = sh.tol
    if tol is None:
        tol = 0.01 * float(np.linalg.norm(np.ptp(verts, axis=0))) if len(verts) else 0.0
    k.visibility_into(px, verts, normals, sh.faces, depth, fid, near, not persp, cam, tol, vis)


def render(
    vertices: Any,
    faces: Any,
    camera: Camera,
    *,
    albedo: Any = None,
    normals: Any = None,
    uv: Any = None,
    faces_uv: Any = None,
    texture: Any = None,
    light: Light | None = None,
    background: Any = 0.0,
    supersample: int = 1,
    cull_backfaces: bool = True,
    visibility_tol: float | None = None,
) -> RenderResult:
    """Render a shaded image, depth, face ids and vertex visibility of one mesh (CPU, numba).

    Parameters
    ----------
    vertices : array, shape (V, 3)
        Model-space positions in metres (numpy, or a CPU/GPU tensor, which is detached).
    faces : array, shape (F, 3), int
        Triangles, counter-clockwise seen from outside.
    camera : Camera
        Gives the image size ``(H, W)`` and the projection.
    albedo : array, shape (V, 3) or (3,), optional
        Per-vertex (or uniform) RGB in [0, 1]; default a uniform light grey (0.8).
    normals : array, shape (V, 3), optional
        Model-space unit vertex normals; default :func:`vertex_normals`.
    uv : array, shape (T, 2), optional
        Texture coordinates (u right, v up, in [0, 1]) for ``texture``.
    faces_uv : array, shape (F, 3), int, optional
        Per-corner indices into ``uv``; may be omitted when ``uv`` has one row per vertex.
    texture : array, shape (Ht, Wt, 3), optional
        Albedo image (row 0 at the top), float in [0, 1] or uint8, sampled bilinearly per
        pixel with perspective-correct UVs. Excludes ``albedo``.
    light : Light, optional
        Default ``Light()``: ambient 0.35 + Lambert 0.65 from the front and slightly above.
    background : float or array of shape (3,)
        Background RGB.
    supersample : int
        Shade ``supersample**2`` samples per pixel and box-filter them (anti-aliasing of the
        image only; depth, face ids, barycentrics and mask are sampled at pixel centres).
    cull_backfaces : bool
        Skip faces seen from behind.
    visibility_tol : float, optional
        Depth tolerance (metres) of the occlusion test; default 1 % of the mesh's bounding
        box diagonal.

    Returns
    -------
    RenderResult
        ``image`` (H, W, 3) float32 in [0, 1]; ``depth`` (H, W) float32 metres (+inf
        background); ``face_id`` (H, W) int32 (-1 background); ``bary`` (H, W, 3) float32;
        ``mask`` (H, W) bool; ``visibility`` (V,) bool.

    Raises
    ------
    ShapeError
        On wrongly shaped inputs.
    InputValueError
        For NaN/inf vertices, face indices out of range, colours outside [0, 1], both
        ``albedo`` and ``texture``, or a bad ``supersample``.

    Notes
    -----
    Triangles with a vertex closer than 0.1 mm to (or behind) a perspective camera are not
    drawn (no near-plane clipping). Shading is evaluated per pixel with interpolated
    normals (Phong shading). A vertex is visible when its normal faces the camera and its
    nearest pixel shows a face that uses the vertex, or a surface no nearer than the
    vertex's depth minus ``visibility_tol``.

    Examples
    --------
    >>> from mxkit.render import icosphere
    >>> v, f = icosphere(2, radius=0.1)
    >>> out = render(v, f, Camera.frontal((64, 64)))
    >>> out.image.shape, int(out.mask.sum()) > 0, float(out.visibility.mean()) < 0.6
    ((64, 64, 3), True, True)
    """
    if not isinstance(camera, Camera):
        raise InputValueError(f"camera must be a mxkit.render.Camera; got {type(camera).__name__}")
    verts = _float_array(vertices, "vertices", ("V", 3))
    V = verts.shape[0]
    sh = _prepare_shading(V, None, faces, albedo, uv, faces_uv, texture, light, background,
                          supersample, cull_backfaces, visibility_tol)
    nrm = None if normals is None else _float_array(normals, "normals", (V, 3))
    H, W = camera.image_size
    image = np.empty((H, W, 3), np.float32)
    depth = np.empty((H, W), np.float32)
    fid = np.empty((H, W), np.int32)
    bary = np.empty((H, W, 3), np.float32)
    vis = np.empty(V, np.bool_)
    _render_into(_kernels(), verts, nrm, sh.vcol, camera, sh, image, depth, fid, bary, vis)
    return RenderResult(image, depth, fid, bary, fid >= 0, vis)


def _n_workers(workers: int | None, B: int) -> int:
    if workers is None:
        try:
            n = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            n = os.cpu_count() or 1
    else:
        if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
            raise InputValueError(f"workers must be a positive integer; got {workers!r}")
        n = int(workers)
    return max(1, min(n, B))


def render_batch(
    vertices: Any,
    faces: Any,
    camera: Camera | Sequence[Camera],
    *,
    albedo: Any = None,
    normals: Any = None,
    uv: Any = None,
    faces_uv: Any = None,
    texture: Any = None,
    light: Light | None = None,
    background: Any = 0.0,
    supersample: int = 1,
    cull_backfaces: bool = True,
    visibility_tol: float | None = None,
    workers: int | None = None,
) -> RenderResult:
    """Render many frames of one mesh topology, in parallel threads (the kernels drop the GIL).

    Same as calling :func:`render` per frame, but validates once and runs frames on
    ``workers`` threads.

    Parameters
    ----------
    vertices : array, shape (B, V, 3)
        Model-space positions per frame, metres.
    faces : array, shape (F, 3), int
        Shared triangles.
    camera : Camera or sequence of B Cameras
        One camera for all frames, or one per frame (all with the same image size).
    albedo : array, shape (V, 3), (B, V, 3) or (3,), optional
        Shared or per-frame per-vertex RGB in [0, 1].
    normals : array, shape (B, V, 3), optional
        Per-frame vertex normals; default computed per frame.
    uv, faces_uv, texture, light, background, supersample, cull_backfaces, visibility_tol
        As in :func:`render` (shared by all frames).
    workers : int, optional
        Threads; default the number of usable CPU cores (at most B).

    Returns
    -------
    RenderResult
        Fields gain a leading batch axis: ``image`` (B, H, W, 3), ``depth`` (B, H, W), ...,
        ``visibility`` (B, V). ``result[b]`` is frame ``b``.

    Raises
    ------
    ShapeError, InputValueError
        As :func:`render`; also for a camera list of the wrong length or mixed image sizes.

    Examples
    --------
    >>> from mxkit.render import icosphere
    >>> v, f = icosphere(2, radius=0.1)
    >>> out = render_batch(np.stack([v, v + [0.02, 0, 0]]), f, Camera.frontal(32))
    >>> out.image.shape, len(out)
    ((2, 32, 32, 3), 2)
    """
    verts = _float_array(vertices, "vertices", ("B", "V", 3))
    B, V = verts.shape[:2]
    if isinstance(camera, Camera):
        cams = [camera] * B
    else:
        try:
            cams = list(camera)
        except TypeError as exc:
            raise InputValueError("camera must be a Camera or a sequence of Cameras") from exc
        if len(cams) != B:
            raise ShapeError(f"camera: expected one Camera or {B} cameras; got {len(cams)}")
        for c in cams:
            if not isinstance(c, Camera):
                raise InputValueError(f"camera entries must be Cameras; got {type(c).__name__}")
        if len({c.image_size for c in cams}) > 1:
            raise InputValueError("all cameras of a batch must share one image size")
    sh = _prepare_shading(V, B, faces, albedo, uv, faces_uv, texture, light, background,
                          supersample, cull_backfaces, visibility_tol)
    nrm = None if normals is None else _float_array(normals, "normals", (B, V, 3))
    if not cams:
        raise InputValueError("render_batch needs at least one frame")
    H, W = cams[0].image_size
    image = np.empty((B, H, W, 3), np.float32)
    depth = np.empty((B, H, W), np.float32)
    fid = np.empty((B, H, W), np.int32)
    bary = np.empty((B, H, W, 3), np.float32)
    vis = np.empty((B, V), np.bool_)
    k = _kernels()
    per_frame_color = sh.vcol.ndim == 3

    def one(b: int) -> None:
        _render_into(k, verts[b], None if nrm is None else nrm[b],
                     sh.vcol[b] if per_frame_color else sh.vcol, cams[b], sh,
                     image[b], depth[b], fid[b], bary[b], vis[b])

    n = _n_workers(workers, B)
    if n <= 1:
        for b in range(B):
            one(b)
    else:
        with ThreadPoolExecutor(max_workers=n) as pool:
            for fut in [pool.submit(one, b) for b in range(B)]:
                fut.result()
    return RenderResult(image, depth, fid, bary, fid >= 0, vis)


def warmup() -> None:
    """Compile (or load from numba's on-disk cache) every rasterizer kernel now.

    The first call in a fresh environment takes a few seconds; later processes load the
    cached machine code in well under a second.
    """
    from ._meshes import icosphere

    v, f = icosphere(1, radius=0.1)
    cam = Camera.frontal((8, 8))
    uv = (v[:, :2] - v[:, :2].min()) / np.ptp(v[:, :2])
    render(v, f, cam, albedo=np.full((len(v), 3), 0.5), light=Light(specular=0.2))
    render(v, f, cam.resized((8, 8)), uv=uv, texture=np.full((4, 4, 3), 0.5, np.float32),
           supersample=2)
    render(v, f, Camera.frontal((8, 8), projection="orthographic"), light=Light(specular=0.2))
    rasterize(np.array([[0.0, 0.0, 1.0], [4.0, 0.0, 1.0], [0.0, 4.0, 1.0]]),
              np.array([[0, 1, 2]]), (4, 4))
