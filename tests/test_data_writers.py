"""Layout writers: exact spreadsheet format, write -> load round trips, streaming, atomicity."""

from __future__ import annotations

import numpy as np
import openpyxl
import pytest

from mxkit.data import (
    ClipRecord,
    DatasetWarning,
    load_casme2,
    load_ckplus,
    load_samm,
    write_casme2,
    write_ckplus,
    write_samm,
)
from mxkit.data.writers import LAYOUT_MARKER, SAMM_NOTE_ROWS
from mxkit.errors import InputValueError, OptionError, ShapeError

from .test_data_support import tiny_frame

LABELS = ["subject", "clip_id", "onset_frame", "apex_frame", "offset_frame", "au_string", "emotion", "objective_class"]


def frames(n, seed=0, size=(12, 16)):
    return np.stack([tiny_frame(seed + i, size) for i in range(n)])


def casme2_records():
    calls = []

    def render(i):  # a generator-side callable: one frame at a time
        calls.append(i)
        return tiny_frame(100 + i)

    def stream():
        for i in range(7):
            yield tiny_frame(200 + i)

    recs = [
        ClipRecord(subject=1, clip_id="EP02_01f", frames=frames(8), onset=1, apex=3, offset=6,
                   first_frame=45, au_string=12, emotion="happiness", objective_class=1),
        ClipRecord(subject="04", clip_id="EP12_01f", frames=render, n_frames=6, onset=0, apex=None,
                   offset=5, first_frame=261, au_string="4+7", emotion="disgust", objective_class=3),
        ClipRecord(subject="sub17", clip_id="EP06_02_01", frames=stream(), onset=2, apex=4,
                   first_frame=1, au_string="?", emotion="others"),
        ClipRecord(subject=2, clip_id="EP02_01f", frames=list(frames(5, 9)), apex=0,
                   au_string="L2+26+38", emotion="surprise", objective_class=2),
    ]
    return recs, calls


def test_casme2_sheet_is_in_the_official_format(tmp_path):
    recs, _ = casme2_records()
    root = write_casme2(recs, tmp_path / "CASME2")
    wb = openpyxl.load_workbook(root / "CASME2-coding-20140508.xlsx")
    assert wb.sheetnames == ["Sheet1", "Sheet2", "Sheet3"]
    ws = wb["Sheet1"]
    assert ws.dimensions == "A1:I5"
    assert [c.value for c in ws[1]] == ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame",
                                         None, "Action Units", "Estimated Emotion"]
    assert [c.value for c in ws[2]] == ["01", "EP02_01f", None, 46, 48, 51, None, 12, "happiness"]
    assert [c.value for c in ws[3]] == ["04", "EP12_01f", None, 261, "/", 266, None, "4+7", "disgust"]
    assert ws["A2"].number_format == "@" and ws["C3"].value is None and ws["G3"].value is None
    assert ws["H2"].data_type == "n" and ws["H3"].data_type == "s"
    assert ws["D4"].value == 3 and ws["F4"].value == 7  # offset defaults to the last frame
    obj = openpyxl.load_workbook(root / "CASME2-ObjectiveClasses.xlsx")
    assert [c.value for c in obj["Sheet1"][1]] == ["Subject", "Filename", "Objective Class"]
    assert obj["Sheet1"]["C4"].value is None and "Sheet2" in obj.sheetnames
    assert sorted(p.name for p in (root / "CASME2_RAW_selected" / "sub01" / "EP02_01f").iterdir())[:3] == [
        "img45.jpg", "img46.jpg", "img47.jpg"]
    assert not (root / "Cropped").exists() and (root / LAYOUT_MARKER).is_file()


def test_casme2_round_trip_labels(tmp_path):
    recs, calls = casme2_records()
    root = write_casme2(recs, tmp_path / "CASME2", frames="both")
    assert calls == list(range(6))  # the callable was asked for each frame once, in order
    for kind in ("raw", "cropped"):
        cs = load_casme2(root, frames=kind)
        df = cs.to_dataframe()[LABELS]
        assert df.astype(object).where(df.notna(), None).values.tolist() == [
            ["sub01", "EP02_01f", 46, 48, 51, "12", "happiness", 1],
            ["sub04", "EP12_01f", 261, None, 266, "4+7", "disgust", 3],
            ["sub17", "EP06_02_01", 3, 5, 7, "?", "others", None],
            ["sub02", "EP02_01f", 1, 1, 5, "L2+26+38", "surprise", 2],
        ]


def test_pixels_and_rgb_order_survive(tmp_path):
    colours = np.array([[200, 40, 10], [10, 180, 60], [30, 60, 220]], np.uint8)
    smooth = np.broadcast_to(colours[:, None, None, :], (3, 16, 16, 3)).copy()
    root = write_casme2([ClipRecord(subject=1, clip_id="RGB", frames=smooth)], tmp_path / "C")
    got = load_casme2(root)[0].load_frames()
    assert np.abs(got.astype(int) - smooth.astype(int)).max() <= 4  # JPEG, so approximately


def test_rewrite_loaded_clips(tmp_path):
    recs, _ = casme2_records()
    first = load_casme2(write_casme2(recs, tmp_path / "A"))
    again = load_casme2(write_casme2(first, tmp_path / "B"))
    cols = [c for c in LABELS if c != "objective_class"]
    a, b = first.to_dataframe()[cols], again.to_dataframe()[cols]
    assert a.equals(b)
    assert list(again.to_dataframe().objective_class) == list(first.to_dataframe().objective_class)


def test_samm_sheet_format_and_round_trip(tmp_path):
    recs = [
        ClipRecord(subject=6, clip_id="006_1_2", frames=frames(6), onset=1, apex=2, offset=4, first_frame=5561,
                   au_string="4+7", emotion="Anger", objective_class=3, extra={"notes": "While blinking"}),
        ClipRecord(subject="016", clip_id="016_7_8", frames=frames(4, 3), first_frame=12299, apex=1,
                   au_string="(R6 or R12)+R15", emotion="Other", objective_class=7),
    ]
    root = write_samm(recs, tmp_path / "SAMM")
    wb = openpyxl.load_workbook(root / "SAMM_Micro_FACS_Codes_v2.xlsx")
    assert wb.sheetnames == ["MICRO_ONLY"]
    ws = wb["MICRO_ONLY"]
    for cell, text in SAMM_NOTE_ROWS.items():
        assert ws[cell].value == text
    assert ws["A7"].value == '"/" = or' and ws["A13"].value is None and ws.dimensions == "A1:L16"
    assert [c.value for c in ws[14]] == ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame",
                                          "Offset Frame", "Duration", "Micro", "Action Units", "Estimated Emotion",
                                          "Objective Classes", "Notes"]
    assert [c.value for c in ws[15]] == ["006", "006_1_2", 1, 5562, 5563, 5565, "=SUM(F15-D15)+1", "Micro - 1/2",
                                          "4+7", "Anger", 3, "While blinking"]
    assert ws["A15"].number_format == "@" and ws["C16"].value == 7
    assert (root / "016" / "016_7_8" / "016_12299.jpg").is_file()
    cs = load_samm(root)
    assert cs.to_dataframe()[LABELS].values.tolist() == [
        ["006", "006_1_2", 5562, 5563, 5565, "4+7", "Anger", 3],
        ["016", "016_7_8", 12299, 12300, 12302, "(R6 or R12)+R15", "Other", 7]]
    assert cs[0].meta["notes"] == "While blinking" and cs[0].meta["inducement_code"] == 1
    img = cs[0].frame(0)
    assert np.array_equal(img[..., 0], img[..., 1])  # written grayscale, as SAMM is


def test_ckplus_lossy_aus_warn(tmp_path):
    rec = ClipRecord(subject=5, clip_id="1", frames=frames(2), au_string="L12+ref(4)", emotion="happy")
    with pytest.warns(DatasetWarning, match="sides/modifiers"):
        root = write_ckplus([rec], tmp_path / "CK")
    assert load_ckplus(root)[0].au_string == "12+4"


# ----------------------------------------------------------------------------- atomicity


def test_refuses_foreign_folder_and_leaves_it_untouched(tmp_path):
    root = tmp_path / "CASME2"
    root.mkdir()
    (root / "CASME2-coding-20140508.xlsx").write_bytes(b"real data")
    recs, _ = casme2_records()
    with pytest.raises(InputValueError, match="not empty and was not written by mxkit"):
        write_casme2(recs, root, overwrite=True)
    assert [p.name for p in root.iterdir()] == ["CASME2-coding-20140508.xlsx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CASME2"]


def test_overwrite_own_layout_and_empty_folder(tmp_path):
    recs, _ = casme2_records()
    root = tmp_path / "out"
    root.mkdir()  # empty: fine
    write_casme2(recs[:1], root)
    with pytest.raises(InputValueError, match="overwrite=True"):
        write_casme2(recs[:1], root)
    write_casme2([ClipRecord(subject=3, clip_id="X", frames=frames(2))], root, overwrite=True)
    assert [c.clip_id for c in load_casme2(root)] == ["X"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp or old folders left


def test_failure_leaves_nothing_behind(tmp_path):
    def bad():
        yield tiny_frame(0)
        yield tiny_frame(1).astype(np.float32)

    recs = [ClipRecord(subject=1, clip_id="A", frames=frames(2)), ClipRecord(subject=1, clip_id="B", frames=bad())]
    with pytest.raises(InputValueError, match=r"record 1 \(B\), frame 1: expected a uint8 array"):
        write_samm(recs, tmp_path / "SAMM")
    assert list(tmp_path.iterdir()) == []


def test_sidecar_joins_the_commit(tmp_path):
    seen = []

    def sidecar(tmp):
        seen.append(tmp)
        (tmp / "gt").mkdir()
        (tmp / "gt" / "truth.npz").write_bytes(b"x")

    root = write_samm([ClipRecord(subject=6, clip_id="006_1_1", frames=frames(2))], tmp_path / "S", sidecar=sidecar)
    assert seen[0].name.startswith(".S.tmp-") and (root / "gt" / "truth.npz").is_file()
    assert len(load_samm(root)) == 1  # the loader ignores the extra folder and the marker


@pytest.mark.parametrize("rec, err, match", [
    (dict(subject="x1"), InputValueError, "subject must be a number"),
    (dict(onset=3, offset=1), InputValueError, "onset <= apex <= offset"),
    (dict(apex=4), InputValueError, "onset <= apex <= offset"),
    (dict(offset=9), InputValueError, "n_frames=4"),
    (dict(frames=lambda i: tiny_frame(i)), InputValueError, "n_frames is required"),
    (dict(frames=np.zeros((4, 5, 5, 4), np.uint8)), ShapeError, "frames must have shape"),
    (dict(frames=[tiny_frame(0), tiny_frame(1, (5, 5))]), ShapeError, "differs from frame 0"),
    (dict(frames=[]), InputValueError, "no frames"),
    (dict(frames=3), InputValueError, "frames must be an array"),
    (dict(clip_id="a/b"), InputValueError, "without '/'"),
    (dict(frame_numbers=[1, 2, 3]), InputValueError, "more frames than frame_numbers"),
    (dict(frame_numbers=[1, 1, 2, 3]), InputValueError, "repeat"),
])
def test_bad_records(tmp_path, rec, err, match):
    base = dict(subject=1, clip_id="EP01", frames=frames(4))
    with pytest.raises(err, match=match):
        write_casme2([ClipRecord(**(base | rec))], tmp_path / "C")
    assert list(tmp_path.iterdir()) == []


def test_bad_collections(tmp_path):
    with pytest.raises(InputValueError, match="no records"):
        write_casme2([], tmp_path / "C")
    with pytest.raises(InputValueError, match="ClipRecord or a Clip"):
        write_casme2([{"subject": 1}], tmp_path / "C")
    dup = [ClipRecord(subject=1, clip_id="A", frames=frames(2)), ClipRecord(subject="01", clip_id="A", frames=frames(2))]
    with pytest.raises(InputValueError, match="same sample"):
        write_casme2(dup, tmp_path / "C")
    with pytest.raises(OptionError):
        write_casme2(dup[:1], tmp_path / "C", frames="all")
    with pytest.raises(InputValueError, match="CK\\+ emotion"):
        write_ckplus([ClipRecord(subject=1, clip_id="1", frames=frames(2), emotion="joy")], tmp_path / "K")
    with pytest.raises(InputValueError, match="sequence number"):
        write_ckplus([ClipRecord(subject=1, clip_id="seq", frames=frames(2))], tmp_path / "K")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputValueError, match="not a folder"):
        write_samm(dup[:1], tmp_path / "file")
