"""Message franking: every forgery is rejected, every genuine report verifies."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toychat.errors import ForgedReport, ReplayedMessage
from toychat.franking import FrankingService, Report, commit, salamander_simulation
from toychat.reporting import report_message, report_with_context, reports_reaching_platform


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
from toychat.errors import UnknownMessage, UnreportableMessage  # noqa: E402


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
    assert report_message(alice, bad.msg_id) == b"a threatening message"
    [(franked, message)] = server.reports
    assert (franked.sender, franked.recipient, message) == ("mallory", "alice", b"a threatening message")
    with pytest.raises(ReplayedMessage):
        report_message(alice, bad.msg_id)


def test_only_the_recipient_can_report_and_only_received_messages() -> None:
    server, mallory, alice = franking_world()
    sent = mallory.send("alice", "hi")
    alice.receive()
    with pytest.raises(UnknownMessage):
        report_message(mallory, sent.msg_id)  # not in mallory's inbox
    with pytest.raises(UnknownMessage):
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
    assert "franking" not in envelope.extras
    assert b.receive()[0].franking_key == b""
    with pytest.raises(UnreportableMessage):
        report_message(b, envelope.msg_id)


# ---- reporting with context (WhatsApp-style, but every message verified) -----------------


def context_world() -> tuple[Server, Client, Client, Client]:
    """Mallory sends alice m0…m6, carol's messages are interleaved, alice writes back."""
    server, mallory, alice = franking_world()
    carol = Client("carol", server)
    for i in range(7):
        mallory.send("alice", f"m{i}")
        if i % 2 == 0:
            carol.send("alice", f"carol {i}")
    alice.send("mallory", "alice's reply")
    alice.receive()
    mallory.receive()
    return server, mallory, alice, carol


def msg(client: Client, text: str) -> str:
    return next(m.msg_id for m in client.inbox if m.text == text)


@pytest.mark.parametrize(
    "last, reported, expected",
    [
        (5, "m6", ["m1", "m2", "m3", "m4", "m5"]),
        (0, "m6", []),
        (2, "m6", ["m4", "m5"]),
        (5, "m2", ["m0", "m1"]),  # only two earlier messages exist: min(last, available)
        (5, "m0", []),
        (100, "m6", ["m0", "m1", "m2", "m3", "m4", "m5"]),
    ],
)
def test_context_reveals_exactly_the_last_messages_from_that_sender(
    last: int, reported: str, expected: list[str]
) -> None:
    server, _, alice, _ = context_world()
    table = report_with_context(alice, msg(alice, reported), last=last)
    assert list(table["text"]) == [*expected, reported]
    assert list(table["role"]) == ["context"] * len(expected) + ["reported message"]
    assert set(table["reported_sender"]) == {"mallory"}
    assert set(table["reporter"]) == {"alice"}
    assert table["sent_at"].is_monotonic_increasing
    learned = " ".join(server.report_table()["text"])
    assert "carol" not in learned
    assert "reply" not in learned  # other senders, other direction: nothing
    assert [(f.sender, m) for f, m in server.reports] == [("mallory", reported.encode())]


def test_report_table_accumulates_and_single_reports_appear_in_it() -> None:
    server, _, alice, _ = context_world()
    assert server.report_table().empty
    assert list(server.report_table().columns)[:3] == [
        "report",
        "reporter",
        "reported_sender",
    ]
    report_message(alice, msg(alice, "m3"))
    report_with_context(alice, msg(alice, "m6"), last=5)  # overlapping context is allowed
    table = server.report_table()
    assert list(table["report"]) == [1] + [2] * 6
    assert list(table.loc[table["role"] == "reported message", "text"]) == ["m3", "m6"]


def test_a_replayed_report_with_context_is_refused() -> None:
    server, _, alice, _ = context_world()
    report_with_context(alice, msg(alice, "m6"))
    before = server.report_table()
    with pytest.raises(ReplayedMessage):
        report_with_context(alice, msg(alice, "m6"))
    with pytest.raises(ReplayedMessage):
        report_message(alice, msg(alice, "m6"))
    assert server.report_table().equals(before)


def reports_for(server: Server, alice: Client, *texts: str) -> list[Report]:
    found = [next(m for m in alice.inbox if m.text == t) for t in texts]
    return [Report(m.data, m.franking_key, server.franked_for("alice", m.msg_id)) for m in found]


@pytest.mark.parametrize(
    "context_texts, forge",
    [
        (("m4", "m5"), lambda r: dataclasses.replace(r, message=b"m5 but worse")),  # altered context text
        (("m4", "m5"), lambda r: dataclasses.replace(r, franking_key=bytes(32))),
        (
            ("m4", "m5"),
            lambda r: dataclasses.replace(r, franked=dataclasses.replace(r.franked, timestamp=r.franked.timestamp - 1)),
        ),
        (("m4", "carol 4"), lambda r: r),  # context from another sender
        (("m4", "m5", "m5"), lambda r: r),  # the same context twice
    ],
    ids=["altered text", "wrong key", "other time", "other sender", "duplicated"],
)
def test_a_bad_context_message_rejects_the_whole_report(context_texts, forge) -> None:
    server, _, alice, _ = context_world()
    main, *context = reports_for(server, alice, "m6", *context_texts)
    context[-1] = forge(context[-1])
    with pytest.raises(ForgedReport, match="context message .*Nothing from this report was kept"):
        server.receive_report_with_context(main, context)
    assert server.reports == []
    assert server.report_table().empty
    server.receive_report_with_context(main, context[:1])  # the refusal did not use up the report


def test_context_sent_after_the_reported_message_is_refused() -> None:
    server, _, alice, _ = context_world()
    main, later = reports_for(server, alice, "m2", "m5")
    with pytest.raises(ForgedReport, match="after the reported message"):
        server.receive_report_with_context(main, [later])


def test_reporting_with_context_names_its_errors() -> None:
    _, mallory, alice, _ = context_world()
    with pytest.raises(UnknownMessage, match="only report messages it received"):
        report_with_context(alice, "0" * 32)
    with pytest.raises(UnknownMessage):
        report_with_context(mallory, msg(alice, "m6"))  # mallory did not receive it
    with pytest.raises(ValueError):
        report_with_context(alice, msg(alice, "m6"), last=-1)
    plain = Server(mode="e2ee")
    a, b = Client("a", plain), Client("b", plain)
    sent = a.send("b", "x")
    b.receive()
    with pytest.raises(UnreportableMessage, match="without message franking"):
        report_with_context(b, sent.msg_id)


# ---- what reporting can reach ------------------------------------------------------------
def test_reports_reaching_platform_is_seeded_monotone_and_unbiased() -> None:
    rates = np.linspace(0, 1, 11)
    one = reports_reaching_platform(20_000, rates, seed=3)
    assert one.equals(reports_reaching_platform(20_000, rates, seed=3))
    assert list(one["reported"]) == sorted(one["reported"])
    assert one["reported"].iloc[[0, -1]].tolist() == [0, 20_000]
    assert np.allclose(one["detected_share"], rates, atol=0.015)
    willing = reports_reaching_platform(20_000, [0.5], seed=3, willing_share=0.4)
    assert willing["expected_share"].iloc[0] == pytest.approx(0.3)
    assert willing["detected_share"].iloc[0] == pytest.approx(0.3, abs=0.015)
    assert np.isnan(reports_reaching_platform(0, 0.5)["detected_share"].iloc[0])


@pytest.mark.parametrize(
    "bad", [{"report_rate": 1.5}, {"report_rate": -0.1}, {"harmful_messages": -1}, {"willing_share": 2.0}]
)
def test_reports_reaching_platform_checks_its_arguments(bad) -> None:
    arguments = {"harmful_messages": 10, "report_rate": 0.5} | bad
    with pytest.raises(ValueError):
        reports_reaching_platform(**arguments)


def test_report_conversation_is_repeatable_and_keeps_to_the_sender() -> None:
    from toychat.reporting import report_conversation

    chat = [("eve", f"e{i}") for i in range(4)] + [("dan", "d0"), ("eve", "e4")]
    table = report_conversation(chat, last=5)
    assert table.equals(report_conversation(chat, last=5))
    assert list(table["text"]) == ["e0", "e1", "e2", "e3", "e4"]
    assert "msg_id" not in table
    assert list(report_conversation(chat, last=2, reported=2)["text"]) == ["e0", "e1", "e2"]
    with pytest.raises(ValueError):
        report_conversation([])
