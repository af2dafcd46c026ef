"""toychat.kernel_wakeup: a reply whose ZeroMQ wake-up was consumed is still received.

The hang it guards against (Voilà stuck after lesson 10's ``interact`` cell) needs a race;
here the race is made certain: the reply arrives, and something reads the socket's events
before the event loop looks at the socket, which consumes the edge-triggered wake-up,
as nbclient's Output-widget send on the same socket does in the real case.  Without the
guard the wait never ends (checked, so this test can fail); with it the reply comes
within about :data:`toychat.kernel_wakeup.CHECK_EVERY_S`.
"""

from __future__ import annotations

import asyncio
import time
from queue import Empty

import pytest
import zmq
import zmq.asyncio
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.session import Session

from toychat import kernel_wakeup


async def _reply_with_lost_wakeup(get_msg, timeout_s: float) -> tuple[dict | None, float]:
    """Wait for one message with ``get_msg`` while its wake-up is consumed; the message
    (None if the wait did not end within ``timeout_s``) and the seconds it took."""
    ctx = zmq.asyncio.Context()
    session = Session(key=b"test")
    router = ctx.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.IDENTITY, b"client")
    dealer.connect(f"tcp://127.0.0.1:{port}")
    channel = AsyncZMQSocketChannel(dealer, session)
    raw = zmq.Socket.shadow(dealer.underlying)
    try:
        # Say hello so the router knows the dealer's identity.
        session.send(raw, "kernel_info_request", {})
        while not zmq.Socket.shadow(router.underlying).poll(2000):
            pass
        await router.recv_multipart()

        waiting = asyncio.ensure_future(get_msg(channel, None))
        await asyncio.sleep(0.2)  # the wait is parked on the socket's file descriptor
        started = time.monotonic()
        session.send(zmq.Socket.shadow(router.underlying), "execute_reply", {"status": "ok"}, ident=[b"client"])
        # Without yielding to the event loop: read the socket's events until the reply is
        # there.  That consumes the edge the loop would have woken on.
        deadline = time.monotonic() + 5
        while not raw.get(zmq.EVENTS) & zmq.POLLIN:
            assert time.monotonic() < deadline, "the reply never reached the socket"
        try:
            msg = await asyncio.wait_for(waiting, timeout_s)
        except TimeoutError:
            msg = None
        return msg, time.monotonic() - started
    finally:
        dealer.close(linger=0)
        router.close(linger=0)
        ctx.term()


def test_without_the_guard_a_consumed_wakeup_hangs_the_wait() -> None:
    """The hazard is real with the installed jupyter_client and pyzmq (so the guard's test can fail)."""
    original = AsyncZMQSocketChannel.__dict__["get_msg"]
    if original is kernel_wakeup._get_msg_checked:
        original = kernel_wakeup._original_get_msg
    msg, _ = asyncio.run(_reply_with_lost_wakeup(original, timeout_s=3 * kernel_wakeup.CHECK_EVERY_S))
    assert msg is None, "jupyter_client/pyzmq now wake on a consumed edge: the guard may be unnecessary"


def test_with_the_guard_the_reply_arrives_within_one_check() -> None:
    msg, seconds = asyncio.run(_reply_with_lost_wakeup(kernel_wakeup._get_msg_checked, timeout_s=10))
    assert msg is not None
    assert msg["msg_type"] == "execute_reply"
    assert seconds < 3 * kernel_wakeup.CHECK_EVERY_S


def test_the_guard_keeps_the_callers_timeout() -> None:
    """No message: ``queue.Empty`` at the caller's deadline, as jupyter_client's own wait."""

    async def wait_for_nothing() -> float:
        ctx = zmq.asyncio.Context()
        dealer = ctx.socket(zmq.DEALER)
        dealer.connect("tcp://127.0.0.1:9")  # nobody there
        channel = AsyncZMQSocketChannel(dealer, Session(key=b"test"))
        started = time.monotonic()
        try:
            with pytest.raises(Empty):
                await kernel_wakeup._get_msg_checked(channel, 2.5)
            return time.monotonic() - started
        finally:
            dealer.close(linger=0)
            ctx.term()

    seconds = asyncio.run(wait_for_nothing())
    assert 2.4 <= seconds < 4


def test_install_is_idempotent_and_patches_the_async_channel() -> None:
    kernel_wakeup.install()
    assert kernel_wakeup.install() is False
    assert AsyncZMQSocketChannel.get_msg is kernel_wakeup._get_msg_checked
