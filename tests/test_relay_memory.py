"""The relay's memory does not grow with its history, nor on a restart (issue 27).

A real relay process (``python -m toychat.relay``, a SQLite file, default
quotas) relays 8,000 messages of 4 KiB between four pairs of students, is
killed and restarted on its files, and relays 1,000 more; its resident set
(``VmRSS``) is sampled along the way by :func:`benchmarks.relay_memory.run_memory`
(the benchmark runs the same with 100,000 messages).

The bound comes from the design: after warm-up a request may hold at most one
mailbox page (:data:`~toychat.relay.limits.MAX_PAGE_BYTES`), so the resident set
may grow by less than that (:data:`~benchmarks.relay_memory.GROWTH_BOUND_MIB`),
and a restarted relay starts within as much of a fresh one.  A relay that kept
its envelopes in memory would hold at least their ciphertexts, 27 MiB here:
with the log and the seen ids put back in lists (as before the fix), this test
fails on both counts.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from benchmarks.relay_memory import GROWTH_BOUND_MIB, MemoryReport, history_floor_mib, run_memory
from toychat.relay.limits import Quota

# Starts a relay process and sends 9,000 messages through it: about a minute.
pytestmark = [pytest.mark.integration, pytest.mark.slow]

WARMUP, MESSAGES, TEXT_BYTES = 1_000, 8_000, 4_096


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> MemoryReport:
    workdir: Path = tmp_path_factory.mktemp("relay-memory")
    return run_memory(
        MESSAGES,
        pairs=4,
        text_bytes=TEXT_BYTES,
        sample_every=WARMUP,
        restart_messages=1_000,
        workdir=workdir,
        seed=27,
    )


def test_the_bound_is_far_below_what_keeping_the_history_would_take() -> None:
    """The test can fail: the history's ciphertexts alone are over three times the bound."""
    assert history_floor_mib(MESSAGES - WARMUP, TEXT_BYTES) > 3 * GROWTH_BOUND_MIB


def test_the_relay_ran_with_the_default_quotas_and_lost_nothing(report: MemoryReport) -> None:
    assert report.quota == dataclasses.asdict(Quota())
    assert report.accepted == MESSAGES + 1_000
    assert report.delivered == report.accepted
    assert (report.lost, report.duplicated, report.wrong_text) == (0, 0, 0)


def test_the_relay_files_are_private(report: MemoryReport) -> None:
    assert report.file_modes["folder"] == "0o700"
    assert report.file_modes["class.sqlite"] == "0o600"
    assert set(report.file_modes.values()) <= {"0o700", "0o600"}


def test_memory_does_not_grow_with_the_messages_relayed(report: MemoryReport) -> None:
    curve = [(s.messages, round(s.rss_mib, 1)) for s in report.samples]
    assert report.growth_mib < GROWTH_BOUND_MIB, f"resident MiB by messages relayed: {curve}"


def test_a_restarted_relay_loads_no_history(report: MemoryReport) -> None:
    assert report.restarted_idle_mib - report.fresh_idle_mib < GROWTH_BOUND_MIB
    after = report.after_restart_mib - report.rss_at(1_000)  # the same 1,000 messages into each run
    assert after < GROWTH_BOUND_MIB
