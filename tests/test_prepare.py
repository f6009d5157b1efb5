"""Tests of mxkit.prepare / prepare_many: known-answer flow and alignment on rendered faces,
the Prepared contract, the per-clip disk cache (hits, corruption, keys) and bad input.

Clips are rendered in memory from the embedded mh-head model with a random smooth skin
texture (mxkit.pipeline.synthetic.known_motion_clip): the image moves by a known sub-pixel
translation per frame (built into the camera, no resampling), optionally under a known global
rotation + scale, so the true flow onset -> t in the crop is ``transform_lin @ W_lin @ d_t``.
"""

from __future__ import annotations

import logging
import math
import os
import time

import cv2
import numpy as np
import pandas as pd
import pytest

import mxkit
import mxkit._version
import mxkit.pipeline.prepared as prep_mod
from mxkit._io import read_image_file, write_image_file
from mxkit.data import Clip
from mxkit.errors import FrameReadError, InputValueError, NoFaceError, OptionError
from mxkit.face import (
    DlibBackend,
    Similarity,
    inter_ocular_distance,
    landmark_noise_floor,
    smooth_landmarks,
)
from mxkit.flow import magnify
from mxkit.pipeline import PHASES, Prepared, PreparedBatch, _cache, prepare, prepare_many
from mxkit.pipeline.synthetic import expected_crop_flow, known_motion_clip, motion_profile

SHIFT = (0.8, -0.4)      # image translation at the apex, px (u right, v down): not a half pixel
SIZE = 128               # crop side
WARP = (8.0, 0.9)        # global rotation (deg, counter-clockwise) and scale of the warped clip


def interior_epe(prep: Prepared, clip: Clip) -> np.ndarray:
    """(T, n) end-point error of the flow in the face interior (brows, eyes, nose, mouth)."""
    mask = prep.face_mask("inner")
    err = prep.flow[:, mask] - expected_crop_flow(clip, prep.transform, reference=prep.onset)[:, None, :]
    return np.hypot(err[..., 0], err[..., 1])


@pytest.fixture(scope="module")
def clip():
    return known_motion_clip(n_frames=5, shift=SHIFT, apex=2, clip_id="shift")


@pytest.fixture(scope="module")
def prep_dis(clip):
    return prepare(clip, size=SIZE, flow="dis")


@pytest.fixture(scope="module")
def prep_tvl1(clip):
    return prepare(clip, size=SIZE, flow="tvl1")


@pytest.fixture
def counted(monkeypatch):
    """Count calls of the expensive steps inside prepare."""
    calls = {"detect": 0, "flow": 0}
    real_detect, real_flow = prep_mod.detect_landmarks_sequence, prep_mod.flow_sequence

    def detect(*a, **k):
        calls["detect"] += 1
        return real_detect(*a, **k)

    def flow(*a, **k):
        calls["flow"] += 1
        return real_flow(*a, **k)

    monkeypatch.setattr(prep_mod, "detect_landmarks_sequence", detect)
    monkeypatch.setattr(prep_mod, "flow_sequence", flow)
    return calls


def write_png_clip(clip: Clip, folder) -> Clip:
    folder.mkdir(parents=True)
    paths = []
    for t, img in enumerate(clip.frames):
        p = folder / f"img{t + 1}.png"
        write_image_file(p, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        paths.append(p)
    return Clip(dataset="disk", subject="sub01", clip_id="c1", frames=paths, fps=clip.fps,
                onset=clip.onset, apex=clip.apex, offset=clip.offset)


def snapshot(folder) -> dict:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


# ----------------------------------------------------------------------------- the fixture


def test_known_motion_clip_is_what_it_says(clip):
    assert clip.frames.shape == (5, 256, 256, 3) and clip.frames.dtype == np.uint8
    np.testing.assert_allclose(clip.meta["profile"], [0, 0.5, 1, 0.5, 0])
    np.testing.assert_allclose(clip.meta["shift_px"][2], SHIFT)
    # the projected model landmarks move exactly by the shift
    moved = clip.meta["landmarks_true"][2] - clip.meta["landmarks_true"][0]
    np.testing.assert_allclose(moved, np.broadcast_to(SHIFT, (68, 2)), atol=1e-9)
    np.testing.assert_allclose(motion_profile(3, 2), [0, 0.5, 1])
    with pytest.raises(InputValueError, match="apex"):
        known_motion_clip(n_frames=3, apex=3)


# ------------------------------------------------------------------------------- contract


class TestContract:
    def test_fields_shapes_and_dtypes(self, prep_dis, clip):
        p = prep_dis
        assert isinstance(p, Prepared) and mxkit.Prepared is Prepared and mxkit.prepare is prepare
        t = clip.n_frames
        assert p.clip_key == ("synthetic", "s0", "shift") and p.fps == 200.0
        assert (p.onset, p.apex, p.offset) == (0, 2, 4)
        assert p.frames.shape == (t, SIZE, SIZE, 3) and p.frames.dtype == np.uint8
        assert p.landmarks.shape == p.landmarks_raw.shape == (t, 68, 2)
        assert p.landmarks.dtype == p.landmarks_raw.dtype == np.float32
        assert p.flow.shape == (t, SIZE, SIZE, 2) and p.flow.dtype == np.float32
        assert p.strain.shape == (t, SIZE, SIZE) and p.strain.dtype == np.float32
        assert isinstance(p.transform, Similarity) and p.magnified is None and not p.cache_hit
        assert not p.flow[p.onset].any() and not p.strain[p.onset].any()
        # landmarks are the raw detections mapped into the crop by the one onset transform
        np.testing.assert_allclose(p.landmarks, p.transform.apply(p.landmarks_raw), atol=1e-3)
        with pytest.raises(AttributeError):
            p.onset = 1
        assert set(p.timing) >= {"load", "detect", "align", "flow", "strain", "total"}
        assert p.params["flow"] == "dis" and p.params["size"] == SIZE and p.params["apex"] == 2
        assert p.params["flow_params"] == {"preset": "medium"} and p.params["frames"].startswith("array:")
        assert p.params["versions"]["mxkit"] == mxkit.__version__
        assert len(p.cache_key) == 32 and "Prepared(" in repr(p)

    def test_crops_are_the_frames_warped_by_the_transform(self, prep_dis, clip):
        for t in (0, 2):
            expect = cv2.warpAffine(clip.frames[t], prep_dis.transform.matrix, (SIZE, SIZE),
                                    flags=cv2.INTER_LINEAR)
            np.testing.assert_array_equal(prep_dis.frames[t], expect)

    def test_dataframe_and_summary(self, prep_dis, clip):
        df = prep_dis.to_dataframe()
        assert list(df.columns) == ["dataset", "subject", "clip_id", "frame", "frame_number", "time_s",
                                    "phase", "flow_mag_mean_px", "strain_mean", "landmark_disp_px",
                                    "landmark_disp_max_px", "interpolated"]
        assert df["phase"].tolist() == ["onset", "rising", "apex", "falling", "offset"]
        assert list(df["phase"].cat.categories) == list(PHASES)
        np.testing.assert_allclose(df["time_s"], np.arange(5) / 200.0)
        # known answer: the whole face moves by |A d_t| px in the crop
        true_mag = np.linalg.norm(expected_crop_flow(clip, prep_dis.transform), axis=1)
        np.testing.assert_allclose(df["flow_mag_mean_px"], true_mag, atol=0.08)
        np.testing.assert_allclose(df["landmark_disp_px"], true_mag, atol=0.5)   # dlib: integer px
        assert df["strain_mean"].iloc[2] < 0.05 and not df["interpolated"].any()
        s = prep_dis.summary()
        assert s["peak_frame"] == 2 and s["apex_annotated"] and s["n_interpolated"] == 0
        assert s["flow_mag_apex_px"] == pytest.approx(true_mag[2], abs=0.08)
        assert math.isnan(s["noise_floor_px"])                       # no frame before the onset
        assert all(isinstance(v, (int, float, str, bool)) for v in s.values())

    def test_apex_unknown_is_the_mid_frame_and_phases(self, clip):
        p = prepare(clip.replace(apex=None, onset=1, offset=3), size=64)
        assert p.apex == 2 and p.params["apex"] is None and not p.summary()["apex_annotated"]
        assert p.phases().tolist() == ["before", "onset", "apex", "offset", "after"]
        assert not p.flow[1].any() and p.flow[0].any()              # flow from the onset frame
        np.testing.assert_allclose(p.to_dataframe()["time_s"], (np.arange(5) - 1) / 200.0)


    def test_masks_and_figure(self, prep_dis, clip):
        import matplotlib.pyplot as plt

        face, inner = prep_dis.face_mask(), prep_dis.face_mask("inner")
        assert face.shape == (SIZE, SIZE) and inner.sum() < face.sum() and not (inner & ~face).any()
        with pytest.raises(OptionError, match="region"):
            prep_dis.face_mask("eyes")
        panels = ("original", "crop", "flow", "arrows", "strain")
        fig = prep_dis.plot(clip=clip, frames=[0, 2], panels=panels)
        assert len(fig.axes) == 2 * len(panels) + 1                     # + the strain colour bar
        plt.close(fig)
        for kwargs, err in [({"panels": ("crop", "hog")}, OptionError), ({"panels": ("original",)}, InputValueError),
                            ({"panels": ("magnified",)}, InputValueError), ({"frames": [9]}, InputValueError),
                            ({"arrow_step": 1}, InputValueError)]:
            with pytest.raises(err):
                prep_dis.plot(**kwargs)


# ------------------------------------------------------------------------- known answers


class TestKnownAnswers:
    def test_tvl1_flow_matches_the_known_subpixel_shift(self, prep_tvl1, clip):
        # Tolerance: mean EPE < 0.08 px and 95th percentile < 0.12 px in the face interior
        # (measured: mean 0.04-0.05, p95 0.06; TV-L1's peak-locking at a 0.8 px shift, the
        # eye slits hold the few worst pixels).
        epe = interior_epe(prep_tvl1, clip)
        assert epe[0].max() == 0.0
        assert epe[1:].mean() < 0.08
        assert np.percentile(epe[1:], 95) < 0.12

    def test_dis_flow_matches_the_known_subpixel_shift(self, prep_dis, clip):
        epe = interior_epe(prep_dis, clip)                          # measured: mean 0.05, p95 0.1
        assert epe[1:].mean() < 0.1 and np.percentile(epe[1:], 95) < 0.2

    def test_alignment_undoes_a_known_rotation_and_scale(self, prep_tvl1, clip):
        angle, scale = WARP
        warped = known_motion_clip(n_frames=5, shift=SHIFT, apex=2, clip_id="warped",
                                   warp_angle_deg=angle, warp_scale=scale)
        pw = prepare(warped, size=SIZE, flow="tvl1")
        p0 = prep_tvl1
        # the onset transform absorbed the warp: crop = T_w o W ~= T_0
        assert math.degrees(pw.transform.angle - p0.transform.angle) == pytest.approx(angle, abs=0.5)
        assert pw.transform.scale / p0.transform.scale == pytest.approx(1 / scale, rel=0.01)
        # landmarks in the crop stay put (dlib noise only) and so do the crops
        d = np.linalg.norm(pw.landmarks - p0.landmarks, axis=-1)
        assert d.mean() < 1.0 and d.max() < 3.0                   # measured 0.65 / 2.5 px
        mask = p0.face_mask("inner")
        assert np.abs(pw.frames[:, mask].astype(float) - p0.frames[:, mask]).mean() < 2.0
        # and the flow in the warped clip's crop is the known motion seen through both transforms
        epe = interior_epe(pw, warped)
        assert epe[1:].mean() < 0.08 and np.percentile(epe[1:], 95) < 0.15

    def test_landmarks_on_synthme_within_the_stated_nme(self):
        from mxkit.data.synth import generate_clip, generate_subject

        subject = generate_subject(seed=1, texture_size=512)
        synth = generate_clip(subject, expression_type="micro", seed=0, fps=50.0)        # 25 frames
        p = prepare(synth, size=SIZE)
        truth = p.transform.apply(synth.ground_truth.landmarks.astype(np.float64))   # into the crop
        nme = np.linalg.norm(p.landmarks - truth, axis=-1).mean(axis=1) / inter_ocular_distance(truth)
        # NME (68 points, by the outer-eye-corner distance): measured 0.045 mean, 0.048 max.
        # Most of it is definition, not noise: dlib's jaw contour and brows sit differently
        # from the model's own iBUG-68 embedding (inner 51 points alone: ~0.031).
        assert nme.mean() < 0.06 and nme.max() < 0.08

    def test_landmarks_follow_the_known_shift(self, prep_dis, clip):
        moved = prep_dis.landmarks_raw[2] - prep_dis.landmarks_raw[0]
        np.testing.assert_allclose(moved.mean(axis=0), SHIFT, atol=0.35)


# ----------------------------------------------------------------- smoothing, noise, EVM


class TestOptions:
    def test_smoothing_keeps_raw_and_aligns_on_smoothed(self, clip, prep_dis):
        opts = {"method": "savgol", "window": 5, "polyorder": 2}
        p = prepare(clip, size=SIZE, smooth=opts)
        np.testing.assert_array_equal(p.landmarks_raw, prep_dis.landmarks_raw)
        smoothed = smooth_landmarks(p.landmarks_raw, **opts)
        np.testing.assert_allclose(p.landmarks, p.transform.apply(smoothed), atol=1e-3)
        assert p.params["smooth"] == opts
        assert prepare(clip, size=SIZE, smooth="gaussian").params["smooth"] == {"method": "gaussian", "sigma": 1.0}
        with pytest.raises(InputValueError, match="exceeds"):
            prepare(clip, size=SIZE, smooth="savgol")               # default window 7 > 5 frames

    def test_noise_floor_on_neutral_frames(self, clip):
        c = known_motion_clip(n_frames=6, onset=3, apex=5, shift=SHIFT, clip_id="neutral")
        assert c.onset == 3 and not c.meta["shift_px"][:4].any()
        p = prepare(c, size=64)
        nf = p.noise_floor()
        expect = landmark_noise_floor(p.transform.apply(p.landmarks_raw.astype(np.float64)),
                                      neutral=slice(0, 3))
        pd.testing.assert_frame_equal(nf, expect)
        # identical neutral frames and a deterministic detector: zero jitter
        assert float(nf.loc[nf.level == "all", "std_px"].iloc[0]) == pytest.approx(0.0, abs=1e-6)
        assert p.summary()["noise_floor_px"] == pytest.approx(0.0, abs=1e-6)
        with pytest.raises(InputValueError, match="before its onset"):
            prepare(clip, size=64).noise_floor()

    def test_magnify_is_kept_apart_from_the_flow(self, clip, prep_dis):
        opts = {"alpha": 10.0, "r1": 0.4, "r2": 0.05}
        p = prepare(clip, size=SIZE, magnify=opts)
        assert p.magnified.shape == p.frames.shape and p.magnified.dtype == np.uint8
        np.testing.assert_array_equal(p.magnified, magnify(p.frames, fps=clip.fps, **opts))
        assert not np.array_equal(p.magnified[2], p.frames[2])
        np.testing.assert_array_equal(p.flow, prep_dis.flow)         # flow of the true crops
        assert p.params["magnify"]["alpha"] == 10.0 and p.params["magnify"]["levels"] == 4
        assert p.cache_key != prep_dis.cache_key

    def test_no_face_policies(self, clip):
        blanked = known_motion_clip(n_frames=4, shift=SHIFT, blank=(2,), clip_id="blank")
        with pytest.raises(NoFaceError, match=r"clip synthetic/s0/blank: .*frame 2 of 4") as info:
            prepare(blanked, size=64)
        assert info.value.frame_index == 2 and info.value.clip_key == blanked.key
        p = prepare(blanked, size=64, no_face="interpolate")
        assert p.interpolated == (2,) and p.to_dataframe()["interpolated"].tolist() == [0, 0, 1, 0]
        np.testing.assert_allclose(p.landmarks_raw[2], 0.5 * (p.landmarks_raw[1] + p.landmarks_raw[3]),
                                   atol=1e-4)
        with pytest.raises(NoFaceError, match="any of the 2 frames"):
            prepare(Clip(dataset="x", subject="s", clip_id="c", frames=np.zeros((2, 64, 64, 3), np.uint8),
                         fps=30), no_face="interpolate")


# ------------------------------------------------------------------------------- bad input


class TestBadInput:
    def test_options_are_checked_before_any_frame_is_read(self, tmp_path):
        ghost = Clip(dataset="d", subject="s", clip_id="c", frames=[tmp_path / "a.png", tmp_path / "b.png"],
                     fps=100)
        cases = [
            ({"flow": "lucas-kanade"}, OptionError, "flow"),
            ({"landmarks": "openface"}, OptionError, "landmarks"),
            ({"landmarks": "mediapipe"}, OptionError, "478"),
            ({"no_face": "skip"}, OptionError, "no_face"),
            ({"flow": "tvl1", "flow_params": {"preset": "fast"}}, OptionError, "belongs to method 'dis'"),
            ({"flow_params": {"lambda": 1}}, OptionError, "unknown optical-flow parameter"),
            ({"smooth": "kalman"}, OptionError, "smooth"),
            ({"smooth": {"window": 4}}, InputValueError, "odd"),
            ({"smooth": {"sigma": 1}}, OptionError, "unknown smooth option"),
            ({"magnify": {"beta": 1}}, OptionError, "unknown magnify option"),
            ({"magnify": {"alpha": -1.0}}, InputValueError, "alpha"),
            ({"magnify": {"levels": 9}}, InputValueError, "levels"),
            ({"size": 7}, InputValueError, "size"),
            ({"strain": "backward"}, OptionError, "strain"),
            ({"rotation": "yes"}, InputValueError, "rotation"),
        ]
        for kwargs, err, match in cases:
            with pytest.raises(err, match=match):
                prepare(ghost, **kwargs)
        with pytest.raises(FrameReadError, match="a.png"):           # valid options: now the frames
            prepare(ghost)

    def test_clip_checks(self, clip):
        with pytest.raises(InputValueError, match="mxkit.data.Clip"):
            prepare(clip.frames)
        one = Clip(dataset="d", subject="s", clip_id="one", frames=clip.frames[:1], fps=200)
        with pytest.raises(InputValueError, match="d/s/one has 1 frame"):
            prepare(one)

    def test_unreadable_frames_name_the_path(self, clip, tmp_path):
        disk = write_png_clip(known_motion_clip(n_frames=3, shift=SHIFT), tmp_path / "data" / "sub01" / "c1")
        bad = disk.frames[1]
        bad.write_bytes(b"this is not a PNG")
        with pytest.raises(FrameReadError, match=r"clip disk/sub01/c1: .*img2\.png") as info:
            prepare(disk)
        assert info.value.clip_key == disk.key
        bad.unlink()
        with pytest.raises(FrameReadError, match=r"img2\.png.*does not exist"):
            prepare(disk, cache_dir=tmp_path / "cache")
        assert not (tmp_path / "cache").exists()


# ------------------------------------------------------------------------------ the cache


class TestCache:
    def test_hit_returns_identical_arrays_without_recomputing(self, clip, tmp_path, counted):
        first = prepare(clip, size=SIZE, cache_dir=tmp_path)
        assert not first.cache_hit and counted == {"detect": 1, "flow": 1}
        (entry,) = tmp_path.rglob("*.npz")
        assert entry.parent == tmp_path / "prepared" / "synthetic" / "s0"
        assert entry.name == f"shift.{first.cache_key[:16]}.npz"
        assert not list(tmp_path.rglob("*.tmp"))
        second = prepare(clip, size=SIZE, cache_dir=tmp_path)
        assert second.cache_hit and counted == {"detect": 1, "flow": 1}
        for name in ("frames", "landmarks", "landmarks_raw", "flow", "strain"):
            a, b = getattr(first, name), getattr(second, name)
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(first.transform.matrix, second.transform.matrix)
        assert second.params == first.params and second.align_rms_px == first.align_rms_px
        assert "cache_read" in second.timing and second.timing["detect"] == first.timing["detect"]
        pd.testing.assert_frame_equal(first.to_dataframe(), second.to_dataframe())

    @pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "checksum", "foreign_key"])
    def test_damaged_entry_is_detected_and_rebuilt(self, clip, tmp_path, counted, caplog, damage):
        first = prepare(clip, size=64, cache_dir=tmp_path)
        (entry,) = tmp_path.rglob("*.npz")
        data = entry.read_bytes()
        if damage == "truncate":
            entry.write_bytes(data[: len(data) // 2])
        elif damage == "garbage":
            entry.write_bytes(np.random.default_rng(0).bytes(len(data)))
        elif damage == "empty":
            entry.write_bytes(b"")
        else:
            with np.load(entry) as z:
                members = {k: z[k] for k in z.files}
            if damage == "checksum":
                members["flow"] = members["flow"] + np.float32(0.25)   # same manifest, other data
            else:
                members["__manifest__"] = np.frombuffer(
                    bytes(members["__manifest__"]).replace(first.cache_key.encode(), b"0" * 32), np.uint8)
            with open(entry, "wb") as fh:
                np.savez(fh, **members)
        with caplog.at_level(logging.WARNING, logger="mxkit.pipeline"):
            again = prepare(clip, size=64, cache_dir=tmp_path)
        assert not again.cache_hit and counted["detect"] == 2 and "unusable" in caplog.text
        np.testing.assert_array_equal(again.flow, first.flow)
        assert prepare(clip, size=64, cache_dir=tmp_path).cache_hit and counted["detect"] == 2

    def test_interrupted_write_leaves_no_entry(self, clip, tmp_path, monkeypatch, caplog):
        def half_then_fail(fh, **arrays):
            fh.write(b"PK\x03\x04 half an entry")
            raise OSError("No space left on device")

        monkeypatch.setattr(_cache.np, "savez", half_then_fail)
        with caplog.at_level(logging.WARNING, logger="mxkit.pipeline"):
            p = prepare(clip, size=64, cache_dir=tmp_path)
        assert not p.cache_hit and "could not write" in caplog.text    # the result is still returned
        assert not [f for f in tmp_path.rglob("*") if f.is_file()]      # no entry, no temporary file

        def interrupted(fh, **arrays):
            fh.write(b"PK\x03\x04")
            raise KeyboardInterrupt

        monkeypatch.setattr(_cache.np, "savez", interrupted)
        with pytest.raises(KeyboardInterrupt):
            prepare(clip, size=64, cache_dir=tmp_path)
        assert not [f for f in tmp_path.rglob("*") if f.is_file()]

    def test_stale_temporary_files(self, clip, tmp_path, counted):
        key = prepare(clip, size=64).cache_key
        path = _cache.entry_path(tmp_path, clip.key, key)
        path.parent.mkdir(parents=True)
        stale = path.parent / f".{path.name}.999.dead.tmp"
        fresh = path.parent / f".{path.name}.998.busy.tmp"
        for f in (stale, fresh):
            f.write_bytes(b"PK\x03\x04 interrupted")
        old = time.time() - 2 * _cache.STALE_TMP_S
        os.utime(stale, (old, old))
        p = prepare(clip, size=64, cache_dir=tmp_path)                   # never reads a .tmp
        assert not p.cache_hit and path.is_file()
        assert not stale.exists() and fresh.exists()                     # another writer's is kept
        assert prepare(clip, size=64, cache_dir=tmp_path).cache_hit

    def test_any_parameter_change_is_a_new_key(self, clip, tmp_path, monkeypatch):
        base = prepare(clip, size=64, cache_dir=tmp_path)
        variants = [
            prepare(clip, size=80, cache_dir=tmp_path),
            prepare(clip, size=64, flow="farneback", cache_dir=tmp_path),
            prepare(clip, size=64, flow_params={"preset": "fast"}, cache_dir=tmp_path),
            prepare(clip, size=64, smooth="gaussian", cache_dir=tmp_path),
            prepare(clip, size=64, face_scale=0.7, cache_dir=tmp_path),
            prepare(clip, size=64, landmarks=DlibBackend(upscale=2), cache_dir=tmp_path),
            prepare(clip.replace(apex=3), size=64, cache_dir=tmp_path),
        ]
        frames = clip.frames.copy()
        frames[1, 0, 0, 0] ^= 1                                         # one bit of one pixel
        variants.append(prepare(clip.replace(frames=frames), size=64, cache_dir=tmp_path))
        monkeypatch.setattr(mxkit._version, "__version__", "999.0")
        _cache.library_versions.cache_clear()
        try:
            variants.append(prepare(clip, size=64, cache_dir=tmp_path))
        finally:
            monkeypatch.undo()
            _cache.library_versions.cache_clear()
        keys = [base.cache_key] + [v.cache_key for v in variants]
        assert len(set(keys)) == len(keys) and not any(v.cache_hit for v in variants)
        assert len(list(tmp_path.rglob("*.npz"))) == len(keys)
        assert prepare(clip, size=64, flow_params={"preset": "medium"}, cache_dir=tmp_path).cache_hit

    def test_frame_files_fingerprint_and_dataset_left_untouched(self, tmp_path, counted):
        data = tmp_path / "data"
        disk = write_png_clip(known_motion_clip(n_frames=3, shift=SHIFT), data / "sub01" / "c1")
        before = snapshot(data)
        cache = tmp_path / "cache"
        first = prepare(disk, size=64, cache_dir=cache)
        assert first.params["frames"].startswith("content:")
        assert prepare(disk, size=64, cache_dir=cache).cache_hit and counted["detect"] == 1
        assert snapshot(data) == before                                 # nothing written in the dataset
        later = time.time() + 5
        os.utime(disk.frames[1], (later, later))                        # touched: same content, a hit
        assert prepare(disk, size=64, cache_dir=cache).cache_hit and counted["detect"] == 1
        img = read_image_file(disk.frames[1])
        img[0, 0, 0] ^= 1
        write_image_file(disk.frames[1], img)                           # a frame file changed
        again = prepare(disk, size=64, cache_dir=cache)
        assert not again.cache_hit and again.cache_key != first.cache_key and counted["detect"] == 2
        for inside in (data / "sub01" / "c1" / "cache", data / "sub01" / "cache"):
            with pytest.raises(InputValueError, match="never writes into a dataset"):
                prepare(disk, cache_dir=inside)
        assert snapshot(data) != before and not (data / "sub01" / "cache").exists()


# --------------------------------------------------------------------------- prepare_many


@pytest.fixture(scope="module")
def small_clips():
    good = [known_motion_clip(n_frames=3, shift=SHIFT, clip_id=f"c{i}", seed=i) for i in range(2)]
    bad = known_motion_clip(n_frames=3, shift=SHIFT, clip_id="bad", blank=(1,))
    return good, bad


class TestPrepareMany:
    def test_serial_equals_prepare_and_uses_the_cache(self, small_clips, tmp_path):
        good, _ = small_clips
        batch = prepare_many(good, workers=1, size=64, cache_dir=tmp_path, progress=False)
        assert isinstance(batch, PreparedBatch) and list(batch) == [c.key for c in good]
        assert len(batch) == 2 and batch.workers == 1 and not batch.failures
        for c in good:
            np.testing.assert_array_equal(batch[c.key].flow, prepare(c, size=64).flow)
        assert batch.to_dataframe()["status"].tolist() == ["computed", "computed"]
        again = prepare_many(good, workers=1, size=64, cache_dir=tmp_path, progress=False)
        assert again.summary()["n_cached"] == 2 and mxkit.prepare_many is prepare_many

    def test_errors_name_the_clip_or_are_collected(self, small_clips):
        good, bad = small_clips
        with pytest.raises(NoFaceError, match=r"^clip synthetic/s0/bad: no face found in frame 1") as info:
            prepare_many([good[0], bad], workers=1, size=64, progress=False)
        assert info.value.clip_key == bad.key and info.value.frame_index == 1
        batch = prepare_many([bad, good[0]], workers=1, size=64, progress=False, on_error="collect")
        assert list(batch) == [good[0].key] and set(batch.failures) == {bad.key}
        df = batch.to_dataframe()
        assert df["status"].tolist() == ["failed", "computed"] and df["error_type"][0] == "NoFaceError"
        assert batch.summary() == {"n_clips": 2, "n_computed": 1, "n_cached": 0, "n_failed": 1,
                                   "workers": 1, "wall_s": batch.wall_s}

    def test_bad_arguments_fail_before_any_work(self, small_clips):
        good, _ = small_clips
        with pytest.raises(InputValueError, match="unique"):
            prepare_many([good[0], good[0]], workers=1)
        with pytest.raises(OptionError, match="flow"):
            prepare_many(good, flow="optical")
        with pytest.raises(TypeError, match="sizes"):
            prepare_many(good, sizes=64)
        with pytest.raises(OptionError, match="on_error"):
            prepare_many(good, on_error="ignore")
        with pytest.raises(InputValueError, match="workers"):
            prepare_many(good, workers=0)
        with pytest.raises(InputValueError, match="Clip"):
            prepare_many([good[0].frames])

    def test_parallel_processes_equal_serial(self, small_clips):
        good, bad = small_clips
        batch = prepare_many([*good, bad], workers=2, size=64, progress=False, on_error="collect")
        assert batch.workers == 2 and list(batch) == [c.key for c in good]
        (err,) = batch.failures.values()
        assert isinstance(err, NoFaceError) and err.clip_key == bad.key and err.frame_index == 1
        for c in good:
            serial = prepare(c, size=64)
            np.testing.assert_array_equal(batch[c.key].frames, serial.frames)
            np.testing.assert_array_equal(batch[c.key].landmarks, serial.landmarks)
            np.testing.assert_allclose(batch[c.key].flow, serial.flow, atol=1e-5)
