"""The real nbgrader pipeline in a temporary course, with the course's own
``nbgrader_config.py``: generate, submit, autograde, feedback, export — with exact
scores for a full, a blank, a partly correct and a looping submission, and three that
pass the visible tests but fail hidden ones (a wrong value, an exception inside the
student's function, a value of the wrong type).  Checks that autograde reports no
changed cell for untouched submissions, that no line of any hidden test and none of
the grader's paths reach any student's feedback, and that the export flags
submissions with written parts still to grade."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from benchmarks.classroom import assignments, solution_answers, submit
from benchmarks.classroom import nbgrader as run_nbgrader
from exercise_mutants import HIDDEN_ONLY
from support.grading import grade_points, hidden_test_lines, page_text
from support.nbtools import REPO, record_timing
from test_hostile_submissions import misbehaving_in_hidden_tests

pytestmark = pytest.mark.nbgrader

ASSIGNMENTS = assignments()
TIMEOUT = (
    10  # seconds per cell: ample for every genuine cell on a loaded machine, and the looping submission costs little
)


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
    assert {"part-a-answer", "part-b-answer"} <= set(answers)
    assert len(answers) >= 5
    written = [g for g, (_, by_hand) in grade_points(assignment).items() if by_hand]
    part, wrong = HIDDEN_ONLY[assignment].part, HIDDEN_ONLY[assignment].source  # passes the visible tests
    students = {
        "full": {**answers, **{g: "A written answer, waiting for the grader." for g in written}},
        "blank": {},
        "partial": {k: v for k, v in answers.items() if k in ("part-a-answer", "part-b-answer")},
        "looping": {"part-a-answer": "while True:\n    pass"},
        "hidden_wrong": {**answers, f"{part}-answer": wrong},
        "hidden_raise": misbehaving_in_hidden_tests(answers, "raise"),
        "hidden_type": misbehaving_in_hidden_tests(answers, "type"),
    }
    for student, filled in students.items():
        submit(course, assignment, student, filled)

    autograde = time.perf_counter()
    log = nbgrader(course, "autograde", assignment, "--force").stderr
    autograde = time.perf_counter() - autograde
    nbgrader(course, "generate_feedback", assignment, "--force")
    nbgrader(course, "export", "--to", "grades.csv")
    record_timing(
        "nbgrader",
        f"{assignment}: pipeline (generate, {len(students)} submissions, autograde, feedback, export)",
        time.perf_counter() - start,
    )
    record_timing("nbgrader", f"{assignment}: autograde of {len(students)} submissions", autograde)

    # Untouched test cells are put back silently: no checksum warning to bury real tampering in.
    assert "has changed" not in log, log
    assert "changed by the student" not in log, log

    with open(course / "grades.csv", newline="") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    scores = {student: float(row["score"]) for student, row in rows.items()}
    full, partial, maximum = EXPECTED[assignment]
    points = _points(assignment)
    assert {s: scores[s] for s in ("full", "blank", "partial", "looping")} == {
        "full": full,
        "blank": 0.0,
        "partial": partial,
        "looping": 0.0,
    }
    assert scores["hidden_wrong"] == full - points[f"{part}-tests"]
    # Functions that misbehave only when a hidden test calls them look for the test's source
    # in their caller's frame: the tests run in another process (SealedExecute), so they never
    # find it, behave, and score what the model answer scores.
    assert scores["hidden_raise"] == full, "a student's function cannot tell a hidden test from a visible one"
    assert scores["hidden_type"] == full, "a student's function cannot tell a hidden test from a visible one"
    assert {float(row["max_score"]) for row in rows.values()} == {maximum}
    assert sum(points.values()) == maximum
    assert points["part-a-tests"] + points["part-b-tests"] == partial

    looped = nbformat.read(course / "autograded" / "looping" / assignment / notebook, as_version=4)
    timeouts = [
        o
        for c in looped.cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError"
    ]
    assert timeouts, "the infinite loop was stopped by Execute.timeout"

    # Feedback: the score, and not one line of a hidden test, nor any of the grader's paths.
    for student in scores:
        feedback = course / "feedback" / student / assignment / notebook.replace(".ipynb", ".html")
        assert feedback.exists(), f"no feedback for {student}"
        page = page_text(feedback.read_text(encoding="utf-8"))
        assert f"Score: {scores[student]} / {maximum}" in page, f"{student}'s feedback shows the exported score"
        submitted = (course / "submitted" / student / assignment / notebook).read_text(encoding="utf-8")
        leaked = [line for line in hidden_test_lines(assignment, exclude=submitted) if line in page]
        assert leaked == [], f"hidden-test lines in {student}'s feedback: {leaked}"
        for path in (str(course), str(REPO), sys.prefix, "site-packages"):
            assert path not in page, f"the grader's path {path} in {student}'s feedback"
    for student in ("hidden_wrong",):
        page = (course / "feedback" / student / assignment / notebook.replace(".ipynb", ".html")).read_text(
            encoding="utf-8"
        )
        assert "A hidden test failed" in page_text(page), student

    # Export: the full student's written parts wait for a grader, and the export says so.
    assert rows["full"]["needs_manual_grade"] == "yes"
    assert rows["full"]["ungraded_parts"].split() == [f"{assignment}:{g}" for g in sorted(written)]
    assert {rows[s]["needs_manual_grade"] for s in rows if s != "full"} == {"no"}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "e2ee-online-safety") as gb:
        for grade_id in written:
            grade = gb.find_grade(grade_id, assignment, assignment, "full")
            grade.manual_score = 1.0
            grade.needs_manual_grade = False
        gb.db.commit()
    nbgrader(course, "export", "--to", "graded.csv")
    with open(course / "graded.csv", newline="") as fh:
        after = {row["student_id"]: row for row in csv.DictReader(fh)}
    assert (after["full"]["needs_manual_grade"], after["full"]["ungraded_parts"]) == ("no", "")
    assert float(after["full"]["score"]) == full + len(written)
