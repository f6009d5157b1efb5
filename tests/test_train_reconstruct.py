"""mxkit.reconstruct: variants, weights loading (typed errors, never random weights), the
Reconstruction contract, and its use by mxkit.eval, on the 68-vertex landmark model."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
import torch

import mxkit
from mxkit.errors import AssetNotFoundError, CheckpointError, InputValueError, OptionError
from mxkit.fit.synthetic import make_landmark_model, synthetic_clip
from mxkit.nets import NETWORK_VARIANTS, VARIANTS
from mxkit.train import TrainConfig, save_atomic, train, training_sample_from_tensors
from mxkit.workflows import (
    BUNDLE_FORMAT,
    Reconstruction,
    default_weights_path,
    load_weights,
    reconstruct,
    weights_bundle,
)

TINY = dict(hidden=8, code_dim=2, gru_hidden=2, n_blocks=1, n_layers=1, order=2)
T = 12


@pytest.fixture(scope="module")
def lm_model():
    return make_landmark_model()


def _prepared(model, seed=0):
    clip = synthetic_clip(model, n_frames=T, noise_px=0.3,
                          generator=torch.Generator().manual_seed(seed))
    flow = torch.zeros(T, 64, 64, 2)
    lmk = clip.landmarks * 0.25                          # the clip is ~256 px wide
    return SimpleNamespace(landmarks=lmk, flow=flow, strain=torch.zeros(T, 64, 64), onset=2,
                           apex=7, offset=10, clip_key=("toyset", "s01", f"c{seed}"), fps=200.0)


@pytest.fixture(scope="module")
def trained(lm_model):
    """Networks of every variant trained 2 steps on one clip (weights, not quality)."""
    from mxkit.workflows import coarse_fit

    prep = _prepared(lm_model)
    fit = coarse_fit(prep.landmarks, lm_model)
    target = fit.vertices + 1e-4
    sample = training_sample_from_tensors(prep.landmarks, prep.flow, prep.strain, fit, lm_model,
                                          onset=2, apex=7, vertices=target)
    out = {}
    for name, (enc, dfm) in NETWORK_VARIANTS.items():
        cfg = TrainConfig(steps=2, batch_size=1, use_encoder=enc, use_deformer=dfm, **TINY)
        out[name] = train([sample], model=lm_model, config=cfg)
    return out


class TestBaselines:
    def test_static_and_smoothed(self, lm_model):
        prep = _prepared(lm_model)
        st = reconstruct(prep, model=lm_model, variant="static")
        sm = reconstruct(prep, model=lm_model, variant="smoothed")
        assert st.coarse.identity.shape == (T, lm_model.n_identity)           # per-frame fit
        assert sm.coarse.identity.shape == (lm_model.n_identity,)
        for r in (st, sm):
            assert r.vertices.shape == (T, 68, 3) and torch.equal(r.vertices, r.vertices_coarse)
            assert torch.equal(r.vertex_offsets, torch.zeros_like(r.vertex_offsets))
            assert r.dynamic_code is None and r.onset == 2 and r.apex == 7 and r.offset == 10
            assert r.clip_key == ("toyset", "s01", "c0")
        # temporal smoothing removes jitter
        jit = [float((r.vertices[2:] - 2 * r.vertices[1:-1] + r.vertices[:-2]).abs().mean())
               for r in (st, sm)]
        assert jit[1] < jit[0]

    def test_options_and_errors(self, lm_model):
        prep = _prepared(lm_model)
        with pytest.raises(OptionError):
            reconstruct(prep, model=lm_model, variant="best")
        with pytest.raises(InputValueError, match="Clip or a Prepared"):
            reconstruct(42, model=lm_model, variant="static")
        r = reconstruct(prep, model=lm_model, variant="smoothed", fit_options={"smooth": 0.0})
        assert r.coarse.method == "gauss_newton"


class TestWeights:
    def test_missing_and_corrupt_weights_are_typed_errors(self, lm_model, tmp_path):
        prep = _prepared(lm_model)
        with pytest.raises(AssetNotFoundError, match="train_default_weights"):
            reconstruct(prep, model=lm_model, variant="full", weights=tmp_path / "none.pt")
        bad = tmp_path / "bad.pt"
        bad.write_bytes(b"garbage")
        with pytest.raises(CheckpointError, match="corrupt"):
            reconstruct(prep, model=lm_model, variant="encoder", weights=bad)

    def test_default_weights_do_not_fit_another_model(self, lm_model):
        if not default_weights_path().is_file():
            pytest.skip("no packaged default weights in this checkout")
        with pytest.raises(CheckpointError, match="n_vertices|model_name"):
            load_weights(None, variant="full", model=lm_model)

    def test_bundle_roundtrip_and_checks(self, lm_model, trained, tmp_path):
        bundle = weights_bundle(trained, model_name=lm_model.name, fit={"smooth": 10.0},
                                provenance={"seed": 0})
        assert bundle["format"] == BUNDLE_FORMAT
        path = save_atomic(bundle, tmp_path / "w.pt")
        ref, settings = load_weights(path, variant="deformer", model=lm_model)
        assert ref.encoder is None and ref.deformer is not None
        assert settings["fit"] == {"smooth": 10.0}
        part = dict(bundle, variants={"full": bundle["variants"]["full"]})
        with pytest.raises(CheckpointError, match="no weights for variant 'encoder'"):
            load_weights(part, variant="encoder", model=lm_model)
        wrong = dict(bundle, variants={"encoder": bundle["variants"]["full"]})
        with pytest.raises(CheckpointError, match="encoder=True, deformer=False"):
            load_weights(wrong, variant="encoder", model=lm_model)
        with pytest.raises(CheckpointError, match="n_vertices"):
            load_weights(path, variant="full", model=_other_model())

    def test_single_payload_and_train_result(self, lm_model, trained):
        ref, settings = load_weights(trained["full"], variant="full", model=lm_model)
        assert settings == {} and ref.encoder is not None
        ref2, _ = load_weights(trained["full"].weights(), variant="full_no_pretrain",
                               model=lm_model)
        assert ref2.deformer is not None


def _other_model():
    from mxkit.testing import toy_face_model

    return toy_face_model(5, dtype=torch.float32)


class TestNetworkVariants:
    def test_every_variant(self, lm_model, trained, tmp_path):
        prep = _prepared(lm_model)
        path = save_atomic(weights_bundle(trained, model_name=lm_model.name), tmp_path / "w.pt")
        recs = {v: reconstruct(prep, model=lm_model, variant=v, weights=path) for v in VARIANTS}
        base = recs["smoothed"]
        for v in ("encoder", "deformer", "full", "full_no_pretrain"):
            r = recs[v]
            assert r.variant == v
            assert torch.allclose(r.vertices, r.vertices_coarse + r.vertex_offsets)
            assert torch.allclose(r.expression, base.coarse.expression + r.delta_expression)
            assert torch.equal(r.vertex_offsets[r.onset], torch.zeros_like(r.vertex_offsets[0]))
            assert torch.equal(r.delta_expression[r.onset], torch.zeros(52))
            assert (r.dynamic_code is None) == (v == "deformer")
            assert "networks" in r.timing and r.timing["total"] > 0
        assert torch.equal(recs["encoder"].vertex_offsets, torch.zeros_like(recs["encoder"].vertex_offsets))
        assert torch.equal(recs["deformer"].delta_expression,
                           torch.zeros_like(recs["deformer"].delta_expression))

    def test_result_tables_and_eval(self, lm_model, trained):
        from mxkit.eval import evaluate_reconstruction

        prep = _prepared(lm_model)
        r = reconstruct(prep, model=lm_model, variant="full", weights=trained["full"])
        df = r.to_dataframe()
        assert list(df["frame"]) == list(range(T)) and df.loc[2, "motion_rms_mm"] == 0
        assert set(df["phase"]) == {"neutral", "onset-apex", "apex-offset", "after"}
        assert r.summary()["variant"] == "full" and r.summary()["frames"] == T
        assert r.to("cpu").vertices.device.type == "cpu"
        truth = r.vertices_coarse.detach() + 1e-4
        met = evaluate_reconstruction(r, truth, lm_model, mask="all", regions=False, aus=None)
        assert met.value("micro_motion_l1") >= 0
        with pytest.raises(OptionError):
            dataclasses.replace(r, variant="other")

    def test_top_level_callable(self, lm_model):
        prep = _prepared(lm_model)
        assert isinstance(mxkit.reconstruct(prep, model=lm_model, variant="static"),
                          mxkit.Reconstruction)
        from mxkit.workflows import reconstruct as function

        assert mxkit.reconstruct is function       # a plain function re-exported, no module trick
        assert Reconstruction is mxkit.Reconstruction
