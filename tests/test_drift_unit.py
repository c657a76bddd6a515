"""Drift in long runs (issue 22), the pure part: synthetic periods fed to
results/drift.py. A constant series never flags; a linear one always does once it moves
beyond the threshold; rolled-up periods count alike; too short a phase, a ramp-only run
and a missing series each say why there is no drift."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yamlload.metrics.histogram import Metrics
from yamlload.metrics.names import REQUESTS, REQUESTS_FAILED, RESPONSE_TIME, RSS_MB
from yamlload.metrics.periods import PERIOD_SECONDS, Period
from yamlload.plan.ir import DriftSettings
from yamlload.results.drift import (
    ERROR_RATE,
    P95,
    RPS,
    Drift,
    compute_drift,
    least_squares_slope,
    settings_from_json,
)
from yamlload.results.run import PhaseRun
from yamlload.results.summary import Summary
from yamlload.results.views import period_rows

MEMORY = "monitor.api.memory_mb"


def period(
    index: int,
    latency_ms: float,
    *,
    span: int = 1,
    requests: int = 20,
    failed: int = 0,
    memory: float | None = None,
    rss: float = 50.0,
) -> Period:
    metrics = Metrics()
    for _ in range(requests):
        metrics.observe(RESPONSE_TIME, latency_ms)
    metrics.count(REQUESTS, requests)
    if failed:
        metrics.count(REQUESTS_FAILED, failed)
    metrics.observe(RSS_MB, rss)
    if memory is not None:
        metrics.gauge(MEMORY, memory, at=(index + 0.5) * PERIOD_SECONDS)
    return Period(index, metrics, span=span)


def drift_of(
    periods: list[Period],
    phases: list[PhaseRun] | None = None,
    min_seconds: float = 60.0,
) -> Drift:
    duration = max(p.end for p in periods)
    phases = phases or [PhaseRun(0, "steady", 0.0, duration, 0.0)]
    return compute_drift(
        period_rows(periods, duration), phases, duration, DriftSettings(min_seconds=min_seconds)
    )


def test_latency_growing_linearly_is_flagged_with_its_change_and_slope() -> None:
    # 30 periods (5 minutes): latency from 100 ms up by 2 ms each period
    drift = drift_of([period(i, 100 + 2 * i) for i in range(30)])
    p95 = drift.metric(P95)
    assert p95 is not None and p95.flagged
    # first third: periods 0-9 (p95 ≈ 116), last: 20-29 (≈ 156); ~ +35%
    assert p95.change == pytest.approx(0.35, abs=0.05)
    # 2 ms per 10 s = 720 ms per hour (the histogram's resolution is ~1%)
    assert p95.slope_per_hour == pytest.approx(720, rel=0.05)
    assert "p95 grew" in p95.words() and "latency drift" in p95.words()
    assert drift.phase == "steady" and drift.periods == 30
    assert P95 in [m.metric for m in drift.flagged()]


def test_a_stable_run_flags_nothing_and_a_faster_one_is_no_failure() -> None:
    assert drift_of([period(i, 100) for i in range(30)]).flagged() == []
    faster = drift_of([period(i, 200 - 3 * i) for i in range(30)])
    p95 = faster.metric(P95)
    assert p95 is not None and p95.change is not None and p95.change < -0.2
    assert p95.worsening is not None and p95.worsening < 0 and not p95.flagged


def test_throughput_falling_is_bad_and_rising_is_not() -> None:
    falling = drift_of([period(i, 100, requests=100 - 2 * i) for i in range(30)])
    rps = falling.metric(RPS)
    assert rps is not None and rps.flagged and rps.worse_when == "down"
    rising = drift_of([period(i, 100, requests=40 + 2 * i) for i in range(30)])
    assert not rising.metric(RPS).flagged  # type: ignore[union-attr]


def test_error_rate_drift_is_in_percentage_points() -> None:
    drift = drift_of([period(i, 100, requests=100, failed=i // 5) for i in range(30)])
    errors = drift.metric(ERROR_RATE)
    assert errors is not None and errors.first == pytest.approx(0.005)
    assert errors.change == pytest.approx(errors.last - errors.first)
    assert errors.flagged and "pp" in errors.words()


def test_a_growing_monitored_memory_is_a_possible_leak() -> None:
    drift = drift_of([period(i, 100, memory=200 + 4 * i) for i in range(30)])
    memory = drift.metric(MEMORY)
    assert memory is not None and memory.flagged
    assert "possible leak" in memory.words() and "%/h" in memory.words()
    # a run without config.monitor has no such metric, and says why
    bare = drift_of([period(i, 100) for i in range(30)])
    assert bare.metric(MEMORY) is None
    assert "no data" in bare.why_none(MEMORY)


def test_rolled_up_periods_are_read_like_ten_second_ones() -> None:
    # 2 hours: the first hour rolled up into minutes (span 6), the last in 10 s
    periods = [period(i, 100 + i / 6, span=6) for i in range(0, 360, 6)]
    periods += [period(i, 100 + i / 6) for i in range(360, 720)]
    drift = drift_of(periods)
    p95 = drift.metric(P95)
    assert p95 is not None and p95.flagged
    # 1 ms per minute: 60 ms per hour
    assert p95.slope_per_hour == pytest.approx(60, rel=0.05)


def test_too_short_a_steady_phase_has_no_drift_and_says_why() -> None:
    drift = drift_of([period(i, 100 + 5 * i) for i in range(12)], min_seconds=300)
    assert drift.metrics == () and drift.reason is not None
    assert "'steady'" in drift.reason and "2m" in drift.reason and "5m" in drift.reason
    assert drift.why_none(P95).startswith("no drift: the longest steady phase")


def test_ramps_and_pauses_are_never_steady_and_the_longest_steady_phase_wins() -> None:
    periods = [period(i, 100 + 5 * i) for i in range(60)]
    ramp = [PhaseRun(0, "ramp", 0.0, 600.0, None)]
    assert "no steady phase" in (drift_of(periods, ramp).reason or "")
    phases = [
        PhaseRun(0, "warm", 0.0, 100.0, 0.0),
        PhaseRun(1, "up", 100.0, 200.0, None),
        PhaseRun(2, "soak", 200.0, 600.0, 200.0),
    ]
    drift = drift_of(periods, phases)
    assert drift.phase == "soak" and drift.start == 200.0 and drift.periods == 40


def test_a_closed_model_phase_is_steady_once_its_users_are_started() -> None:
    periods = [period(i, 100) for i in range(60)]
    drift = drift_of(periods, [PhaseRun(0, "users", 0.0, 600.0, 95.0)])
    # period 9 (90-100 s) is half before the users were all started: left out
    assert drift.start == 100.0 and drift.periods == 50


def test_the_report_keeps_drift_and_its_settings_through_json() -> None:
    periods = [period(i, 100 + 2 * i, memory=100 + i) for i in range(30)]
    summary = Summary(
        source="plan.yml",
        target="http://127.0.0.1:1",
        started_at="2026-01-01T00:00:00Z",
        duration=300.0,
        periods=periods,
        phases=[PhaseRun(0, "steady", 0.0, 300.0, 0.0)],
        drift_settings=DriftSettings(60.0, (("monitor", 0.5), ("p95", 0.1))),
    )
    data = summary.to_json()
    again = Summary.from_json(data)
    assert again.drift_settings == summary.drift_settings
    assert again.drift() == summary.drift()
    assert data["drift"]["metrics"][0]["metric"] == P95
    # the monitor row's 50% threshold holds the memory's ~+27% unflagged
    assert MEMORY not in [m.metric for m in again.drift().flagged()]
    assert settings_from_json(None) == DriftSettings()


@settings(max_examples=60, deadline=None)
@given(
    level=st.floats(min_value=1.0, max_value=5_000.0),
    count=st.integers(min_value=6, max_value=80),
)
def test_a_constant_series_never_flags(level: float, count: int) -> None:
    drift = drift_of([period(i, level, memory=level) for i in range(count)], min_seconds=30)
    assert drift.reason is None
    assert drift.flagged() == []
    for metric in drift.metrics:
        assert metric.slope_per_hour == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    base=st.floats(min_value=10.0, max_value=1_000.0),
    growth=st.floats(min_value=0.25, max_value=3.0),
    count=st.integers(min_value=6, max_value=80),
)
def test_a_linear_series_flags_once_it_moves_beyond_the_threshold(
    base: float, growth: float, count: int
) -> None:
    """A series rising by `growth` × its start over the phase: its thirds' centres lie
    2/3 of the phase apart, so its change is at least growth/2 > 10%, and it flags."""
    step = base * growth / count
    drift = drift_of(
        [period(i, base, memory=base + step * i) for i in range(count)], min_seconds=30
    )
    memory = drift.metric(MEMORY)
    assert memory is not None and memory.flagged
    assert memory.slope_per_hour == pytest.approx(step * 360, rel=1e-6)


def test_least_squares_slope_of_a_line_and_of_too_little() -> None:
    assert least_squares_slope([(x, 3 * x + 1, 1.0) for x in range(5)]) == pytest.approx(3)
    assert least_squares_slope([(1.0, 5.0, 1.0)]) == 0.0
    assert math.isfinite(least_squares_slope([(1.0, 5.0, 1.0), (1.0, 7.0, 1.0)]))


def test_which_phases_are_steady_and_from_when() -> None:
    from yamlload.plan.ir import Phase
    from yamlload.results.drift import steady_offset

    assert steady_offset(Phase(0, "a", "rate", 600, arrival_rate=5)) == 0.0
    assert steady_offset(Phase(0, "c", "count", 600, arrival_count=50)) == 0.0
    assert steady_offset(Phase(0, "r", "ramp", 600, arrival_rate=1, ramp_to=9)) is None
    assert steady_offset(Phase(0, "flat", "ramp", 600, arrival_rate=4, ramp_to=4)) == 0.0
    assert steady_offset(Phase(0, "p", "pause", 60)) is None
    assert steady_offset(Phase(0, "u", "users", 600, users=50, spawn_rate=5)) == 10.0
    assert steady_offset(Phase(0, "all", "users", 600, users=50)) == 0.0


def test_the_final_period_widened_by_the_drain_still_counts() -> None:
    """The phase ends at 115 s and the run, drained, at 118 s: the last period (110–118 s)
    lies only 5/8 inside the phase, all of the rest being the drain (issue 22's review)."""
    periods = [period(i, 100 + 5 * i) for i in range(12)]
    phases = [PhaseRun(0, "steady", 0.0, 115.0, 0.0)]
    rows = period_rows(periods, 118.0)
    drift = compute_drift(rows, phases, 118.0, DriftSettings(min_seconds=60.0))
    assert drift.periods == 12
    assert drift.end == 118.0
    # a period that is not the run's last keeps the 90% rule
    phases = [PhaseRun(0, "steady", 0.0, 115.0, 0.0), PhaseRun(1, "ramp", 115.0, 118.0)]
    assert compute_drift(rows, phases, 118.0, DriftSettings(min_seconds=60.0)).periods == 11
