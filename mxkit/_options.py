"""The base of mxkit's typed option objects (internal, layer 0).

An option object is a small frozen dataclass (pytorch3d's ``RasterizationSettings`` style):
it validates its fields when it is made, names the field in every error, and converts to and
from plain JSON values, so it can be stored in a cache key, a checkpoint or a weights bundle::

    @dataclass(frozen=True)
    class BlurOptions(Options):
        sigma: float = 1.0
        mode: str = "reflect"

        def _check(self) -> None:
            self._number("sigma", low=0)
            self._choice("mode", ("reflect", "constant"))

    BlurOptions(sigma=-1)        # InputValueError: BlurOptions.sigma must be >= 0; got -1
    BlurOptions().replace(sigma=2).to_dict()     # {'sigma': 2, 'mode': 'reflect'}
    BlurOptions.from_dict({"sigmaa": 2})        # OptionError naming the key 'sigmaa'

Fields hold JSON values only: ``None``, bools, ints, finite floats, strings, tuples of them
(lists given for a tuple field are stored as tuples) and nested option objects. A field whose
default is an option object (``field(default_factory=DISOptions)``) is read back as that
class by :meth:`Options.from_dict`. Importing this module does not import torch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from ._checks import check_option
from .errors import InputValueError, OptionError

__all__ = ["Options", "flat_options"]

OptionsT = TypeVar("OptionsT", bound="Options")

_MISSING = dataclasses.MISSING


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not _MISSING:
        return f.default
    if f.default_factory is not _MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return _MISSING


def _json_value(value: Any, where: str) -> Any:
    if isinstance(value, Options):
        return value.to_dict()
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputValueError(f"{where} must be finite to be stored; got {value!r}")
        return float(value)
    if isinstance(value, (tuple, list)):
        return [_json_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise InputValueError(f"{where} holds {type(value).__name__} {value!r}, which is not a "
                          "JSON value (None, bool, int, float, str, a tuple of them or options)")


@dataclasses.dataclass(frozen=True)
class Options:
    """Base class of mxkit's frozen option objects (subclass with ``@dataclass(frozen=True)``).

    Subclasses validate their fields in :meth:`_check` with the helpers ``_number``,
    ``_integer``, ``_choice``, ``_flag`` and ``_text``; every error is typed
    (:class:`~mxkit.errors.InputValueError` for a bad value,
    :class:`~mxkit.errors.OptionError` for a value not among the allowed ones or an unknown
    field name) and names ``ClassName.field``.
    """

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list) and isinstance(_default_of(f), tuple):
                object.__setattr__(self, f.name, tuple(value))
        self._check()

    # -- validation ---------------------------------------------------------------------------
    def _check(self) -> None:
        """Validate the fields (subclasses override; called on construction)."""

    def _name(self, field: str) -> str:
        return f"{type(self).__name__}.{field}"

    def _number(self, field: str, *, low: float | None = None, high: float | None = None,
                strict: bool = False, optional: bool = False) -> None:
        """A finite real number (not a bool) in ``[low, high]`` (``(low, high]`` if strict)."""
        v = getattr(self, field)
        if v is None and optional:
            return
        ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
        if ok and low is not None:
            ok = v > low if strict else v >= low
        if ok and high is not None:
            ok = v <= high
        if not ok:
            rng = []
            if low is not None:
                rng.append(f"{'>' if strict else '>='} {low}")
            if high is not None:
                rng.append(f"<= {high}")
            raise InputValueError(f"{self._name(field)} must be a finite number"
                                  f"{' ' + ' and '.join(rng) if rng else ''}"
                                  f"{' or None' if optional else ''}; got {v!r}")

    def _integer(self, field: str, *, low: int | None = None, high: int | None = None,
                 optional: bool = False) -> None:
        """An integer (not a bool) in ``[low, high]``."""
        v = getattr(self, field)
        if v is None and optional:
            return
        ok = isinstance(v, int) and not isinstance(v, bool)
        if ok and low is not None:
            ok = v >= low
        if ok and high is not None:
            ok = v <= high
        if not ok:
            rng = [s for s in ((f">= {low}" if low is not None else ""),
                               (f"<= {high}" if high is not None else "")) if s]
            raise InputValueError(f"{self._name(field)} must be an integer"
                                  f"{' ' + ' and '.join(rng) if rng else ''}"
                                  f"{' or None' if optional else ''}; got {v!r}")

    def _choice(self, field: str, allowed: Iterable[Any]) -> None:
        """One of ``allowed`` (:func:`mxkit._checks.check_option` wording)."""
        check_option(getattr(self, field), allowed, self._name(field))

    def _flag(self, field: str) -> None:
        """A bool."""
        v = getattr(self, field)
        if not isinstance(v, bool):
            raise InputValueError(f"{self._name(field)} must be True or False; got {v!r}")

    def _text(self, field: str, *, optional: bool = False, items: bool = False) -> None:
        """A string (or with ``items``: a tuple of strings)."""
        v = getattr(self, field)
        if v is None and optional:
            return
        ok = (isinstance(v, tuple) and all(isinstance(s, str) for s in v)) if items \
            else isinstance(v, str)
        if not ok:
            what = "a tuple of strings" if items else "a string"
            raise InputValueError(f"{self._name(field)} must be {what}"
                                  f"{' or None' if optional else ''}; got {v!r}")

    # -- conversion ---------------------------------------------------------------------------
    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The field names, in order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def _unknown(cls, keys: Iterable[str], where: str | None) -> None:
        names = set(cls.field_names())
        unknown = [k for k in keys if k not in names]
        if unknown:
            raise OptionError(f"{where + ': ' if where else ''}unknown {cls.__name__} "
                              f"field{'s' if len(unknown) > 1 else ''} "
                              f"{', '.join(map(repr, unknown))}; the fields are "
                              f"{list(cls.field_names())}")

    def replace(self: OptionsT, **changes: Any) -> OptionsT:
        """A copy with ``changes`` (validated; an unknown name raises :class:`OptionError`)."""
        self._unknown(changes, None)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (nested options as dicts, tuples as lists), in field order."""
        return {f.name: _json_value(getattr(self, f.name), self._name(f.name))
                for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[OptionsT], d: Mapping[str, Any], *, where: str | None = None) -> OptionsT:
        """Inverse of :meth:`to_dict`; missing fields take their defaults.

        Parameters
        ----------
        d : mapping
            Field values; a nested option field may be given as a dict.
        where : str, optional
            Named in errors (e.g. the file the values were read from).

        Raises
        ------
        OptionError
            For a key that is not a field (the message names the key).
        InputValueError
            For a value that does not validate, or ``d`` that is not a mapping.
        """
        if not isinstance(d, Mapping):
            raise InputValueError(f"{where + ': ' if where else ''}{cls.__name__} values must be "
                                  f"a mapping; got {type(d).__name__}")
        cls._unknown(d, where)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in d:
                continue
            value = d[f.name]
            default = _default_of(f)
            if isinstance(default, Options) and isinstance(value, Mapping):
                value = type(default).from_dict(value, where=where)
            values[f.name] = value
        return cls(**values)

    @classmethod
    def coerce(cls: type[OptionsT], value: Any, *, name: str = "options") -> OptionsT:
        """``None`` -> the defaults, an instance -> itself, a mapping -> :meth:`from_dict`."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            return cls.from_dict(value, where=name)
        raise InputValueError(f"{name} must be a {cls.__name__}, a mapping of its fields or None; "
                              f"got {type(value).__name__}")


def flat_options(cls: type[OptionsT], options: OptionsT | Mapping[str, Any] | None, legacy: Mapping[str, Any],
                 *, function: str, stacklevel: int = 3) -> OptionsT:
    """``options`` updated by old flat keywords ``legacy`` (with a :class:`DeprecationWarning`).

    For functions that took the fields of ``cls`` as keywords before they took an option
    object: ``legacy`` holds the ``**`` keywords of the call. A key that is not a field of
    ``cls`` is a :class:`TypeError` (as for any unexpected keyword).
    """
    opts = cls.coerce(options)
    if not legacy:
        return opts
    names = set(cls.field_names())
    bad = [k for k in legacy if k not in names]
    if bad:
        raise TypeError(f"{function}() got unexpected keyword argument{'s' if len(bad) > 1 else ''} "
                        f"{', '.join(map(repr, bad))}")
    import warnings

    warnings.warn(f"{function}(): pass {', '.join(sorted(legacy))} in "
                  f"options={cls.__name__}(...) (the flat keywords are deprecated)",
                  DeprecationWarning, stacklevel=stacklevel)
    return opts.replace(**legacy)
