"""Part 2's counted experiments: the numbers the lessons and closing notes quote."""

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
    assert table.loc[default, "send_refused"] == 10 and table.loc[default, "ghost_read"] == 0
    assert table.loc[notices_only, "notice_shown"] == 10 and table.loc[notices_only, "ghost_read"] == 10
    assert table.loc[none, "ghost_read"] == 10 and table.loc[none, "notice_shown"] == 0
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
    assert len(readable) == 10 and all("carol" not in t for t in readable)
    assert texts.count(None) == 5  # carol↔bob is not alice's to read


def test_stolen_phone_static_versus_ratchet() -> None:
    from toychat.attacks import stolen_phone_comparison

    table = stolen_phone_comparison(messages=20, undelivered=3).set_index("keys")
    static, ratchet = table.index
    assert table.loc[static, "already read by Bob: readable by thief"] == 17
    assert table.loc[static, "not yet delivered: readable by thief"] == 3
    assert table.loc[ratchet, "already read by Bob: readable by thief"] == 0
    assert table.loc[ratchet, "not yet delivered: readable by thief"] == 3


def test_key_transparency_catches_every_attack() -> None:
    from toychat.attacks import TRANSPARENCY_ATTACKS, transparency_trials

    table = transparency_trials(25)
    assert list(table["attack"]) == list(TRANSPARENCY_ATTACKS)
    assert (table["caught"] == 25).all()
    caught_by = dict(zip(table["attack"], table["caught by"]))
    assert "gossip" in caught_by["ghost device, split view (only Alice's log has it)"]
    assert "not in the signed log" in caught_by["ghost device, not published"]
    assert "monitoring" in caught_by["ghost device, published in the log"]
