"""The relay server: a key directory, mailboxes, and a log of everything it sees.

The server runs one of two platforms:

* ``mode="plaintext"`` — a *plaintext platform*: messages are encrypted only in
  transit (a toy TLS, :mod:`toychat.transport`); the server removes that layer
  and stores and can read every message.  Facebook Messenger's default chats
  worked this way until December 2023 (see references: docs/references.md#meta2023).
* ``mode="e2ee"`` — *end-to-end encryption*: the payload is encrypted on the
  sender's device to the recipient's key; the server relays ciphertext it has
  no key for.  It still sees the metadata: who, to whom, when, how big.

:attr:`Server.log` records exactly what the server sees, message by message,
and :meth:`Server.log_table` shows it as a pandas table.

Safety tools plug in from outside: a *scanner* is any callable taking the
:class:`~toychat.wire.Envelope` the server received and returning a label (a
match) or ``None``; the server runs every scanner on every accepted message
and keeps the matches in :attr:`Server.flags`.  The server never imports the
scanning code itself.

Abuse reports (lesson 08): with a :class:`~toychat.franking.FrankingService`
the server tags every E2EE message it relays and verifies the reports
recipients send (:meth:`Server.receive_report`, and
:meth:`Server.receive_report_with_context` for WhatsApp-style context);
:meth:`Server.report_table` lists every message reports revealed.

What this simplifies compared with Signal's or Meta's servers
------------------------------------------------------------
One in-process object, no network, no accounts or phone numbers, no prekey
bundles, no multiple devices, no group chats; messages are delivered once
(fetching empties the mailbox, and :meth:`Server.settle` puts back whatever a
device did not get to handle).  The key directory trusts the first key
registered for a name; lesson 04 shows what a dishonest directory can do.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, overload

from .clock import MAX_CLOCK_SKEW, MAX_TIMESTAMP, Clock, as_seconds, real_clock
from .devices import DeviceCertificate
from .errors import (
    ForgedReport,
    MalformedEnvelope,
    RegistrationError,
    ReplayedMessage,
    TamperedMessage,
    TimestampOutOfRange,
    UnknownMessage,
    UnknownRecipient,
    UnknownSender,
    UnreportableMessage,
)
from .franking import FRANKING_FIELD, Franked, FrankingService, Report, decode_commitment, plaintext_commitment
from .frozen import build
from .keys import PublicIdentity, check_name
from .transport import Connections, TransportChannel
from .wire import MODES, Envelope, Mode, short_id

if TYPE_CHECKING:
    # Imported where a table is built, so that importing the package (a device,
    # toychat.client, needs this module) does not load pandas.
    import pandas as pd

__all__ = [
    "Server",
    "SeenByServer",
    "Flag",
    "Scanner",
    "ReportedRow",
    "MessageLog",
    "SeenIds",
    "FrankedTags",
    "describe_payload",
]

#: A scanner looks at an envelope the server accepted and returns a label or None.
Scanner = Callable[[Envelope], "str | None"]

#: How many hex digits of ciphertext the log shows.
PREVIEW_HEX = 24


def describe_payload(envelope: Envelope) -> str:
    """What a person looking at the server's storage can make of a payload.

    The text itself on the plaintext platform; on E2EE, only a ciphertext
    prefix in hex and its length.
    """
    if envelope.mode == "plaintext":
        content_type = envelope.extras.get("type", "text/plain")
        if content_type != "text/plain":
            return f"[{content_type}, {envelope.payload_size} bytes: readable]"
        return envelope.payload.decode("utf-8", errors="replace")
    return f"ciphertext {envelope.payload_head(PREVIEW_HEX // 2).hex()}… ({envelope.payload_size} bytes)"


@dataclass(frozen=True)
class SeenByServer:
    """One accepted message, as the server saw it."""

    received_at: float
    msg_id: str
    mode: Mode
    sender: str
    recipient: str
    sent_at: float
    size_bytes: int
    content_seen: str
    envelope: bytes


@dataclass(frozen=True)
class Flag:
    """A scanner's match on one message."""

    msg_id: str
    sender: str
    recipient: str
    scanner: str
    label: str


#: The two roles a message can play in an abuse report (:meth:`Server.report_table`).
REPORTED = "reported message"
CONTEXT = "context"


def _readable(message: bytes) -> str:
    """A reported message as a moderator would read it: the text, or a note for non-text bytes."""
    try:
        return message.decode("utf-8")
    except UnicodeDecodeError:
        return f"[{len(message)} bytes, not text]"


@dataclass(frozen=True)
class ReportedRow:
    """One message the platform learned from an abuse report, and how."""

    report: int
    reporter: str
    reported_sender: str
    msg_id: str
    sent_at: float
    role: str
    text: str


class MessageLog(Protocol):
    """Where a server keeps what it saw (:attr:`Server.log`): a ``list`` in process; the
    classroom relay's reads its SQLite database, so its memory does not grow with its history."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[SeenByServer]: ...

    @overload
    def __getitem__(self, index: int) -> SeenByServer: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[SeenByServer]: ...

    def append(self, entry: SeenByServer, /) -> None: ...


class SeenIds(Protocol):
    """The ids of every accepted message (to refuse a replay): a ``set`` in process, the
    relay's database on the relay."""

    def __contains__(self, msg_id: object, /) -> bool: ...

    def add(self, msg_id: str, /) -> None: ...


class FrankedTags(Protocol):
    """The franking tag of each relayed message, by message id (:attr:`Server.franked`): a
    ``dict`` in process, the relay's database on the relay."""

    def get(self, msg_id: str, /) -> Franked | None: ...

    def __setitem__(self, msg_id: str, franked: Franked, /) -> None: ...


class Server:
    """The toy platform's relay.

    >>> server = Server(mode="e2ee")
    >>> server.mode
    'e2ee'
    """

    def __init__(
        self,
        mode: Mode = "e2ee",
        *,
        clock: Clock | None = None,
        scanners: list[Scanner] | None = None,
        franking: FrankingService | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.mode: Mode = mode
        self.clock: Clock = clock if clock is not None else real_clock
        self.scanners: list[Scanner] = list(scanners or [])
        self.directory: dict[str, PublicIdentity] = {}
        self.log: MessageLog = []
        self.flags: list[Flag] = []
        #: Message franking (lesson 08): tags each E2EE message's commitment, verifies reports.
        self.franking = franking
        self.franked: FrankedTags = {}
        #: The *reported* messages, one per accepted report (context messages are not listed here).
        self.reports: list[tuple[Franked, bytes]] = []
        #: Every message the platform learned from reports, context included (see :meth:`report_table`).
        self.report_log: list[ReportedRow] = []
        self._mailboxes: dict[str, deque[bytes]] = {}
        self._connections = Connections()
        self._seen_ids: SeenIds = set()
        self._in_flight: dict[str, list[bytes]] = {}

    # ---- key directory ---------------------------------------------------
    def register(self, public: PublicIdentity) -> None:
        """Publish ``public`` in the key directory and open a mailbox.

        Registering the same keys again is harmless; registering a name that
        already has *other* keys raises :class:`RegistrationError`.
        """
        if not isinstance(public, PublicIdentity):
            raise RegistrationError("register() takes a PublicIdentity (identity.public).")
        known = self.directory.get(public.name)
        if known is not None and known != public:
            raise RegistrationError(
                f"the name {public.name!r} is already registered with different keys "
                f"(fingerprint {known.fingerprint[:19]}…)."
            )
        self.directory[public.name] = public
        self._mailboxes.setdefault(public.name, deque())

    def lookup(self, name: str) -> PublicIdentity:
        """The published keys for ``name``; :class:`UnknownRecipient` if there are none."""
        try:
            return self.directory[name]
        except (KeyError, TypeError):
            raise UnknownRecipient(
                f"nobody called {name!r} is registered with this server; check the spelling, "
                f"or ask them to register first. Registered: {sorted(self.directory)}."
            ) from None

    def lookup_for(self, asker: str, name: str) -> PublicIdentity:
        """The directory's answer when user ``asker`` looks up ``name``.

        An honest directory gives everyone the same answer; a dishonest one
        (:class:`toychat.mitm.MitmServer`) overrides this.
        """
        return self.lookup(name)

    def extra_devices_for(self, asker: str, name: str) -> list[DeviceCertificate]:
        """The extra devices (beyond their main phone) the directory lists for ``name``.

        Users of the toy have one device each, so an honest directory lists
        none; :class:`toychat.exceptional_access.GhostServer` lists a ghost.
        """
        self.lookup(name)
        return []

    # ---- connections -------------------------------------------------------
    def connect(self, name: str) -> TransportChannel:
        """Open a (toy TLS) connection for a registered user; returns the client's end."""
        check_name(name)
        if name not in self.directory:
            raise UnknownSender(f"{name!r} must register before connecting.")
        return self._connections.open(name)

    # ---- sending -----------------------------------------------------------
    def submit(self, name: str, record: bytes) -> str:
        """Receive one transport record from ``name``'s connection; returns the message id.

        The record is decrypted (the transport layer) and handed to :meth:`accept`.
        """
        return self.accept(self._connections.end(name).open(record), authenticated_as=name)

    def accept(self, raw: bytes, *, authenticated_as: str) -> str:
        """Check an envelope from user ``authenticated_as`` and queue it for its recipient.

        Every check runs before anything is stored, so a rejected envelope
        leaves no trace but the exception: it is never half-delivered.
        """
        # the payload's base64 is checked, not decoded: a relay reads only its size and first bytes
        envelope = Envelope.from_bytes(raw, decode_payload=False)
        self._verify(envelope, authenticated_as)
        self._store(envelope, bytes(raw))
        return envelope.msg_id

    def _verify(self, envelope: Envelope, authenticated_as: str) -> None:
        """Every check an honest relay makes before it stores an envelope."""
        if envelope.sender != authenticated_as:
            raise TamperedMessage(
                f"an envelope claiming to be from {envelope.sender!r} arrived on "
                f"{authenticated_as!r}'s connection: nobody may send in someone else's name."
            )
        if envelope.sender not in self.directory:
            raise UnknownSender(f"the sender {envelope.sender!r} is not registered.")
        if envelope.recipient not in self.directory:
            self.lookup(envelope.recipient)  # raises UnknownRecipient with a helpful message
        if envelope.mode != self.mode:
            raise MalformedEnvelope(
                f"this server runs the {self.mode!r} platform and does not accept {envelope.mode!r} envelopes."
            )
        envelope.check_signature(self.directory[envelope.sender].verify_key, outcome="The server refused it.")
        if envelope.msg_id in self._seen_ids:
            raise ReplayedMessage(
                f"message {envelope.short_id} was already accepted once; this copy is a replay and was refused."
            )
        if self.franking is not None:
            self._commitment(envelope)

    def _commitment(self, envelope: Envelope) -> bytes | None:
        """The franking commitment of an envelope on a franking platform: an E2EE envelope's,
        strictly decoded, or for a plaintext envelope the platform's own
        (:func:`~toychat.franking.plaintext_commitment`: it reads the text anyway).

        A franking platform refuses an E2EE message without one
        (:class:`~toychat.errors.UnreportableMessage`): it could never be
        reported.  Returns ``None`` where franking does not apply.
        """
        if self.franking is None:
            return None
        if envelope.mode != "e2ee":
            return plaintext_commitment(envelope.payload)
        if FRANKING_FIELD not in envelope.extras:
            raise UnreportableMessage(
                f"message {envelope.short_id} carries no franking commitment, so its recipient could never "
                "report it: this platform runs message franking and refused it."
            )
        return decode_commitment(envelope.extras[FRANKING_FIELD])

    def _check_time(self, envelope: Envelope, received_at: float) -> None:
        """Refuse a send time further than :data:`~toychat.clock.MAX_CLOCK_SKEW` from the platform's clock."""
        if abs(envelope.timestamp - received_at) > MAX_CLOCK_SKEW:
            raise TimestampOutOfRange(
                f"message {envelope.short_id} says it was sent at {envelope.timestamp!r}, more than "
                f"{MAX_CLOCK_SKEW / 3600:g} hours from the platform's clock ({received_at!r}): is the sender's "
                "clock wrong? The server refused it."
            )

    def _store(self, envelope: Envelope, raw: bytes) -> None:
        """Log, tag and queue an envelope that passed :meth:`_verify`.

        The platform's clock is read once, here: the message's *received* time,
        which the franking tag binds.  Everything is checked and built before
        :meth:`_commit` changes any state.
        """
        received_at = self.clock()
        if type(received_at) is not float or not 0.0 <= received_at <= MAX_TIMESTAMP:  # else as_seconds keeps it
            received_at = as_seconds(received_at, "the server's clock")  # an int made float, or the named error
        self._check_time(envelope, received_at)
        franked = None
        if self.franking is not None:  # (without franking, _commitment has nothing to find)
            commitment = self._commitment(envelope)
            if commitment is not None:
                franked = self.franking.tag(commitment, envelope.sender, envelope.recipient, received_at)
        entry = build(  # SeenByServer(...), without its frozen setters (issue 31)
            SeenByServer,
            received_at=received_at,
            msg_id=envelope.msg_id,
            mode=envelope.mode,
            sender=envelope.sender,
            recipient=envelope.recipient,
            sent_at=float(envelope.timestamp),
            size_bytes=envelope.payload_size,
            content_seen=describe_payload(envelope),
            envelope=raw,
        )
        # a scanner's refusal (a decompression bomb) comes before storing
        flags = self._scan(envelope) if self.scanners else []
        self._commit(envelope, entry, franked)
        if flags:
            self.flags.extend(flags)

    def _scan(self, envelope: Envelope) -> list[Flag]:
        """Run every scanner on ``envelope``; the matches, to record once it is stored.
        A :class:`~toychat.errors.ToyChatError` from a scanner refuses the message."""
        flags = []
        for scanner in self.scanners:
            label = scanner(envelope)
            if label is not None:
                name = getattr(scanner, "__name__", type(scanner).__name__)
                flags.append(Flag(envelope.msg_id, envelope.sender, envelope.recipient, name, str(label)))
        return flags

    def _commit(self, envelope: Envelope, entry: SeenByServer, franked: Franked | None) -> None:
        """The one place an accepted message changes the server's state."""
        self._seen_ids.add(envelope.msg_id)
        if franked is not None:
            self.franked[envelope.msg_id] = franked
        self.log.append(entry)
        self._mailboxes[envelope.recipient].append(entry.envelope)

    def inject(self, recipient: str, raw: bytes) -> None:
        """Put ``raw`` bytes straight into a mailbox, skipping every check.

        This is what a *malicious or broken* server could do; lessons and
        tests use it to show that the recipient's device still catches it.
        """
        self.lookup(recipient)
        self._mailboxes[recipient].append(bytes(raw))

    # ---- delivery ------------------------------------------------------------
    def pending(self, name: str) -> int:
        """How many messages wait in ``name``'s mailbox."""
        self.lookup(name)
        return len(self._mailboxes[name])

    def fetch(self, name: str) -> list[bytes]:
        """Hand ``name`` everything in their mailbox, sealed for their connection.

        The mailbox is emptied: the in-process relay delivers each message once.
        """
        channel = self._connections.end(name)
        box = self._mailboxes[name]
        self._in_flight[name] = list(box)
        records = [channel.seal(raw) for raw in box]
        box.clear()
        return records

    def settle(self, name: str, handled: int) -> None:
        """The device reports that it handled (delivered or refused by name) the first
        ``handled`` records of its last :meth:`fetch`; the rest go back to the front
        of the mailbox, so a device that crashes mid-batch loses nothing."""
        in_flight = self._in_flight.pop(name, [])
        self._mailboxes[name].extendleft(reversed(in_flight[max(0, handled) :]))

    # ---- abuse reports (message franking) -------------------------------------------------
    def franked_for(self, name: str, msg_id: str) -> Franked:
        """The reporting tag of a message, for its recipient only (sent with the message)."""
        franked = self.franked.get(msg_id)
        if franked is None or franked.recipient != name:
            raise UnknownMessage(f"no franked message {short_id(msg_id)} addressed to {name!r}.")
        return franked

    def receive_report(self, report: Report) -> bytes:
        """Verify an abuse report; keep and return the reported message.

        Raises :class:`~toychat.errors.ForgedReport` for a report that does not
        verify, and :class:`~toychat.errors.ReplayedMessage` for a second
        report of the same message.  The platform learns this message and its
        context, and nothing about any other message.
        """
        self.receive_report_with_context(report, [])
        return report.message

    def receive_report_with_context(self, report: Report, context: Sequence[Report]) -> list[ReportedRow]:
        """Verify a report that brings earlier messages from the same sender as context.

        WhatsApp sends "the last five messages sent to you by the reported user
        or group" with a report (WhatsApp Help Center; see references:
        docs/references.md#whatsapp2024), without
        cryptographic proof.  Here every context message is franked, so each
        one is verified like the reported message itself.  The rules:

        * every message (reported and context) must verify, or
          :class:`~toychat.errors.ForgedReport` is raised;
        * every context message must come from the reported message's sender,
          to the same recipient (the reporter), relayed by the platform no later
          than it (the franking tag's time is the platform's own receive time,
          which a sender cannot back- or forward-date), and be listed once:
          otherwise :class:`~toychat.errors.ForgedReport`;
        * the *reported* message may be reported only once
          (:class:`~toychat.errors.ReplayedMessage`); a message may appear as
          context in several reports, because a later report's context can
          overlap an earlier one's.

        All checks run before anything is stored: a refused report leaves no
        trace.  Returns the rows added to :meth:`report_table`.
        """
        if self.franking is None:
            raise ForgedReport("this platform does not run message franking, so it cannot verify reports.")
        main = report.franked
        tags = {main.tag}
        for index, extra in enumerate(context, start=1):
            f = extra.franked
            if (f.sender, f.recipient) != (main.sender, main.recipient):
                raise ForgedReport(
                    f"context message {index} is from {f.sender!r} to {f.recipient!r}, but the reported message is "
                    f"from {main.sender!r} to {main.recipient!r}: a report's context may only hold earlier messages "
                    "from the same sender to the reporter. Nothing from this report was kept."
                )
            if f.timestamp > main.timestamp:
                raise ForgedReport(
                    f"context message {index} reached the platform after the reported message; context must come "
                    "before it. "
                    "Nothing from this report was kept."
                )
            if f.tag in tags:
                raise ForgedReport(
                    f"context message {index} appears twice in this report (or is the reported message itself). "
                    "Nothing from this report was kept."
                )
            tags.add(f.tag)
            try:
                self.franking.verify(extra)
            except ForgedReport as exc:
                raise ForgedReport(f"context message {index}: {exc} Nothing from this report was kept.") from None
        message = self.franking.verify(report, once=True)  # last: a refused report is not marked as reported
        self.reports.append((main, message))
        number = len(self.reports)
        in_order = [(c, CONTEXT) for c in sorted(context, key=lambda c: c.franked.timestamp)] + [(report, REPORTED)]
        rows = [
            ReportedRow(
                report=number,
                reporter=main.recipient,
                reported_sender=main.sender,
                msg_id=self._msg_id_of(r.franked.tag),
                sent_at=r.franked.timestamp,
                role=role,
                text=_readable(r.message),
            )
            for r, role in in_order
        ]
        self.report_log.extend(rows)
        return rows

    def _msg_id_of(self, tag: bytes) -> str:
        """The id of the relayed message with this franking ``tag`` (``"?"`` if none)."""
        franked = self.franked
        found = [msg_id for msg_id, f in franked.items() if f.tag == tag] if isinstance(franked, dict) else []
        return found[0] if found else "?"

    def report_table(self) -> pd.DataFrame:
        """Everything the platform has learned from abuse reports, one row per revealed message.

        Columns: ``report`` (1, 2, …), ``reporter``, ``reported_sender``,
        ``sent_at`` (UTC: when the platform relayed the message, the time its franking tag binds),
        ``role`` (``"reported message"`` or ``"context"``), ``text`` and ``msg_id``.  Messages nobody
        reported never appear here: under E2EE this table is all the content the platform ever reads.
        """
        import pandas as pd

        columns = ["report", "reporter", "reported_sender", "sent_at", "role", "text", "msg_id"]
        table = pd.DataFrame([{c: getattr(row, c) for c in columns} for row in self.report_log], columns=columns)
        table["sent_at"] = pd.to_datetime(table["sent_at"], unit="s", utc=True)
        return table

    # ---- what the server knows ----------------------------------------------
    def log_table(self) -> pd.DataFrame:
        """Everything the server saw, one row per message: the metadata and what it could read."""
        import pandas as pd

        columns = ["received_at", "sender", "recipient", "sent_at", "size_bytes", "content_seen", "msg_id"]
        rows = [{c: getattr(entry, c) for c in columns} for entry in self.log]
        table = pd.DataFrame(rows, columns=columns)
        for column in ("received_at", "sent_at"):
            table[column] = pd.to_datetime(table[column], unit="s", utc=True)
        return table

    def __repr__(self) -> str:
        return f"Server(mode={self.mode!r}, users={sorted(self.directory)}, messages_seen={len(self.log)})"
