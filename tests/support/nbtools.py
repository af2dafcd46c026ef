"""Shared helpers for the notebook, nbgrader and browser tests."""

from __future__ import annotations

import copy
import functools
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from toychat import kernel_wakeup
from toychat.kernel_transport import IpcKernelManager
from toychat.prose import anchored_numbers

# nbclient waits for replies on an asyncio socket: guard it against lost wake-ups
# (toychat.kernel_wakeup; without it a lesson with an interact cell can stall until its timeout).
kernel_wakeup.install()

REPO = Path(__file__).resolve().parents[2]
LESSONS = sorted((REPO / "lessons").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((REPO / "solutions").glob("*/*.ipynb"))
RELEASES = sorted((REPO / "exercises").glob("*/*.ipynb"))
ARTIFACTS = REPO / "tests" / "artifacts"

#: Appended to a notebook before it runs: prints what its code noted for its prose (toychat.prose).
REPORT_NOTED = "import json as _json, toychat.prose as _prose; print(_json.dumps(_prose.NOTED))"
#: Appended after it: prints each figure's alt text and the numbers in it the figure does not show
#: (recorded while the lesson ran with ``TOYCHAT_CHECK_ALT_TEXT`` set; toychat.figures).
REPORT_SHOWN = "import json as _json, toychat.figures as _figures; print(_json.dumps(_figures.SHOWN))"


def wrongly_anchored(nb: nbformat.NotebookNode, own: str, noted: dict[str, str]) -> list[tuple[str, str, str]]:
    """(written, name, computed) for every number in ``nb``'s Markdown anchored to a figure named
    ``own…`` that differs from what the code noted (``computed`` is "never noted" if it noted none)."""
    anchored = [pair for cell in nb.cells if cell.cell_type == "markdown" for pair in anchored_numbers(cell.source)]
    return [
        (written, name, noted.get(name, "never noted"))
        for written, name in anchored
        if name.startswith(own) and written != noted.get(name)
    ]


def venv_env(**extra: str) -> dict[str, str]:
    """The environment for subprocesses: this interpreter's ``bin/`` first on PATH
    (nbgrader runs the ``alembic`` executable from PATH), matplotlib headless."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["MPLBACKEND"] = "Agg"
    env.update(extra)
    return env


def execute_notebook(
    path: Path, *, cwd: Path | None = None, timeout: int = 120, allow_errors: bool = False
) -> tuple[nbformat.NotebookNode, float]:
    """Run a notebook top to bottom with a real kernel; return it and the seconds taken."""
    nb = nbformat.read(path, as_version=4)
    return run_notebook(nb, cwd=cwd or path.parent, timeout=timeout, allow_errors=allow_errors)


def run_notebook(
    nb: nbformat.NotebookNode, *, cwd: Path, timeout: int = 120, allow_errors: bool = False
) -> tuple[nbformat.NotebookNode, float]:
    """Run an in-memory notebook top to bottom in ``cwd`` with a real kernel (on Unix sockets, not
    TCP: toychat.kernel_transport); return it and the seconds taken."""
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        kernel_manager_class=IpcKernelManager,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd)}},
    )
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


#: Appended to a lesson before it runs: prints what the lesson noted for its prose (toychat.prose),
#: as JSON, in the notebook's last cell (read by tests/test_notebooks.py; prints no figure).
REPORT_NOTED = "import json as _json, toychat.prose as _prose; print(_json.dumps(_prose.NOTED))"
#: Appended after it: prints each figure's alt text and the numbers in it the figure does not show
#: (recorded while the lesson ran with ``TOYCHAT_CHECK_ALT_TEXT`` set; toychat.figures).
REPORT_SHOWN = "import json as _json, toychat.figures as _figures; print(_json.dumps(_figures.SHOWN))"

#: Seconds a lesson's cell may take in :func:`executed_lesson` (its readers: the notebook test, the site test).
LESSON_CELL_TIMEOUT = 120


@contextmanager
def _inline_backend() -> Iterator[None]:
    """Kernels inherit the environment: without ``MPLBACKEND`` they use the inline backend, as a
    reader's kernel does, so every figure a lesson draws is an image output; with
    ``TOYCHAT_CHECK_ALT_TEXT`` each figure's alt text is checked against it as it is shown."""
    saved = os.environ.pop("MPLBACKEND", None)
    checked = os.environ.get("TOYCHAT_CHECK_ALT_TEXT")
    os.environ["TOYCHAT_CHECK_ALT_TEXT"] = "1"  # figures' alt texts are checked as they are shown
    try:
        yield
    finally:
        if saved is not None:
            os.environ["MPLBACKEND"] = saved
        if checked is None:
            os.environ.pop("TOYCHAT_CHECK_ALT_TEXT", None)
        else:
            os.environ["TOYCHAT_CHECK_ALT_TEXT"] = checked


@functools.cache
def _executed_lesson(path: Path) -> tuple[nbformat.NotebookNode, float]:
    nb = nbformat.read(path, as_version=4)
    nb.cells += [nbformat.v4.new_code_cell(REPORT_NOTED), nbformat.v4.new_code_cell(REPORT_SHOWN)]
    with _inline_backend():
        nb, seconds = run_notebook(nb, cwd=path.parent, timeout=LESSON_CELL_TIMEOUT)
    record_timing("lesson", path.name, seconds)
    return nb, seconds


def executed_lesson(path: Path) -> tuple[nbformat.NotebookNode, float]:
    """A lesson executed once per test session (inline backend, alt texts checked, in its own
    folder, errors raised), with :data:`REPORT_NOTED` and :data:`REPORT_SHOWN` appended as its last
    two cells; a fresh copy to every caller, and the seconds the one execution took.  The checks
    that only read an executed lesson share this run instead of each starting a kernel for it.  A
    failed execution is not kept: the next caller runs it again and fails too."""
    nb, seconds = _executed_lesson(path.resolve())
    return copy.deepcopy(nb), seconds


def record_timing(kind: str, name: str, seconds: float) -> None:
    """Append a timing line to tests/artifacts/timings.jsonl (a record of how long each check took)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / "timings.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"kind": kind, "name": name, "seconds": round(seconds, 2)}) + "\n")


def error_outputs(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(cell index, error name) for every error output in an executed notebook."""
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append((index, output.get("ename", "?")))
    return found
