"""A real JupyterHub on 127.0.0.1 (DummyAuthenticator, SimpleLocalProcessSpawner,
configurable-http-proxy from npm): two students log in with headless Chromium and
each opens lesson 00 and the released ex01 in their own JupyterLab.

This is the smoke test behind docs/deploying.md.  Skipped with the reason where
npm is absent; required under CI.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.browser import chromium_page, chromium_path, free_port, wait_for_kernel_idle
from support.hub import local_hub_lines, running_hub
from support.nbtools import ARTIFACTS, REPO, record_timing, venv_env

pytestmark = [pytest.mark.browser, pytest.mark.hub]

STUDENTS = ("student1", "student2")


def _course_copy(home: Path) -> None:
    """What the course image holds for every student: the lessons and the releases."""
    shutil.copytree(REPO / "lessons", home / "lessons")
    shutil.copytree(REPO / "exercises", home / "exercises")


def test_two_students_open_lesson_and_exercise_through_jupyterhub(tmp_path: Path, proxy_command: str) -> None:
    executable = chromium_path()
    port = free_port()
    homes = tmp_path / "home"
    for student in STUDENTS:
        _course_copy(homes / student)
    password = secrets.token_hex(8)
    singleuser_args = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(
        f"""
c = get_config()  # noqa
{local_hub_lines(tmp_path, port, proxy_command)}
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allowed_users = set({list(STUDENTS)!r})
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(homes / "{username}")!r}
c.Spawner.cmd = [{sys.executable!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = {singleuser_args!r}
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
"""
    )
    env = venv_env()
    env.pop("MPLBACKEND", None)
    start = time.perf_counter()
    try:
        with running_hub(config, port=port, env=env) as hub:
            base = hub.url
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            for student in STUDENTS:
                with chromium_page(executable) as page:
                    page.goto(f"{base}/hub/login")
                    page.fill("#username_input", student)
                    page.fill("#password_input", password)
                    page.click("#login_submit")
                    page.wait_for_url(f"**/user/{student}/lab**", timeout=180_000)
                    for number, (path, text) in enumerate(
                        (
                            ("lessons/00_start_here.ipynb", "Start here"),
                            ("exercises/ex01_encryption/ex01_encryption.ipynb", "Exercise 1"),
                        )
                    ):
                        # one workspace per notebook, so the previous one is not reopened as a hidden tab
                        page.goto(f"{base}/user/{student}/lab/workspaces/w{number}/tree/{path}")
                        page.locator(".jp-Notebook .jp-MarkdownCell", has_text=text).first.wait_for(timeout=120_000)
                        wait_for_kernel_idle(page, timeout_ms=120_000)
                    page.screenshot(path=str(ARTIFACTS / f"jupyterhub_{student}.png"))
                    assert f"/user/{student}/" in page.url, "each student lands in their own server"
    finally:
        subprocess.run(["pkill", "-f", f"{homes}"], check=False)
    record_timing("browser", "JupyterHub: two students log in and open lesson 00 and ex01", time.perf_counter() - start)
