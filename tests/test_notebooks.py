"""Every committed notebook is clean, every lesson follows the course skeleton
and executes top to bottom with a real kernel."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import nbformat
import pytest

from support.nbtools import LESSONS, RELEASES, REPO, SOLUTIONS, error_outputs, executed_lesson
from toychat.prose import anchored_numbers

ALL_NOTEBOOKS = LESSONS + SOLUTIONS + RELEASES


def _id(path: Path) -> str:
    return str(path.relative_to(REPO))


def test_lessons_are_numbered_00_to_10_without_gaps() -> None:
    numbers = [lesson.name[:2] for lesson in LESSONS]
    assert numbers == [f"{n:02d}" for n in range(11)], f"lessons/ holds {numbers}"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_id)
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        index
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, f"{_id(path)}: cells {dirty} have outputs or execution counts; clear them before committing"


@pytest.mark.parametrize("path", LESSONS, ids=_id)
def test_lesson_follows_the_skeleton(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert nb.cells[0].cell_type == "markdown", "starts with a title"
    assert nb.cells[0].source.startswith("# "), "starts with a title"
    for needed in ("Learning objectives", "For policy readers", "## Summary", "## Further reading"):
        assert needed.lower() in markdown.lower(), f"{_id(path)} lacks '{needed}'"
    setup = [c for c in nb.cells if "setup" in c.metadata.get("tags", [])]
    assert len(setup) == 1, "exactly one code cell tagged 'setup'"
    assert setup[0].cell_type == "code", "exactly one code cell tagged 'setup'"
    headings = [int(len(m.group(1))) for m in re.finditer(r"^(#{1,6}) ", markdown, flags=re.M)]
    assert headings.count(1) == 1, "exactly one top-level title"
    assert all(b - a <= 1 for a, b in itertools.pairwise(headings)), f"heading levels skip in {_id(path)}"


@pytest.mark.parametrize("path", LESSONS, ids=_id)
def test_links_between_lessons_resolve(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for target in re.findall(r"\]\(([^)#\s]+\.ipynb)\)", markdown):
        assert (path.parent / target).exists(), f"{_id(path)} links to missing {target}"


def _anchors(path: Path) -> list[tuple[str, str]]:
    """Every (number as written, name) anchored in a notebook's Markdown."""
    nb = nbformat.read(path, as_version=4)
    return [pair for cell in nb.cells if cell.cell_type == "markdown" for pair in anchored_numbers(cell.source)]


@pytest.mark.notebook
@pytest.mark.parametrize("path", LESSONS, ids=_id)
def test_lesson_executes(path: Path) -> None:
    """The lesson runs top to bottom, every number anchored in its prose is the one its code noted,
    and every number in a figure's alt text is one the figure shows (toychat.figures.unsupported_numbers).
    The run is the session's one execution of the lesson (support.nbtools.executed_lesson), which the
    site test reads too."""
    nb, _ = executed_lesson(path)
    assert error_outputs(nb) == [], f"{_id(path)} raised errors"
    shown = json.loads(nb.cells.pop().outputs[0]["text"])
    astray = [(numbers, alt[:200]) for alt, numbers in shown if numbers]
    assert astray == [], f"{_id(path)}: alt texts state numbers their figures do not show: {astray}"
    noted = json.loads(nb.cells[-1].outputs[0]["text"])
    # This lesson's prose, and every other notebook's anchors that name this lesson's figures (`l07.…` in
    # lesson 06 or in an exercise): one figure has one name and one value course-wide.  A figure this
    # lesson quotes from another is checked where that one runs.
    own = f"l{path.name[:2]}."
    anchored = [pair for cell in nb.cells if cell.cell_type == "markdown" for pair in anchored_numbers(cell.source)]
    anchored += [
        pair for other in ALL_NOTEBOOKS if other != path for pair in _anchors(other) if pair[1].startswith(own)
    ]
    unknown = sorted({name for _, name in anchored if name.startswith(own)} - set(noted))
    assert unknown == [], f"{_id(path)}: prose anchors name figures the code never noted: {unknown}"
    wrong = [(written, name, noted[name]) for written, name in anchored if name in noted and written != noted[name]]
    assert wrong == [], f"{_id(path)}: numbers in the prose differ from the code's (written, name, computed): {wrong}"
