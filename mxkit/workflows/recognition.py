"""The recognition comparison in one call: the field's feature sets side by side under LOSO.

:func:`run_recognition` prepares the clips and reconstructs them with the weights' settings
(the steps of :mod:`mxkit.workflows.ablation`), computes each feature set asked for and
recognises each under leakage-safe LOSO on the same folds (:func:`~mxkit.eval.recognise_clips`;
the flow CNNs train per fold, :func:`~mxkit.eval.cnn_recognise_clips`). ``mxkit recognise``
(:mod:`mxkit.cli`) is this call.

================================  =====================================================================
feature set                       what
================================  =====================================================================
``reconstruction[:VARIANT]``      mxkit's own: region displacements + expression trajectory of the
                                  ``mxkit.reconstruct`` reconstructions (:mod:`mxkit.eval.features`)
``flow_baseline``                 HOOF + mean u, v, strain per cell of the prepared onset -> apex flow
                                  (:func:`~mxkit.eval.flow_feature_matrix`)
``lbptop``, ``biwoof``, ``mdmo``  the field's handcrafted baselines (:mod:`mxkit.eval.field_baselines`)
``ststnet``, ``offapexnet``       the field's shallow flow CNNs, trained per fold, early-stopped on
                                  inner splits of the training subjects only (:mod:`mxkit.eval.flownets`)
``fusion[:VARIANT]``              late fusion of ``biwoof`` and ``reconstruction`` scores
                                  (:func:`~mxkit.eval.late_fusion_clips`)
``oracle``                        the reconstruction features of the SynthME 3D ground truth (an upper
                                  bound; :mod:`mxkit.eval.oracle`)
================================  =====================================================================

``biwoof``, the CNNs and ``fusion`` read the field's flow (:func:`~mxkit.eval.apex_flows`: TV-L1
on the aligned onset and apex crops), computed once. Every score comes with a percentile
bootstrap interval over subjects (:func:`~mxkit.eval.bootstrap_intervals`) and a paired
permutation test against a reference feature set on the same folds
(:func:`~mxkit.eval.paired_permutation_test`). Published figures for the protocol
(:func:`~mxkit.eval.reported_recognition`) travel in their own table, never mixed with mxkit's.
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
from ..report import Report, markdown_table
from .batch import _labelled, iter_reconstructions, prepared_clips
from .weights import load_networks

__all__ = ["RECOGNITION_FEATURES", "RecognitionOptions", "RecognitionComparison", "run_recognition"]

#: Feature kinds of :func:`run_recognition` (module docstring); ``reconstruction`` and ``fusion``
#: take ``':<variant>'``.
RECOGNITION_FEATURES = ("reconstruction", "flow_baseline", "lbptop", "biwoof", "mdmo", "ststnet",
                        "offapexnet", "fusion", "oracle")

#: Kinds that read the field's onset -> apex flow (:func:`mxkit.eval.apex_flows`).
_FIELD_FLOW_KINDS = ("biwoof", "ststnet", "offapexnet", "fusion")
#: Keys of :attr:`RecognitionOptions.feature_options`: a feature kind, or ``'field_flow'``
#: (:func:`mxkit.eval.apex_flows` options: ``method``, ``params``, ``magnify``).
_OPTION_KEYS = RECOGNITION_FEATURES + ("field_flow",)


@dataclass(frozen=True)
class RecognitionOptions:
    """How :func:`run_recognition` classifies and scores (one object for every feature set).

    Attributes
    ----------
    classifier : str, default 'linear_svm'
        :data:`mxkit.eval.CLASSIFIERS`, the same for every handcrafted and 3D feature set (the
        CNNs are their own classifiers).
    grid : dict, optional
        Hyper-parameter grid searched on the training subjects of each fold (default
        :data:`mxkit.eval.DEFAULT_GRIDS`; ``{}`` for none: needed with fewer than 3 subjects).
    seed : int, default 0
        Seed of the classifiers, the CNNs, the inner splits, the bootstrap and the permutations.
    n_boot : int, default 1000
        Bootstrap replicates over subjects for the intervals (0: no intervals).
    n_permutations : int, default 10000
        Swap patterns of the paired permutation tests (exact when ``2^subjects`` is not larger).
    reference : str, optional
        Feature set the others are tested against (default ``'flow_baseline'`` when asked for,
        else the first).
    feature_options : dict of str -> dict
        Per feature kind: ``'reconstruction'`` / ``'oracle'`` -> ``include`` (feature groups,
        :data:`mxkit.eval.FEATURE_GROUPS`); ``'flow_baseline'`` -> :func:`~mxkit.eval.flow_feature_matrix`
        options (``grid``, ``kinds``, ``bins``); ``'lbptop' | 'biwoof' | 'mdmo'`` -> their feature
        functions' options; ``'ststnet' | 'offapexnet'`` -> :func:`~mxkit.eval.cnn_recognise`
        options (``max_epochs``, ``threads``, ...); ``'fusion'`` -> :func:`~mxkit.eval.late_fusion`
        options (``weights``); ``'field_flow'`` -> :func:`~mxkit.eval.apex_flows` options
        (``method`` 'tvl1', ``magnify``).
    """

    classifier: str = "linear_svm"
    grid: Mapping[str, Sequence[Any]] | None = None
    seed: int = 0
    n_boot: int = 1000
    n_permutations: int = 10000
    reference: str | None = None
    feature_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from ..eval.classifiers import CLASSIFIERS

        check_option(self.classifier, CLASSIFIERS, "classifier")
        for name in ("seed", "n_boot", "n_permutations"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (1 if name == "n_permutations" else 0):
                raise InputValueError(f"RecognitionOptions.{name} must be a {'positive' if name == 'n_permutations' else 'non-negative'} "
                                      f"int; got {v!r}")
        if not isinstance(self.feature_options, Mapping):
            raise InputValueError(f"RecognitionOptions.feature_options must be a dict of dicts; got "
                                  f"{type(self.feature_options).__name__}")
        for k, v in self.feature_options.items():
            check_option(k, _OPTION_KEYS, "feature_options key")
            if not isinstance(v, Mapping):
                raise InputValueError(f"RecognitionOptions.feature_options[{k!r}] must be a dict; got {v!r}")

    def options_of(self, kind: str) -> dict[str, Any]:
        """The options of one feature kind (a copy; empty when none were given)."""
        return dict(self.feature_options.get(kind, {}))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe settings (grids and tuples as lists)."""
        return {"classifier": self.classifier,
                "grid": None if self.grid is None else {k: list(v) for k, v in self.grid.items()},
                "seed": self.seed, "n_boot": self.n_boot, "n_permutations": self.n_permutations,
                "reference": self.reference,
                "feature_options": json.loads(json.dumps(dict(self.feature_options), default=list))}


def _feature_specs(features: Sequence[str], variant: str) -> list[tuple[str, str, str | None]]:
    if isinstance(features, str) or not features:
        raise InputValueError(f"features must be a non-empty sequence of {list(RECOGNITION_FEATURES)}; got {features!r}")
    specs = []
    for f in features:
        kind, _, var = str(f).partition(":")
        check_option(kind, RECOGNITION_FEATURES, "features")
        if kind in ("reconstruction", "fusion"):
            var = var or variant
            check_option(var, VARIANTS, "variant")
            specs.append((f"{kind}:{var}", kind, var))
        elif var:
            raise InputValueError(f"feature {f!r}: only 'reconstruction' and 'fusion' take a ':<variant>'")
        else:
            specs.append((kind, kind, None))
    names = [s[0] for s in specs]
    if len(set(names)) != len(names):
        raise InputValueError(f"features repeat: {names}")
    return specs


@dataclass(frozen=True, eq=False)
class RecognitionComparison:
    """What :func:`run_recognition` produced: one LOSO result per feature set, on the same folds.

    Attributes
    ----------
    results : dict of str -> RecognitionResult
        Keyed by feature set (``'reconstruction:<variant>'``, ``'flow_baseline'``, ``'lbptop'``,
        ..., ``'oracle'``), in the order asked.
    features : dict of str -> FeatureSet
        The feature matrices of the feature sets that have one (not the CNNs, not fusion).
    table : pandas.DataFrame
        One row per feature set: ``features``, ``feature_set`` (description), ``classifier``,
        ``n_features``, ``n_samples``, ``n_subjects``, the pooled ``UF1 UAR WF1 ACC``, each with
        ``<metric>_low`` / ``<metric>_high`` (95 % bootstrap interval over subjects; NaN with
        ``n_boot=0``), their per-fold means ``UF1 (fold mean)`` ..., ``chance`` (1 / classes),
        ``reference`` and ``p_vs_reference`` (paired permutation test of UF1), ``protocol`` and
        ``card`` (the protocol card as JSON).
    intervals : pandas.DataFrame
        Every bootstrap row (:func:`~mxkit.eval.bootstrap_intervals`, per dataset too for a
        composite) with ``features``.
    tests : pandas.DataFrame
        Every paired permutation test (``a``, ``b``, metric, values, difference, p_value, ...).
    reported : pandas.DataFrame
        Published figures for the protocol, ``source = 'as reported'`` (empty when none):
        never mxkit's numbers.
    settings : dict
    timing : dict of str to float
    files : dict of str to Path
    """

    results: dict[str, Any] = field(repr=False)
    features: dict[str, Any] = field(repr=False)
    table: pd.DataFrame = field(repr=False)
    intervals: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    tests: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    reported: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
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

    def confusion(self) -> pd.DataFrame:
        """Pooled confusion matrices, tidy: ``features, true, predicted, count``."""
        rows = []
        for k, r in self.results.items():
            cm = r.confusion
            for t in cm.index:
                for p in cm.columns:
                    rows.append({"features": k, "true": t, "predicted": p, "count": int(cm.loc[t, p])})
        return pd.DataFrame(rows)

    def score_table(self, digits: int = 3) -> pd.DataFrame:
        """The table for reading: ``UF1 [low, high]`` strings, WF1, ACC, UF1 fold mean, p."""
        def ci(r: Any, m: str) -> str:
            lo, hi = r[f"{m}_low"], r[f"{m}_high"]
            val = f"{r[m]:.{digits}f}"
            return val if pd.isna(lo) else f"{val} [{lo:.{digits}f}, {hi:.{digits}f}]"

        t = self.table
        return pd.DataFrame({
            "features": t["features"], "classifier": t["classifier"], "n features": t["n_features"],
            "UF1 [95 % CI]": [ci(r, "UF1") for _, r in t.iterrows()],
            "UAR [95 % CI]": [ci(r, "UAR") for _, r in t.iterrows()],
            "WF1": t["WF1"].round(digits), "ACC": t["ACC"].round(digits),
            "UF1 fold mean": t["UF1 (fold mean)"].round(digits),
            f"p vs {t['reference'].iloc[0]}": [("" if pd.isna(p) else f"{p:.4f}") for p in t["p_vs_reference"]]})

    def _card_text(self) -> str:
        card = next(iter(self.results.values())).card
        return (f"Pooled over leakage-safe LOSO folds ({card['n_subjects']} subjects, {card['n_samples']} "
                f"samples; per-fold means beside them, noisy for small folds); chance = "
                f"{1 / len(card['classes']):.3f}. Protocol `{card['protocol']}`: classes "
                f"{', '.join(card['classes'])}; class counts {json.dumps(card['class_counts'])}; "
                f"excluded {card['n_excluded']} ({json.dumps(card['excluded_by_reason'])}); empty-class "
                f"policy '{card['empty_class']}'. Intervals: 95 % percentile bootstrap over subjects "
                f"({self.settings.get('n_boot', '?')} replicates); p: paired permutation test of UF1 against "
                f"`{self.table['reference'].iloc[0]}` on the same folds (subjects swapped).")

    def to_markdown(self, digits: int = 4) -> str:
        """The score table with intervals, the protocol, each row's card, then the as-reported rows."""
        out = markdown_table(self.score_table(), digits)
        out += "\n" + self._card_text() + "\n\nProtocol cards:\n\n"
        for k, r in self.results.items():
            c = r.card
            out += (f"* **{k}** -- {c['feature_set']} ({c['n_features']} features); {c['classifier']}, grid "
                    f"{json.dumps(c.get('grid'), default=str)}, selection {json.dumps(c.get('selection'), default=str)}, "
                    f"class_weight {c.get('class_weight')}, seed {c.get('seed')}; {c['evaluation']}.\n")
        parts = self.per_part()
        if len(parts):
            out += "\nPer part (pooled predictions of each dataset, 95 % bootstrap over its subjects):\n\n"
            out += markdown_table(parts, digits)
        if len(self.reported):
            out += ("\nAs reported (published figures on the real datasets, with their own data, code and "
                    "protocols: not mxkit's numbers, and not comparable with rows measured on synthetic data):\n\n")
            refs = list(dict.fromkeys(self.reported["reference"]))
            rep = self.reported.assign(source=[f"[{refs.index(r) + 1}]" for r in self.reported["reference"]])
            out += markdown_table(rep[["method", "subset", "metric", "value", "source"]], digits)
            out += "\n" + "\n".join(f"[{i + 1}] {r}" for i, r in enumerate(refs)) + "\n"
        return out

    def per_part(self) -> pd.DataFrame:
        """UF1 and UAR with intervals per dataset of a composite (empty for one dataset)."""
        iv = self.intervals
        if not len(iv) or "subset" not in iv or iv["subset"].nunique() < 2:
            return pd.DataFrame()
        sub = iv[(iv["subset"] != "all") & iv["metric"].isin(["UF1", "UAR"])]
        rows = []
        for (feat, part), g in sub.groupby(["features", "subset"], sort=False):
            row = {"features": feat, "part": part, "n_subjects": int(g["n_subjects"].iloc[0]),
                   "n_samples": int(g["n_samples"].iloc[0])}
            for _, r in g.iterrows():
                row[f"{r['metric']} [95 % CI]"] = f"{r['value']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"
            rows.append(row)
        return pd.DataFrame(rows)

    def to_html(self) -> Report:
        """A self-contained page: scores with intervals, confusion matrices, tests, as-reported rows."""
        from ..viz import plot_confusion

        rep = Report("mxkit recognise", subtitle=self.settings.get("protocol") or "")
        rep.heading("Scores").table(self.score_table(), caption=self._card_text())
        parts = self.per_part()
        if len(parts):
            rep.heading("Per part", level=3).table(parts, caption="Pooled predictions of each dataset; 95 % "
                                                   "bootstrap intervals over its subjects.")
        rep.heading("Confusion matrices")
        for k, r in self.results.items():
            rep.figure(plot_confusion(r, title=k), caption=f"{k}: pooled over folds, rows true, colour recall")
        if len(self.tests):
            rep.heading("Paired permutation tests").table(self.tests)
        if len(self.reported):
            rep.heading("As reported").text(
                "Published figures on the real datasets (their data, code and protocols): kept apart, "
                "never mixed with mxkit's numbers.").table(self.reported)
        return rep

    def save(self, out: str | os.PathLike) -> dict[str, Path]:
        """Write ``recognition.csv`` (the table), ``recognition.md``, ``recognition.html``,
        ``metrics.csv`` (tidy), ``intervals.csv``, ``tests.csv``, ``confusion.csv``,
        ``folds.csv``, ``predictions.csv``, ``reported.csv`` and ``cards.json`` under ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        folds = pd.concat([r.folds.assign(features=k) for k, r in self.results.items()], ignore_index=True)
        preds = pd.concat([r.predictions().assign(features=k) for k, r in self.results.items()],
                          ignore_index=True)
        files = {"recognition": atomic_write(out / "recognition.csv", self.table.to_csv(index=False)),
                 "recognition_md": atomic_write(out / "recognition.md", self.to_markdown()),
                 "recognition_html": self.to_html().save(out / "recognition.html"),
                 "metrics": atomic_write(out / "metrics.csv", self.to_dataframe().to_csv(index=False)),
                 "intervals": atomic_write(out / "intervals.csv", self.intervals.to_csv(index=False)),
                 "tests": atomic_write(out / "tests.csv", self.tests.to_csv(index=False)),
                 "confusion": atomic_write(out / "confusion.csv", self.confusion().to_csv(index=False)),
                 "folds": atomic_write(out / "folds.csv", folds.to_csv(index=False)),
                 "predictions": atomic_write(out / "predictions.csv", preds.to_csv(index=False)),
                 "reported": atomic_write(out / "reported.csv", self.reported.to_csv(index=False)),
                 "cards": atomic_write(out / "cards.json", json.dumps(
                     {k: r.card for k, r in self.results.items()}, indent=1, default=str) + "\n")}
        self.files.clear()
        self.files.update(files)
        return dict(files)


def _reference(specs: Sequence[tuple[str, str, str | None]], reference: str | None) -> str:
    names = [s[0] for s in specs]
    if reference is None:
        return "flow_baseline" if "flow_baseline" in names else names[0]
    ref = reference
    if ref in ("reconstruction", "fusion"):
        ref = next((n for n in names if n.startswith(ref + ":")), ref)
    if ref not in names:
        raise InputValueError(f"RecognitionOptions.reference {reference!r} is not one of the feature sets {names}")
    return ref


def run_recognition(
    clips: Any,
    *,
    features: Sequence[str] = ("reconstruction", "flow_baseline"),
    variant: str = "full",
    protocol: Any = None,
    options: RecognitionOptions | None = None,
    model: Any = None,
    weights: Any = None,
    prepared: Any = None,
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = True,
    out: str | os.PathLike | None = None,
) -> RecognitionComparison:
    """Micro-expression recognition from the field's feature sets, side by side, under LOSO.

    Parameters
    ----------
    clips : ClipSet or sequence of Clip
        Labelled by a protocol already (``clipset.map_classes(...)``, e.g. the MEGC2019 composite
        of :func:`~mxkit.data.load_megc2019`), or labelled here with ``protocol``.
    features : sequence of str, default ('reconstruction', 'flow_baseline')
        :data:`RECOGNITION_FEATURES` (module docstring); ``'reconstruction:<variant>'`` and
        ``'fusion:<variant>'`` for a variant other than ``variant``; ``'oracle'`` needs SynthME
        ground truth.
    variant : str, default 'full'
    protocol : str or Protocol, optional
        Class protocol applied to the clips (required if they are not labelled).
    options : RecognitionOptions, optional
        Classifier, grid, seed, bootstrap and permutation settings, per-kind feature options.
    model, weights, prepared, cache_dir, workers, progress
        As in :func:`run_ablation` (prepare settings from the weights bundle).
    out : path-like, optional
        Write the tables and the HTML page there (:meth:`RecognitionComparison.save`).

    Returns
    -------
    RecognitionComparison

    Raises
    ------
    InputValueError
        Unlabelled clips without a protocol; too few subjects or classes (see
        :func:`~mxkit.eval.recognise`); ``'oracle'`` on clips without ground truth.
    OptionError
        An unknown feature kind, variant, classifier or feature-options key.
    AssetNotFoundError, CheckpointError
        Missing or corrupt weights (before any work).

    Examples
    --------
    >>> cmp = run_recognition(load_synthme("SynthME"), protocol="casme2-5class",
    ...                       features=("reconstruction", "lbptop", "biwoof", "oracle"))  # doctest: +SKIP
    >>> cmp.score_table()                                                              # doctest: +SKIP
    """
    from ..eval.baselines import flow_feature_matrix
    from ..eval.features import feature_matrix, reconstruction_features
    from ..eval.field_baselines import apex_flows, baseline_feature_matrix, cnn_recognise_clips
    from ..eval.flownets import CNN_ARCHS, flow_cnn_inputs
    from ..eval.fusion import late_fusion_clips
    from ..eval.oracle import oracle_reconstruction
    from ..eval.published import reported_recognition
    from ..eval.recognition import recognise_clips
    from ..eval.stats import bootstrap_intervals, paired_permutation_test

    t_all = time.perf_counter()
    opts = RecognitionOptions() if options is None else options
    if not isinstance(opts, RecognitionOptions):
        raise InputValueError(f"options must be a RecognitionOptions; got {type(opts).__name__}")
    specs = _feature_specs(features, variant)
    reference = _reference(specs, opts.reference)
    kinds = {kind for _, kind, _ in specs}
    labelled = _labelled(clips, protocol)
    cl = list(labelled)
    if not cl:
        raise InputValueError("no labelled clips to recognise")
    if "oracle" in kinds:
        no_truth = [c.key for c in cl if getattr(c, "ground_truth", None) is None]
        if no_truth:
            raise InputValueError(f"'oracle' features need 3D ground truth; {len(no_truth)} clip(s) have none, "
                                  f"e.g. {no_truth[0]}")
    if model is None:
        from ..morph import load_face_model

        model = load_face_model("mh-head")
    timing: dict[str, float] = {}
    rec_variants = list(dict.fromkeys(var for _, kind, var in specs if kind in ("reconstruction", "fusion")))
    t0 = time.perf_counter()
    nets, settings = load_networks(rec_variants, weights=weights, model=model)
    timing["weights"] = time.perf_counter() - t0
    preps: list[Any] = []
    if kinds - {"oracle"}:
        t0 = time.perf_counter()
        preps = prepared_clips(cl, prepared=prepared, settings=settings, cache_dir=cache_dir,
                               workers=workers, progress=progress)
        timing["prepare"] = time.perf_counter() - t0
    keys = [tuple(c.key) for c in cl]
    fsets: dict[str, Any] = {}
    rec_opts = opts.options_of("reconstruction")
    include = tuple(rec_opts.pop("include", ("regions", "trajectory")))
    if rec_opts:
        raise InputValueError(f"feature_options['reconstruction'] takes only 'include'; got {sorted(rec_opts)}")
    group_name = "+".join(include)
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
    flows = None
    if kinds & set(_FIELD_FLOW_KINDS):
        t0 = time.perf_counter()
        flows = apex_flows(preps, progress=progress, **{"method": "tvl1", **opts.options_of("field_flow")})
        timing["field flow"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for name, kind, _ in specs:
        if kind == "flow_baseline":
            fsets[name] = flow_feature_matrix(preps, keys=keys, **opts.options_of("flow_baseline"))
        elif kind in ("lbptop", "mdmo"):
            fsets[name] = baseline_feature_matrix(preps, kind, options=opts.options_of(kind), keys=keys)
        elif kind == "biwoof" or (kind == "fusion" and "biwoof" not in fsets):
            fsets["biwoof"] = baseline_feature_matrix(flows, "biwoof", options=opts.options_of("biwoof"), keys=keys)
        elif kind == "oracle":
            fsets[name] = feature_matrix([oracle_reconstruction(c, model) for c in cl],
                                         lambda r: reconstruction_features(r, model, include=include), keys=keys,
                                         name=f"3D ground truth (oracle): {group_name}")
    timing["features"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = {}
    for name, kind, var in specs:
        if kind in CNN_ARCHS:
            X = flow_cnn_inputs(flows, arch=kind)
            results[name] = cnn_recognise_clips(labelled, X, arch=kind, seed=opts.seed, **opts.options_of(kind))
        elif kind == "fusion":
            blocks = {"biwoof": fsets["biwoof"], f"reconstruction[{var}]": fsets[f"reconstruction:{var}"]}
            results[name] = late_fusion_clips(labelled, blocks, classifier=opts.classifier, grid=opts.grid,
                                              seed=opts.seed, **opts.options_of("fusion"))
        else:
            fs = fsets[name]
            results[name] = recognise_clips(labelled, fs.as_mapping(), classifier=opts.classifier, grid=opts.grid,
                                            seed=opts.seed, feature_set=fs.name, progress=False)
    timing["recognise"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    intervals, tests, rows = [], [], []
    for name, r in results.items():
        ci = None
        if opts.n_boot:
            ci = bootstrap_intervals(r, n_boot=opts.n_boot, seed=opts.seed)
            intervals.append(ci.assign(features=name))
        p = float("nan")
        if name != reference:
            pt = paired_permutation_test(r, results[reference], metric="UF1", n_permutations=opts.n_permutations,
                                         seed=opts.seed)
            p = pt.p_value
            tests.append({"a": name, "b": reference, **pt.__dict__})
        fm = r.fold_means
        row = {"features": name, "feature_set": r.card["feature_set"], "classifier": r.card["classifier"],
               "n_features": int(r.card["n_features"]), "n_samples": int(r.card["n_samples"]),
               "n_subjects": int(r.card["n_subjects"])}
        for m in METRICS:
            row[m] = float(r.metrics[m])
            lo = hi = float("nan")
            if ci is not None:
                sel = ci[(ci["subset"] == "all") & (ci["metric"] == m)]
                lo, hi = float(sel["low"].iloc[0]), float(sel["high"].iloc[0])
            row[f"{m}_low"], row[f"{m}_high"] = lo, hi
        row.update({f"{m} (fold mean)": float(fm[m]) for m in METRICS})
        row.update({"chance": 1.0 / len(r.classes), "reference": reference, "p_vs_reference": p,
                    "protocol": r.card["protocol"], "card": json.dumps(r.card, sort_keys=True, default=str)})
        rows.append(row)
    timing["statistics"] = time.perf_counter() - t0
    protocol_name = (labelled.protocol_card or {}).get("name")
    reported = reported_recognition(protocol=protocol_name) if protocol_name else pd.DataFrame()
    timing["total"] = time.perf_counter() - t_all
    settings_out = {"features": [s[0] for s in specs], "variant": variant, **opts.to_dict(),
                    "reference": reference, "include": list(include), "prepare": settings["prepare"],
                    "fit": settings["fit"], "weights_seed": settings["provenance"].get("seed"),
                    "protocol": protocol_name}
    result = RecognitionComparison(
        results=results, features=fsets, table=pd.DataFrame(rows),
        intervals=pd.concat(intervals, ignore_index=True) if intervals else pd.DataFrame(),
        tests=pd.DataFrame(tests), reported=reported, settings=settings_out,
        timing={k: round(x, 2) for k, x in timing.items()})
    if out is not None:
        result.save(out)
    return result
