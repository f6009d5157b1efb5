"""Views of a reconstructed clip: 3D magnification of the micro-motion, an animation for static
pages and an interactive explorer (plotly + ipywidgets).

* :func:`magnify_motion` -- ``V_onset + alpha (V_t - V_onset)``: the 3D analogue of Eulerian
  video magnification (the geometry is exaggerated, the measured motion is not changed).
* :func:`plot_magnified_motion` -- one frame of a :class:`~mxkit.workflows.Reconstruction`,
  magnified, coloured by the true (unmagnified) displacement since the onset, the deformer's
  offsets or the error against a ground truth, optionally only inside AU regions.
* :func:`reconstruction_animation` -- a few frames onset -> apex -> offset as a plotly
  animation, cropped to the face: the fallback for static HTML (no kernel needed).
* :func:`reconstruction_explorer` -- frame and magnification sliders, mesh / colour /
  component menus, AU-region toggles and, with the :class:`~mxkit.pipeline.Prepared` clip, the
  aligned frame with its optical flow (arrows or colour) at the slider's frame.

Inputs are duck-typed: a reconstruction is anything with ``vertices`` (T, V, 3) in metres
(unposed model frame) and ``onset``, ``apex``, ``offset``; ``vertices_coarse``, ``offsets`` and
``fps`` are used when present (:class:`~mxkit.workflows.Reconstruction` and
:func:`mxkit.eval.oracle_reconstruction` have them all). A ground truth is a
:class:`~mxkit.data.synth.SynthTruth` (or anything with ``.vertices(model)``), a clip carrying
one, or an array (T, V, 3). Colours are in display units (mm by default) and never magnified.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._checks import check_option, check_shape
from ..errors import BackendUnavailableError, InputValueError, ShapeError
from ..meshio import _to_numpy, vertex_normals
from ._backend import figure_widget_available, require, require_ipywidgets, require_plotly
from .mesh import (
    SKIN_COLOR,
    _base_layout,
    _colorbar,
    _limits,
    _mesh_trace,
    _scale,
    _scene,
    mesh_animation,
    plot_mesh,
)

if TYPE_CHECKING:  # pragma: no cover
    import ipywidgets
    import plotly.graph_objects as go

    from ..morph.model import FaceModel

__all__ = [
    "magnify_motion",
    "plot_magnified_motion",
    "reconstruction_animation",
    "reconstruction_explorer",
    "ReconstructionExplorer",
    "COLOR_MODES",
    "COMPONENTS",
]

#: Colour modes: displacement since the onset, MeshDeformer offsets, error against the truth's
#: displacement since its onset (no rigid alignment), or the plain skin tone.
COLOR_MODES = ("displacement", "offsets", "error", "none")
#: Components of a vector field shown as colour (see :func:`mxkit.viz.displacement_scalars`).
COMPONENTS = ("magnitude", "normal", "x", "y", "z")
#: AUs offered as region toggles when no ground truth names the clip's AUs.
DEFAULT_AUS = ("AU1", "AU2", "AU4", "AU6", "AU7", "AU9", "AU10", "AU12", "AU14", "AU15", "AU17")
_OVERLAYS = ("arrows", "colour", "none")
_MESH_LABELS = {"fine": "fine", "coarse": "coarse", "truth": "truth"}
_MODE_LABELS = {"displacement": "displacement since onset", "offsets": "deformer offsets",
                "error": "error vs truth", "none": "none"}


# ----------------------------------------------------------------------------- magnification
def magnify_motion(vertices: Any, onset: Any = 0, alpha: float = 1.0) -> np.ndarray:
    """Magnify the motion of a mesh sequence about a reference: ``R + alpha (V_t - R)``.

    The 3D analogue of Eulerian video magnification: every vertex keeps its direction of
    motion, the length of its displacement from the reference (the onset) is multiplied by
    ``alpha``. ``alpha = 1`` returns the input, ``alpha = 0`` the reference.

    Parameters
    ----------
    vertices : array or Tensor, shape (T, V, 3) or (V, 3)
        Positions, any unit (mxkit uses metres).
    onset : int or array of shape (V, 3)
        Index of the reference frame in ``vertices`` (T, V, 3), or the reference positions
        themselves.
    alpha : float
        Magnification factor (finite; values < 1 attenuate, negative ones reverse the motion).

    Returns
    -------
    numpy.ndarray, same shape as ``vertices``, float64

    Raises
    ------
    ShapeError
        ``vertices`` is not (T, V, 3) / (V, 3), or the reference does not match.
    InputValueError
        Non-finite ``alpha`` or values, an onset index out of range, or an index with a single
        (V, 3) mesh.

    Examples
    --------
    >>> seq = np.zeros((3, 2, 3)); seq[2, 0, 2] = 0.001          # vertex 0 moves 1 mm in z
    >>> magnify_motion(seq, onset=0, alpha=10)[2, 0].tolist()
    [0.0, 0.0, 0.01]
    """
    v = _to_numpy(vertices, "vertices").astype(np.float64)
    if v.ndim not in (2, 3) or v.shape[-1] != 3:
        raise ShapeError(f"vertices must have shape (T, V, 3) or (V, 3); got {v.shape}")
    alpha = _check_alpha(alpha)
    if not np.isfinite(v).all():
        raise InputValueError("vertices hold NaN or infinite values")
    if isinstance(onset, (int, np.integer)) and not isinstance(onset, bool):
        if v.ndim != 3:
            raise InputValueError("an onset index needs a sequence of shape (T, V, 3); pass "
                                  "the reference positions (V, 3) for a single mesh")
        if not -v.shape[0] <= int(onset) < v.shape[0]:
            raise InputValueError(f"onset {onset} out of range for {v.shape[0]} frames")
        ref = v[int(onset)]
    else:
        ref = _to_numpy(onset, "onset").astype(np.float64)
        check_shape(ref, (v.shape[-2], 3), "onset (reference positions)")
        if not np.isfinite(ref).all():
            raise InputValueError("the reference positions hold NaN or infinite values")
    return ref + alpha * (v - ref)


# ----------------------------------------------------------------------------- the data
def _truth_vertices(truth: Any, model: Any) -> np.ndarray:
    gt = getattr(truth, "ground_truth", None)
    if gt is not None and not hasattr(truth, "vertices"):
        truth = gt                                    # a clip carrying its SynthTruth
    if hasattr(truth, "vertices") and callable(truth.vertices):
        truth = truth.vertices(model)
    return _to_numpy(truth, "truth").astype(np.float64)


def _au_keys(truth: Any) -> tuple[str, ...]:
    gt = getattr(truth, "ground_truth", None) or truth
    aus = getattr(gt, "aus", None)
    return tuple(aus) if isinstance(aus, Mapping) else ()


class _Sequence:
    """A reconstruction's meshes as numpy arrays, and the colour fields derived from them."""

    def __init__(self, recon: Any, model: FaceModel, *, truth: Any = None, units: str = "mm"):
        for name in ("vertices", "onset", "apex", "offset"):
            if not hasattr(recon, name):
                raise InputValueError(f"recon has no {name!r}: pass an mxkit.reconstruct "
                                      "Reconstruction (or an object with vertices (T, V, 3) "
                                      "and onset / apex / offset)")
        fine = _to_numpy(recon.vertices, "recon.vertices").astype(np.float64)
        T, V = check_shape(fine, ("T", "V", 3), "recon.vertices").values()
        if V != model.n_vertices:
            raise ShapeError(f"the reconstruction has {V} vertices, model {model.name!r} has "
                             f"{model.n_vertices}")
        self.T, self.V = T, V
        self.onset, self.apex, self.offset = (int(recon.onset), int(recon.apex),
                                              int(recon.offset))
        if not 0 <= self.onset <= self.apex < T or not self.onset <= self.offset < T:
            raise InputValueError(f"onset {self.onset}, apex {self.apex}, offset {self.offset} "
                                  f"do not fit {T} frames")
        self.meshes: dict[str, np.ndarray] = {"fine": fine}
        coarse = getattr(recon, "vertices_coarse", None)
        if coarse is not None:
            self.meshes["coarse"] = _to_numpy(coarse, "vertices_coarse").astype(np.float64)
            check_shape(self.meshes["coarse"], (T, V, 3), "recon.vertices_coarse")
        self.offsets = None
        if getattr(recon, "vertex_offsets", None) is not None:
            self.offsets = _to_numpy(recon.vertex_offsets, "vertex_offsets").astype(np.float64)
            check_shape(self.offsets, (T, V, 3), "recon.vertex_offsets")
        if truth is not None:
            self.meshes["truth"] = _truth_vertices(truth, model)
            check_shape(self.meshes["truth"], (T, V, 3), "truth vertices")
        for name, m in self.meshes.items():
            if not np.isfinite(m).all():
                raise InputValueError(f"the {name} vertices hold NaN or infinite values")
        fps = float(getattr(recon, "fps", math.nan) or math.nan)
        self.fps = fps if math.isfinite(fps) and fps > 0 else math.nan
        self.faces = np.asarray(model.faces.detach().cpu().numpy(), dtype=np.int64)
        self.units = units
        self.scale = _scale(units)
        self._normals: dict[str, np.ndarray] = {}
        self._limits: dict[tuple[str, str, str], tuple[float, float]] = {}

    # ------------------------------------------------------------------ lookups
    def modes(self) -> list[str]:
        out = ["displacement"]
        if self.offsets is not None:
            out.append("offsets")
        if "truth" in self.meshes:
            out.append("error")
        return [*out, "none"]

    def frame_index(self, frame: Any) -> int:
        if frame is None:
            return self.apex
        if isinstance(frame, str):
            key = check_option(frame, ("onset", "apex", "offset"), "frame")
            return int(getattr(self, key))
        if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) \
                or not 0 <= int(frame) < self.T:
            raise InputValueError(f"frame must be an index in [0, {self.T}) or 'onset' / "
                                  f"'apex' / 'offset'; got {frame!r}")
        return int(frame)

    def check(self, mesh: str, mode: str, component: str) -> None:
        check_option(mesh, tuple(self.meshes), "mesh")
        check_option(component, COMPONENTS, "component")
        if mode not in self.modes():
            check_option(mode, COLOR_MODES, "color_by")
            raise InputValueError(f"color_by={mode!r} needs "
                                  + ("a ground truth (truth=...)" if mode == "error"
                                     else "a reconstruction with offsets"))

    def phase(self, t: int) -> str:
        for name in ("onset", "apex", "offset"):
            if t == getattr(self, name):
                return name
        if t < self.onset:
            return "before"
        if t > self.offset:
            return "after"
        return "rising" if t < self.apex else "falling"

    def label(self, t: int) -> str:
        """``"25 apex +85 ms"``: index, key-frame name, time since the onset."""
        text = str(t)
        phase = self.phase(t)
        if phase in ("onset", "apex", "offset"):
            text += f" {phase}"
        if math.isfinite(self.fps):
            text += f" {1000.0 * (t - self.onset) / self.fps:+.0f} ms"
        return text

    # ------------------------------------------------------------------ geometry and colour
    def shown(self, mesh: str, frames: Sequence[int], alpha: float) -> np.ndarray:
        """Magnified positions (N, V, 3), metres."""
        m = self.meshes[mesh]
        return magnify_motion(m[list(frames)], m[self.onset], alpha)

    def vectors(self, mode: str, mesh: str, frames: Sequence[int]) -> np.ndarray:
        """The vector field (N, V, 3) in metres that ``mode`` colours."""
        fr = list(frames)
        if mode == "offsets":
            return self.offsets[fr]
        m = self.meshes[mesh]
        d = m[fr] - m[self.onset]
        if mode == "error":
            gt = self.meshes["truth"]
            d = d - (gt[fr] - gt[self.onset])
        return d

    def scalars(self, mode: str, mesh: str, frames: Sequence[int], component: str) -> np.ndarray:
        """Per-vertex values (N, V) in display units."""
        d = self.vectors(mode, mesh, frames) * self.scale
        if component == "magnitude":
            return np.linalg.norm(d, axis=-1)
        if component == "normal":
            if mesh not in self._normals:
                self._normals[mesh] = vertex_normals(self.meshes[mesh][self.onset], self.faces)
            return (d * self._normals[mesh]).sum(-1)
        return d[..., "xyz".index(component)]

    def limits(self, mode: str, mesh: str, component: str,
               frames: Sequence[int] | None = None) -> tuple[float, float]:
        """Colour limits over ``frames`` (default every frame, cached): (0, max) for a
        magnitude, symmetric for a signed component."""
        if frames is None:
            key = (mode, mesh, component)
            if key not in self._limits:
                self._limits[key] = self.limits(mode, mesh, component, range(self.T))
            return self._limits[key]
        s = self.scalars(mode, mesh, frames, component)
        if component == "magnitude":
            return _limits(s, 0.0, None, symmetric=False)
        return _limits(s, None, None, symmetric=True)

    def colorbar_title(self, mode: str, component: str) -> str:
        name, suffix = {"displacement": ("d", " since onset"), "offsets": ("δ", " offsets"),
                        "error": ("d − d_true", "")}[mode]
        if component == "magnitude":
            sym = f"|{name}|"
        else:
            wrapped = f"({name})" if mode == "error" else name
            sym = f"{wrapped}·n" if component == "normal" else f"{wrapped}_{component}"
        return f"{sym}{suffix} ({self.units})"


def _au_weights(model: FaceModel, aus: Sequence[str] | None) -> np.ndarray | None:
    """Union (max) of the soft AU-region masks (V,) in [0, 1]; None for no AU."""
    if not aus:
        return None
    return np.max(np.stack([np.asarray(model.au_region_mask(a), dtype=np.float64)
                            for a in aus]), axis=0)


def _facs_name(key: str) -> str:
    """``"lip corner puller"`` for ``"AU12"``, ``"L12"`` or ``"R12"`` (the key if unknown)."""
    from .explorer import FACS_NAMES

    au = f"AU{key[1:]}" if key[:1] in ("L", "R") else key
    return FACS_NAMES.get(au, key)


def _colorscale(component: str, colorscale: Any) -> Any:
    if colorscale is not None:
        return colorscale
    return "Viridis" if component == "magnitude" else "RdBu_r"


def _colour_style(seq: _Sequence, model: FaceModel, mode: str, mesh: str, frames: Sequence[int],
                  component: str, aus: Sequence[str] | None, colorscale: Any) -> dict[str, Any]:
    """``scalars`` (N, V) limited to the AU regions, limits over ``frames``, scale and title."""
    s = seq.scalars(mode, mesh, frames, component)
    lo, hi = seq.limits(mode, mesh, component, frames)
    w = _au_weights(model, aus)
    return {"scalars": s if w is None else s * w, "cmin": lo, "cmax": hi,
            "colorscale": _colorscale(component, colorscale),
            "colorbar_title": seq.colorbar_title(mode, component)}


def _check_alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.number)) \
            or not math.isfinite(float(alpha)):
        raise InputValueError(f"alpha must be a finite number; got {alpha!r}")
    return float(alpha)


# ----------------------------------------------------------------------------- static figures
def plot_magnified_motion(
    recon: Any,
    model: FaceModel,
    *,
    alpha: float = 10.0,
    frame: int | str | None = None,
    mesh: Literal["fine", "coarse", "truth"] = "fine",
    color_by: Literal["displacement", "offsets", "error", "none"] = "displacement",
    component: Literal["magnitude", "normal", "x", "y", "z"] = "magnitude",
    truth: Any = None,
    aus: Sequence[str] | None = None,
    units: Literal["mm", "cm", "m"] = "mm",
    cmax: float | None = None,
    colorscale: Any = None,
    camera: Any = "front",
    lighting: Any = "soft",
    title: str | None = None,
    height: int | None = 500,
) -> go.Figure:
    """One frame of a reconstruction with its motion since the onset magnified ``alpha`` times.

    Parameters
    ----------
    recon : Reconstruction
        Or any object with ``vertices`` (T, V, 3) in metres and ``onset, apex, offset``
        (``vertices_coarse`` and ``offsets`` enable ``mesh="coarse"`` and
        ``color_by="offsets"``).
    model : FaceModel
        The model the reconstruction is of (faces, AU regions).
    alpha : float
        Magnification of the drawn geometry: ``onset + alpha (frame - onset)``; colours always
        show the true values.
    frame : int or {"onset", "apex", "offset"}, optional
        Frame to draw (default the apex).
    mesh : {"fine", "coarse", "truth"}
        ``recon.vertices``, ``recon.vertices_coarse`` (before the deformer's offsets) or the
        ground truth (needs ``truth``).
    color_by : {"displacement", "offsets", "error", "none"}
        Displacement of ``mesh`` since the onset, the deformer offsets of the frame, the
        difference between the displacement of ``mesh`` and the truth's displacement (both
        since their onset, unposed model frame, no further alignment), or the skin tone.
    component : {"magnitude", "normal", "x", "y", "z"}
        Length of the field, its component along the outward normal of the onset mesh, or an
        axis component (+x subject's left, +y up, +z toward the camera); signed components
        use a diverging scale with symmetric limits.
    truth : SynthTruth, clip with ground truth, or array (T, V, 3), optional
    aus : sequence of str, optional
        Limit the colour to these AU regions: values are multiplied by the union (maximum)
        of their soft masks :meth:`FaceModel.au_region_mask` (``"AU12"``, ``"L10"``).
    units : {"mm", "cm", "m"}
    cmax : float, optional
        Top of the colour scale (default: the largest value of the frame, before the AU
        limiting).
    colorscale : str or list, optional
        Default ``"Viridis"`` (magnitude) or ``"RdBu_r"`` (signed).
    camera, lighting, height
        As in :func:`mxkit.viz.plot_mesh`.
    title : str, optional
        Default e.g. ``"fine mesh, frame 38 apex +125 ms, motion x10"``.

    Returns
    -------
    plotly.graph_objects.Figure
        ``fig.data[0]`` is the ``Mesh3d`` at the magnified positions (``units``), its
        ``intensity`` the colour values.

    Raises
    ------
    InputValueError, OptionError, ShapeError
        Inconsistent inputs, unknown options, a colour mode without its data.

    Examples
    --------
    >>> fig = plot_magnified_motion(rec, model, alpha=20, aus=["AU12"])   # doctest: +SKIP
    """
    require_plotly("plot_magnified_motion")
    seq = _Sequence(recon, model, truth=truth, units=units)
    seq.check(mesh, color_by, component)
    a = _check_alpha(alpha)
    t = seq.frame_index(frame)
    xyz = seq.shown(mesh, [t], a)[0]
    if title is None:
        title = f"{mesh} mesh, frame {seq.label(t)}, motion ×{a:g}"
    common = dict(title=title, units=units, camera=camera, lighting=lighting, height=height,
                  name=f"{mesh} ×{a:g}")
    if color_by == "none":
        return plot_mesh(xyz, seq.faces, **common)
    style = _colour_style(seq, model, color_by, mesh, [t], component, aus, colorscale)
    if cmax is not None:
        style["cmax"] = float(cmax)
        style["cmin"] = 0.0 if component == "magnitude" else -float(cmax)
    style["scalars"] = style["scalars"][0]
    return plot_mesh(xyz, seq.faces, **style, **common)


def _key_frames(seq: _Sequence, n: int) -> list[int]:
    """About ``n`` frames from the onset to the offset, always with the onset and the apex."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise InputValueError(f"frames must be an int >= 2 or a sequence of indices; got {n!r}")
    on, ap, off = seq.onset, seq.apex, seq.offset
    span = max(off - on, 1)
    rising = max(1, round((n - 1) * (ap - on) / span)) if ap > on else 0
    picks = list(np.linspace(on, ap, rising + 1)) + list(np.linspace(ap, off, max(n - rising, 1)))
    return sorted({int(round(p)) for p in picks} | {on, ap})


def _submesh(mask: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertex indices and re-indexed faces of the triangles with all corners in ``mask``."""
    keep_f = mask[faces].all(axis=1)
    used = np.unique(faces[keep_f])
    remap = np.full(len(mask), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return used, remap[faces[keep_f]]


def reconstruction_animation(
    recon: Any,
    model: FaceModel,
    *,
    alpha: float = 10.0,
    frames: int | Sequence[int] = 7,
    mesh: Literal["fine", "coarse", "truth"] = "fine",
    color_by: Literal["displacement", "offsets", "error", "none"] = "displacement",
    component: Literal["magnitude", "normal", "x", "y", "z"] = "magnitude",
    truth: Any = None,
    aus: Sequence[str] | None = None,
    region: str | Any = "face",
    units: Literal["mm", "cm", "m"] = "mm",
    fps: float = 3.0,
    colorscale: Any = None,
    camera: Any = "front",
    lighting: Any = "soft",
    title: str | None = None,
    height: int | None = 500,
) -> go.Figure:
    """A magnified reconstruction as a plotly animation of a few frames (for static HTML).

    Everything is embedded in the figure (play / pause buttons and a frame slider work in a
    saved notebook or HTML page without a kernel), so only a few frames of a cropped mesh are
    kept to keep it small; :func:`reconstruction_explorer` is the interactive view.

    Parameters
    ----------
    recon, model, alpha, mesh, color_by, component, truth, aus, units, colorscale, camera,
    lighting
        As in :func:`plot_magnified_motion`. Colour limits are shared by all frames.
    frames : int or sequence of int
        How many frames from the onset to the offset (evenly spread over the rise and the
        fall, always with the onset and the apex), or the frame indices.
    region : {"face", "skin", "all"}, boolean array (V,), or None
        Vertices to keep (:func:`mxkit.morph.face_mask` for a name; None or
        ``"all"`` keeps the whole mesh). Triangles with a corner outside are dropped.
    fps : float
        Playback rate, frames per second of the animation.
    title : str, optional
    height : int, optional

    Returns
    -------
    plotly.graph_objects.Figure
        From :func:`mxkit.viz.mesh_animation`; slider labels such as ``"38 apex +125 ms"``.
    """
    seq = _Sequence(recon, model, truth=truth, units=units)
    seq.check(mesh, color_by, component)
    a = _check_alpha(alpha)
    if isinstance(frames, (int, np.integer)):
        idx = _key_frames(seq, int(frames))
    else:
        idx = [seq.frame_index(int(t)) for t in frames]
        if not idx:
            raise InputValueError("frames is empty")
    if region is None or (isinstance(region, str) and region == "all"):
        keep = np.ones(seq.V, dtype=bool)
    elif isinstance(region, str):
        from ..morph.masks import face_mask

        keep = np.asarray(face_mask(model, check_option(region, ("face", "skin", "all"),
                                                        "region")), dtype=bool)
    else:
        keep = np.asarray(_to_numpy(region, "region"), dtype=bool)
        check_shape(keep, (seq.V,), "region")
    used, faces = _submesh(keep, seq.faces)
    if not len(faces):
        raise InputValueError("region keeps no triangle of the mesh")
    shown = seq.shown(mesh, idx, a)[:, used]
    kw: dict[str, Any] = {}
    if color_by != "none":
        kw = _colour_style(seq, model, color_by, mesh, idx, component, aus, colorscale)
        kw["scalars"] = kw["scalars"][:, used]
    if title is None:
        title = f"{mesh} mesh, motion since onset ×{a:g}"
    return mesh_animation(shown, faces, fps=fps, frame_labels=[seq.label(t) for t in idx],
                          units=units, camera=camera, lighting=lighting, title=title,
                          height=height, **kw)


# ----------------------------------------------------------------------------- the explorer
def _figure_view(go: Any, fig: Any, figure_widget: bool | None, feature: str) -> tuple[Any, bool]:
    """A live ``FigureWidget`` of ``fig`` when possible (or demanded), else ``fig`` itself."""
    live = figure_widget_available() if figure_widget is None else bool(figure_widget)
    if not live:
        return fig, False
    try:
        return go.FigureWidget(fig), True
    except ImportError as exc:
        if figure_widget:
            raise BackendUnavailableError(
                f"{feature}(figure_widget=True) needs plotly's FigureWidget, which cannot be "
                f"built here ({exc}); install it with: pip install anywidget") from exc
        return fig, False


class ReconstructionExplorer:
    """Sliders, menus, AU toggles and linked 3D / flow views of a reconstruction (see
    :func:`reconstruction_explorer`, which builds one and returns its :attr:`widget`).

    Attributes
    ----------
    widget : ipywidgets.VBox
        The box to display; ``widget.explorer`` is this object.
    figure : plotly.graph_objects.FigureWidget or plotly.graph_objects.Figure
        ``figure.data[0]`` is the face ``Mesh3d`` (magnified positions in ``units``, colour
        values in ``intensity``). With a prepared clip, ``data[1]`` is the aligned frame
        (``Image``, RGB in ``z``), ``data[2]`` the flow arrows (``Scatter`` segments in crop
        pixels: base, tip, NaN gap) and ``data[3]`` the landmarks (crop pixels).
    live : bool
        True when ``figure`` is a ``FigureWidget`` updated in place; False for the
        ``Output`` re-render fallback (without ``anywidget``).
    output : ipywidgets.Output or None
        Where the fallback renders the figure.
    frame : ipywidgets.IntSlider
        The frame shown (from ``frame_range``, default onset -> offset).
    alpha : ipywidgets.FloatSlider
        Magnification of the geometry (``onset + alpha (frame - onset)``).
    mesh : ipywidgets.ToggleButtons
        ``"fine"``, ``"coarse"`` (without the deformer's offsets), ``"truth"`` (with a truth).
    color_by : ipywidgets.Dropdown
        One of :data:`COLOR_MODES` available for the inputs.
    component : ipywidgets.Dropdown
        One of :data:`COMPONENTS`.
    au_toggles : dict of str to ipywidgets.ToggleButton
        AU-region toggles; when any is on, the colour is limited to the union of their
        soft masks.
    overlay : ipywidgets.ToggleButtons or None
        ``"arrows"``, ``"colour"`` or ``"none"``: what is drawn over the aligned frame.
    status : ipywidgets.HTML
        Frame, phase, time, magnification, the largest value and its mean in the AU regions.
    n_renders : int
        How many times the fallback has rendered the figure.
    """

    def __init__(self, recon: Any, model: FaceModel, *, prepared: Any = None, truth: Any = None,
                 frame: int | str | None = None, frame_range: tuple[int, int] | None = None,
                 alpha: float = 1.0, alpha_max: float = 50.0, mesh: str = "fine",
                 color_by: str = "displacement", component: str = "magnitude",
                 aus: Sequence[str] | None = None, overlay: str = "arrows",
                 arrow_step: int = 8, units: str = "mm", height: int = 480,
                 camera: Any = "front", lighting: Any = "soft",
                 figure_widget: bool | None = None):
        widgets = require_ipywidgets("reconstruction_explorer")
        go = require_plotly("reconstruction_explorer")
        self.model = model
        self.units = units
        self._seq = seq = _Sequence(recon, model, truth=truth, units=units)
        seq.check(mesh, color_by, component)
        check_option(overlay, _OVERLAYS, "overlay")
        a0 = _check_alpha(alpha)
        amax = _check_alpha(alpha_max)
        if not amax > 0 or not 0 <= a0 <= amax:
            raise InputValueError(f"need 0 <= alpha <= alpha_max and alpha_max > 0; got "
                                  f"alpha={alpha}, alpha_max={alpha_max}")
        lo, hi = (seq.onset, seq.offset) if frame_range is None else \
            (seq.frame_index(int(frame_range[0])), seq.frame_index(int(frame_range[1])))
        if lo > hi:
            raise InputValueError(f"frame_range {frame_range} is empty")
        t0 = seq.frame_index(frame)
        if not lo <= t0 <= hi:
            raise InputValueError(f"frame {t0} lies outside frame_range ({lo}, {hi})")
        if aus is None:
            aus = _au_keys(truth) or tuple(a for a in DEFAULT_AUS if a in model.au_masks)
        aus = list(aus)
        for a in aus:
            model.au_region_mask(a)                         # validates the key
        self._prepared = self._check_prepared(prepared, seq.T)
        if isinstance(arrow_step, bool) or not isinstance(arrow_step, (int, np.integer)) \
                or arrow_step < 2:
            raise InputValueError(f"arrow_step must be an int >= 2; got {arrow_step!r}")
        self._arrow_step = int(arrow_step)

        fig = self._build_figure(go, camera, lighting, height)
        self.figure, self.live = _figure_view(go, fig, figure_widget, "reconstruction_explorer")
        self.output = None if self.live else widgets.Output()
        self.n_renders = 0
        cont = self.live
        wide = {"description_width": "initial"}
        self.frame = widgets.IntSlider(value=t0, min=lo, max=hi, step=1, description="frame",
                                       continuous_update=cont, style=wide,
                                       layout=widgets.Layout(width="420px"))
        self.alpha = widgets.FloatSlider(value=a0, min=0.0, max=amax, step=0.5,
                                         description="magnify ×", continuous_update=cont,
                                         readout_format=".1f", style=wide,
                                         layout=widgets.Layout(width="360px"))
        self.mesh = widgets.ToggleButtons(options=[(_MESH_LABELS[m], m) for m in seq.meshes],
                                          value=mesh, style={"button_width": "70px"})
        self.color_by = widgets.Dropdown(options=[(_MODE_LABELS[m], m) for m in seq.modes()],
                                         value=color_by, description="colour",
                                         layout=widgets.Layout(width="280px"))
        self.component = widgets.Dropdown(options=list(COMPONENTS), value=component,
                                          description="component",
                                          layout=widgets.Layout(width="220px"))
        self.au_toggles = {a: widgets.ToggleButton(value=False, description=a,
                                                   tooltip=_facs_name(a),
                                                   layout=widgets.Layout(width="64px"))
                           for a in aus}
        self.overlay = None
        if self._prepared is not None:
            self.overlay = widgets.ToggleButtons(options=list(_OVERLAYS), value=overlay,
                                                 style={"button_width": "64px"})
        self.status = widgets.HTML()
        for w in (self.frame, self.alpha, self.mesh, self.color_by, self.component,
                  *self.au_toggles.values(), *([self.overlay] if self.overlay else [])):
            w.observe(self.update, names="value")

        rows = [widgets.HBox([self.frame, self.alpha]),
                widgets.HBox([self.mesh, self.color_by, self.component])]
        if self.au_toggles:
            rows.append(widgets.HBox([widgets.HTML("AU regions&nbsp;"),
                                      *self.au_toggles.values()],
                                     layout=widgets.Layout(flex_flow="row wrap")))
        if self.overlay is not None:
            rows.append(widgets.HBox([widgets.HTML("flow overlay&nbsp;"), self.overlay]))
        rows += [self.status, self.figure if self.live else self.output]
        self.widget = widgets.VBox(rows)
        self.widget.explorer = self
        self.update()

    # ------------------------------------------------------------------ setup
    @staticmethod
    def _check_prepared(prepared: Any, T: int) -> Any:
        if prepared is None:
            return None
        for name in ("frames", "flow"):
            if getattr(prepared, name, None) is None:
                raise InputValueError(f"prepared has no {name!r} (pass an mxkit.prepare result)")
        S = check_shape(prepared.frames, (T, "S", "S", 3), "prepared.frames")["S"]
        check_shape(prepared.flow, (T, S, S, 2), "prepared.flow")
        return prepared

    def _face(self) -> np.ndarray:
        p = self._prepared
        if hasattr(p, "face_mask") and callable(p.face_mask):
            return np.asarray(p.face_mask(), dtype=bool)
        return np.ones(p.frames.shape[1:3], dtype=bool)

    def _build_figure(self, go: Any, camera: Any, lighting: Any, height: int) -> Any:
        seq = self._seq
        xyz = (seq.meshes["fine"][seq.onset] * seq.scale).astype(np.float32)
        mesh = _mesh_trace(go, xyz, seq.faces, intensity=None, lighting=lighting,
                           units=self.units, name="reconstruction")
        scene = _scene(camera, self.units, False)
        if self._prepared is None:
            fig = go.Figure(data=[mesh])
            fig.update_layout(scene=scene, **_base_layout(None, height))
            return fig
        make_subplots = require("plotly.subplots", "reconstruction_explorer").make_subplots
        p = self._prepared
        S = int(p.frames.shape[1])
        fig = make_subplots(rows=1, cols=2, specs=[[{"type": "scene"}, {"type": "xy"}]],
                            column_widths=[0.58, 0.42], horizontal_spacing=0.02)
        fig.add_trace(mesh, row=1, col=1)
        fig.add_trace(go.Image(z=np.asarray(p.frames[seq.onset]), name="frame",
                               hoverinfo="skip"), row=1, col=2)
        fig.add_trace(go.Scatter(x=[], y=[], mode="lines+markers", name="flow",
                                 line={"color": "#ffcc00", "width": 1.5},
                                 marker={"color": "#ffcc00", "size": []},
                                 hoverinfo="skip", showlegend=False), row=1, col=2)
        fig.add_trace(go.Scatter(x=[], y=[], mode="markers", name="landmarks",
                                 marker={"color": "#00e5ff", "size": 3}, showlegend=False,
                                 hovertemplate="landmark %{pointNumber}<extra></extra>"),
                      row=1, col=2)
        fig.update_xaxes(range=[-0.5, S - 0.5], visible=False, constrain="domain", row=1,
                         col=2)
        fig.update_yaxes(range=[S - 0.5, -0.5], visible=False, scaleanchor="x",
                         row=1, col=2)
        fig.update_layout(scene=scene, **_base_layout(None, height))
        mask = self._face()
        mag = np.hypot(p.flow[..., 0], p.flow[..., 1])[:, mask]
        self._fmax = max(float(mag.max()) if mag.size else 0.0, 1e-6)
        step = self._arrow_step
        yy, xx = np.mgrid[step // 2:S:step, step // 2:S:step]
        keep = mask[yy, xx]
        self._grid = (yy[keep], xx[keep])
        self._gain = 2.5 * step / self._fmax
        return fig

    # ------------------------------------------------------------------ state
    def selected_aus(self) -> list[str]:
        """The AUs whose region toggle is on."""
        return [a for a, w in self.au_toggles.items() if w.value]

    def displayed_vertices(self) -> np.ndarray:
        """The positions (V, 3) drawn now, metres (magnified)."""
        return self._seq.shown(self.mesh.value, [self.frame.value], float(self.alpha.value))[0]

    def displayed_scalars(self) -> np.ndarray | None:
        """The colour values (V,) drawn now, in ``units`` (None for ``color_by="none"``)."""
        mode = self.color_by.value
        if mode == "none":
            return None
        s = self._seq.scalars(mode, self.mesh.value, [self.frame.value],
                              self.component.value)[0]
        w = _au_weights(self.model, self.selected_aus())
        return s if w is None else s * w

    def frame_panel(self, t: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The 2D panel of frame ``t`` (default the slider's): RGB image (S, S, 3) uint8 and
        the arrow segments ``x, y`` (3 points per arrow: base, tip, NaN) in crop pixels."""
        from ..flow import flow_to_rgb

        p = self._prepared
        if p is None:
            raise InputValueError("the explorer has no prepared clip (prepared=...)")
        t = self.frame.value if t is None else self._seq.frame_index(t)
        img = np.asarray(p.frames[t])
        mode = self.overlay.value
        if mode == "colour":
            rgb = flow_to_rgb(np.asarray(p.flow[t]), max_magnitude=self._fmax).astype(np.float64)
            blend = 0.35 * img + 0.65 * rgb
            img = np.where(self._face()[..., None], blend, img).round().astype(np.uint8)
        if mode != "arrows":
            return img, np.zeros(0), np.zeros(0)
        yy, xx = self._grid
        f = np.asarray(p.flow[t])[yy, xx].astype(np.float64)
        gap = np.full(len(xx), np.nan)
        x = np.stack([xx, xx + self._gain * f[:, 0], gap], 1).ravel()
        y = np.stack([yy, yy + self._gain * f[:, 1], gap], 1).ravel()
        return img, x, y

    # ------------------------------------------------------------------ callbacks
    def update(self, change: Mapping[str, Any] | None = None) -> None:
        """Recompute the views from the widgets and write them into :attr:`figure`.

        The callback of every slider, menu and toggle: the mesh positions and colours, the
        frame with its flow overlay and landmarks, and the status line.

        Parameters
        ----------
        change : dict, optional
            The traitlets change notification (unused).
        """
        seq = self._seq
        t, mesh, mode = self.frame.value, self.mesh.value, self.color_by.value
        comp, a = self.component.value, float(self.alpha.value)
        xyz = (self.displayed_vertices() * seq.scale).astype(np.float32)
        s = self.displayed_scalars()
        fig = self.figure
        with fig.batch_update():
            tr = fig.data[0]
            tr.x, tr.y, tr.z = xyz[:, 0], xyz[:, 1], xyz[:, 2]
            if s is None:
                tr.intensity = None
                tr.showscale = False
                tr.color = SKIN_COLOR
            else:
                lo, hi = seq.limits(mode, mesh, comp)
                tr.intensity = s.astype(np.float32)
                tr.intensitymode = "vertex"
                tr.colorscale = _colorscale(comp, None)
                tr.cmin, tr.cmax = lo, hi
                tr.colorbar = _colorbar(seq.colorbar_title(mode, comp))
                tr.showscale = True
            if self._prepared is not None:
                img, x, y = self.frame_panel(t)
                fig.data[1].z = img
                fig.data[2].x, fig.data[2].y = x, y
                fig.data[2].marker.size = np.tile([0.0, 4.0, 0.0], len(x) // 3)
                lm = getattr(self._prepared, "landmarks", None)
                if lm is not None:
                    fig.data[3].x, fig.data[3].y = np.asarray(lm[t])[:, 0], np.asarray(lm[t])[:, 1]
        self.status.value = self._status(t, a, mode, comp, s)
        if not self.live:
            self._render()

    def _status(self, t: int, a: float, mode: str, comp: str, s: np.ndarray | None) -> str:
        seq = self._seq
        text = f"frame {seq.label(t)} · {seq.phase(t)} · geometry ×{a:g}"
        if s is not None:
            raw = seq.scalars(mode, self.mesh.value, [t], comp)[0]
            text += f" · max {seq.colorbar_title(mode, comp)} = {float(np.abs(raw).max()):.3f}"
            sel = self.selected_aus()
            if sel:
                w = _au_weights(self.model, sel)
                mean = float((w * np.abs(raw)).sum() / max(w.sum(), 1e-12))
                text += f" · mean in {'+'.join(sel)} = {mean:.3f} {self.units}"
        return f"<span style='font-family:monospace'>{text}</span>"

    def _render(self) -> None:
        """Fallback: show the figure's current state in the Output widget."""
        bundle = self.figure._repr_mimebundle_(None, None) or {}
        if not bundle:                   # no notebook renderer (no kernel): a text stand-in
            bundle = {"text/plain": "<plotly figure: reconstruction explorer>"}
        self.output.outputs = ({"output_type": "display_data", "data": bundle,
                                "metadata": {}},)
        self.n_renders += 1


def reconstruction_explorer(
    recon: Any,
    model: FaceModel,
    *,
    prepared: Any = None,
    truth: Any = None,
    frame: int | str | None = None,
    frame_range: tuple[int, int] | None = None,
    alpha: float = 1.0,
    alpha_max: float = 50.0,
    mesh: Literal["fine", "coarse", "truth"] = "fine",
    color_by: Literal["displacement", "offsets", "error", "none"] = "displacement",
    component: Literal["magnitude", "normal", "x", "y", "z"] = "magnitude",
    aus: Sequence[str] | None = None,
    overlay: Literal["arrows", "colour", "none"] = "arrows",
    arrow_step: int = 8,
    units: Literal["mm", "cm", "m"] = "mm",
    height: int = 480,
    camera: Any = "front",
    lighting: Any = "soft",
    figure_widget: bool | None = None,
) -> ipywidgets.Widget:
    """Interactive explorer of a reconstructed clip: frame and magnification sliders, colour
    maps on the mesh, AU-region toggles and the optical flow of the frame.

    Parameters
    ----------
    recon : Reconstruction
        From :func:`mxkit.reconstruct` (or any object with ``vertices`` (T, V, 3) and
        ``onset, apex, offset``; see :mod:`mxkit.viz.sequence`).
    model : FaceModel
        The reconstruction's face model.
    prepared : Prepared, optional
        The prepared clip (:func:`mxkit.prepare`) of the reconstruction: adds the aligned
        frame with its flow from the onset (arrows lengthened so the longest is 2.5 grid
        steps, or the flow colour wheel of :func:`mxkit.flow.flow_to_rgb`, on the face) and
        the landmarks, at the slider's frame.
    truth : SynthTruth, clip with ground truth, or array (T, V, 3), optional
        Adds the ``"truth"`` mesh and the ``"error"`` colour mode; a SynthTruth also names
        the clip's AUs for the toggles.
    frame : int or {"onset", "apex", "offset"}, optional
        Initial frame (default the apex).
    frame_range : (int, int), optional
        Slider range (default onset -> offset; ``(0, T - 1)`` for the whole clip).
    alpha, alpha_max : float
        Initial geometry magnification and the slider's top (see :func:`magnify_motion`).
    mesh, color_by, component
        Initial menu values (see :func:`plot_magnified_motion`). Colour limits are fixed over
        the clip for each (colour mode, mesh, component), so frames compare.
    aus : sequence of str, optional
        AU-region toggles (default: the truth's AUs, else common ones the model has masks
        for). With toggles on, colours are multiplied by the union of their soft masks and
        the status line gives the mean inside them.
    overlay : {"arrows", "colour", "none"}
        Initial flow overlay.
    arrow_step : int
        Arrow grid spacing in crop pixels.
    units, height, camera, lighting
        As in :func:`mxkit.viz.plot_mesh`.
    figure_widget : bool, optional
        Live ``FigureWidget`` (needs ``anywidget`` with plotly >= 6) or the ``Output``
        re-render fallback; default: live when available.

    Returns
    -------
    ipywidgets.VBox
        ``widget.explorer`` is the :class:`ReconstructionExplorer` (figure, widgets,
        :meth:`~ReconstructionExplorer.update`).

    Raises
    ------
    BackendUnavailableError
        plotly or ipywidgets is missing (or ``figure_widget=True`` without ``anywidget``).
    InputValueError, OptionError, ShapeError
        Inconsistent inputs or unknown options.

    Examples
    --------
    >>> w = reconstruction_explorer(rec, model, prepared=prep, truth=clip)   # doctest: +SKIP
    >>> w.explorer.frame.value = rec.onset + 3; w.explorer.alpha.value = 20  # doctest: +SKIP
    """
    return ReconstructionExplorer(
        recon, model, prepared=prepared, truth=truth, frame=frame, frame_range=frame_range,
        alpha=alpha, alpha_max=alpha_max, mesh=mesh, color_by=color_by, component=component,
        aus=aus, overlay=overlay, arrow_step=arrow_step, units=units, height=height,
        camera=camera, lighting=lighting, figure_widget=figure_widget).widget
