"""Pass/fail checks over a Summary: `--ensure` expressions and `config.ensure`.

Every check is parsed and its metric (and endpoint) checked against the plan *before*
any traffic is sent: a typo is an error with a suggestion, never a silent pass.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import PlanError, Pos, Problem
from ..metrics.periods import PERCENTILES, Histogram
from ..plan.expr import Condition
from ..plan.ir import LoopStep, ParallelStep, Plan, Request, Step
from ..results.summary import Endpoint, Summary

OPERATORS = ("<=", ">=", "==", "!=", "<", ">")
STATS = ("min", "max", "mean", "count", *(name for name, _ in PERCENTILES))
SHORTHANDS = {s: f"http.response_time.{s}" for s in STATS if s != "count"}
SHORTHANDS.update(
    {
        "error_rate": "error_rate",
        "user_failure_rate": "user_failure_rate",
        "rps": "http.request_rate",
    }
)
# Measured over the whole run, not a counter or histogram: their units are fractions.
RATES = ("error_rate", "user_failure_rate")
HISTOGRAMS = (
    "http.response_time",
    *(f"http.response_time.{c}xx" for c in "12345"),
    "vusers.session_length",
    "yamlload.arrival_lag",
    "http.ttfb",
    "http.dns",
    "http.tcp",
    "http.tls",
    "yamlload.active_users",
)
COUNTERS = (
    "vusers.created",
    "vusers.completed",
    "vusers.failed",
    "vusers.skipped",
    "vusers.interrupted",
    "yamlload.iterations",
    "yamlload.cpu_ms",
    "http.requests",
    "http.responses",
    "http.requests_failed",
    "http.requests_interrupted",
    "http.downloaded_bytes",
    "plugins.expect.ok",
    "plugins.expect.failed",
    "apdex.satisfied",
    "apdex.tolerated",
    "apdex.frustrated",
    "apdex.score",
)
# Names whose last part is open: any status code, error name, scenario or check kind.
OPEN_PREFIXES = (
    "http.codes.",
    "errors.",
    "vusers.created_by_name.",
    "plugins.expect.ok.",
    "plugins.expect.failed.",
)
ENSURE_OPTION = Pos("--ensure")
# The check every plan with `expect` gets: no expectation failed.
EXPECT_CHECK = "plugins.expect.failed == 0"
# The generator fell behind when users started later than this (p99, ms).
DEFAULT_MAX_LAG_MS = 100.0

_EXPRESSION = re.compile(
    r"^\s*(?P<metric>[^<>=!]+?)\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<value>[-+]?[0-9.]+(?:[eE][-+]?\d+)?)\s*(?P<unit>ms|s|%|pp)?\s*$"
)


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


@dataclass(frozen=True)
class Outcome:
    check: Check
    value: float | None
    ok: bool
    # For a condition: the value of each metric it names, so a failure shows why.
    operands: tuple[tuple[str, float | None], ...] = ()

    @property
    def verdict(self) -> str:
        if self.ok:
            return "ok"
        return "fail" if self.check.strict else "warn"


# --------------------------------------------------------------------------- parsing


def parse_ensure(text: str, pos: Pos = ENSURE_OPTION, relative: bool = False) -> Check:
    """`p95<500`, `error_rate<1%`, `GET /orders: p99<=1.5s`, `vusers.failed==0`."""
    scope, body = _split_scope(text)
    found = _EXPRESSION.match(body)
    if found is None:
        raise _ensure_error(text, pos, _why_not(body))
    metric = found.group("metric").strip()
    unit = found.group("unit")
    value = float(found.group("value"))
    if relative:
        if not found.group("value").startswith(("+", "-")) or unit not in ("%", "pp", "ms"):
            raise _ensure_error(text, pos, "a comparison limit is a change: +10%, +0.5pp or +50ms")
        return Check(
            text,
            SHORTHANDS.get(metric, metric),
            found.group("op"),
            value,
            scope,
            relative=unit,
            pos=pos,
        )
    full = SHORTHANDS.get(metric, metric)
    return Check(
        text,
        full,
        found.group("op"),
        _in_metric_units(full, value, unit, text, pos),
        scope,
        pos=pos,
    )


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
    is_rate = metric.endswith(RATES)
    if unit == "%":
        if not is_rate:
            raise _ensure_error(
                text, pos, f"'%' only goes with error_rate or user_failure_rate, not {metric}"
            )
        return value / 100.0
    if unit in ("ms", "s"):
        if not _is_time(metric):
            raise _ensure_error(text, pos, f"{unit!r} only goes with a time metric, not {metric}")
        return value * 1000.0 if unit == "s" else value
    if unit == "pp":
        raise _ensure_error(text, pos, "'pp' is for `yamlload compare` thresholds")
    return value


def _is_time(metric: str) -> bool:
    base, _, stat = metric.rpartition(".")
    return stat in STATS and stat != "count" and (base in HISTOGRAMS or base == "")


def _ensure_error(text: str, pos: Pos, why: str) -> PlanError:
    return PlanError([Problem(pos, f"ensure {text!r}: {why}")])


def checks_from_plan(plan: Plan) -> list[Check]:
    """Artillery's `config.ensure` forms, already read by the compiler, as checks; and,
    as Artillery's expect plugin does, a failed expectation fails the run."""
    checks: list[Check] = []
    if plan.expect_default_200 or any(
        r.expects for steps in _flows(plan) for r in _requests(steps)
    ):
        checks.append(Check(EXPECT_CHECK, "plugins.expect.failed", "==", 0.0, pos=Pos("expect")))
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
        elif threshold.metric == "error_rate":
            # Artillery's maxErrorRate: failed users, in percent.
            limit = (threshold.limit or 0.0) / 100.0
            checks.append(
                Check(threshold.source, "user_failure_rate", "<=", limit, pos=threshold.pos)
            )
        elif threshold.metric is not None:
            metric = SHORTHANDS.get(threshold.metric, threshold.metric)
            checks.append(
                Check(
                    threshold.source,
                    metric,
                    threshold.op or "<",
                    threshold.limit or 0.0,
                    pos=threshold.pos,
                )
            )
    return checks


# --------------------------------------------------------------------------- names


def endpoint_names(plan: Plan) -> set[str]:
    return {r.label for steps in _flows(plan) for r in _requests(steps)}


def _flows(plan: Plan) -> tuple[tuple[Step, ...], ...]:
    return (plan.before, plan.after, *(s.flow for s in plan.scenarios))


def _requests(steps: Iterable[Step]) -> Iterator[Request]:
    for step in steps:
        if isinstance(step, Request):
            yield step
        elif isinstance(step, LoopStep | ParallelStep):
            yield from _requests(step.steps)


def known_metric(metric: str) -> bool:
    if metric in (*RATES, "http.request_rate") or metric in COUNTERS:
        return True
    if any(metric.startswith(p) and len(metric) > len(p) for p in OPEN_PREFIXES):
        return True
    base, _, stat = metric.rpartition(".")
    return stat in STATS and base in HISTOGRAMS


def _endpoint_metric(metric: str) -> bool:
    if metric == "user_failure_rate":
        return False  # users belong to scenarios, not endpoints
    if metric in ("error_rate", "http.request_rate", "requests") or metric in SHORTHANDS.values():
        return True
    return metric.startswith(("codes.", "errors.")) and len(metric.split(".", 1)[1]) > 0


def _all_metric_names() -> list[str]:
    names = [*COUNTERS, *RATES, "http.request_rate", *SHORTHANDS]
    names += [f"{h}.{s}" for h in HISTOGRAMS for s in STATS]
    return names


def check_names(checks: list[Check], plan: Plan) -> None:
    """Every metric and endpoint a check names must exist in this plan."""
    problems: list[Problem] = []
    endpoints = endpoint_names(plan)
    for check in checks:
        metrics = sorted(check.condition.names()) if check.condition else [check.metric]
        for metric in metrics:
            if check.scope is None and not known_metric(SHORTHANDS.get(metric, metric)):
                problems.append(Problem(check.pos, f"ensure {check.source!r}: {_unknown(metric)}"))
            elif metric.startswith("apdex.") and plan.apdex_threshold_ms is None:
                problems.append(
                    Problem(
                        check.pos,
                        f"ensure {check.source!r}: {metric} needs the apdex plugin "
                        "(config.plugins.apdex: {threshold: 500})",
                    )
                )
            elif check.scope is not None and not _endpoint_metric(metric):
                problems.append(
                    Problem(
                        check.pos,
                        f"ensure {check.source!r}: {metric!r} is not a per-endpoint metric "
                        "(use p95, error_rate, rps, requests, codes.NNN, errors.NAME)",
                    )
                )
        if check.scope is not None and check.scope not in endpoints:
            problems.append(_no_endpoint(check, sorted(endpoints), "in the plan"))
    if problems:
        raise PlanError(problems)


def _no_endpoint(check: Check, known: list[str], where: str) -> Problem:
    hint = _guess(check.scope or "", known) or f" (endpoints: {', '.join(known)})"
    return Problem(check.pos, f"ensure {check.source!r}: no endpoint {check.scope!r} {where}{hint}")


def _unknown(metric: str) -> str:
    return f"unknown metric {metric!r}{_guess(metric, _all_metric_names())}"


def _guess(word: str, choices: list[str]) -> str:
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {found[0]!r}?" if found else ""


# --------------------------------------------------------------------------- evaluation


def measure(summary: Summary, metric: str, scope: str | None = None) -> float | None:
    """The value of a metric (or an endpoint's) in a summary; None when it has none."""
    if scope is not None:
        endpoint = next((e for e in summary.endpoints() if e.name == scope), None)
        return _endpoint_value(endpoint, metric) if endpoint else None
    # A rate over nothing is no data, so a run that sent nothing never passes a gate.
    if metric == "error_rate":
        return summary.error_rate if summary.counter("http.requests") else None
    if metric == "user_failure_rate":
        return summary.user_failure_rate if summary.counter("vusers.created") else None
    if metric == "http.request_rate":
        return summary.request_rate
    if metric == "apdex.score":
        return summary.apdex_score
    base, _, stat = metric.rpartition(".")
    if stat in STATS and base in HISTOGRAMS:
        return _stat(summary.histogram(base), stat)
    return float(summary.counter(metric))


def _stat(hist: Histogram, stat: str) -> float | None:
    if hist.count == 0:
        return 0.0 if stat == "count" else None
    if stat == "count":
        return float(hist.count)
    return float(hist.summary()[stat])


def _endpoint_value(endpoint: Endpoint, metric: str) -> float | None:
    if metric == "requests":
        return float(endpoint.requests)
    if metric == "error_rate":
        return endpoint.error_rate
    if metric == "http.request_rate":
        return endpoint.request_rate
    if metric.startswith("codes."):
        return float(endpoint.codes.get(metric[6:], 0))
    if metric.startswith("errors."):
        return float(endpoint.errors.get(metric[7:], 0))
    return _stat(endpoint.latency, metric.rpartition(".")[2])


def _compare(value: float, op: str, limit: float) -> bool:
    return {
        "<": value < limit,
        "<=": value <= limit,
        ">": value > limit,
        ">=": value >= limit,
        "==": math.isclose(value, limit, rel_tol=1e-9, abs_tol=1e-9),
        "!=": not math.isclose(value, limit, rel_tol=1e-9, abs_tol=1e-9),
    }[op]


def evaluate(checks: Iterable[Check], summary: Summary) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for check in checks:
        if check.condition is not None:
            names = sorted(check.condition.names())
            result = check.condition.evaluate(_metric_lookup(summary, names))
            operands = tuple((n, measure(summary, SHORTHANDS.get(n, n))) for n in names)
            outcomes.append(Outcome(check, None, bool(result), operands))
            continue
        value = measure(summary, check.metric, check.scope)
        ok = value is not None and _compare(value, check.op, check.limit)
        outcomes.append(Outcome(check, value, ok))
    return outcomes


def _metric_lookup(summary: Summary, names: Iterable[str]) -> Any:
    """Artillery's condition expressions name metrics with dots; serve them as a tree.
    The names a condition uses are measured like any check, so a counter that never
    fired reads as 0, not as missing."""
    tree: dict[str, Any] = {}

    def put(name: str, value: float) -> None:
        node = tree
        parts = name.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node.setdefault(parts[-1], value)

    for name, count in summary.aggregate.counters.items():
        put(name, float(count))
    for name, hist in summary.aggregate.histograms.items():
        for stat, value in hist.summary().items():
            put(f"{name}.{stat}", float(value))
    put("http.request_rate", summary.request_rate)
    put("error_rate", summary.error_rate)
    put("user_failure_rate", summary.user_failure_rate)
    for short, full in SHORTHANDS.items():
        measured = measure(summary, full)
        if short not in tree and measured is not None:
            tree[short] = measured
    for name in names:
        measured = measure(summary, SHORTHANDS.get(name, name))
        if measured is not None and "." in name:
            put(name, measured)
    return tree.get


def failed(outcomes: Iterable[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if not o.ok and o.check.strict]


def describe_limit(check: Check) -> str:
    if check.condition is not None:
        return "true"
    if check.relative:
        return f"{check.op} {check.limit:+g}{check.relative}"
    if check.metric.endswith(RATES):
        return f"{check.op} {check.limit * 100:g}%"
    unit = " ms" if _is_time(check.metric) else ""
    return f"{check.op} {check.limit:g}{unit}"


def describe_outcome(outcome: Outcome) -> str:
    """What was measured, as the checks tables show it; a condition shows its operands."""
    if outcome.check.condition is None:
        return describe_value(outcome.check, outcome.value)
    return ", ".join(
        f"{name} = {describe_value(Check(name, SHORTHANDS.get(name, name)), value)}"
        for name, value in outcome.operands
    )


def describe_value(check: Check, value: float | None) -> str:
    if check.condition is not None:
        return "-"
    if value is None:
        return "no data"
    if check.relative:
        return f"{value:+.2f}{check.relative}"
    if check.metric.endswith(RATES):
        return f"{value * 100:.2f}%"
    if _is_time(check.metric):
        return f"{value:.1f} ms"
    if check.metric == "http.request_rate":
        return f"{value:.1f}/s"
    return f"{value:g}"


# --------------------------------------------------------------------------- validity


# A shard that began this long after the shared --start-at did not run alongside the
# others (its schedule is shifted, so this is not arrival lag); below it, it was on time.
LATE_START_SECONDS = 1.0


def invalid_reasons(summary: Summary, max_lag_ms: float) -> list[str]:
    """Why this run's numbers cannot be trusted as a test of the target, if they can't.
    Besides the metrics, each worker entry can say so: a segment that `merge` did not get
    (`"missing": true`, see `_shard.MISSING_FROM_MERGE`) or that started late."""
    reasons: list[str] = []
    lag = summary.histogram("yamlload.arrival_lag")
    p99 = lag.percentile(0.99)
    if lag.count and p99 > max_lag_ms:
        reasons.append(
            f"the generator fell behind its schedule: arrival lag p99 = {p99:.0f} ms, "
            f"over --max-lag {max_lag_ms:g} ms (the load made was lower than planned)"
        )
    requests, responses = summary.counter("http.requests"), summary.counter("http.responses")
    if requests and not responses:
        errors = ", ".join(f"{k} × {v}" for k, v in summary.counters_with("errors.").items())
        reasons.append(f"could not reach the target at all: no request got a response ({errors})")
    workers = [w for w in summary.workers if isinstance(w, dict)]
    missing = [str(w.get("segment")) for w in workers if w.get("missing")]
    if len(missing) == 1:
        reasons.append(f"incomplete: segment {missing[0]} is missing")
    elif missing:
        listed = f"{', '.join(missing[:-1])} and {missing[-1]}"
        reasons.append(f"incomplete: segments {listed} are missing")
    for worker in workers:
        late = worker.get("late_start_s")
        if isinstance(late, int | float) and late >= LATE_START_SECONDS:
            reasons.append(f"segment {worker.get('segment')} started {late:.1f} s late")
    return reasons


# --------------------------------------------------------------------------- compare


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


COMPARED = (
    "http.requests",
    "http.request_rate",
    "error_rate",
    "vusers.failed",
    "p50",
    "p95",
    "p99",
    "max",
)


def deltas(baseline: Summary, current: Summary) -> list[Delta]:
    rows = [
        Delta(
            name,
            measure(baseline, SHORTHANDS.get(name, name)),
            measure(current, SHORTHANDS.get(name, name)),
        )
        for name in COMPARED
    ]
    names = sorted({e.name for e in baseline.endpoints()} | {e.name for e in current.endpoints()})
    for endpoint in names:
        for metric in ("http.response_time.p95", "error_rate"):
            short = "p95" if metric.endswith("p95") else metric
            rows.append(
                Delta(
                    f"{endpoint}: {short}",
                    measure(baseline, metric, endpoint),
                    measure(current, metric, endpoint),
                )
            )
    return rows


def evaluate_relative(
    checks: Iterable[Check], baseline: Summary, current: Summary
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for check in checks:
        delta = Delta(
            check.source,
            measure(baseline, check.metric, check.scope),
            measure(current, check.metric, check.scope),
        )
        if delta.change is None:
            outcomes.append(Outcome(check, None, False))
            continue
        if check.relative == "%":
            moved = delta.percent
        elif check.relative == "pp":
            moved = delta.change * 100.0  # fractions → percentage points
        else:
            moved = delta.change
        outcomes.append(
            Outcome(check, moved, moved is not None and _compare(moved, check.op, check.limit))
        )
    return outcomes


def check_compare_names(checks: list[Check], baseline: Summary, current: Summary) -> None:
    problems: list[Problem] = []
    endpoints = sorted(
        {e.name for e in baseline.endpoints()} | {e.name for e in current.endpoints()}
    )
    for check in checks:
        if check.relative == "pp" and not check.metric.endswith("error_rate"):
            problems.append(
                Problem(
                    check.pos,
                    f"ensure {check.source!r}: 'pp' (percentage points) goes with error_rate",
                )
            )
        if check.relative == "ms" and not _is_time(check.metric):
            problems.append(
                Problem(check.pos, f"ensure {check.source!r}: 'ms' goes with a time metric")
            )
        if check.scope is None and not known_metric(check.metric):
            problems.append(
                Problem(check.pos, f"ensure {check.source!r}: {_unknown(check.metric)}")
            )
        if check.scope is not None and check.scope not in endpoints:
            problems.append(_no_endpoint(check, endpoints, "in either report"))
    if problems:
        raise PlanError(problems)
