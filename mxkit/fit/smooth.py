"""Temporal smoothing of a fit: the "static per-frame + smoothing" baseline."""

from __future__ import annotations

import dataclasses
import math

import torch

from ..errors import InputValueError
from .result import CoarseFit

__all__ = ["smooth_fit", "gaussian_smooth"]


def gaussian_smooth(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian filter along the first axis with a truncated, renormalised kernel.

    Near the ends the kernel is cut at the clip boundary and renormalised, so constant
    signals stay constant and no frame is invented (no padding).

    Parameters
    ----------
    x : Tensor, shape (T, ...)
    sigma : float
        Standard deviation in frames (0 returns ``x`` unchanged).

    Returns
    -------
    Tensor, shape (T, ...)
        Same dtype and device as ``x``.

    Examples
    --------
    >>> [round(v, 2) for v in gaussian_smooth(torch.tensor([0.0, 0.0, 3.0, 0.0, 0.0]), 1.0).tolist()]
    [0.23, 0.77, 1.21, 0.77, 0.23]
    """
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma >= 0):
        raise InputValueError(f"sigma must be a finite number >= 0 (frames); got {sigma!r}")
    T = x.shape[0]
    if sigma == 0 or T < 2:
        return x.clone()
    radius = min(int(math.ceil(4.0 * sigma)), T - 1)
    offs = torch.arange(-radius, radius + 1, dtype=torch.float64, device=x.device)
    kern = torch.exp(-0.5 * (offs / sigma) ** 2)
    idx = torch.arange(T, device=x.device)[:, None] + offs.long()[None]     # (T, 2r+1)
    valid = (idx >= 0) & (idx < T)
    wts = kern[None] * valid                                                # (T, 2r+1)
    wts = wts / wts.sum(1, keepdim=True)
    flat = x.reshape(T, math.prod(x.shape[1:])).to(torch.float64)
    out = (flat[idx.clamp(0, T - 1)] * wts[..., None]).sum(1)
    return out.reshape(x.shape).to(x.dtype)


def smooth_fit(fit: CoarseFit, *, sigma: float) -> CoarseFit:
    """Smooth a fit's per-frame parameters over time with a Gaussian filter.

    Expression weights, head rotation (axis-angle), log-scale, image translation and, for a
    per-frame fit, identity are each filtered along time (:func:`gaussian_smooth`); the
    projected landmarks and reprojection errors are recomputed. Weights stay in [0, 1]
    because every output is a convex combination of inputs. Axis-angle averaging is exact
    enough for the small frame-to-frame rotations of a face clip (no wrap-around near 180°).

    Parameters
    ----------
    fit : CoarseFit
        Typically from :func:`mxkit.fit.fit_frames_independently`.
    sigma : float
        Standard deviation of the filter in frames (0: unchanged copy).

    Returns
    -------
    CoarseFit
        With ``method="smoothed"`` and the original ``loss_history``.

    Raises
    ------
    InputValueError
        If ``sigma`` is negative or not finite, or ``fit`` carries no model.

    Examples
    --------
    >>> from mxkit.fit import fit_frames_independently
    >>> from mxkit.fit.synthetic import make_landmark_model, synthetic_clip
    >>> model = make_landmark_model()
    >>> clip = synthetic_clip(model, n_frames=20, noise_px=1.0)
    >>> smooth_fit(fit_frames_independently(model, clip.landmarks), sigma=2.0).n_frames
    20
    """
    from .coarse import _errors
    from .synthetic import project_parameters

    if not isinstance(fit, CoarseFit):
        raise InputValueError(f"fit must be a CoarseFit; got {type(fit).__name__}")
    if fit.model is None:
        raise InputValueError("smooth_fit needs the model the fit was made with (fit.model)")
    expression = gaussian_smooth(fit.expression, sigma)
    rotation = gaussian_smooth(fit.rotation, sigma)
    scale = torch.exp(gaussian_smooth(torch.log(fit.scale), sigma))
    t2d = gaussian_smooth(fit.t2d, sigma)
    identity = fit.identity if fit.clip_identity else gaussian_smooth(fit.identity, sigma)
    with torch.no_grad():
        pred = project_parameters(fit.model, identity, expression, rotation, scale, t2d,
                                  scheme=fit.scheme).to(fit.expression)
        err, nme = _errors(pred.double(), fit.target.double(), fit.weights.double(), fit.scheme)
    return dataclasses.replace(
        fit, identity=identity, expression=expression, rotation=rotation, scale=scale, t2d=t2d,
        landmarks=pred, error_px=err.to(fit.error_px), error_nme=nme.to(fit.error_nme),
        method="smoothed")
