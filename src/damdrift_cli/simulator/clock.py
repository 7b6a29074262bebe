"""Time for the simulator: an injectable monotonic clock and the UTC timestamps DX shows.

Jobs finish when the clock says so (the state advances lazily whenever it is read), so a test or a
benchmark can move a :class:`ManualClock` forward instead of sleeping. Timestamps are derived from the
same clock, so they move with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

#: Seconds on a monotonic scale, e.g. ``time.monotonic``.
Clock = Callable[[], float]


class ManualClock:
    """A clock that only moves when told to; thread-safe, so the server threads can read it."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += seconds


class WallTime:
    """Maps readings of a monotonic clock to UTC, anchored at construction."""

    def __init__(self, clock: Clock) -> None:
        self._origin_reading = clock()
        self._origin_utc = datetime.now(UTC)

    def iso(self, reading: float) -> str:
        """``2026-11-27T03:26:00.123Z``: the millisecond ISO form Node-based DX services send."""
        moment = self._origin_utc + timedelta(seconds=reading - self._origin_reading)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
