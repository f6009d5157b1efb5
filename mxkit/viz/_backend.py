"""The one place where :mod:`mxkit.viz` imports its optional plotting back-ends (internal).

``import mxkit.viz`` imports neither plotly nor ipywidgets; each function imports what it
needs through :func:`require`, which turns a missing package into a
:class:`~mxkit.errors.BackendUnavailableError` that says how to install it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import BackendUnavailableError

__all__ = ["require", "require_plotly", "require_ipywidgets", "figure_widget_available"]

# import name -> pip requirement
_PIP = {
    "plotly": "plotly>=5.20",
    "ipywidgets": "ipywidgets>=8.1",
    "anywidget": "anywidget",
}


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`BackendUnavailableError` naming ``feature``.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"plotly.graph_objects"``.
    feature : str
        What needs it, for the message (e.g. ``"plot_mesh"``).
    """
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pip = _PIP.get(top, top)
        raise BackendUnavailableError(
            f"{feature} needs the optional package {top!r}, which cannot be imported "
            f"({exc}); install it with: pip install '{pip}'"
        ) from exc


def require_plotly(feature: str) -> ModuleType:
    """``plotly.graph_objects``, or a :class:`BackendUnavailableError` for ``feature``."""
    return require("plotly.graph_objects", feature)


def require_ipywidgets(feature: str) -> ModuleType:
    """``ipywidgets``, or a :class:`BackendUnavailableError` for ``feature``."""
    return require("ipywidgets", feature)


def figure_widget_available() -> bool:
    """Whether ``plotly.graph_objects.FigureWidget`` can be built here.

    plotly >= 6 implements ``FigureWidget`` on top of the ``anywidget`` package; without it
    ``go.FigureWidget`` is a stand-in that raises ``ImportError`` when constructed. Nothing
    is constructed here (no widget is created in the kernel).
    """
    go = require_plotly("FigureWidget")
    cls = getattr(go, "FigureWidget", None)
    return cls is not None and not cls.__module__.startswith("plotly.missing")
