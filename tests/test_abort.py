"""Abort early (issue 17): `--abort-on-fail`, config.ensure's per-threshold `abortOnFail`
and `--abort-delay`. A failing check judged on the run so far stops the run as Ctrl-C
would: the report is written and says why (`run.stoppedBy`), and the exit code is 1.
Runs are against a server on 127.0.0.1; what is asserted is counts and what the report
says, never wall-clock time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.helpers import run_cli
from tests.servers import ServerThread, make_test_app
from yamlload.checks.parse import Check, abort_checks, checks_for_run, parse_ensure
from yamlload.cli.verdict import Verdict, exit_code
from yamlload.plan.compile import load_plan

# The plan would make this many arrivals (30 s at 10/s) if nothing stopped it.
PLANNED_ARRIVALS = 300


@pytest.fixture
def target(server: ServerThread) -> str:
    return server.url


def plan_text(target: str, url: str, ensure: str = "", seconds: int = 30, rate: int = 10) -> str:
    return (
        f"config:\n  target: {target}\n"
        f"  phases: [{{duration: {seconds}, arrivalRate: {rate}}}]\n"
        + ensure
        + f"scenarios:\n  - flow: [{{get: {{url: {url}}}}}]\n"
    )


def run_report(
    write_plan: Any, tmp_path: Path, text: str, *flags: str
) -> tuple[int, dict[str, Any], str]:
    plan = write_plan(text)
    out = tmp_path / "report.json"
    result = run_cli("run", str(plan), "-q", "-o", str(out), *flags)
    report = json.loads(out.read_text()) if out.exists() else {}
    return result.exit_code, report, result.output + result.stderr


def requests_made(report: dict[str, Any]) -> int:
    return int(report["aggregate"]["counters"]["http.requests"])


def test_abort_on_fail_stops_a_failing_run_early(
    target: str, write_plan: Any, tmp_path: Path
) -> None:
    code, report, output = run_report(
        write_plan,
        tmp_path,
        plan_text(target, "/status/500"),
        "--abort-on-fail",
        "--ensure",
        "error_rate<1%",
        "--abort-delay",
        "1s",
    )
    assert code == 1
    stopped_by = report["run"]["stoppedBy"]
    assert stopped_by.startswith("abort: error_rate<1% failed (100.00%")
    assert requests_made(report) < PLANNED_ARRIVALS // 3
    assert "abort: error_rate<1% failed" in output
    failed = [c for c in report["checks"] if c["result"] == "fail"]
    assert [c["check"] for c in failed] == ["error_rate<1%"]


def test_an_endpoint_check_aborts_too(target: str, write_plan: Any, tmp_path: Path) -> None:
    code, report, _ = run_report(
        write_plan,
        tmp_path,
        plan_text(target, "/status/503"),
        "--abort-on-fail",
        "--ensure",
        "GET /status/503: codes.503<3",
        "--abort-delay",
        "1s",
    )
    assert code == 1
    assert report["run"]["stoppedBy"].startswith("abort: GET /status/503: codes.503<3 failed (")
    assert requests_made(report) < PLANNED_ARRIVALS // 3


def test_abort_on_fail_in_the_plan_per_threshold(
    target: str, write_plan: Any, tmp_path: Path
) -> None:
    ensure = (
        "  ensure:\n    thresholds:\n"
        "      - http.response_time.p99: {threshold: 50, abortOnFail: true}\n"
    )
    code, report, _ = run_report(
        write_plan, tmp_path, plan_text(target, "/sleep/200", ensure), "--abort-delay", "1s"
    )
    assert code == 1
    assert report["run"]["stoppedBy"].startswith("abort: http.response_time.p99 < 50 failed (")
    assert requests_made(report) < PLANNED_ARRIVALS // 3


def test_a_failing_check_without_abort_runs_to_the_end(
    target: str, write_plan: Any, tmp_path: Path
) -> None:
    ensure = "  ensure:\n    thresholds:\n      - http.response_time.p99: {threshold: 1}\n"
    text = plan_text(target, "/sleep/20", ensure, seconds=2, rate=5)
    code, report, output = run_report(write_plan, tmp_path, text, "--abort-delay", "0s")
    assert code == 1
    assert report["run"]["stoppedBy"] is None
    assert requests_made(report) == 10
    # an --abort-delay that nothing uses is said, not silently ignored
    assert "warning: --abort-delay does nothing here: no check stops the run early" in output


def test_an_abort_delay_as_long_as_the_run_is_said(
    target: str, write_plan: Any, tmp_path: Path
) -> None:
    text = plan_text(target, "/ok", seconds=2, rate=5)
    code, _, output = run_report(
        write_plan, tmp_path, text, "--abort-on-fail", "--ensure", "p99<5s", "--abort-delay", "1m"
    )
    assert code == 0
    assert (
        "warning: --abort-delay 60s is as long as the run's phases (2s): "
        "no check can stop it early" in output
    )


def test_a_passing_check_does_not_abort(target: str, write_plan: Any, tmp_path: Path) -> None:
    text = plan_text(target, "/ok", seconds=2, rate=5)
    code, report, _ = run_report(
        write_plan, tmp_path, text, "--abort-on-fail", "--ensure", "p99<5s", "--abort-delay", "0s"
    )
    assert code == 0
    assert report["run"]["stoppedBy"] is None
    assert requests_made(report) == 10


@pytest.mark.parametrize("split", [["--workers", "2"], ["--dask", "tcp://127.0.0.1:1"]])
def test_abort_on_fail_is_refused_when_the_run_is_split(write_plan: Any, split: list[str]) -> None:
    plan = write_plan(plan_text("http://127.0.0.1:1", "/ok", seconds=1, rate=1))
    result = run_cli("run", str(plan), "--abort-on-fail", "--ensure", "p95<1", *split)
    assert result.exit_code == 2
    assert "--abort-on-fail needs the run in one process" in result.stderr


def test_abort_on_fail_in_the_plan_is_refused_when_the_run_is_split(write_plan: Any) -> None:
    ensure = (
        "  ensure:\n    thresholds:\n      - vusers.failed: {threshold: 1, abortOnFail: true}\n"
    )
    plan = write_plan(plan_text("http://127.0.0.1:1", "/ok", ensure, seconds=1, rate=1))
    result = run_cli("run", str(plan), "--workers", "2")
    assert result.exit_code == 2
    assert "abortOnFail (vusers.failed < 1) needs the run in one process" in result.stderr


def test_a_bad_abort_delay_is_a_usage_error(write_plan: Any) -> None:
    plan = write_plan(plan_text("http://127.0.0.1:1", "/ok", seconds=1, rate=1))
    result = run_cli("run", str(plan), "--abort-on-fail", "--abort-delay", "soon")
    assert result.exit_code == 2
    assert "--abort-delay" in result.stderr


# --------------------------------------------------------------------------- which checks


def _checks(write_plan: Any, ensure: str, *expressions: str) -> list[Check]:
    plan = load_plan(str(write_plan(plan_text("http://127.0.0.1:1", "/ok", ensure, 1, 1))))
    return checks_for_run(plan, expressions)


def test_only_checks_that_can_already_fail_are_judged_live() -> None:
    checks = [
        parse_ensure(text)
        for text in ("p95<500", "error_rate<=1%", "vusers.failed==0", "rps>=10", "vusers.created>5")
    ]
    live = abort_checks(checks, every=True)
    assert [c.source for c in live] == ["p95<500", "error_rate<=1%", "vusers.failed==0"]


def test_abort_on_fail_marks_only_the_thresholds_that_say_so(write_plan: Any) -> None:
    ensure = (
        "  ensure:\n    p95: 300\n    thresholds:\n"
        "      - http.response_time.p99: {threshold: 500, abortOnFail: true}\n"
        "      - vusers.failed: 1\n"
    )
    checks = _checks(write_plan, ensure, "error_rate<1%")
    assert [c.source for c in abort_checks(checks, every=False)] == ["http.response_time.p99 < 500"]
    assert len(abort_checks(checks, every=True)) == 4


def test_a_check_on_a_monitored_series_aborts(write_plan: Any, tmp_path: Path) -> None:
    """A queue that is too deep, read from a Prometheus endpoint while the run goes."""
    app = make_test_app()

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text="# TYPE queue_depth gauge\nqueue_depth 50\n")

    app.router.add_get("/metrics", metrics)
    extra = (
        "  monitor:\n"
        "    - {name: api, prometheus: /metrics, interval: 1s, metrics: {queue: queue_depth}}\n"
        "  ensure:\n    thresholds:\n"
        "      - monitor.api.queue.max: {threshold: 10, abortOnFail: true}\n"
    )
    with ServerThread(app) as server:
        code, report, _ = run_report(
            write_plan, tmp_path, plan_text(server.url, "/ok", extra), "--abort-delay", "1s"
        )
    assert code == 1
    assert report["run"]["stoppedBy"] == "abort: monitor.api.queue.max < 10 failed (50)"
    assert requests_made(report) < PLANNED_ARRIVALS // 3


def test_a_run_a_failing_check_stopped_exits_1_even_if_its_checks_pass_at_the_end() -> None:
    passed = Verdict(outcomes=())
    assert exit_code(passed, "abort: p95<500 failed (612.0 ms)", output_failed=False) == 1
    assert exit_code(passed, None, output_failed=False) == 0
    assert exit_code(passed, "SIGINT", output_failed=False) == 130
    assert exit_code(Verdict(invalid=("lag",)), "abort: p95<500 failed", False) == 3
