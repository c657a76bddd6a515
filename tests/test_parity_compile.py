"""Artillery 2 parity in the front end: templates, arrival counts, names, plugins and the
IR fields the engine reads. Each expectation was checked against Artillery 2.0.21."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import REPO, run_cli
from yamlload import PlanError, load_plan
from yamlload.plan.compile import MAX_WEIGHT
from yamlload.plan.expr import parse_template
from yamlload.plan.ir import Phase, Plan
from yamlload.schedule.arrivals import arrival_count, js_round, ramp_bucket_counts

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


def test_environment_in_a_config_path_without_e_says_which_flag(write_plan) -> None:
    config = "  payload:\n    - path: 'data/{{ $environment }}.csv'\n      fields: [a]\n"
    (problem,) = problems_of(write_plan, config)
    assert "config.payload[0].path" in problem
    assert "$environment is not defined (no -e/--environment was given)" in problem


def test_the_reference_no_longer_claims_artillery_renders_empty() -> None:
    text = (REPO / "docs" / "plan-reference.md").read_text(encoding="utf-8")
    assert "renders as an empty string" not in text
    assert "`undefined`" in text


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


# --------------------------------------------------------------------------- 4. labels


QUERY_FLOW = (
    "scenarios:\n  - flow:\n"
    "      - get: {url: '/search?q={{ term }}&page=2'}\n"
    "      - get: {url: '/search?q=x', name: find}\n"
    "      - get: {url: /plain}\n"
)


def labels(plan: Plan) -> list[str]:
    return [step.label for step in plan.scenarios[0].flow]  # type: ignore[union-attr]


def test_strip_query_string_drops_the_query_from_labels(write_plan) -> None:
    config = "  plugins:\n    metrics-by-endpoint: {stripQueryString: true}\n"
    plan = plan_of(write_plan, config, QUERY_FLOW)
    assert labels(plan) == ["GET /search", "find", "GET /plain"]
    assert plan.warnings == ()


def test_without_the_plugin_labels_strip_the_query_as_artillery_defaults(write_plan) -> None:
    # Artillery adds metrics-by-endpoint {stripQueryString: true} when a plan has none.
    assert labels(plan_of(write_plan, "", QUERY_FLOW)) == ["GET /search", "find", "GET /plain"]


def test_the_plugin_listed_without_the_option_keeps_the_query(write_plan) -> None:
    config = "  plugins:\n    metrics-by-endpoint: {}\n"
    plan = plan_of(write_plan, config, QUERY_FLOW)
    assert labels(plan) == ["GET /search?q={{ term }}&page=2", "find", "GET /plain"]


def test_use_only_request_names_is_what_labels_already_do(write_plan) -> None:
    config = "  plugins:\n    metrics-by-endpoint: {useOnlyRequestNames: true}\n"
    plan = plan_of(write_plan, config, QUERY_FLOW)
    assert labels(plan)[1] == "find"
    assert plan.warnings == ()


# --------------------------------------------------------------------------- 5. IR fields


def test_expected_statuses_compile_to_inclusive_ranges(write_plan) -> None:
    config = "  http:\n    expectedStatuses: [200, '3xx', '404-410', '201']\n"
    plan = plan_of(write_plan, config)
    assert plan.http.expected_statuses == ((200, 200), (300, 399), (404, 410), (201, 201))
    assert plan_of(write_plan).http.expected_statuses is None


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("99", "99 is not an HTTP status"),
        ("600", "600 is not an HTTP status"),
        ("'6xx'", "'6xx' is not a status class"),
        ("'2xy'", "'2xy' is not a status"),
        ("'299-200'", "goes down"),
        ("'100-700'", "is not an HTTP status"),
        ("true", 'expected a status such as 200, "2xx" or "200-299", got true'),
        ("2.5", "expected a status such as 200"),
    ],
)
def test_a_bad_expected_status_is_a_positioned_error(write_plan, item: str, message: str) -> None:
    config = f"  http:\n    expectedStatuses: [200, {item}]\n"
    found = problems_of(write_plan, config)
    assert len(found) == 1, found
    assert ":4:" in found[0]  # the line of the list
    assert "config.http.expectedStatuses[1]" in found[0]
    assert message in found[0]


def test_an_empty_expected_statuses_list_is_an_error(write_plan) -> None:
    (problem,) = problems_of(write_plan, "  http:\n    expectedStatuses: []\n")
    assert "expectedStatuses" in problem


def test_expect_plugin_options_reach_the_plan(write_plan) -> None:
    plan = plan_of(write_plan)
    assert (plan.expect_stop_user, plan.expect_default_200) == (False, False)
    config = "  plugins:\n    expect: {reportFailuresAsErrors: true, expectDefault200: true}\n"
    plan = plan_of(write_plan, config)
    assert (plan.expect_stop_user, plan.expect_default_200) == (True, True)
    assert plan.warnings == ()


@pytest.mark.parametrize(
    ("config", "threshold"),
    [
        ("", None),
        ("  plugins:\n    apdex: {}\n", 500.0),
        ("  plugins:\n    apdex: {threshold: 100}\n", 100.0),
        # Artillery's plugin reads config.apdex.threshold first
        ("  apdex: {threshold: 250}\n  plugins:\n    apdex: {threshold: 100}\n", 250.0),
        ("  apdex: {threshold: 25}\n  plugins:\n    apdex: {}\n", 25.0),
    ],
)
def test_apdex_threshold(write_plan, config: str, threshold: float | None) -> None:
    plan = plan_of(write_plan, config)
    assert plan.apdex_threshold_ms == threshold
    assert plan.warnings == ()


def test_config_apdex_alone_enables_nothing_and_says_so(write_plan) -> None:
    plan = plan_of(write_plan, "  apdex: {threshold: 100}\n")
    assert plan.apdex_threshold_ms is None
    (warning,) = plan.warnings
    assert "config.apdex" in str(warning) and "plugins.apdex" in str(warning)


@pytest.mark.parametrize("threshold", ["0", "-5", "fast"])
def test_a_bad_apdex_threshold_is_an_error(write_plan, threshold: str) -> None:
    (problem,) = problems_of(write_plan, f"  plugins:\n    apdex: {{threshold: {threshold}}}\n")
    assert "threshold" in problem


def test_graceful_stop_compiles_to_seconds(write_plan) -> None:
    config = (
        "  phases:\n    - {duration: 60, users: 5}\n"
        "    - {duration: 60, users: 5, gracefulStop: 10s}\n"
        "    - {duration: 60, users: 5, gracefulStop: 0}\n"
    )
    plan = plan_of(write_plan, config)
    assert [p.graceful_stop for p in plan.phases] == [30.0, 10.0, 0.0]


def test_graceful_stop_goes_only_with_users(write_plan) -> None:
    config = "  phases:\n    - {duration: 60, arrivalRate: 5, gracefulStop: 10s}\n"
    (problem,) = problems_of(write_plan, config)
    assert "gracefulStop" in problem and "users" in problem


def test_gzip_still_compiles(write_plan) -> None:
    plan = plan_of(write_plan, "", "scenarios:\n  - flow: [{get: {url: /a, gzip: true}}]\n")
    assert plan.scenarios[0].flow[0].gzip is True  # type: ignore[union-attr]


# --------------------------------------------------------------------------- 6. plugins


def test_publish_metrics_datadog_with_an_api_key_is_a_one_line_warning(write_plan) -> None:
    """yamlload never calls Datadog's HTTP API: the reporter sends to the agent's
    DogStatsD port instead, and one line says so (tests/test_live_outputs.py has more)."""
    config = (
        "  plugins:\n    publish-metrics:\n"
        "      - type: datadog\n        apiKey: '{{ $env.DD_KEY }}'\n"
    )
    plan = plan_of(write_plan, config)
    (warning,) = plan.warnings
    text = str(warning)
    assert ":6:9:" in text
    assert "publish-metrics[0].apiKey: ignored" in text and "DogStatsD port" in text
    assert "\n" not in text
    (output,) = plan.live_outputs
    assert (output.kind, output.target) == ("statsd", "127.0.0.1:8125")


def test_an_unknown_plugin_warns_whatever_its_shape(write_plan) -> None:
    for value in ("{}", "[1, 2]", "true", "'x'"):
        plan = plan_of(write_plan, f"  plugins:\n    fake-data: {value}\n")
        (warning,) = plan.warnings
        assert "fake-data" in str(warning) and "ignored" in str(warning)


def test_a_builtin_plugins_unknown_option_warns(write_plan) -> None:
    config = (
        "  plugins:\n    expect: {outputFormat: json, colour: red}\n"
        "    metrics-by-endpoint: {ignoreUnnamedRequests: true, groupDynamicURLs: false}\n"
    )
    plan = plan_of(write_plan, config)
    texts = [str(w) for w in plan.warnings]
    assert len(texts) == 4, texts
    assert any("expect.outputFormat" in t for t in texts)
    assert any("expect.colour" in t and "unknown option" in t for t in texts)
    assert any("ignoreUnnamedRequests" in t for t in texts)
    assert any("groupDynamicURLs" in t for t in texts)


def test_a_builtin_plugin_of_the_wrong_shape_is_an_error(write_plan) -> None:
    (problem,) = problems_of(write_plan, "  plugins:\n    expect: [1]\n")
    assert "config.plugins.expect" in problem
    (problem,) = problems_of(
        write_plan, "  plugins:\n    expect: {reportFailuresAsErrors: 'yes'}\n"
    )
    assert "reportFailuresAsErrors" in problem


# --------------------------------------------------------------------------- 7. weights


@pytest.mark.parametrize("weight", ["1e308", "1000001", "1" + "0" * 400])
def test_a_huge_weight_is_a_positioned_plan_error(write_plan, weight: str) -> None:
    scenarios = f"scenarios:\n  - weight: {weight}\n    flow: []\n  - weight: 1e308\n    flow: []\n"
    found = problems_of(write_plan, "", scenarios)
    assert found, found
    assert all(f"{MAX_WEIGHT:,}" in p for p in found)
    assert ":4:" in found[0] and "scenarios[0].weight" in found[0]


def test_a_huge_weight_exits_2_from_validate(write_plan) -> None:
    path = write_plan(HEAD + "scenarios:\n  - weight: 1e308\n    flow: []\n")
    result = run_cli("validate", str(path))
    assert result.exit_code == 2
    assert "Traceback" not in result.output + result.stderr
    assert "weight" in result.stderr


def test_the_largest_weight_is_accepted(write_plan) -> None:
    scenarios = f"scenarios:\n  - weight: {MAX_WEIGHT}\n    flow: []\n  - flow: []\n"
    plan = plan_of(write_plan, "", scenarios)
    assert plan.total_weight == MAX_WEIGHT + 1
    assert math.isfinite(plan.scenario_share(plan.scenarios[0]))


def test_an_integer_too_big_for_a_float_is_a_plan_error_not_a_crash(write_plan) -> None:
    huge = "1" + "0" * 400
    config = f"  phases:\n    - {{duration: 10, arrivalRate: {huge}}}\n"
    (problem,) = problems_of(write_plan, config)
    assert "arrivalRate" in problem and "not a number" in problem
    assert len(problem) < 200


# --------------------------------------------------------------------------- 8. docs


@pytest.mark.parametrize(
    "key",
    [
        "expectedStatuses",
        "reportFailuresAsErrors",
        "expectDefault200",
        "gracefulStop",
        "stripQueryString",
        "useOnlyRequestNames",
        "threshold",
        "publish-metrics",
    ],
)
def test_the_reference_documents_each_key(key: str) -> None:
    text = (REPO / "docs" / "plan-reference.md").read_text(encoding="utf-8")
    assert key in text


def test_the_reference_says_latency_includes_connect_time() -> None:
    text = (REPO / "docs" / "plan-reference.md").read_text(encoding="utf-8")
    differences = text.split("## Differences from Artillery", 1)[1]
    assert "connect" in differences
