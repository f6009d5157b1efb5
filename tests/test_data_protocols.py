"""Class protocols (DATASETS.md §1.1, §1.4, §5) and the MEGC2019 composite loader."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mxkit.data import (
    CASME2_5CLASS,
    MEGC2019_3CLASS,
    OBJECTIVE_5CLASS,
    OBJECTIVE_7CLASS,
    PROTOCOLS,
    Clip,
    ClipSet,
    DatasetWarning,
    MissingFramesError,
    Protocol,
    get_protocol,
    load_casme2,
    load_megc2019,
    read_megc2019_gt,
)
from mxkit.errors import DatasetFormatError, InputValueError, OptionError
from mxkit.testing import tiny_clipset

from .test_data_support import (
    SAMM_ROWS,
    SMIC_CLIPS,
    make_casme2,
    make_samm,
    make_smic,
    short_rows,
    write_megc_gt,
)

F = np.zeros((3, 2, 2, 3), np.uint8)


def clips(dataset, pairs, **kw):
    return tiny_clipset(pairs, dataset=dataset, fps=100, **kw)


CASME2_EMOTIONS = [("sub01", "happiness"), ("sub01", "disgust"), ("sub02", "repression"), ("sub02", "surprise"),
                   ("sub03", "others"), ("sub03", "fear"), ("sub04", "sadness"), ("sub04", " Disgust ")]


class TestProtocol:
    def test_casme2_5class(self):
        out = CASME2_5CLASS.apply(clips("casme2", CASME2_EMOTIONS))
        assert [c.label for c in out] == ["happiness", "disgust", "repression", "surprise", "others", "disgust"]
        ex = out.excluded
        assert ex.value.tolist() == ["fear", "sadness"]
        assert ex.reason.str.contains("too few samples").all()
        card = out.protocol_card
        assert card["name"] == "casme2-5class" and card["n_samples"] == 6 and card["n_excluded"] == 2
        assert card["class_counts"] == {"happiness": 1, "disgust": 2, "repression": 1, "surprise": 1, "others": 1}
        assert card["exclusions"]["values"]["casme2"].keys() == {"fear", "sadness"}
        json.dumps(card)  # attachable to results as JSON
        assert out.classes == CASME2_5CLASS.classes
        assert out.label_indices().tolist() == [0, 1, 2, 3, 4, 1]

    def test_card_without_clipset(self):
        card = MEGC2019_3CLASS.card()
        assert card["n_samples"] is None and card["classes"] == ["negative", "positive", "surprise"]
        assert card["datasets"] == ["casme2", "samm", "smic"]
        assert {c["clip_id"] for c in card["exclusions"]["clips"]} == {"EP12_01f", "EP09_05f"}
        json.dumps(card)

    def test_unknown_values_are_listed(self):
        cs = clips("casme2", [("sub01", "happiness"), ("sub01", "tense"), ("sub02", "tense"), ("sub02", "joy")])
        with pytest.raises(InputValueError) as exc:
            CASME2_5CLASS.apply(cs)
        msg = str(exc.value)
        assert "'tense' in casme2 (2 clip(s)" in msg and "'joy'" in msg and "known values" in msg

    def test_dataset_not_covered(self):
        with pytest.raises(InputValueError, match=r"covers datasets \['casme2'\].*'samm': 1"):
            CASME2_5CLASS.apply(clips("samm", [("006", "Anger")]))

    def test_everything_mapped_away(self):
        with pytest.raises(InputValueError, match="maps every one of the 2 samples away"):
            CASME2_5CLASS.apply(clips("casme2", [("sub01", "fear"), ("sub02", "sadness")]))

    def test_missing_value_is_excluded_with_reason(self):
        out = CASME2_5CLASS.apply(clips("casme2", [("sub01", None), ("sub01", "others")]))
        assert len(out) == 1 and out.excluded.reason.tolist() == ["no emotion"]

    def test_megc2019_mapping_per_dataset(self):
        cs = ClipSet.concat([
            clips("casme2", [("sub01", "disgust"), ("sub01", "fear"), ("sub02", "happiness")]),
            clips("samm", [("006", "Fear"), ("006", "Other"), ("007", "Contempt"), ("007", "Surprise")]),
            clips("smic", [("s1", "positive")]),
        ])
        out = MEGC2019_3CLASS.apply(cs)
        assert [(c.dataset, c.label) for c in out] == [
            ("casme2", "negative"), ("casme2", "positive"), ("samm", "negative"), ("samm", "negative"),
            ("samm", "surprise"), ("smic", "positive")]
        assert out.excluded.value.tolist() == ["fear", "Other"]  # CASME II fear is dropped, SAMM Fear is not
        assert out.protocol_card["class_counts_by_dataset"]["samm"] == {"negative": 2, "positive": 0, "surprise": 1}

    def test_megc2019_excludes_two_casme2_clips(self):
        cs = ClipSet([Clip(dataset="casme2", subject=s, clip_id=c, frames=F, fps=200, emotion="disgust")
                      for s, c in [("sub04", "EP12_01f"), ("sub05", "EP09_05f"), ("sub05", "EP12_03f")]])
        out = MEGC2019_3CLASS.apply(cs)
        assert [c.clip_id for c in out] == ["EP12_03f"]
        assert out.excluded.reason.str.contains("absent from combined_3class_gt.csv").all()

    def test_objective_protocols(self):
        cs = ClipSet([Clip(dataset=d, subject="s", clip_id=str(k), frames=F, fps=200, objective_class=k)
                      for d in ("casme2", "samm") for k in range(1, 8)])
        five = OBJECTIVE_5CLASS.apply(cs)
        assert [c.label for c in five][:5] == ["I", "II", "III", "IV", "V"] and len(five) == 10
        assert set(five.excluded.value) == {6, 7}
        assert [c.label for c in OBJECTIVE_7CLASS.apply(cs)][-1] == "VII"

    @pytest.mark.parametrize("kw, match", [
        ({"mapping": {"d": {"a": "zzz"}}}, "not one of the classes"),
        ({"mapping": {"d": {"a": "x"}}, "exclude": {"d": {"A": "why"}}}, "both mapped and excluded"),
        ({"mapping": {"d": {"a": "x"}}, "exclude": {"e": {"b": "why"}}}, "does not cover"),
        ({"mapping": {}}, "non-empty"),
        ({"mapping": {"d": {"a": "x"}}, "exclude_clips": (("d", "s"),)}, "exclude_clips"),
        ({"mapping": {"d": {"a": "x"}}, "classes": ("x", "x")}, "unique"),
    ])
    def test_invalid_protocols(self, kw, match):
        args = {"name": "p", "classes": ("x", "y")} | kw
        with pytest.raises(InputValueError, match=match):
            Protocol(**args)
        with pytest.raises(OptionError):
            Protocol("p", ("x",), {"d": {"a": "x"}}, source="label")

    def test_registry_and_map_classes(self):
        assert {"casme2-5class", "objective-5class", "objective-7class", "megc2019-3class",
                "samm-5class", "smic-3class", "casme3-7class", "casme3-4class", "casme3-3class"} <= set(PROTOCOLS)
        assert get_protocol("casme2-5class") is CASME2_5CLASS and get_protocol(CASME2_5CLASS) is CASME2_5CLASS
        with pytest.raises(OptionError, match="samm-5class"):      # the message lists the registered names
            get_protocol("nope-5class")
        out = clips("casme2", CASME2_EMOTIONS).map_classes("casme2-5class")
        assert len(out) == 6 and hash(CASME2_5CLASS) == hash(get_protocol("casme2-5class"))
        with pytest.raises(InputValueError):
            CASME2_5CLASS.class_index("fear")

    def test_loso_after_protocol_keeps_card(self):
        out = CASME2_5CLASS.apply(clips("casme2", CASME2_EMOTIONS))
        for key, train, test in out.loso_splits():
            assert train.protocol_card == test.protocol_card == out.protocol_card
            assert key not in train.subjects


def test_casme2_5class_on_loaded_fixture(tmp_path):
    cs = load_casme2(make_casme2(tmp_path / "C", short_rows(), kinds=("cropped",), objective=False))
    out = cs.map_classes(CASME2_5CLASS)
    assert len(out) == len(cs) - 2 and set(out.excluded.value) == {"fear", "sadness"}
    assert out.problems.kind.tolist() == ["apex_missing"]  # problems travel with the labelled set


# ============================================================================= MEGC2019 composite


@pytest.fixture(scope="module")
def megc_roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("megc")
    samm_rows = [r[:5] + (min(r[5], r[3] + 6),) + r[6:] for r in SAMM_ROWS
                 if r[1] in ("006_1_2", "007_6_1", "010_2_1", "011_4_2")]
    samm_rows = [r[:4] + (min(r[4], r[5]),) + r[5:] for r in samm_rows]
    return {"casme2": make_casme2(base / "CASME2", short_rows(), kinds=("cropped",), objective=False),
            "samm": make_samm(base / "SAMM", samm_rows),
            "smic": make_smic(base / "SMIC", SMIC_CLIPS)}


GT = [("casme2", "sub01", "EP02_01f", 1), ("casme2", "sub01", "EP19_05f", 0), ("smic", "s01", "s01_ne_01", 0),
      ("samm", 6, "006_1_2", 0), ("casme2", "sub02", "EP01_11f", 0), ("casme2", "sub02", "EP11_01", 2),
      ("casme2", "sub12", "EP06_02_01", 2), ("samm", 7, "007_6_1", 1), ("samm", 11, "011_4_2", 2),
      ("smic", "s01", "s01_po_02", 1), ("smic", "s13", "s13_po_01", 1), ("smic", "s02", "s02_sur_01", 2)]


def test_megc_without_gt_uses_the_mapping(megc_roots):
    cs = load_megc2019(megc_roots)
    df = cs.to_dataframe()
    assert df.groupby("dataset").size().to_dict() == {"casme2": 5, "samm": 3, "smic": 4}
    assert df[df.dataset == "casme2"].clip_id.tolist() == ["EP02_01f", "EP19_05f", "EP01_11f", "EP11_01", "EP06_02_01"]
    assert df[df.dataset == "samm"].label.tolist() == ["negative", "positive", "surprise"]
    ex = cs.excluded
    assert {"EP12_01f", "EP09_05f"} <= set(ex.clip_id) and "010_2_1" in set(ex.clip_id)
    card = cs.protocol_card
    assert card["name"] == "megc2019-3class" and card["parts"] == ["casme2", "samm", "smic"]
    assert card["label_source"].startswith("protocol mapping") and card["n_samples"] == len(cs)


def test_megc_with_gt(megc_roots, tmp_path):
    gt = write_megc_gt(tmp_path / "combined_3class_gt.csv", GT)
    cs = load_megc2019(megc_roots, gt=gt)
    assert [(c.dataset, c.subject, c.clip_id, c.label) for c in cs][:4] == [
        ("casme2", "sub01", "EP02_01f", "positive"), ("casme2", "sub01", "EP19_05f", "negative"),
        ("smic", "s1", "s1_ne_01", "negative"), ("samm", "006", "006_1_2", "negative")]
    assert len(cs) == len(GT)
    assert cs[2].meta["megc_subject"] == "s01" and cs[3].meta["megc_subject"] == "6"
    assert cs.label_indices().tolist() == [g[3] for g in GT]
    card = cs.protocol_card
    assert card["ground_truth_file"].endswith("combined_3class_gt.csv") and card["n_samples"] == len(GT)
    assert cs.excluded.reason.str.startswith("not in combined_3class_gt.csv").all()
    # LOSO: 10 subjects keyed by (dataset, subject); no fold shares a subject
    assert set(cs.subjects) == {"casme2/sub01", "casme2/sub02", "casme2/sub12", "samm/006", "samm/007",
                                "samm/011", "smic/s1", "smic/s13", "smic/s2"}
    for key, train, test in cs.loso_splits():
        assert {c.subject_key for c in test} == {key} and key not in {c.subject_key for c in train}


def test_megc_gt_header_variant_and_subset(megc_roots, tmp_path):
    gt = write_megc_gt(tmp_path / "combined_3_class_gt.csv", [("data", "subject", "clip", "label")] + GT)
    cs = load_megc2019({"samm": megc_roots["samm"]}, gt=gt)
    assert [c.clip_id for c in cs] == ["006_1_2", "007_6_1", "011_4_2"]
    assert cs.protocol_card["parts"] == ["samm"]
    rows = read_megc2019_gt(gt)
    assert rows[0]["subject"] == "sub01" and rows[2]["clip_id"] == "s1_ne_01" and rows[3]["subject"] == "006"


def test_megc_gt_clip_missing_and_label_mismatch(megc_roots, tmp_path):
    gt = write_megc_gt(tmp_path / "gt.csv", GT + [("casme2", "sub26", "EP99_01", 0)])
    with pytest.raises(MissingFramesError, match=r"casme2 sub26/EP99_01 \(file 'gt.csv', row 13\)"):
        load_megc2019(megc_roots, gt=gt)
    with pytest.warns(DatasetWarning, match="1 ground-truth row"):
        cs = load_megc2019(megc_roots, gt=gt, missing="warn")
    assert cs.problems.kind.tolist().count("gt_clip_not_found") == 1
    wrong = [list(g) for g in GT]
    wrong[0][3] = 0  # EP02_01f is happiness -> positive
    gt2 = write_megc_gt(tmp_path / "gt2.csv", wrong)
    with pytest.warns(DatasetWarning, match="disagree"):
        cs = load_megc2019(megc_roots, gt=gt2)
    assert cs[0].label == "negative"  # the ground truth wins
    p = cs.problems
    assert p[p.kind == "label_mismatch"].clip_id.tolist() == ["EP02_01f"]


@pytest.mark.parametrize("row, match", [
    (("casme2", "sub01", "EP02_01f", 5), r"row 1, column D \('label'\)"),
    (("casme3", "sub01", "EP02_01f", 0), r"row 1, column A \('dataset'\): unknown dataset"),
    (("smic", "x1", "s01_ne_01", 0), r"row 1, column B \('subject'\)"),
    (("casme2", "sub01", 1), "expected 4 columns"),
])
def test_megc_gt_errors(megc_roots, tmp_path, row, match):
    gt = write_megc_gt(tmp_path / "gt.csv", [row])
    with pytest.raises(DatasetFormatError, match=match):
        load_megc2019(megc_roots, gt=gt)


def test_megc_bad_roots(megc_roots):
    with pytest.raises(OptionError, match="casme3"):
        load_megc2019({"casme3": megc_roots["casme2"]})
    with pytest.raises(InputValueError):
        load_megc2019({})
