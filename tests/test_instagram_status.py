"""No reader text presents Instagram's direct messages as end-to-end encrypted without a date.

Meta planned in 2019 to bring end-to-end encryption to Messenger and Instagram; it made it the
default for personal Messenger chats on 6 December 2023, but on Instagram it stayed an option a
user switched on chat by chat, and Meta withdrew that option on 8 May 2026 (lesson 06 §8; the
Guardian, 18 March 2026; Instagram's Help Centre).  A sentence written before then, "E2EE on
Messenger and Instagram ...", now reads as a false statement of the present.  So every sentence in
the course's own voice that names Instagram together with encryption must say *when* (a year in
its own words, not only in a citation's link text), and a few present-tense phrasings are refused
outright.  Words inside quotation marks are a speaker's and are left alone, as are the articles'
quotations in ``data/claims.csv`` (the claims table prints them as their date's words); the notes
the course writes beside them are checked.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

#: Present-tense phrasings that state Instagram's messages are end-to-end encrypted now.
PRESENT_TENSE = (
    "instagram dms are end-to-end encrypted",
    "instagram direct messages are end-to-end encrypted",
    "instagram direct is end-to-end encrypted",
    "instagram messages are end-to-end encrypted",
    "encrypted by default on messenger and instagram",
    "e2ee on messenger and instagram stops",
    "end-to-end encryption (e2ee) on messenger and instagram stops",
    "meta's encryption of messenger and instagram",
)

_STRAIGHT = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_QUOTED = re.compile(r'"[^"]*"')
_YEAR = re.compile(r"\b(19|20)\d\d\b")
_ENCRYPTION = re.compile(r"encrypt|e2ee", re.I)
#: Sentence ends: a full stop, question or exclamation mark before a space; a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z*(\[_])|\n+")


def _own_words(text: str) -> str:
    """``text`` without citation links' text, HTML comments (number anchors) and quotations."""
    text = _COMMENT.sub("", text.translate(_STRAIGHT))
    text = _LINK.sub("", text)
    return _QUOTED.sub('""', text)


def undated_instagram_encryption(text: str) -> list[str]:
    """The sentences of ``text`` whose own words name Instagram and encryption but give no year.

    >>> undated_instagram_encryption("Instagram DMs are end-to-end encrypted.")
    ['Instagram DMs are end-to-end encrypted.']
    >>> undated_instagram_encryption("In 2023 Meta made Instagram's encryption an option.")
    []
    >>> undated_instagram_encryption('Meta said "Instagram chats are encrypted" ([Meta 2022](x)).')
    []
    >>> undated_instagram_encryption("E2EE on Instagram stops detection ([Home Office 2023](x)).")
    ['E2EE on Instagram stops detection ([Home Office 2023](x)).']
    """
    found = []
    for sentence in _SENTENCE_END.split(text):
        own = _own_words(sentence)
        if "instagram" in own.lower() and _ENCRYPTION.search(own) and not _YEAR.search(own):
            found.append(sentence.strip())
    return found


def _reader_texts() -> list[tuple[str, str]]:
    """(name, text) for the README, the site's own pages (not the generated bibliography), every
    lesson's Markdown cells and the notes of ``data/claims.csv``."""
    out = [("README.md", (REPO / "README.md").read_text(encoding="utf-8"))]
    out += [
        (f"docs/{path.name}", path.read_text(encoding="utf-8"))
        for path in sorted((REPO / "docs").glob("*.md"))
        if path.name != "references.md"
    ]
    for path in sorted((REPO / "lessons").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        out += [
            (f"{path.name} cell {i}", "".join(cell["source"]))
            for i, cell in enumerate(cells)
            if cell["cell_type"] == "markdown"
        ]
    with (REPO / "data" / "claims.csv").open(encoding="utf-8") as f:
        out += [(f"claims.csv {row['claim_id']} note", row["note"]) for row in csv.DictReader(f)]
    return out


def test_the_pages_a_briefing_uses_are_read() -> None:
    names = {name.split(" ")[0] for name, _ in _reader_texts()}
    assert {"README.md", "docs/sides.md", "docs/key_numbers.md", "docs/policy_summaries.md"} <= names
    assert any(name.startswith("06_") for name in names)
    assert any(name.startswith("claims.csv") for name in names)


@pytest.mark.parametrize("phrase", PRESENT_TENSE)
def test_no_present_tense_phrase(phrase: str) -> None:
    found = [name for name, text in _reader_texts() if phrase in " ".join(text.translate(_STRAIGHT).lower().split())]
    assert found == [], f"{phrase!r} states Instagram's messages are encrypted now (withdrawn 8 May 2026): {found}"


def test_every_instagram_encryption_sentence_is_dated() -> None:
    undated = [
        f"{name}: {sentence[:160]}" for name, text in _reader_texts() for sentence in undated_instagram_encryption(text)
    ]
    assert undated == [], (
        "sentences naming Instagram and encryption without a year (say when: Meta withdrew Instagram's "
        "optional end-to-end encryption on 8 May 2026, lesson 06 §8):\n" + "\n".join(undated)
    )


@pytest.mark.parametrize(
    "sentence",
    [
        "Instagram DMs are end-to-end encrypted.",
        "Governments argue that end-to-end encryption (E2EE) on Messenger and Instagram stops Meta detecting abuse.",
        "Meta's E2EE on Instagram means the server sees only ciphertext ([Meta 2023](../docs/references.md#meta2023)).",
    ],
)
def test_the_check_catches_an_undated_sentence(sentence: str) -> None:
    assert undated_instagram_encryption(sentence) == [sentence]
