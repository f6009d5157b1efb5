"""The ground truth of a synthetic clip seen as a reconstruction (an upper bound).

:func:`oracle_reconstruction` wraps a SynthME clip's :class:`~mxkit.data.synth.SynthTruth` in
an object that follows the Reconstruction contract, so that everything written for
reconstructions -- :func:`~mxkit.eval.evaluate_reconstruction`, the recognition features of
:mod:`mxkit.eval.features` -- runs on what a *perfect* reconstruction would return. Its
``vertices`` are the truth (blendshapes + fine detail), its ``vertices_coarse`` the truth
without the fine-detail field (the best a blendshape-only fit can do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputValueError

__all__ = ["OracleReconstruction", "oracle_reconstruction"]


@dataclass(frozen=True, eq=False)
class OracleReconstruction:
    """A Reconstruction-like view of a clip's ground truth (see :func:`oracle_reconstruction`).

    Attributes
    ----------
    clip_key : (dataset, subject, clip_id)
    model_name : str
    variant : str
        ``'oracle'``.
    onset, apex, offset : int
    expression : numpy.ndarray, shape (T, E)
        The true ARKit weights per frame.
    delta_expression : numpy.ndarray, shape (T, E)
        Zeros.
    vertex_offsets : numpy.ndarray, shape (T, V, 3)
        ``detail_profile[t] * detail``, metres.
    vertices_coarse : numpy.ndarray, shape (T, V, 3)
        ``model(identity, expression[t])``, metres (no fine detail).
    vertices : numpy.ndarray, shape (T, V, 3)
        ``vertices_coarse + vertex_offsets`` = ``SynthTruth.vertices(model)``, metres.
    dynamic_code : None
    coarse : None
    """

    clip_key: tuple[str, str, str]
    model_name: str
    onset: int
    apex: int
    offset: int
    expression: np.ndarray = field(repr=False)
    delta_expression: np.ndarray = field(repr=False)
    vertex_offsets: np.ndarray = field(repr=False)
    vertices_coarse: np.ndarray = field(repr=False)
    vertices: np.ndarray = field(repr=False)
    variant: str = "oracle"
    dynamic_code: Any = None
    coarse: Any = None
    timing: dict = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Frames, vertices and the largest fine-detail offset (mm)."""
        return {"clip_key": self.clip_key, "variant": self.variant, "frames": int(self.vertices.shape[0]),
                "vertices": int(self.vertices.shape[1]),
                "max_offset_mm": round(float(np.linalg.norm(self.vertex_offsets, axis=-1).max()) * 1000, 4)}


def oracle_reconstruction(clip: Any, model: Any) -> OracleReconstruction:
    """The ground truth of a synthetic clip as a Reconstruction-like object.

    Parameters
    ----------
    clip : Clip
        A SynthME clip (``clip.ground_truth`` a SynthTruth-like object with ``vertices(model)``,
        ``expression``, ``detail``, ``detail_profile`` and ``model_name``).
    model : FaceModel
        The model the truth belongs to.

    Returns
    -------
    OracleReconstruction

    Raises
    ------
    InputValueError
        A clip without ground truth, or a truth made with another model.
    """
    truth = getattr(clip, "ground_truth", None)
    if truth is None or not callable(getattr(truth, "vertices", None)):
        raise InputValueError(f"clip {getattr(clip, 'key', clip)!r} has no 3D ground truth (a SynthME clip is needed)")
    if getattr(truth, "model_name", model.name) != model.name:
        raise InputValueError(f"the truth was made with model {truth.model_name!r}, not {model.name!r}")
    fine = np.asarray(truth.vertices(model), dtype=np.float64)
    offsets = (np.asarray(truth.detail_profile, dtype=np.float64)[:, None, None]
               * np.asarray(truth.detail, dtype=np.float64)[None])
    expression = np.asarray(truth.expression, dtype=np.float64)
    apex = clip.apex if clip.apex is not None else clip.apex_or_middle
    return OracleReconstruction(clip_key=tuple(clip.key), model_name=model.name, onset=int(clip.onset),
                                apex=int(apex), offset=int(clip.offset), expression=expression,
                                delta_expression=np.zeros_like(expression), vertex_offsets=offsets,
                                vertices_coarse=fine - offsets, vertices=fine)
