"""Training samples: a clip's network inputs and targets, built once so training never re-runs
preprocessing (landmarks, flow, coarse fit)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._checks import check_finite, check_option, check_shape, renamed_attribute, renamed_keywords
from .._io import atomic_open, display_path
from ..errors import CacheError, InputValueError
from ..nets.features import ClipFeatures, clip_features

__all__ = ["TrainingSample", "make_training_sample", "training_sample_from_tensors", "SAMPLES_FORMAT",
           "save_samples", "load_samples"]

#: Format tag of a samples file (:func:`save_samples`).
SAMPLES_FORMAT = "mxkit-training-samples"
_SAMPLES_VERSION = 1


@dataclass(frozen=True, eq=False)
class TrainingSample:
    """One clip ready for training.

    Attributes
    ----------
    features : ClipFeatures
        Network inputs (:func:`mxkit.nets.clip_features`).
    target_vertices : Tensor, shape (T, V, 3), optional
        Ground-truth unposed model-frame vertices, metres (``SynthTruth.vertices(model)``);
        None for self-supervised clips.
    frames : Tensor, shape (T, H, W, 3), uint8, optional
        The frames the flow was computed on (only for the photometric loss).
    key : tuple
        Clip identifier, e.g. ``(dataset, subject, clip_id)``.
    expression_type : {"micro", "macro"} or None
        Micro- or macro-expression clip (``kind`` is its deprecated old name).
    """

    features: ClipFeatures
    target_vertices: torch.Tensor | None = None
    frames: torch.Tensor | None = None
    key: tuple = ()
    expression_type: str | None = None

    kind = renamed_attribute("expression_type", old="kind")

    def __post_init__(self) -> None:
        if not isinstance(self.features, ClipFeatures):
            raise InputValueError("TrainingSample.features must be a ClipFeatures")
        T, V = self.features.n_frames, self.features.n_vertices
        if self.target_vertices is not None:
            check_shape(self.target_vertices, (T, V, 3), "target_vertices")
        if self.frames is not None:
            check_shape(self.frames, (T, None, None, None), "frames")
        if self.expression_type is not None:
            check_option(self.expression_type, ("micro", "macro"), "expression_type")

    @property
    def n_frames(self) -> int:
        return self.features.n_frames

    @property
    def supervised(self) -> bool:
        """Whether the sample carries ground-truth vertices."""
        return self.target_vertices is not None

    def to(self, device: Any = None, dtype: torch.dtype | None = None) -> TrainingSample:
        """A copy on ``device`` (floating tensors cast to ``dtype`` if given)."""
        tv = self.target_vertices
        return replace(self, features=self.features.to(device, dtype),
                       target_vertices=None if tv is None else tv.to(device=device,
                                                                      dtype=dtype or tv.dtype),
                       frames=None if self.frames is None else self.frames.to(device))


TrainingSample.__init__ = renamed_keywords(kind="expression_type")(TrainingSample.__init__)  # type: ignore[method-assign]


def _vertices(vertices: Any, model: Any, like: torch.Tensor) -> torch.Tensor | None:
    if vertices is None:
        return None
    if hasattr(vertices, "vertices") and callable(vertices.vertices):   # e.g. a SynthTruth
        vertices = vertices.vertices(model)
    v = torch.as_tensor(np.asarray(vertices) if not torch.is_tensor(vertices) else vertices)
    v = v.to(device=like.device, dtype=like.dtype)
    check_finite(v, "target vertices")
    return v


@renamed_keywords(kind="expression_type", kind_landmarks="scheme")
def training_sample_from_tensors(landmarks: Any, flow: Any, strain: Any, fit: Any, model: Any,
                                 *, onset: int, apex: int | None = None, vertices: Any = None,
                                 frames: Any = None, key: tuple = (),
                                 expression_type: str | None = None, scheme: str = "ibug68",
                                 vertex_mask: Any = None, register: bool = True
                                 ) -> TrainingSample:
    """Build a :class:`TrainingSample` from plain tensors.

    Parameters
    ----------
    landmarks, flow, strain, fit, model, onset, apex
        As in :func:`mxkit.nets.clip_features`.
    vertices : Tensor (T, V, 3), or an object with ``.vertices(model)``, optional
        Ground truth (e.g. a ``SynthTruth``).
    frames : array or Tensor, shape (T, H, W, 3), uint8, optional
        Kept for the photometric loss.
    key : tuple
    expression_type : {"micro", "macro"}, optional
        (``kind`` is a deprecated alias.)
    scheme : str
        Landmark scheme (embedding) of ``model`` the landmarks follow (``kind_landmarks`` is a
        deprecated alias).
    vertex_mask, register : optional
        See :func:`mxkit.nets.clip_features`.

    Raises
    ------
    InputValueError
        Missing landmarks/flow, NaNs in inputs or in the ground truth.
    """
    feats = clip_features(landmarks, flow, strain, fit, model, onset=onset, apex=apex,
                          scheme=scheme, vertex_mask=vertex_mask, register=register)
    target = _vertices(vertices, model, feats.coarse_vertices)
    fr = None
    if frames is not None:
        fr = torch.as_tensor(np.asarray(frames) if not torch.is_tensor(frames) else frames)
        if fr.ndim == 3:
            fr = fr[..., None]
    return TrainingSample(features=feats, target_vertices=target, frames=fr,
                          key=tuple(key), expression_type=expression_type)


@renamed_keywords(kind="expression_type")
def make_training_sample(prepared: Any, fit: Any, model: Any, *, vertices: Any = None,
                         expression_type: str | None = None, keep_frames: bool = False,
                         vertex_mask: Any = None) -> TrainingSample:
    """Build a :class:`TrainingSample` from a prepared clip (duck-typed ``Prepared``).

    Parameters
    ----------
    prepared : Prepared-like
        With ``.landmarks``, ``.flow``, ``.strain``, ``.onset``, ``.apex`` (and ``.frames``,
        ``.clip_key`` when present).
    fit : CoarseFit
        Of ``model`` to ``prepared.landmarks``.
    model : FaceModel
    vertices : optional
        Ground truth: a (T, V, 3) tensor or an object with ``.vertices(model)`` (SynthTruth).
    expression_type : {"micro", "macro"}, optional
        (``kind`` is a deprecated alias.)
    keep_frames : bool
        Keep ``prepared.frames`` for the photometric loss.
    vertex_mask : optional

    Raises
    ------
    InputValueError
        If the prepared clip has no landmarks or flow, or inputs hold NaNs.
    """
    for name in ("landmarks", "flow", "onset"):
        if getattr(prepared, name, None) is None:
            raise InputValueError(f"prepared clip has no {name!r}: a training sample needs "
                                  "landmarks and optical flow")
    return training_sample_from_tensors(
        prepared.landmarks, prepared.flow, getattr(prepared, "strain", None), fit, model,
        onset=int(prepared.onset), apex=getattr(prepared, "apex", None), vertices=vertices,
        frames=getattr(prepared, "frames", None) if keep_frames else None,
        key=tuple(getattr(prepared, "clip_key", ()) or ()), expression_type=expression_type,
        vertex_mask=vertex_mask)


# ----------------------------------------------------------------------------- files
def _plain(obj: Any) -> dict[str, Any]:
    """A dataclass as ``{field: tensor | int | float | str | None | list}`` (nothing to unpickle)."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def save_samples(samples: Any, path: str | os.PathLike) -> Path:
    """Write training samples to ``path`` atomically, as tensors and plain values only.

    The file is a ``torch.save`` dict of tensors, numbers, strings and lists (no Python
    objects), so :func:`load_samples` reads it with ``torch.load(weights_only=True)``: a
    samples file is never unpickled.
    """
    payload = {"format": SAMPLES_FORMAT, "version": _SAMPLES_VERSION,
               "samples": [{**_plain(s), "features": _plain(s.features)} for s in samples]}
    with atomic_open(path, parents=True) as fh:
        torch.save(payload, fh)
    return Path(path)


def load_samples(path: str | os.PathLike) -> list[TrainingSample]:
    """Read a file written by :func:`save_samples` (``weights_only=True``; checked).

    Raises
    ------
    CacheError
        The file is missing, truncated, corrupt, of another format or version, or its
        samples do not validate.
    """
    where = display_path(path)
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure means an unreadable file
        raise CacheError(f"samples file {where} is unreadable: {type(exc).__name__}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != SAMPLES_FORMAT:
        raise CacheError(f"{where} is not an mxkit samples file")
    if payload.get("version") != _SAMPLES_VERSION:
        raise CacheError(f"{where}: samples version {payload.get('version')!r} is not {_SAMPLES_VERSION}")
    entries = payload.get("samples")
    if not isinstance(entries, list):
        raise CacheError(f"{where} holds no list of samples")
    return [_sample(entry, i, where) for i, entry in enumerate(entries)]


def _sample(entry: Any, i: int, where: str) -> TrainingSample:
    try:
        entry = dict(entry)
        feats = ClipFeatures(**entry.pop("features"))
        entry["key"] = tuple(entry.get("key") or ())
        return TrainingSample(features=feats, **entry)
    except Exception as exc:  # noqa: BLE001 - a damaged entry fails validation in any way
        raise CacheError(f"{where}: sample {i} does not validate: {type(exc).__name__}: {exc}") from exc
