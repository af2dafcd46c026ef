"""Part 2's experiments: attacks on who holds the keys, run many times and counted.

Each function builds fresh toy platforms, runs one attack per trial and
returns a pandas table that lessons show and tests check.  Nothing here is
typed in: every count comes from running the attack.

* :func:`mitm_trials` — a dishonest directory intercepts Alice and Bob; do
  safety numbers reveal it?
* :func:`ghost_defence_table` — the ghost device against each defence, and
  which ones the proposal would have to switch off.
* :func:`read_with_stolen_keys` — what a thief holding a phone's static keys
  can read of a recorded conversation (lesson 05 compares the ratchet).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict

import nacl.exceptions
import nacl.public
import pandas as pd

from .client import Client
from .errors import InconsistentLog, InvalidProof, ToyChatError, UnexpectedKey
from .exceptional_access import GhostServer
from .keys import Identity
from .mitm import MitmServer
from .ratchet import Header, read_with_snapshot
from .server import Server
from .transparency import Binding, KeyDirectoryLog, Monitor, gossip, verify_lookup
from .wire import Envelope

__all__ = [
    "mitm_trials",
    "ghost_defence_table",
    "transparency_trials",
    "read_with_stolen_keys",
    "ratchet_recording",
    "read_first_flights",
    "stolen_phone_comparison",
]


def mitm_trials(trials: int = 100, *, messages: int = 3) -> pd.DataFrame:
    """Run the man-in-the-middle ``trials`` times with fresh random keys.

    One row per trial: how many messages were delivered, how many the server
    read, and whether comparing safety numbers revealed the attack.
    """
    rows = []
    for trial in range(trials):
        server = MitmServer()
        alice, bob = Client("alice", server), Client("bob", server)
        server.intercept("alice", "bob")
        for index in range(messages):
            alice.send("bob", f"message {index}")
            bob.send("alice", f"reply {index}")
        delivered = len(bob.receive()) + len(alice.receive())
        rows.append(
            {
                "trial": trial,
                "delivered": delivered,
                "read_by_server": len(server.intercepted),
                "safety_numbers_differ": alice.safety_number("bob") != bob.safety_number("alice"),
            }
        )
    return pd.DataFrame(rows)


class GhostDefences(TypedDict, total=False):
    """The :class:`~toychat.client.Client` options that defend against a ghost device."""

    require_signed_devices: bool
    show_device_notices: bool


#: The defences a phone has against a ghost device, as client options.
GHOST_CONFIGURATIONS: dict[str, GhostDefences] = {
    "signed device lists + new-device notices (default)": {},
    "device signatures switched off, notices on": {"require_signed_devices": False},
    "both switched off (what the proposal needs)": {"require_signed_devices": False, "show_device_notices": False},
}


def ghost_defence_table(trials: int = 20) -> pd.DataFrame:
    """The ghost device against each client configuration, ``trials`` times each.

    Columns: the configuration, how often the ghost read the message, how
    often Alice's phone refused to send (signed device lists), how often it
    showed a new-device notice, and how often the safety numbers differed.
    """
    rows = []
    for name, options in GHOST_CONFIGURATIONS.items():
        counts = {"ghost_read": 0, "send_refused": 0, "notice_shown": 0, "safety_numbers_differ": 0}
        for _ in range(trials):
            server = GhostServer()
            alice, bob = Client("alice", server, **options), Client("bob", server)
            server.add_ghost("bob")
            try:
                alice.send("bob", "are you free tonight?")
            except UnexpectedKey:
                counts["send_refused"] += 1
            counts["ghost_read"] += bool(server.ghost_reads)
            counts["notice_shown"] += bool(alice.notices)
            counts["safety_numbers_differ"] += alice.safety_number("bob") != bob.safety_number("alice")
        rows.append({"configuration": name, "trials": trials, **counts})
    return pd.DataFrame(rows)


def _transparency_trial(attack: str) -> str:
    """One attack against a key-transparency log; returns which check caught it ('' if none)."""
    people = {name: Identity.generate(name) for name in ("alice", "bob", "carol")}
    directory = KeyDirectoryLog()
    for identity in people.values():
        directory.publish(Binding.of(identity.public))
    bob_monitor = Monitor("bob", {"phone": people["bob"].public}, directory.verify_key)
    bob_monitor.check(directory)
    intruder = Binding.of(Identity.generate("bob").public, "phone" if "swap" in attack else "ghost")
    shown_to_alice = directory
    if "split view" in attack:
        shown_to_alice = directory.fork()  # Alice sees a log with the intruder; Bob keeps the honest one
        index = shown_to_alice.publish(intruder)
        directory.publish(Binding.of(Identity.generate("dave").public))
    elif "not published" in attack:
        index = directory.size - 1  # hand out the key with some other entry's proof
    else:
        index = directory.publish(intruder)
    head = shown_to_alice.tree_head()
    proof = shown_to_alice.prove_inclusion(min(index, head.size - 1), head.size)
    try:
        later = shown_to_alice.entries(index + 1, head.size)
        verify_lookup(intruder, index, proof, head, directory.verify_key, name="bob", later=later)
    except InvalidProof:
        return "Alice's phone: the key is not in the signed log"
    try:
        bob_monitor.check(directory)
    except ToyChatError:
        return "Bob's phone: monitoring its own bindings"
    try:
        gossip(head, directory.tree_head(), directory, directory.verify_key)
    except InconsistentLog:
        return "gossip: Alice's and Bob's tree heads disagree"
    return ""


#: The attacks on a key-transparency log that :func:`transparency_trials` runs.
TRANSPARENCY_ATTACKS = (
    "swapped key, published in the log",
    "swapped key, not published",
    "ghost device, published in the log",
    "ghost device, not published",
    "ghost device, split view (only Alice's log has it)",
)


def transparency_trials(trials: int = 50) -> pd.DataFrame:
    """Each attack on the key directory ``trials`` times against key transparency:
    how often it was caught, and by which check."""
    rows = []
    for attack in TRANSPARENCY_ATTACKS:
        caught_by = [_transparency_trial(attack) for _ in range(trials)]
        rows.append(
            {
                "attack": attack,
                "trials": trials,
                "caught": sum(bool(c) for c in caught_by),
                "caught by": "; ".join(sorted({c for c in caught_by if c})) or "nothing",
            }
        )
    return pd.DataFrame(rows)


def read_with_stolen_keys(
    stolen: Identity, recorded: Iterable[bytes | Envelope], directory: Server
) -> list[str | None]:
    """Try to read recorded envelopes with one phone's stolen *static* keys.

    ``recorded`` is what an eavesdropper or the server kept (e.g. the raw
    envelopes in :attr:`Server.log`).  With static ``Box`` keys, the stolen
    private key plus the other party's public key (from ``directory``) open
    every message to or from that phone, past and future.  Returns the text,
    or ``None`` where the keys do not open a message.
    """
    texts: list[str | None] = []
    for item in recorded:
        envelope = item if isinstance(item, Envelope) else Envelope.from_bytes(item)
        other = envelope.recipient if envelope.sender == stolen.name else envelope.sender
        try:
            box = nacl.public.Box(stolen.box_private, directory.lookup(other).box_key)
            texts.append(box.decrypt(envelope.payload, envelope.nonce).decode("utf-8", "replace"))
        except (nacl.exceptions.CryptoError, ToyChatError, ValueError):
            texts.append(None)
    return texts


def ratchet_recording(recorded: Iterable[bytes | Envelope]) -> list[tuple[Header, bytes, bytes]]:
    """Recorded forward-secrecy envelopes as ``(header, ciphertext, associated data)``
    for :func:`toychat.ratchet.read_with_snapshot`."""
    import base64

    out = []
    for item in recorded:
        envelope = item if isinstance(item, Envelope) else Envelope.from_bytes(item)
        header = Header.from_bytes(base64.b64decode(envelope.extras["ratchet"]))
        out.append((header, envelope.nonce + envelope.payload, f"{envelope.sender}->{envelope.recipient}".encode()))
    return out


def read_first_flights(stolen: Identity, recorded: Iterable[bytes | Envelope], directory: Server) -> list[str | None]:
    """Try to read recorded forward-secrecy envelopes *to* the stolen phone with its
    long-term identity key alone.

    In this toy (no prekeys), the responder's identity X25519 key is also its
    first ratchet key, and the initiator's ephemeral key travels in the clear
    until the responder replies.  So whoever holds the identity key can redo
    :func:`toychat.ratchet.responder_secret` and replay the *first flight*: the
    messages sent before the responder's first reply.  Every later chain mixes
    in a ratchet key pair that was deleted.  X3DH closes this gap with
    one-time prekeys that the responder deletes after first use (Marlinspike
    and Perrin, *The X3DH Key Agreement Protocol*, 2016, §3; see references:
    docs/references.md#marlinspike2016).  Returns the text, or ``None``.
    """
    import base64
    import copy

    from .ratchet import DoubleRatchet, responder_secret
    from .sessions import EPHEMERAL_FIELD, RATCHET_FIELD, associated_data

    envelopes = [item if isinstance(item, Envelope) else Envelope.from_bytes(item) for item in recorded]
    sessions: dict[str, DoubleRatchet] = {}
    texts: list[str | None] = []
    for envelope in envelopes:
        text = None
        if envelope.recipient == stolen.name and RATCHET_FIELD in envelope.extras:
            try:
                header = Header.from_bytes(base64.b64decode(envelope.extras[RATCHET_FIELD]))
                if envelope.sender not in sessions and EPHEMERAL_FIELD in envelope.extras:
                    secret = responder_secret(
                        stolen, directory.lookup(envelope.sender), base64.b64decode(envelope.extras[EPHEMERAL_FIELD])
                    )
                    sessions[envelope.sender] = DoubleRatchet.responder(secret, stolen.box_private)
                session = sessions.get(envelope.sender)
                if session is not None:
                    trial = copy.deepcopy(session)  # the thief never sends, so it stays on the first chain
                    text = trial.decrypt(
                        header, envelope.nonce + envelope.payload, associated_data(envelope.sender, envelope.recipient)
                    ).decode("utf-8", "replace")
                    if trial.dh_remote == session.dh_remote or session.dh_remote is None:
                        sessions[envelope.sender] = trial
            except (ToyChatError, ValueError, nacl.exceptions.CryptoError):
                text = None
        texts.append(text)
    return texts


def stolen_phone_comparison(messages: int = 20, undelivered: int = 3, first_flight: int = 5) -> pd.DataFrame:
    """Alice sends Bob ``messages`` messages and the phone is stolen: what can the
    thief read, with static keys and with the Double Ratchet?

    Alice sends ``first_flight`` messages; Bob reads them and replies once, so
    the ratchet turns; Alice sends the rest.  Bob's phone has received all but
    the last ``undelivered`` when it is stolen — whole: identity key, ratchet
    state, stored skipped keys.  The thief also has every ciphertext (recorded
    on the network, or from the server).  Counts are of Alice's messages only.
    """
    if not 0 <= undelivered <= messages or not 0 <= first_flight <= messages:
        raise ValueError("need 0 <= undelivered <= messages and 0 <= first_flight <= messages.")
    rows = []
    for label, forward_secrecy in (("static Box keys (lessons 03-04)", False), ("Double Ratchet (lesson 05)", True)):
        server = Server()
        bob_identity = Identity.generate("bob")
        alice = Client("alice", server, forward_secrecy=forward_secrecy)
        bob = Client("bob", server, identity=bob_identity, forward_secrecy=forward_secrecy)
        kinds = []
        for index in range(messages):
            if index == first_flight:
                bob.receive()
                bob.send("alice", "got them, thanks")
                alice.receive()
            if index == messages - undelivered:
                bob.receive()
            alice.send("bob", f"message {index}")
            if index >= messages - undelivered:
                kinds.append("not yet delivered")
            elif index < first_flight:
                kinds.append("first flight, read by Bob")
            else:
                kinds.append("later, read by Bob")
        if undelivered == 0:
            bob.receive()
        recorded = [entry.envelope for entry in server.log if entry.sender == "alice"]
        if forward_secrecy:
            session = bob.sessions.get("alice")  # None if no message ever reached Bob
            from_state = (
                read_with_snapshot(session.snapshot(), ratchet_recording(recorded))
                if session is not None
                else [None] * len(recorded)
            )
            from_identity = read_first_flights(bob_identity, recorded, server)
            opened = [a is not None or b is not None for a, b in zip(from_state, from_identity, strict=True)]
        else:
            opened = [text is not None for text in read_with_stolen_keys(bob_identity, recorded, server)]
        row: dict[str, object] = {"keys": label, "messages recorded": messages}
        for kind in ("first flight, read by Bob", "later, read by Bob", "not yet delivered"):
            row[f"{kind}: readable by thief"] = sum(ok for ok, k in zip(opened, kinds, strict=True) if k == kind)
            row[f"{kind}: sent"] = kinds.count(kind)
        row["readable by thief"] = sum(opened)
        rows.append(row)
    return pd.DataFrame(rows)
