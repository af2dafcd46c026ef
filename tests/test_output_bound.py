"""A submission that prints a gigabyte while it is graded (issue 25): the grader survives, the
student's notebook, the gradebook and the feedback stay small, a flood from an answer cell is
flagged, and the students graded before and after keep full marks.

One real ``nbgrader autograde`` run over four ex01 submissions with the course's
``nbgrader_config.py`` (``toychat.output_bound.BoundedExecute``: the sealed grader with the
output bound):

* ``a_correct`` and ``d_correct``: the model answers;
* ``b_flood_answer``: the model answers, then 1 GB written to stdout from its answer cell
  without a newline (nbgrader's ``LimitOutput`` counts lines, so one line passes it);
* ``c_flood_in_test``: the model answers, except that ``encrypt_text`` first writes 1 GB
  whenever it is called, that is inside part A's tests.  The tests call it in the student's
  kernel (``toychat.sealed``), where what a called function prints is discarded at the source:
  the flood reaches nobody, costs the student only the time it takes, and the answer, correct,
  keeps its points; had it written to the file descriptor instead, the grader discards that
  output before the next cell (``SealedExecute._drain_student_output``).

Without the bound nbclient holds every byte in the grader's memory and nbgrader writes it into
the autograded notebook and renders it into feedback: run by ``GuardedExecute`` alone, a cell
writing 200 MB this way reached the grader as six messages of 21 to 42 MB, all of them kept in
the notebook (grader's peak resident memory 471 MB; with the bound, 1 GB: 305 MB and a 37 kB
notebook), and the test below then fails on the sizes and the flags.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import nbformat
import pytest

from benchmarks.classroom import make_course, read_grades, solution_answers, submit
from benchmarks.classroom import nbgrader as run_nbgrader
from support.grading import grade_points
from support.nbtools import record_timing
from toychat.output_bound import OutputBound

pytestmark = pytest.mark.nbgrader

ASSIGNMENT = "ex01_encryption"
TIMEOUT = 60
EXECUTOR = "toychat.output_bound.BoundedExecute"
#: 1 GB to stdout, as one line, in 1 000 000 writes.
FLOOD = 'import sys as _sys\nfor _ in range(1_000_000):\n    _sys.stdout.write("x" * 1000)\n'
#: Small enough for any of the files a grader keeps per student.
SMALL = 8 * 1024**2


def _configure(course: Path) -> None:
    """The course's configuration, which runs the bounded executor (checked, not added)."""
    path = course / "nbgrader_config.py"
    config = path.read_text(encoding="utf-8")
    assert f'"{EXECUTOR}",' in config, "the course's configuration bounds output"
    path.write_text(config, encoding="utf-8")


def test_a_gigabyte_of_output_is_bounded_flagged_and_costs_nobody_else(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course", ASSIGNMENT)
    _configure(course)
    answers = solution_answers(ASSIGNMENT)
    flooding_function = answers["part-a-answer"].replace(
        "def encrypt_text(key: bytes, text: str) -> bytes:\n",
        "def encrypt_text(key: bytes, text: str) -> bytes:\n"
        + "\n".join("    " + line for line in FLOOD.splitlines())
        + "\n",
    )
    assert flooding_function != answers["part-a-answer"]
    students = {
        "a_correct": answers,
        "b_flood_answer": {**answers, "part-a-answer": answers["part-a-answer"] + "\n" + FLOOD},
        "c_flood_in_test": {**answers, "part-a-answer": flooding_function},
        "d_correct": answers,
    }
    for student, filled in students.items():
        submit(course, ASSIGNMENT, student, filled)

    start = time.perf_counter()
    result = run_nbgrader(course, "autograde", ASSIGNMENT, "--force", cell_timeout=TIMEOUT, check=False)
    record_timing(
        "nbgrader", "output bound: autograde of 4 submissions, two printing 1 GB", time.perf_counter() - start
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    run_nbgrader(course, "generate_feedback", ASSIGNMENT, "--force")
    run_nbgrader(course, "export", "--to", "grades.csv")

    points = grade_points(ASSIGNMENT)
    full = sum(p for p, by_hand in points.values() if not by_hand)
    scores = read_grades(course / "grades.csv")
    assert scores["a_correct"] == full
    assert scores["d_correct"] == full
    assert scores["c_flood_in_test"] == full, "what a function prints during a test is discarded, not graded"
    with open(course / "grades.csv", newline="") as fh:
        flagged = {row["student_id"] for row in csv.DictReader(fh) if row["flagged"] == "yes"}
    assert flagged == {"b_flood_answer"}
    for student in ("b_flood_answer",):
        [line] = [line for line in log.splitlines() if f"FLAGGED submission of {student}" in line]
        assert "printed more than" in line

    sizes = {"gradebook.db": (course / "gradebook.db").stat().st_size}
    for student in students:
        sizes[f"autograded/{student}"] = (
            (course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").stat().st_size
        )
        sizes[f"feedback/{student}"] = (
            (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").stat().st_size
        )
    assert {name: size for name, size in sizes.items() if size > SMALL} == {}
    nb = nbformat.read(course / "autograded" / "b_flood_answer" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    notes = [
        o.text for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stderr" and "[grader:" in o.text
    ]
    assert len(notes) == 1, "the cell says why its output stops"


def test_output_bound_defaults_leave_room_for_real_work() -> None:
    """The course's largest autograded notebooks are tens of kilobytes; the bounds are far above."""
    assert OutputBound.max_cell_output_bytes.default_value >= 1024**2
    assert OutputBound.max_output_bytes.default_value >= OutputBound.max_cell_output_bytes.default_value
