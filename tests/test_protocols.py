"""Every class that plays the server's role provides the contract the client relies on."""

from __future__ import annotations

import inspect
import time

import pytest

from toychat import Client, Server
from toychat.exceptional_access import GhostServer
from toychat.mitm import MitmServer
from toychat.protocols import ContextReporting, ServerAPI
from toychat.relay.client import RemoteServer
from toychat.reporting import report_with_context

IMPLEMENTATIONS = [Server, MitmServer, GhostServer, RemoteServer]
#: Data members: attributes of an instance (or properties), not methods.
DATA = {"clock", "mode", "franking"}


def _members(protocol: type) -> list[str]:
    names = set(getattr(protocol, "__annotations__", {}))
    names |= {name for name, _ in inspect.getmembers(protocol) if not name.startswith("_")}
    return sorted(names)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda cls: cls.__name__)
def test_provides_every_member_with_the_same_parameters(implementation: type) -> None:
    for name in _members(ServerAPI):
        if name in DATA:
            continue  # checked on instances below
        wanted = inspect.getattr_static(ServerAPI, name)
        provided = inspect.getattr_static(implementation, name, None)
        assert provided is not None, f"{implementation.__name__} has no {name}"
        expected = list(inspect.signature(wanted).parameters)
        actual = list(inspect.signature(provided).parameters)
        assert actual[: len(expected)] == expected, f"{implementation.__name__}.{name}{actual} != {expected}"
        extra = inspect.signature(provided).parameters
        assert all(extra[p].default is not inspect.Parameter.empty for p in actual[len(expected) :]), (
            f"{implementation.__name__}.{name}: extra parameters must be optional"
        )


@pytest.mark.parametrize("make", [Server, MitmServer, GhostServer], ids=lambda cls: cls.__name__)
def test_in_process_servers_satisfy_both_protocols(make: type) -> None:
    server = make()
    assert isinstance(server, ServerAPI)
    assert isinstance(server, ContextReporting)
    assert callable(server.clock)


def test_the_relay_client_has_the_data_members_and_takes_single_reports_only() -> None:
    assert isinstance(inspect.getattr_static(RemoteServer, "mode"), property)
    assert isinstance(inspect.getattr_static(RemoteServer, "franking"), property)
    # Built without contacting anyone (nothing listens on port 9): the clock is a plain attribute
    # that gives this machine's time, which a Client then stamps its messages with.
    remote = RemoteServer("http://127.0.0.1:9")
    before = time.time()
    now = remote.clock()
    assert before <= now <= time.time()
    assert not issubclass(RemoteServer, ContextReporting)


def test_reports_with_context_need_a_server_that_takes_them() -> None:
    class SingleReports(Server):
        receive_report_with_context = None  # type: ignore[assignment]

    server = SingleReports(mode="e2ee")
    alice, bob = Client("alice", server), Client("bob", server)
    alice.send("bob", "hello")
    [message] = bob.receive()
    with pytest.raises(NotImplementedError, match="one message at a time"):
        report_with_context(bob, message.msg_id)
