"""One SynthME clip: plan its ground truth (:func:`plan_clip`), render its frames
(:func:`render_frames`), or both at once into an in-memory :class:`~mxkit.data.Clip`
(:func:`generate_clip`)."""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._checks import check_option, renamed_keywords
from ...errors import InputValueError
from .appearance import SynthSubject, check_model, generate_subject
from .motion import (
    EMOTION_RECIPES,
    EMOTION_WEIGHTS,
    EMOTIONS,
    check_au_string,
    detail_field,
    head_motion,
    intensity_profile,
    peak_blendshape_motion,
    recipe_aus,
)
from .truth import SynthTruth

if TYPE_CHECKING:  # pragma: no cover
    from ...morph import FaceModel
    from ..clip import Clip

__all__ = ["EXPRESSION_TYPES", "EXPRESSION_TYPE_DEFAULTS", "KINDS", "KIND_DEFAULTS", "plan_clip",
           "render_frames", "iter_frames", "generate_clip", "iter_depth", "render_depth",
           "DEPTH_NOISE_STREAM"]

#: Expression types of clips.
EXPRESSION_TYPES = ("micro", "macro")
#: Default ranges per expression type: onset->offset duration (s), neutral baseline before the onset and
#: after the offset (s, each), base peak AU intensity, apex position (fraction of onset->offset),
#: ratio of the detail amplitude to the peak blendshape motion (clipped to 0.2-1.0 mm).
EXPRESSION_TYPE_DEFAULTS: dict[str, dict[str, tuple[float, float]]] = {
    "micro": {"duration_s": (0.2, 0.5), "baseline_s": (0.04, 0.08), "intensity": (0.12, 0.32),
              "apex": (0.3, 0.55), "detail_ratio": (0.3, 0.6)},
    "macro": {"duration_s": (0.6, 1.2), "baseline_s": (0.04, 0.08), "intensity": (0.55, 0.9),
              "apex": (0.3, 0.5), "detail_ratio": (0.3, 0.6)},
}
#: Old name of :data:`EXPRESSION_TYPES` (deprecated).
KINDS = EXPRESSION_TYPES
#: Old name of :data:`EXPRESSION_TYPE_DEFAULTS` (deprecated).
KIND_DEFAULTS = EXPRESSION_TYPE_DEFAULTS
#: Range of the detail field's amplitude (largest vertex displacement), metres.
DETAIL_RANGE_M = (0.2e-3, 1.0e-3)


def _range(value: Any, name: str, default: tuple[float, float]) -> tuple[float, float]:
    """A number or a (lo, hi) pair as a validated positive range."""
    if value is None:
        return default
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        lo = hi = float(value)
    else:
        try:
            lo, hi = (float(v) for v in value)
        except (TypeError, ValueError):
            raise InputValueError(f"{name} must be a number or a (low, high) pair; got {value!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo <= hi):
        raise InputValueError(f"{name} must be positive with low <= high; got {value!r}")
    return lo, hi


def _draw(rng: np.random.Generator, r: tuple[float, float]) -> float:
    return float(r[0]) if r[0] == r[1] else float(rng.uniform(*r))


def _pick_recipe(model: FaceModel, rng: np.random.Generator, emotion: str | None,
                 au_string: Any) -> tuple[str, str]:
    if emotion is not None:
        check_option(emotion, EMOTIONS, "emotion")
    if au_string is not None:
        text = check_au_string(model, au_string)
        if emotion is None:
            emotion = next((e for e, r in EMOTION_RECIPES.items() if text in r), "others")
        return emotion, text
    if emotion is None:
        names = list(EMOTION_WEIGHTS)
        p = np.array([EMOTION_WEIGHTS[e] for e in names], float)
        emotion = names[int(rng.choice(len(names), p=p / p.sum()))]
    recipes = EMOTION_RECIPES[emotion]
    return emotion, recipes[int(rng.integers(len(recipes)))]


@renamed_keywords(kind="expression_type")
def plan_clip(subject: SynthSubject, *, expression_type: str = "micro", emotion: str | None = None,
              au_string: str | int | None = None, seed: int = 0, fps: float = 200.0,
              duration_s: Any = None, baseline_s: Any = None, intensity: Any = None,
              model: FaceModel | None = None) -> SynthTruth:
    """Draw the ground truth of one clip of ``subject`` (no rendering).

    Parameters
    ----------
    subject : SynthSubject
        From :func:`generate_subject` (identity and camera are used; the texture is not).
    expression_type : {'micro', 'macro'}
        Micro: low intensity (base peak AU intensity 0.12-0.32, +-15 % per AU), 0.2-0.5 s
        onset->offset. Macro: high intensity (0.55-0.9), 0.6-1.2 s. See
        :data:`EXPRESSION_TYPE_DEFAULTS`. (``kind`` is a deprecated alias.)
    emotion : str, optional
        One of :data:`~mxkit.data.synth.motion.EMOTIONS` (CASME II spelling); drawn with
        CASME II's frequencies when omitted (or deduced from ``au_string``).
    au_string : str, optional
        The AUs, e.g. ``"6+12"``, ``"4+L10"``; drawn from the emotion's recipes when omitted.
    seed : int
        Seed of the clip's random draws.
    fps : float
        Frame rate (CASME II and SAMM: 200).
    duration_s, baseline_s, intensity : float or (low, high), optional
        Override the expression type's ranges: onset->offset duration, neutral frames before the onset
        and after the offset (each), base peak AU intensity.
    model : FaceModel, optional
        ``mh-head`` (default).

    Returns
    -------
    SynthTruth
        With ``meta`` holding ``emotion, au_string, onset, apex, offset`` (0-based indices),
        ``seed``, ``noise_seed``, ``subject``, ``subject_seed``.
    """
    import torch

    model = check_model(model)
    if not isinstance(subject, SynthSubject):
        raise InputValueError(f"subject must be a SynthSubject (generate_subject); got {type(subject).__name__}")
    check_option(expression_type, EXPRESSION_TYPES, "expression_type")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InputValueError(f"seed must be a non-negative int; got {seed!r}")
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not fps > 0:
        raise InputValueError(f"fps must be a positive number; got {fps!r}")
    fps = float(fps)
    d = EXPRESSION_TYPE_DEFAULTS[expression_type]
    dur = _range(duration_s, "duration_s", d["duration_s"])
    base = _range(baseline_s, "baseline_s", d["baseline_s"])
    inten = _range(intensity, "intensity", d["intensity"])
    if inten[1] > 1:
        raise InputValueError(f"intensity must lie in (0, 1]; got {intensity!r}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7003]))
    emotion, au_text = _pick_recipe(model, rng, emotion, au_string)
    aus = recipe_aus(au_text, _draw(rng, inten), rng)
    n_active = max(3, int(round(_draw(rng, dur) * fps)))
    n_pre = max(2, int(round(_draw(rng, base) * fps)))
    n_post = max(2, int(round(_draw(rng, base) * fps)))
    T = n_pre + n_active + n_post
    onset, offset = n_pre, n_pre + n_active - 1
    apex = int(np.clip(onset + round(_draw(rng, d["apex"]) * (n_active - 1)), onset + 1, offset - 1))
    profile = intensity_profile(T, onset, apex, offset)
    with torch.no_grad():
        peak = model.aus_to_expression(aus)[0].detach().cpu().numpy().astype(np.float32)
    expression = profile[:, None] * peak[None]
    amplitude = float(np.clip(_draw(rng, d["detail_ratio"]) * peak_blendshape_motion(model, aus),
                              *DETAIL_RANGE_M))
    detail = detail_field(model, aus, amplitude, rng)
    gamma = float(rng.uniform(1.0, 2.0))
    rotation, translation = head_motion(T, fps, rng)
    noise_seed = int(rng.integers(2 ** 31))
    meta = {"emotion": emotion, "au_string": au_text, "onset": onset, "apex": apex, "offset": offset,
            "seed": int(seed), "noise_seed": noise_seed, "subject": subject.index,
            "subject_seed": subject.seed, "detail_gamma": round(gamma, 6),
            "noise_sigma": subject.noise_sigma, "blur_sigma": subject.blur_sigma}
    truth = SynthTruth(model_name=model.name, identity=subject.identity, expression=expression,
                       detail=detail, detail_profile=profile ** gamma, rotation=rotation,
                       translation=translation, camera=subject.camera,
                       landmarks=np.zeros((T, 68, 2), np.float32), profile=profile, aus=aus,
                       expression_type=expression_type, fps=fps, detail_amplitude=float(np.linalg.norm(detail, axis=1).max()),
                       meta=meta)
    return dataclasses.replace(truth, landmarks=truth.project_landmarks(model))


def iter_frames(subject: SynthSubject, truth: SynthTruth, *, model: FaceModel | None = None,
                frames: Sequence[int] | None = None, detail: bool = True, chunk: int = 32,
                workers: int | None = None, on_frame: Callable[[], None] | None = None
                ) -> Iterator[np.ndarray]:
    """Render the frames of a clip one at a time (see :func:`render_frames`).

    ``chunk`` frames are rasterized together (threads); ``on_frame()`` is called after each
    frame (progress bars).
    """
    import cv2

    from ...render import render_batch

    model = check_model(model)
    if subject.texture is None:
        raise InputValueError("the subject has no texture; use generate_subject(..., paint=True) "
                              "or subject.painted()")
    if not detail:
        truth = dataclasses.replace(truth, detail=np.zeros_like(truth.detail))
    idx = np.arange(truth.n_frames) if frames is None else np.asarray(list(frames), dtype=int)
    if idx.size and (idx.min() < 0 or idx.max() >= truth.n_frames):
        raise InputValueError(f"frame indices must be in [0, {truth.n_frames}); got {idx.min()}..{idx.max()}")
    faces = model.faces.detach().cpu().numpy()
    sigma = float(truth.meta.get("noise_sigma", subject.noise_sigma))
    blur = float(truth.meta.get("blur_sigma", subject.blur_sigma))
    noise_seed = int(truth.meta.get("noise_seed", 0))
    for start in range(0, len(idx), max(1, int(chunk))):
        part = idx[start:start + max(1, int(chunk))]
        verts = truth.posed_vertices(model, part)
        out = render_batch(verts, faces, truth.camera, uv=subject.uv, faces_uv=subject.faces_uv,
                           texture=subject.texture, light=subject.light,
                           background=subject.background, workers=workers)
        for k, t in enumerate(part):
            img = out.image[k]
            if blur > 0:
                img = cv2.GaussianBlur(img, (0, 0), blur)
            noise = np.random.default_rng([noise_seed, int(t)]).standard_normal(img.shape, dtype=np.float32)
            yield np.clip(img * 255.0 + sigma * noise + 0.5, 0, 255).astype(np.uint8)
            if on_frame is not None:
                on_frame()


#: Second entry of the seed ``[noise_seed, DEPTH_NOISE_STREAM, frame]`` of the depth sensor
#: noise (the colour noise uses ``[noise_seed, frame]``), so both are reproducible and
#: independent.
DEPTH_NOISE_STREAM = 2


def iter_depth(truth: SynthTruth, *, model: FaceModel | None = None, frames: Sequence[int] | None = None,
               noise_mm: float = 0.0, chunk: int = 32, workers: int | None = None
               ) -> Iterator[np.ndarray]:
    """The clip's depth maps one at a time (see :func:`render_depth`)."""
    from ...render import render_batch

    model = check_model(model)
    if isinstance(noise_mm, bool) or not isinstance(noise_mm, numbers.Real) or not (noise_mm >= 0):
        raise InputValueError(f"noise_mm must be a number >= 0; got {noise_mm!r}")
    idx = np.arange(truth.n_frames) if frames is None else np.asarray(list(frames), dtype=int)
    if idx.size and (idx.min() < 0 or idx.max() >= truth.n_frames):
        raise InputValueError(f"frame indices must be in [0, {truth.n_frames}); got {idx.min()}..{idx.max()}")
    faces = model.faces.detach().cpu().numpy()
    noise_seed = int(truth.meta.get("noise_seed", 0))
    for start in range(0, len(idx), max(1, int(chunk))):
        part = idx[start:start + max(1, int(chunk))]
        out = render_batch(truth.posed_vertices(model, part), faces, truth.camera, workers=workers)
        for k, t in enumerate(part):
            d = out.depth[k].astype(np.float64) * 1000.0
            d[~np.isfinite(d)] = np.nan
            if noise_mm > 0:
                rng = np.random.default_rng([noise_seed, DEPTH_NOISE_STREAM, int(t)])
                d = d + float(noise_mm) * rng.standard_normal(d.shape)
            yield d.astype(np.float32)


def render_depth(truth: SynthTruth, *, model: FaceModel | None = None,
                 frames: Sequence[int] | None = None, noise_mm: float = 0.0,
                 workers: int | None = None) -> np.ndarray:
    """Exact depth maps of a clip from the rasterizer's z-buffer, with optional sensor noise.

    The posed fine mesh (``truth.posed_vertices``, the frames' own geometry) is rasterized
    with the clip's camera; a pixel's depth is the camera-frame ``z`` of the nearest surface,
    as a depth sensor aligned to the colour camera measures it.

    Parameters
    ----------
    truth : SynthTruth
    model : FaceModel, optional
    frames : sequence of int, optional
        Frame indices (default all).
    noise_mm : float, optional
        Sensor-noise model: white Gaussian noise of this standard deviation (mm), independent
        per pixel and frame, added to every covered pixel (deterministic: seeded per frame from
        ``truth.meta['noise_seed']``, :data:`DEPTH_NOISE_STREAM`). 0 (default): exact depth.
    workers : int, optional
        Rasterizer threads.

    Returns
    -------
    ndarray, shape (N, H, W), float32
        Depth in millimetres; NaN where no surface is seen (the background).
    """
    maps = list(iter_depth(truth, model=model, frames=frames, noise_mm=noise_mm, workers=workers))
    H, W = truth.camera.image_size
    return np.stack(maps) if maps else np.zeros((0, H, W), np.float32)


def render_frames(subject: SynthSubject, truth: SynthTruth, *, model: FaceModel | None = None,
                  frames: Sequence[int] | None = None, detail: bool = True,
                  workers: int | None = None) -> np.ndarray:
    """Render a clip's frames with the project's rasterizer.

    Textured Phong shading of the posed fine mesh (``truth.posed_vertices``) with the
    subject's albedo, light and background, then optical blur and Gaussian sensor noise
    (deterministic: seeded per frame from ``truth.meta['noise_seed']``).

    Parameters
    ----------
    subject : SynthSubject
        With its texture (``generate_subject(..., paint=True)``).
    truth : SynthTruth
        From :func:`plan_clip`.
    model : FaceModel, optional
    frames : sequence of int, optional
        Frame indices (default all).
    detail : bool
        False renders without the fine-detail field (to see what it changes).
    workers : int, optional
        Rasterizer threads (default: all cores).

    Returns
    -------
    ndarray, shape (N, H, W, 3), uint8
        RGB frames.
    """
    imgs = list(iter_frames(subject, truth, model=model, frames=frames, detail=detail, workers=workers))
    H, W = truth.camera.image_size
    return np.stack(imgs) if imgs else np.zeros((0, H, W, 3), np.uint8)


@renamed_keywords(kind="expression_type")
def generate_clip(subject: SynthSubject | None = None, *, expression_type: str = "micro",
                  emotion: str | None = None, au_string: str | int | None = None, seed: int = 0,
                  fps: float = 200.0, duration_s: Any = None, baseline_s: Any = None,
                  intensity: Any = None, clip_id: str | None = None,
                  model: FaceModel | None = None, workers: int | None = None) -> Clip:
    """Generate one clip in memory: frames plus labels plus :class:`SynthTruth`.

    Parameters
    ----------
    subject : SynthSubject, optional
        Default ``generate_subject(seed=seed)`` (256 px frames).
    expression_type, emotion, au_string, seed, fps, duration_s, baseline_s, intensity, model
        As in :func:`plan_clip` (``kind`` is a deprecated alias of ``expression_type``).
    clip_id : str, optional
        Default ``f"{expression_type}{seed:03d}"``.
    workers : int, optional
        Rasterizer threads.

    Returns
    -------
    Clip
        ``dataset='synthme'``, ``subject=f"s{index:02d}"``, frames ``(T, H, W, 3)`` uint8 in
        memory, ``onset/apex/offset``, ``au_string``, ``emotion`` (CASME II spelling),
        ``fps``; ``ground_truth`` is the :class:`SynthTruth`.

    Examples
    --------
    >>> subject = generate_subject(seed=1, image_size=96, texture_size=256)  # doctest: +SKIP
    >>> clip = generate_clip(subject, expression_type="micro", emotion="happiness", seed=3)  # doctest: +SKIP
    >>> clip.emotion, 0.2 <= clip.duration_s <= 0.5  # doctest: +SKIP
    ('happiness', True)
    """
    from ..clip import Clip

    model = check_model(model)
    if subject is None:
        subject = generate_subject(seed=seed, model=model)
    truth = plan_clip(subject, expression_type=expression_type, emotion=emotion, au_string=au_string, seed=seed, fps=fps,
                      duration_s=duration_s, baseline_s=baseline_s, intensity=intensity, model=model)
    frames = render_frames(subject, truth, model=model, workers=workers)
    m = truth.meta
    return Clip(dataset="synthme", subject=f"s{subject.index:02d}",
                clip_id=clip_id if clip_id is not None else f"{expression_type}{seed:03d}", frames=frames,
                fps=truth.fps, onset=m["onset"], apex=m["apex"], offset=m["offset"],
                au_string=m["au_string"], emotion=m["emotion"],
                meta={"kind": expression_type, "synth_seed": int(seed), "subject_seed": subject.seed},
                ground_truth=truth)
