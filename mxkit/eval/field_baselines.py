"""The field's standard 2D baselines behind one interface (what a recognition runner dispatches to).

=============  ================================================  ==========================  ============
kind           features (module)                                 input                       classifier
=============  ================================================  ==========================  ============
``lbptop``     LBP-TOP of the TIM10 onset..offset crops          Prepared (``.frames``)      linear SVM
               (:mod:`mxkit.eval.lbptop`)
``biwoof``     Bi-WOOF of the onset -> apex TV-L1 flow           Prepared or ApexFlow        linear SVM
               (:mod:`mxkit.eval.biwoof`)
``mdmo``       MDMO over 18 landmark ROIs of the onset -> t      Prepared (``.flow``,        linear SVM
               flows (:mod:`mxkit.eval.mdmo`)                    ``.landmarks``)
``ststnet``    STSTNet on (u, v, strain) 28 x 28                 Prepared or ApexFlow        the network
``offapexnet`` OFF-ApexNet on (u, v) 28 x 28                     Prepared or ApexFlow        the network
=============  ================================================  ==========================  ============

(:mod:`mxkit.eval.flownets`). The handcrafted kinds give a :class:`~mxkit.eval.FeatureSet`
(:func:`baseline_feature_matrix`) for :func:`mxkit.eval.recognise_clips` with any classifier
(the papers used SVMs); the CNN kinds train per fold (:func:`mxkit.eval.cnn_recognise`).
:func:`baseline_recognise_clips` runs either on a labelled ClipSet. Flow for ``biwoof`` and the
CNNs is the field's (:data:`mxkit.eval.BASELINE_FLOW`: TV-L1 on the aligned crops, optional
magnification); compute it once with :func:`apex_flows` and pass it to every kind that reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._checks import check_option, renamed_keywords
from ..errors import InputValueError, ShapeError
from .apexflow import ApexFlow, apex_flow
from .biwoof import biwoof_features
from .features import FeatureSet, feature_matrix
from .flownets import CNN_ARCHS, cnn_recognise, flow_cnn_inputs
from .lbptop import lbptop_features
from .mdmo import mdmo_features
from .recognition import RecognitionResult

__all__ = ["BASELINE_KINDS", "HANDCRAFTED_KINDS", "apex_flows", "baseline_feature_matrix",
           "cnn_recognise_clips", "baseline_recognise_clips"]

#: Handcrafted feature kinds (a FeatureSet each).
HANDCRAFTED_KINDS = ("lbptop", "biwoof", "mdmo")
#: Every baseline kind of :func:`baseline_recognise_clips`.
BASELINE_KINDS = HANDCRAFTED_KINDS + CNN_ARCHS

_EXTRACT = {"lbptop": lbptop_features, "biwoof": biwoof_features, "mdmo": mdmo_features}


def apex_flows(items: Sequence[Any], *, method: str = "tvl1", params: Mapping[str, Any] | None = None,
               magnify: None | bool | Mapping[str, Any] = None, progress: bool = False) -> list[ApexFlow]:
    """:func:`mxkit.eval.apex_flow` of every prepared clip (the field's flow, computed once)."""
    items = list(items)
    it = items
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(items, desc=f"{method} onset->apex flow")
    return [apex_flow(p, method=method, params=params, magnify=magnify) for p in it]


def _name(kind: str, options: Mapping[str, Any]) -> str:
    if kind == "lbptop":
        n = options.get("n_frames", 10)
        interp = options.get("interpolation", "tim").upper() if n is not None else "no resampling"
        return (f"LBP-TOP[{interp}{n or ''}, grid {tuple(options.get('grid', (5, 5)))}, "
                f"radii {tuple(options.get('radii', (1, 1, 2)))}]")
    if kind == "biwoof":
        return f"Bi-WOOF[grid {tuple(options.get('grid', (5, 5)))}, {options.get('bins', 8)} bins]"
    return f"MDMO[{options.get('frames', 'onset-offset')}, {options.get('bins', 8)} bins]"


@renamed_keywords(kind="baseline")
def baseline_feature_matrix(items: Sequence[Any], baseline: str, *, options: Mapping[str, Any] | None = None,
                            keys: Sequence[tuple[str, str, str]] | None = None,
                            progress: bool = False) -> FeatureSet:
    """Handcrafted baseline features of many clips as a :class:`~mxkit.eval.FeatureSet`.

    Parameters
    ----------
    items : sequence of Prepared-like (ApexFlow also for ``'biwoof'``)
    baseline : {'lbptop', 'biwoof', 'mdmo'}
        Which handcrafted baseline (``kind`` is a deprecated alias).
    options : dict, optional
        Keyword options of :func:`~mxkit.eval.lbptop_features`, :func:`~mxkit.eval.biwoof_features`
        or :func:`~mxkit.eval.mdmo_features`.
    keys : sequence of clip keys, optional
        Default ``item.clip_key``.
    progress : bool
    """
    check_option(baseline, HANDCRAFTED_KINDS, "baseline")
    opts = dict(options or {})
    fn = _EXTRACT[baseline]
    return feature_matrix(list(items), lambda it: fn(it, **opts), keys=keys, name=_name(baseline, opts),
                          progress=progress)


def _clip_labels(clipset: Any, where: str) -> tuple[list[Any], dict[str, Any]]:
    card = getattr(clipset, "protocol_card", None)
    clips = list(clipset)
    if card is None or any(c.label is None for c in clips):
        raise InputValueError(f"{where} needs a ClipSet labelled by a protocol: clipset.map_classes(protocol)")
    return clips, card


def cnn_recognise_clips(clipset: Any, inputs: Any, **options: Any) -> RecognitionResult:
    """:func:`mxkit.eval.cnn_recognise` on a labelled ClipSet (inputs (N, C, S, S) in clip order)."""
    clips, card = _clip_labels(clipset, "cnn_recognise_clips")
    for k in ("labels", "groups", "sample_ids", "protocol", "classes"):
        if k in options:
            raise InputValueError(f"cnn_recognise_clips takes {k!r} from the ClipSet; do not pass it")
    X = np.asarray(inputs)
    if len(X) != len(clips):
        raise ShapeError(f"{len(X)} inputs for {len(clips)} clips")
    return cnn_recognise(X, [c.label for c in clips], [(c.dataset, c.subject) for c in clips],
                         classes=tuple(card["classes"]), sample_ids=["/".join(c.key) for c in clips],
                         protocol=card, **options)


@renamed_keywords(kind="baseline")
def baseline_recognise_clips(clipset: Any, items: Sequence[Any], baseline: str, *,
                             feature_options: Mapping[str, Any] | None = None,
                             flows: Sequence[ApexFlow] | None = None, **options: Any) -> RecognitionResult:
    """One field baseline under leakage-safe LOSO on a labelled ClipSet.

    Parameters
    ----------
    clipset : ClipSet
        Labelled by a protocol; its clips in the order of ``items``.
    items : sequence of Prepared-like
        The prepared clips (checked against the clip keys where they carry one).
    baseline : {'lbptop', 'biwoof', 'mdmo', 'ststnet', 'offapexnet'}
        Which field baseline (``kind`` is a deprecated alias).
    feature_options : dict, optional
        Options of the feature function (:func:`baseline_feature_matrix` options, or
        :func:`~mxkit.eval.flow_cnn_input` options for the CNNs).
    flows : sequence of ApexFlow, optional
        Precomputed :func:`apex_flows` for ``'biwoof'`` and the CNNs (the field's TV-L1 flow).
    **options
        :func:`mxkit.eval.recognise_clips` options (``classifier``, ``grid``, ``seed``, ...)
        for the handcrafted kinds; :func:`mxkit.eval.cnn_recognise` options (``max_epochs``,
        ``seed``, ...) for the CNNs.

    Returns
    -------
    RecognitionResult
    """
    from .recognition import recognise_clips

    check_option(baseline, BASELINE_KINDS, "baseline")
    clips = list(clipset)
    items = list(items)
    if len(items) != len(clips):
        raise ShapeError(f"{len(items)} prepared clips for {len(clips)} clips")
    for c, it in zip(clips, items, strict=True):
        k = getattr(it, "clip_key", None)
        if k is not None and tuple(k) != tuple(c.key):
            raise InputValueError(f"item {tuple(k)} is in the place of clip {c.key}; keep the ClipSet's order")
    src: list[Any] = items
    if flows is not None:
        flows = list(flows)
        if len(flows) != len(clips):
            raise ShapeError(f"{len(flows)} flows for {len(clips)} clips")
        if baseline in ("biwoof",) + CNN_ARCHS:
            src = flows
    keys = [tuple(c.key) for c in clips]
    if baseline in CNN_ARCHS:
        X = flow_cnn_inputs(src, arch=baseline, **dict(feature_options or {}))
        return cnn_recognise_clips(clipset, X, arch=baseline, **options)
    fs = baseline_feature_matrix(src, baseline, options=feature_options, keys=keys)
    return recognise_clips(clipset, fs.values, feature_set=fs.name, **options)
