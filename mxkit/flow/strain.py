"""Optical strain: the infinitesimal strain tensor of a flow field and its magnitude.

For a flow ``(u, v)`` (pixels; u + right, v + down) the strain tensor is
``eps = 1/2 [grad(w) + grad(w)^T]`` with ``w = (u, v)``:

* ``e_xx = du/dx``, ``e_yy = dv/dy``,
* ``e_xy = e_yx = 1/2 (du/dy + dv/dx)``,

and the optical strain magnitude (Liong et al., the common MER definition) is its Frobenius
norm ``|eps| = sqrt(e_xx^2 + e_yy^2 + 2 e_xy^2)``. Derivatives are per pixel (x = column,
y = row), so strain is dimensionless.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
import torch

from .._checks import check_finite, check_option, check_shape
from ..errors import InputValueError
from ._validate import check_flow

__all__ = ["StrainComponents", "strain_components", "optical_strain"]


class StrainComponents(NamedTuple):
    """Components of the 2D strain tensor of a flow field, each shape ``(..., H, W)``.

    Attributes
    ----------
    exx : numpy.ndarray or torch.Tensor, shape (..., H, W)
        ``du/dx`` (horizontal normal strain).
    eyy : numpy.ndarray or torch.Tensor, shape (..., H, W)
        ``dv/dy`` (vertical normal strain).
    exy : numpy.ndarray or torch.Tensor, shape (..., H, W)
        ``1/2 (du/dy + dv/dx)`` (shear strain).
    """

    exx: Any
    eyy: Any
    exy: Any


def _forward_diff(x: Any, axis: int) -> Any:
    """Forward difference ``x[i+1] - x[i]``, with 0 in the last row/column."""
    if torch.is_tensor(x):
        d = torch.diff(x, dim=axis)
        pad_shape = list(x.shape)
        pad_shape[axis] = 1
        return torch.cat([d, d.new_zeros(pad_shape)], dim=axis)
    d = np.diff(x, axis=axis)
    pad_shape = list(x.shape)
    pad_shape[axis] = 1
    return np.concatenate([d, np.zeros(pad_shape, dtype=d.dtype)], axis=axis)


def _central_diff(x: Any, axis: int) -> Any:
    """Central differences inside, one-sided at the borders (``numpy.gradient``)."""
    if x.shape[axis] < 2:
        return x * 0
    if torch.is_tensor(x):
        return torch.gradient(x, dim=axis, edge_order=1)[0]
    return np.gradient(x, axis=axis, edge_order=1)


def strain_components(
    flow: Any, *, scheme: Literal["central", "forward"] = "central"
) -> StrainComponents:
    """Strain-tensor components ``(e_xx, e_yy, e_xy)`` of a flow field.

    Parameters
    ----------
    flow : numpy.ndarray or torch.Tensor, shape (..., H, W, 2)
        Flow in pixels, channel 0 = u (+ right), channel 1 = v (+ down). Leading dimensions
        (e.g. frames) are processed independently. A tensor gives tensors (differentiable).
    scheme : {'central', 'forward'}, default 'central'
        Finite differences. ``'central'``: ``(f[i+1] - f[i-1]) / 2`` inside and one-sided
        differences on the border (``numpy.gradient``). ``'forward'``: ``f[i+1] - f[i]`` with 0
        in the last row/column, as in much MER code.

    Returns
    -------
    StrainComponents
        ``exx = du/dx``, ``eyy = dv/dy``, ``exy = 1/2 (du/dy + dv/dx)``, each of shape
        ``(..., H, W)``, dimensionless, same array type and float dtype as ``flow``.

    Raises
    ------
    ShapeError
        If ``flow`` is not ``(..., H, W, 2)``.
    InputValueError
        If ``flow`` is not floating point or holds NaN/inf.
    OptionError
        If ``scheme`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from mxkit.flow import strain_components
    >>> x = np.arange(8, dtype=np.float32)
    >>> flow = np.zeros((8, 8, 2), np.float32)
    >>> flow[..., 0] = 0.1 * x[None, :]          # u = 0.1 x: horizontal stretch
    >>> comps = strain_components(flow)
    >>> [round(float(c[4, 4]), 6) for c in comps]
    [0.1, 0.0, 0.0]
    """
    check_option(scheme, ("central", "forward"), "scheme")
    if torch.is_tensor(flow):
        check_shape(flow, ("...", "H", "W", 2), "flow")
        if not torch.is_floating_point(flow):
            raise InputValueError(f"flow must be floating point (pixels); got dtype {flow.dtype}")
        check_finite(flow, "flow")
    else:
        flow = check_flow(flow, "flow", batched=True)
    diff = _central_diff if scheme == "central" else _forward_diff
    u = flow[..., 0]
    v = flow[..., 1]
    x_axis, y_axis = u.ndim - 1, u.ndim - 2
    exx = diff(u, x_axis)
    eyy = diff(v, y_axis)
    exy = 0.5 * (diff(u, y_axis) + diff(v, x_axis))
    return StrainComponents(exx, eyy, exy)


def optical_strain(flow: Any, *, scheme: Literal["central", "forward"] = "central") -> Any:
    """Optical strain magnitude ``sqrt(e_xx^2 + e_yy^2 + 2 e_xy^2)`` of a flow field.

    This is the Frobenius norm of the strain tensor, the usual MER definition (Liong et al.):
    ``sqrt(u_x^2 + v_y^2 + 1/2 (u_y + v_x)^2)``. A pure translation has zero strain; the
    affine flow ``u = a x`` has strain ``|a|``; a rotation (antisymmetric gradient) has zero.

    Parameters
    ----------
    flow : numpy.ndarray or torch.Tensor, shape (..., H, W, 2)
        Flow in pixels, channel 0 = u (+ right), channel 1 = v (+ down).
    scheme : {'central', 'forward'}, default 'central'
        Finite differences, see :func:`strain_components`.

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (..., H, W)
        Strain magnitude, dimensionless (pixels per pixel), >= 0.

    Raises
    ------
    ShapeError
        If ``flow`` is not ``(..., H, W, 2)``.
    InputValueError
        If ``flow`` is not floating point or holds NaN/inf.
    OptionError
        If ``scheme`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from mxkit.flow import optical_strain
    >>> flow = np.zeros((8, 8, 2), np.float32)
    >>> flow[..., 0] = -0.2 * np.arange(8)[None, :]  # u = -0.2 x
    >>> round(float(optical_strain(flow)[4, 4]), 6)
    0.2
    """
    c = strain_components(flow, scheme=scheme)
    sq = c.exx * c.exx + c.eyy * c.eyy + 2.0 * c.exy * c.exy
    if torch.is_tensor(sq):
        # sqrt has an infinite derivative at 0; clamp keeps gradients finite for zero strain.
        return torch.sqrt(sq.clamp_min(torch.finfo(sq.dtype).tiny))
    return np.sqrt(sq)
