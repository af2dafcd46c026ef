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
import struct
import zlib
from collections.abc import Callable

from matplotlib.figure import Figure

__all__ = ["alt_text", "figure_html", "png_with_description", "register", "set_alt_text"]

_ATTRIBUTE = "_toychat_alt_text"


def set_alt_text(fig: Figure, text: str) -> None:
    """Give ``fig`` the alt text a screen reader reads in place of the picture."""
    if not text.strip():
        raise ValueError("alt text must describe the figure; it cannot be empty")
    setattr(fig, _ATTRIBUTE, text.strip())


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
    alt = html.escape(alt_text(fig), quote=True)
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
