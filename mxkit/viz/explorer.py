"""An interactive face-model explorer for notebooks (ipywidgets + plotly).

:func:`model_explorer` returns an ipywidgets box with sliders for Action Units (or the
model's raw expression shapes) and identity components, a colour-by menu and a 3D view.
Moving a slider recomputes the vertices and writes only the vertex arrays (and the colour
values) into the figure, so the view stays where the user left it.

Two ways of showing the figure:

* **live** (default when possible): a :class:`plotly.graph_objects.FigureWidget`, updated
  in place. plotly >= 6 builds ``FigureWidget`` on the ``anywidget`` package; without it
  the class cannot be constructed.
* **fallback**: a plain :class:`plotly.graph_objects.Figure` updated the same way and
  re-rendered into an :class:`ipywidgets.Output` after each change (sliders then update
  on release, since every render sends the whole figure). Install ``anywidget`` for the
  live view.

All the logic lives in :class:`ModelExplorer`, reachable as ``widget.explorer``; its
:meth:`ModelExplorer.update` is the slider callback and can be driven without a kernel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._checks import check_option
from ..errors import BackendUnavailableError, InputValueError
from ._backend import figure_widget_available, require_ipywidgets, require_plotly
from .mesh import (
    SKIN_COLOR,
    _base_layout,
    _colorbar,
    _landmark_trace,
    _lift,
    _mesh_trace,
    _nearest_vertices,
    _region_style,
    _scale,
    _scene,
)

if TYPE_CHECKING:  # pragma: no cover
    import ipywidgets
    import torch

    from ..morph.model import FaceModel

__all__ = ["model_explorer", "ModelExplorer"]

#: FACS names of the AUs in mxkit's AU view (slider tooltips).
FACS_NAMES: dict[str, str] = {
    "AU1": "inner brow raiser", "AU2": "outer brow raiser", "AU4": "brow lowerer",
    "AU5": "upper lid raiser", "AU6": "cheek raiser", "AU7": "lid tightener",
    "AU9": "nose wrinkler", "AU10": "upper lip raiser", "AU11": "nasolabial deepener",
    "AU12": "lip corner puller", "AU14": "dimpler", "AU15": "lip corner depressor",
    "AU16": "lower lip depressor", "AU17": "chin raiser", "AU18": "lip pucker",
    "AU20": "lip stretcher", "AU22": "lip funneler", "AU24": "lip pressor",
    "AU27": "mouth stretch", "AU28": "lip suck", "AU29": "jaw thrust", "AU30": "jaw sideways",
    "AU33": "cheek blow", "AU45": "blink",
}

_COLOR_BY = ("none", "displacement", "region")


class ModelExplorer:
    """Sliders, colour menu and 3D view of a :class:`~mxkit.morph.FaceModel` (see
    :func:`model_explorer`, which builds one and returns its :attr:`widget`).

    Attributes
    ----------
    model : FaceModel
    widget : ipywidgets.VBox
        The box to display; ``widget.explorer`` is this object.
    figure : plotly.graph_objects.FigureWidget or plotly.graph_objects.Figure
        ``figure.data[0]`` is the face ``Mesh3d`` (positions in ``units``), ``data[1]`` the
        landmarks when shown (markers 0.5 mm off the surface, true positions in its
        ``customdata``).
    live : bool
        True when ``figure`` is a ``FigureWidget`` updated in place; False for the
        ``Output`` re-render fallback.
    output : ipywidgets.Output or None
        Where the fallback renders the figure.
    au_sliders, expression_sliders, identity_sliders : dict of str to ipywidgets.FloatSlider
        Keyed by AU name (``"AU12"``), expression shape name and identity component name.
    mode : ipywidgets.ToggleButtons
        ``"aus"`` or ``"expression"``: which slider set drives the face.
    color_by : ipywidgets.Dropdown
        ``"none"``, ``"displacement"`` (from the neutral face of the current identity, in
        ``units``) or ``"region"`` (when the model has regions).
    status : ipywidgets.HTML
        One line with the largest displacement from neutral.
    n_renders : int
        How many times the fallback has rendered the figure.
    """

    def __init__(self, model: FaceModel, *, shapes: str | Sequence[str] | None = None,
                 identity_components: int = 8, show_landmarks: bool | str = True,
                 color_by: str = "none", units: str = "mm", height: int = 520,
                 camera: Any = "front", lighting: Any = "soft",
                 figure_widget: bool | None = None):
        widgets = require_ipywidgets("model_explorer")
        go = require_plotly("model_explorer")
        self.model = model
        self.units = units
        self._scale = _scale(units)
        self._faces = model.faces.detach().cpu().numpy()
        check_option(color_by, _COLOR_BY, "color_by")
        if color_by == "region" and not model.region_names:
            raise InputValueError(f"model {model.name!r} has no regions to colour by")
        au_names, expr_names, start = self._slider_names(shapes)
        self._active = start          # "aus" or "expression": the slider set in use
        self._held = False            # True while reset() sets many sliders
        if identity_components < 0:
            raise InputValueError(f"identity_components must be >= 0; got {identity_components}")
        id_names = list(model.identity_names[: min(int(identity_components), model.n_identity)])

        self.live = figure_widget_available() if figure_widget is None else bool(figure_widget)
        update_live = self.live  # fallback renders once per release, not per drag step

        def slider(name: str, lo: float, hi: float, step: float, tip: str = "") -> Any:
            s = widgets.FloatSlider(value=0.0, min=lo, max=hi, step=step, description=name,
                                    tooltip=tip or name, continuous_update=update_live,
                                    readout_format=".2f", style={"description_width": "initial"},
                                    layout=widgets.Layout(width="330px"))
            s.observe(self.update, names="value")
            return s

        self.au_sliders = {a: slider(a, 0.0, 1.0, 0.01, FACS_NAMES.get(a, a)) for a in au_names}
        lo = 0.0 if model.expression_kind == "arkit" else -3.0
        hi = 1.0 if model.expression_kind == "arkit" else 3.0
        self.expression_sliders = {e: slider(e, lo, hi, 0.01) for e in expr_names}
        self.identity_sliders = {k: slider(k, -3.0, 3.0, 0.05, "identity coefficient (SD)")
                                 for k in id_names}

        # landmarks
        kind: str | None
        if show_landmarks is True:
            kind = "ibug68" if "ibug68" in model.landmark_schemes else (
                model.landmark_schemes[0] if model.landmark_schemes else None)
        elif show_landmarks is False or show_landmarks is None:
            kind = None
        else:
            kind = check_option(show_landmarks, model.landmark_schemes, "show_landmarks")
        self._landmark_kind = kind

        # figure
        verts = self.current_vertices()
        xyz = (verts * self._scale).astype(np.float32)
        fig = go.Figure()
        fig.add_trace(_mesh_trace(go, xyz, self._faces, intensity=None, color=SKIN_COLOR,
                                  lighting=lighting, units=units, name=model.name))
        self._nearest: np.ndarray | None = None
        if kind is not None:
            lm = self._landmarks(verts)
            self._nearest = _nearest_vertices(lm, verts)
            fig.add_trace(_landmark_trace(go, (lm * self._scale).astype(np.float32), False,
                                          "#1b3a8a", units, self._lifted(lm, verts)))
        fig.update_layout(scene=_scene(camera, units, False), **_base_layout(None, height))
        if self.live:
            try:
                fig = go.FigureWidget(fig)
            except ImportError as exc:
                if figure_widget:
                    raise BackendUnavailableError(
                        "model_explorer(figure_widget=True) needs plotly's FigureWidget, "
                        f"which cannot be built here ({exc}); install it with: "
                        "pip install anywidget") from exc
                self.live = False
                for s in (*self.au_sliders.values(), *self.expression_sliders.values(),
                          *self.identity_sliders.values()):
                    s.continuous_update = False
        self.figure = fig
        self.output = None if self.live else widgets.Output()
        self.n_renders = 0
        self._style: str | None = None
        self._neutral_key: tuple[float, ...] | None = None
        self._neutral: np.ndarray | None = None

        # controls
        options = [("none", "none"), (f"displacement from neutral ({units})", "displacement")]
        if model.region_names:
            options.append(("region", "region"))
        self.color_by = widgets.Dropdown(options=options, value=color_by,
                                         description="colour by",
                                         layout=widgets.Layout(width="330px"))
        self.color_by.observe(self.update, names="value")
        modes = []
        if self.au_sliders:
            modes.append(("AUs", "aus"))
        if self.expression_sliders:
            modes.append(("ARKit shapes" if model.expression_kind == "arkit"
                          else "expression", "expression"))
        self.mode = widgets.ToggleButtons(options=modes or [("none", start)], value=start,
                                          style={"button_width": "110px"})
        self.mode.observe(self._on_mode, names="value")
        self.mode.layout.display = "flex" if len(modes) > 1 else "none"
        reset = widgets.Button(description="reset", icon="undo",
                               layout=widgets.Layout(width="90px"))
        reset.on_click(lambda _: self.reset())
        self.status = widgets.HTML()

        def panel(sliders: dict[str, Any], name: str) -> Any:
            return widgets.VBox(list(sliders.values()), layout=widgets.Layout(
                max_height=f"{max(height - 130, 200)}px", overflow="auto", width="350px",
                display="flex" if start == name else "none"))

        self._panels = {"aus": panel(self.au_sliders, "aus"),
                        "expression": panel(self.expression_sliders, "expression")}
        id_box = widgets.VBox(
            [widgets.HTML("<b>identity</b>"), *self.identity_sliders.values()],
            layout=widgets.Layout(display="flex" if self.identity_sliders else "none"))
        controls = widgets.VBox([self.mode, self._panels["aus"], self._panels["expression"],
                                 id_box], layout=widgets.Layout(width="360px"))
        view = self.figure if self.live else self.output
        self.widget = widgets.VBox([
            widgets.HBox([self.color_by, reset, self.status]),
            widgets.HBox([controls, widgets.Box([view], layout=widgets.Layout(
                flex="1 1 auto", min_width="420px"))]),
        ])
        self.widget.explorer = self
        self.update()

    # ------------------------------------------------------------------ setup helpers
    def _slider_names(self, shapes: str | Sequence[str] | None
                      ) -> tuple[list[str], list[str], str]:
        """(AU slider names, expression slider names, starting mode)."""
        model = self.model
        aus = list(model.au_names)
        exprs = list(model.expression_names)
        if shapes is None:
            return aus, exprs, "aus" if aus else "expression"
        if isinstance(shapes, str):
            key = check_option(shapes, ("aus", "expression", "arkit"), "shapes")
            start = "aus" if key == "aus" else "expression"
            if start == "aus" and not aus:
                raise InputValueError(f"model {model.name!r} has no AU view "
                                      f"({model.expression_kind!r} expressions)")
            return aus, exprs, start
        from ..morph.au import parse_au_key

        chosen_aus, chosen_expr = [], []
        for name in shapes:
            if name in exprs:
                chosen_expr.append(name)
                continue
            try:
                au, side = parse_au_key(name)
            except InputValueError:
                au, side = None, None
            if au in aus and side is None:
                chosen_aus.append(au)
            else:
                raise InputValueError(f"shapes: {name!r} is neither an AU of this model "
                                      f"({aus}) nor one of its expression shapes")
        return chosen_aus, chosen_expr, "aus" if chosen_aus else "expression"

    def _landmarks(self, verts: np.ndarray) -> np.ndarray:
        import torch

        v = torch.as_tensor(verts)[None].to(self.model.v_template)
        return self.model.landmarks(v, self._landmark_kind)[0].detach().cpu().numpy()

    def _lifted(self, lm: np.ndarray, verts: np.ndarray) -> np.ndarray:
        """Marker positions (L, 3) in display units, 0.5 mm off the surface."""
        up = _lift(lm, verts, self._faces, 0.0005, self._nearest)
        return (up * self._scale).astype(np.float32)

    # ------------------------------------------------------------------ state
    def expression_weights(self) -> torch.Tensor:
        """Expression weights (1, E) from the active slider set."""
        import torch

        model = self.model
        like = model.v_template
        if self._active == "aus" and self.au_sliders:
            a = torch.zeros(1, len(model.au_names), dtype=like.dtype, device=like.device)
            for name, s in self.au_sliders.items():
                a[0, model.au_names.index(name)] = float(s.value)
            return model.aus_to_expression(a)
        w = torch.zeros(1, model.n_expressions, dtype=like.dtype, device=like.device)
        for name, s in self.expression_sliders.items():
            w[0, model.expression_index(name)[0]] = float(s.value)
        return w

    def identity_coefficients(self) -> torch.Tensor:
        """Identity coefficients (1, K); components without a slider are 0."""
        import torch

        model = self.model
        c = torch.zeros(1, model.n_identity, dtype=model.v_template.dtype,
                        device=model.v_template.device)
        for k, s in enumerate(self.identity_sliders.values()):
            c[0, k] = float(s.value)
        return c

    def current_vertices(self) -> np.ndarray:
        """Vertices (V, 3) in metres for the current slider values."""
        import torch

        with torch.no_grad():
            v = self.model(self.identity_coefficients(), self.expression_weights())
        return v[0].detach().cpu().numpy().astype(np.float64)

    def neutral_vertices(self) -> np.ndarray:
        """Vertices (V, 3) in metres of the current identity with a neutral expression."""
        import torch

        ident = self.identity_coefficients()
        key = tuple(ident[0].tolist())
        if key != self._neutral_key or self._neutral is None:
            with torch.no_grad():
                self._neutral = self.model(ident)[0].detach().cpu().numpy().astype(np.float64)
            self._neutral_key = key
        return self._neutral

    # ------------------------------------------------------------------ callbacks
    def _on_mode(self, change: Mapping[str, Any]) -> None:
        self._active = change["new"]
        for name, panel in self._panels.items():
            panel.layout.display = "flex" if name == change["new"] else "none"
        self.update()

    def reset(self) -> None:
        """Set every slider to 0 (one figure update)."""
        sliders = [*self.au_sliders.values(), *self.expression_sliders.values(),
                   *self.identity_sliders.values()]
        self._held = True
        try:
            for s in sliders:
                s.value = 0.0
        finally:
            self._held = False
        self.update()

    def update(self, change: Mapping[str, Any] | None = None) -> None:
        """Recompute the face from the widgets and write it into :attr:`figure`.

        This is the callback every slider and menu calls; only the ``Mesh3d``'s ``x, y, z``
        (and ``intensity`` when colouring by displacement) and the landmark positions change,
        except when the colour mode itself changes.

        Parameters
        ----------
        change : dict, optional
            The traitlets change notification (unused).
        """
        if self._held:
            return
        verts = self.current_vertices()
        xyz = (verts * self._scale).astype(np.float32)
        disp = np.linalg.norm(verts - self.neutral_vertices(), axis=1) * self._scale
        style = self.color_by.value
        fig = self.figure
        with fig.batch_update():
            mesh = fig.data[0]
            mesh.x, mesh.y, mesh.z = xyz[:, 0], xyz[:, 1], xyz[:, 2]
            if style == "displacement":
                if self._style != style:
                    mesh.intensitymode = "vertex"
                    mesh.colorscale = "Viridis"
                    mesh.colorbar = _colorbar(f"|d| from neutral ({self.units})")
                    mesh.cmin = 0.0
                    mesh.showscale = True
                mesh.intensity = disp.astype(np.float32)
                mesh.cmax = float(max(disp.max(), 1e-6))
            elif style == "region" and self._style != style:
                for key, value in _region_style(self.model, self._faces).items():
                    mesh[key] = value          # assignment replaces (no merge with old bar)
                mesh.showscale = True
            elif style == "none" and self._style != style:
                mesh.intensity = None
                mesh.showscale = False
                mesh.color = SKIN_COLOR
            if self._landmark_kind is not None:
                lm = self._landmarks(verts)
                up = self._lifted(lm, verts)
                fig.data[1].x, fig.data[1].y, fig.data[1].z = up[:, 0], up[:, 1], up[:, 2]
                fig.data[1].customdata = (lm * self._scale).astype(np.float32)
        self._style = style
        self.status.value = (f"<span style='font-family:monospace'>max |d| from neutral = "
                             f"{float(disp.max()):.3f} {self.units}</span>")
        if not self.live:
            self._render()

    def _render(self) -> None:
        """Fallback: replace the Output widget's content with the figure's current state."""
        bundle = self.figure._repr_mimebundle_(None, None) or {}
        if not bundle:  # no notebook renderer (no kernel): keep a short text stand-in
            bundle = {"text/plain": f"<plotly figure: {self.model.name}>"}
        self.output.outputs = ({"output_type": "display_data", "data": bundle,
                                "metadata": {}},)
        self.n_renders += 1


def model_explorer(
    model: FaceModel,
    *,
    shapes: Literal["aus", "expression"] | Sequence[str] | None = None,
    identity_components: int = 8,
    show_landmarks: bool | str = True,
    color_by: Literal["none", "displacement", "region"] = "none",
    units: str = "mm",
    height: int = 520,
    camera: Any = "front",
    lighting: Any = "soft",
    figure_widget: bool | None = None,
) -> ipywidgets.Widget:
    """Interactive explorer of a face model: AU / expression / identity sliders + 3D view.

    Parameters
    ----------
    model : FaceModel
        E.g. ``mxkit.morph.load_face_model("mh-head")``.
    shapes : {"aus", "expression"} or sequence of str, optional
        Which slider set drives the face first: AU intensities in [0, 1] (through
        :meth:`FaceModel.aus_to_expression`; the default for ARKit models) or the raw
        expression shapes (ARKit weights in [0, 1]; PCA coefficients in [-3, 3] for PCA
        models). A toggle switches between the two. A sequence of AU names (``"AU12"``)
        and/or shape names limits the sliders to those.
    identity_components : int
        Sliders for the first identity components (coefficients in standard deviations,
        range [-3, 3]).
    show_landmarks : bool or str
        Draw ``"ibug68"`` landmarks (``True``), another kind by name, or none.
    color_by : {"none", "displacement", "region"}
        Initial colouring; also a menu in the widget. ``"displacement"`` is the distance of
        each vertex from the neutral face of the same identity, in ``units``.
    units : {"mm", "cm", "m"}
        Display unit (model space is metres).
    height : int
        Figure height in pixels.
    camera, lighting
        Presets as in :func:`mxkit.viz.plot_mesh`.
    figure_widget : bool, optional
        Use a live ``FigureWidget`` (needs ``anywidget`` with plotly >= 6) or the
        ``Output`` re-render fallback; default: live when available.

    Returns
    -------
    ipywidgets.VBox
        Display it in a notebook. ``widget.explorer`` is the :class:`ModelExplorer` with the
        figure, the sliders and :meth:`ModelExplorer.update`.

    Raises
    ------
    BackendUnavailableError
        plotly or ipywidgets is missing.
    InputValueError, OptionError
        Unknown shape names or options.

    Examples
    --------
    >>> w = model_explorer(load_face_model("mh-head"))   # doctest: +SKIP
    >>> w.explorer.au_sliders["AU12"].value = 0.5        # the face smiles   # doctest: +SKIP
    """
    return ModelExplorer(model, shapes=shapes, identity_components=identity_components,
                         show_landmarks=show_landmarks, color_by=color_by, units=units,
                         height=height, camera=camera, lighting=lighting,
                         figure_widget=figure_widget).widget
