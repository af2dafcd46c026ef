"""Run every benchmark: ``python -m benchmarks [--quick] [--only NAME] [--output FILE] [--allow-loaded]``.

Before each section the run waits (up to ``--settle`` seconds) for the machine's
1-minute load average to fall under the limit (1.5 on 2 cores, scaled by the
number of cores), then records the load before and after the section and a
machine floor (:mod:`benchmarks.floors`).  A section measured on a loaded
machine does not replace the figures in the results file unless
``--allow-loaded`` is given; it is printed, and the exit status says so.  A case
that fails is recorded as failed and the run goes on.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from .core import LoadStamp, Result, assemble, failed, load_limit, machine_info, render_markdown
from .floors import describe, machine_floor

#: Benchmark modules in the order they run; each has ``run(quick) -> list[Result]``, and may
#: say what its floor is (``FLOOR``), how many processes it keeps busy (``PARALLEL``, default 1),
#: and that it generates its own load (``SELF_LOADING``: judged quiet on the load before it only).
BENCHMARKS = (
    "chat",
    "course",
    "hashing",
    "transparency",
    "platform_scale",
    "autograde",
    "sealed",
    "relay_load",
    "relay_hall",
    "relay_memory",
    "sizing",
    "site",
    "headless",
)
#: Seconds between two readings of the load while waiting for it to fall.
POLL_S = 10.0


def one_minute_load() -> float:
    """The machine's 1-minute load average (``os.getloadavg``)."""
    return os.getloadavg()[0]


def settle(limit: float, patience: float, load: Callable[[], float], sleep: Callable[[float], None]) -> float:
    """Wait until ``load()`` is at most ``limit``, up to ``patience`` seconds; the seconds waited."""
    waited = 0.0
    while load() > limit and waited < patience:
        sleep(POLL_S)
        waited += POLL_S
    return waited


def run_section(
    name: str, quick: bool, load: Callable[[], float], limit: float, waited: float, floor: bool
) -> tuple[list[Result], LoadStamp, ModuleType | None]:
    """One benchmark module, between two load readings; a failure becomes a failed row."""
    before = load()
    floor_text = describe(machine_floor()) if floor else ""
    when = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M")
    module = None
    try:
        module = importlib.import_module(f"benchmarks.{name}")
        rows = module.run(quick=quick)
    except Exception as exc:  # one broken benchmark must not cost the others their figures
        title = getattr(module, "NAME", name)
        rows = [failed(title, "the whole benchmark", exc)]
    own = int(getattr(module, "PARALLEL", 1))
    self_loading = bool(getattr(module, "SELF_LOADING", False))
    stamp = LoadStamp(when, before, load(), limit, os.cpu_count() or 1, own, floor_text, waited, self_loading)
    return rows, stamp, module


def main(
    argv: list[str] | None = None,
    *,
    load: Callable[[], float] = one_minute_load,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run the benchmarks and write the results file; 0 if every section was measured on a
    quiet machine, written, and no case failed, else 1.  ``load`` and ``sleep`` are the
    load reading and the wait (tests pass fakes)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the benchmarks run (seconds)")
    parser.add_argument("--only", choices=BENCHMARKS, action="append", help="run only these (repeatable)")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    parser.add_argument(
        "--allow-loaded",
        action="store_true",
        help="write sections measured on a loaded machine too (stamped as loaded)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=300.0,
        help="seconds to wait before each section for the load to fall under the limit (default 300)",
    )
    args = parser.parse_args(argv)

    limit = load_limit()
    results: list[Result] = []
    seconds: dict[str, float] = {}
    stamps: dict[str, str] = {}
    refused: set[str] = set()
    for name in args.only or BENCHMARKS:
        waited = 0.0 if args.quick else settle(limit, args.settle, load, sleep)
        start = time.perf_counter()
        rows, stamp, module = run_section(name, args.quick, load, limit, waited, floor=not args.quick)
        seconds[name] = time.perf_counter() - start
        results += rows
        for title in dict.fromkeys(r.benchmark for r in rows):
            stamps[title] = stamp.text(getattr(module, "FLOOR", ""))
            if stamp.loaded and not args.quick and not args.allow_loaded:
                refused.add(title)
        status = "loaded" if stamp.loaded else "quiet"
        broken = sum(1 for r in rows if r.error)
        print(
            f"{name}: {len(rows)} figures ({broken} failed) in {seconds[name]:.1f} s; "
            f"load {stamp.before:.2f} → {stamp.after:.2f} ({status})",
            file=sys.stderr,
        )
    info = machine_info()
    info["run time"] = (
        f"{sum(seconds.values()) / 60:.1f} min (" + ", ".join(f"{name} {s:.0f} s" for name, s in seconds.items()) + ")"
    )
    info["load limit"] = f"1-minute load average {limit:g} on {os.cpu_count()} cores (1.5 on 2, scaled)"
    text = render_markdown(results, info, quick=args.quick, stamps=stamps)
    if args.quick:
        written = text  # a smoke run writes its own file whole
    else:
        old = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        written = assemble(old, text, refused, partial=bool(args.only))
    args.output.write_text(written.rstrip("\n") + "\n", encoding="utf-8")
    print(text)
    print(f"\nwritten to {args.output}", file=sys.stderr)
    if refused:
        print(
            "NOT written (measured on a loaded machine; run again on a quiet one, or pass --allow-loaded): "
            + ", ".join(sorted(refused)),
            file=sys.stderr,
        )
    broken = [f"{r.benchmark}: {r.case}" for r in results if r.error]
    if broken:
        print("FAILED cases (recorded as failed): " + "; ".join(broken), file=sys.stderr)
    return 1 if refused or broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
