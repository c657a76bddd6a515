"""A capacity step's achieved rate (issue 22, second new-user review): the requests the
target answered a second (a response of any status, not a timeout or a refusal),
counted over the step's scheduled measured part only (settle to the end of arrivals),
never over its drain; and the same over --workers' 10-second periods."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.helpers import run_cli
from tests.servers import ServerThread
from tests.test_capacity_steps import PROGRESS, a_plan, live, second, window_of
from yamlload.checks.parse import parse_ensure
from yamlload.cli.capacity_steps import SecondsWindow, judged_step, periods_window
from yamlload.metrics import names as n
from yamlload.metrics.histogram import Metrics
from yamlload.metrics.live import Second
from yamlload.metrics.names import endpoint_key
from yamlload.metrics.periods import Period
from yamlload.results.run import RunResult

SLOS = [parse_ensure("p95<500")]
# What the think-time step may read of its offered requests a second: the old rate
# (drain in the denominator) read ~0.87 of it here.
RATE_TOLERANCE = 0.06


def test_requests_that_timed_out_are_not_answered() -> None:
    """10 sent a second, 4 answered (one a 500), 6 timed out: 4 req/s, not 10."""
    counters = {n.REQUESTS: 10, n.RESPONSES: 4, n.REQUESTS_FAILED: 7, "errors.ETIMEDOUT": 6}
    counters |= {endpoint_key("GET /", "requests"): 10, endpoint_key("GET /", "codes.200"): 3}
    counters |= {
        endpoint_key("GET /", "codes.500"): 1,
        endpoint_key("GET /", "errors.ETIMEDOUT"): 6,
    }
    step = judged_step(10.0, window_of(Second(1.0, Metrics(counters))), a_plan(), SLOS, 1e9)
    assert step.throughput == 4.0, step


def test_every_request_timing_out_answers_none() -> None:
    counters = {n.REQUESTS: 400, "errors.ETIMEDOUT": 400}
    counters |= {
        endpoint_key("GET /", "requests"): 400,
        endpoint_key("GET /", "errors.ETIMEDOUT"): 400,
    }
    timed_out = Second(1.0, Metrics(counters))
    step = judged_step(400.0, window_of(timed_out), a_plan(), SLOS, 1e9, reached=True)
    assert step.verdict == "bad" and step.throughput == 0.0


def test_the_rate_leaves_out_the_drain_and_the_settle() -> None:
    """Settle 1 s, arrivals end at 3 s: the seconds [1, 2] and [2, 3] count for the rate
    (60 answered a second); the drain (3 to 4.5 s, 15 answered) counts for latency only."""
    window = SecondsWindow(settle=1.0, end=3.0)
    for at, answered in ((1.0, 40), (2.0, 60), (3.0, 60)):
        window.second(live(second(at, answered)), PROGRESS)
    asyncio.run(window.finish(live(second(4.5, 15)), PROGRESS))
    assert window.metrics.counters[n.REQUESTS] == 60 + 60 + 15  # latency keeps the drain
    assert window.answered == 120 and window.rate_seconds == 2.0
    step = judged_step(20.0, window, a_plan(), SLOS, 1e9)
    assert step.throughput == 60.0, step


def test_over_workers_the_rate_leaves_out_the_drain_period() -> None:
    """A 30 s step, settle 10 s: periods 1 and 2 count for the rate, period 3 (the drain,
    30 to 31 s) for latency only."""
    periods = [
        Period(i, Metrics({n.REQUESTS: k, n.RESPONSES: k}, {}), first=i * 10.0, last=i * 10 + 9.9)
        for i, k in ((0, 300), (1, 600), (2, 600), (3, 20))
    ]
    result = RunResult(periods=periods, duration=31.0, phases=[])
    window = periods_window(result, settle=6.0, end=30.0)
    assert window.metrics.counters[n.RESPONSES] == 1220
    assert window.answered == 1200 and window.rate_seconds == 20.0


def test_with_think_times_a_step_answers_its_users_requests(
    tmp_path: Path, server: ServerThread
) -> None:
    """3 requests a user, think 0.5 s then 0.3 s, 20 users/s: 60 req/s once sessions
    overlap. The drain (the last users' later requests) is not in the denominator."""
    url = server.url
    plan = tmp_path / "think.yml"
    plan.write_text(
        f"config:\n  target: {url}\n  phases:\n    - duration: 1\n      arrivalRate: 1\n"
        "scenarios:\n  - flow:\n      - get:\n          url: /\n      - think: 0.5\n"
        "      - get:\n          url: /\n      - think: 0.3\n      - get:\n          url: /\n",
        encoding="utf-8",
    )
    report = tmp_path / "report.json"
    flags = ("--from", "20", "--to", "20", "--step", "3s", "--max-lag", "5000")
    result = run_cli("capacity", str(plan), "-o", str(report), "--slo", "p95<2000", *flags)
    data = json.loads(report.read_text(encoding="utf-8"))
    (step,) = data["capacity"]["steps"]
    assert step["verdict"] == "good", result.output + result.stderr
    offered = step["rate"] * 3  # requests a second the step's users made once overlapping
    assert abs(step["throughput"] / offered - 1) <= RATE_TOLERANCE, step
