"""Every lesson's "Check your understanding" questions have folded answers, one per question.

A self-studying reader (issue 28) checks their answers in a ``<details>`` block under the questions,
in the same Markdown cell, as lesson 06 does: the summary line says to open it only after trying, and
answer *n* answers question *n*.  This reads the notebooks without running them; whether the numbers
in the answers are the code's is checked where each lesson runs (``tests/test_notebooks.py``), like
every other anchored number.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from support.nbtools import LESSONS

HEADING = "## Check your understanding"
SUMMARY = "<summary>Answers (open after you have tried)</summary>"

#: Lessons whose answers are still being written (issue 28); none since every lesson has its answers.
#: A lesson listed here is skipped, and the test fails once it is answered, so the set only shrinks.
PENDING: set[str] = set()

_ITEM = re.compile(r"^([0-9]+)\. ", re.M)


def _questions_and_answers(source: str) -> tuple[list[int], list[int] | None]:
    """The numbers of the questions and of the folded answers (``None`` if nothing is folded)."""
    folded = re.search(r"<details>\n(.*?)\n</details>", source, re.S)
    questions = source[: folded.start()] if folded else source
    answers = [int(n) for n in _ITEM.findall(folded.group(1))] if folded else None
    return [int(n) for n in _ITEM.findall(questions)], answers


def _check_cell(lesson: Path) -> str:
    cells = [
        cell.source
        for cell in nbformat.read(lesson, as_version=4).cells
        if cell.cell_type == "markdown" and cell.source.startswith(HEADING)
    ]
    assert len(cells) == 1, f"{lesson.name}: one Markdown cell starts with {HEADING!r}"
    return cells[0]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name[:2])
def test_every_question_has_a_folded_answer(lesson: Path) -> None:
    source = _check_cell(lesson)
    questions, answers = _questions_and_answers(source)
    assert questions, f"{lesson.name}: no numbered questions under {HEADING!r}"
    if lesson.name[:2] in PENDING:
        assert answers is None, f"{lesson.name} has its answers now: remove it from PENDING"
        pytest.skip("answers not written yet (issue 28)")
    assert answers is not None, f"{lesson.name}: the questions have no folded <details> answers"
    assert SUMMARY in source, f"{lesson.name}: the answers' summary line is not {SUMMARY!r}"
    assert source.rstrip().endswith("</details>"), f"{lesson.name}: the answers end the cell"
    assert answers == questions, f"{lesson.name}: answers {answers} for questions {questions}"


def test_the_check_counts_answers_against_questions() -> None:
    source = f"{HEADING}\n\n1. Why?\n2. How?\n\n<details>\n{SUMMARY}\n\n1. Because.\n</details>"
    assert _questions_and_answers(source) == ([1, 2], [1])
    assert _questions_and_answers(f"{HEADING}\n\n1. Why?") == ([1], None)
