"""mxkit: fine-grained 3D reconstruction of facial micro-expressions, and its evaluation.

Stages are plain functions in subpackages (``mxkit.morph``, ``mxkit.render``, ``mxkit.data``,
``mxkit.face``, ``mxkit.flow``, ``mxkit.fit``, ``mxkit.nets``, ``mxkit.eval``, ``mxkit.train``,
``mxkit.viz``); their composition lives in ``mxkit.workflows`` (``docs/architecture.md``).
Importing ``mxkit`` is cheap and has no side effects (no downloads, no global state, no heavy
optional imports).
"""

from ._version import __version__
from .errors import MxkitError

__all__ = ["__version__", "MxkitError", "prepare", "Prepared", "prepare_many", "reconstruct",
           "Reconstruction"]

# Stage functions exposed at the top level, imported on first access (keeps ``import mxkit``
# light): name -> module that defines it.
_LAZY = {
    "prepare": "mxkit.pipeline",
    "Prepared": "mxkit.pipeline",
    "prepare_many": "mxkit.pipeline",
    "reconstruct": "mxkit.workflows.reconstruct",
    "Reconstruction": "mxkit.workflows.reconstruct",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mxkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
