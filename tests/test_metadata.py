"""The synthetic platform, its metadata features and the detectors (lesson 09)."""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from toychat import metadata as m

SMALL = 20_000


@pytest.fixture(scope="module")
def platform() -> m.Platform:
    return m.simulate(accounts=SMALL, seed=7)


@pytest.fixture(scope="module")
def features(platform: m.Platform) -> pd.DataFrame:
    return m.account_features(platform)


def test_same_seed_same_platform_other_seed_other_platform(platform: m.Platform) -> None:
    again = m.simulate(accounts=SMALL, seed=7)
    pd.testing.assert_frame_equal(platform.events, again.events)
    pd.testing.assert_frame_equal(platform.follows, again.follows)
    pd.testing.assert_series_equal(platform.roles, again.roles)
    other = m.simulate(accounts=SMALL, seed=8)
    assert not platform.events["sender"].equals(other.events["sender"])


def test_metadata_never_carries_content_or_truth(platform: m.Platform) -> None:
    assert list(platform.events.columns) == [
        "sender",
        "recipient",
        "time_s",
        "size_bytes",
        "kind",
        "recipient_follows_sender",
    ]
    assert list(platform.accounts.columns) == ["age_band", "is_minor", "account_age_days"]
    assert len(platform.event_harm) == len(platform.events)
    assert len(platform.roles) == len(platform.accounts)


def test_planted_roles_and_minors_in_proportion(platform: m.Platform) -> None:
    counts = platform.roles.value_counts()
    config = platform.config
    assert counts["mentor"] == round(config.mentor_rate * SMALL)
    assert counts["groomer"] == round(config.groomer_rate * SMALL)
    assert not platform.accounts["is_minor"][platform.roles != "ordinary"].any(), "planted roles are adults"
    assert 0.12 < platform.accounts["is_minor"].mean() < 0.16


def test_follow_graph_is_heavy_tailed_and_has_no_self_or_duplicate_edges(platform: m.Platform) -> None:
    follows = platform.follows
    assert (follows["follower"] != follows["followee"]).all()
    assert not follows.duplicated().any()
    in_degree = np.bincount(follows["followee"], minlength=SMALL)
    assert in_degree.max() > 20 * np.median(in_degree), "a few accounts are followed by very many"


def test_recipient_follows_sender_matches_the_graph(platform: m.Platform) -> None:
    events = platform.events.sample(2000, random_state=0)
    edges = set(zip(platform.follows["follower"], platform.follows["followee"], strict=True))
    expected = [(r, s) in edges for s, r in zip(events["sender"], events["recipient"], strict=True)]
    assert events["recipient_follows_sender"].tolist() == expected


def test_follows_pair_answers_every_pair_exactly(platform: m.Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    """Edges (the first and the last among them), their reverses, random pairs, repeats,
    self pairs and the first and last accounts, shuffled, in blocks of 7 so that the
    block edges are crossed, against a set."""
    rng = np.random.default_rng(31)
    follows = pd.concat([platform.follows.sample(300, random_state=1), platform.follows.iloc[[0, -1]]])
    follower = np.concatenate(
        [follows["follower"], follows["followee"], rng.integers(0, SMALL, 300), [0, SMALL - 1, 5, 5, 5]]
    ).astype(np.int32)
    followee = np.concatenate(
        [follows["followee"], follows["follower"], rng.integers(0, SMALL, 300), [SMALL - 1, 0, 5, 5, 5]]
    ).astype(np.int32)
    shuffle = rng.permutation(len(follower))  # found and not found mixed within each block
    follower, followee = follower[shuffle], followee[shuffle]
    edges = set(zip(platform.follows["follower"], platform.follows["followee"], strict=True))
    expected = [(a, b) in edges for a, b in zip(follower, followee, strict=True)]
    assert sum(expected) >= 300, "the sampled edges are found"
    monkeypatch.setattr(m, "_PAIR_BLOCK", 7)
    assert platform.follows_pair(follower, followee).tolist() == expected
    assert platform.follows_pair(follower[:0], followee[:0]).tolist() == []


@pytest.mark.parametrize("piece", [1, 3, 1024])
def test_search_sorted_by_pieces_gives_numpys_positions(piece: int) -> None:
    """Repeats, needles below, between and above the haystack, and nothing to search."""
    rng = np.random.default_rng(31)
    haystack = np.sort(rng.integers(0, 50, 400))
    needles = np.sort(rng.integers(-3, 55, 700))
    assert m._search_sorted(haystack, needles, piece).tolist() == np.searchsorted(haystack, needles).tolist()
    assert m._search_sorted(haystack[:0], needles, piece).tolist() == [0] * len(needles)
    assert m._search_sorted(haystack, needles[:0], piece).tolist() == []


def test_events_are_within_the_window_and_sizes_plausible(platform: m.Platform) -> None:
    events = platform.events
    assert events["time_s"].between(0, platform.config.weeks * 7 * 86400 - 1).all()
    assert events["time_s"].is_monotonic_increasing
    assert (events["size_bytes"] > 0).all()
    assert events.groupby("kind", observed=True)["size_bytes"].median().is_monotonic_increasing


def test_features_use_metadata_only(platform: m.Platform, features: pd.DataFrame) -> None:
    relabelled = m.Platform(
        platform.config,
        platform.accounts,
        platform.follows,
        platform.events,
        platform.roles.sample(frac=1, random_state=1).set_axis(platform.roles.index),
        platform.event_harm,
    )
    pd.testing.assert_frame_equal(m.account_features(relabelled), features)
    assert list(features.columns) == list(m.FEATURES)


def test_features_count_what_they_say(platform: m.Platform, features: pd.DataFrame) -> None:
    account = int(features["minor_recipients"].idxmax())
    mine = platform.events[platform.events["sender"] == account]
    minors = platform.accounts["is_minor"].to_numpy()
    to_minors = mine[minors[mine["recipient"]]]
    assert features.loc[account, "messages"] == len(mine)
    assert features.loc[account, "minor_recipients"] == to_minors["recipient"].nunique()
    not_following = to_minors[~to_minors["recipient_follows_sender"]]["recipient"].nunique()
    assert features.loc[account, "minors_not_following"] == not_following


def test_rules_flag_only_adults_and_follow_their_thresholds(features: pd.DataFrame) -> None:
    for rule in m.RULES.values():
        assert not (rule(features) & (features["is_adult"] == 0)).any()
    strict = m.rule_minors_not_following(features, threshold=20)
    loose = m.rule_minors_not_following(features, threshold=2)
    assert strict.sum() < loose.sum()
    assert not (strict & ~loose).any()


def test_mentors_overlap_with_groomers(platform: m.Platform, features: pd.DataFrame) -> None:
    """The synthetic world is not easy: the simplest rule flags many innocent mentors."""
    result = m.detector_table(platform, {"rule": m.rule_minors_not_following(features)}).loc["rule"]
    assert result["mentors flagged"] > result["true flags"] * 0.5
    assert 0 < result["precision"] < 0.6
    assert result["recall"] > 0.3


def test_mimicking_groomers_are_invisible_to_the_classifier() -> None:
    """Groomers who behave like mentors are the assumption that caps recall."""
    overt = m.simulate(accounts=SMALL, seed=3, groomer_mimic_share=0.0)
    hidden = m.simulate(accounts=SMALL, seed=3, groomer_mimic_share=1.0)
    model = m.train_classifier(m.simulate(accounts=SMALL, seed=4), kind="logistic")
    recall = {}
    for name, world in (("overt", overt), ("hidden", hidden)):
        scores = m.classifier_scores(model, m.account_features(world))
        groomers = (world.roles == "groomer").to_numpy()
        recall[name] = float((scores.to_numpy()[groomers] >= 0.5).mean())
    assert recall["overt"] > 0.6 > 0.3 > recall["hidden"], recall


def test_evaluate_arithmetic() -> None:
    result = m.evaluate(np.array([1, 1, 0, 0, 1], bool), np.array([1, 0, 1, 0, 0], bool))
    assert result["flagged"] == 3
    assert result["true flags"] == 1
    assert result["missed"] == 1
    assert result["precision"] == pytest.approx(1 / 3)
    assert result["recall"] == pytest.approx(1 / 2)
    assert math.isnan(m.evaluate(np.zeros(3, bool), np.ones(3, bool))["precision"])
    with pytest.raises(ValueError, match="one entry per account"):
        m.evaluate(np.zeros(3, bool), np.zeros(4, bool))


def test_base_rate_arithmetic() -> None:
    assert m.precision_at_prevalence(0.9, 0.01, 0.001) == pytest.approx(0.0009 / (0.0009 + 0.00999))
    assert m.precision_at_prevalence(1.0, 0.0, 0.5) == 1.0
    with pytest.raises(ValueError, match="prevalence"):
        m.precision_at_prevalence(0.5, 0.1, 1.5)
    scaled = m.at_scale({"flagged": 10, "true flags": 4, "innocent flagged": 6}, 1000, users=1_000_000)
    assert scaled["flags per month"] == 10_000
    assert scaled["innocent accounts flagged per month"] == 6000


def test_classifier_generalises_to_another_seed(platform: m.Platform) -> None:
    held_out = m.simulate(accounts=SMALL, seed=8)
    model = m.train_classifier(platform, kind="logistic")
    scores = m.classifier_scores(model, m.account_features(held_out))
    curve = m.pr_curve(scores, held_out.contact_abusive)
    base_rate = held_out.contact_abusive.mean()
    assert curve.attrs["average_precision"] > 5 * base_rate, "far better than chance on unseen accounts"
    assert curve["recall"].iloc[0] == 1.0
    assert curve["precision"].between(0, 1).all()
    with pytest.raises(ValueError, match="logistic"):
        m.train_classifier(platform, kind="oracle")


def test_technique_table(platform: m.Platform, features: pd.DataFrame) -> None:
    flags = m.rule_minors_not_following(features)
    table = m.technique_table(platform, flags, scan_recall=0.8, report_rate=0.1, seed=0)
    known = m.HARMS["sharer"]
    assert table.loc[("E2EE platform", "server-side scanning")].eq(0).all(), "nothing to scan under E2EE"
    assert table.loc[("plaintext platform", "server-side scanning"), known] > 0.5
    assert (
        table.loc[("E2EE platform", "client-side scanning"), known]
        == table.loc[("plaintext platform", "client-side scanning"), known]
    )
    assert table.loc[("E2EE platform", "user reports"), known] == 0, "ring members do not report each other"
    combined = table.xs("all combined", level="technique")
    assert (combined.to_numpy() >= table.xs("metadata detection", level="technique").to_numpy()).all()
    nobody = m.technique_table(platform, flags, scan_recall=0.0, report_rate=0.0)
    assert nobody.xs("user reports", level="technique").eq(0).all().all()
    everybody = m.technique_table(platform, flags, scan_recall=1.0, report_rate=1.0)
    assert everybody.loc[("E2EE platform", "user reports"), m.HARMS["groomer"]] == 1.0
    pd.testing.assert_frame_equal(table, m.technique_table(platform, flags, scan_recall=0.8, report_rate=0.1, seed=0))
    with pytest.raises(ValueError, match="report_rate"):
        m.technique_table(platform, flags, scan_recall=0.8, report_rate=2)


def test_bad_configurations_are_refused() -> None:
    with pytest.raises(ValueError, match="1,000"):
        m.simulate(accounts=10)
    with pytest.raises(ValueError, match="add up to 1"):
        m.simulate(age_shares=(0.5, 0.5, 0.5, 0.0, 0.0))
    with pytest.raises(ValueError, match="share"):
        m.simulate(groomer_rate=2.0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sextortion_image_share": 1.5}, "sextortion_image_share is a share"),
        ({"image_share": 0.7, "video_share": 0.5}, "add up to more than 1"),
        ({"groomer_messages_per_minor": (5, 2)}, "groomer_messages_per_minor is a range"),
        ({"minor_account_age_days": (0, 100)}, "minor_account_age_days is a range"),
        ({"ring_size": (0, 3)}, "ring_size is a range"),
        ({"new_profile_days": 1}, "new_profile_days must be at least 2"),
        ({"groomer_night_share_beta": (0.0, 7.5)}, "Beta parameters"),
        ({"day_start_hour": 3}, "day_start_hour"),
        ({"size_sigma": (0.8, 0.6)}, "one value per kind"),
        ({"size_min_bytes": (20, 500_000, 100_000)}, "size_min_bytes ≤ size_median_bytes"),
    ],
)
def test_every_kind_of_assumption_is_checked(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        m.PlatformConfig(**overrides)  # type: ignore[arg-type]


def test_assumptions_table_lists_every_field_with_its_unit_and_meaning() -> None:
    config = m.PlatformConfig(accounts=5_000, sextortion_burst_days=5)
    table = config.assumptions()
    assert table["name"].tolist() == [f.name for f in fields(m.PlatformConfig)]
    assert table.set_index("name").loc["sextortion_burst_days", "value"] == 5
    assert table.set_index("name").loc["accounts", "value"] == 5_000
    assert table["unit"].str.len().gt(0).all()
    assert table["what it assumes"].str.len().gt(0).all()


def test_an_assumption_moves_the_platform() -> None:
    """Fields that used to be numbers inside the simulator now reach it."""
    base = m.simulate(accounts=SMALL, seed=5)
    late = m.simulate(accounts=SMALL, seed=5, day_start_hour=12)
    hours = (late.events["time_s"] // 3600) % 24
    assert not hours.between(6, 11).any()
    assert ((base.events["time_s"] // 3600) % 24).between(7, 11).any()
    capped = m.simulate(accounts=SMALL, seed=5, size_max_bytes=(100, 5_000_000, 100_000_000))
    texts = capped.events["kind"] == "text"
    assert capped.events.loc[texts, "size_bytes"].max() <= 100 < base.events.loc[texts, "size_bytes"].max()


def test_new_account_share_changes_account_ages_and_nothing_else() -> None:
    """Innocent adults on new profiles are an assumption a lesson can move: the same
    world with only account ages changed, and the new-profile rule loses its precision."""
    base = m.simulate(accounts=20_000, seed=3)
    busy = m.simulate(accounts=20_000, seed=3, new_account_share=0.05)
    assert busy.events.equals(base.events)
    assert busy.roles.equals(base.roles)
    ages = m.account_ages_with_new_accounts(base, 0.05)
    assert np.array_equal(ages.to_numpy(), busy.accounts["account_age_days"].to_numpy())
    adults = ~base.accounts["is_minor"].to_numpy(bool)
    innocent = adults & (base.roles == "ordinary").to_numpy()
    assert (base.accounts["account_age_days"].to_numpy()[innocent] < 30).mean() < 0.001
    assert 0.04 < (ages.to_numpy()[innocent] < 30).mean() < 0.06
    rule = m.rule_new_profile_contacting_minors
    before = m.evaluate(rule(m.account_features(base)), base.contact_abusive)
    after = m.evaluate(rule(m.account_features(busy)), busy.contact_abusive)
    assert after["innocent flagged"] > before["innocent flagged"]
    with pytest.raises(ValueError):
        m.account_ages_with_new_accounts(busy, 0.01)
    with pytest.raises(ValueError):
        m.PlatformConfig(new_account_share=1.5)
