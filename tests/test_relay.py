"""The classroom relay: the toy chat over real HTTP, and hostile clients.

One real tornado relay per module, on 127.0.0.1 with a free port, in a
background thread; a few tests start their own (a restart from a SQLite file,
hub mode, the command line as a subprocess).  Users get fresh names, so tests
sharing the relay never see each other's messages.  The browser test (marked
``browser``) needs Debian's Chromium and skips without it.
"""

from __future__ import annotations

import http.client
import json
import logging
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.relay import CountingRemoteServer
from toychat import (
    Client,
    Envelope,
    Identity,
    MalformedEnvelope,
    RegistrationError,
    ReplayedMessage,
    Server,
    TamperedMessage,
    UnknownMessage,
    UnknownRecipient,
)
from toychat.errors import ForgedReport
from toychat.relay import (
    Forbidden,
    RateLimited,
    RelayUnavailable,
    RemoteServer,
    RequestTooLarge,
    Unauthenticated,
    relay_from_env,
)
from toychat.relay.limits import TokenBucket
from toychat.relay.runner import RunningRelay, serve_in_thread
from toychat.reporting import report_message
from toychat.wire import MAX_ENVELOPE_BYTES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def relay() -> Iterator[RunningRelay]:
    running = serve_in_thread(rate=10_000, burst=10_000, franking=True)
    yield running
    running.stop()


@pytest.fixture
def remote(relay: RunningRelay) -> RemoteServer:
    return RemoteServer(relay.url, admin_token=relay.admin_token)


def fresh(name: str) -> str:
    """A user name no other test has taken on the shared relay."""
    return f"{name}-{secrets.token_hex(4)}"


def pair(remote: RemoteServer) -> tuple[Client, Client]:
    return Client(fresh("alice"), remote), Client(fresh("bob"), remote)


def raw_request(
    url: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict]:
    """One request with exactly these bytes; returns (status, parsed JSON body)."""
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, json.loads(data.decode("utf-8")) if data else {}
    finally:
        conn.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---- it works over the network ----------------------------------------------------------------
def test_alice_and_bob_chat_end_to_end_over_http(remote: RemoteServer) -> None:
    alice, bob = pair(remote)
    assert remote.mode == "e2ee"
    alice.send(bob.name, "hello Bob, meet at the library at 6")
    bob.send(alice.name, "hi Alice ✓ <script>alert(1)</script>")
    [to_bob] = bob.receive()
    [to_alice] = alice.receive()
    assert (to_bob.sender, to_bob.text, to_bob.mode) == (alice.name, "hello Bob, meet at the library at 6", "e2ee")
    assert to_alice.text == "hi Alice ✓ <script>alert(1)</script>"
    assert bob.receive() == []
    assert alice.receive() == []
    assert alice.safety_number(bob.name) == bob.safety_number(alice.name)


def test_e2ee_server_view_shows_metadata_and_ciphertext_only(remote: RemoteServer) -> None:
    alice, bob = pair(remote)
    secret = "the secret is 7f3a-river"
    alice.send(bob.name, secret)
    view = remote.server_view()
    assert view["mode"] == "e2ee"
    assert secret not in json.dumps(view)
    assert "river" not in json.dumps(view)
    [row] = [m for m in view["messages"] if m["sender"] == alice.name]
    assert row["recipient"] == bob.name
    assert row["size_bytes"] > len(secret)
    assert row["content_seen"].startswith("ciphertext ")
    table = remote.log_table()
    assert alice.name in set(table["sender"])
    assert [m.text for m in bob.receive()] == [secret]


def test_plaintext_mode_shows_content(remote: RemoteServer) -> None:
    alice, bob = pair(remote)
    remote.mode = "plaintext"
    try:
        assert alice.mode == "plaintext"
        alice.send(bob.name, "meet at the library at 6")
        row = [m for m in remote.server_view()["messages"] if m["sender"] == alice.name][-1]
        assert row["content_seen"] == "meet at the library at 6"
        assert [m.text for m in bob.receive()] == ["meet at the library at 6"]
    finally:
        remote.mode = "e2ee"
    assert remote.mode == "e2ee"


def test_franked_report_over_http(remote: RemoteServer) -> None:
    mallory, alice = pair(remote)
    sent = mallory.send(alice.name, "an abusive message")
    alice.receive()
    assert report_message(alice, sent.msg_id) == b"an abusive message"
    with pytest.raises(ReplayedMessage):
        report_message(alice, sent.msg_id)
    franked = remote.franked_for(alice.name, sent.msg_id)
    from toychat.franking import Report

    with pytest.raises(ForgedReport):
        remote.receive_report(Report(b"something else", alice.inbox[0].franking_key, franked))
    with pytest.raises(UnknownMessage):  # only the recipient gets the tag
        remote.franked_for(mallory.name, sent.msg_id)


def test_long_poll_returns_as_soon_as_a_message_arrives(remote: RemoteServer) -> None:
    alice, bob = pair(remote)
    got: list[bytes] = []
    waiter = threading.Thread(target=lambda: got.extend(remote.fetch(bob.name, wait=10)))
    started = time.monotonic()
    waiter.start()
    time.sleep(0.2)
    alice.send(bob.name, "are you there?")
    waiter.join(timeout=10)
    assert len(got) == 1
    assert time.monotonic() - started < 3
    assert bob.open_envelope(bob.channel.open(got[0])).text == "are you there?"
    started = time.monotonic()
    assert remote.fetch(bob.name, wait=0.3) == []
    assert time.monotonic() - started >= 0.25
    assert remote.wait_for_messages(bob.name, 0.2) is False
    threading.Timer(0.2, lambda: alice.send(bob.name, "now?")).start()
    assert remote.wait_for_messages(bob.name, 10) is True
    assert [m.text for m in bob.receive()] == ["now?"]


def test_relay_from_env(monkeypatch: pytest.MonkeyPatch, relay: RunningRelay) -> None:
    monkeypatch.delenv("TOYCHAT_RELAY", raising=False)
    local = relay_from_env("plaintext")
    assert isinstance(local, Server)
    assert local.mode == "plaintext"
    monkeypatch.setenv("TOYCHAT_RELAY", relay.url)
    server = relay_from_env()
    assert isinstance(server, RemoteServer)
    assert server.url == relay.url
    alice, bob = Client(fresh("alice"), server), Client(fresh("bob"), server)
    alice.send(bob.name, "via the environment")
    assert [m.text for m in bob.receive()] == ["via the environment"]


# ---- persistence and delivery ---------------------------------------------------------------------
def test_restart_with_sqlite_file_keeps_queued_messages(tmp_path: Path) -> None:
    db = str(tmp_path / "class.sqlite")
    bob_identity = Identity.generate("bob")
    with serve_in_thread(db=db, mode="plaintext") as first:
        remote = RemoteServer(first.url)
        alice, bob = Client("alice", remote), Client("bob", remote, identity=bob_identity)
        sent = alice.send("bob", "sent before the restart")
        tokens = dict(remote.tokens)
    with serve_in_thread(db=db, mode="e2ee") as second:
        assert second.relay.server.mode == "plaintext"  # the stored mode wins
        again = RemoteServer(second.url, tokens=tokens)
        bob = Client("bob", again, identity=bob_identity)  # same keys + token: welcome back
        assert [m.text for m in bob.receive()] == ["sent before the restart"]
        with pytest.raises(ReplayedMessage):  # the log, and so replay protection, survived too
            again.submit_raw("alice", sent.to_bytes())
        with pytest.raises(RegistrationError):  # the directory survived: the name is taken
            Client("alice", RemoteServer(second.url))
        assert len(second.relay.server.log) == 1


def test_lost_ack_redelivers_but_the_learner_sees_the_message_once(remote: RemoteServer) -> None:
    alice, bob = pair(remote)
    alice.send(bob.name, "only once, please")
    remote.drop_acks = True  # every acknowledgement is "lost" on the way to the relay
    assert [m.text for m in bob.receive()] == ["only once, please"]
    assert bob.receive() == []  # the relay sent it again; the client dropped the duplicate
    assert len(remote.fetch_envelopes(bob.name)) == 1  # still queued: at least once
    # A new device session (e.g. a restarted kernel) gets it again: nothing was lost.
    other = RemoteServer(remote.url, tokens=remote.tokens)
    assert len(other.fetch_envelopes(bob.name)) == 1
    remote.drop_acks = False
    assert bob.receive() == []  # this fetch acknowledged the redelivered copy
    assert bob.receive() == []
    assert remote.fetch_envelopes(bob.name) == []
    assert [m.text for m in bob.inbox] == ["only once, please"]
    assert bob.rejected == []


def test_acknowledging_someone_elses_ids_deletes_nothing(relay: RunningRelay, remote: RemoteServer) -> None:
    alice, bob = pair(remote)
    alice.send(bob.name, "for Bob only")
    [(mailbox_id, _, _)] = remote.fetch_envelopes(bob.name)
    status, body = raw_request(
        relay.url,
        "POST",
        "/api/mailbox/ack",
        json.dumps({"ids": [mailbox_id]}).encode(),
        bearer(remote.tokens[alice.name]),
    )
    assert (status, body) == (200, {"acknowledged": 0})
    assert [m.text for m in bob.receive()] == ["for Bob only"]


def test_post_mailbox_acknowledges_then_answers_like_get(relay: RunningRelay, remote: RemoteServer) -> None:
    alice, bob = pair(remote)
    alice.send(bob.name, "first")
    alice.send(bob.name, "second")
    [(first, _, _), (second, _, _)] = remote.fetch_envelopes(bob.name)
    token = bearer(remote.tokens[bob.name])
    status, body = raw_request(relay.url, "POST", "/api/mailbox?wait=0", json.dumps({"ids": [first]}).encode(), token)
    assert status == 200
    assert [item["id"] for item in body["messages"]] == [second]  # the acknowledged one is gone
    # a malformed query is refused before anything is acknowledged
    status, body = raw_request(relay.url, "POST", "/api/mailbox?wait=x", json.dumps({"ids": [second]}).encode(), token)
    assert (status, body["error"]) == (400, "MalformedEnvelope")
    assert [i for i, _, _ in remote.fetch_envelopes(bob.name)] == [second]
    # as with /api/mailbox/ack, someone else's ids delete nothing
    status, body = raw_request(
        relay.url, "POST", "/api/mailbox", json.dumps({"ids": [second]}).encode(), bearer(remote.tokens[alice.name])
    )
    assert (status, body["messages"]) == (200, [])
    assert [i for i, _, _ in remote.fetch_envelopes(bob.name)] == [second]
    status, body = raw_request(relay.url, "POST", "/api/mailbox", b'{"ids": [0]}', token)
    assert (status, body["error"]) == (400, "MalformedEnvelope")


def test_a_device_reads_each_batch_with_one_request(relay: RunningRelay) -> None:
    """wait_for_messages() then receive(): one long poll that also acknowledges the batch before,
    and no second request for the messages it found (the relay's CPU goes per request)."""
    counting = CountingRemoteServer(relay.url)
    alice, bob = Client(fresh("alice"), counting), Client(fresh("bob"), counting)
    for round_ in range(3):
        alice.send(bob.name, f"round {round_}")
        counting.calls.clear()
        assert counting.wait_for_messages(bob.name, 5) is True
        assert [m.text for m in bob.receive()] == [f"round {round_}"]
        expected = ["GET /api/mailbox"] if round_ == 0 else ["POST /api/mailbox"]  # + the ack of the last round
        assert [c for c in counting.calls if "/api/mailbox" in c] == expected
    assert counting.wait_for_messages(bob.name, 0.1) is False  # acknowledged the last round: nothing left
    assert counting.fetch_envelopes(bob.name) == []
    assert [m.text for m in bob.inbox] == ["round 0", "round 1", "round 2"]


def test_a_mailbox_answer_tells_the_device_the_mode(relay: RunningRelay, remote: RemoteServer) -> None:
    """Composing right after a long poll asks nothing more (the answer named the mode), and switching
    the mode answers every waiting long poll at once, so a waiting device follows at once too."""
    counting = CountingRemoteServer(relay.url, info_ttl=0.3)
    alice, bob = Client(fresh("alice"), counting), Client(fresh("bob"), counting)
    alice.send(bob.name, "hello")
    time.sleep(0.4)  # the cached /api/info answer is stale now
    counting.calls.clear()
    assert counting.wait_for_messages(bob.name, 0.1) is True
    bob.receive()
    alice.send(bob.name, "no look-up of the mode before this one")
    assert "GET /api/info" not in counting.calls
    time.sleep(0.4)
    counting.calls.clear()
    alice.send(bob.name, "a stale answer is asked again")
    assert counting.calls.count("GET /api/info") == 1

    woke: list[tuple[bool, float]] = []

    def waiting_device() -> None:
        started = time.monotonic()
        found = counting.wait_for_messages(alice.name, 20)
        woke.append((found, time.monotonic() - started))

    thread = threading.Thread(target=waiting_device)
    thread.start()
    time.sleep(0.5)  # the long poll is waiting at the relay
    try:
        remote.mode = "plaintext"
        thread.join(timeout=10)
        assert len(woke) == 1
        assert woke[0][0] is False  # answered with no message ...
        assert woke[0][1] < 5  # ... long before its 20 s
        counting.calls.clear()
        assert counting.mode == "plaintext"  # ... and naming the new mode
        assert counting.calls == []
    finally:
        remote.mode = "e2ee"
    assert remote.mode == "e2ee"


def test_a_device_that_long_polls_first_never_asks_for_info(relay: RunningRelay) -> None:
    """A mailbox answer names the mode and franking, so a device whose first request to the relay
    after registering is a long poll composes, sends and opens messages without ``GET /api/info``
    (the load generator's students each made that one request before)."""
    bob_remote = CountingRemoteServer(relay.url)
    alice = Client(fresh("alice"), RemoteServer(relay.url))
    bob = Client(fresh("bob"), bob_remote)
    bob_remote._platform = None  # what registration said is not needed (the next test checks it)
    bob_remote.calls.clear()
    assert bob_remote.wait_for_messages(bob.name, 0.1) is False
    bob.send(alice.name, "composed on what the poll said")
    alice.send(bob.name, "and an answer")
    assert bob_remote.wait_for_messages(bob.name, 5) is True
    assert [m.text for m in bob.receive()] == ["and an answer"]
    assert bob_remote.franking is not None  # this relay franks, and the poll said so
    assert bob_remote.mode == "e2ee"
    assert "GET /api/info" not in bob_remote.calls
    assert [m.text for m in alice.receive()] == ["composed on what the poll said"]


def test_a_relay_whose_mailbox_answer_names_only_the_mode_is_asked_for_info_once(
    relay: RunningRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relay from before franking was in the mailbox answer: the device asks ``/api/info`` for
    it once (franking cannot be guessed), then follows the mode from the answers as before."""
    from toychat.relay import codec

    original = codec.mailbox_to_json
    monkeypatch.setattr(codec, "mailbox_to_json", lambda queued, mode=None, franking=None: original(queued, mode))
    bob_remote = CountingRemoteServer(relay.url, info_ttl=0.3)
    alice = Client(fresh("alice"), RemoteServer(relay.url))
    bob = Client(fresh("bob"), bob_remote)
    bob_remote._platform = None  # as if registered before this session (a login file): unknown
    bob_remote.calls.clear()
    assert bob_remote.wait_for_messages(bob.name, 0.1) is False
    bob.send(alice.name, "one")
    assert bob_remote.calls.count("GET /api/info") == 1
    assert bob_remote.franking is not None
    time.sleep(0.4)  # stale now; the next answer (mode only) refreshes it
    assert bob_remote.wait_for_messages(bob.name, 0.1) is False
    bob.send(alice.name, "two")
    assert bob_remote.calls.count("GET /api/info") == 1
    assert [m.text for m in alice.receive()] == ["one", "two"]


def test_registering_tells_the_device_the_platform(relay: RunningRelay) -> None:
    counting = CountingRemoteServer(relay.url)
    bob = Client(fresh("bob"), counting)
    assert counting.mode == "e2ee"
    assert counting.franking is not None
    assert bob.mode == "e2ee"
    assert counting.calls == ["POST /api/users"]


def test_while_a_long_poll_waits_composing_asks_nothing(relay: RunningRelay) -> None:
    """A phone polls in one thread and sends in another: while its long poll waits at the relay
    (which answers it at once, naming the new mode, if the instructor switches), the mode it
    last heard holds however old; once no poll is open, the ``info_ttl`` applies again."""
    bob_remote = CountingRemoteServer(relay.url, info_ttl=0.1)
    alice = Client(fresh("alice"), RemoteServer(relay.url))
    bob = Client(fresh("bob"), bob_remote)
    found: list[bool] = []
    poll = threading.Thread(target=lambda: found.append(bob_remote.wait_for_messages(bob.name, 20)))
    poll.start()
    time.sleep(0.5)  # what registration said is stale now, but a poll is open
    bob_remote.calls.clear()
    bob.send(alice.name, "sent while my poll waits")
    assert "GET /api/info" not in bob_remote.calls
    alice.send(bob.name, "answer")
    poll.join(timeout=10)
    assert found == [True]
    time.sleep(0.2)  # no poll open, the last answer stale: asked again
    bob_remote.calls.clear()
    bob.send(alice.name, "no poll open")
    assert bob_remote.calls.count("GET /api/info") == 1
    assert [m.text for m in alice.receive()] == ["sent while my poll waits", "no poll open"]


def test_a_long_poll_naming_another_mode_answers_at_once(relay: RunningRelay, remote: RemoteServer) -> None:
    """A poll that reached the relay just after a mode switch was not woken by it: naming the
    mode it knows makes it answer at once with the new one instead of waiting."""
    bob = Client(fresh("bob"), remote)
    token = bearer(remote.tokens[bob.name])
    started = time.monotonic()
    status, body = raw_request(relay.url, "GET", "/api/mailbox?wait=10&mode=plaintext", None, token)
    assert time.monotonic() - started < 5
    assert (status, body["mode"], body["messages"]) == (200, "e2ee", [])
    started = time.monotonic()
    status, body = raw_request(relay.url, "GET", "/api/mailbox?wait=0.5&mode=e2ee", None, token)
    assert time.monotonic() - started >= 0.4  # the mode it knows is current: it waited
    assert status == 200


def test_an_older_relay_without_post_mailbox_gets_separate_acknowledgements(
    relay: RunningRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toychat.relay.handlers import MailboxHandler

    monkeypatch.delattr(MailboxHandler, "post")  # what a relay from before POST /api/mailbox answers: 405
    counting = CountingRemoteServer(relay.url)
    alice, bob = Client(fresh("alice"), counting), Client(fresh("bob"), counting)
    alice.send(bob.name, "one")
    assert [m.text for m in bob.receive()] == ["one"]
    alice.send(bob.name, "two")
    counting.calls.clear()
    assert [m.text for m in bob.receive()] == ["two"]
    assert counting.calls == ["POST /api/mailbox", "POST /api/mailbox/ack", "GET /api/mailbox"]
    counting.calls.clear()
    alice.send(bob.name, "three")
    assert [m.text for m in bob.receive()] == ["three"]
    assert "POST /api/mailbox" not in counting.calls  # it remembers: no second 405
    assert bob.receive() == []
    assert counting.fetch_envelopes(bob.name) == []


def test_answered_requests_are_logged_at_debug_and_refusals_as_warnings(
    relay: RunningRelay, caplog: pytest.LogCaptureFixture
) -> None:
    """The access log keeps what an instructor needs (refusals, errors) without a line per answered request.

    The relay is shared by the module, so a long poll an earlier test left open may be answered (and
    logged) while this test runs: the test waits for the lines of its own two requests, not for any
    two lines, and holds every line it saw to the rule."""

    def lines() -> dict[str, int]:
        """Each access-log line's status and request (``"200 GET /api/info"``) and its level."""
        return {
            " ".join(r.getMessage().split(" ")[:3]): r.levelno for r in caplog.records if r.name == "tornado.access"
        }

    ours = {"200 GET /api/info": logging.DEBUG, "401 GET /api/mailbox": logging.WARNING}
    with caplog.at_level(logging.DEBUG, logger="tornado.access"):
        assert raw_request(relay.url, "GET", "/api/info")[0] == 200
        assert raw_request(relay.url, "GET", "/api/mailbox")[0] == 401
        deadline = time.monotonic() + 5
        while not ours.keys() <= lines().keys() and time.monotonic() < deadline:
            time.sleep(0.01)  # the relay logs from its own thread, after the answer is sent
    seen = lines()
    assert {line: seen.get(line) for line in ours} == ours
    for line, level in seen.items():
        assert level == (logging.WARNING if int(line.split(" ")[0]) >= 400 else logging.DEBUG), line


# ---- every error, as HTTP and as the named exception ------------------------------------------------
def test_malformed_json_is_400(relay: RunningRelay, remote: RemoteServer) -> None:
    alice, _ = pair(remote)
    status, body = raw_request(relay.url, "POST", "/api/messages", b"{not json", bearer(remote.tokens[alice.name]))
    assert status == 400
    assert body["error"] == "MalformedEnvelope"
    assert "JSON" in body["message"]
    with pytest.raises(MalformedEnvelope, match="not valid UTF-8 JSON"):
        remote.submit_raw(alice.name, b"\xff\xfe")
    status, body = raw_request(relay.url, "POST", "/api/users", b"[1, 2", {})
    assert status == 400
    assert body["error"] == "MalformedEnvelope"


def test_oversized_body_is_413_before_it_is_read(relay: RunningRelay, remote: RemoteServer) -> None:
    alice, _ = pair(remote)
    token = remote.tokens[alice.name]
    status, body = raw_request(
        relay.url, "POST", "/api/messages", b"x" * 10, {**bearer(token), "Content-Length": str(50 * MAX_ENVELOPE_BYTES)}
    )
    assert status == 413
    assert body["error"] == "RequestTooLarge"
    assert str(MAX_ENVELOPE_BYTES) in body["message"]
    with pytest.raises(RequestTooLarge) as caught:
        remote.submit_raw(alice.name, b"x" * (MAX_ENVELOPE_BYTES + 1))
    assert isinstance(caught.value, MalformedEnvelope)
    assert caught.value.status == 413
    status, body = raw_request(relay.url, "POST", "/api/users", b"{" * (100 * 1024), {})
    assert status == 413


def test_replayed_envelope_is_409(remote: RemoteServer) -> None:
    alice, bob = pair(remote)
    sent = alice.send(bob.name, "once")
    with pytest.raises(ReplayedMessage) as caught:
        remote.submit_raw(alice.name, sent.to_bytes())
    assert caught.value.status == 409
    assert [m.text for m in bob.receive()] == ["once"]


def test_unauthenticated_is_401(relay: RunningRelay, remote: RemoteServer) -> None:
    alice, bob = pair(remote)
    envelope = alice.compose(bob.name, "no login").to_bytes()
    for headers in ({}, bearer("not-a-real-token"), {"Authorization": "Basic YWxpY2U6eA=="}):
        status, body = raw_request(relay.url, "POST", "/api/messages", envelope, headers)
        assert status == 401
        assert body["error"] == "Unauthenticated"
        assert "token" in body["message"]
        status, body = raw_request(relay.url, "GET", "/api/mailbox", None, headers)
        assert status == 401
    with pytest.raises(Unauthenticated):
        RemoteServer(remote.url).submit_raw(alice.name, envelope)


def test_wrong_user_is_403(relay: RunningRelay, remote: RemoteServer) -> None:
    alice, bob = pair(remote)
    as_bob = bob.compose(alice.name, "pretending").to_bytes()
    with pytest.raises(TamperedMessage, match="someone else's name") as caught:
        remote.submit_raw(alice.name, as_bob)  # Bob's envelope on Alice's login
    assert caught.value.status == 403
    status, body = raw_request(relay.url, "GET", "/api/server-view", None, bearer(remote.tokens[alice.name]))
    assert status == 403
    assert body["error"] == "Forbidden"
    student = RemoteServer(remote.url, tokens=remote.tokens, admin_token=remote.tokens[alice.name])
    with pytest.raises(Forbidden, match="instructor"):
        student.mode = "plaintext"
    assert remote.mode == "e2ee"


def test_registration_conflicts_are_409_and_bad_names_400(relay: RunningRelay, remote: RemoteServer) -> None:
    alice = Client(fresh("alice"), remote)
    with pytest.raises(RegistrationError, match="already registered") as caught:
        Client(alice.name, RemoteServer(remote.url))  # other keys, same name
    assert caught.value.status == 409
    with pytest.raises(RegistrationError, match="already registered") as caught:
        RemoteServer(remote.url).register(alice.public)  # same keys, but not the token holder
    assert caught.value.status == 409
    remote.register(alice.public)  # the token holder registering again: harmless
    bad = {"name": "<script>", "encryption_key": "AA==", "signing_key": "AA=="}
    status, body = raw_request(relay.url, "POST", "/api/users", json.dumps(bad).encode(), {})
    assert status == 400
    assert body["error"] == "RegistrationError"
    short = {"name": fresh("carol"), "encryption_key": "AA==", "signing_key": "AA=="}
    status, body = raw_request(relay.url, "POST", "/api/users", json.dumps(short).encode(), {})
    assert status == 400
    assert body["error"] == "InvalidKey"
    assert "32 bytes" in body["message"]


def test_unknown_recipient_is_404_and_named(remote: RemoteServer) -> None:
    alice, _ = pair(remote)
    with pytest.raises(UnknownRecipient, match="nobody called 'nobody-here'") as caught:
        alice.send("nobody-here", "hello?")
    assert caught.value.status == 404


def test_rate_limit_is_429_per_user(relay: RunningRelay, remote: RemoteServer) -> None:
    alice, bob = pair(remote)
    generous = relay.relay.limiter
    relay.relay.limiter = TokenBucket(rate=0.01, burst=3)
    try:
        with pytest.raises(RateLimited, match="too many requests") as caught:
            for _ in range(5):
                remote.fetch_envelopes(alice.name)
        assert caught.value.status == 429
        remote.fetch_envelopes(bob.name)  # Bob has his own bucket
        parsed = urllib.parse.urlsplit(relay.url)
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        conn.request("GET", "/api/mailbox", headers=bearer(remote.tokens[alice.name]))
        response = conn.getresponse()
        assert response.status == 429
        assert int(response.getheader("Retry-After")) >= 1
        conn.close()
        relay.relay.limiter = TokenBucket(rate=5.0, burst=1)  # Retry-After: 1 s
        started = time.monotonic()
        remote.fetch_envelopes(alice.name)
        remote.fetch_envelopes(alice.name)  # refused once, then RemoteServer waits and retries
        assert time.monotonic() - started >= 0.9
    finally:
        relay.relay.limiter = generous


def test_unknown_paths_and_methods_answer_json(relay: RunningRelay) -> None:
    assert raw_request(relay.url, "GET", "/no/such/page")[0] == 404
    status, body = raw_request(relay.url, "DELETE", "/api/users")
    assert status == 405
    assert body["error"] == "MethodNotAllowed"
    status, body = raw_request(relay.url, "GET", "/api/mailbox?wait=nan", None, {})
    assert status == 401


def test_unreachable_relay_is_named() -> None:
    with serve_in_thread() as gone:
        url = gone.url
    with pytest.raises(RelayUnavailable, match="cannot reach the class relay"):
        Client("alice", RemoteServer(url, timeout=2))


# ---- the dashboard ------------------------------------------------------------------------------------
def test_dashboard_is_static_and_escapes_everything(relay: RunningRelay) -> None:
    parsed = urllib.parse.urlsplit(relay.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    conn.request("GET", "/dashboard")
    response = conn.getresponse()
    html = response.read().decode()
    assert response.status == 200
    assert "text/html" in response.getheader("Content-Type")
    csp = response.getheader("Content-Security-Policy")
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert '<script src="dashboard.js">' in html
    conn.request("GET", "/dashboard.js")
    script = conn.getresponse().read().decode()
    conn.close()
    assert "textContent" in script
    assert "innerHTML" not in script.replace("never innerHTML", "")
    assert "location.hash" in script  # the admin token stays in the fragment


def test_server_view_needs_the_admin_token(relay: RunningRelay) -> None:
    assert raw_request(relay.url, "GET", "/api/server-view")[0] == 403
    status, view = raw_request(relay.url, "GET", "/api/server-view", None, bearer(relay.admin_token))
    assert status == 200
    assert set(view) >= {"mode", "users", "messages", "queued"}


# ---- hostile clients: fuzzed bodies, never a 500 ----------------------------------------------------------
ENDPOINTS = [
    ("POST", "/api/users"),
    ("GET", "/api/users"),
    ("GET", "/api/users/{name}"),
    ("GET", "/api/users/{name}/devices"),
    ("POST", "/api/messages"),
    ("GET", "/api/mailbox"),
    ("POST", "/api/mailbox/ack"),
    ("POST", "/api/mailbox"),
    ("GET", "/api/franked/{name}"),
    ("POST", "/api/reports"),
    ("GET", "/api/server-view"),
    ("POST", "/api/mode"),
    ("GET", "/api/info"),
]

#: Values that broke parsers before: an integer too big for a float, a lone surrogate escape, ...
NASTY = [10**400, -(10**400), 1e308, -0.0, "\ud800", "\x00", "", "a" * 5000, [], {}]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(NASTY),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"ids": st.lists(st.integers(), max_size=5)}).map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(["name", "encryption_key", "signing_key", "mode", "ids", "message", "franked", "franking_key"]),
        json_values,
    ).map(lambda v: json.dumps(v).encode()),
)


@pytest.fixture(scope="module")
def fuzz_user(relay: RunningRelay) -> tuple[str, str]:
    remote = RemoteServer(relay.url)
    name = fresh("fuzz")
    remote.register(Identity.generate(name).public)
    return name, remote.tokens[name]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    body=bodies,
    auth=st.sampled_from(["none", "user", "admin", "garbage"]),
    name=st.text(min_size=1, max_size=20),
    query=st.text(max_size=20),
)
def test_fuzzed_requests_never_crash_the_relay(
    relay: RunningRelay,
    fuzz_user: tuple[str, str],
    endpoint: tuple[str, str],
    body: bytes,
    auth: str,
    name: str,
    query: str,
) -> None:
    method, template = endpoint
    path = template.format(name=urllib.parse.quote(name, safe=""))
    if query:
        path += "?wait=" + urllib.parse.quote(query[:5]) + "&limit=" + urllib.parse.quote(query[5:])
    headers = {
        "none": {},
        "user": bearer(fuzz_user[1]),
        "admin": bearer(relay.admin_token),
        "garbage": {"Authorization": "Bearer \u00ff" + name.encode("utf-8", "replace").hex()},
    }[auth]
    if method == "POST" and template == "/api/mode" and auth == "admin":
        body = json.dumps({"mode": "e2ee"}).encode()  # keep the shared relay's mode stable
    status, answer = raw_request(relay.url, method, path, body if method == "POST" else None, headers)
    assert status < 500, answer
    if status >= 400:
        assert set(answer) == {"error", "message"}
        assert answer["message"]


def _well_formed_envelope(name: str) -> dict[str, object]:
    """An envelope from ``name`` to itself with every field well formed (content all zeros),
    as a dict for the fuzz tests to break one field of."""
    return Envelope(
        msg_id=secrets.token_hex(16),
        mode="e2ee",
        sender=name,
        recipient=name,
        timestamp=1.0,
        nonce=bytes(24),
        payload=bytes(32),
        signature=bytes(64),
    ).to_dict()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_envelopes_are_refused_by_name(
    relay: RunningRelay, fuzz_user: tuple[str, str], data: st.DataObject
) -> None:
    """Valid-looking envelopes with one field broken: always a named 4xx, never stored."""
    name, token = fuzz_user
    good = _well_formed_envelope(name)
    key = data.draw(st.sampled_from(sorted(good)))
    good[key] = data.draw(json_values)
    raw = json.dumps(good, sort_keys=True, separators=(",", ":")).encode()
    status, answer = raw_request(relay.url, "POST", "/api/messages", raw, bearer(token))
    assert 400 <= status < 500
    assert answer["error"] in {
        "MalformedEnvelope",
        "TimestampOutOfRange",
        "TamperedMessage",
        "UnknownRecipient",
    }


def test_relay_still_works_after_the_fuzzing(remote: RemoteServer) -> None:
    alice, bob = pair(remote)
    alice.send(bob.name, "still here")
    assert [m.text for m in bob.receive()] == ["still here"]


def test_chunked_body_over_the_limit_is_413(relay: RunningRelay, remote: RemoteServer) -> None:
    """No Content-Length to check up front: the relay stops keeping the body once it is too big."""
    alice, _ = pair(remote)
    chunks = (b"x" * (256 * 1024) for _ in range(MAX_ENVELOPE_BYTES // (256 * 1024) + 1))
    parsed = urllib.parse.urlsplit(relay.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    conn.request("POST", "/api/messages", body=chunks, headers=bearer(remote.tokens[alice.name]), encode_chunked=True)
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    assert response.status == 413
    assert body["error"] == "RequestTooLarge"


# ---- keys change; JupyterHub service mode --------------------------------------------------------------
def test_the_token_holder_may_replace_their_keys_and_the_safety_number_changes(remote: RemoteServer) -> None:
    alice, bob = pair(remote)
    before = alice.safety_number(bob.name)
    new_phone = Client(bob.name, remote, identity=Identity.generate(bob.name))  # same login, new keys
    assert RemoteServer(remote.url).lookup(bob.name) == new_phone.public
    assert alice.safety_number(bob.name) == before  # Alice's phone still holds the old keys (TOFU)...
    del alice.contacts[bob.name]
    assert alice.safety_number(bob.name) != before  # ...and shows a new number once it looks again
    change = [c for c in remote.server_view()["key_changes"] if c["name"] == bob.name]
    assert change
    assert change[-1]["new"] == new_phone.public.fingerprint


class FakeHubAuth:
    """Stands in for jupyterhub's HubOAuth: the hub's answer to "whose token is this?"."""

    access_scopes: ClassVar[set[str]] = {"access:services!service=toychat-relay"}

    def __init__(self, users: dict[str, dict]) -> None:
        self.users = users

    async def get_user(self, handler: Any, *, sync: bool = True) -> dict | None:
        header = handler.request.headers.get("Authorization", "")
        return self.users.get(header.removeprefix("token ").strip())

    def check_scopes(self, required: set[str], model: dict) -> set[str]:
        return set(required) & set(model["scopes"])


@pytest.fixture(scope="module")
def hub_relay() -> Iterator[RunningRelay]:
    pytest.importorskip("jupyterhub")
    access = ["access:services!service=toychat-relay"]
    users = {
        "tok-ada": {"kind": "user", "name": "ada", "groups": [], "scopes": access},
        "tok-ben": {"kind": "user", "name": "ben", "groups": [], "scopes": access},
        "tok-teacher": {"kind": "user", "name": "teacher", "groups": ["instructors"], "scopes": access},
        "tok-outsider": {"kind": "user", "name": "eve", "groups": [], "scopes": []},
    }
    running = serve_in_thread(hub_auth=FakeHubAuth(users), rate=10_000, burst=10_000)
    yield running
    running.stop()


def hub_remote(relay: RunningRelay, token: str) -> RemoteServer:
    return RemoteServer(relay.url, headers={"Authorization": f"token {token}"})


def test_hub_mode_the_hub_login_is_the_chat_identity(hub_relay: RunningRelay) -> None:
    from jupyterhub.services.auth import HubOAuthenticated

    from toychat.relay.api import ApiHandler
    from toychat.relay.app import make_app

    app = make_app(hub_relay.relay, prefix="/services/toychat-relay/")
    targets = [rule.target for rule in app.wildcard_router.rules]
    api = [t for t in targets if isinstance(t, type) and issubclass(t, ApiHandler)]
    assert len(api) >= 11
    assert all(issubclass(t, HubOAuthenticated) for t in api)
    assert any("oauth_callback" in rule.matcher.regex.pattern for rule in app.wildcard_router.rules)

    ada_server, ben_server = hub_remote(hub_relay, "tok-ada"), hub_remote(hub_relay, "tok-ben")
    ada, ben = Client("ada", ada_server), Client("ben", ben_server)
    assert ada_server.tokens == {}  # no relay tokens: the hub login is used
    ada.send("ben", "hello from the hub")
    assert [m.text for m in ben.receive()] == ["hello from the hub"]
    with pytest.raises(Forbidden, match="logged in to JupyterHub as 'ada'"):
        Client("ben", hub_remote(hub_relay, "tok-ada"))  # cannot take someone else's name
    with pytest.raises(Unauthenticated):
        Client("zoe", hub_remote(hub_relay, "no-such-token"))
    with pytest.raises(Forbidden, match="not allowed to use the chat relay"):
        Client("eve", hub_remote(hub_relay, "tok-outsider"))  # logged in, but without the scope
    again = Client("ada", hub_remote(hub_relay, "tok-ada"))  # a restarted kernel: new keys, same login
    assert hub_remote(hub_relay, "tok-ben").lookup("ada") == again.public


def test_hub_mode_instructors_are_a_hub_group(hub_relay: RunningRelay) -> None:
    with pytest.raises(Forbidden, match="instructor"):
        hub_remote(hub_relay, "tok-ada").server_view()
    teacher = hub_remote(hub_relay, "tok-teacher")
    assert teacher.server_view()["mode"] == "e2ee"
    teacher.mode = "plaintext"
    teacher.mode = "e2ee"
    assert hub_remote(hub_relay, "tok-ada").info(fresh=True)["auth"] == "hub"


# ---- the dashboard in a real browser ------------------------------------------------------------------
@pytest.mark.browser
def test_dashboard_in_chromium_escapes_student_text_and_switches_mode(
    relay: RunningRelay, remote: RemoteServer
) -> None:
    from support.browser import chromium_page, chromium_path

    executable = chromium_path()
    alice, bob = pair(remote)
    hostile = "<img src=x onerror=\"document.title='pwned'\">"
    remote.mode = "plaintext"
    try:
        alice.send(bob.name, hostile)
        with chromium_page(executable) as page:
            page.goto(relay.dashboard_url)
            cell = page.locator("td.content", has_text="onerror").first
            cell.wait_for(timeout=10_000)
            assert cell.inner_text() == hostile  # shown as text...
            assert page.locator("#rows img").count() == 0
            assert page.title() != "pwned"  # ...never run
            assert "Plaintext platform" in page.locator("#banner").inner_text()
            carol = Client(fresh("carol"), remote)
            Client(carol.name, RemoteServer(remote.url, tokens=remote.tokens))  # Carol's "new phone"
            page.locator("#key-changes li", has_text=carol.name).wait_for(timeout=10_000)
            page.locator("#mode-e2ee").check()
            page.locator("#banner.e2ee").wait_for(timeout=10_000)  # (the page's CSP forbids eval)
        assert remote.info(fresh=True)["mode"] == "e2ee"
        alice.send(bob.name, "after the switch")
        assert [m.text for m in bob.receive(strict=False)][-1] == "after the switch"
    finally:
        remote.mode = "e2ee"


def test_hub_settings_come_from_the_service_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("jupyterhub")
    from jupyterhub.services.auth import HubOAuth

    from toychat.relay.hub import hub_settings

    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "secret-service-token")
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_NAME", "toychat-relay")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/services/toychat-relay/")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")
    monkeypatch.setenv("JUPYTERHUB_CLIENT_ID", "service-toychat-relay")
    auth, prefix, host, port = hub_settings("0.0.0.0", 8765)
    assert isinstance(auth, HubOAuth)
    assert (prefix, host, port) == ("/services/toychat-relay/", "127.0.0.1", 10101)
    assert auth.access_scopes == {"access:services!service=toychat-relay"}
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN")
    with pytest.raises(SystemExit, match="JUPYTERHUB_API_TOKEN"):
        hub_settings("127.0.0.1", 8765)


def test_command_line_relay_serves_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """``python -m toychat.relay`` as an instructor (or JupyterHub) runs it; SIGTERM stops it."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "toychat.relay",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "r.sqlite"),
            "--admin-token",
            "teacher-token",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        first = process.stdout.readline()
        assert f"127.0.0.1:{port}" in first, first
        remote = RemoteServer(f"http://127.0.0.1:{port}", admin_token="teacher-token")
        alice, bob = Client("alice", remote), Client("bob", remote)
        alice.send("bob", "over the command-line relay")
        assert [m.text for m in bob.receive()] == ["over the command-line relay"]
        status, _ = raw_request(remote.url, "GET", "/", None, {})
        assert status == 302
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0]
    assert process.returncode == 0, output
    assert "stopped" in output, output


@pytest.mark.parametrize(
    ("field", "value"),
    [("timestamp", 10**400), ("timestamp", -(10**400)), ("extras", {"note": "\ud800"}), ("sender", "\ud800")],
)
def test_envelopes_that_once_crashed_the_parser_are_400(
    relay: RunningRelay, fuzz_user: tuple[str, str], field: str, value: object
) -> None:
    """Found by fuzzing: an integer too big for a float, and a lone surrogate escape, raised
    OverflowError and UnicodeEncodeError inside Envelope.from_bytes (a 500). Now named 400s."""
    name, token = fuzz_user
    data = _well_formed_envelope(name)
    data[field] = value
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    status, answer = raw_request(relay.url, "POST", "/api/messages", raw, bearer(token))
    expected = "TimestampOutOfRange" if field == "timestamp" else "MalformedEnvelope"  # a MalformedEnvelope case
    assert (status, answer["error"]) == (400, expected)
    with pytest.raises(MalformedEnvelope):
        Envelope.from_bytes(raw)  # the in-process server refuses it the same way


def test_hostile_reports_are_named_refusals(relay: RunningRelay, fuzz_user: tuple[str, str]) -> None:
    _, token = fuzz_user
    franked = {"commitment": "AA==", "sender": "a", "recipient": "b", "timestamp": 1.0, "tag": "AA=="}
    for change in ({"timestamp": 10**400}, {"sender": "\ud800"}, {"recipient": None}, {"tag": "%%"}):
        body = {"message": "AA==", "franking_key": "AA==", "franked": {**franked, **change}}
        status, answer = raw_request(relay.url, "POST", "/api/reports", json.dumps(body).encode(), bearer(token))
        assert status in (400, 403)
        assert answer["error"] in {"ForgedReport", "MalformedEnvelope", "Forbidden"}


def test_forward_secrecy_and_images_work_unchanged_over_http(remote: RemoteServer) -> None:
    """Everything a Client does stays on the device; the relay only carries envelopes."""
    alice = Client(fresh("alice"), remote, forward_secrecy=True)
    bob = Client(fresh("bob"), remote, forward_secrecy=True)
    for text in ("one", "two"):
        alice.send(bob.name, text)
    assert [m.text for m in bob.receive()] == ["one", "two"]
    bob.send(alice.name, "three")
    assert [m.text for m in alice.receive()] == ["three"]
    picture = bytes(range(256)) * 40
    Client(fresh("carol"), remote).send(bob.name, picture, content_type="image/png")
    [image] = bob.receive()
    assert image.content_type == "image/png"
    assert image.data == picture
