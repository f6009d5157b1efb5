"""Dense optical flow between two frames and from a reference frame to a whole clip.

Flow convention (fixed across mxkit)
------------------------------------
A flow field is a float32 array of shape ``(H, W, 2)`` in pixels: channel 0 is the
horizontal displacement ``u`` (+ right), channel 1 the vertical displacement ``v`` (+ down).
Pixel ``(row r, col c)`` has its centre at ``(u, v) = (c, r)``. The flow from ``ref`` to
``target`` maps a point ``p`` of the reference frame to where it moved in the target frame::

    target(p + flow(p)) ~= ref(p)

so a texture translated by ``(+1.5, -0.5)`` px (right and up) has flow ``(1.5, -0.5)``
everywhere, and ``warp(target, flow)`` reproduces ``ref`` (see :func:`mxkit.flow.warp`).
This is OpenCV's convention for ``calc(prev=ref, next=target)``.

OpenCV is imported inside the functions, so ``import mxkit.flow`` stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np

from .._checks import check_option, check_shape
from ..errors import InputValueError, OptionError
from ._validate import check_frames, check_image, check_int, check_real, to_gray01

__all__ = ["optical_flow", "flow_sequence", "FLOW_METHODS", "FLOW_DEFAULTS"]

FlowMethod = Literal["tvl1", "dis", "farneback"]
FLOW_METHODS: tuple[str, ...] = ("tvl1", "dis", "farneback")

#: Default parameters per method. TV-L1 and Farneback use the values of OpenCV's defaults
#: and tutorial, which is what most micro-expression recognition (MER) code calls
#: (``cv2.optflow.DualTVL1OpticalFlow_create()`` with no arguments; Farneback
#: ``(0.5, 3, 15, 3, 5, 1.2, 0)``).
FLOW_DEFAULTS: dict[str, dict[str, Any]] = {
    "tvl1": {
        "tau": 0.25,
        "lambda_": 0.15,
        "theta": 0.3,
        "n_scales": 5,
        "warps": 5,
        "epsilon": 0.01,
        "inner_iterations": 30,
        "outer_iterations": 10,
        "scale_step": 0.8,
        "gamma": 0.0,
        "median_filtering": 5,
    },
    "dis": {"preset": "medium"},
    "farneback": {
        "pyr_scale": 0.5,
        "levels": 3,
        "winsize": 15,
        "iterations": 3,
        "poly_n": 5,
        "poly_sigma": 1.2,
        "gaussian_window": False,
    },
}

_DIS_PRESETS = ("ultrafast", "fast", "medium")
# Show a progress bar only when a sequence has at least this many frame pairs.
_PROGRESS_MIN_PAIRS = 16


def _owner(name: str) -> str | None:
    for method, table in FLOW_DEFAULTS.items():
        if name in table:
            return method
    return None


def _validate_param(name: str, value: Any) -> Any:
    positive = {"tau", "lambda_", "theta", "epsilon", "poly_sigma"}
    positive_ints = {"n_scales", "warps", "inner_iterations", "outer_iterations", "levels",
                     "winsize", "iterations"}
    if name in positive:
        return check_real(value, name, low=0.0, low_open=True)
    if name in positive_ints:
        return check_int(value, name, minimum=1)
    if name in ("scale_step", "pyr_scale"):
        return check_real(value, name, low=0.0, high=1.0, low_open=True, high_open=True)
    if name == "gamma":
        return check_real(value, name, low=0.0)
    if name == "median_filtering":
        value = check_int(value, name, minimum=1)
        return check_option(value, (1, 3, 5), name)
    if name == "poly_n":
        return check_option(check_int(value, name), (5, 7), name)
    if name == "preset":
        return check_option(value, _DIS_PRESETS, name)
    if name == "gaussian_window":
        if not isinstance(value, (bool, np.bool_)):
            raise InputValueError(f"gaussian_window must be a bool; got {value!r}")
        return bool(value)
    raise OptionError(f"unknown optical-flow parameter {name!r}")  # pragma: no cover


def _resolve_params(method: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """Merge user parameters (``None`` = default) into the method's defaults, strictly."""
    check_option(method, FLOW_METHODS, "method")
    params = dict(FLOW_DEFAULTS[method])
    for name, value in given.items():
        owner = _owner(name)
        if owner is None:
            raise OptionError(
                f"unknown optical-flow parameter {name!r}; parameters of method {method!r} are "
                f"{sorted(FLOW_DEFAULTS[method])}"
            )
        if value is None:
            continue
        if owner != method:
            raise OptionError(
                f"parameter {name!r} belongs to method {owner!r}, not to method {method!r}; "
                f"parameters of {method!r} are {sorted(FLOW_DEFAULTS[method])}"
            )
        params[name] = _validate_param(name, value)
    return params


def _make_solver(method: str, p: Mapping[str, Any]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Return ``solve(ref_gray01, target_gray01) -> (H, W, 2) float32`` for one method."""
    import cv2  # lazy: importing mxkit.flow must not import OpenCV

    if method == "tvl1":

        def solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            # One solver per call: OpenCV algorithm objects are not thread-safe.
            solver = cv2.optflow.DualTVL1OpticalFlow_create(
                tau=p["tau"], lambda_=p["lambda_"], theta=p["theta"], nscales=p["n_scales"],
                warps=p["warps"], epsilon=p["epsilon"], innnerIterations=p["inner_iterations"],
                outerIterations=p["outer_iterations"], scaleStep=p["scale_step"],
                gamma=p["gamma"], medianFiltering=p["median_filtering"], useInitialFlow=False,
            )
            # OpenCV's TV-L1 multiplies float input by 255 internally: pass [0, 1] floats.
            return solver.calc(a, b, None)

    elif method == "dis":
        preset = {
            "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
            "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
        }[p["preset"]]

        def solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            solver = cv2.DISOpticalFlow_create(preset)
            # DIS accepts 8-bit grey images only.
            a8 = np.round(a * 255.0).astype(np.uint8)
            b8 = np.round(b * 255.0).astype(np.uint8)
            return solver.calc(a8, b8, None)

    else:
        flags = cv2.OPTFLOW_FARNEBACK_GAUSSIAN if p["gaussian_window"] else 0

        def solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            # float32 in [0, 255] behaves like uint8 input without its quantisation.
            return cv2.calcOpticalFlowFarneback(
                a * np.float32(255.0), b * np.float32(255.0), None, p["pyr_scale"],
                p["levels"], p["winsize"], p["iterations"], p["poly_n"], p["poly_sigma"], flags,
            )

    def run(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        try:
            flow = solve(a, b)
        except cv2.error as exc:
            raise InputValueError(
                f"OpenCV could not compute {method!r} flow for frames of shape {a.shape}: {exc}"
            ) from exc
        return np.ascontiguousarray(flow, dtype=np.float32)

    return run


def optical_flow(
    ref: np.ndarray,
    target: np.ndarray,
    *,
    method: FlowMethod = "tvl1",
    tau: float | None = None,
    lambda_: float | None = None,
    theta: float | None = None,
    n_scales: int | None = None,
    warps: int | None = None,
    epsilon: float | None = None,
    inner_iterations: int | None = None,
    outer_iterations: int | None = None,
    scale_step: float | None = None,
    gamma: float | None = None,
    median_filtering: int | None = None,
    preset: Literal["ultrafast", "fast", "medium"] | None = None,
    pyr_scale: float | None = None,
    levels: int | None = None,
    winsize: int | None = None,
    iterations: int | None = None,
    poly_n: int | None = None,
    poly_sigma: float | None = None,
    gaussian_window: bool | None = None,
) -> np.ndarray:
    """Dense optical flow from ``ref`` to ``target`` (OpenCV TV-L1, DIS or Farneback).

    The flow maps a point ``p = (u, v)`` of the reference frame to where it moved in the
    target frame: ``target(p + flow(p)) ~= ref(p)``. Channel 0 is ``u`` (horizontal,
    + right), channel 1 is ``v`` (vertical, + down), in pixels; pixel ``(r, c)`` has its
    centre at ``(u, v) = (c, r)``. Colour frames are converted to grey (BT.601 luma).

    Method parameters are keyword-only and default to ``None``, meaning the value in
    :data:`FLOW_DEFAULTS` (listed below). Passing a parameter that belongs to another
    method raises :class:`~mxkit.errors.OptionError` instead of being silently ignored.

    Parameters
    ----------
    ref : numpy.ndarray, shape (H, W) or (H, W, 3)
        Reference (e.g. onset) frame, ``uint8`` in [0, 255] or float in [0, 1].
    target : numpy.ndarray, shape (H, W) or (H, W, 3)
        Target frame, same shape as ``ref``.
    method : {'tvl1', 'dis', 'farneback'}, default 'tvl1'
        ``'tvl1'``: Dual TV-L1 (Zach et al. 2007; ``cv2.optflow``), the MER standard,
        accurate to a few hundredths of a pixel on textured sub-pixel motion but the slowest
        (~0.4 s per 256x256 pair on 2 cores). ``'dis'``: Dense Inverse Search (Kroeger et al.
        2016), milliseconds per pair, less accurate (8-bit input). ``'farneback'``:
        polynomial expansion (Farnebaeck 2003), ~10 ms per pair, smooth.
    tau : float, optional
        TV-L1 time step of the numerical scheme (default 0.25).
    lambda_ : float, optional
        TV-L1 weight of the data term; smaller gives smoother flow (default 0.15).
    theta : float, optional
        TV-L1 coupling between the two sub-problems (default 0.3).
    n_scales : int, optional
        TV-L1 number of pyramid scales (default 5).
    warps : int, optional
        TV-L1 warpings per scale (default 5).
    epsilon : float, optional
        TV-L1 stopping threshold (default 0.01).
    inner_iterations : int, optional
        TV-L1 inner iterations per warping (default 30).
    outer_iterations : int, optional
        TV-L1 outer iterations per warping (default 10).
    scale_step : float, optional
        TV-L1 pyramid down-scaling factor, in (0, 1) (default 0.8).
    gamma : float, optional
        TV-L1 weight of the illumination-change term, 0 disables it (default 0.0).
    median_filtering : {1, 3, 5}, optional
        TV-L1 median filter size applied to the flow between warps; 1 disables (default 5).
    preset : {'ultrafast', 'fast', 'medium'}, optional
        DIS speed/quality preset (default ``'medium'``, the most accurate).
    pyr_scale : float, optional
        Farneback pyramid scale, in (0, 1) (default 0.5).
    levels : int, optional
        Farneback number of pyramid layers including the image (default 3).
    winsize : int, optional
        Farneback averaging window size in pixels (default 15).
    iterations : int, optional
        Farneback iterations per pyramid level (default 3).
    poly_n : {5, 7}, optional
        Farneback polynomial-expansion neighbourhood (default 5).
    poly_sigma : float, optional
        Farneback Gaussian sigma of the polynomial expansion (default 1.2).
    gaussian_window : bool, optional
        Farneback: Gaussian instead of box averaging window (default False).

    Returns
    -------
    numpy.ndarray, shape (H, W, 2), float32
        Flow in pixels, channel 0 = u (+ right), channel 1 = v (+ down).

    Raises
    ------
    ShapeError
        If a frame is not ``(H, W)`` / ``(H, W, 3)`` or the two shapes differ.
    InputValueError
        If a frame has a wrong dtype, NaN/inf, float values outside [0, 1], a parameter is out
        of range, or OpenCV rejects the input.
    OptionError
        If ``method`` is unknown or a parameter belongs to another method.

    See Also
    --------
    flow_sequence : flow from a reference frame to every frame of a clip.
    warp : backward warping, ``warp(target, flow) ~= ref``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> from mxkit.flow import optical_flow
    >>> rng = np.random.default_rng(0)
    >>> ref = ndimage.gaussian_filter(rng.random((64, 64)), 2.0, mode="wrap")
    >>> ref = (ref - ref.min()) / np.ptp(ref)
    >>> target = np.roll(ref, 1, axis=1)            # texture moves 1 px to the right
    >>> flow = optical_flow(ref, target, method="tvl1")
    >>> flow.shape, np.round(np.median(flow[16:-16, 16:-16], axis=(0, 1)), 1).tolist()
    ((64, 64, 2), [1.0, 0.0])
    """
    given = {
        "tau": tau, "lambda_": lambda_, "theta": theta, "n_scales": n_scales, "warps": warps,
        "epsilon": epsilon, "inner_iterations": inner_iterations,
        "outer_iterations": outer_iterations, "scale_step": scale_step, "gamma": gamma,
        "median_filtering": median_filtering, "preset": preset, "pyr_scale": pyr_scale,
        "levels": levels, "winsize": winsize, "iterations": iterations, "poly_n": poly_n,
        "poly_sigma": poly_sigma, "gaussian_window": gaussian_window,
    }
    params = _resolve_params(method, given)
    ref = check_image(ref, "ref")
    target = check_image(target, "target")
    check_shape(target, ref.shape, "target (must have the shape of ref)")
    has_channels = ref.ndim == 3
    solve = _make_solver(method, params)
    return solve(to_gray01(ref, has_channels=has_channels),
                 to_gray01(target, has_channels=has_channels))


def flow_sequence(
    frames: np.ndarray,
    *,
    reference: int = 0,
    method: FlowMethod = "tvl1",
    params: Mapping[str, Any] | None = None,
    n_jobs: int = 1,
    progress: bool = True,
) -> np.ndarray:
    """Optical flow from a reference (e.g. onset) frame to every frame of a clip.

    ``out[t]`` is ``optical_flow(frames[reference], frames[t], method=method, **params)``,
    so ``frames[t](p + out[t](p)) ~= frames[reference](p)``; ``out[reference]`` is zeros.
    Channel 0 = u (+ right), channel 1 = v (+ down), pixels.

    Parameters
    ----------
    frames : numpy.ndarray, shape (T, H, W) or (T, H, W, 3)
        Clip, ``uint8`` in [0, 255] or float in [0, 1], ``T >= 2``.
    reference : int, default 0
        Index of the reference frame (negative indices count from the end).
    method : {'tvl1', 'dis', 'farneback'}, default 'tvl1'
        Flow method, see :func:`optical_flow`.
    params : mapping, optional
        Method parameters by name, exactly the keyword arguments of :func:`optical_flow`
        (e.g. ``{"lambda_": 0.1}``); validated before any frame is processed.
    n_jobs : int, default 1
        Number of worker threads (OpenCV releases the GIL); ``-1`` uses every CPU core.
        The result does not depend on ``n_jobs``.
    progress : bool, default True
        Show a tqdm progress bar when the clip has at least 16 frame pairs.

    Returns
    -------
    numpy.ndarray, shape (T, H, W, 2), float32
        Flow from ``frames[reference]`` to each frame, in pixels.

    Raises
    ------
    ShapeError
        If ``frames`` is not ``(T, H, W[, 3])`` or has fewer than 2 frames.
    InputValueError
        If ``frames`` has a wrong dtype, NaN/inf or out-of-range floats, ``reference`` is out
        of range, ``n_jobs`` is invalid or a parameter value is out of range.
    OptionError
        If ``method`` is unknown or ``params`` holds an unknown or another method's parameter.

    Examples
    --------
    >>> import numpy as np
    >>> from mxkit.flow import flow_sequence
    >>> frames = np.random.default_rng(0).integers(0, 256, (3, 32, 32), dtype=np.uint8)
    >>> flow_sequence(frames, method="dis", progress=False).shape
    (3, 32, 32, 2)
    """
    check_option(method, FLOW_METHODS, "method")
    resolved = _resolve_params(method, dict(params or {}))
    frames = check_frames(frames, "frames", min_frames=2)
    n_frames = frames.shape[0]
    reference = check_int(reference, "reference")
    if not -n_frames <= reference < n_frames:
        raise InputValueError(
            f"reference must index one of the {n_frames} frames (-{n_frames} <= reference < "
            f"{n_frames}); got {reference}"
        )
    reference %= n_frames
    n_jobs = check_int(n_jobs, "n_jobs")
    if n_jobs == -1:
        n_jobs = os.cpu_count() or 1
    if n_jobs < 1:
        raise InputValueError(f"n_jobs must be a positive integer or -1; got {n_jobs}")

    gray = to_gray01(frames, has_channels=frames.ndim == 4)
    solve = _make_solver(method, resolved)
    out = np.zeros(gray.shape + (2,), dtype=np.float32)
    todo = [t for t in range(n_frames) if t != reference]

    def one(t: int) -> np.ndarray:
        return solve(gray[reference], gray[t])

    bar = None
    if progress and len(todo) >= _PROGRESS_MIN_PAIRS:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc=f"{method} flow", unit="pair")
    try:
        if n_jobs == 1:
            for t in todo:
                out[t] = one(t)
                if bar is not None:
                    bar.update(1)
        else:
            with ThreadPoolExecutor(max_workers=min(n_jobs, len(todo))) as pool:
                for t, flow in zip(todo, pool.map(one, todo), strict=True):
                    out[t] = flow
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return out
