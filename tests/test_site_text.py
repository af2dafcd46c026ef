"""The site reads as a site: no notebook instructions in the text its pages show.

"Press Shift+Enter", "double-click the cell" or "move the slider" cannot be followed on a page, where
everything has already run and the controls are frozen.  A lesson keeps such words for JupyterLab
between ``<!-- notebook-only -->`` and ``<!-- /notebook-only -->``, which the site build leaves out
(``course_site.strip_notebook_only``).  This reads the lessons as the site prepares them, without
building it (``tests/test_site.py`` checks the built pages the same way).

``tests/site_instructions_todo.json`` lists the instructions still in reader text when the check came
in, per lesson; like ``prose_numbers_todo.json`` it may only shrink: a new instruction fails, and so
does an entry that is no longer there (delete it).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest

from support.pages import LESSONS, REPO

sys.path.insert(0, str(REPO / "docs" / "_ext"))
from course_site import notebook_instructions, prepare_notebook, strip_notebook_only  # noqa: E402

TODO = Path(__file__).with_name("site_instructions_todo.json")


def reader_text(nb: nbformat.NotebookNode) -> str:
    """The Markdown a site page shows for ``nb`` (prepared as the site build prepares it)."""
    prepared = prepare_notebook(nb)
    return "\n\n".join(cell.source for cell in prepared.cells if cell.cell_type == "markdown")


def unexpected(found: list[str], allowed: dict[str, int]) -> tuple[list[str], list[str]]:
    """Instructions in ``found`` beyond the ``allowed`` counts, and allowed ones no longer found."""
    have, may = Counter(found), Counter(allowed)
    return sorted((have - may).elements()), sorted((may - have).elements())


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name[:2])
def test_no_notebook_instructions_in_reader_text(lesson: Path) -> None:
    allowed = json.loads(TODO.read_text(encoding="utf-8")).get(lesson.stem, {})
    found = notebook_instructions(reader_text(nbformat.read(lesson, as_version=4)))
    new, gone = unexpected(found, allowed)
    assert new == [], f"{lesson.name}: notebook instructions the site would show: {new} (mark them notebook-only)"
    assert gone == [], f"{lesson.name}: {gone} no longer in reader text: remove them from {TODO.name}"


def test_the_check_catches_an_instruction_and_spares_a_notebook_only_one() -> None:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("Click into the cell and press **Shift+Enter**. Then move the slider."),
            nbformat.v4.new_markdown_cell(
                "Each run gives a new key<!-- notebook-only --> (run the cell twice to see it)<!-- /notebook-only -->."
            ),
        ]
    )
    found = notebook_instructions(reader_text(nb))
    assert found == ["click into", "shift+enter", "move the slider"]
    assert unexpected(found, {"shift+enter": 1}) == (["click into", "move the slider"], [])
    assert unexpected([], {"double-click": 1}) == ([], ["double-click"])
    assert strip_notebook_only(nb.cells[1].source) == "Each run gives a new key."


def test_every_todo_entry_names_a_lesson() -> None:
    stems = {lesson.stem for lesson in LESSONS}
    assert set(json.loads(TODO.read_text(encoding="utf-8"))) <= stems
