"""Machinery shared by the dataset loaders (internal): locating files in a user's copy,
scanning frame folders, and assembling :class:`~mxkit.data.Clip` objects while recording,
warning about or raising on every anomaly. Nothing here writes to disk."""

from __future__ import annotations

import fnmatch
import os
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..._checks import check_option
from ..._io import display_path, text_cell
from ...errors import DatasetFormatError
from ..aus import parse_au_string
from ..clip import Clip, ClipSet
from ..problems import DatasetWarning, MissingFramesError
from ._tables import MAX_WINDOW_FRAMES, CellError, Table

__all__ = [
    "ClipSpec", "assemble", "check_root", "find_label_file", "find_child", "scan_frames",
    "compress_ranges", "IMAGE_EXT", "MISSING_OPTIONS", "WINDOW_OPTIONS", "RowGuard",
    "no_rows_error", "spelling_problem", "EMOTION_MISSPELLINGS", "VideoSpec", "assemble_videos",
    "existing_frames",
]

#: Image extensions accepted in frame file names (case-insensitive).
IMAGE_EXT = r"(?:jpg|jpeg|png|bmp|tif|tiff)"
MISSING_OPTIONS = ("raise", "warn", "skip")
WINDOW_OPTIONS = ("labelled", "all")


def check_root(root: str | os.PathLike, what: str) -> Path:
    """The dataset folder as a Path; typed error if it is missing, not a folder or empty."""
    if root is None or (isinstance(root, str) and not root.strip()):
        raise DatasetFormatError(f"no {what} folder given (root={root!r})")
    p = Path(root).expanduser()
    try:
        exists, is_dir = p.exists(), p.is_dir()
    except OSError as exc:  # e.g. a parent folder without permission
        raise DatasetFormatError(f"{what} folder '{display_path(p)}' cannot be inspected: "
                                 f"{exc.strerror or exc}") from exc
    if not exists:
        raise DatasetFormatError(f"{what} folder '{display_path(p)}' does not exist")
    if not is_dir:
        raise DatasetFormatError(f"{what} folder '{display_path(p)}' is not a folder")
    if not _listdir(p):
        raise DatasetFormatError(f"{what} folder '{display_path(p)}' is empty")
    return p


def _listdir(folder: Path) -> list[str]:
    """Sorted names in ``folder``; ``[]`` when it does not exist or is not a folder.

    Raises
    ------
    DatasetFormatError
        The folder exists but cannot be listed (no permission, I/O error): that is never
        reported as "missing" or "empty".
    """
    try:
        return sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except PermissionError as exc:
        raise DatasetFormatError(f"cannot list the folder '{display_path(folder)}': permission denied "
                                 "(check its permissions and those of the folders above it)") from exc
    except OSError as exc:
        raise DatasetFormatError(f"cannot list the folder '{display_path(folder)}': "
                                 f"{exc.strerror or exc}") from exc


def _is_dir(path: Path) -> bool:
    """``path.is_dir()``, with a typed error when it cannot be inspected (permissions)."""
    try:
        return path.is_dir()
    except OSError as exc:
        raise DatasetFormatError(f"cannot inspect '{display_path(path)}': {exc.strerror or exc} "
                                 "(check the permissions of the folders above it)") from exc


def find_child(folder: Path, names: Sequence[str], *, dirs: bool = True) -> Path | None:
    """First of ``names`` that exists in ``folder`` (exact match first, then ignoring case)."""
    for n in names:
        p = folder / n
        if (p.is_dir() if dirs else p.is_file()):
            return p
    entries = _listdir(folder)
    lower = {e.casefold(): e for e in entries}
    for n in names:
        e = lower.get(n.casefold())
        if e is not None and ((folder / e).is_dir() if dirs else (folder / e).is_file()):
            return folder / e
    return None


def find_label_file(root: Path, labels: str | os.PathLike | None, *, names: Sequence[str],
                    patterns: Sequence[str], what: str) -> Path:
    """Locate the label file: ``labels`` if given (absolute, or relative to ``root``), else the
    first of ``names``, else the only file matching ``patterns`` (case-insensitive)."""
    if labels is not None:
        p = Path(labels).expanduser()
        if not p.is_absolute() and not p.exists():
            p = root / p
        if not p.is_file():
            raise DatasetFormatError(f"{what} file '{display_path(p)}' (labels=) does not exist")
        return p
    exact = find_child(root, names, dirs=False)
    if exact is not None:
        return exact
    entries = [e for e in _listdir(root) if not e.startswith(("~$", ".~lock"))]
    hits = [root / e for e in entries
            if any(fnmatch.fnmatch(e.casefold(), pat.casefold()) for pat in patterns)
            and (root / e).is_file()]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise DatasetFormatError(
            f"several candidate {what} files in '{display_path(root)}': {[h.name for h in hits]}; "
            "pass labels=<file> to choose one"
        )
    raise DatasetFormatError(
        f"no {what} file in '{display_path(root)}': expected {names[0]!r} (or a file matching {list(patterns)}); "
        f"the folder holds {entries[:10]}{' ...' if len(entries) > 10 else ''}. "
        "Pass labels=<file> if it lives elsewhere"
    )


def scan_frames(folder: Path, pattern: re.Pattern[str]) -> dict[int, Path]:
    """``{frame_number: path}`` for the files of ``folder`` whose name fully matches
    ``pattern`` (group 1 = the number); other files (stray ``.lnk``, ``Thumbs.db``) are ignored.
    On duplicate numbers ('73' and '073') the first name in sorted order wins."""
    out: dict[int, Path] = {}
    for name in _listdir(folder):
        m = pattern.fullmatch(name)
        if m is None:
            continue
        n = int(m.group(1))
        if n not in out and (folder / name).is_file():
            out[n] = folder / name
    return dict(sorted(out.items()))


def gap_runs(nums: Sequence[int]) -> list[tuple[int, int]]:
    """The runs of numbers absent between the first and last of sorted ``nums``
    (``[1, 2, 5, 9]`` -> ``[(3, 4), (6, 8)]``); work proportional to ``len(nums)``."""
    return [(a + 1, b - 1) for a, b in zip(nums[:-1], nums[1:], strict=True) if b - a > 1]


def format_runs(runs: Sequence[tuple[int, int]], limit: int = 8) -> str:
    """``[(3, 4), (7, 7)]`` -> ``'3-4, 7'`` (at most ``limit`` runs, then '...')."""
    text = [f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:limit]]
    return ", ".join(text) + (", ..." if len(runs) > limit else "")


def compress_ranges(nums: Iterable[int], limit: int = 8) -> str:
    """``[1, 2, 3, 7]`` -> ``'1-3, 7'`` (at most ``limit`` ranges, then '...')."""
    nums = sorted(nums)
    runs: list[tuple[int, int]] = []
    for n in nums:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    text = [f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:limit]]
    return ", ".join(text) + (", ..." if len(runs) > limit else "")


@dataclass
class ClipSpec:
    """One sample as read from the labels, before the frames are checked."""

    dataset: str
    subject: str
    clip_id: str
    fps: float
    folder: Path
    onset_frame: int
    offset_frame: int
    apex_frame: int | None
    frame_pattern: re.Pattern[str]
    frame_name: Callable[[int], str]
    au_string: str | None = None
    emotion: str | None = None
    objective_class: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)  # file, sheet, row
    apex_column: str | None = None
    #: folder-defined clips (SMIC, CK+): onset/offset are the first/last files and a gap is a
    #: 'frame_gap' warning, never a missing-frames error
    folder_defined: bool = False
    index: dict[int, Path] | None = None
    #: depth maps aligned to the frames (CAS(ME)³): their folder, file pattern (group 1 = the
    #: frame number), expected name of a missing one, and mm per stored unit
    depth_folder: Path | None = None
    depth_pattern: re.Pattern[str] | None = None
    depth_name: Callable[[int], str] | None = None
    depth_unit_mm: float = 1.0
    depth_index: dict[int, Path] | None = None


#: Misspelled emotion labels found in circulating coding files (kept as written, reported as
#: ``emotion_spelling`` with the likely intended word): CAS(ME)² ``happyiness``, CASME
#: ``comtempt``.
EMOTION_MISSPELLINGS: dict[str, str] = {"happyiness": "happiness", "comtempt": "contempt"}


class RowGuard:
    """Per-row error barrier of a label sheet: one bad row never aborts the load.

    ``with guard(row) as g:`` runs the body for one row; a :class:`CellError` raised inside
    becomes an ``invalid_row`` problem (file, sheet, row, column, reason; action
    ``'skipped'``) and the loop goes on. ``g.name(subject, clip_id)`` records the sample's
    identity as soon as it is known, so the problem row names it.

    Examples
    --------
    >>> guard = RowGuard(table, "casme2", problems)            # doctest: +SKIP
    >>> for row, values in table.rows:                          # doctest: +SKIP
    ...     with guard(row) as g:
    ...         g.name(subject, clip_id)
    ...         specs.append(...)
    """

    def __init__(self, table: Table, dataset: str, problems: list[dict]) -> None:
        self.table = table
        self.dataset = dataset
        self.problems = problems
        self.invalid = 0
        self._row: int | None = None
        self._ident: tuple[str | None, str | None] = (None, None)

    def __call__(self, row: int) -> RowGuard:
        self._row = row
        self._ident = (None, None)
        return self

    def name(self, subject: str | None, clip_id: str | None = None) -> None:
        self._ident = (subject, clip_id)

    def __enter__(self) -> RowGuard:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or not isinstance(exc, CellError):
            return False
        self.invalid += 1
        self.problems.append({
            "kind": "invalid_row", "dataset": self.dataset, "subject": self._ident[0],
            "clip_id": self._ident[1], **self.table.source(self._row), "column": exc.column,
            "detail": f"{exc.reason}: the row is left out", "action": "skipped"})
        return True


def no_rows_error(table: Table, problems: Sequence[Mapping[str, Any]], what: str = "data rows"
                  ) -> DatasetFormatError:
    """The error for a sheet that gave no sample (listing its invalid rows, if any)."""
    bad = [p for p in problems if p["kind"] == "invalid_row"]
    if not bad:
        return DatasetFormatError(f"{table.loc(None)}: the sheet has no {what}")
    lines = [f"  row {p['row']}: {p['detail']}" for p in bad[:12]]
    more = f"\n  ... and {len(bad) - 12} more" if len(bad) > 12 else ""
    return DatasetFormatError(f"{table.loc(None)}: none of its {len(bad)} row(s) is a valid sample:\n"
                              + "\n".join(lines) + more)


def spelling_problem(table: Table, row: int, column: str, value: str | None, *, dataset: str,
                     subject: str, clip_id: str) -> dict | None:
    """An ``emotion_spelling`` problem when ``value`` is a known misspelling (else None)."""
    if value is None or value.strip().casefold() not in EMOTION_MISSPELLINGS:
        return None
    return {"kind": "emotion_spelling", "dataset": dataset, "subject": subject, "clip_id": clip_id,
            **table.source(row), "column": table.letter(column),
            "detail": f"emotion {value!r} is probably {EMOTION_MISSPELLINGS[value.strip().casefold()]!r}; "
                      "kept as written (map it in a Protocol if needed)", "action": "kept"}


def _problem(spec: ClipSpec, kind: str, detail: str, action: str, column: str | None = None) -> dict:
    return {"kind": kind, "dataset": spec.dataset, "subject": spec.subject, "clip_id": spec.clip_id,
            "file": spec.source.get("file"), "sheet": spec.source.get("sheet"),
            "row": spec.source.get("row"), "column": column, "detail": detail, "action": action}


def _where(p: Mapping[str, Any]) -> str:
    bits = []
    if p.get("file"):
        bits.append(f"file '{Path(p['file']).name}'")
    if p.get("sheet"):
        bits.append(f"sheet {p['sheet']!r}")
    if p.get("row") is not None:
        bits.append(f"row {p['row']}")
    return ", ".join(bits)


def warn_kinds(problems: Sequence[Mapping[str, Any]], dataset: str, kinds: Mapping[str, str],
               stacklevel: int) -> None:
    """One :class:`DatasetWarning` per problem kind present (aggregated)."""
    for kind, text in kinds.items():
        rows = [p for p in problems if p["kind"] == kind]
        if not rows:
            continue
        listed = "; ".join((f"{p['subject']}/{p['clip_id']} " if p.get("clip_id") else "")
                           + (f"({_where(p)})" if _where(p) else "")
                           + (f": {p['detail']}" if kind == "invalid_row" else "")
                           for p in rows[:5])
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        warnings.warn(
            text_cell(f"{dataset}: {len(rows)} {text}: {listed}{more}. See clipset.problems."),
            DatasetWarning, stacklevel=stacklevel + 1,
        )


def assemble(specs: Iterable[ClipSpec], *, dataset: str, window: str, missing: str,
             problems: Iterable[Mapping[str, Any]] = (), name: str | None = None,
             stacklevel: int = 3) -> ClipSet:
    """Check every spec's frames on disk and build the ClipSet (see module docstring)."""
    check_option(window, WINDOW_OPTIONS, "window")
    check_option(missing, MISSING_OPTIONS, "missing")
    probs: list[dict] = [dict(p) for p in problems]
    clips: list[Clip] = []
    cache: dict[Path, dict[int, Path] | DatasetFormatError | None] = {}
    seen: dict[tuple[str, str], dict] = {}
    action = {"raise": "error", "warn": "kept", "skip": "skipped"}[missing]
    for spec in specs:
        key = (spec.subject, spec.clip_id)
        if key in seen:
            first = seen[key]
            probs.append(_problem(spec, "duplicate_key",
                                  f"{spec.subject}/{spec.clip_id} also appears at {_where(first)}",
                                  "kept"))
        else:
            seen[key] = spec.source
        onset, offset = spec.onset_frame, spec.offset_frame
        if offset - onset + 1 > MAX_WINDOW_FRAMES:
            probs.append(_problem(spec, "invalid_row",
                                  f"the window {onset}..{offset} spans {offset - onset + 1} frames, more "
                                  f"than any clip ({MAX_WINDOW_FRAMES}): the row is left out", "skipped"))
            continue
        expected = range(onset, offset + 1)
        if spec.index is not None:
            index: dict[int, Path] | None = spec.index
        else:
            if spec.folder not in cache:
                try:
                    cache[spec.folder] = (scan_frames(spec.folder, spec.frame_pattern)
                                          if _is_dir(spec.folder) else None)
                except DatasetFormatError as exc:  # the folder exists but cannot be read
                    cache[spec.folder] = exc
            index = cache[spec.folder]
            if isinstance(index, DatasetFormatError):  # kept clips could not be read either
                probs.append(_problem(spec, "missing_folder", f"{index}",
                                      "error" if missing == "raise" else "skipped"))
                continue
        if spec.folder_defined:
            index = index or {}
            numbers = [n for n in index if onset <= n <= offset]
            gaps = [n for n in expected if n not in index]
            if gaps:
                probs.append(_problem(spec, "frame_gap",
                                      f"frame numbers {compress_ranges(gaps)} are absent from "
                                      f"'{display_path(spec.folder)}' (the clip keeps the {len(numbers)} frames present)",
                                      "kept"))
        else:
            if index is None:
                probs.append(_problem(spec, "missing_folder",
                                      f"sample folder '{display_path(spec.folder)}' does not exist", action))
                if missing != "warn":
                    continue
                index = {}
            else:
                # bounded by what is on disk: the frames present in the window, and the runs
                # between them (never one entry per absent frame number)
                present = [n for n in index if onset <= n <= offset]
                n_lost = len(expected) - len(present)
                if n_lost:
                    runs = gap_runs([onset - 1, *present, offset + 1])
                    probs.append(_problem(
                        spec, "missing_frames",
                        f"{n_lost} of {len(expected)} frames of {onset}..{offset} are missing "
                        f"in '{display_path(spec.folder)}': {format_runs(runs)}", action))
                    if missing != "warn":
                        continue
            numbers = sorted(set(index) | set(expected)) if window == "all" else list(expected)
            if window == "all" and index:
                # the baseline frames outside the labelled window: a hole in them is reported
                # as inside a folder-defined clip (the window's own holes are missing_frames)
                outside = [(a, b) for a, b in gap_runs(sorted(index)) if b < onset or a > offset]
                if outside:
                    probs.append(_problem(spec, "frame_gap",
                                          f"frame numbers {format_runs(outside)} are absent from "
                                          f"'{display_path(spec.folder)}' outside the labelled window "
                                          f"{onset}..{offset} (window='all' keeps the "
                                          f"{len(numbers)} frames present)", "kept"))
        paths = [index.get(n, spec.folder / spec.frame_name(n)) for n in numbers]
        pos = {n: i for i, n in enumerate(numbers)}
        meta = dict(spec.meta)
        meta.update({f"label_{k}": v for k, v in spec.source.items() if v is not None})
        apex_idx = None
        if spec.apex_frame is not None:
            if onset <= spec.apex_frame <= offset and spec.apex_frame in pos:
                apex_idx = pos[spec.apex_frame]
            elif not onset <= spec.apex_frame <= offset:
                meta["apex_frame_label"] = spec.apex_frame
                probs.append(_problem(
                    spec, "apex_outside_window",
                    f"apex frame {spec.apex_frame} is outside onset..offset ({onset}..{offset}); "
                    "the clip's apex is set to None (value kept in meta['apex_frame_label'])",
                    "kept", spec.apex_column))
            else:  # folder-defined clip whose apex file is absent
                meta["apex_frame_label"] = spec.apex_frame
        if not numbers:  # folder-defined clip with no frames in range (cannot happen for scans)
            continue
        first = pos.get(onset, 0)
        last = pos.get(offset, len(numbers) - 1)
        parsed = parse_au_string(spec.au_string)
        if parsed.unparsed:
            meta["au_unparsed"] = parsed.unparsed
        depth = None
        if spec.depth_folder is not None:
            folder = spec.depth_folder
            if spec.depth_index is not None:
                dindex = spec.depth_index
            else:
                if folder not in cache:
                    cache[folder] = scan_frames(folder, spec.depth_pattern) if _is_dir(folder) else None
                dindex = cache[folder] or {}
            lost = [n for n in numbers if n not in dindex]
            if lost:
                probs.append(_problem(spec, "missing_depth",
                                      f"{len(lost)} of {len(numbers)} depth maps are missing in "
                                      f"'{display_path(folder)}': {compress_ranges(lost)}", "kept"))
            depth = [dindex.get(n, folder / spec.depth_name(n)) for n in numbers]
        clips.append(Clip(
            dataset=spec.dataset, subject=spec.subject, clip_id=spec.clip_id, frames=paths,
            fps=spec.fps, onset=first, apex=apex_idx, offset=last, frame_numbers=numbers,
            au_string=spec.au_string, aus=parsed.aus, emotion=spec.emotion,
            objective_class=spec.objective_class, meta=meta, depth=depth,
            depth_unit_mm=spec.depth_unit_mm,
        ))
    fatal = [p for p in probs if p["kind"] in ("missing_frames", "missing_folder") and p["action"] == "error"]
    if fatal:
        lines = [f"  {p['subject']}/{p['clip_id']} ({_where(p)}): {p['detail']}" for p in fatal[:12]]
        more = f"\n  ... and {len(fatal) - 12} more" if len(fatal) > 12 else ""
        raise MissingFramesError(
            f"{dataset}: {len(fatal)} clip(s) named in the labels have missing frames on disk:\n"
            + "\n".join(lines) + more
            + "\nPass missing='warn' to keep them (reading a missing frame then raises "
              "FrameReadError) or missing='skip' to leave them out; either way they are listed in "
              "clipset.problems.",
            fatal,
        )
    warn_kinds(probs, dataset, {
        "missing_folder": "clip(s) have no sample folder on disk (" + ("kept" if missing == "warn" else "skipped") + ")",
        "missing_frames": "clip(s) have missing frames on disk (" + ("kept" if missing == "warn" else "skipped") + ")",
        "apex_outside_window": "clip(s) have an apex outside onset..offset (apex set to None)",
        "frame_gap": "clip(s) skip frame numbers inside the clip",
        "duplicate_key": "clip(s) appear twice in the labels (both kept)",
        "invalid_row": "row(s) of the labels are invalid and were left out",
        "offset_missing": "clip(s) have no annotated offset (the clip ends at the apex)",
        "missing_depth": "clip(s) lack depth frames (kept; reading them raises FrameReadError)",
        "window_outside_clip": "window(s) lie outside their long clip (left out)",
    }, stacklevel=stacklevel)
    return ClipSet(clips, problems=probs, name=name or dataset)


def existing_frames(folder: Path, numbers: Iterable[int], name: Callable[[int], str]) -> dict[int, Path]:
    """``{n: folder / name(n)}`` for the numbers whose file exists (no folder listing: fast on
    datasets with thousands of frames per folder, CAS(ME)³)."""
    out = {}
    for n in numbers:
        p = folder / name(n)
        if p.is_file():
            out[n] = p
    return out


@dataclass
class VideoSpec:
    """One long video as read from the labels and the folder tree, before the frames are
    listed: where it is and its intervals (dicts with the :data:`~mxkit.data.longvideo.
    INTERVAL_COLUMNS` frame numbers and source)."""

    dataset: str
    subject: str
    video_id: str
    fps: float
    folder: Path
    frame_pattern: re.Pattern[str]
    intervals: list[dict[str, Any]] = field(default_factory=list)
    depth_folder: Path | None = None
    depth_pattern: re.Pattern[str] | None = None
    depth_unit_mm: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)


def assemble_videos(specs: Iterable[VideoSpec], *, dataset: str, missing: str,
                    problems: Iterable[Mapping[str, Any]] = (), name: str | None = None,
                    stacklevel: int = 3) -> Any:
    """List every video's frames and build the :class:`~mxkit.data.LongVideoSet`.

    A video without a folder or without frames is a ``missing_folder`` problem (with
    ``missing='raise'`` a :class:`MissingFramesError`, else left out); an interval whose
    onset or offset frame is not in its video is kept (indices ``<NA>``) and reported
    (``interval_outside_video``); missing depth maps are ``missing_depth`` (kept).
    """
    from ..longvideo import LongVideo, LongVideoSet, _isna, _outside_problem

    check_option(missing, MISSING_OPTIONS, "missing")
    probs: list[dict] = [dict(p) for p in problems]
    videos = []
    action = {"raise": "error", "warn": "skipped", "skip": "skipped"}[missing]
    for spec in specs:
        index = scan_frames(spec.folder, spec.frame_pattern) if spec.folder.is_dir() else {}
        src = spec.intervals[0] if spec.intervals else {}
        where = {"dataset": dataset, "subject": spec.subject, "clip_id": spec.video_id,
                 "file": src.get("file"), "sheet": src.get("sheet"), "row": src.get("row"),
                 "column": None}
        if not index:
            what = "does not exist" if not spec.folder.is_dir() else "holds no frames"
            probs.append({**where, "kind": "missing_folder", "action": action,
                          "detail": f"video folder '{display_path(spec.folder)}' {what} ({len(spec.intervals)} "
                                    "annotated interval(s))"})
            continue
        numbers = list(index)
        depth = None
        if spec.depth_folder is not None:
            dindex = scan_frames(spec.depth_folder, spec.depth_pattern) if spec.depth_folder.is_dir() else {}
            lost = [n for n in numbers if n not in dindex]
            if lost:
                probs.append({**where, "kind": "missing_depth", "action": "kept",
                              "detail": f"{len(lost)} of {len(numbers)} depth maps are missing in "
                                        f"'{display_path(spec.depth_folder)}': {compress_ranges(lost)}"})
            depth = [dindex.get(n, spec.depth_folder / f"{n}.png") for n in numbers]
        video = LongVideo(dataset=dataset, subject=spec.subject, video_id=spec.video_id,
                          frames=list(index.values()), fps=spec.fps, frame_numbers=numbers,
                          intervals=spec.intervals, depth=depth, depth_unit_mm=spec.depth_unit_mm,
                          meta={"folder": str(spec.folder), **spec.meta})
        for r in video.intervals.to_dict("records"):
            if any(_isna(r[k]) for k in ("onset", "offset")):
                probs.append(_outside_problem(video, r) | {"action": "kept"})
        videos.append(video)
    fatal = [p for p in probs if p["kind"] == "missing_folder" and p["action"] == "error"]
    if fatal:
        lines = [f"  {p['clip_id']} ({_where(p)}): {p['detail']}" for p in fatal[:12]]
        more = f"\n  ... and {len(fatal) - 12} more" if len(fatal) > 12 else ""
        raise MissingFramesError(
            f"{dataset}: {len(fatal)} video(s) named in the labels are missing on disk:\n"
            + "\n".join(lines) + more + "\nPass missing='warn' or 'skip' to leave them out "
            "(listed in videos.problems).", fatal)
    warn_kinds(probs, dataset, {
        "missing_folder": "video(s) have no frames on disk (left out)",
        "interval_outside_video": "interval(s) reach past their video's frames (kept; "
                                  "LongVideoSet.clips() leaves them out)",
        "missing_depth": "video(s) lack depth maps (kept; reading them raises FrameReadError)",
        "invalid_row": "row(s) of the labels are invalid and were left out",
        "fractional_frame": "frame number(s) are not integers (rounded)",
    }, stacklevel=stacklevel)
    return LongVideoSet(videos, problems=probs, name=name or dataset)


def resolve_frames_root(root: Path, variants: Mapping[str, Sequence[str]], frames: str,
                        frames_dir: str | os.PathLike | None, *, what: str,
                        subject_pattern: str) -> tuple[Path, str]:
    """Pick the folder holding the subject folders.

    ``variants`` maps a variant name ('cropped', 'raw', ...) to accepted folder names, in the
    order 'auto' tries them. ``frames_dir`` overrides the search (variant 'custom'). A
    doubly-nested copy (``Cropped/Cropped/sub01``) is followed.
    """
    check_option(frames, ("auto", *variants), "frames")
    subj = re.compile(subject_pattern, re.IGNORECASE)

    def descend(folder: Path) -> Path:
        entries = _listdir(folder)
        if not any(subj.fullmatch(e) for e in entries):
            same = [e for e in entries if e.casefold() == folder.name.casefold() and (folder / e).is_dir()]
            if same:
                return folder / same[0]
        return folder

    if frames_dir is not None:
        p = Path(frames_dir).expanduser()
        if not p.is_absolute() and not p.exists():
            p = root / p
        if not p.is_dir():
            raise DatasetFormatError(f"{what} frames folder '{display_path(p)}' (frames_dir=) does not exist")
        return descend(p), (frames if frames != "auto" else "custom")
    order = list(variants) if frames == "auto" else [frames]
    for v in order:
        found = find_child(root, variants[v])
        if found is not None:
            return descend(found), v
    wanted = " or ".join(f"{variants[v][0]}/" for v in order)
    raise DatasetFormatError(
        f"no {what} frame folder in '{display_path(root)}': expected {wanted} (the folder holds "
        f"{_listdir(root)[:10]}); pass frames_dir=<folder holding the subject folders>"
    )


def apex_missing_problem(spec_like: Mapping[str, Any], value: Any, column: str | None) -> dict:
    """Problem row for an apex cell that holds a missing marker ('/', '-', empty)."""
    return {"kind": "apex_missing", "dataset": spec_like["dataset"], "subject": spec_like["subject"],
            "clip_id": spec_like["clip_id"], "file": spec_like.get("file"),
            "sheet": spec_like.get("sheet"), "row": spec_like.get("row"), "column": column,
            "detail": f"apex cell holds {value!r}: apex unknown (None)", "action": "kept"}
