"""The real nbgrader pipeline in a temporary course: generate, submit, autograde,
feedback, export — with exact scores for a full, a blank, a partly correct and
a looping submission."""

from __future__ import annotations

import csv
import shutil
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from benchmarks.classroom import assignments, solution_answers, submit
from benchmarks.classroom import nbgrader as run_nbgrader
from nbtools import REPO, record_timing

pytestmark = pytest.mark.nbgrader

ASSIGNMENTS = assignments()
TIMEOUT = 10  # seconds per cell: ample for every genuine cell on a loaded machine, and the looping submission costs little


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real nbgrader command line in ``course``; fail the test with its output if it fails."""
    try:
        return run_nbgrader(course, *args, cell_timeout=TIMEOUT)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


def _points(assignment: str) -> dict[str, float]:
    """Points of every graded cell, by grade_id."""
    nb = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: float(cell.metadata["nbgrader"]["points"])
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }


#: The exact scores the pipeline must produce, worked out by hand for each exercise:
#: (full marks from autograding, parts A+B only, maximum including hand-graded parts).
EXPECTED = {
    "ex01_encryption": (10.0, 4.0, 13.0),
    "ex02_chat": (12.0, 4.0, 15.0),
    "ex03_scanning": (12.0, 4.0, 15.0),
    "ex04_reporting_and_metadata": (14.0, 4.0, 17.0),
    "ex05_claims": (12.0, 4.0, 18.0),
}


def test_every_exercise_has_expected_scores() -> None:
    assert set(ASSIGNMENTS) == set(EXPECTED)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_generate_autograde_feedback_export(assignment: str, tmp_path: Path) -> None:
    notebook = f"{assignment}.ipynb"
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "solutions" / assignment, course / "solutions" / assignment)
    start = time.perf_counter()

    nbgrader(course, "generate_assignment", assignment, "--force")
    answers = solution_answers(assignment)
    assert {"part-a-answer", "part-b-answer"} <= set(answers) and len(answers) >= 5
    submit(course, assignment, "full", answers)
    submit(course, assignment, "blank", {})
    submit(course, assignment, "partial", {k: v for k, v in answers.items() if k in ("part-a-answer", "part-b-answer")})
    submit(course, assignment, "looping", {"part-a-answer": "while True:\n    pass"})

    autograde = time.perf_counter()
    nbgrader(course, "autograde", assignment, "--force")
    autograde = time.perf_counter() - autograde
    nbgrader(course, "generate_feedback", assignment, "--force")
    nbgrader(course, "export", "--to", "grades.csv")
    record_timing("nbgrader", f"{assignment}: pipeline (generate, 4 submissions, autograde, feedback, export)",
                  time.perf_counter() - start)
    record_timing("nbgrader", f"{assignment}: autograde of 4 submissions", autograde)

    with open(course / "grades.csv", newline="") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    scores = {student: float(row["score"]) for student, row in rows.items()}
    full, partial, maximum = EXPECTED[assignment]
    assert scores == {"full": full, "blank": 0.0, "partial": partial, "looping": 0.0}
    assert {float(row["max_score"]) for row in rows.values()} == {maximum}
    points = _points(assignment)
    assert sum(points.values()) == maximum and points["part-a-tests"] + points["part-b-tests"] == partial

    looped = nbformat.read(course / "autograded" / "looping" / assignment / notebook, as_version=4)
    timeouts = [
        o for c in looped.cells for o in c.get("outputs", []) if o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError"
    ]
    assert timeouts, "the infinite loop was stopped by Execute.timeout"

    for student in scores:
        feedback = course / "feedback" / student / assignment / notebook.replace(".ipynb", ".html")
        assert feedback.exists(), f"no feedback for {student}"
