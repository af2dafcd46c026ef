"""Files submitted beside the notebook are never imported by the grader (issue 25, class 6),
through a real nbgrader exchange: release → fetch → submit → collect → autograde, with the
course's ``nbgrader_config.py``.

Two students fetch ex01 and put two files beside the notebook before submitting:
``ipykernel_launcher.py`` (it would replace Jupyter's launcher if the kernel's working
directory were importable, and turns every cell into ``pass``) and ``toychat/__init__.py`` (it
would shadow the course package that the hidden tests import, with the same trick).  Both
print a marker when imported.  ``blank`` submits the notebook byte-identical to the release;
``correct`` fills in the model answers.  The files reach the instructor's ``submitted/``
folder (the exchange carries them), yet ``blank`` scores 0 and ``correct`` full marks, and
no autograded notebook shows the markers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from benchmarks.classroom import fill_answers, make_course, nbgrader_env, read_grades, solution_answers
from support.grading import grade_points
from support.nbtools import record_timing

pytestmark = pytest.mark.nbgrader

ASSIGNMENT, COURSE_ID = "ex01_encryption", "e2ee-online-safety"
TIMEOUT = 20
MARKER = "STUDENT-FILE-IMPORTED"

#: Makes every later cell ``pass`` at the class level, then starts the real kernel.
LAUNCHER = f"""print({MARKER!r}, "launcher")
import IPython.core.interactiveshell as _shell
_shell.InteractiveShell.transform_cell = lambda self, raw_cell: "pass\\n"
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""
#: Shadows the course package: the same trick, on the first ``import toychat``.
PACKAGE = f"""print({MARKER!r}, "toychat")
import IPython.core.interactiveshell as _shell
_shell.InteractiveShell.transform_cell = lambda self, raw_cell: "pass\\n"
def fresh_import(name):
    import importlib
    return importlib.import_module(name)
"""


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A real nbgrader command in ``cwd``; fail the test with its output if it fails (autograde
    exits 1 when one submission could not be graded: its scores are checked instead)."""
    env = nbgrader_env()
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, f"--Execute.timeout={TIMEOUT}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0 and args[0] != "autograde":
        pytest.fail(f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
    return result


def test_files_beside_the_notebook_are_not_imported(tmp_path: Path) -> None:
    start = time.perf_counter()
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    os.chmod(exchange, 0o1777)
    course = make_course(tmp_path / "course", ASSIGNMENT)
    with open(course / "nbgrader_config.py", "a", encoding="utf-8") as fh:
        fh.write(f"\nc.Exchange.root = {str(exchange)!r}\n")
    run(["release_assignment", ASSIGNMENT], course)
    student_side = [f"--Exchange.root={exchange}", f"--CourseDirectory.course_id={COURSE_ID}"]

    release = (course / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    for student in ("blank", "correct"):
        home = tmp_path / "home" / student
        home.mkdir(parents=True)
        run(["fetch_assignment", ASSIGNMENT, *student_side], home)
        folder = home / ASSIGNMENT
        notebook = folder / f"{ASSIGNMENT}.ipynb"
        assert notebook.read_bytes() == release, "fetched as released"
        if student == "correct":
            fill_answers(notebook, solution_answers(ASSIGNMENT))
        (folder / "ipykernel_launcher.py").write_text(LAUNCHER, encoding="utf-8")
        (folder / "toychat").mkdir()
        (folder / "toychat" / "__init__.py").write_text(PACKAGE, encoding="utf-8")
        # One Unix account plays both students (tests/test_class_isolation.py has real ones):
        # nbgrader's --student names the submission, and collect's ownership check is off.
        run(["submit", ASSIGNMENT, *student_side, f"--student={student}"], home)

    run(["collect", ASSIGNMENT, "--CollectApp.check_owner=False"], course)
    for student in ("blank", "correct"):
        submitted = course / "submitted" / student / ASSIGNMENT
        assert (submitted / "ipykernel_launcher.py").read_text(encoding="utf-8") == LAUNCHER, "carried by the exchange"
        assert (submitted / "toychat" / "__init__.py").is_file()
    assert (course / "submitted" / "blank" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes() == release

    autograde = run(["autograde", ASSIGNMENT, "--force"], course)
    run(["export", "--to", "grades.csv"], course)
    record_timing(
        "nbgrader", "sealed exchange: release, fetch, submit, collect, autograde (2)", time.perf_counter() - start
    )

    scores = read_grades(course / "grades.csv")
    full = sum(points for points, by_hand in grade_points(ASSIGNMENT).values() if not by_hand)
    assert scores == {"blank": 0.0, "correct": full}, f"{scores}\n{autograde.stderr[-3000:]}"
    for student in ("blank", "correct"):
        graded = course / "autograded" / student / ASSIGNMENT
        nb = nbformat.read(graded / f"{ASSIGNMENT}.ipynb", as_version=4)
        shown = str([cell.get("outputs", []) for cell in nb.cells])
        assert MARKER not in shown, f"{student}: a submitted file was imported"
