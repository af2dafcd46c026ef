"""Forward secrecy: KDF chains and a simplified Double Ratchet.

With static keys (lessons 03-04) one stolen private key opens every message a
phone ever sent or received.  The Double Ratchet (T. Perrin and
M. Marlinspike, *The Double Ratchet Algorithm*, Signal, 2016, revised since,
https://signal.org/docs/specifications/doubleratchet/; "spec" below) gives
every message its own key and throws each key away after use:

* a **KDF chain** (:class:`KDFChain`; spec #kdf-chains and
  #symmetric-key-ratchet) turns a chain key into a message key and the next
  chain key.  It only runs forwards: "earlier keys cannot be calculated from
  later ones" (spec, Introduction; FACTS §5.37) — *forward secrecy*;
* a **Diffie-Hellman ratchet** (spec #diffie-hellman-ratchet) mixes a fresh
  X25519 result into a root chain whenever the conversation changes
  direction, so a thief who copied the state is locked out again once both
  sides have sent — *post-compromise security*;
* **skipped message keys** (spec #out-of-order-messages) let messages
  arrive late or out of order.

:class:`DoubleRatchet` follows the spec's algorithm (#double-ratchet-1:
state variables, ``RatchetInitAlice`` / ``RatchetInitBob``,
``RatchetEncrypt``, ``RatchetDecrypt``, ``SkipMessageKeys``, ``DHRatchet``)
closely enough to be read side by side with it.

>>> from toychat.keys import Identity
>>> alice, bob = Identity.from_label("alice", "doc"), Identity.from_label("bob", "doc")
>>> secret, ephemeral = initiator_secret(alice, bob.public)
>>> a = DoubleRatchet.initiator(secret, bob.public.encryption_key)
>>> b = DoubleRatchet.responder(responder_secret(bob, alice.public, ephemeral), bob.box_private)
>>> header, ciphertext = a.encrypt(b"hi Bob", b"alice->bob")
>>> b.decrypt(header, ciphertext, b"alice->bob")
b'hi Bob'
>>> reply = b.encrypt(b"hi Alice")          # Bob's reply carries a fresh ratchet key
>>> a.decrypt(*reply), reply[0].dh_public != header.dh_public
(b'hi Alice', True)

Cryptographic choices (spec #recommended-cryptographic-algorithms, §5.2 in
revision 1):

* ``DH``: X25519 (:func:`nacl.bindings.crypto_scalarmult`); new key pairs from
  :meth:`nacl.public.PrivateKey.generate`.
* ``KDF_RK``: HKDF-SHA256 (RFC 5869, :func:`hkdf`) with the root key as salt,
  the DH output as input key material and :data:`ROOT_INFO` as info; 64 bytes
  out: the new root key and a new chain key.
* ``KDF_CK``: HMAC-SHA256 keyed with the chain key, input ``0x01`` for the
  message key and ``0x02`` for the next chain key (:func:`kdf_ck`).
* ``ENCRYPT``: XChaCha20-Poly1305 (libsodium's
  ``crypto_aead_xchacha20poly1305_ietf``) with ``associated_data ‖ header``
  as associated data.  The header has a fixed length (:data:`HEADER_SIZE`)
  and comes last, so the pair is unambiguous (the spec's ``CONCAT``).
* **The nonce.** Every message key encrypts exactly one message, so even a
  fixed nonce would be safe *as long as that promise holds*; the spec derives
  its IV from the message key.  The toy instead draws a random 24-byte nonce
  and sends it in front of the ciphertext (``nonce ‖ AEAD output``; the chat
  client puts it in the envelope's nonce field).  192 random bits do not
  collide in practice, and encryption stays safe when the promise breaks:
  the lessons copy a ratchet state to play the thief, and two copies
  encrypting under one message key with a fixed nonce would reuse the
  keystream and the Poly1305 key.  The price is 24 bytes per message.

Differences to the specification (and to Signal)
------------------------------------------------
* **No header encryption** (#double-ratchet-with-header-encryption): the
  ratchet public key and the two counters travel in clear, so the relay sees
  when the conversation changes direction and how many messages each chain
  holds.
* **No X3DH prekeys, no PQXDH.**  The first shared secret comes from
  :func:`initiator_secret` / :func:`responder_secret`, a two-DH exchange over
  the identity keys; see :func:`initiator_secret` for exactly how it differs
  from X3DH §3.3 (https://signal.org/docs/specifications/x3dh/) and why.
  Signal now uses PQXDH (https://signal.org/docs/specifications/pqxdh/) and
  later revisions of the Double Ratchet spec add a post-quantum ratchet; the
  toy has neither.
* **The responder's identity key is its first ratchet key pair.**  Signal
  uses Bob's *signed prekey* (spec #integration-with-x3dh), which Bob
  replaces and deletes.  Consequence, which lesson 05 should state: a thief
  who steals Bob's phone gets his identity private key, and with it and the
  recorded ephemeral key re-derives the shared secret and the initiator's
  **first sending chain** — every message Alice sent before she received
  Bob's first reply.  From the first DH round trip on, forward secrecy holds.
  :meth:`DoubleRatchet.snapshot` holds only the ratchet state, so
  :func:`read_with_snapshot` does not show this first-flight exposure;
  the tests demonstrate it.
* **Skipped keys: two limits, no timer.**  One message may make the receiver
  skip at most ``max_skip`` (:data:`MAX_SKIP`) keys in a chain, as in the
  spec's ``SkipMessageKeys``; beyond that :class:`TooManySkipped` is raised
  and nothing changes.  The store of skipped keys is capped at ``max_stored``
  (:data:`MAX_STORED`) and drops the oldest first (FIFO, like
  python-doubleratchet); the spec also suggests deleting them after a time or
  a number of ratchet steps (#deletion-of-skipped-message-keys), which the
  toy does not.  Because a failed decryption changes nothing, a forger
  cannot make a receiver store keys: only messages that authenticate do.
* **Replays get their own error.**  The spec just fails to decrypt a message
  whose key is gone; the toy remembers which chain positions it has passed
  and which ratchet keys it has replaced (up to ``max_stored`` of those), and
  raises :class:`ReplayedMessage` for them.
* **State in memory only**, never written to disk; no session management
  (one :class:`DoubleRatchet` per conversation, and simultaneous first
  messages from both sides are not reconciled, which Signal does by keeping
  several sessions).

Spec sections cited
-------------------
Section numbers move between revisions of the spec (revision 1 of 2016 has
the recommended algorithms in §5.2, later revisions renumber), so this
module cites the page's anchors, ``#name`` for:

* https://signal.org/docs/specifications/doubleratchet/#kdf-chains
* https://signal.org/docs/specifications/doubleratchet/#symmetric-key-ratchet
* https://signal.org/docs/specifications/doubleratchet/#diffie-hellman-ratchet
* https://signal.org/docs/specifications/doubleratchet/#out-of-order-messages
* https://signal.org/docs/specifications/doubleratchet/#double-ratchet-1
* https://signal.org/docs/specifications/doubleratchet/#double-ratchet-with-header-encryption
* https://signal.org/docs/specifications/doubleratchet/#integration-with-x3dh
* https://signal.org/docs/specifications/doubleratchet/#recommended-cryptographic-algorithms
* https://signal.org/docs/specifications/doubleratchet/#deletion-of-skipped-message-keys
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, TypedDict

import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.utils

from .errors import (
    InvalidKey,
    MalformedEnvelope,
    ReplayedMessage,
    TamperedMessage,
    TooManySkipped,
    ToyChatError,
)
from .keys import KEY_SIZE, Identity, PublicIdentity

__all__ = [
    "HANDSHAKE_INFO",
    "HEADER_SIZE",
    "KEY_SIZE",
    "MAX_SKIP",
    "MAX_STORED",
    "NONCE_SIZE",
    "ROOT_INFO",
    "TAG_SIZE",
    "DoubleRatchet",
    "Header",
    "KDFChain",
    "Snapshot",
    "hkdf",
    "initiator_secret",
    "kdf_ck",
    "kdf_rk",
    "read_with_snapshot",
    "responder_secret",
]

#: Most keys one message may make the receiver skip in one chain (the spec's MAX_SKIP).
MAX_SKIP = 100
#: Most skipped message keys kept in all; beyond this the oldest are dropped.
MAX_STORED = 1000
#: XChaCha20-Poly1305 nonce length: the first bytes of every ratchet ciphertext.
NONCE_SIZE = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#: Poly1305 authentication tag length.
TAG_SIZE = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_ABYTES
#: Serialised :class:`Header` length: ratchet public key, then two 4-byte counters.
HEADER_SIZE = KEY_SIZE + 4 + 4
#: HKDF ``info`` of KDF_RK (the spec asks for an application-specific constant).
ROOT_INFO = b"toychat double ratchet root"
#: HKDF ``info`` of the initial shared secret (:func:`initiator_secret`).
HANDSHAKE_INFO = b"toychat x3dh-lite"

_HASH_LEN = hashlib.sha256().digest_size
_COUNTER_MAX = 2**32 - 1


# ---- the KDFs ------------------------------------------------------------------------------


def hkdf(ikm: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 (RFC 5869, https://www.rfc-editor.org/rfc/rfc5869): extract, then expand.

    *Extract*: ``PRK = HMAC-SHA256(salt, ikm)``, where an empty salt means 32
    zero bytes.  *Expand*: ``T(i) = HMAC-SHA256(PRK, T(i-1) ‖ info ‖ i)`` for
    ``i = 1, 2, …``, concatenated and cut to ``length`` bytes (at most 255 × 32).

    >>> len(hkdf(b"secret", salt=b"", info=b"demo", length=64))
    64
    """
    if not 0 < length <= 255 * _HASH_LEN:
        raise ValueError(f"HKDF-SHA256 gives 1 to {255 * _HASH_LEN} bytes, not {length}.")
    prk = hmac.new(salt or bytes(_HASH_LEN), ikm, hashlib.sha256).digest()
    okm, block = b"", b""
    for counter in range(1, -(-length // _HASH_LEN) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


def kdf_rk(root_key: bytes, dh_output: bytes) -> tuple[bytes, bytes]:
    """The root chain's KDF: ``(new root key, new chain key)`` from HKDF-SHA256
    with ``root_key`` as salt and ``dh_output`` as input key material."""
    out = hkdf(dh_output, salt=root_key, info=ROOT_INFO, length=2 * KEY_SIZE)
    return out[:KEY_SIZE], out[KEY_SIZE:]


def kdf_ck(chain_key: bytes) -> tuple[bytes, bytes]:
    """One step of a sending or receiving chain: ``(next chain key, message key)``.

    ``message key = HMAC-SHA256(chain_key, 0x01)`` and
    ``next chain key = HMAC-SHA256(chain_key, 0x02)``: two different inputs,
    so neither output tells anything about the other, and going back to
    ``chain_key`` would mean inverting HMAC.
    """
    return (
        hmac.new(chain_key, b"\x02", hashlib.sha256).digest(),
        hmac.new(chain_key, b"\x01", hashlib.sha256).digest(),
    )


def _check_key(value: object, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != KEY_SIZE:
        size = len(value) if isinstance(value, (bytes, bytearray)) else type(value).__name__
        raise InvalidKey(f"{what} must be {KEY_SIZE} bytes, not {size}.")
    return bytes(value)


def _check_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)):
        hint = " (for text use .encode())" if isinstance(value, str) else ""
        raise TypeError(f"{what} must be bytes, not {type(value).__name__}{hint}.")
    return bytes(value)


class KDFChain:
    """A symmetric-key ratchet: a chain key that :meth:`step` turns into one
    message key and the next chain key, forgetting the old one (spec
    #symmetric-key-ratchet).

    ``steps`` counts the message keys given out so far, which is also the
    number of the next message in this chain.

    >>> chain = KDFChain(bytes(32))
    >>> first, second = chain.step(), chain.step()
    >>> first != second, chain.steps
    (True, 2)

    **Warning**: each message key must encrypt one message only.
    """

    __slots__ = ("_chain_key", "steps")

    def __init__(self, chain_key: bytes) -> None:
        self._chain_key = _check_key(chain_key, "a chain key")
        self.steps = 0

    @property
    def chain_key(self) -> bytes:
        """The current chain key: what a thief needs to read this chain's *next* messages."""
        return self._chain_key

    def step(self) -> bytes:
        """Advance the chain by one: return the next message key."""
        self._chain_key, message_key = kdf_ck(self._chain_key)
        self.steps += 1
        return message_key

    def copy(self) -> KDFChain:
        """An independent copy at the same position."""
        clone = KDFChain(self._chain_key)
        clone.steps = self.steps
        return clone

    def __repr__(self) -> str:
        return f"KDFChain(steps={self.steps}, chain key hidden)"


# ---- the header -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """What travels in clear beside each message: the sender's current ratchet
    public key, the length of its previous sending chain, and this message's
    number in the current chain (spec ``HEADER(dh_pair, pn, n)``).

    Serialised as :data:`HEADER_SIZE` bytes: the key, then both counters as
    4-byte big-endian unsigned integers.

    >>> h = Header(bytes(32), previous_chain_length=2, message_number=5)
    >>> Header.from_bytes(h.to_bytes()) == h, len(h.to_bytes())
    (True, 40)
    """

    dh_public: bytes
    previous_chain_length: int
    message_number: int

    SIZE: ClassVar[int] = HEADER_SIZE

    def __post_init__(self) -> None:
        if not isinstance(self.dh_public, (bytes, bytearray)) or len(self.dh_public) != KEY_SIZE:
            raise MalformedEnvelope(f"a ratchet header's public key is {KEY_SIZE} bytes.")
        object.__setattr__(self, "dh_public", bytes(self.dh_public))
        for name in ("previous_chain_length", "message_number"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= _COUNTER_MAX:
                raise MalformedEnvelope(
                    f"a ratchet header's {name} is a whole number from 0 to {_COUNTER_MAX}, "
                    f"not {value!r}."
                )

    def to_bytes(self) -> bytes:
        return self.dh_public + struct.pack(">II", self.previous_chain_length, self.message_number)

    @classmethod
    def from_bytes(cls, data: bytes) -> Header:
        """Parse :meth:`to_bytes` output; :class:`MalformedEnvelope` if it is not one."""
        if not isinstance(data, (bytes, bytearray)) or len(data) != HEADER_SIZE:
            size = len(data) if isinstance(data, (bytes, bytearray)) else type(data).__name__
            raise MalformedEnvelope(f"a ratchet header is {HEADER_SIZE} bytes, not {size}.")
        previous, number = struct.unpack(">II", bytes(data[KEY_SIZE:]))
        return cls(bytes(data[:KEY_SIZE]), previous, number)


# ---- primitives -----------------------------------------------------------------------------


def _dh(private: nacl.public.PrivateKey, public: bytes, error: type[ToyChatError]) -> bytes:
    """X25519.  libsodium refuses a public key of small order (the result would
    be all zeros, known to anyone); that becomes ``error``."""
    try:
        return nacl.bindings.crypto_scalarmult(bytes(private), public)
    except nacl.exceptions.RuntimeError:
        raise error(
            "that is not a usable X25519 public key (a small-order point, whose shared "
            "secret anyone can compute): it was forged or corrupted."
        ) from None


def _associated(associated_data: bytes, header: Header) -> bytes:
    return associated_data + header.to_bytes()


def _seal(message_key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    nonce = nacl.utils.random(NONCE_SIZE)
    return nonce + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, associated, nonce, message_key
    )


def _open(message_key: bytes, ciphertext: bytes, associated: bytes) -> bytes:
    """Decrypt or raise :class:`nacl.exceptions.CryptoError`."""
    return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        ciphertext[NONCE_SIZE:], associated, ciphertext[:NONCE_SIZE], message_key
    )


# ---- the Double Ratchet ---------------------------------------------------------------------


class Snapshot(TypedDict):
    """Every secret a :class:`DoubleRatchet` holds at one moment (:meth:`DoubleRatchet.snapshot`)."""

    root_key: bytes
    ratchet_private_key: bytes
    remote_ratchet_key: bytes | None
    sending_chain_key: bytes | None
    next_sent: int
    receiving_chain_key: bytes | None
    next_received: int
    skipped_message_keys: dict[tuple[bytes, int], bytes]


class DoubleRatchet:
    """One party's side of a Double Ratchet conversation (spec #double-ratchet-1).

    Make it with :meth:`initiator` (the party who writes first) or
    :meth:`responder`; then :meth:`encrypt` and :meth:`decrypt`.  A
    :meth:`decrypt` that raises leaves the state exactly as it was: it works on
    a copy and keeps the copy only if the message authenticated.

    The state, with the spec's names (read it, don't change it):

    ===========================  =========  ==========================================
    attribute                    spec       meaning
    ===========================  =========  ==========================================
    ``ratchet_keypair``          DHs        my current ratchet key pair
    ``remote_ratchet_public``    DHr        the other side's current ratchet key
    ``root_key``                 RK         the root chain's key
    ``sending``                  CKs, Ns    my sending :class:`KDFChain`
    ``receiving``                CKr, Nr    my receiving :class:`KDFChain`
    ``previous_sending_length``  PN         how long my previous sending chain was
    ``skipped``                  MKSKIPPED  ``{(their ratchet key, n): message key}``
    ===========================  =========  ==========================================
    """

    def __init__(
        self,
        root_key: bytes,
        ratchet_keypair: nacl.public.PrivateKey,
        remote_ratchet_public: bytes | None,
        *,
        max_skip: int = MAX_SKIP,
        max_stored: int = MAX_STORED,
    ) -> None:
        """Low level: use :meth:`initiator` or :meth:`responder`."""
        if type(max_skip) is not int or max_skip < 0:
            raise ValueError(f"max_skip is a whole number ≥ 0, not {max_skip!r}.")
        if type(max_stored) is not int or max_stored < max_skip:
            raise ValueError(f"max_stored must be a whole number ≥ max_skip ({max_skip}).")
        self.root_key = _check_key(root_key, "the shared secret")
        if not isinstance(ratchet_keypair, nacl.public.PrivateKey):
            raise InvalidKey("the ratchet key pair must be a nacl.public.PrivateKey.")
        self.ratchet_keypair = ratchet_keypair
        self.remote_ratchet_public = remote_ratchet_public
        self.sending: KDFChain | None = None
        self.receiving: KDFChain | None = None
        self.previous_sending_length = 0
        self.skipped: dict[tuple[bytes, int], bytes] = {}
        self.max_skip = max_skip
        self.max_stored = max_stored
        # Ratchet keys the other side has replaced, oldest first: a message under one of
        # them whose key is not in `skipped` was already read (or its key dropped).
        self._retired: dict[bytes, None] = {}

    @classmethod
    def initiator(
        cls,
        shared_secret: bytes,
        responder_ratchet_public: bytes,
        *,
        max_skip: int = MAX_SKIP,
        max_stored: int = MAX_STORED,
    ) -> DoubleRatchet:
        """The side that writes first (spec ``RatchetInitAlice``): it knows the
        responder's ratchet public key, makes its own ratchet key pair and can
        send at once."""
        remote = _check_key(responder_ratchet_public, "the responder's ratchet public key")
        keypair = nacl.public.PrivateKey.generate()
        ratchet = cls(shared_secret, keypair, remote, max_skip=max_skip, max_stored=max_stored)
        ratchet.root_key, chain_key = kdf_rk(ratchet.root_key, _dh(keypair, remote, InvalidKey))
        ratchet.sending = KDFChain(chain_key)
        return ratchet

    @classmethod
    def responder(
        cls,
        shared_secret: bytes,
        responder_ratchet_keypair: nacl.public.PrivateKey,
        *,
        max_skip: int = MAX_SKIP,
        max_stored: int = MAX_STORED,
    ) -> DoubleRatchet:
        """The side that is written to first (spec ``RatchetInitBob``): its
        ratchet key pair is the one whose public half the initiator used.  It
        can send only after it has decrypted a first message."""
        return cls(
            shared_secret, responder_ratchet_keypair, None, max_skip=max_skip, max_stored=max_stored
        )

    @property
    def public_key(self) -> bytes:
        """My current ratchet public key (what my next header carries)."""
        return bytes(self.ratchet_keypair.public_key)

    # ---- sending ------------------------------------------------------------------------
    def encrypt(self, plaintext: bytes, associated_data: bytes = b"") -> tuple[Header, bytes]:
        """Encrypt ``plaintext`` with the next message key (spec ``RatchetEncrypt``).

        Returns the header and ``nonce ‖ ciphertext ‖ tag`` (:data:`NONCE_SIZE`
        + len(plaintext) + :data:`TAG_SIZE` bytes).  ``associated_data`` is
        authenticated but not encrypted; the receiver must pass the same bytes.
        """
        plaintext = _check_bytes(plaintext, "the plaintext")
        associated_data = _check_bytes(associated_data, "associated_data")
        if self.sending is None:
            raise ToyChatError(
                "this side cannot send yet: the responder's first sending chain comes from the "
                "initiator's first message, so decrypt a message from them first."
            )
        header = Header(self.public_key, self.previous_sending_length, self.sending.steps)
        message_key = self.sending.step()
        return header, _seal(message_key, plaintext, _associated(associated_data, header))

    # ---- receiving ----------------------------------------------------------------------
    def decrypt(self, header: Header, ciphertext: bytes, associated_data: bytes = b"") -> bytes:
        """Decrypt a message that may be late, early or out of order (spec ``RatchetDecrypt``).

        Raises, always leaving the state unchanged:

        * :class:`TamperedMessage` — the header, ciphertext or associated data
          were altered (or the message was never sent in this conversation);
        * :class:`ReplayedMessage` — this message's key was already used (a
          copy of a message that was read), or dropped from a full store;
        * :class:`TooManySkipped` — the header claims a position more than
          ``max_skip`` messages ahead, so the receiver refuses to compute the
          keys.  An altered counter can land here: the receiver cannot tell
          it from a real gap without doing the work the limit forbids;
        * :class:`MalformedEnvelope` — not a :class:`Header`, a ciphertext too
          short to hold a nonce and a tag, or an unusable ratchet key.
        """
        if not isinstance(header, Header):
            raise MalformedEnvelope(
                f"decrypt() needs a ratchet Header, not {type(header).__name__} "
                "(parse bytes with Header.from_bytes)."
            )
        if not isinstance(ciphertext, (bytes, bytearray)):
            raise MalformedEnvelope(
                f"a ratchet ciphertext is bytes, not {type(ciphertext).__name__}."
            )
        if len(ciphertext) < NONCE_SIZE + TAG_SIZE:
            raise MalformedEnvelope(
                f"a ratchet ciphertext is at least {NONCE_SIZE + TAG_SIZE} bytes (nonce and "
                f"authentication tag), not {len(ciphertext)}: it was truncated."
            )
        associated_data = _check_bytes(associated_data, "associated_data")
        trial = self._copy()
        plaintext = trial._decrypt(header, bytes(ciphertext), _associated(associated_data, header))
        self.__dict__.update(trial.__dict__)  # commit: the message authenticated
        return plaintext

    def _decrypt(self, header: Header, ciphertext: bytes, associated: bytes) -> bytes:
        slot = (header.dh_public, header.message_number)
        if slot in self.skipped:  # TrySkippedMessageKeys
            return self._open(self.skipped.pop(slot), ciphertext, associated)
        current_chain = header.dh_public == self.remote_ratchet_public
        if header.dh_public in self._retired or (
            current_chain
            and self.receiving is not None
            and header.message_number < self.receiving.steps
        ):
            raise ReplayedMessage(
                f"message {header.message_number} of this chain was already decrypted, or arrived "
                "so late that its key had been deleted: refused, as a copy or a replay."
            )
        if not current_chain:
            self._skip(header.previous_chain_length)
            self._dh_ratchet(header.dh_public)
        if self.receiving is None:  # only a forged header claims the initiator's first key
            raise TamperedMessage("this message claims a receiving chain that does not exist.")
        self._skip(header.message_number)
        return self._open(self.receiving.step(), ciphertext, associated)

    @staticmethod
    def _open(message_key: bytes, ciphertext: bytes, associated: bytes) -> bytes:
        try:
            return _open(message_key, ciphertext, associated)
        except nacl.exceptions.CryptoError:
            raise TamperedMessage(
                "the message failed its authentication check: its header, ciphertext or "
                "associated data were changed after it was sent. It was not delivered."
            ) from None

    def _skip(self, until: int) -> None:
        """Spec ``SkipMessageKeys``: store the keys of messages before ``until``."""
        if self.receiving is None:
            return
        if until - self.receiving.steps > self.max_skip:
            raise TooManySkipped(
                f"this message claims to be {until - self.receiving.steps} messages ahead of the "
                f"last one received in its chain; at most {self.max_skip} may be skipped, so that a "
                "sender cannot make this phone compute and store unlimited keys. Refused; nothing "
                "was changed."
            )
        while self.receiving.steps < until:
            slot = (self.remote_ratchet_public, self.receiving.steps)
            self.skipped[slot] = self.receiving.step()  # type: ignore[index]
        while len(self.skipped) > self.max_stored:  # dicts keep insertion order: oldest first
            del self.skipped[next(iter(self.skipped))]

    def _dh_ratchet(self, remote_public: bytes) -> None:
        """Spec ``DHRatchet``: a new receiving chain for their new key, then a new
        key pair of mine and a new sending chain."""
        self.previous_sending_length = self.sending.steps if self.sending else 0
        if self.remote_ratchet_public is not None:
            self._retired[self.remote_ratchet_public] = None
            while len(self._retired) > self.max_stored:
                del self._retired[next(iter(self._retired))]
        self.remote_ratchet_public = remote_public
        dh_in = _dh(self.ratchet_keypair, remote_public, MalformedEnvelope)
        self.root_key, chain_key = kdf_rk(self.root_key, dh_in)
        self.receiving = KDFChain(chain_key)
        self.ratchet_keypair = nacl.public.PrivateKey.generate()
        dh_out = _dh(self.ratchet_keypair, remote_public, MalformedEnvelope)
        self.root_key, chain_key = kdf_rk(self.root_key, dh_out)
        self.sending = KDFChain(chain_key)

    # ---- copies -------------------------------------------------------------------------
    def _copy(self) -> DoubleRatchet:
        clone = object.__new__(DoubleRatchet)
        clone.__dict__.update(self.__dict__)
        clone.sending = self.sending.copy() if self.sending else None
        clone.receiving = self.receiving.copy() if self.receiving else None
        clone.skipped = dict(self.skipped)
        clone._retired = dict(self._retired)
        return clone

    def __copy__(self) -> DoubleRatchet:
        return self._copy()

    def __deepcopy__(self, memo: dict) -> DoubleRatchet:
        """``copy.deepcopy(ratchet)``: an independent state, as a thief's copy would be."""
        return self._copy()

    # ---- what a thief gets --------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Every secret this ratchet holds *now*: what stealing the phone at this
        moment yields (besides the identity keys — see the module docstring).

        Open recorded messages with it using :func:`read_with_snapshot`.
        """
        return Snapshot(
            root_key=self.root_key,
            ratchet_private_key=bytes(self.ratchet_keypair),
            remote_ratchet_key=self.remote_ratchet_public,
            sending_chain_key=self.sending.chain_key if self.sending else None,
            next_sent=self.sending.steps if self.sending else 0,
            receiving_chain_key=self.receiving.chain_key if self.receiving else None,
            next_received=self.receiving.steps if self.receiving else 0,
            skipped_message_keys=dict(self.skipped),
        )

    def __repr__(self) -> str:
        sent = self.sending.steps if self.sending else 0
        received = self.receiving.steps if self.receiving else 0
        return (
            f"DoubleRatchet(sent in this chain={sent}, received in this chain={received}, "
            f"skipped keys stored={len(self.skipped)}, secrets hidden)"
        )


def read_with_snapshot(
    snapshot: Snapshot, recorded: Iterable[tuple[Header, bytes, bytes]]
) -> list[bytes | None]:
    """What a thief can read of recorded messages ``(header, ciphertext,
    associated_data)`` with a stolen :meth:`DoubleRatchet.snapshot`.

    The thief is not bound by the ratchet's rules (no replay checks, no
    ``max_skip``) and tries **every** key the snapshot gives on **every**
    message: each stored skipped key; the receiving and sending chains run
    forwards as far as the recorded message numbers go; and, for each ratchet
    key in the recorded headers, the new receiving chain the stolen root key
    and ratchet private key would give.  What it cannot do is run a chain
    backwards or undo a DH ratchet step.

    Returns each plaintext, or ``None`` where nothing in the snapshot opens
    it.  Only the ratchet state is modelled: the identity key on the same
    phone also re-opens the initiator's first flight (module docstring).
    """
    recorded = list(recorded)
    depth = 1 + max((header.message_number for header, _, _ in recorded), default=0)

    def run_forwards(chain_key: bytes | None) -> list[bytes]:
        keys, chain = [], chain_key
        for _ in range(depth if chain is not None else 0):
            chain, message_key = kdf_ck(chain)  # type: ignore[arg-type]
            keys.append(message_key)
        return keys

    keys = list(snapshot["skipped_message_keys"].values())
    keys += run_forwards(snapshot["receiving_chain_key"])
    keys += run_forwards(snapshot["sending_chain_key"])
    private = nacl.public.PrivateKey(snapshot["ratchet_private_key"])
    for remote in dict.fromkeys(header.dh_public for header, _, _ in recorded):
        if remote != snapshot["remote_ratchet_key"]:
            try:
                _, chain_key = kdf_rk(snapshot["root_key"], _dh(private, remote, MalformedEnvelope))
            except MalformedEnvelope:
                continue
            keys += run_forwards(chain_key)

    results: list[bytes | None] = []
    for header, ciphertext, associated_data in recorded:
        associated = _associated(associated_data, header)
        for key in keys:
            try:
                results.append(_open(key, ciphertext, associated))
                break
            except (nacl.exceptions.CryptoError, ValueError, TypeError):
                continue
        else:
            results.append(None)
    return results


# ---- the first shared secret ---------------------------------------------------------------


def initiator_secret(me: Identity, them: PublicIdentity) -> tuple[bytes, bytes]:
    """The initiator's first shared secret, and the ephemeral public key to send
    along (in every message until the responder replies).

    ``SK = HKDF-SHA256(DH(IK_me, IK_them) ‖ DH(EK, IK_them))`` with an empty
    (all-zero) salt and :data:`HANDSHAKE_INFO` as info, where IK are the X25519
    identity keys and EK a fresh ephemeral key pair.  Then
    ``DoubleRatchet.initiator(SK, them.encryption_key)``.

    How this differs from X3DH §3.3 ("Sending the initial message",
    https://signal.org/docs/specifications/x3dh/#sending-the-initial-message):

    * X3DH computes DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B),
      DH3 = DH(EK_A, SPK_B) and, if Bob has one left, DH4 = DH(EK_A, OPK_B),
      where SPK_B is Bob's *signed prekey* (replaced every so often, old ones
      deleted) and OPK_B a *one-time prekey* (deleted once used).  The toy has
      no prekeys: its DH(IK_A, IK_B) stands where DH1 is, its DH(EK_A, IK_B) is
      DH2, and DH3/DH4 are left out (with SPK_B = IK_B, DH3 would equal DH2).
    * So nothing Bob ever deletes protects the first messages: whoever later
      gets Bob's identity private key and recorded EK_A recomputes SK.  X3DH's
      prekeys exist exactly to close that gap (and to let Bob be offline with
      keys the server hands out).
    * No prekey signature to check (X3DH's Sig(IK_B, Encode(SPK_B))).
    * X3DH's KDF prefixes 32 bytes of 0xFF to the key material (for XEdDSA
      domain separation) and its AD = Encode(IK_A) ‖ Encode(IK_B) goes into
      the first message; the toy has neither (the chat client binds sender
      and recipient names as associated data instead).
    * X25519 identity keys only, separate from the Ed25519 signing keys
      (:mod:`toychat.keys`); Signal uses one key for both (XEdDSA).
    * No post-quantum KEM (PQXDH, https://signal.org/docs/specifications/pqxdh/).
    """
    if not isinstance(me, Identity) or not isinstance(them, PublicIdentity):
        raise InvalidKey("initiator_secret(me, them) takes my Identity and their PublicIdentity.")
    ephemeral = nacl.public.PrivateKey.generate()
    dh1 = _dh(me.box_private, them.encryption_key, InvalidKey)
    dh2 = _dh(ephemeral, them.encryption_key, InvalidKey)
    secret = hkdf(dh1 + dh2, salt=b"", info=HANDSHAKE_INFO, length=KEY_SIZE)
    return secret, bytes(ephemeral.public_key)


def responder_secret(me: Identity, them: PublicIdentity, ephemeral_public: bytes) -> bytes:
    """The responder's side of :func:`initiator_secret`: the same SK from my
    identity key, the initiator's identity key and their ephemeral key.  Then
    ``DoubleRatchet.responder(SK, me.box_private)``."""
    if not isinstance(me, Identity) or not isinstance(them, PublicIdentity):
        raise InvalidKey(
            "responder_secret(me, them, …) takes my Identity and their PublicIdentity."
        )
    if not isinstance(ephemeral_public, (bytes, bytearray)) or len(ephemeral_public) != KEY_SIZE:
        raise MalformedEnvelope(f"the initiator's ephemeral key is {KEY_SIZE} bytes.")
    dh1 = _dh(me.box_private, them.encryption_key, InvalidKey)
    dh2 = _dh(me.box_private, bytes(ephemeral_public), MalformedEnvelope)
    return hkdf(dh1 + dh2, salt=b"", info=HANDSHAKE_INFO, length=KEY_SIZE)
