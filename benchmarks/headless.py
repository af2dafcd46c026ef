"""Headless runners: lessons 08 and 10 under the runners instructors use, counting hangs.

Each run is a separate process with **no cell timeout**: ``jupyter nbconvert --to notebook
--execute``, ``papermill``, and a plain ``nbclient.NotebookClient`` — none of them loads the
course's lost-wake-up guard (:mod:`toychat.kernel_wakeup`), so what is measured is whether the
lessons themselves are safe (:mod:`toychat.widgets.interact`).  A run still going after
:data:`HANG_AFTER_S` is killed and counted as a hang (a lesson takes well under a minute).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .core import Result, failed

ROOT = Path(__file__).resolve().parents[1]
NAME = "Headless runners (no timeout)"
FLOOR = "none for the hang counts, which are the figures here; the run times are each runner's own"
LESSONS = ("08_client_side_reporting.ipynb", "10_claims_and_evidence.ipynb")
#: Seconds after which a run counts as hung (each lesson runs in about 10-30 s on 2 cores).
HANG_AFTER_S = 300

_NBCLIENT = (
    "import sys, nbformat; from nbclient import NotebookClient; "
    "nb = nbformat.read(sys.argv[1], as_version=4); "
    "NotebookClient(nb, timeout=None, kernel_name='python3', "
    "resources={'metadata': {'path': sys.argv[2]}}).execute()"
)


def _command(runner: str, lesson: Path, out: Path) -> list[str]:
    bin_dir = Path(sys.executable).parent
    if runner == "nbconvert":
        return [str(bin_dir / "jupyter"), "nbconvert", "--to", "notebook", "--execute", f"--output={out}", str(lesson)]
    if runner == "papermill":
        return [str(bin_dir / "papermill"), "--cwd", str(lesson.parent), str(lesson), str(out)]
    return [sys.executable, "-c", _NBCLIENT, str(lesson), str(lesson.parent)]


def _run_once(runner: str, lesson: Path) -> float | None:
    """Seconds the run took, or None if it was still running after :data:`HANG_AFTER_S`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / lesson.name
        start = time.perf_counter()
        process = subprocess.Popen(
            _command(runner, lesson, out),
            cwd=lesson.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            start_new_session=True,
        )
        try:
            _, err = process.communicate(timeout=HANG_AFTER_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.communicate()
            return None
        if process.returncode != 0:
            raise RuntimeError(f"{runner} on {lesson.name} failed: {err.decode()[-2000:]}")
        return time.perf_counter() - start


def run(quick: bool = False) -> list[Result]:
    """20 runs of each lesson under each runner; ``quick``: lesson 00 (one ``interact``) once each."""
    runs = 1 if quick else 20
    results = []
    for lesson_name in ("00_start_here.ipynb",) if quick else LESSONS:
        lesson = ROOT / "lessons" / lesson_name
        for runner in ("nbconvert", "papermill", "nbclient"):
            try:
                times = [_run_once(runner, lesson) for _ in range(runs)]
            except Exception as exc:  # a runner that fails (not hangs) is recorded, and the others run
                results.append(failed(NAME, f"{runner}: lesson {lesson_name[:2]}, {runs} runs, no timeout", exc))
                continue
            finished = [t for t in times if t is not None]
            hangs = len(times) - len(finished)
            results.append(
                Result(
                    "Headless runners (no timeout)",
                    f"{runner}: lesson {lesson_name[:2]}, {runs} runs, no timeout",
                    hangs,
                    "hangs",
                    target="0 hangs",
                    met=hangs == 0,
                    note=f"median {statistics.median(finished):.1f} s a run" if finished else "",
                )
            )
    return results
