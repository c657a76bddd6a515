"""`yamlload trend`'s regression rule: the newest run against the median of the runs
before it, for each limit on the change (`p95<+10%`), judged as `compare` judges one.

The median, not the mean or the last run, because CI runners are noisy: one slow build
among the earlier ones moves a mean and would hide a regression, or fail the next build
against a lucky one; the median of a few runs ignores such an outlier."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..results.summary import Summary
from .compare import judge_change
from .measure import measure
from .outcome import Outcome
from .parse import Check

# How many runs before the newest make its baseline (`--baseline`).
DEFAULT_BASELINE_RUNS = 5


@dataclass(frozen=True)
class TrendOutcome:
    """A limit on the change judged: the baseline (the median of the earlier runs'
    values) and the newest run's value, with the outcome `compare` would give them."""

    outcome: Outcome
    baseline: float | None
    newest: float | None


def baseline_of(runs: Sequence[Summary], count: int) -> list[Summary]:
    """The up to `count` runs just before the newest (`runs` in time order)."""
    return list(runs[max(len(runs) - 1 - count, 0) : -1])


def evaluate_trend(
    checks: Iterable[Check], runs: Sequence[Summary], count: int
) -> list[TrendOutcome]:
    """Each check on the newest of `runs` (in time order, two or more) against the
    median of the `count` runs before it."""
    earlier, newest = baseline_of(runs, count), runs[-1]
    judged = []
    for check in checks:
        baseline = median_of(measure(run, check.metric, check.scope) for run in earlier)
        value = measure(newest, check.metric, check.scope)
        judged.append(TrendOutcome(judge_change(check, baseline, value), baseline, value))
    return judged


def median_of(values: Iterable[float | None]) -> float | None:
    """The median of the values measured; a run with no value (no response, so no p95)
    is left out rather than counted as 0. None when no run has one."""
    known = [value for value in values if value is not None]
    return float(statistics.median(known)) if known else None
