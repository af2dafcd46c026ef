"""``POST /api/messages/batch``: a group's message (one envelope per member) in one request.

Every envelope is checked as a single send checks it; the batch is stored in one SQLite
transaction, committed and synced once before the answer, so the relay stores all of it or,
refusing one envelope with its named error, none; quotas count the batch's earlier envelopes,
and the rate limit counts envelopes, not requests.  A relay from before the endpoint gets one
request per envelope.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.relay_load import RelayProcess
from support.relay import CountingRemoteServer
from toychat import Client, Envelope, ReplayedMessage, TamperedMessage
from toychat.errors import MalformedEnvelope
from toychat.relay import MailboxFull, RateLimited, RemoteServer, Unauthenticated
from toychat.relay.limits import MAX_SEND_BATCH, Quota
from toychat.relay.runner import RunningRelay, serve_in_thread

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def relay() -> Iterator[RunningRelay]:
    running = serve_in_thread(rate=10_000, burst=10_000, franking=True)
    yield running
    running.stop()


def group(url: str, size: int = 3) -> tuple[CountingRemoteServer, list[Client]]:
    """``size`` fresh users on one relay; the first sends through the returned CountingRemoteServer remote."""
    remote = CountingRemoteServer(url)
    tag = secrets.token_hex(4)
    first = Client(f"a-{tag}", remote)
    return remote, [first, *(Client(f"m{i}-{tag}", RemoteServer(url)) for i in range(1, size))]


def envelopes(sender: Client, members: list[Client], text: str = "to the group") -> list[Envelope]:
    return [sender.compose(m.name, f"{text} ({m.name})") for m in members]


def queued(member: Client) -> int:
    """How many messages wait for ``member`` on the relay."""
    return member.server.pending(member.name)  # type: ignore[attr-defined,no-any-return]


def test_a_group_message_is_one_request_and_reaches_every_member_once(relay: RunningRelay) -> None:
    remote, [alice, *members] = group(relay.url, 4)
    sent = envelopes(alice, members)
    remote.calls.clear()
    ids = remote.submit_raw_batch(alice.name, [e.to_bytes() for e in sent])
    assert ids == [e.msg_id for e in sent]
    assert remote.calls == ["POST /api/messages/batch"]
    for member, envelope in zip(members, sent, strict=True):
        assert [m.text for m in member.receive()] == [f"to the group ({member.name})"]
        assert [m.msg_id for m in member.inbox] == [envelope.msg_id]
    view = RemoteServer(relay.url, admin_token=relay.admin_token).server_view()
    assert {row["msg_id"] for row in view["messages"]} >= set(ids)  # logged, as single sends are


def test_one_refused_envelope_stores_nothing_of_the_batch(relay: RunningRelay) -> None:
    remote, [alice, bob, carol] = group(relay.url)
    good = alice.compose(bob.name, "good")
    forged = carol.compose(bob.name, "in carol's name")  # on alice's login: refused by name
    with pytest.raises(TamperedMessage):
        remote.submit_raw_batch(alice.name, [good.to_bytes(), forged.to_bytes()])
    assert queued(bob) == 0
    assert remote.submit_raw_batch(alice.name, [good.to_bytes()]) == [good.msg_id]  # its id was not spent
    assert [m.text for m in bob.receive()] == ["good"]


def test_a_message_id_twice_or_an_already_accepted_one_is_a_replay(relay: RunningRelay) -> None:
    remote, [alice, bob, carol] = group(relay.url)
    first, second = envelopes(alice, [bob, carol])
    with pytest.raises(ReplayedMessage):
        remote.submit_raw_batch(alice.name, [first.to_bytes(), first.to_bytes()])
    assert queued(bob) == 0
    remote.submit_raw_batch(alice.name, [first.to_bytes(), second.to_bytes()])
    with pytest.raises(ReplayedMessage):  # the batch sent again (a lost answer): nothing twice
        remote.submit_raw_batch(alice.name, [first.to_bytes(), second.to_bytes()])
    assert len(bob.receive()) == 1
    assert len(carol.receive()) == 1


def test_quotas_count_the_batch_itself(tmp_path: Path) -> None:
    running = serve_in_thread(rate=10_000, burst=10_000, quota=Quota(sender_messages=2))
    try:
        remote, [alice, *members] = group(running.url, 4)
        with pytest.raises(MailboxFull):  # three waiting from one sender, two allowed
            remote.submit_raw_batch(alice.name, [e.to_bytes() for e in envelopes(alice, members)])
        assert [queued(m) for m in members] == [0, 0, 0]
        remote.submit_raw_batch(alice.name, [e.to_bytes() for e in envelopes(alice, members[:2])])
        assert [queued(m) for m in members] == [1, 1, 0]
    finally:
        running.stop()


def test_the_rate_limit_counts_envelopes_not_requests() -> None:
    running = serve_in_thread(rate=1e-6, burst=1_000)  # (practically) no refill during the test
    try:
        remote, [alice, *members] = group(running.url, 4)
        sent = [e.to_bytes() for e in envelopes(alice, members)]
        buckets = running.relay.limiter._buckets  # the relay's thread is idle between requests
        key = f"user:{alice.name}"
        buckets[key] = (2.5, buckets[key][1])  # fewer tokens left than the batch's 3 envelopes
        with pytest.raises(RateLimited):
            remote.submit_raw_batch(alice.name, sent)
        assert [queued(m) for m in members] == [0, 0, 0]
        buckets[key] = (3.5, buckets[key][1])  # enough for 3
        assert len(remote.submit_raw_batch(alice.name, sent)) == 3
        assert buckets[key][0] < 1  # all 3 were taken
    finally:
        running.stop()


def test_a_batch_needs_a_login_and_well_formed_json(relay: RunningRelay) -> None:
    remote, [alice, bob, carol] = group(relay.url)
    raws = [e.to_bytes() for e in envelopes(alice, [bob, carol])]
    stranger = RemoteServer(relay.url)
    stranger._registered.add(alice.name)  # no token: the relay refuses
    with pytest.raises(Unauthenticated):
        stranger.submit_raw_batch(alice.name, raws)
    bodies: list[object] = [{"envelopes": []}, {"envelopes": [1, 2]}, {"envelopes": ["x"] * (MAX_SEND_BATCH + 1)}, []]
    for body in bodies:  # none, not strings, too many, not an object
        with pytest.raises(MalformedEnvelope):
            remote.request("POST", "/api/messages/batch", data=body, user=alice.name)
    with pytest.raises(MalformedEnvelope):
        remote.request("POST", "/api/messages/batch", body=b"{not json", user=alice.name)
    assert queued(bob) == 0
    remote.submit_raw_batch(alice.name, raws)
    assert queued(bob) == 1


def test_a_relay_without_the_endpoint_gets_one_request_per_envelope(
    relay: RunningRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toychat.relay.handlers import BatchMessagesHandler

    monkeypatch.delattr(BatchMessagesHandler, "post")  # what an older relay answers: 405
    remote, [alice, bob, carol] = group(relay.url)
    sent = envelopes(alice, [bob, carol])
    remote.calls.clear()
    assert remote.submit_raw_batch(alice.name, [e.to_bytes() for e in sent]) == [e.msg_id for e in sent]
    assert remote.calls == ["POST /api/messages/batch", "POST /api/messages", "POST /api/messages"]
    remote.calls.clear()
    remote.submit_raw_batch(alice.name, [e.to_bytes() for e in envelopes(alice, [bob, carol], "again")])
    assert remote.calls == ["POST /api/messages", "POST /api/messages"]  # remembered
    assert len(bob.receive()) == 2
    assert len(carol.receive()) == 2


def test_an_accepted_batch_survives_kill_9(tmp_path: Path) -> None:
    relay = RelayProcess(db=tmp_path / "class.sqlite", log_path=tmp_path / "relay.log")
    relay.start()
    try:
        remote, [alice, bob, carol] = group(relay.url)
        sent = envelopes(alice, [bob, carol])
        remote.submit_raw_batch(alice.name, [e.to_bytes() for e in sent])  # 201: committed and synced
        relay.kill()
        relay.start()
        assert [m.msg_id for m in bob.receive()] == [sent[0].msg_id]
        assert [m.msg_id for m in carol.receive()] == [sent[1].msg_id]
    finally:
        relay.stop()
