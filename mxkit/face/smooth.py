"""Temporal smoothing of landmark tracks and their jitter noise floor.

Micro-expressions move facial points by fractions of a pixel, the same order as a landmark
detector's frame-to-frame jitter, so the jitter measured on neutral frames (the noise floor)
is the yardstick every ME displacement should be compared with.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from .._checks import check_finite, check_option, check_shape
from ..errors import InputValueError
from .ibug68 import LANDMARK_GROUPS, N_LANDMARKS, inter_ocular_distance, landmark_group

__all__ = ["smooth_landmarks", "landmark_noise_floor", "SMOOTHING_METHODS"]

SMOOTHING_METHODS = ("savgol", "gaussian", "none")


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def smooth_landmarks(landmarks: np.ndarray, *, method: Literal["savgol", "gaussian", "none"] = "savgol",
                     window: int = 7, polyorder: int = 2, sigma: float = 1.0) -> np.ndarray:
    """Smooth landmark tracks over time, independently per landmark and coordinate.

    Parameters
    ----------
    landmarks : numpy.ndarray, shape (T, L, 2)
        (u, v) pixels per frame; must be finite (interpolate missing frames first, e.g.
        ``detect_landmarks_sequence(..., policy='interpolate')``).
    method : {'savgol', 'gaussian', 'none'}, default 'savgol'
        ``'savgol'``: Savitzky-Golay filter (local polynomial fit; keeps peak amplitude
        better than a blur at the same noise reduction), ``window`` and ``polyorder``;
        ``'gaussian'``: Gaussian blur of std ``sigma`` frames (edges: nearest value);
        ``'none'``: a copy.
    window : int, default 7
        Savitzky-Golay window length in frames: odd, > ``polyorder``, <= T. At 200 fps, 7
        frames = 35 ms, well below a micro-expression's 200-500 ms.
    polyorder : int, default 2
    sigma : float, default 1.0
        Gaussian std in frames.

    Returns
    -------
    numpy.ndarray, shape (T, L, 2)
        float32 for float32 input, float64 otherwise.

    Raises
    ------
    ShapeError, InputValueError, OptionError

    Examples
    --------
    >>> t = np.arange(50.0)
    >>> track = np.stack([np.sin(t / 8), np.cos(t / 8)], -1)[:, None, :]       # (50, 1, 2)
    >>> noisy = track + np.random.default_rng(0).normal(0, 0.1, track.shape)
    >>> smooth = smooth_landmarks(noisy, window=9)
    >>> bool(np.abs(smooth - track).std() < np.abs(noisy - track).std())
    True
    """
    check_option(method, SMOOTHING_METHODS, "method")
    dims = check_shape(landmarks, ("T", None, 2), "landmarks")
    check_finite(landmarks, "landmarks")
    arr = np.asarray(landmarks)
    out_dtype = np.float32 if arr.dtype == np.float32 else np.float64
    x = arr.astype(np.float64)
    n = dims["T"]
    if method == "none":
        return x.astype(out_dtype)
    if method == "savgol":
        from scipy.signal import savgol_filter

        if not _is_int(window) or window < 3 or window % 2 == 0:
            raise InputValueError(f"window must be an odd int >= 3; got {window!r}")
        if not _is_int(polyorder) or not 0 <= polyorder < window:
            raise InputValueError(f"polyorder must be an int in [0, window); got {polyorder!r}")
        if window > n:
            raise InputValueError(f"window ({window}) must not exceed the number of frames ({n})")
        y = savgol_filter(x, int(window), int(polyorder), axis=0, mode="interp")
    else:
        from scipy.ndimage import gaussian_filter1d

        if not isinstance(sigma, (int, float, np.floating)) or not np.isfinite(sigma) or sigma <= 0:
            raise InputValueError(f"sigma must be a positive number of frames; got {sigma!r}")
        y = gaussian_filter1d(x, float(sigma), axis=0, mode="nearest")
    return y.astype(out_dtype)


def _frame_indices(neutral: Any, n: int) -> np.ndarray:
    if neutral is None:
        return np.arange(n)
    if isinstance(neutral, slice):
        return np.arange(n)[neutral]
    arr = np.asarray(neutral)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise InputValueError(f"neutral mask must have shape ({n},); got {arr.shape}")
        return np.flatnonzero(arr)
    if arr.ndim == 1 and np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < -n or arr.max() >= n):
            raise InputValueError(f"neutral frame indices must be in [{-n}, {n}); got {arr.min()}..{arr.max()}")
        return np.unique(arr % n)
    raise InputValueError(
        f"neutral must be None, a slice, a boolean mask (T,) or integer frame indices; got {neutral!r}"
    )


def landmark_noise_floor(landmarks: np.ndarray, *, neutral: Any = None,
                         normalise: Literal["iod", "none"] = "iod",
                         detrend: Literal["linear", "constant"] = "linear") -> pd.DataFrame:
    """Landmark jitter on neutral frames: per landmark, per group and overall, in px and IOD.

    For every landmark and coordinate, the positions on the neutral frames are detrended
    (a straight line in time removed, absorbing slow head drift) and their standard deviation
    is taken with the matching degrees of freedom (n - 2 for a line, n - 1 for a constant),
    so a track of independent noise of std sigma returns sigma.

    Parameters
    ----------
    landmarks : numpy.ndarray, shape (T, 68, 2)
        (u, v) pixels per frame (finite on the neutral frames).
    neutral : slice, boolean mask (T,), integer indices, or None
        Frames without facial motion (e.g. ``slice(0, onset)``, or the frames before the
        onset of every clip). Default: all frames.
    normalise : {'iod', 'none'}, default 'iod'
        ``'iod'`` adds ``std_iod`` (jitter divided by the inter-ocular distance, outer eye
        corners 36-45, median over the neutral frames) and ``iod_px``.
    detrend : {'linear', 'constant'}, default 'linear'

    Returns
    -------
    pandas.DataFrame
        One row per landmark (``level='landmark'``), per group (``level='group'``: jaw,
        brows, nose, eyes, mouth) and overall (``level='all'``), with columns ``level,
        landmark`` (nullable int), ``group, n_frames, std_px`` (per-axis RMS:
        ``sqrt((var_u + var_v) / 2)``), ``std_u_px, std_v_px`` and, with ``normalise='iod'``,
        ``std_iod, iod_px``. Group and overall rows pool variances (RMS over landmarks).

    Raises
    ------
    ShapeError, InputValueError, OptionError
        Bad shape, too few neutral frames (< 3 linear, < 2 constant), NaNs on them.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> base = rng.uniform(0, 100, (68, 2))
    >>> track = base + rng.normal(0, 0.5, (400, 68, 2))          # 0.5 px of jitter
    >>> df = landmark_noise_floor(track)
    >>> round(float(df.loc[df.level == "all", "std_px"].iloc[0]), 1)
    0.5
    """
    check_option(normalise, ("iod", "none"), "normalise")
    check_option(detrend, ("linear", "constant"), "detrend")
    dims = check_shape(landmarks, ("T", N_LANDMARKS, 2), "landmarks")
    n = dims["T"]
    idx = _frame_indices(neutral, n)
    n_dof = 2 if detrend == "linear" else 1
    if idx.size < n_dof + 1:
        raise InputValueError(
            f"the noise floor needs at least {n_dof + 1} neutral frames with detrend={detrend!r}; got {idx.size}"
        )
    x = np.asarray(landmarks, dtype=np.float64)[idx]                # (n, 68, 2)
    check_finite(x, "landmarks on the neutral frames")
    y = x.reshape(idx.size, -1)
    t = idx.astype(np.float64)
    design = np.ones((idx.size, n_dof))
    if n_dof == 2:
        design[:, 1] = t - t.mean()
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    var = ((resid ** 2).sum(axis=0) / (idx.size - n_dof)).reshape(N_LANDMARKS, 2)  # (68, 2)

    rows: list[dict[str, Any]] = []

    def add(level: str, landmark: int | None, group: str, v: np.ndarray) -> None:
        vu, vv = float(v[..., 0].mean()), float(v[..., 1].mean())
        rows.append({"level": level, "landmark": landmark, "group": group, "n_frames": int(idx.size),
                     "std_px": float(np.sqrt(0.5 * (vu + vv))),
                     "std_u_px": float(np.sqrt(vu)), "std_v_px": float(np.sqrt(vv))})

    for i in range(N_LANDMARKS):
        add("landmark", i, landmark_group(i), var[i])
    for g, members in LANDMARK_GROUPS.items():
        add("group", None, g, var[list(members)])
    add("all", None, "all", var)
    df = pd.DataFrame(rows)
    df["landmark"] = df["landmark"].astype("Int64")
    if normalise == "iod":
        iod = float(np.median(inter_ocular_distance(x)))
        if not iod > 0:
            raise InputValueError("the inter-ocular distance (36-45) is zero on the neutral frames")
        df["std_iod"] = df["std_px"] / iod
        df["iod_px"] = iod
    return df
