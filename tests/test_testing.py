"""mxkit.testing: the shared fixtures hold the answers they promise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mxkit.data import Clip, ClipSet
from mxkit.errors import InputValueError
from mxkit.geometry import vertex_normals
from mxkit.morph import ARKIT_NAMES, FaceModel
from mxkit.testing import (
    assert_close,
    cube_mesh,
    fourier_shift,
    grid_mesh,
    texture,
    tiny_clip,
    tiny_clipset,
    toy_face_model,
)


def _triangle_areas(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    t = v[f]
    return 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)


@pytest.mark.parametrize("mesh", [grid_mesh(), grid_mesh(4, width=3.0, centred=False, z=0.7), cube_mesh(),
                                  cube_mesh(0.2)], ids=["grid", "grid-corner", "cube", "cube-small"])
def test_known_meshes_have_the_normals_and_areas_they_state(mesh):
    assert mesh.vertices.dtype == np.float64 and mesh.faces.dtype == np.int64
    assert_close(vertex_normals(mesh.vertices, mesh.faces), mesh.vertex_normals, atol=1e-15, rtol=0.0,
                 what="vertex normals")
    assert_close(_triangle_areas(mesh.vertices, mesh.faces), mesh.face_areas, atol=0.0, rtol=1e-12,
                 what="triangle areas")
    assert sorted(np.unique(mesh.faces)) == list(range(mesh.n_vertices))   # every vertex used


def test_grid_and_cube_sizes():
    g = grid_mesh(3, width=2.0)
    assert g.vertices.shape == (9, 3) and g.faces.shape == (8, 3) and g.area == pytest.approx(4.0)
    np.testing.assert_array_equal(g.vertices[[0, 8], :2], [[-1.0, -1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(grid_mesh(3, width=2.0, centred=False).vertices[8], [2.0, 2.0, 0.0])
    c = cube_mesh(2.0)
    assert c.vertices.shape == (14, 3) and c.faces.shape == (24, 3) and c.area == pytest.approx(24.0)
    for bad in (dict(n=1), dict(n=2.5), dict(width=0.0), dict(width=float("nan"))):
        with pytest.raises(InputValueError):
            grid_mesh(**bad)
    with pytest.raises(InputValueError, match="size"):
        cube_mesh(-1.0)


def test_toy_face_model_defaults_and_options():
    m = toy_face_model()
    assert isinstance(m, FaceModel) and m.name == "toy" and m.n_vertices == 25
    assert m.expression_names == tuple(ARKIT_NAMES) and m.n_identity == 3 and m.v_template.dtype == torch.float64
    v = m.v_template.numpy()
    np.testing.assert_array_equal(v[:, :2].min(0), [-0.05, -0.05])
    np.testing.assert_array_equal(v[:, :2].max(0), [0.05, 0.05])
    np.testing.assert_array_equal(m.region_mask("right"), v[:, 0] > 0)
    np.testing.assert_array_equal(m.region_mask("left"), v[:, 0] <= 0)
    # the same seed gives the same model; another seed other bases, same geometry
    torch.testing.assert_close(toy_face_model().expr_basis, m.expr_basis, rtol=0, atol=0)
    other = toy_face_model(seed=1)
    assert not torch.equal(other.expr_basis, m.expr_basis)
    torch.testing.assert_close(other.v_template, m.v_template, rtol=0, atol=0)
    # landmarks: the classic two points, or a full 68 on the mesh
    lm = m.landmarks(m.v_template[None])[0]
    assert_close(lm[1], v[m.faces[-1, 0]], atol=0.0, rtol=0.0, what="landmark on a corner")
    assert_close(lm[0], 0.2 * v[m.faces[0, 0]] + 0.3 * v[m.faces[0, 1]] + 0.5 * v[m.faces[0, 2]],
                 atol=1e-9, rtol=0.0, what="landmark inside face 0")   # float32 barycentrics
    m68 = toy_face_model(6, n_landmarks=68, n_identity=0, scale=0.0, expressions=["jawOpen"], dtype=torch.float32)
    assert m68.landmarks(m68.v_template[None]).shape == (1, 68, 3) and m68.n_identity == 0
    assert m68.v_template.dtype == torch.float32 and float(m68.expr_basis.abs().max()) == 0.0
    # regions in order, first match wins, the rest unlabelled
    y = toy_face_model(4).v_template.numpy()[:, 1]
    r = toy_face_model(4, regions={"bottom": y < 0, "all": np.ones(16, bool)})
    np.testing.assert_array_equal(r.region_labels, np.where(y < 0, 0, 1))
    with pytest.raises(InputValueError, match="regions\\['x'\\]"):
        toy_face_model(4, regions={"x": np.ones(3, bool)})


def test_fourier_shift_is_exact_and_texture_is_periodic_and_bounded():
    t = texture(24, 32, seed=3)
    assert t.shape == (24, 32) and t.min() == pytest.approx(0.1) and t.max() == pytest.approx(0.9)
    assert_close(fourier_shift(t, 3.0, -2.0), np.roll(t, (-2, 3), axis=(0, 1)), atol=1e-12, what="integer shift")
    odd = texture(25, 31, seed=3)   # no Nyquist row/column: fractional shifts compose exactly
    half = fourier_shift(fourier_shift(odd, 0.5, 0.25), 0.5, 0.25)
    assert_close(half, fourier_shift(odd, 1.0, 0.5), atol=1e-12, what="two half shifts")
    rgb = np.stack([t, 1 - t], -1)
    assert_close(fourier_shift(rgb, 1.0, 0.0), np.roll(rgb, 1, axis=1), atol=1e-12, what="colour shift")
    np.testing.assert_array_equal(texture(24, 32, seed=3), t)


def test_tiny_clip_drifts_by_the_known_shift():
    c = tiny_clip(4, size=16, shift=(1.0, 0.0), emotion="happy", apex=2)
    assert isinstance(c, Clip) and c.frames.shape == (4, 16, 16, 3) and c.frames.dtype == np.uint8
    assert c.emotion == "happy" and c.apex == 2 and c.key == ("toyds", "s1", "c1")
    for k in range(4):   # integer shifts: frame k is frame 0 rolled k px right (up to rounding)
        diff = np.abs(c.frames[k].astype(int) - np.roll(c.frames[0], k, axis=1).astype(int))
        assert diff.max() <= 1
    assert np.abs(c.frames[1].astype(int) - c.frames[0].astype(int)).max() > 10   # it does move


def test_tiny_clipset_pairs_and_mapping():
    cs = tiny_clipset({"s1": ["happy", "sad"], "s2": ["sad"]}, dataset="d", fps=100)
    assert isinstance(cs, ClipSet) and len(cs) == 3
    assert [(c.subject, c.clip_id, c.emotion, c.fps) for c in cs] == [
        ("s1", "c0", "happy", 100), ("s1", "c1", "sad", 100), ("s2", "c2", "sad", 100)]
    same = tiny_clipset([("s1", "happy"), ("s1", "sad"), ("s2", "sad")], dataset="d", fps=100)
    assert [c.key for c in same] == [c.key for c in cs]


def test_assert_close_passes_within_and_explains_a_failure():
    assert_close([1.0, 2.0], [1.0, 2.0 + 1e-9], atol=1e-8)
    assert_close(torch.ones(2, 3, dtype=torch.float32), 1.0, rtol=0.0)              # scalar expected
    assert_close([np.inf, np.nan], [np.inf, np.nan], equal_nan=True)
    with pytest.raises(AssertionError) as e:
        assert_close(torch.ones(3, 2), np.array([[1, 1], [1, 1.1], [1, 1.0001]]), atol=1e-3, rtol=0.0,
                     what="offsets")
    msg = str(e.value)
    assert msg.startswith("offsets: 1 of 6 element(s)") and "index (1, 1)" in msg
    assert "expected 1.1" in msg and "|difference| 0.1" in msg and "allowed 0.001" in msg
    with pytest.raises(AssertionError, match="shape"):
        assert_close(np.zeros(3), np.zeros((3, 1)))
    with pytest.raises(AssertionError, match="nan"):
        assert_close([np.nan], [1.0], atol=1.0)
    with pytest.raises(AssertionError):
        assert_close([np.inf], [-np.inf])
    with pytest.raises(InputValueError, match="atol"):
        assert_close(1.0, 1.0, atol=-1.0)
