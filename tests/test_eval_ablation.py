"""The ablation comparison table: mxkit rows apart from the paper's 'as reported' rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mxkit.errors import InputValueError
from mxkit.eval import REPORTED, TABLE_METRICS, ablation_row, ablation_table, recognise


def _recon_table(dataset: str, l1: float, l2: float, mm: float) -> pd.DataFrame:
    rows = []
    for clip, scale in (("c1", 0.5), ("c2", 1.5)):                  # two clips averaging to the value
        for metric, v in (("vertex_l1", l1), ("vertex_l2", l2), ("micro_motion_l2", mm)):
            rows.append({"clip": clip, "subject": "s1", "dataset": dataset, "variant": "x", "mesh": "fine",
                         "region": "all", "metric": metric, "value": v * scale, "unit": "mm"})
        rows.append({"clip": clip, "subject": "s1", "dataset": dataset, "variant": "x", "mesh": "coarse",
                     "region": "all", "metric": "vertex_l1", "value": 99.0, "unit": "mm"})
    return pd.DataFrame(rows)


def test_table_keeps_reported_rows_apart():
    rows = [ablation_row("full", "casme2", reconstruction=_recon_table("casme2", 0.3, 0.6, 0.1)),
            ablation_row("static", "casme2", values={"shape_l1": 0.5, "WF1": 0.3}),
            ablation_row("full", "samm", values={"ACC": 0.5})]
    t = ablation_table(rows)
    f = t.frame
    assert list(f.columns) == ["source", "dataset", "variant", *TABLE_METRICS, "note"]
    assert f["source"].tolist() == ["mxkit"] * 3 + ["as reported"] * 2
    assert f["variant"].tolist()[:3] == ["static", "full", "full"]    # VARIANTS order within a dataset
    full = t.measured.set_index(["dataset", "variant"]).loc[("casme2", "full")]
    assert full["shape_l1"] == pytest.approx(0.3) and full["shape_l2"] == pytest.approx(0.6)
    assert full["micro_motion_l2"] == pytest.approx(0.1) and np.isnan(full["WF1"])
    assert np.isnan(full["L1"])                                       # the paper's column, never mxkit's
    rep = t.reported.set_index("dataset")
    assert rep.loc["casme2", "L1"] == 0.041 and rep.loc["casme2", "WF1"] == 0.5332
    assert rep.loc["samm", "ACC"] == 0.5686 and rep.loc["samm", "L1"] == 0.06
    assert "casme" not in set(rep.index)                              # only datasets in the table
    assert t.summary() == {"rows": 3, "reported_rows": 2, "datasets": ["casme2", "samm"],
                           "variants": ["static", "full"]}
    md = t.to_markdown()
    head, tail = md.split("as reported (Sun et al. 2026)")
    assert "| casme2 | static |  | 0.5000 |" in head and "0.0410" in tail and "0.0410" not in head
    assert "shape_l1" in md and "the paper's figure only" in md
    with pytest.raises(InputValueError, match="paper"):
        ablation_row("full", "casme2", values={"L1": 0.5})
    assert ablation_table(rows, include_reported=False).reported.empty
    assert len(ablation_table(rows, datasets=["casme"]).reported) == 3
    assert {(r["dataset"], r["metric"]) for r in REPORTED} >= {("casme", "ACC"), ("casme", "L1")}


def test_table_from_a_recognition_result_and_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 3))
    y = [("a", "b")[i % 2] for i in range(24)]
    X[:, 0] += np.array([2.0 if c == "a" else 0.0 for c in y])
    groups = [(("casme2", "samm")[i % 3 == 0], f"s{i % 4}") for i in range(24)]
    res = recognise(X, y, groups, grid={})
    row = ablation_row("encoder", "samm", recognition=res)
    assert row["UF1"] == pytest.approx(res.by_dataset().loc["samm", "UF1"])
    t = ablation_table([row])
    path = tmp_path / "ablation.csv"
    t.to_csv(path)
    back = pd.read_csv(path)
    assert back["source"].tolist() == ["mxkit", "as reported"] and back.loc[1, "ACC"] == 0.5686


def test_table_bad_rows():
    with pytest.raises(InputValueError, match="duplicate"):
        ablation_table([{"dataset": "casme2", "variant": "full"}] * 2)
    with pytest.raises(InputValueError, match="dataset and a variant"):
        ablation_table([{"variant": "full"}])
    with pytest.raises(InputValueError, match="reported figures"):
        ablation_table([{"dataset": "casme2", "variant": "full", "source": "as reported"}])
    with pytest.raises(InputValueError, match="unknown"):
        ablation_row("full", "casme2", values={"F1": 0.3})
