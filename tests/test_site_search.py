"""The site's search shows an excerpt under each result when the site is opened from disk.

Sphinx's search page fetches each result's page to cut an excerpt from it; Chromium refuses a fetch
of a ``file://`` address from a page opened from disk ("Cross origin requests are only supported
for protocol schemes: … http, https"), so a reader who opened ``site/index.html`` got titles only
(issue 28).  ``course_site`` ships each page's article text to the search page, and
``docs/_ext/search_from_disk.js`` answers those fetches from it.  This builds a two-page site with
the course's theme and extension (nothing executed) in a few seconds, not the course.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.browser import chromium_page, chromium_path
from support.pages import REPO

sys.path.insert(0, str(REPO / "docs" / "_ext"))
from course_site import article_text_html  # noqa: E402

WORD = "franking"
SENTENCE = "Message franking lets a recipient report a message, and the platform verifies it."


def test_an_excerpt_is_the_articles_text_by_section_without_navigation_or_code() -> None:
    page = (
        '<html><body><nav class="bd-sidebar">Lesson 08 franking</nav><main role="main"><article class="bd-article">'
        '<section id="top"><h1>Top<a class="headerlink" href="#top">#</a></h1><p>Intro &amp; more.</p>'
        '<details><summary>Show the code</summary><div class="cell_input"><pre>franking = 1</pre></div></details>'
        '<section id="part"><h2>Part</h2><p>Line<br>break, <em>in</em>line.</p><img src="x.png" alt="a"></section>'
        "</section></article><footer>Footer</footer></main></body></html>"
    )
    text = article_text_html(page)
    assert text == (
        '<div role="main"><section id="top"> Top Intro &amp; more. Show the code '
        '<section id="part"> Part Line break, inline. </section> </section></div>'
    )


def build_small_site(tmp_path: Path) -> Path:
    """Two pages with the course's theme and extension, nothing executed; returns the output folder."""
    source, output = tmp_path / "source", tmp_path / "html"
    source.mkdir()
    (source / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(REPO / 'docs' / '_ext')!r})\n"
        'extensions = ["myst_nb", "course_site"]\nnb_execution_mode = "off"\n'
        'html_theme = "sphinx_book_theme"\n',
        encoding="utf-8",
    )
    (source / "index.md").write_text("# Front page\n\nWelcome.\n\n```{toctree}\nreporting\n```\n", encoding="utf-8")
    (source / "reporting.md").write_text(
        f"# Reporting\n\nSome opening words.\n\n## What {WORD} shows\n\n{SENTENCE}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(source), str(output)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return output


@pytest.mark.browser
def test_search_shows_excerpts_from_disk(tmp_path: Path) -> None:
    output = build_small_site(tmp_path)
    with chromium_page(chromium_path(), width=1280, height=900) as page:
        page.goto((output / "search.html").as_uri() + f"?q={WORD}")
        assert page.evaluate("location.protocol") == "file:"
        results = page.locator("ul.search > li")
        results.first.wait_for(timeout=60_000)
        page.wait_for_function(
            "() => (document.querySelector('#search-results') || document.body).innerText.includes('Search finished')",
            timeout=60_000,
        )
        titles = results.locator("a").all_inner_texts()
        assert "Reporting" in titles, titles
        # each excerpt fills in after its title: wait for all of them
        page.wait_for_function(
            "n => document.querySelectorAll('ul.search > li p.context').length >= n", arg=len(titles), timeout=30_000
        )
        excerpts = dict(zip(titles, results.locator("p.context").all_inner_texts(), strict=True))
        for title, excerpt in excerpts.items():
            assert WORD in excerpt.lower(), f"{title}: {excerpt!r}"
        assert SENTENCE in excerpts["Reporting"], excerpts
        assert "Front page" not in excerpts["Reporting"], f"the excerpt holds the navigation: {excerpts}"
