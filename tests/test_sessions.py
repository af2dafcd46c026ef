"""Per-contact sessions (toychat.sessions): sealing and opening on their own, the franking
layer around them, how a device picks one, and that a device loads without pandas."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from toychat import Client, Envelope, Identity, Server, SimulatedClock
from toychat.errors import MalformedEnvelope, ReplayedMessage, TamperedMessage, UnreportableMessage
from toychat.franking import FRANKING_FIELD, FRANKING_KEY_SIZE
from toychat.sessions import (
    EPHEMERAL_FIELD,
    RATCHET_FIELD,
    BoxSession,
    CannotDecrypt,
    FrankedSession,
    RatchetSession,
    Sealed,
)
from toychat.wire import new_msg_id

REPO = Path(__file__).resolve().parent.parent
ALICE = Identity.from_label("alice", "sessions")
BOB = Identity.from_label("bob", "sessions")


def envelope_of(sealed: Sealed, sender: str = "alice", recipient: str = "bob") -> Envelope:
    """An (unsigned) E2EE envelope carrying what a session sealed; sessions do not check signatures."""
    return Envelope(
        new_msg_id(), "e2ee", sender, recipient, 1_000.0, sealed.nonce, sealed.payload, extras=sealed.extras
    )


@pytest.mark.parametrize("module", ["toychat.client", "toychat.relay", "toychat.relay.client"])
def test_importing_a_device_does_not_load_pandas(module: str) -> None:
    """A device loads without pandas: in process, and connected to the class relay (relay_from_env)."""
    code = f"import sys, {module}; assert 'pandas' not in sys.modules, '{module} loaded pandas'"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_ratchet_session_changes_only_when_the_message_is_kept() -> None:
    sending = RatchetSession.initiate(ALICE, "bob", BOB.public)
    first, second = envelope_of(sending.seal(b"one")), envelope_of(sending.seal(b"two"))
    assert EPHEMERAL_FIELD in first.extras
    assert RATCHET_FIELD in first.extras
    receiving = RatchetSession(BOB, "alice", ALICE.public)
    opened = receiving.open(first)
    assert opened.data == b"one"
    assert receiving.ratchet is None  # nothing kept yet
    opened.keep()
    assert receiving.ratchet is not None
    assert receiving.started_with == sending.ephemeral
    before = receiving.snapshot()
    receiving.open(second)  # opened but not kept: the state does not move
    assert receiving.snapshot() == before
    receiving.open(second).keep()
    with pytest.raises(ReplayedMessage):
        receiving.open(second)
    reply = envelope_of(receiving.seal(b"three"), sender="bob", recipient="alice")
    assert EPHEMERAL_FIELD not in reply.extras  # only the initiator sends its ephemeral key
    sending.open(reply).keep()
    assert sending.ephemeral is None  # the contact replied: the session is established


def test_a_session_names_what_it_cannot_decrypt() -> None:
    sealed = BoxSession(ALICE, BOB.public).seal(b"hi")
    assert BoxSession(BOB, ALICE.public).open(envelope_of(sealed)).data == b"hi"
    with pytest.raises(CannotDecrypt) as caught:
        BoxSession(BOB, Identity.from_label("carol", "sessions").public).open(envelope_of(sealed))
    assert isinstance(caught.value, TamperedMessage)
    assert "failed decryption" in caught.value.what
    no_ephemeral = RatchetSession.initiate(ALICE, "bob", BOB.public).seal(b"hi")
    del no_ephemeral.extras[EPHEMERAL_FIELD]
    with pytest.raises(CannotDecrypt, match="session this phone does not have"):
        RatchetSession(BOB, "alice", ALICE.public).open(envelope_of(no_ephemeral))


def test_the_franking_layer_commits_beside_the_session_and_checks_inside_it() -> None:
    sending, receiving = BoxSession(ALICE, BOB.public), BoxSession(BOB, ALICE.public)
    envelope = envelope_of(FrankedSession(sending, required=True).seal(b"report me"))
    opened = FrankedSession(receiving, required=False).open(envelope)
    assert opened.data == b"report me"
    assert len(opened.franking_key) == FRANKING_KEY_SIZE
    unfranked = envelope_of(sending.seal(b"report me"))
    assert FrankedSession(receiving, required=False).open(unfranked).franking_key == b""
    with pytest.raises(UnreportableMessage):
        FrankedSession(receiving, required=True).open(unfranked)
    other = envelope_of(FrankedSession(sending, required=True).seal(b"something else"))
    swapped = dataclasses.replace(envelope, extras={FRANKING_FIELD: other.extras[FRANKING_FIELD]})
    with pytest.raises(TamperedMessage, match="franking commitment"):
        FrankedSession(receiving, required=False).open(swapped)
    broken = dataclasses.replace(envelope, extras={FRANKING_FIELD: "A"}, payload=b"not even decrypted")
    with pytest.raises(MalformedEnvelope):  # the commitment is decoded before anything is decrypted
        FrankedSession(receiving, required=False).open(broken)


def test_each_device_seals_with_its_own_kind_and_opens_either() -> None:
    server = Server(clock=SimulatedClock())
    alice = Client("alice", server, forward_secrecy=True)
    bob = Client("bob", server)  # static keys, but it still opens ratchet messages
    alice.send("bob", "ratcheted")
    assert [m.text for m in bob.receive()] == ["ratcheted"]
    assert "alice" in bob.sessions
    reply = bob.send("alice", "boxed")
    assert RATCHET_FIELD not in reply.extras  # bob keeps sealing with his static Box
    assert [m.text for m in alice.receive()] == ["boxed"]
    assert RATCHET_FIELD in alice.send("bob", "still ratcheted").extras
    assert [m.text for m in bob.receive()] == ["still ratcheted"]
