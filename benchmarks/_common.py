"""Helpers shared by the benchmark modules (not a benchmark: ``run.py`` only picks up ``bench_*``).

* timing: :func:`median_time`, :func:`synchronize` (waits for an accelerator, so that a wall
  time covers the work queued on it), :func:`torch_threads` (a temporary torch thread count);
* the machine: :func:`cores`, :func:`machine`, :func:`load_average` (:func:`fmt_load`);
* :func:`cli`: the ``python -m benchmarks.bench_<name> [--quick] [--device D]`` entry point;
* workloads: :func:`synthme_subject` and :func:`synthme_micro_clip` (a SynthME micro clip of an
  exact number of frames).

Devices follow the tensors: nothing here names a device except to wait for it.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from typing import Any

from mxkit._threads import torch_threads  # noqa: F401  (re-exported for the benchmarks)

#: Frame rate of the SynthME clips used by the benchmarks (CASME II's).
FPS = 200.0
#: Neutral frames before the onset and after the offset of :func:`synthme_micro_clip`.
LEAD_FRAMES = 5


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``fn()``, seconds."""
    times = []
    for _ in range(max(1, int(repeats))):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return float(times[len(times) // 2])


def synchronize(device: Any) -> None:
    """Wait until the work queued on ``device`` is done (a no-op on the CPU)."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)




def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def machine() -> str:
    """Short machine description (architecture and processor)."""
    return f"{platform.machine()} {platform.processor() or ''}".strip()


def load_average() -> float | None:
    """1-minute load average (None where the OS has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def fmt_load(load: float | None) -> str:
    """A load average for the Markdown ("n/a" when unknown)."""
    return "n/a" if load is None else f"{load:.1f}"


def cli(doc: str, run: Callable[..., dict], to_markdown: Callable[[dict], str],
        argv: list[str] | None = None, *, quick_help: str = "smoke sizes",
        device: bool = False) -> None:
    """Command line of a benchmark module: parse ``--quick`` (and ``--device``), print Markdown."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    if device:
        parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    args = parser.parse_args(argv)
    kwargs = {"quick": args.quick, **({"device": args.device} if device else {})}
    print(to_markdown(run(**kwargs)))


def synthme_subject(*, seed: int = 0, image_size: int = 256, texture_size: int = 1024) -> Any:
    """A SynthME subject (256 px frames and a 1024 px texture as in the ``small`` preset)."""
    from mxkit.data.synth import generate_subject

    return generate_subject(seed=seed, index=seed + 1, image_size=image_size,
                            texture_size=texture_size)


def synthme_micro_clip(n_frames: int, *, subject: Any = None, seed: int = 0,
                       clip_id: str | None = None) -> Any:
    """A SynthME micro-expression clip of exactly ``n_frames`` frames at 200 fps.

    :data:`LEAD_FRAMES` neutral frames, the onset -> apex -> offset motion over the others,
    then :data:`LEAD_FRAMES` neutral frames again (head motion and sensor noise as SynthME
    draws them). ``clip.ground_truth`` is the :class:`~mxkit.data.synth.SynthTruth`.
    """
    from mxkit.data.synth import generate_clip

    active = int(n_frames) - 2 * LEAD_FRAMES
    if active < 3:
        raise ValueError(f"a micro clip needs at least {2 * LEAD_FRAMES + 3} frames; "
                         f"got {n_frames}")
    if subject is None:
        subject = synthme_subject()
    clip = generate_clip(subject, expression_type="micro", seed=seed, fps=FPS,
                         duration_s=active / FPS, baseline_s=LEAD_FRAMES / FPS,
                         clip_id=clip_id or f"micro{n_frames}f{seed:03d}")
    if clip.n_frames != n_frames:  # pragma: no cover - rounding in the planner
        raise RuntimeError(f"asked for {n_frames} frames, SynthME made {clip.n_frames}")
    return clip
