"""Honest motion metrics (mxkit.eval.motion): known answers, the no-motion reference, intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mxkit.errors import InputValueError, ShapeError
from mxkit.eval import (
    NO_MOTION,
    active_motion_metrics,
    active_motion_values,
    active_vertices,
    bootstrap_interval,
    bootstrap_intervals,
    evaluate_no_motion,
    micro_motion_table,
    motion_summary,
    no_motion_reference,
    region_motion_table,
    win_rates,
)


def _field(seed=0, n=40):
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(n, 3)) * 1e-4
    t[:5] *= 20.0                      # five vertices move a lot, the rest barely
    return t


# ----------------------------------------------------------------------------- known answers
def test_perfect_zero_and_half_predictions():
    t = _field()
    perfect = active_motion_metrics(t, t)
    assert perfect["active_rel_error"] == 0.0
    assert perfect["amplitude_ratio"] == pytest.approx(1.0) and perfect["motion_cosine"] == pytest.approx(1.0)
    none = active_motion_metrics(np.zeros_like(t), t)
    assert none["active_rel_error"] == pytest.approx(1.0)
    assert none["amplitude_ratio"] == 0.0 and none["motion_cosine"] == 0.0
    half = active_motion_metrics(0.5 * t, t)
    assert half["amplitude_ratio"] == pytest.approx(0.5) and half["motion_cosine"] == pytest.approx(1.0)
    assert half["active_rel_error"] == pytest.approx(0.5)
    double = active_motion_metrics(2.0 * t, t)
    assert double["active_rel_error"] == pytest.approx(1.0) and double["amplitude_ratio"] == pytest.approx(2.0)
    assert active_motion_metrics(-t, t)["motion_cosine"] == pytest.approx(-1.0)


def test_hand_computed_case():
    # true motion (mm): v0 (3, 4, 0) -> 5, v1 (0, 0, 2) -> 2, v2 (0, 1, 0) -> 1, v3 none.
    # max 5, threshold 0.3 -> 1.5: active v0, v1 (v2 = 1 < 1.5).
    t = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 2.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]) * 1e-3
    p = np.array([[3.0, 0.0, 0.0], [0.0, 0.0, 2.0], [9.0, 9.0, 9.0], [1.0, 1.0, 1.0]]) * 1e-3
    assert active_vertices(t).tolist() == [True, True, False, False]
    m = active_motion_metrics(p, t)
    # errors: v0 |(0, -4, 0)| = 4, v1 0 -> 4 / (5 + 2)
    assert m["active_rel_error"] == pytest.approx(4 / 7)
    # amplitudes: v0 3, v1 2 -> 5 / 7
    assert m["amplitude_ratio"] == pytest.approx(5 / 7)
    # cosine: <p, t> = 9 + 4 = 13; |p|^2 = 9 + 4 = 13; |t|^2 = 25 + 4 = 29
    assert m["motion_cosine"] == pytest.approx(13 / np.sqrt(13 * 29))
    assert m["active_motion_true"] == pytest.approx(3.5) and m["active_vertices"] == 2
    # a lower threshold takes v2 in: error 4 + |(9, 8, 9)|
    m2 = active_motion_metrics(p, t, threshold=0.2)
    assert m2["active_vertices"] == 3
    assert m2["active_rel_error"] == pytest.approx((4 + np.sqrt(81 + 64 + 81)) / 8)
    # weights: v1 counts half -> error 4 / (5 + 1)
    assert active_motion_metrics(p, t, weights=np.array([1.0, 0.5, 1.0, 1.0]))["active_rel_error"] == \
        pytest.approx(4 / 6)


def test_regions_share_the_clip_threshold_and_skip_regions_without_motion():
    t = np.array([[0, 0, 5.0], [0, 0, 2.0], [0, 0, 1.0], [0, 0, 0.0]]) * 1e-3
    regions = {"all": np.ones(4), "top": np.array([1.0, 0, 0, 0]), "low": np.array([0, 0, 1.0, 1.0])}
    vals = active_motion_values(0.5 * t, t, regions)
    assert set(vals) == {"all", "top"}                  # 'low' moves < 30 % of the clip's maximum
    assert vals["all"]["active_vertices"] == 2 and vals["top"]["active_vertices"] == 1
    assert active_motion_values(t, np.zeros_like(t), regions) == {}


def test_bad_input_is_refused():
    t = _field()
    with pytest.raises(InputValueError, match="zero"):
        active_vertices(np.zeros((4, 3)))
    with pytest.raises(InputValueError, match="threshold"):
        active_vertices(t, threshold=0.0)
    with pytest.raises(InputValueError, match="threshold"):
        active_vertices(t, threshold=True)
    with pytest.raises(ShapeError):
        active_motion_metrics(t[:3], t)
    with pytest.raises(ShapeError):
        active_vertices(t[:, :2])
    with pytest.raises(InputValueError, match="non-finite"):
        active_vertices(np.full((3, 3), np.nan))


def test_micro_motion_table_carries_the_active_rows():
    T, V = 5, 30
    rng = np.random.default_rng(1)
    truth = np.repeat(rng.normal(size=(1, V, 3)) * 0.05, T, 0)
    motion = _field(2, V)
    for k in range(T):
        truth[k] += motion * k / (T - 1)
    pred = truth.copy()
    pred[-1] = truth[0] + 0.5 * motion
    tab = micro_motion_table(pred, truth, onset=0, apex=T - 1, align="none").set_index("metric")["value"]
    assert tab["amplitude_ratio"] == pytest.approx(0.5) and tab["motion_cosine"] == pytest.approx(1.0)
    assert tab["active_rel_error"] == pytest.approx(0.5)
    none = micro_motion_table(pred, truth, onset=0, apex=T - 1, active_threshold=None)
    assert "active_rel_error" not in set(none["metric"])


# ----------------------------------------------------------------------------- no-motion reference
def test_no_motion_reference_scores_one(mh_head):
    from mxkit.data.synth import SynthTruth  # noqa: F401  (the truth type evaluate_no_motion reads)

    V = mh_head.n_vertices
    rng = np.random.default_rng(0)
    T = 6
    base = mh_head.v_template.numpy().astype(np.float64)
    truth = np.repeat(base[None], T, 0)
    bump = np.zeros((V, 3))
    bump[rng.choice(V, 200, replace=False), 2] = 4e-4
    for k in range(T):
        truth[k] += bump * min(k, 3) / 3
    ref = no_motion_reference(truth, onset=1, apex=4, clip_key=("d", "s", "c"))
    assert np.array_equal(ref.vertices[5], truth[1]) and ref.variant == NO_MOTION
    res = evaluate_no_motion(truth, mh_head, onset=1, apex=4, clip_key=("d", "s", "c"), aus=None)
    assert res.variant == NO_MOTION and set(res.table["variant"]) == {NO_MOTION}
    assert "vertex_l1" not in set(res.table["metric"]) and set(res.table["mesh"]) == {"fine"}
    assert res.value("active_rel_error") == pytest.approx(1.0)
    assert res.value("amplitude_ratio") == 0.0 and res.value("motion_cosine") == 0.0
    d = np.abs(truth[4] - truth[1])
    from mxkit.eval import face_mask

    m = face_mask(mh_head, "face")
    assert res.value("micro_motion_l1") == pytest.approx(d[m].mean() * 1000)


# ----------------------------------------------------------------------------- over clips
def _table(values):
    """values: {variant: [(subject, clip, rel_error), ...]} -> tidy rows."""
    rows = []
    for v, items in values.items():
        for subj, clip, x in items:
            for metric, val in (("active_rel_error", x), ("amplitude_ratio", 1 - x), ("motion_cosine", 0.9),
                                ("micro_motion_l1", 0.01 * x)):
                rows.append({"clip": clip, "subject": subj, "dataset": "d", "variant": v, "mesh": "fine",
                             "region": "all", "metric": metric, "value": val, "unit": "ratio"})
    return pd.DataFrame(rows)


def test_win_rates_compare_clip_by_clip():
    clips = [("s1", "a"), ("s1", "b"), ("s2", "c"), ("s2", "d")]
    df = _table({NO_MOTION: [(s, c, 1.0) for s, c in clips],
                 "smoothed": [(s, c, x) for (s, c), x in zip(clips, (0.9, 0.8, 1.2, 0.7), strict=True)],
                 "full": [(s, c, x) for (s, c), x in zip(clips, (0.5, 0.9, 1.0, 0.8), strict=True)]})
    w = win_rates(df)
    assert w[w["variant"] == "full"]["wins"].tolist() == [True, True, False, True]    # a tie is no win
    w2 = win_rates(df, against="smoothed").set_index(["clip", "variant"])
    assert w2.loc[("a", "full"), "wins"] and not w2.loc[("b", "full"), "wins"]
    with pytest.raises(InputValueError, match="nope"):
        win_rates(df, against="nope")

    s = motion_summary(df, n_boot=500)
    assert s.variants == [NO_MOTION, "smoothed", "full"]
    assert s.value("full", "rel_error_median") == pytest.approx(np.median([0.5, 0.9, 1.0, 0.8]))
    assert s.value("full", "rel_error_mean") == pytest.approx(0.8)
    assert s.value("full", f"wins_vs_{NO_MOTION}") == pytest.approx(0.75)
    assert s.value("full", "wins_vs_smoothed") == pytest.approx(0.5)
    assert s.value(NO_MOTION, "rel_error_median") == 1.0
    lo, hi = s.interval("full", "rel_error_mean")
    assert 0.5 <= lo <= 0.8 <= hi <= 1.0
    lo_s, hi_s = s.interval("full", "rel_error_mean", over="subjects")
    assert 0.5 <= lo_s <= hi_s <= 1.0
    wide = s.wide()
    assert wide.loc[wide["variant"] == "full", "beats no_motion (share of clips)"].iloc[0].startswith("0.750 [")
    assert "1 = no motion" in s.caption()
    with pytest.raises(InputValueError):
        s.value("full", "nope")
    with pytest.raises(InputValueError, match="absent|no rows"):
        motion_summary(df, variants=["deformer"])


def test_region_motion_table_per_region_and_win_share():
    rows = []
    for clip, (full, smooth) in {"a": (0.4, 0.6), "b": (0.9, 0.7), "c": (0.3, 0.5)}.items():
        for v, x in (("full", full), ("smoothed", smooth)):
            for region, scale in (("all", 1.0), ("AU12", 2.0)):
                rows.append({"clip": clip, "subject": "s", "dataset": "d", "variant": v, "mesh": "fine",
                             "region": region, "metric": "active_rel_error", "value": x * scale, "unit": "ratio"})
    t = region_motion_table(pd.DataFrame(rows), n_boot=200).set_index("region")
    assert list(t.index) == ["all", "AU12"]
    assert t.loc["AU12", "full"] == pytest.approx(0.8) and t.loc["all", "smoothed"] == pytest.approx(0.6)
    assert t.loc["all", "full beats smoothed"] == pytest.approx(2 / 3) and t.loc["all", "n"] == 3
    assert 0 <= t.loc["all", "low"] <= 2 / 3 <= t.loc["all", "high"] <= 1


# ----------------------------------------------------------------------------- intervals
def test_bootstrap_interval_known_answers():
    ci = bootstrap_interval([2.0] * 5, statistic="median")
    assert (ci.value, ci.low, ci.high) == (2.0, 2.0, 2.0)
    x = np.arange(10.0)
    ci = bootstrap_interval(x, n_boot=4000, seed=3)
    assert ci.value == pytest.approx(4.5) and ci.low < 4.5 < ci.high
    # the mean's bootstrap spread is about its standard error: sd / sqrt(n) = 2.87 / 3.16 = 0.91
    assert 2.5 < ci.high - ci.low < 4.5
    # whole subjects resampled: two subjects with identical means give a degenerate mean interval
    ci = bootstrap_interval([1.0, 3.0, 3.0, 1.0], units=["a", "a", "b", "b"])
    assert (ci.value, ci.low, ci.high, ci.n_units) == (2.0, 2.0, 2.0, 2)
    # the median of a replicate is that of the pooled multiset (subject a drawn twice: {1, 1, 3, 3} -> 2)
    ci = bootstrap_interval([1.0, 3.0, 5.0, 7.0], units=["a", "a", "b", "b"], statistic="median", n_boot=500)
    assert ci.value == 4.0 and ci.low == pytest.approx(2.0) and ci.high == pytest.approx(6.0)
    one = bootstrap_interval([1.0, 2.0], units=["a", "a"])
    assert np.isnan(one.low) and one.n_units == 1
    with pytest.raises(InputValueError, match="non-finite"):
        bootstrap_interval([1.0, np.nan])
    with pytest.raises(ShapeError):
        bootstrap_interval([1.0, 2.0], units=["a"])
    with pytest.raises(InputValueError):
        bootstrap_interval([], statistic="mean")


def test_recognition_bootstrap_unchanged_by_the_shared_draws():
    # the shared cluster draws give bootstrap_intervals the same replicates as before (seeded)
    from types import SimpleNamespace

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 30)
    yp = np.where(rng.random(30) < 0.7, y, 1 - y)
    r = SimpleNamespace(y_true=y, y_pred=yp, subjects=tuple(f"d/s{i % 6}" for i in range(30)),
                        datasets=("d",) * 30, classes=("x", "y"))
    t = bootstrap_intervals(r, metrics=("ACC",), n_boot=300, seed=1)
    # re-derive the first replicate by hand from the same generator
    g = np.random.default_rng(1)
    pick = g.integers(0, 6, (300, 6))
    subj = np.array([i % 6 for i in range(30)])
    order = sorted({f"d/s{i}" for i in range(6)})
    code = np.array([order.index(f"d/s{s}") for s in subj])
    accs = []
    for b in range(300):
        counts = np.bincount(pick[b], minlength=6)[code]
        accs.append((counts * (y == yp)).sum() / counts.sum())
    lo, hi = np.quantile(accs, [0.025, 0.975])
    assert t["low"].iloc[0] == pytest.approx(lo) and t["high"].iloc[0] == pytest.approx(hi)


def test_compare_variants_paired_differences():
    from mxkit.eval import compare_variants

    clips = [(f"s{i // 2}", f"c{i}") for i in range(8)]
    df = _table({"smoothed": [(s, c, 0.8) for s, c in clips],
                 "full": [(s, c, 0.8 - 0.1 - 0.01 * i) for i, (s, c) in enumerate(clips)],
                 "same": [(s, c, 0.8 + (0.05 if i % 2 else -0.05)) for i, (s, c) in enumerate(clips)]})
    t = compare_variants(df, [("full", "smoothed"), ("same", "smoothed"), ("nope", "smoothed")],
                         n_boot=1000).set_index("a")
    assert list(t.index) == ["full", "same"]                         # an absent variant is left out
    assert t.loc["full", "mean_diff"] == pytest.approx(-0.135)
    assert t.loc["full", "clips_high"] < 0 and t.loc["full", "excludes_zero"] and t.loc["full", "a_wins"] == 1.0
    assert t.loc["same", "mean_diff"] == pytest.approx(0.0, abs=1e-12)
    assert t.loc["same", "clips_low"] < 0 < t.loc["same", "clips_high"] and not t.loc["same", "excludes_zero"]
    assert t.loc["same", "n_subjects"] == 4 and t.loc["same", "a_wins"] == 0.5
