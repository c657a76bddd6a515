"""A judged check, and how checks and their outcomes read in every table and file."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..results.drift import worsening_words
from ..results.grading import letter
from ..units import format_count
from .parse import (
    CAPACITY,
    DRIFT_PREFIX,
    ERROR_RATE,
    RATES,
    REQUEST_RATE,
    SHORTHANDS,
    Check,
    is_drift,
    is_grade,
    is_time,
)

# What a capacity that is only a lower bound can show: that the capacity is above a
# limit, never below or equal to one (the real capacity may be any higher).
LOWER_BOUND_OPS = (">", ">=")


@dataclass(frozen=True)
class Outcome:
    check: Check
    value: float | None
    ok: bool
    # For a condition: the value of each metric it names, so a failure shows why.
    operands: tuple[tuple[str, float | None], ...] = ()
    # Why a check has no value, when "no data" would not say (a run too short for drift).
    note: str | None = None
    # The value is a lower bound (a capacity search that never broke, or was stopped by
    # the generator): its measured text says "at least", as the answer does.
    at_least: bool = False

    @property
    def verdict(self) -> str:
        if self.ok:
            return "ok"
        return "fail" if self.check.strict else "warn"


def failed(outcomes: Iterable[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if not o.ok and o.check.strict]


def describe_limit(check: Check) -> str:
    if check.condition is not None:
        return "true"
    if check.relative:
        return f"{check.op} {check.limit:+g}{check.relative}"
    if is_grade(check):
        return f"{check.op} {letter(check.limit)}"
    if is_drift(check.metric):
        return f"{check.op} {format_count(check.limit * 100)}{_drift_unit(check)}"
    if check.metric.endswith(RATES):
        return f"{check.op} {format_count(check.limit * 100)}%"
    unit = " ms" if is_time(check.metric) else " users/s" if check.metric == CAPACITY else ""
    return f"{check.op} {format_count(check.limit)}{unit}"


def describe_outcome(outcome: Outcome) -> str:
    """What was measured, as the checks tables show it; a condition shows its operands."""
    if outcome.check.condition is None:
        if outcome.value is None and outcome.note:
            return outcome.note
        measured = describe_value(outcome.check, outcome.value)
        if not (outcome.at_least and outcome.value is not None):
            return measured
        if outcome.check.op in LOWER_BOUND_OPS:
            return f"at least {measured}"
        return f"at least {measured}: a lower bound cannot show {outcome.check.source}"
    return ", ".join(
        f"{name} = {describe_value(Check(name, SHORTHANDS.get(name, name)), value)}"
        for name, value in outcome.operands
    )


def describe_value(check: Check, value: float | None) -> str:
    if check.condition is not None:
        return "-"
    if check.metric == CAPACITY and not check.relative:  # a change is in its own unit
        # as the answer says it (`7.23 users/s`): a search's rates are few digits
        return "no rate met every SLO" if value is None else f"{value:g} users/s"
    if value is None:
        return "no data"
    if check.relative:
        return f"{value:+.2f}{check.relative}"
    if is_grade(check):
        return f"grade {letter(value)}"
    if is_drift(check.metric):  # the worsening, and the drift table's change beside it
        return worsening_words(check.metric[len(DRIFT_PREFIX) :], value)
    if check.metric.endswith(RATES):
        return f"{value * 100:.2f}%"
    if is_time(check.metric):
        return f"{value:.1f} ms"
    if check.metric == REQUEST_RATE:
        return f"{value:,.1f}/s"
    return format_count(value)


def _drift_unit(check: Check) -> str:
    """The error rate's drift is a difference of rates (percentage points); the others'
    a relative change (%)."""
    return " pp" if check.metric == DRIFT_PREFIX + ERROR_RATE else "%"
