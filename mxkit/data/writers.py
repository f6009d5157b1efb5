"""Writers of the published dataset layouts: CASME II, SAMM and CK+ clips, and the long-video
layouts of SAMM Long Videos, CAS(ME)³ (with depth) and CAS(ME)² (:func:`write_long_videos`).

They let a generator (SynthME) or a test write clips that the real-data loaders read back
unchanged. Input is a :class:`ClipRecord` (or a :class:`~mxkit.data.Clip`) whose frames may be
an array, a list, a callable ``frames(i)`` or a generator, so clips stream to disk one frame at
a time. Each writer builds the whole layout in a temporary sibling folder and renames it into
place at the end (atomic on one file system; the temporary folder
``.<name>.tmp-<pid>-<hex>`` is removed when the writer fails or is interrupted, and by the next
writer of that folder when its process died without cleaning up); it refuses to write into a non-empty folder
that it did not create (a ``.mxkit-layout.json`` marker identifies its own output, which
``overwrite=True`` replaces).

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> rec = ClipRecord(subject=1, clip_id="EP01_01", frames=np.zeros((6, 8, 8, 3), np.uint8),
...                  onset=1, apex=3, offset=5, first_frame=10, au_string="4+L10",
...                  emotion="disgust")
>>> root = write_casme2([rec], pathlib.Path(tempfile.mkdtemp()) / "CASME2")
>>> sorted(p.name for p in (root / "CASME2_RAW_selected" / "sub01" / "EP01_01").iterdir())[:2]
['img10.jpg', 'img11.jpg']
"""

from __future__ import annotations

import glob
import json
import numbers
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._checks import check_option
from .._io import display_path, write_image_file
from ..errors import InputValueError, ShapeError
from .aus import format_aus, parse_au_string
from .clip import Clip
from .loaders.ckplus import CKPLUS_EMOTIONS
from .loaders.samm_lv import SAMM_LV_NOTE
from .problems import DatasetWarning

__all__ = ["ClipRecord", "write_casme2", "write_samm", "write_smic", "write_ckplus", "LAYOUT_MARKER",
           "SAMM_NOTE_ROWS", "CKPLUS_EMOTIONS", "LongVideoRecord", "write_long_videos",
           "LONG_VIDEO_LAYOUTS", "SAMM_LV_NOTE_ROWS"]

#: Marker file a writer leaves in its output folder (loaders ignore it).
LAYOUT_MARKER = ".mxkit-layout.json"


#: The note rows 1-13 of SAMM's ``MICRO_ONLY`` sheet: ``{cell: text}`` (DATASETS.md §2.3).
SAMM_NOTE_ROWS: dict[str, str] = {
    "A1": "SAMM Dataset - Master FACS Codes",
    "E1": "(Note to the users: If you're using SAMM, please cite: Davison, … (2016) … IEEE "
          "Transactions on Affective Computing.)",
    "A3": "9/9/17 - New updates with Emotional and Objective Classes. For details please refer to: ",
    "I3": "arXiv preprint arXiv:1708.07549.",
    "E4": "(Note to the users: if you're using the emotional or objective classes, please cite: …)",
    "A6": "Symbol Key:",
    "A7": '"/" = or',
    "A8": '"?" = some AU\'s continue for a while and have unclear offset',
    "A10": "AU Help:",
    "A11": '"L2 or R2" = Unilateral AU 2 on left side of face / right side of face',
    "A12": '"A2" = Asymmetric AU 2. Occurs on both sides of face but stronger on one side',
}

CASME2_HEADER = ("Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
                 "Action Units", "Estimated Emotion")
SAMM_HEADER = ("Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame",
               "Offset Frame", "Duration", "Micro", "Action Units", "Estimated Emotion",
               "Objective Classes", "Notes")
SAMM_HEADER_ROW = 14

FrameSource = (np.ndarray | Sequence[np.ndarray] | Callable[[int], np.ndarray]
               | Iterable[np.ndarray])


@dataclass(frozen=True, eq=False, kw_only=True)
class ClipRecord:
    """What a writer needs to write one clip.

    Parameters
    ----------
    subject : str or int
        Subject id in any of the dataset's spellings (CASME II ``1``, ``'01'``, ``'sub01'``;
        SAMM ``6``, ``'006'``; CK+ ``5``, ``'S005'``).
    clip_id : str
        Sample name (CASME II ``Filename``, SAMM ``'006_1_2'``, CK+ sequence ``'001'``).
    frames : array (T, H, W, 3) or (T, H, W) uint8, sequence of arrays, callable or iterable
        RGB (or gray) uint8 frames. A callable is called as ``frames(i)`` for
        ``i in range(n_frames)``; an iterable (e.g. a generator) is consumed once. Frames are
        written one at a time, so a generator never holds the clip in memory.
    onset, apex, offset : int
        0-based indices into ``frames``; ``apex`` may be None; ``offset`` defaults to the last
        frame.
    n_frames : int, optional
        Number of frames; required when ``frames`` is a callable.
    first_frame : int, optional
        Dataset frame number of ``frames[0]`` (file names and sheet cells use
        ``first_frame + i``). Default 1.
    frame_numbers : sequence of int, optional
        Explicit frame numbers (overrides ``first_frame``), e.g. from a loaded clip.
    au_string : str or int, optional
        AU cell as it should appear (``'4+L10'``, ``12``).
    emotion : str, optional
        Emotion label as the dataset writes it (CASME II ``'happiness'``, SAMM ``'Happiness'``,
        CK+ ``'happy'`` or its code 0-7).
    objective_class : int, optional
        Objective class 1..7.
    fps : float, optional
        Informational (the layouts do not store it).
    extra : mapping, optional
        Dataset-specific cells: SAMM ``inducement_code``, ``notes``; CK+ ``landmarks``
        (array (T, 68, 2)).
    """

    subject: str | int
    clip_id: str
    frames: FrameSource
    onset: int = 0
    apex: int | None = None
    offset: int | None = None
    n_frames: int | None = None
    first_frame: int = 1
    frame_numbers: Sequence[int] | None = None
    au_string: str | int | None = None
    emotion: str | int | None = None
    objective_class: int | None = None
    fps: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_clip(cls, clip: Clip) -> ClipRecord:
        """Record for re-writing a loaded or in-memory :class:`Clip` (frames read lazily)."""
        frames: FrameSource = clip.frames if clip.in_memory else clip.frame
        au = clip.au_string if clip.au_string is not None else (format_aus(clip.aus) or None)
        extra = {k: clip.meta[k] for k in ("inducement_code", "notes") if k in clip.meta}
        return cls(subject=clip.meta.get("subject_label", clip.subject), clip_id=clip.clip_id,
                   frames=frames, n_frames=clip.n_frames, onset=clip.onset, apex=clip.apex,
                   offset=clip.offset, frame_numbers=clip.frame_numbers, au_string=au,
                   emotion=clip.emotion, objective_class=clip.objective_class, fps=clip.fps,
                   extra=extra)


def _as_records(items: Iterable[ClipRecord | Clip]) -> list[ClipRecord]:
    out = []
    for i, r in enumerate(items):
        if isinstance(r, Clip):
            r = ClipRecord.from_clip(r)
        if not isinstance(r, ClipRecord):
            raise InputValueError(f"record {i} is a {type(r).__name__}; expected a ClipRecord or a Clip")
        if not isinstance(r.clip_id, str) or not r.clip_id.strip() or re.search(r"[\\/]", r.clip_id):
            raise InputValueError(f"record {i}: clip_id must be a non-empty name without '/'; got {r.clip_id!r}")
        out.append(r)
    if not out:
        raise InputValueError("no records to write")
    return out


def _iter_frames(rec: ClipRecord, i: int) -> Iterator[np.ndarray]:
    f = rec.frames
    if isinstance(f, np.ndarray):
        if f.ndim not in (3, 4) or (f.ndim == 4 and f.shape[3] != 3):
            raise ShapeError(f"record {i} ({rec.clip_id}): frames must have shape (T, H, W, 3) or "
                             f"(T, H, W); got {f.shape}")
        yield from f
    elif callable(f):
        if rec.n_frames is None:
            raise InputValueError(f"record {i} ({rec.clip_id}): n_frames is required when frames is a callable")
        for k in range(int(rec.n_frames)):
            yield f(k)
    elif isinstance(f, Iterable) and not isinstance(f, (str, bytes)):
        yield from f
    else:
        raise InputValueError(f"record {i} ({rec.clip_id}): frames must be an array, a sequence, "
                              f"a callable or an iterable of frames; got {type(f).__name__}")


def _check_frame(img: Any, i: int, rec: ClipRecord, k: int, shape: tuple | None) -> np.ndarray:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
        what = type(img).__name__ if not isinstance(img, np.ndarray) else f"dtype {img.dtype}"
        raise InputValueError(f"record {i} ({rec.clip_id}), frame {k}: expected a uint8 array; got {what}")
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise ShapeError(f"record {i} ({rec.clip_id}), frame {k}: expected shape (H, W, 3) or (H, W); "
                         f"got {img.shape}")
    if shape is not None and img.shape != shape:
        raise ShapeError(f"record {i} ({rec.clip_id}), frame {k}: shape {img.shape} differs from "
                         f"frame 0's {shape}")
    return img


def _write_image(path: Path, img: np.ndarray, *, gray: bool, quality: int) -> None:
    import cv2

    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY if gray else cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if path.suffix.lower() in (".jpg", ".jpeg") else []
    write_image_file(path, img, params=params)


@dataclass
class _Written:
    """Labels of a record after its frames are on disk."""

    rec: ClipRecord
    numbers: list[int]
    onset: int
    apex: int | None
    offset: int
    shape: tuple[int, ...] = ()


def _write_frames(rec: ClipRecord, i: int, targets: Sequence[tuple[Path, Callable[[int], str]]],
                  *, gray: bool, quality: int) -> _Written:
    for folder, _ in targets:
        folder.mkdir(parents=True, exist_ok=True)
    nums = None if rec.frame_numbers is None else [int(x) for x in rec.frame_numbers]
    shape = None
    count = 0
    for k, img in enumerate(_iter_frames(rec, i)):
        img = _check_frame(img, i, rec, k, shape)
        shape = img.shape
        if nums is not None and k >= len(nums):
            raise InputValueError(f"record {i} ({rec.clip_id}): more frames than frame_numbers ({len(nums)})")
        num = nums[k] if nums is not None else int(rec.first_frame) + k
        if num < 0:
            raise InputValueError(f"record {i} ({rec.clip_id}): frame numbers must be >= 0; got {num}")
        for folder, name in targets:
            _write_image(folder / name(num), img, gray=gray, quality=quality)
        count += 1
    if count == 0:
        raise InputValueError(f"record {i} ({rec.clip_id}): no frames")
    if nums is not None and len(nums) != count:
        raise InputValueError(f"record {i} ({rec.clip_id}): {count} frames but {len(nums)} frame_numbers")
    numbers_ = nums if nums is not None else list(range(int(rec.first_frame), int(rec.first_frame) + count))
    if len(set(numbers_)) != len(numbers_):
        raise InputValueError(f"record {i} ({rec.clip_id}): frame numbers repeat")
    offset = count - 1 if rec.offset is None else int(rec.offset)
    onset = int(rec.onset)
    apex = None if rec.apex is None else int(rec.apex)
    if not 0 <= onset <= offset < count or (apex is not None and not onset <= apex <= offset):
        raise InputValueError(
            f"record {i} ({rec.clip_id}): need 0 <= onset <= apex <= offset < n_frames; got "
            f"onset={onset}, apex={apex}, offset={offset}, n_frames={count}"
        )
    return _Written(rec, numbers_, onset, apex, offset, tuple(shape))


def _au_cell(value: Any) -> Any:
    """As Excel stores it: an int when a single plain AU number was typed, else the text."""
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    text = str(value)
    return int(text) if text.strip().isdigit() and text == text.strip() else text


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:   # e.g. PermissionError: it exists, owned by someone else
        return True
    return True


def _remove_dead_writers(root: Path) -> None:
    """Remove the temporary folders ``.<root>.tmp-<pid>-<hex>`` of writers that died (SIGKILL,
    power loss) before they could clean up; a live writer's folder is left alone."""
    for tmp in root.parent.glob(f".{glob.escape(root.name)}.tmp-*-*"):
        pid = tmp.name[len(root.name) + 6:].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def _atomic_folder(root: str | os.PathLike, *, layout: str, overwrite: bool) -> Iterator[Path]:
    root = Path(root).expanduser()
    if root.exists():
        if not root.is_dir():
            raise InputValueError(f"'{display_path(root)}' exists and is not a folder")
        if any(root.iterdir()):
            if not (root / LAYOUT_MARKER).is_file():
                raise InputValueError(
                    f"refusing to write into '{display_path(root)}': the folder is not empty and was not written "
                    "by mxkit (it may be a real dataset); choose an empty or new folder"
                )
            if not overwrite:
                raise InputValueError(
                    f"'{display_path(root)}' already holds a layout written by mxkit; pass overwrite=True to replace it"
                )
    root.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_writers(root)
    tmp = root.parent / f".{root.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        (tmp / LAYOUT_MARKER).write_text(json.dumps({"layout": layout, "writer": "mxkit.data.writers",
                                                     "mxkit_version": _version()}, indent=1))
        if root.exists() and any(root.iterdir()):
            old = root.parent / f".{root.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(root, old)
            os.rename(tmp, root)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if root.exists():
                root.rmdir()
            os.rename(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _version() -> str:
    from .._version import __version__

    return __version__


def _subject_number(subject: Any, i: int, *, prefixes: Sequence[str], what: str) -> int:
    if isinstance(subject, numbers.Integral) and not isinstance(subject, bool):
        n = int(subject)
    else:
        text = str(subject).strip()
        for p in prefixes:
            if text.casefold().startswith(p.casefold()) and text[len(p):].isdigit():
                text = text[len(p):]
                break
        n = int(text) if text.isdigit() else -1
    if n < 0:
        raise InputValueError(f"record {i}: {what} subject must be a number (e.g. 1, '01'); got {subject!r}")
    return n


def _check_unique(records: Sequence[ClipRecord], key: Callable[[ClipRecord, int], tuple]) -> None:
    seen: dict[tuple, int] = {}
    for i, r in enumerate(records):
        k = key(r, i)
        if k in seen:
            raise InputValueError(f"records {seen[k]} and {i} are the same sample {k}")
        seen[k] = i


def write_casme2(records: Iterable[ClipRecord | Clip], root: str | os.PathLike, *,
                 frames: Literal["raw", "cropped", "both"] = "raw",
                 objective_classes: bool | Literal["auto"] = "auto", quality: int = 95,
                 overwrite: bool = False,
                 sidecar: Callable[[Path], None] | None = None) -> Path:
    """Write clips in the CASME II layout with its coding spreadsheet.

    Writes ``CASME2-coding-20140508.xlsx`` (sheets ``Sheet1``-``Sheet3``; ``Sheet1`` has the
    9-column header with columns C and G empty, ``Subject`` as text ``'01'``, ``Action Units``
    as an int for a single plain AU and text otherwise, ``'/'`` for an unknown apex), frames
    as ``CASME2_RAW_selected/subNN/<clip_id>/img{N}.jpg`` and/or
    ``Cropped/subNN/<clip_id>/reg_img{N}.jpg`` (N un-padded), and, when records carry objective
    classes, ``CASME2-ObjectiveClasses.xlsx``.

    Parameters
    ----------
    records : iterable of ClipRecord or Clip
    root : path-like
        Output folder; must not exist, be empty, or hold an earlier mxkit layout (with
        ``overwrite=True``).
    frames : {'raw', 'cropped', 'both'}, optional
        Which frame tree(s) to write.
    objective_classes : 'auto' or bool, optional
        Write ``CASME2-ObjectiveClasses.xlsx`` ('auto': if any record has a class).
    quality : int, optional
        JPEG quality.
    overwrite : bool, optional
        Replace an earlier mxkit-written layout at ``root``.
    sidecar : callable, optional
        ``sidecar(tmp_root)`` is called before the atomic rename, to add files (e.g. a ``gt/``
        folder) to the same commit.

    Returns
    -------
    pathlib.Path
        ``root``.

    Raises
    ------
    InputValueError
        Bad records (subject not a number, indices out of range, duplicate samples), or a
        non-empty foreign ``root``.
    """
    import openpyxl

    check_option(frames, ("raw", "cropped", "both"), "frames")
    recs = _as_records(records)
    subjects = [_subject_number(r.subject, i, prefixes=("sub",), what="CASME II") for i, r in enumerate(recs)]
    _check_unique(recs, lambda r, i: (subjects[i], r.clip_id))
    with _atomic_folder(root, layout="casme2", overwrite=overwrite) as tmp:
        written = []
        for i, (rec, n) in enumerate(zip(recs, subjects, strict=True)):
            targets = []
            if frames in ("raw", "both"):
                targets.append((tmp / "CASME2_RAW_selected" / f"sub{n:02d}" / rec.clip_id, lambda k: f"img{k}.jpg"))
            if frames in ("cropped", "both"):
                targets.append((tmp / "Cropped" / f"sub{n:02d}" / rec.clip_id, lambda k: f"reg_img{k}.jpg"))
            written.append(_write_frames(rec, i, targets, gray=False, quality=quality))
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Sheet1"
        ws.append(list(CASME2_HEADER))
        for w, n in zip(written, subjects, strict=True):
            apex = "/" if w.apex is None else w.numbers[w.apex]
            ws.append([f"{n:02d}", w.rec.clip_id, None, w.numbers[w.onset], apex,
                       w.numbers[w.offset], None, _au_cell(w.rec.au_string), w.rec.emotion])
            ws.cell(ws.max_row, 1).number_format = "@"
        wb.create_sheet("Sheet2")
        wb.create_sheet("Sheet3")
        wb.save(tmp / "CASME2-coding-20140508.xlsx")
        if objective_classes is True or (objective_classes == "auto"
                                         and any(r.objective_class is not None for r in recs)):
            wb = openpyxl.Workbook()
            ws = wb.active
            ws.title = "Sheet1"
            ws.append(["Subject", "Filename", "Objective Class"])
            for r, n in zip(recs, subjects, strict=True):
                ws.append([f"{n:02d}", r.clip_id, r.objective_class])
                ws.cell(ws.max_row, 1).number_format = "@"
            wb.create_sheet("Sheet2")
            wb.save(tmp / "CASME2-ObjectiveClasses.xlsx")
        if sidecar is not None:
            sidecar(tmp)
    return Path(root)


def write_samm(records: Iterable[ClipRecord | Clip], root: str | os.PathLike, *,
               gray: bool = True, quality: int = 95, overwrite: bool = False,
               sidecar: Callable[[Path], None] | None = None) -> Path:
    """Write clips in the SAMM layout with ``SAMM_Micro_FACS_Codes_v2.xlsx``.

    The workbook has one sheet ``MICRO_ONLY``: the 13 note rows of the release
    (:data:`SAMM_NOTE_ROWS`), the 12-column header in row 14, then one row per clip with
    ``Subject`` as text ``'006'``, ``Duration`` as the formula ``=SUM(F{r}-D{r})+1`` (no cached
    value, as openpyxl writes it), ``Micro`` = ``'Micro - 1/2'``. Frames go to
    ``{sss}/{clip_id}/{sss}_{N:05d}.jpg``.

    Parameters
    ----------
    records : iterable of ClipRecord or Clip
        ``clip_id`` is the SAMM ``Filename`` (``'006_1_2'``); the inducement code is
        ``extra['inducement_code']`` or the middle part of the clip id. ``extra['notes']``
        fills ``Notes``.
    root : path-like
        Output folder (see :func:`write_casme2`).
    gray : bool, optional
        Write grayscale frames, as SAMM is (default); False keeps RGB.
    quality, overwrite, sidecar
        As in :func:`write_casme2`.

    Returns
    -------
    pathlib.Path
    """
    import openpyxl

    recs = _as_records(records)
    subjects = [_subject_number(r.subject, i, prefixes=(), what="SAMM") for i, r in enumerate(recs)]
    _check_unique(recs, lambda r, i: (r.clip_id,))
    with _atomic_folder(root, layout="samm", overwrite=overwrite) as tmp:
        written = []
        for i, (rec, n) in enumerate(zip(recs, subjects, strict=True)):
            sss = f"{n:03d}"
            targets = [(tmp / sss / rec.clip_id, lambda k, s=sss: f"{s}_{k:05d}.jpg")]
            written.append(_write_frames(rec, i, targets, gray=gray, quality=quality))
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "MICRO_ONLY"
        for cell, text in SAMM_NOTE_ROWS.items():
            ws[cell] = text
        for c, h in enumerate(SAMM_HEADER, start=1):
            ws.cell(SAMM_HEADER_ROW, c, h)
        for j, (w, n) in enumerate(zip(written, subjects, strict=True)):
            r = SAMM_HEADER_ROW + 1 + j
            rec = w.rec
            ind = rec.extra.get("inducement_code")
            if ind is None:
                m = re.fullmatch(r"\d+_(\d+)_\d+", rec.clip_id)
                ind = int(m.group(1)) if m else None
            apex = "-" if w.apex is None else w.numbers[w.apex]
            row = [f"{n:03d}", rec.clip_id, ind, w.numbers[w.onset], apex, w.numbers[w.offset],
                   f"=SUM(F{r}-D{r})+1", "Micro - 1/2", _au_cell(rec.au_string), rec.emotion,
                   rec.objective_class, rec.extra.get("notes")]
            for c, v in enumerate(row, start=1):
                ws.cell(r, c, v)
            ws.cell(r, 1).number_format = "@"
        wb.save(tmp / "SAMM_Micro_FACS_Codes_v2.xlsx")
        if sidecar is not None:
            sidecar(tmp)
    return Path(root)


def _ck_float(x: float) -> str:
    return f"{x:16.7e}"


#: SMIC's emotion folders and the abbreviations of its clip names (``s1_ne_01``).
SMIC_ABBREVIATIONS = {"negative": "ne", "positive": "po", "surprise": "sur"}


def write_smic(records: Iterable[ClipRecord | Clip], root: str | os.PathLike, *, overwrite: bool = False,
               sidecar: Callable[[Path], None] | None = None) -> Path:
    """Write clips in the SMIC-HS folder layout (no label file: the folders are the labels).

    Frames go to ``HS/s{n}/micro/{emotion}/{clip_id}/image{N:06d}.bmp`` (uncompressed, as the
    release's raw frames); a SMIC clip is its whole folder, so ``onset`` / ``apex`` / ``offset``
    of the records are not written anywhere (SMIC has no apex).

    Parameters
    ----------
    records : iterable of ClipRecord or Clip
        ``subject`` ``'s1'`` or ``1``; ``emotion`` one of ``negative``, ``positive``,
        ``surprise``; ``clip_id`` as SMIC names them (``'s1_ne_01'``).
    root : path-like
        Output folder (see :func:`write_casme2`).
    overwrite, sidecar
        As in :func:`write_casme2`.

    Returns
    -------
    pathlib.Path
    """
    recs = _as_records(records)
    subjects = [_subject_number(r.subject, i, prefixes=("s",), what="SMIC") for i, r in enumerate(recs)]
    _check_unique(recs, lambda r, i: (subjects[i], r.clip_id))
    for i, r in enumerate(recs):
        if r.emotion not in SMIC_ABBREVIATIONS:
            raise InputValueError(f"record {i} ({r.clip_id}): SMIC emotion must be one of "
                                  f"{list(SMIC_ABBREVIATIONS)}; got {r.emotion!r}")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", str(r.clip_id)) or str(r.clip_id) in (".", ".."):
            raise InputValueError(f"record {i}: SMIC clip_id must be a plain folder name; got {r.clip_id!r}")
    with _atomic_folder(root, layout="smic", overwrite=overwrite) as tmp:
        for i, (rec, n) in enumerate(zip(recs, subjects, strict=True)):
            folder = tmp / "HS" / f"s{n}" / "micro" / str(rec.emotion) / str(rec.clip_id)
            _write_frames(rec, i, [(folder, lambda k: f"image{k:06d}.bmp")], gray=False, quality=95)
        if sidecar is not None:
            sidecar(tmp)
    return Path(root)


def write_ckplus(records: Iterable[ClipRecord | Clip], root: str | os.PathLike, *,
                 overwrite: bool = False, sidecar: Callable[[Path], None] | None = None) -> Path:
    """Write sequences in the CK+ layout.

    ``cohn-kanade-images/S005/001/S005_001_00000001.png`` frames; for labelled sequences
    ``Emotion/S005/001/S005_001_{last:08d}_emotion.txt`` (one float, e.g. ``3.0000000e+00``);
    ``FACS/.../..._facs.txt`` (one ``AU intensity`` line per AU, intensity A..E -> 1..5, 0 when
    not coded); ``Landmarks/.../..._landmarks.txt`` per frame when ``extra['landmarks']``
    (array (T, 68, 2)) is given. CK+ sequences run neutral -> apex, so the loader reads
    onset = first frame and apex = offset = last frame; the record's indices are not stored.

    Parameters
    ----------
    records : iterable of ClipRecord or Clip
        ``subject`` 5 or ``'S005'``; ``clip_id`` the sequence ``'001'`` (or ``'S005_001'``);
        ``emotion`` a name of :data:`CKPLUS_EMOTIONS` or its code, None for unlabelled.
    root, overwrite, sidecar
        As in :func:`write_casme2`.

    Returns
    -------
    pathlib.Path

    Warns
    -----
    DatasetWarning
        When AU sides, modifiers or alternatives are dropped (the FACS file cannot hold them).
    """
    recs = _as_records(records)
    subjects = [_subject_number(r.subject, i, prefixes=("S",), what="CK+") for i, r in enumerate(recs)]
    seqs = []
    for i, r in enumerate(recs):
        text = r.clip_id.strip()
        m = re.fullmatch(r"(?:S?\d+_)?(\d+)", text, re.IGNORECASE)
        if not m:
            raise InputValueError(f"record {i}: CK+ clip_id must be a sequence number such as '001'; got {text!r}")
        seqs.append(int(m.group(1)))
    _check_unique(recs, lambda r, i: (subjects[i], seqs[i]))
    codes = {v: k for k, v in CKPLUS_EMOTIONS.items()}
    lossy = []
    with _atomic_folder(root, layout="ckplus", overwrite=overwrite) as tmp:
        for i, (rec, n, q) in enumerate(zip(recs, subjects, seqs, strict=True)):
            s, sq = f"S{n:03d}", f"{q:03d}"
            base = f"{s}_{sq}"
            folder = tmp / "cohn-kanade-images" / s / sq
            w = _write_frames(rec, i, [(folder, lambda k, b=base: f"{b}_{k:08d}.png")], gray=False, quality=95)
            last = w.numbers[-1]
            if rec.emotion is not None:
                code = rec.emotion if isinstance(rec.emotion, numbers.Integral) else codes.get(str(rec.emotion).strip().lower())
                if code is None or int(code) not in CKPLUS_EMOTIONS:
                    raise InputValueError(f"record {i} ({rec.clip_id}): CK+ emotion must be one of "
                                          f"{list(codes)} or a code 0-7; got {rec.emotion!r}")
                d = tmp / "Emotion" / s / sq
                d.mkdir(parents=True, exist_ok=True)
                (d / f"{base}_{last:08d}_emotion.txt").write_text(_ck_float(float(code)) + "\n")
            aus = parse_au_string(rec.au_string).aus
            if aus:
                if any(a.side or a.modifier or a.alternative or a.reference or a.static for a in aus):
                    lossy.append(rec.clip_id)
                d = tmp / "FACS" / s / sq
                d.mkdir(parents=True, exist_ok=True)
                lines = [_ck_float(a.number) + _ck_float("ABCDE".index(a.intensity) + 1 if a.intensity else 0)
                         for a in aus]
                (d / f"{base}_{last:08d}_facs.txt").write_text("\n".join(lines) + "\n")
            lm = rec.extra.get("landmarks")
            if lm is not None:
                lm = np.asarray(lm, dtype=float)
                if lm.ndim != 3 or lm.shape[0] != len(w.numbers) or lm.shape[2] != 2:
                    raise ShapeError(f"record {i} ({rec.clip_id}): extra['landmarks'] must have shape "
                                     f"({len(w.numbers)}, L, 2); got {lm.shape}")
                d = tmp / "Landmarks" / s / sq
                d.mkdir(parents=True, exist_ok=True)
                for k, pts in zip(w.numbers, lm, strict=True):
                    (d / f"{base}_{k:08d}_landmarks.txt").write_text(
                        "".join(_ck_float(x) + _ck_float(y) + "\n" for x, y in pts))
        if sidecar is not None:
            sidecar(tmp)
    if lossy:
        warnings.warn(f"CK+ FACS files hold AU numbers and intensities only: sides/modifiers/"
                      f"alternatives were dropped for {lossy[:5]}{' ...' if len(lossy) > 5 else ''}",
                      DatasetWarning, stacklevel=2)
    return Path(root)


# ============================================================================= long videos
#: Long-video layouts :func:`write_long_videos` writes.
LONG_VIDEO_LAYOUTS = ("samm_lv", "casme3", "casme_sq")
#: The note rows above SAMM Long Videos' header (row 10): ``{cell: text}``; ``A8:J9`` is one
#: merged note cell.
SAMM_LV_NOTE_ROWS: dict[str, str] = {
    "A1": "SAMM Long Videos - FACS coded macro- and micro-movements",
    "A3": "(Note to the users: If you're using SAMM Long Videos, please cite the SAMM and "
          "MEGC papers.)",
    "A5": "Type: Micro - 1/2 = micro-movement, Macro = macro-movement",
    "A8": SAMM_LV_NOTE,
}
SAMM_LV_HEADER = ("Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration",
                  "Type", "Action Units", "Notes")
SAMM_LV_HEADER_ROW = 10
CASME3_ME_HEADER = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class",
                    "emotion")
CASME3_LIST_HEADER = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Expression type",
                      "Objective class")
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII")


@dataclass(frozen=True, eq=False, kw_only=True)
class LongVideoRecord:
    """What :func:`write_long_videos` needs to write one long video and its intervals.

    Parameters
    ----------
    subject : str or int
        Subject number in any spelling (SAMM-LV ``6`` / ``'006'``; CAS(ME)³ ``1`` /
        ``'spNO.1'``; CAS(ME)² the folder number ``15`` / ``'s15'``).
    video : str or int
        The video within the subject: SAMM-LV the inducement number (``1`` -> ``006_1``),
        CAS(ME)³ the letter (``'a'``), CAS(ME)² the stimulus name (``'anger1'``).
    frames : array (T, H, W, 3) or (T, H, W) uint8, sequence, callable or iterable
        As in :class:`ClipRecord` (streamed one frame at a time).
    intervals : sequence of mapping
        One per annotated expression: ``expression_type`` (``'micro'``/``'macro'``),
        ``onset``, ``offset`` and optionally ``apex`` as **0-based indices into frames**,
        ``au_string``, ``emotion``, ``objective_class`` (1..7), ``notes``, ``self_report``
        (CAS(ME)²'s self-reported emotion).
    n_frames : int, optional
        Required when ``frames`` is a callable.
    first_frame : int, optional
        Dataset frame number of ``frames[0]`` (default 1).
    depth : array (T, H, W), sequence, callable or iterable, optional
        Depth maps in **millimetres** (float; NaN / inf / <= 0 = no reading) or uint16 mm,
        one per frame (CAS(ME)³ only): written as 16-bit PNGs in mm.
    fps : float, optional
        Informational.
    extra : mapping, optional
        CAS(ME)²: ``video_code`` (int, default 101, 102, ... per stimulus) and
        ``video_name`` (the folder suffix, default the stimulus).
    """

    subject: str | int
    video: str | int
    frames: FrameSource
    intervals: Sequence[Mapping[str, Any]] = ()
    n_frames: int | None = None
    first_frame: int = 1
    depth: Any = None
    fps: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def _depth_png(depth_mm: Any, k: int, rec: LongVideoRecord, shape: tuple) -> np.ndarray:
    d = np.asarray(depth_mm)
    if d.shape != shape[:2]:
        raise ShapeError(f"video {rec.video!r}, depth map {k}: shape {d.shape} differs from the "
                         f"frames' {shape[:2]}")
    if d.dtype == np.uint16:
        return d
    d = d.astype(np.float64)
    out = np.where(np.isfinite(d) & (d > 0), np.clip(np.round(d), 0, 65535), 0)
    return out.astype(np.uint16)


def _write_depth(rec: LongVideoRecord, folder: Path, numbers_: Sequence[int], shape: tuple) -> None:

    folder.mkdir(parents=True, exist_ok=True)
    it = _iter_frames(ClipRecord(subject=0, clip_id=str(rec.video), frames=rec.depth,
                                 n_frames=len(numbers_)), 0) if not isinstance(rec.depth, np.ndarray) else iter(rec.depth)
    count = 0
    for k, d in enumerate(it):
        if k >= len(numbers_):
            raise InputValueError(f"video {rec.video!r}: more depth maps than frames ({len(numbers_)})")
        path = folder / f"{numbers_[k]}.png"
        write_image_file(path, _depth_png(d, k, rec, shape))
        count += 1
    if count != len(numbers_):
        raise InputValueError(f"video {rec.video!r}: {count} depth maps for {len(numbers_)} frames")


def _intervals(rec: LongVideoRecord, i: int, n: int) -> list[dict[str, Any]]:
    out = []
    for j, iv in enumerate(rec.intervals):
        iv = dict(iv)
        et = iv.get("expression_type")
        if et not in ("micro", "macro"):
            raise InputValueError(f"video record {i} ({rec.video!r}), interval {j}: expression_type "
                                  f"must be 'micro' or 'macro'; got {et!r}")
        on, off, ap = iv.get("onset"), iv.get("offset"), iv.get("apex")
        ok = isinstance(on, numbers.Integral) and isinstance(off, numbers.Integral) and 0 <= on <= off < n
        if not ok or (ap is not None and not (isinstance(ap, numbers.Integral) and on <= ap <= off)):
            raise InputValueError(f"video record {i} ({rec.video!r}), interval {j}: need 0 <= onset <= "
                                  f"apex <= offset < n_frames; got onset={on}, apex={ap}, offset={off}, "
                                  f"n_frames={n}")
        out.append(iv)
    return out


def _casme3_subject(subject: Any, i: int) -> str:
    if isinstance(subject, str) and re.fullmatch(r"spNO\.\d+", subject.strip()):
        return subject.strip()
    return f"spNO.{_subject_number(subject, i, prefixes=('spNO.',), what='CAS(ME)³')}"


def _sheet(wb: Any, title: str, header: Sequence[Any] | None, rows: Iterable[Sequence[Any]]) -> Any:
    ws = wb.create_sheet(title)
    if header is not None:
        ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    return ws


def write_long_videos(records: Iterable[LongVideoRecord], root: str | os.PathLike, *,
                      layout: Literal["samm_lv", "casme3", "casme_sq"] = "samm_lv",
                      quality: int = 95, overwrite: bool = False,
                      sidecar: Callable[[Path], None] | None = None) -> Path:
    """Write long videos and their annotated intervals in a published long-video layout.

    ``layout='samm_lv'``: ``SAMM_LongVideos_V2_Release.xlsx`` (sheet ``FACS_Movement_Only``:
    the note rows with the merged note cell ``A8:J9``, the header in row 10, ``Subject`` as a
    number, ``Filename`` ``{sss}_{video}_{k}``, apex -1 when unknown, ``Duration`` as the
    formula ``=F{r}-D{r}+1``, ``Type`` ``Micro - 1/2`` / ``Macro``) and gray frames
    ``SAMM_longvideos/{sss}_{video}/{sss}_{video}_{N:04d}.jpg``.

    ``layout='casme3'``: ``{spNO.n}/{video}/color/{N}.jpg`` and, when records carry depth,
    ``depth/{N}.png`` (16-bit, mm); ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx`` (sheet
    ``label``: the micro-expressions, every number written as text, objective classes as Roman
    numerals) and the macro + micro list ``CAS(ME)3_part_A_v2.xlsx`` (sheet ``AU+Emotion`` and
    an empty ``eye blink`` sheet; the release's list is an ``.xls``, which mxkit cannot write).

    ``layout='casme_sq'``: ``CAS(ME)^2code_final.xlsx`` (``CASFEcode_final`` without header,
    11 columns with the last two empty, the subject as the sheet number 1..n mapped to the
    folder by ``naming rule1``; ``naming rule2`` maps the stimulus to its 4-digit code) and
    frames ``rawpic/s{NN}/{NN}_{code:04d}{name}/img{N}.jpg``; an unknown apex is written 0.

    Parameters
    ----------
    records : iterable of LongVideoRecord
    root : path-like
        Output folder (see :func:`write_casme2`: new, empty, or an earlier mxkit layout with
        ``overwrite=True``).
    layout : {'samm_lv', 'casme3', 'casme_sq'}
    quality : int, optional
        JPEG quality.
    overwrite, sidecar
        As in :func:`write_casme2`.

    Returns
    -------
    pathlib.Path
        ``root``.

    Raises
    ------
    InputValueError
        Bad records (subject not a number, interval indices outside the video, duplicate
        videos, depth maps not matching the frames), or a non-empty foreign ``root``.
    """
    import openpyxl

    check_option(layout, LONG_VIDEO_LAYOUTS, "layout")
    recs = list(records)
    if not recs:
        raise InputValueError("no video records to write")
    for i, r in enumerate(recs):
        if not isinstance(r, LongVideoRecord):
            raise InputValueError(f"record {i} is a {type(r).__name__}; expected a LongVideoRecord")
        if not str(r.video).strip() or re.search(r"[\\/]", str(r.video)):
            raise InputValueError(f"record {i}: video must be a non-empty name without '/'; got {r.video!r}")
        if r.depth is not None and layout != "casme3":
            raise InputValueError(f"record {i}: depth maps are written by the 'casme3' layout only")
    if layout == "casme3":
        subjects: list[Any] = [_casme3_subject(r.subject, i) for i, r in enumerate(recs)]
    else:
        subjects = [_subject_number(r.subject, i, prefixes=("s",) if layout == "casme_sq" else (),
                                    what=layout) for i, r in enumerate(recs)]
    _check_unique(recs, lambda r, i: (subjects[i], str(r.video)))
    codes: dict[str, int] = {}
    for r in recs:
        if layout == "casme_sq":
            stim = str(r.video)
            code = int(r.extra.get("video_code", codes.get(stim, 101 + len(codes))))
            if codes.get(stim, code) != code:
                raise InputValueError(f"stimulus {stim!r} has two video codes ({codes[stim]}, {code})")
            codes[stim] = code
    with _atomic_folder(root, layout=layout, overwrite=overwrite) as tmp:
        written: list[tuple[LongVideoRecord, Any, list[int], list[dict]]] = []
        for i, (rec, s) in enumerate(zip(recs, subjects, strict=True)):
            base = ClipRecord(subject=0, clip_id=str(rec.video), frames=rec.frames, n_frames=rec.n_frames,
                              first_frame=rec.first_frame)
            if layout == "samm_lv":
                vid = f"{s:03d}_{rec.video}"
                targets = [(tmp / "SAMM_longvideos" / vid, lambda k, v=vid: f"{v}_{k:04d}.jpg")]
            elif layout == "casme3":
                targets = [(tmp / s / str(rec.video) / "color", lambda k: f"{k}.jpg")]
            else:
                name = str(rec.extra.get("video_name", rec.video))
                vdir = tmp / "rawpic" / f"s{s}" / f"{s}_{codes[str(rec.video)]:04d}{name}"
                targets = [(vdir, lambda k: f"img{k}.jpg")]
            w = _write_frames(base, i, targets, gray=layout == "samm_lv", quality=quality)
            if rec.depth is not None:
                _write_depth(rec, tmp / s / str(rec.video) / "depth", w.numbers, w.shape)
            written.append((rec, s, w.numbers, _intervals(rec, i, len(w.numbers))))
        wb = openpyxl.Workbook()
        wb.remove(wb.active)
        if layout == "samm_lv":
            _samm_lv_sheet(wb, written)
            wb.save(tmp / "SAMM_LongVideos_V2_Release.xlsx")
        elif layout == "casme3":
            _casme3_books(tmp, written)
        else:
            _casme_sq_book(wb, written, codes)
            wb.save(tmp / "CAS(ME)^2code_final.xlsx")
        if sidecar is not None:
            sidecar(tmp)
    return Path(root)


def _samm_lv_sheet(wb: Any, written: Sequence[tuple]) -> None:
    ws = wb.create_sheet("FACS_Movement_Only")
    for cell, text in SAMM_LV_NOTE_ROWS.items():
        ws[cell] = text
    ws.merge_cells("A8:J9")
    for c, h in enumerate(SAMM_LV_HEADER, start=1):
        ws.cell(SAMM_LV_HEADER_ROW, c, h)
    r = SAMM_LV_HEADER_ROW
    for rec, s, nums, ivs in written:
        for k, iv in enumerate(ivs, start=1):
            r += 1
            apex = -1 if iv.get("apex") is None else nums[iv["apex"]]
            row = [s, f"{s:03d}_{rec.video}_{k}", _int_or_text(rec.video), nums[iv["onset"]], apex,
                   nums[iv["offset"]], f"=F{r}-D{r}+1",
                   "Micro - 1/2" if iv["expression_type"] == "micro" else "Macro",
                   _au_cell(iv.get("au_string")), iv.get("notes")]
            for c, v in enumerate(row, start=1):
                ws.cell(r, c, v)


def _int_or_text(v: Any) -> Any:
    t = str(v)
    return int(t) if t.isdigit() else t


def _casme3_books(tmp: Path, written: Sequence[tuple]) -> None:
    import openpyxl

    me, listed = [], []
    for _rec, s, nums, ivs in written:
        for iv in ivs:
            apex = "0" if iv.get("apex") is None else str(nums[iv["apex"]])
            oc = iv.get("objective_class")
            roman = _ROMAN[int(oc) - 1] if oc is not None else None
            cells = [s, str(_rec.video), str(nums[iv["onset"]]), apex, str(nums[iv["offset"]]),
                     None if iv.get("au_string") is None else str(iv["au_string"])]
            if iv["expression_type"] == "micro":
                me.append(cells + [roman, iv.get("emotion")])
            listed.append(cells + [f"{iv['expression_type'].capitalize()}-expression", roman])
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    _sheet(wb, "label", CASME3_ME_HEADER, me)
    wb.save(tmp / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx")
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    _sheet(wb, "AU+Emotion", CASME3_LIST_HEADER, listed)
    _sheet(wb, "eye blink", ("Subject", "Filename", "Onset", "Offset"), [])
    wb.save(tmp / "CAS(ME)3_part_A_v2.xlsx")


def _casme_sq_book(wb: Any, written: Sequence[tuple], codes: Mapping[str, int]) -> None:
    folders = sorted({s for _r, s, _n, _i in written})
    sheet_id = {s: i + 1 for i, s in enumerate(folders)}
    rows = []
    for rec, s, nums, ivs in written:
        for k, iv in enumerate(ivs, start=1):
            apex = 0 if iv.get("apex") is None else nums[iv["apex"]]
            rows.append([sheet_id[s], f"{rec.video}_{k}", nums[iv["onset"]], apex, nums[iv["offset"]],
                         _au_cell(iv.get("au_string")), iv.get("emotion"),
                         f"{iv['expression_type']}-expression", iv.get("self_report"), None, None])
    _sheet(wb, "CASFEcode_final", None, rows)
    _sheet(wb, "naming rule1", None, [[sheet_id[s], f"s{s}", s] for s in folders])
    _sheet(wb, "naming rule2", None, [[c, stim] for stim, c in codes.items()])
