"""The policy view: lessons served by Voilà inside the same JupyterLab, at
``/voila/render/lessons/…``, with code hidden and widgets live.  Real JupyterLab
with Voilà's server extension, real headless Chromium: for four lessons the page
renders, no code cell is visible, and moving a control or sending a chat message
changes what the page shows.  Screenshots go to tests/artifacts/."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from support.browser import (
    PROSE,
    chromium_page,
    chromium_path,
    jupyterlab_server,
    prose_lines_too_long,
    require,
    shut_down_kernels,
)
from support.nbtools import ARTIFACTS, REPO, record_timing

pytestmark = pytest.mark.browser

#: How long Voilà may take to run a whole lesson before showing it.
RENDER_TIMEOUT_MS = 300_000
#: The browser window's height (px): figures must fit in it.
PAGE_HEIGHT = 1000
#: How long one widget callback may take to redraw its output.
UPDATE_TIMEOUT_MS = 60_000


def policy_view_url(lab_url: str, lesson: str) -> str:
    """The policy-view address of ``lesson`` (e.g. ``lessons/03_a_toy_e2ee_chat.ipynb``)
    on the JupyterLab whose lesson URL pattern is ``lab_url`` (from :func:`jupyterlab_server`)."""
    return lab_url.format(path=lesson).replace("/lab/tree/", "/voila/render/")


def code_lines(path: Path) -> list[str]:
    """Lines of the lesson's code that would show if code were visible: the first line of each
    code cell that is neither a comment nor shorter than 20 characters."""
    nb = nbformat.read(path, as_version=4)
    lines = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            for line in cell.source.splitlines():
                if len(line.strip()) >= 20 and not line.lstrip().startswith("#"):
                    lines.append(line.strip())
                    break
    return lines


#: What Voilà shows in place of a failed cell's traceback (unless its show_tracebacks is set,
#: when the traceback itself shows); Voilà stops running the lesson there.
VOILA_CELL_ERROR = "There was an error when executing cell"
#: An error output (and any stderr left after Voilà strips warnings), as JupyterLab renders it.
ERROR_OUTPUT = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"


#: The course's sliders (toychat.widgets.choice_slider): a native, labelled range input.
SLIDER = ".toychat-choice-slider input[type='range']"


def _move_slider(page: object, index: int = 0) -> None:
    handle = page.locator(SLIDER).nth(index)
    handle.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")


def _choose_second_option(page: object) -> None:
    menu = page.locator(".jupyter-widgets select").first
    second = menu.locator("option").nth(1).get_attribute("value")
    menu.select_option(second)


def _send_chat_message(page: object) -> None:
    box = page.locator(".jupyter-widgets input[type='text']").first
    box.fill("policy view test: hello Bob")
    page.locator(".jupyter-widgets button", has_text="Send").first.click()


#: lesson, the control it acts on, what it does with it, and the part of the page that must change.
CASES: list[tuple[str, str, Callable[[object], None], str]] = [
    (
        "03_a_toy_e2ee_chat.ipynb",
        ".jupyter-widgets input[type='text']",
        _send_chat_message,
        ".jupyter-widgets.widget-vbox",
    ),
    ("06_server_side_scanning.ipynb", SLIDER, _move_slider, ".widget-interact"),
    ("09_metadata_detection.ipynb", SLIDER, _move_slider, ".widget-interact"),
    ("10_claims_and_evidence.ipynb", ".jupyter-widgets select", _choose_second_option, ".widget-interact"),
]


def test_voila_is_a_server_extension_of_jupyterlab() -> None:
    """The policy view needs no second server: Voilà's extension is enabled for jupyter server."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"], capture_output=True, text=True, timeout=120
    )
    listing = result.stdout + result.stderr
    if "voila" not in listing:
        require("Voilà is not installed (pip install -r requirements.txt); the policy view needs it")
    assert "voila.server_extension" in listing
    assert "enabled" in listing.split("voila.server_extension", 1)[1][:80]


@pytest.mark.parametrize("lesson, control, act, watched", CASES, ids=[case[0][:2] for case in CASES])
def test_policy_view_hides_code_and_widgets_are_live(
    tmp_path: Path, lesson: str, control: str, act: Callable[[object], None], watched: str
) -> None:
    executable = chromium_path()
    root = tmp_path / "course"
    shutil.copytree(REPO / "lessons", root / "lessons")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = lesson.removesuffix(".ipynb")
    with jupyterlab_server(root) as url, chromium_page(executable, height=PAGE_HEIGHT) as page:
        start = time.perf_counter()
        page.goto(policy_view_url(url, f"lessons/{lesson}"), timeout=RENDER_TIMEOUT_MS)
        try:
            page.locator(control).first.wait_for(timeout=RENDER_TIMEOUT_MS)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / f"policy_view_{stem}_FAILED.png"))
            raise
        record_timing("policy view", f"{lesson} (render in Voilà)", time.perf_counter() - start)
        # While it ran, the reader saw how far it had got and which section was running.
        progress = page.evaluate("() => window.toychatProgress || []")
        assert progress, "no progress shown while the lesson ran"
        assert progress[-1].startswith("Running the lesson: "), progress[-1]
        assert any("(now: " in line for line in progress), progress[:3]
        text = page.inner_text("body")
        assert "Traceback" not in text, "a cell failed in the policy view"
        errors = page.locator(ERROR_OUTPUT).all_inner_texts()
        assert errors == [], f"a cell failed in the policy view: {errors[:1]}"
        assert VOILA_CELL_ERROR not in text, "a cell failed in the policy view"
        # No code: no editor, no input area with content, and none of the lesson's code lines in the page.
        assert (
            page.locator(
                ".jp-InputArea-editor:visible, .cm-editor:visible, .jp-CodeCell .jp-InputArea pre:visible"
            ).count()
            == 0
        )
        shown = [line for line in code_lines(REPO / "lessons" / lesson) if line in text]
        assert not shown, f"code visible in the policy view: {shown[:3]}"
        # Figures are drawn, and the markdown (boxes, headings) is there.
        assert page.locator(".jp-OutputArea-output img").count() >= 1, "no figure in the policy view"
        assert page.locator(".jp-OutputArea-output img:not([alt])").count() == 0, "a figure without alt text"
        assert ":::" not in text, "a MyST box shown as raw text (toychat.policy_view not enabled?)"
        assert page.locator("h1").count() >= 1
        # Prose at a readable measure (the course's stylesheet), and figures a screen can show whole.
        assert page.locator(PROSE).count() > 0, "no prose found to measure"
        too_long = prose_lines_too_long(page, "body")
        assert not too_long, f"lines of prose too long in the policy view: {too_long[:3]}"
        tall = page.evaluate(
            "() => [...document.querySelectorAll('.jp-OutputArea-output img')]"
            ".filter((img) => img.naturalHeight > window.innerHeight).map((img) => img.naturalHeight)"
        )
        assert not tall, f"figures taller than the {PAGE_HEIGHT}px window: {tall}"

        target = page.locator(watched).first
        target.scroll_into_view_if_needed()
        before = target.inner_text()
        act(page)
        page.wait_for_function(
            "([selector, before]) => { const el = document.querySelector(selector); "
            "return el && el.innerText !== before; }",
            arg=[watched, before],
            timeout=UPDATE_TIMEOUT_MS,
        )
        after = target.inner_text()
        assert after != before
        target.screenshot(path=str(ARTIFACTS / f"policy_view_{stem}.png"))
        shut_down_kernels(url)
