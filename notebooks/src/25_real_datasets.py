# %% [markdown]
# # 25 · Real datasets as they are: CAS(ME)³ with depth, the problem report, depth consistency
#
# Real coding files carry quirks: numbers stored as text, `0` for "not annotated", a `remake`
# in a frame column. mxkit's loaders read every valid row, report every invalid one (file,
# sheet, row, column, reason) and never abort on one bad row. CAS(ME)³ adds what no other
# micro-expression dataset has: **depth maps** aligned to the colour frames, i.e. real 3D
# evidence against which a reconstruction can be checked without any 3D ground truth.
# This notebook uses SynthME written **in the CAS(ME)³ layout** (colour + exact z-buffer
# depth with a simulated sensor noise), so it runs without the licensed data; pass your own
# copy as `DATASET_ROOT` to read it instead.
#
# **You will learn**
# - to load a CAS(ME)³-layout folder with `load_dataset(root, "casme3")` and read its depth in
#   millimetres (`clip.load_depth()`);
# - to read the problem report of a label file with quirks (`clipset.problems`);
# - to score a reconstruction with the **depth-consistency** metric
#   (`mxkit.eval.depth_consistency`: rigid + scale alignment on the onset, per-region depth
#   error and onset → apex depth change, the sensor noise floor beside every number), on the
#   ground truth and on perturbed meshes.
#
# **Runtime:** about 10 s on a laptop CPU. **Prerequisites:** `20_synthme` (SynthME and its
# ground truth).

# %%
import dataclasses
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import openpyxl
import pandas as pd

from mxkit.data import DatasetWarning, load_casme3, load_dataset, make_dataset
from mxkit.eval import depth_consistency, oracle_reconstruction
from mxkit.morph import load_face_model

plt.rcParams["figure.dpi"] = 72      # keeps the committed notebook small
pd.set_option("display.width", 160)

# %% tags=["parameters"]
# Parameters: small defaults keep this notebook fast on a CPU (CI runs it with nbval).
PRESET = "tiny"        # SynthME size: "tiny" (128 px), "small" (256 px), "full"
N_SUBJECTS = 1
CLIPS_PER_SUBJECT = 2  # micro-expressions per subject (one CAS(ME)³ video each)
NOISE_MM = 1.0         # simulated depth-sensor noise (white Gaussian, mm), before the 1 mm rounding
NEUTRAL_S = 0.25       # neutral frames before the onset (s): the noise floor is estimated on them
SEED = 3
DATASET_ROOT = None    # your CAS(ME)³ Part A folder (then the SynthME-only sections are skipped)
FULL = os.environ.get("MXKIT_NB_FULL") == "1"
if FULL:
    PRESET, N_SUBJECTS = "small", 6

# %% [markdown]
# ## 1 · A CAS(ME)³-layout set with depth
# `make_dataset(layout="casme3")` writes `spNO.1/a/color/{frame}.jpg`, the **depth maps**
# `spNO.1/a/depth/{frame}.png` (16-bit, mm: the rasterizer's z-buffer of each frame's mesh, plus
# `depth_noise_mm` of white noise, rounded to whole mm) and the Part A label files, then reads it
# back with the real CAS(ME)³ loader and attaches the 3D truth.

# %%
# NBVAL_CHECK_OUTPUT
workdir = Path(tempfile.mkdtemp(prefix="mxkit25_"))
root = Path(DATASET_ROOT) if DATASET_ROOT else workdir / "CASME3"
if not DATASET_ROOT:
    synth = make_dataset(root, preset=PRESET, layout="casme3", expression_type="micro", seed=SEED,
                         n_subjects=N_SUBJECTS, micro=CLIPS_PER_SUBJECT, depth_noise_mm=NOISE_MM,
                         baseline_s=(NEUTRAL_S, NEUTRAL_S))
    print(synth)
    for path in sorted(p.relative_to(root).as_posix() for p in root.iterdir()):
        print(path)

# %% [markdown]
# The same folder through the name-based entry point that `mxkit prepare ROOT --dataset casme3`
# uses: the clips run onset..offset (`window="labelled"`), each with its depth maps.

# %%
# NBVAL_CHECK_OUTPUT
clips = load_dataset(root, "casme3")
table = clips.to_dataframe()[["subject", "clip_id", "onset_frame", "apex_frame", "offset_frame",
                              "emotion", "n_frames"]]
print(table.to_string(index=False))
clip = clips[0]
depth = clip.load_depth()
print("depth:", depth.shape, depth.dtype, "| mm, face pixels:", int(np.isfinite(depth[0]).sum()),
      "| median", round(float(np.nanmedian(depth)), 1), "mm")

# %%
# NBVAL_IGNORE_OUTPUT
fig, ax = plt.subplots(1, 3, figsize=(10, 3.4))
ax[0].imshow(clip.frame(clip.apex)); ax[0].set_title("colour (apex)")
im = ax[1].imshow(depth[clip.apex], cmap="viridis"); ax[1].set_title("depth (mm)")
fig.colorbar(im, ax=ax[1], fraction=0.046)
im = ax[2].imshow(depth[clip.apex] - depth[clip.onset], cmap="RdBu", vmin=-3, vmax=3)
ax[2].set_title("apex - onset (mm)")
fig.colorbar(im, ax=ax[2], fraction=0.046)
for a in ax:
    a.axis("off")
plt.show()

# %% [markdown]
# ## 2 · The problem report
# A copy of the label file with two quirks of the real ones: a `remake` in a frame column and an
# offset of `0` ("not annotated"). The loader keeps the second sample (ending at its apex) and
# leaves the first out; both are rows of `clipset.problems`, with one aggregated warning each.

# %%
# NBVAL_CHECK_OUTPUT
copy = workdir / "user_copy"      # with DATASET_ROOT: your copy's own report, nothing is copied
if not DATASET_ROOT:
    shutil.copytree(root, copy)
    book = openpyxl.load_workbook(copy / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx")
    book["label"]["C2"] = "remake"     # onset of the first ME
    book["label"]["E3"] = "0"          # offset of the second ME
    book.save(copy / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", DatasetWarning)
    quirky = load_casme3(root if DATASET_ROOT else copy)
print(len(quirky), "of", len(clips), "clips loaded;", len(caught), "warnings")
print(quirky.problems[["kind", "row", "column", "action", "detail"]].to_string(index=False))

# %% [markdown]
# ## 3 · Depth consistency of a reconstruction
# `depth_consistency` aligns the reconstruction's onset mesh to the measured onset depth (one
# rigid + scale transform: projective point-to-plane ICP), applies it to every frame, renders
# the mesh's depth and compares it per facial region. Every row carries the sensor's
# **noise floor** σ, estimated from the neutral frames before the onset, and `noise_level_mm`,
# what that noise alone would make the metric read on a perfect reconstruction (σ·√(2/π) for a
# depth error, 2σ/√π for the change error, √2·σ/√n for a mean change over n pixels).
#
# The reference here is SynthME's ground truth itself (`oracle_reconstruction`), posed with its
# head motion; for a real clip use the reconstruction of `mxkit.reconstruct` and an initial
# camera from the coarse fit (`mxkit.eval.camera_from_weak_perspective`).

# %%
# NBVAL_CHECK_OUTPUT
model = load_face_model("mh-head")
if not DATASET_ROOT:
    sclip = synth[0]               # the same clip with its truth (all frames, neutral ones included)
    truth = sclip.ground_truth
    pose = (truth.rotation, truth.translation)
    recon = oracle_reconstruction(sclip, model)
    res = depth_consistency(recon, sclip, model=model, camera=truth.camera, pose=pose)
    print("alignment:", {k: round(v, 6) if isinstance(v, float) else v for k, v in res.alignment.items()})
    print(f"noise floor (face): {res.noise_floor_mm['face']:.2f} mm "
          f"(simulated: {NOISE_MM} mm white noise + 1 mm rounding = {np.sqrt(NOISE_MM ** 2 + 1 / 12):.2f} mm)")
    shown = res.table[res.table.region.isin(["face", "mouth"])]
    print(shown[["region", "metric", "value", "noise_floor_mm", "noise_level_mm", "n_pixels"]]
          .round(3).to_string(index=False))

# %% [markdown]
# On the truth, every error sits at its noise level: what is left is the sensor. The mouth moves
# (the micro-expression) by a few tenths of a mm toward or away from the camera, several times
# the standard error of that mean.
#
# ## 4 · Perturbed meshes
# Two meshes that are wrong in known ways: the truth **without its fine-detail field** (the best
# a blendshape-only fit can do) and the truth with its **motion halved** (an under-estimated
# micro-expression). The shape errors barely move, but the onset → apex depth change of the
# moving regions does.

# %%
# NBVAL_CHECK_OUTPUT
if not DATASET_ROOT:
    on = recon.onset
    meshes = {"truth": recon.vertices, "no fine detail": recon.vertices_coarse,
              "half motion": recon.vertices[on] + 0.5 * (recon.vertices - recon.vertices[on])}
    rows = []
    for name, vertices in meshes.items():
        r = depth_consistency(dataclasses.replace(recon, vertices=vertices), sclip,
                              model=model, camera=truth.camera, pose=pose)
        for region in ("face", "mouth", "cheek_left"):
            v = r.table[r.table.region == region].set_index("metric")
            rows.append({"mesh": name, "region": region, "depth_error": v.loc["depth_error", "value"],
                         "change_measured": v.loc["change_measured", "value"],
                         "change_recon": v.loc["change_recon", "value"],
                         "change_error": v.loc["change_error", "value"],
                         "change_noise_level": v.loc["change_error", "noise_level_mm"]})
    comparison = pd.DataFrame(rows).round(3)
    print(comparison.to_string(index=False))

# %%
# NBVAL_IGNORE_OUTPUT
if not DATASET_ROOT:
    ap = recon.apex
    measured = sclip.load_depth()
    fig, ax = plt.subplots(1, 3, figsize=(10, 3.4))
    for a, (title, img) in zip(ax, [("measured apex - onset", measured[ap] - measured[on]),
                                    ("truth, rendered", res.rendered_depth[ap] - res.rendered_depth[on]),
                                    ("half motion, rendered", r.rendered_depth[ap] - r.rendered_depth[on])]):
        im = a.imshow(img, cmap="RdBu", vmin=-1.5, vmax=1.5)
        a.set_title(title + " (mm)")
        a.axis("off")
    fig.colorbar(im, ax=ax, fraction=0.02)
    plt.show()

# %% [markdown]
# `change_recon` of the half-motion mesh is about half the measured change in the moving
# regions, and its `change_error` rises above the noise level; the mesh without fine detail
# changes the mouth less than the truth does. On a real CAS(ME)³ clip the same table says how
# far a reconstruction's 3D motion agrees with what the depth sensor saw, and whether the
# difference is larger than the sensor's own noise.
#
# Next: `30_preprocessing` (preparing clips, on any dataset of `load_dataset`), `70_reconstruction_eval`
# (reconstruction metrics against 3D truth). Formats and quirks of every dataset:
# `docs/datasets.md`; the metric's definitions: `docs/metrics.md` (depth consistency).

# %%
shutil.rmtree(workdir, ignore_errors=True)
