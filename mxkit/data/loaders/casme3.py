"""CAS(ME)³ (Li et al., TPAMI 2022): :func:`load_casme3` (clips, with depth) and
:func:`load_casme3_videos` (Part A long videos with their macro- and micro-expression
intervals, for spotting). Format: ``DATASETS.md`` §4.3.

Layout (Part A)::

    part_A/                                 any name; the subject folders may be nested deeper
    ├── cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx     MEs (sheet 'label'; v1 is an .xls)
    ├── CAS(ME)3_part_A_v2.xls                        macro + micro list (sheet 'AU+Emotion')
    └── spNO.1/a/color/{frame}.jpg                    colour frames of video a
                  depth/{frame}.png                   aligned depth maps, 16-bit PNG

The depth unit is taken to be millimetres (``depth_unit_mm=1.0``; unconfirmed on a real copy,
pass another value if yours differs). Part C (``CAS(ME)3_part_C_ME.xlsx``: sub, count, onset,
offset, au, emotion; no apex) is read with ``part='C'``; its frame layout
``{sub}/color/{frame}.jpg`` is *unconfirmed* (``frames_dir=`` points elsewhere).
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
    VideoSpec,
    _listdir,
    assemble,
    assemble_videos,
    check_root,
    existing_frames,
    find_label_file,
    no_rows_error,
)
from ._tables import Table, cell_text, is_blank, locate_header, open_workbook
from .casme2 import parse_objective_class

__all__ = ["load_casme3", "load_casme3_videos", "CASME3_FPS", "CASME3_ME_LABELS",
           "CASME3_PART_A_LIST", "CASME3_PART_C_LABELS", "CASME3_EMOTIONS"]

#: Frame rate of CAS(ME)³'s colour and depth streams.
CASME3_FPS = 30.0
#: Part A micro-expression labels (v2 ``.xlsx``; v1 is ``..._v1.xls`` with two blank-headed
#: extra columns).
CASME3_ME_LABELS = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
#: Part A list of every macro- and micro-expression (``Expression type`` column; spotting).
CASME3_PART_A_LIST = "CAS(ME)3_part_A_v2.xls"
#: Part C micro-expression labels.
CASME3_PART_C_LABELS = "CAS(ME)3_part_C_ME.xlsx"
#: Emotion labels of the Part A ME file (``Others`` is also written capitalised).
CASME3_EMOTIONS = ("disgust", "surprise", "others", "fear", "anger", "sad", "happy")

_ME_PATTERNS = ("cas(me)3_part_a_me_label*.xlsx", "cas(me)3_part_a_me_label*.xls",
                "cas(me)3_part_a_me_label*.csv", "casme3_part_a_me_label*.xlsx")
_LIST_PATTERNS = ("cas(me)3_part_a_v*.xls", "cas(me)3_part_a_v*.xlsx", "cas(me)3_part_a_v*.csv")
_C_PATTERNS = ("cas(me)3_part_c*.xlsx", "cas(me)3_part_c*.xls", "cas(me)3_part_c*.csv")
_SUBJECT = re.compile(r"spNO\.\d+", re.IGNORECASE)
_COLOR = re.compile(rf"(\d+)\.{IMAGE_EXT}", re.IGNORECASE)
_DEPTH = re.compile(r"(\d+)\.(?:png|tif|tiff)", re.IGNORECASE)

_A_REQUIRED = {"subject": ("Subject",), "filename": ("Filename",), "onset": ("Onset", "OnsetFrame"),
               "apex": ("Apex", "ApexFrame"), "offset": ("Offset", "OffsetFrame")}
_A_OPTIONAL = {"aus": ("AU", "AUs", "Action Units"), "objective": ("Objective class", "Objective classes"),
               "emotion": ("emotion", "Estimated Emotion"), "type": ("Expression type", "Type")}
_C_REQUIRED = {"subject": ("sub", "Subject"), "count": ("count",), "onset": ("onset",),
               "offset": ("offset",)}
_C_OPTIONAL = {"aus": ("au", "AU"), "emotion": ("emotion",)}


def _find_container(root: Path, is_child: re.Pattern[str] | set[str], max_depth: int = 4) -> Path:
    """The first folder (breadth first, at most ``max_depth`` below ``root``) with a child
    folder whose name matches ``is_child``; ``root`` when there is none."""
    level = [root]
    for _ in range(max_depth + 1):
        nxt = []
        for folder in level:
            names = [n for n in _listdir(folder) if (folder / n).is_dir()]
            hit = any((n in is_child) if isinstance(is_child, set) else is_child.fullmatch(n)
                      for n in names)
            if hit:
                return folder
            nxt.extend(folder / n for n in names if not n.startswith("."))
        level = nxt
    return root


def _expression_type(table: Table, row: int, values: tuple) -> str | None:
    if not table.has("type"):
        return None
    t = (table.text(row, values, "type", required=False) or "").casefold()
    if t.startswith("micro"):
        return "micro"
    if t.startswith("macro"):
        return "macro"
    raise table.error(row, "type", "expected 'Micro-expression' or 'Macro-expression'; got "
                      f"{table.get(values, 'type')!r}")


def _objective(table: Table, row: int, values: tuple) -> int | None:
    if not table.has("objective"):
        return None
    try:
        return parse_objective_class(table.get(values, "objective"))
    except ValueError as exc:
        raise table.error(row, "objective", str(exc)) from None


def _part_a_table(root: Path, labels: str | os.PathLike | None, expression_type: str) -> Table:
    """The Part A sheet to read: the ME labels for micro-expressions (else the list)."""
    if labels is not None:
        path = find_label_file(root, labels, names=(), patterns=(), what="CAS(ME)³ label")
    else:
        path = None
        if expression_type == "micro":
            try:
                path = find_label_file(root, None, names=(CASME3_ME_LABELS,), patterns=_ME_PATTERNS,
                                       what="CAS(ME)³ Part A ME label")
            except DatasetFormatError as exc:
                if "several candidate" in str(exc):
                    raise
        if path is None:
            try:
                path = find_label_file(root, None, names=(CASME3_PART_A_LIST,), patterns=_LIST_PATTERNS,
                                       what="CAS(ME)³ Part A expression list")
            except DatasetFormatError as exc:
                if "several candidate" in str(exc):
                    raise
                raise DatasetFormatError(
                    f"no CAS(ME)³ Part A label file in '{display_path(root)}': expected {CASME3_ME_LABELS!r} "
                    f"(micro-expressions) or {CASME3_PART_A_LIST!r} (macro + micro); pass labels=<file>"
                ) from None
    book = open_workbook(path)
    sheet = book.sheet(None, prefer=("label", "AU+Emotion", "Sheet1"))
    return locate_header(book, sheet, required=_A_REQUIRED, optional=_A_OPTIONAL, search_rows=5,
                         expected="CAS(ME)³ Part A's header is Subject | Filename | Onset | Apex | "
                                  "Offset | AU | Objective class | emotion (ME labels) or ... | "
                                  "Expression type | Objective class (the list)")


def load_casme3(root: str | os.PathLike, *, part: Literal["A", "C"] = "A",
                expression_type: Literal["micro", "macro", "all"] = "micro",
                labels: str | os.PathLike | None = None, depth: bool = True,
                depth_unit_mm: float = 1.0, window: Literal["labelled", "all"] = "labelled",
                missing: Literal["raise", "warn", "skip"] = "raise",
                frames_dir: str | os.PathLike | None = None) -> ClipSet:
    """Load CAS(ME)³ expressions as clips, with their aligned depth maps.

    Parameters
    ----------
    root : path-like
        The Part A (or Part C) folder: the label file(s) and the subject folders
        ``spNO.1/a/color/175.jpg`` + ``spNO.1/a/depth/175.png`` (found up to 4 levels down,
        e.g. under ``data/part_A_split/part_A/``).
    part : {'A', 'C'}, optional
        Part A (the lab recordings) or Part C (mock crime; no apex, no objective class).
    expression_type : {'micro', 'macro', 'all'}, optional
        Part A: ``'micro'`` reads ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx`` (or v1
        ``.xls``; emotion and objective class), falling back to the micro rows of
        ``CAS(ME)3_part_A_v2.xls``; ``'macro'`` and ``'all'`` read that list (no emotion).
        Part C has micro-expressions only.
    labels : path-like, optional
        Another label file (absolute, or relative to ``root``).
    depth : bool, optional
        Attach the depth maps (``clip.depth``; :meth:`Clip.load_depth` gives mm).
    depth_unit_mm : float, optional
        Millimetres per stored depth unit (default 1.0: the PNGs hold mm; unconfirmed).
    window : {'labelled', 'all'}, optional
        Frames onset..offset, or the whole long video.
    missing : {'raise', 'warn', 'skip'}, optional
        Colour frames named by the labels but absent (see :func:`~mxkit.data.load_casme2`);
        missing depth maps are always kept and reported (``missing_depth``).
    frames_dir : path-like, optional
        Folder holding the subject folders when it is not found under ``root``.

    Returns
    -------
    ClipSet
        ``dataset`` ``'casme3'``, ``subject`` ``'spNO.1'``, ``clip_id`` ``'{Filename}_{onset}'``
        (``'b_175'``: one video holds several expressions), ``fps`` 30, ``emotion`` as
        written (``'Others'`` kept capitalised: protocols compare case-folded),
        ``objective_class`` 1..7 from the Roman numeral; ``meta`` holds ``video``
        (``Filename``), ``expression_type``, ``part``. Part C: ``clip_id`` ``'{count}'``.

    Notes
    -----
    Quirks handled: every number stored as text (``'175'``); Roman numeral objective classes;
    the v1 file's two blank-headed extra columns; ``Others`` capitalised in some rows; **0 in
    the apex or offset means "not annotated"**: an unknown apex gives ``apex=None``
    (``apex_missing``), an unknown offset ends the clip at the apex (``offset_missing``), a row
    with neither (``0/0``) is an ``invalid_row``; rows whose onset is after the apex keep the
    clip with ``apex=None`` (``apex_outside_window``); Part C's comma-separated AUs
    (``R4,5``, also the full-width ``，``).
    """
    check_option(part, ("A", "C"), "part")
    check_option(expression_type, ("micro", "macro", "all"), "expression_type")
    check_option(window, ("labelled", "all"), "window")
    root = check_root(root, "CAS(ME)³")
    if part == "C" and expression_type != "micro":
        raise DatasetFormatError("CAS(ME)³ Part C has micro-expression labels only (expression_type='micro')")
    if part == "A":
        table = _part_a_table(root, labels, expression_type)
    else:
        path = find_label_file(root, labels, names=(CASME3_PART_C_LABELS,), patterns=_C_PATTERNS,
                               what="CAS(ME)³ Part C label")
        book = open_workbook(path)
        table = locate_header(book, book.sheet(None), required=_C_REQUIRED, optional=_C_OPTIONAL,
                              search_rows=5, expected="CAS(ME)³ Part C's header is sub | count | "
                                                      "onset | offset | au | emotion")
    frames_root = _frames_root(root, frames_dir, table, part)
    specs: list[ClipSpec] = []
    problems: list[dict] = []
    guard = RowGuard(table, "casme3", problems)
    for row, values in table.rows:
        if is_blank(values):
            continue
        with guard(row):
            spec = (_part_a_spec if part == "A" else _part_c_spec)(
                table, row, values, guard, problems, frames_root, expression_type, depth,
                depth_unit_mm, window)
            if spec is not None:
                specs.append(spec)
    if not specs:
        raise no_rows_error(table, problems, f"{expression_type}-expression rows")
    return assemble(specs, dataset="casme3", window=window, missing=missing, problems=problems,
                    name=f"casme3-{part}")


def _frames_root(root: Path, frames_dir: str | os.PathLike | None, table: Table, part: str) -> Path:
    if frames_dir is not None:
        p = Path(frames_dir).expanduser()
        if not p.is_absolute() and not p.exists():
            p = root / p
        if not p.is_dir():
            raise DatasetFormatError(f"CAS(ME)³ frames folder '{display_path(p)}' (frames_dir=) does not exist")
        return p
    if part == "A":
        return _find_container(root, _SUBJECT)
    subjects = {cell_text(table.get(v, "subject")).strip() for _, v in table.rows
                if table.get(v, "subject") is not None}
    return _find_container(root, subjects)


def _clip_spec(*, subject: str, clip_id: str, video_dir: Path, onset: int, apex: int | None,
               offset: int, au, emotion, objective, meta, src, apex_column, depth: bool,
               depth_unit_mm: float, window: str) -> ClipSpec:
    color = video_dir / "color"
    name = lambda k: f"{k}.jpg"  # noqa: E731 - the frame-name rule of the layout
    index = None
    if window == "labelled":  # thousands of frames per video: check only the labelled ones
        index = existing_frames(color, range(onset, offset + 1), name) if color.is_dir() else None
    kw = {}
    if depth:
        d = video_dir / "depth"
        kw = {"depth_folder": d, "depth_pattern": _DEPTH, "depth_name": lambda k: f"{k}.png",
              "depth_unit_mm": depth_unit_mm}
        if window == "labelled":
            kw["depth_index"] = existing_frames(d, range(onset, offset + 1), lambda k: f"{k}.png")
    return ClipSpec(dataset="casme3", subject=subject, clip_id=clip_id, fps=CASME3_FPS, folder=color,
                    onset_frame=onset, offset_frame=offset, apex_frame=apex, frame_pattern=_COLOR,
                    frame_name=name, au_string=None if au is None else cell_text(au),
                    emotion=emotion, objective_class=objective, meta=meta, source=src,
                    apex_column=apex_column, index=index, **kw)


def _part_a_spec(table: Table, row: int, values: tuple, guard: RowGuard, problems: list[dict],
                 frames_root: Path, expression_type: str, depth: bool, depth_unit_mm: float,
                 window: str) -> ClipSpec | None:
    subject = table.name_cell(row, values, "subject")
    guard.name(subject)
    video = table.name_cell(row, values, "filename")
    etype = _expression_type(table, row, values) or "micro"
    if expression_type != "all" and etype != expression_type:
        return None
    onset = table.frame(row, values, "onset")
    clip_id = f"{video}_{onset}"
    guard.name(subject, clip_id)
    onset, apex, offset, src = table.window(row, values, dataset="casme3", subject=subject,
                                             clip_id=clip_id, problems=problems, zero_missing=True,
                                             offset_fallback=("apex",))
    emotion = table.text(row, values, "emotion", required=False) if table.has("emotion") else None
    meta = {"video": video, "expression_type": etype, "part": "A"}
    return _clip_spec(subject=subject, clip_id=clip_id, video_dir=frames_root / subject / video,
                      onset=onset, apex=apex, offset=offset, au=table.get(values, "aus"),
                      emotion=emotion, objective=_objective(table, row, values), meta=meta, src=src,
                      apex_column=table.letter("apex"), depth=depth, depth_unit_mm=depth_unit_mm,
                      window=window)


def _part_c_spec(table: Table, row: int, values: tuple, guard: RowGuard, problems: list[dict],
                 frames_root: Path, expression_type: str, depth: bool, depth_unit_mm: float,
                 window: str) -> ClipSpec:
    subject = table.name_cell(row, values, "subject")
    guard.name(subject)
    count = table.name_cell(row, values, "count")
    guard.name(subject, count)
    onset = table.frame(row, values, "onset")
    offset = table.frame(row, values, "offset")
    if onset > offset:
        raise table.error(row, "onset", f"onset frame {onset} is after offset frame {offset}")
    emotion = table.text(row, values, "emotion", required=False) if table.has("emotion") else None
    return _clip_spec(subject=subject, clip_id=count, video_dir=frames_root / subject, onset=onset,
                      apex=None, offset=offset, au=table.get(values, "aus"), emotion=emotion,
                      objective=None, meta={"expression_type": "micro", "part": "C"},
                      src=table.source(row), apex_column=None, depth=depth,
                      depth_unit_mm=depth_unit_mm, window=window)


def load_casme3_videos(root: str | os.PathLike, *, labels: str | os.PathLike | None = None,
                       depth: bool = True, depth_unit_mm: float = 1.0,
                       missing: Literal["raise", "warn", "skip"] = "raise",
                       frames_dir: str | os.PathLike | None = None):  # noqa: ANN201 - LongVideoSet
    """Load CAS(ME)³ Part A as long videos with their annotated intervals (spotting).

    Parameters
    ----------
    root : path-like
        The Part A folder (see :func:`load_casme3`).
    labels : path-like, optional
        Default ``CAS(ME)3_part_A_v2.xls`` (every macro- and micro-expression), else the ME
        label file (micro-expressions only).
    depth, depth_unit_mm, frames_dir
        As in :func:`load_casme3`.
    missing : {'raise', 'warn', 'skip'}, optional
        A labelled video without frames on disk: raise, or leave it out (reported).

    Returns
    -------
    LongVideoSet
        One :class:`~mxkit.data.LongVideo` per labelled video (``video_id``
        ``'spNO.1/a'``) with every frame of ``color/``; ``intervals`` rows have
        ``expression_id`` ``'{Filename}_{onset}'`` (a ``_2`` suffix when a video repeats an
        onset), ``expression_type``, frame numbers and AUs (``emotion`` from the ME file when
        it is the one read).
    """
    root = check_root(root, "CAS(ME)³")
    try:
        table = _part_a_table(root, labels, "all")
    except DatasetFormatError:
        if labels is not None:
            raise
        table = _part_a_table(root, None, "micro")
    frames_root = _frames_root(root, frames_dir, table, "A")
    problems: list[dict] = []
    videos: dict[tuple[str, str], VideoSpec] = {}
    guard = RowGuard(table, "casme3", problems)
    for row, values in table.rows:
        if is_blank(values):
            continue
        with guard(row):
            subject = table.name_cell(row, values, "subject")
            guard.name(subject)
            video = table.name_cell(row, values, "filename")
            etype = _expression_type(table, row, values) or "micro"
            onset = table.frame(row, values, "onset")
            guard.name(subject, f"{video}_{onset}")
            onset, apex, offset, src = table.window(row, values, dataset="casme3", subject=subject,
                                                     clip_id=f"{video}_{onset}", problems=problems,
                                                     zero_missing=True, offset_fallback=("apex",))
            key = (subject, video)
            if key not in videos:
                vdir = frames_root / subject / video
                videos[key] = VideoSpec(
                    dataset="casme3", subject=subject, video_id=f"{subject}/{video}", fps=CASME3_FPS,
                    folder=vdir / "color", frame_pattern=_COLOR,
                    depth_folder=vdir / "depth" if depth else None, depth_pattern=_DEPTH,
                    depth_unit_mm=depth_unit_mm, meta={"video": video, "part": "A"})
            spec = videos[key]
            eid = base = f"{video}_{onset}"
            k = 2
            while any(r["expression_id"] == eid for r in spec.intervals):
                eid, k = f"{base}_{k}", k + 1
            raw_au = table.get(values, "aus")
            spec.intervals.append({
                "expression_id": eid, "expression_type": etype, "onset_frame": onset,
                "apex_frame": apex, "offset_frame": offset,
                "au_string": None if raw_au is None else cell_text(raw_au),
                "emotion": table.text(row, values, "emotion", required=False) if table.has("emotion") else None,
                "notes": None, **src})
    if not videos:
        raise no_rows_error(table, problems)
    return assemble_videos(videos.values(), dataset="casme3", missing=missing, problems=problems,
                           name="casme3-A-videos")
