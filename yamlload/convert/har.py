"""A HAR recording (a browser's export) into a plan: one scenario, requests in order.

What is kept and dropped is in docs/convert.md. The token rule: a token-like string
(`is_token`: at least MIN_TOKEN_CHARS, letters and digits, no spaces) in a JSON response
body that a later request sends as a whole word (in its URL, a header or its body)
becomes a capture on the request that received it and a `{{ name }}` template wherever
it is sent afterwards. Each request's text is split into words once (`_words`), and a
map from each word to the requests sending it answers every lookup: linear in the
recording, where searching the joined text of later requests per entry was quadratic.
"""

from __future__ import annotations

import base64
import bisect
import datetime as _dt
import json
import re
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from ..units import counted
from .common import (
    DEFAULT_PHASES,
    HEADER_NAME,
    METHODS,
    InputProblem,
    Noted,
    dotted,
    holds_lone_surrogate,
    http_method,
    json_path,
    nested_deeper,
    variable_name,
    without_userinfo,
)

# Gaps between requests shorter than this are not a person thinking: dropped.
MIN_THINK_SECONDS = 1.0
# Longer recorded gaps are a person away, not thinking: capped, with a comment.
MAX_THINK_SECONDS = 10
# Shorter strings in a response (ids, flags) are too likely to reappear by chance.
MIN_TOKEN_CHARS = 8
# A token is made of these (base64, base64url, hex, JWTs, UUIDs) and has letters and digits.
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]+")
_WORD_SPLIT = re.compile(r"[/=]")
_WORD_SPLIT_KEPT = re.compile(r"([/=])")
# A base64 response (`"encoding": "base64"`) is decoded and searched up to this size.
MAX_BASE64_CHARS = 16 * 1024 * 1024
# A JSON body nested deeper could not be a plan's (plan/source.py's MAX_DEPTH is 64).
MAX_BODY_DEPTH = 48
# A response of these is the browser going on to its Location (followed on replay).
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# A path segment that looks like a recorded id: digits, a UUID, or long hex.
_RECORDED_ID = re.compile(
    r"\d{3,}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{16,}"
)
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
    """The plan for a HAR's `log.entries`, and notes for the top of the plan.

    Malformed entries are skipped with a note; when nothing else is left, InputProblem
    says what was wrong with them. A JSON body nested too deeply is an InputProblem."""
    kept: list[tuple[int, dict[str, Any]]] = []
    malformed: list[str] = []
    unsent: list[str] = []
    sockets = preflights = 0
    for n, entry in enumerate(entries):
        why = malformed_entry(entry)
        if why is not None:
            malformed.append(f"{dotted(('log', 'entries', n))}: {why}")
        elif str(_request(entry)["url"]).lower().startswith(("ws://", "wss://")):
            sockets += 1
        elif _is_http(_request(entry)["url"]):
            method = str(_request(entry).get("method", "GET"))
            if is_preflight(entry):
                preflights += 1
            elif method.lower() in METHODS:
                kept.append((n, entry))
            else:
                unsent.append(
                    f"{dotted(('log', 'entries', n))}: the method {one_line_mime(method)[:40]!r}"
                    " is none a plan can send (get, post, put, patch, delete, head, options)"
                )
    dropped = 0
    if not include_assets:
        dropped = sum(1 for _, e in kept if is_asset(e))
        kept = [(n, e) for n, e in kept if not is_asset(e)]
    if not kept and malformed:
        listed = "; ".join(malformed[:3]) + ("; …" if len(malformed) > 3 else "")
        many = f"{len(malformed)} entries are" if len(malformed) > 1 else "1 entry is"
        why = f"no requests to convert: {many} malformed ({listed})"
        raise InputProblem(("log", "entries"), why)
    kept = in_time_order(kept)
    merged, followed, lone = merge_redirects(kept)
    origin = main_origin([e for _, e in merged])
    header_notes: list[str] = []
    steps = _steps(merged, origin, header_notes)
    notes = [f"converted from a HAR: {counted(len(merged), 'request')}", *header_notes]
    if dropped:
        notes.append(f"{counted(dropped, 'static asset')} left out (--include-assets keeps them)")
    if preflights:
        notes.append(
            f"{counted(preflights, 'CORS preflight')} (OPTIONS with "
            "Access-Control-Request-Method) left out: a browser sends them itself, the "
            "replay does not need them"
        )
    if sockets:
        notes.append(SOCKET_NOTE.format(counted(sockets, "WebSocket entry", "WebSocket entries")))
    if followed:
        notes.append(
            f"{counted(followed, 'recorded redirect')}: the browser's request to the Location"
            " is left out, as the replay follows redirects itself (each expects the final "
            "status)"
        )
    if lone:
        notes.append(
            f"{counted(lone, 'redirect')} the recording did not follow: sent with "
            "followRedirect: false"
        )
    notes += [f"skipped {why}" for why in unsent[:20]]
    if len(unsent) > 20:
        notes.append(f"skipped {counted(len(unsent) - 20, 'more entry', 'more entries')} so")
    notes += other_origin_notes(merged, origin)
    notes += [f"skipped {why}" for why in malformed[:20]]
    if len(malformed) > 20:
        more = counted(len(malformed) - 20, "more malformed entry", "more malformed entries")
        notes.append(f"skipped {more}")
    scenario = {"name": "recorded flow", "flow": steps}
    plan = {"config": {"target": origin, "phases": DEFAULT_PHASES}, "scenarios": [scenario]}
    return plan, notes


def in_time_order(kept: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """The entries by startedDateTime, as the HAR spec says readers should (stable: ties
    keep the recording's order); as recorded when an entry has no readable time."""
    times = [_started(entry) for _, entry in kept]
    if any(t is None for t in times):
        return kept
    order = sorted(range(len(kept)), key=lambda k: times[k] or 0.0)
    return [kept[k] for k in order]


def malformed_entry(entry: Any) -> str | None:
    """Why an entry cannot be a request (None when it can, or is not HTTP at all)."""
    if not isinstance(entry, dict):
        return "not an object"
    request = entry.get("request")
    if not isinstance(request, dict):
        return "no `request` object"
    url = request.get("url")
    if not isinstance(url, str):
        return "`request.url` is not a string"
    if not _is_http(url):
        return None  # data:, ws:, an extension's: not a request to replay, not an error
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError as exc:
        return f"the URL {without_userinfo(url)[:200]!r} does not parse ({exc})"
    if not parts.hostname:
        return f"the URL {without_userinfo(url)[:200]!r} has no host"
    return None


def merge_redirects(
    kept: list[tuple[int, dict[str, Any]]],
) -> tuple[list[tuple[int, dict[str, Any]]], int, int]:
    """A recorded redirect and the browser's request to its Location as one request with
    the final response (the replay follows redirects); the count merged, and the count of
    redirects the recording did not follow (those get followRedirect: false)."""
    out: list[tuple[int, dict[str, Any]]] = []
    followed = lone = 0
    for n, entry in kept:
        if out and _follows(out[-1][1], entry):
            first = out[-1][1]
            merged = dict(first)
            merged["response"] = _response(entry)
            merged["time"] = _span(first, entry)
            out[-1] = (out[-1][0], merged)
            followed += 1
            continue
        out.append((n, entry))
    for _, entry in out:
        if _status(entry) in REDIRECT_STATUSES:
            lone += 1
    return out, followed, lone


def _follows(redirect: dict[str, Any], entry: dict[str, Any]) -> bool:
    response = _response(redirect)
    status = _status(redirect)
    if status not in REDIRECT_STATUSES:
        return False
    location = response.get("redirectURL") or _header(response.get("headers"), "location")
    if not isinstance(location, str) or not location:
        return False
    method = str(_request(entry).get("method", "GET")).upper()
    wanted = str(_request(redirect).get("method", "GET")).upper() if status in (307, 308) else "GET"
    try:
        target = urljoin(str(_request(redirect)["url"]), location).split("#")[0]
    except ValueError:
        return False
    return method == wanted and str(_request(entry)["url"]).split("#")[0] == target


def _header(headers: Any, name: str) -> Any:
    for header in headers if isinstance(headers, list) else []:
        if isinstance(header, dict) and str(header.get("name", "")).lower() == name:
            return header.get("value")
    return None


def _span(first: dict[str, Any], last: dict[str, Any]) -> float:
    """Milliseconds from the first entry's start to the last one's end."""
    start, end = _started(first), _started(last)
    if start is None or end is None or end < start:
        return 1000 * (_seconds(first.get("time")) + _seconds(last.get("time")))
    return 1000 * (end - start + _seconds(last.get("time")))


def _shown(other: str, origin: str) -> str:
    """An origin for a note, without its password; one that differs from config.target's
    only by its credentials says so."""
    shown = without_userinfo(other)
    same = shown == without_userinfo(origin)
    return f"{shown} with other credentials (user:password@)" if same else shown


def other_origin_notes(entries: list[tuple[int, dict[str, Any]]], origin: str) -> list[str]:
    """Notes naming the origins other than config.target's, which stay absolute URLs."""
    others = Counter(origin_of(str(_request(e)["url"])) for _, e in entries)
    others.pop(origin, None)
    if not others:
        return []
    total = sum(others.values())
    listed = ", ".join(f"{_shown(o, origin)} ({c})" for o, c in others.most_common(10))
    more = f" and {len(others) - 10} more" if len(others) > 10 else ""
    verb = "request goes" if total == 1 else "requests go"
    return [
        f"{total} {verb} to another origin than config.target, kept as absolute URLs: "
        f"{listed}{more}",
        "  a run sends them there as recorded: --demo-target does not move them (each "
        "fails where that origin cannot be reached): remove them or point them elsewhere",
    ]


SOCKET_NOTE = "{} not converted (write an engine: ws scenario for them: docs/websocket.md)"


def is_preflight(entry: dict[str, Any]) -> bool:
    """A CORS preflight: an OPTIONS request with Access-Control-Request-Method."""
    request = _request(entry)
    if str(request.get("method", "")).upper() != "OPTIONS":
        return False
    headers = request.get("headers")
    return any(
        isinstance(h, dict) and str(h.get("name", "")).lower() == "access-control-request-method"
        for h in (headers if isinstance(headers, list) else [])
    )


def _is_http(url: Any) -> bool:
    """Only HTTP(S) requests are replayed: not data:, blob:, ws: or an extension's URLs."""
    return isinstance(url, str) and url.lower().startswith(("http://", "https://"))


def _request(entry: dict[str, Any]) -> dict[str, Any]:
    request = entry.get("request")
    return request if isinstance(request, dict) else {}


def _status(entry: dict[str, Any]) -> int | None:
    """The recorded status, when it is one (100 to 599)."""
    status = _response(entry).get("status")
    if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
        return status
    return None


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
    """`scheme://[userinfo@]host[:port]`, as compared: the scheme and host in lower case,
    a default port (http 80, https 443) left out. The userinfo is kept: a request that
    sends other credentials than config.target's stays an absolute URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    userinfo, at, hostport = parts.netloc.rpartition("@")
    host = hostport.rsplit(":", 1)[0] if port is not None or hostport.endswith(":") else hostport
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{userinfo}{at}{host.lower()}"


def main_origin(entries: list[dict[str, Any]]) -> str:
    """The origin with most requests (the first seen of those tied)."""
    counts = Counter(origin_of(str(_request(e)["url"])) for e in entries)
    if not counts:
        return "http://localhost"
    return counts.most_common(1)[0][0]


def _steps(
    numbered: list[tuple[int, dict[str, Any]]], origin: str, notes: list[str]
) -> list[dict[str, Any]]:
    entries = [e for _, e in numbered]
    dropped: list[str] = []
    bad_values: list[str] = []
    requests = [request_step(e, origin, n, dropped, bad_values) for n, e in numbered]
    if dropped:
        names = ", ".join(repr(d) for d in list(dict.fromkeys(dropped))[:5])
        notes.append(
            f"{counted(len(dropped), 'header')} left out: not a header name a plan can hold "
            f"({names})"
        )
    if bad_values:
        names = ", ".join(repr(d) for d in list(dict.fromkeys(bad_values))[:5])
        notes.append(
            f"{counted(len(bad_values), 'header')} left out: a value HTTP cannot send (a "
            f"control character, or a character beyond Latin-1) ({names})"
        )
    add_captures(entries, requests)
    for _, request in requests:
        _note_recorded_ids(request)
    steps: list[dict[str, Any]] = []
    previous_end: float | None = None
    for entry, (method, request) in zip(entries, requests, strict=True):
        started = _started(entry)
        if previous_end is not None and started is not None:
            gap = started - previous_end
            if gap > MAX_THINK_SECONDS:
                note = f"the recording paused {round(gap)} s (capped at {MAX_THINK_SECONDS} s)"
                steps.append(Noted({"think": MAX_THINK_SECONDS}, {"think": note}))
            elif gap >= MIN_THINK_SECONDS:
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
    except (ValueError, OverflowError, OSError):
        return None


def _seconds(millis: Any) -> float:
    if isinstance(millis, bool) or not isinstance(millis, int | float):
        return 0.0
    return float(millis) / 1000 if 0 < millis < 1e12 else 0.0


def _note_recorded_ids(request: dict[str, Any]) -> None:
    """A comment on a URL naming the ids the recording put in its path, to parametrise."""
    path = urlsplit(str(request.get("url", ""))).path
    ids = [part for part in path.split("/") if _RECORDED_ID.fullmatch(part)]
    if ids and isinstance(request, Noted):
        request.notes["url"] = "recorded ids: " + ", ".join(ids)


def request_step(
    entry: dict[str, Any],
    origin: str,
    n: int = 0,
    dropped_headers: list[str] | None = None,
    bad_values: list[str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """One request as (method key, the request's mapping); `n` is the entry's index; a
    header name no plan can hold goes into `dropped_headers`, the name of a header whose
    value HTTP cannot send into `bad_values`."""
    request = _request(entry)
    url = str(request["url"])
    if origin_of(url) == origin:
        parts = urlsplit(url)
        url = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    step: dict[str, Any] = Noted({"url": url})
    status = _status(entry)
    if status in REDIRECT_STATUSES:
        step["followRedirect"] = False  # the recording did not follow it: expect the 3xx
    headers = kept_headers(request.get("headers"), dropped_headers, bad_values)
    where = ("log", "entries", n, "request", "postData", "text")
    body = _body(request.get("postData"), where)
    if body is not None:
        key, value, mime = body
        step[key] = value
        if key != "body":
            headers.pop("content-type", None)  # yamlload sets it for json: and form:
        elif mime and "content-type" not in headers:
            headers["content-type"] = mime  # a raw body is sent as recorded
    if headers:
        step["headers"] = headers
    if status == 304:  # If-None-Match is not sent (the browser's cache): the replay gets 200
        step["expect"] = [{"statusCode": 200}]
        if isinstance(step, Noted):
            step.notes["expect"] = "recorded 304: the browser's If-None-Match is left out"
    elif status is not None:
        step["expect"] = [{"statusCode": status}]
    return http_method(str(request.get("method", "GET"))), step


def kept_headers(
    headers: Any, dropped: list[str] | None = None, bad_values: list[str] | None = None
) -> dict[str, str]:
    """The headers that matter; a name no header can have (a space, a control character,
    `{{`: not an RFC 9110 token, as plan/schema.py checks) is left out, into `dropped`;
    a value HTTP cannot send (a control character but tab, or beyond Latin-1: every
    request would fail with EINVALIDHEADER) is left out, its name into `bad_values`."""
    kept: dict[str, str] = {}
    for header in headers if isinstance(headers, list) else []:
        if not isinstance(header, dict):
            continue
        name = str(header.get("name", "")).lower()
        if not name or name in NOISE_HEADERS or name.startswith(NOISE_PREFIXES):
            continue
        if not HEADER_NAME.fullmatch(name):
            if dropped is not None:
                dropped.append(name)
            continue
        value = str(header.get("value", ""))
        if _BAD_HEADER_VALUE.search(value):
            if bad_values is not None:
                bad_values.append(name)
            continue
        kept[name] = value
    return kept


# What no header value can be sent with (RFC 9110 field-value, as Latin-1 bytes).
_BAD_HEADER_VALUE = re.compile(r"[^\t\x20-\x7e\x80-\xff]")


def _body(post: Any, where: tuple[str | int, ...]) -> tuple[str, Any, str] | None:
    """(`json`, `form` or `body`, the value, the recorded mime type), or None."""
    if not isinstance(post, dict):
        return None
    recorded = one_line_mime(post.get("mimeType"))
    mime = recorded.lower()
    text = post.get("text")
    if JSON_MIME.search(mime) and isinstance(text, str):
        try:  # NaN, Infinity, 1e400: no plan value; the body is sent as recorded
            value = json.loads(text, parse_constant=_no_number, parse_float=_finite)
        except RecursionError:
            value = _TOO_DEEP
        except ValueError:
            return "body", text, recorded
        if value is _TOO_DEEP or nested_deeper(value, MAX_BODY_DEPTH):
            raise InputProblem(
                where,
                f"{dotted(where)}: a JSON body nested deeper than {MAX_BODY_DEPTH} levels "
                "cannot be a plan's: shorten it in the recording, or drop that entry",
            )
        if "\\u" in text and holds_lone_surrogate(value):
            return "body", text, recorded  # `"\\ud800"`: no plan value, sent as recorded
        return "json", value, recorded
    if mime.startswith(FORM_MIME):
        params = post.get("params")
        pairs: list[tuple[str, str]] | None = None
        if isinstance(params, list) and params and all(isinstance(p, dict) for p in params):
            pairs = [(str(p.get("name")), str(p.get("value", ""))) for p in params]
        elif isinstance(text, str):
            pairs = parse_qsl(text, keep_blank_values=True)
        if pairs is not None:
            if len({name for name, _ in pairs}) == len(pairs):
                return "form", dict(pairs), ""
            # `a=1&a=2`: a plan's form: is a mapping, so the body is sent as recorded
            raw = text if isinstance(text, str) and text else urlencode(pairs)
            return "body", raw, recorded or FORM_MIME
    if isinstance(text, str) and text:
        return "body", text, recorded
    return None


_TOO_DEEP = object()


def _no_number(text: str) -> float:
    raise ValueError(f"{text} is no JSON number a plan can hold")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is too large for a plan's number")
    return value


def one_line_mime(value: Any) -> str:
    """A recorded mime type fit for a header: a string, without control characters."""
    return re.sub(r"[\x00-\x1f\x7f]", "", value).strip() if isinstance(value, str) else ""


def add_captures(entries: list[dict[str, Any]], requests: list[tuple[str, dict[str, Any]]]) -> None:
    """The token rule (see the module's docstring), applied in place to `requests`.

    Each request's text is split into words once: `senders` maps a word to the requests
    that send it, in order. A token is captured when its first sender comes after the
    response that handed it out (a value the client sent first was not handed out)."""
    senders: dict[str, list[int]] = {}
    for j, request in enumerate(requests):
        for word in _words(_sent(request)):
            senders.setdefault(word, []).append(j)
    taken: set[str] = set()
    replacing: dict[int, dict[str, str]] = {}
    holders: dict[str, list[tuple[int, tuple[str | int, ...], str]]] = {}
    for i, entry in enumerate(entries):
        for path, key, value in _strings(_response_json(entry)):
            if value in senders and (not holders.get(value) or holders[value][-1][0] != i):
                holders.setdefault(value, []).append((i, path, key))
    for value, held in holders.items():
        for j, name in _latest_captures(requests, senders[value], held, taken):
            replacing.setdefault(j, {})[value] = "{{ " + name + " }}"
    _capture_ids(entries, requests, taken)
    for j, mapping in replacing.items():  # every token of a request in one pass
        step = requests[j][1]
        for key in ("url", "headers", "json", "form", "body"):
            if key in step:
                step[key] = _replaced_all(step[key], mapping)


def _capture_ids(
    entries: list[dict[str, Any]], requests: list[tuple[str, dict[str, Any]]], taken: set[str]
) -> None:
    """An id a response handed out (under a key named like one: `id`, `orderId`,
    `order_id`, `uuid`) that a later request's URL path sends as a whole segment: a
    capture on the latest response before that request, `{{ id }}` in the path. Short
    numbers are too common to take from any key (`"page": 1`)."""
    senders: dict[str, list[int]] = {}
    for j, (_, step) in enumerate(requests):
        for segment in _path_segments(str(step.get("url", ""))):
            if _ID_VALUE.fullmatch(segment):
                senders.setdefault(segment, []).append(j)
    if not senders:
        return
    holders: dict[str, list[tuple[int, tuple[str | int, ...], str]]] = {}
    for i, entry in enumerate(entries):
        best: dict[str, tuple[int, tuple[str | int, ...], str]] = {}
        for path, key, value in _ids(_response_json(entry)):
            if value in senders and (
                value not in best or _rank(path, key) < _rank(*best[value][1:])
            ):
                best[value] = (i, path, key)
        for value, found in best.items():
            holders.setdefault(value, []).append(found)
    for value, held in holders.items():
        for j, name in _latest_captures(requests, senders[value], held, taken):
            step = requests[j][1]
            step["url"] = _path_replaced(str(step["url"]), value, "{{ " + name + " }}")


def _rank(path: tuple[str | int, ...], key: str) -> tuple[int, int]:
    """Which of one response's keys holding the same id a capture takes: the shallowest,
    a plain `id` before `productId`."""
    return (len(path), 0 if key.lower() in ("id", "uuid", "guid") else 1)


def _latest_captures(
    requests: list[tuple[str, dict[str, Any]]],
    sent_by: list[int],
    held: list[tuple[int, tuple[str | int, ...], str]],
    taken: set[str],
) -> list[tuple[int, str]]:
    """For a value the responses `held` (in order) hand out and the requests `sent_by`
    send: the capture on the MOST RECENT response before each sender (product 3 listed,
    then order 3 created: `/orders/3` takes the order's), one variable for the value.
    None when the client sent it before any response held it (not handed out). Each
    (sender, variable) pair comes back for the caller to replace."""
    if not held or sent_by[0] <= held[0][0]:
        return []
    name = variable_name(held[0][2], taken)
    taken.add(name)
    at = [i for i, _, _ in held]
    captured: set[int] = set()
    out: list[tuple[int, str]] = []
    for j in sent_by:
        n = bisect.bisect_left(at, j) - 1  # the latest response before request j
        if n < 0:
            continue
        i, path, _ = held[n]
        if i not in captured:
            captured.add(i)
            _capture(requests[i][1], {"json": json_path(path), "as": name})
        out.append((j, name))
    return out


# An id's key, and its value: digits or a UUID.
_ID_KEY = re.compile(r"(?i)^(?:id|uuid|guid)$|[a-z0-9](?:_id|Id|ID|_uuid|Uuid)$")
_ID_VALUE = re.compile(
    r"\d{1,19}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def _ids(data: Any) -> list[tuple[tuple[str | int, ...], str, str]]:
    """Each id-like value under an id's key, as text: (its path, the key, the value)."""
    found: list[tuple[tuple[str | int, ...], str, str]] = []
    stack: list[tuple[Any, tuple[str | int, ...], str]] = [(data, (), "")]
    while stack:
        node, path, key = stack.pop()
        if isinstance(node, dict) and len(path) < MAX_BODY_DEPTH:
            for k, v in node.items():
                if isinstance(v, dict | list):
                    stack.append((v, (*path, str(k)), str(k)))
                elif _ID_KEY.search(str(k)) and not isinstance(v, bool):
                    text = str(v) if isinstance(v, int | str) else ""
                    if _ID_VALUE.fullmatch(text):
                        found.append(((*path, str(k)), str(k), text))
        elif isinstance(node, list) and len(path) < MAX_BODY_DEPTH:
            stack.extend((v, (*path, n), key) for n, v in enumerate(node))
    return found


def _path_segments(url: str) -> list[str]:
    return url.split("?", 1)[0].split("#", 1)[0].split("/")


def _path_replaced(url: str, value: str, template: str) -> str:
    """`url` with each path segment equal to `value` replaced (the query as it is)."""
    path, mark, rest = url.partition("?")
    segments = [template if seg == value else seg for seg in path.split("/")]
    return "/".join(segments) + mark + rest


def is_token(value: str) -> bool:
    """A string that can be a token a server handed out: at least MIN_TOKEN_CHARS of
    letters, digits and `._~+/=-` (base64, hex, JWTs, UUIDs), with at least one letter and
    one digit, not a path. Not `application/json`, `true`, a word or a sentence."""
    return (
        len(value) >= MIN_TOKEN_CHARS
        and _TOKEN.fullmatch(value) is not None
        and not value.startswith("/")
        and any(c.isdigit() for c in value)
        and any(c.isalpha() for c in value)
    )


def _words(text: str) -> set[str]:
    """The token-like words of a request's text: runs of token characters, and the parts
    of those between `/` and `=` (a path segment, a query value)."""
    words: set[str] = set()
    for run in _TOKEN.findall(text):
        words.add(run)
        if "/" in run or "=" in run:
            words.update(_WORD_SPLIT.split(run))
    return {w for w in words if is_token(w)}


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
    text = content["text"]
    if content.get("encoding") == "base64":
        if len(text) > MAX_BASE64_CHARS:
            return None  # larger than a token's response: not decoded
        try:
            text = base64.b64decode(text).decode("utf-8-sig")
        except ValueError:  # not base64, or not UTF-8 text
            return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None  # not JSON, or nested past what json reads: no tokens searched
    if "\\u" in text and holds_lone_surrogate(data):
        return None  # a key no capture can name: not searched
    return data


def _strings(data: Any) -> list[tuple[tuple[str | int, ...], str, str]]:
    """Each token-like string (is_token), in document order: (its path, the nearest key,
    the string). Nothing deeper than MAX_BODY_DEPTH is searched."""
    found: list[tuple[tuple[str | int, ...], str, str]] = []
    stack: list[tuple[Any, tuple[str | int, ...], str]] = [(data, (), "value")]
    while stack:
        node, path, key = stack.pop()
        if isinstance(node, str):
            if is_token(node):
                found.append((path, key, node))
        elif len(path) >= MAX_BODY_DEPTH:
            continue
        elif isinstance(node, dict):
            items = [(v, (*path, str(k)), str(k)) for k, v in node.items()]
            stack.extend(reversed(items))
        elif isinstance(node, list):
            stack.extend(reversed([(v, (*path, n), key) for n, v in enumerate(node)]))
    return found


def _sent(request: tuple[str, dict[str, Any]]) -> str:
    """Everything a request sends that a token could hide in, as one text."""
    step = request[1]
    parts = [step.get("url", ""), json.dumps(step.get("headers", {}))]
    for key in ("json", "form", "body"):
        if key in step:
            parts.append(json.dumps(step[key]))
    return "\n".join(str(p) for p in parts)


def _replaced_all(data: Any, mapping: dict[str, str]) -> Any:
    """`data` with each whole word (as `_words` splits them) that is a key of `mapping`
    replaced by its template: one pass over each string, whatever the count of tokens;
    a token inside a longer word is left alone."""
    if isinstance(data, str):
        return _TOKEN.sub(lambda run: _run_replaced(run.group(0), mapping), data)
    if isinstance(data, dict):
        return {k: _replaced_all(v, mapping) for k, v in data.items()}
    if isinstance(data, list):
        return [_replaced_all(v, mapping) for v in data]
    return data


def _run_replaced(run: str, mapping: dict[str, str]) -> str:
    if run in mapping:
        return mapping[run]
    if "/" not in run and "=" not in run:
        return run
    return "".join(mapping.get(part, part) for part in _WORD_SPLIT_KEPT.split(run))
