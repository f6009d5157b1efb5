"""The command line's promises about outputs, caches and arguments (issue 13, items 3, 7, 9-12).

Every output path is checked before any work; an output folder must be new or empty (an output
file must not exist) unless ``--overwrite``; nothing is written inside the dataset folder; a
failed command leaves no empty output folder; list options never swallow positionals; numeric
options are bounded; messages name the command line's own options and the files involved.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import torch

from mxkit._io import check_output, removing_new_folders
from mxkit.cli import build_parser, main
from mxkit.errors import CheckpointError, FileWriteError


@pytest.fixture(scope="module")
def data():
    from ._tiny_synthme import tiny_synthme

    return tiny_synthme()


@pytest.fixture(scope="module")
def cache(data, tmp_path_factory):
    """A prepared-clip cache of the tiny set (its own, so this module runs alone too)."""
    root, _, _ = data
    cache = tmp_path_factory.mktemp("cli-outputs") / "cache"
    assert main(["prepare", str(root), "--cache", str(cache), "--workers", "1", "--quiet"]) == 0
    return cache


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err            # one line, no traceback
    return err


# ------------------------------------------------------------------------- check_output
def test_check_output_known_cases(tmp_path, monkeypatch):
    f = tmp_path / "file.txt"
    f.write_text("x")
    d = tmp_path / "full"
    d.mkdir()
    (d / "viewer.html").write_text("mine")
    assert check_output(tmp_path / "a" / "b.pt") == tmp_path / "a" / "b.pt"      # new, parents missing
    assert check_output(tmp_path / "new", kind="dir") == tmp_path / "new"
    assert check_output(f, overwrite=True) == f
    assert check_output(d, kind="dir", overwrite=True) == d
    cases = [((f, "file"), "exists; pass overwrite=True"),
             ((d, "file"), "is a folder; a file name is wanted"),
             ((f, "dir"), "exists and is not a folder"),
             ((d, "dir"), "is a folder that is not empty"),
             ((f / "sub" / "w.pt", "file"), "which is a file, not a folder"),
             ((f / "out", "dir"), "which is a file, not a folder")]
    for (path, kind), words in cases:
        with pytest.raises(FileWriteError, match=words) as exc:
            check_output(path, kind=kind)
        assert exc.value.path == path
    with pytest.raises(FileWriteError, match="inside"):
        check_output(d / "cache", kind="dir", inside=[d])
    with pytest.raises(FileWriteError, match="empty name"):
        check_output("  ")
    # a read-only folder (simulated: as root the permission bits are not enforced)
    monkeypatch.setattr(os, "access", lambda p, mode: os.fspath(p) != os.fspath(tmp_path))
    with pytest.raises(FileWriteError, match="read-only"):
        check_output(tmp_path / "new" / "w.pt")
    assert not (tmp_path / "new").exists()                                     # nothing created


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permission bits")
def test_check_output_real_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(FileWriteError, match="read-only"):
            check_output(ro / "w.pt")
    finally:
        ro.chmod(0o755)


def test_removing_new_folders_only_removes_what_it_created_and_is_empty(tmp_path):
    keep = tmp_path / "kept"
    keep.mkdir()
    with pytest.raises(RuntimeError), removing_new_folders(tmp_path / "a" / "b", keep, tmp_path / "c"):
        (tmp_path / "a" / "b").mkdir(parents=True)
        (tmp_path / "c").mkdir()
        (tmp_path / "c" / "result.txt").write_text("partial but real")
        raise RuntimeError("the command failed")
    assert not (tmp_path / "a").exists() and keep.is_dir() and (tmp_path / "c" / "result.txt").is_file()
    with removing_new_folders(tmp_path / "d"):            # success: nothing removed
        (tmp_path / "d").mkdir()
    assert (tmp_path / "d").is_dir()


# ------------------------------------------------------------- every subcommand, before work
def _commands(root, out):
    return {
        "model": ["model", "--out", out, "--size", "32"],
        "demo": ["demo", "--out", out, "--preset", "tiny"],
        "report": ["report", "--out", out, "--preset", "tiny"],
        "synth": ["synth", out, "--preset", "tiny"],
        "reconstruct": ["reconstruct", root, "--clip", "sub01/EP01_01", "--out", out],
        "train": ["train", os.path.join(out, "w.pt"), "--quick"],
        "evaluate": ["evaluate", root, "--out", out],
        "recognise": ["recognise", root, "--out", out],
    }


@pytest.mark.parametrize("name", ["model", "demo", "report", "synth", "reconstruct", "train", "evaluate",
                                  "recognise"])
def test_output_under_a_file_is_refused_before_any_work(name, data, tmp_path, capsys):
    root, _, _ = data
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    cache = tmp_path / "cache"
    args = _commands(str(root), str(blocker / "out"))[name]
    extra = ["--cache", str(cache)] if name in ("reconstruct", "evaluate", "recognise") else []
    extra += ["--work", str(tmp_path / "work")] if name == "train" else []
    assert main([*args, *extra, "--quiet"]) == 2
    err = _err(capsys)
    assert str(blocker) in err and "is a file" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]          # no cache, no work folder


@pytest.mark.parametrize("name", ["model", "demo", "synth", "reconstruct", "evaluate", "recognise"])
def test_a_non_empty_output_folder_needs_overwrite(name, data, tmp_path, capsys):
    root, _, _ = data
    out = tmp_path / "out"
    out.mkdir()
    (out / "viewer.html").write_text("the user's own file")
    cache = tmp_path / "cache"
    args = _commands(str(root), str(out))[name]
    extra = ["--cache", str(cache)] if name in ("reconstruct", "evaluate", "recognise") else []
    assert main([*args, *extra, "--quiet"]) == 2
    err = _err(capsys)
    assert str(out) in err and "--overwrite" in err
    assert (out / "viewer.html").read_text() == "the user's own file" and not cache.exists()


def test_reconstruct_refuses_to_overwrite_then_overwrites_with_the_flag(data, cache, tmp_path, capsys):
    root, _, _ = data
    out = tmp_path / "rec"
    out.mkdir()
    (out / "viewer.html").write_text("the user's own viewer")
    args = ["reconstruct", str(root), "--clip", "sub01/EP01_01", "--variant", "static", "--cache", str(cache),
            "--out", str(out), "--quiet"]
    assert main(args) == 2
    assert (out / "viewer.html").read_text() == "the user's own viewer"
    assert "--overwrite" in _err(capsys)
    assert main([*args, "--overwrite"]) == 0
    assert "mesh3d" in (out / "viewer.html").read_text() and (out / "reconstruction.npz").is_file()


@pytest.mark.parametrize("name", ["evaluate", "recognise"])
def test_out_that_is_an_existing_file_fails_before_the_work(name, data, cache, tmp_path, capsys):
    root, _, _ = data
    out = tmp_path / "results.csv"
    out.write_text("keep me")
    new_cache = tmp_path / "fresh-cache"
    assert main([name, str(root), "--out", str(out), "--cache", str(new_cache), "--quiet"]) == 2
    assert "exists and is not a folder" in _err(capsys)
    assert out.read_text() == "keep me" and not new_cache.exists()             # nothing was prepared


@pytest.mark.parametrize("case", ["folder", "read-only"])
def test_train_checks_its_output_before_training(case, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    if case == "folder":
        out = tmp_path / "weights.pt"
        out.mkdir()
        words = "is a folder"
    else:
        out = tmp_path / "ro" / "weights.pt"
        (tmp_path / "ro").mkdir()
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: False if os.fspath(p) == os.fspath(tmp_path / "ro")
                            else real(p, mode))
        words = "read-only"
    assert main(["train", str(out), "--quick", "--variants", "encoder", "--work", str(work), "--workers", "1",
                 "--quiet"]) == 2
    assert words in _err(capsys)
    assert not work.exists()                                                    # no data was generated


def test_failed_command_leaves_no_empty_output_folder(tmp_path, capsys):
    out = tmp_path / "new" / "demo"
    assert main(["demo", "--out", str(out), "--preset", "tiny", "--weights", str(tmp_path / "missing.pt"),
                 "--quiet"]) == 2
    assert "missing.pt" in _err(capsys)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------- caches
def test_cache_and_no_cache_together_are_refused(data, capsys):
    root, _, _ = data
    with pytest.raises(SystemExit) as exc:
        main(["prepare", str(root), "--cache", "somewhere", "--no-cache"])
    assert exc.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["root", "frames"])
def test_cache_inside_the_dataset_is_refused(where, data, capsys):
    root, _, _ = data
    before = sorted(str(p) for p in root.rglob("*"))
    inside = root / "cache" if where == "root" else next(root.rglob("EP01_01")) / "cache"
    assert main(["prepare", str(root), "--cache", str(inside), "--workers", "1", "--quiet"]) == 2
    err = _err(capsys)
    assert "inside" in err and str(inside) in err
    assert sorted(str(p) for p in root.rglob("*")) == before                   # nothing written in the dataset


def test_output_inside_the_dataset_is_refused(data, cache, capsys):
    root, _, _ = data
    out = root / "results"
    assert main(["evaluate", str(root), "--out", str(out), "--cache", str(cache), "--quiet"]) == 2
    assert "inside" in _err(capsys) and not out.exists()


# ---------------------------------------------------------------------------- arguments
def test_list_options_do_not_swallow_positionals(data, cache, capsys):
    root, _, _ = data
    # --clip before ROOT: ROOT stays the dataset folder (it was eaten as a second clip name)
    assert main(["prepare", "--clip", "sub02/EP02_01", str(root), "--cache", str(cache), "--workers", "1",
                 "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("prepared 1 of 1 clips") and "sub02" in lines[2]
    args = build_parser().parse_args(["evaluate", "--variants", "static", str(root)])
    assert args.variants == ["static"] and args.root == str(root)
    args = build_parser().parse_args(["evaluate", "--variants", "static,smoothed", "--variants", "full"])
    assert args.variants == ["static", "smoothed", "full"] and args.root is None
    args = build_parser().parse_args(["prepare", "--clip", "a/b", "--clip", "c/d", str(root)])
    assert args.clip == ["a/b", "c/d"] and args.root == str(root)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["evaluate", "--variants", "static,"])


@pytest.mark.parametrize("argv, words", [
    (["model", "--size", "100000"], "between 16 and 4096"),
    (["prepare", "ROOT", "--workers", "0"], "between 1 and 512"),
    (["prepare", "ROOT", "--size", "-3"], "between 16 and 2048"),
    (["evaluate", "--max-clips", "0"], "between 1 and 10000"),
    (["synth", "OUT", "--seed", "-1"], "between 0 and"),
    (["train", "w.pt", "--subjects", "lots"], "expected a whole number"),
])
def test_numeric_options_are_bounded(argv, words, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2 and words in capsys.readouterr().err


def test_recognise_names_its_own_option_for_too_few_subjects(data, cache, tmp_path, capsys):
    root, _, _ = data
    assert main(["recognise", str(root), "--max-clips", "2", "--cache", str(cache), "--out", str(tmp_path / "r"),
                 "--quiet"]) == 2
    err = _err(capsys)
    assert "--no-search" in err and "grid=" not in err and " under --protocol casme2-5class" in err
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------------ weights files
def test_nan_weights_are_reported_with_the_file_and_tensor(data, cache, tmp_path, capsys):
    from mxkit.morph import load_face_model
    from mxkit.workflows import default_weights_path, load_bundle, load_weights

    bundle = load_bundle(default_weights_path())
    name = next(iter(bundle["variants"]["full"]["networks"]))
    bundle["variants"]["full"]["networks"][name] = torch.full_like(bundle["variants"]["full"]["networks"][name],
                                                                   float("nan"))
    path = tmp_path / "nan-weights.pt"
    torch.save(bundle, path)
    with pytest.raises(CheckpointError, match="NaN") as exc:
        load_weights(path, variant="full", model=load_face_model("mh-head"))
    assert str(path) in str(exc.value) and name in str(exc.value)
    root, _, _ = data
    assert main(["reconstruct", str(root), "--clip", "sub01/EP01_01", "--weights", str(path), "--cache",
                 str(cache), "--out", str(tmp_path / "rec"), "--quiet"]) == 2
    err = _err(capsys)
    assert str(path) in err and "NaN" in err and "vertices" not in err
    assert not (tmp_path / "rec").exists()


# --------------------------------------------------------------------- a clip's identity
def test_variant_summary_counts_clips_by_dataset_subject_and_clip():
    from mxkit.workflows.ablation import SUMMARY_METRICS, variant_summary

    metric, region, mesh, label, _ = SUMMARY_METRICS[0]
    rows = [{"dataset": "casme2", "subject": s, "clip": "EP02_01f", "variant": "static", "metric": metric,
             "region": region, "mesh": mesh, "value": v} for s, v in (("sub01", 1.0), ("sub02", 3.0))]
    table = variant_summary(pd.DataFrame(rows), ["static"])
    assert table["clips"].tolist() == [2]                     # the same clip name in two subjects
    assert np.isclose(table[label].iloc[0], 2.0)          # the median of both clips, read by name
