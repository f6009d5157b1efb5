"""CASME (Yan et al., FG 2013): ``load_casme``. Format: ``DATASETS.md`` §3."""

from __future__ import annotations

import os
import re
from pathlib import Path
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
    scan_frames,
    spelling_problem,
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


def _label_files(root: Path, labels: str | os.PathLike | None) -> list[tuple[Path, str | None]]:
    """The coding file(s): ``labels``, the official name, the only ``CASME-coded*`` file, else
    ``Section A.xls`` / ``Section B.xls`` (both read, in that order). Returns (path, section)."""
    if labels is not None:
        return [(find_label_file(root, labels, names=(), patterns=(), what="CASME coding"), None)]
    try:
        return [(find_label_file(root, None, names=(CASME_CODING_FILE, "casme.xlsx"),
                                 patterns=("casme-coded*.xls", "casme-coded*.xlsx", "casme-coded*.csv"),
                                 what="CASME coding"), None)]
    except DatasetFormatError as exc:
        if "several candidate" in str(exc):
            raise
        sections = sorted((p for p in root.iterdir() if p.is_file()
                           and re.fullmatch(r"section\s*([ab])\.(xls|xlsx|csv)", p.name, re.IGNORECASE)),
                          key=lambda p: p.name.casefold())
        if not sections:
            raise DatasetFormatError(f"{exc} (nor 'Section A.xls' / 'Section B.xls')") from None
        return [(p, re.fullmatch(r"section\s*([ab])\..*", p.name, re.IGNORECASE).group(1).upper())
                for p in sections]


def load_casme(root: str | os.PathLike, *, frames: Literal["auto", "cropped", "raw"] = "auto",
               labels: str | os.PathLike | None = None, sheet: str | None = None,
               window: Literal["labelled", "all"] = "labelled",
               missing: Literal["raise", "warn", "skip"] = "raise",
               frames_dir: str | os.PathLike | None = None) -> ClipSet:
    """Load CASME (2013) from a local copy.

    Parameters
    ----------
    root : path-like
        The CASME folder: the coding file -- ``CASME-coded-20190721.xls`` (legacy Excel, read
        with xlrd), meb's ``casme.xlsx`` rename, another ``CASME-coded-*`` file, or the two
        files ``Section A.xls`` and ``Section B.xls`` (both are read) -- and
        ``CASME_raw_selected/`` and/or ``Cropped/``.
    frames : {'auto', 'cropped', 'raw'}, optional
        ``Cropped/sub01/EP01_12/reg_EP01_12-73.jpg`` or
        ``CASME_raw_selected/sub01/EP01_12/EP01_12-73.jpg``; 'auto' prefers cropped.
    labels, sheet, window, missing, frames_dir
        As in :func:`~mxkit.data.load_casme2`.

    Returns
    -------
    ClipSet
        ``subject`` ``'sub01'`` (the sheet holds the number 1 or 1.0), ``fps`` 60, ``apex`` =
        ``ApexF1`` (first frame of the apex phase); ``meta['apex2_frame']`` = ``ApexF2`` when
        given; ``meta['zero_padded']`` says whether the clip's files use 3-digit zero-padded
        frame numbers (Section B releases do); ``meta['section']`` is ``'A'`` / ``'B'`` when
        read from a section file.

    Notes
    -----
    Quirks handled (DATASETS.md §3): empty columns C and H; ``\\`` (or empty) for a missing
    value: a missing ``ApexF2`` means a one-frame apex, a missing ``OffsetF`` keeps the clip,
    ending at its last annotated apex frame (an ``offset_missing`` problem); text such as
    ``remake`` in a frame column makes that row an ``invalid_row`` problem (the others load);
    ``Onset``/``Total`` are durations in fractional ms, kept in meta and never used; clips
    with several records are all kept and reported (``duplicate_key``, naming both rows); the
    misspelled emotion ``comtempt`` is kept as written and reported (``emotion_spelling``);
    frame numbers un-padded for the first samples and zero-padded to 3 digits afterwards
    (files are globbed and parsed, so both forms are found).
    """
    root = check_root(root, "CASME")
    files = _label_files(root, labels)
    frames_root, variant = resolve_frames_root(root, _VARIANTS, frames, frames_dir, what="CASME",
                                               subject_pattern=r"sub\d+")
    pattern = _PATTERNS.get(variant, _PATTERNS["custom"])
    prefix = "reg_" if variant == "cropped" else ""
    specs, problems = [], []
    subject_dirs: dict = {}
    tables = []
    for path, section in files:
        book = open_workbook(path)
        sheet_name = book.sheet(sheet, prefer=("Sheet1",))
        table = locate_header(book, sheet_name, required=_REQUIRED, optional=_OPTIONAL,
                              expected="CASME's header is Subject | Filename | | OnsetF | ApexF1 | "
                                       "ApexF2 | OffsetF | | Onset | Total | AU | Emotion")
        tables.append(table)
        guard = RowGuard(table, "casme", problems)
        for row, values in table.rows:
            if is_blank(values):
                continue
            with guard(row):
                n = table.number_id(row, values, "subject", prefixes=("sub",))
                subject = f"sub{n:02d}"
                guard.name(subject)
                filename = table.name_cell(row, values, "filename")
                guard.name(subject, filename)
                a2 = table.frame(row, values, "apex2", allow_missing=True) if table.has("apex2") else None
                onset, apex, offset, src = table.window(row, values, dataset="casme", subject=subject,
                                                         clip_id=filename, problems=problems,
                                                         offset_fallback=("apex", "apex2"))
                meta: dict = {"subject_label": cell_text(table.get(values, "subject")).strip(),
                              "frame_variant": variant}
                if section is not None:
                    meta["section"] = section
                if a2 is not None:
                    meta["apex2_frame"] = a2
                for key in ("onset_ms", "total_ms"):
                    v = table.get(values, key) if table.has(key) else None
                    if isinstance(v, (int, float)) and not isinstance(v, bool):
                        meta[f"{key}_label"] = float(v)
                emotion = table.text(row, values, "emotion", required=False)
                typo = spelling_problem(table, row, "emotion", emotion, dataset="casme",
                                        subject=subject, clip_id=filename)
                if typo:
                    problems.append(typo)
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
                    emotion=emotion, meta=meta, source=src, apex_column=table.letter("apex"),
                    index=index,
                ))
    if not specs:
        raise no_rows_error(tables[0], problems)
    return assemble(specs, dataset="casme", window=window, missing=missing, problems=problems,
                    name="casme")
