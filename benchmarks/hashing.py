"""Hashing: images per second for the course's numpy batch perceptual hashers
against the ``imagehash`` package on the same images; the run checks the bits agree on every image."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import imagehash
from PIL import Image

from toychat import hashing
from toychat.images import generate_images

from .core import Result, failed, median_seconds

NAME = "Perceptual hashing (128×128 RGB images)"
FLOOR = "the imagehash package hashing the same images one at a time (the baseline column)"
REFERENCE = {"average": imagehash.average_hash, "difference": imagehash.dhash, "dct": imagehash.phash}


def run(quick: bool = False) -> list[Result]:
    n = 50 if quick else 2000
    repeat = 1 if quick else 5
    images = list(generate_images(n, seed=2024))
    results = []
    for name, ours in hashing.HASHERS.items():
        try:
            results.append(_one(name, ours, images, repeat=repeat, quick=quick))
        except Exception as exc:  # one hasher's failure (its bits differ) does not stop the others
            results.append(failed(NAME, f"{name} hash, batch of {n}", exc))
    return results


def _one(name: str, ours: Callable[[Any], Any], images: list[Any], *, repeat: int, quick: bool) -> Result:
    """One of our batch hashers against imagehash on the same images; RuntimeError if any image's bits differ."""
    n, reference = len(images), REFERENCE[name]
    ours_s = median_seconds(functools.partial(ours, images), repeat=repeat)
    # imagehash takes PIL images; converting the same numpy arrays is part of its job here
    theirs_s = median_seconds(lambda: [reference(Image.fromarray(im)) for im in images], repeat=repeat)
    ratio = theirs_s / ours_s
    pairs = zip(ours(images), images, strict=True)
    mismatched = sum(hashing.to_hex(bits) != str(reference(Image.fromarray(im))) for bits, im in pairs)
    if mismatched:
        raise RuntimeError(f"{name} hash: {mismatched} of {n} images differ from imagehash's bits")
    return Result(
        NAME,
        f"{name} hash, batch of {n}",
        n / ours_s,
        "images/s",
        "imagehash, one image at a time",
        n / theirs_s,
        target="at least as fast as imagehash",
        met=None if quick else ratio >= 1.0,
        note=f"{ratio:.2f}× imagehash's speed, the same bits on all {n} images; both shrink with "
        "Pillow's Lanczos, which dominates",
    )
