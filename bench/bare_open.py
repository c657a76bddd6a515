"""The open model's floor: per arrival, a new connection on a bare asyncio Protocol under
uvloop, one GET written as prepared bytes, the first bytes of its answer awaited, then
the connection closed. No parsing, no metrics: what the kernel and the loop cost.

    python bench/bare_open.py URL --seconds 10 --rate 1000

Prints one JSON line: requests, seconds, median latency (ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from urllib.parse import urlsplit

import uvloop


class OneAnswer(asyncio.Protocol):
    def __init__(self) -> None:
        self.answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if not self.answered.done():
            self.answered.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answered.done():
            self.answered.set_result(None)


async def main(url: str, seconds: float, rate: float) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    loop = asyncio.get_running_loop()
    latencies: list[float] = []

    async def user() -> None:
        start = time.perf_counter()
        transport, protocol = await loop.create_connection(OneAnswer, host, port)
        transport.write(request)
        await protocol.answered
        transport.close()
        latencies.append((time.perf_counter() - start) * 1000)

    users = []
    began = loop.time()
    for index in range(int(seconds * rate)):
        wait = began + index / rate - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        users.append(asyncio.ensure_future(user()))
    await asyncio.gather(*users)
    elapsed = loop.time() - began
    median = statistics.median(latencies) if latencies else None
    print(json.dumps({"requests": len(latencies), "seconds": elapsed, "median_ms": median}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1000.0)
    args = parser.parse_args()
    uvloop.install()
    asyncio.run(main(args.url, args.seconds, args.rate))
