"""The one face-model interface every mxkit stage uses.

A :class:`FaceModel` is a linear morphable model with optional skinned joints:

.. math::

    X(\\beta, \\psi, \\theta) = s\\,R\\,\\big(T + \\textstyle\\sum_k \\beta_k I_k
        + \\sum_e \\psi_e E_e\\big) + t

where ``T`` is the template (V, 3), ``I`` the identity basis (K, V, 3), ``E`` the expression
basis (E, V, 3), and ``s, R, t`` a similarity placing the head in the world. Models with
joints (FLAME) override :meth:`FaceModel.deform` to add linear blend skinning.

All fixed data are registered buffers: the model has no learnable parameters and moves
between devices with ``.to(device)``. Everything is batched and differentiable.

Model frame (all shipped models): metres, right-handed, +x toward the subject's left,
+y up, +z out of the face toward a frontal camera.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .._checks import check_finite, check_option, check_shape, renamed_attribute, renamed_keywords
from ..errors import InputValueError, ShapeError
from ..geometry import axis_angle_to_matrix
from .au import AU_TO_ARKIT, GAZE_SHAPES, parse_au_key

__all__ = ["FaceModel", "LandmarkEmbedding"]


class LandmarkEmbedding:
    """Landmarks as barycentric points on mesh triangles.

    Parameters
    ----------
    faces : array, shape (L,)
        Triangle index of each landmark.
    bary : array, shape (L, 3)
        Barycentric coordinates in that triangle (rows sum to 1).
    """

    def __init__(self, faces: Any, bary: Any):
        self.faces = np.asarray(faces, dtype=np.int64)
        self.bary = np.asarray(bary, dtype=np.float32)
        check_shape(self.faces, ("L",), "landmark faces")
        check_shape(self.bary, (len(self.faces), 3), "landmark barycentrics")

    def __len__(self) -> int:
        return len(self.faces)


def _names(x: Any) -> tuple[str, ...]:
    return tuple(str(n) for n in np.asarray(x).tolist()) if x is not None else ()


class FaceModel(nn.Module):
    """A batched, differentiable 3D morphable face model.

    Construct with :func:`mxkit.morph.load_face_model` rather than directly, unless you are
    building a model from your own arrays (as the tests do with tiny models).

    Parameters
    ----------
    name : str
        Model name, e.g. ``"mh-head"``.
    v_template : array, shape (V, 3)
        Neutral mean shape in metres.
    faces : array, shape (F, 3)
        Triangles, counter-clockwise seen from outside.
    expr_basis : array, shape (E, V, 3)
        Expression displacements at weight 1.
    expr_names : sequence of str, length E
    id_basis : array, shape (K, V, 3), optional
        Identity displacements per unit coefficient (coefficients ~ N(0, 1) a priori).
    id_names : sequence of str, length K, optional
    landmarks : mapping of str to LandmarkEmbedding, optional
        E.g. ``{"ibug68": ..., "mp468": ...}``.
    region_names, region_labels : optional
        Facial regions: names (R,) and one label per vertex (V,) (``-1`` = unlabelled).
    part_names, part_labels : optional
        Mesh parts (skin, eyes, teeth, ...): names (P,) and one label per vertex (V,).
    au_masks : mapping of str to array (V,), optional
        Soft AU-region masks in [0, 1].
    mirror : array, shape (V,), optional
        Index of each vertex's mirror twin.
    uv, faces_uv : optional
        Texture coordinates (T, 2) and per-corner indices (F, 3).
    meta : dict, optional
        Provenance and accuracy statements (free-form, JSON-compatible).
    expression_kind : {"arkit", "pca"}
        What the expression coefficients mean; the AU view needs ``"arkit"``.
    """

    def __init__(
        self,
        *,
        name: str,
        v_template: Any,
        faces: Any,
        expr_basis: Any,
        expr_names: Sequence[str],
        id_basis: Any = None,
        id_names: Sequence[str] | None = None,
        landmarks: Mapping[str, LandmarkEmbedding] | None = None,
        region_names: Sequence[str] | None = None,
        region_labels: Any = None,
        part_names: Sequence[str] | None = None,
        part_labels: Any = None,
        au_masks: Mapping[str, Any] | None = None,
        mirror: Any = None,
        uv: Any = None,
        faces_uv: Any = None,
        meta: dict | None = None,
        expression_kind: str = "arkit",
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.name = str(name)
        self.meta = dict(meta or {})
        self.expression_kind = check_option(expression_kind, ("arkit", "pca"), "expression_kind")
        v_template = np.asarray(v_template)
        V = check_shape(v_template, ("V", 3), "v_template")["V"]
        faces = np.asarray(faces, dtype=np.int64)
        check_shape(faces, ("F", 3), "faces")
        if faces.size and (faces.min() < 0 or faces.max() >= V):
            raise InputValueError(f"faces index vertices outside [0, {V}); got range "
                                  f"[{faces.min()}, {faces.max()}]")
        expr_basis = np.asarray(expr_basis)
        check_shape(expr_basis, ("E", V, 3), "expr_basis")
        self.expression_names: tuple[str, ...] = tuple(expr_names)
        if len(self.expression_names) != expr_basis.shape[0]:
            raise ShapeError(f"expr_names has {len(self.expression_names)} names for "
                             f"{expr_basis.shape[0]} expression shapes")
        if id_basis is None:
            id_basis = np.zeros((0, V, 3), dtype=np.float32)
        id_basis = np.asarray(id_basis)
        check_shape(id_basis, ("K", V, 3), "id_basis")
        self.identity_names: tuple[str, ...] = (
            tuple(id_names) if id_names is not None
            else tuple(f"id{k:02d}" for k in range(id_basis.shape[0]))
        )
        if len(self.identity_names) != id_basis.shape[0]:
            raise ShapeError(f"id_names has {len(self.identity_names)} names for "
                             f"{id_basis.shape[0]} identity components")
        for arr, what in ((v_template, "v_template"), (expr_basis, "expr_basis"),
                          (id_basis, "id_basis")):
            check_finite(arr, what)

        def buf(x, dt=dtype):
            return torch.as_tensor(np.ascontiguousarray(x), dtype=dt)

        self.register_buffer("v_template", buf(v_template), persistent=False)
        self.register_buffer("faces", buf(faces, torch.int64), persistent=False)
        self.register_buffer("expr_basis", buf(expr_basis), persistent=False)
        self.register_buffer("id_basis", buf(id_basis), persistent=False)

        self.landmark_embeddings: dict[str, LandmarkEmbedding] = dict(landmarks or {})
        for scheme, emb in self.landmark_embeddings.items():
            if len(emb) and (emb.faces.min() < 0 or emb.faces.max() >= len(faces)):
                raise InputValueError(f"landmark embedding {scheme!r} refers to triangles outside "
                                      f"[0, {len(faces)})")
            self.register_buffer(f"_lmk_{scheme}_faces", torch.as_tensor(emb.faces),
                                 persistent=False)
            self.register_buffer(f"_lmk_{scheme}_bary", buf(emb.bary), persistent=False)

        self.region_names: tuple[str, ...] = tuple(region_names or ())
        self.region_labels = (np.asarray(region_labels, dtype=np.int64) if region_labels
                              is not None else np.full(V, -1, dtype=np.int64))
        self.part_names: tuple[str, ...] = tuple(part_names or ("skin",))
        self.part_labels = (np.asarray(part_labels, dtype=np.int64) if part_labels is not None
                            else np.zeros(V, dtype=np.int64))
        for arr, what in ((self.region_labels, "region_labels"),
                          (self.part_labels, "part_labels")):
            check_shape(arr, (V,), what)
        self.au_masks: dict[str, np.ndarray] = {
            k: np.asarray(v, dtype=np.float32) for k, v in (au_masks or {}).items()
        }
        for k, m in self.au_masks.items():
            check_shape(m, (V,), f"au_masks[{k!r}]")
        self.mirror = np.asarray(mirror, dtype=np.int64) if mirror is not None else None
        self.uv = np.asarray(uv, dtype=np.float32) if uv is not None else None
        self.faces_uv = np.asarray(faces_uv, dtype=np.int64) if faces_uv is not None else None
        self._au_matrix: torch.Tensor | None = None

    # ------------------------------------------------------------------ sizes and names
    @property
    def n_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def n_faces(self) -> int:
        return int(self.faces.shape[0])

    @property
    def n_expressions(self) -> int:
        return int(self.expr_basis.shape[0])

    @property
    def n_identity(self) -> int:
        return int(self.id_basis.shape[0])

    @property
    def n_joints(self) -> int:
        """Number of skinned joints whose rotations :meth:`forward` accepts as ``pose``."""
        return 0

    @property
    def landmark_schemes(self) -> tuple[str, ...]:
        """Names of the landmark embeddings (schemes) of :meth:`landmarks` (``"ibug68"``, ...)."""
        return tuple(self.landmark_embeddings)

    landmark_kinds = renamed_attribute("landmark_schemes", old="landmark_kinds")

    def expression_index(self, names: str | Sequence[str]) -> list[int]:
        """Indices of expression shapes by name (raises naming the unknown one)."""
        names = [names] if isinstance(names, str) else list(names)
        lookup = {n: i for i, n in enumerate(self.expression_names)}
        missing = [n for n in names if n not in lookup]
        if missing:
            raise InputValueError(f"unknown expression names {missing} for model {self.name!r}; "
                                  f"known: {list(self.expression_names)}")
        return [lookup[n] for n in names]

    def expression_mask(self, *, exclude: Sequence[str] = ("gaze",)) -> torch.Tensor:
        """Boolean mask (E,) of the expression shapes to use, e.g. when fitting.

        ``exclude`` holds shape names or the groups ``"gaze"`` (eyeLook*) and ``"tongue"``.
        """
        drop: set[str] = set()
        for item in exclude:
            if item == "gaze":
                drop |= set(GAZE_SHAPES)
            elif item == "tongue":
                drop.add("tongueOut")
            else:
                drop.add(item)
        return torch.tensor([n not in drop for n in self.expression_names], dtype=torch.bool)

    # ------------------------------------------------------------------ forward
    def _batch(self, args: dict[str, torch.Tensor | None], widths: dict[str, int]) -> int:
        sizes = set()
        for key, value in args.items():
            if value is None:
                continue
            if not torch.is_tensor(value):
                raise InputValueError(f"{key} must be a torch.Tensor; got {type(value).__name__}")
            if key == "rotation" and value.dim() == 3:  # (B, 3, 3) matrices; (B, 3) is axis-angle
                check_shape(value, ("B", 3, 3), key)
            elif key == "scale":
                check_shape(value, ("B",), key)
            elif key == "pose":
                check_shape(value, ("B", self.n_joints, 3), key)
            else:
                check_shape(value, ("B", widths[key]), key)
            check_finite(value, key)
            sizes.add(value.shape[0])
        if len(sizes) > 1:
            raise ShapeError(f"all coefficient tensors must share the batch size; got {sorted(sizes)}")
        return sizes.pop() if sizes else 1

    def deform(self, identity: torch.Tensor, expression: torch.Tensor,
               pose: torch.Tensor | None = None) -> torch.Tensor:
        """Shape in the model frame before the global similarity.

        Parameters
        ----------
        identity : Tensor, shape (B, K)
        expression : Tensor, shape (B, E)
        pose : Tensor, shape (B, J, 3), optional
            Joint rotations (axis-angle); only for models with joints.

        Returns
        -------
        Tensor, shape (B, V, 3)
        """
        if pose is not None and self.n_joints == 0:
            raise InputValueError(f"model {self.name!r} has no joints; pose must be None")
        out = self.v_template.expand(identity.shape[0], -1, -1)
        if self.n_identity:
            out = out + torch.einsum("bk,kvc->bvc", identity, self.id_basis)
        if self.n_expressions:
            out = out + torch.einsum("be,evc->bvc", expression, self.expr_basis)
        return out

    def forward(
        self,
        identity: torch.Tensor | None = None,
        expression: torch.Tensor | None = None,
        *,
        rotation: torch.Tensor | None = None,
        translation: torch.Tensor | None = None,
        scale: torch.Tensor | None = None,
        pose: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Vertices of a batch of model instances.

        Parameters
        ----------
        identity : Tensor, shape (B, K), optional
            Identity coefficients (zeros if omitted).
        expression : Tensor, shape (B, E), optional
            Expression weights (ARKit weights in [0, 1] for ``mh-head``; zeros if omitted).
        rotation : Tensor, shape (B, 3) axis-angle or (B, 3, 3) matrices, optional
            Head rotation about the model origin.
        translation : Tensor, shape (B, 3), optional
            In metres, applied after rotation and scale.
        scale : Tensor, shape (B,), optional
            Isotropic scale (1 if omitted).
        pose : Tensor, shape (B, J, 3), optional
            Joint rotations for skinned models (FLAME).

        Returns
        -------
        Tensor, shape (B, V, 3)
            Vertices in metres, on the model's device and dtype.

        Examples
        --------
        >>> model = load_face_model("mh-head")            # doctest: +SKIP
        >>> smile = torch.zeros(1, model.n_expressions)   # doctest: +SKIP
        >>> smile[0, model.expression_index("mouthSmileLeft")] = 1.0  # doctest: +SKIP
        >>> model(expression=smile).shape                 # doctest: +SKIP
        torch.Size([1, 4921, 3])
        """
        B = self._batch(
            {"identity": identity, "expression": expression, "rotation": rotation,
             "translation": translation, "scale": scale, "pose": pose},
            {"identity": self.n_identity, "expression": self.n_expressions,
             "rotation": 3, "translation": 3},
        )
        like = self.v_template
        if identity is None:
            identity = like.new_zeros(B, self.n_identity)
        if expression is None:
            expression = like.new_zeros(B, self.n_expressions)
        verts = self.deform(identity.to(like), expression.to(like),
                            None if pose is None else pose.to(like))
        if rotation is not None:
            R = rotation.to(like)
            if R.dim() == 2:
                R = axis_angle_to_matrix(R)
            verts = verts @ R.transpose(-1, -2)
        if scale is not None:
            verts = verts * scale.to(like)[:, None, None]
        if translation is not None:
            verts = verts + translation.to(like)[:, None, :]
        return verts

    # ------------------------------------------------------------------ landmarks
    @renamed_keywords(kind="scheme")
    def landmarks(self, vertices: torch.Tensor, scheme: str = "ibug68") -> torch.Tensor:
        """Landmark positions on posed meshes.

        Parameters
        ----------
        vertices : Tensor, shape (B, V, 3)
            Output of :meth:`forward`.
        scheme : str
            One of :attr:`landmark_schemes` (``"ibug68"``, ``"mp468"``; ``kind`` is a deprecated
            alias of this keyword).

        Returns
        -------
        Tensor, shape (B, L, 3)
        """
        check_option(scheme, self.landmark_schemes, "scheme")
        check_shape(vertices, ("B", self.n_vertices, 3), "vertices")
        tri = self.faces[getattr(self, f"_lmk_{scheme}_faces")]        # (L, 3)
        bary = getattr(self, f"_lmk_{scheme}_bary").to(vertices)       # (L, 3)
        corners = vertices[:, tri]                                      # (B, L, 3, 3)
        return (corners * bary[None, :, :, None]).sum(-2)

    # ------------------------------------------------------------------ regions
    def region_mask(self, name: str) -> np.ndarray:
        """Boolean vertex mask (V,) of a facial region."""
        check_option(name, self.region_names, "region")
        return self.region_labels == self.region_names.index(name)

    def part_mask(self, name: str) -> np.ndarray:
        """Boolean vertex mask (V,) of a mesh part (``"skin"``, ``"eye_left"``, ...)."""
        check_option(name, self.part_names, "part")
        return self.part_labels == self.part_names.index(name)

    def au_region_mask(self, au: str) -> np.ndarray:
        """Soft vertex mask (V,) in [0, 1] of where an AU acts (``"AU12"``, ``"L12"``...)."""
        name, side = parse_au_key(au)
        check_option(name, tuple(self.au_masks), "au")
        mask = self.au_masks[name].copy()
        if side is not None:
            x = self.v_template[:, 0].cpu().numpy()
            mask = mask * ((x > 0) if side == "L" else (x < 0))
        return mask

    # ------------------------------------------------------------------ AU view
    @property
    def au_names(self) -> tuple[str, ...]:
        """AUs available in this model's AU view (those whose ARKit shapes it has)."""
        have = set(self.expression_names)
        return tuple(au for au, (lt, rt, mid) in AU_TO_ARKIT.items()
                     if self.expression_kind == "arkit" and set(lt + rt + mid) <= have)

    def _require_arkit(self) -> None:
        if self.expression_kind != "arkit":
            raise InputValueError(f"model {self.name!r} has {self.expression_kind!r} expression "
                                  "coefficients; the AU view needs ARKit blendshapes")

    def au_matrix(self, *, lateral: bool = False) -> torch.Tensor:
        """Linear map from AU intensities to expression weights.

        Returns
        -------
        Tensor, shape (A, E) or (2A, E) when ``lateral``
            Row ``a`` holds 1 on the ARKit shapes of AU ``a``. With ``lateral`` the rows are
            ``L<n>`` for all AUs, then ``R<n>``; midline shapes take half of each side.
        """
        self._require_arkit()
        names = self.au_names
        M = torch.zeros((2 if lateral else 1) * len(names), self.n_expressions)
        for a, au in enumerate(names):
            lt, rt, mid = AU_TO_ARKIT[au]
            if lateral:
                for row, side_shapes in ((a, lt), (a + len(names), rt)):
                    M[row, self.expression_index(list(side_shapes))] = 1.0
                    M[row, self.expression_index(list(mid))] = 0.5
            else:
                M[a, self.expression_index(list(lt + rt + mid))] = 1.0
        return M.to(self.v_template)

    def aus_to_expression(self, aus: Mapping[str, float] | torch.Tensor) -> torch.Tensor:
        """Expression weights (B, E) from AU intensities in [0, 1].

        Parameters
        ----------
        aus : mapping or Tensor
            Either a mapping like ``{"AU12": 0.6, "L14": 0.3, "R4": "B"}`` (bilateral or
            lateral keys; values are intensities in [0, 1] or FACS letters A-E), or a tensor
            (B, A) of bilateral intensities in the order of :attr:`au_names`.

        Returns
        -------
        Tensor, shape (B, E)
            Weights clipped to [0, 1] (B = 1 for a mapping).
        """
        from .au import FACS_INTENSITY

        self._require_arkit()
        if torch.is_tensor(aus):
            check_shape(aus, ("B", len(self.au_names)), "aus")
            check_finite(aus, "aus")
            return (aus.to(self.v_template) @ self.au_matrix()).clamp(0.0, 1.0)
        names = self.au_names
        lat = self.au_matrix(lateral=True)
        out = torch.zeros(1, self.n_expressions, dtype=lat.dtype, device=lat.device)
        for key, value in aus.items():
            au, side = parse_au_key(key)
            if au not in names:
                raise InputValueError(f"AU {key!r} has no ARKit counterpart in model "
                                      f"{self.name!r}; available: {list(names)}")
            if isinstance(value, str):
                if value.upper() not in FACS_INTENSITY:
                    raise InputValueError(f"intensity of {key!r} must be in [0, 1] or a FACS "
                                          f"letter A-E; got {value!r}")
                value = FACS_INTENSITY[value.upper()]
            value = float(value)
            if not (0.0 <= value <= 1.0):
                raise InputValueError(f"intensity of {key!r} must be in [0, 1]; got {value}")
            a = names.index(au)
            rows = [a, a + len(names)] if side is None else [a if side == "L" else a + len(names)]
            for r in rows:
                out[0] = out[0] + value * lat[r]
        return out.clamp(0.0, 1.0)

    def expression_to_aus(self, expression: torch.Tensor, *, lateral: bool = False) -> torch.Tensor:
        """AU intensities from expression weights: the mean weight of each AU's shapes.

        Parameters
        ----------
        expression : Tensor, shape (B, E)
        lateral : bool
            Return (B, 2A) left-then-right intensities instead of (B, A) bilateral ones.

        Returns
        -------
        Tensor, shape (B, A) or (B, 2A)
            Exact inverse of :meth:`aus_to_expression` for bilateral AU vectors.
        """
        check_shape(expression, ("B", self.n_expressions), "expression")
        M = self.au_matrix(lateral=lateral)
        return (expression.to(M) @ M.T) / M.sum(1)

    # ------------------------------------------------------------------ misc
    def extra_repr(self) -> str:
        return (f"name={self.name!r}, V={self.n_vertices}, F={self.n_faces}, "
                f"E={self.n_expressions} ({self.expression_kind}), K={self.n_identity}, "
                f"J={self.n_joints}, landmarks={list(self.landmark_schemes)}")

    def summary(self) -> dict[str, Any]:
        """Counts and names as a plain dict (for notebooks and reports)."""
        return {"name": self.name, "vertices": self.n_vertices, "faces": self.n_faces,
                "expressions": self.n_expressions, "expression_kind": self.expression_kind,
                "identity": self.n_identity, "joints": self.n_joints,
                "landmarks": {k: len(v) for k, v in self.landmark_embeddings.items()},
                "regions": list(self.region_names), "aus": list(self.au_names)}
