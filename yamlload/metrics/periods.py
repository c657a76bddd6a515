"""Periods: a run's metrics bucketed in 10-second periods, their widths, the Recorder
the engine writes to, and merging periods of several shards.

A long run keeps its last hour at that resolution and rolls older periods up into
1-minute, then 10-minute ones (`roll_up`), so memory stays bounded over days. Rolling up
merges, so every total and percentile stays exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .histogram import Metrics

PERIOD_SECONDS = 10.0
# (age, span): a period whose whole span ended more than `age` seconds ago is merged into
# one of `span` base periods, aligned to a multiple of it. At 24 hours that keeps
# 360 + 300 + 108 periods rather than 8,640.
ROLLUP_TIERS: tuple[tuple[float, int], ...] = ((3600.0, 6), (6 * 3600.0, 60))
# A period's width is never taken below this, so a rate over a sliver stays finite.
MIN_PERIOD_SECONDS = 1e-3


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
    """Where the engine writes: counters, histograms and gauges into the current period.

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

    def gauge(self, name: str, value: float) -> None:
        """A sampled value (a monitored source's metric), at the clock's time."""
        self._period().metrics.gauge(name, value, at=self.clock())

    def sorted_periods(self) -> list[Period]:
        return [self.periods[i] for i in sorted(self.periods)]

    def finish_before(self, index: int) -> None:
        """Pack the periods before `index`, which the clock has left and no sample will
        reach again: they keep a quarter of the memory (Histogram.pack)."""
        for period in self.periods.values():
            if period.index + period.span <= index:
                period.metrics.pack()
