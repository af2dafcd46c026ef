"""Sessions: how a device seals its messages to one contact and opens theirs.

A :class:`~toychat.client.Client` does not encrypt by itself: it asks a
:class:`Session` to :meth:`~Session.seal` the bytes of a message, and puts
what comes back (nonce, payload, extra fields) in a signed envelope; on the way
in, it checks the envelope and asks a session to :meth:`~Session.open` it.
Three kinds of session exist:

* :class:`PlaintextSession`: the plaintext platform; the payload is the text.
* :class:`BoxSession`: one static :class:`nacl.public.Box` per pair of keys
  (lessons 03-04): the same key encrypts every message.
* :class:`RatchetSession`: a Double Ratchet (:mod:`toychat.ratchet`, lesson 05):
  a new key per message, so a stolen phone does not open past messages.

Message franking (lesson 08) is not a fourth kind but a layer,
:class:`FrankedSession`, around whichever session an E2EE message uses.

Opening never changes a session: :meth:`Session.open` decrypts on a trial
copy and returns :attr:`Opened.keep`, which the client calls only once every
other check on the message has passed, so a refused message moves nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import nacl.exceptions
import nacl.public
import nacl.utils

from .errors import MalformedEnvelope, TamperedMessage, ToyChatError, UnreportableMessage
from .franking import FRANKING_FIELD, FRANKING_KEY_SIZE, commit, decode_commitment
from .frozen import build
from .keys import Identity, PublicIdentity
from .ratchet import DoubleRatchet, Header, RatchetSnapshot, initiator_secret, responder_secret
from .wire import NONCE_SIZE, Envelope, b64_text, read_base64

__all__ = [
    "EPHEMERAL_FIELD",
    "RATCHET_FIELD",
    "BoxSession",
    "CannotDecrypt",
    "FrankedSession",
    "Opened",
    "PlaintextSession",
    "RatchetSession",
    "Sealed",
    "Session",
    "associated_data",
]

#: Envelope extras used by forward-secrecy sessions: the ratchet header, and the
#: initiator's ephemeral key (until the contact replies).
RATCHET_FIELD = "ratchet"
EPHEMERAL_FIELD = "ephemeral"


def associated_data(sender: str, recipient: str) -> bytes:
    """Associated data binding a ratchet message to its sender and recipient."""
    return f"{sender}->{recipient}".encode()


def _b64_field(envelope: Envelope, name: str, size: int) -> bytes:
    """``extras[name]`` decoded: canonical base64 of exactly ``size`` bytes, or :class:`MalformedEnvelope`.
    (Checked as the envelope's own base64 fields are, by :func:`toychat.wire.read_base64`: nothing encoded again.)"""
    data = read_base64(envelope.extras[name])
    if data is None or len(data) != size:
        raise MalformedEnvelope(
            f"message {envelope.short_id} has a malformed {name!r} field (not {size} bytes in canonical base64)."
        )
    return data


def _keep_nothing() -> None:
    """What accepting a message changes in a session without state: nothing."""


@dataclass(frozen=True)
class Sealed:
    """What :meth:`Session.seal` returns: the envelope's nonce and payload, and fields to add to its extras."""

    nonce: bytes
    payload: bytes
    extras: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Opened:
    """What :meth:`Session.open` returns: the plaintext, and the function that keeps the
    session's new state (call it only once every other check has passed)."""

    data: bytes
    keep: Callable[[], None] = _keep_nothing
    franking_key: bytes = b""


class CannotDecrypt(TamperedMessage):
    """A correctly signed message this session cannot decrypt; :attr:`what` says why.

    The client names it for the user: :class:`~toychat.errors.TamperedMessage`,
    or :class:`~toychat.errors.SentToPreviousKeys` if it was sent before the
    device made its keys.
    """

    def __init__(self, envelope: Envelope, what: str) -> None:
        super().__init__(f"message {envelope.short_id} {what} It was not delivered.")
        self.what = what


class Session(Protocol):
    """One contact's end of a conversation on this device."""

    def seal(self, data: bytes) -> Sealed:
        """Encrypt ``data`` (the message's bytes) for the contact."""
        ...

    def open(self, envelope: Envelope) -> Opened:
        """Decrypt a signed, checked envelope from the contact, without changing the session.

        Raises :class:`CannotDecrypt`, or another :class:`~toychat.errors.ToyChatError`
        for a malformed or replayed message.
        """
        ...


class PlaintextSession:
    """The plaintext platform: the payload is the message (only the transport is encrypted).

    >>> session = PlaintextSession()
    >>> session.seal(b"hi")
    Sealed(nonce=b'', payload=b'hi', extras={})
    """

    def seal(self, data: bytes) -> Sealed:
        return Sealed(b"", data)

    def open(self, envelope: Envelope) -> Opened:
        return Opened(envelope.payload)


class BoxSession:
    """Static keys (lessons 03-04): one :class:`nacl.public.Box` between our key and the contact's.

    The same key encrypts every message in both directions, so a stolen key
    opens all of them; a random 24-byte nonce is sent with each message.
    """

    def __init__(self, identity: Identity, contact: PublicIdentity) -> None:
        self.box = nacl.public.Box(identity.box_private, contact.box_key)

    def seal(self, data: bytes) -> Sealed:
        nonce = nacl.utils.random(NONCE_SIZE)
        return build(Sealed, nonce=nonce, payload=self.box.encrypt(data, nonce).ciphertext, extras={})

    def open(self, envelope: Envelope) -> Opened:
        try:
            data = self.box.decrypt(envelope.payload, envelope.nonce)
        except nacl.exceptions.CryptoError:
            raise CannotDecrypt(
                envelope,
                "failed decryption: its authentication tag does not match, so the ciphertext was altered "
                "or encrypted for someone else.",
            ) from None
        return build(Opened, data=data, keep=_keep_nothing, franking_key=b"")


#: Older forward-secrecy states kept per contact beside the current one (Signal keeps up to 40).
MAX_ARCHIVED = 5


@dataclass
class _State:
    """One Double Ratchet state with a contact, and the contact's ephemeral key that started it
    (``None`` for a state this phone started itself)."""

    ratchet: DoubleRatchet
    started_with: bytes | None

    def takes(self, ephemeral: bytes | None) -> bool:
        """Whether a message carrying ``ephemeral`` (or none) can belong to this state: a
        message that starts a session belongs only to the state its ephemeral key started."""
        return ephemeral is None or ephemeral == self.started_with


class RatchetSession:
    """Forward secrecy (lesson 05): a :class:`~toychat.ratchet.DoubleRatchet` with one contact.

    Start one with :meth:`initiate` to send first; the contact's first message
    starts one on their side (an unstarted session, ``ratchet=None``, is started
    by :meth:`open` from the message's ephemeral key).  The initiator's
    ephemeral key travels with every message until the contact replies.

    Like Signal, a session keeps up to :data:`MAX_ARCHIVED` older states beside
    the current one and opens a message with whichever state it belongs to; the
    state that opened the latest message becomes current (the one used to send).
    So two first messages that cross (both sides start at once) and a contact
    who starts again (a restarted kernel that reloaded its keys, with no
    sessions) each start a new state, and no message is lost.
    """

    def __init__(
        self,
        identity: Identity,
        contact: str,
        keys: PublicIdentity,
        ratchet: DoubleRatchet | None = None,
        *,
        ephemeral: bytes | None = None,
    ) -> None:
        self.identity = identity
        self.contact = contact
        self.keys = keys
        #: The Double Ratchet state; ``None`` until the session starts.
        self.ratchet = ratchet
        #: The ephemeral key sent with messages until the contact replies (initiator only).
        self.ephemeral = ephemeral
        #: The ephemeral key that started this session (responder only).
        self.started_with: bytes | None = None
        #: Older states, newest first (see the class description).
        self.archived: list[_State] = []
        #: The associated data of messages to and from the contact (:func:`associated_data`), made once.
        self._sending_associated = associated_data(identity.name, contact)
        self._receiving_associated = associated_data(contact, identity.name)
        #: The last ephemeral key written and read as base64, with its text: the same key travels
        #: with every message until the contact replies, so it is encoded and checked once, not per message.
        self._ephemeral_sent: tuple[bytes, str] | None = None
        self._ephemeral_read: tuple[str, bytes] | None = None

    @classmethod
    def initiate(cls, identity: Identity, contact: str, keys: PublicIdentity) -> RatchetSession:
        """A session that sends first: a fresh ephemeral key agreed with the contact's identity key."""
        secret, ephemeral = initiator_secret(identity, keys)
        return cls(identity, contact, keys, DoubleRatchet.initiator(secret, keys.encryption_key), ephemeral=ephemeral)

    def seal(self, data: bytes) -> Sealed:
        if self.ratchet is None:
            raise ToyChatError("this side cannot send yet: the responder must receive a first message.")
        _header, header_bytes, nonce, ciphertext = self.ratchet.encrypt_parts(data, self._sending_associated)
        extras = {RATCHET_FIELD: b64_text(header_bytes)}
        ephemeral = self.ephemeral
        if ephemeral is not None:
            if self._ephemeral_sent is None or self._ephemeral_sent[0] != ephemeral:
                self._ephemeral_sent = (ephemeral, b64_text(ephemeral))
            extras[EPHEMERAL_FIELD] = self._ephemeral_sent[1]
        return build(Sealed, nonce=nonce, payload=ciphertext, extras=extras)

    def _ephemeral_in(self, envelope: Envelope) -> bytes | None:
        """The ephemeral key an envelope carries (checked as :func:`_b64_field` checks it), or ``None``;
        the text read last time is not decoded and checked again."""
        text = envelope.extras.get(EPHEMERAL_FIELD)
        if text is None:
            return None
        if self._ephemeral_read is None or self._ephemeral_read[0] != text:
            self._ephemeral_read = (text, _b64_field(envelope, EPHEMERAL_FIELD, 32))
        return self._ephemeral_read[1]

    def _states(self) -> list[_State]:
        """The current state (if started), then the archived ones."""
        current = [] if self.ratchet is None else [_State(self.ratchet, self.started_with)]
        return current + self.archived

    def open(self, envelope: Envelope) -> Opened:
        """Decrypt on a trial copy of the state the message belongs to; :attr:`Opened.keep`
        takes over the new state (so a refused message creates or moves no session)."""
        header = Header.from_bytes(_b64_field(envelope, RATCHET_FIELD, Header.SIZE))
        ephemeral = self._ephemeral_in(envelope)
        associated, nonce, payload = self._receiving_associated, envelope.nonce, envelope.payload
        first_error: ToyChatError | None = None
        current = self.ratchet
        if current is not None and (ephemeral is None or ephemeral == self.started_with):
            # The usual case: the current state takes the message, and is tried first (as in the loop
            # below), without listing the states.
            try:
                plaintext, trial = current.trial_decrypt(header, payload, associated, nonce=nonce)
            except ToyChatError as exc:
                first_error = exc
            else:
                keep = self._keeper(current, self.started_with, trial)
                return build(Opened, data=plaintext, keep=keep, franking_key=b"")
        states = self._states()
        candidates = [state for state in states if state.takes(ephemeral)]
        if ephemeral is not None and ephemeral not in [state.started_with for state in states]:
            secret = responder_secret(self.identity, self.keys, ephemeral)  # a new first message
            candidates.append(_State(DoubleRatchet.responder(secret, self.identity.box_private), ephemeral))
        if not candidates:
            raise CannotDecrypt(
                envelope,
                "continues a forward-secrecy session this phone does not have (its first message was lost, "
                "or the phone was reset).",
            )
        for state in candidates:
            if first_error is not None and state.ratchet is current:
                continue  # tried above
            try:
                plaintext, trial = state.ratchet.trial_decrypt(header, payload, associated, nonce=nonce)
            except ToyChatError as exc:
                first_error = first_error or exc
                continue
            keep = self._keeper(state.ratchet, state.started_with, trial)
            return build(Opened, data=plaintext, keep=keep, franking_key=b"")
        if isinstance(first_error, TamperedMessage):
            raise CannotDecrypt(envelope, str(first_error)) from None
        assert first_error is not None
        raise first_error

    def _keeper(self, ratchet: DoubleRatchet, started_with: bytes | None, trial: DoubleRatchet) -> Callable[[], None]:
        """What accepting a message opened by the state ``ratchet`` (which ``started_with`` started)
        changes: its new ratchet state, which becomes current (the one sent with); the current one,
        if another, is archived."""

        def keep() -> None:
            if ratchet is self.ratchet:  # the current state opened it: it stays current
                ratchet.adopt(trial)
                self.ephemeral = None  # as below
                return
            states = self._states()
            if any(s.ratchet is ratchet for s in states):
                ratchet.adopt(trial)
                chosen = ratchet
            else:  # a new first message from the contact started this state
                chosen = trial
            self.archived = [s for s in states if s.ratchet is not ratchet][:MAX_ARCHIVED]
            self.ratchet, self.started_with = chosen, started_with
            self.ephemeral = None  # they have replied (or started themselves): the session is established

        return keep

    def snapshot(self) -> RatchetSnapshot:
        """Every secret of this session now: what stealing the phone yields (:meth:`DoubleRatchet.snapshot`)."""
        if self.ratchet is None:
            raise ToyChatError(f"the forward-secrecy session with {self.contact!r} has not started.")
        return self.ratchet.snapshot()


@dataclass(frozen=True)
class FrankedSession:
    """Message franking (lesson 08) around another session, for E2EE messages.

    Sealing (when ``required``, i.e. the platform runs franking) commits to the
    plaintext: the franking key travels inside the encryption, the commitment
    beside it.  Opening decodes the commitment *before* decrypting and checks it
    after; a message without one is refused when ``required``
    (:class:`~toychat.errors.UnreportableMessage`): it could not be reported.
    """

    inner: Session
    required: bool

    def seal(self, data: bytes) -> Sealed:
        if not self.required:
            return self.inner.seal(data)
        franking_key, commitment = commit(data)
        sealed = self.inner.seal(franking_key + data)
        extras = {FRANKING_FIELD: b64_text(commitment), **sealed.extras}
        return Sealed(sealed.nonce, sealed.payload, extras)

    def open(self, envelope: Envelope) -> Opened:
        commitment = self._commitment(envelope)
        opened = self.inner.open(envelope)
        if commitment is None:
            return opened
        franking_key, data = opened.data[:FRANKING_KEY_SIZE], opened.data[FRANKING_KEY_SIZE:]
        if len(franking_key) != FRANKING_KEY_SIZE or commit(data, franking_key)[1] != commitment:
            raise TamperedMessage(
                f"message {envelope.short_id} does not match its franking commitment, so it could "
                "not be reported: refused."
            )
        return Opened(data, opened.keep, franking_key)

    def _commitment(self, envelope: Envelope) -> bytes | None:
        """The envelope's franking commitment (strictly decoded), or ``None`` if it has none and none is required."""
        if FRANKING_FIELD not in envelope.extras:
            if self.required:
                raise UnreportableMessage(
                    f"message {envelope.short_id} from {envelope.sender!r} carries no franking commitment, "
                    "so it could not be reported; this platform runs message franking, so it was refused."
                )
            return None
        try:
            return decode_commitment(envelope.extras[FRANKING_FIELD])
        except MalformedEnvelope as exc:
            raise MalformedEnvelope(f"message {envelope.short_id}: {exc}") from None
