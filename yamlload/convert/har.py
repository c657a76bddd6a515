"""A HAR recording (a browser's export) into a plan: one scenario, requests in order.

What is kept and dropped is in docs/convert.md. The token rule: a string of at least
MIN_TOKEN_CHARS in a JSON response body that a later request sends verbatim (in its
URL, a header or its body) becomes a capture on the request that received it and a
`{{ name }}` template wherever it is sent afterwards.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .common import DEFAULT_PHASES, http_method, json_path, variable_name

# Gaps between requests shorter than this are not a person thinking: dropped.
MIN_THINK_SECONDS = 1.0
# Shorter strings in a response (ids, flags) are too likely to reappear by chance.
MIN_TOKEN_CHARS = 8
# Headers a browser adds by itself, or that yamlload sets (cookies are its jar's).
NOISE_HEADERS = frozenset(
    {
        "user-agent", "accept-encoding", "accept-language", "cookie", "connection",
        "host", "content-length", "origin", "referer", "pragma", "cache-control",
        "dnt", "upgrade-insecure-requests", "priority", "te", "if-none-match",
        "if-modified-since", "keep-alive", "purpose", "x-requested-with",
    }
)  # fmt: skip
NOISE_PREFIXES = (":", "sec-ch-", "sec-fetch-", "sec-gpc", "proxy-")
# Static assets, by response mime type and by the URL's extension (--include-assets keeps them).
ASSET_MIME_PREFIXES = ("image/", "font/", "audio/", "video/", "text/css")
ASSET_MIME_PARTS = ("javascript", "font-woff", "ecmascript")
ASSET_EXTENSIONS = frozenset(
    {
        ".js", ".mjs", ".css", ".map", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico",
        ".webp", ".avif", ".bmp", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp4",
        ".webm", ".mp3", ".wav", ".ogg",
    }
)  # fmt: skip
JSON_MIME = re.compile(r"[/+]json\b")
FORM_MIME = "application/x-www-form-urlencoded"


def convert_har(
    entries: list[Any], include_assets: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """The plan for a HAR's `log.entries`, and notes for the top of the plan."""
    kept = [e for e in entries if isinstance(e, dict) and _is_http(_request(e).get("url"))]
    dropped = 0
    if not include_assets:
        dropped = sum(1 for e in kept if is_asset(e))
        kept = [e for e in kept if not is_asset(e)]
    origin = main_origin(kept)
    steps = _steps(kept, origin)
    notes = [f"converted from a HAR: {len(kept)} requests"]
    if dropped:
        notes.append(f"{dropped} static assets left out (--include-assets keeps them)")
    scenario = {"name": "recorded flow", "flow": steps}
    plan = {"config": {"target": origin, "phases": DEFAULT_PHASES}, "scenarios": [scenario]}
    return plan, notes


def _is_http(url: Any) -> bool:
    """Only HTTP(S) requests are replayed: not data:, blob:, ws: or an extension's URLs."""
    return isinstance(url, str) and url.lower().startswith(("http://", "https://"))


def _request(entry: dict[str, Any]) -> dict[str, Any]:
    request = entry.get("request")
    return request if isinstance(request, dict) else {}


def _response(entry: dict[str, Any]) -> dict[str, Any]:
    response = entry.get("response")
    return response if isinstance(response, dict) else {}


def is_asset(entry: dict[str, Any]) -> bool:
    content = _response(entry).get("content")
    mime = str(content.get("mimeType", "") if isinstance(content, dict) else "").lower()
    if mime.startswith(ASSET_MIME_PREFIXES) or any(p in mime for p in ASSET_MIME_PARTS):
        return True
    path = urlsplit(str(_request(entry).get("url", ""))).path.lower()
    return any(path.endswith(ext) for ext in ASSET_EXTENSIONS)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def main_origin(entries: list[dict[str, Any]]) -> str:
    """The origin with most requests (the first seen of those tied)."""
    counts = Counter(origin_of(str(_request(e)["url"])) for e in entries)
    if not counts:
        return "http://localhost"
    return counts.most_common(1)[0][0]


def _steps(entries: list[dict[str, Any]], origin: str) -> list[dict[str, Any]]:
    requests = [request_step(e, origin) for e in entries]
    add_captures(entries, requests)
    steps: list[dict[str, Any]] = []
    previous_end: float | None = None
    for entry, (method, request) in zip(entries, requests, strict=True):
        started = _started(entry)
        if previous_end is not None and started is not None:
            gap = started - previous_end
            if gap >= MIN_THINK_SECONDS:
                steps.append({"think": round(gap)})
        if started is not None:
            previous_end = started + _seconds(entry.get("time"))
        steps.append({method: request})
    return steps


def _started(entry: dict[str, Any]) -> float | None:
    text = entry.get("startedDateTime")
    if not isinstance(text, str):
        return None
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _seconds(millis: Any) -> float:
    return float(millis) / 1000 if isinstance(millis, int | float) and millis > 0 else 0.0


def request_step(entry: dict[str, Any], origin: str) -> tuple[str, dict[str, Any]]:
    """One request as (method key, the request's mapping)."""
    request = _request(entry)
    url = str(request["url"])
    if origin_of(url) == origin:
        parts = urlsplit(url)
        url = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    step: dict[str, Any] = {"url": url}
    headers = kept_headers(request.get("headers"))
    body = _body(request.get("postData"))
    if body is not None:
        key, value = body
        step[key] = value
        if key != "body":
            headers.pop("content-type", None)  # yamlload sets it for json: and form:
    if headers:
        step["headers"] = headers
    status = _response(entry).get("status")
    if isinstance(status, int) and 100 <= status <= 599:
        step["expect"] = [{"statusCode": status}]
    return http_method(str(request.get("method", "GET"))), step


def kept_headers(headers: Any) -> dict[str, str]:
    kept: dict[str, str] = {}
    for header in headers if isinstance(headers, list) else []:
        if not isinstance(header, dict):
            continue
        name = str(header.get("name", "")).lower()
        if not name or name in NOISE_HEADERS or name.startswith(NOISE_PREFIXES):
            continue
        kept[name] = str(header.get("value", ""))
    return kept


def _body(post: Any) -> tuple[str, Any] | None:
    if not isinstance(post, dict):
        return None
    mime = str(post.get("mimeType", "")).lower()
    text = post.get("text")
    if JSON_MIME.search(mime) and isinstance(text, str):
        try:
            return "json", json.loads(text)
        except ValueError:
            return "body", text
    if mime.startswith(FORM_MIME):
        params = post.get("params")
        if isinstance(params, list) and params:
            return "form", {str(p.get("name")): str(p.get("value", "")) for p in params}
        if isinstance(text, str):
            return "form", dict(parse_qsl(text, keep_blank_values=True))
    if isinstance(text, str) and text:
        return "body", text
    return None


def add_captures(entries: list[dict[str, Any]], requests: list[tuple[str, dict[str, Any]]]) -> None:
    """The token rule (see the module's docstring), applied in place to `requests`."""
    taken: set[str] = set()
    sent = [_sent(r) for r in requests]
    for i, entry in enumerate(entries):
        strings = _strings(_response_json(entry))
        if not strings:
            continue
        before, after = "\n".join(sent[: i + 1]), "\n".join(sent[i + 1 :])
        for path, key, value in strings:
            if value in before or value not in after:
                continue  # sent first by the client (not handed out), or never sent again
            name = variable_name(key, taken)
            taken.add(name)
            _capture(requests[i][1], {"json": json_path(path), "as": name})
            for j in range(i + 1, len(requests)):
                _template(requests[j][1], value, "{{ " + name + " }}")
                sent[j] = _sent(requests[j])
            after = "\n".join(sent[i + 1 :])


def _capture(step: dict[str, Any], capture: dict[str, str]) -> None:
    """Add a capture to a request (one as a mapping, more as a list), before its expect."""
    if "capture" not in step:
        step["capture"] = capture
    elif isinstance(step["capture"], dict):
        step["capture"] = [step["capture"], capture]
    else:
        step["capture"].append(capture)
    if "expect" in step:  # capture, then expect, as plans are written
        step["expect"] = step.pop("expect")


def _response_json(entry: dict[str, Any]) -> Any:
    content = _response(entry).get("content")
    if not isinstance(content, dict) or not isinstance(content.get("text"), str):
        return None
    if content.get("encoding") == "base64":
        return None
    try:
        return json.loads(content["text"])
    except ValueError:
        return None


def _strings(
    data: Any, path: tuple[str | int, ...] = (), key: str = "value"
) -> list[tuple[tuple[str | int, ...], str, str]]:
    """Each string of at least MIN_TOKEN_CHARS: (its path, the nearest key, the string)."""
    if isinstance(data, str):
        return [(path, key, data)] if len(data) >= MIN_TOKEN_CHARS else []
    found: list[tuple[tuple[str | int, ...], str, str]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            found += _strings(v, (*path, str(k)), str(k))
    elif isinstance(data, list):
        for n, v in enumerate(data):
            found += _strings(v, (*path, n), key)
    return found


def _sent(request: tuple[str, dict[str, Any]]) -> str:
    """Everything a request sends that a token could hide in, as one text."""
    step = request[1]
    parts = [step.get("url", ""), json.dumps(step.get("headers", {}))]
    for key in ("json", "form", "body"):
        if key in step:
            parts.append(json.dumps(step[key]))
    return "\n".join(str(p) for p in parts)


def _template(step: dict[str, Any], value: str, template: str) -> None:
    for key in ("url", "headers", "json", "form", "body"):
        if key in step:
            step[key] = _replaced(step[key], value, template)


def _replaced(data: Any, value: str, template: str) -> Any:
    if isinstance(data, str):
        return data.replace(value, template)
    if isinstance(data, dict):
        return {k: _replaced(v, value, template) for k, v in data.items()}
    if isinstance(data, list):
        return [_replaced(v, value, template) for v in data]
    return data
