"""FLAME: chumpy-free restricted unpickling, caching, landmark files and skinning.

Everything runs on a tiny synthetic FLAME-format model written by the tests themselves
(30 vertices, 5 joints, 6 identity + 4 expression components); no MPI data is used. The
chumpy objects are pickled through stub ``chumpy.*`` modules that exist only while pickling.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pickle
import pickletools
import re
import struct
import sys
import types

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from mxkit.errors import InputValueError, ModelFileError
from mxkit.morph import flame as flame_mod
from mxkit.morph import load_face_model
from mxkit.morph.flame import (
    FlameModel,
    flame_cache_dir,
    load_flame,
    load_flame_landmarks,
    read_flame_pickle,
)

V, F, J = 30, 12, 5
N_ID, N_EX = 6, 4
ROOT_ID = 4294967295  # FLAME/SMPL store the root's parent as uint32 max
PARENTS = (-1, 0, 1, 1, 1)
F64 = torch.float64


# ====================================================================== synthetic model
def synthetic_arrays(seed: int = 0) -> dict:
    """A FLAME-format model: groups of vertices skinned to root, neck, jaw and the two eyes."""
    rng = np.random.default_rng(seed)
    v = rng.uniform(-0.08, 0.08, size=(V, 3))
    v[14:18, 0] = np.abs(v[14:18, 0]) + 0.02      # left-eye vertices at +x (subject's left)
    v[18:22, 0] = -np.abs(v[18:22, 0]) - 0.02     # right-eye vertices at -x
    faces = np.array([[i, i + 1, i + 2] for i in range(F)], dtype=np.uint32)
    w = np.zeros((V, J))
    w[0:6, 0], w[0:6, 1] = 0.3, 0.7               # neck region, blended with the root
    w[6:14, 2] = 1.0                              # jaw, one-hot
    w[14:18, 3] = 1.0                             # left eye
    w[18:22, 4] = 1.0                             # right eye
    w[22:26, 0] = 1.0                             # root only (skinning is the identity)
    w[26:30, 1], w[26:30, 2] = 0.4, 0.6           # lips: neck/jaw blend
    groups = [range(22, 26), range(0, 6), range(6, 14), range(14, 18), range(18, 22)]
    jreg = np.zeros((J, V))
    for j, idx in enumerate(groups):
        jreg[j, list(idx)] = 1.0 / len(idx)
    dirs = rng.normal(size=(V, 3, N_ID + N_EX))
    dirs /= np.sqrt((dirs ** 2).sum((0, 1)))
    scales = np.array([1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.9, 0.7, 0.5, 0.3]) * 1e-2
    return {
        "v_template": v,
        "f": faces,
        "shapedirs": dirs * scales,
        "posedirs": rng.normal(scale=1e-3, size=(V, 3, 36)),
        "J_regressor": sp.csc_matrix(jreg),
        "weights": w,
        "kintree_table": np.array([[ROOT_ID, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }


@contextlib.contextmanager
def fake_chumpy():
    """Stub ``chumpy.ch.Ch`` and ``chumpy.reordering.Select`` that pickle like chumpy's."""
    names = ("chumpy", "chumpy.ch", "chumpy.reordering")
    saved = {n: sys.modules.get(n) for n in names}

    class Ch:
        def __init__(self, x):
            self.x = np.asarray(x)
            self._dirty_vars = set()
            self._itr = None
            self._depends_on_deps = {}
            self._parents = {}
            self._cache = {"r": None}

        def __getstate__(self):  # like chumpy: the weak-reference caches are not pickled
            state = dict(self.__dict__)
            del state["_parents"], state["_cache"]
            return state

    class Select(Ch):
        def __init__(self, a, idxs, preferred_shape):
            self.a, self.idxs, self.preferred_shape = a, np.asarray(idxs), tuple(preferred_shape)
            self._dirty_vars, self._parents, self._cache = set(), {}, {}

    class Add(Ch):  # a chumpy expression node, which cannot be evaluated without chumpy
        def __init__(self, a, b):
            self.a, self.b, self._parents, self._cache = a, b, {}, {}

    pkg, ch, reo, ops = (types.ModuleType(n) for n in (*names, "chumpy.ch_ops"))
    for cls, mod in ((Ch, ch), (Select, reo), (Add, ops)):
        cls.__module__, cls.__qualname__ = mod.__name__, cls.__name__
        setattr(mod, cls.__name__, cls)
    pkg.ch, pkg.reordering, pkg.ch_ops = ch, reo, ops
    sys.modules.update({"chumpy": pkg, "chumpy.ch": ch, "chumpy.reordering": reo,
                        "chumpy.ch_ops": ops})
    try:
        yield types.SimpleNamespace(Ch=Ch, Select=Select, Add=Add)
    finally:
        for n in (*names, "chumpy.ch_ops"):
            if saved.get(n) is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = saved[n]


def chumpy_dict(arrays: dict, stubs) -> dict:
    """Wrap arrays as FLAME 2020 does: Ch objects, and posedirs as an index view."""
    d = dict(arrays)
    for key in ("v_template", "shapedirs", "weights"):
        d[key] = stubs.Ch(arrays[key])
    flat = arrays["posedirs"].ravel()
    perm = np.random.default_rng(1).permutation(flat.size)
    base = np.empty_like(flat)
    base[perm] = flat                              # base.ravel()[perm] == flat
    d["posedirs"] = stubs.Select(stubs.Ch(base), perm, arrays["posedirs"].shape)
    return d


_OLD_PATHS = {
    np.ndarray.__reduce__(np.zeros(1))[0]: ("numpy.core.multiarray", "_reconstruct"),
    sp.csc_matrix: ("scipy.sparse.csc", "csc_matrix"),
}


class Py2Pickler(pickle._Pickler):
    """Writes what Python 2 wrote: text and raw data as py2 ``str`` (BINSTRING), numpy and
    scipy under their old module paths, ``__builtin__`` for builtins (protocol 2)."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        data = obj if isinstance(obj, bytes) else obj.encode("latin1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str

    def save_global(self, obj, name=None):
        if obj in _OLD_PATHS:
            module, qualname = _OLD_PATHS[obj]
            self.write(pickle.GLOBAL + f"{module}\n{qualname}\n".encode())
            self.memoize(obj)
            return
        super().save_global(obj, name)


def write_model(path, kind: str = "chumpy", arrays: dict | None = None):
    """Write a FLAME-format pickle: 'chumpy' (protocol 2), 'plain' (2023 Open style) or 'py2'."""
    arrays = synthetic_arrays() if arrays is None else arrays
    with open(path, "wb") as fh:
        if kind == "plain":
            pickle.dump(arrays, fh, protocol=5)
        else:
            with fake_chumpy() as stubs:
                data = chumpy_dict(arrays, stubs)
                if kind == "py2":
                    Py2Pickler(fh, protocol=2).dump(data)
                else:
                    pickle.dump(data, fh, protocol=2)
    return path


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("MXKIT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def arrays():
    return synthetic_arrays()


@pytest.fixture
def model_path(tmp_path):
    return write_model(tmp_path / "generic_model.pkl")


@pytest.fixture
def model(model_path):
    return load_flame(model_path, dtype=F64)


# ====================================================================== numpy references
def rodrigues(aa):
    aa = np.asarray(aa, dtype=np.float64)
    theta = np.linalg.norm(aa)
    if theta < 1e-15:
        return np.eye(3)
    k = aa / theta
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * K + (1 - np.cos(theta)) * K @ K


def shaped_np(arrays, beta, psi):
    S = arrays["shapedirs"]
    return arrays["v_template"] + S[:, :, :N_ID] @ beta + S[:, :, N_ID:] @ psi


def naive_flame(arrays, beta, psi, full_pose):
    """FLAME as in the SMPL paper: 4x4 chain G_k, G'_k = G_k G_k(rest)^-1, per-vertex blend.

    ``full_pose`` (5, 3) is FLAME's own layout: global (about the root joint), neck, jaw, eyes.
    """
    shaped = shaped_np(arrays, beta, psi)
    jreg = arrays["J_regressor"].toarray()
    joints = jreg @ shaped
    rots = [rodrigues(p) for p in full_pose]
    feature = np.concatenate([(R - np.eye(3)).ravel() for R in rots[1:]])
    posed = shaped + arrays["posedirs"] @ feature
    G = []
    for j in range(J):
        local = np.eye(4)
        local[:3, :3] = rots[j]
        local[:3, 3] = joints[j] - (joints[PARENTS[j]] if j else 0.0)
        G.append(local if j == 0 else G[PARENTS[j]] @ local)
    rest_inv = []
    for j in range(J):
        m = np.eye(4)
        m[:3, 3] = -joints[j]
        rest_inv.append(G[j] @ m)
    out = np.empty_like(posed)
    for v in range(V):
        T = sum(arrays["weights"][v, j] * rest_inv[j] for j in range(J))
        out[v] = (T @ np.append(posed[v], 1.0))[:3]
    return out


# ====================================================================== unpickling
class TestUnpickler:
    def test_chumpy_pickle_loads_without_chumpy(self, model_path, arrays):
        assert importlib.util.find_spec("chumpy") is None or "chumpy" not in sys.modules
        assert "chumpy.ch" not in sys.modules
        got = read_flame_pickle(model_path)
        for key in ("v_template", "shapedirs", "posedirs", "weights", "kintree_table"):
            np.testing.assert_array_equal(got[key], arrays[key], err_msg=key)
        np.testing.assert_array_equal(got["J_regressor"], arrays["J_regressor"].toarray())
        np.testing.assert_array_equal(got["f"], arrays["f"].astype(np.int64))
        assert got["info"]["storage"] == "chumpy"
        assert got["info"]["bs_type"] == "lrotmin"
        assert "chumpy" not in sys.modules

    @pytest.mark.parametrize("kind", ["plain", "py2"])
    def test_plain_and_python2_pickles(self, tmp_path, arrays, kind):
        path = write_model(tmp_path / "m.pkl", kind)
        if kind == "py2":
            raw = path.read_bytes()
            assert b"numpy.core.multiarray\n_reconstruct" in raw
            assert b"scipy.sparse.csc\ncsc_matrix" in raw and b"__builtin__" in raw
            ops = {op.name for op, _, _ in pickletools.genops(raw)}
            assert "BINSTRING" in ops and not ops & {"BINUNICODE", "SHORT_BINUNICODE"}
        got = read_flame_pickle(path)
        for key in ("v_template", "shapedirs", "posedirs", "weights"):
            np.testing.assert_array_equal(got[key], arrays[key], err_msg=key)
        np.testing.assert_array_equal(got["J_regressor"], arrays["J_regressor"].toarray())
        assert got["info"]["storage"] == ("numpy" if kind == "plain" else "chumpy")

    def test_content_fingerprint_ignores_encoding(self, tmp_path):
        fps = {kind: read_flame_pickle(write_model(tmp_path / f"{kind}.pkl", kind))["info"]
               ["content_sha256"] for kind in ("chumpy", "plain", "py2")}
        arrays = synthetic_arrays()
        arrays["f"] = arrays["f"].astype(np.int64)                      # same content, other dtype
        fps["int64 faces"] = read_flame_pickle(write_model(tmp_path / "i8.pkl", "plain", arrays))["info"][
            "content_sha256"]
        assert len(set(fps.values())) == 1, fps
        assert re.fullmatch(r"[0-9a-f]{64}", fps["plain"])

    @pytest.mark.parametrize("key", ["v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights",
                                     "kintree_table"])
    def test_content_fingerprint_changes_with_any_content(self, tmp_path, key):
        """One ulp in one array, two swapped face corners, one re-parented joint: a new fingerprint."""
        base = read_flame_pickle(write_model(tmp_path / "base.pkl", "plain"))["info"]["content_sha256"]
        arrays = synthetic_arrays()
        if key == "f":
            arrays["f"] = arrays["f"].copy()
            arrays["f"][0] = arrays["f"][0][[1, 0, 2]]
        elif key == "kintree_table":
            arrays["kintree_table"] = arrays["kintree_table"].copy()
            arrays["kintree_table"][0, 4] = 2                           # right eye hangs off the jaw
        elif key in ("J_regressor", "weights"):                         # keep the rows' sums
            a = arrays[key].toarray() if key == "J_regressor" else arrays[key].copy()
            cols = np.flatnonzero(a[2])                                 # jaw joint / a neck vertex
            assert len(cols) >= 2
            a[2, cols[0]] += 2.0 ** -40
            a[2, cols[1]] -= 2.0 ** -40
            arrays[key] = sp.csc_matrix(a) if key == "J_regressor" else a
        else:
            arrays[key] = arrays[key].copy()
            arrays[key].flat[7] = np.nextafter(arrays[key].flat[7], np.inf)
        changed = read_flame_pickle(write_model(tmp_path / "changed.pkl", "plain", arrays))["info"]
        assert changed["content_sha256"] != base

    @pytest.mark.parametrize("payload, name", [
        (b"cos\nsystem\n(S'echo pwned'\ntR.", "os.system"),
        (b"cposix\nsystem\n(S'echo pwned'\ntR.", "posix.system"),
        (b"cbuiltins\neval\n(S'1+1'\ntR.", "builtins.eval"),
        (b"c__builtin__\ngetattr\n(S'x'\nS'y'\ntR.", "builtins.getattr"),
        (b"cnumpy\nload\n(S'/etc/passwd'\ntR.", "numpy.load"),
        (b"ctorch\nload\n(S'x'\ntR.", "torch.load"),
    ])
    def test_refuses_other_globals(self, tmp_path, payload, name):
        path = tmp_path / "evil.pkl"
        path.write_bytes(payload)
        with pytest.raises(ModelFileError, match=name.replace(".", r"\.")):
            read_flame_pickle(path)

    def test_refuses_reduce_to_os_system(self, tmp_path):
        class Evil:
            def __reduce__(self):
                return os.system, ("echo pwned",)

        path = tmp_path / "evil.pkl"
        path.write_bytes(pickle.dumps({"v_template": Evil()}, protocol=2))
        with pytest.raises(ModelFileError, match=r"system.*restricted unpickler"):
            load_flame(path)

    def test_missing_key(self, tmp_path, arrays):
        del arrays["weights"]
        path = write_model(tmp_path / "m.pkl", "plain", arrays)
        with pytest.raises(ModelFileError, match=r"lacks the FLAME entries \['weights'\]"):
            load_flame(path)

    @pytest.mark.parametrize("key, value, expected", [
        ("posedirs", np.zeros((V, 3, 35)), r"\(30, 3, 36\)"),
        ("weights", np.zeros((V, 4)), r"\(30, 5\)"),
        ("kintree_table", np.zeros((2, 4), dtype=np.int64), r"\(2, 5\)"),
        ("shapedirs", np.zeros((V, 400)), r"\(30, 3, \*\)"),
        ("J_regressor", np.zeros((5, V + 1)), r"\(5, 30\)"),
        ("f", np.array([[0, 1, V]]), r"outside \[0, 30\)"),
        ("weights", np.full((V, J), 0.5), "sum to 1"),
        ("bs_type", "lrot", "lrotmin"),
    ])
    def test_wrong_content(self, tmp_path, arrays, key, value, expected):
        arrays[key] = value
        path = write_model(tmp_path / "m.pkl", "plain", arrays)
        with pytest.raises(ModelFileError, match=expected):
            load_flame(path)

    def test_corrupt_and_missing_files(self, tmp_path, model_path):
        broken = tmp_path / "broken.pkl"
        broken.write_bytes(model_path.read_bytes()[:200])
        with pytest.raises(ModelFileError, match="corrupt or truncated"):
            load_flame(broken)
        with pytest.raises(ModelFileError, match="flame.is.tue.mpg.de"):
            load_flame(tmp_path / "nope.pkl")
        with pytest.raises(ModelFileError, match="is a folder"):
            load_flame(tmp_path)
        listing = tmp_path / "list.pkl"
        listing.write_bytes(pickle.dumps([1, 2]))
        with pytest.raises(ModelFileError, match="not the dict"):
            load_flame(listing)

    def test_unsupported_chumpy_node(self, tmp_path, arrays):
        with fake_chumpy() as stubs:
            data = dict(arrays, v_template=stubs.Add(stubs.Ch(arrays["v_template"]), 1.0))
            blob = pickle.dumps(data, protocol=2)
        path = tmp_path / "m.pkl"
        path.write_bytes(blob)
        with pytest.raises(ModelFileError, match=r"chumpy\.ch_ops\.Add.*without chumpy"):
            load_flame(path)


# ====================================================================== loader and meta
class TestLoader:
    @pytest.mark.parametrize("filename, variant, licence", [
        ("generic_model.pkl", "flame2020-generic", "non-commercial"),
        ("female_model.pkl", "flame2020-female", "non-commercial"),
        ("flame2023.pkl", "flame2023", "non-commercial"),
        ("flame2023_no_jaw.pkl", "flame2023-nojaw", "non-commercial"),
        ("flame2023_Open.pkl", "flame2023-open", "CC-BY-4.0"),
        ("my_head.pkl", "unknown", "unknown"),
    ])
    def test_variant_and_licence(self, tmp_path, filename, variant, licence):
        path = write_model(tmp_path / filename, "plain" if "Open" in filename else "chumpy")
        m = load_flame(path)
        assert m.meta["variant"] == variant
        assert licence in m.meta["licence"]
        assert "responsible" in m.meta["licence_note"]
        assert m.meta["source_file"] == filename
        assert len(m.meta["source_sha256"]) == 64 and len(m.meta["content_sha256"]) == 64
        assert m.meta["official_topology"] is False
        assert "Li" in m.meta["citation"]

    def test_sizes_split_and_names(self, model, arrays):
        assert isinstance(model, FlameModel)
        assert (model.n_vertices, model.n_faces, model.n_joints) == (V, F, 4)
        assert (model.n_identity, model.n_expressions) == (N_ID, N_EX)
        assert model.expression_kind == "pca"
        assert model.meta["shapedirs_split"]["identity"] == N_ID
        assert "norms" in model.meta["shapedirs_split"]["source"]
        assert model.joint_names == ("neck", "jaw", "eye_left", "eye_right")
        assert model.meta["joints"][0] == "global"
        np.testing.assert_array_equal(model.part_mask("eye_left"), arrays["weights"][:, 3] > 0.5)
        np.testing.assert_array_equal(model.part_mask("eye_right"), arrays["weights"][:, 4] > 0.5)
        assert model.part_mask("skin").sum() == V - 8
        assert len(model.summary()["aus"]) == 0

    def test_truncation_and_explicit_split(self, model_path, arrays):
        m = load_flame(model_path, dtype=F64, n_shape=3, n_expr=2)
        assert (m.n_identity, m.n_expressions) == (3, 2)
        np.testing.assert_allclose(m.id_basis.numpy(),
                                   np.moveaxis(arrays["shapedirs"][:, :, :3], -1, 0))
        np.testing.assert_allclose(m.expr_basis.numpy(),
                                   np.moveaxis(arrays["shapedirs"][:, :, N_ID:N_ID + 2], -1, 0))
        m = load_flame(model_path, shape_split=5)
        assert (m.n_identity, m.n_expressions) == (5, 5)
        for kwargs in ({"n_shape": 7}, {"n_expr": -1}, {"n_shape": 1.5}, {"shape_split": 11}):
            with pytest.raises(InputValueError):
                load_flame(model_path, **kwargs)

    def test_undetectable_split(self, tmp_path, arrays):
        arrays["shapedirs"] = np.ones((V, 3, 10)) * 1e-3       # equal norms: no rise to find
        path = write_model(tmp_path / "m.pkl", "plain", arrays)
        with pytest.raises(ModelFileError, match="shape_split"):
            load_flame(path)
        assert load_flame(path, shape_split=6).n_expressions == 4

    def test_au_view_raises(self, model):
        with pytest.raises(InputValueError, match="ARKit"):
            model.aus_to_expression({"AU12": 0.5})
        with pytest.raises(InputValueError, match="ARKit"):
            model.au_matrix()

    def test_load_face_model(self, model_path):
        m = load_face_model("flame", path=model_path, dtype=F64)
        assert isinstance(m, FlameModel) and m.v_template.dtype == F64
        with pytest.raises(ModelFileError, match=r"path=.*flame\.is\.tue\.mpg\.de"):
            load_face_model("flame")

    def test_device_move_keeps_buffers(self, model):
        m = model.to(torch.float32)
        assert m.pose_basis.dtype == torch.float32 and m.skin_weights.dtype == torch.float32
        assert list(m.parameters()) == []
        pose = torch.zeros(1, 4, 3)
        assert m(pose=pose).dtype == torch.float32


# ====================================================================== cache
class TestCache:
    def test_written_atomically_and_reused(self, model_path, monkeypatch):
        folder = flame_cache_dir()
        assert str(folder).startswith(os.environ["MXKIT_CACHE_DIR"])
        calls = []
        real_replace = os.replace

        def spy(src, dst):
            calls.append((os.fspath(src), os.fspath(dst)))
            return real_replace(src, dst)

        monkeypatch.setattr(os, "replace", spy)
        first = load_flame(model_path, dtype=F64)
        monkeypatch.setattr(os, "replace", real_replace)
        entry = folder / f"{first.meta['source_sha256']}.npz"
        assert first.meta["cache"] == {"status": "written", "path": str(entry)}
        assert len(calls) == 1 and calls[0][1] == str(entry)
        assert os.path.dirname(calls[0][0]) == str(folder) and calls[0][0].endswith(".tmp")
        assert sorted(p.name for p in folder.iterdir()) == [entry.name]

        def no_pickle(path):
            raise AssertionError("the pickle was read again")

        monkeypatch.setattr(flame_mod, "read_flame_pickle", no_pickle)
        second = load_flame(model_path, dtype=F64)
        assert second.meta["cache"]["status"] == "hit"
        assert second.meta["content_sha256"] == first.meta["content_sha256"]
        b = torch.randn(2, N_ID, dtype=F64)
        p = torch.randn(2, 4, 3, dtype=F64) * 0.2
        torch.testing.assert_close(second(b, pose=p), first(b, pose=p), rtol=0, atol=0)

    @pytest.mark.parametrize("damage", ["garbage", "truncated", "other_model"])
    def test_corrupt_entry_is_rebuilt(self, tmp_path, model_path, monkeypatch, damage):
        first = load_flame(model_path)
        entry = flame_cache_dir() / f"{first.meta['source_sha256']}.npz"
        if damage == "garbage":
            entry.write_bytes(b"not a zip file")
        elif damage == "truncated":
            entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
        else:  # a valid entry of another pickle under this name
            other = load_flame(write_model(tmp_path / "other.pkl", "plain",
                                           synthetic_arrays(seed=3)))
            (flame_cache_dir() / f"{other.meta['source_sha256']}.npz").replace(entry)
        reads = []
        real = flame_mod.read_flame_pickle
        monkeypatch.setattr(flame_mod, "read_flame_pickle",
                            lambda path: reads.append(path) or real(path))
        again = load_flame(model_path)
        assert reads == [model_path] and again.meta["cache"]["status"] == "rebuilt"
        torch.testing.assert_close(again.v_template, first.v_template)
        assert load_flame(model_path).meta["cache"]["status"] == "hit"

    def test_failed_write_leaves_nothing(self, model_path, monkeypatch):
        def failing_savez(*args, **kwargs):
            raise OSError("disk full")

        monkeypatch.setattr(np, "savez", failing_savez)
        with pytest.warns(RuntimeWarning, match="disk full"):
            m = load_flame(model_path)
        assert m.meta["cache"]["status"] == "unwritable"
        assert list(flame_cache_dir().iterdir()) == []

    def test_cache_disabled_or_elsewhere(self, tmp_path, model_path):
        m = load_flame(model_path, cache=False)
        assert m.meta["cache"] == {"status": "disabled"}
        assert not flame_cache_dir().exists()
        load_flame(model_path, cache=tmp_path / "mine")
        assert len(list((tmp_path / "mine").glob("*.npz"))) == 1

    def test_default_dir_outside_package(self, monkeypatch, tmp_path):
        monkeypatch.delenv("MXKIT_CACHE_DIR")
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert flame_cache_dir() == tmp_path / "xdg" / "mxkit" / "flame"
        monkeypatch.delenv("XDG_CACHE_HOME")
        assert flame_cache_dir() == flame_cache_dir().home() / ".cache" / "mxkit" / "flame"


# ====================================================================== the model
class TestDeform:
    def test_zero_pose_is_linear_model(self, model, arrays):
        rng = np.random.default_rng(5)
        beta, psi = rng.normal(size=N_ID), rng.normal(size=N_EX)
        expected = shaped_np(arrays, beta, psi)
        b, e = torch.tensor(beta)[None], torch.tensor(psi)[None]
        torch.testing.assert_close(model(b, e)[0].numpy(), expected, rtol=0, atol=1e-15)
        zero = torch.zeros(1, 4, 3, dtype=F64)
        torch.testing.assert_close(model(b, e, pose=zero)[0].numpy(), expected,
                                   rtol=0, atol=1e-12)

    def test_jaw_rotation_about_jaw_joint(self, model, arrays):
        angle = 0.3
        c, s = np.cos(angle), np.sin(angle)
        R = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
        feature = np.zeros(36)
        feature[9:18] = (R - np.eye(3)).ravel()          # jaw is the 2nd non-root joint
        posed = arrays["v_template"] + arrays["posedirs"] @ feature
        jaw = arrays["J_regressor"].toarray()[2] @ arrays["v_template"]
        pose = torch.zeros(1, 4, 3, dtype=F64)
        pose[0, model.pose_index("jaw"), 0] = angle
        out = model(pose=pose)[0].numpy()
        np.testing.assert_allclose(out[6:14], (posed[6:14] - jaw) @ R.T + jaw, atol=1e-13)
        np.testing.assert_allclose(out[22:26], posed[22:26], atol=1e-13)   # root-skinned
        np.testing.assert_allclose(out[14:22], posed[14:22], atol=1e-13)   # eyes
        # the jaw vertices really move (the correctives alone are ~1e-3)
        assert np.abs(out[6:14] - arrays["v_template"][6:14]).max() > 5e-3

    def test_posedirs_feature_order(self, tmp_path, arrays):
        # One pose feature: joint i (0-based among neck, jaw, eyes), matrix entry (r, c).
        i, r, c = 1, 0, 2
        arrays["posedirs"] = np.zeros((V, 3, 36))
        arrays["posedirs"][22, 0, 9 * i + 3 * r + c] = 1.0     # root-skinned vertex, along x
        m = load_flame(write_model(tmp_path / "m.pkl", "chumpy", arrays), dtype=F64)
        angle = 0.4
        pose = torch.zeros(1, 4, 3, dtype=F64)
        pose[0, i, 1] = angle                 # about y: (R - I)[0, 2] = sin(angle)
        delta = (m(pose=pose) - m())[0, 22].numpy()
        np.testing.assert_allclose(delta, [np.sin(angle), 0.0, 0.0], atol=1e-15)
        pose = torch.zeros(1, 4, 3, dtype=F64)
        pose[0, i, 0] = angle                 # about x: (R - I)[0, 2] = 0
        np.testing.assert_allclose((m(pose=pose) - m())[0, 22].numpy(), 0.0, atol=1e-15)

    def test_matches_naive_lbs_reference(self, model, arrays):
        rng = np.random.default_rng(7)
        beta, psi = rng.normal(size=N_ID), rng.normal(size=N_EX)
        full = rng.normal(scale=0.3, size=(J, 3))
        full[0] = 0.0
        expected = naive_flame(arrays, beta, psi, full)
        got = model(torch.tensor(beta)[None], torch.tensor(psi)[None],
                    pose=torch.tensor(full[1:])[None])[0].numpy()
        np.testing.assert_allclose(got, expected, atol=1e-13)

    def test_root_convention(self, model, arrays):
        rng = np.random.default_rng(8)
        beta, psi = rng.normal(size=N_ID), rng.normal(size=N_EX)
        full = rng.normal(scale=0.3, size=(J, 3))
        t = np.array([0.01, -0.02, 0.3])
        expected = naive_flame(arrays, beta, psi, full) + t       # FLAME: about the root joint
        b, e = torch.tensor(beta)[None], torch.tensor(psi)[None]
        rotation, pose = model.split_full_pose(torch.tensor(full).reshape(1, 15))
        shift = model.root_translation(b, e, rotation)
        got = model(b, e, pose=pose, rotation=rotation, translation=torch.tensor(t)[None] + shift)
        np.testing.assert_allclose(got[0].numpy(), expected, atol=1e-13)
        # without the shift the head is rotated about the origin instead
        plain = model(b, e, pose=pose, rotation=rotation, translation=torch.tensor(t)[None])
        root = arrays["J_regressor"].toarray()[0] @ shaped_np(arrays, beta, psi)
        R = rodrigues(full[0])
        np.testing.assert_allclose((got - plain)[0].numpy(), np.broadcast_to(root - R @ root,
                                                                             (V, 3)), atol=1e-13)

    def test_posed_joints(self, model, arrays):
        pose = torch.zeros(1, 4, 3, dtype=F64)
        pose[0, 0] = torch.tensor([0.0, 0.0, 0.5])               # neck about z
        joints = model.posed_joints(torch.zeros(1, N_ID, dtype=F64),
                                    torch.zeros(1, N_EX, dtype=F64), pose)[0].numpy()
        rest = arrays["J_regressor"].toarray() @ arrays["v_template"]
        R = rodrigues([0.0, 0.0, 0.5])
        np.testing.assert_allclose(joints[:2], rest[:2], atol=1e-14)
        np.testing.assert_allclose(joints[2:], (rest[2:] - rest[1]) @ R.T + rest[1], atol=1e-14)

    def test_batch_equals_loop(self, model):
        g = torch.Generator().manual_seed(0)
        # B = 4: a (3, 3) axis-angle batch would be read as one rotation matrix by FaceModel
        b = torch.randn(4, N_ID, generator=g, dtype=F64)
        e = torch.randn(4, N_EX, generator=g, dtype=F64)
        p = torch.randn(4, 4, 3, generator=g, dtype=F64) * 0.3
        rot = torch.randn(4, 3, generator=g, dtype=F64) * 0.2
        batched = model(b, e, pose=p, rotation=rot)
        for i in range(4):
            one = model(b[i:i + 1], e[i:i + 1], pose=p[i:i + 1], rotation=rot[i:i + 1])
            torch.testing.assert_close(batched[i], one[0])

    def test_gradcheck(self, model):
        g = torch.Generator().manual_seed(1)
        b = torch.randn(1, N_ID, generator=g, dtype=F64).requires_grad_()
        e = torch.randn(1, N_EX, generator=g, dtype=F64).requires_grad_()
        p = (torch.randn(1, 4, 3, generator=g, dtype=F64) * 0.3).requires_grad_()
        assert torch.autograd.gradcheck(model.deform, (b, e, p), fast_mode=True)
        assert torch.autograd.gradcheck(lambda p: model(b.detach(), e.detach(), pose=p), (p,))

    def test_direct_construction_checks(self, arrays):
        base = dict(v_template=arrays["v_template"], faces=arrays["f"].astype(np.int64),
                    id_basis=np.zeros((2, V, 3)), expr_basis=np.zeros((1, V, 3)),
                    pose_basis=np.zeros((36, V, 3)), j_regressor=arrays["J_regressor"].toarray(),
                    skin_weights=arrays["weights"], parents=PARENTS)
        m = FlameModel(**base)
        assert m.n_joints == 4 and m.joint_names == ("joint1", "joint2", "joint3", "joint4")
        with pytest.raises(InputValueError, match="parents"):
            FlameModel(**{**base, "parents": (-1, 0, 3, 1, 1)})
        with pytest.raises(ValueError, match="pose_basis"):
            FlameModel(**{**base, "pose_basis": np.zeros((35, V, 3))})
        with pytest.raises(ValueError, match="joint_names"):
            FlameModel(**base, joint_names=["neck"])

    def test_bad_pose(self, model):
        with pytest.raises(ValueError, match="pose"):
            model(pose=torch.zeros(1, 5, 3, dtype=F64))
        with pytest.raises(ValueError, match="full_pose"):
            model.split_full_pose(torch.zeros(1, 12, dtype=F64))
        with pytest.raises(InputValueError, match="unknown joint"):
            model.pose_index("nose")


# ====================================================================== landmark embeddings
class TestLandmarks:
    def test_deca_embedding(self, tmp_path, model_path, arrays):
        rng = np.random.default_rng(11)
        full_f, static_f = rng.integers(0, F, size=68), rng.integers(0, F, size=51)
        full_b = rng.dirichlet(np.ones(3), size=68)
        static_b = rng.dirichlet(np.ones(3), size=51)
        emb = {
            "static_lmk_faces_idx": static_f, "static_lmk_bary_coords": static_b,
            "dynamic_lmk_faces_idx": torch.randint(0, F, (79, 17)),
            "dynamic_lmk_bary_coords": torch.rand(79, 17, 3),
            "full_lmk_faces_idx": full_f[None], "full_lmk_bary_coords": full_b[None],
        }
        np.save(tmp_path / "landmark_embedding.npy", emb, allow_pickle=True)
        m = load_flame(model_path, dtype=F64,
                       landmark_embedding=tmp_path / "landmark_embedding.npy")
        assert set(m.landmark_schemes) == {"ibug68", "ibug51"}
        rng = np.random.default_rng(12)
        beta = rng.normal(size=N_ID)
        verts = m(torch.tensor(beta)[None])
        tri = arrays["f"].astype(np.int64)
        for kind, faces, bary in (("ibug68", full_f, full_b), ("ibug51", static_f, static_b)):
            vv = verts[0].numpy()
            expected = np.stack([bary[k] @ vv[tri[faces[k]]] for k in range(len(faces))])
            np.testing.assert_allclose(m.landmarks(verts, kind)[0].numpy(), expected,
                                       atol=1e-7)   # barycentrics are stored as float32

    def test_mediapipe_embedding(self, tmp_path, model_path):
        rng = np.random.default_rng(13)
        faces, bary = rng.integers(0, F, size=105), rng.dirichlet(np.ones(3), size=105)
        np.savez(tmp_path / "mediapipe_landmark_embedding.npz", lmk_face_idx=faces,
                 lmk_b_coords=bary, landmark_indices=np.arange(105) * 4)
        m = load_flame(model_path, landmark_embedding=[tmp_path / "mediapipe_landmark_"
                                                       "embedding.npz"])
        assert m.landmark_schemes == ("mp105",)
        assert m.meta["landmark_files"][0]["mediapipe_indices"][:3] == [0, 4, 8]
        verts = m()
        tri = m.faces.numpy()[faces]
        expected = (verts[0].numpy()[tri] * bary[:, :, None]).sum(1)
        np.testing.assert_allclose(m.landmarks(verts, "mp105")[0].numpy(), expected, atol=1e-6)

    def test_malicious_or_bad_landmark_files(self, tmp_path, model_path):
        class Evil:
            def __reduce__(self):
                return os.system, ("echo pwned",)

        np.save(tmp_path / "evil.npy", {"full_lmk_faces_idx": Evil()}, allow_pickle=True)
        with pytest.raises(ModelFileError, match="system"):
            load_flame_landmarks(tmp_path / "evil.npy")
        np.savez(tmp_path / "far.npz", lmk_face_idx=np.array([0, F]),
                 lmk_b_coords=np.full((2, 3), 1 / 3))
        with pytest.raises(ModelFileError, match=r"\[0, 12\)"):
            load_flame(model_path, landmark_embedding=tmp_path / "far.npz")
        np.savez(tmp_path / "other.npz", something=np.zeros(3))
        with pytest.raises(ModelFileError, match="lmk_face_idx"):
            load_flame_landmarks(tmp_path / "other.npz")
        with pytest.raises(ModelFileError, match="not found"):
            load_flame_landmarks(tmp_path / "missing.npy")
