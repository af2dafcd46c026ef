"""Lesson 03 in a real JupyterLab, in real headless Chromium: run every cell,
then use the chat widget as a student would (the Send button, then Enter)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from support.browser import chromium_page, chromium_path, copy_with_sentinel, jupyterlab_server, run_all_cells
from support.nbtools import ARTIFACTS, REPO, record_timing

pytestmark = pytest.mark.browser

LESSON = REPO / "lessons" / "03_a_toy_e2ee_chat.ipynb"


def test_lesson_03_chat_in_jupyterlab(tmp_path: Path) -> None:
    executable = chromium_path()
    root = tmp_path / "course"
    root.mkdir()
    copy_with_sentinel(LESSON, root / LESSON.name)  # a copy: autosave must not touch the committed lesson
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with jupyterlab_server(root) as url, chromium_page(executable) as page:
        page.goto(url.format(path=LESSON.name))
        run_all_cells(page)  # raises on an error output

        chat = page.locator(".toychat-chat").first
        chat.scroll_into_view_if_needed()
        message = "Hello Bob, typed in a real browser"
        chat.locator(".toychat-alice-input input").fill(message)
        chat.locator(".toychat-alice-input input").press("Tab")
        chat.locator("button.toychat-send").click()

        bob = chat.locator(".toychat-bob-view")
        server = chat.locator(".toychat-server-view")
        bob.get_by_text(message).wait_for(timeout=30_000)
        assert "ciphertext" in server.inner_text()
        assert message not in server.inner_text()
        page.screenshot(path=str(ARTIFACTS / "lesson03_chat_e2ee.png"))

        # The same message on the plaintext platform: now the server's view shows it.
        chat.locator(".toychat-mode button", has_text="Plaintext platform").click()
        chat.locator(".toychat-status").get_by_text("New conversation").wait_for(timeout=30_000)
        # This time sent with Enter, as in any chat app.
        chat.locator(".toychat-alice-input input").fill(message)
        chat.locator(".toychat-alice-input input").press("Enter")
        try:
            server.get_by_text(message).wait_for(timeout=30_000)
        finally:
            page.screenshot(path=str(ARTIFACTS / "lesson03_chat_plaintext.png"))
    record_timing("browser", LESSON.name, time.perf_counter() - start)
