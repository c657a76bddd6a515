"""Grades (issue 18), pure: each band's edges, both directions, the overall grade, the
readiness rules, the grade of a Summary and the report's `grade` read back."""

from __future__ import annotations

import json

import pytest

from yamlload.checks.grades import (
    DEFAULT_TABLE,
    better_for,
    grade_of,
    grade_summary,
    overall_grade,
    readiness,
)
from yamlload.checks.parse import parse_ensure
from yamlload.errors import PlanError
from yamlload.metrics.histogram import Metrics
from yamlload.metrics.periods import Period
from yamlload.results.grading import (
    HIGHER,
    LOWER,
    NEEDS_OPTIMIZATION,
    NOT_READY,
    READY,
    Bands,
    Grading,
    MetricGrade,
    score,
)
from yamlload.results.summary import Summary

P95, ERRORS, USER_FAILURES = DEFAULT_TABLE
THROUGHPUT = Bands("http.request_rate", (200.0, 150.0, 100.0, 50.0), HIGHER)


def test_the_default_table_is_the_suites() -> None:
    assert Bands("http.response_time.p95", (500.0, 1000.0, 2000.0, 5000.0), LOWER) == P95
    assert Bands("error_rate", (0.001, 0.005, 0.01, 0.05), LOWER) == ERRORS


@pytest.mark.parametrize(
    ("ms", "grade"),
    [
        (0.0, "A"),
        (499.9, "A"),
        (500.0, "B"),  # exactly 500 ms is Good, not Excellent: A is < 500
        (999.9, "B"),
        (1000.0, "C"),
        (1999.9, "C"),
        (2000.0, "D"),
        (4999.9, "D"),
        (5000.0, "F"),
        (120_000.0, "F"),
    ],
)
def test_p95_band_edges(ms: float, grade: str) -> None:
    assert grade_of(ms, P95) == grade


@pytest.mark.parametrize(
    ("rate", "grade"),
    [
        (0.0, "A"),
        (0.000999, "A"),
        (0.001, "B"),  # 0.1% exactly
        (0.004999, "B"),
        (0.005, "C"),
        (0.0099, "C"),
        (0.01, "D"),  # 1%
        (0.0499, "D"),
        (0.05, "F"),  # 5%
        (1.0, "F"),
    ],
)
def test_error_rate_band_edges(rate: float, grade: str) -> None:
    assert grade_of(rate, ERRORS) == grade


@pytest.mark.parametrize(
    ("rps", "grade"),
    [
        (1000.0, "A"),
        (200.1, "A"),
        (200.0, "B"),  # A is more than 200
        (150.1, "B"),
        (150.0, "C"),
        (100.0, "D"),
        (50.1, "D"),
        (50.0, "F"),
        (0.0, "F"),
    ],
)
def test_higher_is_better_band_edges(rps: float, grade: str) -> None:
    assert grade_of(rps, THROUGHPUT) == grade


def test_no_value_grades_f() -> None:
    assert grade_of(None, P95) == "F"
    assert grade_of(None, THROUGHPUT) == "F"


def test_direction_is_implied_by_the_metric() -> None:
    assert better_for("http.request_rate") == HIGHER
    assert better_for("apdex.score") == HIGHER
    assert better_for("http.response_time.p95") == LOWER
    assert better_for("error_rate") == LOWER
    assert better_for("monitor.shop.cpu_percent.max") == LOWER


@pytest.mark.parametrize(
    ("grades", "worst"),
    [(["A"], "A"), (["A", "B"], "B"), (["B", "A", "C"], "C"), (["A", "F", "D"], "F")],
)
def test_overall_is_the_worst(grades: list[str], worst: str) -> None:
    assert overall_grade(grades) == worst


def graded(*pairs: tuple[str, str]) -> list[MetricGrade]:
    return [MetricGrade(key, 1.0, grade) for key, grade in pairs]


@pytest.mark.parametrize(
    ("grades", "error_rate", "verdict", "words"),
    [
        ([("p95", "A"), ("error_rate", "B")], 0.002, READY, "B or better"),
        ([("p95", "B")], 0.0099, READY, "0.99% < 1%"),
        # 1% exactly is not under 1%, and not over 5%
        ([("p95", "A")], 0.01, NEEDS_OPTIMIZATION, "1.00%"),
        ([("p95", "A")], 0.05, NEEDS_OPTIMIZATION, "1–5%"),
        ([("p95", "A")], 0.0501, NOT_READY, "5.01% > 5%"),
        ([("p95", "C"), ("error_rate", "A")], 0.0, NOT_READY, "p95 is C (C or lower"),
        ([("p95", "D"), ("error_rate", "A")], 0.0, NOT_READY, "p95 is D"),
        ([("p95", "A"), ("error_rate", "F")], 0.2, NOT_READY, "20.00% > 5%"),
        ([("p95", "B"), ("rps", "F")], 0.0, NOT_READY, "rps is F"),
        ([("p95", "A")], None, NOT_READY, "no request"),
        # the failure rates' own grades do not decide: the rate rules do (else a run at
        # 2% errors graded D could never need optimization, only be not ready)
        ([("p95", "A"), ("error_rate", "D")], 0.02, NEEDS_OPTIMIZATION, "2.00% is 1–5%"),
        ([("p95", "B"), ("error_rate", "C"), ("user_failure_rate", "C")], 0.007, READY, "0.70%"),
    ],
)
def test_readiness_rules(
    grades: list[tuple[str, str]], error_rate: float | None, verdict: str, words: str
) -> None:
    decided, rule = readiness(graded(*grades), error_rate)
    assert decided == verdict
    assert words in rule


def summary_of(
    ms: float, requests: int, failed: int, endpoint_ms: float = 1.0, users_failed: int = 0
) -> Summary:
    metrics = Metrics()
    metrics.count("vusers.created", requests)
    metrics.count("vusers.failed", users_failed)
    for _ in range(requests - failed):
        metrics.observe("http.response_time", ms)
        metrics.observe("plugins.metrics-by-endpoint.response_time.GET /a", endpoint_ms)
    metrics.count("http.requests", requests)
    metrics.count("http.responses", requests)
    metrics.count("http.requests_failed", failed)
    metrics.count("plugins.metrics-by-endpoint.GET /a.requests", requests)
    return Summary("plan.yml", "http://t", "now", 10.0, [Period(0, metrics)], [])


def test_a_summary_graded_on_the_default_table() -> None:
    grading = grade_summary(summary_of(640.0, 1000, 2), DEFAULT_TABLE)
    by_key = {m.key: m for m in grading.by_metric}
    assert by_key["http.response_time.p95"].grade == "B"
    assert by_key["http.response_time.p95"].value == pytest.approx(640.0, rel=0.01)
    assert by_key["error_rate"] == MetricGrade("error_rate", 0.002, "B")
    assert grading.overall == "B"
    assert grading.verdict == READY


def test_failed_users_fail_the_grade_and_readiness() -> None:
    """Every user failed (a capture that matched nothing) while every request was
    answered: it graded A and read ready."""
    summary = summary_of(1.0, 10, 0, users_failed=10)
    grading = grade_summary(summary, DEFAULT_TABLE)
    by_key = {m.key: m for m in grading.by_metric}
    assert by_key["user_failure_rate"].grade == "F"
    assert grading.overall == "F"
    assert grading.verdict == NOT_READY and "100.00% > 5%" in grading.rule


def test_nothing_answered_grades_f_and_says_so() -> None:
    grading = grade_summary(summary_of(1.0, 5, 5), DEFAULT_TABLE)
    by_key = {m.key: m for m in grading.by_metric}
    assert by_key["http.response_time.p95"] == MetricGrade("http.response_time.p95", None, "F")
    assert grading.overall == "F"
    assert grading.verdict == NOT_READY


def test_an_endpoint_row_is_graded_on_that_endpoint() -> None:
    table = (Bands("http.response_time.p95", (20.0, 40.0, 60.0, 80.0), LOWER, "GET /a"),)
    grading = grade_summary(summary_of(500.0, 100, 0, endpoint_ms=45.0), table)
    assert [(m.key, m.grade) for m in grading.by_metric] == [
        ("GET /a: http.response_time.p95", "C")
    ]


def test_the_grade_round_trips_through_json() -> None:
    table = (
        *DEFAULT_TABLE,
        Bands("http.response_time.p95", (20.0, 40.0, 60.0, 80.0), LOWER, "GET /a: b"),
    )
    grading = grade_summary(summary_of(640.0, 100, 0), table)
    data = json.loads(json.dumps(grading.to_json()))
    assert Grading.from_json(data) == grading
    assert data["table"]["error_rate"] == {"bands": [0.001, 0.005, 0.01, 0.05], "better": "lower"}
    assert set(data) == {"overall", "readiness", "by_metric", "table"}


@pytest.mark.parametrize(
    "broken",
    [
        {"overall": "E"},
        {"readiness": {"verdict": "maybe", "rule": "x"}},
        {"by_metric": {"p95": {"value": "fast", "grade": "A"}}},
        {"table": {"p95": {"bands": [1, 2, 3, 4], "better": "sideways"}}},
    ],
)
def test_a_broken_grade_is_refused(broken: dict[str, object]) -> None:
    data = {**grade_summary(summary_of(1.0, 10, 0), DEFAULT_TABLE).to_json(), **broken}
    with pytest.raises((KeyError, TypeError, ValueError)):
        Grading.from_json(data)


@pytest.mark.parametrize(
    ("text", "op", "letter"),
    [
        ("grade>=B", ">=", "B"),
        ("grade > A", ">", "A"),
        ("grade==a", "==", "A"),
        ("grade!=F", "!=", "F"),
    ],
)
def test_a_grade_gate_parses(text: str, op: str, letter: str) -> None:
    check = parse_ensure(text)
    assert (check.metric, check.op, check.limit) == ("grade", op, score(letter))


@pytest.mark.parametrize("text", ["grade>=E", "grade>=B+", "grade>=5"])
def test_an_unknown_grade_letter_is_refused(text: str) -> None:
    with pytest.raises(PlanError, match=r"unknown grade .*A, B, C, D, F"):
        parse_ensure(text)
