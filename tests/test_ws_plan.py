"""WebSocket plans (issue 19): what compiles into the IR, and every mistake a
positioned problem (exit 2, never a traceback)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import run_cli
from yamlload import PlanOptions, load_plan
from yamlload.errors import PlanError
from yamlload.plan.ir import WsSend, WsWait

HEAD = """config:
  target: http://127.0.0.1:9
  phases: [{duration: 1, arrivalRate: 1}]
"""


def problems(write_plan, text: str) -> list[str]:
    result = run_cli("validate", str(write_plan(text)))
    assert result.exit_code == 2, result.stdout
    assert "Traceback" not in result.output + result.stderr
    return [line for line in result.stderr.splitlines() if not line.startswith("invalid:")]


def test_a_ws_scenario_compiles_its_connection_and_steps(write_plan) -> None:
    path = write_plan(
        HEAD
        + """  ws:
    subprotocols: [json]
    headers: {X-Token: abc}
    timeout: 3s
  engines:
    ws: {timeout: 7}
scenarios:
  - engine: websocket
    flow:
      - connect: {target: /room, subprotocols: [chat]}
      - send: hello
      - send: {a: 1}
      - send: {payload: {q: "{{ $loopCount }}"}, capture: {json: $.q, as: q}}
      - wait: {for: message, match: {json: $.type, value: tick}, timeout: 2s}
      - loop:
          - send: again
        count: 2
      - think: 1
  - flow:
      - get: {url: /ok}
"""
    )
    plan = load_plan(str(path), PlanOptions())
    ws, http = plan.scenarios
    assert (ws.engine, http.engine) == ("ws", "http")
    assert plan.ws.subprotocols == ("json",)
    assert plan.ws.timeout == 3.0  # config.ws over config.engines.ws
    assert ws.connect is not None and ws.connect.subprotocols == ("chat",)
    assert ws.connect.target is not None and ws.connect.target.source == "/room"
    hello, obj, reply, wait, _loop, _think = ws.flow
    assert isinstance(hello, WsSend) and hello.payload == "hello" and not hello.as_json
    assert isinstance(obj, WsSend) and obj.as_json and not obj.awaits_reply
    assert isinstance(reply, WsSend) and reply.awaits_reply and reply.captures[0].as_name == "q"
    assert isinstance(wait, WsWait) and wait.timeout == 2.0 and len(wait.matches) == 1
    assert plan.has_ws


def test_ws_mistakes_are_positioned_with_suggestions(write_plan) -> None:
    found = problems(
        write_plan,
        HEAD
        + """  ws:
    subprotocol: [json]
scenarios:
  - flow:
      - send: hello
  - engine: ws
    flow:
      - get: {url: /x}
      - connect: /late
      - send: {payload: x, capture: {json: $.a, as: a}, matchh: 1}
      - wait: {for: messages}
      - parallel:
          - send: a
""",
    )
    assert all(re.match(r".+:\d+:\d+: ", line) for line in found), found
    text = "\n".join(found)
    assert "config.ws: unknown key 'subprotocol'; did you mean 'subprotocols'?" in text
    assert ":8:15: scenarios[0].flow[0].send: 'send' is a WebSocket step" in text
    assert "scenarios[1].flow[0].get: an HTTP request ('get') in a ws scenario" in text
    assert "scenarios[1].flow[1].connect: 'connect' is a ws scenario's first step" in text
    assert "unknown key 'matchh'; did you mean 'match'?" in text
    assert "scenarios[1].flow[3].wait.for: 'messages' is not one of 'message'" in text
    assert "scenarios[1].flow[4].parallel: a parallel group in a ws scenario" in text
    assert len(found) == 7


def test_a_wait_of_no_time_and_a_bad_connect_url_are_refused(write_plan) -> None:
    found = problems(
        write_plan,
        HEAD
        + """scenarios:
  - engine: ws
    flow:
      - connect: ftp://example.test/x
      - wait: {for: message, timeout: 0}
""",
    )
    assert len(found) == 2, found
    assert "'ftp://example.test/x' is not a ws://, wss://, http:// or https:// URL" in found[0]
    assert "wait.timeout: a timeout of 0 would fail every wait" in found[1]


def test_a_ws_target_with_http_steps_is_refused(write_plan) -> None:
    found = problems(
        write_plan,
        """config:
  target: ws://127.0.0.1:9
  phases: [{duration: 1, arrivalRate: 1}]
scenarios:
  - flow: [{get: {url: /a}}]
""",
    )
    assert len(found) == 1
    assert "is a WebSocket URL, but the plan has HTTP steps" in found[0]


def test_a_ws_target_serves_ws_scenarios(write_plan) -> None:
    path = write_plan(
        """config:
  target: wss://127.0.0.1:9
  phases: [{duration: 1, arrivalRate: 1}]
scenarios:
  - engine: ws
    flow: [{send: hi}]
"""
    )
    assert load_plan(str(path)).target == "wss://127.0.0.1:9"


@pytest.mark.parametrize("engine", ["socketio", "playwright"])
def test_other_engines_are_still_refused_in_one_line(write_plan, engine: str) -> None:
    found = problems(write_plan, HEAD + f"scenarios:\n  - engine: {engine}\n    flow: []\n")
    assert len(found) == 1
    assert f"unsupported feature: engine '{engine}'" in found[0]
    assert "WebSocket (engine: ws)" in found[0]


def test_config_engines_ws_is_accepted_and_others_refused(write_plan) -> None:
    ok = write_plan(HEAD + "  engines:\n    ws: {}\nscenarios:\n  - engine: ws\n    flow: []\n")
    assert run_cli("validate", str(ok)).exit_code == 0
    found = problems(write_plan, HEAD + "  engines:\n    socketio: {}\nscenarios: [{flow: []}]\n")
    assert "unsupported feature: engine 'socketio'" in found[0]


def test_send_payload_without_capture_warns_as_artillery_sends_it_whole(write_plan) -> None:
    path = write_plan(HEAD + "scenarios:\n  - engine: ws\n    flow:\n      - send: {payload: x}\n")
    plan = load_plan(str(path))
    step = plan.scenarios[0].flow[0]
    assert isinstance(step, WsSend) and step.as_json  # {"payload": "x"}, as Artillery
    assert any("'payload' key and all" in w.message for w in plan.warnings)


def test_a_ws_plan_error_is_a_plan_error_in_code(tmp_path: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text(HEAD + "scenarios:\n  - flow: [{wait: {for: message}}]\n", encoding="utf-8")
    with pytest.raises(PlanError) as caught:
        load_plan(str(path))
    assert "'wait' is a WebSocket step" in str(caught.value)
