"""Every way to fake or replay a franked report, each checked by the platform.

Lesson 08 shows this catalogue as a table: one genuine report, six forgeries and
one replay.  Each forgery changes one thing a report binds (the text, the
sender, the time, the commitment, the franking key, the platform's key), so the
table shows which HMAC each one breaks; the replay is genuine and is refused only
because the platform remembers what was already reported.

>>> from toychat.franking import commit
>>> nf, commitment = commit(b"a reported message")
>>> table = try_forgeries(b"a reported message", nf, commitment)
>>> print(summary(table))
7 of 7 forged or replayed reports rejected; the genuine one: accepted
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from .errors import ForgedReport, ReplayedMessage
from .franking import FrankingService, Report, commit

__all__ = ["ALTERED_TEXT", "INNOCENT_TEXT", "Attempt", "forgery_attempts", "summary", "try_forgeries"]

#: What a forger swaps in for the reported text.
ALTERED_TEXT = b"[SYNTHETIC PLACEHOLDER: something worse]"
#: The other message whose commitment a forger borrows.
INNOCENT_TEXT = b"an innocent message"


@dataclass(frozen=True)
class Attempt:
    """One report sent to a platform: a name for the table, the report, who checks it."""

    name: str
    report: Report
    checker: FrankingService


def forgery_attempts(
    message: bytes,
    franking_key: bytes,
    commitment: bytes,
    *,
    sender: str = "stranger",
    recipient: str = "bob",
    timestamp: float = 1_704_704_400.0,
) -> list[Attempt]:
    """The catalogue, in the order the platform sees it: the genuine report of
    ``message`` (franked by a fresh platform), six forgeries of it, then the genuine
    report once more (a replay)."""
    platform = FrankingService()
    franked = platform.tag(commitment, sender, recipient, timestamp)
    report = Report(message, franking_key, franked)
    _, other_commitment = commit(INNOCENT_TEXT)
    an_hour_earlier = dataclasses.replace(franked, timestamp=franked.timestamp - 3600)
    forged = {
        "the genuine report": report,
        "altered text": dataclasses.replace(report, message=ALTERED_TEXT),
        "blames another sender": dataclasses.replace(report, franked=dataclasses.replace(franked, sender="alice")),
        "claims another time": dataclasses.replace(report, franked=an_hour_earlier),
        "another message's tag": Report(
            INNOCENT_TEXT, franking_key, dataclasses.replace(franked, commitment=other_commitment)
        ),
        "wrong franking key": dataclasses.replace(report, franking_key=bytes(32)),
    }
    return [
        *(Attempt(name, attempt, platform) for name, attempt in forged.items()),
        Attempt("checked with another platform's key", report, FrankingService()),
        Attempt("the same report again (replay)", report, platform),
    ]


def _verdict(attempt: Attempt) -> dict[str, str]:
    """One row: whether ``attempt.checker`` accepts the report (once per message), and why not."""
    try:
        attempt.checker.verify(attempt.report, once=True)
        return {"attempt": attempt.name, "verdict": "accepted", "reason": ""}
    except (ForgedReport, ReplayedMessage) as error:
        return {"attempt": attempt.name, "verdict": f"rejected ({type(error).__name__})", "reason": str(error)}


def try_forgeries(message: bytes, franking_key: bytes, commitment: bytes) -> pd.DataFrame:
    """Check every report of :func:`forgery_attempts` in order; one row each:
    ``attempt``, ``verdict`` (``accepted`` or ``rejected (<error>)``) and ``reason``."""
    return pd.DataFrame([_verdict(attempt) for attempt in forgery_attempts(message, franking_key, commitment)])


def summary(table: pd.DataFrame) -> str:
    """One sentence on :func:`try_forgeries`'s table: how many of the reports after the
    first (the genuine one) were rejected, and the genuine one's verdict."""
    rejected = int(table["verdict"].str.startswith("rejected").sum())
    return (
        f"{rejected} of {len(table) - 1} forged or replayed reports rejected; "
        f"the genuine one: {table['verdict'].iloc[0]}"
    )
