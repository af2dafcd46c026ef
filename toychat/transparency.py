"""Key transparency: an append-only, publicly checkable log of who owns which key.

The key directory records every binding of a key to a user — "alice's phone
has these keys", "bob added a laptop" — as a leaf of a **Merkle tree**, and
signs the tree's root (a *signed tree head*, STH).  Then:

* a client that gets Bob's key from the directory also gets an **inclusion
  proof** that the binding is in the log the operator signed, so the operator
  cannot hand out a key it has not published (:func:`verify_lookup`);
* each user's phone **monitors** the log for bindings of its own name that it
  did not make — a swapped key, or a "ghost" device (:class:`Monitor`);
* anyone can **audit** that the log only grows, with *consistency proofs*
  between two tree heads, and clients **gossip** their tree heads to catch an
  operator who shows different people different logs (a *split view*,
  :func:`gossip`, :class:`Auditor`).

>>> from toychat.keys import Identity
>>> directory = KeyDirectoryLog()
>>> bob = Identity.from_label("bob", "doctest")
>>> directory.publish(Binding.of(bob.public, "phone"))
0
>>> head, [(binding, index, proof)] = directory.lookup("bob")
>>> verify_lookup(binding, index, proof, head, directory.verify_key)   # no error: Bob's key is in the log
>>> monitor = Monitor("bob", {"phone": bob.public}, directory.verify_key)
>>> _ = monitor.check(directory)                                       # nothing unexpected
>>> _ = directory.publish(Binding.of(Identity.from_label("bob", "ghost").public, "laptop"))
>>> monitor.check(directory)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
toychat.errors.UnexpectedKey: the key log binds a key to 'bob' for device 'laptop' that 'bob' did not add: ...

Specifications this module follows or simplifies
------------------------------------------------
* RFC 9162, "Certificate Transparency Version 2.0" (Laurie, Messeri, Stradling,
  2021), §2.1: the Merkle tree hash (§2.1.1: leaf hash SHA-256(0x00 ‖ data),
  node hash SHA-256(0x01 ‖ left ‖ right), split at the largest power of two
  smaller than n), inclusion proofs (§2.1.3.1 PATH, §2.1.3.2 verification) and
  consistency proofs (§2.1.4.1 PROOF/SUBPROOF, §2.1.4.2 verification).  These
  are followed *exactly*, and the tests check them against the reference
  vectors of transparency-dev/merkle (the Go Merkle library of Trillian and
  Certificate Transparency logs).
* CONIKS (Melara, Blankstein, Bonneau, Felten, Freedman, "CONIKS: Bringing Key
  Transparency to End Users", USENIX Security 2015; FACTS §4.29): users monitor
  their own bindings ("less than 20 kB per day") and auditors check the
  directory's history ("a constant 2.5 kB per provider per day").
* WhatsApp's key transparency (13 Apr 2023; FACTS §4.28): an append-only
  Auditable Key Directory (github.com/facebook/akd) with third-party audit.

What this simplifies
--------------------
* **One flat log of all bindings.**  CONIKS and WhatsApp's AKD keep a Merkle
  *prefix* tree keyed by a VRF of the user name, so a user checks the bindings
  of one name with a proof of logarithmic size, and the directory does not
  reveal who is registered.  Our :class:`Monitor` reads *every* new entry:
  simple, but its bandwidth grows with the whole log's growth
  (:func:`flat_log_monitoring_cost` puts numbers on it).
* **Inclusion is not currency.**  An inclusion proof shows a binding *was*
  published, not that it is still current: a dishonest directory could hand
  out a key that was later revoked.  Prefix trees prove the current value (and
  its absence); here only the owner's :class:`Monitor` sees revocations.
* **No epochs, no freshness.**  Tree heads carry a timestamp but nobody
  enforces a maximum age, so an operator could "freeze" one user's view;
  CONIKS publishes one signed, hash-chained root per epoch.
* **Gossip is a direct comparison** of two tree heads (:func:`gossip`), with
  the consistency proof fetched from whoever is at hand; there is no gossip
  protocol and no independent auditor (WhatsApp's directory has a third-party
  audit).
* **Revocation is by device name**: a ``"revoke"`` binding removes the
  device's current keys, whatever keys it carries.

Complexity (n leaves in the log)
--------------------------------
* :meth:`MerkleLog.append`: 1 leaf hash plus, amortised, 1 node hash (at most
  log₂ n when a big subtree completes); every complete, aligned subtree hash
  is cached, 32 bytes each, about 2n hashes (64 bytes per leaf) in all.
* :meth:`MerkleLog.root`, :meth:`~MerkleLog.inclusion_proof`,
  :meth:`~MerkleLog.consistency_proof`: O(log n) cache look-ups plus at most
  about log₂ n hashes (only the one ragged right edge is hashed afresh).
* :func:`verify_inclusion`, :func:`verify_consistency`: O(log n) hashes; a
  proof is at most ⌈log₂ n⌉ (inclusion) or ⌈log₂ n⌉ + 1 (consistency) hashes.
* :meth:`KeyDirectoryLog.lookup`: O(k log n) for a user with k log entries
  (names are indexed), plus one Ed25519 signature.
* :class:`Monitor`: O(log n) memory (it keeps only the log's right edge, a
  *compact range*), and per check O(new entries) hashes plus one consistency
  proof and one signature check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import nacl.exceptions
import nacl.signing

from .clock import DEFAULT_START, Clock, real_clock
from .errors import (
    InconsistentLog,
    InvalidKey,
    InvalidProof,
    MalformedEnvelope,
    RegistrationError,
    TransparencyError,
    UnexpectedKey,
)
from .keys import KEY_SIZE, NAME_PATTERN, Identity, PublicIdentity, check_name

__all__ = [
    "HASH_SIZE",
    "SIGNATURE_SIZE",
    "EMPTY_ROOT",
    "ACTIONS",
    "MAX_BINDING_BYTES",
    "TREE_HEAD_CONTEXT",
    "leaf_hash",
    "node_hash",
    "inclusion_proof_length",
    "consistency_proof_length",
    "proof_bytes",
    "MerkleLog",
    "verify_inclusion",
    "verify_consistency",
    "Binding",
    "SignedTreeHead",
    "LookupEntry",
    "Lookup",
    "KeyDirectoryLog",
    "verify_lookup",
    "MonitoringCost",
    "Monitor",
    "gossip",
    "Auditor",
    "TYPICAL_BINDING_BYTES",
    "flat_log_monitoring_cost",
]

#: Every hash in the tree is a SHA-256 digest of this many bytes.
HASH_SIZE = 32
#: An Ed25519 signature on a tree head is this many bytes.
SIGNATURE_SIZE = 64
#: The root of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()
#: What a binding can say about a device.
ACTIONS: tuple[str, ...] = ("add", "revoke")
#: Largest serialised binding accepted by :meth:`Binding.from_bytes`, checked before parsing.
MAX_BINDING_BYTES = 1024
#: Signed with every tree head, so the operator's signature cannot be replayed as anything else.
TREE_HEAD_CONTEXT = "toychat key transparency tree head v1"

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
# One name for the hash function, so a test can count how many hashes an operation costs.
_sha256 = hashlib.sha256


# ---- RFC 9162 §2.1.1: the Merkle tree hash ---------------------------------------------------
def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 ‖ data).

    >>> leaf_hash(b"").hex()[:16]
    '6e340b9cffb37a98'
    """
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 ‖ left ‖ right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """k, the largest power of two strictly smaller than ``n`` (n ≥ 2): MTH's split point."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_count(value: object, what: str, error: type[Exception] = InvalidProof) -> int:
    """``value`` if it is a non-negative int (not a bool), else ``error`` (:class:`InvalidProof`)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{what} must be a whole number, not {type(value).__name__}.")
    if value < 0:
        raise error(f"{what} cannot be negative (got {value}).")
    return value


def _index_range(size: int) -> str:
    return "the tree is empty" if size == 0 else f"indexes run from 0 to {size - 1}"


def inclusion_proof_length(index: int, size: int) -> int:
    """How many hashes PATH(index, D[0:size]) has: no tree needed.

    >>> inclusion_proof_length(0, 1), inclusion_proof_length(5, 8), inclusion_proof_length(0, 1_000_000)
    (0, 3, 20)
    """
    index, size = _check_count(index, "the leaf index"), _check_count(size, "the tree size")
    if index >= size:
        raise InvalidProof(f"leaf {index} is not in a tree of {size} leaves.")
    length = 0
    while size > 1:
        k = _split(size)
        if index < k:
            size = k
        else:
            index, size = index - k, size - k
        length += 1
    return length


def consistency_proof_length(old_size: int, new_size: int) -> int:
    """How many hashes PROOF(old_size, D[0:new_size]) has: no tree needed.

    >>> consistency_proof_length(3, 7), consistency_proof_length(4, 8)
    (4, 1)
    >>> consistency_proof_length(500_000, 1_000_000)
    16
    """
    m, n = _check_count(old_size, "the old tree size"), _check_count(new_size, "the new tree size")
    if m > n:
        raise InvalidProof(f"a log cannot shrink from {m} to {n} entries.")
    if m in (0, n):
        return 0
    length, complete = 0, True
    while m != n:
        k = _split(n)
        if m <= k:
            n = k
        else:
            m, n, complete = m - k, n - k, False
        length += 1
    return length + (not complete)


def proof_bytes(proof: Sequence[bytes]) -> int:
    """Size of a proof on the wire, in bytes (32 per hash)."""
    return HASH_SIZE * len(proof)


# ---- the log --------------------------------------------------------------------------------
def _check_leaf(data: object) -> bytes:
    if not isinstance(data, (bytes, bytearray)):
        raise MalformedEnvelope(
            f"a log entry must be bytes, not {type(data).__name__} (encode text first, e.g. 'hi'.encode())."
        )
    return bytes(data)


class MerkleLog:
    """An append-only Merkle tree over byte-string leaves (RFC 9162 §2.1).

    It keeps every leaf and the hash of every complete, aligned subtree (all
    of a level's hashes in one ``bytearray``), so roots and proofs for *any*
    earlier size cost O(log n).

    >>> log = MerkleLog([b"a", b"b"])
    >>> log.append(b"c")
    2
    >>> log.size, log.root().hex()[:16]
    (3, '36642e73c2540ab1')
    >>> verify_inclusion(b"b", 1, 3, log.inclusion_proof(1), log.root())   # returns None: it verifies
    >>> verify_consistency(2, 3, log.root(2), log.root(3), log.consistency_proof(2, 3))
    """

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self._leaves: list[bytes] = []
        # _levels[h] holds, 32 bytes each, the hashes of the complete subtrees of
        # 2**h leaves starting at leaf i * 2**h, for i = 0, 1, ...
        self._levels: list[bytearray] = [bytearray()]
        for data in leaves:
            self.append(data)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._leaves)

    def __len__(self) -> int:
        return len(self._leaves)

    def __repr__(self) -> str:
        return f"MerkleLog(size={self.size}, root={self.root().hex()[:16]}…)"

    def leaf(self, index: int) -> bytes:
        """The data of leaf ``index``."""
        self._check_index(index, self.size)
        return self._leaves[index]

    def leaves(self, start: int = 0, end: int | None = None) -> list[bytes]:
        """The data of leaves ``start`` up to (not including) ``end`` (default: the last)."""
        start, end = self._check_range(start, end)
        return self._leaves[start:end]

    def append(self, data: bytes) -> int:
        """Add a leaf and return its index.  Amortised cost: two hashes."""
        data = _check_leaf(data)
        self._leaves.append(data)
        level = self._levels[0]
        level += _sha256(_LEAF_PREFIX + data).digest()
        height, count = 0, len(self._leaves)
        while count % 2 == 0:  # a subtree of 2**(height+1) leaves just completed
            parent = _sha256(_NODE_PREFIX + level[-2 * HASH_SIZE :]).digest()
            height, count = height + 1, count // 2
            if height == len(self._levels):
                self._levels.append(bytearray())
            level = self._levels[height]
            level += parent
        return len(self._leaves) - 1

    def copy(self) -> MerkleLog:
        """An independent copy (used to fork a log)."""
        twin = MerkleLog()
        twin._leaves = list(self._leaves)
        twin._levels = [bytearray(level) for level in self._levels]
        return twin

    # ---- hashes of ranges -----------------------------------------------------------
    def _cached(self, height: int, position: int) -> bytes:
        offset = position * HASH_SIZE
        return bytes(self._levels[height][offset : offset + HASH_SIZE])

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]).  Complete aligned subtrees come from the cache; the
        ragged right edge is hashed, so a call costs O(log n)."""
        width = end - start
        if width == 0:
            return EMPTY_ROOT
        if width & (width - 1) == 0 and start % width == 0:
            height = width.bit_length() - 1
            return self._cached(height, start >> height)
        k = _split(width)
        return node_hash(self._subtree(start, start + k), self._subtree(start + k, end))

    def _check_size(self, size: object) -> int:
        if size is None:
            return self.size
        size = _check_count(size, "the tree size")
        if size > self.size:
            raise InvalidProof(f"tree size {size} is out of range: the log has only {self.size} leaves.")
        return size

    @staticmethod
    def _check_index(index: object, size: int) -> int:
        index = _check_count(index, "the leaf index")
        if index >= size:
            raise InvalidProof(f"leaf {index} is not in a tree of {size} leaves ({_index_range(size)}).")
        return index

    def _check_range(self, start: object, end: object) -> tuple[int, int]:
        start = _check_count(start, "the first entry")
        end = self._check_size(end)
        if start > end:
            raise InvalidProof(f"entries {start} to {end} are not a range: the start is after the end.")
        return start, end

    # ---- RFC 9162 §2.1: roots and proofs ---------------------------------------------
    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all); the empty tree's root is :data:`EMPTY_ROOT`."""
        return self._subtree(0, self._check_size(size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) (RFC 9162 §2.1.3.1): the sibling hashes from leaf
        ``index`` up to the root of the tree of the first ``size`` leaves."""
        size = self._check_size(size)
        index = self._check_index(index, size)
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                path.append(self._subtree(start + k, end))
                end = start + k
            else:
                path.append(self._subtree(start, start + k))
                start += k
        path.reverse()  # PATH lists the leaf's sibling first, the root's child last
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]) (RFC 9162 §2.1.4.1): the hashes that show
        the tree of ``old_size`` leaves is a prefix of the tree of ``new_size``."""
        new_size = self._check_size(new_size)
        old_size = _check_count(old_size, "the old tree size")
        if old_size > new_size:
            raise InvalidProof(
                f"cannot prove consistency from {old_size} to {new_size} leaves: a log only grows."
            )
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        m, start, end, complete = old_size, 0, new_size, True
        while m != end - start:  # SUBPROOF(m, D[start:end], complete), unrolled
            k = _split(end - start)
            if m <= k:
                proof.append(self._subtree(start + k, end))
                end = start + k
            else:
                proof.append(self._subtree(start, start + k))
                m, start, complete = m - k, start + k, False
        if not complete:
            proof.append(self._subtree(start, end))
        proof.reverse()  # SUBPROOF emits the deepest hash first
        return proof


class _Frontier:
    """The right edge of a Merkle tree (a *compact range*): the hashes of the
    complete subtrees that make up its first ``size`` leaves, largest first.

    Enough to append leaves and compute the root, in O(log n) memory — what a
    monitor keeps instead of the whole log.
    """

    __slots__ = ("_nodes", "size")

    def __init__(self) -> None:
        self.size = 0
        self._nodes: list[tuple[int, bytes]] = []  # (height, hash)

    def append(self, data: bytes) -> None:
        node = (0, leaf_hash(data))
        while self._nodes and self._nodes[-1][0] == node[0]:
            height, left = self._nodes.pop()
            node = (height + 1, node_hash(left, node[1]))
        self._nodes.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self._nodes:
            return EMPTY_ROOT
        root = self._nodes[-1][1]
        for _, left in reversed(self._nodes[:-1]):
            root = node_hash(left, root)
        return root

    def copy(self) -> _Frontier:
        twin = _Frontier()
        twin.size, twin._nodes = self.size, list(self._nodes)
        return twin


# ---- RFC 9162 §2.1.3.2 and §2.1.4.2: verification ------------------------------------------
def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != HASH_SIZE:
        got = f"{len(value)} bytes" if isinstance(value, (bytes, bytearray)) else type(value).__name__
        raise InvalidProof(f"{what} must be a {HASH_SIZE}-byte SHA-256 hash, not {got}.")
    return bytes(value)


def _check_proof(proof: object, what: str) -> list[bytes]:
    if not isinstance(proof, (list, tuple)):
        raise InvalidProof(f"{what} must be a list of {HASH_SIZE}-byte hashes, not {type(proof).__name__}.")
    return [_check_hash(node, f"every hash in {what}") for node in proof]


def verify_inclusion(leaf_data: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_data`` is leaf ``index`` of the tree of ``size`` leaves
    whose root is ``root``, following RFC 9162 §2.1.3.2 step by step.

    Returns ``None`` if it is; raises :class:`~toychat.errors.InvalidProof`
    otherwise (a wrong leaf, index, size, root, or a proof with any hash
    changed, added or dropped).  Never returns ``False``.

    **Take ``size`` and ``root`` together from one signed tree head**: a root
    hash alone does not fix the tree size, and for some leaves the same path
    fits two sizes (leaf 0 of 5 or of 6 leaves, say).
    """
    if not isinstance(leaf_data, (bytes, bytearray)):
        raise InvalidProof(f"the leaf data must be bytes, not {type(leaf_data).__name__}.")
    proof = _check_proof(proof, "an inclusion proof")
    root = _check_hash(root, "the root")
    index = _check_count(index, "the leaf index")
    size = _check_count(size, "the tree size")
    # 1. leaf_index >= tree_size fails.
    if index >= size:
        raise InvalidProof(f"leaf {index} cannot be in a tree of {size} leaves ({_index_range(size)}).")
    # 2-3. fn = leaf_index, sn = tree_size - 1, r = the leaf's hash.
    fn, sn, r = index, size - 1, leaf_hash(bytes(leaf_data))
    # 4. For each p in the path:
    for p in proof:
        if sn == 0:  # a. the path is longer than the tree is deep
            raise InvalidProof(
                f"the inclusion proof has {len(proof)} hashes, more than a tree of {size} leaves needs."
            )
        if fn & 1 or fn == sn:  # b. p is a left sibling
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:  # p is a right sibling
            r = node_hash(r, p)
        fn >>= 1  # c.
        sn >>= 1
    # 5. sn must be 0 and r the root.
    if sn != 0:
        raise InvalidProof(
            f"the inclusion proof has {len(proof)} hashes, too few for a tree of {size} leaves."
        )
    if r != root:
        raise InvalidProof(
            f"this entry is not leaf {index} of the tree with that root: the inclusion proof does not verify."
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``old_size`` leaves with ``old_root`` is a prefix of
    the tree of ``new_size`` leaves with ``new_root``, following RFC 9162
    §2.1.4.2 step by step.

    Returns ``None`` if it is; raises :class:`~toychat.errors.InvalidProof`
    otherwise, including when ``new_size`` is smaller than ``old_size``.  The
    RFC covers 0 < old_size < new_size; the edges follow the reference
    implementation (transparency-dev/merkle), a little stricter: equal sizes
    need equal roots and an empty proof; from size 0 the proof is empty and
    ``old_root`` must be :data:`EMPTY_ROOT`.
    """
    proof = _check_proof(proof, "a consistency proof")
    old_root, new_root = _check_hash(old_root, "the old root"), _check_hash(new_root, "the new root")
    old_size = _check_count(old_size, "the old tree size")
    new_size = _check_count(new_size, "the new tree size")
    if old_size > new_size:
        raise InvalidProof(
            f"a log cannot shrink from {old_size} to {new_size} entries: no consistency proof can show that."
        )
    if old_size == new_size:
        if proof:
            raise InvalidProof("two trees of the same size need an empty consistency proof.")
        if old_root != new_root:
            raise InvalidProof(f"two different roots for the same {old_size} entries: the logs differ.")
        return
    if old_size == 0:
        if proof:
            raise InvalidProof("consistency with the empty tree needs an empty proof.")
        if old_root != EMPTY_ROOT:
            raise InvalidProof("a tree of 0 entries must have the empty tree's root, SHA-256('').")
        return
    # 1. An empty path fails.
    if not proof:
        raise InvalidProof(f"the consistency proof from {old_size} to {new_size} entries is empty.")
    # 2. If old_size is a power of two, the old root is the first node of the path.
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else proof
    # 3-4. fn = first - 1, sn = second - 1; shift while LSB(fn) is set.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. fr = sr = the first node.
    fr = sr = path[0]
    # 6. For each later node c:
    for c in path[1:]:
        if sn == 0:  # a.
            raise InvalidProof(
                f"the consistency proof has {len(proof)} hashes, more than {old_size} → {new_size} needs."
            )
        if fn & 1 or fn == sn:  # b.
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1  # c.
        sn >>= 1
    # 7. fr must be the old root, sr the new root, and sn 0.
    if sn != 0:
        raise InvalidProof(
            f"the consistency proof has {len(proof)} hashes, too few for {old_size} → {new_size}."
        )
    if fr != old_root or sr != new_root:
        raise InvalidProof(
            f"the log of {new_size} entries does not extend the log of {old_size} entries: "
            "the consistency proof does not verify."
        )


# ---- canonical JSON helpers (the style of toychat.wire) -------------------------------------
def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")


def _parse_object(data: object, what: str, fields: tuple[str, ...], error: type[Exception]) -> dict[str, Any]:
    """Parse canonical-JSON ``data`` into a dict with exactly ``fields``, or raise ``error``."""
    if not isinstance(data, (bytes, bytearray)):
        raise error(f"a {what} is bytes, not {type(data).__name__}.")
    if len(data) > MAX_BINDING_BYTES:  # a binding or a tree head is a few hundred bytes
        raise error(f"{len(data)} bytes is too long for a {what} (at most {MAX_BINDING_BYTES}).")
    try:
        parsed = json.loads(bytes(data).decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise error(f"not a {what}: the bytes are not valid UTF-8 JSON ({exc}).") from None
    if not isinstance(parsed, dict):
        raise error(f"not a {what}: expected a JSON object.")
    missing, extra = sorted(set(fields) - set(parsed)), sorted(set(parsed) - set(fields))
    problems = [f"missing {', '.join(missing)}"] if missing else []
    problems += [f"unknown {', '.join(extra)}"] if extra else []
    if problems:
        raise error(f"not a {what}: {'; '.join(problems)}.")
    return parsed


def _unb64(text: object, name: str, error: type[Exception]) -> bytes:
    if not isinstance(text, str):
        raise error(f"field '{name}' must be a base64 string, not {type(text).__name__}.")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise error(f"field '{name}' is not valid base64 ({exc}).") from None
    return data


def _check_time(value: object, what: str, error: type[Exception]) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise error(f"{what} must be a finite, non-negative number of seconds, not {value!r}.")
    return float(value)


# ---- the key directory's entries ------------------------------------------------------------
Action = Literal["add", "revoke"]
_BINDING_FIELDS = ("action", "device", "encryption_key", "signing_key", "timestamp", "user")


@dataclass(frozen=True)
class Binding:
    """One log entry: ``user``'s device ``device`` has (``"add"``) or no longer
    has (``"revoke"``) these two public keys.

    ``encryption_key`` is a raw X25519 public key and ``signing_key`` a raw
    Ed25519 verify key, :data:`~toychat.keys.KEY_SIZE` (32) bytes each.
    ``timestamp`` is when the binding was made (UNIX seconds, stored as a float).

    >>> b = Binding("bob", "phone", bytes(32), bytes(32), "add", 1.5)
    >>> b.to_bytes()[:60]
    b'{"action":"add","device":"phone","encryption_key":"AAAAAAAAA'
    >>> Binding.from_bytes(b.to_bytes()) == b
    True
    >>> Binding("bob", "phone", b"short", bytes(32))
    Traceback (most recent call last):
    ...
    toychat.errors.InvalidKey: a binding's encryption_key (X25519 public key) must be exactly 32 bytes long, not 5.
    """

    user: str
    device: str
    encryption_key: bytes
    signing_key: bytes
    action: Action = "add"
    timestamp: float = 0.0

    def __post_init__(self) -> None:
        check_name(self.user)  # RegistrationError, with the rule for names
        if not isinstance(self.device, str) or not NAME_PATTERN.fullmatch(self.device):
            raise RegistrationError(
                f"{self.device!r} is not a valid device name: use 1-64 letters, digits, '.', '_', '@' or '-', "
                "starting with a letter or digit (e.g. 'phone', 'laptop-2')."
            )
        for name, what in (("encryption_key", "X25519 public key"), ("signing_key", "Ed25519 verify key")):
            value = getattr(self, name)
            if not isinstance(value, (bytes, bytearray)):
                raise InvalidKey(f"a binding's {name} ({what}) must be bytes, not {type(value).__name__}.")
            if len(value) != KEY_SIZE:
                raise InvalidKey(
                    f"a binding's {name} ({what}) must be exactly {KEY_SIZE} bytes long, not {len(value)}."
                )
            object.__setattr__(self, name, bytes(value))
        if self.action not in ACTIONS:
            raise MalformedEnvelope(f"a binding's action must be 'add' or 'revoke', not {self.action!r}.")
        object.__setattr__(
            self, "timestamp", _check_time(self.timestamp, "a binding's timestamp", MalformedEnvelope)
        )

    @classmethod
    def of(
        cls,
        identity: PublicIdentity | Identity,
        device: str = "phone",
        *,
        action: Action = "add",
        timestamp: float = 0.0,
    ) -> Binding:
        """The binding of ``identity``'s public keys to its name, for ``device``."""
        if isinstance(identity, Identity):
            identity = identity.public
        if not isinstance(identity, PublicIdentity):
            raise InvalidKey(
                f"Binding.of() takes a PublicIdentity or an Identity, not {type(identity).__name__}."
            )
        return cls(identity.name, device, identity.encryption_key, identity.signing_key, action, timestamp)

    @property
    def keys(self) -> PublicIdentity:
        """The bound keys as a :class:`~toychat.keys.PublicIdentity`."""
        return PublicIdentity(self.user, self.encryption_key, self.signing_key)

    def to_dict(self) -> dict[str, Any]:
        """The binding as a JSON-ready dict (keys in base64)."""
        return {
            "action": self.action,
            "device": self.device,
            "encryption_key": _b64(self.encryption_key),
            "signing_key": _b64(self.signing_key),
            "timestamp": self.timestamp,
            "user": self.user,
        }

    def to_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, no spaces, keys in base64): the bytes that become a leaf."""
        return _canonical(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes) -> Binding:
        """Parse a leaf made by :meth:`to_bytes`.

        Raises :class:`~toychat.errors.MalformedEnvelope` for anything that is not
        exactly one binding's canonical bytes (and, for a bad name or key inside,
        :class:`~toychat.errors.RegistrationError` or :class:`~toychat.errors.InvalidKey`).
        """
        fields = _parse_object(data, "key binding", _BINDING_FIELDS, MalformedEnvelope)
        binding = cls(
            fields["user"],
            fields["device"],
            _unb64(fields["encryption_key"], "encryption_key", MalformedEnvelope),
            _unb64(fields["signing_key"], "signing_key", MalformedEnvelope),
            fields["action"],
            fields["timestamp"],
        )
        if binding.to_bytes() != bytes(data):
            raise MalformedEnvelope(
                "valid JSON, but not a binding in canonical form (sorted keys, no spaces, "
                "canonical base64, timestamp as a float); it may have been altered."
            )
        return binding

    def __repr__(self) -> str:
        try:
            short = repr(self.keys.fingerprint[:19]) + "…"
        except (RegistrationError, InvalidKey):  # a half-built binding (its constructor raised)
            short = "?"
        return (
            f"Binding({self.action} {self.user!r}/{self.device!r}, fingerprint {short}, t={self.timestamp})"
        )


_TREE_HEAD_FIELDS = ("root", "signature", "size", "timestamp")


def _tree_head_message(size: int, root: bytes, timestamp: float) -> bytes:
    return _canonical(
        {"context": TREE_HEAD_CONTEXT, "root": _b64(root), "size": size, "timestamp": timestamp}
    )


@dataclass(frozen=True)
class SignedTreeHead:
    """The log operator's signed statement: "my log has ``size`` entries, and
    this is its ``root``, at ``timestamp``".

    ``signature`` is an Ed25519 signature (:data:`SIGNATURE_SIZE` bytes) by the
    operator over :meth:`signed_bytes`.  Construction checks types and
    lengths and raises :class:`~toychat.errors.InvalidProof`; it does *not*
    check the signature: call :meth:`verify`.
    """

    size: int
    root: bytes
    timestamp: float
    signature: bytes

    def __post_init__(self) -> None:
        _check_count(self.size, "a tree head's size")
        object.__setattr__(self, "root", _check_hash(self.root, "a tree head's root"))
        object.__setattr__(
            self, "timestamp", _check_time(self.timestamp, "a tree head's timestamp", InvalidProof)
        )
        if not isinstance(self.signature, (bytes, bytearray)) or len(self.signature) != SIGNATURE_SIZE:
            got = (
                len(self.signature)
                if isinstance(self.signature, (bytes, bytearray))
                else type(self.signature).__name__
            )
            raise InvalidProof(f"a tree head's signature must be {SIGNATURE_SIZE} bytes, not {got}.")
        object.__setattr__(self, "signature", bytes(self.signature))

    @classmethod
    def sign(
        cls, size: int, root: bytes, timestamp: float, signing_key: nacl.signing.SigningKey
    ) -> SignedTreeHead:
        """A tree head signed with the operator's ``signing_key``."""
        if not isinstance(signing_key, nacl.signing.SigningKey):
            raise InvalidKey("a tree head is signed with a nacl.signing.SigningKey.")
        message = _tree_head_message(
            _check_count(size, "a tree head's size"),
            _check_hash(root, "a tree head's root"),
            _check_time(timestamp, "a tree head's timestamp", InvalidProof),
        )
        return cls(size, root, timestamp, signing_key.sign(message).signature)

    def signed_bytes(self) -> bytes:
        """What the operator signs: canonical JSON of size, root, timestamp and :data:`TREE_HEAD_CONTEXT`."""
        return _tree_head_message(self.size, self.root, self.timestamp)

    def verify(self, log_verify_key: nacl.signing.VerifyKey | bytes) -> None:
        """Check the operator's signature; :class:`~toychat.errors.InvalidProof` if it does not verify."""
        key = _verify_key(log_verify_key)
        try:
            key.verify(self.signed_bytes(), self.signature)
        except (nacl.exceptions.BadSignatureError, ValueError):
            raise InvalidProof(
                f"the signed tree head (size {self.size}) does not carry the log operator's signature: "
                "it was altered or forged."
            ) from None

    def to_bytes(self) -> bytes:
        """Canonical JSON of all four fields: what a client stores or gossips."""
        return _canonical(
            {
                "root": _b64(self.root),
                "signature": _b64(self.signature),
                "size": self.size,
                "timestamp": self.timestamp,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SignedTreeHead:
        """Parse :meth:`to_bytes` output; :class:`~toychat.errors.InvalidProof` for anything else."""
        fields = _parse_object(data, "signed tree head", _TREE_HEAD_FIELDS, InvalidProof)
        head = cls(
            fields["size"],
            _unb64(fields["root"], "root", InvalidProof),
            fields["timestamp"],
            _unb64(fields["signature"], "signature", InvalidProof),
        )
        if head.to_bytes() != bytes(data):
            raise InvalidProof("valid JSON, but not a tree head in canonical form; it may have been altered.")
        return head

    def __repr__(self) -> str:
        return f"SignedTreeHead(size={self.size}, root={self.root.hex()[:16]}…, t={self.timestamp})"


def _verify_key(key: object) -> nacl.signing.VerifyKey:
    if isinstance(key, nacl.signing.VerifyKey):
        return key
    if isinstance(key, (bytes, bytearray)) and len(key) == KEY_SIZE:
        return nacl.signing.VerifyKey(bytes(key))
    raise InvalidKey(f"the log's verify key must be a nacl.signing.VerifyKey or {KEY_SIZE} bytes.")


# ---- the operator's side --------------------------------------------------------------------
class LookupEntry(NamedTuple):
    """One current binding from :meth:`KeyDirectoryLog.lookup`, with its inclusion proof."""

    binding: Binding
    index: int
    proof: list[bytes]


class Lookup(NamedTuple):
    """What :meth:`KeyDirectoryLog.lookup` returns: one signed tree head and the
    user's current bindings, each provable against that head."""

    head: SignedTreeHead
    found: list[LookupEntry]


class KeyDirectoryLog:
    """The key directory operator's side: a :class:`MerkleLog` of
    :class:`Binding` entries and the Ed25519 key that signs its tree heads.

    An honest operator publishes every binding it hands out.  A *dishonest*
    one can do three things, each caught by a different check:

    * :meth:`publish` a ghost device or a swapped key for a user, without the
      user's knowledge — the user's :class:`Monitor` raises
      :class:`~toychat.errors.UnexpectedKey`;
    * hand out a binding it never published — it has no valid inclusion
      proof, so :func:`verify_lookup` raises :class:`~toychat.errors.InvalidProof`;
    * :meth:`fork` the log and show different users different histories (a
      split view) — :func:`gossip` between two users' tree heads raises
      :class:`~toychat.errors.InconsistentLog`.
    """

    def __init__(
        self, signing_key: nacl.signing.SigningKey | None = None, *, clock: Clock | None = None
    ) -> None:
        if signing_key is None:
            signing_key = nacl.signing.SigningKey.generate()
        if not isinstance(signing_key, nacl.signing.SigningKey):
            raise InvalidKey(
                f"the log's signing key must be a nacl.signing.SigningKey, not {type(signing_key).__name__}."
            )
        self._signing_key = signing_key
        self.clock: Clock = clock if clock is not None else real_clock
        self.log = MerkleLog()
        self._by_user: dict[str, list[int]] = {}

    def __repr__(self) -> str:
        return f"KeyDirectoryLog(size={self.size})"

    @property
    def verify_key(self) -> nacl.signing.VerifyKey:
        """The key clients use to check tree heads (shipped with the app)."""
        return self._signing_key.verify_key

    @property
    def size(self) -> int:
        """Number of bindings published so far."""
        return self.log.size

    def publish(self, binding: Binding) -> int:
        """Append ``binding`` to the log; returns its index.  Nothing checks that
        the user asked for it: that is what the user's :class:`Monitor` is for."""
        if not isinstance(binding, Binding):
            raise MalformedEnvelope(
                f"publish() takes a Binding, not {type(binding).__name__}; make one with "
                "Binding.of(identity.public, 'phone')."
            )
        index = self.log.append(binding.to_bytes())
        self._by_user.setdefault(binding.user, []).append(index)
        return index

    def tree_head(self, size: int | None = None) -> SignedTreeHead:
        """A freshly signed tree head for the first ``size`` entries (default: all)."""
        size = self.log._check_size(size)
        return SignedTreeHead.sign(size, self.log.root(size), self.clock(), self._signing_key)

    def binding(self, index: int) -> Binding:
        """Entry ``index`` of the log."""
        return Binding.from_bytes(self.log.leaf(index))

    def entries(self, start: int = 0, end: int | None = None) -> list[Binding]:
        """The bindings from index ``start`` up to (not including) ``end``
        (default: the last), for monitors and auditors."""
        return [Binding.from_bytes(data) for data in self.log.leaves(start, end)]

    def entry_bytes(self, start: int = 0, end: int | None = None) -> list[bytes]:
        """The same entries as :meth:`entries`, as the bytes that are the leaves."""
        return self.log.leaves(start, end)

    @property
    def bindings(self) -> list[Binding]:
        """Every binding in the log, in order (parses them all: O(n))."""
        return self.entries()

    def current(self, user: str) -> dict[str, tuple[Binding, int]]:
        """``user``'s devices now: device → (its latest ``"add"`` binding, that
        binding's index), with revoked devices removed."""
        devices: dict[str, tuple[Binding, int]] = {}
        for index in self._by_user.get(check_name(user), []):
            binding = self.binding(index)
            if binding.action == "add":
                devices[binding.device] = (binding, index)
            else:
                devices.pop(binding.device, None)
        return devices

    def lookup(self, user: str) -> Lookup:
        """``user``'s current bindings (adds minus revokes), each with an
        inclusion proof against one freshly signed tree head.

        Returns ``(head, [(binding, index, proof), ...])``; the list is empty
        for a name with no current device.
        """
        head = self.tree_head()
        found = [
            LookupEntry(b, i, self.log.inclusion_proof(i, head.size)) for b, i in self.current(user).values()
        ]
        return Lookup(head, found)

    def prove_inclusion(self, index: int, size: int | None = None) -> list[bytes]:
        """The inclusion proof of entry ``index`` in the tree of ``size`` entries."""
        return self.log.inclusion_proof(index, size)

    def prove_consistency(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The consistency proof from ``old_size`` to ``new_size`` entries (default: all)."""
        return self.log.consistency_proof(old_size, new_size)

    def fork(self) -> KeyDirectoryLog:
        """A second log sharing all history up to now and the same signing key.

        For the split-view attack: publish different entries to each, and show
        each to different users.  Both logs' tree heads are genuinely signed.
        """
        twin = KeyDirectoryLog(self._signing_key, clock=self.clock)
        twin.log = self.log.copy()
        twin._by_user = {user: list(indexes) for user, indexes in self._by_user.items()}
        return twin


# ---- the clients' side ----------------------------------------------------------------------
def verify_lookup(
    binding: Binding,
    index: int,
    proof: Sequence[bytes],
    sth: SignedTreeHead,
    log_verify_key: nacl.signing.VerifyKey | bytes,
    *,
    user: str | None = None,
) -> None:
    """A client's check of a key the directory handed out.

    The tree head ``sth`` must carry the operator's signature, and ``binding``
    must be entry ``index`` of the tree it describes; if ``user`` is given,
    the binding must also name that user (so the directory cannot answer a
    lookup for Bob with Carol's genuine entry).  Returns ``None`` if all
    holds; raises :class:`~toychat.errors.InvalidProof` otherwise — e.g. for
    a key the operator never published.
    """
    if not isinstance(binding, Binding):
        raise InvalidProof(f"verify_lookup() checks a Binding, not {type(binding).__name__}.")
    if not isinstance(sth, SignedTreeHead):
        raise InvalidProof(f"verify_lookup() needs a SignedTreeHead, not {type(sth).__name__}.")
    if user is not None and binding.user != user:
        raise InvalidProof(
            f"the directory answered a lookup for {user!r} with a binding for {binding.user!r}."
        )
    sth.verify(log_verify_key)
    try:
        verify_inclusion(binding.to_bytes(), index, sth.size, proof, sth.root)
    except InvalidProof as exc:
        raise InvalidProof(
            f"the key for {binding.user!r}/{binding.device!r} is not in the signed log: {exc} "
            "Do not use it: the directory may be handing out a key it never published."
        ) from None


@dataclass
class MonitoringCost:
    """Bytes a monitor or auditor downloaded, by kind, to set beside CONIKS's
    "less than 20 kB per day" per user and "2.5 kB per provider per day" for
    auditing (FACTS §4.29).

    >>> MonitoringCost(checks=2, tree_heads=300, proofs=256, entries=1_000).total
    1556
    """

    checks: int = 0
    tree_heads: int = 0
    proofs: int = 0
    entries: int = 0

    @property
    def total(self) -> int:
        """All bytes downloaded."""
        return self.tree_heads + self.proofs + self.entries

    def __str__(self) -> str:
        return (
            f"{self.checks} check(s), {self.total:,} bytes: tree heads {self.tree_heads:,}, "
            f"proofs {self.proofs:,}, log entries {self.entries:,}"
        )


#: What :class:`Monitor` accepts as the devices a user really has.
ExpectedDevices = (
    Mapping[str, PublicIdentity | Identity | tuple[bytes, bytes]] | Iterable[tuple[str, bytes, bytes]]
)


def _device_triples(expected: ExpectedDevices) -> list[tuple[str, bytes, bytes]]:
    """``expected`` as ``(device, encryption_key, signing_key)`` triples, or :class:`InvalidKey`."""
    if not isinstance(expected, Mapping):
        triples = list(expected)
        if not all(isinstance(t, tuple) and len(t) == 3 for t in triples):
            raise InvalidKey("each expected device is a (device, encryption_key, signing_key) triple.")
        return triples
    triples = []
    for device, keys in expected.items():
        if isinstance(keys, Identity):
            keys = keys.public
        if isinstance(keys, PublicIdentity):
            keys = (keys.encryption_key, keys.signing_key)
        if not isinstance(keys, tuple) or len(keys) != 2:
            raise InvalidKey(
                f"the keys expected for device {device!r} must be a PublicIdentity or a pair of keys."
            )
        triples.append((device, *keys))
    return triples


class Monitor:
    """A user's phone watching the key log for bindings of its own name.

    ``expected`` says which devices the user really has: a mapping from device
    name to its keys (a :class:`~toychat.keys.PublicIdentity` or an
    ``(encryption_key, signing_key)`` pair), or a set of
    ``(device, encryption_key, signing_key)`` triples.  ``log_verify_key`` is
    the operator's tree-head key.

    Each :meth:`check` (or :meth:`update`, given the pieces) verifies, in order:

    1. the new tree head's signature (:class:`~toychat.errors.InvalidProof`);
    2. its consistency with the last head this monitor accepted
       (:class:`~toychat.errors.InconsistentLog` if the history was rewritten
       or shrank);
    3. that the new entries are exactly what the signed tree holds
       (:class:`~toychat.errors.InconsistentLog`);
    4. every new ``"add"`` binding naming the user: one the user did not
       expect — a swapped key or a ghost device — raises
       :class:`~toychat.errors.UnexpectedKey` naming the device.

    Nothing is accepted unless all four pass, so an alarm repeats until
    someone acts on it.  The monitor keeps only the log's right edge
    (O(log n) hashes), and counts what it downloads in :attr:`cost`.
    Revocations are not keys and are not flagged; entries about other users
    are hashed but not parsed.
    """

    def __init__(
        self, user: str, expected: ExpectedDevices, log_verify_key: nacl.signing.VerifyKey | bytes
    ) -> None:
        self.user = check_name(user)
        self.log_key = _verify_key(log_verify_key)
        self.expected: set[tuple[str, bytes, bytes]] = set()
        for device, encryption_key, signing_key in _device_triples(expected):
            self.expect(device, encryption_key, signing_key)
        self.head: SignedTreeHead | None = None
        self.cost = MonitoringCost()
        self._frontier = _Frontier()

    def __repr__(self) -> str:
        size = self.head.size if self.head else 0
        return f"Monitor({self.user!r}, {len(self.expected)} expected device(s), checked {size} entries)"

    def expect(self, device: str, encryption_key: bytes, signing_key: bytes) -> None:
        """Tell the monitor the user really did bind these keys to ``device``
        (e.g. after adding a laptop), so that binding is not flagged."""
        binding = Binding(self.user, device, encryption_key, signing_key)  # validates all three
        self.expected.add((binding.device, binding.encryption_key, binding.signing_key))

    @property
    def bytes_downloaded(self) -> int:
        """All bytes this monitor has downloaded (see :attr:`cost` for the breakdown)."""
        return self.cost.total

    @property
    def size(self) -> int:
        """How many log entries this monitor has checked."""
        return self._frontier.size

    def check(self, directory: KeyDirectoryLog) -> SignedTreeHead:
        """Fetch the latest tree head, a consistency proof and the new entries
        from ``directory``, and :meth:`update` with them.  Returns the head."""
        head = directory.tree_head()
        if head.size < self.size:  # nothing to fetch: update() reports the shrinking log
            return self.update(head, [], [])
        proof = directory.prove_consistency(self.head.size, head.size) if self.head is not None else []
        return self.update(head, directory.entry_bytes(self.size, head.size), proof)

    def update(
        self,
        head: SignedTreeHead,
        new_entries: Sequence[bytes | Binding],
        consistency_proof: Sequence[bytes],
    ) -> SignedTreeHead:
        """Check a new tree head, the entries added since the last accepted head
        (bytes or :class:`Binding` objects), and the consistency proof from the
        last head to this one.  Returns ``head`` once accepted."""
        if not isinstance(head, SignedTreeHead):
            raise InvalidProof(f"a monitor checks a SignedTreeHead, not {type(head).__name__}.")
        head.verify(self.log_key)
        consistency_proof = _check_proof(consistency_proof, "the consistency proof")
        self.cost.checks += 1
        self.cost.tree_heads += len(head.to_bytes())
        self.cost.proofs += proof_bytes(consistency_proof)
        if self.head is not None:
            if head.size < self.head.size:
                raise InconsistentLog(
                    f"the log shrank from {self.head.size} to {head.size} entries: an append-only log never "
                    "does that, so its history was rewritten."
                )
            try:
                verify_consistency(self.head.size, head.size, self.head.root, head.root, consistency_proof)
            except InvalidProof as exc:
                raise InconsistentLog(
                    f"the log rewrote its history since the last check (at {self.head.size} entries): {exc}"
                ) from None
        expected_count = head.size - self.size
        if len(new_entries) != expected_count:
            raise InconsistentLog(
                f"the tree head says {expected_count} new entries, but {len(new_entries)} were served."
            )
        frontier = self._frontier.copy()
        leaves = [
            entry.to_bytes() if isinstance(entry, Binding) else _check_leaf(entry) for entry in new_entries
        ]
        for data in leaves:
            self.cost.entries += len(data)
            frontier.append(data)
        if frontier.root() != head.root:
            raise InconsistentLog(
                f"the entries served for {self.size} to {head.size} do not make up the signed tree: "
                "the log showed this monitor something other than what it signed."
            )
        # A binding naming this user ends with `,"user":"<name>"}` in its one canonical
        # form, so only those entries need parsing; the rest were hashed above.
        mine = b',"user":' + json.dumps(self.user).encode("ascii") + b"}"
        parsed = [
            (self.size + offset, Binding.from_bytes(data))
            for offset, data in enumerate(leaves)
            if data.endswith(mine)
        ]
        unexpected = [
            (index, binding)
            for index, binding in parsed
            if binding.user == self.user
            and binding.action == "add"
            and (binding.device, binding.encryption_key, binding.signing_key) not in self.expected
        ]
        if unexpected:
            index, binding = unexpected[0]
            known_device = any(device == binding.device for device, _, _ in self.expected)
            kind = (
                "a swapped key for a device it has" if known_device else "a device it never added (a ghost)"
            )
            more = (
                f" ({len(unexpected) - 1} more unexpected binding(s) after it)" if len(unexpected) > 1 else ""
            )
            raise UnexpectedKey(
                f"the key log binds a key to {self.user!r} for device {binding.device!r} that {self.user!r} "
                f"did not add: {kind}; entry {index}, fingerprint {binding.keys.fingerprint[:19]}…{more}. "
                "Anyone who looks up this user may now encrypt to that key."
            )
        self._frontier, self.head = frontier, head
        return head


#: Where :func:`gossip` and :class:`Auditor` get a consistency proof: a log, a
#: function ``(old_size, new_size) -> proof``, the proof itself, or nothing.
ProofSource = KeyDirectoryLog | MerkleLog | Callable[[int, int], Sequence[bytes]] | Sequence[bytes] | None


def _fetch_consistency(source: ProofSource, old_size: int, new_size: int) -> list[bytes]:
    if isinstance(source, KeyDirectoryLog):
        return source.prove_consistency(old_size, new_size)
    if isinstance(source, MerkleLog):
        return source.consistency_proof(old_size, new_size)
    if isinstance(source, (list, tuple)):
        return list(source)
    if callable(source):
        return list(source(old_size, new_size))
    raise InvalidProof(f"cannot fetch a consistency proof from a {type(source).__name__}.")


def _compare(
    first: SignedTreeHead,
    second: SignedTreeHead,
    source: ProofSource,
    log_verify_key: nacl.signing.VerifyKey | bytes,
) -> tuple[SignedTreeHead, int]:
    """The newer of two consistent heads, and the proof bytes it took."""
    for head in (first, second):
        if not isinstance(head, SignedTreeHead):
            raise InvalidProof(f"gossip compares SignedTreeHeads, not {type(head).__name__}.")
        head.verify(log_verify_key)
    old, new = sorted((first, second), key=lambda h: h.size)
    if old.size != new.size and source is None:
        raise InvalidProof(
            f"tree heads of {old.size} and {new.size} entries can only be compared with a consistency "
            "proof: pass the log (or the proof itself) as the proof source."
        )
    if old.size == new.size:
        if old.root != new.root:
            raise InconsistentLog(
                f"two different logs of {old.size} entries, both signed by the operator: a split view "
                "(the operator shows different people different logs)."
            )
        return new, 0
    try:
        proof = _fetch_consistency(source, old.size, new.size)
        verify_consistency(old.size, new.size, old.root, new.root, proof)
    except InvalidProof as exc:
        raise InconsistentLog(
            f"the tree heads of {old.size} and {new.size} entries cannot come from one append-only log "
            f"(a fork or a split view): {exc}"
        ) from None
    return new, proof_bytes(proof)


def gossip(
    sth_a: SignedTreeHead,
    sth_b: SignedTreeHead,
    log_or_proof_source: ProofSource,
    log_verify_key: nacl.signing.VerifyKey | bytes,
) -> SignedTreeHead:
    """Two clients compare the tree heads they were shown.

    Both must carry the operator's signature (:class:`~toychat.errors.InvalidProof`
    if not).  Equal sizes must have equal roots; different sizes need a
    consistency proof from the smaller to the larger, taken from
    ``log_or_proof_source``: a :class:`KeyDirectoryLog`, a :class:`MerkleLog`,
    a function ``(old_size, new_size) -> proof``, or the proof itself.  Any
    failure is a fork or a split view: :class:`~toychat.errors.InconsistentLog`.
    Returns the newer head.
    """
    return _compare(sth_a, sth_b, log_or_proof_source, log_verify_key)[0]


class Auditor:
    """Someone who collects tree heads — from their own lookups, or gossiped by
    others — and checks that they all come from one append-only history.

    :meth:`observe` keeps the newest head seen so far; a head that is not
    consistent with it raises :class:`~toychat.errors.InconsistentLog`.
    """

    def __init__(self, log_verify_key: nacl.signing.VerifyKey | bytes) -> None:
        self.log_key = _verify_key(log_verify_key)
        self.head: SignedTreeHead | None = None
        self.cost = MonitoringCost()

    def __repr__(self) -> str:
        return f"Auditor(head={self.head!r})"

    def observe(self, head: SignedTreeHead, log_or_proof_source: ProofSource = None) -> SignedTreeHead:
        """Check ``head`` against the newest head seen so far; returns the newest."""
        if not isinstance(head, SignedTreeHead):
            raise InvalidProof(f"an auditor observes SignedTreeHeads, not {type(head).__name__}.")
        self.cost.checks += 1
        self.cost.tree_heads += len(head.to_bytes())
        if self.head is None:
            head.verify(self.log_key)
            self.head = head
        else:
            self.head, spent = _compare(self.head, head, log_or_proof_source, self.log_key)
            self.cost.proofs += spent
        return self.head

    def gossip_with(self, other: Auditor, log_or_proof_source: ProofSource = None) -> None:
        """Exchange newest heads with ``other``: both end up with the newer one,
        or :class:`~toychat.errors.InconsistentLog` if the two cannot both be true."""
        if other.head is not None:
            self.observe(other.head, log_or_proof_source)
        if self.head is not None:
            other.observe(self.head, log_or_proof_source)


# ---- what monitoring a flat log costs -------------------------------------------------------
#: Size of a typical binding (8-letter user name, device "phone", a current timestamp).
TYPICAL_BINDING_BYTES = len(
    Binding("username", "phone", bytes(KEY_SIZE), bytes(KEY_SIZE), "add", DEFAULT_START).to_bytes()
)


def flat_log_monitoring_cost(
    log_size: int,
    new_entries: int,
    checks: int = 24,
    *,
    entry_bytes: int = TYPICAL_BINDING_BYTES,
) -> MonitoringCost:
    """What one :class:`Monitor` downloads while the log grows from ``log_size``
    by ``new_entries``, checking ``checks`` times at even intervals (e.g. a day
    of hourly checks): a tree head and a consistency proof per check, plus
    every new entry.  Arithmetic only — no log is built.

    A billion bindings, ten million new ones a day, hourly checks: the tree
    heads and proofs come to about CONIKS's 20 kB a day, the entries to some
    80,000 times more.

    >>> print(flat_log_monitoring_cost(1_000_000_000, 10_000_000, checks=24))
    24 check(s), 2,010,024,664 bytes: tree heads 4,824, proofs 19,840, log entries 2,010,000,000
    """
    log_size = _check_count(log_size, "the log size", TransparencyError)
    new_entries = _check_count(new_entries, "the number of new entries", TransparencyError)
    if _check_count(checks, "the number of checks", TransparencyError) == 0:
        raise TransparencyError("a monitor that never checks catches nothing: give at least 1 check.")
    cost = MonitoringCost(checks=checks)
    sizes = [log_size + (new_entries * step) // checks for step in range(checks + 1)]
    for old, new in itertools.pairwise(sizes):
        placeholder = SignedTreeHead(new, EMPTY_ROOT, DEFAULT_START, bytes(SIGNATURE_SIZE))
        cost.tree_heads += len(placeholder.to_bytes())
        cost.proofs += HASH_SIZE * consistency_proof_length(old, new)
    cost.entries = new_entries * entry_bytes
    return cost
