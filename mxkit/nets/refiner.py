"""The two refinement modules composed: coarse fit -> (+ DynamicEncoder) -> (+ MeshDeformer).

:class:`DynamicRefiner` holds an optional :class:`~mxkit.nets.DynamicEncoder` and an
optional :class:`~mxkit.nets.MeshDeformer` (the ablation variants are the combinations) and
:func:`refine` applies them to a clip's :class:`~mxkit.nets.ClipFeatures`::

    dpsi, z   = encoder(features)                            (T, E), (D,)
    X_t       = X^coarse_t + sum_e dpsi_te B_e                (refined coarse mesh)
    delta_t   = deformer(deformer_inputs(features, X_t), z)   (N, V, 3)
    vertices  = X_t + delta_t

Only expression residuals and per-vertex offsets are added: the modules are plug-and-play
on top of any coarse reconstruction (DESIGN §4).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn

from .._checks import check_int, renamed_keywords
from ..errors import InputValueError
from .deformer import MeshDeformer
from .encoder import DynamicEncoder
from .features import DEFORMER_CHANNELS, DEFORMER_IN_FEATURES, ClipFeatures, deformer_inputs
from .features import encoder_in_features as _enc_width

__all__ = ["DynamicRefiner", "RefinerOutput", "refine"]


class RefinerOutput(NamedTuple):
    """Output of :func:`refine`.

    Attributes
    ----------
    delta_expression : Tensor, shape (T, E)
        Expression residuals (zeros without an encoder).
    code : Tensor, shape (D,) or None
        Global dynamic code (None without an encoder).
    frames : Tensor, shape (N,), int64
        The frames of the per-frame outputs below.
    coarse : Tensor, shape (N, V, 3)
        Coarse mesh with the residuals, metres (model frame, unposed).
    offsets : Tensor, shape (N, V, 3)
        Per-vertex offsets, metres (zeros without a deformer).
    vertices : Tensor, shape (N, V, 3)
        ``coarse + offsets``.
    """

    delta_expression: torch.Tensor
    code: torch.Tensor | None
    frames: torch.Tensor
    coarse: torch.Tensor
    offsets: torch.Tensor
    vertices: torch.Tensor


def refine(features: ClipFeatures, expression_basis: torch.Tensor, operator: torch.Tensor | None,
           *, encoder: Any = None, deformer: Any = None, frames: Any = None,
           chunk_size: int = 16) -> RefinerOutput:
    """Apply an encoder and/or a deformer to one clip (either may be None).

    Parameters
    ----------
    features : ClipFeatures
    expression_basis : Tensor, shape (E, V, 3)
        The face model's expression basis (``model.expr_basis``), metres per unit weight.
    operator : Tensor, shape (V, V), sparse, optional
        Chebyshev operator of the mesh (needed with a deformer).
    encoder : DynamicEncoder or callable, optional
    deformer : MeshDeformer or callable, optional
    frames : sequence of int or Tensor (N,), optional
        Frames to compute the per-frame outputs for (default all).
    chunk_size : int
        Frames per deformer call (bounds memory on long clips).

    Returns
    -------
    RefinerOutput
    """
    chunk_size = check_int(chunk_size, "chunk_size")
    f = features
    T, E = f.n_frames, expression_basis.shape[0]
    dev = f.device
    frames = (torch.arange(T, device=dev) if frames is None
              else torch.as_tensor(frames, dtype=torch.int64, device=dev).reshape(-1))
    if frames.numel() and (int(frames.min()) < 0 or int(frames.max()) >= T):
        raise InputValueError(f"frames must lie in [0, {T})")
    if encoder is not None:
        dpsi, code = encoder(f.encoder_input, onset=f.onset, amplitude=f.amplitude)
    else:
        dpsi, code = f.encoder_input.new_zeros(T, E), None
    coarse = f.coarse_vertices[frames]
    if encoder is not None:
        coarse = coarse + torch.einsum("ne,evc->nvc", dpsi[frames], expression_basis.to(dpsi))
    if deformer is None:
        offsets = torch.zeros_like(coarse)
    else:
        if operator is None:
            raise InputValueError("a deformer needs the mesh's Chebyshev operator")
        use_code = code if getattr(deformer, "code_dim", 0) else None
        ref = deformer_inputs(f, f.coarse_vertices[f.onset:f.onset + 1],
                              torch.tensor([f.onset], device=dev))[0]
        parts = []
        for i in range(0, frames.numel(), chunk_size):
            sel = slice(i, i + chunk_size)
            x = deformer_inputs(f, coarse[sel], frames[sel])
            parts.append(deformer(x, ref, operator, amplitude=f.amplitude, code=use_code,
                                  vertex_mask=f.vertex_mask))
        offsets = torch.cat(parts) if parts else torch.zeros_like(coarse)
        offsets = torch.where((frames == f.onset)[:, None, None], torch.zeros_like(offsets),
                              offsets)
    return RefinerOutput(dpsi, code, frames, coarse, offsets, coarse + offsets)


class DynamicRefiner(nn.Module):
    """An optional DynamicEncoder and an optional MeshDeformer, applied by :func:`refine`.

    Parameters
    ----------
    encoder : DynamicEncoder, optional
    deformer : MeshDeformer, optional
        With ``code_dim > 0`` it reads the encoder's code, so an encoder is then required.
    topology : dict, optional
        What the weights were built for (``model_name``, ``n_vertices``, ``n_expressions``,
        ``n_landmarks``, ``n_regions``); stored in checkpoints and checked on load.

    Shape
    -----
    * features: a :class:`ClipFeatures` of ``T`` frames; expression_basis: ``(E, V, 3)``
    * output: :class:`RefinerOutput`
    """

    def __init__(self, encoder: DynamicEncoder | None = None,
                 deformer: MeshDeformer | None = None, *,
                 topology: dict | None = None) -> None:
        super().__init__()
        if encoder is None and deformer is None:
            raise InputValueError("a DynamicRefiner needs an encoder, a deformer or both")
        if deformer is not None and deformer.code_dim and encoder is None:
            raise InputValueError("a deformer with code_dim > 0 needs an encoder")
        if deformer is not None and encoder is not None and deformer.code_dim not in (
                0, encoder.code_dim):
            raise InputValueError(f"deformer code_dim {deformer.code_dim} != encoder code_dim "
                                  f"{encoder.code_dim}")
        self.encoder = encoder
        self.deformer = deformer
        self.topology = dict(topology or {})

    @classmethod
    @renamed_keywords(kind="scheme")
    def for_model(cls, model: Any, *, encoder: bool = True, deformer: bool = True,
                  hidden: int = 32, code_dim: int = 16, gru_hidden: int = 16,
                  n_blocks: int = 2, n_layers: int = 3, order: int = 3, scheme: str = "ibug68",
                  generator: torch.Generator | None = None) -> DynamicRefiner:
        """Build the networks sized for a face model (random weights from ``generator``).

        Parameters
        ----------
        model : FaceModel
        encoder, deformer : bool
            Which modules to include (the ablation variants).
        hidden, code_dim, gru_hidden, n_blocks : int
            Encoder (and deformer ``hidden``) sizes; see the classes.
        n_layers, order : int
            Deformer graph convolutions and Chebyshev terms.
        scheme : str
            Landmark scheme (embedding) the features use (``kind`` is a deprecated alias).
        generator : torch.Generator, optional
        """
        L = len(model.landmark_embeddings[scheme])
        R = len(model.region_names)
        E = model.n_expressions
        topo = dict(model_name=str(model.name), n_vertices=int(model.n_vertices),
                    n_expressions=int(E), n_landmarks=int(L), n_regions=int(R))
        enc = (DynamicEncoder(_enc_width(L, R, E), E, hidden=hidden, gru_hidden=gru_hidden,
                              code_dim=code_dim, n_blocks=n_blocks, generator=generator)
               if encoder else None)
        dfm = (MeshDeformer(DEFORMER_IN_FEATURES, code_dim=code_dim if encoder else 0,
                            hidden=hidden, n_layers=n_layers, order=order, generator=generator)
               if deformer else None)
        return cls(enc, dfm, topology=topo)

    def meta(self) -> dict[str, Any]:
        """What the weights mean: topology, module sizes and the deformer's input channels."""
        return {
            "topology": dict(self.topology),
            "encoder": None if self.encoder is None else dict(self.encoder.hparams),
            "deformer": None if self.deformer is None else dict(self.deformer.hparams),
            "deformer_channels": list(DEFORMER_CHANNELS),
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> DynamicRefiner:
        """Rebuild an (untrained) refiner with the sizes recorded by :meth:`meta`."""
        enc = meta.get("encoder")
        dfm = meta.get("deformer")
        encoder = None if enc is None else DynamicEncoder(
            enc["in_features"], enc["n_expressions"],
            **{k: v for k, v in enc.items() if k not in ("in_features", "n_expressions")})
        deformer = None if dfm is None else MeshDeformer(
            dfm["in_features"], **{k: v for k, v in dfm.items() if k != "in_features"})
        return cls(encoder, deformer, topology=meta.get("topology"))

    def forward(self, features: ClipFeatures, expression_basis: torch.Tensor,
                operator: torch.Tensor | None = None, *, frames: Any = None,
                chunk_size: int = 16) -> RefinerOutput:
        return refine(features, expression_basis, operator, encoder=self.encoder,
                      deformer=self.deformer, frames=frames, chunk_size=chunk_size)
