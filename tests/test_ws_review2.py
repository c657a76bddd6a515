"""WebSocket scenarios (issue 19), review 2: a stop ends a run whatever a server does
(a flood, a silent server that never answers a close), a handshake's redirect is
refused, the messages kept per connection are bounded in bytes, a subprotocol the
client never offered fails the connection, and a close without a code is 1005.
Servers are real, on 127.0.0.1; no wall-clock asserts: a run that should end at the
stop is given a ws timeout of an hour, and the test fails only if it is still going
long after."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import ServerThread
from tests.ws_servers import RAW_SEEN, RawWsServer, make_ws_app, seen
from yamlload import PlanOptions, load_plan
from yamlload.results.summary import summarize
from yamlload.runtime import ws
from yamlload.runtime.engine import Engine, RunOptions, run_on_uvloop

# A run that must end at its stop gets this long (far below the plans' hour-long waits).
BOUND_SECONDS = 60.0
HOUR = 3600


@pytest.fixture(scope="module")
def raw() -> Iterator[RawWsServer]:
    with RawWsServer() as running:
        yield running


@pytest.fixture(scope="module")
def echo() -> Iterator[ServerThread]:
    with ServerThread(make_ws_app()) as running:
        yield running


def plan_doc(flow: list[Any], users: int = 1, ws_config: dict[str, Any] | None = None) -> str:
    config: dict[str, Any] = {"phases": [{"duration": 1, "arrivalCount": users}]}
    config["ws"] = {"timeout": HOUR, **(ws_config or {})}
    return json.dumps({"config": config, "scenarios": [{"engine": "ws", "flow": flow}]})


def run(
    write_plan: Any, doc: str, target: str, stop_after: float | None = None, grace: float = 0.2
) -> dict[str, int]:
    """The run's counters; a run still going BOUND_SECONDS after its start fails the test."""
    path: Path = write_plan(doc, name="plan.json")
    plan = load_plan(str(path), PlanOptions(target=target))
    out: dict[str, Any] = {}

    async def main() -> Any:
        engine = Engine(plan, RunOptions(seed=5, grace_seconds=grace))
        loop = asyncio.get_running_loop()
        timer = loop.call_later(stop_after, engine.stop, "SIGINT") if stop_after else None
        try:
            return await engine.run()
        finally:
            if timer is not None:
                timer.cancel()

    def go() -> None:
        out["result"] = run_on_uvloop(main())

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    thread.join(BOUND_SECONDS)
    assert not thread.is_alive(), "the run did not end at its stop"
    counters: dict[str, int] = summarize(plan, out["result"], "t").to_json()["aggregate"][
        "counters"
    ]
    return counters


def assert_accounted(counters: dict[str, int]) -> None:
    users = counters.get("vusers.created", 0)
    ends = ("completed", "failed", "interrupted")
    assert users == sum(counters.get(f"vusers.{k}", 0) for k in ends), counters
    sessions = counters.get("websocket.sessions", 0)
    assert sessions == sum(counters.get(f"websocket.sessions_{k}", 0) for k in ends), counters


# ---- H1, M3: a stop ends the run


def test_a_stop_ends_a_wait_that_reads_a_flood(write_plan: Any, raw: RawWsServer) -> None:
    doc = plan_doc(
        [
            {"connect": "/flood"},
            {"wait": {"for": "message", "match": {"json": "$.type", "value": "never"}}},
        ],
        users=3,
    )
    counters = run(write_plan, doc, raw.url, stop_after=1.5)
    # a loaded machine may not have started all three by the stop: those it did are cut
    assert counters["vusers.interrupted"] == counters["vusers.created"] >= 1, counters
    assert counters["websocket.sessions_interrupted"] == counters["websocket.sessions"], counters
    assert not any(k.startswith("errors.") for k in counters), counters
    assert_accounted(counters)


def test_a_cut_never_waits_for_a_close_the_server_never_answers(
    write_plan: Any, raw: RawWsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The close's own wait is an hour: the run still ends, as the stop's grace cut
    the connection without its close handshake."""
    monkeypatch.setattr(ws, "CLOSE_TIMEOUT_SECONDS", float(HOUR))
    doc = plan_doc([{"connect": "/mute"}, {"wait": {"for": "message"}}], users=2)
    counters = run(write_plan, doc, raw.url, stop_after=1.5, grace=0.2)
    assert counters["vusers.interrupted"] == 2, counters
    assert_accounted(counters)


def test_a_cut_aborts_a_connect_the_server_never_answers(
    write_plan: Any, raw: RawWsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ws, "CLOSE_TIMEOUT_SECONDS", float(HOUR))
    doc = plan_doc([{"connect": "/nohs"}, {"send": "hi"}, {"wait": {"for": "message"}}])
    counters = run(write_plan, doc, raw.url, stop_after=1.5, grace=0.2)
    assert counters["vusers.interrupted"] == 1, counters


# ---- H3: redirects are refused


def test_a_handshake_redirect_is_refused_and_its_location_never_asked(
    write_plan: Any, raw: RawWsServer, echo: ServerThread
) -> None:
    port = echo.url.rsplit(":", 1)[1]
    before = len(seen(echo))
    doc = plan_doc(
        [
            {"connect": {"target": f"/redirect/{port}", "headers": {"X-Api-Key": "k1"}}},
            {"send": "x"},
        ]
    )
    counters = run(write_plan, doc, raw.url)
    assert counters["errors.ws_handshake_302"] == 1, counters
    assert counters["vusers.failed"] == 1, counters
    assert counters.get("websocket.sessions", 0) == 0, counters
    assert len(seen(echo)) == before
    assert f"/redirect/{port}" in RAW_SEEN


# ---- H2: the messages kept are bounded in bytes


def test_messages_no_step_reads_are_dropped_past_the_byte_cap(
    write_plan: Any, raw: RawWsServer
) -> None:
    """20 messages of 512 KiB (10 MiB) pushed to a user thinking: past the 8 MiB cap the
    oldest are dropped unread; the `done` after them is still read."""
    assert ws.MAX_KEPT_BYTES == 8 * 1024 * 1024
    doc = plan_doc(
        [
            {"connect": "/big/20/512"},
            {"think": 1},
            {"wait": {"for": "message", "match": {"regexp": "done", "value": "done"}}},
        ]
    )
    counters = run(write_plan, doc, raw.url)
    assert counters["vusers.completed"] == 1, counters
    unread = counters["websocket.messages_unread"]
    received = counters["websocket.messages_received"]
    assert unread + received == 21, counters
    assert unread >= 20 - (8 * 1024 // 512) + 1, counters


def test_a_message_over_the_size_limit_closes_with_1009(write_plan: Any, raw: RawWsServer) -> None:
    kib = ws.MAX_MESSAGE_BYTES // 1024 + 1
    doc = plan_doc([{"connect": f"/big/1/{kib}"}, {"wait": {"for": "message"}}])
    counters = run(write_plan, doc, raw.url)
    assert counters["errors.ws_closed_1009"] == 1, counters
    assert counters["vusers.failed"] == 1, counters


# ---- L1, L3


def test_a_subprotocol_never_offered_fails_the_connection(
    write_plan: Any, raw: RawWsServer
) -> None:
    doc = plan_doc([{"connect": {"target": "/badproto", "subprotocols": ["chat"]}}, {"send": "x"}])
    counters = run(write_plan, doc, raw.url)
    assert counters["errors.ws_subprotocol_unoffered"] == 1, counters
    assert counters["websocket.connect_failed"] == 1, counters


def test_a_close_without_a_code_is_1005(write_plan: Any, raw: RawWsServer) -> None:
    doc = plan_doc([{"connect": "/nocode"}, {"wait": {"for": "message"}}])
    counters = run(write_plan, doc, raw.url)
    assert counters["errors.ws_closed_1005"] == 1, counters


def test_a_wrong_accept_is_an_invalid_handshake(write_plan: Any, raw: RawWsServer) -> None:
    doc = plan_doc([{"connect": "/badaccept"}, {"send": "x"}])
    counters = run(write_plan, doc, raw.url)
    assert counters["errors.ws_handshake_invalid"] == 1, counters


# ---- L4: validation


def test_handshake_header_values_with_control_characters_are_refused(write_plan: Any) -> None:
    from tests.test_ws_plan import HEAD, problems

    found = problems(
        write_plan,
        HEAD
        + '  ws: {headers: {X-A: "a\\nb"}}\n'
        + "scenarios:\n  - engine: ws\n    flow:\n"
        + '      - connect: {target: /x, headers: {X-B: "a\\u0000b"}}\n'
        + "      - send: hi\n",
    )
    assert len(found) == 2, found
    assert "config.ws.headers.X-A" in found[0] and "control character" in found[0], found
    assert "connect.headers.X-B" in found[1] and "control character" in found[1], found


def test_malformed_connect_targets_are_refused_with_their_place(write_plan: Any) -> None:
    from tests.test_ws_plan import HEAD, problems

    for target in ("ws://[::1", "ws://h:99999/"):
        found = problems(
            write_plan,
            HEAD
            + "scenarios:\n  - engine: ws\n    flow:\n"
            + f'      - connect: "{target}"\n'
            + "      - send: hi\n",
        )
        assert len(found) == 1 and "connect" in found[0] and ":7:" in found[0], found


# ---- L2: run-time header failures are named as HTTP's


def test_a_rendered_header_with_a_nul_or_userinfo_beside_authorization_is_einvalidheader(
    write_plan: Any, echo: ServerThread
) -> None:
    doc = json.dumps(
        {
            "config": {
                "phases": [{"duration": 1, "arrivalCount": 1}],
                "variables": {"bad": ["a\u0000b"]},
            },
            "scenarios": [
                {
                    "engine": "ws",
                    "flow": [
                        {"connect": {"target": "/echo", "headers": {"X-A": "{{ bad }}"}}},
                        {"send": "x"},
                    ],
                }
            ],
        }
    )
    counters = run(write_plan, doc, echo.url)
    assert counters["errors.EINVALIDHEADER"] == 1, counters
    userinfo = echo.url.replace("http://", "ws://user:pass@") + "/echo"
    doc = plan_doc(
        [{"connect": {"target": userinfo, "headers": {"Authorization": "Bearer t"}}}, {"send": "x"}]
    )
    counters = run(write_plan, doc, echo.url)
    assert counters["errors.EINVALIDHEADER"] == 1, counters


# ---- L5: a think a stop cuts short ends its user interrupted


def test_a_last_think_cut_short_by_a_stop_is_interrupted(
    write_plan: Any, echo: ServerThread
) -> None:
    doc = plan_doc([{"connect": "/echo"}, {"send": "x"}, {"think": HOUR}])
    counters = run(write_plan, doc, echo.url, stop_after=1.5)
    assert counters["vusers.interrupted"] == 1, counters
    assert counters.get("vusers.completed", 0) == 0, counters
    assert counters["websocket.sessions_interrupted"] == 1, counters
