"""The classroom relay's tornado application: its routes, and the :class:`~toychat.relay.api.Relay` they serve.

Every envelope check is :class:`~toychat.server.Server`'s own:
:class:`~toychat.relay.persistent.PersistentServer` *is* a ``Server`` whose storage is SQLite
(:mod:`toychat.relay.store`), so the relay cannot drift from what lessons
teach.  What the relay adds is HTTP: authentication, body-size limits
(checked from the headers, before reading), a per-user token bucket, long
polling, and delivery that is *at least once* — a message leaves the mailbox
only when its recipient acknowledges its id.

The pieces: the platform (:mod:`toychat.relay.persistent`), the limits
(:mod:`toychat.relay.limits`), the wire format (:mod:`toychat.relay.codec`),
the endpoints (:mod:`toychat.relay.handlers` on :mod:`toychat.relay.api`);
:mod:`toychat.relay.runner` serves it in a thread, :mod:`toychat.relay.cli`
from the command line.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import tornado.httpserver
import tornado.web
from tornado.log import access_log

from ..wire import Mode
from .api import ApiHandler, Relay
from .dashboard import DASHBOARD_HTML, DASHBOARD_JS
from .handlers import (
    AckHandler,
    BatchMessagesHandler,
    DashboardHandler,
    DevicesHandler,
    FrankedHandler,
    InfoHandler,
    MailboxHandler,
    MessagesHandler,
    ModeHandler,
    NotFoundHandler,
    ReportsHandler,
    RootHandler,
    ServerViewHandler,
    UserHandler,
    UsersHandler,
)
from .limits import ADDRESS_SHARE, MAX_HTTP_BODY, Quota, TokenBucket
from .persistent import PersistentServer
from .store import Store

__all__ = ["build_relay", "http_server", "log_request", "make_app"]


def make_app(relay: Relay, *, prefix: str = "") -> tornado.web.Application:
    """The tornado application for ``relay``; ``prefix`` is where it is mounted
    (JupyterHub services live under ``/services/<name>/``)."""
    p = prefix.rstrip("/")
    state = {"relay": relay}
    routes: list[Any] = [
        (rf"{p}/api/info", InfoHandler, state),
        (rf"{p}/api/users", UsersHandler, state),
        (rf"{p}/api/users/([^/]+)", UserHandler, state),
        (rf"{p}/api/users/([^/]+)/devices", DevicesHandler, state),
        (rf"{p}/api/messages", MessagesHandler, state),
        (rf"{p}/api/messages/batch", BatchMessagesHandler, state),
        (rf"{p}/api/mailbox", MailboxHandler, state),
        (rf"{p}/api/mailbox/ack", AckHandler, state),
        (rf"{p}/api/franked/([^/]+)", FrankedHandler, state),
        (rf"{p}/api/reports", ReportsHandler, state),
        (rf"{p}/api/server-view", ServerViewHandler, state),
        (rf"{p}/api/mode", ModeHandler, state),
        (rf"{p}/?", RootHandler, {}),
        (rf"{p}/dashboard", DashboardHandler, {"body": DASHBOARD_HTML, "content_type": "text/html; charset=utf-8"}),
        (
            rf"{p}/dashboard\.js",
            DashboardHandler,
            {"body": DASHBOARD_JS, "content_type": "text/javascript; charset=utf-8"},
        ),
    ]
    not_found: type[tornado.web.RequestHandler] = NotFoundHandler
    if relay.hub_auth is not None:
        from .hub import hub_handler, hub_routes

        routes = hub_routes(relay, p) + [
            (pattern, hub_handler(cls) if issubclass(cls, ApiHandler) else cls, args) for pattern, cls, args in routes
        ]
        not_found = hub_handler(NotFoundHandler)
    return tornado.web.Application(
        routes,
        log_function=log_request,
        default_handler_class=not_found,
        default_handler_args=state,
        cookie_secret=secrets.token_bytes(32),  # hub OAuth cookies; a restart means logging in again
    )


def log_request(handler: tornado.web.RequestHandler) -> None:
    """Log one answered request on ``tornado.access``: refusals and failures (status 400 and up) as
    tornado does, at WARNING or ERROR; answered requests at DEBUG.  A class makes several requests
    per message, and formatting and writing a line for each was a tenth of the relay's CPU time;
    what the instructor needs to see, refusals and errors, still reaches the log."""
    status = handler.get_status()
    level = logging.DEBUG if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    if access_log.isEnabledFor(level):
        request = handler.request
        millis = 1000.0 * request.request_time()
        access_log.log(level, "%d %s %.2fms", status, handler._request_summary(), millis)


def build_relay(
    *,
    db: str = ":memory:",
    mode: Mode = "e2ee",
    franking: bool = False,
    rate: float = 20.0,
    burst: int = 60,
    admin_token: str | None = None,
    public_view: bool = False,
    hub_auth: Any = None,
    address_rate: float | None = None,
    address_burst: int | None = None,
    quota: Quota | None = None,
) -> Relay:
    """A :class:`Relay` over the SQLite database ``db`` (``":memory:"`` or a file path).

    The stored mode wins over ``mode`` when the database already has one.
    ``rate`` and ``burst`` limit each account; ``address_rate`` and
    ``address_burst`` each network address, whatever names it registered
    (default: :data:`~toychat.relay.limits.ADDRESS_SHARE` accounts' worth; a
    rate of 0 turns it off).  With ``hub_auth`` there is no per-address limit
    by default: every request arrives through the hub's proxy, and a name is a
    hub login, which registering cannot multiply.  ``quota`` bounds what waits
    undelivered per user (default :class:`~toychat.relay.limits.Quota`).
    """
    server = PersistentServer(Store(db), mode, franking=franking, quota=quota)
    address_limiter = None
    if address_rate is None and hub_auth is None:
        address_rate = rate * ADDRESS_SHARE
    if address_rate is not None and address_rate > 0:
        burst_per_address = address_burst if address_burst is not None else burst * ADDRESS_SHARE
        address_limiter = TokenBucket(rate=address_rate, burst=burst_per_address)
    return Relay(
        server=server,
        limiter=TokenBucket(rate=rate, burst=burst),
        admin_token=admin_token or secrets.token_urlsafe(24),
        public_view=public_view,
        hub_auth=hub_auth,
        address_limiter=address_limiter,
    )


def http_server(app: tornado.web.Application, ssl_options: Any = None) -> tornado.httpserver.HTTPServer:
    """A tornado HTTP server with limits suited to hostile clients: bodies beyond
    twice the envelope limit are cut off, slow bodies time out."""
    return tornado.httpserver.HTTPServer(
        app,
        max_body_size=MAX_HTTP_BODY,
        body_timeout=30,
        idle_connection_timeout=60,
        ssl_options=ssl_options,
    )
