"""Per-frame reconstruction errors with known answers (motion_error_map, error_over_time)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from mxkit.errors import InputValueError, OptionError, ShapeError
from mxkit.eval import (
    error_over_time,
    evaluate_reconstruction,
    face_mask,
    micro_motion_error,
    motion_error_map,
    vertex_error_map,
)
from mxkit.geometry import axis_angle_to_matrix


@dataclass
class _Rec:
    vertices: np.ndarray
    vertices_coarse: np.ndarray
    onset: int
    apex: int
    offset: int
    fps: float = 100.0
    variant: str = "full"
    clip_key: tuple = ("synth", "s1", "c1")


def _sequence(seed: int = 0, T: int = 7, V: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.repeat(rng.normal(scale=0.05, size=(1, V, 3)), T, axis=0)
    truth[:, :V // 2, 2] += np.linspace(0, 0.002, T)[:, None]          # half the mesh moves 2 mm
    pred = truth + rng.normal(scale=2e-4, size=truth.shape)
    return pred, truth


def test_motion_error_map_known_answers():
    pred, truth = _sequence()
    onset, apex = 1, 4
    m = motion_error_map(pred, truth, onset=onset)
    assert m.shape == pred.shape[:2]
    assert np.allclose(m[onset], 0.0)
    for norm in ("l1", "l2"):
        mk = motion_error_map(pred, truth, onset=onset, norm=norm)
        assert mk[apex].mean() == pytest.approx(micro_motion_error(pred, truth, onset=onset, apex=apex,
                                                                   norm=norm))
    # a rigid motion of the prediction as a whole is removed by the onset alignment
    R = axis_angle_to_matrix(torch.tensor([0.05, -0.1, 0.2], dtype=torch.float64)).numpy()
    moved = truth @ R.T + 0.01
    assert np.allclose(motion_error_map(moved, truth, onset=0), 0.0, atol=1e-9)
    # without alignment a 3 mm shift of frame 2 only is a 1 mm per-coordinate L1 ...
    shifted = truth.copy()
    shifted[2] += (0.003, 0.0, 0.0)
    m = motion_error_map(shifted, truth, onset=0, align="none")
    assert np.allclose(m[2], 1.0) and np.allclose(np.delete(m, 2, axis=0), 0.0)
    # ... and a 3 mm Euclidean error
    assert np.allclose(motion_error_map(shifted, truth, onset=0, align="none", norm="l2")[2], 3.0)


def test_motion_error_map_rejects_bad_inputs():
    pred, truth = _sequence()
    with pytest.raises(ShapeError):
        motion_error_map(pred[:, :5], truth, onset=0)
    with pytest.raises(InputValueError):
        motion_error_map(pred, truth, onset=len(pred))
    with pytest.raises(OptionError):
        motion_error_map(pred, truth, onset=0, norm="l3")
    with pytest.warns(DeprecationWarning, match="'kind' is deprecated; use 'norm'"):
        old = motion_error_map(pred, truth, onset=0, kind="l2")
    np.testing.assert_array_equal(old, motion_error_map(pred, truth, onset=0, norm="l2"))


def test_error_over_time_matches_the_clip_metrics(mh_head):
    rng = np.random.default_rng(1)
    T = 6
    base = mh_head.v_template.detach().double().numpy()
    truth = np.repeat(base[None], T, axis=0)
    mouth = np.asarray(mh_head.region_mask("mouth"), dtype=bool)
    truth[:, mouth, 1] += np.array([0, 0, 0.3, 0.7, 1.0, 0.5])[:, None] * 1e-3
    pred = truth + rng.normal(scale=1e-4, size=truth.shape)
    coarse = np.repeat(truth[1:2], T, axis=0)                               # no motion at all
    rec = _Rec(vertices=pred, vertices_coarse=coarse, onset=1, apex=4, offset=5)
    table = error_over_time(rec, truth, mh_head, metrics=("vertex_l1", "vertex_l2", "motion_l1",
                                                          "motion_l2", "motion_true", "motion_pred"))
    assert len(table) == 6 * T
    assert set(table.columns) >= {"clip", "variant", "mesh", "frame", "time_ms", "phase", "metric", "value", "unit"}
    one = table[table["metric"] == "motion_l1"].set_index("frame")
    assert one.loc[1, "value"] == 0.0 and one.loc[1, "phase"] == "onset"
    assert list(one["phase"]) == ["neutral", "onset", "rise", "rise", "apex", "offset"]
    assert one["time_ms"].tolist() == [-10.0, 0.0, 10.0, 20.0, 30.0, 40.0]
    # the clip-level metrics of evaluate_reconstruction: mean over frames / value at the apex
    clip = evaluate_reconstruction(rec, truth, mh_head, regions=False, aus=None, meshes=("fine",))

    def series(metric):
        return table[table["metric"] == metric].sort_values("frame")["value"].to_numpy()

    assert series("vertex_l1").mean() == pytest.approx(clip.value("vertex_l1"), rel=1e-9)
    assert series("vertex_l2").mean() == pytest.approx(clip.value("vertex_l2"), rel=1e-9)
    assert series("motion_l1")[4] == pytest.approx(clip.value("micro_motion_l1"), rel=1e-9)
    assert series("motion_l2")[4] == pytest.approx(clip.value("micro_motion_l2"), rel=1e-9)
    assert series("motion_true")[4] == pytest.approx(clip.value("motion_true"), rel=1e-9)
    assert series("motion_pred")[4] == pytest.approx(clip.value("motion_pred"), rel=1e-9)
    # the per-vertex map averaged over the face mask is the curve
    w = face_mask(mh_head)
    assert np.allclose(vertex_error_map(pred, truth, norm="l1", mask=w)[:, w].mean(1), series("vertex_l1"))
    # the true motion: mouth share of the face mask times 1 mm at the apex
    share = (mouth & w).sum() / w.sum()
    assert series("motion_true")[4] == pytest.approx(share * 1.0, rel=1e-9)
    # the coarse mesh does not move: its motion error is the true motion
    c = error_over_time(rec, truth, mh_head, metrics=("motion_l2", "motion_true"), mesh="coarse")
    assert np.allclose(c.loc[c["metric"] == "motion_l2", "value"], c.loc[c["metric"] == "motion_true", "value"])
    assert set(c["mesh"]) == {"coarse"} and set(c["variant"]) == {"full"} and set(c["clip"]) == {"c1"}


def test_error_over_time_on_arrays_and_bad_options():
    pred, truth = _sequence(T=4)
    t = error_over_time(pred, truth, metrics=("motion_true",), mask=None)
    assert t["frame"].tolist() == [0, 1, 2, 3]
    assert all(math.isnan(x) for x in t["time_ms"])
    assert t["value"].iloc[-1] == pytest.approx(1.0)                        # half the vertices x 2 mm
    with pytest.raises(OptionError):
        error_over_time(pred, truth, metrics=("nme",), mask=None)
    with pytest.raises(OptionError):
        error_over_time(pred, truth, mesh="both", mask=None)
    with pytest.raises(InputValueError):
        error_over_time(pred, truth, metrics=(), mask=None)
    with pytest.raises(InputValueError):
        error_over_time(pred, truth)                                        # 'face' needs the model
    with pytest.raises(ShapeError):
        error_over_time(pred[:2], truth, mask=None)
