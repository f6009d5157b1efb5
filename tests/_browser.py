"""Headless Chromium for tests that check a page really renders (skipped without Chromium)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=20000"]


def chromium() -> str:
    """Path of the Chromium binary, or skip the calling test (`make test` installs it)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("headless Chromium is not installed (make test installs Debian's chromium)")
    return exe


def render(page: Path, tmp: Path, *, size: tuple[int, int] = (1200, 2000)) -> tuple[str, Path]:
    """Load ``page`` in headless Chromium; return its DOM after scripts ran and a screenshot."""
    exe = chromium()
    url = page.resolve().as_uri()
    base = [exe, *FLAGS, f"--user-data-dir={tmp / 'chromium-profile'}"]
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    shot = tmp / "screenshot.png"
    subprocess.run([*base, f"--window-size={size[0]},{size[1]}", f"--screenshot={shot}", url],
                   capture_output=True, timeout=120, check=True)
    return dom, shot
