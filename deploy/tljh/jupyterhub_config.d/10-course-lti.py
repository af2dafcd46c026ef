"""LTI 1.3 login from the university's LMS, for The Littlest JupyterHub.

Copy this folder's files into /opt/tljh/config/jupyterhub_config.d/ (docs/deploying.md, "One
machine"); TLJH loads them in name order after its own configuration.  The same settings as
deploy/values.yaml's hub.config (Zero to JupyterHub), in traitlets form.  Replace every
"example" value with your LMS's (Canvas shown; Moodle in docs/deploying.md).
"""

import os

c = get_config()  # noqa: F821

c.JupyterHub.authenticator_class = "ltiauthenticator.lti13.auth.LTI13Authenticator"
c.JupyterHub.admin_access = False  # admins (none by default) cannot open students' servers
c.Authenticator.allow_all = True  # whoever the LMS launches into this course may log in
# "instructors" follows the LMS role at every launch (20-course-roles.py).  With this on, no other
# configuration may load groups (JupyterHub.load_groups): the authenticator alone decides them.
c.Authenticator.manage_groups = True
# Keep each launch's verified claims (the roles, the LMS user id, the AGS endpoint), encrypted in the
# hub's database, for `python -m toychat.lms_roster` (docs/deploying.md, "Grades back to the LMS").
# The key: JUPYTERHUB_CRYPT_KEY if the hub's environment has one, else a root-only file made once with
# `sudo sh -c 'umask 077; openssl rand -hex 32 > /opt/tljh/state/jupyterhub-crypt-key'`; without
# either the hub refuses to start, rather than lose the claims.
c.Authenticator.enable_auth_state = True
if not os.environ.get("JUPYTERHUB_CRYPT_KEY"):
    CRYPT_KEY_FILE = os.path.join(os.environ.get("TLJH_INSTALL_PREFIX", "/opt/tljh"), "state", "jupyterhub-crypt-key")
    with open(CRYPT_KEY_FILE, encoding="ascii") as key_file:
        c.CryptKeeper.keys = [key_file.read().strip()]
c.LTI13Authenticator.issuer = "https://canvas.instructure.com"
c.LTI13Authenticator.authorize_url = "https://sso.canvaslms.com/api/lti/authorize_redirect"
c.LTI13Authenticator.jwks_endpoint = "https://sso.canvaslms.com/api/lti/security/jwks"
c.LTI13Authenticator.client_id = ["10000000000001"]  # the developer key's client id
c.LTI13Authenticator.username_key = "sub"  # the LMS user id: stable, not reassigned, no e-mail in logs
c.LTI13Authenticator.uri_scheme = "https"
c.LTI13Authenticator.tool_name = "E2EE and online safety"
