"""The hub inside the LMS's course page (an iframe), for The Littlest JupyterHub.

The same code as deploy/values.yaml's hub.extraConfig "05-course-lms-frame" (tests/test_hub_config.py
checks that the two agree; tests/test_lti.py checks the headers and cookies on a real hub and a
student's server).  docs/deploying.md, "Inside the LMS page", explains each line.  On TLJH, copy
deploy/jupyter/ to /srv/course/jupyter: its common/jupyter_server_config.py does the same for
every user's server, from COURSE_LMS_ORIGIN.
"""

# The hub inside the LMS's course page: the one setting is the LMS's origin.
LMS_ORIGIN = "https://canvas.example.edu"  # scheme://host[:port] of the LMS page that frames the hub

# Only that page may frame the hub and the users' servers: not 'self', which on a hub without
# per-user subdomains would let one user's server frame another's pages (JupyterHub's default
# since 4.1 is 'none').
FRAME_POLICY = f"frame-ancestors {LMS_ORIGIN}"
# Inside a frame of another site the browser sends only SameSite=None cookies, which it accepts
# only with Secure (HTTPS).  The hub copies these options to its XSRF cookie and hands them to
# every server it spawns (JUPYTERHUB_COOKIE_OPTIONS: the login and OAuth state cookies there).
CROSS_SITE_COOKIES = {"samesite": "None", "secure": True}

c.JupyterHub.tornado_settings.update(
    {"headers": {"Content-Security-Policy": FRAME_POLICY}, "cookie_options": CROSS_SITE_COOKIES}
)
# Each user's server sets its own frame policy and XSRF cookie from this
# (deploy/jupyter/common/jupyter_server_config.py).  KubeSpawner's own section too: on Kubernetes
# the chart's singleuser.extraEnv is KubeSpawner's environment, which would hide Spawner's.
for spawner in ("Spawner", "KubeSpawner"):
    c[spawner].environment.update({"COURSE_LMS_ORIGIN": LMS_ORIGIN})
