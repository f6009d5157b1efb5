"""Validated, canonically ordered samples of a LOSO run (internal, shared by the fold loops).

:func:`canonical_samples` does what :func:`mxkit.eval.recognise` does before fitting anything:
check lengths, resolve the label set (given, else the protocol's, else the sorted labels), encode
the labels, check the sample ids, and sort the samples by (subject key, sample id) so that the
results do not depend on the input order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputValueError, ShapeError
from .metrics import check_classes, encode_labels
from .recognition import subject_keys


@dataclass(frozen=True, eq=False)
class Samples:
    """Samples in canonical order; ``order`` maps them back to the input rows."""

    y: np.ndarray
    keys: np.ndarray
    ids: np.ndarray
    datasets: np.ndarray
    classes: tuple[str, ...]
    order: np.ndarray


def canonical_samples(n: int, labels: Sequence[Any], groups: Sequence[Any], *, classes: Sequence[str] | None,
                      protocol: Any, sample_ids: Sequence[str] | None, min_subjects: int, why: str) -> Samples:
    """Check and order ``n`` samples (module docstring); ``why`` explains ``min_subjects``."""
    keys = subject_keys(groups)
    labels = list(labels)
    if len(labels) != n or len(keys) != n:
        raise ShapeError(f"samples ({n}), labels ({len(labels)}) and groups ({len(keys)}) must have the same length")
    if classes is None:
        pc = protocol.get("classes") if isinstance(protocol, Mapping) else getattr(protocol, "classes", None)
        classes = pc if pc is not None else sorted({str(v) for v in labels})
    classes = check_classes(classes)
    y = encode_labels(labels, classes)
    ids = np.asarray([str(i) for i in range(n)] if sample_ids is None else [str(s) for s in sample_ids], dtype=object)
    if len(ids) != n or len(set(ids.tolist())) != n:
        raise InputValueError("sample_ids must be unique, one per sample")
    if len(set(keys.tolist())) < min_subjects:
        raise InputValueError(f"{why}: it needs at least {min_subjects} subjects; got {len(set(keys.tolist()))}")
    order = np.lexsort((ids.astype(str), keys.astype(str)))
    keys, ids = keys[order], ids[order]
    datasets = np.asarray([k.split("/", 1)[0] for k in keys], dtype=object)
    return Samples(y=y[order], keys=keys, ids=ids, datasets=datasets, classes=classes, order=order)
