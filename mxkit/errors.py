"""Typed errors raised by mxkit.

Every error is a :class:`MxkitError`, itself a :class:`ValueError`, so callers can catch
all of mxkit's input problems at once or one kind precisely. Messages always say what was
expected and what was received, and name the argument, file, sheet, row or column.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "MxkitError",
    "ShapeError",
    "InputValueError",
    "OptionError",
    "ModelFileError",
    "UnknownModelError",
    "AssetNotFoundError",
    "DatasetFormatError",
    "FrameReadError",
    "NoFaceError",
    "CacheError",
    "CheckpointError",
    "BackendUnavailableError",
    "FileWriteError",
]


def printable(text: str) -> str:
    """``text`` with lone surrogates (bytes of a file name that are not UTF-8, as
    :func:`os.fsdecode` keeps them) shown as ``\\xNN``, so it can always be printed."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape" if _only_escapes(text) else "surrogatepass"
                           ).decode("utf-8", "backslashreplace")


def _only_escapes(text: str) -> bool:
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)


class MxkitError(ValueError):
    """Base class of every error mxkit raises on bad input.

    Its text is always printable: a path whose name is not UTF-8 shows its odd bytes as
    ``\\xNN`` (:func:`printable`), in a terminal, a log or a notebook alike.
    """

    def __str__(self) -> str:
        return printable(super().__str__())


class ShapeError(MxkitError):
    """An array or tensor argument has the wrong shape or number of dimensions."""


class InputValueError(MxkitError):
    """An argument has an invalid value (NaN, out of range, wrong dtype, ...)."""


class OptionError(MxkitError):
    """An option is not one of the allowed values."""


class ModelFileError(MxkitError):
    """A face-model file is missing, unreadable, corrupt or of an unknown format."""


class UnknownModelError(MxkitError):
    """A face-model name is not known to :func:`mxkit.morph.load_face_model`."""


class AssetNotFoundError(MxkitError):
    """A packaged or user-supplied asset cannot be found; the message says how to get it."""


class DatasetFormatError(MxkitError):
    """A dataset file does not follow its published layout (names file, sheet, row, column)."""


class FrameReadError(MxkitError):
    """A video frame cannot be read: missing, unreadable, empty, truncated or corrupt.

    The message names the file (printable even when the name is not UTF-8); ``.path``
    holds it when known (else None).
    """

    def __init__(self, message: str, *, path: str | os.PathLike | None = None):
        super().__init__(message)
        self.path = None if path is None else Path(path)


class NoFaceError(MxkitError):
    """No face was found in a frame (names the frame index)."""


class CacheError(MxkitError):
    """A cache entry is corrupt or was written by an incompatible version."""


class CheckpointError(MxkitError):
    """A checkpoint is corrupt or does not match the model it is loaded into."""


class BackendUnavailableError(MxkitError, ImportError):
    """An optional backend is not installed or lacks its weights; the message says how to get it."""


class FileWriteError(MxkitError, OSError):
    """A file cannot be written; ``.path`` holds the path that was tried.

    It is both an :class:`MxkitError` and an :class:`OSError`, so either ``except`` clause
    catches it. Raised by every writer (they all go through :func:`mxkit._io.atomic_write`).
    """

    def __init__(self, message: str, *, path: str | os.PathLike):
        super().__init__(message)
        self.path = Path(path)

    def __reduce__(self):  # path is keyword-only: rebuild it across processes (prepare_many)
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type, args: tuple, state: dict) -> BaseException:
    err = cls(*args[:1], path=state.get("path", ""))
    err.__dict__.update(state)
    return err
