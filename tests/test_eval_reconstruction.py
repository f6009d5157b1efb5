"""Reconstruction metrics with known answers (mxkit.eval.reconstruction)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from mxkit.errors import InputValueError, OptionError, ShapeError
from mxkit.eval import (
    TABLE_COLUMNS,
    aggregate_metrics,
    displacement_field,
    evaluate_reconstruction,
    face_mask,
    flow_consistency_error,
    landmark_nme,
    micro_motion_error,
    micro_motion_table,
    noise_floor,
    region_weights,
    rigid_align,
    signal_to_noise,
    vertex_error_map,
    vertex_errors,
)
from mxkit.geometry import axis_angle_to_matrix
from mxkit.morph import FaceModel
from mxkit.testing import toy_face_model

N = 6  # grid side: 36 vertices


def grid_model() -> FaceModel:
    """The toy grid of ``mxkit.testing`` (6x6, 10 cm wide, zero bases) with regions left /
    right / other (top row), a soft AU12 mask and 68 landmarks."""
    verts = toy_face_model(N, n_identity=0).v_template.numpy()
    top = verts[:, 1] == verts[:, 1].max()                            # top row: 'other'
    left = (verts[:, 0] > 0) & ~top
    au12 = np.zeros(N * N)
    au12[left] = 0.5
    au12[0] = 1.0                                                      # one 'right' vertex at full weight
    return toy_face_model(N, n_identity=0, scale=0.0, n_landmarks=68, au_masks={"AU12": au12},
                          regions={"left": left, "right": ~left & ~top, "other": top})


@pytest.fixture(scope="module")
def model() -> FaceModel:
    return grid_model()


def rigid(x: np.ndarray, rotvec=(0.1, -0.3, 0.2), shift=(0.01, -0.02, 0.005)) -> np.ndarray:
    R = axis_angle_to_matrix(torch.tensor(rotvec, dtype=torch.float64)).numpy()
    return x @ R.T + np.asarray(shift)


def sequence(model: FaceModel, T: int = 6, *, bump_mm: float = 0.0, onset: int = 2, apex: int = 4,
             region: str = "left") -> np.ndarray:
    """(T, V, 3) static template with a z bump of ``bump_mm`` on ``region`` at the apex."""
    base = model.v_template.numpy()
    x = np.repeat(base[None], T, axis=0).copy()
    x[apex, model.region_mask(region), 2] += bump_mm / 1000.0
    return x


# --------------------------------------------------------------------------- alignment, vertex errors
def test_rigid_motion_has_zero_error_after_alignment(model):
    truth = sequence(model, bump_mm=2.0)
    pred = rigid(truth)
    for align in ("frame", "clip"):
        errs = vertex_errors(pred, truth, align=align)
        assert all(v < 1e-9 for v in errs.values()), (align, errs)
    assert vertex_errors(pred, truth, align="none")["vertex_l2"] > 1.0
    # a different rigid motion per frame is removed by 'frame' but not by 'clip'
    per_frame = np.stack([rigid(truth[t], rotvec=(0.02 * t, 0, 0)) for t in range(len(truth))])
    assert vertex_errors(per_frame, truth, align="frame")["vertex_l2"] < 1e-9
    assert vertex_errors(per_frame, truth, align="clip")["vertex_l2"] > 0.01
    np.testing.assert_allclose(rigid_align(torch.as_tensor(pred), truth), truth, atol=1e-12)


def test_vertex_error_definitions_known_answer():
    truth = np.zeros((2, 4, 3))
    pred = truth.copy()
    pred[:, 0] = (0.003, 0.004, 0.0)                                   # 5 mm, |.|_1 = 7 mm
    errs = vertex_errors(pred, truth, align="none")
    assert errs["vertex_l1"] == pytest.approx(7 / 3 / 4)               # per-coordinate mean
    assert errs["vertex_l2"] == pytest.approx(5 / 4)                   # mean Euclidean
    assert errs["vertex_rmse"] == pytest.approx(np.sqrt(25 / 4))
    emap = vertex_error_map(pred, truth, align="none")
    assert emap.shape == (2, 4) and emap[0, 0] == pytest.approx(5.0)
    assert vertex_error_map(pred, truth, align="none", norm="l1")[1, 0] == pytest.approx(7 / 3)
    w = np.array([1.0, 1.0, 0.0, 0.0])
    assert vertex_errors(pred, truth, align="none", weights=w)["vertex_l2"] == pytest.approx(2.5)


def test_vertex_errors_accept_tensors_and_single_frames():
    x = torch.zeros(5, 3, dtype=torch.float32)
    y = x.clone()
    y[:, 2] = 0.001
    assert vertex_errors(y, x, align="none")["vertex_l2"] == pytest.approx(1.0, rel=1e-6)
    assert vertex_errors(y, x, align="frame")["vertex_l2"] == pytest.approx(0.0, abs=1e-6)


# --------------------------------------------------------------------------- micro-motion
def test_local_bump_gives_known_per_region_micro_motion_error(model):
    truth = sequence(model, bump_mm=2.0)                               # truth moves 'left' by 2 mm
    pred = rigid(sequence(model))                                      # prediction does not move
    regions = region_weights(model, aus=["AU12"])
    table = micro_motion_table(pred, truth, onset=2, apex=4, regions=regions)
    val = table.set_index(["region", "metric"])["value"]
    n_left = int(model.region_mask("left").sum())
    assert val["left", "micro_motion_l2"] == pytest.approx(2.0)
    assert val["left", "micro_motion_l1"] == pytest.approx(2.0 / 3)
    assert val["right", "micro_motion_l2"] == pytest.approx(0.0, abs=1e-9)
    assert val["all", "micro_motion_l2"] == pytest.approx(2.0 * n_left / model.n_vertices)
    # AU12: weight 0.5 on each 'left' vertex (error 2 mm) and 1.0 on one 'right' vertex (0 mm)
    assert val["AU12", "micro_motion_l2"] == pytest.approx(0.5 * n_left * 2.0 / (0.5 * n_left + 1.0))
    assert val["left", "motion_true"] == pytest.approx(2.0)
    assert val["left", "motion_pred"] == pytest.approx(0.0, abs=1e-9)
    mm = table[~table["metric"].isin(["active_rel_error", "amplitude_ratio", "motion_cosine", "active_vertices"])]
    assert set(mm["unit"]) == {"mm"}
    # the active rows: only 'left' moves, the prediction does not -> the no-motion answers
    assert val["left", "active_rel_error"] == pytest.approx(1.0) and val["all", "active_rel_error"] == pytest.approx(1.0)
    assert val["AU12", "active_vertices"] == n_left and val["left", "amplitude_ratio"] == 0.0
    assert ("right", "active_rel_error") not in val.index                # nothing moves there
    # the functional form agrees; a perfect prediction has zero error
    assert micro_motion_error(pred, truth, onset=2, apex=4, weights=model.region_mask("left")) == pytest.approx(2.0)
    assert micro_motion_error(rigid(truth), truth, onset=2, apex=4) == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(displacement_field(truth, onset=2, apex=4)[model.region_mask("left"), 2], 0.002)


def test_onset_alignment_counts_a_spurious_rigid_drift(model):
    truth = sequence(model)
    pred = truth.copy()
    pred[4] = rigid(truth[4], rotvec=(0, 0, 0), shift=(0.0, 0.0, 0.001))  # 1 mm drift at the apex
    assert micro_motion_error(pred, truth, onset=2, apex=4) == pytest.approx(1.0)
    assert micro_motion_error(pred, truth, onset=2, apex=4, align="frame") == pytest.approx(0.0, abs=1e-9)


# --------------------------------------------------------------------------- landmarks, flow
def test_landmark_nme_known_answer():
    q = np.zeros((3, 68, 2))
    q[:, 45] = (40.0, 0.0)                                             # IOD 40 px
    p = q + (0.0, 2.0)                                                 # 2 px off everywhere
    assert landmark_nme(p, q) == pytest.approx(0.05)
    np.testing.assert_allclose(landmark_nme(p, q, per_frame=True), [0.05] * 3)
    with pytest.raises(InputValueError, match="inter-ocular"):
        landmark_nme(p, np.zeros((3, 68, 2)))


def test_flow_consistency_known_answer():
    T, V, H, W = 4, 5, 16, 16
    rng = np.random.default_rng(0)
    start = rng.uniform(3, 12, (V, 2))
    P = np.stack([start + (0.5 * t, -0.25 * t) for t in range(T)])    # uniform motion
    flow = np.zeros((T, H, W, 2))
    flow[..., 0] = 0.5 * np.arange(T)[:, None, None]
    flow[..., 1] = -0.25 * np.arange(T)[:, None, None]
    assert flow_consistency_error(P, flow, onset=0) == pytest.approx(0.0, abs=1e-6)
    # zero flow: error = |motion| averaged over t = 1..3
    mag = np.hypot(0.5, 0.25)
    assert flow_consistency_error(P, np.zeros_like(flow), onset=0) == pytest.approx(mag * 2.0, rel=1e-6)
    assert flow_consistency_error(P, np.zeros_like(flow), onset=0, frames=[1]) == pytest.approx(mag, rel=1e-6)
    # a vertex off the image is ignored
    P_off = P.copy()
    P_off[:, 0] = (-50.0, -50.0)
    assert flow_consistency_error(P_off, flow, onset=0) == pytest.approx(0.0, abs=1e-6)


# --------------------------------------------------------------------------- jitter, SNR
def test_noise_floor_known_answers(model):
    T, onset, apex, a = 8, 6, 7, 0.0002                                # +-0.2 mm alternating jitter
    x = np.repeat(model.v_template.numpy()[None], T, axis=0).copy()
    x[:onset, :, 0] += a * (-1.0) ** np.arange(onset)[:, None]
    n = onset
    assert noise_floor(x, onset=onset) == pytest.approx(0.2 * np.sqrt(n / (n - 1)))
    assert noise_floor(x, onset=onset, method="diff") == pytest.approx(0.2 * np.sqrt(2))
    x[apex, model.region_mask("left"), 2] += 0.001                    # 1 mm at the apex
    w = model.region_mask("left")
    assert signal_to_noise(x, onset=onset, apex=apex, weights=w) == pytest.approx(   # onset frame: no jitter
        1.0 / (0.2 * np.sqrt(n / (n - 1))))
    with pytest.raises(InputValueError, match="at least 2"):
        noise_floor(x, onset=1)


def test_noise_floor_estimates_white_noise():
    rng = np.random.default_rng(0)
    sigma = 0.0001
    x = rng.normal(0, sigma, (50, 400, 3))
    for method in ("mean", "diff"):
        assert noise_floor(x, neutral=slice(0, 50), method=method) == pytest.approx(np.sqrt(3) * 0.1, rel=0.03)


# --------------------------------------------------------------------------- regions
def test_face_mask_and_region_weights(model):
    assert face_mask(model, "all").all()
    fm = face_mask(model)
    assert fm.sum() == N * (N - 1) and not fm[model.region_mask("other")].any()
    w = region_weights(model, mask=fm, aus=["AU12"])
    assert list(w) == ["all", "left", "right", "AU12"]                 # 'other' is empty inside the mask
    with pytest.raises(OptionError):
        face_mask(model, "nose")


# --------------------------------------------------------------------------- per clip
@dataclass
class StubCoarse:
    """Projects model-frame points with u = 1000 x + 32, v = -1000 y + 32 (px)."""

    expression: torch.Tensor = field(default_factory=lambda: torch.zeros(1, dtype=torch.float64))

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def project(self, points: torch.Tensor) -> torch.Tensor:
        return torch.stack([1000 * points[..., 0] + 32, -1000 * points[..., 1] + 32], -1)


@dataclass
class StubRecon:
    vertices: Any
    vertices_coarse: Any
    clip_key: tuple = ("synth", "s01", "c1")
    onset: int = 2
    apex: int = 4
    variant: str = "full"
    coarse: Any = None


@dataclass
class StubTruth:
    verts: np.ndarray
    aus: dict = field(default_factory=lambda: {"AU12": 0.3})

    def vertices(self, model):
        return self.verts


def test_evaluate_reconstruction_with_stand_ins(model):
    truth = StubTruth(sequence(model, bump_mm=2.0))
    fine = torch.as_tensor(rigid(truth.verts))                         # perfect up to a rigid motion
    coarse = sequence(model)                                           # misses the bump
    res = evaluate_reconstruction(StubRecon(fine, coarse), truth, model)
    t = res.to_dataframe()
    assert tuple(t.columns) == TABLE_COLUMNS
    assert set(t["mesh"]) == {"fine", "coarse"} and set(t["variant"]) == {"full"}
    assert {"all", "left", "right", "AU12"} <= set(t["region"]) and "other" not in set(t["region"])
    assert res.value("micro_motion_l2") == pytest.approx(0.0, abs=1e-9)
    assert res.value("vertex_l2", region="left") == pytest.approx(0.0, abs=1e-9)
    assert res.value("micro_motion_l2", region="left", mesh="coarse") == pytest.approx(2.0)
    assert res.value("noise_floor", mesh="coarse") == 0.0
    assert res.summary()["vertex_l1"] == pytest.approx(0.0, abs=1e-6)
    assert res.settings["aus"] == ["AU12"] and res.settings["neutral_frames"] == [0, 1]
    with pytest.raises(InputValueError, match="no 'landmark_nme'"):
        res.value("landmark_nme")


def test_evaluate_reconstruction_landmarks_and_flow(model):
    truth = StubTruth(sequence(model))
    T = len(truth.verts)
    recon = StubRecon(truth.verts, truth.verts, coarse=StubCoarse())
    target = StubCoarse().project(model.landmarks(torch.as_tensor(truth.verts), "ibug68")).numpy()

    @dataclass
    class Prepared:
        flow: np.ndarray
        landmarks: np.ndarray

    res = evaluate_reconstruction(recon, truth, model, prepared=Prepared(np.zeros((T, 64, 64, 2)), target),
                                  meshes=("fine",))
    assert res.value("landmark_nme") == pytest.approx(0.0, abs=1e-9)
    assert res.value("flow_consistency") == pytest.approx(0.0, abs=1e-9)
    assert res.table.loc[res.table["metric"] == "flow_consistency", "unit"].iloc[0] == "px"
    assert "mouth" in set(res.table.loc[res.table["metric"] == "landmark_nme", "region"])


def test_aggregate_per_subject_and_dataset(model):
    truth = StubTruth(sequence(model, bump_mm=2.0))
    coarse = sequence(model)
    runs = [evaluate_reconstruction(StubRecon(coarse, coarse, clip_key=k), truth, model, meshes=("fine",))
            for k in [("synth", "s01", "a"), ("synth", "s01", "b"), ("synth", "s02", "a")]]
    # make clip (s01, b) perfect by replacing its table values
    tb = runs[1].table.copy()
    tb.loc[tb["metric"] == "micro_motion_l2", "value"] = 0.0
    tables = [runs[0].table, tb, runs[2].table]
    sel = lambda df: df[(df["region"] == "left") & (df["metric"] == "micro_motion_l2")]  # noqa: E731
    by_clip = sel(aggregate_metrics(tables, by="dataset"))
    assert by_clip["mean"].iloc[0] == pytest.approx(4.0 / 3) and by_clip["n"].iloc[0] == 3
    by_subj = sel(aggregate_metrics(tables, by="dataset", weight="subject"))
    assert by_subj["mean"].iloc[0] == pytest.approx((1.0 + 2.0) / 2) and by_subj["n"].iloc[0] == 2
    per_subject = sel(aggregate_metrics(pd.concat(tables), by="subject"))
    assert per_subject.set_index("subject")["mean"].to_dict() == pytest.approx({"s01": 1.0, "s02": 2.0})
    with pytest.raises(InputValueError):
        aggregate_metrics(pd.DataFrame({"value": [1.0]}))


def test_bad_inputs(model):
    x = sequence(model)
    with pytest.raises(ShapeError):
        vertex_errors(x, x[:, :5])
    with pytest.raises(ShapeError):
        vertex_errors(x[..., :2], x[..., :2])
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(InputValueError, match="NaN"):
        vertex_errors(bad, x)
    with pytest.raises(InputValueError, match="apex"):
        micro_motion_error(x, x, onset=0, apex=99)
    with pytest.raises(OptionError):
        vertex_errors(x, x, align="similarity")
    with pytest.raises(ShapeError):
        evaluate_reconstruction(StubRecon(x[:, :5], x[:, :5]), StubTruth(x), model)


def test_importing_eval_is_light():
    code = ("import sys, mxkit.eval\n"
            "heavy = [m for m in ('sklearn', 'seaborn', 'matplotlib', 'plotly', 'cv2') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- SynthME oracle
def test_oracle_reconstruction_of_a_synthme_clip(mh_head):
    from mxkit.data import Clip
    from mxkit.data.synth import generate_subject, plan_clip
    from mxkit.eval import oracle_reconstruction, reconstruction_features

    truth = plan_clip(generate_subject(seed=0, paint=False, model=mh_head), expression_type="micro",
                      emotion="happiness", seed=0, model=mh_head)
    on, ap, off = (truth.meta[k] for k in ("onset", "apex", "offset"))
    clip = Clip(dataset="casme2", subject="sub01", clip_id="EP01", frames=np.zeros((truth.n_frames, 2, 2, 3), np.uint8),
                fps=200, onset=on, apex=ap, offset=off, ground_truth=truth)
    oracle = oracle_reconstruction(clip, mh_head)
    assert oracle.variant == "oracle" and oracle.clip_key == clip.key
    res = evaluate_reconstruction(oracle, truth, mh_head)
    assert res.value("vertex_l2") == pytest.approx(0.0, abs=1e-6)
    assert res.value("micro_motion_l2") == pytest.approx(0.0, abs=1e-6)
    # the coarse mesh lacks exactly the fine-detail field: its micro-motion error is that field's
    # apex - onset change, |profile[apex] - profile[onset]| * |detail_v|, averaged over the face
    mask = face_mask(mh_head)
    step = abs(float(truth.detail_profile[ap] - truth.detail_profile[on]))
    expected = step * np.linalg.norm(truth.detail.astype(np.float64), axis=1)[mask].mean() * 1000
    assert res.value("micro_motion_l2", mesh="coarse") == pytest.approx(expected, rel=1e-3)
    assert expected > 0 and {"AU6", "AU12"} <= set(res.table["region"])
    values, names = reconstruction_features(oracle, mh_head)
    assert len(values) == len(names) and np.isfinite(values).all()
    with pytest.raises(InputValueError, match="ground truth"):
        oracle_reconstruction(clip.replace(ground_truth=None), mh_head)
