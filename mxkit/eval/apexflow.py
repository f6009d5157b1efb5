"""The onset -> apex optical flow of the field's 2D baselines, with the field's settings.

Micro-expression recognition code computes one flow field per clip, from the onset to the apex
frame of the *aligned* face crop (``DATASETS.md`` §7): **TV-L1** (Zach et al. 2007, OpenCV's
``DualTVL1OpticalFlow`` with its default parameters, :data:`mxkit.flow.FLOW_DEFAULTS`), after
**face alignment** (one similarity estimated on the onset frame and applied to every frame:
what :func:`mxkit.prepare` does), optionally on **Eulerian-magnified** frames (Wu et al. 2012;
``alpha = 20, r1 = 0.4, r2 = 0.05`` as meb). :data:`BASELINE_FLOW` holds these defaults; Bi-WOOF
and the flow CNNs read this flow; MDMO reads the prepared onset -> t flows (or the fields it is
given, e.g. this one).

**Cost** (``benchmarks/bench_recognition.py``, results in ``benchmarks/results/recognition.md``;
2 shared CPU cores, so the figures vary with the load): one TV-L1 pair of 192 px aligned crops
takes 0.3-0.45 s, the same order as the whole :func:`mxkit.prepare` of a 50-frame clip with DIS
(landmarks, alignment, DIS flow of every frame: 0.23-0.42 s per clip in the same runs).
:func:`mxkit.prepare` with ``flow='tvl1'`` would compute TV-L1 for *every* frame (T - 1 pairs),
so a clip prepared with DIS (the reconstruction default) gets its baseline TV-L1 flow here, for
the apex only. Magnification (:func:`mxkit.flow.magnify` over the onset..offset crops, then the
TV-L1 pair) takes about 3.5 s per clip, some 8 x the plain apex flow.

:func:`apex_flow` reuses ``item.flow[apex]`` when the clip was prepared with the same method and
parameters and no magnification is asked; otherwise it computes the one pair.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._checks import check_shape
from ..errors import InputValueError

__all__ = ["BASELINE_FLOW", "MAGNIFY_DEFAULTS", "ApexFlow", "apex_flow"]

#: The field's flow settings: the defaults of :func:`apex_flow` (and so of every 2D baseline).
#: ``method``/``params``: :func:`mxkit.flow.optical_flow` (``{}``: OpenCV's TV-L1 defaults);
#: ``magnify``: None, or :func:`mxkit.flow.magnify` options (meb's ``alpha=20, r1=0.4,
#: r2=0.05`` when True); the frames are the aligned crops of :func:`mxkit.prepare`.
BASELINE_FLOW: dict[str, Any] = {"method": "tvl1", "params": {}, "magnify": None}
#: Magnification options used for ``magnify=True``.
MAGNIFY_DEFAULTS: dict[str, Any] = {"alpha": 20.0, "r1": 0.4, "r2": 0.05}


@dataclass(frozen=True, eq=False)
class ApexFlow:
    """The onset -> apex flow of one clip.

    Attributes
    ----------
    flow : numpy.ndarray, shape (H, W, 2), float32
        Pixels of the aligned crop; channel 0 = u (+ right), 1 = v (+ down).
    strain : numpy.ndarray, shape (H, W), float32
        Optical-strain magnitude (:func:`mxkit.flow.optical_strain`, central differences).
    settings : dict
        ``method, params, magnify, reused`` (True when ``item.flow[apex]`` was taken as is).
    clip_key : tuple of str or None
        ``(dataset, subject, clip_id)`` of the clip (from ``item.clip_key``).
    """

    flow: np.ndarray = field(repr=False)
    strain: np.ndarray = field(repr=False)
    settings: dict[str, Any] = field(default_factory=dict)
    clip_key: tuple[str, str, str] | None = None


def _magnify_options(magnify: Any) -> dict[str, Any] | None:
    if magnify is None or magnify is False:
        return None
    if magnify is True:
        return dict(MAGNIFY_DEFAULTS)
    if isinstance(magnify, Mapping):
        return {**MAGNIFY_DEFAULTS, **dict(magnify)}
    raise InputValueError(f"magnify must be None, True or a dict of mxkit.flow.magnify options; got {magnify!r}")


def _same_flow(item: Any, method: str, params: Mapping[str, Any]) -> bool:
    from ..flow import FLOW_DEFAULTS

    recorded = getattr(item, "params", None) or {}
    if recorded.get("flow") != method or getattr(item, "flow", None) is None:
        return False
    want = {**FLOW_DEFAULTS[method], **dict(params)}
    got = recorded.get("flow_params") or {}
    return all(got.get(k) == v for k, v in want.items())


def apex_flow(item: Any, *, method: str = "tvl1", params: Mapping[str, Any] | None = None,
              magnify: None | bool | Mapping[str, Any] = None, reuse: bool = True) -> ApexFlow:
    """Onset -> apex flow and strain of one aligned clip, with the field's settings.

    Parameters
    ----------
    item : Prepared-like
        ``.frames`` (T, S, S, 3) aligned crops, ``.onset``, ``.apex`` (and ``.fps`` for
        magnification); optionally ``.flow`` / ``.params`` (reused when they match) and
        ``.magnified`` (used for ``magnify=True`` when present).
    method : {'tvl1', 'dis', 'farneback'}, default 'tvl1'
    params : dict, optional
        :func:`mxkit.flow.optical_flow` parameters (default: the method's defaults).
    magnify : None, True or dict, default None
        Eulerian magnification of the onset..offset crops before the flow.
    reuse : bool, default True
        Take ``item.flow[apex]`` when the clip was prepared with the same flow.

    Returns
    -------
    ApexFlow

    Raises
    ------
    InputValueError
        A clip without frames, an apex outside the frames, or bad options.
    """
    from ..flow import optical_flow, optical_strain

    params = dict(params or {})
    mopts = _magnify_options(magnify)
    frames = getattr(item, "frames", None)
    if frames is None:
        raise InputValueError(f"apex_flow needs a prepared clip with .frames; got {type(item).__name__}")
    check_shape(frames, ("T", "H", "W", 3), "frames")
    onset, apex = int(getattr(item, "onset", 0)), getattr(item, "apex", None)
    if apex is None:
        raise InputValueError("apex_flow needs the clip's apex (item.apex)")
    apex = int(apex)
    T = frames.shape[0]
    if not 0 <= onset < T or not 0 <= apex < T or apex == onset:
        raise InputValueError(f"need distinct onset {onset} and apex {apex} inside the {T} frames")
    settings = {"method": method, "params": params, "magnify": mopts, "reused": False}
    if mopts is None and reuse and _same_flow(item, method, params):
        flow = np.asarray(item.flow[apex], dtype=np.float32)
        settings["reused"] = True
    else:
        src = frames
        if mopts is not None:
            pre = getattr(item, "magnified", None)
            if magnify is True and pre is not None:
                src = pre
            else:
                from ..flow import magnify as evm

                off = getattr(item, "offset", None)
                hi = T - 1 if off is None else int(off)
                lo = min(onset, apex)
                seg = evm(frames[lo:max(hi, apex) + 1], fps=float(getattr(item, "fps", 200.0)), **mopts)
                src = np.zeros_like(frames)
                src[lo:lo + len(seg)] = seg
        flow = optical_flow(src[onset], src[apex], method=method, **params)  # type: ignore[arg-type]
    strain = np.ascontiguousarray(optical_strain(flow), dtype=np.float32)
    key = getattr(item, "clip_key", None)
    return ApexFlow(flow=np.ascontiguousarray(flow, dtype=np.float32), strain=strain, settings=settings,
                    clip_key=None if key is None else tuple(str(k) for k in key))
