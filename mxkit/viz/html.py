"""Self-contained HTML pages of plotly figures (offline: plotly.js embedded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._io import atomic_write
from ..errors import InputValueError
from ..meshio import PathLike

__all__ = ["save_html"]


def save_html(fig: Any, path: PathLike, *, auto_play: bool = False,
              config: dict | None = None) -> Path:
    """Write a plotly figure as a **self-contained** HTML page (atomically).

    plotly.js is embedded in the file (about 4.8 MB), so the page works offline and
    without a CDN. Figures from :func:`mxkit.viz.plot_meshes_side_by_side` with linked
    cameras get a small script that keeps their 3D views in step.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure or FigureWidget
    path : path-like
        Target file (``.html``); its folder must exist.
    auto_play : bool
        Start an animation (:func:`mxkit.viz.mesh_animation`) on load.
    config : dict, optional
        plotly config (e.g. ``{"displaylogo": False}``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputValueError
        ``fig`` is not a plotly figure.
    FileWriteError
        The file cannot be written.
    BackendUnavailableError
        plotly is not installed.
    """
    from ._backend import require_plotly
    from .mesh import camera_link_script

    require_plotly("save_html")
    from plotly.basedatatypes import BaseFigure

    if not isinstance(fig, BaseFigure):
        raise InputValueError(f"fig must be a plotly figure; got {type(fig).__name__}")
    script = camera_link_script(fig)
    html = fig.to_html(include_plotlyjs=True, full_html=True, auto_play=auto_play,
                       config=config, post_script=script or None)
    return atomic_write(path, html)
