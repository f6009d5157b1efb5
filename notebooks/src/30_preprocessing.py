# %% [markdown]
# # 30 · Preparing a clip: landmarks, alignment, optical flow, strain, magnification
#
# Every reconstruction starts from a **prepared clip**. `mxkit.prepare(clip)` runs the usual
# micro-expression pre-processing once and returns a frozen `Prepared` result:
#
# 1. 68 iBUG landmarks on every frame (dlib: detect the face on the first frame, then track it);
# 2. **one** similarity transform estimated on the *onset* frame, applied to every frame, so the
#    alignment adds no jitter of its own (the subtle motion between frames survives);
# 3. dense optical flow from the onset crop to every crop, and its optical strain;
# 4. optionally, Eulerian video magnification (EVM) of the crops.
#
# **You will learn**
# - to prepare a clip and read the `Prepared` arrays (crops, landmarks, flow, strain);
# - to look at landmarks, aligned crops, flow (colour and arrows) and strain;
# - to read the per-frame table and check flow and landmarks against known answers (SynthME);
# - to measure the landmark noise floor, smooth landmark tracks and magnify motion;
# - to let the per-clip disk cache and `prepare_many` do the work for many clips.
#
# **Runtime:** about 30 s on a laptop CPU. **Prerequisites:** `10_face_model` (the face model).

# %%
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import mxkit
from mxkit.data import load_dataset
from mxkit.data.synth import generate_clip, generate_subject
from mxkit.face import inter_ocular_distance, landmark_noise_floor
from mxkit.pipeline.synthetic import expected_crop_flow, known_motion_clip

# %% tags=["parameters"]
# Parameters: small defaults keep this notebook fast on a CPU (CI runs it with nbval).
N_FRAMES = 24          # frames of the clip
ONSET, APEX = 4, 14    # the frames before the onset are neutral
IMAGE_SIZE = 320       # rendered frame side, pixels (the face is ~190 px wide)
SIZE = 128             # side of the aligned crop
FLOW = "dis"           # 'dis' (fast), 'farneback' or 'tvl1' (the MER standard, slower)
AUS = {"AU6": 0.2, "AU12": 0.3}   # a faint smile at the apex
SHIFT = (0.3, -0.15)   # a small head drift at the apex, pixels
NOISE = 1.0            # sensor noise, grey levels
MAGNIFY = {"alpha": 10.0, "r1": 0.4, "r2": 0.05}
SYNTH_FPS = 100.0      # frame rate of the SynthME clip (SynthME's default is 200)
N_CLIPS, WORKERS = 3, 1   # prepare_many: WORKERS > 1 uses worker processes
DATASET_ROOT = None    # a real dataset folder: its clip replaces the rendered one (known answers stay synthetic)
DATASET = "casme2"     # its format, a name of mxkit.data.DATASET_LOADERS: "casme2", "samm", "casme", ...
DATASET_OPTIONS = {"window": "all"}   # loader options: keep the neutral frames before the onset
CLIP_INDEX = 0         # which clip of the dataset (the noise floor needs >= 3 frames before its onset)
FULL = os.environ.get("MXKIT_NB_FULL") == "1"
if FULL:               # 480 px frames, a longer clip, a 192 px crop and the MER-standard TV-L1 flow
    N_FRAMES, ONSET, APEX, IMAGE_SIZE, SIZE, FLOW = 48, 8, 28, 480, 192, "tvl1"
    N_CLIPS, WORKERS = 6, None

# %% [markdown]
# ## A clip rendered in memory
# `known_motion_clip` renders the embedded `mh-head` model with a random skin texture (optical
# flow needs texture) and returns an ordinary `mxkit.data.Clip` with frames in memory: the face
# smiles faintly from the onset to the apex and back while the image drifts by a known
# sub-pixel amount. A real dataset clip goes through exactly the same calls: set `DATASET_ROOT`
# (and `DATASET`) and `mxkit.data.load_dataset` reads it with the matching loader
# (`mxkit.data.load_casme2`, ...). The sections that check against a known answer (the flow of
# a pure drift, SynthME landmarks, the failing clip of the batch) keep their synthetic clips.

# %%
# NBVAL_CHECK_OUTPUT
if DATASET_ROOT:
    clip = load_dataset(DATASET_ROOT, DATASET, **DATASET_OPTIONS)[CLIP_INDEX]
else:
    clip = known_motion_clip(n_frames=N_FRAMES, image_size=IMAGE_SIZE, onset=ONSET, apex=APEX,
                             aus=AUS, shift=SHIFT, noise=NOISE)
print(clip)
frames = clip.load_frames()
print("frames:", frames.shape, frames.dtype)

# %% [markdown]
# ## Prepare it
# One call. The options are keyword-only: crop `size`, landmark backend, `flow` method,
# `smooth`ing of the landmark tracks, `magnify`, `no_face` policy, `cache_dir`.

# %%
# NBVAL_CHECK_OUTPUT
prep = mxkit.prepare(clip, size=SIZE, flow=FLOW, magnify=MAGNIFY)
print(prep)
for name in ("frames", "landmarks", "landmarks_raw", "flow", "strain", "magnified"):
    a = getattr(prep, name)
    print(f"{name:<14s} {str(a.shape):<20s} {a.dtype}")
print(f"onset -> crop: scale {prep.transform.scale:.2f}, angle {np.degrees(prep.transform.angle):.0f} deg")

# %% [markdown]
# `prep.timing` says where the time went (seconds): landmark detection dominates with DIS flow,
# TV-L1 flow costs about 30 ms per 128 px frame pair.

# %%
{step: round(s, 3) for step, s in prep.timing.items()}

# %% [markdown]
# ## Landmarks and aligned crops
# Left: the original frame with the detected landmarks (`landmarks_raw`); right: the aligned
# crop with the same landmarks mapped by the one onset transform (`landmarks`).

# %%
fig = prep.plot(clip=clip, panels=("original", "crop"))

# %%
# NBVAL_CHECK_OUTPUT
mapped = prep.transform.apply(prep.landmarks_raw)
print("landmarks == transform(landmarks_raw):", bool(np.allclose(mapped, prep.landmarks, atol=1e-3)))

# %% [markdown]
# ## Optical flow and strain
# The flow goes from the onset crop to each crop (zero at the onset): colour encodes direction
# and magnitude, arrows (lengthened) show the motion on the face, and the optical strain
# (how much the flow stretches the skin) lights up where the face deforms rather than merely
# moves: around the mouth and cheeks for this smile.

# %%
fig = prep.plot(panels=("flow", "arrows", "strain"))

# %% [markdown]
# ## The per-frame table
# `to_dataframe()` gives one tidy row per frame: phase, time from the onset, mean flow
# magnitude and strain on the face, and landmark displacement from the onset (crop pixels).

# %%
df = prep.to_dataframe()
df.round(3).iloc[::3]

# %%
ax = df.plot(x="time_s", y=["flow_mag_mean_px", "landmark_disp_px"], figsize=(6, 3), marker=".")
ax.axvline(df.time_s[prep.apex], color="grey", lw=0.8)
ax.set_ylabel("crop pixels");

# %%
# NBVAL_CHECK_OUTPUT
print("phases:", df.phase.value_counts(sort=False).to_dict())
print("frame of peak flow:", int(df.flow_mag_mean_px.idxmax()), "| annotated apex:", prep.apex)

# %% [markdown]
# ## Is the flow right? A known answer
# Without the smile the image only translates, so the true flow in the crop is known exactly
# (`expected_crop_flow`: the drift seen through the onset transform). The end-point error in
# the face interior (brows, eyes, nose, mouth) for each flow method:

# %%
drift = known_motion_clip(n_frames=6, image_size=IMAGE_SIZE, shift=(0.8, -0.4), clip_id="drift")
epe = {}
for method in ("dis", "farneback", "tvl1"):
    p = mxkit.prepare(drift, size=SIZE, flow=method)
    inner = p.face_mask("inner")
    err = p.flow[1:, inner] - expected_crop_flow(drift, p.transform)[1:, None, :]
    epe[method] = np.hypot(err[..., 0], err[..., 1])
    print(f"{method:<10s} mean EPE {epe[method].mean():.3f} px, 95th percentile "
          f"{np.percentile(epe[method], 95):.3f} px, {1e3 * p.timing['flow'] / p.n_frames:.0f} ms/frame")

# %%
# NBVAL_CHECK_OUTPUT
print("every method within 0.1 px on average:", all(e.mean() < 0.1 for e in epe.values()))

# %% [markdown]
# ## A SynthME clip, with ground truth
# SynthME (`mxkit.data.synth`) renders painted subjects performing AU-driven micro-expressions
# with small head motion and sensor noise, and keeps the truth: here the 68 landmarks of the
# posed face in every frame (`clip.ground_truth.landmarks`). Mapped into the crop with the
# same transform, they measure dlib's landmark error as a normalised mean error (NME, by the
# inter-ocular distance). Part of it is definition rather than noise: dlib's jaw line and
# brows sit differently from the model's own iBUG-68 points.

# %%
subject = generate_subject(seed=2, texture_size=512)
synth = generate_clip(subject, expression_type="micro", emotion="happiness", seed=3, fps=SYNTH_FPS)
sprep = mxkit.prepare(synth, size=SIZE, flow=FLOW)
truth = sprep.transform.apply(synth.ground_truth.landmarks.astype(np.float64))
nme = np.linalg.norm(sprep.landmarks - truth, axis=-1).mean(axis=1) / inter_ocular_distance(truth)
print(synth)
print(f"landmark NME: mean {nme.mean():.3f}, worst frame {nme.max():.3f}")
fig = sprep.plot(clip=synth, panels=("original", "crop", "flow", "strain"))

# %%
# NBVAL_CHECK_OUTPUT
print("NME below 6 % of the inter-ocular distance on every frame:", bool(nme.max() < 0.06))

# %% [markdown]
# ## Landmark noise floor and smoothing
# Micro-expressions move facial points by fractions of a pixel, the same order as a detector's
# frame-to-frame jitter. `prep.noise_floor()` measures that jitter on the neutral frames before
# the onset (here produced by the sensor noise), per landmark group, in crop pixels and as a
# fraction of the inter-ocular distance (IOD).

# %%
floor = prep.noise_floor()
floor[floor.level != "landmark"][["level", "group", "std_px", "std_iod"]].round(3)

# %%
jitter = float(floor.loc[floor.level == "all", "std_px"].iloc[0])
print(f"jitter {jitter:.2f} px vs landmark motion at the apex {df.landmark_disp_px[prep.apex]:.2f} px")

# %% [markdown]
# `smooth="savgol"` (Savitzky-Golay over 7 frames) lowers that jitter before the alignment;
# `landmarks_raw` keeps the detections as they were.

# %%
# NBVAL_CHECK_OUTPUT
smoothed = mxkit.prepare(clip, size=SIZE, flow=FLOW, smooth="savgol")
floor_s = landmark_noise_floor(smoothed.landmarks, neutral=slice(0, smoothed.onset))
jitter_s = float(floor_s.loc[floor_s.level == "all", "std_px"].iloc[0])
print("smoothing lowers the jitter:", jitter_s < jitter)

# %% [markdown]
# ## Eulerian magnification of the apex
# `magnify=dict(alpha, r1, r2)` stores EVM-magnified crops in `prep.magnified`; the flow and
# strain are always computed on the true crops (the 3D fit needs the real motion).

# %%
fig = prep.plot(frames=[prep.apex], panels=("crop", "magnified"), panel_size=3.2)

# %% [markdown]
# ## The per-clip cache
# With `cache_dir`, a result is written once (atomically, with checksums) and read back on the
# next call. The key covers the clip, a fingerprint of its frames, every parameter and the
# library versions; a damaged entry is rebuilt; nothing is ever written into a dataset folder.

# %%
cache = Path(tempfile.mkdtemp(prefix="mxkit-cache-"))
timing = {}
for run in ("first", "second"):
    start = time.perf_counter()
    cached = mxkit.prepare(clip, size=SIZE, flow=FLOW, cache_dir=cache)
    timing[run] = (time.perf_counter() - start, cached.cache_hit)
timing

# %%
# NBVAL_CHECK_OUTPUT
again = mxkit.prepare(clip, size=SIZE, flow=FLOW, cache_dir=cache)
print("read from the cache:", again.cache_hit, "| same flow:", np.array_equal(again.flow, prep.flow))
other = mxkit.prepare(clip, size=SIZE, flow="farneback", cache_dir=cache)
print("another flow method is another entry:", not other.cache_hit, len(list(cache.rglob("*.npz"))), "entries")

# %% [markdown]
# Damage the entry (as an interrupted copy would): the next call notices it (a warning on the
# `mxkit.pipeline` logger), recomputes and rewrites it.

# %%
entry = next(cache.rglob(f"*{again.cache_key[:16]}.npz"))
entry.write_bytes(entry.read_bytes()[:1000])
rebuilt = mxkit.prepare(clip, size=SIZE, flow=FLOW, cache_dir=cache)
print("rebuilt:", not rebuilt.cache_hit, "| same flow:", np.array_equal(rebuilt.flow, prep.flow))

# %% [markdown]
# ## Many clips
# `prepare_many` runs `prepare` over clips (a `ClipSet`, a list), in worker processes when
# `workers > 1` (each worker needs a few seconds to start, so it pays off for many or long
# clips), sharing the cache. With `on_error="collect"` a failing clip, here one with a frame
# without a face, is reported with its key instead of stopping the batch.

# %%
clips = [known_motion_clip(n_frames=8, image_size=IMAGE_SIZE, apex=5, aus=AUS, seed=i, clip_id=f"clip{i}")
         for i in range(N_CLIPS)]
clips.append(known_motion_clip(n_frames=8, image_size=IMAGE_SIZE, blank=(3,), clip_id="no-face"))
batch = mxkit.prepare_many(clips, workers=WORKERS, size=SIZE, flow=FLOW, cache_dir=cache,
                           on_error="collect", progress=False)
batch.to_dataframe()[["clip_id", "status", "n_frames", "error_type", "error"]]

# %%
# NBVAL_CHECK_OUTPUT
s = batch.summary()
print({k: s[k] for k in ("n_clips", "n_computed", "n_cached", "n_failed")})
print("failed:", ["/".join(k) for k in batch.failures])

# %%
shutil.rmtree(cache)

# %% [markdown]
# ## Next
# `prep.landmarks` feed the coarse 3D fit (`mxkit.fit.fit_landmarks`), and `prep.flow` /
# `prep.strain` the fine-detail stages; `mxkit.reconstruct` chains them all.
