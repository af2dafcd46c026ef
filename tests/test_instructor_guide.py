"""The instructor guide's nbgrader workflow, run for real from the guide's own text.

``docs/instructor_guide.md`` marks each configuration and command block with
``<!-- workflow: NAME -->``.  This test reads those blocks and runs them in
order in a temporary course, with a temporary exchange and course id and two
students (each with their own HOME and working directory, standing in for two
Unix accounts): release, fetch, answer (one correct, one blank), submit,
collect, autograde, feedback, fetch feedback, export — then checks the grades.
So the guide cannot drift from what works.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from benchmarks.classroom import (
    fill_answers,
    nbgrader_env,
    read_grades,
    solution_answers,
)
from support.grading import grade_points
from support.nbtools import REPO, record_timing

pytestmark = pytest.mark.nbgrader

GUIDE = REPO / "docs" / "instructor_guide.md"
ASSIGNMENT = "ex01_encryption"
#: The placeholders the guide uses, replaced by temporary ones here.
GUIDE_EXCHANGE, GUIDE_COURSE_ID = "/srv/nbgrader/exchange", "e2ee-online-safety"
COURSE_ID = "guide-test-course"
#: Blocks in the order the guide presents them, which is the order they must run in.
WORKFLOW = [
    "instructor-config",
    "student-config",
    "instructor-release",
    "student-fetch",
    "student-submit",
    "instructor-grade",
    "instructor-feedback",
    "student-feedback",
    "instructor-export",
]
#: A hidden-test message of ex01 Part A: in the autograded notebook, never in the feedback students get.
HIDDEN_MESSAGE = "a different key must not decrypt"


def workflow_blocks(text: str) -> dict[str, str]:
    """name -> body of every fenced block preceded by ``<!-- workflow: name -->``, in order."""
    found = re.findall(r"<!-- workflow: ([\w-]+) -->\s*\n```\w*\n(.*?)\n```", text, flags=re.S)
    names = [name for name, _ in found]
    assert len(names) == len(set(names)), f"duplicate workflow block names: {names}"
    return dict(found)


def test_guide_marks_the_whole_workflow() -> None:
    blocks = workflow_blocks(GUIDE.read_text(encoding="utf-8"))
    assert list(blocks) == WORKFLOW
    steps = [step for name in WORKFLOW for step in re.findall(r"^nbgrader (\w+)", blocks[name], flags=re.M)]
    assert steps == [
        "generate_assignment",
        "release_assignment",
        "fetch_assignment",
        "submit",
        "collect",
        "autograde",
        "generate_feedback",
        "release_feedback",
        "fetch_feedback",
        "export",
    ]
    assert "c.Exchange.root" in blocks["instructor-config"]
    assert "c.Exchange.root" in blocks["student-config"]
    assert "c.CourseDirectory.course_id" in blocks["instructor-config"] + blocks["student-config"]


def _localise(block: str, exchange: Path) -> str:
    return block.replace(GUIDE_EXCHANGE, str(exchange)).replace(GUIDE_COURSE_ID, COURSE_ID)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in nbgrader_env().items() if not k.startswith("JUPYTER")}
    env["HOME"] = str(home)
    return env


def _run(block: str, cwd: Path, home: Path, who: str) -> str:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        check=False,
        cwd=cwd,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{who} ran the guide's block and it failed:\n{block}\n{result.stdout}\n{result.stderr}", pytrace=False
        )
    return result.stdout + result.stderr


def test_guide_workflow_runs_for_real(tmp_path: Path) -> None:
    blocks = workflow_blocks(GUIDE.read_text(encoding="utf-8"))
    start = time.perf_counter()

    exchange = tmp_path / "exchange"
    exchange.mkdir()  # the guide's `sudo mkdir` step, without sudo
    course = tmp_path / "course"
    course.mkdir()
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    config = (REPO / "nbgrader_config.py").read_text(encoding="utf-8")
    (course / "nbgrader_config.py").write_text(config + "\n" + _localise(blocks["instructor-config"], exchange) + "\n")
    instructor_home = tmp_path / "home-instructor"
    instructor_home.mkdir()

    students = {"alice": solution_answers(ASSIGNMENT), "bob": {}}
    homes = {}
    for student in students:
        home = homes[student] = tmp_path / f"home-{student}"
        (home / ".jupyter").mkdir(parents=True)
        # Separate Unix accounts would give nbgrader the student's name and working directory;
        # here one account plays both students, so their config says who they are.
        (home / ".jupyter" / "nbgrader_config.py").write_text(
            _localise(blocks["student-config"], exchange)
            + f"\nc.CourseDirectory.student_id = {student!r}\nc.CourseDirectory.root = {str(home)!r}\n"
        )

    _run(blocks["instructor-release"], course, instructor_home, "the instructor")
    for student, answers in students.items():
        _run(blocks["student-fetch"], homes[student], homes[student], student)
        fetched = homes[student] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        assert fetched.exists(), f"{student} fetched the release"
        assert HIDDEN_MESSAGE not in fetched.read_text(), "the release has no hidden tests"
        fill_answers(fetched, answers)
        _run(blocks["student-submit"], homes[student], homes[student], student)

    grade_log = _run(blocks["instructor-grade"], course, instructor_home, "the instructor")
    assert "has changed" not in grade_log, "untouched submissions raise no tampering warning (§5.4)"
    assert "changed by the student" not in grade_log, "untouched submissions raise no tampering warning (§5.4)"
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["alice", "bob"]
    autograded = (course / "autograded" / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    assert HIDDEN_MESSAGE in autograded, "autograde puts the hidden tests back (which is why feedback must strip them)"

    _run(blocks["instructor-feedback"], course, instructor_home, "the instructor")
    _run(blocks["student-feedback"], homes["alice"], homes["alice"], "alice")
    [feedback] = (homes["alice"] / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html")
    html = feedback.read_text(encoding="utf-8")

    _run(blocks["instructor-export"], course, instructor_home, "the instructor")
    record_timing("nbgrader", "instructor guide workflow (2 students, ex01)", time.perf_counter() - start)

    points = grade_points(ASSIGNMENT)
    auto = sum(p for p, by_hand in points.values() if not by_hand)
    maximum = sum(p for p, _ in points.values())
    assert read_grades(course / "grades.csv") == {"alice": auto, "bob": 0.0}
    header = (course / "grades.csv").read_text().splitlines()[0].split(",")
    assert header[-2:] == ["needs_manual_grade", "ungraded_parts"], "the export columns §5.5 describes"
    assert f"Score: {auto} / {maximum}" in html, "alice's fetched feedback shows her score"
    assert HIDDEN_MESSAGE not in html, "the course's feedback setting strips hidden tests"
    assert "BEGIN HIDDEN TESTS" not in html, "the course's feedback setting strips hidden tests"
    assert "meet at the library" in html, "visible tests stay in the feedback"
    # the student's submission cache went to the temporary HOME, not the real one
    assert (homes["alice"] / ".local" / "share" / "jupyter" / "nbgrader_cache" / COURSE_ID).is_dir()
