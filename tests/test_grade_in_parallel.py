"""scripts/grade_in_parallel.py: a class graded in parallel shards ends in one consistent
gradebook whose grades equal a serial ``nbgrader autograde``, and feedback works from it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.classroom import make_course, nbgrader, nbgrader_env, read_grades, solution_answers, submit
from support.nbtools import REPO

pytestmark = pytest.mark.nbgrader

ASSIGNMENT = "ex01_encryption"
SCRIPT = REPO / "scripts" / "grade_in_parallel.py"


def _script(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=course,
        env=nbgrader_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_parallel_grading_merges_into_one_gradebook_equal_to_serial(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course", ASSIGNMENT)
    answers = solution_answers(ASSIGNMENT)
    partial = {k: v for k, v in answers.items() if k == "part-a-answer"}
    students = [f"s{i}" for i in range(5)]
    for i, student in enumerate(students):
        submit(course, ASSIGNMENT, student, [answers, partial, {}][i % 3])
    serial = tmp_path / "serial"
    shutil.copytree(course, serial)

    result = _script(course, ASSIGNMENT, "--shards", "2", "--", "--Execute.timeout=10")
    assert result.returncode == 0, result.stderr
    assert "autograded 5 submissions of ex01_encryption in 2 shards" in result.stdout
    assert not list(tmp_path.glob("grade-shards-*")), "the shard copies are removed"

    nbgrader(serial, "autograde", ASSIGNMENT)
    nbgrader(course, "export", "--to", "merged.csv")
    nbgrader(serial, "export", "--to", "serial.csv")
    merged, expected = read_grades(course / "merged.csv"), read_grades(serial / "serial.csv")
    assert merged == expected
    assert sorted(merged) == students
    assert len(set(merged.values())) == 3, "full, partial and blank submissions score differently"
    for student in students:
        assert (course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()

    # the merged course works like a serially graded one: feedback from its gradebook
    nbgrader(course, "generate_feedback", ASSIGNMENT)
    assert sorted(p.parent.parent.name for p in course.glob(f"feedback/*/{ASSIGNMENT}/{ASSIGNMENT}.html")) == students

    # grading the same class again is refused with a clear message, and changes nothing
    again = _script(course, ASSIGNMENT, "--shards", "2")
    assert again.returncode == 2
    assert "already autograded" in again.stderr
    assert "--student ID --force" in again.stderr
    nbgrader(course, "export", "--to", "after.csv")
    assert read_grades(course / "after.csv") == merged


def test_parallel_grading_refuses_a_folder_that_is_not_a_course(tmp_path: Path) -> None:
    result = _script(tmp_path, ASSIGNMENT)
    assert result.returncode == 2
    assert "no gradebook.db" in result.stderr
    assert "course directory" in result.stderr
