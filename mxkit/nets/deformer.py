"""MeshDeformer: the local, flow-guided per-vertex refinement (a graph network on the mesh).

Input per vertex and frame: the channels of :func:`mxkit.nets.features.deformer_inputs`
(flow, strain, landmark and coarse motion in amplitude units, geometry, log amplitude),
concatenated with the clip's global dynamic code. Network, frame by frame::

    h   = gelu(W_in [x, z] + b)                         (N, V, H)
    h   = h + gelu(ChebConv_l(h)),  l = 1..n_layers     (N, V, H)  K-1 hops each
    g   = W_out h + b_out                               (N, V, 3)
    delta = A * (g(x) - g(x_onset)) * mask              (N, V, 3)  metres, model frame

Subtracting the response to the onset frame's input makes the offsets exactly 0 at the
onset; multiplying by the clip amplitude ``A`` undoes the intensity normalisation of the
inputs; ``mask`` (skin by default) keeps eyes, teeth and tongue rigid. The output layer
starts at zero (an untrained deformer changes nothing). The weights do not depend on the
mesh size: the graph comes in as the Chebyshev operator of
:func:`mxkit.nets.graph.chebyshev_operator`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_shape
from ..errors import InputValueError
from .layers import ChebConv, Network, cheb_conv, linear_init_, zero_linear_

__all__ = ["MeshDeformer", "mesh_deformer"]


def mesh_deformer(x: torch.Tensor, reference: torch.Tensor, operator: torch.Tensor,
                  params: Mapping[str, torch.Tensor], *, amplitude: torch.Tensor,
                  code: torch.Tensor | None = None, vertex_mask: torch.Tensor | None = None,
                  n_layers: int = 3) -> torch.Tensor:
    """The MeshDeformer as a pure function of its inputs and parameters.

    Parameters
    ----------
    x : Tensor, shape (N, V, C)
        Per-vertex inputs of ``N`` frames (:func:`~mxkit.nets.features.deformer_inputs`).
    reference : Tensor, shape (V, C)
        The inputs of the onset frame; its output is subtracted.
    operator : Tensor, shape (V, V), sparse
        Chebyshev operator of the mesh.
    params : mapping of str to Tensor
        ``dict(MeshDeformer(...).named_parameters())``.
    amplitude : Tensor, shape ()
        Clip amplitude ``A`` in metres.
    code : Tensor, shape (D,), optional
        Global dynamic code (required when the deformer was built with ``code_dim > 0``).
    vertex_mask : Tensor, shape (V,), optional
        Multiplies the offsets (1 = free, 0 = rigid).
    n_layers : int
        Number of graph convolution layers.

    Returns
    -------
    Tensor, shape (N, V, 3)
        Offsets in metres (model frame).
    """
    N, V, C = check_shape(x, ("N", "V", "C"), "x").values()
    check_shape(reference, (V, C), "reference")
    xs = torch.cat([reference[None], x], 0)                              # (N + 1, V, C)
    if code is not None:
        xs = torch.cat([xs, code.expand(N + 1, V, code.shape[-1])], -1)
    h = F.gelu(F.linear(xs, params["in_proj.weight"], params["in_proj.bias"]))
    for i in range(n_layers):
        h = h + F.gelu(cheb_conv(h, operator, params[f"convs.{i}.weight"],
                                 params[f"convs.{i}.bias"]))
    g = F.linear(h, params["out.weight"], params["out.bias"])
    delta = amplitude * (g[1:] - g[:1])
    if vertex_mask is not None:
        delta = delta * vertex_mask[None, :, None]
    return delta


class MeshDeformer(Network):
    """Local flow-guided mesh deformation: per-vertex offsets from a graph network.

    Parameters
    ----------
    in_features : int
        Per-vertex input channels (:data:`mxkit.nets.DEFORMER_IN_FEATURES`).
    code_dim : int
        Size of the global dynamic code appended to every vertex (0: no code).
    hidden : int
        Feature width ``H``.
    n_layers : int
        Residual Chebyshev graph convolutions.
    order : int
        Chebyshev terms ``K`` per convolution (``K - 1`` hops).
    generator : torch.Generator, optional
        Source of the initial weights.

    Shape
    -----
    * x: ``(N, V, in_features)``; reference: ``(V, in_features)``; operator: sparse
      ``(V, V)``; amplitude: ``()``; code: ``(code_dim,)``; vertex_mask: ``(V,)``
    * output: ``(N, V, 3)`` metres
    """

    def __init__(self, in_features: int, *, code_dim: int = 16, hidden: int = 32,
                 n_layers: int = 3, order: int = 3,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        for name, val, lo in (("in_features", in_features, 1), ("code_dim", code_dim, 0),
                              ("hidden", hidden, 1), ("n_layers", n_layers, 0),
                              ("order", order, 1)):
            if not isinstance(val, int) or val < lo:
                raise InputValueError(f"{name} must be an integer >= {lo}; got {val!r}")
        self.hparams = dict(in_features=in_features, code_dim=code_dim, hidden=hidden,
                            n_layers=n_layers, order=order)
        self.in_proj = nn.Linear(in_features + code_dim, hidden)
        self.convs = nn.ModuleList(ChebConv(hidden, hidden, order=order)
                                   for _ in range(n_layers))
        self.out = nn.Linear(hidden, 3)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-draw the weights from ``generator`` (output layer at zero)."""
        linear_init_(self.in_proj.weight, self.in_proj.bias, self.in_proj.in_features, generator)
        for conv in self.convs:
            linear_init_(conv.weight, conv.bias, conv.weight.shape[0] * conv.weight.shape[1],
                         generator, gain=0.5)
        zero_linear_(self.out)

    def forward(self, x: torch.Tensor, reference: torch.Tensor, operator: torch.Tensor, *,
                amplitude: torch.Tensor, code: torch.Tensor | None = None,
                vertex_mask: torch.Tensor | None = None) -> torch.Tensor:
        if (code is None) != (self.code_dim == 0):
            raise InputValueError(f"this MeshDeformer takes a code of size {self.code_dim}; "
                                  f"got {None if code is None else tuple(code.shape)}")
        return mesh_deformer(x, reference, operator, dict(self.named_parameters()),
                             amplitude=amplitude, code=code, vertex_mask=vertex_mask,
                             n_layers=self.hparams["n_layers"])
