"""CAS(ME)³ (issue 14): Part A ME labels (v2 .xlsx, v1 .xls), the Part A macro + micro list,
Part C, colour frames with aligned 16-bit depth maps, the 3/4/7-class protocols, and
``load_dataset(root, 'casme3')`` -- on fixtures in the real layout, quirks cell for cell."""

from __future__ import annotations

import numpy as np
import pytest

from mxkit.data import (
    CASME3_3CLASS,
    CASME3_4CLASS,
    CASME3_7CLASS,
    DatasetWarning,
    MissingFramesError,
    load_casme3,
    load_casme3_videos,
    load_dataset,
)
from mxkit.errors import DatasetFormatError, FrameReadError, OptionError

from .test_data_support import (
    depth_map,
    invalid_rows,
    tree_snapshot,
    write_depth,
    write_frames,
    write_xls,
    write_xlsx,
)

ME_HEADER = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"]
#: v2 ME labels: every number stored as text, Roman objective classes, 'Others' capitalised,
#: onset > apex, 0/0, offset 0, and one unreadable row.
ME_ROWS = [
    ["spNO.1", "a", "10", "14", "20", "4+7", "III", "disgust"],
    ["spNO.1", "a", "30", "35", "40", "12", "I", "happy"],       # a second ME of the same video
    ["spNO.1", "b", "50", "45", "60", "1+2", "V", "surprise"],   # onset after apex
    ["spNO.2", "a", "5", "0", "0", "4", "II", "Others"],         # 0/0: nothing annotated
    ["spNO.2", "a", "8", "12", "0", "R4", "VII", "Others"],      # offset 0
    ["spNO.2", "c", "x", "1", "2", "4", "II", "fear"],           # unreadable onset
]
LIST_HEADER = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Expression type", "Objective class"]
LIST_ROWS = [
    ["spNO.1", "a", 10, 14, 20, "4+7", "Micro-expression", "III"],
    ["spNO.1", "a", 22, 26, 29, "6+12", "Macro-expression", "I"],
    ["spNO.1", "a", 30, 35, 40, "12", "Micro-expression", "I"],
    ["spNO.2", "a", 8, 12, 18, "R4", "Macro-expression", "VII"],
]
VIDEOS = {("spNO.1", "a"): range(1, 45), ("spNO.1", "b"): range(40, 65), ("spNO.2", "a"): range(1, 25)}


def make_casme3(root, *, v1=False, nested=("data", "part_A_split", "part_A")):
    frames_root = root.joinpath(*nested)
    for (subject, video), nums in VIDEOS.items():
        write_frames(frames_root / subject / video / "color", [f"{k}.jpg" for k in nums])
        write_depth(frames_root / subject / video / "depth", nums)
    if v1:  # the v1 file: an .xls with two blank-headed extra columns
        header = ME_HEADER[:2] + [None] + ME_HEADER[2:] + [None]
        rows = [r[:2] + [k + 1] + r[2:] + ["x"] for k, r in enumerate(ME_ROWS)]
        write_xls(root / "cas(me)3_part_A_ME_label_JpgIndex_v1.xls", {"Sheet1": [header] + rows})
    else:
        write_xlsx(root / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", {"label": [ME_HEADER] + ME_ROWS})
    write_xls(root / "CAS(ME)3_part_A_v2.xls", {"AU+Emotion": [LIST_HEADER] + LIST_ROWS,
                                               "eye blink": [["Subject", "Filename", "Onset", "Offset"],
                                                             ["spNO.1", "a", 3, 5]]})
    return root


@pytest.fixture(scope="module")
def casme3_root(tmp_path_factory):
    return make_casme3(tmp_path_factory.mktemp("casme3") / "part_A")


def test_part_a_me_labels(casme3_root):
    before = tree_snapshot(casme3_root)
    with pytest.warns(DatasetWarning) as rec:
        cs = load_casme3(casme3_root)
    text = " ".join(str(w.message) for w in rec)
    assert "2 row(s) of the labels are invalid" in text and "apex outside" in text and "no annotated offset" in text
    got = [(c.subject, c.clip_id, c.onset_frame, c.apex_frame, c.offset_frame, c.emotion, c.objective_class)
           for c in cs]
    assert got == [("spNO.1", "a_10", 10, 14, 20, "disgust", 3),
                   ("spNO.1", "a_30", 30, 35, 40, "happy", 1),
                   ("spNO.1", "b_50", 50, None, 60, "surprise", 5),     # onset 50 > apex 45: apex None
                   ("spNO.2", "a_8", 8, 12, 12, "Others", 7)]           # offset 0: ends at the apex
    c = cs[0]
    assert c.dataset == "casme3" and c.fps == 30 and c.meta["video"] == "a" and c.meta["expression_type"] == "micro"
    assert c.frames[0].as_posix().endswith("data/part_A_split/part_A/spNO.1/a/color/10.jpg")
    assert c.depth[0].as_posix().endswith("spNO.1/a/depth/10.png") and c.has_depth
    d = c.load_depth([0, -1])
    assert d.dtype == np.float32 and np.isnan(d[0, 0, 0])  # stored 0 = no reading
    np.testing.assert_array_equal(d[1, 1:], depth_map(20)[1:].astype(np.float32))
    assert c.load_frames([0]).shape == (1, 12, 16, 3)
    assert invalid_rows(cs) == [("cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", "label", 5, "E", "spNO.2", "a_5"),
                                ("cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", "label", 7, "C", "spNO.2", None)]
    assert "the offset is not annotated ('0') and neither is the apex" in cs.problems.detail[cs.problems.kind == "invalid_row"].iloc[0]
    assert cs.problems[cs.problems.kind == "apex_outside_window"].clip_id.tolist() == ["b_50"]
    assert tree_snapshot(casme3_root) == before


def test_v1_xls_with_blank_headed_columns(tmp_path):
    root = make_casme3(tmp_path / "A", v1=True)
    with pytest.warns(DatasetWarning):
        cs = load_casme3(root)
    assert [c.clip_id for c in cs] == ["a_10", "a_30", "b_50", "a_8"]
    assert cs[0].meta["label_file"].endswith("_v1.xls") and cs[0].objective_class == 3


def test_part_a_list_macro_and_all(casme3_root):
    macro = load_casme3(casme3_root, expression_type="macro")
    assert [(c.subject, c.clip_id, c.emotion, c.meta["expression_type"], c.objective_class) for c in macro] == [
        ("spNO.1", "a_22", None, "macro", 1), ("spNO.2", "a_8", None, "macro", 7)]
    everything = load_casme3(casme3_root, expression_type="all", depth=False)
    assert len(everything) == 4 and not everything[0].has_depth


def test_long_videos_for_spotting(casme3_root):
    videos = load_casme3_videos(casme3_root)
    assert [(v.video_id, v.n_frames, v.frame_numbers[0]) for v in videos] == [("spNO.1/a", 44, 1), ("spNO.2/a", 24, 1)]
    iv = videos.find("spNO.1/a").intervals
    assert iv[["expression_id", "expression_type", "onset_frame", "offset_frame", "onset"]].values.tolist() == [
        ["a_10", "micro", 10, 20, 9], ["a_22", "macro", 22, 29, 21], ["a_30", "micro", 30, 40, 29]]
    assert videos[0].has_depth and videos[0].load_depth([0]).shape == (1, 12, 16)


def test_protocols_map_the_emotions(casme3_root):
    with pytest.warns(DatasetWarning):
        cs = load_casme3(casme3_root)
    assert [c.label for c in cs.map_classes(CASME3_7CLASS)] == ["disgust", "happy", "surprise", "others"]
    four = cs.map_classes("casme3-4class")
    assert [c.label for c in four] == ["negative", "positive", "surprise", "others"]
    assert four.protocol_card["mapping"]["casme3"]["sad"] == "negative" and four.protocol_card["n_samples"] == 4
    three = cs.map_classes(CASME3_3CLASS)
    assert [c.label for c in three] == ["negative", "positive", "surprise"]
    assert three.excluded[["clip_id", "value"]].values.tolist() == [["a_8", "Others"]]
    assert CASME3_4CLASS.classes == ("negative", "positive", "surprise", "others")


def test_load_dataset_by_name(casme3_root):
    with pytest.warns(DatasetWarning):
        cs = load_dataset(casme3_root, "casme3")
    assert len(cs) == 4 and cs.name == "casme3-A"


def test_part_c(tmp_path):
    root = tmp_path / "part_C"
    write_xlsx(root / "CAS(ME)3_part_C_ME.xlsx", {"Sheet1": [
        ["sub", "count", "onset", "offset", "au", "emotion"],
        ["spNO.301", 1, 100, 110, "R4,5", "fear"],
        ["spNO.301", 2, 120, 118, "4", "anger"],        # onset after offset
        ["spNO.301", 3, 130, 140, "4，5", "disgust"]]})  # full-width comma
    write_frames(root / "spNO.301" / "color", [f"{k}.jpg" for k in range(95, 145)])
    write_depth(root / "spNO.301" / "depth", range(95, 145))
    with pytest.warns(DatasetWarning):
        cs = load_casme3(root, part="C")
    assert [(c.clip_id, c.onset_frame, c.apex, c.offset_frame, c.emotion) for c in cs] == [
        ("1", 100, None, 110, "fear"), ("3", 130, None, 140, "disgust")]
    assert [a.key for a in cs[0].aus] == ["R4", "AU5"] and [a.key for a in cs[1].aus] == ["AU4", "AU5"]
    assert invalid_rows(cs) == [("CAS(ME)3_part_C_ME.xlsx", "Sheet1", 3, "C", "spNO.301", "2")]
    with pytest.raises(DatasetFormatError, match="micro-expression labels only"):
        load_casme3(root, part="C", expression_type="macro")


def test_missing_frames_and_depth(tmp_path):
    root = make_casme3(tmp_path / "A")
    base = root / "data" / "part_A_split" / "part_A" / "spNO.1" / "a"
    (base / "color" / "12.jpg").unlink()
    (base / "depth" / "31.png").unlink()
    with pytest.raises(MissingFramesError, match=r"spNO.1/a_10.*12"):
        load_casme3(root)
    with pytest.warns(DatasetWarning) as rec:
        cs = load_casme3(root, missing="skip")
    assert "lack depth frames" in " ".join(str(w.message) for w in rec)
    assert [c.clip_id for c in cs][:2] == ["a_30", "b_50"]
    p = cs.problems
    assert p[p.kind == "missing_depth"].clip_id.tolist() == ["a_30"] and "31" in p[p.kind == "missing_depth"].detail.iloc[0]
    with pytest.raises(FrameReadError, match="31.png"):
        cs[0].load_depth()


def test_errors(tmp_path, casme3_root):
    with pytest.raises(OptionError):
        load_casme3(casme3_root, expression_type="both")
    with pytest.raises(OptionError):
        load_casme3(casme3_root, part="B")
    (tmp_path / "E").mkdir()
    (tmp_path / "E" / "x.txt").write_text("x")
    with pytest.raises(DatasetFormatError, match="no CAS\\(ME\\)³ Part A label file"):
        load_casme3(tmp_path / "E")
