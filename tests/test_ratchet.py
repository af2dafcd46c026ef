"""The Double Ratchet: round trips with loss and reordering, tamper and replay
refusals that leave the state unchanged, forward secrecy and post-compromise recovery."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toychat import Identity
from toychat.errors import MalformedEnvelope, ReplayedMessage, TamperedMessage, TooManySkipped, ToyChatError
from toychat.ratchet import (
    DoubleRatchet,
    Header,
    KDFChain,
    hkdf,
    initiator_secret,
    kdf_ck,
    read_with_snapshot,
    responder_secret,
)


def pair(max_skip: int = 100) -> tuple[DoubleRatchet, DoubleRatchet]:
    alice, bob = Identity.generate("alice"), Identity.generate("bob")
    secret, ephemeral = initiator_secret(alice, bob.public)
    assert responder_secret(bob, alice.public, ephemeral) == secret
    return (
        DoubleRatchet.initiator(secret, bob.public.encryption_key, max_skip=max_skip),
        DoubleRatchet.responder(secret, bob.box_private, max_skip=max_skip),
    )


def test_hkdf_rfc5869_test_case_1() -> None:
    okm = hkdf(
        bytes.fromhex("0b" * 22),
        salt=bytes.fromhex("000102030405060708090a0b0c"),
        info=bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        length=42,
    )
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")


def test_kdf_ck_constants_and_chain() -> None:
    ck = bytes(range(32))
    next_ck, mk = kdf_ck(ck)
    assert mk == hmac.new(ck, b"\x01", hashlib.sha256).digest()
    assert next_ck == hmac.new(ck, b"\x02", hashlib.sha256).digest()
    chain = KDFChain(ck)
    keys = [chain.step() for _ in range(50)]
    assert len(set(keys)) == 50
    assert keys[0] == mk
    assert chain.steps == 50


def test_alternating_conversation() -> None:
    alice, bob = pair()
    for round_ in range(20):
        h, c = alice.encrypt(f"a{round_}".encode(), b"ad")
        assert bob.decrypt(h, c, b"ad") == f"a{round_}".encode()
        for k in range(round_ % 3):
            h, c = bob.encrypt(f"b{round_}.{k}".encode())
            assert alice.decrypt(h, c) == f"b{round_}.{k}".encode()


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_random_loss_and_reordering(data: st.DataObject) -> None:
    alice, bob = pair()
    for turn in range(data.draw(st.integers(1, 4), label="turns")):
        sender, receiver, name = (alice, bob, "a") if turn % 2 == 0 else (bob, alice, "b")
        batch = [
            (f"{name}{turn}.{i}", *sender.encrypt(f"{name}{turn}.{i}".encode()))
            for i in range(data.draw(st.integers(1, 8), label="batch"))
        ]
        delivered = data.draw(st.permutations(batch), label="order")
        drop = data.draw(st.sets(st.integers(0, len(batch) - 1), max_size=len(batch) - 1), label="drop")
        for index, (text, header, ciphertext) in enumerate(delivered):
            if index in drop:
                continue
            assert receiver.decrypt(header, ciphertext) == text.encode()
            with pytest.raises(ReplayedMessage):
                receiver.decrypt(header, ciphertext)


def test_tampering_is_caught_and_leaves_the_state_unchanged() -> None:
    alice, bob = pair()
    header, ciphertext = alice.encrypt(b"pay 10", b"alice->bob")
    for bad in (
        (header, ciphertext[:-1] + bytes([ciphertext[-1] ^ 1]), b"alice->bob"),
        (header, ciphertext, b"alice->carol"),
        (Header(header.dh_public, header.previous_chain_length, header.message_number + 1), ciphertext, b"alice->bob"),
    ):
        with pytest.raises(TamperedMessage):
            bob.decrypt(*bad)
    with pytest.raises(MalformedEnvelope):
        Header.from_bytes(header.to_bytes()[:-1])
    with pytest.raises(MalformedEnvelope):
        bob.decrypt(header, ciphertext[:10], b"alice->bob")
    assert bob.decrypt(header, ciphertext, b"alice->bob") == b"pay 10"  # the genuine one still works


def test_skip_limit() -> None:
    alice, bob = pair(max_skip=5)
    messages = [alice.encrypt(f"{i}".encode()) for i in range(8)]
    with pytest.raises(TooManySkipped):
        bob.decrypt(*messages[7])
    assert bob.decrypt(*messages[5]) == b"5"  # within the limit; state was untouched
    assert bob.decrypt(*messages[7]) == b"7"


def test_responder_cannot_send_first() -> None:
    _, bob = pair()
    with pytest.raises(ToyChatError):
        bob.encrypt(b"hi")


def test_forward_secrecy_stolen_state_opens_no_delivered_message() -> None:
    alice, bob = pair()
    recorded = [(*alice.encrypt(f"m{i}".encode()), b"") for i in range(12)]
    undelivered = {3, 7}
    for i, (header, ciphertext, ad) in enumerate(recorded):
        if i not in undelivered:
            bob.decrypt(header, ciphertext, ad)
    stolen = bob.snapshot()
    opened = read_with_snapshot(stolen, recorded)
    assert [i for i, text in enumerate(opened) if text is not None] == sorted(undelivered)


def test_static_keys_would_open_everything_for_comparison() -> None:
    # The same stolen-phone test against lesson 03's static Box keys.
    from toychat import Client, Server
    from toychat.attacks import read_with_stolen_keys

    server = Server()
    bob_identity = Identity.generate("bob")
    alice, bob = Client("alice", server), Client("bob", server, identity=bob_identity)
    for i in range(12):
        alice.send("bob", f"m{i}")
    bob.receive()
    texts = read_with_stolen_keys(bob_identity, [e.envelope for e in server.log], server)
    assert texts == [f"m{i}" for i in range(12)]


def test_post_compromise_recovery() -> None:
    import copy

    alice, bob = pair()
    h, c = alice.encrypt(b"hello")
    bob.decrypt(h, c)
    thief = copy.deepcopy(alice)  # the attacker copies Alice's whole state, private ratchet key included
    h1, c1 = bob.encrypt(b"bob's reply")
    assert thief.decrypt(h1, c1) == b"bob's reply"  # the compromise is real for now...
    assert alice.decrypt(h1, c1) == b"bob's reply"
    h2, c2 = alice.encrypt(b"alice, with a fresh ratchet key")
    assert bob.decrypt(h2, c2) == b"alice, with a fresh ratchet key"
    h3, c3 = bob.encrypt(b"after a full DH round trip")
    with pytest.raises(TamperedMessage):
        thief.decrypt(h3, c3)  # ...and healed once both sides have ratcheted
    assert alice.decrypt(h3, c3) == b"after a full DH round trip"


def test_every_message_key_is_fresh() -> None:
    alice, bob = pair()
    headers = {alice.encrypt(b"x")[0] for _ in range(30)}
    assert len({(h.dh_public, h.message_number) for h in headers}) == 30


def test_replay_memory_does_not_grow_with_the_conversation(monkeypatch: pytest.MonkeyPatch) -> None:
    """The benchmark found decryption slowing down as a conversation grew (a copy of every
    used key slot on each message).  The state now holds only skipped keys and, capped at
    MAX_STORED, the ratchet keys of replaced chains; replays are still named as replays."""
    import toychat.ratchet as ratchet

    monkeypatch.setattr(ratchet, "MAX_STORED", 5)
    alice, bob = pair()
    one_way = [alice.encrypt(b"m%d" % i) for i in range(300)]
    for header, sealed in one_way:
        bob.decrypt(header, sealed)
    assert not bob.skipped
    assert not bob._retired  # 300 messages, nothing remembered per message
    with pytest.raises(ReplayedMessage):
        bob.decrypt(*one_way[0])
    first_turn = None
    for turn in range(12):  # each direction change retires the other side's chain
        h, c = bob.encrypt(b"b%d" % turn)
        alice.decrypt(h, c)
        h, c = alice.encrypt(b"a%d" % turn)
        first_turn = first_turn or (h, c)
        bob.decrypt(h, c)
        if turn == 10:
            recent = (h, c)
    assert len(bob._retired) == 5
    assert len(alice._retired) == 5
    with pytest.raises(ReplayedMessage):
        bob.decrypt(*recent)  # a chain replaced one turn ago: still recognised
    before = (bob.root_key, bob.receiving, bob.received, dict(bob.skipped))
    with pytest.raises(ToyChatError):  # replaced too long ago to be remembered: still refused
        bob.decrypt(*first_turn)  # (here: it claims a jump past the skip limit)
    assert (bob.root_key, bob.receiving, bob.received, dict(bob.skipped)) == before


def test_a_reply_on_the_initiators_starting_key_is_a_named_refusal() -> None:
    """Before any reply the initiator has no receiving chain; a header carrying the key it
    started with (the responder's identity key) is refused by name, state unchanged."""
    alice, bob = pair()
    header, sealed = alice.encrypt(b"first")
    assert bob.decrypt(header, sealed) == b"first"
    forged = Header(alice.dh_remote or b"", 0, 0)
    before = alice.snapshot()
    with pytest.raises(TamperedMessage):
        alice.decrypt(forged, bytes(64))
    assert alice.snapshot() == before
