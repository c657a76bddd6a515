"""`yamlload convert`, the issue-20 second review's findings: linear template and token
work, whole-token templates, OpenAPI examples as HTTP sends them, caps on JSON input,
passwords in URLs, plans that always validate, and the smaller usability points."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli
from tests.test_convert_review import ORIGIN, _entry, _flow, _har, _write
from yamlload.convert import common as common_module
from yamlload.convert import har as har_module
from yamlload.convert.common import copied_template
from yamlload.convert.har import convert_har
from yamlload.convert.openapi import convert_openapi
from yamlload.plan.source import parse_document


def _spec(paths: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": paths, **more}


# A1: the template search is linear; an unclosed `{{` is refused like a closed one ----


def test_many_unclosed_braces_are_searched_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`\\{\\{(.*?)\\}\\}` with re.S rescanned the rest of the text from every `{{`:
    80,000 of them took 2.5 min. Count the characters str.find is asked to look at."""
    looked: list[int] = []

    class Counting(str):
        def find(self, sub: str, start: Any = None, end: Any = None) -> int:  # type: ignore[override]
            looked.append(len(self) - (start or 0))
            return str.find(self, sub, start, end)

    monkeypatch.setattr(common_module, "_searched", Counting)
    for n in (1000, 10000):
        looked.clear()
        assert copied_template("{{" * n, set()) is not None
        assert sum(looked) <= 3 * 2 * n  # linear: quadratic would be n * n


def test_an_unclosed_brace_pair_is_refused_with_its_place(tmp_path: Path) -> None:
    post = {"mimeType": "application/json", "text": json.dumps({"msg": "hello {{ world"})}
    har = _write(tmp_path / "r.har", _har(_entry(f"{ORIGIN}/a", "POST", post=post)))
    result = run_cli("convert", str(har))
    assert result.exit_code == 2
    assert "{{ world" in result.stderr
    assert "log.entries[0]" in result.stderr  # U12: where


# A2, A6: tokens replaced in one pass, and only whole ----------------------------------


def test_many_tokens_in_one_request_are_replaced_in_one_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each token rebuilt the whole request: 8,000 tokens in one body took 9 s."""
    scanned: list[int] = []
    original = har_module._replaced_all

    def counting(data: Any, mapping: dict[str, str]) -> Any:
        if isinstance(data, str):
            scanned.append(len(data))
        return original(data, mapping)

    monkeypatch.setattr(har_module, "_replaced_all", counting)
    for n in (100, 1000):
        scanned.clear()
        tokens = {f"k{i}": f"tok{i:06d}abcdef" for i in range(n)}
        post = {"mimeType": "application/json", "text": json.dumps(tokens)}
        entries = [
            _entry(f"{ORIGIN}/login", "POST", response=tokens),
            _entry(f"{ORIGIN}/send", "POST", post=post, at=1),
        ]
        plan, _ = convert_har(entries)
        sent = _flow(plan)[-1]["post"]["json"]
        assert sent["k7"] == "{{ k7 }}"
        assert sum(scanned) <= 2 * len(post["text"])  # once; per token would be n times


def test_a_token_inside_a_longer_word_is_left_alone() -> None:
    token = "eyJa1b2c3d4"
    entries = [
        _entry(f"{ORIGIN}/login", "POST", response={"id": token}),
        _entry(
            f"{ORIGIN}/a",
            headers=[{"name": "authorization", "value": f"Bearer {token}ZZ.sig9"}],
            at=1,
        ),
        _entry(f"{ORIGIN}/b/{token}?x={token}ZZ", at=2),
    ]
    plan, _ = convert_har(entries)
    flow = _flow(plan)
    assert flow[1]["get"]["headers"]["authorization"] == f"Bearer {token}ZZ.sig9"
    assert flow[2]["get"]["url"] == f"/b/{{{{ id }}}}?x={token}ZZ"


# A3, A11: OpenAPI path parameters in one pass, examples as HTTP sends them ------------


def test_many_path_parameters_are_substituted_in_one_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    n = 3000
    path = "/x" + "".join(f"/{{p{i}}}" for i in range(n))
    params = [{"name": f"p{i}", "in": "path", "required": True, "example": i} for i in range(n)]
    plan, _ = convert_openapi(_spec({path: {"get": {"parameters": params}}}))
    url = _flow(plan)[0]["get"]["url"]
    assert url == "/x" + "".join(f"/{i}" for i in range(n))


def test_examples_are_written_as_http_sends_them() -> None:
    params = [
        {"name": "ids", "in": "path", "required": True, "example": [1, 2]},
        {"name": "flag", "in": "path", "required": True, "example": True},
        {"name": "tags", "in": "query", "required": True, "example": ["x", "y"]},
        {"name": "on", "in": "query", "required": True, "example": False},
        {"name": "x-list", "in": "header", "required": True, "example": ["a", "b"]},
        {"name": "x-flag", "in": "header", "required": True, "example": True},
    ]
    spec = _spec({"/p/{ids}/{flag}": {"get": {"parameters": params}}})
    plan, _ = convert_openapi(spec)
    request = _flow(plan)[0]["get"]
    assert request["url"] == "/p/1,2/true?tags=x&tags=y&on=false"
    assert request["headers"] == {"x-list": "a,b", "x-flag": "true"}


def test_a_path_placeholder_without_a_parameter_skips_its_operation() -> None:
    spec = _spec({"/p/{id}": {"get": {}}, "/ok": {"get": {}}})
    plan, notes = convert_openapi(spec)
    assert [s["get"]["url"] for s in _flow(plan)] == ["/ok"]
    assert any("GET /p/{id}" in n and "{id}" in n and "no parameter" in n for n in notes)


# A4: JSON input has a node cap, as YAML has; an OpenAPI too large names its operations


def test_a_json_input_of_too_many_objects_is_refused_before_it_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yamlload.convert import load as load_module

    monkeypatch.setattr(load_module, "MAX_INPUT_OBJECTS", 1000)
    built: list[int] = []
    original = load_module._ObjectCount.__call__

    def counting(self: Any, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        built.append(1)
        return original(self, pairs)

    monkeypatch.setattr(load_module._ObjectCount, "__call__", counting)
    har = _write(tmp_path / "r.har", '{"log":{"entries":[' + ",".join(["{}"] * 50000) + "]}}")
    result = run_cli("convert", str(har))
    assert result.exit_code == 2
    assert "more than 1,000 objects" in result.stderr
    assert len(built) <= 1001  # stopped at the cap, not after building 50,000


def test_an_openapi_description_of_too_many_operations_is_refused_saying_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yamlload.convert import openapi as openapi_module

    monkeypatch.setattr(openapi_module, "MAX_OPERATIONS", 100)
    spec = _spec({f"/p{i}": {"get": {}} for i in range(101)})
    result = run_cli("convert", str(_write(tmp_path / "api.json", spec)))
    assert result.exit_code == 2
    assert "101 operations" in result.stderr and "100" in result.stderr
    assert "request bodies" not in result.stderr


# A5, A16: passwords in URLs are never shown, and count as copied secrets ---------------


def test_a_password_in_a_url_is_never_shown_and_makes_the_plan_private(tmp_path: Path) -> None:
    har = _write(
        tmp_path / "r.har",
        _har(
            _entry("http://bob:hunter2pw@127.0.0.1:8000/a"),
            _entry("http://bob:hunter2pw@127.0.0.1:8000/b", at=1),
            _entry("http://eve:otherpw9@10.0.0.9:81/c", at=2),
            {"request": {"url": "http://carl:sekrit77@[::1"}},
        ),
    )
    out = tmp_path / "plan.yml"
    result = run_cli("convert", str(har), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    for secret in ("hunter2pw", "otherpw9", "sekrit77"):
        assert secret not in result.stderr
        assert secret not in header
    assert "password in a URL" in result.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


def test_a_key_query_parameter_counts_as_a_copied_secret(tmp_path: Path) -> None:
    har = _write(tmp_path / "r.har", _har(_entry(f"{ORIGIN}/a?key=abc123&apikey=zz9")))
    result = run_cli("convert", str(har))
    assert result.exit_code == 0
    assert "query parameter key" in result.stderr
    assert "query parameter apikey" in result.stderr


def test_other_origins_are_compared_by_origin_not_the_target_path(tmp_path: Path) -> None:
    from yamlload.cli.convert import _notices

    plan = {
        "config": {"target": "http://h:8080/api"},
        "scenarios": [{"flow": [{"get": {"url": "http://h:8080/other"}}]}],
    }
    assert not any("other origins" in line for line in _notices(plan, None))


# A7: convert never writes a plan validate refuses --------------------------------------


def _converted_and_valid(tmp_path: Path, data: Any, name: str = "r.har") -> tuple[str, Any]:
    out = tmp_path / "plan.yml"
    result = run_cli("convert", str(_write(tmp_path / name, data)), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    checked = run_cli("validate", str(out))
    assert checked.exit_code == 0, checked.stderr
    return out.read_text(encoding="utf-8"), parse_document(out.read_bytes(), str(out)).data


def test_nan_and_huge_numbers_in_a_json_body_are_sent_as_recorded(tmp_path: Path) -> None:
    entries = [
        _entry(f"{ORIGIN}/a", "POST", post={"mimeType": "application/json", "text": t}, at=i)
        for i, t in enumerate(['{"x": NaN}', '{"x": 1e400}', '{"x": -Infinity}'])
    ]
    text, plan = _converted_and_valid(tmp_path, _har(*entries))
    bodies = [step["post"].get("body") for step in _flow(plan) if "post" in step]
    assert bodies == ['{"x": NaN}', '{"x": 1e400}', '{"x": -Infinity}']
    assert ".nan" not in text and ".inf" not in text


def test_an_openapi_example_with_nan_skips_its_operation(tmp_path: Path) -> None:
    body = {"required": True, "content": {"application/json": {"example": {"x": 1e400}}}}
    spec = _spec({"/a": {"post": {"requestBody": body}}, "/b": {"get": {}}})
    text, plan = _converted_and_valid(tmp_path, spec, "api.json")
    assert [next(iter(s)) for s in _flow(plan)] == ["get"]
    assert "skipped: POST /a" in text


def test_a_non_ascii_response_key_gets_an_ascii_variable(tmp_path: Path) -> None:
    token = "ab12cd34ef56"
    har = _har(
        _entry(f"{ORIGIN}/login", "POST", response={"jéton": token, "トークン": token + "9"}),
        _entry(f"{ORIGIN}/a/{token}/{token}9", at=1),
    )
    _, plan = _converted_and_valid(tmp_path, har)
    names = [c["as"] for c in _flow(plan)[0]["post"]["capture"]]
    assert all(name.isascii() and name.isidentifier() for name in names)


def test_header_names_a_plan_cannot_hold_are_dropped_with_a_note(tmp_path: Path) -> None:
    headers = [
        {"name": "x-ok", "value": "1"},
        {"name": "x bad", "value": "1"},
        {"name": "x-{{a}}", "value": "1"},
        {"name": "x-\u0001", "value": "1"},
    ]
    text, plan = _converted_and_valid(tmp_path, _har(_entry(f"{ORIGIN}/a", headers=headers)))
    assert _flow(plan)[0]["get"]["headers"] == {"x-ok": "1"}
    assert "3 headers" in text and "not a header name" in text


def test_a_plan_that_would_not_validate_is_refused_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yamlload.convert import load as load_module

    original = load_module.convert_har

    def broken(entries: list[Any], include_assets: bool = False) -> Any:
        plan, notes = original(entries, include_assets)
        plan["config"]["phases"] = [{"duration": "soon", "arrivalRate": 1}]
        return plan, notes

    monkeypatch.setattr(load_module, "convert_har", broken)
    out = tmp_path / "plan.yml"
    har = _write(tmp_path / "r.har", _har(_entry(f"{ORIGIN}/a")))
    result = run_cli("convert", str(har), "-o", str(out))
    assert result.exit_code == 2
    assert "duration" in result.stderr and "not written" in result.stderr
    assert not out.exists()


# A8: every value reads back as it was written ----------------------------------------

ODD = ["a\u0085b", "a\u2028b", "a\u2029b", "a\rb", "a\x00b", "a\x1bb", "a\x9fb", " lead", "\ttab"]
# A long string ruamel would fold: a tab before a space at a fold read back with a space.
ODD += ["a\tb " * 2000 + "\x85", "word " * 3000]


def test_values_yaml_would_fold_read_back_identical(tmp_path: Path) -> None:
    body = {
        "mimeType": "application/json",
        "text": json.dumps({f"k{i}": v for i, v in enumerate(ODD)}),
    }
    headers = [{"name": "x-odd", "value": "a\u0085b\u00e9c"}]  # Latin-1: HTTP sends it
    har = _har(_entry(f"{ORIGIN}/a", "POST", post=body, headers=headers))
    out = tmp_path / "plan.yml"
    assert run_cli("convert", str(_write(tmp_path / "r.har", har)), "-o", str(out)).exit_code == 0
    plan = parse_document(out.read_bytes(), str(out)).data
    request = _flow(plan)[0]["post"]
    assert request["json"] == {f"k{i}": v for i, v in enumerate(ODD)}
    assert request["headers"]["x-odd"] == "a\u0085b\u00e9c"


# U3: a request body's example through its $ref, or from its required properties' -------


def test_a_body_example_is_found_through_a_ref_and_from_property_examples() -> None:
    def body(ref: str) -> dict[str, Any]:
        return {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        }

    schemas = {
        "Whole": {"type": "object", "example": {"a": 1}},
        "Parts": {
            "type": "object",
            "required": ["name", "tag"],
            "properties": {
                "name": {"type": "string", "example": "rex"},
                "tag": {"$ref": "#/components/schemas/Tag"},
                "age": {"type": "integer"},
            },
        },
        "Tag": {"type": "string", "example": "dog"},
        "Unfilled": {"type": "object", "required": ["x"], "properties": {"x": {}}},
    }
    spec = _spec(
        {
            "/w": {"post": {"requestBody": body("Whole")}},
            "/p": {"post": {"requestBody": body("Parts")}},
            "/u": {"post": {"requestBody": body("Unfilled")}},
        },
        components={"schemas": schemas},
    )
    plan, notes = convert_openapi(spec, all_methods=True)
    assert [s["post"]["json"] for s in _flow(plan)] == [{"a": 1}, {"name": "rex", "tag": "dog"}]
    assert any("POST /u" in n for n in notes)


# U4, U5, U8: base64 responses searched, a 304 expects 200, entries in time order ------


def test_a_base64_response_is_searched_for_tokens() -> None:
    import base64

    token = "ab12cd34ef56"
    login = _entry(f"{ORIGIN}/login", "POST")
    text = base64.b64encode(json.dumps({"token": token}).encode()).decode()
    login["response"]["content"] = {
        "mimeType": "application/json",
        "text": text,
        "encoding": "base64",
    }
    plan, _ = convert_har([login, _entry(f"{ORIGIN}/a/{token}", at=1)])
    assert _flow(plan)[0]["post"]["capture"] == {"json": "$.token", "as": "token"}


def test_a_recorded_304_expects_200() -> None:
    plan, _ = convert_har([_entry(f"{ORIGIN}/a", status=304)])
    request = _flow(plan)[0]["get"]
    assert request["expect"] == [{"statusCode": 200}]
    assert "304" in request.notes["expect"]


def test_entries_are_taken_in_the_order_they_started() -> None:
    plan, _ = convert_har([_entry(f"{ORIGIN}/b", at=5), _entry(f"{ORIGIN}/a", at=1)])
    assert [s["get"]["url"] for s in _flow(plan) if "get" in s] == ["/a", "/b"]


# U10, U11, U13, U15: the command's messages ---------------------------------------------


def test_an_existing_folder_as_the_output_gets_the_friendly_message(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    har = _write(tmp_path / "r.har", _har(_entry(f"{ORIGIN}/a")))
    result = run_cli("convert", str(har), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "names a folder" in result.stderr and "Usage:" not in result.stderr


def test_an_empty_recording_and_an_empty_file_say_so(tmp_path: Path) -> None:
    result = run_cli("convert", str(_write(tmp_path / "r.har", _har())))
    assert result.exit_code == 2
    assert "the recording has no entries" in result.stderr
    assert "assets" not in result.stderr
    result = run_cli("convert", str(_write(tmp_path / "e.har", "")))
    assert result.exit_code == 2
    assert "is empty" in result.stderr


def test_counts_in_notes_are_singular_or_plural() -> None:
    entries = [
        _entry(f"{ORIGIN}/a", status=302),
        _entry(f"{ORIGIN}/b", status=302, at=2),
        _entry(f"{ORIGIN}/c", at=1),
    ]
    entries[0]["response"]["redirectURL"] = f"{ORIGIN}/c"
    _, notes = convert_har([entries[0], entries[2], entries[1]])
    text = "\n".join(notes)
    assert "1 recorded redirect:" in text
    assert "1 redirect the recording did not follow" in text
    assert "2 requests" in text
    _, notes = convert_har([_entry(f"{ORIGIN}/a")])
    assert "1 request" in notes[0] and "1 requests" not in notes[0]


def test_the_header_says_how_to_get_the_schema_file(tmp_path: Path) -> None:
    har = _write(tmp_path / "r.har", _har(_entry(f"{ORIGIN}/a")))
    result = run_cli("convert", str(har))
    assert "yamlload schema > plan.schema.json" in result.stdout


# A12: unknown methods are skipped, repeated form keys kept -------------------------------


def test_an_unknown_method_is_skipped_with_a_note() -> None:
    plan, notes = convert_har([_entry(f"{ORIGIN}/a", "PURGE"), _entry(f"{ORIGIN}/b", at=1)])
    assert [s["get"]["url"] for s in _flow(plan) if "get" in s] == ["/b"]
    assert any("PURGE" in n and "log.entries[0]" in n for n in notes)


def test_repeated_form_keys_are_all_sent() -> None:
    post = {"mimeType": "application/x-www-form-urlencoded", "text": "a=1&a=2&b=3"}
    plan, _ = convert_har([_entry(f"{ORIGIN}/f", "POST", post=post)])
    request = _flow(plan)[0]["post"]
    assert request["body"] == "a=1&a=2&b=3"
    assert request["headers"]["content-type"] == "application/x-www-form-urlencoded"
    post = {"mimeType": "application/x-www-form-urlencoded", "text": "a=1&b=2"}
    plan, _ = convert_har([_entry(f"{ORIGIN}/f", "POST", post=post)])
    assert _flow(plan)[0]["post"]["form"] == {"a": "1", "b": "2"}


# U6: an id from an earlier response, sent in a later path, is captured ----------------


def test_create_then_get_replays_with_the_captured_id(tmp_path: Path) -> None:
    token = "ab12cd34ef56gh78"
    auth = [{"name": "authorization", "value": f"Bearer {token}"}]
    order = {"mimeType": "application/json", "text": json.dumps({"productId": 1, "quantity": 1})}
    login = {"mimeType": "application/json", "text": '{"username":"shopper-1","password":"demo"}'}
    har = _har(
        _entry(f"{ORIGIN}/auth/login", "POST", response={"token": token}, post=login),
        _entry(f"{ORIGIN}/orders", "POST", 201, {"id": 48213, "page": 7}, 1, auth, order),
        _entry(f"{ORIGIN}/orders/48213", "GET", 200, {"id": 48213}, 2, auth),
        _entry(f"{ORIGIN}/products/7", "GET", 200, {}, 3, auth),
    )
    _, plan = _converted_and_valid(tmp_path, har)
    flow = [s for s in _flow(plan) if "think" not in s]
    assert flow[1]["post"]["capture"] == {"json": "$.id", "as": "id"}
    assert flow[2]["get"]["url"] == "/orders/{{ id }}"
    assert flow[3]["get"]["url"] == "/products/7"  # `page` is no id: left as recorded
    report = tmp_path / "report.json"
    overrides = '{"config": {"phases": [{"duration": 1, "arrivalCount": 2}]}}'
    result = run_cli(
        "run", "--demo-target", "-q", str(tmp_path / "plan.yml"), "--overrides", overrides,
        "-o", str(report),
    )  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    counters = json.loads(report.read_text(encoding="utf-8"))["aggregate"]["counters"]
    assert counters["http.codes.201"] == 2
    assert "http.codes.404" not in counters  # the recorded 48213 would be no such order


# U16: the smoke plan sends only GET and HEAD unless --all-methods -----------------------


def test_the_smoke_plan_sends_only_safe_methods_unless_asked(tmp_path: Path) -> None:
    spec = _spec({"/admin/reset": {"post": {}}, "/pets": {"get": {}, "delete": {}}})
    source = _write(tmp_path / "api.json", spec)
    result = run_cli("convert", str(source))
    assert result.exit_code == 0
    plan = parse_document(result.stdout.encode(), "plan").data
    assert [next(iter(s)) for s in _flow(plan)] == ["get"]
    assert "# skipped: POST /admin/reset (" in result.stdout and "--all-methods" in result.stdout
    result = run_cli("convert", str(source), "--all-methods")
    plan = parse_document(result.stdout.encode(), "plan").data
    assert sorted(next(iter(s)) for s in _flow(plan)) == ["delete", "get", "post"]
    only_unsafe = _write(tmp_path / "u.json", _spec({"/r": {"post": {}}}))
    result = run_cli("convert", str(only_unsafe))
    assert result.exit_code == 2 and "--all-methods" in result.stderr


def test_a_parameter_example_is_found_through_its_schema_ref() -> None:
    params = [
        {
            "name": "id",
            "in": "path",
            "required": True,
            "schema": {"$ref": "#/components/schemas/Id"},
        }
    ]
    spec = _spec(
        {"/p/{id}": {"get": {"parameters": params}}},
        components={"schemas": {"Id": {"type": "integer", "example": 42}}},
    )
    plan, _ = convert_openapi(spec)
    assert _flow(plan)[0]["get"]["url"] == "/p/42"


def test_every_value_of_a_converted_plan_reads_back_identical(tmp_path: Path) -> None:
    """Each character up to U+00FF, and the line and paragraph separators and the BOM,
    in keys and values, next to spaces and quotes (a lone surrogate is refused:
    tests/test_convert_round3.py)."""
    from yamlload.convert import convert_document, plan_text, read_input

    chars = [chr(c) for c in range(0x100)] + ["\u2028", "\u2029", "\ufeff"]
    values = {f"k{n}{c}": f"{c} a{c}b '{c}\" {c}" for n, c in enumerate(chars)}
    post = {"mimeType": "application/json", "text": json.dumps(values)}
    headers = [{"name": "x-v", "value": "".join(chars).replace("\r", "").replace("\n", "")}]
    source = _write(
        tmp_path / "r.har", _har(_entry(f"{ORIGIN}/a", "POST", post=post, headers=headers))
    )
    converted = convert_document(read_input(source))
    text = plan_text(converted.plan, converted.notes, "r.har", converted.phases_comment)
    assert parse_document(text.encode("utf-8", "surrogatepass"), "plan").data == converted.plan


def test_the_count_of_more_skipped_entries_is_singular_or_plural() -> None:
    _, notes = convert_har([5] * 21 + [_entry(f"{ORIGIN}/a")])
    assert "skipped 1 more malformed entry" in notes
    _, notes = convert_har([5] * 22 + [_entry(f"{ORIGIN}/a")])
    assert "skipped 2 more malformed entries" in notes
