"""Message franking: verifiable abuse reports for end-to-end encrypted messages.

Under E2EE the platform cannot read messages, so how can it trust a report of
an abusive one?  Facebook's answer for Messenger's "Secret Conversations"
(whitepaper 2016/2017; see references: docs/references.md#facebook2016), formalised by Grubbs,
Lu and Ristenpart
("Message Franking via Committing Authenticated Encryption", CRYPTO 2017;
see references: docs/references.md#grubbs2017), works in three steps:

1. **The sender commits.**  With a fresh random *franking key* ``nf``, the
   sender computes ``commitment = HMAC-SHA256(nf, message)``.  ``nf`` travels
   inside the encrypted payload (only the recipient sees it); the commitment
   travels beside the ciphertext, where the platform sees it.
2. **The platform binds.**  On relaying, the platform computes a *reporting
   tag* ``HMAC-SHA256(platform key, commitment ‖ sender ‖ recipient ‖ time)``
   and hands it to the recipient with the message.  It learns nothing about
   the content.
3. **The recipient reports.**  A report carries the message, ``nf``, the
   commitment, the context and the tag.  The platform recomputes both HMACs:
   if they match, this exact message was sent by this sender to this
   recipient at this time — and the platform has seen no other message.

This module teaches the construction, not Messenger's exact wire format, whose
fields it does not claim to reproduce.  The commitment
must be a separate HMAC: AEAD tags such as Poly1305's are **not committing**
(Grubbs et al.: "AEAD schemes are in general not committing"), which is what
the "invisible salamanders" attack exploited
(:func:`salamander_simulation`; Dodis, Grubbs, Ristenpart and Woodage,
CRYPTO 2018; see references: docs/references.md#dodis2018).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from .clock import as_seconds
from .errors import ForgedReport, MalformedEnvelope, ReplayedMessage, TimestampOutOfRange

__all__ = [
    "FRANKING_KEY_SIZE",
    "PLAINTEXT_FRANKING_KEY",
    "plaintext_commitment",
    "FRANKING_FIELD",
    "COMMITMENT_SIZE",
    "decode_commitment",
    "commit",
    "Franked",
    "Report",
    "FrankingService",
    "salamander_simulation",
]

#: Franking keys are 256 random bits (32 bytes).
FRANKING_KEY_SIZE = 32
#: The franking key of a message relayed in *plaintext* on a franking platform.  The platform
#: read that message as it relayed it, so nothing is secret: it commits to the text itself with
#: this public all-zero key, tags the commitment like any other, and a report of the message
#: sends this key (:func:`plaintext_commitment`).
PLAINTEXT_FRANKING_KEY = bytes(32)
#: The envelope extras field that carries the sender's commitment (base64).
FRANKING_FIELD = "franking"
#: A commitment is one HMAC-SHA256 output.
COMMITMENT_SIZE = 32
_COMMITMENT_B64 = 44


def decode_commitment(text: object) -> bytes:
    """The commitment carried in an envelope's ``extras["franking"]``: canonical
    base64 of exactly :data:`COMMITMENT_SIZE` bytes, or
    :class:`~toychat.errors.MalformedEnvelope`.  Checked before anything is stored.

    >>> len(decode_commitment("A" * 43 + "="))
    32
    """
    if isinstance(text, str) and len(text) == _COMMITMENT_B64:
        try:
            data = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            data = b""
        if len(data) == COMMITMENT_SIZE and base64.b64encode(data).decode("ascii") == text:
            return data
    raise MalformedEnvelope(
        f"the franking commitment must be {COMMITMENT_SIZE} bytes in canonical base64 "
        f"({_COMMITMENT_B64} characters), not {str(text)[:48]!r}."
    )


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def commit(message: bytes, franking_key: bytes | None = None) -> tuple[bytes, bytes]:
    """The sender's step: ``(franking_key, commitment)`` for ``message``.

    >>> nf, c = commit(b"hello")
    >>> len(nf), len(c), c == commit(b"hello", nf)[1]
    (32, 32, True)
    """
    nf = secrets.token_bytes(FRANKING_KEY_SIZE) if franking_key is None else franking_key
    if len(nf) != FRANKING_KEY_SIZE:
        raise ValueError(f"a franking key is {FRANKING_KEY_SIZE} bytes")
    return nf, _hmac(nf, message)


def plaintext_commitment(message: bytes) -> bytes:
    """The commitment a franking platform makes itself to a message it relays in *plaintext*
    (with :data:`PLAINTEXT_FRANKING_KEY`), so that the message can be reported like any other.

    >>> plaintext_commitment(b"hi") == commit(b"hi", PLAINTEXT_FRANKING_KEY)[1]
    True
    """
    return commit(message, PLAINTEXT_FRANKING_KEY)[1]


def _context(commitment: bytes, sender: str, recipient: str, timestamp: float) -> bytes:
    """What the platform's tag covers.  The time is bound as a float (:func:`as_seconds`),
    so ``1704704400`` and ``1704704400.0`` -- the same time, one stored in SQLite
    ``REAL`` -- give the same tag."""
    return json.dumps(
        {"commitment": commitment.hex(), "recipient": recipient, "sender": sender, "timestamp": as_seconds(timestamp)},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


@dataclass(frozen=True)
class Franked:
    """What the platform relays beside a ciphertext: the commitment, the context, its tag.

    ``timestamp`` is when the *platform* received the message (its own clock),
    not the time the sender's device claims: a report proves when the
    platform relayed the message, which a sender cannot back-date.
    """

    commitment: bytes
    sender: str
    recipient: str
    timestamp: float
    tag: bytes


@dataclass(frozen=True)
class Report:
    """What a recipient sends to report a message."""

    message: bytes
    franking_key: bytes
    franked: Franked


class FrankingService:
    """The platform's side: tags relayed commitments, verifies reports.

    >>> service = FrankingService()
    >>> nf, c = commit(b"abusive text")
    >>> franked = service.tag(c, "mallory", "alice", 1000.0)
    >>> service.verify(Report(b"abusive text", nf, franked))
    b'abusive text'
    """

    def __init__(self, key: bytes | None = None) -> None:
        self._key = secrets.token_bytes(32) if key is None else key
        self._reported: set[bytes] = set()

    def tag(self, commitment: bytes, sender: str, recipient: str, timestamp: float) -> Franked:
        """Bind a commitment to who sent it to whom, and when the platform received it (done while relaying)."""
        return Franked(
            commitment,
            sender,
            recipient,
            timestamp,
            _hmac(self._key, _context(commitment, sender, recipient, timestamp)),
        )

    def remember_reported(self, tag: bytes) -> None:
        """Count the message with this platform ``tag`` as reported (a platform restoring its
        reports after a restart), so :meth:`verify` with ``once=True`` refuses it again."""
        self._reported.add(bytes(tag))

    def forget_reported(self, tag: bytes) -> None:
        """Undo :meth:`remember_reported` (a report the platform could not keep after all)."""
        self._reported.discard(bytes(tag))

    def verify(self, report: Report, *, once: bool = False) -> bytes:
        """Return the reported message if the report is genuine; raise :class:`ForgedReport` if not.

        With ``once=True`` a second report of the same message raises
        :class:`ReplayedMessage` (one report per message).
        """
        f = report.franked
        sizes = (
            (report.franking_key, "franking key", FRANKING_KEY_SIZE),
            (f.commitment, "commitment", COMMITMENT_SIZE),
            (f.tag, "tag", COMMITMENT_SIZE),
        )
        for value, what, size in sizes:
            if not isinstance(value, bytes) or len(value) != size:
                # HMAC pads a short key with zero bytes, so only an exact length makes a key unique
                raise ForgedReport(f"the report's {what} must be {size} bytes: the report was altered.")
        if not isinstance(report.message, bytes):
            raise ForgedReport("the reported message must be bytes.")
        try:
            expected = _hmac(self._key, _context(f.commitment, f.sender, f.recipient, f.timestamp))
        except TimestampOutOfRange as exc:
            raise ForgedReport(f"the report's time is impossible: {exc}") from None
        if not hmac.compare_digest(expected, f.tag):
            raise ForgedReport(
                "the report's platform tag does not match its sender, recipient, time and commitment: "
                "the context was altered, or this message never passed through the platform."
            )
        if not hmac.compare_digest(_hmac(report.franking_key, report.message), f.commitment):
            raise ForgedReport(
                "the reported text (or franking key) does not match the commitment the sender made: "
                "the message was altered after it was sent."
            )
        if once:
            if f.tag in self._reported:
                raise ReplayedMessage("this message has already been reported once.")
            self._reported.add(f.tag)
        return report.message


def salamander_simulation() -> dict[str, object]:
    """A *simulation* of the invisible-salamanders attack, with two keys.

    With a non-committing cipher, one ciphertext can decrypt validly under two
    keys to two messages (Dodis et al., 2018; see references:
    docs/references.md#dodis2018).  Building such a
    ciphertext takes algebra on the cipher's authenticator, so here we
    *simulate* the cipher's behaviour with a table — one ciphertext, two keys,
    two plaintexts — and show what each franking design does with it:

    * franking that trusts the AEAD (the platform sees only the ciphertext and
      whatever key the reporter sends) verifies the *innocent* message while the
      recipient saw the abusive one: the abuse cannot be reported;
    * franking with a separate HMAC commitment to the plaintext catches the
      switch, because a commitment opens to only one message.
    """
    ciphertext = b"\x8f" * 16
    seen_by = {  # what the one ciphertext decrypts to under each key (simulated)
        "key the recipient was given": b"abusive image",
        "key the sender shows the platform": b"harmless picture",
    }
    nf, commitment = commit(seen_by["key the recipient was given"])
    service = FrankingService()
    franked = service.tag(commitment, "mallory", "alice", 0.0)
    try:
        service.verify(Report(seen_by["key the sender shows the platform"], nf, franked))
        committing = "accepted (the commitment failed to bind)"
    except ForgedReport:
        committing = "rejected: the HMAC commitment opens only to the message actually sent"
    return {
        "ciphertext": ciphertext.hex(),
        "recipient decrypts": seen_by["key the recipient was given"].decode(),
        "moderator decrypts with the other key": seen_by["key the sender shows the platform"].decode(),
        "franking on the non-committing AEAD": "the moderator sees the harmless picture: abuse unreportable",
        "franking with an HMAC commitment": committing,
    }
