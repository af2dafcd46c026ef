"""The pytest-xdist groups tests/conftest.py gives the suite (``python -m pytest -n 2``; ``--dist
loadgroup`` is in pyproject.toml): checked on this run's own collection, so a new test lands in the
right group."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def _groups(items: list[pytest.Item]) -> dict[str, list[str]]:
    """Each collected test's nodeid to the names of its xdist_group markers."""
    return {item.nodeid: [mark.args[0] for mark in item.iter_markers("xdist_group")] for item in items}


@cache
def _lesson_readers() -> frozenset[str]:
    """The test modules that call support.nbtools.executed_lesson (its cache is per process); read
    once, not once per collected test (a minute of reading every test file a thousand times)."""
    return frozenset(
        {
            path.name
            for path in TESTS.glob("test_*.py")
            if re.search(r"\bexecuted_lesson\(", path.read_text(encoding="utf-8"))
        }
    )


def test_every_test_has_exactly_one_group(request: pytest.FixtureRequest) -> None:
    """pytest-xdist joins two groups' names into a third group, which would split a shared resource."""
    wrong = {nodeid: names for nodeid, names in _groups(request.session.items).items() if len(names) != 1}
    assert not wrong, wrong


def test_every_nbgrader_test_runs_on_the_one_nbgrader_worker(request: pytest.FixtureRequest) -> None:
    """Two nbgrader runs at once could push a hostile submission's honest cell past its 10 s timeout."""
    nbgrader = [item for item in request.session.items if item.get_closest_marker("nbgrader") is not None]
    if not nbgrader:
        pytest.skip("no nbgrader test is collected in this run (the whole suite collects them)")
    elsewhere = [item.nodeid for item in nbgrader if _groups([item])[item.nodeid] != ["nbgrader"]]
    assert not elsewhere, elsewhere


def test_the_list_of_lesson_readers_is_complete(request: pytest.FixtureRequest) -> None:
    """Each lesson is executed once per run only if every caller of executed_lesson is in the group
    that runs on one worker: tests/conftest.py lists them, and the list must name every caller."""
    conftest = request.config.pluginmanager.get_plugin(str(TESTS / "conftest.py"))
    readers = _lesson_readers()
    assert "test_notebooks.py" in readers  # the search finds the callers it must find
    assert set(conftest.LESSON_READERS) == readers


def test_the_readers_of_the_executed_lessons_share_one_worker(request: pytest.FixtureRequest) -> None:
    readers = [item for item in request.session.items if item.path.name in _lesson_readers()]
    if not readers:
        pytest.skip("no reader of executed_lesson is collected in this run (the whole suite collects them)")
    elsewhere = [item.nodeid for item in readers if _groups([item])[item.nodeid] != ["lessons"]]
    assert not elsewhere, elsewhere


def test_this_run_really_distributes_by_group(request: pytest.FixtureRequest) -> None:
    """pytest-xdist 3.8 tells its scheduler a test's group by renaming the test ``<node id>@<group>`` on
    the worker.  pytest 9.2 ignores that renaming, and then every test is handed out alone, the
    groups silently ignored (pytest-dev/pytest-xdist#1386): two nbgrader runs grade at once, and each
    worker re-grades the hostile submissions its module fixture did not share.  requirements.txt
    keeps pytest below 9.2; this checks, on this run's own node id, that the grouping took effect."""
    if not hasattr(request.config, "workerinput"):
        pytest.skip("not run on a pytest-xdist worker (-n 0 or -p no:xdist)")
    assert request.node.nodeid.endswith("@test_xdist_groups.py"), request.node.nodeid


def test_the_nbgrader_group_is_handed_out_first(request: pytest.FixtureRequest) -> None:
    """The conftest's scheduler moves the nbgrader group to the front of the queue, whatever the
    groups' sizes, so that the suite's longest group starts first and at normal priority."""
    from collections import OrderedDict

    xdist = pytest.importorskip("xdist.scheduler")
    conftest = request.config.pluginmanager.get_plugin(str(TESTS / "conftest.py"))

    class Config:  # what the scheduler reads of a pytest config
        option = type("Option", (), {"loadscopereorder": True, "maxschedchunk": None})()

        @staticmethod
        def getvalue(name: str) -> object:
            return {"dist": "loadgroup", "tx": ["2*popen"]}.get(name)

    scheduler = conftest.pytest_xdist_make_scheduler(Config(), xdist.loadgroup.Producer("test"))
    assert isinstance(scheduler, xdist.LoadGroupScheduling)
    sent: list[list[int]] = []
    node = type("Node", (), {"send_runtest_some": lambda self, indexes: sent.append(indexes)})()
    scheduler.registered_collections = {node: ["a.py::t@big", "a.py::u@big", "b.py::t@nbgrader"]}
    scheduler.workqueue = OrderedDict(
        [("big", {"a.py::t@big": False, "a.py::u@big": False}), ("nbgrader", {"b.py::t@nbgrader": False})]
    )
    scheduler._assign_work_unit(node)
    assert sent == [[2]], "the nbgrader group goes out before a larger group"
