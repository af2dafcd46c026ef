"""The classroom relay: the toy platform's :class:`~toychat.server.Server` behind HTTP.

Endpoints (JSON in and out; errors are ``{"error": Name, "message": text}``):

=======  ===========================  ==========  =============================================
method   path                         login       what it does
=======  ===========================  ==========  =============================================
GET      ``/api/info``                —           the platform mode, franking on/off, limits
POST     ``/api/users``               —           register a public identity; returns a token
GET      ``/api/users``               —           the registered names
GET      ``/api/users/<name>``        —           look up someone's public keys
GET      ``/api/users/<name>/devices`` —          their extra devices (an honest relay: none)
POST     ``/api/messages``            user        submit one canonical envelope (the body)
GET      ``/api/mailbox?wait=&limit=`` user       your waiting messages (long-poll up to 30 s)
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

Every envelope check is :class:`~toychat.server.Server`'s own:
:class:`PersistentServer` *is* a ``Server`` whose storage is SQLite
(:mod:`toychat.relay.store`), so the relay cannot drift from what lessons
teach.  What the relay adds is HTTP: authentication, body-size limits
(checked from the headers, before reading), a per-user token bucket, long
polling, and delivery that is *at least once* — a message leaves the mailbox
only when its recipient acknowledges its id.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import datetime
import json
import logging
import math
import secrets
import signal
import sqlite3
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import tornado.httpserver
import tornado.locks
import tornado.netutil
import tornado.web

from ..clock import check_timestamp
from ..errors import (
    ForgedReport,
    MalformedEnvelope,
    RegistrationError,
    TimestampOutOfRange,
    ToyChatError,
)
from ..franking import Franked, FrankingService, Report
from ..keys import NAME_PATTERN, PublicIdentity, check_name
from ..server import SeenByServer, Server
from ..wire import MAX_ENVELOPE_BYTES, MODES, Envelope, Mode, is_mode
from .dashboard import DASHBOARD_HTML, DASHBOARD_JS
from .errors import (
    Forbidden,
    RateLimited,
    RelayStorageError,
    RequestTooLarge,
    Unauthenticated,
    status_for,
)
from .store import Queued, Store

__all__ = [
    "PersistentServer",
    "Relay",
    "RunningRelay",
    "TokenBucket",
    "main",
    "make_app",
    "serve_in_thread",
]

log = logging.getLogger("toychat.relay")

#: Largest body of any request that is not an envelope (registration, acks, reports).
MAX_SMALL_BODY = 64 * 1024
#: Bodies up to this size are read (and dropped) before a 413, so the client, still
#: sending, is not cut off mid-request and can read the answer; larger ones are cut off.
MAX_HTTP_BODY = 2 * MAX_ENVELOPE_BYTES
#: Longest long-poll wait a client may ask for, in seconds.
MAX_WAIT_SECONDS = 30.0
#: Most messages one mailbox request returns.
MAX_BATCH = 100
#: How many log rows the server view returns (the newest).
VIEW_ROWS = 200


# ---- the platform, stored in SQLite ------------------------------------------------------
@contextmanager
def saving(path: str, what: str) -> Iterator[None]:
    """Turn a failed SQLite write (disk full, read-only file, I/O error) into a
    named :class:`RelayStorageError`; SQLite has already rolled the transaction back."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise
    except sqlite3.Error as exc:
        log.error("could not save %s to the database %s: %s", what, path, exc)
        raise RelayStorageError(
            f"the relay could not save {what} (its database said: {exc}). Nothing was stored, so send it "
            "again in a moment: it will not count as a replay. The instructor sees the cause in the relay's "
            "log: usually a full disk or a read-only database file."
        ) from None


class PersistentServer(Server):
    """A :class:`~toychat.server.Server` whose directory, log and mailboxes live in SQLite.

    Validation is inherited unchanged (:meth:`Server.accept`); only storage
    differs.  Mailboxes are read with :meth:`mailbox` and emptied with
    :meth:`acknowledge` rather than :meth:`Server.fetch`, so a message that
    was sent but not received (a lost connection, a crashed kernel) is sent
    again.
    """

    def __init__(self, store: Store, mode: Mode = "e2ee", *, franking: bool = False) -> None:
        stored_mode = store.get_meta("mode")
        mode = stored_mode if is_mode(stored_mode) else mode
        super().__init__(mode=mode, franking=FrankingService(store.franking_key()) if franking else None)
        self.store = store
        store.set_meta("mode", self.mode)
        for public in store.users():
            self.directory[public.name] = public
        for entry in store.log_entries():
            self.log.append(entry)
            self._seen_ids.add(entry.msg_id)
        for msg_id, franked in store.franked():
            self.franked[msg_id] = franked
        #: Called with a recipient's name whenever a message is queued for them.
        self.on_queued: list[Any] = []
        #: Users who replaced their keys since the relay started (shown on the dashboard).
        self.key_changes: list[dict[str, Any]] = []

    def set_mode(self, mode: str) -> None:
        """Switch the platform (the instructor's demo); kept across restarts."""
        if not is_mode(mode):
            raise MalformedEnvelope(f"the mode must be one of {', '.join(MODES)}, not {mode!r}.")
        with saving(self.store.path, "the mode"):
            self.store.set_meta("mode", mode)
        self.mode = mode

    def register_with_token(self, public: PublicIdentity, token: str | None) -> None:
        """Publish ``public`` (checked by :meth:`Server.register`) and store it with its login."""
        new = public.name not in self.directory
        super().register(public)
        self._mailboxes.pop(public.name, None)  # mailboxes live in SQLite
        try:
            with saving(self.store.path, "your registration"):
                self.store.add_user(public, token, self.clock())
        except RelayStorageError:
            if new:  # not stored, so not taken: the same registration may be tried again
                self.directory.pop(public.name, None)
            raise

    def replace_keys(self, public: PublicIdentity) -> None:
        """Publish new keys for an existing, *authenticated* user (a new phone, a
        restarted kernel).  Contacts who kept the old keys will see the safety
        number change: exactly what lesson 04 asks them to notice."""
        old = self.lookup(public.name)
        with saving(self.store.path, "your new keys"):
            self.store.replace_keys(public)
        self.directory[public.name] = public
        self.key_changes.append(
            {"name": public.name, "at": self.clock(), "old": old.fingerprint, "new": public.fingerprint}
        )

    def register(self, public: PublicIdentity) -> None:
        """Publish ``public`` with no token (its user logs in some other way, e.g. the hub)."""
        name = getattr(public, "name", None)
        if isinstance(name, str) and self.directory.get(name) == public:
            return
        self.register_with_token(public, None)

    def _commit(self, envelope: Envelope, entry: SeenByServer, franked: Franked | None) -> None:
        # SQLite first: if it fails (a full disk, a read-only file), memory is unchanged, the
        # message id is not spent, and the sender gets a named RelayStorageError to re-send on.
        with saving(self.store.path, "your message"):
            self.store.save_accepted(entry, franked)
        self._mailboxes.setdefault(envelope.recipient, deque())
        super()._commit(envelope, entry, franked)
        self._mailboxes.pop(envelope.recipient, None)  # the queued copy lives in SQLite
        for callback in self.on_queued:
            callback(envelope.recipient)

    def pending(self, name: str) -> int:
        """How many messages wait in ``name``'s mailbox."""
        self.lookup(name)
        return self.store.queued_counts().get(name, 0)

    def mailbox(self, name: str, limit: int = MAX_BATCH) -> list[Queued]:
        """The messages waiting for ``name`` (they stay until acknowledged)."""
        return self.store.mailbox(name, limit)

    def acknowledge(self, name: str, ids: list[int]) -> int:
        """Delete the messages ``name`` confirms having received."""
        with saving(self.store.path, "your acknowledgement"):
            return self.store.acknowledge(name, ids)

    def fetch(self, name: str) -> list[bytes]:  # pragma: no cover - the relay uses mailbox/acknowledge
        raise NotImplementedError("the relay delivers with mailbox() and acknowledge()")

    def inject(self, recipient: str, raw: bytes) -> None:  # pragma: no cover - not over HTTP
        raise NotImplementedError("the classroom relay is an honest server: it has no inject().")


# ---- rate limiting ----------------------------------------------------------------------
@dataclass
class TokenBucket:
    """A per-key token bucket: ``burst`` requests at once, refilled at ``rate`` per second.

    >>> bucket = TokenBucket(rate=1.0, burst=2, clock=lambda: 0.0)
    >>> [bucket.allow("alice") for _ in range(3)]
    [True, True, False]
    """

    rate: float = 20.0
    burst: int = 60
    clock: Callable[[], float] = time.monotonic
    #: key -> (tokens left, when last used), least recently used first.
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict)

    def allow(self, key: str) -> bool:
        """Take one token for ``key``; ``False`` if there is none left."""
        now = self.clock()
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        self._forget_full(now)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)  # now the most recently used
        return allowed

    def _forget_full(self, now: float) -> None:
        """Drop least recently used buckets that have refilled: a full bucket is the
        same as no bucket, so forgetting it lets nobody past the limit.  A bucket
        refills within ``burst / rate`` seconds, so what is kept is bounded by the
        requests of that window -- many accounts cannot wipe anyone's limit."""
        while self._buckets:
            oldest = next(iter(self._buckets))
            tokens, last = self._buckets[oldest]
            if self.rate <= 0 or tokens + (now - last) * self.rate < self.burst:
                break
            del self._buckets[oldest]

    def retry_after(self) -> int:
        """Seconds until one more request is allowed (at least 1)."""
        return max(1, math.ceil(1.0 / self.rate)) if self.rate > 0 else 60


# ---- the application state ----------------------------------------------------------------
@dataclass
class Relay:
    """Everything the handlers share: the platform, its limits and logins."""

    server: PersistentServer
    limiter: TokenBucket
    admin_token: str
    public_view: bool = False
    hub_auth: Any = None  # a jupyterhub.services.auth.HubOAuth in --hub mode
    _waiters: dict[str, tornado.locks.Condition] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.server.on_queued.append(self.notify)

    def condition(self, name: str) -> tornado.locks.Condition:
        """The condition a long-polling request for ``name`` waits on."""
        return self._waiters.setdefault(name, tornado.locks.Condition())

    def notify(self, name: str) -> None:
        """Wake ``name``'s long-polling requests: a message was queued."""
        condition = self._waiters.get(name)
        if condition is not None:
            condition.notify_all()


def _b64decode(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedEnvelope(f"{what} must be a base64 string.")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MalformedEnvelope(f"{what} is not valid base64.") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def public_to_json(public: PublicIdentity) -> dict[str, str]:
    """A public identity as JSON: name, both keys in base64, fingerprint."""
    return {
        "name": public.name,
        "encryption_key": _b64(public.encryption_key),
        "signing_key": _b64(public.signing_key),
        "fingerprint": public.fingerprint,
    }


def public_from_json(data: object) -> PublicIdentity:
    """Parse :func:`public_to_json`'s output; bad input raises a named ToyChatError."""
    if not isinstance(data, dict):
        raise MalformedEnvelope("a public identity is a JSON object with name, encryption_key and signing_key.")
    try:
        name = check_name(data.get("name"))
    except RegistrationError as exc:
        exc.status = 400  # type: ignore[attr-defined]  # a bad name, not a conflict
        raise
    return PublicIdentity(
        name,
        _b64decode(data.get("encryption_key"), "encryption_key"),
        _b64decode(data.get("signing_key"), "signing_key"),
    )


def franked_to_json(franked: Franked) -> dict[str, Any]:
    """A franking tag as JSON."""
    return {
        "commitment": _b64(franked.commitment),
        "sender": franked.sender,
        "recipient": franked.recipient,
        "timestamp": franked.timestamp,
        "tag": _b64(franked.tag),
    }


def franked_from_json(data: object) -> Franked:
    """Parse :func:`franked_to_json`'s output."""
    if not isinstance(data, dict):
        raise ForgedReport("the report's franking tag must be a JSON object.")
    try:
        timestamp = check_timestamp(data.get("timestamp"), "the report's timestamp")  # the wire's one rule
    except TimestampOutOfRange as exc:
        raise ForgedReport(str(exc)) from None
    sender, recipient = data.get("sender"), data.get("recipient")
    if not (
        isinstance(sender, str)
        and NAME_PATTERN.fullmatch(sender)
        and isinstance(recipient, str)
        and NAME_PATTERN.fullmatch(recipient)
    ):
        raise ForgedReport("the report's sender and recipient must be user names.")
    return Franked(
        _b64decode(data.get("commitment"), "commitment"),
        sender,
        recipient,
        timestamp,
        _b64decode(data.get("tag"), "tag"),
    )


# ---- handlers ---------------------------------------------------------------------------------
@tornado.web.stream_request_body
class ApiHandler(tornado.web.RequestHandler):
    """Shared behaviour: JSON errors, body limits checked before reading, login, rate limit."""

    #: Largest body this endpoint reads.
    max_body: int = MAX_SMALL_BODY
    #: ``"none"``, ``"user"`` or ``"admin"``.
    login: str = "none"

    def initialize(self, relay: Relay) -> None:
        self.relay = relay
        self._chunks: list[bytes] = []
        self._size = 0
        self.user: str | None = None

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    # ---- body --------------------------------------------------------------------------
    def prepare(self) -> Awaitable[None] | None:
        length = self.request.headers.get("Content-Length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                raise MalformedEnvelope("the Content-Length header is not a number.") from None
            if declared > MAX_HTTP_BODY or (declared > self.max_body and self.request.method not in ("POST", "PUT")):
                raise self._too_large(declared)  # answer now and drop the connection
            # Otherwise a body over max_body is read and discarded; ``body`` then raises 413.
        return self._authenticate()

    def _too_large(self, size: int) -> RequestTooLarge:
        if self.max_body == MAX_ENVELOPE_BYTES:
            what = f"the wire format's limit of {MAX_ENVELOPE_BYTES} bytes per envelope"
        else:
            what = f"this endpoint's limit of {self.max_body} bytes"
        return RequestTooLarge(f"the request body ({size} bytes or more) is over {what}; it was not read.")

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size <= self.max_body:
            self._chunks.append(chunk)

    @property
    def body(self) -> bytes:
        """The whole request body (413 if it grew past :attr:`max_body`)."""
        if self._size > self.max_body:
            raise self._too_large(self._size)
        return b"".join(self._chunks)

    def json_body(self) -> Any:
        """The body parsed as JSON, or :class:`MalformedEnvelope`."""
        body = self.body  # 413 if too large
        try:
            return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise MalformedEnvelope(f"the request body is not valid UTF-8 JSON ({exc}).") from None

    # ---- login ----------------------------------------------------------------------------
    def bearer_token(self) -> str | None:
        """The token in ``Authorization: Bearer <token>`` (or ``token <token>``), if any."""
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() in ("bearer", "token") and token.strip():
            return token.strip()
        return None

    async def _authenticate(self) -> None:
        relay = self.relay
        token = self.bearer_token()
        if relay.hub_auth is not None:
            from .hub import hub_user  # only in --hub mode: jupyterhub is then installed

            self.user = await hub_user(self)
        elif token is not None:
            self.user = relay.server.store.user_for_token(token)
        if self.login == "admin":
            allowed = (
                (token is not None and _same_secret(token, relay.admin_token))
                or (self.request.method == "GET" and relay.public_view)
                or (relay.hub_auth is not None and self.user is not None and await _hub_admin(self))
            )
            if not allowed:
                raise Forbidden(
                    "only the instructor may do this: log in to JupyterHub as a member of the instructors' group."
                    if relay.hub_auth is not None
                    else "only the instructor may do this: the dashboard needs the admin token printed when "
                    "the relay started (add it to the address as #token=...)."
                )
        elif self.login == "user" and self.user is None:
            raise Unauthenticated(
                "this request needs a login: send the token the relay gave you at registration as "
                "'Authorization: Bearer <token>' (RemoteServer does this for you)."
                if token is not None or relay.hub_auth is None
                else "log in to JupyterHub first."
            )
        key = f"user:{self.user}" if self.user else f"ip:{self.request.remote_ip}"
        if not relay.limiter.allow(key):
            raise RateLimited(
                f"too many requests from {self.user or 'this address'}: the relay allows "
                f"{relay.limiter.burst} at once and {relay.limiter.rate:g} per second after that. "
                "Wait a moment and try again."
            )

    def require_user(self) -> str:
        """The logged-in user's name (guaranteed by ``login = "user"``)."""
        assert self.user is not None
        return self.user

    # ---- answers ---------------------------------------------------------------------------
    def reply(self, data: Any, status: int = 200) -> None:
        """Send ``data`` as JSON."""
        self.set_status(status)
        self.finish(json.dumps(data, ensure_ascii=False))

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ToyChatError):
            status_code = status_for(exc)
        super().send_error(status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, RateLimited):
            self.set_header("Retry-After", str(self.relay.limiter.retry_after()))
        if isinstance(exc, ToyChatError):
            body = {"error": type(exc).__name__, "message": str(exc)}
        elif isinstance(exc, tornado.web.HTTPError) or exc is None:
            body = {"error": _HTTP_NAMES.get(status_code, "HTTPError"), "message": _http_message(status_code)}
        else:
            body = {"error": "InternalError", "message": "the relay hit a bug; the instructor can see it in its log."}
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(body, ensure_ascii=False))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, ToyChatError):
            log.info("%s %s refused: %s: %s", self.request.method, self.request.path, type(value).__name__, value)
        else:
            super().log_exception(typ, value, tb)


_HTTP_NAMES = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 500: "InternalError"}


def _http_message(status: int) -> str:
    return {
        400: "the request could not be understood.",
        404: "there is no such page or endpoint on this relay; see /api/info.",
        405: "this endpoint does not take that HTTP method.",
    }.get(status, "the relay could not answer this request.")


def _same_secret(given: str, expected: str) -> bool:
    """Compare tokens in constant time (as bytes: a hostile header may hold any character)."""
    return secrets.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed in JSON")


async def _hub_admin(handler: ApiHandler) -> bool:
    from .hub import is_hub_admin

    return await is_hub_admin(handler)


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
                "user": self.user,
            }
        )


class UsersHandler(ApiHandler):
    def get(self) -> None:
        self.reply({"users": sorted(self.relay.server.directory)})

    def post(self) -> None:
        server = self.relay.server
        public = public_from_json(self.json_body())
        hub = self.relay.hub_auth is not None
        if hub and self.user is None:
            raise Unauthenticated("log in to JupyterHub first: the hub login is your chat name.")
        if hub and public.name != self.user:
            raise Forbidden(
                f"you are logged in to JupyterHub as {self.user!r}, so you can only register the name "
                f"{self.user!r}, not {public.name!r}."
            )
        known = server.directory.get(public.name)
        if known is not None and self.user == public.name:
            if known != public:  # the logged-in owner brings new keys: a new device
                server.replace_keys(public)
            self.reply({**public_to_json(public), "token": None, "created": False, "rekeyed": known != public})
            return
        if known is not None and known == public:
            raise RegistrationError(
                f"{public.name!r} is already registered with these keys, and the relay gave its login "
                "token to whoever registered first; that device already has it. (Restarted your notebook? "
                "Choose a new name, or pass tokens=... to RemoteServer.)"
            )
        token = None if hub else secrets.token_urlsafe(32)
        server.register_with_token(public, token)  # raises RegistrationError for a taken name
        self.reply({**public_to_json(public), "token": token, "created": True}, status=201)


class UserHandler(ApiHandler):
    def get(self, name: str) -> None:
        self.reply(public_to_json(self.relay.server.lookup_for(self.user or "", name)))


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
        name = self.require_user()
        wait = self._number("wait", 0.0, 0.0, MAX_WAIT_SECONDS)
        limit = int(self._number("limit", MAX_BATCH, 1, MAX_BATCH))
        server = self.relay.server
        queued = server.mailbox(name, limit)
        if not queued and wait > 0:
            await self.relay.condition(name).wait(timeout=datetime.timedelta(seconds=wait))
            queued = server.mailbox(name, limit)
        self.reply(
            {"messages": [{"id": q.id, "msg_id": q.msg_id, "envelope": q.envelope.decode("utf-8")} for q in queued]}
        )


class AckHandler(ApiHandler):
    login = "user"

    def post(self) -> None:
        data = self.json_body()
        ids = data.get("ids") if isinstance(data, dict) else None
        if (
            not isinstance(ids, list)
            or len(ids) > 10 * MAX_BATCH
            or not all(type(i) is int and 0 < i < 2**63 for i in ids)
        ):
            raise MalformedEnvelope(
                f'an acknowledgement is {{"ids": [mailbox ids]}}: at most {10 * MAX_BATCH} positive whole numbers.'
            )
        self.reply({"acknowledged": self.relay.server.acknowledge(self.require_user(), ids)})


class FrankedHandler(ApiHandler):
    login = "user"

    def get(self, msg_id: str) -> None:
        self.reply(franked_to_json(self.relay.server.franked_for(self.require_user(), msg_id)))


class ReportsHandler(ApiHandler):
    login = "user"

    def post(self) -> None:
        data = self.json_body()
        if not isinstance(data, dict):
            raise ForgedReport("a report is a JSON object with message, franking_key and franked.")
        report = Report(
            _b64decode(data.get("message"), "message"),
            _b64decode(data.get("franking_key"), "franking_key"),
            franked_from_json(data.get("franked")),
        )
        if report.franked.recipient != self.require_user():
            raise Forbidden("only the recipient of a message can report it.")
        message = self.relay.server.receive_report(report)
        self.reply({"verified": True, "message": _b64(message)}, status=201)


class ServerViewHandler(ApiHandler):
    login = "admin"

    def get(self) -> None:
        server = self.relay.server
        rows = [
            {
                "received_at": e.received_at,
                "msg_id": e.msg_id,
                "mode": e.mode,
                "sender": e.sender,
                "recipient": e.recipient,
                "sent_at": e.sent_at,
                "size_bytes": e.size_bytes,
                "content_seen": e.content_seen,
            }
            for e in server.log[-VIEW_ROWS:]
        ]
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
        data = self.json_body()
        mode = data.get("mode") if isinstance(data, dict) else None
        self.relay.server.set_mode(mode if isinstance(mode, str) else repr(mode))
        log.info("platform mode switched to %s", mode)
        self.reply({"mode": self.relay.server.mode})


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
        default_handler_class=not_found,
        default_handler_args=state,
        cookie_secret=secrets.token_bytes(32),  # hub OAuth cookies; a restart means logging in again
    )


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
) -> Relay:
    """A :class:`Relay` over the SQLite database ``db`` (``":memory:"`` or a file path).

    The stored mode wins over ``mode`` when the database already has one.
    """
    server = PersistentServer(Store(db), mode, franking=franking)
    return Relay(
        server=server,
        limiter=TokenBucket(rate=rate, burst=burst),
        admin_token=admin_token or secrets.token_urlsafe(24),
        public_view=public_view,
        hub_auth=hub_auth,
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


# ---- running it --------------------------------------------------------------------------------
@dataclass
class RunningRelay:
    """A relay serving in a background thread (for tests and lesson demos)."""

    url: str
    relay: Relay
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    _stopped: threading.Event

    @property
    def admin_token(self) -> str:
        """The instructor's token for the dashboard, server view and mode switch."""
        return self.relay.admin_token

    @property
    def dashboard_url(self) -> str:
        """The dashboard's address, with the admin token in the fragment (never sent to the server)."""
        return f"{self.url}/dashboard#token={self.admin_token}"

    def stop(self) -> None:
        """Stop serving, close the database, and wait for the thread to end."""
        if not self._stopped.is_set():
            self.loop.call_soon_threadsafe(self._stopped.set)
        self.thread.join(timeout=10)

    def __enter__(self) -> RunningRelay:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(*, host: str = "127.0.0.1", port: int = 0, **options: Any) -> RunningRelay:
    """Start a relay in a background thread and return once it accepts connections.

    ``port=0`` picks a free port.  ``options`` go to :func:`build_relay`
    (``db``, ``mode``, ``franking``, ``rate``, ``burst``, ``admin_token``,
    ``public_view``).  The database is opened in the relay's own thread.
    """
    ready = threading.Event()
    stopped = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            relay = build_relay(**options)
            sockets = tornado.netutil.bind_sockets(port, host)
            server = http_server(make_app(relay))
            server.add_sockets(sockets)
            box.update(relay=relay, port=sockets[0].getsockname()[1], loop=loop)
        except BaseException as exc:  # noqa: BLE001  (start-up failures go to the caller)
            box["error"] = exc
            ready.set()
            return
        ready.set()

        async def until_stopped() -> None:
            while not stopped.is_set():
                await asyncio.sleep(0.05)
            server.stop()
            await server.close_all_connections()
            relay.server.store.close()

        loop.run_until_complete(until_stopped())
        loop.close()

    thread = threading.Thread(target=run, name="toychat-relay", daemon=True)
    thread.start()
    ready.wait(timeout=30)
    if "error" in box:
        raise box["error"]
    return RunningRelay(f"http://{host}:{box['port']}", box["relay"], thread, box["loop"], stopped)


def main(argv: list[str] | None = None) -> None:
    """``python -m toychat.relay``: run the classroom relay until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m toychat.relay", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--db", default=":memory:", help="SQLite file to keep mailboxes across restarts")
    parser.add_argument("--mode", choices=MODES, default="e2ee", help="platform mode of a new database")
    parser.add_argument("--franking", action="store_true", help="tag messages for verifiable reports (lesson 08)")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second per user, sustained")
    parser.add_argument("--burst", type=int, default=60, help="requests per user at once")
    parser.add_argument("--admin-token", default=None, help="instructor token (default: random, printed)")
    parser.add_argument("--public-view", action="store_true", help="anyone may read the server view")
    parser.add_argument("--certfile", help="TLS certificate (serve https)")
    parser.add_argument("--keyfile", help="TLS private key")
    parser.add_argument("--hub", action="store_true", help="run as a JupyterHub service: hub logins, no tokens")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    hub_auth = None
    prefix = ""
    if args.hub:
        from .hub import hub_settings

        hub_auth, prefix, args.host, args.port = hub_settings(args.host, args.port)
    try:
        relay = build_relay(
            db=args.db,
            mode=args.mode,
            franking=args.franking,
            rate=args.rate,
            burst=args.burst,
            admin_token=args.admin_token,
            public_view=args.public_view,
            hub_auth=hub_auth,
        )
    except sqlite3.Error as exc:
        raise SystemExit(
            f"toychat relay: cannot use the database {args.db}: {exc}. Is the disk full, or the file (or its "
            "folder) read-only for this user? Nothing in it was changed."
        ) from None
    ssl_options = {"certfile": args.certfile, "keyfile": args.keyfile} if args.certfile else None
    scheme = "https" if ssl_options else "http"
    base = f"{scheme}://{args.host}:{args.port}{prefix}"

    async def serve() -> None:
        server = http_server(make_app(relay, prefix=prefix), ssl_options)
        server.listen(args.port, args.host)
        print(f"toychat relay ({relay.server.mode}) on {base}  database: {args.db}", flush=True)
        print(f"students:   export TOYCHAT_RELAY={base}", flush=True)
        if not args.hub:
            print(f"instructor: {base}/dashboard#token={relay.admin_token}", flush=True)
        if scheme == "http" and args.host not in ("127.0.0.1", "localhost", "::1"):
            print(
                "WARNING: plain HTTP on a network: login tokens travel readable. "
                "Use --certfile/--keyfile or run it behind JupyterHub.",
                flush=True,
            )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # JupyterHub stops services with these
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        server.stop()
        await server.close_all_connections()
        print("toychat relay stopped; everything was already saved.", flush=True)

    try:
        asyncio.run(serve())
    finally:
        relay.server.store.close()
