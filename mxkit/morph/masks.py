"""Vertex masks and region weights of a face model: what evaluation and training look at.

:func:`face_mask` is the boolean part of the mesh that metrics and losses use (``'face'``,
``'skin'`` or ``'all'``); :func:`region_weights` gives per-vertex weights of the overall
region ``'all'``, the facial regions (``model.region_mask``, weight 1) and AU regions
(``model.au_region_mask``, soft weights in [0, 1]), restricted to an evaluation mask. Both
read only the model's public attributes (``n_vertices``, ``part_names``/``part_mask``,
``region_names``/``region_labels``/``region_mask``, ``au_region_mask``), so they serve
every :class:`~mxkit.morph.FaceModel` (``mh-head``, FLAME, test models).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from .._checks import check_finite, check_option, check_shape
from ..errors import InputValueError

__all__ = ["face_mask", "region_weights", "FACE_MASKS"]

log = logging.getLogger(__name__)

#: Values of ``which`` of :func:`face_mask`.
FACE_MASKS = ("face", "skin", "all")


def _as_float64(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):          # a torch tensor
        x = x.detach().cpu().double().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputValueError(f"{name} must be a numeric array; got {type(x).__name__}") from exc


def vertex_weights(mask: Any, n_vertices: int, name: str = "mask") -> np.ndarray:
    """A vertex mask (bool or non-negative weights, (V,)) as float64 weights; ``None``: all 1.

    Raises
    ------
    ShapeError, InputValueError
        Wrong length, NaN/inf, negative weights or a zero sum.
    """
    if mask is None:
        return np.ones(int(n_vertices), dtype=np.float64)
    m = _as_float64(mask, name)
    check_shape(m, (int(n_vertices),), name)
    check_finite(m, name)
    if (m < 0).any() or not m.sum() > 0:
        raise InputValueError(f"{name} must be non-negative vertex weights (V,) with a positive sum")
    return m


def face_mask(model: Any, which: Literal["face", "skin", "all"] = "face") -> np.ndarray:
    """Boolean vertex mask (V,) of the part of a face model that evaluation looks at.

    Parameters
    ----------
    model : FaceModel
    which : {'face', 'skin', 'all'}, default 'face'
        ``'all'``: every vertex; ``'skin'``: the ``'skin'`` mesh part (no eyeballs, lashes,
        teeth or tongue); ``'face'``: skin vertices with a labelled region other than
        ``'other'`` (for ``mh-head``: no back of the head, ears or neck). Parts or regions
        the model lacks are not used to narrow the mask.

    Returns
    -------
    numpy.ndarray, shape (V,), bool

    Raises
    ------
    OptionError
        Unknown ``which``.
    InputValueError
        The mask selects no vertex.
    """
    check_option(which, FACE_MASKS, "which")
    V = int(model.n_vertices)
    keep = np.ones(V, dtype=bool)
    if which == "all":
        return keep
    if "skin" in getattr(model, "part_names", ()):
        keep &= np.asarray(model.part_mask("skin"), dtype=bool)
    if which == "face":
        labels = np.asarray(getattr(model, "region_labels", np.full(V, -1)))
        names = tuple(getattr(model, "region_names", ()))
        if names:
            labelled = labels >= 0
            if "other" in names:
                labelled &= labels != names.index("other")
            keep &= labelled
    if not keep.any():
        raise InputValueError(f"face_mask({which!r}) selects no vertex of model {model.name!r}")
    return keep


def region_weights(model: Any = None, *, n_vertices: int | None = None, mask: Any = None,
                   regions: bool | Sequence[str] = True,
                   aus: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Vertex weights (V,) of the overall region, the facial regions and the AU regions.

    Parameters
    ----------
    model : FaceModel, optional
        Source of ``region_names`` / ``region_mask`` / ``au_region_mask``; without it only
        ``'all'`` is returned (``n_vertices`` or ``mask`` must then give ``V``).
    n_vertices : int, optional
    mask : array (V,), optional
        Evaluation mask (bool or non-negative weights); every region is restricted to it.
        Default: all vertices.
    regions : bool or sequence of str, default True
        Facial regions to include (``True``: all of ``model.region_names``).
    aus : sequence of str, optional
        AU regions to include (``"AU12"``, ``"L12"``; soft masks); default none.

    Returns
    -------
    dict of str -> numpy.ndarray (V,) float64
        ``'all'`` first, then the regions and AUs in the given order; regions that have no
        weight inside the mask are left out (logged).
    """
    if model is not None:
        V = int(model.n_vertices)
    elif mask is not None:
        V = int(np.asarray(_as_float64(mask, "mask")).shape[0])
    elif n_vertices is not None:
        V = int(n_vertices)
    else:
        raise InputValueError("region_weights needs a model, a mask or n_vertices")
    base = vertex_weights(mask, V)
    out = {"all": base}
    if model is None:
        if regions not in (True, False, (), []) or aus:
            raise InputValueError("facial and AU regions need a model")
        return out
    names = tuple(model.region_names) if regions is True else tuple(regions or ())
    for name in names:
        out[str(name)] = base * np.asarray(model.region_mask(name), dtype=np.float64)
    for au in aus or ():
        out[str(au)] = base * np.asarray(model.au_region_mask(au), dtype=np.float64)
    empty = [k for k, w in out.items() if not w.sum() > 0]
    if empty:
        log.info("regions with no vertex inside the evaluation mask are left out: %s", empty)
    return {k: w for k, w in out.items() if w.sum() > 0}
