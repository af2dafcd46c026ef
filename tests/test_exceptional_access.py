"""Key escrow and the ghost participant, built as a provider would have to build them."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from toychat import Client, Server, TamperedMessage
from toychat.devices import DeviceCertificate
from toychat.errors import UnexpectedKey
from toychat.exceptional_access import (
    ESCROW_FIELD,
    EscrowAuthority,
    EscrowClient,
    GhostServer,
    decrypt_with_escrow_key,
    escrow_reading,
)
from toychat.keys import Identity

TRIALS = 50
PEOPLE = ("alice", "bob", "carol", "dan")


def escrow_world() -> tuple[Server, EscrowAuthority, dict[str, EscrowClient]]:
    authority = EscrowAuthority()
    server = Server()
    people = {name: EscrowClient(name, server, authority.public_key) for name in PEOPLE}
    return server, authority, people


def test_escrowed_chat_still_works_end_to_end() -> None:
    server, _, people = escrow_world()
    people["alice"].send("bob", "hello")
    assert [m.text for m in people["bob"].receive()] == ["hello"]
    assert "hello" not in "".join(server.log_table()["content_seen"])


def test_one_stolen_escrow_key_opens_every_conversation_past_and_future() -> None:
    server, authority, people = escrow_world()
    sent = []
    for sender, recipient in itertools.permutations(PEOPLE, 2):
        text = f"{sender} to {recipient}: private"
        people[sender].send(recipient, text)
        sent.append(text)
    stolen = authority.private_key  # a thief copies the golden key...
    for sender, recipient in itertools.permutations(PEOPLE, 2):  # ...and users keep chatting
        text = f"{sender} to {recipient}: after the theft"
        people[sender].send(recipient, text)
        sent.append(text)
    read = escrow_reading(server, stolen)
    assert read["text"].tolist() == sent  # every message of all 12 conversations
    assert len(set(zip(read["sender"], read["recipient"], strict=True))) == 12


def test_escrow_field_is_signed_so_it_cannot_be_stripped_or_swapped() -> None:
    server, authority, people = escrow_world()
    envelope = people["alice"].compose("bob", "hi")
    stripped = dataclasses.replace(envelope, extras={})
    with pytest.raises(TamperedMessage):
        people["bob"].open_envelope(stripped.to_bytes())
    with pytest.raises(TamperedMessage, match="no escrowed key"):
        decrypt_with_escrow_key(stripped, authority.private_key)
    with pytest.raises(TamperedMessage, match="does not open"):
        decrypt_with_escrow_key(envelope, EscrowAuthority().private_key)
    assert authority.open(envelope) == "hi"
    assert ESCROW_FIELD in envelope.extras


def ghost_world(**client_options: bool) -> tuple[GhostServer, Client, Client]:
    server = GhostServer()
    alice = Client("alice", server, **client_options)
    bob = Client("bob", server)
    server.add_ghost("bob")
    return server, alice, bob


def test_signed_device_lists_stop_the_ghost_every_time() -> None:
    for _ in range(TRIALS):
        server, alice, bob = ghost_world()
        with pytest.raises(UnexpectedKey, match="never signed"):
            alice.send("bob", "hello")
        assert server.ghost_reads == []
        assert server.pending("bob") == 0  # nothing half-sent


def test_new_device_notice_reveals_the_ghost_when_signatures_are_off() -> None:
    for _ in range(TRIALS):
        server, alice, bob = ghost_world(require_signed_devices=False)
        alice.send("bob", "hello")
        assert len(server.ghost_reads) == 1
        assert any("new device 'ghost'" in notice for notice in alice.notices)


def test_the_ghost_needs_both_defences_switched_off_and_then_reads_everything() -> None:
    server, alice, bob = ghost_world(require_signed_devices=False, show_device_notices=False)
    for text in ("one", "two", "three"):
        alice.send("bob", text)
    assert [m.text for m in bob.receive()] == ["one", "two", "three"]
    assert [g.text for g in server.ghost_reads] == ["one", "two", "three"]
    assert alice.notices == []
    assert bob.notices == []
    # The toy's safety numbers cover each person's main keys only: they still match.
    assert alice.safety_number("bob") == bob.safety_number("alice")
    # The server's ordinary log shows only the copies to Bob.
    assert len(server.log) == 3


def test_a_genuine_device_certificate_verifies_and_a_forged_one_does_not() -> None:
    bob = Identity.generate("bob")
    laptop = Identity.generate("bob")
    certificate = DeviceCertificate.issue(bob, "laptop", laptop.public)
    assert certificate.verify(bob.public) == laptop.public
    forged = dataclasses.replace(certificate, device=Identity.generate("bob").public)
    with pytest.raises(UnexpectedKey):
        forged.verify(bob.public)
    with pytest.raises(UnexpectedKey):
        certificate.verify(Identity.generate("carol").public)
