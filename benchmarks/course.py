"""Course execution: wall time of every lesson and solution notebook against the
floor a user cannot go below (a bare kernel start, an empty notebook), and each
lesson's slowest cell against the 5 s a learner should wait at most for one cell."""

from __future__ import annotations

import statistics
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
#: The longest one lesson cell may take on a quiet machine (issue 29: "each under 5 s").
SLOWEST_CELL_TARGET_S = 5.0


#: Seconds one cell may take before the run fails (a hung kernel must not stall the benchmark).
CELL_TIMEOUT_S = 120


def _execute(path: Path, cells: dict[str, float] | None = None) -> float:
    """Wall seconds to run the notebook top to bottom in a new kernel (its start included);
    if ``cells`` is given, each code cell's own seconds go in it under the cell's id."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            began = time.perf_counter()
            client.execute_cell(cell, index)
            if cells is not None and cell.cell_type == "code":
                cells[cell.get("id") or f"cell {index}"] = time.perf_counter() - began
    return time.perf_counter() - start


def slowest_cell(runs: list[dict[str, float]]) -> tuple[str, float]:
    """The cell with the largest median time over ``runs`` (each: cell id → seconds), and that median.

    >>> slowest_cell([{"a": 1.0, "b": 4.0}, {"a": 9.0, "b": 5.0}, {"a": 2.0, "b": 6.0}])
    ('b', 5.0)
    """
    medians = {cell: statistics.median(run[cell] for run in runs) for cell in runs[0]}
    cell = max(medians, key=medians.__getitem__)
    return cell, medians[cell]


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
        runs: list[dict[str, float]] = []  # each run's seconds per cell

        def one_run(notebook: Path = path, into: list[dict[str, float]] = runs) -> float:
            into.append({})
            return _execute(notebook, into[-1])

        try:
            seconds = median_seconds(one_run, repeat=repeat)
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
        if path.parent.name == "lessons" and runs and runs[0]:
            cell, cell_seconds = slowest_cell(runs)
            results.append(
                Result(
                    "Course execution",
                    f"{path.relative_to(REPO)}: slowest cell ({cell})",
                    cell_seconds,
                    "s",
                    target=f"< {SLOWEST_CELL_TARGET_S:.0f} s",
                    met=None if quick else cell_seconds < SLOWEST_CELL_TARGET_S,
                    note="median over the runs of the cell that is slowest by its median",
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
