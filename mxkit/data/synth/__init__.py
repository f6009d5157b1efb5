"""SynthME: mxkit's embedded synthetic micro-expression dataset, with 3D ground truth.

Subjects are the embedded ``mh-head`` model with an identity drawn from its identity basis, a
painted skin albedo (brows, lips, eyes with iris and pupil, hair, pores and freckles), their
own lighting, camera and sensor noise. They perform AU-driven **micro**-expressions (peak AU
intensity 0.12-0.32, onset -> apex -> offset in 0.2-0.5 s at 200 fps, with neutral baseline
frames before and after) and **macro**-expressions (0.55-0.9, 0.6-1.2 s), with emotion <-> AU
combinations following CASME II's coding (:data:`EMOTION_RECIPES`), small smooth head motion
(< 2 degrees, a few mm) and a **fine-detail field**: small localised deformations inside the
active AU regions that no combination of the 52 ARKit shapes can express (orthogonal to all
of them), sub-mm to 1 mm, following the clip's profile. Frames are rendered with mxkit's
rasterizer; the detail field moves the textured skin, so optical flow sees it.

* In memory: :func:`generate_subject`, :func:`plan_clip` (ground truth only),
  :func:`render_frames`, :func:`generate_clip` (a :class:`~mxkit.data.Clip`), and
  :func:`render_depth`: the exact depth maps of a clip from the rasterizer's z-buffer, with an
  optional sensor-noise model (what the CAS(ME)³ layout writes).
* On disk: :func:`make_dataset` writes the CASME II layout with its coding sheet (or SAMM /
  CK+ / CAS(ME)³ with depth / SAMM Long Videos) plus a ``gt/`` sidecar and ``synthme.json``;
  :func:`load_synthme` reads it back with the real-data loaders and attaches a
  :class:`SynthTruth` to each clip.
* :func:`detection_report`: dlib's detection and 68-point error on the frames.
* Photo texture (:mod:`.photo`, ``make_dataset(..., appearance="photo", photos=...)``): a real
  face photo fitted with the face model (:func:`photo_face`) and warped frame by frame by the
  same driven 3D motion (:func:`plan_photo_clip`, :func:`render_photo_frames`,
  :func:`warp_photo`), with exact truth in the same sidecar.

Everything is deterministic from the seed. ``SynthTruth.vertices(model)`` is the reference
that reconstructions are compared to.

Examples
--------
>>> from mxkit.data import make_dataset, load_synthme            # doctest: +SKIP
>>> clips = make_dataset("SynthME", preset="tiny")                # doctest: +SKIP
>>> truth = clips[0].ground_truth                                 # doctest: +SKIP
>>> truth.vertices(load_face_model("mh-head")).shape[1:]          # doctest: +SKIP
(4977, 3)
"""

from .appearance import Atlas, SynthSubject, build_atlas, generate_subject
from .check import detection_report
from .clips import (
    DEPTH_NOISE_STREAM,
    EXPRESSION_TYPE_DEFAULTS,
    EXPRESSION_TYPES,
    KIND_DEFAULTS,
    KINDS,
    generate_clip,
    iter_depth,
    iter_frames,
    plan_clip,
    render_depth,
    render_frames,
)
from .dataset import (
    DATASET_EXPRESSION_TYPES,
    DATASET_KINDS,
    LAYOUTS,
    MANIFEST,
    PRESETS,
    PlannedClip,
    dataset_plan,
    layout_emotion,
    load_synthme,
    make_dataset,
)
from .motion import (
    EMOTION_RECIPES,
    EMOTION_WEIGHTS,
    EMOTIONS,
    detail_field,
    detail_weights,
    head_motion,
    intensity_profile,
    recipe_aus,
)
from .photo import (
    APPEARANCES,
    PHOTO_SENSOR_DEFAULTS,
    PhotoFace,
    generate_photo_clip,
    iter_photo_frames,
    photo_face,
    plan_photo_clip,
    render_photo_frames,
    warp_photo,
)
from .truth import SynthTruth

__all__ = [
    "SynthTruth", "SynthSubject", "Atlas", "PlannedClip", "PRESETS", "LAYOUTS", "DATASET_EXPRESSION_TYPES",
    "EXPRESSION_TYPES", "EXPRESSION_TYPE_DEFAULTS", "DATASET_KINDS", "KINDS", "KIND_DEFAULTS", "MANIFEST", "EMOTIONS", "EMOTION_RECIPES", "EMOTION_WEIGHTS",
    "make_dataset", "load_synthme", "dataset_plan", "generate_subject", "generate_clip",
    "plan_clip", "render_frames", "iter_frames", "build_atlas", "detail_field",
    "detail_weights", "head_motion", "intensity_profile", "recipe_aus", "layout_emotion",
    "detection_report", "render_depth", "iter_depth", "DEPTH_NOISE_STREAM",
    "APPEARANCES", "PHOTO_SENSOR_DEFAULTS", "PhotoFace", "photo_face", "plan_photo_clip", "warp_photo",
    "iter_photo_frames", "render_photo_frames", "generate_photo_clip",
]
