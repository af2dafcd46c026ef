"""A relay serving in a background thread of this process (tests, benchmarks, lesson demos).

>>> with serve_in_thread(admin_token="demo") as running:
...     running.dashboard_url.endswith("/dashboard#token=demo")
True
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

import tornado.netutil

from .api import Relay
from .app import build_relay, http_server, make_app

__all__ = ["RunningRelay", "serve_in_thread"]


@dataclass
class RunningRelay:
    """A relay serving in a background thread (for tests and lesson demos)."""

    url: str
    relay: Relay
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    _stopped: threading.Event

    @property
    def admin_token(self) -> str:
        """The instructor's token for the dashboard, server view and mode switch."""
        return self.relay.admin_token

    @property
    def dashboard_url(self) -> str:
        """The dashboard's address, with the admin token in the fragment (never sent to the server)."""
        return f"{self.url}/dashboard#token={self.admin_token}"

    def stop(self) -> None:
        """Stop serving, close the database, and wait for the thread to end."""
        if not self._stopped.is_set():
            self.loop.call_soon_threadsafe(self._stopped.set)
        self.thread.join(timeout=10)

    def __enter__(self) -> RunningRelay:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(*, host: str = "127.0.0.1", port: int = 0, **options: Any) -> RunningRelay:
    """Start a relay in a background thread and return once it accepts connections.

    ``port=0`` picks a free port.  ``options`` go to :func:`build_relay`
    (``db``, ``mode``, ``franking``, ``rate``, ``burst``, ``admin_token``,
    ``public_view``).  The database is opened in the relay's own thread.
    """
    ready = threading.Event()
    stopped = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            relay = build_relay(**options)
            sockets = tornado.netutil.bind_sockets(port, host)
            server = http_server(make_app(relay))
            server.add_sockets(sockets)
            box.update(relay=relay, port=sockets[0].getsockname()[1], loop=loop)
        except BaseException as exc:  # noqa: BLE001  (start-up failures go to the caller)
            box["error"] = exc
            ready.set()
            return
        ready.set()

        async def until_stopped() -> None:
            while not stopped.is_set():
                await asyncio.sleep(0.05)
            server.stop()
            await server.close_all_connections()
            relay.server.store.close()

        loop.run_until_complete(until_stopped())
        loop.close()

    thread = threading.Thread(target=run, name="toychat-relay", daemon=True)
    thread.start()
    ready.wait(timeout=30)
    if "error" in box:
        raise box["error"]
    return RunningRelay(f"http://{host}:{box['port']}", box["relay"], thread, box["loop"], stopped)
