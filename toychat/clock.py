"""Clocks for the toy chat.

Lessons need the same timestamps on every run so that tables and figures
repeat; the server and clients therefore take any ``Callable[[], float]`` as
their clock.  :func:`time.time` is the real one; :class:`SimulatedClock` is a
deterministic stand-in that advances a fixed step each time it is read.

One rule for every timestamp the toy handles -- on the wire, in the server,
in the relay and in its database (:func:`check_timestamp`): a finite number
of seconds since 1970, an ``int`` or a ``float`` (never a ``bool`` or text),
from 0 up to :data:`MAX_TIMESTAMP`, the last second of the year 9999.  Every
such number is exact as a 64-bit float (it is below 2**53), so storing it in
SQLite ``REAL`` and reading it back loses nothing (:func:`as_seconds`), and
pandas can show it as a date.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import TimestampOutOfRange

__all__ = [
    "Clock",
    "SimulatedClock",
    "real_clock",
    "MAX_TIMESTAMP",
    "MAX_CLOCK_SKEW",
    "check_timestamp",
    "as_seconds",
]

Clock = Callable[[], float]
real_clock: Clock = time.time

#: 2024-01-08 09:00:00 UTC: a Monday morning, used as the lessons' default start.
DEFAULT_START = 1_704_704_400.0
#: 9999-12-31 23:59:59 UTC: the latest timestamp accepted anywhere (RFC 3339 dates have four-digit
#: years; see references: docs/references.md#klyne2002).
MAX_TIMESTAMP = 253_402_300_799
#: How far (seconds) a message's send time may be from the platform's clock when it arrives: one day.
MAX_CLOCK_SKEW = 86_400.0


def check_timestamp(value: object, what: str = "timestamp") -> int | float:
    """Return ``value`` unchanged if it obeys the one rule for timestamps, else raise
    :class:`~toychat.errors.TimestampOutOfRange` naming ``what``.

    >>> check_timestamp(1_704_704_400), check_timestamp(0.5)
    (1704704400, 0.5)
    >>> check_timestamp(10**20)
    Traceback (most recent call last):
    ...
    toychat.errors.TimestampOutOfRange: timestamp must be a number of seconds from 0 to 253402300799 (the end of the year 9999), not 100000000000000000000.
    """  # noqa: E501  (a doctest's expected exception is one line: the message whole)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_TIMESTAMP:
        # only a number or a string is shown: the repr of a hostile container can recurse without end
        small = isinstance(value, (float, str)) or (isinstance(value, int) and value.bit_length() <= 128)
        text = repr(value) if small else f"a value of type {type(value).__name__}"
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise TimestampOutOfRange(
            f"{what} must be a number of seconds from 0 to {MAX_TIMESTAMP} (the end of the year 9999), not {shown}."
        )
    if isinstance(value, float) and not math.isfinite(value):  # NaN fails the comparison above; kept explicit
        raise TimestampOutOfRange(f"{what} must be a finite number of seconds.")
    return value


def as_seconds(value: object, what: str = "timestamp") -> float:
    """``value`` checked by :func:`check_timestamp` and as a float: the one form stored
    and bound into franking tags, so an ``int`` and the same ``float`` are one time.

    >>> as_seconds(1_704_704_400)
    1704704400.0
    """
    return float(check_timestamp(value, what))


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
