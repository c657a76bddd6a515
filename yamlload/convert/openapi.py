"""An OpenAPI 3 description into a smoke plan: one request per operation it can fill.

An operation is filled when each required parameter (path, query, header) has an
`example`, `examples` or `default` (on the parameter or its schema), and a required
request body has an example. The others are listed as skipped at the top of the plan.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from ..units import counted
from .common import HEADER_NAME, METHODS, InputProblem, nested_deeper
from .emit import escaped

# One user runs every request once: a smoke test, not a load.
SMOKE_PHASES: list[dict[str, Any]] = [{"duration": 1, "arrivalCount": 1}]
SMOKE_PHASES_COMMENT = "A smoke test: one user sends each request once."
# Where requests go when the description names no absolute server.
FALLBACK_TARGET = "http://localhost:8080"
_NO_VALUE = object()
# A path's `{name}`, substituted by its parameter's example.
_PLACEHOLDER = re.compile(r"\{([^{}/]*)\}")
# A body's example nested deeper would make the plan deeper than a plan may be (64).
MAX_EXAMPLE_DEPTH = 48
# What the smoke plan sends by default: methods that do not change data.
SAFE_METHODS = ("get", "head")
UNSAFE_REASON = "it may change data: only GET and HEAD are sent unless --all-methods"
# A smoke plan of more operations would not fit in a plan (10 MB) or be a smoke test.
MAX_OPERATIONS = 10_000


class Unfillable(Exception):
    """Why an operation cannot be sent: the skipped comment's reason."""


def convert_openapi(
    spec: dict[str, Any], all_methods: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """The smoke plan and its notes; InputProblem when it has more than MAX_OPERATIONS.
    Only SAFE_METHODS are sent unless `all_methods`: a smoke test should not change data
    (`POST /admin/reset`) unless asked to."""
    count = sum(
        1
        for item in spec["paths"].values()
        if isinstance(item, dict)
        for method in METHODS
        if isinstance(item.get(method), dict)
    )
    if count > MAX_OPERATIONS:
        raise InputProblem(
            ("paths",),
            f"{count:,} operations: a smoke plan sends at most {MAX_OPERATIONS:,} "
            "(convert a part of the description)",
        )
    target, prefix, bad_server = server_target(spec)
    steps: list[dict[str, Any]] = []
    skipped: list[str] = []
    for path, item in spec["paths"].items():
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            try:
                step = operation_step(spec, str(path), method, item, operation, prefix)
            except Unfillable as why:
                skipped.append(f"skipped: {method.upper()} {path} ({why})")
                continue
            if all_methods or method in SAFE_METHODS:
                steps.append(step)
            else:
                skipped.append(f"skipped: {method.upper()} {path} ({UNSAFE_REASON})")
    notes = [f"a smoke plan from an OpenAPI description: {counted(len(steps), 'request')}"]
    if bad_server:
        notes.append(bad_server)
    elif target == FALLBACK_TARGET:
        notes.append("the description names no absolute server: set config.target")
    notes += skipped
    scenario = {"name": "smoke", "flow": steps}
    plan = {"config": {"target": target, "phases": SMOKE_PHASES}, "scenarios": [scenario]}
    return plan, notes


def server_target(spec: dict[str, Any]) -> tuple[str, str, str]:
    """config.target from servers[0].url (its variables at their defaults), a path
    prefix when that URL is relative, and a note when servers[0].url is absolute but not
    a URL a plan can target once filled in (a variable's default "" or "\\r"): then
    FALLBACK_TARGET, for the user to set."""
    servers = spec.get("servers")
    first = servers[0] if isinstance(servers, list) and servers else {}
    url = str(first.get("url", "")) if isinstance(first, dict) else ""
    variables = first.get("variables") if isinstance(first, dict) else None
    for name, var in (variables if isinstance(variables, dict) else {}).items():
        if isinstance(var, dict) and "default" in var:
            url = url.replace("{" + str(name) + "}", str(var["default"]))
    if re.match(r"^https?://", url, re.IGNORECASE):
        if _targetable(url) or "{{" in url:  # a template: cli/convert.py refuses it
            return url.rstrip("/"), "", ""
        named = ", ".join(f"{{{name}}}" for name in (variables or {}))
        note = (
            f"servers[0].url '{escaped(url)[:120]}' is not a URL to target"
            + (f" with its variables at their defaults ({escaped(named)[:120]})" if named else "")
            + f": set config.target (it is {FALLBACK_TARGET})"
        )
        return FALLBACK_TARGET, "", note
    return FALLBACK_TARGET, url.rstrip("/"), ""


def _targetable(url: str) -> bool:
    """Whether a plan can target `url` (plan/compile/config.py): a host, a valid port,
    no whitespace or control characters."""
    if not url.isprintable() or re.search(r"\s", url):
        return False
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return False
    return bool(parts.hostname)


def operation_step(
    spec: dict[str, Any],
    path: str,
    method: str,
    item: dict[str, Any],
    operation: dict[str, Any],
    prefix: str,
) -> dict[str, Any]:
    values: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    for param in _parameters(spec, item, operation):
        where, name = param.get("in"), str(param.get("name", ""))
        if where == "path":
            values[name] = quote(path_value(_shallow(_required_value(spec, param))), safe=",")
        elif param.get("required") and where == "query":
            query += query_pairs(name, _shallow(_required_value(spec, param)))
        elif param.get("required") and where == "header":
            if not HEADER_NAME.fullmatch(name):
                raise Unfillable(f"required header {name!r} is not a header name a plan can hold")
            headers[name.lower()] = path_value(_shallow(_required_value(spec, param)))
        elif param.get("required"):
            raise Unfillable(f"required {where} parameter {name} is not supported")
    unnamed = [m.group(0) for m in _PLACEHOLDER.finditer(path) if m.group(1) not in values]
    if unnamed:
        raise Unfillable(f"{unnamed[0]} in its path has no parameter: it would be sent as is")
    url = _PLACEHOLDER.sub(lambda m: values[m.group(1)], path)  # one pass, any count
    request: dict[str, Any] = {"url": prefix + url + (f"?{urlencode(query)}" if query else "")}
    request["name"] = str(operation.get("operationId") or f"{method.upper()} {path}")
    if headers:
        request["headers"] = headers
    body = _request_body(spec, operation)
    if body is not _NO_VALUE:
        request["json"] = body
    status = first_2xx(operation.get("responses"))
    if status is not None:
        request["expect"] = [{"statusCode": status}]
    return {method: request}


def _parameters(
    spec: dict[str, Any], item: dict[str, Any], operation: dict[str, Any]
) -> list[dict[str, Any]]:
    """The path item's parameters, overridden by the operation's (by name and place)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*_list(item.get("parameters")), *_list(operation.get("parameters"))]:
        param = resolve(spec, raw)
        if isinstance(param, dict):
            merged[(str(param.get("in")), str(param.get("name")))] = param
    return list(merged.values())


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def resolve(spec: dict[str, Any], node: Any) -> Any:
    """A local `$ref` (`#/components/...`) followed; anything else as it is."""
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 16:
        ref, seen = node["$ref"], seen + 1
        if not ref.startswith("#/"):
            return {}
        target: Any = spec
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        node = target
    return node


def _required_value(spec: dict[str, Any], param: dict[str, Any]) -> Any:
    value = example_of(param, spec)
    if value is _NO_VALUE:  # its schema a `$ref` (#/components/schemas/…)
        value = schema_example(spec, param.get("schema"))
    if value is _NO_VALUE:
        raise Unfillable(f"required parameter {param.get('name')} has no example")
    return value


def _shallow(value: Any) -> Any:
    """An example fit for a plan: one nested deeper than MAX_EXAMPLE_DEPTH is not, nor
    one holding NaN or an infinity (1e400), which no plan value can be."""
    if nested_deeper(value, MAX_EXAMPLE_DEPTH):
        raise Unfillable(f"its example is nested deeper than {MAX_EXAMPLE_DEPTH} levels")
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            raise Unfillable(f"its example holds {node}, which a plan cannot send")
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return value


def example_of(node: Any, spec: dict[str, Any] | None = None) -> Any:
    """A node's `example`, first of its `examples` (an Example Object's `$ref`
    followed, to `#/components/examples/…`), `default`, or its schema's."""
    if not isinstance(node, dict):
        return _NO_VALUE
    if "example" in node:
        return node["example"]
    examples = node.get("examples")
    if isinstance(examples, dict) and examples:
        first = next(iter(examples.values()))
        if spec is not None:
            first = resolve(spec, first)
        return first.get("value", _NO_VALUE) if isinstance(first, dict) else first
    if isinstance(examples, list) and examples:
        return examples[0]
    if "default" in node:
        return node["default"]
    schema = node.get("schema")
    return example_of(schema, spec) if isinstance(schema, dict) else _NO_VALUE


def schema_example(spec: dict[str, Any], schema: Any, depth: int = 0) -> Any:
    """A schema's example, its local `$ref` followed: its own `example`, `examples` or
    `default`, else an object of its required properties' examples (each found the same
    way) when every one has one; _NO_VALUE otherwise."""
    schema = resolve(spec, schema)
    if not isinstance(schema, dict) or depth > MAX_EXAMPLE_DEPTH:
        return _NO_VALUE
    own = example_of({k: v for k, v in schema.items() if k != "schema"}, spec)
    if own is not _NO_VALUE:
        return own
    required = schema.get("required")
    properties = schema.get("properties")
    if not isinstance(required, list) or not required or not isinstance(properties, dict):
        return _NO_VALUE
    built: dict[str, Any] = {}
    for name in required:
        if not isinstance(name, str):  # a malformed `required` entry: no example is built
            return _NO_VALUE
        value = schema_example(spec, properties.get(name), depth + 1)
        if value is _NO_VALUE:
            return _NO_VALUE
        built[str(name)] = value
    return built


def _scalar(value: Any) -> str:
    """One value as HTTP sends it: `true`, `1.5`, text as it is (never a Python repr)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unfillable(f"its example {value} is not a number JSON or HTTP can send")
        return json.dumps(value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    return str(value)


def path_value(value: Any) -> str:
    """A path or header example in OpenAPI's default `simple` style: an array as
    `1,2`, an object as `k,v,k2,v2`."""
    if isinstance(value, list):
        return ",".join(_scalar(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{_scalar(k)},{_scalar(v)}" for k, v in value.items())
    return _scalar(value)


def query_pairs(name: str, value: Any) -> list[tuple[str, str]]:
    """A query example in OpenAPI's default `form` style, exploded: an array as
    `tags=x&tags=y`, an object as its own `k=v` pairs."""
    if isinstance(value, list):
        return [(name, _scalar(v)) for v in value]
    if isinstance(value, dict):
        return [(str(k), _scalar(v)) for k, v in value.items()]
    return [(name, _scalar(value))]


def _request_body(spec: dict[str, Any], operation: dict[str, Any]) -> Any:
    body = resolve(spec, operation.get("requestBody"))
    if not isinstance(body, dict) or not body.get("required"):
        return _NO_VALUE  # an optional body is left out
    content = body.get("content")
    if not isinstance(content, dict):
        content = {}
    for mime, media in content.items():
        if "json" in str(mime) and isinstance(media, dict):
            value = example_of(media, spec)
            if value is _NO_VALUE:
                value = schema_example(spec, media.get("schema"))
            if value is not _NO_VALUE:
                return _shallow(value)
    raise Unfillable("required request body has no JSON example")


def first_2xx(responses: Any) -> int | None:
    if not isinstance(responses, dict):
        return None
    codes = sorted(str(code) for code in responses if re.fullmatch(r"2\d\d", str(code)))
    return int(codes[0]) if codes else None
