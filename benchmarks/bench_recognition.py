"""Recognition baselines of the field on SynthME: cost per clip and LOSO scores with intervals.

Workload: a SynthME micro-expression set in the CASME II layout (``make_dataset(preset="tiny",
kind="micro")``, 128 px frames, seed 0; default 10 subjects x 6 micro clips, ``--quick`` 4 x 3),
labelled by the ``casme2-5class`` protocol (happiness, disgust, repression, surprise, others;
fear and sadness excluded). Every clip is prepared once with the packaged weights' settings
(:func:`mxkit.workflows.weights_settings`: dlib landmarks, 192 px aligned crops, DIS flow onset -> t);
the baselines then read those crops as the field does:

=====================  =========================================================================
features               definition
=====================  =========================================================================
``flow_baseline``      HOOF: mean u, v, strain and an 8-bin HOOF per cell of a 4 x 4
                       grid of the prepared (DIS) onset -> apex flow (:func:`mxkit.eval.flow_features`)
``lbptop``             LBP-TOP, TIM to 10 frames, 5 x 5 blocks, radii (1, 1, 2), P = 8, u2
``biwoof``             Bi-WOOF of the TV-L1 onset -> apex flow, 5 x 5 blocks, 8 bins
``mdmo``               MDMO on 18 landmark ROIs of the prepared (DIS) onset -> t flows, onset+1..offset
``ststnet``            STSTNet on (u, v, strain) of the TV-L1 apex flow, 28 x 28
``offapexnet``         OFF-ApexNet on (u, v) of the TV-L1 apex flow, 28 x 28
``reconstruction``     mxkit's own: region displacements + expression trajectories of
                       ``mxkit.reconstruct(variant="full")`` (packaged weights)
``fusion``             late fusion of ``biwoof`` and ``reconstruction`` scores
                       (:func:`mxkit.eval.late_fusion`, per-block standardisation on training folds)
``oracle``             the same reconstruction features of the SynthME 3D ground truth (upper bound)
=====================  =========================================================================

Evaluation: leave-one-subject-out over the subjects (folds keyed by (dataset, subject)), model
selection (the linear SVM's C in 0.01..10, the CNNs' early-stopping epoch in 1..40) on
subject-wise inner splits of the training subjects only, predictions pooled over folds, UF1 /
UAR / WF1 / ACC computed once (:mod:`mxkit.eval.metrics`), with 95 % percentile bootstrap
intervals over subjects (2000 replicates, :func:`mxkit.eval.bootstrap_intervals`) and a paired
permutation test of each feature set against ``flow_baseline`` on the same folds (UF1, subjects swapped,
:func:`mxkit.eval.paired_permutation_test`). Chance is 1/5 for UF1 and UAR.

Cost: wall seconds per clip of each stage on this machine (the machine is shared; compare
within a run); the CNNs' training is inside the recognise stage.

Run ``python -m benchmarks.bench_recognition [--quick] [--out DIR]``; it prints Markdown and,
with ``--out``, writes ``recognition[_quick].md`` and ``.json`` there. All of it is one call of :func:`mxkit.workflows.run_recognition` (what ``mxkit recognise``
runs), so the benchmark measures the harness users run; Eulerian magnification of the field
flow is its option ``feature_options={"field_flow": {"magnify": True}}`` (15 x the cost of the
prepare step in an earlier run; not in this table).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

DATA = {"preset": "tiny", "kind": "micro", "n_subjects": 10, "micro": 6, "seed": 0}
QUICK = {"preset": "tiny", "kind": "micro", "n_subjects": 4, "micro": 3, "seed": 0}
PROTOCOL = "casme2-5class"
FEATURES = ("flow_baseline", "lbptop", "biwoof", "mdmo", "ststnet", "offapexnet", "reconstruction", "fusion",
            "oracle")
CNN_EPOCHS = 40
N_BOOT = 2000


def run(quick: bool = False, *, work: Any = None, threads: int | None = 2) -> dict[str, Any]:
    """Cost per clip and LOSO scores of every feature set (module docstring).

    Parameters
    ----------
    quick : bool
        4 subjects x 3 clips, 5 CNN epochs, 200 bootstrap replicates (a smoke run).
    work : path, optional
        Scratch folder (default: a temporary one, removed afterwards).
    threads : int, optional
        Torch threads of the CNN training.

    Returns
    -------
    dict
        ``benchmark, quick, data, protocol, n_clips, n_samples, n_subjects, class_counts,
        excluded, cost`` (rows: ``step, seconds_per_clip``), ``rows`` (the comparison table),
        ``tests``, ``markdown`` (the comparison as ``mxkit recognise`` prints it).
    """
    from mxkit.data import make_dataset
    from mxkit.workflows import RecognitionOptions, run_recognition

    data = dict(QUICK if quick else DATA)
    epochs = 5 if quick else CNN_EPOCHS
    n_boot = 200 if quick else N_BOOT
    tmp = Path(tempfile.mkdtemp(prefix="mxkit-bench-recog-")) if work is None else Path(work)
    t_all = time.perf_counter()
    try:
        t0 = time.perf_counter()
        clips = make_dataset(tmp / "SynthME", seed=data["seed"], preset=data["preset"], expression_type=data["kind"],
                             n_subjects=data["n_subjects"], micro=data["micro"], overwrite=work is not None,
                             progress=False)
        synth_s = time.perf_counter() - t0
        labelled = clips.map_classes(PROTOCOL)
        cnn = {"max_epochs": epochs, "threads": threads}
        cmp = run_recognition(labelled, features=FEATURES, progress=False, cache_dir=tmp / "cache", workers=1,
                              options=RecognitionOptions(n_boot=n_boot, feature_options={"ststnet": cnn,
                                                                                         "offapexnet": cnn}))
        n = len(labelled)
        cost = [{"step": k, "seconds_per_clip": round(v / max(n, 1), 4)} for k, v in cmp.timing.items()
                if k not in ("total", "weights")]
        card = next(iter(cmp.results.values())).card
        rows = cmp.table.drop(columns=["card"]).to_dict("records")
        return {"benchmark": "recognition", "quick": bool(quick), "data": data, "protocol": PROTOCOL,
                "n_clips": len(clips), "n_samples": int(card["n_samples"]), "n_subjects": int(card["n_subjects"]),
                "class_counts": card["class_counts"], "excluded": card["excluded_by_reason"],
                "cnn_max_epochs": epochs, "n_boot": n_boot, "threads": threads, "cost": cost, "rows": rows,
                "tests": cmp.tests.to_dict("records"), "markdown": cmp.to_markdown(),
                "settings": cmp.settings, "synthesise_s": round(synth_s, 1),
                "total_s": round(time.perf_counter() - t_all, 1)}
    finally:
        if work is None:
            shutil.rmtree(tmp, ignore_errors=True)


def to_markdown(result: dict[str, Any]) -> str:
    """The data, the cost table, then the comparison as ``mxkit recognise`` writes it."""
    d = result["data"]
    lines = [f"SynthME {d['preset']} micro set, seed {d['seed']}: {result['n_clips']} clips of "
             f"{d['n_subjects']} subjects -> protocol `{result['protocol']}`: {result['n_samples']} samples, "
             f"{result['n_subjects']} LOSO folds; class counts {json.dumps(result['class_counts'])}. Prepared "
             f"once with the packaged weights' settings {json.dumps(result['settings']['prepare'])}.", "",
             "**Cost per clip** (wall seconds of each stage of `run_recognition` on this machine, divided by "
             "the number of labelled clips; the CNN training is inside `recognise`):", "",
             "| stage | s per clip |", "|---|---|"]
    lines += [f"| {c['step']} | {c['seconds_per_clip']:.4f} |" for c in result["cost"]]
    lines += ["", f"**Scores** (CNNs early-stopped over 1..{result['cnn_max_epochs']} epochs on subject-wise "
              f"inner splits of the training subjects; torch threads {result['threads']}):", "",
              result["markdown"], "",
              f"Whole run {result['total_s']:.0f} s (synthesis {result['synthesise_s']:.0f} s)."]
    return "\n".join(lines)


def headline(result: dict[str, Any]) -> str:
    """UF1 of each feature set, one line."""
    return "UF1 " + ", ".join(f"{r['features']} {r['UF1']:.2f}" for r in result["rows"])


def main(argv: list[str] | None = None) -> int:
    from mxkit._io import atomic_write

    parser = argparse.ArgumentParser(description="Recognition baselines: cost per clip and LOSO scores")
    parser.add_argument("--quick", action="store_true", help="smoke sizes")
    parser.add_argument("--out", type=Path, default=None, help="write recognition[_quick].md/.json here")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    result = run(args.quick, threads=args.threads)
    md = to_markdown(result)
    if args.out is not None:
        stem = "recognition_quick" if args.quick else "recognition"
        atomic_write(args.out / f"{stem}.json", json.dumps(result, indent=1, default=str) + "\n", parents=True)
        atomic_write(args.out / f"{stem}.md", "# Recognition baselines on SynthME\n\n" + md + "\n", parents=True)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
