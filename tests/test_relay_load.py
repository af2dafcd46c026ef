"""The classroom relay under a (short) class load: simulated students, each a real
``Client`` over its own ``RemoteServer``, against a real relay process on loopback.

Counts only, never speed: every message the relay accepted reaches its
recipient's inbox exactly once with the text sent, on a relay as a deployment
gets it (default mailbox quotas, private files).  The full run (200 students)
is ``python -m benchmarks --only relay_load``; its figures are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.relay_load import CountingRemote, LoadReport, RelayProcess, _send, _Student, class_groups, run_load
from toychat import Client
from toychat.relay import RemoteServer
from toychat.relay.limits import Quota
from toychat.relay.runner import serve_in_thread

pytestmark = pytest.mark.integration


def assert_exactly_once(report: LoadReport) -> None:
    assert report.errors == []
    assert report.accepted > 0
    assert report.delivered == report.accepted
    assert (report.lost, report.duplicated, report.wrong_text) == (0, 0, 0)
    assert report.refused_by_learner == 0
    assert report.acked_then_redelivered == 0


def test_class_groups_are_pairs_and_small_groups_and_leave_nobody_alone() -> None:
    for students in (2, 3, 5, 20, 200):
        groups = class_groups(students, seed=students)
        names = [n for g in groups for n in g]
        assert sorted(names) == sorted(set(names))
        assert len(names) == students
        assert all(2 <= len(g) <= 5 for g in groups)
    sizes = [len(g) for g in class_groups(200, seed=0)]
    assert sizes.count(2) > 30
    assert any(s >= 3 for s in sizes)


def test_a_short_class_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    report = run_load(students=24, seconds=4.0, seed=3, mean_gap=1.0, workdir=tmp_path)
    assert_exactly_once(report)
    assert report.resent_after_lost_ack == 0  # nothing was lost on the way, so nothing was re-sent
    assert report.quota == dataclasses.asdict(Quota())  # the quotas were on: a deployment's defaults
    assert report.refused_by_quota == 0  # a class's pace comes nowhere near them
    # a group's envelopes went in one request, a pair's alone: fewer send requests than envelopes
    assert report.requests["POST /api/messages/batch"] > 0
    sends = report.requests["POST /api/messages"] + report.requests["POST /api/messages/batch"]
    assert sends < report.accepted
    assert report.requests["GET /api/users/<name>"] == 0  # look-ups before the measured part are not counted
    # registration and every mailbox answer name the platform, and each phone's poll stays open
    # across its sends: no device asks /api/info
    assert report.requests["GET /api/info"] == 0
    assert report.file_modes["folder"] == "0o700"
    assert report.file_modes["class.sqlite"] == "0o600"
    assert set(report.file_modes.values()) <= {"0o600", "0o700"}


def test_a_send_the_quota_refuses_is_counted_as_refused_not_accepted() -> None:
    """With quotas on, a full mailbox is a named 409 the harness counts; the message was stored
    nowhere, so it is neither accepted nor lost; a group's batch is refused whole (none of it stored)."""
    with serve_in_thread(quota=Quota(mailbox_messages=1), rate=1_000, burst=1_000) as running:
        alice = _Student("alice", ["bob", "carol"], CountingRemote(running.url))
        alice.client = Client("alice", alice.remote)
        for name in ("bob", "carol"):
            Client(name, RemoteServer(running.url))
        rng = random.Random(0)
        _send(alice, rng, 0)
        _send(alice, rng, 1)  # both mailboxes hold their one message: both refused
        assert alice.refused_by_quota == 2
        assert [to for _, to, _, _ in alice.sent] == ["bob", "carol"]
        assert alice.errors == []


@pytest.fixture
def relay_process(tmp_path: Path) -> Iterator[RelayProcess]:
    relay = RelayProcess(db=tmp_path / "class.sqlite", log_path=tmp_path / "relay.log")
    relay.start()
    yield relay
    relay.stop()


def test_wait_for_messages_after_a_receive_waits_for_new_mail(relay_process: RelayProcess) -> None:
    """The long-polling loop students write (wait, then receive) must wait for *new*
    mail: messages already read are acknowledged first, not handed back at once."""
    alice = Client("alice", RemoteServer(relay_process.url))
    bob_remote = RemoteServer(relay_process.url)
    bob = Client("bob", bob_remote)
    alice.send("bob", "first")
    assert bob_remote.wait_for_messages("bob", 10) is True
    assert [m.text for m in bob.receive()] == ["first"]
    timer = threading.Timer(0.3, lambda: alice.send("bob", "second"))
    timer.start()
    try:
        assert bob_remote.wait_for_messages("bob", 10) is True
    finally:
        timer.join()
    assert [m.text for m in bob.receive()] == ["second"]
    assert bob_remote.wait_for_messages("bob", 0.1) is False  # acknowledged: nothing left queued
    assert bob_remote.fetch_envelopes("bob") == []
