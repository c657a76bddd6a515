"""How a run is asked to go (RunOptions), what watches it (Observer), and the timings
every part of the runtime shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..metrics.live import LiveSeries
from ..metrics.periods import Period
from ..results.run import Progress
from ..schedule.arrivals import WHOLE_RUN, Segment

# In-flight users get this long to finish after a stop (Ctrl-C, SIGTERM) before they
# are cancelled.
GRACE_SECONDS = 2.0
# Signals that stop a run gracefully: Ctrl-C, a kill, a closed terminal or SSH session.
STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


@dataclass(frozen=True)
class RunOptions:
    seed: int | None = None
    insecure: bool = False
    scenario_name: str | None = None
    solo: bool = False
    grace_seconds: float = GRACE_SECONDS
    # An aiohttp resolver; tests fake DNS failures with it instead of real lookups.
    resolver: Any = None
    # This process's share of the schedule when the load is split (--workers, --segment).
    segment: Segment = WHOLE_RUN
    # When the schedule starts, as epoch seconds, so that every shard starts together.
    start_at: float | None = None
    # Hand the run so far to `on_checkpoint` this often (seconds), for --checkpoint.
    checkpoint_seconds: float | None = None
    # Log every request and response with its timing (--debug).
    debug: bool = False
    # What watches the run second by second (--dashboard, --out): see Watcher.
    watchers: tuple[Watcher, ...] = ()
    # Asked once a second about the run so far (--abort-on-fail): why to stop it, or
    # None. A reason stops the run as a signal would (checks/live.py's AbortJudge).
    abort: Callable[[LiveSeries, Progress], str | None] | None = None


class Watcher(Protocol):
    """Watches a run live from its own event loop (the dashboard, push outputs): started
    before any traffic, told of every second, and of the end. It must never block the
    loop; an exception from `second` or `finish` is counted (yamlload.output_errors) and
    the run goes on. `start` may raise UsageError (a port in use): nothing is sent then."""

    # How the console names it when it fails: "statsd 127.0.0.1:8125", "the dashboard".
    name: str

    async def start(self) -> None: ...

    def second(self, live: LiveSeries, progress: Progress) -> None: ...

    async def finish(self, live: LiveSeries, progress: Progress) -> None: ...


class Observer(Protocol):
    def tick(self, progress: Progress) -> None: ...

    def period_done(self, period: Period, width: float) -> None: ...

    def log(self, message: str) -> None: ...
