"""Targets for the benchmark: a fixed 100-byte JSON answer, and one that waits 50 ms.

    python bench/targets.py fast PORT     # aiohttp stand-in when nginx is absent
    python bench/targets.py slow PORT     # answers after 50 ms
"""

from __future__ import annotations

import asyncio
import sys

import uvloop
from aiohttp import web

BODY = b'{"id":1,"name":"benchmark item","price":9.99,"stock":1000,"tags":["a","b"],"ok":true,"pad":"xxxxxx"}'


async def fast(request: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="application/json")


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(0.05)
    return web.Response(body=BODY, content_type="application/json")


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    app = web.Application()
    app.router.add_get("/", fast if kind == "fast" else slow)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=lambda *_: print("ready", flush=True))
