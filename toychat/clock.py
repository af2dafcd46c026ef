"""Clocks for the toy chat.

Lessons need the same timestamps on every run so that tables and figures
repeat; the server and clients therefore take any ``Callable[[], float]`` as
their clock.  :func:`time.time` is the real one; :class:`SimulatedClock` is a
deterministic stand-in that advances a fixed step each time it is read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Clock", "SimulatedClock", "real_clock"]

Clock = Callable[[], float]
real_clock: Clock = time.time

#: 2024-01-08 09:00:00 UTC: a Monday morning, used as the lessons' default start.
DEFAULT_START = 1_704_704_400.0


@dataclass
class SimulatedClock:
    """A clock that starts at ``start`` (UNIX seconds) and moves ``step`` seconds
    every time it is read.

    >>> clock = SimulatedClock(start=100.0, step=2.5)
    >>> clock(), clock(), clock()
    (100.0, 102.5, 105.0)
    """

    start: float = DEFAULT_START
    step: float = 1.0

    def __post_init__(self) -> None:
        self._now = float(self.start)

    def __call__(self) -> float:
        now = self._now
        self._now += self.step
        return now

    def advance(self, seconds: float) -> None:
        """Jump forward ``seconds`` without reading the clock."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += seconds
