"""RemoteServer keeps one connection to the relay open per thread (HTTP keep-alive), and the
relay's cheaper bookkeeping (issue 31): what must still hold when a connection is reused,
dropped by the relay, refused, or left idle; acknowledgements that skip their own fsync."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

import pytest

from toychat import Client
from toychat.relay import RelayUnavailable, RemoteServer
from toychat.relay import client as relay_client
from toychat.relay.runner import serve_in_thread
from toychat.relay.store import Store

pytestmark = pytest.mark.integration


def local_port(remote: RemoteServer) -> int:
    """The local port of this thread's connection to the relay: the same port, the same TCP connection."""
    connection = remote._local.connection
    assert connection is not None
    assert connection.sock is not None
    return int(connection.sock.getsockname()[1])


def test_requests_from_one_thread_share_one_connection() -> None:
    with serve_in_thread() as running:
        remote = RemoteServer(running.url)
        alice = Client("alice", remote)
        Client("bob", RemoteServer(running.url))
        first = local_port(remote)
        alice.send("bob", "hello")
        remote.info(fresh=True)
        assert local_port(remote) == first


def test_each_thread_has_its_own_connection() -> None:
    with serve_in_thread() as running:
        remote = RemoteServer(running.url)
        remote.info(fresh=True)
        ports: list[int] = []

        def other() -> None:
            remote.info(fresh=True)
            ports.append(local_port(remote))

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert ports[0] != local_port(remote)


def test_an_idle_connection_is_not_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_in_thread() as running:
        remote = RemoteServer(running.url)
        remote.info(fresh=True)
        first = local_port(remote)
        monkeypatch.setattr(relay_client, "KEEP_ALIVE_IDLE", -1.0)  # every connection counts as idle too long
        remote.info(fresh=True)
        assert local_port(remote) != first


def test_a_restarted_relay_is_reached_on_a_new_connection(tmp_path: Path) -> None:
    """The relay went away with the connection open (a restart): the next request opens a new one
    rather than failing on the dead one, and the queued message is still there."""
    db = str(tmp_path / "class.sqlite")
    with serve_in_thread(db=db) as running:
        port = int(running.url.rsplit(":", 1)[1])
        bob_remote = RemoteServer(running.url)
        alice = Client("alice", RemoteServer(running.url))
        bob = Client("bob", bob_remote)
        alice.send("bob", "before the restart")
        before = local_port(bob_remote)
    with serve_in_thread(db=db, port=port):
        assert [m.text for m in bob.receive()] == ["before the restart"]
        assert local_port(bob_remote) != before


def test_a_relay_that_is_gone_is_still_named_unavailable() -> None:
    with serve_in_thread() as running:
        remote = RemoteServer(running.url)
        remote.info(fresh=True)
    with pytest.raises(RelayUnavailable, match="cannot reach the class relay"):
        remote.info(fresh=True)


def test_with_a_proxy_configured_requests_go_through_urllib(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib honours http_proxy/no_proxy; the kept-alive connection would bypass the proxy."""
    monkeypatch.setenv("http_proxy", "http://proxy.invalid:3128")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert relay_client._proxied("http://relay.example:8765")
    assert RemoteServer("http://relay.example:8765")._direct is False
    monkeypatch.setenv("no_proxy", "relay.example")
    assert RemoteServer("http://relay.example:8765")._direct is True


def test_an_acknowledgement_leaves_the_database_fully_synchronous(tmp_path: Path) -> None:
    """Acknowledgements skip their own fsync; the message commits that follow keep FULL."""
    store = Store(str(tmp_path / "relay.sqlite"))
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.acknowledge("bob", [1, 2, 3])
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2
    store.close()


def test_only_tokens_that_log_someone_in_are_remembered() -> None:
    """The token cache cannot be grown by guessing tokens."""
    store = Store(":memory:")
    for _ in range(50):
        assert store.user_for_token(secrets.token_urlsafe(32)) is None
    assert store._token_users == {}
