"""Tests of mxkit.flow: known answers on synthetic textures, sign conventions, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mxkit.errors import InputValueError, OptionError, ShapeError
from mxkit.flow import (
    FLOW_DEFAULTS,
    flow_sequence,
    flow_to_rgb,
    iir_cutoff_hz,
    level_amplification,
    magnify,
    optical_flow,
    optical_strain,
    pixel_to_normalized,
    sample_flow,
    strain_components,
    warp,
)
from mxkit.testing import fourier_shift, texture

SIZE = 96
MARGIN = 12  # interior used for flow accuracy (borders are ill-posed for any method)
SHIFT = (1.5, -0.5)  # (u, v) px: right by 1.5, up by 0.5


# ----------------------------------------------------------------------------- helpers
def interior_epe(flow: np.ndarray, expected: tuple[float, float]) -> np.ndarray:
    err = np.hypot(flow[..., 0] - expected[0], flow[..., 1] - expected[1])
    return err[MARGIN:-MARGIN, MARGIN:-MARGIN]


def bilinear_reference(flow: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Naive bilinear interpolation with border clamp, pixel centres at integers."""
    height, width = flow.shape[:2]
    out = np.empty((len(points), 2))
    for i, (u, v) in enumerate(points):
        u = min(max(u, 0.0), width - 1.0)
        v = min(max(v, 0.0), height - 1.0)
        c0, r0 = int(np.floor(u)), int(np.floor(v))
        c1, r1 = min(c0 + 1, width - 1), min(r0 + 1, height - 1)
        a, b = u - c0, v - r0
        out[i] = ((1 - a) * (1 - b) * flow[r0, c0] + a * (1 - b) * flow[r0, c1]
                  + (1 - a) * b * flow[r1, c0] + a * b * flow[r1, c1])
    return out


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    ref = texture(SIZE, SIZE, seed=0)
    target = fourier_shift(ref, *SHIFT)
    return ref.astype(np.float32), np.clip(target, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def tvl1_flow(pair) -> np.ndarray:
    return optical_flow(*pair, method="tvl1")


# ------------------------------------------------------------------------ optical_flow
class TestOpticalFlow:
    @pytest.mark.parametrize("method", ["tvl1", "dis", "farneback"])
    def test_shapes(self, pair, method):
        flow = optical_flow(*pair, method=method)
        assert flow.shape == (SIZE, SIZE, 2)
        assert flow.dtype == np.float32

    def test_values_tvl1(self, tvl1_flow):
        # Known answer: sub-pixel translation (1.5, -0.5) px, EPE < 0.1 px in the interior.
        epe = interior_epe(tvl1_flow, SHIFT)
        assert epe.mean() < 0.05
        assert epe.max() < 0.1

    @pytest.mark.parametrize("shift", [(0.25, -0.75), (0.8, -0.4)])
    def test_values_tvl1_off_half_pixel(self, pair, shift):
        # At half-pixel shifts such as SHIFT the interpolation ("peak-locking") bias cancels by
        # symmetry (mean EPE 0.005 px); elsewhere TV-L1 is pulled towards whole pixels by
        # about 0.04 px (measured mean 0.047-0.056, max 0.060-0.069). Still EPE < 0.1 px.
        ref = pair[0]
        target = np.clip(fourier_shift(ref.astype(np.float64), *shift), 0, 1).astype(np.float32)
        epe = interior_epe(optical_flow(ref, target, method="tvl1"), shift)
        assert epe.max() < 0.1

    @pytest.mark.parametrize(
        ("method", "mean_bound", "max_bound"),
        [("dis", 0.2, 0.5), ("farneback", 0.1, 0.3)],  # measured: DIS 0.05/0.08, FB 0.01/0.03
    )
    def test_values_fast_methods(self, pair, method, mean_bound, max_bound):
        epe = interior_epe(optical_flow(*pair, method=method), SHIFT)
        assert epe.mean() < mean_bound
        assert epe.max() < max_bound

    def test_sign_convention(self):
        # Texture moves 2 px right and 1 px up: flow = (+2, -1); reversed pair gives (-2, +1).
        ref = texture(64, 64, seed=3)
        target = np.roll(np.roll(ref, 2, axis=1), -1, axis=0)
        forward = np.median(optical_flow(ref, target)[16:-16, 16:-16], axis=(0, 1))
        backward = np.median(optical_flow(target, ref)[16:-16, 16:-16], axis=(0, 1))
        np.testing.assert_allclose(forward, [2.0, -1.0], atol=0.05)
        np.testing.assert_allclose(backward, [-2.0, 1.0], atol=0.05)

    def test_warp_target_gives_ref(self, pair, tvl1_flow):
        ref, target = pair
        # Cubic interpolation: bilinear alone errs by ~4e-3 on this texture at half-pixel offsets.
        warped = warp(target, tvl1_flow, interpolation="cubic")
        err = np.abs(warped - ref)[MARGIN:-MARGIN, MARGIN:-MARGIN]
        assert err.mean() < 3e-3  # texture spans [0.1, 0.9]
        assert err.max() < 1.5e-2

    def test_uint8_and_rgb_inputs(self, pair, tvl1_flow):
        ref, target = pair
        as_u8 = [np.round(x * 255).astype(np.uint8) for x in pair]
        assert interior_epe(optical_flow(*as_u8), SHIFT).mean() < 0.05
        rgb = [np.repeat(x[..., None], 3, axis=2) for x in pair]
        # Luma of replicated grey equals the grey image up to float rounding (~6e-8), which
        # TV-L1 amplifies to ~1e-2 px in the interior (and more on the ill-posed border).
        rgb_flow = optical_flow(*rgb)
        assert interior_epe(rgb_flow, SHIFT).max() < 0.1
        interior = (slice(MARGIN, -MARGIN), slice(MARGIN, -MARGIN))
        np.testing.assert_allclose(rgb_flow[interior], tvl1_flow[interior], atol=0.05)

    def test_parameters_are_used(self, pair, tvl1_flow):
        smoother = optical_flow(*pair, lambda_=0.01, warps=1, n_scales=1)
        assert np.abs(smoother - tvl1_flow).max() > 1e-3
        fast = optical_flow(*pair, method="dis", preset="ultrafast")
        assert fast.shape == (SIZE, SIZE, 2)
        gauss = optical_flow(*pair, method="farneback", gaussian_window=True, poly_n=7,
                             poly_sigma=1.5, winsize=21)
        assert interior_epe(gauss, SHIFT).mean() < 0.2

    def test_exceptions(self, pair):
        ref, target = pair
        with pytest.raises(ShapeError, match="target"):
            optical_flow(ref, target[:, :-1])
        with pytest.raises(ShapeError):
            optical_flow(ref[None], target[None])
        with pytest.raises(ShapeError):
            optical_flow(np.zeros((8, 8, 4)), np.zeros((8, 8, 4)))
        with pytest.raises(ShapeError):  # grey vs colour
            optical_flow(ref, np.repeat(target[..., None], 3, axis=2))
        with pytest.raises(InputValueError, match="dtype"):
            optical_flow(ref.astype(np.int32), target.astype(np.int32))
        bad = ref.copy()
        bad[3, 4] = np.nan
        with pytest.raises(InputValueError, match="NaN"):
            optical_flow(bad, target)
        with pytest.raises(InputValueError, match=r"\[0, 1\]"):
            optical_flow(ref * 255, target * 255)
        with pytest.raises(OptionError, match="method"):
            optical_flow(ref, target, method="raft")
        with pytest.raises(OptionError, match="farneback"):
            optical_flow(ref, target, method="tvl1", winsize=21)
        with pytest.raises(OptionError, match="preset"):
            optical_flow(ref, target, method="dis", preset="slow")
        with pytest.raises(InputValueError, match="scale_step"):
            optical_flow(ref, target, scale_step=1.5)
        with pytest.raises(InputValueError, match="warps"):
            optical_flow(ref, target, warps=0)
        with pytest.raises(InputValueError, match="OpenCV"):  # DIS needs frames > its patch
            optical_flow(ref[:8, :8], target[:8, :8], method="dis")


# ----------------------------------------------------------------------- flow_sequence
@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    base = texture(64, 64, seed=5)
    shifts = [0.0, 0.5, 1.0, 1.5]
    return np.stack([fourier_shift(base, s, 0.0) for s in shifts]).clip(0, 1)


class TestFlowSequence:

    def test_values(self, clip):
        flows = flow_sequence(clip, method="tvl1", progress=False)
        assert flows.shape == (4, 64, 64, 2) and flows.dtype == np.float32
        assert not flows[0].any()
        for t, s in enumerate([0.0, 0.5, 1.0, 1.5]):
            assert np.hypot(flows[t, 12:-12, 12:-12, 0] - s, flows[t, 12:-12, 12:-12, 1]).mean() < 0.05

    @pytest.mark.parametrize("reference", [0, 2, -1])
    def test_batch_equals_loop(self, clip, reference):
        flows = flow_sequence(clip, reference=reference, method="farneback",
                              params={"winsize": 11}, progress=False)
        ref_index = reference % len(clip)
        for t in range(len(clip)):
            expected = (np.zeros_like(flows[t]) if t == ref_index else
                        optical_flow(clip[ref_index], clip[t], method="farneback", winsize=11))
            np.testing.assert_array_equal(flows[t], expected)

    def test_threads_equal_serial(self, clip):
        serial = flow_sequence(clip, method="dis", progress=False)
        threaded = flow_sequence(clip, method="dis", n_jobs=2, progress=False)
        np.testing.assert_array_equal(serial, threaded)
        assert flow_sequence(clip, method="dis", n_jobs=-1, progress=False).shape == serial.shape

    def test_progress_bar(self, capsys):
        frames = np.random.default_rng(0).integers(0, 256, (18, 32, 32, 3), dtype=np.uint8)
        flows = flow_sequence(frames, method="dis", progress=True)
        assert flows.shape == (18, 32, 32, 2)
        assert "pair" in capsys.readouterr().err

    def test_exceptions(self, clip):
        with pytest.raises(ShapeError, match="at least 2 frames"):
            flow_sequence(clip[:1])
        with pytest.raises(ShapeError):
            flow_sequence(clip[0])
        with pytest.raises(InputValueError, match="dtype"):
            flow_sequence(clip.astype(np.int64))
        bad = clip.copy()
        bad[1, 0, 0] = np.inf
        with pytest.raises(InputValueError, match="NaN"):
            flow_sequence(bad)
        with pytest.raises(OptionError, match="method"):
            flow_sequence(clip, method="lk")
        with pytest.raises(OptionError, match="unknown"):
            flow_sequence(clip, params={"lamda": 0.1})
        with pytest.raises(OptionError, match="tvl1"):
            flow_sequence(clip, method="dis", params={"tau": 0.1})
        with pytest.raises(InputValueError, match="reference"):
            flow_sequence(clip, reference=4)
        with pytest.raises(InputValueError, match="n_jobs"):
            flow_sequence(clip, n_jobs=0)

    def test_defaults_table(self):
        assert set(FLOW_DEFAULTS) == {"tvl1", "dis", "farneback"}
        assert FLOW_DEFAULTS["tvl1"]["lambda_"] == 0.15


# ---------------------------------------------------------------------------- strain
def affine_flow(height, width, a, b, c, d, tx=0.0, ty=0.0, dtype=np.float64):
    """u = a x + b y + tx, v = c x + d y + ty (x = column, y = row)."""
    y, x = np.mgrid[0:height, 0:width].astype(dtype)
    return np.stack([a * x + b * y + tx, c * x + d * y + ty], axis=-1)


class TestStrain:
    @pytest.mark.parametrize("scheme", ["central", "forward"])
    @pytest.mark.parametrize("a", [0.05, -0.3])
    def test_stretch_known_strain(self, a, scheme):
        strain = optical_strain(affine_flow(20, 24, a, 0, 0, 0), scheme=scheme)
        assert strain.shape == (20, 24)
        np.testing.assert_allclose(strain[1:-1, 1:-1], abs(a), rtol=1e-12)

    def test_translation_and_rotation_have_zero_strain(self):
        np.testing.assert_array_equal(optical_strain(affine_flow(16, 16, 0, 0, 0, 0, 1.5, -0.5)), 0)
        w = 0.02  # small rotation: antisymmetric gradient, no strain
        np.testing.assert_allclose(optical_strain(affine_flow(16, 16, 0, -w, w, 0)), 0, atol=1e-15)

    def test_general_affine_components(self):
        a, b, c, d = 0.1, 0.04, -0.02, -0.05
        comps = strain_components(affine_flow(12, 14, a, b, c, d))
        np.testing.assert_allclose(comps.exx, a)  # central differences exact for linear fields,
        np.testing.assert_allclose(comps.eyy, d)  # one-sided ones too (borders included)
        np.testing.assert_allclose(comps.exy, 0.5 * (b + c))
        expected = np.sqrt(a**2 + d**2 + 2 * (0.5 * (b + c)) ** 2)
        np.testing.assert_allclose(optical_strain(affine_flow(12, 14, a, b, c, d)), expected)

    def test_forward_matches_formula(self):
        flow = np.random.default_rng(0).standard_normal((9, 11, 2))
        u, v = flow[..., 0], flow[..., 1]
        ux = np.zeros_like(u); ux[:, :-1] = u[:, 1:] - u[:, :-1]  # noqa: E702
        uy = np.zeros_like(u); uy[:-1] = u[1:] - u[:-1]  # noqa: E702
        vx = np.zeros_like(v); vx[:, :-1] = v[:, 1:] - v[:, :-1]  # noqa: E702
        vy = np.zeros_like(v); vy[:-1] = v[1:] - v[:-1]  # noqa: E702
        expected = np.sqrt(ux**2 + vy**2 + 0.5 * (uy + vx) ** 2)
        np.testing.assert_allclose(optical_strain(flow, scheme="forward"), expected, rtol=1e-12)

    def test_batch_equals_loop_and_torch_matches_numpy(self):
        flows = np.random.default_rng(1).standard_normal((3, 10, 12, 2)).astype(np.float32)
        batched = optical_strain(flows)
        assert batched.shape == (3, 10, 12) and batched.dtype == np.float32
        for t in range(3):
            np.testing.assert_array_equal(batched[t], optical_strain(flows[t]))
        torch_out = optical_strain(torch.from_numpy(flows))
        np.testing.assert_allclose(torch_out.numpy(), batched, rtol=1e-5, atol=1e-6)

    def test_gradcheck(self):
        flow = torch.randn(5, 6, 2, dtype=torch.float64,
                           generator=torch.Generator().manual_seed(0)).requires_grad_()
        assert torch.autograd.gradcheck(optical_strain, (flow,), fast_mode=True)

    def test_exceptions(self):
        with pytest.raises(ShapeError):
            optical_strain(np.zeros((8, 8, 3)))
        with pytest.raises(InputValueError, match="floating"):
            optical_strain(np.zeros((8, 8, 2), dtype=np.int32))
        with pytest.raises(InputValueError, match="NaN"):
            optical_strain(np.full((8, 8, 2), np.nan))
        with pytest.raises(OptionError, match="scheme"):
            optical_strain(np.zeros((8, 8, 2)), scheme="backward")


# ------------------------------------------------------------------------ sample_flow
class TestSampleFlow:
    H, W = 7, 9

    def linear(self, dtype=torch.float64) -> torch.Tensor:
        return torch.from_numpy(affine_flow(self.H, self.W, 0.3, -0.2, 0.1, 0.5, 1.0, -2.0)).to(dtype)

    def test_linear_flow_exact(self):
        points = torch.tensor([[0.25, 0.5], [3.7, 2.2], [7.99, 5.01], [8.0, 6.0], [0.0, 0.0]],
                              dtype=torch.float64)
        values, valid = sample_flow(self.linear(), points)
        u, v = points[:, 0], points[:, 1]
        expected = torch.stack([0.3 * u - 0.2 * v + 1.0, 0.1 * u + 0.5 * v - 2.0], dim=-1)
        torch.testing.assert_close(values, expected, rtol=0, atol=1e-12)
        assert values.shape == (5, 2) and valid.dtype == torch.bool and bool(valid.all())

    def test_pixel_centres(self):
        flow = torch.randn(self.H, self.W, 2, dtype=torch.float64,
                           generator=torch.Generator().manual_seed(0))
        rows, cols = torch.meshgrid(torch.arange(self.H), torch.arange(self.W), indexing="ij")
        points = torch.stack([cols, rows], -1).reshape(-1, 2).to(torch.float64)
        values, _ = sample_flow(flow, points)
        torch.testing.assert_close(values, flow.reshape(-1, 2), rtol=0, atol=1e-12)

    def test_equals_bilinear_formula(self):
        gen = torch.Generator().manual_seed(1)
        flow = torch.randn(self.H, self.W, 2, dtype=torch.float64, generator=gen)
        points = torch.rand(40, 2, dtype=torch.float64, generator=gen) * torch.tensor(
            [self.W + 2.0, self.H + 2.0], dtype=torch.float64) - 1.0
        values, _ = sample_flow(flow, points)
        expected = bilinear_reference(flow.numpy(), points.numpy())
        np.testing.assert_allclose(values.numpy(), expected, rtol=0, atol=1e-12)

    def test_outside_policy(self):
        flow = self.linear()
        points = torch.tensor([[-0.4, 3.0], [-0.6, 3.0], [8.5, 6.5], [8.6, 1.0], [2.0, -3.0]],
                              dtype=torch.float64)
        values, valid = sample_flow(flow, points)
        assert valid.tolist() == [True, False, True, False, False]
        clamped = torch.stack([points[:, 0].clamp(0, self.W - 1), points[:, 1].clamp(0, self.H - 1)], -1)
        torch.testing.assert_close(values, sample_flow(flow, clamped).values)

    def test_gradcheck(self):
        gen = torch.Generator().manual_seed(2)
        flow = torch.randn(2, 5, 6, 2, dtype=torch.float64, generator=gen).requires_grad_()
        points = (torch.rand(2, 4, 2, dtype=torch.float64, generator=gen) * 3.8 + 0.6).requires_grad_()
        assert torch.autograd.gradcheck(lambda f, p: sample_flow(f, p).values, (flow, points),
                                        fast_mode=True)

    def test_batch_equals_loop_and_broadcast(self):
        gen = torch.Generator().manual_seed(3)
        flows = torch.randn(3, self.H, self.W, 2, generator=gen)
        points = torch.rand(3, 11, 2, generator=gen) * 6
        values, valid = sample_flow(flows, points)
        assert values.shape == (3, 11, 2) and valid.shape == (3, 11)
        for b in range(3):
            torch.testing.assert_close(values[b], sample_flow(flows[b], points[b]).values)
        shared = sample_flow(flows[0], points).values  # unbatched flow broadcasts
        for b in range(3):
            torch.testing.assert_close(shared[b], sample_flow(flows[0], points[b]).values)

    def test_numpy_convenience_and_nearest(self):
        flow = self.linear()
        points = np.array([[1.2, 2.6], [4.5001, 0.4]])
        out_np = sample_flow(flow.numpy(), points)
        assert isinstance(out_np.values, np.ndarray) and out_np.values.shape == (2, 2)
        np.testing.assert_allclose(out_np.values, sample_flow(flow, torch.from_numpy(points)).values.numpy())
        nearest = sample_flow(flow.numpy(), points, mode="nearest").values
        np.testing.assert_allclose(nearest, flow.numpy()[[3, 0], [1, 5]])

    def test_pixel_to_normalized(self):
        out = pixel_to_normalized(torch.tensor([[0.0, 0.0], [8.0, 6.0], [4.0, 3.0]]), self.H, self.W)
        torch.testing.assert_close(out, torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]]))

    def test_exceptions(self):
        flow = self.linear()
        with pytest.raises(ShapeError):
            sample_flow(flow[..., :1], torch.zeros(3, 2, dtype=torch.float64))
        with pytest.raises(ShapeError):
            sample_flow(flow, torch.zeros(3, 3, dtype=torch.float64))
        with pytest.raises(ShapeError, match="batch"):
            sample_flow(flow.expand(2, -1, -1, -1), torch.zeros(3, 4, 2, dtype=torch.float64))
        with pytest.raises(InputValueError, match="floating"):
            sample_flow(flow.to(torch.int64), torch.zeros(3, 2))
        with pytest.raises(InputValueError, match="NaN"):
            sample_flow(flow, torch.tensor([[float("nan"), 1.0]], dtype=torch.float64))
        with pytest.raises(OptionError, match="mode"):
            sample_flow(flow, torch.zeros(3, 2, dtype=torch.float64), mode="bicubic")

    @pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
    def test_device(self):
        flow = self.linear().cuda()
        values, valid = sample_flow(flow, torch.tensor([[1.5, 2.5]], dtype=torch.float64).cuda())
        assert values.device.type == "cuda" and valid.device.type == "cuda"


# ------------------------------------------------------------------------------- warp
class TestWarp:
    def test_integer_shift(self):
        image = np.arange(20, dtype=np.float32).reshape(4, 5)
        flow = np.zeros((4, 5, 2), np.float32)
        flow[..., 1] = 1.0  # read one row below
        np.testing.assert_array_equal(warp(image, flow)[:3], image[1:])
        out_t = warp(torch.from_numpy(image)[None], torch.from_numpy(flow))
        np.testing.assert_array_equal(out_t[0, :3].numpy(), image[1:])

    def test_subpixel_known_flow(self, pair):
        ref, target = pair
        flow = np.broadcast_to(np.float32(SHIFT), (SIZE, SIZE, 2))
        err_lin = np.abs(warp(target, flow) - ref)[4:-4, 4:-4]
        assert err_lin.mean() < 6e-3 and err_lin.max() < 3e-2  # bilinear interpolation error
        err_cub = np.abs(warp(target, flow, interpolation="cubic") - ref)[4:-4, 4:-4]
        assert err_cub.mean() < 2.5e-3 and err_cub.max() < 1.5e-2
        out_t = warp(torch.from_numpy(target)[None, None].double(), torch.from_numpy(flow.copy()).double())
        assert out_t.shape == (1, 1, SIZE, SIZE)
        np.testing.assert_allclose(out_t[0, 0].numpy(), warp(target.astype(np.float64), flow),
                                   atol=5e-3)

    def test_dtypes_and_channels(self, pair):
        rgb = np.round(np.stack([pair[0]] * 3, axis=-1) * 255).astype(np.uint8)
        out = warp(rgb, np.zeros((SIZE, SIZE, 2), np.float32), border="reflect")
        assert out.dtype == np.uint8 and out.shape == rgb.shape
        np.testing.assert_array_equal(out, rgb)

    def test_gradcheck(self):
        gen = torch.Generator().manual_seed(4)
        image = torch.randn(1, 2, 5, 6, dtype=torch.float64, generator=gen).requires_grad_()
        flow = (torch.rand(5, 6, 2, dtype=torch.float64, generator=gen) * 0.8 + 0.1).requires_grad_()
        assert torch.autograd.gradcheck(warp, (image, flow), fast_mode=True)

    def test_exceptions(self, pair):
        ref = pair[0]
        with pytest.raises(ShapeError):
            warp(ref, np.zeros((SIZE, SIZE - 1, 2), np.float32))
        with pytest.raises(InputValueError, match="dtype"):
            warp(ref.astype(np.int32), np.zeros((SIZE, SIZE, 2), np.float32))
        with pytest.raises(OptionError, match="border"):
            warp(ref, np.zeros((SIZE, SIZE, 2), np.float32), border="wrap")
        with pytest.raises(ShapeError):
            warp(torch.zeros(SIZE, SIZE), torch.zeros(SIZE, SIZE, 2))


# ------------------------------------------------------------------------ flow_to_rgb
class TestFlowToRgb:
    def test_values(self):
        flow = np.array([[[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1], [0.5, 0]]], np.float32)
        rgb = flow_to_rgb(flow)
        assert rgb.shape == (1, 6, 3) and rgb.dtype == np.uint8
        assert rgb[0].tolist() == [[255, 255, 255], [255, 0, 0], [128, 255, 0], [0, 255, 255],
                                   [128, 0, 255], [255, 128, 128]]
        assert flow_to_rgb(flow, max_magnitude=0.5)[0, 5].tolist() == [255, 0, 0]
        assert flow_to_rgb(np.zeros((2, 3, 4, 2))).shape == (2, 3, 4, 3)

    def test_exceptions(self):
        with pytest.raises(ShapeError):
            flow_to_rgb(np.zeros((4, 4, 3)))
        with pytest.raises(InputValueError, match="max_magnitude"):
            flow_to_rgb(np.zeros((4, 4, 2)), max_magnitude=0)


# ---------------------------------------------------------------------------- magnify
def oscillation(pattern: np.ndarray, *, freq_hz: float, fps: float, n_frames: int,
                amplitude: float) -> np.ndarray:
    t = np.arange(n_frames)[:, None, None]
    return (0.5 + amplitude * np.sin(2 * np.pi * freq_hz * t / fps) * pattern).astype(np.float32)


def band_gain(clip: np.ndarray, out: np.ndarray) -> float:
    """Least-squares gain of the temporal variation of ``out`` w.r.t. that of ``clip``."""
    a = clip - clip.mean(axis=0)
    b = out - out.mean(axis=0)
    return float((a * b).sum() / (a * a).sum())


@pytest.fixture(scope="module")
def pattern() -> np.ndarray:
    g = texture(48, 48, seed=7, sigma=3.0) - 0.5
    return g / np.abs(g).max()


class TestMagnify:

    def test_ideal_in_band_gain(self, pattern):
        # 8 Hz on an exact FFT bin, pass band 4-12 Hz, no spatial attenuation: gain 1 + alpha.
        clip = oscillation(pattern, freq_hz=8, fps=64, n_frames=64, amplitude=0.004)
        out = magnify(clip, alpha=10, method="ideal", fps=64, freq_band=(4, 12), lambda_c=0,
                      levels=3)
        assert out.shape == clip.shape and out.dtype == np.float32
        a, b = clip - clip.mean(0), out - out.mean(0)
        np.testing.assert_allclose(b, 11 * a, atol=1e-5)  # everywhere, borders included

    def test_ideal_out_of_band_unchanged(self, pattern):
        clip = oscillation(pattern, freq_hz=24, fps=64, n_frames=64, amplitude=0.004)
        out = magnify(clip, alpha=10, method="ideal", fps=64, freq_band=(4, 12), lambda_c=0,
                      levels=3)
        np.testing.assert_allclose(out, clip, atol=1e-5)

    @pytest.mark.parametrize("freq_hz", [0.5, 5.0, 40.0, 90.0])
    def test_iir_gain_known_answer(self, pattern, freq_hz):
        # Steady state of lowpass_r1 - lowpass_r2 at w: H_r(w) = r / (1 - (1 - r) e^{-iw}).
        fps, alpha = 200.0, 10.0
        clip = oscillation(pattern[:32, :32], freq_hz=freq_hz, fps=fps, n_frames=400,
                           amplitude=0.002)
        out = magnify(clip, alpha=alpha, method="iir", fps=fps, lambda_c=0, levels=2)
        w = 2 * np.pi * freq_hz / fps
        h = [r / (1 - (1 - r) * np.exp(-1j * w)) for r in (0.4, 0.05)]
        expected = abs(1 + alpha * (h[0] - h[1]))
        t = np.arange(200, 400)[:, None, None]
        basis = [np.sin(w * t) * pattern[:32, :32], np.cos(w * t) * pattern[:32, :32]]
        amp = [np.hypot(((x[200:] - 0.5) * basis[0]).sum(), ((x[200:] - 0.5) * basis[1]).sum())
               for x in (clip, out)]
        assert amp[1] / amp[0] == pytest.approx(expected, rel=1e-3)

    def test_iir_band_shape(self, pattern):
        # In band (5 Hz at 200 fps) amplified far more than out of band (0.5 Hz, 90 Hz).
        gains = {}
        for f in (0.5, 5.0, 90.0):
            clip = oscillation(pattern[:32, :32], freq_hz=f, fps=200, n_frames=400, amplitude=0.002)
            gains[f] = band_gain(clip[200:], magnify(clip, alpha=20, lambda_c=0, levels=2)[200:])
        assert gains[5.0] > 15 and gains[0.5] < 8 and gains[90.0] < 8

    def test_butterworth_centre_gain(self, pattern):
        low, high = iir_cutoff_hz(0.05, 200.0), iir_cutoff_hz(0.4, 200.0)
        centre = float(np.sqrt(low * high))  # order-1 band-pass has unit gain here
        clip = oscillation(pattern[:32, :32], freq_hz=centre, fps=200, n_frames=300,
                           amplitude=0.002)
        out = magnify(clip, alpha=10, method="butterworth", fps=200, lambda_c=0, levels=2)
        assert band_gain(clip[100:200], out[100:200]) == pytest.approx(11.0, rel=0.05)
        far = oscillation(pattern[:32, :32], freq_hz=95, fps=200, n_frames=300, amplitude=0.002)
        out = magnify(far, alpha=10, method="butterworth", fps=200, lambda_c=0, levels=2)
        assert band_gain(far[100:200], out[100:200]) < 1.5

    @pytest.mark.parametrize("method", ["iir", "ideal", "butterworth"])
    def test_static_clip_unchanged_and_deterministic(self, pattern, method):
        static = np.repeat((0.5 + 0.3 * pattern)[None], 12, axis=0).astype(np.float32)
        out = magnify(static, method=method, levels=3)
        np.testing.assert_allclose(out, static, atol=1e-6)
        static_u8 = np.round(static * 255).astype(np.uint8)
        out_u8 = magnify(static_u8, method=method, levels=3)
        assert out_u8.dtype == np.uint8
        np.testing.assert_array_equal(out_u8, static_u8)
        moving = oscillation(pattern, freq_hz=8, fps=64, n_frames=16, amplitude=0.01)
        np.testing.assert_array_equal(magnify(moving, method=method, fps=64, levels=3),
                                      magnify(moving, method=method, fps=64, levels=3))

    def test_fine_scales_attenuated_by_lambda_c(self, pattern):
        checker = (((np.indices((48, 48)).sum(0) // 2) % 2) * 2 - 1).astype(np.float64)
        gains = {}
        for name, pat in (("fine", checker), ("coarse", pattern)):
            clip = oscillation(pat, freq_hz=8, fps=64, n_frames=64, amplitude=0.002)
            gains[name] = band_gain(clip, magnify(clip, alpha=10, method="ideal", fps=64,
                                                  freq_band=(4, 12), lambda_c=16, levels=3))
        assert gains["fine"] < 4 < 7 < gains["coarse"] <= 11 + 1e-3
        assert [level_amplification(k, alpha=20, lambda_c=16) for k in range(4)] == [
            3.25, 8.5, 19.0, 20.0]

    def test_bounded_and_colour(self, pattern):
        clip = oscillation(pattern, freq_hz=8, fps=64, n_frames=64, amplitude=0.2)
        out = magnify(clip, alpha=50, method="ideal", fps=64, freq_band=(4, 12), levels=3)
        assert out.min() >= 0.0 and out.max() <= 1.0
        grey = oscillation(pattern, freq_hz=8, fps=64, n_frames=32, amplitude=0.004)
        rgb = np.repeat(grey[..., None], 3, axis=-1)
        out_rgb = magnify(rgb, fps=64, levels=3)
        assert out_rgb.shape == rgb.shape
        out_grey = magnify(grey, fps=64, levels=3)
        for ch in range(3):  # grey in RGB has zero chrominance: same as the grey clip
            np.testing.assert_allclose(out_rgb[..., ch], out_grey, atol=1e-5)

    def test_gaussian_pyramid(self):
        uniform = oscillation(np.ones((32, 32)), freq_hz=8, fps=64, n_frames=64, amplitude=0.004)
        out = magnify(uniform, alpha=10, method="ideal", fps=64, freq_band=(4, 12),
                      pyramid="gaussian", levels=2)
        assert band_gain(uniform, out) == pytest.approx(11.0, rel=1e-4)

    def test_cutoffs(self):
        assert iir_cutoff_hz(1.0, 200.0) == 100.0
        assert iir_cutoff_hz(0.05, 100.0) == pytest.approx(iir_cutoff_hz(0.05, 200.0) / 2)
        r, fps = 0.2, 50.0  # at the cut-off |H|^2 = 1/2
        w = 2 * np.pi * iir_cutoff_hz(r, fps) / fps
        assert abs(r / (1 - (1 - r) * np.exp(-1j * w))) ** 2 == pytest.approx(0.5)

    def test_exceptions(self, pattern):
        clip = oscillation(pattern, freq_hz=8, fps=64, n_frames=8, amplitude=0.01)
        with pytest.raises(ShapeError, match="at least 2 frames"):
            magnify(clip[:1])
        with pytest.raises(ShapeError):
            magnify(clip[0])
        with pytest.raises(InputValueError, match="dtype"):
            magnify(clip.astype(np.int16))
        bad = clip.copy()
        bad[2, 3, 3] = np.nan
        with pytest.raises(InputValueError, match="NaN"):
            magnify(bad)
        with pytest.raises(InputValueError, match=r"\[0, 1\]"):
            magnify(clip * 255)
        with pytest.raises(OptionError, match="method"):
            magnify(clip, method="fir")
        with pytest.raises(OptionError, match="pyramid"):
            magnify(clip, pyramid="steerable")
        with pytest.raises(InputValueError, match="r2"):
            magnify(clip, r1=0.05, r2=0.4)
        with pytest.raises(InputValueError, match="levels"):
            magnify(clip, levels=6)
        with pytest.raises(InputValueError, match="freq_band"):
            magnify(clip, freq_band=(1.0, 5.0))
        with pytest.raises(InputValueError, match="freq_band"):
            magnify(clip, method="ideal", fps=64, freq_band=(5.0, 40.0))
        with pytest.raises(InputValueError, match="alpha"):
            magnify(clip, alpha=-1)
