"""The reconstruction variants of the ablation and the networks each one runs (one home).

``DESIGN.md`` §4: ``static`` (the per-frame coarse fit), ``smoothed`` (the temporally
smoothed coarse fit, the base of the networks), ``encoder`` (DynamicEncoder only),
``deformer`` (MeshDeformer only), ``full`` (both) and ``full_no_pretrain`` (both, trained
without the macro-expression pre-training).
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["VARIANTS", "NETWORK_VARIANTS"]

#: The reconstruction variants, in ablation order.
VARIANTS: tuple[str, ...] = ("static", "smoothed", "encoder", "deformer", "full", "full_no_pretrain")
#: Variants that run networks, and which modules they have: ``(encoder, deformer)`` (read-only).
NETWORK_VARIANTS = MappingProxyType({"encoder": (True, False), "deformer": (False, True),
                                     "full": (True, True), "full_no_pretrain": (True, True)})
