"""The promises of docs/reliability.md: the table names tests that exist, nothing unpickles, no
network at run time, and random path names on the command line give success or a typed error."""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mxkit.cli import main

ROOT = Path(__file__).resolve().parents[1]
NODE = re.compile(r"`(tests/[\w/]+\.py)::([\w:]+)(?:\[[^\]`]*\])?`")


def _defined(path: Path) -> set[str]:
    """``Class::method`` and ``function`` names defined at the top level of a test file."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
            names.update(f"{node.name}::{m.name}" for m in node.body
                         if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)))
    return names


def test_reliability_table_names_tests_that_exist():
    text = (ROOT / "docs" / "reliability.md").read_text()
    nodes = NODE.findall(text)
    assert len(nodes) >= 30, "the table lost its tests"
    missing = []
    for file, name in nodes:
        path = ROOT / file
        if not path.is_file() or name not in _defined(path):
            missing.append(f"{file}::{name}")
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"
    # every promise row names at least one test
    rows = [r for r in text.splitlines() if r.startswith("| **") or (r.startswith("| ") and "|---" not in r
                                                                       and not r.startswith("| promise"))]
    assert rows and all(NODE.search(r) for r in rows), [r[:60] for r in rows if not NODE.search(r)]


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                isinstance(node.func.value, ast.Name):
            yield node.func.value.id, node.func.attr, {k.arg: k.value for k in node.keywords}


def test_nothing_in_mxkit_unpickles():
    bad = []
    for path in sorted((ROOT / "mxkit").rglob("*.py")):
        for mod, fn, kw in _calls(ast.parse(path.read_text())):
            where = f"{path.relative_to(ROOT)}: {mod}.{fn}"
            if mod == "torch" and fn == "load":
                wo = kw.get("weights_only")
                if not (isinstance(wo, ast.Constant) and wo.value is True):
                    bad.append(where + " without weights_only=True")
            elif mod == "np" and fn == "load":
                ap = kw.get("allow_pickle")
                if ap is not None and not (isinstance(ap, ast.Constant) and ap.value is False):
                    bad.append(where + " with allow_pickle")
            elif mod in ("pickle", "dill", "joblib") and fn in ("load", "loads"):
                bad.append(where)
    assert not bad, bad


# ------------------------------------------------------------------------------- network
_NO_NET = """
import socket, sys
def _refuse(*a, **k):
    raise RuntimeError("network access at run time")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
from mxkit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_commands_run_without_network(tmp_path):
    from ._tiny_synthme import tiny_synthme

    root, _, _ = tiny_synthme()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    for argv in (["model", "--out", str(tmp_path / "model"), "--size", "32", "--quiet"],
                 ["prepare", str(root), "--clip", "sub01/EP01_01", "--no-cache", "--workers", "1", "--quiet"]):
        proc = subprocess.run([sys.executable, "-c", _NO_NET, *argv], env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "network access" not in proc.stderr


# ------------------------------------------------------------------- random path names
# names of one path component: spaces, CJK, accents, control characters, bytes that are not
# UTF-8 (surrogate escapes, as os.fsdecode gives them), lone surrogates, dots
_CHARS = st.sampled_from(list("ab Z_-.~#%") + ["上海", "微表情", "é", "ß", "\t", "\n", "\x7f", "\udcc9",
                                                 "\udcff", "\ud800", "\x00", "'", '"', "*", "?"])
_NAMES = st.lists(_CHARS, min_size=1, max_size=6).map("".join)


def _fake_showcase(out, **_):
    from mxkit._io import atomic_write

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = atomic_write(out / "neutral.obj", "v 0 0 0\n")
    return {"n_vertices": 1, "n_faces": 0, "render_ms": 0, "max_displacement_mm": {}, "files": [path]}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_NAMES, nested=st.booleans(), exists=st.sampled_from(["new", "file", "empty", "full"]))
def test_random_output_paths_give_success_or_a_typed_error(name, nested, exists):
    """``mxkit model --out PATH`` (the export itself faked: the paths are under test) succeeds or
    exits 2 with one printable line, and a refusal creates nothing."""
    import mxkit.workflows

    base = Path(tempfile.mkdtemp(prefix="mxkit-paths-"))
    try:
        out = base / "sub" / name if nested else base / name
        try:
            if exists == "file":
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text("x")
            elif exists in ("empty", "full"):
                out.mkdir(parents=True)
                if exists == "full":
                    (out / "mine.txt").write_text("x")
        except (OSError, ValueError):
            exists = "new"           # a name the file system refuses: the command must say so too
        before = sorted(os.fsencode(p) for p in base.rglob("*"))
        err = io.StringIO()
        with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(err), \
                contextlib.redirect_stdout(io.StringIO()):
            mp.setattr(mxkit.workflows, "export_model_showcase", _fake_showcase)
            code = main(["model", "--out", str(out), "--quiet"])
        msg = err.getvalue()
        assert code in (0, 2), msg
        msg.encode("utf-8")                                     # printable whatever the name
        if code == 0:
            assert exists in ("new", "empty") and (out / "neutral.obj").is_file()
        else:
            assert msg.count("\n") == 1 and msg.startswith("mxkit model: error:"), msg
            assert sorted(os.fsencode(p) for p in base.rglob("*")) == before      # nothing created
    finally:
        shutil.rmtree(base, ignore_errors=True)


@settings(max_examples=25, deadline=None)
@given(name=_NAMES)
def test_random_dataset_paths_give_a_typed_error(name):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["prepare", os.path.join(tempfile.gettempdir(), "mxkit-no-such-root", name), "--no-cache",
                     "--quiet"])
    assert code == 2 and err.getvalue().count("\n") == 1 and "Traceback" not in err.getvalue()
    err.getvalue().encode("utf-8")
