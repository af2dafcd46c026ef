"""Every exercise: the solution passes all its tests, the release fails every
autograded test until answered, the release is exactly what nbgrader makes, and
ex03 Part F's hint, followed literally, reaches an answer."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from support.nbtools import (
    REPO,
    REPORT_NOTED,
    error_outputs,
    execute_notebook,
    record_timing,
    venv_env,
    wrongly_anchored,
)

pytestmark = pytest.mark.nbgrader

ASSIGNMENTS = (
    sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir()) if (REPO / "solutions").exists() else []
)


def _notebooks(folder: str, assignment: str) -> list[Path]:
    return sorted((REPO / folder / assignment).glob("*.ipynb"))


def _graded_cells(nb: nbformat.NotebookNode) -> list[tuple[int, dict]]:
    return [
        (i, c.metadata["nbgrader"])
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
    ]


def test_there_are_exercises() -> None:
    assert "ex01_encryption" in ASSIGNMENTS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_passes_every_test(assignment: str, tmp_path: Path) -> None:
    """The solution passes every test, and its model answer's numbers (`ex04.…`) are the ones it computed."""
    for path in _notebooks("solutions", assignment):
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(REPORT_NOTED))
        nbformat.write(nb, tmp_path / path.name)
        nb, seconds = execute_notebook(tmp_path / path.name, cwd=path.parent, timeout=120, allow_errors=True)
        record_timing("solution", path.name, seconds)
        errors = error_outputs(nb)
        assert errors == [], f"{path.name}: the solution raised {errors}"
        noted = json.loads(nb.cells.pop().outputs[0]["text"])
        wrong = wrongly_anchored(nb, f"{assignment[:4]}.", noted)
        assert wrong == [], f"{path.name}: numbers in the model answer differ from the code's: {wrong}"
        graded = _graded_cells(nb)
        assert len(graded) >= 5, "each exercise has at least five autograded parts"
        assert all(nb.cells[i].execution_count for i, _ in graded), "every test cell ran"
        # nbgrader scores a test cell by its outputs: anything on stderr gives 0 points and an
        # execute_result is read as a partial score, so a passing test cell must show neither.
        scored = [
            (meta["grade_id"], o.output_type)
            for i, meta in graded
            for o in nb.cells[i].get("outputs", [])
            if o.output_type == "execute_result" or (o.output_type == "stream" and o.name == "stderr")
        ]
        assert scored == [], f"{path.name}: nbgrader would read these outputs as scores: {scored}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_fails_every_autograded_test_until_answered(assignment: str) -> None:
    releases = _notebooks("exercises", assignment)
    assert releases, f"exercises/{assignment} is missing: run nbgrader generate_assignment"
    for path in releases:
        nb, seconds = execute_notebook(path, timeout=120, allow_errors=True)
        record_timing("release", path.name, seconds)
        passing = [
            meta["grade_id"] for i, meta in _graded_cells(nb) if i not in {index for index, _ in error_outputs(nb)}
        ]
        assert passing == [], f"{path.name}: these tests pass without an answer, so they test nothing: {passing}"


def _normalised(path: Path) -> list[tuple[str, str, dict]]:
    nb = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, c.metadata.get("nbgrader", {})) for c in nb.cells]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_what_nbgrader_generates(assignment: str, tmp_path: Path) -> None:
    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    shutil.copytree(REPO / "solutions" / assignment, tmp_path / "solutions" / assignment)
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force"],
        cwd=tmp_path,
        env=venv_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    generated = sorted((tmp_path / "exercises" / assignment).glob("*.ipynb"))
    committed = _notebooks("exercises", assignment)
    assert [p.name for p in generated] == [p.name for p in committed]
    for fresh, ours in zip(generated, committed, strict=True):
        assert _normalised(fresh) == _normalised(ours), (
            f"exercises/{assignment}/{ours.name} is stale: run "
            f"`nbgrader generate_assignment {assignment} --force` and commit the result"
        )
        assert fresh.read_bytes() == ours.read_bytes()


#: The most tries ex03 Part F's hint says the plain search needs on the test pictures.
HINT_TRIES = 2_000


def _plain_hinted_search(picture, budget: float, smooth_pattern, dct_hash) -> tuple[object, int]:
    """ex03 Part F's hint written plainly: one random pattern per try, kept unless it
    brings the hash closer to the original's.  Returns the evaded copy and the tries used."""
    rng = np.random.default_rng(0)
    original = dct_hash([picture])[0]
    base = picture.astype(float)
    delta = np.zeros_like(base)
    distance = 0
    for tries in range(1, HINT_TRIES + 1):
        u, v = rng.integers(0, 8, 2)
        trial = np.clip(delta + rng.choice([-3.0, 3.0]) * smooth_pattern(u, v), -budget, budget)
        candidate = np.clip(np.rint(base + trial), 0, 255).astype(np.uint8)
        moved = int(np.count_nonzero(dct_hash([candidate])[0] != original))
        if moved >= distance:  # equal distances are accepted, as the hint says
            distance, delta = moved, trial
        if distance > 8:
            return candidate, tries
    return None, HINT_TRIES


def test_ex03_part_f_hint_leads_to_an_answer() -> None:
    nb = nbformat.read(REPO / "solutions" / "ex03_scanning" / "ex03_scanning.ipynb", as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    hint = re.sub(r"<!--.*?-->", "", cells["part-f-text"])  # as a reader sees it: no number anchors
    assert "at least as far" in hint
    assert "accept changes that leave the distance equal" in hint
    assert f"{HINT_TRIES:,} tries" in hint
    setup: dict = {}
    exec(cells["setup"], setup)  # the notebook's own smooth_pattern and hashing
    dct_hash = setup["hashing"].dct_hash
    from toychat.images import stand_in_set

    # the visible test's picture and budget, then the hidden test's
    cases = [(stand_in_set(1)[0], 10)] + [(p, 12) for p in stand_in_set(4, seed=9)]
    start = time.perf_counter()
    for picture, budget in cases:
        evaded, tries = _plain_hinted_search(picture, budget, setup["smooth_pattern"], dct_hash)
        assert evaded is not None, f"the hinted search did not succeed within {HINT_TRIES} tries"
        assert np.abs(evaded.astype(int) - picture.astype(int)).max() <= budget
        assert np.count_nonzero(dct_hash([evaded])[0] != dct_hash([picture])[0]) > 8
    record_timing(
        "solution", "ex03 Part F hint, written plainly, on the five test pictures", time.perf_counter() - start
    )
