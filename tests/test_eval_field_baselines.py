"""The field's 2D recognition baselines (issue 17): LBP-TOP + TIM, Bi-WOOF, MDMO, flow CNNs,
late fusion, bootstrap / permutation statistics, protocols and the published figures.

Every test has a known answer: a hand-computed histogram, a flow field with known blocks,
a fold loop whose fits are recorded from the rows they were actually given.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from mxkit.data import Clip, ClipSet, get_protocol
from mxkit.data.protocols import Protocol
from mxkit.errors import InputValueError, OptionError, ShapeError
from mxkit.eval import (
    BASELINE_FLOW,
    REPORTED_SOURCE,
    apex_flow,
    apex_flows,
    baseline_feature_matrix,
    baseline_recognise_clips,
    biwoof,
    biwoof_features,
    bootstrap_intervals,
    classification_metrics,
    cnn_recognise,
    evaluation_card,
    evaluation_table,
    flow_cnn_input,
    flow_cnn_inputs,
    late_fusion,
    late_fusion_clips,
    lbp_top,
    lbptop_features,
    make_classifier,
    mdmo,
    mdmo_features,
    mdmo_rois,
    paired_permutation_test,
    recognise,
    reported_recognition,
    resample_frames,
    tim_matrix,
    train_flow_cnn,
)
from mxkit.eval.biwoof import orientation_bins
from mxkit.eval.flownets import predict_flow_cnn
from mxkit.eval.lbptop import path_graph_embedding, uniform_bins, uniform_mapping
from mxkit.eval.mdmo import MDMO_ROIS
from mxkit.eval.recognition import RecognitionResult
from mxkit.eval.stats import _confusion_metrics, _onehot_pairs
from mxkit.face.align import place_template
from mxkit.face.ibug68 import MIRROR_68


# ============================================================================ LBP-TOP + TIM
def test_uniform_mapping_counts_and_codes():
    m8, m4 = uniform_mapping(8), uniform_mapping(4)
    assert uniform_bins(8) == int(m8.max()) + 1 == 59 and uniform_bins(4) == int(m4.max()) + 1 == 15
    assert (m8 < 58).sum() == 58                             # P (P - 1) + 2 uniform codes
    # 4 bits, increasing code order; 0101 and 1010 are the only non-uniform codes
    assert m4.tolist() == [0, 1, 2, 3, 4, 14, 5, 6, 7, 8, 14, 9, 10, 11, 12, 13]
    assert int(m8[0b11100001]) == 43                          # the ramp's code below
    with pytest.raises(InputValueError):
        uniform_mapping(17)


def test_lbptop_of_vertical_stripes_equals_the_hand_computed_histogram():
    # V(t, y, x) = x mod 2, 5 x 6 x 7, P = 4, R = 1: neighbours (x+1, y), (x, y-1), (x-1, y), (x, y+1).
    # even x (value 0): every neighbour >= 0 -> 1111 = 15 -> bin 13 (uniform);
    # odd x (value 1): x +- 1 are 0 -> bits 0 and 2 clear -> 1010 = 10 -> bin 14 (non-uniform).
    # Centres x = 1..5 (2 even, 3 odd); XT behaves as XY, YT sees a constant -> all 15.
    t, y, x = np.meshgrid(np.arange(5), np.arange(6), np.arange(7), indexing="ij")
    vol = (x % 2).astype(float)
    vals, names = lbp_top(vol, grid=(1, 1), radii=(1, 1, 1), neighbours=(4, 4, 4))
    hand = np.zeros((3, 15))
    hand[0, 13], hand[0, 14] = 2 / 5, 3 / 5
    hand[1, 13], hand[1, 14] = 2 / 5, 3 / 5
    hand[2, 13] = 1.0
    np.testing.assert_allclose(vals.reshape(3, 15), hand)
    assert names[0] == "lbptop:r0c0:XY:0" and names[-1] == "lbptop:r0c0:YT:14"
    # two blocks: columns 0-3 (centres x = 1, 2, 3) and 4-6 (x = 4, 5)
    vals2, _ = lbp_top(vol, grid=(1, 2), radii=(1, 1, 1), neighbours=(4, 4, 4))
    b = vals2.reshape(2, 3, 15)
    np.testing.assert_allclose(b[0, 0, 13:], [1 / 3, 2 / 3])
    np.testing.assert_allclose(b[1, 0, 13:], [1 / 2, 1 / 2])


def test_lbptop_of_a_ramp_with_interpolated_neighbours():
    # V = x + 10 y + 100 t, P = 8, R = 1 (diagonal neighbours bilinear): in every plane the sign of
    # g_p - g_c is that of cos(phi) * a - sin(phi) * b with b >> a > 0 -> bits 0, 5, 6, 7 -> 225.
    t, y, x = np.meshgrid(np.arange(5), np.arange(6), np.arange(7), indexing="ij")
    vals, _ = lbp_top((x + 10 * y + 100 * t).astype(float), grid=(1, 1), radii=(1, 1, 1))
    assert np.flatnonzero(vals).tolist() == [43, 59 + 43, 118 + 43] and np.allclose(vals[vals > 0], 1)
    const, _ = lbp_top(np.full((5, 6, 7), 0.3), grid=(1, 1), radii=(1, 1, 1))
    assert const[57] == 1.0                                   # flat: every bit set -> code 255 -> bin 57


def test_lbptop_errors():
    with pytest.raises(ShapeError, match="too small"):
        lbp_top(np.zeros((3, 8, 8)), radii=(1, 1, 2))
    with pytest.raises(ShapeError, match="coarser grid"):
        lbp_top(np.zeros((5, 8, 8)), grid=(8, 8))
    with pytest.raises(InputValueError):
        lbp_top(np.zeros((5, 8, 8)), radii=(1, 1))
    with pytest.raises(ShapeError):
        lbp_top(np.zeros((8, 8)))


def test_tim_is_the_path_graph_embedding():
    n = 7
    y = path_graph_embedding(n)
    lap = 2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
    lap[0, 0] = lap[-1, -1] = 1
    lam = 2 - 2 * np.cos(np.pi * np.arange(1, n) / n)
    np.testing.assert_allclose(lap @ y.T, y.T * lam, atol=1e-10)          # Laplacian eigenvectors
    np.testing.assert_allclose(y @ y.T, np.eye(n - 1), atol=1e-10)
    np.testing.assert_allclose(tim_matrix(n, n), np.eye(n), atol=1e-10)   # same length: the input
    np.testing.assert_allclose(tim_matrix(n, 11).sum(0), 1.0)


def test_tim_reproduces_a_sequence_on_its_cosine_curve():
    # pixels that follow one of the curve's components are interpolated exactly at new positions
    n, k, N = 9, 2, 15
    tau = np.arange(1, n + 1)
    pattern = np.random.default_rng(0).random((4, 5))
    frames = 0.5 + 0.2 * np.cos(np.pi * k * (tau - 0.5) / n)[:, None, None] * pattern
    new_tau = np.linspace(1, n, N)
    want = 0.5 + 0.2 * np.cos(np.pi * k * (new_tau - 0.5) / n)[:, None, None] * pattern
    np.testing.assert_allclose(resample_frames(frames, N), want, atol=1e-12)
    lin = resample_frames(np.arange(5.0), 9, method="linear")
    np.testing.assert_allclose(lin, np.arange(9) / 2)
    with pytest.raises(OptionError):
        resample_frames(frames, 5, method="cubic")
    with pytest.raises(InputValueError):
        resample_frames(frames, 1)


def test_lbptop_features_of_a_prepared_clip():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (9, 20, 20, 3), dtype=np.uint8)
    item = SimpleNamespace(frames=frames, onset=2, offset=7)
    grey = frames.astype(float) @ np.array([0.299, 0.587, 0.114]) / 255.0
    v, n = lbptop_features(item, n_frames=None, grid=(2, 2))
    np.testing.assert_array_equal(v, lbp_top(grey[2:8], grid=(2, 2))[0])
    v10, n10 = lbptop_features(item, grid=(2, 2))                            # TIM10
    np.testing.assert_array_equal(v10, lbp_top(resample_frames(grey[2:8], 10), grid=(2, 2))[0])
    assert len(n10) == 2 * 2 * 3 * 59 and n == n10
    with pytest.raises(InputValueError, match="magnif"):
        lbptop_features(item, magnified=True)


# ============================================================================ Bi-WOOF
def test_biwoof_of_a_known_flow_field():
    # 4 x 4 flow, 2 x 2 blocks, 8 bins (bin c covers [-pi + c pi/4, -pi + (c+1) pi/4)):
    # TL moves right (bin 4), strain 0.5 -> zeta 2; TR moves up (bin 2), strain 0.25 -> zeta 1;
    # BL: two pixels right by 1 (bin 4), two left by 3 (pi -> bin 0): h = (0.75 at 0, 0.25 at 4),
    # strain 1 -> zeta 4; BR still, strain 0.3 -> h = 0.  f = (2 e4 | e2 | 3 e0 + e4 | 0) / sqrt(15).
    flow = np.zeros((4, 4, 2))
    strain = np.zeros((4, 4))
    flow[:2, :2, 0] = 1.0
    strain[:2, :2] = 0.5
    flow[:2, 2:, 1] = -2.0
    strain[:2, 2:] = 0.25
    flow[2, :2, 0] = 1.0
    flow[3, :2, 0] = -3.0
    strain[2:, :2] = 1.0
    strain[2:, 2:] = 0.3
    v, names = biwoof(flow, strain, grid=(2, 2), bins=8)
    want = np.zeros((4, 8))
    want[0, 4], want[1, 2], want[2, 0], want[2, 4] = 2.0, 1.0, 3.0, 1.0
    np.testing.assert_allclose(v, want.ravel() / np.sqrt(15))
    assert names[8] == "biwoof:r0c1:0"


def test_biwoof_with_the_strain_of_the_flow():
    # u = a (x + 1) > 0 everywhere: orientation 0 (bin 4), strain exactly a (linear field);
    # every block has the same weight -> 0.5 at bin 4 of each of the 4 blocks
    a = 0.05
    flow = np.zeros((8, 8, 2))
    flow[..., 0] = a * (np.arange(8)[None, :] + 1)
    v, _ = biwoof(flow, grid=(2, 2))
    want = np.zeros((4, 8))
    want[:, 4] = 0.5
    np.testing.assert_allclose(v, want.ravel(), atol=1e-12)
    assert not biwoof(np.zeros((8, 8, 2)), grid=(2, 2))[0].any()          # no motion: zeros
    idx, mag = orientation_bins(np.array([[[0.0, 0.0], [-1.0, 0.0], [0.0, 1.0]]]), 8)
    assert idx.tolist() == [[4, 0, 6]] and mag.tolist() == [[0.0, 1.0, 1.0]]
    with pytest.raises(ShapeError):
        biwoof(np.zeros((2, 2, 2)), grid=(5, 5))


def _texture(size: int, seed: int) -> np.ndarray:
    from scipy import ndimage

    t = ndimage.gaussian_filter(np.random.default_rng(seed).random((size, size)), 1.5, mode="wrap")
    return (t - t.min()) / np.ptp(t)


def test_apex_flow_is_tvl1_on_the_aligned_crops_and_reuses_a_matching_flow():
    tex = _texture(48, 0)
    frames = np.stack([tex, tex, np.roll(tex, 1, axis=1)])                 # apex moved 1 px right
    frames = np.repeat((frames * 255).round().astype(np.uint8)[..., None], 3, axis=3)
    item = SimpleNamespace(frames=frames, onset=0, apex=2, offset=2, clip_key=("d", "s", "c"))
    assert BASELINE_FLOW["method"] == "tvl1"
    af = apex_flow(item)
    assert af.settings["method"] == "tvl1" and not af.settings["reused"] and af.clip_key == ("d", "s", "c")
    np.testing.assert_allclose(np.median(af.flow[12:-12, 12:-12], axis=(0, 1)), [1.0, 0.0], atol=0.1)
    from mxkit.flow import FLOW_DEFAULTS

    marker = np.full((3, 48, 48, 2), 7.0, np.float32)
    reused = apex_flow(SimpleNamespace(**item.__dict__, flow=marker,
                                       params={"flow": "tvl1", "flow_params": dict(FLOW_DEFAULTS["tvl1"])}))
    assert reused.settings["reused"] and np.all(reused.flow == 7.0)
    other = apex_flow(SimpleNamespace(**item.__dict__, flow=marker, params={"flow": "dis", "flow_params": {}}))
    assert not other.settings["reused"]
    mag = apex_flow(item, method="dis", magnify=True)
    assert mag.settings["magnify"]["alpha"] == 20.0
    v, _ = biwoof_features(item, grid=(2, 2))
    np.testing.assert_allclose(v, biwoof(af.flow, af.strain, grid=(2, 2))[0])
    with pytest.raises(InputValueError, match="distinct"):
        apex_flow(SimpleNamespace(frames=frames, onset=0, apex=0))


# ============================================================================ MDMO
def test_mdmo_rois_are_disjoint_cover_the_face_and_mirror():
    S = 96
    pts = place_template(output_size=S, face_scale=0.75)
    labels, names = mdmo_rois(pts, (S, S))
    assert names == tuple(n for n, _ in MDMO_ROIS) and len(names) == 18
    counts = np.bincount(labels[labels >= 0], minlength=18)
    assert (counts > 10).all()                                             # every ROI is there
    eye = np.round(pts[36:42].mean(0)).astype(int)
    assert labels[eye[1], eye[0]] == -1                                    # the eyes are left out
    # the mirrored face gives the mirrored ROIs, with right and left swapped
    mirrored = pts[list(MIRROR_68)].copy()
    mirrored[:, 0] = (S - 1) - mirrored[:, 0]
    lab_m, _ = mdmo_rois(mirrored, (S, S))
    for k, name in enumerate(names):
        twin = name.replace("right_", "@").replace("left_", "right_").replace("@", "left_")
        a = labels == k
        b = lab_m[:, ::-1] == names.index(twin)
        assert (a & b).sum() / (a | b).sum() > 0.8, name
    with pytest.raises(InputValueError, match="coincide"):
        mdmo_rois(np.zeros((68, 2)), (S, S))


def test_mdmo_of_a_known_flow_field():
    S = 96
    pts = place_template(output_size=S, face_scale=0.75)
    labels, names = mdmo_rois(pts, (S, S))
    a, b = names.index("right_inner_brow"), names.index("left_cheek")
    flow = np.zeros((S, S, 2))
    rows, cols = np.nonzero(labels == a)
    n60 = int(0.6 * len(rows))
    flow[rows[:n60], cols[:n60]] = (1.0, 0.0)      # 60 % move right: the main direction
    flow[rows[n60:], cols[n60:]] = (0.0, 3.0)      # 40 % move down (larger, but fewer)
    flow[labels == b] = (0.0, -2.0)                # the whole left cheek moves up
    v, n = mdmo(np.stack([flow, 2 * flow]), pts)
    # means over the 2 fields: ROI a (1.5, 0), ROI b (0, -3) -> rho 0.5 and 1 after normalisation
    want = np.zeros((18, 2))
    want[a] = (0.5, 0.0)
    want[b] = (1.0, -np.pi / 2)
    np.testing.assert_allclose(v.reshape(18, 2), want, atol=1e-12)
    assert n[2 * a] == "mdmo:right_inner_brow:rho"
    item = SimpleNamespace(flow=np.stack([np.zeros_like(flow), flow, 2 * flow]), onset=0, apex=2, offset=2,
                           landmarks=np.repeat(pts[None], 3, axis=0))
    np.testing.assert_allclose(mdmo_features(item)[0], v)
    np.testing.assert_allclose(mdmo_features(item, frames="apex")[0], mdmo(2 * flow, pts)[0])


# ============================================================================ flow CNNs
def _separable_flows(n_per_class: int, size: int = 28, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    flows, y = [], []
    for c in range(3):
        for _ in range(n_per_class):
            f = rng.normal(0, 0.05, (size, size, 2)).astype(np.float32)
            if c == 0:
                f[: size // 2, :, 0] += 1.0          # upper half moves right
            elif c == 1:
                f[size // 2:, :, 1] -= 1.0           # lower half moves up
            else:
                f[:, size // 2:, 0] -= 1.0           # right half moves left
            flows.append(f)
            y.append(c)
    return flows, np.asarray(y)


def test_flow_cnn_input_resizes_and_normalises():
    f = np.zeros((56, 56, 2), np.float32)
    f[:, :28, 0] = 2.0
    x = flow_cnn_input(f)
    assert x.shape == (3, 28, 28) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, :14], 1.0)
    np.testing.assert_allclose(x[0, :, 14:], 0.0)
    assert not x[1].any()                                                   # constant v -> 0
    raw = flow_cnn_input(f, channels=("u",), normalise="none")
    np.testing.assert_allclose(raw[0, :, :14], 1.0)                         # 2 px at 56 = 1 px at 28
    with pytest.raises(OptionError):
        flow_cnn_input(f, channels=("w",))
    assert flow_cnn_inputs([f, f], arch="offapexnet").shape == (2, 2, 28, 28)


@pytest.mark.parametrize("arch", ["ststnet", "offapexnet"])
def test_a_flow_cnn_overfits_a_tiny_separable_set(arch):
    flows, y = _separable_flows(4)
    X = flow_cnn_inputs(flows, arch=arch)
    net, per_epoch = train_flow_cnn(X, y, arch=arch, epochs=40, batch_size=12,
                                    lr=1e-2 if arch == "ststnet" else 1e-3, seed=0, X_eval=X)
    assert predict_flow_cnn(net, X).tolist() == y.tolist()
    assert len(per_epoch) == 40 and per_epoch[-1].tolist() == y.tolist()
    state = torch_state()
    again, _ = train_flow_cnn(X, y, arch=arch, epochs=2, seed=3)
    again2, _ = train_flow_cnn(X, y, arch=arch, epochs=2, seed=3)
    assert torch_state() == state                                           # caller's RNG untouched
    for p, q in zip(again.parameters(), again2.parameters(), strict=True):
        assert (p == q).all()                                               # seeded: reproducible


def torch_state():
    import torch

    return torch.random.get_rng_state().sum().item(), torch.random.initial_seed()


def test_cnn_fold_loop_never_trains_or_stops_on_the_test_subject(monkeypatch):
    import mxkit.eval.flownets as fn

    flows, y = _separable_flows(4, seed=1)
    X = flow_cnn_inputs(flows, arch="ststnet")
    groups = [("d", f"s{i % 4}") for i in range(len(y))]
    # stamp each sample's index in a corner pixel of its last channel, so that the patched trainer
    # can read which samples it was actually given
    X[:, 2, 0, 0] = np.arange(len(y)) + 10.0
    seen = []
    real = fn.train_flow_cnn

    def spy(Xf, yf, *, X_eval=None, **kw):
        seen.append((set(np.round(Xf[:, 2, 0, 0]).astype(int) - 10),
                     set() if X_eval is None else set(np.round(X_eval[:, 2, 0, 0]).astype(int) - 10)))
        return real(Xf, yf, X_eval=X_eval, **kw)

    monkeypatch.setattr(fn, "train_flow_cnn", spy)
    res = cnn_recognise(X, [str(c) for c in y], groups, classes=("0", "1", "2"), max_epochs=2, inner_splits=2)
    keys = np.asarray([f"{d}/{s}" for d, s in groups])
    fits = res.card["fits"]
    assert len(fits) == len(seen) == 4 * (2 + 1)                            # per fold: 2 inner + refit
    for rec, (trained, validated) in zip(fits, seen, strict=True):
        test = rec["fold"]
        assert sorted(set(keys[list(trained)])) == rec["train_subjects"]   # the record is what it saw
        assert sorted(set(keys[list(validated)])) == rec["validation_subjects"]
        assert test not in rec["train_subjects"] and test not in rec["validation_subjects"]
        assert not set(rec["train_subjects"]) & set(rec["validation_subjects"])
        if rec["stage"] == "refit":
            assert rec["train_subjects"] == sorted(set(keys) - {test})
    for test in sorted(set(keys)):
        inner = [r for r in fits if r["fold"] == test and r["stage"] != "refit"]
        assert sorted(s for r in inner for s in r["validation_subjects"]) == sorted(set(keys) - {test})
    assert (res.y_pred >= 0).all() and len(res.folds) == 4
    assert res.card["classifier"] == "ststnet" and "early stopping" in res.card["evaluation"]


def test_cnn_recognise_checks_its_input():
    flows, y = _separable_flows(2)
    X = flow_cnn_inputs(flows, arch="ststnet")
    with pytest.raises(ShapeError, match="channels"):
        cnn_recognise(X[:, :2], list(y), [("d", f"s{i}") for i in range(len(y))], arch="ststnet")
    with pytest.raises(InputValueError, match="3 subjects"):
        cnn_recognise(X, list(y), [("d", f"s{i % 2}") for i in range(len(y))])
    with pytest.raises(OptionError):
        cnn_recognise(X, list(y), [("d", f"s{i}") for i in range(len(y))], arch="resnet")


# ============================================================================ late fusion
def _toy(n_subjects: int = 5, per: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.tile(np.arange(3), n_subjects * per // 3)
    groups = [("d", f"s{i // per}") for i in range(len(y))]
    good = rng.normal(0, 0.3, (len(y), 4)) + np.eye(3, 4)[y] * 2.0
    noise = rng.normal(0, 1.0, (len(y), 6))
    return [str(v) for v in y], groups, good, noise


def test_decision_scores_rank_like_predict():
    _, _, good, _ = _toy()
    y = np.tile(np.arange(3), 10)
    for name in ("linear_svm", "logreg", "random_forest", "mlp"):
        clf = make_classifier(name, 4, seed=0).fit(good, y)                 # class 3 never trained
        s = clf.decision_scores(good)
        assert s.shape == (30, 4) and (s.argmax(1) == clf.predict(good)).all(), name
    two = make_classifier("linear_svm", 2).fit(good[:20], (y[:20] > 0).astype(int))
    assert (two.decision_scores(good).argmax(1) == two.predict(good)).all()


def test_late_fusion_known_answers():
    labels, groups, good, noise = _toy()
    classes = ("0", "1", "2")
    alone = recognise(good, labels, groups, classes=classes)
    twice = late_fusion({"a": good, "b": good.copy()}, labels, groups, classes=classes)
    np.testing.assert_array_equal(twice.y_pred, alone.y_pred)              # same block twice = the block
    weighted = late_fusion({"a": good, "b": noise}, labels, groups, classes=classes, weights={"a": 1, "b": 0})
    np.testing.assert_array_equal(weighted.y_pred, alone.y_pred)           # zero weight = absent
    both = late_fusion({"good": good, "noise": noise}, labels, groups, classes=classes)
    assert both.metrics["UF1"] > 0.8 and both.card["fusion"]["blocks"] == {"good": 4, "noise": 6}
    assert both.card["fusion"]["weights"] == {"good": 0.5, "noise": 0.5}
    assert len(both.card["fusion"]["standardisation"]) == 5 * 2            # per fold and block
    with pytest.raises(InputValueError, match="two"):
        late_fusion({"a": good}, labels, groups)
    with pytest.raises(ShapeError):
        late_fusion({"a": good, "b": noise[:-1]}, labels, groups)
    with pytest.raises(InputValueError, match="weight"):
        late_fusion({"a": good, "b": noise}, labels, groups, weights={"a": 1})


# ============================================================================ statistics
def test_fast_metrics_match_the_reference_formulas():
    rng = np.random.default_rng(0)
    for policy in ("exclude", "zero"):
        for _ in range(100):
            n = int(rng.integers(1, 9))
            t, p = rng.integers(0, 3, n), rng.integers(0, 3, n)
            ref = classification_metrics(t, p, classes=["a", "b", "c"], empty_class=policy)
            fast = _confusion_metrics(_onehot_pairs(t, p, 3).sum(0).reshape(1, 3, 3), policy)[0]
            np.testing.assert_allclose(fast, [ref[k] for k in ("UF1", "UAR", "WF1", "ACC")])


def _result(y_true, y_pred, subjects, classes=("a", "b", "c")):
    subjects = tuple(subjects)
    return RecognitionResult(classes=classes, sample_ids=tuple(str(i) for i in range(len(y_true))),
                             subjects=subjects, datasets=tuple(s.split("/")[0] for s in subjects),
                             y_true=np.asarray(y_true), y_pred=np.asarray(y_pred), card={"empty_class": "exclude"},
                             metrics=classification_metrics(np.asarray(y_true), np.asarray(y_pred), classes=classes))


def test_bootstrap_over_subjects_known_answers():
    perfect = _result([0, 1, 2, 0, 1, 2], [0, 1, 2, 0, 1, 2], ["d/a"] * 3 + ["d/b"] * 3)
    ci = bootstrap_intervals(perfect, n_boot=200)
    assert (ci[["value", "low", "high"]] == 1.0).all().all() and set(ci["metric"]) == {"UF1", "UAR", "WF1", "ACC"}
    # subject a all right, b all wrong: a replicate's ACC is 0, 1/2 or 1 with probabilities 1/4, 1/2, 1/4
    half = _result([0, 1, 0, 1], [0, 1, 1, 0], ["d/a", "d/a", "d/b", "d/b"], classes=("a", "b"))
    acc = bootstrap_intervals(half, metrics=("ACC",), n_boot=4000, seed=1).iloc[0]
    assert acc["value"] == 0.5 and acc["low"] == 0.0 and acc["high"] == 1.0
    # a composite resamples within each dataset and reports each part
    comp = _result([0, 1, 0, 1, 0, 1], [0, 1, 0, 1, 1, 0], ["x/a", "x/a", "x/b", "x/b", "y/c", "y/c"],
                   classes=("a", "b"))
    t = bootstrap_intervals(comp, metrics=("ACC",), n_boot=500)
    assert t["subset"].tolist() == ["all", "x", "y"]
    assert t.set_index("subset").loc["x", "high"] == 1.0 and t.set_index("subset").loc["y", "high"] == 0.0
    assert t.set_index("subset").loc["all", "n_subjects"] == 3
    assert t.set_index("subset").loc["all", "high"] <= 4 / 6                # y's subject is always drawn
    with pytest.raises(OptionError):
        bootstrap_intervals(perfect, metrics=("AUC",))


def test_paired_permutation_known_answers():
    rng = np.random.default_rng(0)
    subjects = np.repeat([f"d/s{i:02d}" for i in range(20)], 6)
    truth = rng.integers(0, 3, len(subjects))
    a = _result(truth, truth, subjects)
    b = _result(truth, rng.integers(0, 3, len(subjects)), subjects)
    same = paired_permutation_test(a, _result(truth, truth.copy(), subjects))
    assert same.p_value == 1.0 and same.difference == 0.0
    few = subjects < "d/s08"
    a8 = _result(truth[few], truth[few], subjects[few])
    exact_same = paired_permutation_test(a8, a8, n_permutations=256)
    assert exact_same.exact and exact_same.n_permutations == 256 and exact_same.p_value == 1.0
    sep = paired_permutation_test(a, b, n_permutations=2000)
    assert sep.difference > 0.4 and sep.p_value < 0.01 and not sep.exact
    # 2 subjects, a right everywhere, b wrong everywhere: d* over the 4 swap patterns is
    # 1, 0, 0, -1 -> exact p = 2 / 4; with 3 subjects 2 / 8
    t2 = np.array([0, 1, 0, 1])
    two = paired_permutation_test(_result(t2, t2, ["d/a", "d/a", "d/b", "d/b"], ("a", "b")),
                                  _result(t2, 1 - t2, ["d/a", "d/a", "d/b", "d/b"], ("a", "b")), metric="ACC")
    assert two.exact and two.n_permutations == 4 and two.p_value == 0.5
    t3 = np.array([0, 1, 0, 1, 0, 1])
    s3 = ["d/a", "d/a", "d/b", "d/b", "d/c", "d/c"]
    three = paired_permutation_test(_result(t3, t3, s3, ("a", "b")), _result(t3, 1 - t3, s3, ("a", "b")),
                                    metric="ACC")
    assert three.p_value == 0.25 and three.to_dataframe()["n_units"].item() == 3
    by_sample = paired_permutation_test(_result(t3, t3, s3, ("a", "b")), _result(t3, 1 - t3, s3, ("a", "b")),
                                        metric="ACC", unit="sample")
    assert by_sample.n_units == 6 and by_sample.p_value == 2 / 64
    with pytest.raises(InputValueError, match="paired"):
        paired_permutation_test(a, _result(truth, truth, subjects[::-1]))


# ============================================================================ protocols, published figures
def _clips(dataset: str, emotions: dict[str, int], per_subject: int = 7) -> ClipSet:
    frames = np.zeros((3, 4, 4, 3), np.uint8)
    out, i = [], 0
    for emotion, n in emotions.items():
        for _ in range(n):
            out.append(Clip(dataset=dataset, subject=f"{i // per_subject:03d}", clip_id=f"c{i}", frames=frames,
                            fps=200, onset=0, apex=1, offset=2, emotion=emotion))
            i += 1
    return ClipSet(out)


def test_samm_5class_and_smic_3class_protocols():
    samm = _clips("samm", {"Anger": 57, "Contempt": 12, "Happiness": 26, "Surprise": 15, "Other": 26,
                           "Disgust": 9, "Fear": 8, "Sadness": 6})
    out = samm.map_classes("samm-5class")
    card = out.protocol_card
    assert card["n_samples"] == 136 and card["n_excluded"] == 23
    assert card["class_counts"] == {"anger": 57, "contempt": 12, "happiness": 26, "surprise": 15, "other": 26}
    assert sum(card["excluded_by_reason"].values()) == 23
    smic = _clips("smic", {"negative": 70, "positive": 51, "surprise": 43}, per_subject=11)
    sc = smic.map_classes("smic-3class").protocol_card
    assert sc["n_samples"] == 164 and sc["n_excluded"] == 0
    assert sc["class_counts"] == {"negative": 70, "positive": 51, "surprise": 43}
    assert get_protocol("samm-5class").datasets == ("samm",)
    with pytest.raises(InputValueError):
        smic.map_classes("samm-5class")


def test_published_figures_are_kept_apart_and_sourced():
    t = reported_recognition(protocol="megc2019-3class")
    assert set(t["source"]) == {REPORTED_SOURCE} and t["reference"].str.contains("arXiv").all()
    row = t.set_index(["method", "subset", "metric"])["value"]
    assert row[("LBP-TOP", "all", "UF1")] == 0.5882 and row[("Bi-WOOF", "all", "UAR")] == 0.6227
    assert row[("OFF-ApexNet", "all", "UF1")] == 0.7196 and row[("STSTNet", "all", "UAR")] == 0.7605
    assert row[("HTNet", "casme2", "UF1")] == 0.9532 and row[("HTNet", "smic", "UAR")] == 0.7905
    sun = reported_recognition(methods=["Sun et al. (3D reconstruction)"])
    assert sorted(sun["value"]) == [0.447, 0.5332, 0.5686]
    assert "mxkit" not in set(reported_recognition()["source"])


def test_the_megc_composite_is_scored_overall_and_per_part():
    subjects = ["casme2/sub01"] * 3 + ["casme2/sub02"] * 2 + ["samm/006"] * 3 + ["smic/s1"] * 4
    truth = [0, 1, 2, 0, 0, 0, 1, 2, 0, 1, 2, 2]
    pred = [0, 1, 1, 0, 2, 0, 1, 2, 1, 1, 2, 0]
    r = _result(truth, pred, subjects, classes=("negative", "positive", "surprise"))
    r.card.update(protocol="megc2019-3class", n_excluded=2, excluded_by_reason={"x": 2})
    import pandas as pd

    r = RecognitionResult(**{**r.__dict__, "folds": pd.DataFrame(
        [{"UF1": 0.5, "UAR": 0.5, "WF1": 0.5, "ACC": 0.5}, {"UF1": 1.0, "UAR": 1.0, "WF1": 1.0, "ACC": 1.0}])})
    t = evaluation_table(r)
    pooled = t[t["aggregation"] == "pooled"].set_index(["subset", "metric"])
    assert list(dict.fromkeys(t["subset"])) == ["all", "casme2", "samm", "smic"]
    ds = np.asarray([s.split("/")[0] for s in subjects])
    for part in ("casme2", "samm", "smic"):
        sel = ds == part
        ref = classification_metrics(np.asarray(truth)[sel], np.asarray(pred)[sel], classes=["n", "p", "s"])
        assert pooled.loc[(part, "UF1"), "value"] == pytest.approx(ref["UF1"]) and pooled.loc[(part, "UF1"), "n"] == sel.sum()
    assert set(t.loc[t["headline"], "metric"]) == {"UF1", "UAR"}
    assert t[t["aggregation"] == "fold_mean"].set_index("metric").loc["UF1", "value"] == 0.75
    card = evaluation_card(r)
    assert card["class_counts"] == {"negative": 5, "positive": 3, "surprise": 4}
    assert card["class_counts_by_dataset"]["smic"] == {"negative": 1, "positive": 1, "surprise": 2}
    assert card["n_subjects"] == 4 and card["n_excluded"] == 2 and "pooled" in card["aggregation"]["primary"]
    with pytest.raises(InputValueError, match="smic"):
        evaluation_table(_result(truth[:8], pred[:8], subjects[:8]), protocol="megc2019-3class")


# ============================================================================ the dispatch layer
def _prepared_set(n_subjects: int = 4, per: int = 3, S: int = 48):
    """Prepared-like clips whose class decides where the face moves, and their labelled ClipSet."""
    pts = place_template(output_size=S, face_scale=0.75)
    rng = np.random.default_rng(5)
    items, clips = [], []
    classes = ("up", "right", "still")
    for s in range(n_subjects):
        tex = _texture(S, s)
        for k in range(per):
            cls = classes[k % 3]
            T = 5
            flow = np.zeros((T, S, S, 2), np.float32)
            frames = np.repeat(tex[None], T, axis=0)
            for t in range(1, T):
                amp = min(t, 4 - t + 2) / 2.0
                if cls == "up":
                    flow[t, : S // 2, :, 1] = -amp
                    frames[t, : S // 2] = np.roll(tex, -int(round(amp)), axis=0)[: S // 2]
                elif cls == "right":
                    flow[t, S // 2:, :, 0] = amp
                    frames[t, S // 2:] = np.roll(tex, int(round(amp)), axis=1)[S // 2:]
            frames = frames + rng.normal(0, 0.01, frames.shape)
            u8 = np.repeat((np.clip(frames, 0, 1) * 255).round().astype(np.uint8)[..., None], 3, axis=3)
            from mxkit.flow import optical_strain

            key = ("d", f"s{s}", f"c{k}")
            items.append(SimpleNamespace(clip_key=key, frames=u8, onset=0, apex=2, offset=4, fps=200.0,
                                         flow=flow, strain=optical_strain(flow), landmarks=np.repeat(pts[None], T, 0),
                                         params={"flow": "dis", "flow_params": {}}))
            clips.append(Clip(dataset="d", subject=key[1], clip_id=key[2], frames=u8, fps=200, onset=0, apex=2,
                              offset=4, emotion=cls))
    proto = Protocol("toy3", classes=classes, mapping={"d": {c: c for c in classes}})
    return items, ClipSet(clips).map_classes(proto)


def test_baselines_dispatch_on_a_labelled_clipset():
    items, labelled = _prepared_set()
    flows = [SimpleNamespace(flow=it.flow[it.apex], strain=it.strain[it.apex], settings={}, clip_key=it.clip_key)
             for it in items]                                               # the known apex flow
    for kind, opts in (("biwoof", {"grid": (2, 2)}), ("mdmo", {})):
        res = baseline_recognise_clips(labelled, items, kind, feature_options=opts, flows=flows, grid={})
        assert res.metrics["UF1"] == 1.0, kind                              # the motion decides the class
        assert res.card["protocol"] == "toy3"
    lbp = baseline_recognise_clips(labelled, items, "lbptop", feature_options={"grid": (2, 2), "n_frames": 5})
    assert lbp.card["feature_set"].startswith("LBP-TOP[TIM5") and lbp.card["n_features"] == 2 * 2 * 3 * 59
    cnn = baseline_recognise_clips(labelled, items, "ststnet", flows=flows, max_epochs=2, inner_splits=2)
    assert len(cnn.card["fits"]) == 4 * 3 and (cnn.y_pred >= 0).all()
    fs = baseline_feature_matrix(items, "mdmo")
    assert fs.values.shape == (12, 36) and fs.keys[0] == ("d", "s0", "c0")
    with pytest.warns(DeprecationWarning, match="'kind' is deprecated; use 'baseline'"):
        old = baseline_feature_matrix(items, kind="mdmo")                  # the old keyword still works
    np.testing.assert_array_equal(old.values, baseline_feature_matrix(items, baseline="mdmo").values)
    np.testing.assert_array_equal(old.values, fs.values)
    fused = late_fusion_clips(labelled, {"mdmo": fs, "lbptop": baseline_feature_matrix(
        items, "lbptop", options={"grid": (2, 2), "n_frames": 5})}, grid={})
    assert fused.metrics["UF1"] >= 0.9
    with pytest.raises(InputValueError, match="order"):
        baseline_recognise_clips(labelled, items[::-1], "mdmo")
    with pytest.raises(OptionError):
        baseline_recognise_clips(labelled, items, "hog")
    assert len(apex_flows(items[:1], method="dis")) == 1
