"""Choose the coarse-fit settings of the default weights by cross-validation on training subjects.

The shipped weights (``mxkit/assets/reconstruct_v1.pt``) are trained on SynthME seed 0; the
benchmarks evaluate on seeds 1 and 2. Settings must therefore be chosen on seed 0 alone: this
script splits its subjects into ``--folds`` groups, and for every candidate coarse-fit setting
and every fold trains the network variants on the other subjects (the recipe of
:mod:`mxkit.workflows.recipe`: macro pretraining, then micro fine-tuning) and scores the held-out
subjects' micro clips (:func:`mxkit.workflows.recipe.validation_table`: micro-motion L1 and vertex
L1, mm). The last fold is what ``mxkit train --validate 2`` holds out.

Usage::

    .venv/bin/python tools/select_fit_settings.py                       # both candidates, 4 folds
    .venv/bin/python tools/select_fit_settings.py --candidates frame --only-fold 0 --out /tmp/f0
    .venv/bin/python tools/select_fit_settings.py --merge a/cv_fit_settings.csv b/cv_fit_settings.csv

Writes ``<out>/cv_fit_settings.csv`` (one row per candidate, fold, clip and variant) and
``<out>/cv_fit_settings.md`` (means per candidate and variant, and per fold).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Candidate coarse-fit settings (updates of mxkit.workflows.DEFAULT_FIT).
CANDIDATES = {"clip": {"smooth": 1000.0, "identity_prior": "clip"},
              "frame": {"smooth": 1000.0, "identity_prior": "frame"}}


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def cross_validate(candidates, *, folds: int, only: list[int] | None, variants, work, threads: int):
    import pandas as pd

    from mxkit._threads import torch_threads
    from mxkit.morph import load_face_model
    from mxkit.workflows.recipe import recipe_samples, train_variant, validation_table

    with torch_threads(threads):                  # the count is restored when the study ends
        model = load_face_model("mh-head")
        tables = []
        for name in candidates:
            samples, info = recipe_samples(model, fit=CANDIDATES[name], work=work, workers=1, log_fn=_log)
            subjects = sorted({s.key[1] for s in samples})
            if not 2 <= folds <= len(subjects):
                raise SystemExit(f"--folds must lie in [2, {len(subjects)}] (the training subjects); got {folds}")
            size = len(subjects) // folds
            for k in (only if only is not None else range(folds)):
                held = set(subjects[k * size:(k + 1) * size])
                train = [s for s in samples if s.key[1] not in held]
                valid = [s for s in samples if s.key[1] in held and s.expression_type == "micro"]
                results = {v: train_variant(v, train, model)[0] for v in variants}
                t = validation_table(results, valid, model, fit_options=info["fit"], baselines=("zero", "smoothed"))
                t.insert(0, "fold", k)
                t.insert(0, "candidate", name)
                tables.append(t)
                means = t.groupby("variant", sort=False)["micro_motion_l1_mm"].mean()
                _log(f"{name} fold {k} (held out {sorted(held)}): micro-motion L1 "
                     + ", ".join(f"{v} {x:.4f}" for v, x in means.items()))
        return pd.concat(tables, ignore_index=True)


def markdown(table) -> str:
    """Means per candidate and variant, and micro-motion L1 per fold, as Markdown."""
    from mxkit.report import markdown_table

    cols = ["micro_motion_l1_mm", "vertex_l1_mm"]
    overall = table.groupby(["candidate", "variant"], sort=False)[cols].mean().reset_index()
    per_fold = table.pivot_table(index=["candidate", "fold"], columns="variant", values="micro_motion_l1_mm",
                                 sort=False).reset_index()
    per_fold.columns.name = None
    return ("# Coarse-fit settings: cross-validation on the training subjects (SynthME seed 0)\n\n"
            "Produced by `tools/select_fit_settings.py`. Mean over the held-out micro clips of all "
            "folds (mm; `zero` = predicting no motion, i.e. the true onset shape held still, so its micro-motion "
            "error is the size of the true motion):\n\n" + markdown_table(overall)
            + "\nMicro-motion L1 (mm) per fold:\n\n" + markdown_table(per_fold))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--only-fold", type=int, nargs="*", default=None)
    parser.add_argument("--variants", nargs="+", default=["encoder", "deformer", "full"])
    parser.add_argument("--work", type=Path, default=None, help="data and sample cache (default: "
                        "mxkit.workflows.recipe.default_work())")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--merge", type=Path, nargs="+", default=None, metavar="CSV",
                        help="only merge the tables of earlier runs (e.g. one per candidate) into --out")
    args = parser.parse_args(argv)
    if args.merge:
        import pandas as pd

        table = pd.concat([pd.read_csv(p) for p in args.merge], ignore_index=True)
    else:
        table = cross_validate(args.candidates, folds=args.folds, only=args.only_fold, variants=args.variants,
                               work=args.work, threads=args.threads)
    from mxkit._io import atomic_write

    atomic_write(args.out / "cv_fit_settings.csv", table.to_csv(index=False), parents=True)
    text = markdown(table)
    atomic_write(args.out / "cv_fit_settings.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
