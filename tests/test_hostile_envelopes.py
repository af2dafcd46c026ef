"""Validly signed hostile envelopes, at the level of the client, interleaved with good ones.

A modified client can put anything in an envelope and still sign it with its
own key.  Hypothesis draws a conversation: Alice and Mallory send good
messages to Bob, and envelopes with one field changed and signed again,
while Bob fetches at random points.  On both transports (the in-process
:class:`~toychat.server.Server` and the HTTP relay through
:class:`~toychat.relay.RemoteServer`), with forward secrecy on and off and
franking on and off, it asserts:

* every good message is delivered exactly once, with its text;
* every hostile envelope is refused by name: by the server when it is sent
  (the sender's ``submit`` raises a :class:`~toychat.errors.ToyChatError`),
  or by the device it reaches (in its ``rejected`` list) -- never delivered;
* ``receive(strict=False)`` never raises, and nothing else escapes.

In process, an envelope the honest server refused is also handed straight to
its recipient's mailbox (a dishonest server), so the device's own checks are
tried on it too.  Examples per configuration: ``TOYCHAT_HOSTILE_EXAMPLES``
(default 12, which keeps the whole file to a few tens of seconds).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toychat import Client, Envelope, Server
from toychat.errors import ToyChatError
from toychat.franking import FrankingService
from toychat.relay import RemoteServer
from toychat.relay.runner import RunningRelay, serve_in_thread
from toychat.wire import MAX_TIMESTAMP, new_msg_id

EXAMPLES = int(os.environ.get("TOYCHAT_HOSTILE_EXAMPLES", "12"))
LOW_ORDER = bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")

CONFIGS = [
    pytest.param(
        transport, fs, franking, id=f"{transport}-fs{'on' if fs else 'off'}-franking{'on' if franking else 'off'}"
    )
    for transport in ("in-process", "relay")
    for fs in (False, True)
    for franking in (False, True)
]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sign_dict(client: Client, data: dict[str, object]) -> bytes:
    """Canonical JSON of ``data`` with ``client``'s signature, built by hand so that even
    fields the wire refuses reach the server (a modified client sends them anyway)."""
    unsigned = {k: v for k, v in data.items() if k != "signature"}
    body = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    signed = {**unsigned, "signature": b64(client.identity.signing_private.sign(body).signature)}
    return json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class World:
    server: Server | RemoteServer
    alice: Client
    mallory: Client
    bob: Client
    carol: Client
    in_process: bool
    good: list[Envelope] = field(default_factory=list)
    refused_at_server: list[str] = field(default_factory=list)
    reached_a_device: dict[str, str] = field(default_factory=dict)  # msg_id -> recipient

    def receive_all(self) -> None:
        for device in (self.bob, self.carol):
            device.receive(strict=False)  # must never raise


def mutations(fs: bool, franking: bool) -> list[str]:
    names = [
        "replay_id",
        "mode",
        "sender",
        "recipient_carol",
        "recipient_unknown",
        "timestamp",
        "version",
        "nonce",
        "payload",
        "signature_other",
        "type_unknown",
    ]
    if fs:
        names += [
            "ratchet_key_low",
            "ratchet_key_random",
            "ratchet_counter_far",
            "ratchet_counter_next",
            "ratchet_previous_length",
            "ratchet_malformed",
            "ratchet_removed",
            "ephemeral_low",
            "ephemeral_random",
            "ephemeral_malformed",
        ]
    else:
        names += ["ratchet_added"]
    names += ["franking_malformed", "franking_other", "franking_removed"] if franking else ["franking_added"]
    return names


def hostile(world: World, sender: Client, mutation: str, data: st.DataObject) -> tuple[bytes, str, bool]:
    """A hostile envelope from ``sender`` to Bob: (bytes, recipient, whether a device may be shown it).

    A device is not shown envelopes whose only fault is one the server alone can
    judge (a send time far from the platform's clock) or that reuse a good
    message's id (a dishonest server can always swap which copy arrives first).
    """
    envelope = sender.compose(world.bob.name, f"hostile {mutation}")
    d = envelope.to_dict()
    extras = dict(d["extras"])
    recipient, deliverable = world.bob.name, True
    other = world.alice if sender is world.mallory else world.mallory
    if mutation == "replay_id" and world.good:
        d["msg_id"] = data.draw(st.sampled_from(world.good)).msg_id
        deliverable = False
    elif mutation in ("replay_id", "payload"):
        payload = bytearray(envelope.payload)
        payload[data.draw(st.integers(0, len(payload) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        d["payload"] = b64(bytes(payload))
    elif mutation == "mode":
        d["mode"] = "plaintext"
    elif mutation == "sender":
        d["sender"] = other.name
    elif mutation == "recipient_carol":
        d["recipient"] = recipient = world.carol.name
    elif mutation == "recipient_unknown":
        d["recipient"] = recipient = f"nobody-{secrets.token_hex(3)}"
        deliverable = False
    elif mutation == "timestamp":
        d["timestamp"] = data.draw(
            st.sampled_from(
                [
                    0,
                    0.0,
                    envelope.timestamp + 10 * 86_400,
                    envelope.timestamp - 10 * 86_400,
                    MAX_TIMESTAMP + 1,
                    10**20,
                    -1,
                    1e300,
                ]
            )
        )
        deliverable = not (isinstance(d["timestamp"], (int, float)) and 0 <= d["timestamp"] <= MAX_TIMESTAMP)
    elif mutation == "version":
        d["version"] = data.draw(st.sampled_from([0, 2, "1", 1.0]))
    elif mutation == "nonce":
        d["nonce"] = b64(data.draw(st.binary(min_size=24, max_size=24).filter(lambda n: n != envelope.nonce)))
    elif mutation == "signature_other":
        return sign_dict(other, d), recipient, deliverable
    elif mutation == "type_unknown":
        extras["type"] = data.draw(st.sampled_from(["application/x-evil", "", "TEXT/PLAIN", "image/png "]))
    elif mutation.startswith("ratchet_") and mutation != "ratchet_added":
        header = base64.b64decode(extras["ratchet"])
        if mutation == "ratchet_key_low":
            header = LOW_ORDER + header[32:]
        elif mutation == "ratchet_key_random":
            header = secrets.token_bytes(32) + header[32:]
        elif mutation == "ratchet_counter_far":
            header = header[:36] + (int.from_bytes(header[36:], "big") + 500).to_bytes(4, "big")
        elif mutation == "ratchet_counter_next":
            header = header[:36] + (int.from_bytes(header[36:], "big") + 1).to_bytes(4, "big")
        elif mutation == "ratchet_previous_length":
            header = header[:32] + (int.from_bytes(header[32:36], "big") + 1).to_bytes(4, "big") + header[36:]
        if mutation == "ratchet_malformed":
            extras["ratchet"] = data.draw(st.sampled_from(["A", b64(header[:39]), b64(header) + "\n", "@" * 56]))
        elif mutation == "ratchet_removed":
            del extras["ratchet"]
        else:
            extras["ratchet"] = b64(header)
    elif mutation == "ratchet_added":
        extras["ratchet"] = b64(secrets.token_bytes(32) + bytes(8))
    elif mutation == "ephemeral_low":
        extras["ephemeral"] = b64(data.draw(st.sampled_from([bytes(32), LOW_ORDER, (1).to_bytes(32, "little")])))
    elif mutation == "ephemeral_random":
        extras["ephemeral"] = b64(secrets.token_bytes(32))
    elif mutation == "ephemeral_malformed":
        extras["ephemeral"] = data.draw(st.sampled_from(["A", b64(bytes(31)), b64(bytes(33)), "не base64"]))
    elif mutation == "franking_malformed":
        extras["franking"] = data.draw(st.sampled_from(["A", "AAAA", b64(bytes(31)), b64(bytes(32)) + "\n", ""]))
    elif mutation in ("franking_other", "franking_added"):
        extras["franking"] = b64(secrets.token_bytes(32))
    elif mutation == "franking_removed":
        del extras["franking"]
    else:
        raise AssertionError(f"unknown mutation {mutation}")
    d["extras"] = extras
    return sign_dict(sender, d), recipient, deliverable


def _msg_id(raw: bytes) -> str:
    return str(json.loads(raw)["msg_id"])


@pytest.fixture(scope="module")
def relays() -> Iterator[dict[bool, RunningRelay]]:
    running = {franking: serve_in_thread(rate=100_000, burst=100_000, franking=franking) for franking in (False, True)}
    yield running
    for relay in running.values():
        relay.stop()


def make_world(relays: dict[bool, RunningRelay], transport: str, fs: bool, franking: bool) -> World:
    suffix = secrets.token_hex(4)
    server: Server | RemoteServer
    if transport == "in-process":
        server = Server(franking=FrankingService() if franking else None)
    else:
        server = RemoteServer(relays[franking].url)
    people = {n: Client(f"{n}-{suffix}", server, forward_secrecy=fs) for n in ("alice", "mallory", "bob", "carol")}
    return World(server, people["alice"], people["mallory"], people["bob"], people["carol"], transport == "in-process")


@pytest.mark.parametrize(("transport", "fs", "franking"), CONFIGS)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_envelopes_never_cost_a_good_message(
    relays: dict[bool, RunningRelay], transport: str, fs: bool, franking: bool, data: st.DataObject
) -> None:
    world = make_world(relays, transport, fs, franking)
    steps = data.draw(
        st.lists(
            st.sampled_from(["alice good", "mallory good", "alice hostile", "mallory hostile", "receive"]),
            min_size=1,
            max_size=10,
        ),
        label="steps",
    )
    for step in steps:
        if step == "receive":
            world.receive_all()
            continue
        who, kind = step.split()
        sender: Client = getattr(world, who)
        if kind == "good":
            world.good.append(sender.send(world.bob.name, f"good {len(world.good)} from {who}"))
            continue
        mutation = data.draw(st.sampled_from(mutations(fs, franking)), label="mutation")
        raw, recipient, deliverable = hostile(world, sender, mutation, data)
        try:
            sender.submit_raw(raw)
        except ToyChatError as exc:
            assert type(exc) is not ToyChatError  # a named case, not the bare base class
            world.refused_at_server.append(mutation)
            if world.in_process and deliverable:
                # a dishonest server delivers it anyway: the device must refuse it by itself
                assert isinstance(world.server, Server)
                world.server.inject(recipient, raw)
                world.reached_a_device[_msg_id(raw)] = recipient
        else:
            world.reached_a_device[_msg_id(raw)] = recipient
    world.receive_all()

    # every good message exactly once, with its text
    inbox = [(m.msg_id, m.text) for m in world.bob.inbox]
    assert sorted(inbox) == sorted(
        (e.msg_id, f"good {i} from {e.sender.split('-')[0]}") for i, e in enumerate(world.good)
    )
    # every hostile envelope that reached a device was refused by name there, and none delivered
    rejected = world.bob.rejected + world.carol.rejected
    assert len(rejected) == len(world.reached_a_device)
    assert all(isinstance(r.error, ToyChatError) and type(r.error) is not ToyChatError for r in rejected)
    assert world.carol.inbox == []
    # nothing is left to deliver twice
    assert world.bob.receive(strict=False) == []
    assert world.carol.receive(strict=False) == []


def test_the_mutations_cover_every_envelope_field() -> None:
    """Each wire field is changed by at least one mutation (extras by several)."""
    covered = {
        "msg_id": "replay_id",
        "mode": "mode",
        "sender": "sender",
        "recipient": "recipient_carol",
        "timestamp": "timestamp",
        "version": "version",
        "nonce": "nonce",
        "payload": "payload",
        "signature": "signature_other",
        "extras": "type_unknown",
    }
    fields = set(Envelope(new_msg_id(), "plaintext", "a", "b", 0, b"", b"").to_dict())
    assert set(covered) == fields
    everything = set(mutations(True, True)) | set(mutations(False, False))
    assert set(covered.values()) <= everything
