"""Errors only a networked relay has, and how every error crosses HTTP.

The relay answers every refusal with an HTTP status and a JSON body
``{"error": ExceptionName, "message": student-readable text}``;
:class:`~toychat.relay.client.RemoteServer` turns that body back into the
same named exception, so a notebook sees ``UnknownRecipient`` whether the
server is in-process or across the network.

The exceptions added here extend the course's one hierarchy
(:mod:`toychat.errors`)::

    ToyChatError
    └── RelayError            the relay refused a request for a reason of its own
        ├── Unauthenticated   no valid login (401)
        ├── Forbidden         logged in, but not allowed to do this (403)
        ├── RateLimited       too many requests too fast (429)
        ├── MailboxFull       a mailbox quota is used up: nothing was stored (409)
        ├── RequestTooLarge   the body is over the wire format's limit (413)
        ├── RelayStorageError the relay cannot save to its database: disk full, read-only (503)
        └── RelayUnavailable  the relay cannot be reached at all
"""

from __future__ import annotations

from .. import errors as _errors
from ..errors import (
    ForgedReport,
    InvalidKey,
    MalformedEnvelope,
    MisaddressedMessage,
    RegistrationError,
    ReplayedMessage,
    ServiceUnavailable,
    TamperedMessage,
    ToyChatError,
    UnknownUser,
)

__all__ = [
    "Forbidden",
    "MailboxFull",
    "RateLimited",
    "RelayError",
    "RelayStorageError",
    "RelayUnavailable",
    "RequestTooLarge",
    "Unauthenticated",
    "error_class",
    "status_for",
]


class RelayError(ToyChatError):
    """The relay refused a request for a reason of its own (not the envelope's).

    ``status`` is the HTTP status the relay answered with (0 if none).
    """

    status: int = 0


class Unauthenticated(RelayError):
    """The request carries no valid login: a missing, unknown or expired token."""

    status = 401


class Forbidden(RelayError):
    """The request is logged in, but as someone not allowed to do this
    (another user's mailbox, or the instructor's mode switch)."""

    status = 403


class RateLimited(RelayError):
    """Too many requests too fast from one user: wait a moment and try again."""

    status = 429


class RequestTooLarge(MalformedEnvelope):
    """The request body is larger than the wire format allows; refused unread."""

    status = 413


class RelayStorageError(RelayError):
    """The relay could not write to its database (disk full, read-only file, I/O error).

    Nothing of the request was stored: send the same message again later (it
    is not a replay).  The instructor sees the cause in the relay's log.
    """

    status = 503


class MailboxFull(RelayError):
    """A mailbox quota is used up: the recipient's mailbox holds as many messages (or bytes)
    as the relay keeps for one user, or the sender has that much waiting undelivered.
    Nothing was stored; send it again once the recipient has read their messages."""

    status = 409


class RelayUnavailable(RelayError, ServiceUnavailable):
    """The relay could not be reached (not running, wrong address, network down)."""


#: HTTP status for each error class; the first matching base class wins.
_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (RelayError, 0),  # placeholder: RelayError subclasses carry their own status
    (RequestTooLarge, 413),
    (MalformedEnvelope, 400),
    (InvalidKey, 400),
    (MisaddressedMessage, 400),
    (ForgedReport, 400),
    (TamperedMessage, 403),
    (UnknownUser, 404),
    (RegistrationError, 409),
    (ReplayedMessage, 409),
    (ToyChatError, 400),
)


def status_for(exc: BaseException) -> int:
    """The HTTP status the relay answers ``exc`` with (500 for a bug, never for bad input).

    >>> status_for(ReplayedMessage("again")), status_for(RateLimited("slow down"))
    (409, 429)

    An exception may carry its own ``status`` attribute (set on the instance)
    when the same error means different things in different places, e.g. a
    badly formed name at registration (400) versus a taken one (409).
    """
    explicit = vars(exc).get("status")
    if isinstance(explicit, int) and 400 <= explicit < 600:
        return explicit
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status or getattr(exc, "status", 0) or 400
    return 500


def _known_errors() -> dict[str, type[ToyChatError]]:
    """Every named ToyChatError class of :mod:`toychat.errors` and of this module."""
    found: dict[str, type[ToyChatError]] = {}
    for namespace, names in ((vars(_errors), _errors.__all__), (globals(), __all__)):
        for name in names:
            obj = namespace.get(name)
            if isinstance(obj, type) and issubclass(obj, ToyChatError):
                found[name] = obj
    return found


_BY_NAME = _known_errors()


def error_class(name: object) -> type[ToyChatError]:
    """The exception class named ``name`` in an error body; :class:`RelayError` if unknown.

    Only :class:`~toychat.errors.ToyChatError` subclasses are ever returned,
    whatever a (possibly hostile) server writes in the body.

    >>> error_class("UnknownRecipient").__name__, error_class("os.system").__name__
    ('UnknownRecipient', 'RelayError')
    """
    return _BY_NAME.get(name, RelayError) if isinstance(name, str) else RelayError
