"""Real servers on 127.0.0.1 for the engine tests, each on its own thread and loop so
that the engine under test keeps its event loop to itself."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from aiohttp import web

HITS = web.AppKey("hits", dict)
# How long a test server may take to start, and to stop, before the test gives up on it.
SERVER_START_SECONDS = 10.0
SERVER_STOP_SECONDS = 10.0


def make_test_app() -> web.Application:
    app = web.Application()
    app[HITS] = {}
    tokens: dict[str, str] = {}

    def hit(request: web.Request) -> None:
        key = f"{request.method} {request.path}"
        app[HITS][key] = app[HITS].get(key, 0) + 1

    async def ok(request: web.Request) -> web.Response:
        hit(request)
        return web.json_response({"ok": True, "path": request.path})

    async def sleep(request: web.Request) -> web.Response:
        hit(request)
        await asyncio.sleep(int(request.match_info["ms"]) / 1000)
        return web.json_response({"slept": int(request.match_info["ms"])})

    async def login(request: web.Request) -> web.Response:
        hit(request)
        data = await request.json()
        token = f"tok-{data['username']}"
        tokens[token] = data["username"]
        return web.json_response({"token": token, "user": {"name": data["username"]}})

    async def me(request: web.Request) -> web.Response:
        hit(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in tokens:
            return web.json_response({"error": "who are you"}, status=401)
        return web.json_response({"name": tokens[token]})

    async def echo(request: web.Request) -> web.Response:
        hit(request)
        body = await request.read()
        return web.json_response(
            {
                "method": request.method,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "cookies": dict(request.cookies),
                "body": body.decode("utf-8", "replace"),
                "content_type": request.content_type,
            }
        )

    async def set_cookie(request: web.Request) -> web.Response:
        hit(request)
        response = web.json_response({"set": True})
        response.set_cookie("session", request.query.get("value", "abc"))
        return response

    async def redirect(request: web.Request) -> web.Response:
        hit(request)
        raise web.HTTPFound("/ok")

    async def status(request: web.Request) -> web.Response:
        hit(request)
        return web.json_response(
            {"code": int(request.match_info["code"])}, status=int(request.match_info["code"])
        )

    async def redirect_loop(request: web.Request) -> web.Response:
        hit(request)
        raise web.HTTPFound("/redirect-loop")

    async def redirect_to(request: web.Request) -> web.Response:
        hit(request)
        raise web.HTTPFound(request.query["url"])

    async def bad_location(request: web.Request) -> web.Response:
        hit(request)
        return web.Response(status=302, headers={"Location": "http://[::1"})

    async def hostile_text(request: web.Request) -> web.Response:
        hit(request)
        # a terminal escape and line breaks, as a hostile server may send them
        return web.Response(status=500, text="\x1b[2J\x1b[31mboom\r\nfake: line\x07")

    async def protected(request: web.Request) -> web.Response:
        hit(request)
        expected = "Basic " + base64.b64encode(b"leo:secret").decode()
        if request.headers.get("authorization") != expected:
            return web.Response(status=401)
        return web.json_response({"ok": True})

    async def hits(request: web.Request) -> web.Response:
        return web.json_response(app[HITS])

    async def types(request: web.Request) -> web.Response:
        """The JSON type of each top-level field the client sent: {"flag": "str", "n": "int"}."""
        hit(request)
        data = await request.json()
        return web.json_response({k: type(v).__name__ for k, v in data.items()})

    app.add_routes(
        [
            web.get("/", ok),
            web.get("/ok", ok),
            web.get("/test", ok),
            web.get("/pets", ok),
            web.get("/sleep/{ms}", sleep),
            web.post("/login", login),
            web.get("/me", me),
            web.route("*", "/echo", echo),
            web.get("/set-cookie", set_cookie),
            web.get("/redirect", redirect),
            web.route("*", "/status/{code}", status),
            web.get("/protected", protected),
            web.get("/hostile-text", hostile_text),
            web.get("/redirect-loop", redirect_loop),
            web.get("/bad-location", bad_location),
            web.get("/redirect-to", redirect_to),
            web.get("/hits", hits),
            web.get("/seen/{name}", ok),
            web.post("/types", types),
        ]
    )
    return app


_Server = TypeVar("_Server", bound="ServerThread")


class ServerThread:
    """A server on its own thread and event loop, so that the engine under test keeps its
    loop to itself; `url` is its base URL once entered. It serves an aiohttp `app`; a
    server below HTTP (see tests/faults.py) overrides `start` and `stop` instead."""

    def __init__(
        self, app: web.Application | None = None, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.app = app
        self.ssl_context = ssl_context
        self.url = ""
        self.loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def start(self) -> str:
        """Start listening on 127.0.0.1 (a free port); return the base URL."""
        assert self.app is not None, "ServerThread needs an app, or a subclass's start()"
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        port = self._runner.addresses[0][1]
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.url = self.loop.run_until_complete(self.start())
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.stop())
        self.loop.close()

    def __enter__(self: _Server) -> _Server:
        self._thread.start()
        if not self._ready.wait(SERVER_START_SECONDS):
            raise RuntimeError(f"{type(self).__name__} did not start")
        return self

    def __exit__(self, *_: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(SERVER_STOP_SECONDS)

    def hits(self) -> dict[str, int]:
        return dict(self.app[HITS]) if self.app is not None and HITS in self.app else {}


@contextmanager
def raw_tcp_server(handler: Callable[[socket.socket], None]) -> Iterator[str]:
    """A plain TCP server on 127.0.0.1 whose `handler` misbehaves on each connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def reset_after_request(conn: socket.socket) -> None:
    """Read the request, then close without answering."""
    try:
        conn.recv(65536)
    finally:
        conn.close()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def report_json(text: str) -> dict[str, Any]:
    return json.loads(text)
