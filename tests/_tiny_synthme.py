"""A tiny held-out SynthME micro set shared by the CLI and runner tests (built once per process).

Written by ``mxkit synth`` itself (its printed table is kept for the CLI test): 3 subjects x 1
micro clip of the tiny preset (128 px, ~50 frames), seed 7, plus an empty prepare-cache folder
beside it. Removed when the process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import io
import shutil
import tempfile
from pathlib import Path

SEED = 7
N_SUBJECTS = 3


@functools.cache
def tiny_synthme() -> tuple[Path, Path, str]:
    """``(root, cache, stdout of mxkit synth)``."""
    from mxkit.cli import main

    base = Path(tempfile.mkdtemp(prefix="mxkit-tiny-synthme-"))
    atexit.register(shutil.rmtree, base, True)
    root, cache = base / "SynthME", base / "cache"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["synth", str(root), "--preset", "tiny", "--kind", "micro", "--subjects",
                     str(N_SUBJECTS), "--seed", str(SEED), "--quiet"])
    assert code == 0, buf.getvalue()
    return root, cache, buf.getvalue()
