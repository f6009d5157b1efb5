"""The reconstruction ablation in one call: every clip, every variant, against the 3D truth.

:func:`run_ablation` chains stages that exist elsewhere; it adds no metric or model of its own:

1. **weights** -- the networks of the requested variants and the prepare / coarse-fit settings
   recorded in the weights bundle (:func:`mxkit.workflows.load_networks`), loaded first, so a
   missing or corrupt file fails before any heavy work;
2. **prepare** -- every clip once with those settings (:func:`prepared_clips`:
   :func:`mxkit.prepare_many` in worker processes, with an optional per-clip disk cache), unless
   prepared clips are given;
3. **reconstruct** -- every clip with every variant (:func:`iter_reconstructions`:
   :func:`mxkit.reconstruct`);
4. **evaluate** -- :func:`~mxkit.eval.evaluate_reconstruction` against the clips' 3D ground
   truth, and :func:`~mxkit.eval.evaluate_no_motion` (the no-motion reference, variant
   ``no_motion``: the onset shape kept for every frame) on every clip; the tidy metrics, the
   honest motion summary (:func:`~mxkit.eval.motion_summary`: active-region relative error,
   amplitude ratio, cosine, win rates against no motion and the smoothed fit, bootstrap
   intervals over clips and subjects), the per-region active error, a per-variant summary
   (:data:`SUMMARY_METRICS`) and the :class:`~mxkit.eval.AblationTable` with the paper's figures
   as separate 'as reported' rows.

``mxkit evaluate`` (:mod:`mxkit.cli`) is this call; the main job (:mod:`mxkit.workflows.demo`) and
``benchmarks/bench_accuracy.py`` use the same steps; the recognition comparison
(:mod:`mxkit.workflows.recognition`) shares steps 1-3. Every metric is defined in
``docs/metrics.md`` and in the module that computes it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._checks import check_option
from .._io import atomic_write
from ..errors import InputValueError
from ..eval.ablation import REPORTED, AblationTable, ablation_row, ablation_table
from ..eval.motion import (
    ACTIVE_THRESHOLD,
    NO_MOTION,
    MotionSummary,
    motion_summary,
    region_motion_table,
)
from ..nets.variants import VARIANTS
from ..report import markdown_table
from .batch import _labelled, iter_reconstructions, prepared_clips
from .synthme import expression_type_of
from .weights import DEFAULT_WEIGHTS, load_networks

__all__ = [
    "SUMMARY_METRICS",
    "clip_table",
    "variant_summary",
    "region_table",
    "AblationResult",
    "run_ablation",
]

log = logging.getLogger(__name__)

#: Metrics of the per-variant summary (:func:`variant_summary`): (metric, region, mesh, label,
#: statistic over clips). The honest motion figures first (:mod:`mxkit.eval.motion`).
SUMMARY_METRICS = (
    ("active_rel_error", "all", "fine", "active rel. error (median)", "median"),
    ("amplitude_ratio", "all", "fine", "amplitude ratio (median)", "median"),
    ("motion_cosine", "all", "fine", "cosine (median)", "median"),
    ("micro_motion_l1", "all", "fine", "micro-motion L1 (mm)", "mean"),
    ("micro_motion_l2", "all", "fine", "micro-motion L2 (mm)", "mean"),
    ("vertex_l1", "all", "fine", "shape L1 (mm)", "mean"),
    ("landmark_nme", "all", "fine", "landmark NME", "mean"),
    ("flow_consistency", "all", "fine", "flow consistency (px)", "mean"),
    ("snr", "all", "fine", "SNR", "mean"),
)

# ----------------------------------------------------------------------------- tables
def clip_table(clips: Sequence[Any]) -> pd.DataFrame:
    """One row per clip: subject, clip, emotion, AUs, frames, onset, apex, offset, duration (s)."""
    return pd.DataFrame([{
        "subject": c.subject, "clip": c.clip_id, "emotion": c.emotion, "AUs": c.au_string,
        "frames": c.n_frames, "onset": c.onset, "apex": c.apex, "offset": c.offset,
        "duration (s)": round((c.offset - c.onset + 1) / c.fps, 3),
    } for c in clips])


def variant_summary(metrics: pd.DataFrame, variants: Sequence[str]) -> pd.DataFrame:
    """One row per variant: clips and the :data:`SUMMARY_METRICS` over clips (median or mean).

    ``clips`` counts distinct ``(dataset, subject, clip)`` (clip names repeat across subjects,
    as in CASME II).

    ``beats no motion`` is the share of clips whose ``active_rel_error`` is below 1, the
    no-motion reference's (NaN without active-region rows). With a ``no_motion`` row,
    ``L1 / no motion`` is each variant's mean micro-motion L1 over the no-motion reference's.
    """
    rows = []
    for variant in variants:
        sub = metrics[metrics["variant"] == variant]
        ids = [c for c in ("dataset", "subject", "clip") if c in sub]   # a clip is (dataset, subject, clip)
        row: dict[str, Any] = {"variant": variant, "clips": int(len(sub[ids].drop_duplicates()))}
        for metric, region, mesh, label, stat in SUMMARY_METRICS:
            sel = sub[(sub["metric"] == metric) & (sub["region"] == region) & (sub["mesh"] == mesh)]["value"]
            sel = sel.dropna()
            row[label] = float(sel.median() if stat == "median" else sel.mean()) if len(sel) else math.nan
            if metric == "active_rel_error":
                row["beats no motion"] = float((sel < 1.0).mean()) if len(sel) else math.nan
        rows.append(row)
    df = pd.DataFrame(rows)
    label = "micro-motion L1 (mm)"
    if NO_MOTION in set(df["variant"]):
        ref = float(df.loc[df["variant"] == NO_MOTION, label].iloc[0])
        df["L1 / no motion"] = df[label] / ref
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


def _is_synthme(clip: Any) -> bool:
    return expression_type_of(clip) is not None and getattr(clip, "ground_truth", None) is not None


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
        :func:`region_table`: mean micro-motion L1 (mm) per region and variant, the
        ``no_motion`` reference included.
    table : AblationTable
        The comparison table (columns of :data:`mxkit.eval.TABLE_METRICS`: the active-region
        motion figures, ``micro_motion_l2``, the shape errors ``shape_l1`` / ``shape_l2``,
        recognition columns when a protocol was given; the ``no_motion`` reference row), the
        paper's figures (its ``L1``) in separate 'as reported' rows.
    motion : MotionSummary
        :func:`mxkit.eval.motion_summary`: per variant (``no_motion`` first) the median active
        relative error, amplitude ratio, cosine, whole-face micro-motion L1 and the win rates
        against ``no_motion`` and ``smoothed``, with 95 % bootstrap intervals over clips and over
        subjects.
    active_regions : pandas.DataFrame
        :func:`mxkit.eval.region_motion_table`: median active relative error per region (whole
        face, facial regions, AU regions) and variant, and the share of clips on which ``full``
        beats ``smoothed`` there (with its interval) when both were run.
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
    motion: MotionSummary | None = field(default=None, repr=False)
    active_regions: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    recognition: dict[str, Any] = field(default_factory=dict, repr=False)
    runs: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    settings: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)
    prepared: tuple = field(default=(), repr=False)
    reconstructions: dict[str, list[Any]] | None = field(default=None, repr=False)
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def variants(self) -> list[str]:
        """The variants reconstructed, in table order (the ``no_motion`` reference is not one)."""
        return [str(v) for v in self.per_variant["variant"] if v != NO_MOTION]

    def to_dataframe(self) -> pd.DataFrame:
        """The tidy metrics (a copy)."""
        return self.metrics.copy()

    def summary(self) -> dict[str, Any]:
        """Plain numbers per variant (``no_motion`` included): median active relative error and
        share of clips beating no motion (3 decimals), mean micro-motion L1 (mm, 4 decimals)."""
        pv = self.per_variant
        col = {"rel_error_median": "active rel. error (median)", "beats_no_motion": "beats no motion",
               "micro_motion_l1": "micro-motion L1 (mm)"}
        out: dict[str, Any] = {"clips": int(len(self.clips)), "variants": self.variants}
        for key, label in col.items():
            digits = 4 if key == "micro_motion_l1" else 3
            out[key] = {str(v): round(float(x), digits) for v, x in zip(pv["variant"], pv[label], strict=True)}
        return out

    def to_markdown(self, digits: int = 4) -> str:
        """The ablation table, the honest motion summary, the per-variant and per-region tables."""
        out = "## Ablation table\n\n" + self.table.to_markdown(digits=digits)
        if self.motion is not None and len(self.motion.table):
            out += ("\n## Motion where the face moves (medians, 95 % intervals over clips)\n\n"
                    + markdown_table(self.motion.wide(over="clips")) + "\n" + self.motion.caption(over="clips")
                    + "\n\n### The same, 95 % intervals over subjects\n\n"
                    + markdown_table(self.motion.wide(over="subjects")) + "\n")
        out += "\n## Per variant (over clips)\n\n" + markdown_table(self.per_variant, digits)
        if len(self.active_regions):
            out += ("\n## Active relative error per region (median over clips)\n\n"
                    + markdown_table(self.active_regions, digits))
        return out + "\n## Micro-motion L1 per region (mm, mean over clips)\n\n" + markdown_table(self.regions, digits)

    def save(self, out: str | os.PathLike) -> dict[str, Path]:
        """Write the tables under ``out`` (created), each atomically.

        Files: ``ablation.csv`` / ``ablation.md`` (the comparison table and every table below),
        ``motion.csv`` (the honest motion summary, tidy, with intervals), ``summary.csv`` /
        ``summary.md`` (per variant), ``regions.csv``, ``active_regions.csv``, ``metrics.csv``
        (tidy), ``clips.csv``, ``settings.json`` and, with recognition, ``recognition.csv``.

        Returns
        -------
        dict of str to Path
            Also stored in :attr:`files`.
        """
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        self.table.to_csv(out / "ablation.csv")
        files = {"ablation": out / "ablation.csv",
                 "ablation_md": atomic_write(out / "ablation.md", self.to_markdown()),
                 "summary": atomic_write(out / "summary.csv", self.per_variant.to_csv(index=False)),
                 "summary_md": atomic_write(out / "summary.md", markdown_table(self.per_variant)),
                 "regions": atomic_write(out / "regions.csv", self.regions.to_csv(index=False)),
                 "active_regions": atomic_write(out / "active_regions.csv", self.active_regions.to_csv(index=False)),
                 "metrics": atomic_write(out / "metrics.csv", self.metrics.to_csv(index=False)),
                 "clips": atomic_write(out / "clips.csv", self.clips.to_csv(index=False)),
                 "settings": atomic_write(out / "settings.json",
                                          json.dumps(self.settings, indent=1, default=str) + "\n")}
        if self.motion is not None:
            files["motion"] = atomic_write(out / "motion.csv", self.motion.table.to_csv(index=False))
        if self.recognition:
            tidy = pd.concat([r.to_dataframe().assign(variant=v) for v, r in self.recognition.items()],
                             ignore_index=True)
            files["recognition"] = atomic_write(out / "recognition.csv", tidy.to_csv(index=False))
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
        Network weights (default: the packaged bundle), see :func:`mxkit.workflows.load_weights`;
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
        Recognition seed, and the seed of the bootstrap intervals.
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
    from ..eval.classifiers import CLASSIFIERS
    from ..eval.reconstruction import evaluate_no_motion, evaluate_reconstruction

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
        from ..eval.features import reconstruction_features
    t0 = time.perf_counter()
    for v, i, rec, sec in iter_reconstructions(preps, variants=variants, model=model, networks=nets,
                                               fit_options=settings["fit"], progress=progress):
        t1 = time.perf_counter()
        t_rec += t1 - t0
        runs.append({"dataset": clips[i].dataset, "subject": clips[i].subject, "clip": clips[i].clip_id,
                     "variant": v, "seconds": sec})
        if v == variants[0]:                 # the no-motion reference of the clip, once
            tables.append(evaluate_no_motion(clips[i].ground_truth, model, onset=rec.onset, apex=rec.apex,
                                             clip_key=rec.clip_key, **eval_opts).to_dataframe())
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
        from ..eval.features import feature_matrix
        from ..eval.recognition import recognise_clips

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
        for v in (NO_MOTION, *variants):
            rows.append(ablation_row(v, lab, reconstruction=sub[sub["variant"] == v].assign(dataset=lab),
                                     recognition=recognition.get(v),
                                     note="reference: onset shape kept, motion columns only" if v == NO_MOTION else ""))
    table = ablation_table(rows, include_reported=reported_ds is not None, datasets=reported_ds)
    settings_out = {"variants": list(variants), "prepare": settings["prepare"], "fit": settings["fit"],
                    "evaluate": {**eval_opts, "prepared": give_prepared}, "weights": DEFAULT_WEIGHTS if weights is None else str(
                        weights if isinstance(weights, (str, os.PathLike)) else type(weights).__name__),
                    "weights_seed": settings["provenance"].get("seed"),
                    "protocol": getattr(protocol, "name", protocol), "classifier": classifier if protocol else None,
                    "n_clips": len(clips)}
    timing["total"] = time.perf_counter() - t_all
    shown = (NO_MOTION, *variants)
    threshold = eval_opts.get("active_threshold", ACTIVE_THRESHOLD)
    has_active = threshold is not None and bool((metrics["metric"] == "active_rel_error").any())
    motion = motion_summary(metrics, variants=shown, seed=seed, threshold=threshold) if has_active else None
    active = (region_motion_table(metrics, variants=shown, seed=seed,
                                  compare=("full", "smoothed") if {"full", "smoothed"} <= set(variants) else None)
              if has_active else pd.DataFrame())
    result = AblationResult(clips=clip_table(clips), metrics=metrics, per_variant=variant_summary(metrics, shown),
                            regions=region_table(metrics, shown), table=table, motion=motion,
                            active_regions=active, recognition=recognition,
                            runs=pd.DataFrame(runs), settings=settings_out, timing={k: round(x, 2) for k, x in timing.items()},
                            prepared=tuple(preps), reconstructions=kept)
    if out is not None:
        result.save(out)
    return result
