"""SynthME (mxkit.data.synth): known answers for the generator, the writers and the loader."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from mxkit.data import PRESETS, SynthTruth, load_synthme, make_dataset, parse_aus
from mxkit.data.synth import (
    EMOTION_RECIPES,
    dataset_plan,
    detail_weights,
    detection_report,
    generate_clip,
    generate_subject,
    plan_clip,
    render_frames,
)
from mxkit.errors import DatasetFormatError, InputValueError, OptionError
from mxkit.geometry import axis_angle_to_matrix
from mxkit.render import project


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthme") / "SynthME"
    return root, make_dataset(root, preset="tiny", seed=0)


@pytest.fixture(scope="module")
def subject():
    return generate_subject(seed=5, image_size=96, texture_size=256)


# ----------------------------------------------------------------------------- round trip
def test_round_trip_labels_and_truth(tiny, mh_head):
    root, clips = tiny
    _, items = dataset_plan(preset="tiny", seed=0, model=mh_head)
    assert len(clips) == len(items) == 4
    for clip, item in zip(clips, items, strict=True):
        t, m = item.truth, item.truth.meta
        assert (clip.dataset, clip.subject, clip.clip_id) == ("casme2", item.folder_subject, item.loaded_id)
        assert (clip.onset, clip.apex, clip.offset) == (m["onset"], m["apex"], m["offset"])
        assert clip.onset_frame == item.first_frame + m["onset"]
        assert clip.au_string == m["au_string"] and clip.emotion == m["emotion"]
        assert clip.aus == parse_aus(m["au_string"]) and len(clip.aus) == len(t.aus)
        assert m["au_string"] in EMOTION_RECIPES[m["emotion"]]
        assert clip.fps == 200.0 and clip.n_frames == t.n_frames
        gt = clip.ground_truth
        assert isinstance(gt, SynthTruth)
        for name in ("identity", "expression", "detail", "detail_profile", "rotation",
                     "translation", "landmarks", "profile"):
            np.testing.assert_array_equal(getattr(gt, name), getattr(t, name), err_msg=name)
        assert gt.aus == t.aus and gt.expression_type == t.expression_type and gt.camera == t.camera
        assert clip.meta["synthme"]["kind"] == t.expression_type
    # the frames on disk are the rendered frames (JPEG quality 95)
    subjects, _ = dataset_plan(preset="tiny", seed=0, model=mh_head)
    ref = render_frames(subjects[0].painted(), items[0].truth, frames=[0, items[0].truth.meta["apex"]])
    got = clips[0].load_frames([0, items[0].truth.meta["apex"]])
    assert np.abs(got.astype(int) - ref).mean() < 2.0
    manifest = json.loads((root / "synthme.json").read_text())
    assert manifest["counts"] == {"subjects": 2, "clips": 4, "micro": 2, "macro": 2,
                                  "frames": sum(c.n_frames for c in clips)}
    assert manifest["preset"] == "tiny" and manifest["seed"] == 0 and "mxkit_version" in manifest


def test_official_coding_sheet(tiny):
    import openpyxl

    root, clips = tiny
    book = root / "CASME2-coding-20140508.xlsx"
    ws = openpyxl.load_workbook(book)["Sheet1"]
    assert [c.value for c in ws[1]] == ["Subject", "Filename", None, "OnsetFrame", "ApexFrame",
                                        "OffsetFrame", None, "Action Units", "Estimated Emotion"]
    assert ws["A2"].value == "01" and ws["A2"].number_format == "@"
    assert ws["B2"].value == clips[0].clip_id and ws["I2"].value == clips[0].emotion
    with zipfile.ZipFile(book) as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert b"2014-05-08T00:00:00Z" in zf.read("docProps/core.xml")


def test_same_seed_same_bytes_other_seed_other_data(tiny, tmp_path, mh_head):
    root, _ = tiny
    again = tmp_path / "again"
    make_dataset(again, preset="tiny", seed=0)
    a, b = _digest(root), _digest(again)
    assert len(a) > 300 and a == b
    _, items0 = dataset_plan(preset="tiny", seed=0, model=mh_head)
    subjects1, items1 = dataset_plan(preset="tiny", seed=1, model=mh_head)
    for i0, i1 in zip(items0, items1, strict=True):
        assert not np.array_equal(i0.truth.rotation, i1.truth.rotation)
        assert not np.array_equal(i0.truth.detail, i1.truth.detail)
    assert not np.array_equal(subjects1[0].identity, dataset_plan(preset="tiny", seed=0,
                                                                  model=mh_head)[0][0].identity)


# ----------------------------------------------------------------------------- ground truth
def test_gt_landmarks_are_the_projected_model_landmarks(tiny, mh_head):
    _, clips = tiny
    for clip in clips:
        gt = clip.ground_truth
        v = gt.vertices(mh_head).astype(np.float64)                        # (T, V, 3) unposed
        R = axis_angle_to_matrix(torch.as_tensor(gt.rotation, dtype=torch.float64)).numpy()
        posed = np.einsum("tij,tvj->tvi", R, v) + gt.translation[:, None, :]
        with torch.no_grad():
            lm3 = mh_head.landmarks(torch.as_tensor(posed, dtype=torch.float32), "ibug68").numpy()
        px = project(lm3, gt.camera).pixels
        np.testing.assert_allclose(px, gt.landmarks, atol=1e-3)
        H, W = gt.camera.image_size
        assert (px[..., 0] > 0).all() and (px[..., 0] < W).all() and (px[..., 1] < H).all()


def test_vertices_follow_the_contract(tiny, mh_head):
    gt = tiny[1][0].ground_truth
    a = gt.meta["apex"]
    with torch.no_grad():
        base = mh_head(torch.as_tensor(gt.identity)[None], torch.as_tensor(gt.expression[a])[None])[0].numpy()
    np.testing.assert_allclose(gt.vertices(mh_head, a)[0], base + gt.detail_profile[a] * gt.detail,
                               atol=1e-7)
    assert gt.detail_profile[a] == 1.0 and (gt.detail_profile >= 0).all() and (gt.detail_profile <= 1).all()


@pytest.mark.parametrize("au_string", ["6+12", "4+L10", "1+2+5", "L14", "15+17"])
def test_detail_field_is_outside_the_blendshape_span_and_local(subject, mh_head, au_string):
    gt = plan_clip(subject, expression_type="micro", au_string=au_string, seed=3, model=mh_head)
    d = gt.detail.astype(np.float64)
    B = mh_head.expr_basis.numpy().reshape(mh_head.n_expressions, -1).astype(np.float64)
    cos = np.abs(B @ d.ravel()) / (np.linalg.norm(B, axis=1) * np.linalg.norm(d))
    assert cos.max() < 1e-5                                     # orthogonal to every ARKit shape
    coef = np.linalg.lstsq(B.T, d.ravel(), rcond=None)[0]       # no blend of shapes explains it
    assert np.linalg.norm(B.T @ coef) < 1e-5 * np.linalg.norm(d)
    regions = np.zeros(mh_head.n_vertices, bool)
    for key in gt.aus:
        regions |= mh_head.au_region_mask(key) > 0
    moving = np.linalg.norm(d, axis=1) > 0
    assert moving.any() and not moving[~regions].any()          # zero outside the AU regions
    assert not moving[~mh_head.part_mask("skin")].any()
    assert not moving[detail_weights(mh_head, gt.aus) == 0].any()
    if "L10" in gt.aus:                                        # one-sided: only the subject's left
        assert (mh_head.v_template.numpy()[moving & (mh_head.au_region_mask("AU4") == 0), 0] > 0).all()
    amp = np.linalg.norm(d, axis=1).max()
    assert amp == pytest.approx(gt.detail_amplitude, rel=1e-5)
    assert 0.2e-3 * (1 - 1e-5) <= amp <= 1.0e-3 * (1 + 1e-5)


def test_detail_field_moves_the_pixels_of_its_region(subject, mh_head):
    gt = plan_clip(subject, expression_type="macro", au_string="6+12", seed=4, model=mh_head)
    a = gt.meta["apex"]
    with_detail = render_frames(subject, gt, frames=[a]).astype(int)[0]
    without = render_frames(subject, gt, frames=[a], detail=False).astype(int)[0]
    changed = np.abs(with_detail - without).max(-1) > 0
    assert changed.sum() > 20
    moving = np.linalg.norm(gt.detail, axis=1) > 0
    uv = project(gt.posed_vertices(mh_head, a)[0][moving], gt.camera).pixels
    rows, cols = np.nonzero(changed)
    assert cols.min() >= uv[:, 0].min() - 3 and cols.max() <= uv[:, 0].max() + 3
    assert rows.min() >= uv[:, 1].min() - 3 and rows.max() <= uv[:, 1].max() + 3


def test_micro_and_macro_on_the_tiny_preset(tiny):
    _, clips = tiny
    kinds = {c.ground_truth.expression_type for c in clips}
    assert kinds == {"micro", "macro"}
    for c in clips:
        gt = c.ground_truth
        peak = max(gt.aus.values())
        p = gt.profile
        assert c.onset >= 2 and c.offset <= c.n_frames - 3          # neutral baseline frames
        assert (p[:c.onset + 1] == 0).all() and (p[c.offset:] == 0).all() and p[c.apex] == 1
        assert (np.diff(p[c.onset:c.apex + 1]) > 0).all() and (np.diff(p[c.apex:c.offset + 1]) < 0).all()
        np.testing.assert_allclose(gt.expression, p[:, None] * gt.expression[c.apex][None], atol=1e-7)
        assert np.degrees(np.abs(gt.rotation)).max() < 2.0 and np.abs(gt.translation).max() < 3e-3
        assert np.abs(np.diff(gt.rotation, 2, axis=0)).max() < 1e-4     # smooth in time
        if gt.expression_type == "micro":
            assert 0.2 <= c.duration_s <= 0.5 and peak <= 0.32 * 1.15
        else:
            assert c.duration_s > 0.5 and peak >= 0.55 * 0.85
    micro = [c for c in clips if c.ground_truth.expression_type == "micro"]
    macro = [c for c in clips if c.ground_truth.expression_type == "macro"]
    assert max(max(c.ground_truth.aus.values()) for c in micro) < min(max(c.ground_truth.aus.values()) for c in macro)
    assert max(c.duration_s for c in micro) < min(c.duration_s for c in macro)


def test_small_preset_plan_kinds(mh_head):
    subjects, items = dataset_plan(preset="small", seed=2, model=mh_head)
    assert len(subjects) == 6 and len(items) == 18
    for it in items:
        gt, m = it.truth, it.truth.meta
        dur = (m["offset"] - m["onset"] + 1) / gt.fps
        peak = max(gt.aus.values())
        if gt.expression_type == "micro":
            assert 0.2 <= dur <= 0.5 and peak <= 0.32 * 1.15
        else:
            assert 0.6 <= dur <= 0.9 and peak >= 0.55 * 0.85
        assert 0.2e-3 * (1 - 1e-5) <= gt.detail_amplitude <= 1e-3 * (1 + 1e-5)
    assert len({it.truth.meta["emotion"] for it in items}) >= 5


def test_truth_file_round_trip_and_tables(tiny, tmp_path):
    gt = tiny[1][1].ground_truth
    back = SynthTruth.load(gt.save(tmp_path / "t.npz"))
    np.testing.assert_array_equal(back.landmarks, gt.landmarks)
    assert back.meta == gt.meta and back.camera == gt.camera
    assert (tmp_path / "t.npz").read_bytes() == back.save(tmp_path / "u.npz").read_bytes()
    df = gt.to_dataframe()
    assert len(df) == gt.n_frames and {"profile", "rx_deg", "tx_mm", *gt.aus} <= set(df.columns)
    s = gt.summary()
    assert s["apex"] == gt.meta["apex"] and s["max_rotation_deg"] < 2.0
    with pytest.raises(DatasetFormatError, match="x.npz"):
        SynthTruth.load(tmp_path / "x.npz")


# ----------------------------------------------------------------------------- in memory
def test_generate_clip_in_memory(subject):
    clip = generate_clip(subject, expression_type="micro", emotion="happiness", seed=2)
    assert clip.in_memory and clip.frames.shape == (clip.n_frames, 96, 96, 3)
    assert clip.emotion == "happiness" and clip.au_string in EMOTION_RECIPES["happiness"]
    assert clip.ground_truth.n_frames == clip.n_frames and clip.ground_truth.expression_type == "micro"
    again = generate_clip(subject, expression_type="micro", emotion="happiness", seed=2)
    np.testing.assert_array_equal(clip.frames, again.frames)
    assert (clip.frames[0] != clip.frames[1]).any()                       # sensor noise per frame


def test_faces_are_found_by_dlib(mh_head):
    sub = generate_subject(seed=11, image_size=256, texture_size=512)
    clip = generate_clip(sub, expression_type="micro", au_string="4+L10", seed=1, model=mh_head,
                         duration_s=0.2, baseline_s=0.01)
    rep = detection_report([clip], frames="key")
    assert rep.detected.all() and rep.nme.max() < 0.08


def test_samm_and_ckplus_layouts(tmp_path):
    samm = make_dataset(tmp_path / "samm", preset="tiny", layout="samm", seed=0, n_subjects=2,
                        macro=0)
    assert [c.emotion for c in samm] == ["Happiness", "Disgust"] and samm[0].subject == "001"
    assert samm[0].frame(0).shape == (128, 128, 3) and samm[0].ground_truth.expression_type == "micro"
    assert samm[0].meta["synthme"]["emotion"] == "happiness"
    ck = make_dataset(tmp_path / "ck", preset="tiny", layout="ckplus", expression_type="macro", seed=0,
                      n_subjects=1, macro=2)
    for c in ck:
        gt = c.ground_truth
        assert c.fps == 30.0 and c.apex == c.offset == c.n_frames - 1 == int(np.argmax(gt.profile))
        assert gt.n_frames == c.n_frames and gt.profile[0] == 0
        folder = Path(c.meta["landmarks_dir"])
        first = np.loadtxt(sorted(folder.iterdir())[0])
        np.testing.assert_allclose(first, gt.landmarks[0], atol=1e-4)
    reloaded = load_synthme(tmp_path / "ck", dataset="synthme")
    assert {c.dataset for c in reloaded} == {"synthme"}


# ----------------------------------------------------------------------------- bad input
def test_bad_arguments_raise_typed_errors(tmp_path, subject):
    with pytest.raises(OptionError, match="'preset'"):
        make_dataset(tmp_path / "a", preset="huge")
    with pytest.raises(OptionError, match="'expression_type'"):
        make_dataset(tmp_path / "a", expression_type="mega")
    with pytest.raises(OptionError, match="'layout'"):
        make_dataset(tmp_path / "a", layout="mmew")
    with pytest.raises(InputValueError, match="n_subject"):
        make_dataset(tmp_path / "a", preset="tiny", n_subject=3)
    with pytest.raises(InputValueError, match="seed"):
        make_dataset(tmp_path / "a", preset="tiny", seed=-1)
    with pytest.raises(InputValueError, match="no clips"):
        make_dataset(tmp_path / "a", preset="tiny", expression_type="macro", macro=0)
    with pytest.raises(OptionError, match="'expression_type'"):
        plan_clip(subject, expression_type="nano")
    with pytest.warns(DeprecationWarning, match="'kind' is deprecated; use 'expression_type'"):
        old = plan_clip(subject, kind="macro", seed=1)
    assert old.expression_type == "macro"
    with pytest.warns(DeprecationWarning, match="SynthTruth.kind is deprecated"):
        assert old.kind == "macro"
    with pytest.raises(OptionError, match="'emotion'"):
        plan_clip(subject, emotion="joy")
    with pytest.raises(InputValueError, match="au_string"):
        plan_clip(subject, au_string="25+26")
    with pytest.raises(InputValueError, match="duration_s"):
        plan_clip(subject, duration_s=(0.5, 0.2))
    with pytest.raises(InputValueError, match="mh-head"):
        generate_subject(model=object())
    assert not (tmp_path / "a").exists()
    assert set(PRESETS) >= {"tiny", "small", "full"}


def test_refuses_existing_folders(tmp_path, tiny):
    foreign = tmp_path / "CASME2"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("real data")
    with pytest.raises(InputValueError, match="CASME2"):
        make_dataset(foreign, preset="tiny", overwrite=True)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    root, _ = tiny
    with pytest.raises(InputValueError, match="overwrite=True"):
        make_dataset(root, preset="tiny")
    with pytest.raises(InputValueError, match="inside the dataset folder"):
        make_dataset(root / "gt" / "more", preset="tiny")
    assert not (root / "gt" / "more").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputValueError, match="not a folder"):
        make_dataset(tmp_path / "file", preset="tiny")
    with pytest.raises(DatasetFormatError, match="synthme.json"):
        load_synthme(foreign)


def test_overwrite_replaces_an_earlier_synthme(tmp_path):
    out = tmp_path / "s"
    make_dataset(out, preset="tiny", n_subjects=1, macro=0, seed=0)
    cs = make_dataset(out, preset="tiny", n_subjects=1, macro=0, seed=3, overwrite=True,
                      progress=True)
    assert len(cs) == 1 and json.loads((out / "synthme.json").read_text())["seed"] == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
