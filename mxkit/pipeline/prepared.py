"""The ``prepare`` stage: landmarks, alignment, optical flow, strain and magnification of a clip.

``prepare(clip)`` runs the usual micro-expression pre-processing on one
:class:`~mxkit.data.Clip` and returns a frozen :class:`Prepared`:

1. **landmarks** of every frame: dlib (or another backend) detects the face on the first
   frame and tracks it (:func:`mxkit.face.detect_landmarks_sequence`; ``no_face`` picks what
   happens on a frame without a face) -- or, with ``track='flow'``, detects the landmarks on
   the onset frame only and moves them with the optical flow (sub-pixel and temporally
   consistent: :func:`mxkit.pipeline.track.track_landmarks`);
2. optional temporal **smoothing** of the landmark tracks (:func:`mxkit.face.smooth_landmarks`);
3. **alignment**: one similarity estimated on the *onset* frame's landmarks (onto the
   canonical template placed in an ``size x size`` crop) and applied to every frame, so the
   alignment adds no jitter (:func:`mxkit.face.align_clip`); every frame's landmarks are
   mapped into the crop with the same transform;
4. dense **optical flow** from the onset crop to every crop (:func:`mxkit.flow.flow_sequence`;
   zeros at the onset) and its **optical strain** magnitude (:func:`mxkit.flow.optical_strain`);
5. optional Eulerian **magnification** of the crops (:func:`mxkit.flow.magnify`), kept
   apart in ``Prepared.magnified``: flow and strain are always computed on the true,
   unmagnified crops, which is what the 3D fit needs.

With ``cache_dir`` the result is cached on disk per clip (see :mod:`mxkit.pipeline._cache`):
the key is made of the clip key, a fingerprint of its frames (file paths, sizes and
modification times, or a hash of in-memory frames), every parameter and the library
versions; entries are written atomically and verified by checksum when read.
"""

from __future__ import annotations

import inspect
import logging
import math
import numbers
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._checks import check_option, check_shape
from .._io import display_path
from ..data.clip import BAD_FRAME_POLICIES
from ..errors import FrameReadError, InputValueError, MxkitError, OptionError
from ..face import (
    Similarity,
    detect_landmarks,
    detect_landmarks_sequence,
    landmark_noise_floor,
    smooth_landmarks,
)
from ..face.ibug68 import N_LANDMARKS
from ..flow import FLOW_METHODS, flow_sequence, magnify, optical_strain
from . import _cache
from .track import TRACK_MODES, track_landmarks

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["Prepared", "prepare", "PHASES", "NO_FACE_POLICIES"]

logger = logging.getLogger("mxkit.pipeline")

#: Per-frame phase labels of :meth:`Prepared.to_dataframe`, in temporal order.
PHASES = ("before", "onset", "rising", "apex", "falling", "offset", "after")
#: Values of ``prepare(no_face=...)``: see :func:`mxkit.face.detect_landmarks_sequence`.
NO_FACE_POLICIES = ("raise", "interpolate", "track")
_SMOOTH_DEFAULTS = {"savgol": {"window": 7, "polyorder": 2}, "gaussian": {"sigma": 1.0}}
_STRAIN_SCHEMES = ("central", "forward")
_ARRAYS = ("frames", "landmarks", "landmarks_raw", "flow", "strain")


# ------------------------------------------------------------------------------ the result


@dataclass(frozen=True, eq=False)
class Prepared:
    """A prepared clip: aligned crops, landmarks, flow onset -> t and strain (from :func:`prepare`).

    Attributes
    ----------
    clip_key : tuple of str
        ``(dataset, subject, clip_id)`` of the clip.
    fps : float
        Frame rate.
    onset, apex, offset : int
        0-based frame indices. ``apex`` is resolved: the clip's apex, or, when the clip has
        none (SMIC, CASME II's ``'/'``), the mid-frame ``onset + (offset - onset) // 2``;
        ``params['apex']`` keeps the annotation (None when it was unknown).
    frames : numpy.ndarray, shape (T, S, S, 3), uint8
        Aligned RGB crops (every frame warped by ``transform``).
    landmarks : numpy.ndarray, shape (T, 68, 2), float32
        iBUG-68 landmarks in crop pixels (smoothed over time when ``smooth`` was given).
    landmarks_raw : numpy.ndarray, shape (T, 68, 2), float32
        The detected landmarks in the original frames' pixels (never smoothed).
    transform : mxkit.face.Similarity
        Original-frame pixels -> crop pixels, estimated on the onset frame.
    flow : numpy.ndarray, shape (T, S, S, 2), float32
        Optical flow in crop pixels from the onset crop to each crop (channel 0 = u right,
        1 = v down; ``frames[t](p + flow[t](p)) ~= frames[onset](p)``); zeros at the onset.
    strain : numpy.ndarray, shape (T, S, S), float32
        Optical strain magnitude of ``flow`` (dimensionless).
    params : dict
        Everything the cache key is made of: the clip key and annotation, the frame
        fingerprint, every option (resolved to explicit values) and the library versions.
    timing : dict of str to float
        Seconds per step (``fingerprint, load, detect, smooth, align, flow, strain, magnify,
        total``; ``cache_read`` as well when the result came from the cache, the other
        entries being those of the run that computed it).
    magnified : numpy.ndarray or None, shape (T, S, S, 3), uint8
        Eulerian-magnified crops when ``magnify`` was given.
    interpolated : tuple of int
        Frames without a detected face whose landmarks were interpolated
        (``no_face='interpolate'``).
    bad_frames : tuple of int
        Dataset frame numbers of the frames that could not be read (truncated, corrupt,
        missing ...) and were replaced (``on_bad_frame='interpolate'``) or left out
        (``'skip'``; they are then absent from ``frame_numbers``). The policy is
        ``params['on_bad_frame']`` (part of the cache key; absent for the default 'raise').
    frame_numbers : tuple of int
        The dataset's frame numbers of the T frames.
    align_rms_px : float
        RMS distance (crop px) between the onset landmarks after alignment and the template.
    cache_hit : bool
        True when the result was read from the cache.
    """

    clip_key: tuple[str, str, str]
    fps: float
    onset: int
    apex: int
    offset: int
    frames: np.ndarray
    landmarks: np.ndarray
    landmarks_raw: np.ndarray
    transform: Similarity
    flow: np.ndarray
    strain: np.ndarray
    params: dict[str, Any]
    timing: dict[str, float]
    magnified: np.ndarray | None = None
    interpolated: tuple[int, ...] = ()
    frame_numbers: tuple[int, ...] | None = None
    bad_frames: tuple[int, ...] = ()
    align_rms_px: float = math.nan
    cache_hit: bool = False

    def __post_init__(self) -> None:
        dims = check_shape(self.frames, ("T", "S", "S", 3), "frames")
        t, s = dims["T"], dims["S"]
        check_shape(self.landmarks, (t, N_LANDMARKS, 2), "landmarks")
        check_shape(self.landmarks_raw, (t, N_LANDMARKS, 2), "landmarks_raw")
        check_shape(self.flow, (t, s, s, 2), "flow")
        check_shape(self.strain, (t, s, s), "strain")
        if self.magnified is not None:
            check_shape(self.magnified, (t, s, s, 3), "magnified")
        if not isinstance(self.transform, Similarity):
            raise InputValueError(f"transform must be a mxkit.face.Similarity; got {type(self.transform).__name__}")
        if not 0 <= self.onset <= self.apex <= self.offset < t:
            raise InputValueError(f"need 0 <= onset <= apex <= offset < T={t}; got "
                                  f"{self.onset}, {self.apex}, {self.offset}")
        set_ = object.__setattr__
        set_(self, "clip_key", tuple(str(k) for k in self.clip_key))
        set_(self, "interpolated", tuple(int(i) for i in self.interpolated))
        set_(self, "bad_frames", tuple(int(i) for i in self.bad_frames))
        nums = tuple(range(t)) if self.frame_numbers is None else tuple(int(x) for x in self.frame_numbers)
        if len(nums) != t:
            raise InputValueError(f"frame_numbers has {len(nums)} entries for {t} frames")
        set_(self, "frame_numbers", nums)

    # ------------------------------------------------------------------ sizes and keys
    @property
    def n_frames(self) -> int:
        """Number of frames T."""
        return int(self.frames.shape[0])

    @property
    def size(self) -> int:
        """Crop side S in pixels."""
        return int(self.frames.shape[1])

    @property
    def cache_key(self) -> str:
        """The cache key of this result (a hash of :attr:`params`)."""
        return _cache.cache_key(self.params)

    def __repr__(self) -> str:
        return (f"Prepared(clip_key={self.clip_key!r}, n_frames={self.n_frames}, size={self.size}, "
                f"onset={self.onset}, apex={self.apex}, offset={self.offset}, "
                f"flow={self.params.get('flow')!r}, cache_hit={self.cache_hit})")

    # ------------------------------------------------------------------ derived views
    def face_mask(self, region: Literal["face", "inner"] = "face") -> np.ndarray:
        """Boolean mask (S, S) of the face in the crop, from the onset landmarks.

        ``'face'``: the convex hull of all 68 landmarks (jaw line and brows);
        ``'inner'``: the hull of brows, eyes, nose and mouth (17-67), which keeps clear of the
        face contour, where the background shows and flow is ill-posed.
        """
        import cv2

        check_option(region, ("face", "inner"), "region")
        pts = self.landmarks[self.onset] if region == "face" else self.landmarks[self.onset, 17:]
        mask = np.zeros((self.size, self.size), np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(pts).astype(np.int32)), 1)
        return mask.astype(bool)

    def phases(self) -> np.ndarray:
        """Phase label of every frame (T,): one of :data:`PHASES`.

        ``'before'`` the onset, ``'onset'``, ``'rising'`` (between onset and apex), ``'apex'``,
        ``'falling'``, ``'offset'``, ``'after'`` the offset. Where two coincide (onset = apex)
        the first of onset, apex, offset in that order wins.
        """
        t = np.arange(self.n_frames)
        out = np.full(self.n_frames, "falling", dtype=object)
        out[t < self.apex] = "rising"
        out[t < self.onset] = "before"
        out[t > self.offset] = "after"
        out[t == self.offset] = "offset"
        out[t == self.apex] = "apex"
        out[t == self.onset] = "onset"
        return out

    def plot(self, **kwargs: Any) -> Any:
        """Matplotlib grid of frames x panels (crop, flow, arrows, strain, ...); see
        :func:`mxkit.pipeline.figures.plot_prepared` for the options."""
        from .figures import plot_prepared

        return plot_prepared(self, **kwargs)

    def noise_floor(self, neutral: Any = None, *, normalise: Literal["iod", "none"] = "iod",
                    detrend: Literal["linear", "constant"] = "linear") -> pd.DataFrame:
        """Landmark jitter (noise floor) on the neutral frames, in crop pixels and IOD.

        The detected (unsmoothed) landmarks mapped into the crop are passed to
        :func:`mxkit.face.landmark_noise_floor`: per landmark, per group and overall.

        Parameters
        ----------
        neutral : slice, mask or indices, optional
            Neutral frames; default the frames before the onset, ``slice(0, onset)``.
        normalise, detrend
            See :func:`mxkit.face.landmark_noise_floor`.

        Raises
        ------
        InputValueError
            Fewer than 3 neutral frames (2 with ``detrend='constant'``): a clip that starts at
            its onset has none; pass ``neutral=`` explicitly (e.g. frames after the offset).
        """
        if neutral is None:
            neutral = slice(0, self.onset)
            need = 3 if detrend == "linear" else 2
            if self.onset < need:
                raise InputValueError(
                    f"clip {'/'.join(self.clip_key)} has only {self.onset} frame(s) before its onset; "
                    f"the noise floor needs at least {need} neutral frames: pass neutral= (e.g. "
                    f"slice({self.offset + 1}, None) for frames after the offset)"
                )
        crop_raw = self.transform.apply(self.landmarks_raw.astype(np.float64))
        return landmark_noise_floor(crop_raw, neutral=neutral, normalise=normalise, detrend=detrend)

    def to_dataframe(self) -> pd.DataFrame:
        """Per-frame tidy table, one row per frame.

        Columns: ``dataset, subject, clip_id, frame`` (0-based index), ``frame_number``
        (the dataset's), ``time_s`` (seconds from the onset, negative before it), ``phase``
        (ordered categorical, :data:`PHASES`), ``flow_mag_mean_px`` (mean flow magnitude
        over the face mask, crop px), ``strain_mean`` (mean strain over the face mask),
        ``landmark_disp_px`` / ``landmark_disp_max_px`` (mean / max over the 68 landmarks of
        their displacement from the onset, crop px) and ``interpolated`` (bool).
        """
        import pandas as pd

        mask = self.face_mask()
        mag = np.hypot(self.flow[..., 0], self.flow[..., 1])[:, mask]         # (T, n_face)
        strain = self.strain[:, mask]
        disp = np.linalg.norm(self.landmarks.astype(np.float64) - self.landmarks[self.onset], axis=-1)
        t = np.arange(self.n_frames)
        interp = np.zeros(self.n_frames, dtype=bool)
        interp[list(self.interpolated)] = True
        return pd.DataFrame({
            "dataset": self.clip_key[0],
            "subject": self.clip_key[1],
            "clip_id": self.clip_key[2],
            "frame": t,
            "frame_number": np.asarray(self.frame_numbers, dtype=np.int64),
            "time_s": (t - self.onset) / self.fps,
            "phase": pd.Categorical(self.phases(), categories=list(PHASES), ordered=True),
            "flow_mag_mean_px": mag.mean(axis=1).astype(np.float64),
            "strain_mean": strain.mean(axis=1).astype(np.float64),
            "landmark_disp_px": disp.mean(axis=1),
            "landmark_disp_max_px": disp.max(axis=1),
            "interpolated": interp,
        })

    def summary(self) -> dict[str, Any]:
        """Plain numbers: sizes, phases, flow / strain / landmark motion at the apex and peak, timing.

        ``noise_floor_px`` is the overall landmark jitter before the onset (NaN when the clip
        has fewer than 3 frames before its onset).
        """
        df = self.to_dataframe()
        peak = int(df["flow_mag_mean_px"].to_numpy().argmax())
        try:
            nf = self.noise_floor()
            noise = float(nf.loc[nf.level == "all", "std_px"].iloc[0])
        except InputValueError:
            noise = math.nan
        apex = df.iloc[self.apex]
        return {
            "dataset": self.clip_key[0], "subject": self.clip_key[1], "clip_id": self.clip_key[2],
            "n_frames": self.n_frames, "size": self.size, "fps": self.fps,
            "onset": self.onset, "apex": self.apex, "offset": self.offset,
            "apex_annotated": self.params.get("apex") is not None,
            "flow": self.params.get("flow"), "landmarks": self.params.get("landmarks"),
            "flow_mag_apex_px": float(apex["flow_mag_mean_px"]),
            "flow_mag_peak_px": float(df["flow_mag_mean_px"].iloc[peak]), "peak_frame": peak,
            "strain_apex": float(apex["strain_mean"]),
            "landmark_disp_apex_px": float(apex["landmark_disp_px"]),
            "noise_floor_px": noise,
            "align_rms_px": float(self.align_rms_px),
            "scale": float(self.transform.scale),
            "angle_deg": float(math.degrees(self.transform.angle)),
            "n_interpolated": len(self.interpolated),
            "total_s": float(self.timing.get("total", math.nan)),
            "cache_hit": bool(self.cache_hit),
        }


# ------------------------------------------------------------------------------ options


def _check_size(size: Any) -> int:
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or not 16 <= int(size) <= 2048:
        raise InputValueError(f"size must be an int in [16, 2048] (crop side in pixels); got {size!r}")
    return int(size)


def _check_face_scale(face_scale: Any) -> float:
    if isinstance(face_scale, bool) or not isinstance(face_scale, numbers.Real) or not 0 < face_scale <= 2:
        raise InputValueError(f"face_scale must be a number in (0, 2]; got {face_scale!r}")
    return float(face_scale)


def _resolve_landmarks(landmarks: Any) -> tuple[Any, str]:
    """The backend (name or instance) and its description in the cache key."""
    from ..face import LANDMARK_BACKENDS, get_landmark_backend

    if isinstance(landmarks, str):
        check_option(landmarks, LANDMARK_BACKENDS, "landmarks")
    if (landmarks if isinstance(landmarks, str) else getattr(landmarks, "name", None)) == "mediapipe":
        raise OptionError("landmarks='mediapipe' gives 478 FaceMesh points, not the iBUG-68 points "
                          "prepare needs: use 'dlib' or 'face_alignment'")
    be = get_landmark_backend(landmarks)          # OptionError / BackendUnavailableError
    return landmarks, landmarks if isinstance(landmarks, str) else repr(be)


def _resolve_smooth(smooth: Any) -> dict[str, Any] | None:
    if smooth is None or smooth is False or smooth == "none":
        return None
    if isinstance(smooth, str):
        check_option(smooth, tuple(_SMOOTH_DEFAULTS), "smooth")
        opts: dict[str, Any] = {"method": smooth}
    elif isinstance(smooth, Mapping):
        opts = dict(smooth)
        opts.setdefault("method", "savgol")
        check_option(opts["method"], tuple(_SMOOTH_DEFAULTS), "smooth['method']")
    else:
        raise OptionError(f"smooth must be None, 'savgol', 'gaussian' or a dict of smooth_landmarks "
                          f"options; got {smooth!r}")
    method = opts["method"]
    allowed = {"method", *_SMOOTH_DEFAULTS[method]}
    unknown = sorted(set(opts) - allowed)
    if unknown:
        raise OptionError(f"unknown smooth option(s) {unknown} for method {method!r}; allowed: {sorted(allowed)}")
    resolved = {"method": method, **_SMOOTH_DEFAULTS[method], **{k: v for k, v in opts.items() if k != "method"}}
    n = resolved.get("window", 3) if isinstance(resolved.get("window", 3), int) else 3
    smooth_landmarks(np.zeros((max(n, 3), 1, 2)), **resolved)          # validates the values
    return resolved


_MAGNIFY_DEFAULTS = {name: p.default for name, p in inspect.signature(magnify).parameters.items()
                     if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "fps"}


def _resolve_magnify(mag: Any, size: int, fps: float) -> dict[str, Any] | None:
    if mag is None or mag is False:
        return None
    if mag is True:
        mag = {}
    if not isinstance(mag, Mapping):
        raise OptionError(f"magnify must be None, True or a dict of mxkit.flow.magnify options "
                          f"(alpha, r1, r2, ...); got {mag!r}")
    unknown = sorted(set(mag) - set(_MAGNIFY_DEFAULTS))
    if unknown:
        raise OptionError(f"unknown magnify option(s) {unknown}; allowed: {sorted(_MAGNIFY_DEFAULTS)}")
    resolved = {**_MAGNIFY_DEFAULTS, **mag}
    if resolved.get("freq_band") is not None:
        resolved["freq_band"] = [float(v) for v in resolved["freq_band"]]
    probe = np.zeros((2, size, size), np.float32)
    magnify(probe, fps=fps, **{k: (tuple(v) if k == "freq_band" and v is not None else v)
                               for k, v in resolved.items()})             # validates the values
    return resolved


def _resolve_flow(flow: Any, flow_params: Any) -> dict[str, Any]:
    from ..flow.optical import _resolve_params

    check_option(flow, FLOW_METHODS, "flow")
    if flow_params is not None and not isinstance(flow_params, Mapping):
        raise OptionError(f"flow_params must be a dict of optical_flow parameters; got {flow_params!r}")
    return _resolve_params(flow, dict(flow_params or {}))


def _check_clip(clip: Any) -> Any:
    from ..data import Clip

    if not isinstance(clip, Clip):
        raise InputValueError(
            f"prepare needs a mxkit.data.Clip; got {type(clip).__name__}. Wrap frames in memory as "
            f"Clip(dataset=..., subject=..., clip_id=..., frames=array_TxHxWx3_uint8, fps=...)"
        )
    if clip.n_frames < 2:
        raise InputValueError(
            f"clip {'/'.join(clip.key)} has {clip.n_frames} frame(s); prepare needs at least 2 "
            f"(flow goes from the onset to every frame)"
        )
    return clip


def _with_clip_key(exc: BaseException, key: tuple[str, str, str]) -> BaseException:
    """The same error type with the clip key in the message and in ``err.clip_key``."""
    if getattr(exc, "clip_key", None) is not None or not isinstance(exc, MxkitError):
        return exc
    try:
        new = type(exc)(f"clip {'/'.join(key)}: {exc}")
    except Exception:  # noqa: BLE001 - an error class with another signature: keep it as is
        return exc
    new.__dict__.update(exc.__dict__)
    new.clip_key = key  # type: ignore[attr-defined]
    return new


def _options(*, size: Any, landmarks: Any, flow: Any, flow_params: Any, smooth: Any,
             face_scale: Any, rotation: Any, no_face: Any, strain: Any,
             on_bad_frame: Any) -> tuple[dict[str, Any], Any]:
    """Validate every clip-independent option; returns (options for the key, backend)."""
    check_option(no_face, NO_FACE_POLICIES, "no_face")
    check_option(on_bad_frame, BAD_FRAME_POLICIES, "on_bad_frame")
    check_option(strain, _STRAIN_SCHEMES, "strain")
    if not isinstance(rotation, (bool, np.bool_)):
        raise InputValueError(f"rotation must be a bool; got {rotation!r}")
    backend, backend_key = _resolve_landmarks(landmarks)
    opts = {
        "size": _check_size(size),
        "face_scale": _check_face_scale(face_scale),
        "rotation": bool(rotation),
        "landmarks": backend_key,
        "no_face": no_face,
        "smooth": _resolve_smooth(smooth),
        "flow": flow,
        "flow_params": _resolve_flow(flow, flow_params),
        "strain": strain,
    }
    if on_bad_frame != "raise":  # 'raise' keeps the cache keys of before the option existed
        opts["on_bad_frame"] = on_bad_frame
    return opts, backend


# ------------------------------------------------------------------------------ prepare


def prepare(clip: Any, *, size: int = 128, landmarks: str | Any = "dlib",
            flow: Literal["dis", "tvl1", "farneback"] = "dis", flow_params: Mapping[str, Any] | None = None,
            smooth: None | str | Mapping[str, Any] = None, magnify: None | bool | Mapping[str, Any] = None,
            face_scale: float = 0.75, rotation: bool = True,
            no_face: Literal["raise", "interpolate", "track"] = "raise",
            strain: Literal["central", "forward"] = "central", cache_dir: str | os.PathLike | None = None,
            n_jobs: int = 1, progress: bool = False, track: Literal["detect", "flow"] = "detect",
            on_bad_frame: Literal["raise", "skip", "interpolate"] = "raise") -> Prepared:
    """Prepare a clip: landmarks, onset alignment, optical flow onset -> t, strain, magnification.

    Parameters
    ----------
    clip : mxkit.data.Clip
        Frames on disk or in memory (T >= 2), with its onset / apex / offset.
    size : int, default 128
        Side S of the square aligned crop, pixels. MER networks use 112-224; the 3D fit
        gains from larger crops (flow precision) at a quadratic cost in time and memory.
    landmarks : {'dlib', 'face_alignment'} or backend instance, default 'dlib'
        iBUG-68 landmark backend (see :func:`mxkit.face.detect_landmarks`); an instance such
        as ``DlibBackend(upscale=4)`` (sub-pixel dlib) enters the cache key by its repr.
    flow : {'dis', 'tvl1', 'farneback'}, default 'dis'
        Optical-flow method (see :func:`mxkit.flow.optical_flow`): DIS is fast (ms per
        pair), TV-L1 the MER standard and the most accurate (~0.1 s per 128 px pair).
    flow_params : dict, optional
        Parameters of that method (``{"preset": "fast"}``, ``{"lambda_": 0.1}``).
    smooth : None, 'savgol', 'gaussian' or dict, default None
        Temporal smoothing of the landmark tracks before alignment: a method name (its
        defaults: Savitzky-Golay window 7, order 2; Gaussian sigma 1 frame) or a dict of
        :func:`mxkit.face.smooth_landmarks` options (``{"method": "savgol", "window": 5}``).
        ``landmarks_raw`` always keeps the unsmoothed detections.
    magnify : None, True or dict, default None
        Eulerian magnification of the crops (:func:`mxkit.flow.magnify` options, e.g.
        ``dict(alpha=20, r1=0.4, r2=0.05)``; True uses its defaults), stored in
        ``Prepared.magnified``. Flow and strain are computed on the unmagnified crops.
    face_scale : float, default 0.75
        Width of the landmarks' template (jaw to jaw) as a fraction of the crop.
    rotation : bool, default True
        False keeps the frames upright (scale and translation only).
    no_face : {'raise', 'interpolate', 'track'}, default 'raise'
        A frame without a face: ``'raise'`` :class:`~mxkit.errors.NoFaceError` naming the
        frame index; ``'interpolate'`` its landmarks are interpolated linearly from the
        nearest frames with a face (held before the first / after the last; listed in
        ``Prepared.interpolated``; the crops and flow of such frames show whatever the
        frame holds); ``'track'`` no per-frame face check (fastest; a missing face goes
        unnoticed). See :func:`mxkit.face.detect_landmarks_sequence`.
    strain : {'central', 'forward'}, default 'central'
        Finite differences of :func:`mxkit.flow.optical_strain`.
    cache_dir : path-like, optional
        Folder of the per-clip disk cache (created if needed; never inside the dataset).
        A valid entry is returned without recomputing; a corrupt one is rebuilt.
    n_jobs : int, default 1
        Threads of the flow computation (does not change the result).
    progress : bool, default False
        tqdm progress bars for landmarks and flow.
    track : {'detect', 'flow'}, default 'detect'
        How the landmarks of each frame are found: ``'detect'`` runs the predictor on every
        frame (:func:`mxkit.face.detect_landmarks_sequence`, which jitters by a fraction of a
        pixel from frame to frame); ``'flow'`` detects them on the onset frame only and moves
        them with the optical flow onset -> t (:func:`mxkit.pipeline.track.track_landmarks`:
        sub-pixel, temporally consistent; ``no_face`` then applies to the onset frame only).
        ``landmarks_raw`` holds the tracks before ``smooth``. ``'detect'`` leaves the cache key
        as before this option existed.
    on_bad_frame : {'raise', 'skip', 'interpolate'}, default 'raise'
        A frame file that cannot be read (missing, empty, truncated or corrupt JPEG/PNG, of
        another size): ``'raise'`` :class:`~mxkit.errors.FrameReadError` naming the file;
        ``'interpolate'`` the frame is replaced by the linear interpolation in time of the
        nearest readable frames; ``'skip'`` it is left out (not allowed for the onset, apex
        or offset frame). See :meth:`mxkit.data.Clip.load_checked`; the frames concerned
        are ``Prepared.bad_frames`` and the policy is part of the cache key.

    Returns
    -------
    Prepared

    Raises
    ------
    InputValueError
        ``clip`` is not a Clip, has fewer than 2 frames, or an option value is invalid;
        ``cache_dir`` lies inside the clip's dataset folders.
    OptionError
        Unknown flow method, landmark backend, no-face policy, smoothing or magnification
        option (all checked before any frame is read).
    FrameReadError
        A frame file is missing, unreadable, truncated or corrupt, or frames differ in size
        (names the path; with ``on_bad_frame='raise'``, or when every frame is bad, or the
        onset, apex or offset frame with ``'skip'``).
    NoFaceError
        No face in a frame (``no_face='raise'``; the message and ``err.frame_index`` give the
        frame), or in every frame.
    BackendUnavailableError
        An optional landmark backend is not installed.

    Errors raised while processing the clip name it: the message starts with
    ``clip <dataset>/<subject>/<clip_id>:`` and ``err.clip_key`` holds the key.

    Examples
    --------
    >>> from mxkit.pipeline.synthetic import known_motion_clip
    >>> clip = known_motion_clip(n_frames=3, shift=(0.5, 0.0))     # doctest: +SKIP
    >>> prep = prepare(clip, size=96)                               # doctest: +SKIP
    >>> prep.frames.shape, prep.flow.shape                          # doctest: +SKIP
    ((3, 96, 96, 3), (3, 96, 96, 2))
    """
    t_start = time.perf_counter()
    opts, backend = _options(size=size, landmarks=landmarks, flow=flow, flow_params=flow_params,
                             smooth=smooth, face_scale=face_scale, rotation=rotation,
                             no_face=no_face, strain=strain, on_bad_frame=on_bad_frame)
    check_option(track, TRACK_MODES, "track")
    if track != "detect":                         # 'detect' keeps the cache keys of before
        opts["track"] = track
    clip = _check_clip(clip)
    opts["magnify"] = _resolve_magnify(magnify, opts["size"], clip.fps)
    root = None if cache_dir is None else _cache.check_cache_dir(cache_dir, clip)
    try:
        return _prepare(clip, opts, backend, root, n_jobs=n_jobs, progress=bool(progress), t_start=t_start)
    except MxkitError as exc:
        new = _with_clip_key(exc, clip.key)
        if new is exc:
            raise
        raise new from exc


def _skip_frames(clip: Any, numbers: tuple[int, ...], reasons: tuple[str, ...] = ()) -> Any:
    """The clip without the frames numbered ``numbers`` (``on_bad_frame='skip'``)."""
    pos = {n: i for i, n in enumerate(clip.frame_numbers)}
    idx = [pos[n] for n in numbers]
    try:
        reduced = clip.without_frames(idx)
    except InputValueError as exc:
        why = f" ({reasons[0]})" if reasons else ""
        raise FrameReadError(f"{exc}: it cannot be read{why}; on_bad_frame='skip' cannot leave out an "
                             "annotated frame: repair the file or use on_bad_frame='interpolate'",
                             path=None if clip.in_memory else clip.frames[idx[0]]) from exc
    if reduced.n_frames < 2:
        raise FrameReadError(f"clip {display_path('/'.join(clip.key))}: only {reduced.n_frames} readable "
                             "frame is left after skipping the bad ones; prepare needs 2")
    return reduced


def _params(clip: Any, opts: Mapping[str, Any], fingerprint: str) -> dict[str, Any]:
    return {
        "clip_key": list(clip.key),
        "frames": fingerprint,
        "n_frames": clip.n_frames,
        "fps": clip.fps,
        "onset": clip.onset,
        "apex": clip.apex,
        "offset": clip.offset,
        **opts,
        "versions": _cache.library_versions(),
        "cache_format": _cache.FORMAT,
    }


def _prepare(clip: Any, opts: dict[str, Any], backend: Any, root: Any, *, n_jobs: int, progress: bool,
             t_start: float) -> Prepared:
    from ..face import align_clip

    timing: dict[str, float] = {}
    tick = time.perf_counter()
    params = _params(clip, opts, _cache.frames_fingerprint(clip))
    key = _cache.cache_key(params)
    timing["fingerprint"] = time.perf_counter() - tick
    apex = clip.apex_or_middle
    path = None
    if root is not None:
        path = _cache.entry_path(root, clip.key, key)
        tick = time.perf_counter()
        hit = _cache.read_entry(path, key)
        if hit is not None:
            arrays, fields = hit
            bad_numbers = tuple(int(n) for n in fields.get("bad_frames", ()))
            if opts.get("on_bad_frame") == "skip" and bad_numbers:
                clip = _skip_frames(clip, bad_numbers)
                apex = clip.apex_or_middle
            stored = dict(fields["timing"])
            stored["cache_read"] = time.perf_counter() - tick
            logger.debug("cache hit for clip %s: %s", "/".join(clip.key), path)
            return Prepared(
                clip_key=clip.key, fps=clip.fps, onset=clip.onset, apex=apex, offset=clip.offset,
                frames=arrays["frames"], landmarks=arrays["landmarks"],
                landmarks_raw=arrays["landmarks_raw"], transform=Similarity(arrays["transform"]),
                flow=arrays["flow"], strain=arrays["strain"], params=params, timing=stored,
                magnified=arrays.get("magnified"), interpolated=tuple(fields["interpolated"]),
                frame_numbers=clip.frame_numbers, align_rms_px=float(fields["align_rms_px"]),
                bad_frames=bad_numbers, cache_hit=True)

    tick = time.perf_counter()
    policy = opts.get("on_bad_frame", "raise")
    checked = clip.load_checked(on_bad_frame=policy)
    frames = checked.frames
    bad_numbers = tuple(clip.frame_numbers[i] for i in checked.bad)
    if checked.bad:
        logger.warning("clip %s: %d unreadable frame(s) %s (on_bad_frame=%r): %s", display_path("/".join(clip.key)),
                       len(checked.bad), list(bad_numbers), policy, checked.reasons[0])
        if policy == "skip":
            clip = _skip_frames(clip, bad_numbers, reasons=checked.reasons)
            apex = clip.apex_or_middle
    timing["load"] = time.perf_counter() - tick

    tick = time.perf_counter()
    if opts.get("track", "detect") == "flow":
        onset_pts = detect_landmarks(frames[clip.onset], backend=backend).points
        raw = track_landmarks(frames, onset_pts, reference=clip.onset, method=opts["flow"],
                              params=opts["flow_params"], n_jobs=n_jobs).astype(np.float32)
        interpolated: tuple[int, ...] = ()
    else:
        seq = detect_landmarks_sequence(frames, backend=backend, policy=opts["no_face"], progress=progress)
        raw, interpolated = seq.points, seq.interpolated
    timing["detect"] = time.perf_counter() - tick

    tick = time.perf_counter()
    pts = raw
    if opts["smooth"] is not None:
        window = opts["smooth"].get("window")
        if window is not None and window > len(raw):
            raise InputValueError(f"smooth window {window} exceeds the clip's {len(raw)} frames; "
                                  f"use a shorter window or smooth='gaussian'")
        pts = smooth_landmarks(raw, **opts["smooth"])
    timing["smooth"] = time.perf_counter() - tick

    tick = time.perf_counter()
    aligned = align_clip(frames, pts, reference_index=clip.onset, output_size=opts["size"],
                         face_scale=opts["face_scale"], rotation=opts["rotation"])
    crops = aligned.frames
    if crops.ndim == 3:  # pragma: no cover - Clip frames are always RGB
        crops = np.repeat(crops[..., None], 3, axis=3)
    timing["align"] = time.perf_counter() - tick

    tick = time.perf_counter()
    flow = flow_sequence(crops, reference=clip.onset, method=opts["flow"], params=opts["flow_params"],
                         n_jobs=n_jobs, progress=progress)
    timing["flow"] = time.perf_counter() - tick

    tick = time.perf_counter()
    strain = np.ascontiguousarray(optical_strain(flow, scheme=opts["strain"]), dtype=np.float32)
    timing["strain"] = time.perf_counter() - tick

    tick = time.perf_counter()
    magnified = None
    if opts["magnify"] is not None:
        mopts = dict(opts["magnify"])
        if mopts.get("freq_band") is not None:
            mopts["freq_band"] = tuple(mopts["freq_band"])
        magnified = magnify(crops, fps=clip.fps, **mopts)
    timing["magnify"] = time.perf_counter() - tick
    timing["total"] = time.perf_counter() - t_start

    result = Prepared(
        clip_key=clip.key, fps=clip.fps, onset=clip.onset, apex=apex, offset=clip.offset,
        frames=crops, landmarks=aligned.landmarks, landmarks_raw=raw, transform=aligned.similarity,
        flow=flow, strain=strain, params=params, timing=timing, magnified=magnified,
        interpolated=interpolated, frame_numbers=clip.frame_numbers,
        align_rms_px=aligned.fit_rms_px, bad_frames=bad_numbers, cache_hit=False)

    if path is not None:
        arrays = {name: getattr(result, name) for name in _ARRAYS}
        arrays["transform"] = np.asarray(result.transform.matrix)
        if magnified is not None:
            arrays["magnified"] = magnified
        fields = {"timing": timing, "interpolated": list(result.interpolated),
                  "align_rms_px": result.align_rms_px, "clip_key": list(clip.key),
                  "bad_frames": list(bad_numbers)}
        try:
            _cache.write_entry(path, arrays, fields, key=key)
        except OSError as exc:
            logger.warning("could not write the cache entry %s (%s); the result is returned uncached",
                           path, exc)
    return result

