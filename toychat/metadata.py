"""A synthetic platform, seen only through its metadata, and the detectors Meta
describes (lesson 09).

Under end-to-end encryption a platform still sees who messages whom, when,
how much and what kind of thing (text, image, video), who follows whom, and
how old each account is — everything in :meth:`toychat.Server.log_table`
except the content.  Meta says it uses "behavioral signals like an adult
sending a large amount of friend or message requests to people under 18"
(Facebook's Jay Sullivan, quoted by Android Central, 21 May 2020:
docs/references.md#androidcentral2020); the NCA answers that metadata "will
rarely, if ever, produce sufficient evidence for a search warrant" (NCA,
7 Dec 2023: docs/references.md#nca2023).  This module builds a platform where
the truth is known, so the first claim can be measured on it; the second,
about what a court needs, it can only illustrate.

**Everything here is synthetic, and every number below is an assumption**
(none is a measured fact about Messenger or Instagram): the learner can change
each one through :class:`PlatformConfig` and watch the results move.

* Accounts have an age band and an account age.  A share are minors.
* A follow graph with heavy-tailed degrees (log-normal out-degree, log-normal
  popularity), mostly within age groups.
* Message events over some weeks: ``sender, recipient, time, size, kind`` and
  whether the recipient follows the sender — never content.
* Planted roles, with ground truth kept apart from the metadata:

  - ``mentor``: innocent adults who legitimately message many minors
    (teachers, coaches, relatives); most, not all, of those minors follow them;
  - ``groomer``: adults who contact many minors who do not follow them, some
    from new profiles, more often at night — except a share who behave
    exactly like mentors (abusers the children already know and follow);
  - ``sextortion``: brand-new profiles that contact many minors in a burst
    and send images;
  - ``sharer``: adults in small rings swapping known (stand-in) abuse images
    with each other — no minor involved in the messaging at all.

The simulator is vectorised with numpy and pandas: 100,000 accounts and a few
million events take seconds, and ``accounts`` scales to millions for the
benchmark (``python -m benchmarks --only platform``).  The same seed gives the
same platform.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

__all__ = [
    "AGE_BANDS",
    "MINOR_BANDS",
    "ROLES",
    "HARMS",
    "FEATURES",
    "ABUSIVE_ROLES",
    "CONTACT_ROLES",
    "PlatformConfig",
    "Platform",
    "simulate",
    "account_features",
    "RULES",
    "rule_minors_not_following",
    "rule_new_profile_contacting_minors",
    "rule_requests_to_minors",
    "train_classifier",
    "classifier_scores",
    "evaluate",
    "detector_table",
    "pr_curve",
    "precision_at_prevalence",
    "at_scale",
    "technique_table",
    "MESSENGER_MONTHLY_USERS",
    "account_ages_with_new_accounts",
    "NCA_MONTHLY",
]

#: Age bands, youngest first (13 is the minimum age on Meta's apps).
AGE_BANDS = ("13-15", "16-17", "18-24", "25-44", "45+")
#: The bands that are under 18.
MINOR_BANDS = ("13-15", "16-17")
#: Ground-truth roles; only the last three are abusive.
ROLES = ("ordinary", "mentor", "groomer", "sextortion", "sharer")
ABUSIVE_ROLES = ("groomer", "sextortion", "sharer")
#: The abusive roles that contact minors; the metadata detectors' target.
CONTACT_ROLES = ("groomer", "sextortion")
#: Harm label of each abusive role's messages (ground truth, never metadata).
HARMS = {"groomer": "grooming-like contact", "sextortion": "sextortion-like burst", "sharer": "sharing known images"}
#: Order of the ``kind`` codes in :attr:`Platform.events`.
KINDS = ("text", "image", "video")

#: A reference scale for lesson 09.  Facebook announced 1 billion monthly
#: Messenger users in July 2016, 1.2 billion in April 2017 and 1.3 billion in
#: September 2017 (PYMNTS, Sept 2017: docs/references.md#pymnts2017); the
#: course found no Messenger-only count published since.  An order of
#: magnitude, not a current figure.
MESSENGER_MONTHLY_USERS = 1_000_000_000
#: The NCA's monthly UK figures (James Babbage, 7 Dec 2023: docs/references.md#nca2023).
NCA_MONTHLY = {"arrests": 800, "children safeguarded": 1200}


@dataclass(frozen=True)
class PlatformConfig:
    """Every assumption of the synthetic platform, in one place.

    None of these is a measured fact about a real platform; they are
    plausible, round numbers that the lesson asks learners to change.
    """

    accounts: int = 100_000
    weeks: int = 4
    seed: int = 0
    #: Share of accounts in each of :data:`AGE_BANDS` (minors: 14%).
    age_shares: tuple[float, ...] = (0.08, 0.06, 0.16, 0.40, 0.30)
    #: Median follows per account; log-normal spread (heavy tail).
    median_follows: float = 25.0
    follow_sigma: float = 1.0
    #: Spread of popularity: how unequal in-degrees are.
    popularity_sigma: float = 1.3
    #: Chance a follow stays within the follower's group (minor / adult).
    homophily: float = 0.85
    #: Median messages per account per week; log-normal spread.
    median_messages_per_week: float = 6.0
    messages_sigma: float = 1.0
    #: Share of messages that are images and videos (the rest is text).
    image_share: float = 0.12
    video_share: float = 0.03
    #: Planted roles, as a share of all accounts.
    mentor_rate: float = 0.004
    groomer_rate: float = 0.0005
    sextortion_rate: float = 0.0003
    sharer_rate: float = 0.0005
    #: Minors a mentor messages, and the share of them who follow the mentor.
    mentor_minors: tuple[int, int] = (8, 40)
    mentor_followed_share: float = 0.7
    #: Minors a groomer contacts, and the share who follow back.
    groomer_minors: tuple[int, int] = (4, 30)
    groomer_followed_share: float = 0.15
    #: Share of groomers using a profile under 30 days old.
    groomer_new_profile_share: float = 0.4
    #: Account ages (days) are log-normal with this median and spread (minors'
    #: accounts are at least 30 days old).  With these defaults only about 0.01%
    #: of innocent accounts are under 30 days old, which is why a "new profile"
    #: rule looks perfectly precise in the default world.
    account_age_median_days: float = 900.0
    account_age_sigma: float = 0.9
    #: Extra share of innocent adults (mentors included) whose account is under
    #: 30 days old: people who joined or re-registered this month.  No platform
    #: publishes this share; the default 0 keeps the default world as it was.
    #: It is drawn from its own random stream, so changing it changes account
    #: ages and nothing else.
    new_account_share: float = 0.0
    #: Share of groomers who behave exactly like mentors in the metadata: they
    #: contact minors who already know and follow them, at ordinary hours.
    groomer_mimic_share: float = 0.25
    #: Minors a sextortion account contacts in its burst.
    sextortion_minors: tuple[int, int] = (10, 60)
    #: Size of a sharing ring.
    ring_size: tuple[int, int] = (3, 8)

    def __post_init__(self) -> None:
        if self.accounts < 1000:
            raise ValueError("a platform needs at least 1,000 accounts (planted roles are rare).")
        if self.weeks < 1:
            raise ValueError("simulate at least one week.")
        if self.account_age_median_days < 1 or self.account_age_sigma < 0:
            raise ValueError("account ages need a median of at least 1 day and a spread ≥ 0.")
        if len(self.age_shares) != len(AGE_BANDS) or abs(sum(self.age_shares) - 1) > 1e-9:
            raise ValueError(f"age_shares needs {len(AGE_BANDS)} shares that add up to 1.")
        for name in (
            "mentor_rate",
            "groomer_rate",
            "sextortion_rate",
            "sharer_rate",
            "homophily",
            "groomer_mimic_share",
            "groomer_new_profile_share",
            "new_account_share",
        ):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} is a share between 0 and 1.")


@dataclass
class Platform:
    """A simulated platform: the metadata the operator sees, and the truth it does not.

    Attributes
    ----------
    accounts:
        One row per account: ``age_band``, ``is_minor``, ``account_age_days``
        (metadata the platform has).
    follows:
        Follow edges ``follower -> followee`` (metadata).
    events:
        One row per message: ``sender, recipient, time_s, size_bytes, kind,
        recipient_follows_sender`` (metadata; no content).
    roles:
        Ground truth per account, from :data:`ROLES` — what detectors try to find.
    event_harm:
        Ground truth per message: the harm it belongs to, or ``""``.
    """

    config: PlatformConfig
    accounts: pd.DataFrame
    follows: pd.DataFrame
    events: pd.DataFrame
    roles: pd.Series
    event_harm: pd.Series
    _follow_keys: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, np.int64))

    @property
    def abusive(self) -> pd.Series:
        """True for accounts planted with any abusive role."""
        return self.roles.isin(ABUSIVE_ROLES)

    @property
    def contact_abusive(self) -> pd.Series:
        """True for accounts that seek contact with minors (groomers, sextortion):
        the harm the behavioural signals Meta describes are aimed at."""
        return self.roles.isin(CONTACT_ROLES)

    def follows_pair(self, follower: np.ndarray, followee: np.ndarray) -> np.ndarray:
        """Vectorised: does ``follower[i]`` follow ``followee[i]``?"""
        found = np.empty(len(follower), bool)
        block = 4_000_000  # bounded temporaries, however many pairs are asked about
        for start in range(0, len(follower), block):
            keys = follower[start : start + block].astype(np.int64) * self.config.accounts
            keys += followee[start : start + block]
            order = np.argsort(keys)  # sorted queries search much faster (cache)
            sorted_keys = keys[order]
            at = np.minimum(np.searchsorted(self._follow_keys, sorted_keys), len(self._follow_keys) - 1)
            found[start + order] = self._follow_keys[at] == sorted_keys
        return found

    def summary(self) -> pd.DataFrame:
        """Accounts, minors, events and planted roles: a one-glance table."""
        counts = self.roles.value_counts().reindex(ROLES, fill_value=0)
        rows = {
            "accounts": len(self.accounts),
            "minors": int(self.accounts["is_minor"].sum()),
            "follow edges": len(self.follows),
            "messages": len(self.events),
            "weeks": self.config.weeks,
        }
        rows.update({f"role: {role}": int(n) for role, n in counts.items()})
        return pd.DataFrame({"value": rows})


# ---- the simulator -------------------------------------------------------------------------
def _lognormal_counts(rng: np.random.Generator, n: int, median: float, sigma: float, cap: int) -> np.ndarray:
    return np.minimum(np.floor(rng.lognormal(np.log(median), sigma, n)), cap).astype(np.int64)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting (faster than hashing for millions of int64 keys)."""
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if len(values) else values


def _weighted_pick(rng: np.random.Generator, pool: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """``size`` draws from ``pool`` with probability proportional to ``weights`` (vectorised)."""
    if size == 0 or len(pool) == 0:
        return np.empty(0, np.int64)
    cumulative = np.cumsum(weights[pool])
    targets = rng.random(size) * cumulative[-1]
    order = np.argsort(targets)  # searching sorted targets is much faster (cache); same answers
    at = np.empty(size, np.int32)
    at[order] = np.searchsorted(cumulative, targets[order], side="right")
    return pool[np.minimum(at, len(pool) - 1)]


def _hours(rng: np.random.Generator, n: int, night_share: float | np.ndarray) -> np.ndarray:
    """Hour of day: mostly daytime and evening; a share ``night_share`` (per message,
    or one for all) between 00:00 and 05:59."""
    night = rng.random(n, dtype=np.float32) < night_share
    return np.where(night, rng.integers(0, 6, n, dtype=np.int32), rng.integers(7, 24, n, dtype=np.int32))


def _times(
    rng: np.random.Generator,
    n: int,
    weeks: int,
    night_share: float | np.ndarray,
    start_day: np.ndarray | None = None,
    span_days: int | None = None,
) -> np.ndarray:
    days = weeks * 7
    if start_day is None:
        day = rng.integers(0, days, n, dtype=np.int32)
    else:
        day = np.minimum(start_day + rng.integers(0, span_days or 1, n, dtype=np.int32), days - 1).astype(np.int32)
    seconds: np.ndarray = day * 86400 + _hours(rng, n, night_share) * 3600 + rng.integers(0, 3600, n, dtype=np.int32)
    return seconds


def _with_new_accounts(
    account_age: np.ndarray, is_minor: np.ndarray, roles: np.ndarray, share: float, seed: int
) -> np.ndarray:
    """``account_age`` with a ``share`` of innocent adults (mentors included) moved onto
    profiles under 30 days old, drawn from their own random stream (``[seed, 1]``)."""
    if share <= 0:
        return account_age
    age_rng = np.random.default_rng([seed, 1])
    innocent_adults = np.flatnonzero(~is_minor & np.isin(roles, (0, ROLES.index("mentor"))))
    new = innocent_adults[age_rng.random(len(innocent_adults)) < share]
    out = account_age.copy()
    out[new] = age_rng.integers(1, 30, len(new))
    return out


def account_ages_with_new_accounts(platform: Platform, share: float) -> pd.Series:
    """The platform's account ages as :func:`simulate` would have drawn them with
    ``new_account_share=share`` — the same world, only account ages changed, so a
    lesson can vary this one assumption without simulating the platform again.
    The platform itself must have been simulated with ``new_account_share=0``."""
    if platform.config.new_account_share != 0:
        raise ValueError("start from a platform simulated with new_account_share=0.")
    if not 0 <= share <= 1:
        raise ValueError("share is a share between 0 and 1.")
    ages = platform.accounts["account_age_days"].to_numpy()
    roles = platform.roles.map(ROLES.index).to_numpy()
    ages = _with_new_accounts(ages, platform.accounts["is_minor"].to_numpy(bool), roles, share, platform.config.seed)
    return pd.Series(ages, index=platform.accounts.index, name="account_age_days")


def simulate(config: PlatformConfig | None = None, **overrides: object) -> Platform:
    """Simulate a platform.  ``simulate(accounts=10_000, seed=3)`` overrides single
    assumptions of the default :class:`PlatformConfig`."""
    config = replace(config or PlatformConfig(), **overrides)  # type: ignore[arg-type]
    rng = np.random.default_rng(config.seed)
    n = config.accounts

    # Accounts: age band, account age.
    band = rng.choice(len(AGE_BANDS), size=n, p=np.asarray(config.age_shares))
    is_minor = band < len(MINOR_BANDS)
    account_age = np.round(rng.lognormal(np.log(config.account_age_median_days), config.account_age_sigma, n))
    account_age = np.clip(account_age, 1, 6000).astype(np.int64)
    account_age = np.where(is_minor, np.minimum(account_age, rng.integers(30, 1800, n)), account_age)

    # Planted roles among adults.
    roles = np.zeros(n, np.int8)
    adults = np.flatnonzero(~is_minor).astype(np.int32)
    minors = np.flatnonzero(is_minor).astype(np.int32)
    planted = rng.permutation(adults)
    start = 0
    for code, rate in enumerate(
        (config.mentor_rate, config.groomer_rate, config.sextortion_rate, config.sharer_rate), 1
    ):
        count = max(1, round(rate * n)) if rate > 0 else 0
        roles[planted[start : start + count]] = code
        start += count
    groomers = np.flatnonzero(roles == ROLES.index("groomer"))
    mimic = rng.random(len(groomers)) < config.groomer_mimic_share
    mimics, groomers = groomers[mimic], groomers[~mimic]  # ``groomers``: the overt ones
    new_profile = groomers[rng.random(len(groomers)) < config.groomer_new_profile_share]
    account_age[new_profile] = rng.integers(1, 30, len(new_profile))
    sextortion = np.flatnonzero(roles == ROLES.index("sextortion"))
    account_age[sextortion] = rng.integers(1, 15, len(sextortion))
    account_age = _with_new_accounts(account_age, is_minor, roles, config.new_account_share, config.seed)
    # How much of each account's messaging happens at night (00:00-05:59): most people
    # little, some night owls a lot (Beta, mean about 6%); groomers and sextortion
    # accounts more on average (means 25% and 30%), so the signal overlaps.
    night_propensity = rng.beta(1.0, 15.0, n)
    night_propensity[groomers] = rng.beta(2.5, 7.5, len(groomers))
    night_propensity[sextortion] = rng.beta(3.0, 7.0, len(sextortion))

    # Follow graph: heavy-tailed out-degree, popularity-weighted targets, homophily.
    out_degree = _lognormal_counts(rng, n, config.median_follows, config.follow_sigma, cap=5000)
    popularity = rng.lognormal(0.0, config.popularity_sigma, n)
    follower = np.repeat(np.arange(n, dtype=np.int32), out_degree)
    same_group = rng.random(len(follower), dtype=np.float32) < config.homophily
    followee = np.empty(len(follower), np.int32)
    for group_is_minor, pool in ((True, minors), (False, adults)):
        mask = same_group & (is_minor[follower] == group_is_minor)
        followee[mask] = _weighted_pick(rng, pool, popularity, int(mask.sum()))
    everyone = np.arange(n, dtype=np.int32)
    followee[~same_group] = _weighted_pick(rng, everyone, popularity, int((~same_group).sum()))

    # Planted contact sets (who each planted account messages).
    planted_pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # sender, recipient, recipient follows?

    def contacts(accounts: np.ndarray, bounds: tuple[int, int], followed_share: float, pool: np.ndarray) -> None:
        sizes = rng.integers(bounds[0], bounds[1] + 1, len(accounts))
        senders = np.repeat(accounts, sizes)
        recipients = pool[rng.integers(0, len(pool), len(senders))]
        follows_back = rng.random(len(senders)) < followed_share
        planted_pairs.append((senders, recipients, follows_back))

    mentors = np.flatnonzero(roles == ROLES.index("mentor"))
    contacts(mentors, config.mentor_minors, config.mentor_followed_share, minors)
    contacts(mimics, config.mentor_minors, config.mentor_followed_share, minors)
    contacts(groomers, config.groomer_minors, config.groomer_followed_share, minors)
    contacts(sextortion, config.sextortion_minors, 0.0, minors)
    sharers = rng.permutation(np.flatnonzero(roles == ROLES.index("sharer")))
    ring_senders, ring_recipients = [], []
    at = 0
    while at < len(sharers):
        ring_size = int(rng.integers(config.ring_size[0], config.ring_size[1] + 1))
        ring = sharers[at : at + ring_size]
        at += ring_size
        if len(ring) < 2:
            ring = np.concatenate([ring, sharers[:1]]) if len(sharers) > 1 else ring
        a, b = np.meshgrid(ring, ring)
        keep = a != b
        ring_senders.append(a[keep])
        ring_recipients.append(b[keep])
    if ring_senders:
        s, r = np.concatenate(ring_senders), np.concatenate(ring_recipients)
        planted_pairs.append((s, r, np.ones(len(s), bool)))

    extra_follower = np.concatenate([r[f] for s, r, f in planted_pairs] + [np.empty(0, np.int64)])
    extra_followee = np.concatenate([s[f] for s, r, f in planted_pairs] + [np.empty(0, np.int64)])
    follower = np.concatenate([follower, extra_follower])
    followee = np.concatenate([followee, extra_followee])
    keep = follower != followee
    keys = _sorted_unique(follower[keep].astype(np.int64) * n + followee[keep])
    follower, followee = (keys // n).astype(np.int32), (keys % n).astype(np.int32)
    del keep, same_group, extra_follower, extra_followee

    # Ordinary messaging: along follow edges, either direction.
    message_rate = rng.lognormal(np.log(config.median_messages_per_week), config.messages_sigma, n)
    per_account = rng.poisson(message_rate * config.weeks)
    per_account[roles == ROLES.index("sextortion")] = 0  # they only do their burst
    degree_out = np.bincount(follower, minlength=n).astype(np.int32)
    degree_in = np.bincount(followee, minlength=n).astype(np.int32)
    has_contact = (degree_out + degree_in) > 0
    per_account[~has_contact] = 0
    senders = np.repeat(np.arange(n, dtype=np.int32), per_account)
    # Choose a neighbour: an account the sender follows, or one that follows the sender.
    out_start = np.concatenate([[0], np.cumsum(degree_out)]).astype(np.int32)
    order_in = np.argsort(followee).astype(np.int32)
    in_start = np.concatenate([[0], np.cumsum(degree_in)]).astype(np.int32)
    d_out, d_in = degree_out[senders], degree_in[senders]
    use_out = rng.random(len(senders), dtype=np.float32) * (d_out + d_in) < d_out
    pick = (rng.random(len(senders), dtype=np.float32) * np.where(use_out, d_out, d_in)).astype(np.int32)
    pick += np.where(use_out, out_start[senders], in_start[senders])
    pick = np.minimum(pick, len(followee) - 1)
    recipients = np.where(use_out, followee[pick], follower[order_in[pick]])
    del d_out, d_in, pick, order_in
    draw = rng.random(len(senders), dtype=np.float32)
    text_share = 1 - config.image_share - config.video_share
    ordinary_kind = (draw >= text_share).astype(np.int8) + (draw >= text_share + config.image_share)
    del draw
    ordinary_time = _times(rng, len(senders), config.weeks, night_share=night_propensity[senders])
    harm = np.zeros(len(senders), np.int8)

    # Planted messaging: several messages per planted pair.
    parts_s, parts_r, parts_k, parts_t, parts_h = [senders], [recipients], [ordinary_kind], [ordinary_time], [harm]
    profiles = {  # role: (messages per pair low, high, image share, harm code)
        "mentor": (2, 12, 0.05, 0),
        "groomer": (3, 25, 0.10, 1),
        "sextortion": (2, 6, 0.45, 2),
        "sharer": (1, 6, 0.90, 3),
    }
    for s, r, _ in planted_pairs:
        if len(s) == 0:
            continue
        role = ROLES[int(roles[s[0]])]
        low, high, images, code = profiles[role]
        if role == "groomer" and np.isin(s[0], mimics):  # behaves like a mentor
            low, high, images = profiles["mentor"][:3]
        repeats = rng.integers(low, high + 1, len(s))
        ps, pr = np.repeat(s, repeats), np.repeat(r, repeats)
        night = night_propensity[ps]
        if role == "sextortion":
            start_day = rng.integers(0, max(config.weeks * 7 - 3, 1), len(s))
            pt = _times(rng, len(ps), config.weeks, night, start_day=np.repeat(start_day, repeats), span_days=3)
        else:
            pt = _times(rng, len(ps), config.weeks, night)
        pk = np.where(rng.random(len(ps)) < images, 1, 0)
        parts_s.append(ps)
        parts_r.append(pr)
        parts_k.append(pk)
        parts_t.append(pt)
        parts_h.append(np.full(len(ps), code, np.int8))
    sender = np.concatenate(parts_s).astype(np.int32)
    recipient = np.concatenate(parts_r).astype(np.int32)
    del parts_s, parts_r, senders, recipients
    kind = np.concatenate(parts_k).astype(np.int8)
    time_s = np.concatenate(parts_t).astype(np.int32)
    event_harm_code = np.concatenate(parts_h).astype(np.int8)
    # A ring's text messages are not the harm; its images are.
    event_harm_code[(event_harm_code == 3) & (kind != 1)] = 0
    # Sizes: log-normal per kind (median 90 B text, 180 kB image, 3 MB video), clipped.
    size_median, size_spread = np.log([90, 180_000, 3_000_000]), np.array([0.8, 0.6, 0.8])
    size_low, size_high = np.array([20, 5_000, 100_000]), np.array([4_000, 5_000_000, 100_000_000])
    size = np.exp(size_median[kind] + size_spread[kind] * rng.standard_normal(len(kind), dtype=np.float32))
    size = np.clip(size, size_low[kind], size_high[kind]).astype(np.int32)

    order = np.argsort(time_s)
    sender = sender[order]  # one column at a time, so only one old copy is alive
    recipient = recipient[order]
    kind = kind[order]
    time_s = time_s[order]
    size = size[order]
    event_harm_code = event_harm_code[order]
    del order
    platform = Platform(
        config=config,
        accounts=pd.DataFrame(
            {
                "age_band": pd.Categorical.from_codes(band, pd.Index(AGE_BANDS)),
                "is_minor": is_minor,
                "account_age_days": account_age,
            }
        ).rename_axis("account"),
        follows=pd.DataFrame({"follower": follower.astype(np.int32), "followee": followee.astype(np.int32)}),
        events=pd.DataFrame(),
        roles=pd.Series(pd.Categorical.from_codes(roles, pd.Index(ROLES)), name="role").rename_axis("account"),
        event_harm=pd.Series(),
        _follow_keys=keys,
    )
    platform.events = pd.DataFrame(
        {
            "sender": sender.astype(np.int32),
            "recipient": recipient.astype(np.int32),
            "time_s": time_s,
            "size_bytes": size,
            "kind": pd.Categorical.from_codes(kind, pd.Index(KINDS)),
            "recipient_follows_sender": platform.follows_pair(recipient, sender),
        }
    )
    harm_order = ("", HARMS["groomer"], HARMS["sextortion"], HARMS["sharer"])
    platform.event_harm = pd.Series(pd.Categorical.from_codes(event_harm_code, pd.Index(harm_order)), name="harm")
    return platform


# ---- features ------------------------------------------------------------------------------
#: The per-account features :func:`account_features` computes, all from metadata.
FEATURES = (
    "is_adult",
    "account_age_days",
    "messages",
    "recipients",
    "minor_recipients",
    "minors_not_following",
    "requests_to_minors_per_week",
    "night_share",
    "image_share",
)


def account_features(platform: Platform) -> pd.DataFrame:
    """One row per account, computed only from metadata (no roles, no harms).

    * ``minor_recipients`` — distinct minors the account messaged;
    * ``minors_not_following`` — of those, how many do not follow it;
    * ``requests_to_minors_per_week`` — messages to minors who do not follow it, per week;
    * ``night_share`` — share of its messages sent 00:00-05:59;
    * ``image_share`` — share of its messages that are images or videos.
    """
    events, accounts = platform.events, platform.accounts
    n = len(accounts)
    sender = events["sender"].to_numpy()
    recipient = events["recipient"].to_numpy()
    is_minor = accounts["is_minor"].to_numpy()
    to_minor = is_minor[recipient]
    follows = events["recipient_follows_sender"].to_numpy()
    hour = (events["time_s"].to_numpy() // 3600) % 24
    media = events["kind"].cat.codes.to_numpy() > 0

    messages = np.bincount(sender, minlength=n)
    pair_keys = _sorted_unique(sender.astype(np.int64) * n + recipient)
    pair_sender, pair_recipient = pair_keys // n, pair_keys % n
    pair_minor = is_minor[pair_recipient]
    pair_follows = platform.follows_pair(pair_recipient, pair_sender)
    weeks = platform.config.weeks
    with np.errstate(invalid="ignore", divide="ignore"):
        features = pd.DataFrame(
            {
                "is_adult": (~is_minor).astype(np.int8),
                "account_age_days": accounts["account_age_days"].to_numpy(),
                "messages": messages,
                "recipients": np.bincount(pair_sender, minlength=n),
                "minor_recipients": np.bincount(pair_sender[pair_minor], minlength=n),
                "minors_not_following": np.bincount(pair_sender[pair_minor & ~pair_follows], minlength=n),
                "requests_to_minors_per_week": np.bincount(sender[to_minor & ~follows], minlength=n) / weeks,
                "night_share": np.nan_to_num(np.bincount(sender[hour < 6], minlength=n) / messages),
                "image_share": np.nan_to_num(np.bincount(sender[media], minlength=n) / messages),
            }
        )
    return features.rename_axis("account")


# ---- rules from Meta's statements -------------------------------------------------------------------
Detector = Callable[[pd.DataFrame], pd.Series]


def rule_minors_not_following(features: pd.DataFrame, threshold: int = 5) -> pd.Series:
    """Flag adults who messaged at least ``threshold`` minors who do not follow them.

    After Meta's rule that "adults over the age of 19" were restricted from
    messaging teens who don't follow them (reported by PhoneArena, 25 Jan 2024:
    docs/references.md#phonearena2024).
    """
    return (features["is_adult"] == 1) & (features["minors_not_following"] >= threshold)


def rule_new_profile_contacting_minors(features: pd.DataFrame, max_age_days: int = 30, threshold: int = 3) -> pd.Series:
    """Flag profiles under ``max_age_days`` old that contacted at least
    ``threshold`` minors who do not follow them.

    The course's own rule (new profiles are a signal platforms are often said
    to use; the course has not verified Meta's wording about them).  How
    precise it looks depends on how many innocent accounts are new:
    :attr:`PlatformConfig.new_account_share`."""
    return (
        (features["is_adult"] == 1)
        & (features["account_age_days"] < max_age_days)
        & (features["minors_not_following"] >= threshold)
    )


def rule_requests_to_minors(features: pd.DataFrame, per_week: float = 10.0) -> pd.Series:
    """Flag adults sending at least ``per_week`` messages a week to minors who do
    not follow them — after "an adult sending a large amount of friend or
    message requests to people under 18" (Facebook, May 2020, quoted by Android
    Central: docs/references.md#androidcentral2020)."""
    return (features["is_adult"] == 1) & (features["requests_to_minors_per_week"] >= per_week)


#: The three rules, by the name lesson 09 shows.
RULES: dict[str, Detector] = {
    "adult messaging ≥5 minors who don't follow them": rule_minors_not_following,
    "new profile (<30 days) contacting ≥3 minors": rule_new_profile_contacting_minors,
    "≥10 messages a week to minors who don't follow": rule_requests_to_minors,
}


# ---- a learned classifier -------------------------------------------------------------------
def _design(features: pd.DataFrame) -> np.ndarray:
    logs = np.log1p(
        features[[c for c in FEATURES if c not in ("night_share", "image_share", "is_adult")]].to_numpy(float)
    )
    return np.column_stack([features[["is_adult", "night_share", "image_share"]].to_numpy(float), logs])


def train_classifier(platform: Platform, *, kind: str = "logistic", seed: int = 0) -> object:
    """Fit a classifier of contact-abusive accounts (:attr:`Platform.contact_abusive`)
    on ``platform``'s metadata features.

    ``kind="logistic"`` is scikit-learn's logistic regression on log-scaled
    features (interpretable: one weight per feature); ``kind="boosting"`` is
    histogram gradient boosting (captures interactions such as *new* profile
    *and* many minors).  Only adults are used, as in Meta's descriptions.
    Returns the fitted model for :func:`classifier_scores`.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = account_features(platform)
    adults = features["is_adult"].to_numpy() == 1  # the signals Meta describes concern adults
    x, y = _design(features)[adults], platform.contact_abusive.to_numpy()[adults]
    if kind == "logistic":
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    elif kind == "boosting":
        # Small trees, slow learning: with ~100 positives, bigger models overfit.
        model = HistGradientBoostingClassifier(
            max_iter=100, learning_rate=0.05, max_leaf_nodes=8, min_samples_leaf=20, random_state=seed
        )
    else:
        raise ValueError("kind is 'logistic' or 'boosting'.")
    model.fit(x, y)
    return model


def classifier_scores(model: object, features: pd.DataFrame) -> pd.Series:
    """The model's probability that each account is abusive (0-1); minors score 0,
    since the detectors screen adults only."""
    scores = model.predict_proba(_design(features))[:, 1]  # type: ignore[attr-defined]
    return pd.Series(np.where(features["is_adult"].to_numpy() == 1, scores, 0.0), index=features.index, name="score")


# ---- evaluation ----------------------------------------------------------------------------
def evaluate(flags: pd.Series | np.ndarray, truth: pd.Series | np.ndarray) -> dict[str, float]:
    """Precision, recall and counts of a set of flags against the ground truth."""
    flags, truth = np.asarray(flags, bool), np.asarray(truth, bool)
    if flags.shape != truth.shape:
        raise ValueError(f"flags ({flags.shape}) and truth ({truth.shape}) must have one entry per account.")
    true_flags = int((flags & truth).sum())
    flagged = int(flags.sum())
    return {
        "flagged": flagged,
        "true flags": true_flags,
        "innocent flagged": flagged - true_flags,
        "missed": int((~flags & truth).sum()),
        "precision": true_flags / flagged if flagged else float("nan"),
        "recall": true_flags / int(truth.sum()) if truth.any() else float("nan"),
        "flag rate": flagged / len(flags),
    }


def detector_table(
    platform: Platform, detectors: Mapping[str, pd.Series], *, truth: pd.Series | None = None
) -> pd.DataFrame:
    """:func:`evaluate` for each named set of flags against ``truth`` (default: the
    contact-abusive accounts), plus how many mentors each flagged."""
    rows = []
    truth = platform.contact_abusive if truth is None else truth
    mentors = (platform.roles == "mentor").to_numpy()
    for name, flags in detectors.items():
        row = {"detector": name, **evaluate(flags, truth)}
        row["mentors flagged"] = int((np.asarray(flags, bool) & mentors).sum())
        rows.append(row)
    return pd.DataFrame(rows).set_index("detector")


def pr_curve(scores: pd.Series | np.ndarray, truth: pd.Series | np.ndarray) -> pd.DataFrame:
    """Precision and recall at every threshold of ``scores`` (scikit-learn), and the
    average precision, as a table with one row per threshold."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(np.asarray(truth, bool), np.asarray(scores, float))
    table = pd.DataFrame({"threshold": np.append(thresholds, np.inf), "precision": precision, "recall": recall})
    table.attrs["average_precision"] = float(
        average_precision_score(np.asarray(truth, bool), np.asarray(scores, float))
    )
    return table


# ---- base rates and scale ------------------------------------------------------------------
def precision_at_prevalence(recall: float, false_positive_rate: float, prevalence: float) -> float:
    """Bayes' rule: the share of flags that are true when a share ``prevalence`` of
    accounts is abusive, for a detector with this recall and false-positive rate."""
    for name, value in (("recall", recall), ("false_positive_rate", false_positive_rate), ("prevalence", prevalence)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must be between 0 and 1, not {value}.")
    true = recall * prevalence
    false = false_positive_rate * (1 - prevalence)
    return true / (true + false) if true + false else float("nan")


def at_scale(result: Mapping[str, float], accounts: int, *, users: int = MESSENGER_MONTHLY_USERS) -> dict[str, float]:
    """Scale one month's :func:`evaluate` result from a simulated platform of
    ``accounts`` to ``users`` accounts, assuming the same rates: flags per
    month, how many are true, how many innocent."""
    factor = users / accounts
    return {
        "users": users,
        "flags per month": result["flagged"] * factor,
        "true flags per month": result["true flags"] * factor,
        "innocent accounts flagged per month": result["innocent flagged"] * factor,
    }


# ---- one platform, every technique -------------------------------------------------------
def technique_table(
    platform: Platform,
    metadata_flags: pd.Series | np.ndarray,
    *,
    scan_recall: float,
    report_rate: float,
    seed: int = 0,
) -> pd.DataFrame:
    """What each technique catches of each planted harm, with and without E2EE.

    A harmful account counts as *caught* by a technique if:

    * **server-side scanning** — one of its known-image messages is matched
      (each with probability ``scan_recall``, measured in lesson 06); only
      possible where the server can read images, i.e. not under E2EE;
    * **client-side scanning** — the same match, made on the phone, so it works
      either way (lesson 07);
    * **user reports** — one of the people it messaged reports it, each with
      probability ``report_rate``; ring members who swap images with each
      other do not report (lesson 08);
    * **metadata detection** — ``metadata_flags`` flags it (works either way);
    * **all combined** — any of the above available on that platform.

    Returns one row per (platform, technique) and one column per harm: the share
    of that harm's accounts caught.  Seeded and deterministic.
    """
    if not 0 <= scan_recall <= 1 or not 0 <= report_rate <= 1:
        raise ValueError("scan_recall and report_rate are shares between 0 and 1.")
    rng = np.random.default_rng(seed)
    n = len(platform.accounts)
    roles = platform.roles.to_numpy()
    events = platform.events
    harm = platform.event_harm.to_numpy()
    sender = events["sender"].to_numpy()
    recipient = events["recipient"].to_numpy()

    known_image = harm == HARMS["sharer"]
    matched = known_image & (rng.random(len(harm)) < scan_recall)
    scan_caught = np.bincount(sender[matched], minlength=n) > 0

    victim_harm = (harm == HARMS["groomer"]) | (harm == HARMS["sextortion"])
    pairs = _sorted_unique(sender[victim_harm].astype(np.int64) * n + recipient[victim_harm])
    reported = rng.random(len(pairs)) < report_rate
    report_caught = np.bincount((pairs[reported] // n).astype(np.int64), minlength=n) > 0
    meta_caught = np.asarray(metadata_flags, bool)

    rows = []
    for platform_name, server_can_read in (("plaintext platform", True), ("E2EE platform", False)):
        techniques = {
            "server-side scanning": scan_caught if server_can_read else np.zeros(n, bool),
            "client-side scanning": scan_caught,
            "user reports": report_caught,
            "metadata detection": meta_caught,
        }
        techniques["all combined"] = np.logical_or.reduce(list(techniques.values()))
        for technique, caught in techniques.items():
            row: dict[str, object] = {"platform": platform_name, "technique": technique}
            for role, harm_name in HARMS.items():
                members = roles == role
                row[harm_name] = float(caught[members].mean()) if members.any() else float("nan")
            rows.append(row)
    return pd.DataFrame(rows).set_index(["platform", "technique"])
