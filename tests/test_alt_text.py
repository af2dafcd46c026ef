"""Numbers in a figure's alt text come from the figure's data, not from typing.

Two checks, neither needing a kernel here:

* a lesson's ``set_alt_text(...)`` call types no number in its string literals except the reviewed
  ones below (fixed by a standard or by the figure's construction): every other number is an
  expression over the data the figure is drawn from;
* :func:`toychat.figures.unsupported_numbers`, which ``tests/test_notebooks.py::test_lesson_executes``
  applies to every figure a lesson shows, fails an alt text whose number the figure does not show.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import matplotlib
import nbformat
import pytest

from support.nbtools import LESSONS, REPO
from toychat.figures import figure_numbers, set_alt_text, unsupported_numbers

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend

_NUMBER = re.compile(r"(?<![\w.])[0-9](?:[0-9,.]*[0-9])?%?")

#: Numbers a lesson's alt text may type, with why each is not the code's to compute.
TYPED: dict[str, dict[str, str]] = {
    "01": {
        "0": "the byte scale, 0-255",
        "255": "the byte scale, 0-255",
        "256": "the number of byte values",
        "8": "bits per byte, the most entropy a byte can carry",
        "10": "the line-feed byte",
        "32": "the space byte, the lowest printable ASCII character",
        "126": "the highest printable ASCII character",
        "97": "ASCII 'a'",
        "122": "ASCII 'z'",
        "128": "ASCII text XORed with ASCII text stays below 128",
        "40": "the shape of the XOR of the course's two fixed passages (checked against the figure as it runs)",
        "64": "the shape of the XOR of the course's two fixed passages (checked against the figure as it runs)",
        "100": "the shape of the XOR of the course's two fixed passages (checked against the figure as it runs)",
    },
    "02": {"0": "the axis starts at no differing bit", "256": "a fingerprint's bits (SHA-256)"},
    "03": {
        "09": "the simulated clock's start and end hours",
        "00": "the simulated clock's start, 09:00",
        "50": "the simulated clock's end, 09:50",
        "20": "message_timeline's legend sizes",
        "40": "message_timeline's legend sizes",
        "60": "message_timeline's legend sizes",
    },
    "04": {"32": "the bytes of one SHA-256 hash in a proof"},
    "05": {"32": "a message key's bytes", "0": "the byte scale, 0-255", "255": "the byte scale, 0-255"},
    "06": {"0": "the axis's start (no differing bit)", "32": "the axis's end, xmax=32", "0%": "no bar is drawn at 0%"},
    "07": {"0%": "no bar is drawn at 0%"},
    "08": {"5": "WhatsApp's choice of the last five messages", "0": "a share's scale", "1": "a share's scale"},
    "09": {"0%": "no bar is drawn at 0%", "1": "a rate written 1 in N (N computed)"},
}


def _alt_text_literals(path: Path) -> list[str]:
    """The string literals inside every ``set_alt_text(...)`` call of a notebook's code, outside the
    ``{…}`` of an f-string (those are expressions: their format specs are not typed numbers)."""
    found: list[str] = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code" or "set_alt_text" not in cell.source:
            continue
        tree = ast.parse(
            "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        )
        for call in ast.walk(tree):
            name = getattr(call, "func", None)
            if not isinstance(call, ast.Call) or getattr(name, "id", getattr(name, "attr", "")) != "set_alt_text":
                continue
            inside = {id(n) for f in ast.walk(call.args[1]) if isinstance(f, ast.FormattedValue) for n in ast.walk(f)}
            found += [
                n.value
                for n in ast.walk(call.args[1])
                if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in inside
            ]
    return found


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: str(path.relative_to(REPO)))
def test_alt_text_types_only_reviewed_numbers(path: Path) -> None:
    typed = {number for text in _alt_text_literals(path) for number in _NUMBER.findall(text)}
    allowed = TYPED.get(path.name[:2], {})
    assert typed <= set(allowed), (
        f"{path.name}: alt text types {sorted(typed - set(allowed))}; compute them from the figure's data "
        "in the f-string, or add them to TYPED with the reason they are not the code's"
    )
    unused = sorted(set(allowed) - typed)
    assert unused == [], f"{path.name}: TYPED allows numbers the alt text no longer types, remove them: {unused}"


def test_the_literal_reader_skips_expressions() -> None:
    # lesson 09's `{share:.0%}` and `{count:,.0f}` are expressions, not typed numbers
    assert sorted(set(_NUMBER.findall("".join(_alt_text_literals(LESSONS[9]))))) == ["0%", "1"]


@pytest.fixture
def bars() -> object:
    fig, ax = plt.subplots()
    ax.bar(["kept", "lost"], [924, 76])
    ax.set_title("Toy: 92% of 1,000 reports kept")
    yield fig
    plt.close(fig)


def test_alt_text_that_agrees_with_the_figure_passes(bars: object) -> None:
    assert unsupported_numbers("Two bars: 924 reports kept and about 80 lost, 92% of 1,000.", bars) == []


@pytest.mark.parametrize("wrong", ["925", "77", "93%", "1,100"])
def test_alt_text_that_disagrees_with_the_figure_fails(bars: object, wrong: str) -> None:
    assert unsupported_numbers(f"Two bars; {wrong} is stated.", bars) == [wrong]


def test_a_histograms_values_and_threshold_counts_are_its_data() -> None:
    values = [0] * 20 + [2] * 15 + [6] * 9 + [10] * 7 + [13] * 5 + [31] * 2
    fig, ax = plt.subplots()
    ax.hist(values, bins=range(0, 36, 4))
    ax.axvline(8)
    text = "58 distances from 0 to 31, median 2; 14 lie beyond the threshold at 8."
    set_alt_text(fig, text)
    assert unsupported_numbers(text, fig) == ["58", "31"]  # the bars show neither the count nor the largest
    set_alt_text(fig, text, data=[values])
    assert unsupported_numbers(text, fig) == []
    assert {58.0, 31.0, 14.0} <= figure_numbers(fig)
    plt.close(fig)
