# %% [markdown]
# # 40 · Fitting the face model to landmarks
#
# The first 3D stage of mxkit is a **coarse fit**: the `mh-head` model (identity, 52 ARKit
# expression weights, head rotation, scale and image translation of a weak-perspective camera)
# is fitted to the 68 iBUG landmarks of every frame. `mxkit.fit.fit_landmarks` solves it for a
# whole clip at once with a batched Gauss-Newton method (`docs/method.md`): one identity per
# clip, per-frame expressions and poses, priors that keep the weights plausible and, optionally,
# a temporal prior on expression and pose.
#
# **You will learn**
# - to fit one photo (dlib landmarks on `skimage.data.astronaut()`) and read the recovered
#   expression weights and the reprojection error;
# - the three ways to fit a clip: **per frame** (the static baseline), **per frame + smoothing**,
#   and the **clip fit** (one identity, temporal prior), and what each does to landmark jitter and
#   expression curves of a SynthME micro-expression;
# - how fast the batched fit runs.
#
# **Runtime:** about 20 s on a laptop CPU. **Prerequisites:** `10_face_model` (the model),
# `30_preprocessing` (landmarks).

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from skimage.data import astronaut

from mxkit.data.synth import generate_clip, generate_subject
from mxkit.face import detect_landmarks, detect_landmarks_sequence, inter_ocular_distance
from mxkit.fit import fit_frames_independently, fit_landmarks, smooth_fit
from mxkit.fit.synthetic import project_parameters
from mxkit.morph import face_mask, load_face_model
from mxkit.workflows import DEFAULT_FIT
from mxkit.viz import plot_meshes_side_by_side

plt.rcParams["figure.dpi"] = 72      # keeps the committed notebook small

# %% tags=["parameters"]
# Parameters: small defaults keep this notebook fast on a CPU (CI runs it with nbval).
IMAGE_SIZE = 256       # SynthME frame side, pixels
FPS = 100              # SynthME frame rate (200 like CASME II with FULL: twice the frames)
DURATION_S = 0.25      # onset -> offset of the micro-expression
SMOOTH = DEFAULT_FIT["smooth"]   # temporal prior of the clip fit (what mxkit.reconstruct uses)
SIGMA = 2.0            # Gaussian smoothing of the per-frame fit, frames
SPEED_FRAMES = 600     # frames of the batched-speed measurement
SEED = 4
FULL = os.environ.get("MXKIT_NB_FULL") == "1"
if FULL:
    FPS, DURATION_S, SPEED_FRAMES = 200, 0.4, 4000

# %% [markdown]
# ## 1 · One photo
# dlib finds the astronaut's face and its 68 landmarks (`mxkit.face.detect_landmarks`).
# `fit_landmarks` takes landmarks of shape (T, 68, 2), here T = 1.

# %%
# NBVAL_CHECK_OUTPUT
model = load_face_model("mh-head")
photo = astronaut()
points = detect_landmarks(photo).points                 # (68, 2) pixels
fit = fit_landmarks(model, points[None])
print(fit.n_frames, "frame, converged:", fit.converged, "in", fit.n_iters, "iterations")
print(f"reprojection error {fit.error_px[0]:.1f} px = {fit.error_nme[0]:.3f} of the "
      f"inter-ocular distance")
print(f"head rotation {np.degrees(float(fit.rotation[0].norm())):.0f} deg from frontal")

# %% [markdown]
# She smiles, and the fit says so: the strongest expression weights are the smile shapes.
# Weights are ARKit blendshape activations in [0, 1].

# %%
# NBVAL_CHECK_OUTPUT
for name, weight in fit.summary(top=5)["top_expressions"].items():
    print(f"{name:<18s} {weight:.2f}")

# %% [markdown]
# **A known answer.** Are those weights the face, or a bias of the fit? Project the *neutral*
# model with the same camera and fit that: the smile weights must come back near 0. They do, so
# the smile measured on the photo is hers.

# %%
# NBVAL_CHECK_OUTPUT
smile = model.expression_index(["mouthSmileLeft", "mouthSmileRight"])
neutral_points = project_parameters(model, torch.zeros(model.n_identity),
                                    torch.zeros(1, model.n_expressions), fit.rotation,
                                    fit.scale, fit.t2d)
neutral = fit_landmarks(model, neutral_points)
print("smile weights on the photo:  ", [round(float(w), 2) for w in fit.expression[0, smile]])
print("smile weights, neutral model:", [round(float(w), 2) for w in neutral.expression[0, smile]])
print("clearly above neutral:", bool((fit.expression[0, smile] - neutral.expression[0, smile]).min() > 0.3))

# %% [markdown]
# The fitted mesh projected onto the photo (the face triangles, with the fitted and the detected
# landmarks): `fit.project()` maps model-frame vertices to pixels with the fitted camera.

# %%
uv = fit.project()[0].numpy()                          # (V, 2) pixels
faces = model.faces.numpy()
front = faces[face_mask(model, "face")[faces].all(1)]  # triangles of the evaluated face
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.imshow(photo)
ax.triplot(uv[:, 0], uv[:, 1], front, lw=0.15, color="white", alpha=0.6)
ax.scatter(*points.T, s=10, c="lime", label="dlib")
ax.scatter(*fit.landmarks[0].numpy().T, s=10, c="red", marker="x", label="fit")
ax.set_xlim(points[:, 0].min() - 40, points[:, 0].max() + 40)
ax.set_ylim(points[:, 1].max() + 40, points[:, 1].min() - 60)
ax.legend(loc="lower right", fontsize=8)
ax.axis("off");

# %% [markdown]
# ## 2 · A micro-expression clip
# A SynthME subject performs a faint smile (`mxkit.data.synth`, 3D truth included). dlib tracks
# the landmarks through the clip (`detect_landmarks_sequence`: detect once, then track); their
# error against the true landmarks is a few percent of the inter-ocular distance, the same order
# as the micro-expression itself.

# %%
# NBVAL_CHECK_OUTPUT
subject = generate_subject(seed=SEED, image_size=IMAGE_SIZE, texture_size=1024)
clip = generate_clip(subject, expression_type="micro", emotion="happiness", seed=2, fps=FPS,
                     duration_s=DURATION_S, baseline_s=0.03)
truth = clip.ground_truth
tracked = detect_landmarks_sequence(clip.frames).points.astype(np.float64)   # (T, 68, 2)
print(clip)
nme = np.linalg.norm(tracked - truth.landmarks, axis=-1).mean(1) / inter_ocular_distance(truth.landmarks)
print("dlib within 6 % of the inter-ocular distance on every frame:", bool(nme.max() < 0.06))

# %%
print(f"dlib landmark error: mean {nme.mean():.3f}, worst frame {nme.max():.3f} (of the IOD)")

# %% [markdown]
# ## 3 · Three fits of the clip
# * **per frame** (`fit_frames_independently`): every frame alone, with its own identity — the
#   "static" baseline of the paper's comparisons;
# * **per frame + smoothing** (`smooth_fit`): the same, then a Gaussian filter over time of every
#   parameter;
# * **clip fit** (`fit_landmarks(..., smooth=SMOOTH)`): one identity for the clip and a penalty on
#   the acceleration of expression and pose, measured as landmark motion (the `smoothed` variant of
#   `mxkit.reconstruct`, and the base of the networks).
#
# All three are batched over the frames. The temporal prior couples the frames and is solved by a
# block-banded factorisation, so the clip fit takes the longest.

# %%
timing = {}
start = time.perf_counter()
static = fit_frames_independently(model, tracked)
timing["per frame"] = time.perf_counter() - start
smoothed = smooth_fit(static, sigma=SIGMA)
start = time.perf_counter()
clip_fit = fit_landmarks(model, tracked, smooth=SMOOTH)
timing["clip fit"] = time.perf_counter() - start
fits = {"per frame": static, "per frame + smoothing": smoothed, "clip fit": clip_fit}
{name: f"{seconds:.2f} s" for name, seconds in timing.items()}

# %%
# NBVAL_CHECK_OUTPUT
for name, f in fits.items():
    print(f"{name:<22s} identity {tuple(f.identity.shape)}, expression {tuple(f.expression.shape)}, "
          f"method {f.method}")

# %% [markdown]
# ## 4 · Jitter
# Micro-expressions move landmarks by fractions of a pixel, as much as the detector's jitter.
# A simple jitter measure is the RMS **second difference** over time of a track (its frame-to-frame
# acceleration: slow motion has almost none, noise a lot). For the landmarks (px) and the expression
# weights:

# %%
def jitter(track):
    x = np.asarray(track, dtype=np.float64)
    return float(np.sqrt(((x[:-2] - 2 * x[1:-1] + x[2:]) ** 2).mean()))


rows = {"dlib detections": (jitter(tracked), np.nan), "ground truth": (
    jitter(truth.landmarks), jitter(truth.expression))}
rows.update({name: (jitter(f.landmarks), jitter(f.expression)) for name, f in fits.items()})
for name, (lm_j, ex_j) in rows.items():
    print(f"{name:<22s} landmarks {lm_j:7.4f} px   expression weights {ex_j:8.5f}")

# %%
# NBVAL_CHECK_OUTPUT
j = {name: jitter(f.landmarks) for name, f in fits.items()}
print("per frame follows the detector's jitter:", j["per frame"] > 0.3 * jitter(tracked))
print("smoothing removes most of it:", j["per frame + smoothing"] < 0.2 * j["per frame"])
print("the clip fit removes more:", j["clip fit"] < j["per frame + smoothing"])

# %% [markdown]
# The price of a temporal prior is a slightly worse fit to each frame's landmarks — it refuses to
# follow the jitter. The clip fit is still the closest: one identity shared by all frames
# describes the face better than a per-frame identity that must also absorb noise.

# %%
for name, f in fits.items():
    print(f"{name:<22s} reprojection error {f.error_px.mean():.2f} px, "
          f"{f.error_nme.mean():.4f} of the IOD")

# %% [markdown]
# ## 5 · Expression curves
# The mean of the two smile weights over the clip, against the ground truth's ARKit weights
# (SynthME drives the same blendshapes, so the curves are comparable; the priors shrink strong
# weights a little). The per-frame fit is noisy, the smoothed one lags where the noise is large,
# the clip fit follows the onset → apex → offset profile.

# %%
t_ms = (np.arange(clip.n_frames) - clip.onset) / clip.fps * 1000
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.plot(t_ms, truth.expression[:, smile].mean(1), "k--", lw=1.5, label="ground truth")
for (name, f), style in zip(fits.items(), (":", "-", "-"), strict=True):
    ax.plot(t_ms, f.expression[:, smile].mean(1), style, label=name)
for i, key in ((clip.onset, "onset"), (clip.apex, "apex"), (clip.offset, "offset")):
    ax.axvline(t_ms[i], color="grey", lw=0.7)
    ax.text(t_ms[i], ax.get_ylim()[1], key, ha="center", va="bottom", fontsize=8)
ax.set_xlabel("time since onset (ms)")
ax.set_ylabel("mouthSmile weight")
ax.legend(fontsize=8)
plt.tight_layout()

# %%
# NBVAL_CHECK_OUTPUT
curve = clip_fit.expression[:, smile].mean(1).numpy()
true_curve = truth.expression[:, smile].mean(1)
print("clip fit peaks within 3 frames of the apex:", abs(int(curve.argmax()) - clip.apex) <= 3)
print("correlation with the truth above 0.9:", bool(np.corrcoef(curve, true_curve)[0, 1] > 0.9))

# %% [markdown]
# ## 6 · In 3D
# Displacement from the onset to the apex (mm), per-frame fit vs clip fit. The per-frame fit moves
# the whole head, because its identity changes from frame to frame; with one identity only the
# expression moves, around the mouth and the cheeks. Rotate one panel and the other follows.

# %%
# NBVAL_IGNORE_OUTPUT
panels, colours = [], []
for name in ("per frame", "clip fit"):
    v = fits[name].vertices.numpy()
    panels.append((v[clip.apex], name))
    colours.append(np.linalg.norm(v[clip.apex] - v[clip.onset], axis=1) * 1000)
plot_meshes_side_by_side(panels, model.faces, scalars=colours, cmax=1.5,
                         colorbar_title="apex − onset (mm)", height=360)

# %% [markdown]
# ## 7 · Speed
# Every frame of a per-frame fit is solved in one batched Gauss-Newton step; the clip fit adds the
# shared identity (a Schur complement) and, with `smooth > 0`, a sequential banded solve. Frames per
# second on this machine (the landmarks of the clip repeated; numbers vary with the CPU and its
# load, `benchmarks/` measures them properly). On a machine that other processes share, start
# Python with `OMP_WAIT_POLICY=PASSIVE`: with OpenMP's default spin-waiting, torch's threads wait
# for each other at each of the fit's many small operations and it can run 30 times slower.

# %%
many = np.tile(tracked, (SPEED_FRAMES // len(tracked) + 1, 1, 1))[:SPEED_FRAMES]
speed = {}
for name, run in (("per frame", lambda: fit_frames_independently(model, many)),
                  ("one identity, no temporal prior", lambda: fit_landmarks(model, many))):
    start = time.perf_counter()
    run()
    speed[name] = f"{len(many) / (time.perf_counter() - start):.0f} frames/s"
speed

# %% [markdown]
# ## Summary
# `fit_landmarks` recovers expression weights with a known answer (a smile on a photo, nothing on
# a neutral face), and over a clip one identity plus a temporal prior removes the landmark jitter
# that a per-frame fit passes on to the 3D face. What it cannot recover is motion the landmarks do
# not see and shapes outside the blendshapes. Next: **50_macro_pretraining** trains the networks
# that add them from the optical flow.
