"""CAS(ME)² (Qu et al., 2016/2017): ``load_casme_sq``. Format: ``DATASETS.md`` §4.2.

The frame layout (``rawpic/s15/15_0101disgustingteeth/img1.jpg``) is *unconfirmed*; the loader
follows it and the naming-rule sheets, and reports every clip whose folder it cannot find.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from ..._checks import check_option, renamed_keywords
from ...errors import DatasetFormatError
from ..aus import is_missing_value
from ..clip import ClipSet
from ._common import (
    IMAGE_EXT,
    ClipSpec,
    RowGuard,
    _listdir,
    assemble,
    check_root,
    find_child,
    find_label_file,
    no_rows_error,
    resolve_frames_root,
    spelling_problem,
)
from ._tables import (
    Workbook,
    _as_int,
    cell_text,
    headerless_table,
    is_blank,
    open_workbook,
)

__all__ = ["load_casme_sq", "CASME_SQ_FPS", "CASME_SQ_CODING_FILE"]

CASME_SQ_FPS = 30.0
CASME_SQ_CODING_FILE = "CAS(ME)^2code_final.xlsx"
_COLUMNS = ("subject", "clip", "onset", "apex", "offset", "aus", "emotion", "type", "self_report",
            "blank_j", "blank_k")
_VARIANTS = {"raw": ("rawpic",), "cropped": ("cropped",), "selected": ("selectedpic",)}
_FRAME = re.compile(rf"img(\d+)\.{IMAGE_EXT}", re.IGNORECASE)


def _naming_rules(book: Workbook) -> tuple[dict[int, tuple[str, int]] | None, dict[str, int]]:
    """``naming rule1``: the coding sheet's subject number -> (folder ``'s15'``, folder number
    15); ``naming rule2``: stimulus name (``'anger1'``, case-folded) -> video code (int,
    written ``%04d`` in folder names).

    rule1 rows hold the sheet's number (1..22), the folder prefix (``s15``..``s40``) and the
    folder's number; cells are matched by type, not position. A row without a number before
    the prefix is keyed by the folder number. No ``naming rule1`` sheet gives None (the
    subject column is then read as the folder number, ``s{n}``).
    """
    subj: dict[int, tuple[str, int]] | None = None
    stim: dict[str, int] = {}
    for name in book.sheet_names:
        key = re.sub(r"\s+", "", name).casefold()
        rows = book.sheets[name]
        if key == "namingrule1":
            subj = {}
            for values in rows:
                at = next((i for i, v in enumerate(values)
                           if isinstance(v, str) and re.fullmatch(r"s\d+", v.strip(), re.I)), None)
                if at is None:
                    continue
                prefix = str(values[at]).strip()
                folder_number = int(prefix[1:])
                before = [_as_int(v) for v in values[:at] if _as_int(v) is not None]
                subj[before[-1] if before else folder_number] = (prefix, folder_number)
        elif key == "namingrule2":
            for values in rows:
                code = _as_int(values[0]) if values else None
                text = next((str(v).strip() for v in values[1:] if isinstance(v, str) and v.strip()), None)
                if code is not None and text:
                    stim[text.casefold()] = code
    return subj, stim


@renamed_keywords(kind="expression_type")
def load_casme_sq(root: str | os.PathLike, *, expression_type: Literal["micro", "macro", "all"] = "micro",
                  frames: Literal["auto", "raw", "cropped", "selected"] = "auto",
                  labels: str | os.PathLike | None = None,
                  window: Literal["labelled", "all"] = "labelled",
                  missing: Literal["raise", "warn", "skip"] = "raise",
                  frames_dir: str | os.PathLike | None = None) -> ClipSet:
    """Load CAS(ME)² expressions (Part A, from the long videos' frames).

    Parameters
    ----------
    root : path-like
        The CAS(ME)² folder: ``CAS(ME)^2code_final.xlsx`` (also found as
        ``code_final.xlsx``) alongside ``rawpic/``, ``cropped/`` and/or ``selectedpic/``.
    expression_type : {'micro', 'macro', 'all'}, optional
        Which rows, by the type column (``micro-expression`` / ``macro-expression``); ``kind``
        is a deprecated alias.
    frames : {'auto', 'raw', 'cropped', 'selected'}, optional
        ``rawpic/``, ``cropped/`` or ``selectedpic/``, assumed to share the layout
        ``{sNN}/{NN}_{code:04d}<name>/img{N}.jpg`` (unconfirmed); 'auto' prefers raw.
    labels, window, missing, frames_dir
        As in :func:`~mxkit.data.load_casme2`. With ``window='all'`` a clip spans its whole
        long video.

    Returns
    -------
    ClipSet
        ``subject`` the folder ``'s15'``, ``clip_id`` the clip name (``'anger1_1'``), ``fps``
        30, ``emotion`` the category (positive/negative/surprise/others); ``meta`` holds
        ``expression_type``, ``self_reported_emotion``, ``video_code``, ``video_folder`` and
        ``subject_label`` (the sheet's number, 1..22).

    Notes
    -----
    Quirks handled (DATASETS.md §4.2 and the circulating copies): ``CASFEcode_final`` has
    **no header** and 11 columns, the last two empty (subject number, clip name, onset, apex,
    offset, AUs, emotion, type, self-reported emotion); a first row that looks like a header
    is skipped; extra sheets are ignored. The subject column holds **1..22** while the folders
    are ``s15``..``s40``: the mapping is read from ``naming rule1``, and the clip's folder is
    the one in ``{sNN}/`` whose name starts with ``{NN}_{code:04d}`` (``15_0102...``), the
    code coming from ``naming rule2`` for the clip's stimulus. **Offset 0 and apex 0 mean "not
    annotated"**: the sample is loaded with that frame unknown (apex None, an ``apex_missing``
    problem; an unknown offset ends the clip at its apex, an ``offset_missing`` problem). An
    AU cell ``NULL`` gives no AUs (an ``au_missing`` problem); the misspelled
    ``happyiness`` is kept as written (an ``emotion_spelling`` problem). A row that still
    cannot be read is an ``invalid_row`` problem; the others load.
    """
    check_option(expression_type, ("micro", "macro", "all"), "expression_type")
    root = check_root(root, "CAS(ME)²")
    path = find_label_file(root, labels, names=(CASME_SQ_CODING_FILE, "code_final.xlsx"),
                           patterns=("cas(me)*code*.xlsx", "cas(me)*code*.xls", "casme2*code_final*.xlsx",
                                     "cas(me)*code*.csv", "*code_final*.xlsx"),
                           what="CAS(ME)² coding")
    book = open_workbook(path)
    sheet = book.sheet(None, prefer=("CASFEcode_final",))
    table = headerless_table(book, sheet, _COLUMNS)
    subj_map, stim_map = _naming_rules(book)
    frames_root, variant = resolve_frames_root(root, _VARIANTS, frames, frames_dir,
                                               what="CAS(ME)²", subject_pattern=r"s\d+")
    rows = [(r, v) for r, v in table.rows if not is_blank(v)]
    if rows and _as_int(table.get(rows[0][1], "onset")) is None and _as_int(table.get(rows[0][1], "subject")) is None:
        rows = rows[1:]  # a header row in a user's copy
    specs, problems = [], []
    video_dirs: dict[Path, list[str]] = {}
    guard = RowGuard(table, "casme_sq", problems)
    for row, values in rows:
        with guard(row):
            width = len([v for v in values if v is not None])
            if len(values) < 8 or width < 7:
                raise table.error(row, None, "expected 9 columns (subject, clip, onset, apex, offset, "
                                  f"AUs, emotion, type, self-reported emotion); got {list(values)}")
            n = table.number_id(row, values, "subject", prefixes=("s",))
            if subj_map is None:
                subject, number = f"s{n}", n
            elif n in subj_map:
                subject, number = subj_map[n]
            else:
                raise table.error(row, "subject", f"subject {n} is not in the 'naming rule1' sheet "
                                  f"(it maps {sorted(subj_map)})")
            guard.name(subject)
            clip = table.name_cell(row, values, "clip")
            guard.name(subject, clip)
            typ = (table.text(row, values, "type", required=False) or "").casefold()
            if typ.startswith("micro"):
                etype = "micro"
            elif typ.startswith("macro"):
                etype = "macro"
            else:
                raise table.error(row, "type", "expected 'micro-expression' or 'macro-expression'; "
                                  f"got {table.get(values, 'type')!r}")
            if expression_type != "all" and etype != expression_type:
                continue
            onset, apex, offset, src = table.window(row, values, dataset="casme_sq", subject=subject,
                                                     clip_id=clip, problems=problems, zero_missing=True,
                                                     offset_fallback=("apex",))
            stimulus = clip.rsplit("_", 1)[0] if "_" in clip else clip
            code = stim_map.get(stimulus.casefold())
            sdir = find_child(frames_root, (subject,)) or frames_root / subject
            if sdir not in video_dirs:
                video_dirs[sdir] = [e for e in _listdir(sdir) if (sdir / e).is_dir()]
            folder = sdir / (f"{number}_{code:04d}" if code is not None else f"{number}_{stimulus}")
            if code is not None:
                hits = [e for e in video_dirs[sdir] if e.startswith(f"{number}_{code:04d}")
                        or e.startswith(f"{number:02d}_{code:04d}")]
                if hits:
                    folder = sdir / hits[0]
            meta = {"expression_type": etype, "frame_variant": variant, "stimulus": stimulus,
                    "subject_label": cell_text(table.get(values, "subject")).strip(),
                    "video_folder": folder.name}
            if code is not None:
                meta["video_code"] = f"{code:04d}"
            sr = table.text(row, values, "self_report", required=False)
            if sr:
                meta["self_reported_emotion"] = sr
            emotion = table.text(row, values, "emotion", required=False)
            for col, value in (("emotion", emotion), ("self_report", sr)):
                typo = spelling_problem(table, row, col, value, dataset="casme_sq", subject=subject,
                                        clip_id=clip)
                if typo:
                    problems.append(typo)
            raw_au = table.get(values, "aus")
            au_string = None if raw_au is None else cell_text(raw_au)
            if au_string is not None and is_missing_value(au_string):
                problems.append({"kind": "au_missing", "dataset": "casme_sq", "subject": subject,
                                 "clip_id": clip, **src, "column": table.letter("aus"),
                                 "detail": f"AU cell holds {au_string!r}: no AUs", "action": "kept"})
            specs.append(ClipSpec(
                dataset="casme_sq", subject=subject, clip_id=clip, fps=CASME_SQ_FPS, folder=folder,
                onset_frame=onset, offset_frame=offset, apex_frame=apex, frame_pattern=_FRAME,
                frame_name=lambda k: f"img{k}.jpg", au_string=au_string, emotion=emotion, meta=meta,
                source=src, apex_column=table.letter("apex"),
            ))
    if not specs:
        if guard.invalid:
            raise no_rows_error(table, problems)
        raise DatasetFormatError(f"{table.loc(None)}: no {expression_type}-expression rows")
    return assemble(specs, dataset="casme_sq", window=window, missing=missing,
                    problems=problems, name="casme_sq")
