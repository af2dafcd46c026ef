"""toychat.ratchet: known-answer vectors for the KDFs; round trips with loss,
reordering and replays; tamper, replay and skip refusals that leave the state
unchanged; forward secrecy, its first-flight limit, and post-compromise recovery."""

from __future__ import annotations

import copy
import doctest
import hashlib
import hmac

import nacl.bindings
import nacl.public
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toychat.ratchet as ratchet_module
from toychat import Client, Identity, Server
from toychat.errors import (
    InvalidKey,
    MalformedEnvelope,
    ReplayedMessage,
    TamperedMessage,
    TooManySkipped,
    ToyChatError,
)
from toychat.ratchet import (
    HEADER_SIZE,
    MAX_SKIP,
    NONCE_SIZE,
    ROOT_INFO,
    TAG_SIZE,
    DoubleRatchet,
    Header,
    KDFChain,
    hkdf,
    initiator_secret,
    kdf_ck,
    kdf_rk,
    read_with_snapshot,
    responder_secret,
)

ALICE = Identity.from_label("alice", "test-ratchet")
BOB = Identity.from_label("bob", "test-ratchet")
AD_TO_BOB, AD_TO_ALICE = b"alice->bob", b"bob->alice"


def pair(**limits: int) -> tuple[DoubleRatchet, DoubleRatchet]:
    """A fresh conversation: Alice initiates, Bob responds with his identity key."""
    secret, ephemeral = initiator_secret(ALICE, BOB.public)
    assert responder_secret(BOB, ALICE.public, ephemeral) == secret
    return (
        DoubleRatchet.initiator(secret, BOB.public.encryption_key, **limits),
        DoubleRatchet.responder(secret, BOB.box_private, **limits),
    )


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# ---- KDFs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ikm", "salt", "info", "length", "okm"),
    [
        pytest.param(  # RFC 5869 A.1: basic test case with SHA-256
            "0b" * 22,
            "000102030405060708090a0b0c",
            "f0f1f2f3f4f5f6f7f8f9",
            42,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
            id="rfc5869-case1",
        ),
        pytest.param(  # RFC 5869 A.2: longer inputs, three output blocks
            bytes(range(0x50)).hex(),
            bytes(range(0x60, 0xB0)).hex(),
            bytes(range(0xB0, 0x100)).hex(),
            82,
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
            "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
            "cc30c58179ec3e87c14c01d5c1f3434f1d87",
            id="rfc5869-case2",
        ),
        pytest.param(  # RFC 5869 A.3: zero-length salt and info
            "0b" * 22,
            "",
            "",
            42,
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
            id="rfc5869-case3",
        ),
    ],
)
def test_hkdf_rfc5869_vectors(ikm: str, salt: str, info: str, length: int, okm: str) -> None:
    out = hkdf(
        bytes.fromhex(ikm), salt=bytes.fromhex(salt), info=bytes.fromhex(info), length=length
    )
    assert out.hex() == okm


def test_hkdf_output_length_limits() -> None:
    assert len(hkdf(b"k", salt=b"", info=b"", length=255 * 32)) == 255 * 32
    for bad in (0, 255 * 32 + 1):
        with pytest.raises(ValueError):
            hkdf(b"k", salt=b"", info=b"", length=bad)


def test_kdf_ck_uses_constants_0x01_and_0x02() -> None:
    ck = bytes(range(32))
    next_ck, mk = kdf_ck(ck)
    assert mk == hmac.new(ck, b"\x01", hashlib.sha256).digest()
    assert next_ck == hmac.new(ck, b"\x02", hashlib.sha256).digest()


def test_kdf_rk_is_hkdf_with_the_root_key_as_salt() -> None:
    rk, dh = bytes(32), bytes(range(32))
    out = hkdf(dh, salt=rk, info=ROOT_INFO, length=64)
    assert kdf_rk(rk, dh) == (out[:32], out[32:])


def test_kdf_chain_steps_forwards() -> None:
    chain = KDFChain(bytes(range(32)))
    start = chain.chain_key
    keys = [chain.step() for _ in range(50)]
    assert chain.steps == 50 and len(set(keys)) == 50
    ck = start
    for key in keys:  # the chain is exactly kdf_ck applied again and again
        ck, mk = kdf_ck(ck)
        assert mk == key
    assert chain.chain_key == ck and start not in keys
    with pytest.raises(AttributeError):
        chain.chain_key = start  # type: ignore[misc]
    for bad in (bytes(31), "x" * 32, None):
        with pytest.raises(InvalidKey):
            KDFChain(bad)  # type: ignore[arg-type]


# ---- the header -----------------------------------------------------------------------------


@given(st.binary(min_size=HEADER_SIZE, max_size=HEADER_SIZE))
def test_header_round_trip(data: bytes) -> None:
    header = Header.from_bytes(data)
    assert header.to_bytes() == data and Header.from_bytes(header.to_bytes()) == header


@given(st.binary(max_size=80).filter(lambda b: len(b) != HEADER_SIZE))
def test_header_of_the_wrong_length_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedEnvelope):
        Header.from_bytes(data)


def test_header_checks_its_fields() -> None:
    for bad in [
        (bytes(31), 0, 0),
        ("k" * 32, 0, 0),
        (bytes(32), -1, 0),
        (bytes(32), 0, 2**32),
        (bytes(32), 0, 1.0),
        (bytes(32), True, 0),
    ]:
        with pytest.raises(MalformedEnvelope):
            Header(*bad)  # type: ignore[arg-type]
    with pytest.raises(MalformedEnvelope):
        Header.from_bytes("not bytes")  # type: ignore[arg-type]


# ---- conversations --------------------------------------------------------------------------


def test_alternating_conversation_and_header_counters() -> None:
    alice, bob = pair()
    sides = {"alice": (alice, bob, AD_TO_BOB), "bob": (bob, alice, AD_TO_ALICE)}
    last_key = {"alice": None, "bob": None}
    chain_length = {"alice": 0, "bob": 0}
    total = 0
    for turn in range(30):
        who = "alice" if turn % 2 == 0 else "bob"
        sender, receiver, ad = sides[who]
        run = 1 + turn % 4
        for n in range(run):
            text = f"{who} turn {turn} message {n}".encode()
            header, ciphertext = sender.encrypt(text, ad)
            assert header.message_number == n  # numbers restart in every new chain
            assert header.previous_chain_length == chain_length[who]
            assert len(ciphertext) == NONCE_SIZE + len(text) + TAG_SIZE
            assert receiver.decrypt(header, ciphertext, ad) == text
            total += 1
        assert header.dh_public != last_key[who]  # a fresh ratchet key every turn
        last_key[who], chain_length[who] = header.dh_public, run
    assert total == sum(1 + t % 4 for t in range(30))


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_any_delivery_order_with_losses_and_replays(data: st.DataObject) -> None:
    """Both sides send whenever they can; the network delivers in any order,
    drops some messages and replays others.  Every delivered message decrypts
    exactly once, to its own plaintext."""
    alice, bob = pair()
    parties = {"alice": alice, "bob": bob}
    peer = {"alice": "bob", "bob": "alice"}
    in_flight: list[tuple[str, bytes, Header, bytes, bytes]] = []
    delivered: list[tuple[str, bytes, Header, bytes, bytes]] = []
    for step in range(data.draw(st.integers(1, 40), label="steps")):
        action = data.draw(st.sampled_from(["alice", "bob", "deliver", "drop", "replay"]))
        if action in parties and parties[action].sending is not None:
            text = f"{action} #{step}".encode()
            ad = f"{action}->{peer[action]}".encode()
            in_flight.append((peer[action], text, *parties[action].encrypt(text, ad), ad))
        elif action in ("deliver", "drop") and in_flight:
            message = in_flight.pop(data.draw(st.integers(0, len(in_flight) - 1), label="which"))
            if action == "deliver":
                to, text, header, ciphertext, ad = message
                assert parties[to].decrypt(header, ciphertext, ad) == text
                delivered.append(message)
        elif action == "replay" and delivered:
            to, _, header, ciphertext, ad = data.draw(st.sampled_from(delivered), label="copy")
            before = parties[to].snapshot()
            with pytest.raises(ReplayedMessage):
                parties[to].decrypt(header, ciphertext, ad)
            assert parties[to].snapshot() == before
    for to, text, header, ciphertext, ad in data.draw(st.permutations(in_flight), label="late"):
        assert parties[to].decrypt(header, ciphertext, ad) == text
        delivered.append((to, text, header, ciphertext, ad))
    for to, _, header, ciphertext, ad in delivered:
        with pytest.raises(ReplayedMessage):
            parties[to].decrypt(header, ciphertext, ad)


def test_replays_are_named_in_every_chain() -> None:
    alice, bob = pair()
    first = [alice.encrypt(f"a{i}".encode()) for i in range(3)]
    bob.decrypt(*first[2])  # stores the keys of a0 and a1
    bob.decrypt(*first[0])  # uses a stored key
    with pytest.raises(ReplayedMessage, match="already decrypted"):
        bob.decrypt(*first[0])  # ...which is gone now
    with pytest.raises(ReplayedMessage):
        bob.decrypt(*first[2])  # behind the receiving chain
    alice.decrypt(*bob.encrypt(b"reply"))
    bob.decrypt(*alice.encrypt(b"a new chain"))
    with pytest.raises(ReplayedMessage):
        bob.decrypt(*first[2])  # a chain that has since been replaced
    assert bob.decrypt(*first[1]) == b"a1"  # its stored key survived the ratchet step


def test_responder_cannot_send_first() -> None:
    _, bob = pair()
    with pytest.raises(ToyChatError, match="cannot send yet"):
        bob.encrypt(b"hi")


def test_bad_arguments_are_named_errors() -> None:
    alice, bob = pair()
    for secret, public in [(bytes(31), bytes(32)), (bytes(32), bytes(31)), ("s" * 32, bytes(32))]:
        with pytest.raises(InvalidKey):
            DoubleRatchet.initiator(secret, public)  # type: ignore[arg-type]
    with pytest.raises(InvalidKey):  # a small-order point has a public "shared" secret
        DoubleRatchet.initiator(bytes(32), bytes(32))
    with pytest.raises(InvalidKey):
        DoubleRatchet.responder(bytes(32), bytes(BOB.box_private))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="encode"):
        alice.encrypt("text, not bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        pair(max_skip=10, max_stored=5)
    with pytest.raises(MalformedEnvelope):
        responder_secret(BOB, ALICE.public, bytes(31))
    with pytest.raises(MalformedEnvelope):
        responder_secret(BOB, ALICE.public, bytes(32))  # small order
    with pytest.raises(InvalidKey):
        initiator_secret(ALICE.public, BOB.public)  # type: ignore[arg-type]


# ---- refusals leave the state unchanged -----------------------------------------------------


def new_chain_message() -> tuple[DoubleRatchet, Header, bytes]:
    """Bob, and the first message of Alice's second chain (previous chain: 3 messages, all read)."""
    alice, bob = pair()
    for i in range(3):
        bob.decrypt(*alice.encrypt(f"a{i}".encode(), AD_TO_BOB), AD_TO_BOB)
    alice.decrypt(*bob.encrypt(b"reply", AD_TO_ALICE), AD_TO_ALICE)
    header, ciphertext = alice.encrypt(b"pay Bob 10 pounds", AD_TO_BOB)
    assert (header.previous_chain_length, header.message_number) == (3, 0)
    return bob, header, ciphertext


def counter_bit(bit: int) -> int | None:
    """Which bit of its (big-endian) counter header bit number ``bit`` is, or None for the key."""
    if bit < 8 * 32:
        return None
    offset = bit - 8 * 32
    return (3 - offset % 32 // 8) * 8 + offset % 8


def test_every_flipped_bit_is_refused_and_changes_nothing() -> None:
    """All 320 header bits, every ciphertext bit, every associated-data bit."""
    bob, header, ciphertext = new_chain_message()
    before = bob.snapshot()
    raw = header.to_bytes()
    counts = {TamperedMessage: 0, TooManySkipped: 0}
    for bit in range(8 * HEADER_SIZE):
        altered = Header.from_bytes(flip(raw, bit))
        field_bit = counter_bit(bit)
        with pytest.raises((TamperedMessage, TooManySkipped)) as refused:
            bob.decrypt(altered, ciphertext, AD_TO_BOB)
        # A counter pushed more than MAX_SKIP ahead cannot be checked without computing
        # the keys the limit forbids: refused as too far ahead; everything else as tampered.
        too_far = field_bit is not None and 2**field_bit > MAX_SKIP
        assert refused.type is (TooManySkipped if too_far else TamperedMessage), bit
        counts[refused.type] += 1
        assert bob.snapshot() == before
    for bit in range(8 * len(ciphertext)):
        with pytest.raises(TamperedMessage):
            bob.decrypt(header, flip(ciphertext, bit), AD_TO_BOB)
    for bit in range(8 * len(AD_TO_BOB)):
        with pytest.raises(TamperedMessage):
            bob.decrypt(header, ciphertext, flip(AD_TO_BOB, bit))
    with pytest.raises(TamperedMessage):
        bob.decrypt(header, ciphertext, b"")
    assert bob.snapshot() == before
    assert counts == {TamperedMessage: 256 + 2 * 7, TooManySkipped: 2 * 25}
    assert bob.decrypt(header, ciphertext, AD_TO_BOB) == b"pay Bob 10 pounds"


def test_tampering_with_a_late_message_keeps_its_stored_key() -> None:
    alice, bob = pair()
    late, on_time = alice.encrypt(b"late", AD_TO_BOB), alice.encrypt(b"on time", AD_TO_BOB)
    bob.decrypt(*on_time, AD_TO_BOB)
    before = bob.snapshot()
    assert len(before["skipped_message_keys"]) == 1
    with pytest.raises(TamperedMessage):
        bob.decrypt(late[0], flip(late[1], 200), AD_TO_BOB)
    assert bob.snapshot() == before  # the key was put back
    assert bob.decrypt(*late, AD_TO_BOB) == b"late"


def test_unparsable_input_is_malformed_and_changes_nothing() -> None:
    bob, header, ciphertext = new_chain_message()
    before = bob.snapshot()
    for bad_header, bad_ciphertext in [
        (header.to_bytes(), ciphertext),  # bytes, not a Header
        (header, ciphertext[: NONCE_SIZE + TAG_SIZE - 1]),  # truncated
        (header, "not bytes"),
        (Header(bytes(32), 3, 0), ciphertext),  # a small-order ratchet key
    ]:
        with pytest.raises(MalformedEnvelope):
            bob.decrypt(bad_header, bad_ciphertext, AD_TO_BOB)  # type: ignore[arg-type]
        assert bob.snapshot() == before
    assert bob.decrypt(header, ciphertext, AD_TO_BOB) == b"pay Bob 10 pounds"


def test_skipping_too_far_is_refused_and_changes_nothing() -> None:
    alice, bob = pair(max_skip=5)
    first = [alice.encrypt(f"m{i}".encode()) for i in range(8)]
    assert bob.decrypt(*first[0]) == b"m0"
    before = bob.snapshot()
    with pytest.raises(TooManySkipped, match="at most 5"):
        bob.decrypt(*first[7])  # would store the keys of m1-m6: six
    assert bob.snapshot() == before
    # The same limit applies to what is left of the old chain when a new chain starts.
    alice.decrypt(*bob.encrypt(b"reply"))
    second = alice.encrypt(b"n0")
    assert second[0].previous_chain_length == 8
    before = bob.snapshot()
    with pytest.raises(TooManySkipped):
        bob.decrypt(*second)  # would store m1-m7: seven
    assert bob.snapshot() == before
    assert bob.decrypt(*first[6]) == b"m6"  # stores m1-m5: five, allowed
    assert bob.decrypt(*second) == b"n0"  # stores m7
    assert sorted(n for _, n in bob.skipped) == [1, 2, 3, 4, 5, 7]
    assert [bob.decrypt(*first[i]) for i in (7, 1)] == [b"m7", b"m1"]


def test_stored_keys_are_capped_oldest_first() -> None:
    alice, bob = pair(max_skip=5, max_stored=6)
    chains = []
    for round_ in range(3):  # in each of Alice's chains Bob misses messages 0-3
        chain = [alice.encrypt(f"r{round_} m{i}".encode()) for i in range(5)]
        bob.decrypt(*chain[4])
        alice.decrypt(*bob.encrypt(b"ack"))
        chains.append(chain)
    assert len(bob.skipped) == 6  # 12 were skipped, the oldest 6 dropped
    with pytest.raises(ReplayedMessage, match="deleted"):
        bob.decrypt(*chains[0][0])
    assert bob.decrypt(*chains[2][0]) == b"r2 m0"


# ---- message keys ---------------------------------------------------------------------------


def test_every_message_gets_its_own_key(monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[bytes] = []
    real_seal = ratchet_module._seal

    def recording_seal(message_key: bytes, plaintext: bytes, associated: bytes) -> bytes:
        used.append(message_key)
        return real_seal(message_key, plaintext, associated)

    monkeypatch.setattr(ratchet_module, "_seal", recording_seal)
    alice, bob = pair()
    chain_keys = set()
    for turn in range(20):
        sender, receiver = (alice, bob) if turn % 2 == 0 else (bob, alice)
        for _ in range(1 + turn % 3):
            receiver.decrypt(*sender.encrypt(b"same text every time"))
            chain_keys |= {alice.root_key, bob.root_key, sender.sending.chain_key}  # type: ignore[union-attr]
    assert len(used) == len(set(used)) == sum(1 + t % 3 for t in range(20))
    assert not chain_keys & set(used)


# ---- what a stolen phone gives away ---------------------------------------------------------


def thief_keys(snapshot: dict, headers: list[Header], depth: int = 2 * MAX_SKIP) -> list[bytes]:
    """A broader search than read_with_snapshot's: every secret in the snapshot used
    directly, every chain run `depth` steps forwards, and both halves of the root KDF
    after a DH of the stolen ratchet key with every ratchet key seen on the wire."""
    secrets = [v for v in snapshot.values() if isinstance(v, bytes) and len(v) == 32]
    chain_starts = [snapshot["receiving_chain_key"], snapshot["sending_chain_key"], *secrets]
    private = nacl.public.PrivateKey(snapshot["ratchet_private_key"])
    for remote in {h.dh_public for h in headers}:
        dh = nacl.bindings.crypto_scalarmult(bytes(private), remote)
        chain_starts += list(kdf_rk(snapshot["root_key"], dh))
    keys = list(snapshot["skipped_message_keys"].values()) + secrets
    for start in chain_starts:
        chain = start
        for _ in range(depth if chain else 0):
            chain, message_key = kdf_ck(chain)
            keys.append(message_key)
    return keys


def opens(key: bytes, header: Header, ciphertext: bytes, ad: bytes) -> bool:
    try:
        ratchet_module._open(key, ciphertext, ad + header.to_bytes())
        return True
    except Exception:
        return False


def test_forward_secrecy_a_stolen_state_opens_only_undelivered_messages() -> None:
    alice, bob = pair()
    to_bob: dict[str, tuple[Header, bytes]] = {}
    to_alice: list[tuple[Header, bytes]] = []

    def send(name: str, deliver: bool) -> None:
        to_bob[name] = alice.encrypt(name.encode(), AD_TO_BOB)
        if deliver:
            assert bob.decrypt(*to_bob[name], AD_TO_BOB) == name.encode()

    for i in range(5):  # Alice's first chain; a2 never arrives
        send(f"a{i}", deliver=i != 2)
    to_alice.append(bob.encrypt(b"b0", AD_TO_ALICE))
    alice.decrypt(*to_alice[-1], AD_TO_ALICE)
    for i in range(5, 9):  # Alice's second chain; a6 lost, a8 still on its way
        send(f"a{i}", deliver=i in (5, 7))
    to_alice += [bob.encrypt(b"b1", AD_TO_ALICE), bob.encrypt(b"b2", AD_TO_ALICE)]
    alice.decrypt(*to_alice[1], AD_TO_ALICE)
    for i in (9, 10):  # Alice's third chain, not yet delivered at all
        send(f"a{i}", deliver=False)

    stolen = bob.snapshot()  # the phone is stolen now
    undelivered = {"a2", "a6", "a8", "a9", "a10"}
    recorded = [(h, c, AD_TO_BOB) for h, c in to_bob.values()]
    recorded += [(h, c, AD_TO_ALICE) for h, c in to_alice]
    opened = read_with_snapshot(stolen, recorded)
    readable = {text.decode() for text in opened if text is not None}
    assert readable == undelivered
    # Cross-check with a wider search: no key derivable from the snapshot opens a message
    # Bob has read or sent.
    keys = thief_keys(stolen, [h for h, _, _ in recorded])
    for name, (header, ciphertext) in to_bob.items():
        assert any(opens(k, header, ciphertext, AD_TO_BOB) for k in keys) == (name in undelivered)
    for header, ciphertext in to_alice:
        assert not any(opens(k, header, ciphertext, AD_TO_ALICE) for k in keys)


def test_the_responder_identity_key_opens_the_first_flight() -> None:
    """The documented limit of the prekey-less handshake: Bob's identity private
    key (on the stolen phone) plus the recorded ephemeral key re-derive Alice's
    first sending chain; the DH ratchet protects everything after it."""
    secret, ephemeral = initiator_secret(ALICE, BOB.public)
    alice = DoubleRatchet.initiator(secret, BOB.public.encryption_key)
    bob = DoubleRatchet.responder(secret, BOB.box_private)
    first_flight = [alice.encrypt(f"first {i}".encode()) for i in range(3)]
    for message in first_flight:
        bob.decrypt(*message)
    alice.decrypt(*bob.encrypt(b"reply"))
    later = [alice.encrypt(f"later {i}".encode()) for i in range(3)]
    for message in later:
        bob.decrypt(*message)

    assert (
        read_with_snapshot(bob.snapshot(), [(*m, b"") for m in first_flight + later]) == [None] * 6
    )
    thief = DoubleRatchet.responder(responder_secret(BOB, ALICE.public, ephemeral), BOB.box_private)
    assert [thief.decrypt(*m) for m in first_flight] == [b"first 0", b"first 1", b"first 2"]
    for message in later:
        with pytest.raises(TamperedMessage):
            thief.decrypt(*message)


def test_static_keys_would_open_everything_for_comparison() -> None:
    """Lesson 03's static Box keys, same theft: every recorded message opens."""
    from toychat.attacks import read_with_stolen_keys

    server = Server()
    alice, bob = Client("alice", server), Client("bob", server, identity=BOB)
    for i in range(12):
        alice.send("bob", f"m{i}")
    assert len(bob.receive()) == 12
    texts = read_with_stolen_keys(BOB, [entry.envelope for entry in server.log], server)
    assert texts == [f"m{i}" for i in range(12)]


def test_post_compromise_security_after_one_dh_round_trip() -> None:
    alice, bob = pair()
    bob.decrypt(*alice.encrypt(b"hello"))
    thief = copy.deepcopy(alice)  # everything on Alice's phone, ratchet private key included
    assert thief.snapshot() == alice.snapshot()

    before_healing = bob.encrypt(b"sent right after the break-in")
    assert thief.decrypt(*before_healing) == b"sent right after the break-in"  # a real compromise
    assert alice.decrypt(*before_healing) == b"sent right after the break-in"
    from_alice = alice.encrypt(b"alice, with a fresh ratchet key")
    assert bob.decrypt(*from_alice) == b"alice, with a fresh ratchet key"
    healed = [bob.encrypt(f"after the round trip {i}".encode()) for i in range(3)]

    for message in healed:  # ...and over, once both sides have made fresh keys
        with pytest.raises(TamperedMessage):
            copy.deepcopy(thief).decrypt(*message)
    recorded = [(*m, b"") for m in [from_alice, *healed]]
    assert read_with_snapshot(thief.snapshot(), recorded) == [None] * 4
    keys = thief_keys(thief.snapshot(), [h for h, _, _ in recorded])
    assert not any(opens(k, h, c, ad) for k in keys for h, c, ad in recorded)
    assert [alice.decrypt(*m) for m in healed] == [
        f"after the round trip {i}".encode() for i in range(3)
    ]


def test_copies_are_independent() -> None:
    alice, bob = pair()
    twin = copy.copy(alice)
    alice.encrypt(b"x")
    assert twin.sending.steps == 0 and alice.sending.steps == 1  # type: ignore[union-attr]
    assert "secrets hidden" in repr(alice) and "hidden" in repr(alice.sending)


def test_module_examples() -> None:
    assert doctest.testmod(ratchet_module).failed == 0
