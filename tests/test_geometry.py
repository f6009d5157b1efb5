"""Rotation conversions and Procrustes alignment."""

from __future__ import annotations

import math

import pytest
import torch

from mxkit.errors import ShapeError
from mxkit.geometry import (
    SimilarityTransform,
    apply_similarity,
    axis_angle_to_matrix,
    euler_to_matrix,
    matrix_to_axis_angle,
    procrustes,
)


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
