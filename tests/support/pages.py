"""Helpers for tests that read the course's reader pages as text: the lessons' Markdown cells,
Markdown tables, and the bibliography's keys (no kernel, no build)."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
LESSONS = sorted((REPO / "lessons").glob("[0-9][0-9]_*.ipynb"))


def script_module(name: str) -> ModuleType:
    """``scripts/<name>.py`` loaded as the module ``course_<name>`` (once per test session)."""
    key = f"course_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, REPO / "scripts" / f"{name}.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def references_module() -> ModuleType:
    """``scripts/references.py`` loaded as a module (the bibliography's loader and citation pattern)."""
    return script_module("references")


def reference_keys() -> set[str]:
    """Every key in ``data/references.csv``."""
    return {ref.key for ref in references_module().load()}


def markdown_cells(lesson: Path) -> list[str]:
    """The source of each Markdown cell of a lesson, in order."""
    cells = json.loads(lesson.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"]


def printed_words() -> str:
    """Everything the course already prints as someone's words, normalised and lower-cased: the
    lessons' Markdown and the ``quoted`` claims of ``data/claims.csv`` (whose quotations the
    claims test holds to the articles).  A site page's quotation must be found in it."""
    from toychat.claims import normalise

    texts = [cell for lesson in LESSONS for cell in markdown_cells(lesson)]
    with (REPO / "data" / "claims.csv").open(encoding="utf-8") as f:
        texts += [row["quote"] for row in csv.DictReader(f) if row["voice"] == "quoted"]
    return normalise(" ".join(texts)).lower()


def table_rows(markdown: str, first_header: str) -> list[list[str]]:
    """The body rows (cells stripped) of every Markdown table whose first header cell is
    ``first_header``; a row's cells are split on ``|`` (no table here escapes one)."""
    rows: list[list[str]] = []
    inside = header_seen = False
    for line in markdown.splitlines():
        if not line.startswith("|"):
            inside = False
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not inside:
            inside = cells[0] == first_header
            header_seen = inside
            continue
        if header_seen and set(line.replace("|", "").strip()) <= {"-", " ", ":"}:
            header_seen = False
            continue
        rows.append(cells)
    return rows
