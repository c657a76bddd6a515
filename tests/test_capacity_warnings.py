"""What `yamlload capacity` says before a search that would mislead (issue 22 review):
a closed-model plan searched as arrival rates, a settle shorter than a user's session, a
rate limit written as a bare number, flags named one way; the warnings kept in the
report; and a cool-down that starts once the target served the bad step's requests.

Every search here is bounded: 1-2 s steps, a few steps at most, against 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp import web

from tests.helpers import REPO, run_cli
from tests.servers import ServerThread
from yamlload.checks.parse import fraction_warnings, parse_ensure
from yamlload.cli import capacity_steps
from yamlload.cli.capacity import NO_ERROR_SLO_WARNING, closed_model_warning
from yamlload.cli.capacity_steps import longest_session, settle_seconds, settle_warning
from yamlload.errors import PlanError
from yamlload.plan.compile import load_plan

# Nothing listens here: a step reaches nothing, is invalid, and the search ends (exit 3).
NOWHERE = "http://127.0.0.1:9"
# How long /slow holds each request: longer than a step's drain would be without it.
SLOW_SECONDS = 3.0


def plan_file(tmp_path: Path, flow: str, phases: str = "[{duration: 1, arrivalRate: 1}]") -> Path:
    plan = tmp_path / "plan.yml"
    plan.write_text(
        f"config:\n  target: {NOWHERE}\n  phases: {phases}\nscenarios:\n  - flow:\n{flow}",
        encoding="utf-8",
    )
    return plan


GET = "      - get: {url: /fast}\n"


def capacity(tmp_path: Path, plan: Path, *flags: str) -> tuple[int, str, dict[str, Any]]:
    report = tmp_path / "report.json"
    result = run_cli("capacity", str(plan), "-o", str(report), "--max-lag", "5000", *flags)
    data = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    return result.exit_code, result.stderr, data


# --------------------------------------------------------------- 4: flags named once


OPERATORS = "< <= > >= == !="
UNKNOWN_ERROR_RAT = "unknown metric 'error_rat'; did you mean 'error_rate'?"


@pytest.mark.parametrize(
    ("flag", "text", "said"),
    [
        ("--slo", "p95<<5", f"--slo 'p95<<5': one operator only: {OPERATORS}"),
        ("--slo", "p59<5", "--slo 'p59<5': unknown metric 'p59'; did you mean 'p99'?"),
        ("--ensure", "p59<5", "--ensure 'p59<5': unknown metric 'p59'; did you mean 'p99'?"),
        ("--ensure", "p95<<5", f"--ensure 'p95<<5': one operator only: {OPERATORS}"),
        # `error_rat<1%` was told that '%' only goes with error_rate: the typo is the metric
        *(
            (flag, "error_rat<1%", f"{flag} 'error_rat<1%': {UNKNOWN_ERROR_RAT}")
            for flag in ("--slo", "--ensure")
        ),
    ],
)
def test_a_bad_slo_or_ensure_names_its_flag_once(
    tmp_path: Path, flag: str, text: str, said: str
) -> None:
    plan = plan_file(tmp_path, GET)
    slos = () if flag == "--slo" else ("--slo", "p95<500")
    code, stderr, data = capacity(tmp_path, plan, *slos, flag, text)
    assert code == 2
    assert stderr.splitlines() == [said]  # and nothing about the search it refused
    assert data == {}


def test_run_names_a_bad_ensure_as_capacity_does(tmp_path: Path) -> None:
    plan = plan_file(tmp_path, GET)
    result = run_cli("run", str(plan), "--ensure", "p59<5", "-o", str(tmp_path / "r.json"))
    assert result.exit_code == 2
    assert "--ensure 'p59<5': unknown metric 'p59'; did you mean 'p99'?" in result.stderr
    assert "--ensure: " not in result.stderr


def test_a_bad_ensure_is_said_before_any_warning_about_the_search(tmp_path: Path) -> None:
    plan = plan_file(tmp_path, GET)
    code, stderr, _ = capacity(tmp_path, plan, "--slo", "p95<500", "--ensure", "p59<5")
    assert code == 2
    assert "--ensure 'p59<5'" in stderr
    assert NO_ERROR_SLO_WARNING not in stderr


# --------------------------------------------------------------- 3: a rate without %


@pytest.mark.parametrize("text", ["error_rate<2", "user_failure_rate<5", "GET /a: error_rate<=50"])
def test_a_rate_above_one_without_percent_is_refused(text: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_ensure(text)
    [problem] = caught.value.problems
    assert str(problem).startswith(f"--ensure {text!r}: ")
    assert "a fraction" in problem.message and "%?" in problem.message


def test_a_rate_of_exactly_one_without_percent_is_a_warning() -> None:
    checks = [parse_ensure(t) for t in ("error_rate<1", "error_rate<1%", "error_rate<0.01")]
    assert fraction_warnings(checks) == [
        "--ensure 'error_rate<1': reads 1 as a fraction (100%); did you mean error_rate<1%?"
    ]


def test_capacity_refuses_an_slo_rate_above_one(tmp_path: Path) -> None:
    code, stderr, data = capacity(tmp_path, plan_file(tmp_path, GET), "--slo", "error_rate<5")
    assert code == 2
    assert "--slo 'error_rate<5': " in stderr and "did you mean error_rate<5%?" in stderr
    assert data == {}


def test_run_warns_of_an_ensure_rate_of_one(tmp_path: Path) -> None:
    plan = plan_file(tmp_path, GET)
    result = run_cli("run", str(plan), "--ensure", "error_rate<1", "-o", str(tmp_path / "r.json"))
    assert "warning: --ensure 'error_rate<1': reads 1 as a fraction (100%)" in result.stderr


# --------------------------------------------------------------- 1: closed model


def test_a_closed_model_plan_is_said_to_be_searched_as_arrival_rates(tmp_path: Path) -> None:
    plan = plan_file(tmp_path, GET, phases="[{duration: 5, users: 20}]")
    code, stderr, data = capacity(
        tmp_path, plan, "--slo", "error_rate<1%", "--from", "10", "--step", "2s"
    )
    assert code == 3  # nothing listens: the first step is invalid, after the warning
    said = (
        "the plan's phases are closed-model (20 concurrent users, each looping its flow); "
        "capacity searches arrival rates instead: each step starts new users at its own "
        "rate (10 to 1000 users/s), each running its flow once"
    )
    assert f"warning: {said}" in stderr
    assert said in data["capacity"]["warnings"]


def test_an_open_model_plan_has_no_closed_model_warning(tmp_path: Path) -> None:
    plan = load_plan(str(plan_file(tmp_path, GET)))
    assert closed_model_warning(plan, 10, 1000) is None


# --------------------------------------------------------------- 2: settle vs session


THINKS = (
    "      - get: {url: /fast}\n"
    "      - think: 1\n"
    "      - loop:\n          - think: 0.5\n          - get: {url: /fast}\n        count: 4\n"
    "      - think: {min: 0.25, max: 3}\n"
    "      - parallel:\n          - get: {url: /fast}\n          - get: {url: /fast}\n"
)


def test_a_sessions_floor_is_its_think_times_loops_included(tmp_path: Path) -> None:
    plan = load_plan(str(plan_file(tmp_path, THINKS)))
    assert longest_session(plan)[1] == pytest.approx(1 + 4 * 0.5 + 0.25)


def test_a_loop_without_a_count_is_capped(tmp_path: Path) -> None:
    flow = "      - loop:\n          - think: 1\n"
    plan = load_plan(str(plan_file(tmp_path, flow)))
    assert longest_session(plan)[1] == capacity_steps.MAX_LOOPS_COUNTED


def test_the_longest_scenario_with_weight_is_the_floor(tmp_path: Path) -> None:
    """Users end as fast as they arrive only once the longest session could end: a short
    scenario beside a long one made every short step look short of users."""
    plan = tmp_path / "plan.yml"
    plan.write_text(
        f"config:\n  target: {NOWHERE}\n  phases: [{{duration: 1, arrivalRate: 1}}]\n"
        "scenarios:\n  - flow: [{think: 5}]\n  - flow: [{think: 2}, {get: {url: /a}}]\n"
        "  - {weight: 0, flow: [{think: 60}]}\n",
        encoding="utf-8",
    )
    assert longest_session(load_plan(str(plan)))[1] == 5


def test_a_settle_shorter_than_a_session_is_warned_of(tmp_path: Path) -> None:
    plan = load_plan(str(plan_file(tmp_path, THINKS)))
    assert settle_warning(plan, 2.0) == (
        "a user's session lasts at least 3.25s (its think times) but a step settles for "
        "only 0.4s: use --step ≥ 17s"
    )
    assert settle_warning(plan, 17.0) is None
    assert settle_warning(load_plan(str(plan_file(tmp_path, GET))), 2.0) is None


def test_over_workers_the_settle_is_whole_periods_or_none() -> None:
    assert settle_seconds(2.0, 1) == pytest.approx(0.4)
    assert settle_seconds(60.0, 2) == 20.0  # 12 s rounded up to two 10-second periods
    assert settle_seconds(10.0, 2) == 0.0  # no longer than a period: every one is kept


def test_capacity_warns_of_a_short_settle_before_any_traffic(tmp_path: Path) -> None:
    flow = "      - get: {url: /fast}\n      - think: 1\n"
    _, stderr, data = capacity(
        tmp_path, plan_file(tmp_path, flow), "--slo", "error_rate<1%", "--step", "2s"
    )
    said = "a user's session lasts at least 1s (its think times) but a step settles for only"
    assert said in stderr
    assert any(said in w for w in data["capacity"]["warnings"])


# --------------------------------------------------------------- 5: warnings in the report


def test_the_warnings_before_a_search_are_in_every_report(tmp_path: Path) -> None:
    md, html = tmp_path / "s.md", tmp_path / "r.html"
    code, stderr, data = capacity(
        tmp_path,
        plan_file(tmp_path, GET),
        "--slo",
        "p95<500",
        "--step",
        "2s",
        "--summary-md",
        str(md),
        "--html",
        str(html),
    )
    assert code == 3
    assert f"warning: {NO_ERROR_SLO_WARNING}" in stderr
    assert data["capacity"]["warnings"] == [NO_ERROR_SLO_WARNING]
    schema = json.loads((REPO / "schema" / "report.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(data, schema)
    assert f"Warning: {NO_ERROR_SLO_WARNING}" in md.read_text(encoding="utf-8")
    assert "no --slo limits errors: a step failing up to half" in html.read_text(encoding="utf-8")


def test_a_report_without_warnings_reads_back() -> None:
    from yamlload.results.capacity import Capacity

    found = Capacity(slos=("p95<5",), warnings=["w"])
    assert Capacity.from_json(found.to_json()).warnings == ["w"]
    assert Capacity.from_json({"steps": []}).warnings == []


# --------------------------------------------------------------- 6: the cool-down


class SlowServer:
    """/slow holds each request SLOW_SECONDS and counts the requests being served; /fast
    answers at once (the target is reached even when /slow times out)."""

    def __init__(self) -> None:
        self.serving = 0

    def app(self) -> web.Application:
        async def slow(request: web.Request) -> web.Response:
            self.serving += 1
            try:
                await asyncio.sleep(SLOW_SECONDS)
            finally:
                self.serving -= 1
            return web.json_response({"ok": True})

        async def fast(request: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        app = web.Application()
        app.add_routes([web.get("/slow", slow), web.get("/fast", fast)])
        return app


@pytest.fixture
def slow() -> Iterator[tuple[SlowServer, ServerThread]]:
    counting = SlowServer()
    with ServerThread(counting.app()) as running:
        yield counting, running


@pytest.mark.parametrize("timeout", ["10", "0.3"])
def test_a_step_after_a_bad_one_begins_once_the_target_served_its_requests(
    tmp_path: Path,
    slow: tuple[SlowServer, ServerThread],
    monkeypatch: pytest.MonkeyPatch,
    timeout: str,
) -> None:
    counting, server = slow
    plan = tmp_path / "plan.yml"
    plan.write_text(
        f"config:\n  target: {server.url}\n  http: {{timeout: {timeout}}}\n"
        "  phases: [{duration: 1, arrivalRate: 1}]\n"
        "scenarios:\n  - flow:\n      - get: {url: /fast}\n      - get: {url: /slow}\n",
        encoding="utf-8",
    )
    serving_at_start: list[int] = []
    real_step = capacity_steps.StepRunner.step

    def step(self: capacity_steps.StepRunner, rate: float, seconds: float) -> Any:
        serving_at_start.append(counting.serving)  # the server's own count
        return real_step(self, rate, seconds)

    monkeypatch.setattr(capacity_steps.StepRunner, "step", step)
    _, stderr, data = capacity(
        tmp_path, plan, "--slo", "p95<100", "--from", "20", "--to", "20", "--step", "2s"
    )
    steps = data["capacity"]["steps"]
    assert [s["verdict"] for s in steps][:2] == ["bad", "bad"], stderr
    assert len(serving_at_start) >= 2
    assert serving_at_start == [0] * len(serving_at_start)


# ------------------------------------------- second review: a typo with % and the gates


def test_percent_on_a_known_metric_still_says_where_it_goes(tmp_path: Path) -> None:
    plan = plan_file(tmp_path, GET)
    result = run_cli("run", str(plan), "--ensure", "p95<5%", "-o", str(tmp_path / "r.json"))
    assert result.exit_code == 2
    assert "'%' only goes with error_rate" in result.stderr


@pytest.mark.parametrize(
    "text", ["p95<100", "error_rate<1%", "GET /fast: p99<800", "http.codes.500==0"]
)
def test_a_capacity_search_gates_only_on_capacity(tmp_path: Path, text: str) -> None:
    """`--ensure 'p95<100'` on a search was judged over every step, the broken ones
    included, and failed a search whose good steps all met it: refused before any
    traffic, pointing at --slo."""
    plan = plan_file(tmp_path, GET)
    code, stderr, data = capacity(tmp_path, plan, "--slo", "p95<500", "--ensure", text)
    assert code == 2
    assert f"--ensure {text!r}: a capacity search gates on its answer" in stderr
    assert "--slo" in stderr.splitlines()[-1]
    assert data == {}
