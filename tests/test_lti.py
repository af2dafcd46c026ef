"""LTI 1.3 login from the university's LMS, with the hub configuration of deploy/values.yaml.

The test plays the LMS on 127.0.0.1 (tests/support/lms.py): its own RSA signing key and JWKS endpoint,
the OIDC login initiation an LMS sends when a student clicks the course link,
and the authorization endpoint that answers the hub with a signed ``id_token``
(auto-submitted form, as a browser would post it).  The hub is a real JupyterHub
with ``jupyterhub-ltiauthenticator`` and the Zero-to-JupyterHub values' own
``hub.services``, ``hub.loadRoles``, ``hub.config`` and ``hub.extraConfig`` (loaded the way the
chart's ``jupyterhub_config.py`` loads them: ``support.chart.hub_config_code``); only addresses
(the relay service's too), the spawner (local processes instead of Kubernetes pods) and the
LMS's URLs are replaced.  The chart's idle-culler service is not started.  The hub here is the course
environment's JupyterHub; tests/test_chart_hub.py starts the same hub (``values_hub``) with the
JupyterHub the chart's hub image runs.

Checked: a student lands in their own server under their LMS user id, which is
also their nbgrader student id (their submission in the exchange carries it);
an instructor launch puts that user in the hub group ``instructors`` and gives
them formgrader, which students do not get; a launch signed with another key is
refused.  Inside the LMS page (docs/deploying.md, "Inside the LMS page"): the hub's pages and the
student's server (JupyterLab, Voila) may be framed by the LMS's origin and nobody else, every
cookie the launch leaves is ``SameSite=None; Secure``, and headless Chromium shows the hub inside
the LMS's page but refuses it inside another origin's.  The values' relay service runs and answers
through the hub's proxy, and the roles "user" and "server" give a learner's own token and their
server's token (the one a kernel sends) the relay's scope; a token without it is refused.
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.browser import free_port, require
from support.chart import hub_config_code
from support.hub import configurable_http_proxy, loopback_browser_session, running_hub
from support.lms import LMS, ROLE, hub_lms_lines
from support.nbtools import REPO, record_timing, venv_env

pytestmark = [pytest.mark.nbgrader, pytest.mark.hub]  # it starts JupyterHub

CUSTOM_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/custom"
ENDPOINT_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
AGS_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/"

VALUES = REPO / "deploy" / "values.yaml"
ASSIGNMENT, COURSE_ID = "ex01_encryption", "e2ee-online-safety"
#: What every launch in the course carries besides who and which role: the LMS's own user id (the
#: tool configuration's custom field) and the course's AGS endpoint.
AGS = {"lineitems": "https://lms.example.edu/api/lti/courses/101/line_items", "scope": [AGS_SCOPE + "score"]}


def _launch_claims(lms_user_id: str) -> dict:
    return {CUSTOM_CLAIM: {"lms_user_id": lms_user_id}, ENDPOINT_CLAIM: AGS}


STUDENT = {
    "sub": "5f0c1a2e-8d3b-4b8e-9a51-0c6f3e2d7a10",
    "name": "Ada Student",
    "roles": [ROLE + "Learner"],
    "claims": _launch_claims("4021"),
}
TEACHER = {
    "sub": "0b7e9c44-2f6a-4c1d-8e3b-91a2d5c6f708",
    "name": "Tom Teacher",
    "roles": [ROLE + "Instructor"],
    "claims": _launch_claims("17"),
}


def load_values() -> dict:
    import yaml

    return yaml.safe_load(VALUES.read_text(encoding="utf-8"))


#: The relay service's addresses and database in deploy/values.yaml (the hub pod's Service, every
#: address of the pod, the hub's volume), and what the test hub puts in their place.
RELAY_URL, RELAY_LISTEN, RELAY_DB = "http://hub:10101", "http://0.0.0.0:10101", "/srv/jupyterhub/"


def relay_on_this_machine(values: dict, port: int, state: Path) -> None:
    """Point ``values``' relay service at ``127.0.0.1:port`` and its database into ``state``: the
    only changes; fails if the shipped service no longer has the addresses this replaces."""
    service = values["hub"]["services"]["toychat-relay"]
    assert service["url"] == RELAY_URL, service["url"]
    service["url"] = f"http://127.0.0.1:{port}"
    command = " ".join(service["command"])
    assert RELAY_LISTEN in command, command
    assert RELAY_DB in command, command
    service["command"] = [
        word.replace(RELAY_LISTEN, f"http://127.0.0.1:{port}").replace(RELAY_DB, f"{state}/")
        for word in service["command"]
    ]


# --------------------------------------------------------------------------- the hub


@pytest.fixture(scope="module")
def lms() -> Iterator[LMS]:
    try:
        import jwt  # noqa: F401
        import ltiauthenticator  # noqa: F401
        import requests  # noqa: F401
        import yaml  # noqa: F401
    except ImportError as exc:
        require(f"{exc.name} is not installed (requirements.txt); the LTI test needs it")
    with LMS() as platform:
        yield platform


@pytest.fixture(scope="module")
def hub(lms: LMS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """A JupyterHub with the values' hub configuration; yields (URL, admin token, exchange)."""
    with values_hub(lms, tmp_path_factory) as running:
        yield running


@contextmanager
def values_hub(
    lms: LMS, tmp_path_factory: pytest.TempPathFactory, *, python: Path | None = None
) -> Iterator[tuple[str, str, Path]]:
    """Start a JupyterHub with the values' hub configuration, loaded as the chart loads it, and
    this machine's addresses, local-process spawner and ``lms`` in place of the cluster's and the
    real LMS's; yield (URL, admin token, exchange).

    ``python``: the interpreter whose JupyterHub runs the hub and whose ``python`` (first on PATH)
    runs the relay service, as the hub image's Python does (tests/test_chart_hub.py: the chart's
    pinned hub); by default this test run's.  The single-user servers always run this test run's
    Python: the user image's, not the hub's."""
    proxy = configurable_http_proxy(tmp_path_factory.mktemp("chp"))
    state = tmp_path_factory.mktemp("lti-hub")
    homes, exchange = state / "homes", state / "exchange"
    homes.mkdir()
    exchange.mkdir(mode=0o777)
    port, token = free_port(), secrets.token_hex(16)
    allow_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    config = state / "jupyterhub_config.py"
    # The LMS that may frame the hub is this one (its origin is the block's one setting).
    values = load_values()
    frame = values["hub"]["extraConfig"]["05-course-lms-frame"]
    shipped = f'LMS_ORIGIN = "{lms_origin()}"'
    assert shipped in frame
    values["hub"]["extraConfig"]["05-course-lms-frame"] = frame.replace(shipped, f'LMS_ORIGIN = "{lms.issuer}"')
    relay_on_this_machine(values, free_port(), state)
    config.write_text(
        hub_config_code(values)
        + textwrap.dedent(f"""
        # --- this machine instead of the cluster and the real LMS
        c.JupyterHub.ip = "127.0.0.1"
        c.JupyterHub.port = {port}
        c.JupyterHub.hub_ip = "127.0.0.1"
        c.JupyterHub.hub_port = {free_port()}
        c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
        c.ConfigurableHTTPProxy.command = [{proxy!r}]
        c.JupyterHub.db_url = "sqlite:///{state / "jupyterhub.sqlite"}"
        c.JupyterHub.cookie_secret_file = {str(state / "cookie_secret")!r}
        c.JupyterHub.spawner_class = "simple"
        c.SimpleLocalProcessSpawner.home_dir_template = {str(homes / "{username}")!r}
        c.Spawner.cmd = [{sys.executable!r}, "-m", "jupyterhub.singleuser"]
        c.Spawner.args = {allow_root!r}
        c.Spawner.default_url = "/lab"
        c.Spawner.environment.update({{"NBGRADER_EXCHANGE_ROOT": {str(exchange)!r}}})
        c.Spawner.start_timeout = 120
        c.Spawner.http_timeout = 120
        c.JupyterHub.services.append({{"name": "test-admin", "api_token": {token!r}}})
        c.JupyterHub.load_roles.append({{"name": "test-admin", "services": ["test-admin"], "scopes": [
            "admin:users", "admin:groups", "read:servers", "admin:server_state", "tokens"]}})
    """)
        + hub_lms_lines(lms)
        + "\n"
    )
    # The key that encrypts the launches' claims (auth_state): the chart generates one; here the test.
    env = venv_env(COURSE_JUPYTER_CONFIG=str(REPO / "deploy" / "jupyter"), JUPYTERHUB_CRYPT_KEY=secrets.token_hex(32))
    env.pop("MPLBACKEND", None)
    if python is not None:
        env["PATH"] = str(python.parent) + os.pathsep + env["PATH"]
    with running_hub(
        config,
        port=port,
        env=env,
        ready=relay_answers,
        what="JupyterHub and the values' relay service",
        python=python or Path(sys.executable),
    ) as running:
        yield running.url, token, exchange


def relay_answers(url: str) -> bool:
    """Ready when the relay service answers through the hub's proxy, in hub mode."""
    with urllib.request.urlopen(f"{url}/services/toychat-relay/api/info", timeout=2) as response:
        return bool(json.load(response).get("auth") == "hub")


def _release(exchange: Path, course: Path) -> None:
    """The instructor's release of ex01 into the hub's exchange (nbgrader's command line)."""
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    (course / "nbgrader_config.py").write_text(
        (REPO / "nbgrader_config.py").read_text() + f"\nc.Exchange.root = {str(exchange)!r}\n"
    )
    for step in ("generate_assignment", "release_assignment"):
        subprocess.run(
            [sys.executable, "-m", "nbgrader", step, ASSIGNMENT, *(["--force"] if step[0] == "g" else [])],
            cwd=course,
            env=venv_env(),
            check=True,
            capture_output=True,
            timeout=600,
        )


def lms_origin() -> str:
    """The LMS origin deploy/values.yaml allows to frame the hub (its one setting)."""
    block = load_values()["hub"]["extraConfig"]["05-course-lms-frame"]
    return re.search(r'^LMS_ORIGIN = "([^"]+)"', block, re.MULTILINE).group(1)


def _cross_site(cookie: object) -> bool:
    """Does the browser send this cookie inside another site's frame (``SameSite=None; Secure``)?"""
    attributes = {k.lower(): v for k, v in cookie._rest.items()}
    return bool(cookie.secure) and str(attributes.get("samesite", "")).lower() == "none"


def _disabled_plugins(user: object) -> list[str]:
    """The JupyterLab plugins the user's server turns off (from the page's config data)."""
    page = user.call("GET", "lab").text
    data = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.DOTALL)
    return json.loads(data.group(1)).get("disabledExtensions", [])


def test_values_hub_config_maps_lms_users_and_roles(lms: LMS, hub: tuple[str, str, Path], tmp_path: Path) -> None:
    import requests

    from test_class_deployment import Student

    base, token, exchange = hub
    start = time.perf_counter()
    _release(exchange, tmp_path / "course")
    admin = {"Authorization": f"token {token}"}

    # A student clicks the course link in the LMS and lands in their own server.
    student = Student(base, STUDENT["sub"])
    landed = lms.launch(student.http, base, STUDENT)
    assert landed.status_code == 200, landed.text[:500]
    student.wait_for_server()
    user = requests.get(f"{base}/hub/api/users/{STUDENT['sub']}", headers=admin, timeout=30).json()
    assert user["name"] == STUDENT["sub"], user
    assert user["groups"] == [], user

    # Inside the LMS page: the hub's pages and the student's own server (JupyterLab, Voila) may be
    # framed by the LMS origin and by nobody else, and every cookie the launch left is sent there.
    policy = f"frame-ancestors {lms.issuer}"
    login = requests.get(f"{base}/hub/login", timeout=30)
    assert login.headers["Content-Security-Policy"] == policy
    assert [c.name for c in login.cookies if not _cross_site(c)] == [], "the hub's XSRF cookie"
    for page in ("lab", "voila/tree"):
        assert student.call("GET", page).headers["Content-Security-Policy"] == policy, page
    home = student.http.get(f"{base}/hub/home", timeout=30)
    assert home.url == f"{base}/hub/home", "the launch's hub login is sent back"
    assert home.headers["Content-Security-Policy"] == policy
    cookies = {(c.name, c.path) for c in student.http.cookies}
    assert {c.path for c in student.http.cookies} >= {"/hub/", f"/user/{STUDENT['sub']}/"}, cookies
    assert [(c.name, c.path) for c in student.http.cookies if not _cross_site(c)] == [], cookies

    # The LMS user id is the nbgrader student id: the submission in the exchange carries it.
    student.nbgrader("fetch")
    assert student.nbgrader("submit").get("success")
    [submission] = os.listdir(exchange / COURSE_ID / "inbound")
    assert submission.startswith(f"{STUDENT['sub']}+{ASSIGNMENT}+"), submission
    with pytest.raises(requests.HTTPError, match="404"):
        student.call("GET", "formgrader")  # students have no formgrader ...
    assert "@jupyter/nbgrader:formgrader" in _disabled_plugins(student)  # ... nor its JupyterLab plugin

    # An instructor's launch puts them in the hub group "instructors", with formgrader.
    teacher = Student(base, TEACHER["sub"])
    assert lms.launch(teacher.http, base, TEACHER).status_code == 200
    teacher.wait_for_server()
    group = requests.get(f"{base}/hub/api/groups/instructors", headers=admin, timeout=30).json()
    assert group["users"] == [TEACHER["sub"]], group
    assert "<title>nbgrader formgrade</title>" in teacher.call("GET", "formgrader").text
    assert "@jupyter/nbgrader:formgrader" not in _disabled_plugins(teacher)

    # A launch signed with a key that is not in the LMS's JWKS is refused.
    from cryptography.hazmat.primitives.asymmetric import rsa

    lms.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    try:
        # (a session that keeps the launch's Secure cookies: refused for its key, not for lost cookies)
        forged = lms.launch(loopback_browser_session(), base, {**TEACHER, "sub": "mallory"})
    finally:
        lms.signing_key = lms.key
    assert forged.status_code in (400, 401), forged.status_code
    assert requests.get(f"{base}/hub/api/users/mallory", headers=admin, timeout=30).status_code == 404

    # The launches' claims were kept: the instructor's command reads the class list (LMS user ids)
    # and the course's AGS endpoint from the hub, with a token that may read auth_state.
    roster, passback = tmp_path / "students.csv", tmp_path / "passback.json"
    passback.write_text(json.dumps({"issuer": "https://lms.example.edu", "client_id": "42"}), encoding="utf-8")
    command = [sys.executable, "-m", "toychat.lms_roster", base, "--students", str(roster), "--passback", str(passback)]
    subprocess.run(command, env=venv_env(JUPYTERHUB_API_TOKEN=token), check=True, capture_output=True, timeout=120)
    with roster.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    learners = [(row["id"], row["lms_user_id"]) for row in rows]
    assert learners == [(STUDENT["sub"], "4021")], "the student, with their LMS id; the instructor is no student"
    settings = json.loads(passback.read_text(encoding="utf-8"))
    assert settings == {"issuer": "https://lms.example.edu", "client_id": "42", **AGS}

    # The tool configuration the hub serves to the LMS asks for no names or e-mail (privacy level
    # anonymous) and keeps the LMS user id field.
    tool = requests.get(f"{base}/hub/lti13/config", timeout=30).json()
    assert [extension["privacy_level"] for extension in tool["extensions"]] == ["anonymous"]
    assert tool["custom_fields"] == {"lms_user_id": "$User.id"}
    placements = tool["extensions"][0]["settings"]["placements"]
    assert [p.get("custom_fields", {}) for p in placements] == [{"lms_user_id": "$User.id"}, {}]
    record_timing(
        "nbgrader", "LTI 1.3 launches (student, instructor, forged) into the values' hub", time.perf_counter() - start
    )


@pytest.mark.browser
def test_only_the_lms_page_can_frame_the_hub(lms: LMS, hub: tuple[str, str, Path]) -> None:
    """Headless Chromium opens the LMS's course page, which frames the hub, and the same page on
    another origin (another port of 127.0.0.1): the first shows the hub inside, the second is
    refused.  Both are the same *site* as the hub (ports do not count), so this checks the frame
    policy only; the cookies' SameSite=None is checked in the test above, by its attributes."""
    from support.browser import chromium_page, chromium_path

    base = hub[0]
    executable = chromium_path()
    inside: dict[str, str] = {}
    with LMS(key_id="another-site") as stranger, chromium_page(executable) as page:
        for name, site in (("lms", lms), ("stranger", stranger)):
            page.goto(f"{site.issuer}/frame?src={urllib.parse.quote(base + '/hub/login')}", wait_until="load")
            page.wait_for_timeout(1000)
            [frame] = [f for f in page.frames if f != page.main_frame]
            inside[name] = frame.url
    assert inside["lms"].startswith(f"{base}/hub/"), inside
    assert inside["stranger"].startswith("chrome-error://"), inside


def _server_environment(pid: int) -> dict[str, str]:
    """The environment of the single-user server process ``pid`` (what its kernels inherit)."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def test_values_relay_service_and_roles_started(lms: LMS, hub: tuple[str, str, Path]) -> None:
    """deploy/values.yaml's ``hub.services`` and ``hub.loadRoles``, loaded as the chart loads them
    (support.chart.hub_config_code; only the relay's addresses and database path moved to this
    machine): the relay runs as a hub service and answers through the hub's proxy, and the roles
    "user" and "server" carry the values' scopes, so a learner's own token and their server's
    token (what a kernel sends, ``relay_from_env``) both reach the relay under the learner's hub
    name, while a token of theirs without the relay's scope is refused."""
    start = time.perf_counter()
    check_relay_service_and_roles(lms, hub)
    record_timing("hub", "values.yaml's relay service and roles on a real hub", time.perf_counter() - start)


def check_relay_service_and_roles(lms: LMS, hub: tuple[str, str, Path]) -> None:
    """What test_values_relay_service_and_roles_started checks, on ``hub`` (from :func:`values_hub`)."""
    import requests

    from test_class_deployment import Student
    from toychat import Identity
    from toychat.relay import Forbidden, RemoteServer

    base, token, _exchange = hub
    admin = {"Authorization": f"token {token}"}
    service = f"{base}/services/toychat-relay"
    info = requests.get(f"{service}/api/info", timeout=30)
    assert info.status_code == 200, info.text[:300]
    assert info.json()["auth"] == "hub", "the relay checks logins with the hub"

    learner = {**STUDENT, "sub": "7d2e4c1b-relay-learner", "claims": _launch_claims("4022")}
    name = learner["sub"]
    student = Student(base, name)
    assert lms.launch(student.http, base, learner).status_code == 200
    student.wait_for_server()
    model = requests.get(f"{base}/hub/api/users/{name}", headers=admin, timeout=30).json()
    assert model["roles"] == ["user"], model
    server_token = _server_environment(model["servers"][""]["state"]["pid"])["JUPYTERHUB_API_TOKEN"]
    user_token = requests.post(
        f"{base}/hub/api/users/{name}/tokens", headers=admin, json={"expires_in": 600}, timeout=30
    ).json()["token"]

    relay_scope = "access:services!service=toychat-relay"
    # The scopes each token holds, as the hub's REST API reports them (the values' role scopes,
    # filters resolved to this learner).
    wanted = {
        "user": {relay_scope, f"read:users!user={name}"},  # "self" gives the user's own read scopes
        "server": {relay_scope, f"users:activity!user={name}", f"access:servers!server={name}/"},
    }
    for role, login in (("user", user_token), ("server", server_token)):
        whoami = requests.get(f"{base}/hub/api/user", headers={"Authorization": f"token {login}"}, timeout=30).json()
        assert whoami["name"] == name, whoami
        missing = wanted[role] - set(whoami["scopes"])
        assert not missing, f"the {role} role's token lacks {sorted(missing)}: {sorted(whoami['scopes'])}"
        relay = RemoteServer(service, headers={"Authorization": f"token {login}"}, timeout=30)
        relay.register(Identity.generate(name).public)  # the relay takes the hub login as this name
        assert relay.lookup(name).name == name

    # A token of the same learner without the relay's scope is refused by the relay.
    narrow = requests.post(
        f"{base}/hub/api/users/{name}/tokens",
        headers=admin,
        json={"expires_in": 600, "scopes": [f"read:users:name!user={name}"]},
        timeout=30,
    ).json()["token"]
    with pytest.raises(Forbidden):
        RemoteServer(service, headers={"Authorization": f"token {narrow}"}, timeout=30).register(
            Identity.generate(name).public
        )
