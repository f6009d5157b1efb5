"""Tests of mxkit.face: detection, landmarks (dlib + faked optional backends), alignment,
smoothing and noise floor. Known answers come from skimage.data.astronaut() (a real frontal
face, 512 x 512) and from synthetic tracks with known statistics."""

from __future__ import annotations

import math
import sys
import types
import warnings

import cv2
import numpy as np
import pandas as pd
import pytest
from skimage.data import astronaut

import mxkit.face as mf
from mxkit.errors import (
    BackendUnavailableError,
    CheckpointError,
    InputValueError,
    NoFaceError,
    OptionError,
    ShapeError,
)
from mxkit.face import backends as be_mod

# Measured once with dlib 20.0.1 + face-recognition-models 0.3.0 (plain dlib, integer points).
ASTRONAUT_BOX = (175, 76, 265, 166)
RIGHT_EYE_CENTRE = (203.2, 101.5)   # mean of 36-41, image-left
LEFT_EYE_CENTRE = (246.5, 104.2)    # mean of 42-47
NOSE_TIP = (225.0, 127.0)           # 30
MOUTH_CORNERS = ((201.0, 139.0), (246.0, 141.0))  # 48, 54
CHIN = (220.0, 178.0)               # 8


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return astronaut()


@pytest.fixture(scope="module")
def landmarks(image):
    return mf.detect_landmarks(image)


def _shifted_clip(image, shifts, blank=()):
    frames = []
    for du, dv in shifts:
        m = np.float64([[1, 0, du], [0, 1, dv]])
        frames.append(cv2.warpAffine(image, m, image.shape[1::-1], flags=cv2.INTER_LINEAR))
    frames = np.stack(frames)
    for t in blank:
        frames[t] = 0
    return frames


# ------------------------------------------------------------------------------ detect_faces


class TestDetectFaces:
    def test_values(self, image):
        boxes = mf.detect_faces(image)
        assert boxes, "no face on the astronaut"
        np.testing.assert_allclose(boxes[0].as_array(), ASTRONAUT_BOX, atol=2)
        assert boxes[0].score > 0.8

    def test_sorted_best_first_with_weak_false_faces(self, image):
        boxes = mf.detect_faces(image, threshold=-0.5)
        assert len(boxes) >= 2                                   # weak candidates come too
        scores = [b.score for b in boxes]
        assert scores == sorted(scores, reverse=True)
        np.testing.assert_allclose(boxes[0].as_array(), ASTRONAUT_BOX, atol=2)
        assert len(mf.detect_faces(image, threshold=-0.5, max_faces=1)) == 1

    def test_gray_and_float(self, image):
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        np.testing.assert_allclose(mf.detect_faces(gray)[0].as_array(), ASTRONAUT_BOX, atol=4)
        np.testing.assert_array_equal(mf.detect_faces(image / 255.0)[0].as_array(),
                                      mf.detect_faces(image)[0].as_array())

    def test_blank_gives_no_box(self):
        assert mf.detect_faces(np.zeros((128, 128, 3), np.uint8)) == []

    def test_exceptions(self, image):
        with pytest.raises(OptionError, match="backend"):
            mf.detect_faces(image, backend="mtcnn")
        with pytest.raises(InputValueError, match="upsample"):
            mf.detect_faces(image, upsample=-1)
        with pytest.raises(InputValueError, match="threshold"):
            mf.detect_faces(image, threshold=float("nan"))
        with pytest.raises(InputValueError, match="max_faces"):
            mf.detect_faces(image, max_faces=0)


class TestFaceBox:
    def test_geometry(self):
        b = mf.FaceBox.from_array([10, 20, 30, 60, 0.5])
        assert (b.width, b.height, b.center, b.score) == (20, 40, (20, 40), 0.5)
        assert b.iou(b) == pytest.approx(1.0)
        assert b.iou(mf.FaceBox(30, 60, 40, 70)) == 0.0
        np.testing.assert_allclose(b.scaled(2).as_array(), [0, 0, 40, 80])
        assert math.isnan(mf.FaceBox.from_array([0, 0, 1, 1]).score)

    def test_exceptions(self):
        with pytest.raises(InputValueError, match="x1 > x0"):
            mf.FaceBox(10, 0, 5, 10)
        with pytest.raises(InputValueError, match="finite"):
            mf.FaceBox(0, 0, float("inf"), 1)
        with pytest.raises(InputValueError, match="box"):
            mf.FaceBox.from_array([1, 2, 3])


# -------------------------------------------------------------------------- detect_landmarks


class TestDetectLandmarks:
    def test_shapes(self, landmarks):
        assert landmarks.points.shape == (68, 2) and landmarks.points.dtype == np.float32
        assert landmarks.backend == "dlib" and landmarks.mesh is None
        df = landmarks.to_dataframe()
        assert list(df.columns) == ["backend", "landmark", "group", "u", "v"] and len(df) == 68

    def test_values_order_and_place(self, landmarks):
        p = landmarks.points.astype(np.float64)
        # subject's right (36-41) is image-left; corners in order along the eye line
        assert p[36, 0] < p[39, 0] < p[42, 0] < p[45, 0]
        assert p[0, 0] < p[8, 0] < p[16, 0] and p[48, 0] < p[54, 0]
        assert p[17:22, 0].mean() < p[22:27, 0].mean()
        # vertical order: brows < eyes < nose tip < mouth corners < chin
        eyes_v = p[36:48, 1].mean()
        assert p[17:27, 1].mean() < eyes_v < p[30, 1] < p[[48, 54], 1].min()
        assert p[[48, 54], 1].max() < p[57, 1] < p[8, 1]
        # known pixel positions (measured once; plain dlib returns integers)
        np.testing.assert_allclose(p[36:42].mean(0), RIGHT_EYE_CENTRE, atol=2)
        np.testing.assert_allclose(p[42:48].mean(0), LEFT_EYE_CENTRE, atol=2)
        np.testing.assert_allclose(p[30], NOSE_TIP, atol=2)
        np.testing.assert_allclose(p[[48, 54]], MOUTH_CORNERS, atol=2)
        np.testing.assert_allclose(p[8], CHIN, atol=2)
        # dlib's boxes are tight: the jaw ends and the chin stick out (chin 12 px below)
        assert landmarks.box.scaled(1.4).contains(p).all()
        assert landmarks.box.contains(p[17:68]).all()

    def test_given_box_equals_detected_box(self, image, landmarks):
        again = mf.detect_landmarks(image, box=landmarks.box.as_array())
        np.testing.assert_array_equal(again.points, landmarks.points)
        assert math.isnan(again.score)

    def test_float_and_gray_input(self, image, landmarks):
        np.testing.assert_array_equal(mf.detect_landmarks(image / 255.0).points, landmarks.points)
        gray = mf.detect_landmarks(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
        assert np.abs(gray.points - landmarks.points).mean() < 2.0

    def test_upscale_lowers_subpixel_jitter(self, image, landmarks):
        # sub-pixel translations: an ideal detector follows them exactly
        shifts = [(d, 0.37 * d) for d in np.linspace(0.0, 3.0, 13)]
        clip = _shifted_clip(image, shifts)
        jitter = {}
        for k in (1, 4):
            be = mf.DlibBackend(upscale=k)
            res = np.stack([be.predict(f, landmarks.box.scaled(1.0, shift=s))[0] - s
                            for f, s in zip(clip, shifts, strict=True)])
            jitter[k] = float(np.sqrt(((res - res.mean(0)) ** 2).mean()))
        assert jitter[4] < 0.7 * jitter[1]
        assert jitter[4] < 0.25

    def test_bad_images(self, image):
        with pytest.raises(InputValueError, match="uint8"):
            mf.detect_landmarks(image.astype(np.int32))
        with pytest.raises(ShapeError, match="alpha"):
            mf.detect_landmarks(np.zeros((64, 64, 4), np.uint8))
        with pytest.raises(ShapeError, match=r"\(H, W, 3\)"):
            mf.detect_landmarks(np.zeros((2, 64, 64, 3), np.uint8))
        with pytest.raises(InputValueError, match=r"\[0, 1\]"):
            mf.detect_landmarks(image.astype(np.float32))               # 0-255 floats
        with pytest.raises(InputValueError, match="NaN"):
            mf.detect_landmarks(np.full((64, 64), np.nan))
        with pytest.raises(InputValueError, match="numpy array"):
            mf.detect_landmarks([[0, 1], [2, 3]])

    def test_blank_image_raises_no_face(self):
        with pytest.raises(NoFaceError, match="no face"):
            mf.detect_landmarks(np.zeros((256, 256, 3), np.uint8))

    def test_options(self, image):
        with pytest.raises(OptionError, match="backend"):
            mf.detect_landmarks(image, backend="openface")
        with pytest.raises(OptionError, match="backend"):
            mf.detect_landmarks(image, backend=object())
        with pytest.raises(OptionError, match="scheme"):
            mf.detect_landmarks(image, scheme="ibug49")
        with pytest.raises(OptionError, match="mediapipe478"):
            mf.detect_landmarks(image, backend="mediapipe")           # 68 points requested
        with pytest.raises(OptionError, match="needs backend='mediapipe'"):
            mf.detect_landmarks(image, scheme="mediapipe478")
        with pytest.raises(InputValueError, match="upscale"):
            mf.DlibBackend(upscale=0)
        with pytest.raises(BackendUnavailableError, match="not found"):
            mf.DlibBackend(predictor_path="/nonexistent/predictor.dat")

    def test_missing_optional_backends(self, image, monkeypatch):
        monkeypatch.setattr(be_mod, "_DEFAULTS", {})
        monkeypatch.setitem(sys.modules, "face_alignment", None)       # import -> ImportError
        monkeypatch.setitem(sys.modules, "mediapipe", None)
        with pytest.raises(BackendUnavailableError, match=r"pip install 'mxkit\[face-alignment\]'"):
            mf.detect_landmarks(image, backend="face_alignment")
        with pytest.raises(BackendUnavailableError, match="2DFAN4"):
            mf.FaceAlignmentBackend()
        with pytest.raises(BackendUnavailableError, match="mediapipe"):
            mf.detect_landmarks(image, backend="mediapipe", scheme="mediapipe478")
        assert isinstance(BackendUnavailableError("x"), ImportError)


# ---------------------------------------------------------------- face_alignment (faked model)


class FakeFA:
    """Stands in for face_alignment.FaceAlignment: records calls, returns fixed points."""

    def __init__(self, result):
        self.result = result
        self.calls = []

    def get_landmarks_from_image(self, image, detected_faces=None, return_bboxes=False,
                                 return_landmark_score=False):
        self.calls.append((image, detected_faces, return_landmark_score))
        return self.result


class TestFaceAlignmentAdapter:
    def test_values_and_boxes_as_float64(self, image):
        pts = np.random.default_rng(0).uniform(180, 260, (68, 2))
        sc = np.linspace(0.5, 1.0, 68)
        fake = FakeFA(([pts], [sc], None))
        lm = mf.detect_landmarks(image, backend=mf.FaceAlignmentBackend(model=fake))
        (img_seen, faces, want_scores), = fake.calls
        assert img_seen.dtype == np.uint8 and img_seen.shape == (512, 512, 3) and want_scores
        assert len(faces) == 1 and faces[0].dtype == np.float64 and faces[0].shape == (4,)
        np.testing.assert_allclose(faces[0], ASTRONAUT_BOX, atol=2)
        np.testing.assert_allclose(lm.points, pts.astype(np.float32))
        np.testing.assert_allclose(lm.point_scores, sc, rtol=1e-6)
        assert lm.backend == "face_alignment"

    def test_gray_is_sent_as_rgb_and_3d_points_are_cut(self, image):
        pts = np.random.default_rng(1).uniform(0, 100, (68, 3))
        fake = FakeFA(([pts], None, None))
        be = mf.FaceAlignmentBackend(model=fake)
        lm = mf.detect_landmarks(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), backend=be,
                                 box=ASTRONAUT_BOX)
        assert fake.calls[0][0].shape == (512, 512, 3)
        np.testing.assert_allclose(lm.points, pts[:, :2].astype(np.float32))
        assert lm.point_scores is None

    def test_old_api_without_scores(self, image):
        pts = np.full((68, 2), 50.0)

        class OldFA:
            def get_landmarks_from_image(self, image, detected_faces=None):
                return [pts]

        lm = mf.detect_landmarks(image, backend=mf.FaceAlignmentBackend(model=OldFA()), box=ASTRONAUT_BOX)
        np.testing.assert_allclose(lm.points, pts)

    def test_exceptions(self, image, tmp_path):
        with pytest.raises(NoFaceError):
            mf.detect_landmarks(image, backend=mf.FaceAlignmentBackend(model=FakeFA((None, None, None))),
                                box=ASTRONAUT_BOX)
        with pytest.raises(ShapeError, match="68"):
            mf.detect_landmarks(image, backend=mf.FaceAlignmentBackend(model=FakeFA(([np.zeros((5, 2))], None, None))),
                                box=ASTRONAUT_BOX)
        with pytest.raises(InputValueError, match="get_landmarks_from_image"):
            mf.FaceAlignmentBackend(model=object())
        with pytest.raises(InputValueError, match="not both"):
            mf.FaceAlignmentBackend(model=FakeFA(None), weights="x.zip")
        with pytest.raises(BackendUnavailableError, match="not found"):
            mf.FaceAlignmentBackend(weights=tmp_path / "2DFAN4-missing.zip")
        bad = tmp_path / "garbage.zip"
        bad.write_bytes(b"not a checkpoint")
        with pytest.raises(CheckpointError):
            mf.FaceAlignmentBackend(weights=bad)

    def test_state_dict_needs_fan_architecture(self, tmp_path, monkeypatch):
        torch = pytest.importorskip("torch")
        path = tmp_path / "fan.pth.tar"
        torch.save({"state_dict": {"module.conv1.weight": torch.zeros(1)}}, path)
        monkeypatch.setitem(sys.modules, "face_alignment", None)
        monkeypatch.setitem(sys.modules, "face_alignment.models", None)
        with pytest.raises(BackendUnavailableError, match="FAN"):
            mf.FaceAlignmentBackend(weights=path)


def _peak_heatmaps(cells: np.ndarray, size: int = 64) -> np.ndarray:
    """(68, size, size) heatmaps with a symmetric peak centred on integer cells (col, row)."""
    yy, xx = np.mgrid[0:size, 0:size]
    return np.stack([np.exp(-((xx - c) ** 2 + (yy - r) ** 2) / 2.0) for c, r in cells]).astype(np.float32)


class TestFANRunner:
    """The crop / heatmap-decoding geometry of the weights= path, with fake networks."""

    def _expected(self, runner, box, cells):
        m = runner.crop_transform(np.asarray(box, np.float64))
        crop_px = cells * 4.0 + 1.5                       # centre of 4x4 crop pixels per cell
        return mf.transform_points(crop_px, mf.invert(m))

    def test_crop_geometry_and_decoding(self, image):
        torch = pytest.importorskip("torch")
        cells = np.random.default_rng(2).integers(8, 56, (68, 2)).astype(np.float64)
        hm = torch.from_numpy(_peak_heatmaps(cells))[None]
        seen = []

        def net(x):
            seen.append(x)
            return [hm * 0.5, hm]                           # FAN-style list: last stack wins

        runner = be_mod._FANRunner(net)
        box = np.asarray(ASTRONAUT_BOX, np.float64)
        (pts,), (scores,), _ = runner.get_landmarks_from_image(image, detected_faces=[box],
                                                               return_landmark_score=True)
        np.testing.assert_allclose(pts, self._expected(runner, box, cells), atol=1e-6)
        np.testing.assert_allclose(scores, 1.0, atol=1e-6)
        x = seen[0]
        assert tuple(x.shape) == (1, 3, 256, 256) and x.dtype == torch.float32
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
        # the crop really holds the face where crop_transform says: compare one pixel
        m = runner.crop_transform(box)
        j, i = np.rint(mf.transform_points(np.array([[225.0, 127.0]]), m)[0]).astype(int)
        src = mf.transform_points(np.array([[j, i]], np.float64), mf.invert(m))[0]
        expect = cv2.getRectSubPix(image.astype(np.float32), (1, 1), tuple(src))[0, 0] / 255.0
        np.testing.assert_allclose(x[0, :, i, j].numpy(), expect, atol=0.02)

    def test_flip_input_uses_mirror_permutation(self, image):
        torch = pytest.importorskip("torch")
        cells = np.random.default_rng(3).integers(8, 56, (68, 2)).astype(np.float64)
        true_hm = _peak_heatmaps(cells)
        # what a perfect network predicts on the mirrored crop: landmark i is the mirror of
        # landmark MIRROR_68[i], seen at column 63 - c
        mirrored = true_hm[list(mf.MIRROR_68)][:, :, ::-1].copy()
        outs = iter([torch.from_numpy(true_hm)[None], torch.from_numpy(mirrored)[None]])
        runner = be_mod._FANRunner(lambda x: next(outs), flip_input=True)
        box = np.asarray(ASTRONAUT_BOX, np.float64)
        (pts,) = runner.get_landmarks_from_image(image, detected_faces=[box])
        np.testing.assert_allclose(pts, self._expected(runner, box, cells), atol=1e-6)

    def test_torchscript_weights_end_to_end(self, image, tmp_path):
        torch = pytest.importorskip("torch")
        cells = np.random.default_rng(4).integers(8, 56, (68, 2)).astype(np.float64)

        class Fixed(torch.nn.Module):
            def __init__(self, hm):
                super().__init__()
                self.register_buffer("hm", hm)

            def forward(self, x):
                return self.hm.unsqueeze(0).expand(x.shape[0], -1, -1, -1)

        path = tmp_path / "2DFAN4-fake.zip"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)      # torch.jit.* deprecation
            torch.jit.trace(Fixed(torch.from_numpy(_peak_heatmaps(cells))),
                            torch.zeros(1, 3, 256, 256)).save(str(path))
        be = mf.FaceAlignmentBackend(weights=path)
        lm = mf.detect_landmarks(image, backend=be)
        expected = self._expected(be.model, lm.box.as_array(), cells)
        np.testing.assert_allclose(lm.points, expected, atol=1e-4)


# ---------------------------------------------------------------------- mediapipe (faked)


class FakeFaceMesh:
    def __init__(self, n=478, found=True):
        rng = np.random.default_rng(5)
        self.xyz = rng.uniform(0.2, 0.8, (n, 3))
        self.found = found
        self.shapes = []

    def process(self, rgb):
        self.shapes.append(rgb.shape)
        pts = [types.SimpleNamespace(x=x, y=y, z=z) for x, y, z in self.xyz]
        faces = [types.SimpleNamespace(landmark=pts)] if self.found else None
        return types.SimpleNamespace(multi_face_landmarks=faces)


class TestMediaPipeAdapter:
    def test_mesh_values(self, image):
        fake = FakeFaceMesh()
        lm = mf.detect_landmarks(image, backend=mf.MediaPipeBackend(model=fake), scheme="mediapipe478")
        assert lm.points is None and lm.mesh.shape == (478, 3) and lm.backend == "mediapipe"
        np.testing.assert_allclose(lm.mesh[:, 0], fake.xyz[:, 0] * 512 - 0.5, rtol=1e-5)
        np.testing.assert_allclose(lm.mesh[:, 2], fake.xyz[:, 2] * 512, rtol=1e-5)
        with pytest.raises(InputValueError, match="mesh"):
            lm.to_dataframe()

    def test_box_crops_and_offsets(self, image):
        fake = FakeFaceMesh()
        box = mf.FaceBox(*ASTRONAUT_BOX)
        lm = mf.detect_landmarks(image, backend=mf.MediaPipeBackend(model=fake), box=box,
                                 scheme="mediapipe478")
        h, w = fake.shapes[0][:2]
        assert (h, w) != (512, 512)
        win = box.scaled(1.8)
        np.testing.assert_allclose(lm.mesh[:, 0], fake.xyz[:, 0] * w - 0.5 + math.floor(win.x0), rtol=1e-5)

    def test_exceptions(self, image):
        with pytest.raises(NoFaceError):
            mf.detect_landmarks(image, backend=mf.MediaPipeBackend(model=FakeFaceMesh(found=False)),
                                scheme="mediapipe478")
        with pytest.raises(OptionError, match="478"):
            mf.detect_landmarks(image, backend=mf.MediaPipeBackend(model=FakeFaceMesh()))
        with pytest.raises(InputValueError, match="process"):
            mf.MediaPipeBackend(model=object())


# ----------------------------------------------------------------- detect_landmarks_sequence


SEQ_SHIFTS = [(2.0 * k, -1.0 * k) for k in range(5)]


@pytest.fixture(scope="module")
def clip(image):
    return _shifted_clip(image, SEQ_SHIFTS)


class TestDetectLandmarksSequence:
    SHIFTS = SEQ_SHIFTS

    def test_follows_known_shifts(self, clip):
        seq = mf.detect_landmarks_sequence(clip)
        assert np.asarray(seq).shape == (5, 68, 2) and seq.points.dtype == np.float32
        assert seq.interpolated == () and np.isfinite(seq.scores).all()
        for k, s in enumerate(self.SHIFTS):
            assert np.abs(seq.points[k] - seq.points[0] - s).mean() < 0.8
        track = mf.detect_landmarks_sequence(list(clip), policy="track")   # a list works too
        assert np.abs(track.points - seq.points).max() <= 2.0
        assert np.isnan(track.scores[1:]).all() and track.scores[0] > 0
        df = seq.to_dataframe()
        assert len(df) == 5 * 68 and not df["interpolated"].any()

    def test_interpolate_blank_frame(self, clip):
        frames = clip.copy()
        frames[2] = 0
        seq = mf.detect_landmarks_sequence(frames, policy="interpolate")
        assert seq.interpolated == (2,) and seq.interpolated_mask.tolist() == [0, 0, 1, 0, 0]
        np.testing.assert_allclose(seq.points[2], 0.5 * (seq.points[1] + seq.points[3]), atol=1e-4)
        assert np.isnan(seq.boxes[2]).all() and np.isnan(seq.scores[2])
        assert np.abs(seq.points[2] - seq.points[0] - self.SHIFTS[2]).mean() < 1.0
        assert seq.to_dataframe().query("frame == 2")["interpolated"].all()

    def test_interpolate_blank_first_frame_holds_nearest(self, clip):
        frames = clip[:3].copy()
        frames[0] = 0
        seq = mf.detect_landmarks_sequence(frames, policy="interpolate")
        assert seq.interpolated == (0,)
        np.testing.assert_array_equal(seq.points[0], seq.points[1])

    def test_raise_names_frame(self, clip):
        frames = clip.copy()
        frames[3] = 0
        with pytest.raises(NoFaceError, match="frame 3 of 5") as info:
            mf.detect_landmarks_sequence(frames, policy="raise")
        assert info.value.frame_index == 3
        frames[0] = 0
        with pytest.raises(NoFaceError, match="frame 0") as info:
            mf.detect_landmarks_sequence(frames, policy="track")
        assert info.value.frame_index == 0
        with pytest.raises(NoFaceError, match="any of the 2 frames"):
            mf.detect_landmarks_sequence(np.zeros((2, 64, 64, 3), np.uint8), policy="interpolate")

    def test_exceptions(self, clip, image):
        with pytest.raises(OptionError, match="policy"):
            mf.detect_landmarks_sequence(clip, policy="skip")
        with pytest.raises(OptionError, match="mediapipe"):
            mf.detect_landmarks_sequence(clip, backend="mediapipe")
        with pytest.raises(ShapeError, match="single RGB image"):
            mf.detect_landmarks_sequence(image)
        with pytest.raises(ShapeError, match="same shape"):
            mf.detect_landmarks_sequence([image, image[:256]], policy="track")
        with pytest.raises(InputValueError, match=r"\[0, 1\]"):
            mf.detect_landmarks_sequence(clip[:2].astype(np.float32))


# ------------------------------------------------------------------------------- similarity


def _random_similarity(rng):
    return mf.Similarity.from_params(scale=rng.uniform(0.5, 2.0), angle=rng.uniform(-math.pi, math.pi),
                                     translation=rng.uniform(-50, 50, 2))


def _naive_similarity(src, dst):
    """Linear least squares in (a, b, tx, ty) with u' = a u - b v + tx, v' = b u + a v + ty."""
    n = len(src)
    a = np.zeros((2 * n, 4))
    a[0::2] = np.column_stack([src[:, 0], -src[:, 1], np.ones(n), np.zeros(n)])
    a[1::2] = np.column_stack([src[:, 1], src[:, 0], np.zeros(n), np.ones(n)])
    (pa, pb, tx, ty), *_ = np.linalg.lstsq(a, dst.reshape(-1), rcond=None)
    return np.array([[pa, -pb, tx], [pb, pa, ty]])


class TestEstimateSimilarity:
    def test_exact_recovery(self):
        rng = np.random.default_rng(0)
        for _ in range(5):
            true = _random_similarity(rng)
            src = rng.uniform(0, 200, (68, 2))
            est = mf.estimate_similarity(src, true.apply(src))
            np.testing.assert_allclose(est.matrix, true.matrix, atol=1e-9)
            assert est.scale == pytest.approx(true.scale) and est.angle == pytest.approx(true.angle)

    def test_matches_naive_least_squares(self):
        rng = np.random.default_rng(1)
        src = rng.uniform(0, 100, (40, 2))
        dst = _random_similarity(rng).apply(src) + rng.normal(0, 2.0, src.shape)
        np.testing.assert_allclose(mf.estimate_similarity(src, dst).matrix, _naive_similarity(src, dst),
                                   atol=1e-8)

    def test_reflection_excluded(self):
        rng = np.random.default_rng(2)
        src = rng.uniform(0, 100, (20, 2))
        est = mf.estimate_similarity(src, src * [-1, 1])
        assert np.linalg.det(est.matrix[:, :2]) > 0

    def test_weights_and_no_rotation(self):
        rng = np.random.default_rng(3)
        src = rng.uniform(0, 100, (20, 2))
        true = mf.Similarity.from_params(scale=1.5, translation=(3, -4))
        dst = true.apply(src)
        dst[0] += 500                                         # an outlier with zero weight
        w = np.ones(20)
        w[0] = 0
        np.testing.assert_allclose(mf.estimate_similarity(src, dst, weights=w).matrix, true.matrix, atol=1e-9)
        np.testing.assert_allclose(mf.estimate_similarity(src, dst, weights=w, rotation=False).matrix,
                                   true.matrix, atol=1e-9)
        assert mf.estimate_similarity(src, dst, rotation=False).angle == 0.0

    def test_transform_invert_compose(self):
        rng = np.random.default_rng(4)
        a, b = _random_similarity(rng), _random_similarity(rng)
        p = rng.uniform(0, 100, (3, 5, 2)).astype(np.float32)
        assert mf.transform_points(p, a).dtype == np.float32 and mf.transform_points(p, a).shape == (3, 5, 2)
        np.testing.assert_allclose((a @ b).apply(p.astype(np.float64)), a.apply(b.apply(p.astype(np.float64))))
        np.testing.assert_allclose(a.inverse().apply(a.apply(p.astype(np.float64))), p, atol=1e-4)
        np.testing.assert_allclose(mf.invert(mf.invert(a.matrix)), a.matrix, atol=1e-12)
        assert isinstance(mf.invert(a), mf.Similarity)
        # OpenCV's rotation angle (counter-clockwise on screen) is the negative of ours
        m = cv2.getRotationMatrix2D((10.0, 20.0), 30.0, 2.0)
        assert math.degrees(mf.Similarity(m).angle) == pytest.approx(-30.0)

    def test_exceptions(self):
        pts = np.random.default_rng(5).uniform(0, 1, (5, 2))
        with pytest.raises(ShapeError):
            mf.estimate_similarity(pts, pts[:4])
        with pytest.raises(InputValueError, match="at least 2"):
            mf.estimate_similarity(pts[:1], pts[:1])
        with pytest.raises(InputValueError, match="coincident"):
            mf.estimate_similarity(np.ones((5, 2)), pts)
        with pytest.raises(InputValueError, match="NaN"):
            mf.estimate_similarity(np.where(pts > 0.5, np.nan, pts), pts)
        with pytest.raises(InputValueError, match="weights"):
            mf.estimate_similarity(pts, pts, weights=-np.ones(5))
        with pytest.raises(InputValueError, match="singular"):
            mf.invert(np.zeros((2, 3)))
        with pytest.raises(InputValueError, match="not a similarity"):
            mf.Similarity(np.array([[1.0, 0, 0], [0, 2.0, 0]]))
        with pytest.raises(ShapeError):
            mf.transform_points(pts, np.eye(2))


# ----------------------------------------------------------------------------- template


class TestTemplate:
    def test_template_is_rebuilt_from_astronaut(self, landmarks):
        np.testing.assert_allclose(mf.build_template(landmarks.points), mf.TEMPLATE_68, atol=1e-4)

    def test_symmetry_and_normalisation(self):
        t = mf.TEMPLATE_68
        mirror = list(mf.MIRROR_68)
        assert [mf.MIRROR_68[i] for i in mf.MIRROR_68] == list(range(68))
        np.testing.assert_allclose(t[:, 0], -t[mirror, 0], atol=1e-5)
        np.testing.assert_allclose(t[:, 1], t[mirror, 1], atol=1e-5)
        np.testing.assert_allclose(t.min(0)[0] + t.max(0)[0], 0, atol=1e-5)
        assert t.max(0)[0] - t.min(0)[0] == pytest.approx(1.0, abs=1e-5)
        assert t[36:42, 0].mean() < 0 < t[42:48, 0].mean()                # right eye image-left
        assert t[36:42, 1].mean() == pytest.approx(t[42:48, 1].mean(), abs=1e-5)

    def test_build_template_is_similarity_invariant(self, landmarks):
        sim = mf.Similarity.from_params(scale=0.6, angle=0.4, translation=(30, -7))
        np.testing.assert_allclose(mf.build_template(sim.apply(landmarks.points.astype(np.float64))),
                                   mf.build_template(landmarks.points), atol=1e-6)

    def test_place_template(self):
        p = mf.place_template(output_size=200, face_scale=0.5)
        assert p[:, 0].max() - p[:, 0].min() == pytest.approx(100.0)
        assert 0.5 * (p[:, 0].max() + p[:, 0].min()) == pytest.approx(99.5)
        with pytest.raises(InputValueError, match="face_scale"):
            mf.place_template(face_scale=0)
        with pytest.raises(InputValueError, match="output_size"):
            mf.place_template(output_size=3)


# ------------------------------------------------------------------------------- align_clip


WARP_ANGLE, WARP_SCALE, WARP_SHIFT = 10.0, 0.85, (15.0, -10.0)   # cv2 angle: counter-clockwise


@pytest.fixture(scope="module")
def warp(image):
    w = cv2.getRotationMatrix2D((256.0, 256.0), WARP_ANGLE, WARP_SCALE)
    w[:, 2] += WARP_SHIFT
    warped = cv2.warpAffine(image, w, (512, 512), flags=cv2.INTER_LINEAR)
    return w, warped, mf.detect_landmarks(warped).points


class TestAlignClip:
    ANGLE, SCALE, SHIFT = WARP_ANGLE, WARP_SCALE, WARP_SHIFT

    def test_known_warp_is_undone(self, image, landmarks, warp):
        w, warped, lw = warp
        lo = landmarks.points
        back = mf.transform_points(lw, mf.invert(w))
        err = np.linalg.norm(back - lo, axis=1)
        assert err.mean() < 1.0 and err.max() < 2.5                     # detector noise only
        est = mf.estimate_similarity(lo, lw)
        assert math.degrees(est.angle) == pytest.approx(-self.ANGLE, abs=0.5)
        assert est.scale == pytest.approx(self.SCALE, rel=0.01)
        ao = mf.align_clip(image[None], lo[None])
        aw = mf.align_clip(warped[None], lw[None])
        assert aw.fit_rms_px < 2.5 and ao.fit_rms_px < 2.0               # onto the template placement
        assert np.linalg.norm(aw.landmarks[0] - aw.template, axis=1).max() < 6.0
        assert np.linalg.norm(aw.landmarks[0] - ao.landmarks[0], axis=1).mean() < 2.0
        assert math.degrees(aw.similarity.angle - ao.similarity.angle) == pytest.approx(self.ANGLE, abs=0.5)
        assert aw.similarity.scale / ao.similarity.scale == pytest.approx(1 / self.SCALE, rel=0.015)
        diff = np.abs(aw.frames[0].astype(float) - ao.frames[0].astype(float))[32:224, 32:224]
        assert diff.mean() < 5.0

    def test_pixels_and_points_agree(self):
        """A bright blob at a known point lands where transform_points puts that point."""
        h, w = 180, 240
        pts = mf.Similarity.from_params(scale=0.3, angle=0.3, translation=(80, 60)).apply(
            mf.place_template(output_size=256))
        u0, v0 = pts.mean(axis=0) + (5.3, -3.4)
        yy, xx = np.mgrid[0:h, 0:w]
        img = (255 * np.exp(-((xx - u0) ** 2 + (yy - v0) ** 2) / (2 * 2.0 ** 2))).astype(np.uint8)
        out = mf.align_clip(img[None], pts[None], output_size=128, face_scale=0.8)
        a = out.frames[0].astype(np.float64)
        ys, xs = np.mgrid[0:128, 0:128]
        centroid = np.array([(a * xs).sum(), (a * ys).sum()]) / a.sum()
        np.testing.assert_allclose(centroid, mf.transform_points(np.array([u0, v0]), out.transform), atol=0.15)
        np.testing.assert_allclose(out.to_original(out.landmarks[0]), pts, atol=1e-3)

    def test_same_transform_for_every_frame(self, image, landmarks):
        shifts = [(0.0, 0.0), (3.0, -2.0), (-1.5, 4.0)]
        clip = _shifted_clip(image[::2, ::2], shifts)                    # 256 x 256 frames
        lms = np.stack([landmarks.points / 2 + s for s in shifts]).astype(np.float32)
        out = mf.align_clip(clip, lms, reference_index=0, output_size=96)
        assert out.frames.shape == (3, 96, 96, 3) and out.frames.dtype == np.uint8
        assert out.landmarks.shape == (3, 68, 2) and out.landmarks.dtype == np.float32
        for t in range(3):
            np.testing.assert_allclose(out.landmarks[t], mf.transform_points(lms[t], out.transform), atol=1e-4)
            expect = cv2.warpAffine(clip[t], out.transform, (96, 96), flags=cv2.INTER_LINEAR)
            np.testing.assert_array_equal(out.frames[t], expect)
        # the shift between frames survives alignment (scaled by the similarity)
        np.testing.assert_allclose(out.landmarks[1] - out.landmarks[0],
                                   np.broadcast_to(out.similarity.matrix[:, :2] @ shifts[1], (68, 2)), atol=1e-3)
        last = mf.align_clip(clip, lms, reference_index=-1, output_size=96)
        assert last.reference_index == 2
        np.testing.assert_allclose(out.inverse @ np.vstack([out.transform, [0, 0, 1]]), np.eye(3)[:2],
                                   atol=1e-9)

    def test_custom_template_gray_and_no_rotation(self, image, landmarks):
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        out = mf.align_clip(gray[None], landmarks.points[None], template=landmarks.points, output_size=64)
        assert out.frames.shape == (1, 64, 64) and out.fit_rms_px < 1e-3
        upright = mf.align_clip(gray[None], landmarks.points[None], rotation=False, output_size=64)
        assert upright.similarity.angle == 0.0
        five = mf.align_clip(gray[None], landmarks.points[None, :5], template=landmarks.points[:5] * 2)
        assert five.landmarks.shape == (1, 5, 2)

    def test_exceptions(self, image, landmarks):
        lms = landmarks.points[None]
        with pytest.raises(ShapeError, match="one set per frame"):
            mf.align_clip(np.stack([image, image]), lms)
        bad = lms.copy()
        bad[0, 3] = np.nan
        with pytest.raises(InputValueError, match="reference frame 0"):
            mf.align_clip(image[None], bad)
        with pytest.raises(InputValueError, match="reference_index"):
            mf.align_clip(image[None], lms, reference_index=1)
        with pytest.raises(OptionError, match="border"):
            mf.align_clip(image[None], lms, border="wrap")
        with pytest.raises(ShapeError, match="template"):
            mf.align_clip(image[None], lms[:, :10])
        with pytest.raises(ShapeError, match="points"):
            mf.align_clip(image[None], lms, template=np.random.default_rng(0).uniform(0, 1, (10, 2)))


# ---------------------------------------------------------------------- smoothing and jitter


class TestSmoothLandmarks:
    @pytest.fixture(scope="class")
    @classmethod
    def tracks(cls):
        rng = np.random.default_rng(0)
        t = np.arange(200.0)
        phase = rng.uniform(0, 2 * np.pi, (1, 68, 2))
        truth = 100 + 3 * np.sin(2 * np.pi * t[:, None, None] / 60 + phase)
        return truth, truth + rng.normal(0, 0.5, truth.shape)

    @pytest.mark.parametrize("kwargs", [dict(method="savgol", window=11, polyorder=2),
                                        dict(method="gaussian", sigma=2.0)])
    def test_reduces_jitter(self, tracks, kwargs):
        truth, noisy = tracks
        out = mf.smooth_landmarks(noisy, **kwargs)
        assert out.shape == noisy.shape
        err_in = np.sqrt(((noisy - truth) ** 2).mean())
        err_out = np.sqrt(((out - truth) ** 2).mean())
        assert err_out < 0.5 * err_in

    def test_none_and_dtype(self, tracks):
        noisy = tracks[1].astype(np.float32)
        np.testing.assert_array_equal(mf.smooth_landmarks(noisy, method="none"), noisy)
        assert mf.smooth_landmarks(noisy).dtype == np.float32
        const = np.full((20, 68, 2), 7.0)
        np.testing.assert_allclose(mf.smooth_landmarks(const), const)    # constants pass unchanged

    def test_exceptions(self, tracks):
        noisy = tracks[1]
        with pytest.raises(OptionError, match="method"):
            mf.smooth_landmarks(noisy, method="kalman")
        with pytest.raises(InputValueError, match="odd"):
            mf.smooth_landmarks(noisy, window=8)
        with pytest.raises(InputValueError, match="exceed"):
            mf.smooth_landmarks(noisy[:5], window=7)
        with pytest.raises(InputValueError, match="polyorder"):
            mf.smooth_landmarks(noisy, window=5, polyorder=5)
        with pytest.raises(InputValueError, match="sigma"):
            mf.smooth_landmarks(noisy, method="gaussian", sigma=0)
        with pytest.raises(InputValueError, match="NaN"):
            mf.smooth_landmarks(np.full((10, 68, 2), np.nan))
        with pytest.raises(ShapeError):
            mf.smooth_landmarks(noisy[0])


class TestNoiseFloor:
    T_NEUTRAL = 600

    @pytest.fixture(scope="class")
    @classmethod
    def track(cls):
        rng = np.random.default_rng(1)
        base = mf.place_template(output_size=256)                      # IOD known below
        sigma = 0.05 + 0.01 * np.arange(68)                            # per-landmark std, px
        n = cls.T_NEUTRAL + 100
        t = np.arange(n)[:, None, None]
        x = base + 0.004 * t + rng.normal(0, 1, (n, 68, 2)) * sigma[None, :, None]   # slow drift
        x[cls.T_NEUTRAL:] += 5 * np.sin(np.arange(100) / 10)[:, None, None]            # an expression
        return x, sigma, float(np.linalg.norm(base[45] - base[36]))

    def test_recovers_known_std(self, track):
        x, sigma, iod = track
        df = mf.landmark_noise_floor(x, neutral=slice(0, self.T_NEUTRAL))
        per = df[df.level == "landmark"].set_index("landmark")
        np.testing.assert_allclose(per["std_px"].to_numpy(), sigma, rtol=0.1)
        np.testing.assert_allclose(per["std_u_px"].to_numpy(), sigma, rtol=0.15)
        assert (per["n_frames"] == self.T_NEUTRAL).all()
        np.testing.assert_allclose(per["std_iod"].to_numpy(), per["std_px"].to_numpy() / iod, rtol=1e-3)
        groups = df[df.level == "group"].set_index("group")
        assert list(groups.index) == ["jaw", "brows", "nose", "eyes", "mouth"]
        for g, members in mf.LANDMARK_GROUPS.items():
            assert groups.loc[g, "std_px"] == pytest.approx(np.sqrt((sigma[list(members)] ** 2).mean()), rel=0.05)
        overall = df[df.level == "all"]["std_px"].iloc[0]
        assert overall == pytest.approx(np.sqrt((sigma ** 2).mean()), rel=0.05)
        assert df["iod_px"].iloc[0] == pytest.approx(iod, rel=1e-3)

    def test_neutral_selections_agree(self, track):
        x = track[0]
        a = mf.landmark_noise_floor(x, neutral=slice(0, self.T_NEUTRAL))
        mask = np.zeros(len(x), bool)
        mask[: self.T_NEUTRAL] = True
        b = mf.landmark_noise_floor(x, neutral=mask)
        c = mf.landmark_noise_floor(x, neutral=np.arange(self.T_NEUTRAL))
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(a, c)
        whole = mf.landmark_noise_floor(x, normalise="none")           # motion counts as jitter
        assert "std_iod" not in whole.columns
        assert whole["std_px"].iloc[-1] > 2 * a["std_px"].iloc[-1]

    def test_exceptions(self, track):
        x = track[0]
        with pytest.raises(InputValueError, match="at least 3"):
            mf.landmark_noise_floor(x, neutral=slice(0, 2))
        bad = x.copy()
        bad[1, 0, 0] = np.nan
        with pytest.raises(InputValueError, match="NaN"):
            mf.landmark_noise_floor(bad, neutral=slice(0, 10))
        with pytest.raises(InputValueError, match="mask"):
            mf.landmark_noise_floor(x, neutral=np.ones(3, bool))
        with pytest.raises(InputValueError, match="neutral"):
            mf.landmark_noise_floor(x, neutral="first")
        with pytest.raises(OptionError, match="normalise"):
            mf.landmark_noise_floor(x, normalise="face")
        with pytest.raises(ShapeError):
            mf.landmark_noise_floor(x[:, :10])
