"""toychat.widgets.interact: the lessons' controls, without the capture that stalls headless runners."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import ipywidgets as widgets
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from toychat.widgets import choice_slider, interact
from toychat.widgets.interact import outputs_of

LESSONS = sorted((Path(__file__).resolve().parents[1] / "lessons").glob("*.ipynb"))


@pytest.fixture(autouse=True)
def shell() -> Iterator[InteractiveShell]:
    """An IPython shell, as in a kernel: display() goes to its display publisher.  Cleared
    afterwards, so later tests run outside IPython as before."""
    yield InteractiveShell.instance()
    InteractiveShell.clear_instance()


def test_outputs_keep_what_was_printed_displayed_and_returned() -> None:
    def view(n: int) -> pd.DataFrame:
        print("rows:", n)
        return pd.DataFrame({"n": range(n)})

    outputs = outputs_of(view, n=2)
    assert outputs[0] == {"output_type": "stream", "name": "stdout", "text": "rows: 2\n"}
    assert outputs[1]["output_type"] == "display_data"
    assert "text/plain" in outputs[1]["data"]


def test_an_error_is_shown_as_its_traceback_and_the_control_keeps_working() -> None:
    def view(n: int) -> None:
        if n == 0:
            raise ValueError("no rows to show")
        print(n)

    slider = choice_slider("Rows", [0, 1, 2], value=1)
    box = interact(view, n=slider)
    out = box.children[-1]
    slider.value = 0
    assert out.outputs[-1]["name"] == "stderr"
    assert "ValueError: no rows to show" in out.outputs[-1]["text"]
    slider.value = 2
    assert out.outputs == ({"output_type": "stream", "name": "stdout", "text": "2\n"},)


def test_the_result_follows_every_control_and_never_captures_a_cell() -> None:
    """The Output widget's msg_id stays empty, so a runner has nothing to send back (the stall)."""
    seen: list[tuple[int, str]] = []
    slider = choice_slider("Number", [1, 2, 3], value=1)
    menu = widgets.Dropdown(options=["a", "b"], value="a")
    box = interact(lambda n, s: seen.append((n, s)) or print(n, s), n=slider, s=menu)
    assert box.children[:2] == (slider, menu)
    assert "widget-interact" in box._dom_classes
    slider.value = 3
    menu.value = "b"
    assert seen == [(1, "a"), (3, "a"), (3, "b")]
    out = box.children[-1]
    assert isinstance(out, widgets.Output)
    assert out.msg_id == ""
    assert out.outputs[-1]["text"] == "3 b\n"


def test_no_lesson_uses_ipywidgets_interact() -> None:
    """ipywidgets' interact captures through msg_id; the lessons use the course's instead."""
    users = [
        path.name
        for path in LESSONS
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]
        if cell["cell_type"] == "code" and "widgets.interact(" in "".join(cell["source"])
    ]
    assert users == []
