"""MEGC2019 composite (See et al., FG 2019): ``load_megc2019``. Format: ``DATASETS.md`` §5."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from ..._checks import check_option
from ..._io import display_path
from ...errors import DatasetFormatError, InputValueError
from ..clip import Clip, ClipSet
from ..problems import DatasetWarning, MissingFramesError
from ..protocols import MEGC2019_3CLASS
from ._tables import _as_int, col_letter, headerless_table, is_blank, open_workbook
from .casme2 import load_casme2
from .samm import load_samm
from .smic import load_smic

__all__ = ["load_megc2019", "read_megc2019_gt", "MEGC2019_PARTS"]

MEGC2019_PARTS = ("casme2", "samm", "smic")
_LABELS = ("negative", "positive", "surprise")  # 0, 1, 2


def _gt_key(dataset: str, subject: str, clip: str) -> tuple[str, str, str] | None:
    """GT naming -> mxkit's (dataset, subject folder, clip_id); None if unparseable."""
    if dataset == "casme2":
        m = re.fullmatch(r"(?:sub)?(\d+)", subject, re.IGNORECASE)
        return ("casme2", f"sub{int(m.group(1)):02d}", clip) if m else None
    if dataset == "samm":
        m = re.fullmatch(r"\d+", subject)
        return ("samm", f"{int(subject):03d}", clip) if m else None
    if dataset == "smic":
        m = re.fullmatch(r"s(\d+)", subject, re.IGNORECASE)
        c = re.fullmatch(r"s(\d+)_(.+)", clip, re.IGNORECASE)
        if not (m and c):
            return None
        return ("smic", f"s{int(m.group(1))}", f"s{int(c.group(1))}_{c.group(2)}")
    return None


def read_megc2019_gt(path: str | os.PathLike) -> list[dict]:
    """Read ``combined_3class_gt.csv`` (no header; ``dataset, subject, filename, label`` with
    0 = negative, 1 = positive, 2 = surprise). The header-carrying variant
    ``data,subject,clip,label`` is accepted too.

    Returns
    -------
    list of dict
        ``dataset, subject, clip_id`` in mxkit's naming (``'sub01'``, ``'006'``, ``'s1'``,
        ``'s1_ne_01'``), ``label`` (class name), ``gt_subject``/``gt_clip_id`` as written, ``row``.

    Raises
    ------
    DatasetFormatError
        Wrong number of columns, unknown dataset, unreadable subject or label (names file, row
        and column).
    """
    book = open_workbook(Path(path))
    sheet = book.sheet_names[0]
    table = headerless_table(book, sheet, ("dataset", "subject", "clip", "label"))
    rows = [(r, v) for r, v in table.rows if not is_blank(v)]
    first = table.get(rows[0][1], "label") if rows else None
    if isinstance(first, str) and _as_int(first) is None and first.strip().casefold() not in _LABELS:
        rows = rows[1:]  # 'data,subject,clip,label' header variant
    out = []
    for row, values in rows:
        if len([v for v in values if v is not None]) != 4:
            raise DatasetFormatError(
                f"{table.loc(row)}: expected 4 columns (dataset, subject, filename, label); got {list(values)}"
            )
        ds = table.text(row, values, "dataset").casefold()
        if ds not in MEGC2019_PARTS:
            raise DatasetFormatError(
                f"{table.loc(row, 'dataset')}: unknown dataset {ds!r} (expected {list(MEGC2019_PARTS)})"
            )
        subj = table.text(row, values, "subject")
        clip = table.text(row, values, "clip")
        raw = table.get(values, "label")
        n = _as_int(raw)
        if n is not None and 0 <= n < 3:
            label = _LABELS[n]
        elif isinstance(raw, str) and raw.strip().casefold() in _LABELS:
            label = raw.strip().casefold()
        else:
            raise DatasetFormatError(
                f"{table.loc(row, 'label')}: expected a label 0 (negative), 1 (positive) or 2 "
                f"(surprise); got {raw!r}"
            )
        key = _gt_key(ds, subj, clip)
        if key is None:
            raise DatasetFormatError(
                f"{table.loc(row, 'subject')}: cannot read the {ds} subject/clip {subj!r}/{clip!r} "
                "(expected sub01/EP02_01f, 6/006_1_2 or s01/s01_ne_01)"
            )
        out.append({"dataset": key[0], "subject": key[1], "clip_id": key[2], "label": label,
                    "gt_subject": subj, "gt_clip_id": clip, "row": row, "file": str(table.path),
                    "column": col_letter(1)})
    if not out:
        raise DatasetFormatError(f"{table.loc(None)}: the ground-truth file has no rows")
    return out


def load_megc2019(roots: Mapping[str, str | os.PathLike], *,
                  gt: str | os.PathLike | None = None,
                  frames: Literal["auto", "cropped", "raw"] = "auto",
                  window: Literal["labelled", "all"] = "labelled",
                  missing: Literal["raise", "warn", "skip"] = "raise") -> ClipSet:
    """Load the MEGC2019 composite (CASME II + SAMM + SMIC-HS) with its 3-class labels.

    Parameters
    ----------
    roots : mapping
        ``{'casme2': path, 'samm': path, 'smic': path}`` (the folders :func:`load_casme2`,
        :func:`load_samm` and :func:`load_smic` take); a subset loads only those parts.
    gt : path-like, optional
        ``combined_3class_gt.csv``. When given it is the source of truth: the composite is
        exactly its rows (in its order), labelled from it; loaded clips absent from it are
        listed in ``.excluded``. Without it the labels come from
        :data:`~mxkit.data.protocols.MEGC2019_3CLASS` (mapping + the two CASME II exclusions).
    frames : {'auto', 'cropped', 'raw'}, optional
        Frame variant for CASME II and SMIC (SAMM has one).
    window, missing
        As in :func:`~mxkit.data.load_casme2` (``missing`` also covers ground-truth rows whose
        clip is not in the loaded data).

    Returns
    -------
    ClipSet
        Labelled negative/positive/surprise (class indices 0/1/2 as in the GT file); LOSO
        folds by ``subject_key`` (``'casme2/sub01'``, ``'samm/006'``, ``'smic/s1'``): 68 with
        all three parts. ``protocol_card`` is the MEGC2019 card with counts, ``parts`` and
        ``label_source`` (and ``ground_truth_file``).

    Warns
    -----
    DatasetWarning
        GT labels that disagree with the coding file's emotion under the documented mapping
        (``label_mismatch`` problems); GT rows without a clip when ``missing`` is not 'raise'.
    """
    if not isinstance(roots, Mapping) or not roots:
        raise InputValueError(
            "roots must be a non-empty dict such as {'casme2': path, 'samm': path, 'smic': path}"
        )
    for k in roots:
        check_option(k, MEGC2019_PARTS, "roots key")
    check_option(missing, ("raise", "warn", "skip"), "missing")
    parts = []
    for name in MEGC2019_PARTS:
        if name not in roots:
            continue
        if name == "casme2":
            parts.append(load_casme2(roots[name], frames=frames, window=window, missing=missing))
        elif name == "samm":
            parts.append(load_samm(roots[name], window=window, missing=missing))
        else:
            smic_frames = "raw" if frames == "raw" else ("cropped" if frames == "cropped" else "auto")
            parts.append(load_smic(roots[name], variant="HS", frames=smic_frames))
    combined = ClipSet.concat(parts, name="megc2019")
    part_names = [n for n in MEGC2019_PARTS if n in roots]
    if gt is None:
        labelled = MEGC2019_3CLASS.apply(combined)
        card = labelled.protocol_card
        card.update({"parts": part_names, "label_source": "protocol mapping (no ground-truth file)"})
        return ClipSet(labelled, problems=labelled._problems, excluded=labelled._excluded,
                       protocol_card=card, name="megc2019")
    rows = read_megc2019_gt(gt)
    index = {c.key: c for c in combined}
    problems = list(combined._problems)
    kept: list[Clip] = []
    used: set[tuple[str, str, str]] = set()
    lost = []
    mismatch = []
    for r in rows:
        if r["dataset"] not in roots:
            continue
        key = (r["dataset"], r["subject"], r["clip_id"])
        base = {"dataset": r["dataset"], "subject": r["subject"], "clip_id": r["clip_id"],
                "file": r["file"], "sheet": None, "row": r["row"], "column": r["column"]}
        if key in used:
            problems.append({**base, "kind": "duplicate_key", "action": "kept first",
                             "detail": "the clip appears twice in the ground truth"})
            continue
        clip = index.get(key)
        if clip is None:
            lost.append({**base, "kind": "gt_clip_not_found",
                         "action": {"raise": "error", "warn": "skipped", "skip": "skipped"}[missing],
                         "detail": f"{r['gt_subject']}/{r['gt_clip_id']} is in the ground truth but "
                                   f"not in the loaded {r['dataset']} data"})
            continue
        used.add(key)
        try:
            expected, _ = MEGC2019_3CLASS.classify(clip)
        except InputValueError:
            expected = None
        if expected != r["label"]:
            mismatch.append({**base, "kind": "label_mismatch", "action": "kept (ground truth wins)",
                             "detail": f"ground truth says {r['label']!r}; the coding file's emotion "
                                       f"{clip.emotion!r} maps to {expected!r}"})
        meta = dict(clip.meta)
        meta.update({"megc_subject": r["gt_subject"], "megc_clip_id": r["gt_clip_id"]})
        kept.append(clip.replace(label=r["label"], meta=meta))
    problems += lost + mismatch
    if lost and missing == "raise":
        lines = [f"  {p['dataset']} {p['subject']}/{p['clip_id']} (file '{Path(p['file']).name}', "
                 f"row {p['row']})" for p in lost[:12]]
        raise MissingFramesError(
            f"megc2019: {len(lost)} ground-truth row(s) name clips missing from the loaded data:\n"
            + "\n".join(lines) + ("\n  ..." if len(lost) > 12 else "")
            + "\nPass missing='warn' or 'skip' to continue without them (listed in clipset.problems).",
            lost,
        )
    if lost:
        warnings.warn(f"megc2019: {len(lost)} ground-truth row(s) have no clip in the loaded data and "
                      "were skipped; see clipset.problems", DatasetWarning, stacklevel=2)
    if mismatch:
        warnings.warn(f"megc2019: {len(mismatch)} ground-truth label(s) disagree with the coding "
                      "files' emotions (ground truth kept); see clipset.problems",
                      DatasetWarning, stacklevel=2)
    excluded = list(combined._excluded)
    for c in combined:
        if c.key not in used:
            try:
                _, why = MEGC2019_3CLASS.classify(c)
            except InputValueError:
                why = None
            excluded.append({"dataset": c.dataset, "subject": c.subject, "clip_id": c.clip_id,
                             "value": c.emotion,
                             "reason": f"not in {Path(gt).name}" + (f" ({why})" if why else "")})
    if not kept:
        raise InputValueError(f"megc2019: no clip of the loaded parts {part_names} is in '{display_path(gt)}'")
    result = ClipSet(kept, problems=problems, excluded=excluded, name="megc2019")
    card = MEGC2019_3CLASS.card(result)
    card.update({"parts": part_names, "label_source": "ground-truth file",
                 "ground_truth_file": str(gt)})
    return ClipSet(kept, problems=problems, excluded=excluded, protocol_card=card, name="megc2019")
