"""Stage pipelines over clips: ``prepare`` (landmarks, alignment, flow, strain, magnification).

* :func:`prepare` -> :class:`Prepared`: one clip, with an optional per-clip disk cache;
* :func:`prepare_many` -> :class:`PreparedBatch`: many clips in parallel processes;
* :mod:`mxkit.pipeline.synthetic`: known-motion face clips rendered in memory (tests, tutorials).

``prepare``, ``Prepared`` and ``prepare_many`` are also available as ``mxkit.prepare`` etc.
Importing this package imports neither OpenCV nor dlib (they load on first use).
"""

from .many import PreparedBatch, prepare_many
from .prepared import NO_FACE_POLICIES, PHASES, Prepared, prepare

__all__ = ["prepare", "Prepared", "prepare_many", "PreparedBatch", "PHASES", "NO_FACE_POLICIES"]
