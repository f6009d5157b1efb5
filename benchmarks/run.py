"""Run every mxkit benchmark and write one JSON file and one Markdown table.

Each ``benchmarks/bench_<name>.py`` module exposes ``run(quick: bool) -> dict`` and
``to_markdown(result) -> str``. This runner executes each one in a **fresh Python process**
(so one benchmark's JIT caches, thread pools and memory do not leak into the next, and its
peak resident memory can be read from the operating system), then writes

* ``<out>/benchmarks.json``: the machine description and, per benchmark, its result dict,
  wall time and peak RSS (MiB);
* ``<out>/benchmarks.md``: the machine description, a summary table and every benchmark's own
  Markdown table.

Usage::

    python -m benchmarks.run                     # everything, default sizes -> benchmarks/results/
    python -m benchmarks.run --quick             # smoke sizes
    python -m benchmarks.run --only render fit   # a subset
    python -m benchmarks.run --device cuda       # GPU mode: benchmarks that support it use CUDA

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
mod = importlib.import_module(f"benchmarks.bench_{name}")
kwargs = {"quick": quick}
import inspect
if "device" in inspect.signature(mod.run).parameters:
    kwargs["device"] = device
result = mod.run(**kwargs)
import resource
peak = {"self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0}
with open(out, "w") as fh:
    json.dump({"result": result, "markdown": mod.to_markdown(result), "peak_rss_mib": peak},
              fh, default=str)
"""


def available() -> list[str]:
    """Names of the benchmark modules (``bench_<name>.py``) in this folder, sorted."""
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def machine() -> dict[str, Any]:
    """A short description of this machine and of the software versions that matter."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
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


def run_one(name: str, *, quick: bool, device: str = "cpu", timeout: float | None = None) -> dict[str, Any]:
    """Run ``bench_<name>`` in a child process; returns its result, markdown, seconds and peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, name, "1" if quick else "0", device, str(out)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
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
            "result": payload["result"], "markdown": payload["markdown"]}


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def to_markdown(report: dict[str, Any]) -> str:
    """The whole report as Markdown: machine, summary table, then each benchmark's table."""
    m = report["machine"]
    lines = [
        "# mxkit benchmarks",
        "",
        f"Machine: {m.get('processor')}, {m.get('cpu_count')} CPU cores, "
        f"{m.get('memory_gib')} GiB; {m.get('platform')}; Python {m.get('python')}, "
        f"torch {m.get('torch')} ({m.get('torch_threads')} threads), numpy {m.get('numpy')}, "
        f"mxkit {m.get('mxkit')}; CUDA: {m.get('cuda') or 'none'}; 1-min load average at "
        f"start {m.get('load_average_1min')}.",
        "",
        f"Command: `{report['command']}` (quick={report['quick']}, device={report['device']}), "
        f"total {report['seconds']:.0f} s.",
        "",
        "| benchmark | status | seconds | peak RSS (MiB) |",
        "|---|---|---:|---:|",
    ]
    for b in report["benchmarks"]:
        lines.append(f"| {b['name']} | {'ok' if b['ok'] else 'FAILED: ' + b['error']} | "
                     f"{b['seconds']:.1f} | {b.get('peak_rss_mib', 'n/a')} |")
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
                        help="device for benchmarks that support one (default: cpu)")
    parser.add_argument("--out", type=Path, default=HERE / "results",
                        help="output folder (default: benchmarks/results)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds allowed per benchmark (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda was asked for but torch sees no CUDA device")
    names = args.only or available()
    start = time.perf_counter()
    report: dict[str, Any] = {
        "command": "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick, "device": args.device, "machine": machine(), "benchmarks": [],
    }
    for name in names:
        print(f"[benchmarks] {name} ...", flush=True)
        b = run_one(name, quick=args.quick, device=args.device, timeout=args.timeout)
        print(f"[benchmarks] {name}: {'ok' if b['ok'] else 'FAILED'} in {b['seconds']:.1f} s",
              flush=True)
        report["benchmarks"].append(b)
    report["seconds"] = round(time.perf_counter() - start, 1)
    suffix = "_quick" if args.quick else ""
    suffix += "_cuda" if args.device == "cuda" else ""
    _atomic_write(args.out / f"benchmarks{suffix}.json", json.dumps(report, indent=1, default=str))
    _atomic_write(args.out / f"benchmarks{suffix}.md", to_markdown(report))
    print(f"[benchmarks] wrote {args.out / f'benchmarks{suffix}.md'}")
    return 0 if all(b["ok"] for b in report["benchmarks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
