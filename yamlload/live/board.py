"""What the live page shows: the run as chart points, and the frames the dashboard
pushes (HTML fragments drawn with the HTML report's own SVG functions, so the page
looks like the report, and the numbers beside them). No aiohttp here: the server is
dashboard.py; this is plain data in, strings out.

A frame is built only when someone asks (a page is open, /state.json is read), at most
once per second of the run, and kept: a page opened late gets it at once."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from ..checks.evaluate import evaluate
from ..checks.grades import grade_summary, grade_table
from ..checks.live import MIN_WIDTH, summary_so_far
from ..checks.outcome import Outcome, describe_limit, describe_outcome
from ..checks.parse import Check, is_grade
from ..metrics.histogram import Histogram, Metrics
from ..metrics.live import TAIL_SECONDS, LiveSeries
from ..metrics.names import (
    ACTIVE_USERS,
    ARRIVAL_LAG,
    CODES,
    CPU_MS,
    ERRORS,
    REQUESTS,
    REQUESTS_FAILED,
    RESPONSE_TIME,
    RSS_MB,
    USERS_CREATED,
)
from ..plan.ir import MONITOR_PREFIX, Plan
from ..plan.secrets import Redactor
from ..report.html import Series, esc, line_chart, millis, stacked_bars
from ..report.html import _endpoint_table as endpoint_table
from ..report.monitored import MonitorChart, joined, monitor_charts, split_series
from ..results.run import PhaseRun, Progress
from ..results.summary import Summary
from ..units import format_seconds
from .exposition import Snapshot, exposition
from .memo import remembered

T = TypeVar("T")

# The charts draw at most this many points: past it, each pair of neighbouring points
# is merged into one (histograms merged, so percentiles stay exact), so a long run
# shows all of itself at a coarser step and a frame stays small. 3 minutes at 1 s.
MAX_POINTS = 180
# Each point is a dot with its value on hover up to this many points; past it the
# charts are lines only (the dots were most of a frame's bytes and drawing time).
DOTS_UP_TO = 90
# The endpoint table is drawn for at most this many endpoints a second: a plan with
# more has its table redrawn every few seconds (1,000 endpoints: every 10 s), the rest
# of the frame every second, so that a frame stays a few ms of the run's loop. The last
# frame always has it afresh.
TABLE_ENDPOINTS_PER_SECOND = 100
# What a chart point keeps of a second: the rest (per-endpoint series) is only totals.
CHARTED_COUNTERS = (REQUESTS, CPU_MS)
CHARTED_PREFIXES = (CODES, ERRORS)
CHARTED_HISTOGRAMS = (RESPONSE_TIME, ARRIVAL_LAG, ACTIVE_USERS)


@dataclass
class Point:
    """A stretch of the run (one second, or more once merged) as the charts draw it."""

    start: float
    end: float
    metrics: Metrics
    rss_mb: float | None = None
    values: dict[str, float | None] = field(init=False)

    def __post_init__(self) -> None:
        self.values = _values(self)

    @property
    def width(self) -> float:
        return max(self.end - self.start, MIN_WIDTH)

    @property
    def middle(self) -> float:
        return (self.start + self.end) / 2

    def codes(self) -> dict[str, int]:
        counters = self.metrics.counters
        found = {f"HTTP {k[len(CODES) :]}": n for k, n in counters.items() if k.startswith(CODES)}
        found.update(
            (f"error {k[len(ERRORS) :]}", n) for k, n in counters.items() if k.startswith(ERRORS)
        )
        return found


def _values(point: Point) -> dict[str, float | None]:
    """Each chart's value at this point, worked out once; None where nothing was seen."""
    histograms, counters = point.metrics.histograms, point.metrics.counters
    latency = histograms.get(RESPONSE_TIME) or Histogram()
    lag = histograms.get(ARRIVAL_LAG) or Histogram()
    users = histograms.get(ACTIVE_USERS)
    cpu = counters.get(CPU_MS)

    def of(hist: Histogram, q: float) -> float | None:
        return hist.percentile(q) if hist.count else None

    return {
        "rps": counters.get(REQUESTS, 0) / point.width,
        "users": users.mean if users is not None and users.count else None,
        "p50": of(latency, 0.5),
        "p95": of(latency, 0.95),
        "p99": of(latency, 0.99),
        "lag99": of(lag, 0.99),
        "lagmax": lag.max if lag.count else None,
        "cpu": None if cpu is None else cpu / (point.width * 1000) * 100,
        "rss": point.rss_mb,
    }


def charted(metrics: Metrics) -> Metrics:
    """The part of a second the charts read (shared, not copied: never written)."""
    counters = {
        k: n
        for k, n in metrics.counters.items()
        if k in CHARTED_COUNTERS or k.startswith(CHARTED_PREFIXES)
    }
    histograms = {k: h for k, h in metrics.histograms.items() if k in CHARTED_HISTOGRAMS}
    gauges = {k: g for k, g in metrics.gauges.items() if k.startswith(MONITOR_PREFIX)}
    return Metrics(counters, histograms, gauges)


def merged(first: Point, second: Point) -> Point:
    metrics = Metrics()
    metrics.merge(first.metrics)
    metrics.merge(second.metrics)
    rss = [r for r in (first.rss_mb, second.rss_mb) if r is not None]
    return Point(first.start, second.end, metrics, max(rss) if rss else None)


def coarsened(points: list[Point]) -> list[Point]:
    """Every two neighbouring points as one (an odd last one stays as it is)."""
    pairs = [merged(points[i], points[i + 1]) for i in range(0, len(points) - 1, 2)]
    return pairs + points[len(pairs) * 2 :]


class Board:
    """The run as the live page shows it, updated once a second by the dashboard."""

    def __init__(
        self, plan: Plan, checks: Sequence[Check], redactor: Redactor, reports: Sequence[str]
    ) -> None:
        self.mask: Callable[[str], str] = remembered(redactor.text)
        self.source = plan.source
        self.target = redactor.url(plan.target)
        self.checks = list(checks)
        # The grade table, for a `grade>=B` gate only (the CLI has checked it already).
        self.grades = grade_table(plan) if any(is_grade(c) for c in checks) else None
        # Absolute, so that the page says where they are wherever it is read from.
        self.reports = [self.mask(os.path.abspath(path)) for path in reports]
        self.methods = {r.label: r.method for r in plan.requests()}
        self.phases = _phase_bands(plan, self.mask)
        # config.monitor's charts, from the plan: there from the first frame
        self.monitor = monitor_charts(name for source in plan.monitor for name in source.series)
        self.planned = sum(phase.duration for phase in plan.phases)
        self.points: list[Point] = []
        self.total = Metrics()
        self.progress = Progress(0.0, self.planned, "", 0, 0, 0, 0, 0.0)
        self.done = False
        self.version = 0  # one more each update: what the caches below are keyed by
        self._cache: dict[str, tuple[int, Any]] = {}
        self._table: tuple[int, str] | None = None  # the endpoint table, and its version

    def update(self, live: LiveSeries, progress: Progress, done: bool = False) -> None:
        """Take the seconds the live series gained since the last update (every one,
        even if an update was missed)."""
        last = self.points[-1].end if self.points else 0.0
        new = []
        for second in reversed(live.seconds):
            if second.at <= last:
                break
            new.append(second)
        new.reverse()
        for second in new:
            # The memory the ticker sampled in that second, as the report charts it.
            memory = second.histogram(RSS_MB)
            rss = memory.max if memory is not None and memory.count else None
            self.points.append(Point(last, second.at, charted(second.metrics), rss))
            last = second.at
        last_is_a_sliver = self.points and self.points[-1].width < TAIL_SECONDS
        if done and last_is_a_sliver and len(self.points) >= 2:  # as the report's rows
            self.points[-2:] = [merged(self.points[-2], self.points[-1])]
        if len(self.points) > MAX_POINTS:
            self.points = coarsened(self.points)
        self.total, self.progress, self.done = live.total, progress, done
        self.version += 1

    def _cached(self, key: str, make: Callable[[], T]) -> T:
        """What `make` makes, made at most once per update (a frame is asked for by every
        page, /state.json and the events stream: it is drawn once)."""
        found = self._cache.get(key)
        if found is None or found[0] != self.version:
            found = self._cache[key] = (self.version, make())
        return cast(T, found[1])

    def summary(self) -> Summary:
        """The run so far as a Summary (one period: the running total), with the
        endpoints' names masked, for the endpoint table and the checks."""
        return self._cached("summary", self._summary)

    def _summary(self) -> Summary:
        total = self.total.renamed(self.mask)
        elapsed = self.progress.elapsed
        summary = summary_so_far(total, elapsed, self.source, self.target, self.phases)
        if self.grades is not None:  # a `grade>=B` gate shows the grade so far
            summary.grade = grade_summary(summary, self.grades)
        return summary

    def outcomes(self) -> list[Outcome]:
        return self._cached("outcomes", lambda: evaluate(self.checks, self.summary()))

    def metrics_text(self) -> str:
        """/metrics: the exposition of the run so far, labels masked; built at most once
        per update however many scrape it."""
        return self._cached("metrics", self._metrics_text)

    def _metrics_text(self) -> str:
        states = [(o.check.source, _state_of(o)) for o in self.outcomes()]
        snapshot = Snapshot(
            self.total,
            self.progress.active,
            self.progress.elapsed,
            self.methods,
            checks=states,
            mask=self.mask,
        )
        return exposition(snapshot)

    def frame(self) -> dict[str, Any]:
        """The state and the page's fragments: what each event carries."""
        return self._cached("frame", self._frame)

    def state(self) -> dict[str, Any]:
        """The numbers and checks without the fragments (/state.json): none of the
        drawing is done for a script that polls."""
        return self._cached("state", self._state)

    def event(self) -> bytes:
        """The frame as one server-sent event (JSON on one line)."""
        return self._cached("event", lambda: f"data: {json.dumps(self.frame())}\n\n".encode())

    def _state(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "elapsed": round(self.progress.elapsed, 3),
            "phase": self.mask(self.progress.phase),
            "numbers": self.numbers(self.summary()),
            "checks": [_check_row(o) for o in self.outcomes()],
            "reports": self.reports if self.done else [],
        }

    def _frame(self) -> dict[str, Any]:
        summary = self.summary()
        return {
            **self.state(),
            # Each fragment fills the page's element of that id (page.py).
            "html": {
                "status": self.status_html(),
                "tiles": self.tiles_html(summary),
                "checks": self.checks_html(),
                "charts": self.charts_html(),
                "endpoint-rows": self.endpoints_html(summary),
            },
        }

    def numbers(self, summary: Summary) -> dict[str, Any]:
        latency = summary.stats(RESPONSE_TIME)
        last = self.points[-1].values["rps"] if self.points else 0.0
        # While running, the last second's rate; once done, the run's, as the report
        # shows it (the last second is users finishing, and would read as the result).
        rate = summary.request_rate if self.done else last
        return {
            "requests": summary.counter(REQUESTS),
            "failed": summary.counter(REQUESTS_FAILED),
            "rps": round(rate or 0.0, 3),
            "active": self.progress.active,
            "created": summary.counter(USERS_CREATED),
            "error_rate": round(summary.error_rate, 6),
            # null, not 0, when no request has been answered yet
            "p50": latency.p50 if latency.count else None,
            "p95": latency.p95 if latency.count else None,
            "p99": latency.p99 if latency.count else None,
            "points": len(self.points),
        }

    # ---- fragments

    def status_html(self) -> str:
        elapsed = format_seconds(round(self.progress.elapsed))
        if not self.done:
            # An unnamed phase is called "phase 2" already: its name is shown as it is.
            phase = f" · {esc(self.mask(self.progress.phase))}" if self.progress.phase else ""
            planned = format_seconds(round(self.planned))
            running = f"running · {esc(elapsed)} of {esc(planned)}{phase}"
            return f'<p class="status running">{running}</p>'
        reports = "".join(f"<li><code>{esc(path)}</code></li>" for path in self.reports)
        written = f"<p>Reports (written as the run ends):</p><ul>{reports}</ul>" if reports else ""
        done = f"done · ran {esc(elapsed)}: the numbers below are final"
        return f'<p class="status done">{done}</p>{written}'

    def tiles_html(self, summary: Summary) -> str:
        numbers = self.numbers(summary)
        tiles = [
            ("elapsed", format_seconds(round(self.progress.elapsed))),
            ("requests", f"{numbers['requests']:,}"),
            ("requests / s (run)" if self.done else "requests / s", f"{numbers['rps']:.1f}"),
            ("active users", f"{numbers['active']:,}"),
            ("error rate", f"{summary.error_rate * 100:.2f}%"),
            ("p50", millis(numbers["p50"])),
            ("p95", millis(numbers["p95"])),
            ("p99", millis(numbers["p99"])),
            # a ws run's messages and sessions so far (issue 19), as the summary shows them
            *summary.websocket_rows(),
        ]
        cells = "".join(
            f'<div><dt>{esc(k)}</dt><dd data-metric="{esc(k)}">{esc(v)}</dd></div>'
            for k, v in tiles
        )
        return f'<dl class="tiles">{cells}</dl>'

    def checks_html(self) -> str:
        outcomes = self.outcomes()
        if not outcomes:
            return "<p>No checks: add <code>--ensure 'p95&lt;500'</code> to watch one.</p>"
        rows = "".join(_check_html(_check_row(o)) for o in outcomes)
        head = "<tr><th>check</th><th>now</th><th>limit</th><th>state</th></tr>"
        return f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>"

    def endpoints_html(self, summary: Summary) -> str:
        """The endpoint table, redrawn once every `table_every()` updates, and at the
        end."""
        drawn = self._table
        if drawn is None or self.done or self.version - drawn[0] >= self.table_every():
            table = endpoint_table(summary) if summary.counter(REQUESTS) else ""
            drawn = self._table = (self.version, table)
        return drawn[1]

    def table_every(self) -> int:
        """How many updates the endpoint table is kept for (1: redrawn every second)."""
        return max(1, -(-len(self.methods) // TABLE_ENDPOINTS_PER_SECOND))

    def charts_html(self) -> str:
        return "".join(chart(self) for chart in CHARTS)

    def x_max(self) -> float:
        return max(self.planned, self.progress.elapsed, 1.0)

    def series(self, key: str) -> list[tuple[float, float | None]]:
        return [(p.middle, p.values[key]) for p in self.points]

    def gauge_series(self, name: str) -> list[tuple[float, float | None]]:
        """A monitored series' mean in each point that took a sample, as a line joins
        them (report/monitored.py's `joined`)."""
        points: list[tuple[float, float | None]] = []
        for point in self.points:
            gauge = point.metrics.gauges.get(name)
            points.append((point.middle, gauge.mean if gauge and gauge.count else None))
        return joined(points)


def _phase_bands(plan: Plan, mask: Callable[[str], str]) -> list[PhaseRun]:
    """The plan's phases on the run's clock, as the charts shade them (a name from the
    plan may hold a secret)."""
    bands, start = [], 0.0
    for phase in plan.phases:
        bands.append(PhaseRun(phase.index, mask(phase.name), start, start + phase.duration))
        start += phase.duration
    return bands


def _state_of(outcome: Outcome) -> bool | None:
    """Whether a check holds now; None while it has nothing to measure."""
    if outcome.check.condition is None and outcome.value is None:
        return None
    return outcome.ok


def _check_html(row: dict[str, Any]) -> str:
    kind = "ok" if row["state"] == "ok" else "fail"  # the report's colours
    cells = [f"<code>{esc(row['check'])}</code>", esc(row["value"]), esc(row["limit"])]
    cells.append(f"<strong>{esc(row['state'])}</strong>")
    return f'<tr class="{kind}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _check_row(outcome: Outcome) -> dict[str, Any]:
    state = _state_of(outcome)
    return {
        "check": outcome.check.source,
        "value": describe_outcome(outcome),
        "limit": describe_limit(outcome.check),
        "state": "no data" if state is None else "ok" if state else "failing",
    }


# --------------------------------------------------------------------------- charts


def _lines(
    board: Board, title: str, series: list[Series], unit: str, unit2: str | None = None
) -> str:
    dots = len(board.points) <= DOTS_UP_TO
    return line_chart(title, series, board.x_max(), board.phases, unit, unit2, dots=dots)


def _rate_and_users(board: Board) -> str:
    rate = Series("requests / s", board.series("rps"))
    users = Series("active users", board.series("users"), "right")
    return _lines(
        board, "Request rate and active users, per second", [rate, users], "req/s", "users"
    )


def _latency(board: Board) -> str:
    series = [Series(k, board.series(k)) for k in ("p50", "p95", "p99")]
    return _lines(board, "Latency per second (http.response_time)", series, "ms")


def _monitor(board: Board) -> str:
    """config.monitor's series, a chart per source and unit (report/monitored.py)."""
    return "".join(_monitor_chart(board, chart) for chart in board.monitor)


def _monitor_chart(board: Board, chart: MonitorChart) -> str:
    series = [
        Series(board.mask(split_series(name)[1]), board.gauge_series(name)) for name in chart.series
    ]
    return _lines(board, board.mask(chart.title), series, chart.unit)


def _codes(board: Board) -> str:
    bars = [(p.start, p.width, p.codes()) for p in board.points]
    return stacked_bars(
        "Status codes and errors per second", bars, board.x_max(), board.phases, "per s", per=1.0
    )


def _lag(board: Board) -> str:
    series = [Series("p99", board.series("lag99")), Series("max", board.series("lagmax"))]
    return _lines(board, "Arrival lag (how late users started)", series, "ms")


def _generator(board: Board) -> str:
    series = [Series("CPU % of one core", board.series("cpu"))]
    memory = any(p.rss_mb is not None for p in board.points)
    if memory:  # where /proc tells it
        series.append(Series("resident memory", board.series("rss"), "right"))
    return _lines(board, "Generator CPU and memory", series, "%", "MB" if memory else None)


CHARTS: Iterable[Callable[[Board], str]] = (
    _rate_and_users,
    _latency,
    _monitor,
    _codes,
    _lag,
    _generator,
)
