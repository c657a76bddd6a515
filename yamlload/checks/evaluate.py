"""Checks judged against a Summary: each check's measured value and whether it held.

Parsing is in `parse`, measuring in `measure`, outcomes in `outcome`, a run's validity
in `validity`, and `yamlload compare`'s deltas in `compare`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..results.summary import Summary
from .measure import gauge_stat, holds, measure
from .outcome import LOWER_BOUND_OPS, Outcome
from .parse import (
    CAPACITY,
    DRIFT_PREFIX,
    ERROR_RATE,
    GAUGE_STATS,
    REQUEST_RATE,
    SHORTHANDS,
    USER_FAILURE_RATE,
    Check,
    is_drift,
)


def evaluate(checks: Iterable[Check], summary: Summary) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for check in checks:
        if check.condition is not None:
            names = sorted(check.condition.names())
            result = check.condition.evaluate(_metric_lookup(summary, names))
            operands = tuple((n, measure(summary, SHORTHANDS.get(n, n))) for n in names)
            # a metric with no data fails the condition, as it fails a threshold: a
            # missing value must not make `not (x > 5)` true
            measured = all(value is not None for _, value in operands)
            outcomes.append(Outcome(check, None, measured and bool(result), operands))
            continue
        value = measure(summary, check.metric, check.scope)
        at_least = _at_least(summary, check)
        # a lower bound proves `capacity>N`, never `<`, `==` or `!=`: the capacity may be
        # any rate above it
        provable = not at_least or check.op in LOWER_BOUND_OPS
        ok = value is not None and provable and holds(value, check.op, check.limit)
        note = _why_no_value(summary, check, value)
        outcomes.append(Outcome(check, value, ok, note=note, at_least=at_least))
    return outcomes


def _at_least(summary: Summary, check: Check) -> bool:
    """Whether the check's value is a capacity that is only a lower bound."""
    found = summary.capacity
    if found is None or check.metric != CAPACITY or check.relative:
        return False
    return found.max_rate_is_lower_bound


def _why_no_value(summary: Summary, check: Check, value: float | None) -> str | None:
    """Why a drift check has no value (too short a run, no steady phase), or a capacity
    (the search was interrupted, no step could be judged): it fails, and its table says
    why rather than "no data" or "no rate met every SLO"."""
    if value is not None:
        return None
    if check.metric == CAPACITY and summary.capacity is not None:
        return summary.capacity.why_no_rate()
    if not is_drift(check.metric):
        return None
    return summary.drift().why_none(check.metric[len(DRIFT_PREFIX) :])


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
    for name, gauge in summary.aggregate.gauges.items():
        if gauge.count:
            for stat in GAUGE_STATS:
                measured = gauge_stat(gauge, stat)
                if measured is not None:
                    put(f"{name}.{stat}", measured)
    put(REQUEST_RATE, summary.request_rate)
    put(ERROR_RATE, summary.error_rate)
    put(USER_FAILURE_RATE, summary.user_failure_rate)
    for short, full in SHORTHANDS.items():
        measured = measure(summary, full)
        if short not in tree and measured is not None:
            tree[short] = measured
    for name in names:
        measured = measure(summary, SHORTHANDS.get(name, name))
        if measured is not None and "." in name:
            put(name, measured)
    return tree.get
