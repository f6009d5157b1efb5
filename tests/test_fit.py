"""mxkit.fit: known answers, noise, clip identity, smoothing, batch == loop, a real photo, bad input."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch

from mxkit.errors import InputValueError, OptionError, ShapeError
from mxkit.fit import (
    CoarseFit,
    camera_rotation,
    fit_frames_independently,
    fit_landmarks,
    landmark_weights,
    smooth_fit,
)
from mxkit.fit.coarse import _banded_factor, _rotation_jacobian, _second_difference_band
from mxkit.fit.smooth import gaussian_smooth
from mxkit.fit.synthetic import make_landmark_model, project_parameters, synthetic_clip
from mxkit.geometry import axis_angle_to_matrix
from mxkit.morph import FaceModel

ACTIVE = ("mouthSmileLeft", "mouthSmileRight", "browInnerUp", "jawOpen")
WEAK = {"prior_identity": 1e-3, "prior_expression": 1e-3}  # near-unregularised known answers


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _angle_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Angle (T,) in degrees of the relative rotation between two axis-angle tracks."""
    Rd = axis_angle_to_matrix(a.double()) @ axis_angle_to_matrix(b.double()).transpose(1, 2)
    cos = ((Rd.diagonal(dim1=1, dim2=2).sum(-1) - 1.0) / 2.0).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.acos(cos))


def _jitter(expression: torch.Tensor) -> float:
    return float((expression[2:] - 2 * expression[1:-1] + expression[:-2]).abs().mean())


@pytest.fixture(scope="module")
def lm_model() -> FaceModel:
    return make_landmark_model()


# ----------------------------------------------------------------------------- helpers
class TestHelpers:
    def test_rotation_jacobian_matches_finite_differences(self):
        om = torch.randn(6, 3, dtype=torch.float64, generator=_gen(0)) * 0.6
        om[0] = 0.0
        om[1] = 1e-9
        _, dR = _rotation_jacobian(om)
        for i in range(3):
            e = torch.zeros(3, dtype=torch.float64)
            e[i] = 1e-6
            num = (axis_angle_to_matrix(om + e) - axis_angle_to_matrix(om - e)) / 2e-6
            torch.testing.assert_close(dR[:, i], num, atol=1e-8, rtol=0)

    def test_banded_solver_matches_dense(self):
        g = _gen(1)
        T, P, lam = 7, 4, 2.0
        A0 = torch.randn(T, P, P, dtype=torch.float64, generator=g)
        A0 = A0 @ A0.transpose(1, 2) + torch.eye(P, dtype=torch.float64)
        M = torch.randn(P, P, dtype=torch.float64, generator=g)
        M = M @ M.T
        band = _second_difference_band(T, A0)
        f = torch.ones(T, P, dtype=torch.float64)
        f[2, 1] = f[5, 3] = 0.0
        D = torch.zeros(T - 2, T, dtype=torch.float64)
        for j in range(T - 2):
            D[j, j:j + 3] = torch.tensor([1.0, -2.0, 1.0], dtype=torch.float64)
        full = torch.kron(D.T @ D, lam * M) + torch.block_diag(*A0)
        fv = f.reshape(-1)
        full = full * fv[:, None] * fv[None, :] + torch.diag(1 - fv)
        held = f == 0
        blocks = (A0 + lam * band[0][:, None, None] * M).masked_fill(
            held[:, :, None] | held[:, None, :], 0.0)
        blocks.diagonal(dim1=1, dim2=2).add_(held.double())
        lower, upper = _banded_factor(blocks, lam * M, band, f)
        b = torch.randn(T, P, 3, dtype=torch.float64, generator=g) * f[..., None]
        expected = torch.linalg.solve(full, b.reshape(T * P, 3)).reshape(T, P, 3)
        torch.testing.assert_close(upper(lower(b)), expected)

    def test_landmark_weights(self):
        w = landmark_weights("ibug68", 68, contour_weight=0.25)
        assert w.shape == (68,)
        assert torch.all(w[:17] == 0.25) and torch.all(w[17:] == 1.0)
        assert torch.all(landmark_weights("mp468", 468) == 1.0)

    def test_gaussian_smooth_keeps_constants_and_reduces_noise(self):
        x = torch.full((30, 2), 0.4)
        torch.testing.assert_close(gaussian_smooth(x, 3.0), x)
        noise = torch.randn(200, generator=_gen(2))
        assert float(gaussian_smooth(noise, 2.0).std()) < 0.5 * float(noise.std())
        torch.testing.assert_close(gaussian_smooth(noise, 0.0), noise)

    def test_synthetic_clip_is_reproducible(self, lm_model):
        a = synthetic_clip(lm_model, n_frames=5, noise_px=1.0, generator=_gen(3))
        b = synthetic_clip(lm_model, n_frames=5, noise_px=1.0, generator=_gen(3))
        torch.testing.assert_close(a.landmarks, b.landmarks)
        assert a.landmarks.shape == (5, 68, 2)
        torch.testing.assert_close(
            a.clean, project_parameters(lm_model, a.identity, a.expression, a.rotation,
                                        a.scale, a.t2d))


# ----------------------------------------------------------------------------- fit_landmarks
class TestFitLandmarks:
    def test_smoke_shapes(self, lm_model):
        clip = synthetic_clip(lm_model, n_frames=5, generator=_gen(0))
        fit = fit_landmarks(lm_model, clip.landmarks)
        T, K, E = 5, lm_model.n_identity, lm_model.n_expressions
        assert isinstance(fit, CoarseFit) and len(fit) == T
        assert fit.identity.shape == (K,)
        assert fit.expression.shape == (T, E)
        assert fit.rotation.shape == (T, 3) and fit.scale.shape == (T,) and fit.t2d.shape == (T, 2)
        assert fit.landmarks.shape == fit.target.shape == (T, 68, 2)
        assert fit.error_px.shape == fit.error_nme.shape == (T,)
        assert fit.loss_history.ndim == 1 and fit.loss_history.numel() == fit.n_iters + 1
        assert fit.expression.dtype == lm_model.v_template.dtype
        assert float(fit.expression.min()) >= 0.0 and float(fit.expression.max()) <= 1.0
        # excluded shapes stay exactly 0
        excluded = ~lm_model.expression_mask(exclude=("gaze", "tongue"))
        assert torch.all(fit.expression[:, excluded] == 0)

    def test_known_answer_mh_head(self, mh_head):
        """Noise-free landmarks of mh-head with known parameters are fitted exactly."""
        clip = synthetic_clip(mh_head, n_frames=20, generator=_gen(1))
        fit = fit_landmarks(mh_head, clip.landmarks, **WEAK)
        assert fit.converged
        assert float(fit.error_px.max()) < 0.1
        idx = mh_head.expression_index(list(ACTIVE))
        torch.testing.assert_close(fit.expression[:, idx], clip.expression[:, idx],
                                   atol=0.05, rtol=0)
        assert float(clip.expression[:, idx[0]].max()) == pytest.approx(0.6, abs=0.01)
        assert float(_angle_deg(fit.rotation, clip.rotation).max()) < 1.0
        torch.testing.assert_close(fit.scale, clip.scale, rtol=0.01, atol=0)
        hist = fit.loss_history
        assert torch.all(hist[1:] <= hist[:-1])                 # monotone (LM acceptance)

    def test_known_answer_single_frame(self, mh_head):
        clip = synthetic_clip(mh_head, n_frames=1, generator=_gen(4))
        fit = fit_landmarks(mh_head, clip.landmarks, **WEAK)
        assert float(fit.error_px.max()) < 0.1
        idx = mh_head.expression_index(list(ACTIVE))
        torch.testing.assert_close(fit.expression[:, idx], clip.expression[:, idx],
                                   atol=0.05, rtol=0)
        assert float(_angle_deg(fit.rotation, clip.rotation).max()) < 1.0

    def test_noise_robustness(self, mh_head):
        """0.5 px noise (about 0.5 % of the inter-ocular distance), default priors.

        Stated robustness: the fitted landmarks are closer to the clean ones than the noisy
        input, the pose is within 1.5 degrees, every active weight is within 0.25 of the
        truth in every frame (defaults shrink weights a little: apex smile 0.6 -> ~0.45).
        """
        clip = synthetic_clip(mh_head, n_frames=40, noise_px=0.5, generator=_gen(2))
        fit = fit_landmarks(mh_head, clip.landmarks)
        clean_err = float((fit.landmarks - clip.clean).norm(dim=-1).mean())
        noise_err = float((clip.landmarks - clip.clean).norm(dim=-1).mean())
        assert clean_err < 0.6 * noise_err
        assert float(_angle_deg(fit.rotation, clip.rotation).max()) < 1.5
        idx = mh_head.expression_index(list(ACTIVE))
        assert float((fit.expression[:, idx] - clip.expression[:, idx]).abs().max()) < 0.25
        assert float(fit.error_nme.mean()) < 0.01

    def test_clip_identity_is_shared(self, mh_head):
        clip = synthetic_clip(mh_head, n_frames=12, generator=_gen(5))
        fit = fit_landmarks(mh_head, clip.landmarks, **WEAK)
        assert fit.identity.shape == (mh_head.n_identity,)
        assert fit.identity_per_frame.shape == (12, mh_head.n_identity)
        assert torch.all(fit.identity_per_frame == fit.identity[None])
        # neutral shape (identity only) is the same for every frame; it matches the truth
        neutral_fit = mh_head(fit.identity[None])
        neutral_true = mh_head(clip.identity[None])
        lm_err = (mh_head.landmarks(neutral_fit) - mh_head.landmarks(neutral_true)).norm(dim=-1)
        assert float(lm_err.max()) < 1e-3                      # metres, at the landmarks
        per = fit_frames_independently(mh_head, clip.landmarks, **WEAK)
        assert per.identity.shape == (12, mh_head.n_identity)
        assert float((per.identity - per.identity[:1]).abs().max()) > 1e-3

    def test_temporal_smoothness_reduces_jitter(self, lm_model):
        clip = synthetic_clip(lm_model, n_frames=40, noise_px=1.0, generator=_gen(3))
        idx = lm_model.expression_index(list(ACTIVE))
        per = fit_frames_independently(lm_model, clip.landmarks)
        smooth = fit_landmarks(lm_model, clip.landmarks, smooth=10.0)
        assert smooth.converged
        assert _jitter(smooth.expression) < 0.2 * _jitter(per.expression)

        def rmse(f):
            return float((f.expression[:, idx] - clip.expression[:, idx]).pow(2).mean().sqrt())

        assert rmse(smooth) < rmse(per)
        post = smooth_fit(per, sigma=2.0)
        assert _jitter(post.expression) < 0.2 * _jitter(per.expression)
        assert rmse(post) < rmse(per)

    def test_batch_equals_loop(self, mh_head):
        clip = synthetic_clip(mh_head, n_frames=4, noise_px=0.5, generator=_gen(6))
        batch = fit_frames_independently(mh_head, clip.landmarks)
        for t in range(4):
            one = fit_landmarks(mh_head, clip.landmarks[t:t + 1], clip_identity=False)
            for name in ("identity", "expression", "rotation", "scale", "t2d", "landmarks"):
                torch.testing.assert_close(getattr(batch, name)[t:t + 1], getattr(one, name),
                                           atol=1e-4, rtol=1e-4)

    def test_identity_prior_per_frame(self, mh_head):
        """T copies of one frame: with the prior counted per frame, the clip objective is T
        times the single-frame one, so the clip fit's identity is the single-frame fit's; counted
        once per clip, the prior is T times weaker and the identity grows."""
        clip = synthetic_clip(mh_head, n_frames=1, noise_px=1.0, generator=_gen(11))
        lm = clip.landmarks.expand(6, -1, -1)
        one = fit_frames_independently(mh_head, clip.landmarks)
        frame = fit_landmarks(mh_head, lm, identity_prior="frame")
        torch.testing.assert_close(frame.identity, one.identity[0], atol=2e-4, rtol=1e-3)
        torch.testing.assert_close(frame.expression, one.expression.expand(6, -1), atol=2e-4, rtol=1e-3)
        per_clip = fit_landmarks(mh_head, lm)
        assert float(per_clip.identity.norm()) > float(frame.identity.norm()) * 1.05
        with pytest.raises(OptionError, match="identity_prior"):
            fit_landmarks(mh_head, lm, identity_prior="subject")

    def test_shared_and_per_frame_weights_agree(self, lm_model):
        """The factorised normal equations (shared weights) equal the dense path."""
        clip = synthetic_clip(lm_model, n_frames=6, noise_px=0.5, generator=_gen(7))
        w = torch.rand(68, generator=_gen(8)) + 0.5
        a = fit_landmarks(lm_model, clip.landmarks, weights=w)
        b = fit_landmarks(lm_model, clip.landmarks, weights=w[None].expand(6, 68).clone()
                          + torch.tensor([0.0] * 5 + [1e-12])[:, None])  # forces dense path
        torch.testing.assert_close(a.expression, b.expression, atol=1e-4, rtol=0)
        torch.testing.assert_close(a.landmarks, b.landmarks, atol=1e-3, rtol=0)

    def test_zero_weight_landmarks_are_ignored(self, lm_model):
        clip = synthetic_clip(lm_model, n_frames=3, generator=_gen(9))
        w = torch.ones(3, 68)
        w[:, 30] = 0.0
        moved = clip.landmarks.clone()
        moved[:, 30] += 25.0
        a = fit_landmarks(lm_model, clip.landmarks, weights=w)
        b = fit_landmarks(lm_model, moved, weights=w)
        torch.testing.assert_close(a.expression, b.expression, atol=1e-5, rtol=0)

    @pytest.mark.parametrize("method", ["lbfgs", "adam"])
    def test_other_methods(self, lm_model, method):
        clip = synthetic_clip(lm_model, n_frames=6, noise_px=0.5, generator=_gen(10))
        gn = fit_landmarks(lm_model, clip.landmarks)
        other = fit_landmarks(lm_model, clip.landmarks, method=method)
        assert other.method == method
        assert float(other.loss_history[-1]) < float(other.loss_history[0])
        assert float(other.expression.min()) >= 0 and float(other.expression.max()) <= 1
        slack = 1.01 if method == "lbfgs" else 1.5          # Adam is a slow baseline
        assert float(other.loss_history[-1]) <= slack * float(gn.loss_history[-1])

    def test_warm_start(self, mh_head):
        clip = synthetic_clip(mh_head, n_frames=8, noise_px=0.5, generator=_gen(11))
        first = fit_landmarks(mh_head, clip.landmarks)
        again = fit_landmarks(mh_head, clip.landmarks, init=first)
        assert again.n_iters <= 2
        torch.testing.assert_close(again.expression, first.expression, atol=1e-3, rtol=0)
        # a 1-frame fit warm-starts every frame of a clip
        one = fit_landmarks(mh_head, clip.landmarks, init=first[0])
        assert one.n_frames == 8 and float(one.error_px.mean()) < 1.0

    def test_pca_expressions_are_unbounded(self, lm_model):
        pca = FaceModel(name="pca", v_template=lm_model.v_template.numpy(),
                        faces=lm_model.faces.numpy(), expr_basis=lm_model.expr_basis.numpy(),
                        expr_names=[f"e{i}" for i in range(lm_model.n_expressions)],
                        id_basis=lm_model.id_basis.numpy(),
                        landmarks=lm_model.landmark_embeddings, expression_kind="pca")
        expr = torch.zeros(2, pca.n_expressions)
        expr[:, pca.expression_index("e23")] = -0.5
        lm = project_parameters(pca, torch.zeros(pca.n_identity), expr, torch.zeros(2, 3),
                                torch.full((2,), 900.0), torch.full((2, 2), 128.0))
        fit = fit_landmarks(pca, lm, **WEAK)
        assert float(fit.expression.min()) < -0.3
        assert float(fit.error_px.max()) < 0.1

    def test_dtype_follows_model(self):
        model = make_landmark_model(dtype=torch.float64)
        clip = synthetic_clip(model, n_frames=2, generator=_gen(12))
        fit = fit_landmarks(model, clip.landmarks.float())
        assert fit.expression.dtype == torch.float64 and fit.landmarks.dtype == torch.float64

    @pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
    def test_device(self, lm_model):
        model = make_landmark_model().to("cuda")
        clip = synthetic_clip(lm_model, n_frames=3, generator=_gen(13))
        fit = fit_landmarks(model, clip.landmarks)
        assert fit.expression.device.type == "cuda"
        assert fit.to("cpu").expression.device.type == "cpu"


class TestFitExceptions:
    def test_bad_input(self, lm_model):
        good = synthetic_clip(lm_model, n_frames=2, generator=_gen(0)).landmarks
        with pytest.raises(InputValueError, match="0 frames"):
            fit_landmarks(lm_model, torch.zeros(0, 68, 2))
        with pytest.raises(InputValueError, match="empty"):
            fit_landmarks(lm_model, [])
        nan = good.clone()
        nan[1, 5, 0] = float("nan")
        with pytest.raises(InputValueError, match="NaN"):
            fit_landmarks(lm_model, nan)
        with pytest.raises(ShapeError, match="68"):
            fit_landmarks(lm_model, good[:, :60])
        with pytest.raises(ShapeError):
            fit_landmarks(lm_model, good[0])                      # (L, 2): T missing
        with pytest.raises(ShapeError, match="weights"):
            fit_landmarks(lm_model, good, weights=torch.ones(60))
        with pytest.raises(ShapeError, match="weights"):
            fit_landmarks(lm_model, good, weights=torch.ones(3, 68))
        with pytest.raises(InputValueError, match=">= 0"):
            fit_landmarks(lm_model, good, weights=-torch.ones(68))
        w = torch.zeros(68)
        w[:3] = 1.0
        with pytest.raises(InputValueError, match="at least 4"):
            fit_landmarks(lm_model, good, weights=w)
        with pytest.raises(InputValueError, match="coincide"):
            fit_landmarks(lm_model, torch.ones(1, 68, 2))
        with pytest.raises(InputValueError):
            fit_landmarks(lm_model, good, prior_identity=-1.0)
        with pytest.raises(InputValueError):
            fit_landmarks(lm_model, good, n_iters=-1)
        with pytest.raises(InputValueError, match="FaceModel"):
            fit_landmarks("mh-head", good)

    def test_bad_options(self, lm_model):
        good = synthetic_clip(lm_model, n_frames=2, generator=_gen(0)).landmarks
        with pytest.raises(OptionError, match="method"):
            fit_landmarks(lm_model, good, method="newton")
        with pytest.raises(OptionError, match="kind"):
            fit_landmarks(lm_model, good, kind="mp468")

    def test_bad_init(self, lm_model):
        good = synthetic_clip(lm_model, n_frames=3, generator=_gen(0)).landmarks
        fit2 = fit_landmarks(lm_model, good[:2])
        with pytest.raises(ShapeError, match="frames"):
            fit_landmarks(lm_model, good, init=fit2)
        with pytest.raises(InputValueError, match="CoarseFit"):
            fit_landmarks(lm_model, good, init={"expression": 0})


# ----------------------------------------------------------------------------- CoarseFit
@pytest.fixture(scope="module")
def fit(mh_head):
    clip = synthetic_clip(mh_head, n_frames=5, noise_px=0.5, generator=_gen(20))
    return fit_landmarks(mh_head, clip.landmarks)


class TestCoarseFit:
    def test_vertices_and_projection(self, fit, mh_head):
        v = fit.vertices
        assert v.shape == (5, mh_head.n_vertices, 3)
        torch.testing.assert_close(v, mh_head(fit.identity_per_frame, fit.expression))
        world = fit.vertices_world()
        torch.testing.assert_close(world, mh_head(fit.identity_per_frame, fit.expression,
                                                  rotation=fit.rotation,
                                                  translation=fit.translation))
        proj = fit.project(mh_head.landmarks(v))
        torch.testing.assert_close(proj, fit.landmarks, atol=1e-3, rtol=0)
        # world frame: the weak-perspective camera reads u = s x, v = -s y
        lw = mh_head.landmarks(world)
        uv = torch.stack([fit.scale[:, None] * lw[..., 0], -fit.scale[:, None] * lw[..., 1]], -1)
        torch.testing.assert_close(uv, fit.landmarks, atol=1e-3, rtol=0)
        assert fit.project().shape == (5, mh_head.n_vertices, 2)

    def test_camera_rotation_is_frontal_at_zero(self):
        R = camera_rotation(torch.zeros(1, 3))
        torch.testing.assert_close(R[0], torch.diag(torch.tensor([1.0, -1.0, -1.0])))

    def test_errors_are_consistent(self, fit):
        d = (fit.landmarks - fit.target).norm(dim=-1).mean(1)
        torch.testing.assert_close(fit.error_px, d)
        iod = (fit.target[:, 45] - fit.target[:, 36]).norm(dim=-1)
        torch.testing.assert_close(fit.error_nme, d / iod)

    def test_to_and_dataframe(self, fit, mh_head):
        moved = fit.to("cpu")
        assert moved.model is fit.model
        torch.testing.assert_close(moved.expression, fit.expression)
        wide = fit.to_dataframe()
        assert len(wide) == 5
        assert {"frame", "error_px", "error_nme", "scale", "rot_x", "tu", "tv",
                "mouthSmileLeft"} <= set(wide.columns)
        np.testing.assert_allclose(wide["mouthSmileLeft"].to_numpy(),
                                   fit.expression[:, 23].double().numpy())
        long = fit.to_dataframe(long=True)
        assert list(long.columns) == ["frame", "shape", "weight"]
        assert len(long) == 5 * mh_head.n_expressions
        back = long.pivot(index="frame", columns="shape", values="weight")
        np.testing.assert_allclose(back[list(mh_head.expression_names)].to_numpy(),
                                   fit.expression.double().numpy())
        s = fit.summary(top=3)
        assert s["frames"] == 5 and len(s["top_expressions"]) == 3
        assert isinstance(s["mean_error_px"], float)

    def test_getitem(self, fit):
        one = fit[2]
        assert isinstance(one, CoarseFit) and one.n_frames == 1
        torch.testing.assert_close(one.expression, fit.expression[2:3])
        assert fit[1:4].n_frames == 3
        torch.testing.assert_close(fit[1:4].vertices, fit.vertices[1:4])
        with pytest.raises(IndexError):
            fit[5]

    def test_validation(self, fit):
        with pytest.raises(ShapeError):
            dataclasses.replace(fit, rotation=fit.rotation[:2])


class TestSmoothFit:
    def test_values(self, lm_model):
        clip = synthetic_clip(lm_model, n_frames=20, noise_px=1.0, generator=_gen(30))
        per = fit_frames_independently(lm_model, clip.landmarks)
        same = smooth_fit(per, sigma=0.0)
        torch.testing.assert_close(same.expression, per.expression)
        sm = smooth_fit(per, sigma=2.0)
        assert sm.method == "smoothed" and sm.identity.shape == per.identity.shape
        assert float(sm.expression.min()) >= 0 and float(sm.expression.max()) <= 1
        assert _jitter(sm.expression) < _jitter(per.expression)
        expected = project_parameters(lm_model, sm.identity, sm.expression, sm.rotation,
                                      sm.scale, sm.t2d)
        torch.testing.assert_close(sm.landmarks, expected)

    def test_exceptions(self, lm_model):
        clip = synthetic_clip(lm_model, n_frames=4, generator=_gen(31))
        fit = fit_landmarks(lm_model, clip.landmarks)
        with pytest.raises(InputValueError, match="sigma"):
            smooth_fit(fit, sigma=-1.0)
        with pytest.raises(InputValueError, match="model"):
            smooth_fit(dataclasses.replace(fit, model=None), sigma=1.0)
        with pytest.raises(InputValueError, match="CoarseFit"):
            smooth_fit("fit", sigma=1.0)


# ----------------------------------------------------------------------------- a real photo
def _astronaut_landmarks() -> np.ndarray:
    dlib = pytest.importorskip("dlib")
    from skimage.data import astronaut

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import face_recognition_models

    img = astronaut()
    dets, scores, _ = dlib.get_frontal_face_detector().run(img, 1, 0)
    box = dets[int(np.argmax(scores))]
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    shape = predictor(img, box)
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)


class TestAstronaut:
    def test_fit_recovers_her_smile(self, mh_head):
        lm = _astronaut_landmarks()
        fit = fit_landmarks(mh_head, lm[None])
        assert fit.converged
        assert float(fit.error_nme[0]) < 0.03           # measured ~2.0 % of the IOD
        idx = mh_head.expression_index(["mouthSmileLeft", "mouthSmileRight"])
        smile = fit.expression[0, idx]
        # the same camera and a neutral synthetic face: the smile weights stay ~0
        neutral = project_parameters(mh_head, torch.zeros(mh_head.n_identity),
                                     torch.zeros(1, mh_head.n_expressions), fit.rotation,
                                     fit.scale, fit.t2d)
        base = fit_landmarks(mh_head, neutral).expression[0, idx]
        assert float(base.max()) < 0.05
        assert float(smile.min()) > 0.3 and float((smile - base).min()) > 0.3
        assert float(_angle_deg(fit.rotation, torch.zeros(1, 3))[0]) < 15.0  # near-frontal


def test_threads_argument_is_restored_and_does_not_change_the_fit():
    model = make_landmark_model()
    clip = synthetic_clip(model, n_frames=6, generator=torch.Generator().manual_seed(3))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        one = fit_landmarks(model, clip.landmarks, smooth=5.0)            # default: 1 thread
        assert torch.get_num_threads() == 2                                # restored
        untouched = fit_landmarks(model, clip.landmarks, smooth=5.0, threads=None)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    torch.testing.assert_close(one.expression, untouched.expression, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(one.rotation, untouched.rotation, rtol=1e-5, atol=1e-6)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputValueError, match="threads"):
            fit_landmarks(model, clip.landmarks, threads=bad)
        with pytest.raises(InputValueError, match="threads"):
            fit_frames_independently(model, clip.landmarks, threads=bad)
