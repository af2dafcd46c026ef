"""The relay's files are private, and its franking key is not in its database.

On a shared machine (a JupyterHub) anyone who could read the relay's SQLite
files could read the franking key in them and forge a report the relay
verifies, blaming an innocent sender.  The database and its ``-wal``/``-shm``
files are mode 0600 in a folder created 0700; the franking key lives in its
own 0600 file, and a database from before has its key moved out.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from toychat import Client
from toychat.errors import InvalidKey
from toychat.relay.app import build_relay
from toychat.relay.store import Store

#: Where the franking key of `class.sqlite` lives: `class.sqlite.franking-key`.
KEY_FILE_SUFFIX = ".franking-key"


@pytest.fixture
def shared_umask() -> Iterator[None]:
    """The usual umask of a shared machine (0022: new files readable by everyone)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def database_bytes(db: Path) -> bytes:
    """Everything SQLite keeps of the database on disk: the file and its companions."""
    return b"".join(Path(f"{db}{s}").read_bytes() for s in ("", "-wal", "-shm") if Path(f"{db}{s}").exists())


def run_relay(db: Path) -> bytes:
    """A franking relay on ``db`` that relays one message; returns its franking key."""
    relay = build_relay(db=str(db), franking=True)
    alice, bob = Client("alice", relay.server), Client("bob", relay.server)
    alice.send(bob.name, "a message with a franking tag")
    assert relay.server.franking is not None
    key: bytes = relay.server.franking._key
    relay.server.store.close()
    return key


def test_the_relay_files_are_private(shared_umask: None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "relay" / "class.sqlite"
        run_relay(db)
        assert mode(db.parent) == 0o700
        files = [Path(f"{db}{s}") for s in ("", "-wal", "-shm", KEY_FILE_SUFFIX)]
        assert {f.name: mode(f) for f in files if f.exists()} == {f.name: 0o600 for f in files if f.exists()}
        assert Path(f"{db}{KEY_FILE_SUFFIX}").exists()


def test_the_database_does_not_hold_the_franking_key(shared_umask: None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "class.sqlite"
        key = run_relay(db)
        raw = database_bytes(db)
        assert key.hex().encode() not in raw
        assert key not in raw
        assert Store(str(db)).get_meta("franking_key") is None


def test_the_franking_key_survives_a_restart(shared_umask: None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "class.sqlite"
        assert Store(str(db)).franking_key() == Store(str(db)).franking_key()


def test_an_old_database_has_its_key_moved_out(shared_umask: None) -> None:
    """A database written before the key had its own file: the key moves to the file
    (reports of old messages still verify), and no byte of the database keeps it."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "class.sqlite"
        old = Store(str(db))
        legacy = os.urandom(32).hex()
        old.set_meta("franking_key", legacy)
        old.set_meta("mode", "e2ee")
        old.close()
        os.chmod(db, 0o644)
        store = Store(str(db))
        assert store.franking_key() == bytes.fromhex(legacy)
        assert store.get_meta("franking_key") is None
        assert store.get_meta("mode") == "e2ee"
        assert legacy.encode() not in database_bytes(db)
        assert mode(db) == 0o600


def test_a_franking_key_file_others_can_read_is_refused(shared_umask: None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "class.sqlite"
        Store(str(db)).franking_key()
        os.chmod(f"{db}{KEY_FILE_SUFFIX}", 0o644)
        with pytest.raises(InvalidKey, match="chmod 600"):
            Store(str(db)).franking_key()
