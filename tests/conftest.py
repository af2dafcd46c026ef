"""pytest configuration shared by every test module.

Every test that starts a server, a browser, a kernel or nbgrader carries one of the markers in
:data:`HEAVY`, so that ``python -m pytest -m "not integration and not browser and not hub and not slow
and not notebook and not nbgrader"`` is a fast loop (CONTRIBUTING.md).  A test module marks itself
(``pytestmark``); a test that uses a relay fixture is marked here; and a test without any of the
markers that starts one of those anyway fails, naming what it started.
"""

from __future__ import annotations

import os
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


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """With pytest-xdist switched off (``-p no:xdist``), accept and ignore its ``--dist loadgroup``
    (pyproject.toml's addopts) and a ``-n``, so the suite runs in one process."""
    if pluginmanager.has_plugin("xdist"):
        return
    group = parser.getgroup("xdist", "pytest-xdist is switched off: these options are ignored")
    # _addoption: pytest reserves lowercase short options for plugins, which add them the same way
    group._addoption("-n", "--numprocesses", dest="numprocesses", default=None, help="ignored without pytest-xdist")
    group.addoption("--dist", dest="dist", default="no", help="ignored without pytest-xdist")


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


#: The pytest-xdist group (``-n 2``; ``--dist loadgroup`` is in pyproject.toml's addopts) of every nbgrader test:
#: one worker runs them one after another, so at most one nbgrader run shares the machine with one
#: other test.  The hostile submissions are graded with a 10-second cell timeout, and two gradings
#: at once (each two kernels) could push a slow but honest cell past it.  The Unix accounts of
#: tests/test_class_deployment.py and tests/test_class_isolation.py have fixed names, too.
NBGRADER_GROUP = "nbgrader"
#: The group of the test modules that read :func:`support.nbtools.executed_lesson`, whose cache
#: lives in one process: on one worker each lesson is still executed once per run.
LESSONS_GROUP = "lessons"
#: The modules that call ``executed_lesson`` (tests/test_xdist_groups.py checks this list is complete).
LESSON_READERS = frozenset({"test_notebooks.py", "test_site.py"})


def xdist_group(item: pytest.Item) -> str:
    """The pytest-xdist group ``item`` runs in: :data:`NBGRADER_GROUP`, :data:`LESSONS_GROUP`, or
    its own file (so a module's fixtures, a JupyterLab or a built site, start on one worker only)."""
    if item.get_closest_marker("nbgrader") is not None:
        return NBGRADER_GROUP
    if item.path.name in LESSON_READERS:
        return LESSONS_GROUP
    return item.path.name if item.path.parent.name == "tests" else f"{item.path.parent.name}.{item.path.name}"


#: The CPU priority (``os.nice`` increment) a pytest-xdist worker takes before its first test outside
#: :data:`NBGRADER_GROUP`; the JupyterLabs, browsers and kernels it starts afterwards inherit it.
#: The nbgrader worker keeps the normal priority, so that the other worker takes as little of a
#: grading's CPU as it can (ex04's heaviest test cell, part E, took 17.7 s at load average 10,
#: against the 8-second call limit under the hostile tests' 10-second cell timeout).
OTHER_WORKER_NICENESS = 10
_niced: list[bool] = []


@pytest.hookimpl(tryfirst=True)  # before the test's fixtures start anything (a module's JupyterLab)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under pytest-xdist, lower this worker's CPU priority before its first non-nbgrader test.

    Only the worker that runs the nbgrader group keeps its priority while nbgrader runs: that group is
    handed out first (:func:`pytest_xdist_make_scheduler`), so its worker has run nothing else before
    it."""
    if _niced or not hasattr(item.config, "workerinput"):
        return
    _niced.append(True)  # decided once per worker: a run without nbgrader (the fast loop) keeps its priority
    grading = any(xdist_group(other) == NBGRADER_GROUP for other in item.session.items)
    if grading and xdist_group(item) != NBGRADER_GROUP:
        os.nice(OTHER_WORKER_NICENESS)


@pytest.hookimpl(optionalhook=True)  # only called when pytest-xdist is installed and switched on
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup``, except that the :data:`NBGRADER_GROUP` is handed out first.

    pytest-xdist hands out the largest groups first, and ``test_wire.py`` (311 tests) and the lessons
    group are larger than the nbgrader group: handed out third, it would start on a worker that had
    already lowered its priority (:func:`pytest_runtest_setup`), and the suite's longest group would
    start last.  Handed out first, its worker grades at normal priority from the start and the other
    worker runs everything else beside it (tests/test_xdist_groups.py checks both)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class NbgraderFirst(LoadGroupScheduling):  # type: ignore[misc]
        def _assign_work_unit(self, node: Any) -> None:
            if NBGRADER_GROUP in self.workqueue:
                self.workqueue.move_to_end(NBGRADER_GROUP, last=False)
            super()._assign_work_unit(node)

    return NbgraderFirst(config, log)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the xdist_group markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that start a relay through a fixture, and the doctests that start one; then
    put every test in its pytest-xdist group (:func:`xdist_group`)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & SERVER_FIXTURES:
            item.add_marker(pytest.mark.integration)
        if fixtures & HUB_FIXTURES:
            item.add_marker(pytest.mark.hub)
        if isinstance(item, DoctestItem) and item.dtest is not None:
            if any("serve_in_thread(" in example.source for example in item.dtest.examples):
                item.add_marker(pytest.mark.integration)
        item.add_marker(pytest.mark.xdist_group(xdist_group(item)))


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
