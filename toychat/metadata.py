"""A synthetic platform, seen only through its metadata, and the detectors Meta
describes (lesson 09).

Under end-to-end encryption a platform still sees who messages whom, when,
how much and what kind of thing (text, image, video), who follows whom, and
how old each account is — everything in :meth:`toychat.Server.log_table`
except the content.  Meta says it uses "behavioral signals like an adult
sending a large amount of friend or message requests to people under 18"
(Facebook's Jay Sullivan, 21 May 2020:
docs/references.md#sullivan2020); the NCA answers that metadata "will
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

Keep this one module, importing nothing from toychat
----------------------------------------------------
ex04's hidden tests grade a student's detector on a platform built by
``toychat.fresh.fresh_import("toychat.metadata")``: a new copy of *this file*,
executed after the student's cells ran, so nothing they replaced
(``md.simulate = ...``) can change the platform the points are measured on.
:func:`~toychat.fresh.fresh_import` refuses a module with relative imports, and
a copy's own imports are the process's modules, which the student's code can
have patched.  So everything the simulation, the features and the evaluation
need stays in this file, on numpy, pandas, scikit-learn and the standard library:
split it, or import from another toychat module, and ex04's grade is no longer
out of the student's reach (``tests/test_docs_match_code.py`` checks both).
"""

from __future__ import annotations

import ctypes
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import NamedTuple, TypeVar

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

_T = TypeVar("_T")


def _return_freed_memory() -> None:
    """Hand the heap that freed intermediate arrays leave back to the operating system.

    glibc keeps freed arrays of a few MiB in the process for reuse: after one
    default :func:`simulate` that was about 150 MiB of a kernel's resident memory,
    after :func:`account_features` over 100 MiB, held for the rest of the lesson
    (measured for lesson 09).  ``malloc_trim(0)`` releases it; without glibc this
    does nothing.  No value changes.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, looked up once among the symbols the process has loaded;
    ``None`` without glibc.

    Not by ``ctypes.util.find_library``: that runs ``/sbin/ldconfig -p`` in a child
    process at every call, and a child started from a kernel of several hundred MiB
    briefly shows the kernel's whole resident memory as its own, which a sampler that
    adds up a process tree (benchmarks/sizing.py) counted twice.
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_F = TypeVar("_F", bound=Callable[..., object])


def _returns_freed_memory(func: _F) -> _F:
    """``func``, then :func:`_return_freed_memory` once its frame and temporaries are gone."""

    @functools.wraps(func)
    def wrapper(*args: object, **kwargs: object) -> object:
        result = func(*args, **kwargs)
        _return_freed_memory()
        return result

    return wrapper  # type: ignore[return-value]


#: Night is 00:00-05:59: the hours the simulator's night-time messages fall in, and the
#: hours :func:`account_features` counts as night (a definition, not an assumption).
_NIGHT_END_HOUR = 6


def _assumption(default: _T, unit: str, assumes: str) -> _T:
    """A :class:`PlatformConfig` field: its default, unit and what it assumes (one line,
    shown by :meth:`PlatformConfig.assumptions`)."""
    return field(default=default, metadata={"unit": unit, "assumes": assumes})


#: The :class:`PlatformConfig` fields that are shares between 0 and 1.
_SHARES = (
    "mentor_rate",
    "groomer_rate",
    "sextortion_rate",
    "sharer_rate",
    "homophily",
    "groomer_mimic_share",
    "groomer_new_profile_share",
    "new_account_share",
    "image_share",
    "video_share",
    "mentor_followed_share",
    "groomer_followed_share",
    "sextortion_followed_share",
    "mentor_image_share",
    "groomer_image_share",
    "sextortion_image_share",
    "sharer_image_share",
)
#: The :class:`PlatformConfig` ranges ``(low, high)``, and the least ``low`` each allows.
_RANGES = {
    "minor_account_age_days": 1,
    "mentor_minors": 0,
    "groomer_minors": 0,
    "sextortion_minors": 0,
    "ring_size": 1,
    "mentor_messages_per_minor": 0,
    "groomer_messages_per_minor": 0,
    "sextortion_messages_per_minor": 0,
    "sharer_messages_per_peer": 0,
}
#: The :class:`PlatformConfig` counts with a least value ("under 2 days" means 1 day).
_AT_LEAST = {
    "account_age_max_days": 1,
    "new_profile_days": 2,
    "sextortion_profile_days": 2,
    "sextortion_burst_days": 1,
    "max_follows": 0,
}


@dataclass(frozen=True)
class PlatformConfig:
    """Every assumption of the synthetic platform, in one place.

    None of these is a measured fact about a real platform; they are
    plausible, round numbers that the lesson asks learners to change.  Each
    field carries its unit and what it assumes: :meth:`assumptions` lists them
    as a table.  Ranges ``(low, high)`` include both ends, except where a field
    says "under".
    """

    # -- scale --
    accounts: int = _assumption(100_000, "accounts", "accounts on the platform")
    weeks: int = _assumption(4, "weeks", "weeks of messaging simulated")
    seed: int = _assumption(0, "—", "which random world: the same seed gives the same platform")
    # -- accounts --
    age_shares: tuple[float, ...] = _assumption(
        (0.08, 0.06, 0.16, 0.40, 0.30),
        "share (0-1) per age band",
        f"share of accounts aged {', '.join(AGE_BANDS)} (minors: 14%)",
    )
    #: Account ages (days) are log-normal with this median and spread.  With these
    #: defaults only about 0.01% of innocent accounts are under 30 days old, which is why
    #: a "new profile" rule looks perfectly precise in the default world.
    account_age_median_days: float = _assumption(900.0, "days", "median account age (log-normal)")
    account_age_sigma: float = _assumption(0.9, "log-normal σ", "spread of account ages")
    account_age_max_days: int = _assumption(6000, "days", "oldest possible account (about 16 years)")
    minor_account_age_days: tuple[int, int] = _assumption(
        (30, 1799), "days (range)", "a minor's account is no older than a draw from this range (joined at 13 or later)"
    )
    # -- planted roles --
    mentor_rate: float = _assumption(0.004, "share of accounts", "innocent adults who message many minors (mentors)")
    groomer_rate: float = _assumption(0.0005, "share of accounts", "groomers")
    sextortion_rate: float = _assumption(0.0003, "share of accounts", "sextortion accounts")
    sharer_rate: float = _assumption(0.0005, "share of accounts", "adults in rings sharing known abuse images")
    #: Share of groomers who behave exactly like mentors in the metadata: they
    #: contact minors who already know and follow them, at ordinary hours.
    groomer_mimic_share: float = _assumption(
        0.25, "share of groomers", "groomers who behave exactly like mentors in the metadata"
    )
    groomer_new_profile_share: float = _assumption(
        0.4, "share of overt groomers", "groomers (those not behaving like mentors) using a new profile"
    )
    new_profile_days: int = _assumption(30, "days", "a new profile is under this many days old")
    sextortion_profile_days: int = _assumption(15, "days", "a sextortion profile is under this many days old")
    #: Extra share of innocent adults (mentors included) whose account is new (under
    #: :attr:`new_profile_days` old): people who joined or re-registered this month.  No
    #: platform publishes this share; the default 0 keeps the default world as it was.
    #: It is drawn from its own random stream, so changing it changes account ages and
    #: nothing else.
    new_account_share: float = _assumption(
        0.0, "share of innocent adults", "innocent adults (mentors included) on a new profile"
    )
    # -- night-time messaging --
    night_share_beta: tuple[float, float] = _assumption(
        (1.0, 15.0), "Beta(a, b)", "share of an innocent account's messages sent at night (00:00-05:59): mean 6%"
    )
    groomer_night_share_beta: tuple[float, float] = _assumption(
        (2.5, 7.5), "Beta(a, b)", "share of an overt groomer's messages sent at night: mean 25%"
    )
    sextortion_night_share_beta: tuple[float, float] = _assumption(
        (3.0, 7.0), "Beta(a, b)", "share of a sextortion account's messages sent at night: mean 30%"
    )
    day_start_hour: int = _assumption(7, "hour of day", "daytime messages are sent from this hour to midnight")
    # -- follow graph --
    median_follows: float = _assumption(25.0, "accounts", "median accounts each account follows (log-normal)")
    follow_sigma: float = _assumption(1.0, "log-normal σ", "spread of how many accounts each account follows")
    max_follows: int = _assumption(5000, "accounts", "most accounts one account follows")
    popularity_sigma: float = _assumption(1.3, "log-normal σ", "how unequal popularity (and so followers) is")
    homophily: float = _assumption(0.85, "share of follows", "follows within the follower's group (minor / adult)")
    # -- ordinary messaging --
    median_messages_per_week: float = _assumption(6.0, "messages per week", "median messages an account sends")
    messages_sigma: float = _assumption(1.0, "log-normal σ", "spread of how many messages accounts send")
    image_share: float = _assumption(0.12, "share of messages", "ordinary messages that are images")
    video_share: float = _assumption(0.03, "share of messages", "ordinary messages that are videos")
    # -- planted contacts --
    mentor_minors: tuple[int, int] = _assumption((8, 40), "minors (range)", "minors a mentor messages")
    mentor_followed_share: float = _assumption(0.7, "share of contacts", "minors who follow the mentor they talk to")
    groomer_minors: tuple[int, int] = _assumption((4, 30), "minors (range)", "minors an overt groomer contacts")
    groomer_followed_share: float = _assumption(
        0.15, "share of contacts", "minors contacted by an overt groomer who follow back"
    )
    sextortion_minors: tuple[int, int] = _assumption(
        (10, 60), "minors (range)", "minors a sextortion account contacts in its burst"
    )
    sextortion_followed_share: float = _assumption(
        0.0, "share of contacts", "minors contacted by a sextortion account who follow it"
    )
    ring_size: tuple[int, int] = _assumption((3, 8), "accounts (range)", "members of one image-sharing ring")
    # -- planted messaging --
    mentor_messages_per_minor: tuple[int, int] = _assumption(
        (2, 12), "messages (range)", "messages a mentor (or a groomer behaving like one) sends each minor"
    )
    mentor_image_share: float = _assumption(0.05, "share of messages", "a mentor's messages that are images")
    groomer_messages_per_minor: tuple[int, int] = _assumption(
        (3, 25), "messages (range)", "messages an overt groomer sends each minor"
    )
    groomer_image_share: float = _assumption(0.10, "share of messages", "an overt groomer's messages that are images")
    sextortion_messages_per_minor: tuple[int, int] = _assumption(
        (2, 6), "messages (range)", "messages a sextortion account sends each minor"
    )
    sextortion_image_share: float = _assumption(
        0.45, "share of messages", "a sextortion account's messages that are images"
    )
    sextortion_burst_days: int = _assumption(3, "days", "how long a sextortion account's burst lasts")
    sharer_messages_per_peer: tuple[int, int] = _assumption(
        (1, 6), "messages (range)", "messages a ring member sends each other member"
    )
    sharer_image_share: float = _assumption(
        0.90, "share of messages", "a ring member's messages that are (known abuse) images"
    )
    # -- message sizes, per kind (text, image, video) --
    size_median_bytes: tuple[int, int, int] = _assumption(
        (90, 180_000, 3_000_000), "bytes per kind", "median size of a text, an image, a video (log-normal)"
    )
    size_sigma: tuple[float, float, float] = _assumption(
        (0.8, 0.6, 0.8), "log-normal σ per kind", "spread of message sizes"
    )
    size_min_bytes: tuple[int, int, int] = _assumption((20, 5_000, 100_000), "bytes per kind", "smallest message")
    size_max_bytes: tuple[int, int, int] = _assumption(
        (4_000, 5_000_000, 100_000_000), "bytes per kind", "largest message"
    )

    def __post_init__(self) -> None:
        if self.accounts < 1000:
            raise ValueError("a platform needs at least 1,000 accounts (planted roles are rare).")
        if self.weeks < 1:
            raise ValueError("simulate at least one week.")
        if self.account_age_median_days < 1 or self.account_age_sigma < 0:
            raise ValueError("account ages need a median of at least 1 day and a spread ≥ 0.")
        if len(self.age_shares) != len(AGE_BANDS) or abs(sum(self.age_shares) - 1) > 1e-9:
            raise ValueError(f"age_shares needs {len(AGE_BANDS)} shares that add up to 1.")
        for name in _SHARES:
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} is a share between 0 and 1.")
        if self.image_share + self.video_share > 1:
            raise ValueError("image_share and video_share add up to more than 1.")
        for name, least in _RANGES.items():
            low, high = getattr(self, name)
            if not least <= low <= high:
                raise ValueError(f"{name} is a range (low, high) with {least} ≤ low ≤ high.")
        for name, least in _AT_LEAST.items():
            if getattr(self, name) < least:
                raise ValueError(f"{name} must be at least {least}.")
        for name in ("night_share_beta", "groomer_night_share_beta", "sextortion_night_share_beta"):
            if len(getattr(self, name)) != 2 or min(getattr(self, name)) <= 0:
                raise ValueError(f"{name} is a pair (a, b) of Beta parameters, both above 0.")
        if not _NIGHT_END_HOUR <= self.day_start_hour <= 23:
            raise ValueError(f"day_start_hour is an hour from {_NIGHT_END_HOUR} (night ends) to 23.")
        for name in ("size_median_bytes", "size_sigma", "size_min_bytes", "size_max_bytes"):
            if len(getattr(self, name)) != len(KINDS):
                raise ValueError(f"{name} needs one value per kind {KINDS}.")
        if min(self.size_sigma) < 0 or not all(
            0 < low <= median <= high
            for low, median, high in zip(self.size_min_bytes, self.size_median_bytes, self.size_max_bytes, strict=True)
        ):
            raise ValueError("message sizes need 0 < size_min_bytes ≤ size_median_bytes ≤ size_max_bytes, σ ≥ 0.")

    def assumptions(self) -> pd.DataFrame:
        """Every field as a row: its name, its value here, its unit and what it assumes.

        >>> table = PlatformConfig(groomer_rate=0.002).assumptions()
        >>> list(table.columns)
        ['name', 'value', 'unit', 'what it assumes']
        >>> table.set_index("name").loc["groomer_rate", ["value", "unit"]].tolist()
        [0.002, 'share of accounts']
        >>> len(table) == len(fields(PlatformConfig))
        True
        """
        return pd.DataFrame(
            [(f.name, getattr(self, f.name), f.metadata["unit"], f.metadata["assumes"]) for f in fields(self)],
            columns=["name", "value", "unit", "what it assumes"],
        )


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

    ``follows`` is sorted by follower, then followee, without repeats (as
    :func:`simulate` makes it): :meth:`follows_pair` relies on that order.
    """

    config: PlatformConfig
    accounts: pd.DataFrame
    follows: pd.DataFrame
    events: pd.DataFrame
    roles: pd.Series
    event_harm: pd.Series

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
        """Vectorised: does ``follower[i]`` follow ``followee[i]``?

        Each pair as one int64 key (:func:`_pair_keys`), looked up among the edges' keys,
        which are sorted because ``follows`` is.  The queries are sorted first, a block at
        a time, so the binary searches walk the edges in order (about twice as fast as
        searching each follower's edges in place).  Exact, so the same answers as any
        other membership test; the edges' keys live only during the call (8 bytes an edge).
        """
        found = np.zeros(len(follower), bool)
        if not len(follower) or not len(self.follows):
            return found
        n = self.config.accounts
        edges = _pair_keys(self.follows["follower"].to_numpy(), self.follows["followee"].to_numpy(), n)
        last = len(edges) - 1
        block = _PAIR_BLOCK
        for start in range(0, len(follower), block):
            wanted = _pair_keys(follower[start : start + block], followee[start : start + block], n)
            order = _stable_argsort(wanted)  # any order of equal keys would do: an answer depends on its key
            wanted = wanted[order]
            at = _search_sorted(edges, wanted)
            np.minimum(at, last, out=at)
            found[start : start + block][order] = edges[at] == wanted
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


#: Pairs :meth:`Platform.follows_pair` sorts and looks up at a time: bounded temporaries
#: (2 MiB each), however many pairs are asked about; the answers do not depend on it.
_PAIR_BLOCK = 1 << 18


def _search_sorted(haystack: np.ndarray, needles: np.ndarray, piece: int = 1024) -> np.ndarray:
    """``np.searchsorted(haystack, needles)`` for sorted ``needles``, ``piece`` needles at a
    time, each piece searched only in the stretch of ``haystack`` between where its first
    needle and the next piece's first needle go.  The same positions (they only grow along
    sorted needles), but each search stays in a stretch small enough for the cache: on
    millions of edges numpy's search of sorted needles still starts from the far end.

    >>> _search_sorted(np.array([1, 3, 3, 7]), np.array([0, 3, 4, 9]), piece=2)
    array([0, 1, 3, 4])
    """
    firsts = np.searchsorted(haystack, needles[::piece])
    ends = np.append(firsts[1:], len(haystack))[: len(firsts)]  # no pieces, no ends
    at = np.empty(len(needles), np.intp)
    for i, (low, high) in enumerate(zip(firsts.tolist(), ends.tolist(), strict=True)):
        part = slice(i * piece, (i + 1) * piece)
        at[part] = np.searchsorted(haystack[low:high], needles[part])
        at[part] += low
    return at


# ---- the simulator -------------------------------------------------------------------------
#: Ground-truth harm of a message by code: none, then each abusive role's harm.
_HARM_LABELS = ("", HARMS["groomer"], HARMS["sextortion"], HARMS["sharer"])


class _Accounts(NamedTuple):
    """Per-account arrays the simulator draws first."""

    band: np.ndarray  # index into AGE_BANDS
    is_minor: np.ndarray  # bool
    account_age: np.ndarray  # days (int64)


class _Cast(NamedTuple):
    """The planted roles: a role code per account and who plays each role."""

    roles: np.ndarray  # int8 index into ROLES, per account
    mentors: np.ndarray
    mimics: np.ndarray  # groomers who behave like mentors
    groomers: np.ndarray  # the overt groomers
    sextortion: np.ndarray


class _Profile(NamedTuple):
    """How a planted group messages each of its contacts."""

    messages_per_pair: tuple[int, int]  # range, both ends included
    image_share: float  # the rest is text
    harm: int  # index into _HARM_LABELS
    burst_days: int | None = None  # all within a burst this long, or spread over all weeks


class _Contacts(NamedTuple):
    """Who a planted group messages (one entry per sender-recipient pair), and how."""

    senders: np.ndarray
    recipients: np.ndarray
    follows_back: np.ndarray  # does the recipient follow the sender?
    profile: _Profile


class _Messages(NamedTuple):
    """Message events, one entry per message, unsorted."""

    sender: np.ndarray
    recipient: np.ndarray
    kind: np.ndarray  # index into KINDS
    time_s: np.ndarray
    harm: np.ndarray  # index into _HARM_LABELS


class _Events(NamedTuple):
    """All message events in time order, with sizes; ``harm`` is ground truth."""

    sender: np.ndarray
    recipient: np.ndarray
    time_s: np.ndarray
    size_bytes: np.ndarray
    kind: np.ndarray
    harm: np.ndarray


# ---- the same numbers on every machine -------------------------------------------------------
# _STABLE: numpy picks its sorting and maths code by CPU (AVX2, AVX-512, ...).  The results may
# differ only where the answer is not unique, so the simulator never depends on those choices:
# every ``argsort`` whose ties matter is ``kind="stable"`` (quicksort orders equal keys by the
# vector code in use, which once moved messages between accounts) or :func:`_stable_argsort`
# (the same order, from a sort of distinct values, which has only one), and the transcendental
# functions applied to arrays go through :func:`_exactly`, which evaluates them once per distinct
# value with Python's ``math`` (the C library) instead of numpy's vector code.
# tests/test_reproducibility.py checks the platform bit for bit at every CPU level numpy offers.
def _exactly(function: Callable[[float], float], values: np.ndarray) -> np.ndarray:
    """``function`` of every element, by Python's ``math``, evaluated once per distinct value.

    >>> _exactly(math.log1p, np.array([0, 1, 0]))
    array([0.        , 0.69314718, 0.        ])
    """
    distinct, where = np.unique(np.asarray(values, dtype=np.float64), return_inverse=True)
    return np.array([function(float(v)) for v in distinct], dtype=np.float64)[where.reshape(np.shape(values))]


def _lognormal_counts(rng: np.random.Generator, n: int, median: float, sigma: float, cap: int) -> np.ndarray:
    return np.minimum(np.floor(rng.lognormal(math.log(median), sigma, n)), cap).astype(np.int64)


#: Elements per block where a function works through millions of messages a block at a
#: time, to bound its temporaries (about 8 MiB each); the values do not depend on it.
_BLOCK = 1_000_000


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting (faster than hashing for millions of int64 keys).

    Sorts ``values`` itself, in place, to spare a copy: pass a temporary array.

    >>> _sorted_unique(np.array([3, 1, 3, 2]))
    array([1, 2, 3])
    """
    values.sort()
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if len(values) else values


def _pair_keys(first: np.ndarray, second: np.ndarray, n: int) -> np.ndarray:
    """``first * n + second`` in int64, built in one new array (no int64 temporaries).

    >>> _pair_keys(np.array([1, 2], np.int32), np.array([3, 0], np.int32), 10)
    array([13, 20])
    """
    keys = first.astype(np.int64)
    keys *= n
    keys += second
    return keys


def _split_keys(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(keys // n, keys % n)`` as int32 (the values are account numbers), a block at a
    time: no whole-length int64 temporaries.

    >>> _split_keys(np.array([13, 20]), 10)
    (array([1, 2], dtype=int32), array([3, 0], dtype=int32))
    """
    first, second = np.empty(len(keys), np.int32), np.empty(len(keys), np.int32)
    for start in range(0, len(keys), _BLOCK):
        first[start : start + _BLOCK], second[start : start + _BLOCK] = np.divmod(keys[start : start + _BLOCK], n)
    return first, second


def _stable_argsort(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` for non-negative integer ``keys``, several times
    faster on millions of keys and in less memory: each key is packed with its position
    into one int64 (the key in the high bits), and those are sorted in place.  The packed
    values are all different, so any sort puts them in the one same order, on every
    machine (_STABLE), and equal keys keep their positions' order, as a stable sort
    does.  Keys too large to pack are sorted by ``np.argsort(kind="stable")`` itself.

    >>> _stable_argsort(np.array([70_000, 3, 70_000, 1, 3]))
    array([3, 1, 4, 0, 2])
    """
    if keys.dtype.kind not in "iu":  # a float key would be truncated by the packing below
        raise TypeError(f"_stable_argsort sorts integer keys only, not {keys.dtype}.")
    if len(keys) and keys.min() < 0:
        raise ValueError("_stable_argsort sorts non-negative keys only.")
    position_bits = max(len(keys) - 1, 0).bit_length()
    if not len(keys) or int(keys.max()).bit_length() + position_bits > 63:
        return np.argsort(keys, kind="stable")
    packed = keys.astype(np.int64)
    packed <<= position_bits
    for start in range(0, len(packed), _BLOCK):  # positions a block at a time: no second int64 array
        packed[start : start + _BLOCK] |= np.arange(start, min(start + _BLOCK, len(packed)))
    packed.sort()
    packed &= (1 << position_bits) - 1
    return packed


def _weighted_pick(rng: np.random.Generator, pool: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """``size`` draws from ``pool`` with probability proportional to ``weights`` (vectorised)."""
    if size == 0 or len(pool) == 0:
        return np.empty(0, np.int64)
    cumulative = np.cumsum(weights[pool])
    targets = rng.random(size)
    targets *= cumulative[-1]
    # Searching the targets in (nearly) sorted order is much faster (cache); the answers do not
    # depend on the order.  Ordered by their top 32 bits (sign, exponent and 20 bits of mantissa:
    # non-negative doubles order as their bits do), packed with positions by _stable_argsort.
    order = _stable_argsort(targets.view(np.int64) >> 32)
    at = np.empty(size, np.int32)
    for start in range(0, size, _BLOCK):  # the targets gathered a block at a time: a lower peak
        part = order[start : start + _BLOCK]
        at[part] = np.searchsorted(cumulative, targets[part], side="right")
    return pool[np.minimum(at, len(pool) - 1)]


def _hours(
    rng: np.random.Generator,
    n: int,
    night_share: float | np.ndarray,
    day_start_hour: int,
    who: np.ndarray | None = None,
) -> np.ndarray:
    """Hour of day: a share ``night_share`` (per message, or one for all; or, given
    ``who``, per account, message ``i`` at ``night_share[who[i]]``) between 00:00 and
    05:59, the rest between ``day_start_hour`` and midnight."""
    draw = rng.random(n, dtype=np.float32)
    if who is None:
        night = draw < night_share
    else:  # a block at a time: a float64 share per message would take 8 bytes each
        share = np.asarray(night_share)
        night = np.empty(n, bool)
        for start in range(0, n, _BLOCK):
            night[start : start + _BLOCK] = draw[start : start + _BLOCK] < share[who[start : start + _BLOCK]]
    del draw
    night_hour = rng.integers(0, _NIGHT_END_HOUR, n, dtype=np.int32)
    hour = rng.integers(day_start_hour, 24, n, dtype=np.int32)
    np.copyto(hour, night_hour, where=night)  # np.where(night, night_hour, day hour), in place
    return hour


def _times(
    rng: np.random.Generator,
    n: int,
    config: PlatformConfig,
    night_share: float | np.ndarray,
    start_day: np.ndarray | None = None,
    span_days: int | None = None,
    who: np.ndarray | None = None,
) -> np.ndarray:
    """Seconds since the start of the simulated weeks: a random day (or a day within
    ``span_days`` of ``start_day``), an hour from :func:`_hours` (``night_share`` and
    ``who`` as there), a random second."""
    days = config.weeks * 7
    if start_day is None:
        day = rng.integers(0, days, n, dtype=np.int32)
    else:
        day = np.minimum(start_day + rng.integers(0, span_days or 1, n, dtype=np.int32), days - 1).astype(np.int32)
    hour = _hours(rng, n, night_share, config.day_start_hour, who)
    # day * 86400 + hour * 3600 + a second, in int32 as before, computed in place
    seconds: np.ndarray = day
    seconds *= 86400
    hour *= 3600
    seconds += hour
    del hour
    seconds += rng.integers(0, 3600, n, dtype=np.int32)
    return seconds


def _with_new_accounts(
    account_age: np.ndarray, is_minor: np.ndarray, roles: np.ndarray, config: PlatformConfig, share: float
) -> np.ndarray:
    """``account_age`` with a ``share`` of innocent adults (mentors included) moved onto
    new profiles (under ``config.new_profile_days`` old), drawn from their own random
    stream (``[config.seed, 1]``)."""
    if share <= 0:
        return account_age
    age_rng = np.random.default_rng([config.seed, 1])
    innocent_adults = np.flatnonzero(~is_minor & np.isin(roles, (0, ROLES.index("mentor"))))
    new = innocent_adults[age_rng.random(len(innocent_adults)) < share]
    out = account_age.copy()
    out[new] = age_rng.integers(1, config.new_profile_days, len(new))
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
    ages = _with_new_accounts(ages, platform.accounts["is_minor"].to_numpy(bool), roles, platform.config, share)
    return pd.Series(ages, index=platform.accounts.index, name="account_age_days")


def _draw_accounts(rng: np.random.Generator, config: PlatformConfig) -> _Accounts:
    """Accounts: an age band each, and an account age (log-normal, capped; a minor's
    account capped lower, since its owner joined at 13 at the earliest)."""
    n = config.accounts
    band = rng.choice(len(AGE_BANDS), size=n, p=np.asarray(config.age_shares))
    is_minor = band < len(MINOR_BANDS)
    account_age = np.round(rng.lognormal(math.log(config.account_age_median_days), config.account_age_sigma, n))
    account_age = np.clip(account_age, 1, config.account_age_max_days).astype(np.int64)
    low, high = config.minor_account_age_days
    account_age = np.where(is_minor, np.minimum(account_age, rng.integers(low, high + 1, n)), account_age)
    return _Accounts(band, is_minor, account_age)


def _plant_roles(rng: np.random.Generator, config: PlatformConfig, is_minor: np.ndarray) -> _Cast:
    """Planted roles among adults, in numbers set by the rates; a share of groomers
    become mimics (behave like mentors)."""
    n = config.accounts
    roles = np.zeros(n, np.int8)
    planted = rng.permutation(np.flatnonzero(~is_minor).astype(np.int32))
    start = 0
    for code, rate in enumerate(
        (config.mentor_rate, config.groomer_rate, config.sextortion_rate, config.sharer_rate), 1
    ):
        count = max(1, round(rate * n)) if rate > 0 else 0
        roles[planted[start : start + count]] = code
        start += count
    groomers = np.flatnonzero(roles == ROLES.index("groomer"))
    mimic = rng.random(len(groomers)) < config.groomer_mimic_share
    return _Cast(
        roles=roles,
        mentors=np.flatnonzero(roles == ROLES.index("mentor")),
        mimics=groomers[mimic],
        groomers=groomers[~mimic],
        sextortion=np.flatnonzero(roles == ROLES.index("sextortion")),
    )


def _planted_account_ages(
    rng: np.random.Generator, config: PlatformConfig, accounts: _Accounts, cast: _Cast
) -> np.ndarray:
    """Account ages once planted roles are placed: a share of overt groomers and every
    sextortion account on a new profile; then the extra new innocent accounts."""
    account_age = accounts.account_age.copy()
    groomers = cast.groomers
    new_profile = groomers[rng.random(len(groomers)) < config.groomer_new_profile_share]
    account_age[new_profile] = rng.integers(1, config.new_profile_days, len(new_profile))
    account_age[cast.sextortion] = rng.integers(1, config.sextortion_profile_days, len(cast.sextortion))
    return _with_new_accounts(account_age, accounts.is_minor, cast.roles, config, config.new_account_share)


def _night_propensity(rng: np.random.Generator, config: PlatformConfig, cast: _Cast) -> np.ndarray:
    """How much of each account's messaging happens at night (00:00-05:59): most people
    little, some night owls a lot; overt groomers and sextortion accounts more on
    average, so the signal overlaps."""
    night_propensity = rng.beta(*config.night_share_beta, config.accounts)
    night_propensity[cast.groomers] = rng.beta(*config.groomer_night_share_beta, len(cast.groomers))
    night_propensity[cast.sextortion] = rng.beta(*config.sextortion_night_share_beta, len(cast.sextortion))
    return night_propensity


def _follow_graph(
    rng: np.random.Generator, config: PlatformConfig, is_minor: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Follow edges ``(follower, followee)``: heavy-tailed out-degree,
    popularity-weighted targets, mostly within the follower's group (homophily).
    May hold self and duplicate edges (see :func:`_with_planted_follows`)."""
    n = config.accounts
    out_degree = _lognormal_counts(rng, n, config.median_follows, config.follow_sigma, cap=config.max_follows)
    popularity = rng.lognormal(0.0, config.popularity_sigma, n)
    follower = np.repeat(np.arange(n, dtype=np.int32), out_degree)
    same_group = rng.random(len(follower), dtype=np.float32) < config.homophily
    followee = np.empty(len(follower), np.int32)
    minors = np.flatnonzero(is_minor).astype(np.int32)
    adults = np.flatnonzero(~is_minor).astype(np.int32)
    for group_is_minor, pool in ((True, minors), (False, adults)):
        mask = same_group & (is_minor[follower] == group_is_minor)
        followee[mask] = _weighted_pick(rng, pool, popularity, int(mask.sum()))
    everyone = np.arange(n, dtype=np.int32)
    followee[~same_group] = _weighted_pick(rng, everyone, popularity, int((~same_group).sum()))
    return follower, followee


def _contacts_with_minors(
    rng: np.random.Generator,
    accounts: np.ndarray,
    minors: np.ndarray,
    bounds: tuple[int, int],
    followed_share: float,
    profile: _Profile,
) -> _Contacts:
    """Each of ``accounts`` messages a number of random minors within ``bounds``
    (both included); a share ``followed_share`` of those minors follow it."""
    sizes = rng.integers(bounds[0], bounds[1] + 1, len(accounts))
    senders = np.repeat(accounts, sizes)
    recipients = minors[rng.integers(0, len(minors), len(senders))]
    follows_back = rng.random(len(senders)) < followed_share
    return _Contacts(senders, recipients, follows_back, profile)


def _sharing_rings(rng: np.random.Generator, config: PlatformConfig, roles: np.ndarray) -> _Contacts | None:
    """Sharers in small rings, each member messaging every other (all follow each
    other); ``None`` if there are no sharers."""
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
    if not ring_senders:
        return None
    s, r = np.concatenate(ring_senders), np.concatenate(ring_recipients)
    profile = _Profile(config.sharer_messages_per_peer, config.sharer_image_share, _HARM_LABELS.index(HARMS["sharer"]))
    return _Contacts(s, r, np.ones(len(s), bool), profile)


def _planted_contacts(
    rng: np.random.Generator, config: PlatformConfig, cast: _Cast, is_minor: np.ndarray
) -> list[_Contacts]:
    """Who each planted account messages, and how: mentors; groomers who behave like
    mentors (the harm is still grooming); overt groomers; sextortion bursts; then
    the sharing rings."""
    minors = np.flatnonzero(is_minor).astype(np.int32)
    mentor = _Profile(config.mentor_messages_per_minor, config.mentor_image_share, harm=0)
    mimic = mentor._replace(harm=_HARM_LABELS.index(HARMS["groomer"]))
    groomer = _Profile(config.groomer_messages_per_minor, config.groomer_image_share, mimic.harm)
    sextortion = _Profile(
        config.sextortion_messages_per_minor,
        config.sextortion_image_share,
        _HARM_LABELS.index(HARMS["sextortion"]),
        burst_days=config.sextortion_burst_days,
    )
    contacts = [  # drawn in this order
        _contacts_with_minors(rng, cast.mentors, minors, config.mentor_minors, config.mentor_followed_share, mentor),
        _contacts_with_minors(rng, cast.mimics, minors, config.mentor_minors, config.mentor_followed_share, mimic),
        _contacts_with_minors(
            rng, cast.groomers, minors, config.groomer_minors, config.groomer_followed_share, groomer
        ),
        _contacts_with_minors(
            rng, cast.sextortion, minors, config.sextortion_minors, config.sextortion_followed_share, sextortion
        ),
    ]
    rings = _sharing_rings(rng, config, cast.roles)
    return contacts if rings is None else [*contacts, rings]


def _with_planted_follows(
    follower: np.ndarray, followee: np.ndarray, contacts: list[_Contacts], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The follow graph plus every planted recipient who follows its sender, without
    self or duplicate edges, sorted by follower, then followee: ``(follower, followee)``."""
    # int32 throughout (account numbers fit): joined in int64, the edges took twice the memory
    extra_follower = np.concatenate([c.recipients[c.follows_back] for c in contacts] + [np.empty(0, np.int32)])
    extra_followee = np.concatenate([c.senders[c.follows_back] for c in contacts] + [np.empty(0, np.int32)])
    follower = np.concatenate([follower, extra_follower], dtype=np.int32, casting="same_kind")
    followee = np.concatenate([followee, extra_followee], dtype=np.int32, casting="same_kind")
    keep = follower != followee
    return _split_keys(_sorted_unique(_pair_keys(follower[keep], followee[keep], n)), n)


def _ordinary_messages(
    rng: np.random.Generator,
    config: PlatformConfig,
    roles: np.ndarray,
    follower: np.ndarray,
    followee: np.ndarray,
    night_propensity: np.ndarray,
) -> _Messages:
    """Ordinary messaging along follow edges, either direction: a log-normal rate per
    account, a neighbour per message, a kind, a time.  Sextortion accounts only do
    their burst; accounts without a follow edge send nothing."""
    n = config.accounts
    message_rate = rng.lognormal(math.log(config.median_messages_per_week), config.messages_sigma, n)
    per_account = rng.poisson(message_rate * config.weeks)
    per_account[roles == ROLES.index("sextortion")] = 0
    degree_out = np.bincount(follower, minlength=n).astype(np.int32)
    degree_in = np.bincount(followee, minlength=n).astype(np.int32)
    per_account[(degree_out + degree_in) == 0] = 0
    senders = np.repeat(np.arange(n, dtype=np.int32), per_account)
    # Choose a neighbour: an account the sender follows, or one that follows the sender.
    out_start = np.concatenate([[0], np.cumsum(degree_out)]).astype(np.int32)
    # Each account's followers, grouped by followee in a stable order (see _STABLE), as one
    # int32 array: a message then reads its recipient with one look-up, not two.
    in_neighbours = follower[_stable_argsort(followee)]
    in_start = np.concatenate([[0], np.cumsum(degree_in)]).astype(np.int32)
    degree = degree_out + degree_in
    # The two draws whole, in the stream's order; the arithmetic a block at a time.
    use_draw = rng.random(len(senders), dtype=np.float32)
    pick_draw = rng.random(len(senders), dtype=np.float32)
    recipients = np.empty(len(senders), np.int32)
    for start in range(0, len(senders), _BLOCK):
        block = slice(start, start + _BLOCK)
        who = senders[block]
        d_out = degree_out[who]
        use_out = use_draw[block] * degree[who] < d_out
        pick = (pick_draw[block] * np.where(use_out, d_out, degree_in[who])).astype(np.int32)
        pick += np.where(use_out, out_start[who], in_start[who])
        pick = np.minimum(pick, len(followee) - 1)
        recipients[block] = np.where(use_out, followee[pick], in_neighbours[pick])
    del use_draw, pick_draw, in_neighbours
    draw = rng.random(len(senders), dtype=np.float32)
    text_share = 1 - config.image_share - config.video_share
    kind = (draw >= text_share).astype(np.int8) + (draw >= text_share + config.image_share)
    del draw
    time_s = _times(rng, len(senders), config, night_share=night_propensity, who=senders)
    return _Messages(senders, recipients, kind, time_s, np.zeros(len(senders), np.int8))


def _planted_messages(
    rng: np.random.Generator, config: PlatformConfig, contacts: _Contacts, night_propensity: np.ndarray
) -> _Messages:
    """Several messages per planted pair, text or image, at the sender's usual night
    share; a burst profile's messages fall within its burst."""
    profile = contacts.profile
    low, high = profile.messages_per_pair
    repeats = rng.integers(low, high + 1, len(contacts.senders))
    sender, recipient = np.repeat(contacts.senders, repeats), np.repeat(contacts.recipients, repeats)
    night = night_propensity[sender]
    if profile.burst_days is None:
        time_s = _times(rng, len(sender), config, night)
    else:
        start_day = rng.integers(0, max(config.weeks * 7 - profile.burst_days, 1), len(contacts.senders))
        start_day = np.repeat(start_day, repeats)
        time_s = _times(rng, len(sender), config, night, start_day=start_day, span_days=profile.burst_days)
    kind = np.where(rng.random(len(sender)) < profile.image_share, 1, 0)
    return _Messages(sender, recipient, kind, time_s, np.full(len(sender), profile.harm, np.int8))


def _message_sizes(rng: np.random.Generator, config: PlatformConfig, kind: np.ndarray) -> np.ndarray:
    """Sizes in bytes: log-normal per kind, clipped to the kind's smallest and largest."""
    size_median = np.array([math.log(m) for m in config.size_median_bytes])
    size_spread = np.array(config.size_sigma)
    size_low, size_high = np.array(config.size_min_bytes), np.array(config.size_max_bytes)
    normal = rng.standard_normal(len(kind), dtype=np.float32)  # one draw for all, as the stream had it
    clipped = np.empty(len(kind), np.int32)
    block = 250_000  # a block at a time: a list of every message's exponent took ~130 MiB
    for start in range(0, len(kind), block):
        part = kind[start : start + block]
        exponent = size_median[part] + size_spread[part] * normal[start : start + block]
        # exp by the C library, not numpy's vector code (_STABLE); the int32 cast then floors
        size = np.fromiter(map(math.exp, exponent.tolist()), np.float64, len(exponent))
        clipped[start : start + block] = np.clip(size, size_low[part], size_high[part]).astype(np.int32)
    return clipped


def _events(rng: np.random.Generator, config: PlatformConfig, parts: list[_Messages]) -> _Events:
    """All messages in time order, with sizes.  Empties ``parts`` to free memory."""
    # One column at a time, its parts freed once joined, each joined straight into its
    # final type (the values fit) rather than via an int64 copy: a lower peak, same values.
    columns = {name: [getattr(p, name) for p in parts] for name in _Messages._fields}
    parts.clear()
    sender = np.concatenate(columns.pop("sender"), dtype=np.int32, casting="same_kind")
    recipient = np.concatenate(columns.pop("recipient"), dtype=np.int32, casting="same_kind")
    kind = np.concatenate(columns.pop("kind"), dtype=np.int8, casting="same_kind")
    time_s = np.concatenate(columns.pop("time_s"), dtype=np.int32, casting="same_kind")
    harm = np.concatenate(columns.pop("harm"), dtype=np.int8, casting="same_kind")
    # A ring's text messages are not the harm; its images are.
    harm[(harm == _HARM_LABELS.index(HARMS["sharer"])) & (kind != KINDS.index("image"))] = 0
    size = _message_sizes(rng, config, kind)
    order = _stable_argsort(time_s)  # stable: see _STABLE
    sender = sender[order]  # one column at a time, so only one old copy is alive
    recipient = recipient[order]
    kind = kind[order]
    time_s = time_s[order]
    size = size[order]
    harm = harm[order]
    return _Events(sender, recipient, time_s, size, kind, harm)


def _platform(
    config: PlatformConfig,
    accounts: _Accounts,
    account_age: np.ndarray,
    roles: np.ndarray,
    follows: tuple[np.ndarray, np.ndarray],
    events: _Events,
) -> Platform:
    """The simulated arrays as a :class:`Platform`: metadata tables, and the ground
    truth kept apart."""
    follower, followee = follows
    platform = Platform(
        config=config,
        accounts=pd.DataFrame(
            {
                "age_band": pd.Categorical.from_codes(accounts.band, pd.Index(AGE_BANDS)),
                "is_minor": accounts.is_minor,
                "account_age_days": account_age,
            }
        ).rename_axis("account"),
        follows=pd.DataFrame(
            {"follower": follower.astype(np.int32, copy=False), "followee": followee.astype(np.int32, copy=False)},
            copy=False,
        ),
        events=pd.DataFrame(),
        roles=pd.Series(pd.Categorical.from_codes(roles, pd.Index(ROLES)), name="role").rename_axis("account"),
        event_harm=pd.Series(),
    )
    # copy=False: the tables take the simulated arrays as they are (already of their final
    # types) instead of a second copy of every column, which raised the peak by ~100 MiB.
    platform.events = pd.DataFrame(
        {
            "sender": events.sender.astype(np.int32, copy=False),
            "recipient": events.recipient.astype(np.int32, copy=False),
            "time_s": events.time_s,
            "size_bytes": events.size_bytes,
            "kind": pd.Categorical.from_codes(events.kind, pd.Index(KINDS)),
            "recipient_follows_sender": platform.follows_pair(events.recipient, events.sender),
        },
        copy=False,
    )
    platform.event_harm = pd.Series(pd.Categorical.from_codes(events.harm, pd.Index(_HARM_LABELS)), name="harm")
    return platform


@_returns_freed_memory
def simulate(config: PlatformConfig | None = None, **overrides: object) -> Platform:
    """Simulate a platform.  ``simulate(accounts=10_000, seed=3)`` overrides single
    assumptions of the default :class:`PlatformConfig`.

    The steps below draw from one random stream, in this order; the same
    config gives the same platform."""
    config = replace(config or PlatformConfig(), **overrides)  # type: ignore[arg-type]
    rng = np.random.default_rng(config.seed)
    accounts = _draw_accounts(rng, config)
    cast = _plant_roles(rng, config, accounts.is_minor)
    account_age = _planted_account_ages(rng, config, accounts, cast)
    night_propensity = _night_propensity(rng, config, cast)
    follower, followee = _follow_graph(rng, config, accounts.is_minor)
    contacts = _planted_contacts(rng, config, cast, accounts.is_minor)
    follows = _with_planted_follows(follower, followee, contacts, config.accounts)
    del follower, followee
    messages = [_ordinary_messages(rng, config, cast.roles, follows[0], follows[1], night_propensity)]
    messages += [_planted_messages(rng, config, c, night_propensity) for c in contacts if len(c.senders)]
    events = _events(rng, config, messages)
    return _platform(config, accounts, account_age, cast.roles, follows, events)


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


@_returns_freed_memory
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
    # The distinct pairs first, while no per-message mask is alive, then one mask at a time,
    # each let go once counted: the peak is the pairs' int64 keys, not those plus three masks.
    pair_sender, pair_recipient = _split_keys(_sorted_unique(_pair_keys(sender, recipient, n)), n)
    pair_minor = is_minor[pair_recipient]
    pair_follows = platform.follows_pair(pair_recipient, pair_sender)
    recipients = np.bincount(pair_sender, minlength=n)
    minor_recipients = np.bincount(pair_sender[pair_minor], minlength=n)
    minors_not_following = np.bincount(pair_sender[pair_minor & ~pair_follows], minlength=n)
    del pair_sender, pair_recipient, pair_minor, pair_follows
    messages = np.bincount(sender, minlength=n)
    requests = np.bincount(sender[is_minor[recipient] & ~events["recipient_follows_sender"].to_numpy()], minlength=n)
    # (t // 3600) % 24 < 6 is t % 86400 < 6 * 3600 for every integer t: one temporary, not two
    night = np.bincount(sender[events["time_s"].to_numpy() % 86400 < _NIGHT_END_HOUR * 3600], minlength=n)
    media = np.bincount(sender[events["kind"].cat.codes.to_numpy() > 0], minlength=n)
    weeks = platform.config.weeks
    with np.errstate(invalid="ignore", divide="ignore"):
        features = pd.DataFrame(
            {
                "is_adult": (~is_minor).astype(np.int8),
                "account_age_days": accounts["account_age_days"].to_numpy(),
                "messages": messages,
                "recipients": recipients,
                "minor_recipients": minor_recipients,
                "minors_not_following": minors_not_following,
                "requests_to_minors_per_week": requests / weeks,
                "night_share": np.nan_to_num(night / messages),
                "image_share": np.nan_to_num(media / messages),
            }
        )
    return features.rename_axis("account")


# ---- rules from Meta's statements -------------------------------------------------------------------
Detector = Callable[[pd.DataFrame], pd.Series]


def rule_minors_not_following(features: pd.DataFrame, threshold: int = 5) -> pd.Series:
    """Flag adults who messaged at least ``threshold`` minors who do not follow them.

    After Meta's rule that "adults over the age of 19" were restricted from
    messaging teens who don't follow them (Meta, 25 Jan 2024:
    docs/references.md#meta2024).
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
    message requests to people under 18" (Facebook, May 2020:
    docs/references.md#sullivan2020)."""
    return (features["is_adult"] == 1) & (features["requests_to_minors_per_week"] >= per_week)


#: The three rules, by the name lesson 09 shows.
RULES: dict[str, Detector] = {
    "adult messaging ≥5 minors who don't follow them": rule_minors_not_following,
    "new profile (<30 days) contacting ≥3 minors": rule_new_profile_contacting_minors,
    "≥10 messages a week to minors who don't follow": rule_requests_to_minors,
}


# ---- a learned classifier -------------------------------------------------------------------
def _design(features: pd.DataFrame) -> np.ndarray:
    logs = _exactly(  # not np.log1p, whose vector code differs in the last bit between CPUs (_STABLE)
        math.log1p,
        features[[c for c in FEATURES if c not in ("night_share", "image_share", "is_adult")]].to_numpy(float),
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


#: Decimals of a classifier's score (:func:`classifier_scores`).
SCORE_DECIMALS = 6


def classifier_scores(model: object, features: pd.DataFrame) -> pd.Series:
    """The model's probability that each account is abusive (0-1), to six decimals;
    minors score 0, since the detectors screen adults only.

    Six decimals, because the fit itself differs between machines in the last bits
    (about 1e-14: BLAS and the C library pick their code by CPU); rounding to a
    grid far coarser than that makes every threshold, precision and recall the
    same on every machine (see ``_STABLE``)."""
    scores = np.round(model.predict_proba(_design(features))[:, 1], SCORE_DECIMALS)  # type: ignore[attr-defined]
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
def _uniform_below(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """``rng.random(n) < share``, drawn a block at a time: the same draws from the same
    stream (each float64 takes the generator's next 64 bits), without an ``n``-long
    float64 temporary (31 MiB for lesson 09's 4 million messages).

    >>> bool(np.array_equal(_uniform_below(np.random.default_rng(1), 5, 0.5),
    ...                     np.random.default_rng(1).random(5) < 0.5))
    True
    """
    below = np.empty(n, bool)
    for start in range(0, n, _BLOCK):
        below[start : start + _BLOCK] = rng.random(min(_BLOCK, n - start)) < share
    return below


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
    # The harm's category codes (int8), not its labels: an array of 4 million labels is
    # 31 MiB of pointers.  The same messages either way.
    harm = platform.event_harm.cat.codes.to_numpy()
    code = platform.event_harm.cat.categories.get_loc
    sender = events["sender"].to_numpy()
    recipient = events["recipient"].to_numpy()

    known_image = harm == code(HARMS["sharer"])
    matched = known_image & _uniform_below(rng, len(harm), scan_recall)
    scan_caught = np.bincount(sender[matched], minlength=n) > 0

    victim_harm = (harm == code(HARMS["groomer"])) | (harm == code(HARMS["sextortion"]))
    pairs = _sorted_unique(_pair_keys(sender[victim_harm], recipient[victim_harm], n))
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
