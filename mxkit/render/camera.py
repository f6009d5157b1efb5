"""Pinhole and orthographic cameras, and projection to pixels (numpy and torch).

Conventions (fixed across mxkit)
--------------------------------
* **Model space**: metres, right-handed, +x toward the subject's left (the viewer's right),
  +y up, +z out of the face toward a frontal camera.
* **Camera frame**: OpenCV (x right, y down, z forward). A point ``X`` of model space has
  camera coordinates ``X_c = R @ X + t``. A frontal camera therefore has
  ``R = diag(1, -1, -1)`` and ``t = (0, 0, d)``.
* **Image space**: pixels, u to the right, v down; pixel (row r, col c) has its centre at
  ``(u, v) = (c, r)`` (OpenCV/dlib), so the image covers ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``.
* **Depth** is the camera-frame ``z`` (metres along the optical axis), for both projections.

Perspective: ``u = fx * x_c / z_c + cx``, ``v = fy * y_c / z_c + cy``.
Orthographic: ``u = fx * x_c + cx``, ``v = fy * y_c + cy`` (``fx``, ``fy`` in pixels per metre).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import torch

from .._checks import check_finite, check_option, check_shape, renamed_attribute, renamed_keywords
from ..camera import weak_perspective  # the fitted-head camera, re-exported here
from ..errors import InputValueError, ShapeError

__all__ = [
    "Camera",
    "Projection",
    "project",
    "project_torch",
    "weak_perspective",
    "check_image_size",
]

#: Projection models of a :class:`Camera`.
CAMERA_PROJECTIONS = ("perspective", "orthographic")
CameraProjection = Literal["perspective", "orthographic"]

#: Default vertical/horizontal field of view (degrees) of :meth:`Camera.frontal`: at the
#: default distance of 0.6 m it frames a 0.32 m square, so a ~0.25 m head fills ~80 %.
DEFAULT_FOV_DEG = 30.0


def check_image_size(image_size: Any, name: str = "image_size") -> tuple[int, int]:
    """Validate an image size given as ``(H, W)`` (or one int for a square) and return it.

    Raises
    ------
    ShapeError
        If it is not one int or a pair.
    InputValueError
        If a side is not a positive integer.
    """
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (int(image_size), int(image_size))
    try:
        sides = tuple(image_size)
    except TypeError as exc:
        raise ShapeError(f"{name} must be (H, W) or an int; got {image_size!r}") from exc
    if len(sides) != 2:
        raise ShapeError(f"{name} must be (H, W); got {image_size!r}")
    out = []
    for s in sides:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            if isinstance(s, (float, np.floating)) and float(s).is_integer():
                s = int(s)
            else:
                raise InputValueError(f"{name} must hold positive integers; got {image_size!r}")
        if int(s) <= 0:
            raise InputValueError(f"{name} must hold positive integers; got {image_size!r}")
        out.append(int(s))
    return out[0], out[1]


def _positive(x: Any, name: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError) as exc:
        raise InputValueError(f"{name} must be a positive number; got {x!r}") from exc
    if not (math.isfinite(v) and v > 0):
        raise InputValueError(f"{name} must be a positive finite number; got {x!r}")
    return v


def _vec3(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    check_shape(a, (3,), name)
    check_finite(a, name)
    return a


@dataclass(frozen=True, eq=False)
class Camera:
    """A calibrated camera: intrinsics, extrinsics and image size (immutable).

    Parameters
    ----------
    fx, fy : float
        Focal lengths in pixels (perspective) or scales in pixels per metre (orthographic).
    cx, cy : float
        Principal point in pixels (pixel centres at integer coordinates).
    R : array, shape (3, 3)
        Rotation from model space to the OpenCV camera frame (a proper rotation).
    t : array, shape (3,)
        Translation in metres: ``X_c = R @ X + t``.
    image_size : tuple of int
        ``(H, W)`` in pixels.
    projection : {"perspective", "orthographic"}
        Projection model (the keyword ``kind`` is a deprecated alias).

    Notes
    -----
    Build one with :meth:`frontal` or :meth:`look_at` rather than by hand. ``R`` and ``t``
    are stored as float64 copies; do not modify them in place. See the module docstring for the conventions.

    Examples
    --------
    >>> cam = Camera.frontal((256, 256))
    >>> cam.R.diagonal().tolist(), cam.t.tolist()
    ([1.0, -1.0, -1.0], [0.0, 0.0, 0.6])
    >>> project(np.zeros((1, 3)), cam).pixels.tolist()
    [[127.5, 127.5]]
    """

    fx: float
    fy: float
    cx: float
    cy: float
    R: np.ndarray
    t: np.ndarray
    image_size: tuple[int, int]
    projection: CameraProjection = "perspective"

    def __post_init__(self) -> None:
        check_option(self.projection, CAMERA_PROJECTIONS, "projection")
        object.__setattr__(self, "fx", _positive(self.fx, "fx"))
        object.__setattr__(self, "fy", _positive(self.fy, "fy"))
        for name in ("cx", "cy"):
            try:
                v = float(getattr(self, name))
            except (TypeError, ValueError) as exc:
                raise InputValueError(f"{name} must be a finite number") from exc
            if not math.isfinite(v):
                raise InputValueError(f"{name} must be a finite number; got {v}")
            object.__setattr__(self, name, v)
        R = np.array(self.R, dtype=np.float64)
        check_shape(R, (3, 3), "R")
        check_finite(R, "R")
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-5) or np.linalg.det(R) < 0:
            raise InputValueError("R must be a proper rotation matrix (orthonormal, det = +1)")
        t = _vec3(self.t, "t").copy()
        # Own copies, left writable so that torch.as_tensor / from_numpy accept them without
        # a warning; treat them as read-only.
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "image_size", check_image_size(self.image_size))

    kind = renamed_attribute("projection", old="kind")

    # ------------------------------------------------------------------ constructors
    @classmethod
    @renamed_keywords(kind="projection")
    def look_at(
        cls,
        image_size: Any,
        *,
        eye: Any,
        target: Any = (0.0, 0.0, 0.0),
        up: Any = (0.0, 1.0, 0.0),
        fov_deg: float = DEFAULT_FOV_DEG,
        projection: CameraProjection = "perspective",
    ) -> Camera:
        """A camera at ``eye`` looking at ``target`` with ``up`` toward the top of the image.

        Parameters
        ----------
        image_size : (H, W) or int
            Image size in pixels.
        eye, target : array-like, shape (3,)
            Camera centre and look-at point in model space (metres).
        up : array-like, shape (3,)
            Model-space direction that appears up in the image (not parallel to the view).
        fov_deg : float
            Field of view in degrees across the *smaller* image side. For an orthographic
            camera it sets the scale so that the plane through ``target`` is framed exactly
            as the perspective camera would frame it.
        projection : {"perspective", "orthographic"}

        Returns
        -------
        Camera
            Principal point at the image centre, square pixels.

        Raises
        ------
        InputValueError
            If ``eye == target``, ``up`` is parallel to the view direction, or the field of
            view is outside (0, 180).
        """
        H, W = check_image_size(image_size)
        check_option(projection, CAMERA_PROJECTIONS, "projection")
        eye, target, up = _vec3(eye, "eye"), _vec3(target, "target"), _vec3(up, "up")
        fov = float(fov_deg)
        if not (0.0 < fov < 180.0):
            raise InputValueError(f"fov_deg must be in (0, 180); got {fov_deg!r}")
        forward = target - eye
        dist = float(np.linalg.norm(forward))
        if dist <= 1e-12:
            raise InputValueError("eye and target must differ")
        z = forward / dist
        down = -up - np.dot(-up, z) * z
        n = float(np.linalg.norm(down))
        if n <= 1e-9 * max(1.0, float(np.linalg.norm(up))):
            raise InputValueError("up must not be parallel to the viewing direction")
        y = down / n
        x = np.cross(y, z)
        R = np.stack([x, y, z])
        t = -R @ eye + 0.0  # + 0.0 turns -0.0 into 0.0
        f = 0.5 * min(H, W) / math.tan(math.radians(fov) / 2.0)
        if projection == "orthographic":
            f = f / dist  # pixels per metre on the plane through the target
        return cls(fx=f, fy=f, cx=(W - 1) / 2.0, cy=(H - 1) / 2.0, R=R, t=t,
                   image_size=(H, W), projection=projection)

    @classmethod
    @renamed_keywords(kind="projection")
    def frontal(
        cls,
        image_size: Any,
        *,
        distance: float = 0.6,
        fov_deg: float = DEFAULT_FOV_DEG,
        projection: CameraProjection = "perspective",
        target: Any = (0.0, 0.0, 0.0),
    ) -> Camera:
        """A camera on the +z axis looking at the face, image up = model +y.

        With the defaults (0.6 m, 30 degrees) the plane through ``target`` shows a
        0.32 m square, so a ~0.25 m head fills about 80 % of the image.

        Parameters
        ----------
        image_size : (H, W) or int
            Image size in pixels.
        distance : float
            Metres from ``target`` to the camera centre.
        fov_deg : float
            Field of view across the smaller image side, in degrees.
        projection : {"perspective", "orthographic"}
        target : array-like, shape (3,)
            Look-at point in model space (metres); the camera sits at ``target + (0, 0, d)``.

        Returns
        -------
        Camera
            ``R = diag(1, -1, -1)`` and ``t = (-tx, ty, d + tz)`` for target ``(tx, ty, tz)``.
        """
        d = _positive(distance, "distance")
        target = _vec3(target, "target")
        return cls.look_at(image_size, eye=target + np.array([0.0, 0.0, d]), target=target,
                           fov_deg=fov_deg, projection=projection)

    # ------------------------------------------------------------------ derived values
    @property
    def height(self) -> int:
        """Image height in pixels."""
        return self.image_size[0]

    @property
    def width(self) -> int:
        """Image width in pixels."""
        return self.image_size[1]

    @property
    def K(self) -> np.ndarray:
        """Intrinsic matrix, shape (3, 3)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def center(self) -> np.ndarray:
        """Camera centre in model space (metres), shape (3,): ``-R.T @ t``."""
        return -self.R.T @ self.t

    @property
    def forward(self) -> np.ndarray:
        """Unit viewing direction (camera +z) in model space, shape (3,)."""
        return self.R[2].copy()

    def resized(self, image_size: Any) -> Camera:
        """The same camera for another image size (intrinsics scaled per axis).

        The field of view is kept: pixel ``(u, v)`` maps to
        ``((u + 0.5) * sx - 0.5, (v + 0.5) * sy - 0.5)`` with ``sx = W' / W``, ``sy = H' / H``.
        """
        H2, W2 = check_image_size(image_size)
        sy, sx = H2 / self.height, W2 / self.width
        return Camera(fx=self.fx * sx, fy=self.fy * sy, cx=(self.cx + 0.5) * sx - 0.5,
                      cy=(self.cy + 0.5) * sy - 0.5, R=self.R, t=self.t,
                      image_size=(H2, W2), projection=self.projection)

    def project(self, points: Any) -> Projection:
        """Shorthand for :func:`project(points, self) <project>`."""
        return project(points, self)

    def torch_params(self, *, device: Any = None, dtype: torch.dtype = torch.float32
                     ) -> dict[str, Any]:
        """Keyword arguments for :func:`project_torch` (``R`` (1, 3, 3), ``t`` (1, 3), ...).

        Examples
        --------
        >>> cam = Camera.frontal(64)
        >>> project_torch(torch.zeros(1, 1, 3), **cam.torch_params()).pixels
        tensor([[[31.5000, 31.5000]]])
        """
        return {
            "R": torch.tensor(self.R, dtype=dtype, device=device)[None],
            "t": torch.tensor(self.t, dtype=dtype, device=device)[None],
            "fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy, "projection": self.projection,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Camera):
            return NotImplemented
        return (self.projection == other.projection and self.image_size == other.image_size
                and (self.fx, self.fy, self.cx, self.cy) == (other.fx, other.fy, other.cx, other.cy)
                and np.array_equal(self.R, other.R) and np.array_equal(self.t, other.t))

    def __hash__(self) -> int:
        return hash((self.projection, self.image_size, self.fx, self.fy, self.cx, self.cy,
                     self.R.tobytes(), self.t.tobytes()))

    def __repr__(self) -> str:
        return (f"Camera(projection={self.projection!r}, image_size={self.image_size}, fx={self.fx:.4g}, "
                f"fy={self.fy:.4g}, cx={self.cx:.4g}, cy={self.cy:.4g}, "
                f"center={np.round(self.center, 4).tolist()})")


Camera.__init__ = renamed_keywords(kind="projection")(Camera.__init__)  # type: ignore[method-assign]


class Projection(NamedTuple):
    """Projected points: ``pixels`` (..., 2) as (u, v) and camera-frame ``depth`` (...,)."""

    pixels: Any
    depth: Any


def project(points: Any, camera: Camera) -> Projection:
    """Project model-space points to pixels with a :class:`Camera` (numpy).

    Parameters
    ----------
    points : array, shape (..., 3)
        Model-space points in metres.
    camera : Camera

    Returns
    -------
    Projection
        ``pixels`` : float64 array, shape (..., 2), (u right, v down) with pixel centres at
        integers; ``depth`` : float64 array, shape (...,), camera-frame z in metres. Points with
        depth <= 0 are behind a perspective camera and their pixels are meaningless.

    Raises
    ------
    ShapeError
        If the last axis of ``points`` is not 3.

    Examples
    --------
    >>> cam = Camera.frontal((100, 100), distance=1.0)
    >>> p = project(np.array([[0.1, 0.0, 0.0], [0.0, 0.1, 0.0]]), cam)
    >>> np.round(p.pixels, 2).tolist(), p.depth.tolist()
    ([[68.16, 49.5], [49.5, 30.84]], [1.0, 1.0])
    """
    if not isinstance(camera, Camera):
        raise InputValueError(f"camera must be a mxkit.render.Camera; got {type(camera).__name__}")
    pts = np.asarray(points, dtype=np.float64)
    check_shape(pts, ("...", 3), "points")
    pc = pts @ camera.R.T + camera.t
    z = pc[..., 2]
    if camera.projection == "perspective":
        with np.errstate(divide="ignore", invalid="ignore"):
            x, y = pc[..., 0] / z, pc[..., 1] / z
    else:
        x, y = pc[..., 0], pc[..., 1]
    uv = np.stack([camera.fx * x + camera.cx, camera.fy * y + camera.cy], axis=-1)
    return Projection(uv, z)


def _param(x: Any, like: torch.Tensor, B: int, name: str) -> torch.Tensor:
    """A scalar or (B,) intrinsic as a (B, 1) tensor on ``like``'s device and dtype."""
    t = torch.as_tensor(x, dtype=like.dtype, device=like.device)
    if t.ndim == 0:
        return t.reshape(1, 1)
    if t.ndim == 1 and t.shape[0] in (1, B):
        return t[:, None]
    raise ShapeError(f"{name} must be a scalar or have shape ({B},); got {tuple(t.shape)}")


def _rt(R: torch.Tensor, t: torch.Tensor, B: int) -> tuple[torch.Tensor, torch.Tensor]:
    if R.ndim == 2:
        check_shape(R, (3, 3), "R")
        R = R[None]
    check_shape(R, (None, 3, 3), "R")
    if t.ndim == 1:
        check_shape(t, (3,), "t")
        t = t[None]
    check_shape(t, (None, 3), "t")
    for name, x in (("R", R), ("t", t)):
        if x.shape[0] not in (1, B):
            raise ShapeError(f"{name} has batch size {x.shape[0]}, expected 1 or {B}")
    return R, t


@renamed_keywords(kind="projection")
def project_torch(
    points: torch.Tensor,
    R: torch.Tensor,
    t: torch.Tensor,
    fx: Any,
    fy: Any,
    cx: Any,
    cy: Any,
    *,
    projection: CameraProjection = "perspective",
) -> Projection:
    """Differentiable, batched projection of model-space points to pixels (torch).

    Same model as :func:`project`; follows the device and dtype of ``points``.

    Parameters
    ----------
    points : Tensor, shape (B, N, 3)
        Model-space points in metres.
    R : Tensor, shape (B, 3, 3) or (3, 3)
        Model-to-camera rotations (OpenCV camera frame).
    t : Tensor, shape (B, 3) or (3,)
        Translations in metres.
    fx, fy, cx, cy : float or Tensor of shape (B,)
        Intrinsics in pixels (pixels per metre for ``fx``/``fy`` when orthographic).
    projection : {"perspective", "orthographic"}
        (``kind`` is a deprecated alias.)

    Returns
    -------
    Projection
        ``pixels`` : Tensor (B, N, 2); ``depth`` : Tensor (B, N), camera-frame z in metres.

    Raises
    ------
    ShapeError
        On inconsistent shapes.
    OptionError
        For an unknown ``projection``.

    Examples
    --------
    >>> R = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
    >>> out = project_torch(torch.tensor([[[0.1, 0.1, 0.0]]]), R, torch.tensor([0.0, 0.0, 1.0]),
    ...                     100.0, 100.0, 50.0, 50.0)
    >>> out.pixels.tolist(), out.depth.tolist()
    ([[[60.0, 40.0]]], [[1.0]])
    """
    check_option(projection, CAMERA_PROJECTIONS, "projection")
    if not torch.is_tensor(points):
        raise InputValueError("points must be a torch.Tensor")
    B = check_shape(points, ("B", "N", 3), "points")["B"]
    R = torch.as_tensor(R, dtype=points.dtype, device=points.device)
    t = torch.as_tensor(t, dtype=points.dtype, device=points.device)
    R, t = _rt(R, t, B)
    pc = torch.matmul(points, R.transpose(-1, -2)) + t[:, None, :]
    x, y, z = pc.unbind(-1)
    if projection == "perspective":
        x, y = x / z, y / z
    u = _param(fx, points, B, "fx") * x + _param(cx, points, B, "cx")
    v = _param(fy, points, B, "fy") * y + _param(cy, points, B, "cy")
    return Projection(torch.stack([u, v], dim=-1), z)
