"""SMIC (Li et al., FG 2013): ``load_smic``. Format: ``DATASETS.md`` §4.1.

SMIC has no label spreadsheet: the emotion is the folder name and the clip runs from the first
to the last frame of its folder (there is no apex).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from ..._checks import check_option
from ...errors import DatasetFormatError
from ..clip import ClipSet
from ._common import IMAGE_EXT, ClipSpec, _listdir, assemble, check_root, find_child, scan_frames

__all__ = ["load_smic", "SMIC_FPS", "SMIC_EMOTIONS", "smic_megc_names"]

#: Frame rates: HS 100 fps, VIS and NIR 25 fps (DATASETS.md §0, unconfirmed).
SMIC_FPS = {"HS": 100.0, "VIS": 25.0, "NIR": 25.0}
SMIC_EMOTIONS = ("negative", "positive", "surprise")

_FRAME = re.compile(rf"(?:reg_)?image(\d+)\.{IMAGE_EXT}", re.IGNORECASE)
_SUBJECT = re.compile(r"s(\d+)", re.IGNORECASE)
_CONTAINERS = {
    "raw": ("SMIC_all_raw", "SMIC", "SMIC_raw", "raw"),
    "cropped": ("SMIC_all_cropped", "SMIC_cropped", "cropped"),
}


def smic_megc_names(subject: str, clip_id: str) -> tuple[str, str]:
    """MEGC naming of a SMIC clip: ``('s1', 's1_ne_01')`` -> ``('s01', 's01_ne_01')``."""
    n = int(_SUBJECT.fullmatch(subject).group(1))
    rest = clip_id.split("_", 1)[1] if "_" in clip_id else clip_id
    return f"s{n:02d}", f"s{n:02d}_{rest}"


def _variant_dir(root: Path, variant: str, frames: str) -> tuple[Path, str]:
    """The folder holding ``s1``, ``s2``, ... for this variant, and its kind (raw/cropped)."""
    def has_subjects(p: Path | None) -> bool:
        return p is not None and any(_SUBJECT.fullmatch(e) and (p / e).is_dir() for e in _listdir(p))

    cropped_names = {c.casefold() for c in _CONTAINERS["cropped"]}
    root_kind = "cropped" if root.name.casefold() in cropped_names else "raw"
    cands: list[tuple[str, Path | None, str]] = [(root_kind, find_child(root, (variant,)), variant)]
    for kind, containers in _CONTAINERS.items():
        for c in containers:
            cont = find_child(root, (c,))
            cands.append((kind, None if cont is None else find_child(cont, (variant,)), f"{c}/{variant}"))
    if root.name.casefold() == variant.casefold():
        cands.append(("custom", root, "."))
    for kind, path, _ in cands:
        if frames != "auto" and kind not in (frames, "custom"):
            continue
        if has_subjects(path):
            return path, kind
    looked = [shown for kind, _, shown in cands if frames == "auto" or kind in (frames, "custom")]
    raise DatasetFormatError(
        f"no SMIC-{variant} subject folders (s1, s2, ...) under '{root}': looked in {looked}; "
        f"the folder holds {_listdir(root)[:10]}"
    )


def load_smic(root: str | os.PathLike, *, variant: Literal["HS", "VIS", "NIR"] = "HS",
              frames: Literal["auto", "raw", "cropped"] = "auto") -> ClipSet:
    """Load SMIC-HS, -VIS or -NIR micro-expression clips from the folder layout.

    Parameters
    ----------
    root : path-like
        The SMIC folder holding ``HS/`` (``VIS/``, ``NIR/``), or ``SMIC_all_raw/`` /
        ``SMIC_all_cropped/`` containing them, or a variant folder itself. Clips live in
        ``HS/s1/micro/negative/s1_ne_01/image059740.bmp`` (cropped:
        ``reg_image059740.bmp``); ``non_micro/`` folders are ignored.
    variant : {'HS', 'VIS', 'NIR'}, optional
        Camera: high-speed (100 fps), visual or near-infrared (25 fps).
    frames : {'auto', 'raw', 'cropped'}, optional
        Raw (``HS/`` or ``SMIC_all_raw/HS/``) or cropped (``SMIC_all_cropped/HS/``); 'auto'
        prefers raw.

    Returns
    -------
    ClipSet
        ``subject`` ``'s1'``, ``clip_id`` ``'s1_ne_01'``, ``emotion`` the folder name
        (negative/positive/surprise), ``apex`` None (use :attr:`Clip.apex_or_middle`),
        ``dataset`` ``'smic'`` with ``meta['variant']``; the MEGC names (``'s01'``,
        ``'s01_ne_01'``) are ``meta['megc_subject']`` / ``meta['megc_clip_id']``.

    Warns
    -----
    DatasetWarning
        A clip folder whose frame numbers skip values (the clip keeps the frames present).
    """
    check_option(variant, tuple(SMIC_FPS), "variant")
    check_option(frames, ("auto", "raw", "cropped"), "frames")
    root = check_root(root, "SMIC")
    vdir, kind = _variant_dir(root, variant, frames)
    specs = []
    for sname in _listdir(vdir):
        if not (_SUBJECT.fullmatch(sname) and (vdir / sname).is_dir()):
            continue
        sdir = vdir / sname
        subject = f"s{int(_SUBJECT.fullmatch(sname).group(1))}"
        micro = find_child(sdir, ("micro",))
        base = micro if micro is not None else sdir
        for emo in _listdir(base):
            if emo.casefold() not in SMIC_EMOTIONS or not (base / emo).is_dir():
                continue
            for clip_id in _listdir(base / emo):
                folder = base / emo / clip_id
                if not folder.is_dir():
                    continue
                index = scan_frames(folder, _FRAME)
                if not index:
                    raise DatasetFormatError(
                        f"SMIC clip folder '{folder}' holds no frames named image<N>.bmp/.jpg"
                    )
                nums = list(index)
                msub, mclip = smic_megc_names(subject, clip_id)
                specs.append(ClipSpec(
                    dataset="smic", subject=subject, clip_id=clip_id, fps=SMIC_FPS[variant],
                    folder=folder, onset_frame=nums[0], offset_frame=nums[-1], apex_frame=None,
                    frame_pattern=_FRAME, frame_name=lambda k: f"image{k:06d}.bmp",
                    emotion=emo.lower(),
                    meta={"variant": variant, "frame_variant": kind, "megc_subject": msub,
                          "megc_clip_id": mclip, "subject_label": sname},
                    source={"file": str(folder)}, folder_defined=True, index=index,
                ))
    if not specs:
        raise DatasetFormatError(
            f"no SMIC-{variant} clips under '{vdir}': expected s<N>/micro/<negative|positive|"
            "surprise>/<clip>/image<N>.bmp"
        )
    return assemble(specs, dataset="smic", window="labelled", missing="raise",
                    name=f"smic-{variant.lower()}")
