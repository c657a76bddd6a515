"""config.monitor's series as the charts group them (issue 17): pure names in, groups
out, shared by the HTML report and the live page. A series `monitor.<source>.<metric>`
is charted with the other series of its source that have its unit, guessed from the
metric's name (`cpu_percent`: %, `memory_mb`: MB; a name without a known suffix is a
plain value), so that a percentage never shares an axis with megabytes."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..metrics.histogram import Gauge
from ..plan.ir import MONITOR_KINDS, MONITOR_PREFIX, PROCESS_METRICS, SCRAPE_ERRORS_SUFFIX
from ..results.summary import Summary
from ..units import NO_VALUE, format_count

# A metric's unit by how its name ends; the first that matches wins.
UNIT_SUFFIXES = (
    ("_percent", "%"),
    ("_per_second", "/s"),
    ("_mb", "MB"),
    ("_bytes", "bytes"),
    ("_ms", "ms"),
    ("_seconds", "s"),
)
# The axis label of a metric with no known unit (connections, threads, a queue).
PLAIN_UNIT = "value"
# From here a value is written with an exponent (bytes of a large disk, a counter).
HUGE_VALUE = 1e15
# Lines in one chart at most: the charts have this many line styles (report/html.py's
# DASHES and s0…s4); a source with more metrics of one unit gets a second chart.
MAX_LINES = 5
# A series' line joins its samples across the points that took none (a source sampled
# every 5 s has no value in 4 seconds of 5), and breaks where two samples are further
# apart than this many times its usual spacing: the source was down, or not answering.
GAP_SPACINGS = 3


@dataclass(frozen=True)
class MonitorChart:
    """One chart: a source's series that share a unit."""

    source: str
    unit: str
    series: tuple[str, ...]  # the gauges' full names, monitor.<source>.<metric>

    @property
    def title(self) -> str:
        unit = "" if self.unit == PLAIN_UNIT else f" ({self.unit})"
        return f"Monitor: {self.source}{unit}"


def split_series(name: str) -> tuple[str, str]:
    """monitor.<source>.<metric> as (source, metric); a source's name has no dot."""
    source, _, metric = name.removeprefix(MONITOR_PREFIX).partition(".")
    return source, metric


def unit_of(metric: str) -> str:
    return next((unit for suffix, unit in UNIT_SUFFIXES if metric.endswith(suffix)), PLAIN_UNIT)


def monitor_charts(names: Iterable[str]) -> list[MonitorChart]:
    """The charts for these gauges (those named monitor.*), by source then unit, in the
    order the names come; none without a monitored series."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name in names:
        if not name.startswith(MONITOR_PREFIX) or name.endswith(SCRAPE_ERRORS_SUFFIX):
            continue
        source, metric = split_series(name)
        groups.setdefault((source, unit_of(metric)), []).append(name)
    return [
        MonitorChart(source, unit, tuple(series[i : i + MAX_LINES]))
        for (source, unit), series in groups.items()
        for i in range(0, len(series), MAX_LINES)
    ]


def joined(points: Iterable[tuple[float, float | None]]) -> list[tuple[float, float | None]]:
    """A series' points for a line: its samples, joined across the points without one,
    and None (a break) where a gap is wider than GAP_SPACINGS of its usual spacing."""
    samples = [(x, v) for x, v in points if v is not None]
    widest = GAP_SPACINGS * _usual_spacing(samples)
    line: list[tuple[float, float | None]] = []
    for x, value in samples:
        if line and x - line[-1][0] > widest:
            line.append(((x + line[-1][0]) / 2, None))
        line.append((x, value))
    return line


def _usual_spacing(samples: Sequence[tuple[float, float]]) -> float:
    """The median time between two samples (one sample late or early moves it little)."""
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(samples)]
    return statistics.median(gaps) if gaps else 0.0


def configured_series(document: object) -> list[str]:
    """Every series the plan's config.monitor asks for, monitor.<source>.<metric>, read
    from the report's plan document (so a re-read report knows them too)."""
    config = document.get("config") if isinstance(document, dict) else None
    sources = config.get("monitor") if isinstance(config, dict) else None
    found: list[str] = []
    for spec in sources if isinstance(sources, list) else []:
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            continue
        kind = next((k for k in MONITOR_KINDS if k in spec), None)
        if kind == "prometheus":
            metrics = spec.get("metrics")
            names = [str(m) for m in metrics] if isinstance(metrics, dict) else []
        elif kind is not None:
            names = list(PROCESS_METRICS)
        else:
            names = []
        found += [f"{MONITOR_PREFIX}{spec['name']}.{metric}" for metric in names]
    return found


def monitor_rows(summary: Summary) -> list[tuple[str, Gauge | None]]:
    """Each monitored series of the run by name, sampled or only configured (None: it
    had no value all run, a typo'd selector or a source never reached), sorted."""
    gauges = summary.aggregate.gauges
    names = {n for n, g in gauges.items() if n.startswith(MONITOR_PREFIX) and g.count}
    names |= set(configured_series(summary.document))
    return [(name, gauges.get(name)) for name in sorted(names)]


def monitored_sources(summary: Summary) -> list[str]:
    """Every source the run monitored or failed to: configured, sampled or counted."""
    names = {split_series(name)[0] for name, _ in monitor_rows(summary)}
    names |= set(scrape_errors(summary.aggregate.counters))
    return sorted(names)


def scrape_errors(counters: Mapping[str, int]) -> dict[str, int]:
    """Each source's failed samples, for the sources that failed any."""
    return {
        name.removeprefix(MONITOR_PREFIX).removesuffix(SCRAPE_ERRORS_SUFFIX): n
        for name, n in sorted(counters.items())
        if name.startswith(MONITOR_PREFIX) and name.endswith(SCRAPE_ERRORS_SUFFIX) and n
    }


def gauge_cells(gauge: Gauge | None) -> list[str]:
    """A series' min, mean, max, last and sample count as table cells; NO_VALUE for a
    series never sampled."""
    if gauge is None or not gauge.count:
        return [NO_VALUE] * 4 + ["0"]
    values = (gauge.min, gauge.mean, gauge.max, gauge.last)
    return [*(gauge_text(v) for v in values), format_count(gauge.count)]


def gauge_text(value: float) -> str:
    """A monitored value: one decimal (CPU %, MB, a rate), a small or a huge one to 3
    digits (1.23e+18, not nineteen of them)."""
    if value == 0 or 0.1 <= abs(value) < HUGE_VALUE:
        return f"{value:,.1f}"
    return f"{value:.3g}"
