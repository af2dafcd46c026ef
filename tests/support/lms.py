"""A simulated LTI 1.3 platform (the LMS) on 127.0.0.1, for the hub tests that log in through it.

:class:`LMS` has its own RSA signing key and JWKS endpoint, sends the OIDC login initiation an LMS
sends when a user clicks the course link, and answers the hub's authorization request with a
signed ``id_token`` (an auto-submitting form, as a browser would post it).  ``/frame?src=URL`` is
its course page with the tool in an iframe.  tests/test_lti.py (the Kubernetes values' hub) and
tests/test_class_deployment.py (the TLJH files with real Unix accounts) launch their users
through it.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .browser import free_port

#: The developer key's client id and the deployment the test LMS launches with.
CLIENT_ID = "10000000000042"
DEPLOYMENT_ID = "1:course-deployment"
#: LTI's context-membership roles (prefix; "Learner", "Instructor").
ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#"


def hub_lms_lines(lms: LMS) -> str:
    """The hub configuration lines that point the LTI 1.3 login at ``lms`` (over plain HTTP)."""
    return "\n".join(
        [
            f"c.LTI13Authenticator.issuer = {lms.issuer!r}",
            f'c.LTI13Authenticator.authorize_url = "{lms.issuer}/authorize"',
            f'c.LTI13Authenticator.jwks_endpoint = "{lms.issuer}/jwks"',
            f"c.LTI13Authenticator.client_id = [{CLIENT_ID!r}]",
            'c.LTI13Authenticator.uri_scheme = "http"',
        ]
    )


class LMS:
    """An LTI 1.3 platform on loopback: signing key, JWKS, authorization endpoint."""

    def __init__(self, *, key_id: str = "lms-key-1") -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = key_id
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.launches: dict[str, dict] = {}  # login_hint -> the user being launched
        self.signing_key = self.key  # what the next id_token is signed with
        self.refusals: list[str] = []
        lms = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/jwks":
                    body, kind = json.dumps(lms.jwks()).encode(), "application/json"
                elif url.path == "/frame":  # the LMS's course page, with the tool in an iframe
                    src = html.escape(dict(urllib.parse.parse_qsl(url.query))["src"])
                    body, kind = f'<title>Course page</title><iframe src="{src}"></iframe>'.encode(), "text/html"
                elif url.path == "/authorize":
                    query = dict(urllib.parse.parse_qsl(url.query))
                    try:
                        body, kind = lms.authorize(query).encode(), "text/html"
                    except ValueError as exc:
                        lms.refusals.append(str(exc))
                        self.send_error(400, str(exc))
                        return
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LMS:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def jwks(self) -> dict:
        from jwt.algorithms import RSAAlgorithm

        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.key_id, "alg": "RS256", "use": "sig"}]}

    def authorize(self, query: dict[str, str]) -> str:
        """The OIDC authorization endpoint: check the tool's request, answer with a signed id_token."""
        import jwt

        expected = {
            "response_type": "id_token",
            "scope": "openid",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": CLIENT_ID,
        }
        for name, value in expected.items():
            if query.get(name) != value:
                raise ValueError(f"{name}={query.get(name)!r}")
        user = self.launches.get(query.get("login_hint", ""))
        if user is None:
            raise ValueError("unknown login_hint")
        if not query["redirect_uri"].endswith("/hub/lti13/oauth_callback"):
            raise ValueError("redirect_uri is not the registered one")
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": user["sub"],
            "iat": now,
            "exp": now + 300,
            "nonce": query["nonce"],
            "name": user["name"],
            "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiResourceLinkRequest",
            "https://purl.imsglobal.org/spec/lti/claim/version": "1.3.0",
            "https://purl.imsglobal.org/spec/lti/claim/deployment_id": DEPLOYMENT_ID,
            "https://purl.imsglobal.org/spec/lti/claim/target_link_uri": user["target"],
            "https://purl.imsglobal.org/spec/lti/claim/resource_link": {"id": "course-link-1"},
            "https://purl.imsglobal.org/spec/lti/claim/context": {
                "id": "c-101",
                "label": "E2EE101",
                "title": "E2EE and online safety",
            },
            "https://purl.imsglobal.org/spec/lti/claim/roles": user["roles"],
            **user.get("claims", {}),  # what else this user's launch carries (custom fields, AGS endpoint)
        }
        token = jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": self.key_id})
        fields = {"id_token": token, "state": query["state"]}
        inputs = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in fields.items())
        return (
            f'<form id="launch" method="post" action="{html.escape(query["redirect_uri"])}">{inputs}</form>'
            '<script>document.getElementById("launch").submit()</script>'
        )

    def launch(self, http: object, hub: str, user: dict) -> object:
        """A user clicks the course link: login initiation, authorization, form post to the hub."""
        hint = secrets.token_hex(8)
        target = f"{hub}/hub/spawn"
        self.launches[hint] = {**user, "target": target}
        init = http.post(
            f"{hub}/hub/lti13/oauth_login",
            allow_redirects=False,
            timeout=60,
            data={
                "iss": self.issuer,
                "login_hint": hint,
                "target_link_uri": target,
                "client_id": CLIENT_ID,
                "lti_deployment_id": DEPLOYMENT_ID,
                "lti_message_hint": secrets.token_hex(4),
            },
        )
        assert init.status_code == 302, init.text[:500]
        page = http.get(init.headers["Location"], timeout=60)
        page.raise_for_status()
        action = html.unescape(re.search(r'action="([^"]+)"', page.text).group(1))
        fields = {k: html.unescape(v) for k, v in re.findall(r'name="(\w+)" value="([^"]*)"', page.text)}
        return http.post(action, data=fields, timeout=120)
