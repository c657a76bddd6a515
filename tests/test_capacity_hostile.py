"""`yamlload capacity` against hostile targets (issue 22, attacker review): a fast target
with a few slow requests, a plan mixing a long scenario with a short one, a gateway whose
fast 504s leave its backend a queue, a target answering 200 with the wrong body, and the
minimum-arrivals check over workers. Servers run on 127.0.0.1; steps are judged by their
counts, never by the wall clock."""

from __future__ import annotations

import asyncio
import collections
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.helpers import run_cli
from tests.servers import ServerThread
from yamlload.cli import capacity as capacity_cli
from yamlload.cli.capacity import NO_EXPECT_SLO_WARNING
from yamlload.cli.capacity_steps import settle_warning
from yamlload.plan.compile import load_plan

# Forgiven arrival lag: the machine is shared; these tests are about the verdicts.
LAG_FORGIVEN = ("--max-lag", "5000")
# /tail: every TAIL_EVERY-th request is held TAIL_SECONDS, the rest answered at once.
TAIL_EVERY = 50
TAIL_SECONDS = 2.0
# /limited: at most LIMITED_AT_ONCE requests served at once, each LIMITED_MS long.
LIMITED_AT_ONCE = 2
LIMITED_MS = 50.0
# /gateway: the backend serves BACKEND_RATE requests a second, in order; the gateway
# answers 504 when its request has waited GATEWAY_TIMEOUT, and the backend keeps it.
BACKEND_RATE = 60.0
GATEWAY_TIMEOUT = 0.5
BACKEND_TICK = 0.01
STEP_SECONDS = 6.0


def hostile_app() -> web.Application:
    app = web.Application()
    counts = {"tail": 0}
    limit = asyncio.Semaphore(LIMITED_AT_ONCE)
    backlog: collections.deque[asyncio.Future[None]] = collections.deque()

    async def tail(request: web.Request) -> web.Response:
        counts["tail"] += 1
        if counts["tail"] % TAIL_EVERY == 0:
            await asyncio.sleep(TAIL_SECONDS)
        return web.json_response({"ok": True})

    async def fast(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def failing(request: web.Request) -> web.Response:
        return web.json_response({"ok": False}, status=500)

    async def wrong_body(request: web.Request) -> web.Response:
        return web.json_response({"ok": False})  # a 200, but not what the plan expects

    async def limited(request: web.Request) -> web.Response:
        async with limit:
            await asyncio.sleep(LIMITED_MS / 1000)
        return web.json_response({"ok": True})

    async def gateway(request: web.Request) -> web.Response:
        done = asyncio.get_running_loop().create_future()
        backlog.append(done)
        try:
            await asyncio.wait_for(asyncio.shield(done), GATEWAY_TIMEOUT)
        except TimeoutError:
            return web.json_response({"error": "gateway timeout"}, status=504)
        return web.json_response({"ok": True})

    async def backend(app: web.Application) -> Any:
        """Serves the queue at BACKEND_RATE, by the clock (not by sleeps, which run late)."""

        async def serve() -> None:
            began, served = time.monotonic(), 0
            while True:
                await asyncio.sleep(BACKEND_TICK)
                due = int((time.monotonic() - began) * BACKEND_RATE)
                while served < due:
                    served += 1
                    if backlog:
                        backlog.popleft().set_result(None)
                    else:
                        began, served = time.monotonic(), 0  # idle: no credit saved up
                        break

        task = asyncio.create_task(serve())
        yield
        task.cancel()

    app.cleanup_ctx.append(backend)
    app.add_routes(
        [
            web.get("/tail", tail),
            web.get("/fast", fast),
            web.get("/wrong-body", wrong_body),
            web.get("/failing", failing),
            web.get("/limited", limited),
            web.get("/gateway", gateway),
        ]
    )
    return app


@pytest.fixture
def target() -> Iterator[ServerThread]:
    with ServerThread(hostile_app()) as running:
        yield running


def write_plan(tmp_path: Path, url: str, scenarios: str) -> Path:
    plan = tmp_path / "plan.yml"
    plan.write_text(
        f"config:\n  target: {url}\n  phases: [{{duration: 1, arrivalRate: 1}}]\n"
        f"scenarios:\n{scenarios}",
        encoding="utf-8",
    )
    return plan


def one_get(path: str, extra: str = "") -> str:
    return f"  - flow:\n      - get:\n          url: {path}\n{extra}"


def capacity(plan: Path, tmp_path: Path, *flags: str) -> tuple[int, str, dict[str, Any]]:
    report = tmp_path / "report.json"
    result = run_cli("capacity", str(plan), "-o", str(report), *LAG_FORGIVEN, *flags)
    data = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    return result.exit_code, result.output + result.stderr, data


def verdicts(data: dict[str, Any]) -> list[tuple[float, str]]:
    return [(s["rate"], s["verdict"]) for s in data["capacity"]["steps"]]


SLOS = ("--slo", "p95<200", "--slo", "error_rate<1%")


# --------------------------------------------------------------- 1: the shortfall rule


def test_a_fast_target_with_a_few_slow_requests_sustains_the_rate(
    tmp_path: Path, target: ServerThread
) -> None:
    plan = write_plan(tmp_path, target.url, one_get("/tail"))
    # the last slow request (the 150th of 160) holds the drain 2 s: 3 of 160 slow
    flags = ("--from", "20", "--to", "20", "--step", "8s", *SLOS)
    code, out, data = capacity(plan, tmp_path, *flags)
    assert code == 0, out
    assert verdicts(data) == [(20.0, "good")], data["capacity"]["steps"]
    assert data["capacity"]["max_rate"] == 20


MIXED = (
    "  - weight: 1\n    flow:\n      - get: {url: /fast}\n      - think: 2\n"
    "  - weight: 3\n    flow:\n      - get: {url: /fast}\n"
)


def test_a_long_scenario_beside_a_short_one_is_no_shortfall(
    tmp_path: Path, target: ServerThread
) -> None:
    plan = write_plan(tmp_path, target.url, MIXED)
    # a settle of 2.2 s outlasts the long session; its drain (2 s) is no shortfall
    code, out, data = capacity(plan, tmp_path, "--from", "10", "--to", "10", "--step", "11s", *SLOS)
    assert code == 0, out
    assert verdicts(data) == [(10.0, "good")], data["capacity"]["steps"]


def test_the_settle_warning_names_the_longest_scenario(tmp_path: Path) -> None:
    mixed = MIXED.replace("think: 2", "think: 3")
    plan = load_plan(str(write_plan(tmp_path, "http://127.0.0.1:9", mixed)))
    assert settle_warning(plan, 3.0) == (
        "a session of scenario #1 lasts at least 3s (its think times) but a step settles "
        "for only 0.6s: use --step ≥ 15s"
    )
    assert settle_warning(plan, 15.0) is None


def test_a_real_overload_is_still_bad(tmp_path: Path, target: ServerThread) -> None:
    # /limited serves LIMITED_AT_ONCE × 1000 / LIMITED_MS = 40 requests a second
    plan = write_plan(tmp_path, target.url, one_get("/limited"))
    flags = ("--from", "80", "--to", "80", "--step", "3s", "--precision", "60%", *SLOS)
    _, out, data = capacity(plan, tmp_path, *flags)
    assert verdicts(data)[0] == (80.0, "bad"), out


# --------------------------------------------------------------- 2: the 504 gateway's backlog


def test_the_step_after_a_bad_one_is_judged_on_a_drained_target(
    tmp_path: Path, target: ServerThread
) -> None:
    # 100/s for 6 s leaves the backend (60/s) about 4 s of queued work: the quiet
    # cool-down alone leaves 50/s a queue longer than the gateway waits
    plan = write_plan(tmp_path, target.url, one_get("/gateway"))
    step = f"{STEP_SECONDS:g}s"
    flags = ("--from", "100", "--to", "100", "--step", step, "--precision", "50%", *SLOS)
    code, out, data = capacity(plan, tmp_path, *flags)
    assert verdicts(data) == [(100.0, "bad"), (50.0, "good"), (75.0, "bad")], out
    assert code == 0 and data["capacity"]["max_rate"] == 50
    phases = [p["name"] for p in data["plan"]["phases"]]
    assert "cool-down after step 1" in phases
    assert "cool-down after step 3" not in phases  # the search ended: no step to protect
    assert out.count("Cool-down: 25 users/s until every SLO holds again") == 1, out
    totals = data["aggregate"]["counters"]
    ended = sum(totals.get(k, 0) for k in ("http.responses", "http.requests_interrupted"))
    errors = sum(v for k, v in totals.items() if k.startswith("errors."))
    assert totals["http.requests"] == ended + errors
    arrivals = sum(round(rate * STEP_SECONDS) for rate, _ in verdicts(data))
    assert totals["http.requests"] > arrivals  # the probe's requests are counted too


def test_a_target_that_did_not_recover_is_warned_of(
    tmp_path: Path, target: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capacity_cli, "MIN_PROBE_SECONDS", 1.0)  # the probe: one --step
    plan = write_plan(tmp_path, target.url, one_get("/failing"))
    _, out, data = capacity(plan, tmp_path, "--from", "20", "--to", "20", "--step", "2s", *SLOS)
    assert verdicts(data) == [(20.0, "bad"), (10.0, "bad")], out
    said = (
        "the target had not recovered 2s after the step at 20 users/s: "
        "the next step may be judged on its backlog"
    )
    assert f"warning: {said}" in out
    assert said in data["capacity"]["warnings"]
    phases = [p["name"] for p in data["plan"]["phases"]]
    assert phases == ["step 1: 20 users/s", "cool-down after step 1", "step 2: 10 users/s"]


# --------------------------------------------------------------- 3: failed expectations


def test_a_target_failing_every_expectation_is_bad(tmp_path: Path, target: ServerThread) -> None:
    expect = "          expect:\n            - equals: ['{{ ok }}', 'true']\n"
    expect = "          capture: {json: $.ok, as: ok}\n" + expect
    plan = write_plan(tmp_path, target.url, one_get("/wrong-body", expect))
    flags = ("--from", "5", "--to", "5", "--step", "3s", "--ensure", "capacity>=5", *SLOS)
    code, out, data = capacity(plan, tmp_path, *flags)
    assert f"warning: {NO_EXPECT_SLO_WARNING}" in out
    assert data["capacity"]["warnings"][-1:] != []
    step = data["capacity"]["steps"][0]
    assert step["verdict"] == "bad"
    assert step["reason"] == (
        "the target failed half its expectations or more: 100.00% of equals checks failed"
    )
    assert code == 1  # --ensure 'capacity>=5' fails: no rate was good


def test_an_slo_on_expectations_silences_the_warning(tmp_path: Path, target: ServerThread) -> None:
    expect = "          expect:\n            - statusCode: 200\n"
    plan = write_plan(tmp_path, target.url, one_get("/fast", expect))
    flags = ("--from", "5", "--to", "5", "--step", "3s", "--slo", "plugins.expect.failed==0")
    _, out, data = capacity(plan, tmp_path, *flags, *SLOS)
    assert NO_EXPECT_SLO_WARNING not in out
    assert verdicts(data) == [(5.0, "good")]


# --------------------------------------------------------------- 4: arrivals over workers


def test_too_few_arrivals_over_workers_is_refused(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "http://127.0.0.1:9", one_get("/fast"))
    flags = ("--from", "1", "--to", "1", "--step", "13s", "--workers", "2", *SLOS)
    code, out, _ = capacity(plan, tmp_path, *flags)
    assert code == 2
    assert "too few arrivals to measure (1/s × 3s after the settle" in out
