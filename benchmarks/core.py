"""The benchmark harness: timing helpers, result rows, and the results file."""

from __future__ import annotations

import datetime as _dt
import math
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
    "LOAD_LIMIT_ON_TWO_CORES",
    "LoadStamp",
    "Result",
    "failed",
    "load_limit",
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
    #: Why the case failed (its exception, one line); empty for a measured figure.
    error: str = ""

    @property
    def ratio(self) -> float | None:
        """value / baseline_value (for times: how many times slower than the baseline)."""
        if self.baseline_value in (None, 0):
            return None
        return self.value / self.baseline_value


def failed(benchmark: str, case: str, error: BaseException) -> Result:
    """A case that raised instead of measuring: recorded as failed, so the run goes on
    and the results file says what broke (the exception's type and its last line)."""
    lines = str(error).strip().splitlines()
    return Result(benchmark, case, math.nan, "", error=f"{type(error).__name__}: {lines[-1] if lines else ''}"[:300])


#: The 1-minute load average above which a 2-core machine counts as loaded (issue 31).
LOAD_LIMIT_ON_TWO_CORES = 1.5


def load_limit(cores: int | None = None) -> float:
    """The load limit for a machine of ``cores`` cores (default: this one's), scaled from
    :data:`LOAD_LIMIT_ON_TWO_CORES`: 0.75 runnable processes a core.

    >>> load_limit(2), load_limit(8)
    (1.5, 6.0)
    """
    return LOAD_LIMIT_ON_TWO_CORES * (cores or os.cpu_count() or 1) / 2


@dataclass
class LoadStamp:
    """The machine's 1-minute load average before and after one benchmark module ran.

    A section's own processes add to the load it ends with: one busy process pushes the
    1-minute average towards 1 within a minute or two.  So the machine counts as loaded if
    the load was over the limit before the section started, or ended above the limit plus
    the number of processes the section itself keeps busy (``own``).

    A section that generates its own load, with more runnable threads than it can count as
    processes (``self_loading``: the relay's lecture hall, 1,000 simulated students' threads),
    is judged on the load before it started only; the load after is recorded, not judged,
    since it measures the section itself.
    """

    when: str
    before: float
    after: float
    limit: float
    cores: int
    own: int = 1
    floor: str = ""
    waited_s: float = 0.0
    self_loading: bool = False

    @property
    def loaded(self) -> bool:
        """Whether another load than the section's own shared the machine."""
        if self.self_loading:
            return self.before > self.limit
        return self.before > self.limit or self.after > self.limit + self.own

    def text(self, section_floor: str = "") -> str:
        """The section's stamp line in the results file (no ``|``: table parsers skip it)."""
        verdict = (
            "**loaded: these figures measure the machine's other work as much as the code**" if self.loaded else "quiet"
        )
        own = "1 process" if self.own == 1 else f"{self.own} processes"
        if self.self_loading:
            judged = (
                f"limit {self.limit:g} before; judged on that alone, as this section generates its own "
                "load and the load after measures it"
            )
        else:
            judged = f"limit {self.limit:g} before; {self.limit + self.own:g} after, as this section keeps {own} busy"
        parts = [
            f"Measured {self.when} UTC at a 1-minute load average of {self.before:.2f} before and "
            f"{self.after:.2f} after, on {self.cores} cores: {verdict} ({judged})."
        ]
        if self.waited_s:
            parts.append(f"The run waited {self.waited_s:.0f} s for the load to fall first.")
        if self.floor:
            parts.append(f"Machine floor, measured just before: {self.floor}.")
        if section_floor:
            parts.append(f"This section's own floor: {section_floor}.")
        return " ".join(parts)


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


def render_markdown(
    results: list[Result], info: dict[str, str], *, quick: bool, stamps: dict[str, str] | None = None
) -> str:
    """The results file: machine, versions, then one table per benchmark, each under its
    stamp (``stamps``, by section title: when, at what load, against which floor)."""
    lines = ["# Benchmark results", ""]
    if quick:
        lines += ["**Quick mode**: tiny sizes, to check the benchmarks run. These figures say nothing about speed.", ""]
    lines += ["Written by `python -m benchmarks`. Medians of repeated runs; ratio = value / baseline.", ""]
    lines += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in info.items()] + [""]
    for name in dict.fromkeys(r.benchmark for r in results):
        lines += [f"## {name}", ""]
        if stamps and stamps.get(name):
            lines += [stamps[name], ""]
        lines += [
            "| case | value | unit | baseline | baseline value | ratio | target | met |",
            "|---|---|---|---|---|---|---|---|",
        ]
        notes = []
        for r in (r for r in results if r.benchmark == name):
            if r.error:
                lines.append(f"| {r.case} | failed |  |  |  |  | {r.target} | **failed** |")
                notes.append(f"- {r.case}: **failed**: {r.error.replace('|', '/')}")
                continue
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


def assemble(old: str | None, new: str, refused: set[str], *, partial: bool) -> str:
    r"""The results file to write after a run whose rendering is ``new``.

    Sections in ``refused`` (measured on a loaded machine) never replace a section of
    ``old``, nor are they added.  A full run takes ``new``'s header and keeps ``old``'s lab
    report, then each section in the run's order: the new one, or for a refused one the
    old one, marked as kept; a partial run (``--only``) keeps ``old``'s header and replaces
    only the sections it measured.

    >>> old = f"# R\n\nold\n\n## {LAB_REPORT}\n\nprose\n\n## a\n\n1\n\n## b\n\n2\n"
    >>> print(assemble(old, "# R\n\nnew\n\n## a\n\n10\n\n## b\n\n20\n", {"b"}, partial=False))
    # R
    <BLANKLINE>
    new
    <BLANKLINE>
    ## Lab report: what the figures mean
    <BLANKLINE>
    prose
    <BLANKLINE>
    ## a
    <BLANKLINE>
    10
    <BLANKLINE>
    ## b
    <BLANKLINE>
    *Kept from an earlier run: this run measured the section on a loaded machine.*
    <BLANKLINE>
    2
    <BLANKLINE>
    """
    head, sections = _sections(new)
    if old is None:
        kept = {title: body for title, body in sections.items() if title not in refused}
        return head.rstrip("\n") + "\n\n" + "\n\n".join(kept.values()) + "\n"
    old_head, old_sections = _sections(old)
    if partial:
        for title in refused:
            sections.pop(title, None)
        merged = dict(old_sections)
        merged.update(sections)
        return old_head.rstrip("\n") + "\n\n" + "\n\n".join(merged.values()) + "\n"
    out = [old_sections[LAB_REPORT]] if LAB_REPORT in old_sections else []
    for title, body in sections.items():
        if title == LAB_REPORT:
            continue
        if title not in refused:
            out.append(body)
        elif title in old_sections:
            heading, rest = old_sections[title].split("\n", 1)
            if _KEPT not in rest:
                rest = f"\n{_KEPT}\n{rest}"
            out.append(f"{heading}\n{rest}")
    return head.rstrip("\n") + "\n\n" + "\n\n".join(out) + "\n"


_KEPT = "*Kept from an earlier run: this run measured the section on a loaded machine.*"
