"""Chat throughput: messages per second through the toy chat against raw PyNaCl
calls doing the same cryptographic work on the same sizes.

One toy message (``alice.send`` then ``bob.receive``) does this cryptography:

* Alice encrypts (a ``Box``, or with the ratchet two HMAC-SHA256 chain steps
  and XChaCha20-Poly1305) and signs the envelope with Ed25519;
* the transport layer (the toy's TLS) seals the envelope on Alice's
  connection, the server opens it, checks the signature, and seals it again
  on Bob's connection;
* Bob opens the transport record, checks the signature and decrypts.

The baseline makes exactly those calls on buffers of the same lengths (the
envelope's, the payload's), so the ratio is the toy's own overhead: envelopes,
canonical JSON and base64, validation, and the server's bookkeeping.  A second,
narrower baseline (Box + sign + verify once, on the message alone) is kept in
the notes because the first results file used it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import nacl.bindings
import nacl.public
import nacl.secret
import nacl.signing
import nacl.utils

from toychat import Client, Server

from .core import Result, median_seconds, paired_median_seconds

NAME = "Chat throughput (E2EE, signed)"
FLOOR = "raw PyNaCl (and hmac) calls doing the same cryptography on buffers of the same lengths (the baseline column)"
SIZES = (100, 1024, 65536)
TARGET_RATIO = 1.5
_AEAD_NONCE = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#: The ratchet's associated data for "alice" → "bob": the names (``toychat.sessions.associated_data``)
#: and the 40-byte header.
_RATCHET_AD = len(b"alice->bob") + 40


def _boxes_and_signer() -> tuple[nacl.public.Box, nacl.public.Box, nacl.signing.SigningKey]:
    """Alice's and Bob's Boxes for each other, and a signing key: the raw calls' keys."""
    a, b = nacl.public.PrivateKey.generate(), nacl.public.PrivateKey.generate()
    return nacl.public.Box(a, b.public_key), nacl.public.Box(b, a.public_key), nacl.signing.SigningKey.generate()


def _raw_calls(size: int, envelope_size: int, ratchet: bool, signed_size: int | None = None) -> Callable[[], None]:
    """One message's cryptography, as bare PyNaCl (and hmac) calls.

    The transport seals the whole envelope (``envelope_size`` bytes); the signature covers
    the envelope without its signature member (``signed_size`` bytes, as
    :meth:`~toychat.wire.Envelope.signed_bytes`; the whole envelope if not given).
    """
    data, envelope = bytes(size), bytes(envelope_size)
    signed = bytes(envelope_size if signed_size is None else signed_size)
    ab, ba, signer = _boxes_and_signer()
    verifier = signer.verify_key
    alice_link, bob_link = nacl.secret.SecretBox(bytes(32)), nacl.secret.SecretBox(bytes(range(32)))
    chain = bytes(32)
    associated = bytes(_RATCHET_AD)

    def transport_and_signatures() -> None:
        signature = signer.sign(signed).signature  # Alice
        alice_link.decrypt(alice_link.encrypt(envelope))
        verifier.verify(signed, signature)  # the server checks the sender
        bob_link.decrypt(bob_link.encrypt(envelope))
        verifier.verify(signed, signature)  # Bob checks the sender

    if not ratchet:

        def raw() -> None:
            ba.decrypt(ab.encrypt(data))
            transport_and_signatures()

        return raw

    def raw_ratchet() -> None:
        key = hmac.new(chain, b"\x01", hashlib.sha256).digest()  # Alice's chain step
        hmac.new(chain, b"\x02", hashlib.sha256).digest()
        nonce = nacl.utils.random(_AEAD_NONCE)
        sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(data, associated, nonce, key)
        key = hmac.new(chain, b"\x01", hashlib.sha256).digest()  # Bob's chain step
        hmac.new(chain, b"\x02", hashlib.sha256).digest()
        nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, associated, nonce, key)
        transport_and_signatures()

    return raw_ratchet


def _narrow_raw(size: int) -> Callable[[], None]:
    """The first results file's baseline: Box encrypt + sign + verify + decrypt of the message."""
    data = bytes(size)
    ab, ba, signer = _boxes_and_signer()

    def raw() -> None:
        sealed = ab.encrypt(data)
        signer.verify_key.verify(signer.sign(sealed))
        ba.decrypt(sealed)

    return raw


def run(quick: bool = False) -> list[Result]:
    results = []
    for ratchet in (False, True):
        benchmark = "Chat throughput (E2EE, signed, Double Ratchet)" if ratchet else "Chat throughput (E2EE, signed)"
        for size in SIZES:
            text = "x" * size
            number = 20 if quick else (1000 if size < 65536 else 150)
            repeat = 2 if quick else 5
            server = Server()
            alice = Client("alice", server, forward_secrecy=ratchet)
            bob = Client("bob", server, forward_secrecy=ratchet)
            alice.send("bob", text)  # the first message carries the ratchet's set-up; time the steady state
            bob.receive()
            sample = alice.compose("bob", text)
            envelope_size, signed_size = len(sample.to_bytes()), len(sample.signed_bytes())

            def toy(alice: Client = alice, bob: Client = bob, text: str = text) -> None:
                alice.send("bob", text)
                bob.receive()

            toy_s, raw_s = paired_median_seconds(
                toy, _raw_calls(size, envelope_size, ratchet, signed_size), repeat=repeat, number=number
            )
            ratio = toy_s / raw_s
            note = (
                f"toy takes {ratio:.2f}× the same cryptography: {raw_s * 1e6:,.0f} µs of cryptography + "
                f"{(toy_s - raw_s) * 1e6:,.0f} µs of envelopes, JSON and base64, checks and bookkeeping "
                f"(envelope {envelope_size:,} B)"
            )
            if not ratchet:
                narrow_s = median_seconds(_narrow_raw(size), repeat=repeat, number=number)  # context only
                note += f"; {toy_s / narrow_s:.2f}× a bare Box + one sign/verify of the message"
            results.append(
                Result(
                    benchmark,
                    f"{size:,} B message",
                    1 / toy_s,
                    "messages/s",
                    "raw calls, same cryptography",
                    1 / raw_s,
                    target=f"toy time ≤ {TARGET_RATIO}× raw at 1 KiB" if size == 1024 else "",
                    met=(ratio <= TARGET_RATIO) if size == 1024 and not quick else None,
                    note=note,
                )
            )
    return results
