"""mxkit.report: one self-contained HTML page, checked in a real (headless) browser."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from mxkit._io import read_image_file
from mxkit.errors import InputValueError
from mxkit.report import Report

from ._browser import render

matplotlib.use("Agg")


def _report() -> Report:
    import matplotlib.pyplot as plt

    r = Report("Known report", subtitle="two tables, one PNG, two interactive figures")
    r.heading("Tables").table(pd.DataFrame({"metric": ["L1", "L2"], "mm": [0.12345, np.nan]}),
                              caption="a caption <escaped>")
    r.key_values({"clips": 3, "subjects": 2})
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    r.heading("Figures").figure(fig, caption="a line")
    plt.close(fig)
    r.image(np.full((8, 8, 3), 0.5), caption="grey")
    r.plotly(go.Figure(go.Bar(x=["a", "b"], y=[3, 4])))
    r.plotly(go.Figure(go.Mesh3d(x=[0, 1, 0], y=[0, 0, 1], z=[0, 0, 0], i=[0], j=[1], k=[2])))
    return r


def test_page_content_is_complete_and_escaped(tmp_path):
    r = _report()
    page = r.to_html()
    assert r.n_interactive == 2
    assert page.count('class="mxkit-plotly"') == 2
    assert page.count('<figure><img alt=') == 2
    assert "0.123" in page and "0.12345" not in page           # float format applied
    assert "a caption &lt;escaped&gt;" in page
    assert page.count("<script>/**") <= 1                       # plotly.js embedded once
    assert '<a href="#s1">Tables</a>' in page and '<a href="#s2">Figures</a>' in page
    path = r.save(tmp_path / "r.html")
    assert path.read_text().startswith("<!DOCTYPE html>")
    assert not list(tmp_path.glob("*.tmp*"))


def test_page_without_plotly_has_no_plotly_js():
    r = Report("text only").text("one\n\ntwo")
    page = r.to_html()
    assert "<p>one</p>" in page and "<p>two</p>" in page
    assert "Plotly" not in page and len(page) < 10_000


def test_bad_input():
    r = Report("x")
    with pytest.raises(InputValueError, match="DataFrame"):
        r.table([1, 2])
    with pytest.raises(InputValueError, match="matplotlib"):
        r.figure(object())
    with pytest.raises(InputValueError, match="plotly"):
        r.plotly(object())
    with pytest.raises(InputValueError, match=r"\(H, W, 3\)"):
        r.image(np.zeros((4, 4)))
    with pytest.raises(InputValueError, match="level"):
        r.heading("x", level=5)


def test_renders_in_headless_chromium(tmp_path):
    path = _report().save(tmp_path / "r.html")
    dom, shot = render(path, tmp_path)
    assert dom.count("js-plotly-plot") >= 2, "plotly did not draw the figures"
    assert "gl-container" in dom, "the 3D figure (WebGL) was not drawn"
    img = read_image_file(shot)
    assert img is not None and img.std() > 10, "the screenshot is blank"
