"""Every lesson in a real JupyterLab, in real headless Chromium, looked at as a learner would.

For each lesson: Run All through JupyterLab's menu; then no error output, every widget rendered,
no widget label, button, dropdown, readout or placeholder cut off, no figure wider than its output
area or taller than the notebook's visible area, no line of prose over 100 characters, and axe-core
finds no serious or critical violation in the course's own outputs and widgets (violations in
JupyterLab's own interface are listed in the report, not failed).  Then every control is driven
through its empty and extreme states (support.browser.drive_every_control: buttons with nothing
typed, empty and over-long text, each slider's first and last stop, every drop-down option and
toggle), and no action may cause a traceback or an error, on the page or from the kernel.  A full-length
screenshot of each executed lesson and the axe report go to tests/artifacts/."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from support.browser import (
    axe_in_jupyterlab,
    chromium_page,
    chromium_path,
    copy_with_sentinel,
    drive_every_control,
    jupyterlab_server,
    look_like_a_user,
    notebook_screenshot,
    npm_install,
    run_all_cells,
    shut_down_kernels,
)
from support.nbtools import ARTIFACTS, LESSONS, record_timing

pytestmark = pytest.mark.browser


def _uses_widgets(path: Path) -> bool:
    nb = nbformat.read(path, as_version=4)
    return any(
        "widgets." in cell.source or "Widget(" in cell.source or "slider(" in cell.source
        for cell in nb.cells
        if cell.cell_type == "code"
    )


@pytest.fixture(scope="module")
def axe_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """axe-core's browser script, installed from npm into a temporary folder."""
    modules = npm_install(
        "axe-core@4",
        tmp_path_factory.mktemp("axe"),
        why="the accessibility check inside JupyterLab needs axe-core from npm",
    )
    return modules / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    """One JupyterLab serving sentinel copies of every lesson, and one Chromium page."""
    executable = chromium_path()
    root = tmp_path_factory.mktemp("lab") / "course"
    for lesson in LESSONS:
        copy_with_sentinel(lesson, root / "lessons" / lesson.name)
    _write_broken_controls(root / "probe")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with jupyterlab_server(root) as url, chromium_page(executable) as page:
        yield url, page


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.stem[:2] for lesson in LESSONS])
def test_lesson_in_jupyterlab(lesson: Path, lab: tuple[str, object], axe_script: Path) -> None:
    url, page = lab
    start = time.perf_counter()
    # A workspace per lesson, so JupyterLab does not also reopen the previous lesson in a hidden tab.
    page.goto(
        url.format(path=f"lessons/{lesson.name}").replace("/lab/tree/", f"/lab/workspaces/w{lesson.stem[:2]}/tree/")
    )
    try:
        try:
            run_all_cells(page)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / f"browser_{lesson.stem}_FAILED.png"))
            raise
        problems = look_like_a_user(page)
        if _uses_widgets(lesson) and page.locator(".jp-OutputArea-output .jupyter-widgets").count() == 0:
            problems.append("uses widgets but none rendered")
        ours, theirs = axe_in_jupyterlab(page, axe_script)
        (ARTIFACTS / f"axe_jupyterlab_{lesson.stem}.json").write_text(
            json.dumps({"course": ours, "jupyterlab": theirs}, indent=1), encoding="utf-8"
        )
        problems += [
            f"axe {v['impact']}: {v['id']} ({v['help']}) on {v['nodes']} of the course's elements, e.g. {v['targets']}"
            for v in ours
            if v["impact"] in ("serious", "critical")
        ]
        notebook_screenshot(page, ARTIFACTS / f"browser_{lesson.stem}.png")
        # Then every control through its empty and extreme states: no traceback, no error.
        driven = time.perf_counter()
        problems += drive_every_control(page)
        record_timing("browser", f"{lesson.name} (every control driven)", time.perf_counter() - driven)
    finally:
        shut_down_kernels(url)
    record_timing("browser", f"{lesson.name} (run all in JupyterLab)", time.perf_counter() - start)
    assert not problems, f"{lesson.name}:\n" + "\n".join(problems)


#: A notebook whose controls break: the driver must find each break (a check that cannot fail is
#: no check).  A slider whose last stop raises inside the course's interact (a traceback in the
#: widget's output), a button whose callback raises (sent by the kernel to no cell), and a
#: drop-down option that raises.
BROKEN_CONTROLS = [
    "import ipywidgets as widgets\nfrom IPython.display import display\n"
    "from toychat.widgets import choice_slider, interact",
    "def at(stop: int) -> None:\n    if stop == 3:\n        raise ValueError('the last stop breaks')\n"
    "    print('stop', stop)\n\n\ninteract(at, stop=choice_slider('Stop', [0, 1, 2, 3], value=1));",
    "button = widgets.Button(description='Break')\nbutton.on_click(lambda _: 1 / 0)\ndisplay(button)",
    "def pick(choice: str) -> None:\n    if choice == 'bad':\n        raise KeyError('a choice that matches nothing')\n"
    "    print(choice)\n\n\ninteract(pick, choice=widgets.Dropdown(options=['good', 'bad']));",
]


def _write_broken_controls(folder: Path) -> None:
    """``folder/broken_controls.ipynb``: :data:`BROKEN_CONTROLS`, with the sentinel cell."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in BROKEN_CONTROLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "source.ipynb")
    copy_with_sentinel(folder / "source.ipynb", folder / "broken_controls.ipynb")


def test_driving_the_controls_finds_every_break(lab: tuple[str, object]) -> None:
    """drive_every_control reports a traceback from a slider's extreme, a button and a drop-down
    option, each named by its action; and nothing from the controls that work."""
    url, page = lab
    page.goto(url.format(path="probe/broken_controls.ipynb").replace("/lab/tree/", "/lab/workspaces/wprobe/tree/"))
    try:
        run_all_cells(page, timeout_ms=90_000)
        problems = drive_every_control(page)
    finally:
        shut_down_kernels(url)
    found = "\n".join(problems)
    assert len(problems) == 4, found  # the button is pressed twice: before and after typing
    assert "slider 'Stop' at its max" in found
    assert "the last stop breaks" in found
    assert "button 'Break'" in found
    assert "ZeroDivisionError" in found
    assert "drop-down option 'bad'" in found
    assert "a choice that matches nothing" in found
