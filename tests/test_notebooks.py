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


# --------------------------------------------------------------------------- what a reader sees of the outputs

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
#: A variable's name, as a DataFrame column straight from the code has it: ``ghost_read``, ``sent_at``.
SNAKE_CASE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def html_outputs(nb: nbformat.NotebookNode) -> list[str]:
    """Every HTML output a reader of the executed ``nb`` sees: the cells' own, and those a widget
    (an ``interact`` table) saved in its Output area, which the site shows at its default setting."""
    found = [
        "".join(out["data"]["text/html"])
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if "text/html" in out.get("data", {})
    ]
    for model in nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {}).values():
        for out in model.get("state", {}).get("outputs", []) or []:
            if "text/html" in out.get("data", {}):
                found.append("".join(out["data"]["text/html"]))
    return found


def raw_column_names(html_text: str) -> list[str]:
    """The snake_case names in the headers (``<th>``) of the tables in ``html_text``."""
    import html as html_lib

    headers = re.findall(r"<th\b[^>]*>(.*?)</th>", html_text, flags=re.S | re.I)
    return [
        name for header in headers for name in SNAKE_CASE.findall(html_lib.unescape(re.sub(r"<[^>]+>", "", header)))
    ]


def test_raw_column_names_are_found_in_a_table_and_show_table_gives_words() -> None:
    import pandas as pd

    from toychat.tables import show_table

    table = pd.DataFrame({"defence": ["none"], "ghost_read": [1], "sent at": ["09:00"]}).rename_axis("trial_no")
    assert raw_column_names(table.to_html()) == ["ghost_read", "trial_no"]
    assert raw_column_names(show_table(table.reset_index()).data) == []


@pytest.mark.notebook
@pytest.mark.parametrize("path", LESSONS, ids=_id)
def test_no_raw_column_names_in_a_lessons_tables(path: Path) -> None:
    """A table a lesson shows (a cell's output or a control's, as the site shows it) has words for
    column headers, never a DataFrame's variable names (``ghost_read``): toychat.tables.show_table
    gives them.  Reads the session's one execution of the lesson (support.nbtools.executed_lesson)."""
    nb, _ = executed_lesson(path)
    found = sorted({name for html_text in html_outputs(nb) for name in raw_column_names(html_text)})
    assert found == [], f"{_id(path)}: raw column names in the headers of its tables: {found}"


def displayed_chats(nb: nbformat.NotebookNode) -> list[str]:
    """The model ids of the three-view chats (toychat.widgets.ChatWidget) an executed ``nb`` displays."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    shown = [
        out["data"][WIDGET_VIEW]["model_id"]
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if WIDGET_VIEW in out.get("data", {})
    ]
    return [
        model_id
        for model_id in shown
        if "toychat-chat" in state.get(model_id, {}).get("state", {}).get("_dom_classes", [])
    ]


@pytest.mark.notebook
@pytest.mark.parametrize(
    "path",
    [lesson for lesson in LESSONS if "ChatWidget(" in lesson.read_text(encoding="utf-8")],
    ids=_id,
)
def test_a_frozen_chat_shows_a_conversation(path: Path) -> None:
    """The three-view chat, as the course site freezes it (docs/_ext/course_site.static_widget_html
    over the widget state the lesson's run saved), shows its default result — messages in Alice's,
    the server's and Bob's views — not an empty window.  Reads the session's one execution."""
    import sys

    sys.path.insert(0, str(REPO / "docs" / "_ext"))
    from course_site import static_widget_html

    from toychat.widgets.chat import EMPTY_VIEWS

    nb, _ = executed_lesson(path)
    chats = displayed_chats(nb)
    assert chats, f"{_id(path)} displays no three-view chat"
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    for model_id in chats:
        frozen = static_widget_html(model_id, state)
        empty = [text for text in EMPTY_VIEWS if text in frozen]
        assert empty == [], f"{_id(path)}: a chat frozen empty on the site: {empty}"
        assert "<td" in frozen, f"{_id(path)}: the frozen chat's server view has no row"
