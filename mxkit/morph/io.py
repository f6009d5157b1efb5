"""Loading face models: the embedded ``mh-head`` and user-supplied files."""

from __future__ import annotations

import json
import os
import zipfile
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._checks import check_device
from ..errors import ModelFileError, UnknownModelError
from .model import FaceModel, LandmarkEmbedding

__all__ = ["load_face_model", "available_models", "face_model_from_npz", "MH_HEAD_ASSET"]

MH_HEAD_ASSET = "mh_head_v1.npz"

_REQUIRED = ("v_template", "faces", "expr_basis", "expr_names")


def available_models() -> dict[str, str]:
    """Names accepted by :func:`load_face_model`, with one line each."""
    return {
        "mh-head": "embedded CC0 MakeHuman head with the 52 ARKit shapes (ships with mxkit)",
        "flame": "FLAME 2020/2023/2023-Open pickle supplied by the user (path=...)",
        "npz": "a model file in mxkit's .npz layout (path=...)",
    }


def _asset_path(name: str) -> Path:
    path = Path(str(resources.files("mxkit") / "assets" / name))
    if not path.is_file():
        raise ModelFileError(
            f"the packaged model file {path} is missing; reinstall mxkit or rebuild it with "
            "`python tools/build_mh_head.py`"
        )
    return path


@lru_cache(maxsize=8)
def _read_npz(path: str, mtime: float) -> dict[str, np.ndarray]:
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelFileError(f"cannot read face-model file {path}: {exc}") from exc
    missing = [k for k in _REQUIRED if k not in arrays]
    if missing:
        raise ModelFileError(f"face-model file {path} lacks the arrays {missing}; "
                             f"found {sorted(arrays)}")
    return arrays


def face_model_from_npz(path: str | os.PathLike, *, name: str | None = None,
                        dtype: torch.dtype = torch.float32) -> FaceModel:
    """Build a :class:`FaceModel` from a file in mxkit's ``.npz`` layout.

    The layout is documented in ``docs/face_models.md``: ``v_template`` (V,3) metres,
    ``faces`` (F,3), ``expr_basis`` (E,V,3), ``expr_names`` (E,), and optionally
    ``id_basis``/``id_names``/``id_std``, ``lmk<kind>_faces``/``lmk<kind>_bary``,
    ``region_names``/``region_labels``, ``part_names``/``part_labels``,
    ``au_names``/``au_masks``, ``mirror``, ``uv``/``faces_uv`` and a JSON ``meta``.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"face-model file not found: {path}")
    a = _read_npz(str(path.resolve()), path.stat().st_mtime)
    meta: dict[str, Any] = {}
    if "meta" in a:
        try:
            meta = json.loads(str(a["meta"]))
        except json.JSONDecodeError as exc:
            raise ModelFileError(f"{path}: the 'meta' entry is not valid JSON ({exc})") from exc
    landmarks = {}
    for key in a:
        if key.startswith("lmk") and key.endswith("_faces"):
            kind = key[3:-6]
            kind = {"68": "ibug68", "468": "mp468"}.get(kind, kind)
            bary_key = key[:-6] + "_bary"
            if bary_key not in a:
                raise ModelFileError(f"{path}: {key} has no matching {bary_key}")
            landmarks[kind] = LandmarkEmbedding(a[key], a[bary_key])
    id_basis = a.get("id_basis")
    if id_basis is not None and "id_std" in a:
        id_basis = id_basis * a["id_std"][:, None, None]
    au_masks = None
    if "au_names" in a and "au_masks" in a:
        au_masks = {str(n): m for n, m in zip(a["au_names"].tolist(), a["au_masks"], strict=True)}
    try:
        return FaceModel(
            name=name or meta.get("name", path.stem),
            v_template=a["v_template"], faces=a["faces"], expr_basis=a["expr_basis"],
            expr_names=[str(n) for n in a["expr_names"].tolist()],
            id_basis=id_basis,
            id_names=[str(n) for n in a["id_names"].tolist()] if "id_names" in a else None,
            landmarks=landmarks,
            region_names=[str(n) for n in a["region_names"].tolist()] if "region_names" in a else None,
            region_labels=a.get("region_labels"),
            part_names=[str(n) for n in a["part_names"].tolist()] if "part_names" in a else None,
            part_labels=a.get("part_labels"),
            au_masks=au_masks, mirror=a.get("mirror"), uv=a.get("uv"), faces_uv=a.get("faces_uv"),
            meta=meta, expression_kind=meta.get("expression_kind", "arkit"), dtype=dtype,
        )
    except ValueError as exc:
        raise ModelFileError(f"face-model file {path} is inconsistent: {exc}") from exc


def load_face_model(name: str = "mh-head", *, path: str | os.PathLike | None = None,
                    device: str | torch.device | None = None,
                    dtype: torch.dtype = torch.float32, subdivide: int = 0) -> FaceModel:
    """Load a face model by name.

    Parameters
    ----------
    name : str
        ``"mh-head"`` (embedded default), ``"flame"`` (needs ``path`` to a FLAME pickle) or
        ``"npz"`` (needs ``path`` to a file in mxkit's layout). See :func:`available_models`.
    path : path-like, optional
        User-supplied model file. Nothing is ever downloaded.
    device, dtype
        Where the model's buffers live.
    subdivide : int
        Number of Loop subdivision levels (each multiplies the triangle count by 4).

    Returns
    -------
    FaceModel

    Raises
    ------
    UnknownModelError
        For an unknown name.
    ModelFileError
        When the file is missing, corrupt or of the wrong format.

    Examples
    --------
    >>> model = load_face_model("mh-head")
    >>> model.n_expressions
    52
    """
    device = check_device(device)
    key = str(name).lower()
    if key == "mh-head":
        if path is not None:
            raise UnknownModelError("'mh-head' is embedded; pass name='npz' to load your own file")
        model = face_model_from_npz(_asset_path(MH_HEAD_ASSET), name="mh-head", dtype=dtype)
    elif key in ("flame", "npz"):
        if path is None:
            raise ModelFileError(
                f"load_face_model({name!r}) needs path=... to your local model file"
                + (" (FLAME is licensed by MPI-IS: register at flame.is.tue.mpg.de, download "
                   "FLAME 2020/2023/2023-Open and pass the .pkl)" if key == "flame" else "")
            )
        if key == "flame":
            from .flame import load_flame

            model = load_flame(path, dtype=dtype)
        else:
            model = face_model_from_npz(path, dtype=dtype)
    else:
        raise UnknownModelError(f"unknown face model {name!r}; available: "
                                f"{sorted(available_models())}")
    if subdivide:
        from .subdivide import subdivide_model

        model = subdivide_model(model, levels=subdivide)
    return model.to(device) if device is not None else model
