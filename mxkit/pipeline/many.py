"""``prepare_many``: prepare many clips in parallel processes, with the per-clip disk cache.

Interrupts and dying parents: on Ctrl-C (``KeyboardInterrupt``), SIGTERM turned into an
exception (as ``mxkit.cli`` does) or any other exception that is not a clip's own error, the
queued clips are cancelled and the running workers are terminated at once (killed after 2 s);
the clips already finished stay in the cache (entries are written atomically, so a killed
worker leaves none half-written). Workers ignore SIGINT themselves (the parent stops them) and
watch their parent: on Linux they ask the kernel for SIGKILL when it dies (``prctl
PR_SET_PDEATHSIG``), elsewhere (and as a second guard) a thread polls the parent's pid every
second, so no worker outlives a parent killed with SIGKILL.
"""

from __future__ import annotations

import ctypes
import inspect
import logging
import math
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .._checks import check_option
from ..errors import InputValueError, MxkitError
from .prepared import Prepared, _check_clip, _options, _with_clip_key, prepare

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["prepare_many", "PreparedBatch"]

logger = logging.getLogger("mxkit.pipeline")
ClipKey = tuple[str, str, str]

_SIGNATURE = inspect.signature(prepare).parameters
#: prepare's options that prepare_many passes through.
_PREPARE_KWARGS = tuple(n for n in _SIGNATURE if n not in ("clip", "progress"))
#: The clip-independent ones, validated once before any work (see prepare's _options).
_OPTION_DEFAULTS = {n: _SIGNATURE[n].default for n in ("size", "landmarks", "flow", "flow_params",
                                                       "smooth", "face_scale", "rotation",
                                                       "no_face", "strain", "on_bad_frame")}


@dataclass(frozen=True, eq=False)
class PreparedBatch(Mapping):
    """The prepared clips of :func:`prepare_many`: a read-only mapping clip key -> :class:`Prepared`.

    Iterates over the keys of the clips that succeeded, in the order the clips were given.

    Attributes
    ----------
    prepared : dict
        Clip key ``(dataset, subject, clip_id)`` -> Prepared.
    failures : dict
        Clip key -> the exception that clip raised (only with ``on_error='collect'``); mxkit
        errors carry the clip key in their message and in ``err.clip_key``.
    order : tuple of clip keys
        Every clip's key, in input order (failed ones included).
    workers : int
        Worker processes used (1: serial, in this process).
    wall_s : float
        Wall-clock seconds of the whole call.
    """

    prepared: dict[ClipKey, Prepared]
    failures: dict[ClipKey, BaseException] = field(default_factory=dict)
    order: tuple[ClipKey, ...] = ()
    workers: int = 1
    wall_s: float = math.nan

    def __post_init__(self) -> None:
        if not self.order:
            object.__setattr__(self, "order", tuple(self.prepared) + tuple(self.failures))

    def __getitem__(self, key: ClipKey) -> Prepared:
        return self.prepared[tuple(key)]

    def __iter__(self) -> Iterator[ClipKey]:
        return (k for k in self.order if k in self.prepared)

    def __len__(self) -> int:
        return len(self.prepared)

    def __repr__(self) -> str:
        return (f"PreparedBatch({len(self.prepared)} prepared, {len(self.failures)} failed, "
                f"workers={self.workers}, wall_s={self.wall_s:.2f})")

    def to_dataframe(self) -> pd.DataFrame:
        """One row per clip (input order): ``dataset, subject, clip_id, status`` ('computed',
        'cached' or 'failed'), ``n_frames, total_s`` (compute time of the result),
        ``error_type, error``."""
        import pandas as pd

        rows = []
        for key in self.order:
            row: dict[str, Any] = {"dataset": key[0], "subject": key[1], "clip_id": key[2]}
            if key in self.prepared:
                p = self.prepared[key]
                row.update(status="cached" if p.cache_hit else "computed", n_frames=p.n_frames,
                           total_s=float(p.timing.get("total", math.nan)), error_type=None, error=None)
            else:
                exc = self.failures.get(key)
                row.update(status="failed", n_frames=None, total_s=math.nan,
                           error_type=None if exc is None else type(exc).__name__,
                           error=None if exc is None else str(exc))
            rows.append(row)
        df = pd.DataFrame(rows, columns=["dataset", "subject", "clip_id", "status", "n_frames",
                                         "total_s", "error_type", "error"])
        df["n_frames"] = df["n_frames"].astype("Int64")
        return df

    def summary(self) -> dict[str, Any]:
        """Counts (``n_clips, n_computed, n_cached, n_failed``), ``workers`` and ``wall_s``."""
        n_cached = sum(p.cache_hit for p in self.prepared.values())
        return {"n_clips": len(self.order), "n_computed": len(self.prepared) - n_cached,
                "n_cached": n_cached, "n_failed": len(self.failures), "workers": self.workers,
                "wall_s": float(self.wall_s)}


#: Seconds between two checks of a worker that its parent is alive.
_PARENT_POLL_S = 1.0
#: Seconds a terminated worker gets before it is killed.
_TERMINATE_GRACE_S = 2.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # pragma: no cover - exists, owned by another user
        return True
    return True


def _watch_parent(parent_pid: int) -> None:
    """Make this worker die with its parent (``PR_SET_PDEATHSIG`` on Linux, and a poll)."""
    if sys.platform.startswith("linux") and os.getppid() == parent_pid:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)      # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the poll below
            pass
    if not _pid_alive(parent_pid):  # the parent died before the watch was set up
        os._exit(1)

    def poll() -> None:
        while True:
            time.sleep(_PARENT_POLL_S)
            if not _pid_alive(parent_pid) or (os.getppid() == 1 and parent_pid != 1):
                os._exit(1)

    threading.Thread(target=poll, name="mxkit-parent-watch", daemon=True).start()


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued clips and end the running workers now (terminate, then kill)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())  # the executor's only handle on them
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + _TERMINATE_GRACE_S
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():  # pragma: no cover - a worker stuck in C code ignoring SIGTERM
            p.kill()
            p.join(1.0)


def _init_worker(parent_pid: int | None = None) -> None:
    """Worker set-up: watch the parent, leave Ctrl-C to it, one thread per library (the
    parallelism is across processes).

    Runs only as the ``ProcessPoolExecutor`` initializer, i.e. in each worker process at its
    start (a fresh ``spawn``/``forkserver`` process or a ``fork`` child); the caller's thread
    counts are never touched (``workers=1`` runs in the caller without it).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent_pid is not None:
        _watch_parent(parent_pid)
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # noqa: BLE001 # pragma: no cover - OpenCV missing is reported later
        pass
    import torch

    torch.set_num_threads(1)


def _prepare_one(clip: Any, kwargs: dict[str, Any]) -> Prepared:
    return prepare(clip, **kwargs)


def _add_key(exc: BaseException, key: ClipKey) -> BaseException:
    new = _with_clip_key(exc, key)
    if new is exc and not isinstance(exc, MxkitError) and hasattr(exc, "add_note"):
        exc.add_note(f"while preparing clip {'/'.join(key)}")
    return new


def prepare_many(clips: Iterable[Any], *, workers: int | None = None,
                 cache_dir: str | os.PathLike | None = None, progress: bool = True,
                 on_error: Literal["raise", "collect"] = "raise", mp_context: str = "spawn",
                 **options: Any) -> PreparedBatch:
    """Prepare many clips, in parallel worker processes, each with :func:`prepare`.

    Parameters
    ----------
    clips : iterable of mxkit.data.Clip
        E.g. a :class:`~mxkit.data.ClipSet`. Clip keys must be unique.
    workers : int, optional
        Worker processes; default ``min(os.cpu_count(), number of clips)``. ``1`` runs the
        clips one after the other in this process (no pool).
    cache_dir : path-like, optional
        Per-clip disk cache shared by the workers (see :func:`prepare`); a second call
        reads the finished clips back and computes only the missing ones.
    progress : bool, default True
        One tqdm bar over the clips.
    on_error : {'raise', 'collect'}, default 'raise'
        ``'raise'``: the first failing clip's error is raised (its message starts with the
        clip key, ``err.clip_key`` holds it) and the clips not yet started are cancelled.
        ``'collect'``: failures are kept in ``PreparedBatch.failures`` and the rest go on.
    mp_context : {'spawn', 'forkserver', 'fork'}, default 'spawn'
        Start method of the worker processes; 'spawn' is safe with OpenCV and torch threads
        and works from notebooks (clips are pickled to the workers).
    **options
        Any other :func:`prepare` option (``size``, ``flow``, ``landmarks``, ``smooth``,
        ``magnify``, ``no_face``, ...), the same for every clip, validated once up front.

    Returns
    -------
    PreparedBatch
        Mapping clip key -> Prepared (input order), with ``failures``, ``to_dataframe()`` and
        ``summary()``.

    Raises
    ------
    InputValueError
        A clip is not a Clip or is shorter than 2 frames, keys repeat, bad ``workers``.
    OptionError
        An invalid option (before any work starts).
    MxkitError
        With ``on_error='raise'``, the first error of a clip (same type as raised by
        :func:`prepare`, the clip key in the message).

    Examples
    --------
    >>> batch = prepare_many(clipset, workers=2, cache_dir="~/.cache/mxkit")   # doctest: +SKIP
    >>> batch.to_dataframe().status.value_counts()                             # doctest: +SKIP
    """
    t0 = time.perf_counter()
    check_option(on_error, ("raise", "collect"), "on_error")
    check_option(mp_context, ("spawn", "forkserver", "fork"), "mp_context")
    if "progress" in options or "clip" in options:
        raise InputValueError("pass progress= to prepare_many itself; clips as the first argument")
    unknown = sorted(set(options) - set(_PREPARE_KWARGS))
    if unknown:
        raise TypeError(f"prepare_many() got unexpected keyword argument(s) {unknown}; the options "
                        f"are those of mxkit.prepare: {list(_PREPARE_KWARGS)}")
    # validate every clip-independent option now, so a typo fails before any process starts
    _options(**{k: options.get(k, d) for k, d in _OPTION_DEFAULTS.items()})
    clip_list = [_check_clip(c) for c in clips]
    keys = [c.key for c in clip_list]
    dups = sorted(k for k, n in Counter(keys).items() if n > 1)
    if dups:
        raise InputValueError(f"clip keys must be unique; repeated: {['/'.join(k) for k in dups]}")
    if workers is None:
        workers = max(1, min(os.cpu_count() or 1, len(clip_list)))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputValueError(f"workers must be a positive int or None; got {workers!r}")
    kwargs = {**options, "cache_dir": cache_dir, "progress": False}

    from tqdm.auto import tqdm

    prepared: dict[ClipKey, Prepared] = {}
    failures: dict[ClipKey, BaseException] = {}
    bar = tqdm(total=len(clip_list), desc="prepare", unit="clip", disable=not progress)
    try:
        if workers == 1 or len(clip_list) <= 1:
            workers = 1
            for clip in clip_list:
                try:
                    prepared[clip.key] = prepare(clip, **kwargs)
                except Exception as exc:
                    err = _add_key(exc, clip.key)
                    if on_error == "raise":
                        if err is exc:
                            raise
                        raise err from exc
                    failures[clip.key] = err
                bar.update(1)
        else:
            import multiprocessing

            ctx = multiprocessing.get_context(mp_context)
            pool = ProcessPoolExecutor(max_workers=min(workers, len(clip_list)), mp_context=ctx,
                                       initializer=_init_worker, initargs=(os.getpid(),))
            clip_error: BaseException | None = None
            try:
                futures: dict[Future, ClipKey] = {pool.submit(_prepare_one, c, kwargs): c.key
                                                  for c in clip_list}
                pending = set(futures)
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        key = futures[fut]
                        exc = fut.exception()
                        bar.update(1)
                        if exc is None:
                            prepared[key] = fut.result()
                            continue
                        err = _add_key(exc, key)
                        if on_error == "raise":
                            for other in pending:
                                other.cancel()
                            clip_error = err
                            if err is exc:
                                raise exc
                            raise err from exc
                        failures[key] = err
            except BaseException as exc:
                if exc is clip_error:      # a clip failed: let the running ones finish (cached)
                    pool.shutdown(wait=True, cancel_futures=True)
                else:                      # Ctrl-C, SIGTERM, ...: stop now, keep what is finished
                    _stop_pool(pool)
                raise
            pool.shutdown(wait=True)
    finally:
        bar.close()
    ordered = {k: prepared[k] for k in keys if k in prepared}
    return PreparedBatch(prepared=ordered, failures={k: failures[k] for k in keys if k in failures},
                         order=tuple(keys), workers=workers, wall_s=time.perf_counter() - t0)

