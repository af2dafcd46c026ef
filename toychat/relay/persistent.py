"""The platform the relay serves: a :class:`~toychat.server.Server` whose storage is SQLite.

:class:`PersistentServer` *is* a ``Server``: every envelope check is the one
lessons teach (:meth:`Server.accept`); only where the directory, the log and
the mailboxes live differs (:mod:`toychat.relay.store`).  A failed write is a
named :class:`~toychat.relay.errors.RelayStorageError`, never a half-stored
message.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import MalformedEnvelope, ReplayedMessage
from ..franking import Franked, FrankingService, Report
from ..keys import PublicIdentity
from ..server import REPORTED, ReportedRow, SeenByServer, Server
from ..wire import MODES, Envelope, Mode, is_mode
from .errors import MailboxFull, RelayStorageError
from .limits import MAX_BATCH, MAX_PAGE_BYTES, Quota
from .store import Queued, Store, StoredFranked, StoredIds, StoredLog

__all__ = ["PersistentServer", "saving"]

log = logging.getLogger("toychat.relay")


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

    def __init__(
        self, store: Store, mode: Mode = "e2ee", *, franking: bool = False, quota: Quota | None = None
    ) -> None:
        stored_mode = store.get_meta("mode")
        mode = stored_mode if is_mode(stored_mode) else mode
        super().__init__(mode=mode, franking=FrankingService(store.franking_key()) if franking else None)
        self.store = store
        store.set_meta("mode", self.mode)
        for public in store.users():
            self.directory[public.name] = public
        # the log and the ids of accepted messages stay in SQLite, read when needed: the relay's
        # memory does not grow with its history, and a restart loads none of it
        self.log = StoredLog(store)
        self._seen_ids = StoredIds(store)
        #: How much may wait undelivered per user (:class:`~toychat.relay.limits.Quota`).
        self.quota = quota if quota is not None else Quota()
        self.franked = StoredFranked(store)
        for row, reported, message in store.reports():
            self.report_log.append(row)
            if row.role == REPORTED:  # reported once: never again, even after a restart
                self.reports.append((reported, message))
                if self.franking is not None:
                    self.franking.remember_reported(reported.tag)
        #: Called with a recipient's name whenever a message is queued for them.
        self.on_queued: list[Callable[[str], None]] = []
        #: Users who replaced their keys since the relay started (shown on the dashboard).
        self.key_changes: list[dict[str, Any]] = []
        #: Inside :meth:`accept_batch`: messages stored in its transaction, not yet committed.
        self._uncommitted: list[tuple[Envelope, SeenByServer, Franked | None]] | None = None

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

    def _msg_id_of(self, tag: bytes) -> str:
        return self.store.msg_id_of_tag(tag) or "?"

    def _store(self, envelope: Envelope, raw: bytes) -> None:
        """Check the quotas (:class:`MailboxFull`), then store as :meth:`Server._store` does."""
        self._check_quota(envelope, len(raw))
        super()._store(envelope, raw)

    def _check_quota(self, envelope: Envelope, size: int) -> None:
        """Refuse a message that would take the recipient's mailbox, or what the sender has
        waiting undelivered, over :attr:`quota`."""
        quota = self.quota
        waiting = self.store.usage(recipient=envelope.recipient)
        if waiting.messages + 1 > quota.mailbox_messages or waiting.bytes + size > quota.mailbox_bytes:
            raise MailboxFull(
                f"{envelope.recipient!r}'s mailbox is full ({waiting.messages} messages, {waiting.bytes:,} bytes "
                f"waiting; the relay keeps at most {quota.mailbox_messages} messages or {quota.mailbox_bytes:,} "
                "bytes per user). Nothing was stored: send it again once they have read their messages."
            )
        sent = self.store.usage(sender=envelope.sender)
        if sent.messages + 1 > quota.sender_messages or sent.bytes + size > quota.sender_bytes:
            raise MailboxFull(
                f"you have {sent.messages} messages ({sent.bytes:,} bytes) waiting undelivered, the most the relay "
                f"keeps from one sender ({quota.sender_messages} messages or {quota.sender_bytes:,} bytes). "
                "Nothing was stored: send it again once your recipients have read their messages."
            )

    def accept_batch(self, raws: Sequence[bytes], *, authenticated_as: str) -> list[str]:
        """Accept several envelopes from one sender (a group's message) all together, or none.

        Each is checked as :meth:`Server.accept` checks one (a message id twice in the batch is a
        :class:`~toychat.errors.ReplayedMessage`), then all are stored in one SQLite transaction,
        committed and synced once: the quotas count the batch's earlier envelopes, and the first
        refusal (or a failed write) stores nothing of the batch.  Returns their message ids.
        """
        envelopes = []
        ids: set[str] = set()
        for raw in raws:
            envelope = Envelope.from_bytes(raw)
            self._verify(envelope, authenticated_as)
            if envelope.msg_id in ids:
                raise ReplayedMessage(f"message {envelope.short_id} appears twice in one batch; nothing was stored.")
            ids.add(envelope.msg_id)
            envelopes.append(envelope)
        flags = len(self.flags)
        self._uncommitted = []
        try:
            with saving(self.store.path, "your messages"), self.store.batch():
                for envelope, raw in zip(envelopes, raws, strict=True):
                    self._store(envelope, bytes(raw))
            stored = self._uncommitted
        except BaseException:
            del self.flags[flags:]  # a scanner's matches of envelopes that were never stored
            raise
        finally:
            self._uncommitted = None
        for envelope, entry, franked in stored:
            self._remember(envelope, entry, franked)
        return [envelope.msg_id for envelope in envelopes]

    def _commit(self, envelope: Envelope, entry: SeenByServer, franked: Franked | None) -> None:
        # SQLite first: if it fails (a full disk, a read-only file), memory is unchanged, the
        # message id is not spent, and the sender gets a named RelayStorageError to re-send on.
        with saving(self.store.path, "your message"):
            self.store.save_accepted(entry, franked)
        if self._uncommitted is not None:  # in a batch: memory changes once the batch is committed
            self._uncommitted.append((envelope, entry, franked))
            return
        self._remember(envelope, entry, franked)

    def _remember(self, envelope: Envelope, entry: SeenByServer, franked: Franked | None) -> None:
        """What a committed message changes in memory (the log's count), and who is woken."""
        self._mailboxes.setdefault(envelope.recipient, deque())
        super()._commit(envelope, entry, franked)
        self._mailboxes.pop(envelope.recipient, None)  # the queued copy lives in SQLite
        for callback in self.on_queued:
            callback(envelope.recipient)

    def receive_report_with_context(self, report: Report, context: Sequence[Report]) -> list[ReportedRow]:
        """Verify a report (:meth:`Server.receive_report_with_context`) and keep it in SQLite,
        so a restart neither forgets it nor lets the same message be reported again.  If it
        cannot be saved, nothing of it is kept and the reporter gets a :class:`RelayStorageError`."""
        rows = super().receive_report_with_context(report, context)
        revealed = [*sorted(context, key=lambda c: c.franked.timestamp), report]  # the rows' order
        try:
            with saving(self.store.path, "your report"):
                self.store.save_report(list(zip(rows, revealed, strict=True)))
        except RelayStorageError:
            if self.franking is not None:
                self.franking.forget_reported(report.franked.tag)
            del self.reports[-1]
            del self.report_log[-len(rows) :]
            raise
        return rows

    def pending(self, name: str) -> int:
        """How many messages wait in ``name``'s mailbox."""
        self.lookup(name)
        return self.store.queued_counts().get(name, 0)

    def mailbox(self, name: str, limit: int = MAX_BATCH) -> list[Queued]:
        """The messages waiting for ``name`` (they stay until acknowledged): at most ``limit``
        of them and :data:`~toychat.relay.limits.MAX_PAGE_BYTES` of envelopes (at least one)."""
        return self.store.mailbox(name, limit, MAX_PAGE_BYTES)

    def acknowledge(self, name: str, ids: list[int]) -> int:
        """Delete the messages ``name`` confirms having received."""
        with saving(self.store.path, "your acknowledgement"):
            return self.store.acknowledge(name, ids)

    def fetch(self, name: str) -> list[bytes]:  # pragma: no cover - the relay uses mailbox/acknowledge
        raise NotImplementedError("the relay delivers with mailbox() and acknowledge()")

    def inject(self, recipient: str, raw: bytes) -> None:  # pragma: no cover - not over HTTP
        raise NotImplementedError("the classroom relay is an honest server: it has no inject().")
