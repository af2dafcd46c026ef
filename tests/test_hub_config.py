"""The hub configuration the course ships for The Littlest JupyterHub agrees with the
Kubernetes values.

``deploy/tljh/jupyterhub_config.d/`` holds the files an admin copies into TLJH's
``/opt/tljh/config/jupyterhub_config.d/``: the LMS login (LTI 1.3, groups managed by the
authenticator), the LMS frame policy and cookies, the LMS role -> "instructors" hook, and the
classroom relay as a hub service run by the *user environment's* Python.  Two of them carry the
same code as deploy/values.yaml's ``hub.extraConfig``; these tests check that they agree.

That the files start a real JupyterHub, as shipped and loaded as TLJH loads them, with the relay
answering behind it, is checked by tests/test_class_deployment.py, which starts that hub with
real Unix accounts and logs a class in through a simulated LMS (the start-up test that was here
moved there, so CI starts that hub once).

The last test starts a small JupyterHub of its own (``hub`` marker) with the role file of
``python -m toychat.lms_roster``'s token and the LMS-role hook, and runs lms_roster with a token of
that role; a student can neither be given such a token nor list the class with their own.
"""

from __future__ import annotations

import csv
import secrets
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest
from traitlets.config import Config

from support.browser import free_port
from support.hub import configurable_http_proxy, local_hub_lines, running_hub
from support.nbtools import REPO, venv_env

TLJH_FILES = REPO / "deploy" / "tljh" / "jupyterhub_config.d"


def test_the_tljh_roles_hook_is_the_values_own() -> None:
    import yaml

    values = yaml.safe_load((REPO / "deploy" / "values.yaml").read_text(encoding="utf-8"))
    block = values["hub"]["extraConfig"]["10-course-roles"]
    assert (TLJH_FILES / "20-course-roles.py").read_text(encoding="utf-8").endswith(block)


def test_the_tljh_lms_frame_is_the_values_own() -> None:
    import yaml

    values = yaml.safe_load((REPO / "deploy" / "values.yaml").read_text(encoding="utf-8"))
    block = values["hub"]["extraConfig"]["05-course-lms-frame"]
    assert (TLJH_FILES / "15-course-lms-frame.py").read_text(encoding="utf-8").endswith(block)


def test_the_tljh_lti_tool_configuration_is_the_values_own() -> None:
    import yaml

    values = yaml.safe_load((REPO / "deploy" / "values.yaml").read_text(encoding="utf-8"))
    block = values["hub"]["extraConfig"]["06-course-lti-tool"]
    assert (TLJH_FILES / "12-course-lti-tool.py").read_text(encoding="utf-8").endswith(block)


# ------------------------------------------------ the role of lms_roster's token, on a real hub


def test_the_tljh_roster_role_is_the_values_own() -> None:
    import yaml

    from toychat.lms_roster import SCOPES

    values = yaml.safe_load((REPO / "deploy" / "values.yaml").read_text(encoding="utf-8"))
    scope: dict = {"get_config": Config}
    path = TLJH_FILES / "22-course-roster-role.py"
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), scope)
    role = scope["COURSE_ROSTER_ROLE"]
    assert {"name": "course-roster", **values["hub"]["loadRoles"]["course-roster"]} == role
    assert tuple(role["scopes"]) == SCOPES, "exactly what lms_roster's calls need"
    assert role["groups"] == ["instructors"]


#: The launches the stand-in login hands the hub (the LTI 1.3 claims the shipped hooks read).
LTI_ROLES = "https://purl.imsglobal.org/spec/lti/claim/roles"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
CUSTOM = "https://purl.imsglobal.org/spec/lti/claim/custom"
LAUNCHES = {
    "teacher": {"sub": "teacher", LTI_ROLES: [LIS + "Instructor"], CUSTOM: {"lms_user_id": "17"}},
    # course_uid: what deploy/values.yaml's uid hook records on Kubernetes (tests/test_exchange_uids.py)
    "student": {"sub": "student", LTI_ROLES: [LIS + "Learner"], CUSTOM: {"lms_user_id": "4021"}, "course_uid": 200002},
}


@pytest.mark.hub
def test_the_roster_role_lets_lms_roster_read_the_class_and_nothing_else(tmp_path: Path) -> None:
    """A JupyterHub with the shipped role file and the LMS-role hook (20-course-roles.py), groups
    managed by the authenticator as in the class deployment: the instructor's token with the role's
    scopes runs lms_roster; the hub refuses to issue those scopes to a student, and a student's
    own token cannot list the class."""
    import requests

    from toychat.lms_roster import SCOPES, hub_users

    proxy = configurable_http_proxy(tmp_path / "chp")
    state = tmp_path / "hub"
    state.mkdir()
    port, admin_token = free_port(), secrets.token_hex(16)
    config = state / "jupyterhub_config.py"
    config.write_text(
        "\n".join(
            [
                local_hub_lines(state, port, proxy),
                "from jupyterhub.auth import DummyAuthenticator",
                f"LAUNCHES = {LAUNCHES!r}",
                "class LaunchAuthenticator(DummyAuthenticator):",
                "    '''Stands in for the LTI login: the user's launch claims as their auth_state.'''",
                "    async def authenticate(self, handler, data):",
                "        return {'name': data['username'], 'auth_state': dict(LAUNCHES[data['username']])}",
                "c.JupyterHub.authenticator_class = LaunchAuthenticator",
                "c.Authenticator.allow_all = True",
                "c.Authenticator.manage_groups = True",
                "c.Authenticator.enable_auth_state = True",
                # the test's own admin, to issue tokens as a hub admin would
                f"c.JupyterHub.services = [{{'name': 'test-admin', 'api_token': {admin_token!r}}}]",
                "c.JupyterHub.load_roles = [{'name': 'test-admin', 'scopes': ['admin:users', 'tokens'],"
                " 'services': ['test-admin']}]",
                # the shipped files, loaded as TLJH loads its jupyterhub_config.d
                f"load_subconfig({str(TLJH_FILES / '20-course-roles.py')!r})",
                f"load_subconfig({str(TLJH_FILES / '22-course-roster-role.py')!r})",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    env = venv_env(JUPYTERHUB_CRYPT_KEY=secrets.token_hex(32))
    with running_hub(config, port=port, env=env) as hub:
        for name in LAUNCHES:  # each logs in once, as a launch from the LMS would
            session = requests.Session()
            session.get(f"{hub.url}/hub/login", timeout=30)
            answer = session.post(
                f"{hub.url}/hub/login",
                data={"username": name, "password": "x", "_xsrf": session.cookies["_xsrf"]},
                allow_redirects=False,
                timeout=30,
            )
            assert answer.status_code == 302, (answer.status_code, hub.log())
        admin = {"Authorization": f"token {admin_token}"}

        def issue(name: str, body: dict) -> requests.Response:
            return requests.post(f"{hub.url}/hub/api/users/{name}/tokens", json=body, headers=admin, timeout=30)

        # the instructor (the LMS's Instructor -> "instructors" -> the role) gets exactly those scopes
        answer = issue("teacher", {"scopes": list(SCOPES), "note": "lms_roster"})
        assert answer.status_code == 201, (answer.text, hub.log())
        teacher_token = answer.json()["token"]
        users = {user["name"]: user for user in hub_users(hub.url, teacher_token)}
        assert users["student"]["auth_state"][CUSTOM] == {"lms_user_id": "4021"}
        assert users["teacher"]["groups"] == ["instructors"]
        assert "server" not in users["student"], "the role reads no servers"
        roster, uids = tmp_path / "students.csv", tmp_path / "uids.csv"
        subprocess.run(
            [sys.executable, "-m", "toychat.lms_roster", hub.url, "--students", str(roster), "--uids", str(uids)],
            env=venv_env(JUPYTERHUB_API_TOKEN=teacher_token),
            check=True,
            capture_output=True,
            timeout=120,
        )
        assert [row["id"] for row in csv.DictReader(roster.open(encoding="utf-8"))] == ["student"]
        assert uids.read_text(encoding="utf-8").splitlines() == ["id,uid", "student,200002"]
        # a token of the role can do nothing else: not even stop or start a server
        stop = requests.delete(
            f"{hub.url}/hub/api/users/student/server", headers={"Authorization": f"token {teacher_token}"}, timeout=30
        )
        assert stop.status_code == 403, stop.text

        # a student holds none of the role's scopes: the hub will not issue them
        refused = issue("student", {"scopes": list(SCOPES)})
        assert refused.status_code == 400, refused.text
        # and a student's own token (all the student may do) cannot list the class
        answer = issue("student", {"note": "everything the student may do"})
        assert answer.status_code == 201, answer.text
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            hub_users(hub.url, answer.json()["token"])
        assert excinfo.value.code == 403
