"""Artillery 2 parity in the front end: templates, arrival counts, names, plugins and the
IR fields the engine reads. Each expectation was checked against Artillery 2.0.21."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import run_cli
from yamlload import PlanError, load_plan
from yamlload._expr import parse_template
from yamlload._plan import Phase, Plan
from yamlload._schedule import arrival_count, js_round, ramp_bucket_counts

HEAD = "config:\n  target: http://127.0.0.1:1\n"
ONE_FLOW = "scenarios:\n  - flow: [{get: {url: /a}}]\n"


def plan_of(write_plan, config: str = "", scenarios: str = ONE_FLOW) -> Plan:
    return load_plan(str(write_plan(HEAD + config + scenarios)))


def problems_of(write_plan, config: str = "", scenarios: str = ONE_FLOW) -> list[str]:
    with pytest.raises(PlanError) as caught:
        plan_of(write_plan, config, scenarios)
    return [str(p) for p in caught.value.problems]


def lookup_from(values: dict[str, object]):
    return lambda name: values.get(name)


# --------------------------------------------------------------------------- 1. undefined


def test_an_undefined_variable_inside_a_string_renders_undefined() -> None:
    # Artillery's renderVariables: String.replace(template, undefined) writes "undefined".
    assert parse_template("/items/{{ x }}").render(lookup_from({})) == "/items/undefined"
    assert parse_template("/u/{{ user.id }}").render(lookup_from({"user": {}})) == "/u/undefined"
    assert parse_template("{{ a }}-{{ b }}").render(lookup_from({"a": 1})) == "1-undefined"


def test_a_whole_value_template_of_an_undefined_variable_is_no_value() -> None:
    # Artillery's template() returns undefined for exactly "{{ x }}": no value, not text.
    assert parse_template("{{ x }}").render(lookup_from({})) is None
    assert parse_template("{{ x }}").render(lookup_from({"x": 0})) == 0


def test_a_config_template_with_an_undefined_variable_is_still_an_error(write_plan) -> None:
    # Compile-time templates (target, phases) must not quietly become "http://undefined".
    path = write_plan(
        "config:\n  target: 'http://{{ host }}:8000'\n" + ONE_FLOW,
    )
    with pytest.raises(PlanError) as caught:
        load_plan(str(path))
    (problem,) = caught.value.problems
    assert "config.target" in problem.message
    assert "host" in problem.message


# --------------------------------------------------------------------------- 2. ramps


def artillery_ramp(start: float, end: float, duration: int) -> list[int]:
    """Artillery 2's createRamp for one worker, with exact rationals where JS rounds."""

    def math_round(x: float) -> int:  # ECMAScript Math.round: nearest, ties toward +inf
        return math.floor(Fraction(x) + Fraction(1, 2))

    def bucket(raw: float) -> int:
        # adjustArrivalsByWorker(raw, totalWorkers=1, worker=1)
        arrivals = math.floor(raw)
        if math_round(math.fmod(raw, 1.0) * 1) >= 1:
            arrivals += 1
        return max(0, arrivals)

    periods = duration or 1
    if periods == 1:
        return [bucket((end + start) / 2)]
    difference = end - start
    return [bucket((difference / (duration - 1)) * i + start) for i in range(periods)]


def ramp(start: float, end: float, duration: float) -> Phase:
    return Phase(index=0, name="r", kind="ramp", duration=duration, arrival_rate=start, ramp_to=end)


def test_a_fractional_ramp_makes_artillerys_four_users(write_plan) -> None:
    # 0.2 → 2.8 over 3 s: second 1 is 1.4999999999999998 in doubles, which rounds down.
    config = "  phases:\n    - {duration: 3, arrivalRate: 0.2, rampTo: 2.8}\n"
    plan = plan_of(write_plan, config)
    assert ramp_bucket_counts(plan.phases[0]) == [0, 1, 3]
    assert arrival_count(plan.phases[0]) == 4
    result = run_cli("validate", str(write_plan(HEAD + config + ONE_FLOW)))
    assert result.exit_code == 0, result.stderr
    assert "4 arrivals" in result.stdout
    assert "5 arrivals" not in result.stdout


def test_js_round_rounds_the_raw_double_exactly() -> None:
    assert js_round(1.4999999999999998) == 1
    assert js_round(0.49999999999999994) == 0  # floor(x + 0.5) would say 1
    assert js_round(0.5) == 1
    assert js_round(2.5) == 3  # ties go up, not to even
    assert js_round(4503599627370497.0) == 4503599627370497  # past 2**52: x + 0.5 rounds
    assert js_round(0.0) == 0
    assert js_round(-8.881784197001252e-16) == 0  # -0 in JS: no arrivals


GRID = [0, 0.1, 0.2, 0.25, 0.3, 0.5, 0.7, 1, 1.3, 1.5, 2.8, 3, 6, 7.5, 10, 33.3]


@pytest.mark.parametrize("duration", [1, 2, 3, 4, 5, 7, 10, 60])
def test_ramp_buckets_equal_artillerys_over_a_grid(duration: int) -> None:
    for start in GRID:
        for end in GRID:
            assert ramp_bucket_counts(ramp(start, end, duration)) == artillery_ramp(
                start, end, duration
            ), (start, end, duration)


rates = st.one_of(
    st.integers(min_value=0, max_value=2000).map(lambda n: n / 10),
    st.integers(min_value=0, max_value=2000).map(lambda n: n / 100),
    st.floats(min_value=0, max_value=500, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=400, deadline=None)
@given(start=rates, end=rates, duration=st.integers(min_value=1, max_value=120))
def test_ramp_buckets_equal_artillerys_for_any_rates(
    start: float, end: float, duration: int
) -> None:
    assert ramp_bucket_counts(ramp(start, end, duration)) == artillery_ramp(start, end, duration)


# --------------------------------------------------------------------------- 3. names


def test_an_unnamed_scenario_is_named_by_its_index(write_plan) -> None:
    scenarios = (
        "scenarios:\n  - name: browse\n    flow: [{get: {url: /a}}]\n"
        "  - flow: [{get: {url: /b}}]\n  - name: ''\n    flow: []\n"
    )
    plan = plan_of(write_plan, "", scenarios)
    # vusers.created_by_name.1, as Artillery counts it
    assert [s.name for s in plan.scenarios] == ["browse", "1", "2"]
    assert [s.named for s in plan.scenarios] == [True, False, False]


def test_validate_lists_an_unnamed_scenario_by_its_index(write_plan) -> None:
    path = write_plan(
        HEAD + "scenarios:\n  - flow: [{get: {url: /a}}]\n  - name: x\n    flow: []\n"
    )
    result = run_cli("validate", str(path))
    assert result.exit_code == 0, result.stderr
    assert "50.0%  0  (unnamed, 1 step)" in result.stdout
    assert "50.0%  x  (0 steps)" in result.stdout
