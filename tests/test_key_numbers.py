"""The key-numbers page (docs/key_numbers.md): every headline figure of the course,
grouped by lesson, each marked with its kind, so that a reader never takes a toy measurement for
a count of the world.

* a real-world figure or a side's estimate names a shipped reference and a date;
* a simulated figure, or arithmetic on assumed rates, says what it assumes;
* every row names the lesson it comes from;
* a toy or simulated number on the page is the number its lesson prints (the same anchor, the
  same text; the lesson's own test ties that text to the code);
* every anchored figure in the key-measurements tables and policy boxes of lessons 04-10 is on
  the page (lessons 01-03 measure the cryptography on the reader's machine and anchor none).
  That includes the settings a figure rests on (a sample size, a threshold, an assumed rate):
  the page anchors them beside their figure, in the column naming what it rests on, so a
  changed setting fails here as a changed finding does, and neither is left off;
* the page is part of the site.
"""

from __future__ import annotations

import re

import pytest

from support.pages import LESSONS, REPO, markdown_cells, reference_keys, references_module, table_rows
from toychat.prose import anchored_numbers

PAGE = REPO / "docs" / "key_numbers.md"
KINDS = {"real-world", "a side's estimate", "measured on the toy", "simulated", "arithmetic on assumptions"}
SOURCED = {"real-world", "a side's estimate"}
ASSUMING = {"simulated", "arithmetic on assumptions"}
LESSON_LINK = re.compile(r"\.\./lessons/([0-9]{2}_[a-z0-9_]+\.ipynb)")
#: Lessons whose headline figures the page must carry in full (see the module docstring).
COMPLETE_FOR = ("04", "05", "06", "07", "08", "09", "10")


def _rows() -> list[list[str]]:
    return table_rows(PAGE.read_text(encoding="utf-8"), "figure")


def _ids() -> list[str]:
    return [row[0][:40] for row in _rows()]


def test_the_page_has_its_table() -> None:
    assert len(_rows()) >= 30, "docs/key_numbers.md should list every headline figure"
    assert all(len(row) == 5 for row in _rows()), "each row: figure | value | kind | source | lesson"


@pytest.mark.parametrize("row", _rows(), ids=_ids())
def test_every_row_is_labelled(row: list[str]) -> None:
    figure, value, kind, source, lesson = row
    assert kind in KINDS, f"{figure!r}: kind {kind!r} is not one of {sorted(KINDS)}"
    assert value, f"{figure!r} has no value"
    assert LESSON_LINK.search(lesson), f"{figure!r} names no lesson"
    for name in LESSON_LINK.findall(lesson):
        assert (REPO / "lessons" / name).is_file(), f"{figure!r} links to a lesson that does not exist: {name}"
    if kind in SOURCED:
        keys = references_module().CITATION_RE.findall(source)
        assert keys, f"{figure!r} is {kind} but cites no reference"
        missing = set(keys) - reference_keys()
        assert not missing, f"{figure!r} cites references that are not shipped: {sorted(missing)}"
        assert re.search(r"\b(19|20)[0-9]{2}\b", source), f"{figure!r} is {kind} but gives no date"
    if kind in ASSUMING:
        assert "assum" in source.lower(), f"{figure!r} is {kind} but does not say what it assumes"
    if kind == "measured on the toy":
        assert len(source.split()) >= 3, f"{figure!r}: say what the toy measurement rests on"


def _lesson_anchors() -> dict[str, set[str]]:
    """Anchor name -> the numbers the lessons' Markdown shows for it."""
    shown: dict[str, set[str]] = {}
    for lesson in LESSONS:
        for cell in markdown_cells(lesson):
            for number, name in anchored_numbers(cell):
                shown.setdefault(name, set()).add(number)
    return shown


def test_toy_numbers_are_the_lessons_numbers() -> None:
    shown = _lesson_anchors()
    page = anchored_numbers(PAGE.read_text(encoding="utf-8"))
    assert page, "the page anchors none of its computed numbers"
    unknown = sorted({name for _, name in page} - set(shown))
    assert unknown == [], f"anchors on the page that no lesson shows: {unknown}"
    differ = [
        f"{name}: page {number}, lessons {sorted(shown[name])}" for number, name in page if {number} != shown[name]
    ]
    assert differ == [], "numbers that differ from their lessons:\n" + "\n".join(differ)


def test_every_headline_figure_is_on_the_page() -> None:
    on_page = {name for _, name in anchored_numbers(PAGE.read_text(encoding="utf-8"))}
    headline: set[str] = set()
    for lesson in LESSONS:
        if lesson.name[:2] not in COMPLETE_FOR:
            continue
        for cell in markdown_cells(lesson):
            if cell.startswith("## Key measurements") or "**Key measurements**" in cell or "For policy readers" in cell:
                headline |= {name for _, name in anchored_numbers(cell)}
    assert headline, "no anchored headline figures found in the lessons"
    missing = sorted(headline - on_page)
    assert missing == [], f"headline figures missing from docs/key_numbers.md: {missing}"


def test_the_page_is_on_the_site() -> None:
    conf = (REPO / "docs" / "conf.py").read_text(encoding="utf-8")
    index = (REPO / "docs" / "index.md").read_text(encoding="utf-8")
    assert '"docs/key_numbers.md"' in conf, "docs/conf.py does not build the page"
    assert re.search(r"^key_numbers$", index, re.M), "docs/index.md does not list the page"
