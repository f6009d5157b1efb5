"""The import layering of ``docs/architecture.md``, enforced on every import in the package.

Every ``import`` / ``from ... import`` statement of every module under ``mxkit/`` is read with
:mod:`ast` -- module-level and function-local alike -- and resolved to the mxkit module it
names. A module may import its own layer and the layers below it, never above; ``eval`` and
``train`` never import each other. The layer table is read from ``docs/architecture.md``
itself, so a new top-level module must be added there (the test fails for a module the table
does not place).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mxkit"
DOC = ROOT / "docs" / "architecture.md"
#: Pairs of packages in one layer that must not import each other.
SEPARATE = ({"eval", "train"},)


def layer_table() -> dict[str, int]:
    """``{top-level name: layer}`` from the table under '## Layers' in docs/architecture.md.

    Rows look like ``| 2 | `mxkit.data`, `mxkit.fit`, `mxkit.nets` | ... |``.
    """
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    table: dict[str, int] = {}
    for line in section.splitlines():
        m = re.match(r"\|\s*(\d+)\s*\|([^|]*)\|", line)
        if not m:
            continue
        for name in re.findall(r"`mxkit\.([A-Za-z_0-9]+)`", m.group(2)):
            table[name] = int(m.group(1))
    # the package itself (``mxkit/__init__.py``, ``mxkit/__main__.py``) is on top
    for name in ("__init__", "__main__"):
        table[name] = max(table.values(), default=0)
    return table


def top_name(module: str) -> str:
    """``mxkit.eval.metrics`` -> ``eval``; ``mxkit`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[str, int, bool]]:
    """(mxkit module imported, line, inside a function) for every import of ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            local = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                      ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, in_function) for a in child.names
                             if a.name == "mxkit" or a.name.startswith("mxkit."))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[:len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target == "mxkit" or target.startswith("mxkit."):
                    if child.module is None or target == "mxkit":
                        # ``from . import x`` / ``from mxkit import x``: x may be a subpackage
                        folder = root / target.replace(".", "/")
                        found.extend((f"{target}.{a.name}" if (folder / a.name).is_dir() or (
                            folder / f"{a.name}.py").is_file() else target, child.lineno, in_function)
                            for a in child.names)
                    else:
                        found.append((target, child.lineno, in_function))
            visit(child, local)

    visit(tree, False)
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_layer_table_is_readable():
    table = layer_table()
    assert table["errors"] == 0 and table["workflows"] == max(table.values())
    assert {"morph", "data", "eval", "train", "viz", "cli"} <= set(table)


def test_every_module_has_a_layer():
    table = layer_table()
    unplaced = sorted({top_name(module_name(p)) for p in MODULES} - set(table))
    assert not unplaced, (f"modules not in the layer table of docs/architecture.md: {unplaced}; "
                          "add them to it")


def test_no_import_goes_up_a_layer():
    table = layer_table()
    bad = []
    for path in MODULES:
        src = top_name(module_name(path))
        for target, line, local in imported_modules(path):
            dst = top_name(target)
            if dst == src:
                continue
            if table[dst] > table[src] or (table[dst] == table[src] and any(
                    {src, dst} == pair for pair in SEPARATE)):
                bad.append(f"{path.relative_to(ROOT)}:{line} ({src}, layer {table[src]}) imports "
                           f"{target} ({dst}, layer {table[dst]})" + (" inside a function" if local
                                                                      else ""))
    assert not bad, "imports against the layer order of docs/architecture.md:\n" + "\n".join(bad)


@pytest.mark.parametrize("source, expected", [
    ("from ..eval import x\n", ("mxkit.eval", False)),
    ("def f():\n    from mxkit.train.loop import train\n", ("mxkit.train.loop", True)),
    ("import mxkit.viz.mesh as m\n", ("mxkit.viz.mesh", False)),
])
def test_import_reader_sees_every_form(tmp_path, source, expected):
    """The reader resolves relative, absolute and function-local imports."""
    pkg = tmp_path / "mxkit" / "fit"
    pkg.mkdir(parents=True)
    (pkg / "probe.py").write_text(source)
    got = imported_modules(pkg / "probe.py", root=tmp_path)
    assert [(m, local) for m, _, local in got] == [expected]


def test_reader_resolves_subpackage_names(tmp_path):
    """``from .. import eval`` names the subpackage ``mxkit.eval``, not the package."""
    (tmp_path / "mxkit" / "eval").mkdir(parents=True)
    pkg = tmp_path / "mxkit" / "train"
    pkg.mkdir()
    (pkg / "probe.py").write_text("from .. import eval\nfrom .. import __version__\n")
    got = [m for m, _, _ in imported_modules(pkg / "probe.py", root=tmp_path)]
    assert got == ["mxkit.eval", "mxkit"]
