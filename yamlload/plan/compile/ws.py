"""WebSocket scenarios (issue 19, Artillery's `ws` engine): config.ws and
config.engines.ws, a scenario's `connect` step, and its `send` and `wait` steps.

Which steps a scenario may hold is decided here too: a ws step in an HTTP scenario (or
an HTTP request in a ws one) is a positioned error, never a step that silently does
nothing."""

from __future__ import annotations

import difflib
import re
from typing import Any
from urllib.parse import urlsplit

from ..ir import (
    DEFAULT_WS_TIMEOUT_SECONDS,
    ENGINE_NAMES,
    METHODS,
    Capture,
    TMap,
    WsConnect,
    WsSend,
    WsSettings,
    WsWait,
)
from ..source import Path
from .context import Context
from .request import _captures, _matches

WS_ACTIONS = ("send", "wait", "connect")
# What a ws scenario cannot hold: HTTP requests, and parallel groups (one socket, one
# conversation: Artillery's ws engine has no parallel either).
HTTP_ONLY_ACTIONS = (*METHODS, "parallel")
WS_SCHEMES = re.compile(r"^(wss?|https?)://[^/\s]+", re.IGNORECASE)
# A control character no handshake header value may hold (a tab is allowed): a line break
# would end the header, a NUL is refused by every server.
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def scenario_engine(spec: dict[str, Any]) -> str:
    """ "http" or "ws" (refusals.py has refused any other engine already)."""
    return ENGINE_NAMES.get(str(spec.get("engine") or "http"), "http")


def compile_ws_settings(cx: Context) -> WsSettings:
    """config.engines.ws, with config.ws over it key by key (Artillery reads config.ws)."""
    merged: dict[str, Any] = {}
    paths: dict[str, Path] = {}
    for base in (("config", "engines", "ws"), ("config", "ws")):
        if not cx.healthy(base):
            continue
        for key, value in cx.mapping(base).items():
            merged[key], paths[key] = value, (*base, key)
    timeout = DEFAULT_WS_TIMEOUT_SECONDS
    if "timeout" in merged:
        timeout = _timeout(cx, paths["timeout"], merged["timeout"]) or timeout
    if "headers" in paths:
        _header_values(cx, paths["headers"], merged["headers"])
    return WsSettings(
        subprotocols=tuple(str(s) for s in merged.get("subprotocols") or ()),
        headers=cx.tmap(paths["headers"]) if "headers" in paths else TMap(),
        timeout=timeout,
    )


def _timeout(cx: Context, path: Path, raw: Any) -> float | None:
    seconds = cx.duration(path, raw)
    if seconds == 0:
        cx.error(path, "a timeout of 0 would fail every wait; give a duration above 0")
        return None
    return seconds


def misplaced(cx: Context, path: Path, action: str, engine: str) -> bool:
    """Whether a step's action does not belong to its scenario's engine (said, placed)."""
    at = (*path, action)
    if engine != "ws" and action in WS_ACTIONS:
        if path[0] != "scenarios":
            cx.error(
                at,
                f"'{action}' is a WebSocket step, and a {path[0]} flow runs HTTP steps "
                "only (it has no connection); put it in a scenario with engine: ws "
                "(docs/websocket.md)",
            )
            return True
        cx.error(
            at,
            f"'{action}' is a WebSocket step, and this is an HTTP scenario; "
            "give its scenario engine: ws (docs/websocket.md)",
        )
        return True
    if engine == "ws" and action in HTTP_ONLY_ACTIONS:
        what = "a parallel group" if action == "parallel" else f"an HTTP request ('{action}')"
        cx.error(
            at,
            f"{what} in a ws scenario, which holds one WebSocket conversation; "
            "put HTTP requests in a scenario of their own",
        )
        return True
    return False


def refuse_request_hooks(cx: Context, path: Path, spec: dict[str, Any]) -> None:
    """beforeRequest and afterResponse on a ws scenario: it sends no HTTP request, so
    they would never be called (Artillery's ws engine ignores them too)."""
    for key in ("beforeRequest", "afterResponse"):
        if key in spec:
            cx.error(
                (*path, key),
                f"a ws scenario sends no HTTP request, so '{key}' would never be called; "
                "use beforeScenario/afterScenario, or a function step",
            )


def is_first_step(path: Path) -> bool:
    """A scenario's first step: where `connect` belongs (Artillery reads it only there)."""
    return len(path) == 4 and path[0] == "scenarios" and path[2] == "flow" and path[3] == 0


def compile_connect(cx: Context, scenario_path: Path, spec: dict[str, Any]) -> WsConnect:
    """A ws scenario's connection: its first step's `connect`, else config.target."""
    flow = spec.get("flow")
    first = flow[0] if isinstance(flow, list) and flow else None
    at = (*scenario_path, "flow", 0)
    if not (isinstance(first, dict) and "connect" in first and cx.healthy(at)):
        return WsConnect(pos=cx.doc.pos(scenario_path))
    raw = first["connect"]
    where = (*at, "connect")
    if isinstance(raw, str):
        return WsConnect(target=_target(cx, where, raw), pos=cx.doc.pos(at))
    for key in raw:
        if key not in CONNECT_KEYS:
            cx.error((*where, key), _unsupported_connect_key(str(key)))
    target = raw.get("target")
    protocols = raw.get("subprotocols")
    if "headers" in raw:
        _header_values(cx, (*where, "headers"), raw["headers"])
    return WsConnect(
        target=_target(cx, (*where, "target"), str(target)) if target is not None else None,
        headers=cx.tmap((*where, "headers")) if "headers" in raw else None,
        subprotocols=tuple(str(p) for p in protocols) if protocols is not None else None,
        pos=cx.doc.pos(at),
    )


CONNECT_KEYS = ("target", "headers", "subprotocols")
# What Artillery's connect takes beyond ours, and why it is not here.
ARTILLERY_CONNECT_KEYS = {
    "function": "a connect function (Artillery's JavaScript handler) is not supported; "
    "give connect a URL or {target, headers, subprotocols}",
}


def _unsupported_connect_key(key: str) -> str:
    if key in ARTILLERY_CONNECT_KEYS:
        return f"connect.{key}: not supported: {ARTILLERY_CONNECT_KEYS[key]}"
    guess = difflib.get_close_matches(key, CONNECT_KEYS, n=1, cutoff=0.6)
    if guess:
        return f"connect.{key}: unknown key; did you mean '{guess[0]}'?"
    return (
        f"connect.{key}: not supported: connect takes target, headers and subprotocols "
        "(Artillery passes other keys, such as proxy, to its ws client)"
    )


def _header_values(cx: Context, path: Path, raw: Any) -> None:
    """A handshake header's literal value with a control character (a line break, a NUL)
    is refused, placed on the header (a rendered one fails its connection at run time)."""
    if not isinstance(raw, dict):
        return
    for name, value in raw.items():
        if isinstance(value, str) and CONTROL.search(value):
            found = CONTROL.search(value)
            assert found is not None
            cx.error(
                (*path, name),
                f"header {name!r}: its value holds a control character "
                f"({found.group()!r}), which no handshake header may carry",
            )


def _target(cx: Context, path: Path, raw: str) -> Any:
    text = raw.strip()
    if "{{" not in text and not (text.startswith("/") or WS_SCHEMES.match(text)):
        cx.error(
            path,
            f"{raw!r} is not a ws://, wss://, http:// or https:// URL, "
            "nor a path joined to config.target",
        )
    elif "{{" not in text and not text.startswith("/"):
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises for a port out of range or not a number
            if not parts.hostname:
                raise ValueError("no host")
        except ValueError as exc:
            cx.error(path, f"{raw!r} is not a valid URL: {exc}")
    return cx.template(path, text)


def compile_send(cx: Context, path: Path, raw: Any) -> WsSend:
    """`send: TEXT`, `send: {an object}` (sent as JSON), or `send: {payload, capture,
    match}`, which waits for the next message and reads it."""
    at = (*path, "send")
    pos = cx.doc.pos(path)
    if isinstance(raw, dict):
        _near_misses(cx, at, raw)
    if isinstance(raw, dict) and ("capture" in raw or "match" in raw):
        payload = raw.get("payload")
        captures = _no_headers(
            cx, (*at, "capture"), _captures(cx, (*at, "capture"), raw.get("capture"))
        )
        matches = _matches(cx, (*at, "match"), raw.get("match"))
        _no_headers(cx, (*at, "match"), tuple(m.capture for m in matches))
        return WsSend(
            payload=_payload(cx, (*at, "payload"), payload),
            as_json=isinstance(payload, dict | list),
            captures=captures,
            matches=matches,
            pos=pos,
        )
    if isinstance(raw, dict) and "payload" in raw:
        cx.warn(
            at,
            "without capture or match, Artillery sends this whole object as JSON, "
            "'payload' key and all, and so does yamlload; to send the payload alone, "
            "write send: <the payload>",
        )
    return WsSend(payload=_payload(cx, at, raw), as_json=isinstance(raw, dict | list), pos=pos)


SEND_KEYS = ("payload", "capture", "match")


def _near_misses(cx: Context, path: Path, raw: dict[str, Any]) -> None:
    """Warn of a send object's keys that look like payload, capture or match misspelt:
    such an object is sent whole, as JSON, and nothing waits for a reply."""
    if any(key in SEND_KEYS for key in raw):
        found = [k for k in raw if isinstance(k, str) and k not in SEND_KEYS]
    else:
        found = [k for k in raw if isinstance(k, str)]
    pairs = []
    for key in found:
        guess = difflib.get_close_matches(key.lower(), SEND_KEYS, n=1, cutoff=0.7)
        if guess:
            pairs.append(f"'{key}' → '{guess[0]}'")
    if pairs:
        cx.warn(
            path,
            f"did you mean {', '.join(pairs)}? This object is sent whole as JSON, as "
            "Artillery would send it; a send reads a reply only with capture or match",
        )


def _no_headers(cx: Context, path: Path, captures: tuple[Capture, ...]) -> tuple[Capture, ...]:
    """A WebSocket message has no headers: a header capture or match is refused."""
    for capture in captures:
        if capture.kind == "header":
            cx.error(
                path,
                f"capture by header ({capture.source!r}): a WebSocket message has no "
                "headers; use json (JSONPath), jmespath or regexp",
            )
    return tuple(c for c in captures if c.kind != "header")


def _payload(cx: Context, path: Path, raw: Any) -> Any:
    if raw is None:
        return ""  # Artillery sends nothing then; an empty message keeps the count honest
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float):
        return str(raw)
    return cx.value(path, raw)


def compile_wait(cx: Context, path: Path, raw: dict[str, Any]) -> WsWait:
    at = (*path, "wait")
    timeout = _timeout(cx, (*at, "timeout"), raw["timeout"]) if "timeout" in raw else None
    matches = _matches(cx, (*at, "match"), raw.get("match"))
    _no_headers(cx, (*at, "match"), tuple(m.capture for m in matches))
    return WsWait(
        captures=_no_headers(
            cx, (*at, "capture"), _captures(cx, (*at, "capture"), raw.get("capture"))
        ),
        matches=matches,
        timeout=timeout,
        pos=cx.doc.pos(path),
    )
