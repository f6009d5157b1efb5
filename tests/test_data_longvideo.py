"""Long videos (issue 14): the LongVideo / LongVideoSet containers, SAMM Long Videos as it
circulates (note block with a merged cell above the header in row 10, apex -1, fractional frame
numbers, Type micro/macro, no emotion), write_long_videos for SAMM-LV / CAS(ME)³ (with depth) /
CAS(ME)², and Clip depth maps."""

from __future__ import annotations

import cv2
import numpy as np
import openpyxl
import pytest

from mxkit._io import read_image_file, write_image_file
from mxkit.data import (
    INTERVAL_COLUMNS,
    Clip,
    DatasetWarning,
    LongVideo,
    LongVideoRecord,
    LongVideoSet,
    MissingFramesError,
    load_casme3,
    load_casme_sq,
    load_samm_lv,
    read_depth,
    write_long_videos,
)
from mxkit.errors import FrameReadError, InputValueError, ShapeError

from .test_data_support import (
    depth_map,
    invalid_rows,
    tiny_frame,
    tree_snapshot,
    write_frames,
    write_xlsx,
)

# ============================================================================= containers


def toy_video(**kw):
    args = dict(dataset="toy", subject="001", video_id="001_1", frames=np.zeros((50, 4, 4, 3), np.uint8), fps=200,
                frame_numbers=range(101, 151),
                intervals=[{"expression_id": "001_1_1", "expression_type": "micro", "onset_frame": 110,
                            "apex_frame": 114, "offset_frame": 120, "au_string": "4"},
                           {"expression_id": "001_1_2", "expression_type": "macro", "onset_frame": 140,
                            "apex_frame": None, "offset_frame": 160}])
    args.update(kw)
    return LongVideo(**args)


def test_long_video_intervals_and_clip():
    v = toy_video()
    assert list(v.intervals.columns) == list(INTERVAL_COLUMNS)
    assert v.intervals[["onset", "apex", "offset"]].astype(object).where(v.intervals[["onset", "apex", "offset"]].notna(),
                                                                          None).values.tolist() == [[9, 13, 19], [39, None, None]]
    assert str(v.intervals["apex_frame"].dtype) == "Int64" and v.index_of(150) == 49 and v.index_of(99) is None
    c = v.clip("001_1_1", margin=3)
    assert (c.n_frames, c.onset, c.apex, c.offset, c.onset_frame, c.apex_frame) == (17, 3, 7, 13, 110, 114)
    assert c.au_string == "4" and c.meta["expression_type"] == "micro" and c.meta["video_id"] == "001_1"
    with pytest.raises(InputValueError, match="not inside the video"):
        v.clip("001_1_2")
    with pytest.raises(InputValueError, match="no interval 'nope'"):
        v.clip("nope")
    assert "1 micro + 1 macro" in repr(v) and v.duration_s == 0.25


def test_long_video_set_tables_and_clips():
    vs = LongVideoSet([toy_video(), toy_video(video_id="001_2", intervals=[])], name="toy")
    assert len(vs) == 2 and vs.find("001_2").n_frames == 50
    assert vs.to_dataframe()[["video_id", "n_micro", "n_macro", "first_frame"]].values.tolist() == [
        ["001_1", 1, 1, 101], ["001_2", 0, 0, 101]]
    assert vs.intervals()["video_id"].tolist() == ["001_1", "001_1"]
    cs = vs.clips()
    assert [c.clip_id for c in cs] == ["001_1_1"] and cs.problems.kind.tolist() == ["interval_outside_video"]
    assert len(vs.clips(expression_type="macro")) == 0
    whole = vs.clips(whole_video=True)
    assert whole[0].n_frames == 50 and whole[0].onset == 9


@pytest.mark.parametrize("bad, match", [
    ({"expression_type": "meso"}, "expression_type"), ({"onset_frame": 130}, "onset after its offset"),
    ({"onset_frame": None}, "no 'onset_frame'"), ({"apex_frame": 1.5}, "must be an int"),
])
def test_long_video_rejects_bad_intervals(bad, match):
    iv = {"expression_id": "x", "expression_type": "micro", "onset_frame": 110, "apex_frame": 114,
          "offset_frame": 120, **bad}
    with pytest.raises(InputValueError, match=match):
        toy_video(intervals=[iv])



def test_long_video_rejects_repeated_ids_and_unordered_frames():
    iv = {"expression_id": "x", "expression_type": "micro", "onset_frame": 110, "offset_frame": 120}
    with pytest.raises(InputValueError, match="repeat"):
        toy_video(intervals=[iv, iv])
    with pytest.raises(InputValueError, match="increase"):
        toy_video(frame_numbers=list(range(50, 0, -1)))


# ============================================================================= SAMM Long Videos
LV_HEADER = ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type",
             "Action Units", "Notes"]
LV_ROWS = [
    [6, "006_1_1", 1, 566.4000000000001, 580, 600.0000000001, "=F11-D11+1", "Micro - 1/2", "4+7", None],
    [6, "006_1_2", 1, 700, -1, 780, "=F12-D12+1", "Macro", 12, "Eye movement"],      # apex not annotated
    [6, "006_1_3", 1, 900, 910, 1200, "=F13-D13+1", "Macro", "R14", None],           # past the last frame
    [7, "007_3_1", 3, 20, 25, 30, "=F14-D14+1", "Micro - 1/2", 14, None],
    [7, "007_3_2", 3, "abc", 25, 30, "=F15-D15+1", "Micro - 1/2", 14, None],         # unreadable onset
    [7, "007_3_3", 3, 40, 45, 50, "=F16-D16+1", "Blink", 45, None],                  # unknown type
]


def make_samm_lv(root):
    notes = [["SAMM Long Videos - FACS coded movements"], [], ["(Note to the users: please cite ...)"], [], [],
             [], [], ["Note: apex not annotated = -1"], []]
    sheet = notes + [LV_HEADER] + LV_ROWS
    cached = {("FACS_Movement_Only", "G11"): 34.59999999999991, ("FACS_Movement_Only", "G12"): 81,
              ("FACS_Movement_Only", "G13"): 301, ("FACS_Movement_Only", "G14"): 11,
              ("FACS_Movement_Only", "G15"): "#VALUE!", ("FACS_Movement_Only", "G16"): 11}
    write_xlsx(root / "SAMM_LongVideos_V2_Release.xlsx", {"FACS_Movement_Only": sheet}, cached=cached,
               merged={"FACS_Movement_Only": ["A8:J9"]})
    write_frames(root / "SAMM_longvideos" / "006_1", [f"006_1_{k:04d}.jpg" for k in range(1, 1001)])
    write_frames(root / "SAMM_longvideos" / "007_3", [f"007_3_{k:04d}.jpg" for k in range(1, 61)])
    write_frames(root / "SAMM_longvideos" / "008_2", [f"008_2_{k:04d}.jpg" for k in range(1, 11)])
    return root


def test_samm_lv_fixture_is_the_release_layout(tmp_path):
    root = make_samm_lv(tmp_path / "LV")
    ws = openpyxl.load_workbook(root / "SAMM_LongVideos_V2_Release.xlsx", data_only=True)["FACS_Movement_Only"]
    assert "A8:J9" in str(ws.merged_cells) and ws["A10"].value == "Subject" and ws["D11"].value == 566.4000000000001
    assert ws["G12"].value == 81


def test_samm_lv_loads_whole_videos_with_intervals(tmp_path):
    root = make_samm_lv(tmp_path / "LV")
    before = tree_snapshot(root)
    with pytest.warns(DatasetWarning) as rec:
        vs = load_samm_lv(root)
    text = " ".join(str(w.message) for w in rec)
    assert "2 row(s) of the labels are invalid" in text and "reach past" in text and "not integers" in text
    assert [(v.video_id, v.subject, v.n_frames, v.fps) for v in vs] == [
        ("006_1", "006", 1000, 200), ("007_3", "007", 60, 200), ("008_2", "008", 10, 200)]
    iv = vs.intervals()
    assert iv[["expression_id", "expression_type", "onset_frame", "offset_frame"]].values.tolist() == [
        ["006_1_1", "micro", 566, 600], ["006_1_2", "macro", 700, 780], ["006_1_3", "macro", 900, 1200],
        ["007_3_1", "micro", 20, 30]]
    assert iv["apex_frame"].isna().tolist() == [False, True, False, False] and iv["emotion"].isna().all()
    assert iv.loc[1, "notes"] == "Eye movement" and iv.loc[1, "au_string"] == "12"
    p = vs.problems
    frac = p[p.kind == "fractional_frame"]  # 600.0000000001 is within 1e-6: rounded silently
    assert frac[["clip_id", "row", "column"]].values.tolist() == [["006_1_1", 11, "D"]]
    assert "566.4000000000001 is not an integer: rounded to 566" in frac.detail.iloc[0]
    assert p[p.kind == "apex_missing"][["clip_id", "row", "column"]].values.tolist() == [["006_1_2", 12, "E"]]
    assert p[p.kind == "interval_outside_video"].clip_id.tolist() == ["006_1_3"]
    assert invalid_rows(vs) == [("SAMM_LongVideos_V2_Release.xlsx", "FACS_Movement_Only", 15, "D", "007", "007_3_2"),
                                ("SAMM_LongVideos_V2_Release.xlsx", "FACS_Movement_Only", 16, "H", "007", "007_3_3")]
    assert vs[0].frames[0].name == "006_1_0001.jpg" and vs[0].load_frames([565]).shape == (1, 12, 16, 3)
    micro = vs.clips(expression_type="micro")
    assert [(c.clip_id, c.onset_frame, c.apex_frame, c.offset_frame) for c in micro] == [
        ("006_1_1", 566, 580, 600), ("007_3_1", 20, 25, 30)]
    assert tree_snapshot(root) == before


def test_samm_lv_missing_video_folder(tmp_path):
    root = make_samm_lv(tmp_path / "LV")
    import shutil

    shutil.rmtree(root / "SAMM_longvideos" / "007_3")
    with pytest.raises(MissingFramesError, match="007_3"):
        load_samm_lv(root)
    with pytest.warns(DatasetWarning):
        vs = load_samm_lv(root, missing="skip")
    assert [v.video_id for v in vs] == ["006_1", "008_2"]


def test_samm_lv_one_bad_row_never_aborts(tmp_path):
    root = make_samm_lv(tmp_path / "LV")
    p = root / "SAMM_LongVideos_V2_Release.xlsx"
    wb = openpyxl.load_workbook(p)
    wb["FACS_Movement_Only"]["B11"] = "garbage"
    wb.save(p)
    with pytest.warns(DatasetWarning):
        vs = load_samm_lv(root)
    assert vs.intervals()["expression_id"].tolist() == ["006_1_2", "006_1_3", "007_3_1"]
    assert invalid_rows(vs)[0][2:4] == (11, "B")


# ============================================================================= writers
def frames(n, seed=0):
    return np.stack([tiny_frame(seed + k) for k in range(n)])


def test_write_samm_lv_round_trip(tmp_path):
    recs = [LongVideoRecord(subject=6, video=1, frames=frames(30), first_frame=1, intervals=[
                {"expression_type": "micro", "onset": 4, "apex": 7, "offset": 12, "au_string": "4+7"},
                {"expression_type": "macro", "onset": 14, "apex": None, "offset": 25, "au_string": 12}]),
            LongVideoRecord(subject="007", video=3, frames=list(frames(20)), intervals=[])]
    root = write_long_videos(recs, tmp_path / "LV", layout="samm_lv")
    ws = openpyxl.load_workbook(root / "SAMM_LongVideos_V2_Release.xlsx")["FACS_Movement_Only"]
    assert ws["A10"].value == "Subject" and ws["E12"].value == -1 and ws["G11"].value == "=F11-D11+1"
    assert "A8:J9" in str(ws.merged_cells)
    vs = load_samm_lv(root)
    assert [v.video_id for v in vs] == ["006_1", "007_3"]
    assert vs.intervals()[["expression_id", "onset_frame", "offset_frame"]].values.tolist() == [
        ["006_1_1", 5, 13], ["006_1_2", 15, 26]]
    assert vs[0].load_frames([0], gray=True).shape == (1, 12, 16)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "x.txt").write_text("someone's data")
    with pytest.raises(InputValueError, match="refusing to write"):
        write_long_videos(recs, foreign)


def test_write_casme3_with_depth_round_trip(tmp_path):
    depth = np.stack([depth_map(k) for k in range(20)]).astype(np.float64)
    depth[3, 5, 5] = np.nan  # no reading
    iv = [{"expression_type": "micro", "onset": 3, "apex": 6, "offset": 10, "au_string": "4+7", "emotion": "disgust",
           "objective_class": 3},
          {"expression_type": "macro", "onset": 12, "apex": 15, "offset": 18, "au_string": "12"}]
    root = write_long_videos([LongVideoRecord(subject=1, video="a", frames=frames(20), first_frame=0, intervals=iv,
                                              depth=iter(depth))], tmp_path / "C3", layout="casme3")
    png = read_image_file(root / "spNO.1" / "a" / "depth" / "3.png", flags=cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png[5, 5] == 0 and png[2, 3] == depth_map(3)[2, 3]
    ws = openpyxl.load_workbook(root / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx")["label"]
    assert [c.value for c in ws[2]] == ["spNO.1", "a", "3", "6", "10", "4+7", "III", "disgust"]  # text, Roman
    cs = load_casme3(root)
    assert [(c.clip_id, c.onset_frame, c.apex_frame, c.offset_frame) for c in cs] == [("a_3", 3, 6, 10)]
    d = cs[0].load_depth()
    assert np.isnan(d[0, 5, 5]) and np.isnan(d[0, 0, 0]) and d[0, 2, 3] == depth_map(3)[2, 3]
    assert [c.clip_id for c in load_casme3(root, expression_type="macro")] == ["a_12"]
    with pytest.raises(InputValueError, match="depth maps are written by the 'casme3' layout only"):
        write_long_videos([LongVideoRecord(subject=1, video=1, frames=frames(3), depth=depth[:3])],
                          tmp_path / "X", layout="samm_lv")
    with pytest.raises(ShapeError, match="depth map 0"):
        write_long_videos([LongVideoRecord(subject=1, video="a", frames=frames(3), depth=np.zeros((3, 4, 4)))],
                          tmp_path / "Y", layout="casme3")


def test_write_casme_sq_round_trip(tmp_path):
    rec = LongVideoRecord(subject=15, video="anger1", frames=frames(30), first_frame=1,
                          extra={"video_code": 401, "video_name": "girlcrashing"},
                          intervals=[{"expression_type": "micro", "onset": 5, "apex": None, "offset": 9,
                                      "au_string": "4", "emotion": "negative", "self_report": "anger"}])
    root = write_long_videos([rec], tmp_path / "C2", layout="casme_sq")
    ws = openpyxl.load_workbook(root / "CAS(ME)^2code_final.xlsx")
    assert [c.value for c in ws["CASFEcode_final"][1]][:9] == [1, "anger1_1", 6, 0, 10, 4, "negative",
                                                               "micro-expression", "anger"]
    assert [c.value for c in ws["naming rule1"][1]] == [1, "s15", 15]
    cs = load_casme_sq(root)
    assert [(c.subject, c.clip_id, c.apex, c.meta["video_folder"]) for c in cs] == [
        ("s15", "anger1_1", None, "15_0401girlcrashing")]


@pytest.mark.parametrize("interval, match", [
    ({"expression_type": "micro", "onset": 5, "offset": 30}, "need 0 <= onset"),
    ({"expression_type": "micro", "onset": 5, "apex": 2, "offset": 8}, "need 0 <= onset"),
    ({"expression_type": "blink", "onset": 1, "offset": 2}, "expression_type"),
])
def test_write_long_videos_rejects_bad_intervals(tmp_path, interval, match):
    with pytest.raises(InputValueError, match=match):
        write_long_videos([LongVideoRecord(subject=1, video=1, frames=frames(10), intervals=[interval])],
                          tmp_path / "LV")
    assert not (tmp_path / "LV").exists()


# ============================================================================= Clip depth
def test_clip_depth_from_files_and_arrays(tmp_path):
    paths = []
    for k in range(3):
        p = tmp_path / f"{k}.png"
        write_image_file(p, depth_map(k))
        paths.append(p)
    f = np.zeros((3, 12, 16, 3), np.uint8)
    c = Clip(dataset="d", subject="s", clip_id="c", frames=f, fps=30, depth=paths)
    d = c.load_depth()
    assert d.shape == (3, 12, 16) and d.dtype == np.float32 and np.isnan(d[:, 0, 0]).all()
    assert d[2, 3, 4] == 600 + 2 + 3 + 8 and c.to_dict()["has_depth"] and "depth" in repr(c)
    tenth = Clip(dataset="d", subject="s", clip_id="c", frames=f, fps=30, depth=paths, depth_unit_mm=0.1)
    assert tenth.load_depth(1)[0, 3, 4] == pytest.approx(61.2)
    mem = Clip(dataset="d", subject="s", clip_id="c", frames=f, fps=30, depth=np.stack([depth_map(k) for k in range(3)]))
    np.testing.assert_array_equal(mem.load_depth([2]), d[[2]])
    assert read_depth(paths[1], unit_mm=2.0)[3, 4] == 2 * 612
    with pytest.raises(InputValueError, match="2 depth maps for 3 frames"):
        Clip(dataset="d", subject="s", clip_id="c", frames=f, fps=30, depth=paths[:2])
    with pytest.raises(ShapeError, match="depth in memory"):
        Clip(dataset="d", subject="s", clip_id="c", frames=f, fps=30, depth=np.zeros((2, 4, 4)))
    with pytest.raises(InputValueError, match="depth_unit_mm"):
        Clip(dataset="d", subject="s", clip_id="c", frames=f, fps=30, depth=paths, depth_unit_mm=0)
    with pytest.raises(InputValueError, match="has no depth maps"):
        Clip(dataset="d", subject="s", clip_id="c", frames=f, fps=30).load_depth()
    write_image_file(tmp_path / "rgb.png", np.zeros((12, 16, 3), np.uint8))
    with pytest.raises(FrameReadError, match="3 channels"):
        read_depth(tmp_path / "rgb.png")
    with pytest.raises(FrameReadError, match="does not exist"):
        read_depth(tmp_path / "nope.png")
    other = Clip(dataset="d", subject="s", clip_id="c", frames=f, fps=30,
                 depth=[paths[0], paths[1], tmp_path / "rgb.png"])
    with pytest.raises(FrameReadError, match="rgb.png"):
        other.load_depth()
