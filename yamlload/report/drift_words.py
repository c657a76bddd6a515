"""Drift (issue 22; results/drift.py) as every output says it: the title naming the
steady phase, the table's rows and the flags. The console, HTML and Markdown reports
read these, so they agree to the last digit."""

from __future__ import annotations

from ..results.drift import ERROR_RATE, GENERATOR_RSS, P95, RPS, Drift, MetricDrift
from ..units import format_seconds

HEADERS = ["metric", "first third", "last third", "change", "per hour", "drift"]


def drift_title(drift: Drift) -> str:
    """`Drift over phase 'soak' (12s to 10m 2s, 60 periods)`."""
    span = f"{format_seconds(round(drift.start, 1))} to {format_seconds(round(drift.end, 1))}"
    return f"Drift over phase {drift.phase!r} ({span}, {drift.periods} periods)"


def drift_rows(drift: Drift) -> list[list[str]]:
    """A row per metric: its value over the first and last third, the change with which
    way that is ("-20.0% (worse)": a `drift.…` check's measured value says the same), the
    slope per hour, and `flagged` or `ok` against its threshold."""
    return [
        [
            m.metric,
            _value(m.metric, m.first),
            _value(m.metric, m.last),
            m.change_words(),
            _per_hour(m),
            "flagged" if m.flagged else "ok",
        ]
        for m in drift.metrics
    ]


def drift_flags(drift: Drift) -> list[str]:
    """One line per flagged metric: "p95 grew 45% (+1,620%/h): latency drift"."""
    return [m.words() for m in drift.flagged()]


def _value(metric: str, value: float) -> str:
    if metric == P95:
        return f"{value:,.1f} ms"
    if metric == ERROR_RATE:
        return f"{value:.2%}"
    if metric == RPS:
        return f"{value:,.1f}/s"
    if metric == GENERATOR_RSS:
        return f"{value:,.1f} MB"
    return f"{value:,.4g}"


def _per_hour(metric: MetricDrift) -> str:
    relative = metric.relative_slope
    if relative is not None:
        return f"{relative * 100:+,.1f}%/h"
    if metric.metric == ERROR_RATE:
        return f"{metric.slope_per_hour * 100:+,.2f} pp/h"
    return f"{metric.slope_per_hour:+,.4g}/h"
