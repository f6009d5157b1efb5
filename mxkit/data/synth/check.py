"""Do SynthME frames look like faces to a real detector? dlib's detection rate and the error
of its 68 points against the ground truth."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import InputValueError, NoFaceError
from .truth import SynthTruth

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..clip import Clip

__all__ = ["detection_report"]

_GROUPS = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36),
           "eyes": range(36, 48), "mouth": range(48, 68)}


def _frame_indices(clip: Clip, frames: Any) -> list[int]:
    if frames == "key":
        return sorted({clip.onset, clip.apex_or_middle, clip.offset})
    if frames == "all":
        return list(range(clip.n_frames))
    if isinstance(frames, int) and not isinstance(frames, bool) and frames > 0:
        return list(range(0, clip.n_frames, frames))
    raise InputValueError(f"frames must be 'key', 'all' or a positive step; got {frames!r}")


def detection_report(clips: Iterable[Clip], *, frames: Any = "key", upsample: int = 1,
                     progress: bool = False) -> pd.DataFrame:
    """Run dlib (``mxkit.face.detect_landmarks``, default backend) on SynthME frames.

    Parameters
    ----------
    clips : iterable of Clip
        Clips whose ``ground_truth`` is a :class:`SynthTruth` (from :func:`load_synthme` or
        :func:`generate_clip`).
    frames : 'key', 'all' or int
        Onset, apex and offset of each clip; every frame; or every n-th frame.
    upsample : int
        HOG detector upsampling (as :func:`mxkit.face.detect_faces`).
    progress : bool
        Show a progress bar over clips.

    Returns
    -------
    pandas.DataFrame
        One row per frame: ``subject, clip_id, frame, detected, score, nme`` (mean point
        error over the inter-ocular distance of the ground truth, outer eye corners 36-45),
        ``nme_jaw, nme_brows, nme_nose, nme_eyes, nme_mouth`` and ``iod_px``; NaN errors where
        no face was found.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from ...face import detect_landmarks, inter_ocular_distance

    rows = []
    for clip in tqdm(list(clips), disable=not progress, desc="dlib check", unit="clip"):
        truth = clip.ground_truth
        if not isinstance(truth, SynthTruth):
            raise InputValueError(f"clip {clip.subject}/{clip.clip_id} has no SynthTruth ground truth")
        for t in _frame_indices(clip, frames):
            gt = truth.landmarks[t].astype(np.float64)
            iod = float(inter_ocular_distance(gt))
            row: dict[str, Any] = {"subject": clip.subject, "clip_id": clip.clip_id, "frame": t,
                                   "iod_px": iod}
            try:
                lm = detect_landmarks(clip.frame(t), upsample=upsample)
            except NoFaceError:
                row.update(detected=False, score=np.nan, nme=np.nan,
                           **{f"nme_{g}": np.nan for g in _GROUPS})
            else:
                err = np.linalg.norm(np.asarray(lm.points, np.float64) - gt, axis=1) / iod
                row.update(detected=True, score=float(lm.score), nme=float(err.mean()),
                           **{f"nme_{g}": float(err[list(r)].mean()) for g, r in _GROUPS.items()})
            rows.append(row)
    cols = ["subject", "clip_id", "frame", "detected", "score", "nme",
            *(f"nme_{g}" for g in _GROUPS), "iod_px"]
    return pd.DataFrame(rows, columns=cols)
