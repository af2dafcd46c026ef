"""Part 2's counted experiments: the numbers the lessons quote."""

from __future__ import annotations

from toychat import Client, Identity, Server
from toychat.attacks import ghost_defence_table, mitm_trials, read_with_stolen_keys


def test_mitm_is_invisible_in_the_chat_and_caught_by_safety_numbers_every_time() -> None:
    table = mitm_trials(100)
    assert (table["delivered"] == 6).all()
    assert (table["read_by_server"] == 6).all()
    assert table["safety_numbers_differ"].all()


def test_ghost_table() -> None:
    table = ghost_defence_table(10).set_index("configuration")
    default, notices_only, none = table.index
    assert table.loc[default, "send_refused"] == 10
    assert table.loc[default, "ghost_read"] == 0
    assert table.loc[notices_only, "notice_shown"] == 10
    assert table.loc[notices_only, "ghost_read"] == 10
    assert table.loc[none, "ghost_read"] == 10
    assert table.loc[none, "notice_shown"] == 0
    assert table["safety_numbers_differ"].sum() == 0  # the toy's safety numbers do not cover devices


def test_stolen_static_keys_read_every_past_message() -> None:
    server = Server()
    alice = Client("alice", server, identity=Identity.from_label("alice", "theft"))
    bob = Client("bob", server)
    carol = Client("carol", server)
    for i in range(5):
        alice.send("bob", f"to bob {i}")
        bob.send("alice", f"to alice {i}")
        carol.send("bob", f"carol to bob {i}")
    recorded = [entry.envelope for entry in server.log]
    texts = read_with_stolen_keys(Identity.from_label("alice", "theft"), recorded, server)
    readable = [t for t in texts if t is not None]
    assert len(readable) == 10
    assert all("carol" not in t for t in readable)
    assert texts.count(None) == 5  # carol↔bob is not alice's to read


def test_stolen_phone_static_versus_ratchet() -> None:
    """The whole phone (identity key, ratchet state, skipped keys) plus every recorded
    ciphertext: static keys open all; the ratchet opens the first flight (no
    prekeys in this toy) and the undelivered messages, never a later read one."""
    from toychat.attacks import stolen_phone_comparison

    table = stolen_phone_comparison(messages=20, undelivered=3, first_flight=5).set_index("keys")
    static, ratchet = table.index
    assert table.loc[static, "readable by thief"] == 20
    assert table.loc[ratchet, "first flight, read by Bob: readable by thief"] == 5
    assert table.loc[ratchet, "later, read by Bob: sent"] == 12
    assert table.loc[ratchet, "later, read by Bob: readable by thief"] == 0
    assert table.loc[ratchet, "not yet delivered: readable by thief"] == 3
    assert table.loc[ratchet, "readable by thief"] == 8


def test_identity_key_alone_reads_first_flight_only() -> None:
    """Bob's identity X25519 key is his first ratchet key: it replays the messages sent
    before his first reply, nothing after, and a wrong identity reads nothing."""
    from toychat.attacks import read_first_flights

    server = Server()
    bob_identity = Identity.from_label("bob", "first-flight")
    alice = Client("alice", server, identity=Identity.from_label("alice", "first-flight"), forward_secrecy=True)
    bob = Client("bob", server, identity=bob_identity, forward_secrecy=True)
    for index in range(4):
        alice.send("bob", f"early {index}")
    bob.receive()
    bob.send("alice", "reply")
    alice.receive()
    for index in range(4):
        alice.send("bob", f"late {index}")
    bob.receive()
    recorded = [entry.envelope for entry in server.log]
    texts = read_first_flights(bob_identity, recorded, server)
    assert texts == [f"early {i}" for i in range(4)] + [None] * 5
    assert read_first_flights(Identity.from_label("bob", "someone else"), recorded, server) == [None] * 9


def test_key_transparency_catches_every_attack() -> None:
    from toychat.attacks import TRANSPARENCY_ATTACKS, transparency_trials

    table = transparency_trials(25)
    assert list(table["attack"]) == list(TRANSPARENCY_ATTACKS)
    assert (table["caught"] == 25).all()
    caught_by = dict(zip(table["attack"], table["caught by"], strict=True))
    assert "gossip" in caught_by["ghost device, split view (only Alice's log has it)"]
    assert "not in the signed log" in caught_by["ghost device, not published"]
    assert "monitoring" in caught_by["ghost device, published in the log"]
