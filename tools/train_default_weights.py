"""Train mxkit's default reconstruction weights (``mxkit/assets/reconstruct_v1.pt``) on SynthME.

The recipe lives in :mod:`mxkit.workflows.recipe` (``mxkit train`` runs the same code); this
script is its command line. Recipe (all seeded; rerunning with the same arguments rebuilds
the same data and, on the same machine and thread count, the same weights):

1. generate the SynthME training set (``preset="small"`` at 256 px, seed ``--seed``,
   ``--subjects`` subjects with 2 micro + 3 macro clips each; training subjects only --
   ``benchmarks/bench_accuracy.py`` evaluates on other subjects drawn with another seed);
2. prepare every clip once (:func:`mxkit.prepare`, :data:`mxkit.workflows.DEFAULT_PREPARE`:
   dlib landmarks, DIS flow, 192 px crops) and fit the ``smoothed`` coarse base
   (:data:`mxkit.workflows.DEFAULT_FIT`);
3. for each network variant: ``encoder``, ``deformer`` and ``full`` are pretrained on the
   macro clips (:func:`mxkit.train.pretrain_macro`) and fine-tuned on the micro clips
   (:func:`mxkit.train.finetune_micro`); ``full_no_pretrain`` is trained on the micro clips
   alone for as many steps as pretraining and fine-tuning together;
4. write the weights bundle atomically (one network set per variant, the fit / prepare
   settings and a provenance record) and print a PROVENANCE.md section.

``--validate K`` keeps the last ``K`` training subjects out of training and reports their
micro-motion error per variant: use it to choose settings without touching the benchmark's
held-out subjects. ``--quick`` is a smoke run (one tiny subject, a few steps, a 2-iteration
coarse fit, written elsewhere).

Usage::

    .venv/bin/python tools/train_default_weights.py                  # -> mxkit/assets/reconstruct_v1.pt
    .venv/bin/python tools/train_default_weights.py --validate 2 --out /tmp/w.pt
    .venv/bin/python tools/train_default_weights.py --quick --out /tmp/w.pt
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mxkit.workflows.recipe import default_work, train_weights  # noqa: E402

DEFAULT_OUT = ROOT / "mxkit" / "assets" / "reconstruct_v1.pt"


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--work", type=Path, default=None,
                        help=f"data and sample cache, reused when the settings match (default: {default_work()})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="prepare worker processes")
    parser.add_argument("--validate", type=int, default=0, metavar="K",
                        help="hold the last K training subjects out and report their error")
    parser.add_argument("--variants", nargs="*", default=None,
                        help="train only these variants (default: all)")
    parser.add_argument("--quick", action="store_true", help="smoke run (tiny data, 3 steps)")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    if args.quick and args.out == DEFAULT_OUT:
        parser.error("--quick must not overwrite the packaged weights: pass --out")

    command = "python tools/train_default_weights.py " + " ".join(argv if argv is not None
                                                                 else sys.argv[1:])
    result = train_weights(args.out, seed=args.seed, subjects=args.subjects, workers=args.workers,
                           validate=args.validate, variants=args.variants, quick=args.quick,
                           work=args.work, progress=args.progress, command=command, log_fn=_log)
    print(json.dumps({"sha256": result.sha256, "bytes": result.bytes, **result.provenance},
                     indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
