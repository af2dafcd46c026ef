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

import base64
import functools
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import nacl.bindings
import nacl.exceptions
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
    "is_low_order",
    "safety_number",
    "numeric_fingerprint",
    "format_safety_number",
]

#: Length in bytes of every public and private key used here (X25519, Ed25519).
KEY_SIZE = 32
#: Length in bytes of the seed :meth:`Identity.from_seed` takes.
SEED_SIZE = 32
#: The ``format`` field of a file written by :meth:`Identity.save`.
_IDENTITY_FORMAT = "toychat identity 1"
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


#: A fixed X25519 private scalar; clamping makes it a multiple of the cofactor 8.
_PROBE_SCALAR = hashlib.sha256(b"toychat small-order probe").digest()


@functools.lru_cache(maxsize=4096)
def is_low_order(public: bytes) -> bool:
    """Whether ``public`` is an X25519 key of small order (or one libsodium refuses).

    Diffie-Hellman with such a key gives the same all-zero secret whatever the
    private key, so it must be refused (RFC 7748 §6.1 lets implementations
    check for the all-zero output; see references: docs/references.md#langley2016;
    libsodium's ``crypto_scalarmult`` refuses it).  The test is exact: a clamped private scalar is a multiple of the
    curve's cofactor 8, so it sends a point of order dividing 8 -- and only
    such a point -- to zero.

    >>> is_low_order(bytes(32)), is_low_order(bytes(Identity.from_seed("a", bytes(32)).box_private.public_key))
    (True, False)
    """
    if not isinstance(public, bytes) or len(public) != KEY_SIZE:
        return False
    try:
        shared = nacl.bindings.crypto_scalarmult(_PROBE_SCALAR, public)
    except (nacl.exceptions.RuntimeError, nacl.exceptions.CryptoError, ValueError):
        return True
    return shared == bytes(KEY_SIZE)


@functools.lru_cache(maxsize=4096)
def _verify_key(signing_key: bytes) -> nacl.signing.VerifyKey:
    """The :class:`~nacl.signing.VerifyKey` of raw Ed25519 public key bytes, made once per key.

    A ``VerifyKey`` holds nothing but the 32 bytes and never changes, so one object can
    serve every check; building it anew for each message was a measurable part of
    receiving one (issue 31).
    """
    return nacl.signing.VerifyKey(signing_key)


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
        if is_low_order(self.encryption_key):
            raise InvalidKey(
                f"{self.name!r}'s encryption_key is an X25519 key of small order: Diffie-Hellman with it gives "
                "a secret everybody knows (all zeros), so it cannot be used."
            )
        _check_key(self.signing_key, "signing_key (Ed25519 verify key)")

    @property
    def box_key(self) -> nacl.public.PublicKey:
        """The encryption key as a PyNaCl :class:`~nacl.public.PublicKey`."""
        return nacl.public.PublicKey(self.encryption_key)

    @property
    def verify_key(self) -> nacl.signing.VerifyKey:
        """The signing key as a PyNaCl :class:`~nacl.signing.VerifyKey` (one object per key:
        the relay and every phone check a signature with it for each message)."""
        return _verify_key(bytes(self.signing_key))  # plain bytes: a bytearray is unhashable, a subclass could lie

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
    def generate(cls, name: str) -> Identity:
        """Fresh keys from the operating system's cryptographic random generator."""
        return cls(name, nacl.public.PrivateKey.generate(), nacl.signing.SigningKey.generate())

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Identity:
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
    def from_label(cls, name: str, label: str) -> Identity:
        """Keys derived from a short text ``label`` (e.g. ``"lesson-03"``): a
        convenience over :meth:`from_seed` for lessons.  **Teaching only.**"""
        seed = hashlib.blake2b(f"{label}/{name}".encode(), digest_size=SEED_SIZE).digest()
        return cls.from_seed(name, seed)

    # ---- keeping an identity across kernel restarts -------------------------------------
    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the private keys to ``path`` (JSON), readable by this Unix user only (mode 0600).

        A restarted Jupyter kernel forgets every variable; a student who then
        makes new keys can no longer read messages sent to the old ones
        (:class:`~toychat.errors.SentToPreviousKeys`).  Saving the identity
        once and loading it after each restart keeps the same keys::

            me = Identity.load_or_create("alice", "~/.toychat/alice.key")
            alice = Client("alice", server, identity=me)

        **Whoever can read the file has the keys**: keep it in your own home
        directory, never in a shared or submitted folder.  An existing file
        holding *other* keys is not replaced unless ``overwrite=True``.
        Returns the path written.
        """
        target = Path(path).expanduser()
        if target.exists() and not overwrite and Identity.load(target) != self:
            raise InvalidKey(f"{target} already holds other keys; pass overwrite=True to replace them.")
        data = {
            "format": _IDENTITY_FORMAT,
            "name": self.name,
            "x25519_private": base64.b64encode(bytes(self.box_private)).decode("ascii"),
            "ed25519_seed": base64.b64encode(bytes(self.signing_private)).decode("ascii"),
        }
        return write_private_file(target, json.dumps(data, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Identity:
        """Read an identity written by :meth:`save`.

        Raises :class:`~toychat.errors.InvalidKey` if the file is readable or
        writable by other users (as ``ssh`` refuses such a private key), or
        is not an identity file.
        """
        source = Path(path).expanduser()
        text = read_private_file(source, "identity file")
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != _IDENTITY_FORMAT:
                raise ValueError("not a toychat identity file")
            box = base64.b64decode(data["x25519_private"], validate=True)
            seed = base64.b64decode(data["ed25519_seed"], validate=True)
            if len(box) != KEY_SIZE or len(seed) != SEED_SIZE:
                raise ValueError("a key has the wrong length")
            return cls(data["name"], nacl.public.PrivateKey(box), nacl.signing.SigningKey(seed))
        except (ValueError, KeyError, TypeError, RegistrationError) as exc:
            raise InvalidKey(f"{source} is not a toychat identity file ({exc}).") from None

    @classmethod
    def load_or_create(cls, name: str, path: str | os.PathLike[str]) -> Identity:
        """The identity saved at ``path`` if there is one (it must be ``name``'s), else
        fresh keys for ``name``, saved there first.  One line that survives restarts."""
        target = Path(path).expanduser()
        if target.exists():
            identity = cls.load(target)
            if identity.name != name:
                raise InvalidKey(f"{target} holds {identity.name!r}'s keys, not {name!r}'s.")
            return identity
        identity = cls.generate(name)
        identity.save(target)
        return identity

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


def write_private_file(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` readable and writable by this Unix user only (mode 0600),
    creating its folder (mode 0700) if needed.  For keys and login tokens."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        if os.name == "posix":
            os.fchmod(handle.fileno(), 0o600)  # an existing file keeps its mode otherwise
        handle.write(text)
    return path


def read_private_file(path: Path, what: str) -> str:
    """The text of a file :func:`write_private_file` wrote; :class:`InvalidKey` if it cannot
    be read or other users may read or change it (as ``ssh`` refuses such a private key)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidKey(f"cannot read the {what} {path}: {getattr(exc, 'strerror', None) or exc}.") from None
    if os.name == "posix" and mode & 0o077:
        raise InvalidKey(
            f"the {what} {path} is readable or writable by other users (mode {mode:o}); anyone who reads "
            f"it has your secrets. Run: chmod 600 {path}"
        )
    return text


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


def _check_iterations(iterations: int) -> None:
    if isinstance(iterations, bool) or not isinstance(iterations, int):
        raise TypeError(f"iterations must be a whole number, not {type(iterations).__name__}")
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1 (Signal uses {SAFETY_NUMBER_ITERATIONS}), not {iterations}")


def numeric_fingerprint(key: bytes, identifier: bytes, *, iterations: int = SAFETY_NUMBER_ITERATIONS) -> str:
    """One person's 30 digits of Signal's numeric fingerprint, over any key bytes and identifier.

    The construction of libsignal's ``Fingerprint::get_fingerprint``: SHA-512
    of the two-byte version, the key, the identifier and the key again, then
    ``iterations - 1`` more rounds of SHA-512 over the previous digest and the
    key; the first 30 bytes, in six 5-byte blocks, each read as a big-endian
    number modulo 100,000.  :func:`safety_number` applies it to the toy's keys
    and user names; given Signal's encoded identity key (``0x05`` and 32 bytes)
    and a phone number, it gives Signal's digits (``tests/test_hardening.py``
    checks libsignal's test vector).

    >>> len(numeric_fingerprint(bytes(33), b"+14152222222", iterations=2))
    30
    """
    _check_iterations(iterations)
    key = bytes(key)
    digest = SAFETY_NUMBER_VERSION.to_bytes(2, "big") + key + bytes(identifier)
    for _ in range(iterations):
        digest = hashlib.sha512(digest + key).digest()
    chunks = (int.from_bytes(digest[i : i + 5], "big") % 100_000 for i in range(0, 30, 5))
    return "".join(f"{chunk:05d}" for chunk in chunks)


def _safety_half(identity: PublicIdentity, iterations: int) -> str:
    """One person's 30 digits: the toy's 64 key bytes (X25519 then Ed25519), the user name as identifier."""
    key = identity.encryption_key + identity.signing_key
    return numeric_fingerprint(key, identity.name.encode("utf-8"), iterations=iterations)


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
    updates", 17 Nov 2016; see references: docs/references.md#signal2016),
    with two differences in what is hashed, so **the toy's number differs
    from Signal's for the same key**:

    * the key is the toy's raw 64 bytes -- the X25519 key followed by the
      Ed25519 key -- without the ``0x05`` type byte that Signal puts in front
      of its one 32-byte Curve25519 identity key;
    * the identifier is the user name (UTF-8), where Signal uses the
      account's phone number or service identifier.

    Given Signal's key encoding and identifier, the same iteration
    (:func:`numeric_fingerprint`) reproduces libsignal's own test vector.
    ``iterations`` (default 5,200, Signal's) must be a positive whole number.

    >>> a, b = Identity.from_seed("alice", bytes(32)), Identity.from_seed("bob", b"\\x01" * 32)
    >>> n = safety_number(a, b)
    >>> len(n), n == safety_number(b, a), n.isdigit()
    (60, True, True)
    """
    _check_iterations(iterations)
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
