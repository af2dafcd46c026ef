"""The claims dataset: it loads, its quotes are verbatim, its figures match FACTS.md,
and a bad row is named."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd
import pytest

from toychat.claims import (
    CLAIM_COLUMNS,
    CLAIM_TYPES,
    DATA_DIR,
    SEEDS_DIR,
    SIDES,
    claims_for_lesson,
    load_claims,
    load_sources,
    normalise,
    quote_in_source,
    summary_by,
)
from toychat.errors import MalformedClaims, ToyChatError

# The seed texts ship in data/seeds; on the course machine they are also in /work/shared/seeds.
SEEDS = next((d for d in (SEEDS_DIR, Path("/work/shared/seeds")) if d.is_dir()), None)

SAFETY_SIDES = {"law enforcement", "child-safety charity", "government"}
PRIVACY_SIDES = {"platform", "privacy/security advocate"}


@pytest.fixture(scope="module")
def sources() -> pd.DataFrame:
    return load_sources()


@pytest.fixture(scope="module")
def claims(sources: pd.DataFrame) -> pd.DataFrame:
    return load_claims(sources=sources)


def test_shipped_data_loads(sources: pd.DataFrame, claims: pd.DataFrame) -> None:
    assert len(sources) == 5
    assert sources["source_id"].is_unique
    assert list(claims.columns) == list(CLAIM_COLUMNS)
    assert claims["claim_id"].is_unique
    assert len(claims) >= 80, f"only {len(claims)} claims: the dataset should hold every claim"


@pytest.mark.skipif(SEEDS is None, reason="no seed texts on this machine")
def test_every_seed_file_is_there(sources: pd.DataFrame) -> None:
    missing = [name for name in sources["seed_file"] if not (SEEDS / name).is_file()]
    assert not missing, f"seed files missing from {SEEDS}: {missing}"


@pytest.mark.skipif(SEEDS is None, reason="no seed texts on this machine")
def test_every_quote_is_verbatim_in_its_article(
    claims: pd.DataFrame, sources: pd.DataFrame
) -> None:
    found = quote_in_source(claims, sources, SEEDS)
    bad = claims.loc[~found, ["claim_id", "source_id", "quote"]]
    assert bad.empty, f"quotes not found in their article:\n{bad.to_string()}"


@pytest.mark.skipif(SEEDS is None, reason="no seed texts on this machine")
def test_quote_check_catches_a_changed_word(claims: pd.DataFrame, sources: pd.DataFrame) -> None:
    altered = claims.head(3).assign(quote=lambda f: f["quote"] + " and more")
    assert not quote_in_source(altered, sources, SEEDS).any()


def test_normalise_straightens_quotes_and_spaces() -> None:
    assert normalise("\u201cit\u2019s\u201d  \n fine") == '"it\'s" fine'


def test_sources_sides_and_types_are_known(claims: pd.DataFrame, sources: pd.DataFrame) -> None:
    assert set(claims["source_id"]) <= set(sources["source_id"])
    assert set(claims["side"]) <= set(SIDES)
    assert set(claims["claim_type"]) <= set(CLAIM_TYPES)
    assert set(claims["source_id"]) == set(sources["source_id"]), "every article has claims"


def test_both_sides_are_heard(claims: pd.DataFrame) -> None:
    safety = claims["side"].isin(SAFETY_SIDES).sum()
    privacy = claims["side"].isin(PRIVACY_SIDES).sum()
    assert safety >= 10 and privacy >= 10, (safety, privacy)


def test_every_claim_type_occurs(claims: pd.DataFrame) -> None:
    assert set(claims["claim_type"]) == set(CLAIM_TYPES)


def test_numeric_claims_have_units_and_value_judgements_say_so(claims: pd.DataFrame) -> None:
    numeric = claims[claims["value"].notna()]
    assert len(numeric) >= 10
    assert (numeric["unit"] != "").all()
    assert (claims.loc[claims["value"].isna(), "unit"] == "").all(), "a unit without a value"
    normative = claims[claims["claim_type"] == "normative"]
    assert (normative["testable_by"] == "value judgement: no measurement settles it").all()
    assert (claims["testable_by"] != "").all()


def _rows_with(claims: pd.DataFrame, fragment: str) -> pd.DataFrame:
    rows = claims[claims["quote"].map(normalise).str.contains(fragment, regex=False)]
    assert not rows.empty, f"no claim quotes {fragment!r}"
    return rows


@pytest.mark.parametrize(
    ("fragment", "value", "unit", "ref"),
    [
        ("arrests 800 suspected offenders a month", 800, "arrests per month", "§3.20"),
        ("arresting around 800 suspects every single month", 800, "arrests per month", "§3.20"),
        ("we arrest about 800 perpetrators per month", 800, "arrests per month", "§3.20"),
        ("safeguards on average 1,200 children a month", 1200, "children per month", "§3.20"),
        ("we are safeguarding 1,200 children", 1200, "children per month", "§3.20"),
        ("we protect about 1200 children per month", 1200, "children per month", "§3.20"),
        ("92 per cent from Facebook", 92, "percent", "§3.21"),
        ("85 per cent from Instagram", 85, "percent", "§3.21"),
        ("at least 21 million reports", 21_000_000, "reports", "§3.22"),
        ("persons over the age of 19", 19, "years of age", "§3.19"),
    ],
)
def test_figures_checked_against_facts(
    claims: pd.DataFrame, fragment: str, value: float, unit: str, ref: str
) -> None:
    for _, row in _rows_with(claims, fragment).iterrows():
        assert math.isclose(row["value"], value), (row["claim_id"], row["value"])
        assert row["unit"] == unit, (row["claim_id"], row["unit"])
        assert ref in row["facts_ref"].split(";"), (row["claim_id"], row["facts_ref"])


def test_referral_figures_carry_the_could_be_lost_caveat(claims: pd.DataFrame) -> None:
    for fragment in ("92 per cent", "85 per cent"):
        note = _rows_with(claims, fragment)["note"].iloc[0]
        assert "referrals" in note and "could" in note


def test_claims_for_lesson_and_summary(claims: pd.DataFrame) -> None:
    six = claims_for_lesson(claims, 6)
    assert len(six) > 0 and six["lessons"].str.contains("06").all()
    assert len(claims_for_lesson(claims, 5)) <= len(claims)
    with pytest.raises(ValueError):
        claims_for_lesson(claims, 11)
    table = summary_by(claims)
    assert table.loc["total", "total"] == len(claims)
    by_source = summary_by(claims, "source_id", None)
    assert by_source["claims"].sum() == len(claims)
    by_lesson = summary_by(claims, "lessons", None)
    assert by_lesson.loc[6, "claims"] == len(six)


# ---------------------------------------------------------------- malformed rows

GOOD = {
    "claim_id": "X001",
    "source_id": "policeprofessional-npcc-2023",
    "speaker": "Ian Critchley",
    "organisation": "National Police Chiefs' Council",
    "side": "law enforcement",
    "quote": "On average policing arrests 800 suspected offenders a month",
    "claim_type": "empirical-quantitative",
    "value": "800",
    "unit": "arrests per month",
    "testable_by": "monthly arrest statistics",
    "lessons": "00;10",
    "facts_ref": "§3.20",
    "note": "",
}


def _write(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    path = tmp_path / "claims.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(CLAIM_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_good_temp_file_loads(tmp_path: Path) -> None:
    frame = load_claims(
        _write(tmp_path, [GOOD, {**GOOD, "claim_id": "X002", "value": "", "unit": ""}])
    )
    assert list(frame["claim_id"]) == ["X001", "X002"]
    assert frame["value"].iloc[0] == 800 and math.isnan(frame["value"].iloc[1])


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"side": "police"}, "unknown side"),
        ({"claim_type": "opinion"}, "unknown claim_type"),
        ({"quote": ""}, "quote is missing"),
        ({"quote": "   "}, "quote is missing"),
        ({"value": "21 million"}, "not a number"),
        ({"value": "21,000,000"}, "not a number"),
        ({"value": "800", "unit": ""}, "no unit"),
        ({"source_id": "the-guardian"}, "unknown source_id"),
        ({"lessons": "06;11"}, "unknown lesson number"),
        ({"lessons": "six"}, "unknown lesson number"),
        ({"facts_ref": "3.20"}, "facts_ref"),
    ],
)
def test_malformed_row_is_named(tmp_path: Path, change: dict[str, str], problem: str) -> None:
    bad = {**GOOD, "claim_id": "X007", **change}
    path = _write(tmp_path, [{**GOOD}, bad])
    with pytest.raises(MalformedClaims) as caught:
        load_claims(path)
    message = str(caught.value)
    assert "X007" in message and "line 3" in message and problem in message, message
    assert isinstance(caught.value, ToyChatError)


def test_duplicate_claim_id_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, [GOOD, {**GOOD, "quote": "another"}])
    with pytest.raises(MalformedClaims, match=r"line 3.*X001.*duplicate claim_id.*line 2"):
        load_claims(path)


def test_wrong_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "claims.csv"
    path.write_text("claim_id,quote\nX001,hello\n", encoding="utf-8")
    with pytest.raises(MalformedClaims, match="header"):
        load_claims(path)


def test_bad_source_rows_are_named(tmp_path: Path) -> None:
    shipped = (DATA_DIR / "sources.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "sources.csv"
    path.write_text("\n".join([*shipped, shipped[1]]) + "\n", encoding="utf-8")
    with pytest.raises(
        MalformedClaims, match=r"line 7.*cybernews-vgt-2023.*already used on line 2"
    ):
        load_sources(path)


def test_missing_seed_file_is_named(
    claims: pd.DataFrame, sources: pd.DataFrame, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="000_d54eecae935d62b5.txt"):
        quote_in_source(claims, sources, tmp_path)


def test_with_evidence_pairs_claims_with_measurements() -> None:
    from toychat.claims import Evidence, load_claims, with_evidence

    claims = load_claims()
    first, second = claims["claim_id"].iloc[0], claims["claim_id"].iloc[1]
    table = with_evidence(claims, {first: Evidence(6, "detection rate", "0%"), second: Evidence(9, "precision", "0.9")})
    assert list(table.index) == [first, second]
    assert table.loc[first, "quote"] == claims.set_index("claim_id").loc[first, "quote"]
    assert table.loc[second, "lesson"] == 9 and table.loc[second, "result"] == "0.9"
    with pytest.raises(ValueError, match="C999"):
        with_evidence(claims, {"C999": Evidence(1, "x", "y")})
