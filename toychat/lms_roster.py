"""The class list and the course's AGS endpoint, from the launches the hub kept.

With ``Authenticator.enable_auth_state`` (deploy/values.yaml, deploy/tljh/jupyterhub_config.d/
10-course-lti.py), jupyterhub-ltiauthenticator keeps each user's last verified LTI 1.3 launch
(its ``id_token`` claims) as their encrypted ``auth_state``.  JupyterHub's REST API returns it
with the user (``GET /hub/api/users/<name>``) to a token holding the scope ``admin:auth_state``,
plus ``list:users`` and ``read:users:groups`` to find the users and their groups.  The instructor runs::

    JUPYTERHUB_API_TOKEN=... python -m toychat.lms_roster https://hub.example.edu \\
        --students students.csv --passback passback.json

``students.csv`` is what ``nbgrader db student import students.csv`` takes: the hub name as
nbgrader's id and the LMS's own user id as ``lms_user_id`` (:func:`toychat.lms_export.roster_row`),
which the Canvas and Moodle CSV exports match learners by.  ``passback.json`` (the settings of
``python -m toychat.lms_passback``) gets the course's ``lineitems`` and ``scope`` from the launches'
AGS endpoint claim; its other settings are left as they are.  Members of the hub group
``instructors`` are left out of the class list.

On Kubernetes the hub runs every user's pod as a uid of their own and records it in their
``auth_state`` as ``course_uid`` (deploy/values.yaml, ``20-exchange-uids``); ``--uids uids.csv``
writes the table of hub name -> uid that the instructor's ``nbgrader collect`` compares each
submission folder's owner with (:class:`toychat.hub_accounts.OwnerCheckedCollect`, ``accounts =
"uid"``).  The token's scopes are the hub role ``course-roster`` (deploy/tljh/jupyterhub_config.d/
22-course-roster-role.py, deploy/values.yaml's ``hub.loadRoles``): :data:`SCOPES`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from toychat.lms_export import ENDPOINT_CLAIM, roster_row

#: Users per page of ``GET /hub/api/users`` (JupyterHub's largest page by default).
PAGE = 200
#: The hub group whose members are not students (deploy/tljh/jupyterhub_config.d/20-course-roles.py).
INSTRUCTORS = "instructors"
#: The columns ``nbgrader db student import`` reads.
ROSTER_COLUMNS = ("id", "first_name", "last_name", "email", "lms_user_id")
#: Where the hub records the uid a user's pod runs as, in their ``auth_state`` (Kubernetes).
UID_KEY = "course_uid"
#: The columns of the uid table ``--uids`` writes: the hub name (nbgrader id) and its uid.
UID_COLUMNS = ("id", "uid")
#: What the token needs: the users' names, their groups (to leave instructors out) and their
#: ``auth_state`` (launch claims and recorded uid); the hub role ``course-roster`` holds these.
SCOPES = ("list:users", "read:users:groups", "admin:auth_state")


def _get(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (the hub's own URL)
        return json.load(response)


def hub_users(hub: str, token: str) -> list[dict[str, Any]]:
    """Every hub user's model with their ``auth_state``, from the hub's REST API at ``hub``."""
    api = hub.rstrip("/") + "/hub/api/users"
    names: list[str] = []
    while True:
        page = _get(f"{api}?offset={len(names)}&limit={PAGE}", token)
        names += [user["name"] for user in page]
        if len(page) < PAGE:
            break
    return [_get(f"{api}/{urllib.parse.quote(name, safe='')}", token) for name in names]


def students(users: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The class list for ``nbgrader db student import``: every launched user not an instructor.

    >>> students([{"name": "8f1c", "groups": [], "auth_state": {"sub": "8f1c",
    ...     "https://purl.imsglobal.org/spec/lti/claim/custom": {"lms_user_id": "4021"}}},
    ...     {"name": "t1", "groups": ["instructors"], "auth_state": {"sub": "t1"}}])
    [{'id': '8f1c', 'first_name': '', 'last_name': '', 'email': '', 'lms_user_id': '4021'}]
    """
    return [
        roster_row(user["name"], user["auth_state"])
        for user in users
        if user.get("auth_state") and INSTRUCTORS not in user.get("groups", [])
    ]


def course_endpoint(users: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The AGS endpoint (``lineitems``, ``scope``) the launches carry; one course, one endpoint.

    >>> course_endpoint([{"auth_state": {ENDPOINT_CLAIM: {"lineitems": "https://lms/l", "scope": ["s"]}}}])
    {'lineitems': 'https://lms/l', 'scope': ['s']}
    """
    found = {
        json.dumps({"lineitems": claim["lineitems"], "scope": sorted(claim.get("scope", []))}, sort_keys=True)
        for user in users
        if (claim := (user.get("auth_state") or {}).get(ENDPOINT_CLAIM)) and claim.get("lineitems")
    }
    if not found:
        raise ValueError("no launch carries an AGS endpoint: enable grade passback in the LMS's tool settings")
    if len(found) > 1:
        raise ValueError(f"the launches name {len(found)} different AGS endpoints (more than one course?)")
    endpoint: dict[str, Any] = json.loads(found.pop())
    return endpoint


def course_uids(users: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Hub name -> the uid the hub recorded for the user's pod, for every user it recorded one for.

    >>> course_uids([{"name": "8f1c", "auth_state": {"course_uid": 200007}},
    ...     {"name": "never-spawned", "auth_state": {"sub": "x"}}, {"name": "n", "auth_state": None}])
    {'8f1c': 200007}
    """
    table: dict[str, int] = {}
    for user in users:
        uid = (user.get("auth_state") or {}).get(UID_KEY)
        if uid is None:
            continue
        if isinstance(uid, bool) or not isinstance(uid, int) or uid <= 0:
            raise ValueError(f"user {user['name']!r} has a recorded uid that is not a positive integer: {uid!r}")
        table[user["name"]] = uid
    return table


def write_uids(table: Mapping[str, int], path: Path) -> None:
    """The uid table as CSV (:data:`UID_COLUMNS`), sorted by hub name."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(UID_COLUMNS)
        writer.writerows(sorted(table.items()))


def read_uids(path: str | Path) -> dict[str, int]:
    """The uid table :func:`write_uids` wrote; a named ``ValueError`` for a malformed one."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != UID_COLUMNS:
            raise ValueError(f"{path}: expected the columns {', '.join(UID_COLUMNS)}, got {reader.fieldnames}")
        table: dict[str, int] = {}
        for row in reader:
            if not row["uid"].isdigit():
                raise ValueError(f"{path}: the uid of {row['id']!r} is not a number: {row['uid']!r}")
            table[row["id"]] = int(row["uid"])
    return table


def write_students(rows: list[dict[str, str]], path: Path) -> None:
    """``rows`` as the CSV ``nbgrader db student import`` reads."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=ROSTER_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def update_passback(path: Path, endpoint: Mapping[str, Any]) -> None:
    """Put the course's ``lineitems`` and ``scope`` into the passback settings at ``path``."""
    settings = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    settings.update({"lineitems": endpoint["lineitems"], "scope": list(endpoint["scope"])})
    path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """``python -m toychat.lms_roster HUB_URL [--students CSV] [--passback JSON] [--uids CSV]``, with
    the token in ``JUPYTERHUB_API_TOKEN``."""
    parser = argparse.ArgumentParser(prog="python -m toychat.lms_roster", description=main.__doc__)
    parser.add_argument("hub", help="the hub's URL, e.g. https://hub.example.edu")
    parser.add_argument("--students", type=Path, help="write the class list here (CSV for nbgrader db student import)")
    parser.add_argument("--passback", type=Path, help="put the AGS endpoint into these passback settings (JSON)")
    parser.add_argument("--uids", type=Path, help="write each user's recorded uid here (CSV for the owner check)")
    args = parser.parse_args(argv)
    token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not token:
        parser.error(f"set JUPYTERHUB_API_TOKEN to a hub token with {', '.join(SCOPES)} (the role course-roster)")
    users = hub_users(args.hub, token)
    if args.students:
        rows = students(users)
        write_students(rows, args.students)
        print(f"{len(rows)} students written to {args.students}")
    if args.passback:
        endpoint = course_endpoint(users)
        update_passback(args.passback, endpoint)
        print(f"AGS endpoint {endpoint['lineitems']} written to {args.passback}")
    if args.uids:
        table = course_uids(users)
        write_uids(table, args.uids)
        print(f"{len(table)} recorded uids written to {args.uids}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
