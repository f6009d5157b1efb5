"""Photo-texture SynthME: real skin moved by a known 3D micro-expression (``appearance="photo"``).

A real face photograph and its 68 landmarks are cropped to the frame size
(:func:`photo_face`), the face model is fitted to the landmarks (:func:`mxkit.fit.fit_landmarks`,
one frame; its weak-perspective camera becomes an orthographic :class:`~mxkit.render.Camera`),
and the fitted face is driven by the same FACS-coded onset -> apex -> offset expression and
fine-detail field as SynthME (:func:`~mxkit.data.synth.plan_clip`) on top of the photo's own
fitted expression and pose, with optional sub-pixel head motion (:func:`plan_photo_clip`).

Each frame is the photo **backward-warped** by the projected 3D motion (:func:`warp_photo`): the
posed mesh of the frame is rasterized (z-buffer: only the nearest surface owns a pixel), and the
pixel's source in the photo is where the same surface point (same triangle, same barycentrics)
projects in the photo's own fitted pose. So the image motion of every face pixel is exactly the
projected motion of the visible surface, occluded surface never moves a pixel, and pixels the
mesh does not cover (background, hair beyond the model) stay still. Sampling is a cubic spline
at full float precision (no fixed-point remap), so sub-pixel motion is rendered faithfully; pixels
whose displacement is exactly zero are copied. Sensor noise, optical blur, JPEG and grayscale are
options (:func:`iter_photo_frames`).

Limits, stated: the photo has one appearance, so a surface point that the motion uncovers (an
eyelid opening over the eyeball) shows the texture that was in front of it; shading does not
change with the motion (no relighting of wrinkles); the fitted mesh need not match the photo's
face exactly -- the truth is the mesh's motion, and the image moves with it exactly.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import InputValueError, ShapeError
from .appearance import SynthSubject, check_model
from .truth import SynthTruth

if TYPE_CHECKING:  # pragma: no cover
    from ...morph import FaceModel
    from ...render import Camera

__all__ = ["PhotoFace", "photo_face", "plan_photo_clip", "warp_photo", "iter_photo_frames",
           "render_photo_frames", "generate_photo_clip", "PHOTO_SENSOR_DEFAULTS", "APPEARANCES"]

#: Values of ``make_dataset(appearance=...)``: the painted albedo or a real photo.
APPEARANCES = ("painted", "photo")
#: Default sensor and motion options of photo clips (a number or a (low, high) range drawn per
#: clip): Gaussian noise (8-bit grey levels), optical blur (pixels), largest image displacement
#: of the head motion on the face (pixels), and the probability of a grayscale clip.
PHOTO_SENSOR_DEFAULTS: dict[str, Any] = {"noise_sigma": 1.0, "blur_sigma": 0.0,
                                         "head_motion_px": 0.3, "grayscale": 0.0}
_ORTHO_R = np.diag([1.0, -1.0, -1.0])
_ORTHO_DISTANCE_M = 1.0


@dataclass(frozen=True, eq=False)
class PhotoFace:
    """A face photo cropped to the frame, with the face model fitted to its landmarks.

    Attributes
    ----------
    name : str
        Photo name (e.g. ``"einstein"``).
    image : ndarray, shape (H, W, 3), uint8
        The photo cropped and resized to the frame size (RGB); the clips' reference appearance.
    landmarks : ndarray, shape (68, 2), float64
        Its iBUG-68 landmarks in frame pixels (u right, v down, pixel centres at integers).
    identity : ndarray, shape (K,), float32
        Fitted identity coefficients.
    expression : ndarray, shape (E,), float32
        Fitted expression of the photo (the clips' neutral state).
    rotation : ndarray, shape (3,), float32
        Fitted head rotation (axis-angle, radians, model frame).
    camera : mxkit.render.Camera
        Orthographic camera equal to the fit's weak-perspective camera.
    fit_error_px : float
        Mean landmark reprojection error of the fit, frame pixels.
    index : int
        Subject number the datasets write (1-based).
    meta : dict
        Where the photo came from (``source``, ``landmark_source``, crop box, scale).
    """

    name: str
    image: np.ndarray
    landmarks: np.ndarray
    identity: np.ndarray
    expression: np.ndarray
    rotation: np.ndarray
    camera: Any
    fit_error_px: float
    index: int = 1
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)`` of the frames."""
        return int(self.image.shape[0]), int(self.image.shape[1])

    def with_index(self, index: int) -> PhotoFace:
        """This face with another subject number."""
        return dataclasses.replace(self, index=int(index))

    def reference_vertices(self, model: FaceModel) -> np.ndarray:
        """The fitted mesh in the photo's own pose (the warp's reference), shape (V, 3), metres."""
        import torch

        from ...geometry import axis_angle_to_matrix

        with torch.no_grad():
            v = model(torch.as_tensor(self.identity)[None].to(model.v_template),
                      torch.as_tensor(self.expression)[None].to(model.v_template))[0]
        R = axis_angle_to_matrix(torch.as_tensor(self.rotation, dtype=torch.float64)).numpy()
        return (v.cpu().numpy().astype(np.float64) @ R.T).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        """JSON-compatible description (the dataset manifest's subject entry)."""
        return {"index": self.index, "appearance": "photo", "photo": self.name,
                "image_size": list(self.image_size), "fit_error_px": round(self.fit_error_px, 4),
                "identity": [float(v) for v in self.identity],
                "rotation": [float(v) for v in self.rotation],
                "scale_px_per_m": float(self.camera.fx),
                **{k: v for k, v in self.meta.items() if isinstance(v, (str, int, float, list))}}

    def __repr__(self) -> str:
        return (f"PhotoFace({self.name!r}, {self.image_size[1]}x{self.image_size[0]} px, "
                f"fit error {self.fit_error_px:.2f} px)")


def _check_image(image: Any, name: str = "image") -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4) or min(img.shape[:2]) < 16:
        raise ShapeError(f"{name} must be an (H, W), (H, W, 3) or (H, W, 4) image of at least 16 px; "
                         f"got shape {img.shape}")
    if img.dtype != np.uint8:
        if not np.issubdtype(img.dtype, np.floating) or not np.isfinite(img).all():
            raise InputValueError(f"{name} must be uint8 or finite floats in [0, 1]; got {img.dtype}")
        img = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img[..., :3])


def _check_landmarks(landmarks: Any, shape: tuple[int, int]) -> np.ndarray:
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2):
        raise ShapeError(f"landmarks must be (68, 2) iBUG-68 points (u, v) in pixels; got {lm.shape}")
    if not np.isfinite(lm).all():
        raise InputValueError("landmarks must be finite")
    H, W = shape
    if lm[:, 0].max() < 0 or lm[:, 1].max() < 0 or lm[:, 0].min() >= W or lm[:, 1].min() >= H:
        raise InputValueError(f"landmarks lie outside the {W}x{H} image")
    return lm


def photo_face(image: Any, landmarks: Any, *, name: str = "photo", image_size: Any = 256,
               face_fraction: float = 0.55, index: int = 1, model: FaceModel | None = None,
               meta: dict[str, Any] | None = None) -> PhotoFace:
    """Crop a photo around its face, resize it to the frame size and fit the face model.

    Parameters
    ----------
    image : array, shape (H, W, 3) or (H, W), uint8
        The photo (RGB).
    landmarks : array, shape (68, 2)
        iBUG-68 landmarks in the photo's pixels (u right, v down, pixel centres at integers).
    name : str
        Name of the photo (written in the dataset manifest and the truth's ``meta``).
    image_size : int or (H, W)
        Frame size of the clips.
    face_fraction : float
        The landmarks' bounding box (its larger side) spans this fraction of the frame's
        smaller side; the crop is centred on the box (the photo is padded by edge replication
        where the crop leaves it). Upscaling is allowed (small faces get smooth skin).
    index : int
        Subject number (1-based).
    model : FaceModel, optional
        ``mh-head`` (default).
    meta : dict, optional
        Extra provenance stored in :attr:`PhotoFace.meta`.

    Returns
    -------
    PhotoFace
    """
    import cv2
    import torch

    from ...fit import fit_landmarks
    from ...render import Camera
    from ...render.camera import check_image_size

    model = check_model(model)
    img = _check_image(image)
    lm = _check_landmarks(landmarks, img.shape[:2])
    H, W = check_image_size(image_size)
    if not isinstance(face_fraction, numbers.Real) or not 0.1 <= float(face_fraction) <= 0.95:
        raise InputValueError(f"face_fraction must be in [0.1, 0.95]; got {face_fraction!r}")
    lo, hi = lm.min(0), lm.max(0)
    size = float((hi - lo).max())
    if size < 8:
        raise InputValueError(f"the landmarks span only {size:.1f} px; a face needs at least 8")
    scale = float(face_fraction) * min(H, W) / size
    centre = (lo + hi) / 2.0
    # frame pixel p = scale * (photo pixel - centre) + frame centre
    A = np.array([[scale, 0.0, (W - 1) / 2.0 - scale * centre[0]],
                  [0.0, scale, (H - 1) / 2.0 - scale * centre[1]]])
    if scale < 1:  # area-average first (no aliasing), then place: resize maps x to (x + 0.5) s - 0.5
        small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        fx, fy = small.shape[1] / img.shape[1], small.shape[0] / img.shape[0]
        B = np.array([[scale / fx, 0.0, A[0, 2] + 0.5 * scale - 0.5 * scale / fx],
                      [0.0, scale / fy, A[1, 2] + 0.5 * scale - 0.5 * scale / fy]])
        frame = cv2.warpAffine(small, B, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    else:
        frame = cv2.warpAffine(img, A, (W, H), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    lm_frame = lm @ A[:, :2].T + A[:, 2]
    fit = fit_landmarks(model, torch.as_tensor(lm_frame[None], dtype=model.v_template.dtype))
    s = float(fit.scale[0])
    tu, tv = (float(x) for x in fit.t2d[0])
    camera = Camera(fx=s, fy=s, cx=tu, cy=tv, R=_ORTHO_R, t=(0.0, 0.0, _ORTHO_DISTANCE_M),
                    image_size=(H, W), projection="orthographic")
    info = {"crop_scale": scale, "crop_centre": [float(c) for c in centre], **(meta or {})}
    return PhotoFace(name=str(name), image=np.ascontiguousarray(frame), landmarks=lm_frame,
                     identity=fit.identity.detach().cpu().numpy().astype(np.float32).reshape(-1),
                     expression=fit.expression[0].detach().cpu().numpy().astype(np.float32),
                     rotation=fit.rotation[0].detach().cpu().numpy().astype(np.float32),
                     camera=camera, fit_error_px=float(fit.error_px[0]), index=int(index), meta=info)


# ----------------------------------------------------------------------------- planning
def _draw_option(rng: np.random.Generator, value: Any, name: str, lo: float, hi: float) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        a = b = float(value)
    else:
        try:
            a, b = (float(v) for v in value)
        except (TypeError, ValueError):
            raise InputValueError(f"{name} must be a number or a (low, high) pair; got {value!r}") from None
    if not (np.isfinite(a) and np.isfinite(b) and lo <= a <= b <= hi):
        raise InputValueError(f"{name} must lie in [{lo}, {hi}] with low <= high; got {value!r}")
    return a if a == b else float(rng.uniform(a, b))


def _sensor(options: dict[str, Any] | None, rng: np.random.Generator) -> dict[str, Any]:
    opts = dict(PHOTO_SENSOR_DEFAULTS)
    unknown = sorted(set(options or {}) - set(opts) - {"jpeg_quality"})
    if unknown:
        raise InputValueError(f"unknown photo option(s) {unknown}; known: "
                              f"{sorted(set(opts) | {'jpeg_quality'})}")
    opts.update(options or {})
    out = {"noise_sigma": _draw_option(rng, opts["noise_sigma"], "noise_sigma", 0.0, 50.0),
           "blur_sigma": _draw_option(rng, opts["blur_sigma"], "blur_sigma", 0.0, 10.0),
           "head_motion_px": _draw_option(rng, opts["head_motion_px"], "head_motion_px", 0.0, 20.0)}
    p_gray = _draw_option(rng, opts["grayscale"], "grayscale", 0.0, 1.0)
    out["grayscale"] = bool(rng.uniform() < p_gray)
    q = opts.get("jpeg_quality")
    out["jpeg_quality"] = None if q is None else int(round(_draw_option(rng, q, "jpeg_quality", 1, 100)))
    return out


def _surrogate(face: PhotoFace, sensor: dict[str, Any]) -> SynthSubject:
    """A SynthSubject carrying the photo's identity and camera, so that :func:`plan_clip`
    draws exactly the motion SynthME draws."""
    from ...render import Light

    return SynthSubject(index=face.index, seed=0, identity=face.identity, texture=None,
                        uv=np.zeros((0, 2)), faces_uv=np.zeros((0, 3), np.int32), light=Light(),
                        background=(0.0, 0.0, 0.0), camera=face.camera,
                        noise_sigma=sensor["noise_sigma"], blur_sigma=sensor["blur_sigma"],
                        look={})


def _compose_rotation(small: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Axis-angle of ``R(small[t]) @ R(base)`` per frame."""
    import torch

    from ...geometry import axis_angle_to_matrix, matrix_to_axis_angle

    Rs = axis_angle_to_matrix(torch.as_tensor(small, dtype=torch.float64))
    Rb = axis_angle_to_matrix(torch.as_tensor(base, dtype=torch.float64))
    return matrix_to_axis_angle(Rs @ Rb).numpy().astype(np.float32)


def plan_photo_clip(face: PhotoFace, *, expression_type: str = "micro", emotion: str | None = None,
                    au_string: str | int | None = None, seed: int = 0, fps: float = 200.0,
                    duration_s: Any = None, baseline_s: Any = None, intensity: Any = None,
                    sensor: dict[str, Any] | None = None, model: FaceModel | None = None) -> SynthTruth:
    """The ground truth of one photo-texture clip.

    The AU recipe, intensity profile, detail field and their random draws are
    :func:`~mxkit.data.synth.plan_clip`'s for the same ``seed``; the expression is added to the
    photo's fitted expression (clipped to [0, 1]), and the head motion is SynthME's scaled so that
    its largest image displacement on the face is ``sensor['head_motion_px']`` (0: a still head)
    and composed with the photo's fitted rotation.

    Parameters
    ----------
    face : PhotoFace
        From :func:`photo_face`.
    expression_type, emotion, au_string, seed, fps, duration_s, baseline_s, intensity, model
        As in :func:`~mxkit.data.synth.plan_clip`.
    sensor : dict, optional
        Override :data:`PHOTO_SENSOR_DEFAULTS` (``noise_sigma``, ``blur_sigma``,
        ``head_motion_px``, ``grayscale`` = probability of a gray clip) and ``jpeg_quality``
        (in-memory frames only; the dataset writer's ``quality`` applies on disk). Each a number
        or a (low, high) range, drawn per clip.

    Returns
    -------
    SynthTruth
        ``camera`` is the photo's orthographic camera; ``meta`` adds ``appearance='photo'``,
        ``photo`` (its name), the drawn sensor options and the photo's fitted expression
        (``photo_expression``, so the truth is self-contained).
    """
    from .clips import plan_clip

    model = check_model(model)
    if not isinstance(face, PhotoFace):
        raise InputValueError(f"face must be a PhotoFace (photo_face); got {type(face).__name__}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) if isinstance(seed, numbers.Integral)
                                                        and seed >= 0 else 0, 7401]))
    drawn = _sensor(sensor, rng)
    base = plan_clip(_surrogate(face, drawn), expression_type=expression_type, emotion=emotion,
                     au_string=au_string, seed=seed, fps=fps, duration_s=duration_s,
                     baseline_s=baseline_s, intensity=intensity, model=model)
    expression = np.clip(face.expression[None] + base.expression, 0.0, 1.0)
    # scale the head motion to the requested pixel displacement (small motion: linear in scale)
    probe = dataclasses.replace(base, expression=expression,
                                rotation=_compose_rotation(base.rotation, face.rotation),
                                detail=np.zeros_like(base.detail))
    still = dataclasses.replace(probe, rotation=np.repeat(face.rotation[None], base.n_frames, 0),
                                translation=np.zeros_like(base.translation))
    from ...render import project

    moved = project(probe.posed_vertices(model).astype(np.float64), face.camera).pixels
    rest = project(still.posed_vertices(model).astype(np.float64), face.camera).pixels
    peak = float(np.linalg.norm(moved - rest, axis=-1).max())
    k = drawn["head_motion_px"] / peak if peak > 0 else 0.0
    rotation = _compose_rotation(base.rotation * k, face.rotation)
    translation = base.translation * k
    meta = {**base.meta, "appearance": "photo", "photo": face.name,
            "noise_sigma": drawn["noise_sigma"], "blur_sigma": drawn["blur_sigma"],
            "head_motion_px": drawn["head_motion_px"], "grayscale": drawn["grayscale"],
            "jpeg_quality": drawn["jpeg_quality"],
            "photo_expression": [float(v) for v in face.expression],
            "photo_rotation": [float(v) for v in face.rotation]}
    truth = dataclasses.replace(base, expression=expression, rotation=rotation, translation=translation,
                                meta=meta)
    return dataclasses.replace(truth, landmarks=truth.project_landmarks(model))


# ----------------------------------------------------------------------------- warping
class _Sampler:
    """Cubic-spline sampling of one image at float positions (prefiltered once)."""

    def __init__(self, image: np.ndarray) -> None:
        from scipy import ndimage

        self.image = image
        self.coeffs = [ndimage.spline_filter(image[..., c].astype(np.float64), order=3, mode="mirror")
                       for c in range(image.shape[2])]

    def __call__(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        from scipy import ndimage

        return np.stack([ndimage.map_coordinates(c, [rows, cols], order=3, mode="mirror", prefilter=False)
                         for c in self.coeffs], axis=-1)


def _pixels(vertices: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    from ...render import project

    p = project(np.asarray(vertices, dtype=np.float64), camera)
    return p.pixels, p.depth


def _displacement(ref_px: np.ndarray, vertices: np.ndarray, faces: np.ndarray, camera: Camera
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel backward displacement (H, W, 2) (source - pixel, in (u, v)) and the mask of
    pixels owned by the mesh."""
    from ...render import rasterize

    px, depth = _pixels(vertices, camera)
    frags = rasterize(np.column_stack([px, depth]), faces, camera.image_size,
                      perspective_correct=camera.projection == "perspective")
    disp = frags.interpolate(ref_px - px, faces)
    return disp, frags.mask


def warp_photo(photo: Any, vertices: Any, reference_vertices: Any, faces: Any, camera: Camera, *,
               sampler: Any = None) -> np.ndarray:
    """Backward-warp a photo by the projected motion of a mesh (visibility-aware).

    Parameters
    ----------
    photo : array, shape (H, W, 3), uint8
        The appearance of the mesh in its reference pose.
    vertices : array, shape (V, 3)
        The mesh of the frame (posed, model frame, metres).
    reference_vertices : array, shape (V, 3)
        The same mesh in the photo's pose.
    faces : array, shape (F, 3), int
    camera : mxkit.render.Camera
        Projects both meshes; its image size is the photo's.

    Returns
    -------
    ndarray, shape (H, W, 3), float64
        The frame in grey levels (0-255, not rounded). A pixel owned by the nearest visible
        triangle of ``vertices`` takes the photo's value where that surface point projects in the
        reference pose (cubic spline, float positions); other pixels, and pixels whose
        displacement is exactly zero, are the photo's.
    """
    img = _check_image(photo, "photo")
    if tuple(img.shape[:2]) != tuple(camera.image_size):
        raise ShapeError(f"photo is {img.shape[1]}x{img.shape[0]} but the camera's image is "
                         f"{camera.image_size[1]}x{camera.image_size[0]}")
    v = np.asarray(vertices, dtype=np.float64)
    ref = np.asarray(reference_vertices, dtype=np.float64)
    if v.shape != ref.shape or v.ndim != 2 or v.shape[1] != 3:
        raise ShapeError(f"vertices and reference_vertices must both be (V, 3); got {v.shape} and {ref.shape}")
    f = np.asarray(faces, dtype=np.int64)
    ref_px, _ = _pixels(ref, camera)
    disp, mask = _displacement(ref_px, v, f, camera)
    return _apply(img, disp, mask, sampler)


def _apply(img: np.ndarray, disp: np.ndarray, mask: np.ndarray, sampler: Any) -> np.ndarray:
    out = img.astype(np.float64)
    move = mask & (np.abs(disp).max(-1) > 0)
    if move.any():
        rows, cols = np.nonzero(move)
        src_c = cols + disp[rows, cols, 0]
        src_r = rows + disp[rows, cols, 1]
        out[rows, cols] = (sampler or _Sampler(img))(src_r, src_c)
    return out


def _gray(img: np.ndarray) -> np.ndarray:
    g = np.round(img.astype(np.float64) @ np.array([0.299, 0.587, 0.114]))
    return np.repeat(np.clip(g, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def iter_photo_frames(face: PhotoFace, truth: SynthTruth, *, model: FaceModel | None = None,
                      frames: Sequence[int] | None = None, detail: bool = True,
                      on_frame: Callable[[], None] | None = None) -> Iterator[np.ndarray]:
    """The frames of a photo-texture clip one at a time (see :func:`render_photo_frames`)."""
    import cv2

    model = check_model(model)
    if truth.meta.get("appearance") != "photo":
        raise InputValueError("truth is not a photo-texture clip (plan it with plan_photo_clip)")
    if not detail:
        truth = dataclasses.replace(truth, detail=np.zeros_like(truth.detail))
    idx = np.arange(truth.n_frames) if frames is None else np.asarray(list(frames), dtype=int)
    if idx.size and (idx.min() < 0 or idx.max() >= truth.n_frames):
        raise InputValueError(f"frame indices must be in [0, {truth.n_frames}); got {idx.min()}..{idx.max()}")
    m = truth.meta
    img = _gray(face.image) if m.get("grayscale") else face.image
    camera = truth.camera
    faces = model.faces.detach().cpu().numpy().astype(np.int64)
    photo = dataclasses.replace(face, expression=np.asarray(m.get("photo_expression", face.expression),
                                                            np.float32),
                                rotation=np.asarray(m.get("photo_rotation", face.rotation), np.float32))
    ref_px, _ = _pixels(photo.reference_vertices(model), camera)
    sampler = _Sampler(img)
    sigma, blur = float(m.get("noise_sigma", 0.0)), float(m.get("blur_sigma", 0.0))
    quality = m.get("jpeg_quality")
    noise_seed = int(m.get("noise_seed", 0))
    for start in range(0, len(idx), 16):
        part = idx[start:start + 16]
        verts = truth.posed_vertices(model, part)
        for k, t in enumerate(part):
            disp, mask = _displacement(ref_px, verts[k], faces, camera)
            frame = _apply(img, disp, mask, sampler)
            if blur > 0:
                frame = cv2.GaussianBlur(frame, (0, 0), blur)
            if sigma > 0:
                noise = np.random.default_rng([noise_seed, int(t)]).standard_normal(frame.shape)
                frame = frame + sigma * noise
            out = np.clip(np.round(frame), 0, 255).astype(np.uint8)
            if m.get("grayscale"):
                out = np.repeat(out[..., :1], 3, axis=2)
            if quality is not None:
                ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
                out = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
            yield out
            if on_frame is not None:
                on_frame()


def render_photo_frames(face: PhotoFace, truth: SynthTruth, *, model: FaceModel | None = None,
                        frames: Sequence[int] | None = None, detail: bool = True) -> np.ndarray:
    """The frames of a photo-texture clip: the photo warped by the truth's motion.

    Parameters
    ----------
    face : PhotoFace
    truth : SynthTruth
        From :func:`plan_photo_clip`.
    model : FaceModel, optional
    frames : sequence of int, optional
        Frame indices (default all).
    detail : bool
        False warps without the fine-detail field.

    Returns
    -------
    ndarray, shape (N, H, W, 3), uint8
        RGB frames: warp (:func:`warp_photo`), then optical blur, Gaussian sensor noise (seeded
        per frame from ``truth.meta['noise_seed']``), grayscale and JPEG as the truth's ``meta``
        says.
    """
    imgs = list(iter_photo_frames(face, truth, model=model, frames=frames, detail=detail))
    H, W = truth.camera.image_size
    return np.stack(imgs) if imgs else np.zeros((0, H, W, 3), np.uint8)


def generate_photo_clip(face: PhotoFace, *, expression_type: str = "micro", emotion: str | None = None,
                        au_string: str | int | None = None, seed: int = 0, fps: float = 200.0,
                        duration_s: Any = None, baseline_s: Any = None, intensity: Any = None,
                        sensor: dict[str, Any] | None = None, clip_id: str | None = None,
                        model: FaceModel | None = None) -> Any:
    """One photo-texture clip in memory, a :class:`~mxkit.data.Clip` with its :class:`SynthTruth`
    (arguments as in :func:`plan_photo_clip`; ``clip_id`` default ``f"{photo}_{type}{seed:03d}"``)."""
    from ..clip import Clip

    model = check_model(model)
    truth = plan_photo_clip(face, expression_type=expression_type, emotion=emotion, au_string=au_string,
                            seed=seed, fps=fps, duration_s=duration_s, baseline_s=baseline_s,
                            intensity=intensity, sensor=sensor, model=model)
    frames = render_photo_frames(face, truth, model=model)
    m = truth.meta
    return Clip(dataset="synthme", subject=f"s{face.index:02d}",
                clip_id=clip_id if clip_id is not None else f"{face.name}_{expression_type}{seed:03d}",
                frames=frames, fps=truth.fps, onset=m["onset"], apex=m["apex"], offset=m["offset"],
                au_string=m["au_string"], emotion=m["emotion"],
                meta={"kind": expression_type, "synth_seed": int(seed), "appearance": "photo",
                      "photo": face.name}, ground_truth=truth)
