"""The policy view's kernels are culled once nobody is connected to them, on a real hub.

docs/deploying.md ("Policy view") promises that a kernel left behind by a closed Voilà tab stops
after ``cull_idle_timeout`` idle seconds, while a kernel with a tab open is never culled: the role
configurations of ``deploy/jupyter/`` set ``MappingKernelManager``'s culling, and the roles hook
(``deploy/tljh/jupyterhub_config.d/20-course-roles.py``, the same code as values.yaml's
"10-course-roles") puts them on every single-user server's ``JUPYTER_CONFIG_PATH``.

Here a real JupyterHub runs that hook as shipped, over a copy of ``deploy/jupyter/`` in which only
the two time constants are lowered, through the same keys (``cull_idle_timeout`` 900 -> 8 s,
``cull_interval`` 60 -> 2 s; every other setting, ``cull_connected`` and ``cull_busy`` among them,
as shipped).  A policy reader logs in through the hub's form in headless Chromium and opens
lesson 03's policy view in their own server; the kernel Voilà started for the page is kept while
the page is open for longer than the idle timeout, and culled by the server's culler (its log says
so) within the idle timeout plus one culling interval of the page going away.

The page goes away without its ``beforeunload`` handler (Playwright's default ``page.close()``):
as when the browser is killed, the laptop sleeps or the network drops.  Voilà's front end also
asks the server to shut its kernel down from that handler (``voila/api/shutdown``); the second
test shows that leaving the page does so on the same hub.  Culling is what catches every tab
that handler misses (a tab closed by Playwright with the handler run sent no request here).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.browser import chromium_page, chromium_path, free_port
from support.hub import Hub, local_hub_lines, running_hub
from support.nbtools import REPO, record_timing, venv_env
from test_hub_relay_service import api

pytestmark = [pytest.mark.hub, pytest.mark.browser]

DEPLOY = REPO / "deploy"
ROLES_HOOK = DEPLOY / "tljh" / "jupyterhub_config.d" / "20-course-roles.py"
#: A cheap lesson with a live widget (its chat box): Voilà renders it in a few seconds.
LESSON = "03_a_toy_e2ee_chat.ipynb"
CHAT_BOX = ".jupyter-widgets input[type='text']"
READER = "policy-reader"
#: The culling constants the test sets instead of the shipped ones (seconds), through the same keys.
TEST_TIMEOUT, TEST_INTERVAL = 8, 2
#: Seconds allowed beyond the timeout and one interval, for a loaded machine (the culler's callback
#: and the REST poll that sees its result).
SLACK = 10.0
RENDER_TIMEOUT_MS = 300_000


def course_jupyter_with_short_culling(folder: Path) -> dict[str, dict[str, Any]]:
    """Copy ``deploy/jupyter/`` to ``folder`` with each role's ``cull_idle_timeout`` and
    ``cull_interval`` set to :data:`TEST_TIMEOUT` and :data:`TEST_INTERVAL`; return each role's
    shipped ``MappingKernelManager`` settings."""
    shutil.copytree(DEPLOY / "jupyter", folder)
    shipped = {}
    for role in ("student", "instructor"):
        path = folder / role / "jupyter_server_config.json"
        config = json.loads(path.read_text(encoding="utf-8"))
        culling = config["MappingKernelManager"]
        shipped[role] = dict(culling)
        culling.update(cull_idle_timeout=TEST_TIMEOUT, cull_interval=TEST_INTERVAL)
        path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return shipped


@pytest.fixture(scope="module")
def hub(proxy_command: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, str, str]]:
    """A hub with the shipped roles hook over the short-culling copy, the reader's server started,
    the lesson in their home; yields (hub, the reader's password, a token of the reader's)."""
    state = tmp_path_factory.mktemp("voila-culling")
    shipped = course_jupyter_with_short_culling(state / "jupyter")
    assert shipped["student"]["cull_connected"] is False, "an open tab's kernel must never be culled"
    assert shipped["student"]["cull_idle_timeout"] > 0, "culling is on"
    home = state / "homes" / READER
    (home / "lessons").mkdir(parents=True)
    shutil.copy2(REPO / "lessons" / LESSON, home / "lessons" / LESSON)
    port, password, admin = free_port(), secrets.token_hex(8), secrets.token_hex(24)
    allow_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    config = state / "jupyterhub_config.py"
    config.write_text(
        f"""
c = get_config()  # noqa
{local_hub_lines(state, port, proxy_command)}
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allowed_users = {{{READER!r}}}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(state / "homes" / "{username}")!r}
c.Spawner.cmd = [{sys.executable!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = {allow_root!r}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.JupyterHub.services.append({{"name": "test-admin", "api_token": {admin!r}}})
c.JupyterHub.load_roles.append(
    {{"name": "test-admin", "scopes": ["admin:users", "admin:servers", "tokens"], "services": ["test-admin"]}})

# ---- shipped: the roles hook (deploy/tljh/jupyterhub_config.d/20-course-roles.py), verbatim ----
{ROLES_HOOK.read_text(encoding="utf-8")}
"""
    )
    env = venv_env(COURSE_JUPYTER_CONFIG=str(state / "jupyter"))
    env.pop("MPLBACKEND", None)  # the kernel draws with the inline backend, as on a real hub
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    with running_hub(config, port=port, env=env) as running:
        base = running.url
        api(f"{base}/hub/api/users/{READER}/server", admin, "POST", {})
        deadline = time.monotonic() + 180
        while not api(f"{base}/hub/api/users/{READER}", admin).get("servers", {}).get("", {}).get("ready"):
            assert time.monotonic() < deadline, f"the reader's server did not start:\n{running.log()}"
            time.sleep(0.5)
        token = api(f"{base}/hub/api/users/{READER}/tokens", admin, "POST", {"expires_in": 900})["token"]
        yield running, password, token


def _kernels(hub: Hub, token: str) -> list[dict[str, Any]]:
    """The kernels of the reader's server (its REST API)."""
    return list(api(f"{hub.url}/user/{READER}/api/kernels", token))


def _open_policy_view(page: Any, hub: Hub, password: str) -> None:
    """Log in through the hub's form and land on the lesson's policy view; wait for its widgets."""
    lesson = f"/user/{READER}/voila/render/lessons/{LESSON}"
    page.goto(f"{hub.url}/hub/login?next={urllib.parse.quote(lesson)}")
    if page.locator("#login_submit").count():
        page.fill("input[name='username']", READER)
        page.fill("input[name='password']", password)
        page.click("#login_submit")
    page.wait_for_url(f"{hub.url}{lesson}*", timeout=RENDER_TIMEOUT_MS)
    page.locator(CHAT_BOX).first.wait_for(timeout=RENDER_TIMEOUT_MS)


def _wait_until_gone(hub: Hub, token: str, kernel_id: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if kernel_id not in {k["id"] for k in _kernels(hub, token)}:
            return True
        time.sleep(0.5)
    return False


def _culled(hub: Hub, kernel_id: str) -> bool:
    """Whether the single-user server's log (in the hub's) says its culler stopped ``kernel_id``."""
    log = hub.log_path.read_text(errors="replace")
    return f"kernel 'python3' ({kernel_id}) with 0 connections due to" in log


def test_a_closed_policy_view_kernel_is_culled(hub: tuple[Hub, str, str]) -> None:
    running, password, token = hub
    start = time.perf_counter()
    with chromium_page(chromium_path()) as page:
        _open_policy_view(page, running, password)
        [kernel] = _kernels(running, token)
        assert kernel["connections"] >= 1, kernel
        # Open for longer than the idle timeout and a culling interval: the kernel is kept.
        time.sleep(TEST_TIMEOUT + 2 * TEST_INTERVAL)
        still = {k["id"]: k for k in _kernels(running, token)}
        assert kernel["id"] in still, f"culled with the page open:\n{running.log()}"
        assert still[kernel["id"]]["connections"] >= 1
        page.close()  # no beforeunload handler: Voilà's shutdown request is not sent
        closed = time.monotonic()
        gone = _wait_until_gone(running, token, kernel["id"], closed + TEST_TIMEOUT + TEST_INTERVAL + SLACK)
        after = time.monotonic() - closed
    assert gone, f"kernel {kernel['id']} still running {after:.0f} s after its page closed:\n{running.log()}"
    assert _culled(running, kernel["id"]), f"gone, but not by the culler:\n{running.log()}"
    record_timing(
        "hub",
        f"Voilà kernel culled after its page closed (timeout {TEST_TIMEOUT} s, interval {TEST_INTERVAL} s)",
        after,
    )
    record_timing("hub", "policy view on a hub: open, keep, close, culled", time.perf_counter() - start)


def test_leaving_the_page_shuts_its_kernel_down(hub: tuple[Hub, str, str]) -> None:
    """Leaving the policy view (the reader goes to another address) runs Voilà's ``beforeunload``
    handler, which asks the server to shut the page's kernel down (``voila/api/shutdown``): the
    kernel goes without the culler (no culling line for it in the log).

    Seen here, not asserted: Playwright's ``page.close(run_before_unload=True)`` sent no such
    request (the kernel was culled), so a closed tab is left to the culler in this test."""
    running, password, token = hub
    with chromium_page(chromium_path()) as page:
        _open_policy_view(page, running, password)
        [kernel] = [k for k in _kernels(running, token) if k["connections"] >= 1]
        page.goto("about:blank")  # leaving the page runs its beforeunload and unload handlers
        closed = time.monotonic()
        gone = _wait_until_gone(running, token, kernel["id"], closed + TEST_TIMEOUT + TEST_INTERVAL + SLACK)
        after = time.monotonic() - closed
    assert gone, f"kernel {kernel['id']} still running {after:.0f} s after its page closed:\n{running.log()}"
    assert _culled(running, kernel["id"]) is False, "culled by the culler, not shut down by the page"
    record_timing("hub", "Voilà kernel shut down by its page's unload handler", after)
