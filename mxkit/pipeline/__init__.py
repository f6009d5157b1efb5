"""Stage pipelines over clips: ``prepare`` (landmarks, alignment, flow, strain, magnification).

* :func:`prepare` -> :class:`Prepared`: one clip, with an optional per-clip disk cache;
* :func:`prepare_many` -> :class:`PreparedBatch`: many clips in parallel processes;
* :func:`cache_info`, :func:`prune_cache`: what the per-clip cache holds, and trimming it (least
  recently used first) to a size cap (``mxkit cache info|prune``);
* :func:`track_landmarks`: landmarks of one frame moved with the optical flow to every frame
  (sub-pixel, temporally consistent tracks; ``prepare(clip, track="flow")``);
* :mod:`mxkit.pipeline.synthetic`: known-motion face clips rendered in memory (tests, tutorials).

``prepare``, ``Prepared`` and ``prepare_many`` are also available as ``mxkit.prepare`` etc.
Importing this package imports neither OpenCV nor dlib (they load on first use).
"""

from ._cache import CacheInfo, PruneResult, cache_info, prune_cache
from .many import PreparedBatch, prepare_many
from .prepared import NO_FACE_POLICIES, PHASES, Prepared, prepare
from .track import TRACK_MODES, track_landmarks

__all__ = ["prepare", "Prepared", "prepare_many", "PreparedBatch", "PHASES", "NO_FACE_POLICIES", "cache_info",
           "prune_cache", "CacheInfo", "PruneResult", "TRACK_MODES", "track_landmarks"]
