"""One-call runners: the reconstruction ablation and the recognition comparison.

Both runners chain stages that exist elsewhere; they add no metric or model of their own:

1. **weights** -- the networks of the requested variants (:func:`mxkit.reconstruct.load_weights`)
   and the prepare / coarse-fit settings recorded in the weights bundle
   (:func:`weights_settings`; :data:`mxkit.reconstruct.DEFAULT_PREPARE` /
   :data:`~mxkit.reconstruct.DEFAULT_FIT` where it records none) -- loaded first, so a missing or
   corrupt file fails before any heavy work;
2. **prepare** -- every clip once with those settings (:func:`mxkit.prepare_many`, in worker
   processes, with an optional per-clip disk cache), unless prepared clips are given;
3. **reconstruct** -- every clip with every variant (:func:`mxkit.reconstruct`);
4. **evaluate** -- :func:`run_ablation`: :func:`~mxkit.eval.evaluate_reconstruction` against the
   clips' 3D ground truth, the tidy metrics, a per-variant summary (:data:`SUMMARY_METRICS`) and
   the :class:`~mxkit.eval.AblationTable` with the paper's figures as separate 'as reported'
   rows; :func:`run_recognition`: features from the reconstructions
   (:mod:`mxkit.eval.features`), the 2D optical-flow baseline from the prepared clips
   (:mod:`mxkit.eval.baselines`) and, for SynthME, the 3D ground truth (:mod:`mxkit.eval.oracle`),
   each under leakage-safe LOSO (:func:`~mxkit.eval.recognise_clips`), side by side.

``mxkit evaluate`` and ``mxkit recognise`` (:mod:`mxkit.cli`) are these two calls; the main job
(:mod:`mxkit.demo`) and ``benchmarks/bench_accuracy.py`` use the same steps. Every metric is
defined in ``docs/metrics.md`` and in the module that computes it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._checks import check_option
from ..errors import InputValueError, ShapeError
from .ablation import REPORTED, VARIANTS, AblationTable, ablation_row, ablation_table
from .metrics import METRICS

__all__ = [
    "SUMMARY_METRICS",
    "RECOGNITION_FEATURES",
    "weights_settings",
    "load_networks",
    "prepared_clips",
    "iter_reconstructions",
    "clip_table",
    "variant_summary",
    "region_table",
    "markdown_table",
    "AblationResult",
    "run_ablation",
    "RecognitionComparison",
    "run_recognition",
]

log = logging.getLogger(__name__)

#: Metrics of the per-variant summary (:func:`variant_summary`): (metric, region, mesh, label).
SUMMARY_METRICS = (
    ("micro_motion_l1", "all", "fine", "micro-motion L1 (mm)"),
    ("micro_motion_l2", "all", "fine", "micro-motion L2 (mm)"),
    ("vertex_l1", "all", "fine", "vertex L1 (mm)"),
    ("landmark_nme", "all", "fine", "landmark NME"),
    ("flow_consistency", "all", "fine", "flow consistency (px)"),
    ("snr", "all", "fine", "SNR"),
)
#: Feature kinds of :func:`run_recognition`: ``'reconstruction'`` (of ``variant``; or
#: ``'reconstruction:<variant>'``), ``'flow_baseline'`` (2D optical flow of the prepared clips),
#: ``'oracle'`` (the SynthME 3D ground truth: an upper bound).
RECOGNITION_FEATURES = ("reconstruction", "flow_baseline", "oracle")


# ----------------------------------------------------------------------------- shared steps
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
        ``{"prepare": {...}, "fit": {...}, "provenance": {...}}``: :data:`mxkit.reconstruct.DEFAULT_PREPARE`
        and :data:`~mxkit.reconstruct.DEFAULT_FIT` updated by the bundle's entries, and the
        bundle's provenance record (empty without one).

    Raises
    ------
    AssetNotFoundError, CheckpointError
        A weights path that does not exist or does not load.
    """
    from ..reconstruct import (
        BUNDLE_FORMAT,
        DEFAULT_FIT,
        DEFAULT_PREPARE,
        _load_bundle_file,
        default_weights_path,
    )

    settings: dict[str, dict[str, Any]] = {"prepare": dict(DEFAULT_PREPARE), "fit": dict(DEFAULT_FIT),
                                           "provenance": {}}
    if weights is None:
        weights = default_weights_path()
        if not weights.is_file():
            return settings
    if isinstance(weights, (str, os.PathLike)):
        weights = _load_bundle_file(Path(weights))
    if isinstance(weights, Mapping) and weights.get("format") == BUNDLE_FORMAT:
        for key in ("prepare", "fit", "provenance"):
            if isinstance(weights.get(key), Mapping):
                settings[key].update(weights[key])
    return settings


def load_networks(variants: Sequence[str], *, weights: Any = None, model: Any
                  ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The trained networks of the network variants among ``variants``, and the settings.

    Parameters
    ----------
    variants : sequence of str
        Reconstruction variants (:data:`mxkit.reconstruct.VARIANTS`); ``static`` and
        ``smoothed`` need no network.
    weights : optional
        As in :func:`mxkit.reconstruct.load_weights` (default: the packaged bundle).
    model : FaceModel

    Returns
    -------
    networks : dict of variant -> DynamicRefiner
    settings : dict
        :func:`weights_settings`, updated by what each loaded variant's bundle records.

    Raises
    ------
    OptionError
        An unknown variant.
    AssetNotFoundError, CheckpointError
        Missing, corrupt or mismatched weights.
    """
    from ..reconstruct import NETWORK_VARIANTS, load_weights
    from ..reconstruct import VARIANTS as RECON_VARIANTS

    for v in variants:
        check_option(v, RECON_VARIANTS, "variants")
    settings = weights_settings(weights)
    nets = {}
    for v in dict.fromkeys(variants):
        if v in NETWORK_VARIANTS:
            nets[v], s = load_weights(weights, variant=v, model=model)
            settings["prepare"].update(s.get("prepare", {}))
            settings["fit"].update(s.get("fit", {}))
    return nets, settings


def prepared_clips(clips: Sequence[Any], *, prepared: Any = None, settings: Mapping[str, Any] | None = None,
                   cache_dir: str | os.PathLike | None = None, workers: int | None = None,
                   progress: bool = True) -> list[Any]:
    """The prepared clip of every clip, in the clips' order.

    Parameters
    ----------
    clips : sequence of Clip
    prepared : mapping clip key -> Prepared (e.g. a PreparedBatch), or sequence, optional
        Clips prepared earlier (checked against the clip keys); when absent, every clip is
        prepared with :func:`mxkit.prepare_many` and ``settings['prepare']``.
    settings : dict, optional
        :func:`weights_settings` (default: those of the packaged weights).
    cache_dir : path-like, optional
        Per-clip prepare cache (a second run reads it back).
    workers : int, optional
        Prepare worker processes (default: one per core, at most the number of clips).
    progress : bool

    Returns
    -------
    list of Prepared

    Raises
    ------
    InputValueError
        ``prepared`` lacks a clip or holds one in the wrong place.
    """
    clips = list(clips)
    if prepared is None:
        from ..train.synthme import prepare_clips

        opts = dict((settings or weights_settings())["prepare"])
        return prepare_clips(clips, cache_dir=cache_dir, workers=workers, progress=progress, **opts)
    if isinstance(prepared, Mapping):
        missing = [c.key for c in clips if c.key not in prepared]
        if missing:
            raise InputValueError(f"prepared has no entry for {len(missing)} clip(s), e.g. {missing[0]}")
        return [prepared[c.key] for c in clips]
    out = list(prepared)
    if len(out) != len(clips):
        raise ShapeError(f"{len(out)} prepared clips for {len(clips)} clips")
    for c, p in zip(clips, out, strict=True):
        key = tuple(getattr(p, "clip_key", c.key))
        if key != tuple(c.key):
            raise InputValueError(f"prepared clip {key} is in the place of clip {c.key}; keep the clips' order")
    return out


def iter_reconstructions(prepared: Sequence[Any], *, variants: Sequence[str], model: Any,
                         networks: Mapping[str, Any], fit_options: Mapping[str, Any] | None = None,
                         progress: bool = True) -> Iterator[tuple[str, int, Any, float]]:
    """Reconstruct every prepared clip with every variant (variant by variant, clips in order).

    Parameters
    ----------
    prepared : sequence of Prepared
    variants : sequence of str
    model : FaceModel
    networks : dict of variant -> DynamicRefiner
        From :func:`load_networks` (every network variant of ``variants``).
    fit_options : dict, optional
        Coarse-fit options (``settings['fit']``).
    progress : bool
        One tqdm bar over all (variant, clip) jobs.

    Yields
    ------
    (variant, clip index, Reconstruction, seconds)
    """
    from ..reconstruct import NETWORK_VARIANTS, reconstruct

    missing = [v for v in variants if v in NETWORK_VARIANTS and v not in networks]
    if missing:
        raise InputValueError(f"no networks loaded for {missing}; use load_networks")
    jobs = [(v, i) for v in variants for i in range(len(prepared))]
    it: Any = jobs
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(jobs, desc="reconstruct", unit="clip")
    for v, i in it:
        t0 = time.perf_counter()
        rec = reconstruct(prepared[i], model=model, variant=v, weights=networks.get(v),
                          fit_options=dict(fit_options or {}))
        yield v, i, rec, time.perf_counter() - t0


def clip_table(clips: Sequence[Any]) -> pd.DataFrame:
    """One row per clip: subject, clip, emotion, AUs, frames, onset, apex, offset, duration (s)."""
    return pd.DataFrame([{
        "subject": c.subject, "clip": c.clip_id, "emotion": c.emotion, "AUs": c.au_string,
        "frames": c.n_frames, "onset": c.onset, "apex": c.apex, "offset": c.offset,
        "duration (s)": round((c.offset - c.onset + 1) / c.fps, 3),
    } for c in clips])


def variant_summary(metrics: pd.DataFrame, variants: Sequence[str]) -> pd.DataFrame:
    """One row per variant: clips and the :data:`SUMMARY_METRICS` averaged over clips.

    With a ``static`` row, ``ratio to static`` is each variant's micro-motion L1 over the
    static fit's.
    """
    rows = []
    for variant in variants:
        sub = metrics[metrics["variant"] == variant]
        row: dict[str, Any] = {"variant": variant, "clips": int(sub["clip"].nunique())}
        for metric, region, mesh, label in SUMMARY_METRICS:
            sel = sub[(sub["metric"] == metric) & (sub["region"] == region) & (sub["mesh"] == mesh)]
            row[label] = float(sel["value"].mean()) if len(sel) else math.nan
        rows.append(row)
    df = pd.DataFrame(rows)
    label = SUMMARY_METRICS[0][3]
    if "static" in set(df["variant"]):
        ref = float(df.loc[df["variant"] == "static", label].iloc[0])
        df["ratio to static"] = df[label] / ref
    return df


def region_table(metrics: pd.DataFrame, variants: Sequence[str], *,
                 metric: str = "micro_motion_l1") -> pd.DataFrame:
    """Mean ``metric`` (fine mesh) per region (rows: 'all', facial regions, AU regions) and variant."""
    sel = metrics[(metrics["metric"] == metric) & (metrics["mesh"] == "fine")]
    table = sel.pivot_table(index="region", columns="variant", values="value", aggfunc="mean")
    cols = [v for v in variants if v in table.columns]
    table = table[cols].rename_axis(columns=None).reset_index()
    order = sorted(range(len(table)), key=lambda i: (table["region"][i] != "all",
                                                    str(table["region"][i]).startswith("AU"),
                                                    str(table["region"][i])))
    return table.iloc[order].reset_index(drop=True)


def markdown_table(df: pd.DataFrame, digits: int = 4) -> str:
    """A DataFrame as a GitHub Markdown table (floats with ``digits`` decimals)."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(f"{x:.{digits}f}" if isinstance(x, float) else str(x)
                                       for x in row) + " |")
    return "\n".join(lines) + "\n"


def _atomic_text(path: Path, text: str) -> Path:
    from ..meshio import _atomic_write

    return _atomic_write(path, text.encode())


def _is_synthme(clip: Any) -> bool:
    from ..train.synthme import clip_kind

    return clip_kind(clip) is not None and getattr(clip, "ground_truth", None) is not None


def _dataset_labels(clips: Sequence[Any], dataset: str | None) -> list[str]:
    if dataset is not None:
        return [str(dataset)] * len(clips)
    return ["synthme" if _is_synthme(c) else str(c.dataset) for c in clips]


def _reported_datasets(reported: bool | Sequence[str]) -> list[str] | None:
    if reported is True:
        return list(dict.fromkeys(r["dataset"] for r in REPORTED))
    if reported is False:
        return None
    if isinstance(reported, str):
        raise InputValueError(f"reported must be True, False or a sequence of dataset names; got {reported!r}")
    return [str(d) for d in reported]


def _labelled(clips: Any, protocol: Any) -> Any:
    from ..data import ClipSet

    cs = clips if isinstance(clips, ClipSet) else ClipSet(list(clips))
    if protocol is None:
        if cs.protocol_card is None or any(c.label is None for c in cs):
            raise InputValueError("recognition needs labelled clips: give protocol= (e.g. 'casme2-5class') "
                                  "or a ClipSet labelled by clipset.map_classes(...)")
        return cs
    return cs.map_classes(protocol)


# ----------------------------------------------------------------------------- ablation
@dataclass(frozen=True, eq=False)
class AblationResult:
    """What :func:`run_ablation` produced.

    Attributes
    ----------
    clips : pandas.DataFrame
        The evaluated clips (:func:`clip_table`).
    metrics : pandas.DataFrame
        Tidy metrics of every clip and variant (:data:`mxkit.eval.TABLE_COLUMNS`).
    per_variant : pandas.DataFrame
        :func:`variant_summary`: one row per variant.
    regions : pandas.DataFrame
        :func:`region_table`: micro-motion L1 (mm) per region and variant.
    table : AblationTable
        The comparison table (L1 = ``vertex_l1``, L2 = ``vertex_l2``, micro_motion =
        ``micro_motion_l2``, recognition columns when a protocol was given), the paper's figures
        in separate 'as reported' rows.
    recognition : dict of variant -> RecognitionResult
        LOSO recognition from each variant's reconstructions (empty without a protocol).
    runs : pandas.DataFrame
        One row per reconstruction: ``dataset, subject, clip, variant, seconds`` (wall time of
        :func:`mxkit.reconstruct`, weights already loaded).
    settings : dict
        ``prepare``, ``fit`` (from the weights), ``evaluate`` options, ``variants``, ``weights``.
    timing : dict of str to float
        Seconds per step (``weights``, ``prepare``, ``reconstruct``, ``evaluate``,
        ``recognise``, ``total``).
    prepared : tuple of Prepared
    reconstructions : dict of variant -> list of Reconstruction, or None
        Kept only with ``keep_reconstructions=True``.
    files : dict of str to Path
        What :meth:`save` wrote.
    """

    clips: pd.DataFrame = field(repr=False)
    metrics: pd.DataFrame = field(repr=False)
    per_variant: pd.DataFrame = field(repr=False)
    regions: pd.DataFrame = field(repr=False)
    table: AblationTable = field(repr=False)
    recognition: dict[str, Any] = field(default_factory=dict, repr=False)
    runs: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    settings: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)
    prepared: tuple = field(default=(), repr=False)
    reconstructions: dict[str, list[Any]] | None = field(default=None, repr=False)
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def variants(self) -> list[str]:
        """The variants, in table order."""
        return [str(v) for v in self.per_variant["variant"]]

    def to_dataframe(self) -> pd.DataFrame:
        """The tidy metrics (a copy)."""
        return self.metrics.copy()

    def summary(self) -> dict[str, Any]:
        """Plain numbers: clip count, and per variant the mean micro-motion L1 (mm, 4 decimals)
        and its ratio to the static fit (3 decimals) when there is one."""
        label = SUMMARY_METRICS[0][3]
        out: dict[str, Any] = {"clips": int(len(self.clips)), "variants": self.variants,
                               "micro_motion_l1": {str(v): round(float(x), 4) for v, x in
                                                   zip(self.per_variant["variant"], self.per_variant[label], strict=True)}}
        if "ratio to static" in self.per_variant:
            out["ratio_to_static"] = {str(v): round(float(x), 3) for v, x in
                                      zip(self.per_variant["variant"], self.per_variant["ratio to static"], strict=True)}
        return out

    def to_markdown(self, digits: int = 4) -> str:
        """The ablation table, then the per-variant summary and the per-region table."""
        return ("## Ablation table\n\n" + self.table.to_markdown(digits=digits)
                + "\n## Per variant (means over clips)\n\n" + markdown_table(self.per_variant, digits)
                + "\n## Micro-motion L1 per region (mm)\n\n" + markdown_table(self.regions, digits))

    def save(self, out: str | os.PathLike) -> dict[str, Path]:
        """Write the tables under ``out`` (created), each atomically.

        Files: ``ablation.csv`` / ``ablation.md`` (the comparison table), ``summary.csv`` /
        ``summary.md`` (per variant), ``regions.csv``, ``metrics.csv`` (tidy), ``clips.csv``,
        ``settings.json`` and, with recognition, ``recognition.csv`` (tidy, per variant).

        Returns
        -------
        dict of str to Path
            Also stored in :attr:`files`.
        """
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        self.table.to_csv(out / "ablation.csv")
        files = {"ablation": out / "ablation.csv",
                 "ablation_md": _atomic_text(out / "ablation.md", self.to_markdown()),
                 "summary": _atomic_text(out / "summary.csv", self.per_variant.to_csv(index=False)),
                 "summary_md": _atomic_text(out / "summary.md", markdown_table(self.per_variant)),
                 "regions": _atomic_text(out / "regions.csv", self.regions.to_csv(index=False)),
                 "metrics": _atomic_text(out / "metrics.csv", self.metrics.to_csv(index=False)),
                 "clips": _atomic_text(out / "clips.csv", self.clips.to_csv(index=False)),
                 "settings": _atomic_text(out / "settings.json",
                                          json.dumps(self.settings, indent=1, default=str) + "\n")}
        if self.recognition:
            tidy = pd.concat([r.to_dataframe().assign(variant=v) for v, r in self.recognition.items()],
                             ignore_index=True)
            files["recognition"] = _atomic_text(out / "recognition.csv", tidy.to_csv(index=False))
        self.files.clear()
        self.files.update(files)
        return dict(files)


def run_ablation(
    clips: Sequence[Any],
    *,
    variants: Sequence[str] = VARIANTS,
    model: Any = None,
    weights: Any = None,
    prepared: Any = None,
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = True,
    evaluate_options: Mapping[str, Any] | None = None,
    protocol: Any = None,
    classifier: str = "logreg",
    include: Sequence[str] = ("regions", "trajectory"),
    seed: int = 0,
    reported: bool | Sequence[str] = True,
    dataset: str | None = None,
    keep_reconstructions: bool = False,
    out: str | os.PathLike | None = None,
) -> AblationResult:
    """Reconstruct every clip with every variant and evaluate against the 3D ground truth.

    Parameters
    ----------
    clips : sequence of Clip (e.g. a ClipSet)
        Clips with 3D ground truth in ``clip.ground_truth`` (SynthME: a ``SynthTruth``).
    variants : sequence of str, default :data:`mxkit.eval.VARIANTS`
        Reconstruction variants, in table order.
    model : FaceModel, optional
        Default ``load_face_model("mh-head")``.
    weights : optional
        Network weights (default: the packaged bundle), see :func:`mxkit.reconstruct.load_weights`;
        its recorded prepare and fit settings are used (:func:`load_networks`).
    prepared : mapping or sequence of Prepared, optional
        Clips prepared earlier (with those settings); default: prepared here.
    cache_dir : path-like, optional
        Per-clip prepare cache.
    workers : int, optional
        Prepare worker processes.
    progress : bool, default True
        Progress bars (prepare, reconstruct).
    evaluate_options : dict, optional
        Passed to :func:`~mxkit.eval.evaluate_reconstruction` (``regions``, ``aus``,
        ``meshes``, ``align``, ...); the prepared clip is given too (flow consistency and
        landmark NME) unless ``{"prepared": False}``.
    protocol : str or Protocol, optional
        A class protocol (``'casme2-5class'``): also run LOSO recognition from each variant's
        reconstruction features and fill the UF1/UAR/WF1/ACC columns of the table.
    classifier : str, default 'logreg'
        Classifier of that recognition (:data:`mxkit.eval.CLASSIFIERS`).
    include : sequence of str
        Reconstruction feature groups (:data:`mxkit.eval.FEATURE_GROUPS`).
    seed : int
        Recognition seed.
    reported : bool or sequence of str, default True
        The paper's 'as reported' rows: all of them (True), none, or those of some datasets.
    dataset : str, optional
        Name of the data in the table's ``dataset`` column (default: ``'synthme'`` for SynthME
        clips, else the clips' dataset), so that a synthetic row never sits under a real
        dataset's name.
    keep_reconstructions : bool, default False
        Keep every Reconstruction in the result (memory: T x V x 3 floats several times per
        clip and variant).
    out : path-like, optional
        Write the tables there (:meth:`AblationResult.save`).

    Returns
    -------
    AblationResult

    Raises
    ------
    InputValueError
        No clips, no variants, a clip without ground truth.
    OptionError
        An unknown variant or classifier.
    AssetNotFoundError, CheckpointError
        Missing, corrupt or mismatched weights (before any work).

    Examples
    --------
    >>> from mxkit.data import load_synthme
    >>> res = run_ablation(load_synthme("SynthME"), variants=("static", "full"),
    ...                    cache_dir="cache", out="ablation")              # doctest: +SKIP
    >>> print(res.table.to_markdown())                                      # doctest: +SKIP
    """
    from .classifiers import CLASSIFIERS
    from .reconstruction import evaluate_reconstruction

    t_all = time.perf_counter()
    clips = list(clips)
    variants = tuple(variants)
    if not clips:
        raise InputValueError("run_ablation got no clips")
    if not variants or isinstance(variants, str):
        raise InputValueError("variants must name at least one reconstruction variant")
    check_option(classifier, CLASSIFIERS, "classifier")
    no_truth = [c.key for c in clips if getattr(c, "ground_truth", None) is None]
    if no_truth:
        raise InputValueError(f"{len(no_truth)} clip(s) have no 3D ground truth, e.g. {no_truth[0]}; "
                              "the ablation evaluates against it (SynthME clips have it)")
    reported_ds = _reported_datasets(reported)
    labelled = _labelled(clips, protocol) if protocol is not None else None
    if model is None:
        from ..morph import load_face_model

        model = load_face_model("mh-head")
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    nets, settings = load_networks(variants, weights=weights, model=model)
    timing["weights"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    preps = prepared_clips(clips, prepared=prepared, settings=settings, cache_dir=cache_dir,
                           workers=workers, progress=progress)
    timing["prepare"] = time.perf_counter() - t0

    eval_opts = dict(evaluate_options or {})
    give_prepared = bool(eval_opts.pop("prepared", True))
    tables: list[pd.DataFrame] = []
    feats: dict[str, list[tuple[np.ndarray, list[str]]]] = {v: [] for v in variants}
    kept: dict[str, list[Any]] | None = {v: [] for v in variants} if keep_reconstructions else None
    runs: list[dict[str, Any]] = []
    t_rec = t_eval = 0.0
    if labelled is not None:
        from .features import reconstruction_features
    t0 = time.perf_counter()
    for v, i, rec, sec in iter_reconstructions(preps, variants=variants, model=model, networks=nets,
                                               fit_options=settings["fit"], progress=progress):
        t1 = time.perf_counter()
        t_rec += t1 - t0
        runs.append({"dataset": clips[i].dataset, "subject": clips[i].subject, "clip": clips[i].clip_id,
                     "variant": v, "seconds": sec})
        tables.append(evaluate_reconstruction(rec, clips[i].ground_truth, model,
                                              prepared=preps[i] if give_prepared else None,
                                              **eval_opts).to_dataframe())
        if labelled is not None:
            feats[v].append(reconstruction_features(rec, model, include=include))
        if kept is not None:
            kept[v].append(rec)
        t0 = time.perf_counter()
        t_eval += t0 - t1
    timing["reconstruct"], timing["evaluate"] = t_rec, t_eval
    metrics = pd.concat(tables, ignore_index=True)

    recognition: dict[str, Any] = {}
    if labelled is not None:
        from .features import feature_matrix
        from .recognition import recognise_clips

        t0 = time.perf_counter()
        keys = [tuple(c.key) for c in clips]
        for v in variants:
            fs = feature_matrix(feats[v], lambda x: x, keys=keys, name=f"reconstruction[{v}]: {'+'.join(include)}")
            recognition[v] = recognise_clips(labelled, fs.as_mapping(), classifier=classifier, seed=seed,
                                             feature_set=fs.name)
        timing["recognise"] = time.perf_counter() - t0

    labels = _dataset_labels(clips, dataset)
    label_of = {tuple(c.key): lab for c, lab in zip(clips, labels, strict=True)}
    ds_col = [label_of[(d, s, k)] for d, s, k in zip(metrics["dataset"], metrics["subject"], metrics["clip"],
                                                    strict=True)]
    rows = []
    for lab in dict.fromkeys(labels):
        sub = metrics[[x == lab for x in ds_col]]
        for v in variants:
            rows.append(ablation_row(v, lab, reconstruction=sub[sub["variant"] == v].assign(dataset=lab),
                                     recognition=recognition.get(v)))
    table = ablation_table(rows, include_reported=reported_ds is not None, datasets=reported_ds)
    from ..reconstruct import DEFAULT_WEIGHTS

    settings_out = {"variants": list(variants), "prepare": settings["prepare"], "fit": settings["fit"],
                    "evaluate": {**eval_opts, "prepared": give_prepared}, "weights": DEFAULT_WEIGHTS if weights is None else str(
                        weights if isinstance(weights, (str, os.PathLike)) else type(weights).__name__),
                    "weights_seed": settings["provenance"].get("seed"),
                    "protocol": getattr(protocol, "name", protocol), "classifier": classifier if protocol else None,
                    "n_clips": len(clips)}
    timing["total"] = time.perf_counter() - t_all
    result = AblationResult(clips=clip_table(clips), metrics=metrics, per_variant=variant_summary(metrics, variants),
                            regions=region_table(metrics, variants), table=table, recognition=recognition,
                            runs=pd.DataFrame(runs), settings=settings_out, timing={k: round(x, 2) for k, x in timing.items()},
                            prepared=tuple(preps), reconstructions=kept)
    if out is not None:
        result.save(out)
    return result


# ----------------------------------------------------------------------------- recognition
def _feature_specs(features: Sequence[str], variant: str) -> list[tuple[str, str, str | None]]:
    from ..reconstruct import VARIANTS as RECON_VARIANTS

    if isinstance(features, str) or not features:
        raise InputValueError(f"features must be a non-empty sequence of {list(RECOGNITION_FEATURES)}; got {features!r}")
    specs = []
    for f in features:
        kind, _, var = str(f).partition(":")
        check_option(kind, RECOGNITION_FEATURES, "features")
        if kind == "reconstruction":
            var = var or variant
            check_option(var, RECON_VARIANTS, "variant")
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
        files = {"recognition": _atomic_text(out / "recognition.csv", self.table.to_csv(index=False)),
                 "recognition_md": _atomic_text(out / "recognition.md", self.to_markdown()),
                 "metrics": _atomic_text(out / "metrics.csv", self.to_dataframe().to_csv(index=False)),
                 "folds": _atomic_text(out / "folds.csv", folds.to_csv(index=False)),
                 "predictions": _atomic_text(out / "predictions.csv", preds.to_csv(index=False)),
                 "cards": _atomic_text(out / "cards.json", json.dumps(
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
    from .baselines import FLOW_FEATURE_KINDS, flow_feature_matrix
    from .classifiers import CLASSIFIERS
    from .features import feature_matrix, reconstruction_features
    from .oracle import oracle_reconstruction
    from .recognition import recognise_clips

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
