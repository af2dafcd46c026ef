"""Course execution: wall time of every lesson and solution notebook against the
floor a user cannot go below (a bare kernel start, an empty notebook)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient

from .core import Result, failed, median_seconds

REPO = Path(__file__).resolve().parent.parent
NAME = "Course execution"
FLOOR = "a bare kernel start and an empty notebook, measured in the same run (the baseline column)"
PER_NOTEBOOK_TARGET_S = 30.0
COURSE_TARGET_S = 180.0


#: Seconds one cell may take before the run fails (a hung kernel must not stall the benchmark).
CELL_TIMEOUT_S = 120


def _execute(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    return time.perf_counter() - start


def _bare_kernel() -> None:
    manager, client = start_new_kernel(kernel_name="python3")
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def run(quick: bool = False) -> list[Result]:
    repeat = 1 if quick else 3
    notebooks = sorted((REPO / "lessons").glob("[0-9][0-9]_*.ipynb")) + sorted((REPO / "solutions").glob("*/*.ipynb"))
    if quick:
        notebooks = notebooks[:1]
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("pass")]), empty)
        floor = median_seconds(lambda: _execute(empty), repeat=repeat)
    kernel = median_seconds(_bare_kernel, repeat=repeat)
    results = [
        Result("Course execution", "bare kernel start", kernel, "s", note="start and stop a python3 kernel"),
        Result("Course execution", "empty notebook", floor, "s", "bare kernel start", kernel),
    ]
    total, broken = 0.0, 0
    for path in notebooks:
        try:
            seconds = median_seconds(lambda p=path: _execute(p), repeat=repeat)
        except Exception as exc:  # a failing notebook is a result, not the end of the run
            broken += 1
            results.append(failed(NAME, str(path.relative_to(REPO)), exc))
            continue
        total += seconds
        results.append(
            Result(
                "Course execution",
                str(path.relative_to(REPO)),
                seconds,
                "s",
                "empty notebook",
                floor,
                target=f"< {PER_NOTEBOOK_TARGET_S:.0f} s",
                met=None if quick else seconds < PER_NOTEBOOK_TARGET_S,
            )
        )
    results.append(
        Result(
            "Course execution",
            f"whole course ({len(notebooks)} notebooks)"
            if not broken
            else f"the {len(notebooks) - broken} of {len(notebooks)} notebooks that ran",
            total,
            "s",
            target=f"< {COURSE_TARGET_S:.0f} s",
            met=None if quick or broken else total < COURSE_TARGET_S,
            note=f"{broken} notebook(s) failed and are not in this total" if broken else "",
        )
    )
    return results
