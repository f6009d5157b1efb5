"""Property-based tests (hypothesis) over coding-sheet cells and frame files (issue 13).

Whatever a cell of a CASME II coding sheet holds, the loader returns a ClipSet (the bad row a
reported problem, the good row kept, every frame inside the dataset) or raises a typed
:class:`~mxkit.errors.MxkitError`; whatever bytes a frame file holds, :func:`read_image` returns
an RGB image or raises :class:`~mxkit.errors.FrameReadError`, and any strict prefix of a JPEG or
PNG is refused. Small ``max_examples`` keep them to seconds.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mxkit.data import load_casme2, read_image
from mxkit.errors import FrameReadError, MxkitError

from .test_data_support import make_casme2, write_xlsx

HEADER = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
          "Estimated Emotion"]
GOOD = ["01", "EP02_01f", None, 46, 48, 50, None, 12, "happiness"]
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

tricky_text = st.sampled_from(["/", "-", "?", "..", "../..", "../../../etc", "/etc/passwd", "a/b", "a\\b",
                               "C:x", "EP02_01f", "sub01", "1e309", "NaN", "inf", " 12 ", "12.0", "٣",
                               "0x10", "-5", "+7", "", "   ", "#REF!", "1+2", "被试"])
cell = st.one_of(st.none(), st.booleans(), st.integers(-10**15, 10**15),
                 st.floats(allow_nan=False, allow_infinity=False, width=64),
                 st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12), tricky_text)


@pytest.fixture(scope="module")
def casme2_root(tmp_path_factory):
    return make_casme2(tmp_path_factory.mktemp("prop") / "CASME2", [("01", "EP02_01f", 46, 48, 50, 12, "happiness")],
                       kinds=("cropped",), objective=False)


@SETTINGS
@given(row=st.lists(cell, min_size=9, max_size=9))
def test_any_coding_sheet_row_gives_a_clipset_or_a_typed_error(casme2_root, row):
    sheet = casme2_root / "CASME2-coding-20140508.xlsx"
    try:
        write_xlsx(sheet, {"Sheet1": [HEADER, GOOD, row]})
    except Exception:  # noqa: BLE001 - a value openpyxl itself cannot store
        assume(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cs = load_casme2(casme2_root, missing="skip")
        except MxkitError:
            return
    assert ("sub01", "EP02_01f") in [(c.subject, c.clip_id) for c in cs]  # one bad row never aborts
    root = casme2_root.resolve()
    for c in cs:
        assert all(root in Path(p).resolve().parents for p in c.frames), c
        assert 0 <= c.onset <= c.offset < c.n_frames
    cs.problems  # noqa: B018 - the table builds


def _encoded(seed: int, ext: str) -> bytes:
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8), (40, 32), interpolation=cv2.INTER_CUBIC)
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def _read_or_frame_error(path: Path) -> np.ndarray | None:
    try:
        img = read_image(path)
    except FrameReadError as exc:
        assert path.name in str(exc)
        return None
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    return img


@SETTINGS
@given(data=st.binary(max_size=3000))
def test_random_bytes_give_an_image_or_a_frame_error(tmp_path, data):
    path = tmp_path / "frame.jpg"
    path.write_bytes(data)
    _read_or_frame_error(path)


@SETTINGS
@given(seed=st.integers(0, 5), ext=st.sampled_from([".jpg", ".png"]), cut=st.floats(0.0, 1.0, exclude_max=True))
def test_every_strict_prefix_of_a_jpeg_or_png_is_refused(tmp_path, seed, ext, cut):
    data = _encoded(seed, ext)
    path = tmp_path / f"frame{ext}"
    path.write_bytes(data[:int(len(data) * cut)])
    with pytest.raises(FrameReadError, match=r"empty|truncated"):
        read_image(path)


@SETTINGS
@given(seed=st.integers(0, 5), ext=st.sampled_from([".jpg", ".png", ".bmp"]),
       flips=st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=4))
def test_damaged_frames_give_an_image_or_a_frame_error(tmp_path, seed, ext, flips):
    whole = _encoded(seed, ext)
    data = bytearray(whole)
    for where, mask in flips:
        data[int(len(data) * where)] ^= mask
    path = tmp_path / f"frame{ext}"
    path.write_bytes(bytes(data))
    img = _read_or_frame_error(path)
    if ext == ".png" and img is not None and bytes(data) != whole:  # every PNG chunk is CRC-checked: damage is always seen
        pytest.fail("a damaged PNG was decoded")
