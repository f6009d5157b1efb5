"""Accuracy of every reconstruction variant on held-out SynthME subjects.

Workload: SynthME micro-expression clips of subjects that no network saw in training
(``preset="small"``, 256 px, **seed 1**: ``tools/train_default_weights.py`` trains on seed 0's
subjects), 4 subjects x 3 micro clips. Every clip is prepared once
(:data:`mxkit.workflows.DEFAULT_PREPARE`: dlib landmarks, DIS flow, 192 px crops) and
reconstructed with each variant of :data:`mxkit.nets.VARIANTS` using the packaged
default weights (or ``--weights``).

Metric: the **micro-motion error** of :func:`mxkit.eval.evaluate_reconstruction` -- the
per-coordinate L1 (``micro_motion_l1``) and the Euclidean (``micro_motion_l2``) error of the
apex - onset displacement field against ``SynthTruth.vertices``, mm, over the ``'face'``
mask, the prediction rigidly aligned at the onset; averaged over clips. ``zero`` is the
error of predicting no motion at all (the truth's mean displacement), for scale.

Checks reported (never enforced here; the numbers are what they are): ``full <= 0.5 x
static``, each component beats its ablation (``smoothed < static``, ``encoder <
smoothed``, ``deformer < smoothed``, ``full < encoder``, ``full < deformer``) and macro
pretraining helps (``full < full_no_pretrain``).

Run ``python -m benchmarks.bench_accuracy [--quick] [--weights PATH]``; it prints a
Markdown table. ``--quick`` uses 2 tiny-preset clips (a smoke run, not a measurement).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

HELD_OUT = {"preset": "small", "seed": 1, "kind": "micro", "n_subjects": 4, "micro": 3}
QUICK = {"preset": "tiny", "seed": 1, "kind": "micro", "n_subjects": 2, "micro": 1}


def run(quick: bool = False, *, weights: Any = None, work: Any = None,
        workers: int = 2) -> dict[str, Any]:
    """Micro-motion error of every variant on the held-out clips.

    Parameters
    ----------
    quick : bool
        Two tiny clips instead of twelve small ones.
    weights : path, optional
        Weights bundle (default: the packaged ``mxkit/assets/reconstruct_v1.pt``).
    work : path, optional
        Data and prepare cache (default ``mxkit._io.cache_dir("bench_accuracy")``:
        ``$MXKIT_CACHE_DIR/bench_accuracy``, else ``~/.cache/mxkit/bench_accuracy``).
    workers : int
        Prepare worker processes.

    Returns
    -------
    dict
        ``benchmark``, ``data``, ``weights``, ``rows`` (one per variant: ``variant``,
        ``micro_motion_l1``, ``micro_motion_l2``, ``vertex_l1``, ``ratio_to_static``,
        ``seconds_per_clip``), ``per_clip`` rows, ``checks`` and ``zero_motion_l1``.
    """
    import numpy as np

    from mxkit.eval.reconstruction import face_mask, micro_motion_error
    from mxkit.morph import load_face_model
    from mxkit.nets import VARIANTS
    from mxkit.workflows import default_weights_path, run_ablation, synthme_dataset

    data = QUICK if quick else HELD_OUT
    from mxkit._io import cache_dir

    work = Path(work or cache_dir("bench_accuracy")) / ("quick" if quick else "held_out")
    weights = Path(weights) if weights is not None else default_weights_path()
    model = load_face_model("mh-head")
    t0 = time.perf_counter()
    clips = list(synthme_dataset(work / "synthme", **data))
    t_data = time.perf_counter() - t0
    # prepare (the weights' settings: mxkit.workflows.DEFAULT_PREPARE), reconstruct every
    # variant, evaluate the fine mesh overall
    ablation = run_ablation(clips, variants=VARIANTS, model=model, weights=weights,
                            cache_dir=work / "prepared", workers=workers, progress=False,
                            evaluate_options={"regions": False, "aus": None, "meshes": ("fine",),
                                              "prepared": False}, reported=False)
    t_data += ablation.timing["prepare"]
    mask = face_mask(model, "face")
    zero = []
    for clip, prep in zip(clips, ablation.prepared, strict=True):
        gt = clip.ground_truth.vertices(model)
        zero.append(micro_motion_error(np.repeat(gt[prep.onset][None], len(gt), 0), gt,
                                       onset=prep.onset, apex=prep.apex, norm="l1", mask=mask))
    overall = ablation.metrics[ablation.metrics["region"] == "all"]
    value = {(d, s, c, v, m): x for d, s, c, v, m, x in zip(
        overall["dataset"], overall["subject"], overall["clip"], overall["variant"],
        overall["metric"], overall["value"], strict=True)}
    seconds = {(r.dataset, r.subject, r.clip, r.variant): float(r.seconds)
               for r in ablation.runs.itertuples(index=False)}
    per_clip = []
    for clip in clips:
        for variant in VARIANTS:
            key = (*clip.key, variant)
            per_clip.append({"clip": "/".join(clip.key), "variant": variant,
                             **{m: float(value[(*key, m)])
                                for m in ("micro_motion_l1", "micro_motion_l2", "vertex_l1")},
                             "seconds": seconds[key]})
    rows = []
    for variant in VARIANTS:
        sel = [r for r in per_clip if r["variant"] == variant]
        rows.append({"variant": variant,
                     **{m: float(np.mean([r[m] for r in sel]))
                        for m in ("micro_motion_l1", "micro_motion_l2", "vertex_l1")},
                     "seconds_per_clip": float(np.mean([r["seconds"] for r in sel]))})
    by = {r["variant"]: r["micro_motion_l1"] for r in rows}
    for r in rows:
        r["ratio_to_static"] = r["micro_motion_l1"] / by["static"]
    checks = {
        "full <= 0.5 x static": by["full"] <= 0.5 * by["static"],
        "smoothed < static": by["smoothed"] < by["static"],
        "encoder < smoothed": by["encoder"] < by["smoothed"],
        "deformer < smoothed": by["deformer"] < by["smoothed"],
        "full < encoder": by["full"] < by["encoder"],
        "full < deformer": by["full"] < by["deformer"],
        "full < full_no_pretrain": by["full"] < by["full_no_pretrain"],
    }
    return {"benchmark": "accuracy", "quick": bool(quick), "data": dict(data),
            "n_clips": len(clips), "weights": weights.name, "rows": rows,
            "per_clip": per_clip, "checks": checks,
            "zero_motion_l1": float(np.mean(zero)), "data_seconds": round(t_data, 1)}


def to_markdown(result: dict[str, Any]) -> str:
    """The per-variant table, the checks and the no-motion reference."""
    d = result["data"]
    lines = [f"Held-out SynthME ({d['preset']}, seed {d['seed']}, {result['n_clips']} micro "
             f"clips of {d['n_subjects']} subjects); weights `{Path(result['weights']).name}`",
             "",
             "| variant | micro-motion L1 (mm) | micro-motion L2 (mm) | vertex L1 (mm) | "
             "L1 / static | s per clip |",
             "|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['variant']} | {r['micro_motion_l1']:.4f} | "
                     f"{r['micro_motion_l2']:.4f} | {r['vertex_l1']:.3f} | "
                     f"{r['ratio_to_static']:.3f} | {r['seconds_per_clip']:.2f} |")
    lines += ["", f"No-motion reference (predict the onset shape): micro-motion L1 "
              f"{result['zero_motion_l1']:.4f} mm", "", "| check | holds |", "|---|---|"]
    lines += [f"| {k} | {'yes' if v else 'no'} |" for k, v in result["checks"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Micro-motion error of every variant")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write the full result here")
    args = parser.parse_args(argv)
    result = run(args.quick, weights=args.weights, work=args.work, workers=args.workers)
    if args.json is not None:
        import json

        from mxkit._io import atomic_write

        atomic_write(args.json, json.dumps(result, indent=1, default=str) + "\n")
    print(to_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
