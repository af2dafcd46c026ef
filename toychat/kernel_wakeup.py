"""A guard against lost wake-ups when a notebook runs through an asyncio kernel client.

Voilà (the policy view), MyST-NB (the course site) and the tests run the lessons with
nbclient, whose :class:`~jupyter_client.asynchronous.AsyncKernelClient` waits for each
cell's ``execute_reply`` with ``await shell_channel.get_msg(timeout)``, one unbounded
``zmq.asyncio`` poll of the shell socket when no cell timeout is set.  ZeroMQ signals
readiness on an *edge-triggered* file descriptor, and any operation on a socket may
consume that edge (libzmq's ``ZMQ_FD`` documentation says so).  While a cell whose
output goes to an ``ipywidgets.Output`` widget (every ``interact`` in the lessons) runs,
nbclient *sends* on that same shell socket: its server-side Output widget syncs its
captured outputs back to the kernel with a ``comm_msg``.  When the reply lands while that
send is under way, the edge is gone and the poll never wakes, although the reply sits in
the socket: the kernel is idle, the client waits for ever.

Seen in this course: Voilà stuck on lesson 10 after its ``interact`` cell (the policy-view
test's 300 s page-load timeout in CI; 3 of about 25 renders in a loop on this machine);
the site test's nbclient run of a lesson stalled for exactly its 600 s cell timeout and then
passed, because a poll that times out checks the socket for real (``zmq_poll`` with a zero
timeout) and finds the reply.  Voilà users report renders that stop after an ``interact``
cell (voila-dashboards/voila#1428, #1395).  It is not the kernel's doing: with ipykernel
7.4 and 6.31 the kernel had sent the reply and answered another client at once, while the
waiting client slept on.  (ipykernel 7.0-7.3 have a kernel-side wedge of the same family,
ipython/ipykernel#1554, fixed in 7.4; requirements.txt excludes them.)

:func:`install` makes the wait check the socket for real at least every
:data:`CHECK_EVERY_S` seconds, keeping the caller's overall timeout, so a lost edge costs
at most that long instead of the whole render.  It changes nothing else: the same message,
in the same order, with the same ``queue.Empty`` at the caller's deadline.
"""

from __future__ import annotations

import time
from queue import Empty
from typing import Any

#: How often a waiting client looks at its socket itself, in seconds.
CHECK_EVERY_S = 1.0

#: How many replies were found by a check rather than by a wake-up (a lost edge each).
rescued = 0

_installed = False
#: jupyter_client's own ``get_msg``, kept for the test that shows the hazard.
_original_get_msg: Any = None


async def _get_msg_checked(self: Any, timeout: float | None = None) -> dict[str, Any]:
    """``AsyncZMQSocketChannel.get_msg`` that polls in slices of :data:`CHECK_EVERY_S`."""
    global rescued
    assert self.socket is not None
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if deadline is None:
            wait_s = CHECK_EVERY_S
        else:
            wait_s = max(0.0, min(CHECK_EVERY_S, deadline - time.monotonic()))
        started = time.monotonic()
        ready = await self.socket.poll(int(wait_s * 1000))
        if ready:
            if wait_s > 0 and time.monotonic() - started >= wait_s:
                rescued += 1  # the slice ran out with a message waiting: its wake-up was lost
            return await self._recv()  # type: ignore[no-any-return]
        if deadline is not None and time.monotonic() >= deadline:
            raise Empty


def install() -> bool:
    """Use :func:`_get_msg_checked` for every asyncio kernel client in this process.

    Idempotent; returns True the first time.  Called by the course's Jupyter server
    extension (the policy view), the site's Sphinx configuration and the test helpers.
    """
    global _installed, _original_get_msg
    if _installed:
        return False
    from jupyter_client.channels import AsyncZMQSocketChannel

    _original_get_msg = AsyncZMQSocketChannel.__dict__["get_msg"]
    AsyncZMQSocketChannel.get_msg = _get_msg_checked  # type: ignore[method-assign]
    _installed = True
    return True
