"""What watching a run live costs (issue 16: under 3% of max throughput).

    python bench/live_outputs.py [--seconds 10] [--repeats 3]

yamlload flat out (bench/run.py's `max` mode, fast transport) against nginx (or its
aiohttp stand-in), with and without everything watching at once, in pairs run back to
back (ABBA order): the dashboard with a page reading its events, a StatsD listener and a
Pushgateway stand-in on 127.0.0.1 (in this process, so that the outputs have someone to
talk to), and a JSON-lines file. On a
shared machine throughput drifts by more than the cost measured, so each pair is a
ratio of its own, and the medians of the pairs' ratios are printed: throughput, and the
CPU the load used per request (the report's yamlload.cpu_ms: start-up and imports, such
as aiohttp's for the Pushgateway, left out).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run import Measured, Target, free_port, read_events, run_plan, yamlload_plan
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
    pairs: list[tuple[Run, Run]] = []
    with Target() as target, gateway() as pushgateway:
        outs = [
            *("--out", f"statsd=127.0.0.1:{statsd_listener()}"),
            *("--out", f"prometheus-push={pushgateway.url}"),
            *("--out", f"jsonl={folder / 'live.jsonl'}"),
        ]
        for repeat in range(args.repeats):
            # ABBA: which side goes first alternates, so a machine that drifts (a shared
            # host's neighbours) weighs on both sides alike.
            done = {}
            for watched in (False, True) if repeat % 2 == 0 else (True, False):
                done[watched] = measure_run(target.url, args.seconds, outs if watched else [])
            pairs.append((done[False], done[True]))
    print(f"target: {target.name}, {args.seconds:g} s runs, {args.repeats} pairs, ABBA order")
    for without, with_outputs in pairs:
        print(f"  without {without}   with {with_outputs}")
    rps = statistics.median(w.rps / o.rps for o, w in pairs)
    cpu = statistics.median(w.load_cpu_per_10k / o.load_cpu_per_10k for o, w in pairs)
    print(f"throughput with outputs / without, median of the pairs: {rps:.4f}")
    print(f"load CPU per request with outputs / without, median of the pairs: {cpu:.4f}")


@dataclass
class Run:
    rps: float
    load_cpu_per_10k: float  # yamlload.cpu_ms over the load, start-up and imports left out
    process_cpu_per_10k: float

    def __str__(self) -> str:
        return (
            f"{self.rps:8,.0f} req/s, {self.load_cpu_per_10k:.3f} load CPU s/10k "
            f"({self.process_cpu_per_10k:.3f} whole process)"
        )


def measure_run(url: str, seconds: float, extra: list[str]) -> Run:
    plan = yamlload_plan(url, seconds, "max", TRANSPORT)
    if extra:  # and a page open on the dashboard, reading a frame a second
        port = free_port()
        extra = [*extra, "--dashboard", f"127.0.0.1:{port}"]
        threading.Thread(target=read_events, args=(port, seconds + 30), daemon=True).start()
    measured: Measured = run_plan(plan, TRANSPORT, "max", seconds, extra_args=extra)
    if not measured.requests:
        raise SystemExit(f"not measured: {measured.note}")
    counters = json.loads(plan.with_suffix(".json").read_text())["aggregate"]["counters"]
    load_cpu = counters.get("yamlload.cpu_ms", 0) / 1000
    per_10k = 10_000 / measured.requests
    return Run(measured.rps, load_cpu * per_10k, (measured.cpu_per_10k or 0.0))


if __name__ == "__main__":
    main()
