"""Per-second series for watching a run live (the dashboard, /metrics, push outputs).

The hot path writes only into 10-second periods (periods.py). Once a second the ticker
asks `LiveSeries.take` what changed since its last look: it diffs the periods still
being written against a copy it kept of each, so a second costs the recorder nothing
per request, and every count of a second adds up to the periods' own counts exactly.
The running total of all seconds is kept too (`LiveSeries.total`), for readers that
want totals without merging every period (a Prometheus scrape). A second's gauges (a
monitored source's series) are the samples taken in that second: count, sum and last
exactly (see `_gauge_difference` for min and max); the total's gauges are the periods'
own, exact (what checks judged while the run goes read: checks/live.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from .histogram import Gauge, Histogram, Metrics, _bucket_value
from .names import (
    ACTIVE_USERS,
    ARRIVAL_LAG,
    CPU_MS,
    ENDPOINT_PREFIX,
    REQUESTS,
    RESPONSE_TIME,
    RSS_MB,
)
from .periods import Period

# The last seconds kept whole (every counter and histogram of each, per endpoint too:
# tens of KB a second): enough for a watcher to catch up on a second it missed. A
# watcher that draws a history keeps its own, smaller one (live/board.py); the periods
# keep everything. Kept longer, they were most of a soak run's memory growth.
SECONDS_KEPT = 10
# The histograms a second keeps when it need not be whole: what the charts draw.
CHARTED = frozenset({RESPONSE_TIME, ARRIVAL_LAG, ACTIVE_USERS, RSS_MB})
# A run this long or shorter keeps a row per second for its report's charts (a minute
# draws 60 points, not 6); a longer one draws its 10-second periods.
ROWS_KEPT = 600
# The run's last look comes a moment after its last tick: a stretch shorter than this is
# charted as part of the second before it, since a rate over a few milliseconds (one
# request in 7 ms: 145 req/s) would draw a spike that never happened.
TAIL_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class SecondRow:
    """One second as the report's charts draw it: a few numbers, about 150 bytes, and
    with config.monitor the mean of each series sampled in it."""

    at: float  # the second's end, seconds from the run's start
    width: float  # its real length (the looks are about a second apart)
    requests: int
    p50: float | None  # http.response_time in ms; None with no response
    p95: float | None
    p99: float | None
    max: float | None
    lag_p99: float | None
    lag_max: float | None
    users: float | None  # active users, the mean of the samples
    cpu_ms: int
    rss_mb: float | None
    # each gauge sampled in the second (config.monitor's series): the samples' mean
    gauges: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, second: Second, width: float) -> SecondRow:
        latency, lag = second.histogram(RESPONSE_TIME), second.histogram(ARRIVAL_LAG)
        users, rss = second.histogram(ACTIVE_USERS), second.histogram(RSS_MB)
        return cls(
            round(second.at, 3),
            round(width, 3),
            second.count(REQUESTS),
            _q(latency, 0.5),
            _q(latency, 0.95),
            _q(latency, 0.99),
            _q(latency, 1.0),
            _q(lag, 0.99),
            _q(lag, 1.0),
            round(users.mean, 3) if users is not None else None,
            second.count(CPU_MS),
            round(rss.max, 1) if rss is not None else None,
            {
                name: round(g.mean, 6)
                for name, g in sorted(second.metrics.gauges.items())
                if g.count
            },
        )


def _q(hist: Histogram | None, q: float) -> float | None:
    if hist is None or not hist.count:
        return None
    return round(hist.max if q == 1.0 else hist.percentile(q), 3)


@dataclass(frozen=True)
class Second:
    """What happened in one second of the run, ending `at` seconds after its start."""

    at: float
    metrics: Metrics = field(default_factory=Metrics)

    def count(self, name: str) -> int:
        return self.metrics.counters.get(name, 0)

    def histogram(self, name: str) -> Histogram | None:
        return self.metrics.histograms.get(name)


class LiveSeries:
    """The run second by second, made from the recorder's periods (see the module)."""

    def __init__(self, kept: int = SECONDS_KEPT, whole: bool = True) -> None:
        """`whole`: every counter and histogram, per endpoint too, for watchers that
        send them on (a dashboard, StatsD). Without it, only the run-wide counters and
        the CHARTED histograms: copying every histogram of a period once a second made
        garbage enough to grow a long run's memory."""
        self.whole = whole
        self.seconds: deque[Second] = deque(maxlen=kept)
        # A row per second while the run is no longer than ROWS_KEPT seconds.
        self.rows: list[SecondRow] = []
        self._last_at = 0.0
        self.total = Metrics()
        # A copy of each period as it was at the last look, for the periods still open.
        self._seen: dict[int, Metrics] = {}
        self._oldest_open = 0
        # The gauges (monitored series) of the periods no longer open, merged: a gauge's
        # min and max cannot be taken apart by seconds, so the total's are the periods'.
        self._closed_gauges: dict[str, Gauge] = {}

    def take(self, periods: Mapping[int, Period], at: float, final: bool = False) -> Second:
        """The second (or whatever time passed) since the last call: every sample that
        reached a period since then, however the periods' boundaries fall. `final`: the
        run's last look, whose row joins the one before when it is short (TAIL_SECONDS)."""
        delta = Metrics()
        # A rolled-up period (span > 1) is made only of periods the clock left long ago,
        # all of whose samples an earlier look took.
        open_now = [i for i, p in periods.items() if i >= self._oldest_open and p.span == 1]
        for index in sorted(open_now):
            current = periods[index].metrics
            if not self.whole:
                current = _charted(current)
            before = self._seen.get(index)
            _add_difference(delta, current, before)
            self._seen[index] = _copy(current)
        if open_now:
            # The newest period is the only one still written after this look; the one
            # before it may still get a last sample from a request that ended late.
            newest = max(open_now)
            self._oldest_open = max(self._oldest_open, newest - 1)
            for index in [i for i in self._seen if i < self._oldest_open]:
                del self._seen[index]
                if index in periods:
                    _merge_gauges(self._closed_gauges, periods[index].metrics.gauges)
        second = Second(at, delta)
        self.seconds.append(second)
        self.total.merge(delta)
        self.total.gauges = self._gauges(periods)
        if at <= ROWS_KEPT + 1:  # + the last look, a little after the run's end
            self.rows.append(self._row(second, at - self._last_at, final))
        self._last_at = at
        return second

    def _gauges(self, periods: Mapping[int, Period]) -> dict[str, Gauge]:
        """Every gauge of the run so far: the closed periods' and the open ones'."""
        gauges = {name: gauge.copy() for name, gauge in self._closed_gauges.items()}
        for index, period in periods.items():
            if index >= self._oldest_open and period.span == 1:
                _merge_gauges(gauges, period.metrics.gauges)
        return gauges

    def _row(self, second: Second, width: float, final: bool) -> SecondRow:
        if not (final and width < TAIL_SECONDS and self.rows and len(self.seconds) >= 2):
            return SecondRow.of(second, width)
        before = self.rows.pop()
        joined = Metrics()
        joined.merge(self.seconds[-2].metrics)
        joined.merge(second.metrics)
        return SecondRow.of(Second(second.at, joined), before.width + width)


def _merge_gauges(into: dict[str, Gauge], gauges: Mapping[str, Gauge]) -> None:
    for name, gauge in gauges.items():
        own = into.get(name)
        if own is None:
            own = into[name] = Gauge()
        own.merge(gauge)


def _charted(metrics: Metrics) -> Metrics:
    """The run-wide counters, the CHARTED histograms and the gauges (a monitored source's
    few series; the same objects, not copies)."""
    counters = {k: n for k, n in metrics.counters.items() if not k.startswith(ENDPOINT_PREFIX)}
    histograms = {k: h for k, h in metrics.histograms.items() if k in CHARTED}
    return Metrics(counters, histograms, dict(metrics.gauges))


def _copy(metrics: Metrics) -> Metrics:
    twin = Metrics(counters=dict(metrics.counters))
    for name, hist in metrics.histograms.items():
        copy = Histogram()
        copy.buckets = dict(hist.buckets)
        copy.count, copy.total, copy.min, copy.max = hist.count, hist.total, hist.min, hist.max
        twin.histograms[name] = copy
    twin.gauges = {name: gauge.copy() for name, gauge in metrics.gauges.items()}
    return twin


def _add_difference(into: Metrics, now: Metrics, before: Metrics | None) -> None:
    """Add `now - before` to `into`: counters, and histograms bucket by bucket. A
    second's min and max are the midpoints of its lowest and highest buckets (within
    0.4% of the true values), since a histogram's own min and max cannot be subtracted."""
    was = before.counters if before is not None else {}
    for name, n in now.counters.items():
        grew = n - was.get(name, 0)
        if grew:
            into.counters[name] = into.counters.get(name, 0) + grew
    for name, hist in now.histograms.items():
        old = before.histograms.get(name) if before is not None else None
        if old is not None and old.count == hist.count:
            continue
        diff = _histogram_difference(hist, old)
        if diff.count:
            mine = into.histograms.get(name)
            if mine is None:
                into.histograms[name] = diff
            else:
                mine.merge(diff)
    for name, gauge in now.gauges.items():
        grown = _gauge_difference(gauge, before.gauges.get(name) if before is not None else None)
        if grown.count:
            into.gauges.setdefault(name, Gauge()).merge(grown)


def _histogram_difference(now: Histogram, before: Histogram | None) -> Histogram:
    diff = Histogram()
    old = before.buckets if before is not None else {}
    buckets: dict[int, int] = {}
    for key, n in now.buckets.items():
        grew = n - old.get(key, 0)
        if grew > 0:
            buckets[key] = grew
    diff.buckets = buckets
    diff.count = sum(buckets.values())
    diff.total = now.total - (before.total if before is not None else 0.0)
    if buckets:  # the buckets' midpoints, as percentiles read them
        diff.min = _clamped(_bucket_value(min(buckets)) / 1000.0, now)
        diff.max = _clamped(_bucket_value(max(buckets)) / 1000.0, now)
    return diff


def _gauge_difference(now: Gauge, before: Gauge | None) -> Gauge:
    """The samples a gauge took since `before`: their count, sum and last exactly (a
    source samples in time order, so the newest is the period's last). One sample is
    exact; of several, the min and max are exact when they moved the period's, else
    bounded by the new samples' mean and last (a gauge's min cannot be subtracted)."""
    if before is None or not before.count:
        return now.copy()
    count = now.count - before.count
    if count <= 0:
        return Gauge()
    if count == 1:
        return Gauge(1, now.last, now.last, now.last, now.last, now.last_at)
    total = now.total - before.total
    mean = total / count
    low = now.min if now.min < before.min else min(mean, now.last)
    high = now.max if now.max > before.max else max(mean, now.last)
    return Gauge(count, total, low, high, now.last, now.last_at)


def _clamped(millis: float, hist: Histogram) -> float:
    return min(max(millis, hist.min), hist.max)
