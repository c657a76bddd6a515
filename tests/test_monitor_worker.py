"""monitor/worker.py: a Prometheus source's page is parsed, and its selectors evaluated,
in a worker process of the run's own, so that a catastrophic regex in a label matcher or
a big page never stops, freezes or slows the process that makes the load.

Against real endpoints on 127.0.0.1. Anything that hung before this worker existed (a
regex holding the GIL froze the whole process) runs in a child python, so that a hang is
a failure after a bound, never a stuck test run. No wall-clock time is asserted."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from aiohttp import web

from tests.helpers import REPO
from tests.servers import ServerThread, make_test_app
from yamlload.monitor.worker import Request, read_frame, request_head

WORKER_MODULE = "yamlload.monitor.worker"
# `(a|a)*b` against 60 a's backtracks 2**60 ways: it never ends.
CATASTROPHIC = 'sum(up{path=~"(a|a)*b"})'
PAGES = {
    "catastrophic": f'up{{path="{"a" * 60}"}} 1\n'.encode(),
    "benign": b'up{path="b"} 1\n',
}
# A page of a few MB: tens of thousands of series with ten labels each.
BIG_SERIES = 25_000
BIG_SOURCES = 4
# Bounds that turn a hang into a failure; a run that works ends far sooner.
HANG_SECONDS = 60.0
POLL_SECONDS = 0.05
SERVED = web.AppKey("served", dict)


def big_page() -> bytes:
    line = (
        'big{{path="/api/v1/items/{i}",method="GET",code="{code}",instance="host-{h}:9100",'
        'job="api",pod="api-7f9c4d-{i:05d}",region="eu-west-1",zone="eu-west-1a",'
        'version="1.2.3",shard="{s}"}} {i}\n'
    )
    return "".join(
        line.format(i=i, code=200 if i % 10 else 500, h=i % 50, s=i % 16) for i in range(BIG_SERIES)
    ).encode()


def pages_app() -> web.Application:
    app = make_test_app()
    pages = {**PAGES, "big": big_page()}
    served: dict[str, int] = {}
    app[SERVED] = served

    async def page(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        served[name] = served.get(name, 0) + 1
        return web.Response(body=pages[name], content_type="text/plain")

    app.router.add_get("/page/{name}", page)
    return app


@pytest.fixture
def server() -> Iterator[ServerThread]:
    with ServerThread(pages_app()) as running:
        yield running


def worker_pids(parent: int) -> set[int]:
    """The monitor worker processes below `parent` (none once it has gone)."""
    found: set[int] = set()
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(parent).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if WORKER_MODULE in " ".join(child.cmdline()):
                    found.add(child.pid)
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running (a zombie counts: nobody reaped it)."""
    living: set[int] = set()
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).status()
            living.add(pid)
    return living


# --- a source on a loop of its own, in a child python ---------------------------------


def scenario(url: str) -> dict[str, Any]:
    """Run in a child python (see the test below): one sample of the catastrophic page
    with a ticker counting, then one of a benign page, then close."""
    import asyncio

    from yamlload.monitor.selector import parse
    from yamlload.monitor.source import PrometheusSource

    async def run() -> dict[str, Any]:
        me = os.getpid()
        seen: set[int] = set()
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(POLL_SECONDS)
                ticks += 1
                seen.update(worker_pids(me))

        src = PrometheusSource("api", f"{url}/page/catastrophic", {"m": parse(CATASTROPHIC)})
        ticker = asyncio.ensure_future(tick())
        stuck = await src.sample()
        ticks_while_stuck, seen_while_stuck, after_stuck = ticks, set(seen), worker_pids(me)
        src.url = f"{url}/page/benign"
        good = await src.sample()
        restarted = worker_pids(me)
        ticker.cancel()
        await src.close()
        left = [p.pid for p in psutil.Process(me).children(recursive=True)]
        return {
            "stuck": str(stuck),
            "good": good,
            "ticks_while_stuck": ticks_while_stuck,
            "seen_while_stuck": sorted(seen_while_stuck),
            "after_stuck": sorted(after_stuck),
            "restarted": sorted(restarted),
            "left": left,
        }

    return asyncio.run(run())


def test_a_catastrophic_regex_is_given_up_while_the_loop_goes_on(server: ServerThread) -> None:
    code = (
        "import json, sys; from tests.test_monitor_worker import scenario; "
        "print(json.dumps(scenario(sys.argv[1])))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, server.url],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=HANG_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    said = json.loads(done.stdout.splitlines()[-1])
    assert said["stuck"] == "its selectors took longer than 2s to evaluate"
    assert said["ticks_while_stuck"] > 0  # the loop went on while the regex ran
    assert said["seen_while_stuck"], "no worker process ran the regex"
    assert said["after_stuck"] == []  # the stuck worker was killed and reaped
    assert said["good"] == {"m": 1.0}  # a fresh worker took the next sample
    assert said["restarted"] and not set(said["restarted"]) & set(said["seen_while_stuck"])
    assert said["left"] == []  # closing the source left no child, not even a zombie


# --- the worker's own process -----------------------------------------------------------

# A worker's address space in the test below: room for Python and a small page, not for
# parsing the big one (about 110 MB more).
SMALL_MEMORY_BYTES = 64 << 20


def ask(worker: subprocess.Popen[bytes], request: Request) -> object:
    """One request through the worker's pipes, as evaluator.py sends it."""
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdin.write(request_head(request) + request.body)
    worker.stdin.flush()
    data = read_frame(worker.stdout)
    assert data is not None, "the worker ended"
    return pickle.loads(data)


def test_a_page_past_the_workers_memory_is_an_error_value_and_it_goes_on() -> None:
    code = (
        "import yamlload.monitor.worker as w; "
        f"w.MEMORY_LIMIT_BYTES = {SMALL_MEMORY_BYTES}; w.main()"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO
    )
    watchdog = threading.Timer(HANG_SECONDS, worker.kill)  # a hung read ends at EOF
    watchdog.start()
    try:
        big = ask(worker, Request("big", (("m", "sum(big)"),), big_page(), 0.0))
        worker.send_signal(signal.SIGINT)  # as a Ctrl-C at the terminal: the run decides
        small = ask(worker, Request("up", (("m", "sum(up)"),), PAGES["benign"], 1.0))
        assert worker.stdin is not None
        worker.stdin.close()  # the run is gone: the worker ends
        ended = worker.wait(HANG_SECONDS)
    finally:
        watchdog.cancel()
        worker.kill()
        worker.wait(HANG_SECONDS)
    assert big == "the page needs more memory than the monitor worker may take (64 MiB)"
    assert small == {"m": 1.0}
    assert ended == 0


# --- whole runs, in a child `python -m yamlload` ---------------------------------------


def plan_text(url: str, seconds: int, arrivals: int, monitor: str) -> str:
    return (
        f"config:\n  target: {url}\n"
        f"  phases: [{{duration: {seconds}, arrivalCount: {arrivals}}}]\n"
        + (f"  monitor:\n{monitor}" if monitor else "")
        + "scenarios:\n  - flow: [{get: {url: /ok}}]\n"
    )


def source(name: str, url: str, selector: str) -> str:
    return (
        f"    - name: {name}\n      prometheus: {url}\n      interval: 1s\n"
        f"      metrics:\n        value: '{selector}'\n"
    )


class Run:
    """`python -m yamlload run` in a session of its own (so that the test can send its
    whole process group a Ctrl-C and clean up after it), its report in `out`."""

    def __init__(self, tmp_path: Path, text: str, name: str = "run") -> None:
        plan = tmp_path / f"{name}.yml"
        plan.write_text(text, encoding="utf-8")
        self.out = tmp_path / f"{name}.json"
        self.console = tmp_path / f"{name}.txt"
        with self.console.open("w") as console:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "yamlload", "run", str(plan), "-o", str(self.out)],
                cwd=REPO,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers: set[int] = set()

    def watch(self, until: float = HANG_SECONDS) -> None:
        """Note its worker processes until it ends, or for `until` seconds at most."""
        deadline = time.monotonic() + until
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.workers |= worker_pids(self.proc.pid)
            time.sleep(POLL_SECONDS)

    def wait_for_worker(self) -> None:
        deadline = time.monotonic() + HANG_SECONDS
        while not self.workers and self.proc.poll() is None and time.monotonic() < deadline:
            self.watch(until=POLL_SECONDS)
        assert self.workers, self.said()

    def report(self) -> dict[str, Any]:
        assert self.out.exists(), self.said()
        report: dict[str, Any] = json.loads(self.out.read_text())
        return report

    def counters(self) -> dict[str, int]:
        counters: dict[str, int] = self.report()["aggregate"]["counters"]
        return counters

    def said(self) -> str:
        return self.console.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(HANG_SECONDS)


@contextlib.contextmanager
def running(tmp_path: Path, text: str, name: str = "run") -> Iterator[Run]:
    run = Run(tmp_path, text, name)
    try:
        yield run
    finally:
        if run.proc.poll() is None:
            run.kill()


def wait_gone(pids: set[int]) -> set[int]:
    deadline = time.monotonic() + HANG_SECONDS
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    return alive(pids)


def test_a_run_with_a_catastrophic_selector_ends_with_its_numbers(
    tmp_path: Path, server: ServerThread
) -> None:
    url = server.url
    monitor = source("api", f"{url}/page/catastrophic", CATASTROPHIC)
    with running(tmp_path, plan_text(url, seconds=4, arrivals=20, monitor=monitor)) as run:
        run.watch()
        assert run.proc.poll() is not None, "the run did not end"
    assert run.proc.returncode == 0, run.said()
    counters = run.counters()
    assert counters["http.requests"] == counters["http.responses"] == 20
    assert counters["monitor.api.scrape_errors"] >= 1
    assert "longer than 2s to evaluate" in run.said()
    assert run.workers, "no worker process ran the selectors"
    assert wait_gone(run.workers) == set()


def test_ctrl_c_stops_a_run_whose_worker_is_stuck(tmp_path: Path, server: ServerThread) -> None:
    url = server.url
    monitor = source("api", f"{url}/page/catastrophic", CATASTROPHIC)
    with running(tmp_path, plan_text(url, seconds=60, arrivals=120, monitor=monitor)) as run:
        run.wait_for_worker()
        time.sleep(1)  # into the regex; a Ctrl-C from a terminal goes to the whole group
        os.killpg(run.proc.pid, signal.SIGINT)
        run.watch()
        assert run.proc.poll() is not None, "Ctrl-C did not stop the run"
    assert run.proc.returncode == 130, run.said()
    counters = run.counters()
    assert 0 < counters["http.requests"] < 120
    assert wait_gone(run.workers) == set()


@pytest.mark.parametrize("page", ["benign", "catastrophic"])
def test_a_killed_run_leaves_no_worker_behind(
    tmp_path: Path, server: ServerThread, page: str
) -> None:
    """SIGKILL leaves the run no chance to kill its worker: the worker ends by itself
    (its stdin closes; one stuck in a regex gives it up after its own limit)."""
    url = server.url
    monitor = source("api", f"{url}/page/{page}", CATASTROPHIC)
    with running(tmp_path, plan_text(url, seconds=60, arrivals=120, monitor=monitor)) as run:
        run.wait_for_worker()
        time.sleep(1)
        run.proc.kill()
        run.proc.wait(HANG_SECONDS)
        assert wait_gone(run.workers) == set()


def test_big_pages_change_none_of_the_runs_numbers(tmp_path: Path, server: ServerThread) -> None:
    url = server.url
    monitor = "".join(
        source(f"big{n}", f"{url}/page/big", 'sum(big{code="500"})') for n in range(BIG_SOURCES)
    )
    with running(tmp_path, plan_text(url, 4, 40, ""), "plain") as plain:
        plain.watch()
    with running(tmp_path, plan_text(url, 4, 40, monitor), "watched") as watched:
        watched.watch()
    assert plain.proc.returncode == watched.proc.returncode == 0, watched.said()
    assert watched.counters()["http.requests"] == plain.counters()["http.requests"] == 40
    assert watched.counters()["http.responses"] == 40
    gauges = watched.report()["aggregate"]["gauges"]
    assert any(f"monitor.big{n}.value" in gauges for n in range(BIG_SOURCES)), gauges.keys()
    assert server.app is not None and server.app[SERVED]["big"] >= BIG_SOURCES
    assert wait_gone(watched.workers) == set()


def test_a_yamlload_folder_where_the_command_runs_is_never_imported(
    tmp_path: Path, server: ServerThread
) -> None:
    """The worker (and the demo target) were started with `python -m`, which imports from
    the current folder first: a `yamlload/` there ran in their place (code execution, and
    monitoring silently broken)."""
    shadow = tmp_path / "yamlload"
    shadow.mkdir()
    marker = tmp_path / "imported"
    (shadow / "__init__.py").write_text(f"open({str(marker)!r}, 'a').write('x')\n")
    plan = tmp_path / "plan.yml"
    monitor = source("api", f"{server.url}/page/benign", "sum(up)")
    plan.write_text(plan_text(server.url, seconds=3, arrivals=6, monitor=monitor))
    out = tmp_path / "report.json"
    command = Path(sys.executable).parent / "yamlload"  # the console script, as users run it
    done = subprocess.run(
        [str(command), "run", "-q", "--demo-target", str(plan), "-o", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not marker.exists()
    report = json.loads(out.read_text())
    assert report["aggregate"]["gauges"]["monitor.api.value"]["count"] >= 2
    assert "monitor.api.scrape_errors" not in report["aggregate"]["counters"]
