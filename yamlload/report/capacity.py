"""`yamlload capacity`'s answer in words (issue 22): a line per step as the search goes,
the answer and the curve as a table for the console, and the same for the Markdown
summary. The HTML report draws it with report/html.py's charts (`capacity_section`).

Every rate says its unit: the offered rate is users (scenario arrivals) a second, as
arrivalRate is, and the achieved one the requests the target answered a second; a
scenario of 50 requests makes about 50 req/s for each user/s below the knee, so a bare
"/s" reads as either."""

from __future__ import annotations

from tabulate import tabulate

from ..checks.capacity import Ending, SearchSettings
from ..results.capacity import Capacity, CapacityStep
from ..units import NO_VALUE, format_seconds

# The offered rate's unit (arrivalRate's), and the achieved one's: answered requests.
USERS_PER_SECOND = "users/s"
REQUESTS_PER_SECOND = "req/s"
CURVE_HEADERS = (
    f"offered {USERS_PER_SECOND}",
    "verdict",
    f"answered {REQUESTS_PER_SECOND}",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "errors",
    "lag p99 ms",
    "why bad",  # the SLOs it broke, or the rule that made it bad when none broke
)
# What a capacity report's key numbers and time axis cover, said above them (they are a
# run's; here each step is joined on a new 10-second period: html.py, markdown.py).
WHOLE_SEARCH_TITLE = "The whole search"
WHOLE_SEARCH = (
    "All steps together, broken ones included (and the recovery, if measured): not the "
    "capacity. On this timeline each step starts a new 10-second period, so it runs longer "
    "than the search took, and a rate over it counts those gaps."
)


def users(rate: float) -> str:
    """An offered rate with its unit: `7.23 users/s`."""
    return f"{rate:g} {USERS_PER_SECOND}"


def requests(rate: float) -> str:
    """An achieved rate (answered requests) with its unit: `192.0 req/s`."""
    return f"{rate:,.1f} {REQUESTS_PER_SECOND}"


def ending_words(ending: Ending, search: SearchSettings, invalid: CapacityStep | None) -> str:
    """Why the search stopped, for a person."""
    if ending == "invalid" and invalid is not None:
        return f"stopped at {users(invalid.rate)}: {invalid.reason}"
    return {
        "converged": f"converged: the first bad rate is within {search.precision * 100:g}% "
        "of the last good one",
        "never-broke": f"never broke: every step met every SLO up to --to {users(search.limit)}, "
        "so the capacity is at least that; raise --to to find it",
        "broke-at-start": "broke at every rate tried, however low: no rate met every SLO",
        "step-limit": "stopped: the search took its most steps",
        "invalid": "stopped: a step could not be trusted",
    }[ending]


def step_line(number: int, step: CapacityStep) -> str:
    """One step as the search goes: `step 3: 150 users/s  p95 12.3 ms  errors 0.00%
    149.8 req/s answered  good`."""
    broken = [f"{s.slo} ({s.measured})" for s in step.slos if not s.ok]
    why = f" ({step.reason})" if step.reason else f": {', '.join(broken)}" if broken else ""
    return (
        f"step {number}: {users(step.rate)}  p95 {_ms(step.p95)}"
        f"  errors {_percent(step.error_rate)}  {requests(step.throughput)} answered"
        f"  {step.verdict}{why}"
    )


def _best(found: Capacity) -> str:
    if found.max_rate is not None:
        bound = "at least " if found.max_rate_is_lower_bound else ""
        measured = found.max_request_rate
        served = f" ({requests(measured)})" if measured is not None else ""
        return f"{bound}{users(found.max_rate)}{served}"
    # interrupted, or no step judged: not the same as every rate breaking an SLO
    return found.why_no_rate() or "none (no rate met every SLO)"


def _broke_at(found: Capacity) -> str:
    """Where the search broke the target and by what: an SLO with its value, or the
    rule that made the step bad when every SLO held."""
    if found.broke_at is None:
        if any(step.verdict == "invalid" for step in found.steps) or not found.max_rate:
            return "not found (the search stopped first)"
        return f"did not break up to {users(found.max_rate)}"
    return f"{users(found.broke_at)}{_cause(found, found.broke_at)}"


def _cause(found: Capacity, rate: float) -> str:
    """What broke the step at `rate`: the first SLO it broke with its value; the rule
    that made it bad when no SLO broke, or when the SLO had no data (the target stopped
    answering: "every request failed" says so, "(no data)" would not)."""
    by = found.broke_by
    breaking = (s.reason for s in found.steps if s.rate == rate and s.verdict == "bad")
    rule = found.broke_by_rule or next(breaking, None)
    if by is not None and by.value is None:
        return f" ({rule})" if rule else f" ({by.slo} had no data)"
    if by is not None:
        return f", first by {by.slo} ({by.measured})" if by.measured else f" ({by.slo})"
    return f" ({rule})" if rule else ""


def answer_lines(found: Capacity) -> list[str]:
    """The answer: the maximum sustainable rate (`at least` when nothing above it broke
    or the generator stopped the search), where it broke and by what, the recovery, and
    why the search ended."""
    lines = [f"Maximum sustainable rate: {_best(found)}", f"Broke at: {_broke_at(found)}"]
    recovery = recovery_words(found)
    if recovery:
        lines.append(f"Recovery: {recovery}")
    if found.ended:
        lines.append(f"Search: {found.ended}")
    warning = found.curve_warning
    if warning:  # the answer above came from a curve one target could not draw
        lines.append(f"Warning: {warning}")
    return lines


def recovery_words(found: Capacity) -> str | None:
    if found.recovery_limit is None:
        return None
    rate = users(found.recovery_rate) if found.recovery_rate is not None else "half the rate"
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
            why_bad(s),
        ]
        for s in sorted(found.steps, key=lambda step: step.rate)
    ]


def why_bad(step: CapacityStep) -> str:
    """The SLOs a bad step broke; when none did, the rule that made it bad (most requests
    failed, served below the rate, every request failed)."""
    broken = ", ".join(f"{r.slo} ({r.measured})" for r in step.slos if not r.ok)
    if broken or step.verdict != "bad":
        return broken or NO_VALUE
    return step.reason or NO_VALUE


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
