"""Tests of mxkit.viz.sequence: 3D motion magnification, the reconstruction animation and the
reconstruction explorer (known motions on a small grid 'face'; no kernel, no browser)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mxkit.errors import BackendUnavailableError, InputValueError, OptionError, ShapeError
from mxkit.morph import FaceModel
from mxkit.testing import toy_face_model
from mxkit.workflows import Reconstruction

go = pytest.importorskip("plotly.graph_objects")
pytest.importorskip("ipywidgets")

from mxkit import viz  # noqa: E402
from mxkit.viz._backend import figure_widget_available  # noqa: E402

N = 6                              # grid side: N * N vertices, 1 cm apart
PROFILE = np.array([0.0, 0.0, 0.5, 1.0, 0.25])   # onset 1, apex 3, offset 4
ONSET, APEX, OFFSET = 1, 3, 4
COARSE_MM = 1.0                    # lower half: +z toward the camera at the apex (coarse)
OFFSET_MM = 0.2                    # upper half: +y, the deformer's offsets at the apex
TRUTH_MM = 1.2                     # the truth moves the lower half 1.2 mm in z at the apex


def grid_model() -> FaceModel:
    """The toy grid of ``mxkit.testing`` (vertices 1 cm apart from the origin, zero bases) with
    a lower and an upper half (AU12 and AU4 masks)."""
    y = toy_face_model(N, width=0.01 * (N - 1), centred=False).v_template.numpy()[:, 1]
    lower = (y < 0.025).astype(np.float32)
    return toy_face_model(N, width=0.01 * (N - 1), centred=False, n_identity=0, scale=0.0,
                          regions={"lower": lower > 0, "upper": lower == 0},
                          au_masks={"AU12": lower, "AU4": 1.0 - lower})


@pytest.fixture(scope="module")
def model() -> FaceModel:
    return grid_model()


@pytest.fixture(scope="module")
def lower(model) -> np.ndarray:
    return model.au_region_mask("AU12") > 0


def known_recon(model: FaceModel, fps: float = 100.0) -> Reconstruction:
    """Coarse: the lower half moves p_t * 1 mm in +z; offsets: the upper half p_t * 0.2 mm in +y."""
    v0 = model.v_template.numpy()
    low = model.au_region_mask("AU12")[:, None]
    p = PROFILE[:, None, None]
    coarse = v0[None] + p * low * np.array([0.0, 0.0, COARSE_MM / 1000])
    offsets = p * (1.0 - low) * np.array([0.0, OFFSET_MM / 1000, 0.0])
    T, E = len(PROFILE), model.n_expressions
    t = torch.as_tensor
    return Reconstruction(
        clip_key=("test", "s1", "c1"), model_name=model.name, variant="full", onset=ONSET,
        apex=APEX, offset=OFFSET, coarse=None, expression=torch.zeros(T, E),
        delta_expression=torch.zeros(T, E), vertex_offsets=t(offsets), dynamic_code=None,
        vertices_coarse=t(coarse), vertices=t(coarse + offsets), fps=fps)


def known_truth(model: FaceModel) -> np.ndarray:
    v0 = model.v_template.numpy()
    low = model.au_region_mask("AU12")[:, None]
    return v0[None] + PROFILE[:, None, None] * low * np.array([0.0, 0.0, TRUTH_MM / 1000])


def fake_prepared(S: int = 32) -> SimpleNamespace:
    """Frame t is grey level 10 t; the flow is (0.1 t, 0) px everywhere; landmarks drift."""
    T = len(PROFILE)
    frames = np.stack([np.full((S, S, 3), 10 * t, np.uint8) for t in range(T)])
    flow = np.zeros((T, S, S, 2), np.float32)
    flow[..., 0] = 0.1 * np.arange(T)[:, None, None]
    lm = np.tile(np.linspace(4, 28, 68)[None, :, None], (T, 1, 2)).astype(np.float32)
    lm[..., 0] += np.arange(T)[:, None]
    return SimpleNamespace(frames=frames, flow=flow, landmarks=lm)


def xyz(trace) -> np.ndarray:
    return np.stack([np.asarray(trace.x, float), np.asarray(trace.y, float),
                     np.asarray(trace.z, float)], axis=1)


# ----------------------------------------------------------------------------- magnify_motion
class TestMagnifyMotion:
    def test_known_displacement(self):
        seq = np.zeros((3, 2, 3))
        seq[:, 1] = [0.01, 0.0, 0.0]
        seq[2, 0] = [0.0, 0.0, 0.001]                     # 1 mm toward the camera at t = 2
        out = viz.magnify_motion(seq, onset=0, alpha=10.0)
        np.testing.assert_allclose(out[2, 0], [0.0, 0.0, 0.01])
        np.testing.assert_allclose(out[:, 1], seq[:, 1])  # still vertices stay put
        np.testing.assert_allclose(viz.magnify_motion(seq, 0, 1.0), seq)
        np.testing.assert_allclose(viz.magnify_motion(seq, 0, 0.0), np.repeat(seq[:1], 3, 0))
        np.testing.assert_allclose(viz.magnify_motion(seq, 2, -1.0)[0, 0], [0, 0, 0.002])

    def test_reference_positions_and_tensors(self):
        ref = torch.zeros(2, 3, dtype=torch.float64)
        mesh = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.002, 0.0]])
        out = viz.magnify_motion(mesh, ref, 5)
        assert isinstance(out, np.ndarray) and out.dtype == np.float64
        np.testing.assert_allclose(out[1], [0.0, 0.01, 0.0])
        seq = np.stack([mesh.numpy(), 2 * mesh.numpy()])
        np.testing.assert_allclose(viz.magnify_motion(seq, ref.numpy(), 2)[1, 1], [0, 0.008, 0])

    @pytest.mark.parametrize("args, err", [
        ((np.zeros((3, 2, 3)), 0, float("nan")), InputValueError),
        ((np.zeros((3, 2, 3)), 3, 2.0), InputValueError),
        ((np.zeros((2, 3)), 0, 2.0), InputValueError),
        ((np.zeros((3, 2, 3)), np.zeros((3, 3)), 2.0), ShapeError),
        ((np.zeros((3, 2)), 0, 2.0), ShapeError),
        ((np.full((3, 2, 3), np.inf), 0, 2.0), InputValueError),
    ])
    def test_errors(self, args, err):
        with pytest.raises(err):
            viz.magnify_motion(*args)


# ----------------------------------------------------------------------------- static figures
class TestPlotMagnifiedMotion:
    def test_apex_magnified_colours_true(self, model, lower):
        rec = known_recon(model)
        fig = viz.plot_magnified_motion(rec, model, alpha=10.0)
        mesh = fig.data[0]
        p = xyz(mesh)
        v0 = model.v_template.numpy() * 1000
        np.testing.assert_allclose(p[lower, 2], 10 * COARSE_MM, atol=1e-4)
        np.testing.assert_allclose(p[~lower, 1] - v0[~lower, 1], 10 * OFFSET_MM, atol=1e-4)
        s = np.asarray(mesh.intensity, float)            # true motion, not magnified
        np.testing.assert_allclose(s[lower], COARSE_MM, atol=1e-5)
        np.testing.assert_allclose(s[~lower], OFFSET_MM, atol=1e-5)
        assert mesh.cmin == 0 and mesh.cmax == pytest.approx(COARSE_MM, abs=1e-5)
        assert "apex" in fig.layout.title.text and "+20 ms" in fig.layout.title.text

    def test_modes_components_and_regions(self, model, lower):
        rec, truth = known_recon(model), known_truth(model)
        s = np.asarray(viz.plot_magnified_motion(rec, model, aus=["AU12"]).data[0].intensity)
        np.testing.assert_allclose(s[~lower], 0.0, atol=1e-6)       # colour limited to AU12
        np.testing.assert_allclose(s[lower], COARSE_MM, atol=1e-5)
        s = np.asarray(viz.plot_magnified_motion(rec, model, color_by="offsets",
                                                 frame=2).data[0].intensity)
        np.testing.assert_allclose(s[~lower], 0.5 * OFFSET_MM, atol=1e-5)
        np.testing.assert_allclose(s[lower], 0.0, atol=1e-6)
        fig = viz.plot_magnified_motion(rec, model, color_by="error", truth=truth)
        np.testing.assert_allclose(fig.data[0].intensity, 0.2, atol=1e-5)   # both halves
        fig = viz.plot_magnified_motion(rec, model, component="z")
        mesh = fig.data[0]
        np.testing.assert_allclose(np.asarray(mesh.intensity)[~lower], 0.0, atol=1e-6)
        assert mesh.cmin == -mesh.cmax and mesh.colorscale[0][1] != "#440154"  # diverging
        fig = viz.plot_magnified_motion(rec, model, component="normal")    # normals are +z
        np.testing.assert_allclose(np.asarray(fig.data[0].intensity)[lower], COARSE_MM,
                                   atol=1e-5)
        fig = viz.plot_magnified_motion(rec, model, mesh="coarse", alpha=3, color_by="none")
        v0 = model.v_template.numpy() * 1000
        np.testing.assert_allclose(xyz(fig.data[0])[~lower], v0[~lower], atol=1e-4)
        assert fig.data[0].intensity is None
        onset = viz.plot_magnified_motion(rec, model, frame="onset", alpha=50)
        np.testing.assert_allclose(xyz(onset.data[0]), v0, atol=1e-4)
        fig = viz.plot_magnified_motion(rec, model, mesh="truth", truth=truth, cmax=3.0)
        assert fig.data[0].cmax == 3.0
        np.testing.assert_allclose(np.asarray(fig.data[0].intensity)[lower], TRUTH_MM,
                                   atol=1e-5)

    @pytest.mark.parametrize("kwargs, err", [
        ({"color_by": "error"}, InputValueError),          # no truth
        ({"mesh": "truth"}, OptionError),
        ({"color_by": "rainbow"}, OptionError),
        ({"component": "w"}, OptionError),
        ({"frame": 9}, InputValueError),
        ({"alpha": float("inf")}, InputValueError),
        ({"aus": ["AU99"]}, OptionError),
        ({"truth": np.zeros((2, N * N, 3))}, ShapeError),
    ])
    def test_errors(self, model, kwargs, err):
        with pytest.raises(err):
            viz.plot_magnified_motion(known_recon(model), model, **kwargs)

    def test_not_a_reconstruction(self, model):
        with pytest.raises(InputValueError, match="onset"):
            viz.plot_magnified_motion(SimpleNamespace(vertices=np.zeros((2, N * N, 3))), model)
        bad = SimpleNamespace(vertices=np.zeros((2, 5, 3)), onset=0, apex=1, offset=1)
        with pytest.raises(ShapeError):
            viz.plot_magnified_motion(bad, model)


class TestAnimation:
    def test_frames_labels_and_values(self, model, lower):
        rec = known_recon(model)
        fig = viz.reconstruction_animation(rec, model, alpha=10, frames=4, region=None)
        labels = [s.label for s in fig.layout.sliders[0].steps]
        assert labels == ["1 onset +0 ms", "2 +10 ms", "3 apex +20 ms", "4 offset +30 ms"]
        apex = fig.frames[2].data[0]
        np.testing.assert_allclose(np.asarray(apex.z)[lower], 10 * COARSE_MM, atol=1e-4)
        np.testing.assert_allclose(np.asarray(apex.intensity)[lower], COARSE_MM, atol=1e-5)
        np.testing.assert_allclose(fig.frames[0].data[0].intensity, 0.0, atol=1e-6)
        assert fig.data[0].cmax == pytest.approx(COARSE_MM, abs=1e-5)   # shared limits

    def test_region_crop_and_explicit_frames(self, model, lower):
        rec = known_recon(model)
        fig = viz.reconstruction_animation(rec, model, frames=[3, 1], region=lower,
                                           color_by="none")
        assert len(fig.frames) == 2 and len(fig.data[0].x) == lower.sum()
        assert len(fig.data[0].i) == 2 * (N - 1) * 2        # two rows of grid cells below y=2.5 cm
        assert fig.data[0].intensity is None
        with pytest.raises(InputValueError):
            viz.reconstruction_animation(rec, model, region=np.zeros(N * N, bool))
        with pytest.raises(InputValueError):
            viz.reconstruction_animation(rec, model, frames=1)


# ----------------------------------------------------------------------------- explorer
@pytest.fixture(params=[False, True], ids=["fallback", "live"])
def figure_widget(request) -> bool:
    if request.param and not figure_widget_available():
        pytest.skip("plotly's FigureWidget needs anywidget, which is not installed")
    return request.param


class TestExplorer:
    def test_sliders_drive_mesh_and_colour(self, model, lower, figure_widget):
        w = viz.reconstruction_explorer(known_recon(model), model, figure_widget=figure_widget)
        ex = w.explorer
        assert ex.live is figure_widget and w.explorer is ex
        assert (ex.frame.min, ex.frame.max, ex.frame.value) == (ONSET, OFFSET, APEX)
        assert list(ex.au_toggles) == ["AU4", "AU12"]
        renders = ex.n_renders
        mesh = ex.figure.data[0]
        np.testing.assert_allclose(xyz(mesh)[lower, 2], COARSE_MM, atol=1e-4)
        ex.frame.value = 2                              # the slider callbacks fire
        ex.alpha.value = 10.0
        mesh = ex.figure.data[0]
        np.testing.assert_allclose(xyz(mesh)[lower, 2], 10 * 0.5 * COARSE_MM, atol=1e-4)
        np.testing.assert_allclose(np.asarray(mesh.intensity)[lower], 0.5 * COARSE_MM,
                                   atol=1e-5)
        assert mesh.cmax == pytest.approx(COARSE_MM, abs=1e-5)   # fixed over the clip
        assert "2 +10 ms" in ex.status.value and "×10" in ex.status.value
        ex.au_toggles["AU12"].value = True
        s = np.asarray(ex.figure.data[0].intensity)
        np.testing.assert_allclose(s[~lower], 0.0, atol=1e-6)
        assert "mean in AU12 = 0.500 mm" in ex.status.value
        ex.mesh.value = "coarse"
        v0 = model.v_template.numpy() * 1000
        np.testing.assert_allclose(xyz(ex.figure.data[0])[~lower], v0[~lower], atol=1e-4)
        ex.color_by.value = "offsets"
        ex.au_toggles["AU12"].value = False
        s = np.asarray(ex.figure.data[0].intensity)
        np.testing.assert_allclose(s[~lower], 0.5 * OFFSET_MM, atol=1e-5)
        ex.color_by.value = "none"
        assert ex.figure.data[0].intensity is None and ex.displayed_scalars() is None
        if figure_widget:
            assert ex.n_renders == 0 and ex.output is None
        else:
            assert ex.n_renders > renders and len(ex.output.outputs) == 1

    def test_truth_modes(self, model, lower):
        truth = SimpleNamespace(vertices=lambda m: known_truth(m), aus={"AU12": 0.3})
        ex = viz.reconstruction_explorer(known_recon(model), model, truth=truth,
                                         color_by="error", figure_widget=False).explorer
        assert list(ex.au_toggles) == ["AU12"]          # the truth's AUs
        assert [v for _, v in ex.mesh.options] == ["fine", "coarse", "truth"]
        np.testing.assert_allclose(ex.figure.data[0].intensity, 0.2, atol=1e-5)
        ex.mesh.value = "truth"
        np.testing.assert_allclose(ex.figure.data[0].intensity, 0.0, atol=1e-6)
        ex.color_by.value = "displacement"
        ex.component.value = "z"
        np.testing.assert_allclose(np.asarray(ex.figure.data[0].intensity)[lower], TRUTH_MM,
                                   atol=1e-5)
        assert ex.figure.data[0].cmin == pytest.approx(-TRUTH_MM, abs=1e-5)

    def test_flow_panel(self, model, figure_widget):
        prep = fake_prepared()
        ex = viz.reconstruction_explorer(known_recon(model), model, prepared=prep,
                                         arrow_step=8, figure_widget=figure_widget).explorer
        assert [tr.type for tr in ex.figure.data] == ["mesh3d", "image", "scatter", "scatter"]
        np.testing.assert_array_equal(np.asarray(ex.figure.data[1].z), prep.frames[APEX])
        ex.frame.value = 2
        fig = ex.figure
        np.testing.assert_array_equal(np.asarray(fig.data[1].z), prep.frames[2])
        x = np.asarray(fig.data[2].x, float).reshape(-1, 3)
        gain = 2.5 * 8 / 0.4                             # longest flow: 0.1 * 4 px
        np.testing.assert_allclose(x[:, 1] - x[:, 0], gain * 0.2, atol=1e-6)
        assert np.isnan(x[:, 2]).all() and len(x) == 16   # a 4 x 4 grid of arrows
        np.testing.assert_allclose(fig.data[3].x, prep.landmarks[2, :, 0])
        ex.overlay.value = "colour"
        img = np.asarray(ex.figure.data[1].z)
        assert img.shape == prep.frames[2].shape and (img != prep.frames[2]).any()
        assert len(ex.figure.data[2].x) == 0
        ex.overlay.value = "none"
        np.testing.assert_array_equal(np.asarray(ex.figure.data[1].z), prep.frames[2])

    def test_options_and_errors(self, model):
        rec = known_recon(model)
        ex = viz.reconstruction_explorer(rec, model, frame_range=(0, 4), frame=0, alpha=5,
                                         aus=[], figure_widget=False).explorer
        assert (ex.frame.min, ex.frame.max, ex.alpha.value) == (0, 4, 5.0)
        assert not ex.au_toggles
        with pytest.raises(InputValueError):
            viz.reconstruction_explorer(rec, model, frame=0, figure_widget=False)
        with pytest.raises(InputValueError):
            viz.reconstruction_explorer(rec, model, alpha=80, figure_widget=False)
        with pytest.raises(InputValueError):
            viz.reconstruction_explorer(rec, model, color_by="error", figure_widget=False)
        with pytest.raises(OptionError):
            viz.reconstruction_explorer(rec, model, overlay="both", figure_widget=False)
        bad = fake_prepared()
        bad.flow = bad.flow[:3]
        with pytest.raises(ShapeError):
            viz.reconstruction_explorer(rec, model, prepared=bad, figure_widget=False)
        with pytest.raises(InputValueError):
            viz.reconstruction_explorer(rec, model, prepared=SimpleNamespace(frames=None),
                                        figure_widget=False)

    def test_live_without_anywidget_is_a_clear_error(self, model, monkeypatch):
        from mxkit.viz import sequence

        def broken(*args, **kwargs):
            raise ImportError("Please install anywidget to use the FigureWidget class")

        monkeypatch.setattr(sequence, "figure_widget_available", lambda: True)
        monkeypatch.setattr(go, "FigureWidget", broken)
        with pytest.raises(BackendUnavailableError, match="anywidget"):
            viz.reconstruction_explorer(known_recon(model), model, figure_widget=True)
        ex = viz.reconstruction_explorer(known_recon(model), model).explorer
        assert ex.live is False and ex.output is not None


def test_mh_head_smoke(mh_head):
    """A smile on the real head: toggling AU12 keeps the colour inside its region."""
    expr = mh_head.aus_to_expression({"AU12": 0.4})
    with torch.no_grad():
        neutral, smile = mh_head()[0].numpy(), mh_head(expression=expr)[0].numpy()
    verts = neutral[None] + PROFILE[:, None, None] * (smile - neutral)[None]
    rec = SimpleNamespace(vertices=verts, onset=ONSET, apex=APEX, offset=OFFSET)
    ex = viz.reconstruction_explorer(rec, mh_head, figure_widget=False).explorer
    assert "AU12" in ex.au_toggles and "offsets" not in [v for _, v in ex.color_by.options]
    ex.au_toggles["AU12"].value = True
    s = np.asarray(ex.figure.data[0].intensity)
    assert float(s[mh_head.au_region_mask("AU12") == 0].max()) == 0.0
    assert float(s.max()) > 1.0                         # mm, at the mouth corners
