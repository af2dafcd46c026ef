"""The classroom relay in a lecture hall: 1,000 simulated students at the class's pace (issue 31).

The same run as :mod:`benchmarks.relay_load` (a real relay in its own process, one thread per
student running the real ``Client`` over its own ``RemoteServer``), with five times the class.
Its own section because its 1,000 student threads are themselves the machine's load: the 1-minute
load average ends far above the limit whatever else runs.  So it declares that it generates its
own load (:data:`SELF_LOADING`): the run records the load before it starts and judges the section
quiet on that alone, and ``python -m benchmarks --only relay_load`` measures the 200-student class
without it.
"""

from __future__ import annotations

from .core import Result
from .relay_load import _registration_rows, _rows, run_load

__all__ = ["HALL_P99_TARGET_MS", "HALL_STUDENTS", "run"]

NAME = "Classroom relay in a lecture hall (loopback)"
FLOOR = (
    "none in its own rows: each delivered message costs the relay at least one Ed25519 check "
    "(see the machine floor) and a durable SQLite write"
)
#: The relay and the simulated students' process.
PARALLEL = 2
#: Its students' threads are its own load: judged on the load before it started only.
SELF_LOADING = True
#: The lecture hall of issue 31: this many students at the class's pace, and its p99 latency target.
HALL_STUDENTS = 1_000
HALL_P99_TARGET_MS = 1_000.0


def run(quick: bool = False) -> list[Result]:
    """One steady run of the hall; in quick mode only a few more students than the class's quick run."""
    students, seconds = (30, 4.0) if quick else (HALL_STUDENTS, 60.0)
    hall = run_load(students, seconds, seed=2)
    rows = _registration_rows(hall, judge=not quick, benchmark=NAME)
    rows += _rows(
        hall,
        f"{students} students",
        target=not quick,
        cpu_target=not quick,
        p99_target_ms=HALL_P99_TARGET_MS,
        benchmark=NAME,
    )
    return rows
