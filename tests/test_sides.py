"""The page of each side's case and the evidence (docs/sides.md): one section per side of the
debate and one for the evidence, for a reader who briefs from the course (issue 28 §3).

Fairness is checked where text can check it: the three sides' sections have the same five parts
and similar lengths; each side speaks in at least two quotations found word for word in a ``quoted``
row of ``data/claims.csv``, cited by the row's id beside the article the row comes from; every other
quotation on the page is one the course already prints (``support.pages.printed_words``); the
evidence section labels the course's figures as toy or simulated, with their assumptions.  Whether
the page's figures are the lessons' is ``tests/test_prose_numbers.py``'s check; whether it quotes a
reworded copy, ``tests/test_quote_fidelity.py``'s; whether its links lead to built pages,
``tests/test_site_links.py``'s.
"""

from __future__ import annotations

import csv
import re

import pytest

from support.pages import REPO, printed_words, reference_keys, references_module
from toychat.claims import normalise

PAGE = REPO / "docs" / "sides.md"
#: Section heading -> who must be named in it.
SECTIONS = {
    "1. Governments, police and child-safety charities": (
        "National Crime Agency",
        "National Police Chiefs' Council",
        "Home Office",
        "Internet Watch Foundation",
        "NSPCC",
        "Virtual Global Taskforce",
    ),
    "2. Meta": ("Meta",),
    "3. Signal, WhatsApp, the Internet Society and other encryption advocates": (
        "Signal",
        "WhatsApp",
        "Internet Society",
    ),
    "4. The evidence": ("NCMEC",),
}
SIDES = list(SECTIONS)[:3]
#: The parts of a side's section, in this order.
SIDE_PARTS = (
    "**What they argue.**",
    "**In their own words.**",
    "**What the course measured that supports it.**",
    "**What cuts against it, or leaves it untested.**",
    "**Read.**",
)
EVIDENCE_PARTS = (
    "**What the course measured.**",
    "**What happened in the real world.**",
    "**What no one can yet measure.**",
    "**Read.**",
)
QUOTE = re.compile(r'"([^"]+)"')
CLAIM_ID = re.compile(r"`(C[0-9]{3})`")
LESSON_LINK = re.compile(r"\]\(\.\./lessons/([0-9]{2}_[a-z0-9_]+\.ipynb)\)")


def _text() -> str:
    return "\n".join(normalise(line) if line.strip() else "" for line in PAGE.read_text(encoding="utf-8").splitlines())


def _sections() -> dict[str, str]:
    """Heading (without ``## ``) -> the section's text."""
    parts = re.split(r"^## ", _text(), flags=re.M)[1:]
    return {part.splitlines()[0].strip(): part for part in parts}


def _part(section: str, label: str, labels: tuple[str, ...]) -> str:
    """The text from ``label`` up to the next of ``labels`` (or the end of the section)."""
    start = section.index(label)
    ends = [section.find(other, start + 1) for other in labels if other != label]
    return section[start : min([end for end in ends if end > start], default=len(section))]


def _quoted_claims() -> dict[str, dict[str, str]]:
    with (REPO / "data" / "claims.csv").open(encoding="utf-8") as f:
        return {row["claim_id"]: row for row in csv.DictReader(f) if row["voice"] == "quoted"}


def _bullets(part: str) -> list[str]:
    return [line for line in part.splitlines() if line.startswith("- ")]


def test_the_page_has_the_four_sections() -> None:
    assert list(_sections()) == list(SECTIONS), f"sections: {list(_sections())}"


@pytest.mark.parametrize("heading", list(SECTIONS))
def test_each_section_names_who_it_is_about(heading: str) -> None:
    missing = [name for name in SECTIONS[heading] if name not in _sections()[heading]]
    assert missing == [], f"section {heading!r} does not name {missing}"


@pytest.mark.parametrize("heading", SIDES)
def test_each_side_has_the_same_five_parts_in_order(heading: str) -> None:
    section = _sections()[heading]
    where = [section.find(label) for label in SIDE_PARTS]
    assert -1 not in where, f"section {heading!r} lacks {[p for p, w in zip(SIDE_PARTS, where, strict=True) if w < 0]}"
    assert where == sorted(where), f"section {heading!r}: parts out of order"


def test_the_evidence_has_its_parts_in_order() -> None:
    section = _sections()["4. The evidence"]
    where = [section.find(label) for label in EVIDENCE_PARTS]
    assert -1 not in where, f"the evidence lacks {[p for p, w in zip(EVIDENCE_PARTS, where, strict=True) if w < 0]}"
    assert where == sorted(where), "the evidence: parts out of order"


def _words(section: str) -> int:
    """Words a reader reads: without anchors and link targets."""
    return len(re.sub(r"<!--.*?-->|\]\([^)]*\)", " ", section).split())


def test_the_sections_are_of_similar_length() -> None:
    """About one printed page each, none more than a third longer than the shortest."""
    lengths = {heading: _words(section) for heading, section in _sections().items()}
    assert max(lengths.values()) <= 1.33 * min(lengths.values()), f"words per section: {lengths}"
    assert max(lengths.values()) <= 800, f"more than a page: {lengths}"


@pytest.mark.parametrize("heading", SIDES)
def test_each_side_speaks_in_at_least_two_claims_of_the_table(heading: str) -> None:
    """At least two quotations are, word for word, ``quoted`` rows of data/claims.csv: each names the
    row's id and cites the article the row comes from, and holds the row's quotation."""
    claims = _quoted_claims()
    own_words = _part(_sections()[heading], "**In their own words.**", SIDE_PARTS)
    matched = []
    for bullet in _bullets(own_words):
        ids = CLAIM_ID.findall(bullet)
        for claim_id in ids:
            assert claim_id in claims, f"{claim_id} is not a quoted claim of data/claims.csv: {bullet[:80]}"
            row = claims[claim_id]
            assert f"references.md#{row['source_id']})" in bullet, (
                f"{claim_id} is not cited to its article ({row['source_id']}): {bullet[:80]}"
            )
            quote = normalise(row["quote"]).strip(" ,.").lower()
            assert any(quote in normalise(q).lower() for q in QUOTE.findall(bullet)), (
                f"{claim_id}'s words are not the quotation beside it: {bullet[:80]}"
            )
            matched.append(claim_id)
    assert len(set(matched)) >= 2, f"section {heading!r}: only {matched} quotations from the claims table"


@pytest.mark.parametrize("heading", SIDES)
def test_every_quotation_of_a_side_has_a_citation(heading: str) -> None:
    own_words = _part(_sections()[heading], "**In their own words.**", SIDE_PARTS)
    bullets = _bullets(own_words)
    assert len(bullets) >= 4, f"section {heading!r}: give the side's key quotations"
    pattern = references_module().CITATION_RE
    for bullet in bullets:
        assert QUOTE.search(bullet), f"section {heading!r}: a bullet without the side's words: {bullet[:60]}"
        assert pattern.search(bullet), f"section {heading!r}: a quotation without a citation: {bullet[:60]}"
        if not CLAIM_ID.search(bullet):
            assert re.search(r"\blesson [0-9]{2}\b", bullet), (
                f"section {heading!r}: a quotation neither a claim (`Cnnn`) nor a lesson's: {bullet[:60]}"
            )


def test_every_quotation_is_one_the_course_already_checks() -> None:
    printed = printed_words()
    unknown = []
    for quote in QUOTE.findall(_text()):
        for fragment in (part.strip(" .,;") for part in quote.split("…")):
            if len(fragment.split()) >= 4 and fragment.lower() not in printed:
                unknown.append(fragment)
    assert unknown == [], "quotations the course does not print elsewhere:\n" + "\n".join(unknown)


@pytest.mark.parametrize("heading", [*SIDES, "4. The evidence"])
def test_the_course_figures_say_what_kind_they_are(heading: str) -> None:
    section = _sections()[heading]
    labels = SIDE_PARTS if heading in SIDES else EVIDENCE_PARTS
    measured = [label for label in labels if "course measured" in label or "cuts against" in label]
    for label in measured:
        part = _part(section, label, labels)
        sentences = [s for s in re.split(r"(?<=[.;])\s+", part) if "<!-- = l" in s]
        assert sentences, f"section {heading!r}, {label}: no figure from a lesson"
        for sentence in sentences:
            kind = re.search(r"measured on the toy|simulat", part[: part.index(sentence) + len(sentence)], re.I)
            assert kind, f"section {heading!r}: a course figure not labelled toy or simulated: {sentence[:80]}"
        if re.search(r"simulat", part, re.I):
            assert "assum" in part.lower(), f"section {heading!r}, {label}: simulated without its assumption"


@pytest.mark.parametrize("heading", list(SECTIONS))
def test_each_section_sends_the_reader_to_lessons_that_exist(heading: str) -> None:
    read = _part(_sections()[heading], "**Read.**", ("**Read.**",))
    lessons = LESSON_LINK.findall(read)
    assert lessons, f"section {heading!r}: no lesson to read"
    missing = [name for name in lessons if not (REPO / "lessons" / name).is_file()]
    assert missing == [], f"section {heading!r}: links to lessons that do not exist: {missing}"


def test_every_citation_resolves() -> None:
    keys = references_module().CITATION_RE.findall(PAGE.read_text(encoding="utf-8"))
    assert keys, "the page cites nothing"
    missing = sorted(set(keys) - reference_keys())
    assert missing == [], f"citations with no entry in data/references.csv: {missing}"


def test_the_page_is_on_the_site_and_in_the_summary_pdf() -> None:
    conf = (REPO / "docs" / "conf.py").read_text(encoding="utf-8")
    index = (REPO / "docs" / "index.md").read_text(encoding="utf-8")
    summaries = (REPO / "docs" / "policy_summaries.md").read_text(encoding="utf-8")
    build_pdf = (REPO / "scripts" / "build_pdf.py").read_text(encoding="utf-8")
    assert '"docs/sides.md"' in conf, "docs/conf.py does not build the page"
    assert re.search(r"^sides$", index, re.M), "docs/index.md's toctree does not list the page"
    assert "](sides.md)" in summaries.split("\n## ")[0], "the policy summaries' top does not link to the page"
    assert re.search(r'SUMMARY = \([^)]*"docs/sides\.html"', build_pdf), "the summary PDF leaves the page out"


def test_voge_on_european_users_keeps_the_context_lesson_00_gives() -> None:
    """Callum Voge spoke of *European* users while the EU debated its own proposal, not the UK's
    Act; lesson 00 says so beside the quotation, and so must this page (issue 28)."""
    lines = [line for line in PAGE.read_text(encoding="utf-8").splitlines() if "European internet users" in line]
    assert lines, "the page no longer quotes Voge on European users; drop this test with the quotation"
    for line in lines:
        assert "references.md#europeancommission2022" in line, line
