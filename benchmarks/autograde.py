"""Autograding a class: real ``nbgrader autograde`` over synthetic submissions
(a third full, a third parts A+B only, a third blank) against executing the same
notebooks with nbclient alone, and the speed-up of grading in parallel.

Grading a large class in parallel is ``scripts/grade_in_parallel.py``: it splits
the students into shards, each a copy of the course with its own
``gradebook.db`` (so SQLite never sees two writers), runs ``nbgrader
autograde`` in every copy at once, and merges the copies' gradebook rows and
autograded notebooks back into the course, which then holds one consistent
gradebook, as if graded serially.

How it is measured (so that the whole benchmark fits in a quarter of an hour):

* every exercise: the whole class graded by that script in :data:`SHARDS`
  shards (the way we recommend grading a class), against nbclient alone on
  :data:`BARE_SAMPLE` of the same submissions (equal numbers of full, partial
  and blank ones), also :data:`SHARDS` at a time, so both sides share the same
  parallelism; the sample runs once just before and once just after the
  grading, and the baseline is their mean, so a slow spell of a shared
  machine during the grading shows up on both sides;
* one exercise (:data:`SERIAL_EXERCISE`): the same class graded serially by
  ``nbgrader autograde`` in a copy of the course, which gives the speed-up and
  checks that the merged gradebook's grades equal the serial run's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from .classroom import (
    REPO,
    assignments,
    make_course,
    nbgrader,
    nbgrader_env,
    read_grades,
    solution_answers,
    submit,
)
from .core import Result, failed

NAME = "Autograding a class"
FLOOR = "nbclient alone executing the same submissions, as many at a time (the baseline column)"
TARGET_RATIO = 1.5
SHARDS = 2
#: Processes the benchmark keeps busy at once (the shards): the load it adds itself.
PARALLEL = SHARDS
#: Submissions per exercise executed by nbclient alone (a multiple of 3: full, partial, blank).
BARE_SAMPLE = 15
#: The exercise also graded serially, for the speed-up of the parallel recipe.
SERIAL_EXERCISE = "ex01_encryption"


def _students(course: Path, assignment: str, n: int) -> list[str]:
    answers = solution_answers(assignment)
    partial = {k: v for k, v in answers.items() if k in ("part-a-answer", "part-b-answer")}
    names = [f"student{i:03d}" for i in range(n)]
    for i, name in enumerate(names):
        submit(course, assignment, name, [answers, partial, {}][i % 3])
    return names


def _grades(course: Path, name: str) -> dict[str, float]:
    nbgrader(course, "export", "--to", name)
    return read_grades(course / name)


def _bare(paths: list[Path]) -> None:
    """Execute notebooks one after another with nbclient alone (errors allowed, as in a
    partial submission), in a worker process."""
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(
            nb, timeout=60, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(path.parent)}}
        ).execute()


def _bare_parallel(paths: list[Path]) -> float:
    """Seconds to execute ``paths`` with nbclient alone, :data:`SHARDS` at a time."""
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=SHARDS) as pool:
        list(pool.map(_bare, [paths[k::SHARDS] for k in range(SHARDS)]))
    return time.perf_counter() - start


def _parallel(course: Path, assignment: str) -> float:
    """Seconds for ``scripts/grade_in_parallel.py`` to grade the class, run as an instructor would."""
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "grade_in_parallel.py"),
            assignment,
            "--shards",
            str(SHARDS),
            "--",
            "--Execute.timeout=10",
        ],
        cwd=course,
        env=nbgrader_env(),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"grade_in_parallel.py failed:\n{result.stdout}\n{result.stderr[-2000:]}")
    return time.perf_counter() - start


def _check_kinds(assignment: str, grades: dict[str, float], students: list[str]) -> None:
    """Every student graded once; all full submissions score alike, as do all partial and all blank ones
    (``_students`` hands them out in turn)."""
    if sorted(grades) != sorted(students):
        raise RuntimeError(f"{assignment}: the merged shards did not grade every student exactly once")
    for kind in range(3):
        scores = {grades[name] for name in students[kind::3]}
        if len(scores) != 1:
            raise RuntimeError(f"{assignment}: identical submissions got different scores {sorted(scores)}")


def run(quick: bool = False) -> list[Result]:
    n = 3 if quick else 50
    sample = 3 if quick else BARE_SAMPLE
    results = []
    for assignment in assignments()[:1] if quick else assignments():
        try:
            results += _grade_one(assignment, n, sample, quick)
        except Exception as exc:  # one exercise's failure does not stop the others
            results.append(failed(NAME, f"{assignment}: {n} submissions", exc))
    return results


def _grade_one(assignment: str, n: int, sample: int, quick: bool) -> list[Result]:
    """One exercise: the class graded in shards against bare execution (and serially, for one)."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        course = make_course(root / "course", assignment)
        students = _students(course, assignment, n)
        serial_course = root / "serial"
        shutil.copytree(course, serial_course)  # the same submissions, for the serial run
        paths = [course / "submitted" / name / assignment / f"{assignment}.ipynb" for name in students[:sample]]
        bare_before = _bare_parallel(paths)
        parallel = _parallel(course, assignment)
        bare = (bare_before + _bare_parallel(paths)) / 2 / len(paths)  # runs either side of grading: drift cancels
        merged = _grades(course, "merged.csv")  # from the course's own, merged gradebook
        _check_kinds(assignment, merged, students)
        serial = None
        if quick or assignment == SERIAL_EXERCISE:
            start = time.perf_counter()
            nbgrader(serial_course, "autograde", assignment, "--force")
            serial = time.perf_counter() - start
            if merged != _grades(serial_course, "serial.csv"):
                raise RuntimeError(f"parallel grades differ from serial ones for {assignment}")
    per_submission = parallel / n
    ratio = per_submission / bare
    results.append(
        Result(
            "Autograding a class",
            f"{assignment}: {n} submissions, nbgrader autograde in {SHARDS} shards (grade_in_parallel.py)",
            per_submission,
            "s/submission",
            f"nbclient alone ({len(paths)} of them, {SHARDS} at a time, before and after)",
            bare,
            target=f"≤ {TARGET_RATIO}× bare execution",
            met=None if quick else ratio <= TARGET_RATIO,
            note=f"nbgrader takes {ratio:.2f}× bare execution (command start-up, gradebook, locked-cell checks, "
            f"copying and merging the shards); a class of {n} graded in {parallel:.0f} s",
        )
    )
    if serial is not None:
        results.append(
            Result(
                "Autograding a class",
                f"{assignment}: {n} submissions, nbgrader autograde serially",
                serial / n,
                "s/submission",
                f"{SHARDS} shards in parallel",
                per_submission,
                note=f"speed-up of {SHARDS} shards over serial grading: {serial / parallel:.2f}× "
                f"on {os.cpu_count()} cores; "
                "the merged gradebook's grades equal the serial run's: yes",
            )
        )
    return results
