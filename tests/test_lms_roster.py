"""The class list and AGS endpoint from the launches the hub kept (toychat.lms_roster), without a hub.

tests/test_lti.py runs the command against a real JupyterHub after simulated launches.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from toychat.lms_export import CUSTOM_CLAIM, ENDPOINT_CLAIM
from toychat.lms_roster import (
    ROSTER_COLUMNS,
    course_endpoint,
    course_uids,
    read_uids,
    students,
    update_passback,
    write_students,
    write_uids,
)

SCOPE = ["https://purl.imsglobal.org/spec/lti-ags/scope/score"]


def _user(name: str, groups: list[str], lineitems: str | None = "https://lms/api/lti/courses/7/line_items") -> dict:
    claims: dict = {"sub": name, CUSTOM_CLAIM: {"lms_user_id": f"lms-{name}"}}
    if lineitems:
        claims[ENDPOINT_CLAIM] = {"lineitems": lineitems, "scope": SCOPE}
    return {"name": name, "groups": groups, "auth_state": claims}


def test_students_are_the_launched_users_who_are_not_instructors() -> None:
    never_launched = {"name": "never-launched", "groups": [], "auth_state": None}
    users = [_user("s1", []), _user("t1", ["instructors"]), never_launched]
    assert [(row["id"], row["lms_user_id"]) for row in students(users)] == [("s1", "lms-s1")]


def test_one_course_endpoint_or_a_named_error() -> None:
    assert course_endpoint([_user("s1", []), _user("s2", [])])["lineitems"].endswith("/courses/7/line_items")
    with pytest.raises(ValueError, match="no launch carries an AGS endpoint"):
        course_endpoint([_user("s1", [], lineitems=None)])
    with pytest.raises(ValueError, match="2 different AGS endpoints"):
        course_endpoint([_user("s1", []), _user("s2", [], lineitems="https://lms/api/lti/courses/8/line_items")])


def test_files_the_instructor_uses(tmp_path: Path) -> None:
    roster = tmp_path / "students.csv"
    write_students(students([_user("s1", [])]), roster)
    with roster.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == ROSTER_COLUMNS
    assert rows[0]["lms_user_id"] == "lms-s1"
    settings = tmp_path / "passback.json"
    settings.write_text(json.dumps({"issuer": "https://lms", "lineitems": "old"}), encoding="utf-8")
    update_passback(settings, course_endpoint([_user("s1", [])]))
    written = json.loads(settings.read_text(encoding="utf-8"))
    assert written == {"issuer": "https://lms", "lineitems": "https://lms/api/lti/courses/7/line_items", "scope": SCOPE}


def test_the_uid_table_holds_every_recorded_uid_and_reads_back(tmp_path: Path) -> None:
    users = [
        {**_user("s2", []), "auth_state": {"sub": "s2", "course_uid": 200002}},
        {**_user("s1", []), "auth_state": {"sub": "s1", "course_uid": 200001}},
        {**_user("t1", ["instructors"]), "auth_state": {"sub": "t1", "course_uid": 200000}},
        _user("never-spawned", []),
        {"name": "never-launched", "groups": [], "auth_state": None},
    ]
    table = course_uids(users)
    assert table == {"s1": 200001, "s2": 200002, "t1": 200000}
    path = tmp_path / "uids.csv"
    write_uids(table, path)
    assert path.read_text(encoding="utf-8").splitlines() == ["id,uid", "s1,200001", "s2,200002", "t1,200000"]
    assert read_uids(path) == table


@pytest.mark.parametrize("uid", ["200001", -1, 0, True, 2.5])
def test_a_recorded_uid_that_is_not_a_positive_integer_is_refused(uid: object) -> None:
    with pytest.raises(ValueError, match="not a positive integer"):
        course_uids([{"name": "s1", "auth_state": {"course_uid": uid}}])


def test_a_malformed_uid_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "uids.csv"
    path.write_text("name,uid\ns1,200001\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected the columns id, uid"):
        read_uids(path)
    path.write_text("id,uid\ns1,-5\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a number"):
        read_uids(path)
