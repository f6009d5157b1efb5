"""Differentiable rendering through pytorch3d (soft rasterization), with mxkit's cameras.

pytorch3d (installed as ``easypytorch3d``) is imported inside the functions, so importing
:mod:`mxkit.render` does not load it. On a CPU its rasterizer is slow (about 1 s per 256x256
frame of a 5k-vertex head, several seconds with the backward pass): use a GPU, small
images, or mxkit's own :func:`~mxkit.render.render` when no gradients are needed.

Camera conversion
-----------------
mxkit cameras use the OpenCV frame (x right, y down, z forward) and pixel centres at integer
coordinates; pytorch3d's camera ("view") frame is +X left, +Y up, +Z forward, it multiplies
row vectors (``X_view = X_world @ R + T``) and, in screen space, puts pixel centres at
``c + 0.5``. Hence ``R_p3d = (F R)^T``, ``T_p3d = F t`` with ``F = diag(-1, -1, 1)``, focal
lengths unchanged and principal point ``(cx + 0.5, cy + 0.5)``, with ``in_ndc=False``.
pytorch3d's world frame is then mxkit's model frame.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch

from .._checks import check_finite, check_shape
from ..errors import BackendUnavailableError, InputValueError
from .camera import Camera, check_image_size
from .raster import Fragments, Light, _rgb

__all__ = [
    "to_pytorch3d_cameras",
    "rasterize_pytorch3d",
    "DifferentiableRenderer",
    "DiffRenderResult",
]

_FLIP = np.diag([-1.0, -1.0, 1.0])


def _pytorch3d():
    try:
        import pytorch3d  # noqa: F401
        from pytorch3d import renderer, structures
    except ImportError as exc:  # pragma: no cover - pytorch3d is a declared dependency
        raise BackendUnavailableError(
            "differentiable rendering needs pytorch3d: pip install easypytorch3d==0.7.9.post1 "
            f"(with torch 2.11-2.12); import failed with: {exc}"
        ) from exc
    return renderer, structures


def to_pytorch3d_cameras(camera: Camera, *, batch_size: int = 1, device: Any = None,
                         dtype: torch.dtype = torch.float32) -> Any:
    """Convert a :class:`~mxkit.render.Camera` to pytorch3d screen-space cameras.

    Parameters
    ----------
    camera : Camera
    batch_size : int
        Number of (identical) cameras, one per mesh of a pytorch3d batch.
    device : torch.device or str, optional
        Where the camera tensors live (default CPU).
    dtype : torch.dtype

    Returns
    -------
    pytorch3d.renderer.PerspectiveCameras or pytorch3d.renderer.OrthographicCameras
        With ``in_ndc=False`` and ``image_size=((H, W),)``; pytorch3d's world frame equals
        mxkit's model frame and its rasterizer then samples pixel (r, c) exactly where mxkit
        does (module docstring).

    Raises
    ------
    InputValueError
        If ``camera`` is not a Camera or ``batch_size < 1``.
    BackendUnavailableError
        If pytorch3d cannot be imported.
    """
    if not isinstance(camera, Camera):
        raise InputValueError(f"camera must be a mxkit.render.Camera; got {type(camera).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise InputValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    renderer, _ = _pytorch3d()
    B = int(batch_size)
    device = torch.device("cpu") if device is None else torch.device(device)
    R = torch.as_tensor((_FLIP @ camera.R).T.copy(), dtype=dtype, device=device)
    T = torch.as_tensor(_FLIP @ camera.t, dtype=dtype, device=device)
    kwargs = dict(
        focal_length=torch.tensor([[camera.fx, camera.fy]], dtype=dtype, device=device).expand(B, 2),
        principal_point=torch.tensor([[camera.cx + 0.5, camera.cy + 0.5]], dtype=dtype,
                                     device=device).expand(B, 2),
        R=R[None].expand(B, 3, 3), T=T[None].expand(B, 3), in_ndc=False,
        image_size=torch.tensor([camera.image_size], device=device).expand(B, 2), device=device,
    )
    cls = renderer.PerspectiveCameras if camera.projection == "perspective" else renderer.OrthographicCameras
    return cls(**kwargs)


def _mesh_tensors(vertices: Any, faces: Any, device: Any = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    v = vertices if torch.is_tensor(vertices) else torch.as_tensor(np.asarray(vertices),
                                                                   device=device)
    v = v.to(torch.float32)  # pytorch3d's rasterizer works in float32 only
    if v.ndim == 2:
        v = v[None]
    check_shape(v, ("B", "V", 3), "vertices")
    check_finite(v.detach(), "vertices")
    f = faces if torch.is_tensor(faces) else torch.as_tensor(np.asarray(faces))
    check_shape(f, ("F", 3), "faces")
    if f.is_floating_point() or f.dtype == torch.bool:
        raise InputValueError(f"faces must hold integer vertex indices; got {f.dtype}")
    f = f.to(device=v.device, dtype=torch.int64)
    V = v.shape[1]
    if f.numel() and (int(f.min()) < 0 or int(f.max()) >= V):
        raise InputValueError(f"faces index vertices outside [0, {V}); got range "
                              f"[{int(f.min())}, {int(f.max())}]")
    return v, f


def rasterize_pytorch3d(vertices: Any, faces: Any, camera: Camera, *,
                        cull_backfaces: bool = False,
                        perspective_correct: bool | None = None) -> Fragments:
    """Hard (non-blurred) rasterization with pytorch3d, returned as mxkit :class:`Fragments`.

    Meant for cross-checking :func:`~mxkit.render.rasterize`; slow on a CPU.

    Parameters
    ----------
    vertices : array or Tensor, shape (V, 3)
        Model-space positions in metres.
    faces : array or Tensor, shape (F, 3), int
    camera : Camera
    cull_backfaces : bool
        Drop faces seen from behind (pytorch3d's rule, equivalent to mxkit's).
    perspective_correct : bool, optional
        Default: True for a perspective camera.

    Returns
    -------
    Fragments
        ``depth`` (H, W) float32 camera-frame z (+inf background), ``face_id`` (H, W) int32
        (-1 background), ``bary`` (H, W, 3) float32 (zeros on the background).

    Raises
    ------
    ShapeError, InputValueError
        On malformed input.
    BackendUnavailableError
        If pytorch3d cannot be imported.
    """
    if not isinstance(camera, Camera):
        raise InputValueError(f"camera must be a mxkit.render.Camera; got {type(camera).__name__}")
    v, f = _mesh_tensors(vertices, faces)
    if v.shape[0] != 1:
        raise InputValueError("rasterize_pytorch3d takes one mesh: vertices of shape (V, 3)")
    renderer, structures = _pytorch3d()
    if perspective_correct is None:
        perspective_correct = camera.projection == "perspective"
    cams = to_pytorch3d_cameras(camera, device=v.device, dtype=v.dtype)
    settings = renderer.RasterizationSettings(
        image_size=camera.image_size, blur_radius=0.0, faces_per_pixel=1,
        bin_size=0 if v.device.type == "cpu" else None,
        perspective_correct=bool(perspective_correct), cull_backfaces=bool(cull_backfaces),
    )
    with torch.no_grad():
        frags = renderer.MeshRasterizer(cameras=cams, raster_settings=settings)(
            structures.Meshes(verts=[v[0]], faces=[f]))
    fid = frags.pix_to_face[0, ..., 0].cpu().numpy().astype(np.int32)
    depth = frags.zbuf[0, ..., 0].cpu().numpy().astype(np.float32)
    bary = frags.bary_coords[0, :, :, 0, :].cpu().numpy().astype(np.float32)
    bg = fid < 0
    depth[bg] = np.inf
    bary[bg] = 0.0
    fid[bg] = -1
    return Fragments(np.ascontiguousarray(depth), np.ascontiguousarray(fid),
                     np.ascontiguousarray(bary))


class DiffRenderResult(NamedTuple):
    """Output of :class:`DifferentiableRenderer` (all tensors, batch first).

    Attributes
    ----------
    image : Tensor, shape (B, H, W, 3)
        Soft-blended Phong-shaded RGB, differentiable w.r.t. vertices and albedo.
    silhouette : Tensor, shape (B, H, W)
        Soft coverage in [0, 1], differentiable w.r.t. vertices.
    depth : Tensor, shape (B, H, W)
        Camera-frame depth (metres) of the nearest face; ``+inf`` where no face is near.
    face_id : Tensor, shape (B, H, W), int64
        Nearest face (index into ``faces``); ``-1`` where none.
    """

    image: torch.Tensor
    silhouette: torch.Tensor
    depth: torch.Tensor
    face_id: torch.Tensor


class DifferentiableRenderer(torch.nn.Module):
    """Soft rasterizer + Phong shader (pytorch3d) returning images and silhouettes with gradients.

    Parameters
    ----------
    image_size : (H, W) or int
        Output size in pixels; ``camera`` is rescaled to it if its own size differs.
    camera : Camera, optional
        Default :meth:`Camera.frontal(image_size) <mxkit.render.Camera.frontal>`.
    sigma : float
        Softness of the silhouette edges (pytorch3d's ``BlendParams.sigma``, in squared NDC
        units); faces are considered up to ``log(1/1e-4 - 1) * sigma`` away from a pixel.
    gamma : float
        Depth softness of the colour blending (``BlendParams.gamma``).
    faces_per_pixel : int
        Faces blended per pixel.
    light : Light, optional
        Same lighting model as :func:`mxkit.render.render` (direction in model space).
    background : float or array of shape (3,)
        Background RGB.
    cull_backfaces : bool
        Drop faces seen from behind.
    znear, zfar : float
        Depth range (metres) used to normalise depth in the colour blending.
    device : torch.device or str, optional
        Device for inputs given as numpy arrays; tensors keep their own device.

    Examples
    --------
    >>> from mxkit.render import icosphere
    >>> v, f = icosphere(2, radius=0.1)
    >>> r = DifferentiableRenderer(16)
    >>> verts = torch.tensor(v, dtype=torch.float32, requires_grad=True)
    >>> out = r(verts, torch.tensor(f))
    >>> out.image.shape, out.silhouette.shape
    (torch.Size([1, 16, 16, 3]), torch.Size([1, 16, 16]))
    >>> out.silhouette.sum().backward(); bool(verts.grad.abs().sum() > 0)
    True
    """

    def __init__(
        self,
        image_size: Any,
        *,
        camera: Camera | None = None,
        sigma: float = 1e-4,
        gamma: float = 1e-4,
        faces_per_pixel: int = 8,
        light: Light | None = None,
        background: Any = 0.0,
        cull_backfaces: bool = False,
        znear: float = 0.01,
        zfar: float = 10.0,
        device: Any = None,
    ) -> None:
        super().__init__()
        self.image_size = check_image_size(image_size)
        if camera is None:
            camera = Camera.frontal(self.image_size)
        elif not isinstance(camera, Camera):
            raise InputValueError(f"camera must be a mxkit.render.Camera; got "
                                  f"{type(camera).__name__}")
        elif camera.image_size != self.image_size:
            camera = camera.resized(self.image_size)
        self.camera = camera
        for name, val in (("sigma", sigma), ("gamma", gamma), ("znear", znear), ("zfar", zfar)):
            if not (isinstance(val, (int, float)) and math.isfinite(val) and val > 0):
                raise InputValueError(f"{name} must be a positive number; got {val!r}")
        if zfar <= znear:
            raise InputValueError(f"zfar must exceed znear; got znear={znear}, zfar={zfar}")
        if isinstance(faces_per_pixel, bool) or not isinstance(faces_per_pixel, int) \
                or faces_per_pixel < 1:
            raise InputValueError(f"faces_per_pixel must be a positive integer; got "
                                  f"{faces_per_pixel!r}")
        self.sigma, self.gamma = float(sigma), float(gamma)
        self.faces_per_pixel = int(faces_per_pixel)
        self.light = Light() if light is None else light
        if not isinstance(self.light, Light):
            raise InputValueError("light must be a mxkit.render.Light")
        self.background = tuple(float(x) for x in _rgb(background, "background"))
        self.cull_backfaces = bool(cull_backfaces)
        self.znear, self.zfar = float(znear), float(zfar)
        self.device = None if device is None else torch.device(device)

    def extra_repr(self) -> str:
        return (f"image_size={self.image_size}, projection={self.camera.projection!r}, sigma={self.sigma}, "
                f"gamma={self.gamma}, faces_per_pixel={self.faces_per_pixel}")

    def forward(self, vertices: Any, faces: Any, *, albedo: Any = None) -> DiffRenderResult:
        """Render a batch of meshes sharing ``faces``.

        Parameters
        ----------
        vertices : Tensor, shape (B, V, 3) or (V, 3)
            Model-space positions in metres.
        faces : Tensor, shape (F, 3), int
            Triangles, counter-clockwise seen from outside.
        albedo : Tensor, shape (B, V, 3), (V, 3) or (3,), optional
            RGB in [0, 1]; default uniform 0.8. Gradients flow into it.

        Returns
        -------
        DiffRenderResult
            ``image`` (B, H, W, 3), ``silhouette`` (B, H, W), ``depth`` (B, H, W),
            ``face_id`` (B, H, W).

        Raises
        ------
        ShapeError, InputValueError
            On malformed input.
        BackendUnavailableError
            If pytorch3d cannot be imported.
        """
        renderer, structures = _pytorch3d()
        v, f = _mesh_tensors(vertices, faces, self.device)
        B, V = v.shape[:2]
        dev, dt = v.device, v.dtype
        if albedo is None:
            col = torch.full((B, V, 3), 0.8, dtype=dt, device=dev)
        else:
            col = albedo if torch.is_tensor(albedo) else torch.as_tensor(np.asarray(albedo))
            col = col.to(device=dev, dtype=dt)
            if col.ndim == 1:
                check_shape(col, (3,), "albedo")
                col = col.expand(B, V, 3)
            elif col.ndim == 2:
                check_shape(col, (V, 3), "albedo")
                col = col.expand(B, V, 3)
            else:
                check_shape(col, (B, V, 3), "albedo")
            check_finite(col.detach(), "albedo")
        cams = to_pytorch3d_cameras(self.camera, batch_size=B, device=dev, dtype=dt)
        d, amb, dif, spe = self.light._arrays()

        def rgb(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(x, dtype=dt, device=dev)[None]

        lights = renderer.DirectionalLights(direction=rgb(d), ambient_color=rgb(amb),
                                            diffuse_color=rgb(dif), specular_color=rgb(spe),
                                            device=dev)
        materials = renderer.Materials(shininess=self.light.shininess, device=dev)
        blend = renderer.BlendParams(sigma=self.sigma, gamma=self.gamma,
                                     background_color=self.background)
        settings = renderer.RasterizationSettings(
            image_size=self.image_size,
            blur_radius=math.log(1.0 / 1e-4 - 1.0) * self.sigma,
            faces_per_pixel=self.faces_per_pixel,
            bin_size=0 if dev.type == "cpu" else None,
            perspective_correct=self.camera.projection == "perspective",
            cull_backfaces=self.cull_backfaces,
        )
        meshes = structures.Meshes(verts=list(v.unbind(0)), faces=[f] * B,
                                   textures=renderer.TexturesVertex(verts_features=col))
        frags = renderer.MeshRasterizer(cameras=cams, raster_settings=settings)(meshes)
        shader = renderer.SoftPhongShader(device=dev, cameras=cams, lights=lights,
                                          materials=materials, blend_params=blend)
        rgba = shader(frags, meshes, znear=self.znear, zfar=self.zfar)
        p2f = frags.pix_to_face[..., 0]
        hit = p2f >= 0
        offsets = (torch.arange(B, device=dev) * f.shape[0]).view(B, 1, 1)
        face_id = torch.where(hit, p2f - offsets, torch.full_like(p2f, -1))
        depth = torch.where(hit, frags.zbuf[..., 0], torch.full_like(frags.zbuf[..., 0],
                                                                    float("inf")))
        return DiffRenderResult(rgba[..., :3], rgba[..., 3], depth, face_id)
