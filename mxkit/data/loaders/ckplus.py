"""CK+ (Lucey et al., CVPR-W 2010), posed macro-expressions: ``load_ckplus``.
Format: ``DATASETS.md`` §6."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..._io import display_path
from ...errors import DatasetFormatError
from ..aus import AU, format_aus
from ..clip import ClipSet
from ._common import (
    IMAGE_EXT,
    ClipSpec,
    _listdir,
    assemble,
    check_root,
    find_child,
    scan_frames,
    warn_kinds,
)

__all__ = ["load_ckplus", "CKPLUS_FPS", "CKPLUS_EMOTIONS"]

#: CK+ emotion codes (``Emotion/*_emotion.txt``), DATASETS.md §6 (unconfirmed).
CKPLUS_EMOTIONS: dict[int, str] = {0: "neutral", 1: "anger", 2: "contempt", 3: "disgust",
                                   4: "fear", 5: "happy", 6: "sadness", 7: "surprise"}

CKPLUS_FPS = 30.0  # not stated in DATASETS.md; CK+ was recorded at 30 fps (unconfirmed)
_FRAME = re.compile(rf"S\d+_\d+_(\d+)\.{IMAGE_EXT}", re.IGNORECASE)
_SUBJECT = re.compile(r"S(\d+)", re.IGNORECASE)
_SEQ = re.compile(r"\d+")


def _floats(path: Path) -> list[tuple[int, list[float]]]:
    """Non-empty lines of a CK+ text file as ``(line_number, floats)``."""
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetFormatError(f"file '{display_path(path)}' cannot be read: {exc}") from exc
    out = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((i, [float(x) for x in line.split()]))
        except ValueError:
            raise DatasetFormatError(
                f"file '{display_path(path)}', line {i}: expected numbers such as '3.0000000e+00'; got {line.strip()!r}"
            ) from None
    return out


def _integral(path: Path, line: int, value: float, what: str) -> int:
    if not float(value).is_integer():
        raise DatasetFormatError(f"file '{display_path(path)}', line {line}: {what} must be a whole number; got {value}")
    return int(value)


def _read_emotion(folder: Path) -> tuple[str | None, Path | None]:
    files = [folder / e for e in _listdir(folder) if e.lower().endswith("_emotion.txt")] if folder.is_dir() else []
    if not files:
        return None, None
    if len(files) > 1:
        raise DatasetFormatError(f"folder '{display_path(folder)}' holds {len(files)} emotion files; expected one")
    rows = _floats(files[0])
    if len(rows) != 1 or len(rows[0][1]) != 1:
        raise DatasetFormatError(f"file '{files[0]}': expected a single number (the emotion code 0-7)")
    line, (value,) = rows[0]
    code = _integral(files[0], line, value, "the emotion code")
    if code not in CKPLUS_EMOTIONS:
        raise DatasetFormatError(f"file '{files[0]}', line {line}: emotion code must be 0-7; got {code}")
    return CKPLUS_EMOTIONS[code], files[0]


def _read_facs(folder: Path) -> tuple[str | None, Path | None]:
    files = [folder / e for e in _listdir(folder) if e.lower().endswith("_facs.txt")] if folder.is_dir() else []
    if not files:
        return None, None
    if len(files) > 1:
        raise DatasetFormatError(f"folder '{display_path(folder)}' holds {len(files)} FACS files; expected one")
    aus = []
    for line, vals in _floats(files[0]):
        if len(vals) != 2:
            raise DatasetFormatError(
                f"file '{files[0]}', line {line}: expected 2 numbers (AU, intensity); got {len(vals)}"
            )
        num = _integral(files[0], line, vals[0], "the AU number")
        inten = _integral(files[0], line, vals[1], "the intensity")
        if not 0 <= inten <= 5 or num < 0:
            raise DatasetFormatError(
                f"file '{files[0]}', line {line}: intensity must be 0 (not coded) to 5 (E); got {inten}"
            )
        aus.append(AU(num, intensity="ABCDE"[inten - 1] if inten else None))
    return format_aus(aus), files[0]


def load_ckplus(root: str | os.PathLike, *, labelled_only: bool = False) -> ClipSet:
    """Load the CK+ posed sequences (neutral -> apex), for macro-expression pre-training.

    Parameters
    ----------
    root : path-like
        The CK+ folder holding ``cohn-kanade-images/S005/001/S005_001_00000001.png`` and,
        optionally, ``Emotion/``, ``FACS/`` and ``Landmarks/`` with the same sub-folders.
    labelled_only : bool, optional
        Keep only the sequences with an emotion file (327 in the release).

    Returns
    -------
    ClipSet
        ``subject`` ``'S005'``, ``clip_id`` ``'S005_001'`` (``meta['sequence']`` = ``'001'``),
        ``onset`` the first frame and ``apex`` = ``offset`` the last (peak) frame, ``emotion``
        the name of the code (:data:`CKPLUS_EMOTIONS`) or None, ``aus`` from
        the FACS file (intensity 1..5 -> A..E, 0 -> none), ``fps`` 30 (unconfirmed);
        ``meta['landmarks_dir']`` points at the landmark files when present.

    Raises
    ------
    DatasetFormatError
        No image folder, no sequences, or an unreadable emotion/FACS file (names file and line).
    """
    root = check_root(root, "CK+")
    images = find_child(root, ("cohn-kanade-images", "cohn-kanade", "images"))
    if images is None:
        raise DatasetFormatError(
            f"no 'cohn-kanade-images' folder in '{display_path(root)}' (the folder holds {_listdir(root)[:10]})"
        )
    emo_root = find_child(root, ("Emotion", "Emotion_labels"))
    facs_root = find_child(root, ("FACS", "FACS_labels"))
    lm_root = find_child(root, ("Landmarks",))
    specs = []
    problems: list[dict] = []
    for s in _listdir(images):
        if not (_SUBJECT.fullmatch(s) and (images / s).is_dir()):
            continue
        for q in _listdir(images / s):
            folder = images / s / q
            if not (_SEQ.fullmatch(q) and folder.is_dir()):
                continue
            index = scan_frames(folder, _FRAME)
            if not index:
                problems.append({"kind": "empty_folder", "dataset": "ckplus", "subject": s,
                                 "clip_id": f"{s}_{q}", "file": str(folder), "sheet": None, "row": None,
                                 "column": None, "action": "skipped",
                                 "detail": f"sequence folder '{display_path(folder)}' holds no frames named "
                                           f"{s}_{q}_<NNNNNNNN>.png: the sequence is left out"})
                continue
            emotion, efile = _read_emotion(emo_root / s / q) if emo_root else (None, None)
            if labelled_only and emotion is None:
                continue
            au_string, ffile = _read_facs(facs_root / s / q) if facs_root else (None, None)
            nums = list(index)
            meta = {"sequence": q}
            if efile is not None:
                meta["emotion_file"] = str(efile)
            if ffile is not None:
                meta["facs_file"] = str(ffile)
            if lm_root is not None and (lm_root / s / q).is_dir():
                meta["landmarks_dir"] = str(lm_root / s / q)
            specs.append(ClipSpec(
                dataset="ckplus", subject=s, clip_id=f"{s}_{q}", fps=CKPLUS_FPS, folder=folder,
                onset_frame=nums[0], offset_frame=nums[-1], apex_frame=nums[-1],
                frame_pattern=_FRAME, frame_name=lambda k, b=f"{s}_{q}": f"{b}_{k:08d}.png",
                au_string=au_string, emotion=emotion, meta=meta, source={"file": str(folder)},
                folder_defined=True, index=index,
            ))
    if not specs:
        raise DatasetFormatError(
            f"no CK+ sequences in '{images}': expected S<NNN>/<NNN>/S<NNN>_<NNN>_<NNNNNNNN>.png"
            + (" with an emotion file" if labelled_only else "")
        )
    out = assemble(specs, dataset="ckplus", window="labelled", missing="raise", problems=problems,
                   name="ckplus")
    warn_kinds(problems, "ckplus", {"empty_folder": "sequence folder(s) hold no frames (left out)"},
               stacklevel=2)
    return out
