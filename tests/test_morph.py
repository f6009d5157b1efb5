"""FaceModel: forward, landmarks, AU view, regions, subdivision, loading and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mxkit.errors import InputValueError, ModelFileError, OptionError, ShapeError, UnknownModelError
from mxkit.geometry import axis_angle_to_matrix
from mxkit.morph import ARKIT_NAMES, load_face_model
from mxkit.morph.io import face_model_from_npz
from mxkit.morph.subdivide import loop_subdivision, subdivide_model
from mxkit.testing import assert_close, toy_face_model


def _weights(model, **named):
    w = torch.zeros(1, model.n_expressions, dtype=model.v_template.dtype)
    for name, value in named.items():
        w[0, model.expression_index(name)] = value
    return w


class TestForward:
    def test_zero_coefficients_give_template(self, mh_head):
        v = mh_head()
        assert v.shape == (1, mh_head.n_vertices, 3)
        torch.testing.assert_close(v[0], mh_head.v_template)

    def test_linear_in_coefficients(self, toy_model, generator):
        b = torch.randn(2, toy_model.n_identity, generator=generator, dtype=torch.float64)
        e = torch.rand(2, toy_model.n_expressions, generator=generator, dtype=torch.float64)
        expected = (toy_model.v_template + torch.einsum("bk,kvc->bvc", b, toy_model.id_basis)
                    + torch.einsum("be,evc->bvc", e, toy_model.expr_basis))
        torch.testing.assert_close(toy_model(b, e), expected)

    def test_similarity(self, toy_model):
        aa = torch.tensor([[0.1, -0.2, 0.3]], dtype=torch.float64)
        t = torch.tensor([[0.01, 0.02, -0.5]], dtype=torch.float64)
        s = torch.tensor([1.3], dtype=torch.float64)
        got = toy_model(rotation=aa, translation=t, scale=s)
        R = axis_angle_to_matrix(aa[0])
        expected = 1.3 * toy_model.v_template @ R.T + t
        torch.testing.assert_close(got[0], expected)
        torch.testing.assert_close(toy_model(rotation=R[None], translation=t, scale=s), got)

    def test_batch_equals_loop(self, toy_model, generator):
        e = torch.rand(3, toy_model.n_expressions, generator=generator, dtype=torch.float64)
        aa = torch.randn(3, 3, generator=generator, dtype=torch.float64) * 0.2
        batched = toy_model(expression=e, rotation=aa)
        for i in range(3):
            torch.testing.assert_close(batched[i], toy_model(expression=e[i:i + 1], rotation=aa[i:i + 1])[0])

    def test_gradcheck(self):
        model = toy_face_model(n=3, n_identity=2)
        b = torch.randn(1, 2, dtype=torch.float64, requires_grad=True)
        e = torch.rand(1, 52, dtype=torch.float64, requires_grad=True)
        aa = (torch.randn(1, 3, dtype=torch.float64) * 0.3).requires_grad_()
        t = torch.randn(1, 3, dtype=torch.float64, requires_grad=True)

        def f(b, e, aa, t):
            v = model(b, e, rotation=aa, translation=t)
            return model.landmarks(v)

        assert torch.autograd.gradcheck(f, (b, e, aa, t), fast_mode=True)

    def test_module_has_no_parameters(self, mh_head):
        assert list(mh_head.parameters()) == []
        assert {"v_template", "faces", "expr_basis", "id_basis"} <= dict(mh_head.named_buffers()).keys()


class TestMhHeadShapes:
    def test_names(self, mh_head):
        assert mh_head.expression_names == ARKIT_NAMES
        assert mh_head.n_identity >= 10
        assert {"ibug68", "mp468"} <= set(mh_head.landmark_schemes)

    def test_smile_left_moves_left_mouth_corner_up_and_out(self, mh_head):
        neutral = mh_head.landmarks(mh_head())[0]
        smile = mh_head.landmarks(mh_head(expression=_weights(mh_head, mouthSmileLeft=1.0)))[0]
        d = (smile - neutral) * 1000  # mm
        assert d[54, 1] > 2.0 and d[54, 0] > 1.0          # subject's left corner: up and out (+x)
        assert d[48].norm() < 0.5 * d[54].norm()           # the right corner moves much less
        forehead = torch.as_tensor(mh_head.region_mask("forehead"))
        moved = (mh_head(expression=_weights(mh_head, mouthSmileLeft=1.0))[0] - mh_head()[0]).norm(dim=1)
        assert moved[forehead].max() < 1e-6

    @pytest.mark.parametrize("name,region", [("browInnerUp", "mouth"), ("jawOpen", "forehead"),
                                             ("eyeBlinkLeft", "mouth"), ("mouthPucker", "forehead")])
    def test_shape_leaves_far_region_still(self, mh_head, name, region):
        moved = (mh_head(expression=_weights(mh_head, **{name: 1.0}))[0] - mh_head()[0]).norm(dim=1)
        assert moved.max() > 1e-3
        assert moved[torch.as_tensor(mh_head.region_mask(region))].max() < 1e-4

    def test_blink_lowers_upper_lid(self, mh_head):
        neutral = mh_head.landmarks(mh_head())[0]
        blink = mh_head.landmarks(mh_head(expression=_weights(mh_head, eyeBlinkLeft=1.0)))[0]
        # iBUG 43/44: upper lid of the subject's left eye
        assert (blink[[43, 44], 1] - neutral[[43, 44], 1]).mean() < -2e-3
        torch.testing.assert_close(blink[[37, 38]], neutral[[37, 38]], atol=2e-4, rtol=0)

    def test_identity_changes_shape_not_expression_semantics(self, mh_head):
        b = torch.zeros(1, mh_head.n_identity)
        b[0, 0] = 2.0
        assert (mh_head(b) - mh_head()).abs().max() > 1e-3


class TestAUView:
    def test_round_trip_au_arkit_au(self, mh_head, generator):
        aus = torch.rand(4, len(mh_head.au_names), generator=generator)
        back = mh_head.expression_to_aus(mh_head.aus_to_expression(aus))
        torch.testing.assert_close(back, aus)

    def test_mapping_values(self, mh_head):
        w = mh_head.aus_to_expression({"AU12": 0.6, "L4": "B"})
        assert w[0, mh_head.expression_index("mouthSmileLeft")] == pytest.approx(0.6)
        assert w[0, mh_head.expression_index("mouthSmileRight")] == pytest.approx(0.6)
        assert w[0, mh_head.expression_index("browDownLeft")] == pytest.approx(0.4)
        assert w[0, mh_head.expression_index("browDownRight")] == 0
        assert int((w > 0).sum()) == 3

    def test_lateral_round_trip(self, mh_head):
        w = mh_head.aus_to_expression({"R12": 0.5, "AU1": 0.3})
        lat = mh_head.expression_to_aus(w, lateral=True)[0]
        n = len(mh_head.au_names)
        i12, i1 = mh_head.au_names.index("AU12"), mh_head.au_names.index("AU1")
        assert lat[n + i12] == pytest.approx(0.5) and lat[i12] == 0
        assert lat[i1] == pytest.approx(0.3) and lat[n + i1] == pytest.approx(0.3)

    def test_bad_au(self, mh_head):
        with pytest.raises(InputValueError, match="AU13"):
            mh_head.aus_to_expression({"AU13": 0.5})
        with pytest.raises(InputValueError, match=r"\[0, 1\]"):
            mh_head.aus_to_expression({"AU12": 1.5})
        with pytest.raises(InputValueError, match="AU key"):
            mh_head.aus_to_expression({"smile": 0.5})

    def test_au_region_mask(self, mh_head):
        m = mh_head.au_region_mask("AU12")
        assert m.shape == (mh_head.n_vertices,) and 0 <= m.min() and m.max() <= 1
        left = mh_head.au_region_mask("L12")
        x = mh_head.v_template[:, 0].numpy()
        assert left[x < 0].max() == 0 and left.max() > 0.5


class TestLandmarksAndRegions:
    def test_landmarks_follow_rigid_motion(self, mh_head):
        aa = torch.tensor([[0.0, 0.3, 0.0]])
        t = torch.tensor([[0.0, 0.0, 0.5]])
        moved = mh_head.landmarks(mh_head(rotation=aa, translation=t))
        base = mh_head.landmarks(mh_head())
        torch.testing.assert_close(moved, base @ axis_angle_to_matrix(aa)[0].T + t, atol=1e-6, rtol=0)

    def test_unknown_scheme(self, mh_head):
        with pytest.raises(OptionError, match="scheme"):
            mh_head.landmarks(mh_head(), scheme="ibug51")
        with pytest.warns(DeprecationWarning, match="'kind' is deprecated; use 'scheme'"):
            old = mh_head.landmarks(mh_head(), kind="ibug68")
        torch.testing.assert_close(old, mh_head.landmarks(mh_head(), "ibug68"))
        with pytest.warns(DeprecationWarning, match="landmark_kinds is deprecated"):
            assert mh_head.landmark_kinds == mh_head.landmark_schemes

    def test_regions_cover_skin(self, mh_head):
        skin = mh_head.part_mask("skin")
        assert (mh_head.region_labels[skin] >= 0).all()
        assert mh_head.region_mask("nose").sum() > 20


class TestSubdivision:
    def test_single_triangle_operator(self):
        op = loop_subdivision(np.array([[0, 1, 2]]), 3)
        expected = np.array([[.75, .125, .125], [.125, .75, .125], [.125, .125, .75],
                             [.5, .5, 0], [.5, 0, .5], [0, .5, .5]])
        np.testing.assert_allclose(op.matrix.toarray(), expected)

    def test_rows_are_affine(self, mh_head):
        op = loop_subdivision(mh_head.faces.numpy(), mh_head.n_vertices)
        np.testing.assert_allclose(np.asarray(op.matrix.sum(1)).ravel(), 1.0, atol=1e-12)

    def test_model_commutes_with_operator(self, toy_model, generator):
        fine = subdivide_model(toy_model)
        op = loop_subdivision(toy_model.faces.numpy(), toy_model.n_vertices)
        e = torch.rand(2, 52, generator=generator, dtype=torch.float64)
        b = torch.randn(2, toy_model.n_identity, generator=generator, dtype=torch.float64)
        coarse = toy_model(b, e).numpy()
        want = np.stack([op.matrix @ c for c in coarse])
        np.testing.assert_allclose(fine(b, e).numpy(), want, atol=1e-12)
        assert fine.n_faces == 4 * toy_model.n_faces

    def test_landmarks_preserved_on_flat_mesh(self, toy_model):
        # on a plane the split triangles lie in the plane and Loop's rules reproduce the regular
        # grid's interior exactly: the landmarks (in triangles about interior vertices) stay put
        # up to the float32 rounding of their re-expressed barycentric coordinates (~4e-10 m)
        fine = subdivide_model(toy_model)
        coarse_lm, fine_lm = toy_model.landmarks(toy_model()), fine.landmarks(fine())
        assert fine_lm.shape == coarse_lm.shape == (1, 2, 3)
        assert_close(fine_lm, coarse_lm, atol=5e-10, rtol=0.0, what="landmarks after one subdivision")
        assert float(fine_lm[..., 2].abs().max()) == 0.0                 # still in the plane

    def test_mh_head_subdivides(self):
        model = load_face_model("mh-head", subdivide=1)
        coarse = load_face_model("mh-head")
        assert model.n_faces == 4 * coarse.n_faces
        d = (model.landmarks(model()) - coarse.landmarks(coarse())).norm(dim=-1)
        assert d.max() < 2e-3  # within 2 mm after smoothing

    def test_bad_levels(self, toy_model):
        with pytest.raises(InputValueError):
            subdivide_model(toy_model, levels=-1)


class TestBadInput:
    def test_wrong_shapes(self, mh_head):
        with pytest.raises(ShapeError, match="expression"):
            mh_head(expression=torch.zeros(1, 51))
        with pytest.raises(ShapeError, match="batch"):
            mh_head(expression=torch.zeros(2, 52), identity=torch.zeros(3, mh_head.n_identity))
        with pytest.raises(ShapeError, match="rotation"):
            mh_head(rotation=torch.zeros(1, 4))

    def test_nan(self, mh_head):
        e = torch.zeros(1, 52)
        e[0, 3] = float("nan")
        with pytest.raises(InputValueError, match="NaN"):
            mh_head(expression=e)

    def test_not_a_tensor(self, mh_head):
        with pytest.raises(InputValueError, match="torch.Tensor"):
            mh_head(expression=np.zeros((1, 52)))

    def test_unknown_model(self):
        with pytest.raises(UnknownModelError, match="mh-head"):
            load_face_model("bfm")

    def test_missing_file(self, tmp_path):
        with pytest.raises(ModelFileError, match="not found"):
            load_face_model("npz", path=tmp_path / "nope.npz")
        with pytest.raises(ModelFileError, match="path="):
            load_face_model("flame")

    def test_corrupt_file(self, tmp_path):
        bad = tmp_path / "bad.npz"
        bad.write_bytes(b"PK\x03\x04 this is not a zip")
        with pytest.raises(ModelFileError, match="bad.npz"):
            face_model_from_npz(bad)

    def test_incomplete_file(self, tmp_path):
        p = tmp_path / "partial.npz"
        np.savez(p, v_template=np.zeros((3, 3)), faces=np.array([[0, 1, 2]]))
        with pytest.raises(ModelFileError, match="expr_basis"):
            face_model_from_npz(p)

    def test_inconsistent_file(self, tmp_path):
        p = tmp_path / "inconsistent.npz"
        np.savez(p, v_template=np.zeros((3, 3)), faces=np.array([[0, 1, 5]]),
                 expr_basis=np.zeros((1, 3, 3)), expr_names=np.array(["a"]))
        with pytest.raises(ModelFileError, match="faces"):
            face_model_from_npz(p)

    def test_npz_round_trip(self, tmp_path, toy_model):
        p = tmp_path / "toy.npz"
        np.savez(p, v_template=toy_model.v_template.numpy(), faces=toy_model.faces.numpy(),
                 expr_basis=toy_model.expr_basis.numpy(), expr_names=np.array(ARKIT_NAMES),
                 id_basis=toy_model.id_basis.numpy())
        loaded = load_face_model("npz", path=p, dtype=torch.float64)
        e = torch.rand(1, 52, dtype=torch.float64)
        torch.testing.assert_close(loaded(expression=e), toy_model(expression=e))


class TestMasks:
    """face_mask / region_weights live on the face model (mxkit.morph); eval re-exports them."""

    def test_known_counts_on_the_toy_grid(self):
        from mxkit.morph import face_mask, region_weights

        toy = toy_face_model(5)                       # regions: x > 0 'right' (10 vertices), else 'left'
        assert face_mask(toy, "all").sum() == 25 and face_mask(toy, "face").sum() == 25  # no skin part
        w = region_weights(toy, mask=np.r_[np.zeros(5), np.ones(20)], regions=["right"])
        assert list(w) == ["all", "right"]
        assert w["all"].sum() == 20 and w["right"].sum() == 8       # the first row (5 vertices) is out
        with pytest.raises(InputValueError, match="positive sum"):
            region_weights(toy, mask=np.zeros(25))
        with pytest.raises(OptionError, match="which"):
            face_mask(toy, "nose")

    def test_mh_head_face_mask_and_one_home(self, mh_head):
        import mxkit.eval
        import mxkit.eval.reconstruction
        from mxkit.morph import face_mask, region_weights

        assert mxkit.eval.face_mask is mxkit.eval.reconstruction.face_mask is face_mask
        assert mxkit.eval.region_weights is region_weights
        assert (face_mask(mh_head, "face").sum(), face_mask(mh_head, "skin").sum()) == (2896, 4221)
