"""What the tests check grades against: the points of every graded cell in a source notebook."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from .nbtools import REPO


def grade_points(assignment: str) -> dict[str, tuple[float, bool]]:
    """Every graded cell of the source notebook: grade_id -> (points, graded by hand?)."""
    nb = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    return {
        meta["grade_id"]: (float(meta["points"]), bool(meta.get("solution")))
        for meta in (cell.metadata.get("nbgrader", {}) for cell in nb.cells)
        if meta.get("grade")
    }


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
