"""Grades and readiness (issue 18), pure: a run's graded metrics measured by the same
`measure()` as `--ensure`, each given a letter by its bands, the overall letter (the
worst), and the readiness verdict of the suites users come from. Also config.grades
read into a table, every mistake placed where the plan wrote it."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from itertools import pairwise

from ..errors import PlanError, Pos, Problem
from ..metrics import names as n
from ..plan.ir import GradeRow, LoopStep, Plan, Step, WsSend
from ..results.drift import Drift, MetricDrift, signed_change
from ..results.grading import (
    GRADES,
    HIGHER,
    LOWER,
    NEEDS_OPTIMIZATION,
    NOT_READY,
    READY,
    SCOPE_SEPARATOR,
    Bands,
    Grading,
    MetricGrade,
)
from ..results.summary import Summary
from .measure import measure
from .parse import (
    ERROR_RATE,
    RATES,
    REQUEST_RATE,
    SHORTHANDS,
    USER_FAILURE_RATE,
    Check,
    check_names,
    checks_for_run,
    checks_from_plan,
    fraction_warnings,
    is_time,
    parse_limit,
    typed_in_a_flag,
)

# The suites' table: response time < 500 / 1000 / 2000 / 5000 ms and errors < 0.1 /
# 0.5 / 1 / 5 %, for failed requests and for failed users (a capture that matched
# nothing fails a user whose requests were all answered). Rates are fractions, as
# measure() gives them. Throughput is graded only when a plan sets its bands: what is
# good depends on the system.
FAILURE_BANDS = (0.001, 0.005, 0.01, 0.05)
FAILURE_ROWS: tuple[Bands, ...] = (
    Bands(ERROR_RATE, FAILURE_BANDS, LOWER),
    Bands(USER_FAILURE_RATE, FAILURE_BANDS, LOWER),
)
DEFAULT_TABLE: tuple[Bands, ...] = (
    Bands(f"{n.RESPONSE_TIME}.p95", (500.0, 1000.0, 2000.0, 5000.0), LOWER),
    *FAILURE_ROWS,
)
# A plan with no HTTP request, only ws scenarios (issue 19): failed users, and the
# reply time (p95, the same bands) when a step waits for replies.
WS_REPLY_ROW = Bands(f"{n.WS_RESPONSE_TIME}.p95", (500.0, 1000.0, 2000.0, 5000.0), LOWER)
WS_FAILURE_ROWS: tuple[Bands, ...] = (Bands(USER_FAILURE_RATE, FAILURE_BANDS, LOWER),)
# Metrics of which more is better; every other (times, errors, failures, a monitored
# series such as CPU or memory) is better lower. A plan's `better:` overrides either.
HIGHER_IS_BETTER = frozenset(
    {
        REQUEST_RATE,
        n.APDEX_SCORE,
        n.REQUESTS,
        n.RESPONSES,
        n.USERS_COMPLETED,
        n.ITERATIONS,
        n.EXPECT_OK,
        "requests",  # an endpoint's
    }
)
# Readiness, as the suites word it: ready is every graded metric B or better and
# under 1% failed requests; not ready is over 5% failed or a metric graded C or lower
# (issue 18's words: "Not ready: grades C or lower, > 5% failures"). A drift flagged over
# the longest steady phase (issue 22) needs optimization: the suites' "consistent
# performance" and "no memory leaks in the endurance test".
READY_GRADES = ("A", "B")
NOT_READY_GRADES = ("C", "D", "F")
READY_ERROR_RATE = 0.01
NOT_READY_ERROR_RATE = 0.05
# How the console, the reports and the readiness rule name the usual metrics.
SHORT_NAMES = {
    **{full: short for short, full in SHORTHANDS.items() if short not in ("median", "rps")},
    ERROR_RATE: "error rate",
    USER_FAILURE_RATE: "user failure rate",
    REQUEST_RATE: "rps",
}


# --------------------------------------------------------------------------- grading


def better_for(metric: str) -> str:
    """Which way a metric is better, by its name."""
    if metric in HIGHER_IS_BETTER or metric.startswith(n.EXPECT_OK + "."):
        return HIGHER
    return LOWER


def grade_of(value: float | None, bands: Bands) -> str:
    """The letter of a value: A when it beats the first limit (strictly: 500 ms is B,
    not A), … D when it beats the last, F otherwise, and F when nothing was measured."""
    if value is None or math.isnan(value):
        return GRADES[-1]
    for grade, limit in zip(GRADES, bands.limits, strict=False):
        if (value < limit) if bands.better == LOWER else (value > limit):
            return grade
    return GRADES[-1]


def overall_grade(grades: Iterable[str]) -> str:
    """The worst of the letters, as the suites grade a run."""
    return max(grades, key=GRADES.index)


def label(key: str) -> str:
    """A graded metric as people say it: `p95`, `error rate`, `GET /a: p95`."""
    scope, sep, metric = key.rpartition(SCOPE_SEPARATOR)
    short = SHORT_NAMES.get(metric, metric)
    return f"{scope}{sep}{short}" if sep else short


def flag_warnings(checks: Iterable[Check]) -> list[str]:
    """What `run` and `capacity` say of their flags' checks before any traffic: a rate
    limit of 1 without its % (`error_rate<1`), and a limit the wrong way round (`p95>1`)."""
    checks = list(checks)
    return fraction_warnings(checks) + wrong_way_warnings(checks)


def wrong_way_warnings(checks: Iterable[Check]) -> list[str]:
    """A flag's limit on a time or a failure rate written as a lower one (`p95>1`
    holds while the target is slow), or a failure rate's limit no rate can break: said,
    not refused. A plan's own checks are the author's, and are not second-guessed."""
    warnings = []
    for check in checks:
        if not typed_in_a_flag(check):
            continue
        why = _wrong_way(check)
        if why is not None and not fraction_warnings([check]):  # said once: a missing %
            warnings.append(str(check.problem(why)))
    return warnings


def _wrong_way(check: Check) -> str | None:
    name = check.source.rpartition(":")[2].strip()
    short = re.split(r"[<>=!]", name, maxsplit=1)[0].strip()
    rate = check.metric in RATES
    if rate and check.op in ("<", "<=") and check.limit >= 1:
        if check.op == "<" and check.limit == 1:
            return "holds unless every request failed"
        return "always holds: no rate is above 100%"
    if check.op not in (">", ">=") or not (rate or is_time(check.metric)):
        return None
    limit = name.split(check.op, 1)[1].strip()
    shown = f"{check.limit:g} ms" if not rate else limit
    if rate:
        return (
            f"holds while {short} is above {shown}, so it fails a target with fewer "
            f"errors; a limit on failures is an upper one: {short}<{limit}"
        )
    return (
        f"holds while {short} is above {shown}, so it fails a faster target; a limit on "
        f"a time is an upper one: {short}<{limit}"
    )


def readiness(
    by_metric: Sequence[MetricGrade], failure_rate: float | None, drift: Drift | None = None
) -> tuple[str, str]:
    """The verdict and the rule that decided it, in words. Not ready wins over needs
    optimization, which wins over ready. `failure_rate` is the larger of failed requests
    and failed users: the rate rules judge it, so the failure rates' own grades do not
    (a run at 2% errors, graded D, needs optimization; it is not "C or lower"). A flagged
    drift needs optimization too: "ready" beside "possible leak" would answer twice."""
    if failure_rate is None:
        return NOT_READY, "no request was sent: nothing to judge"
    rate = f"{failure_rate * 100:.2f}%"
    if failure_rate > NOT_READY_ERROR_RATE:
        return NOT_READY, f"failure rate {rate} > {NOT_READY_ERROR_RATE:.0%}"
    # the worst of them decides (an F says more than a C), the first of equals
    poor = min(
        (m for m in by_metric if m.grade in NOT_READY_GRADES and m.key not in RATES),
        key=lambda m: -NOT_READY_GRADES.index(m.grade),
        default=None,
    )
    if poor is not None:
        return NOT_READY, f"{label(poor.key)} is {poor.grade} (C or lower is not ready)"
    needs = (
        [f"failure rate {rate} is 1–5% (ready needs < 1%)"]
        if failure_rate >= READY_ERROR_RATE
        else []
    )
    drifted = drift_rule(drift) if drift is not None else None
    needs += [drifted] if drifted is not None else []
    if needs:
        return NEEDS_OPTIMIZATION, "; ".join(needs)
    return (
        READY,
        f"every graded metric is B or better and failure rate {rate} < {READY_ERROR_RATE:.0%}",
    )


def drift_rule(drift: Drift) -> str | None:
    """Readiness's words for the flagged drift, each change as the drift table shows it:
    "p95 drifted +38.0% over phase 'soak' (flagged): a long run should hold steady";
    None when nothing was flagged."""
    flagged = drift.flagged()
    if not flagged:
        return None
    first, *others = flagged
    moved = [
        f"{first.metric} drifted {_moved(first)}",
        *(f"{m.metric} {_moved(m)}" for m in others),
    ]
    listed = f"{', '.join(moved[:-1])} and {moved[-1]}" if others else moved[0]
    return f"{listed} over phase {drift.phase!r} (flagged): a long run should hold steady"


def _moved(metric: MetricDrift) -> str:
    """A flagged metric's change as the drift table shows it ("+38.0%"); "from 0 to 12"
    when a relative change is undefined."""
    change = metric.change
    if change is None:
        return f"from 0 to {metric.last:,.4g}"
    return signed_change(metric.metric, change)


def failure_rate(summary: Summary) -> float | None:
    """What readiness calls the failure rate: the larger of failed requests and failed
    users; None when no request was sent."""
    errors = measure(summary, ERROR_RATE)
    if errors is None:
        if nothing_measured(summary):
            return None
        # no HTTP request: a ws run's failures are its users' (its errors fail users)
        sockets = summary.counters_with("websocket.") or summary.counters_with(n.ERRORS)
        return measure(summary, USER_FAILURE_RATE) if sockets else None
    return max(errors, measure(summary, USER_FAILURE_RATE) or 0.0)


def nothing_measured(summary: Summary) -> bool:
    """No HTTP request was sent and no WebSocket connection opened (a ws run stopped
    before any handshake ended, say): no row has a value, so no grade is A."""
    return not summary.counter(n.REQUESTS) and not summary.counter(n.WS_SESSIONS)


def grade_summary(summary: Summary, table: Sequence[Bands]) -> Grading:
    """Every row of `table` measured on `summary` and graded, the worst letter, and the
    readiness verdict (which reads the run's error rate whether it is graded or not).
    A run that measured nothing (`nothing_measured`) has no value in any row: F."""
    empty = nothing_measured(summary)
    by_metric = tuple(
        MetricGrade(row.key, value, grade_of(value, row))
        for row in table
        for value in (None if empty else measure(summary, row.metric, row.scope),)
    )
    verdict, rule = readiness(by_metric, failure_rate(summary), summary.drift())
    return Grading(
        overall=overall_grade(m.grade for m in by_metric),
        verdict=verdict,
        rule=rule,
        by_metric=by_metric,
        table=tuple(table),
    )


# --------------------------------------------------------------------------- the table


def checks_and_table(
    plan: Plan, expressions: Iterable[str] = (), *, plan_only: bool = False
) -> tuple[list[Check], tuple[Bands, ...]]:
    """A run's checks (`checks_for_run`; the plan's alone with `plan_only`, as
    `validate` checks them) and its grade table, every problem with either raised at
    once (a PlanError), before any traffic."""
    problems: list[Problem] = []
    checks: list[Check] = []
    table: tuple[Bands, ...] = DEFAULT_TABLE
    try:
        if plan_only:
            checks = checks_from_plan(plan)
            check_names(checks, plan)
        else:
            checks = checks_for_run(plan, expressions)
    except PlanError as exc:
        problems += exc.problems
    try:
        table = grade_table(plan)
    except PlanError as exc:
        problems += exc.problems
    if problems:
        raise PlanError(problems)
    return checks, table


def grade_table(plan: Plan) -> tuple[Bands, ...]:
    """The table a plan is graded on: the default one, or config.grades (with the
    default's rows kept beside it when `default: true`). PlanError with every problem."""
    settings = plan.grades
    default, failure_rows = _defaults(plan)
    if settings is None:
        return default
    problems: list[Problem] = []
    rows: dict[str, Bands] = {}
    for row in settings.rows:
        try:
            bands = _bands(row, plan)
        except PlanError as exc:
            problems += exc.problems
            continue
        if bands.key in rows:
            problems.append(Problem(row.pos, f"{row.where}: grades {bands.key} a second time"))
        rows[bands.key] = bands
    if problems:
        raise PlanError(problems)
    # failures are always graded (a plan may set their bands): a table of latency alone
    # passed grade>=B with every request failing
    defaults = default if settings.keep_default else failure_rows
    kept = [b for b in defaults if b.key not in rows]
    # the plan's own rows first, unless it asked for the default table with them
    table = (*kept, *rows.values()) if settings.keep_default else (*rows.values(), *kept)
    if not table:
        why = "config.grades: grades nothing: name a metric with its bands, or default: true"
        raise PlanError([Problem(settings.pos, why)])
    return table


def _defaults(plan: Plan) -> tuple[tuple[Bands, ...], tuple[Bands, ...]]:
    """The default table and the failure rows always graded: a plan that sends no HTTP
    request (only ws scenarios) is graded on its users and its replies instead."""
    if not plan.has_ws or any(True for _ in plan.requests()):
        return DEFAULT_TABLE, FAILURE_ROWS
    replies = any(_awaits_reply(s.flow) for s in plan.scenarios)
    table = (WS_REPLY_ROW, *WS_FAILURE_ROWS) if replies else WS_FAILURE_ROWS
    return table, WS_FAILURE_ROWS


def _awaits_reply(steps: tuple[Step, ...]) -> bool:
    return any(
        (isinstance(step, WsSend) and step.awaits_reply)
        or (isinstance(step, LoopStep) and _awaits_reply(step.steps))
        for step in steps
    )


def _bands(row: GradeRow, plan: Plan) -> Bands:
    head, sep, tail = row.key.rpartition(":")
    scope = head.strip() if sep and head.strip() else None
    written = tail.strip() if scope else row.key
    metric = SHORTHANDS.get(written, written)
    check_names([Check(row.key, metric, scope=scope, pos=row.pos, where=row.where)], plan)
    better = row.better or better_for(metric)
    limits = tuple(
        _limit(row, metric, written_band, pos)
        for written_band, pos in zip(row.bands, _positions(row), strict=True)
    )
    _check_order(row, limits, better)
    return Bands(metric, limits, better, scope)


def _positions(row: GradeRow) -> tuple[Pos, ...]:
    return row.band_pos if len(row.band_pos) == len(row.bands) else (row.pos,) * len(row.bands)


def _limit(row: GradeRow, metric: str, written: float | str, pos: Pos) -> float:
    try:
        value = written if isinstance(written, float) else parse_limit(metric, written)
    except ValueError as exc:
        raise PlanError([Problem(pos, f"{row.where}: {exc}")]) from None
    if not math.isfinite(value):
        raise PlanError([Problem(pos, f"{row.where}: a band is a finite number, not {written}")])
    if metric.endswith(RATES) and not 0 <= value <= 1:
        raise PlanError(
            [
                Problem(
                    pos,
                    f"{row.where}: a rate is a fraction from 0 to 1: write {value:g}% "
                    f'as "{value:g}%" or {value / 100:g}',
                )
            ]
        )
    return value


def _check_order(row: GradeRow, limits: tuple[float, ...], better: str) -> None:
    pairs = list(pairwise(limits))
    if better == LOWER and all(a < b for a, b in pairs):
        return
    if better == HIGHER and all(a > b for a, b in pairs):
        return
    shown = ", ".join(f"{limit:g}" for limit in limits)
    how = (
        "go up from A to D, such as [500, 1000, 2000, 5000] (lower is better)"
        if better == LOWER
        else "go down from A to D, such as [200, 150, 100, 50] (higher is better)"
    )
    raise PlanError([Problem(row.pos, f"{row.where}: the bands [{shown}] must {how}")])
