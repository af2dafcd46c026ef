"""The relay's request limits hold per account *and* per network address.

Each account has its own token bucket; so does each network address, whatever
names it registered.  Registering more names once multiplied what one
address could send (20 names with a burst of 5 each: 100 of 100 requests
allowed); the address's own bucket caps it.
"""

from __future__ import annotations

import secrets

import pytest

from toychat import Client
from toychat.relay import RateLimited, RemoteServer
from toychat.relay.app import build_relay
from toychat.relay.limits import TokenBucket
from toychat.relay.runner import serve_in_thread

# Starts the relay (a server on loopback): left out of the fast loop.
pytestmark = pytest.mark.integration


def frozen() -> float:
    """A clock that never moves: no bucket refills during the test."""
    return 0.0


def test_registering_more_names_does_not_multiply_the_limit() -> None:
    with serve_in_thread(rate=10_000, burst=10_000) as running:
        remote = RemoteServer(running.url)
        suffix = secrets.token_hex(3)
        names = [Client(f"sock{i}-{suffix}", remote).name for i in range(20)]
        running.relay.limiter = TokenBucket(rate=0.001, burst=5, clock=frozen)
        running.relay.address_limiter = TokenBucket(rate=0.001, burst=5, clock=frozen)
        allowed = 0
        for name in names:
            for _ in range(5):
                try:
                    remote.fetch_envelopes(name)
                except RateLimited as exc:
                    assert "network address" in str(exc)
                else:
                    allowed += 1
        assert allowed == 5


def test_each_account_keeps_its_own_smaller_limit() -> None:
    with serve_in_thread(rate=10_000, burst=10_000) as running:
        remote = RemoteServer(running.url)
        alice = Client(f"alice-{secrets.token_hex(3)}", remote)
        running.relay.limiter = TokenBucket(rate=0.001, burst=2, clock=frozen)
        running.relay.address_limiter = TokenBucket(rate=0.001, burst=100, clock=frozen)
        results = []
        for _ in range(4):
            try:
                remote.fetch_envelopes(alice.name)
            except RateLimited:
                results.append(False)
            else:
                results.append(True)
        assert results == [True, True, False, False]


def test_the_default_address_limit_is_a_class_share_and_off_behind_the_hub() -> None:
    from toychat.relay.limits import ADDRESS_SHARE

    relay = build_relay(rate=2.0, burst=3)
    assert relay.address_limiter is not None
    assert (relay.address_limiter.rate, relay.address_limiter.burst) == (2.0 * ADDRESS_SHARE, 3 * ADDRESS_SHARE)
    assert build_relay(hub_auth=object()).address_limiter is None
    assert build_relay(address_rate=0).address_limiter is None
