"""The aiohttp transport: aiohttp sessions, one per user (or sharing config.http.pool's
connector), with aiohttp's exceptions turned into request errors (transport.py). With
cookies.py (the cookie jar both transports use), the one module of the runtime that
imports aiohttp: its exceptions' names, its bodies and its FormData live here, so
another transport (fast_transport.py) needs none of them."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from yarl import URL

from ...metrics.names import DNS, TCP, TLS
from ...plan.ir import Plan
from ..log import exception_text
from ..options import RunOptions
from ..vuser import VALUE_ERRORS
from .body import READ_WHOLE_BYTES, BodyRead, BodySink, whole_body
from .errors import INVALID_REQUEST, INVALID_URL, certificate_code, errno_code, transport_detail
from .form import _PendingForm
from .transport import HOOK_MADE_ERRORS, Answer, Outcome, RequestError, Spec

# What the network and aiohttp raise for a request that got no usable response; these,
# and only these, become `errors.NAME` (see error_code). Anything else is a bug in
# yamlload and ends the run.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientError,
    asyncio.TimeoutError,
    OSError,
)


class AiohttpSession:
    __slots__ = ("_session",)

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def send(self, spec: Spec, keep: int) -> Outcome:
        start = time.perf_counter()
        data = spec.get("data")
        if isinstance(data, _PendingForm):
            spec = {**spec, "data": form_data(data)}
        try:
            async with self._session.request(**spec) as response:
                first_byte = time.perf_counter()
                body, size, head = await read_body(response, keep)
                millis = (time.perf_counter() - start) * 1000.0
                return Answer(
                    response.status,
                    response.headers,
                    response.url,
                    body,
                    head,
                    size,
                    millis,
                    (first_byte - start) * 1000.0,
                )
        except TRANSPORT_ERRORS as exc:
            return RequestError(error_code(exc), transport_detail(spec, exc))
        except (*VALUE_ERRORS, *HOOK_MADE_ERRORS) as exc:  # aiohttp refused what was made
            return RequestError(INVALID_REQUEST, exception_text(exc))

    def add_cookies(self, cookies: Mapping[str, str], url: str) -> None:
        self._session.cookie_jar.update_cookies(cookies, URL(url))

    async def close(self) -> None:
        await self._session.close()


class AiohttpTransport:
    def __init__(
        self, plan: Plan, options: RunOptions, observe: Callable[[str, float], None]
    ) -> None:
        self.http = plan.http
        self.resolver = options.resolver
        self.ssl: bool | ssl.SSLContext = not (
            options.insecure or not plan.http.reject_unauthorized
        )
        secure = plan.target.lower().startswith("https://")
        self._trace = _timings(observe, secure) if plan.http.extended_metrics else None
        self._connector: aiohttp.TCPConnector | None = None

    def open(self) -> None:
        if self.http.pool:
            self._connector = aiohttp.TCPConnector(
                limit=self.http.pool, ssl=self.ssl, resolver=self.resolver
            )

    def session(self) -> AiohttpSession:
        timeout = aiohttp.ClientTimeout(total=self.http.timeout)
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1 and other IP hosts too
        traces = [self._trace] if self._trace is not None else None
        if self._connector is not None:
            return AiohttpSession(
                aiohttp.ClientSession(
                    connector=self._connector,
                    connector_owner=False,
                    timeout=timeout,
                    cookie_jar=jar,
                    trace_configs=traces,
                )
            )
        connector = aiohttp.TCPConnector(
            limit=self.http.max_sockets or 0, ssl=self.ssl, resolver=self.resolver
        )
        return AiohttpSession(
            aiohttp.ClientSession(
                connector=connector, timeout=timeout, cookie_jar=jar, trace_configs=traces
            )
        )

    async def close(self) -> None:
        if self._connector is not None:
            await self._connector.close()


def _timings(observe: Callable[[str, float], None], secure: bool) -> aiohttp.TraceConfig:
    """`http.dns` and the connection setup: `http.tcp` for http://, `http.tls` for
    https:// (aiohttp reports TCP and TLS setup as one step, so `http.tls` includes
    the TCP connect)."""
    trace = aiohttp.TraceConfig()
    connect_name = TLS if secure else TCP

    async def dns_start(_: Any, ctx: Any, __: Any) -> None:
        ctx.dns = time.perf_counter()

    async def dns_end(_: Any, ctx: Any, __: Any) -> None:
        observe(DNS, (time.perf_counter() - ctx.dns) * 1000.0)

    async def connect_start(_: Any, ctx: Any, __: Any) -> None:
        ctx.connect = time.perf_counter()

    async def connect_end(_: Any, ctx: Any, __: Any) -> None:
        observe(connect_name, (time.perf_counter() - ctx.connect) * 1000.0)

    trace.on_dns_resolvehost_start.append(dns_start)
    trace.on_dns_resolvehost_end.append(dns_end)
    trace.on_connection_create_start.append(connect_start)
    trace.on_connection_create_end.append(connect_end)
    trace.freeze()
    return trace


def error_code(exc: BaseException) -> str:
    """Artillery's (Node's) name for a request aiohttp failed."""
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return "ETIMEDOUT"
    dns_error = getattr(aiohttp, "ClientConnectorDNSError", None)
    if dns_error is not None and isinstance(exc, dns_error):
        return "ENOTFOUND"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return certificate_code(str(exc.certificate_error))
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return certificate_code(str(exc))
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "ECONNRESET"
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return "EPROTO"
    os_errno = getattr(exc, "errno", None)
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_errno = exc.os_error.errno
        if isinstance(exc.os_error, OSError) and "Name or service" in str(exc.os_error):
            return "ENOTFOUND"
    named = errno_code(os_errno)
    if named is not None:
        return named
    if isinstance(exc, ConnectionResetError | aiohttp.ClientOSError):
        return "ECONNRESET"
    if isinstance(exc, aiohttp.InvalidURL):
        return INVALID_URL
    return type(exc).__name__


async def read_body(response: aiohttp.ClientResponse, keep: int) -> BodyRead:
    """A body's size, the body itself while it fits in `keep` bytes (None past it), and
    its first bytes (body.py): read whole when small and plain, else streamed."""
    length = response.content_length
    if (
        length is not None
        and length <= max(keep, READ_WHOLE_BYTES)
        and response.headers.get("content-encoding", "identity") == "identity"
    ):
        return whole_body(await response.read(), keep)
    sink = BodySink(keep)
    async for chunk in response.content.iter_any():
        sink.feed(chunk)
    return sink.result()


def form_data(form: _PendingForm) -> aiohttp.FormData:
    """aiohttp's FormData for the form's fields, always multipart as Artillery sends
    formData (aiohttp would url-encode text fields alone). Made per send, as aiohttp
    consumes it."""
    data = aiohttp.FormData(default_to_multipart=True)
    for name, value, filename, content_type in form.fields():
        if filename is None and content_type is None:
            data.add_field(name, value)
        else:
            data.add_field(name, value, filename=filename, content_type=content_type)
    return data
