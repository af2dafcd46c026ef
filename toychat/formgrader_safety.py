"""What a student wrote is shown to the grader, never run in the grader's browser.

nbgrader's formgrader renders a submitted notebook with nbconvert's ``HTMLExporter``
(``SubmissionHandler`` calls ``exporter.from_filename`` on the autograded notebook, the
exporter built from the course's configuration, template ``formgrade``).  That template
renders a markdown cell's source, an output's ``text/html`` or ``text/markdown`` and
``application/javascript`` as they are, so a student's ``<script>``, an ``onerror=``
attribute or a ``javascript:`` link would run in the grader's page: with the grader's
session, on the server that holds the gradebook.  ``HTMLExporter.sanitize_html`` does
not help there: the ``formgrade`` template renders markdown cells without it.

:class:`SanitizeSubmission` is an nbconvert preprocessor, configured for every
``HTMLExporter`` the course's nbgrader builds (:data:`CONFIG_LINES`: formgrader and
``generate_feedback``), rewrites the notebook before any template sees it:

* a **markdown** cell (a written answer, or any cell a student added) is rendered to HTML
  here and cleaned with bleach (an allow-list of text tags; links only to ``http``,
  ``https`` and ``mailto``; images only as embedded PNG, JPEG or GIF data), then stored as
  one line of HTML inside a ``<div>``, which the template's own Markdown pass leaves as it is;
* a **raw** cell is shown as escaped text;
* a code cell's **outputs** keep plain text, streams, errors, LaTeX and PNG/JPEG images
  (whose data must be base64); ``text/html`` and ``text/markdown`` are cleaned as above;
  anything else (JavaScript, SVG, widget views, PDF, …) is replaced by a line saying what
  was removed; output metadata keeps only numeric image sizes;
* the notebook's saved **widget state** (which makes the template load the widget
  JavaScript) is dropped.

Everything here acts on the copy being rendered: the gradebook and the files on disk are
untouched.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from typing import Any

import bleach
from bleach.css_sanitizer import CSSSanitizer
from nbconvert.exporters.exporter import ResourcesDict
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors import Preprocessor
from nbformat.notebooknode import NotebookNode
from traitlets import Bool

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_TAGS",
    "CONFIG_LINES",
    "SanitizeSubmission",
    "clean_html",
    "clean_markdown",
]

#: The lines the course's ``nbgrader_config.py`` needs, at its end (formgrader builds its
#: exporter from it).  ``generate_feedback`` builds an ``HTMLExporter`` from it too, and runs the
#: exporter's preprocessors first: nbconvert's ``SanitizeHTML`` after this one would escape the
#: clean HTML into visible tags, so ``GenerateFeedback.preprocessors`` must not list it (the
#: course's does not: feedback is cleaned here; nbconvert's left a Markdown ``javascript:`` link
#: live, and showed the release's own ``<details>`` as text).
CONFIG_LINES = (
    'c.HTMLExporter.preprocessors = ["toychat.formgrader_safety.SanitizeSubmission"]\n'
    "c.HTMLExporter.sanitize_html = True\n"
)

#: Tags a student's Markdown or HTML may produce: text structure, no scripts, frames, forms,
#: styles, SVG or MathML.
ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre",
        "s", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
#: Attributes kept on them; anything else (every ``on…`` handler, ``style``, ``id``) is dropped.
ALLOWED_ATTRIBUTES = {
    "a": ["href", "title"],
    "abbr": ["title"],
    "img": ["src", "alt", "title", "width", "height"],
    "td": ["align", "colspan", "rowspan"],
    "th": ["align", "colspan", "rowspan"],
    "*": ["class"],
}
#: Images only embedded in the notebook (a remote one would tell a third party who opened it).
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=\s]*\Z", re.I)
#: A cell tag the templates may write into a ``class`` attribute.
_TAG = re.compile(r"[\w-]{1,64}\Z")
#: Output data kept as they are: the templates escape them.
_KEPT = ("text/plain", "text/latex")
_IMAGES = ("image/png", "image/jpeg")
_CLEANED = ("text/html", "text/markdown")


def _attribute_allowed(tag: str, name: str, value: str) -> bool:
    """bleach's attribute filter: the allow-list, plus what each URL attribute may point to."""
    if name not in ALLOWED_ATTRIBUTES.get(tag, []) and name not in ALLOWED_ATTRIBUTES["*"]:
        return False
    if tag == "img" and name == "src":
        return bool(_DATA_IMAGE.match(value.strip()))
    if tag == "a" and name == "href":
        return not value.strip().lower().startswith("data:")
    return True


def clean_html(text: str) -> str:
    """``text`` (HTML) reduced to :data:`ALLOWED_TAGS` and their safe attributes, as one
    line inside a ``<div>`` (so that a Markdown pass over it leaves it as it is); every
    other tag is shown as escaped text.

    >>> clean_html('<p onclick="x()">hi</p><script>alert(1)</script>')
    '<div class="toychat-sanitised"><p>hi</p>&lt;script&gt;alert(1)&lt;/script&gt;</div>'
    >>> clean_html('<a href="javascript:alert(1)">x</a>')
    '<div class="toychat-sanitised"><a>x</a></div>'
    """
    cleaned = bleach.clean(
        text,
        tags=ALLOWED_TAGS,
        attributes=_attribute_allowed,
        protocols={"http", "https", "mailto", "data"},
        strip=False,
        strip_comments=True,
        css_sanitizer=CSSSanitizer(allowed_css_properties=()),
    )
    # Newlines become character references (the same text, in <pre> too): a blank line would
    # end the HTML block and let Markdown read what follows.
    one_line = cleaned.strip().replace("\r", "").replace("\n", "&#10;")
    return f'<div class="toychat-sanitised">{one_line}</div>'


def clean_markdown(source: str, attachments: dict[str, Any] | None = None) -> str:
    """``source`` (Markdown, with ``attachment:`` images from ``attachments``) rendered to
    HTML as nbconvert renders it, then :func:`clean_html`.

    >>> clean_markdown("[x](javascript:alert(1)) *y*")
    '<div class="toychat-sanitised"><p><a>x</a> <em>y</em></p></div>'
    """
    renderer = IPythonRenderer(escape=False, allow_harmful_protocols=True, attachments=attachments or {})
    return clean_html(MarkdownWithMath(renderer=renderer).render(source))


def _is_base64(data: Any) -> bool:
    if not isinstance(data, str):
        return False
    try:
        base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _removed(what: list[str]) -> NotebookNode:
    return NotebookNode(
        output_type="display_data",
        metadata={},
        data={"text/plain": f"[output removed for the grader's safety: {', '.join(sorted(what))}]"},
    )


class SanitizeSubmission(Preprocessor):
    """Rewrite a notebook so that rendering it to HTML runs nothing a student wrote (see the
    module's description).  Configure it in ``HTMLExporter.preprocessors``."""

    enabled = Bool(True, help="Sanitise every notebook this exporter renders.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        nb.metadata.pop("widgets", None)
        return super().preprocess(nb, resources)

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, cell_index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        if "tags" in cell.metadata:  # written into a ``class`` attribute: plain names only
            cell.metadata.tags = [tag for tag in cell.metadata.tags if isinstance(tag, str) and _TAG.match(tag)]
        if cell.cell_type == "markdown":
            cell.source = clean_markdown(cell.source, cell.get("attachments"))
            cell.pop("attachments", None)
        elif cell.cell_type == "raw":
            cell.source = "<pre>" + html.escape(cell.source) + "</pre>"
            cell.metadata.pop("format", None)
            cell.metadata["raw_mimetype"] = "text/html"
        elif cell.cell_type == "code":
            cell.outputs = [self._output(output) for output in cell.get("outputs", [])]
        return cell, resources

    def _output(self, output: NotebookNode) -> NotebookNode:
        if output.output_type not in ("display_data", "execute_result"):
            return output  # stream and error: plain text, which the templates escape
        data, removed = {}, []
        for mime, value in output.get("data", {}).items():
            text = "".join(value) if isinstance(value, list) else value
            if mime in _KEPT and isinstance(text, str):
                data[mime] = text
            elif mime in _IMAGES and _is_base64(text):
                data[mime] = text
            elif mime == "text/html" and isinstance(text, str):
                data[mime] = clean_html(text)
            elif mime == "text/markdown" and isinstance(text, str):
                data["text/html"] = clean_markdown(text)
            else:
                removed.append(mime)
        if not data:
            return _removed(removed)
        sizes = {}
        for mime, meta in output.get("metadata", {}).items():
            if mime in _IMAGES and isinstance(meta, dict):
                sizes[mime] = {k: v for k, v in meta.items() if k in ("width", "height") and type(v) is int}
        output.data, output.metadata = data, sizes
        return output
