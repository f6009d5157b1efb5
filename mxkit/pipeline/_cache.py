"""Per-clip disk cache of stage results: keys, frame fingerprints, atomic checked .npz entries.

An entry is one ``.npz`` file (uncompressed) holding the result arrays plus a JSON manifest
(member ``__manifest__``) with the cache key, the entry format, every array's shape, dtype and
BLAKE2b checksum, and the result's scalar fields. It is written with
:func:`mxkit._io.atomic_open` (a unique temporary file in the same folder, flushed to disk and
moved into place with :func:`os.replace`), so a reader sees
either the whole previous entry, the whole new one, or none. A reader that finds anything
wrong (truncated zip, garbage, wrong key, missing member, checksum mismatch) logs it, removes
the entry and reports a miss: the caller rebuilds it. Temporary files left by an interrupted
writer are never read and are removed once they are older than :data:`STALE_TMP_S`.

Frame files are fingerprinted by their **content** (each file's name, size and BLAKE2b of its
bytes), so touching or copying a dataset keeps its entries, while any changed byte makes a new
key. A hit refreshes the entry's modification time, which :func:`prune_cache` uses as its
last use: ``prune_cache(root, max_bytes=...)`` removes the least recently used entries until
the cache fits, and stale temporary files; :func:`cache_info` tells what is there
(``mxkit cache info|prune`` on the command line).

Internal to :mod:`mxkit.pipeline` (``cache_info``, ``prune_cache`` and their results are
public there).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_open, display_path, safe_name
from ..errors import CacheError, FrameReadError, InputValueError

__all__ = ["FORMAT", "STALE_TMP_S", "frames_fingerprint", "cache_key", "entry_path",
           "write_entry", "read_entry", "library_versions", "check_cache_dir", "CacheInfo",
           "PruneResult", "cache_info", "prune_cache"]

logger = logging.getLogger("mxkit.pipeline")

#: Version of the entry layout; part of every key.
FORMAT = 1
#: Temporary files of an entry older than this (seconds) are taken as left by a dead writer.
STALE_TMP_S = 600.0
_MANIFEST = "__manifest__"


def _digest(data: Any, size: int = 16) -> str:
    h = hashlib.blake2b(digest_size=size)
    h.update(data)
    return h.hexdigest()


def array_checksum(a: np.ndarray) -> str:
    """BLAKE2b (128 bit) of an array's dtype, shape and bytes."""
    a = np.ascontiguousarray(a)
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(memoryview(a).cast("B") if a.size else b"")
    return h.hexdigest()


def frames_fingerprint(clip: Any) -> str:
    """Fingerprint of a clip's frame source, cheap to recompute and sensitive to any change.

    In-memory frames: a hash of the array (dtype, shape, bytes). Frame files: a hash of
    every file's name, size and content (BLAKE2b of its bytes): a touched or copied dataset
    keeps its key, any changed byte gives a new one. Reading the frames costs about what
    decoding them costs once, far less than preparing them.

    Raises
    ------
    FrameReadError
        A frame file is missing or cannot be inspected (the message names the path).
    """
    if isinstance(clip.frames, np.ndarray):
        return "array:" + array_checksum(clip.frames)
    h = hashlib.blake2b(digest_size=16)
    for p in clip.frames:
        path = Path(p)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise FrameReadError(f"cannot read frame {display_path(path)}: the file does not exist",
                                 path=path) from None
        except PermissionError as exc:
            raise FrameReadError(f"cannot read frame {display_path(path)}: permission denied (check the "
                                 "permissions of its folders)", path=path) from exc
        except OSError as exc:
            raise FrameReadError(f"cannot read frame {display_path(path)}: {exc.strerror or exc}",
                                 path=path) from exc
        if not path.is_file():
            raise FrameReadError(f"cannot read frame {display_path(path)}: it is not a file", path=path)
        try:
            content = _digest(path.read_bytes())          # a frame file: kilobytes to a few MB
        except PermissionError as exc:
            raise FrameReadError(f"cannot read frame {display_path(path)}: permission denied", path=path) from exc
        except OSError as exc:
            raise FrameReadError(f"cannot read frame {display_path(path)}: {exc.strerror or exc}",
                                 path=path) from exc
        # the name's bytes as the file system holds them (names need not be UTF-8)
        h.update(os.fsencode(path.name) + f"\0{st.st_size}\0{content}\n".encode())
    return "content:" + h.hexdigest()


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """Versions of the libraries whose numbers end up in a prepared clip (part of the key)."""
    from importlib import metadata

    from .._version import __version__

    out = {"mxkit": __version__}
    for dist in ("opencv-contrib-python", "dlib-bin", "numpy", "scipy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover - depends on the install
            out[dist] = "absent"
    return out


def cache_key(params: Mapping[str, Any]) -> str:
    """Key of a parameter set: BLAKE2b of its canonical JSON (sorted keys), 32 hex digits."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=repr)
    return _digest(text.encode())


def entry_path(cache_dir: Path, clip_key: tuple[str, str, str], key: str, *, entry: str = "prepared") -> Path:
    """``cache_dir/<entry>/<dataset>/<subject>/<clip_id>.<key[:16]>.npz`` (names made file-safe).

    ``entry`` names the kind of cached result (the stage), e.g. ``"prepared"``.
    """
    dataset, subject, clip_id = (safe_name(k, max_len=80) for k in clip_key)
    return Path(cache_dir) / entry / dataset / subject / f"{clip_id}.{key[:16]}.npz"


def check_cache_dir(cache_dir: Any, clip: Any) -> Path:
    """Validate ``cache_dir`` and refuse one inside the clip's own frame folders.

    Nothing is ever written inside a dataset: a cache folder inside the folder holding the
    clip's frames, or inside that folder's parent (the subject folder), raises
    :class:`InputValueError`.
    """
    if isinstance(cache_dir, bool) or not isinstance(cache_dir, (str, os.PathLike)):
        raise InputValueError(f"cache_dir must be a folder path or None; got {cache_dir!r}")
    root = Path(cache_dir).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise InputValueError(f"cache_dir {display_path(root)} exists and is not a folder")
    frames_dir = getattr(clip, "frames_dir", None)
    if frames_dir is not None:
        for guarded in (Path(frames_dir).resolve(), Path(frames_dir).resolve().parent):
            if root == guarded or guarded in root.parents:
                raise InputValueError(
                    f"cache_dir {display_path(root)} lies inside the dataset folder {display_path(guarded)} of clip "
                    f"{'/'.join(clip.key)}; mxkit never writes into a dataset: choose a folder outside it"
                )
    return root


def _remove_stale_tmp(path: Path) -> None:
    now = time.time()
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if now - tmp.stat().st_mtime > STALE_TMP_S:
                tmp.unlink()
                logger.info("removed the stale temporary cache file %s", tmp)
        except OSError:  # pragma: no cover - raced with another cleaner
            pass


def write_entry(path: Path, arrays: Mapping[str, np.ndarray], fields: Mapping[str, Any], *, key: str) -> None:
    """Write an entry atomically (:func:`mxkit._io.atomic_open`).

    Raises
    ------
    FileWriteError
        The folder or file cannot be written (an :class:`OSError`; no entry is left behind,
        nor a temporary file).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(path)
    manifest = {
        "format": FORMAT,
        "key": key,
        "fields": dict(fields),
        "arrays": {name: {"shape": list(a.shape), "dtype": a.dtype.str, "checksum": array_checksum(a)}
                   for name, a in arrays.items()},
    }
    blob = np.frombuffer(json.dumps(manifest, sort_keys=True).encode(), dtype=np.uint8)
    with atomic_open(path) as fh:
        np.savez(fh, **{_MANIFEST: blob}, **{name: np.ascontiguousarray(a) for name, a in arrays.items()})


def _load(path: Path, key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
        if _MANIFEST not in z.files:
            raise CacheError("no manifest")
        manifest = json.loads(bytes(z[_MANIFEST]).decode())
        if manifest.get("format") != FORMAT:
            raise CacheError(f"entry format {manifest.get('format')!r}, expected {FORMAT}")
        if manifest.get("key") != key:
            raise CacheError("the entry belongs to another key")
        specs = manifest["arrays"]
        missing = sorted(set(specs) - set(z.files))
        if missing:
            raise CacheError(f"missing arrays {missing}")
        arrays = {name: z[name] for name in specs}
    for name, spec in specs.items():
        a = arrays[name]
        if list(a.shape) != spec["shape"] or a.dtype.str != spec["dtype"]:
            raise CacheError(f"array {name!r} has shape {a.shape} {a.dtype.str}, manifest says "
                             f"{spec['shape']} {spec['dtype']}")
        if array_checksum(a) != spec["checksum"]:
            raise CacheError(f"checksum mismatch of array {name!r}")
    return arrays, manifest["fields"]


def read_entry(path: Path, key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """Read and verify an entry; ``None`` if there is none or it is unusable (then removed).

    Every failure to read (truncated or garbage file, wrong key or format, missing member,
    checksum mismatch) is logged as a warning on the ``mxkit.pipeline`` logger and the entry
    is deleted, so the caller recomputes and rewrites it.
    """
    if not path.is_file():
        return None
    try:
        found = _load(path, key)
    except Exception as exc:  # noqa: BLE001 - any failure to read means "rebuild"
        logger.warning("cache entry %s is unusable (%s: %s); rebuilding it", path,
                       type(exc).__name__, exc)
        try:
            path.unlink()
        except OSError:  # pragma: no cover - already replaced or removed by another process
            pass
        return None
    try:
        os.utime(path)          # the last use, for prune_cache
    except OSError:  # pragma: no cover - a read-only cache still serves its entries
        pass
    return found


# ------------------------------------------------------------------------ info and pruning
_ENTRY = re.compile(r"^(?P<clip>.+)\.(?P<key>[0-9a-f]{16})\.npz$")


@dataclass(frozen=True)
class CacheInfo:
    """What a cache folder holds (:func:`cache_info`).

    Attributes
    ----------
    root : Path
    n_entries, bytes : int
        Entries (``.npz`` files named ``<clip>.<key>.npz``) and their total size.
    n_clips : int
        Distinct clips ``(stage, dataset, subject, clip)`` among them; ``n_entries - n_clips``
        entries are other settings (or older frames) of a clip that has one.
    n_temporary, temporary_bytes : int
        Temporary files left by interrupted writers (``.*.tmp``; removed by :func:`prune_cache`
        once older than :data:`STALE_TMP_S`).
    by_dataset : dict
        ``(stage, dataset)`` -> ``(entries, bytes)``.
    oldest_use, newest_use : float or None
        Last-use times (POSIX seconds) of the least and most recently used entries.
    """

    root: Path
    n_entries: int = 0
    bytes: int = 0
    n_clips: int = 0
    n_temporary: int = 0
    temporary_bytes: int = 0
    by_dataset: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    oldest_use: float | None = None
    newest_use: float | None = None

    def to_dataframe(self) -> Any:
        """One row per ``(stage, dataset)``: ``stage, dataset, entries, bytes``."""
        import pandas as pd

        return pd.DataFrame([{"stage": k[0], "dataset": k[1], "entries": n, "bytes": b}
                             for k, (n, b) in sorted(self.by_dataset.items())],
                            columns=["stage", "dataset", "entries", "bytes"])


@dataclass(frozen=True)
class PruneResult:
    """What :func:`prune_cache` removed (or would remove with ``dry_run=True``).

    Attributes
    ----------
    removed : tuple of Path
        Entries and temporary files, least recently used first.
    freed_bytes : int
    kept_entries, kept_bytes : int
        What is left.
    dry_run : bool
    """

    removed: tuple[Path, ...]
    freed_bytes: int
    kept_entries: int
    kept_bytes: int
    dry_run: bool = False


def _scan(root: Path) -> tuple[list[tuple[Path, os.stat_result]], list[tuple[Path, os.stat_result]]]:
    entries, temporary = [], []
    for dirpath, _, names in os.walk(root):
        for name in names:
            p = Path(dirpath) / name
            try:
                st = p.stat()
            except OSError:  # pragma: no cover - removed meanwhile
                continue
            if name.startswith(".") and name.endswith(".tmp"):
                temporary.append((p, st))
            elif _ENTRY.match(name):
                entries.append((p, st))
    return entries, temporary


def _cache_root(cache_dir: Any) -> Path:
    if isinstance(cache_dir, bool) or not isinstance(cache_dir, (str, os.PathLike)):
        raise InputValueError(f"cache_dir must be a folder path; got {cache_dir!r}")
    root = Path(cache_dir).expanduser()
    if root.exists() and not root.is_dir():
        raise InputValueError(f"cache_dir {str(root)!r} exists and is not a folder")
    return root


def cache_info(cache_dir: str | os.PathLike) -> CacheInfo:
    """Entries, sizes and leftovers of a prepare cache folder (nothing is changed).

    Parameters
    ----------
    cache_dir : path-like
        The folder given as ``cache_dir=`` to :func:`mxkit.prepare` (a missing folder is an
        empty cache).

    Returns
    -------
    CacheInfo

    Raises
    ------
    InputValueError
        ``cache_dir`` is not a path or is a file.
    """
    root = _cache_root(cache_dir)
    if not root.is_dir():
        return CacheInfo(root=root)
    entries, temporary = _scan(root)
    by: dict[tuple[str, str], list[int]] = {}
    clips = set()
    for p, st in entries:
        rel = p.relative_to(root).parts
        stage, dataset = (rel + ("?", "?"))[:2] if len(rel) >= 3 else ("?", "?")
        by.setdefault((stage, dataset), [0, 0])
        by[(stage, dataset)][0] += 1
        by[(stage, dataset)][1] += st.st_size
        clips.add((*rel[:-1], _ENTRY.match(p.name).group("clip")))  # type: ignore[union-attr]
    uses = [st.st_mtime for _, st in entries]
    return CacheInfo(root=root, n_entries=len(entries), bytes=sum(st.st_size for _, st in entries),
                     n_clips=len(clips), n_temporary=len(temporary),
                     temporary_bytes=sum(st.st_size for _, st in temporary),
                     by_dataset={k: (v[0], v[1]) for k, v in by.items()},
                     oldest_use=min(uses) if uses else None, newest_use=max(uses) if uses else None)


def prune_cache(cache_dir: str | os.PathLike, *, max_bytes: int | None = None,
                dry_run: bool = False) -> PruneResult:
    """Trim a prepare cache: stale temporary files, then least recently used entries.

    Temporary files older than :data:`STALE_TMP_S` (left by interrupted writers) are always
    removed. With ``max_bytes``, entries are removed from the least recently used (a hit
    refreshes an entry's time) until the entries' total is at most ``max_bytes``. Empty
    folders left behind are removed. Only files named like cache entries or their temporary
    files are ever touched.

    Parameters
    ----------
    cache_dir : path-like
    max_bytes : int, optional
        Size cap of the entries (``0`` empties the cache).
    dry_run : bool
        Report what would be removed; remove nothing.

    Returns
    -------
    PruneResult

    Raises
    ------
    InputValueError
        Bad ``cache_dir`` or a negative ``max_bytes``.
    """
    if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int)
                                  or max_bytes < 0):
        raise InputValueError(f"max_bytes must be a whole number of bytes >= 0 or None; got {max_bytes!r}")
    root = _cache_root(cache_dir)
    if not root.is_dir():
        return PruneResult(removed=(), freed_bytes=0, kept_entries=0, kept_bytes=0, dry_run=dry_run)
    entries, temporary = _scan(root)
    now = time.time()
    doomed = [(p, st) for p, st in temporary if now - st.st_mtime > STALE_TMP_S]
    entries.sort(key=lambda e: (e[1].st_mtime, str(e[0])))
    total = sum(st.st_size for _, st in entries)
    kept = list(entries)
    if max_bytes is not None:
        while kept and total > max_bytes:
            p, st = kept.pop(0)
            doomed.append((p, st))
            total -= st.st_size
    removed, freed = [], 0
    for p, st in doomed:
        if not dry_run:
            try:
                p.unlink()
            except FileNotFoundError:  # pragma: no cover - raced with another pruner
                continue
        removed.append(p)
        freed += st.st_size
    if not dry_run:
        for dirpath, _, _ in sorted(os.walk(root), key=lambda w: -len(w[0])):
            if Path(dirpath) != root:
                try:
                    os.rmdir(dirpath)        # only empty folders go
                except OSError:
                    pass
    return PruneResult(removed=tuple(removed), freed_bytes=freed, kept_entries=len(kept),
                       kept_bytes=sum(st.st_size for _, st in kept), dry_run=dry_run)
