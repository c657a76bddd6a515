"""Pass/fail checks as written: `--ensure` expressions and `config.ensure`, parsed, and
their metric (and endpoint) checked against the plan *before* any traffic is sent: a
typo is an error with a suggestion, never a silent pass."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import PlanError, Pos, Problem
from ..metrics import names as n
from ..metrics.histogram import PERCENTILES
from ..plan.expr import Condition
from ..plan.ir import MONITOR_PREFIX, Plan
from ..results.drift import FIXED_METRICS as DRIFT_METRICS
from ..results.grading import GRADES, score

OPERATORS = ("<=", ">=", "==", "!=", "<", ">")
STATS = ("min", "max", "mean", "count", *(name for name, _ in PERCENTILES))
REQUEST_RATE = "http.request_rate"
ERROR_RATE = "error_rate"
USER_FAILURE_RATE = "user_failure_rate"
SHORTHANDS = {s: f"{n.RESPONSE_TIME}.{s}" for s in STATS if s != "count"}
SHORTHANDS.update(
    {ERROR_RATE: ERROR_RATE, USER_FAILURE_RATE: USER_FAILURE_RATE, "rps": REQUEST_RATE}
)
# Measured over the whole run, not a counter or histogram: their units are fractions.
RATES = (ERROR_RATE, USER_FAILURE_RATE)
# Per-second rates of a counter, worked out like http.request_rate (issue 19).
COUNTER_RATES = tuple(n.WS_RATES)
HISTOGRAMS = (
    n.RESPONSE_TIME,
    *n.RESPONSE_TIME_BY_CLASS,
    n.SESSION_LENGTH,
    n.ARRIVAL_LAG,
    n.TTFB,
    n.DNS,
    n.TCP,
    n.TLS,
    n.ACTIVE_USERS,
    n.RSS_MB,
    *n.WS_HISTOGRAMS,
)
# Histograms of things other than milliseconds: 'ms' and 's' do not go with them.
NOT_TIMES = (n.ACTIVE_USERS, n.RSS_MB)
COUNTERS = (
    n.USERS_CREATED,
    n.USERS_COMPLETED,
    n.USERS_FAILED,
    n.USERS_SKIPPED,
    n.USERS_INTERRUPTED,
    n.ITERATIONS,
    n.CPU_MS,
    n.REQUESTS,
    n.RESPONSES,
    n.REQUESTS_FAILED,
    n.REQUESTS_INTERRUPTED,
    n.DOWNLOADED_BYTES,
    n.EXPECT_OK,
    n.EXPECT_FAILED,
    n.APDEX_SATISFIED,
    n.APDEX_TOLERATED,
    n.APDEX_FRUSTRATED,
    n.APDEX_SCORE,
    n.WS_MESSAGES_SENT,
    n.WS_MESSAGES_RECEIVED,
    n.WS_MESSAGES_UNREAD,
    n.WS_SESSIONS,
    n.WS_SESSIONS_COMPLETED,
    n.WS_SESSIONS_FAILED,
    n.WS_SESSIONS_INTERRUPTED,
    n.WS_CONNECT_FAILED,
)
# Names whose last part is open: any status code, error name, scenario or check kind.
OPEN_PREFIXES = (
    n.CODES,
    n.ERRORS,
    n.USERS_CREATED_BY_NAME,
    n.EXPECT_OK + ".",
    n.EXPECT_FAILED + ".",
)
# What a check in an endpoint's scope may name, besides the response-time shorthands.
ENDPOINT_CODES = "codes."
ENDPOINT_ERRORS = "errors."
ENDPOINT_KINDS = (ENDPOINT_CODES, ENDPOINT_ERRORS)
# A monitored series' statistics: monitor.<source>.<metric>.<stat> (issue 17).
GAUGE_STATS = ("min", "mean", "max", "last")
ENSURE_OPTION = Pos("--ensure")
# The check every plan with `expect` gets: no expectation failed.
EXPECT_CHECK = f"{n.EXPECT_FAILED} == 0"

# The run's overall grade (issue 18): `--ensure 'grade>=B'`, A best.
GRADE = "grade"
# Drift over the longest steady phase (issue 22): `drift.p95<10%`, judged on its
# worsening (results/drift.py), a fraction like error_rate.
DRIFT_PREFIX = "drift."
# The highest rate `yamlload capacity` found sustainable (issue 22): `capacity>=200`.
CAPACITY = "capacity"

_NUMBER = r"[-+]?[0-9.]+(?:[eE][-+]?\d+)?"
_EXPRESSION = re.compile(
    rf"^\s*(?P<metric>[^<>=!]+?)\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<value>{_NUMBER})\s*(?P<unit>ms|s|%|pp)?\s*$"
)
_GRADE_EXPRESSION = re.compile(
    rf"^\s*{GRADE}\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<grade>\S*)\s*$", re.IGNORECASE
)
# A limit alone, as config.grades writes its bands: "500ms", "1.5s", "1%".
_LIMIT = re.compile(rf"^\s*(?P<value>{_NUMBER})\s*(?P<unit>ms|s|%)?\s*$")


@dataclass(frozen=True)
class Check:
    """One pass/fail check: `metric op limit`, in an endpoint's scope or the run's.

    `limit` is in the metric's own unit: ms for times, a fraction for error_rate.
    `condition` is set instead for Artillery's free `conditions` expressions.
    """

    source: str
    metric: str = ""
    op: str = "<"
    limit: float = 0.0
    scope: str | None = None
    strict: bool = True
    condition: Condition | None = None
    relative: str | None = None  # compare only: "%" (of the baseline), "pp" or "ms" (absolute)
    pos: Pos = ENSURE_OPTION
    # config.ensure's `abortOnFail`: a failure judged while the run goes stops it.
    abort: bool = False
    # How a problem with it names it, when not as `ensure 'SOURCE'` (a config.grades row).
    where: str | None = None

    def problem(self, why: str) -> Problem:
        """What is wrong with this check, naming it once: `--ensure 'p59<5': why` for a
        flag, `plan.yml:4:7: ensure 'p59<5': why` in a plan."""
        if self.where is None:
            return check_problem(self.source, self.pos, why)
        return Problem(self.pos, f"{self.where}: {why}")


def typed_in_a_flag(check: Check) -> bool:
    """Whether a check is a flag's own comparison (`--ensure 'p95<500'`), the kind the
    warnings about how it is written judge: not a plan's, a condition nor a change."""
    return _is_flag(check.pos) and check.condition is None and not check.relative


def _is_flag(pos: Pos) -> bool:
    return pos.line <= 0 and pos.file.startswith("--")


def check_problem(text: str, pos: Pos, why: str) -> Problem:
    """A problem with one check as written: a flag names it as given on the command line
    (`--slo 'p95<<5': one operator only`), a plan as `ensure 'p95<<5'` at its place."""
    if _is_flag(pos):
        return Problem(Pos(f"{pos.file} {text!r}"), why)
    return Problem(pos, f"ensure {text!r}: {why}")


# --------------------------------------------------------------------------- parsing


def parse_ensure(text: str, pos: Pos = ENSURE_OPTION, relative: bool = False) -> Check:
    """`p95<500`, `error_rate<1%`, `GET /orders: p99<=1.5s`, `vusers.failed==0`."""
    scope, body = _split_scope(text)
    graded = _GRADE_EXPRESSION.match(body)
    if graded is not None:
        return _grade_check(text, graded, scope, pos, relative)
    found = _EXPRESSION.match(body)
    if found is None:
        raise _ensure_error(text, pos, _why_not(body))
    metric = found.group("metric").strip()
    unit = found.group("unit")
    value = float(found.group("value"))
    if not math.isfinite(value):  # 1e999: a limit of inf, which every value passes
        raise _ensure_error(text, pos, "the limit must be a finite number")
    full = SHORTHANDS.get(metric, metric)
    if relative:
        if not found.group("value").startswith(("+", "-")) or unit not in ("%", "pp", "ms"):
            raise _ensure_error(text, pos, "a comparison limit is a change: +10%, +0.5pp or +50ms")
        return Check(text, full, found.group("op"), value, scope, relative=unit, pos=pos)
    if unit is None and full.endswith(RATES) and value > 1:
        raise _ensure_error(text, pos, _bare_fraction(text, value, ", which no rate reaches"))
    limit = _in_metric_units(full, value, unit, text, pos)
    return Check(text, full, found.group("op"), limit, scope, pos=pos)


def _bare_fraction(text: str, value: float, why: str = "") -> str:
    """How a rate limit written without its % reads: `error_rate<1` is 100%."""
    return f"reads {value:g} as a fraction ({value * 100:g}%){why}; did you mean {text.strip()}%?"


def fraction_warnings(checks: Iterable[Check]) -> list[str]:
    """A flag's rate compared to exactly 1 without its %: a fraction of 100%, which
    holds (or fails) whatever the run does; above 1 is refused by parse_ensure."""
    warnings = []
    for check in checks:
        found = _EXPRESSION.match(_split_scope(check.source)[1])
        if not typed_in_a_flag(check) or found is None:
            continue
        bare = found.group("unit") is None and float(found.group("value")) == 1
        if bare and check.metric.endswith(RATES):
            warning = check.problem(_bare_fraction(check.source, 1.0))
            warnings.append(str(warning))
    return warnings


def _grade_check(
    text: str, found: re.Match[str], scope: str | None, pos: Pos, relative: bool
) -> Check:
    """`grade>=B`: the overall grade as a score (A 4 … F 0), so `>=` means as good or
    better; the grade letter is read whatever its case."""
    if relative:
        raise _ensure_error(text, pos, "the grade is not compared between reports")
    written = found.group("grade").upper()
    if written not in GRADES:
        raise _ensure_error(
            text,
            pos,
            f"unknown grade {found.group('grade')!r} (grades: {', '.join(GRADES)}; A is best)",
        )
    return Check(text, GRADE, found.group("op"), float(score(written)), scope, pos=pos)


def is_grade(check: Check) -> bool:
    """Whether a check gates on the overall grade (`grade>=B`)."""
    return check.metric == GRADE and check.condition is None


def _split_scope(text: str) -> tuple[str | None, str]:
    head, sep, tail = text.rpartition(":")
    if sep and head.strip() and re.search(r"(<|>|=)", tail) and not re.search(r"(<|>|=)", head):
        return head.strip(), tail
    return None, text


def _why_not(body: str) -> str:
    if not any(op in body for op in OPERATORS):
        return "expected METRIC OPERATOR LIMIT, such as p95<500 (operators: < <= > >= == !=)"
    if re.search(r"[<>=!]{3,}", body) or re.search(r"[<>]\s*[<>]", body):
        return "one operator only: < <= > >= == !="
    return "the limit must be a number, optionally with a unit: 500, 500ms, 1.5s, 1%"


def _in_metric_units(metric: str, value: float, unit: str | None, text: str, pos: Pos) -> float:
    try:
        return in_metric_units(metric, value, unit)
    except ValueError as exc:
        raise _ensure_error(text, pos, str(exc)) from None


def _in_percent(metric: str) -> bool:
    """A monitored series whose values are percentages (monitor.api.cpu_percent.max)."""
    base, _, stat = metric.rpartition(".")
    return metric.startswith(MONITOR_PREFIX) and stat in GAUGE_STATS and base.endswith("_percent")


def in_metric_units(metric: str, value: float, unit: str | None) -> float:
    """A limit written with `unit` in the metric's own unit (ms; a fraction for rates).
    ValueError says why the unit does not go with the metric."""
    if metric.startswith(DRIFT_PREFIX) and unit in ("ms", "s", "pp"):
        raise ValueError(f"a drift limit is a percentage such as 10%, not {unit!r}")
    if metric.startswith(DRIFT_PREFIX) and unit is None:  # 10 is not 1,000% nor 10%
        raise ValueError(
            f"a drift limit is a percentage, written with its %: write {metric}<{value:g}%"
        )
    if unit == "%":
        if metric.startswith(DRIFT_PREFIX):
            return value / 100.0
        if _in_percent(metric):
            return value  # already in %: cpu_percent<80% is cpu_percent<80
        if not metric.startswith(MONITOR_PREFIX) and not known_metric(
            SHORTHANDS.get(metric, metric)
        ):
            raise ValueError(unknown(metric))  # the typo is the metric, not the '%'
        if not metric.endswith(RATES):
            raise ValueError(
                f"'%' only goes with error_rate, user_failure_rate or a monitored "
                f"*_percent series, not {metric}"
            )
        return value / 100.0
    if unit in ("ms", "s"):
        if not is_time(metric):
            raise ValueError(f"{unit!r} only goes with a time metric, not {metric}")
        return value * 1000.0 if unit == "s" else value
    if unit == "pp":
        raise ValueError("'pp' is for `yamlload compare` thresholds")
    return value


def parse_limit(metric: str, written: str) -> float:
    """A limit written alone ("500ms", "1%", "0.01"), in the metric's own unit, as
    `--ensure` reads it; ValueError says what is wrong with it."""
    found = _LIMIT.match(written)
    if found is None:
        raise ValueError(
            f"{written!r} is not a number with an optional unit (500, 500ms, 1.5s, 1%)"
        )
    value = float(found.group("value"))
    if not math.isfinite(value):
        raise ValueError(f"{written!r} is not a finite number")
    return in_metric_units(metric, value, found.group("unit"))


def is_time(metric: str) -> bool:
    """Whether a metric is measured in milliseconds (a histogram's stat, or a shorthand)."""
    base, _, stat = metric.rpartition(".")
    timed = base not in NOT_TIMES and (base in HISTOGRAMS or base == "")
    return stat in STATS and stat != "count" and timed


def _ensure_error(text: str, pos: Pos, why: str) -> PlanError:
    return PlanError([check_problem(text, pos, why)])


def checks_from_plan(plan: Plan) -> list[Check]:
    """Artillery's `config.ensure` forms, already read by the compiler, as checks; and,
    as Artillery's expect plugin does, a failed expectation fails the run."""
    checks: list[Check] = []
    if plan.expect_default_200 or any(r.expects for r in plan.requests()):
        checks.append(Check(EXPECT_CHECK, n.EXPECT_FAILED, "==", 0.0, pos=Pos("expect")))
    for threshold in plan.ensure:
        if threshold.condition is not None:
            checks.append(
                Check(
                    threshold.source,
                    condition=threshold.condition,
                    strict=threshold.strict,
                    pos=threshold.pos,
                )
            )
        elif threshold.metric == ERROR_RATE:
            # Artillery's maxErrorRate: failed users, in percent.
            limit = (threshold.limit or 0.0) / 100.0
            checks.append(
                Check(threshold.source, USER_FAILURE_RATE, "<=", limit, pos=threshold.pos)
            )
        elif threshold.metric is not None:
            metric = SHORTHANDS.get(threshold.metric, threshold.metric)
            limit = threshold.limit or 0.0
            op = threshold.op or "<"
            abort = threshold.abort_on_fail
            # a threshold on the grade is refused by check_names, named as written
            refused = metric == GRADE or is_drift(metric)  # said by check_names
            where = f"config.ensure {threshold.source!r}" if refused else None
            checks.append(
                Check(
                    threshold.source, metric, op, limit, pos=threshold.pos, abort=abort, where=where
                )
            )
    return checks


def checks_for_run(plan: Plan, expressions: Iterable[str]) -> list[Check]:
    """The plan's checks and the `--ensure` ones, every problem with any of them
    reported at once (a PlanError), before any traffic. A check on `capacity` is
    refused, never left to fail: only `yamlload capacity` measures it."""
    problems: list[Problem] = []
    checks = checks_from_plan(plan)
    for expression in expressions:
        try:
            checks.append(parse_ensure(expression))
        except PlanError as exc:
            problems.extend(exc.problems)
    try:
        check_names(checks, plan)
    except PlanError as exc:
        problems.extend(exc.problems)
    problems += [_not_measured_here(c) for c in checks if c.metric == CAPACITY]
    if problems:
        raise PlanError(problems)
    return checks


# --------------------------------------------------------------------------- abort


def judged_live(check: Check) -> bool:
    """Whether a check can fail on the run so far and mean it: an upper bound (`<`,
    `<=`, `== 0`). A lower bound (`rps>=100`) fails while a run ramps up and a
    condition may be either: those are judged at the end only."""
    if check.condition is not None or is_grade(check) or is_drift(check.metric):
        return False  # the grade and drift are worked out once, on the whole run
    return check.op in ("<", "<=") or (check.op == "==" and check.limit == 0)


def abort_checks(checks: Iterable[Check], every: bool) -> list[Check]:
    """The checks whose failure, judged while the run goes, stops it: each one that can
    be judged live (`every`: --abort-on-fail), else those marked `abortOnFail`."""
    return [c for c in checks if (every or c.abort) and judged_live(c)]


# --------------------------------------------------------------------------- names


def endpoint_names(plan: Plan) -> set[str]:
    return {r.label for r in plan.requests()}


def known_metric(metric: str) -> bool:
    if metric in (*RATES, REQUEST_RATE, CAPACITY, *COUNTER_RATES) or metric in COUNTERS:
        return True
    if any(metric.startswith(p) and len(metric) > len(p) for p in OPEN_PREFIXES):
        return True
    base, _, stat = metric.rpartition(".")
    return stat in STATS and base in HISTOGRAMS


def _endpoint_metric(metric: str) -> bool:
    if metric == USER_FAILURE_RATE:
        return False  # users belong to scenarios, not endpoints
    if metric in (ERROR_RATE, REQUEST_RATE, "requests") or metric in SHORTHANDS.values():
        return True
    return metric.startswith(ENDPOINT_KINDS) and len(metric.split(".", 1)[1]) > 0


def _all_metric_names() -> list[str]:
    names = [*COUNTERS, *RATES, REQUEST_RATE, CAPACITY, *COUNTER_RATES, *SHORTHANDS]
    names += [f"{h}.{s}" for h in HISTOGRAMS for s in STATS]
    return names


def check_names(checks: list[Check], plan: Plan) -> None:
    """Every metric and endpoint a check names must exist in this plan."""
    problems: list[Problem] = []
    endpoints = endpoint_names(plan)
    for check in checks:
        metrics = sorted(check.condition.names()) if check.condition else [check.metric]
        problems += [p for m in metrics if (p := _metric_problem(check, m, plan)) is not None]
        if check.scope is not None and check.scope not in endpoints:
            problems.append(no_endpoint(check, sorted(endpoints), "in the plan"))
    if problems:
        raise PlanError(problems)


def _metric_problem(check: Check, metric: str, plan: Plan) -> Problem | None:
    """What is wrong with one metric a check names, in this plan, if anything."""
    if metric == GRADE:
        return _grade_problem(check)
    if is_drift(metric):
        why = drift_problem(metric, plan, check)
        return None if why is None else check.problem(why)
    if metric.startswith(MONITOR_PREFIX):
        why = monitor_problem(metric, plan)
        if why is None and check.scope is not None:
            why = f"{metric!r} is not a per-endpoint metric"
        return None if why is None else check.problem(why)
    if check.scope is None and not known_metric(SHORTHANDS.get(metric, metric)):
        return check.problem(unknown(metric))
    if metric.startswith("apdex.") and plan.apdex_threshold_ms is None:
        return check.problem(
            f"{metric} needs the apdex plugin (config.plugins.apdex: {{threshold: 500}})"
        )
    if check.scope is not None and not _endpoint_metric(metric):
        return check.problem(
            f"{metric!r} is not a per-endpoint metric "
            "(use p95, error_rate, rps, requests, codes.NNN, errors.NAME)"
        )
    return None


def _not_measured_here(check: Check) -> Problem:
    return check.problem(
        "capacity is found by `yamlload capacity PLAN --slo ...` "
        "(docs/limits.md), not by this command"
    )


def _grade_problem(check: Check) -> Problem | None:
    """The grade is the run's, gated on as `--ensure 'grade>=B'` only."""
    if not is_grade(check) or check.where is not None:
        why = "the grade is gated on with --ensure 'grade>=B', not graded or used in a condition"
    elif check.scope is not None:
        why = "the grade is the whole run's, not an endpoint's: drop the endpoint"
    else:
        return None
    return check.problem(why)


def is_drift(metric: str) -> bool:
    """Whether a check gates on drift over the steady phase (`drift.p95<10%`)."""
    return metric.startswith(DRIFT_PREFIX)


def drift_names(plan: Plan) -> list[str]:
    """Every `drift.NAME` a check may gate on in this plan."""
    series = [series for source in plan.monitor for series in source.series]
    return [f"{DRIFT_PREFIX}{name}" for name in (*DRIFT_METRICS, *series)]


def drift_problem(metric: str, plan: Plan, check: Check) -> str | None:
    """Why `metric` names no drift this plan measures (None when it does)."""
    if check.condition is not None or check.where is not None:
        return (
            "drift is gated on with --ensure 'drift.p95<10%', "
            "not graded, in config.ensure or in a condition"
        )
    if check.scope is not None:
        return "drift is the whole run's, not an endpoint's: drop the endpoint"
    known = drift_names(plan)
    if metric in known:
        return None
    name = metric[len(DRIFT_PREFIX) :]
    if name.startswith(MONITOR_PREFIX) and not plan.monitor:
        return f"{metric!r} names a monitored series, but the plan has no config.monitor"
    return f"unknown drift metric {metric!r}{_guess(metric, known)} (drift of: {', '.join(known)})"


def monitor_names(plan: Plan) -> list[str]:
    """Every name a check may give a monitored series in this plan: each series with a
    statistic, and each source's scrape_errors counter."""
    names: list[str] = []
    for source in plan.monitor:
        names += [f"{series}.{stat}" for series in source.series for stat in GAUGE_STATS]
        names.append(source.scrape_errors)
    return names


def monitor_problem(metric: str, plan: Plan) -> str | None:
    """Why `metric` names no monitored series of this plan (None when it does)."""
    if not plan.monitor:
        return f"{metric!r} names a monitored series, but the plan has no config.monitor"
    known = monitor_names(plan)
    if metric in known:
        return None
    stats = ", ".join(GAUGE_STATS)
    if metric in {series for source in plan.monitor for series in source.series}:
        return f"{metric!r} needs a statistic: {metric}.max (one of {stats})"
    base, _, stat = metric.rpartition(".")
    if f"{base}.max" in known:
        return f"{metric!r}: {stat!r} is not a statistic of a monitored series (one of {stats})"
    return f"unknown monitored series {metric!r}{_guess(metric, known)}"


def no_endpoint(check: Check, known: list[str], where: str) -> Problem:
    hint = _guess(check.scope or "", known) or f" (endpoints: {', '.join(known)})"
    return check.problem(f"no endpoint {check.scope!r} {where}{hint}")


def unknown(metric: str) -> str:
    return f"unknown metric {metric!r}{_guess(metric, _all_metric_names())}"


def _guess(word: str, choices: list[str]) -> str:
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {found[0]!r}?" if found else ""
