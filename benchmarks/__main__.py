"""Run every benchmark: ``python -m benchmarks [--quick] [--only NAME] [--output FILE]``."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from .core import Result, keep_lab_report, machine_info, merge_sections, render_markdown

#: Benchmark modules in the order they run; each has ``run(quick) -> list[Result]``.
BENCHMARKS = (
    "chat",
    "course",
    "hashing",
    "transparency",
    "platform_scale",
    "autograde",
    "relay_load",
    "relay_memory",
    "sizing",
    "site",
    "headless",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the benchmarks run (seconds)")
    parser.add_argument("--only", choices=BENCHMARKS, action="append", help="run only these (repeatable)")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args(argv)

    results: list[Result] = []
    seconds: dict[str, float] = {}
    for name in args.only or BENCHMARKS:
        start = time.perf_counter()
        module = importlib.import_module(f"benchmarks.{name}")
        rows = module.run(quick=args.quick)
        results += rows
        seconds[name] = time.perf_counter() - start
        print(f"{name}: {len(rows)} figures in {seconds[name]:.1f} s", file=sys.stderr)
    info = machine_info()
    info["run time"] = (
        f"{sum(seconds.values()) / 60:.1f} min (" + ", ".join(f"{name} {s:.0f} s" for name, s in seconds.items()) + ")"
    )
    text = render_markdown(results, info, quick=args.quick)
    if not args.quick and args.output.exists():
        old = args.output.read_text(encoding="utf-8")
        if args.only:
            # A partial run replaces only its own sections of an existing full results file,
            # each marked with when it was measured.
            text = merge_sections(old, text, info["date (UTC)"] + " UTC")
        else:
            # A full run replaces every measured section; the hand-written lab report stays.
            text = keep_lab_report(old, text)
    args.output.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    print(text)
    print(f"\nwritten to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
