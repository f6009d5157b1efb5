"""Recognition features from a reconstruction (duck-typed on the Reconstruction contract).

Three feature groups, each available from a Reconstruction-like object (``.vertices``,
``.onset``, ``.apex``, ``.offset``, ``.expression``, ``.dynamic_code``, ``.clip_key``) or
from plain arrays:

* ``'regions'`` -- :func:`region_displacement_features`: per facial region, the mean
  (apex - onset) vertex displacement ``dx, dy, dz`` and its mean magnitude, mm;
* ``'trajectory'`` -- :func:`trajectory_features`: per expression coefficient, over the
  frames onset..offset relative to the onset value: value at the apex, peak absolute
  change, mean absolute change, and the time of the peak as a fraction of onset..offset;
* ``'dynamic'`` -- :func:`dynamic_code_features`: the clip's global dynamic code (D,).

:func:`reconstruction_features` concatenates the chosen groups; :func:`feature_matrix` stacks
many clips into a :class:`FeatureSet` for :func:`mxkit.eval.recognise`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._checks import check_finite, check_option, check_shape
from ..errors import InputValueError, ShapeError
from ..morph.masks import face_mask
from .reconstruction import _f64, _frame, _sequence

__all__ = [
    "FEATURE_GROUPS",
    "FeatureSet",
    "region_displacement_features",
    "trajectory_features",
    "dynamic_code_features",
    "reconstruction_features",
    "feature_matrix",
]

#: Feature groups of :func:`reconstruction_features` (see the module docstring).
FEATURE_GROUPS = ("regions", "trajectory", "dynamic")


@dataclass(frozen=True, eq=False)
class FeatureSet:
    """Feature vectors of several clips.

    Attributes
    ----------
    values : numpy.ndarray, shape (N, F), float64
    names : tuple of str, length F
    keys : tuple of (dataset, subject, clip_id), length N
    name : str
        What the features are (goes on the protocol card as ``feature_set``).
    """

    values: np.ndarray = field(repr=False)
    names: tuple[str, ...]
    keys: tuple[tuple[str, str, str], ...]
    name: str = "features"

    def __post_init__(self) -> None:
        check_shape(self.values, (len(self.keys), len(self.names)), "FeatureSet.values")

    @property
    def groups(self) -> list[tuple[str, str]]:
        """``(dataset, subject)`` of every clip (the LOSO groups)."""
        return [(k[0], k[1]) for k in self.keys]

    def as_mapping(self) -> dict[tuple[str, str, str], np.ndarray]:
        """``{clip key: vector}`` (for :func:`mxkit.eval.recognise_clips`)."""
        return {k: self.values[i] for i, k in enumerate(self.keys)}

    def to_dataframe(self) -> pd.DataFrame:
        """One row per clip: ``dataset, subject, clip`` then one column per feature."""
        df = pd.DataFrame(self.values, columns=list(self.names))
        df.insert(0, "clip", [k[2] for k in self.keys])
        df.insert(0, "subject", [k[1] for k in self.keys])
        df.insert(0, "dataset", [k[0] for k in self.keys])
        return df


def _attr(obj: Any, name: str, given: Any) -> Any:
    if given is not None:
        return given
    value = getattr(obj, name, None)
    if value is None:
        raise InputValueError(f"give {name}= (the input has no .{name})")
    return value


def region_displacement_features(recon: Any, model: Any, *, onset: int | None = None,
                                 apex: int | None = None, regions: Sequence[str] | None = None,
                                 mask: Literal["face", "skin", "all"] | Any = "face"
                                 ) -> tuple[np.ndarray, list[str]]:
    """Per-region mean (apex - onset) displacement and its mean magnitude, mm.

    Parameters
    ----------
    recon : Reconstruction-like or array (T, V, 3)
        ``recon.vertices`` (metres, model frame) or the vertices themselves.
    model : FaceModel
        Region masks.
    onset, apex : int, optional
        Default ``recon.onset`` / ``recon.apex``.
    regions : sequence of str, optional
        Default all of ``model.region_names``.
    mask : {'face', 'skin', 'all'} or bool array (V,)
        Vertices used inside each region (:func:`mxkit.morph.face_mask`).

    Returns
    -------
    values : numpy.ndarray, shape (4 R,)
    names : list of str
        ``'disp:<region>:dx'`` ... ``':dz'``, ``'disp:<region>:mag'``.
    """
    verts = _sequence(getattr(recon, "vertices", recon), "vertices")
    onset = _frame(_attr(recon, "onset", onset), len(verts), "onset")
    apex = _frame(_attr(recon, "apex", apex), len(verts), "apex")
    d = (verts[apex] - verts[onset]) * 1000.0
    keep = face_mask(model, mask) if isinstance(mask, str) else np.asarray(mask, dtype=bool)
    values, names = [], []
    for r in regions if regions is not None else model.region_names:
        sel = np.asarray(model.region_mask(r), dtype=bool) & keep
        if not sel.any():
            continue
        dr = d[sel]
        values += [*dr.mean(0), float(np.linalg.norm(dr, axis=1).mean())]
        names += [f"disp:{r}:{c}" for c in ("dx", "dy", "dz", "mag")]
    if not values:
        raise InputValueError("no region has vertices inside the mask")
    return np.asarray(values, dtype=np.float64), names


def trajectory_features(recon: Any, *, onset: int | None = None, apex: int | None = None,
                        offset: int | None = None, names: Sequence[str] | None = None
                        ) -> tuple[np.ndarray, list[str]]:
    """Statistics of the expression trajectory relative to the onset, per coefficient.

    Parameters
    ----------
    recon : Reconstruction-like or array (T, E)
        ``recon.expression`` (coarse + residual, per frame) or the coefficients.
    onset, apex, offset : int, optional
        Default from ``recon``; ``offset`` defaults to the last frame.
    names : sequence of str, optional
        Coefficient names (default ``recon.coarse.expression_names`` or ``e0, e1, ...``).

    Returns
    -------
    values : numpy.ndarray, shape (4 E,)
        Per coefficient ``e``, with ``c_t = psi_t - psi_onset`` over onset..offset:
        ``apex`` (``c_apex``), ``peak`` (``max |c_t|``), ``mean_abs`` (``mean |c_t|``),
        ``t_peak`` (``argmax |c_t|`` as a fraction of offset - onset; 0 for one frame).
    names : list of str
        ``'traj:<name>:apex'``, ``':peak'``, ``':mean_abs'``, ``':t_peak'``.
    """
    expr = _f64(getattr(recon, "expression", recon), "expression")
    check_shape(expr, ("T", "E"), "expression")
    check_finite(expr, "expression")
    T, E = expr.shape
    onset = _frame(_attr(recon, "onset", onset), T, "onset")
    apex = _frame(_attr(recon, "apex", apex), T, "apex")
    off = getattr(recon, "offset", None) if offset is None else offset
    off = T - 1 if off is None else _frame(off, T, "offset")
    if not onset <= apex <= off:
        raise InputValueError(f"need onset <= apex <= offset; got {onset}, {apex}, {off}")
    if names is None:
        names = getattr(getattr(recon, "coarse", None), "expression_names", None) or [f"e{i}" for i in range(E)]
    if len(names) != E:
        raise ShapeError(f"names has {len(names)} items for {E} coefficients")
    c = expr[onset:off + 1] - expr[onset]
    a = np.abs(c)
    span = max(off - onset, 1)
    stats = np.stack([expr[apex] - expr[onset], a.max(0), a.mean(0), a.argmax(0) / span], 1)  # (E, 4)
    labels = [f"traj:{n}:{s}" for n in names for s in ("apex", "peak", "mean_abs", "t_peak")]
    return stats.reshape(-1), labels


def dynamic_code_features(recon: Any) -> tuple[np.ndarray, list[str]]:
    """The reconstruction's global dynamic code (D,) with names ``'code:0'`` ...

    Raises
    ------
    InputValueError
        If the reconstruction has no dynamic code (variants without the encoder).
    """
    code = getattr(recon, "dynamic_code", recon)
    if code is None:
        raise InputValueError("this reconstruction has no dynamic code (a variant without the DynamicEncoder)")
    v = _f64(code, "dynamic_code").reshape(-1)
    check_finite(v, "dynamic_code")
    return v, [f"code:{i}" for i in range(v.size)]


def reconstruction_features(recon: Any, model: Any, *,
                            include: Sequence[str] = ("regions", "trajectory"),
                            mask: Literal["face", "skin", "all"] | Any = "face"
                            ) -> tuple[np.ndarray, list[str]]:
    """Concatenated feature groups of one reconstruction (see the module docstring).

    Parameters
    ----------
    recon : Reconstruction-like
    model : FaceModel
    include : sequence of {'regions', 'trajectory', 'dynamic'}, default ('regions', 'trajectory')
    mask : face mask of the region features

    Returns
    -------
    values : numpy.ndarray (F,)
    names : list of str
    """
    if isinstance(include, str) or not include:
        raise InputValueError(f"include must be a non-empty sequence of {list(FEATURE_GROUPS)}; got {include!r}")
    parts, names = [], []
    for g in include:
        check_option(g, FEATURE_GROUPS, "include")
        if g == "regions":
            v, n = region_displacement_features(recon, model, mask=mask)
        elif g == "trajectory":
            v, n = trajectory_features(recon)
        else:
            v, n = dynamic_code_features(recon)
        parts.append(v)
        names += n
    return np.concatenate(parts), names


def feature_matrix(items: Iterable[Any], extract: Callable[[Any], tuple[np.ndarray, list[str]]], *,
                   keys: Sequence[tuple[str, str, str]] | None = None, name: str = "features",
                   progress: bool = False) -> FeatureSet:
    """Apply a per-clip extractor to many clips and stack the vectors.

    Parameters
    ----------
    items : iterable
        Reconstructions, Prepared clips or arrays.
    extract : callable item -> (values (F,), names)
        E.g. ``lambda r: reconstruction_features(r, model)`` or
        :func:`mxkit.eval.flow_features`.
    keys : sequence of (dataset, subject, clip_id), optional
        Default ``item.clip_key`` (or ``item.key`` for a :class:`~mxkit.data.Clip`).
    name : str
        Feature-set name for the protocol card.
    progress : bool

    Raises
    ------
    InputValueError
        Items that give different feature names, no items, or no keys.
    """
    items = list(items)
    if not items:
        raise InputValueError("feature_matrix got no items")
    if progress:
        from tqdm.auto import tqdm

        items_iter = tqdm(items, desc=name)
    else:
        items_iter = items
    rows, first = [], None
    for item in items_iter:
        v, n = extract(item)
        if first is None:
            first = list(n)
        elif list(n) != first:
            raise InputValueError("items give different feature names (different regions or sizes?)")
        rows.append(np.asarray(v, dtype=np.float64))
    if keys is None:
        try:
            keys = [tuple(str(x) for x in getattr(it, "clip_key", None) or it.key) for it in items]
        except AttributeError as exc:
            raise InputValueError("items have no .clip_key (or Clip .key); pass keys=") from exc
    if len(keys) != len(rows):
        raise ShapeError(f"{len(keys)} keys for {len(rows)} items")
    return FeatureSet(np.stack(rows), tuple(first or ()), tuple(tuple(k) for k in keys), name)
