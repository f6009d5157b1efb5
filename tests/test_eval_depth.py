"""Depth consistency (mxkit.eval.depth) with known answers on SynthME depth: exact depth gives
zero error, a known sensor noise gives its noise floor, a known displacement gives its depth
change, a misplaced mesh is realigned exactly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from mxkit.data.synth import generate_subject, plan_clip, render_depth
from mxkit.errors import InputValueError, ShapeError
from mxkit.eval import (
    DEPTH_METRICS,
    DEPTH_TABLE_COLUMNS,
    camera_from_weak_perspective,
    depth_consistency,
    depth_noise_floor,
)
from mxkit.geometry import axis_angle_to_matrix
from mxkit.render import Camera, project

SQRT_2_PI = np.sqrt(2 / np.pi)


class Recon:
    """The Reconstruction contract the metric reads: vertices (T, V, 3), onset, apex."""

    def __init__(self, vertices, onset, apex):
        self.vertices, self.onset, self.apex = vertices, onset, apex


@pytest.fixture(scope="module")
def clip(mh_head):
    subject = generate_subject(seed=1, image_size=128, texture_size=256, model=mh_head, paint=False)
    return plan_clip(subject, expression_type="micro", emotion="happiness", seed=2, fps=30, model=mh_head, baseline_s=0.1)


@pytest.fixture(scope="module")
def static(clip):
    """The same face without expression, detail or head motion (a still scene)."""
    T = clip.n_frames
    return dataclasses.replace(clip, expression=np.zeros_like(clip.expression), detail_profile=np.zeros(T),
                               rotation=np.repeat(clip.rotation[:1], T, 0),
                               translation=np.repeat(clip.translation[:1], T, 0))


def truth_recon(truth, model):
    return Recon(truth.vertices(model), truth.meta["onset"], truth.meta["apex"])


def run(truth, recon, depth, model, **kw):
    return depth_consistency(recon, depth, model=model, camera=truth.camera,
                             pose=(truth.rotation, truth.translation), **kw)


def camera_frame(truth):
    """Functions to and from the camera frame of a truth with a static pose."""
    R0 = axis_angle_to_matrix(torch.tensor(truth.rotation[0], dtype=torch.float64)).numpy()
    t0 = truth.translation[0].astype(np.float64)
    cam = truth.camera

    def to(x):
        return (x @ R0.T + t0) @ cam.R.T + cam.t

    def back(X):
        return ((X - cam.t) @ cam.R - t0) @ R0

    return to, back


def test_exact_depth_gives_zero_error(clip, mh_head):
    depth = render_depth(clip, model=mh_head)
    res = run(clip, truth_recon(clip, mh_head), depth, mh_head)
    t = res.table
    assert list(t.columns) == list(DEPTH_TABLE_COLUMNS) and t.metric.unique().tolist() == list(DEPTH_METRICS)
    assert t.region.unique().tolist()[:2] == ["face", "forehead"] and (t.unit == "mm").all()
    errors = t[t.metric.isin(["depth_error", "depth_error_onset", "depth_error_apex", "change_error"])]
    assert errors.value.max() < 1e-3 and (errors.n_pixels > 0).all()
    face = t[t.region == "face"].set_index("metric")
    assert face.loc["change_recon", "value"] == pytest.approx(face.loc["change_measured", "value"], abs=1e-3)
    mouth = t[t.region == "mouth"].set_index("metric")
    assert mouth.loc["change_measured", "value"] > 0.1  # the smile moves the mouth region (measured)
    assert res.alignment["scale"] == pytest.approx(1.0, abs=1e-6) and res.alignment["rms_mm"] < 1e-3
    assert res.neutral == tuple(range(clip.meta["onset"])) and res.rendered_depth.shape == depth.shape
    assert res.noise_floor_mm["face"] < 0.2  # head motion only: no sensor noise
    assert res.summary()["depth_error"] < 1e-3


def test_known_noise_gives_its_noise_floor(static, mh_head):
    sigma = 1.5
    depth = render_depth(static, model=mh_head, noise_mm=sigma)
    res = run(static, truth_recon(static, mh_head), depth, mh_head)
    face = res.table[res.table.region == "face"].set_index("metric")
    assert res.noise_floor_mm["face"] == pytest.approx(sigma, rel=0.03)
    assert (face.noise_floor_mm == res.noise_floor_mm["face"]).all()  # beside every number
    # a perfect reconstruction reads what the noise alone makes each metric read
    assert face.loc["depth_error", "value"] == pytest.approx(sigma * SQRT_2_PI, rel=0.03)
    assert face.loc["depth_error", "noise_level_mm"] == pytest.approx(face.noise_floor_mm.iloc[0] * SQRT_2_PI)
    assert face.loc["change_error", "value"] == pytest.approx(2 * sigma / np.sqrt(np.pi), rel=0.05)
    assert abs(face.loc["change_measured", "value"]) < 4 * face.loc["change_measured", "noise_level_mm"]
    alone = depth_noise_floor(depth, onset=static.meta["onset"])
    assert alone == pytest.approx(sigma, rel=0.03)


def test_noise_floor_under_head_motion(mh_head):
    """Second differences over 8 neutral frames: a smooth head motion barely inflates sigma."""
    subject = generate_subject(seed=3, image_size=128, texture_size=256, model=mh_head, paint=False)
    moving = plan_clip(subject, expression_type="micro", seed=13, fps=30, model=mh_head, baseline_s=0.25)
    assert moving.meta["onset"] >= 7 and np.abs(moving.rotation).max() > 0
    res = run(moving, truth_recon(moving, mh_head), render_depth(moving, model=mh_head, noise_mm=1.0), mh_head)
    assert res.noise_floor_mm["face"] == pytest.approx(1.0, rel=0.06)


def test_known_displacement_gives_known_depth_change(static, mh_head):
    depth = render_depth(static, model=mh_head)
    on, ap = static.meta["onset"], static.meta["apex"]
    to, back = camera_frame(static)
    k = 1 + 2.0 / 800  # the forehead moves 2.5 per mille away along every pixel's ray (~2 mm)
    v = static.vertices(mh_head).astype(np.float64)
    fore = mh_head.region_mask("forehead")
    X = to(v[ap])
    X[fore] *= k
    v[ap] = back(X)
    res = run(static, Recon(v, on, ap), depth, mh_head)
    val = res.table.set_index(["region", "metric"])["value"]
    i = res.regions.index("forehead")
    pix = (res.region_map[on] == i) & (res.region_map[ap] == i) & np.isfinite(depth[on])
    expected = (k - 1) * float(np.nanmean(res.rendered_depth[on][pix]))  # at a pixel: (k - 1) D
    assert expected == pytest.approx(2.0, rel=0.05)
    assert val["forehead", "change_recon"] == pytest.approx(expected, rel=0.05)
    assert val["forehead", "change_measured"] == 0.0  # the scene is still
    assert val["forehead", "change_error"] == pytest.approx(val["forehead", "change_recon"], rel=1e-6)
    assert abs(val["chin", "change_recon"]) < 1e-3 and abs(val["mouth", "change_recon"]) < 1e-3
    assert val["face", "depth_error_onset"] < 1e-3  # the onset (where it is aligned) is untouched


@pytest.mark.parametrize("move", ["scale", "depth+scale", "in-plane", "rotation"])
def test_a_misplaced_mesh_is_realigned_on_the_onset(static, mh_head, move):
    depth = render_depth(static, model=mh_head)
    to, back = camera_frame(static)
    X = to(static.vertices(mh_head).astype(np.float64))
    c = X.mean(axis=(0, 1))
    R = axis_angle_to_matrix(torch.tensor([0.02, -0.03, 0.01], dtype=torch.float64)).numpy()
    moved = {"scale": X * 1.02, "depth+scale": X * 1.02 + [0, 0, 0.004], "in-plane": X + [0.002, -0.001, 0],
             "rotation": (X - c) @ R.T + c}[move]
    res = run(static, Recon(back(moved), static.meta["onset"], static.meta["apex"]), depth, mh_head)
    assert res.value("depth_error") < 1e-3
    if move == "scale":
        assert res.alignment["scale"] == pytest.approx(1 / 1.02, rel=1e-6)


def test_camera_from_weak_perspective_places_the_origin():
    cam = camera_from_weak_perspective((500.0, 510.0, 64.0, 60.0), scale=600.0, t2d=(70.0, 50.0),
                                       image_size=(128, 128))
    px = project(np.array([[0.0, 0.0, 0.0], [0.01, 0.0, 0.0]]), cam).pixels
    np.testing.assert_allclose(px[0], [70.0, 50.0], atol=1e-9)
    assert px[1, 0] - px[0, 0] == pytest.approx(6.0 * 500 / 505, rel=1e-3)  # ~ scale px/m near the origin


def test_bad_inputs_are_typed_errors(clip, mh_head):
    depth = render_depth(clip, model=mh_head)
    rec = truth_recon(clip, mh_head)
    with pytest.raises(ShapeError, match="frames"):
        run(clip, rec, depth[:-1], mh_head)
    with pytest.raises(ShapeError, match="camera's image"):
        run(clip, rec, depth[:, :64], mh_head)
    ortho = dataclasses.replace(clip, camera=Camera.frontal(128, projection="orthographic"))
    with pytest.raises(InputValueError, match="perspective"):
        run(ortho, rec, depth, mh_head)
    with pytest.raises(InputValueError, match="at least 2 neutral frames"):
        run(clip, rec, depth, mh_head, neutral=[0])
    far = dataclasses.replace(clip, translation=clip.translation + np.array([5.0, 0, 0], np.float32))
    with pytest.raises(InputValueError, match="covers 0 pixels"):
        run(far, rec, depth, mh_head)
    with pytest.raises(InputValueError, match="unknown region"):
        run(clip, rec, depth, mh_head, regions=["elbow"])
    with pytest.raises(InputValueError, match="apex"):
        depth_consistency(Recon(rec.vertices, 3, None), depth, model=mh_head, camera=clip.camera)
