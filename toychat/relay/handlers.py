"""The relay's HTTP endpoints, one handler class each.

Endpoints (JSON in and out; errors are ``{"error": Name, "message": text}``):

=======  ===========================  ==========  =============================================
method   path                         login       what it does
=======  ===========================  ==========  =============================================
GET      ``/api/info``                —           the platform mode, franking on/off, limits
POST     ``/api/users``               —           register a public identity; returns a token, mode, franking
GET      ``/api/users``               —           the registered names
GET      ``/api/users/<name>``        —           look up someone's public keys
GET      ``/api/users/<name>/devices`` —          their extra devices (an honest relay: none)
POST     ``/api/messages``            user        submit one canonical envelope (the body)
POST     ``/api/messages/batch``      user        ``{"envelopes": [...]}``: up to 32, all stored or none
GET      ``/api/mailbox?wait=&limit=`` user       your waiting messages, mode, franking (long-poll up to 30 s;
                                                  ``&mode=`` the mode you know: answered at once if it changed)
POST     ``/api/mailbox?wait=&limit=`` user       ``{"ids": [...]}``: acknowledge, then as ``GET``
POST     ``/api/mailbox/ack``         user        ``{"ids": [...]}``: delete delivered messages
GET      ``/api/franked/<msg_id>``    user        the franking tag of a message to you
POST     ``/api/reports``             user        report a message (message franking)
GET      ``/api/server-view``         instructor  what the server stores (metadata + what it can read)
POST     ``/api/mode``                instructor  ``{"mode": "e2ee" | "plaintext"}``
GET      ``/dashboard``               instructor  the live instructor dashboard (HTML; ``/`` redirects here)
GET      ``/login``                   hub         hub mode only: log in through JupyterHub, then the dashboard
GET      ``/oauth_callback``          hub         hub mode only: where JupyterHub's OAuth login returns
=======  ===========================  ==========  =============================================

"user" means ``Authorization: Bearer <token>`` with the token the relay
issued at registration (or, with ``--hub``, the JupyterHub login: see
:mod:`toychat.relay.hub`); "instructor" means the admin token printed when
the relay starts (unless ``public_view`` opens the server view to all).

Every JSON object crosses the wire through :mod:`toychat.relay.codec`, the
same functions :class:`~toychat.relay.client.RemoteServer` uses; every
envelope check is the platform's own (:class:`~toychat.relay.persistent.PersistentServer`).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import math
import secrets

import tornado.web

from ..errors import MalformedEnvelope, RegistrationError
from ..wire import MAX_ENVELOPE_BYTES
from . import codec
from .api import ApiHandler
from .errors import Forbidden, Unauthenticated
from .limits import MAX_BATCH, MAX_HTTP_BODY, MAX_REPORT_BODY, MAX_WAIT_SECONDS, VIEW_ROWS

__all__ = [
    "AckHandler",
    "BatchMessagesHandler",
    "DashboardHandler",
    "DevicesHandler",
    "FrankedHandler",
    "InfoHandler",
    "MailboxHandler",
    "MessagesHandler",
    "ModeHandler",
    "NotFoundHandler",
    "ReportsHandler",
    "RootHandler",
    "ServerViewHandler",
    "UserHandler",
    "UsersHandler",
]

log = logging.getLogger("toychat.relay")


class InfoHandler(ApiHandler):
    def get(self) -> None:
        relay = self.relay
        self.reply(
            {
                "service": "toychat classroom relay",
                "mode": relay.server.mode,
                "franking": relay.server.franking is not None,
                "auth": "hub" if relay.hub_auth is not None else "token",
                "max_envelope_bytes": MAX_ENVELOPE_BYTES,
                "max_wait_seconds": MAX_WAIT_SECONDS,
                # what may wait undelivered per user: a sender can tell a full mailbox is expected
                "quota": dataclasses.asdict(relay.server.quota),
                "user": self.user,
            }
        )


class UsersHandler(ApiHandler):
    def get(self) -> None:
        self.reply({"users": sorted(self.relay.server.directory)})

    def post(self) -> None:
        server = self.relay.server
        public = codec.public_from_json(self.json_body())
        hub = self.relay.hub_auth is not None
        if hub and self.user is None:
            raise Unauthenticated("log in to JupyterHub first: the hub login is your chat name.")
        if hub and public.name != self.user:
            raise Forbidden(
                f"you are logged in to JupyterHub as {self.user!r}, so you can only register the name "
                f"{self.user!r}, not {public.name!r}."
            )
        known = server.directory.get(public.name)
        # the platform, as a mailbox answer names it: a new device composes without asking /api/info
        platform = {"mode": server.mode, "franking": server.franking is not None}
        if known is not None and self.user == public.name:
            if known != public:  # the logged-in owner brings new keys: a new device
                server.replace_keys(public)
            answer = {**codec.public_to_json(public), "token": None, "created": False, "rekeyed": known != public}
            self.reply({**answer, **platform})
            return
        if known is not None and known == public:
            raise RegistrationError(
                f"{public.name!r} is already registered with these keys, and the relay gave its login "
                "token to whoever registered first; that device already has it. (Restarted your notebook? "
                "Choose a new name, or pass tokens=... to RemoteServer.)"
            )
        token = None if hub else secrets.token_urlsafe(32)
        server.register_with_token(public, token)  # raises RegistrationError for a taken name
        self.reply({**codec.public_to_json(public), "token": token, "created": True, **platform}, status=201)


class UserHandler(ApiHandler):
    def get(self, name: str) -> None:
        self.reply(codec.public_to_json(self.relay.server.lookup_for(self.user or "", name)))


class DevicesHandler(ApiHandler):
    def get(self, name: str) -> None:
        devices = self.relay.server.extra_devices_for(self.user or "", name)
        self.reply({"devices": [{"label": d.label, "owner": d.owner} for d in devices]})


class MessagesHandler(ApiHandler):
    max_body = MAX_ENVELOPE_BYTES
    login = "user"

    def post(self) -> None:
        msg_id = self.relay.server.accept(self.body, authenticated_as=self.require_user())
        self.reply({"msg_id": msg_id}, status=201)


class BatchMessagesHandler(ApiHandler):
    """Several envelopes from one sender in one request: all stored (one commit) or none."""

    max_body = MAX_HTTP_BODY
    login = "user"

    def post(self) -> None:
        raws = codec.batch_from_json(self.json_body())
        self.charge(len(raws) - 1)  # the request paid for one envelope: the rate limit counts envelopes
        msg_ids = self.relay.server.accept_batch(raws, authenticated_as=self.require_user())
        self.reply({"msg_ids": msg_ids}, status=201)


class MailboxHandler(ApiHandler):
    login = "user"

    def _number(self, name: str, default: float, low: float, high: float) -> float:
        text = self.get_query_argument(name, None)
        if text is None:
            return default
        try:
            value = float(text)
        except ValueError:
            raise MalformedEnvelope(f"the {name!r} parameter must be a number, not {text[:20]!r}.") from None
        if not math.isfinite(value):
            raise MalformedEnvelope(f"the {name!r} parameter must be a finite number.")
        return min(max(value, low), high)

    async def get(self) -> None:
        await self._page(self.require_user(), *self._wait_and_limit())

    async def post(self) -> None:
        """Acknowledge ``{"ids": [...]}`` (as ``/api/mailbox/ack`` does), then answer as ``GET``
        does: one request where a device would otherwise make two for every batch it reads."""
        name = self.require_user()
        wait, limit = self._wait_and_limit()  # a malformed query acknowledges nothing
        self.relay.server.acknowledge(name, codec.ack_from_json(self.json_body()))
        await self._page(name, wait, limit)

    def _wait_and_limit(self) -> tuple[float, int]:
        """The ``wait`` (seconds) and ``limit`` (messages) query parameters, clamped."""
        return self._number("wait", 0.0, 0.0, MAX_WAIT_SECONDS), int(self._number("limit", MAX_BATCH, 1, MAX_BATCH))

    async def _page(self, name: str, wait: float, limit: int) -> None:
        """Answer with ``name``'s waiting messages, long-polling up to ``wait`` seconds for one."""
        server = self.relay.server
        queued = server.mailbox(name, limit)
        # a device names the mode it knows (``mode=``): if the instructor switched it since, the
        # poll answers at once with the new one instead of waiting (its switch woke no such poll)
        known = self.get_query_argument("mode", None)
        if not queued and wait > 0 and known in (None, server.mode):
            await self.relay.condition(name).wait(timeout=datetime.timedelta(seconds=wait))
            queued = server.mailbox(name, limit)
        # the mode as of this answer, and franking: a device then composes and opens messages
        # without asking /api/info, not even once after it starts
        self.reply(codec.mailbox_to_json(queued, server.mode, server.franking is not None))


class AckHandler(ApiHandler):
    login = "user"

    def post(self) -> None:
        ids = codec.ack_from_json(self.json_body())
        self.reply({"acknowledged": self.relay.server.acknowledge(self.require_user(), ids)})


class FrankedHandler(ApiHandler):
    login = "user"

    def get(self, msg_id: str) -> None:
        self.reply(codec.franked_to_json(self.relay.server.franked_for(self.require_user(), msg_id)))


class ReportsHandler(ApiHandler):
    max_body = MAX_REPORT_BODY  # a report carries the whole message: any message the relay accepted
    login = "user"

    def post(self) -> None:
        report = codec.report_from_json(self.json_body())
        if report.franked.recipient != self.require_user():
            raise Forbidden("only the recipient of a message can report it.")
        message = self.relay.server.receive_report(report)
        self.reply(codec.verified_to_json(message), status=201)


class ServerViewHandler(ApiHandler):
    login = "admin"

    def get(self) -> None:
        server = self.relay.server
        rows = [codec.seen_to_json(e) for e in server.log[-VIEW_ROWS:]]
        self.reply(
            {
                "mode": server.mode,
                "users": sorted(server.directory),
                "queued": server.store.queued_counts(),
                "messages_total": len(server.log),
                "key_changes": server.key_changes[-50:],
                "messages": rows,
            }
        )


class ModeHandler(ApiHandler):
    login = "admin"

    def post(self) -> None:
        mode = codec.mode_from_json(self.json_body())
        self.relay.server.set_mode(mode)
        self.relay.notify_all()  # every waiting long poll answers now, naming the new mode
        log.info("platform mode switched to %s", mode)
        self.reply(codec.mode_to_json(self.relay.server.mode))


class DashboardHandler(tornado.web.RequestHandler):
    """The instructor dashboard: static HTML and script; the data comes from /api/server-view."""

    def initialize(self, body: str, content_type: str) -> None:
        self.body_text = body
        self.content_type = content_type

    def get(self) -> None:
        self.set_header("Content-Type", self.content_type)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header(
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        )
        self.finish(self.body_text)


class RootHandler(tornado.web.RequestHandler):
    """The service's front page (JupyterHub's Services menu links here): go to the dashboard."""

    def get(self) -> None:
        self.redirect(self.request.path.rstrip("/") + "/dashboard")


class NotFoundHandler(ApiHandler):
    def prepare(self) -> None:
        raise tornado.web.HTTPError(404)
