"""SynthME in the CAS(ME)³ layout (colour + exact z-buffer depth, optional sensor noise) and the
SAMM Long Videos layout, read back by the real loaders; ``mxkit synth --layout casme3|samm_lv``
and ``mxkit prepare ROOT --dataset casme3``."""

from __future__ import annotations

import contextlib
import io
import json

import cv2
import numpy as np
import pytest

from mxkit._io import read_image_file
from mxkit.cli import main
from mxkit.data import load_casme3, load_samm_lv, load_synthme, make_dataset
from mxkit.data.synth import render_depth
from mxkit.errors import InputValueError


@pytest.fixture(scope="module")
def casme3(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "C3"
    return root, make_dataset(root, preset="tiny", layout="casme3", seed=4, n_subjects=1, depth_noise_mm=0.0)


def test_casme3_layout_with_exact_depth(casme3, mh_head):
    root, cs = casme3
    assert [(c.dataset, c.subject, c.meta["synthme"]["kind"]) for c in cs] == [
        ("casme3", "spNO.1", "micro"), ("casme3", "spNO.1", "macro")]
    c = cs[0]
    assert c.fps == 30 and c.has_depth and c.clip_id == f"a_{c.onset_frame}" and c.emotion in (
        "happy", "disgust", "surprise", "others", "fear", "sad")
    assert (root / "spNO.1" / "a" / "color").is_dir() and (root / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx").is_file()
    png = read_image_file(c.depth[0], flags=cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png.shape == (128, 128)
    written = c.load_depth()
    exact = render_depth(c.ground_truth, model=mh_head)
    face = np.isfinite(exact)
    assert np.array_equal(np.isfinite(written), face)  # background = no reading (0)
    assert np.abs(written[face] - exact[face]).max() <= 0.5 + 1e-3  # rounding to whole mm only
    assert 700 < np.nanmedian(exact) < 1000
    manifest = json.loads((root / "synthme.json").read_text())
    assert manifest["depth"]["noise_mm"] == 0.0 and manifest["layout"] == "casme3"
    assert cs[1].emotion is not None  # the macro list has no emotion: SynthME's own
    # the ordinary loader sees the same clips (window='labelled': onset..offset)
    real = load_casme3(root)
    assert [x.clip_id for x in real] == [c.clip_id] and real[0].n_frames == c.offset - c.onset + 1


def test_casme3_sensor_noise_model(tmp_path, mh_head):
    cs = make_dataset(tmp_path / "N", preset="tiny", layout="casme3", seed=4, n_subjects=1, macro=0,
                      depth_noise_mm=2.0)
    c = cs[0]
    assert c.ground_truth.meta["depth_noise_mm"] == 2.0
    err = c.load_depth() - render_depth(c.ground_truth, model=mh_head)
    err = err[np.isfinite(err)]
    # white noise of 2 mm, rounded to whole mm: std sqrt(4 + 1/12)
    assert err.std() == pytest.approx(np.sqrt(4 + 1 / 12), rel=0.03) and abs(err.mean()) < 0.05
    with pytest.raises(InputValueError, match="depth_noise_mm applies to layout='casme3'"):
        make_dataset(tmp_path / "X", preset="tiny", layout="casme2", depth_noise_mm=1.0)
    with pytest.raises(InputValueError, match="depth_noise_mm must be"):
        make_dataset(tmp_path / "Y", preset="tiny", layout="casme3", depth_noise_mm=-1.0)


def test_samm_lv_layout(tmp_path):
    root = tmp_path / "LV"
    cs = make_dataset(root, preset="tiny", layout="samm_lv", seed=4, n_subjects=1)
    assert [(c.dataset, c.subject, c.clip_id) for c in cs] == [("samm_lv", "001", "001_1_1"),
                                                                ("samm_lv", "001", "001_2_1")]
    c = cs[0]
    assert c.fps == 200 and c.n_frames == c.ground_truth.n_frames and c.frames[0].parent.name == "001_1"
    assert c.emotion in ("Happiness", "Disgust", "Surprise", "Other", "Fear", "Sadness")
    vs = load_samm_lv(root)
    assert [v.video_id for v in vs] == ["001_1", "001_2"] and len(vs[0].intervals) == 1
    assert vs[0].intervals.loc[0, "onset"] == c.onset and vs[0].frames[0].name.startswith("001_1_")
    assert len(load_synthme(root)) == 2


def test_smic_layout(tmp_path):
    from mxkit.data import load_smic

    root = tmp_path / "SMIC"
    cs = make_dataset(root, preset="tiny", layout="smic", expression_type="micro", seed=5, n_subjects=1, micro=3,
                      progress=False)
    # emotions cycle happiness, disgust, surprise -> SMIC's positive / negative / surprise folders
    assert sorted((c.subject, c.clip_id, c.emotion) for c in cs) == [
        ("s1", "s1_ne_02", "negative"), ("s1", "s1_po_01", "positive"), ("s1", "s1_sur_03", "surprise")]
    truth = {c.clip_id: c.ground_truth.meta["emotion"] for c in cs}
    assert truth == {"s1_po_01": "happiness", "s1_ne_02": "disgust", "s1_sur_03": "surprise"}
    c = next(c for c in cs if c.clip_id == "s1_ne_02")
    assert c.fps == 100 and c.apex is None and c.n_frames == c.ground_truth.n_frames
    assert c.frames[0].relative_to(root).as_posix().startswith("HS/s1/micro/negative/s1_ne_02/image")
    assert c.frames[0].suffix == ".bmp"
    plain = load_smic(root)                                  # the real loader alone, no sidecar
    assert sorted(x.clip_id for x in plain) == sorted(x.clip_id for x in cs)


def test_cli_synth_casme3_and_prepare_it(tmp_path):
    root, cache = tmp_path / "C3", tmp_path / "cache"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["synth", str(root), "--layout", "casme3", "--preset", "tiny", "--kind", "micro",
                     "--subjects", "1", "--quiet"]) == 0
        assert main(["prepare", str(root), "--dataset", "casme3", "--cache", str(cache), "--workers", "1",
                     "--quiet"]) == 0
    text = out.getvalue()
    assert "casme3 layout" in text and "spNO.1" in text and "prepared 1 of 1 clips" in text
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["synth", str(tmp_path / "LV"), "--layout", "samm_lv", "--preset", "tiny", "--kind", "micro",
                     "--subjects", "1", "--quiet"]) == 0
    assert (tmp_path / "LV" / "SAMM_LongVideos_V2_Release.xlsx").is_file()
