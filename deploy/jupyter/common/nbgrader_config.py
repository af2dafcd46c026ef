"""nbgrader settings every account shares (instructor and students).

On JUPYTER_CONFIG_PATH of every single-user server (the hub sets it; see
deploy/values.yaml, hub.extraConfig "10-course-roles").  The exchange root can
be moved with NBGRADER_EXCHANGE_ROOT, which the test suite uses.
"""

import os

c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "e2ee-online-safety"
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE_ROOT", "/srv/nbgrader/exchange")

# Formgrader builds its HTML exporter from this configuration (not from the course
# folder's, on a hub): submissions are cleaned before any template renders them
# (toychat/formgrader_safety.py; instructor guide §6.1).
c.HTMLExporter.preprocessors = ["toychat.formgrader_safety.SanitizeSubmission"]
c.HTMLExporter.sanitize_html = True
