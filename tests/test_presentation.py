"""The course's one table style and one slider: what a reader sees, pinned."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from toychat.tables import EMPTY, format_cell, show_table
from toychat.widgets import choice_slider


def test_table_has_no_index_left_aligned_text_and_full_quotes() -> None:
    quote = "A long quotation " * 20
    html = show_table(pd.DataFrame({"quote": [quote], "n": [3]}, index=[7])).data
    assert quote.strip() in html, "quotes are shown in full, never cut"
    assert ">quote</th>" in html
    assert ">7<" not in html, "the row index is not shown"
    assert "<style" not in html, "JupyterLab strips <style> from untrusted output: styles are inline"
    # Text left-aligned, header and cell; the number column's header right-aligned over its numbers.
    assert '<th style="text-align:left;' in html
    assert '<td style="text-align:left;' in html
    assert '<th style="text-align:right;' in html
    assert html.count("text-align:left") == 2, "one text header, one text cell: nothing else left-aligned"
    assert '<td class="num" style="text-align:right;' in html, "numbers align right"
    assert ">3</td>" in html, "numbers align right"
    assert html.count("min-width:") == 1, "the prose column gets room to be read, the others not"
    assert "table-layout:auto" in html, "columns share the width by content, not equally (JupyterLab fixes layouts)"
    assert html.count("overflow-wrap:anywhere") == 1, "only prose may break mid-word"


def test_table_formats_times_lists_blanks_and_percentages() -> None:
    table = pd.DataFrame(
        {
            "when": [pd.Timestamp("2024-01-05 14:03:59", tz="UTC")],
            "lessons": [["03", "04", "06"]],
            "empty": [None],
            "recall": [0.8125],
        }
    )
    html = show_table(table, percent=["recall"]).data
    assert "2024-01-05 14:03 UTC" in html
    assert "+00:00" not in html
    assert "03, 04, 06" in html
    assert f">{EMPTY}</td>" in html
    assert "81.2%" in html


def test_long_tables_scroll_and_short_ones_do_not() -> None:
    long_html = show_table(pd.DataFrame({"n": range(40)}), max_rows_visible=10).data
    short_html = show_table(pd.DataFrame({"n": range(5)}), max_rows_visible=10).data
    assert "max-height:330px" in long_html
    assert "max-height:330px" not in short_html
    assert long_html.count("<tr>") == 41, "every row is there, none cut"


def test_table_names_a_percent_column_it_cannot_find() -> None:
    with pytest.raises(KeyError, match="recal"):
        show_table(pd.DataFrame({"recall": [0.5]}), percent=["recal"])


def test_series_keeps_its_index_as_a_column() -> None:
    html = show_table(pd.Series({"alpha": 1, "beta": 2}, name="count")).data
    assert ">alpha</td>" in html
    assert ">count</th>" in html


@pytest.mark.parametrize(
    "value, expected",
    [(1234567, "1,234,567"), (2.0, "2"), (0.01234, "0.0123"), (True, "yes"), (float("nan"), EMPTY)],
)
def test_cells(value: object, expected: str) -> None:
    assert format_cell(value) == expected


def test_slider_reads_in_units_and_fits_its_description() -> None:
    description = "Report rate (% of victims who report)"
    slider = choice_slider(description, [0.0001, 0.0008, 0.01], value=0.0008, fmt="{:.2%}")
    assert slider.label == "0.08%"
    assert slider.value == 0.0008
    assert slider.description == description
    width = float(slider.description_width.removesuffix("em"))
    assert width >= len(description) * 0.5, "the description has room to be read in full"
    assert slider.labels == ["0.01%", "0.08%", "1.00%"]
    assert slider.index == 1


def test_slider_works_with_interactive_output() -> None:
    import ipywidgets as widgets

    slider = choice_slider("Prevalence", [0.1, 0.2, 0.4], value=0.2)
    seen: list[float] = []
    widgets.interactive_output(lambda prevalence: seen.append(prevalence), {"prevalence": slider})
    slider.index = 2  # what the browser does when the reader moves it
    assert seen == [0.2, 0.4]
    assert slider.value == 0.4
    assert slider.label == "0.4"
    assert isinstance(widgets.interactive(lambda p: p, p=slider).children[0], type(slider))
    with pytest.raises(Exception, match="not one of the slider's stops"):
        slider.value = 0.3


def test_slider_refuses_a_start_between_stops() -> None:
    with pytest.raises(ValueError, match="not one of the stops"):
        choice_slider("Prevalence", [0.1, 0.2], value=0.15)


def test_figures_carry_alt_text_into_html() -> None:
    import matplotlib.pyplot as plt

    from toychat.figures import alt_text, figure_html, register, set_alt_text

    fig, (left, right) = plt.subplots(1, 2)
    fig.suptitle("Scanning finds copies on plaintext, none on ciphertext")
    left.set(title="Plaintext", xlabel="edit", ylabel="detected (%)")
    right.set(title="E2EE")
    assert alt_text(fig) == (
        "Figure: Scanning finds copies on plaintext, none on ciphertext. "
        "Plaintext (x axis: edit; y axis: detected (%)). E2EE."
    )
    set_alt_text(fig, 'Two bars: "plaintext" 100%, E2EE 0%.')
    html = figure_html(fig)
    assert 'alt="Two bars: &quot;plaintext&quot; 100%, E2EE 0%."' in html
    assert html.startswith('<img class="toychat-figure"')
    assert "data:image/png;base64," in html
    with pytest.raises(ValueError, match="empty"):
        set_alt_text(fig, "  ")
    assert register() is False, "outside IPython there is nothing to register with"
    plt.close(fig)


@pytest.mark.notebook
def test_a_kernel_shows_figures_with_alt_text() -> None:
    """In a real kernel with the inline backend (which clears figure formatters when it loads),
    a figure drawn after importing toychat.plots is shown as an <img> with alt text."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import toychat.plots\nimport matplotlib.pyplot as plt\n"
            "fig, ax = plt.subplots()\nax.set(title='Flat', xlabel='byte')\nplt.show()"
        )
    ]
    NotebookClient(nb, kernel_name="python3").execute()
    [output] = nb.cells[0].outputs
    assert 'alt="Figure: Flat (x axis: byte)."' in output.data["text/html"]
    assert "image/png" in output.data, "the PNG stays for tools that want it"


def test_policy_view_turns_myst_boxes_into_html_boxes() -> None:
    """Voila renders Markdown with nbconvert, which shows MyST admonitions as raw ':::' lines;
    the course's server extension rewrites them before Voila renders a lesson."""
    import nbformat

    from toychat.policy_view import prelaunch_hook

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(":::{admonition} Content note\n:class: warning\nNo real material.\n:::"),
        nbformat.v4.new_markdown_cell("Text with :::colons::: stays text."),
        nbformat.v4.new_code_cell(":::{admonition} not markdown\n:::"),
    ]
    out = prelaunch_hook(None, nb, ".")
    assert "window.voila_process" in out.cells[0].source, "first, the progress display"
    box = out.cells[1].source
    assert box.startswith('<div class="admonition warning" role="note" style="border-left:6px solid #E69F00;')
    assert ">Content note</p>" in box
    assert "\n\nNo real material.\n\n</div>" in box
    assert ":::" not in box
    assert out.cells[2].source == "Text with :::colons::: stays text."
    assert out.cells[3].source.startswith(":::"), "code cells are left alone"


def test_the_policy_view_extension_is_enabled_by_the_install() -> None:
    import json
    from pathlib import Path

    config = json.loads((Path(__file__).parent.parent / "jupyter-config" / "toychat.json").read_text())
    assert config["ServerApp"]["jpserver_extensions"] == {"toychat.policy_view": True}
    requirements = (Path(__file__).parent.parent / "requirements.txt").read_text().splitlines()
    assert "./jupyter-config" in requirements


def test_whole_numbers_keep_the_decimals_of_their_column() -> None:
    html = show_table(pd.DataFrame({"ratio": [9.0, 2.7, 0.036], "count": [3.0, 4.0, 5.0]})).data
    assert ">9.00</td>" in html, "a whole number beside 2.70 is shown as 9.00, not 9"
    assert ">2.70</td>" in html
    assert ">0.036</td>" in html
    assert ">3</td>" in html, "a column of whole numbers stays without decimals"


def test_prose_columns_share_the_width_by_what_they_say() -> None:
    table = pd.DataFrame(
        {"id": ["C1"], "who": ["Jane Doe, a named charity (child safety) " * 2], "quote": ["word " * 80]}
    )
    html = show_table(table).data
    # sqrt(82) : sqrt(400) of 85% of the table: 26% for the name, 59% for the quote.
    assert "width:26%;min-width:8em" in html, "the name gets a share of the room"
    assert "width:59%;min-width:8em" in html, "the quote, saying five times as much, gets more"
    cells = html.split("<td")[1:]
    assert ";width:" not in cells[0], "the id column is not given a share"


def _header_and_cells(html: str, column: int) -> tuple[str, list[str]]:
    """The style of a column's header and of each of its cells (0-based column)."""
    head = html.split("<thead>")[1].split("</thead>")[0].split("<th ")[1 + column]
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    cells = [row.split("<td ")[1 + column] for row in body.split("<tr>")[1:]]
    return head, cells


def test_every_header_is_aligned_like_its_column() -> None:
    table = pd.DataFrame({"who": ["NCA", "Meta"], "claims": [12, 7], "recall": [0.5, 0.25], "note": ["a", "b"]})
    html = show_table(table, percent=["recall"]).data
    for column in range(4):
        head, cells = _header_and_cells(html, column)
        align = head.split("text-align:")[1].split(";")[0]
        for cell in cells:
            assert f"text-align:{align};" in cell, f"column {column}: header {align}, a cell not"
    assert _header_and_cells(html, 1)[0].startswith('style="text-align:right;'), "a number header sits over its numbers"


def test_headers_are_words_not_variable_names() -> None:
    html = show_table(pd.DataFrame({"claim_id": ["C001"], "testable_by": ["a survey"]})).data
    assert ">claim id</th>" in html
    assert ">testable by</th>" in html
    assert "_" not in html.split("<thead>")[1].split("</thead>")[0]


def test_tiny_probabilities_are_words_not_e_notation() -> None:
    html = show_table(pd.DataFrame({"chance": [2.4e-123, 2.4e-5, 0.25]})).data
    assert not re.search(r"\de-\d", html), "no 2.4e-123"
    assert ">less than 1 in a billion</td>" in html
    assert ">about 1 in 42,000</td>" in html
    assert ">0.25</td>" in html


def test_lists_stored_as_text_read_as_lists() -> None:
    html = show_table(pd.DataFrame({"lessons": ["03;04;06", "09"], "quote": ["a; b", "x"]})).data
    assert ">03, 04, 06</td>" in html
    assert ">a; b</td>" in html, "prose with a semicolon and a space is left as written"


def test_no_blank_strip_under_a_table() -> None:
    html = show_table(pd.DataFrame({"n": [1]})).data
    table_style = html.split('<table class="toychat-table" style="')[1].split('"')[0]
    assert "margin:0;" in table_style, "JupyterLab's 1em under every table would show inside the box"


def test_a_scroll_box_shows_its_rows_of_prose_and_keeps_its_header() -> None:
    quotes = pd.DataFrame({"id": [f"C{i:03}" for i in range(40)], "quote": ["word " * 60] * 40})
    html = show_table(quotes, max_rows_visible=10, caption="Forty quotes").data
    height = int(html.split("max-height:")[1].split("px")[0])
    # Each quote is 300 characters, at least 3 lines at the quote's share of the width.
    assert height >= 10 * (30 + 2 * 20), "ten quotes of several lines each, not ten lines"
    assert 'data-rows-visible="10"' in html
    assert "position:sticky;top:0" in html.split("<thead>")[1], "the header stays in view while rows scroll"


def test_markdown_tables_on_the_site_look_like_course_tables() -> None:
    """One table style: the site's CSS gives Markdown tables the course table's text size, header
    and rules (the course tables carry theirs inline)."""
    from pathlib import Path

    css = (Path(__file__).parent.parent / "docs" / "_static" / "course.css").read_text()
    rules = dict(re.findall(r"([^{}]*table:not\(\.toychat-table\)[^{}]*)\{([^}]*)\}", css))
    table = " ".join(v for k, v in rules.items() if k.strip().endswith(")"))
    header = " ".join(v for k, v in rules.items() if k.strip().endswith(" th"))
    cell = " ".join(v for k, v in rules.items() if k.strip().endswith(" td"))
    course = show_table(pd.DataFrame({"a": ["x"]}), caption="c").data
    for declaration, where in (
        ("font-size: 14px", table),
        ("background: #f0f0f0", header),
        ("border-bottom: 2px solid #767676", header),
        ("border-bottom: 1px solid #dcdcdc", cell),
        ("padding: 4px 8px", cell),
    ):
        assert declaration in where, f"Markdown tables on the site lack {declaration}"
        assert declaration.replace(": ", ":") in course, f"course tables lack {declaration}"


def test_a_slider_label_sits_above_its_track() -> None:
    """Every track starts at the left edge, so the sliders of one group line up (a label beside the
    track pushed each track to wherever its own label ended)."""
    from toychat.widgets.controls import ChoiceSlider

    css = " ".join(ChoiceSlider._css.split())
    assert 'grid-template-areas: "label label" "input output"' in css
    assert "label { grid-area: label; text-align: left; }" in css
    assert "label.style.width" not in ChoiceSlider._esm, "no label width that moves the track"


def test_figures_carry_their_description_as_alt_text_and_show_a_short_caption() -> None:
    """The long description of a figure is its alt text, set on the image by the cell that draws it;
    under the figure the reader sees a short caption, not a paragraph headed "alt text"."""
    from pathlib import Path

    import nbformat

    figures = 0
    for lesson in sorted((Path(__file__).parent.parent / "lessons").glob("*.ipynb")):
        cells = nbformat.read(lesson, as_version=4).cells
        for index, cell in enumerate(cells):
            if cell.cell_type == "markdown":
                assert not re.search(r"Figure:\s*alt text", cell.source), f"{lesson.stem}: a visible alt-text paragraph"
            if cell.cell_type != "code" or "plt.show()" not in cell.source:
                continue
            figures += 1
            assert "set_alt_text(" in cell.source.split("plt.show()")[0], f"{lesson.stem} cell {index}: no alt text"
            following = cells[index + 1] if index + 1 < len(cells) else None
            assert following is not None, f"{lesson.stem} cell {index}: no caption"
            assert following.cell_type == "markdown", f"{lesson.stem} cell {index}: no caption"
            # what the reader sees: the anchors of toychat.prose are invisible comments
            caption = re.sub(r"<!--.*?-->", "", following.source).strip().split("\n\n")[0]
            assert caption.startswith("*Figure: "), f"{lesson.stem} cell {index}: no caption under the figure"
            assert len(caption) <= 120, f"{lesson.stem} cell {index}: the caption is a paragraph, not a caption"
    assert figures >= 20


def test_numbers_stored_as_text_get_one_number_of_decimals() -> None:
    """A column of mixed types (a transposed table, a list of results) that holds only numbers is
    shown as a number column: right-aligned, one number of decimals, never "1" beside "2.50"."""
    table = pd.DataFrame({"measure": ["a", "b", "c"], "value": pd.Series([1, 2.5, None], dtype=object)})
    html = show_table(table).data
    assert ">1.00</td>" in html, "a whole number keeps its column's decimals"
    assert ">2.50</td>" in html
    assert ">1</td>" not in html
    assert f">{EMPTY}</td>" in html
    assert html.count('<td class="num"') == 3, "the numbers are right-aligned as numbers"


def test_policy_view_draws_markdown_tables_like_course_tables() -> None:
    """Voilà draws a Markdown table smaller and unbordered; the course's hook gives it the course
    table's style, keeping the alignment the Markdown asks for."""
    import nbformat

    from toychat.policy_view import prelaunch_hook

    nb = nbformat.v4.new_notebook()
    table = "| measurement | value |\n|---|--:|\n| recall | 81% |\n| precision | 4% |"
    nb.cells = [nbformat.v4.new_markdown_cell(f"## Key measurements\n\n{table}\n\nSimulated.")]
    out = prelaunch_hook(None, nb, ".").cells[1].source  # after the progress display
    assert out.startswith('## Key measurements\n\n<div class="toychat-table-box"')
    assert out.endswith("</div>\n\nSimulated.")
    course = show_table(pd.DataFrame({"a": ["x"]})).data
    table_style = course.split('<table class="toychat-table" style="')[1].split('"')[0]
    assert f'<table class="toychat-table" style="{table_style}">' in out, "the course table's text size and rules"
    assert '<th style="text-align:right;background:#f0f0f0;' in out, "the header aligned like its column"
    assert '<td style="text-align:right;padding:4px 8px;border-bottom:1px solid #dcdcdc;' in out
    assert "|---|" not in out


def test_short_text_columns_keep_room_beside_prose() -> None:
    """A short label beside a long quote keeps room for a line or two, not a word a line; in a
    table of many prose columns it keeps only what is left once they have their minimum."""
    table = pd.DataFrame(
        {"attempt": ["replay the report to another platform", "edit"], "quote": ["word " * 80, "x"], "n": [1, 2]}
    )
    html = show_table(table).data
    first_row = html.split("<tbody><tr>")[1].split("</tr>")[0].split("<td ")[1:]
    assert "min-width:8.0em;" in first_row[0], "the attempt column keeps room for 16 characters a line"
    assert "min-width:8em;" in first_row[1], "the quote keeps its share"
    assert "min-width" not in first_row[2], "numbers never wrap and need no room kept"
    crowded = pd.DataFrame({f"prose {i}": ["word " * 20] for i in range(6)} | {"label": ["a short label text"]})
    label = show_table(crowded).data.split("<td ")[-1]
    assert "min-width:8.0em" not in label, "six prose columns at their minimum leave less room"


def test_short_labels_and_times_stay_on_one_line() -> None:
    """Lesson 08 at 1280 px drew "2024-01-08 09:05" over "UTC" and "reported" over "message"
    beside a column with room to spare (issue 29)."""
    table = pd.DataFrame(
        {
            "role": ["reported message", "context"],
            "sent_at": pd.to_datetime(["2024-01-08 09:05", "2024-01-08 09:07"]).tz_localize("UTC"),
            "text": ["word " * 20, "hi"],
        }
    )
    html = show_table(table).data
    head, roles = _header_and_cells(html, 0)
    _, times = _header_and_cells(html, 1)
    _, texts = _header_and_cells(html, 2)
    assert all("white-space:nowrap;" in cell for cell in roles + times)
    assert "white-space:nowrap;" in head, "a short header stays on one line over its column"
    assert all("white-space:nowrap;" not in cell for cell in texts), "prose wraps"


def test_keeping_labels_whole_never_widens_a_table_past_its_box() -> None:
    """Twelve columns of 24-character labels cannot all be kept on one line in 56 em."""
    table = pd.DataFrame({f"column {i}": ["a label of 24 characters"] for i in range(12)})
    html = show_table(table).data
    whole = html.split("<tbody>")[1].count("white-space:nowrap;")
    assert 0 < whole < 12


def test_a_table_without_prose_is_as_wide_as_its_columns() -> None:
    """A count beside a name is read across a short gap, not across the output area."""
    compact = show_table(pd.DataFrame({"share assumed": [0.0, 0.25], "flagged": [0.8, 0.6]})).data
    assert "width:auto;" in compact.split('<table class="toychat-table" style="')[1].split('"')[0]
    assert "width:fit-content;" in compact.split('class="toychat-table-box" style="')[1].split('"')[0]
    wide = show_table(pd.DataFrame({"id": ["C1"], "quote": ["word " * 30]})).data
    assert "width:100%;" in wide.split('<table class="toychat-table" style="')[1].split('"')[0]
    assert "fit-content" not in wide


def test_the_course_stylesheet_reaches_jupyterlab_and_the_policy_view() -> None:
    """Prose at a readable measure in JupyterLab (its custom.css, turned on and served by the
    course's server extension) and in the policy view (a raw HTML cell Voila writes as it is)."""
    import logging
    from types import SimpleNamespace

    import nbformat

    from toychat import policy_view

    css = policy_view.STYLESHEET.read_text(encoding="utf-8")
    assert "max-width: 68ch" in css
    assert "word-break: normal" in css
    # JupyterLab: custom.css turned on unless a deployment chose, and served from the course's folder.
    chosen = SimpleNamespace(config={"LabApp": {"custom_css": False}}, custom_css=False)
    unset = SimpleNamespace(config={}, custom_css=False)
    paths = ["/home/user/.jupyter/custom", "/jupyter_server/static/custom"]
    server = SimpleNamespace(
        extension_manager=SimpleNamespace(extension_apps={"jupyterlab": [chosen, unset]}),
        web_app=SimpleNamespace(settings={"static_custom_path": paths}),
        log=logging.getLogger("test"),
    )
    policy_view._link_jupyter_server_extension(server)
    assert unset.custom_css is True
    assert chosen.custom_css is False, "a deployment's own choice stands"
    policy_view._serve_stylesheet(server)
    policy_view._serve_stylesheet(server)
    assert paths == [
        "/home/user/.jupyter/custom",
        str(policy_view.STYLESHEET.parent),
        "/jupyter_server/static/custom",
    ], "after the user's own custom.css, once"
    # The policy view: the stylesheet is the lesson's last cell, an HTML block (Voila escapes raw cells).
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Text.")]
    last = policy_view.prelaunch_hook(None, nb, ".").cells[-1]
    assert last.cell_type == "markdown"
    assert last.source.startswith(f'<style id="toychat-style">\n{css}')
    assert last.source.endswith("</style>")


def test_the_policy_view_says_how_far_a_lesson_has_run() -> None:
    """Voila's "Executing 27 of 55" counts Markdown cells and stalls on a heavy one; the policy
    view shows a bar, the share run and the section running (issue 29: lesson 09's spinner)."""
    import json

    import nbformat

    from toychat.policy_view import prelaunch_hook

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Lesson\n\nIntro."),
        nbformat.v4.new_code_cell("setup()"),
        nbformat.v4.new_markdown_cell("## 1. A synthetic platform\n\nText."),
        nbformat.v4.new_code_cell("simulate()"),
        nbformat.v4.new_markdown_cell("## Summary"),
    ]
    out = prelaunch_hook(None, nb, ".")
    script = out.cells[0].source
    assert out.cells[0].cell_type == "markdown"
    assert script.startswith('<script id="toychat-progress">')
    assert "$" not in script, "the Markdown renderer would read a dollar as mathematics"
    sections = json.loads(script.split("const SECTIONS = ")[1].split(";\n")[0])
    # Voila calls voila_process(k, n) once cell k - 1 has run: k = 3 (the lesson's setup done)
    # means the platform's code runs next.
    assert len(sections) == len(out.cells) + 1
    assert sections[1] == "Lesson"
    assert sections[3] == "1. A synthetic platform"
    assert sections[-1] == ""
    assert 'createElement("progress")' in script
    assert "textContent" in script
    assert "innerHTML" not in script, "headings are set as text, never as HTML"
