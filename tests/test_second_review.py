"""The low-severity findings of the second security review, one regression test each.

* a PNG decompression bomb is refused by name before the message is stored;
* a refused message does not pin its sender's directory key in ``contacts``;
* the instructor's mode switch drops no message queued in the other mode;
* a franking platform in plaintext mode takes reports (it refused them all);
* the relay keeps its reports across a restart, so a message cannot be reported twice;
* forward-secrecy sessions survive simultaneous first messages and a restored identity;
* sending again after a send that failed unanswered (but had arrived) never duplicates.
"""

from __future__ import annotations

import secrets
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from toychat import Client, Identity, Server
from toychat.errors import ImageTooLarge, ReplayedMessage, ServiceUnavailable, TamperedMessage
from toychat.franking import FrankingService
from toychat.images import decode_png, encode_png, stand_in_set
from toychat.relay import RelayUnavailable, RemoteServer
from toychat.relay.runner import RunningRelay, serve_in_thread
from toychat.reporting import report_message
from toychat.scanning import HashListScanner


# ---- a PNG decompression bomb ------------------------------------------------------------------
def bomb_png(width: int, height: int) -> bytes:
    """A valid black-and-white PNG of ``width`` × ``height`` zero pixels: a few kilobytes
    that unpack to ``width * height`` pixels (built row by row, never whole in memory)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [5_000, 15_000], ids=["over the course's limit", "over Pillow's bomb limit"])
def test_a_decompression_bomb_is_refused_by_name_before_it_is_stored(side: int) -> None:
    listed = stand_in_set(4)
    server = Server(mode="plaintext", scanners=[HashListScanner(listed)])
    alice, bob = Client("alice", server), Client("bob", server)
    with pytest.raises(ImageTooLarge, match="decompression bomb"):
        alice.send("bob", bomb_png(side, side), content_type="image/png")
    assert server.log == []
    assert server.pending("bob") == 0
    picture = encode_png(listed[0])
    alice.send("bob", picture, content_type="image/png")
    assert [m.data for m in bob.receive()] == [picture]
    assert len(server.flags) == 1


def test_decode_png_refuses_a_bomb_from_its_header() -> None:
    with pytest.raises(ImageTooLarge):
        decode_png(bomb_png(15_000, 15_000))


# ---- contacts ---------------------------------------------------------------------------------
def test_a_refused_message_does_not_pin_the_senders_key() -> None:
    """Trust on first use keeps a contact's keys once a message from them is accepted,
    never because of a message this phone refused."""
    server = Server()
    mallory, bob = Client("mallory", server), Client("bob", server)
    forged = mallory.compose("bob", "hi").with_signature(bytes(64))
    server.inject("bob", forged.to_bytes())
    with pytest.raises(TamperedMessage):
        bob.receive()
    assert "mallory" not in bob.contacts
    mallory.send("bob", "hello for real")
    assert [m.text for m in bob.receive()] == ["hello for real"]
    assert bob.contacts["mallory"] == mallory.public


# ---- the mode switch and reports on a franking platform, on both transports -----------------------
@pytest.fixture(scope="module")
def relay() -> Iterator[RunningRelay]:
    running = serve_in_thread(rate=100_000, burst=100_000, franking=True)
    yield running
    running.stop()


def franking_platform(relay: RunningRelay, transport: str) -> tuple[Server | RemoteServer, Client, Client]:
    server: Server | RemoteServer
    if transport == "in-process":
        server = Server(franking=FrankingService())
    else:
        server = RemoteServer(relay.url, admin_token=relay.admin_token)
    suffix = secrets.token_hex(3)
    return server, Client(f"alice-{suffix}", server), Client(f"bob-{suffix}", server)


def switch(server: Server | RemoteServer, mode: str) -> None:
    server.mode = mode  # type: ignore[assignment]  (the instructor's switch; the relay checks the name)


@pytest.mark.parametrize("transport", ["in-process", "relay"])
def test_a_mode_switch_drops_no_queued_message(relay: RunningRelay, transport: str) -> None:
    server, alice, bob = franking_platform(relay, transport)
    try:
        alice.send(bob.name, "sent end-to-end encrypted")
        switch(server, "plaintext")
        alice.send(bob.name, "sent in plaintext")
        assert [(m.text, m.mode) for m in bob.receive()] == [
            ("sent end-to-end encrypted", "e2ee"),
            ("sent in plaintext", "plaintext"),
        ]
        alice.send(bob.name, "queued in plaintext")
        switch(server, "e2ee")
        assert [(m.text, m.mode) for m in bob.receive()] == [("queued in plaintext", "plaintext")]
        assert bob.rejected == []
    finally:
        switch(server, "e2ee")


@pytest.mark.parametrize("transport", ["in-process", "relay"])
def test_a_franking_platform_in_plaintext_mode_takes_reports(relay: RunningRelay, transport: str) -> None:
    server, alice, bob = franking_platform(relay, transport)
    try:
        before = alice.send(bob.name, "franked end to end")
        switch(server, "plaintext")
        plain = alice.send(bob.name, "a threat, sent in plaintext")
        bob.receive()
        assert report_message(bob, plain.msg_id) == b"a threat, sent in plaintext"
        assert report_message(bob, before.msg_id) == b"franked end to end"
        with pytest.raises(ReplayedMessage):
            report_message(bob, plain.msg_id)
    finally:
        switch(server, "e2ee")


# ---- relay reports across a restart -------------------------------------------------------------
@pytest.mark.integration
def test_relay_reports_survive_a_restart_and_cannot_be_made_again(tmp_path: Path) -> None:
    db = str(tmp_path / "relay.sqlite")
    first = serve_in_thread(db=db, franking=True)
    try:
        remote = RemoteServer(first.url)
        alice, bob = Client("alice", remote), Client("bob", remote)
        sent = alice.send("bob", "report me once")
        bob.receive()
        assert report_message(bob, sent.msg_id) == b"report me once"
        tokens = dict(remote.tokens)
    finally:
        first.stop()
    second = serve_in_thread(db=db, franking=True)
    try:
        bob.server = RemoteServer(second.url, tokens=tokens)
        with pytest.raises(ReplayedMessage):
            report_message(bob, sent.msg_id)
        kept = second.relay.server.report_table()
        assert list(kept["text"]) == ["report me once"]
        assert list(kept["reporter"]) == ["bob"]
    finally:
        second.stop()


# ---- forward-secrecy sessions: simultaneous first messages, a restored identity -------------------
def test_simultaneous_first_messages_leave_the_pair_able_to_talk() -> None:
    """Both send a first forward-secrecy message before either receives one.  As Signal does,
    each phone keeps the older session beside the newer one, so every message opens, in
    every order, and the pair settles on one session."""
    server = Server()
    alice, bob = Client("alice", server, forward_secrecy=True), Client("bob", server, forward_secrecy=True)
    expected: dict[str, list[str]] = {"alice": [], "bob": []}
    rounds = [("alice", "bob"), ("bob",), ("alice", "bob"), ("alice",), ("bob", "alice"), ("alice", "bob")]
    for number, senders in enumerate(rounds):
        for sender in senders:
            other = "bob" if sender == "alice" else "alice"
            text = f"round {number} from {sender}"
            (alice if sender == "alice" else bob).send(other, text)
            expected[other].append(text)
        for device in (alice, bob):
            device.receive()
    assert [m.text for m in alice.inbox] == expected["alice"]
    assert [m.text for m in bob.inbox] == expected["bob"]
    assert alice.rejected == []
    assert bob.rejected == []


def test_a_restored_identity_can_start_again_with_an_existing_contact() -> None:
    """A kernel restart that reloads saved keys loses the forward-secrecy sessions; the
    contact's phone still has its old one.  The new first message starts a new session."""
    server = Server()
    saved = Identity.generate("alice")
    alice = Client("alice", server, identity=saved, forward_secrecy=True)
    bob = Client("bob", server, forward_secrecy=True)
    alice.send("bob", "before the restart")
    assert [m.text for m in bob.receive()] == ["before the restart"]
    bob.send("alice", "hi Alice")
    alice.receive()
    restarted = Client("alice", server, identity=saved, forward_secrecy=True)  # same keys, no sessions
    restarted.send("bob", "after the restart")
    assert [m.text for m in bob.receive()] == ["after the restart"]
    bob.send("alice", "welcome back")
    assert [m.text for m in restarted.receive()] == ["welcome back"]


# ---- a send reported as failed that had in fact arrived ------------------------------------------
class AnswerLost(Server):
    """A platform that stores the next message, then goes down before answering."""

    drop_next_answer = False

    def submit(self, name: str, record: bytes) -> str:
        msg_id = super().submit(name, record)
        if self.drop_next_answer:
            self.drop_next_answer = False
            raise ServiceUnavailable("the server went down before answering: try again.")
        return msg_id


class AnswerLostRemote(RemoteServer):
    """The class relay, reached through a network that loses the answer to the next message."""

    drop_next_answer = False

    def submit(self, name: str, record: bytes) -> str:
        msg_id = super().submit(name, record)
        if self.drop_next_answer:
            self.drop_next_answer = False
            raise RelayUnavailable("cannot reach the class relay (the connection dropped).")
        return msg_id


@pytest.mark.parametrize("forward_secrecy", [False, True], ids=["static keys", "forward secrecy"])
@pytest.mark.parametrize("transport", ["in-process", "relay"])
def test_sending_again_after_an_unanswered_send_never_duplicates(
    relay: RunningRelay, transport: str, forward_secrecy: bool
) -> None:
    server = AnswerLost() if transport == "in-process" else AnswerLostRemote(relay.url)
    suffix = secrets.token_hex(3)
    alice = Client(f"alice-{suffix}", server, forward_secrecy=forward_secrecy)
    bob = Client(f"bob-{suffix}", server, forward_secrecy=forward_secrecy)
    server.drop_next_answer = True
    with pytest.raises(ServiceUnavailable):
        alice.send(bob.name, "did this arrive?")
    again = alice.send(bob.name, "did this arrive?")  # what a learner does: send it again
    new = alice.send(bob.name, "and a new one")
    assert [(m.msg_id, m.text) for m in bob.receive()] == [
        (again.msg_id, "did this arrive?"),
        (new.msg_id, "and a new one"),
    ]
    assert bob.rejected == []
    assert [e.msg_id for e in alice.sent] == [again.msg_id, new.msg_id]
