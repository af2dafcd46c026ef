"""The site reads as a site: no notebook instructions in the text its pages show.

"Press Shift+Enter", "double-click the cell" or "move the slider" cannot be followed on a page, where
everything has already run and the controls are frozen.  A lesson keeps such words for JupyterLab
between ``<!-- notebook-only -->`` and ``<!-- /notebook-only -->``, which the site build leaves out
(``course_site.strip_notebook_only``).  This reads the lessons as the site prepares them, without
building it (``tests/test_site.py`` checks the built pages the same way).

Every lesson is held to it: the baseline of instructions left when the check came in
(``site_instructions_todo.json``) is gone, each one marked notebook-only or reworded to read right on
a page too ("the table below is for the setting shown" rather than "move the sliders").
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

from support.pages import LESSONS, REPO

sys.path.insert(0, str(REPO / "docs" / "_ext"))
from course_site import notebook_instructions, prepare_notebook, strip_notebook_only  # noqa: E402


def reader_text(nb: nbformat.NotebookNode) -> str:
    """The Markdown a site page shows for ``nb`` (prepared as the site build prepares it)."""
    prepared = prepare_notebook(nb)
    return "\n\n".join(cell.source for cell in prepared.cells if cell.cell_type == "markdown")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name[:2])
def test_no_notebook_instructions_in_reader_text(lesson: Path) -> None:
    found = notebook_instructions(reader_text(nbformat.read(lesson, as_version=4)))
    assert found == [], f"{lesson.name}: notebook instructions the site would show: {found} (mark them notebook-only)"


def test_the_check_catches_an_instruction_and_spares_a_notebook_only_one() -> None:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(
                "Click into the cell and press **Shift+Enter**. Then move the slider. Use the sliders."
            ),
            nbformat.v4.new_markdown_cell(
                "Each run gives a new key<!-- notebook-only --> (run the cell twice to see it)<!-- /notebook-only -->."
            ),
        ]
    )
    found = notebook_instructions(reader_text(nb))
    assert found == ["click into", "shift+enter", "move the slider", "use the sliders"]
    assert strip_notebook_only(nb.cells[1].source) == "Each run gives a new key."


def test_the_check_catches_a_question_that_asks_the_reader_to_work_a_control() -> None:
    """The forms lessons 07-09 used before they were reworded (a site reader sees the control frozen
    at its default, so cannot do what they ask); each is caught, and a question answerable from the
    page, or a mark as notebook-only, is not."""
    asked = [
        "3. Take the sliders' numbers at 12 bits and 1,000 million pictures a day.",
        "3. Using the base-rate widget: at what share of abusive accounts does precision pass 50%?",
        "4. Lower the report rate to 1%<!-- fixed -->. Which harm's coverage falls most?",
        "Try other assumptions with the sliders:",
        "Try your own assumptions:",
        "Set the threshold to 12 bits and compare.",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text) for text in asked])
    assert notebook_instructions(reader_text(nb)) == [
        "take the sliders'",
        "using the base-rate widget",
        "lower the report rate to 1",
        "try other",
        "with the sliders",
        "try your own",
        "set the threshold to 1",
    ]
    answerable = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(
                "3. Section 6 shows the detector's precision at several assumed shares, in a table and a curve."
            ),
            nbformat.v4.new_markdown_cell(
                "The same simulation for one setting, shown with its result"
                "<!-- notebook-only -->; try your own<!-- /notebook-only -->:"
            ),
            nbformat.v4.new_markdown_cell("Raise the threshold to catch more edits, and innocent pictures match."),
        ]
    )
    assert notebook_instructions(reader_text(answerable)) == []
