"""LMS roles -> the hub group "instructors", for The Littlest JupyterHub.

The same code as deploy/values.yaml's hub.extraConfig "10-course-roles" (tests/test_hub_config.py
checks that the two agree).  On TLJH, put the role folders of deploy/jupyter/ in
/srv/course/jupyter (or set COURSE_JUPYTER_CONFIG in the hub's environment).
"""

# LMS roles -> the hub group "instructors"; each role gets its own Jupyter config.
import os

LTI_ROLES = "https://purl.imsglobal.org/spec/lti/claim/roles"
INSTRUCTOR_ROLES = {
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor",
}
COURSE_JUPYTER = os.environ.get("COURSE_JUPYTER_CONFIG", "/srv/course/jupyter")


def course_groups(authenticator, handler, authentication):
    """The launch's LTI roles decide membership of "instructors" (nothing else does)."""
    claims = authentication.get("auth_state") or {}
    roles = set(claims.get(LTI_ROLES, []))
    authentication["groups"] = ["instructors"] if roles & INSTRUCTOR_ROLES else []
    return authentication


def course_environment(spawner):
    """Students: Assignments tab, nbgrader id = hub name. Instructors: formgrader too."""
    role = "instructor" if any(g.name == "instructors" for g in spawner.user.groups) else "student"
    spawner.environment = {
        **spawner.environment,
        "JUPYTER_CONFIG_PATH": f"{COURSE_JUPYTER}/{role}:{COURSE_JUPYTER}/common",
    }


c.Authenticator.post_auth_hook = course_groups
c.Spawner.pre_spawn_hook = course_environment
