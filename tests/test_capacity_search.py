"""The capacity search (checks/capacity.py), pure: no I/O, no clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yamlload.checks.capacity import (
    GROWTH,
    MAX_STEPS,
    MIN_RATE,
    Done,
    Next,
    SearchSettings,
    Tried,
    next_step,
)
from yamlload.results.capacity import StepVerdict


def search(
    capacity: float, settings_: SearchSettings, invalid_above: float | None = None
) -> tuple[list[Tried], Done]:
    """Run the search against an ideal target: a rate up to `capacity` is good, above
    it bad; above `invalid_above` the generator cannot keep up."""
    steps: list[Tried] = []
    while True:
        decision = next_step(steps, settings_)
        if isinstance(decision, Done):
            return steps, decision
        rate = decision.rate
        verdict: StepVerdict = "good" if rate <= capacity else "bad"
        if invalid_above is not None and rate > invalid_above:
            verdict = "invalid"
        steps.append(Tried(rate, verdict))


def test_the_first_step_is_the_first_rate() -> None:
    assert next_step([], SearchSettings(10, 1000, 0.05)) == Next(10)


def test_steps_double_until_a_step_breaks() -> None:
    chosen = SearchSettings(10, 1000, 0.05)
    assert next_step([Tried(10, "good")], chosen) == Next(10 * GROWTH)
    assert next_step([Tried(10, "good"), Tried(20, "good")], chosen) == Next(40)


def test_the_last_step_up_is_the_highest_rate() -> None:
    chosen = SearchSettings(10, 30, 0.05)
    assert next_step([Tried(10, "good"), Tried(20, "good")], chosen) == Next(30)


def test_a_target_that_never_breaks_ends_at_the_highest_rate() -> None:
    steps, done = search(capacity=10_000, settings_=SearchSettings(10, 100, 0.05))
    assert [s.rate for s in steps] == [10, 20, 40, 80, 100]
    assert done == Done(100, None, "never-broke")


def test_bisects_between_the_last_good_and_the_first_bad_rate() -> None:
    chosen = SearchSettings(10, 1000, 0.05)
    steps = [Tried(10, "good"), Tried(20, "good"), Tried(40, "bad")]
    assert next_step(steps, chosen) == Next(30)


def test_finds_a_known_capacity_within_the_precision() -> None:
    steps, done = search(capacity=200, settings_=SearchSettings(25, 1000, 0.05))
    assert done.ending == "converged"
    assert done.max_rate is not None and done.broke_at is not None
    assert done.max_rate <= 200 < done.broke_at
    assert done.broke_at - done.max_rate <= 0.05 * done.max_rate
    assert len(steps) <= 10


def test_a_first_step_that_breaks_searches_down() -> None:
    chosen = SearchSettings(100, 1000, 0.10)
    assert next_step([Tried(100, "bad")], chosen) == Next(50)
    _, done = search(capacity=30, settings_=chosen)
    assert done.max_rate is not None and done.max_rate <= 30 < (done.broke_at or 0)


def test_a_target_broken_at_any_rate_ends_below_the_least_rate() -> None:
    steps, done = search(capacity=0, settings_=SearchSettings(1, 100, 0.05))
    assert done == Done(None, steps[-1].rate, "broke-at-start")
    assert steps[-1].rate / GROWTH < MIN_RATE


def test_an_invalid_step_ends_the_search() -> None:
    steps, done = search(200, SearchSettings(25, 1000, 0.05), invalid_above=60)
    assert steps[-1] == Tried(100, "invalid")
    assert done == Done(50, None, "invalid")


def test_a_good_rate_above_a_bad_one_does_not_count() -> None:
    chosen = SearchSettings(10, 1000, 0.05)
    steps = [Tried(10, "good"), Tried(20, "bad"), Tried(40, "good")]
    assert next_step(steps, chosen) == Next(15)


@pytest.mark.parametrize(
    ("start", "limit", "precision"),
    [(0, 10, 0.05), (10, 5, 0.05), (10, 100, 0), (10, 100, 1), (float("nan"), 100, 0.05)],
)
def test_settings_out_of_range_are_refused(start: float, limit: float, precision: float) -> None:
    with pytest.raises(ValueError):
        SearchSettings(start, limit, precision)


rates = st.floats(min_value=1, max_value=5_000, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(
    capacity=st.floats(min_value=0, max_value=20_000, allow_nan=False),
    start=rates,
    spread=st.floats(min_value=1, max_value=100),
    precision=st.floats(min_value=0.01, max_value=0.5),
)
def test_the_search_always_ends_and_brackets_the_capacity(
    capacity: float, start: float, spread: float, precision: float
) -> None:
    chosen = SearchSettings(start, start * spread, precision)
    steps, done = search(capacity, chosen)
    assert len(steps) < MAX_STEPS
    tried = [s.rate for s in steps]
    assert len(set(tried)) == len(tried), "no rate is tried twice"
    assert all(MIN_RATE / GROWTH <= r <= chosen.limit + 0.01 for r in tried)
    if done.ending == "never-broke":
        assert done.broke_at is None and done.max_rate is not None
        assert done.max_rate >= chosen.limit - 0.01
        assert capacity >= done.max_rate
    elif done.ending == "converged":
        assert done.max_rate is not None and done.broke_at is not None
        assert done.max_rate <= capacity < done.broke_at
        gap = done.broke_at - done.max_rate
        assert gap <= precision * done.max_rate or gap <= 0.02
    else:
        assert done.ending == "broke-at-start"
        assert done.max_rate is None and done.broke_at is not None
        assert capacity < done.broke_at


@settings(max_examples=200, deadline=None)
@given(
    verdicts=st.lists(st.sampled_from(["good", "bad"]), max_size=MAX_STEPS + 5),
    start=rates,
)
def test_whatever_a_noisy_target_answers_the_search_ends(
    verdicts: list[StepVerdict], start: float
) -> None:
    chosen = SearchSettings(start, start * 64, 0.05)
    steps: list[Tried] = []
    for verdict in verdicts:
        decision = next_step(steps, chosen)
        if isinstance(decision, Done):
            break
        assert MIN_RATE / GROWTH <= decision.rate <= chosen.limit + 0.01
        steps.append(Tried(decision.rate, verdict))
    assert len(steps) <= MAX_STEPS


def test_searching_down_stops_at_the_lowest_rate_a_step_can_measure() -> None:
    """Below `floor` a step holds too few arrivals to judge (issue 22: no data is never
    good), so a target broken at --from is broken at every rate tried down to it."""
    steps, done = search(capacity=0.0, settings_=SearchSettings(10, 40, 0.05, floor=3.0))
    assert [s.rate for s in steps] == [10, 5]
    assert done == Done(None, 5, "broke-at-start")


def test_rates_never_exceed_the_highest_and_bisection_always_progresses() -> None:
    chosen = SearchSettings(15.49387, 30.98774, 0.05)
    steps, done = search(capacity=10_000, settings_=chosen)
    assert max(s.rate for s in steps) <= 30.98774
    steps, done = search(capacity=0.104, settings_=SearchSettings(0.1, 0.2, 0.05))
    assert done.broke_at is not None and done.max_rate is not None
    assert done.broke_at - done.max_rate <= 0.05 * done.max_rate


def test_an_interrupted_search_says_so_and_what_it_had_measured_good() -> None:
    """Ctrl-C after a good step: the answer is "not found, interrupted", with the rate
    that met every SLO, never "no rate met every SLO" (issue 22's new-user review)."""
    from yamlload.report.capacity import answer_lines
    from yamlload.results.capacity import Capacity, CapacityStep

    def step(rate: float, verdict: StepVerdict) -> CapacityStep:
        return CapacityStep(rate, verdict, 1.0, 10, rate, 1.0, 2.0, 3.0, 0.0, 1.0)

    found = Capacity(("p95<500",), [step(15, "good"), step(30, "good"), step(60, "bad")])
    found.ended = "stopped by SIGINT during the step at 45/s (not judged)"
    best = answer_lines(found)[0]
    assert "no rate met every SLO" not in best
    assert "interrupted" in best and "30 users/s" in best
    found.steps = []
    assert "interrupted" in answer_lines(found)[0]
