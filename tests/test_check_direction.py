"""A flag's check written the wrong way round (issue 22 attacker review #10): `p95>1`
holds while the target is slow, `error_rate<100%` unless every request failed. Said
before any traffic, for `run --ensure` and `capacity --slo`; never refused (a user may
mean it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli
from yamlload.checks.grades import wrong_way_warnings
from yamlload.checks.parse import parse_ensure


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "p95>1",
            "--ensure 'p95>1': holds while p95 is above 1 ms, so it fails a faster "
            "target; a limit on a time is an upper one: p95<1",
        ),
        (
            "GET /a: p99>=500",
            "--ensure 'GET /a: p99>=500': holds while p99 is above 500 ms, "
            "so it fails a faster target; a limit on a time is an upper one: p99<500",
        ),
        (
            "error_rate>1%",
            "--ensure 'error_rate>1%': holds while error_rate is above 1%, so "
            "it fails a target with fewer errors; a limit on failures is an upper one: "
            "error_rate<1%",
        ),
        ("error_rate<100%", "--ensure 'error_rate<100%': holds unless every request failed"),
        (
            "user_failure_rate<=100%",
            "--ensure 'user_failure_rate<=100%': always holds: no rate is above 100%",
        ),
    ],
)
def test_a_check_the_wrong_way_round_is_said(text: str, said: str) -> None:
    assert wrong_way_warnings([parse_ensure(text)]) == [said]


@pytest.mark.parametrize(
    "text", ["p95<500", "error_rate<1%", "rps>100", "http.codes.200>0", "error_rate<=50%"]
)
def test_a_check_the_right_way_round_is_not(text: str) -> None:
    assert wrong_way_warnings([parse_ensure(text)]) == []


def test_a_missing_percent_is_said_once() -> None:
    assert wrong_way_warnings([parse_ensure("error_rate<1")]) == []


def test_a_plans_own_ensure_is_not_second_guessed() -> None:
    """config.ensure is Artillery's, and `min`-style limits are written as the plan
    author meant: only flags, typed on the spot, are checked."""
    from yamlload.errors import Pos

    assert wrong_way_warnings([parse_ensure("p95>1", Pos("plan.yml", 3, 5))]) == []


def test_run_says_it_before_the_run(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yml"
    plan.write_text(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalCount: 1}]\n"
        "scenarios:\n  - flow:\n      - get: {url: /}\n",
        encoding="utf-8",
    )
    report = tmp_path / "r.json"
    result = run_cli("run", str(plan), "--ensure", "p95>1", "-o", str(report), "-q")
    assert "warning: --ensure 'p95>1': holds while p95 is above 1 ms" in result.stderr
    assert json.loads(report.read_text(encoding="utf-8"))["checks"][0]["check"] == "p95>1"


def test_capacity_says_it_of_an_slo_before_any_traffic(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yml"
    plan.write_text(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalRate: 1}]\n"
        "scenarios:\n  - flow:\n      - get: {url: /}\n",
        encoding="utf-8",
    )
    report = tmp_path / "r.json"
    flags = ("--slo", "p95>500", "--slo", "error_rate<1%", "--from", "20", "--step", "1s")
    result = run_cli("capacity", str(plan), *flags, "-o", str(report))
    said = "--slo 'p95>500': holds while p95 is above 500 ms"
    assert f"warning: {said}" in result.stderr
    warnings = json.loads(report.read_text(encoding="utf-8"))["capacity"]["warnings"]
    assert any(w.startswith(said) for w in warnings)
