"""SAMM (Davison et al., IEEE TAFFC 2018): ``load_samm``. Format: ``DATASETS.md`` §2."""

from __future__ import annotations

import os
import re
from typing import Literal

from ...errors import DatasetFormatError
from ..clip import ClipSet
from ._common import (
    IMAGE_EXT,
    ClipSpec,
    RowGuard,
    assemble,
    check_root,
    find_child,
    find_label_file,
    no_rows_error,
    resolve_frames_root,
)
from ._tables import cell_text, is_blank, locate_header, open_workbook
from .casme2 import parse_objective_class

__all__ = ["load_samm", "SAMM_FPS", "SAMM_CODING_FILE", "SAMM_CODING_PATTERNS"]

SAMM_FPS = 200.0
SAMM_CODING_FILE = "SAMM_Micro_FACS_Codes_v2.xlsx"
#: Other names of the coding file, found when only one is present (case-insensitive):
#: ``SAMM_20181215_Micro_FACS_Codes_v2.xlsx`` and the like.
SAMM_CODING_PATTERNS = ("samm*micro*facs*codes*.xlsx", "samm*micro*facs*codes*.xls",
                        "samm*micro*facs*codes*.csv")

_REQUIRED = {
    "subject": ("Subject",),
    "filename": ("Filename",),
    "onset": ("Onset Frame", "OnsetFrame", "Onset"),
    "apex": ("Apex Frame", "ApexFrame", "Apex"),
    "offset": ("Offset Frame", "OffsetFrame", "Offset"),
    "aus": ("Action Units", "AU", "AUs"),
    "emotion": ("Estimated Emotion", "Emotion"),
}
_OPTIONAL = {
    "inducement": ("Inducement Code",),
    "duration": ("Duration",),
    "micro": ("Micro", "Type"),
    "objective": ("Objective Classes", "Objective Class"),
    "notes": ("Notes",),
}
_FRAME = re.compile(rf"\d+_(\d+)\.{IMAGE_EXT}", re.IGNORECASE)


def load_samm(root: str | os.PathLike, *, labels: str | os.PathLike | None = None,
              sheet: str | None = None, window: Literal["labelled", "all"] = "labelled",
              missing: Literal["raise", "warn", "skip"] = "raise",
              frames_dir: str | os.PathLike | None = None) -> ClipSet:
    """Load SAMM (micro-expressions) from a local copy in the official layout.

    Parameters
    ----------
    root : path-like
        The SAMM folder: ``SAMM_Micro_FACS_Codes_v2.xlsx`` next to the subject folders
        ``006/006_1_2/006_05562.jpg`` (``{sss}_{frame:05d}.jpg``).
    labels : path-like, optional
        Another coding file (a corrected copy, a CSV export); default: the v2 file, else the
        only file matching ``SAMM*Micro*FACS*Codes*`` (:data:`SAMM_CODING_PATTERNS`, e.g.
        ``SAMM_20181215_Micro_FACS_Codes_v2.xlsx``).
    sheet : str, optional
        Default ``MICRO_ONLY`` (or the only sheet).
    window, missing
        As in :func:`~mxkit.data.load_casme2`.
    frames_dir : path-like, optional
        Folder holding the ``006``-style subject folders when it is not ``root`` (e.g. a
        user's ``SAMM_CROP``).

    Returns
    -------
    ClipSet
        ``subject`` is the 3-digit folder name ``'006'``, ``clip_id`` the ``Filename``, ``fps``
        200; ``meta`` keeps ``inducement_code``, ``notes``, ``micro`` and the sheet's cached
        ``duration_label`` (the duration is never trusted: use ``offset - onset + 1``).

    Warns
    -----
    DatasetWarning
        Rows whose apex lies outside onset..offset (028_4_1 and 032_3_1 in the v2 file): the
        clip is kept with ``apex=None`` and the sheet value in ``meta['apex_frame_label']``.

    Notes
    -----
    Quirks handled (DATASETS.md §2.3): the 13 note rows before the header (the header row is
    found: row 14 in one version, row 1 in another); ``Duration`` as a formula (its cached
    value is kept, never trusted);
    ``Subject`` text ``'006'`` or int 6; column ``Micro`` (there is no ``Type``); the rich AU
    vocabulary (intensity letters, ``A``/``T``/``B`` prefixes, ``ref(...)``, ``or`` and ``/``
    alternatives, free text, stray spaces); capitalised emotions with ``Other``.
    """
    root = check_root(root, "SAMM")
    path = find_label_file(root, labels, names=(SAMM_CODING_FILE,),
                           patterns=SAMM_CODING_PATTERNS, what="SAMM coding")
    book = open_workbook(path)
    if sheet is None and "MICRO_ONLY" not in book.sheets and len(book.sheets) > 1 and book.kind != "csv":
        raise DatasetFormatError(
            f"{book.where(None)}: no sheet 'MICRO_ONLY'; the sheets are {book.sheet_names} "
            "(pass sheet=<name>)"
        )
    sheet_name = book.sheet(sheet, prefer=("MICRO_ONLY",))
    table = locate_header(book, sheet_name, required=_REQUIRED, optional=_OPTIONAL, search_rows=40,
                          expected="SAMM's header row (row 14 of MICRO_ONLY) starts Subject | "
                                   "Filename | Inducement Code | Onset Frame | Apex Frame | ...")
    frames_root, _ = resolve_frames_root(root, {"root": ("",)}, "auto", frames_dir or root,
                                         what="SAMM", subject_pattern=r"\d{3}")
    specs, problems = [], []
    subject_dirs: dict[str, os.PathLike] = {}
    guard = RowGuard(table, "samm", problems)
    for row, values in table.rows:
        if is_blank(values):
            continue
        with guard(row):
            n = table.number_id(row, values, "subject")
            subject = f"{n:03d}"
            guard.name(subject)
            filename = table.name_cell(row, values, "filename")
            guard.name(subject, filename)
            onset, apex, offset, src = table.window(row, values, dataset="samm", subject=subject,
                                                     clip_id=filename, problems=problems)
            meta = {"subject_label": cell_text(table.get(values, "subject")).strip()}
            if table.has("inducement"):
                meta["inducement_code"] = table.int_or_none(row, values, "inducement",
                                                            what="an inducement code (an integer)")
            dur = table.get(values, "duration")
            if isinstance(dur, (int, float)) and not isinstance(dur, bool):
                meta["duration_label"] = dur
            for key in ("micro", "notes"):
                if table.has(key):
                    t = table.text(row, values, key, required=False)
                    if t:
                        meta[key] = t
            oc = None
            if table.has("objective"):
                try:
                    oc = parse_objective_class(table.get(values, "objective"))
                except ValueError as exc:
                    raise table.error(row, "objective", str(exc)) from None
            raw_au = table.get(values, "aus")
            if subject not in subject_dirs:
                subject_dirs[subject] = find_child(frames_root, (subject, str(n))) or frames_root / subject
            specs.append(ClipSpec(
                dataset="samm", subject=subject, clip_id=filename, fps=SAMM_FPS,
                folder=subject_dirs[subject] / filename, onset_frame=onset, offset_frame=offset,
                apex_frame=apex, frame_pattern=_FRAME,
                frame_name=lambda k, s=subject: f"{s}_{k:05d}.jpg",
                au_string=None if raw_au is None else cell_text(raw_au),
                emotion=table.text(row, values, "emotion", required=False), objective_class=oc,
                meta=meta, source=src, apex_column=table.letter("apex"),
            ))
    if not specs:
        raise no_rows_error(table, problems)
    return assemble(specs, dataset="samm", window=window, missing=missing, problems=problems,
                    name="samm")
