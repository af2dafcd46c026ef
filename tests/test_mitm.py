"""A dishonest key directory reads "end-to-end encrypted" chats, and safety numbers catch it."""

from __future__ import annotations

import pytest

from toychat import Client, Identity, Server, TamperedMessage
from toychat.keys import format_safety_number, safety_number
from toychat.mitm import MitmServer

TRIALS = 200


def test_mitm_reads_everything_while_the_chat_still_works() -> None:
    server = MitmServer()
    alice, bob = Client("alice", server), Client("bob", server)
    server.intercept("alice", "bob")
    alice.send("bob", "the password is swordfish")
    bob.receive()
    bob.send("alice", "got it")
    alice.receive()
    assert [m.text for m in bob.inbox] == ["the password is swordfish"]
    assert [m.text for m in alice.inbox] == ["got it"]
    assert [i.text for i in server.intercepted] == ["the password is swordfish", "got it"]
    # What is stored and logged still looks like ciphertext: the attack is invisible in the log.
    assert all(entry.content_seen.startswith("ciphertext") for entry in server.log)
    assert alice.contacts["bob"] != bob.public
    assert bob.contacts["alice"] != alice.public


def test_safety_numbers_catch_the_mitm_in_every_trial() -> None:
    caught = 0
    for _ in range(TRIALS):
        server = MitmServer()
        alice, bob = Client("alice", server), Client("bob", server)
        server.intercept("alice", "bob")
        alice.send("bob", "hi")
        bob.receive()
        caught += alice.safety_number("bob") != bob.safety_number("alice")
    assert caught == TRIALS


def test_honest_directory_safety_numbers_always_match() -> None:
    for _ in range(TRIALS // 4):
        server = Server()
        alice, bob = Client("alice", server), Client("bob", server)
        assert alice.safety_number("bob") == bob.safety_number("alice")


def test_keys_learnt_before_the_attack_are_safe() -> None:
    server = MitmServer()
    alice, bob = Client("alice", server), Client("bob", server)
    alice.lookup("bob"), bob.lookup("alice")  # trust on first use, before the attack
    server.intercept("alice", "bob")
    alice.send("bob", "private")
    assert [m.text for m in bob.receive()] == ["private"]
    assert server.intercepted == []


def test_half_attack_is_detected_by_the_recipient() -> None:
    # Alice looked Bob up after the attack began; Bob knew Alice's real key already.
    server = MitmServer()
    alice, bob = Client("alice", server), Client("bob", server)
    bob.lookup("alice")
    server.intercept("alice", "bob")
    alice.send("bob", "hello")
    with pytest.raises(TamperedMessage):
        bob.receive()
    assert bob.inbox == []


def test_safety_number_properties() -> None:
    a, b, c = (Identity.from_label(n, "sn") for n in ("alice", "bob", "carol"))
    assert safety_number(a, b) == safety_number(b, a)
    assert safety_number(a, b) != safety_number(a, c)
    number = safety_number(a, b)
    assert len(number) == 60
    assert number.isdigit()
    assert format_safety_number(number).replace("\n", " ").replace(" ", "") == number
    assert len(format_safety_number(number).splitlines()) == 3
    renamed = Identity.from_seed("bob2", bytes(32))
    assert safety_number(a, renamed) != safety_number(a, Identity.from_seed("bob", bytes(32)))
