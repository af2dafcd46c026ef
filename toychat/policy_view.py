"""The policy view (Voilà) shows the lessons' boxes as boxes.

Lessons write their "For policy readers" and "Content note" boxes as MyST
admonitions, which JupyterLab (with jupyterlab-myst) and the course site render
as styled boxes.  Voilà renders Markdown with nbconvert, which does not know
MyST, so a policy reader would see the raw ``:::{admonition}`` lines.
:func:`prelaunch_hook` rewrites each admonition into an HTML box before Voilà
renders the lesson; the Markdown inside is left as Markdown.  This module is a
Jupyter server extension, enabled when the course is installed
(``jupyter-config/toychat.json``): it hands the hook to Voilà as
``VoilaConfiguration.prelaunch_hook``, unless a deployment set its own.

It also gives JupyterLab and the policy view the course's stylesheet
(``toychat/static/custom.css``: prose at a readable measure, printed output wrapped between
words).  JupyterLab loads ``/custom/custom.css`` when ``LabApp.custom_css`` is on: the extension
turns it on when it links (after JupyterLab has read its configuration, before it draws its page),
unless a deployment set it either way, and adds the course's folder to the places that address is
served from, after the user's own ``~/.jupyter/custom/``, so a user's own ``custom.css`` still
wins.  (A ``jupyter_server_config.d`` file cannot set it: Jupyter reads only the extensions to
enable from those.)  Voilà does not load that file, so :func:`prelaunch_hook` adds the stylesheet
to each lesson it shows.

>>> cell = ":::{admonition} For policy readers\\n:class: tip\\nThe **point**.\\n:::"
>>> print(admonitions_to_html(cell))  # doctest: +NORMALIZE_WHITESPACE
<div class="admonition tip" role="note"
     style="border-left:6px solid #009E73;background:#EEF8F4;padding:0.6em 1em;margin:1em 0;">
<p style="font-weight:700;margin:0 0 0.4em 0;">For policy readers</p>
<BLANKLINE>
The **point**.
<BLANKLINE>
</div>
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from toychat import kernel_wakeup

__all__ = [
    "STYLESHEET",
    "admonitions_to_html",
    "markdown_tables_to_html",
    "prelaunch_hook",
    "progress_cell",
    "style_cell",
]

#: The course's stylesheet for JupyterLab and the policy view.
STYLESHEET = Path(__file__).with_name("static") / "custom.css"

#: Border and background for each admonition class (Okabe-Ito colours; text stays black).
_COLOURS = {
    "tip": ("#009E73", "#EEF8F4"),
    "warning": ("#E69F00", "#FDF5E6"),
    "note": ("#0072B2", "#EEF4FA"),
}
_ADMONITION = re.compile(
    r"^:::\{admonition\}[ \t]*(?P<title>[^\n]*)\n(?::class:[ \t]*(?P<classes>[^\n]*)\n)?(?P<body>.*?)\n:::[ \t]*$",
    re.S | re.M,
)


def _box(match: re.Match[str]) -> str:
    classes = (match.group("classes") or "note").split()
    border, background = next((_COLOURS[c] for c in classes if c in _COLOURS), _COLOURS["note"])
    style = f"border-left:6px solid {border};background:{background};padding:0.6em 1em;margin:1em 0;"
    title = html.escape(match.group("title").strip())
    return (
        f'<div class="admonition {html.escape(" ".join(classes))}" role="note" style="{style}">\n'
        f'<p style="font-weight:700;margin:0 0 0.4em 0;">{title}</p>\n\n'
        f"{match.group('body').strip()}\n\n</div>"
    )


def admonitions_to_html(markdown: str) -> str:
    """``markdown`` with each MyST ``:::{admonition}`` block turned into an HTML box."""
    return _ADMONITION.sub(_box, markdown)


#: A Markdown pipe table: a header row, a separator row of dashes (and colons), then its rows.
_PIPE_TABLE = re.compile(r"^\|.*\|[ \t]*\n\|[ \t:|-]*-[ \t:|-]*\|[ \t]*\n(?:\|.*\|[ \t]*(?:\n|$))*", re.M)


def markdown_tables_to_html(markdown: str) -> str:
    """``markdown`` with each pipe table turned into an HTML table in the course's table style
    (:func:`toychat.tables.markdown_table_html`): Voilà would otherwise draw Markdown tables
    smaller and unbordered beside the course's own tables.

    >>> out = markdown_tables_to_html("Before.\\n\\n| a | b |\\n|---|---|\\n| 1 | 2 |\\n\\nAfter.")
    >>> out.startswith("Before.\\n\\n<div class=\\"toychat-table-box\\"") and out.endswith("</div>\\n\\nAfter.")
    True
    """
    from toychat.tables import markdown_table_html  # pandas: loaded when a lesson is shown, not at start

    return _PIPE_TABLE.sub(lambda match: markdown_table_html(match.group(0)) + "\n", markdown)


#: Hides the policy view's own cells (the stylesheet's and the progress display's): Voilà draws
#: every Markdown cell with padding, and these show nothing.
_HIDE_OWN_CELLS = "\n.jp-Cell:has(#toychat-style, #toychat-progress) { display: none; }\n"


def style_cell() -> Any:
    """A Markdown cell holding the course's stylesheet as an HTML block, which Voilà writes into
    the page as it is (it escapes a raw cell's HTML; Markdown's ``<style>`` block passes whole).

    >>> cell = style_cell()
    >>> cell.cell_type, cell.source.startswith('<style id="toychat-style">'), "max-width" in cell.source
    ('markdown', True, True)
    """
    import nbformat

    css = STYLESHEET.read_text(encoding="utf-8") + _HIDE_OWN_CELLS
    return nbformat.v4.new_markdown_cell(f'<style id="toychat-style">\n{css}</style>')  # type: ignore[no-untyped-call]


_HEADING = re.compile(r"^#{1,3}[ \t]+(?P<title>.+?)[ \t#]*$", re.M)

#: Replaces Voilà's "Executing 27 of 55" (a count of cells, Markdown included, that stalls for
#: half a minute on a heavy one) with what a reader can use: a progress bar, the share of the
#: lesson run, the section now running, and that the page appears when all of it has run.
#: Voilà calls ``voila_process(k, n)`` after running cell ``k - 1`` of ``n``; ``SECTIONS[k]``
#: names the section of the next code cell.  Each text shown is kept in
#: ``window.toychatProgress``, so a test can read what a reader saw.  (No ``$`` in it: the
#: Markdown renderer would read one as mathematics.)
_PROGRESS_SCRIPT = """<script id="toychat-progress">
(() => {
  const SECTIONS = %s;
  window.toychatProgress = window.toychatProgress || [];
  window.voila_process = (index, count) => {
    const loading = document.getElementById("loading");
    const text = document.getElementById("loading_text");
    if (!loading || !text) return;
    loading.style.display = "flex";
    const share = Math.round(100 * index / count);
    const section = SECTIONS[Math.min(index, SECTIONS.length - 1)] || "";
    const bar = document.createElement("progress");
    bar.max = count;
    bar.value = index;
    bar.setAttribute("aria-label", "Lesson running");
    bar.style.cssText = "width: min(24rem, 80vw); height: 0.8rem;";
    const line = document.createElement("div");
    line.textContent = "Running the lesson: " + share + "%% done" + (section ? " (now: " + section + ")" : "");
    const note = document.createElement("div");
    note.textContent = "The page appears when every part has run: a minute or two on a busy server.";
    note.style.cssText = "font-size: 0.8em; font-weight: normal; margin-top: 0.4em;";
    text.replaceChildren(bar, line, note);
    text.setAttribute("role", "status");
    window.toychatProgress.push(line.textContent);
  };
})();
</script>"""


def progress_cell(cells: Any) -> Any:
    """A Markdown cell with the policy view's progress display (:data:`_PROGRESS_SCRIPT`, an HTML
    block) for a lesson whose cells, once this one is inserted first, are ``cells``.

    >>> import nbformat
    >>> cells = [nbformat.v4.new_markdown_cell("## 1. Keys"), nbformat.v4.new_code_cell("x = 1")]
    >>> cell = progress_cell(cells)
    >>> '["1. Keys", "1. Keys", "1. Keys", ""]' in cell.source, cell.cell_type
    (True, 'markdown')
    """
    import json

    import nbformat

    # The section each cell belongs to, with the progress cell itself first.
    heading, section = "", [""]
    for cell in cells:
        if cell.cell_type == "markdown":
            titles = _HEADING.findall(cell.source)
            heading = titles[-1] if titles else heading
        section.append(heading)
    # After cell k-1 has run, the next code cell's section is what runs now.
    kinds = ["markdown", *(cell.cell_type for cell in cells)]
    sections = []
    for k in range(len(kinds) + 1):
        following = next((i for i in range(k, len(kinds)) if kinds[i] == "code"), None)
        sections.append(section[following] if following is not None else "")
    return nbformat.v4.new_markdown_cell(_PROGRESS_SCRIPT % json.dumps(sections, ensure_ascii=False))  # type: ignore[no-untyped-call]


def prelaunch_hook(handler: Any, notebook: Any, cwd: str) -> Any:
    """Voilà's pre-launch hook: the lesson with its admonitions as HTML boxes, its Markdown
    tables in the course's table style, a progress display while it runs (a first, invisible
    cell: :func:`progress_cell`) and the course's stylesheet (a last, invisible cell: Voilà shows
    the page once every cell has run, so it applies from the start)."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = markdown_tables_to_html(admonitions_to_html(cell.source))
    notebook.cells.append(style_cell())
    notebook.cells.insert(0, progress_cell(notebook.cells))
    return notebook


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "toychat.policy_view"}]


def _link_jupyter_server_extension(server_app: Any) -> None:
    """Turn on JupyterLab's ``custom.css`` (see the module's text), unless it was configured.
    Extensions link in alphabetical order, so JupyterLab's app exists and has read its
    configuration; it reads ``custom_css`` only when it loads, after every extension has linked."""
    for lab in server_app.extension_manager.extension_apps.get("jupyterlab", ()):
        if "custom_css" not in lab.config.get("LabApp", {}) and hasattr(lab, "custom_css"):
            lab.custom_css = True


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Give Voilà the hook.  Jupyter loads extensions in alphabetical order, so this runs
    before Voilà's own extension reads its configuration."""
    voila = server_app.config.VoilaConfiguration
    if "prelaunch_hook" not in voila:
        voila.prelaunch_hook = prelaunch_hook
        server_app.log.info("toychat: Voilà shows the lessons' MyST boxes as boxes")
    _serve_stylesheet(server_app)
    # Voilà runs each lesson through nbclient in this process: guard its waits against
    # ZeroMQ's lost wake-ups (toychat.kernel_wakeup explains the hang this prevents).
    if kernel_wakeup.install():
        server_app.log.info(
            "toychat: kernel replies are checked every %.0f s while a lesson runs", kernel_wakeup.CHECK_EVERY_S
        )


def _serve_stylesheet(server_app: Any) -> None:
    """Serve :data:`STYLESHEET` as JupyterLab's ``/custom/custom.css``: add its folder to the
    server's custom-file path, after the user's own folder (the list is read at each request)."""
    paths = server_app.web_app.settings.get("static_custom_path")
    folder = str(STYLESHEET.parent)
    if not isinstance(paths, list) or folder in paths:
        return
    paths.insert(min(1, len(paths)), folder)
    server_app.log.info("toychat: JupyterLab's custom.css is the course's stylesheet (%s)", STYLESHEET)
