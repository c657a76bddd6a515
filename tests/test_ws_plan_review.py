"""WebSocket plan mistakes a new user made (issue 19, review): each one said, placed."""

from __future__ import annotations

from tests.helpers import run_cli
from tests.test_ws_plan import HEAD, problems
from yamlload import load_plan


def test_a_send_object_with_near_miss_keys_warns(write_plan) -> None:
    path = write_plan(
        HEAD
        + "scenarios:\n  - engine: ws\n    flow:\n"
        + "      - send: {paylod: x, captur: {json: $.a, as: a}}\n"
        + "      - send: {mtch: {json: $.a, value: 1}, user: ann}\n"
        + "      - send: {name: ann, age: 3}\n"
    )
    warnings = [w.message for w in load_plan(str(path)).warnings]
    said = [w for w in warnings if "did you mean" in w]
    assert len(said) == 2, warnings
    assert "'paylod'" in said[0] and "'payload'" in said[0] and "'capture'" in said[0]
    assert "'mtch'" in said[1] and "'match'" in said[1]
    result = run_cli("validate", str(path))
    assert result.exit_code == 0 and "did you mean" in result.stderr


def test_a_header_capture_is_refused_in_a_ws_step(write_plan) -> None:
    found = problems(
        write_plan,
        HEAD
        + "scenarios:\n  - engine: ws\n    flow:\n"
        + "      - send: {payload: x, capture: {header: foo, as: h}}\n"
        + "      - wait: {for: message, match: {header: foo, value: x}}\n",
    )
    assert len(found) == 2, found
    assert all("a WebSocket message has no headers" in line for line in found)
    found = problems(
        write_plan,
        HEAD
        + "scenarios:\n  - engine: ws\n    flow:\n"
        + "      - wait: {for: message, capture: {xpath: //a, as: b}}\n",
    )
    said = found[0].split("unsupported feature:", 1)[1]
    assert "capture by 'xpath'" in said and "header" not in said


def test_request_hooks_on_a_ws_scenario_are_refused(write_plan, tmp_path) -> None:
    (tmp_path / "hooks.py").write_text("def br(*a):\n    pass\n", encoding="utf-8")
    found = problems(
        write_plan,
        HEAD
        + "  processor: hooks.py\nscenarios:\n  - engine: ws\n    beforeRequest: br\n"
        + "    afterResponse: [br]\n    flow: [{send: hi}]\n",
    )
    text = "\n".join(found)
    assert "scenarios[0].beforeRequest" in text and "scenarios[0].afterResponse" in text
    assert "no HTTP request" in text


def test_a_wait_without_for_is_refused(write_plan) -> None:
    found = problems(write_plan, HEAD + "scenarios:\n  - engine: ws\n    flow: [{wait: {}}]\n")
    assert any("wait: missing required key 'for'" in line for line in found), found


def test_connect_with_an_unsupported_key_names_it(write_plan) -> None:
    found = problems(
        write_plan,
        HEAD
        + "scenarios:\n  - engine: ws\n    flow:\n      - connect: {function: go}\n"
        + "  - engine: ws\n    flow:\n      - connect: {target: /a, proxy: {url: x}}\n",
    )
    text = "\n".join(found)
    assert "connect.function" in text and "not supported" in text
    assert "connect.proxy" in text


def test_send_in_before_says_before_is_http_only(write_plan) -> None:
    found = problems(write_plan, HEAD + "before:\n  flow: [{send: hi}]\nscenarios: [{flow: []}]\n")
    assert any("before" in line and "HTTP" in line for line in found), found
    assert not any("give its scenario engine: ws" in line for line in found), found


def test_a_target_without_scheme_names_ws_schemes(write_plan) -> None:
    text = HEAD.replace("http://127.0.0.1:9", "127.0.0.1:9")
    found = problems(write_plan, text + "scenarios:\n  - engine: ws\n    flow: [{send: hi}]\n")
    assert any("ws://" in line and "wss://" in line for line in found), found
