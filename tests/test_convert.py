"""`yamlload convert`: a HAR recording or an OpenAPI description becomes a plan that
validates and runs (against the demo target, or a test server on 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import run_cli
from tests.servers import ServerThread, make_test_app

ORIGIN = "http://127.0.0.1:8000"  # the demo target's usual address; --demo-target redirects
TOKEN = "9c1f4e2ab7d84c07a1e5b3f6d2c8a9e0"
SHORT_PHASES = '{"config":{"phases":[{"duration":1,"arrivalCount":2}]}}'
BROWSER_NOISE = [
    {"name": ":authority", "value": "127.0.0.1:8000"},
    {"name": "sec-ch-ua", "value": '"Chromium";v="131"'},
    {"name": "sec-fetch-mode", "value": "cors"},
    {"name": "user-agent", "value": "Mozilla/5.0"},
    {"name": "accept-encoding", "value": "gzip, br"},
    {"name": "cookie", "value": "session=abc"},
    {"name": "accept", "value": "application/json"},
]


def _entry(
    at: str,
    method: str,
    url: str,
    status: int,
    response: Any = None,
    body: Any = None,
    headers: list[dict[str, str]] | None = None,
    mime: str = "application/json",
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": method,
        "url": url,
        "headers": [*BROWSER_NOISE, *(headers or [])],
    }
    if body is not None:
        request["postData"] = {"mimeType": "application/json", "text": json.dumps(body)}
    text = json.dumps(response) if response is not None else "body{}"
    return {
        "startedDateTime": f"2026-12-03T10:00:{at}Z",
        "time": 40,
        "request": request,
        "response": {"status": status, "content": {"mimeType": mime, "text": text}},
    }


def login_har() -> dict[str, Any]:
    bearer = [{"name": "authorization", "value": f"Bearer {TOKEN}"}]
    entries = [
        _entry(
            "00.000",
            "POST",
            f"{ORIGIN}/auth/login",
            200,
            {"token": TOKEN, "username": "shopper-1"},
            {"username": "shopper-1", "password": "demo"},
        ),
        _entry("00.100", "GET", f"{ORIGIN}/static/app.js", 200, mime="application/javascript"),
        _entry("00.150", "GET", "https://cdn.example.com/logo.png", 200, mime="image/png"),
        _entry("00.160", "GET", "data:image/png;base64,iVBORw0KGgo=", 200, mime="image/png"),
        _entry("00.170", "GET", "chrome-extension://abc/x.json", 200, {"ok": True}),
        _entry("01.500", "GET", f"{ORIGIN}/products", 200, [{"id": 1}], headers=bearer),
        _entry(
            "01.700",
            "POST",
            f"{ORIGIN}/orders",
            201,
            {"id": 1},
            {"productId": 1, "quantity": 1},
            headers=bearer,
        ),
    ]
    return {"log": {"version": "1.2", "entries": entries}}


def _write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def _convert(tmp_path: Path, source: Path, *args: str) -> tuple[Path, str]:
    plan = tmp_path / "plan.yml"
    result = run_cli("convert", str(source), "-o", str(plan), *args)
    assert result.exit_code == 0, result.stderr
    checked = run_cli("validate", str(plan))
    assert checked.exit_code == 0, checked.stdout + checked.stderr
    return plan, plan.read_text(encoding="utf-8")


def test_a_har_login_flow_becomes_a_plan_whose_replay_sends_the_captured_token(
    tmp_path: Path,
) -> None:
    plan, text = _convert(tmp_path, _write_json(tmp_path / "shop.har", login_har()))
    assert text.startswith("# yaml-language-server: $schema=")
    assert "sec-ch-" not in text and "user-agent" not in text and "cookie" not in text
    assert "app.js" not in text and "logo.png" not in text  # static assets left out
    assert TOKEN not in text
    data = yaml.safe_load(text)
    assert data["config"]["target"] == ORIGIN
    flow = data["scenarios"][0]["flow"]
    login, products = flow[0]["post"], flow[2]["get"]
    assert login["url"] == "/auth/login"
    assert login["capture"] == {"json": "$.token", "as": "token"}  # not the echoed username
    assert flow[1] == {"think": 1}  # 1.46 s between the login's end and the next request
    assert products["headers"] == {
        "accept": "application/json",
        "authorization": "Bearer {{ token }}",
    }
    assert flow[3]["post"]["expect"] == [{"statusCode": 201}]

    report = tmp_path / "report.json"
    result = run_cli(
        "run", "--demo-target", "-q", str(plan), "--overrides", SHORT_PHASES, "-o", str(report)
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    counters = json.loads(report.read_text(encoding="utf-8"))["aggregate"]["counters"]
    # The demo shop takes an order only with the login's token (else 401).
    assert counters["http.codes.201"] == 2
    assert "http.codes.401" not in counters
    assert counters.get("plugins.expect.failed", 0) == 0


def test_har_assets_are_left_out_unless_asked_for(tmp_path: Path) -> None:
    source = _write_json(tmp_path / "shop.har", login_har())
    _, text = _convert(tmp_path, source, "--include-assets")
    data = yaml.safe_load(text)
    urls = [
        next(iter(step.values()))["url"]
        for step in data["scenarios"][0]["flow"]
        if "think" not in step
    ]
    assert "/static/app.js" in urls
    assert "https://cdn.example.com/logo.png" in urls  # another origin: kept absolute
    assert not [url for url in urls if url.startswith(("data:", "chrome-extension:"))]


def test_a_malformed_har_is_a_positioned_error(tmp_path: Path) -> None:
    source = tmp_path / "broken.har"
    source.write_text('{\n  "log": {\n    "entries": [\n      {"request": ]\n', encoding="utf-8")
    result = run_cli("convert", str(source))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{source}:4:19: not valid JSON"), result.stderr
    assert result.stdout == ""


def test_inputs_that_are_not_a_har_or_openapi_are_refused(tmp_path: Path) -> None:
    cases = {
        "nolog.har": ({"log": {"version": "1.2"}}, "log.entries"),
        "nopaths.json": ({"openapi": "3.0.3", "info": {}}, "paths"),
        "other.json": ({"hello": "world"}, "neither a HAR"),
        "empty.har": ({"log": {"entries": []}}, "the recording has no entries"),
        "nothing.json": ({"openapi": "3.0.3", "paths": {}}, "no operation could be filled in"),
    }
    for name, (data, words) in cases.items():
        result = run_cli("convert", str(_write_json(tmp_path / name, data)))
        assert result.exit_code == 2, name
        assert result.stderr.startswith(f"{tmp_path / name}:"), result.stderr
        assert words in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_an_existing_output_file_is_never_overwritten(tmp_path: Path) -> None:
    source = _write_json(tmp_path / "shop.har", login_har())
    plan = tmp_path / "plan.yml"
    plan.write_text("mine\n", encoding="utf-8")
    result = run_cli("convert", str(source), "-o", str(plan))
    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert plan.read_text(encoding="utf-8") == "mine\n"


def _spec(url: str) -> str:
    return f"""\
openapi: 3.0.3
info: {{title: pets, version: "1"}}
servers:
  - url: {url}
paths:
  /pets:
    get:
      operationId: listPets
      responses:
        "200": {{description: the pets}}
  /sleep/{{ms}}:
    get:
      parameters:
        - {{name: ms, in: path, required: true, schema: {{type: integer}}, example: 5}}
      responses:
        default: {{description: oops}}
        "200": {{description: slept}}
  /ok:
    get:
      parameters:
        - {{name: limit, in: query, required: true, schema: {{type: integer, default: 10}}}}
        - {{name: page, in: query, schema: {{type: integer}}}}
      responses:
        "201": {{description: made}}
        "200": {{description: fine}}
  /pets/{{id}}:
    delete:
      parameters:
        - {{name: id, in: path, required: true, schema: {{type: integer}}}}
      responses:
        "204": {{description: gone}}
"""


def test_an_openapi_description_becomes_a_smoke_plan_that_runs(tmp_path: Path) -> None:
    with ServerThread(make_test_app()) as server:
        source = tmp_path / "openapi.yaml"
        source.write_text(_spec(server.url), encoding="utf-8")
        plan, text = _convert(tmp_path, source)
        assert "# skipped: DELETE /pets/{id} (required parameter id has no example)" in text
        flow = yaml.safe_load(text)["scenarios"][0]["flow"]
        assert flow == [
            {"get": {"url": "/pets", "name": "listPets", "expect": [{"statusCode": 200}]}},
            {
                "get": {
                    "url": "/sleep/5",
                    "name": "GET /sleep/{ms}",
                    "expect": [{"statusCode": 200}],
                }
            },
            {"get": {"url": "/ok?limit=10", "name": "GET /ok", "expect": [{"statusCode": 200}]}},
        ]
        result = run_cli("run", "-q", str(plan), "-o", str(tmp_path / "report.json"))
        assert result.exit_code == 0, result.stdout + result.stderr
        assert server.hits() == {"GET /pets": 1, "GET /sleep/5": 1, "GET /ok": 1}


def test_a_token_sent_later_in_a_url_or_a_body_is_captured_where_it_came_from() -> None:
    from yamlload.convert.har import convert_har

    sid = "sess-0123456789"
    form = {"mimeType": "application/x-www-form-urlencoded", "text": "user=ann&pw=x"}
    entries = [
        _entry("00.000", "POST", f"{ORIGIN}/session", 200, {"session": {"id": sid}}),
        _entry("00.100", "GET", f"{ORIGIN}/carts/{sid}?full=1", 200, {"items": []}),
        _entry("00.200", "POST", "https://api.example.com/track", 204, body={"sid": sid}),
    ]
    entries[0]["request"]["postData"] = form
    entries[0]["request"]["headers"].append({"name": "Content-Type", "value": form["mimeType"]})
    plan, _ = convert_har(entries)
    flow = plan["scenarios"][0]["flow"]
    assert flow[0]["post"]["form"] == {"user": "ann", "pw": "x"}
    assert "content-type" not in flow[0]["post"]["headers"]  # yamlload sets it for form:
    assert flow[0]["post"]["capture"] == {"json": "$.session.id", "as": "id"}
    assert flow[1]["get"]["url"] == "/carts/{{ id }}?full=1"
    assert flow[2]["post"]["url"] == "https://api.example.com/track"  # another origin
    assert flow[2]["post"]["json"] == {"sid": "{{ id }}"}
    assert all("think" not in step for step in flow)  # gaps under a second


def test_a_template_in_the_input_is_refused_never_copied_into_the_plan(tmp_path: Path) -> None:
    """A recorded or example value holding `{{ $env.SECRET }}` became a live template: the
    plan sent the environment variable to the target when it ran."""
    har = {
        "log": {
            "entries": [
                {
                    "startedDateTime": "2026-01-01T10:00:00Z",
                    "request": {
                        "method": "GET",
                        "url": "http://127.0.0.1:8000/q",
                        "headers": [{"name": "X-Leak", "value": "{{ $env.HOME }}"}],
                    },
                    "response": {"status": 200, "content": {"mimeType": "application/json"}},
                }
            ]
        }
    }
    openapi = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "servers": [{"url": "http://127.0.0.1:8000/{{ $env.HOME }}"}],
        "paths": {"/a": {"get": {"responses": {"200": {"description": "ok"}}}}},
    }
    for name, data in (("leak.har", har), ("leak.json", openapi)):
        result = run_cli("convert", str(_write_json(tmp_path / name, data)))
        assert result.exit_code == 2, (name, result.stdout)
        assert "{{" in result.stderr and "template" in result.stderr, result.stderr
        assert result.stdout == ""
