"""mxkit: fine-grained 3D reconstruction of facial micro-expressions, and its evaluation.

Stages are plain functions in subpackages (``mxkit.morph``, ``mxkit.render``, ``mxkit.data``,
``mxkit.face``, ``mxkit.flow``, ``mxkit.viz``); importing ``mxkit`` is cheap and has no side
effects (no downloads, no global state, no heavy optional imports).
"""

from ._version import __version__
from .errors import MxkitError

__all__ = ["__version__", "MxkitError"]
