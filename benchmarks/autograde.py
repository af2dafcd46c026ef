"""Autograding a class: real ``nbgrader autograde`` over synthetic submissions
(a third full, a third parts A+B only, a third blank) against executing the same
notebooks with nbclient alone, and the speed-up of grading in parallel shards.

Parallel grading that keeps the gradebook consistent: split the students into
shards, give each shard its own copy of the course (so each has its own
``gradebook.db`` and SQLite never sees two writers), run ``nbgrader
autograde`` in each at once, then ``nbgrader export`` every shard and
concatenate the CSVs.  Each student is graded exactly once, so the merged
grades equal a serial run's — the benchmark checks that they do.

How it is measured (so that the whole benchmark fits in a quarter of an hour):

* every exercise: all submissions graded by nbgrader in :data:`SHARDS` shards at
  once (the recipe above, the way we recommend grading a class), and the
  baseline, nbclient alone, run on :data:`BARE_SAMPLE` of the same submissions
  (equal numbers of full, partial and blank ones), also :data:`SHARDS` at a
  time, so both sides share the same parallelism;
* one exercise (:data:`SERIAL_EXERCISE`): the same class graded serially too,
  which gives the recipe's speed-up and checks that the merged grades equal
  the serial run's.
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

from .classroom import assignments, make_course, nbgrader, nbgrader_env, read_grades, solution_answers, submit
from .core import Result

TARGET_RATIO = 1.5
SHARDS = 2
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
        NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()


def _bare_parallel(paths: list[Path]) -> float:
    """Seconds to execute ``paths`` with nbclient alone, :data:`SHARDS` at a time."""
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=SHARDS) as pool:
        list(pool.map(_bare, [paths[k::SHARDS] for k in range(SHARDS)]))
    return time.perf_counter() - start


def _shard_courses(root: Path, course: Path, students: list[str]) -> list[Path]:
    """Copies of the generated course (release and gradebook), each with its share of the students."""
    shards = []
    for k in range(SHARDS):
        shard = root / f"shard{k}"
        shutil.copytree(course, shard, ignore=shutil.ignore_patterns("submitted", "autograded", "*.csv"))
        for name in students[k::SHARDS]:
            shutil.copytree(course / "submitted" / name, shard / "submitted" / name)
        shards.append(shard)
    return shards


def _parallel(root: Path, assignment: str, course: Path, students: list[str]) -> tuple[float, dict[str, float]]:
    shards = _shard_courses(root, course, students)
    start = time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, "-m", "nbgrader", "autograde", assignment, "--force", "--Execute.timeout=10"],
                         cwd=shard, env=nbgrader_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for shard in shards
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f"a parallel autograde shard failed:\n{err.decode(errors='replace')[-2000:]}")
    elapsed = time.perf_counter() - start
    merged: dict[str, float] = {}
    for k, shard in enumerate(shards):
        merged.update(_grades(shard, f"shard{k}.csv"))
    return elapsed, merged


def _check_kinds(assignment: str, grades: dict[str, float], n: int) -> None:
    """Every student graded once; all full submissions score alike, as do all partial and all blank ones."""
    if sorted(grades) != [f"student{i:03d}" for i in range(n)]:
        raise RuntimeError(f"{assignment}: the merged shards did not grade every student exactly once")
    for kind in range(3):
        scores = {grades[f"student{i:03d}"] for i in range(kind, n, 3)}
        if len(scores) != 1:
            raise RuntimeError(f"{assignment}: identical submissions got different scores {sorted(scores)}")


def run(quick: bool = False) -> list[Result]:
    n = 3 if quick else 50
    sample = 3 if quick else BARE_SAMPLE
    results = []
    for assignment in assignments()[:1] if quick else assignments():
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            course = make_course(root / "course", assignment)
            students = _students(course, assignment, n)
            parallel, merged = _parallel(root, assignment, course, students)
            _check_kinds(assignment, merged, n)
            paths = [course / "submitted" / name / assignment / f"{assignment}.ipynb" for name in students[:sample]]
            bare = _bare_parallel(paths) / len(paths)
            serial = None
            if quick or assignment == SERIAL_EXERCISE:
                start = time.perf_counter()
                nbgrader(course, "autograde", assignment, "--force")
                serial = time.perf_counter() - start
                serial_grades = _grades(course, "serial.csv")
                if merged != serial_grades:
                    raise RuntimeError(f"parallel grades differ from serial ones for {assignment}")
        per_submission = parallel / n
        ratio = per_submission / bare
        results.append(Result(
            "Autograding a class", f"{assignment}: {n} submissions, nbgrader autograde in {SHARDS} shards",
            per_submission, "s/submission", f"nbclient alone ({len(paths)} of them, {SHARDS} at a time)", bare,
            target=f"≤ {TARGET_RATIO}× bare execution", met=None if quick else ratio <= TARGET_RATIO,
            note=f"nbgrader takes {ratio:.2f}× bare execution (command start-up, gradebook, locked-cell checks); "
                 f"a class of {n} graded in {parallel:.0f} s",
        ))
        if serial is not None:
            results.append(Result(
                "Autograding a class", f"{assignment}: {n} submissions, nbgrader autograde serially", serial / n,
                "s/submission", f"{SHARDS} shards in parallel", per_submission,
                note=f"speed-up of {SHARDS} shards over serial grading: {serial / parallel:.2f}× on {os.cpu_count()} cores; "
                     "merged grades equal the serial run's: yes",
            ))
    return results
