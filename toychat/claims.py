"""Claims and evidence: the dataset of every claim in the course's five source articles.

Lesson 10 asks, of each claim in the debate: who says it, what kind of claim
it is, and what evidence could settle it.  The data live in two CSV files
next to the package:

* ``data/sources.csv`` — one row per article (``source_id``, ``outlet``,
  ``title``, ``date``, ``seed_file``, ``url``);
* ``data/claims.csv`` — one row per claim, quoted verbatim from its article,
  with the speaker's side, whose words the quote is (its ``voice``), the
  claim's type, its figure and unit if it has one, what would test it, the
  lessons that bear on it, the sources that check it (keys of the course's
  bibliography, ``data/references.csv``) and, where the same speaker makes
  the same point again, the earlier claim it repeats.

``voice`` says who is speaking, which matters before a quote is used as
someone's case: ``quoted`` is the speaker's own words, in quotation marks (or
a block quote) in the article; ``reported`` is the reporter's sentence saying
what the speaker said, thinks or argues; ``journalist`` is the journalist's
own sentence.  Only ``quoted`` rows are the speaker's words.

The article texts are not shipped with the package (they are news articles):
:func:`find_seeds` finds them in ``$TOYCHAT_SEEDS`` or in ``shared/seeds``
beside the repository.

:func:`load_sources` and :func:`load_claims` read and check them: a row that
breaks a rule raises :class:`~toychat.errors.MalformedClaims` naming the row.
:func:`quote_in_source` checks that every quote really is in its article;
:func:`claims_for_lesson` and :func:`summary_by` slice and count.

>>> claims = load_claims()
>>> set(claims["side"]) <= set(SIDES) and set(claims["voice"]) <= set(VOICES)
True
>>> int(summary_by(claims, "source_id", None)["claims"].sum()) == len(claims)
True
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import MalformedClaims

__all__ = [
    "DATA_DIR",
    "SEEDS_DIR",
    "SIDES",
    "VOICES",
    "CLAIM_TYPES",
    "LESSONS",
    "SOURCE_COLUMNS",
    "CLAIM_COLUMNS",
    "load_sources",
    "load_claims",
    "normalise",
    "find_seeds",
    "quote_in_source",
    "claims_for_lesson",
    "speaker_label",
    "speaker_and_voice",
    "VOICE_WORDS",
    "ALL",
    "EXPLORER_COLUMNS",
    "explore_claims",
    "summary_by",
    "Evidence",
    "with_evidence",
]

#: The repository's ``data/`` folder (beside the ``toychat`` package).
REPO_DATA_DIR = Path(__file__).resolve().parent.parent / "data"

#: The course's data: the copy inside an installed package (a wheel carries ``data/`` as
#: ``toychat/data/``: setup.py), else the repository's ``data/`` (a checkout, or an editable
#: install of one).
DATA_DIR = _packaged if (_packaged := Path(__file__).resolve().parent / "data").is_dir() else REPO_DATA_DIR

#: Where the article texts are kept, by their ``seed_file`` names: ``shared/seeds``
#: beside the repository (CI keeps a copy of ``shared/`` next to its clone).
SEEDS_DIR = REPO_DATA_DIR.parent.parent / "shared" / "seeds"

#: An environment variable that points at another folder of article texts.
SEEDS_ENV = "TOYCHAT_SEEDS"

#: Who is speaking: the side each claim's speaker argues from.
SIDES: tuple[str, ...] = (
    "law enforcement",
    "child-safety charity",
    "government",
    "platform",
    "privacy/security advocate",
    "legislator",
    "researcher",
    "journalist",
)

#: Whose words the quote is: the speaker's own (in quotation marks in the article),
#: a reporter's paraphrase of the speaker, or the journalist's own sentence.
VOICES: tuple[str, ...] = ("quoted", "reported", "journalist")

#: What kind of claim it is, which decides what kind of evidence could test it.
CLAIM_TYPES: tuple[str, ...] = (
    "empirical-quantitative",
    "empirical-qualitative",
    "technical",
    "prediction",
    "normative",
)

#: The course's lesson numbers (00 the debate … 10 claims and evidence).
LESSONS: tuple[int, ...] = tuple(range(11))

#: ``citation`` is the short form lessons use after a quote, e.g. "Police Professional, 11 Dec 2023";
#: where an article's date or address could not be verified, the citation says so.
SOURCE_COLUMNS: tuple[str, ...] = ("source_id", "outlet", "title", "date", "seed_file", "url", "citation")

CLAIM_COLUMNS: tuple[str, ...] = (
    "claim_id",
    "source_id",
    "speaker",
    "organisation",
    "side",
    "voice",
    "quote",
    "claim_type",
    "value",
    "unit",
    "testable_by",
    "lessons",
    "refs",
    "repeats",
    "note",
)

_CLAIM_ID = re.compile(r"^[A-Z]\d{3}$")
_DOUBLE_QUOTES = ('"', "\u201c", "\u201d")
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
    }
)


def _read_rows(path: Path, columns: Sequence[str], what: str) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV file with the line each starts on; the header must be exactly ``columns``."""
    if not path.is_file():
        raise FileNotFoundError(f"The {what} file {path} does not exist.")
    rows: list[tuple[int, dict[str, str]]] = []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != tuple(columns):
            raise MalformedClaims(
                f"{path.name}, line 1: the header must be exactly {', '.join(columns)}; "
                f"found {', '.join(header or []) or 'an empty file'}."
            )
        start = reader.line_num + 1
        for record in reader:
            if not any(field.strip() for field in record):
                start = reader.line_num + 1
                continue
            if len(record) != len(columns):
                raise MalformedClaims(
                    f"{path.name}, line {start} (row {record[0] if record else '?'}): "
                    f"{len(record)} fields where {len(columns)} are expected — "
                    "is a comma inside a field missing its double quotes?"
                )
            rows.append((start, {c: v.strip() for c, v in zip(columns, record, strict=True)}))
            start = reader.line_num + 1
    return rows


def load_sources(path: str | Path | None = None) -> pd.DataFrame:
    """The table of source articles, checked.

    ``path`` defaults to ``data/sources.csv``.  Every row needs a unique
    ``source_id`` and a ``seed_file``; a row that lacks one raises
    :class:`~toychat.errors.MalformedClaims` naming it.
    """
    path = Path(path) if path is not None else DATA_DIR / "sources.csv"
    rows = _read_rows(path, SOURCE_COLUMNS, "sources")
    seen: dict[str, int] = {}
    for line, row in rows:
        sid = row["source_id"]
        where = f"{path.name}, line {line} (source {sid or '?'})"
        if not sid:
            raise MalformedClaims(f"{where}: the source_id is empty.")
        if sid in seen:
            raise MalformedClaims(f"{where}: source_id {sid!r} was already used on line {seen[sid]}.")
        if not row["seed_file"]:
            raise MalformedClaims(f"{where}: seed_file is empty: which article text is this?")
        seen[sid] = line
    return pd.DataFrame([row for _, row in rows], columns=list(SOURCE_COLUMNS))


def _parse_lessons(text: str) -> list[int]:
    """``"06;07"`` → ``[6, 7]``; raises ValueError on anything not a lesson number."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        if not part.isdigit() or int(part) not in LESSONS:
            raise ValueError(part)
        out.append(int(part))
    return out


def reference_keys(path: str | Path | None = None) -> set[str]:
    """The citation keys of the course's bibliography (``data/references.csv``)."""
    path = Path(path) if path is not None else DATA_DIR / "references.csv"
    if not path.is_file():
        raise FileNotFoundError(f"The bibliography {path} does not exist.")
    with path.open(newline="", encoding="utf-8") as f:
        return {row["key"].strip() for row in csv.DictReader(f) if row.get("key")}


def _check_claim(row: dict[str, str], where: str, known_sources: set[str], known_refs: set[str] | None) -> None:
    """Raise MalformedClaims if one claim row breaks a rule."""
    if row["source_id"] not in known_sources:
        raise MalformedClaims(
            f"{where}: unknown source_id {row['source_id']!r}; the sources are {', '.join(sorted(known_sources))}."
        )
    if row["side"] not in SIDES:
        raise MalformedClaims(f"{where}: unknown side {row['side']!r}; use one of: {', '.join(SIDES)}.")
    if row["voice"] not in VOICES:
        raise MalformedClaims(
            f"{where}: unknown voice {row['voice']!r}; use one of: {', '.join(VOICES)} "
            "(the speaker's own words in quotation marks / a reporter's paraphrase / "
            "the journalist's own sentence)."
        )
    if (row["voice"] == "journalist") != (row["side"] == "journalist"):
        raise MalformedClaims(
            f"{where}: voice {row['voice']!r} with side {row['side']!r}: a journalist's own "
            "sentence is the journalist's claim, and only the journalist's."
        )
    if row["voice"] == "quoted" and any(mark in row["quote"] for mark in _DOUBLE_QUOTES):
        raise MalformedClaims(
            f"{where}: voice 'quoted' but the quote holds quotation marks, so part of it is the "
            "reporter's words; use 'reported', or keep only the words inside the marks."
        )
    if row["claim_type"] not in CLAIM_TYPES:
        raise MalformedClaims(
            f"{where}: unknown claim_type {row['claim_type']!r}; use one of: {', '.join(CLAIM_TYPES)}."
        )
    if not row["quote"]:
        raise MalformedClaims(f"{where}: the quote is missing: every claim needs the article's own words.")
    if row["value"]:
        try:
            number = float(row["value"])
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise MalformedClaims(
                f"{where}: value {row['value']!r} is not a number; write digits only "
                "(21000000, not '21 million' or '21,000,000') and put what it counts in unit."
            )
        if not row["unit"]:
            raise MalformedClaims(f"{where}: value {row['value']} has no unit: {row['value']} of what?")
    try:
        _parse_lessons(row["lessons"])
    except ValueError as bad:
        raise MalformedClaims(
            f"{where}: unknown lesson number {str(bad)!r} in lessons {row['lessons']!r}; "
            "lessons are 00 to 10, separated by ';'."
        ) from None
    if known_refs is not None:
        for ref in filter(None, (r.strip() for r in row["refs"].split(";"))):
            if ref not in known_refs:
                raise MalformedClaims(
                    f"{where}: refs {ref!r} is not a key of the course's bibliography (data/references.csv)."
                )
    if row["repeats"] and not _CLAIM_ID.match(row["repeats"]):
        raise MalformedClaims(f"{where}: repeats {row['repeats']!r} is not a claim id like 'C015'.")


def load_claims(
    path: str | Path | None = None,
    *,
    sources: pd.DataFrame | str | Path | None = None,
    references: str | Path | None = None,
) -> pd.DataFrame:
    """The table of claims, every row checked.

    ``path`` defaults to ``data/claims.csv``.  ``sources`` (a table or a path)
    gives the known ``source_id`` values; by default ``sources.csv`` beside
    ``path`` if there is one, else the shipped ``data/sources.csv``.

    ``references`` is the bibliography whose keys ``refs`` may use: by
    default ``references.csv`` beside ``path`` if there is one, else the
    shipped ``data/references.csv``.

    A row with an unknown side, voice, claim type, source, reference or
    lesson, a missing quote, a non-numeric value (or a value without a unit),
    a ``quoted`` voice whose quote mixes in the reporter's words, a
    ``repeats`` that names no earlier claim, or a ``claim_id`` used twice
    raises :class:`~toychat.errors.MalformedClaims` naming its ``claim_id``
    and line.  ``value`` comes back as a float column (NaN where
    the claim has no figure); everything else as text.
    """
    path = Path(path) if path is not None else DATA_DIR / "claims.csv"
    if sources is None:
        beside = path.parent / "sources.csv"
        sources = beside if beside.is_file() else DATA_DIR / "sources.csv"
    if not isinstance(sources, pd.DataFrame):
        sources = load_sources(sources)
    known = set(sources["source_id"])
    if references is None:
        beside_refs = path.parent / "references.csv"
        references = beside_refs if beside_refs.is_file() else DATA_DIR / "references.csv"
    known_refs = reference_keys(references) if Path(references).is_file() else None
    rows = _read_rows(path, CLAIM_COLUMNS, "claims")
    seen: dict[str, int] = {}
    for line, row in rows:
        cid = row["claim_id"]
        where = f"{path.name}, line {line}, claim {cid or '(no claim_id)'}"
        if not cid:
            raise MalformedClaims(f"{where}: the claim_id is empty.")
        if cid in seen:
            raise MalformedClaims(f"{where}: duplicate claim_id {cid!r}, already used on line {seen[cid]}.")
        _check_claim(row, where, known, known_refs)
        if row["repeats"] and row["repeats"] not in seen:
            raise MalformedClaims(f"{where}: repeats {row['repeats']!r}, which is not an earlier claim in the file.")
        seen[cid] = line
    frame = pd.DataFrame([row for _, row in rows], columns=list(CLAIM_COLUMNS))
    frame["value"] = pd.to_numeric(frame["value"].replace("", None), errors="raise").astype(float)
    return frame


def normalise(text: str) -> str:
    """Curly quotes and apostrophes made straight, runs of whitespace made one space."""
    return " ".join(text.translate(_QUOTES).split())


def find_seeds() -> Path | None:
    """The folder of article texts: ``$TOYCHAT_SEEDS`` if set, else ``shared/seeds``
    beside the repository; None if neither is a folder."""
    override = os.environ.get(SEEDS_ENV)
    for candidate in ([Path(override)] if override else []) + [SEEDS_DIR]:
        if candidate.is_dir():
            return candidate
    return None


def quote_in_source(claims: pd.DataFrame, sources: pd.DataFrame, seeds_dir: str | Path | None = None) -> pd.Series:
    """For each claim, whether its quote is verbatim in its article.

    Both texts are compared after :func:`normalise` (straight quotes, single
    spaces); nothing else is forgiven.  ``seeds_dir`` holds the articles under
    their ``seed_file`` names (default: :func:`find_seeds`).  Returns a boolean
    Series aligned with ``claims``.
    """
    found_dir = find_seeds() if seeds_dir is None else Path(seeds_dir)
    seeds = found_dir if found_dir is not None else SEEDS_DIR
    files = dict(zip(sources["source_id"], sources["seed_file"], strict=True))
    texts = {}
    for sid, name in files.items():
        if not (seeds / name).is_file():
            raise FileNotFoundError(
                f"The article {name} (source {sid}) is not in {seeds}: "
                "pass seeds_dir= the folder that holds the seed texts."
            )
        texts[sid] = normalise((seeds / name).read_text(encoding="utf-8"))
    found = [
        sid in texts and normalise(quote) in texts[sid]
        for sid, quote in zip(claims["source_id"], claims["quote"], strict=True)
    ]
    return pd.Series(found, index=claims.index, name="quote_in_source", dtype=bool)


def claims_for_lesson(claims: pd.DataFrame, lesson: int) -> pd.DataFrame:
    """The claims whose ``lessons`` list includes ``lesson`` (an int, 0 to 10)."""
    if lesson not in LESSONS:
        raise ValueError(f"There is no lesson {lesson}: the lessons are numbered 0 to 10.")
    mask = claims["lessons"].map(lambda text: lesson in _parse_lessons(text))
    return claims[mask.astype(bool)]


def speaker_label(claims: pd.DataFrame) -> pd.Series:
    """Speaker, organisation and side in one short text per claim, for a table that leaves
    its quotes the room.

    >>> rows = pd.DataFrame({"speaker": ["Jane Doe", ""], "organisation": ["NSPCC", "Meta"],
    ...                      "side": ["child-safety charity", "platform"]})
    >>> speaker_label(rows).tolist()
    ['Jane Doe, NSPCC (child-safety charity)', 'Meta (platform)']

    An empty table gives an empty Series (``DataFrame.apply`` would give an empty
    DataFrame, which ``assign`` cannot put in one column):

    >>> speaker_label(rows.iloc[:0]).tolist()
    []
    """
    labels = [
        f"{', '.join(part for part in (speaker, organisation) if part)} ({side})"
        for speaker, organisation, side in zip(claims["speaker"], claims["organisation"], claims["side"], strict=True)
    ]
    return pd.Series(labels, index=claims.index, dtype=str, name="who")


#: How the explorer says whose words a quote is (:data:`VOICES`), after the speaker.
VOICE_WORDS: dict[str, str] = {"quoted": "own words", "reported": "paraphrased", "journalist": "journalist's words"}


def speaker_and_voice(claims: pd.DataFrame) -> pd.Series:
    """:func:`speaker_label` with whose words the quote is, so one column says both.

    >>> rows = pd.DataFrame({"speaker": ["Jane Doe", ""], "organisation": ["NSPCC", "Meta"],
    ...                      "side": ["child-safety charity", "platform"], "voice": ["quoted", "reported"]})
    >>> speaker_and_voice(rows).tolist()
    ['Jane Doe, NSPCC (child-safety charity): own words', 'Meta (platform): paraphrased']
    >>> speaker_and_voice(rows.iloc[:0]).tolist()
    []
    """
    voices = [VOICE_WORDS[voice] for voice in claims["voice"]]
    labels = [f"{label}: {voice}" for label, voice in zip(speaker_label(claims), voices, strict=True)]
    return pd.Series(labels, index=claims.index, dtype=str, name="who")


#: The explorer's "no filter" choice.
ALL = "(all)"

#: The columns lesson 10's explorer shows, ``who`` being :func:`speaker_and_voice`.  Five, so
#: the quote keeps room to be read at 1280 px: the voice is folded into ``who``, and the
#: notes (some of several sentences) stay in the lesson's notes table and ``data/claims.csv``.
EXPLORER_COLUMNS: tuple[str, ...] = ("claim_id", "who", "claim_type", "quote", "testable_by")


def explore_claims(
    claims: pd.DataFrame,
    *,
    side: str = ALL,
    voice: str = ALL,
    claim_type: str = ALL,
    source: str = ALL,
) -> pd.DataFrame:
    """The claims matching every filter that is not :data:`ALL`, with the explorer's columns
    (:data:`EXPLORER_COLUMNS`).  A combination no claim matches gives an empty table with the
    same columns, never an error: lesson 10's drop-downs reach all of them.

    >>> claims = load_claims()
    >>> list(explore_claims(claims, side="journalist", voice="quoted").columns) == list(EXPLORER_COLUMNS)
    True
    >>> len(explore_claims(claims, side="journalist", voice="quoted"))
    0
    """
    shown = claims
    for column, value in (("side", side), ("voice", voice), ("claim_type", claim_type), ("source_id", source)):
        if value != ALL:
            shown = shown[shown[column] == value]
    return shown.assign(who=speaker_and_voice(shown))[list(EXPLORER_COLUMNS)]


def summary_by(claims: pd.DataFrame, column: str = "side", by: str | None = "claim_type") -> pd.DataFrame:
    """Count claims by ``column`` and, unless ``by`` is None, by ``by`` too.

    ``summary_by(claims)`` is the side × claim-type table with row and column
    totals; ``summary_by(claims, "source_id", None)`` one count per source.
    ``"lessons"`` counts each claim once under every lesson it lists.
    """
    frame = claims
    for name in (column, by):
        if name is not None and name not in frame.columns:
            raise KeyError(f"The claims have no column {name!r}; they have {', '.join(frame.columns)}.")
        if name == "lessons":
            frame = frame.assign(lessons=frame["lessons"].map(_parse_lessons)).explode("lessons")
            frame = frame[frame["lessons"].notna()].assign(lessons=lambda f: f["lessons"].astype(int))
    if by is None:
        counts = frame[column].value_counts().sort_index()
        return counts.rename("claims").to_frame()
    return pd.crosstab(frame[column], frame[by], margins=True, margins_name="total")


@dataclass(frozen=True)
class Evidence:
    """One measurement the course made that bears on a claim (lesson 10)."""

    lesson: int
    measured: str
    value: str
    #: The one assumption the result depends on most ("measured on the toy" if none).
    assumption: str = ""


def with_evidence(claims: pd.DataFrame, evidence: Mapping[str, Evidence]) -> pd.DataFrame:
    """The claims named in ``evidence`` (by ``claim_id``), each beside the course's
    measurement: who said it, whose words the quote is, the quote, the lesson,
    what was measured, the result and the assumption it rests on.

    An unknown claim id is a :class:`ValueError` naming it.
    """
    known = set(claims["claim_id"])
    missing = [claim_id for claim_id in evidence if claim_id not in known]
    if missing:
        raise ValueError(f"No claim with id {', '.join(missing)} in the claims table.")
    rows = []
    by_id = claims.set_index("claim_id")
    for claim_id, item in evidence.items():
        claim = by_id.loc[claim_id]
        who = claim["speaker"] or claim["organisation"] or claim["side"]
        rows.append(
            {
                "claim": claim_id,
                "who": who,
                "side": claim["side"],
                "voice": claim["voice"],
                "type": claim["claim_type"],
                "quote": claim["quote"],
                "lesson": item.lesson,
                "what the course measured": item.measured,
                "result": item.value,
                "rests on": item.assumption or "measured on the toy",
            }
        )
    return pd.DataFrame(rows).set_index("claim")
