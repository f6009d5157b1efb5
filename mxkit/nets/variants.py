"""The reconstruction variants (``DESIGN.md`` §4) and the networks each one runs.

====================  ======================================================================
variant               what runs
====================  ======================================================================
``static``            the per-frame coarse fit (every frame alone)
``smoothed``          the clip fit: one identity per clip and a temporal smoothness prior;
                      the base of the variants below
``encoder``           ``smoothed`` + DynamicEncoder
``deformer``          ``smoothed`` + MeshDeformer
``full``              ``smoothed`` + DynamicEncoder + MeshDeformer (pretrained on macro clips,
                      fine-tuned on micro clips)
``full_no_pretrain``  like ``full``, with networks trained on micro clips only
====================  ======================================================================
"""

from __future__ import annotations

__all__ = ["VARIANTS", "NETWORK_VARIANTS"]

#: The reconstruction variants, in ablation order.
VARIANTS = ("static", "smoothed", "encoder", "deformer", "full", "full_no_pretrain")
#: Variants that run networks, and which modules they have: (encoder, deformer).
NETWORK_VARIANTS = {"encoder": (True, False), "deformer": (False, True), "full": (True, True),
                    "full_no_pretrain": (True, True)}
