"""The ground truth of a SynthME clip (:class:`SynthTruth`) and its ``gt/`` sidecar files.

A :class:`SynthTruth` holds every parameter that made a clip: identity, per-frame ARKit
weights, the fine-detail field and its profile, the head pose, the camera, the 2D landmarks
of the written frames and the AU recipe. :meth:`SynthTruth.vertices` rebuilds the unposed
fine mesh per frame, which is what reconstructions are compared to.

On disk a truth is one ``.npz`` (arrays, plus a JSON ``meta`` entry for scalars, the AU
dict and the camera) written with fixed zip timestamps, so equal truths give equal bytes.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._checks import renamed_attribute, renamed_keywords
from ..._io import atomic_write, display_path
from ...errors import DatasetFormatError, InputValueError, ShapeError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ...morph import FaceModel
    from ...render import Camera

__all__ = ["SynthTruth", "write_npz", "camera_to_dict", "camera_from_dict", "TRUTH_FORMAT"]

#: Version tag of the sidecar layout (stored in every file's ``meta``).
TRUTH_FORMAT = "synthme-truth-1"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_ARRAYS = ("identity", "expression", "detail", "detail_profile", "rotation", "translation",
           "landmarks", "profile")


def camera_to_dict(camera: Camera) -> dict[str, Any]:
    """A :class:`~mxkit.render.Camera` as plain JSON-compatible values (exact floats).

    The projection is stored under the key ``"kind"`` (the file format of SynthME truth).
    """
    return {"kind": camera.projection, "image_size": list(camera.image_size), "fx": camera.fx,
            "fy": camera.fy, "cx": camera.cx, "cy": camera.cy,
            "R": np.asarray(camera.R, dtype=np.float64).tolist(),
            "t": np.asarray(camera.t, dtype=np.float64).tolist()}


def camera_from_dict(d: dict[str, Any]) -> Camera:
    """Inverse of :func:`camera_to_dict`."""
    from ...render import Camera

    return Camera(fx=d["fx"], fy=d["fy"], cx=d["cx"], cy=d["cy"], R=np.asarray(d["R"]),
                  t=np.asarray(d["t"]), image_size=tuple(d["image_size"]), projection=d["kind"])


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write an ``np.load``-compatible ``.npz`` with sorted members and fixed timestamps
    (same arrays, same bytes), atomically (:func:`mxkit._io.atomic_write`)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            member = io.BytesIO()
            arr = np.asarray(arrays[key])
            arr = arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)  # keeps 0-d arrays
            np.lib.format.write_array(member, arr, allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue(), compresslevel=6)
    atomic_write(path, buf.getvalue())


@dataclass(frozen=True, eq=False, kw_only=True)
class SynthTruth:
    """Ground truth of one synthetic clip (the SynthME contract).

    Parameters
    ----------
    model_name : str
        Face model the parameters belong to (``"mh-head"``).
    identity : ndarray, shape (K,), float32
        Identity coefficients (prior N(0, 1)).
    expression : ndarray, shape (T, E), float32
        ARKit weights of the blendshape part per frame (``profile[t] * peak weights``).
    detail : ndarray, shape (V, 3), float32
        Fine-detail displacement field at full strength, metres, model frame: localised in the
        active AU regions (zero elsewhere) and orthogonal to every expression shape.
    detail_profile : ndarray, shape (T,), float32
        Strength of ``detail`` per frame, in [0, 1].
    rotation : ndarray, shape (T, 3), float32
        Head rotation per frame, axis-angle in radians, about the model origin.
    translation : ndarray, shape (T, 3), float32
        Head translation per frame, metres (applied after the rotation).
    camera : mxkit.render.Camera
        The camera that rendered the frames.
    landmarks : ndarray, shape (T, 68, 2), float32
        iBUG-68 landmarks of the posed fine mesh in the written frames, ``(u, v)`` pixels.
    profile : ndarray, shape (T,), float32
        Onset -> apex -> offset intensity in [0, 1] (0 on the baseline frames, 1 at the apex).
    aus : dict of str to float
        Peak AU intensities, keys as :meth:`FaceModel.aus_to_expression` reads them
        (``"AU4"``, ``"L10"``).
    expression_type : {"micro", "macro"}
        Micro- or macro-expression (``kind`` is its deprecated old name; the truth file keeps
        the key ``"kind"``).
    fps : float
        Frame rate of the clip.
    detail_amplitude : float
        Largest per-vertex norm of ``detail``, metres.
    meta : dict
        Everything else (emotion, AU string, seeds, lighting, onset/apex/offset indices...).

    Notes
    -----
    Posed vertices are ``R(rotation[t]) @ v + translation[t]`` for each unposed vertex ``v``
    of :meth:`vertices`, exactly as :class:`~mxkit.morph.FaceModel` applies ``rotation`` and
    ``translation``; :meth:`project_landmarks` reproduces ``landmarks`` from the parameters.
    """

    model_name: str
    identity: np.ndarray
    expression: np.ndarray
    detail: np.ndarray
    detail_profile: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    camera: Any
    landmarks: np.ndarray
    profile: np.ndarray
    aus: dict[str, float]
    expression_type: str
    fps: float = 200.0
    detail_amplitude: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    kind = renamed_attribute("expression_type", old="kind")

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in _ARRAYS:
            set_(self, name, np.ascontiguousarray(np.asarray(getattr(self, name), dtype=np.float32)))
        T = self.expression.shape[0] if self.expression.ndim == 2 else -1
        shapes = {"identity": (None,), "expression": (T, None), "detail": (None, 3),
                  "detail_profile": (T,), "rotation": (T, 3), "translation": (T, 3),
                  "landmarks": (T, 68, 2), "profile": (T,)}
        for name, spec in shapes.items():
            shape = getattr(self, name).shape
            if len(shape) != len(spec) or any(s is not None and s != n for s, n in zip(spec, shape, strict=True)):
                want = "(" + ", ".join("*" if s is None else str(s) for s in spec) + ")"
                raise ShapeError(f"SynthTruth.{name} must have shape {want}; got {shape}")
        if self.expression_type not in ("micro", "macro"):
            raise InputValueError(f"SynthTruth.expression_type must be 'micro' or 'macro'; got "
                                  f"{self.expression_type!r}")
        set_(self, "aus", {str(k): float(v) for k, v in dict(self.aus).items()})
        set_(self, "fps", float(self.fps))
        set_(self, "detail_amplitude", float(self.detail_amplitude))
        set_(self, "meta", dict(self.meta))

    # ------------------------------------------------------------------ geometry
    @property
    def n_frames(self) -> int:
        """Number of frames T."""
        return int(self.expression.shape[0])

    def vertices(self, model: FaceModel, frames: Any = None) -> np.ndarray:
        """Unposed fine mesh per frame: ``model(identity, expression[t]) + detail_profile[t] * detail``.

        Parameters
        ----------
        model : FaceModel
            The model named by :attr:`model_name` (``load_face_model("mh-head")``).
        frames : int, sequence of int or slice, optional
            Frames to compute (default all).

        Returns
        -------
        ndarray, shape (T, V, 3), float32
            Model-frame vertices in metres (comparable to ``Reconstruction.vertices``).
        """
        import torch

        if model.name != self.model_name:
            raise InputValueError(f"this truth belongs to model {self.model_name!r}; got a "
                                  f"{model.name!r} model")
        if model.n_vertices != self.detail.shape[0]:
            raise ShapeError(f"model has {model.n_vertices} vertices; the detail field has "
                             f"{self.detail.shape[0]}")
        idx = np.arange(self.n_frames)[frames if frames is not None else slice(None)]
        idx = np.atleast_1d(idx)
        expr = torch.as_tensor(self.expression[idx])
        ident = torch.as_tensor(self.identity)[None].expand(len(idx), -1)
        with torch.no_grad():
            base = model(ident.to(model.v_template), expr.to(model.v_template))
        verts = base.cpu().numpy().astype(np.float32)
        return verts + self.detail_profile[idx, None, None] * self.detail[None]

    def posed_vertices(self, model: FaceModel, frames: Any = None) -> np.ndarray:
        """:meth:`vertices` with the head pose applied (``R v + t``), shape (T, V, 3), metres."""
        import torch

        from ...geometry import axis_angle_to_matrix

        idx = np.atleast_1d(np.arange(self.n_frames)[frames if frames is not None else slice(None)])
        v = self.vertices(model, idx)
        R = axis_angle_to_matrix(torch.as_tensor(self.rotation[idx], dtype=torch.float64)).numpy()
        return (np.matmul(v.astype(np.float64), R.transpose(0, 2, 1))
                + self.translation[idx, None, :].astype(np.float64)).astype(np.float32)

    def project_landmarks(self, model: FaceModel, frames: Any = None) -> np.ndarray:
        """iBUG-68 landmarks of :meth:`posed_vertices` projected with :attr:`camera`,
        shape (T, 68, 2) pixels (reproduces :attr:`landmarks`)."""
        import torch

        from ...render import project

        pv = self.posed_vertices(model, frames)
        with torch.no_grad():
            lm = model.landmarks(torch.as_tensor(pv).to(model.v_template), "ibug68")
        return project(lm.cpu().numpy().astype(np.float64), self.camera).pixels.astype(np.float32)

    # ------------------------------------------------------------------ tables
    def to_dataframe(self) -> pd.DataFrame:
        """One row per frame: ``frame, profile, detail_profile``, rotation in degrees
        (``rx_deg, ry_deg, rz_deg``), translation in mm (``tx_mm, ty_mm, tz_mm``), and the
        AU intensities of that frame (``profile * peak``), one column per AU."""
        import pandas as pd

        deg = np.degrees(self.rotation.astype(np.float64))
        mm = 1e3 * self.translation.astype(np.float64)
        cols: dict[str, Any] = {"frame": np.arange(self.n_frames), "profile": self.profile,
                                "detail_profile": self.detail_profile}
        for i, a in enumerate("xyz"):
            cols[f"r{a}_deg"] = deg[:, i]
        for i, a in enumerate("xyz"):
            cols[f"t{a}_mm"] = mm[:, i]
        for au, peak in self.aus.items():
            cols[au] = self.profile.astype(np.float64) * peak
        return pd.DataFrame(cols)

    def summary(self) -> dict[str, Any]:
        """Plain numbers: frames, expression type, peak AU intensity, detail amplitude (mm), largest head
        rotation (degrees) and translation (mm), apex index."""
        return {
            "n_frames": self.n_frames, "expression_type": self.expression_type, "fps": self.fps,
            "aus": dict(self.aus),
            "peak_au_intensity": max(self.aus.values()) if self.aus else 0.0,
            "apex": int(np.argmax(self.profile)),
            "detail_amplitude_mm": 1e3 * self.detail_amplitude,
            "max_rotation_deg": float(np.degrees(np.abs(self.rotation)).max()),
            "max_translation_mm": float(1e3 * np.abs(self.translation).max()),
        }

    def __repr__(self) -> str:
        return (f"SynthTruth({self.expression_type}, {self.n_frames} frames @ {self.fps:g} fps, "
                f"aus={self.aus}, detail {1e3 * self.detail_amplitude:.2f} mm, "
                f"model={self.model_name!r})")

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> Path:
        """Write the truth as one ``.npz`` (deterministic bytes, atomic); returns the path."""
        meta = {"format": TRUTH_FORMAT, "model_name": self.model_name, "aus": self.aus,
                "kind": self.expression_type, "fps": self.fps, "detail_amplitude": self.detail_amplitude,
                "camera": camera_to_dict(self.camera), "meta": self.meta}
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
        write_npz(path, arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> SynthTruth:
        """Read a file written by :meth:`save`.

        Raises
        ------
        DatasetFormatError
            If the file is missing, unreadable or not a SynthME truth (names the file).
        """
        p = Path(path)
        if not p.is_file():
            raise DatasetFormatError(f"SynthME ground-truth file '{display_path(p)}' does not exist")
        try:
            with np.load(p, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            meta = json.loads(str(arrays.pop("meta")))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            raise DatasetFormatError(f"cannot read SynthME ground truth '{display_path(p)}': {exc}") from exc
        missing = [k for k in _ARRAYS if k not in arrays]
        if meta.get("format") != TRUTH_FORMAT or missing:
            raise DatasetFormatError(f"'{display_path(p)}' is not a SynthME ground-truth file (format "
                                     f"{meta.get('format')!r}, missing arrays {missing})")
        return cls(model_name=meta["model_name"], camera=camera_from_dict(meta["camera"]),
                   aus=meta["aus"], expression_type=meta["kind"], fps=meta["fps"],
                   detail_amplitude=meta["detail_amplitude"], meta=meta["meta"],
                   **{k: arrays[k] for k in _ARRAYS})


SynthTruth.__init__ = renamed_keywords(kind="expression_type")(SynthTruth.__init__)  # type: ignore[method-assign]
