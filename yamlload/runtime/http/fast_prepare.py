"""A request of the fast transport as bytes: the request line, headers and body aiohttp
would write for the same Spec (same auto headers, same body encodings, multipart as its
FormData writes it), built once per constant request (fast_transport.py caches them).
A user's cookies are spliced in per send (`with_cookie`), where aiohttp puts them."""

from __future__ import annotations

import base64
import json
import re
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import metadata
from typing import Any, TypeAlias
from urllib.parse import quote, urlencode

from yarl import URL

from .form import FormField, _PendingForm
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
# aiohttp's rules for a multipart part's headers (its helpers.py and http_writer.py): a
# control character is refused; a field name goes as a quoted-string while it is
# printable ASCII (else as name*=utf-8''...); a filename is always percent-encoded.
HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
QUOTED_STRING_CHARS = frozenset(chr(i) for i in range(0x20, 0x7F)) | {"\t"}
NOT_QTEXT = re.compile(r"[^\041\043-\133\135-\176]")
# An HTTP method is a token (RFC 9110 section 5.6.2).
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


# A connection's destination: scheme, host, port. The scheme is part of it, so that
# http:// and https:// to one host and port never share a connection.
Origin: TypeAlias = tuple[str, str, int]
SCHEMES = frozenset({"http", "https"})


class Unsupported(Exception):
    """A request the fast transport cannot send yet (see the module's docstring)."""


class InvalidURL(ValueError):
    """A URL no request can go to (a port past 65535, say): EINVALIDURL, as on aiohttp."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """One request as bytes, and what sending it needs."""

    origin: Origin
    url: URL
    data: bytes
    head: bool  # a HEAD request: its response has no body, whatever its headers say
    idempotent: bool
    cookie_at: int  # where in `data` the jar's Cookie header goes (where aiohttp puts it)
    # The request's own Cookie header: its line's span in `data`, and its value.
    given_cookie: tuple[int, int, str] | None
    per_send: bool  # a form: made for one send (a fresh multipart boundary), not cached


def prepare(spec: Spec) -> Prepared:
    """The request's bytes, as aiohttp would write them (same auto headers, same body
    encodings). ValueError for a request that cannot be written; Unsupported."""
    try:
        url = URL(spec["url"])
        url.port  # noqa: B018 -- yarl checks the port only when asked
    except (ValueError, TypeError) as exc:
        raise InvalidURL(f"{spec['url']!r}: {exc}") from None
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
    if not TOKEN.fullmatch(method):  # a hook's method must not write a second request
        raise ValueError(f"{method!r} is not an HTTP method")
    headers: dict[str, str] = {}
    given = {name.lower() for name in spec["headers"]}
    skipped = {name.lower() for name in spec.get("skip_auto_headers", ())}
    if "host" not in given:
        # yarl's, as aiohttp writes it: no default port, IPv6 bracketed, no final dot.
        headers["Host"] = url.host_port_subcomponent or host
    for name, value in spec["headers"].items():
        headers[name] = value
    if url.raw_user is not None and "authorization" not in given:
        headers["Authorization"] = _basic_auth(url)  # as aiohttp does with userinfo
    for name, value in AUTO_HEADERS:
        if name.lower() not in given and name.lower() not in skipped:
            headers[name] = value
    if "user-agent" not in given and "user-agent" not in skipped:
        headers["User-Agent"] = USER_AGENT
    # aiohttp adds the jar's Cookie header after these, before the body's headers.
    front = _lines([f"{method} {url.raw_path_qs} HTTP/1.1", *_header_lines(headers)])
    body, content_type = _body(spec)
    after: dict[str, str] = {}
    if body is not None:  # in aiohttp's order: the length, then the payload's type
        if "content-length" not in given:  # aiohttp sends the plan's own, right or wrong
            after["Content-Length"] = str(len(body))
        if "content-type" not in given:
            after["Content-Type"] = content_type
    elif method not in BODILESS_METHODS and "content-length" not in given:
        after["Content-Length"] = "0"
    origin = (url.scheme, host, url.port or (443 if url.scheme == "https" else 80))
    return Prepared(
        origin,
        url,
        front + _lines([*_header_lines(after), ""]) + (body or b""),
        method == "HEAD",
        method in IDEMPOTENT_METHODS,
        len(front),
        _given_cookie(spec["headers"], front) if "cookie" in given else None,
        isinstance(spec.get("data"), _PendingForm),
    )


def _basic_auth(url: URL) -> str:
    """aiohttp's BasicAuth from a URL's userinfo: latin-1, the password may be empty."""
    pair = f"{url.user or ''}:{url.password or ''}".encode("latin-1")
    return "Basic " + base64.b64encode(pair).decode("ascii")


def with_cookie(prepared: Prepared, cookie: str) -> Prepared:
    """The request with the jar's Cookie header (cookies.py), in place of its own one."""
    if HEADER_CONTROL.search(cookie):
        raise ValueError("the Cookie header holds a control character")
    data, at = prepared.data, prepared.cookie_at
    line = f"Cookie: {cookie}\r\n".encode()
    if prepared.given_cookie is None:
        return replace(prepared, data=data[:at] + line + data[at:])
    start, end, _ = prepared.given_cookie
    return replace(prepared, data=data[:start] + data[end:at] + line + data[at:])


def _lines(lines: list[str]) -> bytes:
    return "".join(f"{line}\r\n" for line in lines).encode("utf-8")


def _given_cookie(headers: Mapping[str, Any], front: bytes) -> tuple[int, int, str]:
    """Where the request's own Cookie line lies in `front`, and its value: a line starts
    after CRLF and a value holds none, so the first match is the line."""
    name, value = next((k, str(v)) for k, v in headers.items() if k.lower() == "cookie")
    start = front.index(f"\r\n{name}: ".encode()) + 2
    return start, front.index(b"\r\n", start) + 2, value


def _header_lines(headers: Mapping[str, str]) -> list[str]:
    lines = []
    for name, given in headers.items():
        if not (isinstance(name, str) and TOKEN.fullmatch(name)):  # a hook's header
            raise ValueError(f"{name!r} is not a header name")
        if given is None or isinstance(given, bytes | bytearray):  # str() would send "None"
            raise ValueError(f"header {name!r}: {given!r} is not text")
        value = str(given)
        if any(c in value for c in "\r\n\0"):
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
    if isinstance(data, _PendingForm):  # formData: always multipart, as Artillery sends it
        return _multipart(data.fields())
    if isinstance(data, Mapping):
        return _urlencoded(list(data.items()))
    raise ValueError(f"a body of type {type(data).__name__} cannot be sent")


def _urlencoded(fields: list[tuple[str, Any]]) -> tuple[bytes, str]:
    return urlencode(fields, doseq=True).encode("utf-8"), "application/x-www-form-urlencoded"


def _multipart(fields: list[FormField]) -> tuple[bytes, str]:
    """multipart/form-data as aiohttp's FormData and MultipartWriter write it: a random
    boundary per body; each part's Content-Type, then its Content-Disposition."""
    boundary = uuid.uuid4().hex.encode("ascii")
    chunks: list[bytes] = []
    for name, value, filename, content_type in fields:
        if isinstance(value, str):  # form.py gives a text field no content type
            payload, default_type = value.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            payload, default_type = value, "application/octet-stream"
            if filename is None:  # aiohttp names bytes with no filename after the field
                filename = name
        disposition = f"form-data; {_disposition_name(_safe(name))}"
        if filename is not None:
            disposition += f'; filename="{quote(_safe(filename), "", encoding="utf-8")}"'
        part_type = _safe(content_type) if content_type is not None else default_type
        head = f"Content-Type: {part_type}\r\nContent-Disposition: {disposition}\r\n\r\n"
        chunks += (b"--", boundary, b"\r\n", head.encode("utf-8"), payload, b"\r\n")
    chunks += (b"--", boundary, b"--\r\n")
    return b"".join(chunks), f"multipart/form-data; boundary={boundary.decode('ascii')}"


def _disposition_name(name: str) -> str:
    if set(name) < QUOTED_STRING_CHARS:
        return 'name="' + NOT_QTEXT.sub(lambda m: "\\" + m.group(0), name) + '"'
    return "name*=utf-8''" + quote(name, "", encoding="utf-8")


def _safe(text: str) -> str:
    if HEADER_CONTROL.search(text):
        raise ValueError("a form field's name, filename or content type holds a line break")
    return text
