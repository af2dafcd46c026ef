"""The envelope: serialisation round trips and validation with named errors."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toychat.clock import MAX_TIMESTAMP
from toychat.errors import MalformedEnvelope, ToyChatError
from toychat.wire import (
    MAC_SIZE,
    MAX_ENVELOPE_BYTES,
    MAX_PAYLOAD_BYTES,
    NONCE_SIZE,
    SIGNATURE_SIZE,
    Envelope,
    base64_size,
    new_msg_id,
    read_base64,
)

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,15}", fullmatch=True)
msg_ids = st.binary(min_size=16, max_size=16).map(bytes.hex)
timestamps = st.one_of(
    st.integers(min_value=0, max_value=MAX_TIMESTAMP),  # the one timestamp rule (toychat.clock)
    st.floats(min_value=0, max_value=MAX_TIMESTAMP, allow_nan=False, allow_infinity=False),
)
extras = st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), st.text(max_size=40), max_size=4)


@st.composite
def envelopes(draw: st.DrawFn) -> Envelope:
    mode = draw(st.sampled_from(["e2ee", "plaintext"]))
    if mode == "e2ee":
        nonce = draw(st.binary(min_size=NONCE_SIZE, max_size=NONCE_SIZE))
        payload = draw(st.binary(min_size=MAC_SIZE, max_size=300))
    else:
        nonce = b""
        payload = draw(st.text(max_size=200)).encode("utf-8")
    return Envelope(
        msg_id=draw(msg_ids),
        mode=mode,
        sender=draw(names),
        recipient=draw(names),
        timestamp=draw(timestamps),
        nonce=nonce,
        payload=payload,
        signature=draw(st.sampled_from([b"", b"s" * SIGNATURE_SIZE])),
        extras=draw(extras),
    )


@given(envelopes())
def test_bytes_round_trip(envelope: Envelope) -> None:
    raw = envelope.to_bytes()
    assert Envelope.from_bytes(raw) == envelope
    assert Envelope.from_bytes(raw).to_bytes() == raw


@given(envelopes())
def test_json_round_trip(envelope: Envelope) -> None:
    assert Envelope.from_json(envelope.to_json()) == envelope


@given(envelopes())
def test_signed_bytes_cover_everything_but_the_signature(envelope: Envelope) -> None:
    signed = json.loads(envelope.signed_bytes())
    assert "signature" not in signed
    assert set(signed) | {"signature"} == set(envelope.to_dict())
    assert envelope.with_signature(b"x" * SIGNATURE_SIZE).signed_bytes() == envelope.signed_bytes()


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_random_bytes_are_malformed_never_a_crash(data: bytes) -> None:
    with pytest.raises(MalformedEnvelope):
        Envelope.from_bytes(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(list(Envelope.__dataclass_fields__) + ["junk"]), json_values))
def test_random_json_objects_are_malformed(data: dict) -> None:
    with pytest.raises(MalformedEnvelope):
        Envelope.from_bytes(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())


@given(envelopes(), st.data())
def test_every_truncation_is_malformed(envelope: Envelope, data: st.DataObject) -> None:
    raw = envelope.to_bytes()
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    with pytest.raises(MalformedEnvelope):
        Envelope.from_bytes(raw[:cut])


def _valid(**changes: object) -> dict:
    base = Envelope(
        msg_id=new_msg_id(),
        mode="e2ee",
        sender="alice",
        recipient="bob",
        timestamp=1.5,
        nonce=bytes(NONCE_SIZE),
        payload=bytes(MAC_SIZE + 3),
        signature=bytes(SIGNATURE_SIZE),
    ).to_dict()
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"version": 2}, "version"),
        ({"version": True}, "version"),
        ({"msg_id": "ABC"}, "msg_id"),
        ({"mode": "tls"}, "mode"),
        ({"sender": "a b"}, "sender"),
        ({"recipient": ""}, "recipient"),
        ({"timestamp": -1}, "timestamp"),
        ({"timestamp": "noon"}, "timestamp"),
        ({"nonce": "AAAA"}, "nonce"),
        ({"payload": "AAAA"}, "truncated"),
        ({"payload": "not base64!"}, "base64"),
        ({"payload": "QR=="}, "canonical"),
        ({"signature": "AAAA"}, "signature"),
        ({"extras": {"Bad Key": "x"}}, "extras"),
        ({"extras": {"k": 3}}, "extras"),
        ({"extras": []}, "extras"),
        ({"mode": "plaintext"}, "nonce"),
    ],
)
def test_each_bad_field_is_named(changes: dict, words: str) -> None:
    with pytest.raises(MalformedEnvelope) as info:
        Envelope.from_dict(_valid(**changes))
    assert words in str(info.value)


def test_missing_and_unknown_fields_are_named() -> None:
    data = _valid()
    del data["nonce"]
    with pytest.raises(MalformedEnvelope, match="missing field.*nonce"):
        Envelope.from_dict(data)
    with pytest.raises(MalformedEnvelope, match="unknown field.*franking"):
        Envelope.from_dict(_valid(franking="x"))


def test_non_canonical_json_is_refused() -> None:
    envelope = Envelope.from_dict(_valid())
    pretty = envelope.to_json().encode()
    assert Envelope.from_json(pretty.decode()) == envelope
    with pytest.raises(MalformedEnvelope, match="canonical"):
        Envelope.from_bytes(pretty)


def test_size_limits() -> None:
    with pytest.raises(MalformedEnvelope, match="limit"):
        Envelope.from_bytes(b" " * (MAX_ENVELOPE_BYTES + 1))
    with pytest.raises(MalformedEnvelope, match="limit"):
        Envelope(
            msg_id=new_msg_id(),
            mode="plaintext",
            sender="a",
            recipient="b",
            timestamp=0,
            nonce=b"",
            payload=b"x" * (MAX_PAYLOAD_BYTES + 1),
        )


def test_nan_and_infinity_refused() -> None:
    raw = Envelope.from_dict(_valid()).to_bytes().replace(b'"timestamp":1.5', b'"timestamp":NaN')
    with pytest.raises(MalformedEnvelope):
        Envelope.from_bytes(raw)


def test_errors_are_toychat_errors_and_value_errors() -> None:
    with pytest.raises(ToyChatError):
        Envelope.from_bytes(b"{")
    with pytest.raises(ValueError):
        Envelope.from_bytes(b"{")
    with pytest.raises(MalformedEnvelope):
        Envelope.from_bytes("text, not bytes")  # type: ignore[arg-type]


@settings(max_examples=300)
@given(envelopes())
def test_the_bytes_built_in_parts_are_the_canonical_json_of_the_fields(envelope: Envelope) -> None:
    """to_bytes/signed_bytes build the canonical JSON from cached parts (each field encoded once);
    they must equal the definition, json.dumps of every field (sorted keys, no spaces, UTF-8),
    for every envelope, including extras with quotes, backslashes, control and non-ASCII characters."""
    from toychat.wire import _canonical

    fields = envelope.to_dict()
    assert envelope.to_bytes() == _canonical(fields)
    del fields["signature"]
    assert envelope.signed_bytes() == _canonical(fields)
    parsed = Envelope.from_bytes(envelope.to_bytes())
    assert parsed.signed_bytes() == envelope.signed_bytes()


def test_the_cached_bytes_follow_a_change_to_the_extras() -> None:
    """The extras dict is the envelope's one mutable field: bytes made before a change must not be reused."""
    envelope = Envelope.from_dict(_valid())
    before = envelope.to_bytes()
    envelope.extras["note"] = 'a "quoted" \\ value'
    assert envelope.to_bytes() != before
    assert json.loads(envelope.to_bytes())["extras"]["note"] == 'a "quoted" \\ value'


def test_a_signature_added_later_is_checked_like_any_field() -> None:
    envelope = Envelope.from_dict(_valid())
    with pytest.raises(MalformedEnvelope, match="signature"):
        envelope.with_signature(b"short")
    with pytest.raises(MalformedEnvelope, match="signature"):
        envelope.with_signature("x" * SIGNATURE_SIZE)  # type: ignore[arg-type]
    signed = envelope.with_signature(b"t" * SIGNATURE_SIZE)
    assert Envelope.from_bytes(signed.to_bytes()).signature == b"t" * SIGNATURE_SIZE
    assert signed.signed_bytes() == envelope.signed_bytes()


@settings(max_examples=500)
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=QRwxAE \n", max_size=14))
def test_base64_is_accepted_only_in_its_one_canonical_form(text: str) -> None:
    """The strict base64 check re-encodes only the last group; it must accept exactly the texts
    that decode strictly and re-encode to themselves."""
    import base64
    import binascii

    from toychat.wire import _unb64

    try:
        reference = base64.b64encode(base64.b64decode(text, validate=True)).decode() == text
    except (binascii.Error, ValueError):
        reference = False
    try:
        _unb64(text, "field")
    except MalformedEnvelope:
        accepted = False
    else:
        accepted = True
    assert accepted == reference, text


class _Name(str):
    """A str subclass: the quick check leaves such a field to the full one."""


#: For each field, values the full validation refuses or that only it may judge (str subclasses).
HOSTILE = {
    "msg_id": ["A" * 32, "0" * 31, _Name("0" * 32), 7, None],
    "mode": ["E2EE", _Name("e2ee"), _Name("plaintext"), None, "plaintext"],
    "sender": ["", "bad name", "x" * 65, _Name("alice"), b"alice"],
    "recipient": ["", "-x", _Name("bob"), 3],
    "timestamp": [True, float("nan"), float("inf"), -1, -0.5, MAX_TIMESTAMP + 1, "1", None],
    "nonce": [b"", bytes(23), bytes(25), bytearray(24), "n" * 24],
    "payload": [b"", bytes(MAC_SIZE - 1), bytes(MAX_PAYLOAD_BYTES + 1), bytearray(20), "text"],
    "signature": [bytes(63), bytes(65), bytearray(64), "s" * 64],
    "extras": [{"Bad": "x"}, {"k": 3}, {"k": "\ud800"}, {"k": "x" * 5000}, {str(i): "v" for i in range(20)}, []],
    "version": [2, True, 1.0, "1", 0],
}


@settings(max_examples=300)
@given(st.sampled_from(sorted(HOSTILE)), st.data())
def test_the_quick_check_accepts_nothing_the_full_validation_refuses(field: str, data: st.DataObject) -> None:
    """Envelope construction runs a one-pass quick check and only falls back to the full,
    error-naming validation when it fails; the quick check must never let through a field
    the full validation would refuse (each field in turn made hostile in a valid envelope)."""
    fields = {
        "msg_id": new_msg_id(),
        "mode": "e2ee",
        "sender": "alice",
        "recipient": "bob",
        "timestamp": 1.5,
        "nonce": bytes(NONCE_SIZE),
        "payload": bytes(MAC_SIZE + 3),
        "signature": bytes(SIGNATURE_SIZE),
        "extras": {"franking": "A" * 44},
        "version": 1,
    }
    value = fields[field] = data.draw(st.sampled_from(HOSTILE[field]))
    envelope = object.__new__(Envelope)
    envelope.__dict__.update(fields)
    if envelope._plainly_valid():
        envelope._validate()  # must not raise
    elif not isinstance(value, _Name):  # a str subclass is the full validation's to judge
        with pytest.raises(ToyChatError):
            envelope._validate()


def _full_parse(raw: bytes) -> Envelope | ToyChatError:
    """What ``Envelope.from_bytes`` gives when its one-pass reader takes nothing: the envelope or the error."""
    original = Envelope._from_canonical
    Envelope._from_canonical = classmethod(lambda cls, raw, decode_payload=True: None)  # type: ignore[method-assign,assignment,arg-type,return-value]
    try:
        return Envelope.from_bytes(raw)
    except ToyChatError as exc:
        return exc
    finally:
        Envelope._from_canonical = original  # type: ignore[method-assign]


_EDITS = st.sampled_from(["replace", "insert", "delete"])
#: Bytes that change what the one-pass reader sees: quotes, escapes, digits, signs, spaces, UTF-8.
_EDIT_BYTES = st.sampled_from(list(b'"\\{}:,. 0159eE+-=/Aa') + [0xC3, 0x80])


@settings(max_examples=600, derandomize=True)
@given(envelopes(), st.data())
def test_the_one_pass_reader_takes_only_what_the_full_parse_accepts(envelope: Envelope, data: st.DataObject) -> None:
    """``from_bytes`` reads canonical bytes in one pass (``Envelope._from_canonical``) and leaves
    everything else to the full JSON parse.  The reader must take every canonical envelope, as the
    same envelope with the same signed bytes, and take an edited one (a byte replaced, inserted or
    deleted) only if the full parse accepts it as the same envelope.  The relay's reading, which
    checks the payload's base64 without decoding it (``decode_payload=False``), takes exactly what
    the one-pass reader takes, as the same envelope."""
    raw = envelope.to_bytes()
    fast = Envelope._from_canonical(raw)
    assert fast == envelope
    assert fast is not None
    assert Envelope._from_canonical(raw, False) == envelope
    assert fast.signed_bytes() == envelope.signed_bytes()
    assert fast.to_bytes() == raw
    position = data.draw(st.integers(0, len(raw) - 1))
    edit, byte = data.draw(_EDITS), bytes([data.draw(_EDIT_BYTES)])
    if edit == "replace":
        edited = raw[:position] + byte + raw[position + 1 :]
    elif edit == "insert":
        edited = raw[:position] + byte + raw[position:]
    else:
        edited = raw[:position] + raw[position + 1 :]
    taken, full = Envelope._from_canonical(edited), _full_parse(edited)
    lazy = Envelope._from_canonical(edited, False)
    assert (lazy is None) == (taken is None)
    if taken is not None:
        assert full == taken
        assert taken.signed_bytes() == full.signed_bytes()  # type: ignore[union-attr]
        assert taken.to_bytes() == edited
        assert lazy is not None
        assert lazy.payload_size == len(taken.payload)
        assert lazy.payload_head(12) == taken.payload[:12]
        assert lazy == taken  # (reading the payload decodes it)


@pytest.mark.parametrize(
    "number",
    ["1.5", "0", "7", "1e-05", "1e+16", "100.25", "0.1", "1.50", "1.0e3", "1E3", "01", "1.", "-0", "-0.0", "1e5", " 1"],
)
def test_the_one_pass_reader_and_the_full_parse_agree_on_each_timestamp_text(number: str) -> None:
    """A timestamp is canonical only as JSON writes the number (``repr``); the reader agrees with the full parse."""
    raw = Envelope.from_dict(_valid()).to_bytes()
    start = raw.index(b'"timestamp":') + len(b'"timestamp":')
    edited = raw[:start] + number.encode() + raw[raw.index(b",", start) :]
    full, taken = _full_parse(edited), Envelope._from_canonical(edited)
    if taken is not None:
        assert full == taken
    if number in ("1.5", "0", "7", "1e-05", "100.25", "0.1"):
        assert taken is not None  # canonical and in range: read in one pass
    if number in ("1.50", "1.0e3", "1E3", "01", "1.", "-0", "1e5", " 1"):
        assert isinstance(full, MalformedEnvelope)  # not JSON, or not the encoder's text for it


@pytest.mark.parametrize("char", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
def test_the_one_pass_reader_takes_only_the_canonical_last_group_of_the_signature(char: str) -> None:
    """A 64-byte signature ends in one character and "==": only four of the 64 characters leave the
    spare bits zero (the one canonical text); the reader agrees with the full parse on each."""
    raw = Envelope.from_dict(_valid()).to_bytes()
    spare = raw.index(b'==","timestamp"') - 1
    edited = raw[:spare] + char.encode() + raw[spare + 1 :]
    full, taken = _full_parse(edited), Envelope._from_canonical(edited)
    assert (taken is not None) == (char in "AQgw")
    if taken is None:
        assert isinstance(full, MalformedEnvelope)
    else:
        assert taken == full


#: Base64 texts near every rule of strict decoding and canonical form: length, padding, spare bits, stray characters.
_BASE64_TEXTS = st.text(alphabet="ABQgwEIMaz09+/=\\ \n-_é", max_size=14)


@settings(max_examples=3000, derandomize=True)
@given(st.one_of(_BASE64_TEXTS, st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode())))
def test_base64_size_refuses_exactly_what_read_base64_refuses(text: str) -> None:
    """The relay checks a payload's base64 without decoding it (``wire.base64_size``): it must refuse
    exactly the texts the decoding check (``read_base64``) refuses, and size the rest right."""
    decoded = read_base64(text)
    assert base64_size(text) == (None if decoded is None else len(decoded))


def test_a_relay_reading_keeps_the_payload_as_base64_until_it_is_read() -> None:
    """``from_bytes(decode_payload=False)`` decodes nothing of the payload but the preview's
    groups; the first read of ``payload`` decodes it, once."""
    envelope = Envelope.from_dict(_valid())
    relay = Envelope.from_bytes(envelope.to_bytes(), decode_payload=False)
    assert "payload" not in relay.__dict__
    assert relay.payload_size == len(envelope.payload)
    assert relay.payload_head(5) == envelope.payload[:5]
    assert "payload" not in relay.__dict__
    assert relay.payload == envelope.payload
    assert relay.__dict__["payload"] == envelope.payload
    with pytest.raises(AttributeError):
        relay.no_such_field  # noqa: B018


@pytest.mark.parametrize("char", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
@pytest.mark.parametrize("data", [b"\x01", b"\x01\x02", b"\x01\x02\x03"], ids=["two-pads", "one-pad", "no-pad"])
def test_base64_size_and_read_base64_agree_on_each_last_character(data: bytes, char: str) -> None:
    """The character before the padding holds spare bits that must be zero; every choice of it is
    judged alike by the size check and the decoding check (and a loosened size check fails here)."""
    text = base64.b64encode(data).decode()
    last = len(text.rstrip("=")) - 1
    edited = text[:last] + char + text[last + 1 :]
    decoded = read_base64(edited)
    assert base64_size(edited) == (None if decoded is None else len(decoded))
