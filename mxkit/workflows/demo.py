"""The main job: synthetic data → preparation → reconstruction → evaluation → ``report.html``.

:func:`run_demo` is what ``make run`` (``mxkit demo``) executes on the embedded default:

1. **data** — a SynthME set (bundled face model, seed :data:`DEMO_SEED`, which neither the
   default weights (seed 0) nor the accuracy benchmark (seed 20261206) use, so every subject is
   unseen);
2. **prepare** — dlib landmarks, onset-frame alignment, optical flow and strain for each micro
   clip, with the settings the shipped weights were trained with, cached on disk;
3. **reconstruct** — every micro clip with the chosen variants (default: the static
   per-frame fit, the smoothed clip fit and the full method with the shipped weights);
4. **evaluate** — against the 3D ground truth and beside the **no-motion reference** (the onset
   shape kept for every frame): the active-region relative error, amplitude ratio and cosine of
   the apex − onset field on the vertices that truly move, the share of clips on which each
   variant beats no motion and the smoothed fit, with 95 % bootstrap intervals over clips and
   subjects (:mod:`mxkit.eval.motion`); then the whole-face micro-motion L1 overall and per
   region, the shape error (vertex L1 after rigid alignment), landmark NME, flow consistency,
   noise floor and SNR (definitions in ``docs/metrics.md``);
5. **report** — one self-contained ``report.html`` (interactive meshes, tables, plots) leading
   with those honest figures, plus ``metrics.csv`` / ``motion.csv`` / ``summary.csv`` /
   ``summary.md``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._checks import check_option
from .._io import atomic_write
from ..errors import InputValueError
from ..eval.motion import NO_MOTION, win_rates
from ..nets.variants import VARIANTS
from ..report import markdown_table
from .ablation import SUMMARY_METRICS as _SUMMARY_METRICS
from .ablation import region_table, run_ablation
from .synthme import expression_type_of, synthme_dataset
from .weights import load_networks

__all__ = ["run_demo", "DemoResult", "DEMO_SEED", "DEMO_VARIANTS", "SUMMARY_METRICS"]

log = logging.getLogger(__name__)

#: Seed of the demo's SynthME set (the default weights were trained on seed 0, the accuracy
#: benchmark holds out seed 20261206).
DEMO_SEED = 2
#: Variants reconstructed by default: the baseline, the clip fit and the full method.
DEMO_VARIANTS = ("static", "smoothed", "full")
#: Metrics of the per-variant summary: (metric, region, mesh, label); shared with
#: :func:`mxkit.workflows.run_ablation` (:data:`mxkit.workflows.SUMMARY_METRICS`).
SUMMARY_METRICS = _SUMMARY_METRICS


@dataclass(frozen=True, eq=False)
class DemoResult:
    """What :func:`run_demo` produced.

    Attributes
    ----------
    out : Path
        The output folder.
    clips : pandas.DataFrame
        The evaluated clips (one row each: subject, clip, emotion, AUs, frames, onset, apex).
    metrics : pandas.DataFrame
        Tidy metrics of every clip and variant (``mxkit.eval`` columns).
    summary : pandas.DataFrame
        One row per variant (``no_motion`` first): the :data:`SUMMARY_METRICS` over clips, the
        share of clips beating no motion and the micro-motion L1 over the no-motion reference's.
    motion : MotionSummary
        The honest motion summary with intervals (:func:`mxkit.eval.motion_summary`).
    timing : dict of str to float
        Seconds per step (``data``, ``prepare``, ``reconstruct``, ``evaluate``, ``report``,
        ``total``).
    files : dict of str to Path
        ``report``, ``metrics``, ``motion``, ``summary``, ``summary_md``.
    """

    out: Path
    clips: Any
    metrics: Any
    summary: Any
    motion: Any = None
    timing: dict[str, float] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    def to_dataframe(self) -> Any:
        """The per-variant summary table."""
        return self.summary

    def headline(self) -> dict[str, float]:
        """Median active relative error per variant (``no_motion`` is 1), rounded to 4 decimals."""
        col = SUMMARY_METRICS[0][3]
        return {str(v): round(float(x), 4) for v, x in zip(self.summary["variant"],
                                                           self.summary[col], strict=True)}


def _losses(per_clip: Any, variants: Sequence[str]) -> str:
    parts = []
    for v in variants:
        w = per_clip[per_clip["variant"] == v]
        if len(w):
            parts.append(f"{v} {int((~w['wins']).sum())} of {len(w)} clips")
    return ", ".join(parts) or "no clip with active-region rows"


def _verdict(motion: Any, variants: Sequence[str]) -> str:
    """One plain sentence per variant: its median active error and how often it beats no motion."""
    lines = []
    for v in variants:
        try:
            rel = motion.value(v, "rel_error_median")
            lo, hi = motion.interval(v, "rel_error_median")
            wins = motion.value(v, f"wins_vs_{NO_MOTION}")
        except InputValueError:
            continue
        n = int(motion.table.loc[motion.table["variant"] == v, "n_clips"].max())
        lose = n - round(wins * n)
        lines.append(f"{v}: median active relative error {rel:.3f} (95 % interval over clips {lo:.3f}–{hi:.3f}; "
                     f"1 = predicting no motion); better than no motion on {round(wins * n)} of {n} clips"
                     + (f", no better on {lose}." if lose else "."))
    return ("Measured on the vertices that truly move (true apex motion ≥ 30 % of its maximum), against "
            "the no-motion reference (the onset shape kept for every frame). " + " ".join(lines))


def _per_clip_table(metrics: Any, variants: Sequence[str]) -> Any:
    sel = metrics[(metrics["metric"] == "active_rel_error") & (metrics["region"] == "all")
                  & (metrics["mesh"] == "fine")]
    wide = sel.pivot_table(index=["subject", "clip"], columns="variant", values="value", aggfunc="first")
    return wide[[v for v in variants if v in wide.columns]].rename_axis(columns=None).reset_index()


def _write_report(out: Path, *, model: Any, clips: Sequence[Any], prepared: Sequence[Any],
                  recons: dict[str, list[Any]], clip_table: Any, metrics: Any, summary: Any,
                  motion: Any, active_regions: Any, variants: Sequence[str], timing: dict[str, float],
                  settings: dict[str, Any]) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    from ..report import Report
    from ..viz import plot_meshes_side_by_side, plot_region_errors

    report = Report(
        "mxkit: fine-grained 3D reconstruction of micro-expressions",
        subtitle=(f"{len(clips)} SynthME micro-expression clips of unseen subjects, "
                  f"reconstructed with {', '.join(variants)} and evaluated against their 3D "
                  "ground truth."),
    )
    report.heading("Summary")
    report.text(_verdict(motion, variants))
    report.table(motion.wide(over="clips"), caption=motion.caption(over="clips"))
    report.table(motion.wide(over="subjects"), caption=motion.caption(over="subjects"))
    label = SUMMARY_METRICS[0][3]
    shown = [v for v in summary["variant"]]
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.bar(shown, summary[label], color=["0.6" if v == NO_MOTION else "#4c72b0" for v in shown])
    ax.axhline(1.0, color="0.3", ls=":", lw=1)
    ax.set_ylabel("active rel. error (median)")
    ax.set_title("Error where the face moves (1 = no motion; lower is better)")
    report.figure(fig)
    plt.close(fig)
    report.heading("Per clip")
    per_clip = win_rates(metrics, against=NO_MOTION)
    report.table(_per_clip_table(metrics, shown),
                 caption="Active relative error of every clip and variant (0 perfect, 1 = no motion); "
                 f"a variant is worse than predicting no motion on {_losses(per_clip, variants)}.")
    report.heading("Other metrics")
    report.table(summary, caption="Over clips: the active-region figures are medians, the rest means. "
                 "Micro-motion L1 = mean absolute difference (per coordinate, mm) between the reconstructed "
                 "and the true apex − onset fields over the whole face, after rigid alignment on the onset "
                 "frame (most of the face does not move, so no motion already scores well on it: compare "
                 "with the no_motion row); shape L1 = the per-coordinate vertex error on every frame after a "
                 "per-frame rigid alignment; landmark NME by inter-ocular distance; flow consistency in "
                 "pixels of the aligned crop.")
    report.key_values({"face model": f"{model.name} ({model.n_vertices} vertices)",
                       "prepare": ", ".join(f"{k}={v}" for k, v in settings["prepare"].items()),
                       "coarse fit": ", ".join(f"{k}={v}" for k, v in settings["fit"].items()),
                       **{f"time: {k}": f"{v:.1f} s" for k, v in timing.items()}})

    report.heading("Per facial and AU region")
    report.table(active_regions, caption="Median active relative error per region (1 = no motion); "
                 "'full beats smoothed': share of clips on which the full method's error is lower there, "
                 "with its 95 % bootstrap interval over clips (low, high) and the clips compared (n).")
    regions = region_table(metrics, shown)
    report.table(regions, caption="micro-motion L1 (mm) over each whole region, mean over clips")
    best = variants[-1]
    per_region = metrics[(metrics["variant"] == best)]
    report.plotly(plot_region_errors(per_region, model, metric="micro_motion_l1",
                                     title=f"{best}: micro-motion L1 per region (mm)"),
                  caption="Region colour = mean micro-motion L1 of the variant, in mm.")

    # the clip with the largest true motion: meshes at the apex, coloured by displacement
    truths = [c.ground_truth.vertices(model) for c in clips]
    motion = [float(np.linalg.norm(t[c.apex] - t[c.onset], axis=1).max()) for t, c in
              zip(truths, clips, strict=True)]
    i = int(np.argmax(motion))
    clip, truth = clips[i], truths[i]
    rec_i = {v: recons[v][i] for v in variants}
    report.heading(f"One clip in 3D: {clip.subject}/{clip.clip_id} ({clip.emotion}, AU "
                   f"{clip.au_string})")
    onset, apex = rec_i[best].onset, rec_i[best].apex
    meshes = [(truth[apex], "ground truth")]
    scalars = [np.linalg.norm(truth[apex] - truth[onset], axis=1) * 1e3]
    for v in variants:
        verts = rec_i[v].vertices.detach().cpu().numpy()
        meshes.append((verts[apex], v))
        scalars.append(np.linalg.norm(verts[apex] - verts[onset], axis=1) * 1e3)
    report.plotly(plot_meshes_side_by_side(
        meshes, model.faces, scalars=scalars, colorbar_title="apex − onset (mm)",
        title="Displacement from onset to apex", height=420),
        caption="Rotate one panel and the others follow. Colour: displacement magnitude in mm.")
    frames = clip.load_frames([clip.onset, clip.apex])
    prep = prepared[i]
    from ..flow import flow_to_rgb

    crop = np.concatenate([prep.frames[prep.onset], prep.frames[prep.apex],
                           flow_to_rgb(prep.flow[prep.apex])], axis=1)
    report.image(np.concatenate(list(frames), axis=1), caption="onset and apex frames")
    report.image(crop, caption="aligned onset crop, apex crop, optical flow onset → apex "
                 "(hue = direction, saturation = magnitude)")
    fig, ax = plt.subplots(figsize=(6, 2.8))
    t = np.arange(len(truth)) / clip.fps
    true_mag = np.linalg.norm(truth - truth[onset], axis=2).mean(1) * 1e3
    ax.plot(t, true_mag, "k-", lw=2, label="ground truth")
    for v in variants:
        verts = rec_i[v].vertices.detach().cpu().numpy()
        ax.plot(t, np.linalg.norm(verts - verts[onset], axis=2).mean(1) * 1e3, label=v)
    ax.axvline(onset / clip.fps, color="0.7", ls=":")
    ax.axvline(apex / clip.fps, color="0.7", ls=":")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mean displacement (mm)")
    ax.legend(fontsize=8)
    ax.set_title("Motion since onset over the clip")
    report.figure(fig)
    plt.close(fig)

    report.heading("Clips")
    report.table(clip_table)
    report.heading("How to reproduce")
    report.code("make run                      # this report\n"
                "python -m mxkit demo --help   # options (preset, variants, flow, output)\n"
                "python -m benchmarks.run      # speed and accuracy benchmarks")
    return report.save(out / "report.html")


def _summary_markdown(motion: Any, summary: Any, active_regions: Any, variants: Sequence[str]) -> str:
    return ("# mxkit main job\n\n" + _verdict(motion, variants) + "\n\n"
            + markdown_table(motion.wide(over="clips")) + "\n" + motion.caption(over="clips") + "\n\n"
            + markdown_table(motion.wide(over="subjects")) + "\n" + motion.caption(over="subjects") + "\n\n"
            + "## Per region (median active relative error)\n\n" + markdown_table(active_regions)
            + "\n## Other metrics (over clips)\n\n" + markdown_table(summary))


def run_demo(out: str | Path, *, preset: str = "small", seed: int = DEMO_SEED,
             variants: Sequence[str] = DEMO_VARIANTS, max_clips: int | None = None,
             weights: Any = None, workers: int | None = None, progress: bool = True,
             report: bool = True) -> DemoResult:
    """Run the main job and write its report (see the module docstring).

    Parameters
    ----------
    out : path-like
        Output folder (created): ``synthme/`` (the data), ``cache/`` (prepared clips),
        ``report.html``, ``metrics.csv``, ``motion.csv``, ``summary.csv``, ``summary.md``.
    preset : str
        SynthME preset (``"tiny"``, ``"small"``, ``"full"``).
    seed : int
        SynthME seed.
    variants : sequence of str
        Reconstruction variants (:data:`mxkit.nets.VARIANTS`); the last one is the
        one shown in the per-region heat map.
    max_clips : int, optional
        Evaluate only the first ``max_clips`` micro clips.
    weights : optional
        Network weights (default: the packaged ones), see :func:`mxkit.reconstruct`.
    workers : int, optional
        Processes for the prepare step (default: one per CPU core, at most 4).
    progress : bool
        Progress bars.
    report : bool
        Write ``report.html`` (the tables are always written).

    Returns
    -------
    DemoResult
    """
    from ..data.synth import PRESETS
    from ..morph import load_face_model

    check_option(preset, tuple(PRESETS), "preset")
    variants = tuple(variants)
    if not variants:
        raise InputValueError("variants must name at least one reconstruction variant")
    for v in variants:
        check_option(v, VARIANTS, "variants")
    if max_clips is not None and max_clips < 1:
        raise InputValueError(f"max_clips must be >= 1; got {max_clips}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_face_model("mh-head")
    timing: dict[str, float] = {}
    t_all = time.perf_counter()

    # weights first: a missing or corrupt file fails before any heavy work
    _, settings = load_networks(variants, weights=weights, model=model)
    settings = {"prepare": settings["prepare"], "fit": settings["fit"]}

    t0 = time.perf_counter()
    data = synthme_dataset(out / "synthme", preset=preset, seed=seed, expression_type="micro",
                           progress=progress)
    clips = [c for c in data if expression_type_of(c) == "micro"]
    if max_clips is not None:
        clips = clips[:max_clips]
    if not clips:
        raise InputValueError(f"the SynthME {preset!r} preset produced no micro clips")
    timing["data"] = time.perf_counter() - t0

    # prepare (cached, the weights' settings) -> reconstruct every variant -> evaluate
    ablation = run_ablation(clips, variants=variants, model=model, weights=weights,
                            cache_dir=out / "cache", workers=workers, progress=progress,
                            keep_reconstructions=True, reported=False)
    for step in ("prepare", "reconstruct", "evaluate"):
        timing[step] = ablation.timing[step]
    prepared, recons = list(ablation.prepared), ablation.reconstructions or {}
    metrics, summary, clip_table = ablation.metrics, ablation.per_variant, ablation.clips
    motion = ablation.motion
    if motion is None:
        raise InputValueError("no clip has active-region motion metrics (the truth does not move)")

    files = {
        "metrics": atomic_write(out / "metrics.csv", metrics.to_csv(index=False)),
        "motion": atomic_write(out / "motion.csv", motion.table.to_csv(index=False)),
        "summary": atomic_write(out / "summary.csv", summary.to_csv(index=False)),
        "summary_md": atomic_write(out / "summary.md", _summary_markdown(motion, summary, ablation.active_regions,
                                                                         variants)),
    }
    if report:
        t0 = time.perf_counter()
        timing["report"] = 0.0
        timing["total"] = time.perf_counter() - t_all
        files["report"] = _write_report(out, model=model, clips=clips, prepared=prepared,
                                        recons=recons, clip_table=clip_table, metrics=metrics,
                                        summary=summary, motion=motion, active_regions=ablation.active_regions,
                                        variants=variants, timing=timing, settings=settings)
        timing["report"] = time.perf_counter() - t0
    timing["total"] = time.perf_counter() - t_all
    return DemoResult(out=out, clips=clip_table, metrics=metrics, summary=summary, motion=motion,
                      timing={k: round(v, 2) for k, v in timing.items()}, files=files)
