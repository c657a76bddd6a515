"""The floor of our stack: a bare aiohttp + uvloop client with no features.

    python bench/bare.py URL --users 50 --seconds 10 [--rate 1000]

Prints one JSON line: requests, seconds, median latency (ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import aiohttp
import uvloop


async def main(url: str, users: int, seconds: float, rate: float | None) -> None:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    gap = users / rate if rate else 0.0
    connector = aiohttp.TCPConnector(limit=users)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def user() -> None:
            next_at = time.perf_counter()
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                async with session.get(url) as response:
                    await response.read()
                latencies.append((time.perf_counter() - start) * 1000)
                if gap:
                    next_at += gap
                    await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

        began = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(users)))
        elapsed = time.perf_counter() - began
    print(
        json.dumps(
            {
                "requests": len(latencies),
                "seconds": elapsed,
                "median_ms": statistics.median(latencies) if latencies else 0,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float)
    args = parser.parse_args()
    uvloop.run(main(args.url, args.users, args.seconds, args.rate))
