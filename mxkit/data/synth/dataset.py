"""SynthME on disk: :func:`make_dataset` writes a whole dataset in a published layout with a
ground-truth sidecar, :func:`load_synthme` reads it back with the real-data loaders.

Layout of ``make_dataset(out, layout="casme2")``::

    out/
    ├── CASME2-coding-20140508.xlsx       the official coding sheet (Sheet1..Sheet3)
    ├── CASME2_RAW_selected/sub01/EP01_01/img{N}.jpg
    ├── gt/sub01/EP01_01.npz              SynthTruth of each clip (same frames as the folder)
    ├── synthme.json                      preset, seed, mxkit version, counts, clip list
    └── .mxkit-layout.json                marker of mxkit's writers

``layout="samm"`` writes ``SAMM_Micro_FACS_Codes_v2.xlsx`` and ``001/001_1_1/001_{N:05d}.jpg``
(gray, as SAMM); ``layout="smic"`` writes the SMIC-HS folders
``HS/s1/micro/negative/s1_ne_01/image{N:06d}.bmp`` at 100 fps (no label file: the emotion folder
is the label, mapped to SMIC's three classes; a clip is its whole folder, without apex, as in
SMIC); ``layout="ckplus"`` writes ``cohn-kanade-images/S001/001/...png`` at 30 fps
with the frames from the first neutral frame to the apex, as CK+ sequences run, plus the
``Landmarks/`` files. The long-video layouts write each clip as its own short video with one
annotated interval (:func:`mxkit.data.write_long_videos`): ``layout="casme3"`` at 30 fps,
``spNO.1/a/color/{N}.jpg`` plus **exact depth maps** ``spNO.1/a/depth/{N}.png`` (16-bit, mm,
from the rasterizer's z-buffer, optionally with sensor noise: ``depth_noise_mm``) and the
Part A label files; ``layout="samm_lv"`` at 200 fps, ``SAMM_longvideos/001_1/001_1_{N:04d}.jpg``
(gray) and ``SAMM_LongVideos_V2_Release.xlsx``. The whole folder is built next to ``out`` and renamed into place, and
every byte follows from the seed: the workbooks' zip timestamps and document dates are
fixed, the ``.npz`` sidecars are written with fixed timestamps, JPEG/PNG encoding is
deterministic.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._checks import check_option, renamed_keywords
from ..._io import atomic_open, display_path
from ...errors import DatasetFormatError, InputValueError
from .appearance import SynthSubject, check_model, generate_subject
from .clips import iter_frames, plan_clip
from .motion import EMOTION_WEIGHTS, EMOTIONS
from .photo import APPEARANCES, PhotoFace, iter_photo_frames, photo_face, plan_photo_clip
from .truth import SynthTruth

if TYPE_CHECKING:  # pragma: no cover
    from ...morph import FaceModel
    from ..clip import ClipSet

__all__ = ["PRESETS", "LAYOUTS", "DATASET_EXPRESSION_TYPES", "DATASET_KINDS", "MANIFEST", "make_dataset", "load_synthme",
           "dataset_plan", "PlannedClip", "layout_emotion"]

#: File name of the dataset manifest (preset, seed, mxkit version, counts, clip list).
MANIFEST = "synthme.json"
#: Layouts :func:`make_dataset` writes.
LAYOUTS = ("casme2", "samm", "smic", "ckplus", "casme3", "samm_lv")
_LONG_VIDEO = ("casme3", "samm_lv")
#: Values of ``make_dataset(expression_type=...)``.
DATASET_EXPRESSION_TYPES = ("micro", "macro", "both")
#: Old name of :data:`DATASET_EXPRESSION_TYPES` (deprecated).
DATASET_KINDS = DATASET_EXPRESSION_TYPES
_LAYOUT_FPS = {"casme2": 200.0, "samm": 200.0, "smic": 100.0, "ckplus": 30.0, "casme3": 30.0, "samm_lv": 200.0}
_FIXED_DATE = "2014-05-08T00:00:00Z"
# files that mark a dataset folder (SynthME refuses to write anywhere below one)
_DATASET_MARKERS = (MANIFEST, "CASME2-coding-20140508.xlsx", "SAMM_Micro_FACS_Codes_v2.xlsx",
                    "cohn-kanade-images", "CASME2_RAW_selected", "SAMM_LongVideos_V2_Release.xlsx",
                    "SAMM_longvideos", "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx",
                    "CAS(ME)3_part_A_v2.xls", "CAS(ME)^2code_final.xlsx")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

#: Dataset presets. ``micro`` / ``macro``: clips per subject of each kind; ``image_size``
#: (H, W); ``field_m``: metres across the smaller image side at the face; ``texture_size``:
#: albedo texels; ``micro_s`` / ``macro_s``: onset->offset durations; ``baseline_s``:
#: neutral frames before the onset and after the offset; ``emotions``: 'balanced' (cycle
#: through CASME II's five classes, then sadness and fear) or 'casme2' (its frequencies).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"n_subjects": 2, "micro": 1, "macro": 1, "image_size": (128, 128), "field_m": 0.25,
             "texture_size": 512, "micro_s": (0.2, 0.22), "macro_s": (0.55, 0.6),
             "baseline_s": (0.02, 0.03), "emotions": "balanced",
             "description": "unit tests: 2 subjects, 1 micro + 1 macro clip each, 128 px"},
    "small": {"n_subjects": 6, "micro": 2, "macro": 1, "image_size": (256, 256), "field_m": 0.25,
              "texture_size": 1024, "micro_s": (0.2, 0.5), "macro_s": (0.6, 0.9),
              "baseline_s": (0.03, 0.06), "emotions": "balanced",
              "description": "notebooks and the main job: 6 subjects, 2 micro + 1 macro each, 256 px"},
    "full": {"n_subjects": 26, "micro": 10, "macro": 4, "image_size": (480, 640), "field_m": 0.29,
             "texture_size": 2048, "micro_s": (0.2, 0.5), "macro_s": (0.6, 1.5),
             "baseline_s": (0.05, 0.15), "emotions": "casme2",
             "description": "26 subjects, 10 micro + 4 macro each (364 clips), 640x480 like "
                            "CASME II's raw frames"},
}
_OPTIONS = ("n_subjects", "micro", "macro", "image_size", "field_m", "texture_size", "micro_s",
            "macro_s", "baseline_s", "emotions")
_BALANCED = ("happiness", "disgust", "surprise", "repression", "others", "disgust", "others",
             "happiness", "surprise", "repression", "sadness", "fear")

#: Emotion labels per layout (CASME II spelling -> the layout's).
_EMOTION_LABELS = {
    "samm": {"happiness": "Happiness", "disgust": "Disgust", "surprise": "Surprise",
             "sadness": "Sadness", "fear": "Fear", "repression": "Other", "others": "Other"},
    "ckplus": {"happiness": "happy", "disgust": "disgust", "surprise": "surprise",
               "sadness": "sadness", "fear": "fear", "repression": None, "others": None},
    "casme3": {"happiness": "happy", "disgust": "disgust", "surprise": "surprise",
               "sadness": "sad", "fear": "fear", "repression": "others", "others": "others"},
}
#: SMIC has three classes; SynthME's 'others' has no SMIC folder, so the smic layout draws only
#: emotions that map (:func:`_emotions`): negative = disgust, repression, sadness, fear.
_EMOTION_LABELS["smic"] = {"happiness": "positive", "disgust": "negative", "surprise": "surprise",
                           "sadness": "negative", "fear": "negative", "repression": "negative", "others": None}
_SMIC_BALANCED = ("happiness", "disgust", "surprise", "happiness", "repression", "surprise")
_EMOTION_LABELS["samm_lv"] = _EMOTION_LABELS["samm"]  # the release has no emotion: SynthME's own


def layout_emotion(emotion: str, layout: str) -> str | None:
    """An emotion in CASME II spelling as ``layout`` writes it (SAMM capitalises and has
    ``Other``; CK+ has no repression / others: unlabelled, None; CAS(ME)³ writes ``happy``,
    ``sad`` and ``others``; SAMM Long Videos has no emotion column: SAMM's spelling is used for
    the loaded clips)."""
    check_option(layout, LAYOUTS, "layout")
    return emotion if layout == "casme2" else _EMOTION_LABELS[layout][emotion]


# ----------------------------------------------------------------------------- planning
@dataclass(frozen=True)
class PlannedClip:
    """One clip of :func:`dataset_plan`: where it goes and its ground truth.

    Attributes
    ----------
    subject : int
        Subject number (1-based).
    clip_id : str
        Sample name as written (CASME II ``Filename``, SAMM ``Filename``, CK+ sequence).
    folder_subject, loaded_id : str
        Subject folder and clip id as the layout's loader reports them.
    truth : SynthTruth
        Ground truth of the written frames.
    window : tuple of int
        Frames ``[a, b)`` of the planned clip that are written (CK+ stops at the apex).
    first_frame : int
        Dataset frame number of the first written frame.
    """

    subject: int
    clip_id: str
    folder_subject: str
    loaded_id: str
    truth: SynthTruth
    window: tuple[int, int]
    first_frame: int


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def _options(preset: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    check_option(preset, tuple(PRESETS), "preset")
    unknown = sorted(set(overrides) - set(_OPTIONS))
    if unknown:
        raise InputValueError(f"unknown SynthME option(s) {unknown}; known: {list(_OPTIONS)}")
    opts = {k: PRESETS[preset][k] for k in _OPTIONS}
    opts.update({k: v for k, v in overrides.items() if v is not None})
    for name in ("n_subjects", "micro", "macro"):
        v = opts[name]
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0 or (name == "n_subjects" and v < 1):
            raise InputValueError(f"{name} must be an int >= {1 if name == 'n_subjects' else 0}; got {v!r}")
        opts[name] = int(v)
    if opts["n_subjects"] > 99:
        raise InputValueError(f"n_subjects must be <= 99 (CASME II's two-digit subject ids); got {opts['n_subjects']}")
    check_option(opts["emotions"], ("balanced", "casme2"), "emotions")
    return opts


def _emotions(n: int, mode: str, rng: np.random.Generator, layout: str = "casme2") -> list[str]:
    if mode == "balanced":
        cycle = _SMIC_BALANCED if layout == "smic" else _BALANCED
        return [cycle[i % len(cycle)] for i in range(n)]
    names = [e for e in EMOTION_WEIGHTS if layout != "smic" or _EMOTION_LABELS["smic"][e] is not None]
    p = np.array([EMOTION_WEIGHTS[e] for e in names], float)
    return [names[int(i)] for i in rng.choice(len(names), size=n, p=p / p.sum())]


def _clip_names(layout: str, subject: int, expression_type: str, emotion: str, k: int,
                onset_frame: int = 0) -> tuple[str, str, str]:
    """(clip_id written, subject folder, clip_id loaded); for the long-video layouts the
    written id is the video (CAS(ME)³ letter, SAMM-LV inducement number)."""
    if layout == "casme3":
        if k > 26:
            raise InputValueError(f"the casme3 layout names videos a..z: at most 26 clips per subject; got {k}")
        letter = chr(ord("a") + k - 1)
        return letter, f"spNO.{subject}", f"{letter}_{onset_frame}"
    if layout == "samm_lv":
        return str(k), f"{subject:03d}", f"{subject:03d}_{k}_1"
    e = EMOTIONS.index(emotion) + 1
    if layout == "casme2":
        cid = f"{'EP' if expression_type == 'micro' else 'MA'}{e:02d}_{k:02d}"
        return cid, f"sub{subject:02d}", cid
    if layout == "samm":
        cid = f"{subject:03d}_{e}_{k}"
        return cid, f"{subject:03d}", cid
    if layout == "smic":
        from ..writers import SMIC_ABBREVIATIONS

        cid = f"s{subject}_{SMIC_ABBREVIATIONS[_EMOTION_LABELS['smic'][emotion]]}_{k:02d}"
        return cid, f"s{subject}", cid
    return f"{k:03d}", f"S{subject:03d}", f"S{subject:03d}_{k:03d}"


@renamed_keywords(kind="expression_type")
def dataset_plan(*, preset: str = "small", expression_type: str = "both", layout: str = "casme2", seed: int = 0,
                 model: FaceModel | None = None, appearance: str = "painted", photos: Any = None,
                 photo_options: Mapping[str, Any] | None = None, **options: Any
                 ) -> tuple[list[Any], list[PlannedClip]]:
    """Subjects (unpainted, or fitted photos) and every clip's ground truth of a dataset, without
    rendering.

    Arguments as in :func:`make_dataset`. Returns ``(subjects, items)``; each item holds the
    written clip id, the loader's subject folder and clip id, and the :class:`SynthTruth` of
    the written frames. With ``appearance="photo"`` the subjects are
    :class:`~mxkit.data.synth.photo.PhotoFace` objects, one per photo.
    """
    check_option(expression_type, DATASET_EXPRESSION_TYPES, "expression_type")
    check_option(layout, LAYOUTS, "layout")
    check_option(appearance, APPEARANCES, "appearance")
    if appearance == "photo":
        if not photos:
            raise InputValueError("appearance='photo' needs photos=[...] (PhotoFace or PhotoRecord "
                                  "objects, e.g. mxkit.data.load_photo_faces('train'))")
        if "n_subjects" in options:
            raise InputValueError("appearance='photo' has one subject per photo; do not pass n_subjects")
        options = {**options, "n_subjects": len(photos)}
    elif photos is not None or photo_options is not None:
        raise InputValueError("photos= and photo_options= need appearance='photo'")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InputValueError(f"seed must be a non-negative int; got {seed!r}")
    opts = _options(preset, options)
    model = check_model(model)
    fps = _LAYOUT_FPS[layout]
    n_micro = opts["micro"] if expression_type in ("micro", "both") else 0
    n_macro = opts["macro"] if expression_type in ("macro", "both") else 0
    if n_micro + n_macro == 0:
        raise InputValueError(f"preset {preset!r} with expression_type={expression_type!r} has no clips (micro={opts['micro']}, "
                              f"macro={opts['macro']})")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7101]))
    n_sub = opts["n_subjects"]
    emotions = iter(_emotions(n_sub * (n_micro + n_macro), opts["emotions"], rng, layout))
    subjects: list[SynthSubject] = []
    items: list[PlannedClip] = []
    for s in range(1, n_sub + 1):
        if appearance == "photo":
            subject = _photo_subject(photos[s - 1], s, opts["image_size"], model)
        else:
            subject = generate_subject(seed=_seed(seed, 1, s), index=s, model=model,
                                       image_size=opts["image_size"], field_m=opts["field_m"],
                                       texture_size=opts["texture_size"], paint=False)
        subjects.append(subject)
        types = ["micro"] * n_micro + ["macro"] * n_macro
        for k, clip_type in enumerate(types, start=1):
            emotion = next(emotions)
            plan_kw = dict(expression_type=clip_type, emotion=emotion, seed=_seed(seed, 2, s, k), fps=fps,
                           model=model, baseline_s=opts["baseline_s"], duration_s=opts[f"{clip_type}_s"])
            if appearance == "photo":
                truth = plan_photo_clip(subject, sensor=dict(photo_options or {}), **plan_kw)
            else:
                truth = plan_clip(subject, **plan_kw)
            window = (0, truth.n_frames)
            if layout == "ckplus":  # neutral -> apex, as CK+ sequences run
                window = (0, truth.meta["apex"] + 1)
                truth = _crop(truth, *window)
            first = 1 if layout == "ckplus" else int(rng.integers(1, 200))
            cid, folder, loaded = _clip_names(layout, s, clip_type, emotion, k,
                                              first + int(truth.meta["onset"]))
            items.append(PlannedClip(s, cid, folder, loaded, truth, window, first))
    return subjects, items


def _photo_subject(photo: Any, index: int, image_size: Any, model: FaceModel) -> PhotoFace:
    """A PhotoFace for subject ``index``: given as one, or fitted from a PhotoRecord."""
    from ..photos import PhotoRecord

    if isinstance(photo, PhotoFace):
        return photo.with_index(index)
    if isinstance(photo, PhotoRecord):
        return photo_face(photo.image, photo.landmarks, name=photo.name, image_size=image_size,
                          index=index, model=model,
                          meta={"source": photo.source, "landmark_source": photo.landmark_source,
                                "split": photo.split})
    raise InputValueError(f"photos must hold PhotoFace or PhotoRecord objects; got {type(photo).__name__}")


def _crop(truth: SynthTruth, a: int, b: int) -> SynthTruth:
    import dataclasses

    per_frame = ("expression", "detail_profile", "rotation", "translation", "landmarks", "profile")
    meta = dict(truth.meta, window=[a, b])
    return dataclasses.replace(truth, meta=meta, **{k: getattr(truth, k)[a:b] for k in per_frame})


# ----------------------------------------------------------------------------- writing
def _freeze_xlsx(path: Path) -> None:
    """Rewrite an openpyxl workbook with fixed zip timestamps and document dates."""
    with zipfile.ZipFile(path) as zf:
        members = [(info, zf.read(info.filename)) for info in zf.infolist()]
    with atomic_open(path) as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                              rb"\g<1>" + _FIXED_DATE.encode() + rb"\g<2>", data)
            new = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            new.compress_type = zipfile.ZIP_DEFLATED
            new.external_attr = 0o644 << 16
            zf.writestr(new, data)


def _frames(items: list[PlannedClip], subjects: list[Any], model: FaceModel,
            workers: int | None, bar: Any) -> Callable[[int], Iterator[np.ndarray]]:
    """A factory of lazy frame streams, painting one subject at a time."""
    cache: dict[int, SynthSubject] = {}

    def stream(i: int) -> Iterator[np.ndarray]:
        item = items[i]
        if isinstance(subjects[item.subject - 1], PhotoFace):
            yield from iter_photo_frames(subjects[item.subject - 1], item.truth, model=model,
                                         on_frame=None if bar is None else (lambda: bar.update(1)))
            return
        if item.subject not in cache:
            cache.clear()
            cache[item.subject] = subjects[item.subject - 1].painted()
        yield from iter_frames(cache[item.subject], item.truth, model=model, workers=workers,
                               on_frame=None if bar is None else (lambda: bar.update(1)))

    return stream


def _manifest(*, preset: str, expression_type: str, layout: str, seed: int, opts: dict[str, Any],
              subjects: list[Any], items: list[PlannedClip]) -> dict[str, Any]:
    from ..._version import __version__

    n_micro = sum(it.truth.expression_type == "micro" for it in items)
    return {   # the manifest's keys (file format) keep the name "kind"
        "name": "SynthME", "format": 1, "preset": preset, "kind": expression_type, "layout": layout,
        "appearance": "photo" if subjects and isinstance(subjects[0], PhotoFace) else "painted",
        "seed": int(seed), "mxkit_version": __version__, "model": "mh-head",
        "fps": _LAYOUT_FPS[layout],
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in opts.items()},
        "counts": {"subjects": len(subjects), "clips": len(items), "micro": n_micro,
                   "macro": len(items) - n_micro,
                   "frames": int(sum(it.truth.n_frames for it in items))},
        "subjects": [s.describe() for s in subjects],
        "clips": [{"subject": it.folder_subject, "clip_id": it.loaded_id, "written_id": it.clip_id,
                   "gt": f"gt/{it.folder_subject}/{it.loaded_id}.npz", "kind": it.truth.expression_type,
                   "emotion": it.truth.meta["emotion"], "au_string": it.truth.meta["au_string"],
                   "n_frames": it.truth.n_frames, "first_frame": it.first_frame}
                  for it in items],
    }


def _check_out(out: Any, overwrite: bool) -> Path:
    from ..writers import LAYOUT_MARKER

    if out is None or (isinstance(out, str) and not out.strip()):
        raise InputValueError(f"out must be a folder path; got {out!r}")
    root = Path(out).expanduser()
    if root.exists() and not root.is_dir():
        raise InputValueError(f"out='{display_path(root)}' exists and is not a folder")
    for parent in root.resolve().parents:
        hit = next((n for n in _DATASET_MARKERS + (LAYOUT_MARKER,) if (parent / n).exists()), None)
        if hit is not None:
            raise InputValueError(f"out='{display_path(root)}' is inside the dataset folder '{display_path(parent)}' (it holds "
                                  f"'{hit}'); SynthME never writes inside a dataset, choose a "
                                  "folder outside it")
    if root.is_dir() and any(root.iterdir()):
        if not (root / LAYOUT_MARKER).is_file():
            raise InputValueError(f"out='{display_path(root)}' is a non-empty folder not written by mxkit (it may "
                                  "be a real dataset); SynthME writes only into a new or empty folder")
        if not overwrite:
            raise InputValueError(f"out='{display_path(root)}' already holds a dataset written by mxkit; pass "
                                  "overwrite=True to replace it")
    return root


@renamed_keywords(kind="expression_type")
def make_dataset(out: str | os.PathLike, *, preset: str = "small", expression_type: str = "both",
                 layout: str = "casme2", seed: int = 0, progress: bool = False,
                 overwrite: bool = False, model: FaceModel | None = None,
                 workers: int | None = None, quality: int = 95, depth_noise_mm: float = 0.0,
                 appearance: str = "painted", photos: Any = None,
                 photo_options: Mapping[str, Any] | None = None, **options: Any) -> ClipSet:
    """Generate SynthME and write it in a published dataset layout; return it loaded.

    Parameters
    ----------
    out : path-like
        New or empty folder (or one written earlier by mxkit, with ``overwrite=True``).
    preset : {'tiny', 'small', 'full'}
        Size of the dataset (:data:`PRESETS`).
    expression_type : {'micro', 'macro', 'both'}
        Which clips: micro-expressions (low intensity, 0.2-0.5 s), macro-expressions (high
        intensity, longer), or both (``kind`` is a deprecated alias).
    layout : {'casme2', 'samm', 'smic', 'ckplus', 'casme3', 'samm_lv'}
        CASME II (coding sheet in the official format, 200 fps), SAMM (200 fps, gray), CK+
        (30 fps, neutral -> apex), CAS(ME)³ (30 fps, colour + exact depth maps in mm, one short
        video per clip) or SAMM Long Videos (200 fps, gray, one short video per clip).
    seed : int
        Everything follows from it: the same seed writes the same bytes.
    progress : bool
        Show a progress bar over frames.
    overwrite : bool
        Replace an earlier mxkit-written dataset at ``out``.
    model : FaceModel, optional
        ``mh-head`` (default).
    workers : int, optional
        Rasterizer threads (default: all cores).
    quality : int
        JPEG quality (CASME II / SAMM frames).
    depth_noise_mm : float
        ``layout='casme3'``: standard deviation (mm) of the white Gaussian sensor noise added
        to the exact z-buffer depth (:func:`~mxkit.data.synth.render_depth`) before it is
        rounded to whole mm in the 16-bit PNGs; 0 (default): exact depth (up to that rounding).
        Recorded in ``synthme.json`` and in each truth's ``meta['depth_noise_mm']``.
    appearance : {'painted', 'photo'}
        ``'painted'``: the procedural albedo rendered by the rasterizer. ``'photo'``: real face
        photos warped by the driven 3D motion (:mod:`mxkit.data.synth.photo`), one subject per
        photo, same motion model and sidecar.
    photos : sequence of PhotoFace or PhotoRecord
        ``appearance='photo'``: the photos (:func:`mxkit.data.load_photo_faces`,
        :func:`~mxkit.data.synth.photo.photo_face`); records are fitted at the preset's
        ``image_size``.
    photo_options : dict, optional
        ``appearance='photo'``: sensor and head-motion options
        (:data:`~mxkit.data.synth.photo.PHOTO_SENSOR_DEFAULTS`), each a number or a range drawn
        per clip; JPEG is ``quality``.
    **options
        Override preset entries: ``n_subjects, micro, macro, image_size, field_m,
        texture_size, micro_s, macro_s, baseline_s, emotions``.

    Returns
    -------
    ClipSet
        :func:`load_synthme` of ``out``: the loader's clips (all frames, baseline included)
        with their :class:`SynthTruth` in ``clip.ground_truth``.

    Raises
    ------
    OptionError
        Unknown ``preset``, ``expression_type`` or ``layout`` (names the argument).
    InputValueError
        Bad options or seed, or an ``out`` folder that is not empty (a foreign folder is
        never written into; an mxkit one only with ``overwrite=True``).

    Examples
    --------
    >>> cs = make_dataset(tmp / "SynthME", preset="tiny")  # doctest: +SKIP
    >>> cs.to_dataframe()[["subject", "clip_id", "emotion", "au_string"]]  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    from .. import writers

    root = _check_out(out, bool(overwrite))
    check_option(expression_type, DATASET_EXPRESSION_TYPES, "expression_type")
    check_option(layout, LAYOUTS, "layout")
    if isinstance(depth_noise_mm, bool) or not isinstance(depth_noise_mm, numbers.Real) or not depth_noise_mm >= 0:
        raise InputValueError(f"depth_noise_mm must be a number >= 0; got {depth_noise_mm!r}")
    if depth_noise_mm and layout != "casme3":
        raise InputValueError(f"depth_noise_mm applies to layout='casme3' (depth maps); got layout={layout!r}")
    opts = _options(preset, options)
    if appearance == "photo" and photos:
        opts = {**opts, "n_subjects": len(photos), "photo_options": dict(photo_options or {})}
    model = check_model(model)
    subjects, items = dataset_plan(preset=preset, expression_type=expression_type, layout=layout, seed=seed, model=model,
                                   appearance=appearance, photos=photos, photo_options=photo_options,
                                   **options)
    if layout == "casme3":
        items = [dataclasses.replace(it, truth=dataclasses.replace(
            it.truth, meta={**it.truth.meta, "depth_noise_mm": float(depth_noise_mm)})) for it in items]
    total = sum(it.truth.n_frames for it in items)
    bar = tqdm(total=total, desc="SynthME frames", unit="frame") if progress else None
    stream = _frames(items, subjects, model, workers, bar)
    if layout in _LONG_VIDEO:
        records_lv = [_video_record(it, stream(i), layout, model, float(depth_noise_mm), workers)
                      for i, it in enumerate(items)]
    records = []
    for i, it in enumerate(items if layout not in _LONG_VIDEO else ()):
        t = it.truth
        extra: dict[str, Any] = {}
        au = t.meta["au_string"]
        if layout == "ckplus":
            au = "+".join(re.sub(r"^[LR]", "", a) for a in au.split("+"))
            extra["landmarks"] = t.landmarks
        else:
            extra["notes"] = "SynthME " + t.expression_type
        onset, apex, offset = (t.meta[k] for k in ("onset", "apex", "offset"))
        if layout == "ckplus":
            onset, apex, offset = 0, t.n_frames - 1, t.n_frames - 1
        records.append(writers.ClipRecord(
            subject=it.subject, clip_id=it.clip_id, frames=stream(i), onset=onset, apex=apex,
            offset=offset, first_frame=it.first_frame, au_string=au,
            emotion=layout_emotion(t.meta["emotion"], layout), fps=t.fps, extra=extra))
    manifest = _manifest(preset=preset, expression_type=expression_type, layout=layout, seed=seed, opts=opts,
                         subjects=subjects, items=items)
    if layout == "casme3":
        manifest["depth"] = {"unit_mm": 1.0, "noise_mm": float(depth_noise_mm),
                             "source": "rasterizer z-buffer of the posed fine mesh"}

    def sidecar(tmp: Path) -> None:
        for it in items:
            folder = tmp / "gt" / it.folder_subject
            folder.mkdir(parents=True, exist_ok=True)
            it.truth.save(folder / f"{it.loaded_id}.npz")
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        for book in sorted(tmp.glob("*.xlsx")):
            _freeze_xlsx(book)

    try:
        if layout == "casme2":
            writers.write_casme2(records, root, frames="raw", quality=quality, overwrite=overwrite,
                                 sidecar=sidecar)
        elif layout == "samm":
            writers.write_samm(records, root, quality=quality, overwrite=overwrite, sidecar=sidecar)
        elif layout == "smic":
            writers.write_smic(records, root, overwrite=overwrite, sidecar=sidecar)
        elif layout in _LONG_VIDEO:
            writers.write_long_videos(records_lv, root, layout=layout, quality=quality,
                                      overwrite=overwrite, sidecar=sidecar)
        else:
            writers.write_ckplus(records, root, overwrite=overwrite, sidecar=sidecar)
    finally:
        if bar is not None:
            bar.close()
    return load_synthme(root)


def _video_record(it: PlannedClip, frames: Iterator[np.ndarray], layout: str, model: FaceModel,
                  noise_mm: float, workers: int | None) -> Any:
    """One clip as a one-interval long video (CAS(ME)³ with its depth stream, SAMM-LV)."""
    from ..writers import LongVideoRecord
    from .clips import iter_depth

    t = it.truth
    interval = {"expression_type": t.expression_type, "onset": t.meta["onset"], "apex": t.meta["apex"],
                "offset": t.meta["offset"], "au_string": t.meta["au_string"],
                "emotion": layout_emotion(t.meta["emotion"], layout) if layout == "casme3" else None,
                "notes": "SynthME " + t.expression_type}
    depth = (iter_depth(t, model=model, noise_mm=noise_mm, workers=workers)
             if layout == "casme3" else None)
    return LongVideoRecord(subject=it.subject, video=it.clip_id, frames=frames, n_frames=t.n_frames,
                           first_frame=it.first_frame, intervals=[interval], depth=depth, fps=t.fps)


# ----------------------------------------------------------------------------- loading
def load_synthme(root: str | os.PathLike, *, dataset: str | None = None) -> ClipSet:
    """Load a SynthME folder written by :func:`make_dataset`.

    The frames and labels are read by the real-data loader of its layout
    (:func:`~mxkit.data.load_casme2` / :func:`~mxkit.data.load_samm` with ``window='all'``,
    :func:`~mxkit.data.load_ckplus`, :func:`~mxkit.data.load_casme3` with ``window='all'``
    and its depth maps, :meth:`~mxkit.data.load_samm_lv` cut into whole-video clips), then each
    clip gets its :class:`SynthTruth` from ``gt/`` in ``clip.ground_truth`` and
    ``clip.meta['synthme']`` (``kind`` = the expression type, emotion in CASME II spelling, AU
    string). Where the
    layout's label file has no emotion (SAMM Long Videos; CAS(ME)³'s macro list) the clip's
    ``emotion`` is SynthME's own, in the layout's spelling.

    Parameters
    ----------
    root : path-like
    dataset : str, optional
        Rename the clips' ``dataset`` (default: the loader's, e.g. ``'casme2'``, so that the
        CASME II protocols apply; pass ``'synthme'`` to keep it apart from real data).

    Returns
    -------
    ClipSet

    Raises
    ------
    DatasetFormatError
        No ``synthme.json``, a missing or unreadable ground-truth file, or clips that do not
        match their truth (names the file).
    """
    from ..clip import ClipSet
    from ..loaders import load_casme2, load_casme3, load_ckplus, load_samm, load_samm_lv, load_smic
    from ..loaders._common import check_root

    root = check_root(root, "SynthME")
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise DatasetFormatError(f"'{display_path(root)}' is not a SynthME folder: no '{MANIFEST}' (write one "
                                 "with mxkit.data.make_dataset)")
    try:
        manifest = json.loads(mpath.read_text())
        layout = manifest["layout"]
        entries = {(c["subject"], c["clip_id"]): c for c in manifest["clips"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetFormatError(f"'{display_path(mpath)}' is not a valid SynthME manifest: {exc}") from None
    if layout not in LAYOUTS:
        raise DatasetFormatError(f"'{display_path(mpath)}': unknown layout {layout!r}; expected one of {list(LAYOUTS)}")
    if layout == "casme2":
        loaded = load_casme2(root, frames="raw", window="all")
    elif layout == "samm":
        loaded = load_samm(root, window="all")
    elif layout == "smic":
        loaded = load_smic(root, annotation=False)
    elif layout == "casme3":
        kinds = {c.get("kind") for c in manifest["clips"]}
        parts = [load_casme3(root, expression_type="micro", window="all")] if "micro" in kinds else []
        if "macro" in kinds:
            parts.append(load_casme3(root, expression_type="macro", window="all"))
        loaded = ClipSet.concat(parts, name="casme3")
    elif layout == "samm_lv":
        loaded = load_samm_lv(root).clips(whole_video=True)
    else:
        loaded = load_ckplus(root)
    clips = []
    for clip in loaded:
        entry = entries.pop((clip.subject, clip.clip_id), None)
        if entry is None:
            raise DatasetFormatError(f"'{display_path(root)}': clip {clip.subject}/{clip.clip_id} is not listed in "
                                     f"'{MANIFEST}'")
        truth = SynthTruth.load(root / entry["gt"])
        if truth.n_frames != clip.n_frames:
            raise DatasetFormatError(f"'{root / entry['gt']}' has {truth.n_frames} frames but clip "
                                     f"{clip.subject}/{clip.clip_id} has {clip.n_frames}")
        info = {"kind": truth.expression_type, "emotion": truth.meta["emotion"],
                "au_string": truth.meta["au_string"], "preset": manifest.get("preset"),
                "seed": manifest.get("seed"), "gt": str(root / entry["gt"])}
        changes: dict[str, Any] = {"ground_truth": truth, "meta": {**clip.meta, "synthme": info}}
        if clip.emotion is None and layout in _LONG_VIDEO:  # label files without emotion column
            changes["emotion"] = layout_emotion(truth.meta["emotion"], layout)
        if dataset is not None:
            changes["dataset"] = dataset
        clips.append(clip.replace(**changes))
    if entries:
        missing = [f"{s}/{c}" for s, c in list(entries)[:5]]
        raise DatasetFormatError(f"'{display_path(root)}': {len(entries)} clip(s) of '{MANIFEST}' were not found "
                                 f"by the {layout} loader: {missing}")
    return ClipSet(clips, problems=loaded.problems.to_dict("records"), name=f"synthme/{layout}")
