"""Functional building blocks of mxkit's networks, each with a thin module twin.

The functions take their weights explicitly, so a network is a pure function of its inputs
and a parameter mapping (``dict(module.named_parameters())``); the modules only own and
initialise the parameters and call the function in ``forward``.

* :func:`cheb_conv` / :class:`ChebConv` -- Chebyshev graph convolution on mesh vertices.
* :func:`temporal_conv` -- a residual dilated 1D convolution over frames.
* :func:`gru` -- a (bidirectional) GRU with ``torch.nn.GRU``'s weight layout and equations.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_shape
from ..errors import InputValueError
from .graph import apply_operator

__all__ = ["cheb_conv", "ChebConv", "temporal_conv", "gru", "linear_init_", "zero_linear_",
           "Network"]


def cheb_conv(x: torch.Tensor, operator: torch.Tensor, weight: torch.Tensor,
              bias: torch.Tensor | None = None) -> torch.Tensor:
    """Chebyshev graph convolution ``sum_k T_k(L~) x W_k + b``.

    ``T_0 x = x``, ``T_1 x = L~ x``, ``T_k x = 2 L~ T_{k-1} x - T_{k-2} x`` (Defferrard et
    al. 2016): a polynomial filter of order ``K - 1``, mixing features over ``K - 1`` hops.

    Parameters
    ----------
    x : Tensor, shape (..., V, C_in)
        Vertex features.
    operator : Tensor, shape (V, V), sparse
        Rescaled Laplacian, :func:`mxkit.nets.graph.chebyshev_operator`.
    weight : Tensor, shape (K, C_in, C_out)
    bias : Tensor, shape (C_out,), optional

    Returns
    -------
    Tensor, shape (..., V, C_out)
    """
    K = check_shape(weight, ("K", x.shape[-1], "C"), "weight")["K"]
    tk_prev, tk = x, None
    out = x @ weight[0]
    if K > 1:
        tk = apply_operator(operator, x)
        out = out + tk @ weight[1]
    for k in range(2, K):
        tk, tk_prev = 2.0 * apply_operator(operator, tk) - tk_prev, tk
        out = out + tk @ weight[k]
    return out if bias is None else out + bias


def linear_init_(weight: torch.Tensor, bias: torch.Tensor | None, fan_in: int,
                 generator: torch.Generator | None, *, gain: float = 1.0) -> None:
    """Uniform ``U(-g/sqrt(fan_in), g/sqrt(fan_in))`` initialisation from ``generator``."""
    bound = gain / max(fan_in, 1) ** 0.5
    with torch.no_grad():
        weight.copy_((torch.rand(weight.shape, generator=generator, dtype=weight.dtype)
                      * 2.0 - 1.0) * bound)
        if bias is not None:
            bias.zero_()


def zero_linear_(layer: nn.Linear) -> None:
    """Set a linear layer's weight and bias to 0 (output layers: untrained = no change)."""
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.zero_()


class Network(nn.Module):
    """Base of mxkit's networks: explicit hyper-parameters kept in ``self.hparams``."""

    hparams: dict

    @property
    def code_dim(self) -> int:
        """Size of the global dynamic code produced or read (0 if none)."""
        return int(self.hparams.get("code_dim", 0))

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.hparams.items())


class ChebConv(nn.Module):
    """Chebyshev graph convolution layer (module twin of :func:`cheb_conv`).

    Parameters
    ----------
    in_channels, out_channels : int
    order : int
        Number of Chebyshev terms ``K`` (``K - 1`` hops); >= 1.
    generator : torch.Generator, optional
        Source of the initial weights (default: a fresh unseeded draw).

    Shape
    -----
    * x: ``(..., V, in_channels)``; operator: sparse ``(V, V)``
    * output: ``(..., V, out_channels)``
    """

    def __init__(self, in_channels: int, out_channels: int, *, order: int = 3,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if order < 1:
            raise InputValueError(f"order must be >= 1; got {order}")
        self.in_channels, self.out_channels, self.order = in_channels, out_channels, order
        self.weight = nn.Parameter(torch.empty(order, in_channels, out_channels))
        self.bias = nn.Parameter(torch.empty(out_channels))
        linear_init_(self.weight, self.bias, order * in_channels, generator)

    def forward(self, x: torch.Tensor, operator: torch.Tensor) -> torch.Tensor:
        return cheb_conv(x, operator, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, order={self.order}"


def temporal_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                  *, dilation: int = 1) -> torch.Tensor:
    """Residual dilated 1D convolution over frames: ``x + gelu(conv(x))``.

    Zero ("same") padding keeps the length; the kernel is centred (non-causal); the weight
    layout is :class:`torch.nn.Conv1d`'s.

    Parameters
    ----------
    x : Tensor, shape (T, C)
        One clip, frames first.
    weight : Tensor, shape (C, C, k), k odd
    bias : Tensor, shape (C,), optional
    dilation : int

    Returns
    -------
    Tensor, shape (T, C)
    """
    k = weight.shape[-1]
    if k % 2 != 1:
        raise InputValueError(f"temporal kernel size must be odd; got {k}")
    # an explicit shift-and-matmul: the same result as F.conv1d(padding=pad), but one GEMM
    # (CPU conv1d on such tiny inputs is slow and its threading erratic)
    pad = dilation * (k // 2)
    T, C = x.shape
    xp = F.pad(x, (0, 0, pad, pad))
    cols = torch.cat([xp[j * dilation:j * dilation + T] for j in range(k)], 1)    # (T, k C)
    w = weight.permute(2, 1, 0).reshape(k * weight.shape[1], weight.shape[0])
    y = cols @ w
    if bias is not None:
        y = y + bias
    return x + F.gelu(y)


def _gru_direction(x: torch.Tensor, w_ih, w_hh, b_ih, b_hh) -> torch.Tensor:
    H = w_hh.shape[1]
    gi = F.linear(x, w_ih, b_ih)                                    # (T, 3H), all inputs at once
    h = x.new_zeros(H)
    out = []
    for t in range(x.shape[0]):
        gh = F.linear(h, w_hh, b_hh)
        r = torch.sigmoid(gi[t, :H] + gh[:H])
        z = torch.sigmoid(gi[t, H:2 * H] + gh[H:2 * H])
        n = torch.tanh(gi[t, 2 * H:] + r * gh[2 * H:])
        h = (1.0 - z) * n + z * h
        out.append(h)
    return torch.stack(out)


def gru(x: torch.Tensor, params: Mapping[str, torch.Tensor], *, prefix: str = "",
        bidirectional: bool = True) -> torch.Tensor:
    """One-layer GRU over a clip with :class:`torch.nn.GRU`'s equations and weight names.

    ``r = s(W_ir x + b_ir + W_hr h + b_hr)``, ``z = s(W_iz x + b_iz + W_hz h + b_hz)``,
    ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``, ``h_0 = 0``.

    Parameters
    ----------
    x : Tensor, shape (T, C)
    params : mapping
        ``{prefix}weight_ih_l0`` (3H, C), ``{prefix}weight_hh_l0`` (3H, H),
        ``{prefix}bias_ih_l0``, ``{prefix}bias_hh_l0`` (3H,), and the same with the suffix
        ``_reverse`` when ``bidirectional`` (as in ``nn.GRU(C, H, bidirectional=True)``).
    prefix : str
        Key prefix, e.g. ``"gru."``.
    bidirectional : bool

    Returns
    -------
    Tensor, shape (T, H) or (T, 2H)
        Hidden states (forward, then backward direction).
    """
    check_shape(x, ("T", "C"), "x")

    def w(name: str, suffix: str) -> torch.Tensor:
        return params[f"{prefix}{name}_l0{suffix}"]

    fwd = _gru_direction(x, *(w(n, "") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
    if not bidirectional:
        return fwd
    bwd = _gru_direction(x.flip(0), *(w(n, "_reverse") for n in
                                      ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
    return torch.cat([fwd, bwd.flip(0)], -1)
