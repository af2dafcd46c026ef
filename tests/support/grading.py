"""What the tests check grades against: the points of every graded cell in a source notebook."""

from __future__ import annotations

import nbformat

from .nbtools import REPO


def grade_points(assignment: str) -> dict[str, tuple[float, bool]]:
    """Every graded cell of the source notebook: grade_id -> (points, graded by hand?)."""
    nb = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    return {
        meta["grade_id"]: (float(meta["points"]), bool(meta.get("solution")))
        for meta in (cell.metadata.get("nbgrader", {}) for cell in nb.cells)
        if meta.get("grade")
    }
