"""Reading one large mailbox does not stall everyone else on the relay.

The relay serves one request at a time (a tornado event loop), and one mailbox
request returns at most one page (:data:`~toychat.relay.limits.MAX_PAGE_BYTES`,
8 MiB). So a student draining a mailbox of many pages holds the relay for one
page at a time, and another student's send-and-receive gets its turn between
pages instead of waiting for the whole mailbox.

The test asserts this as an *order of events*, never as milliseconds, so a
loaded 2-core CI machine cannot make it flaky: Bob's mailbox holds several pages;
Carol and Dave exchange a message while Bob drains it, and must be done **before
Bob has his last page**. The slack is several pages: a request of Carol's or
Dave's waits for at most the one page being served when it arrives. A relay
that served a mailbox in one response (as before the bound) fails: Dave's message
then arrives only after all of Bob's mail.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from benchmarks.relay_load import RelayProcess
from toychat import Client
from toychat.relay import RemoteServer
from toychat.relay.limits import MAX_PAGE_BYTES
from toychat.wire import MAX_PAYLOAD_BYTES

pytestmark = pytest.mark.integration

#: Messages of almost the largest payload; each envelope is over 1 MiB once encrypted and encoded.
BIG_MESSAGES = 40
#: Senders that fill Bob's mailbox, so no one of them reaches the per-sender quota (64 MiB).
FILLERS = 2


def drain(remote: RemoteServer, name: str, started: threading.Event, pages: list[tuple[float, int]]) -> None:
    """Fetch ``name``'s mailbox page by page until it is empty, noting when each page arrived."""
    while True:
        records = remote.fetch(name)
        started.set()
        if not records:
            return
        pages.append((time.monotonic(), sum(len(r) for r in records)))


def exchange_while_bob_reads(url: str) -> tuple[list[tuple[float, int]], float, float]:
    """Fill Bob's mailbox, drain it in one thread, and have Carol send Dave a message meanwhile.

    Returns Bob's pages (arrival time, bytes), and when Carol started and Dave had her message.
    """
    fillers = [Client(f"filler{i}", RemoteServer(url)) for i in range(FILLERS)]
    bob_remote = RemoteServer(url)
    bob = Client("bob", bob_remote)
    carol, dave = Client("carol", RemoteServer(url)), Client("dave", RemoteServer(url))
    carol.lookup("dave")  # first contact done beforehand: the exchange is one send and one receive
    big = "x" * (MAX_PAYLOAD_BYTES - 4096)
    for i in range(BIG_MESSAGES):
        fillers[i % FILLERS].send(bob.name, big)

    pages: list[tuple[float, int]] = []
    first_page = threading.Event()
    reader = threading.Thread(target=drain, args=(bob_remote, bob.name, first_page, pages), daemon=True)
    reader.start()
    assert first_page.wait(120), "Bob's first page never came"
    carol_started = time.monotonic()
    sent = carol.send(dave.name, "hello while Bob reads")
    got = dave.receive()
    dave_done = time.monotonic()
    reader.join(300)
    assert not reader.is_alive(), "Bob's mailbox did not drain"
    assert [m.msg_id for m in got] == [sent.msg_id]
    return pages, carol_started, dave_done


def test_others_are_served_between_the_pages_of_a_large_mailbox(tmp_path: Path) -> None:
    relay = RelayProcess(db=tmp_path / "class.sqlite", log_path=tmp_path / "relay.log")
    relay.start()
    try:
        pages, carol_started, dave_done = exchange_while_bob_reads(relay.url)
    finally:
        relay.stop()
    total = sum(size for _, size in pages)
    # the premise: Bob's mail is several pages, each within the bound
    assert total > 4 * MAX_PAGE_BYTES, total
    assert all(size <= MAX_PAGE_BYTES for _, size in pages)
    assert len(pages) >= 5, [size for _, size in pages]
    # the property: Carol's message reached Dave while Bob still had pages to come
    after = [t for t, _ in pages if t > dave_done]
    assert after, (
        f"Dave had Carol's message only after Bob's last page ({len(pages)} pages): "
        "the relay held everyone while one mailbox was read"
    )
    during = [t for t, _ in pages if carol_started < t <= dave_done]
    print(
        f"Bob's {len(pages)} pages ({total / 2**20:.1f} MiB): Carol→Dave took "
        f"{dave_done - carol_started:.2f} s, during which {len(during)} of his pages arrived "
        f"and {len(after)} came after (measured on this machine, under its load)"
    )
