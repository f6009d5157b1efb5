"""The training objective of one batch of clips (used by :func:`mxkit.train.train`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..nets.refiner import DynamicRefiner
from . import losses
from .config import TrainConfig
from .sample import TrainingSample

__all__ = ["clip_loss", "BatchObjective", "draw_frames"]

_MM = 1e3


def draw_frames(sample: TrainingSample, n: int, generator: torch.Generator) -> torch.Tensor:
    """Frames to train on: the apex and ``n - 1`` other random frames, never the onset.

    Returns
    -------
    Tensor, shape (min(n, T - 1),), int64, sorted
    """
    f = sample.features
    T, onset, apex = f.n_frames, f.onset, f.apex
    others = [t for t in range(T) if t not in (onset, apex)]
    chosen = [] if apex == onset else [apex]
    k = max(min(n - len(chosen), len(others)), 0)
    if k:
        perm = torch.randperm(len(others), generator=generator)[:k]
        chosen += [others[i] for i in perm.tolist()]
    return torch.tensor(sorted(chosen), dtype=torch.int64)


def clip_loss(refiner: DynamicRefiner, sample: TrainingSample, frames: torch.Tensor, *,
              expression_basis: torch.Tensor, operator: torch.Tensor | None,
              laplacian: torch.Tensor, region_labels: torch.Tensor, faces: torch.Tensor,
              config: TrainConfig, vertex_weights: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted loss of one clip on some frames, and its terms (before weighting).

    Parameters
    ----------
    refiner : DynamicRefiner
    sample : TrainingSample
    frames : Tensor, shape (N,), int64
        Frames to evaluate (see :func:`draw_frames`).
    expression_basis : Tensor, shape (E, V, 3)
    operator : Tensor, shape (V, V), sparse, optional
        Chebyshev operator (with a deformer).
    laplacian : Tensor, shape (V, V), sparse
        Uniform Laplacian (smoothness term).
    region_labels : Tensor, shape (V,), int64
    faces : Tensor, shape (F, 3), int64
        Mesh triangles (photometric term).
    config : TrainConfig
    vertex_weights : Tensor, shape (V,), optional
        Weights of the supervised vertex terms (default: the sample's deformable mask);
        :func:`mxkit.train.train` passes the evaluation's ``'face'`` mask
        (:func:`mxkit.morph.face_mask`).

    Terms (see :class:`TrainConfig` for units): ``motion``, ``vertex`` (with ground
    truth), ``flow``, ``landmark``, ``photometric``, ``laplacian``, ``magnitude``,
    ``region_mean`` (with a deformer), ``expression`` (with an encoder).
    """
    c = config
    f = sample.features
    frames = frames.to(f.device)
    out = refiner(f, expression_basis, operator, frames=frames)
    A_mm = f.amplitude * _MM
    unit = A_mm if c.relative else A_mm.new_ones(())
    mask = f.vertex_mask
    vw = mask if vertex_weights is None else vertex_weights
    terms: dict[str, torch.Tensor] = {}
    X0 = f.coarse_vertices[f.onset]
    if sample.target_vertices is not None:
        tgt = sample.target_vertices
        if c.w_motion:
            terms["motion"] = losses.motion_l1(
                out.vertices * _MM, tgt[frames] * _MM, pred_onset=X0 * _MM,
                target_onset=tgt[f.onset] * _MM, weights=vw) / unit
        if c.w_vertex:
            terms["vertex"] = losses.vertex_l1(out.vertices * _MM, tgt[frames] * _MM,
                                               weights=vw)
    if c.w_flow or c.w_landmark:
        s = f.scale[frames]
        if c.w_flow:
            # predicted non-rigid image motion against the measured one (rigid head motion
            # is removed from both by the features' cameras)
            motion = f.project(out.vertices, frames) - f.project(X0[None].expand_as(
                out.vertices), frames)
            fl = losses.flow_consistency(motion, f.nonrigid_px[frames], weights=f.visibility)
            terms["flow"] = fl / (f.amplitude * f.scale.mean()) if c.relative else fl
        if c.w_landmark:
            l3 = (out.vertices[:, f.landmark_faces] * f.landmark_bary[..., None]).sum(-2)
            iod_px = f.iod * s
            terms["landmark"] = losses.landmark_reprojection(
                f.project(l3, frames), f.landmarks_px[frames], normalizer=iod_px)
    if c.w_photometric and sample.frames is not None:
        allf = torch.cat([frames.new_tensor([f.onset]), frames])
        verts = torch.cat([X0[None], out.vertices])
        terms["photometric"] = losses.photometric_loss(
            verts, faces, sample.frames[allf.cpu()].to(f.device), onset=0, rotation=f.rotation[allf],
            scale=f.scale[allf], t2d=f.t2d[allf])
    if refiner.deformer is not None:
        off = out.offsets * _MM / unit
        if c.w_laplacian:
            terms["laplacian"] = losses.laplacian_smoothness(off, laplacian)
        if c.w_magnitude:
            terms["magnitude"] = losses.offset_magnitude(off, weights=mask)
        if c.w_region_mean:
            terms["region_mean"] = losses.region_mean(off, region_labels)
    if refiner.encoder is not None and c.w_expression:
        terms["expression"] = losses.expression_prior(out.delta_expression,
                                                      smooth=c.expression_smooth)
    weights = {"motion": c.w_motion, "vertex": c.w_vertex, "flow": c.w_flow,
               "landmark": c.w_landmark, "photometric": c.w_photometric,
               "laplacian": c.w_laplacian, "magnitude": c.w_magnitude,
               "region_mean": c.w_region_mean, "expression": c.w_expression}
    total = sum(weights[k] * v for k, v in terms.items())
    return total, terms


class BatchObjective(nn.Module):
    """A refiner plus the fixed data of its mesh; ``forward`` returns a batch's mean loss.

    The module :class:`torch.nn.parallel.DistributedDataParallel` wraps: one forward per
    optimiser step, whatever the number of clips. The mesh operators are plain attributes
    (not buffers) so nothing sparse is broadcast between processes.
    """

    def __init__(self, refiner: DynamicRefiner, *, expression_basis: torch.Tensor,
                 operator: torch.Tensor | None, laplacian: torch.Tensor,
                 region_labels: torch.Tensor, faces: torch.Tensor, config: TrainConfig,
                 vertex_weights: torch.Tensor | None = None) -> None:
        super().__init__()
        self.refiner = refiner
        self._basis, self._operator, self._laplacian = expression_basis, operator, laplacian
        self._labels, self._faces, self._config = region_labels, faces, config
        self._weights = vertex_weights

    def forward(self, batch: Sequence[TrainingSample], frames: Sequence[torch.Tensor]
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        totals, parts = [], {}
        for sample, fr in zip(batch, frames, strict=True):
            loss, terms = clip_loss(self.refiner, sample, fr,
                                    expression_basis=self._basis, operator=self._operator,
                                    laplacian=self._laplacian, region_labels=self._labels,
                                    faces=self._faces, config=self._config,
                                    vertex_weights=self._weights)
            totals.append(loss)
            for k, v in terms.items():
                parts.setdefault(k, []).append(v.detach())
        loss = torch.stack(totals).mean()
        return loss, {k: torch.stack(v).mean() for k, v in parts.items()}
