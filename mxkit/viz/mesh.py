"""Interactive 3D mesh figures with plotly: single meshes, displacement maps, face-model
instances, side-by-side comparisons and animated sequences.

Every function returns a :class:`plotly.graph_objects.Figure`; plotly is imported only
when a function runs. Inputs are in mxkit's model space, **metres** (+x toward the
subject's left, +y up, +z out of the face toward a frontal camera); figures show
**millimetres** by default (``units="mm"``), the scale at which micro-expressions are
read (a 0.3 mm brow raise, not 3e-4 m).

The default view is frontal: the camera sits on +z looking at the face, +y up, so the
subject's left (+x) appears on the viewer's right, as in a photograph.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._checks import check_option, check_shape
from ..errors import InputValueError, OptionError, ShapeError
from ..meshio import _as_faces, _as_points, _as_scalars, _to_numpy, vertex_normals
from ._backend import require, require_plotly

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

    from ..morph.model import FaceModel

__all__ = [
    "plot_mesh",
    "plot_displacement",
    "displacement_scalars",
    "plot_model",
    "model_vertices",
    "plot_meshes_side_by_side",
    "mesh_animation",
    "camera_link_script",
    "CAMERAS",
    "LIGHTING",
    "SKIN_COLOR",
]

#: Uniform skin tone used when a mesh has no scalars.
SKIN_COLOR = "#d9b8a6"

_UNITS: dict[str, float] = {"mm": 1000.0, "cm": 100.0, "m": 1.0}

#: Camera presets (plotly ``scene.camera``). The eye is in plotly's normalised scene units.
#: "left"/"right" are the *subject's* sides (profile views); "side" is "left".
CAMERAS: dict[str, dict[str, dict[str, float]]] = {
    "front": {"eye": {"x": 0.0, "y": 0.0, "z": 1.8}},
    "left": {"eye": {"x": 1.8, "y": 0.0, "z": 0.0}},
    "right": {"eye": {"x": -1.8, "y": 0.0, "z": 0.0}},
    "side": {"eye": {"x": 1.8, "y": 0.0, "z": 0.0}},
    "three_quarter": {"eye": {"x": 1.1, "y": 0.25, "z": 1.45}},
    "top": {"eye": {"x": 0.0, "y": 1.8, "z": 0.35}, "up": {"x": 0.0, "y": 0.0, "z": -1.0}},
    "bottom": {"eye": {"x": 0.0, "y": -1.8, "z": 0.35}, "up": {"x": 0.0, "y": 0.0, "z": 1.0}},
}

#: Lighting presets (plotly ``Mesh3d.lighting``); pass a dict for your own.
#: "soft" (default) suits skin; "studio" shows fine relief; "matte" has no highlights;
#: "flat" is unshaded, for reading colour maps without shading.
LIGHTING: dict[str, dict[str, float]] = {
    "soft": {"ambient": 0.45, "diffuse": 0.75, "specular": 0.12, "roughness": 0.6,
             "fresnel": 0.1},
    "studio": {"ambient": 0.3, "diffuse": 0.9, "specular": 0.35, "roughness": 0.35,
               "fresnel": 0.25},
    "matte": {"ambient": 0.5, "diffuse": 0.8, "specular": 0.0, "roughness": 1.0,
              "fresnel": 0.0},
    "flat": {"ambient": 1.0, "diffuse": 0.0, "specular": 0.0, "roughness": 1.0,
             "fresnel": 0.0},
}
# Tiny epsilons so the normals of small triangles (mm-sized, in metres) are not discarded.
_EPS = {"vertexnormalsepsilon": 1e-12, "facenormalsepsilon": 1e-12}
# A far light from the viewer's upper left, in front of the face.
_LIGHT_POSITION = {"x": -3.0e4, "y": 5.0e4, "z": 1.0e5}

_UNLABELLED_COLOR = "#bdbdbd"
# Qualitative palette for facial regions (colour-blind-aware hues, then lighter variants).
_PALETTE = ("#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#ee8866",
            "#44bb99", "#bbcc33", "#77aadd", "#ffaabb", "#99ddff", "#aaaa00", "#dd7788",
            "#117733", "#882255", "#332288", "#ddcc77", "#88ccee", "#cc6677")

Camera = Literal["front", "left", "right", "side", "three_quarter", "top", "bottom"]
Units = Literal["mm", "cm", "m"]
Component = Literal["magnitude", "x", "y", "z", "normal"]


# ---------------------------------------------------------------------------- helpers
def _scale(units: str) -> float:
    return _UNITS[check_option(units, tuple(_UNITS), "units")]


def _camera(camera: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(camera, Mapping):
        return dict(camera)
    preset = CAMERAS[check_option(camera, tuple(CAMERAS), "camera")]
    cam = {"center": {"x": 0.0, "y": 0.0, "z": 0.0}, "up": {"x": 0.0, "y": 1.0, "z": 0.0}}
    cam.update({k: dict(v) for k, v in preset.items()})
    return cam


def _lighting(lighting: str | Mapping[str, float]) -> dict[str, float]:
    if isinstance(lighting, Mapping):
        return {**_EPS, **dict(lighting)}
    return {**_EPS, **LIGHTING[check_option(lighting, tuple(LIGHTING), "lighting")]}


def _scene(camera: str | Mapping[str, Any], units: str, show_axes: bool,
           ranges: np.ndarray | None = None) -> dict[str, Any]:
    """Scene layout: equal aspect, frontal camera, axes hidden unless ``show_axes``."""
    scene: dict[str, Any] = {"camera": _camera(camera), "dragmode": "orbit",
                             "uirevision": "mxkit"}
    for k, name in enumerate("xyz"):
        axis: dict[str, Any] = {"visible": bool(show_axes), "title": {"text": f"{name} ({units})"},
                                "showbackground": False}
        if ranges is not None:
            axis["range"] = [float(ranges[0, k]), float(ranges[1, k])]
            axis["autorange"] = False
        scene[f"{name}axis"] = axis
    if ranges is None:
        scene["aspectmode"] = "data"
    else:  # fixed ranges (animations): same proportions as "data", but stable over frames
        extent = np.maximum(ranges[1] - ranges[0], 1e-12)
        ratio = extent / extent.max()
        scene["aspectmode"] = "manual"
        scene["aspectratio"] = {"x": float(ratio[0]), "y": float(ratio[1]), "z": float(ratio[2])}
    return scene


def _base_layout(title: str | None, height: int | None) -> dict[str, Any]:
    layout: dict[str, Any] = {"margin": {"l": 0, "r": 0, "b": 0, "t": 40 if title else 10},
                              "uirevision": "mxkit", "paper_bgcolor": "white"}
    if height is not None:
        layout["height"] = int(height)
    if title:
        layout["title"] = {"text": title, "x": 0.5, "xanchor": "center"}
    return layout


def _colorbar(title: str | None) -> dict[str, Any]:
    bar: dict[str, Any] = {"thickness": 14, "len": 0.75}
    if title:
        bar["title"] = {"text": title, "side": "right"}
    return bar


def _mesh_trace(go: Any, xyz: np.ndarray, faces: np.ndarray, *, intensity: np.ndarray | None,
                intensitymode: str = "vertex", colorscale: Any = "Viridis",
                cmin: float | None = None, cmax: float | None = None,
                colorbar: dict | None = None, showscale: bool = True, color: str = SKIN_COLOR,
                lighting: str | Mapping[str, float] = "soft", opacity: float = 1.0,
                units: str = "mm", name: str | None = None) -> Any:
    """A Mesh3d trace from display-unit positions (V, 3) and faces (F, 3)."""
    kw: dict[str, Any] = {
        "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
        "i": faces[:, 0].astype(np.int32), "j": faces[:, 1].astype(np.int32),
        "k": faces[:, 2].astype(np.int32),
        "flatshading": False, "lighting": _lighting(lighting),
        "lightposition": dict(_LIGHT_POSITION), "opacity": float(opacity),
        "hovertemplate": (f"x %{{x:.2f}} {units}<br>y %{{y:.2f}} {units}<br>"
                          f"z %{{z:.2f}} {units}<extra></extra>"),
        "name": name or "mesh", "showlegend": False,
    }
    if intensity is None:
        kw["color"] = color
        kw["showscale"] = False
    else:
        kw.update(intensity=intensity.astype(np.float32), intensitymode=intensitymode,
                  colorscale=colorscale, showscale=bool(showscale),
                  colorbar=colorbar or _colorbar(None))
        if cmin is not None:
            kw["cmin"] = float(cmin)
        if cmax is not None:
            kw["cmax"] = float(cmax)
    return go.Mesh3d(**kw)


def _nearest_vertices(points: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """Index (L,) of the vertex nearest to each point (brute force, L x V distances)."""
    d = ((points ** 2).sum(1)[:, None] - 2.0 * points @ verts.T + (verts ** 2).sum(1)[None])
    return np.argmin(d, axis=1)


def _lift(points: np.ndarray, verts: np.ndarray, faces: np.ndarray, lift: float,
          nearest: np.ndarray | None = None) -> np.ndarray:
    """Move points (L, 3) by ``lift`` outward: along the normal at their nearest vertex.

    Landmarks lie *on* the surface, where a marker is half hidden by the mesh; a lift of
    about half a millimetre shows them whole without visibly moving them. Where that normal
    points back toward the mesh's centroid (e.g. on the inner rim of an eyelid, whose
    normals face into the eye socket), the direction away from the centroid is used.
    """
    if lift == 0 or len(points) == 0 or len(faces) == 0:
        return points
    idx = _nearest_vertices(points, verts) if nearest is None else nearest
    normal = vertex_normals(verts, faces)[idx]
    radial = points - verts.mean(axis=0)
    length = np.linalg.norm(radial, axis=1, keepdims=True)
    radial = np.divide(radial, length, out=np.zeros_like(radial), where=length > 0)
    inward = (normal * radial).sum(axis=1) < -0.2      # clearly facing inward
    normal[inward] = radial[inward]
    return points + float(lift) * normal


def _landmark_trace(go: Any, xyz: np.ndarray, labels: bool | Sequence[str], color: str,
                    units: str, shown: np.ndarray | None = None) -> Any:
    """Markers at ``shown`` (default ``xyz``); the hover reports the true ``xyz``."""
    if labels is True:
        text = [str(i) for i in range(len(xyz))]
    elif labels is False or labels is None:
        text = None
    else:
        text = [str(s) for s in labels]
        if len(text) != len(xyz):
            raise ShapeError(f"landmark_labels has {len(text)} labels for {len(xyz)} landmarks")
    hover = [str(i) for i in range(len(xyz))] if text is None else text
    at = xyz if shown is None else shown
    return go.Scatter3d(
        x=at[:, 0], y=at[:, 1], z=at[:, 2], customdata=xyz,
        mode="markers+text" if text is not None else "markers",
        text=text, hovertext=hover, textposition="top center", textfont={"size": 9},
        marker={"size": 3, "color": color, "line": {"width": 0}},
        hovertemplate=(f"landmark %{{hovertext}}<br>x %{{customdata[0]:.2f}} {units}<br>"
                       f"y %{{customdata[1]:.2f}} {units}<br>"
                       f"z %{{customdata[2]:.2f}} {units}<extra></extra>"),
        name="landmarks", showlegend=False,
    )


def _add(fig: Any, trace: Any, row: int | None, col: int | None) -> None:
    if row is None and col is None:
        fig.add_trace(trace)
    else:
        fig.add_trace(trace, row=row or 1, col=col or 1)


def _update_scene(fig: Any, scene: dict[str, Any], row: int | None, col: int | None) -> None:
    if row is None and col is None:
        fig.update_layout(scene=scene)
    else:
        fig.update_scenes(scene, row=row or 1, col=col or 1)


def _limits(values: np.ndarray, cmin: float | None, cmax: float | None,
            symmetric: bool) -> tuple[float, float]:
    """Colour limits: given ones, else the data range (symmetric: +-max|v|); never empty."""
    if symmetric:
        m = float(cmax) if cmax is not None else (
            float(np.abs(values).max()) if values.size else 0.0)
        if cmin is not None and cmax is None:
            m = abs(float(cmin))
        m = m if m > 0 else 1.0
        return -m, m
    lo = float(cmin) if cmin is not None else (float(values.min()) if values.size else 0.0)
    hi = float(cmax) if cmax is not None else (float(values.max()) if values.size else 1.0)
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


# ---------------------------------------------------------------------------- plot_mesh
def plot_mesh(
    vertices: Any,
    faces: Any,
    *,
    scalars: Any = None,
    colorscale: Any = "Viridis",
    cmin: float | None = None,
    cmax: float | None = None,
    colorbar_title: str | None = None,
    showscale: bool = True,
    color: str = SKIN_COLOR,
    opacity: float = 1.0,
    landmarks: Any = None,
    landmark_labels: bool | Sequence[str] = False,
    landmark_color: str = "#1b3a8a",
    landmark_lift: float = 0.0005,
    title: str | None = None,
    name: str | None = None,
    units: Units = "mm",
    camera: Camera | Mapping[str, Any] = "front",
    lighting: str | Mapping[str, float] = "soft",
    show_axes: bool = False,
    height: int | None = 500,
    fig: go.Figure | None = None,
    row: int | None = None,
    col: int | None = None,
) -> go.Figure:
    """Interactive 3D view of a triangle mesh, optionally coloured by per-vertex values.

    Parameters
    ----------
    vertices : array or Tensor, shape (V, 3) (or (1, V, 3))
        Positions in **metres**, mxkit model frame (+x subject's left, +y up, +z toward the
        camera).
    faces : array or Tensor, shape (F, 3), int
        Triangles, 0-based.
    scalars : array or Tensor, shape (V,), optional
        Per-vertex values shown with ``colorscale`` (in their own unit, e.g. mm, not scaled).
        Without them the mesh is drawn in the uniform ``color``.
    colorscale : str or list
        Any plotly colour scale (``"Viridis"``, ``"RdBu_r"``, ``[[0, "white"], [1, "red"]]``).
    cmin, cmax : float, optional
        Colour limits (default: the data range).
    colorbar_title : str, optional
    showscale : bool
        Show the colour bar when ``scalars`` are given.
    color : str
        Uniform mesh colour when ``scalars`` is None (default: a skin tone).
    opacity : float
        Mesh opacity in [0, 1].
    landmarks : array or Tensor, shape (L, 3) (or (1, L, 3)), optional
        Points in metres drawn as markers (e.g. ``model.landmarks(verts)[0]``).
    landmark_labels : bool or sequence of str
        Write each landmark's index (``True``) or the given labels next to its marker.
    landmark_color : str
    landmark_lift : float
        Draw the markers this far (metres; default 0.5 mm) out along the surface normal at
        the nearest vertex, so that they are not half hidden in the surface. The hover
        shows the true positions (also in the trace's ``customdata``); 0 draws them exactly.
    title : str, optional
        Figure title (new figures only).
    name : str, optional
        Trace name.
    units : {"mm", "cm", "m"}
        Display unit; positions are multiplied by 1000 for ``"mm"``.
    camera : str or dict
        A preset of :data:`CAMERAS` (``"front"``: eye on +z, up +y; ``"left"``/``"right"``:
        the subject's profiles; ``"three_quarter"``; ``"top"``; ``"bottom"``) or a plotly
        ``scene.camera`` dict.
    lighting : str or dict
        A preset of :data:`LIGHTING` (``"soft"``, ``"studio"``, ``"matte"``, ``"flat"``) or a
        plotly ``Mesh3d.lighting`` dict.
    show_axes : bool
        Show the axes (hidden by default).
    height : int, optional
        Figure height in pixels (new figures only).
    fig : plotly.graph_objects.Figure, optional
        Add to this figure instead of a new one, e.g. one made with
        ``plotly.subplots.make_subplots(specs=[[{"type": "scene"}] * n])``.
    row, col : int, optional
        Subplot (1-based) of ``fig`` to draw into.

    Returns
    -------
    plotly.graph_objects.Figure
        ``fig.data[0]`` (or the first trace added) is a ``Mesh3d`` with positions in
        ``units`` and ``i, j, k`` = ``faces``; a ``Scatter3d`` follows for landmarks
        (true positions in ``customdata``).

    Raises
    ------
    ShapeError, InputValueError, OptionError
        Bad shapes, NaN/inf, indices out of range, unknown preset.
    BackendUnavailableError
        plotly is not installed.

    Examples
    --------
    >>> v = np.array([[0.0, 0, 0], [0.01, 0, 0], [0, 0.01, 0]])      # metres
    >>> fig = plot_mesh(v, [[0, 1, 2]])
    >>> fig.data[0].type, [float(x) for x in fig.data[0].x]         # millimetres
    ('mesh3d', [0.0, 10.0, 0.0])
    """
    go = require_plotly("plot_mesh")
    scale = _scale(units)
    v = _as_points(vertices, "vertices", squeeze_batch=True)
    f = _as_faces(faces, len(v))
    s = _as_scalars(scalars, len(v)) if scalars is not None else None
    lm = _as_points(landmarks, "landmarks", squeeze_batch=True) if landmarks is not None else None
    if not 0.0 <= float(opacity) <= 1.0:
        raise InputValueError(f"opacity must lie in [0, 1]; got {opacity}")
    xyz = (v.astype(np.float64) * scale).astype(np.float32)
    if s is not None:
        lo, hi = _limits(s, cmin, cmax, symmetric=False)
        cmin = lo if cmin is None else cmin
        cmax = hi if cmax is None else cmax
    trace = _mesh_trace(go, xyz, f, intensity=s, colorscale=colorscale, cmin=cmin, cmax=cmax,
                        colorbar=_colorbar(colorbar_title), showscale=showscale, color=color,
                        lighting=lighting, opacity=opacity, units=units, name=name)
    new = fig is None
    if new:
        fig = go.Figure()
    _add(fig, trace, row, col)
    if lm is not None:
        if not np.isfinite(landmark_lift):
            raise InputValueError(f"landmark_lift must be finite; got {landmark_lift}")
        lifted = _lift(lm.astype(np.float64), v.astype(np.float64), f, landmark_lift)
        _add(fig, _landmark_trace(go, (lm * scale).astype(np.float32), landmark_labels,
                                  landmark_color, units, (lifted * scale).astype(np.float32)),
             row, col)
    _update_scene(fig, _scene(camera, units, show_axes), row, col)
    if new:
        fig.update_layout(**_base_layout(title, height))
    return fig


# ---------------------------------------------------------------------------- displacement
def displacement_scalars(reference: Any, deformed: Any, faces: Any = None, *,
                         component: Component = "magnitude", units: Units = "mm") -> np.ndarray:
    """Per-vertex displacement ``deformed - reference`` as scalars in display units.

    Parameters
    ----------
    reference, deformed : array or Tensor, shape (V, 3) (or (1, V, 3))
        Vertex positions in metres (e.g. onset and apex of a micro-expression).
    faces : array or Tensor, shape (F, 3), int, optional
        Needed for ``component="normal"`` (normals of ``reference``).
    component : {"magnitude", "x", "y", "z", "normal"}
        Euclidean length (>= 0), a signed axis component (+x subject's left, +y up, +z
        toward the camera), or the signed component along the outward vertex normal of
        ``reference`` (> 0: the surface moves outward).
    units : {"mm", "cm", "m"}

    Returns
    -------
    ndarray, shape (V,), float64

    Examples
    --------
    >>> ref = np.zeros((2, 3)); moved = ref + [0.0, 0.0, 0.001]     # 1 mm toward the camera
    >>> displacement_scalars(ref, moved, component="z").round(6).tolist()
    [1.0, 1.0]
    """
    check_option(component, ("magnitude", "x", "y", "z", "normal"), "component")
    scale = _scale(units)
    ref = _as_points(reference, "reference", squeeze_batch=True).astype(np.float64)
    dfm = _as_points(deformed, "deformed", n=len(ref), squeeze_batch=True).astype(np.float64)
    d = (dfm - ref) * scale
    if component == "magnitude":
        return np.linalg.norm(d, axis=1)
    if component == "normal":
        if faces is None:
            raise InputValueError("component='normal' needs faces to compute vertex normals")
        return (d * vertex_normals(ref, faces)).sum(axis=1)
    return d[:, "xyz".index(component)].copy()


def plot_displacement(
    faces: Any,
    reference: Any,
    deformed: Any,
    *,
    component: Component = "magnitude",
    units: Units = "mm",
    on: Literal["deformed", "reference"] = "deformed",
    magnify: float = 1.0,
    colorscale: Any = None,
    cmin: float | None = None,
    cmax: float | None = None,
    colorbar_title: str | None = None,
    landmarks: Any = None,
    title: str | None = None,
    camera: Camera | Mapping[str, Any] = "front",
    lighting: str | Mapping[str, float] = "soft",
    show_axes: bool = False,
    height: int | None = 500,
    fig: go.Figure | None = None,
    row: int | None = None,
    col: int | None = None,
) -> go.Figure:
    """Mesh coloured by the displacement between two states (e.g. apex minus onset), in mm.

    Parameters
    ----------
    faces : array or Tensor, shape (F, 3), int
    reference, deformed : array or Tensor, shape (V, 3) (or (1, V, 3))
        Vertex positions in metres; the colour is ``deformed - reference``.
    component : {"magnitude", "x", "y", "z", "normal"}
        See :func:`displacement_scalars`. Signed components use a diverging colour scale
        with symmetric limits (``cmin = -cmax``), blue negative and red positive.
    units : {"mm", "cm", "m"}
        Unit of both the positions shown and the colour values.
    on : {"deformed", "reference"}
        Which geometry to draw.
    magnify : float
        Exaggerate the drawn motion: ``reference + magnify * (deformed - reference)`` (only
        with ``on="deformed"``); colours always show the true displacement.
    colorscale : str or list, optional
        Default ``"Viridis"`` for the magnitude, ``"RdBu_r"`` for signed components.
    cmin, cmax : float, optional
        Colour limits. Magnitude: default ``(0, max)``. Signed: symmetric, ``+-max|d|``
        unless ``cmax`` (or ``cmin``) is given.
    colorbar_title : str, optional
        Default e.g. ``"|d| (mm)"`` or ``"d_z (mm)"``.
    landmarks, title, camera, lighting, show_axes, height, fig, row, col
        As in :func:`plot_mesh`.

    Returns
    -------
    plotly.graph_objects.Figure
        A ``Mesh3d`` whose ``intensity`` is the displacement in ``units``.

    Examples
    --------
    >>> ref = np.array([[0.0, 0, 0], [0.01, 0, 0], [0, 0.01, 0]])
    >>> apex = ref + [[0, 0, 0.001], [0, 0, 0], [0, 0, 0]]          # one vertex, 1 mm
    >>> fig = plot_displacement([[0, 1, 2]], ref, apex, component="z")
    >>> [float(x) for x in fig.data[0].intensity], fig.data[0].cmin, fig.data[0].cmax
    ([1.0, 0.0, 0.0], -1.0, 1.0)
    """
    check_option(on, ("deformed", "reference"), "on")
    s = displacement_scalars(reference, deformed, faces, component=component, units=units)
    ref = _as_points(reference, "reference", squeeze_batch=True).astype(np.float64)
    dfm = _as_points(deformed, "deformed", squeeze_batch=True).astype(np.float64)
    if not np.isfinite(magnify):
        raise InputValueError(f"magnify must be finite; got {magnify}")
    shown = ref if on == "reference" else ref + float(magnify) * (dfm - ref)
    signed = component != "magnitude"
    if signed:
        lo, hi = _limits(s, cmin, cmax, symmetric=True)
    else:
        lo, hi = _limits(s, 0.0 if cmin is None else cmin, cmax, symmetric=False)
    if colorbar_title is None:
        colorbar_title = {"magnitude": f"|d| ({units})", "normal": f"d·n ({units})"}.get(
            component, f"d_{component} ({units})")
    return plot_mesh(shown, faces, scalars=s, colorscale=colorscale or (
        "RdBu_r" if signed else "Viridis"), cmin=lo, cmax=hi, colorbar_title=colorbar_title,
        landmarks=landmarks, title=title, units=units, camera=camera, lighting=lighting,
        show_axes=show_axes, height=height, fig=fig, row=row, col=col, name="displacement")


# ---------------------------------------------------------------------------- models
def _coeffs(model: FaceModel, value: Any, width: int, what: str) -> Any:
    import torch

    t = torch.as_tensor(_to_numpy(value, what), dtype=model.v_template.dtype,
                        device=model.v_template.device)
    if t.dim() == 1:
        t = t[None]
    check_shape(t, (1, width), what)
    return t


def model_vertices(model: FaceModel, *, identity: Any = None, expression: Any = None,
                   aus: Any = None) -> np.ndarray:
    """Vertices (V, 3) in metres of one instance of a face model (model frame, no pose).

    Parameters
    ----------
    model : FaceModel
    identity : array or Tensor, shape (K,) or (1, K), optional
        Identity coefficients (zeros if omitted).
    expression : mapping of str to float, or array/Tensor of shape (E,) or (1, E), optional
        Expression weights by shape name (``{"mouthSmileLeft": 0.4}``) or as a vector.
    aus : mapping of str to float, or array/Tensor of shape (A,) or (1, A), optional
        AU intensities in [0, 1] (``{"AU12": 0.3, "L14": 0.2}``), converted with
        :meth:`FaceModel.aus_to_expression` and **added** to ``expression``.

    Returns
    -------
    ndarray, shape (V, 3), float32
    """
    import torch

    E = model.n_expressions
    if isinstance(expression, Mapping):
        w = torch.zeros(1, E, dtype=model.v_template.dtype, device=model.v_template.device)
        for key, value in expression.items():
            w[0, model.expression_index(key)[0]] = float(value)
        expression = w
    elif expression is not None:
        expression = _coeffs(model, expression, E, "expression")
    if aus is not None:
        if not isinstance(aus, Mapping):
            aus = _coeffs(model, aus, len(model.au_names), "aus")
        from_aus = model.aus_to_expression(aus)
        expression = from_aus if expression is None else expression + from_aus
    if identity is not None:
        identity = _coeffs(model, identity, model.n_identity, "identity")
    with torch.no_grad():
        verts = model(identity, expression)
    return verts[0].detach().cpu().numpy()


def _region_colors(names: Sequence[str]) -> tuple[list[list[Any]], list[int], list[str]]:
    """A stepped colour scale for labels -1 (unlabelled) .. R-1, with ticks and tick text."""
    colors = [_UNLABELLED_COLOR] + [_PALETTE[k % len(_PALETTE)] for k in range(len(names))]
    n = len(colors)
    scale: list[list[Any]] = []
    for k, c in enumerate(colors):
        scale += [[k / n, c], [(k + 1) / n, c]]
    return scale, list(range(-1, len(names))), ["unlabelled", *names]


def _face_labels(labels: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """One label per face: the majority of its corners (first corner on a three-way tie)."""
    a, b, c = labels[faces[:, 0]], labels[faces[:, 1]], labels[faces[:, 2]]
    return np.where((b == c) & (a != b), b, a)


def _region_style(model: FaceModel, faces: np.ndarray) -> dict[str, Any]:
    if not model.region_names:
        raise OptionError(f"model {model.name!r} has no facial regions to colour by")
    scale, ticks, text = _region_colors(model.region_names)
    return {"intensity": _face_labels(np.asarray(model.region_labels), faces).astype(np.float32),
            "intensitymode": "cell", "colorscale": scale, "cmin": -1.5,
            "cmax": len(model.region_names) - 0.5,
            "colorbar": {"thickness": 14, "len": 0.75, "tickvals": ticks, "ticktext": text,
                         "title": {"text": "region", "side": "right"}}}


def plot_model(
    model: FaceModel,
    *,
    identity: Any = None,
    expression: Any = None,
    aus: Any = None,
    show_landmarks: str | None = "auto",
    landmark_labels: bool | Sequence[str] = False,
    landmark_lift: float = 0.0005,
    color_by: str | None = None,
    colorscale: Any = None,
    color: str = SKIN_COLOR,
    title: str | None = None,
    units: Units = "mm",
    camera: Camera | Mapping[str, Any] = "front",
    lighting: str | Mapping[str, float] = "soft",
    show_axes: bool = False,
    height: int | None = 500,
    fig: go.Figure | None = None,
    row: int | None = None,
    col: int | None = None,
) -> go.Figure:
    """One instance of a face model, optionally with landmarks and a colour overlay.

    Parameters
    ----------
    model : FaceModel
        E.g. ``mxkit.morph.load_face_model("mh-head")``.
    identity, expression, aus
        As in :func:`model_vertices` (AU intensities add to the expression weights).
    show_landmarks : str or None
        Landmark kind to draw (``"ibug68"``, ``"mp468"``), ``None`` for none, or
        ``"auto"``: ``"ibug68"`` when the model has it.
    landmark_labels : bool or sequence of str
        Label the landmarks (see :func:`plot_mesh`).
    landmark_lift : float
        Marker lift off the surface in metres (see :func:`plot_mesh`).
    color_by : str, optional
        ``None`` (skin tone), ``"region"`` (facial regions with a labelled colour bar),
        ``"displacement"`` (distance in ``units`` from the neutral face of the same
        identity), or an AU key such as ``"AU12"``/``"L12"`` (that AU's soft region mask,
        in [0, 1]).
    colorscale : str or list, optional
        For ``"displacement"`` (default ``"Viridis"``) and AU masks (default ``"Reds"``).
    color, title, units, camera, lighting, show_axes, height, fig, row, col
        As in :func:`plot_mesh`. The default title names the model and its active AUs.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    go = require_plotly("plot_model")
    scale = _scale(units)
    verts = model_vertices(model, identity=identity, expression=expression, aus=aus)
    faces = model.faces.detach().cpu().numpy()
    kind = show_landmarks
    if kind == "auto":
        kind = "ibug68" if "ibug68" in model.landmark_schemes else None
    lm = None
    if kind is not None:
        import torch

        check_option(kind, model.landmark_schemes, "show_landmarks")
        lm = model.landmarks(torch.as_tensor(verts)[None].to(model.v_template), kind)[0]
        lm = lm.detach().cpu().numpy()
    if title is None:
        active = ""
        if isinstance(aus, Mapping) and aus:
            active = " · " + ", ".join(f"{k}={v}" for k, v in aus.items())
        title = f"{model.name}{active}"
    if color_by is None or color_by == "displacement":
        scalars = None
        if color_by == "displacement":
            neutral = model_vertices(model, identity=identity)
            scalars = displacement_scalars(neutral, verts, units=units)
        fig = plot_mesh(verts, faces, scalars=scalars, colorscale=colorscale or "Viridis",
                        cmin=0.0 if scalars is not None else None,
                        colorbar_title=f"|d| from neutral ({units})", color=color,
                        landmarks=lm, landmark_labels=landmark_labels,
                        landmark_lift=landmark_lift, title=title,
                        units=units, camera=camera, lighting=lighting, show_axes=show_axes,
                        height=height, fig=fig, row=row, col=col, name=model.name)
        return fig
    if color_by == "region":
        style = _region_style(model, faces)
    else:
        try:
            mask = model.au_region_mask(color_by)
        except (OptionError, InputValueError) as exc:
            raise OptionError(
                f"Invalid value for 'color_by': allowed are None, 'region', 'displacement' or "
                f"an AU key with a region mask ({sorted(model.au_masks)}), but got "
                f"{color_by!r}") from exc
        style = {"intensity": mask.astype(np.float32), "intensitymode": "vertex",
                 "colorscale": colorscale or "Reds", "cmin": 0.0, "cmax": 1.0,
                 "colorbar": _colorbar(f"{color_by} region")}
    new = fig is None
    if new:
        fig = go.Figure()
    xyz = (verts.astype(np.float64) * scale).astype(np.float32)
    _add(fig, _mesh_trace(go, xyz, faces, lighting=lighting, units=units, name=model.name,
                          **style), row, col)
    if lm is not None:
        lifted = _lift(lm.astype(np.float64), verts.astype(np.float64), faces, landmark_lift)
        _add(fig, _landmark_trace(go, (lm * scale).astype(np.float32), landmark_labels,
                                  "#1b3a8a", units, (lifted * scale).astype(np.float32)),
             row, col)
    _update_scene(fig, _scene(camera, units, show_axes), row, col)
    if new:
        fig.update_layout(**_base_layout(title, height))
    return fig


# ---------------------------------------------------------------------------- side by side
def plot_meshes_side_by_side(
    meshes: Sequence[Any],
    faces: Any,
    *,
    scalars: Sequence[Any] | None = None,
    colorscale: Any = "Viridis",
    cmin: float | None = None,
    cmax: float | None = None,
    colorbar_title: str | None = None,
    color: str = SKIN_COLOR,
    landmarks: Sequence[Any] | None = None,
    units: Units = "mm",
    camera: Camera | Mapping[str, Any] = "front",
    lighting: str | Mapping[str, float] = "soft",
    link_cameras: bool = True,
    show_axes: bool = False,
    title: str | None = None,
    height: int | None = 450,
    horizontal_spacing: float = 0.02,
) -> go.Figure:
    """Several meshes with the same triangles in one row of 3D panels.

    Parameters
    ----------
    meshes : sequence of (vertices, title) pairs or of vertices
        Each ``vertices`` is an array or Tensor of shape (V, 3) in metres.
    faces : array or Tensor, shape (F, 3), int
        Shared by all meshes.
    scalars : sequence of (array of shape (V,) or None), optional
        Per-mesh colours; limits are **shared** across panels (default: the global range)
        and one colour bar is drawn.
    colorscale, cmin, cmax, colorbar_title, color, units, camera, lighting, show_axes
        As in :func:`plot_mesh`.
    landmarks : sequence of (array of shape (L, 3) or None), optional
    link_cameras : bool
        Start all panels with the same camera and, in HTML written by
        :func:`mxkit.viz.save_html` (or shown with
        ``fig.show(post_script=camera_link_script(fig))``), keep them in step when one is
        rotated. The panels' scene names are recorded in ``fig.layout.meta``.
    title : str, optional
    height : int, optional
    horizontal_spacing : float
        Gap between panels, as a fraction of the width.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``scene`` per mesh (``scene``, ``scene2``, ...), traces in panel order.

    Examples
    --------
    >>> v = np.array([[0.0, 0, 0], [0.01, 0, 0], [0, 0.01, 0]])
    >>> fig = plot_meshes_side_by_side([(v, "onset"), (v * 1.1, "apex")], [[0, 1, 2]])
    >>> len(fig.data), fig.layout.scene2.camera.eye.z
    (2, 1.8)
    """
    require_plotly("plot_meshes_side_by_side")
    make_subplots = require("plotly.subplots", "plot_meshes_side_by_side").make_subplots
    items = list(meshes)
    if not items:
        raise InputValueError("meshes is empty")
    verts, titles = [], []
    for k, item in enumerate(items):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str):
            verts.append(item[0])
            titles.append(item[1])
        else:
            verts.append(item)
            titles.append(f"mesh {k}")
    n = len(verts)
    for name, seq in (("scalars", scalars), ("landmarks", landmarks)):
        if seq is not None and len(seq) != n:
            raise ShapeError(f"{name} has {len(seq)} entries for {n} meshes")
    scal = None
    if scalars is not None:
        scal = [None if s is None else _as_scalars(s, len(_as_points(
            v, "vertices", squeeze_batch=True)), f"scalars[{k}]")
            for k, (s, v) in enumerate(zip(scalars, verts, strict=True))]
        given = [s for s in scal if s is not None]
        if given:
            cmin, cmax = _limits(np.concatenate(given), cmin, cmax, symmetric=False)
    fig = make_subplots(rows=1, cols=n, specs=[[{"type": "scene"}] * n],
                        subplot_titles=titles, horizontal_spacing=horizontal_spacing)
    last_scaled = max((k for k in range(n) if scal is not None and scal[k] is not None),
                      default=-1)
    for k in range(n):
        plot_mesh(verts[k], faces, scalars=None if scal is None else scal[k],
                  colorscale=colorscale, cmin=cmin, cmax=cmax, colorbar_title=colorbar_title,
                  showscale=k == last_scaled, color=color,
                  landmarks=None if landmarks is None else landmarks[k], units=units,
                  camera=camera, lighting=lighting, show_axes=show_axes, fig=fig, row=1,
                  col=k + 1, name=titles[k])
    fig.update_layout(**_base_layout(title, height))
    if title is None:
        fig.update_layout(margin={"t": 30})
    if link_cameras and n > 1:
        scenes = ["scene"] + [f"scene{k}" for k in range(2, n + 1)]
        fig.update_layout(meta={"mxkit_linked_scenes": scenes})
    return fig


def camera_link_script(fig: Any) -> str:
    """JavaScript that keeps the 3D cameras of a figure's linked panels in step.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        A figure from :func:`plot_meshes_side_by_side` with ``link_cameras=True``.

    Returns
    -------
    str
        A snippet for plotly's ``post_script`` (``fig.show(post_script=...)`` in the
        ``"notebook"``/``"browser"`` renderers, ``fig.write_html(post_script=...)``), or
        ``""`` if the figure has no linked panels. :func:`mxkit.viz.save_html` adds it
        by itself.
    """
    meta = getattr(fig.layout, "meta", None)
    scenes = meta.get("mxkit_linked_scenes") if isinstance(meta, Mapping) else None
    if not scenes:
        return ""
    return (
        "(function(){var gd=document.getElementById('{plot_id}');"
        f"var scenes={json.dumps(list(scenes))};var busy=false;"
        "function sync(ev){if(busy||!ev)return;for(var key in ev){"
        "var m=key.match(/^(scene[0-9]*)\\.camera$/);"
        "if(m&&scenes.indexOf(m[1])>=0){var upd={};scenes.forEach(function(s){"
        "if(s!==m[1]){upd[s+'.camera']=ev[key];}});busy=true;"
        "Promise.resolve(Plotly.relayout(gd,upd)).then(function(){busy=false;},"
        "function(){busy=false;});return;}}}"
        "gd.on('plotly_relayout',sync);gd.on('plotly_relayouting',sync);})();"
    )


# ---------------------------------------------------------------------------- animation
def mesh_animation(
    vertices: Any,
    faces: Any,
    *,
    scalars: Any = None,
    magnify: float = 1.0,
    fps: float = 10.0,
    frame_labels: Sequence[str] | None = None,
    colorscale: Any = "Viridis",
    cmin: float | None = None,
    cmax: float | None = None,
    colorbar_title: str | None = None,
    color: str = SKIN_COLOR,
    landmarks: Any = None,
    units: Units = "mm",
    camera: Camera | Mapping[str, Any] = "front",
    lighting: str | Mapping[str, float] = "soft",
    show_axes: bool = False,
    title: str | None = None,
    height: int | None = 550,
) -> go.Figure:
    """An animated mesh sequence (e.g. onset -> apex -> offset) with play/pause and a slider.

    Parameters
    ----------
    vertices : array or Tensor, shape (T, V, 3)
        Positions per frame in metres.
    faces : array or Tensor, shape (F, 3), int
    scalars : array or Tensor of shape (T, V), or ``"displacement"``, optional
        Per-frame vertex values, or the displacement magnitude from frame 0 in ``units``.
        Colour limits are shared over all frames (default: the global range; from 0 for
        ``"displacement"``), so colours are comparable between frames.
    magnify : float
        Draw ``V_0 + magnify * (V_t - V_0)`` to make sub-millimetre motion visible;
        scalars are not magnified.
    fps : float
        Playback rate in frames per second.
    frame_labels : sequence of str, length T, optional
        Slider labels (default: the frame index).
    colorscale, cmin, cmax, colorbar_title, color, units, camera, lighting, show_axes
        As in :func:`plot_mesh`.
    landmarks : array or Tensor, shape (T, L, 3), optional
        Per-frame landmarks in metres (magnified like the mesh; markers lifted 0.5 mm off
        the surface, true positions in ``customdata``).
    title : str, optional
    height : int, optional

    Returns
    -------
    plotly.graph_objects.Figure
        ``fig.frames`` holds T frames named ``"0" .. "T-1"``; each updates the ``Mesh3d``'s
        ``x, y, z`` (and ``intensity``) and the landmarks. Axis ranges are fixed over the
        sequence so the view does not jump.

    Examples
    --------
    >>> v0 = np.array([[0.0, 0, 0], [0.01, 0, 0], [0, 0.01, 0]])
    >>> seq = np.stack([v0, v0 + [0, 0, 0.0005], v0])               # onset, apex, offset
    >>> fig = mesh_animation(seq, [[0, 1, 2]], scalars="displacement")
    >>> len(fig.frames), [float(x) for x in fig.frames[1].data[0].intensity]
    (3, [0.5, 0.5, 0.5])
    """
    go = require_plotly("mesh_animation")
    scale = _scale(units)
    seq = _to_numpy(vertices, "vertices")
    dims = check_shape(seq, ("T", "V", 3), "vertices")
    T, V = dims["T"], dims["V"]
    if T < 1:
        raise ShapeError("vertices must hold at least one frame; got T=0")
    if not (np.issubdtype(seq.dtype, np.floating) or np.issubdtype(seq.dtype, np.integer)):
        raise InputValueError(f"vertices must hold real numbers; got dtype {seq.dtype}")
    seq = seq.astype(np.float64)
    _as_points(seq.reshape(-1, 3), "vertices")              # finiteness
    f = _as_faces(faces, V)
    if not (np.isfinite(fps) and fps > 0):
        raise InputValueError(f"fps must be positive; got {fps}")
    if not np.isfinite(magnify):
        raise InputValueError(f"magnify must be finite; got {magnify}")
    if frame_labels is not None and len(frame_labels) != T:
        raise ShapeError(f"frame_labels has {len(frame_labels)} labels for {T} frames")
    labels = [str(s) for s in frame_labels] if frame_labels is not None else \
        [str(t) for t in range(T)]
    s = None
    if isinstance(scalars, str):
        check_option(scalars, ("displacement",), "scalars")
        s = np.linalg.norm(seq - seq[:1], axis=2) * scale
        colorbar_title = colorbar_title or f"|d| from frame 0 ({units})"
        cmin = 0.0 if cmin is None else cmin
    elif scalars is not None:
        s = _to_numpy(scalars, "scalars")
        check_shape(s, (T, V), "scalars")
        s = _as_scalars(s.reshape(-1), T * V).reshape(T, V)
    if s is not None:
        cmin, cmax = _limits(s, cmin, cmax, symmetric=False)
    lms = None
    if landmarks is not None:
        lms = _to_numpy(landmarks, "landmarks")
        check_shape(lms, (T, "L", 3), "landmarks")
        lms = _as_points(lms.reshape(-1, 3), "landmarks").reshape(lms.shape).astype(np.float64)
        lms = (lms[:1] + float(magnify) * (lms - lms[:1])) * scale
    shown = (seq[:1] + float(magnify) * (seq - seq[:1])) * scale
    shown = shown.astype(np.float32)
    lo = shown.reshape(-1, 3).min(axis=0)
    hi = shown.reshape(-1, 3).max(axis=0)
    if lms is not None:
        lo = np.minimum(lo, lms.reshape(-1, 3).min(axis=0))
        hi = np.maximum(hi, lms.reshape(-1, 3).max(axis=0))
    pad = 0.02 * max(float((hi - lo).max()), 1e-9)
    ranges = np.stack([lo - pad, hi + pad])

    base = _mesh_trace(go, shown[0], f, intensity=None if s is None else s[0],
                       colorscale=colorscale, cmin=cmin, cmax=cmax,
                       colorbar=_colorbar(colorbar_title), color=color, lighting=lighting,
                       units=units, name="mesh")
    data = [base]
    lifted = nearest = None
    if lms is not None:
        # display units: lift 0.5 mm along the normals of the drawn (magnified) mesh
        nearest = _nearest_vertices(lms[0], shown[0].astype(np.float64))
        lifted = np.stack([_lift(lms[t], shown[t].astype(np.float64), f, 0.0005 * scale,
                                 nearest) for t in range(T)])
        data.append(_landmark_trace(go, lms[0].astype(np.float32), False, "#1b3a8a", units,
                                    lifted[0].astype(np.float32)))
    frames = []
    for t in range(T):
        upd: dict[str, Any] = {"x": shown[t, :, 0], "y": shown[t, :, 1], "z": shown[t, :, 2]}
        if s is not None:
            upd["intensity"] = s[t].astype(np.float32)
        fdata = [go.Mesh3d(**upd)]
        if lms is not None:
            p = lifted[t].astype(np.float32)
            fdata.append(go.Scatter3d(x=p[:, 0], y=p[:, 1], z=p[:, 2],
                                      customdata=lms[t].astype(np.float32)))
        frames.append(go.Frame(data=fdata, name=str(t), traces=list(range(len(fdata)))))
    fig = go.Figure(data=data, frames=frames)
    ms = 1000.0 / float(fps)
    play = {"frame": {"duration": ms, "redraw": True}, "fromcurrent": True,
            "transition": {"duration": 0}, "mode": "immediate"}
    pause = {"frame": {"duration": 0, "redraw": False}, "transition": {"duration": 0},
             "mode": "immediate"}
    steps = [{"method": "animate", "label": labels[t],
              "args": [[str(t)], {"frame": {"duration": 0, "redraw": True},
                                  "transition": {"duration": 0}, "mode": "immediate"}]}
             for t in range(T)]
    fig.update_layout(
        **_base_layout(title, height),
        scene=_scene(camera, units, show_axes, ranges=ranges),
        updatemenus=[{"type": "buttons", "direction": "left", "showactive": False,
                      "x": 0.0, "y": 0.0, "xanchor": "left", "yanchor": "bottom",
                      "pad": {"r": 8, "t": 8},
                      "buttons": [{"label": "▶ play", "method": "animate",
                                   "args": [None, play]},
                                  {"label": "❚❚ pause", "method": "animate",
                                   "args": [[None], pause]}]}],
        sliders=[{"active": 0, "steps": steps, "x": 0.25, "len": 0.73, "y": 0.0,
                  "yanchor": "bottom", "pad": {"t": 8, "b": 4},
                  "currentvalue": {"prefix": "frame: ", "visible": True}}],
    )
    return fig
