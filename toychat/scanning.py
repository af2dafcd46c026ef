"""Scanning studies: hash-list matching on the server and on the device.

A *scanner* compares pictures against a list of hashes of known prohibited
images — in this course, the synthetic stand-in set of
:func:`toychat.images.stand_in_set`; never real material.

* :class:`HashListScanner` plugs into :class:`toychat.server.Server` (its
  ``scanners`` list).  On the plaintext platform it sees each picture and
  matches edited copies by perceptual hash; on the E2EE platform it sees only
  ciphertext, which is neither a picture nor ever the same twice.
* :func:`server_side_detection` measures exactly that: the share of stand-in
  images (plain and edited) the server flags on each platform.

Lesson 06 uses these; lesson 07 moves the scanner onto the device.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import hashing
from .client import Client
from .clock import SimulatedClock
from .images import EDITS, apply_edit, decode_png, encode_png, lookalikes, stand_in_set
from .keys import Identity
from .server import Server
from .wire import Envelope

__all__ = ["HashListScanner", "ExactCiphertextScanner", "server_side_detection", "DEFAULT_THRESHOLD"]

#: Default Hamming threshold for 64-bit hashes (10 of 64 bits, about PDQ's 31/256 ratio).
DEFAULT_THRESHOLD = 8


class HashListScanner:
    """Flags PNG pictures whose perceptual hash is within ``threshold`` of a listed hash.

    ``known`` are the listed *images* (hashed here with ``hasher``).  Called
    with an :class:`~toychat.wire.Envelope`, it returns a label for a match
    and ``None`` otherwise — including when the payload is not a readable
    picture, which is all it ever gets on the E2EE platform.
    """

    def __init__(self, known: Sequence[np.ndarray] | np.ndarray, *, threshold: int = DEFAULT_THRESHOLD, hasher: str = "dct") -> None:
        self.hasher = hashing.HASHERS[hasher]
        self.matcher = hashing.Matcher(self.hasher(known), threshold)
        self.__name__ = f"{hasher}_hash_list_scanner"

    def scan_image(self, image: np.ndarray) -> int:
        """Hamming distance from ``image`` to the nearest listed hash."""
        return int(self.matcher.distances(self.hasher([image]))[0])

    def __call__(self, envelope: Envelope) -> str | None:
        if envelope.extras.get("type") != "image/png":
            return None
        try:
            image = decode_png(envelope.payload)  # ciphertext is not a PNG: nothing to hash
        except ValueError:
            return None
        distance = self.scan_image(image)
        return f"matched a listed hash at distance {distance}" if distance <= self.matcher.threshold else None


class ExactCiphertextScanner:
    """The only kind of matching left on E2EE traffic: SHA-256 of the payload bytes
    against the hashes of payloads seen before (for example, a copy forwarded on).

    Because every encryption uses a fresh random nonce, the same picture sent
    twice gives unrelated ciphertexts, and this scanner never fires.
    """

    __name__ = "exact_ciphertext_scanner"

    def __init__(self, listed_payload_hashes: set[str]) -> None:
        self.listed = set(listed_payload_hashes)

    def __call__(self, envelope: Envelope) -> str | None:
        digest = hashing.hashlib.sha256(envelope.payload).hexdigest()
        return "ciphertext seen before" if digest in self.listed else None


def server_side_detection(
    n_images: int = 40,
    *,
    edits: Sequence[str] = tuple(EDITS),
    threshold: int = DEFAULT_THRESHOLD,
    hasher: str = "dct",
    seed: int = 0,
) -> pd.DataFrame:
    """Send stand-in images (as they are, and after each edit) and innocent
    look-alikes through a scanning server on each platform; count the flags.

    Returns one row per (platform, what was sent): images sent, images flagged,
    and the detection rate (for the look-alikes, the false-positive rate).
    """
    listed = stand_in_set(n_images, seed)
    batches: dict[str, list[np.ndarray]] = {"listed image, unedited": list(listed)}
    for index, edit in enumerate(edits):
        batches[f"listed image, {edit}"] = apply_edit(listed, edit, seed=seed * 1000 + index)
    batches["innocent look-alike"] = list(lookalikes(n_images, seed))
    rows = []
    for mode in ("plaintext", "e2ee"):
        for what, images in batches.items():
            scanner = HashListScanner(listed, threshold=threshold, hasher=hasher)
            server = Server(mode=mode, clock=SimulatedClock(), scanners=[scanner])  # type: ignore[arg-type]
            alice = Client("alice", server, identity=Identity.from_label("alice", "scanning"))
            Client("bob", server, identity=Identity.from_label("bob", "scanning"))
            for image in images:
                alice.send("bob", encode_png(image), content_type="image/png")
            flagged = len(server.flags)
            rows.append(
                {
                    "platform": "plaintext" if mode == "plaintext" else "E2EE",
                    "sent": what,
                    "images": len(images),
                    "flagged": flagged,
                    "rate": flagged / len(images),
                }
            )
    return pd.DataFrame(rows)
