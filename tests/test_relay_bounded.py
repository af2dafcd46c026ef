"""The relay is bounded: per-user quotas, byte-bounded mailbox pages, no history in memory.

* A message that would take a mailbox (or what one sender has waiting) over the
  quota is refused with :class:`~toychat.relay.MailboxFull`, HTTP 409, and
  stored nowhere; once the recipient reads their mail, sending works again.
* One mailbox request returns at most :data:`~toychat.relay.limits.MAX_PAGE_BYTES`
  of envelopes (but always one message), read row by row from SQLite.
* The relay's log and the ids of accepted messages stay in SQLite: memory does
  not grow with the number of messages relayed, and a restart loads none of it.
"""

from __future__ import annotations

import gc
import secrets
import tracemalloc
from pathlib import Path

import pytest

from toychat import Client
from toychat.errors import ReplayedMessage
from toychat.relay import MailboxFull, RemoteServer
from toychat.relay.api import Relay
from toychat.relay.app import build_relay
from toychat.relay.limits import MAX_PAGE_BYTES, Quota
from toychat.relay.runner import serve_in_thread
from toychat.relay.store import Store, StoredLog
from toychat.wire import MAX_PAYLOAD_BYTES

# Starts the relay (a server on loopback): left out of the fast loop.
pytestmark = pytest.mark.integration


def test_a_full_mailbox_refuses_by_name_with_409_and_stores_nothing() -> None:
    with serve_in_thread(rate=100_000, burst=100_000) as running:
        running.relay.server.quota = Quota(
            mailbox_messages=3, mailbox_bytes=10**9, sender_messages=2, sender_bytes=10**9
        )
        remote = RemoteServer(running.url, admin_token=running.admin_token)
        suffix = secrets.token_hex(3)
        alice, carol, bob = (Client(f"{n}-{suffix}", remote) for n in ("alice", "carol", "bob"))
        alice.send(bob.name, "one")
        alice.send(bob.name, "two")
        with pytest.raises(MailboxFull, match="waiting undelivered") as by_sender:
            alice.send(bob.name, "three: over alice's share")
        assert by_sender.value.status == 409  # type: ignore[attr-defined]
        carol.send(bob.name, "from carol")
        with pytest.raises(MailboxFull, match="mailbox is full") as by_mailbox:
            carol.send(bob.name, "over bob's mailbox")
        assert by_mailbox.value.status == 409  # type: ignore[attr-defined]
        assert remote.server_view()["messages_total"] == 3
        assert [m.text for m in bob.receive()] == ["one", "two", "from carol"]
        bob.receive()  # acknowledges: the mailbox is empty again
        alice.send(bob.name, "after bob read his mail")
        assert [m.text for m in bob.receive()] == ["after bob read his mail"]


def test_the_byte_quota_refuses_a_message_that_does_not_fit() -> None:
    relay = build_relay(quota=Quota(mailbox_bytes=4_000))
    alice, _ = Client("alice", relay.server), Client("bob", relay.server)
    alice.send("bob", "small")
    with pytest.raises(MailboxFull, match="mailbox is full"):
        alice.send("bob", "x" * 4_000)
    assert relay.server.pending("bob") == 1


def test_a_mailbox_page_is_bounded_in_bytes() -> None:
    relay = build_relay()
    alice, _ = Client("alice", relay.server), Client("bob", relay.server)
    big = "x" * (MAX_PAYLOAD_BYTES - 64)
    for _ in range(8):
        alice.send("bob", big)
    page = relay.server.mailbox("bob")
    assert 1 <= len(page) < 8
    assert sum(len(q.envelope) for q in page) <= MAX_PAGE_BYTES
    assert len(relay.server.store.mailbox("bob", 100, max_bytes=1)) == 1  # always one message


def relay_messages(relay: Relay, alice: Client, count: int) -> None:
    """``count`` messages from Alice to Bob through the relay's platform, each delivered and acknowledged."""
    server = relay.server
    for _ in range(count):
        server.accept(alice.compose("bob", "a message of ordinary length").to_bytes(), authenticated_as="alice")
        server.acknowledge("bob", [q.id for q in server.mailbox("bob")])


def test_relay_memory_does_not_grow_with_its_history() -> None:
    relay = build_relay(franking=True)  # SQLite's memory is not Python's: tracemalloc sees the relay's objects
    alice, _ = Client("alice", relay.server), Client("bob", relay.server)
    relay_messages(relay, alice, 50)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        relay_messages(relay, alice, 400)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 60_000  # bytes for 400 messages; keeping the history in memory took about 1 KB each
    assert len(relay.server.log) == 450
    assert relay.server.log[-1].sender == "alice"


def test_a_restart_loads_no_history_and_still_refuses_replays(tmp_path: Path) -> None:
    db = str(tmp_path / "relay.sqlite")
    relay = build_relay(db=db)
    alice, _ = Client("alice", relay.server), Client("bob", relay.server)
    first = alice.compose("bob", "first")
    relay.server.accept(first.to_bytes(), authenticated_as="alice")
    relay_messages(relay, alice, 3)
    relay.server.store.close()
    again = build_relay(db=db).server
    assert isinstance(again.log, StoredLog)
    assert len(again.log) == 4
    assert [e.msg_id for e in again.log[-2:]] == [e.msg_id for e in list(again.log)[-2:]]
    assert again.log[0].msg_id == first.msg_id
    with pytest.raises(ReplayedMessage):
        again.accept(first.to_bytes(), authenticated_as="alice")


def test_a_database_from_before_gains_the_quota_columns(tmp_path: Path) -> None:
    """An older relay's mailbox rows had no sender or size: they are filled in from the log."""
    db = str(tmp_path / "relay.sqlite")
    relay = build_relay(db=db)
    alice, _ = Client("alice", relay.server), Client("bob", relay.server)
    alice.send("bob", "queued by an older relay")
    store = relay.server.store
    with store.db:  # the schema of that relay: no quota columns, one index on the recipient
        store.db.execute("DROP INDEX mailbox_by_sender_size")
        store.db.execute("DROP INDEX mailbox_by_recipient_size")
        store.db.execute("ALTER TABLE mailbox DROP COLUMN sender")
        store.db.execute("ALTER TABLE mailbox DROP COLUMN size")
        store.db.execute("CREATE INDEX mailbox_by_recipient ON mailbox (recipient, id)")
    store.close()
    again = build_relay(db=db).server
    usage = again.store.usage(sender="alice")
    assert usage.messages == 1
    assert usage.bytes == len(again.mailbox("bob")[0].envelope)
    assert _mailbox_indexes(again.store) == {"mailbox_by_recipient_size", "mailbox_by_sender_size"}


def _mailbox_indexes(store: Store) -> set[str]:
    rows = store.db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'mailbox'")
    return {str(name) for (name,) in rows}


@pytest.mark.parametrize("column", ["recipient", "sender"])
def test_the_quota_check_of_a_send_reads_the_index_alone(tmp_path: Path, column: str) -> None:
    """Every send counts what waits for its recipient and from its sender: from an index that
    carries the sizes, not by reading each waiting row (with its envelope) from the table."""
    store = build_relay(db=str(tmp_path / "relay.sqlite")).server.store
    plan = store.db.execute(
        f"EXPLAIN QUERY PLAN SELECT COUNT(*), COALESCE(SUM(size), 0) FROM mailbox WHERE {column} = ?", ("x",)
    ).fetchall()
    assert f"USING COVERING INDEX mailbox_by_{column}_size" in " ".join(str(row[-1]) for row in plan)


def test_a_database_with_the_earlier_indexes_gets_the_covering_ones(tmp_path: Path) -> None:
    db = str(tmp_path / "relay.sqlite")
    store = build_relay(db=db).server.store
    with store.db:  # the indexes of the version before: no sizes in them
        store.db.execute("DROP INDEX mailbox_by_sender_size")
        store.db.execute("DROP INDEX mailbox_by_recipient_size")
        store.db.execute("CREATE INDEX mailbox_by_recipient ON mailbox (recipient, id)")
        store.db.execute("CREATE INDEX mailbox_by_sender ON mailbox (sender)")
    store.close()
    assert _mailbox_indexes(build_relay(db=db).server.store) == {"mailbox_by_recipient_size", "mailbox_by_sender_size"}
