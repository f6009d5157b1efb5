"""2D similarity alignment of faces and clips to a canonical 68-point template.

The usual micro-expression recipe: estimate **one** similarity on the onset frame (its
landmarks onto a template placed in the output crop) and apply that same transform to every
frame of the clip, so the alignment adds no frame-to-frame jitter and the subtle motion
between frames is kept.

Conventions: points are (u, v) pixels with the centre of pixel (row r, col c) at (u=c, v=r),
which is also OpenCV's convention for ``warpAffine``. A 2x3 matrix ``M`` maps a point
``p`` to ``M[:, :2] @ p + M[:, 2]``. A similarity is ``p' = s R(angle) p + t`` with
``R = [[cos, -sin], [sin, cos]]``; since v points down, a positive angle turns the image
**clockwise** as displayed (the opposite sign of ``cv2.getRotationMatrix2D``'s angle).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .._checks import check_finite, check_option, check_shape
from ..errors import InputValueError, ShapeError
from ._image import FrameSource
from .ibug68 import MIRROR_68, N_LANDMARKS

__all__ = [
    "Similarity",
    "estimate_similarity",
    "transform_points",
    "invert",
    "TEMPLATE_68",
    "build_template",
    "place_template",
    "Aligned",
    "align_clip",
]


# ---------------------------------------------------------------------------------- transforms


def _as_matrix(transform: Any, name: str = "transform") -> np.ndarray:
    if isinstance(transform, Similarity):
        return transform.matrix
    m = np.asarray(transform, dtype=np.float64)
    if m.shape == (3, 3):
        if not np.allclose(m[2], [0.0, 0.0, 1.0]):
            raise InputValueError(f"{name} (3, 3) must be affine (last row 0, 0, 1); got {m[2].tolist()}")
        m = m[:2]
    if m.shape != (2, 3):
        raise ShapeError(f"{name} must have shape (2, 3) (or be a Similarity); got {m.shape}")
    check_finite(m, name)
    return m


@dataclass(frozen=True)
class Similarity:
    """A 2D similarity transform (rotation, isotropic scale, translation; no reflection).

    Attributes
    ----------
    matrix : numpy.ndarray, shape (2, 3), float64
        ``[[s cos a, -s sin a, tx], [s sin a, s cos a, ty]]``.

    The derived ``scale`` (> 0), ``angle`` (radians in (-pi, pi]; positive turns +u towards
    +v, i.e. clockwise on screen) and ``translation`` (2,) are properties.
    """

    matrix: np.ndarray

    def __post_init__(self) -> None:
        m = _as_matrix(self.matrix, "matrix").copy()
        a, b = m[0, 0], m[1, 0]
        tol = 1e-6 * max(1.0, math.hypot(a, b))
        if abs(m[1, 1] - a) > tol or abs(m[0, 1] + b) > tol:
            raise InputValueError(
                f"matrix is not a similarity (needs m00 == m11 and m01 == -m10); got {m[:, :2].tolist()}"
            )
        if math.hypot(a, b) <= 0.0:
            raise InputValueError("a similarity needs a positive scale")
        m.setflags(write=False)
        object.__setattr__(self, "matrix", m)

    @classmethod
    def from_params(cls, *, scale: float = 1.0, angle: float = 0.0,
                    translation: tuple[float, float] | np.ndarray = (0.0, 0.0)) -> Similarity:
        """Build from ``scale`` (> 0), ``angle`` (radians) and ``translation`` (tx, ty)."""
        c, s = scale * math.cos(angle), scale * math.sin(angle)
        tx, ty = (float(v) for v in np.asarray(translation, dtype=np.float64).ravel()[:2])
        return cls(np.array([[c, -s, tx], [s, c, ty]], dtype=np.float64))

    @property
    def scale(self) -> float:
        return float(math.hypot(self.matrix[0, 0], self.matrix[1, 0]))

    @property
    def angle(self) -> float:
        return float(math.atan2(self.matrix[1, 0], self.matrix[0, 0]))

    @property
    def translation(self) -> np.ndarray:
        return self.matrix[:, 2].copy()

    @property
    def matrix3(self) -> np.ndarray:
        """Homogeneous (3, 3) matrix."""
        return np.vstack([self.matrix, [0.0, 0.0, 1.0]])

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Transform points (..., 2); see :func:`transform_points`."""
        return transform_points(points, self)

    def inverse(self) -> Similarity:
        return Similarity(invert(self.matrix))

    def __matmul__(self, other: Similarity) -> Similarity:
        """Composition: ``(self @ other).apply(p) == self.apply(other.apply(p))``."""
        return Similarity((self.matrix3 @ other.matrix3)[:2])


def transform_points(points: np.ndarray, transform: np.ndarray | Similarity) -> np.ndarray:
    """Apply a 2x3 affine (or :class:`Similarity`) to points.

    Parameters
    ----------
    points : numpy.ndarray, shape (..., 2)
        (u, v) pixels. NaNs pass through.
    transform : numpy.ndarray, shape (2, 3) or (3, 3), or Similarity

    Returns
    -------
    numpy.ndarray, shape (..., 2)
        float32 for float32 input, float64 otherwise.

    Examples
    --------
    >>> transform_points(np.array([[1.0, 2.0]]), [[2, 0, 10], [0, 2, 20]])
    array([[12., 24.]])
    """
    m = _as_matrix(transform)
    check_shape(points, ("...", 2), "points")
    pts = np.asarray(points)
    out_dtype = np.float32 if pts.dtype == np.float32 else np.float64
    p = pts.astype(np.float64)
    out = p @ m[:, :2].T + m[:, 2]
    return out.astype(out_dtype)


def invert(transform: np.ndarray | Similarity) -> np.ndarray | Similarity:
    """Inverse of a 2x3 affine (returns (2, 3)) or of a :class:`Similarity` (returns one).

    Raises
    ------
    InputValueError
        The transform is singular.
    """
    if isinstance(transform, Similarity):
        return transform.inverse()
    m = _as_matrix(transform)
    a = m[:, :2]
    det = float(np.linalg.det(a))
    if abs(det) < 1e-12 * max(1.0, float(np.abs(a).max()) ** 2):
        raise InputValueError(f"transform is singular (det = {det:g}) and cannot be inverted")
    ai = np.linalg.inv(a)
    return np.hstack([ai, -(ai @ m[:, 2])[:, None]])


def estimate_similarity(src: np.ndarray, dst: np.ndarray, *, weights: np.ndarray | None = None,
                        rotation: bool = True) -> Similarity:
    """Least-squares similarity mapping ``src`` onto ``dst`` (Umeyama, 1991), reflections excluded.

    Minimises ``sum_i w_i |s R src_i + t - dst_i|^2`` over scale ``s > 0``, rotation ``R``
    (det +1) and translation ``t``.

    Parameters
    ----------
    src, dst : numpy.ndarray, shape (N, 2)
        Corresponding points, N >= 2 (``src`` not all coincident).
    weights : numpy.ndarray, shape (N,), optional
        Non-negative weights (e.g. 0 to ignore the jaw); default all equal.
    rotation : bool, default True
        False fits scale and translation only (an axis-aligned crop).

    Returns
    -------
    Similarity

    Raises
    ------
    ShapeError, InputValueError
        Mismatched shapes, NaNs, fewer than 2 points, degenerate points or weights.

    References
    ----------
    S. Umeyama, "Least-squares estimation of transformation parameters between two point
    patterns", IEEE TPAMI 13(4):376-380, 1991.

    Examples
    --------
    >>> src = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> sim = estimate_similarity(src, 2 * src[:, ::-1] * [-1, 1] + 5)   # 90 deg, x2, +5
    >>> round(sim.scale, 6), round(math.degrees(sim.angle), 6)
    (2.0, 90.0)
    """
    dims = check_shape(src, ("N", 2), "src")
    check_shape(dst, (dims["N"], 2), "dst")
    check_finite(src, "src")
    check_finite(dst, "dst")
    s = np.asarray(src, dtype=np.float64)
    d = np.asarray(dst, dtype=np.float64)
    n = s.shape[0]
    if n < 2:
        raise InputValueError(f"estimate_similarity needs at least 2 points; got {n}")
    if weights is None:
        w = np.full(n, 1.0 / n)
    else:
        check_shape(weights, (n,), "weights")
        check_finite(weights, "weights")
        w = np.asarray(weights, dtype=np.float64)
        if (w < 0).any() or w.sum() <= 0:
            raise InputValueError("weights must be non-negative with a positive sum")
        w = w / w.sum()
    mu_s, mu_d = w @ s, w @ d
    sc, dc = s - mu_s, d - mu_d
    var_s = float(w @ (sc * sc).sum(axis=1))
    spread = float(np.abs(s).max()) if s.size else 0.0
    if var_s <= 1e-20 * max(1.0, spread) ** 2:
        raise InputValueError("src points are (nearly) coincident; the similarity is undefined")
    if rotation:
        cov = (dc * w[:, None]).T @ sc                    # (2, 2) = sum_i w_i dst_i src_i^T
        u, sig, vt = np.linalg.svd(cov)
        sign = 1.0 if np.linalg.det(u) * np.linalg.det(vt) >= 0 else -1.0
        e = np.array([1.0, sign])
        rot = (u * e) @ vt
        scale = float((sig * e).sum() / var_s)
    else:
        rot = np.eye(2)
        scale = float(w @ (dc * sc).sum(axis=1)) / var_s
    if not scale > 0:
        raise InputValueError(f"the best-fitting scale is not positive ({scale:g}); points do not correspond")
    t = mu_d - scale * rot @ mu_s
    return Similarity(np.hstack([scale * rot, t[:, None]]))


# ------------------------------------------------------------------------------------ template

# Derived once (see build_template's Notes) from dlib's 68 points on skimage.data.astronaut():
# build_template(points) symmetrises them (the shape and its mirror image, generalised-Procrustes
# averaged, then made exactly mirror-symmetric about the vertical midline), rotates the eye
# centres onto a horizontal line, centres the bounding box on (0, 0) and scales its width to 1.
# tests/test_face.py recomputes it and checks that it matches.
_TEMPLATE_68_VALUES = """
 -0.50000  -0.29644  -0.48391  -0.16742  -0.46781  -0.04913  -0.44636   0.08018
 -0.40344   0.19876  -0.33343   0.30096  -0.23151   0.38707  -0.12366   0.46273
  0.00000   0.47911   0.12366   0.46273   0.23151   0.38707   0.33343   0.30096
  0.40344   0.19876   0.44636   0.08018   0.46781  -0.04913   0.48391  -0.16742
  0.50000  -0.29644  -0.42518  -0.39836  -0.36590  -0.46838  -0.28007  -0.47911
 -0.19368  -0.46838  -0.10757  -0.44156   0.10757  -0.44156   0.19368  -0.46838
  0.28007  -0.47911   0.36590  -0.46838   0.42518  -0.39836   0.00000  -0.33964
  0.00000  -0.24252   0.00000  -0.15669   0.00000  -0.07086  -0.10757  -0.02202
 -0.05364  -0.00593   0.00000   0.00480   0.05364  -0.00593   0.10757  -0.02202
 -0.32298  -0.32835  -0.26877  -0.37126  -0.19368  -0.37126  -0.13467  -0.30661
 -0.20469  -0.30153  -0.27442  -0.30124   0.13467  -0.30661   0.19368  -0.37126
  0.26877  -0.37126   0.32298  -0.32835   0.27442  -0.30124   0.20469  -0.30153
 -0.24195   0.06945  -0.15584   0.06409  -0.06465   0.06381   0.00000   0.07990
  0.06465   0.06381   0.15584   0.06409   0.24195   0.06945   0.16121   0.18238
  0.06973   0.23094   0.00000   0.24195  -0.06973   0.23094  -0.16121   0.18238
 -0.20949   0.08554  -0.06437   0.10135   0.00000   0.11265   0.06437   0.10135
  0.20949   0.08554   0.06437   0.17702   0.00000   0.18775  -0.06437   0.17702
"""

TEMPLATE_68: np.ndarray = np.array(
    [float(v) for v in _TEMPLATE_68_VALUES.split()], dtype=np.float64).reshape(N_LANDMARKS, 2)
TEMPLATE_68.setflags(write=False)


def _normalise_box(shape: np.ndarray) -> np.ndarray:
    lo, hi = shape.min(axis=0), shape.max(axis=0)
    width = float(hi[0] - lo[0])
    if width <= 0:
        raise InputValueError("template has zero width")
    return (shape - 0.5 * (lo + hi)) / width


def build_template(shapes: np.ndarray, *, symmetric: bool = True, n_iter: int = 20) -> np.ndarray:
    """Canonical mean shape of landmark sets (generalised Procrustes analysis).

    Parameters
    ----------
    shapes : numpy.ndarray, shape (N, L, 2) or (L, 2)
        Landmark sets, e.g. onset-frame landmarks of many clips (neutral faces make the best
        template).
    symmetric : bool, default True
        Add every shape's mirror image (iBUG-68 only, via :data:`MIRROR_68`) and make the
        result exactly left-right symmetric.
    n_iter : int, default 20
        Maximum Procrustes iterations.

    Returns
    -------
    numpy.ndarray, shape (L, 2), float64
        The mean shape with its bounding box centred on (0, 0) and of width 1; for iBUG-68
        rotated so that the eye centres (means of 36-41 and of 42-47) are level, the
        subject's right eye at negative u.

    Notes
    -----
    :data:`TEMPLATE_68` is ``build_template(p)`` of dlib's points ``p`` on
    ``skimage.data.astronaut()`` (one smiling face with parted lips, so the mouth is not
    neutral; pass ``template=build_template(onset_landmarks)`` of your own data to
    :func:`align_clip` for a neutral one). The mirror image of a shape is
    ``(-u, v)`` re-indexed by ``MIRROR_68``; averaging a face with its own mirror cancels its
    asymmetry and a small head turn.
    """
    arr = np.asarray(shapes, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    check_shape(arr, (None, "L", 2), "shapes")
    check_finite(arr, "shapes")
    n_pts = arr.shape[1]
    if symmetric:
        if n_pts != N_LANDMARKS:
            raise ShapeError(f"symmetric=True needs iBUG-68 shapes (L=68); got L={n_pts}")
        mirrored = arr[:, list(MIRROR_68)] * np.array([-1.0, 1.0])
        arr = np.concatenate([arr, mirrored], axis=0)
    ref = _normalise_box(arr[0])
    for _ in range(max(1, int(n_iter))):
        aligned = np.stack([estimate_similarity(x, ref).apply(x) for x in arr])
        new = _normalise_box(aligned.mean(axis=0))
        done = float(np.abs(new - ref).max()) < 1e-10
        ref = new
        if done:
            break
    if n_pts == N_LANDMARKS:
        right, left = ref[36:42].mean(axis=0), ref[42:48].mean(axis=0)
        ang = math.atan2(left[1] - right[1], left[0] - right[0])
        ref = Similarity.from_params(angle=-ang).apply(ref)
        if symmetric:
            mid = 0.5 * (ref + ref[list(MIRROR_68)])[:, 0].mean()
            refl = ref[list(MIRROR_68)].copy()
            refl[:, 0] = 2.0 * mid - refl[:, 0]
            ref = 0.5 * (ref + refl)
        ref = _normalise_box(ref)
    return ref


def place_template(template: np.ndarray | None = None, *, output_size: int = 256,
                   face_scale: float = 0.75) -> np.ndarray:
    """Template points in output-crop pixels.

    The template's bounding box is centred in the ``output_size`` square crop (centre at
    ``(output_size - 1) / 2``) and scaled to ``face_scale * output_size`` pixels wide.

    Parameters
    ----------
    template : numpy.ndarray, shape (L, 2), optional
        Any units and placement (only its box is used); default :data:`TEMPLATE_68`.
    output_size : int, default 256
    face_scale : float, default 0.75
        Width of the landmarks' bounding box (jaw to jaw) as a fraction of the crop.

    Returns
    -------
    numpy.ndarray, shape (L, 2), float64

    Examples
    --------
    >>> p = place_template(output_size=100, face_scale=0.5)
    >>> float(p[:, 0].min()), float(p[:, 0].max())
    (24.5, 74.5)
    """
    size = _check_size(output_size)
    if isinstance(face_scale, bool) or not isinstance(face_scale, numbers.Real) or not 0 < face_scale <= 2:
        raise InputValueError(f"face_scale must be in (0, 2]; got {face_scale!r}")
    if template is None:
        tmpl = TEMPLATE_68
    else:
        check_shape(template, (None, 2), "template")
        check_finite(template, "template")
        tmpl = np.asarray(template, dtype=np.float64)
        if tmpl.shape[0] < 2:
            raise ShapeError(f"template needs at least 2 points; got {tmpl.shape}")
    return _normalise_box(tmpl) * (face_scale * size) + 0.5 * (size - 1)


def _check_size(output_size: Any) -> int:
    if isinstance(output_size, bool) or not isinstance(output_size, (int, np.integer)) or not 8 <= output_size <= 8192:
        raise InputValueError(f"output_size must be an int in [8, 8192]; got {output_size!r}")
    return int(output_size)


# ---------------------------------------------------------------------------------- align_clip


@dataclass(frozen=True)
class Aligned:
    """An aligned (registered and cropped) clip, from :func:`align_clip`.

    Attributes
    ----------
    frames : numpy.ndarray, shape (T, S, S, 3) or (T, S, S), uint8
        Every frame warped by the same ``transform``.
    landmarks : numpy.ndarray, shape (T, L, 2), float32
        The input landmarks mapped by ``transform`` (crop pixels).
    transform : numpy.ndarray, shape (2, 3), float64
        Original-image pixels -> crop pixels.
    inverse : numpy.ndarray, shape (2, 3), float64
        Crop pixels -> original-image pixels.
    similarity : Similarity
        ``transform`` with its scale and angle.
    template : numpy.ndarray, shape (L, 2), float32
        The template as placed in the crop (the target of the fit).
    reference_index : int
        Frame whose landmarks were fitted to the template (the onset).
    fit_rms_px : float
        RMS distance (crop pixels) between the reference landmarks after alignment and the
        placed template: the shape difference a similarity cannot remove.
    """

    frames: np.ndarray
    landmarks: np.ndarray
    transform: np.ndarray
    inverse: np.ndarray
    similarity: Similarity
    template: np.ndarray
    reference_index: int
    fit_rms_px: float

    def to_original(self, points: np.ndarray) -> np.ndarray:
        """Map points (..., 2) from crop pixels back to the original frames."""
        return transform_points(points, self.inverse)


_BORDERS = ("constant", "replicate", "reflect")


def align_clip(frames: np.ndarray | Any, landmarks: np.ndarray, *, reference_index: int = 0,
               output_size: int = 256, face_scale: float = 0.75, template: np.ndarray | None = None,
               rotation: bool = True,
               border: Literal["constant", "replicate", "reflect"] = "constant") -> Aligned:
    """Align a clip with one similarity estimated on its reference (onset) frame.

    The similarity maps ``landmarks[reference_index]`` onto the template placed in an
    ``output_size`` square crop (least squares, :func:`estimate_similarity`); every frame is
    warped with that same transform (``cv2.warpAffine``, bilinear) and every frame's
    landmarks are transformed consistently.

    Parameters
    ----------
    frames : numpy.ndarray, shape (T, H, W, 3) or (T, H, W), or a sequence of images
        uint8, or float in [0, 1]. All frames must have the same size.
    landmarks : numpy.ndarray, shape (T, L, 2)
        (u, v) pixels of each frame (only the reference frame's must be finite).
    reference_index : int, default 0
        The onset frame (negative indices count from the end).
    output_size : int, default 256
        Side S of the square output crop.
    face_scale : float, default 0.75
        Width of the template's bounding box as a fraction of S (see :func:`place_template`).
    template : numpy.ndarray, shape (L, 2), optional
        Default :data:`TEMPLATE_68` (L = 68).
    rotation : bool, default True
        False keeps the frames upright (scale and translation only: a plain crop).
    border : {'constant', 'replicate', 'reflect'}, default 'constant'
        Fill outside the frame (constant = black).

    Returns
    -------
    Aligned

    Raises
    ------
    ShapeError, InputValueError, OptionError
        Mismatched shapes, NaN reference landmarks, bad options.

    Examples
    --------
    >>> frames = np.zeros((2, 120, 160, 3), np.uint8)
    >>> lms = np.repeat(place_template(output_size=100)[None] + 10.0, 2, axis=0)
    >>> out = align_clip(frames, lms, output_size=100)
    >>> out.frames.shape, bool(np.allclose(out.landmarks[0], out.template, atol=1e-4))
    ((2, 100, 100, 3), True)
    """
    import cv2

    check_option(border, _BORDERS, "border")
    size = _check_size(output_size)
    src = FrameSource(frames)
    n = len(src)
    dims = check_shape(landmarks, ("T", "L", 2), "landmarks")
    if dims["T"] != n:
        raise ShapeError(f"landmarks must have one set per frame: {n} frames but shape {np.shape(landmarks)}")
    lm = np.asarray(landmarks, dtype=np.float64)
    if isinstance(reference_index, bool) or not isinstance(reference_index, (int, np.integer)) \
            or not -n <= reference_index < n:
        raise InputValueError(f"reference_index must be an int in [{-n}, {n}); got {reference_index!r}")
    ref = int(reference_index) % n
    ref_pts = lm[ref]
    if not np.isfinite(ref_pts).all():
        raise InputValueError(f"landmarks of the reference frame {ref} contain NaN or infinite values")
    if template is None and dims["L"] != N_LANDMARKS:
        raise ShapeError(f"the default template has 68 points; landmarks have L={dims['L']}: pass template=")
    placed = place_template(template, output_size=size, face_scale=face_scale)
    if placed.shape[0] != dims["L"]:
        raise ShapeError(f"template has {placed.shape[0]} points but landmarks have {dims['L']}")
    sim = estimate_similarity(ref_pts, placed, rotation=rotation)
    m = sim.matrix
    border_mode = {"constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE,
                   "reflect": cv2.BORDER_REFLECT_101}[border]
    first = src[0]
    out = np.empty((n, size, size) + first.shape[2:], dtype=np.uint8)
    for t in range(n):
        out[t] = cv2.warpAffine(first if t == 0 else src[t], m, (size, size), flags=cv2.INTER_LINEAR,
                                borderMode=border_mode, borderValue=0)
    fitted = sim.apply(ref_pts)
    rms = float(np.sqrt(((fitted - placed) ** 2).sum(axis=1).mean()))
    return Aligned(frames=out, landmarks=transform_points(lm, m).astype(np.float32),
                   transform=np.array(m), inverse=invert(m), similarity=sim,
                   template=placed.astype(np.float32), reference_index=ref, fit_rms_px=rms)
