"""The Summary: what a run measured, merged. Every reporter reads only this.

It is also the JSON report: `to_json()` writes Artillery's shape (`aggregate` and
`intermediate`, each with `counters`, `rates` and `summaries`) plus the encoded
histograms that let reports be merged and rendered again later, exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .._version import __version__
from ..errors import UsageError
from ..metrics.histogram import Histogram, Metrics, merge_metrics
from ..metrics.live import SecondRow
from ..metrics.names import (
    APDEX_FRUSTRATED,
    APDEX_SATISFIED,
    APDEX_TOLERATED,
    ARRIVAL_LAG,
    CPU_MS,
    MAX_ARRIVAL_LAG_MS,
    REQUEST_RATE,
    REQUESTS,
    REQUESTS_FAILED,
    RSS_MB,
    USERS_CREATED,
    USERS_FAILED,
    WS_CONNECT_FAILED,
    WS_MESSAGES_RECEIVED,
    WS_MESSAGES_SENT,
    WS_MESSAGES_UNREAD,
    WS_RATES,
    WS_RECEIVE_RATE,
    WS_SEND_RATE,
    WS_SESSIONS,
    WS_SESSIONS_COMPLETED,
    WS_SESSIONS_FAILED,
    WS_SESSIONS_INTERRUPTED,
)
from ..metrics.periods import MIN_PERIOD_SECONDS, PERIOD_SECONDS, Period
from ..plan.ir import DriftSettings, Plan
from ..plan.secrets import Redactor
from ..units import format_count
from .capacity import Capacity
from .drift import Drift, compute_drift, settings_from_json
from .grading import Grading
from .run import PhaseRun, RunResult
from .views import Endpoint, PeriodRow, Stats, endpoint_rows, period_rows

# The rows (results.views) are read from here by the checks and reports.
__all__ = ["Endpoint", "PeriodRow", "Stats", "Summary", "summarize"]

REPORT_FORMAT = 1
# The run's duration is kept to the millisecond in the report.
DURATION_DIGITS = 3
WS_PREFIX = "websocket."
# The WebSocket rows every output shows, in this order (those the run counted).
WS_SHOWN = (
    WS_MESSAGES_SENT,
    WS_SEND_RATE,
    WS_MESSAGES_RECEIVED,
    WS_RECEIVE_RATE,
    WS_MESSAGES_UNREAD,
    WS_SESSIONS,
    WS_SESSIONS_COMPLETED,
    WS_SESSIONS_FAILED,
    WS_SESSIONS_INTERRUPTED,
    WS_CONNECT_FAILED,
)
# An arrival this late against its schedule means the generator could not keep up; the
# same limit is `--max-lag`'s default (one constant, so the warning and the verdict agree).
LAG_WARNING_MS = MAX_ARRIVAL_LAG_MS


@dataclass
class Summary:
    source: str
    target: str
    started_at: str
    duration: float
    periods: list[Period]
    phases: list[PhaseRun]
    stopped_by: str | None = None
    environment: str | None = None
    document: Any = None
    version: str = __version__
    aggregate: Metrics = field(default_factory=Metrics)
    # The CI verdict, once judged: {"checks": [...], "validity": {...}} (cli/verdict.py).
    verdict: dict[str, Any] = field(default_factory=dict)
    # One entry per worker (shard) when the load was split: segment, lag, CPU.
    workers: list[dict[str, Any]] = field(default_factory=list)
    # A --checkpoint report: the run was still going when it was written.
    checkpoint: bool = False
    # The HTTP transport that ran (config.http.transport or YAMLLOAD_TRANSPORT); None in
    # reports written before it was recorded.
    transport: str | None = None
    # A row per second, for the charts of a run of up to ROWS_KEPT seconds in one
    # process (metrics/live.py); empty otherwise.
    seconds: list[SecondRow] = field(default_factory=list)
    # The run's grades (checks/grades.py), once graded; None in a report without them.
    grade: Grading | None = None
    # The build that was tested: GITHUB_SHA, CI_COMMIT_SHA or the plan's git revision.
    revision: str | None = None
    # config.drift's settings (issue 22), kept in the report's `drift` section so that
    # `report` and `merge` judge drift as the run did.
    drift_settings: DriftSettings = field(default_factory=DriftSettings)
    # `yamlload capacity`'s search (issue 22); None in the report of any other command.
    capacity: Capacity | None = None
    # The rows, built on first read and kept (every output asks): so the measurements
    # above must not change once a Summary is read.
    _endpoints: list[Endpoint] | None = field(default=None, init=False, repr=False, compare=False)
    _period_rows: list[PeriodRow] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _stats: dict[str, Stats] = field(default_factory=dict, init=False, repr=False, compare=False)
    _by_name: dict[str, Endpoint] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _drift: Drift | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        aggregate = self.aggregate
        if not aggregate.counters and not aggregate.histograms and not aggregate.gauges:
            self.aggregate = merge_metrics(p.metrics for p in self.periods)

    # ---- reading

    def counter(self, name: str) -> int:
        return self.aggregate.counters.get(name, 0)

    def histogram(self, name: str) -> Histogram:
        return self.aggregate.histograms.get(name) or Histogram()

    def stats(self, name: str) -> Stats:
        """A histogram's p50, p95, p99 and max over the whole run, worked out once."""
        found = self._stats.get(name)
        if found is None:
            found = self._stats[name] = Stats.of(self.aggregate.histograms.get(name))
        return found

    def counters_with(self, prefix: str) -> dict[str, int]:
        n = len(prefix)
        return {
            k[n:]: v for k, v in sorted(self.aggregate.counters.items()) if k.startswith(prefix)
        }

    @property
    def request_rate(self) -> float:
        """Requests / the run's duration (never below a period's least width, so a run of
        a few microseconds and its one period agree)."""
        return self.counter(REQUESTS) / max(self.duration, MIN_PERIOD_SECONDS)

    def rate(self, counter: str) -> float:
        """A counter per second of the run (as request_rate divides: never by 0)."""
        return self.counter(counter) / max(self.duration, MIN_PERIOD_SECONDS)

    def websocket_rows(self) -> list[tuple[str, str]]:
        """The WebSocket counters and rates (issue 19) as every output shows them, in a
        fixed order; empty for a run without a ws scenario."""
        counters = self.counters_with(WS_PREFIX)
        if not counters:
            return []
        rows = []
        for name in WS_SHOWN:
            if name in WS_RATES:
                rows.append((name, f"{self.rate(WS_RATES[name]):,.1f}/s"))
            elif name[len(WS_PREFIX) :] in counters:
                rows.append((name, format_count(counters[name[len(WS_PREFIX) :]])))
        return rows

    @property
    def error_rate(self) -> float:
        """Failed requests / requests: no response, or a status the plan does not accept
        (0 when no request was sent)."""
        requests = self.counter(REQUESTS)
        return self.counter(REQUESTS_FAILED) / requests if requests else 0.0

    @property
    def websocket_only(self) -> bool:
        """No HTTP request, and WebSocket numbers: every headline (console, Markdown) is
        then the ws one (zeroed HTTP rows beside failed users say nothing)."""
        return not self.counter(REQUESTS) and bool(self.counters_with("websocket."))

    @property
    def user_failure_rate(self) -> float:
        """Failed users / created users: Artillery's `maxErrorRate` (0 with no users)."""
        created = self.counter(USERS_CREATED)
        return self.counter(USERS_FAILED) / created if created else 0.0

    @property
    def cpu_percent(self) -> float | None:
        """The generator's CPU over the run, in % of one core (summed over workers)."""
        if CPU_MS not in self.aggregate.counters or self.duration <= 0:
            return None
        return self.counter(CPU_MS) / (self.duration * 1000) * 100

    @property
    def peak_rss_mb(self) -> float | None:
        """The generator's peak resident memory (MB; the largest worker's when split)."""
        rss = self.aggregate.histograms.get(RSS_MB)
        return rss.max if rss is not None and rss.count else None

    @property
    def apdex_score(self) -> float | None:
        """Artillery's apdex: (satisfied + tolerated / 2) / responses; None without apdex."""
        satisfied, tolerated, frustrated = (
            self.counter(k) for k in (APDEX_SATISFIED, APDEX_TOLERATED, APDEX_FRUSTRATED)
        )
        total = satisfied + tolerated + frustrated
        return (satisfied + tolerated / 2) / total if total else None

    @property
    def request_errors(self) -> int:
        """Requests that got no response: the endpoints' errors. (The aggregate's
        `errors.*` also counts flow failures after a response, such as a failed capture.)"""
        return sum(sum(e.errors.values()) for e in self.endpoints())

    def period_rows(self) -> list[PeriodRow]:
        """One row per period, in order (see results.views), built once and kept."""
        if self._period_rows is None:
            self._period_rows = period_rows(self.periods, self.duration)
        return self._period_rows

    def drift(self) -> Drift:
        """How the metrics moved over the longest steady phase (results/drift.py),
        worked out once from the periods and phases."""
        if self._drift is None:
            # The duration as the report keeps it: a report read again (`report`,
            # `merge`) then gives the run's drift to the last digit.
            duration = round(self.duration, DURATION_DIGITS)
            rows = period_rows(self.periods, duration)
            self._drift = compute_drift(rows, self.phases, duration, self.drift_settings)
        return self._drift

    def lag_warning(self) -> str | None:
        lag = self.stats(ARRIVAL_LAG)
        if lag.count and lag.p99 > LAG_WARNING_MS:
            return (
                f"the generator fell behind its schedule: arrival lag p99 = {lag.p99:.0f} ms "
                f"(max {lag.max:.0f} ms); the load it made was lower than planned"
            )
        return None

    def endpoints(self) -> list[Endpoint]:
        """One row per endpoint, sorted by name (see results.views), built once and kept."""
        if self._endpoints is None:
            self._endpoints = endpoint_rows(self.aggregate, self.duration)
        return self._endpoints

    def endpoint(self, name: str) -> Endpoint | None:
        """The row of the endpoint named `name`, if the run had it: found by name, not by
        scanning the rows (a plan may have thousands of endpoints, each check asks)."""
        if self._by_name is None:
            self._by_name = {e.name: e for e in self.endpoints()}
        return self._by_name.get(name)

    # ---- JSON

    def to_json(self) -> dict[str, Any]:
        return {
            key: list(value) if isinstance(value, Iterator) else value
            for key, value in self.json_fields().items()
        }

    def json_fields(self) -> dict[str, Any]:
        """The report's top-level fields, with the per-period list as an iterator: a
        writer that takes the periods one at a time never holds them all as JSON (a
        checkpoint of a day-long run would, every few seconds)."""
        return {
            "yamlload": {"version": self.version, "format": REPORT_FORMAT},
            "plan": {
                "source": self.source,
                "target": self.target,
                "environment": self.environment,
                "phases": [vars(p) for p in self.phases],
                "document": self.document,
            },
            "run": {
                "startedAt": self.started_at,
                "duration": round(self.duration, DURATION_DIGITS),
                "stoppedBy": self.stopped_by,
                **({"checkpoint": True} if self.checkpoint else {}),
                **({"transport": self.transport} if self.transport else {}),
                **({"revision": self.revision} if self.revision else {}),
            },
            # the same width request_rate divides by: never 0, even for a run that never began
            "aggregate": _metrics_json(
                self.aggregate, 0.0, max(self.duration, MIN_PERIOD_SECONDS), self.request_rate
            ),
            "intermediate": (
                _metrics_json(row.period.metrics, row.start, row.width, row.request_rate, row.span)
                for row in self.period_rows()
            ),
            "endpoints": [
                {
                    "name": e.name,
                    "requests": e.requests,
                    "codes": e.codes,
                    "errors": e.errors,
                    "failed": e.failed,
                    "interrupted": e.interrupted,
                    "summary": e.latency.summary(),
                }
                for e in self.endpoints()
            ],
            **({"workers": self.workers} if self.workers else {}),
            **({"seconds": _seconds_json(self.seconds)} if self.seconds else {}),
            **self.verdict,
            **({"grade": self.grade.to_json()} if self.grade is not None else {}),
            "drift": self.drift().to_json(),
            **({"capacity": self.capacity.to_json()} if self.capacity is not None else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], label: str = "report") -> Summary:
        try:
            plan, run = data["plan"], data["run"]
            periods = [
                Period(
                    index=round(float(p["period"]) / PERIOD_SECONDS),
                    metrics=Metrics.decode(p),
                    span=int(p.get("span", 1)),
                )
                for p in data["intermediate"]
            ]
            return cls(
                source=str(plan["source"]),
                target=str(plan["target"]),
                started_at=str(run["startedAt"]),
                duration=float(run["duration"]),
                periods=periods,
                phases=[PhaseRun(**p) for p in plan.get("phases", [])],
                stopped_by=run.get("stoppedBy"),
                environment=plan.get("environment"),
                document=plan.get("document"),
                version=str(data.get("yamlload", {}).get("version", "?")),
                aggregate=Metrics.decode(data["aggregate"]),
                verdict={k: data[k] for k in ("checks", "validity") if k in data},
                workers=list(data.get("workers", [])),
                checkpoint=bool(run.get("checkpoint", False)),
                transport=run.get("transport"),
                seconds=_seconds_from_json(data.get("seconds")),
                grade=Grading.from_json(data["grade"]) if data.get("grade") else None,
                revision=_text_or_none(run.get("revision")),
                drift_settings=settings_from_json(data.get("drift")),
                capacity=Capacity.from_json(data["capacity"]) if data.get("capacity") else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UsageError(
                f"{label}: not a yamlload JSON report ({type(exc).__name__}: {exc})"
            ) from None


def _text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"run.revision is text, not {value!r}")
    return value


# The table's numeric columns; each row's gauges are a table of their own (by name).
SECOND_COLUMNS = tuple(f.name for f in fields(SecondRow) if f.name != "gauges")


def _seconds_json(rows: list[SecondRow]) -> dict[str, Any]:
    """A table: the column names once, then a row of numbers per second; and with
    config.monitor, `gauges`: each series' mean in each second (null: no sample)."""
    names = sorted({name for row in rows for name in row.gauges})
    gauges = {name: [row.gauges.get(name) for row in rows] for name in names}
    return {
        "columns": list(SECOND_COLUMNS),
        "rows": [[getattr(row, name) for name in SECOND_COLUMNS] for row in rows],
        **({"gauges": gauges} if gauges else {}),
    }


def _seconds_from_json(data: Any) -> list[SecondRow]:
    if not data:
        return []
    columns = list(data["columns"])
    if columns != list(SECOND_COLUMNS):  # another version's columns: draw the periods
        return []
    gauges: dict[str, list[float | None]] = data.get("gauges") or {}
    rows = [SecondRow(*row) for row in data["rows"]]
    if not gauges:
        return rows
    return [replace(row, gauges=_gauges_at(gauges, index)) for index, row in enumerate(rows)]


def _gauges_at(gauges: dict[str, list[float | None]], index: int) -> dict[str, float]:
    """The gauges of the `index`th second (a column shorter than the rows has none)."""
    found: dict[str, float] = {}
    for name, values in gauges.items():
        value = values[index] if index < len(values) else None
        if value is not None:
            found[str(name)] = float(value)
    return found


def _metrics_json(
    metrics: Metrics, start: float, width: float, rate: float, span: int = 1
) -> dict[str, Any]:
    """Artillery's shape for a period (or the whole run): `rate` is its request rate,
    which the caller has from the PeriodRow (or the Summary) rather than recompute."""
    encoded = metrics.encode()
    return {
        "period": start,
        "width": round(width, 3),
        **({"span": span} if span > 1 else {}),
        "counters": encoded["counters"],
        "rates": {REQUEST_RATE: round(rate, 3), **_ws_rates(metrics, width)},
        "summaries": {name: h.summary() for name, h in sorted(metrics.histograms.items())},
        "histograms": encoded["histograms"],
        # monitored sources' series (issue 17); absent from a run without config.monitor
        **({"gauges": encoded["gauges"]} if metrics.gauges else {}),
    }


def _ws_rates(metrics: Metrics, width: float) -> dict[str, float]:
    """websocket.send_rate and receive_rate, for a period (or the run) that has ws."""
    return {
        rate: round(metrics.counters[counter] / max(width, MIN_PERIOD_SECONDS), 3)
        for rate, counter in WS_RATES.items()
        if counter in metrics.counters
    }


def summarize(
    plan: Plan,
    result: RunResult,
    started_at: str,
    workers: list[dict[str, Any]] | None = None,
    redactor: Redactor | None = None,
) -> Summary:
    """The report of a run. `redactor` masks the plan's secrets; a caller that summarizes
    the same plan again and again (checkpoints) passes one in rather than rebuild it."""
    redactor = redactor or Redactor.for_plan(plan)
    return Summary(
        source=plan.source,
        target=redactor.url(plan.target),
        started_at=started_at,
        duration=result.duration,
        periods=_masked_periods(result.periods, redactor),
        phases=[replace(p, name=redactor.text(p.name)) for p in result.phases],
        stopped_by=result.stopped_by or ("internal error" if result.internal_error else None),
        environment=plan.environment,
        document=redactor.document(plan.raw),
        workers=workers or [],
        transport=plan.http.transport,
        seconds=_masked_seconds(result.seconds, redactor),
        drift_settings=plan.drift,
    )


def _masked_seconds(rows: list[SecondRow], redactor: Redactor) -> list[SecondRow]:
    """The rows with secrets masked out of their gauges' names (as _masked_periods)."""
    names = {name for row in rows for name in row.gauges}
    masks = {name: redactor.text(name) for name in names}
    if all(name == masked for name, masked in masks.items()):
        return rows
    return [
        replace(row, gauges={masks[name]: value for name, value in row.gauges.items()})
        for row in rows
    ]


def _masked_periods(periods: list[Period], redactor: Redactor) -> list[Period]:
    """The periods with secrets masked out of their metric names: an endpoint's label or
    a scenario's name comes from the plan and may hold one. Unchanged when none does."""
    names = {
        name
        for p in periods
        for name in (*p.metrics.counters, *p.metrics.histograms, *p.metrics.gauges)
    }
    masks = {name: redactor.text(name) for name in names}
    if all(name == masked for name, masked in masks.items()):
        return periods
    return [replace(p, metrics=p.metrics.renamed(masks.__getitem__)) for p in periods]
