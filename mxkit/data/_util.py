"""Small helpers of :mod:`mxkit.data` (internal; torch-free so importing mxkit.data stays light)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import OptionError

__all__ = ["check_option"]


def check_option(value: Any, allowed: Iterable[Any], name: str) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise :class:`OptionError`
    (same message as :func:`mxkit._checks.check_option`)."""
    allowed = list(allowed)
    if value not in allowed:
        raise OptionError(
            f"Invalid value for {name!r}: allowed values are {allowed}, but got {value!r}"
        )
    return value
