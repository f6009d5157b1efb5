"""Evaluation figures: per-region errors on the mesh (plotly), confusion matrices and metric
bars (seaborn / matplotlib).

The matplotlib figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot,
so no global figure state); they carry a ``_repr_png_``, so Jupyter shows them inline without
pyplot, and ``fig.savefig(path)`` writes them.
All back-ends are imported when a function runs.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._checks import check_option
from ..errors import InputValueError
from ._backend import require

if TYPE_CHECKING:  # pragma: no cover
    import matplotlib.figure
    import plotly.graph_objects as go

__all__ = ["region_scalars", "plot_region_errors", "plot_confusion", "plot_metric_bars"]

_METRICS = ("UF1", "UAR", "WF1", "ACC")


def _region_values(values: Any, metric: str | None, mesh: str) -> dict[str, float]:
    table = getattr(values, "table", values)
    if isinstance(table, pd.DataFrame):
        col = "value" if "value" in table.columns else "mean"
        if metric is None or col not in table.columns or "region" not in table.columns:
            raise InputValueError("a metric table needs metric= and the columns region, metric, value (or mean)")
        sel = table[table["metric"] == metric]
        if "mesh" in sel.columns:
            sel = sel[sel["mesh"] == mesh]
        if sel.empty:
            raise InputValueError(f"the table has no {metric!r} rows for mesh {mesh!r}")
        return {str(r): float(v) for r, v in sel.groupby("region", sort=False)[col].mean().items()}
    if isinstance(table, Mapping):
        return {str(k): float(v) for k, v in table.items()}
    raise InputValueError(f"values must be a metric table, ReconstructionMetrics or a dict; got {type(values).__name__}")


def region_scalars(values: Any, model: Any, *, metric: str | None = None, mesh: str = "fine",
                   fill: float = 0.0) -> np.ndarray:
    """Per-vertex scalars (V,) that paint each facial region with its value.

    Parameters
    ----------
    values : ReconstructionMetrics, tidy metric table, or dict region -> value
        A table from :func:`mxkit.eval.evaluate_reconstruction` (``value`` column) or
        :func:`mxkit.eval.aggregate_metrics` (``mean`` column; averaged over any remaining
        groups).
    model : FaceModel
        ``region_names`` / ``region_mask``.
    metric : str, optional
        Metric to show (needed for tables).
    mesh : {'fine', 'coarse'}
    fill : float, default 0.0
        Value of vertices outside every region with a value (``'all'`` and AU rows are not
        painted).

    Returns
    -------
    numpy.ndarray, shape (V,), float64
    """
    vals = _region_values(values, metric, mesh)
    out = np.full(int(model.n_vertices), float(fill))
    painted = False
    for name in model.region_names:
        if name in vals:
            out[np.asarray(model.region_mask(name), dtype=bool)] = vals[name]
            painted = True
    if not painted:
        raise InputValueError(f"none of the model's regions {list(model.region_names)} has a value")
    return out


def plot_region_errors(values: Any, model: Any, *, metric: str | None = "micro_motion_l2",
                       mesh: str = "fine", vertices: Any = None, fill: float = 0.0,
                       colorscale: Any = "Reds", cmin: float | None = 0.0, cmax: float | None = None,
                       unit: str | None = None, title: str | None = None, camera: Any = "front",
                       height: int | None = 500) -> go.Figure:
    """A face mesh with each facial region coloured by its error (plotly).

    Parameters
    ----------
    values, model, metric, mesh, fill
        See :func:`region_scalars`; ``values`` may also be per-vertex scalars (V,) (e.g. the
        frame mean of :func:`mxkit.eval.vertex_error_map`).
    vertices : array (V, 3), optional
        Mesh to draw, metres (default ``model.v_template``).
    colorscale, cmin, cmax
        Colour scale and limits (``cmin`` 0 by default, errors are >= 0).
    unit : str, optional
        Colour-bar unit (default from the table, else none).
    title, camera, height
        As in :func:`mxkit.viz.plot_mesh`.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    from .mesh import plot_mesh

    if isinstance(values, np.ndarray) and values.ndim == 1:
        scalars = values.astype(np.float64)
        if scalars.shape != (int(model.n_vertices),):
            raise InputValueError(f"per-vertex values must have shape ({model.n_vertices},); got {scalars.shape}")
    else:
        scalars = region_scalars(values, model, metric=metric, mesh=mesh, fill=fill)
        table = getattr(values, "table", values)
        if unit is None and isinstance(table, pd.DataFrame) and "unit" in table.columns:
            units = table.loc[table["metric"] == metric, "unit"].unique()
            unit = str(units[0]) if len(units) else None
    verts = model.v_template if vertices is None else vertices
    label = metric or "value"
    return plot_mesh(verts, model.faces, scalars=scalars, colorscale=colorscale, cmin=cmin, cmax=cmax,
                     colorbar_title=f"{label} ({unit})" if unit else label,
                     title=title if title is not None else f"{label} per region", camera=camera, height=height)


@functools.cache
def _notebook_figure_class() -> type:
    """``NotebookFigure``: a :class:`matplotlib.figure.Figure` with ``_repr_png_``, so that
    Jupyter shows it inline without pyplot (built on first use; picklable by name)."""
    mfig = require("matplotlib.figure", "mxkit.viz figures")

    def _repr_png_(self: Any) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png")
        return buf.getvalue()

    cls = type("NotebookFigure", (mfig.Figure,), {"_repr_png_": _repr_png_, "__module__": __name__,
                                                  "__doc__": _notebook_figure_class.__doc__})
    globals()["NotebookFigure"] = cls
    return cls


def __getattr__(name: str) -> Any:
    if name == "NotebookFigure":
        return _notebook_figure_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _figure(ax: Any, size: tuple[float, float]) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    fig = _notebook_figure_class()(figsize=size, layout="constrained")
    return fig, fig.subplots()


def plot_confusion(confusion: Any, *, normalize: str | None = "true", ax: Any = None,
                   title: str | None = None, cmap: str = "Blues") -> matplotlib.figure.Figure:
    """Heat map of a confusion matrix, with counts (and row fractions) in the cells.

    Parameters
    ----------
    confusion : pandas.DataFrame or RecognitionResult
        Rows true, columns predicted (:attr:`RecognitionResult.confusion`).
    normalize : {'true', None}, default 'true'
        Colour by the fraction of each true class (recall per class) or by raw counts.
    ax : matplotlib Axes, optional
        Draw into it (default: a new :class:`matplotlib.figure.Figure`).
    title, cmap

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_option(normalize, ("true", None), "normalize")
    sns = require("seaborn", "plot_confusion")
    cm = getattr(confusion, "confusion", confusion)
    if not isinstance(cm, pd.DataFrame) or cm.shape[0] != cm.shape[1]:
        raise InputValueError("confusion must be a square DataFrame (rows true, columns predicted)")
    counts = cm.to_numpy().astype(np.int64)
    rows = counts.sum(1, keepdims=True)
    frac = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    shown = frac if normalize == "true" else counts
    annot = np.array([[f"{c}\n{f:.0%}" if normalize == "true" else f"{c}" for c, f in zip(rc, rf, strict=True)]
                      for rc, rf in zip(counts, frac, strict=True)])
    n = len(cm)
    fig, ax = _figure(ax, (1.2 * n + 2.0, 1.1 * n + 1.5))
    sns.heatmap(pd.DataFrame(shown, index=cm.index, columns=cm.columns), annot=annot, fmt="", cmap=cmap,
                vmin=0, vmax=1 if normalize == "true" else None, square=True, cbar=True, ax=ax)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    return fig


def _metric_frame(results: Any, metrics: Sequence[str]) -> pd.DataFrame:
    if isinstance(results, pd.DataFrame):
        need = {"model", "metric", "value"}
        if not need <= set(results.columns):
            raise InputValueError(f"a results table needs the columns {sorted(need)}")
        return results[results["metric"].isin(metrics)]
    if hasattr(results, "metrics") and hasattr(results, "card"):
        results = {str(results.card.get("feature_set") or results.card.get("classifier") or "result"): results}
    if not isinstance(results, Mapping) or not results:
        raise InputValueError("results must be a RecognitionResult, a dict name -> result, or a table")
    rows = []
    for name, r in results.items():
        m = getattr(r, "metrics", r)
        rows += [{"model": str(name), "metric": k, "value": float(m[k])} for k in metrics if k in m]
    return pd.DataFrame(rows)


def plot_metric_bars(results: Any, *, metrics: Sequence[str] = _METRICS, ax: Any = None,
                     title: str | None = None, chance: float | None = None) -> matplotlib.figure.Figure:
    """Grouped bars of recognition metrics (UF1, UAR, WF1, ACC) of one or several results.

    Parameters
    ----------
    results : RecognitionResult, dict name -> RecognitionResult (or metric dict), or DataFrame
        A table needs the columns ``model, metric, value``.
    metrics : sequence of str
    ax : matplotlib Axes, optional
    title : str, optional
    chance : float, optional
        Draw a dashed line at this level (e.g. ``1 / n_classes``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    sns = require("seaborn", "plot_metric_bars")
    df = _metric_frame(results, metrics)
    if df.empty:
        raise InputValueError(f"no values for the metrics {list(metrics)}")
    n_models = df["model"].nunique()
    fig, ax = _figure(ax, (1.4 * len(metrics) + 0.6 * n_models + 2.0, 4.0))
    sns.barplot(data=df, x="metric", y="value", hue="model", order=list(metrics), errorbar=None, ax=ax)
    for container in ax.containers:
        ax.bar_label(container, fmt="%.2f", fontsize=8, padding=2)
    ax.set_ylim(0, 1.05)
    ax.legend(title=None, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=min(n_models, 4), frameon=False)
    ax.set_xlabel("")
    ax.set_ylabel("score")
    if chance is not None:
        ax.axhline(float(chance), ls="--", lw=1, color="grey")
    if title:
        ax.set_title(title)
    return fig
