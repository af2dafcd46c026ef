"""The glossary is one click away: in each lesson, the first use of a glossary term links to its
entry in docs/glossary.md.

A *use* is the term in the lesson's own prose: headings, code, HTML comments, the text of other
links and quotations (someone's words, which the course does not mark up) are not uses.  Every lesson
is checked; lesson 10 §5's uses are skipped (so a term first used there must be linked at its first
use outside §5).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.pages import LESSONS, REPO, markdown_cells

GLOSSARY = REPO / "docs" / "glossary.md"

#: Glossary anchor -> what counts as a use of the term.  "Report" (a CyberTipline report) is not
#: listed: the word has too many other senses in the lessons to link by rule.
TERMS = {
    "base-rate": r"base rates?",
    "bundling": r"bundl(?:ing|ed|es?)",
    "ciphertext": r"ciphertexts?",
    "client-side-scanning": r"client-side scanning",
    "end-to-end-encryption": r"end-to-end encrypt(?:ion|ed)",
    "exceptional-access": r"exceptional access",
    "forward-secrecy": r"forward secrecy",
    "franking": r"(?:message )?franking",
    "hamming-distance": r"Hamming distances?",
    "hmac": r"HMAC",
    "incident": r"incidents?",
    "key-transparency": r"key transparency",
    "metadata": r"metadata",
    "nonce": r"nonces?",
    "perceptual-hash": r"perceptual hash(?:es|ing)?",
    "precision": r"precision",
    "recall": r"recall",
    "safety-number": r"safety numbers?",
    "server-side-scanning": r"server-side scanning",
    "threshold": r"thresholds?",
}
SKIPPED_SECTIONS = {"10": "## 5."}

GLOSSARY_LINK = re.compile(r"\[(?P<text>[^\]]+)\]\(\.\./docs/glossary\.md#(?P<anchor>[a-z-]+)\)")
_NOT_PROSE = [
    re.compile(r"```.*?```", re.S),  # fenced code
    re.compile(r"`[^`\n]*`"),  # inline code
    re.compile(r"<!--.*?-->", re.S),  # comments (the prose anchors)
    re.compile(r"^#+ .*$", re.M),  # headings
    re.compile(r"^:::.*$", re.M),  # admonition fences and their options
    re.compile(r"^:class:.*$", re.M),
    re.compile(r'"[^"\n]*"|“[^”\n]*”'),  # quotations
    re.compile(r"\]\([^)]*\)"),  # every link's target
    re.compile(r"<[^>\n]+>"),  # HTML tags
    re.compile(r"End-to-end encryption and online safety"),  # the course's title, a name
]
_OTHER_LINK_TEXT = re.compile(r"\[([^\]]+)\](?=\((?!\.\./docs/glossary\.md#))")


def _masked(text: str) -> str:
    """``text`` with everything that is not the lesson's own prose blanked out (same length)."""
    for pattern in [_OTHER_LINK_TEXT, *_NOT_PROSE]:
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    return text


def lesson_prose(lesson_name: str, cells: list[str]) -> str:
    """A lesson's Markdown cells joined, with any skipped section blanked out."""
    marker = SKIPPED_SECTIONS.get(lesson_name[:2])
    out, skipping = [], False
    for cell in cells:
        if marker and cell.startswith("## "):
            skipping = cell.startswith(marker)
        out.append(" " * len(cell) if skipping else cell)
    return "\n\n".join(out)


def first_uses(text: str) -> dict[str, int]:
    """Glossary anchor -> the position of the term's first use in ``text`` (absent if unused)."""
    prose = _masked(text)
    found = {}
    for anchor, pattern in TERMS.items():
        match = re.search(rf"(?<![\w-])(?:{pattern})(?![\w-])", prose, re.I)
        if match:
            found[anchor] = match.start()
    return found


def linked(text: str, position: int, anchor: str) -> bool:
    """Whether ``position`` falls in the text of a link to the glossary entry ``anchor``."""
    return any(
        m.start("text") <= position < m.end("text") and m["anchor"] == anchor for m in GLOSSARY_LINK.finditer(text)
    )


def test_every_term_has_an_entry() -> None:
    entries = set(re.findall(r'<a id="([a-z-]+)"></a>', GLOSSARY.read_text(encoding="utf-8")))
    assert set(TERMS) - entries == set(), f"terms with no glossary entry: {sorted(set(TERMS) - entries)}"
    assert entries - set(TERMS) <= {"report"}, (
        f"entries the test does not look for: {sorted(entries - set(TERMS) - {'report'})}"
    )


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name[:2])
def test_first_use_links_to_the_glossary(lesson: Path) -> None:
    text = lesson_prose(lesson.name, markdown_cells(lesson))
    unlinked = [
        f"{anchor}: {' '.join(text[max(0, pos - 40) : pos + 40].split())!r}"
        for anchor, pos in first_uses(text).items()
        if not linked(text, pos, anchor)
    ]
    assert unlinked == [], f"{lesson.name}: first uses not linked to docs/glossary.md:\n" + "\n".join(unlinked)


def test_links_name_real_entries() -> None:
    entries = set(re.findall(r'<a id="([a-z-]+)"></a>', GLOSSARY.read_text(encoding="utf-8")))
    wrong = [
        f"{lesson.name}: #{m['anchor']}"
        for lesson in LESSONS
        for cell in markdown_cells(lesson)
        for m in GLOSSARY_LINK.finditer(cell)
        if m["anchor"] not in entries
    ]
    assert wrong == [], "glossary links to no entry:\n" + "\n".join(wrong)
