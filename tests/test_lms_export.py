"""toychat.lms_export: nbgrader's grades in the CSV layouts Canvas and Moodle import.

The layouts are checked against each LMS's documented import rules (the sources are in the
module's docstring), written here as a small simulated importer per LMS: Canvas finds the
learner by the ``ID`` column among the five fixed leading columns and takes every further
column as an assignment; Moodle lets the teacher map one column to ``userid`` or ``useremail``
and each other column to a grade item.  A real gradebook (SQLite, nbgrader's API) holds a
graded submission, one still waiting for a manual grade, and a student who never submitted.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

nbgrader_api = pytest.importorskip("nbgrader.api")

from support.grading import COURSE, small_gradebook  # noqa: E402
from support.nbtools import venv_env  # noqa: E402
from toychat.lms_export import (  # noqa: E402
    CanvasCsvExport,
    MoodleCsvExport,
    collect_scores,
    roster_row,
)

#: Canvas's fixed leading columns, in order, before the assignment columns.
CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


@pytest.fixture(autouse=True)
def _alembic_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new gradebook stamps its schema version with the ``alembic`` executable from PATH."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def _export(plugin_class: type, url: str, dest: Path, **options: object) -> list[list[str]]:
    plugin = plugin_class(to=str(dest), **options)
    with nbgrader_api.Gradebook(url, COURSE) as gb:
        plugin.export(gb)
    with open(dest, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def canvas_import(table: list[list[str]], gradebook: dict[str, dict[str, str]]) -> list[str]:
    """Canvas's documented import rules, simulated: the five fixed columns first; each row's
    learner found by ``ID``; every further column an assignment (an unknown header creates one);
    an empty cell sets nothing.  Returns the rows it could not match."""
    header, *rows = table
    assert header[: len(CANVAS_FIXED)] == CANVAS_FIXED
    unmatched = []
    for row in rows:
        assert len(row) == len(header)
        learner = row[1]
        if learner not in gradebook:
            unmatched.append(row[0])
            continue
        for column, cell in zip(header[len(CANVAS_FIXED) :], row[len(CANVAS_FIXED) :], strict=True):
            if cell:
                float(cell)  # a score is a plain number
                gradebook[learner][column] = cell
    return unmatched


def moodle_import(table: list[list[str]], key: str, map_to: str, users: dict[str, dict[str, str]]) -> dict:
    """Moodle's documented CSV import, simulated: the teacher maps column ``key`` to ``map_to``
    (``userid`` or ``useremail``) and every score column to a grade item of the same name."""
    header, *rows = table
    column = header.index(key)
    by = {user[map_to]: uid for uid, user in users.items()}
    grades: dict[str, dict[str, str]] = {}
    for row in rows:
        uid = by.get(row[column])
        if uid is None:
            continue
        grades[uid] = {h: c for h, c in zip(header[4:], row[4:], strict=True) if c}
    return grades


def test_canvas_layout_imports_each_learner_by_lms_id(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = small_gradebook(tmp_path / "gradebook.db")
    columns = {"ex01_encryption": "Exercise 1 (77)"}
    table = _export(CanvasCsvExport, url, tmp_path / "canvas.csv", columns=columns)
    assert table[0] == [*CANVAS_FIXED, "Exercise 1 (77)", "ex02_chat"]
    canvas = {"4021": {}, "4022": {}}  # Canvas user ids of the course's enrolled students
    unmatched = canvas_import(table, canvas)
    assert canvas["4021"] == {"Exercise 1 (77)": "12.5", "ex02_chat": "10"}
    # Grace's ex01 still waits for a grader: no partial score reaches the LMS
    assert canvas["4022"] == {"ex02_chat": "10"}
    assert unmatched == ["Turing, Alan"]
    assert "sub-grace:ex01_encryption" in caplog.text
    assert "cannot match" in caplog.text
    assert "sub-alan" in caplog.text


def test_moodle_layout_imports_by_user_id_or_email(tmp_path: Path) -> None:
    url = small_gradebook(tmp_path / "gradebook.db")
    table = _export(MoodleCsvExport, url, tmp_path / "moodle.csv")
    assert table[0] == ["First name", "Last name", "Email address", "Moodle user id", "ex01_encryption", "ex02_chat"]
    users = {
        "4021": {"userid": "4021", "useremail": "ada@example.edu"},
        "4022": {"userid": "4022", "useremail": "grace@example.edu"},
    }
    by_id = moodle_import(table, "Moodle user id", "userid", users)
    by_email = moodle_import(table, "Email address", "useremail", users)
    assert (
        by_id
        == by_email
        == {
            "4021": {"ex01_encryption": "12.5", "ex02_chat": "10"},
            "4022": {"ex02_chat": "10"},
        }
    )
    # Alan never submitted: 0, as in nbgrader's own export (his row reaches no Moodle user)
    [alan] = [row for row in table if row[0] == "Alan"]
    assert alan[4:] == ["0", "0"]


def test_export_restricted_to_an_assignment_and_a_student(tmp_path: Path) -> None:
    url = small_gradebook(tmp_path / "gradebook.db")
    with nbgrader_api.Gradebook(url, COURSE) as gb:
        names, rows = collect_scores(gb, ["ex02_chat"], ["sub-grace"])
    assert names == ["ex02_chat"]
    assert [(r.student_id, r.scores) for r in rows] == [("sub-grace", {"ex02_chat": 10.0})]


def test_roster_row_from_launch_claims() -> None:
    custom = "https://purl.imsglobal.org/spec/lti/claim/custom"
    claims = {"sub": "8f1c", "given_name": "Ada", "family_name": "Lovelace", "email": "ada@example.edu"}
    assert roster_row("8f1c", {**claims, custom: {"canvas_user_id": "4021"}})["lms_user_id"] == "4021"
    # a variable the LMS did not substitute is no id
    assert roster_row("8f1c", {**claims, custom: {"canvas_user_id": "$Canvas.user.id"}})["lms_user_id"] == ""
    assert roster_row("8f1c", {})["email"] == ""


@pytest.mark.nbgrader
def test_nbgrader_export_loads_the_plugins(tmp_path: Path) -> None:
    """The real ``nbgrader export --exporter=...`` finds and runs both plug-ins."""
    url = small_gradebook(tmp_path / "gradebook.db")
    for plugin, header in (("CanvasCsvExport", "Student"), ("MoodleCsvExport", "First name")):
        dest = tmp_path / f"{plugin}.csv"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "nbgrader",
                "export",
                f"--exporter=toychat.lms_export.{plugin}",
                f"--to={dest}",
                f"--db={url}",
                f"--course={COURSE}",
            ],
            cwd=tmp_path,
            env=venv_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert dest.read_text(encoding="utf-8").startswith(header + ",")
