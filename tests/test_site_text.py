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
