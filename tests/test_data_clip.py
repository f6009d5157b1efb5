"""Clip and ClipSet: validation, lazy frame reading, selection, tables and LOSO splits."""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pandas as pd
import pytest

from mxkit._io import write_image_file
from mxkit.data import AU, Clip, ClipSet, read_image
from mxkit.errors import FrameReadError, InputValueError, ShapeError

from .test_data_support import tiny_frame, write_frames


def mem_clip(**kw):
    base = dict(dataset="synth", subject="s1", clip_id="c1",
                frames=np.stack([tiny_frame(i) for i in range(5)]), fps=200.0)
    base.update(kw)
    return Clip(**base)


def file_clip(tmp_path, n=4, **kw):
    folder = tmp_path / "sub01" / "EP01"
    write_frames(folder, [f"img{k}.jpg" for k in range(10, 10 + n)])
    base = dict(dataset="casme2", subject="sub01", clip_id="EP01",
                frames=[folder / f"img{k}.jpg" for k in range(10, 10 + n)], fps=200,
                frame_numbers=range(10, 10 + n), onset=0, apex=2, offset=n - 1,
                au_string="4+L10", emotion="disgust")
    base.update(kw)
    return Clip(**base)


class TestClip:
    def test_defaults_and_properties(self):
        c = mem_clip(apex=2, au_string="12", emotion="happiness")
        assert c.n_frames == 5 and c.onset == 0 and c.offset == 4 and c.apex == 2
        assert c.frame_numbers == (0, 1, 2, 3, 4) and c.aus == (AU(12),)
        assert c.key == ("synth", "s1", "c1") and c.subject_key == "synth/s1"
        assert c.in_memory and c.frames_dir is None
        assert c.duration_s == pytest.approx(5 / 200)
        assert mem_clip().apex_or_middle == 2 and mem_clip(onset=1, offset=4).apex_or_middle == 2

    def test_frame_numbers_map_indices(self, tmp_path):
        c = file_clip(tmp_path)
        assert (c.onset_frame, c.apex_frame, c.offset_frame) == (10, 12, 13)
        assert c.frames_dir == tmp_path / "sub01" / "EP01"
        assert c.to_dict()["frames"][0].endswith("img10.jpg")

    def test_lazy_load_reads_only_what_is_asked(self, tmp_path, monkeypatch):
        import mxkit.data.clip as clip_module

        c = file_clip(tmp_path)
        calls = []
        real = clip_module.read_image_file
        monkeypatch.setattr(clip_module, "read_image_file", lambda p, **kw: calls.append(p) or real(p, **kw))
        out = c.load_frames([1, -1])
        assert out.shape == (2, 12, 16, 3) and out.dtype == np.uint8
        assert [p.name for p in calls] == ["img11.jpg", "img13.jpg"]
        assert c.frame(0).shape == (12, 16, 3)
        assert c.load_frames(slice(0, 2), gray=True).shape == (2, 12, 16)
        assert c.load_frames(np.array([True, False, True, False])).shape[0] == 2

    def test_rgb_order_from_disk(self, tmp_path):
        import cv2

        img = np.zeros((4, 4, 3), np.uint8)
        img[..., 0] = 255  # red in RGB
        p = tmp_path / "red.png"
        write_image_file(p, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        assert read_image(p)[0, 0].tolist() == [255, 0, 0]
        assert read_image(p, gray=True).shape == (4, 4)

    def test_in_memory_gray_and_expansion(self):
        c = mem_clip()
        g = c.load_frames(gray=True)
        assert g.shape == (5, 12, 16)
        c2 = mem_clip(frames=np.zeros((3, 4, 4), np.uint8))
        assert c2.frames.shape == (3, 4, 4, 3)

    def test_missing_and_corrupt_frames_name_the_path(self, tmp_path):
        c = file_clip(tmp_path)
        (c.frames[1]).unlink()
        with pytest.raises(FrameReadError, match="img11.jpg"):
            c.load_frames()
        c.frames[2].write_bytes(b"not a jpeg")
        with pytest.raises(FrameReadError, match="img12.jpg.*decode"):
            c.frame(2)
        assert c.frame(0).shape == (12, 16, 3)  # other frames still readable

    def test_mixed_frame_sizes(self, tmp_path):
        c = file_clip(tmp_path)

        write_image_file(c.frames[1], np.zeros((5, 5, 3), np.uint8))
        with pytest.raises(FrameReadError, match="img11.jpg.*shape"):
            c.load_frames()

    @pytest.mark.parametrize("kw, err", [
        ({"onset": 3, "offset": 1}, InputValueError), ({"offset": 5}, InputValueError),
        ({"apex": 4, "offset": 3}, InputValueError), ({"onset": -1}, InputValueError),
        ({"apex": 1.5}, InputValueError), ({"fps": 0}, InputValueError),
        ({"frames": np.zeros((2, 4, 4, 3), np.float32)}, InputValueError),
        ({"frames": np.zeros((2, 4, 4, 4), np.uint8)}, ShapeError),
        ({"frames": []}, InputValueError), ({"frames": "a.jpg"}, InputValueError),
        ({"frame_numbers": [1, 2]}, InputValueError), ({"subject": ""}, InputValueError),
        ({"aus": ["12"]}, InputValueError), ({"objective_class": "III"}, InputValueError),
    ])
    def test_invalid(self, kw, err):
        with pytest.raises(err):
            mem_clip(**kw)

    def test_bad_indices(self):
        c = mem_clip()
        with pytest.raises(InputValueError, match="out of range"):
            c.load_frames([5])
        with pytest.raises(InputValueError):
            c.frame(1.0)
        with pytest.raises(InputValueError):
            c.load_frames(np.array([True]))

    def test_frozen_replace_and_pickle(self, tmp_path):
        c = file_clip(tmp_path)
        with pytest.raises(AttributeError):
            c.onset = 1
        d = c.with_label("negative")
        assert d.label == "negative" and c.label is None
        e = pickle.loads(pickle.dumps(c))
        assert e.frames == c.frames and e.aus == c.aus
        assert "EP01" in repr(c) and "4+L10" in repr(c)


def small_set():
    f = np.zeros((3, 2, 2, 3), np.uint8)
    spec = [("casme2", "sub01", "a", "happiness"), ("casme2", "sub01", "b", "disgust"),
            ("casme2", "sub02", "a", "others"), ("samm", "006", "006_1_2", "Anger"),
            ("smic", "s1", "s1_ne_01", "negative"), ("casme2", "sub02", "c", "disgust")]
    return ClipSet([Clip(dataset=d, subject=s, clip_id=c, frames=f, fps=100, emotion=e, apex=1)
                    for d, s, c, e in spec])


class TestClipSet:
    def test_container(self):
        cs = small_set()
        assert len(cs) == 6 and isinstance(cs[0], Clip) and cs[-1].clip_id == "c"
        assert isinstance(cs[1:3], ClipSet) and len(cs[1:3]) == 2
        assert [c.clip_id for c in cs[[0, 2]]] == ["a", "a"]
        assert len(cs[np.array([True, False] * 3)]) == 3
        assert cs.subjects == ("casme2/sub01", "casme2/sub02", "samm/006", "smic/s1")
        assert cs.datasets == ("casme2", "samm", "smic")
        assert "6 clips" in repr(cs) and "4 subjects" in repr(cs)
        with pytest.raises(InputValueError):
            cs[10]
        with pytest.raises(InputValueError):
            cs["a"]
        with pytest.raises(InputValueError):
            ClipSet([1, 2])

    def test_filter_and_find(self):
        cs = small_set()
        assert len(cs.filter(dataset="casme2")) == 4
        assert len(cs.filter(subject="sub01")) == 2 and len(cs.filter(subject="casme2/sub02")) == 2
        assert len(cs.filter(emotion=["disgust", "Anger"])) == 3
        assert len(cs.filter(lambda c: c.dataset != "smic", dataset="casme2", emotion="others")) == 1
        assert cs.find("006_1_2").subject == "006"
        with pytest.raises(InputValueError, match="2 clips"):
            cs.find("a")
        assert cs.find("a", subject="sub02").subject == "sub02"
        with pytest.raises(InputValueError, match="no clip"):
            cs.find("zzz")

    def test_by_subject_and_loso(self):
        cs = small_set()
        groups = cs.by_subject()
        assert list(groups) == list(cs.subjects) and len(groups["casme2/sub02"]) == 2
        folds = list(cs.loso_splits())
        assert [k for k, _, _ in folds] == list(cs.subjects)
        for key, train, test in folds:
            assert {c.subject_key for c in test} == {key}
            assert key not in {c.subject_key for c in train}
            assert len(train) + len(test) == len(cs)
        # the union of test sets is the whole set, each clip exactly once
        tested = [c.key for _, _, te in folds for c in te]
        assert sorted(tested) == sorted(c.key for c in cs)

    def test_loso_keys_by_dataset_and_subject(self):
        f = np.zeros((2, 2, 2, 3), np.uint8)
        cs = ClipSet([Clip(dataset=d, subject="s1", clip_id="x", frames=f, fps=25) for d in ("smic", "other")])
        assert len(list(cs.loso_splits())) == 2

    def test_to_dataframe_known_rows(self):
        df = small_set().to_dataframe()
        assert isinstance(df, pd.DataFrame) and len(df) == 6
        assert df.columns[:4].tolist() == ["dataset", "subject", "subject_key", "clip_id"]
        row = df.iloc[3]
        assert (row.dataset, row.subject, row.clip_id, row.emotion) == ("samm", "006", "006_1_2", "Anger")
        assert (row.onset, row.apex, row.offset, row.n_frames) == (0, 1, 2, 3)
        assert str(df["apex"].dtype) == "Int64"
        assert ClipSet().to_dataframe().empty
        dfm = ClipSet([mem_clip(meta={"notes": "x"})]).to_dataframe(meta=True)
        assert dfm.loc[0, "meta_notes"] == "x"

    def test_concat_and_empty_problem_tables(self):
        cs = small_set()
        both = ClipSet.concat([cs[:2], cs[2:]])
        assert [c.key for c in both] == [c.key for c in cs]
        assert list(cs.problems.columns)[:4] == ["kind", "dataset", "subject", "clip_id"]
        assert cs.problems.empty and cs.excluded.empty and cs.protocol_card is None
        with pytest.raises(InputValueError):
            cs.label_indices()
        with pytest.raises(InputValueError):
            ClipSet.concat([cs, [1]])


def test_import_is_light():
    import subprocess

    code = ("import sys, mxkit.data; bad = [m for m in ('cv2', 'pandas', 'openpyxl', 'xlrd', 'torch') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
