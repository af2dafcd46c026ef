"""The policy readers' summaries (docs/policy_summaries.md): one section per lesson, each with the
claim tested, what the course measured (labelled toy or simulated), what happened in the real
world, and each side's reading in its own words with a citation.

Fairness is checked where text can check it: every section gives at least two sides, each with a
shipped citation and a quotation; and every quotation on the page is one the course already prints
(a lesson's text, whose quotations the fact-checks hold to their sources) or a speaker's own words
in ``data/claims.csv`` (checked against the articles by ``tests/test_claims.py``): the page cannot
put new words in anyone's mouth.
"""

from __future__ import annotations

import re

import pytest

from support.pages import LESSONS, REPO, printed_words, reference_keys, references_module
from toychat.claims import normalise

PAGE = REPO / "docs" / "policy_summaries.md"
PARTS = (
    "**Claim tested.**",
    "**What the course measured",
    "**What happened in the real world.**",
    "**Each side's reading.**",
)
HEADING = re.compile(r"^## ([0-9]{2})(?:-([0-9]{2}))? — ", re.M)
QUOTE = re.compile(r'"([^"]+)"')


def _sections() -> dict[str, str]:
    """Heading's lesson numbers ("06", or "01-03") -> the section's text."""
    text = normalise_lines(PAGE.read_text(encoding="utf-8"))
    starts = list(HEADING.finditer(text))
    out = {}
    for here, after in zip(starts, [*starts[1:], None], strict=True):
        key = here[1] + (f"-{here[2]}" if here[2] else "")
        out[key] = text[here.start() : after.start() if after else len(text)]
    return out


def normalise_lines(text: str) -> str:
    """Curly quotes made straight, line by line (keeps the Markdown's lines)."""
    return "\n".join(normalise(line) if line.strip() else "" for line in text.splitlines())


def _part(section: str, label: str) -> str:
    """The paragraph (or bullet list) a part label opens, up to the next label or heading."""
    start = section.index(label)
    ends = [section.find(other, start + 1) for other in PARTS if other != label] + [section.find("\n## ", start)]
    end = min([e for e in ends if e > start], default=len(section))
    return section[start:end]


def test_every_lesson_has_a_section() -> None:
    covered: set[int] = set()
    for key in _sections():
        first, _, last = key.partition("-")
        covered |= set(range(int(first), int(last or first) + 1))
    lessons = {int(path.name[:2]) for path in LESSONS}
    assert lessons - covered == set(), f"lessons with no summary: {sorted(lessons - covered)}"


@pytest.mark.parametrize("key", sorted(_sections()))
def test_each_section_has_the_four_parts(key: str) -> None:
    section = _sections()[key]
    missing = [label for label in PARTS if label not in section]
    assert missing == [], f"section {key} lacks {missing}"


@pytest.mark.parametrize("key", sorted(_sections()))
def test_measurements_say_what_kind_they_are(key: str) -> None:
    measured = _part(_sections()[key], "**What the course measured")
    if re.search(r"[0-9]", measured):
        assert re.search(r"measured on the toy|simulated", measured, re.I), (
            f"section {key}: figures without 'measured on the toy' or 'simulated'"
        )
    if re.search(r"simulated", measured, re.I):
        assert "assum" in measured.lower(), f"section {key}: a simulated figure without the assumption that drives it"


@pytest.mark.parametrize("key", sorted(_sections()))
def test_each_side_speaks_with_a_citation(key: str) -> None:
    reading = _part(_sections()[key], "**Each side's reading.**")
    sides = [line for line in reading.splitlines() if line.startswith("- *")]
    assert len(sides) >= 2, f"section {key}: give at least two sides"
    pattern = references_module().CITATION_RE
    for side in sides:
        assert QUOTE.search(side), f"section {key}: a side without its own words: {side[:60]}"
        assert pattern.search(side), f"section {key}: a side without a citation: {side[:60]}"


def test_every_citation_resolves() -> None:
    keys = references_module().CITATION_RE.findall(PAGE.read_text(encoding="utf-8"))
    assert keys, "the page cites nothing"
    missing = sorted(set(keys) - reference_keys())
    assert missing == [], f"citations with no entry in data/references.csv: {missing}"


def test_every_quotation_is_one_the_course_already_checks() -> None:
    printed = printed_words()
    unknown = []
    for quote in QUOTE.findall(normalise(PAGE.read_text(encoding="utf-8"))):
        for fragment in (part.strip(" .,;") for part in quote.split("…")):
            if len(fragment.split()) >= 4 and fragment.lower() not in printed:
                unknown.append(fragment)
    assert unknown == [], "quotations the course does not print elsewhere:\n" + "\n".join(unknown)
