"""Recognition evaluation protocols as data: what is scored, on which parts, aggregated how.

A class protocol (:mod:`mxkit.data.protocols`) says which label each sample gets and which
samples are left out. An *evaluation* protocol adds how the field reports a result on it:

=====================  =======================  ==============  =====================  ==========
protocol               datasets                 headline        parts scored           classes
=====================  =======================  ==============  =====================  ==========
``megc2019-3class``    casme2 + samm + smic     UF1, UAR        casme2, samm, smic     3
``casme2-5class``      casme2                   UF1, UAR, ACC   --                     5
``samm-5class``        samm                     UF1, UAR, ACC   --                     5
``smic-3class``        smic                     UF1, UAR, ACC   --                     3
=====================  =======================  ==============  =====================  ==========

Every protocol: LOSO folds keyed by ``(dataset, subject)``; predictions **pooled** over the folds
and every metric computed once (MEGC, ``DATASETS.md`` §5.3); a part's score is computed on its
subset of the pooled predictions; per-fold means are reported *beside* the pooled values, never
instead of them. :func:`evaluation_card` writes this down for one result together with the
sample counts per class (overall and per part) and the exclusions of its protocol card.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import InputValueError
from .metrics import METRICS

__all__ = ["EVALUATION_PROTOCOLS", "AGGREGATION", "evaluation_card", "evaluation_table"]

#: How every protocol aggregates (the MEGC rule).
AGGREGATION: dict[str, str] = {
    "folds": "leave-one-subject-out, folds keyed by (dataset, subject)",
    "primary": "pooled: test predictions of all folds concatenated, each metric computed once",
    "parts": "a part's score is computed on its subset of the pooled predictions",
    "beside": "per-fold means, reported beside the pooled values (noisy for folds of 1-3 samples)",
}

#: Evaluation protocols by class-protocol name: ``datasets``, ``headline`` metrics, ``parts``
#: scored separately (empty: the whole set only), ``n_classes``.
EVALUATION_PROTOCOLS: dict[str, dict[str, Any]] = {
    "megc2019-3class": {"datasets": ("casme2", "samm", "smic"), "headline": ("UF1", "UAR"),
                        "parts": ("casme2", "samm", "smic"), "n_classes": 3},
    "casme2-5class": {"datasets": ("casme2",), "headline": ("UF1", "UAR", "ACC"), "parts": (), "n_classes": 5},
    "samm-5class": {"datasets": ("samm",), "headline": ("UF1", "UAR", "ACC"), "parts": (), "n_classes": 5},
    "smic-3class": {"datasets": ("smic",), "headline": ("UF1", "UAR", "ACC"), "parts": (), "n_classes": 3},
}


def _spec(result: Any, protocol: str | None) -> tuple[str | None, dict[str, Any]]:
    name = protocol if protocol is not None else getattr(result, "card", {}).get("protocol")
    if name is None:
        return None, {"datasets": tuple(sorted(set(result.datasets))), "headline": METRICS, "parts": (),
                      "n_classes": len(result.classes)}
    if name not in EVALUATION_PROTOCOLS:
        return name, {"datasets": tuple(sorted(set(result.datasets))), "headline": METRICS,
                      "parts": tuple(sorted(set(result.datasets))) if len(set(result.datasets)) > 1 else (),
                      "n_classes": len(result.classes)}
    return name, EVALUATION_PROTOCOLS[name]


def evaluation_table(result: Any, *, protocol: str | None = None) -> pd.DataFrame:
    """Scores of a result as its protocol reports them.

    Parameters
    ----------
    result : RecognitionResult
    protocol : str, optional
        Default the protocol named on the result's card (a protocol mxkit does not list here
        scores every metric, and each dataset of a multi-dataset result as a part).

    Returns
    -------
    pandas.DataFrame
        ``subset`` ('all' or a part), ``aggregation`` ('pooled' / 'fold_mean'), ``metric``,
        ``value``, ``n`` (samples, or folds for fold means), ``headline`` (the protocol reports
        this metric); fold means only for 'all'.
    """
    name, spec = _spec(result, protocol)
    by = result.by_dataset()
    for part in spec["parts"]:
        if part not in by.index:
            raise InputValueError(f"protocol {name!r} scores part {part!r}, which this result has no samples of")
    rows = []
    for subset in ("all",) + tuple(spec["parts"]):
        m = by.loc[subset]
        rows += [{"subset": subset, "aggregation": "pooled", "metric": k, "value": float(m[k]), "n": int(m["n"]),
                  "headline": k in spec["headline"]} for k in METRICS]
    rows += [{"subset": "all", "aggregation": "fold_mean", "metric": k, "value": float(v),
              "n": int(len(result.folds)), "headline": False} for k, v in result.fold_means.items()]
    return pd.DataFrame(rows)


def evaluation_card(result: Any, *, protocol: str | None = None) -> dict[str, Any]:
    """The protocol card of a result with the aggregation written out (module docstring).

    Returns
    -------
    dict
        ``protocol, datasets, classes, headline, parts, aggregation`` (:data:`AGGREGATION`),
        ``class_counts`` and ``class_counts_by_dataset`` (of the evaluated samples),
        ``n_samples, n_subjects, exclusions, n_excluded, excluded_by_reason`` (from the card)
        and ``scores`` (records of :func:`evaluation_table`).
    """
    name, spec = _spec(result, protocol)
    card = dict(getattr(result, "card", {}) or {})
    classes = list(result.classes)
    y = list(result.y_true)
    counts = {c: sum(1 for v in y if v == i) for i, c in enumerate(classes)}
    by_ds: dict[str, dict[str, int]] = {}
    for d, v in zip(result.datasets, y, strict=True):
        by_ds.setdefault(d, {c: 0 for c in classes})[classes[v]] += 1
    return {"protocol": name, "datasets": list(spec["datasets"]), "classes": classes,
            "headline": list(spec["headline"]), "parts": list(spec["parts"]), "aggregation": dict(AGGREGATION),
            "class_counts": counts, "class_counts_by_dataset": by_ds, "n_samples": len(y),
            "n_subjects": len(set(result.subjects)), "exclusions": card.get("exclusions"),
            "n_excluded": card.get("n_excluded"), "excluded_by_reason": card.get("excluded_by_reason"),
            "scores": evaluation_table(result, protocol=protocol).to_dict("records")}
