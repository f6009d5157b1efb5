"""The recognition comparison in one call: several feature sets side by side under LOSO.

:func:`run_recognition` prepares the clips and reconstructs them with the weights' settings
(the steps of :mod:`mxkit.workflows.ablation`), computes each feature set -- features from the
reconstructions (:mod:`mxkit.eval.features`), the 2D optical-flow baseline from the prepared
clips (:mod:`mxkit.eval.baselines`) and, for SynthME, the 3D ground truth
(:mod:`mxkit.eval.oracle`) -- and recognises each under leakage-safe LOSO
(:func:`~mxkit.eval.recognise_clips`). ``mxkit recognise`` (:mod:`mxkit.cli`) is this call.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .._checks import check_option
from .._io import atomic_write
from ..errors import InputValueError
from ..eval.metrics import METRICS
from ..nets.variants import VARIANTS
from ..report import markdown_table
from .batch import _labelled, iter_reconstructions, prepared_clips
from .weights import load_networks

__all__ = ["RECOGNITION_FEATURES", "RecognitionComparison", "run_recognition"]

#: Feature kinds of :func:`run_recognition`: ``'reconstruction'`` (of ``variant``; or
#: ``'reconstruction:<variant>'``), ``'flow_baseline'`` (2D optical flow of the prepared clips),
#: ``'oracle'`` (the SynthME 3D ground truth: an upper bound).
RECOGNITION_FEATURES = ("reconstruction", "flow_baseline", "oracle")


def _feature_specs(features: Sequence[str], variant: str) -> list[tuple[str, str, str | None]]:
    if isinstance(features, str) or not features:
        raise InputValueError(f"features must be a non-empty sequence of {list(RECOGNITION_FEATURES)}; got {features!r}")
    specs = []
    for f in features:
        kind, _, var = str(f).partition(":")
        check_option(kind, RECOGNITION_FEATURES, "features")
        if kind == "reconstruction":
            var = var or variant
            check_option(var, VARIANTS, "variant")
            specs.append((f"reconstruction:{var}", kind, var))
        elif var:
            raise InputValueError(f"feature {f!r}: only 'reconstruction' takes a ':<variant>'")
        else:
            specs.append((kind, kind, None))
    names = [s[0] for s in specs]
    if len(set(names)) != len(names):
        raise InputValueError(f"features repeat: {names}")
    return specs


@dataclass(frozen=True, eq=False)
class RecognitionComparison:
    """What :func:`run_recognition` produced: one LOSO result per feature set.

    Attributes
    ----------
    results : dict of str -> RecognitionResult
        Keyed ``'reconstruction:<variant>'``, ``'flow_baseline'``, ``'oracle'``, in the order asked.
    features : dict of str -> FeatureSet
    table : pandas.DataFrame
        One row per feature set: ``features``, ``feature_set`` (description), ``classifier``,
        ``n_features``, ``n_samples``, ``n_subjects``, the pooled ``UF1 UAR WF1 ACC``, their
        per-fold means ``UF1 (fold mean)`` ..., ``chance`` (1 / classes), ``protocol`` and
        ``card`` (the protocol card as JSON).
    settings : dict
    timing : dict of str to float
    files : dict of str to Path
    """

    results: dict[str, Any] = field(repr=False)
    features: dict[str, Any] = field(repr=False)
    table: pd.DataFrame = field(repr=False)
    settings: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    def to_dataframe(self) -> pd.DataFrame:
        """Tidy metrics of every result (:meth:`RecognitionResult.to_dataframe` + ``features``)."""
        return pd.concat([r.to_dataframe().assign(features=k) for k, r in self.results.items()],
                         ignore_index=True)

    def summary(self) -> dict[str, dict[str, float]]:
        """Pooled UF1 / UAR / WF1 / ACC (4 decimals) per feature set."""
        return {k: {m: round(float(r.metrics[m]), 4) for m in METRICS} for k, r in self.results.items()}

    def to_markdown(self, digits: int = 4) -> str:
        """The comparison table, then each row's protocol card in one paragraph."""
        cols = ["features", "classifier", "n_features", *METRICS, *(f"{m} (fold mean)" for m in METRICS)]
        out = markdown_table(self.table[cols], digits)
        first = next(iter(self.results.values()))
        card = first.card
        out += (f"\nPooled over leakage-safe LOSO folds ({card['n_subjects']} subjects, {card['n_samples']} "
                f"samples; per-fold means beside them, noisy for small folds); chance = "
                f"{1 / len(card['classes']):.3f}. Protocol `{card['protocol']}`: classes "
                f"{', '.join(card['classes'])}; class counts {json.dumps(card['class_counts'])}; "
                f"excluded {card['n_excluded']} ({json.dumps(card['excluded_by_reason'])}); empty-class "
                f"policy '{card['empty_class']}'.\n\nProtocol cards:\n\n")
        for k, r in self.results.items():
            c = r.card
            out += (f"* **{k}** -- {c['feature_set']} ({c['n_features']} features); {c['classifier']}, grid "
                    f"{json.dumps(c['grid'])}, selection {json.dumps(c['selection'])}, class_weight "
                    f"{c['class_weight']}, seed {c['seed']}; {c['evaluation']}.\n")
        return out

    def save(self, out: str | os.PathLike) -> dict[str, Path]:
        """Write ``recognition.csv`` (the table), ``recognition.md``, ``metrics.csv`` (tidy),
        ``folds.csv``, ``predictions.csv`` and ``cards.json`` under ``out`` (created)."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        folds = pd.concat([r.folds.assign(features=k) for k, r in self.results.items()], ignore_index=True)
        preds = pd.concat([r.predictions().assign(features=k) for k, r in self.results.items()],
                          ignore_index=True)
        files = {"recognition": atomic_write(out / "recognition.csv", self.table.to_csv(index=False)),
                 "recognition_md": atomic_write(out / "recognition.md", self.to_markdown()),
                 "metrics": atomic_write(out / "metrics.csv", self.to_dataframe().to_csv(index=False)),
                 "folds": atomic_write(out / "folds.csv", folds.to_csv(index=False)),
                 "predictions": atomic_write(out / "predictions.csv", preds.to_csv(index=False)),
                 "cards": atomic_write(out / "cards.json", json.dumps(
                     {k: r.card for k, r in self.results.items()}, indent=1, default=str) + "\n")}
        self.files.clear()
        self.files.update(files)
        return dict(files)


def run_recognition(
    clips: Any,
    *,
    features: Sequence[str] = ("reconstruction", "flow_baseline"),
    variant: str = "full",
    protocol: Any = None,
    classifier: str = "linear_svm",
    grid: Mapping[str, Sequence[Any]] | None = None,
    seed: int = 0,
    include: Sequence[str] = ("regions", "trajectory"),
    flow_grid: tuple[int, int] = (4, 4),
    flow_kinds: Sequence[str] | None = None,
    model: Any = None,
    weights: Any = None,
    prepared: Any = None,
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = True,
    out: str | os.PathLike | None = None,
) -> RecognitionComparison:
    """Micro-expression recognition from several feature sets, side by side, under LOSO.

    Parameters
    ----------
    clips : ClipSet or sequence of Clip
        Labelled by a protocol already (``clipset.map_classes(...)``), or labelled here with
        ``protocol``.
    features : sequence of str, default ('reconstruction', 'flow_baseline')
        :data:`RECOGNITION_FEATURES`: ``'reconstruction'`` -- :func:`~mxkit.eval.reconstruction_features`
        (``include`` groups) of the ``variant`` reconstruction (``'reconstruction:<variant>'``
        for another variant); ``'flow_baseline'`` -- :func:`~mxkit.eval.flow_features` of the
        prepared clips' onset -> apex flow (``flow_grid``, ``flow_kinds``); ``'oracle'`` --
        the same reconstruction features of the SynthME ground truth
        (:func:`~mxkit.eval.oracle_reconstruction`, an upper bound).
    variant : str, default 'full'
    protocol : str or Protocol, optional
        Class protocol applied to the clips (required if they are not labelled).
    classifier : str, default 'linear_svm'
        :data:`mxkit.eval.CLASSIFIERS`, the same for every feature set.
    grid : dict, optional
        Hyper-parameter grid searched on the training subjects of each fold (default
        :data:`mxkit.eval.DEFAULT_GRIDS`; ``{}`` for none: needed with fewer than 3 subjects).
    seed : int
    include : sequence of str
        Reconstruction feature groups (:data:`mxkit.eval.FEATURE_GROUPS`; ``'dynamic'`` needs
        an encoder variant).
    flow_grid, flow_kinds
        Flow feature grid and kinds (default all of :data:`mxkit.eval.FLOW_FEATURE_KINDS`).
    model, weights, prepared, cache_dir, workers, progress
        As in :func:`run_ablation` (prepare settings from the weights bundle).
    out : path-like, optional
        Write the tables there (:meth:`RecognitionComparison.save`).

    Returns
    -------
    RecognitionComparison

    Raises
    ------
    InputValueError
        Unlabelled clips without a protocol; too few subjects or classes (see
        :func:`~mxkit.eval.recognise`); ``'oracle'`` on clips without ground truth.
    OptionError
        An unknown feature kind, variant or classifier.
    AssetNotFoundError, CheckpointError
        Missing or corrupt weights (before any work).

    Examples
    --------
    >>> cmp = run_recognition(load_synthme("SynthME"), protocol="casme2-5class",
    ...                       features=("reconstruction", "flow_baseline", "oracle"))  # doctest: +SKIP
    >>> cmp.table[["features", "UF1", "UAR"]]                                         # doctest: +SKIP
    """
    from ..eval.baselines import FLOW_FEATURE_KINDS, flow_feature_matrix
    from ..eval.classifiers import CLASSIFIERS
    from ..eval.features import feature_matrix, reconstruction_features
    from ..eval.oracle import oracle_reconstruction
    from ..eval.recognition import recognise_clips

    t_all = time.perf_counter()
    check_option(classifier, CLASSIFIERS, "classifier")
    specs = _feature_specs(features, variant)
    labelled = _labelled(clips, protocol)
    cl = list(labelled)
    if not cl:
        raise InputValueError("no labelled clips to recognise")
    if any(kind == "oracle" for _, kind, _ in specs):
        no_truth = [c.key for c in cl if getattr(c, "ground_truth", None) is None]
        if no_truth:
            raise InputValueError(f"'oracle' features need 3D ground truth; {len(no_truth)} clip(s) have none, "
                                  f"e.g. {no_truth[0]}")
    if model is None:
        from ..morph import load_face_model

        model = load_face_model("mh-head")
    timing: dict[str, float] = {}
    rec_variants = [var for _, kind, var in specs if kind == "reconstruction"]
    t0 = time.perf_counter()
    nets, settings = load_networks(rec_variants, weights=weights, model=model)
    timing["weights"] = time.perf_counter() - t0
    preps: list[Any] = []
    if rec_variants or any(kind == "flow_baseline" for _, kind, _ in specs):
        t0 = time.perf_counter()
        preps = prepared_clips(cl, prepared=prepared, settings=settings, cache_dir=cache_dir,
                               workers=workers, progress=progress)
        timing["prepare"] = time.perf_counter() - t0
    keys = [tuple(c.key) for c in cl]
    group_name = "+".join(include)
    fsets: dict[str, Any] = {}
    if rec_variants:
        t0 = time.perf_counter()
        vecs: dict[str, list[Any]] = {v: [] for v in rec_variants}
        for v, _i, rec, _sec in iter_reconstructions(preps, variants=rec_variants, model=model, networks=nets,
                                                     fit_options=settings["fit"], progress=progress):
            vecs[v].append(reconstruction_features(rec, model, include=include))
        for v in rec_variants:
            fsets[f"reconstruction:{v}"] = feature_matrix(vecs[v], lambda x: x, keys=keys,
                                                          name=f"reconstruction[{v}]: {group_name}")
        timing["reconstruct"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for name, kind, _ in specs:
        if kind == "flow_baseline":
            fsets[name] = flow_feature_matrix(preps, grid=flow_grid, kinds=tuple(flow_kinds or FLOW_FEATURE_KINDS))
        elif kind == "oracle":
            fsets[name] = feature_matrix([oracle_reconstruction(c, model) for c in cl],
                                         lambda r: reconstruction_features(r, model, include=include),
                                         name=f"3D ground truth (oracle): {group_name}")
    results = {}
    for name, _, _ in specs:
        fs = fsets[name]
        results[name] = recognise_clips(labelled, fs.as_mapping(), classifier=classifier, grid=grid, seed=seed,
                                        feature_set=fs.name, progress=False)
    timing["recognise"] = time.perf_counter() - t0
    rows = []
    for name, r in results.items():
        fm = r.fold_means
        rows.append({"features": name, "feature_set": r.card["feature_set"], "classifier": r.card["classifier"],
                     "n_features": int(r.card["n_features"]), "n_samples": int(r.card["n_samples"]),
                     "n_subjects": int(r.card["n_subjects"]), **{m: float(r.metrics[m]) for m in METRICS},
                     **{f"{m} (fold mean)": float(fm[m]) for m in METRICS},
                     "chance": 1.0 / len(r.classes), "protocol": r.card["protocol"],
                     "card": json.dumps(r.card, sort_keys=True, default=str)})
    timing["total"] = time.perf_counter() - t_all
    settings_out = {"features": [s[0] for s in specs], "variant": variant, "classifier": classifier,
                    "grid": None if grid is None else {k: list(v) for k, v in grid.items()}, "seed": seed,
                    "include": list(include), "flow_grid": list(flow_grid),
                    "flow_kinds": list(flow_kinds or FLOW_FEATURE_KINDS), "prepare": settings["prepare"],
                    "fit": settings["fit"], "weights_seed": settings["provenance"].get("seed"),
                    "protocol": (labelled.protocol_card or {}).get("name")}
    result = RecognitionComparison(results=results, features=fsets, table=pd.DataFrame(rows),
                                   settings=settings_out, timing={k: round(x, 2) for k, x in timing.items()})
    if out is not None:
        result.save(out)
    return result
