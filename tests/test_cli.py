"""The ``mxkit`` command line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mxkit.cli import SHOWCASE_AUS, build_parser, main
from mxkit.meshio import load_obj, load_ply
from mxkit.morph import load_face_model


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("demo", "model"):
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
