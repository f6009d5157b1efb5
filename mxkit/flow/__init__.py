"""Optical flow, optical strain, flow sampling at points and Eulerian video magnification.

Flow convention (fixed across mxkit): a flow field is an ``(H, W, 2)`` float32 array in
pixels (``(B, H, W, 2)`` / ``(T, H, W, 2)`` when batched), channel 0 = u (horizontal,
+ right), channel 1 = v (vertical, + down). Pixel ``(row r, col c)`` has its centre at
``(u, v) = (c, r)``. The flow from ``ref`` to ``target`` maps a point ``p`` of the
reference frame to where it moved in the target frame::

    target(p + flow(p)) ~= ref(p)        # equivalently  warp(target, flow) ~= ref

Frames are ``(H, W)`` grey or ``(H, W, 3)`` RGB, ``uint8`` in [0, 255] or float in [0, 1].
OpenCV is imported lazily inside the functions that need it.
"""

from .magnification import iir_cutoff_hz, level_amplification, magnify
from .optical import FLOW_DEFAULTS, FLOW_METHODS, flow_sequence, optical_flow
from .sampling import FlowSamples, pixel_to_normalized, sample_flow
from .strain import StrainComponents, optical_strain, strain_components
from .warping import flow_to_rgb, warp

__all__ = [
    "optical_flow",
    "flow_sequence",
    "FLOW_METHODS",
    "FLOW_DEFAULTS",
    "optical_strain",
    "strain_components",
    "StrainComponents",
    "sample_flow",
    "FlowSamples",
    "pixel_to_normalized",
    "magnify",
    "iir_cutoff_hz",
    "level_amplification",
    "warp",
    "flow_to_rgb",
]
