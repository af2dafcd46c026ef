"""The read-only course: build it with the one command, open every page in real
headless Chromium, follow the navigation, and run axe-core (from npm) on each page.
Fails on any error output, a lesson missing from the index, a broken link, or an
axe-core violation of serious or critical impact."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from browser import chromium_page, chromium_path, npm_install
from nbtools import ARTIFACTS, LESSONS, REPO, record_timing, venv_env

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("site") / "site"
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build_site.py"), "--output", str(output)],
        cwd=REPO, env=venv_env(), capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = result.stderr.strip().splitlines()[-1]
    seconds = float(line.split(" in ")[1].split(" s,")[0])
    record_timing("site", f"build: {line.split('built ')[1]}", seconds)
    return output


@pytest.fixture(scope="module")
def axe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """axe-core's browser script, installed from npm into a temporary folder."""
    modules = npm_install("axe-core@4", tmp_path_factory.mktemp("axe"), why="the accessibility test needs axe-core from npm")
    return modules / "axe-core" / "axe.min.js"


def test_every_lesson_is_built_and_linked(site: Path) -> None:
    index = (site / "index.html").read_text(encoding="utf-8")
    for lesson in LESSONS:
        page = site / f"{lesson.stem}.html"
        assert page.is_file(), f"{page.name} was not built"
        assert f'href="{lesson.stem}.html"' in index, f"{lesson.stem} is not linked from the index"
        text = page.read_text(encoding="utf-8")
        assert ".ipynb\"" not in text.split("<nav", 1)[1].split("</nav>", 1)[0], "navigation links point at notebooks"
        assert not re.search(r'<script[^>]+src="https?://', text), f"{page.name} loads scripts from the internet"
        assert "widget-note" in text or "widgets." not in lesson.read_text(encoding="utf-8"), f"{page.name}: widget note missing"


def test_pages_open_without_errors_and_pass_axe(site: Path, axe: Path) -> None:
    executable = chromium_path()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    report: dict[str, list[dict[str, object]]] = {}
    with chromium_page(executable, width=1280, height=900) as page:
        for name in ["index.html", *(f"{lesson.stem}.html" for lesson in LESSONS)]:
            page.goto((site / name).as_uri())
            errors = page.locator("[data-mime-type='application/vnd.jupyter.stderr'], .jp-RenderedText[data-mime-type*='error']")
            if errors.count():
                failures.append(f"{name}: an error output: {errors.first.inner_text()[:200]}")
            for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
                if href.endswith(".html") and "://" not in href and not (site / href).is_file():
                    failures.append(f"{name}: broken link to {href}")
            page.add_script_tag(path=str(axe))
            result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
            violations = [
                {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": len(v["nodes"])}
                for v in result["violations"]
            ]
            report[name] = violations
            for v in violations:
                if v["impact"] in ("serious", "critical"):
                    failures.append(f"{name}: axe {v['impact']} — {v['id']}: {v['help']} ({v['nodes']} elements)")
        page.goto((site / "09_metadata_detection.html").as_uri())
        page.screenshot(path=str(ARTIFACTS / "site_lesson09.png"))
    (ARTIFACTS / "axe_report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    assert not failures, "\n".join(failures)
