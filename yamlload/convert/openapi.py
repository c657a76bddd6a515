"""An OpenAPI 3 description into a smoke plan: one request per operation it can fill.

An operation is filled when each required parameter (path, query, header) has an
`example`, `examples` or `default` (on the parameter or its schema), and a required
request body has an example. The others are listed as skipped at the top of the plan.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from .common import METHODS, nested_deeper

# One user runs every request once: a smoke test, not a load.
SMOKE_PHASES: list[dict[str, Any]] = [{"duration": 1, "arrivalCount": 1}]
SMOKE_PHASES_COMMENT = "A smoke test: one user sends each request once."
# Where requests go when the description names no absolute server.
FALLBACK_TARGET = "http://localhost:8080"
_NO_VALUE = object()
# A body's example nested deeper would make the plan deeper than a plan may be (64).
MAX_EXAMPLE_DEPTH = 48


class Unfillable(Exception):
    """Why an operation cannot be sent: the skipped comment's reason."""


def convert_openapi(spec: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    target, prefix = server_target(spec)
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
                steps.append(operation_step(spec, str(path), method, item, operation, prefix))
            except Unfillable as why:
                skipped.append(f"skipped: {method.upper()} {path} ({why})")
    notes = [f"a smoke plan from an OpenAPI description: {len(steps)} requests"]
    if target == FALLBACK_TARGET:
        notes.append("the description names no absolute server: set config.target")
    notes += skipped
    scenario = {"name": "smoke", "flow": steps}
    plan = {"config": {"target": target, "phases": SMOKE_PHASES}, "scenarios": [scenario]}
    return plan, notes


def server_target(spec: dict[str, Any]) -> tuple[str, str]:
    """config.target from servers[0].url (its variables at their defaults), and a path
    prefix when that URL is relative."""
    servers = spec.get("servers")
    first = servers[0] if isinstance(servers, list) and servers else {}
    url = str(first.get("url", "")) if isinstance(first, dict) else ""
    variables = first.get("variables") if isinstance(first, dict) else None
    for name, var in (variables if isinstance(variables, dict) else {}).items():
        if isinstance(var, dict) and "default" in var:
            url = url.replace("{" + str(name) + "}", str(var["default"]))
    if re.match(r"^https?://", url):
        return url.rstrip("/"), ""
    return FALLBACK_TARGET, url.rstrip("/")


def operation_step(
    spec: dict[str, Any],
    path: str,
    method: str,
    item: dict[str, Any],
    operation: dict[str, Any],
    prefix: str,
) -> dict[str, Any]:
    url, query, headers = path, {}, {}
    for param in _parameters(spec, item, operation):
        where, name = param.get("in"), str(param.get("name", ""))
        if where == "path":
            url = url.replace("{" + name + "}", quote(str(_required_value(param)), safe=""))
        elif param.get("required") and where == "query":
            query[name] = _scalar(_required_value(param))
        elif param.get("required") and where == "header":
            headers[name.lower()] = str(_required_value(param))
        elif param.get("required"):
            raise Unfillable(f"required {where} parameter {name} is not supported")
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


def _required_value(param: dict[str, Any]) -> Any:
    value = example_of(param)
    if value is _NO_VALUE:
        raise Unfillable(f"required parameter {param.get('name')} has no example")
    return value


def _shallow(value: Any) -> Any:
    """An example fit for a plan: one nested deeper than MAX_EXAMPLE_DEPTH is not."""
    if nested_deeper(value, MAX_EXAMPLE_DEPTH):
        raise Unfillable(f"its example is nested deeper than {MAX_EXAMPLE_DEPTH} levels")
    return value


def example_of(node: Any) -> Any:
    """A node's `example`, first of its `examples`, `default`, or its schema's."""
    if not isinstance(node, dict):
        return _NO_VALUE
    if "example" in node:
        return node["example"]
    examples = node.get("examples")
    if isinstance(examples, dict) and examples:
        first = next(iter(examples.values()))
        return first.get("value", _NO_VALUE) if isinstance(first, dict) else first
    if isinstance(examples, list) and examples:
        return examples[0]
    if "default" in node:
        return node["default"]
    schema = node.get("schema")
    return example_of(schema) if isinstance(schema, dict) else _NO_VALUE


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _request_body(spec: dict[str, Any], operation: dict[str, Any]) -> Any:
    body = resolve(spec, operation.get("requestBody"))
    if not isinstance(body, dict) or not body.get("required"):
        return _NO_VALUE  # an optional body is left out
    content = body.get("content")
    if not isinstance(content, dict):
        content = {}
    for mime, media in content.items():
        if "json" in str(mime):
            value = example_of(media)
            if value is not _NO_VALUE:
                return _shallow(value)
    raise Unfillable("required request body has no JSON example")


def first_2xx(responses: Any) -> int | None:
    if not isinstance(responses, dict):
        return None
    codes = sorted(str(code) for code in responses if re.fullmatch(r"2\d\d", str(code)))
    return int(codes[0]) if codes else None
