"""load_casme2 on a synthetic copy in the published layout (DATASETS.md §1, §9)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from mxkit.data import DatasetWarning, MissingFramesError, load_casme2
from mxkit.errors import DatasetFormatError, FrameReadError, OptionError

from .test_data_support import (
    CASME2_ROWS,
    PAD,
    casme2_frame_folder,
    invalid_rows,
    make_casme2,
    short_rows,
    tree_snapshot,
    write_xlsx,
)


@pytest.fixture(scope="module")
def casme2_root(tmp_path_factory):
    return make_casme2(tmp_path_factory.mktemp("c2") / "CASME2")


@pytest.fixture(scope="module")
def cropped_only(tmp_path_factory):
    return make_casme2(tmp_path_factory.mktemp("c2c") / "CASME II", short_rows(), kinds=("cropped",),
                       objective=False)


@pytest.fixture
def fresh(tmp_path, cropped_only):
    """A private copy to corrupt (folder name with a space, as 'CASME II')."""
    return Path(shutil.copytree(cropped_only, tmp_path / "CASME II"))


def setc(ws, r, c, v):
    ws.cell(r, c).value = v  # ws.cell(r, c, None) would leave the cell unchanged


def edit_sheet(root, fn):
    path = root / "CASME2-coding-20140508.xlsx"
    wb = openpyxl.load_workbook(path)
    fn(wb["Sheet1"])
    wb.save(path)
    return path


def test_known_rows(casme2_root):
    cs = load_casme2(casme2_root)
    assert len(cs) == len(CASME2_ROWS)
    df = cs.to_dataframe()
    assert df[["subject", "clip_id", "onset_frame", "offset_frame", "emotion"]].values.tolist()[:3] == [
        ["sub01", "EP02_01f", 46, 86, "happiness"],
        ["sub01", "EP03_02", 131, 161, "others"],
        ["sub01", "EP19_05f", 396, 446, "disgust"],
    ]
    first = cs[0]
    assert first.fps == 200 and first.n_frames == 41 and first.apex_frame == 59
    assert (first.onset, first.apex, first.offset) == (0, 13, 40)
    assert first.meta["subject_label"] == "01" and first.meta["frame_variant"] == "cropped"
    assert first.meta["label_row"] == 2 and first.meta["label_sheet"] == "Sheet1"
    assert first.frames[0].name == "reg_img46.jpg" and first.frames[-1].name == "reg_img86.jpg"
    assert cs.subjects[0] == "casme2/sub01" and len(cs.subjects) == 7
    assert first.load_frames([0]).shape == (1, 12, 16, 3)


def test_subject_text_or_number(casme2_root):
    cs = load_casme2(casme2_root)
    c = cs.find("EP15_01")  # Subject cell is the int 17
    assert c.subject == "sub17" and c.meta["subject_label"] == "17"


def test_apex_slash_is_missing(casme2_root):
    cs = load_casme2(casme2_root)
    c = cs.find("EP12_01f")
    assert c.apex is None and c.apex_frame is None and c.apex_or_middle == 30
    p = cs.problems
    row = p[p.kind == "apex_missing"].iloc[0]
    assert (row.subject, row.clip_id, row.row, row.column, row.action) == ("sub04", "EP12_01f", 7, "E", "kept")


def test_apex_at_onset_and_offset(casme2_root):
    cs = load_casme2(casme2_root)
    a = cs.find("EP09_05f")
    assert a.apex == a.onset == 0
    b = cs.find("EP03_02", subject="sub05")
    assert b.apex == b.offset


def test_mixed_au_cells(casme2_root):
    cs = load_casme2(casme2_root)
    assert cs[0].au_string == "12" and [a.key for a in cs[0].aus] == ["AU12"]
    assert [a.key for a in cs.find("EP19_05f").aus] == ["AU4", "L10"]
    q = cs.find("EP03_02", subject="sub05")
    assert q.au_string == "?" and q.aus == ()


def test_same_filename_under_two_subjects_and_odd_names(casme2_root):
    cs = load_casme2(casme2_root)
    both = cs.filter(clip_id="EP03_02")
    assert [c.subject for c in both] == ["sub01", "sub05"]
    assert both[0].frames_dir != both[1].frames_dir
    assert cs.find("EP06_02_01").n_frames == 10
    assert cs.problems.kind.tolist() == ["apex_missing"]  # no duplicate-key problem


def test_stray_files_ignored_and_window_all(casme2_root):
    cs = load_casme2(casme2_root, window="all")
    c = cs[0]
    assert c.n_frames == 41 + 2 * PAD
    assert c.frame_numbers[0] == 46 - PAD and c.onset == PAD and c.apex_frame == 59 and c.offset_frame == 86
    assert all(p.suffix == ".jpg" for p in c.frames)


def test_raw_frames_and_objective_classes(casme2_root):
    cs = load_casme2(casme2_root, frames="raw")
    c = cs[0]
    assert c.frames[0].name == "img46.jpg" and "CASME2_RAW_selected" in str(c.frames[0])
    assert [x.objective_class for x in cs][:3] == [1, 7, 4]
    assert cs.find("EP09_05f").objective_class == 1  # written as 'I'
    assert cs.find("EP03_02", subject="sub05").objective_class == 3
    assert load_casme2(casme2_root, objective_classes=False)[0].objective_class is None


def test_objective_class_column_in_coding_file(fresh):
    def add(ws):
        ws.cell(1, 10, "Objective Classes")
        for r in range(2, ws.max_row + 1):
            ws.cell(r, 10, 5)
    edit_sheet(fresh, add)
    assert {c.objective_class for c in load_casme2(fresh)} == {5}


def test_alternative_folder_names_and_frames_dir(tmp_path, casme2_root):
    root = tmp_path / "c"
    shutil.copytree(casme2_root, root)
    (root / "Cropped").rename(root / "Cropped_original")
    (root / "CASME2_RAW_selected").rename(root / "CASME2-RAW")
    assert load_casme2(root)[0].meta["frame_variant"] == "cropped"
    assert "CASME2-RAW" in str(load_casme2(root, frames="raw")[0].frames[0])
    cs = load_casme2(root, frames_dir=root / "CASME2-RAW")
    assert cs[0].frames[0].name == "img46.jpg"


def test_nested_frames_folder(tmp_path, casme2_root):
    root = tmp_path / "c"
    shutil.copytree(casme2_root, root, ignore=shutil.ignore_patterns("CASME2_RAW_selected"))
    (root / "Cropped").rename(root / "tmp")
    (root / "Cropped").mkdir()
    (root / "tmp").rename(root / "Cropped" / "Cropped")
    assert len(load_casme2(root)) == len(CASME2_ROWS)


def test_loader_writes_nothing(casme2_root):
    before = tree_snapshot(casme2_root)
    load_casme2(casme2_root, window="all").to_dataframe()
    assert tree_snapshot(casme2_root) == before


# ----------------------------------------------------------------------------- missing frames


def test_missing_frames_raise_by_default(fresh):
    folder = casme2_frame_folder(fresh, "cropped", "02", "EP11_01")
    for n in (18, 19, 20, 22):
        (folder / f"reg_img{n}.jpg").unlink()
    shutil.rmtree(casme2_frame_folder(fresh, "cropped", "09", "EP13_02"))
    with pytest.raises(MissingFramesError) as exc:
        load_casme2(fresh)
    msg = str(exc.value)
    assert "2 clip(s)" in msg and "sub02/EP11_01" in msg and "18-20, 22" in msg
    assert "CASME2-coding-20140508.xlsx" in msg and "row 6" in msg and "sub09/EP13_02" in msg
    assert "missing='warn'" in msg
    assert set(exc.value.problems.kind) == {"missing_frames", "missing_folder"}


def test_missing_frames_warn_keeps_clip_and_fails_on_read(fresh):
    folder = casme2_frame_folder(fresh, "cropped", "02", "EP11_01")
    (folder / "reg_img20.jpg").unlink()
    with pytest.warns(DatasetWarning, match="missing frames.*sub02/EP11_01"):
        cs = load_casme2(fresh, missing="warn")
    assert len(cs) == len(CASME2_ROWS)
    c = cs.find("EP11_01")
    assert c.n_frames == 7 and c.frames[4].name == "reg_img20.jpg"
    with pytest.raises(FrameReadError, match="reg_img20.jpg"):
        c.load_frames()
    p = cs.problems
    row = p[p.kind == "missing_frames"].iloc[0]
    assert (row.clip_id, row.action, row.row) == ("EP11_01", "kept", 6)


def test_missing_frames_skip_drops_with_record(fresh):
    shutil.rmtree(casme2_frame_folder(fresh, "cropped", "09", "EP13_02"))
    with pytest.warns(DatasetWarning, match="no sample folder"):
        cs = load_casme2(fresh, missing="skip")
    assert len(cs) == len(CASME2_ROWS) - 1
    assert "EP13_02" not in {c.clip_id for c in cs}
    p = cs.problems
    assert p[p.kind == "missing_folder"].action.tolist() == ["skipped"]


# ----------------------------------------------------------------------------- errors


def test_wrong_header(fresh):
    edit_sheet(fresh, lambda ws: ws.cell(1, 1, "Subj"))
    with pytest.raises(DatasetFormatError) as exc:
        load_casme2(fresh)
    msg = str(exc.value)
    assert "CASME2-coding-20140508.xlsx" in msg and "sheet 'Sheet1'" in msg and "row 1" in msg
    assert "'Subject'" in msg and "wrong header" in msg


def test_missing_column(fresh):
    edit_sheet(fresh, lambda ws: setc(ws, 1, 5, None))
    with pytest.raises(DatasetFormatError, match=r"sheet 'Sheet1', row 1.*missing column\(s\) 'ApexFrame'"):
        load_casme2(fresh)


@pytest.mark.parametrize("col, value, letter, text", [
    (4, "abc", "D", "OnsetFrame"), (6, 12.5, "F", "OffsetFrame"), (5, "x1", "E", "ApexFrame"),
    (4, -3, "D", "OnsetFrame"), (4, None, "D", "OnsetFrame"),
])
def test_bad_frame_cell_is_reported_and_the_rest_loads(fresh, col, value, letter, text):
    edit_sheet(fresh, lambda ws: setc(ws, 3, col, value))
    with pytest.warns(DatasetWarning, match=rf"1 row\(s\) of the labels are invalid.*row 3\): column {letter}"):
        cs = load_casme2(fresh)
    assert len(cs) == len(CASME2_ROWS) - 1 and "EP03_02" not in {c.clip_id for c in cs if c.subject == "sub01"}
    bad = invalid_rows(cs)
    assert bad == [("CASME2-coding-20140508.xlsx", "Sheet1", 3, letter, "sub01", "EP03_02")]
    assert f"column {letter} ('{text}')" in cs.problems.detail[cs.problems.kind == "invalid_row"].iloc[0]


def test_onset_after_offset_is_reported(fresh):
    edit_sheet(fresh, lambda ws: ws.cell(4, 4, 999))
    with pytest.warns(DatasetWarning, match="invalid"):
        cs = load_casme2(fresh)
    assert invalid_rows(cs) == [("CASME2-coding-20140508.xlsx", "Sheet1", 4, "D", "sub01", "EP19_05f")]
    detail = cs.problems.detail[cs.problems.kind == "invalid_row"].iloc[0]
    assert "onset frame 999 is after offset frame 402 (column F ('OffsetFrame'))" in detail
    assert len(cs) == len(CASME2_ROWS) - 1


def test_bad_subject_and_empty_filename_are_reported(fresh):
    edit_sheet(fresh, lambda ws: (ws.cell(2, 1, "someone"), setc(ws, 5, 2, None)))
    with pytest.warns(DatasetWarning, match="2 row"):
        cs = load_casme2(fresh)
    assert invalid_rows(cs) == [("CASME2-coding-20140508.xlsx", "Sheet1", 2, "A", None, None),
                                ("CASME2-coding-20140508.xlsx", "Sheet1", 5, "B", "sub02", None)]
    details = cs.problems.detail[cs.problems.kind == "invalid_row"].tolist()
    assert "column A ('Subject'): expected a subject number" in details[0]
    assert "column B ('Filename'): the cell is empty" in details[1]
    assert len(cs) == len(CASME2_ROWS) - 2


def test_every_row_invalid_is_an_error(fresh):
    def spoil(ws):
        for r in range(2, ws.max_row + 1):
            ws.cell(r, 4, "x")
    edit_sheet(fresh, spoil)
    with pytest.raises(DatasetFormatError, match=r"none of its 11 row\(s\) is a valid sample:\n  row 2: column D \('OnsetFrame'\)"):
        load_casme2(fresh)


def test_sub_prefixed_subject_is_accepted(fresh):
    edit_sheet(fresh, lambda ws: ws.cell(2, 1, "sub01"))
    assert load_casme2(fresh)[0].subject == "sub01"


def test_blank_rows_are_skipped_and_no_rows_is_an_error(fresh):
    edit_sheet(fresh, lambda ws: ws.insert_rows(3))
    assert len(load_casme2(fresh)) == len(CASME2_ROWS)
    edit_sheet(fresh, lambda ws: ws.delete_rows(2, ws.max_row))
    with pytest.raises(DatasetFormatError, match="no data rows"):
        load_casme2(fresh)


def test_folder_and_file_errors(tmp_path, fresh):
    with pytest.raises(DatasetFormatError, match="does not exist"):
        load_casme2(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetFormatError, match="is empty"):
        load_casme2(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "readme.txt").write_text("x")
    with pytest.raises(DatasetFormatError, match="no CASME II coding file.*CASME2-coding-20140508.xlsx"):
        load_casme2(tmp_path / "other")
    with pytest.raises(DatasetFormatError, match="labels="):
        load_casme2(fresh, labels="missing.xlsx")
    with pytest.raises(DatasetFormatError, match="no sheet 'Nope'.*Sheet1"):
        load_casme2(fresh, sheet="Nope")
    with pytest.raises(DatasetFormatError, match="no CASME II frame folder.*CASME2_RAW_selected"):
        load_casme2(fresh, frames="raw")
    (fresh / "CASME2-coding-20140508.xlsx").write_bytes(b"not a zip")
    with pytest.raises(DatasetFormatError, match="not a readable .xlsx"):
        load_casme2(fresh)


def test_other_coding_versions(tmp_path, casme2_root):
    root = tmp_path / "c"
    shutil.copytree(casme2_root, root, ignore=shutil.ignore_patterns("CASME2_RAW_selected"))
    (root / "CASME2-coding-20140508.xlsx").rename(root / "CASME2-coding-updated.xlsx")
    assert len(load_casme2(root)) == len(CASME2_ROWS)  # the only coding file
    shutil.copy(root / "CASME2-coding-updated.xlsx", root / "[modified]CASME2-coding-20190701.xlsx")
    with pytest.raises(DatasetFormatError, match="several candidate.*labels="):
        load_casme2(root)
    assert len(load_casme2(root, labels="CASME2-coding-updated.xlsx")) == len(CASME2_ROWS)


def test_csv_export_and_other_sheet_name(tmp_path, casme2_root):
    root = tmp_path / "c"
    shutil.copytree(casme2_root, root, ignore=shutil.ignore_patterns("CASME2_RAW_selected"))
    rows = [["Subject", "Filename", "", "OnsetFrame", "ApexFrame", "OffsetFrame", "", "Action Units", "Estimated Emotion"],
            ["01", "EP02_01f", "", "46", "59", "86", "", "12", "happiness"]]
    (root / "export.csv").write_text("\n".join(",".join(r) for r in rows) + "\n")
    cs = load_casme2(root, labels=root / "export.csv")
    assert len(cs) == 1 and cs[0].apex_frame == 59 and cs[0].meta["label_row"] == 2
    write_xlsx(root / "CASME2-coding-20140508.xlsx", {"Data": [rows[0], ["01", "EP02_01f", None, 46, 59, 86, None, 12, "happiness"]]})
    assert len(load_casme2(root)) == 1


def test_bad_objective_class(fresh):
    write_xlsx(fresh / "CASME2-ObjectiveClasses.xlsx",
               {"Sheet1": [["Subject", "Filename", "Objective Class"], ["01", "EP02_01f", 9]]})
    with pytest.raises(DatasetFormatError, match=r"CASME2-ObjectiveClasses.xlsx', sheet 'Sheet1', row 2, column C"):
        load_casme2(fresh)
    with pytest.raises(DatasetFormatError, match="objective_classes=True"):
        (fresh / "CASME2-ObjectiveClasses.xlsx").unlink()
        load_casme2(fresh, objective_classes=True)


@pytest.mark.parametrize("kw", [{"frames": "both"}, {"missing": "ignore"}, {"window": "onset"}])
def test_bad_options(casme2_root, kw):
    with pytest.raises(OptionError):
        load_casme2(casme2_root, **kw)


def test_frames_are_lazy(casme2_root, monkeypatch):
    import cv2

    calls = []
    monkeypatch.setattr(cv2, "imread", lambda *a, **k: calls.append(a) or np.zeros((1, 1, 3), np.uint8))
    load_casme2(casme2_root)
    assert calls == []
