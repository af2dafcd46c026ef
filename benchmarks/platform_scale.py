"""Platform simulation and detection at scale (lesson 09): simulate the synthetic
platform and run every detector at 10k, 100k and 1M accounts; wall time, peak
memory and the fitted scaling exponent.

Each size runs in a fresh Python process, so its peak resident memory is its own.
The baseline is the floor for the same volume: drawing the same number of
random event rows (sender, recipient, time, size) with numpy and nothing else.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time

from .classroom import REPO
from .core import Result, failed

NAME = "Platform simulation and detection"
FLOOR = "numpy drawing the same number of random event rows in the same process (the baseline column)"
SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (2_000, 5_000)


def measure(accounts: int) -> dict[str, float]:
    """One size, in this process: seconds per stage, events, and peak RSS (MiB)."""
    import resource

    import numpy as np
    import sklearn.ensemble  # noqa: F401  (imported before timing: start-up is not work)
    import sklearn.linear_model  # noqa: F401
    import sklearn.metrics  # noqa: F401

    from toychat import metadata as md

    stages: dict[str, float] = {}
    start = time.perf_counter()
    platform = md.simulate(accounts=accounts, seed=0)
    stages["simulate"] = time.perf_counter() - start
    start = time.perf_counter()
    features = md.account_features(platform)
    stages["features"] = time.perf_counter() - start
    start = time.perf_counter()
    for rule in md.RULES.values():
        md.evaluate(rule(features), platform.contact_abusive)
    stages["three rules"] = time.perf_counter() - start
    for kind in ("logistic", "boosting"):
        start = time.perf_counter()
        model = md.train_classifier(platform, kind=kind)
        scores = md.classifier_scores(model, features)
        md.pr_curve(scores, platform.contact_abusive)
        stages[f"{kind}: train, score, PR curve"] = time.perf_counter() - start
    start = time.perf_counter()
    md.technique_table(platform, md.rule_minors_not_following(features), scan_recall=0.8, report_rate=0.05)
    stages["technique table"] = time.perf_counter() - start
    events = len(platform.events)
    del platform, features
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    floor = [rng.integers(0, accounts, events, dtype=np.int32) for _ in range(2)]
    floor += [rng.integers(0, 2_419_200, events, dtype=np.int32), rng.integers(20, 4000, events, dtype=np.int32)]
    floor_s = time.perf_counter() - start
    del floor
    return {
        **stages,
        "total": sum(stages.values()),
        "events": float(events),
        "floor": floor_s,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _in_child(accounts: int) -> dict[str, float]:
    code = f"import json; from benchmarks.platform_scale import measure; print(json.dumps(measure({accounts})))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True, timeout=1800
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def scaling_exponent(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(time) against log(size): 1.0 is linear."""
    xs, ys = [math.log(s) for s in sizes], [math.log(t) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def run(quick: bool = False) -> list[Result]:
    sizes = list(QUICK_SIZES if quick else SIZES)
    name = NAME
    runs, rows = {}, []
    for n in sizes:
        try:
            runs[n] = _in_child(n)
        except Exception as exc:  # one size's failure (memory, a timeout) leaves the others' figures
            rows.append(failed(name, f"{n:,} accounts: simulate + every detector", exc))
    for n, r in runs.items():
        stages = "; ".join(
            f"{k} {v:.1f} s" for k, v in r.items() if k not in ("total", "events", "floor", "peak_rss_mib")
        )
        big = n == max(sizes) and not quick
        rows.append(
            Result(
                name,
                f"{n:,} accounts, {r['events']:,.0f} events: simulate + every detector",
                r["total"],
                "s",
                "numpy floor: draw the same number of random event rows",
                r["floor"],
                target="under 60 s at 1M accounts" if big else "",
                met=(r["total"] < 60) if big else None,
                note=stages,
            )
        )
        rows.append(
            Result(
                name,
                f"{n:,} accounts: peak memory",
                r["peak_rss_mib"],
                "MiB",
                target="under 4 GiB at 1M accounts" if big else "",
                met=(r["peak_rss_mib"] < 4096) if big else None,
            )
        )
    if len(runs) < 2:
        return rows
    exponent = scaling_exponent(list(runs), [r["total"] for r in runs.values()])
    sizes = list(runs)
    rows.append(
        Result(
            name,
            f"scaling exponent of total time, {sizes[0]:,} → {sizes[-1]:,} accounts",
            exponent,
            "",
            target="close to linear (1.0)",
            met=(exponent < 1.25) if not quick else None,
            note="slope of log(time) on log(accounts); fixed start-up costs pull it below 1 at small sizes",
        )
    )
    return rows
