"""Hostile coding sheets, folders and arguments (issue 13, items 5, 8, 10 and 11).

* A ``Filename`` cell holding ``../..``, an absolute path or a separator made the loaders read
  outside the dataset: such a row is now an ``invalid_row`` problem naming file, sheet, row
  and column (one bad row never aborts the load); output names derived from data go through
  ``mxkit._io.safe_name``.
* ``OffsetFrame = 10^9`` allocated per frame number before looking at the disk: windows are
  bounded (``MAX_WINDOW_FRAMES``) and the missing frames are counted from what is on disk.
* Permissions, ``Clip(frames=[arrays])``, ``chunk_size=0``, ``device='cuda'`` without a GPU, a
  showcase of 100000 px: typed errors that say the real cause.
* Silent results: gaps of the ``window='all'`` baseline, an empty CK+ sequence, an unknown
  SMIC emotion folder, two ``OnsetFrame`` columns that disagree, ``fps=inf``: reported or refused.
"""

from __future__ import annotations

import builtins
import os
import re
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import mxkit._io
from mxkit._io import name_problem, safe_name
from mxkit.data import (
    Clip,
    ClipRecord,
    DatasetWarning,
    MissingFramesError,
    load_casme2,
    load_ckplus,
    load_samm,
    load_smic,
    write_ckplus,
)
from mxkit.errors import DatasetFormatError, FrameReadError, InputValueError

from .test_data_support import (
    SAMM_ROWS,
    invalid_rows,
    make_casme2,
    make_samm,
    make_smic,
    tiny_frame,
    write_frames,
)

GOOD = ("01", "EP02_01f", 46, 48, 50, 12, "happiness")


def numbers_in(folder: Path) -> list[int]:
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := re.fullmatch(r"reg_img(\d+)\.jpg", p.name)))


def frames_inside(cs, root: Path) -> bool:
    root = root.resolve()
    return all(root in Path(p).resolve().parents for c in cs for p in c.frames)


# ------------------------------------------------------------------------------ names from data


@pytest.mark.parametrize("cell, why", [("../../../victim", "separator"), ("..", "'..'"),
                                        ("a/b", "separator"), ("a\\b", "separator"),
                                        ("C:evil", "drive"), ("x\ny", "control")])
def test_name_problem(cell, why):
    assert why in name_problem(cell)


def test_name_problem_accepts_real_names():
    for name in ("EP02_01f", "006_1_2", "s1_ne_01", "EP06_02_01", "S005_001", "spNO.1", "被试 1"):
        assert name_problem(name) is None, name


def test_safe_name():
    assert safe_name("../../victim") == "victim"
    assert safe_name("/etc/passwd") == "etc_passwd"
    assert safe_name("sub01_EP02 01f") == "sub01_EP02_01f"
    assert safe_name("..") == "_" and safe_name("") == "_" and safe_name("con") == "con_"
    assert safe_name(os.fsdecode(b"a\xc9b")) == "a_b"
    assert len(safe_name("x" * 500)) == 120


def test_casme2_filename_traversal_is_refused(tmp_path):
    base = tmp_path / "data"
    outside = tmp_path / "elsewhere"
    rows = [GOOD,
            ("01", "../../../victim", 46, 48, 50, 12, "happiness"),   # -> base/victim
            ("01", str(outside), 46, 48, 50, 12, "happiness"),       # absolute
            ("02", "EP01/EP02", 46, 48, 50, 12, "happiness"),         # a separator
            ("02", "EP11_01", 16, 18, 20, 12, "surprise")]
    root = make_casme2(base / "CASME2", rows, kinds=("cropped",), objective=False)
    assert (base / "victim").is_dir() and outside.is_dir()  # frames wait outside the dataset
    with pytest.warns(DatasetWarning, match="invalid"):
        cs = load_casme2(root)
    assert [c.clip_id for c in cs] == ["EP02_01f", "EP11_01"]
    assert frames_inside(cs, root)
    bad = invalid_rows(cs)
    assert [(r[2], r[3]) for r in bad] == [(3, "B"), (4, "B"), (5, "B")]
    details = cs.problems[cs.problems.kind == "invalid_row"].detail.tolist()
    assert "cannot name a folder inside the dataset" in details[0] and "separator" in details[0]


def test_samm_filename_traversal_is_refused(tmp_path):
    rows = [SAMM_ROWS[0], ("006", "../006_1_2", 1, 5562, 5588, 5632, "4", "Anger", 3, None)]
    root = make_samm(tmp_path / "SAMM", rows[:1])
    from .test_data_support import samm_sheet_rows, write_xlsx

    write_xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", {"MICRO_ONLY": samm_sheet_rows(rows)})
    with pytest.warns(DatasetWarning, match="invalid"):
        cs = load_samm(root)
    assert [c.clip_id for c in cs] == ["006_1_2"] and frames_inside(cs, root)
    assert [(r[2], r[3]) for r in invalid_rows(cs)] == [(16, "B")]


# ------------------------------------------------------------------------------ bounded work


def test_huge_offset_is_one_invalid_row_without_per_frame_work(tmp_path):
    rows = [GOOD, ("01", "EP03_02", 131, 133, 10**7, 18, "others")]
    root = make_casme2(tmp_path / "CASME2", [GOOD], kinds=("cropped",), objective=False)
    from .test_data_support import write_xlsx

    sheet = [["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
              "Action Units", "Estimated Emotion"]] + [[s, f, None, a, b, c, None, au, e]
                                                      for s, f, a, b, c, au, e in rows]
    write_xlsx(root / "CASME2-coding-20140508.xlsx", {"Sheet1": sheet})
    tracemalloc.start()
    try:
        with pytest.warns(DatasetWarning, match="invalid"):
            cs = load_casme2(root)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MiB for one row"  # 10^7 frame numbers: ~500 MiB
    assert [c.clip_id for c in cs] == ["EP02_01f"]
    (row,) = invalid_rows(cs)
    assert row[2:4] == (3, "F")
    assert "spans 9999870 frames" in cs.problems[cs.problems.kind == "invalid_row"].detail.iloc[0]


def test_missing_frames_are_counted_from_the_disk(tmp_path):
    """A window far past the frames on disk (under the bound): the count and the runs are
    right, and the clip is refused by default."""
    rows = [GOOD, ("01", "EP03_02", 131, 133, 90_000, 18, "others")]
    root = make_casme2(tmp_path / "CASME2", [GOOD, ("01", "EP03_02", 131, 133, 135, 18, "others")],
                       kinds=("cropped",), objective=False)
    from .test_data_support import write_xlsx

    sheet = [["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
              "Action Units", "Estimated Emotion"]] + [[s, f, None, a, b, c, None, au, e]
                                                      for s, f, a, b, c, au, e in rows]
    write_xlsx(root / "CASME2-coding-20140508.xlsx", {"Sheet1": sheet})
    on_disk = numbers_in(root / "Cropped" / "sub01" / "EP03_02")
    present = [n for n in on_disk if 131 <= n <= 90_000]
    with pytest.raises(MissingFramesError) as info:
        load_casme2(root)
    detail = info.value.problems.detail.iloc[0]
    assert f"{90_000 - 131 + 1 - len(present)} of {90_000 - 131 + 1} frames" in detail
    assert f"{present[-1] + 1}-90000" in detail


# ------------------------------------------------------------------------------ silent results


def test_window_all_reports_gaps_in_the_baseline(tmp_path):
    root = make_casme2(tmp_path / "CASME2", [GOOD], kinds=("cropped",), objective=False)
    folder = root / "Cropped" / "sub01" / "EP02_01f"
    numbers = numbers_in(folder)
    assert numbers[0] < 45  # frames before the onset (46) are on disk
    (folder / "reg_img45.jpg").unlink()  # outside the labelled window 46..50
    cs = load_casme2(root)  # the labelled window is whole: nothing to say
    assert "frame_gap" not in cs.problem_kinds()
    with pytest.warns(DatasetWarning, match="skip frame numbers"):
        cs = load_casme2(root, window="all")
    (gap,) = cs.problems[cs.problems.kind == "frame_gap"].to_dict("records")
    assert "frame numbers 45 are absent" in gap["detail"] and gap["clip_id"] == "EP02_01f"
    assert 45 not in cs[0].frame_numbers and cs[0].onset_frame == 46


def test_empty_ckplus_sequence_is_reported(tmp_path):
    root = write_ckplus([ClipRecord(subject=5, clip_id="001", frames=[tiny_frame(i) for i in range(3)],
                                    emotion="disgust")], tmp_path / "CK+")
    (root / "cohn-kanade-images" / "S005" / "002").mkdir()
    with pytest.warns(DatasetWarning, match="hold no frames"):
        cs = load_ckplus(root)
    assert [c.clip_id for c in cs] == ["S005_001"]
    (p,) = cs.problems[cs.problems.kind == "empty_folder"].to_dict("records")
    assert p["clip_id"] == "S005_002" and p["action"] == "skipped"


def test_unknown_smic_emotion_folder_is_reported(tmp_path):
    root = make_smic(tmp_path / "SMIC")
    write_frames(root / "HS" / "s2" / "micro" / "angry" / "s2_an_01", [f"image{k:06d}.bmp" for k in range(3)])
    with pytest.warns(DatasetWarning, match="not SMIC emotion folders"):
        cs = load_smic(root)
    assert "s2_an_01" not in [c.clip_id for c in cs] and len(cs) == 4
    (p,) = cs.problems[cs.problems.kind == "unknown_folder"].to_dict("records")
    assert p["subject"] == "s2" and "angry" in p["detail"]


def test_two_onset_columns_that_disagree_invalidate_the_row(tmp_path):
    from .test_data_support import write_xlsx

    root = make_casme2(tmp_path / "CASME2", [GOOD, ("02", "EP11_01", 16, 18, 20, 12, "surprise")],
                       kinds=("cropped",), objective=False)
    header = ["Subject", "Filename", "OnsetFrame", "OnsetFrame", "ApexFrame", "OffsetFrame", None,
              "Action Units", "Estimated Emotion"]
    write_xlsx(root / "CASME2-coding-20140508.xlsx", {"Sheet1": [
        header, ["01", "EP02_01f", 46, 46, 48, 50, None, 12, "happiness"],    # they agree
        ["02", "EP11_01", 16, 17, 18, 20, None, 12, "surprise"]]})            # they do not
    with pytest.warns(DatasetWarning, match="invalid"):
        cs = load_casme2(root)
    assert [c.clip_id for c in cs] == ["EP02_01f"]
    (row,) = invalid_rows(cs)
    assert row[2:4] == (3, "D")
    assert "both 'onset' and disagree (16 vs 17)" in cs.problems.detail.iloc[-1]


@pytest.mark.parametrize("fps", [float("inf"), float("nan"), 0, -200, True])
def test_fps_must_be_positive_and_finite(fps):
    with pytest.raises(InputValueError, match="fps must be a positive finite number"):
        Clip(dataset="m", subject="s", clip_id="c", frames=np.zeros((2, 4, 4, 3), np.uint8), fps=fps)


# ------------------------------------------------------------------------------ typed errors


def test_clip_from_a_list_of_arrays():
    frames = [np.zeros((4, 4, 3), np.uint8)] * 3
    with pytest.raises(InputValueError, match=r"holds ndarray: stack frames in memory into one array, np.stack"):
        Clip(dataset="m", subject="s", clip_id="c", frames=frames, fps=30)
    with pytest.raises(InputValueError, match="got int"):
        Clip(dataset="m", subject="s", clip_id="c", frames=3, fps=30)
    assert Clip(dataset="m", subject="s", clip_id="c", frames=np.stack(frames), fps=30).n_frames == 3


def test_chunk_size_and_device_are_checked_before_any_work():
    from mxkit.workflows import reconstruct

    for bad in (0, -1, 2.5, True):
        with pytest.raises(InputValueError, match="chunk_size must be"):
            reconstruct(object(), variant="static", chunk_size=bad)
    with pytest.raises(InputValueError, match="is not a torch device"):
        reconstruct(object(), variant="static", device="gpu")


def test_cuda_without_a_gpu():
    import torch

    from mxkit.morph import load_face_model
    from mxkit.workflows import reconstruct

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(InputValueError, match=r"device='cuda' asks for a CUDA GPU, but torch sees none"):
        reconstruct(object(), variant="static", device="cuda")
    with pytest.raises(InputValueError, match="CUDA GPU"):
        load_face_model("mh-head", device="cuda:0")


def test_showcase_size_is_bounded(tmp_path):
    from mxkit.workflows.showcase import MAX_SHOWCASE_SIZE, export_model_showcase

    with pytest.raises(InputValueError, match=f"image_size must be at most {MAX_SHOWCASE_SIZE}; got 100000"):
        export_model_showcase(tmp_path / "out", image_size=100000)
    assert not (tmp_path / "out").exists()


def _deny(monkeypatch, denied: Path):
    """Permission denied for ``denied`` (really with chmod 000 when not root, else simulated)."""
    denied.chmod(0)
    if os.access(denied, os.R_OK):  # root: permissions are not enforced
        real = os.listdir

        def listdir(path="."):
            if Path(path).resolve() == denied.resolve():
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(os, "listdir", listdir)


@pytest.fixture
def casme2_copy(tmp_path):
    root = make_casme2(tmp_path / "CASME2", [GOOD, ("02", "EP11_01", 16, 18, 20, 12, "surprise")],
                       kinds=("cropped",), objective=False)
    yield root
    for p in [root, *root.rglob("*")]:
        if p.is_dir():
            p.chmod(0o755)


def test_unreadable_dataset_root(casme2_copy, monkeypatch):
    _deny(monkeypatch, casme2_copy)
    with pytest.raises(DatasetFormatError, match="cannot list the folder .*CASME2': permission denied"):
        load_casme2(casme2_copy)


def test_unreadable_frames_folder(casme2_copy, monkeypatch):
    _deny(monkeypatch, casme2_copy / "Cropped")
    with pytest.raises(DatasetFormatError, match="Cropped': permission denied"):
        load_casme2(casme2_copy)


def test_unreadable_sample_folder_is_not_reported_as_missing_frames(casme2_copy, monkeypatch):
    _deny(monkeypatch, casme2_copy / "Cropped" / "sub02" / "EP11_01")
    with pytest.raises(MissingFramesError, match="EP11_01': permission denied") as info:
        load_casme2(casme2_copy)
    assert "frames of" not in str(info.value)
    with pytest.warns(DatasetWarning):
        cs = load_casme2(casme2_copy, missing="skip")
    assert [c.clip_id for c in cs] == ["EP02_01f"]
    assert "permission denied" in cs.problems[cs.problems.kind == "missing_folder"].detail.iloc[0]


def test_unreadable_frame_file(tmp_path, monkeypatch):
    from mxkit.data import read_image

    path = tmp_path / "img1.png"
    write_frames(tmp_path, ["img1.png"])
    path.chmod(0)
    if os.access(path, os.R_OK):
        real = builtins.open

        def fake_open(file, *args, **kwargs):
            if os.fspath(file) == os.fspath(path):
                raise PermissionError(13, "Permission denied", os.fspath(file))
            return real(file, *args, **kwargs)

        monkeypatch.setattr(mxkit._io, "open", fake_open, raising=False)
    try:
        with pytest.raises(FrameReadError, match=r"img1\.png: permission denied"):
            read_image(path)
    finally:
        path.chmod(0o644)


def test_copy_is_untouched_by_the_checks(casme2_copy):
    before = sorted(p.relative_to(casme2_copy) for p in casme2_copy.rglob("*"))
    load_casme2(casme2_copy)
    assert sorted(p.relative_to(casme2_copy) for p in casme2_copy.rglob("*")) == before
    shutil.rmtree(casme2_copy / "Cropped" / "sub02")
    with pytest.raises(MissingFramesError, match="does not exist"):
        load_casme2(casme2_copy)

