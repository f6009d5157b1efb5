"""Hostile frame files and paths (issue 13, items 1 and 2).

* Names that are not UTF-8 (a CASME archive with GBK names unpacked on Linux: ``os.fsdecode``
  keeps the bytes as lone surrogates) crashed OpenCV's path functions (a segmentation fault
  in ``cv2.imread`` / ``cv2.imwrite``) and raised ``UnicodeEncodeError`` in the prepare cache
  key and in printed paths. Every frame now goes through Python's own file functions and
  ``cv2.imdecode`` / ``cv2.imencode`` (``mxkit._io.read_image_file`` / ``write_image_file``).
* A truncated JPEG was decoded with its missing part grey, silently. Frames are now checked
  for completeness (JPEG markers up to EOI, PNG chunk CRCs up to IEND, BMP size) and an
  incomplete one is a ``FrameReadError`` naming the file, or follows ``on_bad_frame``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import mxkit
from mxkit.data import Clip, load_dataset, read_image
from mxkit.errors import FrameReadError, OptionError

ROOT = Path(__file__).resolve().parents[1]
#: the GBK bytes of 上海 as a Linux file name: not UTF-8 (0xC9 0xA3 become lone surrogates)
GBK = os.fsdecode(b"\xc9\xcf\xba\xa3")


def textured(seed: int, shape=(48, 64)) -> np.ndarray:
    """A smooth random RGB image (JPEG-friendly, every region different)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (shape[0] // 8, shape[1] // 8, 3), dtype=np.uint8)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def encode(img_rgb: np.ndarray, ext: str = ".jpg", params=()) -> bytes:
    ok, buf = cv2.imencode(ext, cv2.cvtColor(img_rgb, cv2.COLOR_RGB2BGR), list(params))
    assert ok
    return buf.tobytes()


def write_frames(folder: Path, images, ext: str = ".jpg") -> list[Path]:
    """Frame files written with plain Python (no OpenCV path functions)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, img in enumerate(images):
        p = folder / f"img{k + 1}{ext}"
        p.write_bytes(encode(img, ext))
        paths.append(p)
    return paths


def truncate(path: Path, fraction: float = 0.8) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * fraction)])


# ------------------------------------------------------------------------------ OpenCV path IO


def test_no_opencv_path_functions_anywhere():
    """cv2's path functions crash on names that are not UTF-8: nothing may call them."""
    pattern = re.compile(r"cv2\.(imread|imwrite|imreadmulti|imcount)\s*\(")
    offenders = []
    for folder in ("mxkit", "tools", "benchmarks", "notebooks/src", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for m in pattern.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                offenders.append(f"{path.relative_to(ROOT)}:{line}")
    assert offenders == [], offenders


@pytest.fixture(scope="module")
def gbk_synthme(tmp_path_factory):
    """``mxkit synth`` (a subprocess: a crash would be a segfault) into a non-UTF-8 folder."""
    base = tmp_path_factory.mktemp("hostile") / GBK
    base.mkdir()
    root = base / f"SynthME-{GBK}"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", PYTHONIOENCODING="utf-8")
    run = subprocess.run([sys.executable, "-m", "mxkit", "synth", os.fsencode(root), "--preset", "tiny",
                          "--kind", "micro", "--subjects", "1", "--micro", "1", "--quiet"],
                         capture_output=True, env=env, timeout=600)
    return base, root, run


def test_synth_cli_into_a_non_utf8_folder(gbk_synthme):
    _, root, run = gbk_synthme
    assert run.returncode == 0, (run.returncode, run.stderr.decode("utf-8", "replace")[-2000:])
    out = run.stdout.decode("utf-8")  # printable text, whatever the folder's bytes
    assert "\\xc9" in out and "1 clips of 1 subjects" in out
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp")]
    assert (root / "synthme.json").is_file()


def test_load_prepare_and_reconstruct_in_a_non_utf8_folder(gbk_synthme, tmp_path, capsys):
    from mxkit.cli import main

    base, root, run = gbk_synthme
    assert run.returncode == 0
    clips = load_dataset(root)
    clip = clips[0]
    assert GBK in str(clip.frames[0])
    frames = clip.load_frames([0, clip.onset, -1])
    assert frames.shape[0] == 3 and frames.std() > 1
    assert clips.to_dataframe()["frames_dir"].iloc[0].encode("utf-8")  # printable in tables
    cache = base / f"cache-{GBK}"
    prep = mxkit.prepare(clip, size=64, cache_dir=cache)
    again = mxkit.prepare(clip, size=64, cache_dir=cache)
    assert not prep.cache_hit and again.cache_hit
    np.testing.assert_array_equal(prep.flow, again.flow)
    out = base / f"out-{GBK}"
    code = main(["reconstruct", os.fspath(root), "--clip", f"{clip.subject}/{clip.clip_id}",
                 "--out", os.fspath(out), "--cache", os.fspath(cache), "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0
    written = {p.name for p in out.iterdir()}
    assert {"apex.obj", "onset.obj", "reconstruction.npz", "viewer.html"} <= written
    assert not [n for n in written if n.endswith(".tmp")]
    printed.encode("utf-8")  # every printed path is printable
    assert "\\xc9" in printed


def test_missing_frame_in_a_non_utf8_folder_is_a_printable_error(tmp_path):
    paths = write_frames(tmp_path / GBK, [textured(0), textured(1)])
    paths[1].unlink()
    with pytest.raises(FrameReadError, match=r"\\xc9.*does not exist") as info:
        read_image(paths[1])
    str(info.value).encode("utf-8")
    assert info.value.path == paths[1]


# ------------------------------------------------------------------------------ incomplete frames


def test_jpeg_cut_to_80_percent_raises_naming_the_file(tmp_path):
    (path,) = write_frames(tmp_path, [textured(3)])
    whole = read_image(path)
    truncate(path, 0.8)
    with pytest.raises(FrameReadError, match=r"img1\.jpg: it is truncated"):
        read_image(path)
    path.write_bytes(encode(whole))
    assert read_image(path).shape == whole.shape


def test_zero_byte_and_garbage_frames(tmp_path):
    path = tmp_path / "img1.jpg"
    path.write_bytes(b"")
    with pytest.raises(FrameReadError, match=r"img1\.jpg: the file is empty \(0 bytes\)"):
        read_image(path)
    path.write_bytes(b"\xff\xd8\xff")  # a JPEG start and nothing else
    with pytest.raises(FrameReadError, match="truncated"):
        read_image(path)
    path.write_bytes(b"GIF89a not an image mxkit reads")
    with pytest.raises(FrameReadError, match="could not decode"):
        read_image(path)


def test_truncated_and_corrupt_png_and_bmp(tmp_path):
    img = textured(4)
    png = tmp_path / "a.png"
    png.write_bytes(encode(img, ".png"))
    assert np.array_equal(read_image(png), img)  # lossless round trip
    data = png.read_bytes()
    png.write_bytes(data[:int(len(data) * 0.8)])
    with pytest.raises(FrameReadError, match=r"a\.png: it is truncated"):
        read_image(png)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10  # one bit inside the image data
    png.write_bytes(bytes(flipped))
    with pytest.raises(FrameReadError, match=r"a\.png: it is corrupt \(bad CRC"):
        read_image(png)
    bmp = tmp_path / "a.bmp"
    whole = encode(img, ".bmp")
    bmp.write_bytes(whole[:-1])
    with pytest.raises(FrameReadError, match=r"a\.bmp: it is truncated"):
        read_image(bmp)
    bmp.write_bytes(whole[:2] + bytes(4) + whole[6:])  # a file-size field of 0 (some writers)
    assert np.array_equal(read_image(bmp), img)


@pytest.mark.parametrize("params", [(), (cv2.IMWRITE_JPEG_PROGRESSIVE, 1), (cv2.IMWRITE_JPEG_RST_INTERVAL, 2),
                                    (cv2.IMWRITE_JPEG_QUALITY, 100)])
def test_complete_jpeg_variants_are_accepted(tmp_path, params):
    """Progressive scans, restart markers, byte stuffing and bytes after EOI are all fine."""
    img = textured(5, shape=(64, 80))
    data = encode(img, ".jpg", params)
    path = tmp_path / "img1.jpg"
    path.write_bytes(data + b"\x00\x00trailer written by some cameras")
    expected = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(read_image(path), expected)
    path.write_bytes(data[:-2])  # the EOI marker alone is missing
    with pytest.raises(FrameReadError, match="truncated"):
        read_image(path)


def _disk_clip(tmp_path, n: int = 5, **kw) -> Clip:
    paths = write_frames(tmp_path / "sub01" / "c1", [textured(10 + k) for k in range(n)])
    return Clip(dataset="disk", subject="sub01", clip_id="c1", frames=paths, fps=30.0,
                frame_numbers=range(101, 101 + n), **kw)


def test_bad_frame_policies_known_answers(tmp_path):
    clip = _disk_clip(tmp_path, onset=0, apex=1, offset=4)
    whole = clip.load_frames()
    truncate(clip.frames[2])
    with pytest.raises(FrameReadError, match=r"img3\.jpg: it is truncated"):
        clip.load_frames()
    with pytest.raises(FrameReadError, match="truncated"):
        clip.load_checked()  # 'raise' is the default
    inter = clip.load_checked(on_bad_frame="interpolate")
    assert inter.bad == (2,) and inter.indices == (0, 1, 2, 3, 4) and "img3.jpg" in inter.reasons[0]
    mean = np.rint((whole[1].astype(float) + whole[3].astype(float)) / 2).astype(np.uint8)
    np.testing.assert_array_equal(inter.frames[2], mean)
    np.testing.assert_array_equal(inter.frames[[0, 1, 3, 4]], whole[[0, 1, 3, 4]])
    skip = clip.load_checked(on_bad_frame="skip")
    assert skip.indices == (0, 1, 3, 4) and skip.frames.shape[0] == 4
    np.testing.assert_array_equal(skip.frames, whole[[0, 1, 3, 4]])
    # two bad frames in a row: weights 2/3 and 1/3; a bad last frame holds its neighbour
    truncate(clip.frames[3])
    truncate(clip.frames[4])
    inter = clip.load_checked(on_bad_frame="interpolate")
    assert inter.bad == (2, 3, 4)
    np.testing.assert_array_equal(inter.frames[2], whole[1])
    with pytest.raises(OptionError, match="on_bad_frame"):
        clip.load_checked(on_bad_frame="ignore")
    for p in clip.frames:
        p.write_bytes(b"")
    with pytest.raises(FrameReadError, match="none of its 5 frames can be read"):
        clip.load_checked(on_bad_frame="interpolate")


def test_interpolation_between_two_distant_frames(tmp_path):
    clip = _disk_clip(tmp_path, n=4)
    whole = clip.load_frames()
    truncate(clip.frames[1])
    truncate(clip.frames[2])
    got = clip.load_checked(on_bad_frame="interpolate").frames
    a, b = whole[0].astype(float), whole[3].astype(float)
    np.testing.assert_array_equal(got[1], np.rint(a * 2 / 3 + b / 3).astype(np.uint8))
    np.testing.assert_array_equal(got[2], np.rint(a / 3 + b * 2 / 3).astype(np.uint8))


def test_without_frames_keeps_the_annotation():
    frames = np.arange(6 * 2 * 2 * 3, dtype=np.uint8).reshape(6, 2, 2, 3)
    clip = Clip(dataset="m", subject="s", clip_id="c", frames=frames, fps=10, onset=1, apex=3, offset=5,
                frame_numbers=range(10, 16))
    c2 = clip.without_frames([2, 4])
    assert c2.frame_numbers == (10, 11, 13, 15) and (c2.onset, c2.apex, c2.offset) == (1, 2, 3)
    assert c2.onset_frame == 11 and c2.apex_frame == 13 and c2.offset_frame == 15
    np.testing.assert_array_equal(c2.frames, frames[[0, 1, 3, 5]])
    with pytest.raises(mxkit.errors.InputValueError, match="frame 13 is its apex"):
        clip.without_frames([3])


@pytest.fixture(scope="module")
def face_clip_on_disk(tmp_path_factory):
    from mxkit.pipeline.synthetic import known_motion_clip

    mem = known_motion_clip(n_frames=5, shift=(0.5, 0.0), apex=2, clip_id="c1", image_size=160)
    folder = tmp_path_factory.mktemp("bad-frame") / "data" / "sub01" / "c1"
    paths = write_frames(folder, list(mem.frames), ext=".png")
    return Clip(dataset="disk", subject="sub01", clip_id="c1", frames=paths, fps=mem.fps, onset=0, apex=2,
                offset=4, frame_numbers=range(1, 6))


def test_prepare_records_the_bad_frame_policy(face_clip_on_disk, tmp_path):
    clip = face_clip_on_disk
    good = mxkit.prepare(clip, size=64)
    assert good.bad_frames == () and "on_bad_frame" not in good.params  # the default keeps the keys
    saved = {p: p.read_bytes() for p in clip.frames}
    try:
        truncate(clip.frames[3])
        with pytest.raises(FrameReadError, match=r"img4\.png: it is truncated"):
            mxkit.prepare(clip, size=64)
        cache = tmp_path / "cache"
        inter = mxkit.prepare(clip, size=64, on_bad_frame="interpolate", cache_dir=cache)
        assert inter.bad_frames == (4,) and inter.n_frames == 5 and inter.params["on_bad_frame"] == "interpolate"
        hit = mxkit.prepare(clip, size=64, on_bad_frame="interpolate", cache_dir=cache)
        assert hit.cache_hit and hit.bad_frames == (4,)
        skip = mxkit.prepare(clip, size=64, on_bad_frame="skip", cache_dir=cache)
        assert not skip.cache_hit and skip.cache_key != inter.cache_key != good.cache_key
        assert skip.frame_numbers == (1, 2, 3, 5) and skip.bad_frames == (4,) and skip.n_frames == 4
        assert (skip.onset, skip.apex, skip.offset) == (0, 2, 3)
        hit = mxkit.prepare(clip, size=64, on_bad_frame="skip", cache_dir=cache)
        assert hit.cache_hit and hit.frame_numbers == (1, 2, 3, 5) and hit.offset == 3
        np.testing.assert_array_equal(hit.flow, skip.flow)
        # the good frames of the skipped clip are those of the intact clip, and so is their flow
        np.testing.assert_array_equal(skip.frames, good.frames[[0, 1, 2, 4]])
        truncate(clip.frames[2])  # the apex
        with pytest.raises(FrameReadError, match="its apex.*on_bad_frame='interpolate'"):
            mxkit.prepare(clip, size=64, on_bad_frame="skip")
    finally:
        for p, data in saved.items():
            p.write_bytes(data)


def test_every_mxkit_error_and_warning_text_is_printable(tmp_path):
    """An error or a dataset warning that quotes a non-UTF-8 name prints anywhere."""
    import pickle

    from mxkit.errors import CacheError, FileWriteError, printable

    odd = os.fsdecode(b"/data/\xc9\xcf\xba\xa3/img1.jpg")
    for err in (FrameReadError(f"cannot read {odd}", path=odd), CacheError(f"entry {odd} is corrupt"),
                FileWriteError(f"cannot write {odd}", path=odd)):
        text = str(err)
        assert text.encode("utf-8") and "\\xc9" in text
        again = pickle.loads(pickle.dumps(err))  # across prepare_many's worker processes
        assert type(again) is type(err) and str(again) == text
        assert getattr(again, "path", None) == getattr(err, "path", None)
    assert printable("plain text") == "plain text"
