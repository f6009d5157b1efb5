"""Recognition metrics, leakage-safe LOSO, classifiers, features and the flow baseline."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mxkit.eval.recognition as recognition_mod
from mxkit.data import ClipSet, Protocol
from mxkit.errors import InputValueError, OptionError, ShapeError
from mxkit.eval import (
    METRICS,
    class_scores,
    classification_metrics,
    confusion_matrix,
    dynamic_code_features,
    feature_matrix,
    flow_baseline,
    flow_features,
    inner_folds,
    loso_folds,
    make_classifier,
    recognise,
    recognise_clips,
    reconstruction_features,
    region_displacement_features,
    subject_keys,
    trajectory_features,
)
from mxkit.testing import tiny_clipset

CLASSES = ("negative", "positive", "surprise")


# --------------------------------------------------------------------------- metrics
def test_metrics_hand_computed_confusion():
    # true:  n n n n p p s s      pred: n n p s p n s s
    t = ["negative"] * 4 + ["positive"] * 2 + ["surprise"] * 2
    p = ["negative", "negative", "positive", "surprise", "positive", "negative", "surprise", "surprise"]
    cm = confusion_matrix(t, p, classes=CLASSES)
    assert cm.index.name == "true" and cm.columns.name == "pred"
    assert cm.values.tolist() == [[2, 1, 1], [1, 1, 0], [0, 0, 2]]
    # one-vs-rest: n TP2 FP1 FN2 -> F1 4/7; p TP1 FP1 FN1 -> 1/2; s TP2 FP1 FN0 -> 4/5
    f1 = [4 / 7, 1 / 2, 4 / 5]
    rec = [2 / 4, 1 / 2, 2 / 2]
    m = classification_metrics(t, p, classes=CLASSES)
    assert m["UF1"] == pytest.approx(np.mean(f1))
    assert m["UAR"] == pytest.approx(np.mean(rec))
    assert m["WF1"] == pytest.approx((4 * f1[0] + 2 * f1[1] + 2 * f1[2]) / 8)
    assert m["ACC"] == pytest.approx(5 / 8) and m["n"] == 8
    # labels as class indices give the same numbers
    idx = {c: i for i, c in enumerate(CLASSES)}
    assert classification_metrics([idx[x] for x in t], [idx[x] for x in p], classes=CLASSES) == m


def test_empty_class_policies_on_a_fold_without_a_class():
    # a fold where 'surprise' is absent from truth and predictions
    t = ["negative", "negative", "positive"]
    p = ["negative", "positive", "positive"]
    f1_n, f1_p = 2 / 3, 2 / 3                      # n: TP1 FP0 FN1; p: TP1 FP1 FN0
    ex = classification_metrics(t, p, classes=CLASSES, empty_class="exclude")
    zero = classification_metrics(t, p, classes=CLASSES, empty_class="zero")
    assert ex["UF1"] == pytest.approx((f1_n + f1_p) / 2)
    assert zero["UF1"] == pytest.approx((f1_n + f1_p) / 3)
    for m in (ex, zero):                           # recall of the empty class is undefined: excluded
        assert m["UAR"] == pytest.approx((1 / 2 + 1) / 2)
        assert m["WF1"] == pytest.approx((2 * f1_n + 1 * f1_p) / 3)
        assert m["ACC"] == pytest.approx(2 / 3)
    s = class_scores(t, p, classes=CLASSES).set_index("class")
    assert np.isnan(s.loc["surprise", "f1"]) and np.isnan(s.loc["surprise", "recall"])
    assert not s.loc["surprise", "in_uf1"] and not s.loc["surprise", "in_uar"]
    assert class_scores(t, p, classes=CLASSES, empty_class="zero").set_index("class").loc["surprise", "f1"] == 0.0
    # a class predicted but absent from the truth: F1 = 0 (in UF1), recall excluded from UAR
    m = classification_metrics(["negative", "positive"], ["negative", "surprise"], classes=CLASSES)
    assert m["UF1"] == pytest.approx((1 + 0 + 0) / 3)
    assert m["UAR"] == pytest.approx((1 + 0) / 2)
    with pytest.raises(OptionError):
        classification_metrics(t, p, classes=CLASSES, empty_class="drop")


def test_metrics_match_sklearn_where_they_coincide():
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    rng = np.random.default_rng(0)
    for _ in range(5):
        t = rng.integers(0, 3, 40)
        p = np.where(rng.random(40) < 0.6, t, rng.integers(0, 3, 40))
        m = classification_metrics(t, p, classes=CLASSES)
        assert m["UF1"] == pytest.approx(f1_score(t, p, average="macro"))
        assert m["WF1"] == pytest.approx(f1_score(t, p, average="weighted"))
        assert m["UAR"] == pytest.approx(balanced_accuracy_score(t, p))
        assert m["ACC"] == pytest.approx(accuracy_score(t, p))
    # a class absent from both: 'exclude' = sklearn's default macro, 'zero' = labels=all, zero_division=0
    t, p = np.array([0, 0, 1, 1, 0]), np.array([0, 1, 1, 1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert classification_metrics(t, p, classes=CLASSES)["UF1"] == pytest.approx(f1_score(t, p, average="macro"))
        assert classification_metrics(t, p, classes=CLASSES, empty_class="zero")["UF1"] == pytest.approx(
            f1_score(t, p, labels=[0, 1, 2], average="macro", zero_division=0))


def test_metric_bad_inputs():
    with pytest.raises(ShapeError, match="same length"):
        classification_metrics(["negative"], ["negative", "positive"], classes=CLASSES)
    with pytest.raises(InputValueError, match="unknown class"):
        classification_metrics(["negative", "angry"], ["negative", "positive"], classes=CLASSES)
    with pytest.raises(InputValueError, match="at least 2 classes"):
        classification_metrics(["a", "a"], ["a", "a"], classes=["a"])
    with pytest.raises(InputValueError, match="empty"):
        classification_metrics([], [], classes=CLASSES)
    with pytest.raises(InputValueError, match="outside"):
        classification_metrics([0, 5], [0, 1], classes=CLASSES)


# --------------------------------------------------------------------------- data
def toy_data(n_subjects: int = 6, per_subject: int = 6, *, n_features: int = 6, signal: float = 3.0,
             seed: int = 0, datasets: tuple[str, ...] = ("casme2",)):
    """Features with a class signal in the first 3 columns; groups keyed by (dataset, subject)."""
    rng = np.random.default_rng(seed)
    X, y, groups, ids = [], [], [], []
    for d in datasets:
        for s in range(n_subjects):
            for k in range(per_subject):
                c = (s + k) % 3
                v = rng.normal(size=n_features)
                v[c] += signal
                X.append(v)
                y.append(CLASSES[c])
                groups.append((d, f"s{s}"))
                ids.append(f"{d}/s{s}/clip{k}")
    return np.array(X), y, groups, ids


# --------------------------------------------------------------------------- splits
def test_loso_and_inner_folds_never_mix_subjects():
    X, y, groups, _ = toy_data(datasets=("casme2", "samm"))
    keys = subject_keys(groups)
    folds = loso_folds(groups)
    assert len(folds) == 12                                            # s0..s5 of two datasets are distinct
    covered = np.concatenate([f.test for f in folds])
    assert sorted(covered.tolist()) == list(range(len(y)))
    for f in folds:
        assert set(keys[f.test]) == {f.test_subject}
        assert f.test_subject not in set(keys[f.train])
        splits = inner_folds(groups, f.train, n_splits=3, seed=1)
        assert len(splits) == 3
        for fit, val in splits:
            assert set(fit) | set(val) <= set(f.train)
            assert not set(keys[fit]) & set(keys[val])
        assert sorted(np.concatenate([v for _, v in splits]).tolist()) == sorted(f.train.tolist())
    with pytest.raises(InputValueError, match="at least 2 subjects"):
        loso_folds([("d", "s1")] * 3)
    with pytest.raises(InputValueError, match="dataset/subject"):
        subject_keys(["s1", "s2"])


def test_no_model_selection_ever_sees_the_test_subject(monkeypatch):
    X, y, groups, ids = toy_data()
    X = np.column_stack([np.arange(len(y)), X])                          # column 0 = sample id
    keys = subject_keys(groups)
    events: list[tuple[str, set]] = []

    real_select = recognition_mod._select

    def spy_select(X_, y_, keys_, train, **kw):
        events.append(("select", set(X_[train, 0].astype(int))))
        return real_select(X_, y_, keys_, train, **kw)

    class Spy:
        def __init__(self, inner):
            self.inner, self.notes = inner, []

        def fit(self, Xf, yf):
            events.append(("fit", set(Xf[:, 0].astype(int))))
            self.inner.fit(Xf, yf)
            return self

        def predict(self, Xp):
            events.append(("predict", set(Xp[:, 0].astype(int))))
            return self.inner.predict(Xp)

    real_make = recognition_mod.make_classifier
    monkeypatch.setattr(recognition_mod, "_select", spy_select)
    monkeypatch.setattr(recognition_mod, "make_classifier", lambda *a, **k: Spy(real_make(*a, **k)))
    recognise(X, y, groups, classifier="logreg", grid={"C": (0.1, 1.0)}, sample_ids=ids)
    blocks: list[list[tuple[str, set]]] = []
    for ev in events:
        if ev[0] == "select":
            blocks.append([ev])
        else:
            blocks[-1].append(ev)
    assert len(blocks) == 6
    all_ids = set(range(len(y)))
    for block in blocks:
        train = block[0][1]
        test = all_ids - train
        assert len({keys[i] for i in test}) == 1                         # one held-out subject
        *selection, final_fit, final_predict = block[1:]
        assert final_fit == ("fit", train) and final_predict == ("predict", test)
        assert len(selection) == 2 * 3 * 2                                # 2 candidates x 3 inner splits x (fit, predict)
        for _, used in selection:
            assert used <= train and not used & test


@pytest.mark.parametrize("classifier, grid, n_subjects", [("linear_svm", None, 6),
                                                          ("mlp", {"n_epochs": (3, 6)}, 3)])
def test_results_identical_for_any_fold_and_sample_order(classifier, grid, n_subjects):
    X, y, groups, ids = toy_data(n_subjects, signal=1.0)
    ref = recognise(X, y, groups, classifier=classifier, grid=grid, sample_ids=ids, seed=3)
    keys = sorted(set(subject_keys(groups)))
    rev = recognise(X, y, groups, classifier=classifier, grid=grid, sample_ids=ids, seed=3,
                    fold_order=keys[::-1])
    perm = np.random.default_rng(1).permutation(len(y))
    shuf = recognise(X[perm], [y[i] for i in perm], [groups[i] for i in perm], classifier=classifier,
                     grid=grid, sample_ids=[ids[i] for i in perm], seed=3)
    for other in (rev, shuf):
        assert other.sample_ids == ref.sample_ids
        np.testing.assert_array_equal(other.y_pred, ref.y_pred)
        assert other.metrics == ref.metrics
        pd.testing.assert_frame_equal(other.folds, ref.folds)


# --------------------------------------------------------------------------- recognise
def test_recognise_pools_predictions_and_reports_fold_means():
    X, y, groups, ids = toy_data(datasets=("casme2", "samm"))
    res = recognise(X, y, groups, classifier="linear_svm", sample_ids=ids, feature_set="toy")
    assert res.metrics["UF1"] > 0.9 and res.metrics["n"] == len(y)
    again = classification_metrics(res.y_true, res.y_pred, classes=res.classes)
    assert again == res.metrics                                          # computed once on the pooled predictions
    assert len(res.folds) == 12 and set(res.folds.columns) >= {"fold", "params", *METRICS}
    assert res.fold_means["UF1"] == pytest.approx(res.folds["UF1"].mean())
    bd = res.by_dataset()
    assert list(bd.index) == ["all", "casme2", "samm"] and bd.loc["samm", "n"] == len(y) // 2
    tidy = res.to_dataframe()
    assert set(tidy["aggregation"]) == {"pooled", "fold_mean"} and set(tidy["metric"]) == set(METRICS)
    assert int(res.confusion.values.sum()) == len(y)
    pred = res.predictions()
    assert len(pred) == len(y) and pred["correct"].mean() == pytest.approx(res.metrics["ACC"])
    s = res.summary()
    assert s["n_subjects"] == 12 and s["classifier"] == "linear_svm" and s["feature_set"] == "toy"
    card = res.card
    assert card["n_samples"] == len(y) and card["n_subjects"] == 12 and card["seed"] == 0
    assert card["datasets"] == ["casme2", "samm"] and card["empty_class"] == "exclude"


@pytest.mark.parametrize("classifier, options", [
    ("logreg", {}),
    ("random_forest", {"grid": {}, "params": {"n_estimators": 20}}),
    ("mlp", {"grid": {}, "params": {"n_epochs": 60}}),
])
def test_every_classifier_learns_the_toy_signal(classifier, options):
    X, y, groups, ids = toy_data(4)
    res = recognise(X, y, groups, classifier=classifier, sample_ids=ids, **options)
    assert res.metrics["ACC"] > 0.8, (classifier, res.metrics)


def test_mlp_is_seeded_and_deterministic():
    X, y, groups, _ = toy_data(n_subjects=3)
    yi = np.array([CLASSES.index(c) for c in y])
    a = make_classifier("mlp", 3, seed=5, n_epochs=30).fit(X, yi).predict(X)
    b = make_classifier("mlp", 3, seed=5, n_epochs=30).fit(X, yi).predict(X)
    np.testing.assert_array_equal(a, b)
    staged = make_classifier("mlp", 3, seed=5).fit_staged(X, yi, X, [10, 30])
    np.testing.assert_array_equal(staged[1], a)                          # early stopping = same run
    with pytest.raises(InputValueError, match="unknown parameter"):
        make_classifier("linear_svm", 3, n_epochs=5)
    one = make_classifier("linear_svm", 3).fit(X, np.zeros(len(X), np.int64))
    assert (one.predict(X) == 0).all() and one.notes


def test_recognise_bad_inputs():
    X, y, groups, ids = toy_data()
    with pytest.raises(ShapeError):
        recognise(X, y[:-1], groups)
    with pytest.raises(ShapeError):
        recognise(X[:, 0], y, groups)
    with pytest.raises(InputValueError, match="unknown class"):
        recognise(X, ["angry"] + y[1:], groups, classes=CLASSES)
    with pytest.raises(InputValueError, match="same class"):
        recognise(X, ["negative"] * len(y), groups, classes=CLASSES)
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(InputValueError, match="NaN"):
        recognise(bad, y, groups)
    with pytest.raises(InputValueError, match="at least 2 subjects"):
        recognise(X, y, [("casme2", "s0")] * len(y), grid={})
    two = [("casme2", f"s{i % 2}") for i in range(len(y))]
    with pytest.raises(InputValueError, match="at least 3 subjects"):
        recognise(X, y, two)
    assert recognise(X, y, two, grid={}).metrics["n"] == len(y)           # no search: 2 subjects suffice
    with pytest.raises(InputValueError, match="unique"):
        recognise(X, y, groups, sample_ids=["a"] * len(y))
    with pytest.raises(OptionError):
        recognise(X, y, groups, classifier="xgboost")
    with pytest.raises(InputValueError, match="no samples"):
        recognise(np.zeros((0, 3)), [], [])


# --------------------------------------------------------------------------- protocol card
def toy_clipset(n_subjects: int = 4) -> ClipSet:
    return tiny_clipset({f"s{s}": ["happy", "sad", "sad", "meh"] for s in range(n_subjects)}, n_frames=2)


TOY_PROTOCOL = Protocol("toy-2class", classes=("pos", "neg"),
                        mapping={"toyds": {"happy": "pos", "sad": "neg"}},
                        exclude={"toyds": {"meh": "too rare"}}, description="toy protocol")


def test_recognise_clips_attaches_the_protocol_card():
    cs = toy_clipset().map_classes(TOY_PROTOCOL)
    rng = np.random.default_rng(0)
    feats = {c.key: rng.normal(size=4) + (3.0 if c.label == "pos" else 0.0) for c in cs}
    res = recognise_clips(cs, feats, classifier="linear_svm", feature_set="toy-features", seed=7)
    card = res.card
    assert card["protocol"] == "toy-2class" and card["classes"] == ["pos", "neg"]
    assert card["class_mapping"] == {"toyds": {"happy": "pos", "sad": "neg"}}
    assert card["exclusions"]["values"] == {"toyds": {"meh": "too rare"}}
    assert card["n_excluded"] == 4 and card["excluded_by_reason"] == {"too rare": 4}
    assert card["n_samples"] == 12 and card["n_subjects"] == 4 and card["class_counts"] == {"pos": 4, "neg": 8}
    assert card["classifier"] == "linear_svm" and card["feature_set"] == "toy-features" and card["seed"] == 7
    assert card["grid"] == {"C": [0.01, 0.1, 1.0, 10.0]}
    assert res.sample_ids[0] == "toyds/s0/c0" and res.classes == ("pos", "neg")
    with pytest.raises(InputValueError, match="labelled"):
        recognise_clips(toy_clipset(), np.zeros((16, 4)))
    with pytest.raises(InputValueError, match="lack"):
        recognise_clips(cs, {})


def test_a_protocol_that_maps_everything_away_is_an_error():
    p = Protocol("nothing", classes=("pos", "neg"), mapping={"toyds": {"joy": "pos", "anger": "neg"}},
                 exclude={"toyds": {"happy": "x", "sad": "x", "meh": "x"}})
    with pytest.raises(InputValueError, match="maps every one"):
        toy_clipset().map_classes(p)


# --------------------------------------------------------------------------- features
@dataclass
class StubRecon:
    vertices: Any
    expression: Any
    onset: int = 1
    apex: int = 3
    offset: int = 4
    dynamic_code: Any = None
    clip_key: tuple = ("synth", "s1", "c1")


def _stub_recon(toy_model, bump=0.002):
    V = toy_model.n_vertices
    verts = np.repeat(toy_model.v_template.numpy()[None], 5, axis=0).copy()
    verts[3, toy_model.region_mask("left"), 2] += bump
    expr = np.zeros((5, 2))
    expr[:, 0] = [0.0, 0.1, 0.3, 0.5, 0.2]
    return StubRecon(verts, expr, dynamic_code=np.arange(3.0)), V


def test_reconstruction_features_known_values(toy_model):
    recon, _ = _stub_recon(toy_model)
    v, names = region_displacement_features(recon, toy_model, mask="all")
    f = dict(zip(names, v, strict=True))
    assert f["disp:left:dz"] == pytest.approx(2.0) and f["disp:left:mag"] == pytest.approx(2.0)
    assert f["disp:right:dz"] == 0.0 and len(v) == 8
    v, names = trajectory_features(recon)
    f = dict(zip(names, v, strict=True))
    # relative to the onset (0.1) over frames 1..4: 0, 0.2, 0.4, 0.1
    assert f["traj:e0:apex"] == pytest.approx(0.4) and f["traj:e0:peak"] == pytest.approx(0.4)
    assert f["traj:e0:mean_abs"] == pytest.approx(0.7 / 4) and f["traj:e0:t_peak"] == pytest.approx(2 / 3)
    assert dynamic_code_features(recon)[1] == ["code:0", "code:1", "code:2"]
    v, names = reconstruction_features(recon, toy_model, include=("regions", "trajectory", "dynamic"), mask="all")
    assert len(v) == len(names) == 8 + 8 + 3
    fs = feature_matrix([recon, recon], lambda r: reconstruction_features(r, toy_model, mask="all"), name="recon")
    assert fs.values.shape == (2, 16) and fs.groups == [("synth", "s1")] * 2
    assert list(fs.to_dataframe().columns[:3]) == ["dataset", "subject", "clip"]
    recon.dynamic_code = None
    with pytest.raises(InputValueError, match="no dynamic code"):
        dynamic_code_features(recon)


# --------------------------------------------------------------------------- flow baseline
def test_flow_features_known_values():
    flow = np.zeros((10, 10, 2))
    flow[:5, :, 1] = -2.0                                                # top half moves up 2 px
    v, names = flow_features(flow, grid=(2, 1), kinds=("uv", "hoof"), bins=4)
    f = dict(zip(names, v, strict=True))
    assert f["flow:r0c0:v"] == -2.0 and f["flow:r1c0:v"] == 0.0
    assert [f[f"flow:r0c0:hoof{k}"] for k in range(4)] == [0.0, 1.0, 0.0, 0.0]   # angle -pi/2: bin 1
    assert [f[f"flow:r1c0:hoof{k}"] for k in range(4)] == [0.0] * 4
    seq = np.zeros((3, 10, 10, 2))
    seq[2] = flow
    v2, _ = flow_features(seq, apex=2, grid=(2, 1), kinds=("uv", "hoof"), bins=4)
    np.testing.assert_array_equal(v, v2)
    s, _ = flow_features(flow, grid=(1, 1), kinds=("strain",))
    assert s[0] > 0                                                      # shear at the boundary
    with pytest.raises(InputValueError, match="apex"):
        flow_features(seq)
    with pytest.raises(OptionError):
        flow_features(flow, kinds=("lbp",))


@dataclass
class StubPrepared:
    flow: np.ndarray
    apex: int
    clip_key: tuple


def test_flow_baseline_on_prepared_like_clips():
    rng = np.random.default_rng(0)
    items, labels = [], []
    directions = {"negative": (0.0, -1.0), "positive": (1.0, 0.0), "surprise": (0.0, 1.0)}
    for s in range(4):
        for k, (c, (u, v)) in enumerate(directions.items()):
            flow = rng.normal(0, 0.3, (3, 12, 12, 2))
            flow[2, ..., 0] += u
            flow[2, ..., 1] += v
            items.append(StubPrepared(flow.astype(np.float32), 2, ("casme2", f"s{s}", f"c{k}")))
            labels.append(c)
    res = flow_baseline(items, labels, grid=(2, 2), classes=CLASSES)
    assert res.metrics["ACC"] == 1.0
    assert res.card["feature_set"].startswith("flow[uv+strain+hoof, grid 2x2")
    assert res.card["classifier"] == "linear_svm" and res.card["n_subjects"] == 4
