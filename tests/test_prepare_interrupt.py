"""Interrupting ``prepare_many`` / ``mxkit prepare --workers 2`` (issue 13, item 6).

A script runs the real preparation of the tiny SynthME set with two worker processes, where
every clip but one sleeps for ten minutes (a stand-in for a long queue). Once the quick clip's
cache entry exists, the parent gets SIGINT or SIGKILL: it must stop at once (not after the
queue), keep the finished entry, and leave no worker process alive.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent('''
    import sys, time
    import mxkit.pipeline.many as many

    def slow(clip, kwargs):
        if clip.clip_id != "EP01_01":
            time.sleep(600)
        return many.prepare(clip, **kwargs)

    if __name__ == "__main__":
        many._prepare_one = slow
        mode, root, cache = sys.argv[1:4]
        if mode == "cli":
            from mxkit.cli import main
            sys.exit(main(["prepare", root, "--cache", cache, "--workers", "2", "--quiet"]))
        from mxkit.data import load_synthme
        many.prepare_many(list(load_synthme(root)), workers=2, cache_dir=cache, progress=False)
''')


def _children(pid: int) -> set[int]:
    """Every descendant of ``pid`` (from /proc)."""
    parent = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = {c for c, pp in parent.items() if pp == p}
        out |= kids
        todo.extend(kids)
    return out


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _run_until_first_entry(tmp_path: Path, mode: str):
    from ._tiny_synthme import tiny_synthme

    root, _, _ = tiny_synthme()
    cache = tmp_path / "cache"
    script = tmp_path / "interrupt_me.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(script), mode, str(root), str(cache)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 400
    while not list(cache.rglob("EP01_01.*.npz")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()[1][-3000:]
    (entry,) = cache.rglob("EP01_01.*.npz")
    kids = _children(proc.pid)
    assert len(kids) >= 2, "the two workers should be running"
    return proc, entry, kids


def _check_kept(entry: Path) -> None:
    with np.load(entry, allow_pickle=False) as z:        # the finished entry is whole
        assert "__manifest__" in z.files
    assert [p.name for p in entry.parents[2].rglob("*.npz")] == [entry.name]   # nothing half-written


@contextlib.contextmanager
def _cleanup(proc, kids):
    """Whatever the outcome, end the processes this test started (a failing run leaves them)."""
    try:
        yield
    finally:
        for pid in [proc.pid, *kids]:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        proc.communicate()


def test_ctrl_c_stops_mxkit_prepare_at_once_and_keeps_finished_clips(tmp_path):
    proc, entry, kids = _run_until_first_entry(tmp_path, "cli")
    with _cleanup(proc, kids):
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)            # the queue would take 10 more minutes
        assert proc.returncode == 130 and "interrupted" in err, err[-2000:]
        time.sleep(0.5)
        assert not [k for k in kids if _alive(k)], "worker processes outlived the command"
        _check_kept(entry)


def test_no_worker_outlives_a_killed_parent(tmp_path):
    proc, entry, kids = _run_until_first_entry(tmp_path, "library")
    with _cleanup(proc, kids):
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        deadline = time.monotonic() + 30
        while [k for k in kids if _alive(k)] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [k for k in kids if _alive(k)], "orphaned workers (and their resource tracker) stay alive"
        _check_kept(entry)
