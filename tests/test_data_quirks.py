"""Coding files as they circulate (issue 14): CAS(ME)², CASME (I), SAMM v2 and SMIC-E, each
quirk written cell for cell (cell types, blank columns, formulas with cached values, header
positions); the loaders load every valid row and report every invalid one."""

from __future__ import annotations

import re

import openpyxl
import pytest

from mxkit.data import DatasetWarning, load_casme, load_casme_sq, load_mmew, load_samm, load_smic
from mxkit.errors import DatasetFormatError, OptionError

from .test_data_support import (
    SAMM_HEADER,
    invalid_rows,
    samm_sheet_rows,
    tree_snapshot,
    write_frames,
    write_xls,
    write_xlsx,
)


def warned(record, pattern):
    """True when one of the recorded warnings matches ``pattern`` (others may be present)."""
    return any(re.search(pattern, str(w.message)) for w in record)


def problems_of(cs, kind):
    p = cs.problems
    return p[p.kind == kind]


# ============================================================================= CAS(ME)²
#: CASFEcode_final as circulated: no header, 9 filled columns + 2 empty ones (J, K), the
#: subject as the sheet's number 1..22 (mapped by 'naming rule1' to the folders s15..s40).
CASME_SQ_CODE = [
    [1, "anger1_1", 557, 572, 580, "4+7", "negative", "micro-expression", "anger"],
    [1, "anger1_2", 600, 610, 0, "4", "negative", "macro-expression", "anger"],  # offset 0
    [1, "disgust1_1", 100, 0, 112, "9", "negative", "micro-expression", "disgust"],  # apex 0
    [2, "happy1_3", 20, 25, 30, "NULL", "positive", "micro-expression", "happyiness"],  # NULL, typo
    [2, "happy1_4", "x", 25, 30, 12, "positive", "micro-expression", "happiness"],  # bad onset
    [3, "anger1_1", 5, 8, 9, 4, "negative", "micro-expression", "anger"],  # not in naming rule1
]
CASME_SQ_RULE1 = [[1, "s15", 15], [2, "s16", 16]]
CASME_SQ_RULE2 = [[401, "anger1"], [101, "disgust1"], [102, "happy1"]]


def make_casme_sq_real(root, name="CAS(ME)^2code_final.xlsx"):
    n = len(CASME_SQ_CODE)
    write_xlsx(root / name, {"CASFEcode_final": CASME_SQ_CODE, "naming rule1": CASME_SQ_RULE1,
                             "naming rule2": CASME_SQ_RULE2, "Sheet4": [["scratch"]],
                             "statistics": [["micro", 57], ["macro", 300]]},
               blank_cells=[("CASFEcode_final", f"{c}{r}") for r in range(1, n + 1) for c in "JK"])
    write_frames(root / "rawpic" / "s15" / "15_0401girlcrashing", [f"img{k}.jpg" for k in range(550, 615)])
    write_frames(root / "rawpic" / "s15" / "15_0101disgustingteeth", [f"img{k}.jpg" for k in range(98, 115)])
    write_frames(root / "rawpic" / "s16" / "16_0102happy", [f"img{k}.jpg" for k in range(18, 32)])
    return root


def test_casme_sq_fixture_has_eleven_columns_and_no_header(tmp_path):
    root = make_casme_sq_real(tmp_path / "C")
    ws = openpyxl.load_workbook(root / "CAS(ME)^2code_final.xlsx")["CASFEcode_final"]
    assert ws.max_column == 11 and ws["A1"].value == 1 and ws["J1"].value is None and ws["K6"].value is None
    assert openpyxl.load_workbook(root / "CAS(ME)^2code_final.xlsx").sheetnames == [
        "CASFEcode_final", "naming rule1", "naming rule2", "Sheet4", "statistics"]


def test_casme_sq_real_quirks(tmp_path):
    root = make_casme_sq_real(tmp_path / "C")
    before = tree_snapshot(root)
    with pytest.warns(DatasetWarning) as rec:
        cs = load_casme_sq(root, expression_type="all")
    text = " ".join(str(w.message) for w in rec)
    assert "2 row(s) of the labels are invalid" in text and "no annotated offset" in text
    # every valid row loads, with the subject mapped 1 -> s15, 2 -> s16 and folders 15_0401..., 16_0102...
    got = [(c.subject, c.clip_id, c.onset_frame, c.apex_frame, c.offset_frame, c.meta["video_folder"]) for c in cs]
    assert got == [("s15", "anger1_1", 557, 572, 580, "15_0401girlcrashing"),
                   ("s15", "anger1_2", 600, 610, 610, "15_0401girlcrashing"),  # offset 0: ends at the apex
                   ("s15", "disgust1_1", 100, None, 112, "15_0101disgustingteeth"),  # apex 0: unknown
                   ("s16", "happy1_3", 20, 25, 30, "16_0102happy")]
    assert [c.meta["subject_label"] for c in cs] == ["1", "1", "1", "2"]
    assert invalid_rows(cs) == [("CAS(ME)^2code_final.xlsx", "CASFEcode_final", 5, "C", "s16", "happy1_4"),
                                ("CAS(ME)^2code_final.xlsx", "CASFEcode_final", 6, "A", None, None)]
    assert "subject 3 is not in the 'naming rule1' sheet" in problems_of(cs, "invalid_row").detail.iloc[1]
    off = problems_of(cs, "offset_missing")
    assert off[["row", "column", "action"]].values.tolist() == [[2, "E", "kept"]]
    assert "holds 0 (not annotated): the clip ends at apex frame 610" in off.detail.iloc[0]
    ap = problems_of(cs, "apex_missing")
    assert ap[["clip_id", "row", "column"]].values.tolist() == [["disgust1_1", 3, "D"]]
    happy = cs.find("happy1_3")
    assert happy.aus == () and happy.au_string == "NULL" and happy.meta["self_reported_emotion"] == "happyiness"
    assert problems_of(cs, "au_missing")[["clip_id", "column"]].values.tolist() == [["happy1_3", "F"]]
    typo = problems_of(cs, "emotion_spelling")
    assert typo[["clip_id", "column"]].values.tolist() == [["happy1_3", "I"]]
    assert "'happyiness' is probably 'happiness'" in typo.detail.iloc[0]
    assert tree_snapshot(root) == before
    # the default micro selection, and the same file under its other name
    (root / "CAS(ME)^2code_final.xlsx").rename(root / "code_final.xlsx")
    with pytest.warns(DatasetWarning):
        micro = load_casme_sq(root)
    assert [c.clip_id for c in micro] == ["anger1_1", "disgust1_1", "happy1_3"]


def test_casme_sq_one_bad_row_never_aborts(tmp_path):
    root = make_casme_sq_real(tmp_path / "C")
    p = root / "CAS(ME)^2code_final.xlsx"
    wb = openpyxl.load_workbook(p)
    wb["CASFEcode_final"]["H1"] = "sometimes"  # the first row's type is unreadable
    wb.save(p)
    with pytest.warns(DatasetWarning) as rec:
        cs = load_casme_sq(root, expression_type="all")
    assert warned(rec, r"row 1\): column H \('type'\)")
    assert [c.clip_id for c in cs] == ["anger1_2", "disgust1_1", "happy1_3"]


# ============================================================================= CASME (I)
CASME_HEADER = ["Subject", "Filename", None, "OnsetF", "ApexF1", "ApexF2", "OffsetF", None, "Onset", "Total", "AU",
                "Emotion"]
#: Subjects stored as floats, '\\' for missing values (in ApexF2 and in OffsetF), 'remake' in a
#: frame column, fractional-ms Onset/Total, a clip recorded twice, 'comtempt'.
CASME_I_ROWS = [
    [1.0, "EP01_12", None, 73, 81, "\\", 91, None, 150.0, 316.666667, 4, "tense"],
    [1.0, "EP01_5", None, 113, 121, 125, 133, None, 150.0, 350.0, 12, "happiness"],
    [1.0, "EP03_1", None, 79, 91, 95, "\\", None, 216.666667, 450.0, "4+17", "repression"],
    [2.0, "EP05_2", None, "remake", 20, "\\", 30, None, 183.333333, 316.666667, "1+2", "surprise"],
    [2.0, "EP07_3", None, 40, 45, "\\", 52, None, 100.0, 216.666667, 14, "comtempt"],
    [1.0, "EP01_5", None, 113, 121, 125, 133, None, 150.0, 350.0, 12, "happiness"],
]


def make_casme_i(root, rows=CASME_I_ROWS, name="CASME-coded-20190721.xls"):
    write_xls(root / name, {"Sheet1": [CASME_HEADER] + rows})
    for subj, fn, *_ in rows:
        folder = root / "CASME_raw_selected" / f"sub{int(subj):02d}" / str(fn)
        if fn is not None and not folder.exists():
            write_frames(folder, [f"{fn}-{k}.jpg" for k in range(10, 140)])
    return root


def test_casme_i_real_quirks(tmp_path):
    root = make_casme_i(tmp_path / "CASME")
    with pytest.warns(DatasetWarning) as rec:
        cs = load_casme(root)
    text = " ".join(str(w.message) for w in rec)
    assert "1 row(s) of the labels are invalid" in text and "appear twice" in text
    got = [(c.subject, c.clip_id, c.onset_frame, c.apex_frame, c.offset_frame, c.meta.get("apex2_frame")) for c in cs]
    assert got == [("sub01", "EP01_12", 73, 81, 91, None),
                   ("sub01", "EP01_5", 113, 121, 133, 125),
                   ("sub01", "EP03_1", 79, 91, 95, 95),      # OffsetF '\\': ends at ApexF2
                   ("sub02", "EP07_3", 40, 45, 52, None),
                   ("sub01", "EP01_5", 113, 121, 133, 125)]  # the second record is kept too
    assert cs[0].meta["subject_label"] == "1" and cs[0].meta["total_ms_label"] == pytest.approx(316.666667)
    assert invalid_rows(cs) == [("CASME-coded-20190721.xls", "Sheet1", 5, "D", "sub02", "EP05_2")]
    assert "got 'remake'" in problems_of(cs, "invalid_row").detail.iloc[0]
    off = problems_of(cs, "offset_missing")
    assert off[["clip_id", "row", "column"]].values.tolist() == [["EP03_1", 4, "G"]]
    assert "ends at apex2 frame 95" in off.detail.iloc[0]
    dup = problems_of(cs, "duplicate_key")
    assert dup[["clip_id", "row"]].values.tolist() == [["EP01_5", 7]] and "row 3" in dup.detail.iloc[0]
    typo = problems_of(cs, "emotion_spelling")
    assert typo[["clip_id", "column"]].values.tolist() == [["EP07_3", "L"]] and cs[3].emotion == "comtempt"


def test_casme_i_sections_a_and_b(tmp_path):
    root = tmp_path / "CASME"
    make_casme_i(root, CASME_I_ROWS[:2], name="Section A.xls")
    make_casme_i(root, [CASME_I_ROWS[4]], name="Section B.xls")
    cs = load_casme(root)
    assert [(c.clip_id, c.meta["section"]) for c in cs] == [("EP01_12", "A"), ("EP01_5", "A"), ("EP07_3", "B")]
    assert {c.meta["label_file"].rsplit("/", 1)[-1] for c in cs} == {"Section A.xls", "Section B.xls"}


def test_casme_i_one_bad_row_never_aborts(tmp_path):
    rows = [r[:] for r in CASME_I_ROWS[:3]]
    rows[0][1] = None  # the first row has no file name
    root = make_casme_i(tmp_path / "CASME", rows)
    with pytest.warns(DatasetWarning) as rec:
        cs = load_casme(root)
    assert warned(rec, r"row 2\): column B \('Filename'\): the cell is empty")
    assert [c.clip_id for c in cs] == ["EP01_5", "EP03_1"]


# ============================================================================= SAMM v2
SAMM_V2_ROWS = [  # (Subject, Filename, Inducement, onset, apex, offset, AU, emotion, class)
    ("006", "006_1_2", 1, 5562, 5566, 5570, "4+7", "Anger", 3),
    ("007", "007_6_1", 6, 497, 500, 505, "(R6 or R12)+R15", "Happiness", 7),
    ("028", "028_4_1", 4, 1071, 1143, 1078, "L12 + 61", "Disgust", 4),  # apex after offset
]


def make_samm_v2(root, *, header_row=14, name="SAMM_20181215_Micro_FACS_Codes_v2.xlsx"):
    rows = [(s, f, i, on, ap, off, au, emo, oc, None) for s, f, i, on, ap, off, au, emo, oc in SAMM_V2_ROWS]
    data = samm_sheet_rows(rows, header_row=header_row)
    cached = {("MICRO_ONLY", f"G{header_row + 1 + k}"): r[5] - r[3] + 1 for k, r in enumerate(rows)}
    write_xlsx(root / name, {"MICRO_ONLY": data}, cached=cached,
               text_cells=[("MICRO_ONLY", header_row + 1 + k, 1) for k in range(len(rows))])
    for s, f, _i, on, _ap, off, *_ in rows:
        write_frames(root / s / f, [f"{s}_{k:05d}.jpg" for k in range(on, off + 1)])
    return root


def test_samm_v2_name_micro_column_and_cached_duration(tmp_path):
    root = make_samm_v2(tmp_path / "SAMM")
    ws = openpyxl.load_workbook(root / "SAMM_20181215_Micro_FACS_Codes_v2.xlsx", data_only=True)["MICRO_ONLY"]
    assert [ws.cell(14, c).value for c in range(1, 13)] == SAMM_HEADER and ws["H14"].value == "Micro"
    assert ws["G15"].value == 9  # the cached value of =SUM(F15-D15)+1
    with pytest.warns(DatasetWarning, match="apex outside"):
        cs = load_samm(root)
    assert [c.clip_id for c in cs] == ["006_1_2", "007_6_1", "028_4_1"]
    assert [c.meta["duration_label"] for c in cs] == [9, 9, 8]  # cached values kept, never trusted
    assert cs[0].meta["micro"] == "Micro - 1/2" and cs[2].apex is None
    assert cs[0].meta["label_file"].endswith("SAMM_20181215_Micro_FACS_Codes_v2.xlsx")


def test_samm_header_in_row_one(tmp_path):
    root = make_samm_v2(tmp_path / "SAMM", header_row=1, name="SAMM_Micro_FACS_Codes_v2.xlsx")
    with pytest.warns(DatasetWarning):
        cs = load_samm(root)
    assert [c.meta["label_row"] for c in cs] == [2, 3, 4] and cs[1].meta["duration_label"] == 9


def test_samm_two_candidate_files_is_an_error(tmp_path):
    root = make_samm_v2(tmp_path / "SAMM")
    make_samm_v2(root, name="SAMM_20190101_Micro_FACS_Codes_v3.xlsx")
    with pytest.raises(DatasetFormatError, match="several candidate SAMM coding files"):
        load_samm(root)


# ============================================================================= SMIC-E
SMIC_E_HEADER = ["Subject", "Filename", None, "OnsetF", "OffsetF", "Onset2F", "Offset2F", "Onset3F", "Offset3F",
                 None, "FirstF", "LastF", "TotalMF1", "TotalMF2", "TotalMF3", "TotalVL", "Emotion"]


def make_smic_e(root):
    """SMIC-HS-E_annotation.xlsx: HS, VIS and NIR sheets; formulas with cached values (one
    referring to the VIS sheet); plain subject numbers; 8-digit absolute frame numbers; two
    windows in one row; a window outside FirstF..LastF; a row without LastF; a bad row; empty
    formula-only rows at the end."""
    hs = [SMIC_E_HEADER,
          [20, "s20_ne_01", None, "=K2+5", 17581050, 17581053, 17581058, None, None, None, "=VIS!K2", 17581062,
           "=E2-D2+1", "=G2-F2+1", None, "=L2-K2+1", "negative"],
          [3, "s3_po_05", None, 1000, 1006, None, None, None, None, None, 990, 1003, "=E3-D3+1", None, None,
           "=L3-K3+1", "positive"],
          [3, "s3_sur_02", None, 2000, 2004, None, None, None, None, None, 1995, None, "=E4-D4+1", None, None,
           None, "surprise"],
          ["x", "s9_ne_01", None, 10, 20, None, None, None, None, None, 5, 30, None, None, None, None, "negative"],
          [None, None, None, None, None, None, None, None, None, None, None, None, "=E6-D6+1", None, None, None, None],
          [None, None, None, None, None, None, None, None, None, None, None, None, "=E7-D7+1", None, None, None, None]]
    vis = [SMIC_E_HEADER, [20, "s20_ne_01", None, 5, 9, None, None, None, None, None, 17581039, 40, None, None,
                           None, None, "negative"]]
    cached = {("HS", "D2"): 17581044, ("HS", "K2"): 17581039, ("HS", "M2"): 7, ("HS", "N2"): 6,
              ("HS", "P2"): 24, ("HS", "M3"): 7, ("HS", "P3"): 14, ("HS", "M4"): 5, ("HS", "M6"): 1,
              ("HS", "M7"): 1}
    write_xlsx(root / "SMIC-HS-E_annotation.xlsx", {"HS": hs, "VIS": vis, "NIR": [SMIC_E_HEADER]}, cached=cached)
    base = root / "SMIC_HS_E"
    write_frames(base / "s20" / "s20_ne_01", [f"image{k}.jpg" for k in range(17581039, 17581063)])
    write_frames(base / "s3" / "s3_po_05", [f"image{k:06d}.jpg" for k in range(990, 1004)])
    write_frames(base / "s3" / "s3_sur_02", [f"image{k:06d}.jpg" for k in range(1995, 2010)])
    return root


def test_smic_e_annotation_defines_the_windows(tmp_path):
    root = make_smic_e(tmp_path / "SMIC-E")
    with pytest.warns(DatasetWarning) as rec:
        cs = load_smic(root)
    text = " ".join(str(w.message) for w in rec)
    assert "1 row(s) of the labels are invalid" in text and "lie outside their long clip" in text
    got = [(c.subject, c.clip_id, c.onset_frame, c.offset_frame, c.emotion, c.meta["window_index"]) for c in cs]
    assert got == [("s20", "s20_ne_01", 17581044, 17581050, "negative", 1),   # OnsetF is a cached formula
                   ("s20", "s20_ne_01_w2", 17581053, 17581058, "negative", 2),
                   ("s3", "s3_sur_02", 2000, 2004, "surprise", 1)]
    c = cs[0]
    assert c.fps == 100 and c.apex is None and c.frames[0].name == "image17581044.jpg"
    assert c.meta["first_frame"] == 17581039 and c.meta["last_frame"] == 17581062  # FirstF =VIS!K2 (cached)
    assert c.meta["megc_subject"] == "s20" and c.meta["subject_label"] == "20"
    out = problems_of(cs, "window_outside_clip")
    assert out[["clip_id", "row", "column"]].values.tolist() == [["s3_po_05", 3, "D"]]
    assert "(1000..1006) lies outside FirstF..LastF (990..1003)" in out.detail.iloc[0]
    assert problems_of(cs, "last_frame_missing")[["clip_id", "row", "column"]].values.tolist() == [
        ["s3_sur_02", 4, "L"]]
    assert invalid_rows(cs) == [("SMIC-HS-E_annotation.xlsx", "HS", 5, "A", None, None)]  # rows 6-7 are empty
    with pytest.warns(DatasetWarning):
        whole = load_smic(root, window="all", variant="HS", annotation=root / "SMIC-HS-E_annotation.xlsx")
    assert whole[0].n_frames == 24 and whole[0].onset == 5


def test_smic_e_without_the_annotation_keeps_whole_folders(tmp_path):
    root = make_smic_e(tmp_path / "SMIC-E")
    with pytest.raises(DatasetFormatError, match="no SMIC-HS subject folders"):
        load_smic(root, annotation=False)  # SMIC_HS_E/ is not a folder-defined layout
    with pytest.raises(OptionError, match="variant"):
        load_smic(root, variant="NIRX")
    (root / "SMIC-HS-E_annotation.xlsx").rename(root / "SMIC-HS-E_annotation_edited.xlsx")
    with pytest.raises(DatasetFormatError, match="sheet .NIR.: the sheet has no annotated windows"):
        load_smic(root, variant="NIR")  # found under its other name; its NIR sheet is empty


def test_smic_e_one_bad_row_never_aborts(tmp_path):
    root = make_smic_e(tmp_path / "SMIC-E")
    with pytest.warns(DatasetWarning):
        cs = load_smic(root)
    assert len(cs) == 3 and len(invalid_rows(cs)) == 1


# ============================================================================= MMEW
def test_mmew_one_bad_row_never_aborts(tmp_path):
    root = tmp_path / "MMEW"
    header = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion",
              "remarks"]
    rows = [[1, "S01-01-001", 1, 15, 20, "6+12", "happiness", None],
            [1, "S01-04-005", 1, "??", 20, 18, "others", None],
            [13, "S13-07-001", 1, 5, 9, "17+23", "anger", None]]
    write_xlsx(root / "MMEW_Micro_Exp.xlsx", {"Sheet1": [header] + rows})
    for _s, fn, *_ in rows:
        write_frames(root / "Micro_Expression" / "x" / fn, [f"{k}.jpg" for k in range(1, 21)])
    with pytest.warns(DatasetWarning, match="row 3\\): column D \\('ApexFrame'\\)"):
        cs = load_mmew(root)
    assert [c.clip_id for c in cs] == ["S01-01-001", "S13-07-001"]
