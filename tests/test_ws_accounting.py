"""WebSocket accounting (issue 19), whenever a run stops: every session opened ends
exactly once (completed, failed or interrupted), every message counted sent is one the
server got, and HTTP's own invariant (requests = responses + errors + interrupted) holds
beside ws scenarios. A stop with sockets open still ends the run and its report."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.servers import ServerThread
from tests.ws_servers import counts, make_ws_app
from yamlload import PlanOptions, load_plan
from yamlload.results.summary import summarize
from yamlload.runtime.engine import Engine, RunOptions, run_on_uvloop

SESSION_ENDS = (
    "websocket.sessions_completed",
    "websocket.sessions_failed",
    "websocket.sessions_interrupted",
)
# A run in these tests is cut after at most this long (the plans' waits are longer).
LONGEST_STOP_SECONDS = 1.5


@pytest.fixture(scope="module")
def ws_server() -> Iterator[ServerThread]:
    with ServerThread(make_ws_app()) as running:
        yield running


def run_stopped(plan_doc: dict[str, Any], target: str, stop_after: float) -> dict[str, Any]:
    """Run the plan, SIGINT-stopped after `stop_after` seconds unless it ended first:
    the JSON report's aggregate counters."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plan.json"
        path.write_text(json.dumps(plan_doc), encoding="utf-8")
        plan = load_plan(str(path), PlanOptions(target=target))

    async def main() -> Any:
        engine = Engine(plan, RunOptions(seed=3, grace_seconds=0.2))
        stop = asyncio.get_running_loop().call_later(stop_after, engine.stop, "SIGINT")
        try:
            return await engine.run()
        finally:
            stop.cancel()

    result = run_on_uvloop(main())
    report: dict[str, Any] = summarize(plan, result, "ws accounting").to_json()
    return report


def assert_ws_accounted(counters: dict[str, int]) -> None:
    opened = counters.get("websocket.sessions", 0)
    assert opened == sum(counters.get(name, 0) for name in SESSION_ENDS), counters
    users = counters.get("vusers.created", 0)
    ended = sum(counters.get(f"vusers.{k}", 0) for k in ("completed", "failed", "interrupted"))
    assert users == ended, counters
    requests = counters.get("http.requests", 0)
    request_errors = sum(
        n for k, n in counters.items() if k.startswith("errors.E")
    )  # HTTP's request errors are Node's E-names
    assert requests == (
        counters.get("http.responses", 0)
        + request_errors
        + counters.get("http.requests_interrupted", 0)
    ), counters


def test_a_stop_cuts_open_sockets_as_interrupted_and_the_report_is_written(
    ws_server: ServerThread,
) -> None:
    plan_doc = {
        "config": {"phases": [{"duration": 0.2, "arrivalCount": 3}], "ws": {"timeout": 30}},
        "scenarios": [
            {
                "engine": "ws",
                "flow": [
                    {"connect": "/silent"},
                    {"send": {"payload": "anyone?", "capture": {"regexp": ".", "as": "x"}}},
                ],
            }
        ],
    }
    report = run_stopped(plan_doc, ws_server.url, stop_after=0.5)
    counters = report["aggregate"]["counters"]
    assert report["run"]["stoppedBy"] == "SIGINT"
    assert counters["websocket.sessions"] == counters["websocket.sessions_interrupted"] == 3
    assert counters["vusers.interrupted"] == 3
    assert counters["websocket.messages_sent"] == 3
    assert_ws_accounted(counters)


STEP = st.sampled_from(
    [
        {"send": "plain"},
        {"send": {"json": True}},
        {"send": {"payload": "reply", "capture": {"regexp": "reply", "as": "r"}}},
        {"send": {"payload": "x", "match": {"regexp": "x", "value": "y"}}},  # fails
        {"think": 0.05},
        {"loop": [{"send": {"payload": "l", "capture": {"regexp": "l", "as": "l"}}}], "count": 2},
    ]
)


@st.composite
def ws_plans(draw: st.DrawFn) -> dict[str, Any]:
    flow = draw(st.lists(STEP, min_size=1, max_size=6))
    route = draw(st.sampled_from(["/echo", "/echo", "/close", "/forbidden"]))
    users = draw(st.integers(1, 4))
    scenarios: list[dict[str, Any]] = [{"engine": "ws", "flow": [{"connect": route}, *flow]}]
    if draw(st.booleans()):
        scenarios.append({"flow": [{"get": {"url": "/ok"}}, {"think": 0.05}]})
    return {
        "config": {
            "phases": [{"duration": 0.3, "arrivalCount": users}],
            "ws": {"timeout": 1},
        },
        "scenarios": scenarios,
    }


@settings(
    max_examples=12,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(plan_doc=ws_plans(), stop_after=st.floats(0.05, LONGEST_STOP_SECONDS))
def test_every_session_and_message_is_accounted_for_whenever_the_run_stops(
    ws_server: ServerThread, plan_doc: dict[str, Any], stop_after: float
) -> None:
    before = counts(ws_server)["received"]
    report = run_stopped(plan_doc, ws_server.url, stop_after)
    counters = report["aggregate"]["counters"]
    assert_ws_accounted(counters)
    # /echo counts what it got: a message counted sent reached it (the other routes do
    # not count), and the replies read are at most the messages sent
    echoed = counts(ws_server)["received"] - before
    if plan_doc["scenarios"][0]["flow"][0]["connect"] == "/echo":
        assert counters.get("websocket.messages_sent", 0) == echoed
    assert counters.get("websocket.messages_received", 0) <= counters.get(
        "websocket.messages_sent", 0
    )
