"""One "How it works" header for every exercise: nbgrader puts solutions/header.ipynb
at the top of each release, and no exercise repeats its own version of it."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from support.nbtools import RELEASES, REPO, SOLUTIONS
from toychat import grading
from toychat.grading import EXERCISE_HEADER, exercise_header

HEADER = nbformat.read(REPO / EXERCISE_HEADER, as_version=4)


def test_the_header_is_not_an_assignment_or_a_notebook_of_one() -> None:
    assert REPO / EXERCISE_HEADER not in SOLUTIONS + RELEASES
    assert [c.cell_type for c in HEADER.cells] == ["markdown"]
    assert "How it works" in HEADER.cells[0].source
    assert "hidden tests" in HEADER.cells[0].source


@pytest.mark.parametrize("release", RELEASES, ids=lambda p: p.parent.name)
def test_every_release_starts_with_the_header(release: Path) -> None:
    cells = nbformat.read(release, as_version=4).cells
    assert [c.source for c in cells[: len(HEADER.cells)]] == [c.source for c in HEADER.cells]
    assert cells[len(HEADER.cells)].source.startswith("# Exercise "), "the exercise's title follows the header"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.parent.name)
def test_no_exercise_repeats_the_header(solution: Path) -> None:
    markdown = [c.source for c in nbformat.read(solution, as_version=4).cells if c.cell_type == "markdown"]
    assert not any("How it works" in text or "Restart Kernel and Run All Cells" in text for text in markdown)


def test_the_header_is_found_from_a_course_folder_without_one(tmp_path: Path) -> None:
    assert exercise_header(REPO) == str(REPO / EXERCISE_HEADER)
    assert exercise_header(tmp_path) == str((REPO / EXERCISE_HEADER).resolve())
    (tmp_path / "solutions").mkdir()
    (tmp_path / EXERCISE_HEADER).write_text(nbformat.writes(HEADER), encoding="utf-8")
    assert exercise_header(tmp_path) == str(tmp_path.resolve() / EXERCISE_HEADER)


def test_a_grading_copy_without_the_header_still_loads_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Autograde in a copy with no solutions/ and the package installed elsewhere: the
    config names the (missing) course-root header instead of failing to load."""
    monkeypatch.setattr(grading, "__file__", str(tmp_path / "site-packages" / "toychat" / "grading.py"))
    assert exercise_header(tmp_path / "grading") == str((tmp_path / "grading").resolve() / EXERCISE_HEADER)
