"""Interactive 3D views for notebooks: meshes, displacement maps, face models, animations
and a face-model explorer (plotly + ipywidgets).

Importing :mod:`mxkit.viz` is cheap: plotly and ipywidgets are imported only when a
function that needs them runs, and a missing package raises
:class:`~mxkit.errors.BackendUnavailableError` with the install command. Inputs are in
metres (mxkit model space: +x subject's left, +y up, +z toward a frontal camera); figures
show millimetres by default.

Functions
---------
plot_mesh                   a mesh, uniform skin tone or coloured by per-vertex values
plot_displacement           a mesh coloured by the displacement between two states (mm)
displacement_scalars        that displacement as numbers (magnitude / x / y / z / normal)
plot_model                  one instance of a FaceModel (AUs, expression, identity)
model_vertices              the vertices of such an instance
plot_meshes_side_by_side    several meshes in linked 3D panels
mesh_animation              a mesh sequence with play/pause and a frame slider
camera_link_script          the JavaScript that keeps linked panels' cameras in step
model_explorer              sliders + live 3D view of a FaceModel (ipywidgets)
magnify_motion              onset + alpha * (frame - onset): 3D magnification of a motion
plot_magnified_motion       one frame of a reconstruction, magnified, coloured in mm
reconstruction_animation    a few magnified frames onset -> apex -> offset (static HTML)
reconstruction_explorer     frame / magnification sliders, colour maps, AU toggles, flow
plot_region_errors          a mesh with each facial region coloured by its error (evaluation)
region_scalars              those per-region values as per-vertex scalars
plot_confusion              confusion-matrix heat map (seaborn / matplotlib)
plot_metric_bars            grouped bars of UF1 / UAR / WF1 / ACC (seaborn / matplotlib)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .explorer import ModelExplorer, model_explorer
    from .figures import plot_confusion, plot_metric_bars, plot_region_errors, region_scalars
    from .html import save_html
    from .mesh import (
        CAMERAS,
        LIGHTING,
        SKIN_COLOR,
        camera_link_script,
        displacement_scalars,
        mesh_animation,
        model_vertices,
        plot_displacement,
        plot_mesh,
        plot_meshes_side_by_side,
        plot_model,
    )
    from .sequence import (
        ReconstructionExplorer,
        magnify_motion,
        plot_magnified_motion,
        reconstruction_animation,
        reconstruction_explorer,
    )

_WHERE = {
    "plot_mesh": "mesh",
    "plot_displacement": "mesh",
    "displacement_scalars": "mesh",
    "plot_model": "mesh",
    "model_vertices": "mesh",
    "plot_meshes_side_by_side": "mesh",
    "mesh_animation": "mesh",
    "camera_link_script": "mesh",
    "CAMERAS": "mesh",
    "LIGHTING": "mesh",
    "SKIN_COLOR": "mesh",
    "save_html": "html",
    "model_explorer": "explorer",
    "ModelExplorer": "explorer",
    "plot_region_errors": "figures",
    "region_scalars": "figures",
    "plot_confusion": "figures",
    "plot_metric_bars": "figures",
    "magnify_motion": "sequence",
    "plot_magnified_motion": "sequence",
    "reconstruction_animation": "sequence",
    "reconstruction_explorer": "sequence",
    "ReconstructionExplorer": "sequence",
}

__all__ = [
    "CAMERAS",
    "LIGHTING",
    "ModelExplorer",
    "SKIN_COLOR",
    "camera_link_script",
    "displacement_scalars",
    "mesh_animation",
    "model_explorer",
    "model_vertices",
    "plot_displacement",
    "plot_mesh",
    "plot_meshes_side_by_side",
    "plot_model",
    "plot_region_errors",
    "region_scalars",
    "save_html",
    "plot_confusion",
    "plot_metric_bars",
    "magnify_motion",
    "plot_magnified_motion",
    "reconstruction_animation",
    "reconstruction_explorer",
    "ReconstructionExplorer",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'mxkit.viz' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
