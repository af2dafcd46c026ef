"""Plot helpers with an accessible, colour-blind-safe palette.

Every figure the course draws goes through here, so that all of them share
the Okabe-Ito palette (Okabe & Ito, "Color Universal Design", 2008; also
Wong, *Nature Methods* 8:441, 2011), labelled axes and a title that states
the finding.  The entropy helper is the measurement behind "ciphertext looks
random" in lesson 01.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING
from collections import Counter
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
import matplotlib.dates as mdates

from .figures import register as _register_alt_text, set_alt_text

if TYPE_CHECKING:
    import pandas as pd

# Every figure a lesson shows carries alt text in JupyterLab (see toychat.figures).
_register_alt_text()

__all__ = [
    "PALETTE",
    "byte_entropy",
    "byte_histogram",
    "compare_byte_histograms",
    "distance_histogram",
    "message_timeline",
    "key_strip",
    "image_grid",
    "detection_bars",
    "pr_plot",
    "technique_chart",
]

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


def message_timeline(table: "pd.DataFrame", *, title: str | None = None) -> Figure:
    """Who messaged whom, and when: one row per sender→recipient pair, one dot
    per message, dot area proportional to its size.

    ``table`` is :meth:`toychat.server.Server.log_table` (columns ``sent_at``,
    ``sender``, ``recipient``, ``size_bytes``): metadata only, no content.
    """
    pairs = (table["sender"] + " → " + table["recipient"]).tolist()
    order = sorted(set(pairs))
    colours = list(PALETTE.values())
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(order) + 1.6), layout="constrained")
    for index, pair in enumerate(order):
        rows = table[[p == pair for p in pairs]]
        ax.scatter(
            rows["sent_at"], [index] * len(rows), s=rows["size_bytes"].clip(lower=8) * 2,
            color=colours[index % len(colours)], alpha=0.8, edgecolor="black", linewidth=0.5,
        )
    ax.set_yticks(range(len(order)), order)
    ax.set_ylim(-0.7, len(order) - 0.3)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    ax.set_xlabel("time the message was sent (UTC)")
    ax.set_ylabel("sender → recipient")
    ax.set_title(title or f"The server sees who talks to whom and when: {len(table)} messages, {len(order)} pairs")
    fig.autofmt_xdate()
    return fig


def distance_histogram(
    groups: Mapping[str, Sequence[int]],
    *,
    n_bits: int,
    title: str | None = None,
    xlabel: str | None = None,
    threshold: int | None = None,
) -> Figure:
    """Overlaid histograms of bit distances, one per named group of comparisons.

    Each value in ``groups[label]`` is how many of ``n_bits`` bits differ
    between two digests (their Hamming distance).  Lesson 02 uses it to show
    that flipping one bit of a key changes about half of its fingerprint;
    ``threshold``, if given, draws a dashed line at a matching threshold (for
    perceptual hashes, where "close enough" counts as a match).

    >>> fig = distance_histogram({"one bit flipped": [127, 130, 128]}, n_bits=256)
    >>> fig.axes[0].get_xlabel()
    'bits that differ, of 256 (Hamming distance)'
    >>> "median 128 of 256 bits" in fig.axes[0].get_title()
    True
    """
    if not groups or any(len(values) == 0 for values in groups.values()):
        raise ValueError("distance_histogram() needs at least one non-empty group of distances.")
    if n_bits < 1:
        raise ValueError("n_bits must be at least 1.")
    colours = [PALETTE["blue"], PALETTE["orange"], PALETTE["bluish_green"], PALETTE["reddish_purple"]]
    fig, ax = plt.subplots(figsize=(9, 3.6), layout="constrained")
    lowest = min(min(values) for values in groups.values())
    highest = max(max(values) for values in groups.values())
    bins = [b - 0.5 for b in range(lowest, highest + 2)]
    for index, (label, values) in enumerate(groups.items()):
        median = sorted(values)[len(values) // 2]
        ax.hist(
            list(values), bins=bins, color=colours[index % len(colours)], alpha=0.6,
            edgecolor="black", linewidth=0.3, label=f"{label} (n={len(values):,}, median {median})",
        )
    if threshold is not None:
        ax.axvline(threshold, color=PALETTE["vermillion"], linestyle="--", label=f"threshold: {threshold} bits")
    ax.set_xlim(-0.5, n_bits + 0.5)  # the whole scale, so "how far from 0 and from n_bits" shows
    ax.set_ylim(0, ax.get_ylim()[1] * 1.25)  # headroom for the legend
    ax.set_xlabel(xlabel or f"bits that differ, of {n_bits} (Hamming distance)")
    ax.set_ylabel("number of comparisons")
    ax.legend(loc="upper left", frameon=False)
    if title is None:
        first_label, first_values = next(iter(groups.items()))
        median = sorted(first_values)[len(first_values) // 2]
        title = f"{first_label.capitalize()}: median {median} of {n_bits} bits differ"
    ax.set_title(title)
    return fig


def key_strip(keys: "list[bytes]", *, labels: "list[str] | None" = None, title: str | None = None) -> Figure:
    """Each key as one row of coloured cells, one cell per byte (cividis colour map,
    readable with colour-blindness): unrelated keys look like unrelated rows."""
    import numpy as np

    if not keys:
        raise ValueError("key_strip needs at least one key")
    grid = np.array([list(k) for k in keys], dtype=float)
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(keys) + 1.4), layout="constrained")
    ax.imshow(grid, aspect="auto", cmap="cividis", vmin=0, vmax=255, interpolation="nearest")
    ax.set_yticks(range(len(keys)), labels or [f"key {i + 1}" for i in range(len(keys))])
    ax.set_xlabel("byte position in the key")
    ax.set_ylabel("key")
    ax.set_title(title or f"{len(keys)} keys, one row each: no row resembles another")
    return fig


def image_grid(images: "Sequence[object]", *, labels: "Sequence[str] | None" = None, title: str, columns: int = 6) -> Figure:
    """Pictures in a grid with captions (for the synthetic stand-ins: say so in ``title``)."""
    n = len(images)
    rows = (n + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(1.9 * columns, 2.1 * rows + 0.6), layout="constrained", squeeze=False)
    for index, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if index < n:
            ax.imshow(images[index])
            if labels is not None:
                ax.set_title(labels[index], fontsize=9)
    fig.suptitle(title)
    return fig


def detection_bars(table: "pd.DataFrame", *, title: str, value: str = "rate", category: str = "sent", group: str = "platform") -> Figure:
    """Horizontal bars of a rate per category, one colour per group (e.g. platform)."""
    import numpy as np

    categories = list(dict.fromkeys(table[category]))
    groups = list(dict.fromkeys(table[group]))
    colours = [PALETTE["blue"], PALETTE["vermillion"], PALETTE["bluish_green"], PALETTE["orange"]]
    fig, ax = plt.subplots(figsize=(9, 0.22 * len(categories) * max(1, len(groups)) + 1.6), layout="constrained")
    height = 0.8 / len(groups)
    positions = np.arange(len(categories))
    for index, name in enumerate(groups):
        rows = table[table[group] == name].set_index(category).reindex(categories)
        shares = rows[value].fillna(0) * 100
        bars = ax.barh(positions + index * height, shares, height=height, color=colours[index % 4], label=str(name))
        ax.bar_label(bars, labels=[f"{v:.0f}%" for v in shares], padding=2, fontsize=8)
    ax.set_yticks(positions + height * (len(groups) - 1) / 2, categories)
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xlabel("share flagged (%)")
    ax.set_ylabel(category)
    ax.set_title(title)
    ax.legend(loc="lower right")
    return fig


def pr_plot(
    curves: "Mapping[str, pd.DataFrame]",
    *,
    points: "Mapping[str, tuple[float, float]] | None" = None,
    base_rate: float | None = None,
    title: str,
) -> Figure:
    """Precision-recall curves (tables with ``recall`` and ``precision`` columns, as
    :func:`toychat.metadata.pr_curve` makes) and single detectors as points
    ``name: (recall, precision)``; a dotted line marks the base rate (chance)."""
    colours = [PALETTE["blue"], PALETTE["vermillion"], PALETTE["bluish_green"], PALETTE["reddish_purple"]]
    markers = ["o", "s", "^", "D", "v"]
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    for index, (name, curve) in enumerate(curves.items()):
        ap = curve.attrs.get("average_precision")
        label = f"{name} (average precision {ap:.2f})" if ap is not None else name
        ax.step(curve["recall"], curve["precision"], where="post", color=colours[index % 4], label=label, linewidth=2)
    for index, (name, (recall, precision)) in enumerate((points or {}).items()):
        ax.plot([recall], [precision], markers[index % 5], color=PALETTE["black"], markersize=8,
                markerfacecolor=PALETTE["orange"], label=name)
    if base_rate is not None:
        ax.axhline(base_rate, linestyle=":", color=PALETTE["black"], label=f"chance: base rate {base_rate:.2%}")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall: share of the target accounts flagged")
    ax.set_ylabel("precision: share of flags that are true")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=10)
    return fig


def technique_chart(table: "pd.DataFrame", *, title: str) -> Figure:
    """One panel per platform: for each technique, the share of each harm's accounts
    caught (the table :func:`toychat.metadata.technique_table` returns).

    Sized for the notebook's output area (9 inches wide); the title is wrapped onto
    at most two lines above the panel titles, and bar labels are 10 pt."""
    import textwrap

    import numpy as np

    platforms = list(dict.fromkeys(table.index.get_level_values(0)))
    harms = list(table.columns)
    colours = [PALETTE["blue"], PALETTE["vermillion"], PALETTE["bluish_green"], PALETTE["orange"]]
    fig, axes = plt.subplots(1, len(platforms), figsize=(9, 5.6), sharey=True, layout="constrained")
    axes = np.atleast_1d(axes)
    for ax, platform in zip(axes, platforms):
        rows = table.loc[platform]
        positions = np.arange(len(rows))
        height = 0.8 / len(harms)
        for index, harm in enumerate(harms):
            shares = rows[harm].fillna(0).to_numpy() * 100
            bars = ax.barh(positions + index * height, shares, height=height, color=colours[index % 4],
                           label=harm)
            ax.bar_label(bars, labels=[f"{v:.0f}%" for v in shares], padding=2, fontsize=10)
        ax.set_yticks(positions + height * (len(harms) - 1) / 2, list(rows.index))
        ax.set_xlim(0, 130)
        ax.set_xticks([0, 25, 50, 75, 100])
        ax.set_xlabel("share of that harm's\naccounts caught (%)")
        ax.set_title(platform, pad=10)
    axes[0].invert_yaxis()
    axes[0].set_ylabel("technique")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(harms), fontsize=10)
    fig.suptitle("\n".join(textwrap.wrap(title, 80)[:2]))
    fig.get_layout_engine().set(h_pad=0.12)
    return fig
