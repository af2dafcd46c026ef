"""Shared helpers for the notebook, nbgrader and browser tests."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from toychat import kernel_wakeup
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
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd or path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


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
