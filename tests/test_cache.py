"""The prepare cache's housekeeping: content keys, ``cache_info``, ``prune_cache`` and
``mxkit cache info|prune`` (issue 13, item 11)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from mxkit._io import write_image_file
from mxkit.cli import main
from mxkit.errors import InputValueError
from mxkit.pipeline import _cache, cache_info, prune_cache

KIB = 1024


def _entry(root, dataset, subject, clip, key, n_bytes, used):
    """A real cache entry of about ``n_bytes`` last used at ``used`` (POSIX seconds)."""
    path = _cache.entry_path(root, (dataset, subject, clip), key)
    _cache.write_entry(path, {"a": np.zeros(n_bytes // 8, np.float64)}, {"x": 1}, key=key)
    os.utime(path, (used, used))
    return path


@pytest.fixture
def cache(tmp_path):
    root = tmp_path / "cache"
    now = time.time()
    paths = {
        "old": _entry(root, "casme2", "sub01", "EP01_01", "a" * 32, 40 * KIB, now - 3000),
        "mid": _entry(root, "casme2", "sub02", "EP01_01", "b" * 32, 40 * KIB, now - 2000),   # same name
        "new": _entry(root, "samm", "006", "006_1_2", "c" * 32, 40 * KIB, now - 1000),
        "other": _entry(root, "casme2", "sub01", "EP01_01", "d" * 32, 10 * KIB, now - 500),  # other settings
    }
    stale = paths["old"].parent / f".{paths['old'].name}.123.dead.tmp"
    busy = paths["old"].parent / f".{paths['old'].name}.456.busy.tmp"
    for f in (stale, busy):
        f.write_bytes(b"PK half")
    old = now - 2 * _cache.STALE_TMP_S
    os.utime(stale, (old, old))
    notes = root / "NOTES.txt"                       # not ours: never touched
    notes.write_text("my notes")
    return root, paths, stale, busy, notes


def test_cache_info_counts_entries_clips_and_leftovers(cache):
    root, paths, stale, busy, _ = cache
    info = cache_info(root)
    sizes = {k: p.stat().st_size for k, p in paths.items()}
    assert info.n_entries == 4 and info.bytes == sum(sizes.values())
    assert info.n_clips == 3                         # (stage, dataset, subject, clip): sub01/sub02 differ
    assert info.n_temporary == 2 and info.temporary_bytes == stale.stat().st_size + busy.stat().st_size
    assert info.by_dataset[("prepared", "casme2")] == (3, sizes["old"] + sizes["mid"] + sizes["other"])
    assert info.oldest_use == pytest.approx(paths["old"].stat().st_mtime)
    assert cache_info(root / "missing").n_entries == 0
    with pytest.raises(InputValueError):
        cache_info(stale)


def test_prune_removes_least_recently_used_first_down_to_the_cap(cache):
    root, paths, stale, busy, notes = cache
    sizes = {k: p.stat().st_size for k, p in paths.items()}
    cap = sizes["new"] + sizes["other"]              # room for the two most recently used
    dry = prune_cache(root, max_bytes=cap, dry_run=True)
    assert dry.dry_run and set(dry.removed) == {stale, paths["old"], paths["mid"]}
    assert all(p.exists() for p in paths.values()) and stale.exists()
    stale_size = stale.stat().st_size
    res = prune_cache(root, max_bytes=cap)
    assert res.removed == dry.removed and res.freed_bytes == sizes["old"] + sizes["mid"] + stale_size
    assert not paths["old"].exists() and not paths["mid"].exists() and not stale.exists()
    assert paths["new"].exists() and paths["other"].exists() and busy.exists() and notes.read_text() == "my notes"
    assert res.kept_entries == 2 and res.kept_bytes == cap
    assert not (root / "prepared" / "casme2" / "sub02").exists()       # emptied folders go too
    assert prune_cache(root).removed == ()                              # nothing stale left, no cap
    with pytest.raises(InputValueError, match="max_bytes"):
        prune_cache(root, max_bytes=-1)


def test_a_cache_hit_refreshes_the_last_use(tmp_path):
    path = _entry(tmp_path, "d", "s", "c", "e" * 32, KIB, time.time() - 10_000)
    before = path.stat().st_mtime
    assert _cache.read_entry(path, "e" * 32) is not None
    assert path.stat().st_mtime > before + 5_000


def test_frame_files_are_keyed_on_content_not_mtime(tmp_path):

    from mxkit.data import Clip

    frames = []
    for i in range(3):
        p = tmp_path / f"img{i}.png"
        write_image_file(p, np.full((8, 8, 3), 10 * i, np.uint8))
        frames.append(p)
    clip = Clip(dataset="d", subject="s", clip_id="c", frames=frames, fps=100, onset=0, apex=1, offset=2)
    first = _cache.frames_fingerprint(clip)
    assert first.startswith("content:")
    later = time.time() + 100
    os.utime(frames[1], (later, later))             # touched, as a copy or an unpacking does
    assert _cache.frames_fingerprint(clip) == first
    img = np.full((8, 8, 3), 10, np.uint8)
    img[0, 0, 0] = 11                                # one value of one pixel
    write_image_file(frames[1], img)
    assert _cache.frames_fingerprint(clip) != first


def test_mxkit_cache_info_and_prune(cache, capsys):
    root, paths, *_ = cache
    assert main(["cache", "info", "--cache", str(root)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{root}: 4 entries of 3 clips") and "2 temporary files" in out and "samm" in out
    assert main(["cache", "prune", "--cache", str(root), "--max-size", "0", "--dry-run"]) == 0
    assert "would remove 5 files" in capsys.readouterr().out and paths["new"].exists()
    assert main(["cache", "prune", "--cache", str(root), "--max-size", "0"]) == 0
    assert "removed 5 files" in capsys.readouterr().out
    assert cache_info(root).n_entries == 0
    with pytest.raises(SystemExit) as exc:
        main(["cache", "prune", "--cache", str(root), "--max-size", "10X"])
    assert exc.value.code == 2 and "expected a size" in capsys.readouterr().err


def test_byte_sizes():
    from mxkit.cli import _byte_size

    assert [_byte_size(t) for t in ("0", "1000", "2K", "1.5M", "2G", "3 GiB", "1tb")] == \
        [0, 1000, 2048, 1572864, 2 * 2**30, 3 * 2**30, 2**40]
