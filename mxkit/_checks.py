"""Small input-validation helpers shared by every module (internal, layer 0).

Importing this module does not import torch (so torch-free packages such as
:mod:`mxkit.data` use the same checks); tensors are recognised when torch is loaded.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InputValueError, OptionError, ShapeError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["check_shape", "check_finite", "check_option", "as_tensor"]


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
