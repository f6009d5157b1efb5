"""Rotation conversions, Procrustes and rigid alignment, vertex normals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mxkit.errors import InputValueError, OptionError, ShapeError
from mxkit.geometry import (
    SimilarityTransform,
    apply_similarity,
    axis_angle_to_matrix,
    euler_to_matrix,
    matrix_to_axis_angle,
    matrix_to_euler,
    procrustes,
    rigid_align,
    vertex_normals,
)
from mxkit.testing import assert_close, cube_mesh, grid_mesh


class TestRotations:
    def test_values(self):
        R = axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2], dtype=torch.float64))
        expected = torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]], dtype=torch.float64)
        torch.testing.assert_close(R, expected)

    def test_orthogonal_det_one_and_round_trip(self, generator):
        aa = torch.randn(100, 3, generator=generator, dtype=torch.float64)
        aa = aa / aa.norm(dim=1, keepdim=True) * torch.rand(100, 1, generator=generator, dtype=torch.float64) * 3.0
        R = axis_angle_to_matrix(aa)
        eye = torch.eye(3, dtype=torch.float64).expand(100, 3, 3)
        torch.testing.assert_close(R @ R.transpose(1, 2), eye)
        torch.testing.assert_close(torch.linalg.det(R), torch.ones(100, dtype=torch.float64))
        torch.testing.assert_close(matrix_to_axis_angle(R), aa)

    def test_zero_rotation_gradient_is_finite(self):
        aa = torch.zeros(1, 3, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(axis_angle_to_matrix, (aa,))

    def test_gradcheck(self, generator):
        aa = torch.randn(2, 3, generator=generator, dtype=torch.float64).requires_grad_()
        assert torch.autograd.gradcheck(axis_angle_to_matrix, (aa,))

    def test_euler_matches_axis_angle_about_one_axis(self):
        for axis in range(3):
            v = torch.zeros(3, dtype=torch.float64)
            v[axis] = 0.4
            torch.testing.assert_close(euler_to_matrix(v), axis_angle_to_matrix(v))

    def test_matrix_to_euler_inverts_euler_to_matrix(self, generator):
        angles = (torch.rand(200, 3, generator=generator, dtype=torch.float64) * 2 - 1) \
            * torch.tensor([math.pi, math.pi / 2, math.pi], dtype=torch.float64) * 0.999
        torch.testing.assert_close(matrix_to_euler(euler_to_matrix(angles)), angles)
        torch.testing.assert_close(matrix_to_euler(euler_to_matrix(torch.tensor([0.1, 0.2, 0.3]))),
                                   torch.tensor([0.1, 0.2, 0.3]))
        for yaw in (math.pi / 2, -math.pi / 2):           # gimbal lock: the rotation is kept
            R = euler_to_matrix(torch.tensor([0.3, yaw, 0.2], dtype=torch.float64))
            torch.testing.assert_close(euler_to_matrix(matrix_to_euler(R)), R)

    def test_bad_shape(self):
        with pytest.raises(ShapeError, match="axis_angle"):
            axis_angle_to_matrix(torch.zeros(4))


class TestProcrustes:
    @pytest.mark.parametrize("allow_scale", [False, True])
    def test_recovers_known_transform(self, generator, allow_scale):
        src = torch.randn(2, 50, 3, generator=generator, dtype=torch.float64)
        R = axis_angle_to_matrix(torch.tensor([[0.3, -0.2, 0.5], [-1.0, 0.1, 0.2]], dtype=torch.float64))
        t = torch.tensor([[0.1, 0.2, 0.3], [-1.0, 0.0, 2.0]], dtype=torch.float64)
        s = torch.tensor([1.5, 0.7], dtype=torch.float64) if allow_scale else torch.ones(2, dtype=torch.float64)
        dst = apply_similarity(src, SimilarityTransform(R, t, s))
        T = procrustes(src, dst, allow_scale=allow_scale)
        torch.testing.assert_close(T.R, R)
        torch.testing.assert_close(T.t, t)
        torch.testing.assert_close(T.scale, s)

    def test_never_returns_reflection(self, generator):
        src = torch.randn(30, 3, generator=generator, dtype=torch.float64)
        dst = src * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)  # mirror image
        T = procrustes(src, dst)
        assert torch.linalg.det(T.R) == pytest.approx(1.0)

    def test_mismatched(self):
        with pytest.raises(ShapeError):
            procrustes(torch.zeros(5, 3), torch.zeros(6, 3))


# ----------------------------------------------------------------------------- vertex normals
class TestVertexNormals:
    def test_plane_points_along_its_normal_and_flips_with_the_winding(self):
        plane = grid_mesh(4, width=3.0, z=0.7)                                 # ccw from +z
        v, f = plane.vertices, plane.faces
        n = vertex_normals(v, f)
        assert isinstance(n, np.ndarray) and n.dtype == np.float64
        np.testing.assert_array_equal(n, plane.vertex_normals)
        np.testing.assert_array_equal(vertex_normals(v, f[:, ::-1]), -plane.vertex_normals)

    def test_cube_corners_are_diagonal_and_face_centres_axial(self):
        cube = cube_mesh()
        v, f = cube.vertices, cube.faces
        n = vertex_normals(v, f)
        assert_close(n, cube.vertex_normals, atol=1e-15, rtol=0.0, what="cube vertex normals")
        assert_close(n[8:], 2.0 * v[8:], atol=1e-15, rtol=0.0, what="face-centre normals")  # +-0.5 e_i
        # the tensor path: same numbers, batched, float32 kept, differentiable
        t = vertex_normals(torch.tensor(np.stack([v, 2 * v])), torch.tensor(f))
        assert torch.is_tensor(t) and t.shape == (2, len(v), 3)
        torch.testing.assert_close(t[0].numpy(), n, rtol=0.0, atol=1e-15)
        torch.testing.assert_close(t[1].numpy(), n, rtol=0.0, atol=1e-15)   # scale-free
        assert vertex_normals(torch.tensor(v, dtype=torch.float32), f).dtype == torch.float32
        x = torch.tensor(v + 0.01 * np.random.default_rng(0).normal(size=v.shape), requires_grad=True)
        assert torch.autograd.gradcheck(lambda p: vertex_normals(p, f), (x,), fast_mode=True)

    def test_unused_vertex_is_zero_and_bad_faces_raise(self):
        cube = cube_mesh()
        v, f = cube.vertices, cube.faces
        n = vertex_normals(np.vstack([v, [[3.0, 3.0, 3.0]]]), f)
        np.testing.assert_array_equal(n[-1], 0.0)
        with pytest.raises(InputValueError, match="outside"):
            vertex_normals(v, f + len(v))
        with pytest.raises(InputValueError, match="integer"):
            vertex_normals(v, f.astype(float))
        with pytest.raises(InputValueError, match="NaN"):
            vertex_normals(np.full((3, 3), np.nan), [[0, 1, 2]])
        with pytest.raises(ShapeError):
            vertex_normals(v[:, :2], f)

    def test_every_public_home_is_the_one_implementation(self):
        import mxkit.meshio
        import mxkit.nets
        import mxkit.nets.graph
        import mxkit.render
        from mxkit.render.raster import _kernels

        cube = cube_mesh()
        v, f = cube.vertices, cube.faces
        assert mxkit.nets.vertex_normals is mxkit.nets.graph.vertex_normals is vertex_normals
        ref = vertex_normals(v, f)
        for fn in (mxkit.meshio.vertex_normals, mxkit.render.vertex_normals):
            out = fn(torch.tensor(v), f)                  # a tensor in, an ndarray out (as before)
            assert isinstance(out, np.ndarray)
            np.testing.assert_array_equal(out, ref)
        inplace = np.empty_like(v)                        # the renderer's compiled twin
        _kernels().vertex_normals_into(np.ascontiguousarray(v), f.astype(np.int32), inplace)
        np.testing.assert_allclose(inplace, ref, rtol=0.0, atol=1e-15)


# ----------------------------------------------------------------------------- rigid_align
class TestRigidAlign:
    @staticmethod
    def _motions(T, generator):
        R = axis_angle_to_matrix(0.4 * torch.randn(T, 3, generator=generator, dtype=torch.float64))
        t = torch.randn(T, 3, generator=generator, dtype=torch.float64)
        return R, t

    def test_per_frame_undoes_a_different_motion_in_every_frame(self, generator):
        target = torch.randn(4, 20, 3, generator=generator, dtype=torch.float64)
        R, t = self._motions(4, generator)
        source = target @ R.transpose(1, 2) + t[:, None]
        torch.testing.assert_close(rigid_align(source, target), target)
        # one transform for the whole clip cannot undo four different ones
        assert float((rigid_align(source, target, per="clip") - target).abs().max()) > 0.05

    def test_per_clip_and_reference_with_a_shared_motion_and_a_drift(self, generator):
        target = torch.randn(3, 20, 3, generator=generator, dtype=torch.float64)
        R, t = self._motions(1, generator)
        source = target @ R[0].T + t[0]
        torch.testing.assert_close(rigid_align(source, target, per="clip"), target)
        drift = torch.tensor([0.0, 0.002, 0.0], dtype=torch.float64)
        source[2] += drift                                          # a rigid drift at frame 2
        out = rigid_align(source, target, per="reference", reference=0)
        torch.testing.assert_close(out[:2], target[:2])
        torch.testing.assert_close(out[2], target[2] + drift @ R[0])  # the drift is kept: R^T d
        torch.testing.assert_close(rigid_align(source, target, per="reference", reference=-3), out)

    def test_weights_scale_gradient_and_errors(self, generator):
        target = torch.randn(2, 12, 3, generator=generator, dtype=torch.float64)
        R, t = self._motions(2, generator)
        source = 1.5 * target @ R.transpose(1, 2) + t[:, None]
        torch.testing.assert_close(rigid_align(source, target, allow_scale=True), target)
        noisy = source.clone()
        noisy[:, :3] += 1.0                                         # outliers with zero weight
        w = np.ones(12, dtype=bool)
        w[:3] = False
        out = rigid_align(noisy, target, weights=w, allow_scale=True)
        torch.testing.assert_close(out[:, 3:], target[:, 3:])
        x = source.clone().requires_grad_(True)
        assert torch.autograd.gradcheck(lambda p: rigid_align(p, target), (x,), fast_mode=True)
        with pytest.raises(OptionError):
            rigid_align(source, target, per="onset")
        with pytest.raises(InputValueError, match="positive sum"):
            rigid_align(source, target, weights=np.zeros(12))
        with pytest.raises(InputValueError, match="reference"):
            rigid_align(source, target, per="reference", reference=5)
        with pytest.raises(ShapeError):
            rigid_align(source, target[:, :5])

    def test_train_and_eval_names_are_the_one_alignment(self, generator):
        from mxkit.eval import rigid_align as eval_rigid_align
        from mxkit.train.losses import rigid_align as loss_rigid_align

        assert loss_rigid_align is rigid_align
        target = torch.randn(3, 15, 3, generator=generator, dtype=torch.float64)
        R, t = self._motions(3, generator)
        pred = target @ R.transpose(1, 2) + t[:, None]
        mask = np.r_[np.ones(10), np.zeros(5)]
        for align, per in (("frame", "frame"), ("clip", "clip"), ("onset", "reference")):
            out = eval_rigid_align(pred.numpy(), target.numpy(), align=align, mask=mask, onset=1)
            assert isinstance(out, np.ndarray) and out.dtype == np.float64
            np.testing.assert_array_equal(
                out, rigid_align(pred, target, per=per, weights=mask, reference=1).numpy())
        np.testing.assert_array_equal(eval_rigid_align(pred, target, align="none"), pred.numpy())
