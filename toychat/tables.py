"""One table style for the whole course (presentation layer: used by notebooks only).

pandas' default display right-aligns prose, shows the row index, prints
timestamps as ``2024-01-05 14:03:00+00:00`` and lists as whatever the data
file stored.  :func:`show_table` renders a DataFrame the way a reader wants to
read it: text left-aligned and wrapped in full, no index, times in UTC words,
fractions as percentages, empty cells as a dash, and a long table in a
scrollable box rather than cut.  The HTML is self-contained (inline styles, no
script), so it looks the same in JupyterLab, in Voilà and on the static site.

>>> import pandas as pd
>>> table = pd.DataFrame({"claim": ["E2EE hides abuse"], "share": [0.125], "lessons": [["03", "09"]]})
>>> html = show_table(table, percent=["share"]).data
>>> "12.5%" in html and "03, 09" in html and ">claim</th>" in html
True
"""

from __future__ import annotations

import html as _html
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from IPython.display import HTML

__all__ = ["EMPTY", "format_cell", "show_table"]

#: What an empty cell shows.
EMPTY = "—"
#: A column with a cell longer than this many characters is prose, and gets room to be read.
_PROSE_CHARS = 60
#: Prose may wrap anywhere (a long URL must not widen the table); other cells only between
#: words, so a short label such as "empirical-quantitative" is never split mid-word.
_PROSE_WRAP = "overflow-wrap:anywhere;"
#: Prose columns together are given this share (%) of the table's width, split between them by the
#: square root of their average text length: a quote gets more room than a name, and a name is not
#: squeezed.  A share, not a fixed width, so that several prose columns side by side still fit a
#: notebook's width instead of scrolling sideways; the other columns take what their words need.
_PROSE_SHARE = 85
#: ... but never less than this (em), so that no prose column becomes a sliver.
_PROSE_MIN_EM = 8
#: Row height (px) used to size the scrollable box.
_ROW_PX = 30

# Inline styles, not a <style> block: JupyterLab strips <style> from HTML it does not
# trust (a table shown inside a widget's output, for example) but keeps the style
# attributes it allows, and a style attribute also wins over JupyterLab's own rule that
# right-aligns every table cell.
_BOX = "overflow:auto;max-width:100%;border:1px solid #c4c4c4;margin:0.5em 0;"
# table-layout:auto overrides JupyterLab's (and Voila's) rule that fixes every rendered
# table's layout, which gives each column the same width: a claim id as wide as its quote.
# With auto layout the browser shares the width by content, so quotes get the room.
_TABLE = "border-collapse:collapse;table-layout:auto;font-size:14px;line-height:1.4;width:100%;"
_CAPTION = "caption-side:top;text-align:left;font-weight:600;padding:4px 6px;"
_TH = "background:#f0f0f0;text-align:left;padding:4px 8px;border-bottom:2px solid #767676;vertical-align:bottom;"
_TD = (
    "text-align:left;padding:4px 8px;border-bottom:1px solid #dcdcdc;vertical-align:top;"
    "white-space:normal;overflow-wrap:break-word;"
)
_TD_NUM = (
    "text-align:right;padding:4px 8px;border-bottom:1px solid #dcdcdc;vertical-align:top;"
    "white-space:nowrap;font-variant-numeric:tabular-nums;"
)


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    return False


def format_cell(value: Any, *, percent: bool = False, decimals: bool = False) -> str:
    """One cell as the text a reader sees (not yet HTML-escaped).

    ``decimals=True`` says the cell's column shows decimals, so a whole number keeps
    them ("9.00" beside "2.70", not "9"); :func:`show_table` decides it per column.

    >>> format_cell(0.0825, percent=True), format_cell(1234567), format_cell(["08", "09"])
    ('8.2%', '1,234,567', '08, 09')
    >>> format_cell(pd.Timestamp("2024-01-05 14:03", tz="UTC")), format_cell(None)
    ('2024-01-05 14:03 UTC', '—')
    >>> format_cell(9.0), format_cell(9.0, decimals=True), format_cell(2.7)
    ('9', '9.00', '2.70')
    """
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return ", ".join(str(item) for item in items) or EMPTY
    if _is_missing(value):
        return EMPTY
    if isinstance(value, (pd.Timestamp, datetime)):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert(UTC)
        text = stamp.strftime("%Y-%m-%d %H:%M")
        return text + " UTC" if stamp.tzinfo is not None else text
    if isinstance(value, bool):
        return "yes" if value else "no"
    if percent and isinstance(value, (int, float)):
        return f"{value:.1%}"
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return f"{int(value):,}"
    if isinstance(value, float) or (hasattr(value, "dtype") and value.dtype.kind == "f"):
        value = float(value)
        if value.is_integer() and abs(value) < 1e15 and not decimals:
            return f"{int(value):,}"
        return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}"
    return str(value)


def _numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _shows_decimals(series: pd.Series) -> bool:
    """True for a float column with a fractional value, whose whole numbers must keep decimals too."""
    if not pd.api.types.is_float_dtype(series):
        return False
    finite = series[pd.notna(series) & (series.abs() != float("inf"))]
    return bool((finite % 1 != 0).any())


def _prose_widths(lengths: dict[int, list[int]]) -> dict[int, str]:
    """The style of each prose column, given the lengths (characters) of its cells' text."""
    means = {i: math.sqrt(sum(sizes) / len(sizes)) for i, sizes in lengths.items()}
    total = sum(means.values()) or 1.0
    return {
        i: f"width:{_PROSE_SHARE * mean / total:.0f}%;min-width:{_PROSE_MIN_EM}em;{_PROSE_WRAP}"
        for i, mean in means.items()
    }


def show_table(
    table: pd.DataFrame | pd.Series,
    *,
    caption: str | None = None,
    percent: Iterable[str] = (),
    max_rows_visible: int = 15,
    index: bool = False,
) -> HTML:
    """Render ``table`` in the course style and return it for Jupyter to display.

    ``percent`` names columns holding fractions (0-1) to show as percentages.
    ``index=True`` keeps the index as a first column (for a Series or a table
    whose index is meaningful).  Tables longer than ``max_rows_visible`` rows
    are shown in full inside a scrollable box, never cut.
    """
    if isinstance(table, pd.Series):
        table = table.to_frame()
        index = True
    frame = table.reset_index() if index else table
    as_percent = {str(name) for name in percent}
    unknown = as_percent - {str(column) for column in frame.columns}
    if unknown:
        raise KeyError(f"show_table: no column named {sorted(unknown)} to show as percent")
    columns: Sequence[Any] = list(frame.columns)
    numeric = {column: _numeric(frame[column]) for column in columns}
    fractional = {column: _shows_decimals(frame[column]) for column in columns}
    head = "".join(f'<th style="{_TH}">{_html.escape(str(column))}</th>' for column in columns)
    texts = [
        [
            format_cell(value, percent=str(column) in as_percent, decimals=fractional[column])
            for column, value in zip(columns, values, strict=True)
        ]
        for values in frame.itertuples(index=False, name=None)
    ]
    # Prose columns (quotes, explanations) get room to be read rather than a sliver, in
    # proportion to how much they say.
    prose = _prose_widths(
        {
            i: [len(row[i]) for row in texts]
            for i in range(len(columns))
            if any(len(row[i]) > _PROSE_CHARS for row in texts)
        }
    )
    rows = []
    for row in texts:
        cells = []
        for i, (column, text) in enumerate(zip(columns, row, strict=True)):
            if numeric[column] or str(column) in as_percent:
                cells.append(f'<td class="num" style="{_TD_NUM}">{_html.escape(text)}</td>')
            else:
                wide = prose.get(i, "")
                cells.append(f'<td style="{_TD}{wide}">{_html.escape(text)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f'<caption style="{_CAPTION}">{_html.escape(caption)}</caption>' if caption else ""
    # Only a long table scrolls; a short one is shown whole.
    box = _BOX + (f"max-height:{(max_rows_visible + 1) * _ROW_PX}px;" if len(rows) > max_rows_visible else "")
    body = (
        f'<div class="toychat-table-box" style="{box}" tabindex="0" role="region"'
        + f' aria-label="{_html.escape(caption or "table")}">'
        + f'<table class="toychat-table" style="{_TABLE}">{cap}<thead><tr>{head}</tr></thead>'
        + f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    return HTML(body)
