"""The course bibliography: ``data/references.csv`` rendered to ``docs/references.md``.

One row per source (``key,authors,year,title,venue,date,url,note``).  Lessons,
exercises, docs and docstrings cite a source as a markdown link to its anchor,
``[Abelson et al. 2021](../docs/references.md#abelson2021)``; the rendered page
gives every entry an ``id`` so the link lands on it in JupyterLab, on GitHub and
in the course site.

    python scripts/references.py            # write docs/references.md
    python scripts/references.py --check    # exit 1 if it is out of date or a row is bad

Keys are lowercase: first author's surname or the organisation's short name, the
year, and a letter when one author has several sources that year (``nca2023b``).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CSV_PATH = REPO / "data" / "references.csv"
MD_PATH = REPO / "docs" / "references.md"
FIELDS = ("key", "authors", "year", "title", "venue", "date", "url", "note")
KEY_RE = re.compile(r"^[a-z][a-z0-9-]*\d{4}[a-z]?$")
#: A citation link anywhere in the course: ``references.md`` + ``#`` + key.
CITATION_RE = re.compile(r"references\.md#([A-Za-z0-9_-]+)")


class BadReference(ValueError):
    """A row of ``data/references.csv`` that a reader could not follow."""


@dataclass(frozen=True)
class Reference:
    """One source in the bibliography."""

    key: str
    authors: str
    year: str
    title: str
    venue: str
    date: str
    url: str
    note: str

    def render(self) -> str:
        """The entry as one markdown paragraph, with an anchor readers' links land on."""
        parts = [f'<a id="{self.key}"></a>**{self.authors} ({self.year}).** {self.title}.']
        if self.venue:
            parts.append(f"*{self.venue}*" + (f", {self.date}." if self.date else "."))
        elif self.date:
            parts.append(f"{self.date}.")
        if self.url:
            parts.append(f"<{self.url}>")
        if self.note:
            parts.append(self.note)
        return " ".join(parts) + f" `[{self.key}]`"


def load(path: Path = CSV_PATH) -> list[Reference]:
    """Read and validate the bibliography; a bad row raises :class:`BadReference` naming it."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != FIELDS:
            raise BadReference(f"{path.name}: columns must be {','.join(FIELDS)}")
        refs: list[Reference] = []
        seen: set[str] = set()
        for line, row in enumerate(reader, start=2):
            values = {name: (row[name] or "").strip() for name in FIELDS}
            ref = Reference(**values)
            where = f"{path.name} line {line} ({ref.key or 'no key'})"
            if not KEY_RE.match(ref.key):
                raise BadReference(f"{where}: key must look like 'abelson2021' or 'nca2023b'")
            if ref.key in seen:
                raise BadReference(f"{where}: key used twice")
            if not (ref.authors and ref.year and ref.title):
                raise BadReference(f"{where}: authors, year and title are required")
            if not (ref.url.startswith("https://") or ref.url.startswith("http://") or ref.note):
                raise BadReference(f"{where}: give a URL, or a note saying where to find it")
            seen.add(ref.key)
            refs.append(ref)
    return refs


def render(refs: list[Reference]) -> str:
    """The whole references page, sorted by key."""
    lines = [
        "# References",
        "",
        "Every source the course cites, in one place. Lessons, exercises and guides link to an entry "
        "here by its key. This page is generated from `data/references.csv` by "
        "`python scripts/references.py`; edit the CSV, not this page.",
        "",
    ]
    for ref in sorted(refs, key=lambda r: r.key):
        lines += [ref.render(), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/references.md is stale")
    args = parser.parse_args(argv)
    try:
        text = render(load())
    except BadReference as exc:
        print(f"references: {exc}", file=sys.stderr)
        return 1
    if args.check:
        if not MD_PATH.exists() or MD_PATH.read_text(encoding="utf-8") != text:
            print("references: docs/references.md is out of date; run python scripts/references.py", file=sys.stderr)
            return 1
        return 0
    MD_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {MD_PATH.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
