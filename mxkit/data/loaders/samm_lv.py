"""SAMM Long Videos (spotting; Yap et al. 2020, MEGC2019-2021): :func:`load_samm_lv`.

Layout::

    SAMM_LV/                                any name
    ├── SAMM_LongVideos_V2_Release.xlsx     sheet FACS_Movement_Only (V1 and V3 found too)
    └── SAMM_longvideos/
        └── 006_1/006_1_0001.jpg            {video}_{frame:04d}.jpg (wider when the video is longer)

The label sheet has a note block above the header (a merged note cell saying that an apex not
annotated is written -1); the header row is searched. Columns: ``Subject | Filename |
Inducement Code | Onset | Apex | Offset | Duration | Type | Action Units | Notes`` (no
emotion). ``Filename`` ``006_1_1`` is the expression; its video is ``006_1``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from ..._io import display_path
from ...errors import DatasetFormatError
from ._common import (
    IMAGE_EXT,
    RowGuard,
    VideoSpec,
    _listdir,
    assemble_videos,
    check_root,
    find_child,
    find_label_file,
    no_rows_error,
)
from ._tables import cell_text, is_blank, locate_header, open_workbook

__all__ = ["load_samm_lv", "SAMM_LV_FPS", "SAMM_LV_CODING_FILE", "SAMM_LV_PATTERNS",
           "SAMM_LV_NOTE"]

#: Frame rate of SAMM Long Videos.
SAMM_LV_FPS = 200.0
#: The label file of the second release.
SAMM_LV_CODING_FILE = "SAMM_LongVideos_V2_Release.xlsx"
#: Other releases, found when alone in the folder (V1, V3, ...).
SAMM_LV_PATTERNS = ("samm_longvideos*.xlsx", "samm_longvideos*.xls", "samm_longvideos*.csv")
#: The merged note above the header (its wording in the fixtures and SynthME's layout).
SAMM_LV_NOTE = "Note: apex not annotated = -1"

_REQUIRED = {
    "subject": ("Subject",), "filename": ("Filename",), "onset": ("Onset", "Onset Frame"),
    "apex": ("Apex", "Apex Frame"), "offset": ("Offset", "Offset Frame"),
    "type": ("Type", "Expression type"),
}
_OPTIONAL = {"inducement": ("Inducement Code",), "duration": ("Duration",),
             "aus": ("Action Units", "AU", "AUs"), "notes": ("Notes",)}
_VIDEO = re.compile(r"\d{3}_\d+")


def _videos_root(root: Path, frames_dir: str | os.PathLike | None) -> Path:
    if frames_dir is not None:
        p = Path(frames_dir).expanduser()
        if not p.is_absolute() and not p.exists():
            p = root / p
        if not p.is_dir():
            raise DatasetFormatError(f"SAMM Long Videos frames folder '{display_path(p)}' (frames_dir=) does not exist")
        return p
    found = find_child(root, ("SAMM_longvideos", "SAMM_LongVideos", "longvideos"))
    if found is not None:
        nested = find_child(found, (found.name,))
        return nested if nested is not None and not any(_VIDEO.fullmatch(e) for e in _listdir(found)) else found
    return root


def load_samm_lv(root: str | os.PathLike, *, labels: str | os.PathLike | None = None,
                 sheet: str | None = None, missing: Literal["raise", "warn", "skip"] = "raise",
                 frames_dir: str | os.PathLike | None = None):  # noqa: ANN201 - LongVideoSet
    """Load SAMM Long Videos: whole videos with their annotated micro/macro intervals.

    Parameters
    ----------
    root : path-like
        The folder holding ``SAMM_LongVideos_V2_Release.xlsx`` (or the only
        ``SAMM_LongVideos*`` file) and ``SAMM_longvideos/``.
    labels : path-like, optional
        Another label file.
    sheet : str, optional
        Default ``FACS_Movement_Only`` (else the first sheet).
    missing : {'raise', 'warn', 'skip'}, optional
        A labelled video without frames on disk: raise :class:`MissingFramesError`, or leave
        it out (reported either way).
    frames_dir : path-like, optional
        The folder holding the ``006_1`` video folders, when it is not ``SAMM_longvideos/``.

    Returns
    -------
    LongVideoSet
        One :class:`~mxkit.data.LongVideo` per video folder (``dataset`` ``'samm_lv'``,
        ``subject`` ``'006'``, ``video_id`` ``'006_1'``, every frame, 200 fps), videos without
        labels included (no intervals). Interval rows: ``expression_id`` = ``Filename``,
        ``expression_type`` ``'micro'`` / ``'macro'`` from ``Type``, frame numbers, AUs,
        notes; ``emotion`` is None (the release has none).

    Notes
    -----
    Quirks handled: the note block above the header (header row searched; row 10 in V2);
    **apex -1** = not annotated (``apex_frame`` ``<NA>``, an ``apex_missing`` problem); frame
    numbers stored as floats such as ``566.4000000000001`` are rounded to the nearest integer
    and reported (``fractional_frame``) when more than 1e-6 away from it; ``Subject`` as a
    number (``6`` -> ``'006'``); a ``Type`` that is neither micro nor macro, or a row that
    cannot be read, is an ``invalid_row`` (the others load); an interval reaching past its
    video's frames is kept and reported (``interval_outside_video``).
    """
    root = check_root(root, "SAMM Long Videos")
    path = find_label_file(root, labels, names=(SAMM_LV_CODING_FILE,), patterns=SAMM_LV_PATTERNS,
                           what="SAMM Long Videos label")
    book = open_workbook(path)
    sheet_name = book.sheet(sheet, prefer=("FACS_Movement_Only",))
    table = locate_header(book, sheet_name, required=_REQUIRED, optional=_OPTIONAL, search_rows=30,
                          expected="SAMM Long Videos' header is Subject | Filename | Inducement Code | "
                                   "Onset | Apex | Offset | Duration | Type | Action Units | Notes")
    vroot = _videos_root(root, frames_dir)
    problems: list[dict] = []
    videos: dict[str, VideoSpec] = {}
    for name in _listdir(vroot):
        if _VIDEO.fullmatch(name) and (vroot / name).is_dir():
            videos[name] = _spec(vroot, name)
    guard = RowGuard(table, "samm_lv", problems)
    for row, values in table.rows:
        if is_blank(values):
            continue
        with guard(row):
            n = table.number_id(row, values, "subject")
            subject = f"{n:03d}"
            guard.name(subject)
            eid = table.name_cell(row, values, "filename")
            guard.name(subject, eid)
            parts = eid.split("_")
            if len(parts) < 3 or not all(p.isdigit() for p in parts[:2]):
                raise table.error(row, "filename", f"expected a name like '006_1_1' ({{subject}}_"
                                  f"{{video}}_{{n}}); got {eid!r}")
            video = f"{int(parts[0]):03d}_{parts[1]}"
            t = (table.text(row, values, "type", required=False) or "").casefold()
            etype = "micro" if t.startswith("micro") else "macro" if t.startswith("macro") else None
            if etype is None:
                raise table.error(row, "type", f"expected 'Micro - 1/2' or 'Macro'; got "
                                  f"{table.get(values, 'type')!r}")
            src = table.source(row)
            frames = {}
            for key in ("onset", "apex", "offset"):
                f, raw = table.frame_rounded(row, values, key, allow_missing=key == "apex",
                                             missing_values=(-1,) if key == "apex" else ())
                frames[key] = f
                if raw is not None:
                    problems.append({"kind": "fractional_frame", "dataset": "samm_lv",
                                     "subject": subject, "clip_id": eid, **src,
                                     "column": table.letter(key),
                                     "detail": f"{key} frame {raw!r} is not an integer: rounded to {f}",
                                     "action": "kept"})
            if frames["apex"] is None:
                problems.append({"kind": "apex_missing", "dataset": "samm_lv", "subject": subject,
                                 "clip_id": eid, **src, "column": table.letter("apex"),
                                 "detail": f"apex cell holds {table.get(values, 'apex')!r}: not "
                                           "annotated (None)", "action": "kept"})
            if frames["onset"] > frames["offset"]:
                raise table.error(row, "onset", f"onset frame {frames['onset']} is after offset "
                                  f"frame {frames['offset']}")
            if video not in videos:
                videos[video] = _spec(vroot, video)
            taken = [r for r in videos[video].intervals if r["expression_id"] == eid]
            if taken:
                first = taken[0]
                eid = f"{eid}_{len([r for r in videos[video].intervals if r['expression_id'].startswith(eid)]) + 1}"
                problems.append({"kind": "duplicate_key", "dataset": "samm_lv", "subject": subject,
                                 "clip_id": eid, **src, "column": table.letter("filename"),
                                 "detail": f"{first['expression_id']} also appears at row {first['row']}; "
                                           f"this row is kept as {eid!r}", "action": "kept"})
            raw_au = table.get(values, "aus")
            videos[video].intervals.append({
                "expression_id": eid, "expression_type": etype, "onset_frame": frames["onset"],
                "apex_frame": frames["apex"], "offset_frame": frames["offset"],
                "au_string": None if raw_au is None else cell_text(raw_au), "emotion": None,
                "notes": table.text(row, values, "notes", required=False) if table.has("notes") else None,
                **src})
    if not any(v.intervals for v in videos.values()):
        raise no_rows_error(table, problems)
    return assemble_videos(sorted(videos.values(), key=lambda v: v.video_id), dataset="samm_lv",
                           missing=missing, problems=problems, name="samm_lv")


def _spec(vroot: Path, video: str) -> VideoSpec:
    return VideoSpec(dataset="samm_lv", subject=video.split("_")[0], video_id=video, fps=SAMM_LV_FPS,
                     folder=vroot / video,
                     frame_pattern=re.compile(rf"{re.escape(video)}_(\d+)\.{IMAGE_EXT}", re.IGNORECASE))
