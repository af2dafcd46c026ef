"""The course bibliography: every citation a reader meets can be followed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from support.pages import script_module

REPO = Path(__file__).resolve().parent.parent
references = script_module("references")

#: Every place a reader meets a citation.
CITING = ["README.md", "lessons", "solutions", "exercises", "docs", "toychat", "benchmarks", "scripts"]


def _texts() -> list[tuple[str, str]]:
    """(file, text) for every file that can carry a citation; notebooks contribute every cell."""
    out: list[tuple[str, str]] = []
    for entry in CITING:
        root = REPO / entry
        paths = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in paths:
            if path.suffix == ".ipynb":
                cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
                text = "\n".join("".join(cell["source"]) for cell in cells)
            elif path.suffix in {".md", ".py"} and path.name != "references.md":
                text = path.read_text(encoding="utf-8")
            else:
                continue
            out.append((str(path.relative_to(REPO)), text))
    return out


def test_rendered_page_is_up_to_date() -> None:
    assert references.main(["--check"]) == 0, "run python scripts/references.py"


def test_every_citation_resolves() -> None:
    keys = {ref.key for ref in references.load()}
    missing = [
        f"{name}: #{key}" for name, text in _texts() for key in references.CITATION_RE.findall(text) if key not in keys
    ]
    assert missing == [], "citations with no entry in data/references.csv:\n" + "\n".join(missing)


@pytest.mark.parametrize(
    "row, message",
    [
        ({"key": "Abelson2021"}, "key must look like"),
        ({"authors": ""}, "required"),
        ({"url": "", "note": ""}, "URL"),
    ],
)
def test_a_bad_row_is_named(tmp_path: Path, row: dict[str, str], message: str) -> None:
    good = dict(zip(references.FIELDS, ["x2020", "X", "2020", "T", "V", "", "https://e.org", ""], strict=True))
    good.update(row)
    path = tmp_path / "refs.csv"
    path.write_text(",".join(references.FIELDS) + "\n" + ",".join(good.values()) + "\n")
    with pytest.raises(references.BadReference, match=message):
        references.load(path)


def test_a_duplicate_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "refs.csv"
    row = "x2020,X,2020,T,V,,https://e.org,\n"
    path.write_text(",".join(references.FIELDS) + "\n" + row + row)
    with pytest.raises(references.BadReference, match="twice"):
        references.load(path)


def _address(url: str) -> str:
    """A URL reduced to what identifies the page: no scheme, no ``www.``, no trailing slash."""
    return re.sub(r"^https?://(www\.)?", "", url.strip()).rstrip("/").lower()


def shared_addresses(refs: list[references.Reference]) -> dict[str, list[str]]:
    """Addresses that more than one entry gives, with the keys that give them: two keys for one
    page are one source cited two ways (or two sources, one of them at the wrong address)."""
    by_address: dict[str, list[str]] = {}
    for ref in refs:
        if ref.url:
            by_address.setdefault(_address(ref.url), []).append(ref.key)
    return {address: keys for address, keys in by_address.items() if len(keys) > 1}


def test_no_two_entries_share_an_address() -> None:
    assert shared_addresses(references.load()) == {}


def test_a_shared_address_is_named(tmp_path: Path) -> None:
    path = tmp_path / "refs.csv"
    rows = ["a2020,A,2020,T,V,,https://www.e.org/page/,", "b2021,B,2021,U,V,,http://e.org/page,"]
    path.write_text(",".join(references.FIELDS) + "\n" + "\n".join(rows) + "\n")
    assert shared_addresses(references.load(path)) == {"e.org/page": ["a2020", "b2021"]}


def _title_words(title: str) -> str:
    """A title reduced to its words: lower case, no parenthetical (a version, a series), no punctuation."""
    return " ".join(re.findall(r"[a-z0-9]+", re.sub(r"\([^)]*\)", "", title.lower())))


#: A passage of ten words or more that a note quotes in single quotation marks.
NOTE_QUOTE_RE = re.compile(r"(?:^|[\s(])'(.{40,}?)'(?=[\s.,;:)]|$)")


def same_work_pairs(refs: list[references.Reference]) -> list[tuple[str, str]]:
    """Pairs of entries that look like one work listed twice: the same title once a version or
    other parenthetical is dropped (two versions of one whitepaper), or notes quoting the same
    passage (a post and a copy that quotes it).  Keep the primary entry and note in it where the
    words were read."""
    pairs: set[tuple[str, str]] = set()
    by_title: dict[str, list[str]] = {}
    for ref in refs:
        by_title.setdefault(_title_words(ref.title), []).append(ref.key)
    for keys in by_title.values():
        pairs.update((a, b) for a in keys for b in keys if a < b)
    quotes = [(ref.key, " ".join(q.lower().split())) for ref in refs for q in NOTE_QUOTE_RE.findall(ref.note)]
    quotes = [(key, q) for key, q in quotes if len(q.split()) >= 10]
    pairs.update((k1, k2) for k1, q1 in quotes for k2, q2 in quotes if k1 < k2 and (q1 in q2 or q2 in q1))
    return sorted(pairs)


def test_no_work_is_listed_twice() -> None:
    assert same_work_pairs(references.load()) == []


def test_a_work_listed_twice_is_named(tmp_path: Path) -> None:
    path = tmp_path / "refs.csv"
    rows = [
        "a2016,A,2016,Some Whitepaper,V,,https://a.org/1,",
        "a2017,A,2017,Some Whitepaper (version 2.0),V,,https://a.org/2,",
        "b2020,B,2020,A post,V,,https://b.org/post,"
        "\"It says 'one two three four five six seven eight nine ten eleven'.\"",
        "c2020,C,2020,A report of the post,V,,https://c.org/news,"
        "\"Quotes 'two three four five six seven eight nine ten eleven'.\"",
    ]
    path.write_text(",".join(references.FIELDS) + "\n" + "\n".join(rows) + "\n")
    assert same_work_pairs(references.load(path)) == [("a2016", "a2017"), ("b2020", "c2020")]


#: An RFC named anywhere in the package (a docstring or a comment).
RFC_RE = re.compile(r"\bRFC ?(\d{3,5})\b")


def test_every_rfc_the_package_names_has_an_entry() -> None:
    """A standard a docstring leans on ("RFC 9162 §2.1") is a source like any other: the
    bibliography must carry it, so that a reader of the code can follow it too."""
    listed = {number for ref in references.load() for number in RFC_RE.findall(ref.venue)}
    named = {
        (str(path.relative_to(REPO)), number)
        for path in sorted((REPO / "toychat").rglob("*.py"))
        for number in RFC_RE.findall(path.read_text(encoding="utf-8"))
    }
    missing = sorted(f"{name}: RFC {number}" for name, number in named if number not in listed)
    assert missing == [], "RFCs the package names with no entry in data/references.csv:\n" + "\n".join(missing)


def test_the_readme_opening_cites_each_sentence() -> None:
    """The README's first paragraph states each side's case; every sentence that does carries a
    citation, and each argument is given to its own side (issue 28: Meta's case for behavioural
    detection and reports had been given to Signal and the Internet Society)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    opening = readme.split("\n\n")[1]
    sentences = re.split(r"(?<=\.) (?=[A-Z])", opening.split(" This course")[0])
    uncited = [s for s in sentences if not references.CITATION_RE.search(s)]
    assert uncited == [], f"README sentences without a citation: {uncited}"
    meta = [s for s in sentences if s.startswith("Meta ")]
    assert len(meta) == 1, sentences
    assert "behavioural" in meta[0], meta[0]
    advocates = [s for s in sentences if "weakening encryption" in s]
    assert len(advocates) == 1, sentences
    for who in ("Signal", "WhatsApp", "Internet Society"):
        assert who in advocates[0], (who, advocates[0])


#: Sources listed for the reader to follow but not stored for the course, so never a figure's
#: source: a number the course prints must come from a text that was read.
UNREAD = {"ncmec2025b": "NCMEC's CyberTipline 2024 report"}


@pytest.mark.parametrize("key", sorted(UNREAD))
def test_no_figure_is_sourced_to_an_unread_report(key: str) -> None:
    marked = [name for name, text in _texts() if f"<!-- source: {key} -->" in text]
    assert marked == [], f"figures marked as from {UNREAD[key]}, which the course has not read: {marked}"


@pytest.mark.parametrize("lesson", ["06_server_side_scanning.ipynb", "10_claims_and_evidence.ipynb"])
def test_the_2024_ncmec_figures_say_whose_account_they_are(lesson: str) -> None:
    """Lessons 06 and 10 give NCMEC's 2024 figures in the same words: NBC News's account of
    NCMEC's data, since NCMEC's own report was not stored (issue 28)."""
    text = dict(_texts())[f"lessons/{lesson}"]
    assert "NCMEC's CyberTipline data for 2024, as reported by NBC News" in text
