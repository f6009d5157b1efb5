"""ARKit blendshape takes in the CSV layout of Epic Games' Live Link Face app.

Animation tools (Unreal's Live Link Face importer, Blender add-ons, Unity players) read an
ARKit take as one CSV row per frame::

    Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,...,TongueOut,
    HeadYaw,HeadPitch,HeadRoll,LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll
    00:00:00:00.000,61,0.01230000,0.00000000,...

* ``Timecode`` is ``HH:MM:SS:FF.fff``: hours, minutes, seconds and the frame within the second
  counted at the take's nominal rate (``round(fps)``), with its fraction after the dot;
* ``BlendShapeCount`` is the number of value columns that follow (61 = 52 shapes + 9 angles);
* the 52 ARKit weights in [0, 1] in the app's order (:data:`LIVE_LINK_NAMES`; PascalCase, and
  ``JawRight``/``JawLeft`` and ``MouthRight``/``MouthLeft`` come in the opposite order to
  :data:`~mxkit.morph.ARKIT_NAMES`);
* head and eye angles (:data:`LIVE_LINK_ANGLES`), radians, written by mxkit as: yaw about the
  model's +y (up) axis, pitch about +x (the subject's left), roll about +z (toward the
  camera), from ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` (:func:`mxkit.geometry.matrix_to_euler`).

:func:`write_live_link_csv` writes a take (atomically) and :func:`read_live_link_csv` reads one
back: columns are matched by name, case-insensitively and in any order, so files of the app
itself (or of other tools) read too; a missing shape column or a bad cell raises
:class:`~mxkit.errors.DatasetFormatError` naming the file, row and column.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_finite, check_shape
from .._io import atomic_write
from ..errors import DatasetFormatError, InputValueError
from .au import ARKIT_NAMES

__all__ = ["LIVE_LINK_NAMES", "LIVE_LINK_ANGLES", "LiveLinkTake", "write_live_link_csv",
           "read_live_link_csv", "live_link_timecode"]

#: The 52 ARKit shape columns in the Live Link Face CSV order.
LIVE_LINK_NAMES: tuple[str, ...] = (
    "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft",
    "EyeSquintLeft", "EyeWideLeft", "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight",
    "EyeLookOutRight", "EyeLookUpRight", "EyeSquintRight", "EyeWideRight", "JawForward",
    "JawRight", "JawLeft", "JawOpen", "MouthClose", "MouthFunnel", "MouthPucker", "MouthRight",
    "MouthLeft", "MouthSmileLeft", "MouthSmileRight", "MouthFrownLeft", "MouthFrownRight",
    "MouthDimpleLeft", "MouthDimpleRight", "MouthStretchLeft", "MouthStretchRight",
    "MouthRollLower", "MouthRollUpper", "MouthShrugLower", "MouthShrugUpper", "MouthPressLeft",
    "MouthPressRight", "MouthLowerDownLeft", "MouthLowerDownRight", "MouthUpperUpLeft",
    "MouthUpperUpRight", "BrowDownLeft", "BrowDownRight", "BrowInnerUp", "BrowOuterUpLeft",
    "BrowOuterUpRight", "CheekPuff", "CheekSquintLeft", "CheekSquintRight", "NoseSneerLeft",
    "NoseSneerRight", "TongueOut",
)

#: The head and eye angle columns that follow the shapes (radians).
LIVE_LINK_ANGLES: tuple[str, ...] = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw",
                                     "LeftEyePitch", "LeftEyeRoll", "RightEyeYaw",
                                     "RightEyePitch", "RightEyeRoll")

# Column j of the CSV holds ARKIT_NAMES[_TO_ARKIT[j]].
_LOWER = {n.lower(): i for i, n in enumerate(ARKIT_NAMES)}
_TO_ARKIT = np.array([_LOWER[n.lower()] for n in LIVE_LINK_NAMES])


@dataclass(frozen=True)
class LiveLinkTake:
    """A Live Link Face take read by :func:`read_live_link_csv`.

    Attributes
    ----------
    weights : ndarray, shape (T, 52)
        ARKit weights in the order of :data:`mxkit.morph.ARKIT_NAMES` (not the file's order).
    head : ndarray, shape (T, 3)
        ``(yaw, pitch, roll)`` of the head, radians (NaN where the file has no such column).
    left_eye, right_eye : ndarray, shape (T, 3)
        ``(yaw, pitch, roll)`` of each eye, radians (NaN where absent).
    timecode : tuple of str
    time_s : ndarray, shape (T,)
        Seconds since the first row's timecode.
    """

    weights: np.ndarray
    head: np.ndarray
    left_eye: np.ndarray
    right_eye: np.ndarray
    timecode: tuple[str, ...]
    time_s: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.weights.shape[0])


def _nominal_rate(fps: float) -> int:
    if not isinstance(fps, (int, float)) or isinstance(fps, bool) or not math.isfinite(fps) \
            or fps <= 0:
        raise InputValueError(f"fps must be a positive number; got {fps!r}")
    return max(1, round(float(fps)))


def live_link_timecode(time_s: float, fps: float) -> str:
    """``HH:MM:SS:FF.fff`` of a time in seconds, frames counted at ``round(fps)`` per second.

    >>> live_link_timecode(1.5, 30), live_link_timecode(3725.01, 200)
    ('00:00:01:15.000', '01:02:05:02.000')
    """
    rate = _nominal_rate(fps)
    if not math.isfinite(time_s) or time_s < 0:
        raise InputValueError(f"a timecode needs a time >= 0 s; got {time_s!r}")
    milli = round(float(time_s) * rate * 1000)          # thousandths of a frame
    frames, frac = divmod(milli, 1000)
    secs, ff = divmod(frames, rate)
    mins, ss = divmod(secs, 60)
    hh, mm = divmod(mins, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}.{frac:03d}"


def _parse_timecode(text: str, rate: int) -> float:
    parts = text.strip().split(":")
    if len(parts) != 4:
        raise ValueError("expected HH:MM:SS:FF.fff")
    hh, mm, ss = (int(p) for p in parts[:3])
    return hh * 3600.0 + mm * 60.0 + ss + float(parts[3]) / rate


def write_live_link_csv(path: str | os.PathLike, weights: Any, *, fps: float, head: Any = None,
                        left_eye: Any = None, right_eye: Any = None,
                        start_s: float = 0.0) -> Path:
    """Write ARKit weights as a Live Link Face CSV take (atomically).

    Parameters
    ----------
    path : path-like
    weights : array, shape (T, 52)
        ARKit weights in the order of :data:`mxkit.morph.ARKIT_NAMES`.
    fps : float
        Frame rate: row ``t`` is at ``start_s + t / fps``.
    head, left_eye, right_eye : array, shape (T, 3), optional
        ``(yaw, pitch, roll)`` in radians (zeros when omitted: e.g. a model without eye joints,
        whose gaze lives in the ``EyeLook*`` weights).
    start_s : float
        Time of the first row (seconds).

    Returns
    -------
    Path

    Raises
    ------
    ShapeError, InputValueError
        Wrong shapes, non-finite values or a bad ``fps``.
    """
    w = np.asarray(weights, dtype=np.float64)
    T = check_shape(w, ("T", len(ARKIT_NAMES)), "weights")["T"]
    check_finite(w, "weights")
    angles = []
    for arr, name in ((head, "head"), (left_eye, "left_eye"), (right_eye, "right_eye")):
        a = np.zeros((T, 3)) if arr is None else np.asarray(arr, dtype=np.float64)
        check_shape(a, (T, 3), name)
        check_finite(a, name)
        angles.append(a)
    _nominal_rate(fps)
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["Timecode", "BlendShapeCount", *LIVE_LINK_NAMES, *LIVE_LINK_ANGLES])
    values = np.concatenate([w[:, _TO_ARKIT], *angles], axis=1)
    for t in range(T):
        out.writerow([live_link_timecode(start_s + t / fps, fps), values.shape[1],
                      *(f"{v:.8f}" for v in values[t])])
    return atomic_write(path, buf.getvalue())


def read_live_link_csv(path: str | os.PathLike, *, fps: float) -> LiveLinkTake:
    """Read a Live Link Face CSV take (see the module docstring).

    Parameters
    ----------
    path : path-like
    fps : float
        The take's frame rate (the CSV does not store it; it turns ``FF`` into seconds).

    Returns
    -------
    LiveLinkTake

    Raises
    ------
    DatasetFormatError
        Missing file, missing ``Timecode`` or shape column, or a cell that is not a number
        (the message names the file, the row and the column).
    """
    path = Path(path)
    rate = _nominal_rate(fps)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DatasetFormatError(f"cannot read the Live Link CSV {path}: {exc.strerror or exc}") \
            from exc
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise DatasetFormatError(f"{path}: empty file (expected a Timecode,BlendShapeCount,... header)")
    header = [h.strip().lower() for h in rows[0]]
    col = {h: j for j, h in enumerate(header)}
    missing = [n for n in ("Timecode", *LIVE_LINK_NAMES) if n.lower() not in col]
    if missing:
        raise DatasetFormatError(f"{path}: no column {missing[0]!r} in the header (a Live Link "
                                 f"Face CSV has Timecode, BlendShapeCount and the 52 ARKit names)")
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    T = len(body)
    weights = np.zeros((T, len(ARKIT_NAMES)))
    angles = np.full((T, len(LIVE_LINK_ANGLES)), np.nan)
    codes, times = [], np.zeros(T)

    def cell(r: int, row: list[str], name: str) -> str:
        j = col[name.lower()]
        if j >= len(row):
            raise DatasetFormatError(f"{path}, row {r + 2}: no value in column {name!r}")
        return row[j]

    for r, row in enumerate(body):
        code = cell(r, row, "Timecode").strip()
        try:
            times[r] = _parse_timecode(code, rate)
        except ValueError as exc:
            raise DatasetFormatError(f"{path}, row {r + 2}, column 'Timecode': {code!r} is not a "
                                     f"HH:MM:SS:FF.fff timecode ({exc})") from exc
        codes.append(code)
        for names, target in ((LIVE_LINK_NAMES, None), (LIVE_LINK_ANGLES, angles)):
            for k, name in enumerate(names):
                if target is angles and name.lower() not in col:
                    continue
                raw = cell(r, row, name)
                try:
                    v = float(raw)
                except ValueError:
                    raise DatasetFormatError(f"{path}, row {r + 2}, column {name!r}: {raw!r} is "
                                             "not a number") from None
                if target is None:
                    weights[r, _TO_ARKIT[k]] = v
                else:
                    angles[r, k] = v
    return LiveLinkTake(weights=weights, head=angles[:, 0:3], left_eye=angles[:, 3:6],
                        right_eye=angles[:, 6:9], timecode=tuple(codes),
                        time_s=times - (times[0] if T else 0.0))
