"""Chat throughput: messages per second through the toy chat against raw PyNaCl
calls doing the same cryptographic work (Box encrypt + decrypt, sign + verify)."""

from __future__ import annotations

import nacl.public
import nacl.signing

from toychat import Client, Server

from .core import Result, median_seconds

SIZES = (100, 1024, 65536)
TARGET_RATIO = 1.5


def run(quick: bool = False) -> list[Result]:
    results = []
    for size in SIZES:
        text = "x" * size
        data = text.encode()
        number = 20 if quick else (2000 if size < 65536 else 300)
        repeat = 2 if quick else 5

        server = Server()
        alice, bob = Client("alice", server), Client("bob", server)

        def toy() -> None:
            alice.send("bob", text)
            bob.receive()

        a, b = nacl.public.PrivateKey.generate(), nacl.public.PrivateKey.generate()
        ab, ba = nacl.public.Box(a, b.public_key), nacl.public.Box(b, a.public_key)
        signer = nacl.signing.SigningKey.generate()
        verifier = signer.verify_key

        def raw() -> None:
            sealed = ab.encrypt(data)
            verifier.verify(signer.sign(sealed))
            ba.decrypt(sealed)

        toy_s = median_seconds(toy, repeat=repeat, number=number)
        raw_s = median_seconds(raw, repeat=repeat, number=number)
        ratio = toy_s / raw_s
        results.append(
            Result(
                "Chat throughput (E2EE, signed)", f"{size:,} B message", 1 / toy_s, "messages/s",
                "raw PyNaCl Box+sign+verify", 1 / raw_s,
                target=f"toy time ≤ {TARGET_RATIO}× raw at 1 KiB" if size == 1024 else "",
                met=(ratio <= TARGET_RATIO) if size == 1024 and not quick else None,
                note=f"toy takes {ratio:.2f}× the raw calls' time",
            )
        )
    return results
