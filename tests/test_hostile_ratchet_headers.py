"""Validly signed forward-secrecy *replies* whose ratchet header carries a hostile key.

Bob starts a forward-secrecy session with Mallory (he sends first, so his
ratchet has no receiving chain yet).  Mallory, a modified client, then answers
with real replies whose ratchet header she rewrites and signs again: the key
is her identity key, Bob's identity key, Bob's own current ratchet key, the
zero key, a low-order point, one of her earlier (replaced) ratchet keys, or a
random key, with drawn counters.  Alice's good messages and Mallory's good
replies are interleaved, and Bob fetches at random points.

Everything the test chooses comes from Hypothesis (``derandomize=True``): the
steps, each key kind, the "random" key's bytes, the counters, and the seed of
the three identities (:meth:`~toychat.keys.Identity.from_seed`).  A failure is
therefore printed as its draws and replays exactly.  Only the ratchet's own
fresh key pairs and nonces, which the library draws, differ between runs; no
assertion depends on their values.  On both
transports (the in-process :class:`~toychat.server.Server` and the HTTP relay
through :class:`~toychat.relay.RemoteServer`) it asserts:

* every good message is delivered exactly once, with its text;
* every hostile reply is refused by name (a :class:`~toychat.errors.ToyChatError`
  subclass), by the server or in Bob's ``rejected`` list, never delivered;
* ``receive(strict=False)`` never raises, and nothing is left queued.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toychat import Client, Envelope, Server
from toychat.errors import ToyChatError
from toychat.keys import SEED_SIZE, Identity
from toychat.relay import RemoteServer
from toychat.relay.runner import RunningRelay, serve_in_thread

#: X25519 points of small order (the zero key among them), as libsodium's blocklist lists them.
LOW_ORDER = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
]
KEY_KINDS = ["sender identity", "recipient identity", "recipient own ratchet", "low order", "replayed", "random"]
#: Names must differ between examples on the module's one relay; a counter keeps them replayable.
WORLD_NUMBER = itertools.count()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sign_dict(client: Client, data: dict[str, object]) -> bytes:
    """Canonical JSON of ``data`` signed with ``client``'s key (a modified client's envelope)."""
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
    in_process: bool
    good: list[Envelope] = field(default_factory=list)
    mallory_keys: list[bytes] = field(default_factory=list)
    hostile_ids: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def relay() -> Iterator[RunningRelay]:
    running = serve_in_thread(rate=100_000, burst=100_000)
    yield running
    running.stop()


def make_world(relay: RunningRelay, transport: str, data: st.DataObject) -> World:
    suffix = next(WORLD_NUMBER)
    seed = data.draw(st.binary(min_size=SEED_SIZE, max_size=SEED_SIZE), label="identity seed")
    server: Server | RemoteServer = Server() if transport == "in-process" else RemoteServer(relay.url)
    people = {
        n: Client(
            f"{n}-{suffix}",
            server,
            identity=Identity.from_seed(f"{n}-{suffix}", bytes([i]) + seed[1:]),
            forward_secrecy=True,
        )
        for i, n in enumerate(("alice", "mallory", "bob"))
    }
    world = World(server, people["alice"], people["mallory"], people["bob"], transport == "in-process")
    # Bob sends first: his session has a sending chain and no receiving chain yet.
    world.bob.send(world.mallory.name, "hello Mallory")
    world.mallory.receive()
    return world


def hostile_key(world: World, kind: str, data: st.DataObject) -> bytes:
    """The ratchet key a hostile reply carries."""
    bob_session = world.bob.sessions[world.mallory.name]
    if kind == "sender identity":
        return world.mallory.public.encryption_key
    if kind == "recipient identity":
        return world.bob.public.encryption_key
    if kind == "recipient own ratchet":
        assert bob_session.ratchet is not None
        return bytes(bob_session.ratchet.dh_self.public_key)
    if kind == "low order":
        return data.draw(st.sampled_from(LOW_ORDER), label="low-order key")
    if kind == "replayed" and world.mallory_keys:
        return data.draw(st.sampled_from(world.mallory_keys), label="replayed key")
    return data.draw(st.binary(min_size=32, max_size=32), label="random key")


def hostile_reply(world: World, data: st.DataObject) -> bytes:
    """A real reply from Mallory whose ratchet header is rewritten, then signed again."""
    envelope = world.mallory.compose(world.bob.name, "hostile reply")
    d = envelope.to_dict()
    extras = dict(d["extras"])
    header = base64.b64decode(extras["ratchet"])
    world.mallory_keys.append(header[:32])
    kind = data.draw(st.sampled_from(KEY_KINDS), label="key")
    counters = data.draw(
        st.sampled_from([header[32:], bytes(8), (1).to_bytes(8, "big"), (5).to_bytes(4, "big") * 2]), label="counters"
    )
    new_header = hostile_key(world, kind, data) + counters
    if new_header == header:  # the one rewrite that is no rewrite: flip a bit of the key
        new_header = bytes([new_header[0] ^ 1]) + new_header[1:]
    extras["ratchet"] = b64(new_header)
    d["extras"] = extras
    return sign_dict(world.mallory, d)


@pytest.mark.parametrize("transport", ["in-process", "relay"])
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_ratchet_headers_never_cost_a_good_message(
    relay: RunningRelay, transport: str, data: st.DataObject
) -> None:
    world = make_world(relay, transport, data)
    steps = data.draw(
        st.lists(
            st.sampled_from(["hostile", "alice good", "mallory good", "bob replies", "receive"]), min_size=1, max_size=8
        ),
        label="steps",
    )
    for step in [*steps, "hostile"]:
        if step == "receive":
            world.bob.receive(strict=False)  # must never raise
        elif step == "bob replies":
            world.bob.send(world.mallory.name, "and again")
            world.mallory.receive()
        elif step == "hostile":
            raw = hostile_reply(world, data)
            msg_id = str(json.loads(raw)["msg_id"])
            try:
                world.mallory.submit_raw(raw)
            except ToyChatError as exc:
                assert type(exc) is not ToyChatError
                if world.in_process:
                    assert isinstance(world.server, Server)
                    world.server.inject(world.bob.name, raw)
                    world.hostile_ids.add(msg_id)
            else:
                world.hostile_ids.add(msg_id)
        else:
            who = step.split()[0]
            sender: Client = getattr(world, who)
            world.good.append(sender.send(world.bob.name, f"good {len(world.good)}"))
    world.good.append(world.alice.send(world.bob.name, f"good {len(world.good)}"))
    world.good.append(world.mallory.send(world.bob.name, f"good {len(world.good)}"))
    world.bob.receive(strict=False)

    inbox = sorted((m.msg_id, m.text) for m in world.bob.inbox)
    assert inbox == sorted((e.msg_id, f"good {i}") for i, e in enumerate(world.good))
    assert len(world.bob.rejected) == len(world.hostile_ids)
    assert all(type(r.error) is not ToyChatError for r in world.bob.rejected)
    assert world.bob.receive(strict=False) == []


def test_a_reply_carrying_the_sender_identity_key_is_refused_by_name() -> None:
    """The review's case: Bob started the session; Mallory's validly signed reply carries
    her identity key as its ratchet key.  Refused by name; Alice's later message arrives."""
    server = Server()
    alice, mallory, bob = (Client(n, server, forward_secrecy=True) for n in ("alice", "mallory", "bob"))
    bob.send("mallory", "hello Mallory")
    mallory.receive()
    d = mallory.compose("bob", "hostile").to_dict()
    header = base64.b64decode(d["extras"]["ratchet"])
    d["extras"] = {**d["extras"], "ratchet": b64(mallory.public.encryption_key + header[32:])}
    mallory.submit_raw(sign_dict(mallory, d))
    good = alice.send("bob", "still here")
    assert [m.msg_id for m in bob.receive(strict=False)] == [good.msg_id]
    assert len(bob.rejected) == 1
    assert type(bob.rejected[0].error) is not ToyChatError
