"""mxkit.camera: the one weak-perspective projection, against the formulas it replaced."""

from __future__ import annotations

import math

import pytest
import torch

import mxkit.camera as cam
from mxkit.camera import (
    backproject,
    camera_rotation,
    flip_camera_frame,
    plane_projection,
    project_points,
    to_metric,
    weak_perspective,
    weak_perspective_matrix,
)
from mxkit.errors import ShapeError
from mxkit.geometry import axis_angle_to_matrix

F64 = torch.float64


def _pose(T: int, seed: int, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    X = (torch.randn(T, 50, 3, generator=g, dtype=F64) * 0.08).to(dtype)
    om = (torch.randn(T, 3, generator=g, dtype=F64) * 0.3).to(dtype)
    s = (800.0 + 200.0 * torch.rand(T, generator=g, dtype=F64)).to(dtype)
    c = (100.0 + 20.0 * torch.randn(T, 2, generator=g, dtype=F64)).to(dtype)
    return X, om, s, c


# The formulas as they stood in render/camera.py, fit/result.py, fit/coarse.py and
# nets/features.py before they became one (kept verbatim as references).
def _old_render_weak_perspective(points, scale, R, t2d):
    xy = torch.matmul(points, R[:, :2, :].transpose(-1, -2))
    return scale[:, None, None] * xy + t2d[:, None, :]


def _old_camera_rotation(rotation):
    R = axis_angle_to_matrix(rotation)
    return torch.tensor((1.0, -1.0, -1.0), dtype=R.dtype)[:, None] * R


def _old_coarse_project(X, om, logs, t):
    R = axis_angle_to_matrix(om)
    A = torch.exp(logs)[:, None, None] * R[:, :2, :]
    A = A * A.new_tensor([1.0, -1.0])[None, :, None]
    return X @ A.transpose(-1, -2) + t[:, None, :]


def _old_features_project_points(points, rotation, scale, t2d, distance=math.inf):
    Y = points @ rotation.transpose(-1, -2)
    d = float(distance)
    k = torch.ones_like(Y[..., 2]) if math.isinf(d) else d / (d - Y[..., 2])
    uv = torch.stack([Y[..., 0], -Y[..., 1]], -1) * k[..., None]
    return scale[:, None, None] * uv + t2d[:, None, :]


class TestOneProjection:
    @pytest.mark.parametrize("dtype, atol", [(F64, 1e-10), (torch.float32, 2e-3)])
    def test_equals_every_old_formula_on_random_input(self, dtype, atol):
        X, om, s, c = _pose(7, 0, dtype)
        R = axis_angle_to_matrix(om)
        ref = _old_features_project_points(X, R, s, c)
        close = dict(rtol=0.0, atol=atol)
        torch.testing.assert_close(project_points(X, R, s, c), ref, rtol=0.0, atol=0.0)
        torch.testing.assert_close(weak_perspective(X, s, camera_rotation(om), c), ref, **close)
        torch.testing.assert_close(_old_render_weak_perspective(X, s, _old_camera_rotation(om), c),
                                   ref, **close)
        torch.testing.assert_close(camera_rotation(om), _old_camera_rotation(om), rtol=0.0, atol=0.0)
        logs = torch.log(s)
        torch.testing.assert_close(X @ weak_perspective_matrix(R, torch.exp(logs)).transpose(-1, -2) + c[:, None],
                                   _old_coarse_project(X, om, logs, c), rtol=0.0, atol=0.0)
        torch.testing.assert_close(_old_coarse_project(X, om, torch.log(s), c), ref, **close)
        for d in (0.6, 2.0):
            torch.testing.assert_close(project_points(X, R, s, c, d),
                                       _old_features_project_points(X, R, s, c, d), rtol=0.0, atol=0.0)

    def test_known_pixels(self):
        # frontal head, 100 px/m, origin at (50, 40): +x right, +y up in the image
        X = torch.tensor([[[0.1, 0.2, 0.3]]], dtype=F64)
        out = project_points(X, torch.eye(3, dtype=F64)[None], torch.tensor([100.0], dtype=F64),
                             torch.tensor([[50.0, 40.0]], dtype=F64))
        assert out.tolist() == [[[60.0, 20.0]]]
        # a 90 degree yaw turns +z (toward the camera) into +x
        R = axis_angle_to_matrix(torch.tensor([[0.0, math.pi / 2, 0.0]], dtype=F64))
        out = project_points(torch.tensor([[[0.0, 0.0, 0.1]]], dtype=F64), R,
                             torch.tensor([100.0], dtype=F64), torch.zeros(1, 2, dtype=F64))
        torch.testing.assert_close(out, torch.tensor([[[10.0, 0.0]]], dtype=F64))
        # perspective: a point 0.1 m nearer a camera 0.5 m away is magnified 0.5 / 0.4
        out = project_points(torch.tensor([[[0.1, 0.0, 0.1]]], dtype=F64), torch.eye(3, dtype=F64)[None],
                             torch.tensor([100.0], dtype=F64), torch.zeros(1, 2, dtype=F64), 0.5)
        torch.testing.assert_close(out, torch.tensor([[[12.5, 0.0]]], dtype=F64))

    def test_coarse_fit_and_synthetic_clip_use_it(self):
        from mxkit.fit import CoarseFit
        from mxkit.fit.synthetic import make_landmark_model, project_parameters

        model = make_landmark_model()
        T = 3
        _, om, s, c = _pose(T, 1)
        expr = torch.zeros(T, model.n_expressions, dtype=model.v_template.dtype)
        ident = torch.zeros(model.n_identity, dtype=model.v_template.dtype)
        lm = project_parameters(model, ident, expr, om, s, c)
        verts = model(ident[None].expand(T, -1), expr)
        ref = _old_render_weak_perspective(model.landmarks(verts), s.to(verts), _old_camera_rotation(om.to(verts)),
                                           c.to(verts))
        torch.testing.assert_close(lm, ref, rtol=0.0, atol=1e-3)                # float32 model, px
        zero = torch.zeros(T, dtype=lm.dtype)
        fit = CoarseFit(identity=ident, expression=expr, rotation=om.to(lm), scale=s.to(lm), t2d=c.to(lm),
                        landmarks=lm, target=lm, weights=torch.ones(T, lm.shape[1], dtype=lm.dtype),
                        error_px=zero, error_nme=zero, loss_history=torch.zeros(1, dtype=lm.dtype),
                        model=model)
        torch.testing.assert_close(fit.project(model.landmarks(fit.vertices)), ref, rtol=0.0, atol=1e-3)

    def test_weak_perspective_checks_and_broadcasts(self):
        X, om, s, c = _pose(2, 2)
        one = weak_perspective(X, s[:1], camera_rotation(om[:1])[0], c[0])    # (3, 3), (2,) broadcast
        torch.testing.assert_close(one, project_points(X, axis_angle_to_matrix(om[:1]).expand(2, 3, 3),
                                                       s[:1].expand(2), c[:1].expand(2, 2)))
        with pytest.raises(ShapeError):
            weak_perspective(X, torch.ones(3, dtype=F64), camera_rotation(om), c)

    def test_flip_is_its_own_inverse_and_frontal_is_diag(self):
        R = axis_angle_to_matrix(torch.randn(4, 3, dtype=F64))
        torch.testing.assert_close(flip_camera_frame(flip_camera_frame(R)), R, rtol=0.0, atol=0.0)
        torch.testing.assert_close(camera_rotation(torch.zeros(1, 3))[0],
                                   torch.diag(torch.tensor([1.0, -1.0, -1.0])))

    def test_inverse_of_the_projection(self):
        X, om, s, c = _pose(3, 3)
        R = axis_angle_to_matrix(om)
        px = project_points(X, R, s, c)
        torch.testing.assert_close(backproject(px, R, s, c), plane_projection(X, R))
        # a known image motion of 10 px right at 1000 px/m is 1 cm along the head's x (frontal)
        d = to_metric(torch.tensor([[[10.0, 0.0]]], dtype=F64), torch.eye(3, dtype=F64)[None],
                      torch.tensor([1000.0], dtype=F64))
        torch.testing.assert_close(d, torch.tensor([[[0.01, 0.0, 0.0]]], dtype=F64))

    def test_old_homes_re_export_the_one_implementation(self):
        import mxkit.fit
        import mxkit.nets
        import mxkit.nets.features
        import mxkit.render
        import mxkit.render.camera

        assert mxkit.render.weak_perspective is mxkit.render.camera.weak_perspective is cam.weak_perspective
        assert mxkit.fit.camera_rotation is cam.camera_rotation
        for name in ("backproject", "plane_projection", "project_points", "to_metric", "register_rigid",
                     "estimate_distance"):
            assert getattr(mxkit.nets, name) is getattr(mxkit.nets.features, name) is getattr(cam, name)
