"""Synthetic images and image hashes: determinism, and bit-for-bit agreement with imagehash."""

from __future__ import annotations

import imagehash
import numpy as np
import pytest
from PIL import Image

from toychat import hashing
from toychat.images import EDITS, apply_edit, generate_images, lookalikes, stand_in_set
from toychat.scanning import lookalike_hashes, stand_in_hashes

REFERENCE = {"average": imagehash.average_hash, "difference": imagehash.dhash, "dct": imagehash.phash}


@pytest.fixture(scope="module")
def corpus() -> list[np.ndarray]:
    base = list(generate_images(240, seed=11))
    edited = [img for edit in EDITS for img in apply_edit(base[:20], edit, seed=3)]
    return base + edited  # 400 images of many sizes


def test_generation_is_deterministic_and_the_sets_differ() -> None:
    assert np.array_equal(generate_images(20, 5), generate_images(20, 5))
    assert not np.array_equal(generate_images(20, 5), generate_images(20, 6))
    assert not np.array_equal(stand_in_set(10), lookalikes(10))
    assert stand_in_set(3).shape == (3, 128, 128, 3)
    assert stand_in_set(3).dtype == np.uint8


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_edits_are_deterministic_and_change_the_image(edit: str) -> None:
    images = stand_in_set(4)
    once, again = apply_edit(images, edit, seed=9), apply_edit(images, edit, seed=9)
    assert all(np.array_equal(a, b) for a, b in zip(once, again, strict=True))
    assert all(a.dtype == np.uint8 and a.ndim == 3 for a in once)
    assert any(a.shape != b.shape or not np.array_equal(a, b) for a, b in zip(once, images, strict=True))


def test_unknown_edit_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown edit"):
        apply_edit(stand_in_set(1), "sharpen", 0)


@pytest.mark.parametrize("name", sorted(hashing.HASHERS))
def test_bit_for_bit_equal_to_imagehash(name: str, corpus: list[np.ndarray]) -> None:
    ours = hashing.HASHERS[name](corpus)
    theirs = [str(REFERENCE[name](Image.fromarray(img))) for img in corpus]
    mismatches = [i for i, (bits, ref) in enumerate(zip(ours, theirs, strict=True)) if hashing.to_hex(bits) != ref]
    assert len(corpus) == 400
    assert mismatches == []


def test_hamming_matches_imagehash_subtraction(corpus: list[np.ndarray]) -> None:
    ours = hashing.dct_hash(corpus[:30])
    for i in range(29):
        expected = imagehash.phash(Image.fromarray(corpus[i])) - imagehash.phash(Image.fromarray(corpus[i + 1]))
        assert hashing.hamming(ours[i], ours[i + 1]) == expected


def test_exact_hash_changes_with_one_pixel() -> None:
    image = stand_in_set(1)[0]
    changed = image.copy()
    changed[0, 0, 0] ^= 1
    assert hashing.exact_hash(image) == hashing.exact_hash(image.copy())
    assert hashing.exact_hash(image) != hashing.exact_hash(changed)


def test_matcher_thresholds() -> None:
    known = hashing.dct_hash(stand_in_set(50))
    matcher = hashing.Matcher(known, threshold=0)
    assert matcher.matches(known).all()
    assert (matcher.distances(known) == 0).all()
    strangers = hashing.dct_hash(lookalikes(50))
    distances = matcher.distances(strangers)
    assert distances.min() > 0
    assert hashing.Matcher(known, threshold=64).matches(strangers).all()
    with pytest.raises(ValueError):
        hashing.Matcher(known, threshold=-1)


def test_bad_image_input() -> None:
    with pytest.raises(ValueError, match="uint8"):
        hashing.average_hash([np.zeros((8, 8), dtype=np.float32)])


def test_hashing_a_batch_at_a_time_gives_the_bits_of_hashing_all_at_once() -> None:
    """scanning.lookalike_hashes / stand_in_hashes hash a batch at a time (images.generate_batches,
    512 a batch): 600 pictures cross a batch's seam."""
    assert np.array_equal(lookalike_hashes(600, seed=4), hashing.dct_hash(lookalikes(600, seed=4)))
    assert np.array_equal(
        stand_in_hashes(600, seed=4, hasher="average"), hashing.average_hash(stand_in_set(600, seed=4))
    )
