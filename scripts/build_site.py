"""Build the read-only course: every lesson executed and rendered to static HTML,
with its figures, a note where an interactive widget was, navigation between
lessons and an index page.  Works offline (nbclient + nbconvert; no theme to
download, no CDN scripts).

    python scripts/build_site.py            # writes site/ ; open site/index.html

Readers who will not install anything get the lessons as pages; the widgets
need a running kernel, so each one is replaced by a short explanation.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

REPO = Path(__file__).resolve().parent.parent
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = (
    '<p class="widget-note" role="note"><em>Interactive control (slider, menu or chat window): it needs a '
    "running notebook. Open this lesson in JupyterLab to use it; the text and figures around it show "
    "its default result.</em></p>"
)
STYLE = """
<style>
  .course-nav { font-family: system-ui, sans-serif; padding: 0.6em 1em; background: #f4f4f4;
                border-bottom: 1px solid #767676; display: flex; gap: 1.5em; flex-wrap: wrap; }
  .course-nav a { color: #0b4f8a; }
  .widget-note { border-left: 4px solid #0072B2; padding-left: 0.8em; color: #222; }
  /* Accessibility (axe-core, WCAG AA): links underlined, prompts and code colours at 4.5:1 or more. */
  a:link, a:visited { text-decoration: underline !important; }
  .jp-InputPrompt, .jp-OutputPrompt { color: #595959 !important; opacity: 1 !important; }
  .highlight .ow, .highlight .nd { color: #7a1fb8 !important; }
  .highlight .m, .highlight .mf, .highlight .mi, .highlight .mh, .highlight .mo, .highlight .mb, .highlight .il { color: #006400 !important; }
  .highlight .c, .highlight .c1, .highlight .cm, .highlight .ch, .highlight .cs, .highlight .cp { color: #2f5f5f !important; }
  .highlight .k, .highlight .kn, .highlight .kc, .highlight .kd, .highlight .nb, .highlight .bp { color: #006e00 !important; }
  .highlight .sd, .highlight .sa, .highlight .se, .highlight .si { color: #8a1b1b !important; }
  .highlight .nn, .highlight .nc { color: #0000cc !important; }
</style>
"""


def lesson_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The lesson's title: the first level-1 heading of its first cell."""
    match = re.search(r"^# (.+)$", nb.cells[0].source, flags=re.M) if nb.cells else None
    return match.group(1).strip() if match else fallback


def execute(path: Path, timeout: int = 300) -> nbformat.NotebookNode:
    """Run a lesson top to bottom, in its own folder, with a headless plot backend."""
    nb = nbformat.read(path, as_version=4)
    os.environ.setdefault("MPLBACKEND", "Agg")
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def replace_widgets(nb: nbformat.NotebookNode) -> int:
    """Replace every widget output with an explanatory note; drop saved widget state
    (which would make the page load scripts from a CDN).  Returns how many."""
    count = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_MIME in data:
                output["data"] = {"text/html": WIDGET_NOTE, "text/plain": "[interactive widget]"}
                count += 1
    nb.metadata.pop("widgets", None)
    return count


def render(nb: nbformat.NotebookNode, title: str, nav: str) -> str:
    """Static HTML for one executed lesson, with the course navigation on top."""
    exporter = HTMLExporter(template_name="lab")
    exporter.mathjax_url = ""  # offline: no MathJax or require.js from a CDN (the lessons need neither)
    exporter.require_js_url = ""
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = re.sub(r'<script[^>]*\bsrc=""[^>]*>\s*</script>', "", body)
    body = re.sub(r'href="((?:\d\d)_[\w-]+)\.ipynb', r'href="\1.html', body)
    body = body.replace("<html>", '<html lang="en">', 1)
    body = re.sub(r"<title>.*?</title>", f"<title>{html.escape(title)}</title>", body, count=1, flags=re.S)
    body = body.replace("</head>", STYLE + "</head>", 1)
    return re.sub(r"(<body[^>]*>)", r"\1" + nav.replace("\\", "\\\\"), body, count=1)


def navigation(titles: list[tuple[str, str]], index: int) -> str:
    """Links to the index and the previous and next lessons."""
    links = ['<a href="index.html">All lessons</a>']
    if index > 0:
        links.append(f'<a href="{titles[index - 1][0]}.html">Previous: {html.escape(titles[index - 1][1])}</a>')
    if index + 1 < len(titles):
        links.append(f'<a href="{titles[index + 1][0]}.html">Next: {html.escape(titles[index + 1][1])}</a>')
    return f'<nav class="course-nav" aria-label="Course">{" ".join(links)}</nav>'


def index_page(titles: list[tuple[str, str]]) -> str:
    items = "\n".join(f'<li><a href="{stem}.html">{html.escape(title)}</a></li>' for stem, title in titles)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>End-to-end encryption and online safety — the course</title>{STYLE}</head>
<body><main style="font-family: system-ui, sans-serif; max-width: 50em; margin: 2em auto; line-height: 1.5">
<h1>End-to-end encryption and online safety</h1>
<p>A read-only copy of the course: every lesson run from top to bottom, with its figures. The interactive
controls need a running notebook; install the course (see its README) to use them and to do the graded
exercises.</p>
<ol start="0">
{items}
</ol></main></body></html>
"""


def build(output: Path, lessons: list[Path] | None = None) -> dict[str, float]:
    """Execute and render every lesson into ``output``; returns build figures."""
    start = time.perf_counter()
    lessons = lessons or sorted((REPO / "lessons").glob("[0-9][0-9]_*.ipynb"))
    if output.exists():
        shutil.rmtree(output)
    output.mkdir(parents=True)
    executed = [execute(path) for path in lessons]
    titles = [(path.stem, lesson_title(nb, path.stem)) for path, nb in zip(lessons, executed)]
    widgets = 0
    for index, (path, nb) in enumerate(zip(lessons, executed)):
        widgets += replace_widgets(nb)
        page = render(nb, titles[index][1], navigation(titles, index))
        (output / f"{path.stem}.html").write_text(page, encoding="utf-8")
    (output / "index.html").write_text(index_page(titles), encoding="utf-8")
    size = sum(p.stat().st_size for p in output.iterdir())
    return {"lessons": len(lessons), "widgets replaced": widgets, "seconds": time.perf_counter() - start, "bytes": size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "site")
    args = parser.parse_args(argv)
    figures = build(args.output)
    print(f"built {figures['lessons']} lessons into {args.output} in {figures['seconds']:.0f} s, "
          f"{figures['bytes'] / 1e6:.1f} MB; {figures['widgets replaced']} widgets replaced by notes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
