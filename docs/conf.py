"""Sphinx configuration of the read-only course site (``python scripts/build_site.py``).

The source directory is the repository root, so lessons keep their relative links
(citations of the bibliography page, links such as ``03_a_toy_e2ee_chat.ipynb``); only the pages listed in
``include_patterns`` become the site.  Lessons are executed by MyST-NB through
jupyter-cache: a rebuild re-executes only the lessons whose code changed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

from toychat import kernel_transport, kernel_wakeup  # noqa: E402

# MyST-NB runs the lessons through nbclient in this process: guard its waits against
# ZeroMQ's lost wake-ups (a lesson with an interact cell could otherwise stall for the
# whole execution timeout; toychat.kernel_wakeup explains).
kernel_wakeup.install()
# ... and start each lesson's kernel on Unix sockets in a private folder, not TCP, so that no
# lesson run prints ipykernel's "Kernel is running over TCP without encryption" warning
# (toychat.kernel_transport explains).
kernel_transport.install()

project = "End-to-end encryption and online safety"
author = "the course authors"
copyright = "the course authors"
language = "en"

extensions = ["myst_nb", "course_site"]

root_doc = "docs/index"
include_patterns = [
    "docs/index.md",
    "docs/references.md",
    "docs/glossary.md",
    "docs/key_numbers.md",
    "docs/policy_summaries.md",
    "docs/sides.md",
    "docs/deploying.md",
    "docs/instructor_guide.md",
    # the benchmark figures the guides cite and link to (written by `python -m benchmarks`)
    "benchmarks/RESULTS.md",
    "lessons/[0-9][0-9]_*.ipynb",
]
exclude_patterns = ["site", "**/.ipynb_checkpoints", ".jupyter_cache", ".site_cache"]

# MyST: the boxes are colon-fence admonitions; headings get anchors for "#section" links.
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

# MyST-NB: execute through the cache, in the lesson's own folder, and fail on an error.
nb_execution_mode = "cache"
nb_execution_cache_path = os.environ.get(
    "COURSE_SITE_CACHE", str(Path(__file__).resolve().parent.parent / ".site_cache" / "jupyter_cache")
)
nb_execution_in_temp = False
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
nb_code_prompt_show = "Show the code"
nb_code_prompt_hide = "Hide the code"
# No widget JavaScript from a CDN: each widget is rendered as its default state at build time (course_site).
nb_ipywidgets_js = {}

html_theme = "sphinx_book_theme"
html_title = "End-to-end encryption and online safety"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "home_page_in_toc": True,
    "navigation_with_keys": False,
    "show_navbar_depth": 1,
    # Offline: no icons, analytics or version switchers fetched from elsewhere.
    "icon_links": [],
}
suppress_warnings = ["mystnb.unknown_mime_type"]

# A course figure carries two representations: the PNG, and an <img alt="…"> in HTML that gives
# JupyterLab and Voilà its alt text (toychat.figures).  The site takes the PNG, so that each figure
# is an image node that the course extension gives the alt text written beside it in the lesson.
nb_mime_priority_overrides = [("html", "image/png", 25)]
