"""The wire format: one message, as it travels from a sender to a recipient.

An :class:`Envelope` is what a client hands the server and what the server
stores and delivers.  Its fields (all of them visible to the server):

============  ================================================================
field         meaning
============  ================================================================
version       wire-format version, always :data:`WIRE_VERSION` (1)
msg_id        32 lower-case hex digits, random, unique per message
mode          ``"e2ee"`` (payload is ciphertext) or ``"plaintext"`` (payload
              is the message text, readable by the server)
sender        the sender's user name
recipient     the recipient's user name
timestamp     when the sender's device says it sent the message (UNIX seconds,
              0 to :data:`~toychat.clock.MAX_TIMESTAMP`: the one rule of
              :func:`~toychat.clock.check_timestamp`)
nonce         24 random bytes for ``e2ee`` (XSalsa20 nonce); empty for
              ``plaintext``
payload       the ciphertext (``e2ee``) or the UTF-8 text (``plaintext``)
extras        a dict of short text fields for later parts of the course (e.g.
              a franking commitment); covered by the signature
signature     64-byte Ed25519 signature by the sender over all of the above
============  ================================================================

Serialisation is canonical JSON (sorted keys, no spaces, UTF-8; bytes in
standard base64).  :meth:`Envelope.from_bytes` accepts *only* the canonical
encoding, so every envelope has exactly one byte string, and a changed byte is
either a format error (:class:`~toychat.errors.MalformedEnvelope`) or a
different envelope whose signature no longer matches
(:class:`~toychat.errors.TamperedMessage`).

What this simplifies compared with Signal
-----------------------------------------
Signal's messages are protobufs with a header (ratchet public key, counters)
that the Double Ratchet authenticates as associated data, and its "sealed
sender" hides the sender's name from the server
(https://signal.org/blog/sealed-sender/).  The toy's envelope is readable JSON
with the sender and recipient in the clear, because lesson 03 is about exactly
that metadata.  The toy signs every envelope with Ed25519, which makes messages
non-repudiable; Signal deliberately authenticates with MACs instead, so that
messages are deniable (lesson 02).
"""

from __future__ import annotations

import binascii
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard

import nacl.exceptions
import nacl.signing

from .clock import MAX_TIMESTAMP, check_timestamp
from .errors import MalformedEnvelope, TamperedMessage
from .keys import NAME_PATTERN

__all__ = [
    "WIRE_VERSION",
    "MODES",
    "Mode",
    "is_mode",
    "NONCE_SIZE",
    "MAC_SIZE",
    "SIGNATURE_SIZE",
    "MAX_PAYLOAD_BYTES",
    "MAX_ENVELOPE_BYTES",
    "MAX_TIMESTAMP",
    "Envelope",
    "new_msg_id",
    "short_id",
    "read_base64",
    "base64_size",
    "b64_text",
]

WIRE_VERSION = 1
Mode = Literal["e2ee", "plaintext"]
MODES: tuple[str, ...] = ("e2ee", "plaintext")


def is_mode(value: object) -> TypeGuard[Mode]:
    """Whether ``value`` names a platform (one of :data:`MODES`); narrows it to :data:`Mode`.

    >>> is_mode("e2ee"), is_mode("E2EE"), is_mode(None)
    (True, False, False)
    """
    return isinstance(value, str) and value in MODES


#: XSalsa20 nonce length, as :data:`nacl.public.Box.NONCE_SIZE`.
NONCE_SIZE = 24
#: Poly1305 authenticator length: every E2EE payload is at least this long.
MAC_SIZE = 16
#: Ed25519 signature length.
SIGNATURE_SIZE = 64
#: Largest payload accepted (1 MiB).
MAX_PAYLOAD_BYTES = 1 << 20
#: Largest serialised envelope accepted, checked before any parsing (2 MiB).
MAX_ENVELOPE_BYTES = 2 << 20
#: Extras: at most this many fields, each value at most this many characters.
MAX_EXTRAS = 16
MAX_EXTRA_CHARS = 4096

_FIELDS = (
    "extras",
    "mode",
    "msg_id",
    "nonce",
    "payload",
    "recipient",
    "sender",
    "signature",
    "timestamp",
    "version",
)
_FIELD_SET = frozenset(_FIELDS)
#: The exact types :meth:`Envelope._plainly_valid` takes (version, msg_id, mode, sender, recipient),
#: (nonce, payload, signature, extras) and (timestamp).
_PLAIN_TYPES = (int, str, str, str, str)
_PLAIN_DATA = (bytes, bytes, bytes, dict)
_PLAIN_NUMBERS = (int, float)
#: The fields that hold bytes (base64 text on the wire).
_BYTES_FIELDS = ("nonce", "payload", "signature")
_MSG_ID = re.compile(r"[0-9a-f]{32}")
_EXTRA_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")
#: Extras keys that matched :data:`_EXTRA_KEY` (plain ``str``, so membership is the pattern's
#: answer), the :data:`_GOOD_KEYS_KEPT` most recently added (a dict keeps insertion order; the
#: oldest goes first), so that a sender inventing keys can neither grow it nor keep an honest key
#: out of it for good: once evicted, a key is matched again at its next use and kept again.
_GOOD_KEYS: dict[str, None] = {}
_GOOD_KEYS_KEPT = 64


def _remember_good_key(key: str) -> None:
    """Keep ``key`` among the :data:`_GOOD_KEYS`, dropping the oldest when they are full.

    >>> for n in range(_GOOD_KEYS_KEPT + 1):
    ...     _remember_good_key(f"invented_{n}")
    >>> len(_GOOD_KEYS) == _GOOD_KEYS_KEPT, "invented_0" in _GOOD_KEYS, f"invented_{_GOOD_KEYS_KEPT}" in _GOOD_KEYS
    (True, False, True)
    >>> _GOOD_KEYS.clear()
    """
    if len(_GOOD_KEYS) >= _GOOD_KEYS_KEPT:
        del _GOOD_KEYS[next(iter(_GOOD_KEYS))]
    _GOOD_KEYS[key] = None


def new_msg_id() -> str:
    """A fresh random message id: 16 random bytes as 32 hex digits (what
    :func:`secrets.token_hex` gives, from the same :func:`os.urandom`, without its wrappers)."""
    return os.urandom(16).hex()


def short_id(msg_id: str) -> str:
    """How error messages and tables name a message: its id's first 8 digits and "…".

    >>> short_id("0123456789abcdef0123456789abcdef")
    '01234567…'
    """
    return f"{msg_id[:8]}…"


_b2a = binascii.b2a_base64


def b64_text(data: bytes) -> str:
    """Standard base64 with padding, as text (as :func:`base64.b64encode` and ``.decode()``,
    without their wrappers): how the envelope writes bytes.

    >>> b64_text(b"hi")
    'aGk='
    """
    return binascii.b2a_base64(data, newline=False).decode("ascii")


#: The characters that can end a canonical short last group of base64, before its padding: those
#: whose spare bits are zero (4 of them after one byte, before "=="; 2 after two bytes, before "=").
_ZERO_SPARE_BITS = {1: "AQgw", 2: "AEIMQUYcgkosw048"}


def _is_canonical_b64(data: bytes, text: str) -> bool:
    """Whether ``text``, which strict base64 decoding read as ``data``, is its one canonical encoding.

    Strict decoding already refused stray characters and misplaced padding; what remains is
    the length and, in a short last group, the spare bits of the character before the padding,
    which must be zero.  Nothing is encoded again.
    """
    short = len(data) % 3
    return len(text) == 4 * -(-len(data) // 3) and (not short or text[short - 4] in _ZERO_SPARE_BITS[short])


def read_base64(text: str) -> bytes | None:
    """The bytes whose canonical base64 is ``text`` (standard alphabet, padded), or ``None``.

    >>> read_base64("aGk="), read_base64("aGl="), read_base64("aGk"), read_base64("aG k=")
    (b'hi', None, None, None)
    """
    try:
        data = binascii.a2b_base64(text, strict_mode=True)  # b64decode(validate=True); non-ASCII text is a ValueError
    except (binascii.Error, ValueError):
        return None
    # _is_canonical_b64(data, text), written out: this runs for every base64 field a phone reads
    short = len(data) % 3
    if len(text) == 4 * -(-len(data) // 3) and (not short or text[short - 4] in _ZERO_SPARE_BITS[short]):
        return data
    return None


#: The standard base64 alphabet, as bytes to delete with :meth:`bytes.translate`.
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
#: What deleting the alphabet leaves of base64 with no, one or two padding characters.
_PADDING = (b"", b"=", b"==")


def base64_size(text: str) -> int | None:
    """How many bytes the canonical base64 ``text`` holds, or ``None`` where :func:`read_base64`
    refuses it: the same test, without decoding.  A relay needs a payload's size and its first
    bytes, not the rest; decoding it was about a twelfth of what the toy spent on a message
    besides its cryptography (issue 31).  Strict decoding refuses anything but the alphabet,
    then at most two ``=`` at the end, in a text whose length is a multiple of 4; canonical
    form adds zero spare bits before the padding (:func:`_is_canonical_b64`).

    >>> base64_size("aGk="), base64_size("aGl="), base64_size("aGk"), base64_size("aG k="), base64_size("")
    (2, None, None, None, 0)
    """
    if len(text) % 4 or not text.isascii():
        return None
    padding = 2 if text.endswith("==") else 1 if text.endswith("=") else 0  # how many "=" end it
    if text.encode("ascii").translate(None, _B64_ALPHABET) != _PADDING[padding]:
        return None  # a character outside the alphabet, or an "=" before the padding
    if padding and text[-1 - padding] not in _ZERO_SPARE_BITS[3 - padding]:
        return None
    return len(text) // 4 * 3 - padding


def _unb64(text: object, name: str) -> bytes:
    """Strict, canonical base64 of field ``name``, or :class:`MalformedEnvelope` saying which it is not."""
    if not isinstance(text, str):
        raise MalformedEnvelope(f"field '{name}' must be a base64 string, not {type(text).__name__}.")
    try:
        data = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedEnvelope(f"field '{name}' is not valid base64 ({exc}).") from None
    if not _is_canonical_b64(data, text):
        raise MalformedEnvelope(f"field '{name}' is not in canonical base64.")
    return data


@dataclass(frozen=True)
class Envelope:
    """One message on the wire.  See the module docstring for the fields.

    Constructing an envelope validates every field; a bad one raises
    :class:`~toychat.errors.MalformedEnvelope` naming it.
    """

    msg_id: str
    mode: Mode
    sender: str
    recipient: str
    timestamp: float
    nonce: bytes
    payload: bytes
    signature: bytes = b""
    extras: dict[str, str] = field(default_factory=dict)
    version: int = WIRE_VERSION

    @property
    def short_id(self) -> str:
        """This message's id as error messages show it (:func:`short_id`)."""
        return short_id(self.msg_id)

    @property
    def payload_size(self) -> int:
        """``len(self.payload)``, without decoding a payload still kept as base64."""
        fields = self.__dict__
        payload = fields.get("payload")
        # a payload left as base64 was measured when its base64 was checked (base64_size)
        return len(payload) if payload is not None else fields["_payload_size"]

    def payload_head(self, count: int) -> bytes:
        """``self.payload[:count]``, decoding only the base64 groups that hold it."""
        payload: bytes | None = self.__dict__.get("payload")
        if payload is not None:
            return payload[:count]
        return binascii.a2b_base64(self.__dict__["_base64"]["payload"][: -(-count // 3) * 4])[:count]

    def __post_init__(self) -> None:
        if not self._plainly_valid():
            self._validate()  # names the bad field (or accepts what only the quick check refused)

    # ---- validation -------------------------------------------------------
    def _plainly_valid(self) -> bool:
        """The quick check every envelope from the wire or a phone takes: exact types, one
        pass.  It accepts nothing :meth:`_validate` refuses (it is the same rules, stricter
        about types); anything it does not accept goes to :meth:`_validate`, which names
        the bad field or accepts it."""
        version, msg_id, mode, sender, recipient = self.version, self.msg_id, self.mode, self.sender, self.recipient
        timestamp, nonce, payload, signature, extras = (
            self.timestamp,
            self.nonce,
            self.payload,
            self.signature,
            self.extras,
        )
        types = (type(version), type(msg_id), type(mode), type(sender), type(recipient))
        if types != _PLAIN_TYPES or (type(nonce), type(payload), type(signature), type(extras)) != _PLAIN_DATA:
            return False
        return bool(
            version == WIRE_VERSION
            and _MSG_ID.fullmatch(msg_id)
            and NAME_PATTERN.fullmatch(sender)
            and NAME_PATTERN.fullmatch(recipient)
            and type(timestamp) in _PLAIN_NUMBERS
            and _plain_rules(mode, timestamp, nonce, len(payload), signature, extras)
        )

    def _validate(self, *, require_signature: bool = False) -> None:
        bad = _bad
        if type(self.version) is not int or self.version != WIRE_VERSION:
            raise bad(f"version must be {WIRE_VERSION}, got {self.version!r}.")
        if not isinstance(self.msg_id, str) or not _MSG_ID.fullmatch(self.msg_id):
            raise bad("msg_id must be 32 lower-case hex digits.")
        if self.mode not in MODES:
            raise bad(f"mode must be one of {MODES}, got {self.mode!r}.")
        for name, value in (("sender", self.sender), ("recipient", self.recipient)):
            if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
                raise bad(f"{name} {value!r} is not a valid user name.")
        timestamp = self.timestamp
        if not (type(timestamp) in (int, float) and 0 <= timestamp <= MAX_TIMESTAMP):  # NaN fails too
            check_timestamp(timestamp, "malformed envelope: timestamp")  # the one rule, and its error
        if type(self.nonce) is not bytes or type(self.payload) is not bytes or type(self.signature) is not bytes:
            for name in _BYTES_FIELDS:
                if not isinstance(getattr(self, name), bytes):
                    raise bad(f"{name} must be bytes.")
        if self.mode == "e2ee":
            if len(self.nonce) != NONCE_SIZE:
                raise bad(f"an e2ee envelope needs a {NONCE_SIZE}-byte nonce, got {len(self.nonce)}.")
            if len(self.payload) < MAC_SIZE:
                raise bad(
                    f"an e2ee payload is at least {MAC_SIZE} bytes (the authenticator), "
                    f"got {len(self.payload)}: it was truncated."
                )
        elif self.nonce:
            raise bad("a plaintext envelope must have an empty nonce.")
        if len(self.payload) > MAX_PAYLOAD_BYTES:
            raise bad(f"payload is {len(self.payload)} bytes; the limit is {MAX_PAYLOAD_BYTES}.")
        if self.signature and len(self.signature) != SIGNATURE_SIZE:
            raise bad(f"signature must be {SIGNATURE_SIZE} bytes, got {len(self.signature)}.")
        if require_signature and not self.signature:
            raise bad("the envelope is not signed.")
        if not isinstance(self.extras, dict) or len(self.extras) > MAX_EXTRAS:
            raise bad(f"extras must be a dict of at most {MAX_EXTRAS} fields.")
        for key, value in self.extras.items():
            if not isinstance(key, str) or not _EXTRA_KEY.fullmatch(key):
                raise bad(f"extras key {key!r} must be lower-case letters, digits and '_'.")
            if not isinstance(value, str) or len(value) > MAX_EXTRA_CHARS:
                raise bad(f"extras[{key!r}] must be text of at most {MAX_EXTRA_CHARS} characters.")
            if not _encodable(value):
                raise bad(f"extras[{key!r}] is not valid Unicode text (it holds an unpaired surrogate).")

    # ---- serialisation ----------------------------------------------------
    @property
    def _encoded(self) -> dict[str, str]:
        """The bytes fields in base64, computed once per envelope and kept in its ``__dict__``
        as ``_base64`` (the envelope is frozen and bytes are immutable, so they cannot go stale).
        A server and a phone serialise each envelope several times (signed bytes, the wire,
        storage), and base64 of the payload was the largest non-cryptographic cost in
        ``python -m benchmarks``.  Parsing and signing set it directly.  (Not a
        ``functools.cached_property``: on Python 3.11 its every first read takes a lock.)"""
        encoded = self.__dict__.get("_base64")
        if encoded is None:
            # (an unsigned envelope's empty signature is "", not encoded: signing replaces it)
            nonce, payload, signature = self.nonce, self.payload, self.signature  # _BYTES_FIELDS
            encoded = self.__dict__["_base64"] = {  # b64_text of each, written out
                "nonce": _b2a(nonce, newline=False).decode("ascii") if nonce else "",
                "payload": _b2a(payload, newline=False).decode("ascii") if payload else "",
                "signature": _b2a(signature, newline=False).decode("ascii") if signature else "",
            }
        return encoded

    def _canonical_pieces(self, encoded: dict[str, str]) -> tuple[str, str, str]:
        """The canonical JSON's small pieces, as text: everything before the payload's base64,
        from after it to the sender (the end of ``head``), and ``tail``.

        Together with the base64 fields they make :meth:`_canonical_parts`; the keys sort as
        ``… sender, signature, timestamp …``, so ``to_bytes()`` is ``head + signature member +
        tail`` and ``signed_bytes()`` is ``head + tail``, exactly :func:`_canonical` of
        :meth:`to_dict` with and without the signature (``tests/test_wire.py`` checks this
        against :func:`_canonical`).  The base64 fields go in as their text (base64 needs no
        JSON escaping), and so do the names, the id and the mode, which validation restricted
        to characters JSON never escapes; the extras' strings go through the JSON encoder's own
        escaping, the numbers through the ``repr`` it uses.  ``encoded`` is :attr:`_encoded`.
        """
        text = str.__str__  # the characters themselves, even of a str subclass
        before = (
            f'{{"extras":{_json_extras(self.extras)},"mode":"{text(self.mode)}","msg_id":"{text(self.msg_id)}",'
            f'"nonce":"{encoded["nonce"]}","payload":"'
        )
        after = f'","recipient":"{text(self.recipient)}","sender":"{text(self.sender)}"'
        timestamp = self.timestamp  # as JSON writes numbers: float.__repr__ or int.__repr__
        number = float.__repr__(timestamp) if isinstance(timestamp, float) else int.__repr__(int(timestamp))
        tail = f',"timestamp":{number},"version":{int.__repr__(int(self.version))}}}'
        return before, after, tail

    def _canonical_parts(self) -> tuple[bytes, bytes]:
        """The canonical JSON before and after the signature member, built once per envelope
        (from :meth:`_canonical_pieces` and the payload's base64).  The extras dict is the one
        mutable field, so the parts are rebuilt if it changed (the callers, :meth:`to_bytes` and
        :meth:`signed_bytes`, use the kept parts while the extras are as they were)."""
        encoded = self._encoded
        before, after, tail_text = self._canonical_pieces(encoded)
        head, tail = f"{before}{encoded['payload']}{after}".encode(), tail_text.encode()
        self.__dict__["_parts"] = (dict(self.extras), head, tail)
        return head, tail

    def _is_encoded_as(self, raw: bytes) -> bool:
        """Whether ``raw`` is exactly :meth:`to_bytes`, compared piece by piece where it lies.

        The same comparison as ``self.to_bytes() == raw`` without building a second copy
        of the envelope: the small pieces are built and compared, the base64 of the payload
        (nearly all of the bytes) is compared in place.  If it matches, the canonical parts
        are ``raw``'s own slices, kept for :meth:`signed_bytes`.
        """
        encoded = self._encoded
        before_text, after_text, tail_text = self._canonical_pieces(encoded)
        before, after, tail = before_text.encode(), after_text.encode(), tail_text.encode()
        payload = encoded["payload"].encode("ascii")  # validated base64: ASCII
        signature = f',"signature":"{encoded["signature"]}"'.encode("ascii")
        head_end = len(before) + len(payload) + len(after)
        tail_start = head_end + len(signature)
        if not (
            len(raw) == tail_start + len(tail)
            and raw.startswith(before)
            and raw.startswith(payload, len(before))
            and raw.startswith(after, head_end - len(after))
            and raw.startswith(signature, head_end)
            and raw.endswith(tail)
        ):
            return False
        self.__dict__["_parts"] = (dict(self.extras), raw[:head_end], raw[tail_start:])
        return True

    def to_dict(self) -> dict[str, Any]:
        """The envelope as a JSON-ready dict (bytes in base64)."""
        encoded = self._encoded
        return {
            "extras": dict(self.extras),
            "mode": self.mode,
            "msg_id": self.msg_id,
            "nonce": encoded["nonce"],
            "payload": encoded["payload"],
            "recipient": self.recipient,
            "sender": self.sender,
            "signature": encoded["signature"],
            "timestamp": self.timestamp,
            "version": self.version,
        }

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes: what travels on the wire (sorted keys, no spaces, UTF-8)."""
        cached = self.__dict__.get("_parts")
        head, tail = cached[1:] if cached is not None and cached[0] == self.extras else self._canonical_parts()
        signature = self.__dict__["_base64"]["signature"]  # kept with the parts (see _encoded)
        return b"".join((head, b',"signature":"', signature.encode("ascii"), b'"', tail))

    def to_json(self, indent: int | None = 2) -> str:
        """Pretty JSON text, for reading (not canonical; use :meth:`to_bytes` to send)."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=indent)

    def signed_bytes(self) -> bytes:
        """The bytes the sender signs: the canonical JSON of every field but the signature."""
        cached = self.__dict__.get("_parts")
        head, tail = cached[1:] if cached is not None and cached[0] == self.extras else self._canonical_parts()
        return head + tail

    def check_signature(self, verify_key: nacl.signing.VerifyKey, *, outcome: str) -> None:
        """Raise :class:`~toychat.errors.TamperedMessage` unless the envelope is signed
        by ``verify_key``'s owner; ``outcome`` ends the message (e.g. "It was not delivered.")."""
        if not self.signature:
            raise TamperedMessage(f"message {self.short_id} is not signed, so its sender cannot be checked. {outcome}")
        try:
            verify_key.verify(self.signed_bytes(), self.signature)
        except nacl.exceptions.BadSignatureError:
            raise TamperedMessage(
                f"message {self.short_id} does not match the signature of its sender {self.sender!r}: it was "
                f"changed after it was signed, or someone else signed it. {outcome}"
            ) from None

    def with_signature(self, signature: bytes) -> Envelope:
        """A copy of this envelope carrying ``signature``.

        Every other field was validated when this envelope was made and is the same
        object in the copy, so only the signature is checked (as construction would);
        the copy keeps this envelope's base64 and canonical JSON, so signing and
        sending encode the envelope once.
        """
        if not isinstance(signature, bytes):
            raise MalformedEnvelope("malformed envelope: signature must be bytes.")
        if signature and len(signature) != SIGNATURE_SIZE:
            raise MalformedEnvelope(
                f"malformed envelope: signature must be {SIGNATURE_SIZE} bytes, got {len(signature)}."
            )
        signed = object.__new__(Envelope)
        signed.__dict__.update(self.__dict__)
        object.__setattr__(signed, "signature", signature)
        signed.__dict__["_base64"] = {**self._encoded, "signature": _b2a(signature, newline=False).decode("ascii")}
        return signed

    @classmethod
    def from_dict(cls, data: object) -> Envelope:
        """Build an envelope from a dict as produced by :meth:`to_dict`, validating it."""
        if not isinstance(data, dict):
            raise MalformedEnvelope("malformed envelope: expected a JSON object.")
        if data.keys() != _FIELD_SET:
            missing = sorted(_FIELD_SET - set(data))
            extra = sorted(set(data) - _FIELD_SET)
            if missing:
                raise MalformedEnvelope(f"malformed envelope: missing field(s) {', '.join(missing)}.")
            raise MalformedEnvelope(f"malformed envelope: unknown field(s) {', '.join(map(str, extra))}.")
        if not isinstance(data["extras"], dict):
            raise MalformedEnvelope("malformed envelope: extras must be a JSON object.")
        # Built as the dataclass's __init__ would (every field, then __post_init__'s validation),
        # without its ten frozen-attribute calls.
        envelope = object.__new__(cls)
        envelope.__dict__.update(
            msg_id=data["msg_id"],
            mode=data["mode"],
            sender=data["sender"],
            recipient=data["recipient"],
            timestamp=data["timestamp"],
            nonce=_unb64(data["nonce"], "nonce"),
            payload=_unb64(data["payload"], "payload"),
            signature=_unb64(data["signature"], "signature"),
            extras=dict(data["extras"]),
            version=data["version"],
        )
        envelope.__post_init__()
        # _unb64 accepted only canonical base64, so the text is what b64_text would give
        envelope.__dict__["_base64"] = {
            "nonce": data["nonce"],
            "payload": data["payload"],
            "signature": data["signature"],
        }
        return envelope

    @classmethod
    def from_bytes(cls, data: bytes, *, decode_payload: bool = True) -> Envelope:
        """Parse and validate canonical envelope bytes (as made by :meth:`to_bytes`).

        Raises :class:`~toychat.errors.MalformedEnvelope` for anything else:
        too long, not UTF-8, not JSON, wrong fields or types, or JSON that is
        valid but not in the one canonical form.

        With ``decode_payload=False`` (the relay's choice) the payload's base64 is checked as
        strictly, but decoded only when ``payload`` is first read: a relay needs only its size
        (:attr:`payload_size`) and first bytes (:meth:`payload_head`).  The envelope is the same.
        """
        if not isinstance(data, (bytes, bytearray)):
            raise MalformedEnvelope(f"an envelope is bytes, not {type(data).__name__}.")
        if len(data) > MAX_ENVELOPE_BYTES:
            raise MalformedEnvelope(
                f"malformed envelope: {len(data)} bytes is over the {MAX_ENVELOPE_BYTES}-byte limit."
            )
        data = bytes(data)  # a bytearray's copy; bytes as they are
        envelope = cls._from_canonical(data, decode_payload)
        if envelope is not None:
            return envelope
        # Not taken whole by the one-pass reader: parse it as any JSON, so the error names what is wrong.
        try:
            parsed = _parse_json(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, ValueError, RecursionError) as exc:
            raise MalformedEnvelope(
                "malformed envelope: the bytes are not valid UTF-8 JSON, so the message was cut "
                f"short or corrupted ({exc})."
            ) from None
        envelope = cls.from_dict(parsed)
        if not envelope._is_encoded_as(data):
            raise MalformedEnvelope(
                "malformed envelope: valid JSON, but not in the canonical encoding "
                "(sorted keys, no spaces); it may have been altered."
            )
        return envelope

    @classmethod
    def _from_canonical(cls, raw: bytes, decode_payload: bool = True) -> Envelope | None:
        """Read canonical envelope bytes in one pass, or ``None`` for anything else.

        The canonical JSON has one layout (:meth:`_canonical_pieces`): the extras object, then
        every other field in sorted order, each string between quotes with nothing JSON would
        escape.  So the extras are parsed by the JSON decoder where they stand, and the rest is
        matched in place (:data:`_CANONICAL_HEAD`, the payload's closing quote, then
        :data:`_CANONICAL_TAIL`): the text is checked to be canonical as it is read, and nothing
        is encoded again to compare (only the timestamp's ``repr``, and the payload's last base64 group
        in :func:`read_base64`).  Each field is checked once: the version, id, mode, names and the short
        base64 fields by the patterns, the rest by :func:`_plain_rules`, the quick check's own rules.

        It accepts only what :meth:`from_bytes`' full parse accepts, as the same envelope
        (``tests/test_wire.py`` checks both ways on good and altered envelopes); anything it
        does not take (``None``) goes to the full parse, which accepts it or names what is wrong.
        """
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if not text.startswith('{"extras":'):
            return None
        try:
            extras, end = _SCAN(text, 10)
        except (StopIteration, ValueError, RecursionError):  # JSONDecodeError is a ValueError
            return None
        if type(extras) is not dict:
            return None
        head = _CANONICAL_HEAD.match(text, end)
        if head is None:
            return None
        payload_end = text.find('"', head.end())
        tail = _CANONICAL_TAIL.fullmatch(text, payload_end) if payload_end >= 0 else None
        if tail is None:
            return None
        mode, msg_id, nonce_text = head.groups()
        recipient, sender, signature_text, number, fraction, exponent = tail.groups()
        if fraction or exponent:  # JSON reads a float
            timestamp: int | float = float(number)
            if float.__repr__(timestamp) != number:  # the one float text the encoder writes
                return None
        else:
            timestamp = int(number)  # no sign, no leading zero: int's own text
        if len(nonce_text) % 4 or len(signature_text) % 4:
            return None
        # whole groups in the canonical pattern: the nonce's and the signature's base64 decode as they are
        nonce, signature = binascii.a2b_base64(nonce_text), binascii.a2b_base64(signature_text)
        payload_text = text[head.end() : payload_end]
        payload = read_base64(payload_text) if decode_payload else None
        size = len(payload) if payload is not None else None if decode_payload else base64_size(payload_text)
        if size is None or not _plain_rules(mode, timestamp, nonce, size, signature, extras):
            return None
        # after the rules: its values are text (and no extras is "{}", ending at 12)
        if end != 12 if not extras else not _is_canonical_extras(extras, text[10:end]):
            return None
        envelope = object.__new__(cls)
        envelope.__dict__.update(
            msg_id=msg_id,
            mode=mode,
            sender=sender,
            recipient=recipient,
            timestamp=timestamp,
            nonce=nonce,
            signature=signature,
            extras=extras,
            version=WIRE_VERSION,
        )
        if payload is not None:
            envelope.__dict__["payload"] = payload
        else:  # kept as its checked base64, decoded on first read (_PayloadFromBase64); its size is known
            envelope.__dict__["_payload_size"] = size
        # Everything after the extras is ASCII (checked names, hex, base64, digits), so a byte's
        # position there is its character's plus what the extras' UTF-8 added.
        shift = len(raw) - len(text)
        envelope.__dict__["_base64"] = {"nonce": nonce_text, "payload": payload_text, "signature": signature_text}
        envelope.__dict__["_parts"] = (dict(extras), raw[: tail.end(2) + 1 + shift], raw[tail.end(3) + 1 + shift :])
        return envelope

    @classmethod
    def from_json(cls, text: str) -> Envelope:
        """Parse envelope JSON text (any formatting, e.g. from :meth:`to_json`)."""
        try:
            parsed = json.loads(text, parse_constant=_reject_constant)
        except (json.JSONDecodeError, ValueError, RecursionError, TypeError) as exc:
            raise MalformedEnvelope(f"malformed envelope: not valid JSON ({exc}).") from None
        return cls.from_dict(parsed)

    def __repr__(self) -> str:
        return (
            f"Envelope({self.mode}, {self.sender!r} → {self.recipient!r}, "
            f"t={self.timestamp}, id={self.short_id}, payload={len(self.payload)} bytes)"
        )


class _PayloadFromBase64:
    """``Envelope.payload`` of an envelope read with ``from_bytes(decode_payload=False)``: decoded
    on first read from the base64 the reader checked, then the envelope's own attribute.

    A non-data descriptor (as :func:`functools.cached_property` is), so an envelope whose payload
    is in its ``__dict__`` never reaches it.  Not ``__getattr__``: a class with one loses
    CPython's fast path for *every* attribute read, which cost more than the decoding saved.
    """

    def __get__(self, envelope: Envelope | None, owner: type | None = None) -> bytes:
        fields = envelope.__dict__ if envelope is not None else {}
        if "_base64" not in fields:
            raise AttributeError("payload")  # the class itself, as for a field without a default
        payload: bytes = binascii.a2b_base64(fields["_base64"]["payload"])
        fields["payload"] = payload
        return payload


# Set after the dataclass is made, so that it is not taken for the field's default.
Envelope.payload = _PayloadFromBase64()  # type: ignore[assignment]


def _plain_rules(
    mode: str, timestamp: float, nonce: bytes, payload_size: int, signature: bytes, extras: dict[str, str]
) -> bool:
    """The quick check's rules on an envelope's values, once their types are exact and its
    version, id and names are checked (by :meth:`Envelope._plainly_valid`, or by the pattern
    :meth:`Envelope._from_canonical` reads them with): the timestamp's range, the sizes (the
    payload's by its length, which a relay knows without decoding it), the nonce each mode
    needs, and the extras."""
    payload = payload_size
    if not (
        0 <= timestamp <= MAX_TIMESTAMP
        and payload <= MAX_PAYLOAD_BYTES
        and (not signature or len(signature) == SIGNATURE_SIZE)
        and len(extras) <= MAX_EXTRAS
    ):
        return False
    if mode == "e2ee":
        if len(nonce) != NONCE_SIZE or payload < MAC_SIZE:
            return False
    elif mode != "plaintext" or nonce:
        return False
    for key, value in extras.items():
        if type(key) is not str or type(value) is not str:
            return False
        if key not in _GOOD_KEYS:  # a key seen before is not matched again (the ratchet's two, every hop)
            if not _EXTRA_KEY.fullmatch(key):
                return False
            _remember_good_key(key)
        if len(value) > MAX_EXTRA_CHARS or not (value.isascii() or _encodable(value)):
            return False
    return True


def _bad(message: str) -> MalformedEnvelope:
    """The error for one bad field of an envelope."""
    return MalformedEnvelope(f"malformed envelope: {message}")


def _encodable(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (JSON's ``"\\ud800"`` escapes parse to text that cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")


#: One strict JSON decoder for every envelope (``json.loads`` with options builds one per call).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


#: The decoder's scanner (the C one where available): what ``decode`` runs after skipping spaces.
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]  # not in typeshed


def _parse_json(text: str) -> Any:
    """``_DECODER.decode(text)``: the decoder's own scanner on the whole text, and the full
    :meth:`~json.JSONDecoder.decode` (which skips surrounding spaces and names what is wrong)
    only for text the scanner does not take whole.  Canonical envelopes have no spaces, so
    every good one takes the first way, without ``decode``'s two Python-level wrappers."""
    try:
        parsed, end = _SCAN(text, 0)
    except StopIteration:
        return _DECODER.decode(text)  # raises JSONDecodeError, naming the position
    if end != len(text):
        return _DECODER.decode(text)
    return parsed


#: Base64 of a short field whose length is a multiple of 4 (checked by the reader) in the one
#: canonical form: the alphabet, then at most one padded last group whose spare bits are zero
#: (the text :func:`b64_text` writes for those bytes).  One character class, not groups of four:
#: the regular-expression engine runs a class in one loop.
_B64_PATTERN = r"[A-Za-z0-9+/]*(?:[AQgw]==|[AEIMQUYcgkosw048]=)?"
#: A canonical envelope after its extras, up to the payload's base64, each field as the quick
#: check (:meth:`Envelope._plainly_valid`) allows it (none holds a character JSON escapes).
#: Groups: mode, msg_id, nonce.
_CANONICAL_HEAD = re.compile(
    rf',"mode":"(e2ee|plaintext)","msg_id":"({_MSG_ID.pattern})","nonce":"({_B64_PATTERN})","payload":"'
)
#: The rest, from the payload's closing quote: recipient, sender, signature, and the timestamp as
#: JSON writes a number (no sign; a float's ``repr``, checked by the reader: its fraction and
#: exponent are the last two groups), then the version.
_CANONICAL_TAIL = re.compile(
    rf'","recipient":"({NAME_PATTERN.pattern})","sender":"({NAME_PATTERN.pattern})","signature":"({_B64_PATTERN})",'
    r'"timestamp":((?:0|[1-9][0-9]{0,20})(\.[0-9]{1,20})?(e[-+][0-9]{1,3})?),"version":1}'
)


def _is_canonical_extras(extras: dict[str, str], text: str) -> bool:
    """Whether ``text``, which the JSON decoder read as ``extras`` (a dict of text, as the quick
    check's rules require), is exactly its canonical JSON (:func:`_json_extras`), mostly without
    writing that JSON to compare.

    Text without a backslash has no escapes, so each string stands in it as its characters
    between two quotes (the strict decoder refuses raw control characters), and canonical JSON
    of text values is ``{"k":"v",…}`` in sorted order, ``1 + Σ (len(k) + len(v) + 6)``
    characters.  Spaces, or a key given twice (the dict keeps one of the pairs), can only make
    ``text`` longer; so equal lengths and sorted keys mean ``text`` is that JSON.  Text with
    escapes is compared with :func:`_json_extras` itself.

    >>> _is_canonical_extras({"a": "1", "b": "2"}, '{"a":"1","b":"2"}')
    True
    >>> _is_canonical_extras({"a": "1"}, '{"a": "1"}'), _is_canonical_extras({"a": "2"}, '{"a":"1","a":"2"}')
    (False, False)
    """
    if not extras:
        return text == "{}"
    if "\\" in text:
        return text == _json_extras(extras)
    keys = list(extras)
    size = 1 + 6 * len(keys) + sum(map(len, keys)) + sum(map(len, extras.values()))
    return len(text) == size and keys == sorted(keys)


#: The canonical JSON settings: sorted keys, no spaces, UTF-8 text (not ``\\u`` escapes).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
#: How that encoder writes a string (with ``ensure_ascii=False``): quoted, only ``"``, ``\\`` and
#: control characters escaped.
_json_string: Callable[[str], str] = json.encoder.encode_basestring


def _json_extras(extras: dict[str, str]) -> str:
    """Validated extras (keys ``[a-z][a-z0-9_]*``, text values) as canonical JSON: sorted, no spaces."""
    if not extras:
        return "{}"
    return "{" + ",".join([f"{_json_string(k)}:{_json_string(extras[k])}" for k in sorted(extras)]) + "}"


def _canonical(data: dict[str, Any]) -> bytes:
    """The canonical JSON of ``data``: the definition :meth:`Envelope.to_bytes` builds in parts."""
    return _ENCODER.encode(data).encode("utf-8")
