"""Weights bundles: the one place that writes, reads and interprets them.

A **weights bundle** (``format = "mxkit-reconstruct-weights"``) holds one trained
:class:`~mxkit.nets.DynamicRefiner` payload per network variant
(:data:`mxkit.nets.NETWORK_VARIANTS`), the prepare and coarse-fit settings the networks were
trained with, and a provenance record (seed, command, data, training history). It is a plain
``torch.save`` dict of tensors and JSON values, so it loads with ``torch.load(weights_only=True)``:
nothing in it is ever unpickled.

* :func:`weights_bundle` assembles one (``mxkit.workflows.recipe`` writes the shipped
  ``mxkit/assets/reconstruct_v1.pt`` with it);
* :func:`load_bundle` reads a bundle file (the only reader);
* :func:`load_weights` gives the refiner of one variant, :func:`load_networks` those of several
  variants with the settings, :func:`weights_settings` the settings alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from .._checks import check_option
from .._io import display_path
from ..errors import AssetNotFoundError, CheckpointError
from ..nets.variants import NETWORK_VARIANTS, VARIANTS

__all__ = [
    "DEFAULT_WEIGHTS",
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "DEFAULT_FIT",
    "DEFAULT_PREPARE",
    "default_weights_path",
    "weights_bundle",
    "load_bundle",
    "load_weights",
    "weights_settings",
    "load_networks",
]

#: File name of the packaged default weights (in ``mxkit/assets``).
DEFAULT_WEIGHTS = "reconstruct_v1.pt"
#: Format tag of a weights bundle (one refiner payload per network variant).
BUNDLE_FORMAT = "mxkit-reconstruct-weights"
#: Version of the bundle layout written by :func:`weights_bundle`.
BUNDLE_VERSION = 1
#: Coarse-fit options of the ``smoothed`` base (the default weights were trained on it): the
#: temporal prior, and the identity prior counted once per frame (see
#: :func:`mxkit.fit.fit_landmarks`; chosen by cross-validation on the training subjects,
#: ``mxkit/assets/PROVENANCE.md``).
DEFAULT_FIT: dict[str, Any] = {"smooth": 1000.0, "identity_prior": "frame"}
#: :func:`mxkit.prepare` options used when a raw clip is given.
DEFAULT_PREPARE: dict[str, Any] = {"size": 192}


def default_weights_path() -> Path:
    """Path of the packaged default weights (it may not exist in a source checkout)."""
    return Path(str(resources.files("mxkit") / "assets" / DEFAULT_WEIGHTS))


def weights_bundle(variants: Mapping[str, Any], *, model_name: str,
                   fit: Mapping[str, Any] | None = None, prepare: Mapping[str, Any] | None = None,
                   provenance: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Assemble a weights bundle: one refiner payload per network variant.

    Parameters
    ----------
    variants : mapping
        ``{variant: TrainResult | DynamicRefiner | refiner payload}`` for keys of
        :data:`mxkit.nets.NETWORK_VARIANTS`.
    model_name : str
    fit, prepare : mapping, optional
        The coarse-fit and prepare options the networks were trained with
        (:func:`mxkit.reconstruct` uses them by default).
    provenance : mapping, optional
        Seed, command, data version, metrics... (JSON-compatible).

    Returns
    -------
    dict
        Save it with :func:`mxkit.train.save_atomic`.
    """
    from ..train.checkpoint import weights_payload

    out = {}
    for name, src in variants.items():
        check_option(name, tuple(NETWORK_VARIANTS), "variant")
        if hasattr(src, "weights") and callable(src.weights):
            out[name] = src.weights()
        elif isinstance(src, dict):
            out[name] = src
        else:
            out[name] = weights_payload(src)
    # plain JSON values only, so that the bundle loads with torch.load(weights_only=True)
    prov = json.loads(json.dumps(dict(provenance or {}), default=str))
    return {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, "model_name": str(model_name),
            "variants": out, "fit": dict(fit or DEFAULT_FIT),
            "prepare": dict(prepare or DEFAULT_PREPARE), "provenance": prov}


def load_bundle(path: str | os.PathLike) -> dict[str, Any]:
    """Read a weights file (``torch.load(weights_only=True)``: tensors and plain values only).

    Raises
    ------
    AssetNotFoundError
        The file does not exist.
    CheckpointError
        The file is corrupt, unreadable or does not hold a dict.
    """
    path = Path(path)
    if not path.is_file():
        raise AssetNotFoundError(
            f"reconstruction weights '{display_path(path)}' not found. The default weights ship as "
            f"mxkit/assets/{DEFAULT_WEIGHTS}; rebuild them with "
            "`.venv/bin/python tools/train_default_weights.py`, or pass weights=<your file>")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure means a corrupt file
        raise CheckpointError(f"weights file '{display_path(path)}' is corrupt or unreadable: {exc}") from exc
    if not isinstance(payload, dict):
        raise CheckpointError(f"weights file '{display_path(path)}' does not hold an mxkit payload")
    return payload


def _is_bundle(x: Any) -> bool:
    return isinstance(x, Mapping) and x.get("format") == BUNDLE_FORMAT


def _resolve(weights: Any) -> tuple[Any, str | None]:
    """(loaded weights, where they came from): a path is read, None means the packaged file."""
    if weights is None:
        weights = default_weights_path()
    if isinstance(weights, (str, os.PathLike)):
        return load_bundle(weights), str(weights)
    return weights, "weights bundle" if _is_bundle(weights) else None


def _bundle_settings(bundle: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: dict(bundle[k]) for k in ("fit", "prepare", "provenance")
            if isinstance(bundle.get(k), Mapping)}


def load_weights(weights: Any = None, *, variant: str, model: Any) -> tuple[Any, dict[str, Any]]:
    """The trained :class:`~mxkit.nets.DynamicRefiner` of a network variant.

    Parameters
    ----------
    weights : None, path, dict, DynamicRefiner or TrainResult
        None: the packaged default bundle. A bundle (``format =
        "mxkit-reconstruct-weights"``, file or dict) gives its entry for ``variant``; a
        single refiner payload, a training checkpoint, a refiner or a training result is
        used as the weights of ``variant``.
    variant : str
        One of :data:`mxkit.nets.NETWORK_VARIANTS`.
    model : FaceModel
        Checked against the weights' topology.

    Returns
    -------
    refiner : DynamicRefiner
        On the CPU, eval mode.
    settings : dict
        ``{"fit": ..., "prepare": ..., "provenance": ...}`` recorded in a bundle (empty
        otherwise).

    Raises
    ------
    AssetNotFoundError
        The weights file does not exist.
    CheckpointError
        Corrupt file, missing variant, wrong model topology or modules for the variant.
    """
    from ..train.checkpoint import load_refiner

    check_option(variant, tuple(NETWORK_VARIANTS), "variant")
    weights, where = _resolve(weights)
    settings: dict[str, Any] = {}
    if _is_bundle(weights):
        if weights.get("version") != BUNDLE_VERSION:
            raise CheckpointError(f"{where}: bundle version {weights.get('version')!r} is not "
                                  f"{BUNDLE_VERSION}")
        entries = weights.get("variants") or {}
        if variant not in entries:
            raise CheckpointError(f"{where} has no weights for variant {variant!r}; it has "
                                  f"{sorted(entries)}")
        settings = _bundle_settings(weights)
        weights = entries[variant]
    refiner = load_refiner(weights, model=model, where=f"{where or 'weights'} [{variant}]")
    enc, dfm = NETWORK_VARIANTS[variant]
    if (refiner.encoder is not None) != enc or (refiner.deformer is not None) != dfm:
        raise CheckpointError(
            f"weights for variant {variant!r} must have encoder={enc}, deformer={dfm}; these "
            f"have encoder={refiner.encoder is not None}, deformer={refiner.deformer is not None}")
    return refiner.eval(), settings


def weights_settings(weights: Any = None) -> dict[str, dict[str, Any]]:
    """The prepare and coarse-fit settings recorded in a weights bundle.

    Parameters
    ----------
    weights : None, path or bundle dict
        None: the packaged default bundle (defaults when it is absent). Anything that is not a
        bundle (a single refiner payload, a refiner, a training result) records no settings.

    Returns
    -------
    dict
        ``{"prepare": {...}, "fit": {...}, "provenance": {...}}``: :data:`DEFAULT_PREPARE`
        and :data:`DEFAULT_FIT` updated by the bundle's entries, and the bundle's provenance
        record (empty without one).

    Raises
    ------
    AssetNotFoundError, CheckpointError
        A weights path that does not exist or does not load.
    """
    settings: dict[str, dict[str, Any]] = {"prepare": dict(DEFAULT_PREPARE), "fit": dict(DEFAULT_FIT),
                                           "provenance": {}}
    if weights is None and not default_weights_path().is_file():
        return settings
    weights, _ = _resolve(weights)
    if _is_bundle(weights):
        for key, value in _bundle_settings(weights).items():
            settings[key].update(value)
    return settings


def load_networks(variants: Sequence[str], *, weights: Any = None, model: Any
                  ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The trained networks of the network variants among ``variants``, and the settings.

    Parameters
    ----------
    variants : sequence of str
        Reconstruction variants (:data:`mxkit.nets.VARIANTS`); ``static`` and ``smoothed``
        need no network.
    weights : optional
        As in :func:`load_weights` (default: the packaged bundle).
    model : FaceModel

    Returns
    -------
    networks : dict of variant -> DynamicRefiner
    settings : dict
        :func:`weights_settings`.

    Raises
    ------
    OptionError
        An unknown variant.
    AssetNotFoundError, CheckpointError
        Missing, corrupt or mismatched weights.
    """
    for v in variants:
        check_option(v, VARIANTS, "variants")
    needed = [v for v in dict.fromkeys(variants) if v in NETWORK_VARIANTS]
    settings = weights_settings(weights)
    nets = {v: load_weights(weights, variant=v, model=model)[0] for v in needed}
    return nets, settings
