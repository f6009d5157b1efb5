"""Steps shared by the dataset-level workflows: prepare every clip, reconstruct every clip.

:func:`prepared_clips` prepares clips with the settings recorded in the weights (or takes clips
prepared earlier), :func:`iter_reconstructions` reconstructs them variant by variant, and
:func:`reconstruct_clip` does both for one clip (``mxkit reconstruct``). The ablation
(:mod:`mxkit.workflows.ablation`) and the recognition comparison
(:mod:`mxkit.workflows.recognition`) are built on them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..errors import InputValueError, ShapeError
from ..nets.variants import NETWORK_VARIANTS
from .reconstruct import reconstruct
from .synthme import prepare_clips
from .weights import load_networks, weights_settings

__all__ = ["prepared_clips", "iter_reconstructions", "reconstruct_clip"]


def prepared_clips(clips: Sequence[Any], *, prepared: Any = None, settings: Mapping[str, Any] | None = None,
                   cache_dir: str | os.PathLike | None = None, workers: int | None = None,
                   progress: bool = True) -> list[Any]:
    """The prepared clip of every clip, in the clips' order.

    Parameters
    ----------
    clips : sequence of Clip
    prepared : mapping clip key -> Prepared (e.g. a PreparedBatch), or sequence, optional
        Clips prepared earlier (checked against the clip keys); when absent, every clip is
        prepared with :func:`mxkit.prepare_many` and ``settings['prepare']``.
    settings : dict, optional
        :func:`weights_settings` (default: those of the packaged weights).
    cache_dir : path-like, optional
        Per-clip prepare cache (a second run reads it back).
    workers : int, optional
        Prepare worker processes (default: one per core, at most the number of clips).
    progress : bool

    Returns
    -------
    list of Prepared

    Raises
    ------
    InputValueError
        ``prepared`` lacks a clip or holds one in the wrong place.
    """
    clips = list(clips)
    if prepared is None:
        opts = dict((settings or weights_settings())["prepare"])
        return prepare_clips(clips, cache_dir=cache_dir, workers=workers, progress=progress, **opts)
    if isinstance(prepared, Mapping):
        missing = [c.key for c in clips if c.key not in prepared]
        if missing:
            raise InputValueError(f"prepared has no entry for {len(missing)} clip(s), e.g. {missing[0]}")
        return [prepared[c.key] for c in clips]
    out = list(prepared)
    if len(out) != len(clips):
        raise ShapeError(f"{len(out)} prepared clips for {len(clips)} clips")
    for c, p in zip(clips, out, strict=True):
        key = tuple(getattr(p, "clip_key", c.key))
        if key != tuple(c.key):
            raise InputValueError(f"prepared clip {key} is in the place of clip {c.key}; keep the clips' order")
    return out


def iter_reconstructions(prepared: Sequence[Any], *, variants: Sequence[str], model: Any,
                         networks: Mapping[str, Any], fit_options: Mapping[str, Any] | None = None,
                         progress: bool = True) -> Iterator[tuple[str, int, Any, float]]:
    """Reconstruct every prepared clip with every variant (variant by variant, clips in order).

    Parameters
    ----------
    prepared : sequence of Prepared
    variants : sequence of str
    model : FaceModel
    networks : dict of variant -> DynamicRefiner
        From :func:`load_networks` (every network variant of ``variants``).
    fit_options : dict, optional
        Coarse-fit options (``settings['fit']``).
    progress : bool
        One tqdm bar over all (variant, clip) jobs.

    Yields
    ------
    (variant, clip index, Reconstruction, seconds)
    """
    missing = [v for v in variants if v in NETWORK_VARIANTS and v not in networks]
    if missing:
        raise InputValueError(f"no networks loaded for {missing}; use load_networks")
    jobs = [(v, i) for v in variants for i in range(len(prepared))]
    it: Any = jobs
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(jobs, desc="reconstruct", unit="clip")
    for v, i in it:
        t0 = time.perf_counter()
        rec = reconstruct(prepared[i], model=model, variant=v, weights=networks.get(v),
                          fit_options=dict(fit_options or {}))
        yield v, i, rec, time.perf_counter() - t0


def reconstruct_clip(clip: Any, *, variant: str = "full", model: Any = None, weights: Any = None,
                     cache_dir: str | os.PathLike | None = None, progress: bool = False
                     ) -> tuple[Any, Any, float]:
    """Prepare one clip with the weights' settings and reconstruct it with one variant.

    Parameters
    ----------
    clip : Clip
    variant : str
        One of :data:`mxkit.nets.VARIANTS`.
    model : FaceModel, optional
        Default ``load_face_model("mh-head")``.
    weights : optional
        As in :func:`mxkit.workflows.load_weights` (default: the packaged bundle), loaded
        before any other work.
    cache_dir : path-like, optional
        Per-clip prepare cache.
    progress : bool

    Returns
    -------
    reconstruction : Reconstruction
    prepared : Prepared
    seconds : float
        Wall time of the reconstruction (after preparing).
    """
    if model is None:
        from ..morph import load_face_model

        model = load_face_model("mh-head")
    nets, settings = load_networks([variant], weights=weights, model=model)
    prep = prepared_clips([clip], settings=settings, cache_dir=cache_dir, workers=1,
                          progress=progress)[0]
    _, _, rec, sec = next(iter_reconstructions([prep], variants=[variant], model=model, networks=nets,
                                               fit_options=settings["fit"], progress=False))
    return rec, prep, sec


def _labelled(clips: Any, protocol: Any) -> Any:
    from ..data import ClipSet

    cs = clips if isinstance(clips, ClipSet) else ClipSet(list(clips))
    if protocol is None:
        if cs.protocol_card is None or any(c.label is None for c in cs):
            raise InputValueError("recognition needs labelled clips: give protocol= (e.g. 'casme2-5class') "
                                  "or a ClipSet labelled by clipset.map_classes(...)")
        return cs
    return cs.map_classes(protocol)
