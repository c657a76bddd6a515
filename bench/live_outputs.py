"""What the push outputs cost (issue 16: under 3% of max throughput).

    python bench/live_outputs.py [--seconds 10] [--repeats 3]

yamlload flat out (bench/run.py's `max` mode, fast transport) against nginx (or its
aiohttp stand-in), with and without all three push outputs at once, interleaved: a
StatsD listener and a Pushgateway stand-in on 127.0.0.1 (in this process, so that the
outputs have someone to talk to), and a JSON-lines file. Prints each side's median run
and the ratio of their throughputs and of their CPU per 10k requests.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run import Measured, Target, interleaved, run_plan, yamlload_plan
from tests.servers import ServerThread

TRANSPORT = "fast"


def statsd_listener() -> int:
    """A UDP port on 127.0.0.1 that reads (and drops) every datagram, on a thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def drain() -> None:
        while True:
            sock.recv(65536)

    threading.Thread(target=drain, daemon=True).start()
    return int(sock.getsockname()[1])


def gateway() -> ServerThread:
    async def take(request: web.Request) -> web.Response:
        await request.read()
        return web.Response()

    app = web.Application()
    app.router.add_route("*", "/metrics/{group:.*}", take)
    return ServerThread(app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="yamlload-bench-live-"))
    with Target() as target, gateway() as pushgateway:
        outs = [
            *("--out", f"statsd=127.0.0.1:{statsd_listener()}"),
            *("--out", f"prometheus-push={pushgateway.url}"),
            *("--out", f"jsonl={folder / 'live.jsonl'}"),
        ]

        def run(extra: list[str], name: str) -> Measured:
            plan = yamlload_plan(target.url, args.seconds, "max", TRANSPORT)
            return run_plan(plan, TRANSPORT, name, args.seconds, extra_args=extra)

        without, with_outputs = interleaved(
            [lambda: run([], "no outputs"), lambda: run(outs, "three outputs")],
            args.repeats,
            lambda m: m.rps,
            "{:,.0f} req/s",
        )
    print(f"target: {target.name}, {args.seconds:g} s runs, {args.repeats} interleaved")
    for m in (without, with_outputs):
        print(
            f"{m.scenario:>14}: {m.rps:,.0f} req/s, {m.cpu_per_10k or 0:.3f} CPU s/10k ({m.note})"
        )
    print(f"throughput with outputs / without: {with_outputs.rps / without.rps:.4f}")
    cpu_without, cpu_with = without.cpu_per_10k or 1.0, with_outputs.cpu_per_10k or 0.0
    print(f"CPU per request with outputs / without: {cpu_with / cpu_without:.4f}")


if __name__ == "__main__":
    main()
