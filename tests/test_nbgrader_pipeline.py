"""The real nbgrader pipeline in a temporary course: generate, submit, autograde,
feedback, export — with exact scores for a full, a blank, a partly correct and
a looping submission."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from nbtools import REPO, record_timing, venv_env

pytestmark = pytest.mark.nbgrader

ASSIGNMENTS = sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir())
TIMEOUT = 10  # seconds per cell: ample for every genuine cell on a loaded machine, and the looping submission costs little


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real nbgrader command line in ``course``; fail with its output if it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, f"--Execute.timeout={TIMEOUT}"],
        cwd=course, env=venv_env(), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _source(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)


def _solution_answers(assignment: str) -> dict[str, str]:
    """The model answers of the source notebook, by grade_id (solution fences removed)."""
    answers = {}
    for cell in _source(assignment).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            source = re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", cell.source, flags=re.M)
            answers[meta["grade_id"]] = source
    return answers


def _points(assignment: str) -> dict[str, float]:
    """Points of every graded cell, by grade_id."""
    return {
        cell.metadata["nbgrader"]["grade_id"]: float(cell.metadata["nbgrader"]["points"])
        for cell in _source(assignment).cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }


def _submit(course: Path, assignment: str, student: str, answers: dict[str, str]) -> None:
    """A student's submission: the release notebook with some answer cells filled in."""
    nb = nbformat.read(course / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{assignment}.ipynb")


#: The exact scores the pipeline must produce, worked out by hand for each exercise:
#: (full marks from autograding, parts A+B only, maximum including hand-graded parts).
EXPECTED = {"ex01_encryption": (10.0, 4.0, 13.0), "ex02_chat": (12.0, 4.0, 15.0), "ex03_scanning": (12.0, 4.0, 15.0)}


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
    answers = _solution_answers(assignment)
    assert {"part-a-answer", "part-b-answer"} <= set(answers) and len(answers) >= 5
    _submit(course, assignment, "full", answers)
    _submit(course, assignment, "blank", {})
    _submit(course, assignment, "partial", {k: v for k, v in answers.items() if k in ("part-a-answer", "part-b-answer")})
    _submit(course, assignment, "looping", {"part-a-answer": "while True:\n    pass"})

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
