"""What every API endpoint stands on: the shared :class:`Relay` state and :class:`ApiHandler`.

:class:`ApiHandler` gives each endpoint of :mod:`toychat.relay.handlers` the
same behaviour: a refusal is ``{"error": Name, "message": text}`` with the
status :func:`~toychat.relay.errors.status_for` names; bodies over the limit
are refused from the headers, before they are read; the login (a relay token,
the admin token, or in ``--hub`` mode the JupyterHub login) is checked; and
every request takes a token from the per-user :class:`TokenBucket`.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import tornado.locks
import tornado.web

from ..errors import MalformedEnvelope, ToyChatError
from ..wire import MAX_ENVELOPE_BYTES
from . import codec
from .errors import Forbidden, RateLimited, RequestTooLarge, Unauthenticated, status_for
from .limits import MAX_HTTP_BODY, MAX_SMALL_BODY, TokenBucket
from .persistent import PersistentServer

__all__ = ["ApiHandler", "Relay"]

log = logging.getLogger("toychat.relay")


@dataclass
class Relay:
    """Everything the handlers share: the platform, its limits and logins."""

    server: PersistentServer
    #: Requests per account (per address for requests without a login).
    limiter: TokenBucket
    admin_token: str
    public_view: bool = False
    hub_auth: Any = None  # a jupyterhub.services.auth.HubOAuth in --hub mode
    #: Requests per network address, whatever account makes them, so that registering more
    #: names does not multiply what one address may send (``None``: no per-address limit).
    address_limiter: TokenBucket | None = None
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

    def notify_all(self) -> None:
        """Wake every long-polling request (the instructor switched the mode)."""
        for condition in self._waiters.values():
            condition.notify_all()


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

    def compute_etag(self) -> str | None:
        """No ETag: API answers are never cached (``Cache-Control: no-store``), so hashing
        each answer for one was work no client used."""
        return None

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
        if self.relay.hub_auth is not None:
            return self._authenticate_hub()  # asks JupyterHub: a coroutine
        # a relay token is checked without a coroutine: tornado then awaits nothing in every
        # request's prepare step (a class makes several requests per message; issue 31)
        token = self.bearer_token()
        if token is not None:
            self.user = self.relay.server.store.user_for_token(token)
        self._check_login(token, admin=self.login == "admin" and self._is_admin_token(token))
        return None

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

    async def _authenticate_hub(self) -> None:
        """Log in with JupyterHub (``--hub`` mode), then check the login and the rate limits."""
        from .hub import hub_user  # only in --hub mode: jupyterhub is then installed

        token = self.bearer_token()
        self.user = await hub_user(self)
        admin = self.login == "admin" and (
            self._is_admin_token(token)
            or (self.request.method == "GET" and self.relay.public_view)
            or (self.user is not None and await _hub_admin(self))
        )
        self._check_login(token, admin=admin)

    def _is_admin_token(self, token: str | None) -> bool:
        """Whether ``token`` is the instructor's admin token (compared in constant time)."""
        return token is not None and _same_secret(token, self.relay.admin_token)

    def _check_login(self, token: str | None, *, admin: bool) -> None:
        """Refuse a request whose login this endpoint does not accept (``admin``: the request
        carries the instructor's login), then take a token from the rate limits."""
        relay = self.relay
        if self.login == "admin":
            allowed = admin or (self.request.method == "GET" and relay.public_view)
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
        address = self.request.remote_ip or ""
        if relay.address_limiter is not None and not relay.address_limiter.allow(address):
            self._rate_limiter = relay.address_limiter
            raise RateLimited(
                f"too many requests from this network address: the relay allows {relay.address_limiter.burst} "
                f"at once and {relay.address_limiter.rate:g} per second from one address, however many "
                "names it registered. Wait a moment and try again."
            )
        key = f"user:{self.user}" if self.user else f"ip:{address}"
        if not relay.limiter.allow(key):
            raise RateLimited(
                f"too many requests from {self.user or 'this address'}: the relay allows "
                f"{relay.limiter.burst} at once and {relay.limiter.rate:g} per second after that. "
                "Wait a moment and try again."
            )

    def charge(self, extra: int) -> None:
        """Take ``extra`` more requests from this login's (and address's) rate limit, for a request
        that does the work of several; :class:`RateLimited` (nothing done) if they are not left."""
        if extra <= 0:
            return
        relay = self.relay
        address = self.request.remote_ip or ""
        if relay.address_limiter is not None and not relay.address_limiter.allow(address, extra):
            self._rate_limiter = relay.address_limiter
            raise RateLimited(
                f"too many requests from this network address: this one counts as {extra + 1}. "
                "Wait a moment and try again."
            )
        if not relay.limiter.allow(f"user:{self.user}" if self.user else f"ip:{address}", extra):
            raise RateLimited(
                f"too many requests from {self.user or 'this address'}: this one counts as {extra + 1} "
                f"(one per envelope), and the relay allows {relay.limiter.burst} at once and "
                f"{relay.limiter.rate:g} per second after that. Wait a moment and try again."
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
            limiter = getattr(self, "_rate_limiter", self.relay.limiter)
            self.set_header("Retry-After", str(limiter.retry_after()))
        if isinstance(exc, ToyChatError):
            body = codec.error_to_json(type(exc).__name__, str(exc))
        elif isinstance(exc, tornado.web.HTTPError) or exc is None:
            body = codec.error_to_json(_HTTP_NAMES.get(status_code, "HTTPError"), _http_message(status_code))
        else:
            body = codec.error_to_json("InternalError", "the relay hit a bug; the instructor can see it in its log.")
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
