"""The claims dataset: it loads, its quotes are verbatim, it says whose words each quote
is, its figures carry the sources that check them, and a bad row is named."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd
import pytest

from support.browser import require
from toychat.claims import (
    CLAIM_COLUMNS,
    CLAIM_TYPES,
    DATA_DIR,
    SEEDS_DIR,
    SEEDS_ENV,
    SIDES,
    VOICES,
    claims_for_lesson,
    find_seeds,
    load_claims,
    load_sources,
    normalise,
    quote_in_source,
    reference_keys,
    summary_by,
)
from toychat.errors import MalformedClaims, ToyChatError


@pytest.fixture(scope="module")
def seeds() -> Path:
    """The article texts (not shipped: news articles). Skipped without them; failed under CI,
    which keeps a copy of ``shared/`` beside its clone."""
    found = find_seeds()
    if found is None:
        require(f"no article texts: put them in {SEEDS_DIR} or point ${SEEDS_ENV} at them")
    return found


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


def test_every_seed_file_is_there(sources: pd.DataFrame, seeds: Path) -> None:
    missing = [name for name in sources["seed_file"] if not (seeds / name).is_file()]
    assert not missing, f"seed files missing from {seeds}: {missing}"


def test_every_quote_is_verbatim_in_its_article(claims: pd.DataFrame, sources: pd.DataFrame, seeds: Path) -> None:
    found = quote_in_source(claims, sources, seeds)
    bad = claims.loc[~found, ["claim_id", "source_id", "quote"]]
    assert bad.empty, f"quotes not found in their article:\n{bad.to_string()}"


def test_quote_check_catches_a_changed_word(claims: pd.DataFrame, sources: pd.DataFrame, seeds: Path) -> None:
    altered = claims.head(3).assign(quote=lambda f: f["quote"] + " and more")
    assert not quote_in_source(altered, sources, seeds).any()


def test_quoted_claims_sit_inside_quotation_marks_or_a_block_quote(
    claims: pd.DataFrame, sources: pd.DataFrame, seeds: Path
) -> None:
    """A 'quoted' claim's words are the speaker's: in its paragraph an opening quotation mark
    precedes them with no closing one between (a quote may start mid-quotation), or the
    paragraph is a block quote introduced by a line ending in a colon."""
    paragraphs = {
        sid: [normalise(p) for p in (seeds / name).read_text(encoding="utf-8").splitlines() if p.strip()]
        for sid, name in zip(sources["source_id"], sources["seed_file"], strict=True)
    }
    outside = []
    for _, row in claims[claims["voice"] == "quoted"].iterrows():
        quote, paras = normalise(row["quote"]), paragraphs[row["source_id"]]
        index = next(i for i, p in enumerate(paras) if quote in p)
        before = paras[index][: paras[index].index(quote)]
        opened = before.count('"') % 2 == 1
        block = (
            index > 0
            and '"' not in paras[index]
            and (
                paras[index - 1].endswith(":")
                or (index > 1 and paras[index - 2].endswith(":") and '"' not in paras[index - 1])
            )
        )
        if not (opened or block):
            outside.append(row["claim_id"])
    assert outside == [], f"'quoted' claims outside quotation marks: {outside}"


def test_the_default_seed_folder_is_beside_the_repository() -> None:
    assert SEEDS_DIR == DATA_DIR.parent.parent / "shared" / "seeds"  # a checkout: the repository's data/


def test_seeds_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SEEDS_ENV, str(tmp_path))
    assert find_seeds() == tmp_path


def test_normalise_straightens_quotes_and_spaces() -> None:
    assert normalise("\u201cit\u2019s\u201d  \n fine") == '"it\'s" fine'


def test_sources_give_a_date_and_say_where_an_address_is_missing(sources: pd.DataFrame) -> None:
    for _, row in sources.iterrows():
        assert row["date"], row["source_id"]
        assert row["url"].startswith("https://") or "not verified" in row["citation"], row["source_id"]


def test_sources_sides_and_types_are_known(claims: pd.DataFrame, sources: pd.DataFrame) -> None:
    assert set(claims["source_id"]) <= set(sources["source_id"])
    assert set(claims["side"]) <= set(SIDES)
    assert set(claims["voice"]) == set(VOICES)
    assert set(claims["claim_type"]) <= set(CLAIM_TYPES)
    assert set(claims["source_id"]) == set(sources["source_id"]), "every article has claims"


def test_both_sides_are_heard(claims: pd.DataFrame) -> None:
    safety = claims["side"].isin(SAFETY_SIDES).sum()
    privacy = claims["side"].isin(PRIVACY_SIDES).sum()
    assert safety >= 10, (safety, privacy)
    assert privacy >= 10, (safety, privacy)


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
        ("arrests 800 suspected offenders a month", 800, "arrests per month", "nca2023"),
        ("arresting around 800 suspects every single month", 800, "arrests per month", "nca2023"),
        ("we arrest about 800 perpetrators per month", 800, "arrests per month", "nca2023"),
        ("safeguards on average 1,200 children a month", 1200, "children per month", "nca2023"),
        ("we are safeguarding 1,200 children", 1200, "children per month", "nca2023"),
        ("we protect about 1200 children per month", 1200, "children per month", "nca2023"),
        ("92 per cent from Facebook", 92, "percent", "independent2023"),
        ("85 per cent from Instagram", 85, "percent", "independent2023"),
        ("at least 21 million reports", 21_000_000, "reports", "ncmec-gpcep2025"),
        ("persons over the age of 19", 19, "years of age", "meta2024"),
    ],
)
def test_figures_carry_the_source_that_checks_them(
    claims: pd.DataFrame, fragment: str, value: float, unit: str, ref: str
) -> None:
    for _, row in _rows_with(claims, fragment).iterrows():
        assert math.isclose(row["value"], value), (row["claim_id"], row["value"])
        assert row["unit"] == unit, (row["claim_id"], row["unit"])
        assert ref in row["refs"].split(";"), (row["claim_id"], row["refs"])


def test_every_reference_key_is_in_the_bibliography(claims: pd.DataFrame) -> None:
    keys = reference_keys()
    used = {k for refs in claims["refs"] for k in refs.split(";") if k}
    assert used, used - keys
    assert used <= keys, used - keys


def test_voice_fixes_hold(claims: pd.DataFrame) -> None:
    """The misattributions found in review stay fixed: reporters' sentences are not a
    speaker's words, a journalist's gloss is the journalist's, and a repeated statement
    has one speaker."""
    by_id = claims.set_index("claim_id")
    for cid in ("C003", "C005", "C020", "C021", "C029", "C072", "C146", "C153", "C156"):
        assert by_id.loc[cid, "voice"] == "reported", cid
    for cid in ("C011", "C012", "C053", "C075"):
        assert by_id.loc[cid, "voice"] == "journalist", cid
        assert by_id.loc[cid, "side"] == "journalist", cid
    assert by_id.loc["C053", "claim_type"] == "empirical-qualitative"
    assert by_id.loc["C075", "claim_type"] == "empirical-qualitative"
    assert by_id.loc["C021", "claim_type"] != "technical"
    assert by_id.loc["C071", "claim_type"] != "normative"
    assert by_id.loc["C116", "organisation"] == "National Police Chiefs' Council"
    meta = by_id.loc[["C015", "C016", "C061", "C062", "C151"], "speaker"]
    assert set(meta) == {"Meta spokesperson"}
    assert by_id.loc["C061", "repeats"] == "C016"
    assert by_id.loc["C062", "repeats"] == "C015"


def test_every_side_has_quoted_claims(claims: pd.DataFrame) -> None:
    """Each side of the debate can be given its case in its own words."""
    quoted = claims[claims["voice"] == "quoted"]
    for side in SAFETY_SIDES | PRIVACY_SIDES:
        assert (quoted["side"] == side).sum() >= 2, side


def test_referral_figures_carry_the_could_be_lost_caveat(claims: pd.DataFrame) -> None:
    for fragment in ("92 per cent", "85 per cent"):
        note = _rows_with(claims, fragment)["note"].iloc[0]
        assert "referrals" in note
        assert "could" in note


def test_claims_for_lesson_and_summary(claims: pd.DataFrame) -> None:
    six = claims_for_lesson(claims, 6)
    assert len(six) > 0
    assert six["lessons"].str.contains("06").all()
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
    "voice": "quoted",
    "quote": "On average policing arrests 800 suspected offenders a month",
    "claim_type": "empirical-quantitative",
    "value": "800",
    "unit": "arrests per month",
    "testable_by": "monthly arrest statistics",
    "lessons": "00;10",
    "refs": "nca2023",
    "repeats": "",
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
    frame = load_claims(_write(tmp_path, [GOOD, {**GOOD, "claim_id": "X002", "value": "", "unit": ""}]))
    assert list(frame["claim_id"]) == ["X001", "X002"]
    assert frame["value"].iloc[0] == 800
    assert math.isnan(frame["value"].iloc[1])


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
        ({"refs": "FACTS §3.20"}, "not a key of the course's bibliography"),
        ({"refs": "nca2023;nosuch2020"}, "'nosuch2020' is not a key"),
        ({"voice": "paraphrase"}, "unknown voice"),
        ({"voice": ""}, "unknown voice"),
        ({"voice": "journalist"}, "a journalist's own sentence"),
        ({"side": "journalist"}, "a journalist's own sentence"),
        ({"quote": 'is calling for "all industry partners"'}, "holds quotation marks"),
        ({"repeats": "X009"}, "not an earlier claim"),
        ({"repeats": "the first one"}, "not a claim id"),
    ],
)
def test_malformed_row_is_named(tmp_path: Path, change: dict[str, str], problem: str) -> None:
    bad = {**GOOD, "claim_id": "X007", **change}
    path = _write(tmp_path, [{**GOOD}, bad])
    with pytest.raises(MalformedClaims) as caught:
        load_claims(path)
    message = str(caught.value)
    assert "X007" in message, message
    assert "line 3" in message, message
    assert problem in message, message
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
    with pytest.raises(MalformedClaims, match=r"line 7.*cybernews-vgt-2023.*already used on line 2"):
        load_sources(path)


def test_missing_seed_file_is_named(claims: pd.DataFrame, sources: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="000_d54eecae935d62b5.txt"):
        quote_in_source(claims, sources, tmp_path)


def test_with_evidence_pairs_claims_with_measurements() -> None:
    from toychat.claims import Evidence, load_claims, with_evidence

    claims = load_claims()
    first, second = claims["claim_id"].iloc[0], claims["claim_id"].iloc[1]
    table = with_evidence(
        claims,
        {
            first: Evidence(6, "detection rate", "0%"),
            second: Evidence(9, "precision", "0.9", assumption="assumed prevalence 0.08%"),
        },
    )
    assert list(table.index) == [first, second]
    assert table.loc[first, "rests on"] == "measured on the toy"
    assert table.loc[second, "rests on"] == "assumed prevalence 0.08%"
    assert table.loc[first, "voice"] == claims.set_index("claim_id").loc[first, "voice"]
    assert table.loc[first, "quote"] == claims.set_index("claim_id").loc[first, "quote"]
    assert table.loc[second, "lesson"] == 9
    assert table.loc[second, "result"] == "0.9"
    with pytest.raises(ValueError, match="C999"):
        with_evidence(claims, {"C999": Evidence(1, "x", "y")})


def test_speaker_label_of_no_claims_is_an_empty_column(claims: pd.DataFrame) -> None:
    from toychat.claims import speaker_label

    labels = speaker_label(claims.iloc[:0])
    assert isinstance(labels, pd.Series), "an empty frame still gives one column, which assign() can take"
    assert claims.iloc[:0].assign(who=labels).empty


def test_lesson_10_explorer_answers_every_filter_combination(claims: pd.DataFrame) -> None:
    """Every side × voice × type the explorer's drop-downs offer (192, with "(all)") gives a table,
    an empty one where no claim matches, never a traceback."""
    import itertools

    from toychat.claims import ALL, EXPLORER_COLUMNS, explore_claims
    from toychat.tables import show_table

    sides = [ALL, *sorted(claims["side"].unique())]
    voices = [ALL, *VOICES]
    types = [ALL, *CLAIM_TYPES]
    combinations = list(itertools.product(sides, voices, types))
    assert len(combinations) == 192
    empty = 0
    for side, voice, claim_type in combinations:
        table = explore_claims(claims, side=side, voice=voice, claim_type=claim_type)
        assert list(table.columns) == list(EXPLORER_COLUMNS), (side, voice, claim_type)
        assert "<table" in show_table(table, caption=f"{len(table)} claims").data
        empty += table.empty
    assert empty > 0, "some combinations match no claim: the case the explorer must survive"
    assert len(explore_claims(claims)) == len(claims)
