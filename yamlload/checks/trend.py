"""`yamlload trend`'s regression rule: the newest run against the median of the runs
of its plan before it, for each limit on the change (`p95<+10%`), judged as `compare` judges one.

The median, not the mean or the last run, because CI runners are noisy: one slow build
among the earlier ones moves a mean and would hide a regression, or fail the next build
against a lucky one; the median of a few runs ignores such an outlier."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ..results.summary import Summary
from .compare import judge_change
from .measure import measure
from .outcome import Outcome
from .parse import CAPACITY, Check

# How many runs before the newest make its baseline (`--baseline`).
DEFAULT_BASELINE_RUNS = 5


@dataclass(frozen=True)
class TrendOutcome:
    """A limit on the change judged: the baseline (the median of the earlier runs'
    values) and the newest run's value, with the outcome `compare` would give them."""

    outcome: Outcome
    baseline: float | None
    newest: float | None
    # Why the newest run has no value when "no data" would not say: its capacity search
    # was interrupted, or could judge no step (not "no rate met every SLO").
    newest_note: str | None = None


def evaluate_trend(
    checks: Iterable[Check], earlier: Sequence[Summary], newest: Summary
) -> list[TrendOutcome]:
    """Each check on `newest` against the median of the `earlier` runs' values (the
    caller picks them: the same plan, valid, just before it). An invalid newest run fails
    every check: its numbers measure no working service (a target it could not reach
    sends as many requests as before), so no change in them can pass."""
    valid = invalid_reasons(newest) is None
    judged = []
    for check in checks:
        baseline = median_of(measure(run, check.metric, check.scope) for run in earlier)
        value = measure(newest, check.metric, check.scope)
        outcome = judge_change(check, baseline, value)
        if not valid:
            outcome = replace(outcome, ok=False)
        judged.append(TrendOutcome(outcome, baseline, value, _why_none(newest, check, value)))
    return judged


def _why_none(newest: Summary, check: Check, value: float | None) -> str | None:
    if value is not None or check.metric != CAPACITY or newest.capacity is None:
        return None
    return newest.capacity.why_no_rate()


def invalid_reasons(summary: Summary) -> list[str] | None:
    """Why the run is invalid (its report's `validity.reasons`), or None when it is
    valid or its report says nothing of validity (written before yamlload judged it)."""
    validity = summary.verdict.get("validity")
    if not isinstance(validity, dict) or validity.get("valid") is not False:
        return None
    reasons = validity.get("reasons")
    listed = reasons if isinstance(reasons, list) else []
    return [str(reason) for reason in listed if isinstance(reason, str)]


def median_of(values: Iterable[float | None]) -> float | None:
    """The median of the values measured; a run with no value (no response, so no p95)
    is left out rather than counted as 0. None when no run has one."""
    known = [value for value in values if value is not None]
    return float(statistics.median(known)) if known else None
