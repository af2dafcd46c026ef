"""The course's one exception hierarchy.

Every problem the toy chat detects raises a subclass of :class:`ToyChatError`
with a message written for a student: what went wrong, what it means, and
what was (not) delivered.  Catch ``ToyChatError`` to handle them all::

    >>> from toychat.errors import ToyChatError, TamperedMessage
    >>> issubclass(TamperedMessage, ToyChatError)
    True

The hierarchy::

    ToyChatError
    ├── MalformedEnvelope     the bytes are not a well-formed envelope
    │   └── TimestampOutOfRange   a time outside the one rule for timestamps, or far from the platform's clock
    ├── TamperedMessage       an authenticity check failed (signature or MAC)
    │   └── SentToPreviousKeys    sent before this device's keys existed: encrypted to the user's previous keys
    ├── UnreportableMessage   a message without a franking commitment on a franking platform
    ├── UnknownMessage        no message with that id where it was asked for (an inbox, a report)
    ├── ServiceUnavailable    the server could not be reached: nothing was lost, try again
    ├── ReplayedMessage       this exact message was already accepted once
    ├── MisaddressedMessage   the envelope is addressed to someone else
    ├── UnknownUser           a name the key directory does not know
    │   ├── UnknownRecipient
    │   └── UnknownSender
    ├── RegistrationError     a name is taken or a key is unusable
    ├── InvalidKey            a key has the wrong type or length, or is of small order
    ├── TooManySkipped        a ratchet was asked to skip more messages than allowed
    ├── ForgedReport          an abuse report does not verify (message franking)
    ├── ImageTooLarge         a picture that would decode to too many pixels (a decompression bomb)
    ├── MalformedClaims       a row of the claims dataset breaks its rules (lesson 10)
    └── TransparencyError     key transparency found something wrong
        ├── InvalidProof      a Merkle proof or signed tree head does not verify
        ├── InconsistentLog   two tree heads cannot both come from one honest log
        └── UnexpectedKey     a key is bound to a name without its owner's knowledge
"""

from __future__ import annotations

__all__ = [
    "ToyChatError",
    "MalformedEnvelope",
    "TimestampOutOfRange",
    "TamperedMessage",
    "SentToPreviousKeys",
    "UnreportableMessage",
    "UnknownMessage",
    "ServiceUnavailable",
    "ReplayedMessage",
    "MisaddressedMessage",
    "UnknownUser",
    "UnknownRecipient",
    "UnknownSender",
    "RegistrationError",
    "InvalidKey",
    "TooManySkipped",
    "ForgedReport",
    "ImageTooLarge",
    "MalformedClaims",
    "TransparencyError",
    "InvalidProof",
    "InconsistentLog",
    "UnexpectedKey",
]


class ToyChatError(Exception):
    """Base class of every error the toy chat raises on purpose."""


class MalformedEnvelope(ToyChatError, ValueError):
    """The bytes received are not a valid envelope (bad JSON, a missing or
    extra field, a wrong type or length, a non-canonical encoding)."""


class TamperedMessage(ToyChatError):
    """An authenticity check failed: the signature or the encryption's
    authentication tag does not match, so the message was changed after it
    was sent, or was not sent by who it claims."""


class TimestampOutOfRange(MalformedEnvelope):
    """A time that breaks the one rule for timestamps (a finite number of
    seconds from 0 up to :data:`toychat.clock.MAX_TIMESTAMP`, the last second
    of the year 9999), or a message's send time further than
    :data:`toychat.clock.MAX_CLOCK_SKEW` from the platform's own clock."""


class SentToPreviousKeys(TamperedMessage):
    """A correctly signed message that this device cannot decrypt, sent before
    this device's keys were made: it was encrypted to the user's *previous*
    keys (a restarted kernel or a new phone that made new keys).  The sender
    can send it again; to keep the same keys across restarts, save them with
    :meth:`toychat.keys.Identity.save` and start with
    :meth:`toychat.keys.Identity.load`."""


class UnreportableMessage(ToyChatError):
    """On a platform that runs message franking, a message without a valid
    franking commitment: it could not be reported, so it is refused (as
    Facebook's design refuses it)."""


class UnknownMessage(ToyChatError, LookupError):
    """No message with that id where it was asked for: a phone can report only a
    message in its own inbox, and the platform hands a message's reporting tag
    only to its recipient."""


class ServiceUnavailable(ToyChatError, ConnectionError):
    """The server could not be reached (a relay restarting, a dropped network).
    Nothing was lost: what could not be handled stays queued for the next try."""


class ReplayedMessage(ToyChatError):
    """A message with this id was already accepted: someone sent a copy again."""


class MisaddressedMessage(ToyChatError):
    """The envelope is addressed to someone other than the one opening it."""


class UnknownUser(ToyChatError, LookupError):
    """A name that the key directory does not know."""


class UnknownRecipient(UnknownUser):
    """The recipient is not registered with the server's key directory."""


class UnknownSender(UnknownUser):
    """The sender's keys cannot be found, so the message cannot be checked."""


class RegistrationError(ToyChatError):
    """A user could not be registered (name taken by another key, bad name)."""


class InvalidKey(ToyChatError, TypeError):
    """A key of the wrong type or length was given."""


class TooManySkipped(ToyChatError):
    """A ratchet message claims to be so far ahead that storing every skipped
    key would exceed the limit: refused, so a sender cannot exhaust memory."""


class TransparencyError(ToyChatError):
    """Base class of what key transparency detects."""


class InvalidProof(TransparencyError):
    """A Merkle inclusion or consistency proof, or a tree head's signature, does not verify."""


class InconsistentLog(TransparencyError):
    """Two signed tree heads cannot both come from one append-only log: a fork or a split view."""


class UnexpectedKey(TransparencyError):
    """A binding of a key to a user that the user did not make (a swapped key or a ghost device)."""


class ForgedReport(ToyChatError):
    """An abuse report whose message, franking key, context or platform tag does
    not verify: it was altered, or describes a message that was never sent."""


class ImageTooLarge(ToyChatError):
    """A picture whose header claims more pixels than :data:`toychat.images.MAX_PIXELS`: a few
    kilobytes of PNG can decode to gigabytes (a *decompression bomb*).  Refused before it is
    decoded, and, by a platform that scans pictures, before the message is stored."""


class MalformedClaims(ToyChatError, ValueError):
    """A row of the claims-and-evidence dataset (``data/claims.csv`` or
    ``data/sources.csv``) breaks one of its rules: an unknown side, claim type,
    source or lesson, a missing quote, a value that is not a number, or a
    repeated id.  The message names the row (its id and line number in the
    file) and the rule it breaks."""
