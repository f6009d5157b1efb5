"""Tests of mxkit.viz: plotly figures and the model explorer (no kernel, no browser)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from mxkit.errors import (
    BackendUnavailableError,
    InputValueError,
    MxkitError,
    OptionError,
    ShapeError,
)
from mxkit.morph.model import FaceModel, LandmarkEmbedding
from mxkit.testing import grid_mesh

go = pytest.importorskip("plotly.graph_objects")
ipywidgets = pytest.importorskip("ipywidgets")

from mxkit import viz  # noqa: E402
from mxkit.viz._backend import figure_widget_available, require_plotly  # noqa: E402

SMILE_MM = 2.0      # the fake smile shapes push the lower cheeks 2 mm toward the camera
JAW_MM = 5.0        # the fake jawOpen pulls the lower face 5 mm down


# ---------------------------------------------------------------------------- fixtures
def icosphere(level: int = 1, radius: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) in metres and outward-facing CCW faces (F, 3) of a sphere."""
    t = (1 + 5 ** 0.5) / 2
    v = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t),
         (0, -1, -t), (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    f = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4),
         (11, 10, 2), (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8),
         (3, 8, 9), (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    verts = [np.array(p, float) / np.linalg.norm(p) for p in v]
    faces = list(f)
    for _ in range(level):
        cache: dict[tuple[int, int], int] = {}

        def mid(a: int, b: int, cache: dict[tuple[int, int], int] = cache) -> int:
            key = (min(a, b), max(a, b))
            if key not in cache:
                m = verts[a] + verts[b]
                verts.append(m / np.linalg.norm(m))
                cache[key] = len(verts) - 1
            return cache[key]

        new = []
        for a, b, c in faces:
            ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
            new += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = new
    return np.array(verts) * radius, np.array(faces, dtype=np.int64)


def tiny_model(dtype: torch.dtype = torch.float32) -> FaceModel:
    """An icosphere 'face' with four ARKit shapes, two identity components, 68 landmarks,
    two regions and an AU12 mask."""
    v, f = icosphere(1)
    V = len(v)
    x, y = v[:, 0], v[:, 1]
    basis = np.zeros((4, V, 3))
    basis[0, (x > 1e-9) & (y < -1e-9), 2] = SMILE_MM / 1000     # mouthSmileLeft
    basis[1, (x < -1e-9) & (y < -1e-9), 2] = SMILE_MM / 1000    # mouthSmileRight
    basis[2, y > 0.05, 1] = 0.001                                # browInnerUp
    basis[3, y < -0.05, 1] = -JAW_MM / 1000                      # jawOpen
    ident = np.stack([v * 0.05, np.zeros_like(v)])
    ident[1, :, 2] = 0.003
    return FaceModel(
        name="tiny", v_template=v, faces=f, expr_basis=basis,
        expr_names=["mouthSmileLeft", "mouthSmileRight", "browInnerUp", "jawOpen"],
        id_basis=ident,
        landmarks={"ibug68": LandmarkEmbedding(np.arange(68) % len(f), np.full((68, 3), 1 / 3))},
        region_names=["upper", "lower"], region_labels=(y < 0).astype(np.int64),
        au_masks={"AU12": (y < 0).astype(np.float32)}, dtype=dtype,
    )


def grid(n: int = 5, spacing: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """An n x n grid in the z = 0 plane (metres) from the origin, triangles CCW seen from +z."""
    mesh = grid_mesh(n, width=spacing * (n - 1), centred=False)
    return mesh.vertices, mesh.faces


@pytest.fixture(scope="module")
def model() -> FaceModel:
    return tiny_model()


def smile_mask(model: FaceModel) -> np.ndarray:
    e = model.expr_basis.numpy()
    return (e[0, :, 2] != 0) | (e[1, :, 2] != 0)


# ---------------------------------------------------------------------------- import / backend
def test_import_is_lazy():
    code = ("import sys, mxkit.viz; "
            "bad = [m for m in ('plotly', 'ipywidgets') if m in sys.modules]; "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-W", "error", "-c", code]).returncode == 0


def test_missing_plotly_raises_backend_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    with pytest.raises(BackendUnavailableError, match="pip install 'plotly"):
        require_plotly("plot_mesh")
    v, f = grid(2)
    with pytest.raises(BackendUnavailableError, match="plot_mesh"):
        viz.plot_mesh(v, f)
    # also an ImportError and an MxkitError
    with pytest.raises(ImportError):
        require_plotly("x")
    with pytest.raises(MxkitError):
        require_plotly("x")


def test_missing_ipywidgets_raises_backend_error(monkeypatch, model):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(BackendUnavailableError, match="ipywidgets"):
        viz.model_explorer(model)


def test_unknown_attribute():
    with pytest.raises(AttributeError):
        viz.no_such_function  # noqa: B018


# ---------------------------------------------------------------------------- plot_mesh
class TestPlotMesh:
    def test_values_mm_and_faces(self):
        v, f = icosphere(1)
        fig = viz.plot_mesh(v, f)
        mesh = fig.data[0]
        assert mesh.type == "mesh3d"
        np.testing.assert_allclose(np.stack([mesh.x, mesh.y, mesh.z], 1), v * 1000, rtol=1e-6)
        np.testing.assert_array_equal(np.stack([mesh.i, mesh.j, mesh.k], 1), f)
        assert mesh.flatshading is False
        assert mesh.intensity is None and mesh.color == viz.SKIN_COLOR
        assert mesh.showscale is False

    def test_layout_defaults(self):
        v, f = grid(3)
        fig = viz.plot_mesh(v, f, title="t", height=321)
        scene = fig.layout.scene
        assert scene.aspectmode == "data"
        assert scene.xaxis.visible is False and scene.zaxis.visible is False
        eye, up = scene.camera.eye, scene.camera.up
        assert eye.z > 0 and eye.x == 0 and eye.y == 0
        assert (up.x, up.y, up.z) == (0, 1, 0)
        assert fig.layout.height == 321 and fig.layout.title.text == "t"

    def test_units_m_and_presets(self):
        v, f = grid(3)
        fig = viz.plot_mesh(v, f, units="m", camera="left", lighting="flat", show_axes=True)
        np.testing.assert_allclose(fig.data[0].x, v[:, 0], rtol=1e-6)
        assert fig.layout.scene.camera.eye.x > 0                 # subject's left = +x
        assert fig.layout.scene.xaxis.visible is True
        assert fig.layout.scene.xaxis.title.text == "x (m)"
        assert fig.data[0].lighting.diffuse == 0
        fig = viz.plot_mesh(v, f, camera={"eye": {"x": 0, "y": 0, "z": 3}},
                            lighting={"ambient": 0.2})
        assert fig.layout.scene.camera.eye.z == 3 and fig.data[0].lighting.ambient == 0.2

    def test_scalars(self):
        v, f = grid(3)
        s = np.linspace(-1, 2, len(v))
        fig = viz.plot_mesh(v, f, scalars=s, colorbar_title="mm", colorscale="Magma")
        mesh = fig.data[0]
        np.testing.assert_allclose(mesh.intensity, s, rtol=1e-6)
        assert (mesh.cmin, mesh.cmax) == (-1.0, 2.0)
        assert mesh.showscale is True and mesh.colorbar.title.text == "mm"
        fig = viz.plot_mesh(v, f, scalars=s, cmin=0, cmax=5)
        assert (fig.data[0].cmin, fig.data[0].cmax) == (0, 5)

    def test_tensor_batch_and_landmarks(self):
        v, f = grid(3)
        lm = v[:4]
        fig = viz.plot_mesh(torch.tensor(v)[None], torch.tensor(f), landmarks=torch.tensor(lm),
                            landmark_labels=True)
        assert len(fig.data) == 2
        pts = fig.data[1]
        assert pts.type == "scatter3d"
        np.testing.assert_allclose(pts.customdata, lm * 1000, rtol=1e-6)     # true positions
        # markers are lifted 0.5 mm along the grid's normal (+z) so they are not hidden
        np.testing.assert_allclose(np.stack([pts.x, pts.y, pts.z], 1), lm * 1000 + [0, 0, 0.5],
                                   atol=1e-5)
        fig = viz.plot_mesh(v, f, landmarks=lm, landmark_lift=0)
        np.testing.assert_allclose(fig.data[1].z, lm[:, 2] * 1000, atol=1e-9)
        assert list(pts.text) == ["0", "1", "2", "3"] and "text" in pts.mode
        fig = viz.plot_mesh(v, f, landmarks=lm, landmark_labels=list("abcd"))
        assert list(fig.data[1].text) == list("abcd")

    def test_landmark_lift_points_outward(self):
        v, f = icosphere(1)
        lm = v[:5] * 1.0
        for faces in (f, f[:, ::-1]):                      # outward and inward winding
            fig = viz.plot_mesh(v, faces, landmarks=lm)
            shown = np.stack([fig.data[1].x, fig.data[1].y, fig.data[1].z], 1)
            radius = np.linalg.norm(shown, axis=1)
            np.testing.assert_allclose(radius, 100.5, atol=1e-3)     # 0.1 m sphere + 0.5 mm

    def test_into_subplot(self):
        from plotly.subplots import make_subplots

        v, f = grid(3)
        fig = make_subplots(rows=1, cols=2, specs=[[{"type": "scene"}] * 2])
        out = viz.plot_mesh(v, f, fig=fig, row=1, col=2)
        assert out is fig and fig.data[0].scene == "scene2"
        assert fig.layout.scene2.aspectmode == "data"

    @pytest.mark.parametrize("kwargs, err", [
        ({"vertices": np.zeros((4, 2))}, ShapeError),
        ({"vertices": np.full((9, 3), np.nan)}, InputValueError),
        ({"faces": [[0, 1, 99]]}, InputValueError),
        ({"faces": [[0.0, 1.0, 2.0]]}, InputValueError),
        ({"faces": [[0, 1]]}, ShapeError),
        ({"scalars": np.zeros(3)}, ShapeError),
        ({"scalars": np.full(9, np.inf)}, InputValueError),
        ({"camera": "behind"}, OptionError),
        ({"units": "inch"}, OptionError),
        ({"lighting": "disco"}, OptionError),
        ({"landmarks": np.zeros((3, 2))}, ShapeError),
        ({"landmarks": np.zeros((3, 3)), "landmark_labels": ["a"]}, ShapeError),
        ({"opacity": 2.0}, InputValueError),
    ])
    def test_exceptions(self, kwargs, err):
        v, f = grid(3)
        args = {"vertices": v, "faces": f, **kwargs}
        with pytest.raises(err):
            viz.plot_mesh(args.pop("vertices"), args.pop("faces"), **args)


# ---------------------------------------------------------------------------- displacement
class TestPlotDisplacement:
    def setup_method(self):
        self.v, self.f = grid(5)
        self.moved = self.v[:, 0] > 0.015          # right half of the grid
        self.apex = self.v.copy()
        self.apex[self.moved, 2] += 0.001          # 1 mm toward the camera

    def test_magnitude_known_answer(self):
        fig = viz.plot_displacement(self.f, self.v, self.apex)
        mesh = fig.data[0]
        np.testing.assert_allclose(mesh.intensity[self.moved], 1.0, rtol=1e-6)
        np.testing.assert_allclose(mesh.intensity[~self.moved], 0.0, atol=1e-9)
        assert mesh.cmin == 0 and mesh.cmax == pytest.approx(1.0)
        assert mesh.colorbar.title.text == "|d| (mm)"
        # drawn on the deformed mesh, in mm
        np.testing.assert_allclose(mesh.z, self.apex[:, 2] * 1000, atol=1e-5)

    @pytest.mark.parametrize("component, expected", [("z", 1.0), ("normal", 1.0), ("x", 0.0)])
    def test_signed_components_symmetric(self, component, expected):
        fig = viz.plot_displacement(self.f, self.v, self.apex, component=component)
        mesh = fig.data[0]
        np.testing.assert_allclose(mesh.intensity[self.moved], expected, atol=1e-6)
        np.testing.assert_allclose(mesh.intensity[~self.moved], 0.0, atol=1e-9)
        assert mesh.cmin == -mesh.cmax and mesh.cmax > 0
        if expected:
            assert mesh.cmax == pytest.approx(1.0)
        assert "RdBu" in str(mesh.colorscale) or mesh.colorscale[0][1] != mesh.colorscale[-1][1]

    def test_signed_negative_and_limits(self):
        down = self.v.copy()
        down[self.moved, 2] -= 0.0005
        fig = viz.plot_displacement(self.f, self.v, down, component="z", cmax=2.0)
        mesh = fig.data[0]
        np.testing.assert_allclose(mesh.intensity[self.moved], -0.5, atol=1e-6)
        assert (mesh.cmin, mesh.cmax) == (-2.0, 2.0)

    def test_magnify_and_reference(self):
        fig = viz.plot_displacement(self.f, self.v, self.apex, magnify=10)
        np.testing.assert_allclose(fig.data[0].z[self.moved], 10.0, atol=1e-5)
        np.testing.assert_allclose(fig.data[0].intensity[self.moved], 1.0, rtol=1e-6)
        fig = viz.plot_displacement(self.f, self.v, self.apex, on="reference")
        np.testing.assert_allclose(fig.data[0].z, 0.0, atol=1e-9)

    def test_scalars_function(self):
        d = viz.displacement_scalars(self.v, self.apex, component="magnitude", units="m")
        np.testing.assert_allclose(d[self.moved], 0.001, rtol=1e-9)
        with pytest.raises(InputValueError, match="faces"):
            viz.displacement_scalars(self.v, self.apex, component="normal")
        with pytest.raises(OptionError):
            viz.displacement_scalars(self.v, self.apex, component="curl")
        with pytest.raises(ShapeError):
            viz.displacement_scalars(self.v, self.apex[:-1])

    def test_zero_field(self):
        fig = viz.plot_displacement(self.f, self.v, self.v, component="y")
        assert fig.data[0].cmin == -fig.data[0].cmax and fig.data[0].cmax > 0


# ---------------------------------------------------------------------------- plot_model
class TestPlotModel:
    def test_aus_and_landmarks(self, model):
        fig = viz.plot_model(model, aus={"AU12": 0.5})
        mesh = fig.data[0]
        z0 = model.v_template.numpy()[:, 2] * 1000
        dz = np.asarray(mesh.z) - z0
        m = smile_mask(model)
        np.testing.assert_allclose(dz[m], 0.5 * SMILE_MM, atol=1e-4)
        np.testing.assert_allclose(dz[~m], 0.0, atol=1e-4)
        assert fig.data[1].type == "scatter3d" and len(fig.data[1].x) == 68
        expected = model.landmarks(model(expression=model.aus_to_expression({"AU12": 0.5})))
        np.testing.assert_allclose(fig.data[1].customdata, expected[0].numpy() * 1000,
                                   atol=1e-4)
        lifted = np.stack([fig.data[1].x, fig.data[1].y, fig.data[1].z], 1)
        np.testing.assert_allclose(np.linalg.norm(lifted - fig.data[1].customdata, axis=1), 0.5,
                                   atol=1e-4)
        assert "AU12" in fig.layout.title.text

    def test_expression_identity_no_landmarks(self, model):
        fig = viz.plot_model(model, expression={"jawOpen": 1.0}, identity=[0.0, 1.0],
                             show_landmarks=None)
        assert len(fig.data) == 1
        verts = model_verts = model(torch.tensor([[0.0, 1.0]]), torch.tensor([[0, 0, 0, 1.0]]))
        np.testing.assert_allclose(fig.data[0].y, verts[0, :, 1].numpy() * 1000, atol=1e-4)
        assert model_verts.shape[1] == model.n_vertices
        with pytest.raises(InputValueError):
            viz.plot_model(model, expression={"nope": 1.0})
        with pytest.raises(ShapeError):
            viz.plot_model(model, identity=[1.0, 2.0, 3.0])

    def test_color_by_region(self, model):
        fig = viz.plot_model(model, color_by="region")
        mesh = fig.data[0]
        assert mesh.intensitymode == "cell" and len(mesh.intensity) == model.n_faces
        assert set(np.unique(mesh.intensity)) <= {-1.0, 0.0, 1.0}
        assert list(mesh.colorbar.ticktext) == ["unlabelled", "upper", "lower"]

    def test_color_by_au_and_displacement(self, model):
        fig = viz.plot_model(model, color_by="AU12")
        np.testing.assert_array_equal(fig.data[0].intensity, model.au_region_mask("AU12"))
        fig = viz.plot_model(model, aus={"AU12": 1.0}, color_by="displacement")
        m = smile_mask(model)
        np.testing.assert_allclose(fig.data[0].intensity[m], SMILE_MM, atol=1e-4)
        np.testing.assert_allclose(fig.data[0].intensity[~m], 0.0, atol=1e-4)
        with pytest.raises(OptionError):
            viz.plot_model(model, color_by="AU99")
        with pytest.raises(OptionError):
            viz.plot_model(model, show_landmarks="mp468")

    def test_model_vertices_matches_forward(self, model):
        v = viz.model_vertices(model, aus=torch.tensor([0.0, 1.0, 0.0]))
        idx = list(model.au_names).index("AU12")
        assert idx == 1
        ref = model(expression=model.aus_to_expression({"AU12": 1.0}))[0].numpy()
        np.testing.assert_allclose(v, ref, atol=1e-7)


# ---------------------------------------------------------------------------- side by side
class TestSideBySide:
    def test_panels_and_linked_cameras(self):
        v, f = grid(3)
        fig = viz.plot_meshes_side_by_side([(v, "onset"), (v * 1.1, "apex"), v], f)
        assert [t.scene for t in fig.data] == ["scene", "scene2", "scene3"]
        np.testing.assert_allclose(fig.data[1].x, v[:, 0] * 1100, rtol=1e-6)
        eyes = [fig.layout[s].camera.eye.to_plotly_json() for s in ("scene", "scene2", "scene3")]
        assert eyes[0] == eyes[1] == eyes[2]
        assert [a.text for a in fig.layout.annotations] == ["onset", "apex", "mesh 2"]
        assert fig.layout.meta["mxkit_linked_scenes"] == ["scene", "scene2", "scene3"]
        script = viz.camera_link_script(fig)
        assert "{plot_id}" in script and "scene3" in script
        unlinked = viz.plot_meshes_side_by_side([v, v], f, link_cameras=False)
        assert viz.camera_link_script(unlinked) == ""

    @pytest.mark.skipif(shutil.which("node") is None, reason="node.js not installed")
    def test_link_script_is_valid_javascript(self, tmp_path):
        v, f = grid(3)
        script = viz.camera_link_script(viz.plot_meshes_side_by_side([v, v], f))
        path = tmp_path / "link.js"
        path.write_text(script.replace("{plot_id}", "plot"))
        assert subprocess.run(["node", "--check", str(path)]).returncode == 0

    def test_shared_colour_limits(self):
        v, f = grid(3)
        s1, s2 = np.zeros(len(v)), np.linspace(0, 3, len(v))
        fig = viz.plot_meshes_side_by_side([v, v], f, scalars=[s1, s2], colorbar_title="mm")
        assert [(t.cmin, t.cmax) for t in fig.data] == [(0.0, 3.0), (0.0, 3.0)]
        assert [t.showscale for t in fig.data] == [False, True]
        with pytest.raises(ShapeError):
            viz.plot_meshes_side_by_side([v, v], f, scalars=[s1])
        with pytest.raises(InputValueError):
            viz.plot_meshes_side_by_side([], f)


# ---------------------------------------------------------------------------- animation
class TestAnimation:
    def setup_method(self):
        self.v, self.f = grid(4)
        amp = np.array([0.0, 0.5, 1.0, 0.25])                # onset, ..., apex, offset
        self.seq = self.v[None] + amp[:, None, None] * np.array([0, 0, 0.001])

    def test_frames_and_controls(self):
        fig = viz.mesh_animation(self.seq, self.f, fps=20, frame_labels=["on", "a", "apex", "off"])
        assert len(fig.frames) == 4
        for t, frame in enumerate(fig.frames):
            assert frame.name == str(t)
            d = frame.data[0]
            np.testing.assert_allclose(np.stack([d.x, d.y, d.z], 1), self.seq[t] * 1000,
                                       atol=1e-5)
        np.testing.assert_allclose(fig.data[0].z, self.seq[0, :, 2] * 1000, atol=1e-6)
        steps = fig.layout.sliders[0].steps
        assert [s.label for s in steps] == ["on", "a", "apex", "off"]
        assert [list(s.args[0]) for s in steps] == [["0"], ["1"], ["2"], ["3"]]
        buttons = fig.layout.updatemenus[0].buttons
        assert "play" in buttons[0].label and "pause" in buttons[1].label
        assert buttons[0].args[1]["frame"]["duration"] == pytest.approx(50.0)
        assert fig.layout.scene.zaxis.autorange is False       # ranges fixed over frames
        lo, hi = fig.layout.scene.zaxis.range
        assert lo <= 0 and hi >= 1.0

    def test_scalars(self):
        fig = viz.mesh_animation(self.seq, self.f, scalars="displacement")
        np.testing.assert_allclose([fr.data[0].intensity[0] for fr in fig.frames],
                                   [0.0, 0.5, 1.0, 0.25], atol=1e-6)
        assert (fig.data[0].cmin, fig.data[0].cmax) == (0.0, pytest.approx(1.0))
        s = np.arange(4 * len(self.v), dtype=float).reshape(4, -1)
        fig = viz.mesh_animation(torch.tensor(self.seq), self.f, scalars=s)
        np.testing.assert_allclose(fig.frames[2].data[0].intensity, s[2])
        assert (fig.data[0].cmin, fig.data[0].cmax) == (0.0, s.max())

    def test_magnify_and_landmarks(self):
        lms = self.seq[:, :2]
        fig = viz.mesh_animation(self.seq, self.f, magnify=10, landmarks=lms)
        np.testing.assert_allclose(fig.frames[2].data[0].z, 10.0, atol=1e-4)
        np.testing.assert_allclose(fig.frames[2].data[1].customdata[:, 2], 10.0, atol=1e-4)
        np.testing.assert_allclose(fig.frames[2].data[1].z, 10.5, atol=1e-4)   # lifted 0.5 mm
        assert fig.frames[2].traces == (0, 1)

    @pytest.mark.parametrize("kwargs, err", [
        ({"vertices": np.zeros((5, 3))}, ShapeError),
        ({"scalars": np.zeros((3, 16))}, ShapeError),
        ({"scalars": "speed"}, OptionError),
        ({"frame_labels": ["a"]}, ShapeError),
        ({"fps": 0}, InputValueError),
        ({"landmarks": np.zeros((2, 3, 3))}, ShapeError),
    ])
    def test_exceptions(self, kwargs, err):
        args = {"vertices": self.seq, **kwargs}
        with pytest.raises(err):
            viz.mesh_animation(args.pop("vertices"), self.f, **args)


# ---------------------------------------------------------------------------- explorer
def _z(explorer) -> np.ndarray:
    return np.asarray(explorer.figure.data[0].z, dtype=np.float64)


@pytest.fixture(params=[False, True], ids=["fallback", "live"])
def figure_widget(request) -> bool:
    """Both explorer back-ends: Output re-render, and FigureWidget (needs anywidget)."""
    if request.param and not figure_widget_available():
        pytest.skip("plotly's FigureWidget needs anywidget, which is not installed")
    return request.param


class TestExplorer:
    def test_au_slider_moves_vertices(self, model, figure_widget):
        w = viz.model_explorer(model, figure_widget=figure_widget)
        assert isinstance(w, ipywidgets.Widget)
        ex = w.explorer
        assert ex.live is figure_widget
        assert isinstance(ex.figure, go.FigureWidget if figure_widget else go.Figure)
        assert set(ex.au_sliders) == {"AU1", "AU12", "AU27"}
        renders = ex.n_renders
        z0 = _z(ex)
        np.testing.assert_allclose(z0, model.v_template.numpy()[:, 2] * 1000, atol=1e-4)
        ex.au_sliders["AU12"].value = 0.5                 # the slider callback fires
        m = smile_mask(model)
        dz = _z(ex) - z0
        np.testing.assert_allclose(dz[m], 0.5 * SMILE_MM, atol=1e-4)
        np.testing.assert_allclose(dz[~m], 0.0, atol=1e-4)
        if figure_widget:
            assert ex.n_renders == 0 and ex.output is None
        else:
            assert ex.n_renders == renders + 1 and len(ex.output.outputs) == 1
        assert "1.000 mm" in ex.status.value
        # landmarks follow the mesh
        lm = model.landmarks(model(expression=model.aus_to_expression({"AU12": 0.5})))[0]
        np.testing.assert_allclose(ex.figure.data[1].customdata, lm.numpy() * 1000, atol=1e-4)
        lifted = np.stack([ex.figure.data[1].x, ex.figure.data[1].y, ex.figure.data[1].z], 1)
        np.testing.assert_allclose(np.linalg.norm(lifted - lm.numpy() * 1000, axis=1), 0.5,
                                   atol=1e-3)

    def test_color_modes(self, model, figure_widget):
        ex = viz.model_explorer(model, figure_widget=figure_widget,
                                show_landmarks=False).explorer
        assert len(ex.figure.data) == 1
        ex.au_sliders["AU12"].value = 1.0
        ex.color_by.value = "displacement"
        mesh = ex.figure.data[0]
        m = smile_mask(model)
        np.testing.assert_allclose(np.asarray(mesh.intensity)[m], SMILE_MM, atol=1e-4)
        np.testing.assert_allclose(np.asarray(mesh.intensity)[~m], 0.0, atol=1e-4)
        assert mesh.cmin == 0 and mesh.cmax == pytest.approx(SMILE_MM, abs=1e-4)
        ex.au_sliders["AU12"].value = 0.25                 # intensity follows the slider
        np.testing.assert_allclose(np.asarray(ex.figure.data[0].intensity)[m],
                                   0.25 * SMILE_MM, atol=1e-4)
        ex.color_by.value = "region"
        mesh = ex.figure.data[0]
        assert mesh.intensitymode == "cell" and len(mesh.intensity) == model.n_faces
        assert list(mesh.colorbar.ticktext) == ["unlabelled", "upper", "lower"]
        ex.color_by.value = "displacement"                 # no region ticks left on the bar
        mesh = ex.figure.data[0]
        assert mesh.intensitymode == "vertex" and len(mesh.intensity) == model.n_vertices
        assert mesh.colorbar.tickvals is None and "neutral" in mesh.colorbar.title.text
        ex.color_by.value = "none"
        assert ex.figure.data[0].intensity is None and ex.figure.data[0].showscale is False

    def test_expression_mode_identity_and_reset(self, model, figure_widget):
        ex = viz.model_explorer(model, figure_widget=figure_widget).explorer
        y0 = np.asarray(ex.figure.data[0].y, dtype=np.float64)
        ex.au_sliders["AU12"].value = 1.0
        ex.mode.value = "expression"                      # AU sliders no longer drive
        np.testing.assert_allclose(_z(ex), model.v_template.numpy()[:, 2] * 1000, atol=1e-4)
        ex.expression_sliders["jawOpen"].value = 1.0
        dy = np.asarray(ex.figure.data[0].y, dtype=np.float64) - y0
        jaw = model.expr_basis.numpy()[3, :, 1] != 0
        np.testing.assert_allclose(dy[jaw], -JAW_MM, atol=1e-4)
        np.testing.assert_allclose(dy[~jaw], 0.0, atol=1e-4)
        ex.identity_sliders["id01"].value = 1.0           # +3 mm in z everywhere
        np.testing.assert_allclose(_z(ex) - model.v_template.numpy()[:, 2] * 1000, 3.0,
                                   atol=1e-4)
        ex.reset()
        np.testing.assert_allclose(_z(ex), model.v_template.numpy()[:, 2] * 1000, atol=1e-4)
        assert all(s.value == 0 for s in ex.expression_sliders.values())

    def test_options(self, model):
        ex = viz.model_explorer(model, shapes=["AU12", "jawOpen"], identity_components=1,
                                figure_widget=False).explorer
        assert list(ex.au_sliders) == ["AU12"] and list(ex.expression_sliders) == ["jawOpen"]
        assert list(ex.identity_sliders) == ["id00"]
        ex = viz.model_explorer(model, shapes="expression", identity_components=0,
                                figure_widget=False).explorer
        assert ex.mode.value == "expression" and not ex.identity_sliders
        with pytest.raises(InputValueError):
            viz.model_explorer(model, shapes=["smile"], figure_widget=False)
        with pytest.raises(OptionError):
            viz.model_explorer(model, color_by="rainbow", figure_widget=False)

    def test_default_picks_available_backend(self, model):
        ex = viz.model_explorer(model).explorer
        assert ex.live is figure_widget_available()

    def test_live_without_anywidget_is_a_clear_error(self, model, monkeypatch):
        from mxkit.viz import explorer

        def broken(*args, **kwargs):
            raise ImportError("Please install anywidget to use the FigureWidget class")

        monkeypatch.setattr(explorer, "figure_widget_available", lambda: True)
        monkeypatch.setattr(go, "FigureWidget", broken)
        with pytest.raises(BackendUnavailableError, match="anywidget"):
            viz.model_explorer(model, figure_widget=True)
        ex = viz.model_explorer(model).explorer            # auto: falls back quietly
        assert ex.live is False and ex.output is not None


def test_float64_model():
    model = tiny_model(torch.float64)
    fig = viz.plot_model(model, aus={"AU12": 0.5}, color_by="displacement")
    m = smile_mask(model)
    np.testing.assert_allclose(fig.data[0].intensity[m], 0.5 * SMILE_MM, atol=1e-4)
    ex = viz.model_explorer(model, figure_widget=False).explorer
    ex.au_sliders["AU12"].value = 0.5
    np.testing.assert_allclose((_z(ex) - model.v_template.numpy()[:, 2] * 1000)[m],
                               0.5 * SMILE_MM, atol=1e-4)


def test_mh_head_smoke():
    from mxkit.morph import load_face_model

    try:
        head = load_face_model("mh-head")
    except MxkitError as exc:           # the packaged asset is not built yet
        pytest.skip(str(exc))
    fig = viz.plot_model(head, aus={"AU12": 0.4}, color_by="region")
    assert len(fig.data[0].x) == head.n_vertices and len(fig.data[0].i) == head.n_faces
    ex = viz.model_explorer(head, figure_widget=False).explorer
    z0 = _z(ex)
    ex.au_sliders["AU12"].value = 0.5
    assert np.abs(_z(ex) - z0).max() > 0.1              # the smile moves vertices (mm)
