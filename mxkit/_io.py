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
* :func:`safe_name` -- text from data (a clip id, a subject) as one harmless file-name
  component for outputs; :func:`name_problem` says why a name read from data cannot be used
  as a path component as it stands (``..``, an absolute path, a separator).
* :func:`read_image_file` / :func:`write_image_file` -- **the** image reader and writer:
  the bytes are read with Python's own file functions and decoded in memory
  (``cv2.imdecode``), images are encoded in memory (``cv2.imencode``) and written with
  :func:`atomic_write`, so a name that is not valid UTF-8 (GBK names unpacked on Linux) never
  reaches OpenCV's path functions (which crash on them). :func:`image_problem` checks a JPEG,
  PNG or BMP for completeness before it is decoded (OpenCV fills a truncated JPEG with grey
  and says nothing).
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
import re
import stat as _st
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np

from .errors import FileWriteError, FrameReadError, InputValueError

__all__ = ["atomic_write", "atomic_open", "cache_dir", "display_path", "check_output",
           "is_inside", "removing_new_folders", "text_cell", "CACHE_ENV", "safe_name",
           "name_problem", "image_problem", "read_image_file", "write_image_file"]

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


def text_cell(value: Any) -> Any:
    """``value`` unchanged, except text that cannot be encoded to UTF-8 (a file name with
    bytes that are not UTF-8, held as lone surrogates), which becomes :func:`display_path`'s
    printable form: for tables (pandas' Arrow strings refuse such text) and JSON.

    Examples
    --------
    >>> text_cell("sub01"), text_cell(3)
    ('sub01', 3)
    >>> text_cell(os.fsdecode(b"\\xc9\\xcf.jpg"))
    '\\\\xc9\\\\xcf.jpg'
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return display_path(value)
    return value


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


# ------------------------------------------------------------------------------ names from data

_UNSAFE = re.compile(r"[^\w.+-]+")
_WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                    *(f"lpt{i}" for i in range(1, 10))}


def name_problem(name: Any) -> str | None:
    """Why ``name`` (read from a label file) cannot be one path component, or None if it can.

    A name that is empty, ``.`` or ``..``, holds a path separator (``/`` or ``\\``), a NUL
    or another control character, or looks like an absolute or drive path (``C:x``) would
    make a loader read (or a writer write) outside the folder it is joined to.

    Examples
    --------
    >>> name_problem("EP02_01f") is None
    True
    >>> name_problem("../../etc")
    "it holds a path separator ('/')"
    """
    if not isinstance(name, str):
        return f"it is a {type(name).__name__}, not text"
    if not name.strip():
        return "it is empty"
    if name in (".", ".."):
        return f"it is {name!r}, which names a folder above or at the dataset's"
    for sep in ("/", "\\"):
        if sep in name:
            return f"it holds a path separator ({sep!r})"
    if any(not c.isprintable() for c in name):
        return "it holds a control character"
    if re.match(r"[A-Za-z]:", name):
        return "it looks like a drive path"
    return None


def safe_name(text: Any, *, max_len: int = 120) -> str:
    """``text`` (a clip id, a subject, ...) as one harmless file-name component for an output.

    Every run of characters other than letters, digits, ``_ . + -`` becomes ``_``; leading
    and trailing dots and underscores are stripped (no hidden files, never ``..``); Windows
    device names get a trailing ``_``; the result is at most ``max_len`` characters and never
    empty (``'_'``). Letters of any script are kept (``'被试1'`` stays ``'被试1'``).

    Examples
    --------
    >>> safe_name("../../victim")
    'victim'
    >>> safe_name("sub01/EP02 01f")
    'sub01_EP02_01f'
    """
    s = _UNSAFE.sub("_", str(text)).strip("._")
    s = s.encode("utf-8", "ignore").decode("utf-8")[:max_len].rstrip("._") or "_"
    if s.split(".")[0].casefold() in _WINDOWS_DEVICES:
        s += "_"
    return s


# ------------------------------------------------------------------------------ images

def _jpeg_problem(data: bytes) -> str | None:
    """Walk a JPEG's markers from SOI to EOI; the reason it is incomplete or broken, or None."""
    n = len(data)
    truncated = (f"it is truncated ({n} bytes, no end-of-image marker: the rest of the image "
                 "would be decoded as grey)")
    pos = 2
    while True:
        if pos >= n:
            return truncated
        if data[pos] != 0xFF:
            return f"it is corrupt (no JPEG marker at byte {pos})"
        while pos < n and data[pos] == 0xFF:
            pos += 1
        if pos >= n:
            return truncated
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            return None
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # TEM, RSTn, SOI: no length
            continue
        if pos + 2 > n:
            return truncated
        length = (data[pos] << 8) | data[pos + 1]
        if length < 2:
            return f"it is corrupt (a JPEG segment of length {length} at byte {pos})"
        pos += length
        if pos > n:
            return truncated
        if marker == 0xDA:  # SOS: entropy-coded data up to the next marker (not a RST, not stuffing)
            while True:
                j = data.find(b"\xff", pos)
                if j < 0 or j + 1 >= n:
                    return truncated
                nxt = data[j + 1]
                if nxt == 0x00 or 0xD0 <= nxt <= 0xD7 or nxt == 0xFF:
                    pos = j + (2 if nxt != 0xFF else 1)
                    continue
                pos = j
                break


def _png_problem(data: bytes) -> str | None:
    """Walk a PNG's chunks (checking each CRC) up to IEND; the reason it is broken, or None."""
    n = len(data)
    pos = 8
    while True:
        if pos + 8 > n:
            return f"it is truncated ({n} bytes, no IEND chunk)"
        length = int.from_bytes(data[pos:pos + 4], "big")
        ctype = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > n:
            return f"it is truncated ({n} bytes; the {ctype!r} chunk at byte {pos} needs {end})"
        crc = int.from_bytes(data[end - 4:end], "big")
        if zlib.crc32(data[pos + 4:end - 4]) != crc:
            return f"it is corrupt (bad CRC in the {ctype!r} chunk at byte {pos})"
        if ctype == b"IEND":
            return None
        pos = end


def image_problem(data: bytes) -> str | None:
    """Why the bytes of an image file cannot be trusted, or None when nothing is wrong.

    Empty data is a problem. JPEG (every marker walked from SOI to EOI, through the
    entropy-coded scans), PNG (every chunk's CRC, up to IEND) and BMP (the end of the pixel
    array its header describes) are checked for completeness; other formats are left to the
    decoder.

    Examples
    --------
    >>> image_problem(b"")
    'the file is empty (0 bytes)'
    >>> image_problem(b"\\xff\\xd8\\xff\\xe0\\x00\\x10JFIF")[:15]
    'it is truncated'
    """
    if len(data) == 0:
        return "the file is empty (0 bytes)"
    if data[:2] == b"\xff\xd8":
        return _jpeg_problem(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png_problem(data)
    if data[:2] == b"BM":
        return _bmp_problem(data)
    return None


def _bmp_problem(data: bytes) -> str | None:
    """A BMP is truncated when its pixel array (offset, width, height, bits per pixel from the
    header; ``biSizeImage`` for compressed ones) ends past the file (the header's file-size
    field is not trusted: some writers leave it 0)."""
    n = len(data)
    if n < 30:
        return f"it is truncated ({n} bytes, shorter than a BMP header)"
    offset = int.from_bytes(data[10:14], "little")
    header = int.from_bytes(data[14:18], "little")
    if header < 40 or n < 38:  # OS/2 BITMAPCOREHEADER: left to the decoder
        return None
    width = int.from_bytes(data[18:22], "little", signed=True)
    height = int.from_bytes(data[22:26], "little", signed=True)
    bpp = int.from_bytes(data[28:30], "little")
    compression = int.from_bytes(data[30:34], "little")
    if compression in (0, 3, 6):  # BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS: rows of fixed size
        need = offset + ((abs(width) * bpp + 31) // 32) * 4 * abs(height)
    else:
        need = offset + int.from_bytes(data[34:38], "little")
    if need > n:
        return f"it is truncated ({n} bytes; its pixel data end at byte {need})"
    return None


def read_image_file(path: str | os.PathLike, *, flags: int | None = None,
                    what: str = "frame") -> np.ndarray:
    """Read and decode an image file byte-safely (OpenCV's channel order: BGR / gray / as stored).

    The file is read with :func:`open` (any name the file system holds works, including
    bytes that are not UTF-8), checked by :func:`image_problem` and decoded in memory with
    ``cv2.imdecode(data, flags)`` (default ``cv2.IMREAD_COLOR``).

    Parameters
    ----------
    path : path-like
    flags : int, optional
        ``cv2.IMREAD_*`` flags.
    what : str, default 'frame'
        What the file is, for messages (``'frame'``, ``'depth map'``).

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    FrameReadError
        Missing file, a folder, no permission, empty, truncated, corrupt or undecodable
        (the message names the file and the cause; ``.path`` holds it).
    """
    import cv2

    where = display_path(path)
    try:
        with open(os.fspath(path), "rb") as fh:
            data = fh.read()
    except FileNotFoundError as exc:
        raise FrameReadError(f"cannot read {what} {where}: the file does not exist", path=path) from exc
    except IsADirectoryError as exc:
        raise FrameReadError(f"cannot read {what} {where}: it is a folder", path=path) from exc
    except PermissionError as exc:
        raise FrameReadError(f"cannot read {what} {where}: permission denied (check the file's "
                             "and its folders' permissions)", path=path) from exc
    except OSError as exc:
        raise FrameReadError(f"cannot read {what} {where}: {exc.strerror or exc}", path=path) from exc
    problem = image_problem(data)
    if problem is not None:
        raise FrameReadError(f"cannot read {what} {where}: {problem}", path=path)
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR if flags is None else flags)
    except cv2.error as exc:
        img = None
        detail = f": {str(exc).strip().splitlines()[-1]}"
    else:
        detail = ""
    if img is None:
        raise FrameReadError(f"cannot read {what} {where}: OpenCV could not decode the image "
                             f"(not an image, or a format it does not read){detail}", path=path)
    return img


def write_image_file(path: str | os.PathLike, img: Any, *, params: Any = (),
                     parents: bool = False) -> Path:
    """Encode ``img`` (OpenCV channel order) by the path's extension and write it atomically.

    Encoding happens in memory (``cv2.imencode``) and the bytes go through
    :func:`atomic_write`, so names that are not UTF-8 are safe and a reader never sees half a
    frame.

    Parameters
    ----------
    path : path-like
        Target file; its extension picks the format (``.jpg``, ``.png``, ...).
    img : numpy.ndarray
        ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` array OpenCV can encode.
    params : sequence of int
        ``cv2.imencode`` parameters (e.g. ``[cv2.IMWRITE_JPEG_QUALITY, 95]``).
    parents : bool, default False
        Create missing parent folders.

    Returns
    -------
    Path

    Raises
    ------
    InputValueError
        OpenCV cannot encode the array in that format (names the file).
    FileWriteError
        The file cannot be written (as :func:`atomic_write`).
    """
    import cv2

    target = Path(os.fspath(path))
    ext = target.suffix or ".png"
    try:
        ok, buf = cv2.imencode(ext, np.ascontiguousarray(img), list(params))
    except cv2.error as exc:
        ok, buf = False, None
        detail = f": {str(exc).strip().splitlines()[-1]}"
    else:
        detail = ""
    if not ok or buf is None:
        raise InputValueError(f"OpenCV could not encode the image for {display_path(target)} as "
                              f"{ext!r}{detail}")
    return atomic_write(target, buf.tobytes(), parents=parents)


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
