"""Sealed grading (issue 25, first milestone), through the real ``nbgrader autograde``
with the course's ``nbgrader_config.py``.

One temporary course for ex01 and ONE ``nbgrader autograde`` run over six submissions,
shared by every test below:

* ``a_correct``: the model answers (full marks);
* ``b_malformed``: the model answers in a notebook with a test cell duplicated, one moved
  and one deleted (flagged with the reasons; the students sorted after it are still graded);
* ``c_snoop``: the model answers, plus code that tries to read ``solutions/``,
  ``gradebook.db``, ``.git`` and ``nbgrader_config.py`` by their absolute paths, the
  notebook in its working directory (autograde's copy holds the hidden tests), and to write
  into the course and the course package, printing what happened; its written answer and a
  displayed output carry ``<script>``;
* ``d_display``: nothing answered; an IPython ``pre_run_cell`` event puts a value through
  the display hook before every cell, which nbgrader read as every test cell's score;
* ``e_launcher``: the release left blank, with an ``ipykernel_launcher.py`` submitted beside
  it that turns every cell into ``pass``;
* ``f_blank``: the release left blank.

Before this milestone ``c_snoop`` read and wrote all of it, and ``d_display`` and
``e_launcher`` scored full marks (see ``test_hostile_submissions.py`` for the older tricks).
"""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from benchmarks.classroom import make_course, read_grades, solution_answers, submit
from benchmarks.classroom import nbgrader as run_nbgrader
from support.grading import grade_points
from support.nbtools import REPO, record_timing

pytestmark = pytest.mark.nbgrader

ASSIGNMENT = "ex01_encryption"
COURSE_ID = "e2ee-online-safety"
TIMEOUT = 20
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
XSS = '<script>alert("sealed-xss")</script>'

#: Tries every door of the course by absolute path (the kernel's own working directory is
#: no longer inside it) and prints one ``DOOR <name>: <outcome>`` line each.
SNOOP = """import os as _os
from pathlib import Path as _Path

def _door(name, action):
    try:
        action()
        print(f"DOOR {{name}}: OPEN")
    except Exception as exc:
        print(f"DOOR {{name}}: {{type(exc).__name__}}")

_course = _Path({course!r})
_door("solutions", lambda: print(next(_course.glob("solutions/*/*.ipynb")).read_text()[:0]))
_door("solutions-listing", lambda: _os.listdir(_course / "solutions"))
_door("gradebook", lambda: (_course / "gradebook.db").read_bytes())
_door("git", lambda: _os.listdir({repo_git!r}))
_door("config", lambda: (_course / "nbgrader_config.py").read_text())
_door("repo-solutions", lambda: _os.listdir({repo_solutions!r}))
def _hidden_beside():
    if not [p for p in _Path.cwd().rglob("*.ipynb") if "HIDDEN TESTS" in p.read_text()]:
        raise FileNotFoundError("no notebook with hidden tests here")

_door("hidden-beside", _hidden_beside)
_door("write-course", lambda: (_course / "written_by_student").write_text("x"))
_door("write-package", lambda: (_Path({package!r}) / "written_by_student.py").write_text("x"))
print("UID", _os.getuid())
print("NBGRADER_ENV", sorted(k for k in _os.environ if k.startswith("NBGRADER")))
from IPython.display import HTML as _HTML, display as _display
_display(_HTML({xss!r}))
"""

#: Before every cell, a value through the display hook: nbgrader took a test cell's first
#: ``execute_result`` as its score (a non-numeric one as full points).
DISPLAY_SCORE = """get_ipython().events.register("pre_run_cell", lambda *args: get_ipython().displayhook("full marks"))
"""

#: Submitted beside the notebook: replaces Jupyter's launcher if the working directory is
#: importable, and makes every cell ``pass`` at the class level (the per-test reset resets
#: instances, not classes).
LAUNCHER = """import IPython.core.interactiveshell as _shell
_shell.InteractiveShell.transform_cell = lambda self, raw_cell: "pass\\n"
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""


def _malform(path: Path) -> None:
    """part-a-tests duplicated, part-b-tests moved to the end, part-c-tests deleted."""
    nb = nbformat.read(path, as_version=4)

    def index(grade_id: str) -> int:
        [found] = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
        return found

    copy = nbformat.from_dict(dict(nb.cells[index("part-a-tests")]))
    copy.id = "copy-of-part-a-tests"
    nb.cells.insert(index("part-a-tests") + 1, copy)
    nb.cells.append(nb.cells.pop(index("part-b-tests")))
    del nb.cells[index("part-c-tests")]
    nbformat.write(nb, path)


class Graded:
    """The course after one autograde run: scores, log, and how to read notebooks."""

    def __init__(self, course: Path, scores: dict[str, float], log: str) -> None:
        self.course, self.scores, self.log = course, scores, log

    def outputs(self, student: str) -> str:
        """Every text the student's autograded notebook printed, raised or displayed."""
        path = self.course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        texts = []
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                texts.append(output.get("text", "") + output.get("ename", ""))
                texts.append(str(output.get("data", {}).get("text/plain", "")))
        return "\n".join(texts)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    start = time.perf_counter()
    course = make_course(tmp_path_factory.mktemp("sealed") / "course", ASSIGNMENT)
    answers = solution_answers(ASSIGNMENT)
    blank = {grade_id: STUB for grade_id in answers}
    written = [g for g, (_, by_hand) in grade_points(ASSIGNMENT).items() if by_hand]
    snoop = SNOOP.format(
        course=str(course),
        repo_git=str(REPO / ".git"),
        repo_solutions=str(REPO / "solutions"),
        package=str(REPO / "toychat"),
        xss=XSS,
    )
    students = {
        "a_correct": answers,
        "b_malformed": answers,
        "c_snoop": {
            **answers,
            "part-a-answer": snoop + "\n" + answers["part-a-answer"],
            **{g: f"Nonce reuse leaks the XOR of the plaintexts. {XSS}" for g in written},
        },
        "d_display": {**blank, "part-a-answer": DISPLAY_SCORE},
        "e_launcher": {},
        "f_blank": {},
    }
    for student, filled in students.items():
        path = submit(course, ASSIGNMENT, student, filled)
        if student == "b_malformed":
            _malform(path)
        if student == "e_launcher":
            (path.parent / "ipykernel_launcher.py").write_text(LAUNCHER)
    result = run_nbgrader(course, "autograde", ASSIGNMENT, "--force", cell_timeout=TIMEOUT, check=False)
    run_nbgrader(course, "generate_feedback", ASSIGNMENT, "--force", "--student=c_snoop", cell_timeout=TIMEOUT)
    run_nbgrader(course, "export", "--to", "grades.csv")
    record_timing("nbgrader", f"sealed grading: autograde of {len(students)} submissions", time.perf_counter() - start)
    return Graded(course, read_grades(course / "grades.csv"), result.stdout + result.stderr)


def _full() -> float:
    return sum(points for points, by_hand in grade_points(ASSIGNMENT).values() if not by_hand)


def test_correct_work_keeps_full_marks_and_blank_scores_nothing(graded: Graded) -> None:
    assert graded.scores["a_correct"] == _full()
    assert graded.scores["c_snoop"] == _full(), "the snooping found nothing, and cost nothing"
    assert graded.scores["f_blank"] == 0.0


def test_the_kernel_cannot_reach_the_course(graded: Graded) -> None:
    doors = dict(re.findall(r"^DOOR (\S+): (\w+)$", graded.outputs("c_snoop"), flags=re.M))
    assert set(doors) == {
        "solutions",
        "solutions-listing",
        "gradebook",
        "git",
        "config",
        "repo-solutions",
        "hidden-beside",
        "write-course",
        "write-package",
    }
    opened = {name for name, outcome in doors.items() if outcome == "OPEN"}
    assert not opened, doors
    assert set(doors.values()) <= {"FileNotFoundError", "PermissionError", "OSError", "StopIteration"}
    assert not (graded.course / "written_by_student").exists()
    assert not (REPO / "toychat" / "written_by_student.py").exists()


def test_the_kernel_runs_unprivileged_without_grader_environment(graded: Graded) -> None:
    text = graded.outputs("c_snoop")
    assert "UID 65534" in text
    assert "NBGRADER_ENV []" in text


def test_displayed_scores_earn_nothing(graded: Graded) -> None:
    assert graded.scores["d_display"] == 0.0
    # the displayed value is still shown (as a display, not a result)
    assert "'full marks'" in graded.outputs("d_display")


def test_launcher_beside_the_notebook_is_not_imported(graded: Graded) -> None:
    assert graded.scores["e_launcher"] == 0.0


def test_malformed_notebook_is_flagged_and_the_class_is_graded(graded: Graded) -> None:
    [line] = [line for line in graded.log.splitlines() if "FLAGGED submission of b_malformed" in line]
    assert "part-a-tests appears more than once" in line
    assert "part-c-tests was deleted" in line
    assert "not in the released order" in line
    with Gradebook(f"sqlite:///{graded.course / 'gradebook.db'}", COURSE_ID) as gb:
        flags = {
            s: gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, s).flagged for s in ("a_correct", "b_malformed")
        }
    assert flags == {"a_correct": False, "b_malformed": True}
    with open(graded.course / "grades.csv", newline="") as fh:
        flagged = {row["student_id"]: row["flagged"] for row in csv.DictReader(fh)}
    assert {s for s, flag in flagged.items() if flag == "yes"} == {"b_malformed"}
    # graded around it: the students before and after keep their marks; it loses the deleted part
    assert graded.scores["a_correct"] == _full()
    assert graded.scores["c_snoop"] == _full()
    assert graded.scores["b_malformed"] == _full() - grade_points(ASSIGNMENT)["part-c-tests"][0]


def test_feedback_escapes_what_the_student_wrote(graded: Graded) -> None:
    html = (graded.course / "feedback" / "c_snoop" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(encoding="utf-8")
    assert "sealed-xss" in html, "the student's text is shown"
    assert XSS not in html, "but never as live HTML"
