"""The lessons' Previous/Next links and the README's lesson table match the lesson files
(``scripts/lesson_nav.py``), and the check says what is wrong when they do not."""

from __future__ import annotations

import doctest
import shutil
from pathlib import Path

import pytest

from support.pages import script_module

REPO = Path(__file__).resolve().parent.parent
lesson_nav = script_module("lesson_nav")


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A copy of the lessons and the README to break."""
    shutil.copytree(REPO / "lessons", tmp_path / "lessons", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    return tmp_path


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_navigation_is_up_to_date() -> None:
    assert lesson_nav.main(["--check"]) == 0, "run python scripts/lesson_nav.py"


def test_examples_in_the_docstrings() -> None:
    assert doctest.testmod(lesson_nav).failed == 0


def test_every_lesson_has_its_navigation_and_a_table_row() -> None:
    lessons = lesson_nav.find_lessons(REPO / "lessons")
    assert [lesson.number for lesson in lessons] == [f"{n:02d}" for n in range(len(lessons))]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for index, lesson in enumerate(lessons):
        text = (REPO / "lessons" / lesson.filename).read_text(encoding="utf-8")
        assert lesson_nav.nav_line(lessons, index).replace('"', '\\"') in text
        assert f"| {lesson.number} | [{lesson.title}](lessons/{lesson.filename}) |" in readme


def test_check_names_a_broken_link_and_regenerating_mends_it(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = course / "lessons" / "05_forward_secrecy.ipynb"
    good = path.read_text(encoding="utf-8")
    link = "Next: [06 — Server-side scanning](06_server_side_scanning.ipynb)"
    assert good.count(link) == 2
    path.write_text(
        good.replace(link, "Next: [06 — Server-side scanning](06_server_scanning.ipynb)", 1), encoding="utf-8"
    )
    before = _snapshot(course)

    assert lesson_nav.main(["--check", "--root", str(course)]) == 1
    err = capsys.readouterr().err
    assert "lessons/05_forward_secrecy.ipynb: cell 0 (id cell-00): navigation line out of date" in err
    assert "06_server_scanning.ipynb" in err
    assert "README.md" not in err
    assert "1 file(s) out of date" in err
    assert _snapshot(course) == before, "--check wrote a file"

    assert lesson_nav.main(["--root", str(course)]) == 0
    assert path.read_text(encoding="utf-8") == good  # byte for byte as nbformat saved it
    assert lesson_nav.main(["--check", "--root", str(course)]) == 0


def test_check_names_a_wrong_table_row_and_regenerating_mends_it(
    course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = course / "README.md"
    good = readme.read_text(encoding="utf-8")
    row = next(line for line in good.splitlines() if line.startswith("| 09 |"))
    readme.write_text(good.replace(row, row.replace("[Metadata detection]", "[Metadata]")), encoding="utf-8")

    assert lesson_nav.main(["--check", "--root", str(course)]) == 1
    err = capsys.readouterr().err
    assert "README.md: lesson table out of date" in err
    assert "+" + row in err
    assert "-| 09 | [Metadata]" in err
    assert "ipynb: cell" not in err

    assert lesson_nav.main(["--root", str(course)]) == 0
    assert readme.read_text(encoding="utf-8") == good
    assert lesson_nav.main(["--check", "--root", str(course)]) == 0


def test_a_new_lesson_gets_links_and_an_empty_row(course: Path) -> None:
    new = course / "lessons" / "11_a_new_lesson.ipynb"
    text = (course / "lessons" / "10_claims_and_evidence.ipynb").read_text(encoding="utf-8")
    new.write_text(text.replace("# Lesson 10 — Claims and evidence", "# Lesson 11 — A new lesson"), encoding="utf-8")
    assert lesson_nav.main(["--check", "--root", str(course)]) == 1
    assert lesson_nav.main(["--root", str(course)]) == 0

    last = (
        "Previous: [10 — Claims and evidence](10_claims_and_evidence.ipynb) · "
        "Next: back to [00 — Start here](00_start_here.ipynb)"
    )
    assert new.read_text(encoding="utf-8").count(last) == 2
    assert "Next: [11 — A new lesson](11_a_new_lesson.ipynb)" in (
        course / "lessons" / "10_claims_and_evidence.ipynb"
    ).read_text(encoding="utf-8")
    assert "| 11 | [A new lesson](lessons/11_a_new_lesson.ipynb) | | |\n<!-- lessons:end -->" in (
        course / "README.md"
    ).read_text(encoding="utf-8")


def test_a_readme_without_markers_is_an_error_not_a_guess(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = course / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace(lesson_nav.END + "\n", ""), encoding="utf-8")
    assert lesson_nav.main(["--check", "--root", str(course)]) == 2
    assert "README.md: needs exactly one <!-- lessons:start -->" in capsys.readouterr().err
