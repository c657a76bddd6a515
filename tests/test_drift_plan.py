"""config.drift (issue 22) read from a plan: its minimum and thresholds compiled, the
defaults without it, and each mistake a positioned problem (exit 2) before any traffic;
`--ensure 'drift.…'` names checked against the plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import run_cli
from yamlload.plan.compile import load_plan
from yamlload.plan.ir import DRIFT_MIN_SECONDS, DriftSettings

PLAN = """config:
  target: http://127.0.0.1:1
  phases: [{{duration: 10, arrivalRate: 1}}]
{drift}scenarios:
  - flow: [{{get: {{url: /}}}}]
"""


def test_config_drift_sets_the_minimum_and_thresholds(write_plan: Any) -> None:
    drift = "  drift:\n    minDuration: 30s\n    thresholds: {p95: 20, rps: '5%'}\n"
    plan = load_plan(str(write_plan(PLAN.format(drift=drift))))
    assert plan.drift.min_seconds == 30.0
    assert plan.drift.threshold("p95") == 0.2 and plan.drift.threshold("rps") == 0.05
    assert plan.drift.threshold("error_rate") == 0.01  # a default kept
    assert plan.drift.threshold("monitor.api.memory_mb") == 0.1  # the monitor row


def test_without_config_drift_the_defaults_hold(write_plan: Any) -> None:
    plan = load_plan(str(write_plan(PLAN.format(drift=""))))
    assert plan.drift == DriftSettings() and plan.drift.min_seconds == DRIFT_MIN_SECONDS == 300


def test_mistakes_in_config_drift_are_placed(write_plan: Any) -> None:
    bad = "  drift:\n    minDuration: soon\n    thresholds: {rps: ten}\n"
    result = run_cli("validate", str(write_plan(PLAN.format(drift=bad))))
    assert result.exit_code == 2
    assert ":5:18: config.drift.minDuration: expected a duration" in result.stderr
    assert 'config.drift.thresholds.rps: expected a percentage such as 10 or "10%"' in (
        result.stderr
    )
    typo = "  drift:\n    thresholds:\n      p59: 10\n"
    result = run_cli("validate", str(write_plan(PLAN.format(drift=typo))))
    assert result.exit_code == 2
    assert ":6:7: config.drift.thresholds.p59: drift has no metric 'p59'; did you mean 'p95'?" in (
        result.stderr
    )


def test_drift_checks_are_named_against_the_plan(write_plan: Any, tmp_path: Path) -> None:
    plan = str(write_plan(PLAN.format(drift="")))
    result = run_cli(
        "run",
        plan,
        "--ensure",
        "drift.monitor.api.memory_mb<5%",
        "--ensure",
        "GET /: drift.p95<10%",
        "--ensure",
        "drift.p95<10ms",
    )
    assert result.exit_code == 2
    assert "names a monitored series, but the plan has no config.monitor" in result.stderr
    assert "drift is the whole run's, not an endpoint's" in result.stderr
    assert "a drift limit is a percentage such as 10%, not 'ms'" in result.stderr
    assert not list(tmp_path.glob("*.json"))  # nothing ran


def test_drift_is_neither_graded_nor_a_condition(write_plan: Any) -> None:
    config = (
        "  grades:\n    drift.p95: [5%, 10%, 20%, 40%]\n"
        "  ensure:\n    conditions:\n      - expression: drift.p95 < 0.1\n"
    )
    result = run_cli("validate", str(write_plan(PLAN.format(drift=config))))
    assert result.exit_code == 2
    assert result.stderr.count("drift is gated on with --ensure 'drift.p95<10%'") == 2


def test_a_bare_number_is_no_drift_limit(write_plan: Any) -> None:
    """`drift.p95<10` was read as 1,000% while config.drift.thresholds reads 10 as 10%
    (issue 22): a drift limit says its %."""
    result = run_cli("run", str(write_plan(PLAN.format(drift=""))), "--ensure", "drift.p95<10")
    assert result.exit_code == 2
    assert "write drift.p95<10%" in result.stderr
    config = "  ensure:\n    thresholds:\n      - drift.p95: 10\n"
    result = run_cli("validate", str(write_plan(PLAN.format(drift=config))))
    assert result.exit_code == 2
    assert "--ensure 'drift.p95<10%'" in result.stderr
