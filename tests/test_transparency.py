"""Key transparency: RFC 9162 Merkle proofs, and every swap, ghost and split view caught."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toychat.errors import InconsistentLog, InvalidProof, UnexpectedKey
from toychat.keys import Identity
from toychat.transparency import (
    Binding,
    KeyDirectoryLog,
    MerkleLog,
    Monitor,
    SignedTreeHead,
    gossip,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
    verify_lookup,
)

TRIALS = 100


def build(n: int) -> MerkleLog:
    log = MerkleLog()
    for i in range(n):
        log.append(f"leaf {i}".encode())
    return log


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def test_known_roots_computed_by_hand() -> None:
    a, b, c = (h(b"\x00" + x) for x in (b"a", b"b", b"c"))
    log = MerkleLog()
    assert log.root() == h(b"")
    log.append(b"a")
    assert log.root() == a
    log.append(b"b")
    assert log.root() == h(b"\x01" + a + b)
    log.append(b"c")
    assert log.root() == h(b"\x01" + h(b"\x01" + a + b) + c)
    assert log.inclusion_proof(2) == [h(b"\x01" + a + b)]
    assert log.inclusion_proof(0) == [b, c]
    assert leaf_hash(b"a") == a
    assert node_hash(a, b) == h(b"\x01" + a + b)
    seven = build(7)
    leaves = [leaf_hash(f"leaf {i}".encode()) for i in range(7)]
    left = node_hash(node_hash(leaves[0], leaves[1]), node_hash(leaves[2], leaves[3]))
    right = node_hash(node_hash(leaves[4], leaves[5]), leaves[6])
    assert seven.root() == node_hash(left, right)
    assert seven.consistency_proof(3, 7) == [leaves[2], leaves[3], node_hash(leaves[0], leaves[1]), right]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_every_inclusion_and_consistency_proof_verifies(n: int, data: st.DataObject) -> None:
    log = build(n)
    size = data.draw(st.integers(min_value=1, max_value=n))
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    verify_inclusion(f"leaf {index}".encode(), index, size, log.inclusion_proof(index, size), log.root(size))
    old = data.draw(st.integers(min_value=0, max_value=size))
    verify_consistency(old, size, log.root(old), log.root(size), log.consistency_proof(old, size))


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=2, max_value=200), st.data())
def test_any_tampered_inclusion_proof_is_rejected(n: int, data: st.DataObject) -> None:
    log = build(n)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof, root, leaf = log.inclusion_proof(index), log.root(), f"leaf {index}".encode()
    attack = data.draw(st.sampled_from(["flip", "drop", "extra", "index", "size", "leaf", "root"]))
    if attack == "flip":
        which = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        bit = data.draw(st.integers(min_value=0, max_value=255))
        node = bytearray(proof[which])
        node[bit // 8] ^= 1 << (bit % 8)
        proof[which] = bytes(node)
    elif attack == "drop":
        proof.pop(data.draw(st.integers(min_value=0, max_value=len(proof) - 1)))
    elif attack == "extra":
        proof.append(h(b"extra"))
    elif attack == "index":
        index = (index + data.draw(st.integers(min_value=1, max_value=n - 1))) % n
    elif attack == "size":
        # Claim the leaf is in a tree of another size (with that tree's genuine root):
        # sizes and roots come together in a signed tree head.
        bigger = build(n + 6)
        n = data.draw(st.sampled_from([m for m in range(1, n + 6) if m != n]))
        root = bigger.root(n)
    elif attack == "leaf":
        leaf += b"!"
    else:
        root = h(root)
    with pytest.raises(InvalidProof):
        verify_inclusion(leaf, index, n, proof, root)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=3, max_value=200), st.data())
def test_any_tampered_consistency_proof_is_rejected(n: int, data: st.DataObject) -> None:
    log = build(n)
    old = data.draw(st.integers(min_value=1, max_value=n - 1))
    proof = log.consistency_proof(old, n)
    attack = data.draw(st.sampled_from(["flip", "drop", "extra", "old_root", "new_root", "old_size"]))
    old_root, new_root, old_size = log.root(old), log.root(n), old
    if attack == "flip":
        which = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        node = bytearray(proof[which])
        node[0] ^= 1
        proof[which] = bytes(node)
    elif attack == "drop":
        proof.pop()
    elif attack == "extra":
        proof.append(h(b"x"))
    elif attack == "old_root":
        old_root = h(old_root)
    elif attack == "new_root":
        new_root = h(new_root)
    else:
        old_size = old + 1 if old + 1 < n else old - 1
    with pytest.raises(InvalidProof):
        verify_consistency(old_size, n, old_root, new_root, proof)


def test_bad_sizes_and_reordered_leaves() -> None:
    log = build(10)
    with pytest.raises(InvalidProof):
        log.inclusion_proof(10)
    with pytest.raises(InvalidProof):
        log.consistency_proof(8, 5)
    with pytest.raises(InvalidProof):
        verify_consistency(8, 5, log.root(8), log.root(5), [])
    with pytest.raises(InvalidProof):
        verify_inclusion(b"leaf 0", 0, 10, [b"short"], log.root())
    reordered = MerkleLog()
    for i in [1, 0, *range(2, 10)]:
        reordered.append(f"leaf {i}".encode())
    assert reordered.root() != log.root()
    with pytest.raises(InvalidProof):
        verify_inclusion(b"leaf 0", 0, 10, log.inclusion_proof(0), reordered.root())


# ---- the key directory ------------------------------------------------------------------
def directory_with(users: list[str]) -> tuple[KeyDirectoryLog, dict[str, Identity]]:
    directory = KeyDirectoryLog()
    people = {name: Identity.generate(name) for name in users}
    for identity in people.values():
        directory.publish(Binding.of(identity.public))
    return directory, people


def test_honest_lookup_verifies_and_binding_round_trips() -> None:
    directory, people = directory_with(["alice", "bob", "carol"])
    head, found = directory.lookup("bob")
    [(binding, index, proof)] = found
    verify_lookup(
        binding, index, proof, head, directory.verify_key, name="bob", later=directory.entries(index + 1, head.size)
    )
    assert binding.keys == people["bob"].public
    assert Binding.from_bytes(binding.to_bytes()) == binding


def test_a_key_not_in_the_log_is_rejected() -> None:
    for _ in range(TRIALS):
        directory, people = directory_with(["alice", "bob"])
        fake = Binding.of(Identity.generate("bob").public)  # handed out, never published
        head, [(real, index, proof)] = directory.lookup("bob")
        with pytest.raises(InvalidProof):
            verify_lookup(
                fake, index, proof, head, directory.verify_key, name="bob", later=directory.entries(index + 1)
            )


def test_a_forged_tree_head_is_rejected() -> None:
    directory, _ = directory_with(["alice"])
    head = directory.tree_head()
    forged = SignedTreeHead(head.size, h(b"other root"), head.timestamp, head.signature)
    with pytest.raises(InvalidProof, match="signature"):
        forged.verify(directory.verify_key)


@pytest.mark.parametrize("attack", ["ghost device", "swapped key"])
def test_monitor_catches_every_ghost_and_swap(attack: str) -> None:
    rng = random.Random(1)
    for _ in range(TRIALS):
        directory, people = directory_with(["alice", "bob", "carol"])
        monitor = Monitor("bob", {"phone": people["bob"].public}, directory.verify_key)
        monitor.check(directory)
        for _ in range(rng.randrange(0, 5)):
            directory.publish(Binding.of(Identity.generate(f"user{rng.randrange(99)}").public))
        device = "ghost" if attack == "ghost device" else "phone"
        directory.publish(Binding.of(Identity.generate("bob").public, device))
        with pytest.raises(UnexpectedKey, match=device):
            monitor.check(directory)


def test_monitor_accepts_honest_growth_and_counts_bytes() -> None:
    directory, people = directory_with(["alice", "bob"])
    monitor = Monitor("bob", {"phone": people["bob"].public}, directory.verify_key)
    for i in range(5):
        directory.publish(Binding.of(Identity.generate(f"new{i}").public))
        monitor.check(directory)
    assert monitor.head is not None
    assert monitor.head.size == 7
    assert monitor.bytes_downloaded > 0


def test_rewritten_history_is_caught_by_the_monitor() -> None:
    directory, people = directory_with(["alice", "bob"])
    monitor = Monitor("bob", {"phone": people["bob"].public}, directory.verify_key)
    monitor.check(directory)
    rewritten = KeyDirectoryLog(directory._signing_key)
    for binding in reversed(directory.bindings):
        rewritten.publish(binding)
    rewritten.publish(Binding.of(Identity.generate("dave").public))
    with pytest.raises(InconsistentLog):
        monitor.check(rewritten)


def test_gossip_catches_every_split_view() -> None:
    rng = random.Random(2)
    for _ in range(TRIALS):
        directory, people = directory_with(["alice", "bob"])
        for _ in range(rng.randrange(0, 6)):
            directory.publish(Binding.of(Identity.generate("someone").public))
        shown_to_bob = directory.fork()
        directory.publish(Binding.of(Identity.generate("x").public))
        shown_to_bob.publish(Binding.of(Identity.generate("bob").public, "ghost"))
        for _ in range(rng.randrange(0, 4)):
            (directory if rng.random() < 0.5 else shown_to_bob).publish(Binding.of(Identity.generate("y").public))
        with pytest.raises(InconsistentLog):
            gossip(directory.tree_head(), shown_to_bob.tree_head(), directory, directory.verify_key)


def test_gossip_accepts_an_honest_log_seen_at_two_times() -> None:
    directory, _ = directory_with(["alice", "bob"])
    earlier = directory.tree_head()
    directory.publish(Binding.of(Identity.generate("carol").public))
    gossip(earlier, directory.tree_head(), directory, directory.verify_key)
    gossip(directory.tree_head(), directory.tree_head(), directory, directory.verify_key)


def test_malformed_binding() -> None:
    from toychat.errors import MalformedEnvelope

    with pytest.raises(MalformedEnvelope):
        Binding.from_bytes(b"{}")
    with pytest.raises(MalformedEnvelope):
        Binding("bob", "phone", b"short", bytes(32))


def _rfc_mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) written as RFC 9162 §2.1.1 states it (recursive, nothing cached)."""
    if not leaves:
        return h(b"")
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(_rfc_mth(leaves[:k]), _rfc_mth(leaves[k:]))


def _rfc_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) written as RFC 9162 §2.1.3.1 states it."""
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return [*_rfc_path(m, leaves[:k]), _rfc_mth(leaves[k:])]
    return [*_rfc_path(m - k, leaves[k:]), _rfc_mth(leaves[:k])]


def _rfc_proof(m: int, leaves: list[bytes], complete: bool = True) -> list[bytes]:
    """SUBPROOF(m, D[n], b) written as RFC 9162 §2.1.4.1 states it."""
    if m == len(leaves):
        return [] if complete else [_rfc_mth(leaves)]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m <= k:
        return [*_rfc_proof(m, leaves[:k], complete), _rfc_mth(leaves[k:])]
    return [*_rfc_proof(m - k, leaves[k:], False), _rfc_mth(leaves[:k])]


def test_roots_and_proofs_equal_the_rfc_definitions_for_every_small_tree() -> None:
    """The log's cached, bottom-up proofs are exactly RFC 9162's recursive definitions, for
    every leaf and every earlier size of a 70-leaf log (sizes around several powers of two)."""
    n = 70
    log = build(n)
    data = [f"leaf {i}".encode() for i in range(n)]
    for size in range(1, n + 1):
        assert log.root(size) == _rfc_mth(data[:size]), size
        for index in range(size):
            assert log.inclusion_proof(index, size) == _rfc_path(index, data[:size]), (index, size)
        for old in range(1, size):
            assert log.consistency_proof(old, size) == _rfc_proof(old, data[:size]), (old, size)
