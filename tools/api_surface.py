"""Snapshot of mxkit's public API surface: every public name of every public module.

A *public module* is every module of the ``mxkit`` package whose dotted name has no part
starting with ``_`` (``mxkit.__main__`` excluded). Its *public names* are its ``__all__``, or,
without one, the functions and classes it defines whose names do not start with ``_``. Each
entry records its kind (``module``, ``class``, ``function``, ``constant``; for the public
members a class defines itself: ``method``, ``classmethod``, ``staticmethod``, ``property``,
``field``) and, for callables, the parameter names in Python's signature notation
(``["data", "*", "options", "**kw"]``: ``/`` ends the positional-only ones, ``*`` starts the
keyword-only ones).

``tests/test_api_surface.py`` compares the code with the committed ``tests/api_surface.json``:
a name that disappears, changes kind or loses a parameter fails the test; additions pass and
are reported. After an intended change, refresh the snapshot and commit it::

    .venv/bin/python tools/api_surface.py --write     # rewrite tests/api_surface.json
    .venv/bin/python tools/api_surface.py             # print the differences; exit 1 if breaking
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import json
import pkgutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "tests" / "api_surface.json"
REFRESH = "run `.venv/bin/python tools/api_surface.py --write` and commit tests/api_surface.json"


# --------------------------------------------------------------------------- collecting
def public_modules() -> list[str]:
    """Dotted names of mxkit's public modules, sorted."""
    import mxkit

    names = ["mxkit"]
    for info in pkgutil.walk_packages(mxkit.__path__, prefix="mxkit."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts[1:]):
            continue
        names.append(info.name)
    return sorted(names)


def parameters(obj: Any) -> list[str] | None:
    """Parameter names in signature notation, or None when there is no signature."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    out: list[str] = []
    kinds = [p.kind for p in sig.parameters.values()]
    for i, p in enumerate(sig.parameters.values()):
        if p.kind is p.KEYWORD_ONLY and (i == 0 or kinds[i - 1] not in (p.KEYWORD_ONLY, p.VAR_POSITIONAL)):
            out.append("*")
        if p.kind is p.VAR_POSITIONAL:
            out.append("*" + p.name)
        elif p.kind is p.VAR_KEYWORD:
            out.append("**" + p.name)
        else:
            out.append(p.name)
        if p.kind is p.POSITIONAL_ONLY and (i + 1 == len(kinds) or kinds[i + 1] is not p.POSITIONAL_ONLY):
            out.append("/")
    return out


def _entry(kind: str, obj: Any = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": kind}
    if obj is not None:
        params = parameters(obj)
        if params is not None:
            entry["params"] = params
    return entry


def _class_members(cls: type, prefix: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if dataclasses.is_dataclass(cls):
        for f in dataclasses.fields(cls):
            if not f.name.startswith("_"):
                out[f"{prefix}.{f.name}"] = {"kind": "field"}
    for name, raw in vars(cls).items():
        if name.startswith("_") or f"{prefix}.{name}" in out:
            continue
        if isinstance(raw, property) or type(raw).__name__ == "cached_property":
            out[f"{prefix}.{name}"] = {"kind": "property"}
        elif isinstance(raw, classmethod):
            out[f"{prefix}.{name}"] = _entry("classmethod", getattr(cls, name))
        elif isinstance(raw, staticmethod):
            out[f"{prefix}.{name}"] = _entry("staticmethod", raw.__func__)
        elif inspect.isfunction(raw):
            out[f"{prefix}.{name}"] = _entry("method", raw)
    return out


def _names(module: ModuleType) -> list[str]:
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [n for n, obj in vars(module).items()
            if not n.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
            and getattr(obj, "__module__", None) == module.__name__]


def module_surface(module: ModuleType) -> dict[str, dict[str, Any]]:
    """``{name: entry}`` for one module (class members as ``Class.member``)."""
    out: dict[str, dict[str, Any]] = {}
    for name in _names(module):
        try:
            obj = getattr(module, name)
        except AttributeError:
            out[name] = {"kind": "missing"}
            continue
        if inspect.ismodule(obj):
            out[name] = {"kind": "module"}
        elif inspect.isclass(obj):
            out[name] = _entry("class", obj)
            out.update(_class_members(obj, name))
        elif callable(obj):
            out[name] = _entry("function", obj)
        else:
            out[name] = {"kind": "constant"}
    return dict(sorted(out.items()))


def surface() -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, str]]:
    """``({module: {name: entry}}, {module: import error})`` over every public module."""
    out, errors = {}, {}
    for name in public_modules():
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - reported, never hidden
            errors[name] = f"{type(exc).__name__}: {exc}"
            continue
        out[name] = module_surface(module)
    return out, errors


# --------------------------------------------------------------------------- comparing
@dataclasses.dataclass(frozen=True)
class Diff:
    """What changed between a snapshot and the code."""

    removed: tuple[str, ...]        # names or modules gone (breaking)
    changed: tuple[str, ...]        # kind changed or a parameter lost (breaking)
    added: tuple[str, ...]          # new names or parameters (fine, reported)

    @property
    def breaking(self) -> bool:
        """True when a public name, kind or parameter disappeared."""
        return bool(self.removed or self.changed)


def _params_of(entry: dict[str, Any]) -> list[str]:
    return [p for p in entry.get("params", []) if p not in ("*", "/")]


def compare(old: dict[str, dict[str, dict[str, Any]]], new: dict[str, dict[str, dict[str, Any]]]) -> Diff:
    """Differences from snapshot ``old`` to surface ``new``."""
    removed, changed, added = [], [], []
    for mod, names in old.items():
        if mod not in new:
            removed.append(f"module {mod}")
            continue
        for name, entry in names.items():
            where = f"{mod}.{name}"
            now = new[mod].get(name)
            if now is None:
                removed.append(where)
                continue
            if now["kind"] != entry["kind"]:
                changed.append(f"{where}: kind {entry['kind']} -> {now['kind']}")
                continue
            lost = [p for p in _params_of(entry) if p not in _params_of(now)]
            if lost:
                changed.append(f"{where}: parameters removed {lost} (now {now.get('params')})")
            gained = [p for p in _params_of(now) if p not in _params_of(entry)]
            if gained:
                added.append(f"{where}: parameters added {gained}")
    for mod, names in new.items():
        if mod not in old:
            added.append(f"module {mod}")
            continue
        added += [f"{mod}.{n}" for n in names if n not in old[mod]]
    return Diff(tuple(removed), tuple(changed), tuple(added))


def load_snapshot(path: Path = SNAPSHOT) -> dict[str, dict[str, dict[str, Any]]]:
    """The committed snapshot."""
    return json.loads(path.read_text(encoding="utf-8"))


def dumps(data: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The snapshot's deterministic JSON text: one line per name (diffs read one name a line)."""
    blocks = []
    for mod in sorted(data):
        rows = [f"  {json.dumps(n)}: {json.dumps(data[mod][n], sort_keys=True)}" for n in sorted(data[mod])]
        blocks.append(f" {json.dumps(mod)}: {{\n" + ",\n".join(rows) + ("\n }" if rows else "}"))
    return "{\n" + ",\n".join(blocks) + "\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {SNAPSHOT.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from mxkit._io import atomic_write

    now, errors = surface()
    for mod, why in errors.items():
        print(f"cannot import {mod}: {why}", file=sys.stderr)
    if errors:
        return 2
    old = load_snapshot() if SNAPSHOT.is_file() else {}
    diff = compare(old, now)
    for title, rows in (("removed", diff.removed), ("changed", diff.changed), ("added", diff.added)):
        for row in rows:
            print(f"{title}: {row}")
    n = sum(len(v) for v in now.values())
    if args.write:
        atomic_write(SNAPSHOT, dumps(now))
        print(f"wrote {SNAPSHOT.relative_to(ROOT)}: {n} names in {len(now)} modules")
        return 0
    return 1 if diff.breaking else 0


if __name__ == "__main__":
    raise SystemExit(main())
