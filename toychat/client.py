"""A user's device: keys, contacts, sending, receiving.

A :class:`Client` holds its user's private :class:`~toychat.keys.Identity`,
registers the public half with the server, and then::

    >>> from toychat import Server, Client
    >>> server = Server(mode="e2ee")
    >>> alice, bob = Client("alice", server), Client("bob", server)
    >>> _ = alice.send("bob", "hello Bob")
    >>> [m.text for m in bob.receive()]
    ['hello Bob']

On the E2EE platform the text is encrypted with :class:`nacl.public.Box`
(X25519 key agreement, then XSalsa20-Poly1305) between the sender's and the
recipient's keys; on the plaintext platform it is sent as text and only the
transport is encrypted.  Either way the whole envelope is signed with the
sender's Ed25519 key, and the recipient checks, in this order: the envelope's
format, that it is addressed to them, the sender's keys, the signature, that
it is not a replay, its content type and franking commitment, and the
decryption.  Each failure raises its own :class:`~toychat.errors.ToyChatError`
for that one message (a cryptographic library error included), and nothing
changes on the device until every check has passed.  :meth:`Client.receive`
tells the server how many fetched messages it handled, so a device that
crashes mid-batch gets the rest again.

What this simplifies compared with Signal
-----------------------------------------
* Keys are static: the same Box key encrypts every message between two
  people, so a stolen key opens all of them.  Signal's Double Ratchet derives
  a new key per message (forward secrecy); lesson 05 adds a ratchet.
* The contact's keys are fetched from the server and trusted on first use;
  Signal does the same but shows safety numbers to compare (lesson 04).
* Envelopes are signed (non-repudiable); Signal messages are deniable.
* One device per user, no groups, no attachments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import nacl.exceptions

from .clock import Clock, real_clock
from .errors import (
    MalformedEnvelope,
    MisaddressedMessage,
    ReplayedMessage,
    SentToPreviousKeys,
    ServiceUnavailable,
    TamperedMessage,
    ToyChatError,
    UnknownSender,
    UnknownUser,
)
from .franking import FRANKING_FIELD, PLAINTEXT_FRANKING_KEY
from .frozen import build
from .keys import Identity, PublicIdentity, safety_number
from .protocols import ServerAPI
from .sessions import (
    RATCHET_FIELD,
    BoxSession,
    CannotDecrypt,
    FrankedSession,
    PlaintextSession,
    RatchetSession,
    Session,
)
from .wire import WIRE_VERSION, Envelope, Mode, new_msg_id

__all__ = ["Client", "ReceivedMessage", "Rejected", "TEXT", "CONTENT_TYPES"]

#: A function run on each outgoing message before encryption:
#: ``hook(sender, recipient, content_type, plaintext_bytes)``.
OutgoingHook = Callable[[str, str, str, bytes], None]

#: The one session of the plaintext platform: it has no keys and no state.
_PLAINTEXT = PlaintextSession()


#: The content types a message may carry (``extras["type"]``; text if absent).
TEXT = "text/plain"
CONTENT_TYPES = (TEXT, "image/png")


@dataclass(frozen=True)
class ReceivedMessage:
    """A message that passed every check and was decrypted."""

    msg_id: str
    sender: str
    recipient: str
    sent_at: float
    text: str
    mode: Mode
    content_type: str = TEXT
    data: bytes = b""
    franking_key: bytes = b""


@dataclass(frozen=True)
class Rejected:
    """A message the device refused, with the reason."""

    error: ToyChatError
    record: bytes


class Client:
    """One user's device on the toy platform.

    Parameters
    ----------
    name:
        The user name to register.
    server:
        The server to register with and relay through: anything that provides
        :class:`~toychat.protocols.ServerAPI` (the in-process
        :class:`~toychat.server.Server` and its dishonest variants, or the
        classroom relay's :class:`~toychat.relay.client.RemoteServer`).
    identity:
        The user's keys; default: fresh random keys (:meth:`Identity.generate`).
    clock:
        Where timestamps come from; default: the server's clock.
    require_signed_devices:
        Refuse to encrypt to a contact's extra device unless the contact's
        identity key signed it (default ``True``; see :mod:`toychat.devices`).
    show_device_notices:
        Tell the user when a contact's device list grows (default ``True``).
        The "ghost" proposal needs both switched off (lesson 04).
    outgoing_hooks:
        Callables run on every outgoing message *before* it is encrypted,
        as ``hook(sender, recipient, content_type, data)``: this is where
        client-side scanning plugs in (:mod:`toychat.scanning`, lesson 07).
        A hook sees the plaintext; what it does with it is up to whoever
        wrote it — which is the point of the debate.
    forward_secrecy:
        Encrypt with a Double Ratchet per contact (:mod:`toychat.ratchet`)
        instead of one static ``Box`` key, so a stolen phone does not open
        past messages (lesson 05).  Receiving ratchet messages always works.
    """

    def __init__(
        self,
        name: str,
        server: ServerAPI,
        *,
        identity: Identity | None = None,
        clock: Clock | None = None,
        require_signed_devices: bool = True,
        show_device_notices: bool = True,
        forward_secrecy: bool = False,
        outgoing_hooks: list[OutgoingHook] | None = None,
    ) -> None:
        self.identity = identity if identity is not None else Identity.generate(name)
        if self.identity.name != name:
            raise ValueError(f"the identity is {self.identity.name!r}'s, not {name!r}'s")
        self.name = name
        self.server = server
        self.clock: Clock = clock if clock is not None else server.clock
        self.contacts: dict[str, PublicIdentity] = {}
        self.inbox: list[ReceivedMessage] = []
        self.sent: list[Envelope] = []
        self.rejected: list[Rejected] = []
        self.notices: list[str] = []
        self.require_signed_devices = require_signed_devices
        self.show_device_notices = show_device_notices
        self._devices: dict[str, list[tuple[str, PublicIdentity]]] = {}
        self.forward_secrecy = forward_secrecy
        self.outgoing_hooks: list[OutgoingHook] = list(outgoing_hooks or [])
        #: The forward-secrecy session with each contact who has one (see :mod:`toychat.sessions`).
        self.sessions: dict[str, RatchetSession] = {}
        self._boxes: dict[tuple[str, bytes], BoxSession] = {}
        self._seen: set[str] = set()
        #: Envelopes whose sending failed unreachable, by (recipient, type, bytes, extras): sent
        #: again, not composed anew, when the same message is sent again (see :meth:`send`).
        self._unconfirmed: dict[tuple[str, str, bytes, tuple[tuple[str, str], ...]], list[Envelope]] = {}
        #: When this device made its keys, on the real clock (``None`` if the keys were
        #: given, or the clock is simulated): a message sent earlier that does not decrypt
        #: was sent to the user's previous keys (:class:`SentToPreviousKeys`).
        self.keys_made_at: float | None = real_clock() if identity is None and self.clock is real_clock else None
        server.register(self.identity.public)
        self.channel = server.connect(name)

    @property
    def public(self) -> PublicIdentity:
        """This device's published keys."""
        return self.identity.public

    @property
    def mode(self) -> Mode:
        """The platform this device is on: ``"e2ee"`` or ``"plaintext"``."""
        return self.server.mode

    # ---- contacts --------------------------------------------------------------
    def lookup(self, name: str) -> PublicIdentity:
        """A contact's keys: from the local address book, or asked of the server
        on first use (and remembered: *trust on first use*)."""
        if name not in self.contacts:
            self.contacts[name] = self.server.lookup_for(self.name, name)
        return self.contacts[name]

    def safety_number(self, name: str) -> str:
        """The 60-digit safety number this phone shows for the conversation with ``name``:
        computed from *our* keys and the keys *this phone holds* for them.

        Two people compare the numbers their phones show (in person, or over
        another channel); if the numbers differ, one of the phones holds a key
        that is not the other person's.
        """
        return safety_number(self.public, self.lookup(name))

    def devices_of(self, name: str) -> list[tuple[str, PublicIdentity]]:
        """Every (label, keys) a message to ``name`` is encrypted to: their main
        phone (label ``"main"``) and any extra devices the directory lists.

        Extra devices must carry a certificate signed by ``name``'s identity
        key (unless ``require_signed_devices`` is off), and a device that was
        not on the list last time produces a notice in :attr:`notices`
        (unless ``show_device_notices`` is off).
        """
        owner = self.lookup(name)
        extras: list[tuple[str, PublicIdentity]] = []
        for certificate in self.server.extra_devices_for(self.name, name):
            device = certificate.verify(owner) if self.require_signed_devices else certificate.device
            extras.append((certificate.label, device))
        previous = self._devices.get(name, [])
        for label, device in extras:
            if (label, device) not in previous and self.show_device_notices:
                self.notices.append(
                    f"{name} has a new device {label!r} (fingerprint {device.fingerprint[:19]}…). "
                    "If they did not add it, someone else may be reading your messages to them."
                )
        self._devices[name] = extras
        return [("main", owner), *extras]

    # ---- sessions ------------------------------------------------------------------
    def _box_session(self, name: str, device: PublicIdentity | None = None) -> BoxSession:
        """The static-key session with ``name``'s main phone, or with the keys ``device``
        (one of their extra devices, or a first contact's keys not yet kept in :attr:`contacts`)."""
        keys = device if device is not None else self.lookup(name)
        cache_key = (name, keys.encryption_key)
        if cache_key not in self._boxes:
            self._boxes[cache_key] = BoxSession(self.identity, keys)
        return self._boxes[cache_key]

    def _franked(self, session: Session, envelope: Envelope | None = None) -> Session:
        """``session`` inside the message-franking layer, which the platform requires or not;
        to open ``envelope``, or to seal if none is given.

        Where the platform does not require franking, the layer seals as ``session`` does and
        opens a message without a commitment as ``session`` does, so then ``session`` itself is
        returned (one wrapper less per message, issue 31); a commitment is always checked.
        """
        required = self.server.franking is not None
        if not required and (envelope is None or FRANKING_FIELD not in envelope.extras):
            return session
        return FrankedSession(session, required=required)

    def _sending_session(
        self, recipient: str, contact: PublicIdentity, device: PublicIdentity | None, mode: Mode
    ) -> Session:
        """The session that seals messages to ``recipient`` (or to one of their extra devices, ``device``),
        whose keys this device holds (``contact``, as :meth:`lookup` gave them), on platform ``mode``.

        Chosen by the platform and :attr:`forward_secrecy`, and kept per contact:
        plaintext, a static ``Box``, or a Double Ratchet started on first use; on
        E2EE, inside the franking layer.
        """
        if mode != "e2ee":
            return _PLAINTEXT
        if not self.forward_secrecy:
            return self._franked(self._box_session(recipient, device if device is not None else contact))
        if device is not None:
            raise ToyChatError("the toy's forward-secrecy sessions do not support extra devices.")
        session = self.sessions.get(recipient)
        if session is None:
            session = self.sessions[recipient] = RatchetSession.initiate(self.identity, recipient, contact)
        return self._franked(session)

    def _opening_session(self, envelope: Envelope, sender: PublicIdentity) -> tuple[Session, Callable[[], None] | None]:
        """The session that opens ``envelope``, and what registers it on this device once the message is
        accepted (``None`` for a session the device already has: nothing to register).

        Chosen by what the envelope carries, since a contact may seal with either
        kind whatever this device sends with: a ratchet header opens with the
        sender's forward-secrecy session (a new, unregistered one for a first
        message), anything else on E2EE with the static ``Box``.
        """
        if envelope.mode != "e2ee":
            return _PLAINTEXT, None
        if RATCHET_FIELD not in envelope.extras:
            return self._franked(self._box_session(envelope.sender, sender), envelope), None
        session = self.sessions.get(envelope.sender)
        if session is not None:
            return self._franked(session, envelope), None
        new = RatchetSession(self.identity, envelope.sender, sender)

        def register() -> None:
            self.sessions[envelope.sender] = new

        return self._franked(new, envelope), register

    # ---- sending -----------------------------------------------------------------
    def compose(
        self,
        recipient: str,
        text: str | bytes,
        *,
        extras: dict[str, str] | None = None,
        device: PublicIdentity | None = None,
        content_type: str = TEXT,
    ) -> Envelope:
        """Build, encrypt (on E2EE) and sign an envelope, without sending it.

        ``text`` is the message: a ``str``, or ``bytes`` with a
        ``content_type`` such as ``"image/png"`` (see
        :func:`toychat.images.encode_png`).  ``device`` encrypts to one of the
        recipient's extra devices instead of their main phone (see
        :meth:`devices_of`).
        """
        if content_type not in CONTENT_TYPES:
            raise ValueError(f"content_type must be one of {CONTENT_TYPES}, not {content_type!r}")
        if content_type == TEXT and not isinstance(text, str):
            raise TypeError(f"a text message is a str, not {type(text).__name__}")
        if content_type != TEXT and not isinstance(text, (bytes, bytearray)):
            raise TypeError(f"a {content_type} message is bytes, not {type(text).__name__}")
        contact = self.lookup(recipient)
        mode = self.server.mode  # self.mode, read once
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        extras = dict(extras or {})
        if content_type != TEXT:
            extras["type"] = content_type
        sealed = self._sending_session(recipient, contact, device, mode).seal(data)
        envelope = build(  # Envelope(...): its checks, without its frozen setters (issue 31)
            Envelope,
            msg_id=new_msg_id(),
            mode=mode,
            sender=self.name,
            recipient=recipient,
            timestamp=self.clock(),
            nonce=sealed.nonce,
            payload=sealed.payload,
            extras={**extras, **sealed.extras},
            signature=b"",
            version=WIRE_VERSION,
        )
        signature = self.identity.signing_private.sign(envelope.signed_bytes()).signature
        return envelope.with_signature(signature)

    def send(
        self,
        recipient: str,
        text: str | bytes,
        *,
        extras: dict[str, str] | None = None,
        content_type: str = TEXT,
    ) -> Envelope:
        """Send ``text`` to ``recipient``'s main phone (and, encrypted separately,
        to each of their extra devices); returns the envelope for the main phone.

        ``text`` may be ``bytes`` with a ``content_type`` such as ``"image/png"``.

        If the server cannot be reached (:class:`ServiceUnavailable`), the message
        may still have arrived (a relay that stored it, then went down before
        answering).  So the envelopes not confirmed are kept, and calling
        ``send`` again with the same message sends *those same envelopes* again:
        the platform refuses a second copy of one message id, so the recipient
        never gets it twice.
        """
        if not isinstance(text, (str, bytes, bytearray)):
            raise TypeError(f"a message is a str (text) or bytes (a picture), not {type(text).__name__}")
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        # the key of an unconfirmed message: built only when one is kept (hashing the whole
        # message for every send was a measurable part of sending one, issue 31)
        key = None
        envelopes = None
        if self._unconfirmed:
            key = self._unconfirmed_key(recipient, content_type, data, extras)
            envelopes = self._unconfirmed.pop(key, None)
        retry = envelopes is not None
        if envelopes is None:
            for hook in self.outgoing_hooks:
                hook(self.name, recipient, content_type, data)
            envelopes = self._compose_for_devices(recipient, text, extras, content_type)
        for position, envelope in enumerate(envelopes):
            try:
                self._submit(envelope, retry=retry)
            except ServiceUnavailable as exc:
                if key is None:
                    key = self._unconfirmed_key(recipient, content_type, data, extras)
                self._unconfirmed[key] = envelopes[position:]
                exc.add_note(
                    "The message may have arrived anyway. Call send() again with the same message once the "
                    "server is back: it sends the same envelope again, which is never delivered twice."
                )
                raise
            self.sent.append(envelope)
        return envelopes[0]

    @staticmethod
    def _unconfirmed_key(
        recipient: str, content_type: str, data: bytes, extras: dict[str, str] | None
    ) -> tuple[str, str, bytes, tuple[tuple[str, str], ...]]:
        """How :attr:`_unconfirmed` knows a message sent again: recipient, type, bytes and extras."""
        return (recipient, content_type, data, tuple(sorted((extras or {}).items())))

    def _compose_for_devices(
        self, recipient: str, text: str | bytes, extras: dict[str, str] | None, content_type: str
    ) -> list[Envelope]:
        """One signed envelope for each of ``recipient``'s devices, the main phone first."""
        devices = self.devices_of(recipient) if self.server.mode == "e2ee" else [("main", self.lookup(recipient))]
        envelopes = []
        for label, keys in devices:
            fields = dict(extras or {})
            if label != "main":
                fields["device"] = label
            envelopes.append(
                self.compose(
                    recipient, text, extras=fields, device=None if label == "main" else keys, content_type=content_type
                )
            )
        return envelopes

    def _submit(self, envelope: Envelope, *, retry: bool) -> None:
        """Submit one envelope; on a ``retry``, the server's :class:`ReplayedMessage` means the
        first attempt had arrived after all (its id is taken by this very envelope): done."""
        try:
            self.submit_raw(envelope.to_bytes())
        except ReplayedMessage:
            if not retry:
                raise

    def submit_raw(self, raw: bytes) -> str:
        """Send already-serialised envelope bytes through this device's connection.

        Lessons use it to show what the server does with altered bytes.
        """
        return self.server.submit(self.name, self.channel.seal(raw))

    # ---- receiving -----------------------------------------------------------------
    def open_envelope(self, data: bytes | Envelope) -> ReceivedMessage:
        """Check and decrypt one envelope addressed to this device.

        Raises :class:`MalformedEnvelope`, :class:`MisaddressedMessage`,
        :class:`UnknownSender`, :class:`TamperedMessage` (or its case
        :class:`SentToPreviousKeys`), :class:`ReplayedMessage` or
        :class:`UnreportableMessage`; on success the message id is remembered
        so a copy of it will be refused.  Every check runs before this device
        changes anything: a refused message leaves no trace (no ratchet
        session, no step of one).
        """
        envelope = data if isinstance(data, Envelope) else Envelope.from_bytes(data)
        if envelope.recipient != self.name:
            raise MisaddressedMessage(
                f"message {envelope.short_id} is addressed to {envelope.recipient!r}, not to "
                f"{self.name!r}; this device will not open it."
            )
        pinned = self.contacts.get(envelope.sender)
        try:
            # a first contact's keys are asked of the server, but kept (trusted on first use)
            # only once this message is accepted: a refused message pins nothing
            sender = pinned if pinned is not None else self.server.lookup_for(self.name, envelope.sender)
        except UnknownUser:
            raise UnknownSender(
                f"message {envelope.short_id} claims to be from {envelope.sender!r}, whom the "
                "key directory does not know, so it cannot be checked."
            ) from None
        envelope.check_signature(sender.verify_key, outcome="It was not delivered.")
        if envelope.msg_id in self._seen:
            raise ReplayedMessage(
                f"message {envelope.short_id} from {envelope.sender!r} was already delivered; "
                "this is a copy (a replay), so it was not shown again."
            )
        # An envelope is opened in the mode its sender signed, not the platform's mode now: a
        # message queued before the instructor switched modes still arrives (the server accepted
        # it in its mode; the wire ties a mode to its form, so the label cannot be swapped).
        content_type = envelope.extras.get("type", TEXT)
        if content_type not in CONTENT_TYPES:
            raise MalformedEnvelope(f"message {envelope.short_id} has an unknown content type {content_type!r}.")
        session, register = self._opening_session(envelope, sender)
        try:
            opened = session.open(envelope)  # changes nothing yet: see opened.keep below
        except CannotDecrypt as exc:
            raise self._undecryptable(envelope, exc.what) from None
        data_bytes = opened.data
        if content_type == TEXT:
            try:
                text = data_bytes.decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedEnvelope(f"message {envelope.short_id} is not valid UTF-8 text.") from None
        else:
            text = f"[{content_type}, {len(data_bytes)} bytes]"
        opened.keep()
        if register is not None:
            register()
        self.contacts.setdefault(envelope.sender, sender)
        self._seen.add(envelope.msg_id)
        return build(  # ReceivedMessage(...), without its frozen setters (issue 31)
            ReceivedMessage,
            msg_id=envelope.msg_id,
            sender=envelope.sender,
            recipient=envelope.recipient,
            sent_at=envelope.timestamp,
            text=text,
            mode=envelope.mode,
            content_type=content_type,
            data=data_bytes,
            franking_key=(
                PLAINTEXT_FRANKING_KEY
                if envelope.mode == "plaintext" and self._platform_franked(envelope)
                else opened.franking_key
            ),
        )

    def _platform_franked(self, envelope: Envelope) -> bool:
        """Whether a plaintext envelope was committed to by a franking platform itself (so
        reporting it sends :data:`~toychat.franking.PLAINTEXT_FRANKING_KEY`)."""
        return envelope.mode == "plaintext" and self.server.franking is not None

    def _undecryptable(self, envelope: Envelope, what: str) -> TamperedMessage:
        """The error for a correctly signed message this device cannot decrypt.

        The signature shows the sender made it as it is; if it was sent before
        this device's keys were made (:attr:`keys_made_at`), it was encrypted to
        this user's previous keys: :class:`SentToPreviousKeys`.
        """
        if self.keys_made_at is not None and envelope.timestamp < self.keys_made_at:
            return SentToPreviousKeys(
                f"message {envelope.short_id} from {envelope.sender!r} was sent to your previous keys: it "
                f"was sent before this device made its keys (a restarted kernel makes new ones), so it cannot "
                f"be decrypted here. Ask {envelope.sender!r} to send it again. To keep your keys across restarts, "
                "start with Identity.load_or_create(name, path) and pass identity= to Client."
            )
        return TamperedMessage(f"message {envelope.short_id} {what} It was not delivered.")

    def _open_record(self, record: bytes) -> ReceivedMessage:
        """One fetched record through the transport layer and :meth:`open_envelope`.
        A cryptographic library error that slipped past the checks is still a named
        refusal of this one message, never a crash of the whole batch."""
        try:
            return self.open_envelope(self.channel.open(record))
        except nacl.exceptions.CryptoError as exc:
            raise TamperedMessage(
                f"a message failed a cryptographic operation ({type(exc).__name__}): refused."
            ) from None

    def receive(self, *, strict: bool = True) -> list[ReceivedMessage]:
        """Fetch the mailbox, check every message, and return the good ones.

        Good messages always go to :attr:`inbox`, and refused ones (with the
        reason) to :attr:`rejected`, so nothing is lost silently.  With
        ``strict=True`` (the default) the first refusal is then raised, after
        the good messages have been kept.
        """
        delivered: list[ReceivedMessage] = []
        failures: list[ToyChatError] = []
        records = self.server.fetch(self.name)
        handled = 0
        try:
            for record in records:
                try:
                    message = self._open_record(record)
                except ServiceUnavailable:
                    # Opening needed the server (a first contact's keys) and it is gone: this
                    # message and the rest stay queued, and the error tells the learner to retry.
                    raise
                except ToyChatError as exc:
                    self.rejected.append(Rejected(exc, record))
                    failures.append(exc)
                else:
                    self.inbox.append(message)
                    delivered.append(message)
                handled += 1
        finally:
            # Tell the server how far this device got: anything after an unexpected
            # crash stays queued and is delivered next time, never lost.
            settle = getattr(self.server, "settle", None)
            if settle is not None:
                settle(self.name, handled)
        if failures and strict:
            error = failures[0]
            error.add_note(
                f"{len(delivered)} good message(s) were delivered to .inbox; "
                f"{len(failures)} refused message(s) are listed in .rejected."
            )
            raise error
        return delivered

    def __repr__(self) -> str:
        return f"Client({self.name!r}, mode={self.mode!r}, inbox={len(self.inbox)})"
