"""--ensure and config.ensure on monitored series (issue 17): `monitor.<source>.<metric>.
<stat>` with min, mean, max and last; an unknown source, metric or statistic stops the run
before any traffic (exit 2) with a suggestion."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.helpers import run_cli
from tests.servers import ServerThread, make_test_app
from yamlload.checks.evaluate import evaluate
from yamlload.checks.parse import checks_for_run
from yamlload.errors import PlanError
from yamlload.metrics.periods import Period
from yamlload.plan.compile import load_plan
from yamlload.results.summary import Summary

ACTIVE_CONNECTIONS = 42


def app_with_gauge() -> web.Application:
    app = make_test_app()

    async def metrics(request: web.Request) -> web.Response:
        text = f'pg_stat_activity_count{{state="active"}} {ACTIVE_CONNECTIONS}\n'
        return web.Response(text=text, content_type="text/plain")

    app.router.add_get("/metrics", metrics)
    return app


@pytest.fixture
def server() -> Iterator[str]:
    with ServerThread(app_with_gauge()) as running:
        yield running.url


def plan_text(target: str, ensure: str = "") -> str:
    return f"""\
config:
  target: {target}
  phases: [{{duration: 2, arrivalCount: 2}}]
  monitor:
    - name: db
      prometheus: {target}/metrics
      interval: 1s
      metrics:
        active: sum(pg_stat_activity_count{{state="active"}})
{ensure}scenarios:
  - flow: [{{get: {{url: /ok}}}}]
"""


def test_ensure_on_a_monitor_series_passes_and_fails(
    write_plan: Any, tmp_path: Path, server: str
) -> None:
    plan = write_plan(plan_text(server))
    out = tmp_path / "report.json"
    passing = run_cli(
        "run", "-q", str(plan), "-o", str(out), "--ensure", "monitor.db.active.max<50"
    )
    assert passing.exit_code == 0, passing.output + passing.stderr
    failing = run_cli(
        "run", "-q", str(plan), "-o", str(out), "--ensure", "monitor.db.active.last<40"
    )
    assert failing.exit_code == 1, failing.output + failing.stderr
    (check,) = json.loads(out.read_text())["checks"]
    assert (check["check"], check["value"], check["result"]) == (
        "monitor.db.active.last<40",
        42,
        "fail",
    )


def test_config_ensure_thresholds_read_monitor_series(
    write_plan: Any, tmp_path: Path, server: str
) -> None:
    ensure = "  ensure:\n    thresholds:\n      - monitor.db.active.mean: 40\n"
    result = run_cli(
        "run", "-q", str(write_plan(plan_text(server, ensure))), "-o", str(tmp_path / "r.json")
    )
    assert result.exit_code == 1, result.output + result.stderr


@pytest.mark.parametrize(
    ("expression", "hint"),
    [
        ("monitor.dbb.active.max<50", "monitor.db.active.max"),
        ("monitor.db.activ.max<50", "monitor.db.active.max"),
        ("monitor.db.active.p95<50", "min, mean, max, last"),
        ("monitor.db.active<50", "min, mean, max, last"),
    ],
)
def test_an_unknown_series_is_exit_2_before_traffic_with_a_suggestion(
    write_plan: Any, expression: str, hint: str
) -> None:
    # the target is never contacted: the check is refused first
    result = run_cli(
        "run", "-q", str(write_plan(plan_text("http://127.0.0.1:9"))), "--ensure", expression
    )
    assert result.exit_code == 2
    assert hint in result.stderr, result.stderr


def test_without_monitor_a_monitor_check_says_so(write_plan: Any) -> None:
    text = "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalRate: 1}]\nscenarios:\n  - flow: [{get: {url: /}}]\n"
    plan = load_plan(str(write_plan(text)))
    with pytest.raises(PlanError) as caught:
        checks_for_run(plan, ["monitor.api.cpu_percent.max<80"])
    assert "config.monitor" in str(caught.value)


def test_scrape_errors_can_be_checked_and_a_series_without_samples_fails(write_plan: Any) -> None:
    plan = load_plan(str(write_plan(plan_text("http://127.0.0.1:9"))))
    checks = checks_for_run(plan, ["monitor.db.scrape_errors==0", "monitor.db.active.max<50"])
    period = Period(0)
    period.metrics.count("monitor.db.scrape_errors", 0)
    summary = Summary("p", "t", "s", 1.0, [period], [])
    errors_ok, no_samples = evaluate(checks, summary)
    assert errors_ok.ok
    assert not no_samples.ok and no_samples.value is None


@pytest.mark.parametrize(
    "condition",
    [
        "not (monitor.db.active.max > 5)",
        "monitor.db.active.max != 7",
        "monitor.db.active.max == monitor.db.active.max",
    ],
)
def test_a_condition_on_a_series_never_sampled_fails(write_plan: Any, condition: str) -> None:
    """As a threshold does: a source unreachable all run long passed any condition that
    a missing value made true."""
    ensure = f"  ensure:\n    conditions:\n      - expression: {json.dumps(condition)}\n"
    plan = load_plan(str(write_plan(plan_text("http://127.0.0.1:9", ensure))))
    checks = checks_for_run(plan, [])
    summary = Summary("p", "t", "s", 1.0, [Period(0)], [])
    (outcome,) = evaluate(checks, summary)
    assert not outcome.ok


def test_a_percent_series_takes_a_percent_limit(write_plan: Any) -> None:
    """`cpu_percent.max<80%` is what a user writes for "CPU usage > 80%": the series is
    already in %, so the limit is 80, not 0.8."""
    text = plan_text("http://127.0.0.1:9").replace(
        "        active: sum", "        cpu_percent: sum(x)\n        active: sum"
    )
    plan = load_plan(str(write_plan(text)))
    (check,) = checks_for_run(plan, ["monitor.db.cpu_percent.max<80%"])
    assert check.limit == 80
    with pytest.raises(Exception, match="only goes with"):
        checks_for_run(plan, ["monitor.db.active.max<80%"])
