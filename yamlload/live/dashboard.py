"""The dashboard (`--dashboard`): a web server on the run's own event loop, a Watcher.

Routes: `/` the live page (page.py), `/events` a server-sent event per second of the
run (the board's latest frame), `/metrics` the run so far in Prometheus' text format,
`/state.json` the latest frame's numbers and checks.

It never holds up the run: a frame is built only when a page is open (board.py), each
page has a queue of at most CLIENT_FRAMES frames that drops the oldest, and a page that
stops reading blocks only its own handler, with bounded buffers. Imported only when a
dashboard is asked for (live.watchers_for), so that a run without one never loads
aiohttp.web.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import os
import socket
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from ..checks.parse import Check
from ..errors import UsageError
from ..metrics.live import LiveSeries
from ..plan.ir import Plan
from ..plan.secrets import Redactor
from ..results.run import Progress
from .board import Board
from .exposition import CONTENT_TYPE
from .page import render_page

# Frames a page may have waiting. Each frame is the whole state, so a page that reads
# slowly only ever needs the newest: older ones are dropped.
CLIENT_FRAMES = 2
# The kernel's send buffer for an events stream. With the transport's own buffer (past
# 64 KiB writes wait) and the queue above, it bounds what one stuck page holds here.
SEND_BUFFER_BYTES = 256 * 1024
# At the end of the run: how long open pages get to receive the last frame.
FINAL_FLUSH_SECONDS = 1.0
# Then closing the server waits this long for a response still being written.
SHUTDOWN_SECONDS = 1.0
# EventSource reconnects after this long (ms) when its connection drops.
RETRY_MS = 1000
EVENTS_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # a proxy in front (nginx) must not hold the frames back
}


class Client:
    """One open events stream: its frames waiting to be written."""

    def __init__(self) -> None:
        # None: the run ended, close the stream.
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=CLIENT_FRAMES)
        self.dropped = 0

    def offer(self, event: bytes | None) -> None:
        """Queue a frame without ever waiting: the oldest goes when the queue is full."""
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)


class Dashboard:
    """The live page and /metrics of one run, served from its event loop."""

    def __init__(
        self,
        plan: Plan,
        checks: Sequence[Check],
        redactor: Redactor,
        host: str,
        port: int,
        reports: Sequence[str] = (),
        say: Callable[[str], None] = print,
    ) -> None:
        self.board = Board(plan, checks, redactor, reports)
        self.host, self.port = host, port
        self.say = say
        self.clients: set[Client] = set()
        self.dropped = 0  # frames dropped for pages that read too slowly, closed ones
        self.runner: web.AppRunner | None = None
        self.url = ""

    # ---- Watcher

    async def start(self) -> None:
        """Listen, before any traffic; an address that cannot be had is a UsageError."""
        app = web.Application()
        app.router.add_get("/", self.page)
        app.router.add_get("/events", self.events)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/state.json", self.state)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as exc:
            await runner.cleanup()
            raise UsageError(self.cannot_listen(exc)) from None
        self.runner = runner
        self.url = f"http://{url_host(self.host)}:{runner.addresses[0][1]}/"
        self.say(f"Dashboard: {self.url}")
        if not is_loopback(self.host):
            self.say(
                f"warning: --dashboard {self.host} is not this machine's loopback: the page "
                "and /metrics show the run (its target, endpoints and numbers) to anyone "
                "who can reach this address"
            )

    def cannot_listen(self, exc: OSError) -> str:
        # asyncio's own message repeats the address: the errno's text is enough.
        code = exc.errno if isinstance(exc.errno, int) and exc.errno > 0 else None
        reason = os.strerror(code).lower() if code else (exc.strerror or str(exc))
        advice = (
            "give another port, or 0 for any free one"
            if exc.errno == errno.EADDRINUSE
            else "give an address of this machine, such as 127.0.0.1"
        )
        where = f"{url_host(self.host)}:{self.port}"
        return f"--dashboard {where}: cannot listen there ({reason}); {advice}"

    def second(self, live: LiveSeries, progress: Progress) -> None:
        self.board.update(live, progress)
        if self.clients:  # no page open: no frame is built
            event = self.board.event()
            for client in self.clients:
                client.offer(event)

    async def finish(self, live: LiveSeries, progress: Progress) -> None:
        """The last frame (the run is done) to every open page, then the server closes;
        the pages keep showing it."""
        if self.runner is None:
            return
        self.board.update(live, progress, done=True)
        event = self.board.event()
        for client in self.clients:
            client.offer(event)
            client.offer(None)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FINAL_FLUSH_SECONDS
        while self.clients and loop.time() < deadline:
            await asyncio.sleep(0.02)
        runner, self.runner = self.runner, None
        await runner.cleanup()

    # ---- routes

    async def page(self, request: web.Request) -> web.Response:
        text = render_page(self.board.frame(), self.board.source, self.board.target)
        return web.Response(
            text=text, content_type="text/html", headers={"Cache-Control": "no-store"}
        )

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.board.metrics_text().encode(), headers={"Content-Type": CONTENT_TYPE}
        )

    async def state(self, request: web.Request) -> web.Response:
        frame = {k: v for k, v in self.board.frame().items() if k != "html"}
        frame["pages"] = len(self.clients)
        frame["dropped"] = self.dropped + sum(c.dropped for c in self.clients)
        return web.json_response(frame, headers={"Cache-Control": "no-store"})

    async def events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers=EVENTS_HEADERS)
        _bound_send_buffer(request)
        await response.prepare(request)
        client = Client()
        client.offer(self.board.event())  # the latest state at once
        if self.board.done:
            client.offer(None)
        self.clients.add(client)
        try:
            await response.write(f"retry: {RETRY_MS}\n\n".encode())
            while (event := await client.queue.get()) is not None:
                await response.write(event)  # waits only while this page is behind
        except ConnectionError:
            pass  # the page went away
        finally:
            self.clients.discard(client)
            self.dropped += client.dropped
        return response


def _bound_send_buffer(request: web.Request) -> None:
    transport = request.transport
    sock: Any = transport.get_extra_info("socket") if transport is not None else None
    # Not a TCP socket we may tune: the transport's own limit still holds.
    with contextlib.suppress(AttributeError, OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to any interface


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
