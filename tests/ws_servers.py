"""A WebSocket server on 127.0.0.1 for the ws tests (issue 19), on its own thread and
loop (tests/servers.py's ServerThread): an echo, a route that records each handshake,
one that refuses with 403, one that closes after the first message with a code, one
that never answers, and one that pushes messages on its own."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.servers import ServerThread

SEEN = web.AppKey("seen", list)
COUNTS = web.AppKey("counts", dict)
# The close code the /close route ends a conversation with.
CLOSE_CODE = 4001
# How many messages /push sends on its own, one after the other.
PUSHED = 3


@dataclass
class Handshake:
    """What the server saw of one connection: its handshake, and the messages it got."""

    path: str
    headers: dict[str, str]
    protocol: str | None
    received: list[str] = field(default_factory=list)


def make_ws_app() -> web.Application:
    app = web.Application()
    app[SEEN] = []
    app[COUNTS] = {"received": 0, "sent": 0}

    async def opened(request: web.Request) -> tuple[web.WebSocketResponse, Handshake]:
        ws = web.WebSocketResponse(protocols=("json", "chat"))
        await ws.prepare(request)
        seen = Handshake(request.path, dict(request.headers), ws.ws_protocol)
        app[SEEN].append(seen)
        return ws, seen

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws, seen = await opened(request)
        async for message in ws:
            if message.type == web.WSMsgType.TEXT:
                seen.received.append(message.data)
                app[COUNTS]["received"] += 1
                await ws.send_str(message.data)
                app[COUNTS]["sent"] += 1
        return ws

    async def close_after_first(request: web.Request) -> web.WebSocketResponse:
        ws, seen = await opened(request)
        async for message in ws:
            seen.received.append(message.data)
            await ws.close(code=CLOSE_CODE, message=b"bye")
        return ws

    async def silent(request: web.Request) -> web.WebSocketResponse:
        ws, seen = await opened(request)
        async for message in ws:
            seen.received.append(message.data)  # read, never answered
        return ws

    async def push(request: web.Request) -> web.WebSocketResponse:
        """Sends PUSHED messages unasked ({"n": 0}, {"n": 1}, ...), then echoes."""
        ws, seen = await opened(request)
        for n in range(PUSHED):
            await ws.send_str(json.dumps({"type": "tick", "n": n}))
        async for message in ws:
            seen.received.append(message.data)
            await ws.send_str(message.data)
        return ws

    async def forbidden(request: web.Request) -> web.Response:
        return web.Response(status=403, text="no")

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.add_routes(
        [
            web.get("/echo", echo),
            web.get("/close", close_after_first),
            web.get("/silent", silent),
            web.get("/push", push),
            web.get("/forbidden", forbidden),
            web.get("/ok", ok),
        ]
    )
    return app


def seen(server: ServerThread) -> list[Handshake]:
    assert server.app is not None
    return list(server.app[SEEN])


def counts(server: ServerThread) -> dict[str, Any]:
    assert server.app is not None
    return dict(server.app[COUNTS])
