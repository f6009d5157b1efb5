"""The ``mxkit`` command line: one subcommand per stage, plus the ``demo`` main job.

========================  ==========================================================================
command                   what it does
========================  ==========================================================================
``mxkit synth OUT``       generate a SynthME dataset (:func:`mxkit.data.make_dataset`)
``mxkit prepare ROOT``    load a dataset (``--dataset``), prepare its clips into the cache, print a
                          per-clip table (:func:`mxkit.prepare_many`)
``mxkit reconstruct``     one clip in 3D: ``reconstruction.npz``, ``frames.csv`` (per-frame table),
                          ``arkit.csv`` (Live Link Face take), ``reconstruction.glb`` (animated
                          glTF), onset / apex OBJ meshes and an HTML viewer (:func:`mxkit.reconstruct`)
``mxkit train OUT.pt``    train weights with the shipped weights' recipe (:mod:`mxkit.workflows.recipe`)
``mxkit evaluate``        the ablation table on held-out SynthME or ``ROOT`` (:func:`mxkit.workflows.run_ablation`)
``mxkit recognise``       the recognition table (:func:`mxkit.workflows.run_recognition`)
``mxkit demo``            the main job: SynthME -> prepare -> reconstruct -> evaluate -> ``report.html``
``mxkit report``          alias of ``demo`` (the report is made from the reconstructions, which only
                          the main job holds)
``mxkit model``           render and export the face model in a few expressions
``mxkit cache``           ``info``: size and entries of the prepared-clip cache; ``prune``: remove
                          superseded entries and, with ``--max-size``, the least recently used
========================  ==========================================================================

This module only parses arguments and prints; every command calls :mod:`mxkit.workflows`.
Run ``mxkit --help`` (or ``python -m mxkit --help``) for the list; every subcommand has its
own ``--help``; ``--quiet`` turns progress bars off. Prepared clips are cached in
``$MXKIT_CACHE_DIR/prepared`` (default ``~/.cache/mxkit/prepared``) unless ``--cache DIR`` or
``--no-cache`` (not both); ``mxkit cache info|prune`` shows and trims that cache.

Every output path is checked before any work (:func:`mxkit._io.check_output`): an output
folder must be new or empty and an output file must not exist unless ``--overwrite`` (the same
rule for every command); a file where a folder is wanted (or the reverse), a path under a file,
a read-only folder and an output or cache inside the dataset folder ``ROOT`` are refused. A
command that fails leaves no empty output folder behind. Lists are given as one option per
value or as comma lists (``--variants static,full`` or ``--variants static --variants full``;
``--clip A --clip B``), so an option never swallows the positional arguments after it.

Errors from mxkit (bad paths, bad options, malformed files) are printed as one line on stderr
and the process exits with status 2 (argparse's own usage errors also exit with 2); ``prepare``
exits with 1 when some clips failed; Ctrl-C (or SIGTERM) stops the command, keeps what was
finished (cached clips, training checkpoints: ``mxkit train --resume`` continues), removes its
temporary files and exits with 130 (143); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ._io import display_path, safe_name
from .data.loaders.by_name import DATASET_LOADERS
from .errors import MxkitError

__all__ = ["main", "build_parser", "DATASETS"]

# ---------------------------------------------------------------------------- commands
#: How the command line allows replacing an existing output (appended to the refusals).
_OVERWRITE_HINT = "pass --overwrite to replace it"


def _check_out(args: argparse.Namespace, path: str | os.PathLike, *, kind: str = "dir",
               root: str | os.PathLike | None = None, what: str = "--out") -> Path:
    """:func:`mxkit._io.check_output` of an output, before any work (``--overwrite`` rule)."""
    from ._io import check_output

    return check_output(path, kind=kind, overwrite=bool(getattr(args, "overwrite", False)),  # type: ignore[arg-type]
                        inside=[] if root is None else [root], what=what, hint=_OVERWRITE_HINT)


def _cmd_model(args: argparse.Namespace) -> int:
    from .workflows import export_model_showcase

    _check_out(args, args.out)
    info = export_model_showcase(args.out, model_name=args.model, image_size=args.size,
                                 progress=not args.quiet)
    print(f"{args.model}: {info['n_vertices']} vertices, {info['n_faces']} triangles; "
          f"{info['render_ms']} ms per {args.size}x{args.size} render")
    for name, mm in info["max_displacement_mm"].items():  # type: ignore[union-attr]
        print(f"  {name:<24s} max displacement {mm:6.2f} mm")
    print(f"wrote {len(info['files'])} files to {display_path(args.out)}")  # type: ignore[arg-type]
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .workflows import run_demo

    _check_out(args, args.out)
    result = run_demo(args.out, preset=args.preset, seed=args.seed, variants=args.variants,
                      max_clips=args.max_clips, weights=args.weights, workers=args.workers,
                      progress=not args.quiet)
    summary = result.summary
    print(f"mxkit {args.command}: {len(result.clips)} SynthME micro clips ({args.preset} preset, "
          f"seed {args.seed}), variants {', '.join(args.variants)}")
    cols = ["variant", "active rel. error (median)", "beats no motion", "amplitude ratio (median)",
            "micro-motion L1 (mm)", "shape L1 (mm)"]
    print(summary[[c for c in cols if c in summary]].to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print("active rel. error: on the vertices that truly move, 0 perfect, 1 = no motion (the no_motion row)")
    print("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.timing.items()))
    for name, path in result.files.items():
        print(f"{name:>10s}: {display_path(path)}")
    return 0


# ------------------------------------------------------------------------ data helpers
#: Values of ``--dataset``: name -> loader in :mod:`mxkit.data` (``auto``: SynthME when the
#: folder holds a ``synthme.json`` manifest); the same as :data:`mxkit.data.DATASET_LOADERS`.
DATASETS: dict[str, str] = DATASET_LOADERS


def _default_cache() -> Path:
    """``$MXKIT_CACHE_DIR/prepared`` (default ``~/.cache/mxkit/prepared``), read at call time."""
    from ._io import cache_dir

    return cache_dir("prepared")


def _cache(args: argparse.Namespace) -> Path | None:
    """The prepared-clip cache of ``--cache`` / ``--no-cache`` (``--cache`` checked: a writable
    folder path, outside the dataset folder ``ROOT``)."""
    from ._io import check_output

    if args.no_cache:
        return None
    cache = Path(args.cache).expanduser() if args.cache else _default_cache()
    root = getattr(args, "root", None)
    check_output(cache, kind="dir", overwrite=True, inside=[] if root is None else [root], what="--cache")
    return cache


def _existing_dir(path: str | Path, what: str) -> Path:
    from .errors import InputValueError

    p = Path(path).expanduser()
    if not p.exists():
        raise InputValueError(f"{what} '{display_path(path)}' does not exist")
    if not p.is_dir():
        raise InputValueError(f"{what} '{display_path(path)}' is not a folder")
    return p


def _load(root: str | Path, dataset: str) -> object:
    """Load a dataset folder with the matching :mod:`mxkit.data` loader."""
    from .data import load_dataset
    from .errors import InputValueError

    path = _existing_dir(root, "dataset folder")
    if dataset == "auto" and not (path / "synthme.json").is_file():
        raise InputValueError(f"'{display_path(root)}' is not a SynthME folder (no synthme.json); say which "
                              f"dataset it is with --dataset ({', '.join(DATASETS)})")
    return load_dataset(path, dataset)


def _select(clips: object, wanted: Sequence[str] | None, max_clips: int | None = None) -> list:
    """Clips named ``SUBJECT/CLIP`` or ``DATASET/SUBJECT/CLIP`` (all if none), at most ``max_clips``.

    A clip is ``(dataset, subject, clip)``: ``SUBJECT/CLIP`` must name one clip only.
    """
    from .errors import InputValueError

    cl = list(clips)  # type: ignore[call-overload]
    if wanted:
        by: dict[str, list] = {}
        for c in cl:
            by.setdefault(f"{c.subject}/{c.clip_id}", []).append(c)
            by.setdefault("/".join(map(str, c.key)), []).append(c)
        unknown = [w for w in wanted if w not in by]
        if unknown:
            some = ", ".join(list(by)[:5]) + (", ..." if len(by) > 5 else "")
            raise InputValueError(f"no clip {unknown[0]!r} (clips are named SUBJECT/CLIP: {some})")
        ambiguous = [w for w in wanted if len(by[w]) > 1]
        if ambiguous:
            raise InputValueError(f"{ambiguous[0]!r} names {len(by[ambiguous[0]])} clips of different datasets: "
                                  f"say which with DATASET/SUBJECT/CLIP ({', '.join('/'.join(c.key) for c in by[ambiguous[0]])})")
        cl = list({c.key: c for w in wanted for c in by[w]}.values())
    if max_clips is not None:
        if max_clips < 1:
            raise InputValueError(f"--max-clips must be >= 1; got {max_clips}")
        cl = cl[:max_clips]
    if not cl:
        raise InputValueError("no clips to process")
    return cl


def _micro_only(clips: list) -> list:
    """SynthME clips: only the micro-expressions (others unchanged)."""
    from .workflows import expression_type_of

    return [c for c in clips if expression_type_of(c) in (None, "micro")]


def _held_out_data(args: argparse.Namespace) -> tuple[list, str]:
    """The clips of ``ROOT``, or a held-out SynthME set generated under ``OUT/synthme``."""
    from .errors import InputValueError
    from .workflows import synthme_dataset

    if args.root is not None:
        clips = _load(args.root, args.dataset)
        return list(clips), str(args.root)  # type: ignore[call-overload]
    opts = {k: v for k, v in (("n_subjects", args.subjects), ("micro", args.micro)) if v is not None}
    data = synthme_dataset(Path(args.out) / "synthme", preset=args.preset, seed=args.seed, expression_type="micro",
                           progress=not args.quiet, **opts)
    if not len(data):
        raise InputValueError(f"the SynthME {args.preset!r} preset produced no clips")
    return list(data), f"SynthME {args.preset} preset, seed {args.seed} ({Path(args.out) / 'synthme'})"


def _warn_seen_seed(args: argparse.Namespace, settings: dict) -> None:
    seed = ((settings.get("provenance") or {}).get("data") or {}).get("synthme", {}).get("seed")
    if args.root is None and seed is not None and int(seed) == int(args.seed):
        print(f"mxkit {args.command}: warning: the weights were trained on SynthME seed {seed}; "
              "these clips are not held out (use another --seed)", file=sys.stderr)


# ------------------------------------------------------------------------ stage commands
def _cmd_synth(args: argparse.Namespace) -> int:
    from .data.synth import make_dataset

    opts = {k: v for k, v in (("n_subjects", args.subjects), ("micro", args.micro),
                              ("macro", args.macro)) if v is not None}
    _check_out(args, args.out, what="OUT")
    cs = make_dataset(args.out, preset=args.preset, expression_type=args.kind, layout=args.layout, seed=args.seed,
                      overwrite=args.overwrite, workers=args.workers, progress=not args.quiet, **opts)
    df = cs.to_dataframe(meta=True)
    kinds = df["meta_synthme"].map(lambda m: (m or {}).get("kind")) if "meta_synthme" in df else None
    table = df[["subject", "clip_id", "emotion", "au_string", "n_frames", "onset", "apex", "offset"]].copy()
    if kinds is not None:
        table.insert(2, "kind", kinds)
    print(f"SynthME ({args.preset} preset, seed {args.seed}, {args.layout} layout): {len(df)} clips of "
          f"{df['subject'].nunique()} subjects -> {display_path(args.out)}")
    print(table.to_string(index=False))
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from .pipeline import prepare_many
    from .workflows import weights_settings

    cache = _cache(args)
    clips = _select(_load(args.root, args.dataset), args.clip, args.max_clips)
    opts = dict(weights_settings(args.weights)["prepare"])
    if args.flow is not None:
        opts["flow"] = args.flow
    if args.size is not None:
        opts["size"] = args.size
    batch = prepare_many(clips, workers=args.workers, cache_dir=cache, progress=not args.quiet,
                         on_error="collect", **opts)
    rows = []
    for c in clips:
        p = batch.get(c.key)
        if p is None:
            err = batch.failures.get(c.key)
            rows.append({"subject": c.subject, "clip": c.clip_id, "status": "failed",
                         "error": f"{type(err).__name__}: {err}"})
            continue
        s = p.summary()
        rows.append({"subject": c.subject, "clip": c.clip_id, "status": "cached" if p.cache_hit else "computed",
                     "frames": s["n_frames"], "onset": s["onset"], "apex": s["apex"], "offset": s["offset"],
                     "flow apex (px)": round(s["flow_mag_apex_px"], 3),
                     "noise floor (px)": round(s["noise_floor_px"], 3),
                     "seconds": round(float(p.timing.get("total", float("nan"))), 2)})
    import pandas as pd

    print(f"prepared {len(batch)} of {len(clips)} clips ({', '.join(f'{k}={v}' for k, v in opts.items())}); "
          f"cache: {display_path(cache) if cache else 'none'}")
    print(pd.DataFrame(rows).to_string(index=False))
    if batch.failures:
        print(f"mxkit prepare: {len(batch.failures)} clip(s) failed (see the error column)", file=sys.stderr)
        return 1
    return 0


def _cmd_reconstruct(args: argparse.Namespace) -> int:
    from ._checks import check_option
    from ._io import removing_new_folders
    from .morph import load_face_model
    from .nets import VARIANTS
    from .workflows import export_reconstruction, reconstruct_clip, weights_settings

    if args.out:
        _check_out(args, args.out, root=args.root)
    cache = _cache(args)
    clip = _select(_load(args.root, args.dataset), [args.clip])[0]
    out = (Path(args.out) if args.out else
           Path("outputs") / "reconstruct" / safe_name(f"{clip.subject}_{clip.clip_id}"))
    if not args.out:
        _check_out(args, out, root=args.root)
    check_option(args.variant, VARIANTS, "--variant")
    weights_settings(args.weights)          # a missing or corrupt weights file fails before any work
    model = load_face_model("mh-head")
    rec, _, sec = reconstruct_clip(clip, variant=args.variant, model=model, weights=args.weights,
                                   cache_dir=cache, progress=not args.quiet)
    name = display_path(f"{clip.subject}/{clip.clip_id}")
    with removing_new_folders(out):
        exported = export_reconstruction(rec, out, model=model, truth=getattr(clip, "ground_truth", None),
                                         title=f"{name}: {args.variant} reconstruction")
    s = rec.summary()
    print(f"{name}: {args.variant}, {s['frames']} frames (onset {s['onset']}, apex "
          f"{s['apex']}, offset {s['offset']}), apex motion RMS {s['apex_motion_rms_mm']:.4f} mm, {sec:.1f} s")
    m = exported.metrics
    if m:
        print(f"against the 3D ground truth: micro-motion L1 {m['micro_motion_l1']:.4f} mm, "
              f"vertex L1 {m['vertex_l1']:.4f} mm (true motion {m['motion_true']:.4f} mm)")
    for f in exported.files:
        print(f"wrote {display_path(f)}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from ._io import check_output, display_path
    from .errors import InputValueError
    from .workflows import default_weights_path, train_weights

    out = Path(args.out).expanduser()
    if out.resolve() == default_weights_path().resolve():
        raise InputValueError(f"refusing to overwrite the packaged weights {display_path(out)}; use "
                              "tools/train_default_weights.py to rebuild them")
    _check_out(args, out, kind="file", what="OUT.pt")
    if args.work is not None:
        check_output(args.work, kind="dir", overwrite=True, what="--work")
    argv = sys.argv[1:] if sys.argv and Path(sys.argv[0]).name in ("mxkit", "__main__.py") else []
    result = train_weights(out, seed=args.seed, subjects=args.subjects, workers=args.workers,
                           validate=args.validate, variants=args.variants, quick=args.quick,
                           preset=args.preset, work=args.work, progress=not args.quiet, resume=args.resume,
                           command="mxkit " + " ".join(argv or ["train", str(out)]),
                           log_fn=None if args.quiet else lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}",
                                                                          flush=True))
    s = result.summary()
    print(f"wrote {display_path(s['path'])} ({s['bytes'] / 1024:.0f} KiB, sha256 {s['sha256'][:16]}...) in {s['seconds']} s"
          + (" -- a --quick smoke run, not a model to use" if args.quick else ""))
    vertex = s.get("validation_vertex_l1_mm") or {}
    for k, v in (s["validation_micro_motion_l1_mm"] or {}).items():
        print(f"  validation {k:<18s} micro-motion L1 {v:.4f} mm"
              + (f", vertex L1 {vertex[k]:.3f} mm" if k in vertex else ""))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ._checks import check_option
    from .nets import VARIANTS
    from .report import markdown_table
    from .workflows import run_ablation, weights_settings

    _check_out(args, args.out, root=args.root)
    cache = _cache(args)
    for v in args.variants:
        check_option(v, VARIANTS, "--variants")
    settings = weights_settings(args.weights)
    clips, where = _held_out_data(args)
    clips = _select(_micro_only(clips), None, args.max_clips)
    _warn_seen_seed(args, settings)
    res = run_ablation(clips, variants=args.variants, weights=args.weights, cache_dir=cache,
                       workers=args.workers, progress=not args.quiet, protocol=args.protocol,
                       classifier=args.classifier, out=args.out)
    print(f"mxkit evaluate: {len(clips)} clips of {where}; variants {', '.join(res.variants)}")
    print()
    print(res.table.to_markdown())
    print(markdown_table(res.per_variant))
    print("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in res.timing.items()))
    for name, path in res.files.items():
        print(f"{name:>12s}: {display_path(path)}")
    return 0


def _composite_roots(items: Sequence[str]) -> dict[str, Path]:
    """``--composite PART=DIR`` values as the roots mapping of :func:`mxkit.data.load_megc2019`."""
    from .errors import InputValueError

    parts = ("casme2", "samm", "smic")
    roots: dict[str, Path] = {}
    for item in items:
        name, sep, folder = str(item).partition("=")
        if not sep or name not in parts or not folder:
            raise InputValueError(f"--composite {item!r}: give PART=DIR with PART one of {', '.join(parts)}")
        if name in roots:
            raise InputValueError(f"--composite names {name!r} twice")
        roots[name] = _existing_dir(folder, f"--composite {name} folder")
    return roots


def _cmd_recognise(args: argparse.Namespace) -> int:
    from ._checks import check_option
    from .data import ClipSet
    from .errors import InputValueError
    from .eval import CLASSIFIERS, DEFAULT_GRIDS, grid_candidates
    from .workflows import RecognitionOptions, run_recognition, weights_settings

    _check_out(args, args.out, root=args.root)
    cache = _cache(args)
    check_option(args.classifier, CLASSIFIERS, "--classifier")
    settings = weights_settings(args.weights)
    if args.composite:
        from .data import load_megc2019

        if args.root is not None:
            raise InputValueError("give either ROOT or --composite PART=DIR ..., not both")
        roots = _composite_roots(args.composite)
        if args.protocol not in (None, "megc2019-3class"):
            raise InputValueError(f"--composite is the MEGC2019 composite (protocol megc2019-3class); got "
                                  f"--protocol {args.protocol}")
        labelled = load_megc2019(roots)
        if args.max_clips is not None:
            keep = {c.key for c in list(labelled)[: args.max_clips]}
            labelled = labelled.filter(lambda c: c.key in keep)
        clips, protocol, synthetic = labelled, None, False
        where = "the MEGC2019 composite of " + ", ".join(f"{k} ({v})" for k, v in roots.items())
    else:
        clips, where = _held_out_data(args)
        clips = _select(_micro_only(clips), None, args.max_clips)
        synthetic = all(getattr(c, "ground_truth", None) is not None for c in clips)
        protocol = args.protocol
        if protocol is None:
            if not synthetic:
                from .data import PROTOCOLS

                raise InputValueError(f"say which class protocol to use with --protocol ({', '.join(PROTOCOLS)})")
            protocol = "casme2-5class"
        labelled = ClipSet(clips).map_classes(protocol)
    n_subjects = len({(c.dataset, c.subject) for c in labelled})
    n_candidates = len(grid_candidates(dict(DEFAULT_GRIDS[args.classifier])))
    if not args.no_search and n_subjects < 3 and n_candidates > 1:
        raise InputValueError(f"the hyper-parameter search of --classifier {args.classifier} needs at least 3 "
                              f"subjects (2 left for the inner split); these clips have {n_subjects} under "
                              f"--protocol {protocol or 'megc2019-3class'}: pass --no-search, or use more subjects")
    features = args.features or (["reconstruction", "flow_baseline"] + (["oracle"] if synthetic else []))
    _warn_seen_seed(args, settings)
    cnn = {"max_epochs": args.cnn_epochs}
    options = RecognitionOptions(classifier=args.classifier, grid={} if args.no_search else None, seed=args.cv_seed,
                                 n_boot=args.n_boot, reference=args.reference,
                                 feature_options={"ststnet": cnn, "offapexnet": cnn})
    res = run_recognition(clips, features=features, variant=args.variant, protocol=protocol, options=options,
                          weights=args.weights, cache_dir=cache, workers=args.workers,
                          progress=not args.quiet, out=args.out)
    print(f"mxkit recognise: {res.table['n_samples'].iloc[0]} labelled clips of {where}")
    print()
    print(res.to_markdown())
    print("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in res.timing.items()))
    for name, path in res.files.items():
        print(f"{name:>12s}: {display_path(path)}")
    return 0


def _size_text(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _cmd_cache(args: argparse.Namespace) -> int:
    from ._io import display_path
    from .pipeline import cache_info, prune_cache

    root = Path(args.cache).expanduser() if args.cache else _default_cache()
    if args.action == "info":
        info = cache_info(root)
        print(f"{display_path(root)}: {info.n_entries} entries of {info.n_clips} clips, {_size_text(info.bytes)}"
              + (f"; {info.n_temporary} temporary files ({_size_text(info.temporary_bytes)})"
                 if info.n_temporary else ""))
        if info.n_entries:
            table = info.to_dataframe()
            table["size"] = table.pop("bytes").map(_size_text)
            print(table.to_string(index=False))
        return 0
    res = prune_cache(root, max_bytes=args.max_size, dry_run=args.dry_run)
    print(f"{'would remove' if args.dry_run else 'removed'} {len(res.removed)} files "
          f"({_size_text(res.freed_bytes)}); {res.kept_entries} entries ({_size_text(res.kept_bytes)}) kept "
          f"in {display_path(root)}")
    return 0


# ------------------------------------------------------------------------ argument types
class _ListAction(argparse.Action):
    """A list option that never swallows positionals: one value per occurrence, each value
    possibly a comma list (``--variants a,b --variants c`` gives ``[a, b, c]``); the first
    occurrence replaces the default."""

    def __init__(self, *args: object, split: bool = True, **kwargs: object) -> None:
        self.split = split
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        parts = [p.strip() for p in str(values).split(",")] if self.split else [str(values)]
        if any(not p for p in parts):
            parser.error(f"argument {option_string}: empty name in {str(values)!r}")
        seen = getattr(namespace, f"_{self.dest}_given", False)
        current = list(getattr(namespace, self.dest) or []) if seen else []
        setattr(namespace, self.dest, current + parts)
        setattr(namespace, f"_{self.dest}_given", True)


def _int_range(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in ``[lo, hi]`` (argparse prints the message and exits 2)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number; got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
            raise argparse.ArgumentTypeError(f"must be {bound}; got {value}")
        return value

    parse.__name__ = "int"
    return parse


_UNITS = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "KIB": 2**10, "M": 2**20, "MB": 2**20, "MIB": 2**20,
          "G": 2**30, "GB": 2**30, "GIB": 2**30, "T": 2**40, "TB": 2**40, "TIB": 2**40}


def _byte_size(text: str) -> int:
    """An argparse type: a size such as ``500M``, ``2G``, ``1.5GiB`` or ``1000000`` (bytes; units
    are powers of 1024)."""
    import re

    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    unit = m.group(2).upper() if m else ""
    if m is None or unit not in _UNITS:
        raise argparse.ArgumentTypeError(f"expected a size such as 500M, 2G or 1000000 (bytes); got {text!r}")
    return int(float(m.group(1)) * _UNITS[unit])


#: Bounds of the numeric options (a typo such as ``--size 100000`` would ask for tens of GiB).
_SEED = _int_range(0, 2**32 - 1)
_COUNT = _int_range(1, 10_000)
_WORKERS = _int_range(1, 512)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mxkit`` command (exposed for tests and docs)."""
    from ._version import __version__

    parser = argparse.ArgumentParser(
        prog="mxkit",
        description="Fine-grained 3D reconstruction of facial micro-expressions, and its "
                    "evaluation. Each subcommand runs one stage; `demo` runs the main job.",
    )
    parser.add_argument("--version", action="version", version=f"mxkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str,
            epilog: str | None = None) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, epilog=epilog)
        p.set_defaults(func=func)
        p.add_argument("--quiet", action="store_true", help="no progress bars or progress messages")
        return p

    from .data.synth import DATASET_KINDS, LAYOUTS, PRESETS
    from .eval import CLASSIFIERS
    from .nets import VARIANTS
    from .workflows import DEMO_SEED, DEMO_VARIANTS, RECOGNITION_FEATURES

    presets = ", ".join(PRESETS)

    def demo_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", default="outputs/demo", help="output folder (default: %(default)s)")
        p.add_argument("--preset", default="small", help=f"SynthME preset: {presets} (default: %(default)s)")
        p.add_argument("--seed", type=_SEED, default=DEMO_SEED, help="SynthME seed (default: "
                       "%(default)s; the shipped weights were trained on seed 0)")
        p.add_argument("--variants", action=_ListAction, default=list(DEMO_VARIANTS), metavar="VARIANT[,...]",
                       help="reconstruction variants, repeatable or comma-separated (default: %(default)s)")
        p.add_argument("--max-clips", type=_COUNT, default=None, help="evaluate at most N micro clips")
        p.add_argument("--weights", default=None, help="network weights file (default: packaged)")
        p.add_argument("--workers", type=_WORKERS, default=None, help="processes for the prepare step")
        p.add_argument("--overwrite", action="store_true", help="write into OUT even if it is not empty")

    p = add("demo", _cmd_demo, "the main job on the embedded default: SynthME -> prepare -> "
            "reconstruct -> evaluate -> OUT/report.html")
    demo_args(p)
    p = add("report", _cmd_demo, "alias of `demo`: the main job, which writes OUT/report.html "
            "(and its tables)",
            epilog="The report is built from the reconstructions themselves (meshes, motion curves), "
                   "which only the main job holds, so `report` runs it: same options, same files.")
    demo_args(p)

    p = add("model", _cmd_model, "render and export the face model in a few expressions")
    p.add_argument("--out", default="outputs/model", help="output folder (default: %(default)s)")
    p.add_argument("--model", default="mh-head", help="face model (default: %(default)s)")
    p.add_argument("--size", type=_int_range(16, 4096), default=256, help="render size in pixels (16-4096)")
    p.add_argument("--overwrite", action="store_true", help="write into OUT even if it is not empty")

    p = add("cache", _cmd_cache, "the prepared-clip cache: `info` (entries and sizes) or `prune` (remove "
            "stale temporary files and, with --max-size, the least recently used entries)")
    p.add_argument("action", choices=("info", "prune"), help="info or prune")
    p.add_argument("--cache", default=None, metavar="DIR", help=f"the cache (default: $MXKIT_CACHE_DIR/prepared, "
                   f"now {_default_cache()})")
    p.add_argument("--max-size", type=_byte_size, default=None, metavar="SIZE",
                   help="prune: keep at most SIZE of entries (e.g. 2G; 0 empties the cache)")
    p.add_argument("--dry-run", action="store_true", help="prune: say what would be removed, remove nothing")

    p = add("synth", _cmd_synth, "generate a SynthME dataset (rendered clips with 3D ground truth) "
            "in a published layout")
    p.add_argument("out", metavar="OUT", help="new (or empty) output folder")
    p.add_argument("--preset", default="small", help=f"size: {presets} (default: %(default)s)")
    p.add_argument("--kind", default="both", help=f"clips: {', '.join(DATASET_KINDS)} (default: %(default)s)")
    p.add_argument("--layout", default="casme2", help=f"layout: {', '.join(LAYOUTS)} (default: %(default)s)")
    p.add_argument("--seed", type=_SEED, default=0, help="everything follows from it (default: %(default)s; "
                   "the shipped weights were trained on seed 0: use another seed for held-out data)")
    p.add_argument("--subjects", type=_COUNT, default=None, help="number of subjects (default: the preset's)")
    p.add_argument("--micro", type=_int_range(0, 1000), default=None,
                   help="micro clips per subject (default: the preset's)")
    p.add_argument("--macro", type=_int_range(0, 1000), default=None,
                   help="macro clips per subject (default: the preset's)")
    p.add_argument("--workers", type=_WORKERS, default=None, help="rasterizer threads (default: all cores)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier SynthME folder at OUT")

    def cache_args(p: argparse.ArgumentParser) -> None:
        group = p.add_mutually_exclusive_group()
        group.add_argument("--cache", default=None, metavar="DIR", help="prepared-clip cache, outside the "
                           f"dataset (default: $MXKIT_CACHE_DIR/prepared, now {_default_cache()})")
        group.add_argument("--no-cache", action="store_true", help="do not cache prepared clips")

    def data_args(p: argparse.ArgumentParser, *, root_optional: bool = False) -> None:
        if root_optional:
            p.add_argument("root", metavar="ROOT", nargs="?", default=None,
                           help="dataset folder (default: a held-out SynthME set generated under OUT/synthme)")
        else:
            p.add_argument("root", metavar="ROOT", help="dataset folder")
        p.add_argument("--dataset", default="auto", help=f"its format: auto (SynthME), {', '.join(DATASETS)} "
                       "(default: %(default)s)")
        cache_args(p)
        p.add_argument("--weights", default=None, help="network weights file (default: packaged); its recorded "
                       "prepare and fit settings are used")
        p.add_argument("--workers", type=_WORKERS, default=None, help="processes for the prepare step")

    p = add("prepare", _cmd_prepare, "load a dataset and prepare its clips (landmarks, alignment, optical "
            "flow, strain) into the cache; prints a per-clip table")
    data_args(p)
    p.add_argument("--clip", action=_ListAction, split=False, default=None, metavar="SUBJECT/CLIP",
                   help="only this clip (repeat the option for several)")
    p.add_argument("--max-clips", type=_COUNT, default=None, help="at most N clips")
    p.add_argument("--flow", default=None, help="optical flow: dis, tvl1 or farneback (default: the "
                   "weights' setting; reconstruct and evaluate always use the weights' settings)")
    p.add_argument("--size", type=_int_range(16, 2048), default=None,
                   help="crop side in pixels, 16-2048 (default: the weights' setting)")

    p = add("reconstruct", _cmd_reconstruct, "reconstruct one clip in 3D: OUT/reconstruction.npz, frames.csv, "
            "arkit.csv, reconstruction.glb, onset.obj, apex.obj and viewer.html")
    data_args(p)
    p.add_argument("--clip", required=True, metavar="SUBJECT/CLIP", help="the clip, e.g. sub01/EP01_01")
    p.add_argument("--variant", default="full", help=f"one of {', '.join(VARIANTS)} (default: %(default)s)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="new or empty output folder (default: outputs/reconstruct/SUBJECT_CLIP)")
    p.add_argument("--overwrite", action="store_true", help="write into --out even if it is not empty")

    p = add("train", _cmd_train, "train reconstruction weights on SynthME (the recipe of the shipped "
            "weights: macro pretraining, micro fine-tuning, one network set per variant)")
    p.add_argument("out", metavar="OUT.pt", help="weights bundle to write")
    p.add_argument("--preset", default="small", help=f"SynthME preset of the training data: {presets} "
                   "(default: %(default)s)")
    p.add_argument("--seed", type=_SEED, default=0, help="data and training seed (default: %(default)s)")
    p.add_argument("--subjects", type=_COUNT, default=8, help="training subjects (default: %(default)s)")
    p.add_argument("--validate", type=_int_range(0, 10_000), default=0, metavar="K",
                   help="hold the last K subjects out and report their micro-motion error")
    p.add_argument("--variants", action=_ListAction, default=None, metavar="VARIANT[,...]",
                   help="network variants to train, repeatable or comma-separated (default: encoder, "
                   "deformer, full, full_no_pretrain)")
    p.add_argument("--workers", type=_WORKERS, default=2, help="prepare worker processes (default: %(default)s)")
    p.add_argument("--work", default=None, metavar="DIR", help="data and sample cache (default: "
                   "$MXKIT_CACHE_DIR/train_default_weights)")
    p.add_argument("--quick", action="store_true", help="smoke run: one tiny subject, 3 steps, a "
                   "2-iteration coarse fit (checks the pipeline; not a model to use)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT.pt if it exists")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run with the same options "
                   "from its checkpoints in --work (the same final weights as an uninterrupted run)")

    def held_out_args(p: argparse.ArgumentParser, out: str) -> None:
        data_args(p, root_optional=True)
        p.add_argument("--out", default=out, metavar="DIR", help="new or empty output folder (default: "
                       "%(default)s)")
        p.add_argument("--overwrite", action="store_true", help="write into --out even if it is not empty")
        p.add_argument("--preset", default="small", help=f"SynthME preset without ROOT: {presets} "
                       "(default: %(default)s)")
        p.add_argument("--seed", type=_SEED, default=DEMO_SEED, help="SynthME seed without ROOT (default: "
                       "%(default)s, the main job's held-out set; the shipped weights saw seed 0 only)")
        p.add_argument("--subjects", type=_COUNT, default=None, help="SynthME subjects (default: the preset's)")
        p.add_argument("--micro", type=_int_range(1, 1000), default=None, help="SynthME micro clips per subject "
                       "(default: the preset's)")
        p.add_argument("--max-clips", type=_COUNT, default=None, help="at most N clips")

    p = add("evaluate", _cmd_evaluate, "the ablation table: every clip reconstructed with every variant "
            "and evaluated against its 3D ground truth (SynthME by default)",
            epilog="Writes OUT/ablation.md, ablation.csv, summary.csv, regions.csv, metrics.csv. SynthME "
                   "folders: micro clips only. Metrics: docs/metrics.md.")
    held_out_args(p, "outputs/evaluate")
    p.add_argument("--variants", action=_ListAction, default=list(VARIANTS), metavar="VARIANT[,...]",
                   help="reconstruction variants, repeatable or comma-separated (default: %(default)s)")
    p.add_argument("--protocol", default=None, help="also recognise under LOSO with this class protocol "
                   "(e.g. casme2-5class) and fill the UF1/UAR/WF1/ACC columns")
    p.add_argument("--classifier", default="logreg", help=f"classifier of --protocol: {', '.join(CLASSIFIERS)} "
                   "(default: %(default)s)")

    p = add("recognise", _cmd_recognise, "the recognition table: features from the reconstructions vs the "
            "2D optical-flow baseline (and the 3D ground truth) under leakage-safe LOSO",
            epilog="Writes OUT/recognition.md, recognition.html, recognition.csv, intervals.csv, tests.csv, "
                   "confusion.csv, reported.csv, metrics.csv, folds.csv, predictions.csv, "
                   "cards.json. Metrics and protocol: docs/metrics.md.")
    held_out_args(p, "outputs/recognise")
    p.add_argument("--features", action=_ListAction, default=None, metavar="FEATURES[,...]",
                   help=f"{', '.join(RECOGNITION_FEATURES)}; reconstruction:VARIANT, fusion:VARIANT; repeatable or "
                   "comma-separated (default: reconstruction, flow_baseline, plus oracle on SynthME)")
    p.add_argument("--composite", action="append", default=None, metavar="PART=DIR",
                   help="the MEGC2019 composite instead of ROOT: repeat for casme2=DIR, samm=DIR, smic=DIR "
                   "(protocol megc2019-3class; UF1/UAR overall and per part)")
    p.add_argument("--reference", default=None, help="feature set the others are tested against (default: "
                   "flow_baseline when asked for, else the first)")
    p.add_argument("--n-boot", type=_int_range(0, 100_000), default=1000, help="bootstrap replicates over "
                   "subjects for the 95 %% intervals, 0 for none (default: %(default)s)")
    p.add_argument("--cnn-epochs", type=_int_range(1, 10_000), default=40, help="longest training of the flow "
                   "CNNs (ststnet, offapexnet), early-stopped on training subjects (default: %(default)s)")
    p.add_argument("--variant", default="full", help="variant of the reconstruction features (default: "
                   "%(default)s)")
    p.add_argument("--protocol", default=None, help="class protocol (default on SynthME: casme2-5class)")
    p.add_argument("--classifier", default="linear_svm", help=f"{', '.join(CLASSIFIERS)} (default: "
                   "%(default)s)")
    p.add_argument("--no-search", action="store_true", help="no hyper-parameter search (needed with "
                   "fewer than 3 subjects)")
    p.add_argument("--cv-seed", type=_SEED, default=0, help="seed of the classifiers and inner splits "
                   "(default: %(default)s)")
    return parser


class _Terminated(BaseException):
    """Raised in the main thread by SIGTERM, so cleanup (``finally``) runs as on Ctrl-C."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def _new_output_folders(args: argparse.Namespace) -> list[Path]:
    """The output folders of a command (removed again if the command fails and they stay empty)."""
    out = getattr(args, "out", None)
    if out is None:
        return []
    return [Path(out).expanduser().parent if args.command == "train" else Path(out).expanduser()]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mxkit`` command; returns the exit status.

    0: done; 1: ``prepare`` with failed clips; 2: a usage or input error (one line on stderr);
    130 / 143: interrupted by Ctrl-C / SIGTERM (finished work kept, temporary files removed).
    """
    from ._io import display_path, removing_new_folders

    parser = build_parser()
    args = parser.parse_args(argv)
    previous = None
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    try:
        with removing_new_folders(*_new_output_folders(args)):
            return int(args.func(args))
    except MxkitError as exc:
        print(f"mxkit {args.command}: error: {display_path(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mxkit {args.command}: interrupted; finished work is kept", file=sys.stderr)
        return 130
    except _Terminated:
        print(f"mxkit {args.command}: terminated; finished work is kept", file=sys.stderr)
        return 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
