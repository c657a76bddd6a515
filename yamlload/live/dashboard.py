"""The dashboard (`--dashboard`): a web server on the run's own event loop, a Watcher.

Routes: `/` the live page (page.py), `/events` a server-sent event per second of the
run (the board's latest frame), `/metrics` the run so far in Prometheus' text format,
`/state.json` the latest frame's numbers and checks.

It never holds up the run: a frame is built only when a page is open (board.py), each
page has a queue of at most CLIENT_FRAMES frames that drops the oldest, and a page that
stops reading blocks only its own handler, with bounded buffers, until it is cut off
(STUCK_SECONDS) or makes way for a page that reads. Whoever asks, each answer is made
at most once a second; at most MAX_CONNECTIONS connections are open (one with no whole
request for IDLE_SECONDS is closed), about REQUESTS_PER_SECOND requests are
answered a second, and MAX_PAGES pages and MAX_REQUESTS other requests at once (more are
told 503 at once); only requests naming this dashboard in their Host are answered (DNS
rebinding), and a malformed request prints nothing. Imported only when a dashboard is
asked for (live.watchers_for), so that a run without one never loads aiohttp.web.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

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
# Pages (/events streams) open at once; past it a page is told 503 at once. Each holds
# a few frames at most (below), so this bounds what pages can make the run hold.
MAX_PAGES = 32
# A page is behind while its connection's unsent bytes here are above this (the
# transport's own high-water mark: past it, writes wait).
BEHIND_BYTES = 64 * 1024
# A page that has been behind at every second for this many seconds in a row is cut
# off (its buffers freed): it is not reading. A browser's EventSource reconnects.
STUCK_SECONDS = 10
# The kernel's send buffer for a connection. With the transport's own buffer (past
# 64 KiB writes wait) and the queue above, it bounds what one stuck page holds here;
# small, so that a page that stops reading is behind after a few frames, not twenty.
SEND_BUFFER_BYTES = 64 * 1024
# At the end of the run: how long open pages get to receive the last frame.
FINAL_FLUSH_SECONDS = 1.0
# Then closing the server waits this long for a response still being written.
SHUTDOWN_SECONDS = 1.0
# EventSource reconnects after this long (ms) when its connection drops.
RETRY_MS = 1000
# Requests other than /events served at once. Past it a request is told 503 at once
# rather than queued, so that pollers (scrapers, scripts) never pile work onto the
# run's loop; each answer is made at most once a second (board.py), whoever asks.
MAX_REQUESTS = 8
# A response still being written after this long is cut off: a client that never reads
# holds one of MAX_REQUESTS for no longer.
REQUEST_SECONDS = 10.0
# What a 503 tells the client to wait (s): a new frame is made once a second.
RETRY_AFTER_SECONDS = 1
# Connections open at once (pages, scrapers, and whatever else connects). Past it a new
# one is closed as it is accepted: held connections never take the file descriptors
# the load needs (1,050 slow clients made the run's own requests fail with EMFILE).
MAX_CONNECTIONS = 64
# A connection that has sent no whole request this long after it opened, or after its
# last answer, is closed: a client sending its headers a line at a time (slowloris)
# holds a slot no longer, on its first request or any later one.
IDLE_SECONDS = 10.0
# Requests answered a second, all clients together (a page asks twice, a scraper once
# every few seconds). Past it a request waits its turn, holding its connection, so a
# flood of requests costs the run's loop about this many answers a second; one that
# would wait longer than MAX_WAIT_SECONDS is told 503 at once.
REQUESTS_PER_SECOND = 20
MAX_WAIT_SECONDS = 2.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
EVENTS_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # a proxy in front (nginx) must not hold the frames back
}


class ClientFaults(logging.Filter):
    """Keeps a client's fault (a malformed request, a connection that went away) out of
    the server's log: aiohttp logs each with a traceback, which would land among the
    run's own lines on standard error for anyone who sends garbage to the port. A
    fault of the dashboard itself is still told."""

    def filter(self, record: logging.LogRecord) -> bool:
        fault = record.exc_info[1] if record.exc_info else None
        return not isinstance(fault, (HttpProcessingError, ConnectionError))


# The server's logger (aiohttp's own, aiohttp.server, is left as it is for other apps).
SERVER_LOG = logging.getLogger(__name__)
SERVER_LOG.addFilter(ClientFaults())


class Client:
    """One open events stream: its frames waiting to be written."""

    def __init__(self, transport: asyncio.BaseTransport | None = None) -> None:
        # None: the run ended, close the stream.
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=CLIENT_FRAMES)
        self.dropped = 0
        self.transport = transport
        # When a frame was last handed to the connection: a page whose frames wait and
        # none has gone for STUCK_SECONDS is not reading.
        self.wrote_at = asyncio.get_running_loop().time()

    def offer(self, event: bytes | None) -> None:
        """Queue a frame without ever waiting: the oldest goes when the queue is full."""
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    def waiting_since(self) -> float | None:
        """Since when this page has had frames it does not take (its connection full),
        or None while it keeps up."""
        full = _unsent_bytes(self.transport) > BEHIND_BYTES
        return self.wrote_at if full or not self.queue.empty() else None

    def stuck(self, now: float) -> bool:
        """Whether the page has taken no frame for STUCK_SECONDS while some wait."""
        since = self.waiting_since()
        return since is not None and now - since >= STUCK_SECONDS

    def cut_off(self) -> None:
        """Close the connection at once, dropping what it holds; its handler ends."""
        if isinstance(self.transport, asyncio.WriteTransport):
            self.transport.abort()


# Hosts that listen on every interface: not an address a browser can open.
EVERY_INTERFACE = ("0.0.0.0", "::", "")


class Dashboard:
    """The live page and /metrics of one run, served from its event loop."""

    name = "the dashboard"

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
        self.cut = 0  # pages cut off for not reading
        self.runner: web.AppRunner | None = None
        self.listening: asyncio.AbstractServer | None = None
        self.url = ""
        self.serving = 0  # requests (other than /events) being answered now
        self._next_turn = 0.0  # the loop time the next request may be answered from
        # Each connection (aiohttp's handler): when it last opened or was answered; and
        # those being answered now (a page's stream among them), never idle.
        self._since: dict[Any, float] = {}
        self._answering: set[Any] = set()
        # Each route's body as of a board version: made once a second, however many ask.
        self._bodies: dict[str, tuple[int, bytes]] = {}

    # ---- Watcher

    async def start(self) -> None:
        """Listen, before any traffic; an address that cannot be had is a UsageError."""
        app = web.Application(middlewares=[self.limited])
        app.router.add_get("/", self.page)
        app.router.add_get("/events", self.events)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/state.json", self.state)
        runner = web.AppRunner(
            app, access_log=None, logger=SERVER_LOG, shutdown_timeout=SHUTDOWN_SECONDS
        )
        await runner.setup()
        try:
            server = await asyncio.get_running_loop().create_server(
                lambda: self.connection(runner), self.host, self.port, reuse_address=True
            )
        except OSError as exc:
            await runner.cleanup()
            raise UsageError(self.cannot_listen(exc)) from None
        self.runner, self.listening = runner, server
        port = server.sockets[0].getsockname()[1]
        self.url = f"http://{url_host(self.host)}:{port}/"
        if self.host in EVERY_INTERFACE:  # no address to open: say which ones work
            self.url = f"http://127.0.0.1:{port}/"
            elsewhere = f"http://{socket.gethostname()}:{port}/"
            self.say(f"Dashboard: {self.url} (every interface: {elsewhere} from elsewhere)")
        else:
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

    def connection(self, runner: web.AppRunner) -> asyncio.BaseProtocol:
        """A new connection's protocol: aiohttp's, or, past MAX_CONNECTIONS, one that
        closes it at once."""
        server = runner.server
        if server is None or len(server.connections) >= MAX_CONNECTIONS:
            return _Refused()
        handler = server()
        self._since[handler] = asyncio.get_running_loop().time()
        return handler

    def close_idle_connections(self) -> None:
        """Close each connection with no whole request IDLE_SECONDS after it opened or
        was last answered; forget those that closed."""
        now = asyncio.get_running_loop().time()
        server = self.runner.server if self.runner is not None else None
        open_now = set(server.connections) if server is not None else set()
        for handler, since in list(self._since.items()):
            if handler not in open_now:
                del self._since[handler]
            elif handler not in self._answering and now - since > IDLE_SECONDS:
                _drop(handler)

    def second(self, live: LiveSeries, progress: Progress) -> None:
        self.board.update(live, progress)
        self.close_idle_connections()
        now = asyncio.get_running_loop().time()
        for client in [c for c in self.clients if c.stuck(now)]:
            client.cut_off()
            self.cut += 1
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
        if self.clients:  # no page open: no frame is built
            event = self.board.event()
            for client in self.clients:
                client.offer(event)
                client.offer(None)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FINAL_FLUSH_SECONDS
        while self.clients and loop.time() < deadline:
            await asyncio.sleep(0.02)
        runner, self.runner = self.runner, None
        if self.listening is not None:
            self.listening.close()
        await runner.cleanup()

    # ---- routes

    @web.middleware
    async def limited(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Only requests that name this dashboard; at most MAX_REQUESTS answered at once
        (/events has its own limit), each sent here, where it is counted, rather than
        after the handler returns."""
        connection = request.protocol
        self._answering.add(connection)
        try:
            return await self.answer(request, handler)
        finally:
            self._answering.discard(connection)
            self._since[connection] = asyncio.get_running_loop().time()

    async def answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        # Every request waits its turn, refused ones too, so that a flood costs about
        # REQUESTS_PER_SECOND answers; past the longest wait, the connection is closed
        # unanswered, the cheapest refusal there is.
        if not await self.turn():
            _drop(request.protocol)
            return busy()
        if not self.named(request.headers.get(hdrs.HOST)):
            return misdirected()
        _bound_send_buffer(request)
        if request.path == "/events":
            return await handler(request)
        if self.serving >= MAX_REQUESTS:
            return busy()
        self.serving += 1
        try:
            response = await handler(request)
            await _sent(request, response)
        finally:
            self.serving -= 1
        return response

    async def turn(self) -> bool:
        """Wait for this request's turn (REQUESTS_PER_SECOND in all); False when it
        would wait longer than MAX_WAIT_SECONDS."""
        now = asyncio.get_running_loop().time()
        turn = max(now, self._next_turn)
        if turn - now > MAX_WAIT_SECONDS:
            return False
        self._next_turn = turn + 1.0 / REQUESTS_PER_SECOND
        if turn > now:
            await asyncio.sleep(turn - now)
        return True

    def named(self, host_header: str | None) -> bool:
        """Whether a request's Host names this dashboard. A browser sends the name of the
        page's own address: a web page whose name an attacker pointed at this address
        (DNS rebinding) sends that name, and is refused, so it cannot read the run. An
        IP address or localhost cannot be pointed anywhere else, so they are accepted
        on any port (a tunnel may use another); so are the name the dashboard was given
        and this machine's name. A request with no Host is no browser's. A dashboard the
        user put off loopback (0.0.0.0, a LAN address: warned of) is anyone's to read
        already, by whatever name reaches it (a DNS name, a Kubernetes Service)."""
        if host_header is None or not is_loopback(self.host):
            return True
        name = host_name(host_header)
        if name is None:
            return False
        if name in ("localhost", self.host.lower(), socket.gethostname().lower()):
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True

    def body(self, route: str, make: Callable[[], bytes]) -> bytes:
        """`make`'s bytes, made at most once per board update (once a second)."""
        found = self._bodies.get(route)
        if found is None or found[0] != self.board.version:
            found = self._bodies[route] = (self.board.version, make())
        return found[1]

    async def page(self, request: web.Request) -> web.Response:
        body = self.body("page", self.page_html)
        return web.Response(
            body=body,
            headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"},
        )

    def page_html(self) -> bytes:
        return render_page(self.board.frame(), self.board.source, self.board.target).encode()

    async def metrics(self, request: web.Request) -> web.Response:
        body = self.body("metrics", lambda: self.board.metrics_text().encode())
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def state(self, request: web.Request) -> web.Response:
        body = self.body("state", self.state_json)
        return web.Response(
            body=body,
            headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
        )

    def state_json(self) -> bytes:
        """The board's state, and the pages open and frames dropped as it was made."""
        state = dict(self.board.state())
        state["pages"] = len(self.clients)
        state["dropped"] = self.dropped + sum(c.dropped for c in self.clients)
        return json.dumps(state).encode()

    def make_room(self) -> bool:
        """At MAX_PAGES: cut off the page that has taken no frame for longest, so that a
        page that stopped reading never locks out one that reads; False if all read."""
        stale = _most_behind(self.clients)
        if stale is None:
            return False
        self.clients.discard(stale)
        stale.cut_off()
        self.cut += 1
        return True

    async def events(self, request: web.Request) -> web.StreamResponse:
        if len(self.clients) >= MAX_PAGES and not self.make_room():
            return busy()
        response = web.StreamResponse(headers=EVENTS_HEADERS)
        await response.prepare(request)
        client = Client(request.transport)
        client.offer(self.board.event())  # the latest state at once
        if self.board.done:
            client.offer(None)
        self.clients.add(client)
        try:
            await response.write(f"retry: {RETRY_MS}\n\n".encode())
            while (event := await client.queue.get()) is not None:
                await response.write(event)  # waits only while this page is behind
                client.wrote_at = asyncio.get_running_loop().time()
        except ConnectionError:
            pass  # the page went away
        finally:
            self.clients.discard(client)
            self.dropped += client.dropped
        return response


def _drop(connection: Any) -> None:
    """Close a connection (aiohttp's handler) at once, whatever it was doing."""
    connection.force_close()
    if connection.transport is not None:
        connection.transport.abort()


class _Refused(asyncio.Protocol):
    """A connection past MAX_CONNECTIONS: closed as it is accepted."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.WriteTransport):
            transport.abort()
        else:
            transport.close()


def _most_behind(clients: set[Client]) -> Client | None:
    waiting = [(since, id(c), c) for c in clients if (since := c.waiting_since()) is not None]
    return min(waiting)[2] if waiting else None


def misdirected() -> web.Response:
    return web.Response(
        status=421,
        text="this is a yamlload dashboard: ask for it by its address (such as "
        "127.0.0.1 or localhost) or the name it was given with --dashboard\n",
    )


def host_name(header: str) -> str | None:
    """The name or address of a Host header, lower-cased, without its port or a final
    dot: `[::1]:5665` → `::1`, `LocalHost.:80` → `localhost`; None when malformed."""
    header = header.strip().lower()
    if header.startswith("["):
        name, bracket, rest = header[1:].partition("]")
        if not bracket or (rest and not (rest[:1] == ":" and rest[1:].isdigit())):
            return None
        return name or None
    name, colon, port = header.partition(":")
    if colon and not port.isdigit():
        return None
    return name.removesuffix(".") or None


def busy() -> web.Response:
    return web.Response(
        status=503,
        text="busy: too many requests at once, try again in a second\n",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
    )


async def _sent(request: web.Request, response: web.StreamResponse) -> None:
    """Write `response` now; a client that does not take it within REQUEST_SECONDS (or
    went away) is cut off, its buffers freed."""

    async def write() -> None:
        await response.prepare(request)
        await response.write_eof()

    try:
        await asyncio.wait_for(write(), REQUEST_SECONDS)
    except (asyncio.TimeoutError, ConnectionError):
        if request.transport is not None:
            request.transport.abort()


def _unsent_bytes(transport: asyncio.BaseTransport | None) -> int:
    if not isinstance(transport, asyncio.WriteTransport) or transport.is_closing():
        return 0
    return transport.get_write_buffer_size()


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
