"""Where the relay keeps what must survive a restart: SQLite (Python's ``sqlite3``).

Six tables: ``meta`` (the platform mode), ``users`` (the
key directory, with a SHA-256 of each user's login token, never the token),
``log`` (every accepted message as the server saw it: the same rows as
:class:`~toychat.server.SeenByServer`), ``mailbox`` (messages waiting for
their recipient, deleted only when the recipient acknowledges them) and
``franked`` (message-franking tags, lesson 08).

The default database is ``":memory:"`` (gone when the relay stops); give a
file path to keep mailboxes across restarts.  Every change is one SQLite
transaction, so a crash leaves either all of an accepted message (log row and
mailbox row) or none of it.  ``reports`` keeps every message the platform
learned from an abuse report (lesson 08), so a restart neither forgets a
report nor lets the same message be reported again.

The files are private to the Unix user running the relay: the database and
its ``-wal`` and ``-shm`` companions are mode 0600, in a folder created 0700.
The franking key is *not* in the database but in its own 0600 file beside it
(``<database>.franking-key``): whoever holds it can forge a report the relay
verifies, blaming an innocent sender, so a copied or leaked database must not
carry it.  A database from before this rule has its key moved out (and the
old row overwritten) when it is opened.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import overload

from ..errors import InvalidKey
from ..franking import Franked, Report
from ..keys import PublicIdentity, read_private_file, write_private_file
from ..server import ReportedRow, SeenByServer

__all__ = ["KEY_FILE_SUFFIX", "Queued", "Store", "StoredFranked", "StoredIds", "StoredLog", "Usage", "token_digest"]

log = logging.getLogger("toychat.relay")

#: The franking key of the database ``relay.sqlite`` is kept in ``relay.sqlite.franking-key``.
KEY_FILE_SUFFIX = ".franking-key"
#: The files SQLite keeps beside a database in write-ahead-log mode.
_COMPANIONS = ("", "-wal", "-shm", "-journal")


def _in_memory(path: str) -> bool:
    """Whether ``path`` names an in-memory database (no file is created)."""
    return path == ":memory:" or path == "" or path.startswith("file::memory:")


def _make_private(path: str) -> None:
    """Create the database file (and its folder) private to this Unix user before SQLite opens it:
    the folder 0700 if it is new, the file 0600, and any existing companion files tightened to 0600.
    SQLite gives the ``-wal`` and ``-shm`` files it creates later the database file's mode."""
    database = Path(path)
    database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(database, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(descriptor)
    for suffix in _COMPANIONS:
        companion = Path(path + suffix)
        if companion.exists() and stat.S_IMODE(companion.stat().st_mode) & 0o077:
            os.chmod(companion, 0o600)  # a database made before files were private
    if stat.S_IMODE(database.parent.stat().st_mode) & 0o022:
        log.warning(
            "the relay's folder %s may be changed by other users; keep the database in a folder only "
            "this user can write (mode 0700).",
            database.parent,
        )


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, encryption_key BLOB NOT NULL, signing_key BLOB NOT NULL,
    token_sha256 TEXT UNIQUE, registered_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, received_at REAL NOT NULL, msg_id TEXT UNIQUE NOT NULL,
    mode TEXT NOT NULL, sender TEXT NOT NULL, recipient TEXT NOT NULL, sent_at REAL NOT NULL,
    size_bytes INTEGER NOT NULL, content_seen TEXT NOT NULL, envelope BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS mailbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, recipient TEXT NOT NULL, msg_id TEXT NOT NULL,
    envelope BLOB NOT NULL, queued_at REAL NOT NULL, sender TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS franked (
    msg_id TEXT PRIMARY KEY, commitment BLOB NOT NULL, sender TEXT NOT NULL,
    recipient TEXT NOT NULL, timestamp REAL NOT NULL, tag BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS franked_by_tag ON franked (tag);
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT, report INTEGER NOT NULL, reporter TEXT NOT NULL,
    reported_sender TEXT NOT NULL, msg_id TEXT NOT NULL, sent_at REAL NOT NULL, role TEXT NOT NULL,
    text TEXT NOT NULL, commitment BLOB NOT NULL, tag BLOB NOT NULL, message BLOB NOT NULL);
"""


#: The mailbox's indexes, by name: each carries ``size``, so that the two quota queries each
#: send makes (:meth:`Store.usage`) read the index alone, not every waiting row of the table
#: (where ``size`` sits after the envelope): a send to, or from, someone with a long backlog
#: stays cheap (issue 31).
_MAILBOX_INDEXES = {
    "mailbox_by_recipient_size": "recipient, id, size",
    "mailbox_by_sender_size": "sender, size",
}
#: Indexes of earlier versions, replaced by :data:`_MAILBOX_INDEXES` (their columns are a prefix).
_OLD_MAILBOX_INDEXES = ("mailbox_by_recipient", "mailbox_by_sender")


def token_digest(token: str) -> str:
    """What the database keeps of a login token: its SHA-256, so a copied
    database file does not hand out logins."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Queued:
    """One message waiting in a mailbox: its mailbox id (for the acknowledgement) and bytes."""

    id: int
    msg_id: str
    envelope: bytes


@dataclass(frozen=True)
class Usage:
    """How much of a quota is used: messages waiting, and the bytes of their envelopes."""

    messages: int
    bytes: int


class StoredLog(Sequence[SeenByServer]):
    """The relay's :attr:`~toychat.server.Server.log`, read from SQLite when it is used (the
    newest rows for the dashboard, one row, or all of them streamed), so the relay's memory
    does not grow with its history.  :meth:`append` only counts: the row is already stored."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._size = store.log_size()

    def __len__(self) -> int:
        return self._size

    def append(self, entry: SeenByServer, /) -> None:
        """Count an entry :meth:`Store.save_accepted` has stored."""
        self._size += 1

    def __iter__(self) -> Iterator[SeenByServer]:
        return self.store.log_entries()

    @overload
    def __getitem__(self, index: int) -> SeenByServer: ...

    @overload
    def __getitem__(self, index: slice) -> list[SeenByServer]: ...

    def __getitem__(self, index: int | slice) -> SeenByServer | list[SeenByServer]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._size)
            if step != 1:
                return list(self)[index]
            return list(self.store._log_page(start, max(0, stop - start))) if stop > start else []
        position = index + self._size if index < 0 else index
        if not 0 <= position < self._size:
            raise IndexError("log index out of range")
        return self.store.log_entry(position)


class StoredFranked:
    """The relay's franking tags (:attr:`~toychat.server.Server.franked`), looked up in SQLite
    by message id; :meth:`__setitem__` does nothing, as :meth:`Store.save_accepted` stored the tag."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, msg_id: str, /) -> Franked | None:
        return self.store.franked_of(msg_id) if isinstance(msg_id, str) else None

    def __setitem__(self, msg_id: str, franked: Franked, /) -> None:
        """Nothing to do: the tag is already in the database."""


class StoredIds:
    """The ids of every accepted message, answered by the log's unique index in SQLite
    (not a set in memory, which would grow with the relay's history)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __contains__(self, msg_id: object, /) -> bool:
        return isinstance(msg_id, str) and self.store.has_message(msg_id)

    def add(self, msg_id: str, /) -> None:
        """Nothing to do: :meth:`Store.save_accepted` stored the id with the message."""


class Store:
    """The relay's SQLite database.  Use from one thread (the relay's event loop).

    >>> store = Store(":memory:")
    >>> store.get_meta("mode") is None
    True
    >>> store.set_meta("mode", "e2ee"); store.get_meta("mode")
    'e2ee'
    """

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        #: The franking key's own file (``None`` for an in-memory database, whose key lives in memory).
        self.key_path: Path | None = None if _in_memory(path) else Path(path + KEY_FILE_SUFFIX)
        self._memory_key: bytes | None = None
        if self.key_path is not None:
            _make_private(path)
        self.db = sqlite3.connect(path)
        # A write-ahead log: one fsync per commit instead of about three with a rollback journal
        # (the relay's throughput under a class's load), and as durable: synchronous stays FULL,
        # so a message the relay answered 201 for survives a crash and a power cut.
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = FULL")
        #: Login token digest -> user name, for tokens already seen: a token never changes owner
        #: (new keys keep the login), and only tokens that match a user are kept.
        self._token_users: dict[str, str] = {}
        #: Inside :meth:`batch`: accepted messages wait for its one commit.
        self._in_batch = False
        self.db.executescript(_SCHEMA)
        self._migrate()
        self.db.commit()
        self._move_legacy_key()

    def _migrate(self) -> None:
        """Bring a database from an earlier version up to this schema: mailbox rows gain
        their sender and size (for the quotas), found from the log; the mailbox's indexes
        carry each row's size, so the quota check of every send reads only the index."""
        columns = {str(row[1]) for row in self.db.execute("PRAGMA table_info(mailbox)")}
        with self.db:
            if "sender" not in columns:
                self.db.execute("ALTER TABLE mailbox ADD COLUMN sender TEXT NOT NULL DEFAULT ''")
                self.db.execute(
                    "UPDATE mailbox SET sender = "
                    "COALESCE((SELECT sender FROM log WHERE log.msg_id = mailbox.msg_id), '')"
                )
            if "size" not in columns:
                self.db.execute("ALTER TABLE mailbox ADD COLUMN size INTEGER NOT NULL DEFAULT 0")
                self.db.execute("UPDATE mailbox SET size = LENGTH(envelope)")
            # Covering indexes for :meth:`usage` (and the mailbox's page): counting what waits
            # reads index entries only, not every waiting row of the table, whose size column
            # comes after the envelope.  They replace the narrower indexes of earlier versions.
            for index, columns_of in _MAILBOX_INDEXES.items():
                self.db.execute(f"CREATE INDEX IF NOT EXISTS {index} ON mailbox ({columns_of})")
            for index in _OLD_MAILBOX_INDEXES:
                self.db.execute(f"DROP INDEX IF EXISTS {index}")

    def close(self) -> None:
        """Close the database (everything is already committed)."""
        self.db.close()

    # ---- meta ------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A stored setting, or ``None``."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting."""
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def franking_key(self) -> bytes:
        """The platform's franking key, created on first use and kept (in its own 0600
        file, never in the database), so reports of messages relayed before a restart
        still verify.  :class:`~toychat.errors.InvalidKey` if the file is unreadable,
        malformed, or readable by other users."""
        if self.key_path is None:
            if self._memory_key is None:
                self._memory_key = secrets.token_bytes(32)
            return self._memory_key
        if not self.key_path.exists():
            write_private_file(self.key_path, secrets.token_hex(32) + "\n")
        text = read_private_file(self.key_path, "relay's franking key file").strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise InvalidKey(f"the relay's franking key file {self.key_path} must hold 64 hex digits (32 bytes).")
        return key

    def _move_legacy_key(self) -> None:
        """A database from before the franking key had its own file: move the key out (whether
        or not this relay runs franking), so reports of old messages still verify and no copy
        of the database carries it."""
        legacy = self.get_meta("franking_key")
        if legacy is None or self.key_path is None:
            return
        if not self.key_path.exists():
            write_private_file(self.key_path, legacy + "\n")
        self._forget_legacy_key()

    def _forget_legacy_key(self) -> None:
        """Delete the franking key row of an old database so that no page of the file
        keeps it: secure deletion overwrites it, and the write-ahead log is emptied."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # older log frames holding the key: into the file
        self.db.execute("PRAGMA secure_delete = ON")
        with self.db:
            self.db.execute("DELETE FROM meta WHERE key = 'franking_key'")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the overwritten page: into the file

    # ---- users -------------------------------------------------------------------
    def add_user(self, public: PublicIdentity, token: str | None, now: float) -> None:
        """Publish ``public``; ``token`` (if any) becomes the user's login."""
        with self.db:
            self.db.execute(
                "INSERT INTO users (name, encryption_key, signing_key, token_sha256, registered_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    public.name,
                    public.encryption_key,
                    public.signing_key,
                    None if token is None else token_digest(token),
                    now,
                ),
            )

    def replace_keys(self, public: PublicIdentity) -> None:
        """Store new keys for an existing user (the login stays)."""
        with self.db:
            self.db.execute(
                "UPDATE users SET encryption_key = ?, signing_key = ? WHERE name = ?",
                (public.encryption_key, public.signing_key, public.name),
            )

    def users(self) -> Iterator[PublicIdentity]:
        """Every published identity, in registration order."""
        for name, enc, sig in self.db.execute(
            "SELECT name, encryption_key, signing_key FROM users ORDER BY registered_at, name"
        ):
            yield PublicIdentity(name, bytes(enc), bytes(sig))

    def user_for_token(self, token: str) -> str | None:
        """The user whose login ``token`` is, or ``None``."""
        digest = token_digest(token)
        name = self._token_users.get(digest)
        if name is not None:
            return name
        row = self.db.execute("SELECT name FROM users WHERE token_sha256 = ?", (digest,)).fetchone()
        if row is None:
            return None
        self._token_users[digest] = str(row[0])
        return str(row[0])

    # ---- accepted messages -------------------------------------------------------------
    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for every :meth:`save_accepted` inside: committed (with its ``fsync``)
        once, when the block ends, or rolled back whole if anything in it raises.  Queries in the
        block (:meth:`usage`) already count the rows saved before them."""
        self._in_batch = True
        try:
            with self.db:
                yield
        finally:
            self._in_batch = False

    def save_accepted(self, entry: SeenByServer, franked: Franked | None) -> int:
        """Record one accepted message: its log row, its mailbox row (and franking tag),
        in one transaction (or in the enclosing :meth:`batch`'s).  Returns the mailbox id."""
        with nullcontext() if self._in_batch else self.db:
            self.db.execute(
                "INSERT INTO log (received_at, msg_id, mode, sender, recipient, sent_at, size_bytes, "
                "content_seen, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.received_at,
                    entry.msg_id,
                    entry.mode,
                    entry.sender,
                    entry.recipient,
                    entry.sent_at,
                    entry.size_bytes,
                    entry.content_seen,
                    entry.envelope,
                ),
            )
            if franked is not None:
                self.db.execute(
                    "INSERT INTO franked (msg_id, commitment, sender, recipient, timestamp, tag) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        entry.msg_id,
                        franked.commitment,
                        franked.sender,
                        franked.recipient,
                        franked.timestamp,
                        franked.tag,
                    ),
                )
            cursor = self.db.execute(
                "INSERT INTO mailbox (recipient, msg_id, envelope, queued_at, sender, size) VALUES (?, ?, ?, ?, ?, ?)",
                (entry.recipient, entry.msg_id, entry.envelope, entry.received_at, entry.sender, len(entry.envelope)),
            )
        return int(cursor.lastrowid or 0)

    def log_entries(self) -> Iterator[SeenByServer]:
        """Every logged message, oldest first, read from the database as they are used (never all at once)."""
        return self._log_page(0, -1)

    def log_size(self) -> int:
        """How many messages the log holds."""
        return int(self.db.execute("SELECT COUNT(*) FROM log").fetchone()[0])

    def log_entry(self, position: int) -> SeenByServer:
        """The log's entry at ``position`` (0 is the oldest); :class:`IndexError` if there is none."""
        found = list(self._log_page(position, 1))
        if not found:
            raise IndexError("log index out of range")
        return found[0]

    def _log_page(self, start: int, count: int) -> Iterator[SeenByServer]:
        """``count`` log entries from position ``start`` on (all of them for a negative ``count``)."""
        rows = self.db.execute(
            "SELECT received_at, msg_id, mode, sender, recipient, sent_at, size_bytes, content_seen, envelope "
            "FROM log ORDER BY seq LIMIT ? OFFSET ?",
            (count, max(0, start)),
        )
        for received_at, msg_id, mode, sender, recipient, sent_at, size_bytes, content_seen, envelope in rows:
            yield SeenByServer(
                received_at, msg_id, mode, sender, recipient, sent_at, size_bytes, content_seen, bytes(envelope)
            )

    def has_message(self, msg_id: str) -> bool:
        """Whether a message with this id was ever accepted (the log's unique index answers)."""
        return self.db.execute("SELECT 1 FROM log WHERE msg_id = ?", (msg_id,)).fetchone() is not None

    def franked_of(self, msg_id: str) -> Franked | None:
        """The franking tag of message ``msg_id``, or ``None``."""
        row = self.db.execute(
            "SELECT commitment, sender, recipient, timestamp, tag FROM franked WHERE msg_id = ?", (msg_id,)
        ).fetchone()
        if row is None:
            return None
        commitment, sender, recipient, timestamp, tag = row
        return Franked(bytes(commitment), sender, recipient, timestamp, bytes(tag))

    def msg_id_of_tag(self, tag: bytes) -> str | None:
        """The id of the message whose franking tag is ``tag``, or ``None``."""
        row = self.db.execute("SELECT msg_id FROM franked WHERE tag = ?", (tag,)).fetchone()
        return None if row is None else str(row[0])

    # ---- abuse reports ---------------------------------------------------------------------
    def save_report(self, rows: list[tuple[ReportedRow, Report]]) -> None:
        """Keep the messages one abuse report revealed (each row with the report of it), in one transaction."""
        with self.db:
            self.db.executemany(
                "INSERT INTO reports (report, reporter, reported_sender, msg_id, sent_at, role, text, commitment, "
                "tag, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        row.report,
                        row.reporter,
                        row.reported_sender,
                        row.msg_id,
                        row.sent_at,
                        row.role,
                        row.text,
                        report.franked.commitment,
                        report.franked.tag,
                        report.message,
                    )
                    for row, report in rows
                ],
            )

    def reports(self) -> Iterator[tuple[ReportedRow, Franked, bytes]]:
        """Every kept report row, oldest first, with the franking tag and the message it revealed."""
        for report, reporter, sender, msg_id, sent_at, role, text, commitment, tag, message in self.db.execute(
            "SELECT report, reporter, reported_sender, msg_id, sent_at, role, text, commitment, tag, message "
            "FROM reports ORDER BY id"
        ):
            row = ReportedRow(int(report), reporter, sender, msg_id, float(sent_at), role, text)
            yield row, Franked(bytes(commitment), sender, reporter, float(sent_at), bytes(tag)), bytes(message)

    # ---- mailboxes -----------------------------------------------------------------------
    def mailbox(self, recipient: str, limit: int, max_bytes: int | None = None) -> list[Queued]:
        """Up to ``limit`` messages waiting for ``recipient``, oldest first (not removed), and
        no more than ``max_bytes`` of envelopes (but always the first waiting one): rows are read
        one by one and reading stops there, so one request never loads a whole mailbox."""
        # one query, its rows stepped one at a time: the envelope of at most one row past the page
        # is read (that row stops the page), where a second query per message cost a statement each
        rows = self.db.execute(
            "SELECT id, msg_id, size, envelope FROM mailbox WHERE recipient = ? ORDER BY id LIMIT ?",
            (recipient, limit),
        )
        page: list[Queued] = []
        total = 0
        for mailbox_id, msg_id, size, envelope in rows:
            if page and max_bytes is not None and total + int(size) > max_bytes:
                break
            page.append(Queued(int(mailbox_id), str(msg_id), bytes(envelope)))
            total += int(size)
        rows.close()
        return page

    def usage(self, *, recipient: str | None = None, sender: str | None = None) -> Usage:
        """How many messages, and bytes of envelopes, wait in ``recipient``'s mailbox (or
        were sent by ``sender`` and wait in anyone's)."""
        column, name = ("recipient", recipient) if recipient is not None else ("sender", sender)
        count, size = self.db.execute(
            f"SELECT COUNT(*), COALESCE(SUM(size), 0) FROM mailbox WHERE {column} = ?", (name,)
        ).fetchone()
        return Usage(int(count), int(size))

    def acknowledge(self, recipient: str, ids: list[int]) -> int:
        """Delete ``recipient``'s messages with these mailbox ids; returns how many went.

        Ids of someone else's messages are ignored: nobody can delete another
        user's mail by guessing numbers.

        The deletion is committed without its own ``fsync`` (``synchronous = NORMAL`` for this
        transaction; messages keep ``FULL``): it survives the relay's crash or ``kill -9``, as
        every committed write-ahead-log frame does, and the next message's ``FULL`` commit syncs
        it to disk with that message.  A power cut may undo the last acknowledgements only; the
        relay then sends those messages again, which :class:`~toychat.relay.RemoteServer` drops
        as already shown: delivery stays at least once, never lost.
        """
        self.db.execute("PRAGMA synchronous = NORMAL")
        try:
            return self._delete_from_mailbox(recipient, ids)
        finally:
            self.db.execute("PRAGMA synchronous = FULL")

    def _delete_from_mailbox(self, recipient: str, ids: list[int]) -> int:
        """Delete ``recipient``'s mailbox rows with these ids, in one transaction."""
        with self.db:
            deleted = 0
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                deleted += self.db.execute(
                    f"DELETE FROM mailbox WHERE recipient = ? AND id IN ({marks})", (recipient, *chunk)
                ).rowcount
        return deleted

    def queued_counts(self) -> dict[str, int]:
        """How many messages wait for each user."""
        return {
            str(name): int(n)
            for name, n in self.db.execute("SELECT recipient, COUNT(*) FROM mailbox GROUP BY recipient")
        }
