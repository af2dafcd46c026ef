"""Image hashing: exact (SHA-256) and perceptual (average, difference, DCT).

An *exact* hash changes completely when one pixel changes.  A *perceptual*
hash is built to change little when a picture is resized, recompressed or
slightly edited, so a scanner can recognise *edited copies* of known images by
a small **Hamming distance** (the number of differing bits).  That robustness
is what makes scanning useful — and, as lesson 07 measures, what makes it
possible to evade and to fool.

The three perceptual hashes follow the ``imagehash`` package
(J. Buchner, https://github.com/JohannesBuchner/imagehash; see references:
docs/references.md#buchner2025) and agree with
it **bit for bit** (the tests check hundreds of images):

* average hash (aHash): greyscale, shrink to 8×8, bit = pixel > mean;
* difference hash (dHash): greyscale, shrink to 9 wide × 8 high, bit = pixel
  brighter than its left neighbour;
* DCT hash (pHash): greyscale, shrink to 32×32, 2-D DCT-II, keep the top-left
  8×8 (lowest frequencies), bit = coefficient > their median.

The shrinking uses Pillow's Lanczos filter, as ``imagehash`` does; the maths
after it is plain numpy over a whole batch at once.  Real systems use other
hashes — PhotoDNA (Microsoft, 2009; see references: docs/references.md#farid2021),
Meta's PDQ (256 bits, match at distance ≤ 31; https://github.com/facebook/ThreatExchange/tree/main/pdq;
see references: docs/references.md#facebook2019), Apple's NeuralHash (96 bits, a neural
network; as extracted in https://github.com/AsuharietYgvar/AppleNeuralHash2ONNX; see references:
docs/references.md#struppek2022) — but the ideas measured here (thresholds, robustness,
evasion, collisions) carry over.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

__all__ = [
    "ImageLike",
    "exact_hash",
    "greyscale_thumbnails",
    "average_hash",
    "difference_hash",
    "dct_hash",
    "HASHERS",
    "hamming",
    "to_hex",
    "Matcher",
    "PDQ_MATCH_THRESHOLD",
]

ImageLike = np.ndarray | Image.Image
#: Meta's PDQ calls two 256-bit hashes a match at Hamming distance ≤ 31
#: (https://github.com/facebook/ThreatExchange/tree/main/pdq, its README's suggested threshold).
PDQ_MATCH_THRESHOLD = 31


def _pil(image: ImageLike) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError("an image is a uint8 array of shape (h, w) or (h, w, 3), or a PIL image")
    return Image.fromarray(array)


def exact_hash(image: ImageLike) -> str:
    """SHA-256 of the image's pixels (and shape): equal only for identical images."""
    array = np.ascontiguousarray(np.asarray(_pil(image).convert("RGB")))
    return hashlib.sha256(repr(array.shape).encode() + array.tobytes()).hexdigest()


def greyscale_thumbnails(images: Sequence[ImageLike] | np.ndarray, width: int, height: int) -> np.ndarray:
    """Each image in greyscale, shrunk to ``width × height`` with Lanczos: ``(n, height, width)`` uint8."""
    out = np.empty((len(images), height, width), dtype=np.uint8)
    for i, image in enumerate(images):
        out[i] = np.asarray(_pil(image).convert("L").resize((width, height), Image.Resampling.LANCZOS))
    return out


def average_hash(images: Sequence[ImageLike] | np.ndarray, hash_size: int = 8) -> np.ndarray:
    """aHash of every image: ``(n, hash_size²)`` bools, bit = pixel brighter than the mean."""
    pixels = greyscale_thumbnails(images, hash_size, hash_size).astype(np.float64)
    mean = pixels.mean(axis=(1, 2), keepdims=True)
    bits: np.ndarray = (pixels > mean).reshape(len(pixels), -1)
    return bits


def difference_hash(images: Sequence[ImageLike] | np.ndarray, hash_size: int = 8) -> np.ndarray:
    """dHash of every image: ``(n, hash_size²)`` bools, bit = pixel brighter than its left neighbour."""
    pixels = greyscale_thumbnails(images, hash_size + 1, hash_size)
    return (pixels[:, :, 1:] > pixels[:, :, :-1]).reshape(len(pixels), -1)


@lru_cache(maxsize=8)
def _dct_matrix(n: int) -> np.ndarray:
    """The unnormalised DCT-II as a matrix: ``y = M @ x`` with ``M[k, j] = 2 cos(π k (2j+1) / 2n)``."""
    k = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    matrix: np.ndarray = 2.0 * np.cos(np.pi * k * (2 * j + 1) / (2 * n))
    return matrix


def dct_hash(images: Sequence[ImageLike] | np.ndarray, hash_size: int = 8, highfreq_factor: int = 4) -> np.ndarray:
    """pHash of every image: ``(n, hash_size²)`` bools, bit = low-frequency DCT coefficient > median."""
    size = hash_size * highfreq_factor
    pixels = greyscale_thumbnails(images, size, size).astype(np.float64)
    matrix = _dct_matrix(size)
    coefficients = matrix @ pixels @ matrix.T  # DCT down the columns, then along the rows
    low = coefficients[:, :hash_size, :hash_size].reshape(len(pixels), -1)
    bits: np.ndarray = low > np.median(low, axis=1, keepdims=True)
    return bits


#: The perceptual hashers by name.
HASHERS = {"average": average_hash, "difference": difference_hash, "dct": dct_hash}


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Number of differing bits between hashes, broadcasting over leading axes.

    >>> hamming(np.array([True, False, True]), np.array([True, True, False]))
    np.int64(2)
    """
    distances: np.ndarray = np.count_nonzero(np.asarray(a, dtype=bool) != np.asarray(b, dtype=bool), axis=-1)
    return distances


def to_hex(bits: np.ndarray) -> str:
    """One hash as hex, in the same form as ``str(imagehash.ImageHash)``."""
    flat = np.asarray(bits, dtype=bool).ravel()
    value = int("".join("1" if b else "0" for b in flat), 2)
    return f"{value:0{(len(flat) + 3) // 4}x}"


#: About how many (query, known hash) pairs :meth:`Matcher.distances` compares at once.
_PAIRS_PER_BLOCK = 1 << 18


@dataclass
class Matcher:
    """Matches hashes against a list of known hashes within a Hamming ``threshold``.

    ``known`` is a ``(k, bits)`` bool array.  :meth:`distances` gives, for each
    query, the distance to the nearest listed hash; :meth:`matches` whether it
    is within the threshold.
    """

    known: np.ndarray
    threshold: int

    def __post_init__(self) -> None:
        self.known = np.asarray(self.known, dtype=bool)
        if self.known.ndim != 2:
            raise ValueError("known hashes are a (k, bits) array")
        if self.threshold < 0:
            raise ValueError("threshold must be non-negative")
        self._packed = np.packbits(self.known, axis=1)

    def distances(self, hashes: np.ndarray) -> np.ndarray:
        """Distance from each query hash to its nearest known hash: ``(n,)`` ints."""
        queries = np.packbits(np.asarray(hashes, dtype=bool).reshape(-1, self.known.shape[1]), axis=1)
        best = np.full(len(queries), self.known.shape[1] + 1, dtype=np.int64)
        known_block = 4096
        # Queries a slice at a time too, so each (query, known hash) temporary stays near
        # _PAIRS_PER_BLOCK pairs (a few MiB) however many are asked: 5,000 queries against
        # 500 listed hashes took about 60 MiB at once.  Exact integers: the same distances.
        query_block = max(1, _PAIRS_PER_BLOCK // min(known_block, max(1, len(self._packed))))
        for start in range(0, len(self._packed), known_block):
            block = self._packed[start : start + known_block]
            for first in range(0, len(queries), query_block):
                part = slice(first, first + query_block)
                xor = np.bitwise_xor(queries[part, None, :], block[None, :, :])
                nearest = np.bitwise_count(xor).sum(axis=2, dtype=np.int64).min(axis=1)
                best[part] = np.minimum(best[part], nearest)
        return best

    def matches(self, hashes: np.ndarray) -> np.ndarray:
        """Whether each query hash is within :attr:`threshold` of a known hash."""
        return self.distances(hashes) <= self.threshold
