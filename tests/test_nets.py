"""mxkit.nets: graph operators, layers, features, DynamicEncoder, MeshDeformer, DynamicRefiner.

Known answers on a toy 5x5 grid face (``toy_face_model``) whose vertices project exactly
onto pixel centres, so flow injected at those pixels is sampled exactly.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mxkit.errors import InputValueError, OptionError, ShapeError
from mxkit.fit import CoarseFit
from mxkit.nets import (
    DEFORMER_CHANNELS,
    DEFORMER_IN_FEATURES,
    ChebConv,
    DynamicEncoder,
    DynamicRefiner,
    MeshDeformer,
    MeshGraph,
    adjacency_matrix,
    apply_operator,
    backproject,
    cheb_conv,
    chebyshev_operator,
    clip_features,
    cotangent_laplacian,
    deformer_inputs,
    dynamic_encoder,
    encoder_in_features,
    estimate_distance,
    features_from_prepared,
    gru,
    mesh_deformer,
    mesh_edges,
    normalized_laplacian,
    plane_projection,
    project_points,
    register_rigid,
    temporal_conv,
    uniform_laplacian,
    vertex_normals,
)
from mxkit.render import icosphere
from mxkit.testing import toy_face_model

F64 = torch.float64
SCALE = 200.0          # px per metre: the toy grid's 2.5 cm spacing is 5 px
CENTRE = (16.0, 16.0)  # where the model origin projects
SIZE = 32


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def zero_fit(model, T: int, *, expression: torch.Tensor | None = None) -> CoarseFit:
    """A CoarseFit with known parameters: zero identity/rotation, fixed scale and centre."""
    dt = model.v_template.dtype
    E, K = model.n_expressions, model.n_identity
    z = torch.zeros
    expr = z(T, E, dtype=dt) if expression is None else expression.to(dt)
    fit = CoarseFit(identity=z(K, dtype=dt), expression=expr, rotation=z(T, 3, dtype=dt),
                    scale=torch.full((T,), SCALE, dtype=dt),
                    t2d=torch.tensor(CENTRE, dtype=dt).expand(T, 2).clone(),
                    landmarks=z(T, 2, 2, dtype=dt), target=z(T, 2, 2, dtype=dt),
                    weights=torch.ones(T, 2, dtype=dt), error_px=z(T, dtype=dt),
                    error_nme=z(T, dtype=dt), loss_history=z(1, dtype=dt), model=model,
                    expression_names=model.expression_names)
    lmk = fit.project(model.landmarks(fit.vertices))
    return dataclasses.replace(fit, landmarks=lmk, target=lmk)


def toy_clip(model, *, T: int = 6, onset: int = 0, detail: torch.Tensor | None = None,
             profile: torch.Tensor | None = None, expression: torch.Tensor | None = None,
             coarse_expression: torch.Tensor | None = None, seed: int = 0):
    """A toy clip with a known answer.

    The truth is ``template + expression_t + profile_t * detail`` (in-plane detail); the
    flow image holds, at each vertex's onset pixel, exactly the projected true motion; the
    coarse fit has zero identity and ``coarse_expression`` (default zeros).

    Returns ``(landmarks, flow, fit, truth)`` with truth (T, V, 3).
    """
    dt = model.v_template.dtype
    V, E = model.n_vertices, model.n_expressions
    if profile is None:
        profile = torch.sin(torch.pi * torch.arange(T, dtype=dt) / T) ** 2
        profile = torch.roll(profile, onset)
    if detail is None:
        detail = torch.randn(V, 3, generator=_gen(seed), dtype=dt) * 1e-3
        detail[:, 2] = 0.0
    if expression is None:
        expression = torch.zeros(T, E, dtype=dt)
    truth = model(torch.zeros(T, model.n_identity, dtype=dt), expression) \
        + profile[:, None, None] * detail
    fit = zero_fit(model, T, expression=coarse_expression)
    px_true = fit.project(truth)
    p0 = px_true[onset]
    flow = torch.zeros(T, SIZE, SIZE, 2, dtype=dt)
    r, c = p0[:, 1].round().long(), p0[:, 0].round().long()
    flow[:, r, c] = px_true - p0
    lmk = fit.project(model.landmarks(truth))
    return lmk, flow, fit, truth


@pytest.fixture
def toy():
    return toy_face_model(5)


@pytest.fixture
def toy_features(toy):
    lmk, flow, fit, truth = toy_clip(toy)
    return clip_features(lmk, flow, None, fit, toy, onset=0, k=2, register=False), truth


def _randomise(module: torch.nn.Module, seed: int = 1, scale: float = 0.3) -> None:
    g = _gen(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * scale)


# ----------------------------------------------------------------------------- graph
class TestGraph:
    def test_edges_values(self):
        e = mesh_edges([[0, 1, 2], [0, 2, 3]], 4)
        pairs = set(map(tuple, e.T.tolist()))
        want = {(0, 1), (1, 2), (0, 2), (2, 3), (0, 3)}
        assert pairs == want | {(b, a) for a, b in want}
        assert e.shape == (2, 10)

    def test_adjacency_degree(self, toy):
        A = adjacency_matrix(toy.faces, toy.n_vertices, dtype=F64).to_dense()
        assert torch.equal(A, A.T)
        assert A.diagonal().abs().sum() == 0
        g = MeshGraph.from_model(toy)
        assert torch.equal(A.sum(1).long(), g.degree())
        assert g.n_edges == int(A.sum() / 2)

    @pytest.mark.parametrize("build", [uniform_laplacian, normalized_laplacian])
    def test_laplacian_of_constant_is_zero(self, toy, build):
        L = build(toy.faces, toy.n_vertices, dtype=F64)
        x = torch.full((toy.n_vertices, 3), 2.5, dtype=F64)
        if build is normalized_laplacian:      # L_sym annihilates D^1/2 1, not 1
            x = x * MeshGraph.from_model(toy).degree().to(F64).sqrt()[:, None]
        assert apply_operator(L, x).abs().max() < 1e-12

    def test_laplacians_exact_on_linear_functions(self, toy):
        xyz = toy.v_template.to(F64)
        f = (xyz @ torch.tensor([1.0, -2.0, 0.5], dtype=F64))[:, None]
        interior = (xyz[:, :2].abs() < 0.049).all(1)
        for L in (uniform_laplacian(toy.faces, toy.n_vertices, dtype=F64),
                  cotangent_laplacian(xyz, toy.faces)):
            out = apply_operator(L, f)
            assert out[interior].abs().max() < 1e-12
            assert apply_operator(L, torch.ones_like(f)).abs().max() < 1e-12

    def test_cotangent_is_symmetric_psd(self):
        v, f = icosphere(2)
        L = cotangent_laplacian(torch.tensor(v), f).to_dense()
        assert torch.allclose(L, L.T)
        assert torch.linalg.eigvalsh(L).min() > -1e-10

    def test_chebyshev_spectrum(self):
        v, f = icosphere(2)
        L = chebyshev_operator(f, len(v), dtype=F64).to_dense()
        ev = torch.linalg.eigvalsh(L)
        assert ev.min() >= -1 - 1e-9 and ev.max() <= 1 + 1e-9
        Ls = normalized_laplacian(f, len(v), dtype=F64).to_dense()
        assert torch.allclose(L, Ls - torch.eye(len(v), dtype=F64))

    def test_permutation_equivariance(self, toy):
        V = toy.n_vertices
        perm = torch.randperm(V, generator=_gen(3))
        inv = torch.argsort(perm)
        faces = inv[toy.faces]                   # vertex i of the new mesh is old perm[i]
        L = uniform_laplacian(toy.faces, V, dtype=F64)
        Lp = uniform_laplacian(faces, V, dtype=F64)
        x = torch.randn(V, 2, generator=_gen(4), dtype=F64)
        assert torch.allclose(apply_operator(Lp, x[perm]), apply_operator(L, x)[perm])

    def test_apply_operator_batch_equals_loop(self, toy):
        L = uniform_laplacian(toy.faces, toy.n_vertices, dtype=F64)
        x = torch.randn(2, 3, toy.n_vertices, 4, generator=_gen(), dtype=F64)
        out = apply_operator(L, x)
        for i in range(2):
            for j in range(3):
                assert torch.allclose(out[i, j], torch.sparse.mm(L, x[i, j]))

    def test_vertex_normals_of_sphere_are_radial(self):
        v, f = icosphere(3)
        n = vertex_normals(torch.tensor(v), f)
        assert torch.allclose(n, torch.tensor(v), atol=2e-2)
        assert torch.allclose(torch.linalg.norm(n, dim=-1), torch.ones(len(v), dtype=F64))

    def test_operator_cache_and_device(self, toy):
        g = MeshGraph.from_model(toy)
        a = g.operator("chebyshev", dtype=F64)
        assert g.operator("chebyshev", dtype=F64) is a
        assert a.dtype == F64 and a.device.type == "cpu"

    def test_exceptions(self, toy):
        with pytest.raises(InputValueError, match="outside"):
            mesh_edges([[0, 1, 5]], 3)
        with pytest.raises(InputValueError, match="integer"):
            mesh_edges(np.array([[0.0, 1.0, 2.0]]), 3)
        with pytest.raises(ShapeError):
            mesh_edges([[0, 1]], 3)
        with pytest.raises(InputValueError, match="degenerate"):
            cotangent_laplacian(torch.zeros(3, 3, dtype=F64), [[0, 1, 2]])
        with pytest.raises(OptionError, match="'operator'"):
            MeshGraph.from_model(toy).operator("bogus")
        with pytest.warns(DeprecationWarning, match="'kind' is deprecated; use 'operator'"):
            old = MeshGraph.from_model(toy).operator(kind="uniform", dtype=F64)
        torch.testing.assert_close(old.to_dense(), MeshGraph.from_model(toy).operator("uniform", dtype=F64).to_dense())


# ----------------------------------------------------------------------------- layers
class TestLayers:
    def test_gru_matches_torch(self):
        ref = torch.nn.GRU(5, 4, bidirectional=True).double()
        x = torch.randn(7, 5, generator=_gen(), dtype=F64)
        want, _ = ref(x[:, None])
        got = gru(x, dict(ref.named_parameters()))
        assert torch.allclose(got, want[:, 0], atol=1e-12)
        one = torch.nn.GRU(5, 4).double()
        assert torch.allclose(gru(x, dict(one.named_parameters()), bidirectional=False),
                              one(x[:, None])[0][:, 0], atol=1e-12)

    def test_cheb_conv_order_one_is_linear(self, toy):
        op = chebyshev_operator(toy.faces, toy.n_vertices, dtype=F64)
        x = torch.randn(3, toy.n_vertices, 4, generator=_gen(), dtype=F64)
        w = torch.randn(1, 4, 2, generator=_gen(1), dtype=F64)
        assert torch.allclose(cheb_conv(x, op, w), x @ w[0])

    def test_cheb_conv_values(self, toy):
        op = chebyshev_operator(toy.faces, toy.n_vertices, dtype=F64)
        x = torch.randn(toy.n_vertices, 2, generator=_gen(), dtype=F64)
        w = torch.randn(3, 2, 2, generator=_gen(1), dtype=F64)
        D = op.to_dense()
        want = x @ w[0] + D @ x @ w[1] + (2 * D @ D @ x - x) @ w[2]
        assert torch.allclose(cheb_conv(x, op, w), want)

    def test_cheb_module_matches_function_and_gradcheck(self, toy):
        op = chebyshev_operator(toy.faces, toy.n_vertices, dtype=F64)
        conv = ChebConv(2, 3, order=3, generator=_gen()).double()
        x = torch.randn(2, toy.n_vertices, 2, generator=_gen(1), dtype=F64, requires_grad=True)
        assert torch.equal(conv(x, op), cheb_conv(x, op, conv.weight, conv.bias))
        assert torch.autograd.gradcheck(lambda a, w: cheb_conv(a, op, w), (x, conv.weight),
                                        fast_mode=True)

    def test_temporal_conv_matches_conv1d(self):
        x = torch.randn(9, 4, generator=_gen(), dtype=F64)
        w = torch.randn(5, 4, 3, generator=_gen(1), dtype=F64)[:4]
        b = torch.randn(4, generator=_gen(2), dtype=F64)
        for d in (1, 2, 4):
            want = x + torch.nn.functional.gelu(torch.nn.functional.conv1d(
                x.T[None], w, b, padding=d, dilation=d)[0].T)
            assert torch.allclose(temporal_conv(x, w, b, dilation=d), want, atol=1e-12)

    def test_temporal_conv(self):
        x = torch.randn(9, 4, generator=_gen(), dtype=F64)
        w = torch.zeros(4, 4, 3, dtype=F64)
        assert torch.equal(temporal_conv(x, w, None), x)           # gelu(0) = 0
        w = torch.randn(4, 4, 3, generator=_gen(1), dtype=F64)
        assert temporal_conv(x, w, None, dilation=2).shape == (9, 4)
        with pytest.raises(InputValueError, match="odd"):
            temporal_conv(x, torch.zeros(4, 4, 2, dtype=F64), None)


# ----------------------------------------------------------------------------- features
class TestFeatures:
    def test_backprojection_inverts_projection(self):
        R = torch.linalg.matrix_exp(torch.tensor([[0.0, -0.2, 0.1], [0.2, 0.0, -0.3],
                                                  [-0.1, 0.3, 0.0]], dtype=F64))[None]
        X = torch.randn(1, 10, 3, generator=_gen(), dtype=F64) * 0.05
        s, c = torch.tensor([900.0], dtype=F64), torch.tensor([[120.0, 90.0]], dtype=F64)
        px = project_points(X, R, s, c)
        assert torch.allclose(backproject(px, R, s, c), plane_projection(X, R), atol=1e-15)
        assert torch.allclose(project_points(plane_projection(X, R), R, s, c), px)

    def test_register_rigid_known_pose(self):
        from mxkit.geometry import axis_angle_to_matrix
        X = torch.randn(60, 3, generator=_gen(), dtype=F64) * 0.05
        om = torch.tensor([[0.0, 0.0, 0.0], [0.03, -0.02, 0.01], [-0.01, 0.04, -0.02]],
                          dtype=F64)
        R = axis_angle_to_matrix(om)
        s = torch.tensor([1000.0, 1010.0, 990.0], dtype=F64)
        c = torch.tensor([[100.0, 90.0], [101.5, 89.0], [99.0, 92.0]], dtype=F64)
        q = project_points(X[None].expand(3, -1, -1), R, s, c)
        q[1, :8] += 5.0                                        # outliers: a moving region
        init = dict(rotation=torch.eye(3, dtype=F64).expand(3, 3, 3), scale=s.new_full((3,), 1e3),
                    t2d=c[:1].expand(3, 2))
        R2, s2, c2 = register_rigid(X, q, torch.ones(60, dtype=F64), n_iters=20, **init)
        for t in (0, 2):
            assert torch.allclose(R2[t], R[t], atol=1e-9) and torch.allclose(s2[t], s[t])
            assert torch.allclose(c2[t], c[t])
        assert torch.allclose(R2[1], R[1], atol=2e-3)          # robust to 13 % outliers
        assert abs(float(s2[1] / s[1]) - 1) < 3e-3

    def test_perspective_distance_and_pose(self):
        from mxkit.geometry import axis_angle_to_matrix

        X = torch.randn(400, 3, generator=_gen(), dtype=F64) * 0.05
        T = 5
        om = torch.zeros(T, 3, dtype=F64)
        om[:, 1] = torch.linspace(0, 0.05, T)                 # up to 3 degrees of yaw
        om[:, 0] = torch.linspace(0, -0.03, T)
        R = axis_angle_to_matrix(om)
        s = torch.full((T,), 800.0, dtype=F64)
        c = torch.tensor([96.0, 80.0], dtype=F64).expand(T, 2)
        q = project_points(X[None].expand(T, -1, -1), R, s, c, 0.8)
        w = torch.ones(400, dtype=F64)
        init = dict(rotation=torch.eye(3, dtype=F64).expand(T, 3, 3), scale=s, t2d=c)
        d = estimate_distance(X, q, w, **init)
        assert d == pytest.approx(0.8, rel=0.05)
        R2, s2, c2 = register_rigid(X, q, w, distance=0.8, n_iters=10, **init)
        assert torch.allclose(R2, R, atol=1e-9) and torch.allclose(s2, s)
        Rw, sw, cw = register_rigid(X, q, w, n_iters=10, **init)     # weak perspective
        res_w = (project_points(X[None].expand(T, -1, -1), Rw, sw, cw) - q).norm(dim=-1)
        assert res_w[-1].median() > 0.05                        # it cannot explain parallax

    def test_registration_removes_head_motion(self, toy):
        """A rigid shift of the whole head is no motion once registered."""
        dt = toy.v_template.dtype
        fit = zero_fit(toy, 4)
        shift = torch.tensor([0.0, 2e-3, 3e-3, 1e-3], dtype=dt)
        moved = fit.vertices + torch.stack([shift, -shift, 0 * shift], 1)[:, None, :]
        px = fit.project(moved)
        flow = torch.zeros(4, SIZE, SIZE, 2, dtype=dt)
        p0 = px[0].round().long()
        flow[:, p0[:, 1], p0[:, 0]] = px - px[0]
        lmk = fit.project(toy.landmarks(moved))
        raw = clip_features(lmk, flow, None, fit, toy, onset=0, register=False)
        reg = clip_features(lmk, flow, None, fit, toy, onset=0)
        assert raw.amplitude > 1e-3
        assert reg.amplitude <= 1.0001e-5                       # the floor: nothing moves
        assert torch.allclose(reg.t2d[:, 0] - 16.0, shift * SCALE, atol=1e-6)

    def test_known_motion(self, toy, toy_features):
        f, truth = toy_features
        motion = f.flow_motion
        want = truth - truth[0]
        assert torch.allclose(motion[..., :2], want[..., :2], atol=1e-12)
        assert f.apex == 3 and f.onset == 0
        assert torch.allclose(f.amplitude, (want.pow(2).sum(-1).mean(-1)).sqrt().max())
        assert torch.allclose(f.visibility, torch.ones(toy.n_vertices, dtype=F64))

    def test_zero_at_onset(self, toy):
        lmk, flow, fit, _ = toy_clip(toy, onset=2)
        f = clip_features(lmk, flow, None, fit, toy, onset=2, k=2, register=False)
        assert torch.equal(f.encoder_input[2, :-1], torch.zeros_like(f.encoder_input[2, :-1]))
        x = deformer_inputs(f, f.coarse_vertices, torch.arange(f.n_frames))
        assert x.shape == (6, toy.n_vertices, DEFORMER_IN_FEATURES)
        assert x[2, :, :16].abs().max() < 1e-12

    def test_residual_channels_carry_the_detail(self, toy, toy_features):
        f, truth = toy_features
        x = deformer_inputs(f, f.coarse_vertices, torch.arange(f.n_frames))
        res = x[..., 3:6] * f.amplitude
        assert torch.allclose(res[..., :2], (truth - truth[0])[..., :2], atol=1e-12)
        # refining the coarse mesh by the true motion leaves no residual
        x2 = deformer_inputs(f, truth, torch.arange(f.n_frames))
        assert x2[..., 3:6].abs().max() < 1e-9

    def test_intensity_normalisation(self, toy):
        det = torch.randn(toy.n_vertices, 3, generator=_gen(5), dtype=F64) * 2e-3
        det[:, 2] = 0
        feats = []
        for gain in (1.0, 0.1):
            lmk, flow, fit, _ = toy_clip(toy, detail=gain * det)
            feats.append(clip_features(lmk, flow, None, fit, toy, onset=0, k=2, register=False))
        big, small = feats
        assert torch.allclose(small.amplitude, 0.1 * big.amplitude)
        assert torch.allclose(small.encoder_input[:, :-1], big.encoder_input[:, :-1], atol=1e-9)
        assert torch.allclose(small.encoder_input[:, -1] - big.encoder_input[:, -1],
                              torch.full((6,), float(np.log(0.1)), dtype=F64))
        xb = deformer_inputs(big, big.coarse_vertices, torch.arange(6))
        xs = deformer_inputs(small, small.coarse_vertices, torch.arange(6))
        assert torch.allclose(xb[..., :-1], xs[..., :-1], atol=1e-9)

    def test_encoder_width(self, toy, toy_features):
        f, _ = toy_features
        assert f.encoder_input.shape[1] == encoder_in_features(2, 2, toy.n_expressions)

    def test_prepared_adapter(self, toy):
        lmk, flow, fit, _ = toy_clip(toy)
        prep = SimpleNamespace(landmarks=lmk, flow=flow, strain=None, onset=0, apex=3)
        a = features_from_prepared(prep, fit, toy, k=2)
        b = clip_features(lmk, flow, None, fit, toy, onset=0, apex=3, k=2)
        assert torch.equal(a.encoder_input, b.encoder_input)
        with pytest.raises(InputValueError, match="landmarks"):
            features_from_prepared(SimpleNamespace(landmarks=None, flow=flow, strain=None,
                                                   onset=0, apex=3), fit, toy)
        with pytest.raises(InputValueError, match="unknown"):
            features_from_prepared(prep, fit, toy, bogus=1)

    def test_exceptions(self, toy):
        lmk, flow, fit, _ = toy_clip(toy)
        bad = lmk.clone()
        bad[1, 0, 0] = float("nan")
        with pytest.raises(InputValueError, match="NaN"):
            clip_features(bad, flow, None, fit, toy, onset=0, k=2)
        with pytest.raises(InputValueError, match="missing"):
            clip_features(None, flow, None, fit, toy, onset=0)
        with pytest.raises(ShapeError):
            clip_features(lmk[:4], flow, None, fit, toy, onset=0)
        with pytest.raises(InputValueError, match="onset"):
            clip_features(lmk, flow, None, fit, toy, onset=9)
        with pytest.raises(InputValueError, match="k must"):
            clip_features(lmk, flow, None, fit, toy, onset=0, k=0)

    def test_mh_head(self, mh_head):
        from mxkit.fit import fit_landmarks
        from mxkit.fit.synthetic import synthetic_clip

        clip = synthetic_clip(mh_head, n_frames=5, generator=_gen())
        lmk = clip.landmarks * 0.25                     # the clip is ~256 px wide
        fit = fit_landmarks(mh_head, lmk)
        flow = torch.zeros(5, 72, 72, 2)
        f = clip_features(lmk, flow, None, fit, mh_head, onset=0)
        assert f.encoder_input.shape == (5, encoder_in_features(68, 13, 52))
        assert 0.2 < float((f.visibility > 0).float().mean()) < 0.9
        assert f.summary()["iod_mm"] == pytest.approx(90, abs=15)


# ----------------------------------------------------------------------------- encoder
class TestEncoder:
    def _enc(self, F_in=6, E=3, **kw):
        enc = DynamicEncoder(F_in, E, hidden=4, gru_hidden=3, code_dim=2, generator=_gen(),
                             **kw).double()
        _randomise(enc)
        return enc

    def test_shapes_and_zero_at_onset(self):
        enc = self._enc()
        x = torch.randn(8, 6, generator=_gen(2), dtype=F64)
        out = enc(x, onset=3, amplitude=torch.tensor(2e-3, dtype=F64))
        assert out.delta_expression.shape == (8, 3) and out.code.shape == (2,)
        assert torch.equal(out.delta_expression[3], torch.zeros(3, dtype=F64))
        assert out.delta_expression.abs().sum() > 0
        assert out.code.abs().max() <= 1

    def test_module_matches_function(self):
        enc = self._enc()
        x = torch.randn(8, 6, generator=_gen(2), dtype=F64)
        A = torch.tensor(1e-3, dtype=F64)
        a = enc(x, onset=0, amplitude=A)
        b = dynamic_encoder(x, dict(enc.named_parameters()), onset=0, amplitude=A)
        assert torch.equal(a.delta_expression, b.delta_expression)

    def test_output_scales_with_amplitude(self):
        enc = self._enc()
        x = torch.randn(8, 6, generator=_gen(2), dtype=F64)
        a = enc(x, onset=0, amplitude=torch.tensor(1e-3, dtype=F64)).delta_expression
        b = enc(x, onset=0, amplitude=torch.tensor(1e-4, dtype=F64)).delta_expression
        assert torch.allclose(b, 0.1 * a)

    def test_untrained_is_zero(self):
        enc = DynamicEncoder(6, 3, generator=_gen())
        out = enc(torch.randn(5, 6, generator=_gen()), onset=0, amplitude=torch.tensor(1e-3))
        assert torch.equal(out.delta_expression, torch.zeros(5, 3))

    def test_seeded_init(self):
        a, b = DynamicEncoder(6, 3, generator=_gen(7)), DynamicEncoder(6, 3, generator=_gen(7))
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))

    def test_gradcheck(self):
        enc = self._enc()
        x = torch.randn(5, 6, generator=_gen(2), dtype=F64, requires_grad=True)
        A = torch.tensor(1e-2, dtype=F64)
        assert torch.autograd.gradcheck(
            lambda a, w: dynamic_encoder(a, {**dict(enc.named_parameters()), "out.weight": w},
                                         onset=1, amplitude=A).delta_expression,
            (x, enc.out.weight), fast_mode=True)

    def test_exceptions(self):
        with pytest.raises(InputValueError):
            DynamicEncoder(0, 3)
        with pytest.raises(InputValueError, match="odd"):
            DynamicEncoder(4, 3, kernel_size=2)


# ----------------------------------------------------------------------------- deformer
class TestDeformer:
    def _setup(self, toy, code_dim=2):
        op = chebyshev_operator(toy.faces, toy.n_vertices, dtype=F64)
        d = MeshDeformer(5, code_dim=code_dim, hidden=4, n_layers=2, order=2,
                         generator=_gen()).double()
        _randomise(d)
        x = torch.randn(3, toy.n_vertices, 5, generator=_gen(2), dtype=F64)
        code = torch.randn(code_dim, generator=_gen(3), dtype=F64) if code_dim else None
        return d, op, x, code

    def test_shapes_zero_for_reference(self, toy):
        d, op, x, code = self._setup(toy)
        A = torch.tensor(1e-3, dtype=F64)
        out = d(x, x[1], op, amplitude=A, code=code)
        assert out.shape == (3, toy.n_vertices, 3)
        assert torch.equal(out[1], torch.zeros_like(out[1]))
        assert out[0].abs().sum() > 0

    def test_module_matches_function(self, toy):
        d, op, x, code = self._setup(toy)
        A = torch.tensor(1e-3, dtype=F64)
        m = torch.ones(toy.n_vertices, dtype=F64)
        m[:5] = 0
        a = d(x, x[0], op, amplitude=A, code=code, vertex_mask=m)
        b = mesh_deformer(x, x[0], op, dict(d.named_parameters()), amplitude=A, code=code,
                          vertex_mask=m, n_layers=2)
        assert torch.equal(a, b)
        assert torch.equal(a[:, :5], torch.zeros_like(a[:, :5]))

    def test_permutation_equivariance(self, toy):
        d, op, x, code = self._setup(toy)
        V = toy.n_vertices
        perm = torch.randperm(V, generator=_gen(9))
        opp = chebyshev_operator(torch.argsort(perm)[toy.faces], V, dtype=F64)
        A = torch.tensor(1e-3, dtype=F64)
        a = d(x, x[0], op, amplitude=A, code=code)
        b = d(x[:, perm], x[0, perm], opp, amplitude=A, code=code)
        assert torch.allclose(b, a[:, perm], atol=1e-15)

    def test_gradcheck(self, toy):
        d, op, x, code = self._setup(toy)
        x = x.clone().requires_grad_(True)
        A = torch.tensor(1e-2, dtype=F64)
        params = dict(d.named_parameters())
        assert torch.autograd.gradcheck(
            lambda a, w: mesh_deformer(a, a[0].detach(), op, {**params, "convs.0.weight": w},
                                       amplitude=A, code=code, n_layers=2),
            (x, d.convs[0].weight), fast_mode=True)

    def test_untrained_is_zero_and_code_check(self, toy):
        d = MeshDeformer(5, code_dim=0, generator=_gen()).double()
        op = chebyshev_operator(toy.faces, toy.n_vertices, dtype=F64)
        x = torch.randn(2, toy.n_vertices, 5, generator=_gen(), dtype=F64)
        assert torch.equal(d(x, x[0], op, amplitude=torch.tensor(1.0, dtype=F64)),
                           torch.zeros(2, toy.n_vertices, 3, dtype=F64))
        with pytest.raises(InputValueError, match="code"):
            d(x, x[0], op, amplitude=torch.tensor(1.0), code=torch.zeros(2))
        with pytest.raises(InputValueError):
            MeshDeformer(5, hidden=0)


# ----------------------------------------------------------------------------- refiner
class TestRefiner:
    def test_shapes_identity_and_onset(self, toy, toy_features):
        f, _ = toy_features
        ref = DynamicRefiner.for_model(toy, hidden=4, code_dim=2, gru_hidden=2,
                                       generator=_gen()).double()
        op = MeshGraph.from_model(toy).operator("chebyshev", dtype=F64)
        out = ref(f, toy.expr_basis, op)
        assert torch.equal(out.vertices, f.coarse_vertices)             # untrained: identity
        _randomise(ref, scale=0.2)
        out = ref(f, toy.expr_basis, op, frames=[0, 3, 5], chunk_size=2)
        assert out.vertices.shape == (3, toy.n_vertices, 3)
        assert out.delta_expression.shape == (6, toy.n_expressions) and out.code.shape == (2,)
        assert torch.equal(out.offsets[0], torch.zeros_like(out.offsets[0]))
        assert torch.equal(out.delta_expression[0], torch.zeros(toy.n_expressions, dtype=F64))
        assert out.offsets[1:].abs().sum() > 0
        want = f.coarse_vertices[[0, 3, 5]] + torch.einsum(
            "ne,evc->nvc", out.delta_expression[[0, 3, 5]], toy.expr_basis)
        assert torch.allclose(out.coarse, want)

    def test_variants_and_meta_roundtrip(self, toy):
        for enc, dfm in ((True, False), (False, True), (True, True)):
            ref = DynamicRefiner.for_model(toy, encoder=enc, deformer=dfm, generator=_gen())
            again = DynamicRefiner.from_meta(ref.meta())
            again.load_state_dict(ref.state_dict())
            assert (again.encoder is None) != enc and (again.deformer is None) != dfm
            assert ref.meta()["topology"]["n_vertices"] == 25
        assert ref.meta()["deformer_channels"] == list(DEFORMER_CHANNELS)

    def test_exceptions(self, toy, toy_features):
        f, _ = toy_features
        with pytest.raises(InputValueError):
            DynamicRefiner()
        with pytest.raises(InputValueError, match="encoder"):
            DynamicRefiner(None, MeshDeformer(5, code_dim=3))
        ref = DynamicRefiner.for_model(toy, encoder=False, generator=_gen()).double()
        with pytest.raises(InputValueError, match="operator"):
            ref(f, toy.expr_basis, None)
        with pytest.raises(InputValueError, match="frames"):
            ref(f, toy.expr_basis, chebyshev_operator(toy.faces, 25, dtype=F64), frames=[9])

    @pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
    def test_device(self, toy, toy_features):
        f, _ = toy_features
        ref = DynamicRefiner.for_model(toy, hidden=4, code_dim=2, generator=_gen()).double()
        _randomise(ref)
        op = MeshGraph.from_model(toy).operator("chebyshev", dtype=F64)
        cpu = ref(f, toy.expr_basis, op)
        dev = torch.device("cuda")
        gpu = ref.to(dev)(f.to(dev), toy.expr_basis.to(dev),
                          MeshGraph.from_model(toy).operator("chebyshev", dtype=F64,
                                                             device=dev))
        assert gpu.vertices.device.type == "cuda"
        assert torch.allclose(gpu.vertices.cpu(), cpu.vertices, atol=1e-10)
