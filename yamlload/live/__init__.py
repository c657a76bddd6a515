"""Watching a run live: the dashboard (`--dashboard`), /metrics in Prometheus' text
format, and what the CLI asks for to build them (`watchers_for`).

Nothing here loads aiohttp: the dashboard's server (dashboard.py) is imported only when
a dashboard is asked for, so a run without one never loads aiohttp.web."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from ..checks.parse import Check
from ..metrics.live import LiveSeries
from ..plan.ir import Plan
from ..plan.secrets import Redactor
from ..results.run import Progress

# `--dashboard` alone: where the page is served (Locust serves on 8089, k6 on 5665).
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5665


class Watcher(Protocol):
    """The shape of runtime.options.Watcher (live may not import the runtime): what
    RunOptions.watchers holds."""

    # How the console names it when it fails: "statsd 127.0.0.1:8125", "the dashboard".
    name: str

    async def start(self) -> None: ...

    def second(self, live: LiveSeries, progress: Progress) -> None: ...

    async def finish(self, live: LiveSeries, progress: Progress) -> None: ...


def watchers_for(
    plan: Plan,
    checks: Sequence[Check],
    redactor: Redactor,
    *,
    dashboard: tuple[str, int] | None = None,
    reports: Sequence[str] = (),
    say: Callable[[str], None] = print,
) -> tuple[Watcher, ...]:
    """What watches this run: the dashboard at (host, port) when asked for. `reports`
    are the paths the run will write, shown on the page when the run ends; `say` tells
    the user where the page is (standard error)."""
    watchers: list[Watcher] = []
    if dashboard is not None:
        from .dashboard import Dashboard  # loads aiohttp.web: only when asked for

        host, port = dashboard
        watchers.append(Dashboard(plan, checks, redactor, host, port, reports, say))
    return tuple(watchers)
