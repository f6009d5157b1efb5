"""Problems found while loading a dataset: the warning category, the missing-frames error and
the tidy ``problems`` table every :class:`~mxkit.data.ClipSet` carries.

Loaders never drop or patch data silently. Every anomaly becomes one row of
``clipset.problems`` (a :class:`pandas.DataFrame` with the columns in
:data:`PROBLEM_COLUMNS`); the serious ones also raise or warn:

============================  =====================================================  ===========
``kind``                      meaning                                                 reported by
============================  =====================================================  ===========
``missing_frames``            frames of onset..offset are not on disk                 error / warn
``missing_folder``            the sample folder itself is missing, or cannot be       error / warn
                              listed (permissions: the message says so)
``apex_outside_window``       apex not in onset..offset (SAMM 028_4_1, 032_3_1)       warn; apex → None
``apex_missing``              apex cell is ``/``, ``-``, empty … (CASME II 04/EP12_01f) table only
``frame_gap``                 a folder-defined clip (SMIC, CK+) skips frame numbers,   warn
                              or the ``window='all'`` baseline of a clip does
``duplicate_key``             the same (subject, clip) appears on two rows             warn
``invalid_row``               a label row that cannot become a sample (bad cell,      warn; row
                              onset after offset, unmapped subject, a name cell       left out
                              with ``..``, ``/`` or an absolute path, a window
                              longer than ``MAX_WINDOW_FRAMES``, two columns of one
                              name that disagree, ...); one bad row never aborts
                              the load
``empty_folder``              a CK+ sequence folder holds no frames                   warn; left out
``unknown_folder``            a SMIC folder that is not an emotion folder             warn; left out
``offset_missing``            the offset is not annotated (``\\``, ``0``): the clip     warn
                              ends at its last annotated apex frame
``emotion_spelling``          a known misspelling (``happyiness``, ``comtempt``)      table only
``au_missing``                the AU cell holds ``NULL`` (CAS(ME)²)                   table only
``missing_depth``             depth maps of the clip's frames are absent (CAS(ME)³)   warn
``window_outside_clip``       a SMIC-E window lies outside ``FirstF..LastF``          warn; left out
``last_frame_missing``        a SMIC-E row without ``LastF``                          table only
``fractional_frame``          a frame number stored as a non-integer float            warn; rounded
                              (SAMM Long Videos ``566.4000000000001``)
``interval_outside_video``    a long-video interval reaches past the video's frames   warn
``gt_clip_not_found``         a MEGC ground-truth row names a clip that is absent      error / warn
``label_mismatch``            MEGC ground truth disagrees with the coding file         warn
``not_in_ground_truth``       clip loaded but absent from the MEGC ground truth         table only
============================  =====================================================  ===========
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .._io import text_cell
from ..errors import DatasetFormatError

__all__ = ["DatasetWarning", "MissingFramesError", "PROBLEM_COLUMNS", "problems_frame"]

#: Columns of ``ClipSet.problems``.
PROBLEM_COLUMNS: tuple[str, ...] = (
    "kind", "dataset", "subject", "clip_id", "file", "sheet", "row", "column", "detail", "action",
)


class DatasetWarning(UserWarning):
    """A dataset anomaly that the loader tolerated (see ``clipset.problems`` for the details)."""


class MissingFramesError(DatasetFormatError):
    """Frames (or whole sample folders) named by the labels are missing on disk.

    Attributes
    ----------
    problems : pandas.DataFrame
        One row per affected clip (columns :data:`PROBLEM_COLUMNS`).
    """

    def __init__(self, message: str, problems: Iterable[Mapping[str, Any]] = ()) -> None:
        super().__init__(message)
        self._problems = tuple(dict(p) for p in problems)

    @property
    def problems(self):  # noqa: ANN201 - pandas is imported lazily
        return problems_frame(self._problems)


def problems_frame(rows: Iterable[Mapping[str, Any]]):
    """Build the tidy problems table (``pandas.DataFrame``) from row dicts."""
    import pandas as pd

    rows = [{c: text_cell(r.get(c)) for c in PROBLEM_COLUMNS} for r in rows]
    return pd.DataFrame(rows, columns=list(PROBLEM_COLUMNS))
