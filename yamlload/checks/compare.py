"""`yamlload compare`: two reports metric by metric and endpoint by endpoint, and
`--ensure` limits on the change (`p95<+10%`, `error_rate<+0.5pp`, `p99<+50ms`)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import PlanError, Problem
from ..metrics import names as n
from ..results.summary import Summary
from .measure import holds, measure
from .outcome import Outcome
from .parse import (
    ERROR_RATE,
    REQUEST_RATE,
    SHORTHANDS,
    Check,
    is_time,
    known_metric,
    no_endpoint,
    parse_ensure,
    unknown,
)

# The run-wide rows of the table, in order (shorthands or full metric names).
COMPARED = (n.REQUESTS, REQUEST_RATE, ERROR_RATE, n.USERS_FAILED, "p50", "p95", "p99", "max")
# Each endpoint's rows: (metric, the name its row shows).
COMPARED_PER_ENDPOINT = ((f"{n.RESPONSE_TIME}.p95", "p95"), (ERROR_RATE, ERROR_RATE))


@dataclass(frozen=True)
class Delta:
    name: str
    baseline: float | None
    current: float | None

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return self.current - self.baseline

    @property
    def percent(self) -> float | None:
        if self.change is None or self.baseline is None:
            return None
        if self.baseline == 0:
            return 0.0 if self.change == 0 else math.copysign(math.inf, self.change)
        return self.change / abs(self.baseline) * 100.0


def deltas(baseline: Summary, current: Summary) -> list[Delta]:
    rows = [
        Delta(
            name,
            measure(baseline, SHORTHANDS.get(name, name)),
            measure(current, SHORTHANDS.get(name, name)),
        )
        for name in COMPARED
    ]
    for endpoint in _endpoints(baseline, current):
        for metric, short in COMPARED_PER_ENDPOINT:
            rows.append(
                Delta(
                    f"{endpoint}: {short}",
                    measure(baseline, metric, endpoint),
                    measure(current, metric, endpoint),
                )
            )
    return rows


def _endpoints(*summaries: Summary) -> list[str]:
    return sorted({e.name for summary in summaries for e in summary.endpoints()})


def evaluate_relative(
    checks: Iterable[Check], baseline: Summary, current: Summary
) -> list[Outcome]:
    return [
        judge_change(
            check,
            measure(baseline, check.metric, check.scope),
            measure(current, check.metric, check.scope),
        )
        for check in checks
    ]


def judge_change(check: Check, baseline: float | None, current: float | None) -> Outcome:
    """A limit on the change (`p95<+10%`) judged from two values of its metric: one
    report's for `compare`, the median of earlier runs' for `trend`. No value on either
    side is a failure, as for an absolute check with no data."""
    delta = Delta(check.source, baseline, current)
    if delta.change is None:
        return Outcome(check, None, False)
    if check.relative == "%":
        moved = delta.percent
    elif check.relative == "pp":
        moved = delta.change * 100.0  # fractions → percentage points
    else:
        moved = delta.change
    return Outcome(check, moved, moved is not None and holds(moved, check.op, check.limit))


def relative_checks(
    ensure: Iterable[str], *summaries: Summary, where: str = "in either report"
) -> list[Check]:
    """The --ensure limits on the change (`compare`, `trend`), checked against the
    reports they will read: every problem with any of them said at once (PlanError)."""
    problems: list[Problem] = []
    checks: list[Check] = []
    for expression in ensure:
        try:
            checks.append(parse_ensure(expression, relative=True))
        except PlanError as exc:
            problems.extend(exc.problems)
    try:
        check_compare_names(checks, *summaries, where=where)
    except PlanError as exc:
        problems.extend(exc.problems)
    if problems:
        raise PlanError(problems)
    return checks


def check_compare_names(
    checks: list[Check], *summaries: Summary, where: str = "in either report"
) -> None:
    """Every problem with the limits on the change, against the reports they read."""
    problems: list[Problem] = []
    endpoints = _endpoints(*summaries)
    for check in checks:
        if not math.isfinite(check.limit):  # `+1e999%` reads as infinity: it always held
            problems.append(check.problem("the limit must be a finite number"))
        if check.relative == "pp" and not check.metric.endswith(ERROR_RATE):
            problems.append(check.problem("'pp' (percentage points) goes with error_rate"))
        if check.relative == "ms" and not is_time(check.metric):
            problems.append(check.problem("'ms' goes with a time metric"))
        if check.scope is None and not known_metric(check.metric):
            problems.append(check.problem(unknown(check.metric)))
        if check.scope is not None and check.scope not in endpoints:
            problems.append(no_endpoint(check, endpoints, where))
    if problems:
        raise PlanError(problems)
