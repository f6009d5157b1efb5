"""68-point facial landmarks of one image or of every frame of a clip."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from .._checks import check_option
from ..errors import InputValueError, NoFaceError, OptionError
from ._image import FrameSource, as_image
from .backends import LANDMARK_BACKENDS, get_landmark_backend
from .containers import FaceBox, Landmarks, LandmarkSequence
from .detect import detect_faces, detect_near
from .ibug68 import N_LANDMARKS

__all__ = ["detect_landmarks", "detect_landmarks_sequence", "SCHEMES", "SEQUENCE_POLICIES"]

SCHEMES = ("ibug68", "mediapipe478")
SEQUENCE_POLICIES = ("raise", "interpolate", "track")


def _backend_name(backend: Any) -> str:
    if isinstance(backend, str):
        check_option(backend, LANDMARK_BACKENDS, "backend")
        return backend
    return str(getattr(backend, "name", ""))


def _check_scheme(scheme: str, name: str) -> None:
    check_option(scheme, SCHEMES, "scheme")
    if scheme == "ibug68" and name == "mediapipe":
        raise OptionError(
            "backend='mediapipe' cannot give iBUG-68 points: mxkit has no validated 478 -> 68 "
            "mapping (see MediaPipeBackend). Use scheme='mediapipe478' and Landmarks.mesh, or "
            "backend='dlib' / 'face_alignment' for 68 points"
        )
    if scheme == "mediapipe478" and name != "mediapipe":
        raise OptionError(f"scheme='mediapipe478' needs backend='mediapipe'; got backend={name!r}")


def _no_face(message: str, frame_index: int | None = None) -> NoFaceError:
    err = NoFaceError(message)
    err.frame_index = frame_index  # type: ignore[attr-defined]
    return err


def detect_landmarks(image: np.ndarray, *, backend: str | Any = "dlib", box: FaceBox | Any = None,
                     scheme: Literal["ibug68", "mediapipe478"] = "ibug68", upsample: int = 1,
                     threshold: float = 0.0) -> Landmarks:
    """Detect the face and its landmarks in one image.

    Parameters
    ----------
    image : numpy.ndarray, shape (H, W, 3) RGB or (H, W) gray
        uint8, or float in [0, 1].
    backend : {'dlib', 'face_alignment', 'mediapipe'} or backend instance, default 'dlib'
        ``'dlib'``: dlib's 68-point predictor, offline (the default). ``'face_alignment'``:
        2D-FAN, optional package and weights (see :class:`FaceAlignmentBackend`).
        ``'mediapipe'``: FaceMesh, optional, only with ``scheme='mediapipe478'``. An instance
        (``DlibBackend(upscale=4)``, ``FaceAlignmentBackend(weights=...)``) configures it.
    box : FaceBox or array-like (4,) or (5,), optional
        Face box ``(x0, y0, x1, y1[, score])``. Default: the best-scoring dlib HOG detection
        (the detector can also return a weak false face; the best one is kept).
    scheme : {'ibug68', 'mediapipe478'}, default 'ibug68'
        ``'mediapipe478'`` returns FaceMesh points in ``Landmarks.mesh`` (``points`` is None).
    upsample, threshold
        Passed to :func:`detect_faces` when ``box`` is None.

    Returns
    -------
    Landmarks
        ``points`` (68, 2) float32, (u, v) pixels in iBUG-300W order (0-16 jaw from the
        subject's right to left, 17-21 right brow, 22-26 left brow, 27-35 nose, 36-41 right
        eye, 42-47 left eye, 48-67 mouth), plus ``box``, ``score`` and ``backend``.

    Raises
    ------
    NoFaceError
        No face was found.
    OptionError
        Unknown backend or scheme, or a scheme the backend cannot give.
    BackendUnavailableError
        An optional backend (or its weights) is not installed; the message says how to get it.
    ShapeError, InputValueError
        Invalid image or box.

    Examples
    --------
    >>> from skimage.data import astronaut
    >>> lm = detect_landmarks(astronaut())
    >>> lm.points.shape, lm.points.dtype.name, lm.backend
    ((68, 2), 'float32', 'dlib')
    >>> bool(lm.points[36, 0] < lm.points[45, 0])   # subject's right eye is image-left
    True
    """
    name = _backend_name(backend)
    _check_scheme(scheme, name)
    img = as_image(image)
    be = get_landmark_backend(backend)
    fb = None if box is None else FaceBox.from_array(box)
    if scheme == "mediapipe478":
        mesh, out_box = be.predict_mesh(img, fb)
        return Landmarks(points=None, box=out_box, score=out_box.score, backend=be.name, mesh=mesh)
    if fb is None:
        boxes = detect_faces(img, upsample=upsample, threshold=threshold)
        if not boxes:
            raise _no_face(
                f"no face found in the {img.shape[1]}x{img.shape[0]} image (dlib HOG, "
                f"upsample={upsample}, threshold={threshold}); try upsample=2 for small faces"
            )
        fb = boxes[0]
    points, point_scores = be.predict(img, fb)
    if not np.isfinite(points).all():
        raise InputValueError(f"backend {be.name!r} returned NaN or infinite landmarks")
    return Landmarks(points=points, box=fb, score=fb.score, backend=be.name, point_scores=point_scores)


def _tracked_box(ref_box: FaceBox, ref_pts: np.ndarray, prev_pts: np.ndarray) -> FaceBox:
    """``ref_box`` moved and scaled like the landmarks moved from ``ref_pts`` to ``prev_pts``."""
    from .align import estimate_similarity

    if prev_pts is ref_pts:
        return ref_box
    sim = estimate_similarity(ref_pts, prev_pts)
    cx, cy = sim.apply(np.array([ref_box.center]))[0]
    return ref_box.scaled(sim.scale, center=(float(cx), float(cy)))


def detect_landmarks_sequence(frames: np.ndarray | Any, *, backend: str | Any = "dlib",
                              policy: Literal["raise", "interpolate", "track"] = "raise",
                              box: FaceBox | Any = None, upsample: int = 1, threshold: float = 0.0,
                              progress: bool | None = None) -> LandmarkSequence:
    """iBUG-68 landmarks of every frame of a clip, detecting the face once and tracking it.

    The face is detected on the first frame (best-scoring dlib HOG box, or ``box``). On every
    later frame the box is the first box moved and scaled like the landmarks moved between
    the first frame and the previous one (a smooth track, not the jumpy per-frame HOG box),
    and the landmarks are predicted in it.

    Parameters
    ----------
    frames : numpy.ndarray, shape (T, H, W, 3) RGB or (T, H, W) gray, or a sequence of images
        uint8, or float in [0, 1].
    backend : {'dlib', 'face_alignment'} or backend instance, default 'dlib'
    policy : {'raise', 'interpolate', 'track'}, default 'raise'
        What to check and do on each frame:

        * ``'raise'``: the face is re-detected near the tracked box (dlib HOG on a small
          window, a few ms); a frame without a face raises :class:`NoFaceError` whose message
          names the frame index (also in ``err.frame_index``). A detection far from the
          tracked box (IoU < 0.5) re-anchors the track.
        * ``'interpolate'``: the same check, but frames without a face get landmarks linearly
          interpolated from the nearest frames with a face on either side (held constant
          before the first and after the last); their indices are in ``.interpolated``.
        * ``'track'``: no per-frame check (fastest); a frame without a face is **not**
          noticed and gets meaningless points.
    box : FaceBox or array-like, optional
        Face box on the first frame (skips its detection).
    upsample, threshold
        HOG settings of the first-frame detection (``threshold`` also for the re-detection).
    progress : bool or None
        Show a tqdm progress bar; None shows one for clips of 100 frames or more.

    Returns
    -------
    LandmarkSequence
        ``points`` (T, 68, 2) float32 (also ``numpy.asarray(result)``), ``boxes`` (T, 4),
        ``scores`` (T,), ``interpolated`` (frame indices).

    Raises
    ------
    NoFaceError
        ``policy='raise'``: a frame has no face (its index is in the message); any policy:
        no face on the first frame (``'raise'``, ``'track'``) or in any frame (``'interpolate'``).
    OptionError, BackendUnavailableError, ShapeError, InputValueError
        As for :func:`detect_landmarks`; frames of different shapes raise ShapeError.
    """
    check_option(policy, SEQUENCE_POLICIES, "policy")
    name = _backend_name(backend)
    if name == "mediapipe":
        raise OptionError("detect_landmarks_sequence gives iBUG-68 points; backend='mediapipe' cannot "
                          "(see MediaPipeBackend)")
    src = FrameSource(frames)
    be = get_landmark_backend(backend)
    user_box = None if box is None else FaceBox.from_array(box)
    n = len(src)
    points = np.full((n, N_LANDMARKS, 2), np.nan, dtype=np.float64)
    boxes = np.full((n, 4), np.nan, dtype=np.float64)
    scores = np.full(n, np.nan, dtype=np.float64)
    missing: list[int] = []
    ref_box: FaceBox | None = None
    ref_pts: np.ndarray | None = None
    prev_pts: np.ndarray | None = None

    from tqdm.auto import tqdm

    show = (n >= 100) if progress is None else bool(progress)
    for t in tqdm(range(n), total=n, disable=not show, desc="landmarks", unit="frame"):
        img = src[t]
        anchor = False
        if ref_box is None:
            if user_box is not None and t == 0:
                use_box = user_box
            else:
                found = detect_faces(img, upsample=upsample, threshold=threshold, max_faces=1)
                use_box = found[0] if found else None
            if use_box is None:
                if policy == "interpolate":
                    missing.append(t)
                    continue
                raise _no_face(f"no face found in frame {t} of {n} (the first frame of the clip; "
                               f"dlib HOG, upsample={upsample}, threshold={threshold})", t)
            score = use_box.score
            anchor = True
        else:
            tracked = _tracked_box(ref_box, ref_pts, prev_pts)
            if policy == "track":
                use_box, score = tracked, np.nan
            else:
                det = detect_near(img, tracked, threshold=threshold)
                if det is None:
                    if policy == "raise":
                        raise _no_face(f"no face found in frame {t} of {n} (near the tracked box "
                                       f"{np.round(tracked.as_array(), 1).tolist()})", t)
                    missing.append(t)
                    continue
                score = det.score
                if det.iou(tracked) >= 0.5:
                    use_box = tracked
                else:
                    use_box, anchor = det, True
        pts, _ = be.predict(img, use_box)
        if not np.isfinite(pts).all():
            raise InputValueError(f"backend {be.name!r} returned NaN landmarks on frame {t}")
        points[t] = pts
        boxes[t] = use_box.as_array()
        scores[t] = score
        if anchor:
            ref_box, ref_pts = use_box, pts
        prev_pts = pts

    if missing:
        if len(missing) == n:
            raise _no_face(f"no face found in any of the {n} frames", None)
        valid = np.setdiff1d(np.arange(n), missing)
        flat = points.reshape(n, -1)
        for j in range(flat.shape[1]):
            flat[missing, j] = np.interp(missing, valid, flat[valid, j])
    return LandmarkSequence(points=points.astype(np.float32), boxes=boxes, scores=scores,
                            interpolated=tuple(missing), backend=be.name, policy=policy)
