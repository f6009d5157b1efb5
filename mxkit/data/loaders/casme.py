"""CASME (Yan et al., FG 2013): ``load_casme``. Format: ``DATASETS.md`` §3."""

from __future__ import annotations

import os
import re
from typing import Literal

from ...errors import DatasetFormatError
from ..clip import ClipSet
from ._common import (
    IMAGE_EXT,
    ClipSpec,
    assemble,
    check_root,
    find_child,
    find_label_file,
    resolve_frames_root,
    scan_frames,
)
from ._tables import cell_text, is_blank, locate_header, open_workbook

__all__ = ["load_casme", "CASME_FPS", "CASME_CODING_FILE"]

CASME_FPS = 60.0
CASME_CODING_FILE = "CASME-coded-20190721.xls"

_VARIANTS = {
    "cropped": ("Cropped",),
    "raw": ("CASME_raw_selected", "CASME_RAW_selected", "CASME_raw", "CASME_RAW"),
}
# "{material}-{frame}.jpg" / "reg_{material}-{frame}.jpg"; the frame may be zero-padded
_PATTERNS = {
    "cropped": re.compile(rf"reg_.+-(\d+)\.{IMAGE_EXT}", re.IGNORECASE),
    "raw": re.compile(rf"(?!reg_).+-(\d+)\.{IMAGE_EXT}", re.IGNORECASE),
    "custom": re.compile(rf".+-(\d+)\.{IMAGE_EXT}", re.IGNORECASE),
}
_REQUIRED = {
    "subject": ("Subject",),
    "filename": ("Filename",),
    "onset": ("OnsetF", "OnsetFrame", "Onset Frame"),
    "apex": ("ApexF1", "ApexF", "ApexFrame"),
    "offset": ("OffsetF", "OffsetFrame", "Offset Frame"),
    "aus": ("AU", "Action Units", "AUs"),
    "emotion": ("Emotion", "Estimated Emotion"),
}
_OPTIONAL = {"apex2": ("ApexF2",), "onset_ms": ("Onset",), "total_ms": ("Total",)}


def load_casme(root: str | os.PathLike, *, frames: Literal["auto", "cropped", "raw"] = "auto",
               labels: str | os.PathLike | None = None, sheet: str | None = None,
               window: Literal["labelled", "all"] = "labelled",
               missing: Literal["raise", "warn", "skip"] = "raise",
               frames_dir: str | os.PathLike | None = None) -> ClipSet:
    """Load CASME (2013) from a local copy.

    Parameters
    ----------
    root : path-like
        The CASME folder: ``CASME-coded-20190721.xls`` (legacy Excel, read with xlrd; meb's
        ``casme.xlsx`` rename is found too) and ``CASME_raw_selected/`` and/or ``Cropped/``.
    frames : {'auto', 'cropped', 'raw'}, optional
        ``Cropped/sub01/EP01_12/reg_EP01_12-73.jpg`` or
        ``CASME_raw_selected/sub01/EP01_12/EP01_12-73.jpg``; 'auto' prefers cropped.
    labels, sheet, window, missing, frames_dir
        As in :func:`~mxkit.data.load_casme2`.

    Returns
    -------
    ClipSet
        ``subject`` ``'sub01'`` (the sheet holds the int 1), ``fps`` 60, ``apex`` = ``ApexF1``
        (first frame of the apex phase); ``meta['apex2_frame']`` = ``ApexF2`` when given;
        ``meta['zero_padded']`` says whether the clip's files use 3-digit zero-padded frame
        numbers (Section B releases do).

    Notes
    -----
    Quirks handled (DATASETS.md §3): empty columns C and H; ``ApexF2`` empty or ``\\``;
    ``Onset``/``Total`` durations in ms (kept in meta, not trusted); frame numbers un-padded
    for the first samples and zero-padded to 3 digits afterwards (files are globbed and
    parsed, so both forms are found).
    """
    root = check_root(root, "CASME")
    path = find_label_file(root, labels, names=(CASME_CODING_FILE, "casme.xlsx"),
                           patterns=("casme-coded*.xls", "casme-coded*.xlsx", "casme-coded*.csv"),
                           what="CASME coding")
    book = open_workbook(path)
    sheet_name = book.sheet(sheet, prefer=("Sheet1",))
    table = locate_header(book, sheet_name, required=_REQUIRED, optional=_OPTIONAL,
                          expected="CASME's header is Subject | Filename | | OnsetF | ApexF1 | "
                                   "ApexF2 | OffsetF | | Onset | Total | AU | Emotion")
    frames_root, variant = resolve_frames_root(root, _VARIANTS, frames, frames_dir, what="CASME",
                                               subject_pattern=r"sub\d+")
    pattern = _PATTERNS.get(variant, _PATTERNS["custom"])
    prefix = "reg_" if variant == "cropped" else ""
    specs, problems = [], []
    subject_dirs: dict = {}
    for row, values in table.rows:
        if is_blank(values):
            continue
        n = table.number_id(row, values, "subject", prefixes=("sub",))
        subject = f"sub{n:02d}"
        filename = table.text(row, values, "filename")
        onset, apex, offset, src = table.window(row, values, dataset="casme", subject=subject,
                                                 clip_id=filename, problems=problems)
        meta: dict = {"subject_label": cell_text(table.get(values, "subject")).strip(),
                      "frame_variant": variant}
        if table.has("apex2"):
            a2 = table.frame(row, values, "apex2", allow_missing=True)
            if a2 is not None:
                meta["apex2_frame"] = a2
        for key in ("onset_ms", "total_ms"):
            v = table.get(values, key) if table.has(key) else None
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                meta[f"{key}_label"] = float(v)
        if subject not in subject_dirs:
            subject_dirs[subject] = find_child(frames_root, (subject,)) or frames_root / subject
        folder = subject_dirs[subject] / filename
        index = scan_frames(folder, pattern) if folder.is_dir() else None
        padded = None
        if index:
            names = [p.name for p in index.values()]
            padded = any(re.search(r"-0\d+\.", nm) for nm in names)
            meta["zero_padded"] = padded

        def name(k: int, f=filename, pad=padded, pre=prefix) -> str:
            return f"{pre}{f}-{k:03d}.jpg" if pad else f"{pre}{f}-{k}.jpg"

        raw_au = table.get(values, "aus")
        specs.append(ClipSpec(
            dataset="casme", subject=subject, clip_id=filename, fps=CASME_FPS, folder=folder,
            onset_frame=onset, offset_frame=offset, apex_frame=apex, frame_pattern=pattern,
            frame_name=name, au_string=None if raw_au is None else cell_text(raw_au),
            emotion=table.text(row, values, "emotion", required=False), meta=meta, source=src,
            apex_column=table.letter("apex"), index=index,
        ))
    if not specs:
        raise DatasetFormatError(f"{table.loc(None)}: the coding sheet has no data rows")
    return assemble(specs, dataset="casme", window=window, missing=missing, problems=problems,
                    name="casme")
