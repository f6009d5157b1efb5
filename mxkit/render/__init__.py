"""Rendering: cameras, a fast CPU z-buffer rasterizer (numba), and a pytorch3d wrapper.

* :mod:`.camera` -- :class:`Camera` (perspective / orthographic, OpenCV frame),
  :func:`project` (numpy), :func:`project_torch` and :func:`weak_perspective` (torch,
  differentiable, batched).
* :mod:`.raster` -- :func:`rasterize`, :func:`render`, :func:`render_batch`,
  :func:`vertex_normals`: non-differentiable, deterministic, ~ms per 256x256 frame on a CPU,
  for data synthesis and thumbnails.
* :mod:`.diff` -- :class:`DifferentiableRenderer` and :func:`rasterize_pytorch3d` over
  pytorch3d (soft rasterization with gradients; GPU recommended).

Conventions: model space in metres (+x subject's left, +y up, +z toward a frontal camera);
camera frame OpenCV (x right, y down, z forward); pixel (row r, col c) centred at
``(u, v) = (c, r)``; depth = camera-frame z in metres. Importing this package imports
neither numba nor pytorch3d; both load on first use.
"""

from ._meshes import icosphere
from .camera import Camera, Projection, project, project_torch, weak_perspective
from .diff import (
    DifferentiableRenderer,
    DiffRenderResult,
    rasterize_pytorch3d,
    to_pytorch3d_cameras,
)
from .raster import (
    Fragments,
    Light,
    RenderResult,
    rasterize,
    render,
    render_batch,
    vertex_normals,
    warmup,
)

__all__ = [
    "Camera",
    "Projection",
    "project",
    "project_torch",
    "weak_perspective",
    "Fragments",
    "Light",
    "RenderResult",
    "rasterize",
    "render",
    "render_batch",
    "vertex_normals",
    "warmup",
    "icosphere",
    "DifferentiableRenderer",
    "DiffRenderResult",
    "rasterize_pytorch3d",
    "to_pytorch3d_cameras",
]
