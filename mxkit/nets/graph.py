"""Mesh graph operators as sparse torch tensors: edges, adjacency, Laplacians (normals:
:func:`mxkit.geometry.vertex_normals`, re-exported here).

All operators are built from a triangle list and returned as sparse COO tensors of shape
``(V, V)`` (coalesced, so ``torch.sparse.mm`` works on CPU and CUDA alike). Devices and
dtypes are explicit arguments of the builders, or follow the vertices passed in.

Definitions (``A`` adjacency with ``A_ij = 1`` for every mesh edge ``ij``, ``D`` its degree
diagonal):

* uniform (random-walk) Laplacian ``L = I - D^-1 A``: ``(L x)_i = x_i - mean_{j~i} x_j``;
* symmetric normalised Laplacian ``L_sym = I - D^-1/2 A D^-1/2`` (eigenvalues in [0, 2]);
* Chebyshev operator ``L~ = 2 L_sym / lambda_max - I`` with ``lambda_max = 2``, i.e.
  ``L~ = -D^-1/2 A D^-1/2`` (spectrum in [-1, 1]; Defferrard et al., NeurIPS 2016);
* cotangent Laplacian ``L_cot = D_w - W`` with ``W_ij = (cot a_ij + cot b_ij) / 2``, the
  angles opposite edge ``ij`` (positive semi-definite; exact on linear functions of a
  planar mesh at interior vertices).

Every Laplacian maps a constant field to 0. Isolated vertices get an empty row.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._checks import check_finite, check_option, check_shape, renamed_keywords
from ..errors import InputValueError
from ..geometry import _face_indices, vertex_normals

__all__ = [
    "MeshGraph",
    "mesh_edges",
    "adjacency_matrix",
    "uniform_laplacian",
    "normalized_laplacian",
    "chebyshev_operator",
    "cotangent_laplacian",
    "vertex_normals",
    "apply_operator",
    "GRAPH_OPERATORS",
]

#: Operators of :meth:`MeshGraph.operator`.
GRAPH_OPERATORS = ("adjacency", "uniform", "normalized", "chebyshev")


def _faces_array(faces: Any, n_vertices: int) -> np.ndarray:
    if isinstance(n_vertices, bool) or not isinstance(n_vertices, (int, np.integer)) \
            or n_vertices < 1:
        raise InputValueError(f"n_vertices must be a positive integer; got {n_vertices!r}")
    return _face_indices(faces, int(n_vertices))


def mesh_edges(faces: Any, n_vertices: int) -> torch.Tensor:
    """Directed edge list of a triangle mesh: both directions of every unique edge.

    Parameters
    ----------
    faces : array or Tensor, shape (F, 3), int
    n_vertices : int
        Number of vertices ``V`` (vertices in no face become isolated nodes).

    Returns
    -------
    Tensor, shape (2, 2 * n_edges), int64, CPU
        Rows ``(source, target)``, sorted lexicographically (the order of a coalesced sparse
        tensor), no self loops, no duplicates.

    Examples
    --------
    >>> mesh_edges([[0, 1, 2]], 3).tolist()
    [[0, 0, 1, 1, 2, 2], [1, 2, 0, 2, 0, 1]]
    """
    f = _faces_array(faces, n_vertices)
    pairs = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]], 0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    both = np.concatenate([pairs, pairs[:, ::-1]], 0)
    key = np.unique(both[:, 0] * int(n_vertices) + both[:, 1])
    return torch.as_tensor(np.stack([key // n_vertices, key % n_vertices]), dtype=torch.int64)


def _sparse(index: torch.Tensor, values: torch.Tensor, n: int) -> torch.Tensor:
    # torch warns that invariant checks are "implicitly disabled" whatever the argument says
    # (torch 2.12); the indices are validated here, so the check is requested and the
    # warning silenced locally (no global torch state is changed).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse invariant checks",
                                category=UserWarning)
        return torch.sparse_coo_tensor(index, values, (n, n),
                                       check_invariants=True).coalesce()


def _degree(edges: torch.Tensor, n: int, dtype: torch.dtype) -> torch.Tensor:
    return torch.zeros(n, dtype=dtype, device=edges.device).index_add_(
        0, edges[0], torch.ones(edges.shape[1], dtype=dtype, device=edges.device))


def adjacency_matrix(faces: Any, n_vertices: int, *, dtype: torch.dtype = torch.float32,
                     device: Any = None) -> torch.Tensor:
    """Symmetric 0/1 vertex adjacency of a triangle mesh.

    Returns
    -------
    Tensor, shape (V, V), sparse COO
        ``A_ij = 1`` where ``ij`` is a mesh edge.
    """
    e = mesh_edges(faces, n_vertices).to(device)
    return _sparse(e, torch.ones(e.shape[1], dtype=dtype, device=e.device), int(n_vertices))


def _with_diagonal(edges: torch.Tensor, off: torch.Tensor, diag: torch.Tensor,
                   n: int) -> torch.Tensor:
    idx = torch.arange(n, device=edges.device)
    index = torch.cat([edges, torch.stack([idx, idx])], 1)
    return _sparse(index, torch.cat([off, diag]), n)


def uniform_laplacian(faces: Any, n_vertices: int, *, dtype: torch.dtype = torch.float32,
                      device: Any = None) -> torch.Tensor:
    """Uniform (random-walk) graph Laplacian ``L = I - D^-1 A``.

    ``(L x)_i = x_i - mean of x over the neighbours of i``; 0 for isolated vertices.

    Returns
    -------
    Tensor, shape (V, V), sparse COO

    Examples
    --------
    >>> L = uniform_laplacian([[0, 1, 2]], 3, dtype=torch.float64)
    >>> torch.sparse.mm(L, torch.ones(3, 1, dtype=torch.float64)).abs().max().item()
    0.0
    """
    n = int(n_vertices)
    e = mesh_edges(faces, n).to(device)
    deg = _degree(e, n, dtype)
    inv = torch.where(deg > 0, 1.0 / deg.clamp_min(1.0), torch.zeros_like(deg))
    return _with_diagonal(e, -inv[e[0]], (deg > 0).to(dtype), n)


def normalized_laplacian(faces: Any, n_vertices: int, *, dtype: torch.dtype = torch.float32,
                         device: Any = None) -> torch.Tensor:
    """Symmetric normalised Laplacian ``L_sym = I - D^-1/2 A D^-1/2``.

    Returns
    -------
    Tensor, shape (V, V), sparse COO
        Symmetric, eigenvalues in [0, 2].
    """
    n = int(n_vertices)
    e = mesh_edges(faces, n).to(device)
    deg = _degree(e, n, dtype)
    isq = torch.where(deg > 0, deg.clamp_min(1.0).rsqrt(), torch.zeros_like(deg))
    return _with_diagonal(e, -isq[e[0]] * isq[e[1]], (deg > 0).to(dtype), n)


def chebyshev_operator(faces: Any, n_vertices: int, *, dtype: torch.dtype = torch.float32,
                       device: Any = None) -> torch.Tensor:
    """Rescaled Laplacian ``L~ = L_sym - I = -D^-1/2 A D^-1/2`` for Chebyshev convolutions.

    Uses the bound ``lambda_max = 2`` of the normalised Laplacian, so the spectrum of ``L~``
    lies in [-1, 1] where the Chebyshev recursion is stable.

    Returns
    -------
    Tensor, shape (V, V), sparse COO (no diagonal entries)
    """
    n = int(n_vertices)
    e = mesh_edges(faces, n).to(device)
    deg = _degree(e, n, dtype)
    isq = torch.where(deg > 0, deg.clamp_min(1.0).rsqrt(), torch.zeros_like(deg))
    return _sparse(e, -isq[e[0]] * isq[e[1]], n)


def cotangent_laplacian(vertices: torch.Tensor, faces: Any) -> torch.Tensor:
    """Cotangent Laplacian ``L = D_w - W`` of a triangle mesh (positive semi-definite).

    ``W_ij = (cot a + cot b) / 2`` over the (one or two) triangles sharing edge ``ij``, with
    ``a, b`` the angles opposite the edge. Not normalised by vertex areas. Device and dtype
    follow ``vertices``; not differentiable (the weights are computed once).

    Parameters
    ----------
    vertices : Tensor, shape (V, 3)
        Vertex positions (any length unit; the weights are scale-invariant).
    faces : array or Tensor, shape (F, 3), int

    Returns
    -------
    Tensor, shape (V, V), sparse COO

    Raises
    ------
    ShapeError, InputValueError
        On malformed input or a degenerate (zero-area) triangle.
    """
    if not torch.is_tensor(vertices):
        raise InputValueError("vertices must be a torch.Tensor")
    n = check_shape(vertices, ("V", 3), "vertices")["V"]
    check_finite(vertices, "vertices")
    f = torch.as_tensor(_faces_array(faces, n), device=vertices.device)
    v = vertices.detach()
    rows, cols, vals = [], [], []
    for k in range(3):
        i, j, o = f[:, (k + 1) % 3], f[:, (k + 2) % 3], f[:, k]   # edge ij, opposite corner o
        a, b = v[i] - v[o], v[j] - v[o]
        cross = torch.linalg.norm(torch.cross(a, b, dim=-1), dim=-1)
        if bool((cross <= 0).any()):
            raise InputValueError("cotangent_laplacian: the mesh has a degenerate triangle")
        cot = (a * b).sum(-1) / cross
        rows += [i, j]
        cols += [j, i]
        vals += [0.5 * cot, 0.5 * cot]
    index = torch.stack([torch.cat(rows), torch.cat(cols)])
    W = _sparse(index, torch.cat(vals), n)
    deg = torch.zeros(n, dtype=v.dtype, device=v.device).index_add_(0, W.indices()[0], W.values())
    idx = torch.arange(n, device=v.device)
    return _sparse(torch.cat([W.indices(), torch.stack([idx, idx])], 1),
                   torch.cat([-W.values(), deg]), n)


def apply_operator(operator: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Apply a sparse ``(V, V)`` operator to vertex features, batched over leading axes.

    Parameters
    ----------
    operator : Tensor, shape (V, V), sparse COO
    x : Tensor, shape (..., V, C)

    Returns
    -------
    Tensor, shape (..., V, C)
        ``out[..., i, :] = sum_j operator[i, j] x[..., j, :]``; differentiable w.r.t. ``x``.
    """
    V = operator.shape[0]
    check_shape(x, ("...", V, "C"), "x")
    lead = x.shape[:-2]
    C = x.shape[-1]
    flat = x.reshape(-1, V, C).permute(1, 0, 2).reshape(V, -1)       # (V, B*C)
    out = torch.sparse.mm(operator, flat)
    return out.reshape(V, -1, C).permute(1, 0, 2).reshape(*lead, V, C)


@dataclass(frozen=True, eq=False)
class MeshGraph:
    """The fixed graph of a mesh topology, with its operators built on demand.

    Build with :meth:`from_faces`. Operators are cached per ``(operator, dtype, device)``, so a
    training loop builds each once.

    Attributes
    ----------
    edges : Tensor, shape (2, 2 * n_edges), int64
        Directed edges, both directions (see :func:`mesh_edges`).
    n_vertices : int
        ``V``.
    faces : Tensor, shape (F, 3), int64
        The triangles the graph was built from.
    """

    edges: torch.Tensor
    n_vertices: int
    faces: torch.Tensor
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_faces(cls, faces: Any, n_vertices: int) -> MeshGraph:
        """Graph of a triangle mesh with ``n_vertices`` vertices."""
        f = torch.as_tensor(_faces_array(faces, n_vertices))
        return cls(edges=mesh_edges(f, n_vertices), n_vertices=int(n_vertices), faces=f)

    @classmethod
    def from_model(cls, model: Any) -> MeshGraph:
        """Graph of a :class:`~mxkit.morph.FaceModel`'s mesh."""
        return cls.from_faces(model.faces.cpu(), model.n_vertices)

    @property
    def n_edges(self) -> int:
        """Number of undirected edges."""
        return int(self.edges.shape[1] // 2)

    def degree(self) -> torch.Tensor:
        """Vertex degrees, shape (V,), int64."""
        return torch.bincount(self.edges[0], minlength=self.n_vertices)

    @renamed_keywords(kind="operator")
    def operator(self, operator: str, *, dtype: torch.dtype = torch.float32,
                 device: Any = None) -> torch.Tensor:
        """A cached sparse ``(V, V)`` operator.

        Parameters
        ----------
        operator : {"adjacency", "uniform", "normalized", "chebyshev"}
            Which operator (see the module docstring; ``kind`` is a deprecated alias).
        dtype, device
            Of the returned tensor (default float32 on the CPU).
        """
        check_option(operator, GRAPH_OPERATORS, "operator")
        device = torch.device("cpu") if device is None else torch.device(device)
        key = (operator, dtype, str(device))
        if key not in self._cache:
            build = {"adjacency": adjacency_matrix, "uniform": uniform_laplacian,
                     "normalized": normalized_laplacian, "chebyshev": chebyshev_operator}[operator]
            self._cache[key] = build(self.faces, self.n_vertices, dtype=dtype, device=device)
        return self._cache[key]
