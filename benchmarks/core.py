"""The benchmark harness: timing helpers, result rows, and the results file."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata

from toychat import kernel_wakeup

# The benchmarks run notebooks through nbclient: guard its waits against ZeroMQ's lost
# wake-ups, as the course's own runners do (toychat.kernel_wakeup), so no timing includes one.
kernel_wakeup.install()

__all__ = [
    "LAB_REPORT",
    "Result",
    "keep_lab_report",
    "machine_info",
    "median_seconds",
    "merge_sections",
    "paired_median_seconds",
    "render_markdown",
]

#: The title of the results file's one hand-written section: what the figures mean.  Runs keep it.
LAB_REPORT = "Lab report: what the figures mean"


@dataclass
class Result:
    """One measured figure, with its baseline and target where it has them."""

    benchmark: str
    case: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """value / baseline_value (for times: how many times slower than the baseline)."""
        if self.baseline_value in (None, 0):
            return None
        return self.value / self.baseline_value


def median_seconds(fn: Callable[[], object], *, repeat: int = 5, number: int = 1) -> float:
    """Median wall time of ``number`` calls of ``fn``, over ``repeat`` runs, per call."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def paired_median_seconds(
    first: Callable[[], object], second: Callable[[], object], *, repeat: int = 5, number: int = 1
) -> tuple[float, float]:
    """Median wall time per call of ``first`` and of ``second``, timed in alternation
    (first, second, first, …) so that a slow spell of a shared machine hits both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, bucket in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            bucket.append((time.perf_counter() - start) / number)
    return statistics.median(times[0]), statistics.median(times[1])


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, str]:
    """What the figures were measured on."""
    return {
        "date (UTC)": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        **{pkg: _version(pkg) for pkg in ("pynacl", "nbgrader", "nbclient", "jupyterlab", "numpy", "pandas")},
    }


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def render_markdown(results: list[Result], info: dict[str, str], *, quick: bool) -> str:
    """The results file: machine, versions, then one table per benchmark."""
    lines = ["# Benchmark results", ""]
    if quick:
        lines += ["**Quick mode**: tiny sizes, to check the benchmarks run. These figures say nothing about speed.", ""]
    lines += ["Written by `python -m benchmarks`. Medians of repeated runs; ratio = value / baseline.", ""]
    lines += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in info.items()] + [""]
    for name in dict.fromkeys(r.benchmark for r in results):
        lines += [
            f"## {name}",
            "",
            "| case | value | unit | baseline | baseline value | ratio | target | met |",
            "|---|---|---|---|---|---|---|---|",
        ]
        notes = []
        for r in (r for r in results if r.benchmark == name):
            met = "" if r.met is None else ("yes" if r.met else "**no**")
            lines.append(
                f"| {r.case} | {_fmt(r.value)} | {r.unit} | {r.baseline} | {_fmt(r.baseline_value)} | "
                f"{_fmt(r.ratio)} | {r.target} | {met} |"
            )
            if r.note:
                notes.append(f"- {r.case}: {r.note}")
        lines += [""] + notes + ([""] if notes else [])
    return "\n".join(lines)


def _sections(text: str) -> tuple[str, dict[str, str]]:
    """A results file split into its header and its ``## `` sections, by title."""
    head, *parts = text.split("\n## ")
    return head, {part.split("\n", 1)[0]: "## " + part.rstrip("\n") for part in parts}


def merge_sections(old: str, new: str, when: str | None = None) -> str:
    r"""``old`` with every section of ``new`` put in place of the section of the same
    title (or appended); ``old``'s header, which describes the full run, stays.  With
    ``when``, each new section says when it was measured (a partial run's date is not
    the header's).

    >>> merge_sections("# R\n\nfull\n\n## a\n\n1\n\n## b\n\n2\n", "# R\n\npart\n\n## b\n\n3\n\n## c\n\n4\n")
    '# R\n\nfull\n\n## a\n\n1\n\n## b\n\n3\n\n## c\n\n4\n'
    """
    head, sections = _sections(old)
    for title, body in _sections(new)[1].items():
        if when:
            heading, rest = body.split("\n", 1)
            body = f"{heading}\n\nMeasured {when} (`python -m benchmarks --only ...`).\n{rest}"
        sections[title] = body
    return head.rstrip("\n") + "\n\n" + "\n\n".join(sections.values()) + "\n"


def keep_lab_report(old: str, new: str) -> str:
    r"""``new``, a full run's results file, with ``old``'s hand-written lab report kept as its
    first section (a run measures figures; only a person can say what they mean).

    >>> keep_lab_report(f"# R\n\nold\n\n## {LAB_REPORT}\n\nprose\n\n## a\n\n1\n", "# R\n\nnew\n\n## a\n\n2\n")
    '# R\n\nnew\n\n## Lab report: what the figures mean\n\nprose\n\n## a\n\n2\n'
    """
    report = _sections(old)[1].get(LAB_REPORT)
    if report is None:
        return new
    head, sections = _sections(new)
    sections.pop(LAB_REPORT, None)
    return head.rstrip("\n") + "\n\n" + "\n\n".join([report, *sections.values()]) + "\n"
