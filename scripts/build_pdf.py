"""Print the built course site to PDF, offline: the whole course in one file, and the policy
summaries with the page of each side's case and the evidence in another.

    python scripts/build_site.py            # first: writes site/
    python scripts/build_pdf.py             # then: site/print/course.pdf and site/print/summary.pdf

Each page's article (the front page, every lesson in order, then the reference pages) is copied
into one print document, ``site/print/course.html``, with the site's own stylesheets and a print
stylesheet that starts each page on a new sheet, shows long tables whole (wrapped, never cut off at
the edge of a scrolling box) and leaves out the site's navigation, search and code toggles.  Headless
Chromium (Debian's ``chromium``, driven by Playwright, as the browser tests do) prints it with a PDF
outline built from the headings.  Nothing is fetched: the pages, images and stylesheets are the
site's.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Pages after the lessons, in this order, where the site has them.
AFTER_LESSONS = (
    "docs/key_numbers.html",
    "docs/policy_summaries.html",
    "docs/sides.html",
    "docs/glossary.html",
    "docs/references.html",
)
#: The summary PDF's pages, in this order: the first is required, the others are printed where the site has them.
SUMMARY = ("docs/policy_summaries.html", "docs/sides.html")
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
html, body { background: #fff !important; }
/* The theme hides each page's first heading in print (it prints the title apart); here every
   page is a section of one document, so its heading is its title. */
.bd-main .bd-content .bd-article h1:first-of-type { display: block !important; }
.print-page { break-before: page; }
.print-page:first-of-type { break-before: auto; }
/* Long tables: shown whole and wrapped, never cut off at the edge of a scrolling box. */
.pst-scrollable-table-container, .table-wrapper, div.output, div.cell_output, .output_area,
div.highlight, pre { overflow: visible !important; max-height: none !important; }
table { width: 100% !important; table-layout: auto; font-size: 0.8em; }
th, td { white-space: normal !important; overflow-wrap: anywhere; }
pre { white-space: pre-wrap !important; overflow-wrap: anywhere; }
img { max-width: 100% !important; height: auto !important; break-inside: avoid; }
tr, figure, .admonition { break-inside: avoid; }
h1, h2, h3 { break-after: avoid; }
/* Reader aids of the web page that mean nothing on paper. */
.headerlink, .toggle-details__summary, summary, .prev-next-area, .bd-header, .bd-sidebar-primary,
.bd-sidebar-secondary, .bd-footer, .bd-footer-article, .bd-footer-content, nav, script { display: none !important; }
details > div.cell_input { display: none !important; }
"""


def chromium_executable() -> str:
    """Debian's Chromium (``apt-get install chromium``); raises SystemExit naming the package if absent."""
    for candidate in (*CHROMIUM_CANDIDATES, shutil.which("chromium") or ""):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("Debian's chromium is not installed (apt-get install chromium); the PDF is printed with it")


def reading_order(site: Path, pages: tuple[str, ...] | None = None) -> list[Path]:
    """The pages of ``site`` in the order a reader meets them: the front page, every lesson by its
    number, then :data:`AFTER_LESSONS` (or exactly ``pages``, relative to ``site``, when given)."""
    if pages is not None:
        return [site / page for page in pages]
    order = [site / "docs" / "index.html", *sorted((site / "lessons").glob("[0-9][0-9]_*.html"))]
    order += [site / page for page in AFTER_LESSONS if (site / page).is_file()]
    return order


def _article(html_text: str) -> str:
    """The ``<article>`` of a built page (its content, without the site's navigation)."""
    match = re.search(r"<article\b[^>]*>(?P<body>.*)</article>", html_text, re.S)
    if match is None:
        raise ValueError("no <article> on the page: is this a page of the course site?")
    return match.group("body")


def _stylesheets(html_text: str) -> list[str]:
    """The page's own ``<link rel="stylesheet">`` tags (paths relative to a page one folder deep)."""
    return re.findall(r"<link\b[^>]*rel=\"stylesheet\"[^>]*>", html_text)


def print_document(site: Path, pages: list[Path], title: str) -> str:
    """One HTML document holding the article of each page in ``pages``, each in a
    ``<section class="print-page">`` that starts a new sheet, for a file in ``site/print/``.

    Every page of the site sits one folder below its root (``docs/``, ``lessons/``), so its
    relative links to images and stylesheets (``../_images/…``) resolve from ``site/print/`` too."""
    first = pages[0].read_text(encoding="utf-8")
    head = "\n".join(_stylesheets(first))
    sections = []
    for page in pages:
        if page.parent.parent != site:
            raise ValueError(f"{page} is not one folder below {site}")
        body = _article(page.read_text(encoding="utf-8"))
        # Details (folded code) are printed closed; outputs outside them are shown.
        sections.append(f'<section class="print-page" data-page="{page.parent.name}/{page.name}">{body}</section>')
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>\n{head}\n'
        f"<style>{PRINT_CSS}</style></head>\n"
        f'<body><main class="bd-main"><div class="bd-content"><article class="bd-article">\n'
        + "\n".join(sections)
        + "\n</article></div></main></body></html>\n"
    )


def print_pdf(document: Path, pdf: Path, chromium: str | None = None) -> None:
    """Print the HTML file ``document`` to ``pdf`` with headless Chromium (A4, with an outline)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium or chromium_executable(),
            headless=True,
            args=["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
        )
        try:
            page = browser.new_page()
            page.route(re.compile(r"^https?://"), lambda route: route.abort())  # offline: nothing fetched
            page.goto(document.as_uri(), wait_until="load")
            page.emulate_media(media="print")
            page.pdf(path=str(pdf), format="A4", print_background=True, outline=True, tagged=True)
        finally:
            browser.close()


def build(site: Path, *, chromium: str | None = None) -> dict[str, Path]:
    """Write ``course.pdf`` (every page) and ``summary.pdf`` (the policy summaries, if the site has
    them, then each side's case and the evidence) into ``site/print/``, each beside the HTML it was
    printed from.  Returns name -> PDF."""
    out = site / "print"
    out.mkdir(exist_ok=True)
    made = {}
    jobs = [("course", "End-to-end encryption and online safety", reading_order(site))]
    if (site / SUMMARY[0]).is_file():
        summary = tuple(page for page in SUMMARY if (site / page).is_file())
        jobs.append(("summary", "Policy summaries", reading_order(site, summary)))
    for name, title, pages in jobs:
        document = out / f"{name}.html"
        document.write_text(print_document(site, pages, title), encoding="utf-8")
        print_pdf(document, out / f"{name}.pdf", chromium)
        made[name] = out / f"{name}.pdf"
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=REPO / "site", help="the built site (default: site/)")
    args = parser.parse_args(argv)
    site = args.site.resolve()
    if not (site / "docs" / "index.html").is_file():
        print(f"no built site in {site}: run python scripts/build_site.py first", file=sys.stderr)
        return 1
    start = time.perf_counter()
    made = build(site)
    for name, pdf in made.items():
        print(f"{name}: {pdf} ({pdf.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    print(f"printed in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
