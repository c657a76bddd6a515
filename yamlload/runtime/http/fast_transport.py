"""The fast transport (config.http.transport: fast): HTTP/1.1 and HTTPS over one asyncio
Protocol per connection, responses parsed by httptools (llhttp, Node's parser), one
keep-alive connection per virtual user and origin, as Artillery keeps them; or, with
config.http.pool (shared by all users) or maxSockets (each user's own), connections
from a limited pool (fast_pool.py), as aiohttp's TCPConnector(limit=N) gives them.

Why: about 90% of a request's CPU on the aiohttp path is aiohttp's general-purpose
client (issue 15). Here a constant request is serialized to bytes once and written in
one call; a response is one parser feed and one future.

Opening a connection (fast_connect.py) does what the aiohttp path does: TLS with the
same contexts (tls.rejectUnauthorized, --insecure) and the same error names, a test's
fake resolver, and extendedMetrics' http.dns, http.tcp and http.tls.

Cookies (the plan's and those servers set, on redirects too) go in a user's jar made
when the first one appears (cookies.py: aiohttp's own jar, so both transports follow
the same rules); a user with none pays nothing for them. cookies.py is imported with
this module, before the run's clock starts: imported at the first Set-Cookie, aiohttp
took 70 ms of that request's time. formData is encoded as aiohttp's
FormData encodes it (fast_prepare.py). A request it cannot send (an absolute URL with
another scheme) is a request error, EPROTONOSUPPORT.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

from multidict import istr
from yarl import URL

from ...plan.ir import Plan
from ..log import exception_text
from ..options import RunOptions
from ..vuser import VALUE_ERRORS
from .cookies import Jar
from .errors import INVALID_REQUEST, INVALID_URL
from .fast_connect import Connector
from .fast_pool import Pool
from .fast_prepare import InvalidURL, Origin, Prepared, Unsupported, prepare, with_cookie
from .fast_response import RESET, TIMED_OUT, Reply, ResponseProtocol
from .transport import HOOK_MADE_ERRORS, Answer, Outcome, RequestError, Spec

# Prepared requests kept by the identity of their Spec: a constant request's Spec is one
# object for the whole run (client.py), so its bytes are built once. A Spec is kept only
# when it comes back a second time: templated requests build a new Spec per send, and
# keeping those (each with its bytes) only churned memory. Past this many entries in
# either table, it starts again rather than grow.
PREPARED_CACHE_SIZE = 1024
UNSUPPORTED = "EPROTONOSUPPORT"
SET_COOKIE = istr("Set-Cookie")  # an istr: looked up with no case folding per response


class FastSession:
    """One user's connections, kept alive between its requests: its own, one per origin
    (more while parallel requests need them), or a pool's when it has one."""

    __slots__ = ("_connections", "_jar", "_pool", "_transport")

    def __init__(self, transport: FastTransport, pool: Pool | None) -> None:
        self._transport = transport
        self._pool = pool
        # Idle connections by origin: one, unless parallel requests opened more.
        self._connections: dict[Origin, list[ResponseProtocol]] = {}
        self._jar: Jar | None = None  # made with the first cookie: most plans have none

    async def send(self, spec: Spec, keep: int) -> Outcome:
        start = time.perf_counter()
        try:
            prepared = self._transport.prepared(spec)
            if self._jar is not None:
                prepared = self._with_cookies(prepared, self._jar)
        except Unsupported as exc:
            return RequestError(UNSUPPORTED, f"{spec['method']} {spec['url']}: {exc}")
        except InvalidURL as exc:
            return RequestError(INVALID_URL, str(exc))
        except (*VALUE_ERRORS, *HOOK_MADE_ERRORS) as exc:  # what was made cannot be sent
            return RequestError(INVALID_REQUEST, exception_text(exc))
        deadline = start + self._transport.timeout
        reply, reused = await self._exchange(prepared, keep, deadline)
        if reused and reply.error == RESET and not reply.answered and prepared.idempotent:
            # The server closed an idle keep-alive connection as the request went: sent
            # again once, on a new connection, as aiohttp does.
            reply, _ = await self._exchange(prepared, keep, deadline)
        if reply.headers is not None and SET_COOKIE in reply.headers:
            # Kept even when the body then fails: aiohttp keeps them once headers arrive.
            self._cookies().store(reply.headers.getall(SET_COOKIE), prepared.url)
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
        if self._pool is not None:
            return await self._pooled_exchange(prepared, keep, deadline)
        origin = prepared.origin
        idle = self._connections.get(origin)
        if idle is None:  # kept until close(): safe to hold across the awaits below
            idle = self._connections[origin] = []
        conn = idle.pop() if idle else None
        reused = conn is not None and not conn.closed
        if conn is None or conn.closed:
            connected = await self._transport.connector.open(origin, deadline)
            if isinstance(connected, Reply):
                return connected, False
            conn = connected
        reply = await _ask(conn, prepared, keep, deadline)
        if not reply.error and not conn.closed:
            idle.append(conn)
        return reply, reused

    async def _pooled_exchange(
        self, prepared: Prepared, keep: int, deadline: float
    ) -> tuple[Reply, bool]:
        pool, origin = self._pool, prepared.origin
        assert pool is not None
        got = await pool.acquire(origin, deadline)
        if isinstance(got, Reply):
            return got, False
        conn = got
        try:  # the slot goes back to the pool whatever happens, a stop included
            if conn is None:
                connected = await self._transport.connector.open(origin, deadline)
                if isinstance(connected, Reply):
                    return connected, False
                conn = connected
                reused = False
            else:
                reused = True
            return await _ask(conn, prepared, keep, deadline), reused
        finally:
            pool.release(origin, conn)

    def add_cookies(self, cookies: Mapping[str, str], url: str) -> None:
        self._cookies().add(cookies, URL(url))

    def _cookies(self) -> Jar:
        if self._jar is None:
            self._jar = Jar()
        return self._jar

    @staticmethod
    def _with_cookies(prepared: Prepared, jar: Jar) -> Prepared:
        given = prepared.given_cookie[2] if prepared.given_cookie is not None else None
        cookie = jar.header(prepared.url, given)
        return prepared if cookie is None else with_cookie(prepared, cookie)

    async def close(self) -> None:
        for idle in self._connections.values():
            for conn in idle:
                if conn.transport is not None:
                    conn.transport.close()
        self._connections.clear()
        if self._pool is not None and self._pool is not self._transport.pool:
            self._pool.close()  # maxSockets: the user's own pool


async def _ask(conn: ResponseProtocol, prepared: Prepared, keep: int, deadline: float) -> Reply:
    """The reply to the request on `conn`, or ETIMEDOUT at the deadline (which drops
    the connection)."""
    loop = asyncio.get_running_loop()
    waiter = conn.request(prepared.data, keep, prepared.head)
    # perf_counter and the loop's clock differ: the timer gets the time left.
    timer = loop.call_later(
        max(deadline - time.perf_counter(), 0.0), conn.abort, TIMED_OUT, "no response in time"
    )
    try:
        return await waiter
    except asyncio.CancelledError:
        conn.abort()  # its response would arrive for no one
        raise
    finally:
        timer.cancel()


class FastTransport:
    """Makes each user's FastSession; keeps the requests prepared once, the connector
    and config.http.pool's pool."""

    def __init__(
        self, plan: Plan, options: RunOptions, observe: Callable[[str, float], None]
    ) -> None:
        http = plan.http
        self.timeout = http.timeout
        verify = http.reject_unauthorized and not options.insecure
        timed = observe if http.extended_metrics else None
        self.connector = Connector(verify, options.resolver, timed)
        self._pool_size = http.pool
        self._max_sockets = http.max_sockets
        self.pool: Pool | None = None
        self._prepared: dict[int, tuple[Spec, Prepared]] = {}
        # The ids of Specs seen once. An id may be reused by a later Spec once the
        # first is gone: that Spec is then kept at its first sight, which is harmless.
        self._seen_once: set[int] = set()

    def open(self) -> None:
        if self._pool_size:
            self.pool = Pool(self._pool_size)

    def session(self) -> FastSession:
        # As on the aiohttp path: a shared pool, when there is one, and maxSockets ignored.
        if self.pool is None and self._max_sockets:
            return FastSession(self, Pool(self._max_sockets))
        return FastSession(self, self.pool)

    def prepared(self, spec: Spec) -> Prepared:
        """The Spec's bytes, built once while the same Spec object comes back (it is
        kept in the cache, so its id cannot name another Spec meanwhile)."""
        key = id(spec)
        cached = self._prepared.get(key)
        if cached is not None and cached[0] is spec:
            return cached[1]
        prepared = prepare(spec)
        if prepared.per_send:
            return prepared
        seen = self._seen_once
        if key not in seen:
            if len(seen) >= PREPARED_CACHE_SIZE:
                seen.clear()
            seen.add(key)
            return prepared
        seen.discard(key)
        if len(self._prepared) >= PREPARED_CACHE_SIZE:
            self._prepared.clear()
        self._prepared[key] = (spec, prepared)
        return prepared

    async def close(self) -> None:
        self._prepared.clear()
        self._seen_once.clear()
        if self.pool is not None:
            self.pool.close()
