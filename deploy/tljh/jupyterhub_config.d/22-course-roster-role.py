"""The hub role "course-roster": the scopes ``python -m toychat.lms_roster`` needs, and no more.

lms_roster lists the hub's users (``list:users``), reads their groups to leave the instructors out
of the class list (``read:users:groups``) and reads their ``auth_state``: the launch's claims (LMS
user id, AGS endpoint) and, on Kubernetes, the uid their pod runs as (``admin:auth_state``).  The
role is given to the hub group "instructors" (the LMS's Instructor role, 20-course-roles.py), so
an instructor issues their own token holding exactly these scopes on the hub's Token page, or::

    curl -X POST -H "Authorization: token $THEIR_TOKEN" \\
        -d '{"scopes": ["list:users", "read:users:groups", "admin:auth_state"], "expires_in": 86400}' \\
        https://hub.example.edu/hub/api/users/$THEIR_HUB_NAME/tokens

A student holds none of the scopes, so the hub refuses to issue them such a token.  The same role
is deploy/values.yaml's ``hub.loadRoles.course-roster`` (tests/test_hub_config.py checks that the
two agree, and starts a real JupyterHub with this file).
"""

c = get_config()  # noqa: F821

COURSE_ROSTER_ROLE = {
    "name": "course-roster",
    "description": "Read the class list and recorded launches for python -m toychat.lms_roster",
    "scopes": ["list:users", "read:users:groups", "admin:auth_state"],
    "groups": ["instructors"],
}
c.JupyterHub.load_roles.append(COURSE_ROSTER_ROLE)
