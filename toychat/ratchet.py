"""Forward secrecy: KDF chains and a simplified Double Ratchet.

With static keys (lessons 03-04) one stolen private key opens every message a
phone ever sent or received.  The Double Ratchet (T. Perrin and
M. Marlinspike, *The Double Ratchet Algorithm*, Signal, 2016,
https://signal.org/docs/specifications/doubleratchet/) gives every message its
own key and throws each key away after use:

* a **KDF chain** (§2.1, §2.2) turns a chain key into the next chain key and a
  message key; it only runs forwards, so "earlier keys cannot be calculated
  from later ones" (§1; see references: docs/references.md#perrin2016) — *forward secrecy*;
* a **Diffie-Hellman ratchet** (§2.3) mixes a fresh X25519 exchange into a
  root chain whenever the conversation changes direction, so a thief who
  copied the state is locked out again once both sides have sent —
  *post-compromise security*;
* **skipped message keys** (§2.6) let messages arrive late or out of order,
  up to :data:`MAX_SKIP` per chain.

Cryptographic choices follow §5.2: KDF_RK is HKDF-SHA256 (RFC 5869),
KDF_CK is HMAC-SHA256 with the constants 0x01 (message key) and 0x02 (next
chain key); ENCRYPT is XChaCha20-Poly1305 from PyNaCl with the header as
associated data.  Each message key is used for one message only; the 24-byte
nonce is random and sent in front of the ciphertext.

What this simplifies compared with the specification and Signal
---------------------------------------------------------------
* No header encryption (§4): the ratchet public key and counters are visible.
* The first shared secret comes from :func:`initiator_secret` /
  :func:`responder_secret`, an X3DH-like exchange *without* prekeys: DH of the
  two identity keys plus DH of a fresh ephemeral key with the responder's
  identity key (X3DH §3.3 has three or four DHs with signed and one-time
  prekeys, so that Bob can be offline; PQXDH adds a post-quantum KEM).  The
  responder's identity X25519 key doubles as its first ratchet key, so a
  thief holding it can read the first flight, the messages sent before the
  responder's first reply (:func:`toychat.attacks.read_first_flights`);
  X3DH's one-time prekeys, deleted after first use, prevent that.
* State lives in memory only; skipped keys are capped at :data:`MAX_STORED`
  (oldest dropped) rather than deleted after a time limit.
* One ratchet is one session.  Simultaneous first messages from both sides, and
  a contact who starts again after losing their sessions, are reconciled one
  level up, as Signal does: :class:`toychat.sessions.RatchetSession` keeps a few
  older states beside the current one and switches to whichever opened the
  latest message.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field
from typing import TypedDict

import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.utils

from .errors import MalformedEnvelope, ReplayedMessage, TamperedMessage, TooManySkipped, ToyChatError
from .frozen import build
from .keys import Identity, PublicIdentity, is_low_order

__all__ = [
    "MAX_SKIP",
    "MAX_STORED",
    "hkdf",
    "kdf_rk",
    "kdf_ck",
    "KDFChain",
    "Header",
    "DoubleRatchet",
    "RatchetSnapshot",
    "initiator_secret",
    "responder_secret",
    "read_with_snapshot",
]

#: Most message keys one chain may skip ahead by (spec §2.6, MAX_SKIP).
MAX_SKIP = 100
#: Most skipped keys kept in all; the oldest are dropped beyond this.
MAX_STORED = 1000
_NONCE = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
_INFO_ROOT = b"toychat double ratchet root"
_INFO_X3DH = b"toychat x3dh-lite"
#: A header's two counters: big-endian unsigned 32-bit (the previous chain's length, the message number).
_COUNTERS = struct.Struct(">II")


def hkdf(ikm: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 (RFC 5869): extract with ``salt``, expand with ``info`` to ``length`` bytes."""
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def kdf_rk(root_key: bytes, dh_output: bytes) -> tuple[bytes, bytes]:
    """KDF_RK (§5.2): HKDF with the root key as salt → (new root key, new chain key)."""
    out = hkdf(dh_output, salt=root_key, info=_INFO_ROOT, length=64)
    return out[:32], out[32:]


def kdf_ck(chain_key: bytes) -> tuple[bytes, bytes]:
    """KDF_CK (§5.2): HMAC-SHA256 → (next chain key [0x02], message key [0x01])."""
    return (
        hmac.new(chain_key, b"\x02", hashlib.sha256).digest(),
        hmac.new(chain_key, b"\x01", hashlib.sha256).digest(),
    )


@dataclass
class KDFChain:
    """A symmetric-key ratchet (§2.2): each :meth:`step` yields a message key and
    replaces the chain key with the next one; the old one is gone.

    >>> chain = KDFChain(bytes(32))
    >>> first, second = chain.step(), chain.step()
    >>> first != second, chain.steps
    (True, 2)
    """

    chain_key: bytes
    steps: int = 0

    def step(self) -> bytes:
        self.chain_key, message_key = kdf_ck(self.chain_key)
        self.steps += 1
        return message_key


@dataclass(frozen=True)
class Header:
    """What travels beside each ratchet message: the sender's current ratchet
    public key, the length of its previous sending chain, and the message number."""

    dh_public: bytes
    previous_chain_length: int
    message_number: int

    SIZE = 32 + 4 + 4

    def to_bytes(self) -> bytes:
        return self.dh_public + _COUNTERS.pack(self.previous_chain_length, self.message_number)

    @classmethod
    def from_bytes(cls, data: bytes) -> Header:
        if not isinstance(data, (bytes, bytearray)) or len(data) != cls.SIZE:
            raise MalformedEnvelope(f"a ratchet header is {cls.SIZE} bytes.")
        pn, n = _COUNTERS.unpack_from(data, 32)
        dh_public = bytes(data[:32])
        if is_low_order(dh_public):
            raise MalformedEnvelope(
                "the ratchet header carries an X25519 key of small order, whose Diffie-Hellman secret "
                "everybody knows: refused."
            )
        return build(cls, dh_public=dh_public, previous_chain_length=pn, message_number=n)


def _dh(private: nacl.public.PrivateKey, public: bytes) -> bytes:
    """X25519; a key libsodium refuses (small order) is a named error, never a crash."""
    try:
        return nacl.bindings.crypto_scalarmult(bytes(private), public)
    except (nacl.exceptions.RuntimeError, nacl.exceptions.CryptoError, TypeError, ValueError):
        raise MalformedEnvelope(
            "a Diffie-Hellman exchange failed: the other side's X25519 key is of small order or malformed."
        ) from None


def _open(message_key: bytes, ciphertext: bytes, associated: bytes, nonce: bytes | None = None) -> bytes:
    """Open ``ciphertext`` (nonce first, or after ``nonce`` given apart; the same checks either way)."""
    if nonce is None:
        nonce, ciphertext = ciphertext[:_NONCE], ciphertext[_NONCE:]
    if len(nonce) != _NONCE or len(ciphertext) < 16:
        raise MalformedEnvelope("a ratchet ciphertext is at least 40 bytes (nonce and tag): it was truncated.")
    return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, associated, nonce, message_key)


class RatchetSnapshot(TypedDict):
    """What :meth:`DoubleRatchet.snapshot` returns: every secret on the device at one moment."""

    root_key: bytes
    sending_chain_key: bytes | None
    receiving_chain_key: bytes | None
    remote_ratchet_key: bytes | None
    next_received: int
    skipped_message_keys: dict[tuple[bytes, int], bytes]


@dataclass
class DoubleRatchet:
    """One side of a Double Ratchet session (spec §3).  Build it with
    :meth:`initiator` or :meth:`responder`, then :meth:`encrypt` and :meth:`decrypt`.

    Every failed :meth:`decrypt` leaves the state exactly as it was.
    """

    dh_self: nacl.public.PrivateKey
    dh_remote: bytes | None
    root_key: bytes
    sending: bytes | None = None
    receiving: bytes | None = None
    sent: int = 0
    received: int = 0
    previous_sent: int = 0
    skipped: dict[tuple[bytes, int], bytes] = field(default_factory=dict)
    max_skip: int = MAX_SKIP
    #: Ratchet public keys of receiving chains already replaced, newest last (at most
    #: :data:`MAX_STORED`), so that a replayed message from an old chain is named as a
    #: replay.  Never changed in place, only replaced, so a trial copy can share it.
    _retired: dict[bytes, None] = field(default_factory=dict, repr=False)

    @classmethod
    def initiator(cls, shared_secret: bytes, responder_public: bytes, *, max_skip: int = MAX_SKIP) -> DoubleRatchet:
        """Alice's side (§3.3 RatchetInitAlice): she knows Bob's ratchet public key."""
        mine = nacl.public.PrivateKey.generate()
        root, sending = kdf_rk(shared_secret, _dh(mine, responder_public))
        return cls(mine, bytes(responder_public), root, sending=sending, max_skip=max_skip)

    @classmethod
    def responder(
        cls, shared_secret: bytes, keypair: nacl.public.PrivateKey, *, max_skip: int = MAX_SKIP
    ) -> DoubleRatchet:
        """Bob's side (§3.3 RatchetInitBob): his ratchet key pair is the one Alice used."""
        return cls(keypair, None, shared_secret, max_skip=max_skip)

    # ---- sending -----------------------------------------------------------
    def encrypt(self, plaintext: bytes, associated_data: bytes = b"") -> tuple[Header, bytes]:
        """Encrypt with the next message key of the sending chain (§3.4 RatchetEncrypt)."""
        header, _header_bytes, nonce, ciphertext = self.encrypt_parts(plaintext, associated_data)
        return header, nonce + ciphertext

    def encrypt_parts(self, plaintext: bytes, associated_data: bytes = b"") -> tuple[Header, bytes, bytes, bytes]:
        """:meth:`encrypt` in the parts an envelope carries apart: the header, its bytes, the
        nonce and the ciphertext (so nothing is joined only to be cut again, issue 31)."""
        if self.sending is None:
            raise ToyChatError("this side cannot send yet: the responder must receive a first message.")
        self.sending, message_key = kdf_ck(self.sending)
        dh_public = bytes(self.dh_self.public_key)
        header_bytes = dh_public + _COUNTERS.pack(self.previous_sent, self.sent)
        header = build(Header, dh_public=dh_public, previous_chain_length=self.previous_sent, message_number=self.sent)
        self.sent += 1
        nonce = nacl.utils.random(_NONCE)
        ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            plaintext, associated_data + header_bytes, nonce, message_key
        )
        return header, header_bytes, nonce, ciphertext

    # ---- receiving ---------------------------------------------------------
    def decrypt(self, header: Header, ciphertext: bytes, associated_data: bytes = b"") -> bytes:
        """Decrypt a message (§3.5 RatchetDecrypt), in order, late or out of order.

        Raises :class:`TamperedMessage` (altered), :class:`ReplayedMessage`
        (its key was already used or discarded), :class:`TooManySkipped`, or
        :class:`MalformedEnvelope`; the state is unchanged after any of them.
        """
        plaintext, trial = self.trial_decrypt(header, ciphertext, associated_data)
        self.adopt(trial)
        return plaintext

    def trial_decrypt(
        self, header: Header, ciphertext: bytes, associated_data: bytes = b"", *, nonce: bytes | None = None
    ) -> tuple[bytes, DoubleRatchet]:
        """Like :meth:`decrypt`, but leave this state untouched: returns the plaintext and
        the state after it, for :meth:`adopt` once the caller's own checks pass too.

        ``nonce``, if given, is the nonce apart, as an envelope carries it, and ``ciphertext``
        is what follows it (so the two are not joined only to be cut again)."""
        if not isinstance(header, Header):
            raise MalformedEnvelope("decrypt() needs a ratchet Header.")
        trial = self._clone()
        return trial._decrypt(header, ciphertext, associated_data, nonce), trial

    def adopt(self, trial: DoubleRatchet) -> None:
        """Take over the state :meth:`trial_decrypt` returned."""
        self.__dict__.update(trial.__dict__)

    def _decrypt(self, header: Header, ciphertext: bytes, associated: bytes, nonce: bytes | None = None) -> bytes:
        slot = (header.dh_public, header.message_number)
        associated = associated + header.to_bytes()
        if slot in self.skipped:
            message_key = self.skipped.pop(slot)
        elif header.dh_public == self.dh_remote and header.message_number < self.received:
            # every key below `received` on this chain was used once or stored in `skipped`
            raise ReplayedMessage(
                f"ratchet message {header.message_number} of this chain was already decrypted (or its key "
                "discarded): this copy is a replay."
            )
        else:
            if header.dh_public != self.dh_remote:
                if header.dh_public in self._retired:
                    raise ReplayedMessage("this message belongs to a chain that has already been replaced.")
                self._skip(header.previous_chain_length)
                self._dh_ratchet(header)
            if self.receiving is None:
                raise TamperedMessage(
                    "the reply carries the ratchet key this side started the session with (the contact's "
                    "identity key), not a fresh one, so no receiving chain exists for it: refused."
                )
            if header.message_number > self.received:  # else nothing to skip (_skip would do nothing)
                self._skip(header.message_number)
            self.receiving, message_key = kdf_ck(self.receiving)
            self.received += 1
        try:
            plaintext = _open(message_key, ciphertext, associated, nonce)
        except nacl.exceptions.CryptoError:
            raise TamperedMessage(
                "the ratchet message failed its authentication check: its header, ciphertext or "
                "associated data were altered. It was not delivered."
            ) from None
        return plaintext

    def _skip(self, until: int) -> None:
        if self.receiving is None:
            return
        if until - self.received > self.max_skip:
            raise TooManySkipped(
                f"the message claims to be {until - self.received} ahead in its chain; at most "
                f"{self.max_skip} skipped messages are allowed. Refused."
            )
        while self.received < until:
            self.receiving, message_key = kdf_ck(self.receiving)
            self.skipped[(self.dh_remote, self.received)] = message_key  # type: ignore[index]
            self.received += 1
        while len(self.skipped) > MAX_STORED:
            self.skipped.pop(next(iter(self.skipped)))

    def _dh_ratchet(self, header: Header) -> None:
        if self.dh_remote is not None:
            retired = {**self._retired, self.dh_remote: None}
            while len(retired) > MAX_STORED:
                retired.pop(next(iter(retired)))
            self._retired = retired
        self.previous_sent, self.sent, self.received = self.sent, 0, 0
        self.dh_remote = header.dh_public
        self.root_key, self.receiving = kdf_rk(self.root_key, _dh(self.dh_self, self.dh_remote))
        self.dh_self = nacl.public.PrivateKey.generate()
        self.root_key, self.sending = kdf_rk(self.root_key, _dh(self.dh_self, self.dh_remote))

    def __deepcopy__(self, memo: dict[int, object]) -> DoubleRatchet:
        return self._clone()

    def _clone(self) -> DoubleRatchet:
        """An independent copy of this state, made for every message received (so without
        :mod:`copy`'s generic machinery): every attribute is an immutable value or a key object
        never changed in place, except ``skipped``, which is copied; ``_retired`` is shared
        (it is only ever replaced, never changed in place)."""
        clone = object.__new__(DoubleRatchet)
        clone.__dict__.update(self.__dict__)
        clone.skipped = dict(self.skipped)  # bounded by MAX_STORED
        return clone

    # ---- what a thief gets -------------------------------------------------------------
    def snapshot(self) -> RatchetSnapshot:
        """Everything secret on the device now: what stealing the phone yields."""
        return {
            "root_key": self.root_key,
            "sending_chain_key": self.sending,
            "receiving_chain_key": self.receiving,
            "remote_ratchet_key": self.dh_remote,
            "next_received": self.received,
            "skipped_message_keys": dict(self.skipped),
        }


def read_with_snapshot(snapshot: RatchetSnapshot, recorded: list[tuple[Header, bytes, bytes]]) -> list[bytes | None]:
    """Try to open recorded messages ``(header, ciphertext, associated_data)`` with a
    stolen :meth:`DoubleRatchet.snapshot`.

    The thief can use stored skipped keys, and can run the receiving chain
    *forwards* from its current key — but never backwards.  Returns each
    plaintext, or ``None`` where the stolen secrets cannot open it.
    """
    skipped = dict(snapshot["skipped_message_keys"])
    chain, start = snapshot["receiving_chain_key"], int(snapshot["next_received"])
    remote = snapshot["remote_ratchet_key"]
    results: list[bytes | None] = []
    for header, ciphertext, associated in recorded:
        key = skipped.get((header.dh_public, header.message_number))
        if key is None and chain is not None and header.dh_public == remote and header.message_number >= start:
            ck = chain
            for _ in range(header.message_number - start + 1):
                ck, key = kdf_ck(ck)
        try:
            results.append(_open(key, ciphertext, associated + header.to_bytes()) if key else None)
        except (nacl.exceptions.CryptoError, MalformedEnvelope):
            results.append(None)
    return results


def initiator_secret(me: Identity, them: PublicIdentity) -> tuple[bytes, bytes]:
    """The initiator's first shared secret and the ephemeral public key to send with
    the first messages: SK = HKDF(DH(IK_me, IK_them) ‖ DH(EK, IK_them))."""
    ephemeral = nacl.public.PrivateKey.generate()
    dh1 = _dh(me.box_private, them.encryption_key)
    dh2 = _dh(ephemeral, them.encryption_key)
    return hkdf(dh1 + dh2, salt=b"", info=_INFO_X3DH, length=32), bytes(ephemeral.public_key)


def responder_secret(me: Identity, them: PublicIdentity, ephemeral_public: bytes) -> bytes:
    """The responder's side of :func:`initiator_secret`."""
    if not isinstance(ephemeral_public, bytes) or len(ephemeral_public) != 32:
        raise MalformedEnvelope("the ephemeral key is 32 bytes.")
    if is_low_order(ephemeral_public):
        raise MalformedEnvelope(
            "the ephemeral key is an X25519 key of small order, whose Diffie-Hellman secret everybody knows: refused."
        )
    dh1 = _dh(me.box_private, them.encryption_key)
    dh2 = _dh(me.box_private, ephemeral_public)
    return hkdf(dh1 + dh2, salt=b"", info=_INFO_X3DH, length=32)
