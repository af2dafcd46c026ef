"""Key transparency at scale: appends, inclusion proofs and their verification for a
log of a million bindings, with proof sizes to set beside CONIKS's published figures.

Each speed has a floor measured in the same run: bare SHA-256 of the leaves for
appends; for proof generation, the node hashes a proof must compute (the
incomplete subtrees on the log's right edge, counted on the same sample, each
timed as a bare SHA-256 of 65 bytes), so that per-level Python overhead, which
made proofs about five times slower than their hashes explain, shows as a
ratio on any machine.
"""

from __future__ import annotations

import hashlib
import random
import time

from toychat import transparency
from toychat.keys import Identity
from toychat.transparency import Binding, KeyDirectoryLog, MerkleLog, verify_consistency, verify_inclusion

from .core import Result, median_seconds

NAME = "Key transparency (flat Merkle log)"
FLOOR = "bare SHA-256 (of each leaf; of a node's 65 bytes) and an Ed25519 check, measured in the same run"


def node_hashes_per_proof(log: MerkleLog, indices: list[int]) -> float:
    """How many node hashes ``log.inclusion_proof`` computes per proof over ``indices``
    (counted by wrapping :func:`toychat.transparency.node_hash`, not derived)."""
    calls = 0
    original = transparency.node_hash

    def counting(left: bytes, right: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return original(left, right)

    transparency.node_hash = counting
    try:
        for i in indices:
            log.inclusion_proof(i)
    finally:
        transparency.node_hash = original
    return calls / len(indices)


def _proof_rows(log: MerkleLog, sample: list[int], label: str) -> Result:
    """Proof generation over ``sample`` against its floor: the node hashes it computes, bare."""
    per_proof = node_hashes_per_proof(log, sample)
    left, right = bytes(32), bytes(range(32))
    hashes = max(1, round(per_proof * len(sample)))
    proof_s = median_seconds(lambda: [log.inclusion_proof(i) for i in sample], repeat=5) / len(sample)
    floor_s = median_seconds(
        lambda: [hashlib.sha256(b"\x01" + left + right).digest() for _ in range(hashes)], repeat=5
    ) / len(sample)
    return Result(
        "Key transparency (flat Merkle log)",
        f"inclusion proof generation, {label}",
        1 / proof_s,
        "proofs/s",
        "its node hashes alone (bare SHA-256)",
        1 / floor_s,
        note=f"{per_proof:.2f} node hashes per proof on average (the log's incomplete right edge); "
        f"a proof takes {proof_s / floor_s:.1f}× the time of those hashes, the rest being one list "
        "look-up per level of the tree",
    )


def run(quick: bool = False) -> list[Result]:
    n = 2_000 if quick else 1_000_000
    template = Binding.of(Identity.from_label("bench", "transparency").public).to_bytes()
    leaves = [template + i.to_bytes(4, "big") for i in range(n)]

    start = time.perf_counter()
    log = MerkleLog()
    for leaf in leaves:
        log.append(leaf)
    append_s = (time.perf_counter() - start) / n
    start = time.perf_counter()
    for leaf in leaves:
        hashlib.sha256(b"\x00" + leaf).digest()
    hash_s = (time.perf_counter() - start) / n

    rng = random.Random(1)
    sample = [rng.randrange(n) for _ in range(200 if quick else 2000)]
    root = log.root()
    proofs = {i: log.inclusion_proof(i) for i in sample[:50]}
    # A small log too: the same code without a big log's memory traffic (its hashes are
    # scattered over hundreds of MiB at a million entries).
    small_n = 200 if quick else 2_000
    small = MerkleLog()
    for leaf in leaves[:small_n]:
        small.append(leaf)
    generation = [
        _proof_rows(log, sample, f"log of {n:,}"),
        _proof_rows(small, [rng.randrange(small_n) for _ in range(len(sample))], f"log of {small_n:,}"),
    ]
    verify_s = median_seconds(
        lambda: [verify_inclusion(leaves[i], i, n, proofs[i], root) for i in proofs], repeat=3
    ) / len(proofs)
    directory = KeyDirectoryLog()
    head = directory.tree_head()
    sth_s = median_seconds(lambda: head.verify(directory.verify_key), repeat=3, number=200)
    old = n // 2
    consistency = log.consistency_proof(old)
    verify_consistency(old, n, log.root(old), root, consistency)
    inclusion_bytes = 32 * max(len(p) for p in proofs.values())
    return [
        Result(
            "Key transparency (flat Merkle log)",
            f"append, log of {n:,}",
            1 / append_s,
            "appends/s",
            "SHA-256 of each leaf alone",
            1 / hash_s,
            note="appending also hashes the completed subtrees",
        ),
        *generation,
        Result(
            "Key transparency (flat Merkle log)",
            "inclusion proof verification",
            1 / verify_s,
            "proofs/s",
            "Ed25519 check of the signed tree head",
            1 / sth_s,
        ),
        Result(
            "Key transparency (flat Merkle log)",
            f"inclusion proof size at {n:,} entries",
            inclusion_bytes,
            "bytes",
            note="CONIKS: monitoring 'less than 20 kB per day' per user "
            "(Melara et al. 2015, docs/references.md#melara2015)",
        ),
        Result(
            "Key transparency (flat Merkle log)",
            f"consistency proof size, {old:,} → {n:,}",
            32 * len(consistency),
            "bytes",
            note="CONIKS: auditing 'a constant 2.5 kB per provider per day' "
            "(Melara et al. 2015, docs/references.md#melara2015)",
        ),
        Result(
            "Key transparency (flat Merkle log)",
            "one binding entry",
            len(template),
            "bytes",
            note="our flat-log monitor downloads every new entry; prefix trees avoid that",
        ),
    ]
