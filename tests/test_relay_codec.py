"""The relay's wire format is written once: :mod:`toychat.relay.codec`.

Each wire object survives its own encode and decode; over a live relay, what
:class:`RemoteServer` encodes the relay decodes with the same function (and
the other way round); and a malformed object is refused with the same named
error whether the relay receives it or the client does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from toychat import Client, Identity
from toychat.errors import ForgedReport, MalformedEnvelope, RegistrationError, ToyChatError, UnknownRecipient
from toychat.franking import Franked, Report
from toychat.relay import RemoteServer, codec
from toychat.relay.runner import RunningRelay, serve_in_thread
from toychat.relay.store import Queued
from toychat.reporting import report_message

PUBLIC = Identity.from_seed("alice", bytes(range(32))).public
FRANKED = Franked(bytes(range(32)), "mallory", "alice", 1_704_704_400.25, bytes(range(32, 64)))

#: (encode, decode, a value): each wire object the relay and RemoteServer exchange.
ROUND_TRIPS: list[tuple[str, str, object]] = [
    ("public_to_json", "public_from_json", PUBLIC),
    ("franked_to_json", "franked_from_json", FRANKED),
    ("report_to_json", "report_from_json", Report(b"an abusive message", bytes(32), FRANKED)),
    ("verified_to_json", "verified_from_json", b"an abusive message"),
    ("mailbox_to_json", "mailbox_from_json", [Queued(1, "m1", b'{"a":1}'), Queued(2**62, "m2", "é".encode())]),
    ("mailbox_to_json", "mailbox_from_json", []),
    ("ack_to_json", "ack_from_json", [1, 2, 2**63 - 1]),
    ("mode_to_json", "mode_from_json", "plaintext"),
]


@pytest.mark.parametrize(("encode", "decode", "value"), ROUND_TRIPS, ids=[t[0] for t in ROUND_TRIPS])
def test_every_wire_object_survives_json(encode: str, decode: str, value: object) -> None:
    on_the_wire = json.loads(json.dumps(getattr(codec, encode)(value)))  # exactly what crosses HTTP
    assert getattr(codec, decode)(on_the_wire) == value


def test_an_error_body_names_its_exception() -> None:
    error = codec.error_from_json(json.loads(json.dumps(codec.error_to_json("UnknownRecipient", "nobody"))))
    assert type(error) is UnknownRecipient
    assert str(error) == "nobody"


# ---- both sides call the same functions -------------------------------------------------------
#: (function, side that calls it) for every exchange below: each encode on one side, its decode on the other.
EXPECTED_CALLS = {
    ("public_to_json", "client"),  # register
    ("public_from_json", "relay"),
    ("public_to_json", "relay"),  # look up
    ("public_from_json", "client"),
    ("mailbox_to_json", "relay"),  # receive
    ("mailbox_from_json", "client"),
    ("ack_to_json", "client"),  # the next receive acknowledges
    ("ack_from_json", "relay"),
    ("franked_to_json", "relay"),  # report
    ("franked_from_json", "client"),
    ("report_to_json", "client"),
    ("report_from_json", "relay"),
    ("verified_to_json", "relay"),
    ("verified_from_json", "client"),
    ("mode_to_json", "client"),  # switch the mode
    ("mode_from_json", "relay"),
    ("error_to_json", "relay"),  # a refusal
    ("error_from_json", "client"),
}


@dataclass(frozen=True)
class Call:
    """One call of a codec function: its name, the side that made it, and the JSON it made or read."""

    name: str
    side: str
    json: object


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """Every codec call, with its side (the relay serves in its own thread) and its JSON."""
    seen: list[Call] = []

    def spy(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def recorded(*args: Any) -> Any:
            result = function(*args)
            side = "relay" if threading.current_thread().name == "toychat-relay" else "client"
            seen.append(Call(name, side, result if name.endswith("_to_json") else args[0]))
            return result

        return recorded

    for name in codec.__all__:
        if name.endswith(("_to_json", "_from_json")):
            monkeypatch.setattr(codec, name, spy(name, getattr(codec, name)))
    return seen


@pytest.fixture
def relay() -> Iterator[RunningRelay]:
    running = serve_in_thread(rate=10_000, burst=10_000, franking=True)
    yield running
    running.stop()


def test_what_one_side_encodes_the_other_decodes_with_the_same_codec(relay: RunningRelay, calls: list[Call]) -> None:
    remote = RemoteServer(relay.url, admin_token=relay.admin_token)
    mallory, alice = Client("mallory", remote), Client("alice", remote)
    sent = mallory.send("alice", "an abusive message")
    assert [m.text for m in alice.receive()] == ["an abusive message"]
    assert alice.receive() == []
    assert report_message(alice, sent.msg_id) == b"an abusive message"
    remote.mode = "e2ee"
    with pytest.raises(UnknownRecipient):
        remote.lookup("nobody-here")
    made = {(c.name, c.side) for c in calls}
    assert made >= EXPECTED_CALLS, sorted(EXPECTED_CALLS - made)
    other = {"client": "relay", "relay": "client"}
    for decoded in (c for c in calls if c.name.endswith("_from_json")):
        encoder = decoded.name.replace("_from_json", "_to_json")
        # exactly what the other side's encoder made: neither side writes this object by hand
        assert any((c.name, c.side, c.json) == (encoder, other[decoded.side], decoded.json) for c in calls), decoded


# ---- a malformed object is the same named refusal on both sides ----------------------------------
GOOD_PUBLIC = codec.public_to_json(PUBLIC)
GOOD_FRANKED = codec.franked_to_json(FRANKED)

BAD_PUBLIC = [
    {**GOOD_PUBLIC, "encryption_key": GOOD_PUBLIC["encryption_key"] + "\n"},  # base64 with a stray byte
    {**GOOD_PUBLIC, "signing_key": "%%%%" + GOOD_PUBLIC["signing_key"]},
    {**GOOD_PUBLIC, "encryption_key": 5},
    {**GOOD_PUBLIC, "name": "<script>"},
    ["alice"],
]
BAD_FRANKED = [
    {**GOOD_FRANKED, "tag": GOOD_FRANKED["tag"] + "\n"},
    {**GOOD_FRANKED, "timestamp": 10**400},
    {**GOOD_FRANKED, "sender": "<script>"},
    {**GOOD_FRANKED, "recipient": None},
    "a tag",
]


def refusal(relay: RunningRelay, path: str, body: object, token: str | None = None) -> tuple[str, str]:
    """The named refusal the relay answers ``body`` with, as (error name, message)."""
    remote = RemoteServer(relay.url, tokens={"alice": token} if token else None)
    with pytest.raises(ToyChatError) as caught:
        remote.request("POST", path, data=body, user="alice" if token else None)
    return type(caught.value).__name__, str(caught.value)


def client_refusal(monkeypatch: pytest.MonkeyPatch, answer: object, call: Callable[[RemoteServer], object]) -> Any:
    """The exception ``call`` raises when the relay answers ``answer`` (as it crosses the wire)."""
    remote = RemoteServer("http://127.0.0.1:9")
    monkeypatch.setattr(remote, "request", lambda *args, **kwargs: json.loads(json.dumps(answer)))
    with pytest.raises(ToyChatError) as caught:
        call(remote)
    return caught.value


@pytest.mark.parametrize("bad", BAD_PUBLIC, ids=["newline", "percent", "number", "name", "list"])
def test_a_malformed_identity_is_refused_by_name_on_both_sides(
    relay: RunningRelay, monkeypatch: pytest.MonkeyPatch, bad: object
) -> None:
    on_the_relay = refusal(relay, "/api/users", bad)
    error = client_refusal(monkeypatch, bad, lambda remote: remote.lookup("alice"))
    assert (type(error).__name__, str(error)) == on_the_relay
    if isinstance(error, RegistrationError):
        assert error.status == 400  # a bad name, not a taken one


@pytest.mark.parametrize("bad", BAD_FRANKED, ids=["newline", "huge-timestamp", "sender", "recipient", "string"])
def test_a_malformed_franking_tag_is_refused_by_name_on_both_sides(
    relay: RunningRelay, monkeypatch: pytest.MonkeyPatch, bad: object
) -> None:
    remote = RemoteServer(relay.url)
    remote.register(Identity.generate("alice").public)
    report = {"message": "AA==", "franking_key": "AA==", "franked": bad}
    on_the_relay = refusal(relay, "/api/reports", report, remote.tokens["alice"])
    assert on_the_relay[0] in {"ForgedReport", "MalformedEnvelope"}
    error = client_refusal(monkeypatch, bad, lambda remote: remote.franked_for("alice", "m1"))
    assert (type(error).__name__, str(error)) == on_the_relay
    assert isinstance(error, (ForgedReport, MalformedEnvelope))
