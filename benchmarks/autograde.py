"""Autograding a class: real ``nbgrader autograde`` over synthetic submissions
(a third full, a third parts A+B only, a third blank) against executing the same
notebooks with nbclient alone; and grading in parallel shards.

Parallel grading that keeps the gradebook consistent: split the students into
shards, give each shard its own copy of the course (so each has its own
``gradebook.db`` and SQLite never sees two writers), run ``nbgrader
autograde`` in each at once, then ``nbgrader export`` every shard and
concatenate the CSVs.  Each student is graded exactly once, so the merged
grades equal a serial run's — the benchmark checks that they do.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from .classroom import assignments, make_course, nbgrader, nbgrader_env, solution_answers, submit
from .core import Result

TARGET_RATIO = 1.5
SHARDS = 2


def _students(course: Path, assignment: str, n: int) -> list[str]:
    answers = solution_answers(assignment)
    partial = {k: v for k, v in answers.items() if k in ("part-a-answer", "part-b-answer")}
    names = [f"student{i:03d}" for i in range(n)]
    for i, name in enumerate(names):
        submit(course, assignment, name, [answers, partial, {}][i % 3])
    return names


def _grades(course: Path, name: str) -> dict[str, float]:
    nbgrader(course, "export", "--to", name)
    with open(course / name, newline="") as fh:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(fh)}


def _bare(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def _parallel(root: Path, assignment: str, course: Path, students: list[str]) -> tuple[float, dict[str, float]]:
    shards = []
    for k in range(SHARDS):
        shard = make_course(root / f"shard{k}", assignment)
        for name in students[k::SHARDS]:
            shutil.copytree(course / "submitted" / name, shard / "submitted" / name)
        shards.append(shard)
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


def run(quick: bool = False) -> list[Result]:
    n = 3 if quick else 50
    results = []
    for assignment in assignments()[:1] if quick else assignments():
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            course = make_course(root / "course", assignment)
            students = _students(course, assignment, n)
            paths = sorted(course.glob(f"submitted/*/{assignment}/{assignment}.ipynb"))
            bare = _bare(paths)
            start = time.perf_counter()
            nbgrader(course, "autograde", assignment, "--force")
            serial = time.perf_counter() - start
            serial_grades = _grades(course, "serial.csv")
            parallel, merged = _parallel(root, assignment, course, students)
        ratio = serial / bare
        results.append(Result(
            "Autograding a class", f"{assignment}: {n} submissions, nbgrader autograde", serial / n, "s/submission",
            "nbclient execution alone", bare / n, target=f"≤ {TARGET_RATIO}× bare execution",
            met=None if quick else ratio <= TARGET_RATIO,
            note=f"nbgrader takes {ratio:.2f}× bare execution (command start-up, gradebook, locked-cell checks)",
        ))
        results.append(Result(
            "Autograding a class", f"{assignment}: {SHARDS} shards in parallel", parallel / n, "s/submission",
            "serial nbgrader autograde", serial / n,
            note=f"speed-up {serial / parallel:.2f}× on 2 cores; merged grades equal the serial run's: "
                 f"{'yes' if merged == serial_grades else 'NO'}",
        ))
        if merged != serial_grades:
            raise RuntimeError(f"parallel grades differ from serial ones for {assignment}")
    return results
