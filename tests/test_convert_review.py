"""`yamlload convert`, the issue-20 review's findings: the token search is linear and
takes token-like values only, malformed input is exit 2 (never 70), redirects, other
origins, long gaps, odd JSON keys, raw bodies, secrets and the output's name."""

from __future__ import annotations

import copy
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from tests.helpers import run_cli
from tests.servers import HITS, ServerThread, make_test_app
from yamlload.convert import har as har_module
from yamlload.convert.har import convert_har

ORIGIN = "http://127.0.0.1:8000"


def _entry(
    url: str,
    method: str = "GET",
    status: int = 200,
    response: Any = None,
    at: float = 0.0,
    headers: list[dict[str, str]] | None = None,
    post: dict[str, Any] | None = None,
    response_headers: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    request: dict[str, Any] = {"method": method, "url": url, "headers": headers or []}
    if post is not None:
        request["postData"] = post
    minutes, seconds = divmod(at, 60)
    return {
        "startedDateTime": f"2026-12-03T10:{int(minutes):02d}:{seconds:06.3f}Z",
        "time": 10,
        "request": request,
        "response": {
            "status": status,
            "headers": response_headers or [],
            "content": {
                "mimeType": "application/json",
                "text": json.dumps(response if response is not None else {}),
            },
        },
    }


def _har(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"log": {"version": "1.2", "entries": list(entries)}}


def _write(path: Path, data: Any) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _flow(plan: dict[str, Any]) -> list[dict[str, Any]]:
    flow: list[dict[str, Any]] = plan["scenarios"][0]["flow"]
    return flow


# 1. The token search ------------------------------------------------------------------


def test_the_token_search_does_work_linear_in_the_recording(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The old search joined the text of every later request for each entry, and looked
    each candidate up in it: quadratic (250 entries took 25 s). Count the text indexed."""
    indexed: list[int] = []
    original = har_module._words

    def counting(text: str) -> set[str]:
        indexed.append(len(text))
        return original(text)

    monkeypatch.setattr(har_module, "_words", counting)

    def recording(n: int) -> list[dict[str, Any]]:
        entries = []
        for i in range(n):
            items = [{"id": f"item{i}x{k}abcdef", "name": f"name {k}"} for k in range(20)]
            body = {"mimeType": "application/json", "text": json.dumps({"q": "x" * 200})}
            entries.append(_entry(f"{ORIGIN}/p/{i}", "POST", 200, {"items": items}, post=body))
        return entries

    sizes = {}
    for n in (200, 2000):
        indexed.clear()
        plan, _ = convert_har(recording(n))
        assert len(_flow(plan)) == n
        sizes[n] = sum(indexed)
    assert sizes[2000] <= 11 * sizes[200]  # about linear (quadratic would be 100 times)


def test_only_token_like_values_are_captured() -> None:
    """A value is a token when it has letters and digits, at least MIN_TOKEN_CHARS and no
    spaces: `application/json`, `true` or a sentence sent back are not."""
    handed = {
        "type": "application/json",
        "flag": "true",
        "word": "somewhere",
        "text": "hello world 2026",
        "id": "ab12cd34ef56",
    }
    sent = "application/json somewhere true hello world 2026 ab12cd34ef56"
    entries = [
        _entry(f"{ORIGIN}/a", response=handed),
        _entry(f"{ORIGIN}/b", "POST", post={"mimeType": "text/plain", "text": sent}),
    ]
    plan, _ = convert_har(entries)
    assert _flow(plan)[0]["get"]["capture"] == {"json": "$.id", "as": "id"}
    assert _flow(plan)[1]["post"]["body"] == (
        "application/json somewhere true hello world 2026 {{ id }}"
    )


# 2. Crashes: exit 2 with a place, never 70 ---------------------------------------------


def _deep(levels: int) -> Any:
    data: Any = "leaf"
    for _ in range(levels):
        data = {"a": data}
    return data


def test_deeply_nested_json_in_a_har_body_is_a_positioned_error(tmp_path: Path) -> None:
    for levels in (60, 250, 5000):
        text = json.dumps(_deep(levels)) if levels < 900 else '{"a":' * levels + "1" + "}" * levels
        post = {"mimeType": "application/json", "text": text}
        source = _write(
            tmp_path / f"deep{levels}.har", _har(_entry(f"{ORIGIN}/a", "POST", post=post))
        )
        result = run_cli("convert", str(source))
        assert result.exit_code == 2, (levels, result.stderr)
        assert result.stderr.startswith(f"{source}:1:"), result.stderr
        assert "nested deeper than" in result.stderr
        assert "log.entries[0].request.postData.text" in result.stderr


def test_deeply_nested_json_in_a_har_response_is_no_crash(tmp_path: Path) -> None:
    """A response is only searched for tokens: nesting beyond the cap is not searched."""
    for text in (json.dumps(_deep(300)), '{"a":' * 5000 + "1" + "}" * 5000):
        entry = _entry(f"{ORIGIN}/a")
        entry["response"]["content"]["text"] = text
        source = _write(tmp_path / "deep.har", _har(entry, _entry(f"{ORIGIN}/b")))
        result = run_cli("convert", str(source))
        assert result.exit_code == 0, result.stderr
        source.unlink()


def test_openapi_json_nested_beyond_the_cap_is_refused_as_yaml_is(tmp_path: Path) -> None:
    spec = {
        "openapi": "3.0.3",
        "paths": {"/a": {"get": {"responses": {"200": {"description": "x"}}}}},
        "x-deep": _deep(100),
    }
    for name in ("deep.json", "deep.yaml"):
        source = tmp_path / name
        source.write_text(json.dumps(spec) if name.endswith("json") else yaml.safe_dump(spec))
        result = run_cli("convert", str(source))
        assert result.exit_code == 2, (name, result.stderr)
        assert "nesting is deeper than 64 levels" in result.stderr, result.stderr
        assert result.stderr.startswith(f"{source}:")


def test_form_params_as_strings_a_bad_url_and_odd_openapi_shapes_are_no_crash(
    tmp_path: Path,
) -> None:
    form = {"mimeType": "application/x-www-form-urlencoded", "params": ["a", 5], "text": "u=1"}
    cases: dict[str, tuple[Any, int]] = {
        "form.har": (_har(_entry(f"{ORIGIN}/f", "POST", post=form)), 0),
        "badurl.har": (_har(_entry("http://[::1"), _entry(f"{ORIGIN}/ok")), 0),
        "onlybad.har": (_har(_entry("http://[::1")), 2),
        "params.json": (
            {"openapi": "3.0.3", "paths": {"/a": {"parameters": 5, "get": {"parameters": 5}}}},
            0,
        ),
        "responses.json": (
            {"openapi": "3.0.3", "paths": {"/a": {"get": {"responses": 5}}}},
            0,
        ),
        "variables.json": (
            {
                "openapi": "3.0.3",
                "servers": [{"url": "x", "variables": []}],
                "paths": {"/a": {"get": {}}},
            },
            0,
        ),
    }
    for name, (data, code) in cases.items():
        result = run_cli("convert", str(_write(tmp_path / name, data)))
        assert result.exit_code == code, (name, result.stderr)
    plan = yaml.safe_load(run_cli("convert", str(tmp_path / "form.har")).stdout)
    assert _flow(plan)[0]["post"]["form"] == {"u": "1"}  # the text, as the params are junk
    bad = run_cli("convert", str(tmp_path / "badurl.har"))
    assert "log.entries[0]" in bad.stdout and "http://[::1" in bad.stdout  # a skipped note


def test_a_har_whose_entries_are_all_malformed_says_what_was_wrong(tmp_path: Path) -> None:
    entries = [5, {"request": "x"}, {"request": {"url": 7}}, {"request": {"url": "http://[::1"}}]
    source = _write(tmp_path / "junk.har", {"log": {"entries": entries}})
    result = run_cli("convert", str(source))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{source}:1:"), result.stderr
    assert "4 entries are malformed" in result.stderr, result.stderr
    assert "log.entries[0]: not an object" in result.stderr, result.stderr


_MUTANTS: list[Any] = [5, "x", None, [], {}, [5], ["x"], [None], {"a": 5}, True, -1, 1e308]


def _mutations(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every (path, replacement) that puts a wrong shape somewhere in `data`."""
    found = [(path, m) for m in _MUTANTS] if path else []
    if isinstance(data, dict):
        for k, v in data.items():
            found += _mutations(v, (*path, k))
    elif isinstance(data, list):
        for n, v in enumerate(data):
            found += _mutations(v, (*path, n))
    return found


def _mutated(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(data)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


def test_malformed_shapes_anywhere_are_exit_0_or_2_never_70(tmp_path: Path) -> None:
    """Fuzz-style: a wrong shape at each place of a good HAR and a good OpenAPI."""
    form = {"mimeType": "application/x-www-form-urlencoded", "params": [{"name": "a"}]}
    good_har = _har(
        _entry(
            f"{ORIGIN}/login",
            "POST",
            200,
            {"token": "ab12cd34ef56gh78"},
            headers=[{"name": "accept", "value": "x"}],
            post={"mimeType": "application/json", "text": '{"u": "a"}'},
        ),
        _entry(f"{ORIGIN}/r", status=302, response_headers=[{"name": "location", "value": "/x"}]),
        _entry(f"{ORIGIN}/x?t=ab12cd34ef56gh78", "POST", at=30, post=form),
    )
    good_openapi = {
        "openapi": "3.0.3",
        "servers": [{"url": "http://h/{v}", "variables": {"v": {"default": "1"}}}],
        "paths": {
            "/a/{id}": {
                "parameters": [{"$ref": "#/components/parameters/id"}],
                "post": {
                    "operationId": "make",
                    "parameters": [{"name": "q", "in": "query", "required": True, "example": 1}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"example": {"a": 1}}},
                    },
                    "responses": {"201": {"description": "ok"}},
                },
            }
        },
        "components": {"parameters": {"id": {"name": "id", "in": "path", "example": 3}}},
    }
    codes: dict[int, int] = {}
    for n, (good, suffix) in enumerate(((good_har, "har"), (good_openapi, "json"))):
        for k, (path, value) in enumerate(_mutations(good)):
            source = _write(tmp_path / f"m{n}-{k}.{suffix}", _mutated(good, path, value))
            result = run_cli("convert", str(source))
            assert result.exit_code in (0, 2), (path, value, result.stderr)
            codes[result.exit_code] = codes.get(result.exit_code, 0) + 1
            source.unlink()
    assert codes.get(0) and codes.get(2)


# 3. HAR semantics -----------------------------------------------------------------------


def test_a_recorded_redirect_is_followed_on_replay_not_sent_twice(tmp_path: Path) -> None:
    location = [{"name": "Location", "value": "/ok"}]
    entries = [
        _entry(f"{ORIGIN}/redirect", status=302, response_headers=location),
        _entry(f"{ORIGIN}/ok", status=200, response={"ok": True}),
        _entry(f"{ORIGIN}/redirect-to?url=/elsewhere", status=302),  # not followed then
    ]
    plan, notes = convert_har(entries)
    flow = _flow(plan)
    assert flow[0] == {"get": {"url": "/redirect", "expect": [{"statusCode": 200}]}}
    assert flow[1]["get"]["followRedirect"] is False
    assert flow[1]["get"]["expect"] == [{"statusCode": 302}]
    assert len(flow) == 2
    assert any("redirect" in note for note in notes)
    with ServerThread(make_test_app()) as server:
        har = _har(*entries[:2])
        for entry in har["log"]["entries"]:
            entry["request"]["url"] = entry["request"]["url"].replace(ORIGIN, server.url)
        source = _write(tmp_path / "redirect.har", har)
        planfile = tmp_path / "plan.yml"
        assert run_cli("convert", str(source), "-o", str(planfile)).exit_code == 0
        once = '{"config":{"phases":[{"duration":1,"arrivalCount":1}]}}'
        report = tmp_path / "report.json"
        result = run_cli("run", "-q", str(planfile), "--overrides", once, "-o", str(report))
        assert result.exit_code == 0, result.stdout + result.stderr
        assert server.hits() == {"GET /redirect": 1, "GET /ok": 1}
        counters = json.loads(report.read_text())["aggregate"]["counters"]
        assert counters.get("plugins.expect.failed", 0) == 0


def test_other_origins_are_named_in_the_plan_and_on_stderr(tmp_path: Path) -> None:
    har = _har(
        _entry(f"{ORIGIN}/a"),
        _entry(f"{ORIGIN}/b"),
        _entry("https://api.example.com/track"),
    )
    result = run_cli("convert", str(_write(tmp_path / "two.har", har)))
    assert result.exit_code == 0
    assert "# 1 request goes to another origin" in result.stdout
    assert "https://api.example.com" in result.stdout
    assert "--demo-target" in result.stdout
    assert "https://api.example.com" in result.stderr


def test_a_long_recorded_gap_is_capped_with_a_comment(tmp_path: Path) -> None:
    har = _har(_entry(f"{ORIGIN}/a", at=0), _entry(f"{ORIGIN}/b", at=66.01))
    result = run_cli("convert", str(_write(tmp_path / "gap.har", har)))
    assert result.exit_code == 0
    assert _flow(yaml.safe_load(result.stdout))[1] == {"think": 10}
    assert f"- think: {har_module.MAX_THINK_SECONDS}  # the recording paused 66 s" in result.stdout


ODD_KEY = "we\\ird'key\"x"


def test_a_token_under_a_key_with_a_backslash_or_quote_is_captured_on_replay(
    tmp_path: Path,
) -> None:
    token = "tok12345abcdef"
    app = web.Application()
    app[HITS] = {}

    async def issue(request: web.Request) -> web.Response:
        return web.json_response({"data": {ODD_KEY: token}})

    async def use(request: web.Request) -> web.Response:
        key = f"GET {request.path}"
        app[HITS][key] = app[HITS].get(key, 0) + 1
        return web.json_response({})

    app.add_routes([web.get("/issue", issue), web.get("/use/{t}", use)])
    with ServerThread(app) as server:
        har = _har(
            _entry(f"{server.url}/issue", response={"data": {ODD_KEY: token}}),
            _entry(f"{server.url}/use/{token}"),
        )
        planfile = tmp_path / "plan.yml"
        result = run_cli("convert", str(_write(tmp_path / "odd.har", har)), "-o", str(planfile))
        assert result.exit_code == 0, result.stderr
        assert token not in planfile.read_text()
        once = '{"config":{"phases":[{"duration":1,"arrivalCount":1}]}}'
        report = tmp_path / "report.json"
        result = run_cli("run", "-q", str(planfile), "--overrides", once, "-o", str(report))
        assert result.exit_code == 0, result.stdout + result.stderr
        assert server.hits() == {f"GET /use/{token}": 1}


def test_a_raw_body_keeps_its_recorded_mime_type() -> None:
    post = {"mimeType": "text/csv", "text": "a,b\n1,2\n"}
    broken = {"mimeType": "application/json", "text": "{not json"}
    plan, _ = convert_har(
        [_entry(f"{ORIGIN}/csv", "POST", post=post), _entry(f"{ORIGIN}/j", "POST", post=broken)]
    )
    assert _flow(plan)[0]["post"]["headers"] == {"content-type": "text/csv"}
    assert _flow(plan)[1]["post"]["headers"] == {"content-type": "application/json"}


def test_recorded_ids_in_a_path_get_a_comment(tmp_path: Path) -> None:
    har = _har(_entry(f"{ORIGIN}/orders/48213/items/7f3a9c2e-1b4d-4e8f-9a6b-2c5d8e1f0a3b"))
    result = run_cli("convert", str(_write(tmp_path / "ids.har", har)))
    assert result.exit_code == 0
    line = next(x for x in result.stdout.splitlines() if "url:" in x)
    assert line.endswith("# recorded ids: 48213, 7f3a9c2e-1b4d-4e8f-9a6b-2c5d8e1f0a3b"), line


# 4. Size, secrets, names, stdout --------------------------------------------------------


def test_skipped_assets_do_not_count_against_the_size_cap(tmp_path: Path) -> None:
    big = "A" * (12 * 1024 * 1024)
    asset = _entry(f"{ORIGIN}/bundle.js")
    asset["response"]["content"] = {"mimeType": "application/javascript", "text": big}
    source = _write(tmp_path / "big.har", _har(_entry(f"{ORIGIN}/a"), asset))
    assert source.stat().st_size > 10 * 1024 * 1024
    result = run_cli("convert", str(source))
    assert result.exit_code == 0, result.stderr
    assert "bundle.js" not in result.stdout


def test_copied_secrets_are_named_on_stderr_and_the_file_is_private(tmp_path: Path) -> None:
    secret_headers = [
        {"name": "Authorization", "value": "Basic bGVvOnNlY3JldA=="},
        {"name": "X-Api-Key", "value": "k-9f8e7d6c"},
    ]
    login = {"mimeType": "application/json", "text": json.dumps({"user": "a", "password": "pw1"})}
    har = _har(
        _entry(f"{ORIGIN}/login", "POST", headers=secret_headers, post=login),
        _entry(f"{ORIGIN}/q?access_token=zz99yy88&page=2"),
    )
    source = _write(tmp_path / "secret.har", har)
    planfile = tmp_path / "plan.yml"
    result = run_cli("convert", str(source), "-o", str(planfile))
    assert result.exit_code == 0
    for named in ("authorization", "x-api-key", "password", "access_token"):
        assert named in result.stderr, result.stderr
    for value in ("bGVvOnNlY3JldA==", "k-9f8e7d6c", "pw1", "zz99yy88"):
        assert value not in result.stderr
    assert stat.S_IMODE(os.stat(planfile).st_mode) == 0o600
    clean = _write(tmp_path / "clean.har", _har(_entry(f"{ORIGIN}/a")))
    result = run_cli("convert", str(clean), "-o", str(tmp_path / "clean.yml"))
    assert "holds secrets" not in result.stderr
    assert stat.S_IMODE(os.stat(tmp_path / "clean.yml").st_mode) != 0o600


def test_a_file_name_with_a_newline_stays_inside_the_header_comment(tmp_path: Path) -> None:
    source = _write(tmp_path / "a\nconfig: evil.har", _har(_entry(f"{ORIGIN}/a")))
    planfile = tmp_path / "p\nscenarios: [].yml"
    result = run_cli("convert", str(source), "-o", str(planfile))
    assert result.exit_code == 0, result.stderr
    text = planfile.read_text()
    header = text.split("config:\n")[0]
    assert all(line.startswith("#") for line in header.splitlines()), header
    assert "a\\nconfig: evil.har" in header
    assert yaml.safe_load(text)["config"]["target"] == ORIGIN


def test_dash_as_the_output_is_standard_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    source = _write(tmp_path / "a.har", _har(_entry(f"{ORIGIN}/a")))
    result = run_cli("convert", str(source), "-o", "-")
    assert result.exit_code == 0
    assert result.stdout.startswith("# yaml-language-server")
    assert not (tmp_path / "-").exists()


def test_an_openapi_body_example_too_deep_for_a_plan_skips_its_operation(tmp_path: Path) -> None:
    spec = {
        "openapi": "3.0.3",
        "servers": [{"url": ORIGIN}],
        "paths": {
            "/deep": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"example": _deep(55)}},
                    },
                    "responses": {"200": {"description": "ok"}},
                }
            },
            "/a": {"get": {"responses": {"200": {"description": "ok"}}}},
        },
    }
    result = run_cli("convert", str(_write(tmp_path / "deep.json", spec)))
    assert result.exit_code == 0, result.stderr
    assert "# skipped: POST /deep (its example is nested deeper than 48 levels)" in result.stdout


def test_a_plan_too_large_to_run_is_refused_not_written(tmp_path: Path) -> None:
    post = {"mimeType": "text/plain", "text": "B" * (11 * 1024 * 1024)}
    source = _write(tmp_path / "body.har", _har(_entry(f"{ORIGIN}/up", "POST", post=post)))
    planfile = tmp_path / "plan.yml"
    result = run_cli("convert", str(source), "-o", str(planfile))
    assert result.exit_code == 2
    assert "the plan would be" in result.stderr and "10,485,760" in result.stderr
    assert not planfile.exists()


@pytest.mark.parametrize("suffix", ["/", "/."])
def test_an_output_named_like_a_folder_is_refused_not_written_as_a_file(
    tmp_path: Path, suffix: str
) -> None:
    source = _write(tmp_path / "one.har", _har(_entry(f"{ORIGIN}/a")))
    folder = tmp_path / "newdir"
    result = run_cli("convert", str(source), "-o", f"{folder}{suffix}")
    assert result.exit_code == 2, result.stderr
    assert "folder" in result.stderr
    assert not folder.exists()


def test_a_private_plan_leaves_the_process_umask_alone(tmp_path: Path) -> None:
    from yamlload.cli.init import write_new_file

    before = os.umask(0o022)
    try:
        write_new_file(tmp_path / "secret.yml", "x: 1\n", "convert", private=True)
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(before)
    assert stat.S_IMODE(os.stat(tmp_path / "secret.yml").st_mode) == 0o600
