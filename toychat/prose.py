"""Numbers in a lesson's prose come from its code: a computed figure is noted, and the text says which.

A lesson computes a figure and notes it under a name, formatted as the prose prints it::

    note("l10.precision", metadata_result["precision"], "{:.0%}")

and its Markdown writes the same text followed by an invisible anchor naming it::

    precision 97%<!-- = l10.precision -->

The anchor is an HTML comment, which JupyterLab, the policy view and the course site all
leave unrendered, so a reader sees only the number.  ``tests/test_notebooks.py`` runs each
lesson, reads what it noted (:data:`NOTED`) and fails if a number before an anchor differs from
the noted text, or an anchor names nothing noted: a number in the prose cannot drift from the
output it stands for.  Figures from the real world keep their citation instead.
"""

from __future__ import annotations

import re

__all__ = ["ANCHOR", "NOTED", "anchored_numbers", "note"]

#: What this kernel's lesson has noted so far: name -> the text the prose must show.
NOTED: dict[str, str] = {}

#: A number (digits, with ``,`` ``.`` and an optional ``%``) directly followed by its anchor.
ANCHOR = re.compile(r"(?P<number>[0-9][0-9.,]*%?)<!-- = (?P<name>[a-z0-9_.]+) -->")


def note(name: str, value: object, fmt: str = "{}") -> str:
    """Record ``value`` formatted with ``fmt`` under ``name``, and return that text.

    >>> note("example.share", 0.8164, "{:.0%}")
    '82%'
    >>> NOTED["example.share"]
    '82%'
    """
    text = fmt.format(value)
    NOTED[name] = text
    return text


def anchored_numbers(markdown: str) -> list[tuple[str, str]]:
    """Every ``(number as written, name)`` pair anchored in ``markdown``.

    >>> anchored_numbers("precision 97%<!-- = l10.precision -->, recall 82%")
    [('97%', 'l10.precision')]
    """
    return [(m["number"], m["name"]) for m in ANCHOR.finditer(markdown)]
