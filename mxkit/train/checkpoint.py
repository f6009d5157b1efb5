"""Checkpoints and weight files: written atomically, loaded safely, checked against the model.

Two payloads, both plain ``torch.save`` dicts loaded with ``weights_only=True``:

* a **training checkpoint** (``format = "mxkit-train-checkpoint"``): networks, optimizer,
  scheduler, RNG state, step, config, history -- everything :func:`mxkit.train.train`
  needs to resume an interrupted run exactly;
* a **weights** payload (``format = "mxkit-refiner-weights"``): networks and their
  :meth:`~mxkit.nets.DynamicRefiner.meta` only.

Both record the topology the networks were built for (model name, ``V``, ``E``, landmark
and region counts, module sizes, deformer input channels); :func:`check_topology` raises
:class:`~mxkit.errors.CheckpointError` naming every mismatch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .._io import atomic_open, display_path
from ..errors import CheckpointError
from ..nets.features import DEFORMER_CHANNELS
from ..nets.refiner import DynamicRefiner

__all__ = [
    "save_atomic",
    "load_payload",
    "weights_payload",
    "load_refiner",
    "check_topology",
    "TRAIN_FORMAT",
    "WEIGHTS_FORMAT",
]

TRAIN_FORMAT = "mxkit-train-checkpoint"
WEIGHTS_FORMAT = "mxkit-refiner-weights"
_VERSION = 1


def save_atomic(payload: dict[str, Any], path: str | os.PathLike) -> Path:
    """``torch.save`` ``payload`` to ``path`` atomically (:func:`mxkit._io.atomic_open`).

    A unique temporary file in the same folder, fsync-ed, then ``os.replace``: a reader never
    sees a half-written file, and after a crash the old file (or none) remains. Parent
    folders are created. Returns ``Path(path)``; raises
    :class:`~mxkit.errors.FileWriteError` (an :class:`OSError`) if it cannot be written.
    """
    with atomic_open(path, parents=True) as fh:
        torch.save(payload, fh)
    return Path(path)


def load_payload(path: str | os.PathLike, *, expected: tuple[str, ...] = (TRAIN_FORMAT,
                                                                           WEIGHTS_FORMAT)
                 ) -> dict[str, Any]:
    """Load a checkpoint or weights file (CPU tensors, ``weights_only=True``).

    Raises
    ------
    CheckpointError
        If the file is missing, unreadable, truncated or not an mxkit payload of an
        ``expected`` format.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{display_path(path)}' does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure means a corrupt file
        raise CheckpointError(f"checkpoint '{display_path(path)}' is corrupt or unreadable: {exc}") from exc
    return _check_format(payload, expected, str(path))


def _check_format(payload: Any, expected: tuple[str, ...], where: str) -> dict[str, Any]:
    if not isinstance(payload, dict) or payload.get("format") not in expected:
        got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"{where} is not an mxkit payload of format {list(expected)}; "
                              f"got {got!r}")
    if payload.get("version") != _VERSION:
        raise CheckpointError(f"{where} has payload version {payload.get('version')!r}; this "
                              f"mxkit reads version {_VERSION}")
    for key in ("meta", "networks"):
        if key not in payload:
            raise CheckpointError(f"{where} lacks its {key!r} entry")
    return payload


def weights_payload(refiner: DynamicRefiner, *, extra: dict[str, Any] | None = None
                    ) -> dict[str, Any]:
    """The weights payload of a refiner (CPU copies of its parameters)."""
    return {"format": WEIGHTS_FORMAT, "version": _VERSION, "meta": refiner.meta(),
            "networks": {k: v.detach().cpu().clone() for k, v in refiner.state_dict().items()},
            **(extra or {})}


def check_topology(meta: dict[str, Any], model: Any = None, *,
                   refiner: DynamicRefiner | None = None, where: str = "checkpoint") -> None:
    """Raise :class:`CheckpointError` if ``meta`` does not fit ``model`` or ``refiner``.

    Parameters
    ----------
    meta : dict
        :meth:`DynamicRefiner.meta` as stored in a payload.
    model : FaceModel, optional
        Checked: name, vertex, expression, landmark and region counts.
    refiner : DynamicRefiner, optional
        Checked: which modules exist and their sizes.
    where : str
        Named in the message.
    """
    problems = []
    topo = meta.get("topology", {})
    if model is not None:
        want = {"model_name": str(model.name), "n_vertices": int(model.n_vertices),
                "n_expressions": int(model.n_expressions),
                "n_regions": len(model.region_names)}
        if "ibug68" in model.landmark_embeddings:
            want["n_landmarks"] = len(model.landmark_embeddings["ibug68"])
        for k, v in want.items():
            if k in topo and topo[k] != v:
                problems.append(f"{k}: {where} has {topo[k]!r}, model has {v!r}")
    if list(meta.get("deformer_channels", DEFORMER_CHANNELS)) != list(DEFORMER_CHANNELS):
        problems.append(f"deformer input channels differ: {where} has "
                        f"{meta.get('deformer_channels')}, this mxkit uses {list(DEFORMER_CHANNELS)}")
    if refiner is not None:
        mine = refiner.meta()
        for part in ("encoder", "deformer"):
            if (meta.get(part) is None) != (mine[part] is None):
                problems.append(f"{part}: {where} has {'none' if meta.get(part) is None else 'one'}"
                                f", the network has {'none' if mine[part] is None else 'one'}")
            elif meta.get(part) is not None and dict(meta[part]) != mine[part]:
                problems.append(f"{part} sizes: {where} has {meta[part]}, the network has "
                                f"{mine[part]}")
    if problems:
        raise CheckpointError(f"{where} does not match: " + "; ".join(problems))


def _check_finite_networks(networks: Any, where: str) -> None:
    """Raise :class:`CheckpointError` naming ``where`` and the tensor if a weight is NaN or infinite."""
    if not isinstance(networks, dict):
        return  # load_state_dict reports it
    for name, value in networks.items():
        if torch.is_tensor(value) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            n_bad = int((~torch.isfinite(value)).sum())
            raise CheckpointError(f"{where}: the network weights {name!r} hold {n_bad} NaN or infinite "
                                  "values (a damaged file or a diverged training run); retrain or use "
                                  "other weights")


def load_refiner(source: Any, *, model: Any = None, where: str | None = None) -> DynamicRefiner:
    """A :class:`DynamicRefiner` with trained weights from a file, a payload or a refiner.

    Parameters
    ----------
    source : path, dict, DynamicRefiner or TrainResult
        A weights or training-checkpoint file or payload; a refiner (returned as is after
        the checks); anything with a ``.refiner`` attribute (a :class:`TrainResult`).
    model : FaceModel, optional
        Checked against the recorded topology.
    where : str, optional
        Name used in error messages.

    Raises
    ------
    CheckpointError
        Corrupt payload, NaN or infinite weights (names ``where`` and the tensor), or a
        topology that does not match ``model``.
    """
    if hasattr(source, "refiner") and isinstance(source.refiner, DynamicRefiner):
        source = source.refiner
    if isinstance(source, DynamicRefiner):
        check_topology(source.meta(), model, where=where or "refiner")
        return source
    if isinstance(source, (str, os.PathLike)):
        where = where or str(source)
        payload = load_payload(source)
    elif isinstance(source, dict):
        where = where or "payload"
        payload = _check_format(source, (TRAIN_FORMAT, WEIGHTS_FORMAT), where)
    else:
        raise CheckpointError(f"cannot load weights from a {type(source).__name__}")
    meta = payload["meta"]
    check_topology(meta, model, where=where)
    _check_finite_networks(payload["networks"], where)
    try:
        refiner = DynamicRefiner.from_meta(meta)
        refiner.load_state_dict(payload["networks"])
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{where}: the stored networks do not load: {exc}") from exc
    return refiner
