"""The declared tooling holds: ruff's lint and format checks and mypy over the package pass,
as configured in pyproject.toml, and the package's docstring examples run with the tests.

CI runs only ``python -m pytest``, so this is where the tools are enforced.  Each tool runs
as ``python -m TOOL`` in the repository root, exactly as a contributor would run it; a
failure prints the tool's own report.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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
    """``python -m pytest`` collects the package's doctests (its examples are tests too), in
    subpackages as well: what it would run, asked from the repository root without arguments."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    collected = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "toychat/keys.py::toychat.keys.safety_number" in collected
    assert "toychat/relay/codec.py" in {line.split("::")[0] for line in collected}


def test_the_package_ships_its_type_hints(tmp_path: Path) -> None:
    """PEP 561: a wheel built from the repository holds toychat/py.typed, so users' type checkers read the hints."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "toychat", source / "toychat", ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [wheel] = (tmp_path / "dist").glob("toychat-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "toychat/py.typed" in names
