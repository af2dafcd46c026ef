"""A real JupyterHub for the hub tests: configurable-http-proxy from npm, and
:func:`running_hub`, which starts ``jupyterhub -f CONFIG`` and waits until it answers.

Every test writes its own ``jupyterhub_config.py`` (ports from
:func:`support.browser.free_port`, the database and cookie secret beside the config);
what differs between them and matters is a parameter here: the environment the hub
runs in (the spawner passes it on to the single-user servers and hub services) and what
"ready" means (the hub's API, or a hub service behind it).
"""

from __future__ import annotations

import http.cookiejar
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .browser import free_port, npm_install, require


def local_hub_lines(folder: Path, port: int, proxy_command: str) -> str:
    """The configuration lines every test hub shares: loopback only, the public ``port``, free
    ports for the hub and the proxy's API, the proxy from npm, and the database and cookie
    secret in ``folder``."""
    return "\n".join(
        [
            'c.JupyterHub.ip = "127.0.0.1"',
            f"c.JupyterHub.port = {port}",
            'c.JupyterHub.hub_ip = "127.0.0.1"',
            f"c.JupyterHub.hub_port = {free_port()}",
            f'c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"',
            f"c.ConfigurableHTTPProxy.command = [{proxy_command!r}]",
            f'c.JupyterHub.db_url = "sqlite:///{folder / "jupyterhub.sqlite"}"',
            f"c.JupyterHub.cookie_secret_file = {str(folder / 'cookie_secret')!r}",
        ]
    )


#: Seconds the hub has to answer after it starts, and to stop after SIGTERM before it is killed.
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0


def configurable_http_proxy(folder: Path) -> str:
    """configurable-http-proxy installed from npm into ``folder``; skips (fails under CI) without
    npm or JupyterHub."""
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        require("jupyterhub is not installed (it is in requirements.txt)")
    modules = npm_install("configurable-http-proxy@4", folder, why="JupyterHub needs configurable-http-proxy from npm")
    return str(modules / ".bin" / "configurable-http-proxy")


@dataclass(frozen=True)
class Hub:
    """A running hub: its public URL, its process (the leader of its own process group) and log."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self, tail: int = 6000) -> str:
        """The last ``tail`` characters of the hub's output (stdout and stderr), for failure messages."""
        return self.log_path.read_text(errors="replace")[-tail:]


def hub_api_answers(url: str) -> bool:
    """Ready when the hub's REST API answers 200 (the proxy routes to the hub)."""
    with urllib.request.urlopen(f"{url}/hub/api", timeout=2) as response:
        return bool(response.status == 200)


@contextmanager
def running_hub(
    config: Path,
    *,
    port: int,
    env: dict[str, str],
    ready: Callable[[str], bool] = hub_api_answers,
    what: str = "JupyterHub",
    timeout: float = START_TIMEOUT,
    python: str | Path = sys.executable,
) -> Iterator[Hub]:
    """Run ``python -m jupyterhub -f config`` in the config's folder (where it also writes its pid
    files, and its output to ``jupyterhub.log``), in ``env`` and in a new session; yield once
    ``ready(url)`` is true (errors count as not yet), ``url`` being ``http://127.0.0.1:port``.
    ``python`` is this test run's interpreter unless a test runs another environment's JupyterHub.

    Raises with the log's tail if the hub exits or is not ready within ``timeout`` seconds
    (``what`` names what did not start).  On exit the process group gets SIGTERM (the hub stops
    the servers and managed services it started) and, after :data:`STOP_TIMEOUT`, SIGKILL.
    """
    folder = config.parent
    url = f"http://127.0.0.1:{port}"
    with open(folder / "jupyterhub.log", "wb") as log:
        process = subprocess.Popen(
            [str(python), "-m", "jupyterhub", "-f", str(config)],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        hub = Hub(url, process, folder / "jupyterhub.log")
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if ready(url):
                        break
                except (OSError, ValueError):  # not listening yet, an error page, or not yet JSON
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{what} did not start:\n{hub.log()}")
                time.sleep(0.5)
            yield hub
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


class LoopbackIsSecure(http.cookiejar.DefaultCookiePolicy):
    """A cookie policy that sends ``Secure`` cookies to ``http://127.0.0.1`` as well as over HTTPS.

    Browsers count loopback addresses as potentially trustworthy (W3C Secure Contexts), so a test
    hub on ``http://127.0.0.1`` whose cookies are ``Secure`` (the shipped LMS-frame configuration,
    ``SameSite=None; Secure``) still logs its users in; Python's default policy would drop those
    cookies from every plain-HTTP request.  Anywhere else the default policy decides.
    """

    def return_ok_secure(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        if urllib.parse.urlsplit(request.get_full_url()).hostname == "127.0.0.1":
            return True
        return bool(super().return_ok_secure(cookie, request))


def loopback_browser_session() -> object:
    """A ``requests.Session`` that sends cookies as a browser does to ``http://127.0.0.1``: ``Secure``
    ones too (:class:`LoopbackIsSecure`).  requests copies the session's cookies into a fresh jar
    with the default policy for every request, so the policy is put back on that jar here."""
    import requests
    from requests.cookies import RequestsCookieJar

    class LoopbackSession(requests.Session):
        def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
            prepared = super().prepare_request(request)
            jar = RequestsCookieJar(policy=LoopbackIsSecure())
            jar.update(prepared._cookies)
            prepared.headers.pop("Cookie", None)
            prepared.prepare_cookies(jar)  # also the jar that redirects re-use
            return prepared

    return LoopbackSession()
