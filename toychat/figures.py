"""Figures that carry their alt text into JupyterLab, Voilà and the course site.

JupyterLab draws a matplotlib figure as a bare ``<img>`` with no ``alt``
attribute, so a screen-reader user hears "image" and nothing else.  This
module gives every figure an HTML representation (the same PNG, inside an
``<img alt="…">``) which JupyterLab, Voilà and the site prefer over the bare
PNG; the PNG stays in the output too.  The alt text is the one a lesson sets
with :func:`set_alt_text`, or else is built from the figure's own titles and
axis labels, which in this course state the finding.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> fig, ax = plt.subplots()
>>> _ = ax.set(title="Ciphertext bytes are flat", xlabel="byte value", ylabel="count")
>>> alt_text(fig)
'Figure: Ciphertext bytes are flat (x axis: byte value; y axis: count).'
>>> set_alt_text(fig, "A flat histogram.")
>>> alt_text(fig), "alt=\\"A flat histogram.\\"" in figure_html(fig)
('A flat histogram.', True)
>>> plt.close(fig)
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text

__all__ = [
    "SHOWN",
    "alt_text",
    "figure_html",
    "figure_numbers",
    "png_with_description",
    "register",
    "set_alt_text",
    "unsupported_numbers",
]

_ATTRIBUTE = "_toychat_alt_text"
_DATA = "_toychat_alt_data"

#: Every figure this kernel has shown while the environment variable ``TOYCHAT_CHECK_ALT_TEXT`` is
#: set: its alt text, and the numbers in it that the figure does not show
#: (:func:`unsupported_numbers`).  ``tests/test_notebooks.py`` sets it and reads this after a lesson runs.
SHOWN: list[tuple[str, list[str]]] = []

#: A number as an alt text writes it: digits with ``,`` and ``.`` inside, an optional ``%``.
_NUMBER = re.compile(r"(?<![\w.])[0-9](?:[0-9,.]*[0-9])?%?")


def set_alt_text(fig: Figure, text: str, data: Iterable[object] = ()) -> None:
    """Give ``fig`` the alt text a screen reader reads in place of the picture.

    ``data`` are the values behind marks that do not show them one by one (each a sequence: a
    histogram's raw values), or a figure the description derives from what is drawn (an
    extrapolation); :func:`figure_numbers` counts them, and their summaries, as shown.
    """
    if not text.strip():
        raise ValueError("alt text must describe the figure; it cannot be empty")
    setattr(fig, _ATTRIBUTE, text.strip())
    setattr(fig, _DATA, [np.ravel(np.asarray(values, dtype=float)) for values in data])


def alt_text(fig: Figure) -> str:
    """The alt text set for ``fig``, or one built from its titles and axis labels."""
    chosen: str | None = getattr(fig, _ATTRIBUTE, None)  # set only by set_alt_text, always a str
    if chosen:
        return chosen
    parts: list[str] = []
    suptitle = fig.get_suptitle()
    if suptitle:
        parts.append(suptitle)
    for ax in fig.get_axes():
        if not ax.get_visible() or not ax.axison and not ax.get_title():
            continue
        labels = [f"{name} axis: {label}" for name, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if label]
        title = ax.get_title()
        text = title + (f" ({'; '.join(labels)})" if labels else "") if title else "; ".join(labels)
        if text:
            parts.append(text)
    return "Figure: " + (". ".join(parts) if parts else "an untitled chart") + "."


def figure_html(fig: Figure) -> str:
    """``fig`` as an ``<img>`` with its alt text (PNG at the inline backend's resolution)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    described = alt_text(fig)
    if os.environ.get("TOYCHAT_CHECK_ALT_TEXT"):
        SHOWN.append((described, unsupported_numbers(described, fig)))
    alt = html.escape(described, quote=True)
    return f'<img class="toychat-figure" alt="{alt}" src="data:image/png;base64,{data}"/>'


def register() -> bool:
    """Make IPython show every figure through :func:`figure_html`; False outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with every kernel
        return False
    shell = get_ipython()
    if shell is None:
        return False
    # Load the kernel's backend now: matplotlib-inline, when it loads, clears every formatter
    # registered for Figure (IPython's select_figure_formats), which would drop this one.
    import matplotlib.pyplot as plt

    plt._get_backend_mod()  # noqa: SLF001 - the one way to load the backend without a figure
    shell.display_formatter.formatters["text/html"].for_type(Figure, figure_html)
    # The PNG keeps its own representation, with the alt text in its metadata: the course site
    # takes the PNG, and MyST-NB reads an image's alt from the output's image/png metadata.
    png = shell.display_formatter.formatters["image/png"]
    try:
        current = png.lookup_by_type(Figure)
    except KeyError:
        return True
    if not getattr(current, "_toychat_alt", False):
        png.for_type(Figure, _png_with_alt(current))
    return True


def png_with_description(png: bytes, text: str) -> bytes:
    """``png`` with ``text`` in an iTXt "Description" chunk (UTF-8), inserted before its end.

    The course site writes each figure's PNG to a file; its Sphinx extension reads this chunk to
    give the ``<img>`` its alt text, since MyST-NB takes only a size from an output's metadata.

    >>> from PIL import Image
    >>> import io
    >>> buffer = io.BytesIO(); Image.new("RGB", (2, 2)).save(buffer, format="PNG")
    >>> Image.open(io.BytesIO(png_with_description(buffer.getvalue(), "Two → one"))).text["Description"]
    'Two → one'
    """
    end = png.rfind(b"IEND") - 4
    if not png.startswith(b"\x89PNG\r\n\x1a\n") or end < 8:
        return png
    data = b"Description\x00\x00\x00\x00\x00" + text.encode("utf-8")
    chunk = struct.pack(">I", len(data)) + b"iTXt" + data + struct.pack(">I", zlib.crc32(b"iTXt" + data))
    return png[:end] + chunk + png[end:]


def _png_with_alt(png: Callable[[Figure], object]) -> Callable[[Figure], object]:
    """IPython's PNG formatter for figures, returning ``(png, {"alt": alt_text(fig)})``."""

    def formatter(fig: Figure) -> object:
        data = png(fig)
        if data is None:
            return None
        metadata: dict[str, object] = {}
        if isinstance(data, tuple) and len(data) == 2:
            data, extra = data
            metadata.update(extra or {})
        alt = alt_text(fig)
        metadata["alt"] = alt
        if isinstance(data, bytes):
            data = png_with_description(data, alt)
        elif isinstance(data, str):  # IPython hands the PNG over base64-encoded
            data = base64.b64encode(png_with_description(base64.b64decode(data), alt)).decode("ascii")
        return data, metadata

    formatter._toychat_alt = True  # type: ignore[attr-defined]
    return formatter


def _finite(values: object) -> Iterator[float]:
    """The finite numbers in ``values`` (an array, a list, a masked array; anything else: none)."""
    try:
        array: np.ndarray = np.ma.filled(np.ma.asarray(values, dtype=float), np.nan).ravel()
    except (TypeError, ValueError):
        return
    yield from (float(v) for v in array[np.isfinite(array)][:100_000])


def figure_numbers(fig: Figure) -> set[float]:
    """Every number ``fig`` shows: in its text (titles, axis and tick labels, legends, annotations,
    bar labels), in its data (bars' edges and sizes, lines' and scatters' points, images' values and
    sizes) and its axes' limits.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.bar(["a", "b"], [3, 12]); _ = ax.set_title("12 of 15")
    >>> {3.0, 12.0, 15.0} <= figure_numbers(fig)
    True
    >>> plt.close(fig)
    """
    fig.draw_without_rendering()  # tick labels are chosen when the figure is drawn
    found: set[float] = set()
    for text in fig.findobj(Text):
        if isinstance(text, Text):  # findobj is typed as returning any artist
            for number in _NUMBER.findall(text.get_text().replace("\u2212", "-")):
                found |= set(_values(number))
    for x, width in _bars(fig):
        found |= {x, width, x + width, x + width / 2}
    for y, height in _bars(fig, across=True):
        found |= {y, height, y + height, y + height / 2}
    for artist in fig.findobj():
        if hasattr(artist, "get_xydata"):
            found |= set(_finite(artist.get_xydata()))
        if hasattr(artist, "get_offsets"):
            found |= set(_finite(artist.get_offsets()))
        if hasattr(artist, "get_array") and artist.get_array() is not None:
            data = np.ma.asarray(artist.get_array())
            found |= set(_finite(data)) | {float(n) for n in data.shape}
    for ax in fig.get_axes():
        found |= set(_finite([*ax.get_xlim(), *ax.get_ylim()]))
    lines = [float(np.asarray(line.get_xdata(), dtype=float)[0]) for line in fig.findobj(Line2D) if _vertical(line)]
    for values in getattr(fig, _DATA, []):
        values = values[np.isfinite(values)]
        found |= set(_finite(values)) | {float(len(values))}
        if len(values):
            found |= set(_finite([values.min(), values.max(), np.median(values), values.sum()]))
        for x in lines:
            found |= {float((values > x).sum()), float((values >= x).sum()), float((values < x).sum())}
            found |= {float((values <= x).sum())}
            found |= {float((values > x).mean()), float((values <= x).mean())} if len(values) else set()
    return found


def _bars(fig: Figure, across: bool = False) -> Iterator[tuple[float, float]]:
    """Every rectangle's (x, width), or (y, height) ``across``: a bar's centre is where it stands."""
    for patch in fig.findobj(Rectangle):
        if isinstance(patch, Rectangle):  # findobj is typed as returning any artist
            yield (patch.get_y(), patch.get_height()) if across else (patch.get_x(), patch.get_width())


def _vertical(line: Line2D) -> bool:
    """Whether ``line`` is a vertical line across the axes (a threshold ``axvline``)."""
    xs = np.asarray(line.get_xdata(), dtype=float)
    return len(xs) == 2 and xs[0] == xs[1]


def _values(written: str) -> list[float]:
    """What a number as written may stand for: ``76%`` is 76 or the share 0.76."""
    value = float(written.rstrip("%").replace(",", ""))
    return [value, value / 100] if written.endswith("%") else [value]


def _supports(shown: float, written: str) -> bool:
    """Whether ``written`` is ``shown`` at the precision it is written, or rounded to its trailing
    zeros (``about 1,240`` for 1,238; ``76%`` for 0.7612)."""
    digits = written.rstrip("%").replace(",", "")
    decimals = len(digits.partition(".")[2])
    zeros = 0 if decimals else len(digits) - len(digits.rstrip("0"))
    value = float(digits)
    for candidate in (shown, shown * 100) if written.endswith("%") else (shown,):
        for places in range(-zeros, decimals + 1):
            if math.isclose(round(candidate, places), value, rel_tol=1e-9, abs_tol=1e-9):
                return True
    return False


def unsupported_numbers(text: str, fig: Figure) -> list[str]:
    """The numbers in ``text`` (a figure's alt text) that ``fig`` shows nowhere, at the precision
    written: a description that disagrees with the figure's data, or states what it does not draw.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.bar(["kept", "lost"], [0.924, 0.076])
    >>> unsupported_numbers("Two bars: 92% kept and 8% lost; 12 lost.", fig)
    ['12']
    >>> plt.close(fig)
    """
    shown = figure_numbers(fig)
    return [written for written in _NUMBER.findall(text) if not any(_supports(x, written) for x in shown)]
