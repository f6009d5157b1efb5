"""SMIC (Li et al., FG 2013): ``load_smic``. Format: ``DATASETS.md`` §4.1.

SMIC has no label spreadsheet: the emotion is the folder name and the clip runs from the first
to the last frame of its folder (there is no apex). SMIC-E (the long clips, for spotting)
comes with ``SMIC-HS-E_annotation.xlsx``; when that file is present it defines the clip
windows instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from ..._checks import check_option
from ..._io import display_path
from ...errors import DatasetFormatError
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
    scan_frames,
    warn_kinds,
)
from ._tables import Table, cell_text, locate_header, open_workbook

__all__ = ["load_smic", "SMIC_FPS", "SMIC_EMOTIONS", "smic_megc_names", "SMIC_E_ANNOTATION",
           "SMIC_E_PATTERNS"]

#: The SMIC-E annotation workbook (sheets ``HS``, ``VIS``, ``NIR``), and the names it is found
#: under when alone in the folder (``SMIC-HS-E_annotation_edited.xlsx``, ...).
SMIC_E_ANNOTATION = "SMIC-HS-E_annotation.xlsx"
SMIC_E_PATTERNS = ("smic*e_annotation*.xlsx", "smic*e_annotation*.xls", "smic*e_annotation*.csv")

#: Frame rates: HS 100 fps, VIS and NIR 25 fps (DATASETS.md §0, unconfirmed).
SMIC_FPS = {"HS": 100.0, "VIS": 25.0, "NIR": 25.0}
SMIC_EMOTIONS = ("negative", "positive", "surprise")

_FRAME = re.compile(rf"(?:reg_)?image(\d+)\.{IMAGE_EXT}", re.IGNORECASE)
_SUBJECT = re.compile(r"s(\d+)", re.IGNORECASE)
_CONTAINERS = {
    "raw": ("SMIC_all_raw", "SMIC", "SMIC_raw", "raw"),
    "cropped": ("SMIC_all_cropped", "SMIC_cropped", "cropped"),
}


def smic_megc_names(subject: str, clip_id: str) -> tuple[str, str]:
    """MEGC naming of a SMIC clip: ``('s1', 's1_ne_01')`` -> ``('s01', 's01_ne_01')``."""
    n = int(_SUBJECT.fullmatch(subject).group(1))
    rest = clip_id.split("_", 1)[1] if "_" in clip_id else clip_id
    return f"s{n:02d}", f"s{n:02d}_{rest}"


def _variant_dir(root: Path, variant: str, frames: str) -> tuple[Path, str]:
    """The folder holding ``s1``, ``s2``, ... for this variant, and its kind (raw/cropped)."""
    def has_subjects(p: Path | None) -> bool:
        return p is not None and any(_SUBJECT.fullmatch(e) and (p / e).is_dir() for e in _listdir(p))

    cropped_names = {c.casefold() for c in _CONTAINERS["cropped"]}
    root_kind = "cropped" if root.name.casefold() in cropped_names else "raw"
    cands: list[tuple[str, Path | None, str]] = [(root_kind, find_child(root, (variant,)), variant)]
    for kind, containers in _CONTAINERS.items():
        for c in containers:
            cont = find_child(root, (c,))
            cands.append((kind, None if cont is None else find_child(cont, (variant,)), f"{c}/{variant}"))
    if root.name.casefold() == variant.casefold():
        cands.append(("custom", root, "."))
    for kind, path, _ in cands:
        if frames != "auto" and kind not in (frames, "custom"):
            continue
        if has_subjects(path):
            return path, kind
    looked = [shown for kind, _, shown in cands if frames == "auto" or kind in (frames, "custom")]
    raise DatasetFormatError(
        f"no SMIC-{variant} subject folders (s1, s2, ...) under '{display_path(root)}': looked in {looked}; "
        f"the folder holds {_listdir(root)[:10]}"
    )


def load_smic(root: str | os.PathLike, *, variant: Literal["HS", "VIS", "NIR"] = "HS",
              frames: Literal["auto", "raw", "cropped"] = "auto",
              annotation: bool | Literal["auto"] | str | os.PathLike = "auto",
              window: Literal["labelled", "all"] = "labelled",
              missing: Literal["raise", "warn", "skip"] = "raise") -> ClipSet:
    """Load SMIC-HS, -VIS or -NIR micro-expression clips from the folder layout.

    Parameters
    ----------
    root : path-like
        The SMIC folder holding ``HS/`` (``VIS/``, ``NIR/``), or ``SMIC_all_raw/`` /
        ``SMIC_all_cropped/`` containing them, or a variant folder itself. Clips live in
        ``HS/s1/micro/negative/s1_ne_01/image059740.bmp`` (cropped:
        ``reg_image059740.bmp``); ``non_micro/`` folders are ignored.
    variant : {'HS', 'VIS', 'NIR'}, optional
        Camera: high-speed (100 fps), visual or near-infrared (25 fps).
    frames : {'auto', 'raw', 'cropped'}, optional
        Raw (``HS/`` or ``SMIC_all_raw/HS/``) or cropped (``SMIC_all_cropped/HS/``); 'auto'
        prefers raw. Not used with an annotation file.
    annotation : 'auto', bool or path-like, optional
        SMIC-E: ``'auto'`` (default) reads ``SMIC-HS-E_annotation*.xlsx`` when ``root`` holds
        one (sheet ``variant``), so that its windows define the clips; ``True`` requires it,
        ``False`` ignores it (whole folders), a path reads that file.
    window, missing : optional
        With an annotation, as in :func:`~mxkit.data.load_casme2` (``window='all'`` keeps the
        whole long clip); ignored without one.

    Returns
    -------
    ClipSet
        ``subject`` ``'s1'``, ``clip_id`` ``'s1_ne_01'``, ``emotion`` the folder name
        (negative/positive/surprise), ``apex`` None (use :attr:`Clip.apex_or_middle`),
        ``dataset`` ``'smic'`` with ``meta['variant']``; the MEGC names (``'s01'``,
        ``'s01_ne_01'``) are ``meta['megc_subject']`` / ``meta['megc_clip_id']``.

        With an annotation (SMIC-E): one clip per annotated window -- ``clip_id`` the
        ``Filename`` for the first window and ``'{Filename}_w2'``, ``'{Filename}_w3'`` for
        the second and third (``Onset2F``/``Offset2F``, ...); ``meta`` holds ``window_index``,
        ``first_frame`` / ``last_frame`` (``FirstF``/``LastF``) and ``subject_label``.

    Warns
    -----
    DatasetWarning
        A clip folder whose frame numbers skip values (the clip keeps the frames present).

    Notes
    -----
    SMIC-E quirks handled: most cells are formulas, some referring to another sheet (their
    cached values are read); subjects are plain numbers (``20`` -> ``'s20'``); frame numbers
    are absolute 8-digit numbers (``image17581039.jpg``); trailing rows without subject and
    file name are ignored; a window outside ``FirstF..LastF`` is reported
    (``window_outside_clip``, left out) and so is a row without ``LastF``
    (``last_frame_missing``, kept); any other unreadable row is an ``invalid_row``.
    """
    check_option(variant, tuple(SMIC_FPS), "variant")
    check_option(frames, ("auto", "raw", "cropped"), "frames")
    root = check_root(root, "SMIC")
    ann = _annotation_file(root, annotation)
    if ann is not None:
        return _load_smic_e(root, ann, variant=variant, window=window, missing=missing)
    vdir, kind = _variant_dir(root, variant, frames)
    specs = []
    problems: list[dict] = []
    for sname in _listdir(vdir):
        if not (_SUBJECT.fullmatch(sname) and (vdir / sname).is_dir()):
            continue
        sdir = vdir / sname
        subject = f"s{int(_SUBJECT.fullmatch(sname).group(1))}"
        micro = find_child(sdir, ("micro",))
        base = micro if micro is not None else sdir
        for emo in _listdir(base):
            if not (base / emo).is_dir():
                continue
            if emo.casefold() not in SMIC_EMOTIONS:
                problems.append({"kind": "unknown_folder", "dataset": "smic", "subject": subject,
                                 "clip_id": None, "file": str(base / emo), "sheet": None, "row": None,
                                 "column": None, "action": "skipped",
                                 "detail": f"folder '{display_path(base / emo)}' is not an emotion folder of "
                                           f"SMIC ({', '.join(sorted(SMIC_EMOTIONS))}): its clips are "
                                           "left out"})
                continue
            for clip_id in _listdir(base / emo):
                folder = base / emo / clip_id
                if not folder.is_dir():
                    continue
                index = scan_frames(folder, _FRAME)
                if not index:
                    raise DatasetFormatError(
                        f"SMIC clip folder '{display_path(folder)}' holds no frames named image<N>.bmp/.jpg"
                    )
                nums = list(index)
                msub, mclip = smic_megc_names(subject, clip_id)
                specs.append(ClipSpec(
                    dataset="smic", subject=subject, clip_id=clip_id, fps=SMIC_FPS[variant],
                    folder=folder, onset_frame=nums[0], offset_frame=nums[-1], apex_frame=None,
                    frame_pattern=_FRAME, frame_name=lambda k: f"image{k:06d}.bmp",
                    emotion=emo.lower(),
                    meta={"variant": variant, "frame_variant": kind, "megc_subject": msub,
                          "megc_clip_id": mclip, "subject_label": sname},
                    source={"file": str(folder)}, folder_defined=True, index=index,
                ))
    if not specs:
        raise DatasetFormatError(
            f"no SMIC-{variant} clips under '{display_path(vdir)}': expected s<N>/micro/<negative|positive|"
            "surprise>/<clip>/image<N>.bmp"
        )
    out = assemble(specs, dataset="smic", window="labelled", missing="raise", problems=problems,
                   name=f"smic-{variant.lower()}")
    warn_kinds(problems, "smic", {"unknown_folder": "folder(s) are not SMIC emotion folders (left out)"},
               stacklevel=2)
    return out


# ----------------------------------------------------------------------------- SMIC-E
_E_REQUIRED = {"subject": ("Subject",), "filename": ("Filename",), "onset": ("OnsetF",),
               "offset": ("OffsetF",)}
_E_OPTIONAL = {"onset2": ("Onset2F",), "offset2": ("Offset2F",), "onset3": ("Onset3F",),
               "offset3": ("Offset3F",), "first": ("FirstF",), "last": ("LastF",),
               "emotion": ("Emotion", "Estimated Emotion")}
_CLIP = re.compile(r"s\d+_(?:ne|po|sur)_\d+", re.IGNORECASE)
_CODES = {"ne": "negative", "po": "positive", "sur": "surprise"}


def _annotation_file(root: Path, annotation: bool | str | os.PathLike) -> Path | None:
    if annotation is False:
        return None
    if annotation in (True, "auto"):
        try:
            return find_label_file(root, None, names=(SMIC_E_ANNOTATION,), patterns=SMIC_E_PATTERNS,
                                   what="SMIC-E annotation")
        except DatasetFormatError:
            if annotation is True:
                raise
            return None
    return find_label_file(root, annotation, names=(), patterns=(), what="SMIC-E annotation")


def _clip_folders(root: Path, max_depth: int = 5) -> dict[str, list[Path]]:
    """``{clip name (lower case): [folders]}`` of folders named like ``s20_ne_01``."""
    out: dict[str, list[Path]] = {}
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        for name in _listdir(folder):
            p = folder / name
            if not p.is_dir():
                continue
            if _CLIP.fullmatch(name):
                out.setdefault(name.casefold(), []).append(p)
            elif depth < max_depth and not name.startswith("."):
                stack.append((p, depth + 1))
    return out


def _e_problem(table: Table, row: int, kind: str, subject: str, clip_id: str, column: str | None,
               detail: str, action: str) -> dict:
    return {"kind": kind, "dataset": "smic", "subject": subject, "clip_id": clip_id,
            **table.source(row), "column": column, "detail": detail, "action": action}


def _load_smic_e(root: Path, path: Path, *, variant: str, window: str, missing: str) -> ClipSet:
    book = open_workbook(path)
    if book.kind != "csv" and variant not in book.sheets:
        raise DatasetFormatError(f"{book.where(None)}: no sheet {variant!r} (variant={variant!r}); the "
                                 f"sheets are {book.sheet_names}")
    sheet = variant if book.kind != "csv" else book.sheet_names[0]
    table = locate_header(book, sheet, required=_E_REQUIRED, optional=_E_OPTIONAL, search_rows=10,
                          expected="SMIC-E's header is Subject | Filename | | OnsetF | OffsetF | "
                                   "Onset2F | Offset2F | Onset3F | Offset3F | | FirstF | LastF | ...")
    folders = _clip_folders(root)
    specs: list[ClipSpec] = []
    problems: list[dict] = []
    guard = RowGuard(table, "smic", problems)
    for row, values in table.rows:
        if table.get(values, "subject") is None and table.get(values, "filename") is None:
            continue  # the empty (formula-only) rows at the end of the sheet
        with guard(row):
            n = table.number_id(row, values, "subject", prefixes=("s",))
            subject = f"s{n}"
            guard.name(subject)
            filename = table.name_cell(row, values, "filename")
            guard.name(subject, filename)
            first = table.frame(row, values, "first", allow_missing=True) if table.has("first") else None
            last = table.frame(row, values, "last", allow_missing=True) if table.has("last") else None
            if last is None:
                problems.append(_e_problem(table, row, "last_frame_missing", subject, filename,
                                           table.letter("last") if table.has("last") else None,
                                           "LastF is empty: the windows are checked against the "
                                           "frames on disk only", "kept"))
            hits = sorted(folders.get(filename.casefold(), []),
                          key=lambda p: (variant.casefold() not in str(p).casefold(), str(p)))
            folder = hits[0] if hits else root / subject / filename
            index = scan_frames(folder, _FRAME) if folder.is_dir() else None
            ext = next(iter(index.values())).suffix if index else ".jpg"
            code = filename.split("_")[1].casefold() if filename.count("_") >= 2 else ""
            emotion = (table.text(row, values, "emotion", required=False) if table.has("emotion")
                       else None) or _CODES.get(code)
            msub, mclip = smic_megc_names(subject, filename) if _CLIP.fullmatch(filename) else (subject, filename)
            for k, (on_col, off_col) in enumerate((("onset", "offset"), ("onset2", "offset2"),
                                                   ("onset3", "offset3")), start=1):
                if not (table.has(on_col) and table.has(off_col)):
                    continue
                clip_id = filename if k == 1 else f"{filename}_w{k}"
                onset = table.frame(row, values, on_col, allow_missing=k > 1)
                offset = table.frame(row, values, off_col, allow_missing=k > 1)
                if onset is None and offset is None:
                    continue
                if onset is None or offset is None or onset > offset:
                    what = (f"window {k} has onset {onset} and offset {offset}" if onset is not None
                            and offset is not None else f"window {k} has only one of its frames")
                    problems.append(_e_problem(table, row, "invalid_row", subject, clip_id,
                                               table.letter(on_col), f"{what}: the window is left out",
                                               "skipped"))
                    continue
                lo = first if first is not None else onset
                hi = last if last is not None else offset
                if onset < lo or offset > hi:
                    problems.append(_e_problem(
                        table, row, "window_outside_clip", subject, clip_id, table.letter(on_col),
                        f"window {k} ({onset}..{offset}) lies outside FirstF..LastF ({first}..{last}): "
                        "the window is left out", "skipped"))
                    continue
                meta = {"variant": variant, "frame_variant": "smic-e", "megc_subject": msub,
                        "megc_clip_id": mclip if k == 1 else f"{mclip}_w{k}",
                        "subject_label": cell_text(table.get(values, "subject")).strip(),
                        "window_index": k, "first_frame": first, "last_frame": last}
                specs.append(ClipSpec(
                    dataset="smic", subject=subject, clip_id=clip_id, fps=SMIC_FPS[variant],
                    folder=folder, onset_frame=onset, offset_frame=offset, apex_frame=None,
                    frame_pattern=_FRAME, frame_name=lambda f, e=ext: f"image{f:06d}{e}",
                    emotion=emotion, meta=meta, source=table.source(row), index=index,
                ))
    if not specs:
        raise no_rows_error(table, problems, "annotated windows")
    return assemble(specs, dataset="smic", window=window, missing=missing, problems=problems,
                    name=f"smic-e-{variant.lower()}")
