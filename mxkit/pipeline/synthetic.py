"""Known-motion face clips rendered in memory, for tests, benchmarks and tutorials of ``prepare``.

:func:`known_motion_clip` renders the embedded ``mh-head`` model with a random smooth skin
texture (so optical flow has something to lock on to) and moves the image by a **known**
sub-pixel translation per frame, optionally under a known global rotation + scale of the whole
clip and with a small expression (FACS AUs) following the same onset -> apex -> offset profile.
The exact answers travel in ``clip.meta``: the image translation of every frame, the global
warp, and the projected iBUG-68 landmarks of the model.

This is a known-answer workload, not a data set: for realistic synthetic micro-expressions
with 3D ground truth use SynthME (:mod:`mxkit.data.synth`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InputValueError

__all__ = ["skin_texture", "known_motion_clip", "motion_profile", "expected_crop_flow"]


def skin_texture(size: int = 512, *, seed: int = 0, sigma: float = 1.5) -> np.ndarray:
    """A random smooth skin-toned texture image for the ``mh-head`` UV atlas.

    Parameters
    ----------
    size : int, default 512
        Texture side in texels.
    seed : int, default 0
    sigma : float, default 1.5
        Gaussian smoothing of the white noise, in texels (larger: coarser blotches).

    Returns
    -------
    numpy.ndarray, shape (size, size, 3), float32
        RGB in [0.3, 0.95]: a skin tone modulated by +-25 % of smooth noise.
    """
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma, mode="wrap")
    noise = (noise - noise.min()) / np.ptp(noise)                      # [0, 1]
    base = np.array([0.78, 0.60, 0.50])
    return np.clip(base * (0.75 + 0.5 * noise[..., None]), 0.0, 1.0).astype(np.float32)


def motion_profile(n_frames: int, apex: int, offset: int | None = None, *, onset: int = 0) -> np.ndarray:
    """Raised-cosine intensity profile: 0 up to ``onset``, 1 at ``apex``, back to 0 at ``offset``.

    With ``offset == apex`` (the default when ``apex`` is the last frame) the profile only
    rises. Returns float64 ``(n_frames,)`` in [0, 1]; frames before ``onset`` and after
    ``offset`` are 0.
    """
    t = np.arange(n_frames, dtype=np.float64)
    offset = n_frames - 1 if offset is None else offset
    out = np.zeros(n_frames)
    if apex > onset:
        rise = (t >= onset) & (t <= apex)
        out[rise] = np.sin(0.5 * math.pi * (t[rise] - onset) / (apex - onset)) ** 2
    else:
        out[apex] = 1.0
    if offset > apex:
        fall = (t > apex) & (t <= offset)
        out[fall] = np.sin(0.5 * math.pi * (offset - t[fall]) / (offset - apex)) ** 2
    return out


def known_motion_clip(*, n_frames: int = 8, image_size: int = 256,
                      shift: Sequence[float] = (0.8, -0.4), onset: int = 0, apex: int | None = None,
                      aus: Mapping[str, float] | None = None, warp_angle_deg: float = 0.0,
                      warp_scale: float = 1.0, blank: Sequence[int] = (), noise: float = 0.0,
                      fps: float = 200.0,
                      distance: float = 0.5, seed: int = 0, clip_id: str = "known-motion",
                      subject: str = "s0", model: Any = None) -> Any:
    """Render a face clip with a known sub-pixel image motion (an in-memory :class:`~mxkit.data.Clip`).

    Frame ``t`` is the rendered face (``mh-head``, frontal camera, random smooth texture,
    expression ``profile[t] * aus``) translated by ``d_t = profile[t] * shift`` pixels and
    then transformed by the global similarity ``W`` (rotation by ``warp_angle_deg`` and
    scaling by ``warp_scale`` about the image centre, the same for every frame). Both are
    exact: they are built into each frame's camera (principal point moved by ``W_lin d_t``,
    camera rolled, focal length scaled), so no rendered image is resampled. Without ``aus``
    the true optical flow from the onset (frame 0) to frame ``t`` is therefore the constant
    ``W[:, :2] @ d_t`` wherever the face is seen in both frames.

    Parameters
    ----------
    n_frames : int, default 8
        T >= 1.
    image_size : int, default 256
        Square frame side in pixels (the face is about 0.6 of it wide at ``distance=0.5``).
    shift : (float, float), default (0.8, -0.4)
        Image translation (u right, v down) in pixels at the apex.
    onset : int, default 0
        Onset frame; the frames before it are neutral (no motion: use them for the landmark
        noise floor).
    apex : int, optional
        Apex frame; default the last frame (the motion only rises). The offset is the last
        frame; with an apex before it the motion returns to zero at the offset.
    aus : mapping, optional
        Peak AU intensities (``{"AU12": 0.3}``) following the same profile (real facial
        motion, so non-zero strain; the flow is then no longer a known constant).
    warp_angle_deg : float, default 0
        Global rotation of every frame, degrees, counter-clockwise on screen (OpenCV's
        ``getRotationMatrix2D`` convention).
    warp_scale : float, default 1
        Global scale of every frame.
    blank : sequence of int
        Frames replaced by black images (no face), to exercise the no-face policies.
    noise : float, default 0
        Standard deviation of i.i.d. Gaussian sensor noise added to every pixel, grey levels
        (0-255), different in every frame (seeded by ``seed``): gives the landmark detector
        a realistic frame-to-frame jitter.
    fps : float, default 200
    distance : float, default 0.5
        Camera distance in metres.
    seed : int, default 0
        Seed of the skin texture.
    clip_id, subject : str
        Clip identity (``dataset`` is ``'synthetic'``).
    model : FaceModel, optional
        Default ``load_face_model("mh-head")``.

    Returns
    -------
    mxkit.data.Clip
        ``frames`` (T, S, S, 3) uint8, ``onset``, ``apex``, ``offset=T-1``, and in ``meta``:
        ``'shift_px'`` (T, 2) float64 translation of each frame before the warp,
        ``'warp'`` (2, 3) float64 the global similarity, ``'profile'`` (T,),
        ``'landmarks_true'`` (T, 68, 2) float64 the model's projected iBUG-68 landmarks in
        the frames (the model's own embedding: its jaw contour differs from a detector's).

    Examples
    --------
    >>> clip = known_motion_clip(n_frames=3, image_size=128)      # doctest: +SKIP
    >>> clip.frames.shape, clip.meta["shift_px"][-1].tolist()    # doctest: +SKIP
    ((3, 128, 128, 3), [0.8, -0.4])
    """
    import cv2
    import torch

    from ..data import Clip
    from ..morph import load_face_model
    from ..render import Camera, render_batch

    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise InputValueError(f"n_frames must be an int >= 1; got {n_frames!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 32:
        raise InputValueError(f"image_size must be an int >= 32; got {image_size!r}")
    shift_arr = np.asarray(shift, dtype=np.float64)
    if shift_arr.shape != (2,) or not np.isfinite(shift_arr).all():
        raise InputValueError(f"shift must be two finite numbers (u, v) px; got {shift!r}")
    apex = n_frames - 1 if apex is None else int(apex)
    onset = int(onset)
    if not 0 <= onset <= apex < n_frames:
        raise InputValueError(f"need 0 <= onset <= apex < n_frames={n_frames}; got onset={onset}, apex={apex}")
    if not (np.isfinite(noise) and noise >= 0):
        raise InputValueError(f"noise must be a non-negative number of grey levels; got {noise!r}")
    bad = [b for b in blank if not -n_frames <= int(b) < n_frames]
    if bad:
        raise InputValueError(f"blank frame indices must be in [{-n_frames}, {n_frames}); got {bad}")
    if not warp_scale > 0:
        raise InputValueError(f"warp_scale must be positive; got {warp_scale!r}")

    model = load_face_model("mh-head") if model is None else model
    profile = motion_profile(n_frames, apex, onset=onset)
    with torch.no_grad():
        if aus:
            peak = model.aus_to_expression(dict(aus))
            expr = torch.as_tensor(profile, dtype=peak.dtype)[:, None] * peak
        else:
            expr = torch.zeros(n_frames, model.n_expressions, dtype=model.v_template.dtype)
        verts = model(expression=expr)
        lm3 = model.landmarks(verts).cpu().numpy().astype(np.float64)
        verts_np = verts.cpu().numpy().astype(np.float32)
    faces = model.faces.cpu().numpy() if hasattr(model.faces, "cpu") else np.asarray(model.faces)
    size = int(image_size)
    base = Camera.frontal(size, distance=float(distance))
    # The global similarity W (rotation + scale about the image centre, cv2 convention) and the
    # per-frame translation are built into each frame's camera: rolling the camera frame and
    # scaling the focal length realise W exactly, moving the principal point by W_lin @ d_t
    # translates the image exactly, with no resampling of the rendered image.
    centre = ((size - 1) / 2.0, (size - 1) / 2.0)
    warp = cv2.getRotationMatrix2D(centre, float(warp_angle_deg), float(warp_scale)).astype(np.float64)
    lin = warp[:, :2]
    roll = np.eye(3)
    roll[:2, :2] = lin / float(warp_scale)
    shifts = profile[:, None] * shift_arr[None, :]
    cams = [dataclasses.replace(base, fx=base.fx * warp_scale, fy=base.fy * warp_scale,
                                cx=base.cx + float(lin[0] @ d), cy=base.cy + float(lin[1] @ d),
                                R=roll @ base.R, t=roll @ base.t) for d in shifts]
    texture = skin_texture(seed=seed)
    images = render_batch(verts_np, faces, cams, uv=model.uv, faces_uv=model.faces_uv,
                          texture=texture, supersample=3).image
    images = images * 255.0
    if noise > 0:
        images = images + np.random.default_rng([seed, 1]).normal(0.0, float(noise), images.shape)
    frames = np.clip(np.rint(images), 0, 255).astype(np.uint8)
    for b in blank:
        frames[int(b)] = 0
    landmarks_true = np.stack([cam.project(lm3[t]).pixels for t, cam in enumerate(cams)])
    meta = {"shift_px": shifts, "warp": warp, "profile": profile, "landmarks_true": landmarks_true,
            "aus": dict(aus or {})}
    return Clip(dataset="synthetic", subject=subject, clip_id=clip_id, frames=frames, fps=fps,
                onset=onset, apex=apex, offset=n_frames - 1, meta=meta)


def expected_crop_flow(clip: Any, transform: Any, *, reference: int = 0) -> np.ndarray:
    """True optical flow, in crop pixels, of a :func:`known_motion_clip` without ``aus``.

    The image of frame ``t`` is that of frame ``reference`` moved by
    ``W_lin @ (d_t - d_ref)``, and a crop made with the similarity ``transform`` (e.g.
    ``Prepared.transform``) sees that motion through its linear part, the same at every
    pixel of the face.

    Parameters
    ----------
    clip : mxkit.data.Clip
        From :func:`known_motion_clip` (its ``meta['shift_px']`` and ``meta['warp']``).
    transform : mxkit.face.Similarity or array (2, 3)
        Original frame -> crop.
    reference : int, default 0
        The flow's reference frame (the onset).

    Returns
    -------
    numpy.ndarray, shape (T, 2), float64
        ``(u, v)`` flow from the reference crop to each crop.
    """
    m = np.asarray(getattr(transform, "matrix", transform), dtype=np.float64)
    d = clip.meta["shift_px"] - clip.meta["shift_px"][reference]
    lin = m[:, :2] @ clip.meta["warp"][:, :2]
    return d @ lin.T
