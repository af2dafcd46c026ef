"""Sphinx extension for the course site: what the lessons need that MyST-NB does not do by itself.

* **Lessons prepared at build time, never edited** (:func:`prepare_notebook`, on ``source-read``):
  every code cell gets the ``hide-input`` tag (code folded, output shown); a figure followed by a
  "*Figure: alt text — …*" cell gets that text as its alt (the lessons now set the alt text in the
  cell that draws the figure, ``toychat.figures.set_alt_text``, and follow it with a short caption);
  and the "For policy readers" and
  "Content note" boxes written as Markdown block quotes become the same admonitions that the
  colon-fence syntax gives.
* **Notebook-only text left out** (:func:`strip_notebook_only`): how to run or edit a cell means
  nothing on a page, so a passage between ``<!-- notebook-only -->`` and ``<!-- /notebook-only -->``
  is shown in JupyterLab and dropped from the site.
* **Figures with their alt text** (:func:`figure_description`, on ``doctree-read``): the
  description a lesson set in code travels inside the figure's PNG, and becomes the image's alt.
* **Widgets at their default state** (:func:`static_widget_html`, on ``doctree-read``): the state
  ipywidgets saved when the lesson ran is rendered as plain HTML (each control with its value, each
  output area with what it showed), with a note saying the control is live in the policy view or
  JupyterLab.  No widget JavaScript, so nothing is fetched from a CDN.
* **Citations and glossary links land on their entry**: a link to the bibliography or the glossary
  with an entry key as its fragment points at that page's ``<a id="key">`` anchor
  (:class:`BibliographyLinks`), and a link to a lesson's heading written the JupyterLab way
  (``#The-Online-Safety-Act-…``) lands on that heading (:class:`NotebookHeadingLinks`).
* **Progress per lesson**: one line on stderr for each lesson read, saying which of the lessons this
  build reads it is ("lesson 3 of 11"), how long the build has run, whether the lesson was executed or
  taken from the cache, and how long it took (:func:`progress_line`).
* **Search excerpts from disk** (:func:`article_text_html`, on ``build-finished``): Sphinx's search
  page fetches each result's page to cut an excerpt from it, which a browser refuses for a site
  opened from disk (``file://``); the build ships each page's article text to the search page, and
  ``search_from_disk.js`` answers those fetches from it.
"""

from __future__ import annotations

import html
import json
import re
import sys
import time
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
#: The Markdown cell that describes the figure above it, for readers who cannot see it.
ALT_TEXT = re.compile(r"^\*?\s*Figure:\s*alt text\s*[—–-]\s*(?P<text>.+?)\s*\*?\s*$", re.S)
#: Tags that already decide how a code cell is shown; such cells are left alone.
SHOWN_AS_IS = {"remove-cell", "remove-input", "hide-cell", "hide-input", "hide-output", "remove-output"}
#: Box titles written as block quotes (``> **For policy readers.** …``), and the admonition class each gets.
BOXES = {"For policy readers": "tip", "Content note": "warning"}
_BOX_QUOTE = re.compile(
    r"^> \*\*(?P<title>" + "|".join(map(re.escape, BOXES)) + r")[.:]?\*\*[.:]?[ \t]*(?P<rest>.*(?:\n>.*)*)", re.M
)


#: Text for the notebook only (how to run a cell, edit one, move a slider), between two comments
#: that JupyterLab does not show: ``<!-- notebook-only -->press Shift+Enter<!-- /notebook-only -->``.
#: The site leaves it out, since there is nothing to run on a page.
_NOTEBOOK_ONLY = re.compile(r"<!--\s*notebook-only\s*-->.*?<!--\s*/notebook-only\s*-->", re.S)
#: Words that tell a reader to work the notebook: on the site they are instructions that cannot be
#: followed.  Matched case-insensitively in the text a page shows.  Besides the keys and cells, a
#: question may ask the reader to work a control: "Using the base-rate widget: …", "Take the
#: sliders' numbers …", "Lower the report rate to 1% …", "Try other assumptions with the sliders".
NOTEBOOK_INSTRUCTIONS = re.compile(
    r"shift\s*\+\s*enter|ctrl\s*\+\s*enter|⌘\s*\+\s*enter|double-click|restart kernel|run all cells"
    r"|\b(?:move|drag|use) the sliders?\b|\bclick into\b|\brun (?:the|this|each|every) cells?\b"
    # working a control: "using the base-rate widget", "take the sliders' numbers", "with the toggle"
    r"|\b(?:using|use|with|take|in) the (?:[\w-]+ ){0,2}(?:widgets?|sliders?'?|controls?|toggle|buttons?)(?![\w-])"
    # setting one to a value: "lower the report rate to 1%", "set the threshold to 12 bits"
    r"|\b(?:lower|raise|set|increase|decrease|change|turn) the (?:[\w-]+ ){1,3}to [0-9]"
    r"|\btry (?:your own|other)\b",
    re.I,
)


# --------------------------------------------------------------------------- lessons at build time


def strip_notebook_only(markdown: str) -> str:
    """``markdown`` without its notebook-only passages (see :data:`_NOTEBOOK_ONLY`)."""
    return _NOTEBOOK_ONLY.sub("", markdown)


def notebook_instructions(text: str) -> list[str]:
    """The notebook instructions in ``text`` (each as matched, lower-cased), in order."""
    return [" ".join(m.group(0).lower().split()) for m in NOTEBOOK_INSTRUCTIONS.finditer(text)]


def blockquote_boxes_to_admonitions(markdown: str) -> str:
    """Rewrite ``> **For policy readers.** …`` and ``> **Content note.** …`` block quotes as the
    colon-fence admonitions the lessons use for these boxes; other text is unchanged."""

    def admonition(match: re.Match[str]) -> str:
        title = match.group("title")
        body = "\n".join(re.sub(r"^>[ \t]?", "", line) for line in match.group("rest").split("\n"))
        return f":::{{admonition}} {title}\n:class: {BOXES[title]}\n{body.strip()}\n:::"

    return _BOX_QUOTE.sub(admonition, markdown)


def alt_text(cell: nbformat.NotebookNode) -> str | None:
    """The alt text a "*Figure: alt text — …*" Markdown cell gives, or None for any other cell."""
    if cell.cell_type != "markdown":
        return None
    match = ALT_TEXT.match(cell.source.strip())
    return " ".join(match.group("text").split()) if match else None


def prepare_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The lesson as the site shows it (changed in place and returned): code folded, figures with
    their alt text, the reader boxes as admonitions, notebook-only passages left out.  Code is
    unchanged, so the execution cache (which hashes the code) is shared with an unprepared copy."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            cell.source = blockquote_boxes_to_admonitions(strip_notebook_only(cell.source))
            continue
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if not SHOWN_AS_IS & set(tags):
            tags.append("hide-input")
        following = nb.cells[index + 1] if index + 1 < len(nb.cells) else None
        text = alt_text(following) if following is not None else None
        if text:
            cell.metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = text
    return nb


def _on_source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    if docname.startswith("lessons/") and str(app.env.doc2path(docname)).endswith(".ipynb"):
        nb = nbformat.reads(source[0], as_version=4)
        source[0] = nbformat.writes(prepare_notebook(nb))
        app.env.course_read_start = time.perf_counter()  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- widgets, statically

_NOTE = (
    '<p class="widget-static-note"><strong>Interactive control, shown at its default setting.</strong> '
    "On this page it does not move: what you see below is its result for the setting shown. "
    "In the policy view or in JupyterLab it is live, and changing it recomputes this result.</p>"
)


def _value_text(model: dict[str, Any]) -> str:
    """A control's current value as a reader would say it."""
    state = model["state"]
    name = model.get("model_name", "")
    if "options" in state or "_options_labels" in state or "labels" in state:
        # "labels": the course's own slider (toychat.widgets.choice_slider, an anywidget)
        labels = state.get("_options_labels") or state.get("options") or state.get("labels") or []
        index = state.get("index")
        if isinstance(index, int) and 0 <= index < len(labels):
            return str(labels[index])
        if isinstance(index, list):
            return ", ".join(str(labels[i]) for i in index if 0 <= i < len(labels))
    value = state.get("value")
    if name == "FloatLogSliderModel" and isinstance(value, (int, float)):
        return f"{value:g}"
    if "min" in state and "max" in state and value is not None:
        return f"{value} (from {state['min']} to {state['max']})"
    return "" if value is None else str(value)


def _output_html(output: dict[str, Any]) -> str:
    """One saved output (of an Output widget) as HTML."""
    kind = output.get("output_type")
    if kind == "stream":
        text = output.get("text", "")
        text = "".join(text) if isinstance(text, list) else text
        return f'<pre class="widget-static-stream">{html.escape(text)}</pre>'
    if kind == "error":
        error = f"{output.get('ename', '')}: {output.get('evalue', '')}"
        return f'<pre class="widget-static-error">{html.escape(error)}</pre>'
    data = output.get("data", {})
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            payload = "".join(data[mime]) if isinstance(data[mime], list) else data[mime]
            return f'<img src="data:{mime};base64,{payload.strip()}" alt="A figure drawn by the control above">'
    if "text/html" in data:
        value = data["text/html"]
        return "".join(value) if isinstance(value, list) else value
    for mime in ("text/markdown", "text/plain"):
        if mime in data:
            value = data[mime]
            text = "".join(value) if isinstance(value, list) else value
            return f'<pre class="widget-static-stream">{html.escape(text)}</pre>'
    return ""


def _widget_html(model_id: str, state: dict[str, dict[str, Any]], depth: int = 0) -> str:
    """A widget and its children as static HTML, from the saved widget state."""
    model = state.get(model_id)
    if model is None or depth > 20:
        return ""
    name = model.get("model_name", "")
    values = model.get("state", {})
    description = html.escape(str(values.get("description", "") or ""))
    if name in ("LayoutModel", "StyleModel") or name.endswith("StyleModel"):
        return ""
    if name == "OutputModel":
        inner = "".join(_output_html(output) for output in values.get("outputs", []))
        return f'<div class="widget-static-output" tabindex="0">{inner}</div>' if inner else ""
    if "children" in values:
        children = "".join(_widget_html(ref.removeprefix("IPY_MODEL_"), state, depth + 1) for ref in values["children"])
        box = "widget-static-row" if name in ("HBoxModel", "GridBoxModel") else "widget-static-column"
        return f'<div class="{box}">{children}</div>'
    if name in ("HTMLModel", "HTMLMathModel"):
        value = str(values.get("value", ""))
        if "<table" in value:  # may be wider than its column: it scrolls there, so it takes the focus too
            return f'<div class="widget-static-html widget-static-table" tabindex="0">{value}</div>'
        return f'<div class="widget-static-html">{value}</div>'
    if name == "LabelModel":
        return f'<p class="widget-static-label">{html.escape(str(values.get("value", "")))}</p>'
    if name == "ButtonModel":
        label = description or html.escape(str(values.get("tooltip", "") or "button"))
        return f'<p class="widget-static-control">Button: <span class="widget-static-button">{label}</span></p>'
    value = html.escape(_value_text(model))
    kind = "Slider" if name == "AnyModel" and "labels" in values else CONTROL_NAMES.get(name, "Control")
    label = f" “{description.rstrip(':')}”" if description else ""
    return f'<p class="widget-static-control">{kind}{label}: <strong>{value if value else "(empty)"}</strong></p>'


#: What each kind of control is called on the page.
CONTROL_NAMES = {
    "IntSliderModel": "Slider",
    "FloatSliderModel": "Slider",
    "FloatLogSliderModel": "Slider (log scale)",
    "SelectionSliderModel": "Slider",
    "IntRangeSliderModel": "Range slider",
    "FloatRangeSliderModel": "Range slider",
    "DropdownModel": "Menu",
    "SelectModel": "List",
    "SelectMultipleModel": "List",
    "RadioButtonsModel": "Choice",
    "ToggleButtonsModel": "Choice",
    "ToggleButtonModel": "Toggle",
    "CheckboxModel": "Checkbox",
    "TextModel": "Text box",
    "TextareaModel": "Text box",
    "IntTextModel": "Number",
    "FloatTextModel": "Number",
    "BoundedIntTextModel": "Number",
    "BoundedFloatTextModel": "Number",
}


def static_widget_html(model_id: str, state: dict[str, dict[str, Any]]) -> str:
    """The widget ``model_id`` at its saved (default) state, as a self-contained HTML block."""
    body = _widget_html(model_id, state)
    label = "Interactive control at its default setting"
    return f'<div class="widget-static" role="group" aria-label="{label}">{_NOTE}{body}</div>'


def _on_doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    env = app.env
    docname = env.docname
    if not str(env.doc2path(docname)).endswith(".ipynb"):
        return
    doc_data = getattr(env, "nb_metadata", {}).get(docname, {})
    js_files = doc_data.get("js_files", {})
    saved = js_files.pop("ipywidgets_state", None)
    for key in [k for k in js_files if k.startswith("ipywidgets_")]:
        js_files.pop(key)
    state: dict[str, dict[str, Any]] = json.loads(saved[1]["body"]).get("state", {}) if saved else {}
    widgets = 0
    for raw in list(doctree.findall(nodes.raw)):
        match = re.match(rf'<script type="{re.escape(WIDGET_VIEW)}">(.*)</script>$', raw.astext().strip(), re.S)
        if not match:
            continue
        view = json.loads(json.loads(f'"{match.group(1)}"') if match.group(1).startswith("\\") else match.group(1))
        if isinstance(view, str):
            view = json.loads(view)
        raw.replace_self(nodes.raw("", static_widget_html(view["model_id"], state), format="html"))
        widgets += 1
    for image in doctree.findall(nodes.image):
        described = figure_description(app, docname, image.get("uri", ""))
        if described:
            image["alt"] = described
    exec_data = doc_data.get("exec_data") or {}
    seconds = time.perf_counter() - getattr(env, "course_read_start", time.perf_counter())
    cached = _from_cache(exec_data)
    runtime = exec_data.get("runtime")
    ran = f" in {runtime:.1f} s" if isinstance(runtime, (int, float)) else ""
    how = f"from the cache (executed earlier{ran})" if cached else f"executed{ran}"
    to_read: list[str] = getattr(env, "course_lessons_to_read", [])
    position = to_read.index(docname) + 1 if docname in to_read else 0
    line = progress_line(
        position, len(to_read), docname.removeprefix("lessons/"), how, seconds, time.time() - _BUILD_START
    )
    print(f"{line}{f'; {widgets} widgets at their default state' if widgets else ''}", file=sys.stderr, flush=True)


def progress_line(position: int, total: int, lesson: str, how: str, page_seconds: float, elapsed: float) -> str:
    """The build's line for one lesson read: which of the lessons this build reads it is, how long
    the build has run so far, and whether the lesson was executed or taken from the cache.

    >>> progress_line(3, 11, "02_public_keys", "executed in 8.2 s", 9.0, 61.4)
    '  [lesson 3 of 11, 61 s elapsed] lesson 02_public_keys: executed in 8.2 s; page in 9.0 s'
    >>> progress_line(0, 0, "99_extra", "executed", 1.0, 2.0)
    '  [2 s elapsed] lesson 99_extra: executed; page in 1.0 s'
    """
    where = f"lesson {position} of {total}, " if position else ""
    return f"  [{where}{elapsed:.0f} s elapsed] lesson {lesson}: {how}; page in {page_seconds:.1f} s"


def _on_env_before_read_docs(app: Sphinx, env: Any, docnames: list[str]) -> None:
    """Note the lessons this build will read, in order, for the progress lines' "lesson n of N"."""
    env.course_lessons_to_read = sorted(name for name in docnames if name.startswith("lessons/"))


def figure_description(app: Sphinx, docname: str, uri: str) -> str | None:
    """The alt text a lesson set for a figure (``toychat.figures.set_alt_text``), which the kernel
    wrote into the PNG as an iTXt "Description" chunk (``toychat.figures.png_with_description``);
    None for an image without one."""
    from PIL import Image

    candidates = [Path(uri)] if Path(uri).is_absolute() else []
    candidates += [Path(app.srcdir) / Path(docname).parent / uri, Path(app.srcdir) / uri]
    for path in candidates:
        if path.suffix == ".png" and path.is_file():
            with Image.open(path) as picture:
                text = getattr(picture, "text", {}).get("Description")
            return text if isinstance(text, str) and text.strip() else None
    return None


def _from_cache(exec_data: dict[str, Any]) -> bool:
    """MyST-NB does not say whether a cache-mode notebook ran now; its cache record is older
    than this read if it did not."""
    mtime = exec_data.get("mtime")
    return isinstance(mtime, (int, float)) and mtime < _BUILD_START


_BUILD_START = time.time()


# --------------------------------------------------------------------------- citations


class BibliographyLinks(SphinxPostTransform):
    """Point links to a page of anchored entries (the bibliography, the glossary) with an entry's key
    as fragment at that entry's anchor.

    MyST resolves a link to a Markdown file's heading, and the entries are not headings but
    ``<a id="key"></a>`` anchors, so MyST warns that it cannot find the fragment (and older
    versions drop it).  This runs before the reference resolver and turns such links into plain
    ones to ``references.html#key`` or ``glossary.html#term``, relative to the page they are on."""

    default_priority = 5  # before ReferencesResolver (10)

    def run(self, **kwargs: Any) -> None:
        from sphinx import addnodes

        anchors = {page: page_anchors(self.env, page) for page in ANCHORED_PAGES}
        for node in list(self.document.findall(addnodes.pending_xref)):
            page = node.get("reftarget")
            if node.get("reftype") != "myst" or page not in anchors:
                continue
            key = node.get("reftargetid")
            if not key or key not in anchors[page]:
                continue  # left to MyST, which warns about an unknown anchor
            uri = self.app.builder.get_relative_uri(self.env.docname, page) + "#" + key
            link = nodes.reference("", "", internal=True, refuri=uri, classes=[ANCHORED_PAGES[page]])
            link.extend(child.deepcopy() for child in node.children)
            node.replace_self(link)


def heading_slug(fragment: str, slugs: Iterable[str]) -> str | None:
    """The site's anchor for a heading linked the JupyterLab way, or None if there is none.

    JupyterLab names a heading's anchor after its text with spaces as hyphens, case and punctuation
    kept (``#The-Online-Safety-Act-and-accredited-technology``); MyST lower-cases it and drops the
    punctuation (``#the-online-safety-act-and-accredited-technology``), so such a link would land at
    the top of the page.  ``slugs`` are the target page's MyST heading slugs.

    >>> heading_slug("Going-further-(optional):-what-kind-of-it?", {"going-further-optional-what-kind-of-it"})
    'going-further-optional-what-kind-of-it'
    >>> heading_slug("No-such-heading", {"intro"}) is None
    True
    """
    slug = re.sub(r"[^\w-]", "", fragment.lower())
    return slug if slug in set(slugs) else None


class NotebookHeadingLinks(SphinxPostTransform):
    """Make a link to a lesson's heading, written with JupyterLab's anchor (which a lesson's own links
    must use to work in JupyterLab), land on that heading on the site too (:func:`heading_slug`).
    A fragment MyST already knows, or one no heading matches, is left to MyST."""

    default_priority = 5  # before MyST's reference resolver (9)

    def run(self, **kwargs: Any) -> None:
        from sphinx import addnodes

        for node in self.document.findall(addnodes.pending_xref):
            fragment = node.get("reftargetid")
            if node.get("reftype") != "myst" or not fragment or node.get("reftarget") not in self.env.metadata:
                continue
            slugs = self.env.metadata[node["reftarget"]].get("myst_slugs", {})
            if fragment not in slugs:
                node["reftargetid"] = heading_slug(fragment, slugs) or fragment


#: The bibliography page (generated from data/references.csv by scripts/references.py).
BIBLIOGRAPHY = "docs/references"
#: The glossary page: one ``<a id="term"></a>`` anchor per entry.
GLOSSARY = "docs/glossary"
#: Pages whose entries are ``<a id>`` anchors -> the class a link to one of their entries gets.
ANCHORED_PAGES = {BIBLIOGRAPHY: "citation-link", GLOSSARY: "glossary-link"}


def page_anchors(env: Any, page: str) -> set[str]:
    """The entry keys of an anchored page: its ``<a id="key"></a>`` anchors (none if it is absent)."""
    path = env.doc2path(page)
    try:
        text = open(path, encoding="utf-8").read()
    except OSError:
        return set()
    return set(re.findall(r'<a id="([^"]+)"></a>', text))


def bibliography_anchors(env: Any) -> set[str]:
    """The entry keys of the bibliography page: its ``<a id="key"></a>`` anchors."""
    return page_anchors(env, BIBLIOGRAPHY)


# --------------------------------------------------------------------------- the code toggle


def _visit_code_toggle(self: Any, node: nodes.Element) -> None:
    """MyST-NB's fold for hidden code, with the summary's visible words as its accessible name
    (MyST-NB labels it "Toggle hidden content", which differs from what is shown: WCAG 2.5.3)."""
    classes = " ".join(node["classes"])
    self.body.append(f'<details class="admonition hide {classes}">\n<summary>\n')
    self.body.append(f'<p class="collapsed admonition-title">{html.escape(node["prompt_show"])}</p>\n')
    self.body.append(f'<p class="expanded admonition-title">{html.escape(node["prompt_hide"])}</p>\n')
    self.body.append("</summary>\n")


def _depart_code_toggle(self: Any, node: nodes.Element) -> None:
    self.body.append("</details>\n")


def _executed_notebooks_beside_the_cache(app: Sphinx) -> None:
    """MyST-NB writes executed notebooks and figure files to ``jupyter_execute/`` beside the
    output folder (the repository root for ``site/``); keep them with the execution cache."""
    cache = Path(app.env.mystnb_config.execution_cache_path)
    app.env.mystnb_config = app.env.mystnb_config.copy(output_folder=str(cache.parent / "jupyter_execute"))


# --------------------------------------------------------------------------- search excerpts from disk

#: The search page's script (with every page's article text) that gives excerpts from ``file://``.
SEARCH_FROM_DISK = "search_from_disk.js"
#: Elements whose text is no part of an excerpt: code (folded on the page), scripts, the ``#`` of a
#: heading's permalink.
_NOT_EXCERPTED = {"script", "style", "template"}
_NOT_EXCERPTED_CLASSES = {"cell_input", "headerlink", "toggle-details__summary"}
#: Elements with no end tag.
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
#: Elements inside a line of text: no space is put at their edges.
_INLINE = {
    "a",
    "abbr",
    "b",
    "cite",
    "code",
    "em",
    "i",
    "kbd",
    "mark",
    "q",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "u",
}


class _ArticleText(HTMLParser):
    """Collects the text of the first ``<article>`` of a page, keeping its ``<section id>``s."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._open: list[str] = []  # elements open inside the article (the article first)
        self._skip_at: int | None = None  # depth of the element whose text is left out
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done or (not self._open and tag != "article"):
            return
        if tag in _VOID:
            self._space(tag)
            return
        self._open.append(tag)
        attributes = dict(attrs)
        if self._skip_at is None and (
            tag in _NOT_EXCERPTED or _NOT_EXCERPTED_CLASSES & set((attributes.get("class") or "").split())
        ):
            self._skip_at = len(self._open)
        if self._skip_at is None and tag == "section" and attributes.get("id"):
            self.parts.append(f'<section id="{html.escape(attributes["id"] or "")}">')
        self._space(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._done or tag not in self._open:
            return
        while self._open:
            closed = self._open.pop()
            if self._skip_at is not None and len(self._open) < self._skip_at:
                self._skip_at = None
            elif self._skip_at is None and closed == "section":
                self.parts.append("</section>")
            if closed == tag:
                break
        self._space(tag)
        self._done = not self._open

    def handle_data(self, data: str) -> None:
        if self._open and self._skip_at is None and not self._done:
            self.parts.append(html.escape(data, quote=False))

    def _space(self, tag: str) -> None:
        if tag not in _INLINE and self._skip_at is None:
            self.parts.append(" ")


def article_text_html(page: str) -> str:
    """The text a reader sees in a built page's ``<article>``, for a search excerpt: in one
    ``<div role="main">`` (where Sphinx's search looks for it), each section keeping its ``id``
    (a section's result is excerpted from its section), without code, scripts or permalinks, and
    with runs of white space made one space.

    >>> article_text_html('<nav>Menu</nav><article><section id="s"><h1>Title<a class="headerlink">#</a>'
    ...                   '</h1><p>Some <em>franking</em> text.</p><div class="cell_input">x = 1</div>'
    ...                   '</section></article>')
    '<div role="main"><section id="s"> Title Some franking text. </section></div>'
    """
    parser = _ArticleText()
    parser.feed(page)
    parser.close()
    text = re.sub(r"\s+", " ", "".join(parser.parts))
    return f'<div role="main">{text.strip()}</div>'


def _write_search_from_disk(app: Sphinx, exception: Exception | None) -> None:
    """Write :data:`SEARCH_FROM_DISK` into the site's ``_static/``: every built page's article text
    (read from the written pages, so an incremental build ships them all), then the script that
    answers the search page's fetches from it on ``file://``."""
    if exception is not None or app.builder.name != "html":
        return
    pages = {}
    for docname in sorted(app.env.found_docs):
        built = Path(app.builder.get_outfilename(docname))
        if built.is_file():
            pages[docname] = article_text_html(built.read_text(encoding="utf-8"))
    script = (Path(__file__).with_name(SEARCH_FROM_DISK)).read_text(encoding="utf-8")
    data = json.dumps(pages, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    target = Path(app.outdir) / "_static" / SEARCH_FROM_DISK
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"window.COURSE_PAGE_TEXT = {data};\n{script}", encoding="utf-8")


def _search_page_scripts(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """The search page, and only it, loads :data:`SEARCH_FROM_DISK` (before searchtools.js runs a query)."""
    if pagename == "search" and app.builder.name == "html":
        app.add_js_file(SEARCH_FROM_DISK)


def setup(app: Sphinx) -> dict[str, Any]:
    from myst_nb.sphinx_ import HideCodeCellNode

    app.setup_extension("myst_nb")
    app.add_node(HideCodeCellNode, override=True, html=(_visit_code_toggle, _depart_code_toggle))
    app.connect("source-read", _on_source_read)
    app.connect("doctree-read", _on_doctree_read)
    app.connect("env-before-read-docs", _on_env_before_read_docs)
    app.connect("builder-inited", _executed_notebooks_beside_the_cache, priority=600)
    app.add_post_transform(BibliographyLinks)
    app.add_post_transform(NotebookHeadingLinks)
    app.connect("html-page-context", _search_page_scripts)
    app.connect("build-finished", _write_search_from_disk)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
