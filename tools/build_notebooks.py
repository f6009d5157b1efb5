"""Build the tutorial notebooks from their percent-format sources and execute them.

Sources live in ``notebooks/src/*.py`` (named ``NN_name.py``, ``NN`` a two-digit number) (cells start with ``# %%``; markdown cells with
``# %% [markdown]``, their lines prefixed by ``# ``; a cell's first line may carry tags as
``# %% tags=["parameters"]``). Running this script writes the matching ``notebooks/*.ipynb`` and
executes it in place so the committed notebook carries its outputs (nbval's reference values).

    .venv/bin/python tools/build_notebooks.py            # all notebooks
    .venv/bin/python tools/build_notebooks.py 10_face_model    # one
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "notebooks" / "src"
OUT = ROOT / "notebooks"
HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")


def parse(text: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                  "language": "python"},
                   "language_info": {"name": "python"}}
    cell_lines: list[str] = []
    kind, tags = None, []

    def flush():
        if kind is None:
            return
        body = "\n".join(cell_lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#")
                             for line in body.splitlines())
            cell = nbformat.v4.new_markdown_cell(body)
        else:
            cell = nbformat.v4.new_code_cell(body)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)

    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            flush()
            kind = "markdown" if m.group("md") else "code"
            tags = json.loads(m.group("tags")) if m.group("tags") else []
            cell_lines = []
        elif kind is not None:
            cell_lines.append(line)
    flush()
    return nb


def stable_ids(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """Cell ids from the notebook's name and the cell's position, so rebuilds diff cleanly."""
    for i, cell in enumerate(nb.cells):
        cell["id"] = hashlib.sha1(f"{name}:{i}".encode()).hexdigest()[:8]
    return nb


def build(name: str, *, execute: bool = True) -> Path:
    src = SRC / f"{name}.py"
    nb = stable_ids(parse(src.read_text()), name)
    path = OUT / f"{name}.ipynb"
    nbformat.write(nb, path)
    if execute:
        subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                        "--execute", "--inplace", "--ExecutePreprocessor.timeout=600",
                        str(path)], check=True, cwd=OUT,
                       # sleeping OpenMP waits: see benchmarks/run.py (spinning makes the coarse
                       # fits 10-30x slower on a shared 2-core machine)
                       env={"OMP_WAIT_POLICY": "PASSIVE", **os.environ})
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:  # strip volatile metadata, keep outputs
            cell.metadata.pop("execution", None)
        nb.metadata.pop("widgets", None)
        nbformat.write(stable_ids(nb, name), path)
    return path


if __name__ == "__main__":
    names = sys.argv[1:] or sorted(p.stem for p in SRC.glob("*.py"))
    for n in names:
        print("built", build(n))
