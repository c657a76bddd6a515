"""A self-contained HTML report: one file, no network, charts drawn here as inline SVG.

Readable without colour (every series has its own dash or pattern and a text label),
printable, and usable in a narrow window. The only script sorts the endpoint table.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..metrics.histogram import Histogram
from ..metrics.names import (
    ARRIVAL_LAG,
    ERRORS,
    EXPECT_FAILED,
    EXPECT_PREFIX,
    REQUESTS,
    RESPONSE_TIME,
    USERS_CREATED,
    WS_HISTOGRAMS,
    WS_MESSAGES_RECEIVED,
    WS_MESSAGES_SENT,
)
from ..metrics.periods import PERIOD_SECONDS
from ..plan.ir import MONITOR_PREFIX, SCRAPE_ERRORS_SUFFIX
from ..results.summary import Summary
from ..results.views import PeriodRow
from ..units import NO_VALUE, counted, format_count, format_millis, format_seconds
from .capacity import WHOLE_SEARCH, WHOLE_SEARCH_TITLE
from .drift_words import HEADERS as DRIFT_HEADERS
from .drift_words import drift_flags, drift_rows, drift_title
from .grade_words import rows as grade_rows
from .grade_words import value_text
from .monitored import (
    gauge_cells,
    joined,
    monitor_charts,
    monitor_rows,
    scrape_errors,
    split_series,
)
from .verdict_words import (
    Judged,
    expectations_words,
    failure_words,
    is_threshold,
    passed_words,
)

WIDTH, HEIGHT = 800, 250
LEFT, RIGHT, TOP, BOTTOM = 60, 60, 30, 40
DASHES = ("", "7 4", "2 3", "10 3 2 3", "4 2 1 2")
# At most this many labels on an x axis of ticks (a trend of many runs labels some:
# a date, time and revision take about a sixth of a chart's width).
MAX_TICKS = 6
# A band shorter than this (px) shows its name on hover only.
BAND_LABEL_PX = 14
# The counters of failed `expect` checks, one per kind (plugins.expect.failed.statusCode).
EXPECT_FAILED_PREFIX = EXPECT_FAILED + "."
# Percentiles drawn on the distribution curve (x is log-scaled by 1/(1-p)).
CURVE_POINTS = (0.0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999)


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


# --------------------------------------------------------------------------- charts


@dataclass
class Series:
    label: str
    points: list[tuple[float, float | None]]
    axis: str = "left"
    dots: bool = True  # False: a guide (an SLO's line, a knee), its ends no points to hover


@dataclass(frozen=True)
class Band:
    """A stripe across a chart from `low` to `high` on its left axis: a grade's range of
    values on the trend page. `name` is its class (`band-<name>`) and its label."""

    name: str
    low: float
    high: float
    title: str


@dataclass(frozen=True)
class Tick:
    """A labelled place on a chart's x axis other than a time: a run on the trend page,
    labelled by its lines (date, revision)."""

    x: float
    lines: tuple[str, ...]


def _nice_max(value: float) -> float:
    if value <= 0 or not math.isfinite(value):
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * magnitude:
            return step * magnitude
    return 10.0 * magnitude


def _ticks(top: float, count: int = 5) -> list[float]:
    return [top * i / count for i in range(count + 1)]


def _fmt(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


class _Plot:
    """Coordinates of one chart: seconds on x, values on one or two y axes."""

    def __init__(self, x_max: float, y_max: float, y2_max: float | None = None) -> None:
        self.x_max = max(x_max, 1.0)
        self.y_max = _nice_max(y_max)
        self.y2_max = _nice_max(y2_max) if y2_max is not None else None
        self.inner_w = WIDTH - LEFT - RIGHT
        self.inner_h = HEIGHT - TOP - BOTTOM

    def x(self, seconds: float) -> float:
        return LEFT + self.inner_w * seconds / self.x_max

    def y(self, value: float, axis: str = "left") -> float:
        top = self.y2_max if axis == "right" and self.y2_max else self.y_max
        return TOP + self.inner_h * (1 - min(value, top) / top)

    def frame(
        self,
        unit: str,
        unit2: str | None,
        phases: Sequence[Any],
        ticks: Sequence[Tick] | None = None,
        bands: Sequence[Band] = (),
    ) -> list[str]:
        parts = [
            f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{self.inner_w}" height="{self.inner_h}"/>',
            *self._bands(bands),
        ]
        for index, phase in enumerate(phases):
            x0, x1 = self.x(phase.started), self.x(min(phase.ended, self.x_max))
            if x1 - x0 < 1:
                continue
            shade = "phase-a" if index % 2 == 0 else "phase-b"
            parts.append(
                f'<rect class="{shade}" x="{x0:.1f}" y="{TOP}" width="{x1 - x0:.1f}" height="{self.inner_h}"><title>{esc(phase.name)}</title></rect>'
            )
            parts.append(
                f'<text class="phase-name" x="{x0 + 4:.1f}" y="{TOP + 12}">{esc(phase.name)}</text>'
            )
        for tick in _ticks(self.y_max):
            y = self.y(tick)
            parts.append(
                f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            )
            parts.append(
                f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>'
            )
        if self.y2_max:
            for tick in _ticks(self.y2_max):
                y = self.y(tick, "right")
                parts.append(
                    f'<text class="tick" x="{WIDTH - RIGHT + 6}" y="{y + 4:.1f}">{_fmt(tick)}</text>'
                )
        parts += self._seconds() if ticks is None else self._ticks(ticks)
        parts.append(f'<text class="unit" x="{LEFT - 50}" y="{TOP - 10}">{esc(unit)}</text>')
        if unit2:
            parts.append(
                f'<text class="unit" x="{WIDTH - RIGHT + 6}" y="{TOP - 10}">{esc(unit2)}</text>'
            )
        return parts

    def _seconds(self) -> list[str]:
        parts = []
        step = _nice_max(self.x_max / 6)
        t = 0.0
        while t <= self.x_max + 1e-9:
            x = self.x(t)
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{esc(format_seconds(t))}</text>'
            )
            t += step
        return parts

    def _ticks(self, ticks: Sequence[Tick]) -> list[str]:
        """A label per tick, each line under the last; past MAX_TICKS, every so many of
        them, counted back from the last (a trend's newest run is always labelled)."""
        step = math.ceil(len(ticks) / MAX_TICKS)
        parts = []
        for tick in list(ticks)[::-1][::step]:
            lines = "".join(
                f'<tspan x="{self.x(tick.x):.1f}" dy="{0 if i == 0 else 12}">{esc(line)}</tspan>'
                for i, line in enumerate(tick.lines)
            )
            parts.append(
                f'<text class="tick" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{lines}</text>'
            )
        return parts

    def _bands(self, bands: Sequence[Band]) -> list[str]:
        """Each band's part inside the chart, its name at its right when it is tall
        enough to read (its title says it on hover either way)."""
        parts = []
        for band in bands:
            low, high = max(band.low, 0.0), min(band.high, self.y_max)
            if high <= low:
                continue  # off the chart
            y_top, y_bottom = self.y(high), self.y(low)
            parts.append(
                f'<rect class="band band-{esc(band.name.lower())}" data-grade="{esc(band.name)}" x="{LEFT}" y="{y_top:.1f}" width="{self.inner_w}" height="{y_bottom - y_top:.1f}"><title>{esc(band.title)}</title></rect>'
            )
            if y_bottom - y_top >= BAND_LABEL_PX:
                parts.append(
                    f'<text class="band-name" x="{WIDTH - RIGHT - 6}" y="{y_top + 12:.1f}" text-anchor="end">{esc(band.name)}</text>'
                )
        return parts


def line_chart(
    title: str,
    series: list[Series],
    x_max: float,
    phases: Sequence[Any],
    unit: str,
    unit2: str | None = None,
    dots: bool = True,
    *,
    ticks: Sequence[Tick] | None = None,
    bands: Sequence[Band] = (),
    x_label: Callable[[float], str] | None = None,
    y_label: Callable[[float], str] | None = None,
) -> str:
    """Lines over time; `dots` marks each point too, with its value on hover (the live
    page leaves them out once its charts are dense, to keep its frames small). `ticks`
    label the x axis instead of seconds (the trend page's runs); `bands` are shaded
    behind the lines; `x_label` says a point's x on hover when it is not a time (the
    capacity curve's offered rate); `y_label` a value on hover, as a table shows it."""
    left = [v for s in series if s.axis == "left" for _, v in s.points if v is not None]
    right = [v for s in series if s.axis == "right" for _, v in s.points if v is not None]
    plot = _Plot(x_max, max(left, default=1.0), max(right, default=1.0) if unit2 else None)
    parts = plot.frame(unit, unit2, phases, ticks, bands)
    where = {tick.x: " ".join(tick.lines) for tick in ticks or ()}
    say_x = x_label or (lambda x: where.get(x) or format_seconds(x))
    say_y = y_label or _fmt
    legend = []
    for index, s in enumerate(series):
        dash = DASHES[index % len(DASHES)]
        path = _path(plot, s)
        if path:
            parts.append(
                f'<path class="line s{index}" d="{path}" stroke-dasharray="{dash}"><title>{esc(s.label)}</title></path>'
            )
        for x, v in s.points if dots and s.dots else ():
            if v is not None:
                parts.append(
                    f'<circle class="dot s{index}" cx="{plot.x(x):.1f}" cy="{plot.y(v, s.axis):.1f}" r="2.5"><title>{esc(s.label)} at {esc(say_x(x))}: {esc(say_y(v))}</title></circle>'
                )
        sample = f'<svg width="28" height="10" aria-hidden="true"><line class="line s{index}" x1="0" y1="5" x2="28" y2="5" stroke-dasharray="{dash}"/></svg>'
        axis = f" ({unit2}, right axis)" if s.axis == "right" and unit2 else ""
        legend.append(f"<li>{sample} {esc(s.label)}{esc(axis)}</li>")
    return _figure(title, parts, legend)


def _path(plot: _Plot, series: Series) -> str:
    commands: list[str] = []
    pen_down = False
    for x, v in series.points:
        if v is None:
            pen_down = False
            continue
        commands.append(f"{'L' if pen_down else 'M'}{plot.x(x):.1f},{plot.y(v, series.axis):.1f}")
        pen_down = True
    return " ".join(commands)


def stacked_bars(
    title: str,
    periods: list[tuple[float, float, dict[str, int]]],
    x_max: float,
    phases: Sequence[Any],
    unit: str,
    per: float = PERIOD_SECONDS,
) -> str:
    """One bar per (start, span seconds, counts). A bar's height is its counts per `per`
    seconds (10: a period), so a rolled-up minute or ten of a long run stands as high as
    its 10-second periods (and the live page's bars, per 1 s, as high as its seconds)."""
    categories = sorted({c for _, _, counts in periods for c in counts}, key=_by_meaning)
    styles = _styles(categories)
    scaled = [
        (start, span, {c: n * per / span for c, n in counts.items()}, counts)
        for start, span, counts in periods
    ]
    plot = _Plot(x_max, max((sum(h.values()) for _, _, h, _ in scaled), default=1) or 1)
    parts = plot.frame(unit, None, phases)
    for start, span, heights, counts in scaled:
        # the last period may be partial: its bar ends where the run ended
        width = max(plot.x(min(start + span, plot.x_max)) - plot.x(start) - 2, 1)
        base = 0.0
        for category in categories:
            n = counts.get(category, 0)
            if not n:
                continue
            height = heights[category]
            y_top, y_bottom = plot.y(base + height), plot.y(base)
            parts.append(
                f'<rect class="bar c{styles[category][0]}" x="{plot.x(start) + 1:.1f}" y="{y_top:.1f}" width="{width:.1f}" height="{max(y_bottom - y_top, 0.5):.1f}" fill="url(#pattern{styles[category][0]})" opacity="{styles[category][1]}">'
                f"<title>{esc(category)}: {n} at {esc(format_seconds(start))}</title></rect>"
            )
            base += height
    legend = [
        f'<li><svg width="16" height="12" aria-hidden="true"><rect class="bar c{styles[c][0]}" width="16" height="12" fill="url(#pattern{styles[c][0]})" opacity="{styles[c][1]}"/></svg> {esc(c)}: {sum(counts.get(c, 0) for _, _, counts in periods):,}</li>'
        for c in categories
    ]
    return _figure(title, parts, legend)


# A bar's colour and pattern (c0…c5, see _PATTERNS) by what it means, so that a run of
# failures never shows green: 2xx green, 3xx blue, 4xx amber, 5xx red, errors purple.
_STYLE_BY_CLASS = {"2": 0, "3": 4, "4": 2, "5": 1}
_ERROR_STYLE, _OTHER_STYLE = 3, 5
# The second and later codes of one class are fainter shades of its colour.
_SHADES = ("1", "0.65", "0.45", "0.3")


def _style_of(category: str) -> int:
    if category.startswith("error"):
        return _ERROR_STYLE
    code = category.removeprefix("HTTP ").strip()
    return _STYLE_BY_CLASS.get(code[:1], _OTHER_STYLE) if code.isdigit() else _OTHER_STYLE


def _by_meaning(category: str) -> tuple[int, str]:
    """Successes at the bottom of a bar, then redirects, client and server errors, and
    requests with no response on top."""
    order = {0: 0, 4: 1, 2: 2, 1: 3, 5: 4, 3: 5}
    return order[_style_of(category)], category


def _styles(categories: list[str]) -> dict[str, tuple[int, str]]:
    styles, seen = {}, dict.fromkeys(range(6), 0)
    for category in categories:
        style = _style_of(category)
        styles[category] = (style, _SHADES[min(seen[style], len(_SHADES) - 1)])
        seen[style] += 1
    return styles


def percentile_curve(hist: Histogram) -> str:
    if hist.count == 0:
        return ""
    points = [(q, hist.percentile(q) if q > 0 else hist.min) for q in CURVE_POINTS]
    x_of = [math.log10(1 / (1 - q)) if q < 1 else 4.0 for q, _ in points]
    y_max = _nice_max(max(v for _, v in points))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{inner_w}" height="{inner_h}"/>']
    for tick in _ticks(y_max):
        y = TOP + inner_h * (1 - tick / y_max)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/><text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>'
        )
    coords = [
        (LEFT + inner_w * x / 4.0, TOP + inner_h * (1 - v / y_max))
        for x, (_, v) in zip(x_of, points, strict=True)
    ]
    parts.append(
        '<path class="line s0" d="'
        + " ".join(f"{'L' if i else 'M'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(coords))
        + '"/>'
    )
    for (q, v), (x, y) in zip(points, coords, strict=True):
        label = f"p{q * 100:g}" if q else "min"
        parts.append(
            f'<circle class="dot s0" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{label}: {_fmt(v)} ms</title></circle>'
        )
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{label}</text>'
        )
    parts.append(f'<text class="unit" x="{LEFT - 50}" y="{TOP - 10}">ms</text>')
    return _figure(
        "Latency distribution (percentiles of http.response_time)",
        parts,
        ["<li>each point: the latency that this share of requests did not exceed</li>"],
    )


def _figure(title: str, parts: list[str], legend: list[str]) -> str:
    svg = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc(title)}">'
        + "".join(parts)
        + "</svg>"
    )
    return f'<figure><figcaption>{esc(title)}</figcaption>{svg}<ul class="legend">{"".join(legend)}</ul></figure>'


# --------------------------------------------------------------------------- page


# Past this many points a chart draws lines only.
MAX_DOTS = 90
# The monitor table's columns (config.monitor's series over the run).
MONITOR_COLUMNS = ("series", "min", "mean", "max", "last", "samples")
SERIES = ("rps", "users", "p50", "p95", "p99", "max", "lag99", "lagmax", "cpu", "rss")


def _period_series(summary: Summary) -> dict[str, list[tuple[float, float | None]]]:
    """Each chart's points: one per second for a run short enough to have them (a row
    per second), else one per period, at its middle; None where it had no samples."""
    if summary.seconds:
        return _second_series(summary)
    series: dict[str, list[tuple[float, float | None]]] = {k: [] for k in SERIES}
    for row in summary.period_rows():
        x = row.start + row.width / 2
        latency, lag = row.latency, row.lag
        series["rps"].append((x, row.request_rate))
        series["users"].append((x, row.active_users))
        for key, value in (
            ("p50", latency.p50),
            ("p95", latency.p95),
            ("p99", latency.p99),
            ("max", latency.max),
        ):
            series[key].append((x, value if latency.count else None))
        series["lag99"].append((x, lag.p99 if lag.count else None))
        series["lagmax"].append((x, lag.max if lag.count else None))
        series["cpu"].append((x, row.cpu_percent))
        series["rss"].append((x, row.rss_mb))
    return series


def _second_series(summary: Summary) -> dict[str, list[tuple[float, float | None]]]:
    series: dict[str, list[tuple[float, float | None]]] = {k: [] for k in SERIES}
    for row in summary.seconds:
        x, width = row.at - row.width / 2, max(row.width, 1e-3)
        values = {
            "rps": row.requests / width,
            "users": row.users,
            "p50": row.p50,
            "p95": row.p95,
            "p99": row.p99,
            "max": row.max,
            "lag99": row.lag_p99,
            "lagmax": row.lag_max,
            "cpu": row.cpu_ms / (width * 1000) * 100,
            "rss": row.rss_mb,
        }
        for key, value in values.items():
            series[key].append((x, value))
    return series


def _websocket_chart(summary: Summary, x_max: float, dots: bool) -> list[str]:
    """WebSocket messages sent and read per second, a point per period (at its middle);
    nothing for a run without ws scenarios."""
    if not summary.websocket_rows():
        return []
    sent: list[tuple[float, float | None]] = []
    received: list[tuple[float, float | None]] = []
    for row in summary.period_rows():
        x, width = row.start + row.width / 2, max(row.width, 1e-3)
        counters = row.period.metrics.counters
        sent.append((x, counters.get(WS_MESSAGES_SENT, 0) / width))
        received.append((x, counters.get(WS_MESSAGES_RECEIVED, 0) / width))
    return [
        line_chart(
            "WebSocket messages over time (websocket.send_rate, receive_rate)",
            [Series("sent / s", sent), Series("received / s", received)],
            x_max,
            summary.phases,
            "msg/s",
            dots=dots and len(sent) <= MAX_DOTS,
        )
    ]


def _generator_chart(
    series: dict[str, list[tuple[float, float | None]]], x_max: float, phases: Any, dots: bool
) -> str:
    """The generator's own CPU and, where the platform tells it, its memory (right axis)."""
    lines = [Series("CPU % of one core", series["cpu"])]
    unit2 = None
    if any(value is not None for _, value in series["rss"]):
        lines.append(Series("resident memory (MB, right axis)", series["rss"], "right"))
        unit2 = "MB"
    return line_chart("Generator CPU and memory", lines, x_max, phases, "%", unit2, dots=dots)


def _codes_and_errors(summary: Summary) -> list[tuple[float, float, dict[str, int]]]:
    """Each period's bar: its start, its nominal seconds and its counts by label."""
    return [
        (
            row.start,
            row.span * PERIOD_SECONDS,
            {
                **{f"HTTP {code}": n for code, n in row.codes.items()},
                **{f"error {error}": n for error, n in row.errors.items()},
            },
        )
        for row in summary.period_rows()
    ]


def millis(value: float | None, count: int = 1) -> str:
    """A latency tile: "—" when nothing was measured (no response), never "0.0 ms"."""
    return f"{value:.1f} ms" if value is not None and count else NO_VALUE


def _tiles(summary: Summary) -> str:
    latency = summary.stats(RESPONSE_TIME)
    tiles = [
        ("requests", f"{summary.counter(REQUESTS):,}"),
        ("requests / s", f"{summary.request_rate:.1f}"),
        ("error rate", f"{summary.error_rate * 100:.2f}%"),
        ("p50", millis(latency.p50, latency.count)),
        ("p95", millis(latency.p95, latency.count)),
        ("p99", millis(latency.p99, latency.count)),
        ("users", f"{summary.counter(USERS_CREATED):,}"),
    ]
    return (
        '<dl class="tiles">'
        + "".join(
            f'<div><dt>{esc(k)}</dt><dd data-metric="{esc(k)}">{esc(v)}</dd></div>'
            for k, v in tiles
        )
        + "</dl>"
    )


def _verdict(summary: Summary) -> str:
    checks = summary.verdict.get("checks", [])
    validity = summary.verdict.get("validity", {"valid": True, "reasons": []})
    judged = [Judged(str(c.get("check")), str(c.get("result")), _value(c)) for c in checks]
    failures = failure_words(judged)
    if summary.checkpoint:  # never judged: the run was still going when it was written
        banner = ("invalid", "Partial: a checkpoint of a run that was still going")
    elif not validity.get("valid", True):
        banner = ("invalid", "Invalid run: " + "; ".join(validity.get("reasons", [])))
    elif failures:
        banner = ("fail", f"Failed: {failures}")
    elif checks:
        banner = ("pass", f"Passed: {passed_words(judged)}")
    elif summary.stopped_by:
        banner = ("none", f"Stopped by {summary.stopped_by} (no thresholds were set)")
    else:
        banner = ("none", "Completed (no thresholds were set)")
    thresholds = [c for c in checks if is_threshold(str(c.get("check")))]
    rows = "".join(
        f'<tr class="{esc(c.get("result"))}"><td><code>{esc(c.get("check"))}</code></td><td>{esc(_fmt_check_value(c))}</td><td>{esc(c.get("limit"))}</td><td><strong>{esc(c.get("result"))}</strong></td></tr>'
        for c in thresholds
    )
    table = (
        f"<h2>Thresholds</h2><table><thead><tr><th>check</th><th>measured</th><th>limit</th><th>result</th></tr></thead><tbody>{rows}</tbody></table>"
        if thresholds
        else ""
    )
    expectations = expectations_words(judged)
    if expectations is not None:  # its counts are under Expect results
        table += f'<p class="expectations">Expectations: <strong>{esc(expectations)}</strong></p>'

    return f'<section aria-label="verdict"><p class="verdict {banner[0]}">{esc(banner[1])}</p>{table}</section>'


def _grades(summary: Summary) -> str:
    """The badge (the overall grade), the readiness line and the table of graded
    metrics with their bands; nothing for a report without grades (issue 18)."""
    grading = summary.grade
    if grading is None:
        return ""
    body = "".join(
        f'<tr class="grade-{esc(graded.grade)}"><td><code>{esc(graded.key)}</code></td>'
        f"<td>{esc(value_text(grading, graded))}</td>"
        f'<td><strong class="grade">{esc(graded.grade)}</strong></td>'
        + "".join(f"<td>{esc(text)}</td>" for text in bands)
        + "</tr>"
        for graded, bands in grade_rows(grading)
    )
    verdict = grading.verdict.replace(" ", "-")
    return (
        '<section aria-label="grade" class="grades">'
        f'<p class="badge grade-{esc(grading.overall)}" data-grade="{esc(grading.overall)}">'
        f'<span class="letter">{esc(grading.overall)}</span><span class="words">'
        f"<strong>Grade {esc(grading.overall)}</strong>"
        f'<span class="readiness {esc(verdict)}">{esc(grading.verdict)}: {esc(grading.rule)}</span>'
        "</span></p>"
        "<table><thead><tr><th>graded</th><th>value</th><th>grade</th>"
        "<th>A</th><th>B</th><th>C</th><th>D</th></tr></thead>"
        f"<tbody>{body}</tbody></table></section>"
    )


def _fmt_check_value(check: dict[str, Any]) -> str:
    if "measured" in check:
        return str(check["measured"])
    value = check.get("value")
    if value is None:
        return NO_VALUE
    return format_count(value) if float(value).is_integer() else f"{value:,.4g}"


def _value(check: dict[str, Any]) -> float | None:
    value = check.get("value")
    return float(value) if isinstance(value, int | float) else None


def _websocket(summary: Summary) -> str:
    """The WebSocket counters, rates and latencies (issue 19); nothing without ws."""
    rows = summary.websocket_rows()
    if not rows:
        return ""
    body = "".join(f"<tr><td>{esc(name)}</td><td>{esc(value)}</td></tr>" for name, value in rows)
    for name in WS_HISTOGRAMS:
        stats = summary.stats(name)
        if stats.count:
            shown = " / ".join(
                format_millis(v, stats.count) for v in (stats.p50, stats.p95, stats.p99)
            )
            body += f"<tr><td>{esc(name)} p50 / p95 / p99 ms</td><td>{esc(shown)}</td></tr>"
    return f"<section><h2>WebSocket</h2><table><thead><tr><th>metric</th><th>value</th></tr></thead><tbody>{body}</tbody></table></section>"


def _expect_results(summary: Summary) -> str:
    """The `expect` plugin's counts (`ok.statusCode`, `failed.hasProperty`...), as the
    console and the Markdown summary show them under the same heading."""
    counts = summary.counters_with(EXPECT_PREFIX)
    if not counts:
        return ""
    body = "".join(
        f"<tr><td>{esc(name)}</td><td>{format_count(n)}</td></tr>" for name, n in counts.items()
    )
    return f"<section><h2>Expect results</h2><table><thead><tr><th>check</th><th>count</th></tr></thead><tbody>{body}</tbody></table></section>"


def _endpoint_table(summary: Summary) -> str:
    headers = ["endpoint", "requests", "req/s", "failed %", "p50 ms", "p95 ms", "p99 ms", "max ms"]
    body = []
    for e in summary.endpoints():
        stats = e.stats  # an endpoint with no response has no latency: "—", not 0.0
        lat = (stats.p50, stats.p95, stats.p99, stats.max) if stats.count else (-1, -1, -1, -1)
        cells: list[tuple[object, str]] = [
            (e.name, e.name),
            (e.requests, f"{e.requests:,}"),
            (e.request_rate, f"{e.request_rate:.1f}"),
            (e.error_rate * 100, f"{e.error_rate * 100:.1f}"),
            *((v, f"{v:.1f}" if stats.count else NO_VALUE) for v in lat),
        ]
        body.append(
            "<tr>" + "".join(f'<td data-value="{esc(v)}">{esc(t)}</td>' for v, t in cells) + "</tr>"
        )
    head = "".join(
        f'<th scope="col" aria-sort="none"><button type="button">{esc(h)}</button></th>'
        for h in headers
    )
    return f'<div class="scroll"><table class="sortable" id="endpoints"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _errors_table(summary: Summary) -> str:
    rows = [
        (f"error {name}", count, _first_seen(summary, ERRORS + name))
        for name, count in summary.counters_with(ERRORS).items()
    ]
    rows += [
        (f"expect {kind} failed", count, _first_seen(summary, EXPECT_FAILED_PREFIX + kind))
        for kind, count in summary.counters_with(EXPECT_FAILED_PREFIX).items()
    ]
    if not rows:
        return "<p>No errors and no failed expectations.</p>"
    body = "".join(f"<tr><td>{esc(n)}</td><td>{c:,}</td><td>{esc(t)}</td></tr>" for n, c, t in rows)
    return f"<table><thead><tr><th>error</th><th>count</th><th>first seen</th></tr></thead><tbody>{body}</tbody></table>"


def _first_seen(summary: Summary, counter: str) -> str:
    """When the first period that counted `counter` began, or "—"."""
    first = next((p.start for p in summary.periods if p.metrics.counters.get(counter)), None)
    return format_seconds(first) if first is not None else NO_VALUE


def _monitor_charts(summary: Summary, x_max: float, dots: bool) -> list[str]:
    """config.monitor's charts: a line per series through each second's samples (a run
    with a row per second) or each period's mean, on the latency chart's time axis and
    phase bands; none without a monitored series."""
    return [
        line_chart(
            chart.title,
            [Series(split_series(name)[1], _gauge_line(summary, name)) for name in chart.series],
            x_max,
            summary.phases,
            chart.unit,
            dots=dots,
        )
        for chart in monitor_charts(sorted(summary.aggregate.gauges))
    ]


def _gauge_line(summary: Summary, name: str) -> list[tuple[float, float | None]]:
    """A series' mean in each second (or period) it was sampled, at its middle."""
    if summary.seconds:
        return joined((row.at - row.width / 2, row.gauges.get(name)) for row in summary.seconds)
    return joined(_period_means(summary.period_rows(), name))


def _period_means(rows: Sequence[PeriodRow], name: str) -> list[tuple[float, float | None]]:
    points: list[tuple[float, float | None]] = []
    for row in rows:
        gauge = row.period.metrics.gauges.get(name)
        points.append((row.start + row.width / 2, gauge.mean if gauge and gauge.count else None))
    return points


def _monitor_section(summary: Summary) -> str:
    """Each monitored series' min, mean, max and last over the run, and each source's
    failed samples; empty without monitoring."""
    rows = "".join(
        f"<tr><td>{esc(name.removeprefix(MONITOR_PREFIX))}</td>"
        + "".join(f"<td>{esc(cell)}</td>" for cell in gauge_cells(gauge))
        + "</tr>"
        for name, gauge in monitor_rows(summary)
    )
    failed = "".join(
        f"<p>{esc(source)}: {esc(counted(n, 'failed sample'))} "
        f"({esc(MONITOR_PREFIX + source + SCRAPE_ERRORS_SUFFIX)})</p>"
        for source, n in scrape_errors(summary.aggregate.counters).items()
    )
    if not rows and not failed:
        return ""
    head = "".join(f"<th>{h}</th>" for h in MONITOR_COLUMNS)
    table = f'<table id="monitor"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    return f"<section><h2>Monitor</h2>{table if rows else ''}{failed}</section>"


def _drift_section(summary: Summary) -> str:
    """The drift table over the longest steady phase and its flags (results/drift.py);
    empty when the run had no steady phase long enough."""
    drift = summary.drift()
    if not drift.metrics:
        return ""
    head = "".join(f"<th>{esc(h)}</th>" for h in DRIFT_HEADERS)
    rows = "".join(
        f'<tr class="drift-{esc(cells[-1])}">'
        + "".join(f"<td>{esc(c)}</td>" for c in cells)
        + "</tr>"
        for cells in drift_rows(drift)
    )
    flags = "".join(f'<p class="verdict invalid">{esc(flag)}</p>' for flag in drift_flags(drift))
    table = f'<table id="drift"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    return f"<section><h2>{esc(drift_title(drift))}</h2>{flags}{table}</section>"


def _health(summary: Summary) -> str:
    lag = summary.stats(ARRIVAL_LAG)
    cpu = summary.cpu_percent
    rss = summary.peak_rss_mb
    shards = summary.workers
    rows = [
        ("workers", str(len(shards) or 1)),
        ("CPU", NO_VALUE if cpu is None else f"{cpu:.0f}% of one core on average"),
        ("memory (peak RSS)", NO_VALUE if rss is None else f"{rss:.0f} MB"),
        (
            "arrival lag p50 / p99 / max",
            f"{lag.p50:.1f} / {lag.p99:.1f} / {lag.max:.1f} ms",
        ),
        ("yamlload", summary.version),
    ]
    warning = summary.lag_warning()
    note = f'<p class="verdict invalid">{esc(warning)}</p>' if warning else ""
    table = (
        "<table><tbody>"
        + "".join(f'<tr><th scope="row">{esc(k)}</th><td>{esc(v)}</td></tr>' for k, v in rows)
        + "</tbody></table>"
    )
    if shards:
        body = "".join(
            f"<tr><td>{esc(w.get('segment', '?'))}</td><td>{esc(w.get('users', NO_VALUE))}</td><td>{esc(w.get('lag_p99_ms', NO_VALUE))}</td>"
            f"<td>{esc(w.get('cpu_percent', NO_VALUE))}</td><td>{esc(w.get('rss_mb', NO_VALUE))}</td><td>{esc(w.get('lost', ''))}</td></tr>"
            for w in shards
        )
        table += f'<table id="workers"><thead><tr><th>segment</th><th>users</th><th>lag p99 ms</th><th>CPU %</th><th>RSS MB</th><th>lost</th></tr></thead><tbody>{body}</tbody></table>'
    return note + table


def render_html(summary: Summary) -> str:
    """The whole report for one run, as one HTML document."""
    series = _period_series(summary)
    x_max = max(summary.duration, PERIOD_SECONDS)
    # A dot per point (its value on hover) while they are few; a minute of seconds
    # would be a page of dots.
    dots = len(series["rps"]) <= MAX_DOTS
    phases = summary.phases
    charts = [
        line_chart(
            "Request rate and active users",
            [
                Series("requests / s", series["rps"]),
                Series("active users (mean)", series["users"], "right"),
            ],
            x_max,
            phases,
            "req/s",
            "users",
            dots,
        ),
        line_chart(
            "Latency over time (http.response_time)",
            [Series(k, series[k]) for k in ("p50", "p95", "p99", "max")],
            x_max,
            phases,
            "ms",
            dots=dots,
        ),
        *_websocket_chart(summary, x_max, dots),
        *_monitor_charts(summary, x_max, dots),
        stacked_bars(
            "Status codes and errors per 10 s",
            _codes_and_errors(summary),
            x_max,
            phases,
            "responses",
        ),
        line_chart(
            "Arrival lag (how late users started)",
            [Series("p99", series["lag99"]), Series("max", series["lagmax"])],
            x_max,
            phases,
            "ms",
            dots=dots,
        ),
        _generator_chart(series, x_max, phases, dots),
    ]
    stopped = f", stopped by {summary.stopped_by}" if summary.stopped_by else ""
    plan_text = (
        json.dumps(summary.document, indent=2, ensure_ascii=False, default=str)
        if summary.document is not None
        else "(not recorded)"
    )
    body = f"""
<header>
  <h1>yamlload report</h1>
  <p class="meta"><strong>{esc(summary.source)}</strong> → {esc(summary.target)}{" · environment " + esc(summary.environment) if summary.environment else ""}<br>
  started {esc(summary.started_at)} · {esc(_ran(summary))}{esc(stopped)}{" · " + esc(summary.transport) + " transport" if summary.transport else ""}{" · revision " + esc(summary.revision) if summary.revision else ""}</p>
</header>
{_grades(summary)}
{_verdict(summary)}
{_capacity(summary)}
{_whole_search(summary)}
<section aria-label="key numbers">{_tiles(summary)}</section>
<section><h2>Over time</h2>{"".join(charts)}</section>
{_monitor_section(summary)}
{_drift_section(summary)}
<section><h2>Latency distribution</h2>{percentile_curve(summary.histogram(RESPONSE_TIME)) or "<p>No response: no latency to show.</p>"}</section>
<section><h2>Endpoints</h2><p class="hint">Click a column to sort.</p>{_endpoint_table(summary)}</section>
<section><h2>Errors and failed expectations</h2>{_errors_table(summary)}</section>
{_websocket(summary)}
{_expect_results(summary)}
<section><h2>Generator health</h2>{_health(summary)}</section>
<section><details><summary>The plan as it ran</summary><pre>{esc(plan_text)}</pre></details></section>
"""
    return _page(f"yamlload: {summary.source}", body)


def _ran(summary: Summary) -> str:
    """How long the run took. A capacity search's runs are joined on whole periods and
    leave out its cool-downs: its own wall clock, or (a report before it was kept) how
    long its steps measured, said so."""
    found = summary.capacity
    if found is None:
        return f"ran {format_seconds(round(summary.duration, 1))}"
    if found.elapsed_seconds is not None:
        return f"ran {format_seconds(round(found.elapsed_seconds, 1))}"
    measured = sum(step.seconds for step in found.steps)
    return f"steps measured for {format_seconds(round(measured, 1))}"


def _capacity(summary: Summary) -> str:
    """`yamlload capacity`'s answer and curve; nothing for another command's report."""
    if summary.capacity is None:
        return ""
    from .capacity_chart import capacity_section  # it draws with this module's charts

    return capacity_section(summary.capacity)


def _whole_search(summary: Summary) -> str:
    """A capacity report's key numbers and charts over time are the whole search's, on a
    padded clock: a heading that says so; nothing for another command's report."""
    if summary.capacity is None:
        return ""
    return f'<h2>{esc(WHOLE_SEARCH_TITLE)}</h2><p class="hint">{esc(WHOLE_SEARCH)}</p>'


def render_compare_html(baseline: Summary, current: Summary, rows: Iterable[Any]) -> str:
    """Two runs overlaid: latency and rate per period, and the table of changes."""
    before, after = _period_series(baseline), _period_series(current)
    x_max = max(baseline.duration, current.duration, PERIOD_SECONDS)
    charts = [
        line_chart(
            "p95 latency: baseline and current",
            [Series("baseline p95", before["p95"]), Series("current p95", after["p95"])],
            x_max,
            [],
            "ms",
        ),
        line_chart(
            "Request rate: baseline and current",
            [Series("baseline", before["rps"]), Series("current", after["rps"])],
            x_max,
            [],
            "req/s",
        ),
    ]
    table = "".join(
        f"<tr><td>{esc(r.name)}</td><td>{esc(_cell(r.name, r.baseline))}</td><td>{esc(_cell(r.name, r.current))}</td><td>{esc(NO_VALUE if r.percent is None else f'{r.percent:+.1f}%')}</td></tr>"
        for r in rows
    )
    body = f"""
<header><h1>yamlload comparison</h1>
<p class="meta">baseline <strong>{esc(baseline.source)}</strong> ({esc(baseline.started_at)}) · current <strong>{esc(current.source)}</strong> ({esc(current.started_at)})</p></header>
<section><h2>Overlaid</h2>{"".join(charts)}</section>
<section><h2>Changes</h2><div class="scroll"><table><thead><tr><th>metric</th><th>baseline</th><th>current</th><th>change</th></tr></thead><tbody>{table}</tbody></table></div></section>
"""
    return _page("yamlload comparison", body)


def _cell(name: str, value: float | None) -> str:
    if value is None:
        return NO_VALUE
    return f"{value * 100:.2f}%" if "error_rate" in name else f"{value:.1f}"


_PATTERNS = "".join(
    f'<pattern id="pattern{i}" patternUnits="userSpaceOnUse" width="8" height="8">'
    f'<rect class="c{i}" width="8" height="8"/>{shape}</pattern>'
    for i, shape in enumerate(
        (
            "",
            '<path d="M0,8 L8,0" class="hatch"/>',
            '<circle cx="4" cy="4" r="1.5" class="hatch"/>',
            '<path d="M0,4 L8,4" class="hatch"/>',
            '<path d="M4,0 L4,8" class="hatch"/>',
            '<path d="M0,0 L8,8 M0,8 L8,0" class="hatch"/>',
        )
    )
)

_CSS = """
:root { --ink:#1d2430; --muted:#5b6472; --line:#d7dce3; --bg:#fff; --panel:#f6f8fa;
  --s0:#1f6feb; --s1:#d1242f; --s2:#1a7f37; --s3:#8250df; --s4:#bf8700;
  --c0:#2da44e; --c1:#d1242f; --c2:#bf8700; --c3:#8250df; --c4:#0969da; --c5:#57606a; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--bg); margin: 0 auto; max-width: 1100px; padding: 16px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; } h2 { font-size: 1.2rem; border-bottom: 1px solid var(--line); padding-bottom: 4px; margin-top: 28px; }
.meta, .hint { color: var(--muted); margin: 4px 0 12px; }
.verdict { font-weight: 700; padding: 10px 14px; border-radius: 6px; border: 2px solid; }
.verdict.pass { border-color: var(--c0); } .verdict.pass::before { content: "✔ "; }
.verdict.fail, .verdict.invalid { border-color: var(--c1); } .verdict.fail::before, .verdict.invalid::before { content: "✘ "; }
.verdict.none { border-color: var(--line); }
.badge { display: flex; align-items: center; gap: 14px; margin: 8px 0; }
.badge .letter { font-size: 2.4rem; font-weight: 800; width: 64px; height: 64px; display: grid; place-items: center; border-radius: 12px; color: #fff; background: var(--c5); }
.badge .words { display: flex; flex-direction: column; } .readiness { color: var(--muted); }
.grade-A .letter { background: var(--c0); } .grade-B .letter { background: #4d8f2a; } .grade-C .letter { background: var(--c2); }
.grade-D .letter { background: #c4541b; } .grade-F .letter { background: var(--c1); }
tr.grade-D .grade, tr.grade-F .grade { color: var(--c1); }
tr.drift-flagged td:last-child { color: var(--c1); font-weight: 600; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(120px, 1fr)); gap: 8px; margin: 12px 0; }
.tiles div { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.tiles dt { color: var(--muted); font-size: .85rem; } .tiles dd { margin: 0; font-size: 1.3rem; font-weight: 650; }
figure { margin: 12px 0 20px; } figcaption { font-weight: 600; margin-bottom: 4px; }
svg.chart { width: 100%; height: auto; display: block; }
.plot { fill: none; stroke: var(--line); } .grid { stroke: var(--line); stroke-width: .6; }
.tick, .unit, .phase-name { font-size: 11px; fill: var(--muted); } .phase-name { font-style: italic; }
.phase-a { fill: #eef2f6; } .phase-b { fill: #f8fafc; }
.line { fill: none; stroke-width: 2; } .dot { stroke: none; }
.s0 { stroke: var(--s0); fill: var(--s0); } .s1 { stroke: var(--s1); fill: var(--s1); } .s2 { stroke: var(--s2); fill: var(--s2); }
.s3 { stroke: var(--s3); fill: var(--s3); } .s4 { stroke: var(--s4); fill: var(--s4); }
path.line { fill: none; }
.c0 { fill: var(--c0); } .c1 { fill: var(--c1); } .c2 { fill: var(--c2); } .c3 { fill: var(--c3); } .c4 { fill: var(--c4); } .c5 { fill: var(--c5); }
.hatch { stroke: #fff; stroke-width: 1.5; fill: #fff; }
.bar { stroke: #fff; stroke-width: .5; }
.legend { list-style: none; padding: 0; margin: 4px 0; display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: .9rem; }
.legend li { display: flex; align-items: center; gap: 6px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: .92rem; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); }
td:not(:first-child) { font-variant-numeric: tabular-nums; }
th button { font: inherit; font-weight: 650; background: none; border: 0; padding: 0; cursor: pointer; color: inherit; }
th[aria-sort="ascending"] button::after { content: " ▲"; } th[aria-sort="descending"] button::after { content: " ▼"; }
tr.fail td:last-child, tr.warn td:last-child { color: var(--c1); }
.scroll { overflow-x: auto; }
pre { background: var(--panel); padding: 12px; overflow: auto; max-height: 480px; font-size: .85rem; }
@media (max-width: 600px) { body { padding: 8px; font-size: 14px; } .tiles dd { font-size: 1.1rem; } }
@media print { body { max-width: none; } details { display: none; } .hint { display: none; } figure, table { break-inside: avoid; } }
"""

# Sorts a table's rows by a column (numbers by value, else text) and marks the header:
# shared by the report and the live page (live/page.py), which re-sorts after each frame.
SORT_ROWS_JS = """
function sortRows(table, column, ascending) {
  table.querySelectorAll('th').forEach(function (th, i) {
    th.setAttribute('aria-sort', i === column ? (ascending ? 'ascending' : 'descending') : 'none');
  });
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  rows.sort(function (a, b) {
    var x = a.cells[column].dataset.value, y = b.cells[column].dataset.value;
    var nx = parseFloat(x), ny = parseFloat(y);
    var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
    return ascending ? order : -order;
  });
  rows.forEach(function (row) { body.appendChild(row); });
}
"""

_SCRIPT = (
    SORT_ROWS_JS
    + """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, column) {
    th.querySelector('button').addEventListener('click', function () {
      sortRows(table, column, th.getAttribute('aria-sort') !== 'ascending');
    });
  });
});
"""
)


def _page(title: str, body: str) -> str:
    return page(title, body)


def page(
    title: str, body: str, *, script: str = _SCRIPT, policy: str | None = None, css: str = ""
) -> str:
    """A whole document in the report's look: `script` ("" for none), a
    Content-Security-Policy `policy` when given, and `css` after the report's own."""
    meta = f'<meta http-equiv="Content-Security-Policy" content="{esc(policy)}">' if policy else ""
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">{meta}'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}{css}</style></head><body>"
        f'<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>{_PATTERNS}</defs></svg>'
        f"{body}{f'<script>{script}</script>' if script else ''}</body></html>\n"
    )
