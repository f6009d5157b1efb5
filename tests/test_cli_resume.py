"""``mxkit train`` keeps its work: checkpoints while training, ``--resume`` continues bit-identically,
and an interrupted data generation leaves no temporary folder (issue 13, items 3 and 9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import mxkit.train.loop as loop
from mxkit.cli import main


def _networks(path: Path) -> dict[str, dict[str, torch.Tensor]]:
    bundle = torch.load(path, map_location="cpu", weights_only=True)
    return {v: e["networks"] for v, e in bundle["variants"].items()}


def test_interrupted_train_resumes_to_the_same_weights(tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    opts = ["--quick", "--variants", "encoder", "--work", str(work), "--workers", "1", "--quiet"]
    assert main(["train", str(tmp_path / "straight.pt"), *opts]) == 0          # uninterrupted

    real, calls = loop.draw_frames, []

    def counting(*args, **kwargs):       # one call per clip and step (the quick set: 1 clip a phase)
        calls.append(1)
        if interrupt_at and len(calls) == interrupt_at:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "draw_frames", counting)
    interrupt_at = 5                     # 3 pretraining steps, then step 2 of 3 of fine-tuning
    out = tmp_path / "resumed.pt"
    assert main(["train", str(out), *opts]) == 130
    assert "interrupted" in capsys.readouterr().err and not out.exists()
    (ckpt,) = work.rglob("encoder-finetune.pt")                                 # written while training
    assert torch.load(ckpt, weights_only=True)["step"] == 1

    calls.clear()
    interrupt_at = 0
    assert main(["train", str(out), *opts, "--resume"]) == 0
    assert len(calls) == 2               # only fine-tuning steps 2 and 3 were run again
    a, b = _networks(tmp_path / "straight.pt"), _networks(out)
    assert a.keys() == b.keys() and a["encoder"].keys() == b["encoder"].keys()
    for name, t in a["encoder"].items():
        assert torch.equal(t, b["encoder"][name]), name                        # bit-identical
    prov = torch.load(out, weights_only=True)["provenance"]
    straight = torch.load(tmp_path / "straight.pt", weights_only=True)["provenance"]
    assert prov["training"] == straight["training"]                            # the same loss history


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_sigterm_while_generating_data_leaves_no_temporary_folder(tmp_path):
    work = tmp_path / "work"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mxkit", "train", str(tmp_path / "w.pt"), "--quick",
                             "--variants", "encoder", "--work", str(work), "--workers", "1", "--quiet"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list(work.rglob(".synthme.tmp-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(work.rglob(".synthme.tmp-*")), "the data generation never started"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "terminated" in err
    assert not list(work.rglob(".synthme.tmp-*"))
    assert not (tmp_path / "w.pt").exists()


def test_a_dead_writers_temporary_folder_is_removed_by_the_next_writer(tmp_path):
    import numpy as np

    from mxkit.data.writers import ClipRecord, write_casme2

    dead = 2**22 + 12345
    while _alive(dead):
        dead += 1
    stale = tmp_path / f".CASME2.tmp-{dead}-0123abcd"         # left by a SIGKILLed writer
    live = tmp_path / f".CASME2.tmp-{os.getppid()}-89abcdef"  # another writer still at work
    stale.mkdir()
    live.mkdir()
    rec = ClipRecord(subject="1", clip_id="EP01_01", frames=np.zeros((3, 8, 8, 3), np.uint8), onset=0, apex=1,
                     offset=2, au_string="12", emotion="happiness")
    write_casme2([rec], tmp_path / "CASME2")
    assert not stale.exists() and live.is_dir() and (tmp_path / "CASME2").is_dir()
