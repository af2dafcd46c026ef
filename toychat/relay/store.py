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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidKey
from ..franking import Franked, Report
from ..keys import PublicIdentity, read_private_file, write_private_file
from ..server import ReportedRow, SeenByServer

__all__ = ["KEY_FILE_SUFFIX", "Queued", "Store", "token_digest"]

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
    envelope BLOB NOT NULL, queued_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS mailbox_by_recipient ON mailbox (recipient, id);
CREATE TABLE IF NOT EXISTS franked (
    msg_id TEXT PRIMARY KEY, commitment BLOB NOT NULL, sender TEXT NOT NULL,
    recipient TEXT NOT NULL, timestamp REAL NOT NULL, tag BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT, report INTEGER NOT NULL, reporter TEXT NOT NULL,
    reported_sender TEXT NOT NULL, msg_id TEXT NOT NULL, sent_at REAL NOT NULL, role TEXT NOT NULL,
    text TEXT NOT NULL, commitment BLOB NOT NULL, tag BLOB NOT NULL, message BLOB NOT NULL);
"""


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
        self.db.executescript(_SCHEMA)
        self.db.commit()

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
        legacy = self.get_meta("franking_key")
        if legacy is not None:  # a database from before the key had its own file: move it out
            if not self.key_path.exists():
                write_private_file(self.key_path, legacy + "\n")
            self._forget_legacy_key()
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
        row = self.db.execute("SELECT name FROM users WHERE token_sha256 = ?", (token_digest(token),)).fetchone()
        return None if row is None else str(row[0])

    # ---- accepted messages -------------------------------------------------------------
    def save_accepted(self, entry: SeenByServer, franked: Franked | None) -> int:
        """Record one accepted message: its log row, its mailbox row (and franking tag),
        in one transaction.  Returns the mailbox id."""
        with self.db:
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
                "INSERT INTO mailbox (recipient, msg_id, envelope, queued_at) VALUES (?, ?, ?, ?)",
                (entry.recipient, entry.msg_id, entry.envelope, entry.received_at),
            )
        return int(cursor.lastrowid or 0)

    def log_entries(self) -> Iterator[SeenByServer]:
        """Every logged message, oldest first."""
        rows = self.db.execute(
            "SELECT received_at, msg_id, mode, sender, recipient, sent_at, size_bytes, content_seen, envelope "
            "FROM log ORDER BY seq"
        )
        for received_at, msg_id, mode, sender, recipient, sent_at, size_bytes, content_seen, envelope in rows:
            yield SeenByServer(
                received_at, msg_id, mode, sender, recipient, sent_at, size_bytes, content_seen, bytes(envelope)
            )

    def franked(self) -> Iterator[tuple[str, Franked]]:
        """Every stored franking tag, by message id."""
        for msg_id, commitment, sender, recipient, timestamp, tag in self.db.execute(
            "SELECT msg_id, commitment, sender, recipient, timestamp, tag FROM franked"
        ):
            yield msg_id, Franked(bytes(commitment), sender, recipient, timestamp, bytes(tag))

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
    def mailbox(self, recipient: str, limit: int) -> list[Queued]:
        """Up to ``limit`` messages waiting for ``recipient``, oldest first (not removed)."""
        rows = self.db.execute(
            "SELECT id, msg_id, envelope FROM mailbox WHERE recipient = ? ORDER BY id LIMIT ?",
            (recipient, limit),
        )
        return [Queued(int(i), str(m), bytes(e)) for i, m, e in rows]

    def acknowledge(self, recipient: str, ids: list[int]) -> int:
        """Delete ``recipient``'s messages with these mailbox ids; returns how many went.

        Ids of someone else's messages are ignored: nobody can delete another
        user's mail by guessing numbers.
        """
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
