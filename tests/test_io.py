"""mxkit._io: the one atomic writer, the cache-folder rule, byte-safe path display."""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

from mxkit._io import atomic_open, atomic_write, cache_dir, display_path
from mxkit.errors import FileWriteError, MxkitError


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


class TestAtomicWrite:
    def test_bytes_and_str_round_trip(self, tmp_path):
        assert atomic_write(tmp_path / "a.bin", b"\x00\x01\xff") == tmp_path / "a.bin"
        assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01\xff"
        atomic_write(tmp_path / "a.txt", "grüße\n")
        assert (tmp_path / "a.txt").read_bytes() == "grüße\n".encode()
        with pytest.raises(TypeError, match="bytes or str"):
            atomic_write(tmp_path / "b", 3)
        assert _temps(tmp_path) == [] and not (tmp_path / "b").exists()

    def test_failing_write_keeps_the_old_file_and_leaves_no_temp(self, tmp_path):
        path = tmp_path / "table.csv"
        atomic_write(path, "old")
        with pytest.raises(RuntimeError, match="boom"), atomic_open(path) as fh:
            fh.write(b"half of the new cont")
            raise RuntimeError("boom")
        assert path.read_text() == "old"
        assert _temps(tmp_path) == []

    def test_failing_replace_keeps_the_old_file(self, tmp_path, monkeypatch):
        path = tmp_path / "m.obj"
        atomic_write(path, "old")

        def broken(src, dst):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "replace", broken)
        with pytest.raises(FileWriteError, match="No space left") as info:
            atomic_write(path, "new")
        assert info.value.path == path
        assert isinstance(info.value, OSError) and isinstance(info.value, MxkitError)
        monkeypatch.undo()
        assert path.read_text() == "old"
        assert _temps(tmp_path) == []

    def test_streaming_writer_np_savez(self, tmp_path):
        with atomic_open(tmp_path / "x.npz") as fh:
            np.savez(fh, a=np.arange(4), b=np.eye(2))
        with np.load(tmp_path / "x.npz") as z:
            assert z["a"].tolist() == [0, 1, 2, 3] and z["b"].tolist() == [[1, 0], [0, 1]]
        with atomic_open(tmp_path / "t.txt", "w") as fh:
            fh.write("line\n")
        assert (tmp_path / "t.txt").read_text() == "line\n"

    def test_concurrent_writers_use_unique_temporary_files(self, tmp_path, monkeypatch):
        path = tmp_path / "shared.bin"
        n = 8
        barrier = threading.Barrier(n)
        names: list[str] = []
        errors: list[BaseException] = []
        real_mkstemp = tempfile.mkstemp

        def mkstemp(*args, **kwargs):
            fd, name = real_mkstemp(*args, **kwargs)
            names.append(name)
            return fd, name

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)

        def writer(i: int) -> None:
            try:
                with atomic_open(path) as fh:
                    fh.write(bytes([i]) * 1000)
                    barrier.wait(timeout=30)   # every writer holds its temporary file now
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(set(names)) == n                                   # no shared temporary
        assert {os.path.dirname(x) for x in names} == {str(tmp_path)}  # all beside the target
        assert all(os.path.basename(x).startswith(".shared.bin.") and x.endswith(".tmp")
                   for x in names)
        data = path.read_bytes()
        assert len(data) == 1000 and data == data[:1] * 1000 and data[0] < n  # one writer, whole
        assert _temps(tmp_path) == []

    def test_missing_folder_directory_target_and_parents(self, tmp_path):
        with pytest.raises(FileWriteError, match="does not exist"):
            atomic_write(tmp_path / "no" / "such" / "f.txt", "x")
        with pytest.raises(FileWriteError, match="directory"):
            atomic_write(tmp_path, "x")
        blocker = tmp_path / "file"
        blocker.write_text("x")
        with pytest.raises(FileWriteError):
            atomic_write(blocker / "f.txt", "x")
        p = atomic_write(tmp_path / "new" / "deep" / "f.txt", "x", parents=True)
        assert p.read_text() == "x"

    @pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX permissions")
    def test_permissions_umask_for_new_files_and_kept_on_replace(self, tmp_path):
        old = os.umask(0o027)
        try:
            new = atomic_write(tmp_path / "new.txt", "x")
        finally:
            os.umask(old)
        assert stat.S_IMODE(new.stat().st_mode) == 0o640           # 0o666 & ~0o027, not 0o600
        kept = tmp_path / "kept.txt"
        kept.write_text("old")
        kept.chmod(0o604)
        atomic_write(kept, "new")
        assert stat.S_IMODE(kept.stat().st_mode) == 0o604 and kept.read_text() == "new"

    def test_every_mxkit_writer_goes_through_it(self, tmp_path, monkeypatch):
        """meshio, report, checkpoints, the prepare cache, SynthME truth and ablation CSVs:
        each writes a unique ``.<name>.*.tmp`` beside the target, fsyncs it, then replaces."""
        import torch

        from mxkit.data.synth.truth import write_npz
        from mxkit.eval.ablation import ablation_row, ablation_table
        from mxkit.meshio import save_obj
        from mxkit.pipeline import _cache
        from mxkit.report import Report
        from mxkit.train import save_atomic

        events: list[tuple[str, str]] = []
        real_replace, real_fsync = os.replace, os.fsync

        def replace(src, dst):
            events.append(("replace", f"{os.path.basename(src)} -> {os.path.basename(dst)}"))
            return real_replace(src, dst)

        def fsync(fd):
            events.append(("fsync", ""))
            return real_fsync(fd)

        monkeypatch.setattr(os, "replace", replace)
        monkeypatch.setattr(os, "fsync", fsync)
        v = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
        save_obj(tmp_path / "m.obj", v, [[0, 1, 2]])
        Report("t").save(tmp_path / "r.html")
        save_atomic({"x": torch.zeros(1)}, tmp_path / "w.pt")
        _cache.write_entry(tmp_path / "c" / "e.npz", {"a": np.zeros(2)}, {}, key="k")
        write_npz(tmp_path / "t.npz", {"a": np.zeros(2)})
        ablation_table([ablation_row("full", "casme2", values={"shape_l1": 0.5})]).to_csv(tmp_path / "a.csv")
        monkeypatch.undo()
        names = ["m.obj", "r.html", "w.pt", "e.npz", "t.npz", "a.csv"]
        assert [e[0] for e in events] == ["fsync", "replace"] * len(names)
        for (_, text), name in zip(events[1::2], names, strict=True):
            src, dst = text.split(" -> ")
            assert dst == name and src.startswith(f".{name}.") and src.endswith(".tmp"), text
        assert _temps(tmp_path) == [] and _temps(tmp_path / "c") == []


class TestCacheDir:
    def test_environment_is_read_at_call_time(self, tmp_path, monkeypatch):
        from mxkit.morph.flame import flame_cache_dir

        monkeypatch.setenv("MXKIT_CACHE_DIR", str(tmp_path / "c1"))
        assert cache_dir() == tmp_path / "c1"
        assert cache_dir("prepared", "x") == tmp_path / "c1" / "prepared" / "x"
        monkeypatch.setenv("MXKIT_CACHE_DIR", str(tmp_path / "c2"))        # changed after import
        assert cache_dir("flame") == tmp_path / "c2" / "flame" == flame_cache_dir()

    def test_fallbacks(self, tmp_path, monkeypatch):
        monkeypatch.setenv("MXKIT_CACHE_DIR", "")                           # empty = unset
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert cache_dir("a") == tmp_path / "xdg" / "mxkit" / "a"
        monkeypatch.delenv("XDG_CACHE_HOME")
        monkeypatch.delenv("MXKIT_CACHE_DIR")
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        assert cache_dir() == tmp_path / "home" / ".cache" / "mxkit"
        monkeypatch.setenv("MXKIT_CACHE_DIR", "~/mine")
        assert cache_dir() == tmp_path / "home" / "mine"                    # ~ expanded


class TestDisplayPath:
    def test_non_utf8_bytes(self):
        raw = b"/data/sub01/\xff\xfeimg1.jpg"
        assert display_path(raw) == "/data/sub01/\\xff\\xfeimg1.jpg"
        # the same name as Python's surrogate-escaped str, and as a Path
        assert display_path(os.fsdecode(raw)) == "/data/sub01/\\xff\\xfeimg1.jpg"
        assert display_path(Path(os.fsdecode(raw))) == "/data/sub01/\\xff\\xfeimg1.jpg"
        display_path(raw).encode("utf-8")                                  # printable anywhere

    def test_plain_unicode_and_control_characters(self):
        assert display_path("clips/Ünïcode ✓.png") == "clips/Ünïcode ✓.png"
        assert display_path("a\nb\tc\x1b") == "a\\nb\\tc\\x1b"
        assert display_path(3) == "3"

    def test_write_error_message_is_printable(self, tmp_path):
        missing = os.fsencode(tmp_path) + b"/\xff/f.txt"
        with pytest.raises(FileWriteError) as info:
            atomic_write(missing, "x")
        assert "\\xff" in str(info.value)
        str(info.value).encode("utf-8")
