"""Drift in words (issue 22's new-user review), pure: Summaries built from synthetic
periods, no load. Readiness reads flagged drift (a run flagged "possible leak" is not
"ready"), and the drift table's change column and a `drift.…` check's measured value
show the same number with the same meaning (worse or better), on the console and in
Markdown."""

from __future__ import annotations

import re

import pytest

from tests.test_drift_unit import drift_of, period
from yamlload.checks.evaluate import evaluate
from yamlload.checks.grades import DEFAULT_TABLE, grade_summary, readiness
from yamlload.checks.outcome import describe_outcome
from yamlload.checks.parse import parse_ensure
from yamlload.metrics.names import REQUESTS, USERS_CREATED
from yamlload.metrics.periods import Period
from yamlload.plan.ir import DriftSettings
from yamlload.report.console import format_checks, format_summary
from yamlload.report.drift_words import drift_rows
from yamlload.report.markdown import markdown_summary
from yamlload.results.drift import ERROR_RATE, P95, RPS
from yamlload.results.grading import NEEDS_OPTIMIZATION, NOT_READY, READY, Grading, MetricGrade
from yamlload.results.run import PhaseRun
from yamlload.results.summary import Summary

PERIODS = 30  # 5 minutes of 10-second periods
CHANGE_COLUMN = 3


def summary_of(periods: list[Period]) -> Summary:
    for each in periods:  # a user per request, so that the user failure rate is graded
        each.metrics.count(USERS_CREATED, each.metrics.counters.get(REQUESTS, 0))
    duration = PERIODS * 10.0
    return Summary(
        source="plan.yml",
        target="http://127.0.0.1:1",
        started_at="2026-01-01T00:00:00Z",
        duration=duration,
        periods=periods,
        phases=[PhaseRun(0, "soak", 0.0, duration, 0.0)],
        drift_settings=DriftSettings(min_seconds=60.0),
    )


def growing_latency() -> list[Period]:
    return [period(i, 100 + 2 * i) for i in range(PERIODS)]


def falling_throughput() -> list[Period]:
    return [period(i, 100, requests=100 - 2 * i) for i in range(PERIODS)]


def rising_throughput() -> list[Period]:
    return [period(i, 100, requests=40 + 2 * i) for i in range(PERIODS)]


def growing_errors() -> list[Period]:
    return [period(i, 100, requests=100, failed=i // 5) for i in range(PERIODS)]


def steady() -> list[Period]:
    return [period(i, 100) for i in range(PERIODS)]


# ------------------------------------------------------------------ 1. readiness reads drift


def test_flagged_drift_makes_a_run_graded_a_need_optimization_and_names_the_drift() -> None:
    grading = grade_summary(summary_of(growing_latency()), DEFAULT_TABLE)
    # grades stay on the measured metrics: p95 ~150 ms and no error is still A
    assert grading.overall == "A"
    assert grading.verdict == NEEDS_OPTIMIZATION
    # the rule names the metric, its change as the drift table shows it, and the phase
    change = next(r[CHANGE_COLUMN] for r in drift_rows(summary_of(growing_latency()).drift()))
    assert change.endswith(" (worse)")
    assert grading.rule == (
        f"p95 drifted {change.split()[0]} over phase 'soak' (flagged): "
        "a long run should hold steady"
    )


def test_a_steady_run_is_still_ready() -> None:
    grading = grade_summary(summary_of(steady()), DEFAULT_TABLE)
    assert grading.verdict == READY and "drift" not in grading.rule


def test_a_run_too_short_for_drift_is_judged_without_it() -> None:
    short = summary_of(growing_latency())
    short.drift_settings = DriftSettings(min_seconds=3600.0)
    assert grade_summary(short, DEFAULT_TABLE).verdict == READY


def grades(*pairs: tuple[str, str]) -> list[MetricGrade]:
    return [MetricGrade(key, 1.0, grade) for key, grade in pairs]


def test_not_ready_still_wins_over_flagged_drift() -> None:
    drift = drift_of(growing_latency())
    assert drift.flagged()
    verdict, rule = readiness(grades(("p95", "C")), 0.0, drift)
    assert verdict == NOT_READY and "p95 is C" in rule
    verdict, rule = readiness(grades(("p95", "A")), 0.07, drift)
    assert verdict == NOT_READY and "7.00% > 5%" in rule


def test_a_failure_rate_of_1_to_5_percent_and_drift_are_both_named() -> None:
    drift = drift_of(growing_latency())
    verdict, rule = readiness(grades(("p95", "A")), 0.02, drift)
    assert verdict == NEEDS_OPTIMIZATION
    assert rule.startswith("failure rate 2.00% is 1–5% (ready needs < 1%); p95 drifted +")
    # without drift, the old rule word for word
    assert readiness(grades(("p95", "A")), 0.02) == (
        NEEDS_OPTIMIZATION,
        "failure rate 2.00% is 1–5% (ready needs < 1%)",
    )


def test_every_flagged_metric_is_named() -> None:
    periods = [period(i, 100 + 2 * i, memory=200 + 4 * i) for i in range(PERIODS)]
    rule = grade_summary(summary_of(periods), DEFAULT_TABLE).rule
    assert re.fullmatch(
        r"p95 drifted \+[\d.]+% and monitor\.api\.memory_mb \+[\d.]+% over phase 'soak' "
        r"\(flagged\): a long run should hold steady",
        rule,
    ), rule


def test_the_readiness_json_keeps_its_shape_and_reads_back() -> None:
    grading = grade_summary(summary_of(growing_latency()), DEFAULT_TABLE)
    data = grading.to_json()
    assert set(data) == {"overall", "readiness", "by_metric", "table"}
    assert set(data["readiness"]) == {"verdict", "rule"}
    assert Grading.from_json(data) == grading


def test_the_console_says_needs_optimization_beside_the_flag() -> None:
    summary = summary_of(growing_latency())
    summary.grade = grade_summary(summary, DEFAULT_TABLE)
    text = format_summary(summary)
    assert "drift: p95 grew" in text
    assert "Readiness: needs optimization (" in text and "Readiness: ready" not in text


# ------------------------------------------------ 2. the table and the check agree in sign


def change_cell(summary: Summary, metric: str) -> str:
    return next(r[CHANGE_COLUMN] for r in drift_rows(summary.drift()) if r[0] == metric)


def measured(summary: Summary, check: str) -> str:
    (outcome,) = evaluate([parse_ensure(check)], summary)
    return describe_outcome(outcome)


@pytest.mark.parametrize(
    ("periods", "metric", "check", "word", "verb"),
    [
        (growing_latency, P95, "drift.p95<10%", "worse", "worsened"),
        (falling_throughput, RPS, "drift.rps<10%", "worse", "worsened"),
        (rising_throughput, RPS, "drift.rps<10%", "better", "improved"),
        (growing_errors, ERROR_RATE, "drift.error_rate<1%", "worse", "worsened"),
    ],
)
def test_the_table_and_the_check_show_the_same_change_with_the_same_meaning(
    periods: object, metric: str, check: str, word: str, verb: str
) -> None:
    summary = summary_of(periods())  # type: ignore[operator]
    cell = change_cell(summary, metric)
    value = measured(summary, check)
    signed, said = re.fullmatch(r"([+-]?[\d.,]+ ?(?:%|pp)) \((\w+)\)", cell).groups()  # type: ignore[union-attr]
    assert said == word
    # the check says how much it worsened (or improved), then the table's own change
    assert value == f"{verb} {signed.lstrip('+-')} ({metric} {signed})"


def test_throughput_falling_20_percent_reads_worse_in_both() -> None:
    summary = summary_of([period(i, 100, requests=100 if i < 10 else 80) for i in range(PERIODS)])
    assert change_cell(summary, RPS) == "-20.0% (worse)"
    assert measured(summary, "drift.rps<10%") == "worsened 20.0% (rps -20.0%)"
    # p95 did not move: no sign, no direction
    assert change_cell(summary, P95) == "0.0% (steady)"
    assert measured(summary, "drift.p95<10%") == "steady (p95 0.0%)"


def test_the_console_and_markdown_tables_show_what_the_check_shows() -> None:
    summary = summary_of(falling_throughput())
    outcomes = evaluate([parse_ensure("drift.rps<10%")], summary)
    cell = change_cell(summary, RPS)
    signed = cell.split(" ")[0]
    checks = format_checks(outcomes)
    for text in (format_summary(summary), markdown_summary(summary, outcomes, [])):
        assert cell in text
    assert f"worsened {signed.lstrip('-')} (rps {signed})" in checks


@pytest.mark.parametrize("last", [50.0, 0.0001])
def test_a_series_that_started_at_0_is_shown_but_not_flagged(last: float) -> None:
    """A relative change from 0 is undefined: flagging any rise (0 → 0.0001 at a 1000%
    threshold) could not be silenced by the threshold. Shown, not flagged; gate such a
    series on its value (monitor.api.memory_mb.max<10)."""
    periods = [period(i, 100, memory=0.0 if i < 10 else last) for i in range(PERIODS)]
    summary = summary_of(periods)
    assert change_cell(summary, "monitor.api.memory_mb") == "from 0 (worse)"
    drift = summary.drift()
    assert drift is not None and drift.flagged() == []
    grading = grade_summary(summary, DEFAULT_TABLE)
    assert grading.verdict == READY, grading.rule
