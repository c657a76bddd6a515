"""A limited pool of the fast transport's connections (fast_transport.py): shared by all
users (config.http.pool) or one per user (config.http.maxSockets), as aiohttp's
TCPConnector(limit=N) is shared or not on the aiohttp path.

Its limit counts the connections in use (opening, or carrying a request), as aiohttp's
does; idle keep-alive connections wait aside, per origin, for the next request to the
same origin. A request that finds the limit reached waits its turn, first come first
served, until its deadline: then it is ETIMEDOUT, as aiohttp's total timeout makes it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from .fast_prepare import Origin
from .fast_response import TIMED_OUT, Reply, ResponseProtocol

EXPIRED = "no connection of the pool came free in time"


class Pool:
    """At most `limit` connections in use; idle ones kept per origin."""

    __slots__ = ("_busy", "_idle", "_limit", "_waiters")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._busy = 0
        self._idle: dict[Origin, list[ResponseProtocol]] = {}
        self._waiters: deque[tuple[Origin, asyncio.Future[ResponseProtocol | Reply | None]]] = (
            deque()
        )

    async def acquire(self, origin: Origin, deadline: float) -> ResponseProtocol | Reply | None:
        """A slot: with an idle connection to `origin`, or None (the caller opens one and
        gives it back to `release` either way); a Reply when the deadline came first."""
        if self._busy < self._limit and not self._waiters:
            self._busy += 1
            return self._take(origin)
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[ResponseProtocol | Reply | None] = loop.create_future()
        self._waiters.append((origin, waiter))
        timer = loop.call_later(max(deadline - time.perf_counter(), 0.0), _expire, waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            # Handed a slot just as the user was stopped: the slot is not lost.
            if waiter.done() and not waiter.cancelled():
                got = waiter.result()
                if not isinstance(got, Reply):
                    self.release(origin, got)
            raise
        finally:
            timer.cancel()

    def release(self, origin: Origin, conn: ResponseProtocol | None) -> None:
        """Give back a slot, with its connection unless that is closed; the first waiter
        gets it (the connection too when it wants the same origin)."""
        if conn is not None and conn.closed:
            conn = None
        while self._waiters:
            wanted, waiter = self._waiters.popleft()
            if waiter.done():  # its deadline passed, or its user was stopped
                continue
            if conn is not None and wanted != origin:
                self._keep(origin, conn)
                conn = None
            waiter.set_result(conn if conn is not None else self._take(wanted))
            return
        self._busy -= 1
        if conn is not None:
            self._keep(origin, conn)

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                if conn.transport is not None:
                    conn.transport.close()
        self._idle.clear()

    def _take(self, origin: Origin) -> ResponseProtocol | None:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if not conn.closed:  # else the server closed it while it waited
                return conn
        return None

    def _keep(self, origin: Origin, conn: ResponseProtocol) -> None:
        idle = self._idle.get(origin)
        if idle is None:
            self._idle[origin] = [conn]
        else:
            idle.append(conn)


def _expire(waiter: asyncio.Future[ResponseProtocol | Reply | None]) -> None:
    if not waiter.done():
        waiter.set_result(Reply(error=TIMED_OUT, detail=EXPIRED))
