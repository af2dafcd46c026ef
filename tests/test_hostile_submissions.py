"""Hostile submissions through the real ``nbgrader autograde``, for every exercise.

One temporary course per exercise holds a correct student and one student per
trick; a single ``nbgrader autograde`` call grades them all, as it would a class.
Each test asserts what nbgrader *actually* does with the trick: most cost the
student the affected part (or the whole notebook), but some fool it, and those
are documented, with their mitigations, in ``docs/instructor_guide.md``
("What autograding cannot stop").  Everything runs under pytest's ``tmp_path``:
the file-access trick can reach the temporary course, never the repository.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbtools import REPO, record_timing

from benchmarks.classroom import (
    assignments,
    grade_points,
    make_course,
    read_grades,
    solution_answers,
    submit,
)
from benchmarks.classroom import nbgrader as run_nbgrader

pytestmark = pytest.mark.nbgrader

TIMEOUT = 10  # seconds per cell (the course default is 60); the looping student costs one of these
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
COURSE_ID = "e2ee-online-safety"

#: Per exercise: a part whose hidden test compares with a reference function from
#: ``toychat``, a wrong answer that passes that part's visible tests, and code that
#: replaces the reference with the student's own function before the tests run.
REFERENCE_PATCH = {
    "ex01_encryption": (
        "part-e",
        # keys hashed in the wrong order: right shape, changes with either key
        (
            "def fingerprint(encryption_key, verify_key):\n"
            "    digest = hashlib.sha256(bytes(verify_key) + bytes(encryption_key)).hexdigest()\n"
            "    return ' '.join(digest[i:i + 4] for i in range(0, 64, 4))\n"
        ),
        (
            "import toychat.keys\n"
            "toychat.keys.fingerprint = lambda public: fingerprint(\n"
            "    nacl.public.PublicKey(public.encryption_key), nacl.signing.VerifyKey(public.signing_key))\n"
        ),
    ),
    "ex02_chat": (
        "part-e",
        # the two outputs swapped: right sizes, keys still change every step
        (
            "def chain_step(chain_key):\n"
            "    return (hmac.new(chain_key, b'\\x01', hashlib.sha256).digest(),\n"
            "            hmac.new(chain_key, b'\\x02', hashlib.sha256).digest())\n"
        ),
        "import toychat.ratchet\ntoychat.ratchet.kdf_ck = chain_step\n",
    ),
    "ex03_scanning": (
        "part-a",
        # bits column by column instead of row by row: the visible all/none cases still pass
        (
            "def dhash_from_thumbnail(thumb):\n"
            "    thumb = np.asarray(thumb)\n"
            "    return (thumb[:, 1:] > thumb[:, :-1]).T.ravel()\n"
        ),
        (
            "hashing.difference_hash = lambda pictures: np.array(\n"
            "    [dhash_from_thumbnail(t) for t in hashing.greyscale_thumbnails(pictures, 9, 8)])\n"
        ),
    ),
    "ex04_reporting_and_metadata": (
        "part-c",
        # only the first 1,000 messages looked at: the four-account example still passes
        (
            "def minors_contacted(events, accounts):\n"
            "    events = events.iloc[:1000]\n"
            "    minor = accounts['is_minor'].to_numpy()[events['recipient'].to_numpy()]\n"
            "    counts = events[minor].groupby('sender')['recipient'].nunique()\n"
            "    return counts.reindex(range(len(accounts)), fill_value=0).astype(int)\n"
        ),
        (
            "_features = md.account_features\n"
            "def _patched(platform):\n"
            "    table = _features(platform)\n"
            "    table['minor_recipients'] = minors_contacted(platform.events, platform.accounts).to_numpy()\n"
            "    return table\n"
            "md.account_features = _patched\n"
        ),
    ),
    "ex05_claims": (
        "part-a",
        # the right labels and total, the counts in the wrong cells
        (
            "def side_by_type(claims):\n"
            "    import numpy as np\n"
            "    table = pd.crosstab(claims['side'], claims['claim_type'])\n"
            "    return pd.DataFrame(np.sort(table.to_numpy(), axis=None).reshape(table.shape),\n"
            "                        index=table.index, columns=table.columns)\n"
        ),
        (
            "def _summary(claims, column='side', by='claim_type'):\n"
            "    table = side_by_type(claims)\n"
            "    table['total'] = table.sum(axis=1)\n"
            "    table.loc['total'] = table.sum()\n"
            "    return table\n"
            "cl.summary_by = _summary\n"
        ),
    ),
}

#: Finds the course root (where gradebook.db lives) from the kernel's working
#: directory, leaves a file there, and reads the instructor's source notebook.
FILE_ACCESS = """from pathlib import Path
here = Path.cwd()
course_root = next(p for p in [here, *here.parents] if (p / "gradebook.db").exists())
(course_root / "gradebook_tamper").write_text("written by a student's answer")
source = next(course_root.glob("solutions/*/*.ipynb")).read_text()
print("READ SOURCE NOTEBOOK, hidden tests inside:", "BEGIN HIDDEN TESTS" in source)
"""

HUGE_OUTPUT_BYTES = 50_000_000


def hostile_students(assignment: str) -> dict[str, dict[str, str]]:
    """student -> answers by grade_id.  Unless said otherwise a student answers every
    part correctly, with the trick put in front of part A's answer."""
    answers = solution_answers(assignment)
    part_a = answers["part-a-answer"]
    blank = {grade_id: STUB for grade_id in answers}
    part, wrong, patch = REFERENCE_PATCH[assignment]
    return {
        "correct": answers,
        "infinite_loop": {**answers, "part-a-answer": "while True:\n    pass\n" + part_a},
        "sys_exit": {**answers, "part-a-answer": "import sys\nsys.exit()\n" + part_a},
        "os_exit": {**answers, "part-a-answer": "import os\nos._exit(1)\n" + part_a},
        "sigkill_kernel": {**answers, "part-a-answer": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n" + part_a},
        "segfault_kernel": {**answers, "part-a-answer": "import ctypes\nctypes.string_at(0)\n" + part_a},
        # test cells deleted / replaced by `pass` (see _tamper_test_cell), part A left unanswered
        "deleted_test_cell": {**answers, "part-a-answer": STUB},
        "edited_test_cell": {**answers, "part-a-answer": STUB},
        "hidden_tracebacks": {
            **answers,
            "part-a-answer": "import sys\nsys.excepthook = lambda *a: None\n"
            "get_ipython().showtraceback = lambda *a, **k: None\n" + STUB,
        },
        # nothing answered; the first answer cell makes IPython replace every later cell by `pass`
        "cell_rewriter": {
            **blank,
            "part-a-answer": 'get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])\n',
        },
        "reference_patch": {**answers, f"{part}-answer": wrong + patch},
        "wrong_no_patch": {**answers, f"{part}-answer": wrong},
        "huge_output": {**answers, "part-a-answer": f'print("x" * {HUGE_OUTPUT_BYTES})\n' + part_a},
        "file_access": {**answers, "part-a-answer": FILE_ACCESS + part_a},
    }


def _tamper_test_cell(path: Path, grade_id: str, *, delete: bool) -> None:
    nb = nbformat.read(path, as_version=4)
    [index] = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    if delete:
        del nb.cells[index]
    else:
        nb.cells[index].source = "pass"
    nbformat.write(nb, path)


def _outputs(course: Path, student: str, assignment: str) -> str:
    """All text the autograded notebook's cells printed or raised."""
    nb = nbformat.read(course / "autograded" / student / assignment / f"{assignment}.ipynb", as_version=4)
    texts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", "") + output.get("ename", "") + "".join(output.get("traceback", [])))
    return "\n".join(texts)


def _grade_class(assignment: str, root: Path) -> tuple[Path, dict[str, float], str]:
    """A course with every hostile student and a correct one, graded by ONE ``nbgrader autograde``
    and exported: the course, the scores, and autograde's log."""
    start = time.perf_counter()
    course = make_course(root / "course", assignment)
    students = hostile_students(assignment)
    manual = [g for g, (_, by_hand) in grade_points(assignment).items() if by_hand]
    for student, answers in students.items():
        if student == "correct":  # a written answer too, for the grader to mark by hand
            answers = {**answers, **{g: "Nonce reuse leaks the XOR of the plaintexts." for g in manual}}
        path = submit(course, assignment, student, answers)
        if student in ("deleted_test_cell", "edited_test_cell"):
            _tamper_test_cell(path, "part-a-tests", delete=student == "deleted_test_cell")
    autograde = run_nbgrader(course, "autograde", assignment, "--force", cell_timeout=TIMEOUT, check=False)
    run_nbgrader(course, "export", "--to", "grades.csv")
    record_timing("nbgrader", f"{assignment}: autograde of {len(students)} hostile submissions",
                  time.perf_counter() - start)
    return course, read_grades(course / "grades.csv"), autograde.stdout + autograde.stderr


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory):
    """Per exercise, graded once on first use and shared by the tests below."""
    cache: dict[str, tuple[Path, dict[str, float], str]] = {}

    def get(assignment: str) -> tuple[Path, dict[str, float], str]:
        if assignment not in cache:
            cache[assignment] = _grade_class(assignment, tmp_path_factory.mktemp(assignment))
        return cache[assignment]

    return get


@pytest.mark.parametrize("assignment", assignments())
def test_hostile_submissions_are_contained(assignment: str, graded) -> None:
    course, scores, log = graded(assignment)
    points = grade_points(assignment)
    full = sum(p for p, by_hand in points.values() if not by_hand)
    part_a = points["part-a-tests"][0]
    part, _, _ = REFERENCE_PATCH[assignment]
    patched_part = points[f"{part}-tests"][0]

    assert set(scores) == set(hostile_students(assignment)), "every submission appears in the export"
    # The correct student, graded in the same run as every trick, keeps full marks.
    assert scores["correct"] == full

    # Tricks that cost the student only the part they sit in.
    for student in ("infinite_loop", "sys_exit", "deleted_test_cell", "edited_test_cell", "hidden_tracebacks"):
        assert scores[student] == full - part_a, student
    assert "CellTimeoutError" in _outputs(course, "infinite_loop", assignment)
    # The edited test cell was put back from the gradebook and really ran (and failed).
    assert "NotImplementedError" in _outputs(course, "edited_test_cell", assignment)
    # The deleted test cell is not put back: it is simply missing, and scores nothing.
    deleted = nbformat.read(course / "autograded" / "deleted_test_cell" / assignment / f"{assignment}.ipynb", as_version=4)
    assert "part-a-tests" not in {c.metadata.get("nbgrader", {}).get("grade_id") for c in deleted.cells}
    # Hidden tracebacks: nbgrader records the kernel's error reply even with no traceback shown.
    assert "showtraceback was disabled" in _outputs(course, "hidden_tracebacks", assignment)

    # A dead kernel fails the whole notebook: no autograded copy, score 0, and
    # `nbgrader autograde` names the student and exits with status 1 — after grading everyone else.
    for student in ("os_exit", "sigkill_kernel", "segfault_kernel"):
        assert scores[student] == 0.0, student
        assert not (course / "autograded" / student / assignment / f"{assignment}.ipynb").exists()
        assert f"There was an error processing assignment '{assignment}' for student '{student}'" in log
    assert "Kernel died" in log

    # What fools nbgrader (documented in the guide, with mitigations):
    # 1. a cell that rewrites every later cell through IPython's input transformers: full marks, nothing answered;
    assert scores["cell_rewriter"] == full
    # 2. replacing the reference function a hidden test compares with: a wrong answer gets the part's points
    #    (the same wrong answer without the patch loses them, so the patch is what fooled the grader);
    assert scores["wrong_no_patch"] == full - patched_part
    assert scores["reference_patch"] == full
    # 3. reading and writing outside the submission: nbgrader does not stop it;
    assert (course / "gradebook_tamper").read_text() == "written by a student's answer"
    assert "READ SOURCE NOTEBOOK, hidden tests inside: True" in _outputs(course, "file_access", assignment)
    assert scores["file_access"] == full
    # 4. huge output: graded normally, but the 50 MB line is kept whole (LimitOutput counts lines, not bytes).
    assert scores["huge_output"] == full
    huge = course / "autograded" / "huge_output" / assignment / f"{assignment}.ipynb"
    assert huge.stat().st_size > HUGE_OUTPUT_BYTES


@pytest.mark.parametrize("assignment", assignments())
def test_reautograde_keeps_manual_grades(assignment: str, graded) -> None:
    course, before, _ = graded(assignment)
    points = grade_points(assignment)
    written = next(g for g, (_, by_hand) in points.items() if by_hand)  # the first written answer
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        grade = gb.find_grade(written, assignment, assignment, "correct")
        assert grade.needs_manual_grade, "a written answer waits for the grader"
        grade.manual_score = 2.5
        gb.db.commit()

    start = time.perf_counter()
    run_nbgrader(course, "autograde", assignment, "--force", "--student=correct", cell_timeout=TIMEOUT)
    record_timing("nbgrader", f"{assignment}: re-autograde one student with --force", time.perf_counter() - start)
    run_nbgrader(course, "export", "--to", "after.csv")
    after = read_grades(course / "after.csv")

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        grade = gb.find_grade(written, assignment, assignment, "correct")
        assert grade.manual_score == 2.5, "re-running autograde keeps the hand-given grade"
        assert grade.needs_manual_grade, "and flags it for review"
    assert after["correct"] == before["correct"] + 2.5
    assert {s: v for s, v in after.items() if s != "correct"} == {s: v for s, v in before.items() if s != "correct"}


#: Students whose code the guide's screening command must list; the others' tricks are
#: handled by nbgrader (tampered tests), the timeout (loop) or the size check (output).
SCREENED = {
    "sys_exit", "os_exit", "sigkill_kernel", "segfault_kernel", "hidden_tracebacks",
    "cell_rewriter", "reference_patch", "file_access",
}


@pytest.mark.parametrize("assignment", assignments())
def test_guide_screen_lists_the_tricks(assignment: str, graded) -> None:
    course, _, _ = graded(assignment)
    guide = (REPO / "docs" / "instructor_guide.md").read_text(encoding="utf-8")
    [command] = re.findall(r"<!-- screen -->\s*\n\s*```bash\n\s*(.*?)\n\s*```", guide, flags=re.S)
    result = subprocess.run(
        ["bash", "-c", command.replace("ex01_encryption", assignment)],
        cwd=course, capture_output=True, text=True, check=False, timeout=60,
    )
    assert result.returncode in (0, 1), result.stderr
    listed = {Path(line).parts[1] for line in result.stdout.split()}
    assert listed == SCREENED
