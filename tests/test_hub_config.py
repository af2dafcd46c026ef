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
"""

from __future__ import annotations

from support.nbtools import REPO

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
