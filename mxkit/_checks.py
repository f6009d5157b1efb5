"""Small input-validation helpers shared by every module (internal, layer 0).

Importing this module does not import torch (so torch-free packages such as
:mod:`mxkit.data` use the same checks); tensors are recognised when torch is loaded.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .errors import InputValueError, OptionError, ShapeError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["check_shape", "check_finite", "check_option", "as_tensor", "renamed_keywords",
           "renamed_attribute"]

F = TypeVar("F", bound=Callable[..., Any])


def _shape_str(spec: Sequence[int | str | None]) -> str:
    return "(" + ", ".join("*" if s is None else str(s) for s in spec) + ")"


def check_shape(x: Any, spec: Sequence[int | str | None], name: str) -> dict[str, int]:
    """Check that ``x.shape`` matches ``spec`` and return the sizes bound to named axes.

    ``spec`` entries are ints (exact size), strings (a named size, equal wherever it recurs)
    or ``None`` (any size). A leading ``"..."`` allows any number of leading dimensions.

    >>> check_shape(np.zeros((2, 5, 3)), ("B", "V", 3), "vertices")
    {'B': 2, 'V': 5}
    """
    shape = tuple(getattr(x, "shape", ()))
    spec = tuple(spec)
    if spec and spec[0] == "...":
        spec = spec[1:]
        if len(shape) < len(spec):
            raise ShapeError(
                f"{name} must have shape (..., {_shape_str(spec)[1:-1]}); got {shape}"
            )
        shape = shape[len(shape) - len(spec):]
    if len(shape) != len(spec):
        raise ShapeError(f"{name} must have shape {_shape_str(spec)}; got {shape}")
    bound: dict[str, int] = {}
    for axis, (size, want) in enumerate(zip(shape, spec, strict=True)):
        if want is None:
            continue
        if isinstance(want, str):
            if want in bound and bound[want] != size:
                raise ShapeError(
                    f"{name} must have shape {_shape_str(spec)} with {want}={bound[want]}; "
                    f"got {shape} (axis {axis})"
                )
            bound[want] = size
        elif size != want:
            raise ShapeError(f"{name} must have shape {_shape_str(spec)}; got {shape}")
    return bound


def _is_tensor(x: Any) -> bool:
    torch = sys.modules.get("torch")  # a tensor exists only if torch was imported
    return torch is not None and torch.is_tensor(x)


def check_finite(x: Any, name: str) -> None:
    """Raise :class:`InputValueError` if ``x`` holds NaN or infinite values."""
    if _is_tensor(x):
        import torch

        ok = bool(torch.isfinite(x).all())
    else:
        ok = bool(np.isfinite(np.asarray(x)).all())
    if not ok:
        raise InputValueError(f"{name} contains NaN or infinite values")


def check_option(value: Any, allowed: Iterable[Any], name: str) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise :class:`OptionError`.

    The message names the parameter, the allowed values and the value given (MNE's
    ``_check_option`` wording); the one allowed-value check of mxkit.

    >>> check_option("l1", ("l1", "l2"), "norm")
    'l1'
    """
    allowed = list(allowed)
    if value not in allowed:
        raise OptionError(
            f"Invalid value for {name!r}: allowed values are {allowed}, but got {value!r}"
        )
    return value


def check_int(value: Any, name: str, *, minimum: int | None = 1, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum]``, else :class:`InputValueError` naming it.

    Bools, floats and strings are refused (``chunk_size=2.5``, ``size="64"``).

    >>> check_int(16, "chunk_size")
    16
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputValueError(f"{name} must be an int; got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise InputValueError(f"{name} must be at least {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise InputValueError(f"{name} must be at most {maximum}; got {value}")
    return value


def check_device(device: Any, name: str = "device") -> Any:
    """``device`` as a :class:`torch.device` that exists on this machine (None stays None).

    Raises
    ------
    InputValueError
        Not a device name (``"gpu"``), or a CUDA / MPS device when torch sees none (a
        machine without a GPU, a CPU-only torch build) or a CUDA index past the last GPU.
    """
    if device is None:
        return None
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise InputValueError(f"{name}={device!r} is not a torch device (e.g. 'cpu', 'cuda', "
                              f"'cuda:1'): {exc}") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputValueError(f"{name}={device!r} asks for a CUDA GPU, but torch sees none "
                                  f"(torch.cuda.is_available() is False; torch {torch.__version__}): "
                                  "use device='cpu'")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise InputValueError(f"{name}={device!r}: this machine has {count} CUDA GPU(s) "
                                  f"(cuda:0..cuda:{count - 1})")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise InputValueError(f"{name}={device!r} asks for Apple's MPS, which torch cannot use "
                                  "here: use device='cpu'")
    return dev


def as_tensor(x: Any, *, like: torch.Tensor | None = None, dtype: torch.dtype | None = None,
              name: str = "input") -> torch.Tensor:
    """Convert ``x`` to a tensor on ``like``'s device and dtype (or ``dtype``)."""
    import torch

    if like is not None:
        dtype = dtype or like.dtype
        device = like.device
    else:
        device = x.device if torch.is_tensor(x) else None
    try:
        t = torch.as_tensor(x, dtype=dtype, device=device)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputValueError(f"{name} cannot be converted to a tensor: {exc}") from exc
    return t


def renamed_keywords(**renames: str) -> Callable[[F], F]:
    """Decorator: accept old keyword names (``old="new"``) with a :class:`DeprecationWarning`.

    The wrapped function keeps its signature (new names only); a call with an old keyword
    warns (attributed to the caller) and passes the value on under the new name. Giving
    both names is a :class:`TypeError`.

    >>> @renamed_keywords(kind="norm")
    ... def error(x, *, norm="l2"):
    ...     return norm
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     error(1, kind="l1"), w[0].category.__name__
    ('l1', 'DeprecationWarning')
    """
    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__qualname__}() got both {old!r} (deprecated) and {new!r}")
                    warnings.warn(f"{fn.__qualname__}(): the keyword {old!r} is deprecated; use {new!r}",
                                  DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        wrapper.__renamed_keywords__ = dict(renames)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def renamed_attribute(new: str, *, old: str) -> property:
    """A read-only property ``old`` that returns attribute ``new`` with a DeprecationWarning."""
    def getter(self: Any) -> Any:
        warnings.warn(f"{type(self).__name__}.{old} is deprecated; use .{new}", DeprecationWarning,
                      stacklevel=2)
        return getattr(self, new)

    return property(getter, doc=f"Deprecated alias of :attr:`{new}`.")
