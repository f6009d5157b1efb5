"""Eulerian video magnification (EVM; Wu et al., SIGGRAPH 2012), linear variant.

Each frame is decomposed into a spatial pyramid, every pyramid coefficient is band-pass
filtered over time, the band-passed signal is multiplied by an amplification factor and
added back. Used in micro-expression recognition (MER) to exaggerate subtle facial motion
before feature extraction (e.g. Li et al., TAFFC 2018; meb uses alpha = 20, r1 = 0.4,
r2 = 0.05).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .._checks import check_option
from ..errors import InputValueError
from ._validate import check_frames, check_int, check_real, to_unit_float

__all__ = ["magnify", "iir_cutoff_hz", "level_amplification"]

# NTSC RGB -> YIQ, as in Wu et al.'s reference code (rgb2ntsc).
_RGB2YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], dtype=np.float64
)
_KERNEL = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0  # binomial 5-tap (Burt & Adelson)


def _reduce(x: np.ndarray) -> np.ndarray:
    """Blur and subsample a (T, h, w, C) stack by 2 in h and w (``ceil`` sizes)."""
    from scipy import ndimage

    y = ndimage.correlate1d(x, _KERNEL, axis=1, mode="mirror")
    y = ndimage.correlate1d(y, _KERNEL, axis=2, mode="mirror")
    return np.ascontiguousarray(y[:, ::2, ::2])


def _expand(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Upsample a (T, h, w, C) stack to (T, height, width, C): zero insertion and blur."""
    from scipy import ndimage

    up = np.zeros((x.shape[0], height, width, x.shape[3]), dtype=x.dtype)
    up[:, ::2, ::2] = x[:, : (height + 1) // 2, : (width + 1) // 2]
    up = ndimage.correlate1d(up, 2.0 * _KERNEL, axis=1, mode="mirror")
    return ndimage.correlate1d(up, 2.0 * _KERNEL, axis=2, mode="mirror")


def iir_cutoff_hz(r: float, fps: float) -> float:
    """-3 dB cut-off (Hz) of the first-order low-pass ``y[t] = (1 - r) y[t-1] + r x[t]``.

    Parameters
    ----------
    r : float
        Smoothing coefficient in (0, 1]; larger passes higher frequencies.
    fps : float
        Frame rate in frames per second.

    Returns
    -------
    float
        Cut-off frequency in Hz, at most the Nyquist frequency ``fps / 2``.

    Examples
    --------
    >>> round(iir_cutoff_hz(0.4, 200.0), 1), round(iir_cutoff_hz(0.05, 200.0), 1)
    (16.6, 1.6)
    """
    r = check_real(r, "r", low=0.0, high=1.0, low_open=True)
    fps = check_real(fps, "fps", low=0.0, low_open=True)
    if r == 1.0:
        return fps / 2.0
    # |H(w)|^2 = r^2 / (1 - 2 (1 - r) cos w + (1 - r)^2) = 1/2
    cos_w = (1.0 + (1.0 - r) ** 2 - 2.0 * r * r) / (2.0 * (1.0 - r))
    return float(np.arccos(np.clip(cos_w, -1.0, 1.0)) / (2.0 * np.pi) * fps)


def level_amplification(level: int, *, alpha: float, lambda_c: float) -> float:
    """Amplification used on Laplacian level ``level`` (0 = finest), after Wu et al. 2012.

    Level ``l`` stands for spatial wavelength ``lambda_l = 2^(l+1)`` px. Linear EVM is
    accurate while ``(1 + alpha) delta < lambda / 8``; with the cut-off ``lambda_c`` (px) this
    gives ``alpha_l = 2 ((lambda_l / lambda_c)(1 + alpha) - 1)`` (Wu et al.'s bound with
    their exaggeration factor 2), clipped to ``[0, alpha]``: fine levels, whose wavelengths are
    below ``lambda_c``, are attenuated; coarse levels get the full ``alpha``.
    ``lambda_c = 0`` disables attenuation.

    Parameters
    ----------
    level : int
        Pyramid level, 0 = finest (full resolution).
    alpha : float
        Nominal amplification, >= 0.
    lambda_c : float
        Spatial wavelength cut-off in pixels of the full-resolution frame, >= 0.

    Returns
    -------
    float
        Amplification factor for that level, in ``[0, alpha]``.

    Examples
    --------
    >>> [level_amplification(l, alpha=20.0, lambda_c=16.0) for l in range(4)]
    [3.25, 8.5, 19.0, 20.0]
    """
    if lambda_c == 0:
        return float(alpha)
    wavelength = 2.0 ** (level + 1)
    value = 2.0 * ((wavelength / lambda_c) * (1.0 + alpha) - 1.0)
    return float(np.clip(value, 0.0, alpha))


def _bandpass(
    x: np.ndarray, method: str, *, r1: float, r2: float, band: tuple[float, float], fps: float,
    order: int,
) -> np.ndarray:
    """Temporal band-pass of a (T, ...) float32 array along axis 0."""
    from scipy import signal

    if method == "iir":
        # Two first-order low-passes started at the first frame (as in Wu et al.'s code):
        # lowpass_r[t] = (1 - r) lowpass_r[t-1] + r x[t], band = lowpass_r1 - lowpass_r2.
        lows = []
        for r in (r1, r2):
            zi = (1.0 - r) * x[:1].astype(np.float64)
            low, _ = signal.lfilter([r], [1.0, r - 1.0], x, axis=0, zi=zi)
            lows.append(low)
        return (lows[0] - lows[1]).astype(x.dtype)
    n = x.shape[0]
    low_hz, high_hz = band
    nyquist = fps / 2.0
    if method == "ideal":
        spectrum = np.fft.rfft(x, axis=0)
        freqs = np.fft.rfftfreq(n, d=1.0 / fps)
        keep = (freqs >= low_hz) & (freqs <= high_hz)
        spectrum[~keep] = 0.0
        return np.fft.irfft(spectrum, n=n, axis=0).astype(x.dtype)
    # butterworth, zero-phase (forward-backward), so the apex is not delayed.
    if low_hz <= 0.0 and high_hz >= nyquist:
        return x.copy()
    if low_hz <= 0.0:
        sos = signal.butter(order, high_hz, btype="lowpass", fs=fps, output="sos")
    elif high_hz >= nyquist:
        sos = signal.butter(order, low_hz, btype="highpass", fs=fps, output="sos")
    else:
        sos = signal.butter(order, [low_hz, high_hz], btype="bandpass", fs=fps, output="sos")
    padlen = 3 * (2 * len(sos) + 1 - min(int((sos[:, 2] == 0).sum()),
                                         int((sos[:, 5] == 0).sum())))
    return signal.sosfiltfilt(sos, x, axis=0, padlen=min(padlen, n - 1)).astype(x.dtype)


def magnify(
    frames: np.ndarray,
    *,
    alpha: float = 20.0,
    r1: float = 0.4,
    r2: float = 0.05,
    fps: float = 200.0,
    levels: int = 4,
    method: Literal["ideal", "butterworth", "iir"] = "iir",
    freq_band: tuple[float, float] | None = None,
    lambda_c: float = 16.0,
    pyramid: Literal["laplacian", "gaussian"] = "laplacian",
    chrom_attenuation: float = 0.1,
    butter_order: int = 1,
) -> np.ndarray:
    """Eulerian video magnification of a clip (linear EVM, Wu et al. 2012).

    ``out = frames + collapse(alpha_l * bandpass_t(pyramid_l(frames)))``, clipped to the valid
    pixel range. The temporal band is set by ``r1`` / ``r2`` (IIR) or by ``freq_band`` in Hz
    (ideal, Butterworth; by default the IIR's -3 dB cut-offs at ``fps``, so all three methods
    select comparable bands). The result is deterministic; a static clip is returned
    unchanged; colour clips are processed in YIQ with the chrominance amplification scaled
    by ``chrom_attenuation``.

    Differences from Wu et al.'s reference code, stated so numbers can be compared: the
    finest Laplacian level and the low-pass residual are not zeroed (the residual gets the
    full ``alpha``; band-pass levels are attenuated through ``lambda_c`` only), and the
    Butterworth filter runs forward-backward (zero phase) instead of causally.

    Parameters
    ----------
    frames : numpy.ndarray, shape (T, H, W) or (T, H, W, 3)
        Clip, ``uint8`` in [0, 255] or float in [0, 1], ``T >= 2``.
    alpha : float, default 20.0
        Amplification of the band-passed signal (MER uses 10-20), >= 0.
    r1 : float, default 0.4
        IIR: coefficient of the low-pass giving the upper cut-off, in (0, 1].
    r2 : float, default 0.05
        IIR: coefficient of the low-pass giving the lower cut-off, ``0 < r2 < r1``.
        The band is ``lowpass_r1 - lowpass_r2`` with ``lowpass_r[t] = (1 - r) lowpass_r[t-1]
        + r x[t]``, both started at the first frame. At 200 fps the defaults pass about
        1.6-16.6 Hz (see :func:`iir_cutoff_hz`).
    fps : float, default 200.0
        Frame rate in frames per second (CASME II: 200, SAMM: 200, SMIC-HS: 100). Only used
        to interpret ``freq_band``, or to derive it from ``r1``, ``r2``.
    levels : int, default 4
        Number of pyramid reductions (``2 ** levels <= min(H, W)``). Laplacian: ``levels``
        band-pass levels plus a low-pass residual. Gaussian: the level filtered.
    method : {'iir', 'ideal', 'butterworth'}, default 'iir'
        Temporal filter: ``'iir'`` difference of two first-order low-passes (causal, as in
        MER code); ``'ideal'`` FFT mask on ``freq_band`` (whole clip); ``'butterworth'``
        band-pass of order ``butter_order`` on ``freq_band``, zero phase.
    freq_band : (float, float), optional
        ``(low, high)`` pass band in Hz with ``0 <= low < high <= fps / 2``, for 'ideal' and
        'butterworth'. Default: ``(iir_cutoff_hz(r2, fps), iir_cutoff_hz(r1, fps))``.
    lambda_c : float, default 16.0
        Spatial wavelength cut-off in pixels: Laplacian levels of shorter wavelength get
        reduced amplification (see :func:`level_amplification`); 0 disables. Ignored by the
        Gaussian pyramid.
    pyramid : {'laplacian', 'gaussian'}, default 'laplacian'
        Laplacian for motion magnification, Gaussian (single coarse level, blurred
        amplification) for colour/intensity changes.
    chrom_attenuation : float, default 0.1
        Factor applied to ``alpha`` for the I and Q (chrominance) channels of colour clips.
    butter_order : int, default 1
        Order of the Butterworth filter.

    Returns
    -------
    numpy.ndarray, shape of ``frames``
        Magnified clip, same dtype as ``frames`` (float inputs come back as float32), clipped to
        [0, 1] (float) or [0, 255] (uint8).

    Raises
    ------
    ShapeError
        If ``frames`` is not ``(T, H, W[, 3])`` or has fewer than 2 frames.
    InputValueError
        If ``frames`` has a wrong dtype, NaN/inf or floats outside [0, 1], or a parameter is
        out of range (including ``levels`` too large for the frame size, or ``freq_band``
        given with ``method='iir'``).
    OptionError
        If ``method`` or ``pyramid`` is unknown.

    References
    ----------
    H.-Y. Wu, M. Rubinstein, E. Shih, J. Guttag, F. Durand, W. T. Freeman, "Eulerian Video
    Magnification for Revealing Subtle Changes in the World", ACM TOG 31(4), 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from mxkit.flow import magnify
    >>> t = np.arange(32)[:, None, None]
    >>> clip = 0.5 + 0.01 * np.sin(2 * np.pi * 4 * t / 32) * np.ones((1, 16, 16))
    >>> out = magnify(clip, alpha=10, levels=2, method="ideal", fps=32.0, freq_band=(2, 6))
    >>> round(float(np.ptp(out[:, 8, 8]) / np.ptp(clip[:, 8, 8])), 3)
    11.0
    """
    check_option(method, ("ideal", "butterworth", "iir"), "method")
    check_option(pyramid, ("laplacian", "gaussian"), "pyramid")
    frames = check_frames(frames, "frames", min_frames=2)
    alpha = check_real(alpha, "alpha", low=0.0)
    r1 = check_real(r1, "r1", low=0.0, high=1.0, low_open=True)
    r2 = check_real(r2, "r2", low=0.0, high=1.0, low_open=True)
    if not r2 < r1:
        raise InputValueError(f"r2 must be smaller than r1 (r1 sets the upper cut-off); got "
                              f"r1={r1}, r2={r2}")
    fps = check_real(fps, "fps", low=0.0, low_open=True)
    levels = check_int(levels, "levels", minimum=1)
    lambda_c = check_real(lambda_c, "lambda_c", low=0.0)
    chrom_attenuation = check_real(chrom_attenuation, "chrom_attenuation", low=0.0)
    butter_order = check_int(butter_order, "butter_order", minimum=1)
    height, width = frames.shape[1:3]
    if 2**levels > min(height, width):
        raise InputValueError(
            f"levels={levels} needs frames of at least {2**levels} px per side; got "
            f"{height}x{width}"
        )
    if freq_band is None:
        band = (iir_cutoff_hz(r2, fps), iir_cutoff_hz(r1, fps))
    else:
        if method == "iir":
            raise InputValueError(
                "freq_band applies to method='ideal' or 'butterworth'; the 'iir' filter is set "
                "by r1 and r2"
            )
        try:
            low_hz, high_hz = (float(f) for f in freq_band)
        except (TypeError, ValueError) as exc:
            raise InputValueError(f"freq_band must be (low, high) in Hz; got {freq_band!r}") from exc
        if not (0.0 <= low_hz < high_hz <= fps / 2.0):
            raise InputValueError(
                f"freq_band must satisfy 0 <= low < high <= fps/2 = {fps / 2.0}; got "
                f"{freq_band!r}"
            )
        band = (low_hz, high_hz)

    colour = frames.ndim == 4
    x = to_unit_float(frames)
    if colour:
        x = (x @ _RGB2YIQ.T.astype(np.float32)).astype(np.float32)
    else:
        x = x[..., None]
    channel_gain = np.ones(x.shape[-1], dtype=np.float32)
    if colour:
        channel_gain[1:] = chrom_attenuation

    def amplified_band(level_stack: np.ndarray, gain: float) -> np.ndarray:
        filtered = _bandpass(level_stack, method, r1=r1, r2=r2, band=band, fps=fps,
                             order=butter_order)
        return filtered * (np.float32(gain) * channel_gain)

    # Gaussian pyramid G_0 = x, G_{l+1} = reduce(G_l).
    gaussians = [x]
    for _ in range(levels):
        gaussians.append(_reduce(gaussians[-1]))
    if pyramid == "laplacian":
        # The low-pass residual holds every wavelength >= 2^(levels+1) px, up to uniform
        # changes, so it gets the full alpha.
        delta = amplified_band(gaussians[levels], alpha)
        for level in range(levels - 1, -1, -1):
            g = gaussians[level]
            lap = g - _expand(gaussians[level + 1], g.shape[1], g.shape[2])
            gain = level_amplification(level, alpha=alpha, lambda_c=lambda_c)
            delta = amplified_band(lap, gain) + _expand(delta, g.shape[1], g.shape[2])
    else:
        delta = amplified_band(gaussians[levels], alpha)
        for level in range(levels - 1, -1, -1):
            g = gaussians[level]
            delta = _expand(delta, g.shape[1], g.shape[2])

    out = x + delta
    if colour:
        out = out @ np.linalg.inv(_RGB2YIQ).T.astype(np.float32)
    else:
        out = out[..., 0]
    out = np.clip(out, 0.0, 1.0)
    if frames.dtype == np.uint8:
        return np.round(out * 255.0).astype(np.uint8)
    return out.astype(np.float32)
