"""pytest configuration shared by every test module.

Every test that starts a server, a browser, a kernel or nbgrader carries one of the markers in
:data:`HEAVY`, so that ``python -m pytest -m "not integration and not browser and not hub and not slow
and not notebook and not nbgrader"`` is a fast loop (CONTRIBUTING.md).  A test module marks itself
(``pytestmark``); a test that uses a relay fixture is marked here; and a test without any of the
markers that starts one of those anyway fails, naming what it started.
"""

from __future__ import annotations

import shlex
import socket
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from _pytest.doctest import DoctestItem

# Headless figures in the test process itself.  Not via MPLBACKEND: kernels
# started by the notebook tests inherit the environment, and must keep the
# inline backend so that executed lessons really draw their figures.
matplotlib.use("Agg")


@pytest.fixture(scope="module")
def proxy_command(tmp_path_factory: pytest.TempPathFactory) -> str:
    """configurable-http-proxy for the hub tests, installed from npm into a temporary folder."""
    # Imported here, not at the top: the helpers' import installs toychat.kernel_wakeup, which
    # only the tests that use them should get.
    from support.hub import configurable_http_proxy

    return configurable_http_proxy(tmp_path_factory.mktemp("chp"))


#: The markers of tests that start something; the fast loop deselects all of them.
HEAVY = ("integration", "browser", "hub", "slow", "notebook", "nbgrader")
#: Fixtures that start a relay (in a thread or a process): a test using one is an integration test.
SERVER_FIXTURES = frozenset({"relay", "relays", "relay_process", "tls_relay", "hub_relay", "remote", "fuzz_user"})
#: Fixtures of the JupyterHub tests.
HUB_FIXTURES = frozenset({"proxy_command"})
#: Programs (or ``python -m`` modules) that are a server, a browser, a kernel or nbgrader.
STARTERS = frozenset(
    {
        "jupyter",
        "jupyter-lab",
        "jupyter-server",
        "jupyterhub",
        "configurable-http-proxy",
        "nbgrader",
        "ipykernel",
        "ipykernel_launcher",
        "chromium",
        "node",
        "toychat.relay",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that start a relay through a fixture, and the doctests that start one."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & SERVER_FIXTURES:
            item.add_marker(pytest.mark.integration)
        if fixtures & HUB_FIXTURES:
            item.add_marker(pytest.mark.hub)
        if isinstance(item, DoctestItem) and item.dtest is not None:
            if any("serve_in_thread(" in example.source for example in item.dtest.examples):
                item.add_marker(pytest.mark.integration)


def started_program(args: Any) -> str | None:
    """The program in :data:`STARTERS` that ``subprocess.Popen(args)`` would start, if any."""
    argv: Sequence[str] = shlex.split(args) if isinstance(args, str) else [str(arg) for arg in args]
    names = {Path(argv[0]).name} if argv else set()
    names |= {module for flag, module in zip(argv, argv[1:], strict=False) if flag == "-m"}
    found = sorted(names & STARTERS)
    return found[0] if found else None


@pytest.fixture(autouse=True)
def _what_a_test_starts_is_marked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail a test that starts a server, a browser, a kernel or nbgrader without a marker saying so."""
    if any(request.node.get_closest_marker(name) for name in HEAVY):
        yield
        return
    started: list[str] = []
    listen, popen_init = socket.socket.listen, subprocess.Popen.__init__

    def guarded_listen(self: socket.socket, *args: Any) -> None:
        started.append(f"a server (a socket listening on {self.getsockname()})")
        listen(self, *args)

    def guarded_popen_init(self: subprocess.Popen[Any], args: Any, *rest: Any, **options: Any) -> None:
        program = started_program(args)
        if program is not None:
            started.append(f"{program} (a subprocess)")
        popen_init(self, args, *rest, **options)

    monkeypatch.setattr(socket.socket, "listen", guarded_listen)
    monkeypatch.setattr(subprocess.Popen, "__init__", guarded_popen_init)
    yield
    if started:
        pytest.fail(
            f"this test starts {started[0]} but carries none of the markers {', '.join(HEAVY)}: mark it "
            "(pytestmark in its module, or @pytest.mark.integration), so the fast loop leaves it out",
            pytrace=False,
        )
