"""The bundled demo API: `yamlload target` serves it, and `run --demo-target` starts it
for one run (see `DemoTarget`)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from typing import Any

import click

from .._child import python_command
from ..errors import UsageError

# How long a stopped demo target may take to exit before it is killed.
STOP_SECONDS = 5
STOP_SIGNALS = ("SIGINT", "SIGTERM")
# What /work takes (demo_target.py's defaults are its own: imported only when serving).
MAX_WORKERS = 10_000
MAX_WORK_MS = 60_000.0


@click.command(short_help="Serve the bundled demo API until stopped.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=int, help="Port (0 picks a free one)."
)
@click.option(
    "--racy",
    is_flag=True,
    help="Let concurrent orders oversell (the bug plans/last_item_race.yml catches).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_WORKERS),
    help="Workers of /work (default 4): with --work-ms, its known capacity (docs/limits.md).",
)
@click.option(
    "--work-ms",
    type=click.FloatRange(0.1, MAX_WORK_MS),
    help="Milliseconds each /work request holds a worker (default 20): capacity "
    "WORKERS × 1000 / MS per second.",
)
@click.option(
    "--exit-with-parent",
    type=int,
    hidden=True,  # for `run --demo-target`, which starts it: not a user's option
    help="Stop when the process with this id is no longer the parent.",
)
def target(
    host: str,
    port: int,
    racy: bool,
    workers: int | None,
    work_ms: float | None,
    exit_with_parent: int | None,
) -> None:
    """Serve the bundled demo API (a small shop) until stopped.

    Endpoints: POST /auth/login, GET /products, GET /products/{id}, GET /search?q=,
    POST /orders, GET /orders/{id}, POST /admin/reset, GET /health, GET /work (a known
    capacity: --workers × 1000 / --work-ms requests a second), and for tests
    GET /delay/{ms}, /status/{code}, /bytes/{n}, /echo, /cookies/set. WebSocket:
    /ws/echo (each message sent back) and /ws/chat/{room} (a chat room: each member's
    messages go to every member, as JSON).
    """
    # aiohttp.web loads only here: `run`, which imports this module, must not load it
    from ..demo_target import WORK_MS, WORKERS, Workers
    from ..runtime.engine import run_on_uvloop  # the demo target serves on the runtime's loop

    pool = Workers(workers or WORKERS, work_ms or WORK_MS)
    run_on_uvloop(_serve_demo(host, port, racy, pool, exit_with_parent))


async def _serve_demo(host: str, port: int, racy: bool, pool: Any, parent_pid: int | None) -> None:
    from ..demo_target import parent_gone, start_demo_target

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Before it says where it listens: `run --demo-target` may stop it the moment it
    # reads that line (a missing plan), and a stop then is a clean one, said nowhere.
    for name in STOP_SIGNALS:
        loop.add_signal_handler(getattr(signal, name), stop.set)
    runner, url = await start_demo_target(host, port, racy, pool)
    kind = " (racy: concurrent orders oversell)" if racy else ""
    print(f"yamlload demo target listening on {url}{kind}", flush=True)
    print(
        f"/work: {pool.count} workers × {pool.work_ms:g} ms, capacity {pool.capacity:,.1f}/s",
        flush=True,
    )
    watching = None
    if parent_pid is not None:
        watching = asyncio.create_task(parent_gone(parent_pid))
        watching.add_done_callback(lambda _: stop.set())
    await stop.wait()
    if watching is not None:
        watching.cancel()
    await runner.cleanup()


class DemoTarget:
    """Start `yamlload target` in its own process, so it never competes with the
    generator's event loop, and stop it afterwards."""

    def __init__(self, wanted: bool) -> None:
        self.wanted = wanted
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> str | None:
        if not self.wanted:
            return None
        command = [
            *python_command("yamlload", "target", "--host", "127.0.0.1", "--port", "0"),
            # A run killed outright (SIGKILL) cannot stop it: it stops when this is gone.
            *("--exit-with-parent", str(os.getpid())),
        ]
        # Its own session: a Ctrl-C meant for the run must not kill the target first.
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = re.search(r"(http://\S+)", line)
        if not found:
            self.__exit__()
            raise UsageError("the demo target did not start")
        return found.group(1)

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
