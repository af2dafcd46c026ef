"""The classroom relay's memory over a long history: many messages, then a restart.

The relay keeps its log, the ids of accepted messages, franking tags and
mailboxes in SQLite (:mod:`toychat.relay.store`), and holds in memory only
what one request needs (a mailbox page is at most
:data:`~toychat.relay.limits.MAX_PAGE_BYTES`).  So its resident memory should
depend on the quotas and the page size, never on how many messages it has
relayed.  This benchmark checks that on a real relay process
(``python -m toychat.relay``, a SQLite file, the default mailbox quotas):

1. ``pairs`` pairs of students send ``messages`` messages in all, in
   segments of ``sample_every``; each recipient reads its mailbox every
   ``drain_every`` messages (what waits stays far below the quotas).  After
   every segment the relay's resident set (``VmRSS`` in ``/proc/<pid>/status``)
   is sampled.
2. The relay is killed (SIGKILL) and restarted on the same files, as a
   supervisor would; its resident set is sampled at once, then again after
   ``restart_messages`` more messages.

Every message is a real :class:`~toychat.client.Client` envelope (E2EE,
signed), and every accepted one is checked end to end: it must reach its
recipient exactly once.  The per-user *request rate* limit is raised
(``--rate``/``--burst``) so that the relay, not its limiter, paces the run;
memory does not depend on it (the limiter forgets full buckets).

The figure that matters is the *growth* of the resident set from the first
sample after warm-up (``warmup`` messages: imports, caches and SQLite's page
cache filled) to the end, and the resident set after the restart compared with
a fresh relay's: a relay that kept its history in memory would grow by at least the
ciphertext of every message (:func:`history_floor_mib`).  The bound,
:data:`GROWTH_BOUND_MIB`, is one mailbox page: the most the design lets a
request hold.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toychat import Client
from toychat.relay import RemoteServer
from toychat.relay.limits import MAX_PAGE_BYTES, Quota

from .core import Result
from .relay_load import RelayProcess, _proc_memory_mib, _quota_text, relay_file_modes

__all__ = ["MemoryReport", "MemorySample", "GROWTH_BOUND_MIB", "history_floor_mib", "run", "run_memory"]

#: The relay's options for this run: the per-user request limit raised so the relay's own speed
#: paces the run.  Quotas, page size and everything else are what a deployment gets.
RELAY_ARGS = ("--rate=100000", "--burst=100000")


@dataclass(frozen=True)
class MemorySample:
    """The relay's resident memory after ``messages`` messages in all (both runs together)."""

    phase: str  # "first run" or "after restart"
    messages: int
    rss_mib: float
    seconds: float  # since the first run started


@dataclass
class _Pair:
    """Two students who write to each other, each with their own connection to the relay."""

    a: Client
    b: Client
    text: str
    rng: random.Random
    accepted: Counter[tuple[str, str]] = field(default_factory=Counter)  # (recipient, msg_id) -> 1
    received: Counter[tuple[str, str]] = field(default_factory=Counter)
    wrong_text: int = 0
    sent_texts: dict[str, str] = field(default_factory=dict)

    def drain(self) -> None:
        """Both read their mailboxes until empty (``receive`` acknowledges the batch before)."""
        for client in (self.a, self.b):
            while True:
                got = client.receive(strict=True)
                if not got:
                    break
                for message in got:
                    self.received[(client.name, message.msg_id)] += 1
                    self.wrong_text += self.sent_texts.pop(message.msg_id, None) != message.text
                client.inbox.clear()  # the learner's copy: this harness needs only the counts

    def send(self, count: int, drain_every: int) -> None:
        """``count`` messages, alternating a->b and b->a, drained every ``drain_every``."""
        for i in range(count):
            sender, recipient = (self.a, self.b) if i % 2 == 0 else (self.b, self.a)
            text = f"{self.rng.getrandbits(64):016x} {self.text}"
            envelope = sender.compose(recipient.name, text)
            sender.submit_raw(envelope.to_bytes())
            self.accepted[(recipient.name, envelope.msg_id)] += 1
            self.sent_texts[envelope.msg_id] = text
            if (i + 1) % drain_every == 0:
                self.drain()
        self.drain()


@dataclass
class MemoryReport:
    """What one run measured."""

    messages: int
    restart_messages: int
    pairs: int
    text_bytes: int
    envelope_bytes: int
    warmup: int
    samples: list[MemorySample]
    fresh_idle_mib: float  # a new relay, students registered, no message yet
    restarted_idle_mib: float  # the same relay just restarted on its files, no message yet
    peak_mib: float
    accepted: int
    delivered: int
    lost: int
    duplicated: int
    wrong_text: int
    seconds: float
    restart_seconds: float
    quota: dict[str, int]
    file_modes: dict[str, str]
    load_average: float

    def rss_at(self, messages: int, phase: str = "first run") -> float:
        """The resident set of the first sample of ``phase`` taken at or after ``messages``."""
        return next(s.rss_mib for s in self.samples if s.phase == phase and s.messages >= messages)

    @property
    def growth_mib(self) -> float:
        """Resident set at the end of the first run minus after warm-up."""
        first = [s for s in self.samples if s.phase == "first run"]
        return first[-1].rss_mib - self.rss_at(self.warmup)

    @property
    def after_restart_mib(self) -> float:
        """Resident set after the restart and ``restart_messages`` more messages."""
        return [s for s in self.samples if s.phase == "after restart"][-1].rss_mib

    def summary(self) -> dict[str, Any]:
        """The figures as a plain dict (for printing)."""
        data = {k: v for k, v in vars(self).items() if k != "samples"}
        data["samples"] = [(s.phase, s.messages, round(s.rss_mib, 1)) for s in self.samples]
        data.update(growth_mib=self.growth_mib, after_restart_mib=self.after_restart_mib)
        return data


def history_floor_mib(messages: int, text_bytes: int) -> float:
    """The least a relay keeping its history in memory would hold for ``messages`` messages of
    ``text_bytes`` of text each: their ciphertexts, each at least as long as its text (before the
    envelope's other fields and Python's objects around them), in MiB.

    >>> history_floor_mib(1024, 1024)
    1.0
    """
    return messages * text_bytes / 2**20


def _rss(relay: RelayProcess) -> float:
    assert relay.proc is not None
    return _proc_memory_mib(relay.proc.pid)[0]


def _segments(total: int, size: int) -> list[int]:
    """``total`` split into pieces of ``size`` (the last one smaller).

    >>> _segments(2_500, 1_000)
    [1000, 1000, 500]
    """
    return [min(size, total - done) for done in range(0, total, size)]


def run_memory(
    messages: int = 100_000,
    *,
    pairs: int = 8,
    text_bytes: int = 1024,
    sample_every: int = 10_000,
    warmup: int | None = None,
    restart_messages: int = 10_000,
    drain_every: int = 50,
    seed: int = 0,
    workdir: Path | None = None,
    relay_args: tuple[str, ...] = RELAY_ARGS,
) -> MemoryReport:
    """Send ``messages`` through a fresh relay process, restart it, send ``restart_messages``
    more, sampling its resident memory; see the module docstring."""
    warmup = sample_every if warmup is None else warmup
    owned = tempfile.TemporaryDirectory(prefix="relay-memory-") if workdir is None else None
    folder = Path(owned.name) if owned else Path(workdir)  # type: ignore[arg-type]
    db = folder / "relay" / "class.sqlite"
    relay = RelayProcess(db=db, log_path=folder / "relay.log", extra_args=relay_args)
    relay.start()
    rng = random.Random(seed)
    filler = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(max(0, text_bytes - 17)))
    try:
        quota = RemoteServer(relay.url).info(fresh=True).get("quota", {})
        roster = []
        for i in range(pairs):
            a = Client(f"a{i:03d}", RemoteServer(relay.url, timeout=60.0))
            b = Client(f"b{i:03d}", RemoteServer(relay.url, timeout=60.0))
            a.lookup(b.name)
            b.lookup(a.name)
            roster.append(_Pair(a, b, filler, random.Random(seed * 100_003 + i)))
        envelope_bytes = len(roster[0].a.compose(roster[0].b.name, f"{0:016x} {filler}").to_bytes())
        samples: list[MemorySample] = []
        started = time.perf_counter()
        fresh_idle = _rss(relay)
        done = 0

        def run_phase(phase: str, total: int) -> None:
            nonlocal done
            with ThreadPoolExecutor(max_workers=pairs) as pool:
                for size in _segments(total, sample_every):
                    shares = [size // pairs + (k < size % pairs) for k in range(pairs)]
                    for future in [pool.submit(p.send, n, drain_every) for p, n in zip(roster, shares, strict=True)]:
                        future.result()
                    done += size
                    samples.append(MemorySample(phase, done, _rss(relay), time.perf_counter() - started))

        run_phase("first run", messages)
        relay.kill()
        restart_seconds = relay.start()
        restarted_idle = _rss(relay)
        run_phase("after restart", restart_messages)
        seconds = time.perf_counter() - started
        _, peak = relay.sample()
        modes = relay_file_modes(db)
        load_average = os.getloadavg()[0]
    finally:
        relay.stop()
        if owned is not None:
            owned.cleanup()

    accepted: Counter[tuple[str, str]] = sum((p.accepted for p in roster), Counter())
    received: Counter[tuple[str, str]] = sum((p.received for p in roster), Counter())
    return MemoryReport(
        messages=messages,
        restart_messages=restart_messages,
        pairs=pairs,
        text_bytes=text_bytes,
        envelope_bytes=envelope_bytes,
        warmup=warmup,
        samples=samples,
        fresh_idle_mib=fresh_idle,
        restarted_idle_mib=restarted_idle,
        peak_mib=peak,
        accepted=sum(accepted.values()),
        delivered=sum(received.values()),
        lost=sum(1 for key in accepted if received[key] == 0),
        duplicated=sum(n - 1 for n in received.values() if n > 1),
        wrong_text=sum(p.wrong_text for p in roster),
        seconds=seconds,
        restart_seconds=restart_seconds,
        quota=quota,
        file_modes=modes,
        load_average=load_average,
    )


# ---- the benchmark -----------------------------------------------------------------------------
NAME = "Classroom relay: memory over a long history and a restart"

#: The growth the design allows after warm-up, in MiB: one mailbox page (MAX_PAGE_BYTES), the
#: most one request may hold.  Everything else the relay keeps is fixed by its start-up (the key
#: directory, imports) or bounded by SQLite's page cache (2 MiB by default, filled in the warm-up).
#: The same bound holds for a restarted relay compared with a fresh one.
GROWTH_BOUND_MIB = MAX_PAGE_BYTES / 2**20


def run(quick: bool = False) -> list[Result]:
    if quick:
        report = run_memory(2_000, pairs=4, sample_every=500, restart_messages=500)
    else:
        report = run_memory()
    n = report.messages
    first = [s for s in report.samples if s.phase == "first run"]
    curve = "; ".join(
        f"{phase}: " + ", ".join(f"{s.messages:,}: {s.rss_mib:.1f}" for s in report.samples if s.phase == phase)
        for phase in ("first run", "after restart")
    )
    exact = (report.lost, report.duplicated, report.wrong_text) == (0, 0, 0)
    return [
        Result(
            NAME,
            "relay resident memory, students registered, no message yet",
            report.fresh_idle_mib,
            "MiB",
            note=f"VmRSS of the relay process; {report.pairs} pairs of students, each message "
            f"{report.text_bytes:,} B of text ({report.envelope_bytes:,} B as an envelope), E2EE and signed; "
            f"a deployment's default mailbox quotas ({_quota_text(report.quota)}); per-user request limit "
            f"raised ({' '.join(RELAY_ARGS)}); files {', '.join(f'{k} {v}' for k, v in report.file_modes.items())}; "
            f"machine load average {report.load_average:.1f} on {os.cpu_count()} cores (shared)",
        ),
        Result(
            NAME, f"relay resident memory after {report.warmup:,} messages (warm)", report.rss_at(report.warmup), "MiB"
        ),
        Result(
            NAME,
            f"relay resident memory after {n:,} messages",
            first[-1].rss_mib,
            "MiB",
            note=f"MiB by messages sent: {curve}",
        ),
        Result(
            NAME,
            f"growth from {report.warmup:,} to {n:,} messages",
            report.growth_mib,
            "MiB",
            baseline="history kept in memory (floor)",
            baseline_value=history_floor_mib(n - report.warmup, report.text_bytes),
            target=f"< {GROWTH_BOUND_MIB:g} MiB",
            met=report.growth_mib < GROWTH_BOUND_MIB if not quick else None,
            note="the target is one mailbox page, the most one request may hold; the baseline is "
            "history_floor_mib, the ciphertexts alone of the messages sent since the warm-up",
        ),
        Result(
            NAME,
            "relay resident memory just after SIGKILL and restart on the same files",
            report.restarted_idle_mib,
            "MiB",
            baseline="a fresh relay, no message yet",
            baseline_value=report.fresh_idle_mib,
            target=f"< {GROWTH_BOUND_MIB:g} MiB above the baseline",
            met=report.restarted_idle_mib - report.fresh_idle_mib < GROWTH_BOUND_MIB if not quick else None,
            note=f"back up in {report.restart_seconds:.1f} s; a relay that reloaded its history would start "
            f"at least {history_floor_mib(n, report.text_bytes):,.0f} MiB larger (history_floor_mib)",
        ),
        Result(
            NAME,
            f"relay resident memory after the restart and {report.restart_messages:,} more messages",
            report.after_restart_mib,
            "MiB",
            baseline=f"the first run after {report.restart_messages:,} messages",
            baseline_value=report.rss_at(report.restart_messages),
        ),
        Result(
            NAME,
            "relay peak memory",
            report.peak_mib,
            "MiB",
            note="peak resident set (VmHWM), the larger of the two processes'",
        ),
        Result(
            NAME,
            "lost or duplicated",
            report.lost + report.duplicated,
            "messages",
            target="0",
            met=exact if not quick else None,
            note=f"{report.accepted:,} accepted (HTTP 201), {report.delivered:,} delivered to a learner's inbox; "
            f"lost {report.lost}, duplicated {report.duplicated}, wrong text {report.wrong_text}; "
            f"{report.seconds:.0f} s in all",
        ),
    ]


if __name__ == "__main__":  # python -m benchmarks.relay_memory [messages] [restart_messages] [sample_every]
    args = [int(a) for a in sys.argv[1:]]
    result = run_memory(
        args[0] if args else 2_000,
        restart_messages=args[1] if len(args) > 1 else 500,
        sample_every=args[2] if len(args) > 2 else 500,
    )
    print(json.dumps(result.summary(), indent=1, default=str))
    print(f"quota a deployment gets: {Quota()}")
