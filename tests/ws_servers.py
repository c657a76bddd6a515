"""A WebSocket server on 127.0.0.1 for the ws tests (issue 19), on its own thread and
loop (tests/servers.py's ServerThread): an echo, a route that records each handshake,
one that refuses with 403, one that closes after the first message with a code, one
that never answers, and one that pushes messages on its own."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import struct
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


# ---- a raw WebSocket server below aiohttp (review 2 of issue 19): what a hostile server
# does that aiohttp's own server never would.

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# The handshakes the raw server got, by path (a redirect's Location must never be asked).
RAW_SEEN: list[str] = []


def frame(opcode: int, payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + payload


class RawWsServer(ServerThread):
    """Routes: /flood (small text messages without end), /mute (never reads, never
    answers a close), /nohs (never answers the handshake), /big/N/KB (N messages of KB kibibytes, unasked, then "done"),
    /redirect/PORT (a 302 to that port's /echo), /badproto (answers subprotocol
    "evil"), /badaccept (a 101 with a wrong Sec-WebSocket-Accept), /nocode (a close
    frame without a status code)."""

    def __init__(self) -> None:
        super().__init__()
        self._server: asyncio.AbstractServer | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        try:
            await self.serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        path = request[0].split(" ")[1]
        RAW_SEEN.append(path)
        headers = {}
        for line in request[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        route = path.split("?")[0].strip("/").split("/")
        if route[0] == "redirect":
            location = f"http://127.0.0.1:{route[1]}/echo"
            writer.write(
                f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()
            )
            await writer.drain()
            return
        if route[0] == "nohs":
            await asyncio.sleep(3600)  # never answers the handshake
            return
        key = headers.get("sec-websocket-key", "").encode()
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        if route[0] == "badaccept":
            accept = base64.b64encode(b"x" * 20).decode()
        extra = "Sec-WebSocket-Protocol: evil\r\n" if route[0] == "badproto" else ""
        writer.write(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\n{extra}\r\n".encode()
        )
        await writer.drain()
        if route[0] == "flood":
            while True:
                writer.write(frame(0x1, b'{"type": "noise"}') * 64)
                await writer.drain()
        elif route[0] == "big":
            count, kib = int(route[1]), int(route[2])
            for _ in range(count):
                writer.write(frame(0x2, b"b" * (kib * 1024)))
                await writer.drain()
            writer.write(frame(0x1, b"done"))
            await writer.drain()
            await reader.read()  # until the client goes
        elif route[0] == "nocode":
            writer.write(frame(0x8, b""))
            await writer.drain()
            await reader.read()
        elif route[0] == "mute":
            await asyncio.sleep(3600)  # never reads, never answers a close
        else:
            await reader.read()
