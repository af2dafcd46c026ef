"""Sizing a class: peak memory and CPU of every lesson's and solution's kernel,
and of the single-user server itself.

Each notebook runs top to bottom in a fresh ``python3`` kernel (nbclient, as the
course-execution benchmark) while a sampler thread reads, every 20 ms, the
resident memory (RSS) of every process this benchmark started (the kernel and
anything it starts) and keeps the peak; CPU is the kernel's user + system time
when it exits.  The server is ``jupyter lab`` with the course's extensions
(nbgrader's among them), measured idle after start and after serving the
JupyterLab page.  RSS counts shared libraries in every process, so summing
figures over students overstates what they need together: the deployment
guide's sizing table uses these peaks as a conservative per-student figure.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

from .core import Result, failed

REPO = Path(__file__).resolve().parent.parent
NAME = "Sizing: memory and CPU per student"
FLOOR = "the kernel running an empty notebook (the baseline column): memory, which a faster machine does not change"
MIB = 1024 * 1024
#: Generous: this benchmark measures memory, and on a shared machine under load a heavy cell
#: (lesson 09 trains two classifiers) took over 120 s of wall time.
CELL_TIMEOUT_S = 600


class TreeSampler:
    """Peak total RSS and final CPU time of this process's children, sampled in a thread."""

    def __init__(self, interval: float = 0.02, exclude: set[int] | None = None) -> None:
        self.interval, self.exclude = interval, exclude or set()
        self.peak_bytes = 0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _children(self) -> list[psutil.Process]:
        """The processes to count: every descendant, except one caught between ``fork`` and ``exec``
        (the same command line as its parent): its pages are its parent's, shared copy-on-write, and
        RSS would count them twice (scikit-learn's joblib runs ``lscpu`` once per process, and a
        sample taken in that instant once read 790 MiB for a 460 MiB kernel)."""
        found = []
        for proc in psutil.Process().children(recursive=True):
            if proc.pid in self.exclude:
                continue
            try:
                parent = proc.parent()
                if parent is not None and parent.pid != os.getpid() and proc.cmdline() == parent.cmdline():
                    continue
            except psutil.Error:
                continue
            found.append(proc)
        return found

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for proc in self._children():
                try:
                    total += proc.memory_info().rss
                    times = proc.cpu_times()
                    self.cpu[proc.pid] = times.user + times.system + times.children_user + times.children_system
                except psutil.Error:
                    pass
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())


def measure_notebook(path: Path) -> tuple[float, float, float]:
    """(peak MiB, CPU s, wall s) of running ``path`` in a fresh kernel."""
    nb = nbformat.read(path, as_version=4)
    env_before = os.environ.get("MPLBACKEND")
    os.environ.pop("MPLBACKEND", None)  # kernels draw inline figures, as for a student
    try:
        with TreeSampler() as sampler:
            start = time.perf_counter()
            NotebookClient(
                nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
            ).execute()
            wall = time.perf_counter() - start
    finally:
        if env_before is not None:
            os.environ["MPLBACKEND"] = env_before
    return sampler.peak_bytes / MIB, sampler.cpu_seconds, wall


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure_server() -> tuple[float, float, float]:
    """(idle MiB after start, MiB after serving the JupyterLab page, CPU s of both) of ``jupyter lab``."""
    port, token = _free_port(), secrets.token_hex(16)
    root = Path(tempfile.mkdtemp(prefix="sizing-server-"))
    shutil.copytree(REPO / "lessons", root / "lessons")
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
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(root / ".runtime"))
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("jupyter lab did not start") from None
                time.sleep(0.3)
        time.sleep(2)
        server = psutil.Process(proc.pid)
        idle = server.memory_info().rss / MIB
        for path in ("lab", "api/contents/lessons", "lab/api/settings", "api/kernelspecs"):
            with urllib.request.urlopen(f"{base}/{path}?token={token}", timeout=60) as response:
                response.read()
        served = server.memory_info().rss / MIB
        times = server.cpu_times()
        return idle, served, times.user + times.system
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)


def run(quick: bool = False) -> list[Result]:
    lessons = sorted((REPO / "lessons").glob("[0-9][0-9]_*.ipynb"))
    solutions = sorted((REPO / "solutions").glob("*/*.ipynb"))
    notebooks = lessons[:1] if quick else lessons + solutions
    idle, served, server_cpu = measure_server()
    results = [
        Result(
            NAME,
            "single-user server (jupyter lab), idle after start",
            idle,
            "MiB RSS",
            note="JupyterLab with the course's server extensions (nbgrader's), no kernel",
        ),
        Result(
            NAME,
            "single-user server after serving JupyterLab",
            served,
            "MiB RSS",
            extra={"cpu_s": server_cpu},
            note=f"CPU for start and page: {server_cpu:.1f} s",
        ),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("pass")]), empty)
        floor, floor_cpu, _ = measure_notebook(empty)
    results.append(
        Result(
            NAME,
            "kernel running an empty notebook",
            floor,
            "MiB peak RSS",
            extra={"cpu_s": floor_cpu},
            note=f"CPU {floor_cpu:.1f} s",
        )
    )
    peaks = []
    for path in notebooks:
        try:
            peak, cpu, wall = measure_notebook(path)
        except Exception as exc:  # a failing notebook is a result, not the end of the run
            results.append(failed(NAME, f"kernel: {path.relative_to(REPO)}", exc))
            continue
        peaks.append(peak)
        results.append(
            Result(
                NAME,
                f"kernel: {path.relative_to(REPO)}",
                peak,
                "MiB peak RSS",
                "empty notebook",
                floor,
                extra={"cpu_s": cpu, "wall_s": wall},
                note=f"CPU {cpu:.1f} s over {wall:.1f} s wall ({cpu / wall:.0%} of one core)",
            )
        )
    if peaks:
        results.append(
            Result(
                NAME,
                f"largest kernel peak ({len(peaks)} notebooks)",
                max(peaks),
                "MiB peak RSS",
                note="the per-student kernel figure of the deployment guide's sizing table",
            )
        )
    return results


# --------------------------------------------------------------------------- the guide's table

#: Assumptions of the sizing table (docs/deploying.md states them next to it).
KERNELS_PER_STUDENT = 2  # the lesson open now and one left running (an exercise, an earlier lesson)
ACTIVE_SHARE = {30: 1.0, 200: 0.5, 1000: 0.25}  # share of the class with a server at the busiest hour
#: The class as the guide teaches it: every student of a class of 200 in one in-class session.
IN_CLASS_SHARE = {200: 1.0}
RUN_ALL_SHARE = 0.25  # share of active students running the heaviest notebook in the same minute
RUN_ALL_WINDOW_S = 60.0
SYSTEM_GIB = 1.0  # hub, proxy and operating system (hub + proxy measured at ~0.2 GiB)
NODE = {"cores": 8, "gib": 32, "usable_gib": 28}  # a Kubernetes node; the rest is kubelet and system pods


def figures_from_results(text: str) -> dict[str, float]:
    """From RESULTS.md's sizing section: the server's MiB, the largest, second-largest and median
    kernel peak (MiB) over the notebooks, and the heaviest kernel's CPU seconds."""
    import re
    import statistics

    section = text.split(f"## {NAME}", 1)[1].split("\n## ", 1)[0]
    rows = {
        cells[1].strip(): cells
        for cells in (line.split("|") for line in section.splitlines())
        if len(cells) > 3 and cells[1].strip() not in ("case", "---") and cells[2].strip() != "failed"
    }
    server = float(rows["single-user server after serving JupyterLab"][2].replace(",", ""))
    kernels = [float(cells[2].replace(",", "")) for case, cells in rows.items() if case.startswith("kernel: ")]
    cpu = max(float(m) for m in re.findall(r"CPU ([\d.]+) s over", section))
    return {
        "server_mib": server,
        "kernel_mib": max(kernels),
        "second_kernel_mib": sorted(kernels)[-2] if len(kernels) > 1 else max(kernels),
        "median_kernel_mib": statistics.median(kernels),
        "heaviest_cpu_s": cpu,
    }


def per_student_mib(server_mib: float, kernel_mib: float, median_kernel_mib: float, **_: float) -> float:
    """Memory of one student with a server, as the table counts it: the single-user server, one
    kernel at the largest peak and the others (``KERNELS_PER_STUDENT - 1``) at the median peak.
    ``deploy/values.yaml``'s per-pod memory guarantee must be at least this, or Kubernetes packs
    more students on a node than the table's node count allows (tests/test_deploy.py)."""
    return server_mib + kernel_mib + (KERNELS_PER_STUDENT - 1) * median_kernel_mib


def node_hours_per_student_hour(nodes: int, active: int) -> float:
    """Kubernetes node-hours per student-hour at the busiest hour: ``nodes`` running for ``active``
    students.  Times a provider's hourly price for one node (:data:`NODE`), it is the cost of a
    student-hour; the course quotes no price (they vary by provider, region and discount).

    >>> node_hours_per_student_hour(6, 200)
    0.03
    """
    if active <= 0:
        raise ValueError("a class with no student active has no cost per student-hour")
    return nodes / active


def class_table(
    server_mib: float,
    kernel_mib: float,
    median_kernel_mib: float,
    heaviest_cpu_s: float,
    shares: dict[int, float] | None = None,
    second_kernel_mib: float | None = None,
    heavy_week: bool = False,
) -> str:
    """The deploying guide's sizing table, from the measured figures and the assumptions above:
    per student with a server, the server, one kernel at the largest peak and the others at the median.
    ``shares`` (class size → share active at once) defaults to :data:`ACTIVE_SHARE`.
    ``heavy_week=True`` counts instead both of a student's kernels at the two largest peaks
    (``kernel_mib`` and ``second_kernel_mib``): a week in which two heavy lessons are open at once.
    The last column is :func:`node_hours_per_student_hour`: the cost of a student-hour in node-hours."""
    import math

    if heavy_week:
        if second_kernel_mib is None:
            raise ValueError("heavy_week needs second_kernel_mib, the second-largest kernel peak")
        per_student_gib = (server_mib + kernel_mib + second_kernel_mib) / 1024
    else:
        per_student_gib = per_student_mib(server_mib, kernel_mib, median_kernel_mib) / 1024
    lines = [
        "| class | active at once | memory | cores | one machine (TLJH) | Kubernetes nodes (8 cores, 32 GiB) "
        "| node-hours per student-hour |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, share in (ACTIVE_SHARE if shares is None else shares).items():
        active = math.ceil(size * share)
        memory = active * per_student_gib + SYSTEM_GIB
        cores = max(2, math.ceil(active * RUN_ALL_SHARE * heaviest_cpu_s / RUN_ALL_WINDOW_S))
        nodes = max(math.ceil(memory / NODE["usable_gib"]), math.ceil(cores / NODE["cores"]))
        ram = 2 ** math.ceil(math.log2(memory * 1.25))  # 25 % head-room, rounded up to a machine size
        machine = f"{max(4, math.ceil(cores * 1.5))} cores, {ram} GiB" if ram <= 128 else "too big: use Kubernetes"
        lines.append(
            f"| {size} | {active} ({share:.0%}) | {memory:.1f} GiB | {cores} | {machine} | {nodes} "
            f"| {node_hours_per_student_hour(nodes, active):.3f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    results = (REPO / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    figures = figures_from_results(results)
    print(", ".join(f"{k} = {v:g}" for k, v in figures.items()))
    print(class_table(**figures))
    print(class_table(**figures, shares=IN_CLASS_SHARE).splitlines()[-1])
    print(class_table(**figures, shares=IN_CLASS_SHARE, heavy_week=True).splitlines()[-1])
