"""A request of the fast transport as bytes: the request line, headers and body aiohttp
would write for the same Spec (same auto headers, same body encodings), built once per
constant request (fast_transport.py caches them)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TypeAlias
from urllib.parse import urlencode

from yarl import URL

from .form import _PendingForm
from .transport import Spec

# Methods that send no Content-Length when they have no body; others say 0, as aiohttp.
BODILESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# RFC 9112 §9.3.1: only these may be sent again when a reused connection dies unanswered
# (the server closed an idle keep-alive connection as the request went); aiohttp agrees.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


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


# A connection's destination: scheme, host, port. The scheme is part of it, so that
# http:// and https:// to one host and port never share a connection.
Origin: TypeAlias = tuple[str, str, int]
SCHEMES = frozenset({"http", "https"})


class Unsupported(Exception):
    """A request the fast transport cannot send yet (see the module's docstring)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """One request as bytes, and what sending it needs."""

    origin: Origin
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
    if url.scheme not in SCHEMES:
        raise Unsupported(
            f"the fast transport sends http:// and https:// only, not {url.scheme}://"
        )
    host = url.raw_host
    if not host:
        raise ValueError(f"{spec['url']!r} has no host")
    method = str(spec["method"]).upper()
    headers: dict[str, str] = {}
    given = {name.lower() for name in spec["headers"]}
    skipped = {name.lower() for name in spec.get("skip_auto_headers", ())}
    if "host" not in given:
        # yarl's, as aiohttp writes it: no default port, IPv6 bracketed, no final dot.
        headers["Host"] = url.host_port_subcomponent or host
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
    origin = (url.scheme, host, url.port or (443 if url.scheme == "https" else 80))
    return Prepared(origin, url, data, method == "HEAD", method in IDEMPOTENT_METHODS)


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
