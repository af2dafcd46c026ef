"""Formgrader shows a submission without running anything the student wrote (issue 25).

nbgrader's formgrader renders a submitted notebook with ``HTMLExporter(config=...)``, the
configuration being the course's ``nbgrader_config.py`` as ``FormgradeExtension`` loads it
(template ``formgrade``).  Here the exporter is built exactly that way, in a temporary course
holding the course's configuration plus :data:`toychat.formgrader_safety.CONFIG_LINES` (unless
the configuration has them already), and renders a notebook shaped like an autograded
ex01 submission carrying every kind of active content a student can put in one: ``<script>``,
event handlers, ``javascript:`` links (HTML, Markdown inline, reference and autolink forms),
frames, SVG, forms, ``<meta>`` refresh, a raw HTML cell, JavaScript and SVG outputs, HTML and
Markdown outputs, a PNG output whose "data" breaks out of its attribute, widget state.  Each
payload carries the token ``pwn``: the page must show the student's text, and no token may sit
in an attribute, a script or a dangerous element.  The same notebook rendered by the
configuration without those lines shows that each check can fail.

The last test does it for real (marked ``nbgrader`` and ``integration``): an ex01 submission
whose answer cell displays HTML, JavaScript and Markdown and whose written answer is the same
hostile text, autograded by nbgrader, served by a running Jupyter server's formgrader, and
turned into feedback.
"""

from __future__ import annotations

import urllib.request
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbconvert.exporters import HTMLExporter
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.server_extensions.formgrader.formgrader import FormgradeExtension

from benchmarks.classroom import make_course, solution_answers, submit
from benchmarks.classroom import nbgrader as run_nbgrader
from support.browser import jupyterlab_server
from support.nbtools import REPO
from toychat.formgrader_safety import CONFIG_LINES, clean_html, clean_markdown

TOKEN = "pwn"
#: Elements that run or load something, or change where the page goes.
DANGEROUS = ("script", "iframe", "frame", "object", "embed", "svg", "math", "form", "base", "meta", "link", "style")

WRITTEN = f"""Nonce reuse leaks the XOR of two plaintexts.

<script>alert("{TOKEN}-script")</script>
<img src=x onerror=alert("{TOKEN}-onerror")>
<a href="javascript:alert('{TOKEN}-href')">read more</a>
<iframe src="javascript:alert('{TOKEN}-iframe')"></iframe>
<svg onload="alert('{TOKEN}-svg')"></svg>
<form action="javascript:alert('{TOKEN}-form')"><button>go</button></form>
<meta http-equiv="refresh" content="0;url=javascript:alert('{TOKEN}-meta')">
<style>body {{ background: url("javascript:alert('{TOKEN}-style')") }}</style>
<details open ontoggle="alert('{TOKEN}-toggle')"><summary>x</summary></details>

[inline](javascript:alert('{TOKEN}-md-inline')) and [reference][r] and <javascript:alert('{TOKEN}-autolink')>
and ![pic](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+) $x < y$

[r]: javascript:alert('{TOKEN}-md-reference')
"""


def _output(data: dict[str, object], metadata: dict[str, object] | None = None) -> NotebookNode:
    return nbformat.v4.new_output("display_data", data=data, metadata=metadata or {})


def hostile_submission() -> NotebookNode:
    """ex01's release with active content in every place a student can put it."""
    nb = nbformat.read(REPO / "exercises" / "ex01_encryption" / "ex01_encryption.ipynb", as_version=4)
    by_id = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in nb.cells}
    by_id["part-f-answer"].source = WRITTEN
    answer = by_id["part-a-answer"]
    answer.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"<script>alert('{TOKEN}-stream')</script>\n"),
        _output({"text/html": f"<b>bold</b><img src=x onerror=\"alert('{TOKEN}-html-output')\">"}),
        _output({"text/html": f"<script>alert('{TOKEN}-isolated')</script>"}, {"text/html": {"isolated": True}}),
        _output({"application/javascript": f"alert('{TOKEN}-js-output')", "text/plain": "<IPython.Javascript>"}),
        _output({"image/svg+xml": f"<svg><script>alert('{TOKEN}-svg-output')</script></svg>"}),
        _output({"text/markdown": f"[md output](javascript:alert('{TOKEN}-md-output'))"}),
        _output(
            {"image/png": f"\"><script>alert('{TOKEN}-png')</script>"},
            {"image/png": {"width": f"1 onerror=alert('{TOKEN}-width')"}},
        ),
        _output(
            {"application/vnd.jupyter.widget-view+json": {"model_id": f"</script><script>alert('{TOKEN}-w')"}},
        ),
    ]
    answer.metadata["tags"] = [f"x\"><script>alert('{TOKEN}-tag')</script>"]
    raw = nbformat.v4.new_raw_cell(f"<script>alert('{TOKEN}-raw')</script>")
    raw.metadata["raw_mimetype"] = "text/html"
    nb.cells.append(raw)
    nb.cells.append(nbformat.v4.new_markdown_cell(f"<img src=x onerror=alert('{TOKEN}-added-cell')>"))
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {"state": f"</script><script>alert('{TOKEN}-state')</script>"}
    }
    return nb


class Page(HTMLParser):
    """What a browser would act on in a page: attributes, script and style text, elements."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.attributes: list[tuple[str, str, str]] = []
        self.elements: Counter[str] = Counter()
        self.code: list[str] = []  # the text of <script> and <style> elements
        self.text: list[str] = []
        self._inside: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements[tag] += 1
        self.attributes += [(tag, name, value or "") for name, value in attrs]
        if tag in ("script", "style"):
            self._inside.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._inside and self._inside[-1] == tag:
            self._inside.pop()

    def handle_data(self, data: str) -> None:
        (self.code if self._inside else self.text).append(data)

    def handlers(self) -> Counter[tuple[str, str, str]]:
        """Every event-handler attribute (``on…``), with its element and value."""
        return Counter((tag, name, value) for tag, name, value in self.attributes if name.startswith("on"))

    def live(self) -> list[str]:
        """Every place the token is active: an attribute, a script or style, a handler."""
        found = [f"<{tag} {name}={value!r}>" for tag, name, value in self.attributes if TOKEN in value]
        found += [f"script/style text {code.strip()!r}" for code in self.code if TOKEN in code]
        found += [
            f"<{tag} href={value!r}>"
            for tag, name, value in self.attributes
            if name in ("href", "src", "action") and value.strip().lower().startswith(("javascript:", "data:text"))
        ]
        return found


def formgrader_exporter(course: Path, monkeypatch: pytest.MonkeyPatch) -> HTMLExporter:
    """The exporter formgrader builds for a server started in ``course`` (as
    ``FormgradeExtension.init_tornado_settings`` does)."""
    monkeypatch.chdir(course)
    formgrader = FormgradeExtension()
    formgrader.root_dir = str(course)
    formgrader.initialize([])
    return HTMLExporter(config=formgrader.config)


def course_with(tmp_path: Path, safety: bool) -> Path:
    """A course folder holding the course's configuration, with or without the safety lines."""
    course = tmp_path / ("safe" if safety else "bare")
    course.mkdir(parents=True)
    config = (REPO / "nbgrader_config.py").read_text(encoding="utf-8")
    lines = [line for line in CONFIG_LINES.splitlines() if line]
    if safety and not all(line in config for line in lines):
        config += "\n" + CONFIG_LINES
    if not safety:
        config = "\n".join(line for line in config.splitlines() if line not in lines) + "\n"
    (course / "nbgrader_config.py").write_text(config, encoding="utf-8")
    return course


def render(course: Path, monkeypatch: pytest.MonkeyPatch, nb: NotebookNode) -> str:
    path = course / "submission.ipynb"
    nbformat.write(nb, path)
    exporter = formgrader_exporter(course, monkeypatch)
    resources = {
        "assignment_id": "ex01_encryption",
        "notebook_id": "ex01_encryption",
        "submission_id": "1",
        "index": 0,
        "total": 1,
        "base_url": "",
        "student": "mallory",
        "last_name": "",
        "first_name": "",
        "notebook_path": "autograded/mallory/ex01_encryption/ex01_encryption.ipynb",
    }
    page, _ = exporter.from_filename(str(path), resources=resources)
    assert "formgrade" in page, "rendered with nbgrader's formgrade template"
    return page


def test_formgrader_renders_nothing_a_student_wrote_as_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = hostile_submission()
    page = Page(render(course_with(tmp_path, safety=True), monkeypatch, nb))
    assert page.live() == []
    clean = Page(render(course_with(tmp_path / "x", safety=True), monkeypatch, _without_payloads(nb)))
    extra = {
        tag: page.elements[tag] - clean.elements[tag] for tag in DANGEROUS if page.elements[tag] > clean.elements[tag]
    }
    assert extra == {}, "dangerous elements the student added"
    assert page.handlers() == clean.handlers(), "event handlers the student added"
    text = "".join(page.text)
    for shown in ("Nonce reuse leaks", "-script", "-onerror", "-raw", "-added-cell", "bold", "read more"):
        assert shown in text, f"the grader still reads {shown!r}"
    # The course's own markup in the release still renders.
    assert page.elements["details"] >= 5
    assert page.elements["summary"] >= 5


def _without_payloads(nb: NotebookNode) -> NotebookNode:
    copy = nbformat.reads(nbformat.writes(nb), as_version=4)
    for cell in copy.cells:
        if cell.cell_type == "markdown" and TOKEN in cell.source:
            cell.source = "plain"
        if cell.cell_type == "raw":
            cell.source = "plain"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.metadata.pop("tags", None)
    copy.metadata.pop("widgets", None)
    return copy


def test_without_the_configuration_formgrader_runs_the_students_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: nbgrader's formgrader as configured before, same notebook: live payloads."""
    page = Page(render(course_with(tmp_path, safety=False), monkeypatch, hostile_submission()))
    live = " ".join(page.live())
    for payload in ("-script", "-html-output", "-href", "-iframe", "-svg", "-md-inline", "-md-output", "-js-output"):
        assert payload in live, f"{payload} should be live without the sanitiser"


def test_clean_markdown_keeps_text_and_safe_links() -> None:
    html = clean_markdown("**bold** [site](https://example.org) `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    page = Page(html)
    assert ("a", "href", "https://example.org") in page.attributes
    assert page.elements["strong"] == 1
    assert page.elements["code"] == 1
    assert "\n" not in html, "one line: a second Markdown pass leaves it alone"


def test_clean_html_escapes_what_it_does_not_allow() -> None:
    html = clean_html('<img src="https://tracker.example/x.png"><img src="data:image/png;base64,iVBORw0KGgo=">')
    page = Page(html)
    assert [value for tag, name, value in page.attributes if name == "src"] == ["data:image/png;base64,iVBORw0KGgo="]


#: An answer cell that displays active content while it is graded (the model answer follows).
DISPLAYS = f"""from IPython.display import HTML, Javascript, Markdown, display
display(HTML("<img src=x onerror=\\"alert('{TOKEN}-live-html')\\">shown-html"))
display(Javascript("alert('{TOKEN}-live-js')"))
display(Markdown("[shown-markdown](javascript:alert('{TOKEN}-live-md'))"))
print("<script>alert('{TOKEN}-live-print')</script>")
"""


@pytest.mark.nbgrader
@pytest.mark.integration
def test_real_formgrader_serves_a_real_submission_sanitised(tmp_path: Path) -> None:
    """The real thing: an ex01 submission autograded by nbgrader with the course's configuration,
    then served by a real Jupyter server's formgrader (nbgrader's server extension), and its
    feedback generated."""
    course = make_course(tmp_path / "course", "ex01_encryption")
    config = (course / "nbgrader_config.py").read_text(encoding="utf-8")
    if not all(line in config for line in CONFIG_LINES.splitlines() if line):
        (course / "nbgrader_config.py").write_text(config + "\n" + CONFIG_LINES, encoding="utf-8")
    answers = solution_answers("ex01_encryption")
    submit(
        course,
        "ex01_encryption",
        "mallory",
        {**answers, "part-a-answer": DISPLAYS + answers["part-a-answer"], "part-f-answer": WRITTEN},
    )
    run_nbgrader(course, "autograde", "ex01_encryption", "--force", cell_timeout=30)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "e2ee-online-safety") as gb:
        submission_id = gb.find_submission_notebook("ex01_encryption", "ex01_encryption", "mallory").id
    with jupyterlab_server(course) as url:
        base, token = url.split("/lab/tree/")[0], url.rsplit("token=", 1)[1]
        with urllib.request.urlopen(f"{base}/formgrader/submissions/{submission_id}/?token={token}", timeout=120) as r:
            served = r.read().decode("utf-8")
    page = Page(served)
    assert "Submission 1 / 1" in served, "formgrader's own page"
    assert page.live() == []
    text = "".join(page.text)
    for shown in ("Nonce reuse leaks", "-script", "shown-html", "shown-markdown", "-live-print"):
        assert shown in text, f"the grader still reads {shown!r}"

    # Feedback is built from the same configuration: the student's own page is as clean, and
    # the release's folded "How you would be graded" notes still fold.
    run_nbgrader(course, "generate_feedback", "ex01_encryption", "--force", cell_timeout=30)
    feedback = (course / "feedback" / "mallory" / "ex01_encryption" / "ex01_encryption.html").read_text(
        encoding="utf-8"
    )
    page = Page(feedback)
    assert page.live() == []
    assert "Nonce reuse leaks" in "".join(page.text)
    assert page.elements["details"] >= 5
