"""The main job (``mxkit demo``, run by ``make run``) end to end on the tiny preset."""

from __future__ import annotations

import pandas as pd
import pytest

from mxkit._io import read_image_file
from mxkit.cli import main
from mxkit.errors import OptionError

from ._browser import render

VARIANTS = ["static", "smoothed", "full"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    code = main(["demo", "--out", str(out), "--preset", "tiny", "--variants", ",".join(VARIANTS),
                 "--workers", "1", "--quiet"])
    assert code == 0
    return out


def test_writes_tables_and_report(demo):
    for name in ("report.html", "metrics.csv", "motion.csv", "summary.csv", "summary.md"):
        assert (demo / name).stat().st_size > 0, name
    summary = pd.read_csv(demo / "summary.csv")
    assert list(summary["variant"]) == ["no_motion", *VARIANTS]          # the reference is its own row
    assert (summary["clips"] == 2).all()                     # the tiny preset's micro clips
    rel = dict(zip(summary["variant"], summary["active rel. error (median)"], strict=True))
    assert rel["no_motion"] == pytest.approx(1.0) and all(0 <= v < 5 for v in rel.values())
    mm = dict(zip(summary["variant"], summary["micro-motion L1 (mm)"], strict=True))
    # a micro-expression moves the face by a fraction of a millimetre to ~2 mm: errors of the
    # reconstructions are finite, positive and below the motion itself
    assert all(0 < v < 1.0 for v in mm.values()), mm
    # the clip fit's temporal prior removes landmark jitter the per-frame fit keeps
    assert mm["smoothed"] < mm["static"]
    # the shipped networks (flow-guided refinement) improve on the clip fit
    assert mm["full"] < mm["smoothed"]
    metrics = pd.read_csv(demo / "metrics.csv")
    assert {"clip", "subject", "variant", "region", "metric", "value", "unit"} <= set(metrics)
    assert set(metrics["variant"]) == {"no_motion", *VARIANTS}


def test_report_leads_with_the_honest_metrics_and_says_where_it_loses(demo):
    import html as _html

    text = _html.unescape((demo / "report.html").read_text())
    summary = text.index('id="s1"')
    # the summary leads with the active-region error and the no-motion row, before any whole-face L1
    assert text.index("active rel. error", summary) < text.index("micro-motion L1", summary)
    assert text.index("<td>no_motion</td>", summary) < text.index("Other metrics", summary)
    assert "1 = predicting no motion" in text
    # the report's per-variant count of clips no better than no motion is the metrics' own
    metrics = pd.read_csv(demo / "metrics.csv")
    rel = metrics.query("metric == 'active_rel_error' and region == 'all' and mesh == 'fine'")
    for v in VARIANTS:
        r = rel[rel["variant"] == v]["value"]
        wins = int((r < 1).sum())
        assert f"{v}: median active relative error" in text
        assert f"better than no motion on {wins} of {len(r)} clips" in text
        if wins < len(r):
            assert f"no better on {len(r) - wins}" in text
    md = (demo / "summary.md").read_text()
    assert md.index("no_motion") < md.index("Other metrics")


def test_report_renders_in_headless_chromium(demo, tmp_path):
    dom, shot = render(demo / "report.html", tmp_path, size=(1200, 3000))
    assert dom.count("js-plotly-plot") >= 2, "plotly did not draw the report's figures"
    assert "gl-container" in dom, "the 3D meshes (WebGL) were not drawn"
    img = read_image_file(shot)
    assert img is not None and img.std() > 10


def test_bad_variant_is_a_clear_error(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--variants", "nope", "--quiet"]) == 2
    assert "nope" in capsys.readouterr().err
    with pytest.raises(OptionError):
        from mxkit.workflows import run_demo

        run_demo(tmp_path, preset="huge")
