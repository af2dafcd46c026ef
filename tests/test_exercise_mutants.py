"""The visible tests of every exercise reject the common wrong answers in
``tests/exercise_mutants.py``, and pass the model answer.

For each exercise, one kernel runs the solution notebook with its hidden tests cut
off (the visible tests alone, as a student who studies without a grader has them),
then, for every mutant, the wrong answer, that part's visible tests, and the model
answer again.  A mutant must make its visible tests fail with the error the table
names — by default an ``AssertionError`` that carries a message for the student.
"""

from __future__ import annotations

import time

import nbformat
import pytest
from nbclient import NotebookClient

from exercise_mutants import HIDDEN_ONLY, MUTANTS, Mutant
from support.nbtools import REPO, record_timing

pytestmark = pytest.mark.nbgrader

HIDDEN = "### BEGIN HIDDEN TESTS"
ASSIGNMENTS = sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir())


def _cells_by_id(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}


def _visible(source: str) -> str:
    """A test cell as the student sees it: everything before the hidden tests."""
    return source.split(HIDDEN)[0]


def _autograded_parts(nb: nbformat.NotebookNode) -> list[str]:
    return [
        c.metadata["nbgrader"]["grade_id"].removesuffix("-tests")
        for c in nb.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
    ]


def _errors(cell: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(o["ename"], o.get("evalue", "")) for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def test_every_exercise_has_a_row() -> None:
    assert sorted(MUTANTS) == ASSIGNMENTS
    assert sorted(HIDDEN_ONLY) == ASSIGNMENTS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_autograded_part_has_a_mutant(assignment: str) -> None:
    nb = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    parts = _autograded_parts(nb)
    missing = sorted(set(parts) - {m.part for m in MUTANTS[assignment]})
    assert missing == [], f"{assignment}: no wrong answer in tests/exercise_mutants.py for {missing}"
    unknown = sorted({m.part for m in MUTANTS[assignment]} - set(parts))
    assert unknown == [], f"{assignment}: mutants for parts that have no autograded tests: {unknown}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_autograded_part_says_how_it_is_graded(assignment: str) -> None:
    """After each part's test cell, a folded note says in words what the hidden tests check."""
    nb = nbformat.read(REPO / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    for part in _autograded_parts(nb):
        index = ids.index(f"{part}-tests")
        note = nb.cells[index + 1]
        assert ids[index + 1] == f"{part}-graded", f"{assignment}: no grading note right after {part}-tests"
        assert note.cell_type == "markdown"
        assert note.source.startswith("<details>"), f"{assignment} {part}: the note is folded"
        assert "How you would be graded" in note.source
        assert "hidden tests" in note.source, f"{assignment} {part}: the note says what the hidden tests check"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_visible_tests_reject_every_mutant(assignment: str) -> None:
    solution = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    by_id = _cells_by_id(solution)
    run = nbformat.v4.new_notebook(metadata=solution.metadata)
    # the model answers and the visible tests, in the notebook's order
    for cell in solution.cells:
        if cell.cell_type == "code":
            run.cells.append(nbformat.v4.new_code_cell(_visible(cell.source)))
    baseline = len(run.cells)
    plan: list[tuple[Mutant, int]] = []
    for mutant in MUTANTS[assignment]:
        start = len(run.cells)
        run.cells.append(nbformat.v4.new_code_cell(mutant.source))
        run.cells.append(nbformat.v4.new_code_cell(_visible(by_id[f"{mutant.part}-tests"].source)))
        run.cells.append(nbformat.v4.new_code_cell(by_id[f"{mutant.part}-answer"].source))  # put it right again
        plan.append((mutant, start))
    # the wrong answer only the hidden tests catch: it must pass the visible ones
    hidden_only = HIDDEN_ONLY[assignment]
    slipping = len(run.cells)
    run.cells.append(nbformat.v4.new_code_cell(hidden_only.source))
    run.cells.append(nbformat.v4.new_code_cell(_visible(by_id[f"{hidden_only.part}-tests"].source)))
    run.cells.append(nbformat.v4.new_code_cell(by_id[f"{hidden_only.part}-answer"].source))
    client = NotebookClient(
        run,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(REPO / "solutions" / assignment)}},
    )
    started = time.perf_counter()
    client.execute()
    record_timing("mutants", f"{assignment}: {len(plan)} wrong answers", time.perf_counter() - started)

    broken = [(i, _errors(c)) for i, c in enumerate(run.cells[:baseline]) if _errors(c)]
    assert broken == [], f"{assignment}: the model answer fails its visible tests: {broken}"
    passed, wrong_error, silent = [], [], []
    for mutant, start in plan:
        answer, tests, restore = run.cells[start : start + 3]
        assert _errors(answer) == [], f"{assignment} {mutant.part} ({mutant.why}): the mutant itself does not run"
        assert _errors(restore) == [], f"{assignment} {mutant.part}: the model answer did not run again"
        found = _errors(tests)
        if not found:
            passed.append(f"{mutant.part}: {mutant.why}")
        elif found[0][0] != mutant.fails_with:
            wrong_error.append(f"{mutant.part}: {mutant.why}: {found[0]}")
        elif mutant.fails_with == "AssertionError" and not found[0][1].strip():
            silent.append(f"{mutant.part}: {mutant.why}")
    assert passed == [], f"{assignment}: the visible tests pass these wrong answers: {passed}"
    assert wrong_error == [], f"{assignment}: these wrong answers fail with another error than expected: {wrong_error}"
    assert silent == [], f"{assignment}: these wrong answers fail an assertion that says nothing: {silent}"
    caught = [_errors(c) for c in run.cells[slipping : slipping + 3] if _errors(c)]
    assert caught == [], (
        f"{assignment}: HIDDEN_ONLY's wrong answer ({hidden_only.why}) no longer passes the visible tests, "
        f"so tests/test_nbgrader_pipeline.py cannot show a hidden test failing: choose another ({caught})"
    )
