"""Plot helpers with an accessible, colour-blind-safe palette.

Every figure the course draws goes through here, so that all of them share
the Okabe-Ito palette (Okabe & Ito, "Color Universal Design", 2008; also
Wong, *Nature Methods* 8:441, 2011), labelled axes and a title that states
the finding.  The entropy helper is the measurement behind "ciphertext looks
random" in lesson 01.
"""

from __future__ import annotations

import math
from collections import Counter

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["PALETTE", "byte_entropy", "byte_histogram", "compare_byte_histograms"]

#: Okabe-Ito colours, distinguishable with the common forms of colour blindness.
PALETTE: dict[str, str] = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}

#: Maximum entropy of a byte: 8 bits (all 256 values equally likely).
MAX_BYTE_ENTROPY = 8.0


def byte_entropy(data: bytes) -> float:
    """Shannon entropy of the byte values in ``data``, in bits per byte (0 to 8).

    English text sits around 4-5 bits per byte; good ciphertext, like random
    bytes, close to 8 (a little under for short inputs, because a sample of n
    bytes cannot show all 256 values evenly).

    >>> byte_entropy(b"aaaa")
    0.0
    >>> byte_entropy(bytes(range(256)))
    8.0
    """
    if not data:
        return 0.0
    n = len(data)
    entropy = -sum(c / n * math.log2(c / n) for c in Counter(data).values())
    return abs(entropy)


def byte_histogram(
    data: bytes,
    *,
    ax: Axes | None = None,
    label: str = "data",
    color: str = PALETTE["blue"],
) -> Axes:
    """Bar chart of how often each byte value 0-255 occurs in ``data``."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    counts = Counter(data)
    ax.bar(range(256), [counts.get(v, 0) for v in range(256)], width=1.0, color=color)
    ax.set_xlim(-0.5, 255.5)
    ax.set_xlabel("byte value (0-255)")
    ax.set_ylabel("how many times it occurs")
    ax.set_title(f"{label}: {byte_entropy(data):.2f} bits of entropy per byte")
    return ax


def compare_byte_histograms(
    first: bytes,
    second: bytes,
    *,
    labels: tuple[str, str] = ("plaintext", "ciphertext"),
    title: str | None = None,
) -> Figure:
    """Two byte histograms side by side, sharing the y-axis scale.

    With the default labels the title states the finding lesson 01 measures.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), sharey=True, layout="constrained")
    byte_histogram(first, ax=axes[0], label=labels[0], color=PALETTE["vermillion"])
    byte_histogram(second, ax=axes[1], label=labels[1], color=PALETTE["blue"])
    axes[1].set_ylabel("")
    if title is None:
        title = (
            f"{labels[0].capitalize()} has a lopsided byte profile "
            f"({byte_entropy(first):.1f} bits/byte); {labels[1]} is nearly flat "
            f"({byte_entropy(second):.1f} bits/byte)"
        )
    fig.suptitle(title)
    return fig
