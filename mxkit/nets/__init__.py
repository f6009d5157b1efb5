"""Neural modules of the refinement: the global DynamicEncoder and the local MeshDeformer.

* :mod:`.features` -- :func:`clip_features` / :func:`features_from_prepared` build a
  clip's :class:`ClipFeatures` once (motion relative to the onset, intensity-normalised).
* :mod:`.encoder` -- :class:`DynamicEncoder` (:func:`dynamic_encoder`): temporal network
  -> global dynamic code and per-frame expression residuals.
* :mod:`.deformer` -- :class:`MeshDeformer` (:func:`mesh_deformer`): Chebyshev graph
  network -> per-vertex offsets.
* :mod:`.refiner` -- :class:`DynamicRefiner` (:func:`refine`): both composed.
* :mod:`.graph` -- mesh graph operators as sparse tensors (:class:`MeshGraph`).
* :mod:`.layers` -- functional layers with module twins.
* :mod:`.variants` -- :data:`VARIANTS` (the reconstruction variants, in ablation order) and
  :data:`NETWORK_VARIANTS` (the networks each one runs).

Every network is a pure function of its inputs and a parameter mapping, with a thin
``nn.Module`` that owns the parameters; devices follow the inputs (CPU or CUDA).
"""

from .deformer import MeshDeformer, mesh_deformer
from .encoder import DynamicEncoder, EncoderOutput, dynamic_encoder
from .features import (
    DEFORMER_CHANNELS,
    DEFORMER_IN_FEATURES,
    ClipFeatures,
    backproject,
    clip_features,
    deformer_inputs,
    encoder_in_features,
    estimate_distance,
    features_from_prepared,
    plane_projection,
    project_points,
    register_rigid,
    to_metric,
)
from .graph import (
    MeshGraph,
    adjacency_matrix,
    apply_operator,
    chebyshev_operator,
    cotangent_laplacian,
    mesh_edges,
    normalized_laplacian,
    uniform_laplacian,
    vertex_normals,
)
from .layers import ChebConv, cheb_conv, gru, temporal_conv
from .refiner import DynamicRefiner, RefinerOutput, refine
from .variants import NETWORK_VARIANTS, VARIANTS

__all__ = [
    "DynamicEncoder", "dynamic_encoder", "EncoderOutput",
    "MeshDeformer", "mesh_deformer",
    "DynamicRefiner", "RefinerOutput", "refine",
    "ClipFeatures", "clip_features", "features_from_prepared", "deformer_inputs",
    "encoder_in_features", "backproject", "plane_projection", "project_points", "to_metric",
    "register_rigid", "estimate_distance",
    "DEFORMER_CHANNELS", "DEFORMER_IN_FEATURES",
    "MeshGraph", "mesh_edges", "adjacency_matrix", "uniform_laplacian",
    "normalized_laplacian", "chebyshev_operator", "cotangent_laplacian", "vertex_normals",
    "apply_operator",
    "ChebConv", "cheb_conv", "gru", "temporal_conv",
    "VARIANTS", "NETWORK_VARIANTS",
]
