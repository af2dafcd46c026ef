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
* :class:`ClientSideScanner` moves the matching onto the sender's phone,
  before encryption, with a per-account threshold; :func:`evade`,
  :func:`force_collision`, :func:`false_positive_table` and :func:`meme_set`
  measure how it fails: evasion, framing, false positives at scale, and
  scope creep.

Lesson 06 uses the first part; lesson 07 the second.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from PIL import Image

from . import hashing
from .client import Client, OutgoingHook
from .clock import SimulatedClock
from .images import (
    EDITS,
    apply_edit,
    decode_png,
    encode_png,
    generate_images,
    lookalike_batches,
    lookalikes,
    stand_in_batches,
    stand_in_set,
)
from .keys import Identity
from .server import Server
from .wire import Envelope

__all__ = [
    "DEFAULT_THRESHOLD",
    "HashListScanner",
    "ExactCiphertextScanner",
    "server_side_detection",
    "detection_batches",
    "ClientSideScanner",
    "AccountReport",
    "client_side_detection",
    "SearchResult",
    "evade",
    "force_collision",
    "search_summary",
    "false_positive_table",
    "stand_in_hashes",
    "lookalike_hashes",
    "binomial_tail",
    "account_false_flag_probability",
    "meme_set",
]

#: Default Hamming threshold for 64-bit hashes (10 of 64 bits, about PDQ's 31/256 ratio).
DEFAULT_THRESHOLD = 8


class HashListScanner:
    """Flags PNG pictures whose perceptual hash is within ``threshold`` of a listed hash.

    ``known`` are the listed *images* (hashed here with ``hasher``).  Called
    with an :class:`~toychat.wire.Envelope`, it returns a label for a match
    and ``None`` otherwise — including when the payload is not a readable
    picture, which is all it ever gets on the E2EE platform.
    """

    def __init__(
        self, known: Sequence[np.ndarray] | np.ndarray, *, threshold: int = DEFAULT_THRESHOLD, hasher: str = "dct"
    ) -> None:
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
        digest = hashlib.sha256(envelope.payload).hexdigest()
        return "ciphertext seen before" if digest in self.listed else None


def detection_batches(n_images: int, edits: Sequence[str], seed: int) -> tuple[np.ndarray, dict[str, list[np.ndarray]]]:
    """The listed stand-ins, and what the detection studies send: the listed
    pictures as they are, after each edit, and innocent look-alikes."""
    listed = stand_in_set(n_images, seed)
    batches: dict[str, list[np.ndarray]] = {"listed image, unedited": list(listed)}
    for index, edit in enumerate(edits):
        batches[f"listed image, {edit}"] = apply_edit(listed, edit, seed=seed * 1000 + index)
    batches["innocent look-alike"] = list(lookalikes(n_images, seed))
    return listed, batches


@lru_cache(maxsize=2)
def _encoded_batches(
    n_images: int, edits: tuple[str, ...], seed: int
) -> tuple[np.ndarray, dict[str, tuple[bytes, ...]]]:
    """:func:`detection_batches` with every picture encoded as PNG once, for both studies and
    both platforms to send (encoding was most of their time).  Read-only: callers must not
    change what it returns."""
    listed, batches = detection_batches(n_images, edits, seed)
    return listed, {what: tuple(encode_png(image) for image in images) for what, images in batches.items()}


def _send_pictures(server: Server, pngs: Sequence[bytes], outgoing_hooks: list[OutgoingHook] | None = None) -> None:
    """Alice sends every picture (PNG bytes) to Bob on ``server``."""
    alice = Client("alice", server, identity=Identity.from_label("alice", "scanning"), outgoing_hooks=outgoing_hooks)
    Client("bob", server, identity=Identity.from_label("bob", "scanning"))
    for png in pngs:
        alice.send("bob", png, content_type="image/png")


def _row(platform: str, what: str, images: Sequence[object], flagged: int) -> dict[str, object]:
    return {
        "platform": platform,
        "sent": what,
        "images": len(images),
        "flagged": flagged,
        "rate": flagged / len(images),
    }


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
    listed, batches = _encoded_batches(n_images, tuple(edits), seed)
    rows = []
    for mode in ("plaintext", "e2ee"):
        for what, images in batches.items():
            scanner = HashListScanner(listed, threshold=threshold, hasher=hasher)
            server = Server(mode=mode, clock=SimulatedClock(), scanners=[scanner])
            _send_pictures(server, images)
            rows.append(_row("plaintext" if mode == "plaintext" else "E2EE", what, images, len(server.flags)))
    return pd.DataFrame(rows)


# ---- client-side scanning ------------------------------------------------------------------
@dataclass(frozen=True)
class AccountReport:
    """What the platform learns when an account crosses the match threshold."""

    account: str
    matches: int
    list_name: str


class ClientSideScanner:
    """Hash matching **on the sender's phone, before encryption** (lesson 07).

    Plug it into a client as an outgoing hook:
    ``Client(..., outgoing_hooks=[scanner])``.  Each outgoing picture is hashed
    and compared with the loaded list; matches are counted per account, and
    the platform learns about an account only once it reaches
    ``account_threshold`` matches — Apple's 2021 design used an initial
    threshold of 30 (Apple, "Security Threat Model Review", 2021; see references:
    docs/references.md#apple2021b).

    What this simplifies: Apple hid each match from the server with private
    set intersection and threshold secret sharing, so that nothing at all is
    learnt below the threshold; here the phone simply counts and reports at
    the threshold.  The list is whatever the operator loads — the scanner
    cannot tell a list of abuse images from any other (see :func:`meme_set`).
    """

    def __init__(
        self,
        listed: Sequence[np.ndarray] | np.ndarray,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        account_threshold: int = 30,
        hasher: str = "dct",
        list_name: str = "synthetic stand-in list",
    ) -> None:
        self.hasher = hashing.HASHERS[hasher]
        self.matcher = hashing.Matcher(self.hasher(listed), threshold)
        self.account_threshold = account_threshold
        self.list_name = list_name
        self.matches: dict[str, int] = {}
        self.reports: list[AccountReport] = []
        self.scanned = 0

    def __call__(self, sender: str, recipient: str, content_type: str, data: bytes) -> None:
        if content_type != "image/png":
            return
        try:
            image = decode_png(data)
        except ValueError:
            return
        self.scanned += 1
        if self.matcher.matches(self.hasher([image]))[0]:
            self.matches[sender] = self.matches.get(sender, 0) + 1
            if self.matches[sender] == self.account_threshold:
                self.reports.append(AccountReport(sender, self.matches[sender], self.list_name))


def client_side_detection(
    n_images: int = 40, *, edits: Sequence[str] = tuple(EDITS), threshold: int = DEFAULT_THRESHOLD, seed: int = 0
) -> pd.DataFrame:
    """Stand-in images (plain and edited) and look-alikes sent on the **E2EE**
    platform by a phone with a client-side scanner: the share matched per kind."""
    listed, batches = _encoded_batches(n_images, tuple(edits), seed)
    rows = []
    for what, images in batches.items():
        scanner = ClientSideScanner(listed, threshold=threshold, account_threshold=1)
        _send_pictures(Server(mode="e2ee", clock=SimulatedClock()), images, outgoing_hooks=[scanner])
        rows.append(_row("E2EE + client-side scanning", what, images, scanner.matches.get("alice", 0)))
    return pd.DataFrame(rows)


# ---- perturbation searches: evasion and forced collisions -----------------------------------
@dataclass(frozen=True)
class SearchResult:
    """The outcome of one perturbation search on one image."""

    success: bool
    start_distance: int
    final_distance: int
    steps: int
    mean_abs_change: float
    max_abs_change: float
    image: np.ndarray


@lru_cache(maxsize=4)
def _low_frequency_patterns(size: int, count: int = 8) -> np.ndarray:
    """Smooth cosine patterns (a 2-D DCT basis), ``(count², size, size)``, values in [-1, 1]."""
    x = (np.arange(size) + 0.5) / size
    waves = np.cos(np.pi * np.arange(count)[:, None] * x[None, :])  # (count, size)
    patterns: np.ndarray = np.einsum("ui,vj->uvij", waves, waves).reshape(count * count, size, size)
    return patterns


def _perturbed(planes: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """The picture whose channels are ``planes`` (channel first) plus ``delta``, rounded and
    clipped to uint8, as an ordinary ``(size, size, 3)`` picture."""
    picture = np.empty((*delta.shape, len(planes)), dtype=np.uint8)
    for channel, plane in enumerate(planes):
        picture[..., channel] = np.clip(np.rint(plane + delta), 0, 255)  # truncated to uint8
    return picture


def _search(
    image: np.ndarray,
    target: np.ndarray,
    goal: Callable[[int], bool],
    better: Callable[[int, int], bool],
    *,
    hasher: str,
    max_change: float,
    step_size: float,
    max_steps: int,
    candidates: int,
    seed: int,
) -> SearchResult:
    if image.shape[0] != image.shape[1]:
        raise ValueError("the perturbation search works on square images")
    rng = np.random.default_rng(seed)
    hash_fn = hashing.HASHERS[hasher]
    patterns = _low_frequency_patterns(image.shape[0])
    original = image.astype(np.float32)
    # The change is the same in every colour channel, so it is kept as one (size, size) plane and
    # added to the picture's channels as planes (channel first): the same float64 sums, bit for
    # bit, as broadcasting it over (size, size, 3), whose 3-long inner loop made this slow.
    planes = np.ascontiguousarray(original.transpose(2, 0, 1))
    delta = np.zeros(image.shape[:2])
    distance = start = int(hashing.hamming(hash_fn([image])[0], target))
    steps = 0
    while not goal(distance) and steps < max_steps:
        steps += 1
        picks = rng.integers(0, len(patterns), candidates)
        signs = rng.choice([-1.0, 1.0], candidates)
        trial_deltas = [
            np.clip(delta + sign * step_size * patterns[p], -max_change, max_change)
            for p, sign in zip(picks, signs, strict=True)
        ]
        trials = [_perturbed(planes, d) for d in trial_deltas]
        distances = hashing.hamming(hash_fn(trials), target)
        best = int(np.argmax(distances) if better(1, 0) else np.argmin(distances))
        if better(int(distances[best]), distance) or (distances[best] == distance and rng.random() < 0.3):
            distance, delta = int(distances[best]), trial_deltas[best]
    final = np.clip(np.rint(original + delta[..., None]), 0, 255).astype(np.uint8)
    change = np.abs(final.astype(np.float32) - original)
    return SearchResult(goal(distance), start, distance, steps, float(change.mean()), float(change.max()), final)


def evade(
    image: np.ndarray,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    hasher: str = "dct",
    max_change: float = 10.0,
    step_size: float = 3.0,
    max_steps: int = 200,
    candidates: int = 12,
    seed: int = 0,
) -> SearchResult:
    """Nudge a listed image with faint, smooth patterns until its hash is more than
    ``threshold`` bits from its listed hash, changing no pixel by more than
    ``max_change`` grey levels (a black-box search, as in Jain et al., 2022; see references:
    docs/references.md#jain2022)."""
    target = hashing.HASHERS[hasher]([image])[0]
    return _search(
        image,
        target,
        lambda d: d > threshold,
        lambda a, b: a > b,
        hasher=hasher,
        max_change=max_change,
        step_size=step_size,
        max_steps=max_steps,
        candidates=candidates,
        seed=seed,
    )


def force_collision(
    innocent: np.ndarray,
    target_hash: np.ndarray,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    margin: float = 60.0,
    max_change: float = 48.0,
    max_steps: int = 30,
) -> SearchResult:
    """Change an innocent image until its DCT hash is within ``threshold`` bits of a
    listed ``target_hash``, so a scanner would flag it: the "framing" risk that
    Struppek et al. demonstrated on NeuralHash (FAccT 2022; see references:
    docs/references.md#struppek2022).

    A *white-box* attack, as the hash algorithm is public: work out the 8×8
    low-frequency DCT coefficients the target bits need, turn the difference
    back into a smooth pattern with the inverse DCT, stretch it to full size
    and add it, repeating while the resizing and rounding leave bits wrong.
    No pixel changes by more than ``max_change`` grey levels.
    """
    target = np.asarray(target_hash, dtype=bool).reshape(8, 8)
    original = innocent.astype(np.float32)
    size = innocent.shape[0]
    matrix = hashing._dct_matrix(32)
    inverse = np.linalg.inv(matrix)
    delta = np.zeros(innocent.shape[:2], dtype=np.float32)
    current = innocent
    distance = start = int(hashing.hamming(hashing.dct_hash([innocent])[0], target.ravel()))
    steps = 0
    while distance > threshold and steps < max_steps:
        steps += 1
        thumb = hashing.greyscale_thumbnails([current], 32, 32)[0].astype(np.float64)
        low = (matrix @ thumb @ matrix.T)[:8, :8]
        median = np.median(low)
        wanted = np.where(target, np.maximum(low, median + margin), np.minimum(low, median - margin))
        change = np.zeros((32, 32))
        change[:8, :8] = wanted - low
        pattern = (inverse @ change @ inverse.T).astype(np.float32)
        stretched = np.asarray(Image.fromarray(pattern, mode="F").resize((size, size), Image.Resampling.BILINEAR))
        delta = np.clip(delta + stretched, -max_change, max_change)
        current = np.clip(np.rint(original + delta[..., None]), 0, 255).astype(np.uint8)
        distance = int(hashing.hamming(hashing.dct_hash([current])[0], target.ravel()))
    change = np.abs(current.astype(np.float32) - original)
    return SearchResult(
        distance <= threshold, start, distance, steps, float(change.mean()), float(change.max()), current
    )


def search_summary(results: Sequence[SearchResult]) -> dict[str, float]:
    """Success rate, and the mean pixel change of the successful searches."""
    wins = [r for r in results if r.success]
    return {
        "images": len(results),
        "success_rate": len(wins) / len(results) if results else 0.0,
        "mean_abs_change": float(np.mean([r.mean_abs_change for r in wins])) if wins else float("nan"),
        "max_abs_change": float(max((r.max_abs_change for r in wins), default=float("nan"))),
        "mean_steps": float(np.mean([r.steps for r in wins])) if wins else float("nan"),
    }


# ---- false positives at scale ----------------------------------------------------------------
def _hash_batches(batches: Iterable[np.ndarray], hasher: str) -> np.ndarray:
    hash_fn = hashing.HASHERS[hasher]
    return np.concatenate([hash_fn(batch) for batch in batches] or [np.zeros((0, 64), dtype=bool)])


def stand_in_hashes(n: int, seed: int = 0, *, hasher: str = "dct") -> np.ndarray:
    """The perceptual hashes of ``stand_in_set(n, seed)``, computed a batch at a time.

    Equal to ``hashing.HASHERS[hasher](stand_in_set(n, seed))``, without holding ``n``
    pictures in memory (5,000 pictures are 245 MB).
    """
    return _hash_batches(stand_in_batches(n, seed), hasher)


def lookalike_hashes(n: int, seed: int = 0, *, hasher: str = "dct") -> np.ndarray:
    """The perceptual hashes of ``lookalikes(n, seed)``, computed a batch at a time.

    >>> bool(np.array_equal(lookalike_hashes(3, 1), hashing.dct_hash(lookalikes(3, 1))))
    True
    """
    return _hash_batches(lookalike_batches(n, seed), hasher)


def false_positive_table(
    n_listed: int = 500,
    n_innocent: int = 5000,
    *,
    thresholds: Sequence[int] = (0, 2, 4, 6, 8, 10, 12, 14, 16),
    hasher: str = "dct",
    seed: int = 0,
) -> pd.DataFrame:
    """For each threshold, the share of innocent look-alikes within that many bits
    of some listed image: the per-image false-positive rate on this synthetic corpus."""
    distances = hashing.Matcher(stand_in_hashes(n_listed, seed, hasher=hasher), 0).distances(
        lookalike_hashes(n_innocent, seed, hasher=hasher)
    )
    rows = [
        {
            "threshold": t,
            "innocent images": n_innocent,
            "false matches": int((distances <= t).sum()),
            "false_positive_rate": float((distances <= t).mean()),
        }
        for t in thresholds
    ]
    return pd.DataFrame(rows)


def binomial_tail(n: int, p: float, k: int) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p), computed in log space (no scipy needed).

    >>> round(binomial_tail(10, 0.5, 10), 6)
    0.000977
    """
    if k <= 0:
        return 1.0
    if p <= 0.0 or k > n:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k, n + 1):
        term = math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q)
        total += term
        if i > n * p and term < total * 1e-17:
            break
    return min(total, 1.0)


def account_false_flag_probability(
    per_image_rate: float, images_per_account: int, account_threshold: int = 30
) -> float:
    """Chance that an innocent account reaches ``account_threshold`` false matches
    among ``images_per_account`` images, *if* false matches are independent."""
    return binomial_tail(images_per_account, per_image_rate, account_threshold)


# ---- scope creep -----------------------------------------------------------------------------
def meme_set(n: int, seed: int = 0) -> np.ndarray:
    """Synthetic stand-ins for *political* images (generated shapes with a protest
    caption): a list an operator could load into the very same scanner."""
    from PIL import Image, ImageDraw

    base = generate_images(n, 0x4D454D45 + seed)
    out = np.empty_like(base)
    for i, image in enumerate(base):
        picture = Image.fromarray(image)
        ImageDraw.Draw(picture).text(
            (6, 100), "PROTEST SAT 2PM", fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0)
        )
        out[i] = np.asarray(picture)
    return out
