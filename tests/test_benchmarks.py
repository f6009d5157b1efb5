"""Smoke test of the benchmark runner (benchmarks themselves never run in the test suite)."""

from __future__ import annotations

import json

from benchmarks import run as bench_run


def test_every_benchmark_module_has_the_runner_interface():
    import importlib

    names = bench_run.available()
    assert {"fit", "render", "flow", "landmarks"} <= set(names)
    for name in names:
        mod = importlib.import_module(f"benchmarks.bench_{name}")
        assert callable(mod.run) and callable(mod.to_markdown), name


def test_runner_writes_json_and_markdown_on_the_tiniest_settings(tmp_path):
    assert bench_run.main(["--quick", "--only", "fit", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "benchmarks_quick.json").read_text())
    (entry,) = report["benchmarks"]
    assert entry["name"] == "fit" and entry["ok"]
    assert entry["peak_rss_mib"] > 50                  # a real process with torch loaded
    assert entry["result"]["rows"], "the fit benchmark returned no rows"
    assert report["machine"]["cpu_count"] >= 1
    md = (tmp_path / "benchmarks_quick.md").read_text()
    assert "| fit | ok |" in md and "frames/s" in md
