"""The lessons' reader boxes in JupyterLab: with jupyterlab-myst installed, a Markdown
cell written as a MyST colon-fence admonition (the syntax the course site renders)
shows as a styled box, not as literal ``:::`` text.  Real JupyterLab, real headless
Chromium; the screenshot goes to tests/artifacts/myst_admonitions_jupyterlab.png."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from support.browser import chromium_page, chromium_path, jupyterlab_server
from support.nbtools import ARTIFACTS

pytestmark = pytest.mark.browser

POLICY_BOX = """:::{admonition} For policy readers
:class: tip
Encryption in transit stops eavesdroppers on the network; **end-to-end** encryption stops the platform too.
:::"""
CONTENT_NOTE = """:::{admonition} Content note
:class: warning
This lesson discusses abuse as a policy subject. It contains no real abuse material.
:::"""


def test_colon_fence_admonitions_render_in_jupyterlab(tmp_path: Path) -> None:
    executable = chromium_path()
    root = tmp_path / "course"
    root.mkdir()
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Boxes"),
            nbformat.v4.new_markdown_cell(CONTENT_NOTE),
            nbformat.v4.new_markdown_cell(POLICY_BOX),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "boxes.ipynb")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with jupyterlab_server(root) as url, chromium_page(executable) as page:
        page.goto(url.format(path="boxes.ipynb"))
        page.wait_for_selector(".jp-MarkdownCell", timeout=120_000)
        # jupyterlab-myst renders Markdown cells into a ".myst" widget; admonitions are <aside> boxes.
        boxes = page.locator(".jp-MarkdownCell .myst aside.myst-admonition")
        boxes.first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "myst_admonitions_jupyterlab.png"))
        assert boxes.count() == 2, f"expected two admonitions, found {boxes.count()}"
        texts = boxes.all_inner_texts()
        assert "Content note" in texts[0]
        assert "For policy readers" in texts[1]
        assert "no real abuse material" in texts[0]
        assert "end-to-end" in texts[1]
        classes = [boxes.nth(i).get_attribute("class") or "" for i in range(2)]
        assert "warning" in classes[0], classes
        assert "tip" in classes[1], classes
        body = page.inner_text(".jp-Notebook")
        assert ":::" not in body, "the admonition syntax shows as literal text"
        assert ":class:" not in body, "the admonition syntax shows as literal text"
