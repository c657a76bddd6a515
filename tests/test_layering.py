"""Config file, environments, overrides and flags layer onto a plan as in Artillery."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_cli
from yamlload import PlanOptions, load_plan

PLAN = """\
config:
  target: http://127.0.0.1:8000
  phases:
    - {duration: 10, arrivalRate: 1}
    - {duration: 10, arrivalRate: 2}
  variables:
    region: eu
  environments:
    staging:
      target: http://127.0.0.1:9000
      phases:
        - {duration: 5, arrivalRate: 4}
      http:
        timeout: 3
scenarios:
  - flow:
      - get:
          url: /x
"""


def test_environment_overlays_config_and_replaces_lists(write_plan) -> None:
    plan = load_plan(str(write_plan(PLAN)), PlanOptions(environment="staging"))
    assert plan.target == "http://127.0.0.1:9000"
    assert [(p.duration, p.arrival_rate) for p in plan.phases] == [(5, 4)]
    assert plan.http.timeout == 3
    assert plan.environment == "staging"


def test_overrides_merge_deeply(write_plan) -> None:
    overrides = json.dumps({"config": {"phases": [{"duration": 1, "arrivalCount": 1}]}})
    plan = load_plan(str(write_plan(PLAN)), PlanOptions(overrides=overrides))
    assert [p.kind for p in plan.phases] == ["count"]
    assert plan.target == "http://127.0.0.1:8000"


def test_target_and_variables_flags(write_plan) -> None:
    options = PlanOptions(target="http://127.0.0.1:7000", variables='{"region": "us", "tier": 2}')
    plan = load_plan(str(write_plan(PLAN)), options)
    assert plan.target == "http://127.0.0.1:7000"
    assert dict(plan.variables.items) == {"region": "us", "tier": 2}


def test_bad_json_options_are_usage_errors(write_plan) -> None:
    path = str(write_plan(PLAN))
    result = run_cli("validate", path, "--overrides", "{nope")
    assert result.exit_code == 2
    assert "--overrides: not valid JSON" in result.stderr
    result = run_cli("validate", path, "-v", "[1, 2]")
    assert result.exit_code == 2
    assert "--variables: expected a JSON object, got list" in result.stderr


def test_an_override_error_points_at_the_option(write_plan) -> None:
    result = run_cli("validate", str(write_plan(PLAN)), "--overrides", '{"config": {"phases": 3}}')
    assert result.exit_code == 2
    assert "--overrides: config.phases: expected a list, got 3" in result.stderr


def test_config_file_supplies_config_and_the_plan_wins(write_plan, tmp_path: Path) -> None:
    (tmp_path / "common.yml").write_text(
        "config:\n  target: http://127.0.0.1:8100\n  http: {timeout: 4}\n"
        "  phases: [{duration: 2, arrivalRate: 1}]\n",
        encoding="utf-8",
    )
    scenarios = write_plan("scenarios:\n  - flow:\n      - get: {url: /dino}\n", name="dino.yml")
    plan = load_plan(str(scenarios), PlanOptions(config_file=str(tmp_path / "common.yml")))
    assert plan.target == "http://127.0.0.1:8100"
    assert plan.http.timeout == 4
    own = write_plan(PLAN, name="own.yml")
    plan = load_plan(str(own), PlanOptions(config_file=str(tmp_path / "common.yml")))
    assert plan.target == "http://127.0.0.1:8000"
    assert plan.http.timeout == 4


def test_errors_in_a_config_file_point_into_that_file(write_plan, tmp_path: Path) -> None:
    common = tmp_path / "common.yml"
    common.write_text("config:\n  target: http://127.0.0.1:1\n  htp: {}\n", encoding="utf-8")
    scenarios = write_plan("scenarios:\n  - flow: []\n", name="s.yml")
    result = run_cli("validate", str(scenarios), "--config", str(common))
    assert result.exit_code == 2
    assert f"{common}:3:3: config: unknown key 'htp'; did you mean 'http'?" in result.stderr


def test_dotenv_feeds_process_environment(write_plan, tmp_path: Path) -> None:
    env_file = tmp_path / "ci.env"
    env_file.write_text(
        "# rates\nexport RATE=3\nTARGET='http://127.0.0.1:8200'\n", encoding="utf-8"
    )
    text = PLAN.replace("arrivalRate: 1}", "arrivalRate: '{{ $processEnvironment.RATE }}'}")
    text = text.replace("target: http://127.0.0.1:8000", "target: '{{ $env.TARGET }}'")
    result = run_cli("validate", str(write_plan(text)), "--dotenv", str(env_file))
    assert result.exit_code == 0, result.stderr
    assert "http://127.0.0.1:8200" in result.stdout
    assert "30 arrivals" in result.stdout


def test_payload_without_path_takes_the_csv_from_p(write_plan, tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_text("ann,1\nbob,2\n", encoding="utf-8")
    text = PLAN.replace("  variables:", "  payload:\n    fields: [name, id]\n  variables:")
    path = str(write_plan(text))
    result = run_cli("validate", path)
    assert result.exit_code == 2
    assert "payload has no 'path': give its CSV file with -p/--payload" in result.stderr
    plan = load_plan(path, PlanOptions(payload=str(tmp_path / "users.csv")))
    assert plan.payloads[0].path == str((tmp_path / "users.csv").resolve())
    assert plan.payloads[0].fields == ("name", "id")


def test_payload_path_uses_the_environment_name(write_plan, tmp_path: Path) -> None:
    (tmp_path / "local-urls.csv").write_text("/a\n", encoding="utf-8")
    text = (
        "config:\n  target: http://127.0.0.1:1\n  payload:\n"
        "    path: './{{ $environment }}-urls.csv'\n    fields: [url]\n"
        "scenarios:\n  - flow: []\n"
    )
    plan = load_plan(str(write_plan(text)), PlanOptions(environment="local"))
    assert plan.payloads[0].path.endswith("local-urls.csv")
