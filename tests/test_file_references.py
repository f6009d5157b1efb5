"""Docstrings and docs cite only files that exist in the repository.

Every path-like reference that starts at a top folder of the repository (``mxkit/...``,
``docs/...``, ``benchmarks/...``, ``tools/...``, ``notebooks/...``, ``tests/...``) in a docstring
of a Python file of the repository, or anywhere in its Markdown docs, must name a file or folder
that exists (a glob such as ``tests/test_data_*.py`` must match one; ``<name>`` / ``{x}``
placeholders and ``.../`` elisions are not paths). Files are those git tracks, plus untracked ones
it does not ignore, so a stale ``__pycache__`` or build output counts for nothing.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = ("mxkit", "docs", "benchmarks", "tools", "notebooks", "tests")
_PATH = re.compile(r"(?<![\w./~$-])((?:" + "|".join(TOP) + r")/[\w\-./*]*[\w*/])")
_PLACEHOLDER = re.compile(r"[<{]")


def repo_files() -> list[str]:
    """Paths (POSIX, relative) of the files git tracks or would track."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return [p for p in out.splitlines() if (ROOT / p).is_file()]


def references(text: str) -> list[str]:
    """Path-like references in ``text`` (placeholders and elisions dropped)."""
    refs = []
    for m in _PATH.finditer(text):
        ref = m.group(1)
        tail = text[m.end():m.end() + 1]
        if _PLACEHOLDER.search(tail) or "..." in ref:
            continue
        refs.append(ref.rstrip("."))
    return refs


def exists(ref: str, files: set[str], folders: set[str]) -> bool:
    ref = ref.rstrip("/")
    if any(c in ref for c in "*?["):
        return any(fnmatch.fnmatchcase(f, ref) for f in files | folders)
    return ref in files or ref in folders


def docstrings(source: str) -> list[tuple[int, str]]:
    """``(line, docstring)`` of the module, its classes and functions."""
    tree = ast.parse(source)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                body = node.body[0]
                out.append((body.lineno, doc))
    return out


@pytest.fixture(scope="module")
def tree() -> tuple[list[str], set[str], set[str]]:
    files = repo_files()
    folders = {str(Path(f).parents[i].as_posix()) for f in files for i in range(len(Path(f).parts) - 1)}
    return files, set(files), folders


def test_references_are_found():
    text = ("see mxkit/_io.py, docs/architecture.md. Also `tests/test_data_*.py`, mxkit/data/loaders/ and "
            "mxkit/data/loaders/<name>.py or docs/api/{module}.md; not a/mxkit/x.py nor mxkit.eval")
    assert references(text) == ["mxkit/_io.py", "docs/architecture.md", "tests/test_data_*.py",
                                 "mxkit/data/loaders/"]


def test_missing_files_are_reported(tree):
    _, files, folders = tree
    assert exists("mxkit/_io.py", files, folders) and exists("mxkit/data/loaders/", files, folders)
    assert exists("tests/test_data_*.py", files, folders)
    assert not exists("mxkit/no_such_module.py", files, folders)
    assert not exists("tests/test_nothing_*.py", files, folders)


def test_docstrings_cite_existing_files(tree):
    files, file_set, folders = tree
    bad = []
    for path in files:
        if not path.endswith(".py"):
            continue
        try:
            found = docstrings((ROOT / path).read_text(encoding="utf-8"))
        except SyntaxError:
            continue  # notebooks' generated sources etc. are checked by their own tests
        for line, doc in found:
            bad += [f"{path}:{line}: {ref}" for ref in references(doc) if not exists(ref, file_set, folders)]
    assert not bad, "docstrings cite files that do not exist:\n  " + "\n  ".join(bad)


def test_docs_cite_existing_files(tree):
    files, file_set, folders = tree
    bad = []
    for path in files:
        if not path.endswith(".md"):
            continue
        for n, line in enumerate((ROOT / path).read_text(encoding="utf-8").splitlines(), 1):
            bad += [f"{path}:{n}: {ref}" for ref in references(line) if not exists(ref, file_set, folders)]
    assert not bad, "docs cite files that do not exist:\n  " + "\n  ".join(bad)
