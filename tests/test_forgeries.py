"""Lesson 08's forgery catalogue: the genuine report is accepted, and every forgery
and the replay is rejected for the reason the lesson gives."""

from __future__ import annotations

from toychat.forgeries import forgery_attempts, summary, try_forgeries
from toychat.franking import commit

MESSAGE = b"[SYNTHETIC PLACEHOLDER: an abusive message]"


def test_only_the_genuine_report_is_accepted() -> None:
    nf, commitment = commit(MESSAGE)
    table = try_forgeries(MESSAGE, nf, commitment)
    verdicts = dict(zip(table["attempt"], table["verdict"], strict=True))
    assert verdicts == {
        "the genuine report": "accepted",
        "altered text": "rejected (ForgedReport)",
        "blames another sender": "rejected (ForgedReport)",
        "claims another time": "rejected (ForgedReport)",
        "another message's tag": "rejected (ForgedReport)",
        "wrong franking key": "rejected (ForgedReport)",
        "checked with another platform's key": "rejected (ForgedReport)",
        "the same report again (replay)": "rejected (ReplayedMessage)",
    }
    assert summary(table) == "7 of 7 forged or replayed reports rejected; the genuine one: accepted"


def test_each_forgery_breaks_the_hmac_it_changes() -> None:
    nf, commitment = commit(MESSAGE)
    reasons = dict(zip(*(try_forgeries(MESSAGE, nf, commitment)[c] for c in ("attempt", "reason")), strict=True))
    for changed_text in ("altered text", "wrong franking key"):
        assert "does not match the commitment" in reasons[changed_text]
    for changed_context in ("blames another sender", "claims another time", "another message's tag"):
        assert "platform tag does not match" in reasons[changed_context]
    assert "already been reported" in reasons["the same report again (replay)"]


def test_summary_counts_an_accepted_forgery() -> None:
    nf, commitment = commit(MESSAGE)
    table = try_forgeries(MESSAGE, nf, commitment)
    table.loc[1, "verdict"] = "accepted"
    assert summary(table).startswith("6 of 7 ")


def test_a_report_that_does_not_match_its_commitment_is_never_accepted() -> None:
    nf, _ = commit(MESSAGE)
    _, someone_elses = commit(b"another message")
    table = try_forgeries(MESSAGE, nf, someone_elses)
    assert not table["verdict"].eq("accepted").any()
    assert [a.name for a in forgery_attempts(MESSAGE, nf, someone_elses)] == list(table["attempt"])
