"""Mesh export and import: Wavefront OBJ and Stanford PLY, and animated binary glTF 2.0
(:func:`save_glb`; self-contained HTML pages: :func:`mxkit.viz.save_html`).

Writers take vertices as they are (mxkit's model space is metres, +x toward the subject's
left, +y up, +z toward a frontal camera) and write them unscaled; most mesh viewers
(Blender, MeshLab) accept metres. Every writer is **atomic** (:func:`mxkit._io.atomic_write`:
a unique temporary file next to the target, fsync-ed, renamed over the target with
:func:`os.replace`), so a reader never sees a half-written file and an interrupted export
leaves the old file intact.

The readers are deliberately minimal, for round-trip tests and for loading meshes written
by common tools: plain ASCII OBJ (``v``, ``vt``, ``vn``, ``f``; polygons are fan
triangulated; everything else is ignored), and PLY in ASCII, binary little-endian or
binary big-endian format (``vertex`` and ``face`` elements; other elements are skipped).

Errors: wrong shapes raise :class:`~mxkit.errors.ShapeError`; NaN/inf or out-of-range
values :class:`~mxkit.errors.InputValueError`; a path that cannot be written
:class:`FileWriteError` (an :class:`~mxkit.errors.MxkitError` and an :class:`OSError`,
with the path in ``.path``); a missing, unreadable or corrupt file
:class:`~mxkit.errors.ModelFileError` naming the file and, where it applies, the line.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from ._checks import check_finite, check_option, check_shape
from ._io import atomic_write
from ._version import __version__
from .errors import FileWriteError, InputValueError, ModelFileError, ShapeError
from .geometry import vertex_normals as _vertex_normals

__all__ = [
    "MeshData",
    "FileWriteError",
    "save_obj",
    "load_obj",
    "save_ply",
    "load_ply",
    "save_glb",
    "vertex_normals",
    "apply_colormap",
]

PathLike = str | os.PathLike


class MeshData(NamedTuple):
    """A triangle mesh read by :func:`load_obj` or :func:`load_ply`.

    Fields a format cannot hold, or the file does not have, are ``None``.

    Attributes
    ----------
    vertices : ndarray, shape (V, 3)
        Positions in the file's units (float64 from OBJ; the stored dtype from PLY).
    faces : ndarray, shape (F, 3), int64
        Triangles (polygons are fan triangulated).
    uv : ndarray, shape (T, 2) or None
        OBJ texture coordinates (``vt``).
    faces_uv : ndarray, shape (F, 3), int64, or None
        Per-corner indices into ``uv`` (only when every face has them).
    normals : ndarray, shape (N, 3) or None
        OBJ normals (``vn``).
    faces_normals : ndarray, shape (F, 3), int64, or None
        Per-corner indices into ``normals`` (only when every face has them).
    colors : ndarray, shape (V, 3) or (V, 4), uint8, or None
        PLY per-vertex ``red green blue [alpha]``.
    scalars : ndarray, shape (V,) or None
        PLY per-vertex ``quality`` (as written by :func:`save_ply` with ``scalars``).
    """

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None = None
    faces_uv: np.ndarray | None = None
    normals: np.ndarray | None = None
    faces_normals: np.ndarray | None = None
    colors: np.ndarray | None = None
    scalars: np.ndarray | None = None


# ---------------------------------------------------------------------------- array checks
def _to_numpy(x: Any, name: str) -> np.ndarray:
    """NumPy view of an array-like or a (CPU or GPU, possibly grad-tracking) tensor."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise InputValueError(f"{name} cannot be converted to an array: {exc}") from exc


def _as_points(x: Any, name: str, *, n: int | None = None, width: int = 3,
               squeeze_batch: bool = False) -> np.ndarray:
    """Validate a (N, width) float array: shape, finiteness; returns a float array."""
    a = _to_numpy(x, name)
    if squeeze_batch and a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    check_shape(a, ("N" if n is None else n, width), name)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise InputValueError(f"{name} must hold real numbers; got dtype {a.dtype}")
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    check_finite(a, name)
    return a


def _as_faces(x: Any, n_vertices: int, name: str = "faces") -> np.ndarray:
    """Validate (F, 3) integer triangle indices into ``n_vertices`` vertices; returns int64."""
    a = _to_numpy(x, name)
    check_shape(a, ("F", 3), name)
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise InputValueError(f"{name} must hold integer vertex indices; got dtype {a.dtype}")
    a = a.astype(np.int64, copy=False)
    if a.size and (a.min() < 0 or a.max() >= n_vertices):
        raise InputValueError(f"{name} index vertices outside [0, {n_vertices}); got range "
                              f"[{a.min()}, {a.max()}]")
    return a


def _as_scalars(x: Any, n: int, name: str = "scalars") -> np.ndarray:
    a = _to_numpy(x, name)
    check_shape(a, (n,), name)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
            or a.dtype == bool):
        raise InputValueError(f"{name} must hold real numbers; got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    check_finite(a, name)
    return a


def vertex_normals(vertices: Any, faces: Any) -> np.ndarray:
    """Area-weighted unit vertex normals as a float64 ndarray (V, 3), also for a tensor.

    :func:`mxkit.geometry.vertex_normals` (the one implementation) on the vertices as a
    numpy array (a CPU/GPU, possibly grad-tracking tensor is detached and copied).

    Examples
    --------
    >>> v = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    >>> vertex_normals(v, np.array([[0, 1, 2]]))[0]
    array([0., 0., 1.])
    """
    return _vertex_normals(_as_points(vertices, "vertices"), faces)


# ---------------------------------------------------------------------------- colour maps
# Control points (evenly spaced) of the built-in colour maps, as RGB hex.
_COLORMAPS: dict[str, tuple[str, ...]] = {
    "viridis": ("#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962",
                "#addc30", "#fde725"),
    "magma": ("#000004", "#1d1147", "#51127c", "#832681", "#b73779", "#e75263", "#fc8961",
              "#fec488", "#fcfdbf"),
    # diverging, blue (negative) -> white -> red (positive), like plotly's "RdBu_r"
    "rdbu": ("#053061", "#2a71b2", "#6bacd1", "#c2ddec", "#f7f6f6", "#fbccb4", "#e48066",
             "#ba2832", "#67001f"),
    "gray": ("#000000", "#ffffff"),
}
_DIVERGING = {"rdbu"}


def _hex_to_rgb(color: str) -> tuple[int, int, int]:
    s = color.lstrip("#")
    if len(s) != 6:
        raise InputValueError(f"colour {color!r} is not a #rrggbb hex string")
    try:
        return int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16)
    except ValueError as exc:
        raise InputValueError(f"colour {color!r} is not a #rrggbb hex string") from exc


def apply_colormap(values: Any, colormap: str | Sequence[Any] = "viridis", *,
                   clim: tuple[float, float] | None = None) -> np.ndarray:
    """Map scalars to RGB colours (linear interpolation between control points).

    Parameters
    ----------
    values : array, shape (N,)
        Scalars (any unit), finite.
    colormap : str or sequence of colours
        ``"viridis"``, ``"magma"``, ``"rdbu"`` (diverging blue-white-red) or ``"gray"``; or
        evenly spaced control colours as ``#rrggbb`` strings or RGB triples in [0, 1].
    clim : (float, float), optional
        Values mapped to the first and last colour (clipped outside). Default: the data
        range, or ``(-m, m)`` with ``m = max|values|`` for the diverging ``"rdbu"``.

    Returns
    -------
    ndarray, shape (N, 3), uint8

    Examples
    --------
    >>> apply_colormap(np.array([0.0, 1.0]), "gray")
    array([[  0,   0,   0],
           [255, 255, 255]], dtype=uint8)
    """
    v = _as_scalars(values, len(_to_numpy(values, "values")), "values")
    if isinstance(colormap, str):
        key = check_option(colormap.lower(), tuple(_COLORMAPS), "colormap")
        anchors = np.array([_hex_to_rgb(c) for c in _COLORMAPS[key]], dtype=np.float64)
        diverging = key in _DIVERGING
    else:
        rows = [(_hex_to_rgb(c) if isinstance(c, str) else tuple(np.asarray(c, float) * 255))
                for c in colormap]
        anchors = np.array(rows, dtype=np.float64)
        if anchors.ndim != 2 or anchors.shape[1] != 3 or len(anchors) < 2:
            raise InputValueError("a custom colormap needs at least two RGB colours")
        diverging = False
    if clim is None:
        if diverging:
            m = float(np.abs(v).max()) if v.size else 1.0
            clim = (-m, m)
        else:
            clim = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    lo, hi = float(clim[0]), float(clim[1])
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi < lo:
        raise InputValueError(f"clim must be finite with clim[0] <= clim[1]; got {clim}")
    t = np.clip((v - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.full_like(v, 0.5)
    pos = t * (len(anchors) - 1)
    k = np.minimum(pos.astype(np.int64), len(anchors) - 2)
    w = (pos - k)[:, None]
    rgb = anchors[k] * (1 - w) + anchors[k + 1] * w
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def _as_colors(colors: Any, n: int) -> np.ndarray:
    """(V, 3|4) colours as uint8: uint8/integers in [0, 255] or floats in [0, 1]."""
    c = _to_numpy(colors, "colors")
    check_shape(c, (n, None), "colors")
    if c.shape[1] not in (3, 4):
        raise ShapeError(f"colors must have shape ({n}, 3) or ({n}, 4); got {c.shape}")
    if np.issubdtype(c.dtype, np.floating):
        check_finite(c, "colors")
        if c.size and (c.min() < 0 or c.max() > 1):
            raise InputValueError("float colors must lie in [0, 1]; got range "
                                  f"[{c.min():.3g}, {c.max():.3g}] (pass uint8 for 0-255)")
        return np.rint(c * 255).astype(np.uint8)
    if np.issubdtype(c.dtype, np.integer):
        if c.size and (c.min() < 0 or c.max() > 255):
            raise InputValueError(f"integer colors must lie in [0, 255]; got range "
                                  f"[{c.min()}, {c.max()}]")
        return c.astype(np.uint8)
    raise InputValueError(f"colors must be uint8 or float; got dtype {c.dtype}")


# ---------------------------------------------------------------------------- atomic writes
def _atomic_write(path: PathLike, payload: bytes) -> Path:
    """:func:`mxkit._io.atomic_write` (kept under this name for existing callers)."""
    return atomic_write(path, payload)


def _read_bytes(path: PathLike, what: str) -> tuple[Path, bytes]:
    path = Path(os.fspath(path))
    if not path.is_file():
        raise ModelFileError(f"{what} file not found: {path}")
    try:
        return path, path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read {what} file {path}: {exc.strerror or exc}") from exc


def _fan(polygon: list[int]) -> list[tuple[int, int, int]]:
    return [(polygon[0], polygon[i], polygon[i + 1]) for i in range(1, len(polygon) - 1)]


# ---------------------------------------------------------------------------- OBJ
def save_obj(path: PathLike, vertices: Any, faces: Any, *, uv: Any = None,
             faces_uv: Any = None, normals: bool = False) -> Path:
    """Write a triangle mesh as an ASCII Wavefront OBJ file (atomically).

    Parameters
    ----------
    path : path-like
        Target file; its folder must exist. An existing file is replaced.
    vertices : array or Tensor, shape (V, 3) (or (1, V, 3))
        Positions, written unscaled with 9 significant digits (float32-exact); mxkit's
        model space is metres.
    faces : array or Tensor, shape (F, 3), int
        Triangles (0-based here; OBJ's 1-based indices are written).
    uv : array, shape (T, 2), optional
        Texture coordinates, written as ``vt``.
    faces_uv : array, shape (F, 3), int, optional
        Per-corner indices into ``uv``. Default when ``uv`` is given: ``faces`` (then
        ``uv`` must have one row per vertex, T = V).
    normals : bool
        Also write area-weighted vertex normals (``vn``, see :func:`vertex_normals`).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ShapeError, InputValueError
        Wrong shapes, NaN/inf, or indices out of range.
    FileWriteError
        The file cannot be written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> v = np.array([[0.0, 0, 0], [0.01, 0, 0], [0, 0.01, 0]])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = save_obj(pathlib.Path(d) / "tri.obj", v, [[0, 1, 2]])
    ...     load_obj(p).faces
    array([[0, 1, 2]])
    """
    v = _as_points(vertices, "vertices", squeeze_batch=True)
    f = _as_faces(faces, len(v))
    t = ft = None
    if uv is not None:
        t = _as_points(uv, "uv", width=2)
        ft = _as_faces(faces_uv if faces_uv is not None else f, len(t), "faces_uv")
        check_shape(ft, (len(f), 3), "faces_uv")
    elif faces_uv is not None:
        raise InputValueError("faces_uv was given without uv")
    buf = io.StringIO()
    buf.write(f"# written by mxkit {__version__}: {len(v)} vertices, {len(f)} triangles\n")
    np.savetxt(buf, v, fmt="v %.9g %.9g %.9g")
    if t is not None:
        np.savetxt(buf, t, fmt="vt %.9g %.9g")
    if normals:
        np.savetxt(buf, vertex_normals(v, f), fmt="vn %.9g %.9g %.9g")
    if len(f):
        corners = [f + 1]
        if t is not None:
            corners.append(ft + 1)
        if normals:
            corners.append(f + 1)
        if t is not None and normals:
            fmt = "f %d/%d/%d %d/%d/%d %d/%d/%d"
            cols = np.stack(corners, axis=2).reshape(len(f), 9)
        elif t is not None:
            fmt = "f %d/%d %d/%d %d/%d"
            cols = np.stack(corners, axis=2).reshape(len(f), 6)
        elif normals:
            fmt = "f %d//%d %d//%d %d//%d"
            cols = np.stack(corners, axis=2).reshape(len(f), 6)
        else:
            fmt = "f %d %d %d"
            cols = f + 1
        np.savetxt(buf, cols, fmt=fmt)
    return atomic_write(path, buf.getvalue().encode("ascii"))


def load_obj(path: PathLike) -> MeshData:
    """Read a plain ASCII Wavefront OBJ file (minimal reader).

    Reads ``v`` (first three numbers), ``vt``, ``vn`` and ``f`` (``v``, ``v/vt``,
    ``v//vn``, ``v/vt/vn``; negative relative indices allowed; polygons fan triangulated).
    Other statements (``o``, ``g``, ``s``, ``usemtl``, ``mtllib``, ``l``, ...) are ignored.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    MeshData
        ``vertices`` (V, 3) float64, ``faces`` (F, 3) int64 (0-based), and ``uv`` /
        ``faces_uv`` / ``normals`` / ``faces_normals`` where present.

    Raises
    ------
    ModelFileError
        Missing or unreadable file, or a malformed line (the message names path and line).
    """
    path, raw = _read_bytes(path, "OBJ")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{path} is not a text OBJ file ({exc})") from exc
    verts: list[list[float]] = []
    uvs: list[list[float]] = []
    norms: list[list[float]] = []
    tri_v: list[tuple[int, int, int]] = []
    tri_t: list[tuple[int, int, int]] = []
    tri_n: list[tuple[int, int, int]] = []
    tri_line: list[int] = []
    all_t = all_n = True

    def numbers(tokens: list[str], k: int, lineno: int, tag: str) -> list[float]:
        if len(tokens) < k:
            raise ModelFileError(f"{path}, line {lineno}: '{tag}' needs {k} numbers; "
                                 f"got {len(tokens)}")
        try:
            out = [float(s) for s in tokens[:k]]
        except ValueError as exc:
            raise ModelFileError(f"{path}, line {lineno}: bad number in '{tag}' ({exc})") from exc
        if not all(np.isfinite(out)):
            raise ModelFileError(f"{path}, line {lineno}: non-finite number in '{tag}'")
        return out

    def index(token: str, count: int, lineno: int) -> int:
        try:
            i = int(token)
        except ValueError as exc:
            raise ModelFileError(f"{path}, line {lineno}: bad face index {token!r}") from exc
        if i == 0:
            raise ModelFileError(f"{path}, line {lineno}: face index 0 (OBJ indices start at 1)")
        return i - 1 if i > 0 else count + i

    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        tag, rest = parts[0], parts[1:]
        if tag == "v":
            verts.append(numbers(rest, 3, lineno, tag))
        elif tag == "vt":
            uvs.append(numbers(rest, 2, lineno, tag))
        elif tag == "vn":
            norms.append(numbers(rest, 3, lineno, tag))
        elif tag == "f":
            if len(rest) < 3:
                raise ModelFileError(f"{path}, line {lineno}: a face needs at least 3 corners; "
                                     f"got {len(rest)}")
            pv, pt, pn = [], [], []
            for corner in rest:
                fields = corner.split("/")
                if len(fields) > 3 or not fields[0]:
                    raise ModelFileError(f"{path}, line {lineno}: bad face corner {corner!r}")
                pv.append(index(fields[0], len(verts), lineno))
                if len(fields) > 1 and fields[1]:
                    pt.append(index(fields[1], len(uvs), lineno))
                if len(fields) > 2 and fields[2]:
                    pn.append(index(fields[2], len(norms), lineno))
            all_t &= len(pt) == len(pv)
            all_n &= len(pn) == len(pv)
            tri_v += _fan(pv)
            tri_t += _fan(pt) if len(pt) == len(pv) else []
            tri_n += _fan(pn) if len(pn) == len(pv) else []
            tri_line += [lineno] * (len(pv) - 2)
    v = np.array(verts, dtype=np.float64).reshape(-1, 3)
    f = np.array(tri_v, dtype=np.int64).reshape(-1, 3)
    for arr, count, what in ((f, len(v), "vertex"),
                             (np.array(tri_t, np.int64).reshape(-1, 3) if all_t else None,
                              len(uvs), "texture coordinate"),
                             (np.array(tri_n, np.int64).reshape(-1, 3) if all_n else None,
                              len(norms), "normal")):
        if arr is not None and arr.size:
            bad = np.flatnonzero(((arr < 0) | (arr >= count)).any(axis=1))
            if bad.size:
                raise ModelFileError(f"{path}, line {tri_line[bad[0]]}: face refers to a "
                                     f"{what} outside the {count} defined")
    has_faces = len(f) > 0
    return MeshData(
        vertices=v,
        faces=f,
        uv=np.array(uvs, dtype=np.float64).reshape(-1, 2) if uvs else None,
        faces_uv=np.array(tri_t, np.int64).reshape(-1, 3) if (uvs and all_t and has_faces)
        else None,
        normals=np.array(norms, dtype=np.float64).reshape(-1, 3) if norms else None,
        faces_normals=np.array(tri_n, np.int64).reshape(-1, 3) if (norms and all_n and has_faces)
        else None,
    )


# ---------------------------------------------------------------------------- PLY
_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}


def save_ply(path: PathLike, vertices: Any, faces: Any, *, colors: Any = None,
             scalars: Any = None, colormap: str | Sequence[Any] = "viridis",
             clim: tuple[float, float] | None = None, binary: bool = True,
             dtype: Literal["float32", "float64"] = "float32") -> Path:
    """Write a triangle mesh as a Stanford PLY file (atomically), optionally coloured.

    Parameters
    ----------
    path : path-like
        Target file; its folder must exist. An existing file is replaced.
    vertices : array or Tensor, shape (V, 3) (or (1, V, 3))
        Positions, written unscaled (mxkit's model space is metres).
    faces : array or Tensor, shape (F, 3), int
        Triangles, written as ``list uchar int vertex_indices``.
    colors : array, shape (V, 3) or (V, 4), optional
        Per-vertex RGB(A), either uint8 (0-255) or float in [0, 1].
    scalars : array, shape (V,), optional
        Per-vertex values (e.g. displacement in mm). Written as the ``quality`` property
        (MeshLab reads it) and, unless ``colors`` is given, also mapped to RGB with
        ``colormap`` (see :func:`apply_colormap`).
    colormap : str or sequence of colours
        Colour map for ``scalars``: ``"viridis"`` (default), ``"magma"``, ``"rdbu"``
        (diverging, symmetric limits by default) or ``"gray"``.
    clim : (float, float), optional
        Scalar values mapped to the ends of ``colormap``.
    binary : bool
        Binary little-endian (default; float32 positions round-trip exactly) or ASCII
        (9 significant digits).
    dtype : {"float32", "float64"}
        Storage type of the positions and scalars.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ShapeError, InputValueError
        Wrong shapes, NaN/inf, out-of-range indices or colours.
    FileWriteError
        The file cannot be written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> v = np.array([[0.0, 0, 0], [0.01, 0, 0], [0, 0.01, 0]], dtype=np.float32)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = save_ply(pathlib.Path(d) / "tri.ply", v, [[0, 1, 2]], scalars=[0.0, 0.5, 1.0])
    ...     m = load_ply(p)
    >>> bool((m.vertices == v).all()), m.colors.shape
    (True, (3, 3))
    """
    check_option(dtype, ("float32", "float64"), "dtype")
    v = _as_points(vertices, "vertices", squeeze_batch=True)
    f = _as_faces(faces, len(v))
    n = len(v)
    s = _as_scalars(scalars, n) if scalars is not None else None
    c = _as_colors(colors, n) if colors is not None else None
    if c is None and s is not None:
        c = apply_colormap(s, colormap, clim=clim)
    ftype, fcode = ("float", "<f4") if dtype == "float32" else ("double", "<f8")
    vfields = [("x", fcode), ("y", fcode), ("z", fcode)]
    header = ["ply", f"format {'binary_little_endian' if binary else 'ascii'} 1.0",
              f"comment written by mxkit {__version__}",
              f"element vertex {n}",
              f"property {ftype} x", f"property {ftype} y", f"property {ftype} z"]
    if c is not None:
        names = ("red", "green", "blue", "alpha")[: c.shape[1]]
        header += [f"property uchar {k}" for k in names]
        vfields += [(k, "u1") for k in names]
    if s is not None:
        header.append(f"property {ftype} quality")
        vfields.append(("quality", fcode))
    header += [f"element face {len(f)}", "property list uchar int vertex_indices", "end_header"]
    rec = np.empty(n, dtype=np.dtype(vfields))
    for axis, name in enumerate("xyz"):
        rec[name] = v[:, axis]
    if c is not None:
        for k, name in enumerate(("red", "green", "blue", "alpha")[: c.shape[1]]):
            rec[name] = c[:, k]
    if s is not None:
        rec["quality"] = s
    head = ("\n".join(header) + "\n").encode("ascii")
    if binary:
        frec = np.empty(len(f), dtype=np.dtype([("n", "u1"), ("idx", "<i4", (3,))]))
        frec["n"] = 3
        frec["idx"] = f
        payload = head + rec.tobytes() + frec.tobytes()
    else:
        buf = io.StringIO()
        fmts = ["%.9g" if code.startswith("<f") else "%d" for _, code in vfields]
        cols = np.column_stack([rec[name].astype(np.float64) for name, _ in vfields])
        if n:
            np.savetxt(buf, cols, fmt=fmts)
        if len(f):
            np.savetxt(buf, f, fmt="3 %d %d %d")
        payload = head + buf.getvalue().encode("ascii")
    return atomic_write(path, payload)


class _PlyProperty(NamedTuple):
    name: str
    dtype: str                # numpy code without byte order, e.g. "f4"
    count_dtype: str | None   # for list properties


class _PlyElement(NamedTuple):
    name: str
    count: int
    properties: list[_PlyProperty]


def _parse_ply_header(path: Path, raw: bytes) -> tuple[str, list[_PlyElement], int, int]:
    """Return (format, elements, byte offset of the body, number of header lines)."""
    if not raw.startswith(b"ply"):
        raise ModelFileError(f"{path}, line 1: not a PLY file (does not start with 'ply')")
    end = raw.find(b"end_header")
    if end < 0:
        raise ModelFileError(f"{path}: PLY header has no 'end_header' line")
    eol = raw.find(b"\n", end)
    body = len(raw) if eol < 0 else eol + 1
    try:
        lines = raw[:end].decode("ascii").splitlines()
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{path}: PLY header is not ASCII ({exc})") from exc
    fmt = None
    elements: list[_PlyElement] = []
    for lineno, line in enumerate(lines[1:], start=2):
        parts = line.split()
        if not parts or parts[0] in ("comment", "obj_info"):
            continue
        try:
            if parts[0] == "format":
                fmt = parts[1]
                if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
                    raise ModelFileError(f"{path}, line {lineno}: unknown PLY format {fmt!r}")
            elif parts[0] == "element":
                count = int(parts[2])
                if count < 0:
                    raise ValueError("negative count")
                elements.append(_PlyElement(parts[1], count, []))
            elif parts[0] == "property":
                if not elements:
                    raise ModelFileError(f"{path}, line {lineno}: property before any element")
                if parts[1] == "list":
                    prop = _PlyProperty(parts[4], _PLY_TYPES[parts[3]], _PLY_TYPES[parts[2]])
                else:
                    prop = _PlyProperty(parts[2], _PLY_TYPES[parts[1]], None)
                elements[-1].properties.append(prop)
            else:
                raise ModelFileError(f"{path}, line {lineno}: unknown header line {line!r}")
        except (IndexError, ValueError, KeyError) as exc:
            if isinstance(exc, ModelFileError):
                raise
            raise ModelFileError(f"{path}, line {lineno}: malformed header line {line!r}") from exc
    if fmt is None:
        raise ModelFileError(f"{path}: PLY header has no 'format' line")
    return fmt, elements, body, len(lines) + 1


def _read_binary_element(path: Path, raw: bytes, offset: int, el: _PlyElement,
                         order: str) -> tuple[dict[str, Any], int]:
    """Read one binary element; returns ({property: array or list of arrays}, new offset)."""
    def truncated() -> ModelFileError:
        return ModelFileError(f"{path}: file is truncated inside element {el.name!r} "
                              f"({el.count} announced, {len(raw)} bytes in the file)")

    lists = [p for p in el.properties if p.count_dtype is not None]
    if not lists:
        dt = np.dtype([(p.name, order + p.dtype) for p in el.properties])
        if offset + dt.itemsize * el.count > len(raw):
            raise truncated()
        rec = np.frombuffer(raw, dtype=dt, count=el.count, offset=offset)
        return {p.name: rec[p.name] for p in el.properties}, offset + dt.itemsize * el.count
    # Fast path: every list has the same length as in the first row.
    if el.count:
        sizes = []
        pos = offset
        for p in el.properties:
            if p.count_dtype is None:
                pos += np.dtype(p.dtype).itemsize
                continue
            cdt = np.dtype(order + p.count_dtype)
            if pos + cdt.itemsize > len(raw):
                raise truncated()
            k = int(np.frombuffer(raw, dtype=cdt, count=1, offset=pos)[0])
            sizes.append(k)
            pos += cdt.itemsize + k * np.dtype(p.dtype).itemsize
        fields, it = [], iter(sizes)
        for p in el.properties:
            if p.count_dtype is None:
                fields.append((p.name, order + p.dtype))
            else:
                fields += [(p.name + "#n", order + p.count_dtype),
                           (p.name, order + p.dtype, (next(it),))]
        dt = np.dtype(fields)
        if offset + dt.itemsize * el.count <= len(raw):
            rec = np.frombuffer(raw, dtype=dt, count=el.count, offset=offset)
            if all((rec[p.name + "#n"] == k).all() for p, k in zip(lists, sizes, strict=True)):
                return ({p.name: rec[p.name] for p in el.properties},
                        offset + dt.itemsize * el.count)
    # General path: row by row.
    out: dict[str, list[Any]] = {p.name: [] for p in el.properties}
    pos = offset
    for _ in range(el.count):
        for p in el.properties:
            if p.count_dtype is None:
                dt = np.dtype(order + p.dtype)
                if pos + dt.itemsize > len(raw):
                    raise truncated()
                out[p.name].append(np.frombuffer(raw, dtype=dt, count=1, offset=pos)[0])
                pos += dt.itemsize
            else:
                cdt, dt = np.dtype(order + p.count_dtype), np.dtype(order + p.dtype)
                if pos + cdt.itemsize > len(raw):
                    raise truncated()
                k = int(np.frombuffer(raw, dtype=cdt, count=1, offset=pos)[0])
                pos += cdt.itemsize
                if pos + k * dt.itemsize > len(raw):
                    raise truncated()
                out[p.name].append(np.frombuffer(raw, dtype=dt, count=k, offset=pos))
                pos += k * dt.itemsize
    return {p.name: (np.array(out[p.name], dtype=p.dtype) if p.count_dtype is None
                     else out[p.name]) for p in el.properties}, pos


def _read_ascii_element(path: Path, lines: list[str], start: int, first_lineno: int,
                        el: _PlyElement) -> tuple[dict[str, Any], int]:
    """Read one ASCII element from ``lines[start:]``; returns (data, next line index)."""
    rows = lines[start:start + el.count]
    if len(rows) < el.count:
        raise ModelFileError(f"{path}: file ends inside element {el.name!r} ({el.count} rows "
                             f"announced, {len(rows)} present)")
    has_list = any(p.count_dtype is not None for p in el.properties)
    if not has_list:
        width = len(el.properties)
        tokens = [r.split() for r in rows]
        for k, t in enumerate(tokens):
            if len(t) != width:
                raise ModelFileError(f"{path}, line {first_lineno + start + k}: expected "
                                     f"{width} values for {el.name!r}, got {len(t)}")
        try:
            arr = np.array(tokens, dtype=np.float64).reshape(el.count, width)
        except ValueError as exc:
            raise ModelFileError(f"{path}: bad number in element {el.name!r} ({exc})") from exc
        return ({p.name: arr[:, k].astype(p.dtype) for k, p in enumerate(el.properties)},
                start + el.count)
    out: dict[str, list[Any]] = {p.name: [] for p in el.properties}
    for k, row in enumerate(rows):
        lineno = first_lineno + start + k
        t = row.split()
        pos = 0
        try:
            for p in el.properties:
                if p.count_dtype is None:
                    out[p.name].append(float(t[pos]))
                    pos += 1
                else:
                    m = int(t[pos])
                    vals = t[pos + 1:pos + 1 + m]
                    if len(vals) != m:
                        raise IndexError
                    out[p.name].append(np.array([float(x) for x in vals]).astype(p.dtype))
                    pos += 1 + m
        except (IndexError, ValueError) as exc:
            raise ModelFileError(f"{path}, line {lineno}: malformed row of element "
                                 f"{el.name!r}: {row.strip()!r}") from exc
        if pos != len(t):
            raise ModelFileError(f"{path}, line {lineno}: extra values in element {el.name!r}")
    return ({p.name: (np.array(out[p.name]).astype(p.dtype) if p.count_dtype is None
                      else out[p.name]) for p in el.properties}, start + el.count)


def load_ply(path: PathLike) -> MeshData:
    """Read a PLY mesh (ASCII, binary little- or big-endian; minimal reader).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    MeshData
        ``vertices`` (V, 3) in the stored float type (float32 for ``float``), ``faces``
        (F, 3) int64 (polygons fan triangulated), ``colors`` (V, 3|4) uint8 when the vertices
        have ``red green blue [alpha]``, ``scalars`` (V,) from a ``quality`` property.

    Raises
    ------
    ModelFileError
        Missing, unreadable, truncated or malformed file (the message names path and, in the
        header or ASCII body, the line).
    """
    path, raw = _read_bytes(path, "PLY")
    fmt, elements, body, n_header = _parse_ply_header(path, raw)
    data: dict[str, dict[str, Any]] = {}
    if fmt == "ascii":
        try:
            lines = [ln for ln in raw[body:].decode("ascii").splitlines()]
        except UnicodeDecodeError as exc:
            raise ModelFileError(f"{path}: ASCII PLY body is not ASCII ({exc})") from exc
        pos = 0
        for el in elements:
            data[el.name], pos = _read_ascii_element(path, lines, pos, n_header + 1, el)
    else:
        order = "<" if fmt == "binary_little_endian" else ">"
        pos = body
        for el in elements:
            data[el.name], pos = _read_binary_element(path, raw, pos, el, order)
    vert = data.get("vertex")
    if vert is None or not all(k in vert for k in "xyz"):
        raise ModelFileError(f"{path}: PLY file has no 'vertex' element with x, y, z")
    v = np.stack([np.asarray(vert[k]) for k in "xyz"], axis=1)
    if not np.issubdtype(v.dtype, np.floating):
        v = v.astype(np.float64)
    n = len(v)
    colors = None
    if all(k in vert for k in ("red", "green", "blue")):
        names = ["red", "green", "blue"] + (["alpha"] if "alpha" in vert else [])
        colors = np.stack([np.asarray(vert[k]) for k in names], axis=1)
        if np.issubdtype(colors.dtype, np.floating):
            colors = np.rint(np.clip(colors, 0, 1) * 255)
        colors = colors.astype(np.uint8)
    scalars = np.asarray(vert["quality"]) if "quality" in vert else None
    faces = np.zeros((0, 3), dtype=np.int64)
    face = data.get("face")
    if face is not None:
        key = next((k for k in ("vertex_indices", "vertex_index") if k in face), None)
        if key is None:
            raise ModelFileError(f"{path}: PLY 'face' element has no vertex_indices list")
        idx = face[key]
        if isinstance(idx, np.ndarray) and idx.ndim == 2 and idx.shape[1] == 3:
            faces = idx.astype(np.int64)
        else:
            tris: list[tuple[int, int, int]] = []
            for poly in idx:
                poly = [int(i) for i in np.asarray(poly).reshape(-1)]
                if len(poly) < 3:
                    raise ModelFileError(f"{path}: a PLY face has fewer than 3 vertices")
                tris += _fan(poly)
            faces = np.array(tris, dtype=np.int64).reshape(-1, 3)
        if faces.size and (faces.min() < 0 or faces.max() >= n):
            raise ModelFileError(f"{path}: PLY faces index vertices outside [0, {n})")
    return MeshData(vertices=v, faces=faces, colors=colors, scalars=scalars)


# ---------------------------------------------------------------------------- glTF
_GLB_MAGIC, _GLB_JSON, _GLB_BIN = 0x46546C67, 0x4E4F534A, 0x004E4942
_FLOAT, _UINT = 5126, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


def save_glb(path: PathLike, vertices: Any, faces: Any, *, fps: float,
             name: str = "mxkit reconstruction", frame_names: Sequence[str] | None = None,
             extras: dict | None = None) -> Path:
    """Write an animated mesh as binary glTF 2.0 (``.glb``, atomically): morph-target animation.

    The mesh is frame 0 (with its vertex normals); morph target ``t`` is the displacement of
    frame ``t`` from frame 0 (target 0 is zero), and one animation keys the morph weights so
    that at time ``t / fps`` target ``t`` has weight 1 and the others 0 (``LINEAR``
    interpolation: in between, the positions of the two neighbouring frames are blended).
    Positions are float32 metres in mxkit's model frame, which is glTF's (+y up, +z toward
    the viewer, right-handed, metres), so Blender's glTF importer and browser viewers
    (three.js, Babylon.js) show the clip as reconstructed. The target names are in
    ``meshes[0].extras.targetNames`` (Blender names the shape keys after them).

    Parameters
    ----------
    path : path-like
        Target file (``.glb``); its folder must exist.
    vertices : array or Tensor, shape (T, V, 3)
        Positions of every frame, metres.
    faces : array or Tensor, shape (F, 3), int
        Triangles, counter-clockwise seen from outside.
    fps : float
        Frame rate of the animation (frame ``t`` at ``t / fps`` seconds).
    name : str
        Name of the node, mesh and animation.
    frame_names : sequence of str, optional
        One name per frame (default ``frame_000``, ...).
    extras : dict, optional
        JSON-compatible application data stored in the asset's ``extras``.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ShapeError, InputValueError
        Wrong shapes, NaN/inf, out-of-range indices or a bad ``fps``.
    FileWriteError
        The file cannot be written.
    """
    import json
    import math
    import struct

    v = _to_numpy(vertices, "vertices").astype(np.float32)
    dims = check_shape(v, ("T", "V", 3), "vertices")
    T, V = dims["T"], dims["V"]
    check_finite(v, "vertices")
    if T < 1 or V < 1:
        raise ShapeError(f"vertices must hold at least one frame of one vertex; got {v.shape}")
    f = _as_faces(faces, V).astype(np.uint32)
    if not isinstance(fps, (int, float)) or isinstance(fps, bool) or not math.isfinite(fps) \
            or fps <= 0:
        raise InputValueError(f"fps must be a positive number; got {fps!r}")
    names = list(frame_names) if frame_names is not None else [f"frame_{t:03d}" for t in range(T)]
    if len(names) != T:
        raise ShapeError(f"frame_names has {len(names)} names for {T} frames")

    base = v[0]
    deltas = v - base[None]
    normals = _vertex_normals(base.astype(np.float64), f.astype(np.int64)).astype(np.float32)
    times = (np.arange(T, dtype=np.float64) / float(fps)).astype(np.float32)
    weights = np.eye(T, dtype=np.float32)                       # keyframe t: target t at 1

    blob = bytearray()
    views: list[dict] = []
    accessors: list[dict] = []

    def add(arr: np.ndarray, kind: str, *, target: int | None = None, minmax: bool = False) -> int:
        while len(blob) % 4:
            blob.append(0)
        data = np.ascontiguousarray(arr).tobytes()
        view = {"buffer": 0, "byteOffset": len(blob), "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        views.append(view)
        blob.extend(data)
        comp = _UINT if arr.dtype == np.uint32 else _FLOAT
        count = arr.size // {"SCALAR": 1, "VEC3": 3}[kind]
        acc: dict[str, Any] = {"bufferView": len(views) - 1, "componentType": comp,
                               "count": int(count), "type": kind}
        if minmax:
            flat = arr.reshape(count, -1)
            acc["min"] = [float(x) for x in flat.min(0)]
            acc["max"] = [float(x) for x in flat.max(0)]
        accessors.append(acc)
        return len(accessors) - 1

    i_idx = add(f.reshape(-1), "SCALAR", target=_ELEMENT_ARRAY_BUFFER)
    i_pos = add(base, "VEC3", target=_ARRAY_BUFFER, minmax=True)
    i_nrm = add(normals, "VEC3", target=_ARRAY_BUFFER)
    targets = [{"POSITION": add(deltas[t], "VEC3", target=_ARRAY_BUFFER, minmax=True)}
               for t in range(T)]
    i_time = add(times, "SCALAR", minmax=True)
    i_wts = add(weights.reshape(-1), "SCALAR")
    while len(blob) % 4:
        blob.append(0)

    doc = {
        "asset": {"version": "2.0", "generator": f"mxkit {__version__}",
                  **({"extras": extras} if extras else {})},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name}],
        "meshes": [{"name": name, "weights": [0.0] * T, "extras": {"targetNames": names},
                    "primitives": [{"attributes": {"POSITION": i_pos, "NORMAL": i_nrm},
                                    "indices": i_idx, "mode": 4, "targets": targets}]}],
        "animations": [{"name": name,
                        "samplers": [{"input": i_time, "output": i_wts,
                                      "interpolation": "LINEAR"}],
                        "channels": [{"sampler": 0, "target": {"node": 0, "path": "weights"}}]}],
        "buffers": [{"byteLength": len(blob)}],
        "bufferViews": views,
        "accessors": accessors,
    }
    text = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + 8 + len(blob)
    payload = (struct.pack("<III", _GLB_MAGIC, 2, total)
               + struct.pack("<II", len(text), _GLB_JSON) + text
               + struct.pack("<II", len(blob), _GLB_BIN) + bytes(blob))
    return atomic_write(path, payload)
