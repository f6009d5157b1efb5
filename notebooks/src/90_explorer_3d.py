# %% [markdown]
# # 90 · The interactive 3D explorer: a micro-expression, frame by frame, magnified
#
# A micro-expression moves the face by a fraction of a millimetre for a fifth of a second: on a
# plain 3D view it is invisible. `mxkit.viz.sequence` gives a reconstructed clip the views it
# needs: the motion since the onset **magnified** in 3D (the geometric analogue of Eulerian video
# magnification), colour maps of the true displacement, of the MeshDeformer's offsets or of the
# error against a ground truth, AU-region masks, a few-frame animation for static pages and an
# **interactive explorer** with an onset ↔ apex frame slider, the aligned frame and its optical
# flow beside the mesh.
#
# **You will learn**
# - to reconstruct one SynthME micro-expression with the full method and compare it with its
#   3D ground truth;
# - to magnify the micro-motion (`magnify_motion`, `plot_magnified_motion`) without changing the
#   numbers the colours show;
# - to embed a small animation (`reconstruction_animation`) that plays without a kernel;
# - to drive the explorer (`reconstruction_explorer`): frame and magnification sliders, mesh and
#   colour menus, AU-region toggles, flow arrows or colour on the aligned frame — by hand or
#   from code.
#
# **Runtime:** about 30 s on a laptop CPU. **Prerequisites:** `00_quickstart` (the pipeline),
# `30_preprocessing` (flow), `70_reconstruction_eval` (the metrics). The explorer needs a live
# kernel (ipywidgets; plotly's `FigureWidget` with `anywidget` for in-place updates, otherwise it
# re-renders the figure); in a saved notebook only the animation plays.

# %%
import os
import tempfile

import numpy as np

import mxkit
from mxkit.data import make_dataset
from mxkit.eval import evaluate_reconstruction
from mxkit.workflows import weights_settings
from mxkit.morph import load_face_model
from mxkit.viz import (
    magnify_motion,
    plot_magnified_motion,
    plot_meshes_side_by_side,
    reconstruction_animation,
    reconstruction_explorer,
)

# %% tags=["parameters"]
# Parameters: small defaults keep this notebook fast on a CPU (CI runs it with nbval).
PRESET = "tiny"        # SynthME size: "tiny" (128 px frames), "small" (256 px)
SEED = 2               # held out: the shipped weights were trained on seed 0
ALPHA = 10.0           # magnification of the drawn geometry
ANIMATION_FRAMES = 5   # frames embedded in the animation (each one is a whole mesh: keep it small)
FULL = os.environ.get("MXKIT_NB_FULL") == "1"
if FULL:
    PRESET, ANIMATION_FRAMES = "small", 9

# %% [markdown]
# ## 1 · One micro-expression, reconstructed
# One clip of one held-out SynthME subject; prepared with the settings recorded in the shipped
# weights (`weights_settings()["prepare"]`: the crop size the networks were trained on) and
# reconstructed with the full method (clip fit + DynamicEncoder + MeshDeformer).

# %%
# NBVAL_CHECK_OUTPUT
workdir = tempfile.TemporaryDirectory()
clips = make_dataset(os.path.join(workdir.name, "SynthME"), preset=PRESET, expression_type="micro", seed=SEED,
                     n_subjects=1, micro=1)
clip = clips[0]
print(clip.n_frames, "frames at", clip.fps, "fps | onset, apex, offset:", clip.onset, clip.apex, clip.offset)
print("emotion:", clip.emotion, "| true AUs:", clip.ground_truth.aus)

# %%
# NBVAL_CHECK_OUTPUT
model = load_face_model("mh-head")
prepared = mxkit.prepare(clip, **weights_settings()["prepare"])
rec = mxkit.reconstruct(prepared, model=model, variant="full")
static = mxkit.reconstruct(prepared, model=model, variant="static")
print(rec.variant, tuple(rec.vertices.shape), "| crop", prepared.frames.shape[1:3])

# %% [markdown]
# ## 2 · Against the ground truth
# `evaluate_reconstruction` (definitions in `docs/metrics.md`): the micro-motion error compares the
# apex − onset displacement fields after one rigid alignment on the onset frame; `motion_true`
# and `motion_pred` are how far the face moves in the truth and in the reconstruction.

# %%
truth = clip.ground_truth
metrics = {r.variant: evaluate_reconstruction(r, truth, model, prepared=prepared) for r in (static, rec)}
for name, m in metrics.items():
    print(f"{name:>7s}: micro-motion L1 {m.value('micro_motion_l1'):.3f} mm | motion true "
          f"{m.value('motion_true'):.3f} mm, reconstructed {m.value('motion_pred'):.3f} mm | SNR {m.value('snr'):.1f}")

# %%
# NBVAL_CHECK_OUTPUT
print("full closer to the true micro-motion than static:",
      metrics["full"].value("micro_motion_l1") < metrics["static"].value("micro_motion_l1"))
print("full stands out of its own jitter more than static (SNR):",
      metrics["full"].value("snr") > metrics["static"].value("snr"))

# %% [markdown]
# ## 3 · Magnifying the micro-motion
# `magnify_motion(V, onset, alpha)` returns `V_onset + alpha (V_t - V_onset)`: every vertex keeps
# the direction of its motion, the length is multiplied by `alpha`. Only the drawn geometry is
# exaggerated; every colour below is in true (unmagnified) millimetres.

# %%
# NBVAL_CHECK_OUTPUT
true_v = truth.vertices(model)
big = magnify_motion(true_v, onset=clip.onset, alpha=ALPHA)
d_true = true_v[clip.apex] - true_v[clip.onset]
print("alpha = 1 changes nothing:", bool(np.allclose(magnify_motion(true_v, clip.onset, 1.0), true_v)))
print("the onset stays put:", bool(np.allclose(big[clip.onset], true_v[clip.onset])))
print(f"apex displacement x{ALPHA:g}:", bool(np.allclose(big[clip.apex] - true_v[clip.onset], ALPHA * d_true)))
length = np.linalg.norm(d_true, axis=1) * 1000                      # mm, per vertex
print("a micro-motion: under 1 mm on average, under 1 cm at most:", bool(length.mean() < 1 and length.max() < 10))

# %% [markdown]
# The truth and the reconstruction at the apex, both magnified ×`ALPHA`, coloured by the true
# length of their displacement since the onset (rotate one panel, the others follow):

# %%
# NBVAL_IGNORE_OUTPUT
panels = [(magnify_motion(true_v, clip.onset, ALPHA)[clip.apex], "ground truth"),
          (magnify_motion(rec.vertices, rec.onset, ALPHA)[rec.apex], "full"),
          (magnify_motion(static.vertices, static.onset, ALPHA)[static.apex], "static")]
colours = [np.linalg.norm(v[clip.apex] - v[clip.onset], axis=1) * 1000
           for v in (true_v, rec.vertices.numpy(), static.vertices.numpy())]
plot_meshes_side_by_side(panels, model.faces, scalars=colours, cmin=0,
                         colorbar_title="apex − onset (mm)", height=340)

# %% [markdown]
# `plot_magnified_motion` does the same for one reconstruction with more choices: the frame, the
# mesh (`fine`, `coarse` without the deformer's offsets, `truth`), the colour (`displacement`,
# `offsets`, `error` against the truth, `none`), a component (`magnitude`, `normal`, `x`, `y`,
# `z`) and AU regions. Here the error of the full method's displacement against the truth's,
# limited to the clip's true AU regions:

# %%
# NBVAL_IGNORE_OUTPUT
plot_magnified_motion(rec, model, truth=clip, alpha=ALPHA, color_by="error", aus=list(truth.aus),
                      height=380)

# %% [markdown]
# ## 4 · An animation for static pages
# `reconstruction_animation` embeds a few frames from onset to offset (always the onset and the
# apex) of the face part of the mesh, with play / pause and a slider that work without a kernel
# (in this saved notebook or an HTML page). Each frame is a whole mesh, so keep them few.

# %%
# NBVAL_IGNORE_OUTPUT
anim = reconstruction_animation(rec, model, alpha=ALPHA, frames=ANIMATION_FRAMES, height=420)
anim

# %%
# NBVAL_CHECK_OUTPUT
labels = [s.label for s in anim.layout.sliders[0].steps]
print(len(anim.frames), "frames:", [lab.split(" ")[0] for lab in labels])
print("onset and apex included:", {str(clip.onset), str(clip.apex)} <= {lab.split(" ")[0] for lab in labels})

# %% [markdown]
# ## 5 · The explorer
# With a live kernel: drag **frame** from the onset to the apex and back, raise **magnify ×**, switch
# the mesh (fine / coarse / truth) and the colour (displacement since onset, deformer offsets,
# error vs truth), toggle AU regions to look inside them only, and choose arrows or the flow
# colour wheel on the aligned frame. The status line gives the frame, its phase and time, the
# largest value shown and its mean inside the selected AU regions.

# %%
# NBVAL_IGNORE_OUTPUT
explorer_widget = reconstruction_explorer(rec, model, prepared=prepared, truth=clip, alpha=ALPHA,
                                          overlay="arrows", height=440)
explorer_widget

# %% [markdown]
# Every control is an ipywidget on `explorer_widget.explorer`, so a view can be set from code
# too (and tested): the frame slider runs from the onset to the offset; at the onset there is
# no displacement to show; with an AU toggle on, the colours outside its region are zero.

# %%
# NBVAL_CHECK_OUTPUT
ex = explorer_widget.explorer
print("slider: onset -> offset:", (ex.frame.min, ex.frame.max) == (clip.onset, clip.offset))
print("meshes:", [v for _, v in ex.mesh.options], "| colours:", [v for _, v in ex.color_by.options])
print("AU toggles:", list(ex.au_toggles))
ex.frame.value = clip.onset
print("no displacement at the onset:", bool(np.abs(ex.displayed_scalars()).max() < 1e-9))
ex.frame.value = clip.apex
au = next(iter(ex.au_toggles))
ex.au_toggles[au].value = True
inside = np.asarray(model.au_region_mask(au)) > 0
print(f"{au} toggled: colour only inside its region:", bool(np.all(ex.displayed_scalars()[~inside] == 0)))
ex.overlay.value = "colour"
img, x, y = ex.frame_panel()
print("flow colour overlay:", img.shape, "| arrows hidden:", x.size == 0)
ex.au_toggles[au].value = False
ex.overlay.value = "arrows"

# %% [markdown]
# ## Summary
# `magnify_motion` exaggerates a reconstructed micro-expression about its onset without touching
# the measured values; `plot_magnified_motion` and `reconstruction_animation` show it on static
# pages, `reconstruction_explorer` lets you scrub through it with the flow beside it. This is
# the last notebook of the series: **00_quickstart** runs everything end to end, and
# `mxkit demo` (`make run`) writes the same views into a self-contained HTML report.
