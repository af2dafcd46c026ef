"""A link to a lesson's heading lands on that heading on the site, not at the top of the page.

A lesson links to another lesson's section the way JupyterLab names it
(``00_start_here.ipynb#The-Online-Safety-Act-and-accredited-technology``: the heading's text, case and
punctuation kept), since that is the link that works in the notebook.  MyST names the same heading
``the-online-safety-act-and-accredited-technology``, so without ``course_site.NotebookHeadingLinks``
the site's link pointed at an id the page does not have and landed at the top of lesson 00 (issue 28).
The same small build checks the build's progress lines ("lesson 1 of 2", time elapsed).
This builds a three-page site (two notebooks, nothing executed) in a few seconds, not the course.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat

from support.pages import REPO

sys.path.insert(0, str(REPO / "docs" / "_ext"))
from course_site import heading_slug, progress_line  # noqa: E402

HEADING = "The Online Safety Act and accredited technology"
OPTIONAL = "Going further (optional): what kind of claim is it?"


def test_a_jupyterlab_fragment_becomes_the_sites_slug() -> None:
    slugs = {"the-online-safety-act-and-accredited-technology", "going-further-optional-what-kind-of-claim-is-it"}
    assert heading_slug("The-Online-Safety-Act-and-accredited-technology", slugs) == (
        "the-online-safety-act-and-accredited-technology"
    )
    assert heading_slug("Going-further-(optional):-what-kind-of-claim-is-it?", slugs) == (
        "going-further-optional-what-kind-of-claim-is-it"
    )
    assert heading_slug("No-such-heading", slugs) is None


def test_the_link_lands_on_its_heading_in_a_built_page(tmp_path: Path) -> None:
    source, output = tmp_path / "source", tmp_path / "html"
    source.mkdir()
    (source / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(REPO / 'docs' / '_ext')!r})\n"
        'extensions = ["course_site"]\nmyst_heading_anchors = 3\nnb_execution_mode = "off"\n',
        encoding="utf-8",
    )
    lesson = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(
                f"# Lesson\n\n## Intro\n\ntext\n\n## {HEADING}\n\ntext\n\n## {OPTIONAL}\n\ntext"
            )
        ]
    )
    lesson.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (source / "lessons").mkdir()
    for name in ("01_lesson", "02_lesson"):
        nbformat.write(lesson, source / "lessons" / f"{name}.ipynb")
    (source / "index.md").write_text(
        "# Index\n\n[the Act](lessons/01_lesson.ipynb#The-Online-Safety-Act-and-accredited-technology), "
        "[optional](lessons/01_lesson.ipynb#Going-further-(optional):-what-kind-of-claim-is-it?), "
        "[intro](lessons/01_lesson.ipynb#intro)\n\n```{toctree}\n:glob:\nlessons/*\n```\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(source), str(output)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "local id not found" not in result.stderr, result.stderr
    page = (output / "index.html").read_text(encoding="utf-8")
    assert 'href="lessons/01_lesson.html#the-online-safety-act-and-accredited-technology"' in page
    assert 'href="lessons/01_lesson.html#going-further-optional-what-kind-of-claim-is-it"' in page
    assert 'href="lessons/01_lesson.html#intro"' in page
    target = (output / "lessons" / "01_lesson.html").read_text(encoding="utf-8")
    assert 'id="the-online-safety-act-and-accredited-technology"' in target
    # the build's progress: one line per lesson, saying which of how many, and the time so far
    assert "[lesson 1 of 2, " in result.stderr, result.stderr
    assert "[lesson 2 of 2, " in result.stderr, result.stderr
    assert " s elapsed] lesson 02_lesson: " in result.stderr, result.stderr


def test_progress_line_says_which_lesson_of_how_many_and_the_time_so_far() -> None:
    line = progress_line(3, 11, "02_public_keys", "executed in 8.2 s", 9.0, 61.4)
    assert line == "  [lesson 3 of 11, 61 s elapsed] lesson 02_public_keys: executed in 8.2 s; page in 9.0 s"


def test_lesson_07_links_to_a_heading_lesson_00_has() -> None:
    """The lesson's own link (JupyterLab's anchor) names a heading lesson 00 really has."""
    lesson_07 = json.loads((REPO / "lessons" / "07_client_side_scanning.ipynb").read_text(encoding="utf-8"))
    lesson_00 = json.loads((REPO / "lessons" / "00_start_here.ipynb").read_text(encoding="utf-8"))
    links = "".join("".join(cell["source"]) for cell in lesson_07["cells"])
    headings = "".join("".join(cell["source"]) for cell in lesson_00["cells"])
    assert "00_start_here.ipynb#The-Online-Safety-Act-and-accredited-technology" in links
    assert f"## {HEADING}\n" in headings


def site_pages() -> list[Path]:
    """The Markdown pages and notebooks the site builds: ``include_patterns`` of ``docs/conf.py``
    (read without importing the configuration, which installs a kernel guard)."""
    tree = ast.parse((REPO / "docs" / "conf.py").read_text(encoding="utf-8"))
    patterns = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "include_patterns" for t in node.targets)
    )
    return sorted({path for pattern in patterns for path in REPO.glob(pattern)})


def relative_links(page: Path) -> list[str]:
    """The targets of the page's Markdown links to other files (no web address, no bare fragment)."""
    if page.suffix == ".ipynb":
        cells = json.loads(page.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")
    else:
        text = page.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_every_link_between_pages_goes_to_a_page_the_site_builds() -> None:
    """A guide's link to ``../benchmarks/RESULTS.md`` led nowhere on the site, which did not build
    that page (issue 28); every relative link of every page must name a page the site builds."""
    pages = site_pages()
    assert len(pages) > 11, pages
    built = {page.resolve() for page in pages}
    missing = [
        f"{page.relative_to(REPO)} -> {target}"
        for page in pages
        for target in relative_links(page)
        if (page.parent / target).resolve() not in built
    ]
    assert missing == [], f"links to pages the site does not build (add them to include_patterns): {missing}"
    assert REPO / "benchmarks" / "RESULTS.md" in pages
