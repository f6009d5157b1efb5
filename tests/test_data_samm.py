"""load_samm on a synthetic copy in the published layout (DATASETS.md §2, §9)."""

from __future__ import annotations

import shutil

import openpyxl
import pytest

from mxkit.data import DatasetWarning, MissingFramesError, load_samm
from mxkit.errors import DatasetFormatError

from .test_data_support import (
    SAMM_HEADER,
    SAMM_ROWS,
    invalid_rows,
    make_samm,
    samm_sheet_rows,
    tree_snapshot,
    write_xlsx,
)


@pytest.fixture(scope="module")
def samm_root(tmp_path_factory):
    return make_samm(tmp_path_factory.mktemp("samm") / "SAMM")


def small_rows():
    """Three rows with windows cut to 9 frames (fast fixtures to corrupt)."""
    rows = [r for r in SAMM_ROWS if r[1] in ("006_1_2", "007_6_1", "016_7_8")]
    return [r[:4] + (r[3] + 4, r[3] + 8) + r[6:] for r in rows]


@pytest.fixture
def fresh(tmp_path):
    return make_samm(tmp_path / "SAMM", small_rows())


def edit(root, fn, sheet="MICRO_ONLY"):
    p = root / "SAMM_Micro_FACS_Codes_v2.xlsx"
    wb = openpyxl.load_workbook(p)
    fn(wb[sheet])
    wb.save(p)


def test_known_rows_and_apex_warning(samm_root):
    with pytest.warns(DatasetWarning, match=r"2 clip\(s\) have an apex outside.*028/028_4_1.*row 23.*032/032_3_1"):
        cs = load_samm(samm_root)
    assert len(cs) == len(SAMM_ROWS)
    df = cs.to_dataframe()
    assert df.loc[0, ["subject", "clip_id", "onset_frame", "apex_frame", "offset_frame", "emotion", "objective_class"]].tolist() == [
        "006", "006_1_2", 5562, 5588, 5632, "Anger", 3]
    c = cs[0]
    assert c.fps == 200 and c.n_frames == 71 and c.frames[0].name == "006_05562.jpg"
    assert c.meta["inducement_code"] == 1 and c.meta["micro"] == "Micro - 1/2" and c.meta["label_row"] == 15
    assert cs[1].meta["notes"] == "While blinking"
    assert "duration_label" not in c.meta  # the formula has no cached value: never trusted
    assert c.duration_s == pytest.approx(71 / 200)


def test_apex_outside_window_is_kept_with_none(samm_root):
    with pytest.warns(DatasetWarning):
        cs = load_samm(samm_root)
    a = cs.find("028_4_1")
    assert a.apex is None and a.meta["apex_frame_label"] == 1143 and a.offset_frame == 1134
    b = cs.find("032_3_1")
    assert b.apex is None and b.meta["apex_frame_label"] == 1930
    p = cs.problems
    rows = p[p.kind == "apex_outside_window"]
    assert rows.clip_id.tolist() == ["028_4_1", "032_3_1"] and rows.column.tolist() == ["E", "E"]
    assert rows.row.tolist() == [23, 24]


def test_subject_padding_and_five_digit_frames(samm_root):
    with pytest.warns(DatasetWarning):
        cs = load_samm(samm_root)
    c = cs.find("007_6_1")
    assert c.subject == "007" and c.meta["subject_label"] == "7"
    big = cs.find("016_7_8")
    assert big.frames[0].name == "016_12300.jpg" and big.apex_frame == 12324
    assert sorted({c.subject for c in cs}) == ["006", "007", "010", "011", "014", "016", "028", "032"]


def test_rich_au_vocabulary(samm_root):
    with pytest.warns(DatasetWarning):
        cs = load_samm(samm_root)
    def k(cid):
        return [(a.key, a.intensity, a.alternative, a.reference) for a in cs.find(cid).aus]
    assert k("006_3_4") == [("AU15", "A", None, False), ("AU17", None, None, False)]
    assert k("007_6_1") == [("R6", None, 1, False), ("R12", None, 1, False), ("R15", None, None, False)]
    assert k("010_2_1") == [("AU7", "B", None, False), ("AU43", None, None, True)]
    assert k("011_4_2") == [("AU10", "A", 1, False), ("AU10", "B", 1, False)]
    c = cs.find("014_3_3")
    assert [a.key for a in c.aus] == ["R14", "AU17"] and c.meta["au_unparsed"] == ("soft focus",)
    assert cs.find("016_7_8").au_string == "12+15 "  # raw kept, trailing space included
    assert [a.key for a in cs.find("028_4_1").aus] == ["L12", "AU61"]
    assert [(a.modifier, a.side) for a in cs.find("032_3_1").aus] == [("A", None), (None, "L")]
    assert cs.find("006_1_3").au_string == "4"  # an int cell
    assert set(c.emotion for c in cs) >= {"Anger", "Other", "Happiness", "Contempt"}


def test_duration_cached_value_is_kept_but_not_trusted(fresh):
    edit(fresh, lambda ws: setattr(ws.cell(15, 7), "value", 999))
    c = load_samm(fresh)[0]
    assert c.meta["duration_label"] == 999 and c.n_frames == 9


def test_header_found_when_note_rows_differ(tmp_path):
    rows = small_rows()
    data = samm_sheet_rows(rows, header_row=12)
    root = make_samm(tmp_path / "S", rows, sheet_rows=data)
    cs = load_samm(root)
    assert len(cs) == 3 and cs[0].meta["label_row"] == 13


def test_loader_writes_nothing(samm_root):
    before = tree_snapshot(samm_root)
    with pytest.warns(DatasetWarning):
        load_samm(samm_root)
    assert tree_snapshot(samm_root) == before


def test_missing_frames(fresh):
    (fresh / "006" / "006_1_2" / "006_05566.jpg").unlink()
    with pytest.raises(MissingFramesError, match=r"006/006_1_2.*SAMM_Micro_FACS_Codes_v2.xlsx', sheet 'MICRO_ONLY', row 15.*5566"):
        load_samm(fresh)
    with pytest.warns(DatasetWarning, match="missing frames"):
        cs = load_samm(fresh, missing="skip")
    assert [c.clip_id for c in cs] == ["007_6_1", "016_7_8"]


# ----------------------------------------------------------------------------- errors


def test_no_header_row(tmp_path):
    rows = small_rows()
    data = samm_sheet_rows(rows)
    data[13] = ["Subj", "File", "x"]
    root = make_samm(tmp_path / "S", rows, sheet_rows=data)
    with pytest.raises(DatasetFormatError) as exc:
        load_samm(root)
    msg = str(exc.value)
    assert "SAMM_Micro_FACS_Codes_v2.xlsx" in msg and "sheet 'MICRO_ONLY'" in msg and "rows 1-" in msg
    assert "wrong header" in msg and "'Subject'" in msg


def test_missing_apex_column(tmp_path):
    rows = small_rows()
    header = [h if h != "Apex Frame" else "Peak" for h in SAMM_HEADER]
    root = make_samm(tmp_path / "S", rows, sheet_rows=samm_sheet_rows(rows, header=header))
    with pytest.raises(DatasetFormatError, match=r"missing column\(s\) 'Apex Frame'.*Peak"):
        load_samm(root)


@pytest.mark.parametrize("col, value, letter, name", [
    (4, "abc", "D", "Onset Frame"), (5, "5588?", "E", "Apex Frame"), (6, 56.5, "F", "Offset Frame"),
    (1, "six", "A", "Subject"), (3, "one", "C", "Inducement Code"), (11, 9, "K", "Objective Classes"),
])
def test_bad_cells_name_row_and_column(fresh, col, value, letter, name):
    edit(fresh, lambda ws: setattr(ws.cell(16, col), "value", value))
    with pytest.warns(DatasetWarning, match=rf"row 16\): column {letter}"):
        cs = load_samm(fresh)
    ident = (None, None) if col == 1 else ("007", "007_6_1")
    assert invalid_rows(cs) == [("SAMM_Micro_FACS_Codes_v2.xlsx", "MICRO_ONLY", 16, letter, *ident)]
    assert f"column {letter} ('{name}')" in cs.problems.detail[cs.problems.kind == "invalid_row"].iloc[0]
    assert [c.clip_id for c in cs] == ["006_1_2", "016_7_8"]  # one bad row never aborts the load


def test_onset_after_offset(fresh):
    edit(fresh, lambda ws: setattr(ws.cell(15, 4), "value", 9999))
    with pytest.warns(DatasetWarning, match="invalid"):
        cs = load_samm(fresh)
    assert invalid_rows(cs) == [("SAMM_Micro_FACS_Codes_v2.xlsx", "MICRO_ONLY", 15, "D", "006", "006_1_2")]
    assert "9999 is after offset" in cs.problems.detail[cs.problems.kind == "invalid_row"].iloc[0]


def test_sheet_name(tmp_path, fresh):
    rows = small_rows()
    root = make_samm(tmp_path / "S", rows, sheet_name="Sheet1")  # only one sheet: used
    assert len(load_samm(root)) == 3
    p = root / "SAMM_Micro_FACS_Codes_v2.xlsx"
    wb = openpyxl.load_workbook(p)
    wb.create_sheet("MACRO")
    wb.save(p)
    with pytest.raises(DatasetFormatError, match=r"no sheet 'MICRO_ONLY'; the sheets are \['Sheet1', 'MACRO'\]"):
        load_samm(root)
    assert len(load_samm(root, sheet="Sheet1")) == 3


def test_apex_dash_is_missing(fresh):
    edit(fresh, lambda ws: setattr(ws.cell(16, 5), "value", "-"))
    cs = load_samm(fresh)
    assert cs[1].apex is None and cs.problems.kind.tolist() == ["apex_missing"]


def test_corrected_copy_via_labels(tmp_path, fresh):
    shutil.copy(fresh / "SAMM_Micro_FACS_Codes_v2.xlsx", tmp_path / "fixed.xlsx")
    cs = load_samm(fresh, labels=tmp_path / "fixed.xlsx")
    assert cs[0].meta["label_file"].endswith("fixed.xlsx")
    write_xlsx(fresh / "SAMM_Micro_FACS_Codes_v2.xlsx", {"MICRO_ONLY": [[None], ["note"]]})
    with pytest.raises(DatasetFormatError, match="wrong header"):
        load_samm(fresh)
