"""The transport in use: aiohttp sessions, one per user (or sharing config.http.pool's
connector), with aiohttp's exceptions turned into request errors (transport.py)."""

from __future__ import annotations

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
from .body import read_body
from .errors import INVALID_REQUEST, TRANSPORT_ERRORS, error_code, transport_detail
from .transport import Answer, Outcome, RequestError, Spec


class AiohttpSession:
    __slots__ = ("_session",)

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def send(self, spec: Spec, keep: int) -> Outcome:
        start = time.perf_counter()
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
        except VALUE_ERRORS as exc:  # aiohttp refused what the values made of it
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
