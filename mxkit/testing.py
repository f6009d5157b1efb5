"""Shared test fixtures with known answers (layer 5; used by ``tests/`` and ``benchmarks/``).

Everything here is small, deterministic and built from closed-form geometry, so a test can
assert an exact answer rather than "it ran":

* :func:`grid_mesh`, :func:`cube_mesh` — meshes whose vertex normals and triangle areas are
  known exactly (returned beside the mesh as a :class:`KnownMesh`);
* :func:`toy_face_model` — a :class:`mxkit.morph.FaceModel` on a small planar grid with random
  smooth expression and identity bases, an ``"ibug68"`` landmark embedding and region labels
  (small enough for float64 gradcheck; the AU and landmark code paths run on it);
* :func:`texture` and :func:`fourier_shift` — a smooth periodic image and its exact sub-pixel
  translation (a frame pair with a known, constant optical flow);
* :func:`tiny_clip` and :func:`tiny_clipset` — in-memory :class:`mxkit.data.Clip` objects
  (optionally drifting by a known shift per frame) and labelled clip sets;
* :func:`assert_close` — an element-wise tolerance check for arrays and tensors whose failure
  message says how many elements are off, where the worst one is and by how much.

Nothing here reads or writes files, downloads anything or touches global state.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .data import Clip, ClipSet
from .errors import InputValueError
from .morph import ARKIT_NAMES, FaceModel, LandmarkEmbedding

__all__ = [
    "KnownMesh",
    "grid_mesh",
    "cube_mesh",
    "toy_face_model",
    "texture",
    "fourier_shift",
    "tiny_clip",
    "tiny_clipset",
    "assert_close",
]


# ----------------------------------------------------------------------------- meshes
@dataclass(frozen=True)
class KnownMesh:
    """A triangle mesh with its exact vertex normals and triangle areas.

    Attributes
    ----------
    vertices : numpy.ndarray, shape (V, 3), float64
    faces : numpy.ndarray, shape (F, 3), int64
        Counter-clockwise seen from the side the normals point to.
    vertex_normals : numpy.ndarray, shape (V, 3), float64
        Unit normals, as the area-weighted mean of the adjacent face normals gives them
        (``mxkit.geometry.vertex_normals``).
    face_areas : numpy.ndarray, shape (F,), float64
    """

    vertices: np.ndarray
    faces: np.ndarray
    vertex_normals: np.ndarray
    face_areas: np.ndarray

    @property
    def n_vertices(self) -> int:
        """Number of vertices V."""
        return len(self.vertices)

    @property
    def area(self) -> float:
        """Total surface area."""
        return float(self.face_areas.sum())


def _grid_faces(n_cols: int, n_rows: int) -> np.ndarray:
    """Two triangles per cell of a row-major vertex grid, CCW seen from +z."""
    faces = []
    for r in range(n_rows - 1):
        for c in range(n_cols - 1):
            i = r * n_cols + c
            faces += [[i, i + 1, i + n_cols + 1], [i, i + n_cols + 1, i + n_cols]]
    return np.array(faces, dtype=np.int64).reshape(-1, 3)


def _count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not (math.isfinite(value) and value > 0):
        raise InputValueError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def grid_mesh(n: int = 5, *, width: float = 0.1, centred: bool = True, z: float = 0.0) -> KnownMesh:
    """A flat ``n x n`` vertex grid in the plane ``z = z``, normals ``+z``.

    Parameters
    ----------
    n : int, default 5
        Vertices per side (``n >= 2``); vertex ``r * n + c`` lies at column ``c``, row ``r``.
    width : float, default 0.1
        Side length (e.g. metres); neighbouring vertices are ``spacing = width / (n - 1)``
        apart.
    centred : bool, default True
        Centre the grid on the origin (``x, y`` in ``[-width/2, width/2]``); otherwise it spans
        ``[0, width]``.
    z : float, default 0.0
        Height of the plane.

    Returns
    -------
    KnownMesh
        ``2 (n - 1)**2`` triangles of area ``spacing**2 / 2``; every vertex normal is
        ``(0, 0, 1)``.

    Raises
    ------
    InputValueError
        If ``n < 2`` or ``width <= 0``.

    Examples
    --------
    >>> m = grid_mesh(3, width=2.0)
    >>> m.vertices.shape, m.faces.shape, m.area
    ((9, 3), (8, 3), 4.0)
    """
    n = _count(n, "n", 2)
    width = _positive(width, "width")
    xs = np.linspace(-width / 2, width / 2, n) if centred else np.linspace(0.0, width, n)
    spacing = width / (n - 1)
    X, Y = np.meshgrid(xs, xs)
    verts = np.stack([X.ravel(), Y.ravel(), np.full(n * n, float(z))], 1)
    faces = _grid_faces(n, n)
    return KnownMesh(vertices=verts, faces=faces, vertex_normals=np.tile([0.0, 0.0, 1.0], (n * n, 1)),
                     face_areas=np.full(len(faces), spacing**2 / 2))


def cube_mesh(size: float = 1.0) -> KnownMesh:
    """A cube centred on the origin, each square face split into 4 triangles about its centre.

    Parameters
    ----------
    size : float, default 1.0
        Edge length.

    Returns
    -------
    KnownMesh
        14 vertices (the 8 corners first, then the 6 face centres) and 24 outward-facing
        triangles of area ``size**2 / 4``. A corner's normal is its diagonal direction
        ``sign(x) (1, 1, 1) / sqrt(3)``; a face centre's normal is its face's axis.

    Raises
    ------
    InputValueError
        If ``size <= 0``.
    """
    h = _positive(size, "size") / 2
    corners = [np.array(c, dtype=np.float64) for c in itertools.product((-h, h), repeat=3)]
    verts = list(corners)
    faces = []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            normal = np.zeros(3)
            normal[axis] = sign
            ring = [i for i, c in enumerate(corners) if c[axis] == h * sign]
            centre = np.mean([corners[i] for i in ring], axis=0)
            u = np.cross(normal, np.eye(3)[(axis + 1) % 3])
            w = np.cross(normal, u)
            ring.sort(key=lambda i: math.atan2(np.dot(corners[i] - centre, w),
                                               np.dot(corners[i] - centre, u)))
            ci = len(verts)
            verts.append(centre)
            for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
                ccw = np.cross(verts[a] - centre, verts[b] - centre) @ normal > 0
                faces.append((ci, a, b) if ccw else (ci, b, a))
    v = np.array(verts)
    normals = np.sign(v)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return KnownMesh(vertices=v, faces=np.array(faces, dtype=np.int64), vertex_normals=normals,
                     face_areas=np.full(len(faces), size**2 / 4))


# ----------------------------------------------------------------------------- face model
def _landmark_embedding(n_faces: int, n_landmarks: int) -> LandmarkEmbedding:
    if n_landmarks == 2:  # the classic toy embedding: one point inside, one on a corner
        return LandmarkEmbedding(faces=[0, n_faces - 1], bary=[[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    faces = np.round(np.linspace(0, n_faces - 1, n_landmarks)).astype(np.int64)
    bary = np.stack([np.roll([0.2, 0.3, 0.5], k % 3) for k in range(n_landmarks)])
    return LandmarkEmbedding(faces=faces, bary=bary)


def toy_face_model(n: int = 5, *, n_identity: int = 3, expressions: Sequence[str] = ARKIT_NAMES,
                   n_landmarks: int = 2, regions: Mapping[str, Any] | None = None,
                   au_masks: Mapping[str, Any] | None = None, centred: bool = True,
                   width: float = 0.1, scale: float = 1e-3, dtype: torch.dtype = torch.float64,
                   seed: int = 0) -> FaceModel:
    """A tiny face model on an ``n x n`` planar grid (``z = 0``) with random smooth bases.

    Parameters
    ----------
    n : int, default 5
        Grid side (``n * n`` vertices, :func:`grid_mesh` triangles).
    n_identity : int, default 3
        Identity components (``0``: none).
    expressions : sequence of str, default all 52 ARKit names
        Expression names; a subset of ARKit names keeps the AU view working.
    n_landmarks : int, default 2
        Points of the ``"ibug68"`` embedding: 2 (the classic toy: face 0 at barycentric
        ``(0.2, 0.3, 0.5)`` and vertex 0 of the last face) or e.g. 68 for code that needs the
        full landmark layout (points spread over the faces in order).
    regions : mapping of str to array (V,) of bool, optional
        Region masks in label order (a vertex takes the first region that contains it, else
        ``-1``); default ``{"left": x <= 0, "right": x > 0}``.
    au_masks : mapping of str to array (V,), optional
        Soft AU-region masks.
    centred, width :
        As in :func:`grid_mesh` (default: 10 cm wide, centred on the origin).
    scale : float, default 1e-3
        Standard deviation of the basis entries (metres per unit coefficient; ``0``: zero bases).
    dtype : torch.dtype, default torch.float64
    seed : int, default 0
        Seed of the bases (the same seed gives the same model).

    Returns
    -------
    mxkit.morph.FaceModel
        Named ``"toy"``.

    Raises
    ------
    InputValueError
        If a count is out of range or a region mask has the wrong length.
    """
    n = _count(n, "n", 2)
    n_identity = _count(n_identity, "n_identity", 0)
    n_landmarks = _count(n_landmarks, "n_landmarks", 1)
    mesh = grid_mesh(n, width=width, centred=centred)
    verts, faces, V = mesh.vertices, mesh.faces, mesh.n_vertices
    rng = np.random.default_rng(seed)
    expr = rng.standard_normal((len(expressions), V, 3)) * scale
    ident = rng.standard_normal((n_identity, V, 3)) * scale
    if regions is None:
        regions = {"left": verts[:, 0] <= 0, "right": verts[:, 0] > 0}
    labels = np.full(V, -1, dtype=np.int64)
    for k, (name, mask) in enumerate(regions.items()):
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (V,):
            raise InputValueError(f"regions[{name!r}] must be a ({V},) boolean mask; got shape {mask.shape}")
        labels[(labels == -1) & mask] = k
    return FaceModel(name="toy", v_template=verts, faces=faces, expr_basis=expr, expr_names=list(expressions),
                     id_basis=ident if n_identity else None,
                     landmarks={"ibug68": _landmark_embedding(len(faces), n_landmarks)},
                     region_names=list(regions), region_labels=labels, au_masks=au_masks, dtype=dtype)


# ----------------------------------------------------------------------------- images, clips
def texture(height: int, width: int, *, seed: int = 0, sigma: float = 2.0) -> np.ndarray:
    """A smooth periodic random gray texture in ``[0.1, 0.9]``.

    Gaussian-smoothed white noise with wrap-around borders, so :func:`fourier_shift`
    translates it exactly.

    Parameters
    ----------
    height, width : int
    seed : int, default 0
    sigma : float, default 2.0
        Smoothing in pixels (larger: coarser blotches).

    Returns
    -------
    numpy.ndarray, shape (height, width), float64
    """
    from scipy import ndimage

    noise = np.random.default_rng(seed).standard_normal((_count(height, "height", 1), _count(width, "width", 1)))
    smooth = ndimage.gaussian_filter(noise, _positive(sigma, "sigma"), mode="wrap")
    return 0.1 + 0.8 * (smooth - smooth.min()) / np.ptp(smooth)


def fourier_shift(image: np.ndarray, du: float, dv: float) -> np.ndarray:
    """Translate a periodic image by ``(du, dv)`` pixels exactly: ``out(p + d) = image(p)``.

    Parameters
    ----------
    image : numpy.ndarray, shape (H, W) or (H, W, C)
    du, dv : float
        Shift right (u) and down (v) in pixels; the optical flow from ``image`` to the result
        is ``(du, dv)`` everywhere.

    Returns
    -------
    numpy.ndarray, float64, the shape of ``image``
    """
    image = np.asarray(image, dtype=np.float64)
    ky = np.fft.fftfreq(image.shape[0])[:, None]
    kx = np.fft.fftfreq(image.shape[1])[None, :]
    phase = np.exp(-2j * np.pi * (kx * du + ky * dv))
    if image.ndim == 3:
        phase = phase[..., None]
    return np.real(np.fft.ifft2(np.fft.fft2(image, axes=(0, 1)) * phase, axes=(0, 1)))


def tiny_clip(n_frames: int = 5, *, size: int = 16, shift: tuple[float, float] = (0.0, 0.0),
              dataset: str = "toyds", subject: str = "s1", clip_id: str = "c1", fps: float = 200.0,
              seed: int = 0, **labels: Any) -> Clip:
    """An in-memory clip of a textured square drifting by a known shift per frame.

    Frame ``k`` is :func:`texture` ``(size, size, seed=seed)`` translated by ``k * shift``
    (:func:`fourier_shift`), as gray RGB ``uint8``.

    Parameters
    ----------
    n_frames : int, default 5
    size : int, default 16
        Frame side in pixels.
    shift : (float, float), default (0, 0)
        Motion ``(du, dv)`` in pixels per frame (the flow from frame ``k`` to ``k + 1``).
    dataset, subject, clip_id, fps :
        As in :class:`mxkit.data.Clip`.
    seed : int, default 0
        Seed of the texture.
    **labels :
        Further :class:`mxkit.data.Clip` fields (``onset``, ``apex``, ``emotion``, ...).

    Returns
    -------
    mxkit.data.Clip
    """
    n_frames = _count(n_frames, "n_frames", 1)
    base = texture(size, size, seed=seed)
    frames = np.stack([fourier_shift(base, k * shift[0], k * shift[1]) for k in range(n_frames)])
    u8 = np.round(np.clip(frames, 0.0, 1.0) * 255).astype(np.uint8)
    return Clip(dataset=dataset, subject=subject, clip_id=clip_id,
                frames=np.repeat(u8[..., None], 3, axis=-1), fps=fps, **labels)


def tiny_clipset(emotions: Iterable[tuple[str, str]] | Mapping[str, Sequence[str]], *, dataset: str = "toyds",
                 n_frames: int = 3, size: int = 2, fps: float = 200.0, **labels: Any) -> ClipSet:
    """Labelled blank clips (zero frames), for protocol, split and table code.

    Parameters
    ----------
    emotions : iterable of (subject, emotion) pairs, or mapping subject -> emotions
        One clip per pair, named ``c0``, ``c1``, ... in order (across subjects).
    dataset : str, default "toyds"
    n_frames, size : int
        Frames per clip and their side in pixels (``(n_frames, size, size, 3)`` zeros).
    fps : float, default 200.0
    **labels :
        Further :class:`mxkit.data.Clip` fields given to every clip.

    Returns
    -------
    mxkit.data.ClipSet
    """
    if isinstance(emotions, Mapping):
        pairs = [(s, e) for s, es in emotions.items() for e in es]
    else:
        pairs = [tuple(p) for p in emotions]
    frames = np.zeros((_count(n_frames, "n_frames", 1), _count(size, "size", 1), size, 3), np.uint8)
    return ClipSet([Clip(dataset=dataset, subject=s, clip_id=f"c{i}", frames=frames, fps=fps, emotion=e, **labels)
                    for i, (s, e) in enumerate(pairs)])


# ----------------------------------------------------------------------------- comparisons
def _as_float64(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def assert_close(actual: Any, expected: Any, *, atol: float = 0.0, rtol: float = 1e-7,
                 what: str = "value", equal_nan: bool = False) -> None:
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` element-wise, readably.

    Works on numbers, sequences, numpy arrays and real torch tensors (any device, any dtype;
    compared in float64). Shapes must agree exactly (no broadcasting of ``actual``), except
    that ``expected`` may be a scalar. Infinities must match exactly.

    Parameters
    ----------
    actual, expected : array-like or torch.Tensor
    atol, rtol : float
        Absolute and relative tolerance.
    what : str, default "value"
        What is compared, for the message (``"vertex normals"``).
    equal_nan : bool, default False
        Count NaN against NaN as equal.

    Raises
    ------
    AssertionError
        Naming ``what``, the number of elements out of tolerance, the worst one's index with
        both values, their difference and the allowed difference there.
    InputValueError
        If a tolerance is negative.

    Examples
    --------
    >>> assert_close([1.0, 2.0], [1.0, 2.0 + 1e-9], atol=1e-8)
    """
    if not (atol >= 0 and rtol >= 0):
        raise InputValueError(f"atol and rtol must be >= 0; got atol={atol!r}, rtol={rtol!r}")
    a, e = _as_float64(actual), _as_float64(expected)
    if e.ndim and a.shape != e.shape:
        raise AssertionError(f"{what}: shape {a.shape} differs from the expected {e.shape}")
    e = np.broadcast_to(e, a.shape)
    with np.errstate(invalid="ignore"):
        diff = np.abs(a - e)
        bound = atol + rtol * np.abs(e)
        ok = ((diff <= bound) & np.isfinite(a) & np.isfinite(e)) | (a == e)
        excess = np.nan_to_num(diff - bound, nan=np.inf, posinf=np.inf)
    if equal_nan:
        ok |= np.isnan(a) & np.isnan(e)
    if ok.all():
        return
    bad = ~ok
    excess = np.where(bad, excess, -np.inf)
    worst = np.unravel_index(int(np.argmax(excess)), a.shape) if a.ndim else ()
    where = f" at index {tuple(int(i) for i in worst)}" if a.ndim else ""
    raise AssertionError(
        f"{what}: {int(bad.sum())} of {a.size} element(s) differ by more than "
        f"atol={atol:g} + rtol={rtol:g} * |expected|; worst{where}: actual {a[worst]:.10g}, "
        f"expected {e[worst]:.10g}, |difference| {diff[worst]:.3g} (allowed {bound[worst]:.3g})")
