"""load_dataset: a dataset folder loaded by the name of its format (the CLI's --dataset)."""

from __future__ import annotations

import pytest

from mxkit import data
from mxkit.data import DATASET_LOADERS, load_casme2, load_dataset, load_synthme
from mxkit.errors import InputValueError, OptionError

from ._tiny_synthme import N_SUBJECTS, tiny_synthme


def test_every_name_is_a_loader_of_mxkit_data():
    assert {"synthme", "casme2", "samm", "casme", "casme_sq", "smic", "mmew", "ckplus", "casme3"} == set(DATASET_LOADERS)
    for name in DATASET_LOADERS.values():
        assert callable(getattr(data, name)) and name in data.__all__


def test_cli_uses_the_same_names():
    from mxkit.cli import DATASETS

    assert DATASETS == DATASET_LOADERS


def test_auto_and_synthme_give_the_truth_casme2_the_layout_only():
    root = tiny_synthme()[0]
    auto, synth, casme2 = load_dataset(root), load_dataset(root, "synthme"), load_dataset(root, "casme2")
    assert len(auto) == len(synth) == len(casme2) == N_SUBJECTS
    assert [c.key for c in auto] == [c.key for c in load_synthme(root)]
    assert auto[0].ground_truth is not None and casme2[0].ground_truth is None
    ref = load_casme2(root)
    assert [(c.subject, c.clip_id, c.n_frames, c.onset, c.apex) for c in casme2] == \
        [(c.subject, c.clip_id, c.n_frames, c.onset, c.apex) for c in ref]


def test_options_reach_the_loader():
    root = tiny_synthme()[0]
    labelled, whole = load_dataset(root, "casme2"), load_dataset(root, "casme2", window="all")
    assert whole[0].n_frames >= labelled[0].n_frames


def test_errors(tmp_path):
    with pytest.raises(InputValueError, match="does not exist"):
        load_dataset(tmp_path / "nope", "casme2")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputValueError, match="is not a folder"):
        load_dataset(tmp_path / "file")
    with pytest.raises(InputValueError, match="synthme.json"):
        load_dataset(tmp_path)
    with pytest.raises(OptionError, match="dataset"):
        load_dataset(tmp_path, "casme4")
