"""The LTI tool configuration the hub serves to the LMS, for The Littlest JupyterHub.

The same code as deploy/values.yaml's hub.extraConfig "06-course-lti-tool" (tests/test_hub_config.py
checks that the two agree; tests/test_lti.py reads the JSON a real hub serves).  Runs in the hub's
environment, where jupyterhub-ltiauthenticator is installed (docs/deploying.md, step 9).
"""

# The tool configuration the hub serves (/hub/lti13/config, for Canvas's "Enter URL") asks the LMS
# for the least the course needs: privacy level "anonymous" and no e-mail field.  The hub name is
# the launch's `sub`, instructors come from the roles claim, grade passback addresses `sub` at the
# launch's AGS endpoint, and the CSV export matches the Canvas user id (custom field lms_user_id);
# none of these is a name or an e-mail (docs/deploying.md, "Logging in from the LMS").
import json

from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.handlers import LTI13ConfigHandler

TOOL_PRIVACY_LEVEL = "anonymous"


class CourseToolConfigHandler(LTI13ConfigHandler):
    """ltiauthenticator's tool configuration JSON, with the course's privacy level."""

    def write(self, chunk):
        if isinstance(chunk, str):
            tool = json.loads(chunk)
            tool.get("custom_fields", {}).pop("email", None)
            for extension in tool.get("extensions", []):
                extension["privacy_level"] = TOOL_PRIVACY_LEVEL
                for placement in extension.get("settings", {}).get("placements", []):
                    placement.get("custom_fields", {}).pop("email", None)
            chunk = json.dumps(tool)
        super().write(chunk)


class CourseLTI13Authenticator(LTI13Authenticator):
    """LTI 1.3 login (configured as LTI13Authenticator) serving the course's tool configuration."""

    config_handler = CourseToolConfigHandler


c.JupyterHub.authenticator_class = CourseLTI13Authenticator
