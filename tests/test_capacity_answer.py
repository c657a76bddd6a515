"""The capacity answer's honesty (issue 22's attacker review): a curve that runs backwards
warns that the target changed, a lower bound cannot pass an upper-bound gate, and the
words say what happened (a rule broke the step, no step was judged, the search was
interrupted). Pure: Capacity objects and rendered text, no traffic."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from tests.helpers import REPO
from yamlload.checks.evaluate import evaluate
from yamlload.checks.outcome import describe_outcome
from yamlload.checks.parse import parse_ensure
from yamlload.checks.trend import evaluate_trend
from yamlload.metrics.periods import Period
from yamlload.report.capacity import answer_lines, capacity_markdown, format_capacity
from yamlload.report.capacity_chart import capacity_section
from yamlload.report.trend import check_rows
from yamlload.results.capacity import (
    Capacity,
    CapacityStep,
    SloResult,
    StepVerdict,
    curve_warning,
)
from yamlload.results.summary import Summary

SLO = "p95<500"
EVERY_REQUEST_FAILED = "every request failed: the target broke under this load"
BACKWARDS = (
    "the curve is not monotonic: p95 was 784 ms at 82.5 users/s but 304 ms at 160 users/s: "
    "the target changed during the search (a warm-up, a leak, other load); rerun, or look "
    "at drift with a long `yamlload run`"
)


def step(
    rate: float,
    verdict: StepVerdict,
    p95: float | None = 100.0,
    slos: tuple[SloResult, ...] | None = None,
    reason: str | None = None,
) -> CapacityStep:
    held = verdict == "good" if slos is None else True
    results = slos if slos is not None else (SloResult(SLO, p95, held, f"{p95} ms"),)
    return CapacityStep(rate, verdict, 8.0, 80, rate * 10, 1.0, p95, p95, 0.0, 1.0, results, reason)


def slower_over_time() -> Capacity:
    """A target that gets slower as the search goes: 160 users/s broke by p99 only, at a
    p95 well under the one 82.5 users/s measured later."""
    p99 = SloResult("p99<250", 400.0, False, "400.0 ms")
    steps = [
        step(10, "good", 50.0),
        step(20, "good", 60.0),
        step(40, "good", 90.0),
        step(80, "good", 120.0),
        step(160, "bad", 304.0, (SloResult(SLO, 304.0, True, "304.0 ms"), p99)),
        step(120, "bad", 650.0),
        step(82.5, "bad", 784.0),
    ]
    found = Capacity((SLO, "p99<250"), steps, max_rate=80, broke_at=82.5)
    found.broke_by = steps[-1].first_broken()
    found.ended = "converged: the first bad rate is within 5% of the last good one"
    return found


def capacity_summary(found: Capacity) -> Summary:
    summary = Summary(
        "plans/capacity.yml", "http://t", "2026-12-03T17:00:00+00:00", 174.0, [Period(0)], []
    )
    summary.capacity = found
    return summary


def report_schema() -> dict[str, Any]:
    schema = json.loads((REPO / "schema" / "report.schema.json").read_text(encoding="utf-8"))
    capacity: dict[str, Any] = schema["properties"]["capacity"]
    return capacity


# --------------------------------------------------------------------------- item 1


def test_a_curve_that_runs_backwards_warns_that_the_target_changed() -> None:
    found = slower_over_time()
    assert curve_warning(found.steps) == BACKWARDS
    assert f"Warning: {BACKWARDS}" in format_capacity(found).splitlines()
    assert f"- Warning: {BACKWARDS}" in capacity_markdown(found)
    assert "the curve is not monotonic: p95 was 784 ms at 82.5 users/s" in capacity_section(found)


def test_the_warning_is_in_the_json_and_its_schema() -> None:
    data = slower_over_time().to_json()
    assert data["curve_warning"] == BACKWARDS
    jsonschema.validate(data, report_schema())
    assert "curve_warning" in report_schema()["properties"]
    # read back, the warning is the steps' again, not kept twice
    kept = Capacity.from_json(data)
    assert kept.to_json()["curve_warning"] == BACKWARDS
    assert answer_lines(kept).count(f"Warning: {BACKWARDS}") == 1


def test_a_curve_that_rises_or_jitters_says_nothing() -> None:
    rising = [step(10, "good", 50.0), step(20, "good", 80.0), step(40, "bad", 900.0)]
    assert curve_warning(rising) is None
    # a fast target's few milliseconds halving is noise, not a changed target
    jitter = [step(10, "good", 8.0), step(20, "good", 3.0), step(40, "bad", 900.0)]
    assert curve_warning(jitter) is None
    # a little lower at a higher rate is within the noise too
    slight = [step(10, "good", 300.0), step(20, "good", 200.0), step(40, "bad", 900.0)]
    assert curve_warning(slight) is None
    assert slower_over_time().to_json()["curve_warning"] is not None
    assert Capacity((SLO,), rising).to_json()["curve_warning"] is None


def test_a_target_that_sheds_load_fast_is_not_a_changed_target() -> None:
    """At 80 users/s the target answers most requests at once with a 503: its p95 is the
    errors' speed, not a faster target."""
    queueing = step(40, "bad", 900.0)
    shedding = CapacityStep(80, "bad", 8.0, 80, 300.0, 5.0, 20.0, 30.0, 0.6, 1.0, (), None)
    assert curve_warning([step(20, "good", 100.0), queueing, shedding]) is None
    # the same p95 with few errors: the target itself got faster
    faster = CapacityStep(80, "bad", 8.0, 80, 300.0, 5.0, 20.0, 30.0, 0.02, 1.0, (), None)
    assert curve_warning([step(20, "good", 100.0), queueing, faster]) is not None


def test_a_good_step_above_a_bad_one_warns() -> None:
    steps = [step(10, "good", 100.0), step(20, "bad", 120.0), step(40, "good", 130.0)]
    assert curve_warning(steps) == (
        "the curve is not monotonic: 40 users/s met every SLO but 20 users/s did not: the "
        "target changed during the search (a warm-up, a leak, other load); rerun, or look "
        "at drift with a long `yamlload run`"
    )


def test_an_invalid_step_is_not_part_of_the_curve() -> None:
    steps = [step(10, "invalid", 900.0, reason="lag"), step(20, "good", 100.0)]
    assert curve_warning(steps) is None


# --------------------------------------------------------------------------- item 2


def lower_bound() -> Capacity:
    found = Capacity((SLO,), [step(10, "good"), step(20, "good")], max_rate=20)
    found.ended = "never broke: every step met every SLO up to --to 20 users/s"
    assert found.max_rate_is_lower_bound
    return found


def test_a_lower_bound_fails_an_upper_bound_gate_and_says_why() -> None:
    summary = capacity_summary(lower_bound())
    for source in ("capacity<30", "capacity==20", "capacity<=20", "capacity!=30"):
        (outcome,) = evaluate([parse_ensure(source)], summary)
        assert not outcome.ok, source
        assert describe_outcome(outcome) == (
            f"at least 20 users/s: a lower bound cannot show {source}"
        )


def test_a_lower_bound_still_passes_a_floor() -> None:
    summary = capacity_summary(lower_bound())
    for source, ok in (("capacity>10", True), ("capacity>=20", True), ("capacity>20", False)):
        (outcome,) = evaluate([parse_ensure(source)], summary)
        assert outcome.ok is ok, source
        assert describe_outcome(outcome) == "at least 20 users/s"


def test_a_found_capacity_passes_an_upper_bound_gate() -> None:
    found = Capacity((SLO,), [step(10, "good"), step(20, "bad", 900.0)], max_rate=10, broke_at=20)
    (outcome,) = evaluate([parse_ensure("capacity<30")], capacity_summary(found))
    assert outcome.ok and describe_outcome(outcome) == "10 users/s"


# --------------------------------------------------------------------------- item 3


def broke_without_data(reason: str | None) -> Capacity:
    """As cli/capacity.py builds it: broke_by the first SLO the step broke (here with no
    data, the target stopped answering), the rule only in the step's reason."""
    no_data = (SloResult(SLO, None, False, "no data"),)
    steps = [step(10, "good"), step(20.6, "bad", None, no_data, reason)]
    found = Capacity((SLO,), steps, max_rate=10, broke_at=20.6)
    found.broke_by = steps[1].first_broken()
    return found


def test_a_step_broken_by_a_rule_says_the_rule_not_no_data() -> None:
    lines = answer_lines(broke_without_data(EVERY_REQUEST_FAILED))
    assert f"Broke at: 20.6 users/s ({EVERY_REQUEST_FAILED})" in lines
    assert not any("(no data)" in line for line in lines)


def test_an_slo_with_no_data_and_no_rule_says_it_had_no_data() -> None:
    lines = answer_lines(broke_without_data(None))
    assert "Broke at: 20.6 users/s (p95<500 had no data)" in lines


def could_not_start() -> Capacity:
    reason = "the generator could not keep up: arrival lag p99 = 900 ms"
    found = Capacity((SLO,), [step(10, "invalid", 100.0, reason=reason)])
    found.ended = f"stopped at 10 users/s: {reason}"
    return found


def test_a_search_with_no_step_judged_says_so() -> None:
    lines = answer_lines(could_not_start())
    assert lines[0] == (
        "Maximum sustainable rate: not found (no step could be judged: the generator could "
        "not keep up: arrival lag p99 = 900 ms)"
    )
    (outcome,) = evaluate([parse_ensure("capacity>=5")], capacity_summary(could_not_start()))
    assert describe_outcome(outcome).startswith("not found (no step could be judged")


def interrupted() -> Capacity:
    found = Capacity((SLO,), [step(10, "good")])
    found.ended = "stopped by SIGINT during the step at 20 users/s"
    return found


def test_an_interrupted_search_is_not_a_search_that_found_no_rate() -> None:
    (outcome,) = evaluate([parse_ensure("capacity>=5")], capacity_summary(interrupted()))
    assert "interrupted" in describe_outcome(outcome)
    assert "no rate met every SLO" not in describe_outcome(outcome)


def test_trend_says_the_newest_search_was_interrupted() -> None:
    earlier = capacity_summary(lower_bound())
    newest = capacity_summary(interrupted())
    check = parse_ensure("capacity>-10%", relative=True)
    judged = evaluate_trend([check], [earlier], newest)
    (row,) = check_rows(judged)
    assert row[2] == "not found (the search was interrupted; 10 users/s met every SLO before it)"
    assert "no rate met every SLO" not in " ".join(row)
    assert judged[0].outcome.ok is False
