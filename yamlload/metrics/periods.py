"""Metrics: counters and mergeable histograms, bucketed in 10-second periods.

A long run keeps its last hour at that resolution and rolls older periods up into
1-minute, then 10-minute ones (`roll_up`), so memory stays bounded over days. Rolling up
merges, so every total and percentile stays exact.

The histogram is log-linear (HDR-style): values are kept in microseconds, exactly below
256 µs and above that in buckets whose width is at most 1/128 of their value, so a
reported percentile is within 0.4% of the true sample. Merging two histograms adds their
bucket counts, so percentiles of merged runs (several workers, several machines) are
exact to that precision: they are computed after merging, never averaged.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

PERIOD_SECONDS = 10.0
# (age, span): a period whose whole span ended more than `age` seconds ago is merged into
# one of `span` base periods, aligned to a multiple of it. At 24 hours that keeps
# 360 + 300 + 108 periods rather than 8,640.
ROLLUP_TIERS: tuple[tuple[float, int], ...] = ((3600.0, 6), (6 * 3600.0, 60))
# A period's width is never taken below this, so a rate over a sliver stays finite.
MIN_PERIOD_SECONDS = 1e-3
# 8 significant bits: bucket width ≤ value/128, midpoint error ≤ 0.4%.
_SIGNIFICANT_BITS = 8
_EXACT_BELOW = 1 << _SIGNIFICANT_BITS
PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 0.50),
    ("median", 0.50),
    ("p75", 0.75),
    ("p90", 0.90),
    ("p95", 0.95),
    ("p99", 0.99),
    ("p999", 0.999),
)


def _bucket_key(micros: int) -> int:
    if micros < _EXACT_BELOW:
        return micros
    shift = micros.bit_length() - _SIGNIFICANT_BITS
    return (shift << _SIGNIFICANT_BITS) | (micros >> shift)


def _bucket_value(key: int) -> float:
    """The midpoint of a bucket, in microseconds."""
    if key < _EXACT_BELOW:
        return float(key)
    shift, mantissa = key >> _SIGNIFICANT_BITS, key & (_EXACT_BELOW - 1)
    low = mantissa << shift
    return low + ((1 << shift) - 1) / 2


class PackedBuckets(Mapping[int, int]):
    """A finished histogram's buckets, read-only: sorted keys and their counts in two
    machine arrays, 16 bytes a bucket where a dict of Python ints takes about 100. A long
    run holds hundreds of finished periods, so this is most of its memory."""

    __slots__ = ("_counts", "_keys")

    def __init__(self, buckets: Mapping[int, int]) -> None:
        keys = sorted(buckets)
        self._keys = array("q", keys)
        self._counts = array("q", (buckets[k] for k in keys))

    def __getitem__(self, key: int) -> int:
        at = bisect.bisect_left(self._keys, key)
        if at == len(self._keys) or self._keys[at] != key:
            raise KeyError(key)
        return self._counts[at]

    def __iter__(self) -> Iterator[int]:  # in key order, which sorted() then keeps
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def items(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        return zip(self._keys, self._counts, strict=True)


class Histogram:
    """A log-linear histogram of millisecond values (stored as microseconds)."""

    __slots__ = ("buckets", "count", "max", "min", "total")

    def __init__(self) -> None:
        # A dict while it is written; PackedBuckets once `pack`ed, for good.
        self.buckets: dict[int, int] | PackedBuckets = {}
        self.count = 0
        self.total = 0.0  # milliseconds
        self.min = math.inf
        self.max = -math.inf

    def pack(self) -> None:
        """Make this histogram read-only and compact (see PackedBuckets). The old dict is
        left as it was, so a reader on another thread that holds it is not disturbed."""
        if isinstance(self.buckets, dict):
            self.buckets = PackedBuckets(self.buckets)

    def record(self, millis: float) -> None:
        micros = int(millis * 1000.0) if millis > 0 else 0
        key = micros if micros < _EXACT_BELOW else _bucket_key(micros)
        buckets = self.buckets
        assert isinstance(buckets, dict), "a packed histogram is never written"
        buckets[key] = buckets.get(key, 0) + 1
        self.count += 1
        self.total += millis
        if millis < self.min:
            self.min = millis
        if millis > self.max:
            self.max = millis

    def merge(self, other: Histogram) -> None:
        buckets = self.buckets
        assert isinstance(buckets, dict), "a packed histogram is never written"
        for key, n in other.buckets.items():
            buckets[key] = buckets.get(key, 0) + n
        self.count += other.count
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile in milliseconds (0 for an empty histogram)."""
        if self.count == 0:
            return 0.0
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for key in sorted(self.buckets):
            seen += self.buckets[key]
            if seen >= rank:
                value = _bucket_value(key) / 1000.0
                return min(max(value, self.min), self.max)
        return self.max

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def summary(self) -> dict[str, float]:
        """Artillery's summary shape: min, max, count, mean and percentiles (ms)."""
        if self.count == 0:
            return {"min": 0, "max": 0, "count": 0, "mean": 0, **{k: 0 for k, _ in PERCENTILES}}
        out: dict[str, float] = {
            "min": round(self.min, 3),
            "max": round(self.max, 3),
            "count": self.count,
            "mean": round(self.mean, 3),
        }
        for name, q in PERCENTILES:
            out[name] = round(self.percentile(q), 3)
        return out

    def encode(self) -> dict[str, Any]:
        """Compact and exact: bucket keys delta-encoded, interleaved with counts."""
        flat: list[int] = []
        previous = 0
        for key in sorted(self.buckets):
            flat += [key - previous, self.buckets[key]]
            previous = key
        return {
            "count": self.count,
            "sum": self.total,
            "min": self.min if self.count else 0,
            "max": self.max if self.count else 0,
            "buckets": flat,
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Histogram:
        hist = cls()
        flat = list(data.get("buckets", []))
        if len(flat) % 2:
            raise ValueError("histogram buckets must be pairs of key delta and count")
        key = 0
        buckets: dict[int, int] = {}
        for delta, n in zip(flat[::2], flat[1::2], strict=True):
            if not isinstance(delta, int) or not isinstance(n, int) or delta < 0 or n < 0:
                raise ValueError("histogram buckets must be non-negative integers")
            key += delta
            buckets[key] = buckets.get(key, 0) + n
        hist.buckets = buckets
        hist.count = sum(buckets.values())
        if hist.count != data.get("count", hist.count):
            raise ValueError("histogram count does not match its buckets")
        hist.total = float(data.get("sum", 0.0))
        if hist.count:
            hist.min = float(data["min"])
            hist.max = float(data["max"])
        return hist


@dataclass
class Metrics:
    """Counters and histograms for one stretch of time."""

    counters: dict[str, int] = field(default_factory=dict)
    histograms: dict[str, Histogram] = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def observe(self, name: str, millis: float) -> None:
        hist = self.histograms.get(name)
        if hist is None:
            hist = self.histograms[name] = Histogram()
        hist.record(millis)

    def merge(self, other: Metrics) -> None:
        for name, n in other.counters.items():
            self.counters[name] = self.counters.get(name, 0) + n
        for name, hist in other.histograms.items():
            mine = self.histograms.get(name)
            if mine is None:
                mine = self.histograms[name] = Histogram()
            mine.merge(hist)

    def pack(self) -> None:
        """Finished: every histogram read-only and compact (Histogram.pack)."""
        for hist in self.histograms.values():
            hist.pack()

    def encode(self) -> dict[str, Any]:
        return {
            "counters": dict(sorted(self.counters.items())),
            "histograms": {k: h.encode() for k, h in sorted(self.histograms.items())},
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Metrics:
        return cls(
            counters={str(k): int(v) for k, v in data.get("counters", {}).items()},
            histograms={str(k): Histogram.decode(v) for k, v in data.get("histograms", {}).items()},
        )


@dataclass
class Period:
    """A stretch of `span` 10-second periods from `index` (counted from the run's start):
    one period, or a rolled-up minute or ten."""

    index: int
    metrics: Metrics = field(default_factory=Metrics)
    first: float = math.inf  # seconds from the run start of the first and last sample
    last: float = -math.inf
    span: int = 1

    @property
    def start(self) -> float:
        return self.index * PERIOD_SECONDS

    @property
    def end(self) -> float:
        """Where the period nominally ends (the run's last one may run on: period_width)."""
        return (self.index + self.span) * PERIOD_SECONDS

    def absorb(self, other: Period) -> None:
        self.metrics.merge(other.metrics)
        self.first = min(self.first, other.first)
        self.last = max(self.last, other.last)

    def copy(self) -> Period:
        twin = Period(self.index, span=self.span)
        twin.absorb(self)
        return twin


def rollup_span(age: float) -> int:
    """The span a period gets once its end is `age` seconds in the past."""
    span = 1
    for min_age, tier_span in ROLLUP_TIERS:
        if age > min_age:
            span = tier_span
    return span


def roll_up(periods: dict[int, Period], now: float) -> None:
    """Merge the periods that ended long enough before `now` into coarser ones, in place.

    A coarse period is built whole, once all of its span has aged past its tier, and
    never changed after: a reader holding the old periods (a checkpoint being written
    on another thread) sees them unchanged."""
    for min_age, span in ROLLUP_TIERS:
        groups: dict[int, list[Period]] = {}
        for period in periods.values():
            if period.span >= span:
                continue
            start = period.index // span * span
            if now - (start + span) * PERIOD_SECONDS > min_age:
                groups.setdefault(start, []).append(period)
        for start, members in groups.items():
            coarse = Period(start, span=span)
            for member in members:
                coarse.absorb(member)
                del periods[member.index]
            coarse.metrics.pack()
            periods[start] = coarse


def retained_periods(run_seconds: float) -> int:
    """How many periods a run this long holds at its end, once rolled up."""
    periods = {i: Period(i) for i in range(math.ceil(run_seconds / PERIOD_SECONDS))}
    roll_up(periods, run_seconds)
    return len(periods)


def merge_periods(parts: Iterable[Iterable[Period]]) -> list[Period]:
    """Periods of several shards (or reports) merged by time. Shards roll up by the same
    aligned tiers, but may have rolled up at slightly different moments: a finer period
    that falls inside a coarser one is merged into it."""
    spans = sorted({span for _, span in ROLLUP_TIERS}, reverse=True)
    everything = sorted((period for periods in parts for period in periods), key=lambda p: -p.span)
    merged: dict[int, Period] = {}
    for period in everything:
        home = None
        for span in spans:
            start = period.index // span * span
            found = merged.get(start)
            if span > period.span and found is not None and found.span == span:
                home = found
                break
        if home is None:
            home = merged.get(period.index)
        if home is None:
            home = merged[period.index] = Period(period.index, span=period.span)
        home.absorb(period)
    return [merged[i] for i in sorted(merged)]


def last_period_index(planned_seconds: float) -> int:
    """The index of the period that holds the end of a plan. A sample at or after the
    end (the arrival due at exactly t = 20 s of a 20 s plan, users finishing) belongs to
    it, rather than to a phantom period of its own."""
    return max(0, math.ceil(planned_seconds / PERIOD_SECONDS) - 1)


def period_width(index: int, run_seconds: float, last_index: int, span: int = 1) -> float:
    """The seconds a period covers, which every rate over it divides by: its span (10 s,
    or a rolled-up minute or ten), except for the run's last period (`last_index`),
    which runs from its start to the run's end, users finishing included."""
    start, nominal = index * PERIOD_SECONDS, span * PERIOD_SECONDS
    if index >= last_index or start + nominal > run_seconds:
        return max(run_seconds - start, MIN_PERIOD_SECONDS)
    return nominal


class Recorder:
    """Where the engine writes: counters and histograms into the current period.

    `clock` gives seconds since the run's start; the engine sets it to its own.
    Samples after the period of `last_period` go into it (see last_period_index).
    """

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.periods: dict[int, Period] = {}
        self.clock: Callable[[], float] = clock or (lambda: 0.0)
        self.last_period: int | None = None

    def _period(self) -> Period:
        now = self.clock()
        index = int(now // PERIOD_SECONDS) if now > 0 else 0
        if self.last_period is not None and index > self.last_period:
            index = self.last_period
        period = self.periods.get(index)
        if period is None:
            period = self.periods[index] = Period(index)
        if now < period.first:
            period.first = now
        if now > period.last:
            period.last = now
        return period

    def current(self) -> Metrics:
        """The current period's metrics, for writing several at once."""
        return self._period().metrics

    def count(self, name: str, n: int = 1) -> None:
        self._period().metrics.count(name, n)

    def observe(self, name: str, millis: float) -> None:
        self._period().metrics.observe(name, millis)

    def sorted_periods(self) -> list[Period]:
        return [self.periods[i] for i in sorted(self.periods)]

    def finish_before(self, index: int) -> None:
        """Pack the periods before `index`, which the clock has left and no sample will
        reach again: they keep a quarter of the memory (Histogram.pack)."""
        for period in self.periods.values():
            if period.index + period.span <= index:
                period.metrics.pack()


def merge_metrics(parts: Iterable[Metrics]) -> Metrics:
    total = Metrics()
    for part in parts:
        total.merge(part)
    return total
