"""Plot helpers with an accessible, colour-blind-safe palette.

Every figure the course draws goes through here, so that all of them share
the Okabe-Ito palette (Okabe & Ito, "Color Universal Design", 2008; see references:
docs/references.md#okabe2008; also Wong, *Nature Methods* 8:441, 2011;
docs/references.md#wong2011), labelled axes and a title that states the finding.
The entropy helper is the measurement behind "ciphertext looks random" in
lesson 01.
"""

from __future__ import annotations

import math
import textwrap
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from .figures import register as _register_alt_text

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.typing import RcKeyType

# Every figure a lesson shows carries alt text in JupyterLab (see toychat.figures).
_register_alt_text()

__all__ = [
    "PALETTE",
    "COURSE_STYLE",
    "MAX_WIDTH_IN",
    "FIGURE_WIDTH_IN",
    "FIGURE_HEIGHT_IN",
    "MAX_HEIGHT_IN",
    "subplots",
    "use_course_style",
    "wrap_title",
    "readable",
    "bar_labels",
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

#: The course's one figure width (inches, at the notebook's 100 dpi): 800 px, which fits
#: JupyterLab's output area in a 1280-pixel window with the file browser open (848 px) without
#: being shrunk, so every figure's text is drawn at the same size in every lesson.
FIGURE_WIDTH_IN = 8.0
#: The default height: a figure a lesson draws without a reason to be taller or shorter.
FIGURE_HEIGHT_IN = 4.5
#: The tallest figure (inches): 560 px, inside the notebook area of a 1280x720 screen (about
#: 600 px between JupyterLab's toolbars), so a reader never scrolls through one figure.
MAX_HEIGHT_IN = 5.6
#: Widest figure (inches): the course's one width.  (Kept under this name for the helpers that
#: fit text or a grid of pictures to it.)
MAX_WIDTH_IN = FIGURE_WIDTH_IN

#: The course's matplotlib style: text no smaller than 10 pt, figures that fit the
#: output area.  Applied when this module is imported (every lesson's figures go
#: through it); :func:`use_course_style` applies it again after a reset.
COURSE_STYLE: dict[RcKeyType, Any] = {
    "figure.figsize": (FIGURE_WIDTH_IN, FIGURE_HEIGHT_IN),
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.titlesize": 12,
}


def use_course_style() -> None:
    """Apply :data:`COURSE_STYLE` to matplotlib's settings."""
    plt.rcParams.update(COURSE_STYLE)


use_course_style()


def subplots(nrows: int = 1, ncols: int = 1, *, height: float = FIGURE_HEIGHT_IN, **kwargs: Any) -> tuple[Figure, Any]:
    """``plt.subplots`` at the course's one width (:data:`FIGURE_WIDTH_IN`), with constrained
    layout; every lesson's figure is drawn through it, so none is wider than the output area or
    drawn at another scale.  ``height`` (inches) is for a figure whose content asks for more or
    less room than :data:`FIGURE_HEIGHT_IN` (a strip of rows, several panels); it is capped at
    :data:`MAX_HEIGHT_IN`, so no figure is taller than a small screen.

    >>> fig, ax = subplots(height=20)
    >>> tuple(fig.get_size_inches()) == (FIGURE_WIDTH_IN, MAX_HEIGHT_IN)
    True
    >>> plt.close(fig)
    """
    if "figsize" in kwargs:
        raise TypeError("subplots() sets the course's figure width; give only a height")
    kwargs.setdefault("layout", "constrained")
    size = (FIGURE_WIDTH_IN, min(max(height, 1.0), MAX_HEIGHT_IN))
    return plt.subplots(nrows, ncols, figsize=size, **kwargs)


def wrap_title(title: str, width_in: float = MAX_WIDTH_IN, points: float = 12) -> str:
    """Break ``title`` into lines that fit a figure ``width_in`` inches wide.

    Characters of a ``points``-size font average a little over half an em, so a
    line holds about ``width_in * 120 / points`` of them.

    >>> wrap_title("a " * 80, width_in=4).count("\\n") >= 2
    True
    """
    per_line = max(20, int(width_in * 120 / points))
    return "\n".join(textwrap.fill(part, per_line) for part in title.split("\n"))


def bar_labels(shares: Sequence[float]) -> list[str]:
    """Labels for bars of percentages: each as a whole percent, and none for a bar of zero,
    which is not drawn (a "0%" floating beside nothing reads as a missing bar; the axis and
    the figure's description say that no bar means none).

    >>> bar_labels([0.0, 0.4, 62.0])
    ['', '0%', '62%']
    """
    return [f"{v:.0f}%" if v > 0 else "" for v in shares]


def readable(label: str) -> str:
    """A data label as words: ``"listed image, brightness_contrast"`` → ``"listed image, brightness and contrast"``.

    >>> readable("listed image, brightness_contrast")
    'listed image, brightness and contrast'
    """
    return label.replace("brightness_contrast", "brightness and contrast").replace("_", " ")


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
        _, ax = subplots(height=3.0)
    counts = Counter(data)
    ax.bar(range(256), [counts.get(v, 0) for v in range(256)], width=1.0, color=color)
    ax.set_xlim(-4, 259)  # room so bars at 0 and 255 are not hidden by the axes
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
    fig, axes = subplots(1, 2, height=3.8, sharey=True)
    byte_histogram(first, ax=axes[0], label=labels[0], color=PALETTE["vermillion"])
    byte_histogram(second, ax=axes[1], label=labels[1], color=PALETTE["blue"])
    axes[1].set_ylabel("")
    for ax, data, label in zip(axes, (first, second), labels, strict=True):
        ax.set_title(f"{label}\n{byte_entropy(data):.2f} bits of entropy per byte")
    if title is None:
        title = (
            f"{labels[0].capitalize()} has a lopsided byte profile "
            f"({byte_entropy(first):.1f} bits/byte);\n{labels[1]} is nearly flat "
            f"({byte_entropy(second):.1f} bits/byte)"
        )
    fig.suptitle(textwrap.fill(title, 90) if "\n" not in title else title)
    return fig


def message_timeline(table: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Who messaged whom, and when: one row per sender→recipient pair, one dot
    per message, dot area proportional to its size (a legend shows the scale).

    ``table`` is :meth:`toychat.server.Server.log_table` (columns ``sent_at``,
    ``sender``, ``recipient``, ``size_bytes``): metadata only, no content.
    Colours skip the palette's yellow, which is too pale on white.

    >>> import pandas as pd
    >>> log = pd.DataFrame({"sent_at": pd.to_datetime(["2024-01-05 14:00", "2024-01-05 14:05"]),
    ...                     "sender": ["a", "b"], "recipient": ["b", "a"], "size_bytes": [40, 90]})
    >>> fig = message_timeline(log)
    >>> fig.axes[0].get_legend().get_title().get_text()
    'message size'
    """
    pairs = (table["sender"] + " → " + table["recipient"]).tolist()
    order = sorted(set(pairs))
    colours = [PALETTE[name] for name in _TIMELINE_COLOURS]
    fig, ax = subplots(height=0.6 * len(order) + 1.8)
    for index, pair in enumerate(order):
        rows = table[[p == pair for p in pairs]]
        ax.scatter(
            rows["sent_at"],
            [index] * len(rows),
            s=_dot_area(rows["size_bytes"]),
            color=colours[index % len(colours)],
            alpha=0.9,
            edgecolor="black",
            linewidth=0.8,
        )
    sizes = _legend_sizes(table["size_bytes"])
    handles = [ax.scatter([], [], s=_dot_area(size), color="white", edgecolor="black", linewidth=0.8) for size in sizes]
    ax.legend(
        handles,
        [f"{size} bytes" for size in sizes],
        title="message size",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        labelspacing=1.2,
        borderpad=0.8,
    )
    ax.set_yticks(range(len(order)), order)
    ax.set_ylim(-0.7, len(order) - 0.3)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    ax.set_xlabel("time the message was sent (UTC)")
    ax.set_ylabel("sender → recipient")
    default = f"The server sees who talks to whom and when: {len(table)} messages, {len(order)} pairs"
    ax.set_title(title or default)
    fig.autofmt_xdate()
    return fig


#: Timeline colours: the Okabe-Ito palette without yellow (too little contrast on white).
_TIMELINE_COLOURS = ("blue", "orange", "bluish_green", "vermillion", "reddish_purple", "sky_blue", "black")


def _dot_area(size_bytes: pd.Series | float) -> pd.Series | float:
    """Marker area (points²) for a message of ``size_bytes``: proportional to size, at least 16."""
    if isinstance(size_bytes, (int, float)):
        return max(size_bytes, 8) * 2
    return size_bytes.clip(lower=8) * 2


def _legend_sizes(size_bytes: pd.Series) -> list[int]:
    """Three round message sizes spanning the data, for the marker-size legend."""
    low, high = int(size_bytes.min()), int(size_bytes.max())
    picks = [low, (low + high) // 2, high]
    rounded = sorted({max(10, round(v, -1)) for v in picks})
    return rounded


def distance_histogram(
    groups: Mapping[str, Sequence[int]],
    *,
    n_bits: int,
    title: str | None = None,
    xlabel: str | None = None,
    threshold: int | None = None,
    xmax: int | None = None,
) -> Figure:
    """Overlaid histograms of bit distances, one per named group of comparisons.

    Each value in ``groups[label]`` is how many of ``n_bits`` bits differ
    between two digests (their Hamming distance).  Lesson 02 uses it to show
    that flipping one bit of a key changes about half of its fingerprint;
    ``threshold``, if given, draws a dashed line at a matching threshold (for
    perceptual hashes, where "close enough" counts as a match).  ``xmax`` ends
    the axis before ``n_bits`` when every distance is far below it (say so in
    ``xlabel``); by default the axis shows the whole scale.  The legend sits
    below the plot, so neither the bars nor the threshold line cross it.

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
    fig, ax = subplots(height=4.4)
    lowest = min(min(values) for values in groups.values())
    highest = max(max(values) for values in groups.values())
    bins = [b - 0.5 for b in range(lowest, highest + 2)]
    for index, (label, values) in enumerate(groups.items()):
        median = sorted(values)[len(values) // 2]
        ax.hist(
            list(values),
            bins=bins,
            color=colours[index % len(colours)],
            alpha=0.6,
            edgecolor="black",
            linewidth=0.3,
            label=f"{label} (n={len(values):,}, median {median})",
        )
    if threshold is not None:
        ax.axvline(threshold, color=PALETTE["vermillion"], linestyle="--", label=f"threshold: {threshold} bits")
    ax.set_xlim(-0.5, (n_bits if xmax is None else xmax) + 0.5)  # by default the whole scale
    ax.set_xlabel(xlabel or f"bits that differ, of {n_bits} (Hamming distance)")
    ax.set_ylabel("number of comparisons")
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.2), frameon=False)
    if title is None:
        first_label, first_values = next(iter(groups.items()))
        median = sorted(first_values)[len(first_values) // 2]
        title = f"{first_label.capitalize()}: median {median} of {n_bits} bits differ"
    ax.set_title(wrap_title(title))
    return fig


def key_strip(keys: list[bytes], *, labels: list[str] | None = None, title: str | None = None) -> Figure:
    """Each key as one row of coloured cells, one cell per byte (cividis colour map,
    readable with colour-blindness): unrelated keys look like unrelated rows."""
    import numpy as np

    if not keys:
        raise ValueError("key_strip needs at least one key")
    grid = np.array([list(k) for k in keys], dtype=float)
    fig, ax = subplots(height=0.32 * len(keys) + 1.4)
    image = ax.imshow(grid, aspect="auto", cmap="cividis", vmin=0, vmax=255, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="byte value (0-255)", ticks=[0, 64, 128, 192, 255])
    ax.set_yticks(range(len(keys)), labels or [f"key {i + 1}" for i in range(len(keys))])
    ax.set_xlabel("byte position in the key")
    ax.set_ylabel("key")
    ax.set_title(title or f"{len(keys)} keys, one row each: no row resembles another")
    return fig


def image_grid(
    images: Sequence[object], *, labels: Sequence[str] | None = None, title: str, columns: int = 6
) -> Figure:
    """Pictures in a grid with captions (for the synthetic stand-ins: say so in ``title``).

    The grid is never wider than :data:`MAX_WIDTH_IN`; captions are 10 pt and
    wrap onto a second line rather than run into their neighbours.
    """
    n = len(images)
    rows = (n + columns - 1) // columns
    cell = min(1.9, MAX_WIDTH_IN / columns)
    fig, axes = subplots(rows, columns, height=(cell + 0.55) * rows + 0.7, squeeze=False)
    per_line = max(12, int(cell * 14.4))  # 10-pt characters per caption line
    for index, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if index < n:
            ax.imshow(images[index])
            if labels is not None:
                ax.set_title(textwrap.fill(labels[index], per_line), fontsize=10)
    fig.suptitle(wrap_title(title, cell * columns))
    return fig


def detection_bars(
    table: pd.DataFrame,
    *,
    title: str,
    value: str = "rate",
    category: str = "sent",
    group: str = "platform",
    ylabel: str = "picture sent",
) -> Figure:
    """Horizontal bars of a rate per category, one colour per group (e.g. platform).

    Category names are shown as words (:func:`readable`); each bar carries its
    percentage in 10-pt type; the legend sits below the plot.
    """
    import numpy as np

    categories = list(dict.fromkeys(table[category]))
    groups = list(dict.fromkeys(table[group]))
    colours = [PALETTE["blue"], PALETTE["vermillion"], PALETTE["bluish_green"], PALETTE["orange"]]
    fig, ax = subplots(height=0.24 * len(categories) * max(1, len(groups)) + 2.2)
    height = 0.8 / len(groups)
    positions = np.arange(len(categories))
    for index, name in enumerate(groups):
        rows = table[table[group] == name].set_index(category).reindex(categories)
        shares = rows[value].fillna(0) * 100
        bars = ax.barh(positions + index * height, shares, height=height, color=colours[index % 4], label=str(name))
        ax.bar_label(bars, labels=bar_labels(list(shares)), padding=2, fontsize=10)
    ax.set_yticks(positions + height * (len(groups) - 1) / 2, [readable(str(c)) for c in categories])
    ax.invert_yaxis()
    ax.set_xlim(0, 115)
    ax.set_xticks(range(0, 101, 20))
    ax.set_xlabel("share flagged (%; no bar: none)")
    ax.set_ylabel(ylabel)
    fig.suptitle(wrap_title(title))  # centred on the figure, so a long title never spills past it
    ax.legend(loc="upper center", bbox_to_anchor=(0.4, -0.12), ncols=len(groups), frameon=False)
    return fig


def pr_plot(
    curves: Mapping[str, pd.DataFrame],
    *,
    points: Mapping[str, tuple[float, float]] | None = None,
    base_rate: float | None = None,
    title: str,
) -> Figure:
    """Precision-recall curves (tables with ``recall`` and ``precision`` columns, as
    :func:`toychat.metadata.pr_curve` makes) and single detectors as points
    ``name: (recall, precision)``; a dotted line marks the base rate (chance)."""
    colours = [PALETTE["blue"], PALETTE["vermillion"], PALETTE["bluish_green"], PALETTE["reddish_purple"]]
    markers = ["o", "s", "^", "D", "v"]
    fig, ax = subplots(height=5.0)
    for index, (name, curve) in enumerate(curves.items()):
        ap = curve.attrs.get("average_precision")
        label = f"{name} (average precision {ap:.2f})" if ap is not None else name
        ax.step(curve["recall"], curve["precision"], where="post", color=colours[index % 4], label=label, linewidth=2)
    for index, (name, (recall, precision)) in enumerate((points or {}).items()):
        ax.plot(
            [recall],
            [precision],
            markers[index % 5],
            color=PALETTE["black"],
            markersize=8,
            markerfacecolor=PALETTE["orange"],
            label=name,
        )
    if base_rate is not None:
        ax.axhline(base_rate, linestyle=":", color=PALETTE["black"], label=f"chance: base rate {base_rate:.2%}")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall: share of the target accounts flagged")
    ax.set_ylabel("precision: share of flags that are true")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=10)
    return fig


def technique_chart(table: pd.DataFrame, *, title: str) -> Figure:
    """One panel per platform: for each technique, the share of each harm's accounts
    caught (the table :func:`toychat.metadata.technique_table` returns).

    Drawn at the course's width and its tallest height; the title is wrapped onto at most two
    lines above the panel titles, and bar labels are 10 pt (none on a bar of zero)."""
    import textwrap

    import numpy as np

    platforms = list(dict.fromkeys(table.index.get_level_values(0)))
    harms = list(table.columns)
    colours = [PALETTE["blue"], PALETTE["vermillion"], PALETTE["bluish_green"], PALETTE["orange"]]
    fig, axes = subplots(1, len(platforms), height=MAX_HEIGHT_IN, sharey=True)
    axes = np.atleast_1d(axes)
    for ax, platform in zip(axes, platforms, strict=True):
        rows = table.loc[platform]
        positions = np.arange(len(rows))
        height = 0.8 / len(harms)
        for index, harm in enumerate(harms):
            shares = rows[harm].fillna(0).to_numpy() * 100
            bars = ax.barh(positions + index * height, shares, height=height, color=colours[index % 4], label=harm)
            ax.bar_label(bars, labels=bar_labels(list(shares)), padding=2, fontsize=10)
        ax.set_yticks(positions + height * (len(harms) - 1) / 2, list(rows.index))
        ax.set_xlim(0, 130)
        ax.set_xticks([0, 25, 50, 75, 100])
        ax.set_xlabel("share of that harm's accounts\ncaught (%; no bar: none)")
        ax.set_title(platform, pad=10)
    axes[0].invert_yaxis()
    axes[0].set_ylabel("technique")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(harms), fontsize=10)
    fig.suptitle("\n".join(textwrap.wrap(title, int(FIGURE_WIDTH_IN * 10))[:2]))
    engine = fig.get_layout_engine()
    assert isinstance(engine, ConstrainedLayoutEngine)  # made with layout="constrained" above
    engine.set(h_pad=0.12)
    return fig
