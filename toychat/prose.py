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

Every other number in a lesson's Markdown must be of a kind the code cannot produce, or say that
it is typed on purpose; :func:`unanchored_numbers` finds the ones that are neither, without
running anything (``tests/test_prose_numbers.py``).  Exempt without a mark:

* structure: a heading's or a numbered list's number, a lesson, section, part or exercise
  number (``lesson 07``, ``sections 2 and 3``), a link's text (``[Jain et al. 2022](…)``), the
  ``*Time: about 35 minutes.*`` line, an exercise's marks (``2 points``);
* citations: a year (``2023``, written without a comma), a day of a month (``20 Sept``), a
  version (``1.6.2``), anything inside double quotation marks (a quotation), and every number in
  a sentence or table cell that carries a link (a cited, real-world figure);
* code and notation: inline ``code`` and fenced blocks, a power written with superscripts
  (``2¹⁹²``), a one-to-one (``1:1``) chat.

A number fixed by a standard, a definition or arithmetic on such numbers (``a 32-byte key``,
``8 bits per byte``) that is not in a cited sentence is marked ``32<!-- fixed -->``, and a
real-world figure repeated away from its citation ``92%<!-- source: homeoffice2023 -->``; a
reviewer sees each such mark and can ask whether the number is really not the code's.
"""

from __future__ import annotations

import re

__all__ = ["ANCHOR", "FIXED", "NOTED", "anchored_numbers", "cited_sources", "note", "unanchored_numbers"]

#: What this kernel's lesson has noted so far: name -> the text the prose must show.
NOTED: dict[str, str] = {}

#: A number (digits, with ``,`` ``.`` and an optional ``%``) directly followed by its anchor.
ANCHOR = re.compile(r"(?P<number>[0-9][0-9.,]*%?)<!-- = (?P<name>[a-z0-9_.]+) -->")

#: A number typed on purpose, marked as not the code's: fixed by a standard or a definition
#: (``<!-- fixed -->``), or a real-world figure whose citation is elsewhere on the page, named by
#: its key in ``data/references.csv`` (``<!-- source: nca2023b -->``).
FIXED = re.compile(r"[0-9][0-9.,]*%?<!-- (?:fixed|source: (?P<source>[a-z0-9-]+)) -->")

#: A number as prose writes it: digits with ``,`` and ``.`` inside, an optional ``%``.
_NUMBER = re.compile(r"(?<![\w.#/-])[0-9](?:[0-9,.]*[0-9])?%?")

_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"

#: Code, comments and quotations, removed first (anchors and marks are removed before them).
_CODE = re.compile(r'```.*?```|`[^`\n]*`|<!--.*?-->|"[^"\n]*"|“[^”\n]*”', re.S)

#: Text removed before numbers are looked for: what cannot hold a figure from the code.
_EXEMPT = [
    re.compile(r"^#{1,6} (?:Lesson )?[0-9]+(?:\.[0-9]+)*\.?", re.M),  # a heading's number
    re.compile(r"^\s*[0-9]+\.(?:\s|$)", re.M),  # a numbered list's number
    re.compile(r"^\*Time: about [0-9]+ minutes\.", re.M),  # the lesson's time estimate
    re.compile(r"\b[0-9]+ points?\b"),  # an exercise's marks
    re.compile(r"\[[^\]\n]*\](?=\()"),  # a link's text
    re.compile(r"\]\([^)\s]*\)"),  # a link's target
    re.compile(
        r"(?:\b(?:[Ll]essons?|[Ss]ections?|[Pp]arts?|[Ee]xercises?|[Qq]uestions?)|§+)\s*[0-9]+"
        r"(?:(?:\s*[-–,]\s*|\s+(?:and|or|to)\s+)[0-9]+)*"
    ),  # the course's own structure
    re.compile(r"\b[0-9]{1,2}(?:[-–][0-9]{1,2})? (?:" + _MONTHS + r")[a-z]*\b"),  # a day of a month
    re.compile(r"(?<![0-9,.])(?:19|20)[0-9]{2}(?![0-9]|[,.][0-9])"),  # a year
    re.compile(r"\b[0-9]+\.[0-9]+\.[0-9]+\b"),  # a version
    re.compile(r"[0-9]+[⁰¹²³⁴⁵⁶⁷⁸⁹]+"),  # a power written with superscripts
    re.compile(r"\b1:1\b"),  # a one-to-one chat
]

#: A link: a sentence or table cell holding one cites a source for its numbers.
_CITED = re.compile(r"\]\([^)\s]+\)")

#: Where one sentence ends and the next begins (or one table cell and the next).
_UNITS = re.compile(r"(?<=[.!?:;])\s+(?=[A-Z*(\[])|\||\n")


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


def unanchored_numbers(markdown: str) -> list[str]:
    """The numbers in ``markdown`` that are neither anchored, marked fixed, nor exempt: each one is
    either a figure the code should note or one whose kind the rules above do not cover.

    >>> unanchored_numbers("## 3. Evasion\\n29<!-- = l07.evaded --> of 30 pictures evaded.")
    ['30']
    >>> unanchored_numbers("A 32<!-- fixed -->-byte key; 85% in 2023 ([NCA 2023](x.md#nca)).")
    []
    """
    text = _CODE.sub(" ", FIXED.sub("", ANCHOR.sub("", markdown)))
    found: list[str] = []
    for unit in _UNITS.split(text):
        if _CITED.search(unit):
            continue
        for pattern in _EXEMPT:
            unit = pattern.sub(" ", unit.strip() if pattern.pattern.startswith("^") else unit)
        found += _NUMBER.findall(unit)
    return found


def cited_sources(markdown: str) -> list[str]:
    """The reference keys named by ``<!-- source: key -->`` marks in ``markdown``.

    >>> cited_sources("92%<!-- source: homeoffice2023 --> of referrals; a 32<!-- fixed -->-byte key")
    ['homeoffice2023']
    """
    return [m["source"] for m in FIXED.finditer(markdown) if m["source"]]
