"""The fast transport (config.http.transport: fast): HTTP/1.1 over one asyncio Protocol
per connection, responses parsed by httptools (llhttp, Node's parser), one keep-alive
connection per virtual user and origin, as Artillery keeps them.

Why: about 90% of a request's CPU on the aiohttp path is aiohttp's general-purpose
client (issue 15). Here a constant request is serialized to bytes once and written in
one call; a response is one parser feed and one future.

What it does not do yet (choose.py picks aiohttp for a plan that needs these, and the
console says so): https://, config.http.pool and maxSockets, formData, the plan's
cookies, extendedMetrics, a test's fake resolver (engine.py). Cookies a server sets are
not kept: a plan that logs in by cookie must stay on aiohttp. A request that needs one
of these anyway (an absolute https:// URL) is a request error, EPROTONOSUPPORT.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any
from urllib.parse import urlencode

from yarl import URL

from ...plan.ir import Plan
from ..log import exception_text
from ..options import RunOptions
from ..vuser import VALUE_ERRORS
from .errors import INVALID_REQUEST, errno_code
from .fast_response import RESET, TIMED_OUT, Reply, ResponseProtocol
from .form import _PendingForm
from .transport import Answer, Outcome, RequestError, Spec

# Prepared requests kept by the identity of their Spec: a constant request's Spec is one
# object for the whole run (client.py), so its bytes are built once. Specs built per
# send churn through; past this many the cache starts again rather than grow.
PREPARED_CACHE_SIZE = 1024
# RFC 9112 §9.3.1: only these may be sent again when a reused connection dies unanswered
# (the server closed an idle keep-alive connection as the request went); aiohttp agrees.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
UNSUPPORTED = "EPROTONOSUPPORT"
# Methods that send no Content-Length when they have no body; others say 0, as aiohttp.
BODILESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _aiohttp_user_agent() -> str:
    """aiohttp's User-Agent, read from its metadata without importing it: the server
    sees the same request from either transport."""
    python = f"Python/{sys.version_info[0]}.{sys.version_info[1]}"
    try:
        return f"{python} aiohttp/{metadata.version('aiohttp')}"
    except metadata.PackageNotFoundError:
        return python


USER_AGENT = _aiohttp_user_agent()
# The headers aiohttp adds unless the request has them or skips them (skip_auto_headers).
AUTO_HEADERS = (("Accept", "*/*"), ("Accept-Encoding", "gzip, deflate"))


class Unsupported(Exception):
    """A request the fast transport cannot send yet (see the module's docstring)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """One request as bytes, and what sending it needs."""

    origin: tuple[str, int]
    url: URL
    data: bytes
    head: bool  # a HEAD request: its response has no body, whatever its headers say
    idempotent: bool


def prepare(spec: Spec) -> Prepared:
    """The request's bytes, as aiohttp would write them (same auto headers, same body
    encodings). ValueError for a request that cannot be written; Unsupported."""
    url = URL(spec["url"])
    params = spec.get("params")
    if params:
        url = url.extend_query(params)
    if url.scheme != "http":
        raise Unsupported(f"the fast transport sends http:// only, not {url.scheme}://")
    host = url.raw_host
    if not host:
        raise ValueError(f"{spec['url']!r} has no host")
    method = str(spec["method"]).upper()
    headers: dict[str, str] = {}
    given = {name.lower() for name in spec["headers"]}
    skipped = {name.lower() for name in spec.get("skip_auto_headers", ())}
    if "host" not in given:
        headers["Host"] = host if url.port == 80 else f"{_bracketed(host)}:{url.port}"
    for name, value in spec["headers"].items():
        headers[name] = value
    for name, value in AUTO_HEADERS:
        if name.lower() not in given and name.lower() not in skipped:
            headers[name] = value
    if "user-agent" not in given and "user-agent" not in skipped:
        headers["User-Agent"] = USER_AGENT
    body, content_type = _body(spec)
    if body is not None:
        if "content-type" not in given:
            headers["Content-Type"] = content_type
        headers["Content-Length"] = str(len(body))
    elif method not in BODILESS_METHODS and "content-length" not in given:
        headers["Content-Length"] = "0"
    lines = [f"{method} {url.raw_path_qs} HTTP/1.1", *_header_lines(headers), "", ""]
    data = "\r\n".join(lines).encode("utf-8") + (body or b"")
    origin = (host, url.port or 80)
    return Prepared(origin, url, data, method == "HEAD", method in IDEMPOTENT_METHODS)


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _header_lines(headers: Mapping[str, str]) -> list[str]:
    lines = []
    for name, value in headers.items():
        value = str(value)
        if any(c in name or c in value for c in "\r\n\0"):
            raise ValueError(f"header {name!r} holds a line break")
        lines.append(f"{name}: {value}")
    return lines


def _body(spec: Spec) -> tuple[bytes | None, str]:
    """The body's bytes and content type, as aiohttp encodes each kind."""
    if spec.get("json") is not None:
        return json.dumps(spec["json"]).encode("utf-8"), "application/json"
    data = spec.get("data")
    if data is None:
        return None, ""
    if isinstance(data, str):
        return data.encode("utf-8"), "text/plain; charset=utf-8"
    if isinstance(data, bytes | bytearray):
        return bytes(data), "application/octet-stream"
    if isinstance(data, _PendingForm):
        fields = data.fields()
        if any(filename is not None or ctype is not None for _, _, filename, ctype in fields):
            raise Unsupported("the fast transport does not send multipart uploads yet")
        return _urlencoded([(name, value) for name, value, _, _ in fields])
    if isinstance(data, Mapping):
        return _urlencoded(list(data.items()))
    raise ValueError(f"a body of type {type(data).__name__} cannot be sent")


def _urlencoded(fields: list[tuple[str, Any]]) -> tuple[bytes, str]:
    return urlencode(fields, doseq=True).encode("utf-8"), "application/x-www-form-urlencoded"


class FastSession:
    """One user's connections, one per origin, kept alive between its requests."""

    __slots__ = ("_connections", "_transport")

    def __init__(self, transport: FastTransport) -> None:
        self._transport = transport
        self._connections: dict[tuple[str, int], ResponseProtocol] = {}

    async def send(self, spec: Spec, keep: int) -> Outcome:
        start = time.perf_counter()
        try:
            prepared = self._transport.prepared(spec)
        except Unsupported as exc:
            return RequestError(UNSUPPORTED, f"{spec['method']} {spec['url']}: {exc}")
        except VALUE_ERRORS as exc:  # what the values made of the request cannot be sent
            return RequestError(INVALID_REQUEST, exception_text(exc))
        deadline = start + self._transport.timeout
        reply, reused = await self._exchange(prepared, keep, deadline)
        if reused and reply.error == RESET and not reply.answered and prepared.idempotent:
            # The server closed an idle keep-alive connection as the request went: sent
            # again once, on a new connection, as aiohttp does.
            reply, _ = await self._exchange(prepared, keep, deadline)
        if reply.error:
            detail = f"{spec['method']} {prepared.url}: {reply.detail}"
            return RequestError(reply.error, detail)
        end = time.perf_counter()
        assert reply.headers is not None
        return Answer(
            reply.status,
            reply.headers,
            prepared.url,
            reply.body,
            reply.head,
            reply.size,
            (end - start) * 1000.0,
            (reply.first_byte - start) * 1000.0,
        )

    async def _exchange(self, prepared: Prepared, keep: int, deadline: float) -> tuple[Reply, bool]:
        """The reply, and whether it came on a connection an earlier request used."""
        conn = self._connections.get(prepared.origin)
        reused = conn is not None and not conn.closed
        if conn is None or conn.closed:
            connected = await self._connect(prepared.origin, deadline)
            if isinstance(connected, Reply):
                return connected, False
            conn = self._connections[prepared.origin] = connected
        loop = asyncio.get_running_loop()
        waiter = conn.request(prepared.data, keep, prepared.head)
        # perf_counter and the loop's clock differ: the timer gets the time left.
        timer = loop.call_later(
            max(deadline - time.perf_counter(), 0.0), conn.abort, TIMED_OUT, "no response in time"
        )
        try:
            reply = await waiter
        except asyncio.CancelledError:
            conn.abort()  # its response would arrive for no one
            raise
        finally:
            timer.cancel()
        if reply.error or conn.closed:
            self._connections.pop(prepared.origin, None)
        return reply, reused

    async def _connect(self, origin: tuple[str, int], deadline: float) -> ResponseProtocol | Reply:
        """A new connection, or the Reply that says why there is none."""
        loop = asyncio.get_running_loop()
        try:
            # wait_for's cost is paid once per connection, not per request.
            _, conn = await asyncio.wait_for(
                loop.create_connection(ResponseProtocol, *origin),
                max(deadline - time.perf_counter(), 0.0),
            )
        except asyncio.TimeoutError:
            return Reply(error=TIMED_OUT, detail="connecting took too long")
        except socket.gaierror as exc:
            return Reply(error="ENOTFOUND", detail=f"{origin[0]}: {exc}")
        except OSError as exc:
            return Reply(error=errno_code(exc.errno) or RESET, detail=exception_text(exc))
        sock = conn.transport.get_extra_info("socket") if conn.transport else None
        if sock is not None:  # small requests go at once, not after Nagle's wait
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def add_cookies(self, cookies: Mapping[str, str], url: str) -> None:
        raise NotImplementedError("the fast transport keeps no cookies yet (see choose.py)")

    async def close(self) -> None:
        for conn in self._connections.values():
            if conn.transport is not None:
                conn.transport.close()
        self._connections.clear()


class FastTransport:
    """Makes each user's FastSession; keeps the requests prepared once."""

    def __init__(self, plan: Plan, options: RunOptions) -> None:
        self.timeout = plan.http.timeout
        self._prepared: dict[int, tuple[Spec, Prepared]] = {}

    def open(self) -> None:
        pass

    def session(self) -> FastSession:
        return FastSession(self)

    def prepared(self, spec: Spec) -> Prepared:
        """The Spec's bytes, built once while the same Spec object comes back (it is
        kept in the cache, so its id cannot name another Spec meanwhile)."""
        cached = self._prepared.get(id(spec))
        if cached is not None and cached[0] is spec:
            return cached[1]
        prepared = prepare(spec)
        if len(self._prepared) >= PREPARED_CACHE_SIZE:
            self._prepared.clear()
        self._prepared[id(spec)] = (spec, prepared)
        return prepared

    async def close(self) -> None:
        self._prepared.clear()
