"""The run's clock: seconds since the schedule started."""

from __future__ import annotations

import time


class Clock:
    def __init__(self) -> None:
        self.t0 = 0.0
        # How late a shard's schedule started after its --start-at (seconds).
        self.late_start = 0.0

    def now(self) -> float:
        # perf_counter, not loop.time(): uvloop's clock only has millisecond steps.
        return time.perf_counter() - self.t0
