"""Tests of mxkit.meshio: OBJ / PLY round trips, readers, typed errors, atomic HTML export."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
import torch

from mxkit import meshio
from mxkit.errors import InputValueError, ModelFileError, MxkitError, ShapeError
from mxkit.meshio import (
    FileWriteError,
    apply_colormap,
    load_obj,
    load_ply,
    save_obj,
    save_ply,
    vertex_normals,
)
from mxkit.testing import grid_mesh


def grid(n: int = 6, spacing: float = 0.0123) -> tuple[np.ndarray, np.ndarray]:
    """A slightly curved n x n patch (metres) with CCW triangles seen from +z."""
    mesh = grid_mesh(n, width=spacing * (n - 1), centred=False)
    v = mesh.vertices.copy()
    v[:, 2] = 0.02 * np.sin(v[:, 0] * 40) * np.cos(v[:, 1] * 30)
    return v, mesh.faces


def no_temp_files(folder) -> bool:
    return not [p for p in os.listdir(folder) if p.endswith(".tmp")]


# ---------------------------------------------------------------------------- OBJ
class TestObj:
    def test_round_trip(self, tmp_path):
        v, f = grid()
        path = save_obj(tmp_path / "m.obj", v, f)
        assert path == tmp_path / "m.obj" and no_temp_files(tmp_path)
        m = load_obj(path)
        np.testing.assert_allclose(m.vertices, v, atol=1e-6, rtol=0)
        np.testing.assert_array_equal(m.faces, f)
        assert m.uv is None and m.normals is None and m.faces_uv is None

    def test_round_trip_float32_tensor_exact(self, tmp_path):
        v, f = grid()
        v32 = torch.tensor(v, dtype=torch.float32)
        m = load_obj(save_obj(tmp_path / "m.obj", v32[None], torch.tensor(f)))
        np.testing.assert_array_equal(m.vertices.astype(np.float32), v32.numpy())

    def test_uv_and_normals(self, tmp_path):
        v, f = grid()
        uv = v[:, :2] / v[:, :2].max()
        path = save_obj(tmp_path / "m.obj", v, f, uv=uv, normals=True)
        text = path.read_text()
        a, b, c = f[0] + 1
        assert f"f {a}/{a}/{a} {b}/{b}/{b} {c}/{c}/{c}" in text
        m = load_obj(path)
        np.testing.assert_allclose(m.uv, uv, atol=1e-7)
        np.testing.assert_array_equal(m.faces_uv, f)
        np.testing.assert_array_equal(m.faces_normals, f)
        np.testing.assert_allclose(np.linalg.norm(m.normals, axis=1), 1.0, atol=1e-6)
        np.testing.assert_allclose(m.normals, vertex_normals(v, f), atol=1e-7)
        # separate uv indexing, normals only
        faces_uv = np.zeros_like(f)
        m = load_obj(save_obj(tmp_path / "n.obj", v, f, uv=[[0.5, 0.5]], faces_uv=faces_uv))
        np.testing.assert_array_equal(m.faces_uv, faces_uv)
        m = load_obj(save_obj(tmp_path / "o.obj", v, f, normals=True))
        assert m.uv is None and m.normals.shape == v.shape

    def test_reader_general_obj(self, tmp_path):
        path = tmp_path / "quad.obj"
        path.write_text(
            "# a comment\nmtllib x.mtl\no quad\nv 0 0 0\nv 1 0 0 1.0\nv 1 1 0 0.5 0.5 0.5\n"
            "v 0 1 0\nvt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\ng side\ns off\nusemtl skin\n"
            "f 1/1 2/2 3/3 4/4\nf -4/-4 -2/-2 -1/-1\n\n")
        m = load_obj(path)
        np.testing.assert_array_equal(m.faces, [[0, 1, 2], [0, 2, 3], [0, 2, 3]])
        np.testing.assert_array_equal(m.faces_uv, m.faces)
        assert m.vertices.shape == (4, 3) and m.vertices.dtype == np.float64

    @pytest.mark.parametrize("text, where", [
        ("v 0 0 0\nv 1 0 0\nv 0 1\n", "line 3"),
        ("v 0 0 0\nv 1 0 zero\n", "line 2"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 5\n", "line 4"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2\n", "line 4"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n", "line 4"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\n\nf 1 2 x\n", "line 5"),
    ])
    def test_reader_errors_name_path_and_line(self, tmp_path, text, where):
        path = tmp_path / "bad.obj"
        path.write_text(text)
        with pytest.raises(ModelFileError, match=re.escape(str(path))) as info:
            load_obj(path)
        assert where in str(info.value)

    def test_missing_and_binary_file(self, tmp_path):
        with pytest.raises(ModelFileError, match="not found"):
            load_obj(tmp_path / "none.obj")
        (tmp_path / "bin.obj").write_bytes(b"\xff\xfe\x00\x81")
        with pytest.raises(ModelFileError):
            load_obj(tmp_path / "bin.obj")


# ---------------------------------------------------------------------------- PLY
class TestPly:
    def test_binary_round_trip_float32_exact(self, tmp_path):
        v, f = grid()
        v32 = v.astype(np.float32)
        path = save_ply(tmp_path / "m.ply", v32, f)
        assert path.read_bytes().startswith(b"ply\nformat binary_little_endian 1.0\n")
        m = load_ply(path)
        assert m.vertices.dtype == np.float32
        np.testing.assert_array_equal(m.vertices, v32)
        np.testing.assert_array_equal(m.faces, f)
        assert m.colors is None and m.scalars is None and no_temp_files(tmp_path)

    def test_ascii_round_trip(self, tmp_path):
        v, f = grid()
        path = save_ply(tmp_path / "m.ply", v, f, binary=False)
        assert b"format ascii 1.0" in path.read_bytes()
        m = load_ply(path)
        np.testing.assert_allclose(m.vertices, v, atol=1e-6, rtol=0)
        np.testing.assert_array_equal(m.faces, f)

    @pytest.mark.parametrize("binary", [True, False])
    def test_colors_and_scalars(self, tmp_path, binary):
        v, f = grid()
        rgb = (np.arange(len(v) * 3).reshape(-1, 3) % 256).astype(np.uint8)
        m = load_ply(save_ply(tmp_path / "c.ply", v, f, colors=rgb, binary=binary))
        np.testing.assert_array_equal(m.colors, rgb)
        m = load_ply(save_ply(tmp_path / "f.ply", v, f, colors=rgb / 255.0, binary=binary))
        np.testing.assert_array_equal(m.colors, rgb)
        s = np.linspace(-0.3, 0.7, len(v)).astype(np.float32)
        m = load_ply(save_ply(tmp_path / "s.ply", v, f, scalars=s, binary=binary))
        np.testing.assert_array_equal(m.colors, apply_colormap(s, "viridis"))
        np.testing.assert_allclose(m.scalars, s, atol=1e-7)
        m = load_ply(save_ply(tmp_path / "s64.ply", v, f, scalars=s, dtype="float64",
                              binary=binary))
        assert m.vertices.dtype == np.float64
        np.testing.assert_allclose(m.vertices, v, atol=1e-9)

    def test_reader_big_endian_quads_and_extra_elements(self, tmp_path):
        header = ("ply\nformat binary_big_endian 1.0\ncomment hand made\n"
                  "element vertex 4\nproperty double x\nproperty double y\nproperty double z\n"
                  "property uchar red\nproperty uchar green\nproperty uchar blue\n"
                  "element face 1\nproperty uchar intensity\n"
                  "property list uchar uint vertex_indices\n"
                  "element edge 1\nproperty int vertex1\nproperty int vertex2\nend_header\n")
        v = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=">f8")
        rec = np.empty(4, dtype=[("x", ">f8"), ("y", ">f8"), ("z", ">f8"), ("c", "u1", (3,))])
        rec["x"], rec["y"], rec["z"], rec["c"] = v[:, 0], v[:, 1], v[:, 2], 200
        face = bytes([7, 4]) + np.array([0, 1, 2, 3], dtype=">u4").tobytes()
        edge = np.array([0, 1], dtype=">i4").tobytes()
        path = tmp_path / "be.ply"
        path.write_bytes(header.encode() + rec.tobytes() + face + edge)
        m = load_ply(path)
        np.testing.assert_array_equal(m.vertices, v)
        np.testing.assert_array_equal(m.faces, [[0, 1, 2], [0, 2, 3]])
        assert (m.colors == 200).all()

    def test_reader_ascii_mixed_polygons(self, tmp_path):
        path = tmp_path / "mixed.ply"
        path.write_text("ply\nformat ascii 1.0\nelement vertex 5\nproperty float x\n"
                        "property float y\nproperty float z\nelement face 2\n"
                        "property list uchar int vertex_indices\nend_header\n"
                        "0 0 0\n1 0 0\n1 1 0\n0 1 0\n2 2 0\n3 0 1 2\n4 0 2 3 4\n")
        m = load_ply(path)
        np.testing.assert_array_equal(m.faces, [[0, 1, 2], [0, 2, 3], [0, 3, 4]])

    def test_reader_binary_mixed_polygons(self, tmp_path):
        header = ("ply\nformat binary_little_endian 1.0\nelement vertex 4\nproperty float x\n"
                  "property float y\nproperty float z\nelement face 2\n"
                  "property list uchar int vertex_indices\nend_header\n")
        v = np.arange(12, dtype="<f4").tobytes()
        faces = (bytes([3]) + np.array([0, 1, 2], "<i4").tobytes()
                 + bytes([4]) + np.array([0, 1, 2, 3], "<i4").tobytes())
        path = tmp_path / "mixed.ply"
        path.write_bytes(header.encode() + v + faces)
        np.testing.assert_array_equal(load_ply(path).faces, [[0, 1, 2], [0, 1, 2], [0, 2, 3]])

    def test_reader_errors(self, tmp_path):
        v, f = grid()
        good = save_ply(tmp_path / "m.ply", v, f).read_bytes()
        (tmp_path / "trunc.ply").write_bytes(good[:-7])
        with pytest.raises(ModelFileError, match="truncated"):
            load_ply(tmp_path / "trunc.ply")
        (tmp_path / "notply.ply").write_text("solid stl\n")
        with pytest.raises(ModelFileError, match="line 1"):
            load_ply(tmp_path / "notply.ply")
        (tmp_path / "hdr.ply").write_text("ply\nformat ascii 1.0\nelement vertex many\n"
                                          "end_header\n")
        with pytest.raises(ModelFileError, match="line 3"):
            load_ply(tmp_path / "hdr.ply")
        (tmp_path / "type.ply").write_text("ply\nformat ascii 1.0\nelement vertex 1\n"
                                           "property quad x\nend_header\n0\n")
        with pytest.raises(ModelFileError, match="line 4"):
            load_ply(tmp_path / "type.ply")
        (tmp_path / "row.ply").write_text("ply\nformat ascii 1.0\nelement vertex 2\n"
                                          "property float x\nproperty float y\n"
                                          "property float z\nend_header\n0 0 0\n1 1\n")
        with pytest.raises(ModelFileError, match="line 9"):
            load_ply(tmp_path / "row.ply")
        (tmp_path / "idx.ply").write_text("ply\nformat ascii 1.0\nelement vertex 1\n"
                                          "property float x\nproperty float y\n"
                                          "property float z\nelement face 1\n"
                                          "property list uchar int vertex_indices\n"
                                          "end_header\n0 0 0\n3 0 1 2\n")
        with pytest.raises(ModelFileError, match="outside"):
            load_ply(tmp_path / "idx.ply")
        with pytest.raises(ModelFileError, match="not found"):
            load_ply(tmp_path / "none.ply")


# ---------------------------------------------------------------------------- bad input
class TestErrors:
    @pytest.mark.parametrize("save", [save_obj, save_ply])
    def test_bad_arrays(self, tmp_path, save):
        v, f = grid(3)
        with pytest.raises(ShapeError):
            save(tmp_path / "x", v[:, :2], f)
        with pytest.raises(ShapeError):
            save(tmp_path / "x", v[None, None], f)
        bad = v.copy()
        bad[2, 1] = np.nan
        with pytest.raises(InputValueError, match="NaN"):
            save(tmp_path / "x", bad, f)
        with pytest.raises(InputValueError):
            save(tmp_path / "x", v, f + 100)
        with pytest.raises(InputValueError):
            save(tmp_path / "x", v, f.astype(float))
        with pytest.raises(ShapeError):
            save(tmp_path / "x", v, f[:, :2])
        assert not (tmp_path / "x").exists()

    def test_bad_colors(self, tmp_path):
        v, f = grid(3)
        with pytest.raises(ShapeError):
            save_ply(tmp_path / "x.ply", v, f, colors=np.zeros((len(v), 2), np.uint8))
        with pytest.raises(ShapeError):
            save_ply(tmp_path / "x.ply", v, f, colors=np.zeros((2, 3), np.uint8))
        with pytest.raises(InputValueError, match=r"\[0, 1\]"):
            save_ply(tmp_path / "x.ply", v, f, colors=np.full((len(v), 3), 2.0))
        with pytest.raises(InputValueError):
            save_ply(tmp_path / "x.ply", v, f, colors=np.full((len(v), 3), 300))
        with pytest.raises(ShapeError):
            save_ply(tmp_path / "x.ply", v, f, scalars=np.zeros(2))
        with pytest.raises(InputValueError):
            save_obj(tmp_path / "x.obj", v, f, faces_uv=f)

    @pytest.mark.parametrize("save", [save_obj, save_ply])
    def test_unwritable_path(self, tmp_path, save):
        v, f = grid(3)
        target = tmp_path / "missing" / "m.out"
        with pytest.raises(FileWriteError, match="does not exist") as info:
            save(target, v, f)
        assert info.value.path == target
        assert isinstance(info.value, MxkitError) and isinstance(info.value, OSError)
        with pytest.raises(FileWriteError, match="directory"):
            save(tmp_path, v, f)
        blocker = tmp_path / "file"
        blocker.write_text("x")
        with pytest.raises(FileWriteError):
            save(blocker / "m.out", v, f)

    def test_atomic_replace_and_failure_keeps_old_file(self, tmp_path, monkeypatch):
        v, f = grid(3)
        path = tmp_path / "m.obj"
        path.write_text("old")
        save_obj(path, v, f)
        assert path.read_text().startswith("# written by mxkit")

        def broken_replace(src, dst):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(meshio.os, "replace", broken_replace)
        with pytest.raises(FileWriteError, match="No space left"):
            save_obj(path, v * 2, f)
        assert path.read_text().startswith("# written by mxkit")
        np.testing.assert_allclose(load_obj(path).vertices, v, atol=1e-9)
        assert no_temp_files(tmp_path)


# ---------------------------------------------------------------------------- helpers
class TestHelpers:
    def test_colormap_known_answers(self):
        np.testing.assert_array_equal(apply_colormap(np.array([0.0, 1.0]), "gray"),
                                      [[0, 0, 0], [255, 255, 255]])
        ends = apply_colormap(np.array([3.0, 7.0]), "viridis")
        np.testing.assert_array_equal(ends, [[0x44, 0x01, 0x54], [0xfd, 0xe7, 0x25]])
        mid = apply_colormap(np.array([-2.0, 0.0, 1.0]), "rdbu")[1]     # symmetric: 0 -> white
        assert (mid > 240).all()
        clipped = apply_colormap(np.array([-5.0, 5.0]), ["#000000", "#ff0000"], clim=(0, 1))
        np.testing.assert_array_equal(clipped, [[0, 0, 0], [255, 0, 0]])
        flat = apply_colormap(np.zeros(3), "gray")
        assert (flat == flat[0]).all()

    def test_vertex_normals_of_octahedron_are_radial(self):
        v = np.array([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
        faces = []
        for a in (0, 1):
            for b in (2, 3):
                for c in (4, 5):
                    n = np.cross(v[b] - v[a], v[c] - v[a])
                    outward = n @ (v[a] + v[b] + v[c]) > 0
                    faces.append((a, b, c) if outward else (a, c, b))
        n = vertex_normals(v * 0.05, torch.tensor(faces))
        np.testing.assert_allclose(n, v, atol=1e-12)
        # an unused vertex gets a zero normal
        n = vertex_normals(np.vstack([v, [[3.0, 3, 3]]]), faces)
        np.testing.assert_array_equal(n[-1], 0.0)
