"""Key transparency: RFC 9162 Merkle proofs, and every swap, ghost and split view caught.

Known answers come from two places: hashes worked out here with nothing but
:mod:`hashlib` (1-, 2-, 3- and 7-leaf trees), and the reference vectors of
transparency-dev/merkle, the Go library behind Certificate Transparency
(``proof/verify_test.go``).  Everything else is property-based (Hypothesis) or
repeated over many random trials, and every attack must be caught every time.
"""

from __future__ import annotations

import base64
import doctest
import hashlib
import json
import math
import random

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toychat import transparency
from toychat.errors import (
    InconsistentLog,
    InvalidKey,
    InvalidProof,
    MalformedEnvelope,
    RegistrationError,
    ToyChatError,
    TransparencyError,
    UnexpectedKey,
)
from toychat.transparency import (
    EMPTY_ROOT,
    HASH_SIZE,
    Auditor,
    Binding,
    KeyDirectoryLog,
    MerkleLog,
    Monitor,
    SignedTreeHead,
    consistency_proof_length,
    flat_log_monitoring_cost,
    gossip,
    inclusion_proof_length,
    leaf_hash,
    node_hash,
    proof_bytes,
    verify_consistency,
    verify_inclusion,
    verify_lookup,
)

TRIALS = 100
FAST = settings(max_examples=150, deadline=None)


# ---- helpers: everything by hand, with hashlib only ------------------------------------------
def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def L(data: bytes) -> bytes:
    return sha(b"\x00" + data)


def N(left: bytes, right: bytes) -> bytes:
    return sha(b"\x01" + left + right)


def entry(i: int) -> bytes:
    return f"entry {i}".encode()


def build(n: int) -> MerkleLog:
    return MerkleLog(entry(i) for i in range(n))


BIG = build(300)  # one shared log: roots and proofs for every smaller size come from it


def flip_bit(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def random_binding(
    rng: random.Random, user: str | None = None, device: str = "phone", action: str = "add"
) -> Binding:
    return Binding(
        user or f"user{rng.randrange(1000)}",
        device,
        rng.randbytes(32),
        rng.randbytes(32),
        action,
        float(rng.randrange(10**9)),
    )


# ---- RFC 9162 §2.1.1: known answers ---------------------------------------------------------
def test_known_roots_and_proofs_computed_by_hand() -> None:
    a, b, c = L(b"a"), L(b"b"), L(b"c")
    log = MerkleLog()
    assert log.root() == sha(b"") == EMPTY_ROOT
    assert log.append(b"a") == 0
    assert log.root() == a  # 1 leaf: the root is the leaf hash
    assert log.inclusion_proof(0) == []
    log.append(b"b")
    assert log.root() == N(a, b)
    assert log.inclusion_proof(0) == [b] and log.inclusion_proof(1) == [a]
    assert log.consistency_proof(1, 2) == [b]
    log.append(b"c")  # 3 leaves: k = 2, so the root is N(N(a, b), c)
    assert log.root() == N(N(a, b), c)
    assert log.inclusion_proof(0) == [b, c]
    assert log.inclusion_proof(1) == [a, c]
    assert log.inclusion_proof(2) == [N(a, b)]
    assert log.consistency_proof(1, 3) == [b, c]
    assert log.consistency_proof(2, 3) == [c]
    assert leaf_hash(b"a") == a and node_hash(a, b) == N(a, b)

    d = [L(entry(i)) for i in range(7)]  # 7 leaves: ((01)(23))((45)6)
    seven = build(7)
    left, right = N(N(d[0], d[1]), N(d[2], d[3])), N(N(d[4], d[5]), d[6])
    assert seven.root() == N(left, right)
    assert seven.root(5) == N(left, d[4])
    assert seven.root(6) == N(left, N(d[4], d[5]))
    assert seven.inclusion_proof(6) == [N(d[4], d[5]), left]
    assert seven.inclusion_proof(3) == [d[2], N(d[0], d[1]), right]
    assert seven.inclusion_proof(4, 5) == [left]
    # PROOF(3, D[7]) = SUBPROOF(3, D[0:4]) : MTH(D[4:7]) = [d2, d3, N(d0, d1)] + [right]
    assert seven.consistency_proof(3, 7) == [d[2], d[3], N(d[0], d[1]), right]
    assert seven.consistency_proof(4, 7) == [right]  # the old root itself is left out
    assert seven.consistency_proof(6, 7) == [N(d[4], d[5]), d[6], left]
    for i, proof in enumerate(seven.inclusion_proof(i) for i in range(7)):
        verify_inclusion(entry(i), i, 7, proof, seven.root())


# transparency-dev/merkle, proof/verify_test.go (Apache-2.0): the RFC 6962 reference tree.
REFERENCE_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
REFERENCE_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # size 0
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",  # size 8
    )
]
REFERENCE_INCLUSION = [  # (0-based index, size, proof)
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
REFERENCE_CONSISTENCY = [  # (old size, new size, proof)
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def test_reference_vectors_from_certificate_transparency() -> None:
    log = MerkleLog(REFERENCE_LEAVES)
    assert [log.root(n) for n in range(9)] == REFERENCE_ROOTS
    for index, size, hexes in REFERENCE_INCLUSION:
        proof = [bytes.fromhex(h) for h in hexes]
        assert log.inclusion_proof(index, size) == proof
        verify_inclusion(REFERENCE_LEAVES[index], index, size, proof, REFERENCE_ROOTS[size])
        # The Go library's own corruptions: a doubled or halved size with the same root.
        for wrong_size in (size * 2, size // 2):
            with pytest.raises(InvalidProof):
                verify_inclusion(REFERENCE_LEAVES[index], index, wrong_size, proof, REFERENCE_ROOTS[size])
    for old, new, hexes in REFERENCE_CONSISTENCY:
        proof = [bytes.fromhex(h) for h in hexes]
        assert log.consistency_proof(old, new) == proof
        verify_consistency(old, new, REFERENCE_ROOTS[old], REFERENCE_ROOTS[new], proof)
        for wrong_old, wrong_new in (
            (old - 1, new),
            (old + 1, new),
            (old ^ 2, new),
            (old, new * 2),
            (old, new // 2),
        ):
            with pytest.raises(InvalidProof):
                verify_consistency(wrong_old, wrong_new, REFERENCE_ROOTS[old], REFERENCE_ROOTS[new], proof)


# ---- every proof verifies --------------------------------------------------------------------
def test_every_proof_of_every_small_tree_verifies() -> None:
    for size in range(34):
        root = BIG.root(size)
        for index in range(size):
            proof = BIG.inclusion_proof(index, size)
            assert (
                len(proof) == inclusion_proof_length(index, size) <= math.ceil(math.log2(size))
                if size > 1
                else not proof
            )
            verify_inclusion(entry(index), index, size, proof, root)
        for old in range(size + 1):
            proof = BIG.consistency_proof(old, size)
            assert len(proof) == consistency_proof_length(old, size)
            verify_consistency(old, size, BIG.root(old), root, proof)


@FAST
@given(st.lists(st.binary(max_size=6), min_size=1, max_size=300, unique=True), st.data())
def test_inclusion_and_consistency_proofs_verify_in_random_trees(
    leaves: list[bytes], data: st.DataObject
) -> None:
    log = MerkleLog(leaves)
    size = data.draw(st.integers(1, len(leaves)), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(0, size), label="old size")
    proof = log.inclusion_proof(index, size)
    assert len(proof) == inclusion_proof_length(index, size)
    verify_inclusion(leaves[index], index, size, proof, log.root(size))
    consistency = log.consistency_proof(old, size)
    assert len(consistency) == consistency_proof_length(old, size)
    verify_consistency(old, size, log.root(old), log.root(size), consistency)
    # The root of the first `size` leaves does not depend on what came later.
    assert log.root(size) == MerkleLog(leaves[:size]).root()


# ---- every tampered proof is rejected --------------------------------------------------------
INCLUSION_ATTACKS = [
    "flip a bit",
    "drop a node",
    "add a node",
    "wrong index",
    "wrong size",
    "wrong leaf",
    "wrong root",
]


@settings(max_examples=400, deadline=None)
@given(st.integers(2, 300), st.data())
def test_any_tampered_inclusion_proof_is_rejected(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1), label="index")
    proof, root, leaf = BIG.inclusion_proof(index, size), BIG.root(size), entry(index)
    attack = data.draw(st.sampled_from(INCLUSION_ATTACKS), label="attack")
    if attack == "flip a bit":
        which = data.draw(st.integers(0, len(proof) - 1))
        proof[which] = flip_bit(proof[which], data.draw(st.integers(0, 8 * HASH_SIZE - 1)))
    elif attack == "drop a node":
        proof.pop(data.draw(st.integers(0, len(proof) - 1)))
    elif attack == "add a node":
        extra = data.draw(st.sampled_from([sha(b"extra"), root, leaf_hash(leaf), proof[0], bytes(32)]))
        proof.insert(data.draw(st.integers(0, len(proof))), extra)
    elif attack == "wrong index":
        index = data.draw(st.sampled_from([i for i in range(size) if i != index]))
    elif attack == "wrong size":
        # A size and a root travel together in a signed tree head: claim the
        # leaf is in another tree, with that tree's genuine root.
        size = data.draw(st.sampled_from([m for m in range(1, 301) if m != size and m > index]))
        root = BIG.root(size)
    elif attack == "wrong leaf":
        leaf = data.draw(st.sampled_from([leaf + b"!", entry(index + 1), b""]))
    else:
        root = data.draw(st.sampled_from([sha(root), BIG.root(size - 1), EMPTY_ROOT, leaf_hash(leaf)]))
    with pytest.raises(InvalidProof):
        verify_inclusion(leaf, index, size, proof, root)


CONSISTENCY_ATTACKS = [
    "flip a bit",
    "drop a node",
    "add a node",
    "wrong old size",
    "wrong new size",
    "wrong old root",
    "wrong new root",
    "swapped roots",
    "empty proof",
]


@settings(max_examples=400, deadline=None)
@given(st.integers(2, 300), st.data())
def test_any_tampered_consistency_proof_is_rejected(size: int, data: st.DataObject) -> None:
    old = data.draw(st.integers(1, size - 1), label="old size")
    proof = BIG.consistency_proof(old, size)
    old_root, new_root = BIG.root(old), BIG.root(size)
    attack = data.draw(st.sampled_from(CONSISTENCY_ATTACKS), label="attack")
    if attack == "flip a bit":
        which = data.draw(st.integers(0, len(proof) - 1))
        proof[which] = flip_bit(proof[which], data.draw(st.integers(0, 8 * HASH_SIZE - 1)))
    elif attack == "drop a node":
        proof.pop(data.draw(st.integers(0, len(proof) - 1)))
    elif attack == "add a node":
        extra = data.draw(st.sampled_from([sha(b"extra"), old_root, new_root, proof[0], bytes(32)]))
        proof.insert(data.draw(st.integers(0, len(proof))), extra)
    elif attack == "wrong old size":  # with that size's genuine root, as a tree head would carry it
        old = data.draw(st.sampled_from([m for m in range(1, size) if m != old] or [0]))
        old_root = BIG.root(old)
    elif attack == "wrong new size":
        size = data.draw(st.sampled_from([n for n in range(old + 1, 301) if n != size]))
        new_root = BIG.root(size)
    elif attack == "wrong old root":
        old_root = data.draw(st.sampled_from([sha(old_root), BIG.root(old + 1), EMPTY_ROOT]))
    elif attack == "wrong new root":
        new_root = data.draw(st.sampled_from([sha(new_root), BIG.root(size - 1), old_root]))
    elif attack == "swapped roots":
        old_root, new_root = new_root, old_root
    else:
        proof = []
    with pytest.raises(InvalidProof):
        verify_consistency(old, size, old_root, new_root, proof)


def test_malformed_proofs_sizes_and_ranges_raise_invalid_proof() -> None:
    log = build(10)
    root = log.root()
    bad_calls = [
        lambda: log.inclusion_proof(10),  # index out of range
        lambda: log.inclusion_proof(-1),
        lambda: log.inclusion_proof(3, 2),
        lambda: log.inclusion_proof(0, 11),  # size beyond the log
        lambda: log.inclusion_proof(1.0),  # type: ignore[arg-type]
        lambda: log.root(11),
        lambda: log.root(-1),
        lambda: log.root(True),  # type: ignore[arg-type]
        lambda: log.consistency_proof(8, 5),  # to an earlier size
        lambda: log.consistency_proof(3, 11),
        lambda: log.consistency_proof(-1, 5),
        lambda: log.leaf(10),
        lambda: log.leaves(5, 3),
        lambda: log.leaves(0, 11),
        lambda: inclusion_proof_length(3, 3),
        lambda: consistency_proof_length(5, 4),
        # Verifiers: a consistency proof to an earlier size, bad sizes, bad hashes.
        lambda: verify_consistency(8, 5, log.root(8), log.root(5), log.consistency_proof(5, 8)),
        lambda: verify_consistency(8, 5, log.root(8), log.root(5), []),
        lambda: verify_consistency(-1, 5, EMPTY_ROOT, log.root(5), []),
        lambda: verify_consistency(5, 5, log.root(5), log.root(5), [root]),  # equal sizes: empty proof
        lambda: verify_consistency(5, 5, log.root(5), log.root(6), []),
        lambda: verify_consistency(0, 5, root, log.root(5), []),  # size 0 has the empty root
        lambda: verify_consistency(0, 5, EMPTY_ROOT, log.root(5), [root]),
        lambda: verify_consistency(3, 5, log.root(3)[:31], log.root(5), log.consistency_proof(3, 5)),
        lambda: verify_consistency(
            3, 5, log.root(3), log.root(5), tuple(p.hex() for p in log.consistency_proof(3, 5))
        ),
        lambda: verify_consistency(3, 5, log.root(3), log.root(5), "not a list"),
        lambda: verify_inclusion(entry(0), 0, 10, [b"short"], root),
        lambda: verify_inclusion(entry(0), 10, 10, log.inclusion_proof(0), root),
        lambda: verify_inclusion(entry(0), -1, 10, log.inclusion_proof(0), root),
        lambda: verify_inclusion(entry(0), 0, 0, [], EMPTY_ROOT),
        lambda: verify_inclusion(entry(0), 0, 10, log.inclusion_proof(0), root.hex()),
        lambda: verify_inclusion("entry 0", 0, 10, log.inclusion_proof(0), root),
        lambda: verify_inclusion(entry(0), 0.0, 10, log.inclusion_proof(0), root),
    ]
    for call in bad_calls:
        with pytest.raises(InvalidProof):
            call()
    # Step 1 of RFC 9162 §2.1.3.2 matters: without it, "leaf 1 of a 1-leaf tree" would verify.
    with pytest.raises(InvalidProof, match="cannot be in a tree of 1 leaves"):
        verify_inclusion(b"x", 1, 1, [], L(b"x"))
    with pytest.raises(InvalidProof, match="cannot be in a tree of 4 leaves"):
        verify_inclusion(entry(4), 4, 4, [BIG.root(4)], N(BIG.root(4), L(entry(4))))
    # Steps 4a and 6a: a path longer than the tree is deep is refused as such.
    with pytest.raises(InvalidProof, match="more than a tree of 10 leaves needs"):
        verify_inclusion(entry(3), 3, 10, log.inclusion_proof(3) + [root], root)
    with pytest.raises(InvalidProof, match="more than 3 → 10 needs"):
        verify_consistency(3, 10, log.root(3), root, log.consistency_proof(3) + [root])
    # The edges that do verify.
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 10, EMPTY_ROOT, root, [])
    verify_consistency(10, 10, root, root, [])
    verify_inclusion(entry(0), 0, 1, [], L(entry(0)))
    with pytest.raises(MalformedEnvelope, match="must be bytes"):
        log.append("text")  # type: ignore[arg-type]


def test_a_root_alone_does_not_fix_the_tree_size() -> None:
    """Why size and root must come together from one signed tree head: the
    same path and root verify leaf 0 of 5, 6 or 7 leaves (RFC 9162 allows it)."""
    proof = BIG.inclusion_proof(0, 5)
    for size in (5, 6, 7):
        verify_inclusion(entry(0), 0, size, proof, BIG.root(5))
    with pytest.raises(InvalidProof):  # with the genuine root of 6 leaves, the claim fails
        verify_inclusion(entry(0), 0, 6, proof, BIG.root(6))


@FAST
@given(st.integers(2, 60).flatmap(lambda n: st.permutations(range(n))))
def test_reordered_leaves_change_the_root_and_fail_old_proofs(order: list[int]) -> None:
    n = len(order)
    if order == sorted(order):
        order = [1, 0, *order[2:]]
    reordered = MerkleLog(entry(i) for i in order)
    assert reordered.root() != BIG.root(n)
    for index in range(n):  # an old proof recomputes the old root, which is no longer the root
        with pytest.raises(InvalidProof):
            verify_inclusion(entry(index), index, n, BIG.inclusion_proof(index, n), reordered.root())
    first_moved = next(i for i in range(n) if order[i] != i)
    for old in range(first_moved + 1, n):  # the reordered log does not extend the old prefix
        with pytest.raises(InvalidProof):
            verify_consistency(old, n, BIG.root(old), reordered.root(), reordered.consistency_proof(old))


def test_costs_are_logarithmic(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = hashlib.sha256

    def counting(data: bytes = b"") -> hashlib._Hash:
        nonlocal calls
        calls += 1
        return real(data)

    monkeypatch.setattr(transparency, "_sha256", counting)
    n = 5_000
    log = build(n)
    assert calls <= 2 * n  # appends: one leaf hash and, amortised, one node hash
    depth = math.ceil(math.log2(n))
    rng = random.Random(3)
    for _ in range(50):
        size = rng.randrange(1, n + 1)
        calls = 0
        log.root(size)
        assert calls <= depth
        calls = 0
        log.inclusion_proof(rng.randrange(size), size)
        assert calls <= 2 * depth
        calls = 0
        log.consistency_proof(rng.randrange(size + 1), size)
        assert calls <= 2 * depth


def test_log_copy_is_independent() -> None:
    log = build(5)
    twin = log.copy()
    twin.append(b"only in the twin")
    assert log.size == 5 and twin.size == 6
    assert twin.root(5) == log.root() and log.leaves() == twin.leaves(0, 5)


# ---- bindings and tree heads ------------------------------------------------------------------
names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,20}", fullmatch=True)
bindings = st.builds(
    Binding,
    names,
    names,
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
    st.sampled_from(["add", "revoke"]),
    st.floats(min_value=0, max_value=4e9, allow_nan=False) | st.integers(0, 4 * 10**9),
)


@FAST
@given(bindings)
def test_binding_round_trips_and_is_canonical(binding: Binding) -> None:
    data = binding.to_bytes()
    assert Binding.from_bytes(data) == binding
    assert isinstance(binding.timestamp, float)
    expected = json.dumps(
        {
            "action": binding.action,
            "device": binding.device,
            "encryption_key": base64.b64encode(binding.encryption_key).decode(),
            "signing_key": base64.b64encode(binding.signing_key).decode(),
            "timestamp": binding.timestamp,
            "user": binding.user,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    assert data == expected


@FAST
@given(bindings, st.data())
def test_a_changed_byte_in_a_binding_is_an_error_or_a_different_binding(
    binding: Binding, data: st.DataObject
) -> None:
    raw = binding.to_bytes()
    position = data.draw(st.integers(0, len(raw) - 1))
    changed = bytearray(raw)
    changed[position] ^= data.draw(st.integers(1, 255))
    try:
        parsed = Binding.from_bytes(bytes(changed))
    except ToyChatError:
        return
    assert parsed != binding and leaf_hash(parsed.to_bytes()) != leaf_hash(raw)


def test_binding_validation_names_the_problem() -> None:
    key = bytes(32)
    good = Binding("bob", "phone", key, key, "add", 5.0)
    with pytest.raises(InvalidKey, match="exactly 32 bytes"):
        Binding("bob", "phone", b"short", key)
    with pytest.raises(InvalidKey, match="must be bytes"):
        Binding("bob", "phone", key, "k" * 32)  # type: ignore[arg-type]
    with pytest.raises(RegistrationError, match="user name"):
        Binding("bob smith", "phone", key, key)
    with pytest.raises(RegistrationError, match="device name"):
        Binding("bob", "my phone", key, key)
    with pytest.raises(MalformedEnvelope, match="'add' or 'revoke'"):
        Binding("bob", "phone", key, key, "delete")  # type: ignore[arg-type]
    for bad_time in (-1.0, float("nan"), float("inf"), True, "5"):
        with pytest.raises(MalformedEnvelope, match="timestamp"):
            Binding("bob", "phone", key, key, "add", bad_time)  # type: ignore[arg-type]
    with pytest.raises(InvalidKey):
        Binding.of("bob")  # type: ignore[arg-type]
    raw = good.to_bytes()
    malformed = [
        b"{}",
        b"[]",
        b"not json",
        b"\xff\xfe",
        raw.replace(b",", b", "),  # not compact
        raw.replace(b"5.0", b"5"),  # timestamp not written as a float
        raw.replace(b"5.0", b"NaN"),
        raw[:-1] + b',"extra":1}',
        raw.replace(b'"action":"add",', b""),
        raw.replace(
            b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1
        ),
        raw.replace(
            b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",
            1,
        ),
        b" " * 2000,
    ]
    for data in malformed:
        with pytest.raises(MalformedEnvelope):
            Binding.from_bytes(data)
    with pytest.raises(MalformedEnvelope):
        Binding.from_bytes(raw.decode())  # type: ignore[arg-type]
    with pytest.raises(InvalidKey):
        Binding.from_bytes(raw.replace(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", b"AAAA", 1))
    assert "bob" in repr(good) and "phone" in repr(good)


def test_tree_head_signature_round_trip_and_tampering() -> None:
    key = nacl.signing.SigningKey(bytes(range(32)))
    head = SignedTreeHead.sign(7, BIG.root(7), 1_700_000_000.0, key)
    head.verify(key.verify_key)
    head.verify(bytes(key.verify_key))  # a raw 32-byte key works too
    assert SignedTreeHead.from_bytes(head.to_bytes()) == head
    # The signed bytes name what they are, so no other signature of the operator's can pass as a tree head.
    assert transparency.TREE_HEAD_CONTEXT.encode() in head.signed_bytes()
    assert head.signed_bytes() == (
        b'{"context":"toychat key transparency tree head v1","root":"'
        + base64.b64encode(BIG.root(7))
        + b'","size":7,"timestamp":1700000000.0}'
    )
    rng = random.Random(4)
    tampered = [
        SignedTreeHead(head.size, head.root, head.timestamp, flip_bit(head.signature, bit))
        for bit in rng.sample(range(512), 64)
    ]
    tampered += [
        SignedTreeHead(8, head.root, head.timestamp, head.signature),
        SignedTreeHead(head.size, BIG.root(8), head.timestamp, head.signature),
        SignedTreeHead(head.size, head.root, head.timestamp + 1, head.signature),
        SignedTreeHead.sign(
            7, BIG.root(7), 1_700_000_000.0, nacl.signing.SigningKey.generate()
        ),  # another key
    ]
    for forged in tampered:
        with pytest.raises(InvalidProof, match="signature"):
            forged.verify(key.verify_key)
    with pytest.raises(InvalidProof, match="64 bytes"):
        SignedTreeHead(7, head.root, head.timestamp, head.signature[:-1])
    with pytest.raises(InvalidProof, match="32-byte"):
        SignedTreeHead(7, head.root[:-1], head.timestamp, head.signature)
    with pytest.raises(InvalidProof, match="negative"):
        SignedTreeHead(-1, head.root, head.timestamp, head.signature)
    reparsed = SignedTreeHead.from_bytes(head.to_bytes().replace(b'"size":7', b'"size":9'))
    with pytest.raises(InvalidProof):
        reparsed.verify(key.verify_key)
    for bad in (b"{}", b"nonsense", head.to_bytes().replace(b",", b", ")):
        with pytest.raises(InvalidProof):
            SignedTreeHead.from_bytes(bad)
    with pytest.raises(InvalidKey):
        head.verify("not a key")  # type: ignore[arg-type]
    with pytest.raises(InvalidKey):
        KeyDirectoryLog(b"not a key")  # type: ignore[arg-type]


# ---- the key directory -----------------------------------------------------------------------
def directory_with(
    users: list[str], rng: random.Random | None = None
) -> tuple[KeyDirectoryLog, dict[str, Binding]]:
    rng = rng or random.Random(0)
    directory = KeyDirectoryLog(nacl.signing.SigningKey(rng.randbytes(32)))
    own = {}
    for user in users:
        own[user] = random_binding(rng, user)
        directory.publish(own[user])
    return directory, own


def test_honest_lookup_verifies_and_tracks_adds_and_revokes() -> None:
    rng = random.Random(5)
    directory, own = directory_with(["alice", "bob", "carol"], rng)
    head, [(binding, index, proof)] = directory.lookup("bob")
    assert binding == own["bob"] and index == 1
    verify_lookup(binding, index, proof, head, directory.verify_key, user="bob")
    laptop = random_binding(rng, "bob", "laptop")
    directory.publish(laptop)
    directory.publish(
        Binding("bob", "phone", own["bob"].encryption_key, own["bob"].signing_key, "revoke", 9.0)
    )
    lookup = directory.lookup("bob")
    assert [entry.binding for entry in lookup.found] == [laptop]
    new_phone = random_binding(rng, "bob", "phone")
    directory.publish(new_phone)
    lookup = directory.lookup("bob")
    assert {e.binding.device: e.binding for e in lookup.found} == {"laptop": laptop, "phone": new_phone}
    for found in lookup.found:
        verify_lookup(found.binding, found.index, found.proof, lookup.head, directory.verify_key)
    assert directory.lookup("nobody").found == []
    assert directory.entries(3) == [laptop, directory.binding(4), new_phone]
    assert directory.entry_bytes(0, 1) == [own["alice"].to_bytes()]
    assert directory.bindings[1] == own["bob"]
    assert directory.tree_head(2).root == directory.log.root(2)
    with pytest.raises(RegistrationError):
        directory.lookup("not a name")
    with pytest.raises(MalformedEnvelope, match="Binding"):
        directory.publish(own["bob"].to_bytes())  # type: ignore[arg-type]
    for bad in (
        lambda: directory.entries(4, 2),
        lambda: directory.entries(0, 99),
        lambda: directory.tree_head(99),
    ):
        with pytest.raises(InvalidProof):
            bad()


def test_a_key_not_in_the_log_is_rejected() -> None:
    rng = random.Random(6)
    for trial in range(TRIALS):
        directory, own = directory_with(["alice", "bob", "carol"], rng)
        for _ in range(rng.randrange(0, 8)):
            directory.publish(random_binding(rng))
        head, [(real, index, proof)] = directory.lookup("bob")
        fake = random_binding(rng, "bob")  # handed out, never published
        other = rng.randrange(directory.size)
        attempts = [
            (fake, index, proof, head),
            (fake, other, directory.prove_inclusion(other), head),
            (fake, directory.size, [], head),
            (real, (index + 1) % directory.size, proof, head),
        ]
        # The operator signs a tree that does contain the fake key, but shows
        # that tree only to Alice: a split view, which gossip catches below.
        shown_to_alice = directory.fork()
        fake_index = shown_to_alice.publish(fake)
        alice_head = shown_to_alice.tree_head()
        attempts.append((fake, fake_index, shown_to_alice.prove_inclusion(fake_index), head))
        for binding, i, p, h in attempts:
            with pytest.raises(InvalidProof):
                verify_lookup(binding, i, p, h, directory.verify_key)
        with pytest.raises(InvalidProof, match="'carol'"):
            verify_lookup(
                own["carol"], 2, directory.prove_inclusion(2), head, directory.verify_key, user="bob"
            )
        # The forked tree head is genuinely signed, so the lookup alone passes...
        verify_lookup(
            fake, fake_index, shown_to_alice.prove_inclusion(fake_index), alice_head, directory.verify_key
        )
        # ...until Alice's head is compared with anyone's who sees the real log.
        directory.publish(random_binding(rng))
        with pytest.raises(InconsistentLog):
            gossip(alice_head, directory.tree_head(), directory, directory.verify_key)


def test_a_tree_head_from_another_key_is_rejected_by_verify_lookup() -> None:
    directory, own = directory_with(["alice", "bob"])
    impostor = KeyDirectoryLog(nacl.signing.SigningKey.generate())
    impostor.publish(own["bob"])
    head, [(binding, index, proof)] = impostor.lookup("bob")
    with pytest.raises(InvalidProof, match="signature"):
        verify_lookup(binding, index, proof, head, directory.verify_key)


# ---- monitors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("attack", ["ghost device", "swapped key"])
def test_monitor_catches_every_ghost_and_swap(attack: str) -> None:
    rng = random.Random(7 if attack == "ghost device" else 8)
    for trial in range(TRIALS):
        directory, own = directory_with(["alice", "bob", "carol"], rng)
        laptop = random_binding(rng, "bob", "laptop")
        directory.publish(laptop)
        devices = {(b.device, b.encryption_key, b.signing_key) for b in (own["bob"], laptop)}
        monitor = Monitor("bob", devices, directory.verify_key)
        for _ in range(rng.randrange(0, 3)):  # some honest growth, checked
            for _ in range(rng.randrange(0, 5)):
                directory.publish(random_binding(rng, device=rng.choice(["phone", "laptop", "ghost"])))
            monitor.check(directory)
        for _ in range(rng.randrange(0, 5)):
            directory.publish(random_binding(rng))
        device = (
            rng.choice(["ghost", "tablet", "phone-2"])
            if attack == "ghost device"
            else rng.choice(["phone", "laptop"])
        )
        intruder = random_binding(rng, "bob", device)
        directory.publish(intruder)
        if rng.random() < 0.3:  # try to hide it again before Bob's next check
            directory.publish(
                Binding("bob", device, intruder.encryption_key, intruder.signing_key, "revoke", 1.0)
            )
        for _ in range(rng.randrange(0, 5)):
            directory.publish(random_binding(rng))
        kind = "ghost" if attack == "ghost device" else "swapped key"
        with pytest.raises(UnexpectedKey, match=f"device '{device}'.*{kind}"):
            monitor.check(directory)
        with pytest.raises(UnexpectedKey):  # the alarm repeats until someone acts on it
            monitor.check(directory)


def test_monitor_accepts_honest_growth_and_counts_bytes() -> None:
    rng = random.Random(9)
    directory, own = directory_with(["alice", "bob"], rng)
    monitor = Monitor("bob", {"phone": own["bob"].keys}, directory.verify_key)
    expected = transparency.MonitoringCost()
    last_size = 0
    for round_ in range(6):
        for _ in range(rng.randrange(0, 20)):
            directory.publish(random_binding(rng, device="phone"))
        for look_alike in ("bob2", "abob", "Bob", "bob.b"):  # other users, however similar the name
            directory.publish(random_binding(rng, look_alike, "phone"))
        if round_ == 3:  # Bob really does add a tablet: he tells his monitor first
            tablet = random_binding(rng, "bob", "tablet")
            monitor.expect(tablet.device, tablet.encryption_key, tablet.signing_key)
            directory.publish(tablet)
            directory.publish(
                Binding("bob", "tablet", tablet.encryption_key, tablet.signing_key, "revoke", 2.0)
            )
        head = monitor.check(directory)
        expected.checks += 1
        expected.tree_heads += len(head.to_bytes())
        expected.proofs += 32 * consistency_proof_length(last_size, head.size) if round_ else 0
        expected.entries += sum(len(data) for data in directory.entry_bytes(last_size, head.size))
        last_size = head.size
    assert monitor.head == head and monitor.size == directory.size
    assert monitor.cost == expected and monitor.bytes_downloaded == expected.total > 0
    assert "check(s)" in str(monitor.cost)
    assert len(monitor._frontier._nodes) == directory.size.bit_count()  # O(log n) memory
    # A monitor fed the same pieces by hand reaches the same state.
    offline = Monitor(
        "bob", {"phone": (own["bob"].encryption_key, own["bob"].signing_key)}, bytes(directory.verify_key)
    )
    offline.expect(tablet.device, tablet.encryption_key, tablet.signing_key)
    first = directory.tree_head(5)
    offline.update(first, directory.entries(0, 5), [])
    offline.update(head, directory.entry_bytes(5, head.size), directory.prove_consistency(5, head.size))
    assert offline.head == head


def test_monitor_catches_rewritten_shrunk_and_misreported_logs() -> None:
    rng = random.Random(10)
    key = nacl.signing.SigningKey(rng.randbytes(32))
    directory = KeyDirectoryLog(key)
    entries = [random_binding(rng, name) for name in ("alice", "bob", "carol", "dan")]
    for binding in entries:
        directory.publish(binding)
    bob = entries[1]

    def fresh_monitor() -> Monitor:  # one that has checked the first four entries
        monitor = Monitor("bob", {(bob.device, bob.encryption_key, bob.signing_key)}, key.verify_key)
        monitor.update(directory.tree_head(4), directory.entries(0, 4), [])
        return monitor

    rewritten = KeyDirectoryLog(key)  # same operator key, history reordered
    for binding in [entries[0], entries[2], entries[1], entries[3], random_binding(rng, "erin")]:
        rewritten.publish(binding)
    with pytest.raises(InconsistentLog, match="rewrote its history"):
        fresh_monitor().check(rewritten)
    shrunk = KeyDirectoryLog(key)
    for binding in entries[:2]:
        shrunk.publish(binding)
    with pytest.raises(InconsistentLog, match="shrank"):
        fresh_monitor().check(shrunk)
    directory.publish(random_binding(rng, "erin"))
    head = directory.tree_head()
    proof = directory.prove_consistency(4, head.size)
    new = directory.entry_bytes(4)
    with pytest.raises(InconsistentLog, match="do not make up the signed tree"):
        fresh_monitor().update(head, [random_binding(rng, "erin").to_bytes()], proof)
    with pytest.raises(InconsistentLog, match="were served"):
        fresh_monitor().update(head, [], proof)
    with pytest.raises(InconsistentLog):
        fresh_monitor().update(head, new, proof[:-1])
    forged = SignedTreeHead.sign(head.size, head.root, head.timestamp, nacl.signing.SigningKey.generate())
    with pytest.raises(InvalidProof, match="signature"):
        fresh_monitor().update(forged, new, proof)
    fresh_monitor().update(head, new, proof)  # the genuine pieces pass
    with pytest.raises(InvalidKey):
        Monitor("bob", {"phone": b"not keys"}, key.verify_key)  # type: ignore[dict-item]
    with pytest.raises(RegistrationError):
        Monitor("bob", {"my phone": (bytes(32), bytes(32))}, key.verify_key)


# ---- gossip and auditors ------------------------------------------------------------------------
def test_gossip_catches_every_split_view() -> None:
    rng = random.Random(11)
    for trial in range(TRIALS):
        directory, _ = directory_with(["alice", "bob"], rng)
        for _ in range(rng.randrange(0, 20)):
            directory.publish(random_binding(rng))
        fork_point = directory.size
        shown_to_bob = directory.fork()
        for branch in (directory, shown_to_bob):  # each branch gets at least one entry of its own
            for _ in range(rng.randrange(1, 6)):
                branch.publish(random_binding(rng))
        head_a = directory.tree_head(rng.randrange(fork_point + 1, directory.size + 1))
        head_b = shown_to_bob.tree_head(rng.randrange(fork_point + 1, shown_to_bob.size + 1))
        source = rng.choice([directory, shown_to_bob, directory.log, shown_to_bob.prove_consistency])
        with pytest.raises(InconsistentLog):
            gossip(head_a, head_b, source, directory.verify_key)
        auditor_a, auditor_b = Auditor(directory.verify_key), Auditor(directory.verify_key)
        auditor_a.observe(head_a)
        auditor_b.observe(head_b)
        with pytest.raises(InconsistentLog):
            auditor_a.gossip_with(auditor_b, source)


def test_gossip_accepts_one_honest_log_seen_at_different_times() -> None:
    rng = random.Random(12)
    directory, _ = directory_with(["alice", "bob"], rng)
    auditor = Auditor(directory.verify_key)
    heads = []
    for _ in range(10):
        for _ in range(rng.randrange(0, 30)):
            directory.publish(random_binding(rng))
        heads.append(directory.tree_head())
        auditor.observe(heads[-1], directory)
    assert auditor.head == heads[-1]
    assert auditor.cost.proofs > 0 and auditor.cost.checks == 10
    for first, second in zip(heads, reversed(heads)):
        newer = gossip(first, second, directory, directory.verify_key)
        assert newer.size == max(first.size, second.size)
    old, new = heads[0], heads[-1]
    gossip(
        old, new, directory.prove_consistency(old.size, new.size), directory.verify_key
    )  # the proof itself
    gossip(new, new, None, directory.verify_key)  # equal heads need no proof
    with pytest.raises(InvalidProof, match="consistency proof"):
        gossip(old, new, None, directory.verify_key)
    other = Auditor(bytes(directory.verify_key))
    other.gossip_with(auditor, directory)
    assert other.head == auditor.head
    forged = SignedTreeHead(new.size, new.root, new.timestamp, flip_bit(new.signature, 0))
    with pytest.raises(InvalidProof, match="signature"):
        gossip(old, forged, directory, directory.verify_key)
    with pytest.raises(InvalidProof):
        auditor.observe(forged, directory)


def test_flat_log_monitoring_cost_arithmetic() -> None:
    cost = flat_log_monitoring_cost(1_000, 240, checks=24, entry_bytes=200)
    assert cost.entries == 240 * 200 and cost.checks == 24
    assert cost.proofs == sum(
        32 * consistency_proof_length(1_000 + 10 * i, 1_010 + 10 * i) for i in range(24)
    )
    assert proof_bytes(BIG.inclusion_proof(0)) == 32 * inclusion_proof_length(0, 300)
    for bad in ((-1, 5, 1), (5, 5, 0)):
        with pytest.raises(TransparencyError):
            flat_log_monitoring_cost(*bad)


def test_the_modules_doctests_pass() -> None:
    result = doctest.testmod(transparency, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 10
