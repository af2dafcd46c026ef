"""nbgrader pieces that make the course's grading trustworthy.

The course's ``nbgrader_config.py`` plugs these into nbgrader; nothing here runs
in a student's notebook.

* :class:`GuardedExecute` runs the notebook like nbgrader's ``Execute``, but just
  before every test cell it resets what a student's earlier cell could have
  changed in IPython itself: input and AST transformers (which can rewrite a test
  into ``pass``), methods replaced on the shell, trace functions, and global names
  that shadow the built-ins the tests use (``type``, ``len``, …).  The reset is
  sent as a *user expression* of an empty request, which IPython evaluates without
  passing it through any transformer.  If it fails, the test cell scores 0.
* :class:`RestoreTestCells` is nbgrader's ``OverwriteCells`` without the false
  alarm: nbgrader stores a test cell's checksum *with* its hidden tests but
  releases the cell *without* them, so every untouched test cell used to log
  "Attribute 'checksum' … has changed!".  Here a cell that is exactly as released
  is restored silently, and only a changed one is reported.
* :class:`ScrubHiddenTests` prepares feedback: hidden-test regions removed from the
  source, an error raised inside one replaced by "a hidden test failed", and the
  grader's file paths cut out of every traceback, with scores untouched.
* :class:`FlaggingCsvExport` is nbgrader's CSV export with two more columns saying
  which submissions still have parts waiting to be graded by hand.

Hidden tests that must run course or PyNaCl code take it from
:func:`toychat.fresh.fresh_import` (a separate module, so that a test cell does not
import nbgrader).
"""

from __future__ import annotations

import copy
import csv
import re
from pathlib import Path
from typing import Any

from jupyter_core.utils import ensure_async, run_sync
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins.export import CsvExportPlugin
from nbgrader.preprocessors import ClearHiddenTests, Execute, OverwriteCells
from traitlets import List, Unicode

__all__ = [
    "EXERCISE_HEADER",
    "FlaggingCsvExport",
    "GuardedExecute",
    "RestoreTestCells",
    "ScrubHiddenTests",
    "exercise_header",
    "hidden_lines",
    "scrub_paths",
    "strip_hidden_tests",
]

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def strip_hidden_tests(source: str) -> str:
    """``source`` without its ``### BEGIN/END HIDDEN TESTS`` regions, exactly as
    ``nbgrader generate_assignment`` releases it."""
    cell = NotebookNode(cell_type="code", source=source, metadata={})
    ClearHiddenTests(enforce_metadata=False)._remove_hidden_test_region(cell)
    return cell.source


def hidden_lines(source: str) -> list[tuple[int, str]]:
    """(1-based line number, text) of every line inside a hidden-test region,
    delimiters included."""
    found, inside = [], False
    for number, line in enumerate(source.split("\n"), start=1):
        if BEGIN in line:
            inside = True
        if inside:
            found.append((number, line))
        if END in line:
            inside = False
    return found


# --------------------------------------------------------------------------- autograde

#: Built-ins the course's tests use: a global of the same name, set by a student's
#: cell, is removed before each test so that ``type(x) is bytes`` means what it says.
GUARDED_BUILTINS = (
    "type",
    "isinstance",
    "len",
    "abs",
    "all",
    "any",
    "int",
    "float",
    "str",
    "bytes",
    "bool",
    "list",
    "tuple",
    "set",
    "range",
    "zip",
    "sorted",
    "round",
    "sum",
    "AssertionError",
)
#: Methods of the IPython shell a student's cell could replace on the instance.
SHELL_METHODS = (
    "run_cell",
    "run_cell_async",
    "_run_cell",
    "transform_cell",
    "transform_ast",
    "run_ast_nodes",
    "run_code",
    "should_run_async",
    "showtraceback",
    "user_expressions",
    "ev",
    "ex",
)
GUARD_TOKEN = "test cell guarded"

#: One Python expression, evaluated by IPython as a user expression (never transformed).
GUARD_EXPRESSION = (
    "(lambda ip, b, sys, fresh: ("
    " setattr(ip, 'input_transformer_manager', fresh()),"
    " ip.input_transformers_post.clear(),"
    " ip.ast_transformers.clear(),"
    f" [ip.__dict__.pop(name, None) for name in {SHELL_METHODS!r}],"
    " ip.user_ns.__setitem__('__builtins__', b),"
    f" [ip.user_ns.pop(name) for name in {GUARDED_BUILTINS!r}"
    "  if name in ip.user_ns and ip.user_ns[name] is not getattr(b, name)],"
    " sys.settrace(None), sys.setprofile(None),"
    f" {GUARD_TOKEN!r})[-1])("
    "__import__('IPython').get_ipython(), __import__('builtins'), __import__('sys'),"
    " __import__('IPython.core.inputtransformer2', fromlist=['TransformerManager']).TransformerManager)"
)


class GuardedExecute(Execute):
    """nbgrader's ``Execute``, resetting IPython before every test cell (see the module
    docstring).  Configure it in place of ``Execute`` in ``Autograde.autograde_preprocessors``;
    ``Execute.timeout`` and the other ``Execute`` settings still apply."""

    async def _guard(self, cell: NotebookNode) -> str | None:
        """Reset the kernel for a test cell; None if that worked, else why not."""
        assert self.kc is not None
        msg_id = await ensure_async(
            self.kc.execute("", silent=True, store_history=False, user_expressions={"guard": GUARD_EXPRESSION})
        )
        reply = await self.async_wait_for_reply(msg_id, cell)
        if reply is None:
            return "no reply from the kernel"
        content = reply["content"]
        result = content.get("user_expressions", {}).get("guard", {})
        if content.get("status") != "ok" or result.get("status") != "ok":
            return f"{result.get('ename', content.get('ename', 'error'))}: {result.get('evalue', '')}"
        if result.get("data", {}).get("text/plain") != repr(GUARD_TOKEN):
            return "an unexpected answer from the kernel"
        return None

    async def async_execute_cell(
        self, cell: NotebookNode, cell_index: int, execution_count: int | None = None, store_history: bool = True
    ) -> NotebookNode:
        problem = None
        if cell.cell_type == "code" and utils.is_grade(cell) and cell.source.strip():
            problem = await self._guard(cell)
        cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if problem is not None:
            cell.outputs.append(
                NotebookNode(
                    output_type="error",
                    ename="GradingGuardError",
                    evalue=f"the grader could not reset the notebook before this test ({problem})",
                    traceback=[
                        f"GradingGuardError: the grader could not reset the notebook before this test ({problem})"
                    ],
                )
            )
        return cell

    # nbclient binds the synchronous wrapper to its own coroutine: bind it to ours.
    execute_cell = run_sync(async_execute_cell)


class RestoreTestCells(OverwriteCells):
    """nbgrader's ``OverwriteCells`` that does not report a test cell whose only
    difference from the gradebook is its hidden tests, removed at release: that is
    every untouched cell.  Any other change is reported, and every cell is restored,
    exactly as before.  Configure it in place of ``OverwriteCells`` in
    ``Autograde.sanitize_preprocessors``."""

    _as_released = False

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, cell_index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        self._as_released = False
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            try:
                source_cell = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:
                pass
            else:
                released = copy.deepcopy(cell)
                released.source = strip_hidden_tests(source_cell.source)
                released.metadata.nbgrader["checksum"] = source_cell.checksum
                self._as_released = (
                    cell.cell_type == source_cell.cell_type
                    and cell.source == released.source
                    and utils.compute_checksum(cell) == utils.compute_checksum(released)
                )
        return super().preprocess_cell(cell, resources, cell_index)

    def report_change(self, name: str, attr: str, old: Any, new: Any) -> None:
        if attr == "checksum" and self._as_released:
            return
        self.log.warning(
            "Cell %s was changed by the student (%s should be %s, got %s); the original is restored",
            name,
            attr,
            old,
            new,
        )


# --------------------------------------------------------------------------- feedback

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: An absolute path of at least two parts: its folders are the grader's, not the student's.
_PATH = re.compile(r"(?<![\w.~/-])/(?:[\w.+@~-]+/)+(?=[\w.+@~-])")
_FRAME = re.compile(r"Cell In\s*\[(\d+)\],\s*line (\d+)")


def scrub_paths(text: str) -> str:
    """``text`` with the folders of every absolute path removed (file names kept)."""
    return _PATH.sub("", text)


class ScrubHiddenTests(ClearHiddenTests):
    """Feedback without hidden tests: their source removed (as ``ClearHiddenTests``
    does), an error raised from a hidden region replaced by :attr:`notice`, no line of
    a hidden region left in any traceback, no other output of a cell with hidden tests
    (a student's code could print the hidden inputs), and no grader's folder in any
    output.  Scores come from the gradebook and are unchanged.  Configure it after
    ``GetGrades`` in ``GenerateFeedback.preprocessors``."""

    notice = Unicode(
        "A hidden test failed: the grader also checks your answer on other inputs. "
        "Read the part's instructions again and test your code on cases of your own.",
        help="What a student sees in place of an error raised by a hidden test.",
    ).tag(config=True)

    #: Set by the HTML exporter for every preprocessor; declared (as ``GetGrades`` does)
    #: so that nbgrader does not warn that the option is not recognised.
    display_data_priority = List(
        ["text/html", "application/pdf", "text/latex", "image/svg+xml", "image/png", "image/jpeg", "text/plain"],
    ).tag(config=True)

    def _from_hidden(self, output: NotebookNode, execution_count: int | None, region: set[int]) -> bool:
        """Was this error raised in the hidden region (or can we not tell)?"""
        text = _ANSI.sub("", "\n".join(output.get("traceback", [])))
        for count, line in _FRAME.findall(text):
            if execution_count is not None and int(count) == execution_count:
                return int(line) in region
        return True

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, cell_index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        is_test = utils.is_grade(cell) and not utils.is_solution(cell)
        if cell.cell_type == "code":
            hidden = hidden_lines(cell.source) if is_test else []
            if hidden:
                region = {number for number, _ in hidden}
                texts = [text.strip() for _, text in hidden if text.strip()]
                outputs = []
                for output in cell.outputs:
                    if output.output_type != "error":
                        continue  # printed by a test cell with hidden inputs: dropped
                    if self._from_hidden(output, cell.get("execution_count"), region):
                        outputs.append(
                            NotebookNode(
                                output_type="error",
                                ename="HiddenTestFailed",
                                evalue=self.notice,
                                traceback=[f"HiddenTestFailed: {self.notice}"],
                            )
                        )
                    else:
                        output.traceback = [
                            line
                            for line in output.get("traceback", [])
                            if not any(text in _ANSI.sub("", line) for text in texts)
                        ]
                        outputs.append(output)
                cell.outputs = outputs
            for output in cell.outputs:
                if output.output_type == "error":
                    output.evalue = scrub_paths(output.get("evalue", ""))
                    output.traceback = [scrub_paths(line) for line in output.get("traceback", [])]
                elif output.output_type == "stream":
                    output.text = scrub_paths(output.text)
        if not is_test:  # a student's own cell may mention the delimiters: it is theirs to see
            return cell, resources
        return super().preprocess_cell(cell, resources, cell_index)


# --------------------------------------------------------------------------- export


class FlaggingCsvExport(CsvExportPlugin):
    """nbgrader's CSV export plus two columns: ``needs_manual_grade`` (``yes`` while any
    part of a submission waits for a grader, ``no`` otherwise, empty for no submission)
    and ``ungraded_parts`` (those parts' cell ids, e.g. ``ex01_encryption:part-f-answer``,
    separated by spaces).  Use with ``ExportApp.plugin_class``."""

    def export(self, gradebook: Gradebook) -> None:
        super().export(gradebook)
        dest = self.to or "grades.csv"
        with open(dest, newline="") as fh:
            rows = list(csv.DictReader(fh))
        for row in rows:
            try:
                submission = gradebook.find_submission(row["assignment"], row["student_id"])
            except MissingEntry:
                row["needs_manual_grade"], row["ungraded_parts"] = "", ""
                continue
            waiting = [
                f"{notebook.name}:{grade.name}"
                for notebook in submission.notebooks
                for grade in notebook.grades
                if grade.needs_manual_grade
            ]
            row["needs_manual_grade"] = "yes" if waiting else "no"
            row["ungraded_parts"] = " ".join(sorted(waiting))
        fields = list(rows[0]) if rows else []
        with open(dest, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        flagged = sum(row["needs_manual_grade"] == "yes" for row in rows)
        if flagged:
            self.log.warning(
                "%d submission(s) still have parts to grade by hand: see the needs_manual_grade "
                "and ungraded_parts columns of %s",
                flagged,
                dest,
            )


#: The notebook nbgrader puts at the top of every released exercise (its
#: ``IncludeHeaderFooter.header``), relative to the course root: in the source
#: folder, as nbgrader's documentation does it, beside the assignments' folders.
EXERCISE_HEADER = Path("solutions", "header.ipynb")


def exercise_header(course_root: str | Path) -> str:
    """The absolute path of :data:`EXERCISE_HEADER`: in ``course_root`` if it is there,
    otherwise in the course repository this package is imported from (a course folder
    that copied only ``nbgrader_config.py`` and some assignments).  If neither has it,
    the path in ``course_root``: ``generate_assignment`` then stops with a missing-file
    error rather than release an exercise without it, while commands that never add the
    header (``autograde`` in a grading copy without ``solutions/``) still run."""
    candidates = [root / EXERCISE_HEADER for root in (Path(course_root).resolve(), Path(__file__).resolve().parents[1])]
    return str(next((path for path in candidates if path.is_file()), candidates[0]))
