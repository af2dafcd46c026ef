"""nbgrader in a real JupyterLab, in real headless Chromium: the Validate button works on a
release notebook, and the formgrader loads for an instructor.

A module of its own: Playwright's sync API cannot start a second browser session while another
is open in the same thread, and the lesson tests keep theirs open for the whole of their module."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support.browser import chromium_page, chromium_path, jupyterlab_server
from support.nbtools import ARTIFACTS, REPO

pytestmark = pytest.mark.browser


def test_validate_button_and_formgrader(tmp_path: Path) -> None:
    executable = chromium_path()
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root)
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    with open(root / "nbgrader_config.py", "a", encoding="utf-8") as fh:
        fh.write(f"\nc.Exchange.root = {str(exchange)!r}\nc.CourseDirectory.course_id = 'e2ee-course'\n")
    shutil.copytree(REPO / "solutions" / "ex01_encryption", root / "solutions" / "ex01_encryption")
    shutil.copytree(REPO / "exercises" / "ex01_encryption", root / "exercises" / "ex01_encryption")
    with jupyterlab_server(root) as url, chromium_page(executable) as page:
        page.goto(url.format(path="exercises/ex01_encryption/ex01_encryption.ipynb"))
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        page.locator(".validate-button").first.click()
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for(timeout=180_000)
        text = dialog.inner_text()
        page.screenshot(path=str(ARTIFACTS / "browser_validate_release.png"))
        # The release has no answers yet: validation must report failing cells, not crash.
        assert "failed" in text.lower() or "error" in text.lower(), text[:500]
        assert "NotImplementedError" in text or "Validation failed" in text or "failed" in text, text[:500]

        page.goto(url.format(path="").replace("/lab/tree/?", "/formgrader?"))
        page.get_by_text("Manage Assignments").first.wait_for(timeout=60_000)
        page.get_by_text("ex01_encryption").first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "browser_formgrader.png"))
