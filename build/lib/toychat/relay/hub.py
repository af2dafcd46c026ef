"""Optional: the relay as a JupyterHub service, so the hub login *is* the chat identity.

``python -m toychat.relay --hub`` (started by JupyterHub, see
``docs/deploying.md``) replaces the relay's own login tokens with
JupyterHub's: every API handler mixes in
:class:`jupyterhub.services.auth.HubOAuthenticated`, so a request is
identified by

* the hub OAuth cookie (a browser that went through the hub's login: the
  dashboard), or
* ``Authorization: token <JUPYTERHUB_API_TOKEN>`` (a student's notebook:
  the single-user server's own hub token, which ``relay_from_env`` sends when
  ``TOYCHAT_RELAY_HUB=1``).

A user may then register only their own hub name, and may replace their own
keys (a restarted kernel is a "new phone"); instructors are the members of the
hub group ``instructors`` (``--instructor-group``) or the names given with
``TOYCHAT_INSTRUCTORS``.

What it means: the hub now vouches for *who* registers a name — but the
relay still *hands out* the keys, so whoever runs it could hand out different
ones (lesson 04's malicious directory).  Safety numbers and key transparency
are what let students check the keys without trusting the operator.

Importing this module needs ``jupyterhub`` (``pip install jupyterhub``);
nothing else in :mod:`toychat` does.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

import tornado.web
from jupyterhub.services.auth import (
    HubOAuth,
    HubOAuthCallbackHandler,
    HubOAuthenticated,
    UserNotAllowed,
)

from .errors import Forbidden

__all__ = ["INSTRUCTOR_GROUP", "hub_handler", "hub_routes", "hub_settings", "hub_user", "is_hub_admin"]

#: Members of this hub group may open the dashboard and switch the mode.
INSTRUCTOR_GROUP = os.environ.get("TOYCHAT_INSTRUCTOR_GROUP", "instructors")


def hub_settings(host: str, port: int) -> tuple[HubOAuth, str, str, int]:
    """The hub login object, the URL prefix, and where to listen, from the
    environment JupyterHub gives a service it starts (``JUPYTERHUB_API_TOKEN``,
    ``JUPYTERHUB_SERVICE_PREFIX``, ``JUPYTERHUB_SERVICE_URL``, ...)."""
    if not os.environ.get("JUPYTERHUB_API_TOKEN"):
        raise SystemExit(
            "--hub: JUPYTERHUB_API_TOKEN is not set. Let JupyterHub start the relay as a service "
            "(c.JupyterHub.services, see docs/deploying.md), or export the service's variables."
        )
    auth = HubOAuth(cache_max_age=60)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/toychat-relay/")
    service_url = os.environ.get("JUPYTERHUB_SERVICE_URL")
    if service_url:
        parsed = urllib.parse.urlsplit(service_url)
        host, port = parsed.hostname or host, parsed.port or port
    return auth, prefix, host, port


def hub_handler(cls: type[tornado.web.RequestHandler]) -> type[tornado.web.RequestHandler]:
    """``cls`` with :class:`HubOAuthenticated` mixed in (first, so it provides
    ``get_current_user`` and the login redirect)."""
    return type(cls.__name__, (HubOAuthenticated, cls), {"__doc__": cls.__doc__})


async def hub_user(handler: Any) -> str | None:
    """The hub user name of the request's login (cookie or token), or ``None``.

    A login the hub knows but whose token lacks this service's
    ``access:services`` scope is refused with :class:`Forbidden`.
    """
    handler.hub_auth = handler.relay.hub_auth
    model = await handler.hub_auth.get_user(handler, sync=False)
    if not model:
        return None
    try:
        model = handler.check_hub_user(model)
    except UserNotAllowed:
        raise Forbidden(
            f"your JupyterHub login {model.get('name')!r} is not allowed to use the chat relay: ask the "
            "instructor to grant the 'access:services!service=...' scope (docs/deploying.md)."
        ) from None
    handler._hub_auth_user_cache = model  # what HubOAuthenticated.get_current_user returns
    if model.get("kind", "user") != "user":
        return None
    return str(model["name"])


async def is_hub_admin(handler: Any) -> bool:
    """Whether the hub user is an instructor: in the instructor group, or named in
    ``TOYCHAT_INSTRUCTORS`` (comma-separated)."""
    model = getattr(handler, "_hub_auth_user_cache", None) or {}
    named = {n.strip() for n in os.environ.get("TOYCHAT_INSTRUCTORS", "").split(",") if n.strip()}
    return model.get("name") in named or INSTRUCTOR_GROUP in (model.get("groups") or [])


class LoginHandler(HubOAuthenticated, tornado.web.RequestHandler):
    """``<prefix>/login``: send the browser through the hub's OAuth login, then to the dashboard."""

    @tornado.web.authenticated
    def get(self) -> None:
        self.redirect("dashboard")


def hub_routes(relay: Any, prefix: str) -> list[Any]:
    """Routes only hub mode has: the OAuth callback and a login page for the dashboard."""

    class Callback(HubOAuthCallbackHandler):
        def initialize(self) -> None:
            self.hub_auth = relay.hub_auth

    class Login(LoginHandler):
        def initialize(self) -> None:
            self.hub_auth = relay.hub_auth

    return [(rf"{prefix}/oauth_callback", Callback), (rf"{prefix}/login", Login)]
