"""deploy/values.yaml's hub configuration on the JupyterHub the chart's hub image really runs.

The other tests that start the values' hub (tests/test_lti.py) run the JupyterHub of the course's
own environment, which may be a later 5.5.x than the chart's.  Here the hub runs in a virtual
environment made once per run that stands in for deploy/Dockerfile's ``hub`` stage: the packages
``tests/support/chart.py`` pins for the chart's hub image (``HUB_IMAGE``: JupyterHub, the LTI
authenticator and KubeSpawner at the image's versions) and the stage's own addition, the course
package for the relay service, resolved together as tests/test_dockerfiles.py resolves the stage
(its ``perform``) and then installed for real.  The rest of the chart's image (its other pins, its
Python) is not reproduced: what those three pull in is whatever the index resolves beside them.

The hub is started exactly as tests/test_lti.py starts it (``values_hub``: the values' sections
loaded as the chart loads them, only addresses, the spawner and the LMS replaced), with that
environment's ``jupyterhub`` and its ``python`` running the relay service.  The single-user
servers run the course environment's Python, as the user image's does.  Checked: the hub reports
the chart's JupyterHub version, an LTI 1.3 launch logs a student and an instructor in (the
instructor into "instructors"), the hub serves the course's tool configuration, and the relay
service and the values' roles work as tests/test_lti.py checks them.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import chart
from support.browser import require
from support.lms import LMS
from support.nbtools import REPO, record_timing
from test_dockerfiles import HUB_IMAGE, _index_reachable, _pip, parse, perform
from test_lti import STUDENT, TEACHER, check_relay_service_and_roles, lms, values_hub  # noqa: F401 (lms: a fixture)

# hub: it starts JupyterHub.  slow: before that it builds a virtual environment with the chart's
# hub packages and the course package's dependencies from the package index (minutes on a loaded
# 2-core machine), once per run.
pytestmark = [pytest.mark.hub, pytest.mark.slow]


def chart_version() -> str:
    """The chart version the course deploys: the tag of deploy/Dockerfile's hub stage's base image."""
    [stage] = [s for s in parse((REPO / "deploy" / "Dockerfile").read_text(encoding="utf-8")) if s.name == "hub"]
    assert stage.base.startswith(HUB_IMAGE), stage.base
    return stage.base[len(HUB_IMAGE) :]


def run_alone(python: Path, code: str, *args: str) -> str:
    """What ``python -c code args`` prints, run in its environment's folder without this run's
    PYTHONPATH (so neither that nor the current folder puts this checkout on its path)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        [str(python), "-c", code, *args],
        cwd=python.parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


def installed_versions(python: Path, names: list[str]) -> dict[str, str]:
    """The versions of ``names`` installed in ``python``'s environment."""
    code = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    return dict(json.loads(run_alone(python, code, *names)))


@pytest.fixture(scope="session")
def chart_hub_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of a virtual environment standing in for the hub image: deploy/Dockerfile's hub
    stage performed by tests/test_dockerfiles.py's ``perform`` (the chart's pins resolved with
    the stage's pip line; the course package installed from its folder, not editable), then every
    package that resolution chose installed for real at the version it chose."""
    if not _index_reachable():
        require("the package index cannot be reached: the chart's hub packages are installed from it")
    start = time.perf_counter()
    [stage] = [s for s in parse((REPO / "deploy" / "Dockerfile").read_text(encoding="utf-8")) if s.name == "hub"]
    folder = tmp_path_factory.mktemp("chart-hub")
    result = perform(stage, folder)
    python = result.venv / "bin" / "python"
    pins = [f"{name}=={version}" for name, version in sorted(result.resolved.items()) if name != "toychat"]
    installed = _pip(python, ["install", "-q", *pins], folder)
    assert installed.returncode == 0, installed.stderr[-3000:]
    record_timing("hub", f"virtual environment of the chart {chart_version()} hub image", time.perf_counter() - start)
    return python


@pytest.fixture(scope="module")
def chart_hub(
    lms: LMS,  # noqa: F811 (the fixture imported from test_lti)
    chart_hub_python: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str, Path]]:
    """tests/test_lti.py's hub, run by the chart's JupyterHub; yields (URL, admin token, exchange)."""
    with values_hub(lms, tmp_path_factory, python=chart_hub_python) as running:
        yield running


def test_the_environment_has_the_charts_pins(chart_hub_python: Path) -> None:
    """The stand-in holds exactly the chart image's versions of its pinned packages, and the course
    package installed into it (not this checkout on a path)."""
    pins = chart.HUB_IMAGE[chart_version()]
    assert installed_versions(chart_hub_python, sorted(pins)) == pins
    where = run_alone(chart_hub_python, "import toychat.relay; print(toychat.__file__)")
    assert Path(where).is_relative_to(chart_hub_python.parent.parent), where


def test_the_hub_reports_the_charts_jupyterhub(chart_hub: tuple[str, str, Path]) -> None:
    """The running hub is the chart's version (a test that ran another JupyterHub fails here)."""
    import requests

    base = chart_hub[0]
    reported = requests.get(f"{base}/hub/api", timeout=30).json()["version"]
    assert reported == chart.HUB_IMAGE[chart_version()]["jupyterhub"]


def test_lti_launches_on_the_charts_hub(lms: LMS, chart_hub: tuple[str, str, Path]) -> None:  # noqa: F811
    """A student's and an instructor's LTI 1.3 launch log them in under their LMS user id, the
    instructor into "instructors" (the values' post-auth hooks on this JupyterHub), and the hub
    serves the course's tool configuration (the values' handler on this LTI authenticator)."""
    import requests

    from test_class_deployment import Student

    base, token, _exchange = chart_hub
    start = time.perf_counter()
    admin = {"Authorization": f"token {token}"}
    for person, groups in ((STUDENT, []), (TEACHER, ["instructors"])):
        user = Student(base, person["sub"])
        landed = lms.launch(user.http, base, person)
        assert landed.status_code == 200, landed.text[:500]
        model = requests.get(f"{base}/hub/api/users/{person['sub']}", headers=admin, timeout=30).json()
        assert model["name"] == person["sub"], model
        assert model["groups"] == groups, model
    tool = requests.get(f"{base}/hub/lti13/config", timeout=30).json()
    assert [extension["privacy_level"] for extension in tool["extensions"]] == ["anonymous"]
    assert tool["custom_fields"] == {"lms_user_id": "$User.id"}
    record_timing("hub", "LTI 1.3 launches into the values' hub on the chart's JupyterHub", time.perf_counter() - start)


def test_relay_service_and_roles_on_the_charts_hub(lms: LMS, chart_hub: tuple[str, str, Path]) -> None:  # noqa: F811
    """tests/test_lti.py's relay-service and roles checks, on the chart's JupyterHub."""
    start = time.perf_counter()
    check_relay_service_and_roles(lms, chart_hub)
    record_timing("hub", "values.yaml's relay service and roles on the chart's JupyterHub", time.perf_counter() - start)
