"""nbgrader settings of a student's server.

Every Kubernetes pod runs as a user the image knows by one name, so nbgrader
cannot take the student's id from the Unix account: it takes the hub name (the
LMS user id with LTI login), which JupyterHub puts in JUPYTERHUB_USER.  On a
machine with one Unix account per student (TLJH) the two are the same.
"""

import os

c = get_config()  # noqa: F821

if os.environ.get("JUPYTERHUB_USER"):
    c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
