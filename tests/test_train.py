"""mxkit.train: losses (known answers, gradients), samples, config, training loops,
overfitting known answers, atomic resumable checkpoints, and a 2-process gloo run."""

from __future__ import annotations

import dataclasses
import math
import os
import socket
from pathlib import Path

import pytest
import torch

import mxkit.train as mxkit_train
from mxkit.errors import CacheError, CheckpointError, InputValueError, OptionError, ShapeError
from mxkit.nets import DynamicRefiner, uniform_laplacian
from mxkit.testing import toy_face_model
from mxkit.train import (
    FINETUNE_DEFAULTS,
    TrainConfig,
    TrainHistory,
    draw_frames,
    finetune_micro,
    load_payload,
    load_refiner,
    losses,
    make_training_sample,
    pretrain_macro,
    save_atomic,
    train,
    training_sample_from_tensors,
)

from .test_nets import _gen, toy_clip

F64 = torch.float64
TINY = dict(hidden=8, code_dim=2, gru_hidden=2, n_blocks=1, n_layers=1, order=2)


def _samples(model, n=2, *, expression_type=None, gain=1.0, seed=1, **kw):
    out = []
    det = torch.randn(model.n_vertices, 3, generator=_gen(seed), dtype=F64) * 1e-3
    det[:, 2] = 0
    for i in range(n):
        lmk, flow, fit, truth = toy_clip(model, detail=det * gain * (1 + 0.5 * i), **kw)
        out.append(training_sample_from_tensors(lmk, flow, None, fit, model, onset=0,
                                                vertices=truth, expression_type=expression_type, key=("toy", str(i)),
                                                register=False))
    return out


@pytest.fixture
def toy():
    return toy_face_model(5)


# ----------------------------------------------------------------------------- losses
class TestLosses:
    def test_vertex_l1(self):
        x = torch.randn(2, 10, 3, generator=_gen(), dtype=F64)
        assert losses.vertex_l1(x, x) < 1e-12
        shift = torch.tensor([0.1, -0.2, 0.3], dtype=F64)
        assert float(losses.vertex_l1(x + shift, x, align=False)) == pytest.approx(0.2)
        assert losses.vertex_l1(x + shift, x) < 1e-12                     # aligned away
        R = torch.linalg.matrix_exp(torch.tensor([[0, -0.3, 0], [0.3, 0, 0], [0, 0, 0]],
                                                 dtype=F64))
        assert losses.vertex_l1(x @ R.T + shift, x) < 1e-10
        w = torch.zeros(10, dtype=F64)
        w[:4] = 1
        y = x.clone()
        y[:, 4:] += 5.0
        assert float(losses.vertex_l1(y, x, weights=w, align=False)) == 0.0

    def test_motion_l1(self):
        x = torch.randn(3, 8, 3, generator=_gen(), dtype=F64)
        offset = torch.randn(8, 3, generator=_gen(1), dtype=F64)
        assert losses.motion_l1(x + offset, x, onset=0) < 1e-12          # shared shape error
        y = x.clone()
        y[2] += torch.tensor([0.0, 0.9, 0.0], dtype=F64)
        assert float(losses.motion_l1(y, x, onset=0)) == pytest.approx(0.1)
        a = losses.motion_l1(y[1:], x[1:], pred_onset=y[0], target_onset=x[0])
        assert float(a) == pytest.approx(0.15)
        with pytest.raises(InputValueError):
            losses.motion_l1(y, x)

    def test_landmark_reprojection(self):
        t = torch.zeros(1, 2, 2, dtype=F64)
        p = t.clone()
        p[0, 0] = torch.tensor([3.0, 4.0])
        assert losses.landmark_reprojection(t, t) == 0
        got = losses.landmark_reprojection(p, t, eps=1e-9, normalizer=10.0)
        assert float(got) == pytest.approx(0.25)
        got = losses.landmark_reprojection(p, t, eps=1e-9, weights=torch.tensor([1.0, 0.0]))
        assert float(got) == pytest.approx(5.0)

    def test_flow_consistency(self):
        m = torch.randn(3, 5, 2, generator=_gen(), dtype=F64)
        assert losses.flow_consistency(m, m) == 0
        got = losses.flow_consistency(m + torch.tensor([3.0, 4.0], dtype=F64), m, eps=1e-9)
        assert float(got) == pytest.approx(5.0)

    def test_flow_consistency_dense_linear_flow(self):
        # flow u = 0.1 u0 + 1 (affine: bilinear sampling is exact) and vertices that follow it
        _T, H, W = 3, 20, 24
        uu, vv = torch.meshgrid(torch.arange(W, dtype=F64), torch.arange(H, dtype=F64),
                                indexing="xy")
        gain = torch.tensor([0.0, 1.0, 2.0], dtype=F64)
        flow = torch.stack([0.1 * uu + 1.0, -0.05 * vv], -1)[None] * gain[:, None, None, None]
        p0 = torch.rand(12, 2, generator=_gen(), dtype=F64) * torch.tensor([W - 1, H - 1.0])
        step = torch.stack([0.1 * p0[:, 0] + 1.0, -0.05 * p0[:, 1]], -1)
        proj = p0[None] + gain[:, None, None] * step
        assert losses.flow_consistency_dense(proj, flow, onset=0) < 1e-12
        off = proj.clone()
        off[1:] += 0.5                                    # 0.71 px wrong in frames 1, 2
        assert float(losses.flow_consistency_dense(off, flow, onset=0)) == pytest.approx(
            2 / 3 * 0.5 * math.sqrt(2), abs=0.02)

    def test_regularisers(self, toy):
        L = uniform_laplacian(toy.faces, toy.n_vertices, dtype=F64)
        const = torch.full((2, toy.n_vertices, 3), 0.7, dtype=F64)
        assert losses.laplacian_smoothness(const, L) < 1e-24
        spike = torch.zeros(toy.n_vertices, 3, dtype=F64)
        spike[12, 0] = 1.0                        # interior vertex with 6 neighbours
        want = (1.0 + 6 * (1 / 6) ** 2) / toy.n_vertices
        assert float(losses.laplacian_smoothness(spike, L)) == pytest.approx(want)
        assert float(losses.offset_magnitude(const)) == pytest.approx(3 * 0.49)
        labels = torch.tensor(toy.region_labels)
        assert float(losses.region_mean(const, labels)) == pytest.approx(3 * 0.49)
        zero_mean = torch.randn(toy.n_vertices, 3, generator=_gen(), dtype=F64)
        for r in (0, 1):
            zero_mean[labels == r] -= zero_mean[labels == r].mean(0)
        assert losses.region_mean(zero_mean, labels) < 1e-28
        assert losses.region_mean(const, -torch.ones(toy.n_vertices, dtype=torch.long)) == 0
        d = torch.zeros(4, 2, dtype=F64)
        d[1, 0] = 2.0
        assert float(losses.expression_prior(d)) == pytest.approx(0.5)
        assert float(losses.expression_prior(d, smooth=1.0)) == pytest.approx(0.5 + 20 / 4)

    def test_gradients_flow(self, toy):
        L = uniform_laplacian(toy.faces, toy.n_vertices, dtype=F64)
        x = torch.randn(2, toy.n_vertices, 3, generator=_gen(), dtype=F64, requires_grad=True)
        tgt = torch.randn(2, toy.n_vertices, 3, generator=_gen(1), dtype=F64)
        labels = torch.tensor(toy.region_labels)
        for fn in (lambda a: losses.vertex_l1(a, tgt), lambda a: losses.motion_l1(a, tgt, onset=0),
                   lambda a: losses.laplacian_smoothness(a, L),
                   lambda a: losses.region_mean(a, labels),
                   lambda a: losses.flow_consistency(a[..., :2], tgt[..., :2])):
            assert torch.autograd.gradcheck(fn, (x,), fast_mode=True)

    def test_exceptions(self):
        x = torch.zeros(2, 4, 3)
        with pytest.raises(ShapeError):
            losses.vertex_l1(x, torch.zeros(2, 5, 3))
        with pytest.raises(InputValueError, match="positive sum"):
            losses.vertex_l1(x, x, weights=torch.zeros(4))
        with pytest.raises(ShapeError):
            losses.expression_prior(torch.zeros(3))


class TestPhotometric:
    def test_warp_known_translation(self, toy):
        pytest.importorskip("pytorch3d")
        H = W = 32
        uu, vv = torch.meshgrid(torch.arange(W, dtype=F64), torch.arange(H, dtype=F64),
                                indexing="xy")

        def texture(u, v):
            return 0.5 + 0.25 * torch.sin(u / 2.5) * torch.cos(v / 3.0)

        shift = torch.tensor([1.5, -1.0], dtype=F64)                    # pixels (u, v)
        frames = torch.stack([texture(uu, vv), texture(uu - shift[0], vv - shift[1])])
        tmpl = toy.v_template.to(F64)
        moved = tmpl + torch.tensor([shift[0] / 200, -shift[1] / 200, 0.0], dtype=F64)
        cam = dict(rotation=torch.eye(3, dtype=F64).expand(2, 3, 3),
                   scale=torch.full((2,), 200.0, dtype=F64),
                   t2d=torch.tensor([[16.0, 16.0]], dtype=F64).expand(2, 2))
        exact = torch.stack([tmpl, moved]).requires_grad_(True)
        wrong = torch.stack([tmpl, tmpl]).requires_grad_(True)
        a = losses.photometric_loss(exact, toy.faces, frames, onset=0, **cam)
        b = losses.photometric_loss(wrong, toy.faces, frames, onset=0, **cam)
        assert float(a.detach()) < 0.2 * float(b.detach()) and float(b.detach()) > 0.02
        b.backward()
        g = wrong.grad[1]
        assert torch.isfinite(g).all() and g.abs().sum() > 0
        # the descent direction moves the mesh toward the true shift (+x)
        assert float(-g[:, 0].sum()) > 0


# ----------------------------------------------------------------------------- config, samples
class TestConfigAndSamples:
    def test_config(self):
        c = TrainConfig()
        assert TrainConfig.from_dict(c.to_dict()) == c
        assert FINETUNE_DEFAULTS.lr < c.lr
        for bad in ({"steps": -1}, {"lr": 0.0}, {"w_flow": -1.0}, {"batch_size": 0},
                    {"use_encoder": False, "use_deformer": False}, {"w_motion": float("nan")}):
            with pytest.raises(InputValueError):
                TrainConfig(**bad)
        with pytest.raises(OptionError):
            TrainConfig(schedule="step")
        with pytest.raises(InputValueError, match="unknown"):
            TrainConfig.from_dict({"bogus": 1})

    def test_sample(self, toy):
        s = _samples(toy, 1, expression_type="micro")[0]
        assert s.supervised and s.n_frames == 6 and s.key == ("toy", "0")
        assert s.to(dtype=torch.float32).features.encoder_input.dtype == torch.float32
        frames = draw_frames(s, 3, _gen())
        assert 3 in frames.tolist() and 0 not in frames.tolist() and len(frames) == 3
        assert len(draw_frames(s, 50, _gen())) == 5
        with pytest.raises(Exception, match="expression_type"):
            dataclasses.replace(s, expression_type="medium")

    def test_from_prepared(self, toy):
        from types import SimpleNamespace

        lmk, flow, fit, truth = toy_clip(toy)
        frames = torch.zeros(6, 32, 32, 3, dtype=torch.uint8)
        prep = SimpleNamespace(landmarks=lmk, flow=flow, strain=None, onset=0, apex=3,
                               frames=frames, clip_key=("d", "s", "c"))
        truth_obj = SimpleNamespace(vertices=lambda model: truth)
        s = make_training_sample(prep, fit, toy, vertices=truth_obj, keep_frames=True)
        assert s.key == ("d", "s", "c") and s.frames.shape == (6, 32, 32, 3)
        assert torch.equal(s.target_vertices, truth)
        with pytest.raises(InputValueError, match="landmarks"):
            make_training_sample(SimpleNamespace(landmarks=None, flow=flow, onset=0), fit, toy)
        bad = truth.clone()
        bad[0, 0, 0] = float("nan")
        with pytest.raises(InputValueError, match="NaN"):
            make_training_sample(prep, fit, toy, vertices=bad)


# ----------------------------------------------------------------------------- training
class TestTraining:
    def test_deformer_recovers_injected_detail(self, toy):
        """Known answer: a detail field injected into the flow is learnt by the deformer."""
        samples = _samples(toy, 2)
        cfg = TrainConfig(steps=200, use_encoder=False, lr=1e-2, warmup_steps=0,
                          frames_per_clip=5, w_flow=0, w_laplacian=0, w_magnitude=0,
                          w_region_mean=0, **TINY)
        res = train(samples, model=toy, config=cfg)
        first, last = res.history.rows[0]["motion"], res.history.rows[-1]["motion"]
        assert last < 0.02 * first
        # held-out intensity: the same detail at 0.1x is recovered too (intensity-normalised)
        test = _samples(toy, 1, gain=0.1)[0]
        ref = res.refiner.double()
        out = ref(test.features, toy.expr_basis, _cheb(toy))
        err = losses.motion_l1(out.vertices, test.target_vertices, onset=0)
        base = losses.motion_l1(test.features.coarse_vertices, test.target_vertices, onset=0)
        assert err < 0.1 * base

    def test_encoder_corrects_shrunk_expression(self, toy):
        """Known answer: the coarse fit reports half the true expression; the encoder fixes it."""
        T, E = 6, toy.n_expressions
        prof = torch.sin(torch.pi * torch.arange(T, dtype=F64) / T) ** 2
        samples = []
        for _i, e in enumerate((3, 7)):
            expr = torch.zeros(T, E, dtype=F64)
            expr[:, e] = 0.8 * prof
            lmk, flow, fit, truth = toy_clip(toy, detail=torch.zeros(25, 3, dtype=F64),
                                             expression=expr, coarse_expression=0.5 * expr)
            samples.append(training_sample_from_tensors(lmk, flow, None, fit, toy, onset=0,
                                                        vertices=truth))
        cfg = TrainConfig(steps=100, use_deformer=False, lr=2e-2, warmup_steps=0,
                          frames_per_clip=5, w_flow=0, w_expression=0,
                          **{**TINY, "gru_hidden": 8})
        res = train(samples, model=toy, config=cfg)
        assert res.history.rows[-1]["motion"] < 0.1 * res.history.rows[0]["motion"]

    def test_history_and_result(self, toy, tmp_path):
        cfg = TrainConfig(steps=3, **TINY)
        res = pretrain_macro(_samples(toy, 2, expression_type="macro"), model=toy, config=cfg)
        df = res.history.to_dataframe()
        assert list(df["step"]) == [1, 2, 3] and {"loss", "motion", "lr"} <= set(df.columns)
        long = res.history.to_dataframe(long=True)
        assert {"step", "phase", "term", "value"} == set(long.columns)
        assert res.summary()["steps"] == 3 and res.phase == "pretrain_macro"
        assert TrainHistory().summary() == {"steps": 0}
        path = res.save(tmp_path / "w.pt", note="test")
        payload = load_payload(path)
        assert payload["note"] == "test" and payload["phase"] == "pretrain_macro"
        again = load_refiner(path, model=toy)
        assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(),
                                                     res.refiner.state_dict().values(),
                                                     strict=True))
        tuned = finetune_micro(_samples(toy, 2, expression_type="micro"), model=toy, init=res,
                               config=dataclasses.replace(FINETUNE_DEFAULTS, steps=2, **TINY))
        assert tuned.phase == "finetune_micro" and len(tuned.history) == 2

    def test_phase_kind_checks(self, toy):
        with pytest.raises(InputValueError, match="macro"):
            pretrain_macro(_samples(toy, 1, expression_type="micro"), model=toy,
                           config=TrainConfig(steps=1, **TINY))
        with pytest.raises(InputValueError, match="micro"):
            finetune_micro(_samples(toy, 1, expression_type="macro"), model=toy, init=None,
                           config=TrainConfig(steps=1, **TINY))
        with pytest.raises(InputValueError, match="unknown options"):
            pretrain_macro(_samples(toy, 1), model=toy, bogus=1)

    def test_exceptions(self, toy):
        cfg = TrainConfig(steps=1, **TINY)
        s = _samples(toy, 1)[0]
        with pytest.raises(InputValueError, match="no training samples"):
            train([], model=toy, config=cfg)
        with pytest.raises(InputValueError, match="TrainingSample"):
            train([object()], model=toy, config=cfg)
        unsup = dataclasses.replace(s, target_vertices=None)
        with pytest.raises(InputValueError, match="nothing to train"):
            train([unsup], model=toy, config=dataclasses.replace(cfg, w_flow=0.0))
        train([unsup], model=toy, config=cfg)                  # flow consistency alone is fine
        other = toy_face_model(4)
        with pytest.raises(InputValueError, match="model"):
            train([s], model=other, config=cfg)
        with pytest.raises(InputValueError, match="checkpoint path"):
            train([s], model=toy, config=cfg, resume=True)


def _cheb(model):
    from mxkit.nets import MeshGraph

    return MeshGraph.from_model(model).operator("chebyshev", dtype=model.v_template.dtype)


# ----------------------------------------------------------------------------- checkpoints
class _Interrupt(Exception):
    pass


class TestCheckpoints:
    CFG = TrainConfig(steps=10, batch_size=1, checkpoint_every=3, frames_per_clip=2, **TINY)

    def test_resume_equals_uninterrupted(self, toy, tmp_path):
        samples = _samples(toy, 3)
        full = train(samples, model=toy, config=self.CFG, checkpoint=tmp_path / "a.pt")

        def stop(step, terms):
            if step == 7:                                   # last checkpoint: step 6
                raise _Interrupt

        with pytest.raises(_Interrupt):
            train(samples, model=toy, config=self.CFG, checkpoint=tmp_path / "b.pt",
                  callback=stop)
        assert load_payload(tmp_path / "b.pt")["step"] == 6
        resumed = train(samples, model=toy, config=self.CFG, checkpoint=tmp_path / "b.pt",
                        resume=True)
        a, b = full.refiner.state_dict(), resumed.refiner.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        assert [r["loss"] for r in full.history.rows] == [r["loss"] for r in resumed.history.rows]
        pa, pb = load_payload(tmp_path / "a.pt"), load_payload(tmp_path / "b.pt")
        assert all(torch.equal(pa["networks"][k], pb["networks"][k]) for k in pa["networks"])
        assert pa["step"] == pb["step"] == 10
        assert sorted(os.listdir(tmp_path)) == ["a.pt", "b.pt"]     # no temporary files left

    def test_resume_checks(self, toy, tmp_path):
        samples = _samples(toy, 2)
        cfg = dataclasses.replace(self.CFG, steps=3)
        train(samples, model=toy, config=cfg, checkpoint=tmp_path / "c.pt")
        with pytest.raises(CheckpointError, match="different config"):
            train(samples, model=toy, config=dataclasses.replace(cfg, lr=1e-4),
                  checkpoint=tmp_path / "c.pt", resume=True)
        other = toy_face_model(4)
        with pytest.raises(CheckpointError, match="n_vertices"):
            load_refiner(tmp_path / "c.pt", model=other)
        with pytest.raises(CheckpointError, match="deformer"):
            train(samples, model=toy, config=dataclasses.replace(cfg, use_deformer=False),
                  init=tmp_path / "c.pt")
        # resuming a finished run is a no-op that returns the same weights
        again = train(samples, model=toy, config=cfg, checkpoint=tmp_path / "c.pt", resume=True)
        assert len(again.history) == 3

    def test_corrupt_and_foreign_files(self, tmp_path):
        bad = tmp_path / "bad.pt"
        bad.write_bytes(b"not a checkpoint")
        with pytest.raises(CheckpointError, match="corrupt"):
            load_payload(bad)
        with pytest.raises(CheckpointError, match="does not exist"):
            load_payload(tmp_path / "missing.pt")
        save_atomic({"format": "something-else"}, tmp_path / "f.pt")
        with pytest.raises(CheckpointError, match="format"):
            load_payload(tmp_path / "f.pt")
        good = {"format": "mxkit-refiner-weights", "version": 1, "meta": {}, "networks": {}}
        save_atomic(good, tmp_path / "g.pt")
        data = (tmp_path / "g.pt").read_bytes()
        (tmp_path / "g.pt").write_bytes(data[: len(data) // 2])               # truncated
        with pytest.raises(CheckpointError):
            load_refiner(tmp_path / "g.pt")
        with pytest.raises(CheckpointError, match="cannot load"):
            load_refiner(42)

    def test_topology_mismatch_on_modules(self, toy):
        ref = DynamicRefiner.for_model(toy, generator=_gen(), **TINY)
        payload = {"format": "mxkit-refiner-weights", "version": 1, "meta": ref.meta(),
                   "networks": ref.state_dict()}
        payload["meta"] = {**payload["meta"], "deformer_channels": ["a", "b"]}
        with pytest.raises(CheckpointError, match="channels"):
            load_refiner(payload, model=toy)


# ----------------------------------------------------------------------------- distributed
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(WORLD_SIZE=str(world), RANK=str(rank), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    import torch.distributed as dist

    model = toy_face_model(5)
    cfg = TrainConfig(steps=4, batch_size=1, frames_per_clip=2, checkpoint_every=2, **TINY)
    res = train(_samples(model, 4), model=model, config=cfg,
                checkpoint=Path(out) / "ddp.pt")
    torch.save(res.refiner.state_dict(), Path(out) / f"rank{rank}.pt")
    dist.destroy_process_group()


class TestDistributed:
    def test_two_process_gloo_equals_single_process(self, toy, tmp_path):
        import torch.multiprocessing as mp

        mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
        r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
        r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
        assert all(torch.equal(r0[k], r1[k]) for k in r0)                # replicas agree
        assert load_payload(tmp_path / "ddp.pt")["step"] == 4            # rank 0 wrote it
        cfg = TrainConfig(steps=4, batch_size=2, frames_per_clip=2, **TINY)
        single = train(_samples(toy, 4), model=toy, config=cfg).refiner.state_dict()
        for k in r0:
            assert torch.allclose(r0[k], single[k], atol=1e-5), k
        assert not math.isnan(float(sum(v.sum() for v in r0.values())))


# ----------------------------------------------------------------------------- recipe validation
def test_validation_table_known_answers(toy):
    """A 'variant' that returns the truth scores 0; the toy coarse fit (the onset shape in every
    frame) scores exactly what predicting no motion scores, which is the true apex displacement."""
    from types import SimpleNamespace

    import numpy as np

    from mxkit.eval.reconstruction import face_mask
    from mxkit.workflows.recipe import validation_errors, validation_table

    samples = _samples(toy, n=2, T=8)
    truth = {id(s.features): s.target_vertices for s in samples}
    oracle = SimpleNamespace(refiner=lambda f, basis, op: SimpleNamespace(vertices=truth[id(f)]))
    table = validation_table({"oracle": oracle}, samples, toy, baselines=("zero", "smoothed"))
    assert list(table.columns) == ["clip", "variant", "micro_motion_l1_mm", "vertex_l1_mm"]
    assert len(table) == 2 * 3 and set(table.variant) == {"zero", "smoothed", "oracle"}
    by = table.set_index(["clip", "variant"])
    mask = face_mask(toy, "face")
    for s in samples:
        clip, f = "/".join(s.key), s.features
        gt = s.target_vertices.numpy()
        assert by.loc[(clip, "oracle")].abs().max() < 1e-9
        moved = np.abs(gt[f.apex] - gt[f.onset])[mask].mean() * 1e3
        assert moved > 0.05
        assert by.loc[(clip, "zero"), "micro_motion_l1_mm"] == pytest.approx(moved, rel=1e-6)
        assert by.loc[(clip, "smoothed"), "micro_motion_l1_mm"] == pytest.approx(moved, rel=1e-6)
    with pytest.raises(OptionError, match="baselines"):
        validation_table({}, samples, toy, baselines=("mean",))
    means = validation_errors({"oracle": oracle}, samples, toy, baselines=("zero",))
    assert set(means) == {"zero", "oracle"} and means["zero"] == pytest.approx(table[table.variant == "zero"].micro_motion_l1_mm.mean())


class TestSamplesFile:
    """Training samples on disk: tensors and plain values only, never unpickled."""

    def test_round_trip_is_exact(self, toy, tmp_path):
        samples = _samples(toy, 2, expression_type="micro")
        path = mxkit_train.save_samples(samples, tmp_path / "s.samples.pt")
        back = mxkit_train.load_samples(path)
        assert len(back) == 2 and [b.key for b in back] == [s.key for s in samples]
        for a, b in zip(samples, back, strict=True):
            assert b.expression_type == "micro"
            torch.testing.assert_close(b.target_vertices, a.target_vertices, rtol=0, atol=0)
            for f in dataclasses.fields(a.features):
                x, y = getattr(a.features, f.name), getattr(b.features, f.name)
                if torch.is_tensor(x):
                    torch.testing.assert_close(y, x, rtol=0, atol=0)
                else:
                    assert y == x

    def test_a_planted_pickle_is_refused_without_running(self, tmp_path):
        marker = tmp_path / "ran"

        class Evil:
            def __reduce__(self):
                return (os.system, (f"touch {marker}",))

        path = tmp_path / "evil.samples.pt"
        torch.save({"format": mxkit_train.SAMPLES_FORMAT, "version": 1, "samples": [Evil()]}, path)
        with pytest.raises(CacheError, match="unreadable"):
            mxkit_train.load_samples(path)
        assert not marker.exists()

    @pytest.mark.parametrize("damage", ["truncate", "foreign", "bad_entry"])
    def test_damaged_files_raise_cache_error(self, toy, tmp_path, damage):
        path = mxkit_train.save_samples(_samples(toy, 1), tmp_path / "s.samples.pt")
        if damage == "truncate":
            path.write_bytes(path.read_bytes()[:100])
        elif damage == "foreign":
            torch.save({"format": "something else"}, path)
        else:
            torch.save({"format": mxkit_train.SAMPLES_FORMAT, "version": 1,
                        "samples": [{"features": {"onset": 0}}]}, path)
        with pytest.raises(CacheError):
            mxkit_train.load_samples(path)
