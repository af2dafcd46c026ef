"""Every user's server inside the LMS's course page: frame policy and XSRF cookie.

On JUPYTER_CONFIG_PATH of every single-user server (deploy/values.yaml, hub.extraConfig
"10-course-roles").  The hub sets COURSE_LMS_ORIGIN (hub.extraConfig "05-course-lms-frame", or
deploy/tljh/jupyterhub_config.d/15-course-lms-frame.py) and JUPYTERHUB_COOKIE_OPTIONS (from its
own cookie options); without COURSE_LMS_ORIGIN this file changes nothing and JupyterHub's
default, no framing at all, stays.
"""

import json
import os

c = get_config()  # noqa: F821

LMS_ORIGIN = os.environ.get("COURSE_LMS_ORIGIN", "")
if LMS_ORIGIN:
    # A plain dict, added to what earlier files set: JupyterHub's single-user extension reads this
    # setting back from the configuration and fails on traitlets' lazy ``.update`` value.
    earlier = c.ServerApp.get("tornado_settings", {})
    c.ServerApp.tornado_settings = {
        **(earlier if isinstance(earlier, dict) else {}),
        # JupyterHub's single-user server keeps a Content-Security-Policy set here (it adds its
        # own, 'none', only when there is none); Voila's pages are this server's and carry it too.
        "headers": {"Content-Security-Policy": f"frame-ancestors {LMS_ORIGIN}"},
        # The XSRF cookie, like the login cookie the hub's options already reach, must be
        # SameSite=None; Secure to be sent inside the LMS's frame.
        "xsrf_cookie_kwargs": {
            "path": os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/"),
            **json.loads(os.environ.get("JUPYTERHUB_COOKIE_OPTIONS", "{}")),
        },
    }
