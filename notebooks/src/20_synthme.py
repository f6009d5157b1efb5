# %% [markdown]
# # 20 · SynthME: synthetic micro-expression data
#
# Real micro-expression datasets (CASME II, SAMM, ...) are licence-gated and carry no 3D
# ground truth. **SynthME** is mxkit's embedded default dataset: synthetic subjects built on
# the `mh-head` model perform AU-driven micro- and macro-expressions, rendered with mxkit's
# rasterizer and written **in the CASME II layout with its official coding sheet**, plus a
# `gt/` sidecar holding the exact 3D truth of every frame. The same loaders serve real and
# synthetic data.
#
# **You will learn**
# - to generate a small SynthME set on disk and read its coding sheet;
# - what a micro-expression clip looks like: onset, apex, offset and the intensity profile;
# - what the ground truth holds, including the **fine-detail field** that no blendshape can
#   express (what a mesh-deformation network must recover);
# - to check that the frames look like faces to a real detector (dlib).
#
# **Runtime:** about 30 s on a laptop CPU. **Prerequisites:** `10_face_model` (the face model).

# %%
import os
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mxkit.data import PRESETS, load_synthme, make_dataset
from mxkit.data.synth import (
    EMOTION_RECIPES,
    dataset_plan,
    detection_report,
    generate_clip,
    generate_subject,
    render_frames,
)
from mxkit.face import detect_landmarks
from mxkit.morph import load_face_model
from mxkit.viz import plot_displacement

plt.rcParams["figure.dpi"] = 72      # keeps the committed notebook small

# %% tags=["parameters"]
# Parameters: small defaults keep this notebook fast on a CPU (CI runs it with nbval).
PRESET = "small"      # "tiny" (unit tests), "small" (6 subjects), "full" (364 clips, 640x480)
N_SUBJECTS = 2        # fewer subjects than the preset's 6, to stay fast
SEED = 0              # everything follows from it: same seed, same bytes
DLIB_FRAMES = "key"   # dlib check on onset/apex/offset of each clip ("all", or every n-th: 10)
FULL = os.environ.get("MXKIT_NB_FULL") == "1"
if FULL:              # the whole "full" preset (26 subjects, 364 clips at 640x480), dlib on every frame
    PRESET, DLIB_FRAMES = "full", "all"
    N_SUBJECTS = PRESETS[PRESET]["n_subjects"]

# %% [markdown]
# ## Generate a dataset
# `make_dataset` plans every clip, paints each subject's albedo, renders the frames and writes
# the whole folder atomically (it is built next to `out` and renamed into place; it never
# writes into a non-empty folder it did not create). It returns the set **loaded back** by
# `load_synthme`, i.e. by the ordinary CASME II loader plus the ground truth.

# %%
# NBVAL_CHECK_OUTPUT
workdir = Path(tempfile.mkdtemp(prefix="synthme_"))
root = workdir / "SynthME"
clips = make_dataset(root, preset=PRESET, n_subjects=N_SUBJECTS, seed=SEED)
print(clips)
print(sum(c.n_frames for c in clips), "frames of", clips[0].frame(0).shape)
for path in sorted(p.relative_to(root).as_posix() for p in root.iterdir()):
    print(path)

# %% [markdown]
# The coding sheet is in the official format (`DATASETS.md` §1.3): columns C and G empty,
# `Subject` as text, `Action Units` as CASME II writes them (`4+L10`: AU4 plus a one-sided
# AU10 on the subject's left), emotions in CASME II's spelling.

# %%
sheet = pd.read_excel(root / "CASME2-coding-20140508.xlsx", dtype={"Subject": str})
sheet

# %% [markdown]
# The loader's view adds the frame indices: `onset/apex/offset` are 0-based indices into the
# frames of the folder, which keep neutral **baseline** frames before the onset and after the
# offset, as the real data do (`load_casme2(..., window="all")`).

# %%
# NBVAL_CHECK_OUTPUT
table = clips.to_dataframe()
table["kind"] = [c.ground_truth.expression_type for c in clips]
print(table[["subject", "clip_id", "kind", "emotion", "au_string", "n_frames", "onset", "apex",
             "offset", "duration_s"]].to_string(index=False))

# %% [markdown]
# Emotions map to AU combinations following CASME II's coding conventions:

# %%
# NBVAL_CHECK_OUTPUT
for emotion, recipes in EMOTION_RECIPES.items():
    print(f"{emotion:<11s}", ", ".join(dict.fromkeys(recipes)))

# %% [markdown]
# ## A micro-expression, frame by frame
# Onset, apex and offset frames of the first micro and the first macro clip, and the apex
# minus onset difference (magnified): the micro-expression is subtle, the macro one is not.

# %%
micro = next(c for c in clips if c.ground_truth.expression_type == "micro")
macro = next(c for c in clips if c.ground_truth.expression_type == "macro")
fig, axes = plt.subplots(2, 4, figsize=(10, 5.4))
for row, clip in zip(axes, (micro, macro), strict=True):
    imgs = clip.load_frames([clip.onset, clip.apex, clip.offset])
    diff = np.abs(imgs[1].astype(int) - imgs[0].astype(int)).mean(-1)
    for ax, img, title in zip(row, imgs, ("onset", "apex", "offset"), strict=False):
        ax.imshow(img)
        ax.set_title(f"{clip.clip_id} {title}")
    row[3].imshow(diff, cmap="magma", vmin=0, vmax=12)
    row[3].set_title(f"|apex - onset| ({clip.ground_truth.expression_type})")
    for ax in row:
        ax.axis("off")
plt.tight_layout()

# %% [markdown]
# ## The intensity profile
# Every clip follows an onset → apex → offset profile in [0, 1], zero on the baseline frames.
# The ARKit weights are the profile times the peak weights of the clip's AUs; the detail field
# follows its own, related profile.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), sharey=True)
for ax, clip in zip(axes, (micro, macro), strict=True):
    gt = clip.ground_truth
    t = np.arange(clip.n_frames) / clip.fps * 1000
    per_frame = gt.to_dataframe()
    for au in gt.aus:
        ax.plot(t, per_frame[au], label=f"{au} (peak {gt.aus[au]:.2f})")
    ax.plot(t, gt.detail_profile, "k--", lw=1, label="detail profile")
    for i, name in ((clip.onset, "onset"), (clip.apex, "apex"), (clip.offset, "offset")):
        ax.axvline(t[i], color="grey", lw=0.8)
        ax.text(t[i], 1.02, name, ha="center", fontsize=8)
    ax.set_xlabel("time (ms)")
    ax.set_title(f"{clip.clip_id}: {clip.emotion}, {gt.expression_type}, {clip.duration_s * 1000:.0f} ms")
    ax.legend(fontsize=7, loc="center right")
axes[0].set_ylabel("intensity")
plt.tight_layout()

# %% [markdown]
# ## The ground truth
# `clip.ground_truth` is a `SynthTruth`: identity, per-frame ARKit weights, head pose, camera,
# the 2D landmarks of the written frames, and the fine-detail field. `truth.vertices(model)`
# rebuilds the unposed fine mesh of every frame: this is what a reconstruction is compared to.

# %%
# NBVAL_CHECK_OUTPUT
model = load_face_model("mh-head")
gt = micro.ground_truth
print(gt)
verts = gt.vertices(model)
print("vertices", verts.shape, "landmarks", gt.landmarks.shape)
s = gt.summary()
print(f"detail amplitude {s['detail_amplitude_mm']:.2f} mm, head rotation < "
      f"{s['max_rotation_deg']:.1f} deg, translation < {s['max_translation_mm']:.1f} mm")

# %% [markdown]
# The detail field lives **outside the span of the 52 ARKit shapes** (it is orthogonal to each
# of them, so no choice of expression weights can produce it) and **inside the active AU
# regions** (zero everywhere else), with an amplitude comparable to the micro-expression's own
# blendshape motion.

# %%
# NBVAL_CHECK_OUTPUT
B = model.expr_basis.numpy().reshape(model.n_expressions, -1).astype(np.float64)
d = gt.detail.astype(np.float64).ravel()
cos = np.abs(B @ d) / (np.linalg.norm(B, axis=1) * np.linalg.norm(d))
moving = np.linalg.norm(gt.detail, axis=1) > 0
inside = np.zeros(model.n_vertices, bool)
for key in gt.aus:
    inside |= model.au_region_mask(key) > 0
blend = np.linalg.norm(verts[micro.apex] - verts[micro.onset] - gt.detail, axis=1)
print(f"largest |cos| with an ARKit shape below 1e-6: {bool(cos.max() < 1e-6)}")
print(f"vertices moved by the detail field: {moving.sum()}, all inside the AU regions: "
      f"{bool(inside[moving].all())}")
print(f"apex blendshape motion {blend.max() * 1000:.1f} mm vs detail {gt.detail_amplitude * 1000:.1f} mm")

# %% [markdown]
# The field on the mesh (mm), magnified 5x on the right: small bumps and creases inside the
# AU regions.

# %%
# NBVAL_IGNORE_OUTPUT
apex = verts[micro.apex]
plot_displacement(model.faces, apex - gt.detail, apex, magnify=5.0, camera="three_quarter",
                  title=f"{micro.clip_id}: detail field at the apex ({'+'.join(gt.aus)})")

# %% [markdown]
# It moves the textured skin, so it is visible to optical flow: the apex frame rendered with
# and without it differs only where the field acts.

# %%
subjects, _ = dataset_plan(preset=PRESET, n_subjects=N_SUBJECTS, seed=SEED, model=model)
subject = subjects[gt.meta["subject"] - 1].painted()      # the same subject, re-drawn from the seed
pair = [render_frames(subject, gt, frames=[micro.apex], detail=flag)[0] for flag in (True, False)]
effect = np.abs(pair[0].astype(int) - pair[1].astype(int)).max(-1)
fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
axes[0].imshow(pair[0])
axes[0].set_title("apex")
shown = axes[1].imshow(effect, cmap="magma", vmin=0, vmax=6)
axes[1].set_title("what the detail field changes")
fig.colorbar(shown, ax=axes[1], label="grey levels (clipped at 6)", shrink=0.8)
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# ## Do the frames look like faces?
# The albedo carries what real faces have (darker brows and lips, eyes with sclera, iris and
# pupil, hair, skin pores and freckles), so dlib's default detector and 68-point predictor work
# on the frames. The error is measured against the ground-truth landmarks, normalised by the
# inter-ocular distance (outer eye corners).

# %%
# NBVAL_CHECK_OUTPUT
report = detection_report(clips, frames=DLIB_FRAMES)
print(f"{len(report)} frames, detection rate {report.detected.mean():.0%}, "
      f"mean NME {report.nme.mean():.2f}")
print(report[[c for c in report if c.startswith("nme_")]].mean().round(2).to_string())

# %%
img = micro.frame(micro.apex)
found = detect_landmarks(img).points
plt.figure(figsize=(4, 4))
plt.imshow(img)
plt.scatter(*gt.landmarks[micro.apex].T, s=8, c="lime", label="ground truth")
plt.scatter(*found.T, s=8, c="red", marker="x", label="dlib")
plt.legend(fontsize=8)
plt.axis("off")
plt.show()

# %% [markdown]
# ## Without the disk
# `generate_subject` and `generate_clip` give the same clips in memory (frames as an array),
# for quick experiments; `plan_clip` draws the ground truth without rendering.

# %%
# NBVAL_CHECK_OUTPUT
person = generate_subject(seed=7, image_size=160, texture_size=512)
clip = generate_clip(person, expression_type="micro", au_string="4+L10", seed=1)
print(clip)
print(clip.frames.shape, clip.ground_truth.expression_type, clip.ground_truth.aus)

# %% [markdown]
# Reading it back later needs only the folder: `load_synthme(root)`.

# %%
# NBVAL_CHECK_OUTPUT
again = load_synthme(root)
print(len(again), "clips;", "same truth:",
      bool(np.array_equal(again[0].ground_truth.detail, clips[0].ground_truth.detail)))
shutil.rmtree(workdir)

# %% [markdown]
# ## Summary
# SynthME gives every stage of mxkit data with exact answers: CASME II-format clips for the
# loaders and the pre-processing, and a 3D ground truth (including a fine-detail field beyond
# the blendshapes) for the reconstruction metrics. Next: **30_preprocessing** prepares clips
# (landmarks, alignment, optical flow).
