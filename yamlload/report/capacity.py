"""`yamlload capacity`'s answer in words (issue 22): a line per step as the search goes,
the answer and the curve as a table for the console, and the same for the Markdown
summary. The HTML report draws it with report/html.py's charts (`capacity_section`)."""

from __future__ import annotations

from tabulate import tabulate

from ..checks.capacity import Ending, SearchSettings
from ..results.capacity import Capacity, CapacityStep
from ..units import NO_VALUE, format_seconds

CURVE_HEADERS = (
    "rate/s",
    "verdict",
    "achieved/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "errors",
    "lag p99 ms",
    "broken SLOs",
)


# How `found.ended` starts when a signal stopped the search (cli/capacity.py).
INTERRUPTED = "stopped by "


def ending_words(ending: Ending, search: SearchSettings, invalid: CapacityStep | None) -> str:
    """Why the search stopped, for a person."""
    if ending == "invalid" and invalid is not None:
        return f"stopped at {invalid.rate:g}/s: {invalid.reason}"
    return {
        "converged": f"converged: the first bad rate is within {search.precision * 100:g}% "
        "of the last good one",
        "never-broke": f"never broke: every step met every SLO up to --to {search.limit:g}/s, "
        "so the capacity is at least that; raise --to to find it",
        "broke-at-start": "broke at every rate tried, however low: no rate met every SLO",
        "step-limit": "stopped: the search took its most steps",
        "invalid": "stopped: a step could not be trusted",
    }[ending]


def step_line(number: int, step: CapacityStep) -> str:
    """One step as the search goes: `step 3: 150/s  p95 12.3 ms  errors 0.00%  149.8/s
    achieved  good`."""
    broken = [f"{s.slo} ({s.measured})" for s in step.slos if not s.ok]
    why = f" ({step.reason})" if step.reason else f": {', '.join(broken)}" if broken else ""
    return (
        f"step {number}: {step.rate:g}/s  p95 {_ms(step.p95)}  errors {_percent(step.error_rate)}"
        f"  {step.throughput:,.1f}/s achieved  {step.verdict}{why}"
    )


def _best(found: Capacity) -> str:
    if found.max_rate is not None:
        return f"{found.max_rate:g}/s"
    if not found.ended.startswith(INTERRUPTED):
        return "none (no rate met every SLO)"
    # Stopped by a signal before the search ended: no answer, but what it had measured
    bad = [s.rate for s in found.steps if s.verdict == "bad"]
    good = [s.rate for s in found.steps if s.verdict == "good" and s.rate < min(bad, default=1e308)]
    measured = f"; {max(good):g}/s met every SLO before it" if good else ""
    return f"not found (the search was interrupted{measured})"


def answer_lines(found: Capacity) -> list[str]:
    """The answer: the maximum sustainable rate, where it broke and by what, the
    recovery, and why the search ended."""
    lines = [f"Maximum sustainable rate: {_best(found)}"]
    if found.broke_at is not None:
        by = found.broke_by
        cause = f", first by {by.slo} ({by.measured})" if by is not None and by.measured else ""
        cause = f" ({by.slo})" if by is not None and not by.measured else cause
        lines.append(f"Broke at: {found.broke_at:g}/s{cause}")
    elif any(step.verdict == "invalid" for step in found.steps) or not found.max_rate:
        lines.append("Broke at: not found (the search stopped first)")
    else:
        lines.append(f"Broke at: did not break up to {found.max_rate:g}/s")
    recovery = recovery_words(found)
    if recovery:
        lines.append(f"Recovery: {recovery}")
    if found.ended:
        lines.append(f"Search: {found.ended}")
    return lines


def recovery_words(found: Capacity) -> str | None:
    if found.recovery_limit is None:
        return None
    rate = f"{found.recovery_rate:g}/s" if found.recovery_rate is not None else "half the rate"
    if found.recovered is None:
        return f"not measured at {rate} (the search was stopped)"
    if found.recovery_seconds is None:
        return f"did not recover within {format_seconds(found.recovery_limit)} at {rate}"
    return f"every SLO held again {found.recovery_seconds:.1f} s after dropping to {rate}"


def curve_rows(found: Capacity) -> list[list[str]]:
    """Each step, by rate: the curve."""
    return [
        [
            f"{s.rate:g}",
            s.verdict,
            f"{s.throughput:,.1f}",
            _ms(s.p50, ""),
            _ms(s.p95, ""),
            _ms(s.p99, ""),
            _percent(s.error_rate),
            _ms(s.lag_p99, ""),
            ", ".join(f"{r.slo} ({r.measured})" for r in s.slos if not r.ok) or NO_VALUE,
        ]
        for s in sorted(found.steps, key=lambda step: step.rate)
    ]


def format_capacity(found: Capacity) -> str:
    """The answer and the curve, for the console."""
    table = tabulate(curve_rows(found), headers=CURVE_HEADERS, disable_numparse=True)
    return "\n".join([*answer_lines(found), "", table if found.steps else "(no step measured)"])


def capacity_markdown(found: Capacity) -> list[str]:
    """The answer and the curve as Markdown lines (the --summary-md section)."""
    lines = ["### Capacity", ""]
    lines += [f"- {line}" for line in answer_lines(found)]
    lines += [f"- Warning: {warning}" for warning in found.warnings]
    if found.steps:
        lines += ["", _md_row(list(CURVE_HEADERS)), _md_row(["---:", "---", *["---:"] * 6, "---"])]
        lines += [_md_row(row) for row in curve_rows(found)]
    return [*lines, ""]


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _ms(value: float | None, unit: str = " ms") -> str:
    return NO_VALUE if value is None else f"{value:,.1f}{unit}"


def _percent(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value * 100:.2f}%"
