"""The classroom relay as a real JupyterHub service, configured with exactly the
``jupyterhub_config.py`` lines docs/deploying.md prints (only the port and the
database path changed): two students log in, each gets a real single-user
server and a real kernel, they exchange an E2EE message through the service
from their kernels, and the instructor's server view shows ciphertext only.

Skipped with the reason where npm is absent; required under CI.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import re
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from support.browser import free_port
from support.hub import local_hub_lines, running_hub
from support.nbtools import REPO, record_timing, venv_env

pytestmark = [pytest.mark.integration, pytest.mark.hub]

STUDENTS = ("student1", "student2")
GUIDE = REPO / "docs" / "deploying.md"
GUIDE_PORT = "10101"
GUIDE_DB = "/srv/toychat/relay.sqlite"


def guide_service_config() -> str:
    """The ``jupyterhub_config.py`` block of the guide's hub-service section, verbatim."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.DOTALL)
    [block] = [b for b in blocks if "c.JupyterHub.services" in b and "toychat.relay" in b]
    return block


def test_the_guide_prints_the_service_configuration() -> None:
    block = guide_service_config()
    for line in (
        '"--hub"',
        "access:services!service=toychat-relay",
        '"TOYCHAT_RELAY_HUB": "1"',
        "c.JupyterHub.load_groups",
        f"127.0.0.1:{GUIDE_PORT}",
        GUIDE_DB,
    ):
        assert line in block


def api(url: str, token: str, method: str = "GET", data: Any = None, timeout: float = 30) -> Any:
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(url, data=body, method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        text = response.read().decode()
    return json.loads(text) if text else None


def log_in(base: str, user: str, password: str) -> None:
    """The hub's login form, as a browser submits it (DummyAuthenticator)."""
    import http.cookiejar

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    with opener.open(f"{base}/hub/login", timeout=30) as response:
        page = response.read().decode()
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page)
    form = {"username": user, "password": password, **({"_xsrf": xsrf.group(1)} if xsrf else {})}
    request = urllib.request.Request(f"{base}/hub/login", data=urllib.parse.urlencode(form).encode(), method="POST")
    try:
        opener.open(request, timeout=60)
        raise AssertionError(f"{user}: the login form did not redirect")
    except urllib.error.HTTPError as exc:
        assert exc.code == 302, f"{user}: login refused"
        assert "/hub/login" not in exc.headers["Location"], f"{user}: login refused"
    assert any(c.name.startswith("jupyterhub-session") or c.name == "jupyterhub-hub-login" for c in jar)


async def run_in_kernel(ws_url: str, token: str, code: str, timeout: float = 120) -> str:
    """Execute ``code`` in a running kernel over Jupyter's websocket protocol; its printed output."""
    import tornado.httpclient
    import tornado.websocket

    request = tornado.httpclient.HTTPRequest(ws_url, headers={"Authorization": f"token {token}"})
    ws = await tornado.websocket.websocket_connect(request)
    msg_id = uuid.uuid4().hex
    ws.write_message(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "username": "test",
                    "session": uuid.uuid4().hex,
                    "msg_type": "execute_request",
                    "version": "5.3",
                    "date": datetime.datetime.now(datetime.UTC).isoformat(),
                },
                "parent_header": {},
                "metadata": {},
                "channel": "shell",
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
            }
        )
    )
    out: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            raw = await asyncio.wait_for(ws.read_message(), timeout=max(1.0, deadline - time.monotonic()))
            assert raw is not None, "the kernel's websocket closed"
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                raise AssertionError("the kernel raised:\n" + "\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out)
    finally:
        ws.close()


def test_two_students_chat_e2ee_through_the_hub_service(tmp_path: Path, proxy_command: str) -> None:
    port, relay_port = free_port(), free_port()
    homes = tmp_path / "home"
    for user in (*STUDENTS, "teacher"):
        (homes / user).mkdir(parents=True)
    password, admin_token = secrets.token_hex(8), secrets.token_hex(24)
    relay_db = tmp_path / "relay.sqlite"
    service_lines = guide_service_config().replace(GUIDE_PORT, str(relay_port)).replace(GUIDE_DB, str(relay_db))
    singleuser_args = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(
        f"""
c = get_config()  # noqa
{local_hub_lines(tmp_path, port, proxy_command)}
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allowed_users = {{"student1", "student2", "teacher"}}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(homes / "{username}")!r}
c.Spawner.cmd = [{sys.executable!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = {singleuser_args!r}
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

# ---- the deploying guide's lines, verbatim but for the port and the database path ----
{service_lines}
# ---- the test's own admin token (to start servers and issue API tokens) ----
c.JupyterHub.services.append({{"name": "test-admin", "api_token": {admin_token!r}}})
c.JupyterHub.load_roles.append(
    {{"name": "test-admin", "scopes": ["admin:users", "admin:servers", "tokens"], "services": ["test-admin"]}})
"""
    )
    env = venv_env()
    env.pop("MPLBACKEND", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")

    def relay_service_answers(url: str) -> bool:
        """Ready when the relay service answers behind the hub, authenticating through it."""
        with urllib.request.urlopen(f"{url}/services/toychat-relay/api/info", timeout=2) as response:
            return bool(json.load(response).get("auth") == "hub")

    start = time.perf_counter()
    with running_hub(
        config, port=port, env=env, ready=relay_service_answers, what="JupyterHub and its relay service"
    ) as hub:
        base = hub.url
        service = f"{base}/services/toychat-relay"
        tokens = {}
        for user in STUDENTS:
            log_in(base, user, password)
            api(f"{base}/hub/api/users/{user}/server", admin_token, "POST", {})
            tokens[user] = api(
                f"{base}/hub/api/users/{user}/tokens",
                admin_token,
                "POST",
                {"note": "test: the student's kernel", "expires_in": 600},
            )["token"]
        kernels = {}
        for user in STUDENTS:
            deadline = time.monotonic() + 180
            while not (api(f"{base}/hub/api/users/{user}", admin_token).get("servers", {}).get("", {}).get("ready")):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{user}'s server did not start:\n" + hub.log())
                time.sleep(0.5)
            kernel = api(f"{base}/user/{user}/api/kernels", tokens[user], "POST", {"name": "python3"})
            kernels[user] = f"ws://127.0.0.1:{port}/user/{user}/api/kernels/{kernel['id']}/channels"

        def run(user: str, code: str) -> str:
            return asyncio.run(run_in_kernel(kernels[user], tokens[user], code))

        # What a student types: the guide's notebook cell.
        setup = (
            "import os\nfrom toychat import Client\nfrom toychat.relay import relay_from_env\n"
            "server = relay_from_env()\nme = Client(os.environ['JUPYTERHUB_USER'], server)\n"
            "print(type(server).__name__, me.name, server.url)\n"
        )
        for user in STUDENTS:
            assert run(user, setup).split()[:2] == ["RemoteServer", user]
        secret = f"meet at the library at 6, code {secrets.token_hex(4)}"
        run("student1", f"sent = me.send('student2', {secret!r})\nprint(me.safety_number('student2'))")
        out = run(
            "student2",
            "assert server.wait_for_messages('student2', 60)\n"
            "got = me.receive()\nprint(repr([(m.sender, m.text, m.mode) for m in got]))\n"
            "me.send('student1', 'see you there')",
        )
        assert out.strip() == repr([("student1", secret, "e2ee")])
        out = run("student1", "assert server.wait_for_messages('student1', 60)\nprint([m.text for m in me.receive()])")
        assert out.strip() == "['see you there']"
        # A student cannot register as a classmate: the hub login is the chat identity.
        out = run(
            "student1",
            "from toychat import Identity\nfrom toychat.relay import Forbidden\ntry:\n"
            "    server.register(Identity.generate('student2').public)\n"
            "except Forbidden as exc:\n    print('Forbidden')\n",
        )
        assert out.strip() == "Forbidden"

        # The instructor (hub group "instructors") sees metadata and ciphertext only.
        log_in(base, "teacher", password)
        teacher = api(f"{base}/hub/api/users/teacher/tokens", admin_token, "POST", {"expires_in": 600})["token"]
        view = api(f"{service}/api/server-view", teacher)
        assert view["mode"] == "e2ee"
        assert set(STUDENTS) <= set(view["users"])
        rows = [(m["sender"], m["recipient"]) for m in view["messages"]]
        assert rows == [("student1", "student2"), ("student2", "student1")]
        assert all(m["content_seen"].startswith("ciphertext ") for m in view["messages"])
        assert secret not in json.dumps(view)
        assert "library" not in json.dumps(view)
        assert "see you" not in json.dumps(view)
        with urllib.request.urlopen(
            urllib.request.Request(f"{service}/dashboard", headers={"Authorization": f"token {teacher}"}), timeout=30
        ) as response:
            assert response.status == 200
            assert b"dashboard.js" in response.read()
        with pytest.raises(urllib.error.HTTPError) as refused:  # a student is not an instructor
            api(f"{service}/api/server-view", tokens["student1"])
        assert refused.value.code == 403
        assert relay_db.exists()  # the service keeps its mailboxes where the guide's --db says
    record_timing(
        "browser",
        "JupyterHub: two students chat through the relay service from real kernels",
        time.perf_counter() - start,
    )
