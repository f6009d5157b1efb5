"""Clips, datasets, class protocols and layout writers.

* :class:`Clip` / :class:`ClipSet`: labelled samples with lazily read frames, LOSO splits and
  tidy tables.
* Loaders of the real datasets from a user's local copy (formats in ``DATASETS.md``):
  :func:`load_casme2`, :func:`load_casme`, :func:`load_samm`, :func:`load_casme_sq`,
  :func:`load_casme3` (with depth), :func:`load_smic` (SMIC-E with its annotation),
  :func:`load_mmew`, :func:`load_ckplus` and the composite :func:`load_megc2019`;
  :func:`load_dataset` picks the loader by name (:data:`DATASET_LOADERS`). Every row that
  cannot be read is reported in ``clipset.problems`` and never aborts the load.
* Long videos for spotting: :class:`LongVideo` / :class:`LongVideoSet` (whole videos with
  their annotated intervals), from :func:`load_samm_lv` and :func:`load_casme3_videos`.
* :mod:`~mxkit.data.aus`: AU strings in every notation the coding files use.
* :mod:`~mxkit.data.protocols`: class mappings with their exclusions and a card for results.
* :mod:`~mxkit.data.writers`: the CASME II / SAMM / CK+ layouts and the long-video layouts
  (SAMM Long Videos, CAS(ME)² and CAS(ME)³ with depth), for synthetic data and tests.
* :mod:`~mxkit.data.synth`: SynthME, the embedded synthetic dataset with 3D ground truth
  (:func:`make_dataset`, :func:`load_synthme`, :class:`SynthTruth`, :data:`PRESETS`), also
  with real photo texture (``appearance="photo"``) from the photos of
  :func:`load_photo_faces` (:data:`PHOTO_SPLIT`: which train, which evaluate).

Importing this package is light (OpenCV, pandas and openpyxl are imported when used).
"""

from .aus import AU, AUParse, format_au, format_aus, parse_au_string, parse_aus
from .clip import BAD_FRAME_POLICIES, CheckedFrames, Clip, ClipSet, read_depth, read_image
from .loaders import (
    DATASET_LOADERS,
    load_casme,
    load_casme2,
    load_casme3,
    load_casme3_videos,
    load_casme_sq,
    load_ckplus,
    load_dataset,
    load_megc2019,
    load_mmew,
    load_samm,
    load_samm_lv,
    load_smic,
    read_megc2019_gt,
)
from .longvideo import INTERVAL_COLUMNS, LongVideo, LongVideoSet
from .photos import PHOTO_SPLIT, PhotoRecord, load_photo_faces
from .problems import PROBLEM_COLUMNS, DatasetWarning, MissingFramesError
from .protocols import (
    CASME2_5CLASS,
    CASME3_3CLASS,
    CASME3_4CLASS,
    CASME3_7CLASS,
    MEGC2019_3CLASS,
    OBJECTIVE_5CLASS,
    OBJECTIVE_7CLASS,
    PROTOCOLS,
    Protocol,
    get_protocol,
)
from .synth import PRESETS, SynthTruth, load_synthme, make_dataset
from .writers import (
    ClipRecord,
    LongVideoRecord,
    write_casme2,
    write_ckplus,
    write_long_videos,
    write_samm,
)

__all__ = [
    "AU", "AUParse", "parse_aus", "parse_au_string", "format_au", "format_aus",
    "Clip", "ClipSet", "CheckedFrames", "BAD_FRAME_POLICIES", "read_image", "read_depth",
    "load_casme2", "load_casme", "load_samm", "load_casme_sq", "load_smic", "load_mmew",
    "load_ckplus", "load_megc2019", "read_megc2019_gt", "load_dataset", "DATASET_LOADERS",
    "load_casme3", "load_casme3_videos", "load_samm_lv", "LongVideo", "LongVideoSet",
    "INTERVAL_COLUMNS",
    "DatasetWarning", "MissingFramesError", "PROBLEM_COLUMNS",
    "Protocol", "PROTOCOLS", "get_protocol", "CASME2_5CLASS", "OBJECTIVE_5CLASS",
    "OBJECTIVE_7CLASS", "MEGC2019_3CLASS", "CASME3_3CLASS", "CASME3_4CLASS", "CASME3_7CLASS",
    "ClipRecord", "write_casme2", "write_samm", "write_ckplus", "LongVideoRecord",
    "write_long_videos",
    "make_dataset", "load_synthme", "SynthTruth", "PRESETS",
    "load_photo_faces", "PhotoRecord", "PHOTO_SPLIT",
]
