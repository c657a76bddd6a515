"""A Markdown summary for CI pages (GitHub's step summary, merge request notes)."""

from __future__ import annotations

from ..checks.outcome import Outcome, describe_limit, describe_outcome
from ..metrics.names import REQUESTS, RESPONSE_TIME
from ..results.summary import Summary
from ..units import counted


def _row(cells: list[object]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def markdown_summary(summary: Summary, outcomes: list[Outcome], invalid: list[str]) -> str:
    broken = [o for o in outcomes if not o.ok and o.check.strict]
    if invalid:
        verdict = "⚠️ **invalid run**: " + "; ".join(invalid)
    elif broken:
        verdict = f"❌ **{len(broken)} of {counted(len(outcomes), 'threshold')} failed**"
    else:
        verdict = (
            f"✅ **passed** ({counted(len(outcomes), 'threshold')})"
            if outcomes
            else "✅ **completed** (no thresholds)"
        )
    latency = summary.stats(RESPONSE_TIME)
    lines = [
        f"## yamlload: `{summary.source}`",
        "",
        verdict,
        "",
        _row(["requests", "rps", "error rate", "p50 ms", "p95 ms", "p99 ms"]),
        _row(["---:"] * 6),
        _row(
            [
                summary.counter(REQUESTS),
                f"{summary.request_rate:.1f}",
                f"{summary.error_rate * 100:.2f}%",
                f"{latency.p50:.1f}",
                f"{latency.p95:.1f}",
                f"{latency.p99:.1f}",
            ]
        ),
    ]
    if outcomes:
        lines += [
            "",
            _row(["check", "measured", "limit", "result"]),
            _row(["---", "---:", "---:", "---"]),
        ]
        for o in outcomes:
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
    endpoints = summary.endpoints()
    if endpoints:
        lines += [
            "",
            _row(["endpoint", "requests", "failed", "p95 ms", "p99 ms"]),
            _row(["---", "---:", "---:", "---:", "---:"]),
        ]
        for e in endpoints:
            lines.append(
                _row(
                    [
                        e.name,
                        e.requests,
                        e.failed,
                        f"{e.stats.p95:.1f}",
                        f"{e.stats.p99:.1f}",
                    ]
                )
            )
    return "\n".join(lines) + "\n"
