"""Containers for labelled clips: :class:`Clip` (one sample) and :class:`ClipSet` (a dataset).

Conventions
-----------
* ``subject`` is the name of the subject's **folder** in the dataset, so that it is unique
  within a dataset and the frame paths follow from it: CASME II and CASME ``'sub01'``, SAMM
  ``'006'``, SMIC ``'s1'``, CAS(ME)² ``'s15'``, MMEW ``'S01'``, CK+ ``'S005'``. The value as
  written in the labels (``'01'``, ``6``, ``'s01'`` in MEGC files, ...) is kept in
  ``meta['subject_label']`` where it differs. Across datasets the unambiguous key is
  :attr:`Clip.subject_key` = ``'dataset/subject'`` (e.g. ``'samm/006'``); LOSO folds use it.
* ``onset``, ``apex`` and ``offset`` are **0-based indices into** ``frames``; the frame numbers
  used by the dataset (file names, spreadsheet cells) are ``frame_numbers[i]``, and
  :attr:`Clip.onset_frame` etc. give them directly.
* Frames stored as paths are read lazily, with OpenCV, only by :meth:`Clip.load_frames` /
  :meth:`Clip.frame`; images come back as RGB ``uint8``.
* **Depth** (CAS(ME)³, SynthME's CAS(ME)³ layout): ``Clip.depth`` holds one depth map per
  colour frame (aligned to it, same pixel grid), as files or an array, read lazily like the
  frames by :meth:`Clip.load_depth`, which always returns **millimetres** (float32, NaN where
  the sensor gave no reading, stored as 0). A stored value times ``Clip.depth_unit_mm`` is
  millimetres: 1.0 for 16-bit PNGs in mm (CAS(ME)³ as mxkit reads it, unconfirmed on a real
  copy; pass the loader's ``depth_unit_mm=`` if your copy differs).
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import check_option
from .._io import display_path, read_image_file, text_cell
from ..errors import FrameReadError, InputValueError, ShapeError
from .aus import AU, format_aus, parse_au_string
from .problems import problems_frame

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .protocols import Protocol

__all__ = ["Clip", "ClipSet", "CheckedFrames", "BAD_FRAME_POLICIES", "read_image", "read_depth"]

#: Values of ``on_bad_frame`` (:meth:`Clip.load_checked`, :func:`mxkit.prepare`): what an
#: unreadable frame (missing, empty, truncated, corrupt, of another size) does.
BAD_FRAME_POLICIES = ("raise", "skip", "interpolate")


def read_image(path: str | os.PathLike, *, gray: bool = False) -> np.ndarray:
    """Read one image file as RGB ``(H, W, 3)`` (or ``(H, W)`` if ``gray``) uint8.

    The file is read byte-safely and checked for completeness before decoding
    (:func:`mxkit._io.read_image_file`): a name that is not UTF-8 works, and a truncated
    JPEG or PNG is an error instead of an image with a grey bottom.

    Raises
    ------
    FrameReadError
        If the file is missing, unreadable (permissions), empty, truncated, corrupt or cannot
        be decoded; the message names the path and the cause.
    """
    import cv2

    img = read_image_file(path, flags=cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    if img.dtype != np.uint8:  # 16-bit PNG etc.
        img = (img / 257.0).round().astype(np.uint8) if img.dtype == np.uint16 else img.astype(np.uint8)
    if not gray:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(img)


def read_depth(path: str | os.PathLike, *, unit_mm: float = 1.0) -> np.ndarray:
    """Read one depth map (a single-channel 16-bit PNG, or 8/32-bit TIFF/PNG) as millimetres.

    Parameters
    ----------
    path : path-like
    unit_mm : float, optional
        Millimetres per stored unit (1.0: the file holds mm).

    Returns
    -------
    numpy.ndarray, shape (H, W), float32
        Depth in mm; NaN where the file holds 0 (no sensor reading).

    Raises
    ------
    FrameReadError
        If the file is missing, unreadable, truncated, cannot be decoded or has colour
        channels (names the path).
    """
    import cv2

    img = read_image_file(path, flags=cv2.IMREAD_UNCHANGED, what="depth map")
    if img.ndim != 2:
        raise FrameReadError(f"depth map {display_path(path)} has {img.shape[2]} channels; a depth map "
                             "has one (a 16-bit grayscale PNG)", path=path)
    return _depth_mm(img, unit_mm)


def _depth_mm(raw: np.ndarray, unit_mm: float) -> np.ndarray:
    out = raw.astype(np.float32) * np.float32(unit_mm)
    out[raw == 0] = np.nan
    return out


def _read_stack(paths: Sequence[Path], idx: np.ndarray, read: Callable[[Path], np.ndarray],
                what: str) -> list[np.ndarray]:
    """Read ``paths[i]`` for ``i`` in ``idx`` with ``read``; all must share one shape."""
    imgs = []
    first: tuple[Path, tuple[int, ...]] | None = None
    for i in idx:
        path = paths[int(i)]
        img = read(path)
        if first is None:
            first = (path, img.shape)
        elif img.shape != first[1]:
            raise FrameReadError(
                f"{what} {display_path(path)} has shape {img.shape}, but {what} "
                f"{display_path(first[0])} of the same clip has shape {first[1]}", path=path
            )
        imgs.append(img)
    return imgs


def _to_gray(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma, as OpenCV's RGB2GRAY (works on (..., 3) uint8)."""
    import cv2

    if rgb.ndim == 4:
        return np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in rgb])
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


@dataclass(frozen=True, eq=False)
class CheckedFrames:
    """Frames of a clip read under an ``on_bad_frame`` policy (:meth:`Clip.load_checked`).

    Attributes
    ----------
    frames : numpy.ndarray, shape (N, H, W, 3) or (N, H, W), uint8
        The frames returned: every frame (``'raise'``, ``'interpolate'``) or the readable
        ones (``'skip'``).
    indices : tuple of int
        Index into ``clip.frames`` of each returned frame.
    bad : tuple of int
        Indices of the unreadable frames (dropped with ``'skip'``, replaced with
        ``'interpolate'``).
    reasons : tuple of str
        Why each bad frame could not be read (the :class:`~mxkit.errors.FrameReadError`
        message, naming the file).
    policy : str
        The policy applied.
    """

    frames: np.ndarray
    indices: tuple[int, ...]
    bad: tuple[int, ...]
    reasons: tuple[str, ...]
    policy: str


def _interpolate_bad(frames: list[np.ndarray | None], bad: Sequence[int]) -> None:
    """Fill ``frames[i]`` for ``i`` in ``bad`` (in place) by linear interpolation in time
    between the nearest readable frames (the nearest one is held before the first and after
    the last readable frame); rounded to the nearest integer (half to even)."""
    good = [i for i, f in enumerate(frames) if f is not None]
    for i in bad:
        before = [g for g in good if g < i]
        after = [g for g in good if g > i]
        if before and after:
            lo, hi = before[-1], after[0]
            w = (i - lo) / (hi - lo)
            mix = (1.0 - w) * frames[lo].astype(np.float64) + w * frames[hi].astype(np.float64)
            frames[i] = np.rint(mix).astype(np.uint8)
        else:
            frames[i] = frames[before[-1] if before else after[0]].copy()


@dataclass(frozen=True, eq=False, kw_only=True)
class Clip:
    """One labelled (micro-)expression sample.

    Parameters
    ----------
    dataset : str
        Dataset name (``'casme2'``, ``'samm'``, ``'smic'``, ``'synth'``, ...).
    subject : str
        Subject folder name as the dataset names it (``'sub01'``, ``'006'``, ``'s1'``).
    clip_id : str
        Sample name (``'EP02_01f'``, ``'006_1_2'``); unique within a subject.
    frames : tuple of path-like, or numpy.ndarray of shape (T, H, W, 3) uint8
        Frame files (read lazily) or frames in memory (RGB). A ``(T, H, W)`` gray array is
        expanded to three channels.
    fps : float
        Frame rate of the recording.
    onset, apex, offset : int
        0-based indices into ``frames``; ``apex`` may be None (unknown). ``offset`` defaults
        to the last frame. ``0 <= onset <= apex <= offset < n_frames`` must hold.
    frame_numbers : sequence of int, optional
        The dataset's frame numbers of ``frames`` (default ``0 .. T-1``).
    au_string : str, optional
        The AU cell as written (``'4+L10'``, ``'12'``, ``'?'``).
    aus : tuple of AU, optional
        Parsed AUs; parsed leniently from ``au_string`` when omitted.
    emotion : str, optional
        Emotion label exactly as written (``'happiness'``, ``'Other'``, ``'negative'``).
    objective_class : int, optional
        Objective class 1..7 (= I..VII) of MEGC2018, where the dataset provides it.
    label : str, optional
        Class under a protocol, set by :meth:`mxkit.data.Protocol.apply`.
    meta : dict, optional
        Anything else (source file and row, notes, sheet values kept for reference, ...).
    ground_truth : object, optional
        Synthetic 3D truth attached by a generator; never set by the real-data loaders.
    depth : tuple of path-like, or numpy.ndarray of shape (T, H, W), optional
        One depth map per frame, aligned to the colour frames (files read lazily by
        :meth:`load_depth`, or an array of stored values). None: no depth.
    depth_unit_mm : float, optional
        Millimetres per stored depth unit (default 1.0: stored values are mm).

    Notes
    -----
    A Clip is immutable (use :meth:`replace` / :meth:`with_label`) and picklable. Clips compare
    by identity, because frames may be arrays; compare :attr:`key` or :meth:`to_dict` instead.

    Examples
    --------
    >>> import numpy as np
    >>> clip = Clip(dataset="synth", subject="s1", clip_id="c1",
    ...             frames=np.zeros((5, 4, 4, 3), np.uint8), fps=200, apex=2)
    >>> clip.n_frames, clip.offset, clip.load_frames([0, 2]).shape
    (5, 4, (2, 4, 4, 3))
    """

    dataset: str
    subject: str
    clip_id: str
    frames: tuple[Path, ...] | np.ndarray
    fps: float
    onset: int = 0
    apex: int | None = None
    offset: int | None = None
    frame_numbers: tuple[int, ...] | None = None
    au_string: str | None = None
    aus: tuple[AU, ...] | None = None
    emotion: str | None = None
    objective_class: int | None = None
    label: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    ground_truth: Any = None
    depth: tuple[Path, ...] | np.ndarray | None = None
    depth_unit_mm: float = 1.0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("dataset", "subject", "clip_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise InputValueError(f"Clip.{name} must be a non-empty str; got {value!r}")
        frames = self.frames
        if isinstance(frames, np.ndarray):
            if frames.dtype != np.uint8:
                raise InputValueError(f"Clip frames in memory must be uint8; got dtype {frames.dtype}")
            if frames.ndim == 3:
                frames = np.repeat(frames[..., None], 3, axis=3)
            if frames.ndim != 4 or frames.shape[3] != 3 or min(frames.shape[:3]) < 1:
                raise ShapeError(
                    f"Clip frames in memory must have shape (T, H, W, 3) with T, H, W >= 1; "
                    f"got {self.frames.shape}"
                )
        else:
            if isinstance(frames, (str, os.PathLike)):
                raise InputValueError(
                    "Clip frames must be a sequence of frame paths or an array, not a single path"
                )
            if not isinstance(frames, Iterable) or isinstance(frames, bytes):
                raise InputValueError(
                    f"Clip frames must be a sequence of frame paths or a (T, H, W, 3) uint8 array; got "
                    f"{type(frames).__name__}")
            frames = list(frames)
            kinds = {type(p).__name__ for p in frames if not isinstance(p, (str, os.PathLike))}
            if kinds:
                hint = (": stack frames in memory into one array, np.stack(frames)"
                        if any(isinstance(p, np.ndarray) for p in frames) else "")
                raise InputValueError(
                    f"Clip frames must be a sequence of frame paths or a (T, H, W, 3) uint8 array; the "
                    f"sequence holds {', '.join(sorted(kinds))}{hint}")
            frames = tuple(Path(p) for p in frames)
            if not frames:
                raise InputValueError(f"Clip {self.clip_id!r} has no frames")
        set_(self, "frames", frames)
        n = len(frames)
        if (not isinstance(self.fps, numbers.Real) or isinstance(self.fps, bool) or not self.fps > 0
                or not np.isfinite(self.fps)):
            raise InputValueError(f"Clip.fps must be a positive finite number (frames per second); "
                                  f"got {self.fps!r}")
        set_(self, "fps", float(self.fps))
        nums = tuple(range(n)) if self.frame_numbers is None else tuple(int(x) for x in self.frame_numbers)
        if len(nums) != n:
            raise InputValueError(
                f"Clip {self.clip_id!r}: frame_numbers has {len(nums)} entries for {n} frames"
            )
        set_(self, "frame_numbers", nums)
        offset = n - 1 if self.offset is None else self.offset
        for name, value in (("onset", self.onset), ("offset", offset), ("apex", self.apex)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise InputValueError(f"Clip.{name} must be an int index; got {value!r}")
        onset, apex = int(self.onset), (None if self.apex is None else int(self.apex))
        offset = int(offset)
        if not 0 <= onset <= offset < n:
            raise InputValueError(
                f"Clip {self.clip_id!r}: need 0 <= onset <= offset < n_frames; got onset={onset}, "
                f"offset={offset}, n_frames={n}"
            )
        if apex is not None and not onset <= apex <= offset:
            raise InputValueError(
                f"Clip {self.clip_id!r}: apex index {apex} is outside onset..offset ({onset}..{offset})"
            )
        set_(self, "onset", onset)
        set_(self, "offset", offset)
        set_(self, "apex", apex)
        if self.aus is None:
            set_(self, "aus", parse_au_string(self.au_string).aus)
        else:
            aus = tuple(self.aus)
            if not all(isinstance(a, AU) for a in aus):
                raise InputValueError("Clip.aus must hold AU items (see mxkit.data.parse_aus)")
            set_(self, "aus", aus)
        if self.objective_class is not None:
            oc = self.objective_class
            if isinstance(oc, bool) or not isinstance(oc, numbers.Integral):
                raise InputValueError(f"Clip.objective_class must be an int 1..7; got {oc!r}")
            set_(self, "objective_class", int(oc))
        set_(self, "meta", dict(self.meta))
        self._check_depth(n)

    def _check_depth(self, n: int) -> None:
        set_ = object.__setattr__
        unit = self.depth_unit_mm
        if isinstance(unit, bool) or not isinstance(unit, numbers.Real) or not np.isfinite(unit) or unit <= 0:
            raise InputValueError(f"Clip.depth_unit_mm must be a positive number; got {unit!r}")
        set_(self, "depth_unit_mm", float(unit))
        d = self.depth
        if d is None:
            return
        if isinstance(d, np.ndarray):
            if d.ndim != 3 or d.shape[0] != n or not (np.issubdtype(d.dtype, np.integer)
                                                      or np.issubdtype(d.dtype, np.floating)):
                raise ShapeError(f"Clip {self.clip_id!r}: depth in memory must be a numeric array of "
                                 f"shape ({n}, H, W) (one map per frame); got {d.dtype} {d.shape}")
            return
        if isinstance(d, (str, os.PathLike)):
            raise InputValueError("Clip depth must be a sequence of depth-map paths or an array, not a single path")
        paths = tuple(Path(p) for p in d)
        if len(paths) != n:
            raise InputValueError(f"Clip {self.clip_id!r}: {len(paths)} depth maps for {n} frames")
        set_(self, "depth", paths)

    # ------------------------------------------------------------------ properties
    @property
    def n_frames(self) -> int:
        """Number of frames T."""
        return len(self.frames)

    @property
    def in_memory(self) -> bool:
        """True when the frames are an array rather than files."""
        return isinstance(self.frames, np.ndarray)

    @property
    def has_depth(self) -> bool:
        """True when the clip carries depth maps (:meth:`load_depth`)."""
        return self.depth is not None

    @property
    def key(self) -> tuple[str, str, str]:
        """``(dataset, subject, clip_id)``: identifies the sample."""
        return (self.dataset, self.subject, self.clip_id)

    @property
    def subject_key(self) -> str:
        """``'dataset/subject'``: the subject across datasets (LOSO folds)."""
        return f"{self.dataset}/{self.subject}"

    @property
    def onset_frame(self) -> int:
        """Dataset frame number of the onset."""
        return self.frame_numbers[self.onset]

    @property
    def offset_frame(self) -> int:
        """Dataset frame number of the offset."""
        return self.frame_numbers[self.offset]

    @property
    def apex_frame(self) -> int | None:
        """Dataset frame number of the apex, or None."""
        return None if self.apex is None else self.frame_numbers[self.apex]

    @property
    def apex_or_middle(self) -> int:
        """Apex index, or ``onset + (offset - onset) // 2`` when the apex is unknown (SMIC)."""
        return self.apex if self.apex is not None else self.onset + (self.offset - self.onset) // 2

    @property
    def duration_s(self) -> float:
        """``(offset - onset + 1) / fps`` in seconds."""
        return (self.offset - self.onset + 1) / self.fps

    @property
    def frames_dir(self) -> Path | None:
        """Folder holding the frame files (None for in-memory frames)."""
        if self.in_memory:
            return None
        parents = {p.parent for p in self.frames}
        return parents.pop() if len(parents) == 1 else Path(os.path.commonpath([str(p) for p in parents]))

    # ------------------------------------------------------------------ frames
    def _index(self, indices: Any) -> np.ndarray:
        n = self.n_frames
        if indices is None:
            return np.arange(n)
        if isinstance(indices, slice):
            return np.arange(n)[indices]
        if isinstance(indices, numbers.Integral) and not isinstance(indices, bool):
            indices = [indices]
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise InputValueError(f"boolean frame mask must have shape ({n},); got {idx.shape}")
            return np.flatnonzero(idx)
        if idx.size == 0:
            return idx.astype(int)
        if not np.issubdtype(idx.dtype, np.integer) or idx.ndim != 1:
            raise InputValueError(f"frame indices must be ints, a slice or a mask; got {indices!r}")
        bad = idx[(idx < -n) | (idx >= n)]
        if bad.size:
            raise InputValueError(
                f"frame index {int(bad[0])} is out of range for clip {self.clip_id!r} with {n} frames"
            )
        return np.where(idx < 0, idx + n, idx)

    def load_frames(self, indices: int | Sequence[int] | slice | None = None, *,
                    gray: bool = False) -> np.ndarray:
        """Read frames (lazily, only those asked for).

        Parameters
        ----------
        indices : int, sequence of int, slice, bool mask or None
            Indices into ``frames`` (negative ones count from the end); None reads all.
        gray : bool, optional
            Return grayscale (BT.601 luma) instead of RGB.

        Returns
        -------
        numpy.ndarray, shape (N, H, W, 3) or (N, H, W) if gray, uint8
            RGB frames.

        Raises
        ------
        FrameReadError
            If a file is missing or unreadable, or frames differ in size (names the path).
        InputValueError
            If an index is out of range.
        """
        idx = self._index(indices)
        if self.in_memory:
            out = np.array(self.frames[idx])
            if gray:
                return _to_gray(out) if len(out) else out[..., 0]
            return out
        imgs = _read_stack(self.frames, idx, lambda p: read_image(p, gray=gray), "frame")
        if not imgs:
            return np.zeros((0, 0, 0) if gray else (0, 0, 0, 3), np.uint8)
        return np.stack(imgs)

    def load_checked(self, *, on_bad_frame: str = "raise", gray: bool = False) -> CheckedFrames:
        """Read every frame, applying a policy to the ones that cannot be read.

        A frame is *bad* when :func:`read_image` raises :class:`~mxkit.errors.FrameReadError`
        for it (missing, no permission, empty, truncated, corrupt, undecodable) or when its
        size differs from the first readable frame's.

        Parameters
        ----------
        on_bad_frame : {'raise', 'skip', 'interpolate'}, default 'raise'
            ``'raise'``: the first bad frame's :class:`~mxkit.errors.FrameReadError`;
            ``'skip'``: bad frames are left out (``CheckedFrames.indices`` says which frames
            are returned); ``'interpolate'``: each bad frame is replaced by the linear
            interpolation in time of the nearest readable frames before and after it (for a
            single bad frame between two good ones: their mean, rounded), or a copy of the
            nearest readable frame at either end of the clip.
        gray : bool, default False
            Grayscale instead of RGB.

        Returns
        -------
        CheckedFrames

        Raises
        ------
        OptionError
            Unknown policy.
        FrameReadError
            A bad frame with ``'raise'``, or no readable frame at all (names the files).

        Examples
        --------
        >>> import numpy as np
        >>> clip = Clip(dataset="synth", subject="s1", clip_id="c1",
        ...             frames=np.zeros((3, 4, 4, 3), np.uint8), fps=30)
        >>> clip.load_checked(on_bad_frame="skip").bad
        ()
        """
        check_option(on_bad_frame, BAD_FRAME_POLICIES, "on_bad_frame")
        n = self.n_frames
        if self.in_memory or on_bad_frame == "raise":
            frames = self.load_frames(gray=gray)
            return CheckedFrames(frames, tuple(range(n)), (), (), on_bad_frame)
        imgs: list[np.ndarray | None] = []
        bad: list[int] = []
        reasons: list[str] = []
        first: tuple[Path, tuple[int, ...]] | None = None
        for i, path in enumerate(self.frames):
            try:
                img = read_image(path, gray=gray)
                if first is not None and img.shape != first[1]:
                    raise FrameReadError(
                        f"frame {display_path(path)} has shape {img.shape}, but frame "
                        f"{display_path(first[0])} of the same clip has shape {first[1]}", path=path)
            except FrameReadError as exc:
                imgs.append(None)
                bad.append(i)
                reasons.append(str(exc))
                continue
            if first is None:
                first = (path, img.shape)
            imgs.append(img)
        if len(bad) == n:
            listed = "\n  ".join(reasons[:5]) + ("\n  ..." if n > 5 else "")
            raise FrameReadError(f"clip {display_path('/'.join(self.key))}: none of its {n} frames can be "
                                 f"read:\n  {listed}", path=self.frames[0])
        if on_bad_frame == "skip":
            keep = [i for i in range(n) if imgs[i] is not None]
            return CheckedFrames(np.stack([imgs[i] for i in keep]), tuple(keep), tuple(bad),
                                 tuple(reasons), on_bad_frame)
        _interpolate_bad(imgs, bad)
        return CheckedFrames(np.stack(imgs), tuple(range(n)), tuple(bad), tuple(reasons), on_bad_frame)

    def without_frames(self, indices: Sequence[int]) -> Clip:
        """A copy without the frames at ``indices`` (frame numbers, depth and the onset, apex
        and offset indices follow).

        Raises
        ------
        InputValueError
            An index is out of range, or is the clip's onset, apex or offset frame (an
            annotated frame cannot be dropped), or no frame would be left.
        """
        drop = set(int(i) for i in self._index(list(indices)))
        if not drop:
            return self
        for name in ("onset", "apex", "offset"):
            value = getattr(self, name)
            if value is not None and value in drop:
                raise InputValueError(
                    f"clip {display_path('/'.join(self.key))}: frame {self.frame_numbers[value]} is its "
                    f"{name}; an annotated frame cannot be dropped")
        keep = [i for i in range(self.n_frames) if i not in drop]
        if not keep:
            raise InputValueError(f"clip {display_path('/'.join(self.key))}: no frame would be left")
        new_index = {old: k for k, old in enumerate(keep)}
        frames = self.frames[keep] if self.in_memory else [self.frames[i] for i in keep]
        depth = self.depth
        if depth is not None:
            depth = depth[keep] if isinstance(depth, np.ndarray) else [depth[i] for i in keep]
        return dataclasses.replace(
            self, frames=frames, depth=depth, frame_numbers=[self.frame_numbers[i] for i in keep],
            onset=new_index[self.onset], offset=new_index[self.offset],
            apex=None if self.apex is None else new_index[self.apex])

    def load_depth(self, indices: int | Sequence[int] | slice | None = None) -> np.ndarray:
        """Read depth maps (lazily, only those asked for), in millimetres.

        Parameters
        ----------
        indices : int, sequence of int, slice, bool mask or None
            Frame indices, as in :meth:`load_frames`; None reads all.

        Returns
        -------
        numpy.ndarray, shape (N, H, W), float32
            Depth in mm (stored value x :attr:`depth_unit_mm`); NaN where the sensor gave no
            reading (stored 0, or NaN in an array).

        Raises
        ------
        InputValueError
            If the clip has no depth, or an index is out of range.
        FrameReadError
            If a depth file is missing, unreadable or not single-channel, or maps differ in
            size (names the path).
        """
        if self.depth is None:
            raise InputValueError(f"clip {self.subject}/{self.clip_id} has no depth maps")
        idx = self._index(indices)
        if isinstance(self.depth, np.ndarray):
            return _depth_mm(np.asarray(self.depth[idx]), self.depth_unit_mm)
        maps = _read_stack(self.depth, idx, lambda p: read_depth(p, unit_mm=self.depth_unit_mm),
                           "depth map")
        if not maps:
            return np.zeros((0, 0, 0), np.float32)
        return np.stack(maps)

    def frame(self, i: int, *, gray: bool = False) -> np.ndarray:
        """Read frame ``i`` as ``(H, W, 3)`` RGB uint8 (``(H, W)`` if gray)."""
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise InputValueError(f"frame index must be an int; got {i!r}")
        return self.load_frames([int(i)], gray=gray)[0]

    # ------------------------------------------------------------------ conversion
    def with_label(self, label: str | None) -> Clip:
        """A copy with ``label`` set."""
        return dataclasses.replace(self, label=label)

    def replace(self, **changes: Any) -> Clip:
        """A copy with some fields changed (:func:`dataclasses.replace`)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python summary (JSON-friendly except ``meta`` values that are not).

        ``frames`` is the list of paths as str, or None for in-memory frames.
        """
        return {
            "dataset": self.dataset,
            "subject": self.subject,
            "subject_key": self.subject_key,
            "clip_id": self.clip_id,
            "label": self.label,
            "emotion": self.emotion,
            "objective_class": self.objective_class,
            "au_string": self.au_string,
            "aus": format_aus(self.aus),
            "n_frames": self.n_frames,
            "fps": self.fps,
            "onset": self.onset,
            "apex": self.apex,
            "offset": self.offset,
            "onset_frame": self.onset_frame,
            "apex_frame": self.apex_frame,
            "offset_frame": self.offset_frame,
            "duration_s": self.duration_s,
            "frame_numbers": list(self.frame_numbers),
            "frames": None if self.in_memory else [str(p) for p in self.frames],
            "frames_dir": None if self.frames_dir is None else str(self.frames_dir),
            "has_ground_truth": self.ground_truth is not None,
            "has_depth": self.depth is not None,
            "depth": (None if self.depth is None or isinstance(self.depth, np.ndarray)
                      else [str(p) for p in self.depth]),
            "depth_unit_mm": self.depth_unit_mm,
            "meta": dict(self.meta),
        }

    def __repr__(self) -> str:
        apex = "None" if self.apex is None else str(self.apex)
        return (
            f"Clip({self.dataset}/{self.subject}/{self.clip_id}, {self.n_frames} frames @ "
            f"{self.fps:g} fps, onset={self.onset} apex={apex} offset={self.offset}, "
            f"emotion={self.emotion!r}, aus={format_aus(self.aus)!r}"
            + (f", label={self.label!r}" if self.label is not None else "")
            + (", depth" if self.depth is not None else "") + ")"
        )


_DF_COLUMNS = (
    "dataset", "subject", "subject_key", "clip_id", "label", "emotion", "objective_class",
    "au_string", "aus", "n_frames", "fps", "onset", "apex", "offset", "onset_frame",
    "apex_frame", "offset_frame", "duration_s", "frames_dir", "has_ground_truth",
)


class ClipSet:
    """An ordered, immutable collection of :class:`Clip` with dataset-level information.

    Parameters
    ----------
    clips : iterable of Clip
    problems : iterable of dict, optional
        Problem rows (see :mod:`mxkit.data.problems`); exposed as the :attr:`problems` table.
    excluded : iterable of dict, optional
        Samples removed by a protocol, with the reason (the :attr:`excluded` table).
    protocol_card : dict, optional
        The card of the protocol that labelled these clips (:meth:`Protocol.card`).
    name : str, optional
        Free label shown in the repr.

    Examples
    --------
    >>> import numpy as np
    >>> f = np.zeros((3, 2, 2, 3), np.uint8)
    >>> cs = ClipSet([Clip(dataset="d", subject=s, clip_id=c, frames=f, fps=30)
    ...               for s, c in [("a", "1"), ("a", "2"), ("b", "1")]])
    >>> len(cs), cs.subjects
    (3, ('d/a', 'd/b'))
    >>> [(k, len(tr), len(te)) for k, tr, te in cs.loso_splits()]
    [('d/a', 1, 2), ('d/b', 2, 1)]
    """

    def __init__(self, clips: Iterable[Clip] = (), *, problems: Iterable[Mapping[str, Any]] = (),
                 excluded: Iterable[Mapping[str, Any]] = (),
                 protocol_card: Mapping[str, Any] | None = None, name: str | None = None) -> None:
        clips = tuple(clips)
        for i, c in enumerate(clips):
            if not isinstance(c, Clip):
                raise InputValueError(f"ClipSet item {i} is a {type(c).__name__}, not a Clip")
        self._clips = clips
        self._problems = tuple(dict(p) for p in problems)
        self._excluded = tuple(dict(e) for e in excluded)
        self._card = None if protocol_card is None else dict(protocol_card)
        self.name = name

    # ------------------------------------------------------------------ container protocol
    def __len__(self) -> int:
        return len(self._clips)

    def __iter__(self) -> Iterator[Clip]:
        return iter(self._clips)

    def __getitem__(self, item: Any) -> Clip | ClipSet:
        """``cs[i]`` is a Clip; ``cs[a:b]``, ``cs[[i, j]]`` and ``cs[mask]`` are ClipSets."""
        if isinstance(item, numbers.Integral) and not isinstance(item, bool):
            try:
                return self._clips[int(item)]
            except IndexError:
                raise InputValueError(
                    f"clip index {item} is out of range for a ClipSet of {len(self)} clips"
                ) from None
        if isinstance(item, slice):
            return self._derive(self._clips[item])
        idx = np.asarray(item)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise InputValueError(f"boolean mask must have shape ({len(self)},); got {idx.shape}")
            return self._derive([c for c, keep in zip(self._clips, idx, strict=True) if keep])
        if idx.ndim == 1 and (idx.size == 0 or np.issubdtype(idx.dtype, np.integer)):
            n = len(self)
            if idx.size and (idx.min() < -n or idx.max() >= n):
                raise InputValueError(f"clip index out of range for a ClipSet of {n} clips")
            return self._derive([self._clips[int(i)] for i in idx])
        raise InputValueError(
            f"ClipSet indices must be an int, a slice, a list of ints or a bool mask; got {item!r}"
        )

    def __repr__(self) -> str:
        datasets = sorted({c.dataset for c in self._clips})
        extra = f", {len(self._problems)} problems" if self._problems else ""
        if self._card is not None:
            extra += f", protocol={self._card.get('name')!r}"
        name = f"{self.name!r}, " if self.name else ""
        return (f"ClipSet({name}{len(self)} clips, {len(self.subjects)} subjects, "
                f"datasets={datasets}{extra})")

    def _derive(self, clips: Iterable[Clip]) -> ClipSet:
        return ClipSet(clips, problems=self._problems, excluded=self._excluded,
                       protocol_card=self._card, name=self.name)

    # ------------------------------------------------------------------ information
    @property
    def clips(self) -> tuple[Clip, ...]:
        """The clips, in order."""
        return self._clips

    @property
    def subjects(self) -> tuple[str, ...]:
        """Subject keys (``'dataset/subject'``) in order of first appearance."""
        return tuple(dict.fromkeys(c.subject_key for c in self._clips))

    @property
    def datasets(self) -> tuple[str, ...]:
        """Dataset names in order of first appearance."""
        return tuple(dict.fromkeys(c.dataset for c in self._clips))

    @property
    def problems(self) -> pd.DataFrame:
        """Anomalies found while loading (columns ``kind, dataset, subject, clip_id, file,
        sheet, row, column, detail, action``); empty when there were none."""
        return problems_frame(self._problems)

    @property
    def excluded(self) -> pd.DataFrame:
        """Samples a protocol removed: ``dataset, subject, clip_id, value, reason``."""
        import pandas as pd

        cols = ["dataset", "subject", "clip_id", "value", "reason"]
        return pd.DataFrame([{c: e.get(c) for c in cols} for e in self._excluded], columns=cols)

    @property
    def protocol_card(self) -> dict[str, Any] | None:
        """Card of the protocol that labelled this set (None if unlabelled)."""
        return None if self._card is None else dict(self._card)

    @property
    def classes(self) -> tuple[str, ...] | None:
        """Ordered class names of the protocol, or None."""
        return None if self._card is None else tuple(self._card["classes"])

    def label_indices(self) -> np.ndarray:
        """Class index of every clip under the protocol (``classes.index(label)``), int64."""
        if self._card is None:
            raise InputValueError("this ClipSet has no protocol labels; use map_classes(protocol)")
        classes = list(self._card["classes"])
        return np.array([classes.index(c.label) for c in self._clips], dtype=np.int64)

    # ------------------------------------------------------------------ selection
    def filter(self, predicate: Callable[[Clip], bool] | None = None, *,
               dataset: str | Iterable[str] | None = None,
               subject: str | Iterable[str] | None = None,
               clip_id: str | Iterable[str] | None = None,
               emotion: str | Iterable[str] | None = None,
               label: str | Iterable[str] | None = None,
               objective_class: int | Iterable[int] | None = None) -> ClipSet:
        """Clips that pass ``predicate`` and match every keyword given.

        Keyword values are one value or a collection of allowed values. ``subject`` matches
        either the subject folder name (``'sub01'``) or the key (``'casme2/sub01'``).

        Examples
        --------
        >>> import numpy as np
        >>> f = np.zeros((3, 2, 2, 3), np.uint8)
        >>> cs = ClipSet([Clip(dataset="d", subject="a", clip_id=str(i), frames=f, fps=30,
        ...                    emotion=e) for i, e in enumerate(["happiness", "fear", "others"])])
        >>> len(cs.filter(emotion=["happiness", "others"])), len(cs.filter(lambda c: c.n_frames > 3))
        (2, 0)
        """
        def allowed(v: Any) -> set | None:
            if v is None:
                return None
            if isinstance(v, (str, numbers.Integral)):
                return {v}
            return set(v)

        tests = {k: allowed(v) for k, v in dict(dataset=dataset, subject=subject, clip_id=clip_id,
                                                emotion=emotion, label=label,
                                                objective_class=objective_class).items()}

        def keep(c: Clip) -> bool:
            for k, vals in tests.items():
                if vals is None:
                    continue
                if k == "subject":
                    if c.subject not in vals and c.subject_key not in vals:
                        return False
                elif getattr(c, k) not in vals:
                    return False
            return predicate is None or bool(predicate(c))

        return self._derive([c for c in self._clips if keep(c)])

    def find(self, clip_id: str, subject: str | None = None) -> Clip:
        """The one clip with this id (and subject, when ids repeat across subjects)."""
        hits = [c for c in self._clips if c.clip_id == clip_id
                and (subject is None or subject in (c.subject, c.subject_key))]
        if len(hits) != 1:
            what = "no clip" if not hits else f"{len(hits)} clips ({[c.subject_key for c in hits]})"
            raise InputValueError(
                f"{what} with clip_id={clip_id!r}" + (f" and subject={subject!r}" if subject else "")
                + ("; pass subject= to choose" if len(hits) > 1 else "")
            )
        return hits[0]

    def by_subject(self) -> dict[str, ClipSet]:
        """``{subject_key: ClipSet}`` in order of first appearance."""
        groups: dict[str, list[Clip]] = {}
        for c in self._clips:
            groups.setdefault(c.subject_key, []).append(c)
        return {k: self._derive(v) for k, v in groups.items()}

    def loso_splits(self) -> Iterator[tuple[str, ClipSet, ClipSet]]:
        """Leave-one-subject-out folds: yields ``(test_subject_key, train, test)``.

        Subjects are keyed by ``(dataset, subject)`` (:attr:`Clip.subject_key`), so subjects of
        different datasets that share an id are distinct folds (MEGC2019 rule). A train set
        never contains a clip of its test subject.
        """
        for key in self.subjects:
            test = [c for c in self._clips if c.subject_key == key]
            train = [c for c in self._clips if c.subject_key != key]
            yield key, self._derive(train), self._derive(test)

    def map_classes(self, protocol: Protocol | str) -> ClipSet:
        """Apply a class protocol (object or registered name); see :meth:`Protocol.apply`."""
        from .protocols import get_protocol

        proto = get_protocol(protocol) if isinstance(protocol, str) else protocol
        return proto.apply(self)

    @classmethod
    def concat(cls, sets: Iterable[ClipSet], *, name: str | None = None) -> ClipSet:
        """Join several sets (clips, problems and exclusions are concatenated)."""
        sets = list(sets)
        for s in sets:
            if not isinstance(s, ClipSet):
                raise InputValueError(f"ClipSet.concat takes ClipSets; got {type(s).__name__}")
        cards = [s._card for s in sets if s._card is not None]
        card = cards[0] if cards and all(c == cards[0] for c in cards) and len(cards) == len(sets) else None
        return cls([c for s in sets for c in s], problems=[p for s in sets for p in s._problems],
                   excluded=[e for s in sets for e in s._excluded], protocol_card=card, name=name)

    # ------------------------------------------------------------------ tables
    def to_dataframe(self, *, meta: bool = False) -> pd.DataFrame:
        """Tidy table, one row per clip.

        Columns: ``dataset, subject, subject_key, clip_id, label, emotion, objective_class,
        au_string, aus`` (canonical AU text), ``n_frames, fps, onset, apex, offset`` (indices),
        ``onset_frame, apex_frame, offset_frame`` (dataset frame numbers), ``duration_s,
        frames_dir, has_ground_truth``; with ``meta=True`` also one ``meta_<key>`` column per
        meta key. Integer columns that can be missing (apex) use pandas' nullable ``Int64``.
        """
        import pandas as pd

        rows = []
        for c in self._clips:
            d = c.to_dict()
            row = {k: text_cell(d[k]) for k in _DF_COLUMNS}
            if meta:
                for k, v in c.meta.items():
                    row[f"meta_{k}"] = text_cell(v)
            rows.append(row)
        df = pd.DataFrame(rows, columns=list(_DF_COLUMNS) if not rows else None)
        if not rows:
            return df
        for col in ("apex", "apex_frame", "objective_class"):
            df[col] = df[col].astype("Int64")
        return df

    def problem_kinds(self) -> dict[str, int]:
        """``{kind: count}`` of the problems table."""
        out: dict[str, int] = {}
        for p in self._problems:
            out[p["kind"]] = out.get(p["kind"], 0) + 1
        return out

