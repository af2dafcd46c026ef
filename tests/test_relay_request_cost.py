"""The relay's work per request, counted rather than timed (issue 31): a page of a mailbox is read
in one SQLite statement, and a relay-token login is checked without a coroutine, so tornado awaits
nothing in the prepare step of every request.  Nothing here starts a server."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
import tornado.httputil

from toychat.keys import Identity
from toychat.relay.api import ApiHandler, Relay
from toychat.relay.app import build_relay, make_app
from toychat.relay.errors import Forbidden, Unauthenticated
from toychat.relay.handlers import MailboxHandler, ServerViewHandler
from toychat.relay.store import Store
from toychat.server import SeenByServer


def _fill(store: Store, count: int, size: int = 100) -> None:
    """``count`` messages from alice waiting for bob, each envelope ``size`` bytes."""
    for i in range(count):
        entry = SeenByServer(1.0 + i, f"m{i}", "e2ee", "alice", "bob", 1.0 + i, size, "ciphertext", b"x" * size)
        store.save_accepted(entry, None)


def _statements(store: Store) -> list[str]:
    """Every SQL statement ``store`` runs from now on (a list that fills as they run)."""
    seen: list[str] = []
    store.db.set_trace_callback(seen.append)
    return seen


@pytest.mark.parametrize("waiting", [1, 5, 20])
def test_a_mailbox_page_is_read_in_one_statement(waiting: int) -> None:
    store = Store(":memory:")
    _fill(store, waiting)
    seen = _statements(store)
    page = store.mailbox("bob", 10)
    assert [q.msg_id for q in page] == [f"m{i}" for i in range(min(waiting, 10))]
    assert all(q.envelope == b"x" * 100 for q in page)
    assert len(seen) == 1


def test_the_byte_limit_still_ends_a_page_early() -> None:
    store = Store(":memory:")
    _fill(store, 6, size=1000)
    assert [q.msg_id for q in store.mailbox("bob", 10, max_bytes=2500)] == ["m0", "m1"]
    assert len(store.mailbox("bob", 10, max_bytes=10)) == 1  # always the first waiting message


def _handler(
    cls: type[ApiHandler], path: str, *, method: str = "GET", token: str | None = None, **relay_options: Any
) -> tuple[ApiHandler, Relay]:
    """A handler of ``cls`` for one request to ``path`` on a fresh relay (no socket, no server)."""
    relay = build_relay(**relay_options)
    headers = tornado.httputil.HTTPHeaders({"Host": "127.0.0.1"})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = tornado.httputil.HTTPServerRequest(
        start_line=tornado.httputil.RequestStartLine(method, path, "HTTP/1.1"),
        headers=headers,
        connection=mock.Mock(),
    )
    return cls(make_app(relay), request, relay=relay), relay


def test_a_token_login_is_checked_without_a_coroutine() -> None:
    handler, relay = _handler(MailboxHandler, "/api/mailbox", token="bobs-token")
    relay.server.register_with_token(Identity.generate("bob").public, "bobs-token")
    assert handler.prepare() is None
    assert handler.user == "bob"


def test_a_wrong_token_is_still_refused() -> None:
    handler, _ = _handler(MailboxHandler, "/api/mailbox", token="not-a-token")
    with pytest.raises(Unauthenticated):
        handler.prepare()


def test_the_server_view_still_needs_the_admin_token() -> None:
    handler, _ = _handler(ServerViewHandler, "/api/server-view", token="not-the-admin-token")
    with pytest.raises(Forbidden):
        handler.prepare()
    handler, relay = _handler(ServerViewHandler, "/api/server-view", admin_token="the-admin-token")
    handler.request.headers["Authorization"] = "Bearer the-admin-token"
    assert handler.prepare() is None
    public, _ = _handler(ServerViewHandler, "/api/server-view", public_view=True)
    assert public.prepare() is None
