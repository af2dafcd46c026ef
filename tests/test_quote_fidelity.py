"""Quotations the course prints are the speakers' words, not a reworded copy's.

One of the five source articles (data/sources.csv, ``homeoffice-campaign-2023``) rewords the
quotations of the BBC News report it follows; another (Police Professional) states an NCA estimate
in the reporter's words.  The reworded phrases below must not reach a reader as anyone's words:
the README and the lessons quote the primary wording instead (BBC News, 20 Sept 2023; the Home
Office's statement of the NCA's estimate).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

#: Reworded phrase -> the words the speaker used (for the failure message).
REWORDED = {
    "We don't believe people want us reading": 'BBC News: "We don\'t think people want us reading ..."',
    "as a result of our industry-leading work": 'BBC News: "due to our industry leading work"',
    "The vast majority of Britons already rely": 'BBC News: "The overwhelming majority of Brits already rely"',
    "We are not requesting new or additional": 'BBC News: "We are not asking for new or additional"',
    "They must create adequate protections": (
        'BBC News: "They must develop appropriate safeguards to sit alongside their plans for end-to-end encryption"'
    ),
    '"In this country, we arrest about 800 perpetrators': (
        "the reworded article's; no stored primary source gives Suella Braverman's own words: paraphrase them"
    ),
    '"We now have wide-ranging powers contained in this new legislation': (
        "the reworded article's; no stored primary source gives Suella Braverman's own words: paraphrase them"
    ),
    '"would result in the loss of the vast majority of reports': (
        "Police Professional's own sentence; the Home Office: the NCA \"estimates 92 per cent of Facebook "
        'Messenger and 85 per cent of Instagram Direct referrals could be lost"'
    ),
}

_STRAIGHT = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _reader_texts() -> list[tuple[str, str]]:
    """(file, text) for the README, the site's own pages (docs/*.md: the summaries, key numbers,
    glossary, guides) and every lesson's cells, quotes straightened."""
    out = [("README.md", (REPO / "README.md").read_text(encoding="utf-8"))]
    out += [(f"docs/{path.name}", path.read_text(encoding="utf-8")) for path in sorted((REPO / "docs").glob("*.md"))]
    for path in sorted((REPO / "lessons").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        out.append((path.name, "\n".join("".join(cell["source"]) for cell in cells)))
    return [(name, " ".join(text.translate(_STRAIGHT).split())) for name, text in out]


def test_the_site_pages_are_read() -> None:
    """The pages a briefing is written from are among the texts checked."""
    names = {name for name, _ in _reader_texts()}
    missing = {"README.md", "docs/policy_summaries.md", "docs/sides.md", "docs/key_numbers.md"} - names
    assert missing == set(), f"reader texts not checked for reworded quotations: {missing}"


@pytest.mark.parametrize("phrase", sorted(REWORDED))
def test_no_reworded_quotation(phrase: str) -> None:
    found = [name for name, text in _reader_texts() if phrase.lower() in text.lower()]
    assert found == [], f"{phrase!r} is a reworded copy's wording ({REWORDED[phrase]}); found in {found}"
