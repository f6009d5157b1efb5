# %% [markdown]
# # 10 · The embedded face model
#
# mxkit ships its own 3D morphable face model, **`mh-head`**, built from CC0 MakeHuman data:
# a head mesh with the 52 ARKit expression shapes, an identity basis, two landmark
# embeddings and facial regions. Everything in the series stands on it.
#
# **You will learn**
# - to load the model and read its sizes;
# - to drive it with FACS Action Units (AUs) and see which vertices move;
# - where its landmarks and regions are;
# - to render it with mxkit's fast CPU rasterizer and export meshes.
#
# **Runtime:** about 10 s on a laptop CPU. **Prerequisites:** none.

# %%
import numpy as np
import torch

from mxkit.morph import load_face_model
from mxkit.render import Camera, render
from mxkit.viz import displacement_scalars, plot_model

# %% tags=["parameters"]
# Parameters: small defaults keep this notebook fast on a CPU (CI runs it with nbval).
IMAGE_SIZE = 192      # pixels of the rendered thumbnails
SMILE = {"AU6": 0.6, "AU12": 0.8}   # a Duchenne smile, AU intensities in [0, 1]

# %% [markdown]
# ## The model
# `load_face_model("mh-head")` reads the bundled asset. The model is a `torch.nn.Module`
# whose data are buffers: nothing inside it is learnable.

# %%
# NBVAL_CHECK_OUTPUT
model = load_face_model("mh-head")
info = model.summary()
print(info["vertices"], "vertices,", info["faces"], "triangles")
print(info["expressions"], "expression shapes,", info["identity"], "identity components")
print("landmarks:", info["landmarks"])
print("regions:", ", ".join(info["regions"]))

# %% [markdown]
# ## Action Units → ARKit weights → vertices
# FACS AUs are mapped to ARKit weights by a fixed table (`docs/face_models.md`); the forward
# pass turns weights into vertices, in metres.

# %%
# NBVAL_CHECK_OUTPUT
expression = model.aus_to_expression(SMILE)
with torch.no_grad():
    neutral = model()[0]
    smile = model(expression=expression)[0]
top = expression[0].topk(4)
for w, i in zip(top.values, top.indices):
    print(f"{model.expression_names[int(i)]:<18s} {float(w):.2f}")
disp = displacement_scalars(neutral, smile)        # mm per vertex
print(f"max displacement {disp.max():.1f} mm")

# %% [markdown]
# Where does the smile move the face? Mean displacement per region (mm): the mouth and
# cheeks move, the forehead does not.

# %%
# NBVAL_CHECK_OUTPUT
for region in ("mouth", "cheek_left", "cheek_right", "forehead"):
    print(f"{region:<12s} {disp[model.region_mask(region)].mean():5.2f} mm")

# %% [markdown]
# ## Interactive view
# Rotate, zoom and hover: colour is the displacement from neutral, in mm; the dots are the
# iBUG-68 landmarks embedded on the surface.

# %%
# NBVAL_IGNORE_OUTPUT
plot_model(model, aus=SMILE, color_by="displacement", title="smile (AU6 + AU12)")

# %% [markdown]
# ## Landmarks
# Landmarks are barycentric points on triangles, so they follow every deformation.

# %%
# NBVAL_CHECK_OUTPUT
lm_neutral = model.landmarks(neutral[None])[0]
lm_smile = model.landmarks(smile[None])[0]
corner_left, corner_right = 54, 48    # iBUG-68 mouth corners (subject's left / right)
moved = (lm_smile - lm_neutral) * 1000
print("left corner moves (mm):", [round(float(x), 1) for x in moved[corner_left]])
print("right corner moves (mm):", [round(float(x), 1) for x in moved[corner_right]])

# %% [markdown]
# ## Rendering
# `mxkit.render.render` is a numba z-buffer rasterizer: a few milliseconds per frame, which
# is what makes synthesising thousands of frames on a CPU possible.

# %%
# NBVAL_CHECK_OUTPUT
camera = Camera.frontal(IMAGE_SIZE, distance=0.5, target=(0.0, -0.02, 0.0))
frames = [render(v, model.faces, camera, albedo=(0.85, 0.68, 0.58)) for v in (neutral, smile)]
print(frames[0].image.shape, f"{frames[0].mask.mean():.2f} of the pixels are face")

# %%
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(6, 3))
for ax, frame, title in zip(axes, frames, ("neutral", "smile")):
    ax.imshow(frame.image)
    ax.set_title(title)
    ax.axis("off")

# %% [markdown]
# ## Summary
# The model turns AUs into millimetre-accurate vertex motion, carries landmarks and regions,
# and renders fast. Next: **20_synthme** generates micro-expression clips with it.
