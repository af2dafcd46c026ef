"""One table style for the whole course (presentation layer: used by notebooks only).

pandas' default display right-aligns prose, shows the row index, prints
timestamps as ``2024-01-05 14:03:00+00:00`` and lists as whatever the data
file stored.  :func:`show_table` renders a DataFrame the way a reader wants to
read it: text left-aligned and wrapped in full, no index, times in UTC words,
fractions as percentages, empty cells as a dash, column names as words
("claim id", not ``claim_id``), each header aligned like its column, tiny
probabilities in words rather than e-notation, and a long table in a
scrollable box (with a header that stays in view) rather than cut.  The HTML is
self-contained (inline styles, no script), so it looks the same in JupyterLab,
in Voilà and on the static site.

>>> import pandas as pd
>>> table = pd.DataFrame({"claim": ["E2EE hides abuse"], "share": [0.125], "lessons": [["03", "09"]]})
>>> html = show_table(table, percent=["share"]).data
>>> "12.5%" in html and "03, 09" in html and ">claim</th>" in html
True
"""

from __future__ import annotations

import html as _html
import math
import numbers
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from IPython.display import HTML

__all__ = ["EMPTY", "format_cell", "header_text", "in_words", "markdown_table_html", "show_table"]

#: What an empty cell shows.
EMPTY = "—"
#: Text that is a list stored as one field ("03;04;06", "abelson2021;nca2023b"): no spaces, ';' between.
_SEMICOLON_LIST = re.compile(r"^[^\s;]+(;[^\s;]+)+$")
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
#: Height (px) of a one-line row (and of the header), used to size the scrollable box.
_ROW_PX = 30
#: Height (px) each further line of text adds to a row (14 px text at line-height 1.4).
_LINE_PX = 20
#: Characters of text a line holds across the whole table (about 800 px of 14-px text, a notebook's
#: width at 1280 px with its file browser open): a prose column of share s holds s% of them.
_LINE_CHARS = 100
#: Characters a line of a short-text column holds (it wraps between words).
_SHORT_CHARS = 24
#: Characters of a short-text column kept on one line beside prose (the rest wraps).
_SHORT_KEEP_CHARS = 16
#: Average width (em) of a character of 14-px text, and the padding (em) of a cell.
_EM_PER_CHAR = 0.5
_PAD_EM = 1.15
#: Width (em) of the narrowest table the short columns are fitted to: a table box at 1280 px is
#: about 826 px inside JupyterLab's 848-px output area; 54 em (756 px) leaves room for padding and
#: for characters wider than the estimate (at 56 em lesson 10's evidence table overflowed by 5 px).
_TABLE_EM = 54
#: A short-text column whose longest cell has at most this many characters (a time in UTC, a
#: platform's name, "reported message") is kept on one line, while the table has room for it:
#: "2024-01-08 09:05" over "UTC" reads as two values.
_NOWRAP_CHARS = 24
#: Average width (em) of a character kept on one line: generous, so that the room reserved for
#: such columns is not underestimated.
_NOWRAP_EM_PER_CHAR = 0.58
#: Below this, a fraction would be printed in e-notation ("2.4e-05"); it is put in words instead.
_TINY = 1e-4

# Inline styles, not a <style> block: JupyterLab strips <style> from HTML it does not
# trust (a table shown inside a widget's output, for example) but keeps the style
# attributes it allows, and a style attribute also wins over JupyterLab's own rule that
# right-aligns every table cell.
_BOX = "overflow:auto;max-width:100%;border:1px solid #c4c4c4;margin:0.5em 0;"
# margin:0 overrides JupyterLab's 1em under every rendered table, which left a blank strip
# inside the box under the last row.  Separate borders (with no spacing, so it looks the same)
# because a sticky header loses its collapsed bottom border while the rows scroll under it.
# table-layout:auto overrides JupyterLab's (and Voila's) rule that fixes every rendered
# table's layout, which gives each column the same width: a claim id as wide as its quote.
# With auto layout the browser shares the width by content, so quotes get the room.
_TABLE = (
    "border-collapse:separate;border-spacing:0;table-layout:auto;font-size:14px;line-height:1.4;width:100%;margin:0;"
)
#: A table with no prose is as wide as its columns need, not the whole output area: a count beside
#: a name is read across a short gap, not across the screen.
_TABLE_COMPACT = _TABLE.replace("width:100%;", "width:auto;")
#: ... and so is its box (the frame around it), so the frame does not run on past the table.
_BOX_COMPACT = "width:fit-content;"
#: A cell, or a short header, kept on one line.
_NOWRAP = "white-space:nowrap;"
_CAPTION = "caption-side:top;text-align:left;font-weight:600;padding:4px 6px;"
# The header stays in view while a long table scrolls in its box (sticky to the box's top).
_TH_BASE = (
    "background:#f0f0f0;padding:4px 8px;border-bottom:2px solid #767676;vertical-align:bottom;"
    "position:sticky;top:0;z-index:1;"
)
_TH = "text-align:left;" + _TH_BASE
#: A number column's header is right-aligned like its numbers, so it sits over them.
_TH_NUM = "text-align:right;" + _TH_BASE
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

    A list stored as text ("03;04;06") reads as one; a tiny probability is put in words:

    >>> format_cell("03;04;06"), format_cell(2.4e-123), format_cell(2.4e-5)
    ('03, 04, 06', 'less than 1 in a billion', 'about 1 in 42,000')
    """
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return ", ".join(str(item) for item in items) or EMPTY
    if isinstance(value, str) and _SEMICOLON_LIST.match(value.strip()):
        return ", ".join(value.strip().split(";"))
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
        if 0 < abs(value) < _TINY:
            return in_words(value)
        return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}"
    return str(value)


def in_words(value: float) -> str:
    """A tiny probability (under 0.0001) as a reader says it, never in e-notation.

    >>> in_words(2.4e-123), in_words(3e-7), in_words(1.25e-5)
    ('less than 1 in a billion', 'about 1 in 3,300,000', 'about 1 in 80,000')
    """
    if value < 0:
        return "minus " + in_words(-value)
    if value < 1e-9:
        return "less than 1 in a billion"
    odds = 1 / value
    digits = math.floor(math.log10(odds)) - 1  # two significant figures
    return f"about 1 in {round(odds / 10**digits) * 10**digits:,}"


def header_text(column: Any) -> str:
    """A column's name as a reader sees it: words, not a variable name.

    >>> header_text("claim_id"), header_text("what the course measured")
    ('claim id', 'what the course measured')
    """
    return " ".join(str(column).replace("_", " ").split())


def _as_numbers(series: pd.Series) -> pd.Series:
    """A text-typed (object) column that holds only numbers and blanks, as a number column, so it
    is aligned and given decimals like one (1 and 2.5 stored together read "1.00" and "2.50", not
    "1" beside "2.50"); any other column unchanged."""
    if not pd.api.types.is_object_dtype(series):
        return series
    values = [value for value in series if not _is_missing(value)]
    if not values or not all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in values):
        return series
    return pd.to_numeric(series.map(lambda v: None if _is_missing(v) else v), errors="coerce")


def _numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _shows_decimals(series: pd.Series) -> bool:
    """True for a float column with a fractional value, whose whole numbers must keep decimals too."""
    if not pd.api.types.is_float_dtype(series):
        return False
    finite = series[pd.notna(series) & (series.abs() != float("inf"))]
    return bool((finite % 1 != 0).any())


def _prose_shares(lengths: dict[int, list[int]]) -> dict[int, float]:
    """The share (%) of the table's width of each prose column, given the lengths (characters)
    of its cells' text."""
    means = {i: math.sqrt(sum(sizes) / len(sizes)) for i, sizes in lengths.items()}
    total = sum(means.values()) or 1.0
    return {i: _PROSE_SHARE * mean / total for i, mean in means.items()}


def _prose_style(share: float) -> str:
    return f"width:{share:.0f}%;min-width:{_PROSE_MIN_EM}em;{_PROSE_WRAP}"


def _one_line(
    texts: Sequence[Sequence[str]], columns: Sequence[Any], prose: dict[int, float], aligned_right: dict[Any, bool]
) -> set[int]:
    """The short-text columns kept on one line (longest cell at most :data:`_NOWRAP_CHARS`
    characters): the shortest first, while the table still has room for them beside its number
    columns and its prose at their minimum width, so keeping them whole never widens the table
    past its box.

    >>> left = {"at": False, "who": False, "what": False}
    >>> sorted(_one_line([["2024-01-08 09:05 UTC", "bob", "x" * 30]], ["at", "who", "what"], {}, left))
    [0, 1]
    """
    longest = {i: max((len(row[i]) for row in texts), default=0) for i in range(len(columns))}
    room = _TABLE_EM - len(prose) * (_PROSE_MIN_EM + _PAD_EM)
    room -= sum(longest[i] * _EM_PER_CHAR + _PAD_EM for i, column in enumerate(columns) if aligned_right[column])
    candidates = [
        i
        for i, column in enumerate(columns)
        if i not in prose and not aligned_right[column] and 0 < longest[i] <= _NOWRAP_CHARS
    ]
    # Columns that may wrap keep a few characters of room too.
    room -= sum(
        min(_SHORT_KEEP_CHARS, longest[i]) * _EM_PER_CHAR * 0.5 + _PAD_EM
        for i, column in enumerate(columns)
        if i not in prose and not aligned_right[column] and i not in candidates
    )
    kept: set[int] = set()
    for i in sorted(candidates, key=lambda i: longest[i]):
        need = longest[i] * _NOWRAP_EM_PER_CHAR + _PAD_EM
        if need > room:
            break
        kept.add(i)
        room -= need
    return kept


def _short_widths(
    texts: Sequence[Sequence[str]],
    columns: Sequence[Any],
    prose: dict[int, float],
    aligned_right: dict[Any, bool],
    one_line: set[int] = frozenset(),  # type: ignore[assignment]
) -> dict[int, str]:
    """The style of each short-text column (a label, a name, an attempt): room for its longest text
    on a line or two, so that the prose beside it does not squeeze it to a word a line — as much
    of that room as the table has once its prose and number columns have theirs."""
    longest = {i: max((len(row[i]) for row in texts), default=0) for i in range(len(columns))}
    wanted = {
        i: min(_SHORT_KEEP_CHARS, longest[i]) * _EM_PER_CHAR
        for i, column in enumerate(columns)
        if i not in prose and not aligned_right[column] and i not in one_line
    }
    taken = len(prose) * (_PROSE_MIN_EM + _PAD_EM) + sum(
        longest[i] * _EM_PER_CHAR + _PAD_EM for i, column in enumerate(columns) if aligned_right[column]
    )
    taken += sum(longest[i] * _NOWRAP_EM_PER_CHAR + _PAD_EM for i in one_line)
    room = _TABLE_EM - taken - _PAD_EM * len(wanted)
    scale = min(1.0, max(0.0, room / sum(wanted.values()))) if wanted and sum(wanted.values()) else 1.0
    return {i: f"min-width:{em * scale:.1f}em;" for i, em in wanted.items() if em * scale >= 1}


def _row_px(row: Sequence[str], prose: dict[int, float], wrapping: set[int]) -> int:
    """About how tall (px) a row is drawn: one line, plus a line for each time its longest
    cell wraps (prose at its share of the width, short text between words, numbers never)."""
    lines = 1
    for i, text in enumerate(row):
        if i in prose:
            per_line = max(8.0, _LINE_CHARS * prose[i] / 100)
        elif i in wrapping:
            per_line = _SHORT_CHARS
        else:
            continue
        lines = max(lines, math.ceil(len(text) / per_line))
    return _ROW_PX + (lines - 1) * _LINE_PX


def _box_height(rows: Sequence[Sequence[str]], prose: dict[int, float], wrapping: set[int], caption: bool) -> int:
    """The height (px) of a box that shows ``rows`` in full, with the header and caption above them."""
    return (1 + caption) * _ROW_PX + sum(_row_px(row, prose, wrapping) for row in rows)


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
    # Columns by position: a table may repeat a column name.
    texts_typed = [i for i in range(frame.shape[1]) if pd.api.types.is_object_dtype(frame.dtypes.iloc[i])]
    changed = {i: _as_numbers(frame.iloc[:, i]) for i in texts_typed}
    changed = {i: series for i, series in changed.items() if not pd.api.types.is_object_dtype(series)}
    if changed:
        frame = frame.copy()
        for i, series in changed.items():
            frame.isetitem(i, series.to_numpy())
    as_percent = {str(name) for name in percent}
    unknown = as_percent - {str(column) for column in frame.columns}
    if unknown:
        raise KeyError(f"show_table: no column named {sorted(unknown)} to show as percent")
    columns: Sequence[Any] = list(frame.columns)
    numeric = {column: _numeric(frame[column]) for column in columns}
    fractional = {column: _shows_decimals(frame[column]) for column in columns}
    aligned_right = {column: numeric[column] or str(column) in as_percent for column in columns}
    texts = [
        [
            format_cell(value, percent=str(column) in as_percent, decimals=fractional[column])
            for column, value in zip(columns, values, strict=True)
        ]
        for values in frame.itertuples(index=False, name=None)
    ]
    # Prose columns (quotes, explanations) get room to be read rather than a sliver, in
    # proportion to how much they say.
    prose = _prose_shares(
        {
            i: [len(row[i]) for row in texts]
            for i in range(len(columns))
            if any(len(row[i]) > _PROSE_CHARS for row in texts)
        }
    )
    one_line = _one_line(texts, columns, prose, aligned_right)
    short = _short_widths(texts, columns, prose, aligned_right, one_line)
    head = "".join(
        f'<th style="{_TH_NUM if aligned_right[column] else _TH}'
        f'{_NOWRAP if i in one_line and len(header_text(column)) <= _SHORT_KEEP_CHARS else ""}">'
        f"{_html.escape(header_text(column))}</th>"
        for i, column in enumerate(columns)
    )
    rows = []
    for row in texts:
        cells = []
        for i, (column, text) in enumerate(zip(columns, row, strict=True)):
            if aligned_right[column]:
                cells.append(f'<td class="num" style="{_TD_NUM}">{_html.escape(text)}</td>')
            else:
                wide = _prose_style(prose[i]) if i in prose else _NOWRAP if i in one_line else short.get(i, "")
                cells.append(f'<td style="{_TD}{wide}">{_html.escape(text)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f'<caption style="{_CAPTION}">{_html.escape(caption)}</caption>' if caption else ""
    # Only a long table scrolls; a short one is shown whole.  The box is as tall as its first
    # max_rows_visible rows are drawn (a quote takes several lines), not max_rows_visible lines.
    box = _BOX if prose else _BOX + _BOX_COMPACT
    table_style = _TABLE if prose else _TABLE_COMPACT
    if len(rows) > max_rows_visible:
        wrapping = {i for i, column in enumerate(columns) if not aligned_right[column] and i not in one_line}
        height = _box_height(texts[:max_rows_visible], prose, wrapping, caption=bool(caption))
        box += f"max-height:{height}px;"
    body = (
        f'<div class="toychat-table-box" style="{box}" tabindex="0" role="region"'
        + f' data-rows-visible="{min(max_rows_visible, len(rows))}"'
        + f' aria-label="{_html.escape(caption or "table")}">'
        + f'<table class="toychat-table" style="{table_style}">{cap}<thead><tr>{head}</tr></thead>'
        + f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    return HTML(body)


_MARKDOWN_CELL = re.compile(r'<(th|td)(?: style="text-align:(left|center|right)")?>')
#: A cell of a Markdown table: the course cell's rules; its alignment is the one the Markdown gives.
_MD_TD = "padding:4px 8px;border-bottom:1px solid #dcdcdc;vertical-align:top;"


def markdown_table_html(markdown: str) -> str:
    """A Markdown (pipe) table as HTML in the course's table style, for a renderer that gives
    Markdown tables its own smaller, unbordered look (Voilà's policy view).  Each column keeps the
    alignment its Markdown asks for, left by default; the header is aligned like its column.

    >>> html = markdown_table_html("| measure | value |\\n|---|--:|\\n| recall | **81%** |\\n")
    >>> 'font-size:14px' in html, '<th style="text-align:right;' in html, "<strong>81%</strong>" in html
    (True, True, True)
    """
    import mistune  # nbconvert's Markdown renderer, so present wherever Voilà is

    rendered = str(mistune.create_markdown(plugins=["table"])(markdown))

    def style(match: re.Match[str]) -> str:
        tag, align = match.group(1), match.group(2) or "left"
        return f'<{tag} style="text-align:{align};{_TH_BASE if tag == "th" else _MD_TD}">'

    # Full width only for a table of prose, as show_table does.
    prose = any(len(cell.strip()) > _PROSE_CHARS for line in markdown.splitlines() for cell in line.split("|"))
    rendered = _MARKDOWN_CELL.sub(style, rendered).replace(
        "<table>", f'<table class="toychat-table" style="{_TABLE if prose else _TABLE_COMPACT}">', 1
    )
    return f'<div class="toychat-table-box" style="{_BOX if prose else _BOX + _BOX_COMPACT}">{rendered.strip()}</div>'
