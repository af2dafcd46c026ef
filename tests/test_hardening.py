"""Regression tests for defects a hostile sender (a modified client that signs
what it sends with its own key) could trigger, one test or more per defect.

"Re-signed" below means: the sender edits a field of an envelope it made and
signs it again with her own key, so every signature check passes.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import os
import stat
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from toychat import Client, Envelope, Identity, Server, SimulatedClock
from toychat.errors import (
    ForgedReport,
    InvalidKey,
    InvalidProof,
    MalformedEnvelope,
    SentToPreviousKeys,
    TamperedMessage,
    TimestampOutOfRange,
    ToyChatError,
    UnexpectedKey,
    UnreportableMessage,
)
from toychat.franking import FrankingService, Report, commit
from toychat.keys import PublicIdentity, is_low_order, numeric_fingerprint, safety_number
from toychat.relay import RemoteServer
from toychat.relay.limits import TokenBucket
from toychat.relay.runner import RunningRelay, serve_in_thread
from toychat.reporting import report_message, report_with_context
from toychat.transparency import Binding, KeyDirectoryLog, MerkleLog, Monitor, verify_consistency
from toychat.wire import MAX_TIMESTAMP

#: The X25519 points of small order (RFC 7748 §7 asks implementations to check for
#: them; libsodium refuses them): zero, one, the two points of order 8, and p-1, p, p+1.
LOW_ORDER = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    ((1 << 255) - 20).to_bytes(32, "little"),
    ((1 << 255) - 19).to_bytes(32, "little"),
    ((1 << 255) - 18).to_bytes(32, "little"),
]


def resign(client: Client, envelope: Envelope, **changes: object) -> bytes:
    """``envelope`` with ``changes``, signed again by ``client`` (its own sender)."""
    edited = dataclasses.replace(envelope, signature=b"", **changes)  # type: ignore[arg-type]
    signature = client.identity.signing_private.sign(edited.signed_bytes()).signature
    return edited.with_signature(signature).to_bytes()


def resign_unchecked(client: Client, envelope: Envelope, **changes: object) -> bytes:
    """Like :func:`resign`, but built as canonical JSON by hand, so that a field the
    wire refuses (a modified client would send it anyway) reaches the server."""
    data = {**envelope.to_dict(), **changes}
    del data["signature"]
    unsigned = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    data["signature"] = b64(client.identity.signing_private.sign(unsigned).signature)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def relay() -> Iterator[RunningRelay]:
    running = serve_in_thread(rate=10_000, burst=10_000, franking=True)
    yield running
    running.stop()


# ---- 1. message loss ---------------------------------------------------------------------
@pytest.mark.parametrize("point", LOW_ORDER, ids=[f"low{i}" for i in range(len(LOW_ORDER))])
def test_low_order_keys_are_refused_at_registration(point: bytes) -> None:
    assert is_low_order(point)
    signing = bytes(Identity.from_seed("eve", bytes(32)).signing_private.verify_key)
    with pytest.raises(InvalidKey, match="small order"):
        PublicIdentity("eve", point, signing)


def test_the_relay_refuses_a_low_order_key_at_registration(relay: RunningRelay) -> None:
    signing = bytes(Identity.generate("eve-lo").signing_private.verify_key)
    body = json.dumps({"name": "eve-lo", "encryption_key": b64(bytes(32)), "signing_key": b64(signing)}).encode()
    request = urllib.request.Request(
        relay.url + "/api/users", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["error"] == "InvalidKey"


def test_ordinary_keys_are_not_low_order() -> None:
    assert not any(is_low_order(bytes(Identity.from_label(f"u{i}", "t").box_private.public_key)) for i in range(20))


def _fs_pair(server: Server) -> tuple[Client, Client]:
    return Client("mallory", server, forward_secrecy=True), Client("bob", server, forward_secrecy=True)


@pytest.mark.parametrize("point", [bytes(32), LOW_ORDER[2]], ids=["zero", "order8"])
def test_low_order_ephemeral_costs_only_its_own_message(point: bytes) -> None:
    server = Server(clock=SimulatedClock())
    mallory, bob = _fs_pair(server)
    alice = Client("alice", server)
    alice.send("bob", "before")
    hostile = mallory.compose("bob", "hi")
    mallory.submit_raw(resign(mallory, hostile, extras={**hostile.extras, "ephemeral": b64(point)}))
    alice.send("bob", "after")
    delivered = bob.receive(strict=False)
    assert [m.text for m in delivered] == ["before", "after"]
    assert len(bob.rejected) == 1
    assert isinstance(bob.rejected[0].error, MalformedEnvelope)
    assert "mallory" not in bob.sessions


def test_low_order_ratchet_key_in_an_existing_session_costs_only_its_own_message() -> None:
    server = Server(clock=SimulatedClock())
    mallory, bob = _fs_pair(server)
    mallory.send("bob", "first")
    assert [m.text for m in bob.receive()] == ["first"]
    hostile = mallory.compose("bob", "second")
    header = base64.b64decode(hostile.extras["ratchet"])
    extras = {**hostile.extras, "ratchet": b64(bytes(32) + header[32:])}
    mallory.submit_raw(resign(mallory, hostile, extras=extras))
    mallory.send("bob", "third")
    assert [m.text for m in bob.receive(strict=False)] == ["third"]
    assert [type(r.error) for r in bob.rejected] == [MalformedEnvelope]


def test_a_crash_mid_batch_loses_nothing_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    server = Server(clock=SimulatedClock())
    alice, bob = Client("alice", server), Client("bob", server)
    for text in ("one", "two", "three"):
        alice.send("bob", text)
    real = Client.open_envelope
    calls = {"n": 0}

    def flaky(self: Client, data: bytes) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("a bug in the device")
        return real(self, data)

    monkeypatch.setattr(Client, "open_envelope", flaky)
    with pytest.raises(RuntimeError):
        bob.receive()
    assert [m.text for m in bob.inbox] == ["one"]
    monkeypatch.setattr(Client, "open_envelope", real)
    assert [m.text for m in bob.receive()] == ["two", "three"]


def test_a_crash_mid_batch_loses_nothing_over_the_relay(relay: RunningRelay, monkeypatch: pytest.MonkeyPatch) -> None:
    remote = RemoteServer(relay.url)
    alice, bob = Client("alice-crash", remote), Client("bob-crash", remote)
    for text in ("one", "two", "three"):
        alice.send(bob.name, text)
    real = Client.open_envelope
    calls = {"n": 0}

    def flaky(self: Client, data: bytes) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("a bug in the device")
        return real(self, data)

    monkeypatch.setattr(Client, "open_envelope", flaky)
    with pytest.raises(RuntimeError):
        bob.receive()
    monkeypatch.setattr(Client, "open_envelope", real)
    bob.receive()
    assert [m.text for m in bob.inbox] == ["one", "two", "three"]
    assert remote.pending(bob.name) == 0 or bob.receive() == []


def test_low_order_ephemeral_over_the_relay_costs_only_its_own_message(relay: RunningRelay) -> None:
    remote = RemoteServer(relay.url)
    mallory = Client("mallory-lo", remote, forward_secrecy=True)
    alice, bob = Client("alice-lo", remote), Client("bob-lo", remote)
    alice.send(bob.name, "before")
    hostile = mallory.compose(bob.name, "hi")
    mallory.submit_raw(resign(mallory, hostile, extras={**hostile.extras, "ephemeral": b64(bytes(32))}))
    alice.send(bob.name, "after")
    assert [m.text for m in bob.receive(strict=False)] == ["before", "after"]
    assert len(bob.rejected) == 1
    assert isinstance(bob.rejected[0].error, MalformedEnvelope)
    assert bob.receive() == []


# ---- 2. unreportable messages ------------------------------------------------------------------
def test_a_franking_platform_refuses_unfranked_messages() -> None:
    server = Server(clock=SimulatedClock(), franking=FrankingService())
    mallory, bob = Client("mallory", server), Client("bob", server)
    envelope = mallory.compose("bob", "abuse")
    extras = {k: v for k, v in envelope.extras.items() if k != "franking"}
    with pytest.raises(UnreportableMessage):
        mallory.submit_raw(resign(mallory, envelope, extras=extras))
    assert server.log == []
    assert server.pending("bob") == 0
    # a dishonest relay that delivers it anyway: the franking client refuses it
    server.inject("bob", resign(mallory, envelope, extras=extras))
    assert bob.receive(strict=False) == []
    assert isinstance(bob.rejected[0].error, UnreportableMessage)


# ---- 3. report time ----------------------------------------------------------------------------------
def test_the_franking_tag_binds_the_platforms_receive_time() -> None:
    server = Server(clock=SimulatedClock(step=60), franking=FrankingService())
    alice, bob = Client("alice", server), Client("bob", server)
    envelope = alice.send("bob", "hello")
    bob.receive()
    franked = server.franked_for("bob", envelope.msg_id)
    assert franked.timestamp == server.log[-1].received_at != envelope.timestamp


def test_timestamps_outside_the_window_are_refused_by_name() -> None:
    server = Server(clock=SimulatedClock(), franking=FrankingService())
    mallory, _ = Client("mallory", server), Client("bob", server)
    for claimed in (0.0, server.clock() + 10 * 86_400):
        envelope = mallory.compose("bob", "when?")
        with pytest.raises(TimestampOutOfRange):
            mallory.submit_raw(resign(mallory, envelope, timestamp=claimed))
    assert server.log == []


def test_a_future_dated_earlier_message_does_not_break_a_report_with_context() -> None:
    clock = SimulatedClock(step=60)
    server = Server(clock=clock, franking=FrankingService())
    mallory, bob = Client("mallory", server), Client("bob", server)
    first = mallory.compose("bob", "earlier, dated an hour ahead")
    mallory.submit_raw(resign(mallory, first, timestamp=first.timestamp + 3600))
    reported = mallory.send("bob", "the abusive one")
    bob.receive()
    table = report_with_context(bob, reported.msg_id)
    assert list(table["role"]) == ["context", "reported message"]


# ---- 4. one timestamp rule ------------------------------------------------------------------------------
@pytest.mark.parametrize("timestamp", [10**20, 1e300, MAX_TIMESTAMP + 1, -1, math.nan, True, "1"])
def test_the_wire_refuses_timestamps_outside_the_one_rule(timestamp: object) -> None:
    with pytest.raises(MalformedEnvelope):
        Envelope("0" * 32, "plaintext", "alice", "bob", timestamp, b"", b"x")  # type: ignore[arg-type]


def test_log_table_handles_the_largest_timestamp() -> None:
    server = Server(mode="plaintext", clock=SimulatedClock(start=MAX_TIMESTAMP - 100))
    alice, _ = Client("alice", server), Client("bob", server)
    alice.send("bob", "far future")
    assert server.log_table()["sent_at"].iloc[0].year == 9999


def test_a_huge_integer_timestamp_is_a_400_and_does_not_burn_the_id(relay: RunningRelay) -> None:
    remote = RemoteServer(relay.url)
    mallory, bob = Client("mallory-ts", remote), Client("bob-ts", remote)
    envelope = mallory.compose(bob.name, "when?")
    with pytest.raises(MalformedEnvelope) as caught:
        remote.submit_raw(mallory.name, resign_unchecked(mallory, envelope, timestamp=10**20))
    assert caught.value.status == 400  # type: ignore[attr-defined]
    remote.submit_raw(mallory.name, envelope.to_bytes())  # the same id is still free
    assert [m.text for m in bob.receive()] == ["when?"]


@pytest.mark.integration
def test_an_integer_timestamp_report_verifies_after_a_relay_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "relay.sqlite")
    first = serve_in_thread(db=db, franking=True)
    try:
        remote = RemoteServer(first.url)
        alice, bob = Client("alice", remote), Client("bob", remote)
        envelope = alice.compose("bob", "report me")
        remote.submit_raw("alice", resign(alice, envelope, timestamp=int(envelope.timestamp)))
        bob.receive()
        tokens = dict(remote.tokens)
    finally:
        first.stop()
    second = serve_in_thread(db=db, franking=True)
    try:
        bob.server = RemoteServer(second.url, tokens=tokens)
        assert report_message(bob, envelope.msg_id) == b"report me"
    finally:
        second.stop()


# ---- 5. strict commitment decoding ---------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["A", "AAAA", b64(bytes(31)), b64(bytes(32)) + "\n", b64(bytes(33))])
def test_a_malformed_commitment_is_refused_before_any_state_changes(value: str) -> None:
    server = Server(clock=SimulatedClock(), franking=FrankingService())
    mallory, bob = Client("mallory", server), Client("bob", server)
    envelope = mallory.compose("bob", "x")
    with pytest.raises(MalformedEnvelope):
        mallory.submit_raw(resign(mallory, envelope, extras={**envelope.extras, "franking": value}))
    mallory.submit_raw(envelope.to_bytes())  # the id was not marked as seen
    assert [m.text for m in bob.receive()] == ["x"]


def test_a_malformed_commitment_is_a_400_over_http(relay: RunningRelay) -> None:
    remote = RemoteServer(relay.url)
    mallory, bob = Client("mallory-fr", remote), Client("bob-fr", remote)
    envelope = mallory.compose(bob.name, "x")
    with pytest.raises(MalformedEnvelope) as caught:
        remote.submit_raw(mallory.name, resign(mallory, envelope, extras={**envelope.extras, "franking": "A"}))
    assert caught.value.status == 400  # type: ignore[attr-defined]
    remote.submit_raw(mallory.name, envelope.to_bytes())
    assert [m.text for m in bob.receive()] == ["x"]


# ---- 6. smaller defects ------------------------------------------------------------------------------------------
def test_monitor_reports_a_revocation_of_its_own_device() -> None:
    alice = Identity.from_seed("alice", bytes(32)).public
    directory = KeyDirectoryLog()
    directory.publish(Binding.of(alice, "phone"))
    monitor = Monitor("alice", {"phone": alice}, directory.verify_key)
    monitor.check(directory)
    directory.publish(Binding.of(alice, "phone", action="revoke"))
    with pytest.raises(UnexpectedKey, match="revoke"):
        monitor.check(directory)


def test_consistency_from_the_empty_tree_checks_the_empty_root() -> None:
    log = MerkleLog()
    for leaf in (b"a", b"b", b"c"):
        log.append(leaf)
    verify_consistency(0, 3, MerkleLog().root(), log.root(), [])
    with pytest.raises(InvalidProof):
        verify_consistency(0, 3, b"\x42" * 32, log.root(), [])


def test_the_token_bucket_does_not_forget_a_limited_user() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=1.0, burst=2, clock=lambda: now[0])
    assert [bucket.allow("spammer") for _ in range(3)] == [True, True, False]
    for i in range(10_001):
        bucket.allow(f"sock-puppet-{i}")
    assert bucket.allow("spammer") is False


def test_a_refused_content_type_creates_no_ratchet_session() -> None:
    server = Server(clock=SimulatedClock())
    mallory, bob = _fs_pair(server)
    envelope = mallory.compose("bob", "hi")
    mallory.submit_raw(resign(mallory, envelope, extras={**envelope.extras, "type": "application/x-evil"}))
    assert bob.receive(strict=False) == []
    assert isinstance(bob.rejected[0].error, MalformedEnvelope)
    assert "mallory" not in bob.sessions


def test_franking_verify_checks_the_franking_key_length() -> None:
    service = FrankingService()
    nf, commitment = commit(b"abuse")
    franked = service.tag(commitment, "mallory", "alice", 1000.0)
    assert service.verify(Report(b"abuse", nf, franked)) == b"abuse"
    with pytest.raises(ForgedReport):
        service.verify(Report(b"abuse", nf + b"\x00", franked))


@pytest.mark.parametrize("iterations", [0, -1, True, 1.5])
def test_safety_number_refuses_a_meaningless_iteration_count(iterations: object) -> None:
    a, b = Identity.from_seed("alice", bytes(32)), Identity.from_seed("bob", b"\x01" * 32)
    with pytest.raises((ValueError, TypeError)):
        safety_number(a, b, iterations=iterations)  # type: ignore[arg-type]


@pytest.mark.parametrize("timestamp", ["NaN", '"1"', "1e400", "-1"])
def test_binding_from_bytes_refuses_bad_timestamps(timestamp: str) -> None:
    good = Binding.of(Identity.from_seed("alice", bytes(32)).public).to_bytes()
    assert Binding.from_bytes(good).timestamp == 0.0
    with pytest.raises(MalformedEnvelope):
        Binding.from_bytes(good.replace(b'"timestamp":0.0', b'"timestamp":' + timestamp.encode()))


#: libsignal's test vector for the numeric fingerprint (rust/protocol/src/fingerprint.rs,
#: ``fingerprint_test_v1``; ``testVectorsVersion1`` in the Java library): two encoded identity
#: keys (the 0x05 type byte, then 32 bytes of Curve25519 key), their phone numbers, 5,200 rounds.
LIBSIGNAL_ALICE_KEY = bytes.fromhex("0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868")
LIBSIGNAL_BOB_KEY = bytes.fromhex("05f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b")
LIBSIGNAL_DISPLAYABLE = "300354477692869396892869876765458257569162576843440918079131"


def test_the_safety_number_iteration_reproduces_libsignals_test_vector() -> None:
    halves = [
        numeric_fingerprint(LIBSIGNAL_ALICE_KEY, b"+14152222222"),
        numeric_fingerprint(LIBSIGNAL_BOB_KEY, b"+14153333333"),
    ]
    assert "".join(sorted(halves)) == LIBSIGNAL_DISPLAYABLE


def test_the_safety_number_is_that_iteration_over_the_toys_raw_keys_and_names() -> None:
    """What the docstring and README say differs from Signal: the toy hashes its raw 64 key bytes
    (X25519 then Ed25519, no 0x05 type byte) with the user name as the identifier."""
    alice, bob = Identity.from_seed("alice", bytes(32)).public, Identity.from_seed("bob", b"\x01" * 32).public
    halves = [
        numeric_fingerprint(person.encryption_key + person.signing_key, person.name.encode()) for person in (alice, bob)
    ]
    assert safety_number(alice, bob) == "".join(sorted(halves))


# ---- kernel restarts ------------------------------------------------------------------------------------------
def test_messages_for_previous_keys_are_a_named_situation(relay: RunningRelay) -> None:
    remote = RemoteServer(relay.url)
    alice, bob = Client("alice-rk", remote), Client("bob-rk", remote)
    alice.send(bob.name, "sent before the restart")
    restarted = RemoteServer(relay.url, tokens={bob.name: remote.tokens[bob.name]})
    new_bob = Client(bob.name, restarted)  # a restarted kernel: new keys
    with pytest.raises(SentToPreviousKeys, match="previous keys"):
        new_bob.receive()
    assert isinstance(new_bob.rejected[0].error, TamperedMessage)


def test_identity_save_and_load_keep_the_keys_private(tmp_path: Path) -> None:
    identity = Identity.generate("alice")
    path = tmp_path / "alice.key"
    identity.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = Identity.load(path)
    assert loaded == identity
    assert bytes(loaded.box_private) == bytes(identity.box_private)
    os.chmod(path, 0o644)
    with pytest.raises(InvalidKey, match="readable"):
        Identity.load(path)
    os.chmod(path, 0o600)
    path.write_text("{not json")
    with pytest.raises(InvalidKey):
        Identity.load(path)


def test_a_saved_identity_and_login_survive_a_kernel_restart(relay: RunningRelay, tmp_path: Path) -> None:
    """The three lines RemoteServer's docstring gives, run before and after a restart."""
    alice = Client("alice-keep", RemoteServer(relay.url))

    def start_kernel() -> Client:
        me = Identity.load_or_create("bob-keep", tmp_path / "keys" / "bob.key")
        server = RemoteServer(relay.url, login_file=tmp_path / "keys" / "logins.json")
        return Client("bob-keep", server, identity=me)

    bob = start_kernel()
    assert stat.S_IMODE(os.stat(tmp_path / "keys" / "logins.json").st_mode) == 0o600
    alice.send(bob.name, "kept")
    new_bob = start_kernel()  # the kernel restarted: same keys, same login
    assert new_bob.public == bob.public
    assert [m.text for m in new_bob.receive()] == ["kept"]


def test_every_error_here_is_named() -> None:
    for cls in (SentToPreviousKeys, TimestampOutOfRange, UnreportableMessage):
        assert issubclass(cls, ToyChatError)
