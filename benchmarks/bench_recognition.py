"""Recognition baselines of the field on SynthME: cost per clip and LOSO scores with intervals.

Workload: a SynthME micro-expression set in the CASME II layout (``make_dataset(preset="tiny",
kind="micro")``, 128 px frames, seed 0; default 10 subjects x 6 micro clips, ``--quick`` 4 x 3),
labelled by the ``casme2-5class`` protocol (happiness, disgust, repression, surprise, others;
fear and sadness excluded). Every clip is prepared once with the packaged weights' settings
(:func:`mxkit.eval.weights_settings`: dlib landmarks, 192 px aligned crops, DIS flow onset -> t);
the baselines then read those crops as the field does:

=====================  =========================================================================
features               definition
=====================  =========================================================================
``hoof``               today's baseline: mean u, v, strain and an 8-bin HOOF per cell of a 4 x 4
                       grid of the prepared (DIS) onset -> apex flow (:func:`mxkit.eval.flow_features`)
``lbptop``             LBP-TOP, TIM to 10 frames, 5 x 5 blocks, radii (1, 1, 2), P = 8, u2
``biwoof``             Bi-WOOF of the TV-L1 onset -> apex flow, 5 x 5 blocks, 8 bins
``biwoof_evm``         the same on Eulerian-magnified crops (alpha 20, r1 0.4, r2 0.05)
``mdmo``               MDMO on 18 landmark ROIs of the prepared (DIS) onset -> t flows, onset+1..offset
``mdmo_tvl1_apex``     MDMO of the TV-L1 onset -> apex field only
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
permutation test of each feature set against ``hoof`` on the same folds (UF1, subjects swapped,
:func:`mxkit.eval.paired_permutation_test`). Chance is 1/5 for UF1 and UAR.

Cost: wall seconds per clip of each feature extraction on this machine (the machine is shared;
compare within a run), also as a ratio to the shared prepare step measured in the same run; the
CNNs' training is per fold.

Run ``python -m benchmarks.bench_recognition [--quick] [--out DIR]``; it prints Markdown and,
with ``--out``, writes ``recognition[_quick].md`` and ``.json`` there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

DATA = {"preset": "tiny", "kind": "micro", "n_subjects": 10, "micro": 6, "seed": 0}
QUICK = {"preset": "tiny", "kind": "micro", "n_subjects": 4, "micro": 3, "seed": 0}
PROTOCOL = "casme2-5class"
CNN_EPOCHS = 40
N_BOOT = 2000


def _per_clip(seconds: float, n: int) -> float:
    return float(seconds) / max(int(n), 1)


def run(quick: bool = False, *, work: Any = None, threads: int | None = 2) -> dict[str, Any]:
    """Cost per clip and LOSO scores of every baseline (module docstring).

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
        ``benchmark, quick, data, protocol, card, n_clips, n_samples, n_subjects, cost`` (rows:
        ``step, seconds_per_clip, ratio_to_prepare``), ``rows`` (per feature set: pooled
        metrics, their bootstrap intervals, per-fold means, n_features, classifier, p-value vs
        hoof), ``intervals`` (every bootstrap row), ``tests``.
    """

    import mxkit
    from mxkit.data import make_dataset
    from mxkit.eval import (
        METRICS,
        apex_flows,
        baseline_feature_matrix,
        bootstrap_intervals,
        cnn_recognise_clips,
        feature_matrix,
        flow_cnn_inputs,
        flow_feature_matrix,
        late_fusion_clips,
        mdmo_features,
        oracle_reconstruction,
        paired_permutation_test,
        recognise_clips,
        reconstruction_features,
        weights_settings,
    )
    from mxkit.morph import load_face_model

    data = dict(QUICK if quick else DATA)
    epochs = 5 if quick else CNN_EPOCHS
    n_boot = 200 if quick else N_BOOT
    tmp = Path(tempfile.mkdtemp(prefix="mxkit-bench-recog-")) if work is None else Path(work)
    timing: dict[str, float] = {}
    t_all = time.perf_counter()
    try:
        t0 = time.perf_counter()
        clips = make_dataset(tmp / "SynthME", seed=data["seed"], preset=data["preset"], kind=data["kind"],
                             n_subjects=data["n_subjects"], micro=data["micro"], overwrite=work is not None)
        labelled = clips.map_classes(PROTOCOL)
        cl = list(labelled)
        timing["synthesise (all clips)"] = time.perf_counter() - t0
        settings = weights_settings()
        t0 = time.perf_counter()
        preps = [mxkit.prepare(c, **settings["prepare"], no_face="track") for c in cl]
        timing["prepare"] = time.perf_counter() - t0
        n = len(cl)
        fsets: dict[str, Any] = {}

        def timed(name: str, fn: Any) -> Any:
            t = time.perf_counter()
            out = fn()
            timing[name] = time.perf_counter() - t
            return out

        fsets["hoof"] = timed("hoof", lambda: flow_feature_matrix(preps))
        fsets["lbptop"] = timed("lbptop", lambda: baseline_feature_matrix(preps, "lbptop"))
        flows = timed("tvl1 apex flow", lambda: apex_flows(preps))
        fsets["biwoof"] = timed("biwoof", lambda: baseline_feature_matrix(flows, "biwoof"))
        evm = timed("tvl1 apex flow, magnified", lambda: apex_flows(preps, magnify=True))
        fsets["biwoof_evm"] = baseline_feature_matrix(evm, "biwoof")
        fsets["mdmo"] = timed("mdmo", lambda: baseline_feature_matrix(preps, "mdmo"))
        fsets["mdmo_tvl1_apex"] = timed("mdmo (tvl1 apex)", lambda: feature_matrix(
            list(zip(preps, flows, strict=True)),
            lambda pf: mdmo_features(pf[0], flows=pf[1].flow[None]), keys=[c.key for c in cl],
            name="MDMO[tvl1 apex]"))
        inputs = {a: timed(f"{a} input", lambda a=a: flow_cnn_inputs(flows, arch=a)) for a in ("ststnet", "offapexnet")}
        model = load_face_model("mh-head")
        from mxkit.reconstruct import load_weights

        net, _ = load_weights(None, variant="full", model=model)
        t = time.perf_counter()
        recs = [mxkit.reconstruct(p, model=model, variant="full", weights=net, fit_options=settings["fit"])
                for p in preps]
        timing["reconstruct (full)"] = time.perf_counter() - t
        fsets["reconstruction"] = timed("reconstruction features", lambda: feature_matrix(
            recs, lambda r: reconstruction_features(r, model), keys=[c.key for c in cl],
            name="reconstruction[full]: regions+trajectory"))
        fsets["oracle"] = timed("oracle features", lambda: feature_matrix(
            [oracle_reconstruction(c, model) for c in cl], lambda r: reconstruction_features(r, model),
            name="3D ground truth (oracle): regions+trajectory"))

        results: dict[str, Any] = {}
        fit_time: dict[str, float] = {}
        for name, fs in fsets.items():
            t = time.perf_counter()
            results[name] = recognise_clips(labelled, fs.as_mapping(), classifier="linear_svm", feature_set=fs.name)
            fit_time[name] = time.perf_counter() - t
        for arch, X in inputs.items():
            t = time.perf_counter()
            results[arch] = cnn_recognise_clips(labelled, X, arch=arch, max_epochs=epochs, threads=threads)
            fit_time[arch] = time.perf_counter() - t
        t = time.perf_counter()
        results["fusion"] = late_fusion_clips(labelled, {"biwoof": fsets["biwoof"],
                                                         "reconstruction": fsets["reconstruction"]})
        fit_time["fusion"] = time.perf_counter() - t

        order = ["hoof", "lbptop", "biwoof", "biwoof_evm", "mdmo", "mdmo_tvl1_apex", "ststnet", "offapexnet",
                 "reconstruction", "fusion", "oracle"]
        intervals, rows, tests = [], [], []
        for name in order:
            r = results[name]
            ci = bootstrap_intervals(r, n_boot=n_boot, seed=0, by_dataset=False).assign(features=name)
            intervals += ci.to_dict("records")
            row = {"features": name, "feature_set": r.card["feature_set"], "classifier": r.card["classifier"],
                   "n_features": int(r.card["n_features"]), "fit_s": round(fit_time[name], 2)}
            for _, c in ci.iterrows():
                row[c["metric"]] = float(c["value"])
                row[f"{c['metric']}_low"], row[f"{c['metric']}_high"] = float(c["low"]), float(c["high"])
            row.update({f"{m} (fold mean)": float(r.fold_means[m]) for m in METRICS})
            if name != "hoof":
                pt = paired_permutation_test(r, results["hoof"], metric="UF1", n_permutations=10000, seed=0)
                row["p_vs_hoof"] = pt.p_value
                tests.append({"a": name, "b": "hoof", **pt.__dict__})
            rows.append(row)
        pt = paired_permutation_test(results["fusion"], results["reconstruction"], metric="UF1", seed=0)
        tests.append({"a": "fusion", "b": "reconstruction", **pt.__dict__})
        prep_pc = _per_clip(timing["prepare"], n)
        per_clip = {"prepare": timing["prepare"], "tvl1 apex flow": timing["tvl1 apex flow"],
                    "tvl1 apex flow, magnified (EVM alpha 20)": timing["tvl1 apex flow, magnified"],
                    "hoof": timing["hoof"], "lbptop": timing["lbptop"], "biwoof": timing["biwoof"],
                    "mdmo": timing["mdmo"], "mdmo (tvl1 apex)": timing["mdmo (tvl1 apex)"],
                    "ststnet input": timing["ststnet input"], "offapexnet input": timing["offapexnet input"],
                    "reconstruct (full)": timing["reconstruct (full)"],
                    "reconstruction features": timing["reconstruction features"]}
        cost = [{"step": k, "seconds_per_clip": round(_per_clip(v, n), 4),
                 "ratio_to_prepare": round(_per_clip(v, n) / prep_pc, 4)} for k, v in per_clip.items()]
        n_folds = len(labelled.subjects)
        cost += [{"step": f"{a} training (per fold)", "seconds_per_fold": round(fit_time[a] / n_folds, 2)}
                 for a in ("ststnet", "offapexnet")]
        card = results["hoof"].card
        return {"benchmark": "recognition", "quick": bool(quick), "data": data, "protocol": PROTOCOL,
                "n_clips": len(clips), "n_samples": int(card["n_samples"]), "n_subjects": int(card["n_subjects"]),
                "class_counts": card["class_counts"], "excluded": card["excluded_by_reason"],
                "cnn_max_epochs": epochs, "n_boot": n_boot, "threads": threads, "cost": cost, "rows": rows,
                "intervals": intervals, "tests": tests,
                "synthesise_s": round(timing["synthesise (all clips)"], 1),
                "total_s": round(time.perf_counter() - t_all, 1),
                "prepare_settings": settings["prepare"]}
    finally:
        if work is None:
            shutil.rmtree(tmp, ignore_errors=True)


def to_markdown(result: dict[str, Any]) -> str:
    """The cost table, the score table with intervals, and the definitions."""
    d = result["data"]
    lines = [f"SynthME {d['preset']} micro set, seed {d['seed']}: {result['n_clips']} clips of "
             f"{d['n_subjects']} subjects -> protocol `{result['protocol']}`: {result['n_samples']} samples, "
             f"{result['n_subjects']} LOSO folds; class counts {json.dumps(result['class_counts'])}; excluded "
             f"{json.dumps(result['excluded'])}. Prepared once with {json.dumps(result['prepare_settings'])} "
             f"(dlib, DIS onset -> t).", "",
             "**Cost per clip** (wall seconds on this machine, and as a ratio to the shared prepare step "
             "measured in the same run):", "", "| step | s per clip | / prepare |", "|---|---|---|"]
    for c in result["cost"]:
        if "seconds_per_clip" in c:
            lines.append(f"| {c['step']} | {c['seconds_per_clip']:.4f} | {c['ratio_to_prepare']:.3f} |")
    for c in result["cost"]:
        if "seconds_per_fold" in c:
            lines.append(f"| {c['step']} | {c['seconds_per_fold']:.2f} s per fold | |")
    lines += ["", f"**Scores** (pooled over LOSO folds; [low, high] = 95 % bootstrap interval over subjects, "
              f"{result['n_boot']} replicates; p = paired permutation test of UF1 against `hoof`, subjects "
              f"swapped; chance 0.2):", "",
              "| features | classifier | n features | UF1 [95 % CI] | UAR [95 % CI] | WF1 | ACC | "
              "UF1 fold mean | p vs hoof |", "|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        p = r.get("p_vs_hoof")
        lines.append(f"| {r['features']} | {r['classifier']} | {r['n_features']} | {r['UF1']:.3f} "
                     f"[{r['UF1_low']:.3f}, {r['UF1_high']:.3f}] | {r['UAR']:.3f} [{r['UAR_low']:.3f}, "
                     f"{r['UAR_high']:.3f}] | {r['WF1']:.3f} | {r['ACC']:.3f} | {r['UF1 (fold mean)']:.3f} | "
                     f"{'' if p is None else f'{p:.4f}'} |")
    fus = [t for t in result["tests"] if t["a"] == "fusion" and t["b"] == "reconstruction"][0]
    lines += ["", f"Fusion vs reconstruction alone: UF1 {fus['value_a']:.3f} vs {fus['value_b']:.3f}, "
              f"p = {fus['p_value']:.4f} ({fus['n_permutations']} {'exact' if fus['exact'] else 'random'} "
              f"swap patterns over {fus['n_units']} subjects).", "",
              f"CNNs: early stopping over 1..{result['cnn_max_epochs']} epochs on subject-wise inner splits of "
              f"the training subjects, refit on all training subjects; torch threads {result['threads']}. "
              f"Whole run {result['total_s']:.0f} s (synthesis {result['synthesise_s']:.0f} s)."]
    return "\n".join(lines)


def headline(result: dict[str, Any]) -> str:
    """UF1 of each feature set, one line."""
    return "UF1 " + ", ".join(f"{r['features']} {r['UF1']:.2f}" for r in result["rows"])


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Recognition baselines: cost per clip and LOSO scores")
    parser.add_argument("--quick", action="store_true", help="smoke sizes")
    parser.add_argument("--out", type=Path, default=None, help="write recognition[_quick].md/.json here")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    result = run(args.quick, threads=args.threads)
    md = to_markdown(result)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        stem = "recognition_quick" if args.quick else "recognition"
        _write(args.out / f"{stem}.json", json.dumps(result, indent=1, default=str) + "\n")
        _write(args.out / f"{stem}.md", "# Recognition baselines on SynthME\n\n" + md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
