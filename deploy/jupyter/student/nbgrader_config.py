"""nbgrader settings of a student's server.

nbgrader takes the student's id from the hub name (the LMS user id with LTI
login), which JupyterHub puts in JUPYTERHUB_USER, not from the Unix account:
every Kubernetes pod runs as a user the image knows by one name, and The
Littlest JupyterHub's account is ``jupyter-<hub name>``, shortened with a hash
when long, which cannot be turned back into the LMS id that grade passback
needs.  On TLJH the instructor's ``collect`` compares each submission's owner
with that account (deploy/jupyter/instructor/nbgrader_config.py).
"""

import os

c = get_config()  # noqa: F821

if os.environ.get("JUPYTERHUB_USER"):
    c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
