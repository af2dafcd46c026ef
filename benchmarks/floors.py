"""The machine floor: two fixed pieces of work timed just before each benchmark section,
so a figure can be set against the speed of the machine it was measured on.

Every section also has its own floor (its baseline column: raw PyNaCl calls, bare
SHA-256, an empty notebook, ...); these two are the same for all sections, so a
section without a natural baseline (the relay's CPU per message, say) can still be
read as "so many Ed25519 checks' worth" on any machine.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import nacl.signing

#: The block SHA-256 is timed on, and how many of them.
BLOCK = bytes(1024)
BLOCKS = 2_000
#: Ed25519 signature checks timed.
CHECKS = 200


def _best_of(repeat: int, fn: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def machine_floor(repeat: int = 3) -> dict[str, float]:
    """SHA-256 throughput on 1 KiB blocks (MB/s) and Ed25519 checks per second, each the
    best of ``repeat`` timings (the least disturbed by other work on the machine)."""
    signer = nacl.signing.SigningKey(bytes(32))
    signed = signer.sign(BLOCK)
    verify_key = signer.verify_key

    def hashes() -> None:
        for _ in range(BLOCKS):
            hashlib.sha256(BLOCK).digest()

    def checks() -> None:
        for _ in range(CHECKS):
            verify_key.verify(signed)

    return {
        "sha256_mb_s": BLOCKS * len(BLOCK) / _best_of(repeat, hashes) / 1e6,
        "ed25519_checks_s": CHECKS / _best_of(repeat, checks),
    }


def describe(floor: dict[str, float]) -> str:
    """The floor as the results file states it.

    >>> describe({"sha256_mb_s": 512.3, "ed25519_checks_s": 20123.4})
    'SHA-256 512 MB/s on 1 KiB blocks, 20,123 Ed25519 signature checks/s (one core, best of 3)'
    """
    return (
        f"SHA-256 {floor['sha256_mb_s']:,.0f} MB/s on 1 KiB blocks, "
        f"{floor['ed25519_checks_s']:,.0f} Ed25519 signature checks/s (one core, best of 3)"
    )
