"""Key transparency: an append-only, publicly checkable log of who owns which key.

The key directory records every binding of a key to a user — "alice's phone
has these keys", "bob added a laptop" — as a leaf of a **Merkle tree**, and
signs the tree's root (a *signed tree head*, STH).  Then:

* a client that gets Bob's key from the directory also gets an **inclusion
  proof** that the binding is in the log the operator signed, and the
  entries after it, so the operator cannot hand out a key it has not
  published, another user's key, or a key revoked since (:func:`verify_lookup`);
* each user's phone **monitors** the log for bindings of its own name that it
  did not make — a swapped key, or a "ghost" device (:class:`Monitor`);
* anyone can **audit** that the log only grows, with *consistency proofs*
  between two tree heads, and clients **gossip** their tree heads to catch an
  operator who shows different people different logs (a *split view*,
  :func:`gossip`).

The Merkle tree, inclusion proofs and consistency proofs follow RFC 9162
(Certificate Transparency 2.0) §2.1 exactly: leaf hash SHA-256(0x00 ‖ data),
node hash SHA-256(0x01 ‖ left ‖ right), and the verification algorithms of
§2.1.3.2 and §2.1.4.2.  The same idea protects WhatsApp's key directory
(Auditable Key Directory, 2023; see references: docs/references.md#lawlor2023) and was proposed
for end users in CONIKS (Melara et al., USENIX Security 2015; see references:
docs/references.md#melara2015).

What this simplifies
--------------------
* One flat log of all bindings.  CONIKS and WhatsApp's AKD use a Merkle
  *prefix* tree (with VRF-hidden names) so that a user can check the bindings
  of one name without downloading everyone's, and so the directory does not
  reveal who is registered; our :class:`Monitor` reads every new entry, which
  is simple but costs bandwidth in proportion to the whole log's growth, and
  a lookup downloads every entry after the binding to show none revoked it
  (a prefix tree proves "this is the latest binding of this name" in
  O(log n) hashes).
* No epochs, no third-party auditor signatures, no VRFs; gossip is a direct
  comparison of two tree heads.

Complexity: appends are O(log n) amortised (complete subtree hashes are cached
level by level); every root, inclusion proof and consistency proof is
O(log n) hashes.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import nacl.exceptions
import nacl.signing

from .clock import Clock, check_timestamp, real_clock
from .errors import InconsistentLog, InvalidProof, MalformedEnvelope, UnexpectedKey
from .keys import KEY_SIZE, PublicIdentity, check_name

__all__ = [
    "HASH_SIZE",
    "EMPTY_ROOT",
    "leaf_hash",
    "node_hash",
    "MerkleLog",
    "verify_inclusion",
    "verify_consistency",
    "Binding",
    "SignedTreeHead",
    "KeyDirectoryLog",
    "verify_lookup",
    "Monitor",
    "gossip",
]

#: Every hash in the tree is a SHA-256 digest.
HASH_SIZE = 32
#: The root of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 ‖ data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleLog:
    """An append-only Merkle tree over byte-string leaves (RFC 9162 §2.1).

    >>> log = MerkleLog()
    >>> [log.append(x) for x in (b"a", b"b", b"c")]
    [0, 1, 2]
    >>> verify_inclusion(b"b", 1, 3, log.inclusion_proof(1), log.root())
    """

    def __init__(self) -> None:
        self._leaves: list[bytes] = []
        # _levels[h][i] = hash of the complete subtree of 2**h leaves starting at leaf i * 2**h
        self._levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def __len__(self) -> int:
        return self.size

    def leaf(self, index: int) -> bytes:
        """The data of leaf ``index``."""
        return self._leaves[index]

    def append(self, data: bytes) -> int:
        """Add a leaf; returns its index."""
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("leaves are bytes")
        self._leaves.append(bytes(data))
        self._levels[0].append(leaf_hash(bytes(data)))
        height = 0
        while len(self._levels[height]) % 2 == 0:
            level = self._levels[height]
            if height + 1 == len(self._levels):
                self._levels.append([])
            self._levels[height + 1].append(node_hash(level[-2], level[-1]))
            height += 1
        return self.size - 1

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for the ranges RFC 9162's recursions produce: ``start`` is a
        multiple of a power of two at least ``end - start``, so the range is one complete
        cached subtree per set bit of its width, largest first, and its hash folds them
        from the right (RFC 9162 §2.1.1 splits at the largest power of two below the width).
        Only the folds are hashed: one node hash fewer than the width has set bits."""
        width = end - start
        if width == 0:
            return EMPTY_ROOT
        levels, position = self._levels, start
        pieces: list[bytes] = []
        while width:
            height = width.bit_length() - 1
            if position & ((1 << height) - 1):
                raise ValueError(f"leaves {start}..{end} are not a range of RFC 9162's tree.")
            pieces.append(levels[height][position >> height])
            position += 1 << height
            width -= 1 << height
        root = pieces.pop()
        while pieces:
            root = node_hash(pieces.pop(), root)
        return root

    def _check_size(self, size: int | None) -> int:
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise InvalidProof(f"tree size {size} is out of range: the log has {self.size} leaves.")
        return size

    def root(self, size: int | None = None) -> bytes:
        """The Merkle tree hash of the first ``size`` leaves (default: all)."""
        return self._subtree(0, self._check_size(size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]): the sibling hashes from leaf ``index`` up to the root."""
        size = self._check_size(size)
        if not 0 <= index < size:
            raise InvalidProof(f"leaf {index} is not in a tree of {size} leaves.")
        # Bottom up: at height h the tree's nodes are 0 .. last, each the complete subtree of
        # 2**h leaves cached in _levels[h], except the last one when it is cut short by the
        # tree's size; a node with no sibling is carried up unchanged (RFC 9162 §2.1.3.2).
        levels = self._levels
        path: list[bytes] = []
        node, last, height = index, size - 1, 0
        while last:
            sibling = node ^ 1
            if sibling < last or (sibling == last and (last + 1) << height <= size):
                path.append(levels[height][sibling])
            elif sibling == last:
                path.append(self._subtree(sibling << height, size))
            node, last, height = node >> 1, last >> 1, height + 1
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]): shows the first tree is a prefix of the second."""
        new_size = self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise InvalidProof(f"cannot prove consistency from {old_size} to {new_size} leaves.")
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []

        def subproof(m: int, start: int, end: int, complete: bool) -> None:
            n = end - start
            if m == n:
                if not complete:
                    proof.append(self._subtree(start, end))
                return
            k = _largest_power_of_two_below(n)
            if m <= k:
                subproof(m, start, start + k, complete)
                proof.append(self._subtree(start + k, end))
            else:
                subproof(m - k, start + k, end, False)
                proof.append(self._subtree(start, start + k))

        subproof(old_size, 0, new_size, True)
        return proof


#: Largest tree size a verifier takes (2**62 entries: far beyond any real log).
MAX_TREE_SIZE = 1 << 62
#: An Ed25519 signature is 64 bytes.
_SIGNATURE_SIZE = 64


def _check_size(value: object, what: str, *, low: int = 0) -> int:
    """``value`` if it is a whole number from ``low`` to :data:`MAX_TREE_SIZE`, else :class:`InvalidProof`."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidProof(f"{what} must be a whole number, not {type(value).__name__}.")
    if not low <= value <= MAX_TREE_SIZE:
        raise InvalidProof(f"{what} is outside {low}..{MAX_TREE_SIZE}.")
    return value


def _check_hash(value: object, what: str) -> bytes:
    """``value`` if it is a :data:`HASH_SIZE`-byte hash, else :class:`InvalidProof`."""
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise InvalidProof(f"{what} must be a {HASH_SIZE}-byte hash.")
    return value


def _check_head(head: object) -> SignedTreeHead:
    """``head`` if it is a :class:`SignedTreeHead` with well-typed fields, else :class:`InvalidProof`
    (so a hostile tree head is a named refusal, never a TypeError from deep inside a check)."""
    if not isinstance(head, SignedTreeHead):
        raise InvalidProof(f"a tree head must be a SignedTreeHead, not {type(head).__name__}.")
    _check_size(head.size, "a tree head's size")
    _check_hash(head.root, "a tree head's root")
    try:
        check_timestamp(head.timestamp, "a tree head's timestamp")
    except MalformedEnvelope as exc:
        raise InvalidProof(str(exc)) from None
    if not isinstance(head.signature, bytes) or len(head.signature) != _SIGNATURE_SIZE:
        raise InvalidProof(f"a tree head's signature must be {_SIGNATURE_SIZE} bytes.")
    return head


def _check_hashes(proof: object, what: str) -> list[bytes]:
    if not isinstance(proof, (list, tuple)) or not all(isinstance(p, bytes) and len(p) == HASH_SIZE for p in proof):
        raise InvalidProof(f"{what} must be a list of {HASH_SIZE}-byte hashes.")
    return list(proof)


def verify_inclusion(data: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> None:
    """Check that ``data`` is leaf ``index`` of the tree of ``size`` leaves with ``root``
    (RFC 9162 §2.1.3.2).  Returns nothing; raises :class:`InvalidProof` if not."""
    proof = _check_hashes(proof, "an inclusion proof")
    if not isinstance(data, bytes):
        raise InvalidProof(f"a leaf is bytes, not {type(data).__name__}.")
    size = _check_size(size, "a tree size", low=1)
    index = _check_size(index, "a leaf index")
    root = _check_hash(root, "a root")
    if not 0 <= index < size:
        raise InvalidProof(f"leaf index {index} is outside a tree of {size} leaves.")
    fn, sn, r = index, size - 1, leaf_hash(data)
    for p in proof:
        if sn == 0:
            raise InvalidProof("the inclusion proof is longer than the tree is deep.")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        raise InvalidProof(f"leaf {index} is not in the tree with that root: the inclusion proof does not verify.")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> None:
    """Check that the tree of ``old_size`` leaves is a prefix of the tree of ``new_size``
    leaves (RFC 9162 §2.1.4.2).  Raises :class:`InvalidProof` if not."""
    proof = _check_hashes(proof, "a consistency proof")
    old_size = _check_size(old_size, "the old tree size")
    new_size = _check_size(new_size, "the new tree size")
    old_root = _check_hash(old_root, "the old root")
    new_root = _check_hash(new_root, "the new root")
    if not 0 <= old_size <= new_size:
        raise InvalidProof(f"a log cannot shrink from {old_size} to {new_size} leaves.")
    if old_size == new_size:
        if proof or old_root != new_root:
            raise InvalidProof("two tree heads of the same size must have the same root and an empty proof.")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise InvalidProof('an empty tree has one root, SHA-256(""); these heads claim another.')
        return
    if old_size == 0:
        # Every log extends the empty one, whose root is SHA-256 of nothing (RFC 9162 §2.1.1):
        # anything else claimed as the root of an empty tree is not one.
        if proof or old_root != EMPTY_ROOT:
            raise InvalidProof(
                'consistency with the empty tree needs an empty proof and the empty tree\'s root, SHA-256("").'
            )
        return
    if not proof:
        raise InvalidProof("the consistency proof is empty.")
    path = ([old_root] if old_size & (old_size - 1) == 0 else []) + proof
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProof("the consistency proof is longer than the tree is deep.")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if fr != old_root or sr != new_root or sn != 0:
        raise InvalidProof(
            f"the log of {new_size} entries does not extend the log of {old_size} entries: "
            "the consistency proof does not verify."
        )


# ---- the key directory's log -------------------------------------------------------------
Action = Literal["add", "revoke"]


@dataclass(frozen=True)
class Binding:
    """One log entry: ``user``'s device ``device`` has (or no longer has) these keys."""

    user: str
    device: str
    encryption_key: bytes
    signing_key: bytes
    action: Action = "add"
    timestamp: float = 0.0

    def __post_init__(self) -> None:
        check_name(self.user)
        check_name(self.device)
        for name in ("encryption_key", "signing_key"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != KEY_SIZE:
                raise MalformedEnvelope(f"binding {name} must be {KEY_SIZE} bytes.")
        if self.action not in ("add", "revoke"):
            raise MalformedEnvelope(f"binding action must be 'add' or 'revoke', not {self.action!r}.")
        check_timestamp(self.timestamp, "binding timestamp")

    @classmethod
    def of(
        cls, identity: PublicIdentity, device: str = "phone", *, action: Action = "add", timestamp: float = 0.0
    ) -> Binding:
        """The binding of ``identity``'s keys to its name, for ``device``."""
        return cls(identity.name, device, identity.encryption_key, identity.signing_key, action, timestamp)

    @property
    def keys(self) -> PublicIdentity:
        """The bound keys as a :class:`~toychat.keys.PublicIdentity`."""
        return PublicIdentity(self.user, self.encryption_key, self.signing_key)

    def to_bytes(self) -> bytes:
        """Canonical JSON: the bytes that become a leaf of the log."""
        return json.dumps(
            {
                "action": self.action,
                "device": self.device,
                "encryption_key": base64.b64encode(self.encryption_key).decode(),
                "signing_key": base64.b64encode(self.signing_key).decode(),
                "timestamp": self.timestamp,
                "user": self.user,
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Binding:
        """Parse a leaf; :class:`MalformedEnvelope` for anything that is not a canonical binding."""
        try:
            fields = json.loads(data, parse_constant=_reject_constant)
            binding = cls(
                fields["user"],
                fields["device"],
                base64.b64decode(fields["encryption_key"], validate=True),
                base64.b64decode(fields["signing_key"], validate=True),
                fields["action"],
                fields["timestamp"],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedEnvelope(f"not a key binding ({exc}).") from None
        if binding.to_bytes() != data:
            raise MalformedEnvelope("the binding is not in canonical form.")
        return binding


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number of seconds")


@dataclass(frozen=True)
class SignedTreeHead:
    """The log operator's signed statement: "my log has ``size`` entries and this ``root``"."""

    size: int
    root: bytes
    timestamp: float
    signature: bytes

    def signed_bytes(self) -> bytes:
        return json.dumps(
            {"root": self.root.hex(), "size": self.size, "timestamp": self.timestamp},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()

    def verify(self, log_key: nacl.signing.VerifyKey) -> None:
        """Check the operator's signature; :class:`InvalidProof` if it does not verify
        (or if a field has the wrong type)."""
        _check_head(self)
        try:
            log_key.verify(self.signed_bytes(), self.signature)
        except (nacl.exceptions.BadSignatureError, ValueError):
            raise InvalidProof("the signed tree head's signature does not verify: it was altered or forged.") from None


class KeyDirectoryLog:
    """The directory operator's side: a Merkle log of :class:`Binding` entries and a signing key.

    An honest operator publishes every binding it hands out.  A dishonest one
    can :meth:`publish` a ghost binding the user never made, hand out keys it
    never published, or :meth:`fork` the log to show different users different
    histories — and each is caught by a different check.
    """

    def __init__(self, signing_key: nacl.signing.SigningKey | None = None, *, clock: Clock | None = None) -> None:
        self._signing_key = signing_key if signing_key is not None else nacl.signing.SigningKey.generate()
        self.clock: Clock = clock if clock is not None else real_clock
        self.log = MerkleLog()
        self.bindings: list[Binding] = []

    @property
    def verify_key(self) -> nacl.signing.VerifyKey:
        """The key clients use to check tree heads (shipped with the app)."""
        return self._signing_key.verify_key

    @property
    def size(self) -> int:
        return self.log.size

    def publish(self, binding: Binding) -> int:
        """Append a binding; returns its index."""
        self.bindings.append(binding)
        return self.log.append(binding.to_bytes())

    def tree_head(self, size: int | None = None) -> SignedTreeHead:
        """A signed tree head for the first ``size`` entries (default: all)."""
        size = self.size if size is None else size
        unsigned = SignedTreeHead(size, self.log.root(size), self.clock(), b"")
        signature = self._signing_key.sign(unsigned.signed_bytes()).signature
        return SignedTreeHead(size, unsigned.root, unsigned.timestamp, signature)

    def current(self, user: str) -> dict[str, tuple[Binding, int]]:
        """``user``'s devices now: device → (latest add binding, its index), revocations applied."""
        devices: dict[str, tuple[Binding, int]] = {}
        for index, binding in enumerate(self.bindings):
            if binding.user != user:
                continue
            if binding.action == "add":
                devices[binding.device] = (binding, index)
            else:
                devices.pop(binding.device, None)
        return devices

    def lookup(self, user: str) -> tuple[SignedTreeHead, list[tuple[Binding, int, list[bytes]]]]:
        """``user``'s current bindings, each with an inclusion proof against one signed tree head."""
        head = self.tree_head()
        found = [(b, i, self.log.inclusion_proof(i, head.size)) for b, i in self.current(user).values()]
        return head, found

    def prove_inclusion(self, index: int, size: int | None = None) -> list[bytes]:
        return self.log.inclusion_proof(index, size)

    def prove_consistency(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return self.log.consistency_proof(old_size, new_size)

    def entries(self, start: int, end: int | None = None) -> list[Binding]:
        """The bindings from index ``start`` up to (not including) ``end``."""
        return self.bindings[start:end]

    def fork(self) -> KeyDirectoryLog:
        """A second log sharing history up to now and the same signing key: a split view."""
        twin = KeyDirectoryLog(self._signing_key, clock=self.clock)
        twin.log = copy.deepcopy(self.log)
        twin.bindings = list(self.bindings)
        return twin


def _root_with_suffix(index: int, size: int, proof: list[bytes], suffix: list[bytes]) -> bytes:
    """The root of a tree of ``size`` leaves rebuilt from the left-hand hashes of leaf
    ``index``'s inclusion ``proof`` (which cover leaves ``0 .. index-1``) and the leaf
    hashes ``suffix`` of leaves ``index .. size-1``.

    Equal to the signed root only if ``suffix`` really is the end of that log, so a
    client can check the entries after a binding without downloading the whole log.
    The proof must already have passed :func:`verify_inclusion` (so its length fits).
    """
    known: dict[tuple[int, int], bytes] = {}
    top_down = proof[::-1]
    start, end, depth = 0, size, 0
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            end = start + k
        else:
            known[(start, start + k)] = top_down[depth]
            start += k
        depth += 1

    def tree_hash(first: int, last: int) -> bytes:
        if (first, last) in known:
            return known[(first, last)]
        if last - first == 1:
            return suffix[first - index]
        k = _largest_power_of_two_below(last - first)
        return node_hash(tree_hash(first, first + k), tree_hash(first + k, last))

    return tree_hash(0, size)


def verify_lookup(
    binding: Binding,
    index: int,
    proof: list[bytes],
    head: SignedTreeHead,
    log_key: nacl.signing.VerifyKey,
    *,
    name: str,
    later: Sequence[Binding],
) -> None:
    """A client's check of a key the directory handed out when asked for ``name``'s keys.

    ``later`` is every entry of the log after the binding (indexes ``index + 1``
    up to ``head.size``; :meth:`KeyDirectoryLog.entries` serves them).  Checks
    that the tree head is genuinely signed; that the binding is an ``add`` of a
    key to ``name`` itself (not Mallory's key handed out as Bob's); that it is
    in the log the head describes; that ``later`` really is the rest of that
    log; and that no later entry revoked or replaced that device's key (not Bob's
    stolen phone after he revoked it).  Raises :class:`InvalidProof` otherwise,
    e.g. for a key the operator never published.
    """
    _check_head(head)
    head.verify(log_key)
    if not isinstance(binding, Binding):
        raise InvalidProof(f"a looked-up key must be a Binding, not {type(binding).__name__}.")
    if binding.user != name:
        raise InvalidProof(
            f"you asked for {name!r}'s keys and the directory answered with a binding of {binding.user!r}'s: "
            f"whoever holds that key is not {name!r}. Refused."
        )
    if binding.action != "add":
        raise InvalidProof(f"the directory answered with the entry that revoked {name!r}'s device {binding.device!r}.")
    if not isinstance(index, int) or isinstance(index, bool):
        raise InvalidProof(f"a leaf index is a whole number, not {type(index).__name__}.")
    verify_inclusion(binding.to_bytes(), index, head.size, proof, head.root)
    if not isinstance(later, (list, tuple)) or not all(isinstance(b, Binding) for b in later):
        raise InvalidProof("the entries after a binding must be a list of Binding.")
    if len(later) != head.size - index - 1:
        raise InvalidProof(
            f"the log has {head.size - index - 1} entries after entry {index}, not {len(later)}: "
            "some were left out, so a revocation could be hidden."
        )
    suffix = [leaf_hash(binding.to_bytes()), *(leaf_hash(b.to_bytes()) for b in later)]
    if _root_with_suffix(index, head.size, list(proof), suffix) != head.root:
        raise InvalidProof("the entries served after the binding are not the rest of the signed log.")
    for offset, entry in enumerate(later, start=index + 1):
        if entry.user == name and entry.device == binding.device:
            what = "revoked" if entry.action == "revoke" else "replaced with another key"
            raise InvalidProof(
                f"{name!r}'s device {binding.device!r} with this key was {what} by log entry {offset}: "
                f"it is no longer {name!r}'s key (a stolen phone, perhaps). Refused."
            )


def proof_bytes(proof: list[bytes]) -> int:
    """Size of a proof on the wire, in bytes."""
    return HASH_SIZE * len(proof)


class Monitor:
    """A user's phone watching the log for bindings of its own name.

    ``expected`` maps each device the user really has to its keys.  Every
    :meth:`check` verifies the new tree head's signature, its consistency with
    the last one seen (:class:`InconsistentLog` if the history was rewritten),
    that the new entries really make up the signed tree, and raises
    :class:`UnexpectedKey` for any binding of the user's name it did not make
    -- an added key, or a revoke of a device still in ``expected``.
    """

    def __init__(self, user: str, expected: dict[str, PublicIdentity], log_key: nacl.signing.VerifyKey) -> None:
        self.user = user
        self.expected = dict(expected)
        self.log_key = log_key
        self.head: SignedTreeHead | None = None
        self._mirror = MerkleLog()
        self.bytes_downloaded = 0

    def check(self, directory: KeyDirectoryLog) -> SignedTreeHead:
        """Fetch the latest tree head and entries from ``directory`` and check them."""
        head = _check_head(directory.tree_head())
        head.verify(self.log_key)
        self.bytes_downloaded += len(head.signed_bytes()) + len(head.signature)
        if self.head is not None:
            if head.size < self.head.size:
                raise InconsistentLog(f"the log shrank from {self.head.size} to {head.size} entries.")
            proof = directory.prove_consistency(self.head.size, head.size)
            try:
                verify_consistency(self.head.size, head.size, self.head.root, head.root, proof)
            except InvalidProof as exc:
                raise InconsistentLog(f"the log rewrote its history since the last check: {exc}") from None
            self.bytes_downloaded += proof_bytes(proof)
        mirror = copy.deepcopy(self._mirror)
        new_entries = directory.entries(mirror.size, head.size)
        if not isinstance(new_entries, list) or not all(isinstance(b, Binding) for b in new_entries):
            raise InconsistentLog("the directory served log entries that are not a list of Binding.")
        for binding in new_entries:
            data = binding.to_bytes()
            self.bytes_downloaded += len(data)
            mirror.append(data)
        if mirror.root() != head.root:
            raise InconsistentLog("the entries served do not make up the signed tree.")
        for binding in new_entries:
            if binding.user != self.user:
                continue
            known = self.expected.get(binding.device)
            if binding.action == "revoke":
                if known is not None:
                    raise UnexpectedKey(
                        f"the key log records a revoke of {self.user!r}'s device {binding.device!r}, which "
                        f"{self.user!r} still uses and did not revoke: contacts would stop encrypting to it, "
                        "the first step of swapping its key. (To revoke a device yourself, remove it from "
                        "the monitor's expected devices first.)"
                    )
                continue
            if (
                known is None
                or known.encryption_key != binding.encryption_key
                or known.signing_key != binding.signing_key
            ):
                raise UnexpectedKey(
                    f"the key log binds a key to {self.user!r} for device {binding.device!r} that "
                    f"{self.user!r} did not add (fingerprint {binding.keys.fingerprint[:19]}…): a swapped key "
                    "or a ghost device."
                )
        self._mirror, self.head = mirror, head
        return head


def gossip(
    first: SignedTreeHead, second: SignedTreeHead, directory: KeyDirectoryLog, log_key: nacl.signing.VerifyKey
) -> None:
    """Two clients compare the tree heads they were shown.

    Equal sizes must have equal roots; otherwise the directory must prove the
    smaller tree is a prefix of the larger.  Any failure is a fork or a split
    view: :class:`InconsistentLog`.
    """
    _check_head(first).verify(log_key)
    _check_head(second).verify(log_key)
    small, large = sorted((first, second), key=lambda h: h.size)
    if small.size == large.size:
        if small.root != large.root:
            raise InconsistentLog(f"two different logs of {small.size} entries, both signed: a split view.")
        return
    try:
        proof = directory.prove_consistency(small.size, large.size)
        verify_consistency(small.size, large.size, small.root, large.root, proof)
    except InvalidProof as exc:
        raise InconsistentLog(f"the two tree heads cannot come from one append-only log: {exc}") from None
