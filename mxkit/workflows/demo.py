"""The main job: synthetic data → preparation → reconstruction → evaluation → ``report.html``.

:func:`run_demo` is what ``make run`` (``mxkit demo``) executes on the embedded default:

1. **data** — a SynthME set (bundled face model, seed :data:`DEMO_SEED`, which neither the
   default weights (seed 0) nor the accuracy benchmark (seed 1) use, so every subject is
   unseen);
2. **prepare** — dlib landmarks, onset-frame alignment, optical flow and strain for each micro
   clip, with the settings the shipped weights were trained with, cached on disk;
3. **reconstruct** — every micro clip with the chosen variants (default: the static
   per-frame fit, the smoothed clip fit and the full method with the shipped weights);
4. **evaluate** — against the 3D ground truth: micro-motion error (apex − onset displacement
   L1, mm) overall and per region, vertex L1 after rigid alignment, landmark NME, flow
   consistency, noise floor and SNR (definitions in ``docs/metrics.md``);
5. **report** — one self-contained ``report.html`` (interactive meshes, tables, plots) plus
   ``metrics.csv`` / ``summary.csv`` / ``summary.md``.
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
from ..nets.variants import VARIANTS
from ..report import markdown_table
from .ablation import SUMMARY_METRICS as _SUMMARY_METRICS
from .ablation import region_table, run_ablation
from .synthme import expression_type_of, synthme_dataset
from .weights import load_networks

__all__ = ["run_demo", "DemoResult", "DEMO_SEED", "DEMO_VARIANTS", "SUMMARY_METRICS"]

log = logging.getLogger(__name__)

#: Seed of the demo's SynthME set (the default weights were trained on seed 0, the accuracy
#: benchmark holds out seed 1).
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
        One row per variant: the :data:`SUMMARY_METRICS` averaged over clips, and the ratio of
        its micro-motion L1 to the static fit's.
    timing : dict of str to float
        Seconds per step (``data``, ``prepare``, ``reconstruct``, ``evaluate``, ``report``,
        ``total``).
    files : dict of str to Path
        ``report``, ``metrics``, ``summary``, ``summary_md``.
    """

    out: Path
    clips: Any
    metrics: Any
    summary: Any
    timing: dict[str, float] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    def to_dataframe(self) -> Any:
        """The per-variant summary table."""
        return self.summary

    def headline(self) -> dict[str, float]:
        """Mean micro-motion L1 (mm) per variant, rounded to 4 decimals."""
        col = SUMMARY_METRICS[0][3]
        return {str(v): round(float(x), 4) for v, x in zip(self.summary["variant"],
                                                           self.summary[col], strict=True)}


def _write_report(out: Path, *, model: Any, clips: Sequence[Any], prepared: Sequence[Any],
                  recons: dict[str, list[Any]], clip_table: Any, metrics: Any, summary: Any,
                  variants: Sequence[str], timing: dict[str, float], settings: dict[str, Any]
                  ) -> Path:
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
    report.table(summary, caption="Means over clips. Micro-motion error = mean absolute "
                 "difference (per coordinate, mm) between the reconstructed and the true "
                 "apex − onset displacement fields over the face, after rigid alignment on the "
                 "onset frame; vertex L1 likewise on every frame; landmark NME by inter-ocular "
                 "distance; flow consistency in pixels of the aligned crop.")
    label = SUMMARY_METRICS[0][3]
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.bar(summary["variant"], summary[label], color="#4c72b0")
    ax.set_ylabel(label)
    ax.set_title("Micro-motion error by variant (lower is better)")
    report.figure(fig)
    plt.close(fig)
    report.key_values({"face model": f"{model.name} ({model.n_vertices} vertices)",
                       "prepare": ", ".join(f"{k}={v}" for k, v in settings["prepare"].items()),
                       "coarse fit": ", ".join(f"{k}={v}" for k, v in settings["fit"].items()),
                       **{f"time: {k}": f"{v:.1f} s" for k, v in timing.items()}})

    report.heading("Micro-motion error per facial region")
    regions = region_table(metrics, variants)
    report.table(regions, caption="micro-motion L1 (mm), mean over clips")
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


def run_demo(out: str | Path, *, preset: str = "small", seed: int = DEMO_SEED,
             variants: Sequence[str] = DEMO_VARIANTS, max_clips: int | None = None,
             weights: Any = None, workers: int | None = None, progress: bool = True,
             report: bool = True) -> DemoResult:
    """Run the main job and write its report (see the module docstring).

    Parameters
    ----------
    out : path-like
        Output folder (created): ``synthme/`` (the data), ``cache/`` (prepared clips),
        ``report.html``, ``metrics.csv``, ``summary.csv``, ``summary.md``.
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

    files = {
        "metrics": atomic_write(out / "metrics.csv", metrics.to_csv(index=False)),
        "summary": atomic_write(out / "summary.csv", summary.to_csv(index=False)),
        "summary_md": atomic_write(out / "summary.md", markdown_table(summary)),
    }
    if report:
        t0 = time.perf_counter()
        timing["report"] = 0.0
        timing["total"] = time.perf_counter() - t_all
        files["report"] = _write_report(out, model=model, clips=clips, prepared=prepared,
                                        recons=recons, clip_table=clip_table, metrics=metrics,
                                        summary=summary, variants=variants, timing=timing,
                                        settings=settings)
        timing["report"] = time.perf_counter() - t0
    timing["total"] = time.perf_counter() - t_all
    return DemoResult(out=out, clips=clip_table, metrics=metrics, summary=summary,
                      timing={k: round(v, 2) for k, v in timing.items()}, files=files)
