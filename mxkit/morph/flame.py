"""FLAME as a user-supplied face model: chumpy-free loading and linear blend skinning.

FLAME (Li, Bolkart, Black, Li and Romero, "Learning a model of facial shape and expression
from 4D scans", ACM TOG 36(6), SIGGRAPH Asia 2017) is licensed by MPI-IS and is never shipped
with mxkit: register at https://flame.is.tue.mpg.de, download a release and pass the pickle to
:func:`load_flame` (or ``load_face_model("flame", path=...)``). Standard FLAME 2020/2023 are
reported as non-commercial; FLAME 2023 Open as CC-BY-4.0 with use restrictions. The release and
licence note of the file you loaded are recorded in ``model.meta``; respecting the licence is
your responsibility.

Reading the file
----------------
FLAME pickles were written by Python 2 and hold ``chumpy`` objects and old ``scipy.sparse``
classes. They are read here through a *restricted* unpickler (latin-1 strings): chumpy objects
become inert placeholders that are converted to arrays afterwards, scipy sparse matrices are
rebuilt from their raw index arrays with the installed scipy, and **any other global that is
not a numpy array/dtype/scalar or a plain Python container is refused** with
:class:`~mxkit.errors.ModelFileError`, so a model file cannot run code. Neither ``chumpy`` nor
any other third-party code is imported. The converted arrays are cached as ``.npz`` in the user
cache directory (``$MXKIT_CACHE_DIR/flame/`` or ``~/.cache/mxkit/flame/``), keyed by the
pickle's sha256 and written atomically.

The model (implemented from the published FLAME/SMPL description)
------------------------------------------------------------------
With identity (shape) coefficients ``β`` (K,), expression coefficients ``ψ`` (E,) and joint
rotations ``θ``:

1. shaped template ``T_s = T + S β + X ψ`` (``S``, ``X`` are the two blocks of the file's
   ``shapedirs``);
2. rest joints ``J = J_regressor @ T_s`` (J, 3), expression included;
3. pose correctives ``T_p = T_s + P · f(θ)``, where the pose feature
   ``f(θ) = [vec(R(θ_1) - I), ..., vec(R(θ_{J-1}) - I)]`` (length ``9 (J-1)`` = 36) stacks the
   non-root joints in file (kintree) order and flattens each 3x3 matrix **row-major** (numpy C
   order) — FLAME's ``bs_type='lrotmin'``; ``posedirs`` (V, 3, 36) is contracted over its last
   axis with ``f``;
4. forward kinematics along ``kintree_table``: joint ``j`` with parent ``p`` has world
   rotation ``G_j = G_p R(θ_j)`` and world position ``g_j = g_p + G_p (J_j - J_p)``;
5. linear blend skinning of each vertex ``v`` of ``T_p``:
   ``v' = Σ_j w_vj (G_j (v - J_j) + g_j)`` with the file's ``weights`` (rows sum to one).

Rotations are axis-angle vectors in radians acting on column vectors
(:func:`mxkit.geometry.axis_angle_to_matrix`). mxkit's tests check this against a 4x4
homogeneous-matrix reference on synthetic FLAME-format files; no MPI data is used in testing.

Root convention
---------------
FLAME has five joints: global (root), neck, jaw, left eye, right eye. In mxkit the root's
rotation is **not** part of ``pose``: :attr:`FlameModel.n_joints` is 4 and ``pose`` (B, 4, 3)
holds neck, jaw and the two eyes (file order; see :attr:`FlameModel.joint_names`). The head's
global rotation is :class:`~mxkit.morph.FaceModel`'s ``rotation``, applied *about the model
origin after skinning*. FLAME itself rotates about the root joint ``J_0``; because the skinning
weights sum to one, the two differ only by a translation::

    FLAME(β, ψ, global=r, others=θ) + t
        == model(β, ψ, pose=θ, rotation=r, translation=t + model.root_translation(β, ψ, r))

where ``root_translation = J_0 - R(r) J_0``. Pose correctives never depend on the root rotation,
so nothing else changes. :meth:`FlameModel.split_full_pose` splits a FLAME/smplx-style 15-vector
``[global, neck, jaw, left eye, right eye]`` into ``(rotation, pose)``.
"""

from __future__ import annotations

import _compat_pickle
import copyreg
import hashlib
import io
import json
import os
import pickle
import re
import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from .._checks import check_shape
from .._io import atomic_open, cache_dir
from ..errors import InputValueError, ModelFileError, ShapeError
from ..geometry import axis_angle_to_matrix
from .model import FaceModel, LandmarkEmbedding

__all__ = [
    "FlameModel",
    "load_flame",
    "load_flame_landmarks",
    "read_flame_pickle",
    "flame_cache_dir",
]

_REGISTER_HINT = ("FLAME is licensed by MPI-IS: register at https://flame.is.tue.mpg.de, download "
                  "FLAME 2020, FLAME 2023 or FLAME 2023 Open and pass the .pkl file")
_CITATION = ("T. Li, T. Bolkart, M. J. Black, H. Li, J. Romero. Learning a model of facial shape "
             "and expression from 4D scans. ACM Transactions on Graphics 36(6), 194 (SIGGRAPH Asia "
             "2017)")
_CACHE_VERSION = 1
_ARRAY_KEYS = ("v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights",
               "kintree_table")
_N_FLAME_JOINTS = 5
_FLAME_V, _FLAME_F = 5023, 9976
_MAX_DEPTH = 64


# ====================================================================== restricted unpickling
class _Placeholder:
    """An inert stand-in for an object of a class that must not be imported.

    Unpickling creates it (``NEWOBJ``, ``REDUCE`` or ``BUILD``) and records the constructor
    arguments and state; nothing of the original class ever runs.
    """

    origin = "?"
    args: tuple = ()
    state: Mapping[str, Any] = MappingProxyType({})

    def __new__(cls, *args: Any, **kwargs: Any):
        obj = super().__new__(cls)
        obj.args = args
        obj.state = {}
        return obj

    def __init__(self, *args: Any, **kwargs: Any):
        self.args = args

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            merged: dict = {}
            for part in state:
                if isinstance(part, dict):
                    merged.update(part)
            state = merged
        self.state = state if isinstance(state, dict) else {"__state__": state}

    def __repr__(self) -> str:
        return f"<placeholder for {self.origin}>"


class _ChumpyPlaceholder(_Placeholder):
    """Stand-in for a ``chumpy`` object (``Ch``, ``Select``, ...)."""


class _SparsePlaceholder(_Placeholder):
    """Stand-in for a (possibly old) ``scipy.sparse`` matrix, rebuilt with the installed scipy."""

    fmt = "csc"


class _OpaqueTorch(_Placeholder):
    """Stand-in for a torch object that is not needed (or cannot be decoded safely)."""


_PLACEHOLDER_TYPES: dict[tuple[str, str, type], type] = {}


def _placeholder_type(base: type, module: str, name: str, **attrs: Any) -> type:
    key = (module, name, base)
    if key not in _PLACEHOLDER_TYPES:
        _PLACEHOLDER_TYPES[key] = type(name, (base,), {"origin": f"{module}.{name}", **attrs})
    return _PLACEHOLDER_TYPES[key]


def _latin1_encode(obj: Any, encoding: str = "latin1") -> bytes:
    """Safe stand-in for ``_codecs.encode`` (how Python 3 writes bytes in protocol-2 pickles)."""
    if not isinstance(obj, str) or str(encoding).lower().replace("-", "") not in ("latin1",
                                                                                  "iso88591"):
        raise ModelFileError(f"pickle asks _codecs.encode for {type(obj).__name__} with encoding "
                             f"{encoding!r}; only latin-1 text is accepted")
    return obj.encode("latin1")


def _numpy_reconstruct_functions() -> dict[str, Any]:
    """numpy's own pickle helpers, found through the objects' reducers (no private imports)."""
    return {
        "_reconstruct": np.ndarray.__reduce__(np.zeros(1))[0],
        "scalar": np.float64(0.0).__reduce__()[0],
        "_frombuffer": np.arange(2).__reduce_ex__(5)[0],
    }


_NUMPY_HELPERS = _numpy_reconstruct_functions()
_NUMPY_MODULES = ("numpy", "numpy.core", "numpy._core", "numpy.core.multiarray",
                  "numpy._core.multiarray", "numpy.core.numeric", "numpy._core.numeric",
                  "numpy.dtypes")
_BUILTINS = {t.__name__: t for t in (object, set, frozenset, dict, list, tuple, str, bytes,
                                     bytearray, int, float, complex, bool, slice, range)}
_SPARSE_CLASSES = {f"{fmt}_{kind}": fmt for fmt in ("csc", "csr", "coo")
                   for kind in ("matrix", "array")}


def _torch_load_storage(data: bytes) -> Any:
    """Decode a pickled torch storage with torch's own restricted (weights-only) loader."""
    return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")


def _torch_rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *rest: Any) -> Any:
    """Rebuild a tensor from a decoded storage; anything unexpected stays opaque."""
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        return _OpaqueTorch()
    try:
        return torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())
    except (RuntimeError, TypeError, ValueError):
        return _OpaqueTorch()


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only materialises numpy/scipy-sparse data and plain Python containers.

    ``chumpy.*`` classes and scipy sparse matrices (any module path, old or new) become inert
    placeholders; with ``allow_torch`` pickled torch tensors are decoded through torch's
    weights-only loader and other torch objects become opaque placeholders. Every other global
    raises :class:`ModelFileError` naming it.
    """

    def __init__(self, file: Any, *, what: str, allow_torch: bool = False):
        super().__init__(file, encoding="latin1")
        self.what = what
        self.allow_torch = allow_torch
        self.n_chumpy = 0

    def find_class(self, module: str, name: str) -> Any:  # noqa: C901 - a flat allowlist
        # Python 2 names (__builtin__, copy_reg, ...) as the stock unpickler maps them.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        if module == "chumpy" or module.startswith("chumpy."):
            self.n_chumpy += 1
            return _placeholder_type(_ChumpyPlaceholder, module, name)
        if module.startswith("scipy.sparse") and name in _SPARSE_CLASSES:
            return _placeholder_type(_SparsePlaceholder, module, name, fmt=_SPARSE_CLASSES[name])
        if module in _NUMPY_MODULES:
            if name in _NUMPY_HELPERS:
                return _NUMPY_HELPERS[name]
            if name == "ndarray":
                return np.ndarray
            if "." not in name:
                obj = getattr(np, name, None)
                if obj is None:
                    obj = getattr(np.dtypes, name, None)
                if isinstance(obj, type) and issubclass(obj, (np.generic, np.dtype)):
                    return obj
        elif module == "builtins" and name in _BUILTINS:
            return _BUILTINS[name]
        elif module == "copyreg" and name == "_reconstructor":
            return copyreg._reconstructor
        elif module == "_codecs" and name == "encode":
            return _latin1_encode
        elif module == "collections" and name == "OrderedDict":
            return OrderedDict
        elif self.allow_torch and (module == "torch" or module.startswith("torch.")):
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return _torch_rebuild_tensor
            if (module, name) == ("torch.storage", "_load_from_bytes"):
                return _torch_load_storage
            return _placeholder_type(_OpaqueTorch, module, name)
        raise ModelFileError(
            f"{self.what} refers to '{module}.{name}', which mxkit's restricted unpickler does "
            "not allow (only numpy arrays, scipy sparse matrices, chumpy arrays and plain Python "
            "data are accepted); the file is not a FLAME model file or may be malicious"
        )


def _unpickle(path: Path, *, allow_torch: bool = False) -> tuple[Any, int]:
    """Unpickle a whole file with :class:`_RestrictedUnpickler` (latin-1)."""
    try:
        with open(path, "rb") as fh:
            unpickler = _RestrictedUnpickler(fh, what=str(path), allow_torch=allow_torch)
            obj = unpickler.load()
    except ModelFileError:
        raise
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc}") from exc
    except Exception as exc:  # any failure while decoding means a corrupt or foreign file
        raise ModelFileError(f"{path} is not a readable pickle (corrupt or truncated?): "
                             f"{type(exc).__name__}: {exc}") from exc
    return obj, unpickler.n_chumpy


# ====================================================================== placeholder resolution
def _sparse_from_state(obj: _SparsePlaceholder, what: str) -> sp.spmatrix:
    st = obj.state
    shape = st.get("_shape", st.get("shape"))
    try:
        shape = tuple(int(s) for s in shape)
        if obj.fmt in ("csc", "csr"):
            cls = sp.csc_matrix if obj.fmt == "csc" else sp.csr_matrix
            return cls((np.asarray(st["data"]), np.asarray(st["indices"]),
                        np.asarray(st["indptr"])), shape=shape)
        return sp.coo_matrix((np.asarray(st["data"]), (np.asarray(st["row"]),
                                                       np.asarray(st["col"]))), shape=shape)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelFileError(f"{what}: cannot rebuild the sparse matrix {obj.origin} from its "
                             f"stored fields {sorted(map(str, st))}: {exc}") from exc


def _resolve(obj: Any, what: str, depth: int = 0) -> Any:
    """Turn placeholders into arrays (chumpy) or scipy sparse matrices; leave data as is.

    Chumpy objects are converted from their pickled state: ``Ch`` holds its value in ``x``;
    index views (``Select``) hold ``a`` (resolved recursively) and ``idxs``, giving
    ``a.ravel()[idxs].reshape(preferred_shape)``; ``transpose``/``reshape`` views hold ``a`` and
    ``axes``/``newshape``. Anything else raises :class:`ModelFileError`.
    """
    if depth > _MAX_DEPTH:
        raise ModelFileError(f"{what}: chumpy objects nested deeper than {_MAX_DEPTH} levels")
    if isinstance(obj, _SparsePlaceholder):
        return _sparse_from_state(obj, what)
    if isinstance(obj, _OpaqueTorch):
        raise ModelFileError(f"{what} holds a torch object ({obj.origin}) that mxkit cannot "
                             "decode safely; save it as a numpy array instead")
    if not isinstance(obj, _ChumpyPlaceholder):
        return obj
    st = obj.state

    def arr(key: str) -> np.ndarray:
        value = _resolve(st[key], what, depth + 1)
        if sp.issparse(value):
            value = value.toarray()
        return np.asarray(value)

    try:
        if "x" in st:
            return arr("x")
        if "a" in st and "idxs" in st:
            out = arr("a").ravel()[arr("idxs").astype(np.int64).ravel()]
            shape = st.get("preferred_shape")
            return out.reshape(tuple(shape) if shape is not None else arr("idxs").shape)
        if "a" in st and "axes" in st:
            axes = st["axes"]
            return np.transpose(arr("a"), None if axes is None else tuple(axes))
        if "a" in st and "newshape" in st:
            return arr("a").reshape(tuple(np.atleast_1d(st["newshape"]).tolist()))
    except (IndexError, ValueError, TypeError) as exc:
        raise ModelFileError(f"{what}: cannot convert the chumpy object {obj.origin} without "
                             f"chumpy: {exc}") from exc
    raise ModelFileError(
        f"{what} is a chumpy {obj.origin} object whose value mxkit cannot reconstruct without "
        f"chumpy (stored fields: {sorted(map(str, st))}; supported: Ch with 'x', index views "
        "with 'a' and 'idxs', transpose and reshape). Convert the file with chumpy to plain "
        "numpy arrays, or use FLAME 2023 Open"
    )


# ====================================================================== validation
def _variant(filename: str) -> dict[str, str]:
    """Release and licence note guessed from the file name."""
    n = filename.lower()
    nonc = ("MPI-IS FLAME licence. Standard FLAME 2020/2023 are reported (third-party licence "
            "audits; LAM issue #111, 2026) as non-commercial, scientific use only; older "
            "statements (FLAME Blender add-on README) said CC-BY-4.0. Check the terms you "
            "accepted at flame.is.tue.mpg.de; mxkit does not redistribute FLAME and you are "
            "responsible for complying.")
    if "2023" in n and "open" in n:
        return {"variant": "flame2023-open", "release": "FLAME 2023 Open",
                "licence": "CC-BY-4.0 with use restrictions",
                "licence_note": ("FLAME 2023 Open is reported as CC-BY-4.0 with additional use "
                                 "restrictions (no pornographic content; no fake, libellous, "
                                 "misleading or defamatory content, peer-reviewed research "
                                 "excepted); credit FLAME and cite Li et al. 2017. Check the "
                                 "licence text shipped with your download; you are responsible "
                                 "for complying.")}
    if "2023" in n:
        nojaw = re.search(r"no[_-]?jaw|wo[_-]?jaw|without[_-]?jaw", n) is not None
        return {"variant": "flame2023-nojaw" if nojaw else "flame2023",
                "release": "FLAME 2023" + (" (without jaw rotation)" if nojaw else ""),
                "licence": "MPI-IS FLAME licence (reported non-commercial)", "licence_note": nonc}
    m = re.fullmatch(r"(generic|female|male)_model\.pkl", n)
    if m:
        return {"variant": f"flame2020-{m.group(1)}",
                "release": (f"FLAME 2020 ({m.group(1)}); the 2017 and 2019 releases use the same "
                            "file name, compare content_sha256 to tell them apart"),
                "licence": "MPI-IS FLAME licence (reported non-commercial)", "licence_note": nonc}
    return {"variant": "unknown", "release": "unrecognised file name",
            "licence": "unknown",
            "licence_note": ("mxkit cannot tell which FLAME release this file is; check the "
                             "terms under which you obtained it. You are responsible for "
                             "complying with them.")}


def _validate(arrays: Mapping[str, Any], where: str) -> dict[str, np.ndarray]:
    """Check keys, shapes and values of FLAME arrays and return canonical numpy copies."""
    missing = [k for k in _ARRAY_KEYS if k not in arrays]
    if missing:
        raise ModelFileError(f"{where} lacks the FLAME entries {missing}; expected "
                             f"{list(_ARRAY_KEYS)}, found {sorted(map(str, arrays))}")
    out: dict[str, np.ndarray] = {}
    for key in _ARRAY_KEYS:
        value = arrays[key]
        if sp.issparse(value):
            value = value.toarray()
        try:
            value = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise ModelFileError(f"{where}: '{key}' is not an array ({exc})") from exc
        if value.dtype == object or not (np.issubdtype(value.dtype, np.number)
                                         or value.dtype == bool):
            raise ModelFileError(f"{where}: '{key}' must be numeric; got dtype {value.dtype}")
        out[key] = value

    def expect(key: str, shape: tuple, text: str) -> None:
        got = out[key].shape
        if len(got) != len(shape) or any(w is not None and g != w
                                         for g, w in zip(got, shape, strict=True)):
            want = "(" + ", ".join("*" if w is None else str(w) for w in shape) + ")"
            raise ModelFileError(f"{where}: '{key}' must have shape {want} ({text}); got {got}")

    expect("v_template", (None, 3), "V template vertices")
    V = out["v_template"].shape[0]
    expect("f", (None, 3), "triangles")
    expect("kintree_table", (2, _N_FLAME_JOINTS),
           "FLAME's 5 joints: global, neck, jaw, left eye, right eye")
    J = _N_FLAME_JOINTS
    expect("shapedirs", (V, 3, None), "identity then expression components, e.g. 300 + 100")
    expect("posedirs", (V, 3, 9 * (J - 1)),
           "9 entries of (R - I) for each of the 4 non-root joints")
    expect("J_regressor", (J, V), "one row of vertex weights per joint")
    expect("weights", (V, J), "skinning weights of each vertex")
    f = out["f"]
    if not np.issubdtype(f.dtype, np.integer) and not np.array_equal(f, np.round(f)):
        raise ModelFileError(f"{where}: 'f' must hold integer vertex indices; got {f.dtype}")
    f = f.astype(np.int64)
    if f.size and (f.min() < 0 or f.max() >= V):
        raise ModelFileError(f"{where}: 'f' indexes vertices outside [0, {V}); got range "
                             f"[{f.min()}, {f.max()}]")
    out["f"] = f
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights"):
        out[key] = out[key].astype(np.float64)
        if not np.isfinite(out[key]).all():
            raise ModelFileError(f"{where}: '{key}' contains NaN or infinite values")
    w = out["weights"]
    if (w < -1e-6).any() or not np.allclose(w.sum(1), 1.0, atol=1e-3):
        raise ModelFileError(f"{where}: every row of 'weights' must be non-negative and sum to 1 "
                             f"(linear blend skinning); row sums range over "
                             f"[{w.sum(1).min():.4g}, {w.sum(1).max():.4g}]")
    out["kintree_table"] = out["kintree_table"].astype(np.int64)
    _parents(out["kintree_table"], where)
    return out


def _parents(kintree: np.ndarray, where: str) -> tuple[int, ...]:
    """Parent column of each joint from a (2, J) kintree table (row 0 parent ids, row 1 ids)."""
    ids = [int(i) for i in kintree[1]]
    col = {i: c for c, i in enumerate(ids)}
    if len(col) != len(ids):
        raise ModelFileError(f"{where}: 'kintree_table' has repeated joint ids {ids}")
    parents = [-1]
    for c in range(1, len(ids)):
        p = col.get(int(kintree[0, c]))
        if p is None or p >= c:
            raise ModelFileError(f"{where}: 'kintree_table' must list the root first and each "
                                 f"joint after its parent; joint column {c} has parent id "
                                 f"{int(kintree[0, c])} (table {kintree.tolist()})")
        parents.append(p)
    if int(kintree[0, 0]) in col:
        raise ModelFileError(f"{where}: the first joint of 'kintree_table' must be the root "
                             f"(its parent id must not be a joint id); table {kintree.tolist()}")
    return tuple(parents)


def _fingerprint(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 of the model content in a canonical encoding (independent of the pickle format)."""
    h = hashlib.sha256()
    for key in _ARRAY_KEYS:
        a = arrays[key]
        a = np.ascontiguousarray(a, dtype="<i8" if key in ("f", "kintree_table") else "<f8")
        h.update(f"{key}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def read_flame_pickle(path: str | os.PathLike) -> dict[str, Any]:
    """Read a FLAME pickle without chumpy and return its arrays (no caching).

    Parameters
    ----------
    path : path-like
        ``generic_model.pkl``, ``female_model.pkl``, ``male_model.pkl`` (FLAME 2020),
        ``flame2023.pkl`` (with or without jaw) or ``flame2023_Open.pkl``.

    Returns
    -------
    dict
        ``v_template`` (V, 3) float64, ``f`` (F, 3) int64, ``shapedirs`` (V, 3, D),
        ``posedirs`` (V, 3, 36), ``J_regressor`` (5, V) dense float64, ``weights`` (V, 5),
        ``kintree_table`` (2, 5) int64, and ``info`` (dict: storage, keys, ``bs_type``...).

    Raises
    ------
    ModelFileError
        Missing file, corrupt pickle, a disallowed class, missing keys or wrong shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"FLAME model file not found: {path}. {_REGISTER_HINT}")
    obj, n_chumpy = _unpickle(path)
    if not isinstance(obj, dict):
        raise ModelFileError(f"{path} holds a {type(obj).__name__}, not the dict of arrays of a "
                             "FLAME model file")
    raw = {str(k): v for k, v in obj.items()}
    missing = [k for k in _ARRAY_KEYS if k not in raw]
    if missing:
        raise ModelFileError(f"{path} lacks the FLAME entries {missing}; expected "
                             f"{list(_ARRAY_KEYS)}, found {sorted(raw)}")
    resolved = {key: _resolve(raw[key], f"{path.name}['{key}']") for key in _ARRAY_KEYS}
    arrays = _validate(resolved, str(path))
    info: dict[str, Any] = {
        "storage": "chumpy" if n_chumpy else "numpy",
        "keys": sorted(raw),
        "source_bytes": path.stat().st_size,
    }
    for key in ("bs_type", "bs_style"):
        if key in raw:
            info[key] = str(_resolve(raw[key], key))
    if info.get("bs_type", "lrotmin") != "lrotmin":
        raise ModelFileError(f"{path}: bs_type is {info['bs_type']!r}; mxkit implements FLAME's "
                             "'lrotmin' pose correctives (R - I of the non-root joints)")
    if info.get("bs_style", "lbs") != "lbs":
        raise ModelFileError(f"{path}: bs_style is {info['bs_style']!r}; mxkit implements linear "
                             "blend skinning ('lbs') only")
    info["content_sha256"] = _fingerprint(arrays)
    return {**arrays, "info": info}


# ====================================================================== cache
def flame_cache_dir() -> Path:
    """Directory of converted FLAME arrays: :func:`mxkit._io.cache_dir` ``/ "flame"``.

    ``$MXKIT_CACHE_DIR/flame`` when the environment variable is set, else
    ``$XDG_CACHE_HOME/mxkit/flame`` or ``~/.cache/mxkit/flame`` (read at call time). Never
    inside the package.
    """
    return cache_dir("flame")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc}") from exc
    return h.hexdigest()


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` (no pickles); the file is closed even when it is corrupt."""
    with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _read_cache(file: Path, sha: str) -> dict[str, Any] | None:
    """Cached arrays, or None if the entry is missing, corrupt or stale."""
    if not file.is_file():
        return None
    try:
        entry = _read_npz(file)
        version, source = int(entry.pop("cache_version")), str(entry.pop("source_sha256"))
        if version != _CACHE_VERSION or source != sha:
            return None
        info = json.loads(str(entry.pop("info")))
        arrays = _validate(entry, str(file))
    except Exception:  # any failure reading our own cache file means: rebuild it
        return None
    return {**arrays, "info": info}


def _write_cache(file: Path, data: Mapping[str, Any], sha: str) -> None:
    """Write the cache entry atomically (:func:`mxkit._io.atomic_open`; folders created)."""
    with atomic_open(file, parents=True) as fh:
        np.savez(fh, cache_version=np.array(_CACHE_VERSION), source_sha256=np.array(sha),
                 info=np.array(json.dumps(data["info"])),
                 **{k: data[k] for k in _ARRAY_KEYS})


def _load_arrays(path: Path, cache: bool | str | os.PathLike) -> dict[str, Any]:
    """FLAME arrays from the cache, or from the pickle (then cached)."""
    sha = _sha256(path)
    if cache is False:
        data = read_flame_pickle(path)
        data["info"]["cache"] = {"status": "disabled"}
        data["info"]["source_sha256"] = sha
        return data
    folder = flame_cache_dir() if cache is True or cache is None else Path(cache).expanduser()
    file = folder / f"{sha}.npz"
    data = _read_cache(file, sha)
    if data is not None:
        data["info"]["cache"] = {"status": "hit", "path": str(file)}
        data["info"]["source_sha256"] = sha
        return data
    status = "rebuilt" if file.exists() else "written"
    data = read_flame_pickle(path)
    try:
        _write_cache(file, data, sha)
    except OSError as exc:
        warnings.warn(f"could not write the FLAME cache entry {file} ({exc}); the pickle will be "
                      "read again next time", RuntimeWarning, stacklevel=3)
        status = "unwritable"
    data["info"]["cache"] = {"status": status, "path": str(file)}
    data["info"]["source_sha256"] = sha
    return data


# ====================================================================== landmark embeddings
def _read_npy_object(path: Path) -> Any:
    """Read an ``.npy`` file; object arrays go through the restricted unpickler (latin-1)."""
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                _, _, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                _, _, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ModelFileError(f"{path}: unsupported .npy format version {version}")
            if dtype.hasobject:
                unpickler = _RestrictedUnpickler(fh, what=str(path), allow_torch=True)
                return unpickler.load()
    except ModelFileError:
        raise
    except OSError as exc:
        raise ModelFileError(f"cannot read landmark file {path}: {exc}") from exc
    except Exception as exc:  # corrupt header or pickle stream
        raise ModelFileError(f"{path} is not a readable .npy file: {type(exc).__name__}: "
                             f"{exc}") from exc
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path} is not a readable .npy file: {exc}") from exc


def _as_numeric(value: Any, what: str) -> np.ndarray:
    value = _resolve(value, what)
    if torch.is_tensor(value):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{what} is not an array ({exc})") from exc
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ModelFileError(f"{what} must be numeric; got dtype {arr.dtype}")
    return arr


def _embedding(faces: Any, bary: Any, what: str, n_faces: int | None) -> LandmarkEmbedding:
    faces = _as_numeric(faces, f"{what} faces")
    bary = _as_numeric(bary, f"{what} barycentrics")
    faces = faces.reshape(-1)
    if bary.size != 3 * faces.size:
        raise ModelFileError(f"{what}: {faces.size} triangle indices but barycentrics of shape "
                             f"{bary.shape}; expected ({faces.size}, 3)")
    bary = bary.reshape(-1, 3)
    if not np.allclose(bary.sum(1), 1.0, atol=1e-3):
        raise ModelFileError(f"{what}: barycentric rows must sum to 1; sums range over "
                             f"[{bary.sum(1).min():.4g}, {bary.sum(1).max():.4g}]")
    if faces.size and (faces.min() < 0 or (n_faces is not None and faces.max() >= n_faces)):
        raise ModelFileError(f"{what}: triangle indices must lie in [0, {n_faces}); got range "
                             f"[{faces.min()}, {faces.max()}] (an embedding for another mesh?)")
    return LandmarkEmbedding(faces.astype(np.int64), bary)


def load_flame_landmarks(path: str | os.PathLike, *,
                         n_faces: int | None = None) -> tuple[dict[str, LandmarkEmbedding], dict]:
    """Read a user-supplied FLAME landmark embedding.

    Parameters
    ----------
    path : path-like
        Either DECA's ``landmark_embedding.npy`` (an ``np.save``-d dict; its torch tensors are
        decoded with torch's weights-only loader, other objects are refused) giving
        ``"ibug68"`` from ``full_lmk_faces_idx``/``full_lmk_bary_coords`` and ``"ibug51"`` from
        ``static_lmk_*``; or FLAME's ``mediapipe_landmark_embedding.npz`` (``lmk_face_idx``,
        ``lmk_b_coords``) giving ``"mp105"`` (``"mp<L>"`` for L points). The dynamic contour
        table of DECA's file is not used.
    n_faces : int, optional
        Number of mesh triangles, to check the indices.

    Returns
    -------
    embeddings : dict of str to LandmarkEmbedding
    info : dict
        Source file, kinds and (for MediaPipe) the ``landmark_indices`` if present.

    Raises
    ------
    ModelFileError
        Missing or unreadable file, unknown layout, disallowed objects or bad indices.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"landmark embedding file not found: {path}")
    out: dict[str, LandmarkEmbedding] = {}
    info: dict[str, Any] = {"source": path.name}
    if path.suffix.lower() == ".npz":
        try:
            entries = _read_npz(path)
        except Exception as exc:  # zip/format errors of a user file
            raise ModelFileError(f"cannot read landmark file {path}: {type(exc).__name__}: "
                                 f"{exc}") from exc
        if "lmk_face_idx" not in entries or "lmk_b_coords" not in entries:
            raise ModelFileError(f"{path} lacks 'lmk_face_idx'/'lmk_b_coords' (FLAME's "
                                 f"MediaPipe embedding layout); found {sorted(entries)}")
        emb = _embedding(entries["lmk_face_idx"], entries["lmk_b_coords"], path.name, n_faces)
        kind = f"mp{len(emb)}"
        out[kind] = emb
        if "landmark_indices" in entries:
            info["mediapipe_indices"] = [int(i) for i in entries["landmark_indices"].ravel()]
    else:
        obj = _read_npy_object(path)
        if isinstance(obj, np.ndarray) and obj.dtype == object and obj.size == 1:
            obj = obj.reshape(()).item()
        if not isinstance(obj, dict):
            raise ModelFileError(f"{path} does not hold a dict of landmark arrays (DECA's "
                                 f"landmark_embedding.npy layout); got {type(obj).__name__}")
        obj = {str(k): v for k, v in obj.items()}
        for prefix, size in (("full", 68), ("static", 51)):
            fk, bk = f"{prefix}_lmk_faces_idx", f"{prefix}_lmk_bary_coords"
            if fk in obj and bk in obj:
                emb = _embedding(obj[fk], obj[bk], f"{path.name}[{prefix}]", n_faces)
                out[f"ibug{len(emb)}" if len(emb) == size else f"{prefix}{len(emb)}"] = emb
        if not out:
            raise ModelFileError(f"{path} has neither full_lmk_* nor static_lmk_* entries; "
                                 f"found {sorted(obj)}")
    info["kinds"] = {k: len(v) for k, v in out.items()}
    return out, info


# ====================================================================== the model
class FlameModel(FaceModel):
    """FLAME: a linear shape/expression model with linear blend skinning and pose correctives.

    Build it with :func:`load_flame`. Identity coefficients are FLAME's shape coefficients
    (K = ``n_shape``), expression coefficients its expression coefficients (E = ``n_expr``,
    ``expression_kind="pca"``, so the AU view raises); ``pose`` (B, J-1, 3) holds the axis-angle
    rotations of the non-root joints (neck, jaw, left and right eye for FLAME; see
    :attr:`joint_names`). The root rotation is :meth:`forward`'s ``rotation`` (about the origin,
    after skinning; see the module docstring and :meth:`root_translation`).

    Parameters
    ----------
    v_template : array, shape (V, 3)
    faces : array, shape (F, 3)
    id_basis : array, shape (K, V, 3)
        Identity (shape) displacements per unit coefficient.
    expr_basis : array, shape (E, V, 3)
        Expression displacements per unit coefficient.
    pose_basis : array, shape (9 (J-1), V, 3)
        Pose correctives: ``pose_basis[n]`` multiplies pose feature ``n`` (``posedirs`` of the
        file moved to the front axis). Feature ``9 (j-1) + 3 r + c`` is ``(R(θ_j) - I)[r, c]``.
    j_regressor : array, shape (J, V)
        Rest joints are ``j_regressor @ shaped_template``.
    skin_weights : array, shape (V, J)
        Linear-blend-skinning weights (rows sum to 1).
    parents : sequence of int, length J
        Parent joint of each joint; ``parents[0] == -1`` (root) and ``parents[j] < j``.
    joint_names : sequence of str, length J - 1, optional
        Names of the posed (non-root) joints, in ``pose`` order.
    name, landmarks, part_names, part_labels, meta, dtype
        As for :class:`~mxkit.morph.FaceModel`.
    """

    def __init__(self, *, v_template: Any, faces: Any, id_basis: Any, expr_basis: Any,
                 pose_basis: Any, j_regressor: Any, skin_weights: Any, parents: Sequence[int],
                 joint_names: Sequence[str] | None = None, name: str = "flame",
                 landmarks: Mapping[str, LandmarkEmbedding] | None = None,
                 part_names: Sequence[str] | None = None, part_labels: Any = None,
                 meta: dict | None = None, dtype: torch.dtype = torch.float32):
        id_basis = np.asarray(id_basis)
        expr_basis = np.asarray(expr_basis)
        super().__init__(
            name=name, v_template=v_template, faces=faces, expr_basis=expr_basis,
            expr_names=[f"expr{e:03d}" for e in range(expr_basis.shape[0])]
            if expr_basis.ndim == 3 else [],
            id_basis=id_basis, id_names=[f"shape{k:03d}" for k in range(id_basis.shape[0])]
            if id_basis.ndim == 3 else None,
            landmarks=landmarks, part_names=part_names, part_labels=part_labels, meta=meta,
            expression_kind="pca", dtype=dtype,
        )
        V = self.n_vertices
        self.parents: tuple[int, ...] = tuple(int(p) for p in parents)
        J = len(self.parents)
        if J < 1 or self.parents[0] != -1 or any(not 0 <= p < j
                                                 for j, p in enumerate(self.parents) if j):
            raise InputValueError(f"parents must start with -1 (the root) and list each joint "
                                  f"after its parent; got {list(self.parents)}")
        pose_basis = np.asarray(pose_basis)
        j_regressor = np.asarray(j_regressor)
        skin_weights = np.asarray(skin_weights)
        check_shape(pose_basis, (9 * (J - 1), V, 3), "pose_basis")
        check_shape(j_regressor, (J, V), "j_regressor")
        check_shape(skin_weights, (V, J), "skin_weights")
        self.joint_names: tuple[str, ...] = (
            tuple(joint_names) if joint_names is not None
            else tuple(f"joint{j}" for j in range(1, J)))
        if len(self.joint_names) != J - 1:
            raise ShapeError(f"joint_names has {len(self.joint_names)} names for {J - 1} posed "
                             "joints")

        def buf(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(x), dtype=dtype)

        self.register_buffer("pose_basis", buf(pose_basis), persistent=False)
        self.register_buffer("j_regressor", buf(j_regressor), persistent=False)
        self.register_buffer("skin_weights", buf(skin_weights), persistent=False)
        # The rest joints are linear in (β, ψ): precompute their template and bases.
        v64 = np.asarray(v_template, dtype=np.float64)
        self.register_buffer("_j_template", buf(j_regressor @ v64), persistent=False)
        self.register_buffer("_j_id", buf(np.einsum("jv,kvc->kjc", j_regressor, id_basis)),
                             persistent=False)
        self.register_buffer("_j_expr", buf(np.einsum("jv,evc->ejc", j_regressor, expr_basis)),
                             persistent=False)

    @property
    def n_joints(self) -> int:
        """Number of posed joints (FLAME: 4 = neck, jaw, left eye, right eye; root excluded)."""
        return len(self.parents) - 1

    def pose_index(self, name: str) -> int:
        """Index into ``pose[:, i]`` of a joint by name (e.g. ``"jaw"``)."""
        if name not in self.joint_names:
            raise InputValueError(f"unknown joint {name!r}; known: {list(self.joint_names)}")
        return self.joint_names.index(name)

    # ------------------------------------------------------------------ kinematics
    def rest_joints(self, identity: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        """Rest-pose joint positions ``J_regressor @ (T + S β + X ψ)``.

        Parameters
        ----------
        identity : Tensor, shape (B, K)
        expression : Tensor, shape (B, E)

        Returns
        -------
        Tensor, shape (B, J, 3)
            All joints including the root (index 0), in the model frame.
        """
        out = self._j_template.expand(identity.shape[0], -1, -1)
        if self.n_identity:
            out = out + torch.einsum("bk,kjc->bjc", identity, self._j_id)
        if self.n_expressions:
            out = out + torch.einsum("be,ejc->bjc", expression, self._j_expr)
        return out

    def _kinematics(self, rest: torch.Tensor, rot: torch.Tensor):
        """World rotations (B, J, 3, 3) and positions (B, J, 3) with an identity root."""
        B = rest.shape[0]
        eye = torch.eye(3, dtype=rest.dtype, device=rest.device).expand(B, 3, 3)
        world_r = [eye]
        world_t = [rest[:, 0]]
        for j in range(1, len(self.parents)):
            p = self.parents[j]
            offset = (world_r[p] @ (rest[:, j] - rest[:, p])[..., None])[..., 0]
            world_t.append(world_t[p] + offset)
            world_r.append(world_r[p] @ rot[:, j - 1])
        return torch.stack(world_r, 1), torch.stack(world_t, 1)

    def posed_joints(self, identity: torch.Tensor, expression: torch.Tensor,
                     pose: torch.Tensor | None = None) -> torch.Tensor:
        """Joint positions after forward kinematics (before the global similarity).

        Parameters
        ----------
        identity : Tensor, shape (B, K)
        expression : Tensor, shape (B, E)
        pose : Tensor, shape (B, J-1, 3), optional

        Returns
        -------
        Tensor, shape (B, J, 3)
        """
        rest = self.rest_joints(identity, expression)
        if pose is None:
            return rest
        check_shape(pose, (rest.shape[0], self.n_joints, 3), "pose")
        return self._kinematics(rest, axis_angle_to_matrix(pose))[1]

    def deform(self, identity: torch.Tensor, expression: torch.Tensor,
               pose: torch.Tensor | None = None) -> torch.Tensor:
        """Shaped, pose-corrected and skinned vertices (before the global similarity).

        Parameters
        ----------
        identity : Tensor, shape (B, K)
            Shape coefficients.
        expression : Tensor, shape (B, E)
            Expression coefficients.
        pose : Tensor, shape (B, J-1, 3), optional
            Axis-angle rotations (radians) of the non-root joints in :attr:`joint_names` order.
            ``None`` returns the shaped template ``T + S β + X ψ`` unskinned (equal to a zero
            pose up to rounding, since the skinning weights sum to one).

        Returns
        -------
        Tensor, shape (B, V, 3)
        """
        shaped = super().deform(identity, expression)
        if pose is None:
            return shaped
        B = shaped.shape[0]
        check_shape(pose, (B, self.n_joints, 3), "pose")
        rot = axis_angle_to_matrix(pose)                                         # (B, J-1, 3, 3)
        eye = torch.eye(3, dtype=rot.dtype, device=rot.device)
        feature = (rot - eye).reshape(B, -1)                                     # (B, 9(J-1))
        posed = shaped + (feature @ self.pose_basis.reshape(feature.shape[1], -1)).view_as(shaped)
        rest = self.rest_joints(identity, expression)                            # (B, J, 3)
        world_r, world_t = self._kinematics(rest, rot)
        # Skinning transform of joint j: x -> G_j x + (g_j - G_j J_j).
        shift = world_t - (world_r @ rest[..., None])[..., 0]                    # (B, J, 3)
        blend_r = torch.einsum("vj,bjrc->bvrc", self.skin_weights, world_r)      # (B, V, 3, 3)
        blend_t = torch.einsum("vj,bjc->bvc", self.skin_weights, shift)          # (B, V, 3)
        return torch.einsum("bvrc,bvc->bvr", blend_r, posed) + blend_t

    def root_translation(self, identity: torch.Tensor, expression: torch.Tensor,
                         rotation: torch.Tensor) -> torch.Tensor:
        """Translation turning mxkit's origin-centred head rotation into FLAME's root rotation.

        FLAME rotates the head about its root joint ``J_0``; :meth:`forward` rotates about the
        origin. Adding ``J_0 - R J_0`` to ``translation`` reproduces FLAME exactly.

        Parameters
        ----------
        identity : Tensor, shape (B, K)
        expression : Tensor, shape (B, E)
        rotation : Tensor, shape (B, 3) axis-angle or (B, 3, 3)

        Returns
        -------
        Tensor, shape (B, 3)
        """
        like = self.v_template
        root = self.rest_joints(identity.to(like), expression.to(like))[:, 0]
        R = rotation.to(like)
        if R.dim() == 2:
            check_shape(R, (root.shape[0], 3), "rotation")
            R = axis_angle_to_matrix(R)
        check_shape(R, (root.shape[0], 3, 3), "rotation")
        return root - (R @ root[..., None])[..., 0]

    def split_full_pose(self, full_pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Split FLAME's full pose ``[global, neck, jaw, left eye, right eye]``.

        Parameters
        ----------
        full_pose : Tensor, shape (B, 3 J) or (B, J, 3)
            Axis-angle rotations of all joints in file order, root first (smplx/DECA layout).

        Returns
        -------
        rotation : Tensor, shape (B, 3)
            Pass as ``rotation=`` (with :meth:`root_translation` for FLAME's exact placement).
        pose : Tensor, shape (B, J-1, 3)
            Pass as ``pose=``.
        """
        J = len(self.parents)
        if full_pose.dim() == 2:
            check_shape(full_pose, ("B", 3 * J), "full_pose")
            full_pose = full_pose.reshape(full_pose.shape[0], J, 3)
        check_shape(full_pose, ("B", J, 3), "full_pose")
        return full_pose[:, 0], full_pose[:, 1:]

    def extra_repr(self) -> str:
        return super().extra_repr() + f", joints={list(self.joint_names)}"


# ====================================================================== loader
def _shape_split(shapedirs: np.ndarray, shape_split: int | None, where: str) -> tuple[int, str]:
    """Number of identity components at the front of ``shapedirs`` (V, 3, D)."""
    D = shapedirs.shape[-1]
    if shape_split is not None:
        if int(shape_split) != shape_split or not 0 <= shape_split <= D:
            raise InputValueError(f"shape_split must be an integer in [0, {D}]; got "
                                  f"{shape_split!r}")
        return int(shape_split), "argument shape_split"
    if D == 400:
        return 300, "FLAME layout: 300 identity + 100 expression components"
    # Each block is a PCA basis scaled by its standard deviations, so component norms decrease
    # within a block and jump up where the expression block starts.
    norms = np.sqrt((shapedirs ** 2).sum((0, 1)))
    ratio = norms[1:] / np.maximum(norms[:-1], 1e-30)
    jumps = np.flatnonzero(ratio > 1.5) + 1
    if len(jumps) == 1:
        return int(jumps[0]), "detected from component norms (rise at the expression block)"
    raise ModelFileError(
        f"{where}: cannot tell how many of the {D} shapedirs components are identity and how "
        f"many expression (FLAME files have 400 = 300 + 100; component-norm rises at "
        f"{jumps.tolist()}); pass shape_split=<number of identity components>"
    )


def _joint_names(rest: np.ndarray, parents: tuple[int, ...]) -> tuple[str, ...]:
    """FLAME's posed joints: neck, jaw, then the two eyes named by side (+x = subject's left)."""
    names = ["neck", "jaw", "eye_a", "eye_b"]
    if parents == (-1, 0, 1, 1, 1):
        x3, x4 = rest[3, 0], rest[4, 0]
        if x3 > 0 > x4:
            names[2:] = ["eye_left", "eye_right"]
        elif x4 > 0 > x3:
            names[2:] = ["eye_right", "eye_left"]
    return tuple(names)


def _parts(weights: np.ndarray, joint_names: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Label vertices dominated (weight > 0.5) by an eye joint as that eyeball."""
    names = ["skin"]
    labels = np.zeros(weights.shape[0], dtype=np.int64)
    for j, jname in enumerate(joint_names, start=1):
        if jname.startswith("eye"):
            mask = weights[:, j] > 0.5
            if mask.any():
                names.append(jname)
                labels[mask] = len(names) - 1
    return names, labels


def load_flame(path: str | os.PathLike, *, dtype: torch.dtype = torch.float32,
               n_shape: int | None = None, n_expr: int | None = None,
               landmark_embedding: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
               shape_split: int | None = None,
               cache: bool | str | os.PathLike = True) -> FlameModel:
    """Load a user-supplied FLAME model without chumpy.

    Parameters
    ----------
    path : path-like
        ``generic_model.pkl`` / ``female_model.pkl`` / ``male_model.pkl`` (FLAME 2020),
        ``flame2023.pkl`` (with or without jaw) or ``flame2023_Open.pkl``. Nothing is ever
        downloaded.
    dtype : torch.dtype
        Dtype of the model's buffers.
    n_shape, n_expr : int, optional
        Keep only the first ``n_shape`` identity and ``n_expr`` expression components (all by
        default: 300 and 100 for FLAME).
    landmark_embedding : path-like or sequence of path-likes, optional
        DECA's ``landmark_embedding.npy`` (kinds ``"ibug68"``, ``"ibug51"``) and/or FLAME's
        ``mediapipe_landmark_embedding.npz`` (kind ``"mp105"``); see
        :func:`load_flame_landmarks`.
    shape_split : int, optional
        Number of identity components at the front of ``shapedirs``. By default 300 when it has
        400 components, otherwise detected from the component norms.
    cache : bool or path-like
        ``True`` caches the converted arrays in :func:`flame_cache_dir` (keyed by the pickle's
        sha256; a corrupt entry is rebuilt), a path uses that folder, ``False`` disables it.

    Returns
    -------
    FlameModel
        ``meta`` records the file, its sha256, a content fingerprint, the guessed release and a
        licence note, the identity/expression split, joint names and the conventions used.

    Raises
    ------
    ModelFileError
        Missing file, corrupt pickle, a class the restricted unpickler refuses, missing entries
        or wrong shapes (the message says what was expected).
    InputValueError
        ``n_shape``/``n_expr``/``shape_split`` out of range.

    Examples
    --------
    >>> model = load_flame("~/models/flame2023_Open.pkl", n_shape=100, n_expr=50)  # doctest: +SKIP
    >>> pose = torch.zeros(1, model.n_joints, 3)                                    # doctest: +SKIP
    >>> pose[0, model.pose_index("jaw"), 0] = 0.2   # open the mouth                # doctest: +SKIP
    >>> model(pose=pose).shape                                                      # doctest: +SKIP
    torch.Size([1, 5023, 3])
    """
    path = Path(path).expanduser()
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.pkl"))
        raise ModelFileError(f"{path} is a folder; pass the FLAME .pkl file itself (found "
                             f"{found or 'no .pkl files'})")
    if not path.is_file():
        raise ModelFileError(f"FLAME model file not found: {path}. {_REGISTER_HINT}")
    data = _load_arrays(path, cache)
    info = data["info"]
    shapedirs = data["shapedirs"]
    D = shapedirs.shape[-1]
    n_id_file, split_source = _shape_split(shapedirs, shape_split, str(path))
    n_ex_file = D - n_id_file
    for value, avail, label in ((n_shape, n_id_file, "n_shape"), (n_expr, n_ex_file, "n_expr")):
        if value is not None and (int(value) != value or not 0 <= value <= avail):
            raise InputValueError(f"{label} must be an integer in [0, {avail}] for {path.name}; "
                                  f"got {value!r}")
    K = n_id_file if n_shape is None else int(n_shape)
    E = n_ex_file if n_expr is None else int(n_expr)
    id_basis = np.moveaxis(shapedirs[:, :, :K], -1, 0)
    expr_basis = np.moveaxis(shapedirs[:, :, n_id_file:n_id_file + E], -1, 0)
    pose_basis = np.moveaxis(data["posedirs"], -1, 0)
    parents = _parents(data["kintree_table"], str(path))
    rest = data["J_regressor"] @ data["v_template"]
    joint_names = _joint_names(rest, parents)
    part_names, part_labels = _parts(data["weights"], joint_names)

    landmarks: dict[str, LandmarkEmbedding] = {}
    lmk_info = []
    if landmark_embedding is not None:
        sources = ([landmark_embedding] if isinstance(landmark_embedding, (str, os.PathLike))
                   else list(landmark_embedding))
        for src in sources:
            embs, linfo = load_flame_landmarks(Path(src).expanduser(), n_faces=len(data["f"]))
            landmarks.update(embs)
            lmk_info.append(linfo)

    V, F = data["v_template"].shape[0], data["f"].shape[0]
    meta = {
        "name": "flame",
        **_variant(path.name),
        "source_file": path.name,
        "source_path": str(path.resolve()),
        "source_sha256": info["source_sha256"],
        "content_sha256": info["content_sha256"],
        "storage": info.get("storage"),
        "keys": info.get("keys"),
        "bs_type": info.get("bs_type", "lrotmin"),
        "bs_style": info.get("bs_style", "lbs"),
        "official_topology": bool(V == _FLAME_V and F == _FLAME_F),
        "shapedirs_split": {"identity": n_id_file, "expression": n_ex_file,
                            "source": split_source},
        "n_shape": K,
        "n_expr": E,
        "joints": ["global", *joint_names],
        "jaw_skinned": bool(data["weights"][:, 2].max() > 0),
        "pose_convention": ("pose[:, i] is the axis-angle rotation (radians) of joint_names[i]; "
                            "pose feature 9*i + 3*r + c = (R_i - I)[r, c] (row-major), "
                            "contracted with posedirs[..., 9*i + 3*r + c]"),
        "root_convention": ("FLAME's global (root) rotation is FaceModel's rotation, applied "
                            "about the origin after skinning; add root_translation(...) to "
                            "translation to rotate about the root joint as FLAME does"),
        "units": "metres (as stored in the file)",
        "expression_kind": "pca",
        "landmark_files": lmk_info,
        "cache": info.get("cache"),
        "citation": _CITATION,
    }
    return FlameModel(
        v_template=data["v_template"], faces=data["f"], id_basis=id_basis, expr_basis=expr_basis,
        pose_basis=pose_basis, j_regressor=data["J_regressor"], skin_weights=data["weights"],
        parents=parents, joint_names=joint_names, landmarks=landmarks, part_names=part_names,
        part_labels=part_labels, meta=meta, dtype=dtype,
    )
