"""The arrival schedule is a pure function of the phases, pinned to Artillery's counts."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from yamlload import load_plan
from yamlload.plan.ir import Phase
from yamlload.schedule.arrivals import (
    arrival_count,
    arrival_offsets,
    phase_at,
    phase_starts,
    ramp_bucket_counts,
    schedule,
    total_duration,
)


def rate(r: float, duration: float, **kw: object) -> Phase:
    return Phase(index=0, name="p", kind="rate", duration=duration, arrival_rate=r, **kw)  # type: ignore[arg-type]


def ramp(a: float, b: float, duration: float) -> Phase:
    return Phase(index=0, name="p", kind="ramp", duration=duration, arrival_rate=a, ramp_to=b)


def test_uniform_rate_first_arrival_one_interval_in_last_on_the_end() -> None:
    offsets = list(arrival_offsets(rate(200, 60)))
    assert len(offsets) == arrival_count(rate(200, 60)) == 12_000
    assert offsets[0] == pytest.approx(0.005)
    assert offsets[-1] == pytest.approx(60.0)
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(offsets)}
    assert gaps == {0.005}


def test_fractional_products_are_not_lost_to_rounding() -> None:
    assert arrival_count(rate(0.1, 30)) == 3
    assert arrival_count(rate(3, 1)) == 3
    assert list(arrival_offsets(rate(3, 1))) == pytest.approx([1 / 3, 2 / 3, 1.0])


def test_arrival_count_is_spread_evenly() -> None:
    phase = Phase(index=0, name="c", kind="count", duration=10, arrival_count=10)
    assert list(arrival_offsets(phase)) == pytest.approx([float(k) for k in range(1, 11)])


def test_ramp_buckets_match_artillery() -> None:
    assert ramp_bucket_counts(ramp(6, 1, 2)) == [6, 1]  # ramp.json: 7
    assert ramp_bucket_counts(ramp(1, 5, 1)) == [3]  # one-second ramp: mean, half up
    assert ramp_bucket_counts(ramp(3, 10, 1)) == [7]  # 6.5 rounds up: 1682 gives 10
    assert ramp_bucket_counts(ramp(0, 3, 4)) == [0, 1, 2, 3]
    assert ramp_bucket_counts(ramp(1, 2, 3)) == [1, 2, 2]  # 1.5 rounds up


def test_ramp_arrivals_fill_their_own_second() -> None:
    offsets = list(arrival_offsets(ramp(6, 1, 2)))
    assert len(offsets) == 7
    assert all(0 < t <= 1 for t in offsets[:6])
    assert offsets[6] == pytest.approx(2.0)


def test_pause_and_zero_rate_make_nothing() -> None:
    pause = Phase(index=0, name="p", kind="pause", duration=5)
    assert list(arrival_offsets(pause)) == []
    assert arrival_count(pause) == 0


def test_poisson_is_seeded_and_near_the_mean() -> None:
    phase = rate(50, 20, mode="poisson")
    first = list(arrival_offsets(phase, random.Random(7)))
    second = list(arrival_offsets(phase, random.Random(7)))
    assert first == second
    assert first == sorted(first)
    assert all(0 < t <= 20 for t in first)
    expected = 1000
    assert abs(len(first) - expected) < 5 * math.sqrt(expected)


def test_closed_model_spawns_at_the_spawn_rate() -> None:
    phase = Phase(index=0, name="u", kind="users", duration=60, users=5, spawn_rate=2.0)
    assert list(arrival_offsets(phase)) == [0.0, 0.5, 1.0, 1.5, 2.0]
    at_once = Phase(index=0, name="u", kind="users", duration=60, users=3)
    assert list(arrival_offsets(at_once)) == [0.0, 0.0, 0.0]


def test_the_run_schedule_is_phases_back_to_back() -> None:
    phases = (
        Phase(index=0, name="a", kind="count", duration=10, arrival_count=2),
        Phase(index=1, name="b", kind="pause", duration=5),
        Phase(index=2, name="c", kind="rate", duration=2, arrival_rate=1),
    )
    assert phase_starts(phases) == [0.0, 10.0, 15.0]
    assert total_duration(phases) == 17
    arrivals = list(schedule(phases))
    assert [(a.at, a.phase) for a in arrivals] == [(5.0, 0), (10.0, 0), (16.0, 2), (17.0, 2)]
    assert phase_at(phases, 12.0) is phases[1]
    assert phase_at(phases, 17.5) is None


def test_a_plan_without_phases_runs_one_user(write_plan) -> None:
    path = write_plan("config:\n  target: http://127.0.0.1:1\nscenarios:\n  - flow: []\n")
    plan = load_plan(str(path))
    assert [arrival_count(p) for p in plan.phases] == [1]
    assert [a.at for a in schedule(plan.phases)] == [0.0]


def test_duration_strings_compile_to_seconds(write_plan) -> None:
    text = (
        "config:\n  target: http://127.0.0.1:1\n  phases:\n"
        "    - {duration: '10s', arrivalCount: 1}\n    - {pause: '0.5 min'}\n"
        "    - {duration: '1', arrivalCount: 1}\n    - {duration: '9 seconds', arrivalCount: 1}\n"
        "    - {duration: 2m, arrivalCount: 1}\n    - {duration: 1.5h, arrivalCount: 1}\n"
        "    - {duration: 1500ms, arrivalCount: 1}\n"
        "scenarios:\n  - flow: []\n"
    )
    plan = load_plan(str(write_plan(text)))
    assert [p.duration for p in plan.phases] == [10, 30, 1, 9, 120, 5400, 1.5]
