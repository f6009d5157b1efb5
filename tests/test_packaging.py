"""The two install routes (pyproject.toml and environment.yml) pin the same packages."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    reqs = list(project["dependencies"])
    for extra in ("test", "notebooks"):
        reqs += [r for r in project["optional-dependencies"][extra] if not r.startswith("mxkit")]
    return {r.replace(" ", "") for r in reqs}


def _environment_requirements() -> set[str]:
    text = (ROOT / "environment.yml").read_text()
    pip_block = text.split("- pip:", 1)[1]
    items = re.findall(r"^\s+- (.+)$", pip_block, flags=re.M)
    return {i.strip().replace(" ", "") for i in items if not i.startswith("-e")}


def test_environment_matches_pyproject():
    py, env = _pyproject_requirements(), _environment_requirements()
    assert py - env == set(), f"in pyproject.toml but not environment.yml: {sorted(py - env)}"
    assert env - py == set(), f"in environment.yml but not pyproject.toml: {sorted(env - py)}"


def test_ci_calls_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make run" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
