"""Drift in long runs (issue 22): how p95, the error rate, the achieved throughput, the
generator's memory and each monitored series moved over the longest steady phase.

Pure: read from a run's period rows and phases, so a saved report (`yamlload report`,
`merge`) gets the same answer as the run, and every output reads this one definition.

- **The steady phase**: the phase with the longest stretch of constant load
  (`PhaseRun.steady_from` to its end, cut at the run's end): a constant arrival rate
  (arrivalRate without rampTo, arrivalCount), or a closed-model phase once all its
  users are started. Ramps and pauses are never steady. Shorter than
  `DriftSettings.min_seconds` (5 minutes unless config.drift.minDuration): no drift.
- **Its periods**: those lying at least `MIN_OVERLAP` inside it (10-second periods, or
  rolled-up minutes and tens of minutes in a long run: drift reads them alike), and the
  run's last period when it starts inside a phase that ends the run (the drain widens it).
- **First and last third**: the periods whose middle falls in the first (last) third of
  the stretch the periods cover. Each third's value is exact over its periods merged:
  p95 of the merged histograms, failed requests over requests, requests over seconds,
  the mean of the generator's RSS samples and of each monitored series' samples.
- **Change**: (last − first) / first; for the error rate, last − first (a rate that
  starts at 0 has no relative change: 0.01 is one percentage point).
- **Slope per hour**: the least-squares line through each period's value against the
  period's middle (weighted by its width), in the metric's unit per hour.
- **Worsening**: the change in the metric's bad direction (up for p95, errors, memory and
  monitored series; down for throughput). A metric is flagged when its worsening is over
  its threshold (one that started at 0 has none, and is not); `--ensure 'drift.p95<10%'`
  judges the same worsening.
- **In words** (`change_words`, `worsening_words`): every output shows the signed change
  and which way that is, "rps -20.0% (worse)", and a check the worsening it judged, then
  that same change: "worsened 20.0% (rps -20.0%)". One number, one meaning, everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..metrics.histogram import Gauge, Histogram, Metrics
from ..metrics.names import REQUESTS, REQUESTS_FAILED, RESPONSE_TIME, RSS_MB
from ..plan.ir import MONITOR_PREFIX, DriftSettings, Phase
from ..units import format_seconds
from .run import PhaseRun
from .views import PeriodRow

P95 = "p95"
ERROR_RATE = "error_rate"
RPS = "rps"
GENERATOR_RSS = RSS_MB
# Drift's own metrics, in the order every output lists them (monitored series follow).
FIXED_METRICS = (P95, ERROR_RATE, RPS, GENERATOR_RSS)
# A period counts as the steady phase's when this much of it lies inside the phase: the
# schedule starts a few ms after period 0 does, and a phase rarely ends on a period's edge.
MIN_OVERLAP = 0.9
# Fewer periods than this cannot give a first and a last third of their own.
MIN_PERIODS = 3
SECONDS_PER_HOUR = 3600.0

Direction = Literal["up", "down"]
# Which way a change went, as the tables and checks say it: "steady" when it shows as 0.
WORSE, BETTER, STEADY = "worse", "better", "steady"


def worse_when(metric: str) -> Direction:
    """Which way a metric gets worse: throughput when it falls, every other when it grows."""
    return "down" if metric == RPS else "up"


def change_amount(metric: str, size: float) -> str:
    """The size of a change as every output shows it: "20.0%", "1.50 pp" for the error
    rate (a difference of rates)."""
    if metric == ERROR_RATE:
        return f"{size * 100:,.2f} pp"
    return f"{size * 100:,.1f}%"


def signed_change(metric: str, change: float) -> str:
    """A change with its sign, "-20.0%"; no sign when it shows as 0 ("0.0%", not "-0.0%")."""
    amount = change_amount(metric, abs(change))
    if amount == change_amount(metric, 0.0):
        return amount
    return ("+" if change > 0 else "-") + amount


def direction(metric: str, change: float) -> str:
    """WORSE, BETTER, or STEADY when the change shows as 0."""
    if signed_change(metric, change) == change_amount(metric, 0.0):
        return STEADY
    return WORSE if (change > 0) == (worse_when(metric) == "up") else BETTER


def change_words(metric: str, change: float) -> str:
    """The drift table's change: "-20.0% (worse)", "+2.4% (better)", "0.0% (steady)"."""
    return f"{signed_change(metric, change)} ({direction(metric, change)})"


def worsening_words(metric: str, worsening: float) -> str:
    """A `drift.NAME` check's measured value, from the worsening it judged: how much the
    metric worsened (or improved), then the drift table's own change: "worsened 20.0%
    (rps -20.0%)", "improved 2.4% (rps +2.4%)", "steady (p95 0.0%)"."""
    change = worsening if worse_when(metric) == "up" else -worsening
    went = direction(metric, change)
    verb = {WORSE: "worsened ", BETTER: "improved ", STEADY: ""}[went]
    size = change_amount(metric, abs(change)) if went != STEADY else STEADY
    return f"{verb}{size} ({metric} {signed_change(metric, change)})"


@dataclass(frozen=True)
class MetricDrift:
    """One metric's drift over the steady phase."""

    metric: str
    first: float  # its value over the first third
    last: float  # over the last third
    slope_per_hour: float  # the least-squares slope, in the metric's unit per hour
    worse_when: Direction
    threshold: float  # a fraction (error_rate: a difference of rates)

    @property
    def change(self) -> float | None:
        """(last − first) / first; the difference for the error rate; None when a
        relative change is undefined (it started at 0 and moved)."""
        if self.metric == ERROR_RATE:
            return self.last - self.first
        if self.first == 0:
            return 0.0 if self.last == 0 else None
        return (self.last - self.first) / abs(self.first)

    @property
    def worsening(self) -> float | None:
        """The change in the bad direction: a fall of p95 is negative, as is a rise of
        throughput. None when the change is undefined."""
        change = self.change
        if change is None:
            return None
        return change if self.worse_when == "up" else -change

    @property
    def flagged(self) -> bool:
        worsening = self.worsening
        # From 0 no percentage can be over a threshold: flagging any rise would flag
        # 0 → 0.0001 whatever the threshold, so it is shown ("from 0 (worse)") and gated
        # on its value instead (monitor.api.queue.max<10).
        return worsening is not None and worsening > self.threshold

    def change_words(self) -> str:
        """The drift table's change: "+85.8% (worse)"; "from 0 (worse)" when a relative
        change is undefined."""
        change = self.change
        if change is None:
            rose_badly = (self.last > self.first) == (self.worse_when == "up")
            return f"from 0 ({WORSE if rose_badly else BETTER})"
        return change_words(self.metric, change)

    @property
    def relative_slope(self) -> float | None:
        """The slope per hour as a fraction of the first third's value."""
        if self.metric == ERROR_RATE or self.first == 0:
            return None
        return self.slope_per_hour / abs(self.first)

    def words(self) -> str:
        """The flag as every output says it: "monitor.api.memory_mb grew 38% (+76%/h):
        possible leak"."""
        moved = "grew" if self.last > self.first else "fell"
        change = self.change
        if change is None:
            amount = f"from 0 to {self.last:,.4g}"
        elif self.metric == ERROR_RATE:
            amount = f"by {abs(change) * 100:.2f} pp ({self.first:.2%} to {self.last:.2%})"
        else:
            amount = f"{abs(change) * 100:.0f}%"
        per_hour = self.relative_slope
        rate = f" ({per_hour * 100:+,.0f}%/h)" if per_hour is not None else ""
        return f"{self.metric} {moved} {amount}{rate}: {_meaning(self.metric)}"


def _meaning(metric: str) -> str:
    if metric == P95:
        return "latency drift"
    if metric == ERROR_RATE:
        return "errors grow over time"
    if metric == RPS:
        return "throughput degrades"
    if "memory" in metric or "rss" in metric or metric == GENERATOR_RSS:
        return "possible leak"
    return "drift"


@dataclass(frozen=True)
class Drift:
    """A run's drift: the steady phase it was measured over and each metric's drift, or,
    when there is none, `reason` says why (too short, no steady phase)."""

    settings: DriftSettings
    metrics: tuple[MetricDrift, ...] = ()
    phase: str | None = None
    start: float = 0.0  # the stretch the periods cover, seconds from the run's start
    end: float = 0.0
    periods: int = 0
    reason: str | None = None

    def metric(self, name: str) -> MetricDrift | None:
        return next((m for m in self.metrics if m.metric == name), None)

    def flagged(self) -> list[MetricDrift]:
        return [m for m in self.metrics if m.flagged]

    def why_none(self, name: str) -> str:
        """Why `drift.NAME` has no value, for a check's table."""
        if self.reason is not None:
            return f"no drift: {self.reason}"
        found = self.metric(name)
        if found is not None:  # measured, but its relative change is undefined
            return f"no relative drift: {name} went from 0 to {found.last:,.4g}"
        return f"no drift of {name}: no data in the steady phase's first and last thirds"

    def to_json(self) -> dict[str, Any]:
        return {
            "minDuration": self.settings.min_seconds,
            "thresholds": dict(self.settings.thresholds),
            "phase": self.phase,
            "from": round(self.start, 3),
            "to": round(self.end, 3),
            "periods": self.periods,
            "reason": self.reason,
            "metrics": [
                {
                    "metric": m.metric,
                    "first": m.first,
                    "last": m.last,
                    "change": m.change,
                    "slopePerHour": m.slope_per_hour,
                    "worseWhen": m.worse_when,
                    "threshold": m.threshold,
                    "flagged": m.flagged,
                    **({"message": m.words()} if m.flagged else {}),
                }
                for m in self.metrics
            ],
        }


def settings_from_json(data: Any) -> DriftSettings:
    """The settings a report's `drift` section was judged with; the defaults without one."""
    if not isinstance(data, dict):
        return DriftSettings()
    thresholds = data.get("thresholds") or {}
    return DriftSettings(
        float(data.get("minDuration", DriftSettings().min_seconds)),
        tuple(sorted((str(k), float(v)) for k, v in dict(thresholds).items())),
    )


# --------------------------------------------------------------------------- computing


def compute_drift(
    rows: Sequence[PeriodRow], phases: Sequence[PhaseRun], duration: float, settings: DriftSettings
) -> Drift:
    """The drift of a run whose period rows, phases and duration these are."""
    found = longest_steady(phases, duration)
    if found is None:
        reason = (
            "no steady phase (a constant arrivalRate or arrivalCount, or users once all "
            "are started): drift is not measured over ramps and pauses"
        )
        return Drift(settings, reason=reason)
    phase, start, end = found
    if end - start < settings.min_seconds:
        held, needed = format_seconds(round(end - start, 1)), format_seconds(settings.min_seconds)
        reason = (
            f"the longest steady phase, {phase.name!r}, held its load for {held}, "
            f"less than {needed} (config.drift.minDuration)"
        )
        return Drift(settings, phase=phase.name, start=start, end=end, reason=reason)
    inside = [row for row in rows if _counted(row, start, end, rows[-1], phase, phases)]
    if len(inside) < MIN_PERIODS:
        reason = f"phase {phase.name!r} holds {len(inside)} periods, fewer than {MIN_PERIODS}"
        return Drift(settings, phase=phase.name, start=start, end=end, reason=reason)
    first, last = (_merged(third) for third in thirds(inside))
    metrics = tuple(
        drift
        for name, read, worse in _readers(inside)
        if (drift := _metric_drift(name, read, worse, inside, first, last, settings)) is not None
    )
    covered_from, covered_to = inside[0].start, inside[-1].start + inside[-1].width
    return Drift(settings, metrics, phase.name, covered_from, covered_to, len(inside))


def steady_offset(phase: Phase) -> float | None:
    """Seconds into `phase` from which its load stays constant, or None when it never
    does (a ramp, a pause): the dispatcher records it as `PhaseRun.steady_from`."""
    if phase.kind in ("rate", "count") or (
        phase.kind == "ramp" and phase.ramp_to == phase.arrival_rate
    ):
        return 0.0
    if phase.kind == "users":
        spawn = phase.users / phase.spawn_rate if phase.spawn_rate else 0.0
        return min(spawn, phase.duration)
    return None


def longest_steady(
    phases: Iterable[PhaseRun], duration: float
) -> tuple[PhaseRun, float, float] | None:
    """The phase with the longest steady stretch, and that stretch (cut at the run's end)."""
    best: tuple[PhaseRun, float, float] | None = None
    for phase in phases:
        if phase.steady_from is None:
            continue
        start, end = phase.steady_from, min(phase.ended, duration)
        if end > start and (best is None or end - start > best[2] - best[1]):
            best = (phase, start, end)
    return best


def thirds(rows: Sequence[PeriodRow]) -> tuple[list[PeriodRow], list[PeriodRow]]:
    """The rows whose middle falls in the first third of the time they cover, and in the
    last third."""
    start, end = rows[0].start, rows[-1].start + rows[-1].width
    one_third = (end - start) / 3
    first = [r for r in rows if _middle(r) < start + one_third]
    last = [r for r in rows if _middle(r) >= end - one_third]
    return first, last


def _counted(
    row: PeriodRow,
    start: float,
    end: float,
    last: PeriodRow,
    phase: PhaseRun,
    phases: Sequence[PhaseRun],
) -> bool:
    """Whether a period is the steady stretch's: MIN_OVERLAP of it inside, or the run's
    last period when it starts inside a phase that ends the run (the rest of it is the
    drain: the phase's last requests finishing, no other load)."""
    if _overlap(row, start, end) >= MIN_OVERLAP * row.width:
        return True
    ends_the_run = phase.ended >= max(p.ended for p in phases) - 1e-9
    return row is last and ends_the_run and start <= row.start < end


def _overlap(row: PeriodRow, start: float, end: float) -> float:
    return max(0.0, min(row.start + row.width, end) - max(row.start, start))


def _middle(row: PeriodRow) -> float:
    return row.start + row.width / 2


# A metric's value over some periods: from their metrics merged, and their seconds.
Reader = Callable[[Metrics, float], float | None]


def _readers(rows: Sequence[PeriodRow]) -> list[tuple[str, Reader, Direction]]:
    readers: list[tuple[str, Reader]] = [
        (P95, _p95),
        (ERROR_RATE, _error_rate),
        (RPS, _rps),
        (GENERATOR_RSS, _rss),
    ]
    series = sorted(
        {name for r in rows for name in r.period.metrics.gauges if name.startswith(MONITOR_PREFIX)}
    )
    readers += [(name, _gauge_mean(name)) for name in series]
    return [(name, read, worse_when(name)) for name, read in readers]


def _p95(metrics: Metrics, _seconds: float) -> float | None:
    hist = metrics.histograms.get(RESPONSE_TIME)
    return hist.percentile(0.95) if hist is not None and hist.count else None


def _error_rate(metrics: Metrics, _seconds: float) -> float | None:
    requests = metrics.counters.get(REQUESTS, 0)
    return metrics.counters.get(REQUESTS_FAILED, 0) / requests if requests else None


def _rps(metrics: Metrics, seconds: float) -> float | None:
    return metrics.counters.get(REQUESTS, 0) / seconds if seconds > 0 else None


def _rss(metrics: Metrics, _seconds: float) -> float | None:
    hist: Histogram | None = metrics.histograms.get(RSS_MB)
    return hist.mean if hist is not None and hist.count else None


def _gauge_mean(name: str) -> Reader:
    def read(metrics: Metrics, _seconds: float) -> float | None:
        gauge: Gauge | None = metrics.gauges.get(name)
        return gauge.mean if gauge is not None and gauge.count else None

    return read


def _merged(rows: Sequence[PeriodRow]) -> tuple[Metrics, float]:
    """A third's metrics merged (only those drift reads: a plan's thousands of endpoint
    histograms are left alone) and its seconds."""
    merged = Metrics()
    for row in rows:
        metrics = row.period.metrics
        merged.merge(
            Metrics(
                counters={k: metrics.counters[k] for k in _COUNTERS if k in metrics.counters},
                histograms={
                    k: metrics.histograms[k] for k in _HISTOGRAMS if k in metrics.histograms
                },
                gauges={k: g for k, g in metrics.gauges.items() if k.startswith(MONITOR_PREFIX)},
            )
        )
    return merged, sum(r.width for r in rows)


_COUNTERS = (REQUESTS, REQUESTS_FAILED)
_HISTOGRAMS = (RESPONSE_TIME, RSS_MB)


def _metric_drift(
    name: str,
    read: Reader,
    worse: Direction,
    rows: Sequence[PeriodRow],
    first: tuple[Metrics, float],
    last: tuple[Metrics, float],
    settings: DriftSettings,
) -> MetricDrift | None:
    """One metric's drift; None when a third has no value of it."""
    before, after = read(*first), read(*last)
    if before is None or after is None:
        return None
    points = [
        (_middle(r), v, r.width) for r in rows if (v := read(r.period.metrics, r.width)) is not None
    ]
    slope = least_squares_slope(points) * SECONDS_PER_HOUR
    return MetricDrift(name, before, after, slope, worse, settings.threshold(name))


def least_squares_slope(points: Sequence[tuple[float, float, float]]) -> float:
    """The slope of the weighted least-squares line through (x, y, weight) points; 0
    with fewer than two distinct x."""
    total = sum(w for _, _, w in points)
    if total <= 0 or len(points) < 2:
        return 0.0
    mean_x = sum(x * w for x, _, w in points) / total
    mean_y = sum(y * w for _, y, w in points) / total
    spread = sum(w * (x - mean_x) ** 2 for x, _, w in points)
    if spread <= 0 or not math.isfinite(spread):
        return 0.0
    return sum(w * (x - mean_x) * (y - mean_y) for x, y, w in points) / spread
