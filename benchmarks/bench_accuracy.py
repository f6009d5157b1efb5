"""Accuracy of every reconstruction variant on a fresh held-out SynthME seed, honestly measured.

Workload: SynthME micro-expression clips (``preset="small"``, 256 px) of **seed 20261206**,
:data:`FRESH_SEED`, 6 subjects x 3 micro clips. Why this seed: the shipped weights were trained
on seed 0 (their fit settings chosen by cross-validation on seed 0's subjects); seed 1 was this
benchmark's held-out set until a fit setting was changed after the first weights failed a check
on it, so it informed a choice and is no longer held out; seed 2 is the main job's set and
seeds 5, 7, 99, 100+ appear in notebooks and other benchmarks. Seed 20261206 (the date it was
picked) had never been generated, looked at or used for any choice when these figures were
first recorded; keep it that way -- choose nothing on it. Every clip is prepared once with
the weights' recorded settings (:data:`mxkit.workflows.DEFAULT_PREPARE`) and reconstructed with
each variant of :data:`mxkit.nets.VARIANTS` and the packaged weights (or ``--weights``).

Metrics (:mod:`mxkit.eval.motion`, ``docs/metrics.md``), the no-motion reference (the true onset
shape kept for every frame) as its own row:

* **active relative error** -- ``sum ||pred - true|| / sum ||true||`` of the apex - onset field on
  the vertices that truly move (true motion >= 30 % of its maximum); 0 perfect, 1 = no motion;
  median over clips;
* **amplitude ratio** and **cosine** of the displacement field there (medians);
* **win rates** -- share of clips with a strictly lower active error than no motion, and than
  the smoothed fit;
* the whole-face micro-motion L1 (mm, mean), the old headline, beside them;
* 95 % percentile bootstrap intervals over clips and over subjects (2000 replicates);
* per AU region: median active error per variant, share of clips where full beats smoothed;
* paired component comparisons (``encoder - smoothed``, ``deformer - smoothed``, ``full -
  encoder``, ``full - deformer``, ``full - full_no_pretrain``, ``full - smoothed``): mean
  difference of the active error with intervals; a component helps when the interval lies
  below 0.

Targets reported (issue 15, never enforced here; the numbers are what they are): full beats no
motion on >= 90 % of clips; median active error <= 0.35; amplitude ratio within 0.8-1.2; full <=
smoothed in every AU region; every component's interval excludes zero on the good side.

Run ``python -m benchmarks.bench_accuracy [--quick] [--weights PATH]``; it prints Markdown.
``--quick`` uses 2 tiny-preset clips of the same seed (a smoke run, not a measurement).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

#: The fresh held-out seed (see the module docstring for why; choose nothing on it).
FRESH_SEED = 20261206
HELD_OUT = {"preset": "small", "seed": FRESH_SEED, "expression_type": "micro", "n_subjects": 6, "micro": 3}
QUICK = {"preset": "tiny", "seed": FRESH_SEED, "expression_type": "micro", "n_subjects": 2, "micro": 1}
#: Paired comparisons: (variant, its ablation) -- a component helps when a - b < 0.
COMPONENTS = (("smoothed", "static"), ("encoder", "smoothed"), ("deformer", "smoothed"), ("full", "encoder"),
              ("full", "deformer"), ("full", "full_no_pretrain"), ("full", "smoothed"))
N_BOOT = 2000


def run(quick: bool = False, *, weights: Any = None, work: Any = None,
        workers: int = 2, track: str = "detect") -> dict[str, Any]:
    """Honest accuracy of every variant on the fresh held-out clips.

    Parameters
    ----------
    quick : bool
        Two tiny clips instead of eighteen small ones.
    weights : path, optional
        Weights bundle (default: the packaged ``mxkit/assets/reconstruct_v1.pt``).
    work : path, optional
        Data and prepare cache (default ``mxkit._io.cache_dir("bench_accuracy")``).
    workers : int
        Prepare worker processes.
    track : {'detect', 'flow'}, default 'detect'
        Landmarks of ``mxkit.prepare`` (``track='flow'``: detected at the onset and tracked with
        the flow), on top of the weights' recorded prepare settings.

    Returns
    -------
    dict
        ``benchmark``, ``data``, ``seed_note``, ``weights``, ``summary`` (tidy motion summary
        rows with intervals), ``rows`` (one per variant, ``no_motion`` first), ``regions``
        (per region), ``components`` (paired comparisons), ``per_clip``, ``targets``.
    """
    from mxkit._io import cache_dir
    from mxkit.eval import NO_MOTION, compare_variants
    from mxkit.morph import load_face_model
    from mxkit.nets import VARIANTS
    from mxkit.workflows import (
        default_weights_path,
        prepare_clips,
        run_ablation,
        synthme_dataset,
        weights_settings,
    )

    data = QUICK if quick else HELD_OUT
    work = Path(work or cache_dir("bench_accuracy")) / f"seed{data['seed']}_{'quick' if quick else 'held_out'}"
    weights = Path(weights) if weights is not None else default_weights_path()
    model = load_face_model("mh-head")
    t0 = time.perf_counter()
    clips = list(synthme_dataset(work / "synthme", **data))
    t_data = time.perf_counter() - t0
    prepared = None
    if track != "detect":                      # the weights' prepare settings, plus the landmark option
        opts = {**weights_settings(weights)["prepare"], "track": track}
        prepared = prepare_clips(clips, cache_dir=work / "prepared", workers=workers, progress=False, **opts)
    ablation = run_ablation(clips, variants=VARIANTS, model=model, weights=weights, prepared=prepared,
                            cache_dir=work / "prepared", workers=workers, progress=False,
                            evaluate_options={"regions": False, "aus": "truth", "meshes": ("fine",),
                                              "prepared": False}, reported=False)
    metrics = ablation.metrics
    motion = ablation.motion
    per = ablation.per_variant.set_index("variant")
    seconds = ablation.runs.groupby("variant")["seconds"].mean().to_dict()
    rows = []
    for v in (NO_MOTION, *VARIANTS):
        row = {"variant": v}
        have = set(motion.table.loc[motion.table["variant"] == v, "quantity"])
        for q in ("rel_error_median", "rel_error_mean", "amplitude_ratio", "motion_cosine", "micro_motion_l1",
                  f"wins_vs_{NO_MOTION}", "wins_vs_smoothed"):
            if q in have:                           # a variant is not compared with itself
                row[q] = motion.value(v, q)
                row[q + "_clips"] = list(motion.interval(v, q, over="clips"))
                row[q + "_subjects"] = list(motion.interval(v, q, over="subjects"))
        row["shape_l1"] = float(per.loc[v, "shape L1 (mm)"])
        row["seconds_per_clip"] = float(seconds.get(v, 0.0))
        rows.append(row)
    regions = ablation.active_regions
    components = compare_variants(metrics, COMPONENTS, n_boot=N_BOOT)
    rel = metrics[(metrics["metric"] == "active_rel_error") & (metrics["region"] == "all")]
    per_clip = [{"clip": f"{r.dataset}/{r.subject}/{r.clip}", "variant": r.variant, "active_rel_error": r.value}
                for r in rel.itertuples(index=False)]
    by = {r["variant"]: r for r in rows}
    full = by["full"]
    au = regions[regions["region"].astype(str).str.startswith("AU")] if len(regions) else regions
    au_losses = [str(r) for r, f, s in zip(au.get("region", []), au.get("full", []), au.get("smoothed", []),
                                            strict=True) if f > s]
    comp_fail = [f"{r.a} vs {r.b}" for r in components.itertuples(index=False) if not r.clips_high < 0]
    targets = {
        "full beats no motion on >= 90 % of clips": (f"{full[f'wins_vs_{NO_MOTION}']:.0%}",
                                                    full[f"wins_vs_{NO_MOTION}"] >= 0.9),
        "median active rel. error <= 0.35": (f"{full['rel_error_median']:.3f}", full["rel_error_median"] <= 0.35),
        "amplitude ratio within 0.8-1.2": (f"{full['amplitude_ratio']:.3f}", 0.8 <= full["amplitude_ratio"] <= 1.2),
        "full <= smoothed in every AU region": ("worse in " + (", ".join(au_losses) or "none"), not au_losses),
        "every component's interval below 0": ("not in " + (", ".join(comp_fail) or "none"), not comp_fail),
    }
    return {"benchmark": "accuracy", "quick": bool(quick), "data": dict(data), "track": track, "n_clips": len(clips),
            "n_subjects": len({c.subject for c in clips}), "weights": weights.name,
            "seed_note": "fresh seed 20261206: never generated or used for any choice before these figures",
            "summary": motion.table.to_dict("records"), "rows": rows,
            "regions": regions.to_dict("records"), "components": components.to_dict("records"),
            "per_clip": per_clip, "targets": {k: [m, bool(ok)] for k, (m, ok) in targets.items()},
            "motion_wide_clips": motion.wide(over="clips").to_dict("records"),
            "motion_wide_subjects": motion.wide(over="subjects").to_dict("records"),
            "caption": motion.caption(), "data_seconds": round(t_data + ablation.timing["prepare"], 1)}


def _md(records: list[dict[str, Any]], digits: int = 3) -> list[str]:
    if not records:
        return ["(none)"]
    cols = list(records[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in records:
        out.append("| " + " | ".join(f"{r[c]:.{digits}f}" if isinstance(r[c], float) else str(r[c])
                                     for c in cols) + " |")
    return out


def headline(result: dict[str, Any]) -> str:
    by = {r["variant"]: r for r in result["rows"]}
    f = by["full"]
    lo, hi = f["rel_error_median_clips"]
    return (f"full: median active rel. error {f['rel_error_median']:.3f} [{lo:.3f}, {hi:.3f}] (1 = no motion), "
            f"beats no motion on {f['wins_vs_no_motion']:.0%} of {result['n_clips']} clips")


def to_markdown(result: dict[str, Any]) -> str:
    """The motion summary with intervals, per region, the component comparisons, the targets."""
    d = result["data"]
    lines = [f"Held-out SynthME ({d['preset']}, **seed {d['seed']}**, {result['n_clips']} micro clips of "
             f"{result['n_subjects']} subjects); weights `{Path(result['weights']).name}`; landmarks "
             f"`track={result.get('track', 'detect')!r}`. Seed: "
             f"{result['seed_note']}.", "",
             "### Motion where the face moves (95 % intervals over clips)", ""]
    lines += _md(result["motion_wide_clips"])
    lines += ["", result["caption"], "", "### The same, 95 % intervals over subjects", ""]
    lines += _md(result["motion_wide_subjects"])
    lines += ["", "### Shape error and time", "", "| variant | shape L1 (mm) | s per clip |", "|---|---|---|"]
    lines += [f"| {r['variant']} | {r['shape_l1']:.3f} | {r['seconds_per_clip']:.2f} |" for r in result["rows"]
              if r["variant"] != "no_motion"]
    lines += ["", "### Median active rel. error per region (AU regions of each clip's truth)", ""]
    lines += _md(result["regions"])
    lines += ["", "### Components: mean paired difference of the active rel. error (a - b; < 0: a better)", ""]
    lines += _md(result["components"], digits=4)
    lines += ["", "### Targets (issue 15)", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {k} | {m} | {'yes' if ok else 'no'} |" for k, (m, ok) in result["targets"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Honest accuracy of every variant on a fresh held-out seed")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--track", choices=("detect", "flow"), default="detect",
                        help="landmarks: detected on every frame (default) or tracked with the flow")
    parser.add_argument("--json", type=Path, default=None, help="also write the full result here")
    args = parser.parse_args(argv)
    result = run(args.quick, weights=args.weights, work=args.work, workers=args.workers, track=args.track)
    if args.json is not None:
        import json

        from mxkit._io import atomic_write

        atomic_write(args.json, json.dumps(result, indent=1, default=str) + "\n")
    print(to_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
