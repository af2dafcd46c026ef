"""Identity keys: who a user is, cryptographically.

Each user of the toy chat has two key pairs:

* an **X25519** key pair for encryption (used with :class:`nacl.public.Box`,
  which turns two X25519 keys into a shared secret), and
* an **Ed25519** key pair for signing (:class:`nacl.signing.SigningKey`), so
  that a recipient can check who wrote a message.

The public halves travel together as a :class:`PublicIdentity`; a
:func:`fingerprint` is a short, human-comparable digest of them.

What this simplifies compared with Signal
-----------------------------------------
* Signal has one long-term identity key (Curve25519, used for both X3DH and
  XEdDSA signatures) plus signed prekeys and one-time prekeys published to the
  server (X3DH / PQXDH, https://signal.org/docs/specifications/x3dh/).  The toy
  keeps two separate long-term key pairs and no prekeys.
* Signal's safety number is 60 digits made from both parties' fingerprints with
  5,200 iterations of SHA-512 (https://signal.org/blog/safety-number-updates/);
  the toy's :func:`fingerprint` is one SHA-256 over one party's keys, and
  :func:`safety_number` follows Signal's construction (lesson 04).
* :meth:`Identity.from_seed` derives keys from a seed so lessons repeat.  That
  is for teaching only: real keys come from the operating system's random
  generator, which :meth:`Identity.generate` uses.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import nacl.public
import nacl.signing
import nacl.utils

from .errors import InvalidKey, RegistrationError

__all__ = [
    "KEY_SIZE",
    "SEED_SIZE",
    "NAME_PATTERN",
    "PublicIdentity",
    "Identity",
    "fingerprint",
    "check_name",
    "safety_number",
    "format_safety_number",
]

#: Length in bytes of every public and private key used here (X25519, Ed25519).
KEY_SIZE = 32
#: Length in bytes of the seed :meth:`Identity.from_seed` takes.
SEED_SIZE = 32
#: User names: 1-64 letters, digits, and ``. _ @ -`` (JupyterHub user names fit).
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def check_name(name: object) -> str:
    """Return ``name`` if it is a valid user name, else raise :class:`RegistrationError`.

    >>> check_name("alice")
    'alice'
    """
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise RegistrationError(
            f"{name!r} is not a valid user name: use 1-64 letters, digits, '.', '_', "
            "'@' or '-', starting with a letter or digit."
        )
    return name


def _check_key(value: object, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)):
        raise InvalidKey(f"{what} must be bytes, not {type(value).__name__}.")
    if len(value) != KEY_SIZE:
        raise InvalidKey(f"{what} must be exactly {KEY_SIZE} bytes long, not {len(value)}.")
    return bytes(value)


@dataclass(frozen=True)
class PublicIdentity:
    """The public half of a user's identity: what the key directory publishes.

    ``encryption_key`` is a raw X25519 public key and ``signing_key`` a raw
    Ed25519 verify key, 32 bytes each.
    """

    name: str
    encryption_key: bytes
    signing_key: bytes

    def __post_init__(self) -> None:
        check_name(self.name)
        _check_key(self.encryption_key, "encryption_key (X25519 public key)")
        _check_key(self.signing_key, "signing_key (Ed25519 verify key)")

    @property
    def box_key(self) -> nacl.public.PublicKey:
        """The encryption key as a PyNaCl :class:`~nacl.public.PublicKey`."""
        return nacl.public.PublicKey(self.encryption_key)

    @property
    def verify_key(self) -> nacl.signing.VerifyKey:
        """The signing key as a PyNaCl :class:`~nacl.signing.VerifyKey`."""
        return nacl.signing.VerifyKey(self.signing_key)

    @property
    def fingerprint(self) -> str:
        """This identity's :func:`fingerprint`."""
        return fingerprint(self)

    def __repr__(self) -> str:
        return f"PublicIdentity(name={self.name!r}, fingerprint={self.fingerprint[:19]!r}…)"


@dataclass(frozen=True, repr=False)
class Identity:
    """A user's full identity: private keys included.  Keep it on the device.

    >>> alice = Identity.from_seed("alice", bytes(32))
    >>> alice.public.name
    'alice'
    >>> alice == Identity.from_seed("alice", bytes(32))
    True
    """

    name: str
    box_private: nacl.public.PrivateKey = field(compare=False)
    signing_private: nacl.signing.SigningKey = field(compare=False)

    def __post_init__(self) -> None:
        check_name(self.name)
        if not isinstance(self.box_private, nacl.public.PrivateKey):
            raise InvalidKey("box_private must be a nacl.public.PrivateKey.")
        if not isinstance(self.signing_private, nacl.signing.SigningKey):
            raise InvalidKey("signing_private must be a nacl.signing.SigningKey.")

    @classmethod
    def generate(cls, name: str) -> "Identity":
        """Fresh keys from the operating system's cryptographic random generator."""
        return cls(name, nacl.public.PrivateKey.generate(), nacl.signing.SigningKey.generate())

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> "Identity":
        """Keys derived from a 32-byte ``seed``, so that a lesson repeats exactly.

        **Teaching only**: anyone who knows or guesses the seed has the keys.
        The two key pairs come from the seed through BLAKE2b with different
        personalisation strings, so they are independent of each other.
        """
        if not isinstance(seed, (bytes, bytearray)) or len(seed) != SEED_SIZE:
            raise InvalidKey(f"seed must be {SEED_SIZE} bytes.")
        box_seed = hashlib.blake2b(bytes(seed), digest_size=32, person=b"toychat-x25519").digest()
        sign_seed = hashlib.blake2b(bytes(seed), digest_size=32, person=b"toychat-ed25519").digest()
        return cls(
            name,
            nacl.public.PrivateKey.from_seed(box_seed),
            nacl.signing.SigningKey(sign_seed),
        )

    @classmethod
    def from_label(cls, name: str, label: str) -> "Identity":
        """Keys derived from a short text ``label`` (e.g. ``"lesson-03"``): a
        convenience over :meth:`from_seed` for lessons.  **Teaching only.**"""
        seed = hashlib.blake2b(f"{label}/{name}".encode(), digest_size=SEED_SIZE).digest()
        return cls.from_seed(name, seed)

    @property
    def public(self) -> PublicIdentity:
        """The :class:`PublicIdentity` to publish in the key directory."""
        return PublicIdentity(
            self.name,
            bytes(self.box_private.public_key),
            bytes(self.signing_private.verify_key),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Identity):
            return NotImplemented
        return self.name == other.name and self.public == other.public

    def __hash__(self) -> int:
        return hash(self.public)

    def __repr__(self) -> str:
        return f"Identity(name={self.name!r}, private keys hidden)"


def fingerprint(identity: PublicIdentity | Identity) -> str:
    """A human-comparable digest of someone's public keys.

    SHA-256 over the X25519 key followed by the Ed25519 key, written as 64
    lower-case hex digits in 16 groups of four, separated by single spaces.
    If two people read the same fingerprint for Bob, they hold the same keys
    for Bob.

    >>> fp = fingerprint(Identity.from_seed("bob", bytes(32)))
    >>> len(fp), fp.count(" ")
    (79, 15)
    """
    if isinstance(identity, Identity):
        identity = identity.public
    if not isinstance(identity, PublicIdentity):
        raise InvalidKey("fingerprint() takes a PublicIdentity or an Identity.")
    digest = hashlib.sha256(identity.encryption_key + identity.signing_key).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


#: Signal's fingerprint version and iteration count (signal.org blog, 2016; libsignal NumericFingerprintGenerator).
SAFETY_NUMBER_VERSION = 0
SAFETY_NUMBER_ITERATIONS = 5200
#: Digits per person; a safety number is two halves, 60 digits in all.
SAFETY_NUMBER_HALF_DIGITS = 30


def _safety_half(identity: PublicIdentity, iterations: int) -> str:
    """One person's 30 digits: Signal's iterated-SHA-512 numeric fingerprint."""
    key = identity.encryption_key + identity.signing_key
    digest = SAFETY_NUMBER_VERSION.to_bytes(2, "big") + key + identity.name.encode("utf-8")
    for _ in range(iterations):
        digest = hashlib.sha512(digest + key).digest()
    chunks = (int.from_bytes(digest[i : i + 5], "big") % 100_000 for i in range(0, 30, 5))
    return "".join(f"{chunk:05d}" for chunk in chunks)


def safety_number(
    first: PublicIdentity | Identity,
    second: PublicIdentity | Identity,
    *,
    iterations: int = SAFETY_NUMBER_ITERATIONS,
) -> str:
    """The 60-digit safety number of a conversation between two identities.

    Each person contributes 30 digits computed from their own name and keys
    (5,200 rounds of SHA-512, cut into six 5-digit blocks); the two halves are
    sorted and joined, so both people compute **the same number** whichever
    way round they ask.  If Alice's phone holds Bob's real keys and Bob's phone
    holds Alice's, the numbers on the two screens agree; if the server
    substituted a key on either side, they differ.

    Follows Signal's numeric fingerprint (signal.org blog, "Safety number
    updates", 17 Nov 2016; FACTS §4.30), with one simplification: the toy's
    identity is two keys (X25519 + Ed25519), and both are hashed.

    >>> a, b = Identity.from_seed("alice", bytes(32)), Identity.from_seed("bob", b"\\x01" * 32)
    >>> n = safety_number(a, b)
    >>> len(n), n == safety_number(b, a), n.isdigit()
    (60, True, True)
    """
    halves = []
    for identity in (first, second):
        if isinstance(identity, Identity):
            identity = identity.public
        if not isinstance(identity, PublicIdentity):
            raise InvalidKey("safety_number() takes two PublicIdentity or Identity objects.")
        halves.append(_safety_half(identity, iterations))
    return "".join(sorted(halves))


def format_safety_number(number: str) -> str:
    """Twelve groups of five digits, three rows of four, as Signal shows it.

    >>> format_safety_number("0123456789" * 6).splitlines()[0]
    '01234 56789 01234 56789'
    """
    groups = [number[i : i + 5] for i in range(0, len(number), 5)]
    return "\n".join(" ".join(groups[i : i + 4]) for i in range(0, len(groups), 4))
