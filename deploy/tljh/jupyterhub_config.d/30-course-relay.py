"""The classroom relay as a hub service, for The Littlest JupyterHub (docs/deploying.md,
"Classroom relay as a JupyterHub service").

The relay runs with the *user environment's* Python (/opt/tljh/user), where the course package is
installed; the hub's own environment (/opt/tljh/hub) has JupyterHub but not the course.  Its
instructors are the hub group "instructors", which the LMS login fills (10-course-lti.py,
20-course-roles.py): no JupyterHub.load_groups here, which JupyterHub refuses alongside
Authenticator.manage_groups.
"""

import os

c = get_config()  # noqa: F821

# TLJH's own setting for where it is installed (tljh.config.INSTALL_PREFIX).
TLJH = os.environ.get("TLJH_INSTALL_PREFIX", "/opt/tljh")
RELAY_PORT = 10101
# How much may wait undelivered on the relay (docs/deploying.md, "Classroom relay (stand-alone)",
# the quota options): these are its defaults, written out so a course can change them.
RELAY_QUOTA = [
    *("--mailbox-messages", "5000", "--mailbox-bytes", "256M"),
    *("--sender-messages", "1000", "--sender-bytes", "64M"),
]

c.JupyterHub.services.append(
    {
        "name": "toychat-relay",
        "url": f"http://127.0.0.1:{RELAY_PORT}",
        "command": [
            os.path.join(TLJH, "user", "bin", "python"),
            "-m",
            "toychat.relay",
            "--hub",
            "--db",
            os.path.join(TLJH, "state", "toychat-relay.sqlite"),
            *RELAY_QUOTA,
        ],
        "oauth_no_confirm": True,
        "display": True,
    }
)
c.JupyterHub.load_roles.extend(
    [
        {"name": "user", "scopes": ["self", "access:services!service=toychat-relay"]},
        {
            "name": "server",
            "scopes": ["users:activity!user", "access:servers!server", "access:services!service=toychat-relay"],
        },
    ]
)
# Every student's notebook talks to the relay with their hub login.
c.Spawner.environment.update(
    {
        "TOYCHAT_RELAY": f"http://127.0.0.1:{RELAY_PORT}/services/toychat-relay",
        "TOYCHAT_RELAY_HUB": "1",
    }
)
