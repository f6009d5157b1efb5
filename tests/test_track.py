"""Landmark tracks from the optical flow (mxkit.pipeline.track, prepare(track='flow')): known answers."""

from __future__ import annotations

import numpy as np
import pytest

from mxkit import prepare
from mxkit.errors import InputValueError, OptionError, ShapeError
from mxkit.pipeline import track_landmarks
from mxkit.pipeline.synthetic import known_motion_clip
from mxkit.testing import fourier_shift

SHIFTS = np.array([(0.0, 0.0), (0.3, -0.2), (0.7, 0.45), (-0.55, 1.3), (1.25, -0.8)])   # px (u, v)


def _shift(img: np.ndarray, du: float, dv: float) -> np.ndarray:
    """The image translated by an exact sub-pixel (du, dv) (Fourier shift; not OpenCV's 1/32 px grid)."""
    return np.clip(np.round(fourier_shift(img, du, dv)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def astronaut_track():
    from skimage.data import astronaut

    from mxkit.face import detect_landmarks

    img = astronaut()                       # a real photograph: face ~200 px wide
    points = detect_landmarks(img).points.astype(np.float64)
    frames = np.stack([_shift(img, *s) for s in SHIFTS])
    return frames, points


def test_a_known_subpixel_translation_is_tracked_within_0_05_px(astronaut_track):
    frames, points = astronaut_track
    tracked = track_landmarks(frames, points, reference=0)
    assert tracked.shape == (len(SHIFTS), 68, 2)
    np.testing.assert_array_equal(tracked[0], points)
    err = tracked - points[None] - SHIFTS[:, None]          # (T, 68, 2) px
    dist = np.linalg.norm(err, axis=-1)[1:]
    # the landmark set moves by the shift within 0.02 px; each landmark within 0.05 px RMS
    assert np.abs(err[1:].mean(axis=1)).max() < 0.02, err[1:].mean(axis=1)
    assert np.sqrt((dist ** 2).mean(axis=1)).max() < 0.05, np.sqrt((dist ** 2).mean(axis=1))
    assert dist.max() < 0.1, dist.max()


def test_any_frame_can_be_the_reference(astronaut_track):
    frames, points = astronaut_track
    ref = 3
    start = points + SHIFTS[ref]
    tracked = track_landmarks(frames, start, reference=ref)
    err = tracked - start[None] - (SHIFTS - SHIFTS[ref])[:, None]
    assert np.abs(err.mean(axis=1)).max() < 0.02


def test_a_still_face_stays_still(astronaut_track):
    frames, points = astronaut_track
    still = np.repeat(frames[:1], 4, axis=0)
    tracked = track_landmarks(still, points)
    assert np.abs(tracked - points[None]).max() < 1e-3      # no detector re-deciding each frame


def test_bad_input_is_refused(astronaut_track):
    frames, points = astronaut_track
    with pytest.raises(ShapeError):
        track_landmarks(frames[:1], points)
    with pytest.raises(ShapeError):
        track_landmarks(frames, points[:, :1])
    with pytest.raises(InputValueError, match="reference"):
        track_landmarks(frames, points, reference=9)
    with pytest.raises(InputValueError, match="upscale"):
        track_landmarks(frames, points, upscale=0)
    with pytest.raises(InputValueError, match="sigma"):
        track_landmarks(frames, points, sigma=-1.0)
    with pytest.raises(InputValueError, match="too little"):
        track_landmarks(frames, np.zeros((68, 2)) + 5.0)
    bad = points.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputValueError):
        track_landmarks(frames, bad)


# ----------------------------------------------------------------------------- prepare(track='flow')
SHIFT = (0.8, -0.4)


@pytest.fixture(scope="module")
def clip():
    return known_motion_clip(n_frames=5, shift=SHIFT, apex=2, clip_id="shift-track")


def test_prepare_tracks_with_the_flow(clip):
    p = prepare(clip, size=128, track="flow")
    profile = clip.meta["profile"]
    moved = p.landmarks_raw - p.landmarks_raw[clip.onset]
    # every landmark moves with the rendered face by profile[t] * shift (detect: within 0.35 px)
    expected = profile[:, None, None] * np.asarray(SHIFT)[None, None]
    assert np.abs(moved.mean(axis=1) - expected[:, 0]).max() < 0.05
    # inside the face (brows, eyes, nose, mouth); the jaw contour sits on the silhouette, where the
    # rendered face moves over a background that does not, and follows it less well
    inner = slice(17, 68)
    assert np.sqrt(((moved - expected)[:, inner] ** 2).sum(-1).mean(-1)).max() < 0.05
    assert p.params["track"] == "flow" and p.interpolated == ()
    # 'detect' is the default and keeps the cache key of before the option existed
    d = prepare(clip, size=128)
    assert "track" not in d.params
    with pytest.raises(OptionError, match="track"):
        prepare(clip, size=128, track="kalman")
