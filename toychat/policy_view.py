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

__all__ = ["STYLESHEET", "admonitions_to_html", "markdown_tables_to_html", "prelaunch_hook", "style_cell"]

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


def style_cell() -> Any:
    """A raw HTML cell holding the course's stylesheet, which Voilà writes into the page as it is.

    >>> cell = style_cell()
    >>> cell.metadata["raw_mimetype"], cell.source.startswith("<style>"), "max-width" in cell.source
    ('text/html', True, True)
    """
    import nbformat

    css = STYLESHEET.read_text(encoding="utf-8")
    return nbformat.v4.new_raw_cell(f"<style>\n{css}</style>", metadata={"raw_mimetype": "text/html"})


def prelaunch_hook(handler: Any, notebook: Any, cwd: str) -> Any:
    """Voilà's pre-launch hook: the lesson with its admonitions as HTML boxes, its Markdown
    tables in the course's table style, and the course's stylesheet (as a last, invisible cell:
    Voilà shows the page once every cell has run, so it applies from the start)."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = markdown_tables_to_html(admonitions_to_html(cell.source))
    notebook.cells.append(style_cell())
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
