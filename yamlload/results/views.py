"""The rows every output shows: one per period and one per endpoint, each computed once.

The console, HTML, CSV, JSON and Markdown reports (and the checks) read these rows, so a
rate or a percentile is worked out in one place and every output agrees on it to the
last digit. `Summary.period_rows()` and `Summary.endpoints()` build them on first read
and keep them; the console's live period lines build a PeriodRow of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..metrics.histogram import Histogram, Metrics
from ..metrics.names import (
    ACTIVE_USERS,
    ARRIVAL_LAG,
    CODES,
    CPU_MS,
    ENDPOINT_KINDS,
    ENDPOINT_LATENCY,
    ERRORS,
    REQUESTS,
    REQUESTS_INTERRUPTED,
    RESPONSE_TIME,
    RSS_MB,
    USERS_CREATED,
    split_endpoint_key,
)
from ..metrics.periods import Period, period_width


@dataclass(frozen=True)
class Stats:
    """A histogram's numbers as the tables show them (ms). With no samples, `count` is 0
    and the rest are zero; readers that show a blank for "no data" test `count`."""

    count: int = 0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    # The int 0 with no samples: the CSV and HTML have always printed it as `0`, not `0.0`.
    max: float = 0

    @classmethod
    def of(cls, hist: Histogram | None) -> Stats:
        if hist is None or not hist.count:
            return NO_SAMPLES
        return cls(
            hist.count,
            hist.percentile(0.5),
            hist.percentile(0.95),
            hist.percentile(0.99),
            hist.max,
        )


NO_SAMPLES = Stats()


@dataclass(frozen=True)
class PeriodRow:
    """One period as every output shows it: the rate divides by its real width."""

    period: Period
    width: float  # seconds (see metrics.periods.period_width)
    requests: int
    users_created: int
    interrupted: int
    latency: Stats  # http.response_time
    lag: Stats  # yamlload.arrival_lag
    active_users: float | None  # the mean of the samples; None with none
    cpu_ms: int | None  # None when the generator did not report its CPU
    rss_mb: float | None  # the generator's peak resident memory in the period (MB)
    codes: dict[str, int]  # status code → responses, sorted by code
    errors: dict[str, int]  # error code → requests, sorted by code

    @classmethod
    def of(cls, period: Period, width: float) -> PeriodRow:
        counters, histograms = period.metrics.counters, period.metrics.histograms
        users = histograms.get(ACTIVE_USERS)
        return cls(
            period=period,
            width=width,
            requests=counters.get(REQUESTS, 0),
            users_created=counters.get(USERS_CREATED, 0),
            interrupted=counters.get(REQUESTS_INTERRUPTED, 0),
            latency=Stats.of(histograms.get(RESPONSE_TIME)),
            lag=Stats.of(histograms.get(ARRIVAL_LAG)),
            active_users=users.mean if users and users.count else None,
            cpu_ms=counters.get(CPU_MS),
            rss_mb=_peak(histograms.get(RSS_MB)),
            codes=_with_prefix(counters, CODES),
            errors=_with_prefix(counters, ERRORS),
        )

    @property
    def start(self) -> float:
        return self.period.start

    @property
    def span(self) -> int:
        """How many 10-second periods this row rolls up (1, or a minute's or ten's)."""
        return self.period.span

    @property
    def request_rate(self) -> float:
        return self.requests / self.width

    @property
    def cpu_percent(self) -> float | None:
        """The generator's CPU over the period, in % of one core."""
        return None if self.cpu_ms is None else self.cpu_ms / (self.width * 1000) * 100


def period_rows(periods: Iterable[Period], duration: float) -> list[PeriodRow]:
    """A row per period of a run that lasted `duration` seconds, in the periods' order."""
    periods = list(periods)
    last = max((p.index for p in periods), default=0)
    return [PeriodRow.of(p, period_width(p.index, duration, last, p.span)) for p in periods]


@dataclass(frozen=True)
class Endpoint:
    """One endpoint's row, as every output shows it."""

    name: str
    requests: int
    codes: dict[str, int]  # sorted by code
    errors: dict[str, int]  # sorted by code
    latency: Histogram
    failed: int = 0  # no response, or a status the request does not accept
    interrupted: int = 0
    request_rate: float = 0.0  # requests / the run's duration
    stats: Stats = NO_SAMPLES  # of `latency`

    @property
    def error_rate(self) -> float:
        return self.failed / self.requests if self.requests else 0.0


@dataclass
class _Counts:
    """An endpoint's counters, gathered in one pass over a run's counters."""

    requests: int = 0
    requests_failed: int = 0
    requests_interrupted: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)


def endpoint_rows(aggregate: Metrics, duration: float) -> list[Endpoint]:
    """One row per endpoint, sorted by name, read in one pass over the counters (a plan
    may have thousands of endpoints)."""
    counts: dict[str, _Counts] = {}
    for key, n in aggregate.counters.items():
        parts = split_endpoint_key(key)
        if parts is None:
            continue
        name, field_name, item = parts
        found = counts.get(name)
        if found is None:
            found = counts[name] = _Counts()
        if field_name in ENDPOINT_KINDS:  # codes or errors: one counter per code
            getattr(found, field_name)[item] = n
        else:
            setattr(found, field_name, n)
    latencies = {
        key[len(ENDPOINT_LATENCY) :]: hist
        for key, hist in aggregate.histograms.items()
        if key.startswith(ENDPOINT_LATENCY)
    }
    names = sorted(counts.keys() | latencies.keys())
    return [_endpoint(n, counts.get(n) or _Counts(), latencies.get(n), duration) for n in names]


def _endpoint(name: str, counts: _Counts, latency: Histogram | None, duration: float) -> Endpoint:
    latency = latency or Histogram()
    return Endpoint(
        name=name,
        requests=counts.requests,
        codes=dict(sorted(counts.codes.items())),
        errors=dict(sorted(counts.errors.items())),
        latency=latency,
        failed=counts.requests_failed,
        interrupted=counts.requests_interrupted,
        request_rate=counts.requests / duration if duration > 0 else 0.0,
        stats=Stats.of(latency),
    )


def _with_prefix(counters: Mapping[str, int], prefix: str) -> dict[str, int]:
    """The counters under `prefix`, the prefix cut off, sorted by full name."""
    n = len(prefix)
    return {k[n:]: v for k, v in sorted(counters.items()) if k.startswith(prefix)}


def _peak(hist: Histogram | None) -> float | None:
    return hist.max if hist is not None and hist.count else None
