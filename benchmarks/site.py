"""The course site: a cold build (empty cache) against executing every lesson once, and
warm rebuilds after touching one lesson (its file saved unchanged) and after editing its
code (it alone is re-executed).  Builds run on a copy of the course in a temporary folder,
so the repository's lessons are never touched.  ``--quick`` builds a one-lesson copy."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from toychat.kernel_transport import IpcKernelManager

from .core import Result

REPO = Path(__file__).resolve().parent.parent
NAME = "Course site (Sphinx + MyST-NB)"
FLOOR = "executing the same lessons once with nbclient, in the same run (the baseline column)"
COLD_TARGET_RATIO = 1.5
WARM_TARGET_S = 20.0
#: The lesson a reader edits in the warm rebuilds (a short one: the rebuild re-executes it).
EDITED = "03_a_toy_e2ee_chat.ipynb"


def _inline_env() -> dict[str, str]:
    env = dict(os.environ)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def _execute_all(lessons: list[Path]) -> float:
    """Seconds to execute every lesson once, one after another, as the site build does."""
    previous = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        start = time.perf_counter()
        for path in lessons:
            nb = nbformat.read(path, as_version=4)
            # on Unix sockets, as the site build starts its kernels (toychat.kernel_transport)
            NotebookClient(
                nb,
                timeout=600,
                kernel_name="python3",
                kernel_manager_class=IpcKernelManager,
                resources={"metadata": {"path": str(path.parent)}},
            ).execute()
        return time.perf_counter() - start
    finally:
        if previous is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = previous


#: CPU seconds (user + system) of each build's processes and kernels, by build: on a shared
#: machine wall time follows the load, CPU time much less.
CPU_SECONDS: dict[str, float] = {}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _build(source: Path, output: Path, cache: Path, *, clean: bool = False, label: str = "") -> float:
    """Wall time of ``python scripts/build_site.py`` (a new process, as a reader runs it);
    its CPU time goes to :data:`CPU_SECONDS` under ``label``."""
    cmd = [
        sys.executable,
        str(REPO / "scripts" / "build_site.py"),
        "--source",
        str(source),
        "--output",
        str(output),
        "--cache",
        str(cache),
    ]
    start, cpu = time.perf_counter(), _children_cpu()
    result = subprocess.run(
        [*cmd, *(["--clean"] if clean else [])], env=_inline_env(), capture_output=True, text=True, timeout=3600
    )
    seconds = time.perf_counter() - start
    CPU_SECONDS[label] = _children_cpu() - cpu
    if result.returncode:
        raise RuntimeError("site build failed:\n" + result.stderr[-3000:])
    return seconds


def _course_copy(root: Path, lessons: list[Path]) -> Path:
    source = root / "course"
    (source / "lessons").mkdir(parents=True)
    shutil.copytree(REPO / "docs", source / "docs", ignore=shutil.ignore_patterns("_build", "__pycache__"))
    for path in lessons:
        shutil.copy(path, source / "lessons" / path.name)
    return source


def run(quick: bool = False) -> list[Result]:
    lessons = sorted((REPO / "lessons").glob("[0-9][0-9]_*.ipynb"))
    if quick:
        lessons = [REPO / "lessons" / EDITED]
    if not any(p.name == EDITED for p in lessons):
        raise FileNotFoundError(f"the lesson the benchmark edits, lessons/{EDITED}, is missing")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = _course_copy(root, lessons)
        output, cache = root / "site", root / "cache"
        execution = _execute_all([source / "lessons" / p.name for p in lessons])
        cold = _build(source, output, cache, clean=True, label="cold")
        (source / "lessons" / EDITED).touch()
        touched = _build(source, output, cache, label="touched")
        nb = nbformat.read(source / "lessons" / EDITED, as_version=4)
        code = next(cell for cell in reversed(nb.cells) if cell.cell_type == "code")
        code.source += "\n_edited_for_the_benchmark = True"
        nbformat.write(nb, source / "lessons" / EDITED)
        changed = _build(source, output, cache, label="changed")
        single = _execute_all([source / "lessons" / EDITED])
    name = "Course site (Sphinx + MyST-NB)"
    return [
        Result(
            name,
            f"execute the {len(lessons)} lessons once (nbclient)",
            execution,
            "s",
            note="the floor a build cannot go below: each lesson run once, one after another",
        ),
        Result(
            name,
            "cold build (empty cache)",
            cold,
            "s",
            f"execute the {len(lessons)} lessons once",
            execution,
            target=f"≤ {COLD_TARGET_RATIO}× execution",
            met=None if quick else cold <= COLD_TARGET_RATIO * execution,
            note="python scripts/build_site.py --clean: executes every lesson through jupyter-cache "
            "and writes every page; "
            f"{CPU_SECONDS['cold']:.1f} s of CPU",
        ),
        Result(
            name,
            f"rebuild after touching {EDITED}",
            touched,
            "s",
            target=f"< {WARM_TARGET_S:.0f} s",
            met=None if quick else touched < WARM_TARGET_S,
            note="file saved unchanged: the page is re-rendered, its outputs come from the cache; "
            f"{CPU_SECONDS['touched']:.1f} s of CPU",
        ),
        Result(
            name,
            f"rebuild after editing {EDITED}'s code",
            changed,
            "s",
            f"execute {EDITED} once",
            single,
            target=f"< {WARM_TARGET_S:.0f} s",
            met=None if quick else changed < WARM_TARGET_S,
            note=f"only the edited lesson is re-executed; {CPU_SECONDS['changed']:.1f} s of CPU",
        ),
    ]
