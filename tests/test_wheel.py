"""A non-editable install works: the wheel alone carries the package and the data the lessons load.

A class hub installs the course as a wheel, so students never need to read the checkout (which
holds ``solutions/``).  Here the wheel is built, unpacked into a folder of its own, and lessons
00 and 10 and exercise 05 (the three that load the claims) are run from a copy outside the
checkout, with that folder first on the kernel's import path: ``toychat`` must come from the
wheel and find its data there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.nbtools import REPO, error_outputs, execute_notebook

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from this checkout and installed (without dependencies) into a folder."""
    build, target = tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("site")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(build), str(REPO)], check=True)
    [wheel] = build.glob("toychat-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True)
    return target


def test_the_wheel_carries_the_data_and_the_type_hints(installed: Path) -> None:
    names = sorted(p.name for p in (installed / "toychat" / "data").glob("*.csv"))
    assert names == ["claims.csv", "references.csv", "sources.csv"]
    assert (installed / "toychat" / "py.typed").is_file()


@pytest.mark.parametrize(
    "notebook",
    ["lessons/00_start_here.ipynb", "lessons/10_claims_and_evidence.ipynb", "solutions/ex05_claims/ex05_claims.ipynb"],
)
def test_notebook_runs_from_the_wheel(
    installed: Path, notebook: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / Path(notebook).name
    shutil.copy(REPO / notebook, copy)
    monkeypatch.setenv("PYTHONPATH", str(installed))
    nb, _ = execute_notebook(copy, cwd=tmp_path, timeout=300, allow_errors=True)
    assert error_outputs(nb) == []
    # The kernel's toychat was the wheel's, and so was its data.
    check = subprocess.run(
        [sys.executable, "-c", "import toychat, toychat.claims as c; print(toychat.__file__); print(c.DATA_DIR)"],
        env={**os.environ, "PYTHONPATH": str(installed)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    package, data = check.stdout.split()
    assert Path(package).is_relative_to(installed)
    assert Path(data) == installed / "toychat" / "data"
