"""A hostile target for the fault-injection tests: one raw asyncio server on 127.0.0.1
whose every path misbehaves in its own way, below HTTP where it must.

    /ok           a well-formed 200 with a small JSON body (the control)
    /reset        headers and part of the body, then a TCP reset (SO_LINGER 0)
    /stall        reads the request and never answers
    /slow         a 200 whose 20-byte body arrives one byte every 20 ms
    /big          a 100 MiB body with a Content-Length, streamed in 64 KiB chunks
    /big-chunked  the same 100 MiB, chunked, with no length announced
    /bad-json     a 200 "application/json" body that is not JSON
    /cut-json     announces 100 bytes of JSON, sends 9, then closes
    /garbage      bytes that are not HTTP at all

Run it by hand to reproduce a case: `python -m tests.faults` prints its URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Awaitable, Callable

from tests.servers import ServerThread

BIG_BYTES = 100 * 1024 * 1024
CHUNK = 64 * 1024
SLOW_BODY = b'{"slow":"0123456789"}'[:20]
SLOW_BYTE_SECONDS = 0.02


def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode()


async def _ok(writer: asyncio.StreamWriter) -> None:
    body = b'{"id":1}'
    writer.write(
        _head("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(body))})
        + body
    )


async def _reset(writer: asyncio.StreamWriter) -> None:
    writer.write(_head("200 OK", {"Content-Length": "1000"}) + b"x" * 100)
    await writer.drain()
    sock = writer.get_extra_info("socket")
    # SO_LINGER with a zero timeout turns close() into a RST instead of a FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _stall(writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


async def _slow(writer: asyncio.StreamWriter) -> None:
    writer.write(
        _head("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(SLOW_BODY))})
    )
    for byte in SLOW_BODY:
        await writer.drain()
        await asyncio.sleep(SLOW_BYTE_SECONDS)
        writer.write(bytes([byte]))


async def _big(writer: asyncio.StreamWriter, chunked: bool = False) -> None:
    headers = {"Content-Type": "application/octet-stream"}
    headers.update(
        {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(BIG_BYTES)}
    )
    writer.write(_head("200 OK", headers))
    block = b"y" * CHUNK
    for _ in range(BIG_BYTES // CHUNK):
        writer.write(b"%x\r\n%s\r\n" % (CHUNK, block) if chunked else block)
        await writer.drain()
    if chunked:
        writer.write(b"0\r\n\r\n")


async def _bad_json(writer: asyncio.StreamWriter) -> None:
    body = b'{"id": 1, "name": oops}'
    writer.write(
        _head("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(body))})
        + body
    )


async def _cut_json(writer: asyncio.StreamWriter) -> None:
    writer.write(
        _head("200 OK", {"Content-Type": "application/json", "Content-Length": "100"})
        + b'{"id": 1,'
    )
    await writer.drain()
    writer.close()


async def _garbage(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HELLO THERE, THIS IS NOT HTTP\r\n\r\n")


ROUTES: dict[str, Callable[[asyncio.StreamWriter], Awaitable[None]]] = {
    "/ok": _ok,
    "/reset": _reset,
    "/stall": _stall,
    "/slow": _slow,
    "/big": _big,
    "/big-chunked": lambda writer: _big(writer, chunked=True),
    "/bad-json": _bad_json,
    "/cut-json": _cut_json,
    "/garbage": _garbage,
}


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:  # keep-alive: one request after another on the connection
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode().split("?")[0]
            await ROUTES.get(path, _ok)(writer)
            await writer.drain()
            if path != "/ok" and path != "/slow" and path != "/bad-json":
                break
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, IndexError):
        pass
    except asyncio.CancelledError:  # the server is stopping: end quietly
        pass
    finally:
        if not writer.is_closing():
            writer.close()


class FaultServer(ServerThread):
    """The hostile target on its own thread and loop; `url` is its base URL."""

    def __init__(self) -> None:
        super().__init__()
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(_serve_connection, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        # /stall and /big connections are still running: cancel them, and give each a
        # step to end quietly, so the loop closes with nothing pending.
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()
        await asyncio.sleep(0)


if __name__ == "__main__":
    with FaultServer() as faults:
        print(f"hostile target at {faults.url} (Ctrl-C to stop); paths: {', '.join(ROUTES)}")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
