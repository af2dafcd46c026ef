"""What one chat message costs the toy besides its cryptography, counted in calls, not time.

Issue 31 asked the chat to cost at most 1.5 times the same cryptography at 1 KiB, and named the
toy's layers as the gap: canonical JSON encoded several times per message, a whole parse per hop
and a second pass to check it, base64 per hop, every field validated again.  Timings depend on
the machine and its load; the number of times each step runs does not.  So these tests count
(with :mod:`cProfile`, which counts every call of a Python function and of a built-in) what one
message does on its way from Alice's send to Bob's receive, and fail if a change makes a message
encode, parse, validate or format anything more often than once per hop.
"""

from __future__ import annotations

import cProfile
import pstats

import pytest

from toychat import Client, Server, wire
from toychat.client import ReceivedMessage
from toychat.ratchet import Header
from toychat.server import SeenByServer
from toychat.sessions import Opened, Sealed
from toychat.wire import Envelope

#: The frozen records a message passes through; their generated ``__init__`` sets each field with
#: its own ``object.__setattr__`` call (``toychat.frozen`` says why that matters).
RECORDS = (Envelope, SeenByServer, ReceivedMessage, Sealed, Opened, Header)

#: Messages counted (after one that sets up the sessions); every count is divided by this.
MESSAGES = 10


def _calls_per_message(forward_secrecy: bool) -> dict[str, float]:
    """Calls per message of every function, by ``file:function`` (built-ins by their name)."""
    server = Server()
    alice = Client("alice", server, forward_secrecy=forward_secrecy)
    bob = Client("bob", server, forward_secrecy=forward_secrecy)
    text = "x" * 1024
    alice.send("bob", text)
    bob.receive()
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(MESSAGES):
        alice.send("bob", text)
        received = bob.receive()
    profile.disable()
    assert [message.text for message in received] == [text]
    counts: dict[str, float] = {}
    for (path, _line, name), (_primitive, calls, *_rest) in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
        key = f"{path.rsplit('/', 1)[-1]}:{name}" if path != "~" else name
        counts[key] = counts.get(key, 0) + calls / MESSAGES
    # every dataclass's generated __init__ is "<string>:2:__init__" to pstats: told apart by code object
    for record in RECORDS:
        calls = sum(entry.callcount for entry in profile.getstats() if entry.code is record.__init__.__code__)
        counts[f"__init__:{record.__name__}"] = calls / MESSAGES
    return counts


@pytest.fixture(scope="module", params=[False, True], ids=["box", "ratchet"])
def per_message(request: pytest.FixtureRequest) -> tuple[bool, dict[str, float]]:
    return request.param, _calls_per_message(request.param)


def test_one_parse_per_hop_and_never_the_full_json_parse(per_message: tuple[bool, dict[str, float]]) -> None:
    """The server and Bob's phone each read the envelope once, in one pass; a good message never
    takes the full JSON parse (kept for anything else, to name what is wrong)."""
    _ratchet, counts = per_message
    assert counts.get("wire.py:_from_canonical") == 2
    assert counts.get("wire.py:_parse_json", 0) == 0
    assert counts.get("wire.py:from_dict", 0) == 0
    assert counts.get("wire.py:_is_encoded_as", 0) == 0


def test_the_sender_encodes_the_canonical_json_once(per_message: tuple[bool, dict[str, float]]) -> None:
    """Alice builds the canonical pieces once and signs those bytes; nobody re-encodes to compare."""
    _ratchet, counts = per_message
    assert counts.get("wire.py:_canonical_pieces") == 1
    assert counts.get("wire.py:_json_extras") == 1
    assert counts.get("wire.py:_canonical", 0) == 0


def test_each_field_is_validated_once_per_hop(per_message: tuple[bool, dict[str, float]]) -> None:
    """The field rules run once at each of the three hops (Alice's phone, the server, Bob's phone)."""
    _ratchet, counts = per_message
    assert counts.get("wire.py:_plain_rules") == 3
    assert counts.get("wire.py:_plainly_valid") == 1  # Alice's new envelope; the readers check as they read
    assert counts.get("wire.py:_validate", 0) == 0


def test_base64_once_per_hop(per_message: tuple[bool, dict[str, float]]) -> None:
    """Base64 is written once for each field (three, and with the ratchet its header) and read once
    per reading hop, never written again to check what was read.  The ratchet's ephemeral key, sent
    with every message until Bob replies, is the same key each time: Alice's session writes its base64
    once and Bob's reads it once, not once per message."""
    ratchet, counts = per_message
    extras = 1 if ratchet else 0  # the ratchet's header; Bob reads it
    assert counts.get("<built-in method binascii.b2a_base64>") == 3 + extras  # nonce, payload, signature
    assert counts.get("<built-in method binascii.a2b_base64>") == 2 * 3 + extras  # both readers' three fields


def test_no_key_agreement_per_message_on_one_chain(per_message: tuple[bool, dict[str, float]]) -> None:
    """Messages that continue one ratchet chain carry the same ratchet key: its small-order test
    (a whole X25519 multiplication, ``keys.is_low_order``, kept per key) runs once for the key,
    not once per message; without that cache this fails."""
    _ratchet, counts = per_message
    assert counts.get("crypto_scalarmult.py:crypto_scalarmult", 0) == 0


def test_no_record_is_built_field_by_field(per_message: tuple[bool, dict[str, float]]) -> None:
    """The envelope Alice composes, what the server saw, what Bob's phone delivered, what a session
    sealed and opened and the ratchet's header are filled in at once (``toychat.frozen.build``), not
    by their frozen ``__init__``'s one call per field."""
    _ratchet, counts = per_message
    assert {record.__name__: counts[f"__init__:{record.__name__}"] for record in RECORDS} == dict.fromkeys(
        (record.__name__ for record in RECORDS), 0
    )


def test_the_server_checks_the_payload_base64_without_decoding_it(per_message: tuple[bool, dict[str, float]]) -> None:
    """The relay needs a payload's size and first bytes: its base64 is checked (``base64_size``,
    one ``bytes.translate``) and never decoded whole; only Bob's phone decodes it."""
    _ratchet, counts = per_message
    assert counts.get("wire.py:base64_size") == 1
    assert counts.get("<method 'translate' of 'bytes' objects>") == 1
    assert counts.get("wire.py:read_base64", 0) == 1 + (1 if _ratchet else 0)  # Bob's payload (+ header)
    assert counts.get("wire.py:__get__", 0) == 0  # nobody read the relay's payload


def test_extras_keys_are_matched_once_not_at_every_hop(per_message: tuple[bool, dict[str, float]]) -> None:
    """A pattern match per message: Alice's id and two names, and each reader's one match of the
    envelope's tail; the ratchet's two extras keys, known from earlier messages, are not matched
    again at each of the three hops (that was six more per message)."""
    _ratchet, counts = per_message
    assert counts.get("<method 'fullmatch' of 're.Pattern' objects>") == 5


def test_the_ratchet_session_does_its_fixed_work_once(per_message: tuple[bool, dict[str, float]]) -> None:
    """The associated data of a pair is made once per session, the header's base64 is written by
    the envelope's encoder (no ``base64`` module wrapper), and a message the current state opens
    is opened and kept without listing the states (the current one and the archived)."""
    ratchet, counts = per_message
    if not ratchet:
        pytest.skip("a Box session has no ratchet")
    assert counts.get("sessions.py:associated_data", 0) == 0
    assert counts.get("base64.py:b64encode", 0) == 0
    assert counts.get("sessions.py:_states", 0) == 0


def test_the_extras_are_checked_once_per_reader_and_not_at_all_when_empty(
    per_message: tuple[bool, dict[str, float]],
) -> None:
    """Each reader checks the extras' canonical form once (the ratchet's header and key); a Box
    message has none, whose one canonical form ``{}`` the decoder's end position shows."""
    ratchet, counts = per_message
    assert counts.get("wire.py:_is_canonical_extras", 0) == (2 if ratchet else 0)


def test_the_relay_does_no_work_for_what_it_does_not_run(per_message: tuple[bool, dict[str, float]]) -> None:
    """Without franking the relay looks for no commitment (it looked twice per message), and it takes
    its own clock's float as it is rather than through :func:`toychat.clock.as_seconds`."""
    _ratchet, counts = per_message
    assert counts.get("server.py:_commitment", 0) == 0
    assert counts.get("clock.py:as_seconds", 0) == 0


def test_keys_in_use_are_matched_once_after_many_others(per_message: tuple[bool, dict[str, float]]) -> None:
    """The kept extras keys are bounded (a sender inventing keys cannot grow them), but the keys in use
    stay kept after a relay or a phone has met more than that many others: it used to keep the first
    64 ever seen, so after them the ratchet's two keys were matched at every hop again (six more a
    message; this module's other counts then depended on which tests ran before it)."""
    ratchet, _counts = per_message
    for index in range(wire._GOOD_KEYS_KEPT + 1):  # other keys, as many senders' extras would bring
        assert wire._plain_rules("plaintext", 0, b"", 0, b"", {f"key{index}": "x"})
    counts = _calls_per_message(ratchet)
    assert counts.get("<method 'fullmatch' of 're.Pattern' objects>") == 5
