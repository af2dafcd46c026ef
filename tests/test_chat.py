"""The toy chat end to end: server, client, and every way a message can go wrong."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toychat import (
    Client,
    Envelope,
    Identity,
    MalformedEnvelope,
    MisaddressedMessage,
    RegistrationError,
    ReplayedMessage,
    Server,
    SimulatedClock,
    TamperedMessage,
    ToyChatError,
    UnknownRecipient,
    UnknownSender,
)

MODES = ["e2ee", "plaintext"]


def world(mode: str = "e2ee") -> tuple[Server, Client, Client]:
    server = Server(mode=mode, clock=SimulatedClock(start=1_000.0, step=1.0))
    alice = Client("alice", server, identity=Identity.from_label("alice", "tests"))
    bob = Client("bob", server, identity=Identity.from_label("bob", "tests"))
    return server, alice, bob


# ---- it works ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_round_trip(mode: str) -> None:
    server, alice, bob = world(mode)
    alice.send("bob", "hello Bob")
    bob.send("alice", "hi Alice ✓")
    [to_bob] = bob.receive()
    [to_alice] = alice.receive()
    assert (to_bob.sender, to_bob.text, to_bob.mode) == ("alice", "hello Bob", mode)
    assert to_alice.text == "hi Alice ✓"
    assert bob.inbox == [to_bob]
    assert bob.receive() == []  # delivered once


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=2000), st.sampled_from(MODES))
def test_any_text_round_trips(text: str, mode: str) -> None:
    _, alice, bob = world(mode)
    alice.send("bob", text)
    assert [m.text for m in bob.receive()] == [text]


def test_timestamps_come_from_the_clock() -> None:
    server, alice, bob = world()
    first = alice.send("bob", "one")
    second = alice.send("bob", "two")
    # One shared clock: Alice's device reads it to stamp, the server to log receipt.
    assert (first.timestamp, second.timestamp) == (1000.0, 1002.0)
    assert [(e.sent_at, e.received_at) for e in server.log] == [(1000.0, 1001.0), (1002.0, 1003.0)]


# ---- what the server sees -------------------------------------------------------------
def test_plaintext_platform_server_reads_everything() -> None:
    server, alice, _ = world("plaintext")
    alice.send("bob", "meet at the library at 6")
    [entry] = server.log
    assert entry.content_seen == "meet at the library at 6"
    assert Envelope.from_bytes(entry.envelope).payload == b"meet at the library at 6"


def test_e2ee_server_sees_metadata_but_not_content() -> None:
    server, alice, _ = world("e2ee")
    alice.send("bob", "meet at the library at 6")
    [entry] = server.log
    assert (entry.sender, entry.recipient, entry.mode) == ("alice", "bob", "e2ee")
    assert entry.size_bytes == len("meet at the library at 6") + 16
    assert "library" not in entry.content_seen
    assert entry.content_seen.startswith("ciphertext ")
    assert b"library" not in entry.envelope
    table = server.log_table()
    assert list(table.columns) == [
        "received_at",
        "sender",
        "recipient",
        "sent_at",
        "size_bytes",
        "content_seen",
        "msg_id",
    ]
    assert str(table["sent_at"].dtype).startswith("datetime64")
    assert not table["content_seen"].str.contains("library").any()


def test_same_text_twice_gives_unrelated_ciphertexts() -> None:
    _, alice, _ = world("e2ee")
    one, two = alice.send("bob", "same words"), alice.send("bob", "same words")
    assert one.nonce != two.nonce
    assert one.payload != two.payload


def test_transport_hides_content_even_on_the_plaintext_platform() -> None:
    server, alice, _ = world("plaintext")
    raw = alice.compose("bob", "secret plan").to_bytes()
    record = alice.channel.seal(raw)
    assert b"secret plan" not in record
    assert server.submit("alice", record)


def test_scanner_hook_sees_plaintext_only_on_the_plaintext_platform() -> None:
    def keyword_scanner(envelope: Envelope) -> str | None:
        return "keyword" if b"forbidden" in envelope.payload else None

    for mode, expected in (("plaintext", 1), ("e2ee", 0)):
        server, alice, _ = world(mode)
        server.scanners.append(keyword_scanner)
        alice.send("bob", "a forbidden word")
        alice.send("bob", "nothing here")
        assert len(server.flags) == expected
        if expected:
            assert server.flags[0].scanner == "keyword_scanner"


# ---- named errors ---------------------------------------------------------------------
def test_unknown_recipient() -> None:
    _, alice, _ = world()
    with pytest.raises(UnknownRecipient, match="carol"):
        alice.send("carol", "hi")


def test_registration_conflict() -> None:
    server, _, _ = world()
    with pytest.raises(RegistrationError, match="already registered"):
        Client("bob", server)  # new random keys for a taken name
    server.register(Identity.from_label("bob", "tests").public)  # same keys: harmless


@pytest.mark.parametrize("mode", MODES)
def test_server_refuses_replay(mode: str) -> None:
    server, alice, bob = world(mode)
    envelope = alice.send("bob", "pay Bob £10")
    with pytest.raises(ReplayedMessage, match="replay"):
        alice.submit_raw(envelope.to_bytes())
    assert len(server.log) == 1
    assert server.pending("bob") == 1


@pytest.mark.parametrize("mode", MODES)
def test_client_refuses_replay_injected_by_server(mode: str) -> None:
    server, alice, bob = world(mode)
    envelope = alice.send("bob", "pay Bob £10")
    bob.receive()
    server.inject("bob", envelope.to_bytes())
    with pytest.raises(ReplayedMessage):
        bob.receive()
    assert [m.text for m in bob.inbox] == ["pay Bob £10"]


def test_misaddressed() -> None:
    server, alice, bob = world()
    Client("carol", server)
    envelope = alice.compose("carol", "for Carol only")
    with pytest.raises(MisaddressedMessage, match="carol"):
        bob.open_envelope(envelope.to_bytes())


def test_readdressing_breaks_the_signature() -> None:
    server, alice, bob = world()
    Client("carol", server)
    envelope = alice.compose("carol", "for Carol only")
    readdressed = dataclasses.replace(envelope, recipient="bob")
    with pytest.raises(TamperedMessage, match="signature"):
        bob.open_envelope(readdressed)
    with pytest.raises(TamperedMessage):
        alice.submit_raw(readdressed.to_bytes())


def test_impersonation_refused_by_server_and_client() -> None:
    server, alice, bob = world()
    mallory = Client("mallory", server)
    forged = dataclasses.replace(mallory.compose("bob", "it's Alice, send money"), sender="alice")
    forged = forged.with_signature(mallory.identity.signing_private.sign(forged.signed_bytes()).signature)
    with pytest.raises(TamperedMessage, match="someone else's name"):
        mallory.submit_raw(forged.to_bytes())
    server.inject("bob", forged.to_bytes())
    with pytest.raises(TamperedMessage):
        bob.receive()
    assert bob.inbox == []


def test_unknown_sender() -> None:
    server, alice, bob = world()
    elsewhere = Server(mode="e2ee")  # a stranger registered on another server only
    stranger = Client("stranger", elsewhere)
    elsewhere.register(bob.public)
    raw = stranger.compose("bob", "hi").to_bytes()
    with pytest.raises(UnknownSender, match="stranger"):
        bob.open_envelope(raw)


def test_unsigned_envelope() -> None:
    _, alice, bob = world()
    unsigned = alice.compose("bob", "hi").with_signature(b"")
    with pytest.raises(TamperedMessage, match="not signed"):
        bob.open_envelope(unsigned.to_bytes())
    with pytest.raises(TamperedMessage, match="not signed"):
        alice.submit_raw(unsigned.to_bytes())


def test_ciphertext_tampered_and_resigned_by_sender_fails_decryption() -> None:
    # Even the sender's own valid signature cannot make altered ciphertext decrypt.
    _, alice, bob = world()
    envelope = alice.compose("bob", "hello")
    flipped = bytes([envelope.payload[0] ^ 1]) + envelope.payload[1:]
    forged = dataclasses.replace(envelope, payload=flipped)
    forged = forged.with_signature(alice.identity.signing_private.sign(forged.signed_bytes()).signature)
    with pytest.raises(TamperedMessage, match="authentication tag"):
        bob.open_envelope(forged.to_bytes())


def test_mode_mismatch() -> None:
    e2ee_server, alice, _ = world("e2ee")
    plain_server, _, plain_bob = world("plaintext")
    envelope = alice.compose("bob", "hi")
    with pytest.raises(MalformedEnvelope, match="platform"):
        plain_server.accept(envelope.to_bytes(), authenticated_as="alice")


def test_truncated_envelope() -> None:
    _, alice, bob = world()
    raw = alice.compose("bob", "hello").to_bytes()
    for cut in (0, 1, len(raw) // 2, len(raw) - 1):
        with pytest.raises(MalformedEnvelope):
            bob.open_envelope(raw[:cut])


def test_transport_record_tampered_or_truncated() -> None:
    server, alice, _ = world()
    record = alice.channel.seal(alice.compose("bob", "hello").to_bytes())
    with pytest.raises(TamperedMessage, match="in transit"):
        server.submit("alice", record[:-1] + bytes([record[-1] ^ 1]))
    with pytest.raises(MalformedEnvelope, match="truncated"):
        server.submit("alice", record[:10])
    assert server.log == []


def test_nothing_is_lost_when_one_message_in_a_batch_is_bad() -> None:
    server, alice, bob = world()
    alice.send("bob", "first")
    server.inject("bob", b"garbage")
    alice.send("bob", "third")
    with pytest.raises(MalformedEnvelope) as info:
        bob.receive()
    assert "2 good message(s) were delivered" in "".join(info.value.__notes__)
    assert [m.text for m in bob.inbox] == ["first", "third"]
    assert len(bob.rejected) == 1
    assert isinstance(bob.rejected[0].error, MalformedEnvelope)
    alice.send("bob", "fourth")
    server.inject("bob", b"more garbage")
    assert [m.text for m in bob.receive(strict=False)] == ["fourth"]
    assert len(bob.rejected) == 2


# ---- properties over random damage ----------------------------------------------------
RECIPIENT_ERRORS = (MalformedEnvelope, TamperedMessage, MisaddressedMessage, UnknownSender)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(MODES), st.text(max_size=60), st.data())
def test_every_bit_flip_is_caught_with_a_named_error(mode: str, text: str, data: st.DataObject) -> None:
    """Flip one random bit anywhere in a genuine envelope: the recipient and the
    server both refuse it with a named error, and nothing is delivered."""
    server, alice, bob = world(mode)
    raw = bytearray(alice.compose("bob", text).to_bytes())
    position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1), label="byte")
    raw[position] ^= 1 << data.draw(st.integers(min_value=0, max_value=7), label="bit")
    with pytest.raises(RECIPIENT_ERRORS):
        bob.open_envelope(bytes(raw))
    with pytest.raises(RECIPIENT_ERRORS + (UnknownRecipient,)):
        alice.submit_raw(bytes(raw))
    assert server.log == []
    assert server.pending("bob") == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_in_the_mailbox_never_crash_the_client(junk: bytes) -> None:
    server, alice, bob = world()
    server.inject("bob", junk)
    alice.send("bob", "still here")
    delivered = bob.receive(strict=False)
    assert [m.text for m in delivered] == ["still here"]
    assert len(bob.rejected) == 1
    assert isinstance(bob.rejected[0].error, ToyChatError)


@pytest.mark.parametrize("mode", MODES)
def test_images_travel_as_png_attachments(mode: str) -> None:
    from toychat.images import decode_png, encode_png, stand_in_set

    server, alice, bob = world(mode)
    picture = stand_in_set(1)[0]
    alice.send("bob", encode_png(picture), content_type="image/png")
    [message] = bob.receive()
    assert message.content_type == "image/png"
    assert message.text.startswith("[image/png")
    assert np.array_equal(decode_png(message.data), picture)
    seen = server.log[0].content_seen
    assert ("readable" in seen) if mode == "plaintext" else seen.startswith("ciphertext")


def test_content_type_checks() -> None:
    _, alice, bob = world()
    with pytest.raises(TypeError):
        alice.compose("bob", b"bytes without a type")
    with pytest.raises(ValueError, match="content_type"):
        alice.compose("bob", b"x", content_type="application/zip")
    with pytest.raises(TypeError):
        alice.compose("bob", "text", content_type="image/png")


# ---- forward secrecy in the chat ------------------------------------------------------
def test_forward_secrecy_chat_round_trips_both_ways() -> None:
    server = Server()
    alice = Client("alice", server, forward_secrecy=True)
    bob = Client("bob", server, forward_secrecy=True)
    for i in range(5):
        alice.send("bob", f"a{i}")
        alice.send("bob", f"a{i}'")
        assert [m.text for m in bob.receive()] == [f"a{i}", f"a{i}'"]
        bob.send("alice", f"b{i}")
        assert [m.text for m in alice.receive()] == [f"b{i}"]
    envelope = server.log[-1]
    assert "ratchet" in Envelope.from_bytes(envelope.envelope).extras
    assert "ephemeral" not in Envelope.from_bytes(server.log[-2].envelope).extras  # session established


def test_forward_secrecy_refusals() -> None:
    server = Server()
    alice = Client("alice", server, forward_secrecy=True)
    bob = Client("bob", server)
    first = alice.compose("bob", "one")
    second = alice.compose("bob", "two")
    stripped = dataclasses.replace(second, extras={k: v for k, v in second.extras.items() if k != "ephemeral"})
    stripped = stripped.with_signature(alice.identity.signing_private.sign(stripped.signed_bytes()).signature)
    with pytest.raises(TamperedMessage, match="session"):
        bob.open_envelope(stripped)  # no session yet, and no ephemeral key to start one
    assert bob.open_envelope(first).text == "one"
    assert bob.open_envelope(second).text == "two"
    with pytest.raises(ReplayedMessage):
        bob.open_envelope(second)
    flipped = dataclasses.replace(alice.compose("bob", "three"), nonce=bytes(24))
    flipped = flipped.with_signature(alice.identity.signing_private.sign(flipped.signed_bytes()).signature)
    with pytest.raises(TamperedMessage):
        bob.open_envelope(flipped)
