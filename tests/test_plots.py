"""The plot helpers: entropy figures and the accessible palette."""

from __future__ import annotations

import os

import matplotlib
import nacl.secret
import nacl.utils
import pytest

from toychat.plots import PALETTE, byte_entropy, byte_histogram, compare_byte_histograms

matplotlib.use("Agg")


def test_entropy_bounds() -> None:
    assert byte_entropy(b"") == 0.0
    assert byte_entropy(b"a" * 100) == 0.0
    assert byte_entropy(bytes(range(256)) * 4) == pytest.approx(8.0)
    assert byte_entropy(b"ab") == pytest.approx(1.0)


def test_ciphertext_is_near_maximal_entropy_and_text_is_not() -> None:
    text = ("The quick brown fox jumps over the lazy dog. " * 200).encode()
    box = nacl.secret.SecretBox(nacl.utils.random(32))
    ciphertext = box.encrypt(text).ciphertext
    assert byte_entropy(text) < 4.5
    assert byte_entropy(ciphertext) > 7.9
    assert byte_entropy(os.urandom(len(text))) > 7.9


def test_palette_is_okabe_ito() -> None:
    assert PALETTE["blue"] == "#0072B2"
    assert PALETTE["vermillion"] == "#D55E00"
    assert len(set(PALETTE.values())) == 8


def test_histogram_is_labelled() -> None:
    ax = byte_histogram(b"hello world", label="greeting")
    assert ax.get_xlabel()
    assert ax.get_ylabel()
    assert "greeting" in ax.get_title()
    assert "bits" in ax.get_title()
    fig = compare_byte_histograms(b"hello world", os.urandom(64))
    assert "plaintext" in fig._suptitle.get_text().lower()
    matplotlib.pyplot.close("all")


def test_distance_histogram_is_labelled_and_checks_input() -> None:
    from toychat.plots import distance_histogram

    fig = distance_histogram({"flipped": [120, 128, 131], "unrelated": [126, 129]}, n_bits=256, threshold=31)
    ax = fig.axes[0]
    assert ax.get_xlabel()
    assert ax.get_ylabel()
    assert "median 128 of 256" in ax.get_title()
    assert len(ax.get_legend().get_texts()) == 3
    with pytest.raises(ValueError):
        distance_histogram({}, n_bits=256)
    with pytest.raises(ValueError):
        distance_histogram({"empty": []}, n_bits=256)
    matplotlib.pyplot.close("all")


def test_key_strip_is_labelled() -> None:
    from toychat.plots import key_strip

    fig = key_strip([os.urandom(32) for _ in range(4)], labels=list("abcd"))
    ax = fig.axes[0]
    assert ax.get_xlabel()
    assert ax.get_ylabel()
    assert ax.get_title()
    assert [t.get_text() for t in ax.get_yticklabels()] == list("abcd")
    with pytest.raises(ValueError):
        key_strip([])
    matplotlib.pyplot.close("all")


def test_message_timeline_has_a_size_legend_and_no_pale_yellow() -> None:
    """Lesson 03's timeline: dot size is explained by a legend, and no pair is drawn in
    the palette's yellow, which is too pale to see on white."""
    import pandas as pd
    from matplotlib.colors import to_hex

    from toychat.plots import message_timeline

    log = pd.DataFrame(
        {
            "sent_at": pd.date_range("2024-01-05 14:00", periods=8, freq="5min", tz="UTC"),
            "sender": list("abcdefgh"),
            "recipient": list("hgfedcba"),
            "size_bytes": [20, 30, 40, 50, 60, 70, 80, 90],
        }
    )
    fig = message_timeline(log)
    legend = fig.axes[0].get_legend()
    assert legend is not None
    assert legend.get_title().get_text() == "message size"
    assert all("bytes" in text.get_text() for text in legend.get_texts())
    faces = {to_hex(c) for coll in fig.axes[0].collections for c in coll.get_facecolors()}
    assert PALETTE["yellow"].lower() not in faces
    matplotlib.pyplot.close("all")


def _every_course_figure() -> dict[str, object]:
    """One figure from each figure-drawing helper of toychat.plots, at sizes the lessons use
    and beyond (many rows, long titles), by name."""
    import numpy as np
    import pandas as pd

    from toychat import plots

    rng = np.random.default_rng(0)
    log = pd.DataFrame(
        {
            "sent_at": pd.date_range("2024-01-05 14:00", periods=12, freq="5min", tz="UTC"),
            "sender": [f"user{i}" for i in range(12)],
            "recipient": [f"user{11 - i}" for i in range(12)],
            "size_bytes": list(range(20, 140, 10)),
        }
    )
    bars = pd.DataFrame(
        {
            "sent": [f"kind {i}" for i in range(10)] * 3,
            "platform": ["plaintext"] * 10 + ["E2EE"] * 10 + ["E2EE + scanning"] * 10,
            "rate": list(rng.random(30)),
        }
    )
    curve = pd.DataFrame({"recall": [0.0, 0.5, 1.0], "precision": [1.0, 0.8, 0.1]})
    index = pd.MultiIndex.from_product([["plaintext platform", "E2EE platform"], ["a", "b", "c", "d", "e"]])
    techniques = pd.DataFrame(rng.random((10, 3)), index=index, columns=["x", "y", "z"])
    return {
        "compare_byte_histograms": plots.compare_byte_histograms(b"hello world" * 20, bytes(range(256))),
        "byte_histogram": plots.byte_histogram(b"hello").figure,
        "message_timeline": plots.message_timeline(log),
        "distance_histogram": plots.distance_histogram({"a": [1, 2, 3]}, n_bits=64, title="t " * 80),
        "key_strip": plots.key_strip([bytes(32)] * 30),
        "image_grid": plots.image_grid([np.zeros((8, 8))] * 30, labels=["a picture"] * 30, title="Grid"),
        "detection_bars": plots.detection_bars(bars, title="A long finding " * 10),
        "pr_plot": plots.pr_plot({"classifier": curve}, title="Precision and recall"),
        "technique_chart": plots.technique_chart(techniques, title="A finding " * 20),
    }


def test_every_figure_has_the_course_width_and_fits_a_small_screen() -> None:
    """One default size: every helper draws at the course's width, no taller than a 1280x720
    screen's notebook area, and its PNG (as JupyterLab receives it, trimmed to what is drawn)
    is neither shrunk by JupyterLab's 848-px output area nor taller than 600 px."""
    import io

    from PIL import Image

    from toychat.plots import FIGURE_WIDTH_IN, MAX_HEIGHT_IN

    for name, fig in _every_course_figure().items():
        width, height = fig.get_size_inches()
        assert width == FIGURE_WIDTH_IN, f"{name} is {width} in wide, not the course's {FIGURE_WIDTH_IN}"
        assert height <= MAX_HEIGHT_IN, f"{name} is {height} in tall"
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight", dpi=100)
        png_width, png_height = Image.open(buffer).size
        assert png_width <= 848, f"{name}: {png_width} px wide"
        assert png_height <= 600, f"{name}: {png_height} px tall"
    matplotlib.pyplot.close("all")


def test_subplots_keeps_the_width_and_caps_the_height() -> None:
    from toychat.plots import FIGURE_HEIGHT_IN, FIGURE_WIDTH_IN, MAX_HEIGHT_IN, subplots

    fig, _ = subplots()
    assert tuple(fig.get_size_inches()) == (FIGURE_WIDTH_IN, FIGURE_HEIGHT_IN)
    fig, _ = subplots(1, 2, height=9)
    assert tuple(fig.get_size_inches()) == (FIGURE_WIDTH_IN, MAX_HEIGHT_IN)
    with pytest.raises(TypeError):
        subplots(figsize=(12, 3))
    matplotlib.pyplot.close("all")


def test_zero_bars_carry_no_label() -> None:
    """A "0%" beside a bar that is not drawn reads as a missing bar (issue 29)."""
    import pandas as pd

    from toychat.plots import detection_bars

    table = pd.DataFrame({"sent": ["a", "b"], "platform": ["p", "p"], "rate": [0.0, 0.5]})
    fig = detection_bars(table, title="t")
    labels = [text.get_text() for text in fig.axes[0].texts]
    assert "0%" not in labels
    assert "50%" in labels
    matplotlib.pyplot.close("all")


def test_lessons_draw_at_the_course_size() -> None:
    """Lessons take the course's figure size from toychat.plots: no figsize of their own, no
    bare plt.subplots/plt.figure; a height other than the default only with its reason in a
    comment on the same line."""
    import json
    import re

    from support.nbtools import LESSONS

    for lesson in LESSONS:
        cells = json.loads(lesson.read_text(encoding="utf-8"))["cells"]
        for index, cell in enumerate(cells):
            if cell["cell_type"] != "code":
                continue
            for line in "".join(cell["source"]).splitlines():
                where = f"{lesson.name} cell {index}: {line.strip()}"
                assert "figsize" not in line, where
                assert not re.search(r"plt\.(subplots|figure)\(", line), where
                assert "set_size_inches" not in line, where
                if re.search(r"\bsubplots\([^)]*height=", line):
                    assert "#" in line.split("height=", 1)[1], f"{where}: say why it is not the default height"
