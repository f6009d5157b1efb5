"""File primitives shared by every writer (internal, layer 0).

* :func:`atomic_write` -- **the** atomic writer: ``bytes`` or ``str`` to a unique temporary
  file in the target's folder (:func:`tempfile.mkstemp`), flushed and ``os.fsync``-ed, then
  moved over the target with :func:`os.replace`. A reader never sees a half-written file,
  an interrupted or failed write leaves the old file (or none) and no temporary file, and
  concurrent writers of one target never share a temporary file (the last ``os.replace``
  wins, whole).
* :func:`atomic_open` -- its context-manager twin for streaming writers (``np.savez``,
  ``torch.save``, ``zipfile`` ... write into the yielded file object).
* :func:`cache_dir` -- the one rule for mxkit's cache folder, read at call time.
* :func:`display_path` -- any path (``str``, ``bytes``, :class:`os.PathLike`, including
  names that are not valid UTF-8) as printable text for messages.
* :func:`check_output` -- the one check of an output path *before* any work: a file where a
  folder is wanted (or the reverse), a path under a file, a folder that cannot be written,
  an existing output without ``overwrite``, an output inside a folder that must stay
  untouched (a dataset): each a :class:`~mxkit.errors.FileWriteError` naming the path.
* :func:`removing_new_folders` -- a context manager that removes, when its block fails, the
  folders created inside it for an output that stayed empty (a failed command leaves no
  empty output folder behind).

Temporary files are named ``.<name>.<random>.tmp`` next to the target (so a crash leaves
only hidden ``*.tmp`` files, which cache cleaners recognise). The final file gets the
permissions of the file it replaces, or ``0o666`` minus the umask for a new file (not
``mkstemp``'s private ``0o600``). The parent folder must exist unless ``parents=True``.
"""

from __future__ import annotations

import contextlib
import os
import stat as _st
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

from .errors import FileWriteError

__all__ = ["atomic_write", "atomic_open", "cache_dir", "display_path", "check_output",
           "is_inside", "removing_new_folders", "CACHE_ENV"]

#: Environment variable naming mxkit's cache folder (read at call time by :func:`cache_dir`).
CACHE_ENV = "MXKIT_CACHE_DIR"


def display_path(path: Any) -> str:
    """A path as printable text for messages and logs, whatever its bytes.

    Bytes that are not UTF-8 (``os.fsdecode`` keeps them as lone surrogates) are shown as
    ``\\xNN`` and other unprintable characters (newlines, escapes) as Python escapes, so
    the result can always be printed or encoded to UTF-8.

    Parameters
    ----------
    path : str, bytes or os.PathLike

    Returns
    -------
    str

    Examples
    --------
    >>> display_path(b"clips/s1/\\xff.jpg")
    'clips/s1/\\\\xff.jpg'
    >>> display_path("a\\nb")
    'a\\\\nb'
    """
    try:
        raw = os.fsencode(path)
    except TypeError:
        return repr(path)
    except UnicodeError:  # pragma: no cover - e.g. lone surrogates on Windows
        raw = os.fspath(path).encode("utf-8", "surrogatepass")
    text = raw.decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def cache_dir(*parts: str | os.PathLike) -> Path:
    """mxkit's cache folder (or a path inside it), from the environment at call time.

    ``$MXKIT_CACHE_DIR`` when set and not empty, else ``$XDG_CACHE_HOME/mxkit``, else
    ``~/.cache/mxkit``; ``~`` is expanded. Nothing is created.

    Parameters
    ----------
    *parts : str or os.PathLike
        Path components below the cache folder (e.g. ``"flame"``, ``"prepared"``).

    Returns
    -------
    Path

    Examples
    --------
    >>> cache_dir("flame") == cache_dir() / "flame"
    True
    """
    root = os.environ.get(CACHE_ENV)
    if root:
        base = Path(root).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "mxkit"
    return base.joinpath(*parts)


def _new_file_mode() -> int:
    """``0o666`` minus the process umask (the mode ``open()`` would give a new file)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no /proc: read it by setting it (and put it back at once)
    os.umask(mask)
    return 0o666 & ~mask


def _target(path: Any, parents: bool) -> Path:
    try:
        target = Path(os.fspath(path))
    except TypeError as exc:
        raise FileWriteError(f"cannot write {path!r}: not a path", path=str(path)) from exc
    if target.is_dir():
        raise FileWriteError(f"cannot write {display_path(target)}: it is a directory", path=target)
    parent = target.parent
    if parents:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FileWriteError(f"cannot write {display_path(target)}: cannot create the folder "
                                 f"{display_path(parent)}: {exc.strerror or exc}", path=target) from exc
    elif not parent.is_dir():
        raise FileWriteError(f"cannot write {display_path(target)}: the folder {display_path(parent)} "
                             "does not exist", path=target)
    return target


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", *, parents: bool = False,
                encoding: str | None = None, newline: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` atomically when the block ends.

    Write into the yielded file object; when the ``with`` block exits normally the file is
    flushed, ``os.fsync``-ed, closed and moved over ``path`` (:func:`os.replace`). When the
    block (or the move) raises, the temporary file is removed, ``path`` is left as it was
    and the exception propagates (an :class:`OSError` as :class:`FileWriteError`).

    Parameters
    ----------
    path : str or os.PathLike
        The target file.
    mode : {'wb', 'w'}
        Binary (default) or text.
    parents : bool, default False
        Create missing parent folders; otherwise a missing folder is an error.
    encoding, newline : str, optional
        Text mode only (``encoding`` default ``"utf-8"``).

    Yields
    ------
    file object

    Raises
    ------
    FileWriteError
        The target is a folder, its folder is missing (``parents=False``) or cannot be
        created, or the file cannot be written or moved into place (``.path`` holds the
        target; it is an :class:`OSError` and an :class:`~mxkit.errors.MxkitError`).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.npz"
    >>> with atomic_open(out) as fh:
    ...     np.savez(fh, x=np.arange(3))
    >>> np.load(out)["x"].tolist()
    [0, 1, 2]
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open mode must be 'wb' or 'w'; got {mode!r}")
    target = _target(path, parents)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise FileWriteError(f"cannot write {display_path(target)}: {exc.strerror or exc}",
                             path=target) from exc
    try:
        try:
            perm = os.stat(target).st_mode & 0o7777
        except OSError:
            perm = _new_file_mode()
        if hasattr(os, "fchmod"):
            os.fchmod(fd, perm)
        if mode == "wb":
            fh = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", encoding=encoding or "utf-8", newline=newline)
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        _unlink(tmp)
        if isinstance(exc, FileWriteError):
            raise
        raise FileWriteError(f"cannot write {display_path(target)}: {exc.strerror or exc}",
                             path=target) from exc
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    except OSError:  # pragma: no cover - nothing more can be done; the name is unique
        pass


def atomic_write(path: str | os.PathLike, data: bytes | str, *, parents: bool = False,
                 encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` atomically (see the module docstring); returns the path.

    Parameters
    ----------
    path : str or os.PathLike
    data : bytes or str
        ``str`` is encoded with ``encoding`` (no newline translation).
    parents : bool, default False
        Create missing parent folders; otherwise a missing folder is an error.
    encoding : str, default 'utf-8'

    Returns
    -------
    Path
        The written path.

    Raises
    ------
    FileWriteError
        As :func:`atomic_open`.
    TypeError
        If ``data`` is neither bytes nor str.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = atomic_write(pathlib.Path(tempfile.mkdtemp()) / "a.txt", "hello")
    >>> p.read_text()
    'hello'
    """
    if isinstance(data, str):
        payload = data.encode(encoding)
    elif isinstance(data, (bytes, bytearray, memoryview)):
        payload = bytes(data)
    else:
        raise TypeError(f"atomic_write data must be bytes or str; got {type(data).__name__}")
    with atomic_open(path, "wb", parents=parents) as fh:
        fh.write(payload)
    return Path(os.fspath(path))


# ---------------------------------------------------------------------------- output checks
def _as_path(path: Any, what: str) -> Path:
    """``path`` as an absolute :class:`Path` (``~`` expanded), or a typed error."""
    if isinstance(path, bool) or not isinstance(path, (str, bytes, os.PathLike)):
        raise FileWriteError(f"{what} must be a path; got {path!r}", path=str(path))
    text = os.fsdecode(path)
    if not text.strip():
        raise FileWriteError(f"{what} must be a path; got an empty name {text!r}", path=text)
    try:
        p = Path(text).expanduser()
    except (TypeError, ValueError, RuntimeError) as exc:  # RuntimeError: no home folder for ~
        raise FileWriteError(f"{what} {display_path(text)} is not a usable path: {exc}", path=text) from exc
    if "\0" in str(p):
        raise FileWriteError(f"{what} {display_path(p)} contains a NUL character", path=p)
    try:
        os.fsencode(p)
    except UnicodeError as exc:
        raise FileWriteError(f"{what} {display_path(p)} is not a valid file name on this system "
                             f"({exc.reason})", path=p) from exc
    return Path(os.path.abspath(p))


def _stat(p: Path, what: str) -> os.stat_result | None:
    """``os.stat`` of ``p``; ``None`` when nothing is there; other failures typed."""
    try:
        return os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise FileWriteError(f"cannot use {what} {display_path(p)}: {exc.strerror or exc}", path=p) from exc


def is_inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (symbolic links resolved).

    Examples
    --------
    >>> is_inside("/data/CASME2/cache", "/data/CASME2"), is_inside("/data/out", "/data/CASME2")
    (True, False)
    """
    a = Path(os.path.realpath(os.path.expanduser(os.fspath(path))))
    b = Path(os.path.realpath(os.path.expanduser(os.fspath(folder))))
    return a == b or b in a.parents


def check_output(path: Any, *, kind: Literal["file", "dir"] = "file", overwrite: bool = False,
                 inside: Iterable[str | os.PathLike] = (), what: str = "output",
                 hint: str = "pass overwrite=True to replace it") -> Path:
    """Check, before any work, that ``path`` can be written as a new ``kind`` output.

    Nothing is created. A file output must not be a folder and must not exist unless
    ``overwrite``; a folder output must not be a file and must be new or empty unless
    ``overwrite`` (then files of the same names are replaced and others are left). Either must
    not lie under a file, nor inside one of the ``inside`` folders (e.g. a dataset, which mxkit
    never writes into), and the nearest existing folder must be writable.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        The output (``~`` is expanded).
    kind : {'file', 'dir'}
    overwrite : bool
        Accept an existing output (a file, or a non-empty folder).
    inside : iterable of path-like
        Folders the output must stay out of (compared with symbolic links resolved).
    what : str
        How the output is named in messages (e.g. ``"--out"``).
    hint : str
        How to allow overwriting, appended to the message (e.g. ``"pass --overwrite to replace
        it"`` on the command line).

    Returns
    -------
    Path
        The absolute output path.

    Raises
    ------
    FileWriteError
        Every case above; the message names the path (``.path`` holds it).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> check_output(d / "new" / "w.pt") == d / "new" / "w.pt"
    True
    >>> (d / "w.pt").write_text("x")
    1
    >>> check_output(d / "w.pt")
    Traceback (most recent call last):
    ...
    mxkit.errors.FileWriteError: output ... exists; pass overwrite=True to replace it
    """
    if kind not in ("file", "dir"):
        raise ValueError(f"check_output kind must be 'file' or 'dir'; got {kind!r}")
    target = _as_path(path, what)
    shown = display_path(target)
    for folder in inside:
        if is_inside(target, folder):
            raise FileWriteError(f"{what} {shown} lies inside {display_path(folder)}, which mxkit never "
                                 "writes into (a dataset); choose a path outside it", path=target)
    st = _stat(target, what)
    if st is not None:
        is_dir = _st.S_ISDIR(st.st_mode)
        if kind == "file":
            if is_dir:
                raise FileWriteError(f"{what} {shown} is a folder; a file name is wanted here", path=target)
            if not overwrite:
                raise FileWriteError(f"{what} {shown} exists; {hint}", path=target)
            folder = target.parent
        else:
            if not is_dir:
                raise FileWriteError(f"{what} {shown} exists and is not a folder", path=target)
            try:
                with os.scandir(target) as entries:
                    nonempty = any(True for _ in entries)
            except OSError as exc:
                raise FileWriteError(f"cannot use {what} {shown}: {exc.strerror or exc}", path=target) from exc
            if nonempty and not overwrite:
                raise FileWriteError(f"{what} {shown} is a folder that is not empty; {hint} "
                                     "(files of the same names are replaced)", path=target)
            folder = target
    else:
        folder = target.parent
        while _stat(folder, what) is None and folder != folder.parent:
            folder = folder.parent
        fst = _stat(folder, what)
        if fst is not None and not _st.S_ISDIR(fst.st_mode):
            raise FileWriteError(f"{what} {shown} lies under {display_path(folder)}, which is a file, "
                                 "not a folder", path=target)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise FileWriteError(f"{what} {shown} cannot be written: the folder {display_path(folder)} is "
                             "read-only (or not ours to write)", path=target)
    return target


@contextlib.contextmanager
def removing_new_folders(*paths: str | os.PathLike) -> Iterator[None]:
    """Remove, if the block raises, the folders it created on the way to ``paths`` that are empty.

    For each path, the folders missing now (the path itself and any missing parents) are
    noted; when the block raises (``KeyboardInterrupt`` included), those that exist and are
    empty are removed, deepest first, and the exception propagates. Folders that existed
    before, or that hold anything, are never touched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> try:
    ...     with removing_new_folders(d / "a" / "b"):
    ...         (d / "a" / "b").mkdir(parents=True)
    ...         raise RuntimeError("failed")
    ... except RuntimeError:
    ...     pass
    >>> (d / "a").exists()
    False
    """
    missing: list[Path] = []
    for p in paths:
        cur = Path(os.path.abspath(os.fspath(p)))
        while not os.path.lexists(cur) and cur != cur.parent:
            missing.append(cur)
            cur = cur.parent
    try:
        yield
    except BaseException:
        for d in sorted(set(missing), key=lambda q: len(q.parts), reverse=True):
            try:
                os.rmdir(d)     # only an empty folder is removed
            except (OSError, ValueError):   # not empty, never created, or not a valid name
                pass
        raise
