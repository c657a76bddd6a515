"""`yamlload convert`, the issue-20 third review's findings: plans too large for the
reader, lone surrogates, the most recent response wins a capture, malformed OpenAPI
parts, examples through $ref, origins, server variables, header values, CORS
preflights and WebSocket entries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers import run_cli
from tests.test_convert_round2 import ORIGIN, _entry, _flow, _har, _spec, _write
from yamlload.plan.source import MAX_NODES


def _convert(tmp_path: Path, data: Any, name: str = "r.har") -> tuple[Any, Path]:
    out = tmp_path / "plan.yml"
    source = _write(tmp_path / name, data)
    return run_cli("convert", str(source), "-o", str(out)), out


# 1: a plan over the reader's node cap is refused, never written -----------------------


def test_a_body_of_more_nodes_than_the_reader_takes_is_refused(tmp_path: Path) -> None:
    body = {"mimeType": "application/json", "text": json.dumps([0] * (MAX_NODES + 10))}
    result, out = _convert(tmp_path, _har(_entry(f"{ORIGIN}/a", "POST", post=body)))
    assert result.exit_code == 2, result.stderr
    assert "nodes" in result.stderr and f"{MAX_NODES:,}" in result.stderr
    assert "please report" not in result.stderr
    assert not out.exists()


def test_many_bodies_adding_up_past_the_node_cap_are_refused(tmp_path: Path) -> None:
    body = {"mimeType": "application/json", "text": json.dumps([0] * 9000)}
    entries = [_entry(f"{ORIGIN}/a", "POST", post=body, at=i) for i in range(60)]
    result, out = _convert(tmp_path, _har(*entries))
    assert result.exit_code == 2, result.stderr
    assert "nodes" in result.stderr
    assert not out.exists()


# 2: a lone surrogate in the input is refused with its place --------------------------


def test_a_lone_surrogate_in_a_har_header_is_refused_with_its_place(tmp_path: Path) -> None:
    headers = [{"name": "x-a", "value": "\ud800abcdefgh"}]
    result, out = _convert(tmp_path, _har(_entry(f"{ORIGIN}/a", headers=headers)))
    assert result.exit_code == 2, result.stderr
    assert "surrogate" in result.stderr and "r.har:1:" in result.stderr
    assert not out.exists()


def test_a_lone_surrogate_in_an_openapi_example_is_refused(tmp_path: Path) -> None:
    parameter = {"in": "query", "name": "q", "required": True, "example": "\ud800"}
    spec = _spec({"/a": {"get": {"parameters": [parameter]}}})
    result, _ = _convert(tmp_path, spec, "api.json")
    assert result.exit_code == 2, result.stderr
    assert "surrogate" in result.stderr
    yaml_spec = tmp_path / "api.yaml"
    yaml_spec.write_text(
        "openapi: 3.0.0\npaths:\n  /a:\n    get:\n      parameters:\n        - {in: path, "
        'name: q, example: "\\ud800"}\n',
        encoding="utf-8",
    )
    result = run_cli("convert", str(yaml_spec))
    assert result.exit_code == 2, result.stderr
    assert f"{yaml_spec}:6:" in result.stderr and "surrogate" in result.stderr


def test_a_surrogate_pair_in_a_har_is_the_character(tmp_path: Path) -> None:
    headers = [{"name": "x-a", "value": "\U0001f600"}]
    result, out = _convert(tmp_path, _har(_entry(f"{ORIGIN}/a", headers=headers)))
    assert result.exit_code == 0, result.stderr
    assert run_cli("validate", str(out)).exit_code == 0


# 4: malformed OpenAPI parts are tolerated -----------------------------------------------


def test_a_required_entry_of_the_wrong_type_skips_the_body(tmp_path: Path) -> None:
    for entry in (["b"], {"b": 1}):
        schema = {"required": [entry], "properties": {"b": {"example": 1}}}
        body = {"required": True, "content": {"application/json": {"schema": schema}}}
        spec = _spec({"/a": {"post": {"requestBody": body}}, "/b": {"get": {}}})
        result = run_cli("convert", str(_write(tmp_path / "api.json", spec)), "--all-methods")
        assert result.exit_code == 0, result.stderr
        assert "skipped: POST /a (required request body has no JSON example)" in result.stdout


# 3: the most recent earlier response holding a value is the one captured ---------------


def _captures(step: dict[str, Any]) -> list[dict[str, str]]:
    request = next(iter(step.values()))
    found = request.get("capture", [])
    return [found] if isinstance(found, dict) else found


def test_an_id_is_captured_from_the_latest_response_before_its_use() -> None:
    from yamlload.convert.har import convert_har

    entries = [
        _entry(f"{ORIGIN}/products", response=[{"id": 2}, {"id": 3}]),
        _entry(f"{ORIGIN}/products/3", response={"id": 3}, at=1),
        _entry(f"{ORIGIN}/orders", "POST", response={"productId": 3, "id": 3}, at=2),
        _entry(f"{ORIGIN}/orders/3", response={"id": 3}, at=3),
    ]
    plan, _ = convert_har(entries)
    flow = _flow(plan)
    assert flow[1]["get"]["url"] == "/products/{{ id }}"
    assert flow[3]["get"]["url"] == "/orders/{{ id }}"
    assert _captures(flow[0]) == [{"json": "$[1].id", "as": "id"}]
    assert _captures(flow[2]) == [{"json": "$.id", "as": "id"}]


def test_a_token_is_captured_from_the_latest_response_before_its_use() -> None:
    from yamlload.convert.har import convert_har

    token = "tok0123456789abcdef"
    auth = [{"name": "authorization", "value": f"Bearer {token}"}]
    entries = [
        _entry(f"{ORIGIN}/login", "POST", response={"token": token}),
        _entry(f"{ORIGIN}/a", headers=auth, at=1),
        _entry(f"{ORIGIN}/refresh", "POST", response={"access": token}, at=2),
        _entry(f"{ORIGIN}/b", headers=auth, at=3),
    ]
    plan, _ = convert_har(entries)
    flow = _flow(plan)
    assert _captures(flow[0]) == [{"json": "$.token", "as": "token"}]
    assert _captures(flow[2]) == [{"json": "$.access", "as": "token"}]
    assert flow[3]["get"]["headers"]["authorization"] == "Bearer {{ token }}"


def test_an_escaped_lone_surrogate_in_a_json_body_is_sent_as_recorded(tmp_path: Path) -> None:
    text = '{"id": "\\ud800", "\\udc00k": 1}'
    body = {"mimeType": "application/json", "text": text}
    entries = [
        _entry(f"{ORIGIN}/a", "POST", post=body, response={"\udc00": "tok0123456789ab"}),
        _entry(f"{ORIGIN}/b/tok0123456789ab", at=1),
    ]
    result, out = _convert(tmp_path, _har(*entries))
    assert result.exit_code == 0, result.stderr
    assert run_cli("validate", str(out)).exit_code == 0
    assert """body: '{"id": "\\ud800", "\\udc00k": 1}'""" in out.read_text(encoding="utf-8")


# 7: a server URL its variables make no URL gets convert's own note ---------------------


def test_a_server_variable_that_makes_no_url_is_named_in_a_note(tmp_path: Path) -> None:
    for default in ("", "\r", "a b"):
        server = {"url": "http://{h}:9/v1", "variables": {"h": {"default": default}}}
        spec = _spec({"/a": {"get": {}}}, servers=[server])
        result, out = _convert(tmp_path, spec, "api.json")
        assert result.exit_code == 0, result.stderr
        text = out.read_text(encoding="utf-8")
        assert "is not a URL to target" in text and "{h}" in text
        assert "target: http://localhost:8080" in text
        assert run_cli("validate", str(out)).exit_code == 0
        out.unlink()


# 5: examples through $ref; the skip message for a body ---------------------------------


def test_examples_given_by_ref_are_followed(tmp_path: Path) -> None:
    spec = _spec(
        {
            "/c": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "examples": {"x": {"$ref": "#/components/examples/E"}}
                            }
                        },
                    }
                }
            },
            "/d/{id}": {
                "get": {
                    "parameters": [
                        {
                            "in": "path",
                            "name": "id",
                            "required": True,
                            "examples": {"x": {"$ref": "#/components/examples/P"}},
                        }
                    ]
                }
            },
        },
        components={"examples": {"E": {"value": {"a": 1}}, "P": {"value": 5}}},
    )
    result = run_cli("convert", str(_write(tmp_path / "api.json", spec)), "--all-methods")
    assert result.exit_code == 0, result.stderr
    assert "url: /d/5" in result.stdout and "a: 1" in result.stdout


def test_an_operation_skipped_for_its_body_says_so(tmp_path: Path) -> None:
    body = {"required": True, "content": {"application/json": {}}}
    spec = _spec({"/c": {"post": {"requestBody": body}}})
    result = run_cli("convert", str(_write(tmp_path / "api.json", spec)), "--all-methods")
    assert result.exit_code == 2
    assert "required request body has no example" in result.stderr
    assert "parameters" not in result.stderr


# 8: header values HTTP cannot send, CORS preflights; 10: WebSocket entries ----------------


def test_header_values_http_cannot_send_are_dropped_with_a_note(tmp_path: Path) -> None:
    headers = [
        {"name": "x-ok", "value": "caf\u00e9\tok"},
        {"name": "x-ctl", "value": "a\u0001b"},
        {"name": "x-wide", "value": "\u20ac"},
    ]
    result, out = _convert(tmp_path, _har(_entry(f"{ORIGIN}/a", headers=headers)))
    assert result.exit_code == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert "x-ok" in text and "x-ctl:" not in text and "x-wide:" not in text
    assert "2 headers left out: a value HTTP cannot send" in text


def test_cors_preflights_are_left_out_with_a_note() -> None:
    from yamlload.convert.har import convert_har

    preflight = _entry(
        f"{ORIGIN}/orders",
        "OPTIONS",
        status=204,
        headers=[{"name": "Access-Control-Request-Method", "value": "POST"}],
    )
    plain = _entry(f"{ORIGIN}/orders", "OPTIONS", at=1)
    plan, notes = convert_har([preflight, _entry(f"{ORIGIN}/orders", "POST", at=1), plain])
    assert [next(iter(s)) for s in _flow(plan)] == ["post", "options"]
    assert any("1 CORS preflight" in note for note in notes)


def test_websocket_entries_are_noted_as_such(tmp_path: Path) -> None:
    socket = _entry("ws://127.0.0.1:8000/socket")
    result, _ = _convert(tmp_path, _har(socket))
    assert result.exit_code == 2
    assert "WebSocket" in result.stderr and "docs/websocket.md" in result.stderr
    assert "--include-assets" not in result.stderr
    result, out = _convert(tmp_path, _har(socket, _entry(f"{ORIGIN}/a", at=1)), "s.har")
    assert result.exit_code == 0, result.stderr
    assert "1 WebSocket entry not converted" in out.read_text(encoding="utf-8")


# 6: origins compared with scheme and host case and default ports normalised -------------


def test_origins_differing_only_in_case_or_a_default_port_are_one(tmp_path: Path) -> None:
    entries = [
        _entry("HTTP://Example.COM:80/a"),
        _entry("http://example.com/b", at=1),
        _entry("https://example.com:443/c", at=2),
        _entry("https://EXAMPLE.com/d", at=3),
        _entry("https://example.com/e", at=4),
    ]
    result, out = _convert(tmp_path, _har(*entries))
    assert result.exit_code == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert "target: https://example.com\n" in text
    assert "url: /c" in text and "url: /d" in text and "url: /e" in text
    assert "url: HTTP://Example.COM:80/a" in text and "url: http://example.com/b" in text
    assert "2 requests go to another origin" in text


def test_other_credentials_on_the_same_origin_are_said_so(tmp_path: Path) -> None:
    entries = [
        _entry("http://u:Sup3rSecretPw@127.0.0.1:9/a"),
        _entry("http://v:OtherSecretPw@127.0.0.1:9/b", at=1),
    ]
    result, out = _convert(tmp_path, _har(*entries))
    assert result.exit_code == 0, result.stderr
    assert "http://127.0.0.1:9 with other credentials" in result.stderr
    assert "http://127.0.0.1:9 with other credentials" in out.read_text(encoding="utf-8")
    assert "SecretPw" not in result.stderr
