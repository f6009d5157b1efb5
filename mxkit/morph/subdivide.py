"""Loop subdivision of meshes and of whole linear face models.

Loop subdivision is linear in the vertex positions: one sparse matrix ``S`` (V', V) maps any
per-vertex quantity of the coarse mesh to the fine one. Applying the same ``S`` to the
template and to every identity and expression displacement subdivides the whole model, so
``subdivide(model)(β, ψ) == S @ model(β, ψ)`` exactly.

Rules (Loop 1987): a new edge point is 3/8 of each endpoint plus 1/8 of the two opposite
vertices (1/2 + 1/2 on boundary or non-manifold edges); an old interior vertex of valence n
becomes (1 - nβ) v + β Σ neighbours with β = (5/8 - (3/8 + cos(2π/n)/4)²)/n, and an old
boundary vertex 3/4 v + 1/8 of its two boundary neighbours.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .._checks import check_shape
from ..errors import InputValueError
from .model import FaceModel, LandmarkEmbedding

__all__ = ["LoopSubdivision", "loop_subdivision", "subdivide_model", "subdivide_barycentric"]


class LoopSubdivision(NamedTuple):
    """One level of Loop subdivision.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix, shape (V + E, V)
        Fine vertices as linear combinations of coarse ones (old vertices first).
    faces : ndarray, shape (4F, 3)
        Fine triangles; coarse triangle ``f`` becomes ``4f .. 4f+3``.
    edges : ndarray, shape (E, 2)
        Coarse edges (sorted endpoints); fine vertex ``V + e`` lies on edge ``e``.
    """

    matrix: sp.csr_matrix
    faces: np.ndarray
    edges: np.ndarray


def _split_faces(faces: np.ndarray, n_vertices: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique edges, the edge id of each face side (ab, bc, ca), and the 4-way split faces."""
    sides = np.stack([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]], axis=1)  # (F,3,2)
    sorted_sides = np.sort(sides.reshape(-1, 2), axis=1)
    edges, inverse = np.unique(sorted_sides, axis=0, return_inverse=True)
    side_edge = inverse.reshape(-1, 3)
    a, b, c = faces.T
    ab, bc, ca = (n_vertices + side_edge).T
    fine = np.stack([np.stack([a, ab, ca], 1), np.stack([ab, b, bc], 1),
                     np.stack([ca, bc, c], 1), np.stack([ab, bc, ca], 1)], axis=1)
    return edges, side_edge, fine.reshape(-1, 3)


def loop_subdivision(faces: np.ndarray, n_vertices: int) -> LoopSubdivision:
    """Build the Loop subdivision operator of a triangle mesh.

    Parameters
    ----------
    faces : array, shape (F, 3)
    n_vertices : int

    Returns
    -------
    LoopSubdivision

    Examples
    --------
    >>> op = loop_subdivision(np.array([[0, 1, 2]]), 3)
    >>> op.matrix.shape, op.faces.shape
    ((6, 3), (4, 3))
    """
    faces = np.asarray(faces, dtype=np.int64)
    check_shape(faces, ("F", 3), "faces")
    V = int(n_vertices)
    edges, side_edge, fine_faces = _split_faces(faces, V)
    E = len(edges)

    # opposite vertex of each face side, grouped by edge
    opposite = np.stack([faces[:, 2], faces[:, 0], faces[:, 1]], axis=1).reshape(-1)
    edge_of_side = side_edge.reshape(-1)
    count = np.bincount(edge_of_side, minlength=E)
    manifold = count == 2
    order = np.argsort(edge_of_side, kind="stable")
    starts = np.concatenate([[0], np.cumsum(count)[:-1]])

    rows, cols, vals = [], [], []
    # edge points
    e_idx = np.arange(E)
    inner = e_idx[manifold]
    opp1 = opposite[order[starts[inner]]]
    opp2 = opposite[order[starts[inner] + 1]]
    for col, w in ((edges[inner, 0], 3 / 8), (edges[inner, 1], 3 / 8), (opp1, 1 / 8),
                   (opp2, 1 / 8)):
        rows.append(V + inner), cols.append(col), vals.append(np.full(len(inner), w))
    crease = e_idx[~manifold]
    for col in (edges[crease, 0], edges[crease, 1]):
        rows.append(V + crease), cols.append(col), vals.append(np.full(len(crease), 0.5))

    # old vertices
    nbr = sp.coo_matrix((np.ones(2 * E), (np.r_[edges[:, 0], edges[:, 1]],
                                          np.r_[edges[:, 1], edges[:, 0]])), shape=(V, V)).tocsr()
    crease_edges = edges[crease]
    crease_adj = sp.coo_matrix((np.ones(2 * len(crease)),
                                (np.r_[crease_edges[:, 0], crease_edges[:, 1]],
                                 np.r_[crease_edges[:, 1], crease_edges[:, 0]])),
                               shape=(V, V)).tocsr()
    n_crease = np.asarray(crease_adj.sum(1)).ravel()
    valence = np.diff(nbr.indptr)
    for v in range(V):
        if n_crease[v] == 2:
            ns = crease_adj.indices[crease_adj.indptr[v]:crease_adj.indptr[v + 1]]
            rows.append(np.array([v, v, v])), cols.append(np.array([v, ns[0], ns[1]]))
            vals.append(np.array([3 / 4, 1 / 8, 1 / 8]))
        elif n_crease[v] > 0 or valence[v] < 3:
            rows.append(np.array([v])), cols.append(np.array([v])), vals.append(np.array([1.0]))
        else:
            n = valence[v]
            beta = (5 / 8 - (3 / 8 + np.cos(2 * np.pi / n) / 4) ** 2) / n
            ns = nbr.indices[nbr.indptr[v]:nbr.indptr[v + 1]]
            rows.append(np.full(n + 1, v)), cols.append(np.r_[v, ns])
            vals.append(np.r_[1 - n * beta, np.full(n, beta)])
    matrix = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(V + E, V)).tocsr()
    return LoopSubdivision(matrix, fine_faces, edges)


def subdivide_barycentric(face: np.ndarray, bary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Re-express barycentric points of coarse triangles in the 4-way split triangles.

    Parameters
    ----------
    face : array, shape (L,)
        Coarse triangle indices.
    bary : array, shape (L, 3)

    Returns
    -------
    fine_face : ndarray, shape (L,)
    fine_bary : ndarray, shape (L, 3)
        Same points in the (midpoint) split of each triangle.
    """
    face = np.asarray(face, dtype=np.int64)
    w = np.asarray(bary, dtype=np.float64)
    wa, wb, wc = w.T
    sub = np.full(len(face), 3)
    sub[wa >= 0.5] = 0
    sub[wb >= 0.5] = 1
    sub[wc >= 0.5] = 2
    out = np.stack([1 - 2 * wc, 1 - 2 * wa, 1 - 2 * wb], 1)  # centre triangle (ab, bc, ca)
    out[sub == 0] = np.stack([2 * wa - 1, 2 * wb, 2 * wc], 1)[sub == 0]
    out[sub == 1] = np.stack([2 * wa, 2 * wb - 1, 2 * wc], 1)[sub == 1]
    out[sub == 2] = np.stack([2 * wa, 2 * wb, 2 * wc - 1], 1)[sub == 2]
    return 4 * face + sub, out.astype(np.float32)


def _subdivide_once(model: FaceModel) -> FaceModel:
    faces = model.faces.cpu().numpy()
    V = model.n_vertices
    op = loop_subdivision(faces, V)
    S = op.matrix

    def apply(x: np.ndarray) -> np.ndarray:  # (..., V, 3) -> (..., V', 3)
        lead = x.shape[:-2]
        flat = np.moveaxis(x.reshape(-1, V, 3), 1, 0).reshape(V, -1)
        out = (S @ flat).reshape(S.shape[0], -1, 3)
        return np.moveaxis(out, 0, 1).reshape(*lead, S.shape[0], 3)

    t = model.v_template.detach().cpu().double().numpy()
    landmarks = {}
    for kind, emb in model.landmark_embeddings.items():
        f, b = subdivide_barycentric(emb.faces, emb.bary)
        landmarks[kind] = LandmarkEmbedding(f, b)
    a_end = op.edges[:, 0]
    region_labels = np.r_[model.region_labels, model.region_labels[a_end]]
    part_labels = np.r_[model.part_labels, model.part_labels[a_end]]
    avg = sp.coo_matrix((np.full(2 * len(op.edges), 0.5),
                         (np.r_[np.arange(len(op.edges)), np.arange(len(op.edges))],
                          np.r_[op.edges[:, 0], op.edges[:, 1]])),
                        shape=(len(op.edges), V)).tocsr()
    au_masks = {k: np.r_[m, avg @ m] for k, m in model.au_masks.items()}
    mirror = None
    if model.mirror is not None:
        lookup = {tuple(e): i for i, e in enumerate(op.edges.tolist())}
        me = np.sort(model.mirror[op.edges], axis=1)
        twin = np.array([lookup.get(tuple(e), i) for i, e in enumerate(me.tolist())])
        mirror = np.r_[model.mirror, V + twin]
    uv = faces_uv = None
    if model.uv is not None and model.faces_uv is not None:
        uv_edges, _, uv_fine = _split_faces(model.faces_uv, len(model.uv))
        uv = np.r_[model.uv, model.uv[uv_edges].mean(1)]
        faces_uv = uv_fine
    meta = dict(model.meta)
    meta["subdivision_levels"] = int(meta.get("subdivision_levels", 0)) + 1
    return FaceModel(
        name=model.name, v_template=apply(t),
        faces=op.faces, expr_basis=apply(model.expr_basis.detach().cpu().double().numpy()),
        expr_names=model.expression_names,
        id_basis=apply(model.id_basis.detach().cpu().double().numpy()),
        id_names=model.identity_names, landmarks=landmarks, region_names=model.region_names,
        region_labels=region_labels, part_names=model.part_names, part_labels=part_labels,
        au_masks=au_masks, mirror=mirror, uv=uv, faces_uv=faces_uv, meta=meta,
        expression_kind=model.expression_kind, dtype=model.v_template.dtype,
    ).to(model.v_template.device)


def subdivide_model(model: FaceModel, *, levels: int = 1) -> FaceModel:
    """Loop-subdivide a linear face model (template, all bases, landmarks, regions, UVs).

    Parameters
    ----------
    model : FaceModel
        A model without skinned joints.
    levels : int
        Number of subdivision levels (triangles x 4 each).

    Returns
    -------
    FaceModel
        Landmarks keep their barycentric position in the split control triangles (the
        smoothing moves the surface by a fraction of a millimetre on ``mh-head``).
    """
    if int(levels) != levels or levels < 0:
        raise InputValueError(f"levels must be a non-negative integer; got {levels!r}")
    if model.n_joints:
        raise InputValueError(f"subdividing a skinned model ({model.name!r}, "
                              f"{model.n_joints} joints) is not supported")
    for _ in range(int(levels)):
        model = _subdivide_once(model)
    return model
