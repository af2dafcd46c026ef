"""A bound on what a graded notebook may print, so that one student's flood of output costs
neither the grader nor the class.

nbclient, which nbgrader's ``Execute`` is built on, keeps every output message of every cell
in memory, with no limit; nbgrader's ``LimitOutput`` trims stream output to a number of
*lines* only afterwards (a single line of a gigabyte passes, and so do displayed values and
error messages), and the autograded notebook, the gradebook's copy and the feedback then carry
whatever is left.  A submission that prints a gigabyte would make the grader hold it, write it
and render it.

:class:`OutputBound` (mixed into :class:`BoundedExecute`, the course's executing preprocessor)
counts the bytes of every output as it arrives:

* past :attr:`~OutputBound.max_cell_output_bytes` in one cell, the rest of that cell's output
  is discarded (the cell ends with one note saying so) and the kernel is interrupted, so a
  printing loop stops instead of running to the cell's timeout; a test cell stopped that way
  fails, and scores nothing;
* past :attr:`~OutputBound.max_output_bytes` in the whole notebook, later output is discarded
  the same way, without stopping anything;
* the submission is flagged in the gradebook (and the export's ``flagged`` column), with the
  reason in the log, as :class:`toychat.grading.CheckTestCells` flags a malformed notebook.

Other students are graded as usual: the bound is per notebook.  What it does not bound: the
size of one message the kernel sends (ipykernel sends what a cell wrote in the last 0.2 s as
one message; a kernel could send more at once), which the grader still receives and decodes
before discarding it; the sandbox's memory limit bounds it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from jupyter_core.utils import ensure_async, run_sync
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook
from traitlets import Integer
from traitlets.config import Configurable

from .grading import SealedExecute

__all__ = ["BoundedExecute", "OutputBound", "output_size"]


def output_size(msg: dict[str, Any]) -> int:
    """The size in bytes of an output message's content, as JSON (what nbgrader would store).

    >>> output_size({"content": {"name": "stdout", "text": "hello"}})
    35
    """
    return len(json.dumps(msg.get("content", {}), ensure_ascii=False).encode("utf-8"))


class OutputBound(Configurable):
    """Bounds on a notebook's output while it runs (see the module's description); mix it in
    before an nbclient-based executing preprocessor."""

    max_cell_output_bytes = Integer(
        1024**2, help="Most bytes of output one cell may produce; more is discarded and the cell stopped."
    ).tag(config=True)
    max_output_bytes = Integer(
        4 * 1024**2, help="Most bytes of output a whole notebook may produce; more is discarded."
    ).tag(config=True)

    _notebook_bytes = 0
    _cell_bytes = 0
    _cell_over = False
    _saved_iopub: tuple[int, bool] | None = None
    _reasons: list[str]

    # ----------------------------------------------------------------- accounting

    def output(
        self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        size = output_size(msg)
        self._cell_bytes += size
        flooding = self._cell_bytes > self.max_cell_output_bytes
        full = self._notebook_bytes + size > self.max_output_bytes
        if not (self._cell_over or flooding or full):
            self._notebook_bytes += size
            return super().output(outs, msg, display_id, cell_index)  # type: ignore[misc,no-any-return]
        if not self._cell_over:
            self._cell_over = True
            if flooding:
                reason = f"cell {cell_index} printed more than {self.max_cell_output_bytes} bytes"
                self._reasons.append(reason)
                outs.append(self._note(f"{reason}: the rest was discarded and the cell was stopped"))
                self._interrupt()
                self._drain()
            else:
                reason = f"the notebook printed more than {self.max_output_bytes} bytes"
                if reason not in self._reasons:
                    self._reasons.append(reason)
                outs.append(self._note(f"{reason}: the rest of this cell's output was discarded"))
        return None

    @staticmethod
    def _note(text: str) -> NotebookNode:
        return NotebookNode(output_type="stream", name="stderr", text=f"\n[grader: {text}]\n")

    def _interrupt(self) -> None:
        """Stop the cell that floods (the loop would otherwise run to its timeout)."""
        km = getattr(self, "km", None)
        if km is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.create_task(ensure_async(km.interrupt_kernel()))

    def _drain(self) -> None:
        """For the rest of this cell, wait for the kernel's backlog (already written, so not
        stopped by the interrupt) for up to the cell's timeout, discarding it, so that it does
        not spill into the next cell's wait; and if even that is not enough, go on rather than
        fail the notebook, which nbgrader would then not grade at all."""
        executor: Any = self
        self._saved_iopub = (executor.iopub_timeout, executor.raise_on_iopub_timeout)
        executor.iopub_timeout = max(executor.iopub_timeout, executor.timeout or 60)
        executor.raise_on_iopub_timeout = False

    async def async_execute_cell(
        self, cell: NotebookNode, cell_index: int, execution_count: int | None = None, store_history: bool = True
    ) -> NotebookNode:
        self._cell_bytes, self._cell_over = 0, False
        try:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)  # type: ignore[misc,no-any-return]
        finally:
            if self._saved_iopub is not None:
                executor: Any = self
                executor.iopub_timeout, executor.raise_on_iopub_timeout = self._saved_iopub
                self._saved_iopub = None

    # nbclient binds the synchronous wrapper to its own coroutine: bind it to ours.
    execute_cell = run_sync(async_execute_cell)

    # ----------------------------------------------------------------- the notebook

    def preprocess(
        self, nb: NotebookNode, resources: ResourcesDict, km: Any = None
    ) -> tuple[NotebookNode, ResourcesDict]:
        self._notebook_bytes, self._reasons = 0, []
        nb, resources = super().preprocess(nb, resources, km=km)  # type: ignore[misc]
        if self._reasons:
            self._flag(resources, "; ".join(self._reasons))
        return nb, resources

    def _flag(self, resources: ResourcesDict, why: str) -> None:
        """Mark the submitted notebook flagged in the gradebook and say why in the log."""
        info = resources.get("nbgrader", {})
        log: Any = getattr(self, "log")  # noqa: B009 (the preprocessor's logger)
        log.warning(
            "FLAGGED submission of %s (%s/%s): %s",
            info.get("student"),
            info.get("assignment"),
            info.get("notebook"),
            why,
        )
        if "db_url" not in info:
            return
        with Gradebook(info["db_url"]) as gb:
            submitted = gb.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
            submitted.flagged = True
            gb.db.commit()


class BoundedExecute(OutputBound, SealedExecute):
    """The course's :class:`toychat.grading.SealedExecute` (sandboxed student kernel, tests in a
    trusted kernel), with :class:`OutputBound`'s limits.  Configure it in its place in
    ``Autograde.autograde_preprocessors``; ``SealedExecute``'s and ``GuardedExecute``'s options
    apply to it."""
