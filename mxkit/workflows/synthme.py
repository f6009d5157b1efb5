"""SynthME as training and evaluation data of the refinement networks.

The shared pipeline of ``tools/train_default_weights.py`` and
``benchmarks/bench_accuracy.py``: generate (or reuse) a seeded SynthME folder, prepare its
clips once (:func:`mxkit.prepare_many`, with an optional per-clip cache), fit the coarse
base of the network variants and build :class:`~mxkit.train.TrainingSample` objects whose
targets are ``SynthTruth.vertices(model)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputValueError
from ..train.sample import TrainingSample, make_training_sample
from .reconstruct import coarse_fit

__all__ = ["synthme_dataset", "prepare_clips", "synthme_samples", "expression_type_of"]


#: Keys of :func:`synthme_dataset` that the ``synthme.json`` manifest stores under another name.
_MANIFEST_NAMES = {"expression_type": "kind"}


def _manifest_matches(root: Path, want: dict[str, Any]) -> bool:
    try:
        got = json.loads((root / "synthme.json").read_text())
    except (OSError, ValueError):
        return False
    opts = got.get("options", {})
    for k, v in want.items():
        k = _MANIFEST_NAMES.get(k, k)
        have = got.get(k, opts.get(k))
        if isinstance(v, tuple):
            v = list(v)
        if have != v:
            return False
    return True


def synthme_dataset(root: str | os.PathLike, *, preset: str = "small", seed: int = 0,
                    expression_type: str = "both", progress: bool = False, **options: Any) -> Any:
    """A seeded SynthME dataset at ``root``: reused when it was written with the same
    settings, (re)generated otherwise.

    Parameters
    ----------
    root : path-like
        Folder (created; an mxkit SynthME folder with other settings is overwritten).
    preset, seed, expression_type, **options
        As in :func:`mxkit.data.synth.make_dataset` (``n_subjects``, ``micro``, ``macro``,
        ``image_size``, ...).
    progress : bool

    Returns
    -------
    ClipSet
        Clips with their ``SynthTruth`` in ``clip.ground_truth``.
    """
    from ..data.synth import load_synthme, make_dataset

    root = Path(root)
    want = {"preset": preset, "seed": int(seed), "expression_type": expression_type, **options}
    if root.is_dir() and _manifest_matches(root, want):
        return load_synthme(root)
    overwrite = (root / "synthme.json").is_file()
    return make_dataset(root, preset=preset, seed=seed, expression_type=expression_type, progress=progress,
                        overwrite=overwrite, **options)


def prepare_clips(clips: Sequence[Any], *, cache_dir: str | os.PathLike | None = None,
                  workers: int | None = None, progress: bool = False,
                  **prepare_options: Any) -> list[Any]:
    """:func:`mxkit.prepare` every clip (in worker processes), in input order."""
    from ..pipeline import prepare_many

    clips = list(clips)
    batch = prepare_many(clips, workers=workers, cache_dir=cache_dir, progress=progress,
                         **prepare_options)
    return [batch[c.key] for c in clips]


def expression_type_of(clip: Any) -> str | None:
    """``"micro"`` / ``"macro"`` of a SynthME clip (None if unknown): its truth's
    ``expression_type``, else the ``kind`` its manifest entry records."""
    truth = getattr(clip, "ground_truth", None)
    value = getattr(truth, "expression_type", None)
    if value is None:
        value = (getattr(clip, "meta", None) or {}).get("synthme", {}).get("kind")
    return value


def synthme_samples(clips: Sequence[Any], prepared: Sequence[Any], model: Any, *,
                    fit_options: dict[str, Any] | None = None,
                    progress: bool = False) -> list[TrainingSample]:
    """Training samples of prepared SynthME clips, on the ``smoothed`` coarse base.

    Parameters
    ----------
    clips : sequence of Clip
        With ``SynthTruth`` ground truth.
    prepared : sequence of Prepared
        ``prepared[i]`` of ``clips[i]``.
    model : FaceModel
    fit_options : dict, optional
        Coarse-fit options (default :data:`mxkit.workflows.DEFAULT_FIT`).
    progress : bool

    Returns
    -------
    list of TrainingSample
        ``expression_type`` from the truth; ``key`` the clip key.
    """
    if len(clips) != len(prepared):
        raise InputValueError(f"{len(clips)} clips but {len(prepared)} prepared clips")
    it = zip(clips, prepared, strict=True)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, total=len(clips), desc="samples")
    out = []
    for clip, prep in it:
        if getattr(clip, "ground_truth", None) is None:
            raise InputValueError(f"clip {clip.key} has no ground truth")
        fit = coarse_fit(prep.landmarks, model, variant="smoothed", fit_options=fit_options)
        out.append(make_training_sample(prep, fit, model, vertices=clip.ground_truth,
                                        expression_type=expression_type_of(clip)))
    return out
