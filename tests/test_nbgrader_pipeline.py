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

ASSIGNMENT = "ex01_encryption"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
TIMEOUT = 5  # seconds per cell, so the looping submission costs little


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real nbgrader command line in ``course``; fail with its output if it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, f"--Execute.timeout={TIMEOUT}"],
        cwd=course, env=venv_env(), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _solution_answers() -> dict[str, str]:
    nb = nbformat.read(REPO / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    answers = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            source = re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", cell.source, flags=re.M)
            answers[meta["grade_id"]] = source
    return answers


def _submit(course: Path, student: str, answers: dict[str, str]) -> None:
    """A student's submission: the release notebook with some answer cells filled in."""
    nb = nbformat.read(course / "exercises" / ASSIGNMENT / NOTEBOOK, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / NOTEBOOK)


def test_generate_autograde_feedback_export(tmp_path: Path) -> None:
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    start = time.perf_counter()

    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    answers = _solution_answers()
    assert set(answers) == {f"part-{p}-answer" for p in "abcde"}
    _submit(course, "full", answers)
    _submit(course, "blank", {})
    _submit(course, "partial", {k: v for k, v in answers.items() if k in ("part-a-answer", "part-b-answer")})
    _submit(course, "looping", {"part-a-answer": "while True:\n    pass"})

    autograde = time.perf_counter()
    nbgrader(course, "autograde", ASSIGNMENT, "--force")
    autograde = time.perf_counter() - autograde
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--force")
    nbgrader(course, "export", "--to", "grades.csv")
    record_timing("nbgrader", "pipeline (generate, 4 submissions, autograde, feedback, export)", time.perf_counter() - start)
    record_timing("nbgrader", "autograde of 4 submissions", autograde)

    with open(course / "grades.csv", newline="") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    scores = {student: float(row["score"]) for student, row in rows.items()}
    assert scores == {"full": 10.0, "blank": 0.0, "partial": 4.0, "looping": 0.0}
    assert {float(row["max_score"]) for row in rows.values()} == {13.0}  # 10 autograded + 3 by hand

    looped = nbformat.read(course / "autograded" / "looping" / ASSIGNMENT / NOTEBOOK, as_version=4)
    timeouts = [
        o for c in looped.cells for o in c.get("outputs", []) if o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError"
    ]
    assert timeouts, "the infinite loop was stopped by Execute.timeout"

    for student in scores:
        feedback = course / "feedback" / student / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")
        assert feedback.exists(), f"no feedback for {student}"
