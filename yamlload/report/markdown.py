"""A Markdown summary for CI pages (GitHub's step summary, merge request notes)."""

from __future__ import annotations

from ..checks.outcome import Outcome, describe_limit, describe_outcome
from ..metrics.names import (
    ERRORS,
    EXPECT_PREFIX,
    REQUESTS,
    RESPONSE_TIME,
    WS_HISTOGRAMS,
    WS_MESSAGES_RECEIVED,
    WS_MESSAGES_SENT,
    WS_RESPONSE_TIME,
)
from ..results.summary import Summary
from ..units import format_count, format_millis
from .capacity import WHOLE_SEARCH, WHOLE_SEARCH_TITLE, capacity_markdown
from .drift_words import HEADERS as DRIFT_HEADERS
from .drift_words import drift_flags, drift_rows, drift_title
from .grade_words import grade_line, readiness_line, rows, value_text
from .verdict_words import Judged, expectations_words, failure_words, is_threshold, passed_words


def _row(cells: list[object]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def markdown_summary(summary: Summary, outcomes: list[Outcome], invalid: list[str]) -> str:
    judged = [Judged(o.check.source, o.verdict, o.value) for o in outcomes]
    failures = failure_words(judged)
    if invalid:
        verdict = "⚠️ **invalid run**: " + "; ".join(invalid)
    elif failures:
        verdict = f"❌ **{failures}**"
    else:
        verdict = (
            f"✅ **passed** ({passed_words(judged)})"
            if outcomes
            else "✅ **completed** (no thresholds)"
        )
    lines = [
        f"## yamlload: `{summary.source}`",
        "",
        verdict,
        "",
        *_grades(summary),
        *(capacity_markdown(summary.capacity) if summary.capacity is not None else []),
        *_whole_search(summary),
        *_headline(summary),
    ]
    thresholds = [o for o in outcomes if is_threshold(o.check.source)]
    if thresholds:
        lines += [
            "",
            "### Thresholds",
            "",
            _row(["check", "measured", "limit", "result"]),
            _row(["---", "---:", "---:", "---"]),
        ]
        for o in thresholds:
            lines.append(
                _row(
                    [
                        f"`{o.check.source}`",
                        describe_outcome(o),
                        describe_limit(o.check),
                        o.verdict,
                    ]
                )
            )
    websocket = summary.websocket_rows()
    if websocket:
        lines += ["", "### WebSocket", "", _row(["metric", "value"]), _row(["---", "---:"])]
        lines += [_row([name, value]) for name, value in websocket]
        for name in WS_HISTOGRAMS:
            stats = summary.stats(name)
            if stats.count:
                shown = (format_millis(v, stats.count) for v in (stats.p50, stats.p95, stats.p99))
                lines.append(_row([f"{name} p50 / p95 / p99 ms", " / ".join(shown)]))
    errors = summary.counters_with(ERRORS)
    if errors:
        lines += ["", "### Errors", "", _row(["error", "count"]), _row(["---", "---:"])]
        lines += [_row([f"{ERRORS}{name}", format_count(k)]) for name, k in errors.items()]
    expect_results = summary.counters_with(EXPECT_PREFIX)
    expectations = expectations_words(judged)
    if expect_results or expectations is not None:
        lines += ["", "### Expect results"]
        if expectations is not None:
            lines += ["", f"Expectations: **{expectations}**"]
        lines += ["", _row(["check", "count"]), _row(["---", "---:"])]
        lines += [_row([name, format_count(n)]) for name, n in expect_results.items()]
    endpoints = summary.endpoints()
    if endpoints:
        lines += [
            "",
            "### Endpoints",
            "",
            _row(["endpoint", "requests", "failed", "p95 ms", "p99 ms"]),
            _row(["---", "---:", "---:", "---:", "---:"]),
        ]
        for e in endpoints:
            lines.append(
                _row(
                    [
                        e.name,
                        format_count(e.requests),
                        format_count(e.failed),
                        format_millis(e.stats.p95, e.stats.count),
                        format_millis(e.stats.p99, e.stats.count),
                    ]
                )
            )
    lines += _drift(summary)
    return "\n".join(lines) + "\n"


def _whole_search(summary: Summary) -> list[str]:
    """Over a capacity report's headline: it covers the whole search, not the answer."""
    if summary.capacity is None:
        return []
    return [f"### {WHOLE_SEARCH_TITLE}", "", WHOLE_SEARCH, ""]


def _headline(summary: Summary) -> list[str]:
    """The headline table: HTTP's, or for a run with no HTTP request and WebSocket
    numbers, the ws one (messages, the reply time, the user failure rate)."""
    if summary.websocket_only:
        replies = summary.stats(WS_RESPONSE_TIME)
        return [
            _row(
                [
                    "messages sent",
                    "sent/s",
                    "messages received",
                    "user failure rate",
                    "reply p50 ms",
                    "reply p95 ms",
                    "reply p99 ms",
                ]
            ),
            _row(["---:"] * 7),
            _row(
                [
                    format_count(summary.counter(WS_MESSAGES_SENT)),
                    f"{summary.rate(WS_MESSAGES_SENT):,.1f}",
                    format_count(summary.counter(WS_MESSAGES_RECEIVED)),
                    f"{summary.user_failure_rate * 100:.2f}%",
                    *(
                        format_millis(v, replies.count)
                        for v in (replies.p50, replies.p95, replies.p99)
                    ),
                ]
            ),
        ]
    latency = summary.stats(RESPONSE_TIME)
    return [
        _row(["requests", "rps", "error rate", "p50 ms", "p95 ms", "p99 ms"]),
        _row(["---:"] * 6),
        _row(
            [
                format_count(summary.counter(REQUESTS)),
                f"{summary.request_rate:,.1f}",
                f"{summary.error_rate * 100:.2f}%",
                *(format_millis(v, latency.count) for v in (latency.p50, latency.p95, latency.p99)),
            ]
        ),
    ]


def _drift(summary: Summary) -> list[str]:
    """The drift table and its flags (results/drift.py); nothing without drift."""
    drift = summary.drift()
    if not drift.metrics:
        return []
    lines = ["", f"### {drift_title(drift)}", ""]
    lines += [_row([*DRIFT_HEADERS]), _row(["---", "---:", "---:", "---:", "---:", "---"])]
    lines += [_row([*cells]) for cells in drift_rows(drift)]
    flags = drift_flags(drift)
    if flags:
        lines += ["", *(f"- ⚠️ {flag}" for flag in flags)]
    return lines


def _grades(summary: Summary) -> list[str]:
    """The grade line and readiness, then each graded metric with its bands; nothing
    for a report without grades."""
    grading = summary.grade
    if grading is None:
        return []
    lines = [
        f"**{grade_line(grading)}**",
        "",
        readiness_line(grading),
        "",
        _row(["graded", "value", "grade", "A", "B", "C", "D"]),
        _row(["---", "---:", ":---:", "---:", "---:", "---:", "---:"]),
    ]
    for graded, bands in rows(grading):
        lines.append(_row([f"`{graded.key}`", value_text(grading, graded), graded.grade, *bands]))
    return [*lines, ""]
