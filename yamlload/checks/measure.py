"""A metric's value in a Summary, the run's or one endpoint's, and how a value holds
against a limit: what `evaluate` and `compare` both read."""

from __future__ import annotations

import math

from ..metrics import names as n
from ..metrics.histogram import Gauge, Histogram
from ..plan.ir import MONITOR_PREFIX
from ..results.grading import score
from ..results.summary import Endpoint, Summary
from .parse import (
    CAPACITY,
    DRIFT_PREFIX,
    ENDPOINT_CODES,
    ENDPOINT_ERRORS,
    ERROR_RATE,
    GAUGE_STATS,
    GRADE,
    HISTOGRAMS,
    REQUEST_RATE,
    STATS,
    USER_FAILURE_RATE,
)

# `==` and `!=` compare measured floats: closer than this is equal.
TOLERANCE = 1e-9


def measure(summary: Summary, metric: str, scope: str | None = None) -> float | None:
    """The value of a metric (or an endpoint's) in a summary; None when it has none."""
    if scope is not None:
        endpoint = next((e for e in summary.endpoints() if e.name == scope), None)
        return _endpoint_value(endpoint, metric) if endpoint else None
    # A rate over nothing is no data, so a run that sent nothing never passes a gate.
    if metric == ERROR_RATE:
        return summary.error_rate if summary.counter(n.REQUESTS) else None
    if metric == USER_FAILURE_RATE:
        return summary.user_failure_rate if summary.counter(n.USERS_CREATED) else None
    if metric == REQUEST_RATE:
        return summary.request_rate
    if metric in n.WS_RATES:
        return summary.rate(n.WS_RATES[metric])
    if metric == n.APDEX_SCORE:
        return summary.apdex_score
    if metric.startswith(DRIFT_PREFIX):  # judged on its worsening; None: why_none says why
        found = summary.drift().metric(metric[len(DRIFT_PREFIX) :])
        return found.worsening if found is not None else None
    if metric == CAPACITY:  # yamlload capacity's answer; None: no report section, no rate
        answer = summary.capacity
        return answer.max_rate if answer is not None else None
    if metric == GRADE:  # the overall grade as a score (A 4 … F 0); None until graded
        return float(score(summary.grade.overall)) if summary.grade is not None else None
    base, _, stat = metric.rpartition(".")
    if stat in STATS and base in HISTOGRAMS:
        return stat_of(summary.histogram(base), stat)
    gauge = summary.aggregate.gauges.get(base)
    if stat in GAUGE_STATS and (gauge is not None or base.startswith(MONITOR_PREFIX)):
        # a series never sampled (its source unreachable) has no value: the check fails
        return gauge_stat(gauge, stat)
    return float(summary.counter(metric))


def gauge_stat(gauge: Gauge | None, stat: str) -> float | None:
    if gauge is None or not gauge.count:
        return None
    return float({"min": gauge.min, "mean": gauge.mean, "max": gauge.max, "last": gauge.last}[stat])


def stat_of(hist: Histogram, stat: str) -> float | None:
    if hist.count == 0:
        return 0.0 if stat == "count" else None
    if stat == "count":
        return float(hist.count)
    return float(hist.summary()[stat])


def _endpoint_value(endpoint: Endpoint, metric: str) -> float | None:
    if metric == "requests":
        return float(endpoint.requests)
    if metric == ERROR_RATE:
        return endpoint.error_rate
    if metric == REQUEST_RATE:
        return endpoint.request_rate
    if metric.startswith(ENDPOINT_CODES):
        return float(endpoint.codes.get(metric[len(ENDPOINT_CODES) :], 0))
    if metric.startswith(ENDPOINT_ERRORS):
        return float(endpoint.errors.get(metric[len(ENDPOINT_ERRORS) :], 0))
    return stat_of(endpoint.latency, metric.rpartition(".")[2])


def holds(value: float, op: str, limit: float) -> bool:
    """`value op limit`, with `==` and `!=` within TOLERANCE."""
    return {
        "<": value < limit,
        "<=": value <= limit,
        ">": value > limit,
        ">=": value >= limit,
        "==": math.isclose(value, limit, rel_tol=TOLERANCE, abs_tol=TOLERANCE),
        "!=": not math.isclose(value, limit, rel_tol=TOLERANCE, abs_tol=TOLERANCE),
    }[op]
