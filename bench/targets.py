"""Targets for the benchmark: a fixed 100-byte JSON answer, and one that waits 50 ms.

python bench/targets.py fast PORT     # aiohttp stand-in when nginx is absent
python bench/targets.py slow PORT     # answers after 50 ms
python bench/targets.py stamp PORT FILE   # writes the epoch time of its first request to FILE
"""

from __future__ import annotations

import asyncio
import sys
import time

import uvloop
from aiohttp import web

BODY = (
    b'{"id":1,"name":"benchmark item","price":9.99,"stock":1000,"tags":["a","b"],'
    b'"ok":true,"pad":"xxxxxx"}'
)


async def fast(request: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="application/json")


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(0.05)
    return web.Response(body=BODY, content_type="application/json")


def stamper(path: str):  # type: ignore[no-untyped-def]
    async def stamp(request: web.Request) -> web.Response:
        if not stamp.done:  # type: ignore[attr-defined]
            stamp.done = True  # type: ignore[attr-defined]
            with open(path, "w") as out:
                out.write(repr(time.time()))
        return web.Response(body=BODY, content_type="application/json")

    stamp.done = False  # type: ignore[attr-defined]
    return stamp


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    app = web.Application()
    handler = {"fast": fast, "slow": slow}.get(kind) or stamper(sys.argv[3])
    app.router.add_get("/", handler)
    uvloop.install()
    web.run_app(
        app,
        host="127.0.0.1",
        port=port,
        access_log=None,
        print=lambda *_: print("ready", flush=True),
    )
