"""mxkit.viz.save_html: self-contained (offline) HTML pages of plotly figures, written atomically."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from mxkit.errors import InputValueError
from mxkit.meshio import FileWriteError
from mxkit.viz import save_html

from .test_meshio import grid, no_temp_files


class TestSaveHtml:
    def test_self_contained_with_mesh(self, tmp_path):
        pytest.importorskip("plotly")
        from mxkit import viz

        v, f = grid(4)
        fig = viz.plot_mesh(v, f, title="patch")
        path = save_html(fig, tmp_path / "mesh.html")
        html = path.read_text(encoding="utf-8")
        assert no_temp_files(tmp_path)
        assert path.stat().st_size > 1_000_000                      # plotly.js is inside
        assert "plotly.js v" in html[:5_000_000]
        assert not re.search(r"<script[^>]+src=", html)            # no CDN / external script
        assert '"type":"mesh3d"' in html
        xs = np.ascontiguousarray(fig.data[0].x, dtype=np.float32)
        assert base64.b64encode(xs.tobytes()).decode() in html     # the vertex data in mm

    def test_linked_cameras_script_and_animation(self, tmp_path):
        pytest.importorskip("plotly")
        from mxkit import viz

        v, f = grid(3)
        fig = viz.plot_meshes_side_by_side([v, v], f)
        html = save_html(fig, tmp_path / "pair.html").read_text(encoding="utf-8")
        assert "plotly_relayout" in html and "scene2" in html
        anim = viz.mesh_animation(np.stack([v, v + 0.001]), f)
        html = save_html(anim, tmp_path / "anim.html").read_text(encoding="utf-8")
        assert "addFrames" in html

    def test_errors(self, tmp_path):
        pytest.importorskip("plotly")
        with pytest.raises(InputValueError, match="plotly figure"):
            save_html({"data": []}, tmp_path / "x.html")
        from mxkit import viz

        v, f = grid(3)
        with pytest.raises(FileWriteError):
            save_html(viz.plot_mesh(v, f), tmp_path / "nope" / "x.html")
