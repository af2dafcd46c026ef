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


# ---- franking in the toy chat ------------------------------------------------------------
from toychat import Client, Server, TamperedMessage  # noqa: E402
from toychat.errors import UnknownRecipient  # noqa: E402


def franking_world(**options: bool) -> tuple[Server, Client, Client]:
    server = Server(mode="e2ee", franking=FrankingService())
    return server, Client("mallory", server, **options), Client("alice", server)


@pytest.mark.parametrize("forward_secrecy", [False, True])
def test_a_received_message_can_be_reported_and_only_it_is_revealed(forward_secrecy: bool) -> None:
    server, mallory, alice = franking_world(forward_secrecy=forward_secrecy)
    mallory.send("alice", "an innocent hello")
    bad = mallory.send("alice", "a threatening message")
    received = alice.receive()
    assert [m.text for m in received] == ["an innocent hello", "a threatening message"]
    assert "threatening" not in "".join(server.log_table()["content_seen"])
    assert alice.report(bad.msg_id) == b"a threatening message"
    [(franked, message)] = server.reports
    assert (franked.sender, franked.recipient, message) == ("mallory", "alice", b"a threatening message")
    with pytest.raises(ReplayedMessage):
        alice.report(bad.msg_id)


def test_only_the_recipient_can_report_and_only_received_messages() -> None:
    server, mallory, alice = franking_world()
    sent = mallory.send("alice", "hi")
    alice.receive()
    with pytest.raises(UnknownRecipient):
        mallory.report(sent.msg_id)  # not in mallory's inbox
    with pytest.raises(UnknownRecipient):
        server.franked_for("mallory", sent.msg_id)


def test_a_message_that_does_not_match_its_commitment_is_refused() -> None:
    import base64

    server, mallory, alice = franking_world()
    envelope = mallory.compose("alice", "hello")
    wrong = dict(envelope.extras, franking=base64.b64encode(bytes(32)).decode())
    forged = dataclasses.replace(envelope, extras=wrong)
    forged = forged.with_signature(mallory.identity.signing_private.sign(forged.signed_bytes()).signature)
    with pytest.raises(TamperedMessage, match="franking commitment"):
        alice.open_envelope(forged)


def test_a_report_with_altered_text_is_rejected_by_the_platform() -> None:
    server, mallory, alice = franking_world()
    sent = mallory.send("alice", "what was really said")
    [message] = alice.receive()
    report = Report(b"something else", message.franking_key, server.franked_for("alice", sent.msg_id))
    with pytest.raises(ForgedReport):
        server.receive_report(report)
    assert server.reports == []


def test_platforms_without_franking_are_unchanged() -> None:
    server = Server(mode="e2ee")
    a, b = Client("a", server), Client("b", server)
    envelope = a.send("b", "x")
    assert "franking" not in envelope.extras and b.receive()[0].franking_key == b""
    with pytest.raises(UnknownRecipient):
        b.report(envelope.msg_id)
