"""Autograde a large class in parallel and keep one consistent gradebook.

Run it from the course directory (the one holding ``nbgrader_config.py`` and
``gradebook.db``) after ``nbgrader collect``, with the interpreter that has
nbgrader installed::

    python scripts/grade_in_parallel.py ex01_encryption --shards 4

What it does:

1. splits the students in ``submitted/`` into ``--shards`` groups and gives each
   group a copy of the course (source, release, gradebook) holding only its
   students, so every SQLite gradebook has exactly one writer;
2. runs the real ``nbgrader autograde ASSIGNMENT`` in every copy at once;
3. merges the copies back: each student's ``autograded/`` folder, and their
   student, submission, grade and comment rows into the course's own
   ``gradebook.db`` (nbgrader's row ids are random UUIDs and a student's id is
   their user name, so rows from different copies never collide);
4. deletes the copies.

Afterwards the course is as if ``nbgrader autograde`` had run serially:
Formgrader, ``generate_feedback`` and ``export`` work as usual.  Each student is
graded once, in one copy, so the grades equal a serial run's
(``tests/test_grade_in_parallel.py`` and ``python -m benchmarks`` check that).

Students already autograded for this assignment are refused, because nbgrader
keeps one submission per student and assignment: re-grade one student with
``nbgrader autograde ASSIGNMENT --student ID --force``.  Arguments after ``--``
go to every ``nbgrader autograde`` (e.g. ``-- --Execute.timeout=10``).  Like
nbgrader itself, this runs student code unsandboxed (instructor guide §6).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

#: Gradebook tables that ``nbgrader autograde`` fills, in an order that respects their foreign keys.
GRADED_TABLES = ("student", "submitted_assignment", "submitted_notebook", "grade", "comment")


class ParallelGradingError(RuntimeError):
    """Something stopped parallel grading; the message says what, and the course is unchanged."""


def already_graded(course: Path, assignment: str) -> list[str]:
    """Students with a submission of ``assignment`` already in the course's gradebook."""
    with sqlite3.connect(course / "gradebook.db") as db:
        rows = db.execute(
            "SELECT s.student_id FROM submitted_assignment s JOIN assignment a ON s.assignment_id = a.id "
            "WHERE a.name = ?",
            (assignment,),
        ).fetchall()
    return sorted(student for (student,) in rows)


def split(course: Path, students: list[str], shards: int, workspace: Path) -> list[Path]:
    """Copies of ``course`` without submissions, each given every ``shards``-th student."""
    copies = []
    for k in range(min(shards, len(students))):
        copy = workspace / f"shard{k}"
        shutil.copytree(course, copy, ignore=shutil.ignore_patterns("submitted", "autograded", "feedback", "*.csv"))
        for student in students[k::shards]:
            shutil.copytree(course / "submitted" / student, copy / "submitted" / student)
        copies.append(copy)
    return copies


def autograde_all(copies: list[Path], assignment: str, extra: list[str]) -> None:
    """Run ``nbgrader autograde`` in every copy at once; raise if any run fails outright."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")  # nbgrader runs alembic
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "nbgrader", "autograde", assignment, *extra],
            cwd=copy,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for copy in copies
    ]
    failures = []
    for copy, proc in zip(copies, procs, strict=True):
        _, err = proc.communicate()
        # nbgrader exits 1 when one notebook could not be graded (that student scores 0, as serially);
        # any other exit status is a failure
        if proc.returncode not in (0, 1):
            failures.append(f"{copy.name}: exit {proc.returncode}\n{err.decode(errors='replace')[-1500:]}")
    if failures:
        raise ParallelGradingError("nbgrader autograde failed in a shard:\n" + "\n".join(failures))


def merge(course: Path, copies: list[Path], assignment: str) -> None:
    """Bring every copy's autograded notebooks and gradebook rows back into ``course``."""
    with sqlite3.connect(course / "gradebook.db") as db:
        for copy in copies:
            db.execute("ATTACH DATABASE ? AS shard", (str(copy / "gradebook.db"),))
            for table in GRADED_TABLES:
                db.execute(f"INSERT OR IGNORE INTO main.{table} SELECT * FROM shard.{table}")
            db.commit()
            db.execute("DETACH DATABASE shard")
    for copy in copies:
        for folder in sorted((copy / "autograded").glob(f"*/{assignment}")):
            target = course / "autograded" / folder.parent.name / assignment
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(folder, target)


def grade_in_parallel(course: Path, assignment: str, shards: int, extra: list[str] | None = None) -> list[str]:
    """Autograde every submitted student of ``assignment`` in ``shards`` parallel copies
    and merge them into ``course``; returns the students graded."""
    course = Path(course).resolve()
    if not (course / "gradebook.db").exists():
        raise ParallelGradingError(
            f"{course} has no gradebook.db: run this from the course directory, after `nbgrader generate_assignment`."
        )
    students = sorted(p.parent.name for p in (course / "submitted").glob(f"*/{assignment}") if p.is_dir())
    if not students:
        raise ParallelGradingError(
            f"no submissions of {assignment!r} in {course / 'submitted'}: run `nbgrader collect` first."
        )
    done = sorted(set(already_graded(course, assignment)) & set(students))
    if done:
        raise ParallelGradingError(
            f"{len(done)} student(s) already autograded for {assignment!r} ({', '.join(done[:5])}"
            f"{'…' if len(done) > 5 else ''}); re-grade them with "
            f"`nbgrader autograde {assignment} --student ID --force`."
        )
    with tempfile.TemporaryDirectory(prefix="grade-shards-", dir=course.parent) as workspace:
        copies = split(course, students, shards, Path(workspace))
        autograde_all(copies, assignment, list(extra or []))
        merge(course, copies, assignment)
    return students


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment")
    parser.add_argument(
        "--shards", type=int, default=os.cpu_count() or 2, help="copies graded at once (default: cores)"
    )
    parser.add_argument("--course", type=Path, default=Path.cwd(), help="course directory (default: here)")
    args = parser.parse_args(argv)
    if args.shards < 1:
        parser.error("--shards must be at least 1")
    try:
        students = grade_in_parallel(args.course, args.assignment, args.shards, extra)
    except ParallelGradingError as exc:
        print(f"grade_in_parallel: {exc}", file=sys.stderr)
        return 2
    print(f"autograded {len(students)} submissions of {args.assignment} in {min(args.shards, len(students))} shards")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
