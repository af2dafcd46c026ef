"""The course site (Sphinx + MyST-NB + sphinx-book-theme): build it with the README's one
command, then check what a reader gets, in real headless Chromium where it matters.

* every lesson is a page, linked from the front page, with no script from the internet;
* every figure a lesson draws when executed (counted in a separate run of the lesson) is an
  image on its page, with the lesson's description of it as the image's ``alt`` and a short
  caption ("Figure: …") under it, not the description again;
* code is folded by default with a toggle, and outputs are visible;
* widgets show their default state with a truthful note, and no widget JavaScript;
* no notebook instructions ("press Shift+Enter") in the text of a page;
* reader boxes ("For policy readers", "Content note") are distinct admonitions, whether the
  lesson writes them as block quotes or as MyST colon-fence admonitions;
* search finds "franking" on lesson 08; a citation link lands on its bibliography entry;
* a rebuild after changing one lesson re-executes only that lesson, printing one line per lesson;
* axe-core (from npm) finds no serious or critical violation on any page;
* the whole course and the policy summaries print to PDF (``scripts/build_pdf.py``) with every
  lesson, every picture and an outline, and no "alt text" caption;
* a table longer than a page prints to its last row with its header on every page, and a wide
  one is not cut off at its right edge, in the PDF and in the browser's own printing (``course.css``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from support.browser import chromium_page, chromium_path, npm_install
from support.nbtools import ARTIFACTS, LESSONS, REPO, record_timing, venv_env
from support.pages import script_module

sys.path.insert(0, str(REPO / "docs" / "_ext"))
from course_site import blockquote_boxes_to_admonitions, notebook_instructions, prepare_notebook  # noqa: E402

pytestmark = pytest.mark.browser

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def build_site(source: Path, output: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """``python scripts/build_site.py`` as a reader runs it (with the test's folders)."""
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build_site.py"),
            "--source",
            str(source),
            "--output",
            str(output),
            "--cache",
            str(cache),
        ],
        cwd=REPO,
        env=venv_env(),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A cold build of the whole course: the site folder and what the build printed."""
    folder = tmp_path_factory.mktemp("site")
    result = build_site(REPO, folder / "site", folder / "cache")
    line = result.stderr.strip().splitlines()[-1]
    seconds = float(line.split(" in ")[1].split(" s,")[0])
    record_timing("site", f"cold build: {line.split('built ')[1]}", seconds)
    return folder / "site", result.stderr


def lesson_page(site: Path, lesson: Path) -> Path:
    return site / "lessons" / f"{lesson.stem}.html"


def _soup(path: Path) -> object:
    from bs4 import BeautifulSoup

    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def figures_drawn(nb: nbformat.NotebookNode) -> int:
    """Images an executed notebook shows: its image outputs, and those inside widgets' saved outputs."""
    count = sum(1 for cell in nb.cells for out in cell.get("outputs", []) if "image/png" in out.get("data", {}))
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for model in state.values():
        for out in model.get("state", {}).get("outputs", []) or []:
            count += "image/png" in out.get("data", {})
    return count


# --------------------------------------------------------------------------- the build, the pages


def test_every_lesson_is_built_linked_and_offline(site: tuple[Path, str]) -> None:
    folder, log = site
    front = (folder / "docs" / "index.html").read_text(encoding="utf-8")
    assert (folder / "index.html").is_file()
    assert "docs/index.html" in (folder / "index.html").read_text()
    for lesson in LESSONS:
        assert lesson_page(folder, lesson).is_file(), f"{lesson.stem} was not built"
        assert f'href="../lessons/{lesson.stem}.html"' in front, f"{lesson.stem} is not linked from the front page"
        assert re.search(rf"lesson {lesson.stem}: (executed|from the cache)", log), (
            f"no progress line for {lesson.stem}"
        )
    assert (folder / "docs" / "references.html").is_file()
    assert (folder / "search.html").is_file()
    for page in folder.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r'<script[^>]+src="(https?:)?//', text), f"{page.name} loads a script from the internet"
        assert not re.search(r'<link[^>]+href="(https?:)?//[^"]+\.css', text), (
            f"{page.name} loads a stylesheet from the internet"
        )
        assert WIDGET_STATE not in text, f"{page.name} still carries widget JavaScript state"
        assert WIDGET_VIEW not in text, f"{page.name} still carries widget JavaScript state"


def test_code_is_folded_and_outputs_are_shown(site: tuple[Path, str]) -> None:
    folder, _ = site
    for lesson in LESSONS:
        soup = _soup(lesson_page(folder, lesson))
        cells = soup.select("div.cell")
        code_cells = [
            c for c in nbformat.read(lesson, as_version=4).cells if c.cell_type == "code" and c.source.strip()
        ]
        assert len(cells) == len(code_cells), (
            f"{lesson.stem}: {len(cells)} cells on the page, {len(code_cells)} in the lesson"
        )
        for cell in cells:
            source = cell.select_one("div.cell_input")
            assert source is not None, f"{lesson.stem}: code not folded"
            assert source.find_parent("details") is not None, f"{lesson.stem}: code not folded"
            assert source.find_parent("details").get("open") is None, f"{lesson.stem}: code open by default"
            for output in cell.select("div.cell_output"):
                assert output.find_parent("details") is None, f"{lesson.stem}: an output is folded away"


def test_every_figure_is_on_its_page_with_its_alt_text(site: tuple[Path, str]) -> None:
    """Figures drawn by a separate execution of each lesson (inline backend, as a reader's kernel)
    against the images on its page; each image's alt is the description its cell set
    (toychat.figures.set_alt_text), and under it is a short caption, not that description.
    The separate execution is the session's one run of the lesson (support.nbtools.executed_lesson),
    shared with tests/test_notebooks.py: a second kernel run would draw the same figures."""
    from support.nbtools import executed_lesson

    folder, _ = site
    problems = []
    total = 0
    for lesson in LESSONS:
        executed, _ = executed_lesson(lesson)
        drawn = figures_drawn(executed)
        total += drawn
        soup = _soup(lesson_page(folder, lesson))
        images = soup.select("article img")
        if len(images) != drawn:
            problems.append(f"{lesson.stem}: drew {drawn} figures, the page has {len(images)} images")
        for image in images:
            alt = image.get("alt", "")
            cell = image.find_parent("div", class_="cell") or image.find_parent("div", class_="widget-static")
            following = cell.find_next_sibling() if cell is not None else None
            beside = following.get_text(" ", strip=True) if following is not None else ""
            if not alt or alt.endswith(".png") or "_images" in alt:
                problems.append(f"{lesson.stem}: an image without alt text ({image.get('src', '')[:40]})")
            elif alt.startswith("Figure:"):
                problems.append(f"{lesson.stem}: only the figure's titles as its alt text: {alt[:60]!r}")
            if "alt text" in beside:
                problems.append(f"{lesson.stem}: the alt text shown as a paragraph under its figure: {beside[:60]!r}")
            elif not beside.startswith("Figure:") or len(beside) > 120:
                problems.append(f"{lesson.stem}: no short caption under a figure: {beside[:60]!r}")
    assert total >= 20, f"only {total} figures drawn in all the lessons: is matplotlib's inline backend in use?"
    assert not problems, "\n".join(problems)


def test_pages_give_no_notebook_instructions(site: tuple[Path, str]) -> None:
    """No "press Shift+Enter", "double-click the cell" or "move the slider" in what a lesson page
    shows (see test_site_text.py, which reads the same text without a build)."""
    folder, _ = site
    problems = []
    for lesson in LESSONS:
        article = _soup(lesson_page(folder, lesson)).select_one("article")
        found = notebook_instructions(article.get_text(" "))
        if found:
            problems.append(f"{lesson.stem}: notebook instructions on the page: {found}")
    assert not problems, "\n".join(problems)


def test_widgets_show_their_default_state_truthfully(site: tuple[Path, str]) -> None:
    folder, _ = site
    for lesson in LESSONS:
        uses = any(
            "widgets." in c.source or "Widget(" in c.source or "interact(" in c.source
            for c in nbformat.read(lesson, as_version=4).cells
            if c.cell_type == "code"
        )
        soup = _soup(lesson_page(folder, lesson))
        panels = soup.select("div.widget-static")
        if not uses:
            assert not panels
            continue
        assert panels, f"{lesson.stem}: uses widgets, but none is shown"
        text = soup.get_text(" ")
        assert "show its default result" not in text, "the old note claimed figures that may not exist"
        for panel in panels:
            note = panel.select_one(".widget-static-note").get_text(" ")
            assert "default setting" in note
            assert "recomputes" in note
            assert panel.select(".widget-static-control, .widget-static-output, .widget-static-html"), (
                f"{lesson.stem}: a widget panel shows nothing"
            )
        controls = " ".join(p.get_text(" ") for p in soup.select(".widget-static-control"))
        assert re.search(r"(Slider|Menu|Choice|Text box|Button)", controls), f"{lesson.stem}: no control described"


def test_reader_boxes_are_distinct_admonitions(site: tuple[Path, str]) -> None:
    folder, _ = site
    policy_boxes = 0
    for lesson in LESSONS:
        source = "\n".join(c.source for c in nbformat.read(lesson, as_version=4).cells if c.cell_type == "markdown")
        soup = _soup(lesson_page(folder, lesson))
        tips = [a for a in soup.select("div.admonition.tip") if "For policy readers" in a.get_text()]
        notes = [a for a in soup.select("div.admonition.warning") if "Content note" in a.get_text()]
        expected_tips = len(
            re.findall(r"^(?:> \*\*For policy readers|:::\{admonition\} For policy readers)", source, re.M)
        )
        expected_notes = len(re.findall(r"^(?:> \*\*Content note|:::\{admonition\} Content note)", source, re.M))
        assert len(tips) == expected_tips, f"{lesson.stem}: {len(tips)} policy boxes, {expected_tips} in the lesson"
        assert len(notes) == expected_notes, (
            f"{lesson.stem}: {len(notes)} content notes, {expected_notes} in the lesson"
        )
        assert ":::" not in soup.select_one("article").get_text(), f"{lesson.stem}: admonition syntax shown as text"
        policy_boxes += len(tips)
    assert policy_boxes >= len(LESSONS)


def test_both_box_syntaxes_give_the_same_admonition() -> None:
    quoted = "Intro.\n\n> **For policy readers.** First line,\n> second line.\n\nAfter."
    fenced = blockquote_boxes_to_admonitions(quoted)
    assert (
        fenced == "Intro.\n\n:::{admonition} For policy readers\n:class: tip\nFirst line,\nsecond line.\n:::\n\nAfter."
    )
    already = ":::{admonition} Content note\n:class: warning\nText.\n:::"
    assert blockquote_boxes_to_admonitions(already) == already
    assert (
        blockquote_boxes_to_admonitions("> **Content note.** Careful.")
        == ":::{admonition} Content note\n:class: warning\nCareful.\n:::"
    )
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("plt.show()"),
            nbformat.v4.new_markdown_cell("*Figure: alt text — a bar chart of three bars.*"),
            nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["remove-input"]}),
        ]
    )
    prepared = prepare_notebook(nb)
    assert prepared.cells[0].metadata["tags"] == ["hide-input"]
    assert prepared.cells[0].metadata["mystnb"]["image"]["alt"] == "a bar chart of three bars."
    assert prepared.cells[2].metadata["tags"] == ["remove-input"]


# --------------------------------------------------------------------------- a small course: cache, citations


def _mini_course(root: Path) -> None:
    """A two-lesson course with the real configuration, bibliography and box syntax."""
    (root / "docs").mkdir(parents=True)
    (root / "lessons").mkdir()
    (root / "docs" / "index.md").write_text(
        "# Mini course\n\n```{toctree}\n:glob:\n\n../lessons/*\nreferences\n```\n", encoding="utf-8"
    )
    (root / "docs" / "references.md").write_text(
        (REPO / "docs" / "references.md").read_text(encoding="utf-8"), encoding="utf-8"
    )
    key = re.search(r'<a id="([^"]+)"></a>', (REPO / "docs" / "references.md").read_text(encoding="utf-8")).group(1)
    for number in ("01", "02"):
        nb = nbformat.v4.new_notebook(
            cells=[
                nbformat.v4.new_markdown_cell(
                    f"# Lesson {number}\n\nAs [the source](../docs/references.md#{key}) shows."
                    + "\n\n"
                    + "Filler paragraph to push the entry down the page. " * 40
                ),
                nbformat.v4.new_code_cell(f"print('lesson {number}', 6 * 7)"),
                nbformat.v4.new_markdown_cell(":::{admonition} For policy readers\n:class: tip\nA boxed point.\n:::"),
            ]
        )
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, root / "lessons" / f"{number}_lesson.ipynb")
    (root / "key.txt").write_text(key)


def test_rebuild_executes_only_the_changed_lesson_and_citations_land(tmp_path: Path) -> None:
    course = tmp_path / "course"
    _mini_course(course)
    output, cache = tmp_path / "site", tmp_path / "cache"
    first = build_site(course, output, cache).stderr
    assert "lesson 01_lesson: executed" in first, first[-2000:]
    assert "lesson 02_lesson: executed" in first, first[-2000:]
    assert not (tmp_path / "jupyter_execute").exists(), "executed notebooks written beside the site, not in the cache"

    lesson = course / "lessons" / "02_lesson.ipynb"
    nb = nbformat.read(lesson, as_version=4)
    nb.cells[1].source = "print('lesson 02, edited', 6 * 7)"
    nbformat.write(nb, lesson)
    second = build_site(course, output, cache).stderr
    assert "lesson 02_lesson: executed" in second, second[-2000:]
    assert "lesson 01_lesson: executed" not in second, "an unchanged lesson was executed again"
    assert "lesson 02, edited 42" in (output / "lessons" / "02_lesson.html").read_text(encoding="utf-8")

    key = (course / "key.txt").read_text()
    page = (output / "lessons" / "01_lesson.html").read_text(encoding="utf-8")
    assert f'href="../docs/references.html#{key}"' in page, "the citation does not point at the entry's anchor"
    assert 'class="tip admonition"' in page or 'class="admonition tip"' in page
    with chromium_page(chromium_path(), width=1000, height=700) as browser_page:
        browser_page.goto((output / "lessons" / "01_lesson.html").as_uri())
        browser_page.locator("a.citation-link").first.click()
        browser_page.wait_for_url(f"**/docs/references.html#{key}")
        top = browser_page.evaluate(f"document.getElementById({key!r}).getBoundingClientRect().top")
        assert 0 <= top < 700, f"the entry is not in view after following the citation (top at {top}px)"


def test_every_citation_in_the_site_lands_on_an_entry(site: tuple[Path, str]) -> None:
    folder, _ = site
    anchors = set(
        re.findall(r'<a id="([^"]+)"></a>', (folder / "docs" / "references.html").read_text(encoding="utf-8"))
    )
    assert anchors, "the bibliography page has no entry anchors"
    for page in folder.rglob("*.html"):
        for key in re.findall(r'href="[^"]*references\.html#([^"]+)"', page.read_text(encoding="utf-8")):
            assert key in anchors, f"{page.name}: a citation to {key!r}, which the bibliography lacks"


# --------------------------------------------------------------------------- in the browser


@pytest.fixture(scope="module")
def axe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """axe-core's browser script, installed from npm into a temporary folder."""
    modules = npm_install(
        "axe-core@4", tmp_path_factory.mktemp("axe"), why="the accessibility test needs axe-core from npm"
    )
    return modules / "axe-core" / "axe.min.js"


def test_search_finds_franking_on_lesson_08(site: tuple[Path, str]) -> None:
    folder, _ = site
    with chromium_page(chromium_path(), width=1280, height=900) as page:
        page.goto((folder / "search.html").as_uri() + "?q=franking")
        results = page.locator("#search-results ul.search li a, ul.search li a")
        results.first.wait_for(timeout=60_000)
        hrefs = results.evaluate_all("els => els.map(e => e.getAttribute('href'))")
        assert any("08_client_side_reporting" in h for h in hrefs), hrefs
        page.locator("ul.search li a[href*='08_client_side_reporting']").first.click()
        page.wait_for_url("**/lessons/08_client_side_reporting.html*")
        assert "franking" in page.inner_text("article").lower()


def test_code_toggle_opens_and_closes(site: tuple[Path, str]) -> None:
    folder, _ = site
    with chromium_page(chromium_path(), width=1280, height=900) as page:
        page.goto(lesson_page(folder, LESSONS[6]).as_uri())
        first = page.locator("div.cell details").first
        code = first.locator("div.cell_input")
        assert not code.is_visible(), "code is shown before the reader asks for it"
        first.locator("summary").click()
        assert code.is_visible()
        output = page.locator("div.cell div.cell_output").first
        assert output.is_visible()


def test_pages_open_without_errors_and_pass_axe(site: tuple[Path, str], axe: Path) -> None:
    folder, _ = site
    executable = chromium_path()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    report: dict[str, list[dict[str, object]]] = {}
    pages = sorted(p for p in folder.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts)
    assert len(pages) >= len(LESSONS) + 4
    with chromium_page(executable, width=1280, height=900) as page:
        for path in pages:
            name = str(path.relative_to(folder))
            if name == "index.html":  # the redirect to the front page: check its target is there
                assert (folder / "docs" / "index.html").is_file()
                continue
            page.goto(path.as_uri())
            errors = page.locator(".output.stderr, .output.traceback")
            if errors.count():
                failures.append(f"{name}: an error output: {errors.first.inner_text()[:200]}")
            for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
                target = href.split("#")[0].split("?")[0]
                if target.endswith(".html") and "://" not in target and not (path.parent / target).resolve().is_file():
                    failures.append(f"{name}: broken link to {href}")
            page.add_script_tag(path=str(axe))
            result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
            violations = [
                {
                    "id": v["id"],
                    "impact": v["impact"],
                    "help": v["help"],
                    "nodes": len(v["nodes"]),
                    "targets": [n["target"] for n in v["nodes"][:3]],
                }
                for v in result["violations"]
            ]
            report[name] = violations
            for v in violations:
                if v["impact"] in ("serious", "critical"):
                    failures.append(
                        f"{name}: axe {v['impact']} — {v['id']}: {v['help']} ({v['nodes']} elements: {v['targets']})"
                    )
        page.goto(lesson_page(folder, LESSONS[9]).as_uri())
        page.screenshot(path=str(ARTIFACTS / "site_lesson09.png"))
        page.emulate_media(media="print")
        page.screenshot(path=str(ARTIFACTS / "site_lesson09_print.png"))
        assert not page.locator(".bd-sidebar-primary").is_visible(), "the sidebar is printed"
    (ARTIFACTS / "axe_report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    assert not failures, "\n".join(failures)


#: Where a frozen widget's columns go wrong: two columns of one row drawn over each other, or a
#: column whose content spills out of it (a scroll container the keyboard can reach may be wider
#: inside than out: it scrolls).
WIDGET_LAYOUT_PROBLEMS = """() => {
  const problems = [];
  document.querySelectorAll('.widget-static-row').forEach((row, r) => {
    const kids = [...row.children];
    const boxes = kids.map(k => k.getBoundingClientRect());
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1)
        problems.push(`row ${r}: columns ${i} and ${j} overlap`);
    }
    kids.forEach((k, i) => { if (k.scrollWidth > k.clientWidth + 1) problems.push(
      `row ${r}: column ${i} is ${k.clientWidth}px wide, its content ${k.scrollWidth}px`); });
  });
  document.querySelectorAll('.widget-static, .widget-static-table').forEach((box, i) => {
    const scrolls = box.classList.contains('widget-static-table') && box.tabIndex >= 0;
    if (box.scrollWidth > box.clientWidth + 1 && !scrolls)
      problems.push(`${box.className} ${i} is ${box.clientWidth}px wide, its content ${box.scrollWidth}px`);
  });
  return problems;
}"""


def test_frozen_widgets_keep_their_columns_apart(site: tuple[Path, str]) -> None:
    """Every page's frozen widgets, on a laptop and on a phone: no column drawn over the next (the
    chat's server table once ran under Bob's phone in lessons 03 and 04), nothing spilling out."""
    folder, _ = site
    pages = [p for p in sorted(folder.rglob("*.html")) if "widget-static-row" in p.read_text(encoding="utf-8")]
    assert len(pages) >= 3, pages  # lessons 03, 04 and 08 show the chat at least
    problems: list[str] = []
    for width in (1280, 390):
        with chromium_page(chromium_path(), width=width, height=900) as page:
            for path in pages:
                page.goto(path.as_uri())
                problems += [f"{path.name} at {width}px: {p}" for p in page.evaluate(WIDGET_LAYOUT_PROBLEMS)]
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- the printed course

CAPTION_WORDS = re.compile(r"alt\s*text", re.I)


def pdf_problems(pdf: Path, titles: list[str], images: int) -> list[str]:
    """What is wrong with a printed PDF: a title in ``titles`` missing from its text, a number of
    images other than ``images`` (the pictures of the pages printed), or an "alt text" caption
    printed for the reader to see."""
    import pypdf

    reader = pypdf.PdfReader(pdf)
    text = "\n".join(page.extract_text() for page in reader.pages)
    # A title counts where the page prints it as a heading: Chromium's outline is built from the
    # headings it printed (the front page's table of contents lists the titles too).
    outline = re.sub(r"\s+", "", "".join(_outline_titles(reader.outline)))
    problems = [f"{pdf.name}: no heading {title!r}" for title in titles if re.sub(r"\s+", "", title) not in outline]
    printed = sum(len(page.images) for page in reader.pages)
    if printed != images:
        problems.append(f"{pdf.name}: {printed} images printed, the pages have {images}")
    for match in CAPTION_WORDS.finditer(text):
        problems.append(
            f"{pdf.name}: an alt text printed as a caption: {text[max(0, match.start() - 40) : match.end() + 60]!r}"
        )
    return problems


def _outline_titles(outline: list[object]) -> list[str]:
    """Every title in a PDF outline (bookmarks), nested entries included."""
    titles: list[str] = []
    for entry in outline:
        titles += _outline_titles(entry) if isinstance(entry, list) else [str(getattr(entry, "title", ""))]
    return titles


def run_build_pdf(site: Path) -> subprocess.CompletedProcess[str]:
    """``python scripts/build_pdf.py`` as a reader runs it, on the built site ``site``."""
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build_pdf.py"), "--site", str(site)],
        cwd=REPO,
        env=venv_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def _lesson_title(lesson: Path) -> str:
    first = nbformat.read(lesson, as_version=4).cells[0].source
    return next(line[2:].strip() for line in first.splitlines() if line.startswith("# "))


def test_the_whole_course_prints_to_one_pdf(site: tuple[Path, str]) -> None:
    """The course and the policy summaries print offline to PDF (headless Chromium): every lesson
    and reference page is in the course PDF, with every picture, an outline, and no "alt text"
    caption; the summary PDF holds the summaries.  Last in this module: the printed files are
    removed afterwards, so no other test sees them."""
    folder, _ = site
    chromium_path()  # skip (fail under CI) without Chromium, with the reason
    try:
        run_build_pdf(folder)
        printed = folder / "print"
        document = (printed / "course.html").read_text(encoding="utf-8")
        titles = [_lesson_title(lesson) for lesson in LESSONS] + ["Glossary", "References"]
        images = len(re.findall(r"<img\b", document))
        assert images >= 20, f"only {images} pictures in the print document"
        problems = pdf_problems(printed / "course.pdf", titles, images)
        # the summary also holds "Each side's case, and the evidence" (Sphinx curls its apostrophe)
        problems += pdf_problems(printed / "summary.pdf", ["Summaries for policy readers", "case, and the evidence"], 0)
        assert not problems, "\n".join(problems)
        # the longest table is printed to its last row, not cut off at the edge of its scrolling box
        last_row = longest_table_last_row(document)
        assert last_row in pdf_text(printed / "course.pdf"), (
            f"the longest table's last row is not printed: {last_row!r}"
        )
    finally:
        shutil.rmtree(folder / "print", ignore_errors=True)


def test_the_pdf_check_catches_a_printed_alt_text_and_a_missing_page(tmp_path: Path) -> None:
    """The check above can fail: a page whose figure description is printed as a visible
    "Figure: alt text — …" paragraph, and a lesson the PDF does not hold, are both reported."""
    chromium = chromium_path()
    build_pdf = script_module("build_pdf")
    site = tmp_path / "site"
    (site / "docs").mkdir(parents=True)
    (site / "lessons").mkdir()
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        '<body><article class="bd-article">{}</article></body></html>'
    )
    (site / "docs" / "index.html").write_text(page.format("<h1>Mini course</h1>"), encoding="utf-8")
    (site / "lessons" / "00_only.html").write_text(
        page.format("<h1>Lesson 00</h1><p><em>Figure: alt text — a bar chart of three bars.</em></p>"),
        encoding="utf-8",
    )
    made = build_pdf.build(site, chromium=chromium)
    problems = pdf_problems(made["course"], ["Mini course", "Lesson 00", "Lesson 01"], 0)
    assert any("heading 'Lesson 01'" in p for p in problems), problems
    assert any("alt text printed as a caption" in p for p in problems), problems
    assert not any("heading 'Lesson 00'" in p for p in problems), problems


# --------------------------------------------------------------------------- long tables in print


def pdf_text(pdf: Path, page: int | None = None) -> str:
    """The text of a PDF (or of its page ``page``) without whitespace: a table cell's text is
    found whichever way the printed line broke it.  The typographic ligatures the printed fonts
    use (U+FB00-FB06: "ﬁ" in "to ﬁnd") are read back as their letters."""
    import unicodedata

    import pypdf

    pages = pypdf.PdfReader(pdf).pages
    chosen = pages if page is None else [pages[page]]
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in chosen))
    return re.sub("[\ufb00-\ufb06]", lambda m: unicodedata.normalize("NFKC", m.group()), text)


def longest_table_last_row(document: str) -> str:
    """The text (without whitespace) of the last row of the longest table a reader sees printed in
    the HTML ``document``: the table with the most rows outside a folded ``<details>``."""
    from bs4 import BeautifulSoup

    tables = [t for t in BeautifulSoup(document, "html.parser").find_all("table") if not t.find_parent("details")]
    longest = max(tables, key=lambda table: len(table.find_all("tr")))
    return re.sub(r"\s+", "", longest.find_all("tr")[-1].get_text())


def _theme_stylesheets() -> list[Path]:
    """The stylesheets of the site's themes, as installed (pydata-sphinx-theme under sphinx-book-theme)."""
    import pydata_sphinx_theme
    import sphinx_book_theme

    return [
        Path(pydata_sphinx_theme.__file__).parent / "theme/pydata_sphinx_theme/static/styles/pydata-sphinx-theme.css",
        Path(sphinx_book_theme.__file__).parent / "theme/sphinx_book_theme/static/styles/sphinx-book-theme.css",
    ]


def test_long_and_wide_tables_print_whole_with_their_header_on_every_page(tmp_path: Path) -> None:
    """A table longer than a page runs on across pages with its header row repeated on each, and
    nothing is cut off at the edge of a scrolling box: not a course table's (``show_table``, whose
    box scrolls after 15 rows), not a wide Markdown table's (the theme's scrolling container).  Both
    ways a reader prints: the course PDF (``scripts/build_pdf.py``) and the browser's own printing
    of a page.  A page of a site with the themes' stylesheets and ``course.css``, no build."""
    import pandas as pd
    import pypdf

    from toychat.tables import show_table

    chromium = chromium_path()
    build_pdf = script_module("build_pdf")
    site = tmp_path / "site"
    for folder in ("docs", "lessons", "_static"):
        (site / folder).mkdir(parents=True)
    sheets = [*_theme_stylesheets(), REPO / "docs" / "_static" / "course.css"]
    for sheet in sheets:
        shutil.copy(sheet, site / "_static" / sheet.name)
    links = "".join(f'<link rel="stylesheet" href="../_static/{sheet.name}" />' for sheet in sheets)
    rows = 120
    frame = pd.DataFrame(
        {
            "label": [f"row{i:03d}" for i in range(1, rows + 1)],
            "statement": ["a sentence of prose long enough to wrap onto the next line " * 2] * rows,
            "count": range(rows),
        }
    )
    long_table = show_table(frame, caption="A long table").data
    wide_table = (
        '<div class="pst-scrollable-table-container"><table class="table"><thead><tr>'
        + "".join(f"<th>heading{j:02d}</th>" for j in range(16))
        + "</tr></thead><tbody><tr>"
        + "".join(f"<td>widecell{j:02d}</td>" for j in range(16))
        + "</tr></tbody></table></div>"
    )
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{links}</head><body>'
        '<main class="bd-main"><div class="bd-content"><article class="bd-article">{}</article></div></main>'
        "</body></html>"
    )
    (site / "docs" / "index.html").write_text(page.format("<h1>Mini course</h1>"), encoding="utf-8")
    lesson = site / "lessons" / "01_tables.html"
    lesson.write_text(
        page.format(
            f'<h1>Tables</h1><div class="cell_output docutils container"><div class="output text_html">'
            f"{long_table}</div></div>{wide_table}"
        ),
        encoding="utf-8",
    )
    last_row = longest_table_last_row(lesson.read_text(encoding="utf-8"))
    assert last_row == f"row{rows}" + frame["statement"].iloc[-1].replace(" ", "") + f"{rows - 1}"
    made = build_pdf.build(site, chromium=chromium)["course"]
    direct = tmp_path / "page.pdf"
    build_pdf.print_pdf(lesson, direct, chromium)
    for pdf in (made, direct):
        text = pdf_text(pdf)
        assert f"row{rows}" in text, f"{pdf.name}: the long table is cut off before its last row"
        assert last_row in text, f"{pdf.name}: the long table's last row is not printed whole"
        assert "widecell15" in text, f"{pdf.name}: the wide table is cut off at its right edge"
        pages = len(pypdf.PdfReader(pdf).pages)
        holding_rows = [n for n in range(pages) if re.search(r"row\d{3}", pdf_text(pdf, n))]
        assert len(holding_rows) >= 3, f"{pdf.name}: {rows} rows printed on {holding_rows} pages"
        assert pages <= 15, f"{pdf.name}: {pages} pages for one table"
        without_header = [n for n in holding_rows if "labelstatementcount" not in pdf_text(pdf, n)]
        assert without_header == [], f"{pdf.name}: pages {without_header} continue the table without its header"
        empty = [n for n in range(pages) if not pdf_text(pdf, n)]
        assert empty == [], f"{pdf.name}: blank pages {empty}"
