"""Bad plans: every problem at once, each as FILE:LINE:COL: message, exit 2, no traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import run_cli
from yamlload import PlanError, load_plan

GOOD = """\
config:
  target: http://127.0.0.1:8000
  phases:
    - duration: 10
      arrivalRate: 2
scenarios:
  - flow:
      - get:
          url: /health
"""


def problems_of(path: Path, *args: str) -> list[str]:
    result = run_cli("validate", str(path), *args)
    assert result.exit_code == 2, result.stdout
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if not ln.startswith("invalid:")]
    assert result.stderr.splitlines()[-1].startswith(f"invalid: {path}")
    return lines


def test_a_valid_plan_prints_ok_and_what_would_run(write_plan) -> None:
    path = write_plan(GOOD)
    result = run_cli("validate", str(path))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == f"ok: {path}"
    assert "20 arrivals" in result.stdout
    assert "100.0%" in result.stdout


def test_misspelled_key_is_positioned_with_a_suggestion(write_plan) -> None:
    path = write_plan(GOOD.replace("arrivalRate: 2", "arivalRate: 2"))
    [line] = problems_of(path)
    assert line == (
        f"{path}:5:7: config.phases[0]: unknown key 'arivalRate'; did you mean 'arrivalRate'?"
    )


def test_every_problem_is_reported_at_once(write_plan) -> None:
    text = """\
config:
  target: http://127.0.0.1:8000
  phases:
    - duration: soon
      arrivalRate: 2
  payload:
    path: data/users.csv
    fields: [name]
scenarios:
  - weigth: 3
    flow:
      - get:
          url: "/a/{{ id"
      - post:
          url: /b
          capture:
            json: "$..id"
            as: id
      - get:
          url: "/c/{{ $nope() }}"
"""
    path = write_plan(text)
    lines = problems_of(path)
    joined = "\n".join(lines)
    assert len(lines) == 6, joined
    assert f"{path}:4:17: config.phases[0].duration: expected a duration" in joined
    resolved = (path.parent / "data" / "users.csv").resolve()
    assert f"{path}:7:11: config.payload.path: payload file not found: {resolved}" in joined
    assert f"{path}:10:5: scenarios[0]: unknown key 'weigth'; did you mean 'weight'?" in joined
    assert "'{{' is never closed in template '/a/{{ id'" in joined
    assert "unknown built-in '$nope'" in joined
    assert "recursive descent '..' is not supported" in joined
    assert all(re.match(rf"{re.escape(str(path))}:\d+:\d+: ", ln) for ln in lines)


def test_yaml_syntax_error_is_positioned(write_plan) -> None:
    path = write_plan("config:\n  target: http://x\n  phases: [\n    {duration: 1\nscenarios: []\n")
    [line] = problems_of(path)
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: YAML syntax error: ", line)


def test_duplicate_key_is_positioned(write_plan) -> None:
    path = write_plan(GOOD + "config: {}\n")
    [line] = problems_of(path)
    assert line.startswith(f"{path}:10:1: YAML syntax error:")
    assert "duplicate key" in line


def test_non_utf8_bytes_are_positioned(tmp_path: Path) -> None:
    path = tmp_path / "plan.yml"
    path.write_bytes(b'config:\n  target: "\xff"\n')
    [line] = problems_of(path)
    assert line == f"{path}:2:12: not valid UTF-8: byte 0xff cannot be decoded"


def test_json_plan_errors_are_positioned(write_plan) -> None:
    text = (
        '{\n  "config": {"target": "http://127.0.0.1:1",'
        ' "phases": [{"duration": 1, "arrivalCount": "x"}]},\n'
        '  "scenarios": [{"flow": []}]\n}\n'
    )
    path = write_plan(text, name="plan.json")
    [line] = problems_of(path)
    assert line.startswith(f"{path}:2:")
    assert "config.phases[0].arrivalCount" in line
    assert "'x'" in line


@pytest.mark.parametrize(
    ("snippet", "feature"),
    [
        ("  processor: ./functions.js\n", "JavaScript processor './functions.js'"),
        ("  engines:\n    socketio: {}\n", "engine 'socketio'"),
        ("  engines:\n    playwright: {}\n", "engine 'playwright'"),
    ],
)
def test_unsupported_features_are_one_clear_line(write_plan, snippet: str, feature: str) -> None:
    path = write_plan(GOOD.replace("config:\n", "config:\n" + snippet))
    [line] = problems_of(path)
    assert f"unsupported feature: {feature}" in line
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: ", line)


def test_scenario_engine_is_refused(write_plan) -> None:
    path = write_plan(GOOD + "    engine: playwright\n")
    [line] = problems_of(path)
    assert "unsupported feature: engine 'playwright'" in line


def test_xpath_capture_is_refused(write_plan) -> None:
    path = write_plan(GOOD + "          capture:\n            xpath: //a\n            as: a\n")
    [line] = problems_of(path)
    assert "unsupported feature: capture by 'xpath'" in line


def test_phase_kinds_and_limits(write_plan) -> None:
    text = GOOD.replace(
        "    - duration: 10\n      arrivalRate: 2\n",
        "    - duration: 10\n      arrivalRate: 2\n      users: 3\n"
        "    - arrivalRate: 2\n"
        "    - duration: 10\n      arrivalRate: 50000000\n"
        "    - duration: 10\n      users: 5\n      spawnRate: 1\n      rampUsers: 5s\n"
        "    - duration: 10\n      arrivalRate: 1\n      spawnRate: 2\n",
    )
    path = write_plan(text)
    joined = "\n".join(problems_of(path))
    assert "config.phases[0]: a phase is one kind; it has both 'arrivalRate' and 'users'" in joined
    assert "config.phases[1]: missing required key 'duration'" in joined
    assert "config.phases[2].arrivalRate: 50,000,000 is more than one plan can run" in joined
    assert "config.phases[3]: give either 'spawnRate' or 'rampUsers', not both" in joined
    assert "config.phases[4].spawnRate: goes only with 'users'" in joined


def test_processor_functions_are_checked_without_running_the_module(write_plan) -> None:
    hooks = "def add_token(context, events):\n    raise SystemExit('must not run')\n"
    text = GOOD.replace("config:\n", "config:\n  processor: hooks.py\n") + (
        "      - function: add_token\n      - function: missing_one\n"
    )
    path = write_plan(text, **{"hooks.py": hooks})
    [line] = problems_of(path)
    assert "function 'missing_one' is not defined in hooks.py (it defines: add_token)" in line


def test_function_step_without_a_processor(write_plan) -> None:
    path = write_plan(GOOD + "      - function: setup\n")
    [line] = problems_of(path)
    assert "'setup' names a processor function, but config.processor is not set" in line


def test_environment_that_does_not_exist_lists_the_known_ones(write_plan) -> None:
    text = GOOD + "  - flow: []\n"
    text = text.replace(
        "config:\n", "config:\n  environments:\n    staging: {target: http://127.0.0.1:9}\n"
    )
    path = write_plan(text)
    [line] = problems_of(path, "-e", "prod")
    assert "environment 'prod' is not defined (defined: staging)" in line


def test_missing_env_variable_in_a_phase_is_named(write_plan) -> None:
    path = write_plan(GOOD.replace("arrivalRate: 2", 'arrivalRate: "{{ $env.YL_TEST_RATE }}"'))
    [line] = problems_of(path)
    assert "environment variable YL_TEST_RATE is not set" in line
    result = run_cli("validate", str(path), env={"YL_TEST_RATE": "7"})
    assert result.exit_code == 0, result.stderr
    assert "70 arrivals" in result.stdout


def test_no_target_says_how_to_give_one(write_plan) -> None:
    path = write_plan(GOOD.replace("  target: http://127.0.0.1:8000\n", ""))
    [line] = problems_of(path)
    assert "no target: set config.target or pass -t/--target" in line
    assert run_cli("validate", str(path), "-t", "http://127.0.0.1:9").exit_code == 0


def test_missing_file_is_a_usage_error() -> None:
    result = run_cli("validate", "does/not/exist.yml")
    assert result.exit_code == 2
    assert "does/not/exist.yml: no such file" in result.stderr


def test_several_plans_are_checked_one_by_one(write_plan, tmp_path: Path) -> None:
    good = write_plan(GOOD, name="good.yml")
    bad = write_plan(GOOD.replace("url: /health", "url: 5"), name="bad.yml")
    result = run_cli("validate", str(good), str(bad))
    assert result.exit_code == 2
    assert f"ok: {good}" in result.stdout
    assert f"{bad}:9:16: scenarios[0].flow[0].get.url: expected a string, got 5" in result.stderr


def test_library_api_raises_plan_error_with_problems(write_plan) -> None:
    path = write_plan(GOOD.replace("duration: 10", "duration: -1"))
    with pytest.raises(PlanError) as caught:
        load_plan(str(path))
    [problem] = caught.value.problems
    assert problem.pos.line == 4
    assert problem.pos.file == str(path)


def test_a_header_name_that_is_not_a_token_is_refused_with_its_place(write_plan) -> None:
    """'X-Colon: Name' would write a header the plan does not say."""
    path = write_plan(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalCount: 1}]\n"
        "scenarios:\n  - flow: [{get: {url: /, headers: {'X-Colon: Name': v, ok-name: 1}}}]\n"
    )
    joined = "\n".join(problems_of(path))
    assert "flow[0].get.headers: a header name is letters, digits" in joined
    assert "got 'X-Colon: Name'" in joined and "ok-name" not in joined


def test_a_misspelled_payload_key_does_not_hide_a_missing_file(write_plan) -> None:
    path = write_plan(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalCount: 1}]\n"
        "  payload:\n    path: missing.csv\n    fields: [a]\n    orderr: sequence\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n"
    )
    joined = "\n".join(problems_of(path))
    assert "unknown key 'orderr'; did you mean 'order'?" in joined
    assert "payload file not found" in joined and "missing.csv" in joined
