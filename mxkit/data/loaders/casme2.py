"""CASME II (Yan et al., PLoS ONE 2014): ``load_casme2``. Format: ``DATASETS.md`` §1."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from ..._io import display_path
from ...errors import DatasetFormatError
from ..aus import MISSING_TOKENS
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
from ._tables import Table, cell_text, is_blank, locate_header, open_workbook

__all__ = ["load_casme2", "CASME2_FPS", "CASME2_CODING_FILE", "CASME2_OBJECTIVE_FILE",
           "read_objective_classes", "parse_objective_class"]

CASME2_FPS = 200.0
CASME2_CODING_FILE = "CASME2-coding-20140508.xlsx"
CASME2_OBJECTIVE_FILE = "CASME2-ObjectiveClasses.xlsx"

_VARIANTS = {
    "cropped": ("Cropped", "Cropped_original"),
    "raw": ("CASME2_RAW_selected", "CASME2-RAW", "CASME2_RAW", "CASME2-RAW-selected"),
}
_PATTERNS = {
    "cropped": re.compile(rf"reg_img(\d+)\.{IMAGE_EXT}", re.IGNORECASE),
    "raw": re.compile(rf"img(\d+)\.{IMAGE_EXT}", re.IGNORECASE),
    "custom": re.compile(rf"(?:reg_)?img(\d+)\.{IMAGE_EXT}", re.IGNORECASE),
}
_PREFIX = {"cropped": "reg_img", "raw": "img", "custom": "img"}

_REQUIRED = {
    "subject": ("Subject",),
    "filename": ("Filename", "File name"),
    "onset": ("OnsetFrame", "Onset Frame"),
    "apex": ("ApexFrame", "Apex Frame"),
    "offset": ("OffsetFrame", "Offset Frame"),
    "aus": ("Action Units", "AU", "AUs"),
    "emotion": ("Estimated Emotion", "Emotion"),
}
_OPTIONAL = {"objective": ("Objective Classes", "Objective Class")}

_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7}


def parse_objective_class(value: object) -> int | None:
    """Objective class as 1..7 from ``3``, ``3.0``, ``'3'`` or ``'III'``; None if empty.

    Raises ``ValueError`` (caught by callers and re-raised with the cell location).
    """
    if value is None or (isinstance(value, str) and value.strip().casefold() in MISSING_TOKENS):
        return None
    text = cell_text(value).strip()
    n = _ROMAN.get(text.upper()) if not text.isdigit() else int(text)
    if n is None or not 1 <= n <= 7:
        raise ValueError(f"expected an objective class 1..7 or I..VII; got {value!r}")
    return n


def read_objective_classes(path: Path, *, subject_prefixes: tuple[str, ...] = ("sub",)) -> dict[tuple[int, str], int]:
    """Read ``CASME2-ObjectiveClasses.xlsx`` (``Sheet1``: Subject | Filename | Objective Class)
    into ``{(subject_number, filename): class}``; ``Sheet2`` scratch rows are ignored."""
    book = open_workbook(path)
    sheet = book.sheet(prefer=("Sheet1",))
    table = locate_header(book, sheet, required={
        "subject": ("Subject",), "filename": ("Filename",),
        "objective": ("Objective Class", "Objective Classes")})
    out: dict[tuple[int, str], int] = {}
    for row, values in table.rows:
        if is_blank(values):
            continue
        n = table.number_id(row, values, "subject", prefixes=subject_prefixes)
        fn = table.text(row, values, "filename")
        oc = _objective(table, row, values)
        if oc is not None:
            out[(n, fn)] = oc
    return out


def _objective(table: Table, row: int, values: tuple) -> int | None:
    try:
        return parse_objective_class(table.get(values, "objective"))
    except ValueError as exc:
        raise table.error(row, "objective", str(exc)) from None


def _resolve_objective(root: Path, objective_classes: bool | str | os.PathLike) -> Path | None:
    if objective_classes is False:
        return None
    if objective_classes in (True, "auto"):
        p = find_child(root, (CASME2_OBJECTIVE_FILE,), dirs=False)
        if p is None and objective_classes is True:
            raise DatasetFormatError(
                f"no '{CASME2_OBJECTIVE_FILE}' in '{display_path(root)}' (objective_classes=True)"
            )
        return p
    p = Path(objective_classes).expanduser()
    if not p.is_absolute() and not p.exists():
        p = root / p
    if not p.is_file():
        raise DatasetFormatError(f"objective-classes file '{display_path(p)}' does not exist")
    return p


def load_casme2(root: str | os.PathLike, *, frames: Literal["auto", "cropped", "raw"] = "auto",
                labels: str | os.PathLike | None = None, sheet: str | None = None,
                objective_classes: bool | Literal["auto"] | str | os.PathLike = "auto",
                window: Literal["labelled", "all"] = "labelled",
                missing: Literal["raise", "warn", "skip"] = "raise",
                frames_dir: str | os.PathLike | None = None) -> ClipSet:
    """Load CASME II from a local copy in the official layout.

    Parameters
    ----------
    root : path-like
        The CASME II folder, holding ``CASME2-coding-20140508.xlsx`` and ``Cropped/`` and/or
        ``CASME2_RAW_selected/`` (also ``Cropped_original/``, ``CASME2-RAW/``, ``CASME2_RAW/``).
    frames : {'auto', 'cropped', 'raw'}, optional
        Which frames: ``Cropped/subNN/<Filename>/reg_img{N}.jpg`` or the raw 640x480
        ``CASME2_RAW_selected/subNN/<Filename>/img{N}.jpg``. 'auto' takes cropped when present,
        else raw; the choice is in ``clip.meta['frame_variant']``.
    labels : path-like, optional
        Another coding file (e.g. ``CASME2-coding-updated.xlsx``, a CSV export); default: the
        2014-05-08 file, else the only ``*CASME2*coding*`` file in ``root``.
    sheet : str, optional
        Sheet to read (default ``Sheet1``, else the first sheet).
    objective_classes : 'auto', bool or path-like, optional
        Join ``CASME2-ObjectiveClasses.xlsx`` (MEGC2018 classes 1..7) into
        ``clip.objective_class``: 'auto' if the file is present, True to require it, False to
        skip, or a path. A 10th ``Objective Classes`` column of the coding file takes precedence.
    window : {'labelled', 'all'}, optional
        'labelled' (default): frames onset..offset; 'all': every frame of the sample folder
        (baseline frames before and after included), with onset/apex/offset indexing into them.
    missing : {'raise', 'warn', 'skip'}, optional
        Frames named by the labels but absent on disk: raise :class:`MissingFramesError`
        listing them (default), keep the clips with a warning, or leave the clips out with a
        warning. Either way they are rows of ``clipset.problems``.
    frames_dir : path-like, optional
        Folder holding the ``subNN`` folders, when it is not inside ``root``.

    Returns
    -------
    ClipSet
        One clip per data row, in sheet order; ``subject`` is the folder name ``'sub01'``
        (the sheet value ``'01'`` is ``meta['subject_label']``), ``clip_id`` the ``Filename``,
        ``fps`` 200. An apex of ``/`` gives ``apex=None`` (listed as ``apex_missing``).

    Raises
    ------
    DatasetFormatError
        Missing folder or coding file, wrong header, missing column, a non-numeric frame
        number, onset after offset... (names file, sheet, row and column).
    MissingFramesError
        Frames missing on disk with ``missing='raise'``.

    Notes
    -----
    Quirks handled (DATASETS.md §1.3): empty columns C and G; ``Subject`` stored as text
    ``'01'`` or as a number; ``ApexFrame`` ``'/'``; ``Action Units`` as int or str (``'?'``
    for unknown); irregular file names (``EP06_02_01``); the same ``Filename`` under several
    subjects (the key is ``(subject, clip_id)``); stray non-image files in sample folders;
    un-padded frame numbers in file names.
    """
    root = check_root(root, "CASME II")
    path = find_label_file(root, labels, names=(CASME2_CODING_FILE,),
                           patterns=("*casme2*coding*.xlsx", "*casme2*coding*.xls",
                                     "*casme2*coding*.csv", "*casme*ii*coding*.xlsx"),
                           what="CASME II coding")
    book = open_workbook(path)
    sheet_name = book.sheet(sheet, prefer=("Sheet1",))
    table = locate_header(book, sheet_name, required=_REQUIRED, optional=_OPTIONAL,
                          expected="the CASME II coding sheet has Subject | Filename | | OnsetFrame "
                                   "| ApexFrame | OffsetFrame | | Action Units | Estimated Emotion")
    frames_root, variant = resolve_frames_root(root, _VARIANTS, frames, frames_dir,
                                               what="CASME II", subject_pattern=r"sub\d+")
    pattern = _PATTERNS[variant if variant in _PATTERNS else "custom"]
    prefix = _PREFIX.get(variant, "img")
    obj_path = None if table.has("objective") else _resolve_objective(root, objective_classes)
    objective = read_objective_classes(obj_path) if obj_path is not None else {}
    specs, problems = _specs_from_table(table, frames_root, pattern, prefix, variant, objective,
                                        obj_path)
    if not specs:
        raise no_rows_error(table, problems)
    return assemble(specs, dataset="casme2", window=window, missing=missing, problems=problems,
                    name="casme2")


def _specs_from_table(table: Table, frames_root: Path, pattern: re.Pattern[str], prefix: str,
                      variant: str, objective: dict[tuple[int, str], int],
                      obj_path: Path | None) -> tuple[list[ClipSpec], list[dict]]:
    specs: list[ClipSpec] = []
    problems: list[dict] = []
    subject_dirs: dict[str, Path] = {}
    guard = RowGuard(table, "casme2", problems)
    for row, values in table.rows:
        if is_blank(values):
            continue
        with guard(row):
            n = table.number_id(row, values, "subject", prefixes=("sub",))
            subject = f"sub{n:02d}"
            guard.name(subject)
            filename = table.name_cell(row, values, "filename")
            guard.name(subject, filename)
            onset, apex, offset, src = table.window(row, values, dataset="casme2", subject=subject,
                                                     clip_id=filename, problems=problems)
            raw_au = table.get(values, "aus")
            au_string = None if raw_au is None else cell_text(raw_au)
            oc = _objective(table, row, values) if table.has("objective") else objective.get((n, filename))
            meta = {"subject_label": f"{n:02d}", "frame_variant": variant}
            if obj_path is not None and (n, filename) in objective:
                meta["objective_file"] = str(obj_path)
            if subject not in subject_dirs:
                subject_dirs[subject] = find_child(frames_root, (subject,)) or frames_root / subject
            specs.append(ClipSpec(
                dataset="casme2", subject=subject, clip_id=filename, fps=CASME2_FPS,
                folder=subject_dirs[subject] / filename, onset_frame=onset, offset_frame=offset,
                apex_frame=apex, frame_pattern=pattern, frame_name=lambda k, p=prefix: f"{p}{k}.jpg",
                au_string=au_string, emotion=table.text(row, values, "emotion", required=False),
                objective_class=oc, meta=meta, source=src, apex_column=table.letter("apex"),
            ))
    return specs, problems


