"""The hub configuration the course ships for The Littlest JupyterHub starts, as shipped.

``deploy/tljh/jupyterhub_config.d/`` holds the files an admin copies into TLJH's
``/opt/tljh/config/jupyterhub_config.d/``: the LMS login (LTI 1.3, groups managed by the
authenticator), the LMS role -> "instructors" hook (the same code as deploy/values.yaml's
``hub.extraConfig``), and the classroom relay as a hub service run by the *user environment's*
Python.  A real JupyterHub loads exactly those files, the way TLJH's own ``jupyterhub_config.py``
does (``load_subconfig`` of each, in name order, last), with ``TLJH_INSTALL_PREFIX`` (TLJH's own
setting) pointing at a temporary ``/opt/tljh`` whose ``user`` environment is the course's; only
the ports, the database and the proxy are the test's.  It must come up, and its relay service
must answer behind it, authenticating through the hub.

Skipped with the reason where npm is absent; required under CI.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
import urllib.request
from pathlib import Path

from support.browser import free_port, require
from support.hub import local_hub_lines, running_hub
from support.nbtools import REPO, record_timing, venv_env

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


def test_the_shipped_tljh_configuration_starts_with_its_relay(tmp_path: Path, proxy_command: str) -> None:
    # A stand-in for /opt/tljh: its config folder holds the shipped files, its user environment
    # is the course's (this virtual environment), its state folder the relay's database.
    tljh = tmp_path / "tljh"
    shutil.copytree(TLJH_FILES, tljh / "config" / "jupyterhub_config.d")
    (tljh / "state").mkdir()
    (tljh / "user").symlink_to(Path(sys.prefix))
    port = free_port()
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(
        f"""
import os
from glob import glob

c = get_config()  # noqa
{local_hub_lines(tmp_path, port, proxy_command)}
c.JupyterHub.services = []
c.JupyterHub.load_roles = []

# ---- the end of TLJH's own jupyterhub_config.py, verbatim ----
CONFIG_DIR = os.path.join(os.environ["TLJH_INSTALL_PREFIX"], "config")
extra_configs = sorted(glob(os.path.join(CONFIG_DIR, "jupyterhub_config.d", "*.py")))
for ec in extra_configs:
    load_subconfig(ec)
"""
    )
    env = venv_env(TLJH_INSTALL_PREFIX=str(tljh))
    env.pop("MPLBACKEND", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    # The relay listens where the shipped file says: its port must be free on this machine.
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 10101)) == 0:
            require("port 10101, where the shipped relay service listens, is taken on this machine")

    def relay_service_answers(url: str) -> bool:
        """Ready when the relay service answers behind the hub, authenticating through it."""
        with urllib.request.urlopen(f"{url}/services/toychat-relay/api/info", timeout=2) as response:
            return bool(json.load(response).get("auth") == "hub")

    start = time.perf_counter()
    with running_hub(
        config, port=port, env=env, ready=relay_service_answers, what="JupyterHub with the shipped TLJH files"
    ) as hub:
        with urllib.request.urlopen(f"{hub.url}/hub/api", timeout=10) as response:
            version = json.load(response)["version"]
        log = hub.log_path.read_text(errors="replace")
    assert "LTI13Authenticator" in log, "the LMS login is the hub's authenticator"
    assert f"{tljh}/user/bin/python" in log, "the relay runs with the user environment's Python"
    record_timing(
        "hub", f"shipped TLJH configuration starts with its relay (jupyterhub {version})", time.perf_counter() - start
    )
