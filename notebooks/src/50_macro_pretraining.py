# %% [markdown]
# # 50 · Pretraining the networks on macro-expressions
#
# The coarse fit of `40_coarse_fitting` sees only what 68 landmarks see, through the blendshape
# basis. Two small networks refine it from the optical flow (`docs/method.md` §3-4): the
# **DynamicEncoder** turns the clip's motion into a global dynamic code and per-frame expression
# residuals Δψ_t, the **MeshDeformer** turns flow, strain and landmark motion sampled at every
# vertex into per-vertex offsets δ_{v,t}. Micro-expressions are scarce and faint, so mxkit first
# trains both on **macro-expressions** (large, plentiful motion), with inputs and outputs scaled
# by the clip's amplitude so that the knowledge transfers to the low amplitudes of micro clips
# (`60_micro_finetuning`).
#
# **You will learn**
# - to turn SynthME macro clips into training samples (prepare, coarse fit, 3D targets);
# - to pretrain the networks with `mxkit.train.pretrain_macro` and read the loss curves;
# - what each loss term measures;
# - to resume an interrupted run from its checkpoint, exactly;
# - to check on a held-out clip that training helped, and to hand the weights to
#   `mxkit.reconstruct`.
#
# **Runtime:** about 50 s on a laptop CPU. **Prerequisites:** `20_synthme` (the data),
# `40_coarse_fitting` (the coarse base the networks refine).

# %%
import dataclasses
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import mxkit
from mxkit.data import make_dataset
from mxkit.eval import evaluate_reconstruction
from mxkit.morph import load_face_model
from mxkit.workflows import DEFAULT_FIT, DEFAULT_PREPARE, prepare_clips, synthme_samples
from mxkit.train import load_payload, pretrain_macro
from mxkit.workflows.recipe import recipe_configs, validation_errors

plt.rcParams["figure.dpi"] = 72      # keeps the committed notebook small

# %% tags=["parameters"]
# Parameters: small defaults keep this notebook fast on a CPU (CI runs it with nbval).
N_SUBJECTS = 4         # SynthME subjects, one macro clip each; the last one is held out
MACRO_S = (0.15, 0.2)  # macro-expression length, s (shortened: the preset's are 0.55-0.6 s)
STEPS = 60             # optimiser steps (the shipped weights: 300)
STOP_AT = 35           # where we pretend the run is interrupted
CHECKPOINT_EVERY = 15
SEED = 5               # the shipped weights were trained on seed 0
FULL = os.environ.get("MXKIT_NB_FULL") == "1"
if FULL:
    N_SUBJECTS, MACRO_S, STEPS, STOP_AT, CHECKPOINT_EVERY = 6, (0.55, 0.6), 300, 180, 50

# %% [markdown]
# ## 1 · Macro clips with 3D truth
# A tiny SynthME set, macro-expressions only (`expression_type="macro"`): the subjects pose strong
# happiness, disgust, surprise... at 200 fps, each clip with its true 3D face per frame.

# %%
# NBVAL_CHECK_OUTPUT
workdir = Path(tempfile.mkdtemp(prefix="mxkit-nb50-"))
clips = make_dataset(workdir / "synthme", preset="tiny", expression_type="macro", seed=SEED,
                     n_subjects=N_SUBJECTS, macro=1, macro_s=MACRO_S)
for clip in clips:
    print(clip.subject, clip.clip_id, clip.emotion, f"AUs {clip.au_string}", clip.n_frames, "frames")

# %% [markdown]
# ## 2 · Training samples
# Each clip is prepared once (landmarks, onset alignment, optical flow: `mxkit.prepare` with the
# settings of the shipped weights, `DEFAULT_PREPARE`) and fitted with the `smoothed` coarse fit
# (`DEFAULT_FIT`), the base the networks refine. `synthme_samples` packs the network inputs
# (`mxkit.nets.clip_features`: landmark and flow motion relative to the onset, strain, the coarse
# trajectory, the clip amplitude *A*) with the target, `SynthTruth.vertices(model)`.

# %%
# NBVAL_CHECK_OUTPUT
model = load_face_model("mh-head")
prepared = prepare_clips(clips, workers=1, **DEFAULT_PREPARE)
samples = synthme_samples(clips, prepared, model, fit_options=DEFAULT_FIT)
train_set, held_out = samples[:-1], samples[-1:]
print(DEFAULT_PREPARE, DEFAULT_FIT)
print(len(train_set), "training clips, held out:", held_out[0].key)
s = samples[0]
print("target", tuple(s.target_vertices.shape), "| kind", s.expression_type,
      "| frames", s.features.n_frames, "| vertices", s.features.n_vertices)

# %% [markdown]
# ## 3 · The training configuration
# `recipe_configs` returns the `TrainConfig`s of the shipped weights' recipe (`mxkit.workflows.recipe`:
# pretraining, fine-tuning, training from scratch). We keep its network sizes and loss weights
# and shorten the run. Everything random derives from `seed`: initial weights, clip order, the
# frames drawn at each step.

# %%
# NBVAL_CHECK_OUTPUT
pretrain_cfg, _, _ = recipe_configs(seed=0)
cfg = dataclasses.replace(pretrain_cfg, steps=STEPS, warmup_steps=min(20, STEPS // 5),
                          checkpoint_every=CHECKPOINT_EVERY)
print({k: getattr(cfg, k) for k in ("steps", "batch_size", "frames_per_clip", "lr", "warmup_steps",
                                    "schedule", "hidden", "code_dim", "n_blocks", "n_layers")})
print({k: v for k, v in cfg.to_dict().items() if k.startswith("w_")})

# %% [markdown]
# ## 4 · The losses
# Each step draws `frames_per_clip` frames of `batch_size` clips (the apex always among them, never
# the onset), runs both networks and minimises a weighted sum (`docs/method.md` §5):
#
# | term | weight | what it measures |
# |---|---|---|
# | `motion` | `w_motion` = 1 | L1 between predicted and true displacement since the onset, over the evaluation's face mask, in units of the clip amplitude *A* (the training form of the micro-motion error) |
# | `flow` | `w_flow` = 0.1 | flow consistency: the projected vertex motion onset → t against the optical flow (non-rigid part), in units of *A* |
# | `laplacian` | `w_laplacian` = 1 | smoothness of the offsets δ over the mesh (uniform Laplacian) |
# | `magnitude` | `w_magnitude` = 0.01 | size of the offsets δ |
# | `region_mean` | `w_region_mean` = 0.01 | mean offset per facial region, which should stay near 0 (the coarse fit owns the global shape) |
# | `expression` | `w_expression` = 0.001 | prior on the expression residuals Δψ (size and temporal roughness) |
#
# `vertex` (L1 after rigid alignment), `landmark` reprojection and `photometric` warping exist
# too, weighted 0 here: with 3D truth the motion term is the right target, the self-supervised
# ones are for real 2D data (see `TrainConfig`).
#
# ## 5 · Train, get interrupted, resume
# `pretrain_macro` writes a training checkpoint (networks, optimizer, learning-rate schedule,
# random state, history) atomically every `checkpoint_every` steps. We stop the run at step
# `STOP_AT` with the `callback` hook, as a crash or a pre-empted job would: the checkpoint on
# disk is the last multiple of `checkpoint_every`.

# %%
# NBVAL_CHECK_OUTPUT
ckpt = workdir / "pretrain.pt"


def interrupt(step, terms):          # a stand-in for Ctrl-C, a crash, a pre-empted job
    if step == STOP_AT:
        raise KeyboardInterrupt


try:
    pretrain_macro(train_set, model=model, config=cfg, checkpoint=ckpt, callback=interrupt)
except KeyboardInterrupt:
    print("interrupted at step", STOP_AT, "| checkpoint on disk at step", load_payload(ckpt)["step"])

# %% [markdown]
# `resume=True` continues from the checkpoint (its config must equal `cfg`). Step *k* depends
# only on the state after step *k − 1* and on `(seed, k)`, so the result is bit-identical to a
# run that was never interrupted, on the same machine and thread count. Checking it costs one
# more run:

# %%
# NBVAL_CHECK_OUTPUT
pretrained = pretrain_macro(train_set, model=model, config=cfg, checkpoint=ckpt, resume=True)
reference = pretrain_macro(train_set, model=model, config=cfg)          # never interrupted
a, b = pretrained.refiner.state_dict(), reference.refiner.state_dict()
print("steps:", len(pretrained.history), "| phase:", pretrained.phase)
print("resumed == uninterrupted, every weight:", all(torch.equal(a[k], b[k]) for k in a))
print("same loss at every step:", [r["loss"] for r in pretrained.history.rows]
      == [r["loss"] for r in reference.history.rows])

# %% [markdown]
# ## 6 · Loss curves
# `history.to_dataframe()` has one row per step: learning rate, the weighted total and every term
# (unweighted). The steps before `STOP_AT`'s checkpoint were read back from it.

# %%
hist = pretrained.history.to_dataframe()
hist.round(4).iloc[:: max(1, STEPS // 10)]

# %%
terms = ["loss", "motion", "flow", "laplacian", "region_mean", "expression"]
smooth = hist.set_index("step")[terms].rolling(5, min_periods=1).mean()
fig, (ax, ax_lr) = plt.subplots(1, 2, figsize=(10, 3.2), gridspec_kw={"width_ratios": [3, 1]})
smooth.plot(ax=ax, logy=True)
ax.axvline(STOP_AT, color="grey", lw=0.7, ls=":")                 # the interruption
ax.set_ylabel("term (unweighted, 5-step mean)")
ax.legend(fontsize=8, ncol=3)
hist.plot(x="step", y="lr", ax=ax_lr, legend=False)
ax_lr.set_ylabel("learning rate")
plt.tight_layout()

# %%
# NBVAL_CHECK_OUTPUT
summary = pretrained.history.summary(window=10)
print("total loss, mean of the last 10 steps below the first 10:",
      summary["last_mean_loss"] < summary["first_mean_loss"])
print("motion term fell by more than a third:",
      bool(hist.motion.tail(10).mean() < 2 / 3 * hist.motion.head(10).mean()))
print("parameters:", pretrained.summary()["parameters"])

# %% [markdown]
# ## 7 · Did it learn anything? A held-out clip
# The held-out subject's clip was never seen in training. `validation_errors` reconstructs it from
# its sample (same inputs, same coarse base) with each set of networks and returns the
# **micro-motion error**: the mean per-coordinate L1 between the reconstructed and the true
# apex − onset displacement fields, in mm, over the face (`docs/metrics.md`). Beside the networks:
# predicting no motion at all (`zero`), the per-frame fit (`static`) and the coarse base
# (`smoothed`). The untrained networks are those the seed draws before the first step
# (`steps=0`); their output layers start at zero, so before training the refinement adds exactly
# nothing to the coarse base (a known answer).

# %%
untrained = pretrain_macro(train_set, model=model, config=dataclasses.replace(cfg, steps=0))
errors = validation_errors({"untrained": untrained, "pretrained": pretrained}, held_out, model,
                           fit_options=DEFAULT_FIT)
{name: round(mm, 3) for name, mm in errors.items()}

# %%
# NBVAL_CHECK_OUTPUT
print("untrained networks = the coarse base:", abs(errors["untrained"] - errors["smoothed"]) < 1e-6)
print("pretrained beats them on the held-out clip by more than 10 %:",
      errors["pretrained"] < 0.9 * errors["untrained"])

# %%
fig, ax = plt.subplots(figsize=(6, 2.6))
ax.barh(list(errors), list(errors.values()), color=["#bbb"] * 3 + ["#d98", "#4a8"])
ax.invert_yaxis()
ax.set_xlabel("micro-motion L1 on the held-out macro clip (mm)")
plt.tight_layout()

# %% [markdown]
# ## 8 · Save the weights, reconstruct with them
# `TrainResult.save` writes the networks alone (a weights payload, atomically); the training
# checkpoint holds more (optimizer, history) and works too. Both go straight into
# `mxkit.reconstruct(..., weights=...)` and into `finetune_micro(..., init=...)`, the next stage.

# %%
# NBVAL_CHECK_OUTPUT
weights = pretrained.save(workdir / "macro_pretrained.pt")
clip = clips[-1]
rec = mxkit.reconstruct(prepared[-1], model=model, variant="full", weights=weights)
m = evaluate_reconstruction(rec, clip.ground_truth, model, prepared=prepared[-1])
print(weights.name, f"{weights.stat().st_size / 1024:.0f} KiB")
print("reconstruct gives the same error as above:",
      bool(np.isclose(m.value("micro_motion_l1"), errors["pretrained"], rtol=0.02)))

# %% [markdown]
# ## Summary
# `synthme_samples` builds training samples once per clip, `pretrain_macro` trains the
# DynamicEncoder and MeshDeformer on them with atomic, exactly resumable checkpoints, and
# `validation_errors` / `evaluate_reconstruction` measure the result against the 3D truth. The
# shipped weights (`mxkit/assets/reconstruct_v1.pt`) were pretrained the same way on 8 subjects
# for 300 steps (`tools/train_default_weights.py`). Next: **60_micro_finetuning** continues from
# the pretrained state on micro-expressions and shows what the pretraining is worth.
