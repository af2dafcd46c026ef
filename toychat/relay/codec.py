"""The relay's wire format: every JSON object the relay and :class:`RemoteServer` exchange.

One function per direction per object: ``<object>_to_json`` builds what goes
on the wire, ``<object>_from_json`` parses it back, refusing bad input with a
named :mod:`toychat.errors` exception.  The relay's handlers
(:mod:`toychat.relay.handlers`) and its client (:mod:`toychat.relay.client`)
both call these functions, so the two sides cannot drift apart.

Bytes travel as standard base64 strings, decoded strictly:

>>> b64decode(b64encode(b"toy"), "payload")
b'toy'
>>> b64decode("not base64!", "payload")
Traceback (most recent call last):
...
toychat.errors.MalformedEnvelope: payload is not valid base64.

Envelopes themselves are not encoded here: they are canonical JSON already
(:mod:`toychat.wire`) and cross HTTP as they are.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from typing import Any

from ..clock import check_timestamp
from ..errors import ForgedReport, MalformedEnvelope, RegistrationError, TimestampOutOfRange, ToyChatError
from ..franking import Franked, Report
from ..keys import NAME_PATTERN, PublicIdentity, check_name
from ..server import SeenByServer
from ..wire import Mode, is_mode
from .errors import error_class
from .limits import MAX_BATCH, MAX_SEND_BATCH
from .store import Queued

__all__ = [
    "MAX_ACK_IDS",
    "ack_from_json",
    "ack_to_json",
    "batch_from_json",
    "batch_to_json",
    "b64decode",
    "b64encode",
    "error_from_json",
    "error_to_json",
    "franked_from_json",
    "franked_to_json",
    "mailbox_from_json",
    "mailbox_mode",
    "mailbox_platform",
    "mailbox_to_json",
    "mode_from_json",
    "mode_to_json",
    "public_from_json",
    "public_to_json",
    "report_from_json",
    "report_to_json",
    "seen_to_json",
    "verified_from_json",
    "verified_to_json",
]

#: Most mailbox ids one acknowledgement may carry.
MAX_ACK_IDS = 10 * MAX_BATCH


# ---- bytes -------------------------------------------------------------------------------------
def b64encode(data: bytes) -> str:
    """``data`` as a standard base64 string."""
    return base64.b64encode(data).decode("ascii")


def b64decode(value: object, what: str) -> bytes:
    """Decode the base64 string ``value`` (the field ``what``); anything else is a
    :class:`~toychat.errors.MalformedEnvelope`."""
    if not isinstance(value, str):
        raise MalformedEnvelope(f"{what} must be a base64 string.")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MalformedEnvelope(f"{what} is not valid base64.") from None


# ---- the key directory --------------------------------------------------------------------------
def public_to_json(public: PublicIdentity) -> dict[str, str]:
    """A public identity as JSON: name, both keys in base64, fingerprint.

    >>> from toychat import Identity
    >>> public = Identity.generate("alice").public
    >>> public_from_json(public_to_json(public)) == public
    True
    """
    return {
        "name": public.name,
        "encryption_key": b64encode(public.encryption_key),
        "signing_key": b64encode(public.signing_key),
        "fingerprint": public.fingerprint,
    }


def public_from_json(data: object) -> PublicIdentity:
    """Parse :func:`public_to_json`'s output (the fingerprint, derived from the keys, is
    not read); bad input raises a named ToyChatError."""
    if not isinstance(data, dict):
        raise MalformedEnvelope("a public identity is a JSON object with name, encryption_key and signing_key.")
    try:
        name = check_name(data.get("name"))
    except RegistrationError as exc:
        exc.status = 400  # type: ignore[attr-defined]  # a bad name, not a conflict
        raise
    return PublicIdentity(
        name,
        b64decode(data.get("encryption_key"), "encryption_key"),
        b64decode(data.get("signing_key"), "signing_key"),
    )


# ---- message franking (lesson 08) ---------------------------------------------------------------
def franked_to_json(franked: Franked) -> dict[str, Any]:
    """A franking tag as JSON."""
    return {
        "commitment": b64encode(franked.commitment),
        "sender": franked.sender,
        "recipient": franked.recipient,
        "timestamp": franked.timestamp,
        "tag": b64encode(franked.tag),
    }


def franked_from_json(data: object) -> Franked:
    """Parse :func:`franked_to_json`'s output.

    >>> franked = Franked(bytes(32), "mallory", "alice", 1000.0, bytes(32))
    >>> franked_from_json(franked_to_json(franked)) == franked
    True
    """
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
        b64decode(data.get("commitment"), "commitment"),
        sender,
        recipient,
        timestamp,
        b64decode(data.get("tag"), "tag"),
    )


def report_to_json(report: Report) -> dict[str, Any]:
    """An abuse report as JSON: the message and its franking key in base64, and the tag."""
    return {
        "message": b64encode(report.message),
        "franking_key": b64encode(report.franking_key),
        "franked": franked_to_json(report.franked),
    }


def report_from_json(data: object) -> Report:
    """Parse :func:`report_to_json`'s output (the fields in that order)."""
    if not isinstance(data, dict):
        raise ForgedReport("a report is a JSON object with message, franking_key and franked.")
    return Report(
        b64decode(data.get("message"), "message"),
        b64decode(data.get("franking_key"), "franking_key"),
        franked_from_json(data.get("franked")),
    )


def verified_to_json(message: bytes) -> dict[str, Any]:
    """The answer to a report: the platform verified it, and this is the message it proves."""
    return {"verified": True, "message": b64encode(message)}


def verified_from_json(data: object) -> bytes:
    """The message of :func:`verified_to_json`'s answer."""
    if not isinstance(data, dict):
        raise MalformedEnvelope("the relay's answer to a report is a JSON object with the verified message.")
    return b64decode(data.get("message"), "message")


# ---- mailboxes ----------------------------------------------------------------------------------
def mailbox_to_json(queued: Iterable[Queued], mode: str | None = None, franking: bool | None = None) -> dict[str, Any]:
    """A batch of waiting messages: mailbox id, message id and the envelope as text; and, from
    the relay, the platform's ``mode`` as it answered (:func:`mailbox_mode` reads it) and whether
    it tags messages for reporting (``franking``; :func:`mailbox_platform` reads both).

    >>> batch = [Queued(7, "m1", b'{"toy":1}')]
    >>> mailbox_to_json(batch)
    {'messages': [{'id': 7, 'msg_id': 'm1', 'envelope': '{"toy":1}'}]}
    >>> mailbox_from_json(mailbox_to_json(batch)) == batch
    True
    >>> mailbox_mode(mailbox_to_json(batch, "e2ee")), mailbox_mode(mailbox_to_json(batch))
    ('e2ee', None)
    >>> mailbox_platform(mailbox_to_json(batch, "plaintext", True)), mailbox_platform(mailbox_to_json(batch, "e2ee"))
    ({'mode': 'plaintext', 'franking': True}, None)
    """
    data: dict[str, Any] = {
        "messages": [{"id": q.id, "msg_id": q.msg_id, "envelope": q.envelope.decode("utf-8")} for q in queued]
    }
    if mode is not None:
        data["mode"] = mode
    if franking is not None:
        data["franking"] = franking
    return data


def mailbox_mode(data: object) -> Mode | None:
    """The mode a :func:`mailbox_to_json` answer names, or ``None`` (none, or not a mode)."""
    mode = data.get("mode") if isinstance(data, dict) else None
    return mode if is_mode(mode) else None


def mailbox_platform(data: object) -> dict[str, Any] | None:
    """What a :func:`mailbox_to_json` answer says of the platform, ``{"mode": ..., "franking": ...}``
    (the two :class:`~toychat.relay.RemoteServer` needs to compose and open messages), or ``None``
    unless it names both (a relay from before ``franking`` was added names only the mode)."""
    mode = mailbox_mode(data)
    franking = data.get("franking") if isinstance(data, dict) else None
    if mode is None or not isinstance(franking, bool):
        return None
    return {"mode": mode, "franking": franking}


def mailbox_from_json(data: object) -> list[Queued]:
    """Parse :func:`mailbox_to_json`'s output (no ``messages``: an empty mailbox)."""
    items = data.get("messages", []) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise MalformedEnvelope('the relay sent a mailbox that is not {"messages": [...]}.')
    out = []
    for item in items:
        try:
            out.append(Queued(int(item["id"]), str(item["msg_id"]), str(item["envelope"]).encode("utf-8")))
        except (KeyError, TypeError, ValueError, OverflowError):
            raise MalformedEnvelope("the relay sent a mailbox entry without id, msg_id and envelope.") from None
    return out


def batch_to_json(raws: Sequence[bytes]) -> dict[str, list[str]]:
    """Several envelopes for ``POST /api/messages/batch``, each as its (UTF-8 JSON) text.

    >>> batch_from_json(batch_to_json([b'{"toy":1}', b'{"toy":2}']))
    [b'{"toy":1}', b'{"toy":2}']
    """
    return {"envelopes": [bytes(raw).decode("utf-8") for raw in raws]}


def batch_from_json(data: object) -> list[bytes]:
    """Parse :func:`batch_to_json`'s output: 1 to :data:`~toychat.relay.limits.MAX_SEND_BATCH`
    envelopes, each a string (checked as an envelope later, one by one).

    >>> batch_from_json({"envelopes": []})
    Traceback (most recent call last):
    ...
    toychat.errors.MalformedEnvelope: a batch carries 1 to 32 envelopes, not 0.
    """
    items = data.get("envelopes") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise MalformedEnvelope('a batch of envelopes is {"envelopes": ["<envelope>", ...]}.')
    if not 1 <= len(items) <= MAX_SEND_BATCH:
        raise MalformedEnvelope(f"a batch carries 1 to {MAX_SEND_BATCH} envelopes, not {len(items)}.")
    return [item.encode("utf-8") for item in items]


def ack_to_json(ids: Sequence[int]) -> dict[str, list[int]]:
    """An acknowledgement: the mailbox ids of messages that arrived (the relay deletes them)."""
    return {"ids": list(ids)}


def ack_from_json(data: object) -> list[int]:
    """Parse :func:`ack_to_json`'s output: at most :data:`MAX_ACK_IDS` positive 64-bit ids.

    >>> ack_from_json(ack_to_json([3, 4]))
    [3, 4]
    >>> ack_from_json({"ids": [True]})
    Traceback (most recent call last):
    ...
    toychat.errors.MalformedEnvelope: an acknowledgement is {"ids": [mailbox ids]}: at most 1000 positive whole numbers.
    """  # noqa: E501  (a doctest's expected exception is one line: the message whole)
    ids = data.get("ids") if isinstance(data, dict) else None
    if not isinstance(ids, list) or len(ids) > MAX_ACK_IDS or not all(type(i) is int and 0 < i < 2**63 for i in ids):
        raise MalformedEnvelope(
            f'an acknowledgement is {{"ids": [mailbox ids]}}: at most {MAX_ACK_IDS} positive whole numbers.'
        )
    return ids


# ---- the platform (instructor) --------------------------------------------------------------------
def mode_to_json(mode: str) -> dict[str, str]:
    """The platform mode as JSON (the instructor's switch, and the relay's answer)."""
    return {"mode": mode}


def mode_from_json(data: object) -> str:
    """The mode :func:`mode_to_json` names, as text: anything but a string comes back as
    its ``repr``, so the refusal (:meth:`PersistentServer.set_mode` checks it) can name it.

    >>> mode_from_json(mode_to_json("plaintext")), mode_from_json({"mode": None}), mode_from_json([])
    ('plaintext', 'None', 'None')
    """
    mode = data.get("mode") if isinstance(data, dict) else None
    return mode if isinstance(mode, str) else repr(mode)


def seen_to_json(entry: SeenByServer) -> dict[str, Any]:
    """One row of the server view: what the server saw of a message (to the dashboard
    and :meth:`RemoteServer.log_table`, which read it as a table, not as an object)."""
    return {
        "received_at": entry.received_at,
        "msg_id": entry.msg_id,
        "mode": entry.mode,
        "sender": entry.sender,
        "recipient": entry.recipient,
        "sent_at": entry.sent_at,
        "size_bytes": entry.size_bytes,
        "content_seen": entry.content_seen,
    }


# ---- refusals -------------------------------------------------------------------------------------
def error_to_json(name: str, message: str) -> dict[str, str]:
    """A refusal: the exception's name and a student-readable message."""
    return {"error": name, "message": message}


def error_from_json(data: object) -> ToyChatError:
    """The named exception :func:`error_to_json` describes (a name the course does not
    know becomes :class:`~toychat.relay.errors.RelayError`).

    >>> error_from_json(error_to_json("UnknownRecipient", "no such user"))
    UnknownRecipient('no such user')
    """
    if not (isinstance(data, dict) and "error" in data and "message" in data):
        raise MalformedEnvelope('a refusal is {"error": name, "message": text}.')
    return error_class(data["error"])(str(data["message"]))
