"""The lessons' Previous/Next links and the README's lesson table, generated from the lessons.

The lessons are ``lessons/NN_topic.ipynb``, in the order of their numbers; each one's
title is its first ``# `` heading without the ``Lesson NN —`` prefix.  From that list
this script writes two things and nothing else:

* every line of a lesson's markdown that starts ``Previous: `` and has ``· Next: ``
  (the lessons carry one under their objectives and one at the end of their last cell):
  the first lesson has no previous one and the last one leads back to the first;
* the README's table between ``<!-- lessons:start -->`` and ``<!-- lessons:end -->``:
  its rows, their order, the ``#`` column and the ``notebook`` column (title and link).
  The ``what you do`` and ``exercise`` columns are written by hand and kept, matched by
  lesson number; a new lesson gets a row with those cells empty, to fill in.

Notebooks are read and written with nbformat, as Jupyter saves them, so cell ids,
metadata and the rest of the text stay byte for byte.

    python scripts/lesson_nav.py            # rewrite what is out of date
    python scripts/lesson_nav.py --check    # exit 1 and name what is out of date; write nothing
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
LESSON_NAME_RE = re.compile(r"^(\d{2})_[a-z0-9_]+\.ipynb$")
#: A navigation line: the whole line, in any markdown cell.
NAV_LINE_RE = re.compile(r"^Previous: .* · Next: .*$", re.MULTILINE)
TITLE_PREFIX_RE = re.compile(r"^Lesson\s+\d+\s*[—–-]\s*")
START, END = "<!-- lessons:start -->", "<!-- lessons:end -->"
TABLE_HEAD = ("| # | notebook | what you do | exercise |", "|---|---|---|---|")


class NavError(ValueError):
    """Something the generator cannot fix by itself (a lesson without a title, no markers)."""


@dataclass(frozen=True)
class Lesson:
    """One lesson notebook: its two-digit number, its file name and its title."""

    number: str
    filename: str
    title: str

    @property
    def label(self) -> str:
        """How the links name the lesson: ``"01 — Secrets and ciphertext"``."""
        return f"{self.number} — {self.title}"

    def link(self) -> str:
        """A link from a sibling lesson: ``[01 — Secrets and ciphertext](01_secrets_and_ciphertext.ipynb)``."""
        return f"[{self.label}]({self.filename})"


def lesson_title(notebook: nbformat.NotebookNode) -> str:
    """The text of the first ``# `` heading in the notebook's markdown, without ``Lesson NN —``.

    >>> nb = nbformat.v4.new_notebook(
    ...     cells=[nbformat.v4.new_markdown_cell("# Lesson 07 — Client-side scanning\\n\\ntext")]
    ... )
    >>> lesson_title(nb)
    'Client-side scanning'
    """
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("# "):
                return TITLE_PREFIX_RE.sub("", line[2:].strip())
    raise NavError("no '# ' heading to take the title from")


def find_lessons(lessons_dir: Path) -> list[Lesson]:
    """Every ``NN_topic.ipynb`` in ``lessons_dir``, in the order of its number."""
    lessons = []
    for path in sorted(lessons_dir.glob("*.ipynb")):
        match = LESSON_NAME_RE.match(path.name)
        if not match:
            continue
        try:
            title = lesson_title(nbformat.read(path, as_version=4))
        except NavError as error:
            raise NavError(f"{path}: {error}") from None
        lessons.append(Lesson(match.group(1), path.name, title))
    numbers = [lesson.number for lesson in lessons]
    if len(set(numbers)) != len(numbers):
        raise NavError(f"{lessons_dir}: two lessons share a number: {numbers}")
    return lessons


def nav_line(lessons: list[Lesson], index: int) -> str:
    """The Previous/Next line of ``lessons[index]``.

    >>> ls = [Lesson("00", "00_a.ipynb", "A"), Lesson("01", "01_b.ipynb", "B")]
    >>> nav_line(ls, 0)
    'Previous: none — this is the first lesson · Next: [01 — B](01_b.ipynb)'
    >>> nav_line(ls, 1)
    'Previous: [00 — A](00_a.ipynb) · Next: back to [00 — A](00_a.ipynb)'
    """
    previous = "none — this is the first lesson" if index == 0 else lessons[index - 1].link()
    following = lessons[index + 1].link() if index + 1 < len(lessons) else "back to " + lessons[0].link()
    return f"Previous: {previous} · Next: {following}"


def update_notebook(text: str, line: str) -> tuple[str, list[str]]:
    """``text`` (a notebook as saved) with every navigation line set to ``line``, and a
    description of each cell that changed.  A notebook without a navigation line is an error."""
    notebook = nbformat.reads(text, as_version=4)
    found, changed = 0, []
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        for old in NAV_LINE_RE.findall(cell.source):
            found += 1
            if old != line:
                changed.append(
                    f"cell {number} (id {cell.get('id', '?')}): navigation line out of date\n"
                    f"    has:  {old}\n    want: {line}"
                )
        cell.source = NAV_LINE_RE.sub(lambda _: line, cell.source)
    if not found:
        raise NavError("no 'Previous: … · Next: …' line in any markdown cell")
    if not changed:
        return text, []
    return nbformat.writes(notebook) + "\n", changed


def _cells(row: str) -> list[str]:
    """The cells of a markdown table row (``\\|`` inside a cell is not a separator)."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


def _row(cells: list[str]) -> str:
    return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"


def readme_table(lessons: list[Lesson], old_table: str, lessons_link: str = "lessons") -> str:
    """The lesson table: one row per lesson, the hand-written columns taken from ``old_table``.

    >>> old = "| # | notebook | what you do | exercise |\\n|---|---|---|---|\\n| 00 | [Old](x) | read | |"
    >>> print(readme_table([Lesson("00", "00_a.ipynb", "A"), Lesson("01", "01_b.ipynb", "B")], old))
    | # | notebook | what you do | exercise |
    |---|---|---|---|
    | 00 | [A](lessons/00_a.ipynb) | read | |
    | 01 | [B](lessons/01_b.ipynb) | | |
    """
    by_number = {}
    for row in old_table.splitlines():
        cells = _cells(row)
        if len(cells) >= 4 and re.fullmatch(r"\d+", cells[0]):
            by_number[cells[0]] = cells[2:4]
    rows = [
        _row(
            [
                lesson.number,
                f"[{lesson.title}]({lessons_link}/{lesson.filename})",
                *by_number.get(lesson.number, ["", ""]),
            ]
        )
        for lesson in lessons
    ]
    return "\n".join([*TABLE_HEAD, *rows])


def update_readme(text: str, lessons: list[Lesson]) -> tuple[str, list[str]]:
    """``text`` with the table between the markers regenerated, and the changed lines as a diff."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise NavError(f"needs exactly one {START} followed by one {END} around the lesson table")
    head, rest = text.split(START, 1)
    old, tail = rest.split(END, 1)
    new = "\n" + readme_table(lessons, old) + "\n"
    if new == old:
        return text, []
    diff = difflib.unified_diff(old.strip("\n").splitlines(), new.strip("\n").splitlines(), lineterm="", n=0)
    return head + START + new + END + tail, [line for line in diff if not line.startswith(("---", "+++"))]


def plan(root: Path) -> tuple[dict[Path, str], list[str]]:
    """What is out of date under ``root``: the new text of each file to rewrite, and what
    to tell the reader about it.  Writes nothing."""
    lessons = find_lessons(root / "lessons")
    if not lessons:
        raise NavError(f"no NN_topic.ipynb lessons in {root / 'lessons'}")
    writes: dict[Path, str] = {}
    report: list[str] = []
    for index, lesson in enumerate(lessons):
        path = root / "lessons" / lesson.filename
        text = path.read_text(encoding="utf-8")
        try:
            new, changed = update_notebook(text, nav_line(lessons, index))
        except NavError as error:
            raise NavError(f"{path.relative_to(root)}: {error}") from None
        if changed:
            writes[path] = new
            report += [f"{path.relative_to(root)}: {change}" for change in changed]
    readme = root / "README.md"
    try:
        new, diff = update_readme(readme.read_text(encoding="utf-8"), lessons)
    except NavError as error:
        raise NavError(f"README.md: {error}") from None
    if diff:
        writes[readme] = new
        report.append("README.md: lesson table out of date:\n" + "\n".join("    " + d for d in diff))
    return writes, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/lesson_nav.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 and name what is out of date; write nothing")
    parser.add_argument("--root", type=Path, default=REPO, help="the course folder (default: this repository)")
    args = parser.parse_args(argv)
    try:
        writes, report = plan(args.root)
    except NavError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check:
        if report:
            print("\n".join(report), file=sys.stderr)
            print(f"{len(writes)} file(s) out of date: run python scripts/lesson_nav.py", file=sys.stderr)
            return 1
        print("lesson navigation up to date")
        return 0
    for path, text in writes.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    if not writes:
        print("lesson navigation up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
