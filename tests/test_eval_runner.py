"""The one-call runners: ablation (prepare -> reconstruct -> evaluate -> table) and recognition."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from mxkit.errors import AssetNotFoundError, InputValueError, OptionError, ShapeError
from mxkit.eval import REPORTED_SOURCE, evaluate_no_motion, evaluate_reconstruction, flow_baseline
from mxkit.workflows import (
    BUNDLE_FORMAT,
    DEFAULT_FIT,
    DEFAULT_PREPARE,
    RecognitionOptions,
    load_networks,
    prepared_clips,
    region_table,
    run_ablation,
    run_recognition,
    variant_summary,
    weights_settings,
)
from mxkit.workflows.recognition import _feature_specs


# ----------------------------------------------------------------------------- no data needed
def test_weights_settings_come_from_the_bundle():
    s = weights_settings()                                  # the packaged weights
    assert s["prepare"] == {**DEFAULT_PREPARE, "size": 192} and s["fit"]["smooth"] == DEFAULT_FIT["smooth"]
    assert s["provenance"]["seed"] == 0
    b = weights_settings({"format": BUNDLE_FORMAT, "prepare": {"flow": "tvl1"}, "fit": {"smooth": 5.0}})
    assert b["prepare"] == {**DEFAULT_PREPARE, "flow": "tvl1"} and b["fit"] == {**DEFAULT_FIT, "smooth": 5.0}
    assert weights_settings({"state_dict": {}})["prepare"] == DEFAULT_PREPARE     # not a bundle: defaults
    with pytest.raises(AssetNotFoundError, match="nope.pt"):
        weights_settings("nope.pt")


def test_load_networks_only_for_network_variants(mh_head):
    nets, settings = load_networks(["static", "smoothed"], model=mh_head)
    assert nets == {} and settings["prepare"]["size"] == 192
    nets, _ = load_networks(["full", "static", "full"], model=mh_head)
    assert list(nets) == ["full"] and nets["full"].deformer is not None
    with pytest.raises(OptionError, match="nope"):
        load_networks(["nope"], model=mh_head)
    with pytest.raises(AssetNotFoundError):
        load_networks(["encoder"], weights="missing.pt", model=mh_head)


def test_prepared_clips_are_checked_against_the_clips():
    clips = [SimpleNamespace(key=("d", "s1", "a")), SimpleNamespace(key=("d", "s2", "b"))]
    preps = [SimpleNamespace(clip_key=c.key) for c in clips]
    assert prepared_clips(clips, prepared=preps) == preps
    assert prepared_clips(clips, prepared={c.key: p for c, p in zip(clips, preps, strict=True)}) == preps
    with pytest.raises(InputValueError, match="keep the clips' order"):
        prepared_clips(clips, prepared=preps[::-1])
    with pytest.raises(InputValueError, match="no entry"):
        prepared_clips(clips, prepared={clips[0].key: preps[0]})
    with pytest.raises(ShapeError):
        prepared_clips(clips, prepared=preps[:1])


def test_feature_specs():
    assert _feature_specs(["reconstruction", "flow_baseline"], "full") == [
        ("reconstruction:full", "reconstruction", "full"), ("flow_baseline", "flow_baseline", None)]
    assert _feature_specs(["reconstruction:static", "reconstruction"], "full")[0][0] == "reconstruction:static"
    with pytest.raises(OptionError, match="hog"):
        _feature_specs(["hog"], "full")
    with pytest.raises(OptionError, match="nope"):
        _feature_specs(["reconstruction:nope"], "full")
    with pytest.raises(InputValueError, match="only 'reconstruction'"):
        _feature_specs(["oracle:full"], "full")
    with pytest.raises(InputValueError, match="repeat"):
        _feature_specs(["reconstruction:full", "reconstruction"], "full")
    with pytest.raises(InputValueError):
        _feature_specs("oracle", "full")


def test_summary_tables_average_clips():
    rows = []
    for variant, mm, rel in (("no_motion", (0.5, 0.5), (1.0, 1.0)), ("static", (0.4, 0.2), (1.4, 0.8)),
                             ("full", (0.1, 0.1), (0.2, 0.6))):
        for clip, v, r in zip(("c1", "c2"), mm, rel, strict=True):
            for region, scale in (("all", 1.0), ("mouth", 2.0)):
                rows.append({"clip": clip, "subject": "s", "dataset": "d", "variant": variant, "mesh": "fine",
                             "region": region, "metric": "micro_motion_l1", "value": v * scale, "unit": "mm"})
            rows.append({"clip": clip, "subject": "s", "dataset": "d", "variant": variant, "mesh": "fine",
                         "region": "all", "metric": "active_rel_error", "value": r, "unit": "ratio"})
    metrics = pd.DataFrame(rows)
    s = variant_summary(metrics, ["no_motion", "static", "full"]).set_index("variant")
    assert s.loc["static", "micro-motion L1 (mm)"] == pytest.approx(0.3)
    assert s.loc["full", "L1 / no motion"] == pytest.approx(0.1 / 0.5)
    assert s.loc["static", "active rel. error (median)"] == pytest.approx(1.1)
    assert s.loc["static", "beats no motion"] == 0.5 and s.loc["no_motion", "beats no motion"] == 0.0
    assert np.isnan(s.loc["full", "SNR"]) and s.loc["full", "clips"] == 2
    r = region_table(metrics, ["static", "full"])
    assert r["region"].tolist() == ["all", "mouth"] and r.loc[1, "static"] == pytest.approx(0.6)


def test_runners_refuse_bad_input_before_any_work():
    clip = SimpleNamespace(key=("casme2", "sub01", "EP01"), ground_truth=None, dataset="casme2",
                           subject="sub01", label=None)
    with pytest.raises(InputValueError, match="no clips"):
        run_ablation([])
    with pytest.raises(InputValueError, match="ground truth"):
        run_ablation([clip])
    with pytest.raises(InputValueError, match="variant"):
        run_ablation([clip], variants=())
    with pytest.raises(OptionError, match="nope"):
        run_ablation([clip], classifier="nope")


# ----------------------------------------------------------------------------- on SynthME
@pytest.fixture(scope="module")
def synthme():
    from mxkit.data import load_synthme

    from ._tiny_synthme import tiny_synthme

    root, cache, _ = tiny_synthme()
    return load_synthme(root), cache


def test_ablation_composes_the_library_calls(synthme, mh_head, tmp_path):
    clips, cache = synthme
    res = run_ablation(clips, variants=("static",), model=mh_head, cache_dir=cache, workers=1, progress=False,
                       protocol="casme2-5class", keep_reconstructions=True, out=tmp_path)
    # the metrics are evaluate_reconstruction's, with the prepared clip
    rec, prep = res.reconstructions["static"][1], res.prepared[1]
    direct = evaluate_reconstruction(rec, clips[1].ground_truth, mh_head, prepared=prep).to_dataframe()
    mine = res.metrics[(res.metrics["clip"] == clips[1].clip_id)
                       & (res.metrics["variant"] == "static")].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, direct)
    assert prep.params["size"] == 192                                   # the weights' prepare settings
    ref, row = res.table.measured.iloc[0], res.table.measured.iloc[1]
    assert (row["dataset"], row["variant"]) == ("synthme", "static")
    assert row["shape_l1"] == pytest.approx(res.metrics.query(
        "variant == 'static' and metric == 'vertex_l1' and region == 'all' and mesh == 'fine'")["value"].mean())
    # the no-motion reference is its own row: motion columns only, 1 by construction
    assert ref["variant"] == "no_motion" and ref["rel_error"] == pytest.approx(1.0) and np.isnan(ref["shape_l1"])
    direct_ref = evaluate_no_motion(clips[1].ground_truth, mh_head, onset=rec.onset, apex=rec.apex,
                                    clip_key=rec.clip_key).to_dataframe()
    mine_ref = res.metrics[(res.metrics["clip"] == clips[1].clip_id) & (res.metrics["variant"] == "no_motion")]
    pd.testing.assert_frame_equal(mine_ref.reset_index(drop=True), direct_ref)
    rel = res.metrics.query("variant == 'static' and metric == 'active_rel_error' and region == 'all'")["value"]
    assert row["rel_error"] == pytest.approx(rel.median()) and row["beats_no_motion"] == pytest.approx((rel < 1).mean())
    assert res.motion.value("static", "rel_error_median") == pytest.approx(rel.median())
    assert res.motion.value("static", "wins_vs_no_motion") == pytest.approx((rel < 1).mean())
    assert res.variants == ["static"] and "no_motion" in set(res.per_variant["variant"])
    assert row["UF1"] == pytest.approx(res.recognition["static"].metrics["UF1"])
    assert set(res.table.reported["source"]) == {REPORTED_SOURCE}
    assert res.summary()["clips"] == 3 and res.runs["variant"].tolist() == ["static"] * 3
    for name in ("ablation.csv", "ablation.md", "summary.csv", "regions.csv", "metrics.csv", "recognition.csv",
                 "motion.csv", "active_regions.csv"):
        assert (tmp_path / name).stat().st_size > 0, name
    # the recognition runner on the same prepared clips = the flow baseline of mxkit.eval
    labelled = clips.map_classes("casme2-5class")
    cmp = run_recognition(labelled, features=("flow_baseline", "oracle"), prepared=res.prepared, model=mh_head,
                          progress=False)
    base = flow_baseline(list(res.prepared), labelled)
    assert cmp.results["flow_baseline"].metrics == base.metrics
    assert cmp.table["features"].tolist() == ["flow_baseline", "oracle"]
    assert cmp.table["chance"].tolist() == [0.2, 0.2]
    assert "Protocol `casme2-5class`" in cmp.to_markdown()
    with pytest.raises(InputValueError, match="protocol"):
        run_recognition(clips, features=("oracle",), progress=False)


def test_recognition_runner_runs_the_field_baselines_on_the_same_folds(synthme, mh_head, tmp_path):
    from mxkit.eval import (
        apex_flows,
        baseline_recognise_clips,
        bootstrap_intervals,
        late_fusion_clips,
    )

    clips, cache = synthme
    labelled = clips.map_classes("casme2-5class")
    opts = RecognitionOptions(grid={}, n_boot=200, feature_options={"ststnet": {"max_epochs": 2},
                                                                     "lbptop": {"n_frames": 6}})
    cmp = run_recognition(labelled, features=("flow_baseline", "lbptop", "biwoof", "mdmo", "ststnet", "fusion:static",
                                              "oracle"),
                          options=opts, model=mh_head, cache_dir=cache, workers=1, progress=False, out=tmp_path)
    t = cmp.table.set_index("features")
    assert list(t.index) == ["flow_baseline", "lbptop", "biwoof", "mdmo", "ststnet", "fusion:static", "oracle"]
    # each row is the eval-layer call on the same prepared clips and flows (composition only)
    preps = prepared_clips(list(labelled), settings=weights_settings(), cache_dir=cache, workers=1, progress=False)
    flows = apex_flows(preps)
    lbp = baseline_recognise_clips(labelled, preps, "lbptop", feature_options={"n_frames": 6}, grid={})
    assert cmp.results["lbptop"].metrics == lbp.metrics
    cnn = baseline_recognise_clips(labelled, preps, "ststnet", flows=flows, max_epochs=2, seed=0)
    assert cmp.results["ststnet"].metrics == cnn.metrics
    fused = late_fusion_clips(labelled, {"biwoof": cmp.features["biwoof"],
                                         "reconstruction[static]": cmp.features["reconstruction:static"]}, grid={})
    assert cmp.results["fusion:static"].metrics == fused.metrics
    # intervals: the bootstrap over subjects of each result, bracketing the pooled score
    ci = bootstrap_intervals(cmp.results["mdmo"], n_boot=200, seed=0)
    sel = ci[(ci["subset"] == "all") & (ci["metric"] == "UF1")]
    assert t.loc["mdmo", "UF1_low"] == sel["low"].item() and t.loc["mdmo", "UF1_high"] == sel["high"].item()
    assert (t["UF1_low"] <= t["UF1"] + 1e-12).all() and (t["UF1"] <= t["UF1_high"] + 1e-12).all()
    # permutation tests against the reference (flow_baseline), which has none itself
    assert (t["reference"] == "flow_baseline").all() and np.isnan(t.loc["flow_baseline", "p_vs_reference"])
    assert t.drop(index="flow_baseline")["p_vs_reference"].between(0, 1).all()
    assert cmp.tests["b"].eq("flow_baseline").all() and len(cmp.tests) == 6
    for name in ("recognition.html", "intervals.csv", "tests.csv", "confusion.csv", "reported.csv"):
        assert (tmp_path / name).stat().st_size > 0, name
    conf = pd.read_csv(tmp_path / "confusion.csv")
    assert conf.groupby("features")["count"].sum().eq(3).all()          # every sample once per feature set
    html = (tmp_path / "recognition.html").read_text()
    assert "Confusion matrices" in html and "lbptop" in html


def test_recognition_options_are_checked():
    with pytest.raises(OptionError, match="nope"):
        RecognitionOptions(classifier="nope")
    with pytest.raises(OptionError, match="lbp"):
        RecognitionOptions(feature_options={"lbp": {}})
    with pytest.raises(InputValueError, match="n_boot"):
        RecognitionOptions(n_boot=-1)
    with pytest.raises(InputValueError, match="feature_options\\['mdmo'\\]"):
        RecognitionOptions(feature_options={"mdmo": 3})
    with pytest.raises(InputValueError, match="reference 'hoof'"):
        run_recognition([], features=("flow_baseline",), options=RecognitionOptions(reference="hoof"))
    assert RecognitionOptions(grid={"C": (1,)}).to_dict()["grid"] == {"C": [1]}
