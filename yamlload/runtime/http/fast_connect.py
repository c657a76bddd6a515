"""Opening a connection of the fast transport (fast_transport.py): the host's name looked
up (by the loop, or by a test's fake resolver, RunOptions.resolver), the TCP connect
and, for https://, the TLS handshake, all bounded by the request's deadline, with errors
named as the aiohttp path names them. With extendedMetrics, the timings aiohttp reports:
`http.dns` for a lookup, then `http.tcp` or `http.tls` for the whole opening (aiohttp's
clock for it starts before the lookup, so ours does too)."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ...metrics.names import DNS, TCP, TLS
from ..log import exception_text
from .errors import certificate_code, errno_code
from .fast_prepare import Origin
from .fast_response import RESET, TIMED_OUT, Reply, ResponseProtocol

Observe = Callable[[str, float], None]
NOT_FOUND = "ENOTFOUND"
# aiohttp offers this protocol in its handshake (connector.py, _make_ssl_context): a
# server sees the same handshake from either transport.
ALPN_PROTOCOLS = ("http/1.1",)


def ssl_context(verify: bool) -> ssl.SSLContext:
    """The context aiohttp makes for ssl=True (verify) and ssl=False (accept anything)."""
    if verify:
        context = ssl.create_default_context()
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.options |= ssl.OP_NO_COMPRESSION
        context.set_default_verify_paths()
    context.set_alpn_protocols(ALPN_PROTOCOLS)
    return context


class _NotFound(Exception):
    """The lookup failed: aiohttp turns any OSError of its resolver into ENOTFOUND."""


class Connector:
    """Opens a transport's connections: one TLS context for all of them (made at the
    first https:// connection: loading the system's CAs takes milliseconds)."""

    __slots__ = ("_context", "_observe", "_resolver", "_verify")

    def __init__(self, verify: bool, resolver: Any, observe: Observe | None) -> None:
        self._verify = verify
        self._resolver = resolver
        self._observe = observe
        self._context: ssl.SSLContext | None = None

    async def open(self, origin: Origin, deadline: float) -> ResponseProtocol | Reply:
        """A new connection, or the Reply that says why there is none."""
        try:
            conn = await _within(self._open(origin), max(deadline - time.perf_counter(), 0.0))
        except asyncio.TimeoutError:
            return Reply(error=TIMED_OUT, detail="connecting took too long")
        except _NotFound as exc:
            return Reply(error=NOT_FOUND, detail=f"{origin[1]}: {exc}")
        except ssl.SSLError as exc:  # a certificate refused, a handshake failed
            return Reply(error=certificate_code(str(exc)), detail=exception_text(exc))
        except OSError as exc:
            return Reply(error=errno_code(exc.errno) or RESET, detail=exception_text(exc))
        sock = conn.transport.get_extra_info("socket") if conn.transport else None
        if sock is not None:  # small requests go at once, not after Nagle's wait
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    async def _open(self, origin: Origin) -> ResponseProtocol:
        scheme, host, port = origin
        start = time.perf_counter()
        addresses = await self._addresses(host, port)
        context = self._tls() if scheme == "https" else None
        # The certificate names the URL's host, whatever address it resolved to; ssl
        # itself sends no SNI for an IP address but still checks the certificate for it.
        server_hostname = host.rstrip(".") if context is not None else None
        loop = asyncio.get_running_loop()
        error = OSError(f"{host} resolved to no address")
        for address, address_port, family in addresses:
            try:
                _, conn = await loop.create_connection(
                    ResponseProtocol,
                    address,
                    address_port,
                    family=family,
                    ssl=context,
                    server_hostname=server_hostname,
                )
            except OSError as exc:  # the next address, as aiohttp tries them
                error = exc
                continue
            if self._observe is not None:
                name = TCP if context is None else TLS
                self._observe(name, (time.perf_counter() - start) * 1000.0)
            return conn
        raise error

    async def _addresses(self, host: str, port: int) -> list[tuple[str, int, int]]:
        """(address, port, family) to try in turn; an IP address is not looked up."""
        if _is_address(host):
            return [(host, port, 0)]
        start = time.perf_counter()
        try:
            if self._resolver is not None:
                found = await self._resolver.resolve(host, port, family=socket.AF_UNSPEC)
                addresses = [(str(r["host"]), int(r["port"]), int(r["family"])) for r in found]
            else:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
                addresses = [(str(info[4][0]), int(info[4][1]), info[0]) for info in infos]
        except OSError as exc:
            raise _NotFound(exception_text(exc)) from exc
        if self._observe is not None:
            self._observe(DNS, (time.perf_counter() - start) * 1000.0)
        return addresses

    def _tls(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = ssl_context(self._verify)
        return self._context


if sys.version_info >= (3, 11):

    async def _within(opening: Awaitable[ResponseProtocol], seconds: float) -> ResponseProtocol:
        """The connection, or TimeoutError after `seconds`. asyncio.timeout cancels the
        awaiting task itself; wait_for made a task per connection (a new user's each,
        in the open model)."""
        async with asyncio.timeout(seconds):
            return await opening

else:  # Python 3.10 has no asyncio.timeout

    async def _within(opening: Awaitable[ResponseProtocol], seconds: float) -> ResponseProtocol:
        return await asyncio.wait_for(opening, seconds)


@functools.lru_cache(maxsize=256)
def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
