"""Real JupyterLab in real headless Chromium, for the browser tests.

:func:`jupyterlab_server` starts ``jupyter lab`` on 127.0.0.1 with a random
token in a temporary root directory (so autosave never touches the committed
notebooks); :func:`chromium_page` opens Debian's Chromium through Python
Playwright with the flags this offline machine needs.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import NoReturn
from contextlib import contextmanager
from pathlib import Path

import pytest

from nbtools import venv_env

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    """Debian's Chromium, or skip (fail under CI) with the reason."""
    for candidate in (*CHROMIUM_CANDIDATES, shutil.which("chromium") or ""):
        if candidate and Path(candidate).exists():
            return candidate
    require("Debian's chromium is not installed (apt-get install chromium); the browser tests need it")


def require(reason: str) -> NoReturn:
    """Skip the test with ``reason`` — or fail it under ``CI``, where everything must run."""
    if os.environ.get("CI"):
        pytest.fail(reason + " — required under CI", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def npm_install(package: str, folder: Path, *, why: str) -> Path:
    """``npm install package`` into ``folder``; returns its ``node_modules``.
    Without npm the test is skipped (failed under CI), ``why`` saying what needs it."""
    npm = shutil.which("npm")
    if npm is None:
        require(f"npm is not installed; {why}")
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(folder), package],
                   check=True, capture_output=True, timeout=300)
    return folder / "node_modules"


@contextmanager
def jupyterlab_server(root: Path, *, timeout: float = 90.0) -> Iterator[str]:
    """Run JupyterLab serving ``root``; yields its base URL (token not included)."""
    port, token = free_port(), secrets.token_hex(16)
    state = root.parent / f"{root.name}-jupyter-state"
    for sub in ("runtime", "settings", "workspaces"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    # Answer JupyterLab's "get notified about Jupyter news?" question in advance.
    news = state / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True, exist_ok=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    # Render every cell (no windowing), so long lessons can be checked cell by cell.
    notebook_settings = state / "settings" / "@jupyterlab" / "notebook-extension"
    notebook_settings.mkdir(parents=True, exist_ok=True)
    (notebook_settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    env = venv_env(
        JUPYTER_RUNTIME_DIR=str(state / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
    )
    env.pop("MPLBACKEND", None)
    log = open(state / "jupyterlab.log", "wb")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(
                    "JupyterLab did not start:\n" + (state / "jupyterlab.log").read_text(errors="replace")[-3000:]
                )
            time.sleep(0.3)
        yield f"{base}/lab/tree/{{path}}?token={token}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@contextmanager
def chromium_page(executable: str, *, width: int = 1400, height: int = 1000) -> Iterator["object"]:
    """A Playwright page in headless Debian Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def run_all_cells(page: "object", *, timeout_ms: int = 120_000) -> None:
    """Use JupyterLab's own menu: Run → Run All Cells; wait until no cell is still running."""
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout_ms)
    # the visible indicator: a notebook left open in a hidden tab has one too
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle'] >> visible=true").first.wait_for(timeout=timeout_ms)
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-InputArea-prompt')];
            const done = prompts.filter(p => /\\[\\d+\\]/.test(p.textContent)).length;
            const busy = prompts.some(p => p.textContent.includes('*'));
            return !busy && done > 0 && done === document.querySelectorAll('.jp-CodeCell').length;
        }""",
        timeout=timeout_ms,
    )


def shut_down_kernels(url: str) -> None:
    """Stop every running kernel of the JupyterLab at ``url`` (a URL from
    :func:`jupyterlab_server`), so lessons opened one after another do not pile up."""
    import json
    import urllib.parse

    parts = urllib.parse.urlsplit(url.format(path=""))
    token = urllib.parse.parse_qs(parts.query)["token"][0]
    base = f"{parts.scheme}://{parts.netloc}"
    with urllib.request.urlopen(f"{base}/api/kernels?token={token}", timeout=10) as response:
        kernels = json.load(response)
    for kernel in kernels:
        request = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}?token={token}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()
