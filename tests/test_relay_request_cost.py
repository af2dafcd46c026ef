"""The relay's work per request, counted rather than timed (issue 31): a page of a mailbox is read
in one SQLite statement.  Nothing here starts a server."""

from __future__ import annotations

import pytest

from toychat.relay.store import Store
from toychat.server import SeenByServer


def _fill(store: Store, count: int, size: int = 100) -> None:
    """``count`` messages from alice waiting for bob, each envelope ``size`` bytes."""
    for i in range(count):
        entry = SeenByServer(1.0 + i, f"m{i}", "e2ee", "alice", "bob", 1.0 + i, size, "ciphertext", b"x" * size)
        store.save_accepted(entry, None)


def _statements(store: Store) -> list[str]:
    """Every SQL statement ``store`` runs from now on (a list that fills as they run)."""
    seen: list[str] = []
    store.db.set_trace_callback(seen.append)
    return seen


@pytest.mark.parametrize("waiting", [1, 5, 20])
def test_a_mailbox_page_is_read_in_one_statement(waiting: int) -> None:
    store = Store(":memory:")
    _fill(store, waiting)
    seen = _statements(store)
    page = store.mailbox("bob", 10)
    assert [q.msg_id for q in page] == [f"m{i}" for i in range(min(waiting, 10))]
    assert all(q.envelope == b"x" * 100 for q in page)
    assert len(seen) == 1


def test_the_byte_limit_still_ends_a_page_early() -> None:
    store = Store(":memory:")
    _fill(store, 6, size=1000)
    assert [q.msg_id for q in store.mailbox("bob", 10, max_bytes=2500)] == ["m0", "m1"]
    assert len(store.mailbox("bob", 10, max_bytes=10)) == 1  # always the first waiting message
