"""The ``mxkit`` command line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import mxkit.train as mxkit_train
from mxkit.cli import build_parser, main
from mxkit.meshio import load_obj, load_ply
from mxkit.morph import load_face_model
from mxkit.workflows import SHOWCASE_AUS


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("demo", "model", "synth", "prepare", "reconstruct", "train", "evaluate", "recognise"):
        assert name in out


def test_model_export_writes_meshes_viewer_and_renders(tmp_path, capsys):
    assert main(["model", "--out", str(tmp_path), "--size", "64", "--quiet"]) == 0
    model = load_face_model("mh-head")
    neutral = load_obj(tmp_path / "neutral.obj")
    assert neutral.vertices.shape == (model.n_vertices, 3)
    np.testing.assert_allclose(neutral.vertices, model.v_template.numpy(), atol=1e-7)
    smile = load_ply(tmp_path / "smile.ply")
    disp_mm = np.linalg.norm(smile.vertices - neutral.vertices, axis=1) * 1000
    assert disp_mm.max() > 5          # a smile moves the mouth corners by millimetres
    assert disp_mm[model.region_mask("forehead")].max() < 0.5
    assert (tmp_path / "renders.png").stat().st_size > 1000
    html = (tmp_path / "viewer.html").read_text()
    assert "plotly" in html and "mesh3d" in html
    out = capsys.readouterr().out
    assert f"{len(SHOWCASE_AUS) * 2 + 2} files" in out


def test_unknown_model_is_a_clear_error(tmp_path, capsys):
    assert main(["model", "--out", str(tmp_path), "--model", "nope", "--quiet"]) == 2
    assert "nope" in capsys.readouterr().err


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "mxkit", "--version"], capture_output=True,
                          text=True, check=True)
    assert proc.stdout.startswith("mxkit ")


# ----------------------------------------------------------------------------- stage commands
SUBCOMMANDS = ("demo", "report", "model", "synth", "prepare", "reconstruct", "train", "evaluate",
               "recognise")


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: mxkit {name}") and "--quiet" in out


def test_help_names_every_variant_and_the_report_alias(capsys):
    from mxkit.nets import VARIANTS

    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert all(v in out for v in VARIANTS)
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in SUBCOMMANDS) and "alias of `demo`" in out


@pytest.fixture(scope="module")
def data():
    from ._tiny_synthme import tiny_synthme

    return tiny_synthme()


@pytest.fixture(scope="module")
def prepared_out(data):
    """``mxkit prepare`` of the whole set (fills the cache the other commands read)."""
    import contextlib
    import io

    root, cache, _ = data
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["prepare", str(root), "--cache", str(cache), "--workers", "1", "--quiet"])
    assert code == 0
    return buf.getvalue()


def test_synth_writes_a_synthme_folder(data):
    from mxkit.data import load_synthme

    root, _, out = data
    clips = list(load_synthme(root))
    assert len(clips) == 3 and all(c.ground_truth.expression_type == "micro" for c in clips)
    assert "3 clips of 3 subjects" in out and "sub03" in out and "micro" in out


def test_prepare_prints_a_table_and_fills_the_cache(data, prepared_out, capsys):
    root, cache, _ = data
    lines = prepared_out.strip().splitlines()
    assert lines[0].startswith("prepared 3 of 3 clips") and "size=192" in lines[0]
    assert len(lines) == 5 and "flow apex (px)" in lines[1]
    # a second run of one clip reads it back
    assert main(["prepare", str(root), "--cache", str(cache), "--clip", "sub02/EP02_01", "--workers", "1",
                 "--quiet"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 3 and " cached " in out[2] and "sub02" in out[2]


def test_reconstruct_writes_vertices_meshes_and_viewer(data, prepared_out, tmp_path, capsys):
    root, cache, _ = data
    out = tmp_path / "rec"
    assert main(["reconstruct", str(root), "--clip", "sub01/EP01_01", "--variant", "static", "--cache",
                 str(cache), "--out", str(out), "--quiet"]) == 0
    model = load_face_model("mh-head")
    z = np.load(out / "reconstruction.npz")
    T = z["vertices"].shape[0]
    assert z["vertices"].shape == (T, model.n_vertices, 3) and str(z["variant"]) == "static"
    onset, apex = int(z["onset"]), int(z["apex"])
    a, b = load_obj(out / "onset.obj"), load_obj(out / "apex.obj")
    np.testing.assert_allclose(a.vertices, z["vertices"][onset], atol=1e-6)
    np.testing.assert_allclose(b.vertices, z["vertices"][apex], atol=1e-6)
    assert 0 < np.abs(b.vertices - a.vertices).max() < 0.01          # a micro-expression: < 1 cm
    html = (out / "viewer.html").read_text()
    assert "mesh3d" in html and "ground truth" in html
    for name in ("frames.csv", "arkit.csv", "reconstruction.glb"):       # the exports beside them
        assert (out / name).stat().st_size > 0
    import pandas as pd

    table = pd.read_csv(out / "frames.csv")
    assert len(table) == T and table["subject"].eq("sub01").all()
    np.testing.assert_allclose(table["jawOpen"], z["expression"][:, model.expression_index("jawOpen")[0]],
                               atol=1e-6)
    assert z["identity"].shape == (T, model.n_identity) and z["camera_scale"].shape == (T,)
    printed = capsys.readouterr().out
    assert "micro-motion L1" in printed and "sub01/EP01_01: static" in printed


def test_evaluate_writes_the_ablation_table(data, prepared_out, tmp_path, capsys):
    root, cache, _ = data
    out = tmp_path / "eval"
    assert main(["evaluate", str(root), "--variants", "static", "--max-clips", "2", "--cache", str(cache),
                 "--workers", "1", "--out", str(out), "--quiet"]) == 0
    table = pd.read_csv(out / "ablation.csv")
    mine = table[table["source"] == "mxkit"]
    assert mine[["dataset", "variant"]].values.tolist() == [["synthme", "no_motion"], ["synthme", "static"]]
    static = mine[mine["variant"] == "static"]
    assert 0 < static["shape_l1"].iloc[0] < 5 and 0 < static["micro_motion_l2"].iloc[0] < 2     # mm
    assert mine["L1"].isna().all()                          # the paper's column only
    ref = mine[mine["variant"] == "no_motion"]
    assert ref["rel_error"].iloc[0] == 1.0 and ref["beats_no_motion"].iloc[0] == 0.0
    assert set(table.loc[table["source"] == "as reported", "dataset"]) == {"casme2", "casme", "samm"}
    summary = pd.read_csv(out / "summary.csv")
    assert summary["clips"].tolist() == [2, 2]
    md = (out / "ablation.md").read_text()
    assert md.index("| synthme | static |") < md.index("as reported")
    printed = capsys.readouterr().out
    assert "2 clips of" in printed and "| synthme | static |" in printed


def test_recognise_writes_the_comparison_table(data, prepared_out, tmp_path, capsys):
    root, cache, _ = data
    out = tmp_path / "recog"
    assert main(["recognise", str(root), "--variant", "static", "--cache", str(cache), "--workers", "1",
                 "--out", str(out), "--quiet"]) == 0
    table = pd.read_csv(out / "recognition.csv")
    assert table["features"].tolist() == ["reconstruction:static", "flow_baseline", "oracle"]
    assert (table["n_samples"] == 3).all() and (table["protocol"] == "casme2-5class").all()
    for m in ("UF1", "UAR", "WF1", "ACC", "UF1 (fold mean)"):
        assert table[m].between(0, 1).all()
    cards = json.loads((out / "cards.json").read_text())
    assert cards["flow_baseline"]["evaluation"].startswith("LOSO over (dataset, subject)")
    assert "Protocol cards" in (out / "recognition.md").read_text()
    assert "3 labelled clips" in capsys.readouterr().out


def test_recognise_runs_the_megc2019_composite_from_dataset_folders(tmp_path, capsys):
    from mxkit.data import make_dataset

    parts = (("casme2", 21), ("samm", 22), ("smic", 23))          # SynthME in the three layouts
    for part, seed in parts:
        make_dataset(tmp_path / part, preset="tiny", expression_type="micro", n_subjects=2, micro=3, seed=seed,
                     layout=part, progress=False)
    out = tmp_path / "recog"
    assert main(["recognise", *(a for p, _ in parts for a in ("--composite", f"{p}={tmp_path / p}")),
                 "--features", "flow_baseline,mdmo", "--no-search", "--n-boot",
                 "50", "--cache", str(tmp_path / "cache"), "--workers", "1", "--out", str(out), "--quiet"]) == 0
    table = pd.read_csv(out / "recognition.csv")
    assert table["features"].tolist() == ["flow_baseline", "mdmo"]
    assert (table["protocol"] == "megc2019-3class").all() and (table["n_subjects"] == 6).all()
    intervals = pd.read_csv(out / "intervals.csv")
    assert set(intervals["subset"]) == {"all", "casme2", "samm", "smic"}      # UF1/UAR per part
    reported = pd.read_csv(out / "reported.csv")
    assert len(reported) and (reported["source"] == "as reported").all()     # kept apart, marked
    md = (out / "recognition.md").read_text()
    assert "Per part" in md and md.index("As reported") > md.index("| mdmo |")
    assert "MEGC2019 composite of casme2" in capsys.readouterr().out
    assert main(["recognise", "--composite", "casme3=/nowhere", "--out", str(tmp_path / "x"), "--quiet"]) == 2
    assert "PART one of casme2, samm, smic" in capsys.readouterr().err


def test_train_quick_writes_a_loadable_bundle(tmp_path, capsys):
    from mxkit.workflows import load_weights

    path = tmp_path / "w.pt"
    args = ["train", str(path), "--quick", "--variants", "encoder", "--work", str(tmp_path / "work"),
            "--workers", "1", "--quiet"]
    assert main(args) == 0
    refiner, settings = load_weights(path, variant="encoder", model=load_face_model("mh-head"))
    assert refiner.encoder is not None and refiner.deformer is None
    assert settings["fit"]["n_iters"] == 2 and settings["prepare"] == {"size": 192}
    assert "smoke run" in capsys.readouterr().out
    assert main(args) == 2                                         # exists: no silent overwrite
    assert str(path) in capsys.readouterr().err
    (cache,) = (tmp_path / "work").rglob("samples-*.samples.pt")   # tensors only, never a pickle
    cache.write_bytes(b"damaged")                                   # a damaged cache is rebuilt
    assert main([*args, "--overwrite"]) == 0
    assert len(mxkit_train.load_samples(cache)) == 2


@pytest.mark.parametrize("command", [["prepare"], ["reconstruct", "--clip", "sub01/EP01_01"], ["evaluate"],
                                     ["recognise"]])
def test_bad_path_is_a_one_line_error(command, tmp_path, capsys):
    missing = tmp_path / "no_such_dataset"
    assert main([command[0], str(missing), *command[1:], "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and err.count("\n") == 1 and err.startswith(f"mxkit {command[0]}: error:")


def test_bad_options_are_clear_errors(data, tmp_path, capsys):
    root, cache, _ = data
    assert main(["reconstruct", str(root), "--clip", "sub09/nope", "--cache", str(cache), "--quiet"]) == 2
    assert "sub09/nope" in capsys.readouterr().err
    assert main(["prepare", str(root), "--dataset", "nope", "--quiet"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["evaluate", str(root), "--variants", "nope", "--cache", str(cache), "--out",
                 str(tmp_path), "--quiet"]) == 2
    assert "nope" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--no-such-option"])
    assert exc.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err
