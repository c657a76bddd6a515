"""The console: a live progress line, a line per 10-second period, and the final tables."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from tabulate import tabulate

from ..checks.compare import Delta
from ..checks.outcome import Outcome, describe_limit, describe_outcome
from ..metrics.histogram import Histogram
from ..metrics.names import (
    ARRIVAL_LAG,
    CODES,
    DOWNLOADED_BYTES,
    ERRORS,
    EXPECT_PREFIX,
    REQUEST_RATE,
    REQUESTS,
    REQUESTS_FAILED,
    REQUESTS_INTERRUPTED,
    RESPONSE_TIME,
    RESPONSE_TIME_BY_CLASS,
    RESPONSES,
    SESSION_LENGTH,
    USERS_COMPLETED,
    USERS_CREATED,
    USERS_FAILED,
    USERS_INTERRUPTED,
    USERS_SKIPPED,
    WS_HISTOGRAMS,
    WS_MESSAGES_RECEIVED,
    WS_MESSAGES_SENT,
    WS_RESPONSE_TIME,
    WS_SESSIONS,
)
from ..metrics.periods import MIN_PERIOD_SECONDS, Period
from ..plan.ir import MONITOR_PREFIX, SCRAPE_ERRORS_SUFFIX
from ..results.run import Progress
from ..results.summary import PeriodRow, Summary
from ..units import counted, format_count, format_millis, format_seconds
from .drift_words import HEADERS as DRIFT_HEADERS
from .drift_words import drift_flags, drift_rows, drift_title
from .grade_words import grade_line, readiness_line
from .monitored import gauge_cells, gauge_text, monitor_rows, scrape_errors
from .verdict_words import Judged, expectations_words, is_threshold

LATENCY_COLUMNS = ("min", "mean", "p50", "p90", "p95", "p99", "p999", "max", "count")


def _clock(seconds: float) -> str:
    whole = max(0, int(seconds))
    return f"{whole // 60:02d}:{whole % 60:02d}"


class ConsoleObserver:
    """Follows a run. On a terminal the progress line is redrawn in place; piped, only
    whole lines are written (one per period), so logs stay readable."""

    def __init__(self, out: TextIO, live: bool, quiet: bool = False) -> None:
        self.out = out
        self.live = live and not quiet
        self.quiet = quiet
        self._drawn = 0

    def _clear(self) -> None:
        if self._drawn:
            self.out.write("\r" + " " * self._drawn + "\r")
            self._drawn = 0

    def line(self, text: str) -> None:
        self._clear()
        self.out.write(text + "\n")
        self.out.flush()

    def tick(self, progress: Progress) -> None:
        if not self.live:
            return
        text = (
            f"[{progress.phase}] {_clock(progress.elapsed)}/{_clock(progress.total)}  "
            f"users {progress.active} active, {progress.created} created  "
            f"{progress.rps:.1f} req/s  {counted(progress.requests, 'request')}  "
            f"{format_count(progress.failed)} failed"
        )
        self._clear()
        self.out.write(text)
        self.out.flush()
        self._drawn = len(text)

    def period_done(self, period: Period, width: float) -> None:
        if not self.quiet:
            self.line(period_line(period, width))

    def log(self, message: str) -> None:
        if not self.quiet:
            self.line(message)

    def finish(self) -> None:
        self._clear()
        self.out.flush()


def period_line(period: Period, width: float) -> str:
    """A period's line; `width` is its real length (see metrics.periods.period_width)."""
    return _period_line(PeriodRow.of(period, width))


def _period_line(row: PeriodRow) -> str:
    rate = f"{row.request_rate:,.1f}/s"
    parts = [f"[{_clock(row.start)}] {counted(row.requests, 'request')} ({rate})"]
    latency = row.latency
    if latency.count:
        parts.append(
            f"p50 {latency.p50:.1f} ms, p95 {latency.p95:.1f} ms, p99 {latency.p99:.1f} ms"
        )
    if row.codes:
        parts.append("codes " + " ".join(f"{c}×{format_count(n)}" for c, n in row.codes.items()))
    if row.errors:
        parts.append("errors " + " ".join(f"{e}×{format_count(n)}" for e, n in row.errors.items()))
    if row.interrupted:
        parts.append(f"interrupted {format_count(row.interrupted)}")
    parts.extend(_websocket_parts(row))
    parts.append(f"users +{format_count(row.users_created)}")
    parts.extend(_monitor_parts(row.period))
    return " · ".join(parts)


def _websocket_parts(row: PeriodRow) -> list[str]:
    """A ws run's period: messages sent and received, and the reply time's p95."""
    counters = row.period.metrics.counters
    if WS_MESSAGES_SENT not in counters and WS_SESSIONS not in counters:
        return []
    width = max(row.width, MIN_PERIOD_SECONDS)
    sent, received = counters.get(WS_MESSAGES_SENT, 0), counters.get(WS_MESSAGES_RECEIVED, 0)
    text = (
        f"ws sent {format_count(sent)} ({sent / width:,.1f}/s) "
        f"received {format_count(received)} ({received / width:,.1f}/s)"
    )
    replies = row.period.metrics.histograms.get(WS_RESPONSE_TIME)
    if replies is not None and replies.count:
        text += f", reply p95 {replies.summary()['p95']:.1f} ms"
    return [text]


def _monitor_parts(period: Period) -> list[str]:
    """config.monitor in a period's line: each series' range over the period (one value
    when it was sampled once or never moved), then the sources that failed a sample."""
    metrics, parts = period.metrics, []
    ranges = [
        f"{name.removeprefix(MONITOR_PREFIX)} {_range(g.min, g.max)}"
        for name, g in sorted(metrics.gauges.items())
        if name.startswith(MONITOR_PREFIX) and g.count
    ]
    if ranges:
        parts.append("monitor " + " ".join(ranges))
    for source, n in scrape_errors(metrics.counters).items():
        parts.append(f"{source} failed {counted(n, 'sample')}")
    return parts


def _range(low: float, high: float) -> str:
    """One value when the two read alike (they may differ below the shown precision)."""
    low_text, high_text = gauge_text(low), gauge_text(high)
    return low_text if low_text == high_text else f"{low_text}–{high_text}"


def _latency_row(name: str, hist: Histogram) -> list[object]:
    summary = hist.summary()
    cells = (
        format_count(summary[c]) if c == "count" else f"{summary[c]:,.1f}" for c in LATENCY_COLUMNS
    )
    return [name, *cells]


def format_summary(summary: Summary) -> str:
    """The final tables, as text."""
    how = f", stopped by {summary.stopped_by}" if summary.stopped_by else ""
    took = format_seconds(round(summary.duration, 1))
    sections = [
        f"Summary: {summary.source} → {summary.target} ({took}{how})",
        tabulate(
            _overview(summary), tablefmt="plain", colalign=("left", "right"), disable_numparse=True
        ),
    ]
    latency = [
        _latency_row(name, summary.histogram(name))
        for name in (
            RESPONSE_TIME,
            *RESPONSE_TIME_BY_CLASS,
            SESSION_LENGTH,
            *WS_HISTOGRAMS,
            ARRIVAL_LAG,
        )
        if summary.histogram(name).count
    ]
    if latency:
        sections.append(
            "Latency (ms)\n"
            + tabulate(
                latency,
                headers=["metric", *LATENCY_COLUMNS],
                tablefmt="simple",
                disable_numparse=True,
            )
        )
    websocket = summary.websocket_rows()
    if websocket:
        sections.append(
            "WebSocket\n"
            + tabulate(
                websocket, tablefmt="plain", colalign=("left", "right"), disable_numparse=True
            )
        )
    for title, prefix, column in (
        ("Status codes", CODES, "code"),
        ("Errors", ERRORS, "error"),
        ("Expect results", EXPECT_PREFIX, "check"),
    ):
        counts = summary.counters_with(prefix)
        if counts:
            rows = [(key, format_count(n)) for key, n in counts.items()]
            sections.append(f"{title}\n{_table(rows, [column, 'count'])}")
    endpoints = _endpoint_rows(summary)
    if endpoints:
        headers = ["endpoint", "requests", "req/s", "failed %", "p50", "p95", "p99", "max"]
        sections.append(
            "Endpoints\n"
            + tabulate(endpoints, headers=headers, tablefmt="simple", disable_numparse=True)
        )
    monitor = _monitor_section(summary)
    if monitor:
        sections.append(monitor)
    drift = _drift_section(summary)
    if drift:
        sections.append(drift)
    if summary.workers:
        sections.append(f"Workers ({len(summary.workers)})\n" + _workers_table(summary.workers))
    if summary.grade is not None:
        sections.append(f"{grade_line(summary.grade)}\n{readiness_line(summary.grade)}")
    warning = summary.lag_warning()
    if warning:
        sections.append(f"warning: {warning}")
    return "\n\n".join(sections)


def _monitor_section(summary: Summary) -> str:
    """config.monitor's series over the run (source.metric, min, mean, max, last; a
    series with no value all run is a row of NO_VALUE) and the samples each source
    failed to take; empty without monitoring."""
    rows = [
        [name.removeprefix(MONITOR_PREFIX), *gauge_cells(gauge)]
        for name, gauge in monitor_rows(summary)
    ]
    failed = scrape_errors(summary.aggregate.counters)
    if not rows and not failed:
        return ""
    text = "Monitor"
    if rows:
        text += "\n" + _table(rows, ["series", "min", "mean", "max", "last", "samples"])
    for source, n in failed.items():
        counter = f"{MONITOR_PREFIX}{source}{SCRAPE_ERRORS_SUFFIX}"
        text += f"\n{source}: {counted(n, 'failed sample')} ({counter})"
    return text


def _drift_section(summary: Summary) -> str:
    """How the metrics moved over the longest steady phase, and what moved beyond its
    threshold; empty when the run had no steady phase long enough (results/drift.py)."""
    drift = summary.drift()
    if not drift.metrics:
        return ""
    text = f"{drift_title(drift)}\n{_table(drift_rows(drift), DRIFT_HEADERS)}"
    for flag in drift_flags(drift):
        text += f"\ndrift: {flag}"
    return text


def _table(rows: Iterable[Iterable[object]], headers: list[str]) -> str:
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)


def _overview(summary: Summary) -> list[tuple[str, object]]:
    def c(name: str) -> str:
        return format_count(summary.counter(name))

    rows: list[tuple[str, object]] = [
        (USERS_CREATED, c(USERS_CREATED)),
        (USERS_COMPLETED, c(USERS_COMPLETED)),
        (USERS_FAILED, c(USERS_FAILED)),
    ]
    for rare in (USERS_SKIPPED, USERS_INTERRUPTED):
        if summary.counter(rare):
            rows.append((rare, c(rare)))
    if summary.websocket_only:
        rows += _websocket_headline(summary)
    else:
        rows += [
            (REQUESTS, c(REQUESTS)),
            (RESPONSES, c(RESPONSES)),
            ("request errors (no response)", format_count(summary.request_errors)),
        ]
        if summary.counter(REQUESTS_INTERRUPTED):
            rows.append((REQUESTS_INTERRUPTED, c(REQUESTS_INTERRUPTED)))
        rows += [
            (REQUESTS_FAILED, c(REQUESTS_FAILED)),
            (REQUEST_RATE, f"{summary.request_rate:,.1f}/s"),
            (DOWNLOADED_BYTES, c(DOWNLOADED_BYTES)),
            ("error rate (failed requests)", f"{summary.error_rate * 100:.2f}%"),
        ]
    rows.append(("user failure rate", f"{summary.user_failure_rate * 100:.2f}%"))
    if summary.apdex_score is not None:
        rows.append(("apdex score", f"{summary.apdex_score:.2f}"))
    if summary.cpu_percent is not None:
        rows.append(("generator CPU (mean)", f"{summary.cpu_percent:.0f}% of one core"))
    if summary.peak_rss_mb is not None:
        rows.append(("generator memory (peak RSS)", f"{summary.peak_rss_mb:.0f} MB"))
    return rows


def _websocket_headline(summary: Summary) -> list[tuple[str, object]]:
    """A ws-only run's headline: messages sent and read, the reply time, the errors."""
    rows: list[tuple[str, object]] = [
        (WS_MESSAGES_SENT, format_count(summary.counter(WS_MESSAGES_SENT))),
        (WS_MESSAGES_RECEIVED, format_count(summary.counter(WS_MESSAGES_RECEIVED))),
    ]
    replies = summary.stats(WS_RESPONSE_TIME)
    if replies.count:
        rows.append((f"{WS_RESPONSE_TIME} p95", f"{format_millis(replies.p95, replies.count)} ms"))
    errors = sum(summary.counters_with(ERRORS).values())
    rows.append(("errors (errors.*)", format_count(errors)))
    return rows


def _endpoint_rows(summary: Summary) -> list[list[object]]:
    rows: list[list[object]] = []
    for endpoint in summary.endpoints():
        stats = endpoint.stats
        latency = (stats.p50, stats.p95, stats.p99, stats.max)
        rows.append(
            [
                endpoint.name,
                format_count(endpoint.requests),
                f"{endpoint.request_rate:,.1f}",
                f"{endpoint.error_rate * 100:.1f}",
                *(format_millis(v, stats.count) for v in latency),
            ]
        )
    return rows


def format_checks(outcomes: list[Outcome]) -> str:
    """The thresholds' table, then the expectations' verdict (a plan with `expect`), so
    that the table holds only what it is called."""
    judged = [Judged(o.check.source, o.verdict, o.value) for o in outcomes]
    rows = [
        [o.check.source, describe_outcome(o), describe_limit(o.check), o.verdict]
        for o in outcomes
        if is_threshold(o.check.source)
    ]
    parts = (
        ["Thresholds\n" + _table(rows, ["check", "measured", "limit", "result"])] if rows else []
    )
    expectations = expectations_words(judged)
    if expectations is not None:
        parts.append(f"Expectations: {expectations}")
    return "\n".join(parts)


def _number(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    if "error_rate" in name:
        return f"{value * 100:.2f}%"
    return format_count(value) if float(value).is_integer() else f"{value:,.1f}"


def format_deltas(rows: list[Delta]) -> str:
    table = []
    for row in rows:
        change = "-" if row.change is None else _number(row.name, row.change)
        if row.change is not None and row.change > 0:
            change = "+" + change
        percent = "-" if row.percent is None else f"{row.percent:+.1f}%"
        table.append(
            [
                row.name,
                _number(row.name, row.baseline),
                _number(row.name, row.current),
                change,
                percent,
            ]
        )
    return _table(table, ["metric", "baseline", "current", "change", "change %"])


def _workers_table(workers: list[dict[str, object]]) -> str:
    rows = [
        [
            w.get("segment", "?"),
            w.get("users", "-"),
            w.get("lag_p99_ms", "-"),
            w.get("cpu_percent", "-"),
            w.get("rss_mb", "-"),
            w.get("lost", ""),
        ]
        for w in workers
    ]
    return _table(rows, ["segment", "users", "lag p99 ms", "CPU %", "RSS MB", "lost"])
