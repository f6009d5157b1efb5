"""MMEW (Ben et al., TPAMI 2021): ``load_mmew``. Format: ``DATASETS.md`` §4.4."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from ..._io import name_problem
from ..clip import ClipSet
from ._common import (
    IMAGE_EXT,
    ClipSpec,
    RowGuard,
    _listdir,
    assemble,
    check_root,
    find_label_file,
    no_rows_error,
)
from ._tables import cell_text, is_blank, locate_header, open_workbook

__all__ = ["load_mmew", "MMEW_FPS", "MMEW_CODING_FILE"]

MMEW_FPS = 90.0  # DATASETS.md §4.4 (unconfirmed)
MMEW_CODING_FILE = "MMEW_Micro_Exp.xlsx"

_SAMPLE = re.compile(r"S\d+-\d+-\d+", re.IGNORECASE)
_FRAME = re.compile(rf"(\d+)\.{IMAGE_EXT}", re.IGNORECASE)
_REQUIRED = {
    "subject": ("Subject",),
    "filename": ("Filename",),
    "onset": ("OnsetFrame", "Onset Frame"),
    "apex": ("ApexFrame", "Apex Frame"),
    "offset": ("OffsetFrame", "Offset Frame"),
    "aus": ("Action Units", "AU", "AUs"),
    "emotion": ("Estimated Emotion", "Emotion"),
}
_OPTIONAL = {"remarks": ("remarks", "Remark", "Notes")}


def _index_sample_folders(root: Path, max_depth: int = 4) -> dict[str, list[Path]]:
    """``{sample name (upper case): [folders]}`` for every folder named like ``S01-01-001``.

    Walks at most ``max_depth`` levels and never descends into a sample folder, so both the
    official ``S03/happiness/S03-01-002/`` and the ``Micro_Expression/happiness/S03-01-002/``
    layouts are found without listing frames.
    """
    out: dict[str, list[Path]] = {}
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        for name in _listdir(folder):
            p = folder / name
            if not p.is_dir():
                continue
            if _SAMPLE.fullmatch(name):
                out.setdefault(name.upper(), []).append(p)
            elif depth < max_depth and not name.startswith("."):
                stack.append((p, depth + 1))
    return out


def load_mmew(root: str | os.PathLike, *, labels: str | os.PathLike | None = None,
              sheet: str | None = None, window: Literal["labelled", "all"] = "labelled",
              missing: Literal["raise", "warn", "skip"] = "raise") -> ClipSet:
    """Load the micro-expressions of MMEW.

    Parameters
    ----------
    root : path-like
        The MMEW folder: ``MMEW_Micro_Exp.xlsx`` and the frames in either layout,
        ``S03/happiness/S03-01-002/1.jpg`` (official page) or
        ``Micro_Expression/happiness/S03-01-002/1.jpg`` (loaders seen in code). Sample folders
        are found by name anywhere up to 4 levels below ``root``.
    labels, sheet, window, missing
        As in :func:`~mxkit.data.load_casme2`.

    Returns
    -------
    ClipSet
        ``subject`` ``'S01'`` (the sheet's int 1), ``clip_id`` ``'S01-01-001'``, ``fps`` 90
        (unconfirmed); ``OnsetFrame`` is 1 because clips are pre-trimmed; ``remarks`` in meta.
        When a sample folder exists twice (both layouts unpacked), the one under a
        ``Micro_Expression`` folder is used and the other listed in ``meta['duplicate_folders']``.
    """
    root = check_root(root, "MMEW")
    path = find_label_file(root, labels, names=(MMEW_CODING_FILE,),
                           patterns=("mmew_micro_exp*.xlsx", "mmew_micro_exp*.xls",
                                     "mmew_micro_exp*.csv"), what="MMEW label")
    book = open_workbook(path)
    sheet_name = book.sheet(sheet)
    table = locate_header(book, sheet_name, required=_REQUIRED, optional=_OPTIONAL,
                          expected="MMEW's header is Subject | Filename | OnsetFrame | ApexFrame | "
                                   "OffsetFrame | Action Units | Estimated Emotion | remarks")
    folders = _index_sample_folders(root)
    specs, problems = [], []
    guard = RowGuard(table, "mmew", problems)
    for row, values in table.rows:
        if is_blank(values):
            continue
        with guard(row):
            n = table.number_id(row, values, "subject", prefixes=("S",))
            subject = f"S{n:02d}"
            guard.name(subject)
            filename = table.name_cell(row, values, "filename")
            guard.name(subject, filename)
            onset, apex, offset, src = table.window(row, values, dataset="mmew", subject=subject,
                                                     clip_id=filename, problems=problems)
            emotion = table.text(row, values, "emotion", required=False)
            meta: dict = {"subject_label": cell_text(table.get(values, "subject")).strip()}
            remarks = table.text(row, values, "remarks", required=False) if table.has("remarks") else None
            if remarks:
                meta["remarks"] = remarks
            hits = sorted(folders.get(filename.upper(), []),
                          key=lambda p: (not any("micro" in part.casefold() for part in p.parts), str(p)))
            if hits:
                folder = hits[0]
                if len(hits) > 1:
                    meta["duplicate_folders"] = [str(p) for p in hits[1:]]
            else:  # where the official layout would put it (reported as missing)
                folder = root / subject / (emotion if emotion and name_problem(emotion) is None
                                           else "unknown") / filename
            raw_au = table.get(values, "aus")
            specs.append(ClipSpec(
                dataset="mmew", subject=subject, clip_id=filename, fps=MMEW_FPS, folder=folder,
                onset_frame=onset, offset_frame=offset, apex_frame=apex, frame_pattern=_FRAME,
                frame_name=lambda k: f"{k}.jpg", au_string=None if raw_au is None else cell_text(raw_au),
                emotion=emotion, meta=meta, source=src, apex_column=table.letter("apex"),
            ))
    if not specs:
        raise no_rows_error(table, problems)
    return assemble(specs, dataset="mmew", window=window, missing=missing, problems=problems,
                    name="mmew")
