"""Lesson 03 runs unchanged against the classroom relay: with TOYCHAT_RELAY set to a
live relay, its "across the room" cell talks over HTTP, and the relay's log holds
the message as ciphertext."""

from __future__ import annotations

import pytest

from support.nbtools import REPO, error_outputs, execute_notebook, record_timing
from toychat.relay import RemoteServer
from toychat.relay.runner import serve_in_thread

pytestmark = pytest.mark.notebook

LESSON = REPO / "lessons" / "03_a_toy_e2ee_chat.ipynb"


def test_lesson_03_over_a_live_relay(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_in_thread() as running:
        monkeypatch.setenv("TOYCHAT_RELAY", running.url)
        monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
        nb, seconds = execute_notebook(LESSON, timeout=120)
        record_timing("lesson", f"{LESSON.name} against a live relay", seconds)
        assert error_outputs(nb) == []
        [cell] = [c for c in nb.cells if c.cell_type == "code" and "relay_from_env()" in c.source]
        printed = "".join(o.get("text", "") for o in cell.outputs)
        assert "relay: RemoteServer" in printed
        assert "['Hello across the room']" in printed
        assert "safety numbers match: True" in printed
        view = RemoteServer(running.url, admin_token=running.admin_token).log_table()
        stored = view[view["recipient"] == "student-partner"]
        assert len(stored) == 1, view
        assert "Hello across the room" not in " ".join(map(str, stored.iloc[0].tolist())), (
            "E2EE: the relay holds ciphertext"
        )
