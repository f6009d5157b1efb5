"""Run every mxkit benchmark and write one JSON file and one Markdown table.

Each ``benchmarks/bench_<name>.py`` module exposes ``run(quick: bool[, device: str]) -> dict``
and ``to_markdown(result) -> str``, and optionally ``headline(result) -> str`` (one line for
the summary table) and ``write_figures(result, folder, suffix) -> list[str]`` (image files it
writes next to the results; ``to_markdown`` finds their names in ``result["figures"]``). This
runner executes each one in a **fresh Python process** (so one benchmark's JIT caches, thread
pools and memory do not leak into the next, and its peak resident memory can be read from the
operating system), then writes

* ``<out>/benchmarks.json``: the machine description and, per benchmark, its result dict,
  wall time and peak RSS (MiB);
* ``<out>/benchmarks.md``: the machine description (with the load average at the start and
  the end: the machine may be shared), a summary table, the DESIGN.md §6 targets as met /
  not met with the measured figures, and every benchmark's own Markdown.

GPU mode (``--device cuda``) runs only the benchmarks whose ``run`` takes a ``device`` (they
put their networks / renderer on it; everything else is CPU-only and measured by the default
run) and writes ``benchmarks[_quick]_cuda.*``; on a machine without CUDA it says so and exits
0 without writing anything. The default ``--device cpu`` runs the same device code with
``device="cpu"``, so the GPU path is exercised on any machine.

Usage::

    python -m benchmarks.run                     # everything, default sizes -> benchmarks/results/
    python -m benchmarks.run --quick             # smoke sizes
    python -m benchmarks.run --only render fit   # a subset
    python -m benchmarks.run --device cuda       # GPU mode: the benchmarks that take a device

Timings are only comparable within one run: every speed figure that matters is reported as a
ratio against a reference measured in the same run (pytorch3d's rasterizer, per-frame fitting,
...). Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_CHILD = r"""
import json, sys
import importlib
name, quick, device, out = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4]
figures, suffix = sys.argv[5], sys.argv[6]
mod = importlib.import_module(f"benchmarks.bench_{name}")
kwargs = {"quick": quick}
import inspect
if "device" in inspect.signature(mod.run).parameters:
    kwargs["device"] = device
result = mod.run(**kwargs)
import resource
peak = {"self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0}
if hasattr(mod, "write_figures"):
    result["figures"] = list(mod.write_figures(result, figures, suffix))
headline = mod.headline(result) if hasattr(mod, "headline") else ""
from mxkit._io import atomic_write
atomic_write(out, json.dumps({"result": result, "markdown": mod.to_markdown(result), "headline": headline,
                              "peak_rss_mib": peak}, default=str))
"""


def available() -> list[str]:
    """Names of the benchmark modules (``bench_<name>.py``) in this folder, sorted."""
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def takes_device(name: str) -> bool:
    """Whether ``bench_<name>.run`` accepts a ``device`` argument (it has a GPU mode)."""
    import importlib
    import inspect

    mod = importlib.import_module(f"benchmarks.bench_{name}")
    return "device" in inspect.signature(mod.run).parameters


def select(names: list[str] | None, device: str) -> list[str]:
    """The benchmarks a run does: ``names`` (default all); on CUDA only those taking a device.

    Raises
    ------
    ValueError
        ``device`` is CUDA and one of the ``names`` asked for takes no device.
    """
    if device == "cpu":
        return list(names or available())
    if names:
        cpu_only = [n for n in names if not takes_device(n)]
        if cpu_only:
            raise ValueError(f"{', '.join(cpu_only)} take(s) no device: run without --device")
        return list(names)
    return [n for n in available() if takes_device(n)]


def child_environment() -> dict[str, str]:
    """The environment of the benchmark processes: this one's, with ``OMP_WAIT_POLICY=PASSIVE``
    unless it is set.

    With OpenMP's default wait policy (spin, then sleep), torch's two threads on a 2-core
    machine that other processes share spin-wait for each other at every one of the many
    small tensor operations of the coarse fit: it ran 30x slower than with one thread
    (measured: 49 s of wall time, 22 s of CPU, instead of 1.5 s for a 60-frame fit at load
    average 7), while with passive waiting it took 2.0 s. Set ``OMP_WAIT_POLICY`` yourself
    to override (``ACTIVE``: always spin).
    """
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def _load() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def machine() -> dict[str, Any]:
    """A short description of this machine and of the software versions that matter."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "load_average_start": _load(),
        "omp_wait_policy": child_environment()["OMP_WAIT_POLICY"],
    }
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["processor"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
            info["memory_gib"] = round(kb / 2**20, 1)
    except OSError:
        pass
    try:
        import numpy
        import torch

        info["numpy"] = numpy.__version__
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:  # pragma: no cover
        pass
    from mxkit import __version__

    info["mxkit"] = __version__
    return info


def run_one(name: str, *, quick: bool, device: str = "cpu", timeout: float | None = None,
            figures: Path | None = None, suffix: str = "") -> dict[str, Any]:
    """Run ``bench_<name>`` in a child process; returns its result, markdown, seconds and peak RSS.

    ``figures`` is the folder where a benchmark with ``write_figures`` puts its images (named
    with ``suffix``, e.g. ``scaling_quick.png``); default ``benchmarks/results``.
    """
    figures = Path(figures) if figures is not None else HERE / "results"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, name, "1" if quick else "0", device, str(out),
             str(figures), suffix],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=child_environment(),
        )
        try:
            log, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            log, _ = proc.communicate()
            return {"name": name, "ok": False, "error": f"timed out after {timeout} s",
                    "log": log[-4000:], "seconds": time.perf_counter() - start}
        seconds = time.perf_counter() - start
        if proc.returncode != 0 or not out.is_file():
            return {"name": name, "ok": False, "error": f"exit status {proc.returncode}",
                    "log": log[-4000:], "seconds": round(seconds, 2)}
        payload = json.loads(out.read_text())
    # peak resident memory of the benchmark process (ru_maxrss, KiB on Linux) and of the
    # largest worker process it started, if any
    peak = payload["peak_rss_mib"]
    return {"name": name, "ok": True, "seconds": round(seconds, 2),
            "peak_rss_mib": round(max(peak["self"], peak["children"]), 1),
            "result": payload["result"], "markdown": payload["markdown"],
            "headline": payload.get("headline", "")}


def _atomic_write(path: Path, text: str) -> None:
    from mxkit._io import atomic_write

    atomic_write(path, text, parents=True)


def _results(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["name"]: b["result"] for b in report["benchmarks"] if b.get("ok")}


def _target_render(r: dict[str, Any]) -> tuple[str, bool]:
    fps = {row["method"]: row["frames_per_s"]
           for row in r["rows"]}["mxkit render (1 frame per call)"]
    return f"{fps:.0f} frames/s ({r['ratio']:.0f}x pytorch3d CPU)", fps >= 50


def _target_fit(r: dict[str, Any]) -> tuple[str, bool]:
    rows = [row for row in r["rows"] if row["mode"].startswith("batched (clip identity)")]
    text = ", ".join(f"{row['frames_per_s']:.0f} frames/s with {row['threads']} thread(s)"
                     for row in rows)
    return text, max(row["frames_per_s"] for row in rows) >= 500


def _target_reconstruct(r: dict[str, Any]) -> tuple[str, bool]:
    text = ", ".join(f"{row['total_s']:.1f} s with {row['threads']} torch thread(s)"
                     for row in r["rows"])
    return f"{r['n_frames']} frames: {text}", min(row["total_s"] for row in r["rows"]) <= 10


def _target_synth(r: dict[str, Any]) -> tuple[str, bool]:
    (row,) = [row for row in r["rows"] if row["preset"].startswith("small")]
    return (f"{row['preset']}: {row['seconds']:.0f} s wall ({row['cpu_seconds']:.0f} s CPU)",
            row["seconds"] <= 60)


def _target_accuracy(r: dict[str, Any]) -> tuple[str, bool]:
    t = r["targets"]
    text = "; ".join(f"{k}: {m} ({'met' if ok else 'not met'})" for k, (m, ok) in t.items())
    return f"seed {r['data']['seed']}: {text}", all(ok for _, ok in t.values())


def _target_null_motion(r: dict[str, Any]) -> tuple[str, bool]:
    rows = [row for row in r["rows"] if row["face_px"] == min(x["face_px"] for x in r["rows"])]
    text = "; ".join(f"{row['option']} {row['mean_abs_d_mm']:.4f} mm" for row in rows)
    default = next(row for row in rows if row["option"] == r.get("default_option", "detect"))
    return (f"{default['face_px']} px face: {text} (default: {default['option']})",
            bool(default["mean_abs_d_mm"] <= r["settings"]["target_mm"]))


#: DESIGN.md §6: (what, target, benchmark, how to read the result)
TARGETS = (
    ("mxkit rasterizer, mh-head, 256x256", ">= 50 frames/s", "render", _target_render),
    ("coarse fit, batched", ">= 500 frames/s", "fit", _target_fit),
    ("reconstruct a 60-frame synthetic clip, DIS flow", "<= 10 s", "reconstruct",
     _target_reconstruct),
    ("SynthME default preset (small)", "<= 60 s", "synth", _target_synth),
    ("accuracy on held-out SynthME micro clips (fresh seed)", "issue 15: full beats no motion on >= 90 % "
     "of clips, median active rel. error <= 0.35, amplitude ratio 0.8-1.2, full <= smoothed in every AU "
     "region, every component helps with an interval below 0", "accuracy", _target_accuracy),
    ("null motion: a still real face ~100 px wide, sub-pixel jitter and sensor noise", "issue 15: mean |d| "
     "at the apex <= 0.015 mm with the default landmarks", "null_motion", _target_null_motion),
)


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The DESIGN.md §6 targets that this report measured: ``what``, ``target``,
    ``benchmark``, ``measured`` (text) and ``met`` (bool, or None when not measured)."""
    results = _results(report)
    rows = []
    for what, target, name, read in TARGETS:
        measured, met = "not run", None
        if name in results:
            try:
                measured, met = read(results[name])
            except (KeyError, ValueError, TypeError, ZeroDivisionError) as exc:
                measured = f"unreadable result ({type(exc).__name__}: {exc})"
        if results.get(name, {}).get("quick"):
            measured += " (quick sizes: not a measurement)"
        rows.append({"what": what, "target": target, "benchmark": name, "measured": measured,
                     "met": met})
    return rows


def to_markdown(report: dict[str, Any]) -> str:
    """The whole report as Markdown: machine, summary table, targets, each benchmark's part."""
    m = report["machine"]
    lines = [
        "# mxkit benchmarks",
        "",
        f"Machine: {m.get('processor')}, {m.get('cpu_count')} CPU cores, "
        f"{m.get('memory_gib')} GiB; {m.get('platform')}; Python {m.get('python')}, "
        f"torch {m.get('torch')} ({m.get('torch_threads')} threads), numpy {m.get('numpy')}, "
        f"mxkit {m.get('mxkit')}; CUDA: {m.get('cuda') or 'none'}; benchmark processes "
        f"run with OMP_WAIT_POLICY={m.get('omp_wait_policy')} (see `benchmarks/run.py`).",
        "",
        f"Load average (1, 5, 15 min) at the start: {m.get('load_average_start')}, at the end: "
        f"{report.get('load_average_end')} -- the machine may be shared, and timings are only "
        f"comparable within one run.",
        "",
        f"Command: `{report['command']}` (quick={report['quick']}, device={report['device']}), "
        f"total {report['seconds']:.0f} s.",
        "",
        "| benchmark | status | seconds | peak RSS (MiB) | headline |",
        "|---|---|---:|---:|---|",
    ]
    for b in report["benchmarks"]:
        lines.append(f"| {b['name']} | {'ok' if b['ok'] else 'FAILED: ' + b['error']} | "
                     f"{b['seconds']:.1f} | {b.get('peak_rss_mib', 'n/a')} | "
                     f"{b.get('headline', '')} |")
    if report["device"] == "cpu":
        lines += ["", "## DESIGN.md §6 targets", "",
                  "| what | target | measured | met |", "|---|---|---|---|"]
        for t in targets(report):
            met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
            lines.append(f"| {t['what']} | {t['target']} | {t['measured']} | {met} |")
        lines += ["", "The notebook series (<= 20 min under nbval in CI) is measured apart: "
                      "`pytest notebooks --nbval-lax --nbval-current-env --durations=0`."]
    for b in report["benchmarks"]:
        lines += ["", f"## {b['name']}", ""]
        lines.append(b["markdown"] if b["ok"] else "```\n" + b.get("log", "") + "\n```")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke sizes (seconds each)")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=available(),
                        help=f"run only these ({', '.join(available())})")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="cpu (default): everything; cuda: only the benchmarks that take "
                             "a device")
    parser.add_argument("--out", type=Path, default=HERE / "results",
                        help="output folder (default: benchmarks/results)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds allowed per benchmark (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        names = select(args.only, args.device)
    except ValueError as exc:
        parser.error(str(exc))
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print(f"[benchmarks] --device cuda: torch sees no CUDA device here; skipping the "
                  f"GPU benchmarks ({', '.join(names)}); nothing written", flush=True)
            return 0
    start = time.perf_counter()
    report: dict[str, Any] = {
        "command": "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick, "device": args.device, "machine": machine(), "benchmarks": [],
    }
    suffix = "_quick" if args.quick else ""
    suffix += "_cuda" if args.device == "cuda" else ""
    for name in names:
        print(f"[benchmarks] {name} ...", flush=True)
        b = run_one(name, quick=args.quick, device=args.device, timeout=args.timeout,
                    figures=args.out, suffix=suffix)
        print(f"[benchmarks] {name}: {'ok' if b['ok'] else 'FAILED'} in {b['seconds']:.1f} s",
              flush=True)
        report["benchmarks"].append(b)
    report["seconds"] = round(time.perf_counter() - start, 1)
    report["load_average_end"] = _load()
    _atomic_write(args.out / f"benchmarks{suffix}.json", json.dumps(report, indent=1, default=str))
    _atomic_write(args.out / f"benchmarks{suffix}.md", to_markdown(report))
    print(f"[benchmarks] wrote {args.out / f'benchmarks{suffix}.md'}")
    return 0 if all(b["ok"] for b in report["benchmarks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
