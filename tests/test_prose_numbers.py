"""Every number in a lesson's or exercise's Markdown is the code's (anchored), or of a kind the
code cannot produce, or marked as typed on purpose: a hand-typed simulated figure cannot slip in.

The rule is ``toychat.prose.unanchored_numbers`` (stated in CONTRIBUTING.md).  This test reads the
notebooks without running them; whether an anchored number equals what the code noted is checked
where the lesson runs anyway (``tests/test_notebooks.py::test_lesson_executes``).

An exercise's model answer (instructors' copy) anchors its figures under the exercise's name
(``ex04.precision``); ``tests/test_exercises.py::test_solution_passes_every_test`` runs the solution
and checks them against what it noted.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import nbformat
import pytest

from support.nbtools import LESSONS, RELEASES, REPO, SOLUTIONS
from support.pages import table_rows
from toychat.prose import _CODE, _UNITS, anchored_numbers, cited_sources, unanchored_numbers

CHECKED = LESSONS + SOLUTIONS


def _id(path: Path) -> str:
    return str(path.relative_to(REPO))


def _markdown(path: Path) -> list[str]:
    return [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"]


def _where(markdown: list[str], numbers: set[str]) -> list[str]:
    """The sentences (or table cells) that hold ``numbers``, to show in a failure."""
    units = [unit.strip() for source in markdown for unit in _UNITS.split(_CODE.sub(" ", source))]
    return [unit[:160] for unit in units if numbers & set(unanchored_numbers(unit))]


@pytest.mark.parametrize("path", CHECKED, ids=_id)
def test_every_number_in_the_markdown_is_anchored_or_exempt(path: Path) -> None:
    markdown = _markdown(path)
    found = [number for source in markdown for number in unanchored_numbers(source)]
    assert not found, (
        f"{_id(path)}: numbers neither anchored to the code (`N<!-- = name -->`, toychat.prose.note) "
        f"nor exempt nor marked fixed/source (CONTRIBUTING.md): {found} in {_where(markdown, set(found))}"
    )


@pytest.mark.parametrize("path", CHECKED, ids=_id)
def test_source_marks_name_a_reference(path: Path) -> None:
    with open(REPO / "data" / "references.csv", encoding="utf-8") as fh:
        keys = {row["key"] for row in csv.DictReader(fh)}
    unknown = {key for source in _markdown(path) for key in cited_sources(source)} - keys
    assert not unknown, f"{_id(path)}: <!-- source: … --> names no reference in data/references.csv: {unknown}"


#: The site's pages and the README: a figure they quote is anchored under the lesson's name for it.
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: The kinds of docs/key_numbers.md rows whose numbers are the course's own (see tests/test_key_numbers.py).
COMPUTED_KINDS = ("measured on the toy", "simulated", "arithmetic on assumptions")


def _anchors(paths: list[Path] | None = None) -> dict[str, set[tuple[str, str]]]:
    """name -> {(number as written, file)} for every anchor in the course's Markdown: lessons,
    exercises (sources and releases) and the site's pages."""
    found: dict[str, set[tuple[str, str]]] = {}
    for path in CHECKED + RELEASES + PAGES if paths is None else paths:
        sources = [path.read_text(encoding="utf-8")] if path.suffix == ".md" else _markdown(path)
        for source in sources:
            for written, name in anchored_numbers(source):
                found.setdefault(name, set()).add((written, _id(path)))
    return found


def test_every_anchor_names_a_lesson_that_computes_it() -> None:
    """`l07.evaded` is lesson 07's: its run (test_lesson_executes) checks the anchor wherever it is.
    `ex04.recall` is exercise 4's solution's, checked where the solution runs, and only in it: the
    release and the lessons cannot run the solution's code."""
    lessons = {f"l{path.name[:2]}" for path in LESSONS}
    exercises = {path.parent.name[:4]: path for path in SOLUTIONS}
    homeless = sorted(name for name in _anchors() if name.split(".")[0] not in lessons | set(exercises))
    assert not homeless, f"anchors must be named lNN.… (or exNN.…) after the notebook that notes them: {homeless}"
    astray = sorted(
        (name, where)
        for name, uses in _anchors().items()
        for _, where in uses
        if name.split(".")[0] in exercises and where != _id(exercises[name.split(".")[0]])
    )
    assert not astray, f"an exercise's figures are anchored only in its own solution: {astray}"


def test_one_figure_has_one_value_course_wide() -> None:
    """A figure quoted in several places (lessons, exercises, the site's pages) is written the same
    everywhere; a lesson's run checks the value it writes (test_lesson_executes), so all of them."""
    differing = {name: sorted(uses) for name, uses in _anchors().items() if len({w for w, _ in uses}) > 1}
    assert not differing, f"one name, several values: {differing}"


def test_the_sites_pages_quote_only_figures_a_lesson_shows() -> None:
    """A page's anchor names a figure some lesson writes, so the lesson's run checks the value."""
    in_lessons = set(_anchors(LESSONS))
    stray = sorted(
        (name, where) for name, uses in _anchors(PAGES).items() for _, where in uses if name not in in_lessons
    )
    assert not stray, f"anchors on the site's pages that no lesson shows: {stray}"


def _course_measured(page: Path) -> list[str]:
    """The passages of a site page that state the course's own figures: policy summaries' "What the
    course measured" paragraphs, the key-numbers rows of a computed kind (all but the lesson link),
    and every paragraph of the sides' page, whose figures are all either a lesson's or cited (a link
    to a lesson is not a citation: it is taken out, so that it cannot excuse a typed figure)."""
    text = page.read_text(encoding="utf-8")
    if page.name == "policy_summaries.md":
        return re.findall(r"^\*\*What the course measured\*\*.*$", text, re.M)
    if page.name == "key_numbers.md":
        rows = [row for row in table_rows(text, "figure") if row[2] in COMPUTED_KINDS]
        return [cell for row in rows for cell in row[:4]]
    if page.name == "sides.md":
        paragraphs = [paragraph for paragraph in text.split("\n\n") if paragraph.strip()]
        return [re.sub(r"\[[^\]\n]*\]\(\.\./lessons/[^)\s]*\)", "a lesson", p) for p in paragraphs]
    return []


@pytest.mark.parametrize("page", ["policy_summaries.md", "key_numbers.md", "sides.md"])
def test_the_sites_course_figures_are_anchored(page: str) -> None:
    passages = _course_measured(REPO / "docs" / page)
    assert passages, f"docs/{page}: found no passage stating the course's figures"
    typed = [(number, passage[:120]) for passage in passages for number in unanchored_numbers(passage)]
    assert typed == [], (
        f"docs/{page}: course figures typed, not anchored to a lesson's (`N<!-- = lNN.name -->`): {typed}"
    )


@pytest.mark.parametrize(
    ("markdown", "flagged"),
    [
        ("29 of 30 pictures evaded.", ["29", "30"]),  # a simulated figure typed by hand
        ("29<!-- = l07.evaded --> of 30<!-- = l07.tried --> pictures evaded.", []),
        ("a 32<!-- fixed -->-byte key", []),
        ("92% of referrals could be lost ([Home Office 2023](../docs/references.md#homeoffice2023)).", []),
        ("92% of referrals could be lost. Lesson 06 measured 5% ([a](x.md)).", ["92%"]),
        ('the NCA said "92% could be lost"', []),
        ("## 7. Section seven, as lesson 06 §7 and sections 2 and 3 say, in 2023 (4 Dec)", []),
        ("| measured | 0.76% |", ["0.76%"]),
        ("`seed=33` and 2¹⁹² values", []),
    ],
)
def test_the_rule_flags_typed_figures_only(markdown: str, flagged: list[str]) -> None:
    assert unanchored_numbers(markdown) == flagged
