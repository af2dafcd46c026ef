"""Real JupyterLab in real headless Chromium, for the browser tests.

:func:`jupyterlab_server` starts ``jupyter lab`` on 127.0.0.1 with a random
token in a temporary root directory (so autosave never touches the committed
notebooks); :func:`chromium_page` opens Debian's Chromium through Python
Playwright with the flags this offline machine needs.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

from .nbtools import venv_env

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    """Debian's Chromium, or skip (fail under CI) with the reason."""
    for candidate in (*CHROMIUM_CANDIDATES, shutil.which("chromium") or ""):
        if candidate and Path(candidate).exists():
            return candidate
    require("Debian's chromium is not installed (apt-get install chromium); the browser tests need it")


def require(reason: str) -> NoReturn:
    """Skip the test with ``reason`` — or fail it under ``CI``, where everything must run."""
    if os.environ.get("CI"):
        pytest.fail(reason + " — required under CI", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def npm_install(package: str, folder: Path, *, why: str) -> Path:
    """``npm install package`` into ``folder``; returns its ``node_modules``.
    Without npm the test is skipped (failed under CI), ``why`` saying what needs it."""
    npm = shutil.which("npm")
    if npm is None:
        require(f"npm is not installed; {why}")
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(folder), package],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return folder / "node_modules"


@contextmanager
def jupyterlab_server(root: Path, *, timeout: float = 90.0) -> Iterator[str]:
    """Run JupyterLab serving ``root``; yields its base URL (token not included)."""
    port, token = free_port(), secrets.token_hex(16)
    state = root.parent / f"{root.name}-jupyter-state"
    for sub in ("runtime", "settings", "workspaces"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        # The page's JupyterLab as window.jupyterapp, so a test can follow the kernel's messages.
        "--LabApp.expose_app_in_browser=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    # Answer JupyterLab's "get notified about Jupyter news?" question in advance.
    news = state / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True, exist_ok=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    # Render every cell (no windowing), so long lessons can be checked cell by cell.
    notebook_settings = state / "settings" / "@jupyterlab" / "notebook-extension"
    notebook_settings.mkdir(parents=True, exist_ok=True)
    (notebook_settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    env = venv_env(
        JUPYTER_RUNTIME_DIR=str(state / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
    )
    env.pop("MPLBACKEND", None)
    log = open(state / "jupyterlab.log", "wb")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(
                    "JupyterLab did not start:\n" + (state / "jupyterlab.log").read_text(errors="replace")[-3000:]
                )
            time.sleep(0.3)
        yield f"{base}/lab/tree/{{path}}?token={token}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@contextmanager
def chromium_page(executable: str, *, width: int = 1400, height: int = 1000) -> Iterator[object]:
    """A Playwright page in headless Debian Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


#: The visible notebook: JupyterLab keeps notebooks of other tabs in the DOM, hidden.
VISIBLE_NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
#: The text the sentinel cell prints; see :func:`copy_with_sentinel`.
SENTINEL = "toychat-browser-test: every cell above has run"


def copy_with_sentinel(source: Path, target: Path) -> Path:
    """Copy a notebook for a browser test, with one code cell appended that prints :data:`SENTINEL`.

    The kernel runs cells in order and JupyterLab stops a Run All at the first error, so the
    sentinel's output appears exactly when every cell above it has finished without error: a
    signal the kernel gives, not a guess from prompts in the DOM (whose ``[n]`` JupyterLab does
    not promise to have drawn when the kernel goes idle).  Copies also keep autosave off the
    committed notebooks."""
    import nbformat

    nb = nbformat.read(source, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(f"print({SENTINEL!r})"))
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


def wait_for_kernel_idle(page: object, *, timeout_ms: int = 240_000) -> None:
    """Wait until the visible notebook has a kernel and that kernel is idle.

    The execution indicator alone is not enough: JupyterLab draws it as ``idle`` while the
    toolbar still says "No Kernel", a few seconds before the kernel even starts (then
    ``initializing``, ``connecting``, ``busy``, ``idle``).  A Run All clicked in that window
    races the kernel's start."""
    page.wait_for_function(
        """(selector) => {
            const panel = document.querySelector(selector);
            if (!panel) return false;
            const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
            const kernel = panel.querySelector("[data-jp-item-name='kernelName']");
            const name = kernel ? kernel.innerText.trim() : '';
            return indicator && indicator.getAttribute('data-status') === 'idle'
                && name !== '' && !name.includes('No Kernel');
        }""",
        arg=VISIBLE_NOTEBOOK,
        timeout=timeout_ms,
    )


def run_all_cells(page: object, *, timeout_ms: int = 240_000) -> None:
    """Run → Run All Cells in the visible notebook (a copy made by :func:`copy_with_sentinel`),
    then wait for the sentinel's output or an error output, and for the kernel to go idle.

    Before Run All it waits for the kernel to be connected and idle and makes the notebook the
    active widget: JupyterLab disables "Run All Cells" while no notebook is active, and a click on
    a disabled menu item does nothing.  Raises ``AssertionError`` naming the first error output."""
    panel = page.locator(VISIBLE_NOTEBOOK).first
    panel.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=timeout_ms)
    wait_for_kernel_idle(page, timeout_ms=timeout_ms)
    panel.locator(".jp-Cell .jp-InputPrompt").first.click()  # makes this notebook the active widget
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    item = page.locator(".lm-Menu-item:has(.lm-Menu-itemLabel:text-is('Run All Cells'))")
    assert item.get_attribute("aria-disabled") != "true", "Run All Cells is disabled: no active notebook"
    item.click()
    sentinel = panel.locator(".jp-OutputArea-output", has_text=SENTINEL)
    error = panel.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    sentinel.or_(error).first.wait_for(timeout=timeout_ms)
    if error.count():
        raise AssertionError("a cell wrote an error: " + error.first.inner_text()[:1500])
    wait_for_kernel_idle(page, timeout_ms=timeout_ms)


def shut_down_kernels(url: str) -> None:
    """Stop every running kernel of the JupyterLab at ``url`` (a URL from
    :func:`jupyterlab_server`), so lessons opened one after another do not pile up."""
    import json
    import urllib.parse

    parts = urllib.parse.urlsplit(url.format(path=""))
    token = urllib.parse.parse_qs(parts.query)["token"][0]
    base = f"{parts.scheme}://{parts.netloc}"
    with urllib.request.urlopen(f"{base}/api/kernels?token={token}", timeout=10) as response:
        kernels = json.load(response)
    for kernel in kernels:
        request = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}?token={token}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()


#: Widget parts whose text a reader must be able to read in full.
_TEXT_PARTS = (
    ".widget-label, .widget-readout, .jupyter-button, .widget-toggle-button, .widget-dropdown select, "
    ".toychat-choice-slider label, .toychat-choice-slider output"
)

_LOOK_LIKE_A_USER = (
    r"""(selector) => {
    const panel = document.querySelector(selector);
    const problems = [];
    const cellOf = (el) => {
        const cells = [...panel.querySelectorAll('.jp-Cell')];
        const cell = el.closest('.jp-Cell');
        return cell ? `cell ${cells.indexOf(cell)}` : 'outside a cell';
    };
    for (const el of panel.querySelectorAll(%r)) {
        if (!el.offsetParent) continue;  // not displayed
        if (el.scrollWidth > el.clientWidth + 1) {
            const text = (el.innerText || el.value || '').trim().slice(0, 80);
            problems.push(`${cellOf(el)}: widget text cut off: "${text}"`
                + ` (${el.scrollWidth}px of text in ${el.clientWidth}px)`);
        }
    }
    const canvas = document.createElement('canvas').getContext('2d');
    const withPlaceholder = '.jupyter-widgets input[placeholder], .jupyter-widgets textarea[placeholder]';
    for (const input of panel.querySelectorAll(withPlaceholder)) {
        if (!input.offsetParent || !input.placeholder) continue;
        const style = getComputedStyle(input);
        canvas.font = `${style.fontSize} ${style.fontFamily}`;
        const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        const need = canvas.measureText(input.placeholder).width;
        if (need > room + 1) {
            problems.push(`${cellOf(input)}: placeholder cut off: "${input.placeholder}"`
                + ` (${Math.round(need)}px in ${Math.round(room)}px)`);
        }
    }
    for (const img of panel.querySelectorAll('.jp-OutputArea-output img')) {
        const area = img.closest('.jp-OutputArea-output');
        if (img.naturalWidth > area.clientWidth + 1) {
            problems.push(`${cellOf(img)}: figure ${img.naturalWidth}px wide`
                + ` in a ${area.clientWidth}px output area (shrunk to fit)`);
        }
    }
    // A quote squeezed into a sliver beside a column of short codes is unreadable.
    for (const table of panel.querySelectorAll('table.toychat-table')) {
        if (!table.offsetParent) continue;
        const heads = [...table.querySelectorAll('thead th')];
        const longest = heads.map(() => 0);
        for (const row of table.querySelectorAll('tbody tr')) {
            [...row.children].forEach((td, i) => {
                longest[i] = Math.max(longest[i] || 0, td.innerText.trim().length);
            });
        }
        const width = heads.map((th) => th.getBoundingClientRect().width);
        heads.forEach((th, i) => {
            if (longest[i] <= 60) return;
            heads.forEach((other, j) => {
                if (longest[j] <= 12 && width[i] < 1.5 * width[j]) {
                    problems.push(`${cellOf(table)}: table squeezes its prose: "${th.innerText.trim()}"`
                        + ` ${Math.round(width[i])}px beside "${other.innerText.trim()}" ${Math.round(width[j])}px`);
                }
            });
        });
    }
    // A short label squeezed to a word a line beside the prose.
    for (const table of panel.querySelectorAll('table.toychat-table')) {
        if (!table.offsetParent) continue;
        const heads = [...table.querySelectorAll('thead th')];
        const reported = new Set();
        for (const row of table.querySelectorAll('tbody tr')) {
            [...row.children].forEach((td, i) => {
                const text = td.innerText.trim();
                if (td.classList.contains('num') || text.length > 40 || reported.has(i)) return;
                const range = document.createRange();
                range.selectNodeContents(td);
                const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
                if (lines > 3) {
                    reported.add(i);
                    problems.push(`${cellOf(table)}: column "${heads[i] ? heads[i].innerText.trim() : i}" squeezed:`
                        + ` "${text}" drawn on ${lines} lines`);
                }
            });
        }
    }
    // A table wider than its box hides columns behind a sideways scroll few readers find.
    for (const box of panel.querySelectorAll('.toychat-table-box')) {
        if (!box.offsetParent) continue;
        if (box.scrollWidth > box.clientWidth + 1) {
            const caption = box.querySelector('caption');
            problems.push(`${cellOf(box)}: table wider than its box: "${caption ? caption.innerText.trim() : ''}"`
                + ` (${box.scrollWidth}px in ${box.clientWidth}px)`);
        }
    }
    // A number column under a header aligned otherwise: its values seem to belong to the next column.
    const side = (el) => {
        const align = getComputedStyle(el).textAlign;
        return {start: 'left', end: 'right'}[align] || align;
    };
    const allTables = 'table.toychat-table, .jp-MarkdownCell :is(.myst, .jp-RenderedMarkdown) table';
    for (const table of panel.querySelectorAll(allTables)) {
        if (!table.offsetParent) continue;
        const heads = [...table.querySelectorAll('thead th')];
        const first = table.querySelector('tbody tr');
        if (!first) continue;
        [...first.children].forEach((td, i) => {
            if (heads[i] && side(td) !== side(heads[i])) {
                problems.push(`${cellOf(table)}: column "${heads[i].innerText.trim()}" aligned ${side(td)}`
                    + ` under a header aligned ${side(heads[i])}`);
            }
        });
    }
    // A scroll box sized for more rows than it shows (quotes take several lines each), or whose
    // header scrolls away with the rows.
    for (const box of panel.querySelectorAll('.toychat-table-box')) {
        if (!box.offsetParent || box.scrollHeight <= box.clientHeight + 1) continue;
        box.scrollTop = 0;
        const bottom = box.getBoundingClientRect().top + box.clientTop + box.clientHeight;
        const rows = [...box.querySelectorAll('tbody tr')];
        const shown = rows.filter((tr) => tr.getBoundingClientRect().bottom <= bottom + 1).length;
        const meant = Math.min(rows.length, Number(box.dataset.rowsVisible || 15));
        const caption = box.querySelector('caption');
        const name = caption ? caption.innerText.trim().slice(0, 60) : '';
        if (shown < meant / 2) {
            problems.push(`${cellOf(box)}: scroll box "${name}" shows ${shown} of the ${meant} rows it is meant to`);
        }
        const head = box.querySelector('thead th');
        if (head && getComputedStyle(head).position !== 'sticky') {
            problems.push(`${cellOf(box)}: scroll box "${name}": its header scrolls away with the rows`);
        }
    }
    // Sliders of one group (an interact) whose tracks start at different places.
    const groups = new Set([...panel.querySelectorAll('.toychat-choice-slider')].map(
        (slider) => slider.closest('.widget-interact, .jupyter-widget-vbox, .widget-vbox')));
    for (const group of groups) {
        if (!group || !group.offsetParent) continue;
        const tracks = [...group.querySelectorAll('.toychat-choice-slider input[type=range]')]
            .filter((track) => track.offsetParent);
        const starts = tracks.map((track) => Math.round(track.getBoundingClientRect().left));
        if (starts.length > 1 && Math.max(...starts) - Math.min(...starts) > 1) {
            problems.push(`${cellOf(group)}: the sliders of one group start at different places`
                + ` (${starts.join(', ')} px from the left)`);
        }
    }
    // A control drawn smaller than its content: ipywidgets draws a labelled control as a box of
    // fixed height, and a menu or label that does not fit spills out of it (a drop-down squashed
    // under the next button) or is drawn too low for one line of its own text.
    const rect = (r) => `${Math.round(r.width)}x${Math.round(r.height)}px`;
    for (const box of panel.querySelectorAll('.jupyter-widget-inline-hbox, .widget-inline-hbox')) {
        if (!box.offsetParent) continue;
        const outer = box.getBoundingClientRect();
        for (const part of box.children) {
            if (!part.offsetParent) continue;
            const inner = part.getBoundingClientRect();
            if (inner.width === 0 && inner.height === 0) continue;
            if (inner.bottom > outer.bottom + 1 || inner.top < outer.top - 1 || inner.right > outer.right + 1) {
                const text = (box.innerText || '').trim().replace(/\s+/g, ' ').slice(0, 60);
                problems.push(`${cellOf(box)}: control smaller than its content: "${text}" drawn in`
                    + ` ${rect(outer)}, its ${part.tagName.toLowerCase()} ${rect(inner)} spills out of it`);
            }
        }
    }
    const controls = '.jupyter-widgets select, .jupyter-widgets button, .jupyter-widgets textarea, '
        + '.jupyter-widgets input:not([type=checkbox]):not([type=radio]):not([type=range])';
    for (const control of panel.querySelectorAll(controls)) {
        if (!control.offsetParent) continue;
        const box = control.getBoundingClientRect();
        const line = parseFloat(getComputedStyle(control).fontSize) * 1.2;
        if (box.height < line) {
            const text = (control.innerText || control.value || '').trim().slice(0, 60);
            problems.push(`${cellOf(control)}: control smaller than its content: "${text}" is`
                + ` ${Math.round(box.height)}px high for a ${Math.round(line)}px line of text`);
        }
    }
    // A figure taller than the notebook's visible area: the reader never sees it whole.
    const scroller = panel.querySelector('.jp-WindowedPanel-outer');
    for (const img of panel.querySelectorAll('.jp-OutputArea-output img')) {
        if (scroller && img.offsetParent && img.naturalHeight > scroller.clientHeight) {
            problems.push(`${cellOf(img)}: figure ${img.naturalHeight}px tall, taller than the`
                + ` ${scroller.clientHeight}px the notebook shows at once`);
        }
    }
    // One table style: a Markdown table drawn like the course's own tables (toychat.tables): the
    // same text size, header shading and rules, and cell padding as a course table on the page,
    // or, on a page without one, as show_table's inline styles.
    const styleOf = (table) => {
        const th = table.querySelector('th');
        const td = table.querySelector('td');
        if (!th || !td) return null;
        const h = getComputedStyle(th);
        const d = getComputedStyle(td);
        return {
            'text size': d.fontSize,
            'header shading': h.backgroundColor,
            'rule under the header': `${h.borderBottomWidth} ${h.borderBottomStyle}`,
            'rule under a row': `${d.borderBottomWidth} ${d.borderBottomStyle}`,
            'cell padding': `${d.paddingTop} ${d.paddingLeft}`,
        };
    };
    const reference = [...panel.querySelectorAll('table.toychat-table')]
        .filter((table) => table.offsetParent).map(styleOf).find((style) => style) || {
            'text size': '14px',
            'header shading': 'rgb(240, 240, 240)',
            'rule under the header': '2px solid',
            'rule under a row': '1px solid',
            'cell padding': '4px 8px',
        };
    const markdownTables = '.jp-MarkdownCell :is(.myst, .jp-RenderedMarkdown) table:not(.toychat-table)';
    for (const table of panel.querySelectorAll(markdownTables)) {
        if (!table.offsetParent) continue;
        const style = styleOf(table);
        if (!style) continue;
        const differ = Object.keys(reference).filter((key) => style[key] !== reference[key])
            .map((key) => `${key} ${style[key]}, not ${reference[key]}`);
        if (differ.length) {
            problems.push(`${cellOf(table)}: a Markdown table not in the course's table style: ${differ.join('; ')}`);
        }
    }
    // A figure's description belongs in its alt text, not in a paragraph under it.
    for (const text of panel.querySelectorAll('.jp-MarkdownCell .myst, .jp-MarkdownCell .jp-RenderedMarkdown')) {
        if (text.offsetParent && /Figure:\s*alt text/.test(text.innerText)) {
            problems.push(`${cellOf(text)}: a visible alt-text paragraph: "${text.innerText.trim().slice(0, 60)}"`);
        }
    }
    for (const out of panel.querySelectorAll('.jp-OutputArea-output')) {
        const mime = out.getAttribute('data-mime-type') || '';
        if (mime.includes('stderr') || mime.includes('error')) {
            problems.push(`${cellOf(out)}: error output: ${out.innerText.slice(0, 200)}`);
        }
        if (out.innerText.includes('Error displaying widget')) {
            problems.push(`${cellOf(out)}: a widget failed to render`);
        }
    }
    return problems;
}"""  # noqa: UP031  (JavaScript full of { } and ${ }: %-formatting leaves them as they are)
    % _TEXT_PARTS
)


#: The longest line of prose a reader should meet (characters); a readable measure is 60-90.
MAX_PROSE_CHARS = 100
#: The Markdown's own blocks of prose, in JupyterLab (jupyterlab-myst renders into ``.myst``) and in
#: Voilà (``.jp-RenderedMarkdown``).
PROSE = (
    ".jp-MarkdownCell :is(.myst, .jp-RenderedMarkdown) > p, "
    ".jp-MarkdownCell :is(.myst, .jp-RenderedMarkdown) > :is(ul, ol) > li, "
    ".jp-MarkdownCell :is(.myst, .jp-RenderedMarkdown) > :is(aside, .admonition) p"
)

_PROSE_LINES = r"""([root, selector, limit]) => {
    const scope = document.querySelector(root);
    if (!scope) return [`no ${root} on the page`];
    const canvas = document.createElement('canvas').getContext('2d');
    const problems = [];
    for (const block of scope.querySelectorAll(selector)) {
        if (!block.offsetParent) continue;
        const text = block.innerText.replace(/\s+/g, ' ').trim();
        if (text.length < 120) continue;  // one line in any layout: no measure to judge
        const style = getComputedStyle(block);
        canvas.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
        const perChar = canvas.measureText(text).width / text.length;
        const width = block.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        const chars = Math.round(width / perChar);
        if (chars > limit) {
            problems.push(`prose ${chars} characters a line (${Math.round(width)}px): "${text.slice(0, 60)}…"`);
        }
    }
    return problems;
}"""


def prose_lines_too_long(page: object, root: str) -> list[str]:
    """Blocks of prose (paragraphs, list items, a box's paragraphs) inside ``root`` whose lines hold
    more than :data:`MAX_PROSE_CHARS` characters: the block's width over the average width of its
    own characters in its own font.  Only blocks long enough to fill a line are judged."""
    return page.evaluate(_PROSE_LINES, [root, PROSE, MAX_PROSE_CHARS])


def look_like_a_user(page: object) -> list[str]:
    """What a learner would see wrong in the visible, executed notebook: widget labels, buttons,
    dropdowns, readouts or placeholders cut off; figures wider than their output area (JupyterLab
    shrinks them, so their text becomes too small to read); a table whose prose column (a cell over
    60 characters) is under 1.5 times as wide as a column of short codes (12 characters at most);
    a course table wider than its box (columns hidden behind a sideways scroll); a column aligned
    otherwise than its header; a scroll box showing fewer than half the rows it is meant to show
    (``data-rows-visible``, else 15), or whose header scrolls away; sliders of one group whose
    tracks start at different places; a short label (40 characters at most) squeezed onto more
    than three lines; a figure taller than the notebook's visible area; prose lines longer than
    :data:`MAX_PROSE_CHARS` characters; a figure's alt text shown as a paragraph; a control smaller
    than its content (a part spilling out of its widget's box, or lower than a line of its text);
    a Markdown table whose text size, header shading, rules or padding differ from the course's
    tables (one table style); error outputs; widgets that failed."""
    return page.evaluate(_LOOK_LIKE_A_USER, VISIBLE_NOTEBOOK) + prose_lines_too_long(page, VISIBLE_NOTEBOOK)


def axe_in_jupyterlab(page: object, axe_script: Path) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Run axe-core on the page; return (violations in the course's own outputs and widgets,
    violations in JupyterLab's own interface), each as {id, impact, help, nodes}.

    A violation is the course's when any of its elements lies inside a cell's output area."""
    page.add_script_tag(path=str(axe_script))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                ours: v.nodes.filter(n => n.target.some(t => {
                    const el = document.querySelector(t);
                    return el && el.closest('.jp-OutputArea-output');
                })).map(n => n.target.join(' ')),
                theirs: v.nodes.length,
            }));
        }"""
    )
    ours = [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": len(v["ours"]), "targets": v["ours"][:5]}
        for v in result
        if v["ours"]
    ]
    theirs = [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": v["theirs"] - len(v["ours"])}
        for v in result
        if v["theirs"] > len(v["ours"])
    ]
    return ours, theirs


def notebook_screenshot(page: object, path: Path) -> Path:
    """One image of the whole visible notebook, top to bottom: JupyterLab scrolls the notebook
    inside its panel, so a page screenshot shows only one screenful; this scrolls the panel a
    screenful at a time and stitches the pieces (Pillow)."""
    from PIL import Image

    scroller = f"{VISIBLE_NOTEBOOK} .jp-WindowedPanel-outer"
    box = page.locator(scroller).first.bounding_box()
    total, view = page.evaluate(
        "(s) => { const e = document.querySelector(s); return [e.scrollHeight, e.clientHeight]; }", scroller
    )
    pieces: list[Image.Image] = []
    offsets: list[int] = []
    top = 0
    while True:
        page.evaluate("([s, y]) => { document.querySelector(s).scrollTop = y; }", [scroller, top])
        actual = page.evaluate("(s) => document.querySelector(s).scrollTop", scroller)
        shot = path.with_suffix(f".part{len(pieces)}.png")
        page.screenshot(path=str(shot), clip=box)
        pieces.append(Image.open(shot).convert("RGB"))
        shot.unlink()
        offsets.append(int(actual))
        if top + view >= total or len(pieces) >= 60:
            break
        top += view
    scale = pieces[0].height / view
    image = Image.new("RGB", (pieces[0].width, int(total * scale)), "white")
    for piece, offset in zip(pieces, offsets, strict=True):
        image.paste(piece, (0, int(offset * scale)))
    image.save(path)
    page.evaluate("(s) => { document.querySelector(s).scrollTop = 0; }", scroller)
    return path


#: Follows the visible notebook's kernel: counts its busy and idle states, and keeps every error
#: and every line on stderr it sends, whichever cell or widget they belong to.  (An exception in a
#: button's callback goes to no cell: JupyterLab shows it only in its log console.)
_WATCH_KERNEL = """() => {
    const app = window.jupyterapp;
    const panel = app && app.shell.currentWidget;
    const session = panel && panel.sessionContext && panel.sessionContext.session;
    const kernel = session && session.kernel;
    if (!kernel) return false;
    const seen = window.__toychatKernel = {busy: 0, idle: 0, errors: []};
    kernel.iopubMessage.connect((_, msg) => {
        const type = msg.header.msg_type;
        if (type === 'status' && msg.content.execution_state === 'busy') seen.busy += 1;
        if (type === 'status' && msg.content.execution_state === 'idle') seen.idle += 1;
        if (type === 'error') seen.errors.push(`${msg.content.ename}: ${msg.content.evalue}`);
        if (type === 'stream' && msg.content.name === 'stderr') seen.errors.push(msg.content.text.slice(0, 300));
    });
    return true;
}"""

#: Every error shown in the visible notebook now: error and stderr outputs (a widget's output area
#: included), and widgets that failed to draw.
_SHOWN_ERRORS = """(selector) => {
    const panel = document.querySelector(selector);
    const found = [];
    for (const out of panel.querySelectorAll('.jp-OutputArea-output')) {
        if (out.querySelector('.jp-OutputArea-output')) continue;  // a widget's: its own outputs are judged
        const mime = out.getAttribute('data-mime-type') || '';
        if (mime.includes('stderr') || mime.includes('error') || out.innerText.includes('Traceback')) {
            found.push(out.innerText.trim().slice(0, 300));
        }
        if (out.innerText.includes('Error displaying widget')) found.push('a widget failed to draw');
    }
    return found;
}"""

#: A text far longer than a line, with no space to break at (a pasted link): the extreme of a box.
LONG_TEXT = "https://example.org/" + "a" * 280


def _settle(page: object, before: int, *, timeout_ms: int) -> None:
    """Wait until the kernel has answered what the last action sent (its idle count has passed
    ``before``) and stays idle for a moment."""
    page.wait_for_function("(n) => window.__toychatKernel.idle > n", arg=before, timeout=timeout_ms)
    quiet = "() => { const k = window.__toychatKernel; return k.busy === k.idle ? k.idle : -1; }"
    last = -2
    while True:
        now = page.evaluate(quiet)
        if now >= 0 and now == last:
            return
        last = now
        page.wait_for_timeout(200)


def drive_every_control(page: object, *, timeout_ms: int = 60_000) -> list[str]:
    """Use every control of the visible, executed notebook through its empty and extreme states,
    as a learner exploring would, and return what went wrong: each error or traceback an action
    caused (on the page, or sent by the kernel to no cell), named by the action.

    Buttons are pressed first with nothing typed (the empty state: "Report" before any message),
    text boxes get nothing and then :data:`LONG_TEXT`, each followed by Enter, buttons are pressed
    again, every slider goes to its first and last stop, every drop-down through every option,
    and every toggle through every choice.  Each action waits for the kernel to finish it; a
    slider that is already at a stop is not moved again, so no callback runs twice for the same
    state."""
    if not page.evaluate(_WATCH_KERNEL):
        return ["drive_every_control: no kernel to follow (is JupyterLab started with expose_app_in_browser?)"]
    panel = page.locator(VISIBLE_NOTEBOOK).first
    outputs = ".jp-OutputArea-output"
    problems: list[str] = []
    baseline = set(page.evaluate(_SHOWN_ERRORS, VISIBLE_NOTEBOOK))

    def act(what: str, action: object) -> None:
        before = page.evaluate("() => window.__toychatKernel.idle")
        errors_before = page.evaluate("() => window.__toychatKernel.errors.length")
        try:
            action()  # type: ignore[operator]
            _settle(page, before, timeout_ms=timeout_ms)
        except Exception as error:  # noqa: BLE001 - a control that does not answer is a finding
            problems.append(f"{what}: no answer from the kernel ({type(error).__name__})")
            return
        sent = page.evaluate("(n) => window.__toychatKernel.errors.slice(n)", errors_before)
        shown = [text for text in page.evaluate(_SHOWN_ERRORS, VISIBLE_NOTEBOOK) if text not in baseline]
        problems.extend(f"{what}: {text}" for text in [*sent, *shown])
        baseline.update(shown)

    def cell_of(locator: object) -> str:
        return locator.evaluate(  # type: ignore[attr-defined]
            "(el) => { const cells = [...el.closest('.jp-Notebook').querySelectorAll('.jp-Cell')];"
            " return 'cell ' + cells.indexOf(el.closest('.jp-Cell')); }"
        )

    buttons = panel.locator(f"{outputs} button.jupyter-button:not(.widget-toggle-button)")
    texts = panel.locator(f"{outputs} .jupyter-widgets input[type=text], {outputs} .jupyter-widgets textarea")

    def press_buttons(state: str) -> None:
        for i in range(buttons.count()):
            button = buttons.nth(i)
            if button.is_visible() and button.is_enabled():
                name = button.inner_text().strip() or button.get_attribute("title") or "button"
                act(f"{cell_of(button)}: button {name!r} ({state})", lambda b=button: b.click())

    press_buttons("nothing typed")
    for i in range(texts.count()):
        box = texts.nth(i)
        if not box.is_visible() or not box.is_editable():
            continue
        for label, text in (("empty", ""), ("a 300-character link", LONG_TEXT)):
            act(f"{cell_of(box)}: text box, {label}, Enter", lambda b=box, t=text: (b.fill(t), b.press("Enter")))
    press_buttons("after typing")

    sliders = panel.locator(f"{outputs} .toychat-choice-slider input[type=range]")
    for i in range(sliders.count()):
        slider = sliders.nth(i)
        if not slider.is_visible():
            continue
        name = slider.evaluate("(el) => el.labels.length ? el.labels[0].innerText : el.id")
        for end in ("min", "max"):
            if slider.evaluate(f"(el) => el.value === el.{end}"):
                continue
            act(
                f"{cell_of(slider)}: slider {name!r} at its {end}",
                lambda s=slider, e=end: s.evaluate(
                    f"(el) => {{ el.value = el.{e}; el.dispatchEvent(new Event('input', {{bubbles: true}}));"
                    " el.dispatchEvent(new Event('change', {bubbles: true})); }"
                ),
            )

    menus = panel.locator(f"{outputs} .jupyter-widgets select")
    for i in range(menus.count()):
        menu = menus.nth(i)
        if not menu.is_visible():
            continue
        values = menu.locator("option").evaluate_all("(options) => options.map((o) => o.value)")
        for value in values:
            if menu.input_value() == value:
                continue
            label = menu.locator(f"option[value='{value}']").inner_text()
            act(f"{cell_of(menu)}: drop-down option {label!r}", lambda m=menu, v=value: m.select_option(v))

    toggles = panel.locator(f"{outputs} .widget-toggle-buttons")
    for i in range(toggles.count()):
        group = toggles.nth(i)
        choices = group.locator("button")
        for j in range(choices.count()):
            choice = choices.nth(j)
            if not choice.is_visible() or "mod-active" in (choice.get_attribute("class") or ""):
                continue
            act(f"{cell_of(choice)}: toggle {choice.inner_text().strip()!r}", lambda c=choice: c.click())
    return problems
