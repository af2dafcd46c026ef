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
