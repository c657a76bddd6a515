"""`--dashboard` takes an optional address: a plan right after it is the plan, not an
address (`yamlload run --dashboard plans/x.yml` used to say "Missing argument PLAN")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.servers import ServerThread
from tests.test_dashboard import write_plan
from yamlload.cli.run import run


@pytest.fixture
def any_free_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--dashboard` alone serves on any free port, not 5665: tests run side by side."""
    option = next(p for p in run.params if p.name == "dashboard")
    monkeypatch.setattr(option, "flag_value", "127.0.0.1:0")


@pytest.mark.usefixtures("any_free_port")
@pytest.mark.parametrize(
    "args",
    [
        ["--dashboard", "{plan}"],
        ["--dashboard", "{plan}", "-q"],
        ["{plan}", "--dashboard", "127.0.0.1:0"],
        ["{plan}", "--dashboard"],
        ["-q", "--dashboard", "{plan}"],
    ],
)
def test_a_plan_after_dashboard_is_the_plan(
    tmp_path: Path, fresh_server: ServerThread, args: list[str]
) -> None:
    plan = write_plan(tmp_path, fresh_server.url, 1)
    report = tmp_path / "r.json"
    argv = [a.format(plan=plan) for a in args]
    result = run_cli("run", *argv, "-o", str(report))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "Dashboard: http://127.0.0.1:" in result.stderr
    counters = json.loads(report.read_text())["aggregate"]["counters"]
    assert counters["http.requests"] == 40


@pytest.mark.usefixtures("any_free_port")
def test_a_missing_plan_after_dashboard_is_said_to_be_missing(tmp_path: Path) -> None:
    result = run_cli("run", "--dashboard", str(tmp_path / "nowhere.yml"))
    assert result.exit_code == 2
    assert "Missing argument" not in result.stderr
    assert "nowhere.yml" in result.stderr and "[HOST:]PORT" not in result.stderr
