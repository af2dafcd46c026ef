"""Relay test helpers shared by the relay's test files."""

from __future__ import annotations

from typing import Any

from toychat.relay import RemoteServer


class CountingRemoteServer(RemoteServer):
    """A RemoteServer that records each request it makes (method and path)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[str] = []

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.calls.append(f"{method} {path.split('?')[0]}")
        return super().request(method, path, **kwargs)
