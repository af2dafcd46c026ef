"""Build the read-only course site: every lesson executed and rendered with Sphinx,
MyST-NB and sphinx-book-theme (the stack Jupyter Book 1 wraps), offline.

    python scripts/build_site.py            # writes site/ ; open site/index.html

Readers get every figure, full-text search (with excerpts, also when opened from disk), a
sidebar table of contents, code folded under "Show the code" with its output visible, the
"For policy readers" and "Content note" boxes as admonitions, the bibliography, and a
print-friendly layout.  Executed
lessons are cached (jupyter-cache, in ``.site_cache/``): a rebuild after editing one
lesson re-executes only that lesson.  One progress line is printed per lesson.
The configuration is ``docs/conf.py``; its extension ``docs/_ext/course_site.py``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONF = REPO / "docs"
#: What site/index.html sends the browser to: the front page Sphinx writes.
FRONT_PAGE = "docs/index.html"
REDIRECT = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>End-to-end encryption and online safety</title>
<meta http-equiv="refresh" content="0; url={page}"></head>
<body><main><p><a href="{page}">Open the course</a></p></main></body></html>
"""


def build(
    output: Path, cache: Path, *, source: Path = REPO, clean: bool = False, quiet: bool = True
) -> dict[str, float]:
    """Build the site of the course in ``source`` into ``output`` with the execution cache and
    Sphinx's doctrees in ``cache`` (``clean`` empties both first: a cold build).  Returns build figures."""
    from sphinx.cmd.build import build_main

    start = time.perf_counter()
    if clean:
        shutil.rmtree(output, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    os.environ["COURSE_SITE_CACHE"] = str(cache / "jupyter_cache")
    # Kernels inherit the environment: keep matplotlib's inline backend, so figures are drawn
    # (a headless MPLBACKEND=Agg in the environment would make plt.show() draw nothing).
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    argv = ["-b", "html", "-c", str(CONF), "-d", str(cache / "doctrees"), "--keep-going"]
    if quiet:
        argv.append("-q")
    status = build_main([*argv, str(source), str(output)])
    if status:
        raise SystemExit(f"sphinx-build failed (exit {status}); see the messages above")
    (output / "index.html").write_text(REDIRECT.format(page=FRONT_PAGE), encoding="utf-8")
    (output / ".nojekyll").touch()
    pages = list(output.rglob("*.html"))
    size = sum(p.stat().st_size for p in output.rglob("*") if p.is_file())
    return {"pages": len(pages), "seconds": time.perf_counter() - start, "bytes": size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "site", help="where the site goes (default: site/)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="execution cache and doctrees (default: .site_cache/ beside the output)",
    )
    parser.add_argument("--clean", action="store_true", help="empty the output and the cache first (a cold build)")
    parser.add_argument("--source", type=Path, default=REPO, help="the course folder (default: this repository)")
    parser.add_argument("--verbose", action="store_true", help="Sphinx's own progress messages too")
    args = parser.parse_args(argv)
    output = args.output.resolve()
    cache = (args.cache or output.parent / ".site_cache").resolve()
    print(f"building the course site into {output} (cache: {cache})", file=sys.stderr, flush=True)
    figures = build(output, cache, source=args.source.resolve(), clean=args.clean, quiet=not args.verbose)
    print(
        f"built {figures['pages']:.0f} pages into {output} in {figures['seconds']:.1f} s, "
        f"{figures['bytes'] / 1e6:.1f} MB; open {output / 'index.html'}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
