"""Sealed grading against unsealed: what moving the tests out of the student's kernel costs.

For every exercise, the same submissions (a third full, a third parts A+B only, a third blank)
are graded serially by ``nbgrader autograde`` twice, in two copies of one course: once with the
course's configuration (``SealedExecute`` inside ``BoundedExecute``: a sandboxed student kernel
plus a trusted kernel for the tests, every call to the student's code sent across), and once
with nbgrader's own ``Execute`` in its place (the tests in the student's kernel, no sandbox).
The grades must be equal both ways.  Target (issue 25): sealed ≤ 1.5× unsealed.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from .autograde import TARGET_RATIO, _grades, _students
from .classroom import assignments, make_course, nbgrader
from .core import Result, failed

NAME = "Sealed grading"
FLOOR = "the same submissions graded by nbgrader's own Execute, tests in the student's kernel (the baseline column)"
#: Submissions per exercise graded both sealed and unsealed (a multiple of 3: full, partial, blank).
SEALED_SAMPLE = 9
#: Appended to a copy of the course's configuration: nbgrader's own ``Execute`` in place of the
#: course's sealed executor (tests in the student's kernel, no sandbox), for comparison only;
#: the assertion makes the benchmark fail rather than compare sealed with sealed.
UNSEALED = """
_sealed = ("toychat.output_bound.BoundedExecute", "toychat.grading.SealedExecute")
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute" if name in _sealed else name for name in c.Autograde.autograde_preprocessors
]
assert "nbgrader.preprocessors.Execute" in c.Autograde.autograde_preprocessors
"""


def _sealed_against_unsealed(root: Path, assignment: str, n: int) -> Result:
    """Serial ``nbgrader autograde`` of the same ``n`` submissions with the course's sealed
    grader and with nbgrader's own ``Execute``, in two copies of one course."""
    sealed_course = make_course(root / "sealed", assignment)
    _students(sealed_course, assignment, n)
    unsealed_course = root / "unsealed"
    shutil.copytree(sealed_course, unsealed_course)
    with open(unsealed_course / "nbgrader_config.py", "a", encoding="utf-8") as config:
        config.write(UNSEALED)
    times = {}
    for name, course in (("unsealed", unsealed_course), ("sealed", sealed_course)):
        start = time.perf_counter()
        nbgrader(course, "autograde", assignment, "--force")
        times[name] = (time.perf_counter() - start) / n
    if _grades(sealed_course, "sealed.csv") != _grades(unsealed_course, "unsealed.csv"):
        raise RuntimeError(f"{assignment}: sealed and unsealed grading gave different grades")
    ratio = times["sealed"] / times["unsealed"]
    return Result(
        NAME,
        f"{assignment}: {n} submissions, nbgrader autograde serially, sealed (SealedExecute)",
        times["sealed"],
        "s/submission",
        "unsealed: nbgrader's Execute, tests in the student's kernel",
        times["unsealed"],
        target=f"≤ {TARGET_RATIO}× unsealed",
        met=ratio <= TARGET_RATIO,
        note=f"{ratio:.2f}× unsealed: a sandboxed student kernel plus a trusted kernel for the tests per "
        "notebook, and every call to the student's code sent across; same grades both ways",
    )


def run(quick: bool = False) -> list[Result]:
    results = []
    n = 3 if quick else SEALED_SAMPLE
    for assignment in assignments()[:1] if quick else assignments():
        try:
            with tempfile.TemporaryDirectory() as tmp:
                results.append(_sealed_against_unsealed(Path(tmp), assignment, n))
        except Exception as exc:  # one exercise's failure does not stop the others
            results.append(failed(NAME, f"{assignment}: {n} submissions", exc))
    return results
