"""End-to-end fine-grained reconstruction of a clip, and its ablation variants.

:func:`reconstruct` composes the stages of ``DESIGN.md`` §2 -- :func:`mxkit.prepare` (when
given a raw clip), a coarse fit of the face model to the landmarks, then optionally the
global :class:`~mxkit.nets.DynamicEncoder` (expression residuals) and the local
:class:`~mxkit.nets.MeshDeformer` (per-vertex offsets) -- and returns a
:class:`Reconstruction`. The variants are the baselines and ablations of ``DESIGN.md`` §4:

====================  ======================================================================
variant               what runs
====================  ======================================================================
``static``            :func:`mxkit.fit.fit_frames_independently` (every frame alone)
``smoothed``          :func:`mxkit.fit.fit_landmarks`: one identity per clip and its temporal
                      smoothness prior (``smooth``); the base of the variants below
``encoder``           ``smoothed`` + DynamicEncoder
``deformer``          ``smoothed`` + MeshDeformer
``full``              ``smoothed`` + DynamicEncoder + MeshDeformer (pretrained on macro clips,
                      fine-tuned on micro clips)
``full_no_pretrain``  like ``full``, with networks trained on micro clips only
====================  ======================================================================

The network variants need trained weights: by default the packaged
``mxkit/assets/reconstruct_v1.pt`` (one network set per variant, trained on SynthME by
``tools/train_default_weights.py``; see ``mxkit/assets/PROVENANCE.md``). A missing or
corrupt weights file raises a typed error; networks are never silently left random.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import torch

from .._checks import check_device, check_int, check_option
from ..errors import InputValueError
from ..nets.variants import NETWORK_VARIANTS, VARIANTS
from .weights import DEFAULT_FIT, DEFAULT_PREPARE, load_weights

__all__ = ["reconstruct", "Reconstruction", "coarse_fit"]


# ----------------------------------------------------------------------------- the result
@dataclass(frozen=True, eq=False)
class Reconstruction:
    """A fine-grained 3D reconstruction of one clip (from :func:`reconstruct`).

    All vertices are unposed, in the model frame, in metres: directly comparable to
    ``SynthTruth.vertices(model)``.

    Attributes
    ----------
    clip_key : tuple of str
        ``(dataset, subject, clip_id)``.
    model_name : str
    variant : str
        One of :data:`VARIANTS`.
    onset, apex, offset : int
        0-based frame indices.
    coarse : CoarseFit
        The coarse fit the refinement started from (static or smoothed).
    expression : Tensor, shape (T, E)
        ``coarse.expression + delta_expression``.
    delta_expression : Tensor, shape (T, E)
        DynamicEncoder residuals (zeros without it; 0 at the onset).
    vertex_offsets : Tensor, shape (T, V, 3)
        MeshDeformer vertex offsets, metres (zeros without it; 0 at the onset).
    dynamic_code : Tensor, shape (D,) or None
        The clip's global dynamic code (None without an encoder).
    vertices_coarse : Tensor, shape (T, V, 3)
        Identity + ``expression`` (no offsets).
    vertices : Tensor, shape (T, V, 3)
        ``vertices_coarse + vertex_offsets``.
    timing : dict of str to float
        Seconds per step (``prepare``, ``fit``, ``features``, ``networks``, ``total``).
    fps : float
        Frame rate (NaN when unknown).
    frame_numbers : tuple of int or None
        The dataset's number of each frame (file names, coding-sheet cells; from the clip),
        or None when unknown (then frame ``t`` is numbered ``t``).
    """

    clip_key: tuple
    model_name: str
    variant: str
    onset: int
    apex: int
    offset: int
    coarse: Any
    expression: torch.Tensor
    delta_expression: torch.Tensor
    vertex_offsets: torch.Tensor
    dynamic_code: torch.Tensor | None
    vertices_coarse: torch.Tensor
    vertices: torch.Tensor
    timing: dict = field(default_factory=dict)
    fps: float = math.nan
    frame_numbers: tuple | None = None

    def __post_init__(self) -> None:
        from .._checks import check_shape

        check_option(self.variant, VARIANTS, "variant")
        T, E = check_shape(self.expression, ("T", "E"), "expression").values()
        check_shape(self.delta_expression, (T, E), "delta_expression")
        V = check_shape(self.vertices, (T, "V", 3), "vertices")["V"]
        check_shape(self.vertices_coarse, (T, V, 3), "vertices_coarse")
        check_shape(self.vertex_offsets, (T, V, 3), "vertex_offsets")
        if not 0 <= self.onset <= self.apex < T or not self.onset <= self.offset < T:
            raise InputValueError(f"onset {self.onset}, apex {self.apex}, offset {self.offset} "
                                  f"do not fit {T} frames")
        if self.frame_numbers is not None:
            nums = tuple(int(n) for n in self.frame_numbers)
            if len(nums) != T:
                raise InputValueError(f"frame_numbers has {len(nums)} entries for {T} frames")
            object.__setattr__(self, "frame_numbers", nums)

    @property
    def n_frames(self) -> int:
        return int(self.vertices.shape[0])

    @property
    def device(self) -> torch.device:
        return self.vertices.device

    def to(self, device: Any) -> Reconstruction:
        """A copy with every tensor (and the coarse fit) on ``device``."""
        changes = {f.name: getattr(self, f.name).to(device) for f in fields(self)
                   if torch.is_tensor(getattr(self, f.name))}
        return replace(self, coarse=self.coarse.to(device), **changes)

    def motion(self) -> torch.Tensor:
        """Displacement since the onset, ``vertices - vertices[onset]``, shape (T, V, 3), m."""
        return self.vertices - self.vertices[self.onset]

    def to_dataframe(self) -> Any:
        """One row per frame.

        Columns: ``frame``, ``time_s``, ``phase`` (``'neutral'`` before the onset,
        ``'onset-apex'``, ``'apex-offset'``, ``'after'``), ``motion_rms_mm`` (RMS over
        vertices of the displacement since the onset), ``motion_max_mm``,
        ``offset_rms_mm``, ``offset_max_mm`` (deformer offsets), ``delta_expression_abs``
        (mean absolute residual weight), ``coarse_error_px`` (landmark reprojection error
        of the coarse fit).
        """
        import pandas as pd

        T = self.n_frames
        mot = torch.linalg.norm(self.motion().detach().double(), dim=-1).cpu()
        off = torch.linalg.norm(self.vertex_offsets.detach().double(), dim=-1).cpu()
        frames = np.arange(T)
        phase = np.where(frames < self.onset, "neutral",
                         np.where(frames <= self.apex, "onset-apex",
                                  np.where(frames <= self.offset, "apex-offset", "after")))
        fps = self.fps if self.fps and not math.isnan(self.fps) else np.nan
        return pd.DataFrame({
            "frame": frames, "time_s": frames / fps, "phase": phase,
            "motion_rms_mm": mot.pow(2).mean(1).sqrt().numpy() * 1e3,
            "motion_max_mm": mot.amax(1).numpy() * 1e3,
            "offset_rms_mm": off.pow(2).mean(1).sqrt().numpy() * 1e3,
            "offset_max_mm": off.amax(1).numpy() * 1e3,
            "delta_expression_abs": self.delta_expression.detach().abs().mean(1).cpu().double()
            .numpy(),
            "coarse_error_px": self.coarse.error_px.detach().cpu().double().numpy(),
        })

    def summary(self) -> dict[str, Any]:
        """Plain numbers: variant, frames, key frames, apex motion and offsets (mm), time (s)."""
        mot = torch.linalg.norm(self.motion()[self.apex].detach().double(), dim=-1)
        off = torch.linalg.norm(self.vertex_offsets[self.apex].detach().double(), dim=-1)
        return {"variant": self.variant, "model": self.model_name, "frames": self.n_frames,
                "onset": self.onset, "apex": self.apex, "offset": self.offset,
                "apex_motion_rms_mm": round(float(mot.pow(2).mean().sqrt()) * 1e3, 4),
                "apex_offset_rms_mm": round(float(off.pow(2).mean().sqrt()) * 1e3, 4),
                "apex_delta_expression_max": round(
                    float(self.delta_expression[self.apex].abs().max()), 4),
                "coarse_error_px": round(float(self.coarse.error_px.mean()), 4),
                "seconds": round(float(self.timing.get("total", math.nan)), 3)}


# ----------------------------------------------------------------------------- stages
def coarse_fit(landmarks: Any, model: Any, *, variant: str = "smoothed",
               fit_options: dict[str, Any] | None = None) -> Any:
    """The coarse fit a variant starts from.

    ``"static"``: :func:`~mxkit.fit.fit_frames_independently`; every other variant:
    :func:`~mxkit.fit.fit_landmarks` with one identity per clip and the temporal prior
    ``smooth`` (default :data:`DEFAULT_FIT`). ``fit_options`` are passed on (``smooth`` and
    ``identity_prior``, which only mean something for one identity per clip, are ignored by
    the static fit).
    """
    from ..fit import fit_frames_independently, fit_landmarks

    check_option(variant, VARIANTS, "variant")
    opts = {**DEFAULT_FIT, **(fit_options or {})}
    if variant == "static":
        opts.pop("smooth", None)
        opts.pop("identity_prior", None)
        return fit_frames_independently(model, landmarks, **opts)
    return fit_landmarks(model, landmarks, **opts)


def _is_prepared(x: Any) -> bool:
    return all(hasattr(x, a) for a in ("landmarks", "flow", "onset"))


def reconstruct(
    clip_or_prepared: Any,
    *,
    model: Any = None,
    variant: str = "full",
    weights: Any = None,
    prepare_options: dict[str, Any] | None = None,
    fit_options: dict[str, Any] | None = None,
    device: Any = None,
    chunk_size: int = 16,
    progress: bool = False,
) -> Reconstruction:
    """Reconstruct the fine 3D face of every frame of a clip.

    Parameters
    ----------
    clip_or_prepared : mxkit.data.Clip or Prepared
        A raw clip (prepared first with :func:`mxkit.prepare`) or a prepared one (anything
        with ``.landmarks``, ``.flow``, ``.strain``, ``.onset``, ``.apex``, ``.offset``).
    model : FaceModel, optional
        Default ``load_face_model("mh-head")``.
    variant : str
        One of :data:`VARIANTS` (see the module docstring).
    weights : optional
        For the network variants: None (packaged default bundle), a bundle or refiner
        weights file / payload, a :class:`~mxkit.nets.DynamicRefiner` or a
        :class:`~mxkit.train.TrainResult` (see :func:`load_weights`). Ignored by
        ``"static"`` and ``"smoothed"``.
    prepare_options : dict, optional
        :func:`mxkit.prepare` options for a raw clip (default: those recorded in the
        weights bundle, else :data:`DEFAULT_PREPARE`).
    fit_options : dict, optional
        Coarse-fit options (default: those recorded in the bundle, else :data:`DEFAULT_FIT`).
    device : torch.device or str, optional
        Where the networks run (default: the model's device).
    chunk_size : int
        Frames per MeshDeformer call (memory).
    progress : bool
        Progress bars of the prepare stage.

    Returns
    -------
    Reconstruction

    Raises
    ------
    OptionError
        Unknown variant.
    InputValueError
        The input is neither a clip nor a prepared clip, or lacks landmarks/flow.
    AssetNotFoundError, CheckpointError
        Missing, corrupt or mismatched weights for a network variant.

    Examples
    --------
    >>> rec = reconstruct(prepared, variant="smoothed")         # doctest: +SKIP
    >>> rec.vertices.shape                                      # doctest: +SKIP
    torch.Size([60, 4977, 3])
    """
    from ..nets import MeshGraph, clip_features

    t_start = time.perf_counter()
    check_option(variant, VARIANTS, "variant")
    chunk_size = check_int(chunk_size, "chunk_size")
    device = check_device(device)
    if model is None:
        from ..morph import load_face_model

        model = load_face_model("mh-head")
    timing: dict[str, float] = {}
    refiner, settings = None, {}
    if variant in NETWORK_VARIANTS:                # weights first: fail before any heavy work
        refiner, settings = load_weights(weights, variant=variant, model=model)

    prepared = clip_or_prepared
    if not _is_prepared(prepared):
        if not hasattr(prepared, "frames"):
            raise InputValueError(f"reconstruct needs a Clip or a Prepared clip; got "
                                  f"{type(prepared).__name__}")
        from ..pipeline import prepare

        t0 = time.perf_counter()
        opts = {**DEFAULT_PREPARE, **settings.get("prepare", {}), **(prepare_options or {})}
        prepared = prepare(prepared, progress=progress, **opts)
        timing["prepare"] = time.perf_counter() - t0
    for name in ("landmarks", "flow"):
        if getattr(prepared, name, None) is None:
            raise InputValueError(f"the prepared clip has no {name}")
    onset = int(prepared.onset)
    apex = int(getattr(prepared, "apex", onset))
    offset = int(getattr(prepared, "offset", prepared.landmarks.shape[0] - 1))

    t0 = time.perf_counter()
    fit_opts = {**settings.get("fit", {}), **(fit_options or {})}
    fit = coarse_fit(prepared.landmarks, model, variant="static" if variant == "static"
                     else "smoothed", fit_options=fit_opts)
    timing["fit"] = time.perf_counter() - t0

    T, E = fit.expression.shape
    dpsi = torch.zeros_like(fit.expression)
    code = None
    verts_coarse = fit.vertices
    offsets = torch.zeros_like(verts_coarse)
    if refiner is not None:
        t0 = time.perf_counter()
        dev = torch.device(device) if device is not None else model.v_template.device
        feats = clip_features(prepared.landmarks, prepared.flow, getattr(prepared, "strain", None),
                              fit, model, onset=onset, apex=apex).to(dev)
        timing["features"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        net = refiner.to(device=dev, dtype=model.v_template.dtype)
        op = (MeshGraph.from_model(model).operator("chebyshev", dtype=model.v_template.dtype,
                                                   device=dev)
              if net.deformer is not None else None)
        with torch.no_grad():
            out = net(feats, model.expr_basis.to(dev), op, chunk_size=chunk_size)
        like = fit.expression
        dpsi = out.delta_expression.to(like)
        code = None if out.code is None else out.code.to(like)
        verts_coarse = out.coarse.to(like)
        offsets = out.offsets.to(like)
        timing["networks"] = time.perf_counter() - t0
    timing["total"] = time.perf_counter() - t_start
    return Reconstruction(
        clip_key=tuple(getattr(prepared, "clip_key", ()) or ("", "", "")),
        model_name=str(model.name), variant=variant, onset=onset, apex=apex, offset=offset,
        coarse=fit, expression=fit.expression + dpsi, delta_expression=dpsi, vertex_offsets=offsets,
        dynamic_code=code, vertices_coarse=verts_coarse, vertices=verts_coarse + offsets,
        timing=timing, fps=float(getattr(prepared, "fps", math.nan)),
        frame_numbers=getattr(prepared, "frame_numbers", None))
