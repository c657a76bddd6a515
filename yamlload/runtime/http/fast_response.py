"""One keep-alive HTTP/1.1 connection of the fast transport (fast_transport.py): an
asyncio Protocol that writes a request's bytes and parses its response with httptools,
decoding gzip and deflate, keeping no more of the body than the request reads.

Errors carry aiohttp's names for the same events, so either transport counts a broken
target alike: no response before the connection ends is ECONNRESET, a response cut
short or not HTTP at all is EPROTO, no answer in time is ETIMEDOUT.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from dataclasses import dataclass
from typing import cast

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

from .body import BodySink
from .errors import errno_code

# Decoded output per zlib call: a gzip bomb is inflated this much at a time, so a body
# that is counted and dropped never holds more than this in memory.
DECODE_CHUNK_BYTES = 256 * 1024
RESET = "ECONNRESET"
BROKEN = "EPROTO"
TIMED_OUT = "ETIMEDOUT"
# aiohttp refuses a header line longer than this (its max_field_size) as EPROTO: so do
# we, so that both transports count such a server alike. All of a response's headers
# together are held to MAX_HEADERS_BYTES, so a server streaming headers cannot fill
# the generator's memory.
MAX_HEADER_FIELD_BYTES = 8190
MAX_HEADERS_BYTES = 64 * 1024


@dataclass(slots=True)
class Reply:
    """A whole response, or why there is none (`error` set)."""

    status: int = 0
    headers: CIMultiDictProxy[str] | None = None
    body: bytes | None = None
    head: bytes = b""
    size: int = 0
    first_byte: float = 0.0
    error: str = ""
    detail: str = ""
    answered: bool = False  # any byte of a response came back


class Decoder:
    """gzip or deflate, chunk by chunk, as aiohttp decodes them (a deflate body may be
    zlib-wrapped or raw: the first byte tells)."""

    __slots__ = ("_gzip", "_zlib")

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._zlib: zlib._Decompress | None = (
            zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        )

    def feed(self, chunk: bytes, sink: BodySink) -> None:
        while chunk:
            if self._zlib is None:
                raw = (chunk[0] & 0x0F) != 8  # no zlib header: raw deflate
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
            self._inflate(self._zlib, chunk, sink)
            chunk = b""
            if self._gzip and self._zlib.eof and self._zlib.unused_data:
                # gzip allows several members one after another (RFC 1952), and aiohttp
                # reads them all: the next one starts where this one ended.
                chunk = self._zlib.unused_data
                self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)

    @staticmethod
    def _inflate(inflater: zlib._Decompress, chunk: bytes, sink: BodySink) -> None:
        out = inflater.decompress(chunk, DECODE_CHUNK_BYTES)
        while True:
            if out:
                sink.feed(out)
            tail = inflater.unconsumed_tail
            if not tail:
                return
            out = inflater.decompress(tail, DECODE_CHUNK_BYTES)

    def flush(self, sink: BodySink) -> None:
        if self._zlib is not None:
            rest = self._zlib.flush()
            if rest:
                sink.feed(rest)


def _parser(protocol: ResponseProtocol) -> httptools.HttpResponseParser:
    """llhttp, accepting a bare LF as a line's end as aiohttp does (RFC 9112 section 2.2
    lets a recipient); its other leniencies stay off."""
    parser = httptools.HttpResponseParser(protocol)
    if hasattr(parser, "set_dangerous_leniencies"):  # httptools 0.6.2 and later
        parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True)
    return parser


class _TooLarge(Exception):
    """A response's headers past the limits above: the connection is dropped."""


class _Unasked(Exception):
    """Bytes of a response no request is waiting for: the connection is dropped."""


class ResponseProtocol(asyncio.Protocol):
    """A connection: `request()` writes one request and returns the future of its reply.
    One request at a time (no pipelining)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = _parser(self)
        self.closed = False
        self.used = False  # it has answered a request: it may be stale when reused
        self.keep_alive = True
        self._waiter: asyncio.Future[Reply] | None = None
        self._reply = Reply()
        self._sink = BodySink(0)
        self._decoder: Decoder | None = None
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._in_head = False  # between a message's start and the end of its headers
        self._head_bytes = 0  # bytes received while in a message's head
        self._interim = False  # the message being parsed is a 1xx before the response
        self._head = False
        self._reset_parser = False
        self._delimited_by_close = False

    # ---- the sending side

    def request(self, data: bytes, keep: int, head: bool) -> asyncio.Future[Reply]:
        assert self.transport is not None
        if self._reset_parser:  # a HEAD's response left the parser awaiting a body
            self.parser = _parser(self)
            self._reset_parser = False
        self._waiter = waiter = asyncio.get_running_loop().create_future()
        self._reply = Reply()
        self._sink = BodySink(keep)
        self._decoder = None
        self._raw_headers = []
        self._in_head = True  # until the response's headers end
        self._head_bytes = 0
        self._interim = False
        self._head = head
        self.transport.write(data)
        return waiter

    def abort(self, code: str = RESET, detail: str = "") -> None:
        """Give up on the connection (a timeout, a cancelled request): the reply fails
        with `code` and the socket is dropped, unread bytes and all."""
        self._finish_error(code, detail)
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    # ---- asyncio's callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport implements asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes no request asked for: the connection is unusable
            self.abort(BROKEN, "data received with no request pending")
            return
        self._reply.answered = True
        try:
            self.parser.feed_data(data)
            if self._in_head:  # all of it was head: held to MAX_HEADERS_BYTES, since
                # httptools copies a growing header value at every piece of it
                self._head_bytes += len(data)
                if self._head_bytes > MAX_HEADERS_BYTES:
                    raise _TooLarge(f"response headers over {MAX_HEADERS_BYTES} bytes")
        except httptools.HttpParserUpgrade:
            self.abort(BROKEN, "the server switched protocols")
        except httptools.HttpParserCallbackError as exc:
            # httptools wraps what a callback raised: ours say what was wrong; anything
            # else is a bug in this module, and goes on up as one.
            cause = exc.__context__
            if not isinstance(cause, _Unasked | _TooLarge | zlib.error):
                raise
            self._refuse(cause)
        except httptools.HttpParserError as exc:
            self.abort(BROKEN, f"not HTTP: {exc}")
        except _TooLarge as exc:
            self._refuse(exc)

    def _refuse(self, cause: Exception) -> None:
        if isinstance(cause, _Unasked):
            self._drop()
        elif isinstance(cause, zlib.error):
            self.abort(BROKEN, f"the body could not be decoded: {cause}")
        else:
            self.abort(BROKEN, str(cause))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is None or self._waiter.done():
            return
        if self._reply.headers is not None and self._delimited_by_close and exc is None:
            self.on_message_complete()  # a body with neither a length nor chunks ends here
        elif self._reply.headers is not None:
            self._finish_error(BROKEN, "the response ended before its body did")
        else:
            code = errno_code(getattr(exc, "errno", None)) if exc is not None else None
            self._finish_error(code or RESET, "the connection ended with no response")

    def _drop(self) -> None:
        """Close the connection without failing anyone: the reply was delivered, and
        what came after it was never asked for, so nothing more can be read here."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    # ---- httptools' callbacks

    # (No on_message_begin: httptools calls only the callbacks a protocol has, and the
    # checks below find an unasked message at its headers' end, for less per response.)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._waiter is None or self._waiter.done():
            raise _Unasked  # a second response in the same bytes as the first
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            # An interim response (100 Continue, 103 Early Hints): the response to the
            # request follows it on the same connection, as aiohttp reads it.
            self._interim = True
            self._raw_headers = []
            self._head_bytes = 0  # the next message's head is counted afresh
            return
        self._in_head = False
        reply = self._reply
        reply.first_byte = time.perf_counter()
        reply.status = status
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in self._raw_headers:
            if len(value) > MAX_HEADER_FIELD_BYTES:
                raise _TooLarge(f"a header of more than {MAX_HEADER_FIELD_BYTES} bytes")
            headers.add(
                name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape")
            )
        reply.headers = CIMultiDictProxy(headers)
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._decoder = Decoder(encoding != "deflate")
        self._delimited_by_close = (
            "content-length" not in headers
            and "chunked" not in headers.get("transfer-encoding", "").lower()
        )
        if self._head:  # no body follows, whatever the headers announce
            self._reset_parser = True
            self.on_message_complete()

    def on_body(self, body: bytes) -> None:
        if self._waiter is None:  # a body after its response was delivered (a HEAD's)
            raise _Unasked
        if self._decoder is not None:
            self._decoder.feed(body, self._sink)
        else:
            self._sink.feed(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._decoder is not None:
            self._decoder.flush(self._sink)
        reply = self._reply
        reply.body, reply.size, reply.head = self._sink.result()
        # A HEAD's response keeps its connection too: body bytes a server sends after
        # it would be unasked (on_body), and drop the connection then.
        self.keep_alive = self.parser.should_keep_alive()
        self.used = True
        self._waiter = None
        waiter.set_result(reply)
        if not self.keep_alive and self.transport is not None:
            self.closed = True
            self.transport.close()

    def _finish_error(self, code: str, detail: str) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            reply = self._reply
            reply.error, reply.detail = code, detail
            waiter.set_result(reply)
        self._waiter = None
