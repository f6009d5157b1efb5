"""Whole long videos with their annotated expression intervals: :class:`LongVideo` and
:class:`LongVideoSet` (spotting data: SAMM Long Videos, CAS(ME)³ Part A, SynthME's long-video
layouts).

A :class:`LongVideo` is one recording -- every frame of its folder, read lazily like a
:class:`~mxkit.data.Clip`'s -- plus an :attr:`~LongVideo.intervals` table with one row per
annotated micro- or macro-expression (columns :data:`INTERVAL_COLUMNS`):

=====================  ===========================================================================
column                 meaning
=====================  ===========================================================================
``expression_id``      the label file's name of the expression (SAMM-LV ``'006_1_1'``), unique
                       within the video
``expression_type``    ``'micro'`` or ``'macro'``
``onset_frame``        dataset frame numbers as written in the labels (``apex_frame`` is
``apex_frame``         ``<NA>`` when not annotated: SAMM-LV writes -1)
``offset_frame``
``onset, apex,``       0-based indices into the video's frames (``<NA>`` when that frame is not
``offset``             in the video, e.g. an offset past its last frame)
``au_string``          the AU cell as text
``emotion``            the emotion label where the dataset has one (else ``None``)
``notes``              free text of the labels
``file, sheet, row``   where the row was read
=====================  ===========================================================================

Frame numbers and indices are integer columns of pandas' nullable ``Int64`` dtype.
:meth:`LongVideoSet.clips` cuts the intervals into ordinary :class:`~mxkit.data.Clip` objects
(recognition, :func:`mxkit.pipeline.prepare`); spotting works on the videos themselves.

Examples
--------
>>> import numpy as np, pandas as pd
>>> video = LongVideo(dataset="toy", subject="001", video_id="001_1",
...                   frames=np.zeros((50, 4, 4, 3), np.uint8), fps=200, frame_numbers=range(1, 51),
...                   intervals=[{"expression_id": "001_1_1", "expression_type": "micro",
...                               "onset_frame": 10, "apex_frame": 14, "offset_frame": 20}])
>>> video.intervals[["expression_id", "onset", "apex", "offset"]].values.tolist()
[['001_1_1', 9, 13, 19]]
>>> clip = video.clip("001_1_1")
>>> clip.n_frames, clip.apex_frame
(11, 14)
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputValueError
from .clip import Clip, ClipSet
from .problems import problems_frame

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["LongVideo", "LongVideoSet", "INTERVAL_COLUMNS", "EXPRESSION_TYPES"]

#: Columns of :attr:`LongVideo.intervals` (see the module docstring).
INTERVAL_COLUMNS: tuple[str, ...] = (
    "expression_id", "expression_type", "onset_frame", "apex_frame", "offset_frame", "onset",
    "apex", "offset", "au_string", "emotion", "notes", "file", "sheet", "row",
)
#: Values of ``expression_type``.
EXPRESSION_TYPES: tuple[str, ...] = ("micro", "macro")
_INT_COLUMNS = ("onset_frame", "apex_frame", "offset_frame", "onset", "apex", "offset", "row")


def _intervals_frame(rows: Any, numbers_: Sequence[int], video_id: str) -> pd.DataFrame:
    import pandas as pd

    if isinstance(rows, pd.DataFrame):
        rows = rows.to_dict("records")
    rows = [dict(r) for r in (rows or ())]
    pos = {n: i for i, n in enumerate(numbers_)}
    out = []
    for i, r in enumerate(rows):
        for key in ("expression_id", "expression_type", "onset_frame", "offset_frame"):
            if r.get(key) is None or (isinstance(r.get(key), float) and np.isnan(r[key])):
                raise InputValueError(f"video {video_id!r}: interval {i} has no {key!r}")
        if r["expression_type"] not in EXPRESSION_TYPES:
            raise InputValueError(f"video {video_id!r}: interval {i} has expression_type "
                                  f"{r['expression_type']!r}; expected one of {list(EXPRESSION_TYPES)}")
        row = {c: r.get(c) for c in INTERVAL_COLUMNS}
        frames_ = {}
        for key in ("onset_frame", "apex_frame", "offset_frame"):
            v = row[key]
            if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
                frames_[key] = None
                continue
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise InputValueError(f"video {video_id!r}: interval {i} {key} must be an int; got {v!r}")
            frames_[key] = int(v)
        if frames_["onset_frame"] > frames_["offset_frame"]:
            raise InputValueError(f"video {video_id!r}: interval {i} ({row['expression_id']}) has its "
                                  "onset after its offset")
        row.update(frames_)
        for key in ("onset", "apex", "offset"):
            f = frames_[f"{key}_frame"]
            row[key] = None if f is None else pos.get(f)
        row["expression_id"] = str(row["expression_id"])
        out.append(row)
    ids = [r["expression_id"] for r in out]
    if len(set(ids)) != len(ids):
        dup = sorted({x for x in ids if ids.count(x) > 1})
        raise InputValueError(f"video {video_id!r}: expression_id values repeat: {dup}")
    df = pd.DataFrame(out, columns=list(INTERVAL_COLUMNS))
    for col in _INT_COLUMNS:
        df[col] = df[col].astype("Int64")
    return df


@dataclass(frozen=True, eq=False, kw_only=True)
class LongVideo:
    """One long recording with its annotated expression intervals.

    Parameters
    ----------
    dataset : str
        ``'samm_lv'``, ``'casme3'``, ...
    subject : str
        Subject folder name (``'006'``, ``'spNO.1'``).
    video_id : str
        Video name, unique within the dataset (SAMM-LV ``'006_1'``, CAS(ME)³ ``'spNO.1/a'``).
    frames : tuple of path-like, or numpy.ndarray of shape (T, H, W, 3) uint8
        Every frame of the video (files read lazily).
    fps : float
    frame_numbers : sequence of int, optional
        The dataset's frame numbers of ``frames`` (default ``0 .. T-1``), increasing.
    intervals : pandas.DataFrame or sequence of dict, optional
        One row per annotated expression with at least ``expression_id``,
        ``expression_type``, ``onset_frame``, ``offset_frame`` (``apex_frame``, ``au_string``,
        ``emotion``, ``notes``, ``file``, ``sheet``, ``row`` optional). The indices
        ``onset, apex, offset`` are computed from the frame numbers.
    depth : tuple of path-like or numpy.ndarray (T, H, W), optional
        Depth maps aligned to the frames (see :class:`~mxkit.data.Clip`).
    depth_unit_mm : float, optional
        Millimetres per stored depth unit.
    meta : dict, optional
        Folder, label file, anything else.
    """

    dataset: str
    subject: str
    video_id: str
    frames: tuple[Path, ...] | np.ndarray
    fps: float
    frame_numbers: Sequence[int] | None = None
    intervals: Any = None
    depth: tuple[Path, ...] | np.ndarray | None = None
    depth_unit_mm: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        view = Clip(dataset=self.dataset, subject=self.subject, clip_id=self.video_id,
                    frames=self.frames, fps=self.fps, frame_numbers=self.frame_numbers,
                    depth=self.depth, depth_unit_mm=self.depth_unit_mm)
        nums = view.frame_numbers
        if any(b <= a for a, b in zip(nums, nums[1:], strict=False)):
            raise InputValueError(f"video {self.video_id!r}: frame_numbers must increase")
        set_ = object.__setattr__
        for name in ("frames", "fps", "frame_numbers", "depth", "depth_unit_mm"):
            set_(self, name, getattr(view, name))
        set_(self, "meta", dict(self.meta))
        set_(self, "intervals", _intervals_frame(self.intervals, nums, self.video_id))
        self.__dict__["_view"] = view

    # ------------------------------------------------------------------ information
    @property
    def n_frames(self) -> int:
        """Number of frames T."""
        return len(self.frames)

    @property
    def duration_s(self) -> float:
        """``n_frames / fps``, seconds."""
        return self.n_frames / self.fps

    @property
    def has_depth(self) -> bool:
        return self.depth is not None

    @property
    def frames_dir(self) -> Path | None:
        """Folder holding the frame files (None for in-memory frames)."""
        return self._view.frames_dir

    @cached_property
    def _positions(self) -> dict[int, int]:
        return {n: i for i, n in enumerate(self.frame_numbers)}

    def index_of(self, frame_number: int) -> int | None:
        """0-based index of a dataset frame number, or None when the video lacks it."""
        return self._positions.get(int(frame_number))

    # ------------------------------------------------------------------ frames
    def load_frames(self, indices: int | Sequence[int] | slice | None = None, *,
                    gray: bool = False) -> np.ndarray:
        """Read frames by index (lazily; see :meth:`Clip.load_frames`), shape (N, H, W, 3) uint8."""
        return self._view.load_frames(indices, gray=gray)

    def frame(self, i: int, *, gray: bool = False) -> np.ndarray:
        """Frame ``i`` as ``(H, W, 3)`` RGB uint8 (``(H, W)`` if gray)."""
        return self._view.frame(i, gray=gray)

    def load_depth(self, indices: int | Sequence[int] | slice | None = None) -> np.ndarray:
        """Depth maps in mm, shape (N, H, W) float32 (see :meth:`Clip.load_depth`)."""
        return self._view.load_depth(indices)

    # ------------------------------------------------------------------ intervals
    def interval(self, expression_id: str) -> dict[str, Any]:
        """The interval row of ``expression_id`` as a dict."""
        hit = self.intervals[self.intervals["expression_id"] == str(expression_id)]
        if hit.empty:
            raise InputValueError(f"video {self.video_id!r} has no interval {expression_id!r}; it has "
                                  f"{self.intervals['expression_id'].tolist()}")
        return {k: (None if v is None or (not isinstance(v, str) and _isna(v)) else v)
                for k, v in hit.iloc[0].to_dict().items()}

    def clip(self, expression_id: str, *, margin: int = 0) -> Clip:
        """One interval as a :class:`Clip`: frames ``onset - margin .. offset + margin``
        (clipped to the video), onset/apex/offset indexing into them, labels copied.

        Raises
        ------
        InputValueError
            Unknown id, or an interval whose onset or offset frame is not in the video.
        """
        if isinstance(margin, bool) or not isinstance(margin, numbers.Integral) or margin < 0:
            raise InputValueError(f"margin must be a non-negative int; got {margin!r}")
        r = self.interval(expression_id)
        if r["onset"] is None or r["offset"] is None:
            raise InputValueError(f"video {self.video_id!r}: interval {expression_id!r} "
                                  f"({r['onset_frame']}..{r['offset_frame']}) is not inside the video's "
                                  f"frames {self.frame_numbers[0]}..{self.frame_numbers[-1]}")
        a = max(0, int(r["onset"]) - int(margin))
        b = min(self.n_frames - 1, int(r["offset"]) + int(margin))
        sel = slice(a, b + 1)
        frames = self.frames[sel]
        depth = None if self.depth is None else self.depth[sel]
        meta = {"video_id": self.video_id, "expression_type": r["expression_type"],
                "notes": r.get("notes"), **{f"label_{k}": r[k] for k in ("file", "sheet", "row")
                                             if r.get(k) is not None}}
        apex = None if r["apex"] is None else int(r["apex"]) - a
        return Clip(dataset=self.dataset, subject=self.subject, clip_id=str(expression_id),
                    frames=frames, fps=self.fps, onset=int(r["onset"]) - a, apex=apex,
                    offset=int(r["offset"]) - a, frame_numbers=self.frame_numbers[sel],
                    au_string=r.get("au_string"), emotion=r.get("emotion"),
                    meta={k: v for k, v in meta.items() if v is not None}, depth=depth,
                    depth_unit_mm=self.depth_unit_mm)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python summary (the intervals as a list of dicts)."""
        return {"dataset": self.dataset, "subject": self.subject, "video_id": self.video_id,
                "n_frames": self.n_frames, "fps": self.fps, "first_frame": self.frame_numbers[0],
                "last_frame": self.frame_numbers[-1], "duration_s": self.duration_s,
                "frames_dir": None if self.frames_dir is None else str(self.frames_dir),
                "has_depth": self.has_depth, "intervals": self.intervals.to_dict("records"),
                "meta": dict(self.meta)}

    def __repr__(self) -> str:
        counts = self.intervals["expression_type"].value_counts().to_dict()
        return (f"LongVideo({self.dataset}/{self.video_id}, {self.n_frames} frames @ {self.fps:g} fps, "
                f"{counts.get('micro', 0)} micro + {counts.get('macro', 0)} macro intervals"
                + (", depth" if self.has_depth else "") + ")")


def _isna(v: Any) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


_VIDEO_COLUMNS = ("dataset", "subject", "subject_key", "video_id", "n_frames", "fps", "first_frame",
                  "last_frame", "duration_s", "n_micro", "n_macro", "has_depth", "frames_dir")


class LongVideoSet:
    """An ordered collection of :class:`LongVideo` with the problems found while loading.

    Parameters
    ----------
    videos : iterable of LongVideo
    problems : iterable of dict, optional
        Problem rows (columns :data:`~mxkit.data.PROBLEM_COLUMNS`).
    name : str, optional
    """

    def __init__(self, videos: Iterable[LongVideo] = (), *,
                 problems: Iterable[Mapping[str, Any]] = (), name: str | None = None) -> None:
        videos = tuple(videos)
        for i, v in enumerate(videos):
            if not isinstance(v, LongVideo):
                raise InputValueError(f"LongVideoSet item {i} is a {type(v).__name__}, not a LongVideo")
        keys = [(v.dataset, v.video_id) for v in videos]
        if len(set(keys)) != len(keys):
            raise InputValueError("LongVideoSet: the same (dataset, video_id) appears twice")
        self._videos = videos
        self._problems = tuple(dict(p) for p in problems)
        self.name = name

    def __len__(self) -> int:
        return len(self._videos)

    def __iter__(self) -> Iterator[LongVideo]:
        return iter(self._videos)

    def __getitem__(self, i: int) -> LongVideo:
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise InputValueError(f"LongVideoSet index must be an int; got {i!r} (use find())")
        try:
            return self._videos[int(i)]
        except IndexError:
            raise InputValueError(f"video index {i} is out of range for {len(self)} videos") from None

    def __repr__(self) -> str:
        n = sum(len(v.intervals) for v in self._videos)
        extra = f", {len(self._problems)} problems" if self._problems else ""
        name = f"{self.name!r}, " if self.name else ""
        return f"LongVideoSet({name}{len(self)} videos, {n} intervals{extra})"

    @property
    def videos(self) -> tuple[LongVideo, ...]:
        return self._videos

    @property
    def problems(self) -> pd.DataFrame:
        """Anomalies found while loading (same columns as :attr:`ClipSet.problems`)."""
        return problems_frame(self._problems)

    def find(self, video_id: str) -> LongVideo:
        """The video named ``video_id``."""
        for v in self._videos:
            if v.video_id == video_id:
                return v
        raise InputValueError(f"no video {video_id!r}; videos are {[v.video_id for v in self._videos][:8]}")

    def intervals(self) -> pd.DataFrame:
        """Every interval of every video: ``dataset, subject, video_id`` then
        :data:`INTERVAL_COLUMNS`."""
        import pandas as pd

        parts = []
        for v in self._videos:
            df = v.intervals.copy()
            df.insert(0, "video_id", v.video_id)
            df.insert(0, "subject", v.subject)
            df.insert(0, "dataset", v.dataset)
            parts.append(df)
        cols = ["dataset", "subject", "video_id", *INTERVAL_COLUMNS]
        if not parts:
            return pd.DataFrame(columns=cols)
        return pd.concat(parts, ignore_index=True)[cols]

    def to_dataframe(self) -> pd.DataFrame:
        """One row per video: ``dataset, subject, subject_key, video_id, n_frames, fps,
        first_frame, last_frame, duration_s, n_micro, n_macro, has_depth, frames_dir``."""
        import pandas as pd

        rows = []
        for v in self._videos:
            counts = v.intervals["expression_type"].value_counts().to_dict()
            rows.append({"dataset": v.dataset, "subject": v.subject,
                         "subject_key": f"{v.dataset}/{v.subject}", "video_id": v.video_id,
                         "n_frames": v.n_frames, "fps": v.fps, "first_frame": v.frame_numbers[0],
                         "last_frame": v.frame_numbers[-1], "duration_s": v.duration_s,
                         "n_micro": counts.get("micro", 0), "n_macro": counts.get("macro", 0),
                         "has_depth": v.has_depth,
                         "frames_dir": None if v.frames_dir is None else str(v.frames_dir)})
        return pd.DataFrame(rows, columns=list(_VIDEO_COLUMNS))

    def clips(self, *, expression_type: str | None = None, margin: int = 0,
              whole_video: bool = False) -> ClipSet:
        """The intervals as a :class:`ClipSet` (one clip per interval, in video order).

        Parameters
        ----------
        expression_type : {'micro', 'macro'} or None, optional
            Keep one type (default both).
        margin : int, optional
            Frames of context before the onset and after the offset (clipped to the video).
        whole_video : bool, optional
            Each clip spans its whole video (SynthME's one-interval videos).

        Returns
        -------
        ClipSet
            Intervals whose onset or offset frame is not in their video are left out and
            listed as ``interval_outside_video`` problems (besides the set's own problems).
        """
        if expression_type is not None and expression_type not in EXPRESSION_TYPES:
            from .._checks import check_option

            check_option(expression_type, EXPRESSION_TYPES, "expression_type")
        clips, probs = [], list(self._problems)
        for v in self._videos:
            for r in v.intervals.itertuples(index=False):
                if expression_type is not None and r.expression_type != expression_type:
                    continue
                if _isna(r.onset) or _isna(r.offset):
                    if not any(p["kind"] == "interval_outside_video" and p.get("clip_id") == r.expression_id
                               and p.get("subject") == v.subject for p in probs):
                        probs.append(_outside_problem(v, r._asdict()))
                    continue
                m = max(int(r.onset), v.n_frames - 1 - int(r.offset)) if whole_video else margin
                clips.append(v.clip(r.expression_id, margin=m))
        return ClipSet(clips, problems=probs, name=self.name)


def _outside_problem(video: LongVideo, r: Mapping[str, Any]) -> dict[str, Any]:
    """The ``interval_outside_video`` problem row of an interval."""
    return {"kind": "interval_outside_video", "dataset": video.dataset, "subject": video.subject,
            "clip_id": r["expression_id"], "file": r.get("file"), "sheet": r.get("sheet"),
            "row": None if _isna(r.get("row")) else int(r["row"]), "column": None,
            "detail": f"interval {r['onset_frame']}..{r['offset_frame']} is not inside the frames "
                      f"{video.frame_numbers[0]}..{video.frame_numbers[-1]} of video "
                      f"{video.video_id!r}", "action": "skipped"}

