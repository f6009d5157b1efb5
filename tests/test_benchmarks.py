"""Smoke test of the benchmark runner (benchmarks themselves never run in the test suite)."""

from __future__ import annotations

import importlib
import inspect
import json

import pytest

from benchmarks import run as bench_run

#: every DESIGN.md §6 figure has a benchmark, and GPU mode has something to run
EXPECTED = {"accuracy", "fit", "flow", "landmarks", "prepare", "reconstruct", "render",
            "scaling", "synth", "train"}
WITH_DEVICE = {"reconstruct", "render", "train"}


def test_every_benchmark_module_has_the_runner_interface():
    names = bench_run.available()
    assert EXPECTED <= set(names)
    for name in names:
        mod = importlib.import_module(f"benchmarks.bench_{name}")
        assert callable(mod.run) and callable(mod.to_markdown), name
        params = inspect.signature(mod.run).parameters
        assert "quick" in params, name
        if "device" in params:
            assert params["device"].default == "cpu", name    # CPU unless asked otherwise
        for optional in ("headline", "write_figures"):
            assert callable(getattr(mod, optional, len)), (name, optional)
    assert {n for n in names if bench_run.takes_device(n)} == WITH_DEVICE


def test_gpu_mode_selects_the_benchmarks_that_take_a_device():
    assert bench_run.select(None, "cpu") == bench_run.available()
    assert bench_run.select(["flow", "render"], "cpu") == ["flow", "render"]
    assert set(bench_run.select(None, "cuda")) == WITH_DEVICE
    with pytest.raises(ValueError, match="fit"):
        bench_run.select(["render", "fit"], "cuda")


def test_gpu_mode_skips_cleanly_without_cuda(tmp_path, monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert bench_run.main(["--device", "cuda", "--out", str(tmp_path)]) == 0
    assert "no CUDA device" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())                 # nothing written, nothing overwritten


def test_runner_writes_json_and_markdown_on_the_tiniest_settings(tmp_path):
    # flow --quick is the cheapest benchmark (a few seconds, no model, no dlib)
    assert bench_run.main(["--quick", "--only", "flow", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "benchmarks_quick.json").read_text())
    (entry,) = report["benchmarks"]
    assert entry["name"] == "flow" and entry["ok"]
    assert entry["peak_rss_mib"] > 50                  # a real process with numpy/OpenCV loaded
    assert {r["method"] for r in entry["result"]["rows"]} >= {"dis", "tvl1"}
    assert report["machine"]["cpu_count"] >= 1
    assert len(report["machine"]["load_average_start"]) == 3
    md = (tmp_path / "benchmarks_quick.md").read_text()
    assert "| flow | ok |" in md and "ms/pair" in md
    assert "## DESIGN.md §6 targets" in md and "| not run |" in md


def test_targets_read_the_results_they_know():
    render = {"rows": [{"method": "mxkit render (1 frame per call)", "frames_per_s": 80.0}],
              "ratio": 100.0, "quick": False}
    recon = {"n_frames": 60, "quick": False,
             "rows": [{"threads": 2, "total_s": 12.0}, {"threads": 1, "total_s": 8.0}]}
    report = {"benchmarks": [{"name": "render", "ok": True, "result": render},
                             {"name": "reconstruct", "ok": True, "result": recon},
                             {"name": "synth", "ok": True, "result": {"rows": []}}]}
    got = {t["benchmark"]: t for t in bench_run.targets(report)}
    assert got["render"]["met"] is True and "80 frames/s" in got["render"]["measured"]
    assert got["reconstruct"]["met"] is True and "8.0 s with 1" in got["reconstruct"]["measured"]
    assert got["fit"]["met"] is None and got["fit"]["measured"] == "not run"
    assert got["synth"]["met"] is None and "unreadable" in got["synth"]["measured"]


def test_scaling_figure_is_written_atomically(tmp_path):
    from benchmarks import bench_scaling

    result = {
        "quick": True, "cpu_count": 2, "torch_threads": 1, "load_average": 1.0,
        "length": [{"n_frames": n, "generate_s": 0.1 * n, "prepare_s": 0.02 * n,
                    "fit_s": 0.01 * n, "features_s": 0.01 * n, "networks_s": 0.02 * n,
                    "total_s": 0.06 * n, "ms_per_frame": 60.0} for n in (14, 20)],
        "mesh": [{"level": lv, "n_vertices": 5000 * 4 ** lv, "n_faces": 9700 * 4 ** lv,
                  "subdivide_s": lv, "render_ms": 3.0 * 2 ** lv, "rasterize_ms": 2.0 * 2 ** lv,
                  "forward_ms": 4.0 * 4 ** lv, "forward_frames": 60, "clip_frames": 14,
                  "fit_s": 0.2, "features_s": 0.1 * 4 ** lv, "networks_s": 0.2 * 4 ** lv}
                 for lv in (0, 1)],
        "many": [{"n_clips": n, "workers": w, "used_workers": min(n, w), "frames_per_clip": 14,
                  "wall_s": n / w + w, "clips_per_s": 1.0, "speedup": 1.0}
                 for n in (1, 2) for w in (1, 2)],
    }
    assert bench_scaling.write_figures(result, tmp_path, "_quick") == ["scaling_quick.png"]
    assert (tmp_path / "scaling_quick.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["scaling_quick.png"]   # no temp file left
    result["figures"] = ["scaling_quick.png"]
    assert "![scaling curves](scaling_quick.png)" in bench_scaling.to_markdown(result)
