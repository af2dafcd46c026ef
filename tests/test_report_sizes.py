"""Every message the platform accepted can be reported, whatever its size.

A report carries the whole message (base64 in JSON over the relay), so a
report endpoint sized for small requests made every picture unreportable over
the relay while it worked in process.  Hypothesis draws the message size from
0 bytes up to the largest message the platform accepts, on both transports
(the in-process :class:`~toychat.server.Server` and the HTTP relay through
:class:`~toychat.relay.RemoteServer`), and reports it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from toychat import Client, Server
from toychat.errors import MalformedEnvelope
from toychat.franking import FRANKING_KEY_SIZE, FrankingService
from toychat.relay import RemoteServer
from toychat.relay.runner import RunningRelay, serve_in_thread
from toychat.reporting import report_message
from toychat.wire import MAX_PAYLOAD_BYTES

#: Poly1305 tag of the static Box: what encryption adds to the franking key and the text.
BOX_TAG = 16
#: The longest text an E2EE franking platform accepts: the payload is franking key + text + tag.
LARGEST = MAX_PAYLOAD_BYTES - FRANKING_KEY_SIZE - BOX_TAG


@pytest.fixture(scope="module")
def relay() -> Iterator[RunningRelay]:
    running = serve_in_thread(rate=100_000, burst=100_000, franking=True)
    yield running
    running.stop()


def pair(relay: RunningRelay, transport: str) -> tuple[Client, Client]:
    server = Server(franking=FrankingService()) if transport == "in-process" else RemoteServer(relay.url)
    suffix = secrets.token_hex(4)
    return Client(f"alice-{suffix}", server), Client(f"bob-{suffix}", server)


@pytest.mark.parametrize("transport", ["in-process", "relay"])
@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(0, LARGEST))
@example(size=0)
@example(size=48 * 1024)
@example(size=64 * 1024)
@example(size=LARGEST)
def test_a_message_of_any_accepted_size_can_be_reported(relay: RunningRelay, transport: str, size: int) -> None:
    alice, bob = pair(relay, transport)
    text = "x" * size
    sent = alice.send(bob.name, text)
    bob.receive()
    assert report_message(bob, sent.msg_id) == text.encode()


@pytest.mark.parametrize("transport", ["in-process", "relay"])
def test_the_largest_reportable_message_is_the_largest_accepted_one(relay: RunningRelay, transport: str) -> None:
    """One byte more than :data:`LARGEST` is refused when sent: the sizes above cover the whole range."""
    alice, bob = pair(relay, transport)
    with pytest.raises(MalformedEnvelope):
        alice.send(bob.name, "x" * (LARGEST + 1))
