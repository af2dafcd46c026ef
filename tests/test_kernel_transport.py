"""Headless lesson runs start their kernels on Unix sockets (ZeroMQ ``ipc``), so ipykernel never
prints "Kernel is running over TCP without encryption" (issue 28): not in the site build (MyST-NB
through jupyter-cache, ``toychat.kernel_transport.install`` in ``docs/conf.py``), not in the tests'
lesson runs (``support.nbtools.run_notebook``).  Each test reads the transport the kernel itself
reports, so a kernel that quietly fell back to TCP fails it too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from support.nbtools import REPO, run_notebook, venv_env

pytestmark = pytest.mark.notebook

WARNING = "Kernel is running over TCP without encryption"
#: A cell that prints the transport its own kernel listens on.
SAY_TRANSPORT = "from ipykernel.kernelapp import IPKernelApp\nprint('transport:', IPKernelApp.instance().transport)"


def transport_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SAY_TRANSPORT)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_the_tests_lesson_runs_use_ipc_and_print_no_warning(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    nb, _ = run_notebook(transport_notebook(), cwd=tmp_path, timeout=60)
    assert nb.cells[0].outputs[0]["text"].strip() == "transport: ipc"
    assert WARNING not in capfd.readouterr().err
    assert list(tmp_path.iterdir()) == [], "the kernel's sockets were left in the notebook's folder"
    # The check can fail: nbclient's own default (TCP) prints the warning on the kernel's stderr.
    tcp = transport_notebook()
    NotebookClient(tcp, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert tcp.cells[0].outputs[0]["text"].strip() == "transport: tcp"
    assert WARNING in capfd.readouterr().err


def test_a_site_build_runs_its_lessons_over_ipc_without_the_warning(tmp_path: Path) -> None:
    """``python scripts/build_site.py`` with the course's configuration, on a one-lesson course."""
    source = tmp_path / "course"
    (source / "docs").mkdir(parents=True)
    (source / "lessons").mkdir()
    (source / "docs" / "index.md").write_text(
        "# Tiny course\n\n```{toctree}\n../lessons/01_tiny\n```\n", encoding="utf-8"
    )
    lesson = transport_notebook()
    lesson.cells.insert(0, nbformat.v4.new_markdown_cell("# Lesson 01: tiny"))
    nbformat.write(lesson, source / "lessons" / "01_tiny.ipynb")
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build_site.py"),
            "--source",
            str(source),
            "--output",
            str(tmp_path / "site"),
            "--cache",
            str(tmp_path / "cache"),
        ],
        cwd=REPO,
        env=venv_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "lesson 01_tiny: executed" in result.stderr, result.stderr[-4000:]
    assert WARNING not in result.stderr, result.stderr[-4000:]
    page = (tmp_path / "site" / "lessons" / "01_tiny.html").read_text(encoding="utf-8")
    assert "transport: ipc" in page
    assert sorted(p.name for p in (source / "lessons").iterdir()) == ["01_tiny.ipynb"], "sockets left beside the lesson"
