"""CASME (legacy .xls), SMIC, CAS(ME)², MMEW and CK+ loaders on synthetic copies in their
published layouts (DATASETS.md §3, §4.1, §4.2, §4.4, §6)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from mxkit.data import (
    ClipRecord,
    DatasetWarning,
    MissingFramesError,
    load_casme,
    load_casme_sq,
    load_ckplus,
    load_mmew,
    load_smic,
    write_ckplus,
)
from mxkit.errors import DatasetFormatError, OptionError

from .test_data_support import (
    CASME_ROWS,
    SMIC_CLIPS,
    make_casme,
    make_smic,
    tiny_frame,
    tree_snapshot,
    write_frames,
    write_xls,
    write_xlsx,
)

# ============================================================================= CASME (.xls)


@pytest.fixture(scope="module")
def casme_root(tmp_path_factory):
    return make_casme(tmp_path_factory.mktemp("casme") / "CASME")


def test_casme_xls_known_rows(casme_root):
    cs = load_casme(casme_root)
    assert [(c.subject, c.clip_id, c.onset_frame, c.apex_frame, c.offset_frame, c.emotion) for c in cs] == [
        ("sub01", "EP01_12", 73, 81, 91, "tense"),
        ("sub01", "EP01_5", 113, 121, 133, "happiness"),
        ("sub01", "EP03_1", 79, 91, 105, "repression"),
    ]
    a, b, c = cs
    assert a.fps == 60 and a.meta["subject_label"] == "1" and a.meta["frame_variant"] == "cropped"
    assert "apex2_frame" not in a.meta and b.meta["apex2_frame"] == 125 and "apex2_frame" not in c.meta
    assert b.meta["total_ms_label"] == pytest.approx(350.0) and a.meta["label_sheet"] == "Sheet1"
    assert a.au_string == "4" and [x.key for x in c.aus] == ["AU4", "AU17"]
    assert a.frames[0].name == "reg_EP01_12-73.jpg" and a.meta["zero_padded"] is False
    assert c.frames[0].name == "reg_EP03_1-079.jpg" and c.meta["zero_padded"] is True
    assert c.load_frames([0, -1]).shape == (2, 12, 16, 3)


def test_casme_raw_window_and_xlsx_copy(casme_root, tmp_path):
    raw = load_casme(casme_root, frames="raw", window="all")
    assert raw[0].frames[0].name == "EP01_12-72.jpg" and raw[0].onset == 1
    root = tmp_path / "CASME"
    shutil.copytree(casme_root, root)
    (root / "CASME-coded-20190721.xls").unlink()
    sheet = [["Subject", "Filename", None, "OnsetF", "ApexF1", "ApexF2", "OffsetF", None, "Onset", "Total", "AU", "Emotion"],
             [1, "EP01_12", None, 73, 81, None, 91, None, 150.0, 316.666667, 4, "tense"]]
    write_xlsx(root / "casme.xlsx", {"Sheet1": sheet})  # meb's rename
    assert [c.clip_id for c in load_casme(root)] == ["EP01_12"]


def test_casme_missing_padded_frame(tmp_path):
    root = make_casme(tmp_path / "C", CASME_ROWS[2:])
    (root / "Cropped" / "sub01" / "EP03_1" / "reg_EP03_1-085.jpg").unlink()
    with pytest.raises(MissingFramesError, match=r"sub01/EP03_1.*CASME-coded-20190721.xls', sheet 'Sheet1', row 2.*85"):
        load_casme(root)
    with pytest.warns(DatasetWarning):
        cs = load_casme(root, missing="warn")
    assert cs[0].frames[85 - 79].name == "reg_EP03_1-085.jpg"  # the missing path keeps the padding


def test_casme_xls_errors(tmp_path):
    root = make_casme(tmp_path / "C", CASME_ROWS[:1])
    good = [["Subject", "Filename", None, "OnsetF", "ApexF1", "ApexF2", "OffsetF", None, "Onset", "Total", "AU", "Emotion"],
            [1, "EP01_12", None, 73, 81, None, 91, None, 150.0, 316.7, 4, "tense"]]
    bad = [r[:] for r in good]
    bad[1][3] = "seventy"
    write_xls(root / "CASME-coded-20190721.xls", {"Sheet1": bad})
    with pytest.raises(DatasetFormatError, match=r"CASME-coded-20190721.xls', sheet 'Sheet1': none of its 1 "
                                                 r"row\(s\) is a valid sample:\n  row 2: column D \('OnsetF'\)"):
        load_casme(root)
    bad = [r[:] for r in good]
    bad[0][6] = "Off"
    write_xls(root / "CASME-coded-20190721.xls", {"Sheet1": bad})
    with pytest.raises(DatasetFormatError, match=r"sheet 'Sheet1', row 1: wrong header.*'OffsetF'"):
        load_casme(root)
    (root / "CASME-coded-20190721.xls").write_bytes(b"garbage" * 100)
    with pytest.raises(DatasetFormatError, match="not a readable .xls"):
        load_casme(root)


# ============================================================================= SMIC


@pytest.fixture(scope="module")
def smic_root(tmp_path_factory):
    return make_smic(tmp_path_factory.mktemp("smic") / "SMIC")


def test_smic_hs_clips(smic_root):
    cs = load_smic(smic_root)
    assert [(c.subject, c.clip_id, c.emotion, c.n_frames) for c in cs] == [
        ("s1", "s1_ne_01", "negative", 6), ("s1", "s1_po_02", "positive", 5),
        ("s13", "s13_po_01", "positive", 7), ("s2", "s2_sur_01", "surprise", 4)]
    c = cs[0]
    assert c.fps == 100 and c.apex is None and c.apex_or_middle == 2
    assert (c.onset_frame, c.offset_frame) == (59740, 59745) and c.frames[0].name == "image059740.bmp"
    assert c.meta["megc_subject"] == "s01" and c.meta["megc_clip_id"] == "s01_ne_01"
    assert cs[2].meta["megc_clip_id"] == "s13_po_01" and c.dataset == "smic" and c.meta["variant"] == "HS"
    assert c.load_frames().shape == (6, 12, 16, 3)
    assert cs.problems.empty


def test_smic_variants_and_cropped(tmp_path):
    root = make_smic(tmp_path / "SMIC", SMIC_CLIPS[:1], variant="VIS")
    root = make_smic(root, SMIC_CLIPS[1:2], container="SMIC_all_cropped", cropped=True)
    vis = load_smic(root, variant="VIS")
    assert vis[0].fps == 25 and vis[0].meta["variant"] == "VIS"
    crop = load_smic(root, frames="cropped")
    assert crop[0].frames[0].name == "reg_image001000.bmp" and crop[0].meta["frame_variant"] == "cropped"
    assert load_smic(root / "SMIC_all_cropped")[0].meta["frame_variant"] == "cropped"
    with pytest.raises(DatasetFormatError, match="no SMIC-NIR subject folders"):
        load_smic(root, variant="NIR")
    with pytest.raises(OptionError):
        load_smic(root, variant="hs")


def test_smic_gap_is_reported(tmp_path):
    root = make_smic(tmp_path / "SMIC", SMIC_CLIPS[:1])
    (root / "HS" / "s1" / "micro" / "negative" / "s1_ne_01" / "image059742.bmp").unlink()
    with pytest.warns(DatasetWarning, match="skip frame numbers.*s1/s1_ne_01"):
        cs = load_smic(root)
    assert cs[0].n_frames == 5 and cs.problems.kind.tolist() == ["frame_gap"]
    assert "59742" in cs.problems.detail[0]


def test_smic_errors(tmp_path):
    root = make_smic(tmp_path / "SMIC", SMIC_CLIPS[:1])
    (root / "HS" / "s1" / "micro" / "positive" / "s1_po_09").mkdir(parents=True)
    with pytest.raises(DatasetFormatError, match="s1_po_09' holds no frames"):
        load_smic(root)
    (tmp_path / "E" / "HS" / "s1" / "micro").mkdir(parents=True)
    with pytest.raises(DatasetFormatError, match="no SMIC-HS clips"):
        load_smic(tmp_path / "E")


# ============================================================================= CAS(ME)²


def make_casme_sq(root):
    code = [  # the subject column holds the sheet's numbers 1..22, mapped by naming rule1
        [1, "anger1_1", 557, 572, 580, "4+7", "negative", "micro-expression", "anger"],
        [1, "disgust1_1", 100, 110, 112, "9", "negative", "macro-expression", "disgust"],
        [2, "happy2_3", 20, 25, 30, 12, "positive", "micro-expression", "happiness"],
    ]
    rule1 = [[1, "s15", 15], [2, "s16", 16]]
    rule2 = [[401, "anger1"], [101, "disgust1"], [502, "happy2"]]
    write_xlsx(root / "CAS(ME)^2code_final.xlsx",
               {"CASFEcode_final": code, "naming rule1": rule1, "naming rule2": rule2})
    write_frames(root / "rawpic" / "s15" / "15_0401girlcrashing", [f"img{n}.jpg" for n in range(550, 590)])
    write_frames(root / "rawpic" / "s15" / "15_0101disgustingteeth", [f"img{n}.jpg" for n in range(98, 115)])
    write_frames(root / "rawpic" / "s16" / "16_0502funnyerrors", [f"img{n}.jpg" for n in range(18, 32)])
    return root


def test_casme_sq(tmp_path):
    root = make_casme_sq(tmp_path / "CASME^2")
    before = tree_snapshot(root)
    cs = load_casme_sq(root)
    assert [(c.subject, c.clip_id, c.onset_frame, c.apex_frame, c.offset_frame, c.emotion) for c in cs] == [
        ("s15", "anger1_1", 557, 572, 580, "negative"), ("s16", "happy2_3", 20, 25, 30, "positive")]
    c = cs[0]
    assert c.fps == 30 and c.meta["video_code"] == "0401" and c.meta["video_folder"] == "15_0401girlcrashing"
    assert c.meta["self_reported_emotion"] == "anger" and c.meta["expression_type"] == "micro"
    assert c.frames[0].name == "img557.jpg" and c.meta["label_sheet"] == "CASFEcode_final" and c.meta["label_row"] == 1
    assert [x.clip_id for x in load_casme_sq(root, expression_type="macro")] == ["disgust1_1"]
    assert len(load_casme_sq(root, expression_type="all")) == 3
    allf = load_casme_sq(root, window="all")
    assert allf[0].n_frames == 40 and allf[0].onset_frame == 557
    assert tree_snapshot(root) == before


def test_casme_sq_errors(tmp_path):
    root = make_casme_sq(tmp_path / "C")
    p = root / "CAS(ME)^2code_final.xlsx"
    rule1 = [[1, "s15", 15], [2, "s16", 16]]
    write_xlsx(p, {"CASFEcode_final": [[1, "anger1_1", 557, 572, 580, "4+7", "negative", "sometimes", "anger"]],
                   "naming rule1": rule1})
    with pytest.raises(DatasetFormatError, match=r"sheet 'CASFEcode_final': none of its 1 row.*\n  row 1: column H \('type'\)"):
        load_casme_sq(root)
    write_xlsx(p, {"CASFEcode_final": [[1, "anger1_1", "x", 572, 580, "4+7", "negative", "micro-expression", "anger"]]})
    with pytest.raises(DatasetFormatError, match=r"row 1: column C \('onset'\)"):
        load_casme_sq(root)
    # no naming rule2: the folder cannot be found -> reported, not guessed
    write_xlsx(p, {"CASFEcode_final": [[15, "anger1_1", 557, 572, 580, "4+7", "negative", "micro-expression", "anger"]]})
    with pytest.raises(MissingFramesError, match="15_anger1"):
        load_casme_sq(root)
    with pytest.raises(OptionError):
        load_casme_sq(root, expression_type="both")


# ============================================================================= MMEW


def make_mmew(root):
    header = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion", "remarks"]
    rows = [[1, "S01-01-001", 1, 15, 31, "6+12", "happiness", None],
            [1, "S01-04-005", 1, 14, 20, 18, "others", "blink"],
            [13, "S13-07-001", 1, 5, 12, "12L", "anger", None],
            [13, "S13-02-003", 1, 3, 6, "4R+7", "surprise", None]]
    write_xlsx(root / "MMEW_Micro_Exp.xlsx", {"Sheet1": [header] + rows})
    write_frames(root / "S01" / "happiness" / "S01-01-001", [f"{n}.jpg" for n in range(1, 32)])  # official layout
    write_frames(root / "Micro_Expression" / "others" / "S01-04-005", [f"{n}.jpg" for n in range(1, 21)])
    write_frames(root / "S13" / "anger" / "S13-07-001", [f"{n}.jpg" for n in range(1, 13)])
    write_frames(root / "S13" / "surprise" / "S13-02-003", [f"{n}.jpg" for n in range(1, 7)])  # both layouts
    write_frames(root / "Micro_Expression" / "surprise" / "S13-02-003", [f"{n}.jpg" for n in range(1, 7)])
    write_frames(root / "S03" / "happiness", ["S03-01-001.jpg"])  # a macro image, not a folder
    return root


def test_mmew(tmp_path):
    root = make_mmew(tmp_path / "MMEW")
    cs = load_mmew(root)
    assert [(c.subject, c.clip_id, c.n_frames, c.apex_frame, c.emotion) for c in cs] == [
        ("S01", "S01-01-001", 31, 15, "happiness"), ("S01", "S01-04-005", 20, 14, "others"),
        ("S13", "S13-07-001", 12, 5, "anger"), ("S13", "S13-02-003", 6, 3, "surprise")]
    assert cs[0].fps == 90 and cs[0].frames[0].name == "1.jpg" and cs[1].meta["remarks"] == "blink"
    assert "Micro_Expression" in str(cs[1].frames[0])
    dup = cs[3]
    assert "Micro_Expression" in str(dup.frames[0]) and len(dup.meta["duplicate_folders"]) == 1
    assert [a.key for a in cs[2].aus] == ["L12"] and [a.key for a in dup.aus] == ["R4", "AU7"]
    shutil.rmtree(root / "S13" / "anger")
    with pytest.raises(MissingFramesError, match="S13/S13-07-001"):
        load_mmew(root)


# ============================================================================= CK+


def ck_records():
    lm = np.tile(np.arange(136, dtype=float).reshape(1, 68, 2), (4, 1, 1))
    return [
        ClipRecord(subject=5, clip_id="001", frames=[tiny_frame(i) for i in range(4)], emotion="disgust",
                   au_string="1B+2+4E", extra={"landmarks": lm}),
        ClipRecord(subject="S005", clip_id="002", frames=np.stack([tiny_frame(i) for i in range(3)]), emotion=None),
        ClipRecord(subject="S010", clip_id="S010_004", frames=[tiny_frame(7)] * 5, emotion=7, au_string="12"),
    ]


def test_ckplus_round_trip(tmp_path):
    root = write_ckplus(ck_records(), tmp_path / "CK+")
    assert (root / "Emotion" / "S005" / "001" / "S005_001_00000004_emotion.txt").read_text() == "   3.0000000e+00\n"
    facs = (root / "FACS" / "S005" / "001" / "S005_001_00000004_facs.txt").read_text().splitlines()
    assert facs == ["   1.0000000e+00   2.0000000e+00", "   2.0000000e+00   0.0000000e+00",
                    "   4.0000000e+00   5.0000000e+00"]
    cs = load_ckplus(root)
    assert [(c.subject, c.clip_id, c.emotion, c.n_frames) for c in cs] == [
        ("S005", "S005_001", "disgust", 4), ("S005", "S005_002", None, 3), ("S010", "S010_004", "surprise", 5)]
    c = cs[0]
    assert c.onset == 0 and c.apex == c.offset == 3 and c.frames[0].name == "S005_001_00000001.png"
    assert c.au_string == "1B+2+4E" and c.meta["sequence"] == "001" and "landmarks_dir" in c.meta
    assert np.array_equal(c.frame(0), tiny_frame(0))  # PNG is lossless
    assert [x.clip_id for x in load_ckplus(root, labelled_only=True)] == ["S005_001", "S010_004"]


def test_ckplus_errors(tmp_path):
    root = write_ckplus(ck_records()[:1], tmp_path / "CK+")
    efile = root / "Emotion" / "S005" / "001" / "S005_001_00000004_emotion.txt"
    efile.write_text("   9.0000000e+00\n")
    with pytest.raises(DatasetFormatError, match=r"S005_001_00000004_emotion.txt', line 1: emotion code must be 0-7"):
        load_ckplus(root)
    efile.write_text("three\n")
    with pytest.raises(DatasetFormatError, match=r"emotion.txt', line 1: expected numbers"):
        load_ckplus(root)
    efile.write_text("   3.0000000e+00\n")
    ffile = root / "FACS" / "S005" / "001" / "S005_001_00000004_facs.txt"
    ffile.write_text("   1.0000000e+00\n")
    with pytest.raises(DatasetFormatError, match=r"facs.txt', line 1: expected 2 numbers"):
        load_ckplus(root)
    ffile.write_text("   1.0000000e+00   7.0000000e+00\n")
    with pytest.raises(DatasetFormatError, match=r"facs.txt', line 1: intensity must be 0"):
        load_ckplus(root)
    ffile.unlink()
    (root / "cohn-kanade-images" / "S005" / "001" / "S005_001_00000002.png").unlink()
    with pytest.warns(DatasetWarning, match="skip frame numbers"):
        assert load_ckplus(root)[0].n_frames == 3
    shutil.rmtree(root / "cohn-kanade-images")
    with pytest.raises(DatasetFormatError, match="no 'cohn-kanade-images' folder"):
        load_ckplus(root)
