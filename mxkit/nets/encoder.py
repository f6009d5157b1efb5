"""DynamicEncoder: the global dynamic module (a temporal network over a whole clip).

Input: the intensity-normalised motion of the clip relative to its onset
(:attr:`mxkit.nets.ClipFeatures.encoder_input`, ``(T, F)``). Network::

    h   = gelu(W_in x + b)                          (T, H)    per-frame projection
    h   = h + gelu(conv_d(h)),  d = 1, 2, 4, ...    (T, H)    residual dilated 1D convolutions
    g   = BiGRU(h)                                  (T, 2G)   temporal context both ways
    z   = tanh(W_z [mean_t g, max_t g] + b_z)       (D,)      global dynamic code
    r_t = W_out [g_t, z] + b_out                    (T, E)
    dpsi_t = (A / ell) (r_t - r_onset)                        expression residuals

The output is rescaled by the clip amplitude ``A`` (metres) over ``ell = 1 cm``
(:data:`mxkit.nets.features.LENGTH_SCALE`), the same factor the coarse expression input was
divided by, so the network works in amplitude-free units and a pattern learnt on macro
clips applies to micro clips of the same shape. ``dpsi`` at the onset is exactly 0.
The output layer starts at zero, so an untrained encoder leaves the coarse fit unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_shape
from ..errors import InputValueError
from .layers import Network, gru, linear_init_, temporal_conv, zero_linear_

__all__ = ["DynamicEncoder", "dynamic_encoder", "EncoderOutput"]


class EncoderOutput(NamedTuple):
    """Output of :func:`dynamic_encoder`.

    Attributes
    ----------
    delta_expression : Tensor, shape (T, E)
        Expression residuals ``dpsi_t`` (0 at the onset), in expression-weight units.
    code : Tensor, shape (D,)
        Global dynamic code, in [-1, 1].
    """

    delta_expression: torch.Tensor
    code: torch.Tensor


def dynamic_encoder(x: torch.Tensor, params: Mapping[str, torch.Tensor], *, onset: int,
                    amplitude: torch.Tensor, length_scale: float = 0.01,
                    n_blocks: int = 2) -> EncoderOutput:
    """The DynamicEncoder as a pure function of its inputs and parameters.

    Parameters
    ----------
    x : Tensor, shape (T, F)
        :attr:`ClipFeatures.encoder_input`.
    params : mapping of str to Tensor
        ``dict(DynamicEncoder(...).named_parameters())``.
    onset : int
        Onset frame; the residuals are 0 there.
    amplitude : Tensor, shape ()
        Clip amplitude ``A`` in metres.
    length_scale : float
        ``ell`` in metres.
    n_blocks : int
        Number of temporal convolution blocks (dilations 1, 2, 4, ...).

    Returns
    -------
    EncoderOutput
    """
    check_shape(x, ("T", "F"), "x")
    p = params
    h = F.gelu(F.linear(x, p["in_proj.weight"], p["in_proj.bias"]))
    for b in range(n_blocks):
        h = temporal_conv(h, p[f"blocks.{b}.weight"], p[f"blocks.{b}.bias"], dilation=2 ** b)
    g = gru(h, p, prefix="gru.")
    pooled = torch.cat([g.mean(0), g.amax(0)])
    code = torch.tanh(F.linear(pooled, p["code.weight"], p["code.bias"]))
    r = F.linear(torch.cat([g, code.expand(g.shape[0], -1)], 1), p["out.weight"], p["out.bias"])
    dpsi = (amplitude / length_scale) * (r - r[onset])
    dpsi = torch.where(torch.arange(x.shape[0], device=x.device)[:, None] == onset,
                       torch.zeros_like(dpsi), dpsi)
    return EncoderOutput(dpsi, code)


class DynamicEncoder(Network):
    """Global dynamic module: expression residuals and a dynamic code from a clip's motion.

    Parameters
    ----------
    in_features : int
        Width ``F`` of the input (:func:`mxkit.nets.encoder_in_features`).
    n_expressions : int
        ``E``, the face model's expression count.
    hidden : int
        Width ``H`` of the per-frame and convolution features.
    gru_hidden : int
        Hidden size ``G`` of each GRU direction.
    code_dim : int
        ``D``, size of the global dynamic code.
    kernel_size : int
        Temporal kernel (odd).
    n_blocks : int
        Residual temporal convolution blocks (dilations 1, 2, 4, ...).
    length_scale : float
        ``ell`` (metres) of the intensity normalisation.
    generator : torch.Generator, optional
        Source of the initial weights.

    Shape
    -----
    * x: ``(T, in_features)``; amplitude: ``()``
    * output: ``delta_expression (T, n_expressions)``, ``code (code_dim,)``
    """

    def __init__(self, in_features: int, n_expressions: int, *, hidden: int = 32,
                 gru_hidden: int = 16, code_dim: int = 16, kernel_size: int = 3,
                 n_blocks: int = 2, length_scale: float = 0.01,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        for name, val in (("in_features", in_features), ("n_expressions", n_expressions),
                          ("hidden", hidden), ("gru_hidden", gru_hidden),
                          ("code_dim", code_dim)):
            if not isinstance(val, int) or val < 1:
                raise InputValueError(f"{name} must be a positive integer; got {val!r}")
        if kernel_size % 2 != 1 or n_blocks < 0:
            raise InputValueError("kernel_size must be odd and n_blocks >= 0")
        self.hparams = dict(in_features=in_features, n_expressions=n_expressions,
                            hidden=hidden, gru_hidden=gru_hidden, code_dim=code_dim,
                            kernel_size=kernel_size, n_blocks=n_blocks,
                            length_scale=float(length_scale))
        self.in_proj = nn.Linear(in_features, hidden)
        self.blocks = nn.ModuleList(nn.Conv1d(hidden, hidden, kernel_size)
                                    for _ in range(n_blocks))
        self.gru = nn.GRU(hidden, gru_hidden, bidirectional=True)
        self.code = nn.Linear(4 * gru_hidden, code_dim)
        self.out = nn.Linear(2 * gru_hidden + code_dim, n_expressions)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-draw the weights from ``generator`` (output layer at zero)."""
        linear_init_(self.in_proj.weight, self.in_proj.bias, self.in_proj.in_features, generator)
        for conv in self.blocks:
            linear_init_(conv.weight, conv.bias, conv.in_channels * conv.kernel_size[0],
                         generator, gain=0.5)
        G = self.gru.hidden_size
        for w in self.gru.parameters():
            linear_init_(w, None, G, generator)
        linear_init_(self.code.weight, self.code.bias, self.code.in_features, generator)
        zero_linear_(self.out)

    def forward(self, x: torch.Tensor, *, onset: int, amplitude: torch.Tensor) -> EncoderOutput:
        return dynamic_encoder(x, dict(self.named_parameters()), onset=onset,
                               amplitude=amplitude, length_scale=self.hparams["length_scale"],
                               n_blocks=self.hparams["n_blocks"])
