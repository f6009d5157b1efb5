"""The baselines-and-ablations comparison table, with the paper's figures kept apart.

:func:`ablation_table` takes per-variant results -- reconstruction metric tables
(:class:`~mxkit.eval.ReconstructionMetrics` or their tidy rows) and/or recognition results
(:class:`~mxkit.eval.RecognitionResult`) per ``(variant, dataset)``, or plain numbers -- and
builds one row per (dataset, variant) with the columns of :data:`TABLE_METRICS`:

=====================  ========================================================================
column                 source (fine mesh, region ``'all'``, over the dataset's clips)
=====================  ========================================================================
``rel_error``          median ``active_rel_error`` (:mod:`mxkit.eval.motion`): error of the
                       apex - onset field on the vertices that truly move over their true
                       motion; 0 perfect, 1 = predicting no motion
``amplitude``          median ``amplitude_ratio`` (share of the true amplitude recovered there)
``cosine``             median ``motion_cosine`` (direction agreement of the two fields there)
``beats_no_motion``    share of clips with ``active_rel_error < 1``, i.e. strictly better than
                       the no-motion reference (onset shape kept) on that clip
``micro_motion_l2``    mean ``micro_motion_l2`` (Euclidean error of the apex - onset field over
                       the whole face, mm)
``shape_l1``           mean ``vertex_l1`` (per-coordinate absolute vertex error after a per-frame
                       rigid alignment, mm): a **shape** error, not the paper's L1
``shape_l2``           mean ``vertex_l2`` (mean Euclidean vertex distance, mm)
``L1``                 **the paper's L1 only** (its 'as reported' rows; unit and reference not
                       public); mxkit never fills it
``UF1 UAR WF1 ACC``    pooled LOSO metrics of the recognition result (fractions in [0, 1]) on
                       the dataset's subset of the pooled predictions
=====================  ========================================================================

The ``no_motion`` row (variant :data:`mxkit.eval.NO_MOTION`) is the no-motion reference: motion
columns only (``rel_error`` 1, ``amplitude`` and ``cosine`` 0, ``beats_no_motion`` 0).

The paper's own figures (:data:`REPORTED`, Sun et al. 2026 as quoted in ``DESIGN.md`` §1) are
added as separate rows with ``source = 'as reported'`` -- never mixed into mxkit's rows -- and
only under their dataset and metric. **They are not comparable one to one**: the paper's L1
reference, units and alignment are not public, and its recognition protocol is not known to
be mxkit's leakage-safe LOSO.

The runner that produces the per-variant results (``mxkit.reconstruct`` with each variant of
``DESIGN.md`` §4, then :func:`~mxkit.eval.evaluate_reconstruction` and
:func:`~mxkit.eval.recognise`) composes stages, so it lives in
:func:`mxkit.workflows.run_ablation`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._io import atomic_write
from ..errors import InputValueError
from ..nets.variants import VARIANTS as _VARIANTS
from .motion import NO_MOTION

__all__ = ["VARIANTS", "TABLE_METRICS", "REPORTED", "REPORTED_SOURCE", "ablation_row", "ablation_table",
           "AblationTable"]

#: Reconstruction variants of the ablation, in table order: :data:`mxkit.nets.VARIANTS` (one home).
VARIANTS = _VARIANTS
#: Metric columns of the table, in order.
TABLE_METRICS = ("rel_error", "amplitude", "cosine", "beats_no_motion", "micro_motion_l2", "shape_l1", "shape_l2",
                 "L1", "UF1", "UAR", "WF1", "ACC")
#: Value of the ``source`` column on the paper's rows (mxkit's rows say ``'mxkit'``).
REPORTED_SOURCE = "as reported"
#: Table column -> (metric, statistic over clips) of mxkit's reconstruction rows.
_RECON_METRIC = {"rel_error": ("active_rel_error", "median"), "amplitude": ("amplitude_ratio", "median"),
                 "cosine": ("motion_cosine", "median"), "micro_motion_l2": ("micro_motion_l2", "mean"),
                 "shape_l1": ("vertex_l1", "mean"), "shape_l2": ("vertex_l2", "mean")}

#: The paper's figures (Sun et al., arXiv 2603.07043, 2026; DESIGN.md §1), full method only.
#: ACC as a fraction (44.7 % -> 0.447). L1's unit and reference are not stated in the paper.
REPORTED: tuple[dict[str, Any], ...] = (
    {"dataset": "casme2", "metric": "L1", "value": 0.041},
    {"dataset": "casme", "metric": "L1", "value": 0.044},
    {"dataset": "samm", "metric": "L1", "value": 0.06},
    {"dataset": "casme2", "metric": "WF1", "value": 0.5332},
    {"dataset": "casme", "metric": "ACC", "value": 0.447},
    {"dataset": "samm", "metric": "ACC", "value": 0.5686},
)
_REPORTED_NOTE = ("Sun et al. 2026 (arXiv 2603.07043), full method; L1 unit/reference and the "
                  "recognition protocol are not public: not directly comparable")


def _recon_values(recon: Any, dataset: str) -> dict[str, float]:
    if isinstance(recon, pd.DataFrame):
        df = recon
    else:
        items = recon if isinstance(recon, (list, tuple)) else [recon]
        df = pd.concat([getattr(r, "table", r) for r in items], ignore_index=True)
    sel = df[(df["region"] == "all") & (df["mesh"] == "fine")]
    if "dataset" in sel.columns and dataset in set(sel["dataset"]):
        sel = sel[sel["dataset"] == dataset]
    out = {}
    for col, (metric, stat) in _RECON_METRIC.items():
        v = sel.loc[sel["metric"] == metric, "value"].dropna()
        if len(v):
            out[col] = float(v.median() if stat == "median" else v.mean())
    rel = sel.loc[sel["metric"] == "active_rel_error", "value"].dropna()
    if len(rel):
        out["beats_no_motion"] = float((rel < 1.0).mean())
    return out


def _recog_values(result: Any, dataset: str) -> dict[str, float]:
    table = result.by_dataset()
    row = table.loc[dataset] if dataset in table.index else table.loc["all"]
    return {m: float(row[m]) for m in ("UF1", "UAR", "WF1", "ACC")}


def ablation_row(variant: str, dataset: str, *, reconstruction: Any = None, recognition: Any = None,
                 values: Mapping[str, float] | None = None, note: str = "") -> dict[str, Any]:
    """One mxkit row of the table.

    Parameters
    ----------
    variant : str
        One of :data:`VARIANTS` (other names are allowed and sorted after them).
    dataset : str
    reconstruction : ReconstructionMetrics, list of them, or their tidy DataFrame, optional
        Clip-level metrics of this variant; the dataset's clips are averaged.
    recognition : RecognitionResult, optional
        Its pooled metrics on the dataset's subset (or overall if the dataset is absent).
    values : dict, optional
        Numbers given directly (override the above), keys from :data:`TABLE_METRICS`.
    note : str
    """
    row: dict[str, Any] = {"source": "mxkit", "dataset": str(dataset), "variant": str(variant)}
    if reconstruction is not None:
        row.update(_recon_values(reconstruction, dataset))
    if recognition is not None:
        row.update(_recog_values(recognition, dataset))
    for k, v in dict(values or {}).items():
        if k == "L1":
            raise InputValueError("the L1 column holds the paper's figure only; mxkit's vertex error is 'shape_l1'")
        if k not in TABLE_METRICS:
            raise InputValueError(f"unknown table metric {k!r}; known: {list(TABLE_METRICS)}")
        row[k] = float(v)
    row["note"] = note
    return row


@dataclass(frozen=True, eq=False)
class AblationTable:
    """The comparison table (from :func:`ablation_table`).

    Attributes
    ----------
    frame : pandas.DataFrame
        Columns ``source`` ('mxkit' or 'as reported'), ``dataset``, ``variant``, the
        :data:`TABLE_METRICS` (NaN where not measured) and ``note``; mxkit rows first
        (datasets in order of appearance, the ``no_motion`` reference then the variants in
        :data:`VARIANTS` order), then the
        reported rows.
    """

    frame: pd.DataFrame = field(repr=False)

    def to_dataframe(self) -> pd.DataFrame:
        return self.frame.copy()

    @property
    def measured(self) -> pd.DataFrame:
        """mxkit's own rows only."""
        return self.frame[self.frame["source"] == "mxkit"].reset_index(drop=True)

    @property
    def reported(self) -> pd.DataFrame:
        """The paper's rows only."""
        return self.frame[self.frame["source"] == REPORTED_SOURCE].reset_index(drop=True)

    def summary(self) -> dict[str, Any]:
        return {"rows": int((self.frame["source"] == "mxkit").sum()),
                "reported_rows": int((self.frame["source"] == REPORTED_SOURCE).sum()),
                "datasets": list(dict.fromkeys(self.frame["dataset"])),
                "variants": list(dict.fromkeys(self.measured["variant"]))}

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write the table as CSV (atomically, :func:`mxkit._io.atomic_write`)."""
        atomic_write(path, self.frame.to_csv(index=False))

    def to_markdown(self, *, digits: int = 4) -> str:
        """A Markdown table: mxkit rows, then a separator row and the 'as reported' rows.

        Metric columns without any value are left out.
        """
        shown = [m for m in TABLE_METRICS if self.frame[m].notna().any()]
        cols = ["dataset", "variant", *shown]
        header = "| " + " | ".join(cols) + " |\n|" + "|".join("---" for _ in cols) + "|\n"

        def fmt(row: pd.Series) -> str:
            cells = [str(row["dataset"]), str(row["variant"])]
            cells += ["" if pd.isna(row[m]) else f"{row[m]:.{digits}f}" for m in shown]
            return "| " + " | ".join(cells) + " |\n"

        out = header + "".join(fmt(r) for _, r in self.measured.iterrows())
        if len(self.reported):
            out += "| ***as reported (Sun et al. 2026)*** |" + " |" * (len(cols) - 1) + "\n"
            out += "".join(fmt(r) for _, r in self.reported.iterrows())
        out += ("\nrel_error = median active relative error of the apex - onset field on the vertices that "
                "truly move (true motion >= 30 % of its maximum; 0 perfect, 1 = no motion); amplitude, cosine = "
                "median amplitude ratio and cosine there; beats_no_motion = share of clips with rel_error < 1; "
                "micro_motion_l2 = mean Euclidean error of that field over the whole face (mm); shape_l1 / "
                "shape_l2 = mean per-coordinate absolute / Euclidean vertex error after per-frame rigid "
                "alignment (mm), a shape error; L1 = the paper's figure only; "
                "UF1/UAR/WF1/ACC pooled over leakage-safe LOSO folds (fractions).\n")
        if len(self.reported):
            out += f"'As reported' rows: {_REPORTED_NOTE}.\n"
        return out


def ablation_table(rows: Iterable[Mapping[str, Any]] | pd.DataFrame, *, include_reported: bool = True,
                   datasets: Iterable[str] | None = None) -> AblationTable:
    """Build the baselines/ablation comparison table.

    Parameters
    ----------
    rows : iterable of dict (e.g. from :func:`ablation_row`) or DataFrame
        Each with ``dataset``, ``variant`` and any of :data:`TABLE_METRICS`.
    include_reported : bool, default True
        Append the paper's figures (:data:`REPORTED`) for the datasets in the table (or in
        ``datasets``) as separate ``'as reported'`` rows.
    datasets : iterable of str, optional
        Datasets whose reported rows to add (default: those of ``rows``).

    Returns
    -------
    AblationTable

    Raises
    ------
    InputValueError
        A row without dataset or variant, a duplicate (dataset, variant), or a row claiming
        the 'as reported' source.

    Examples
    --------
    >>> t = ablation_table([ablation_row("full", "casme2", values={"shape_l1": 0.5, "WF1": 0.4})])
    >>> t.frame[["source", "variant", "shape_l1", "L1", "WF1"]].fillna(-1).values.tolist()
    [['mxkit', 'full', 0.5, -1.0, 0.4], ['as reported', 'full', -1.0, 0.041, 0.5332]]
    """
    recs = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else [dict(r) for r in rows]
    for r in recs:
        if not r.get("dataset") or not r.get("variant"):
            raise InputValueError(f"every row needs a dataset and a variant; got {r!r}")
        if r.get("source", "mxkit") == REPORTED_SOURCE:
            raise InputValueError("rows must be mxkit's own results; reported figures are added by include_reported")
        unknown = set(r) - {"source", "dataset", "variant", "note", *TABLE_METRICS}
        if unknown:
            raise InputValueError(f"unknown column(s) {sorted(unknown)}; table metrics are {list(TABLE_METRICS)}")
    seen = [(r["dataset"], r["variant"]) for r in recs]
    dup = {k for k in seen if seen.count(k) > 1}
    if dup:
        raise InputValueError(f"duplicate (dataset, variant) rows: {sorted(dup)}")
    ds_order = list(dict.fromkeys([r["dataset"] for r in recs] + list(datasets or [])))
    rank = {v: i for i, v in enumerate(VARIANTS)} | {NO_MOTION: -1}           # the reference first
    recs.sort(key=lambda r: (ds_order.index(r["dataset"]), rank.get(r["variant"], len(VARIANTS)), str(r["variant"])))
    out = [{"source": "mxkit", "note": "", **r} for r in recs]
    if include_reported:
        for d in ds_order:
            vals = {x["metric"]: x["value"] for x in REPORTED if x["dataset"] == d}
            if vals:
                out.append({"source": REPORTED_SOURCE, "dataset": d, "variant": "full", **vals,
                            "note": _REPORTED_NOTE})
    frame = pd.DataFrame(out, columns=["source", "dataset", "variant", *TABLE_METRICS, "note"])
    frame[list(TABLE_METRICS)] = frame[list(TABLE_METRICS)].astype(np.float64)
    return AblationTable(frame)
