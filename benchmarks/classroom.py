"""A temporary nbgrader course with synthetic submissions, built by the autograding benchmark
and by the nbgrader tests (pipeline, instructor guide, hostile submissions, parallel grading,
class deployment).  It lives here rather than in ``tests/support`` because the benchmarks run
on their own (``python -m benchmarks``), without ``tests/`` on the path."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent

__all__ = [
    "REPO",
    "assignments",
    "make_course",
    "nbgrader",
    "solution_answers",
    "submit",
    "fill_answers",
    "nbgrader_env",
    "read_grades",
]


def assignments() -> list[str]:
    """Every exercise, by its folder under ``solutions/``."""
    return sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir())


def nbgrader_env() -> dict[str, str]:
    """This interpreter's ``bin/`` first on PATH: nbgrader runs ``alembic`` from PATH."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["MPLBACKEND"] = "Agg"
    return env


def nbgrader(course: Path, *args: str, cell_timeout: int = 10, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real nbgrader command line in ``course``; raise with its output if it fails
    (unless ``check`` is false: autograde exits 1 when any one submission could not be graded)."""
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, f"--Execute.timeout={cell_timeout}"],
        cwd=course,
        env=nbgrader_env(),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def make_course(root: Path, assignment: str) -> Path:
    """A fresh course directory holding one exercise's source, with its release generated."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
    nbgrader(root, "generate_assignment", assignment, "--force")
    return root


#: A solution cell whose grade_id ends so holds the instructors' working behind a model
#: *written* answer (ex04's ``part-h-working`` computes the figures its model answer quotes,
#: which the solution's own run checks): not something a student must write, so the simulated
#: students below leave it as released, and grading them costs no extra simulation.
WORKING_SUFFIX = "-working"


def solution_answers(assignment: str) -> dict[str, str]:
    """The model answers of the source notebook, by grade_id (solution fences removed),
    without the instructors' working cells (:data:`WORKING_SUFFIX`)."""
    nb = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    answers = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if str(meta.get("grade_id", "")).endswith(WORKING_SUFFIX):
            continue
        if meta.get("solution") and cell.cell_type == "code":
            answers[meta["grade_id"]] = re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", cell.source, flags=re.M)
    return answers


def fill_answers(notebook: Path, answers: dict[str, str], to: Path | None = None) -> Path:
    """Write ``answers`` (by grade_id) into a release notebook's cells, as a student would;
    save it in place or to ``to``."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    path = to or notebook
    nbformat.write(nb, path)
    return path


def submit(course: Path, assignment: str, student: str, answers: dict[str, str]) -> Path:
    """A student's submission: the release notebook with some answer cells filled in."""
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True)
    release = course / "exercises" / assignment / f"{assignment}.ipynb"
    return fill_answers(release, answers, to=folder / f"{assignment}.ipynb")


def read_grades(csv_path: Path) -> dict[str, float]:
    """student_id -> score from the CSV that ``nbgrader export`` writes."""
    with open(csv_path, newline="") as fh:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(fh)}
