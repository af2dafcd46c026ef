"""Message franking: every forgery is rejected, every genuine report verifies."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toychat.errors import ForgedReport, ReplayedMessage
from toychat.franking import FrankingService, Report, commit, salamander_simulation


def genuine(message: bytes = b"you will regret this") -> tuple[FrankingService, Report]:
    service = FrankingService()
    nf, commitment = commit(message)
    return service, Report(message, nf, service.tag(commitment, "mallory", "alice", 1_000.0))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=500))
def test_genuine_reports_always_verify(message: bytes) -> None:
    service, report = genuine(message)
    assert service.verify(report) == message


@pytest.mark.parametrize(
    "forge",
    [
        lambda r: dataclasses.replace(r, message=r.message + b"!"),
        lambda r: dataclasses.replace(r, franking_key=bytes(32)),
        lambda r: dataclasses.replace(r, franked=dataclasses.replace(r.franked, sender="bob")),
        lambda r: dataclasses.replace(r, franked=dataclasses.replace(r.franked, recipient="carol")),
        lambda r: dataclasses.replace(r, franked=dataclasses.replace(r.franked, timestamp=999.0)),
        lambda r: dataclasses.replace(r, franked=dataclasses.replace(r.franked, tag=bytes(32))),
    ],
    ids=["altered text", "wrong franking key", "other sender", "other recipient", "other time", "forged tag"],
)
def test_every_forgery_is_rejected(forge) -> None:
    service, report = genuine()
    with pytest.raises(ForgedReport):
        service.verify(forge(report))


def test_a_tag_from_another_message_cannot_be_reused() -> None:
    service, report = genuine(b"message one")
    nf2, c2 = commit(b"message two")
    replayed_tag = Report(b"message two", nf2, dataclasses.replace(report.franked, commitment=c2))
    with pytest.raises(ForgedReport):
        service.verify(replayed_tag)
    other_platform = FrankingService()
    with pytest.raises(ForgedReport):
        other_platform.verify(report)


def test_reporting_twice_is_a_replay_when_asked() -> None:
    service, report = genuine()
    service.verify(report, once=True)
    with pytest.raises(ReplayedMessage):
        service.verify(report, once=True)


def test_commit_checks_the_key_size() -> None:
    with pytest.raises(ValueError):
        commit(b"x", b"short")


def test_salamander_simulation_shows_the_committing_fix() -> None:
    result = salamander_simulation()
    assert result["recipient decrypts"] != result["moderator decrypts with the other key"]
    assert str(result["franking with an HMAC commitment"]).startswith("rejected")
