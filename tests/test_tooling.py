"""The declared tooling holds: ruff's lint and format checks and mypy over the package pass,
as configured in pyproject.toml, and the package's docstring examples run with the tests.

CI runs only ``python -m pytest``, so this is where the tools are enforced.  Each tool runs
as ``python -m TOOL`` in the repository root, exactly as a contributor would run it; a
failure prints the tool's own report.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def run_tool(module: str, *args: str, fix: str) -> None:
    """Run ``python -m module args`` in the repository root; fail with its output unless it exits 0."""
    if importlib.util.find_spec(module) is None:
        pytest.fail(
            f"{module} is not installed in this environment ({sys.executable}); "
            f"install the course's requirements: python -m pip install -r requirements.txt",
            pytrace=False,
        )
    command = [sys.executable, "-m", module, *args]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        pytest.fail(
            f"`python -m {' '.join([module, *args])}` exited {done.returncode}; {fix}\n\n{done.stdout}{done.stderr}",
            pytrace=False,
        )


def test_ruff_check() -> None:
    run_tool("ruff", "check", "--no-cache", fix="fix the findings (`python -m ruff check --fix` does the safe ones)")


def test_ruff_format() -> None:
    run_tool("ruff", "format", "--check", "--no-cache", fix="run `python -m ruff format` and commit the result")


def test_mypy() -> None:
    run_tool("mypy", fix="fix the type errors (the configuration is [tool.mypy] in pyproject.toml)")


def test_ruff_leaves_notebooks_and_markdown_alone() -> None:
    """nbgrader checksums the exercise and solution cells, so ruff must never touch a notebook;
    nor Markdown, whose examples are laid out for reading."""
    if importlib.util.find_spec("ruff") is None:
        pytest.fail("ruff is not installed: python -m pip install -r requirements.txt", pytrace=False)
    listed = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--show-files"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout.splitlines()
    assert any(line.endswith(str(Path("toychat", "wire.py"))) for line in listed)
    assert [line for line in listed if line.endswith((".ipynb", ".md"))] == []


def test_docstring_examples_run_with_the_tests() -> None:
    """``python -m pytest`` collects the package's doctests (its examples are tests too)."""
    options = PYPROJECT["tool"]["pytest"]["ini_options"]
    assert "--doctest-modules" in options["addopts"].split()
    assert "toychat" in options["testpaths"]


def test_the_package_ships_its_type_hints() -> None:
    """PEP 561: toychat/py.typed exists and is packaged, so users' type checkers read the hints."""
    assert (REPO / "toychat" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["toychat"]
