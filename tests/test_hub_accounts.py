"""The Unix account TLJH makes for a hub name, and nbgrader's ownership check with it (issue 26).

The expected names below are what TLJH's own ``generate_system_username("jupyter-" + name)``
(``tljh/normalize.py`` of jupyterhub/the-littlest-jupyterhub at 84ed38f, April 2026) returns,
read from its code and run once outside this repository; nothing of TLJH is imported here.

The last test runs the real ``nbgrader collect`` on submission folders owned by real Unix accounts
named as TLJH names them: nbgrader's own check warns on every honest submission; with the shipped
TLJH hub files and the instructor's role folder, the course's collector
(``toychat.hub_accounts.OwnerCheckedCollect``) warns only on the impostor's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.classroom import nbgrader_env
from support.browser import require
from toychat.hub_accounts import NO_RECORDED_UID, expected_owner, tljh_unix_name

#: hub name -> the account TLJH's function returns for it.
TLJH_NAMES = {
    # short: the prefix only
    "ada": "jupyter-ada",
    "12345": "jupyter-12345",
    "Ada_Lovelace.x": "jupyter-Ada_Lovelace.x",
    # 25 characters with the prefix: kept whole
    "a" * 17: "jupyter-aaaaaaaaaaaaaaaaa",
    # 26 characters with the prefix: shortened (TLJH's code hashes from 26 on, though its
    # documentation says "longer than 26")
    "a" * 18: "jupyter-aaaaaaaaaaaaaaaaaa-3f1e4",
    # a Canvas `sub`, a 36-character UUID
    "f47ac10b-58cc-4372-a567-0e02b2c3d479": "jupyter-f47ac10b-58cc-4372-79d99",
    # cut inside a hyphen run; and a non-ASCII name, counted in characters, hashed as UTF-8
    "tcs-f47ac10b-58cc-4372-a567-0e02b2c3d479": "jupyter-tcs-f47ac10b-58cc--93edc",
    "élodie-van-der-berg-smith-jones": "jupyter-élodie-van-der-ber-43f58",
}


@pytest.mark.parametrize(("hub_name", "account"), list(TLJH_NAMES.items()))
def test_the_account_is_the_one_tljh_creates(hub_name: str, account: str) -> None:
    assert tljh_unix_name(hub_name) == account


def test_every_tljh_account_fits_a_linux_user_name() -> None:
    assert max(len(tljh_unix_name("x" * n)) for n in range(80)) == 32


def test_the_rule_is_chosen_by_name() -> None:
    assert expected_owner("ada", "tljh") == "jupyter-ada"
    assert expected_owner("ada", "hub-name") == "ada"
    assert expected_owner("ada", "uid", {"ada": 200007, "bob": 200008}) == "200007"
    assert expected_owner("eve", "uid", {"ada": 200007}) == NO_RECORDED_UID
    assert expected_owner("ada", "uid") == NO_RECORDED_UID
    with pytest.raises(ValueError, match="unknown account rule"):
        expected_owner("ada", "kubernetes")


# ----------------------------------------------------------------- real collect, real accounts

REPO = Path(__file__).resolve().parent.parent
TLJH_FILES = REPO / "deploy" / "tljh" / "jupyterhub_config.d"
ASSIGNMENT, COURSE_ID = "ex01_encryption", "e2ee-online-safety"
#: hub names (nbgrader ids) of this test; their TLJH accounts are created and removed by it.
SHORT, LONG, VICTIM, IMPOSTOR = "tcs-ada", "tcs-f47ac10b-58cc-4372-a567-0e02b2c3d479", "tcs-bob", "tcs-eve"
ACCOUNTS = tuple(TLJH_NAMES.get(name) or f"jupyter-{name}" for name in (SHORT, LONG, VICTIM, IMPOSTOR))


def _userdel(name: str) -> None:
    subprocess.run(["userdel", name], check=False, capture_output=True)
    subprocess.run(["groupdel", name], check=False, capture_output=True)


@pytest.fixture
def tljh_accounts() -> Iterator[tuple[str, ...]]:
    """The four students' Unix accounts, named as TLJH names them (no homes: only files' owners)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("useradd") is None:
        require("the ownership test creates Unix accounts: it needs root and useradd")
    for account in ACCOUNTS:
        _userdel(account)
        subprocess.run(["useradd", "--no-create-home", "--user-group", account], check=True, capture_output=True)
    try:
        yield ACCOUNTS
    finally:
        for account in ACCOUNTS:
            _userdel(account)


def _submit(inbound: Path, student_id: str, owner: str | int, timestamp: str, random_part: str) -> Path:
    """A submission folder as ``nbgrader submit`` names and fills it, owned by ``owner`` (an
    account's name, with its group, or a bare uid, with the pods' group 100)."""
    folder = inbound / f"{student_id}+{ASSIGNMENT}+{timestamp}+{random_part}"
    folder.mkdir()
    (folder / "timestamp.txt").write_text(timestamp, encoding="utf-8")
    (folder / f"{ASSIGNMENT}.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    for path in (folder, *folder.iterdir()):
        if isinstance(owner, int):
            os.chown(path, owner, 100)
        else:
            shutil.chown(path, owner, owner)
    return folder


def tljh_server_environment() -> dict[str, str]:
    """What the shipped TLJH file 25-course-accounts.py adds to every server's environment."""
    from traitlets.config import Config

    config = Config()
    path = TLJH_FILES / "25-course-accounts.py"
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), {"get_config": lambda: config})
    return dict(config.Spawner.environment.get_value({}))


def _collect(course: Path, exchange: Path, server_env: dict[str, str], uid_table: dict[str, int] | None = None) -> str:
    """``nbgrader collect`` in ``course``, with the shipped instructor role folder on
    JUPYTER_CONFIG_PATH (as 20-course-roles.py puts it) and ``server_env`` from the hub; its log.
    ``uid_table`` is written to the course's ``uids.csv`` as ``lms_roster --uids`` writes it."""
    from toychat.lms_roster import write_uids

    config = [f"c.CourseDirectory.course_id = {COURSE_ID!r}", f"c.Exchange.root = {str(exchange)!r}"]
    course.mkdir()
    if uid_table is not None:
        write_uids(uid_table, course / "uids.csv")
    (course / "nbgrader_config.py").write_text("\n".join(config) + "\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "collect", ASSIGNMENT],
        cwd=course,
        env={**nbgrader_env(), **server_env, "JUPYTER_CONFIG_PATH": str(REPO / "deploy" / "jupyter" / "instructor")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.mark.nbgrader
def test_collect_flags_the_impostor_and_no_honest_tljh_account(tmp_path: Path, tljh_accounts: tuple[str, ...]) -> None:
    short_account, long_account, victim_account, impostor_account = tljh_accounts
    assert long_account == "jupyter-tcs-f47ac10b-58cc--93edc", "a shortened, hashed account"
    exchange = tmp_path / "exchange"
    inbound = exchange / COURSE_ID / "inbound"
    inbound.mkdir(parents=True)
    exchange.chmod(0o1777)
    _submit(inbound, SHORT, short_account, "2026-12-05 10:00:00.000000 UTC", "aaaaaaaaaaaa")
    _submit(inbound, LONG, long_account, "2026-12-05 10:00:01.000000 UTC", "bbbbbbbbbbbb")
    _submit(inbound, VICTIM, victim_account, "2026-12-05 10:00:02.000000 UTC", "cccccccccccc")
    # The impostor submits in the victim's name, later: collect takes this one for the victim.
    forged = _submit(inbound, VICTIM, impostor_account, "2026-12-05 10:00:03.000000 UTC", "dddddddddddd")

    # Without the hub's word, nbgrader's own check compares the owner with the hub name: every
    # submission "cheats" (what the instructor saw before the TLJH file 25-course-accounts.py).
    plain = _collect(tmp_path / "plain", exchange, {})
    assert len(re.findall("claims to be submitted by", plain)) == 3, plain

    # The shipped files: the course's collector compares with TLJH's account for that name.
    server_env = tljh_server_environment()
    assert server_env.get("COURSE_UNIX_ACCOUNTS") == "tljh"
    course = tmp_path / "course"
    log = _collect(course, exchange, server_env)
    warnings = re.findall(r"^\s*(.+) claims to be submitted by (\S+) but is owned by (\S+);", log, re.MULTILINE)
    assert warnings == [(str(forged), VICTIM, impostor_account)], log
    assert f"the hub's account for {VICTIM} is {victim_account}" in log
    for student in (SHORT, LONG, VICTIM):  # collected as nbgrader does, under the hub name
        assert (course / "submitted" / student / ASSIGNMENT / "timestamp.txt").is_file(), student


# ------------------------------------------------- Kubernetes: bare uids, recorded by the hub


def kubernetes_server_environment() -> dict[str, str]:
    """What deploy/values.yaml's "20-exchange-uids" adds to every pod's environment."""
    import yaml
    from traitlets.config import Config

    values = yaml.safe_load((REPO / "deploy" / "values.yaml").read_text(encoding="utf-8"))
    config = Config()
    exec(values["hub"]["extraConfig"]["20-exchange-uids"], {"c": config})
    return dict(config.KubeSpawner.environment.get_value({}))


@pytest.mark.nbgrader
def test_collect_on_kubernetes_flags_the_impostor_by_recorded_uid(tmp_path: Path) -> None:
    """Every pod runs as a uid no pod has a name for (200000 + the hub id).  nbgrader's own check
    reads "owned by unknown id" for everyone; with the values' environment, the instructor's role
    folder and the uid table lms_roster writes from the hub's auth_state, only the impostor is."""
    from toychat.lms_roster import course_uids

    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        require("the ownership test gives folders to other uids: it needs root")
    uids = {SHORT: 200001, LONG: 200002, VICTIM: 200003, IMPOSTOR: 200004}
    # no account has these uids, as in an instructor's pod
    import pwd

    for uid in uids.values():
        with pytest.raises(KeyError):
            pwd.getpwuid(uid)
    exchange = tmp_path / "exchange"
    inbound = exchange / COURSE_ID / "inbound"
    inbound.mkdir(parents=True)
    exchange.chmod(0o1777)
    _submit(inbound, SHORT, uids[SHORT], "2026-12-05 10:00:00.000000 UTC", "aaaaaaaaaaaa")
    _submit(inbound, LONG, uids[LONG], "2026-12-05 10:00:01.000000 UTC", "bbbbbbbbbbbb")
    _submit(inbound, VICTIM, uids[VICTIM], "2026-12-05 10:00:02.000000 UTC", "cccccccccccc")
    forged = _submit(inbound, VICTIM, uids[IMPOSTOR], "2026-12-05 10:00:03.000000 UTC", "dddddddddddd")
    # a submission in the name of someone the hub never started a pod for
    stranger = _submit(inbound, "tcs-nobody", uids[SHORT], "2026-12-05 10:00:04.000000 UTC", "eeeeeeeeeeee")

    plain = _collect(tmp_path / "plain", exchange, {})
    assert len(re.findall("but is owned by unknown id", plain)) == 4, plain

    server_env = kubernetes_server_environment()
    assert server_env.get("COURSE_UNIX_ACCOUNTS") == "uid"
    # without the table every submission is flagged, and the log says how to write it
    unlisted = _collect(tmp_path / "no-table", exchange, server_env)
    assert len(re.findall("claims to be submitted by", unlisted)) == 4, unlisted
    assert "lms_roster HUB_URL --uids uids.csv" in unlisted
    # the users as the hub's API gives them to lms_roster, each with the uid the hub recorded
    users = [{"name": name, "auth_state": {"sub": name, "course_uid": uid}} for name, uid in uids.items()]
    course = tmp_path / "course"
    log = _collect(course, exchange, server_env, course_uids(users))
    warnings = re.findall(r"^\s*(.+) claims to be submitted by (\S+) but is owned by (\S+);", log, re.MULTILINE)
    assert sorted(warnings) == sorted(
        [(str(forged), VICTIM, str(uids[IMPOSTOR])), (str(stranger), "tcs-nobody", str(uids[SHORT]))]
    ), log
    assert f"the hub's account for {VICTIM} is {uids[VICTIM]}" in log
    assert f"the hub's account for tcs-nobody is {NO_RECORDED_UID}" in log
    for student in (SHORT, LONG, VICTIM):
        assert (course / "submitted" / student / ASSIGNMENT / "timestamp.txt").is_file(), student
