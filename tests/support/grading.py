"""What the tests check grades against: the points of every graded cell in a source notebook."""

from __future__ import annotations

import base64
import binascii
import html as html_lib
import re
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from toychat.grading import hidden_lines

from .nbtools import REPO


def grade_points(assignment: str) -> dict[str, tuple[float, bool]]:
    """Every graded cell of the source notebook: grade_id -> (points, graded by hand?)."""
    nb = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    return {
        meta["grade_id"]: (float(meta["points"]), bool(meta.get("solution")))
        for meta in (cell.metadata.get("nbgrader", {}) for cell in nb.cells)
        if meta.get("grade")
    }


def page_text(page: str) -> str:
    """The text a student reads in a feedback page: tags removed, entities decoded."""
    return html_lib.unescape(re.sub(r"<[^>]+>", "", page[page.index("<body") :]))


def hidden_test_lines(assignment: str, exclude: str) -> list[str]:
    """Every line (stripped) of every hidden-test region of the exercise, delimiters
    included, except those that also occur in the release or in ``exclude`` (a
    student's submission): those are no secret."""
    release = (REPO / "exercises" / assignment / f"{assignment}.ipynb").read_text(encoding="utf-8")
    release = nbformat.reads(release, as_version=4)
    public = (
        "\n".join(c.source for c in release.cells)
        + "\n"
        + "\n".join(c.source for c in nbformat.reads(exclude, as_version=4).cells)
    )
    source = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    lines = {
        text.strip()
        for cell in source.cells
        for _, text in hidden_lines(cell.source)
        if len(text.strip()) >= 3 and text.strip() not in public
    }
    assert len(lines) >= 10, f"{assignment}: too few hidden lines to scan for"
    return sorted(lines)


def with_decoded_blobs(text: str) -> str:
    """``text`` followed by every base64 blob in it (40 characters or more) decoded as UTF-8,
    so that a scan for hidden lines also finds one a submission smuggled out encoded."""
    decoded = []
    for blob in re.findall(r"[A-Za-z0-9+/]{40,}={0,2}", text):
        try:
            decoded.append(base64.b64decode(blob + "=" * (-len(blob) % 4)).decode("utf-8", errors="replace"))
        except (binascii.Error, ValueError):
            continue
    return "\n".join([text, *decoded])


#: The course id the course's nbgrader configuration uses.
COURSE = "e2ee-online-safety"


def small_gradebook(path: Path) -> str:
    """A gradebook: two assignments; ada graded on both, grace's written part still ungraded on
    ex01, alan never submitted anything.  Returns its URL."""
    url = f"sqlite:///{path}"
    with Gradebook(url, COURSE) as gb:
        for name in ("ex01_encryption", "ex02_chat"):
            gb.add_assignment(name)
            gb.add_notebook(name, name)
            gb.add_grade_cell("auto", name, name, max_score=10, cell_type="code")
            gb.add_grade_cell("essay", name, name, max_score=3, cell_type="markdown")
        gb.add_student("sub-ada", first_name="Ada", last_name="Lovelace", email="ada@example.edu", lms_user_id="4021")
        gb.add_student(
            "sub-grace", first_name="Grace", last_name="Hopper", email="grace@example.edu", lms_user_id="4022"
        )
        gb.add_student("sub-alan", first_name="Alan", last_name="Turing", email="", lms_user_id="")
        for student, assignment, auto, essay in (
            ("sub-ada", "ex01_encryption", 10, 2.5),
            ("sub-ada", "ex02_chat", 7, 3),
            ("sub-grace", "ex01_encryption", 8, None),
            ("sub-grace", "ex02_chat", 9, 1),
        ):
            gb.add_submission(assignment, student)
            for cell, score in (("auto", auto), ("essay", essay)):
                grade = gb.find_grade(cell, assignment, assignment, student)
                grade.auto_score = score if cell == "auto" else None
                grade.manual_score = score if cell == "essay" else None
                grade.needs_manual_grade = score is None
        gb.db.commit()
    return url
