"""Evaluation figures (mxkit.viz.figures): per-region error mesh, confusion heat map, metric bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mxkit.errors import InputValueError

pytest.importorskip("plotly.graph_objects")
pytest.importorskip("seaborn")

from mxkit import viz  # noqa: E402
from mxkit.eval import confusion_matrix  # noqa: E402


def test_region_error_mesh(toy_model):
    table = pd.DataFrame({"region": ["all", "left", "right", "AU12"], "metric": "micro_motion_l2",
                          "value": [1.0, 2.0, 0.5, 9.0], "unit": "mm", "mesh": "fine"})
    s = viz.region_scalars(table, toy_model, metric="micro_motion_l2")
    left = toy_model.region_mask("left")
    assert (s[left] == 2.0).all() and (s[~left] == 0.5).all()
    fig = viz.plot_region_errors(table, toy_model)
    assert fig.data[0].type == "mesh3d" and fig.data[0].colorbar.title.text == "micro_motion_l2 (mm)"
    np.testing.assert_allclose(np.asarray(fig.data[0].intensity), s)
    fig2 = viz.plot_region_errors(np.linspace(0, 1, toy_model.n_vertices), toy_model, metric="vertex_l2")
    assert fig2.data[0].type == "mesh3d"
    with pytest.raises(InputValueError):
        viz.region_scalars({"nose": 1.0}, toy_model)


def test_confusion_and_metric_bars():
    from matplotlib.figure import Figure

    cm = confusion_matrix(["a", "a", "b", "c"], ["a", "b", "b", "c"], classes=["a", "b", "c"])
    fig = viz.plot_confusion(cm, title="pooled")
    assert isinstance(fig, Figure)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "1\n50%" in texts and len(texts) == 9
    fig = viz.plot_confusion(cm, normalize=None)
    assert [t.get_text() for t in fig.axes[0].texts] == [str(v) for v in cm.to_numpy().ravel()]
    bars = viz.plot_metric_bars({"flow": {"UF1": 0.5, "UAR": 0.6, "WF1": 0.55, "ACC": 0.7},
                                 "3d": {"UF1": 0.6, "UAR": 0.6, "WF1": 0.6, "ACC": 0.6}}, chance=1 / 3)
    assert isinstance(bars, Figure) and len(bars.axes[0].patches) >= 8
    with pytest.raises(InputValueError):
        viz.plot_confusion(pd.DataFrame(np.zeros((2, 3))))


def test_figures_render_as_png_without_pyplot():
    cm = confusion_matrix(["a", "b"], ["a", "b"], classes=["a", "b"])
    png = viz.plot_confusion(cm)._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    import pickle

    again = pickle.loads(pickle.dumps(viz.plot_confusion(cm)))
    assert again._repr_png_()[:4] == b"\x89PNG"
