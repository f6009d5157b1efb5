"""No public name disappears by accident: the code against the snapshot tests/api_surface.json.

A name that disappears, changes kind (function -> constant, ...) or loses a parameter fails;
new names and parameters pass and are reported as a warning. After an intended change run
``.venv/bin/python tools/api_surface.py --write`` and commit ``tests/api_surface.json``
(docs/architecture.md, "The public API snapshot").
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_tool():
    spec = importlib.util.spec_from_file_location("api_surface", ROOT / "tools" / "api_surface.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module                 # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


@pytest.fixture(scope="module")
def current():
    now, errors = tool.surface()
    assert not errors, f"public modules that do not import: {errors}"
    return now


def test_no_public_name_disappears(current):
    diff = tool.compare(tool.load_snapshot(), current)
    if diff.added:
        warnings.warn(f"{len(diff.added)} public name(s)/parameter(s) not in the snapshot yet (fine; "
                      f"{tool.REFRESH}): " + "; ".join(diff.added[:20])
                      + (" ..." if len(diff.added) > 20 else ""), UserWarning, stacklevel=1)
    assert not diff.breaking, (
        "the public API lost names, kinds or parameters:\n  " + "\n  ".join(diff.removed + diff.changed)
        + f"\nIf intended (a rename, a deprecation ended), {tool.REFRESH}.")


def test_snapshot_is_what_the_tool_writes(current):
    text = (ROOT / "tests" / "api_surface.json").read_text(encoding="utf-8")
    assert text == tool.dumps(tool.load_snapshot()), f"tests/api_surface.json is hand-edited: {tool.REFRESH}"


def test_signature_notation():
    def f(a, /, b, *args, c, d=1, **kw):
        pass

    def g(x, *, y):
        pass

    assert tool.parameters(f) == ["a", "/", "b", "*args", "c", "d", "**kw"]
    assert tool.parameters(g) == ["x", "*", "y"]
    assert tool.parameters(len) == ["obj", "/"]


def test_every_kind_is_recorded(current):
    kinds = {e["kind"] for names in current.values() for e in names.values()}
    assert {"class", "function", "constant", "method", "property", "field"} <= kinds
    assert "missing" not in kinds, [f"{m}.{n}" for m, ns in current.items() for n, e in ns.items()
                                    if e["kind"] == "missing"]
    # a dataclass field, a method, a lazily exported top-level name, a submodule without __all__
    assert current["mxkit.workflows.reconstruct"]["Reconstruction.vertex_offsets"] == {"kind": "field"}
    assert current["mxkit"]["reconstruct"]["kind"] == "function"
    assert "mxkit.testing" in current and "assert_close" in current["mxkit.testing"]
    assert not [m for m in current if any(p.startswith("_") for p in m.split(".")[1:])]


def test_compare_fails_on_removals_and_lost_parameters_only():
    old = {"m": {"f": {"kind": "function", "params": ["x", "*", "y"]}, "C": {"kind": "class"},
                 "K": {"kind": "constant"}},
           "gone": {"g": {"kind": "function", "params": []}}}
    same = tool.compare(old, old)
    assert not same.breaking and same.added == ()
    grown = {"m": {**old["m"], "f": {"kind": "function", "params": ["x", "*", "y", "z"]}, "new": {"kind": "constant"}},
             "gone": old["gone"], "extra": {}}
    diff = tool.compare(old, grown)
    assert not diff.breaking and set(diff.added) == {"m.f: parameters added ['z']", "m.new", "module extra"}
    shrunk = {"m": {"f": {"kind": "function", "params": ["x"]}, "K": {"kind": "function", "params": []}}}
    diff = tool.compare(old, shrunk)
    assert diff.breaking
    assert set(diff.removed) == {"m.C", "module gone"}
    assert set(diff.changed) == {"m.K: kind constant -> function", "m.f: parameters removed ['y'] (now ['x'])"}


def test_write_then_check_round_trip(tmp_path, monkeypatch, capsys, current):
    monkeypatch.setattr(tool, "SNAPSHOT", tmp_path / "api_surface.json")
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    monkeypatch.setattr(tool, "surface", lambda: (current, {}))
    assert tool.main(["--write"]) == 0
    assert tool.load_snapshot(tmp_path / "api_surface.json") == current
    assert tool.main([]) == 0                                           # nothing changed
    smaller = {m: dict(ns) for m, ns in current.items()}
    smaller["mxkit.testing"].pop("assert_close")
    monkeypatch.setattr(tool, "surface", lambda: (smaller, {}))
    capsys.readouterr()
    assert tool.main([]) == 1
    assert "removed: mxkit.testing.assert_close" in capsys.readouterr().out
