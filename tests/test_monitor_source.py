"""monitor/source.py: sources sampled while a run goes on (issue 17), against a real
Prometheus-format endpoint on 127.0.0.1 and a real local process. Never real DNS."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest
from aiohttp import web

from tests.servers import ServerThread, free_port, make_test_app, raw_tcp_server
from yamlload.monitor import exposition, source
from yamlload.monitor.process import PROCESS_METRICS
from yamlload.monitor.selector import parse
from yamlload.monitor.source import ProcessSource, PrometheusSource
from yamlload.monitor.values import SampleError

# What the endpoint serves, scrape after scrape: a counter (with a reset before the
# third scrape) and a gauge with labels.
SCRAPES = [
    """\
# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{code="200"} 100
http_requests_total{code="500"} 10
# TYPE pg_stat_activity_count gauge
pg_stat_activity_count{state="active"} 7
pg_stat_activity_count{state="idle"} 3
process_resident_memory_bytes 2.5e8
""",
    """\
http_requests_total{code="200"} 150
http_requests_total{code="500"} 12
pg_stat_activity_count{state="active"} 9
pg_stat_activity_count{state="idle"} 1
process_resident_memory_bytes 2.6e8
""",
    """\
http_requests_total{code="200"} 20
http_requests_total{code="500"} 13
pg_stat_activity_count{state="active"} 4
process_resident_memory_bytes 1e8
""",
]
METRICS = {
    "requests_per_second": parse("rate(http_requests_total)"),
    "errors_per_second": parse('rate(http_requests_total{code=~"5.."})'),
    "active": parse('sum(pg_stat_activity_count{state="active"})'),
    "connections": parse("pg_stat_activity_count"),
    "memory_mb": parse("process_resident_memory_bytes / 1e6"),
}
HUGE_BYTES = 5000
CAP_BYTES = 1000


def metrics_app() -> web.Application:
    app = make_test_app()
    served = {"n": 0}

    async def metrics(request: web.Request) -> web.Response:
        body = SCRAPES[min(served["n"], len(SCRAPES) - 1)]
        served["n"] += 1
        return web.Response(text=body, content_type="text/plain")

    async def huge(request: web.Request) -> web.Response:
        return web.Response(text="m 1\n" * (HUGE_BYTES // 4), content_type="text/plain")

    async def huge_chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(HUGE_BYTES // 100):
            await response.write(b"m 1\n" * 25)
        await response.write_eof()
        return response

    async def steady(request: web.Request) -> web.Response:
        return web.Response(text=SCRAPES[0], content_type="text/plain")

    async def stuck(request: web.Request) -> web.Response:
        return web.Response(text=f'up{{path="{"a" * 60}"}} 1\n', content_type="text/plain")

    async def benign(request: web.Request) -> web.Response:
        return web.Response(text='up{path="b"} 1\n', content_type="text/plain")

    async def too_many(request: web.Request) -> web.Response:
        lines = (f'm{{n="{n}"}} 1\n' for n in range(exposition.MAX_SAMPLES + 1))
        return web.Response(text="".join(lines), content_type="text/plain")

    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html>\n<body>Hello</body>\n</html>\n", content_type="text/html")

    async def failing(request: web.Request) -> web.Response:
        return web.Response(status=503, text="down")

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/huge", huge)
    app.router.add_get("/huge-chunked", huge_chunked)
    app.router.add_get("/steady", steady)
    app.router.add_get("/stuck", stuck)
    app.router.add_get("/benign", benign)
    app.router.add_get("/too-many", too_many)
    app.router.add_get("/html", html)
    app.router.add_get("/failing", failing)
    return app


@pytest.fixture
def endpoint() -> Iterator[str]:
    with ServerThread(metrics_app()) as running:
        yield running.url


class Clock:
    """The source's clock, moved by the test: scrapes 10 s apart."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def scrape_all(src: PrometheusSource, clock: Clock, times: int) -> list[object]:
    readings: list[object] = []
    try:
        for _ in range(times):
            readings.append(await src.sample())
            clock.now += 10
    finally:
        await src.close()
    return readings


def test_a_counter_and_a_gauge_with_labels_and_a_reset(endpoint: str) -> None:
    clock = Clock()
    src = PrometheusSource("api", f"{endpoint}/metrics", METRICS, timeout=5, clock=clock)
    assert src.metrics == tuple(METRICS)
    first, second, third = asyncio.run(scrape_all(src, clock, 3))
    assert first == {
        "requests_per_second": None,  # a rate needs an earlier scrape
        "errors_per_second": None,
        "active": 7,
        "connections": 10,
        "memory_mb": 250,
    }
    assert second == {
        "requests_per_second": pytest.approx((50 + 2) / 10),
        "errors_per_second": pytest.approx(0.2),
        "active": 9,
        "connections": 10,
        "memory_mb": 260,
    }
    # code="200" went from 150 to 20: the counter was reset and counts 20 since
    assert third == {
        "requests_per_second": pytest.approx((20 + 1) / 10),
        "errors_per_second": pytest.approx(0.1),
        "active": 4,
        "connections": 4,
        "memory_mb": 100,
    }


def test_a_failed_scrape_keeps_the_earlier_one_for_rates(endpoint: str) -> None:
    clock = Clock()
    rate = {"rps": parse("rate(http_requests_total)")}
    good = PrometheusSource("api", f"{endpoint}/metrics", rate, timeout=5, clock=clock)

    async def run() -> list[object]:
        readings = [await good.sample()]
        clock.now += 10
        good.url = f"{endpoint}/failing"
        readings.append(await good.sample())
        clock.now += 10
        good.url = f"{endpoint}/metrics"
        readings.append(await good.sample())
        await good.close()
        return readings

    first, failed, after = asyncio.run(run())
    assert first == {"rps": None}
    assert failed == SampleError("HTTP 503")
    assert after == {"rps": pytest.approx(52 / 20)}  # over the 20 s since the last good one


def test_a_server_that_hangs_is_an_error_value_after_the_timeout() -> None:
    def hang(conn: socket.socket) -> None:
        conn.recv(65536)
        time.sleep(3)
        conn.close()

    with raw_tcp_server(hang) as url:
        src = PrometheusSource("api", f"{url}/metrics", METRICS, timeout=0.3)
        started = time.monotonic()
        (reading,) = asyncio.run(scrape_all(src, Clock(), 1))
        assert time.monotonic() - started < 2
    assert reading == SampleError("no answer within 0.3s")


def test_a_body_that_stalls_is_an_error_value_after_the_timeout() -> None:
    def stall(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nm 1\n")
        time.sleep(3)
        conn.close()

    with raw_tcp_server(stall) as url:
        src = PrometheusSource("api", f"{url}/metrics", METRICS, timeout=0.3)
        (reading,) = asyncio.run(scrape_all(src, Clock(), 1))
    assert reading == SampleError("no answer within 0.3s")


@pytest.mark.parametrize("path", ["/huge", "/huge-chunked"])
def test_a_body_past_the_cap_is_an_error_value(
    endpoint: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source, "MAX_BODY_BYTES", CAP_BYTES)
    src = PrometheusSource("api", f"{endpoint}{path}", {"m": parse("m")}, timeout=5)
    (reading,) = asyncio.run(scrape_all(src, Clock(), 1))
    assert reading == SampleError(f"the body is larger than {CAP_BYTES} bytes")


def test_a_body_within_the_cap_is_read(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "MAX_BODY_BYTES", HUGE_BYTES)
    src = PrometheusSource("api", f"{endpoint}/huge-chunked", {"m": parse("m")}, timeout=5)
    (reading,) = asyncio.run(scrape_all(src, Clock(), 1))
    assert reading == {"m": 1.0}  # the same series again and again: the last one counts


def test_a_refused_port_is_an_error_value() -> None:
    port = free_port()
    src = PrometheusSource("api", f"http://127.0.0.1:{port}/metrics", METRICS, timeout=5)
    (reading,) = asyncio.run(scrape_all(src, Clock(), 1))
    assert isinstance(reading, SampleError)
    assert reading.message.startswith(f"cannot connect to 127.0.0.1:{port}: "), reading


def test_a_page_that_is_not_prometheus_text_is_an_error_value(endpoint: str) -> None:
    src = PrometheusSource("api", f"{endpoint}/html", METRICS, timeout=5)
    (reading,) = asyncio.run(scrape_all(src, Clock(), 1))
    assert reading == SampleError("not Prometheus text: none of its 3 lines is a sample")


def test_too_many_samples_is_an_error_value(endpoint: str) -> None:
    # the worker process reads the cap of its own copy of exposition.py: a real page
    src = PrometheusSource("api", f"{endpoint}/too-many", {"m": parse("m")}, timeout=5)
    (reading,) = asyncio.run(scrape_all(src, Clock(), 1))
    assert reading == SampleError(
        f"more than {exposition.MAX_SAMPLES} samples of the metrics asked for"
    )


def test_a_url_that_is_not_one_is_an_error_value() -> None:
    src = PrometheusSource("api", "http//user:secret@x", METRICS, timeout=5)
    (reading,) = asyncio.run(scrape_all(src, Clock(), 1))
    assert reading == SampleError("not a URL")  # without the URL: it may hold a password


def test_a_url_of_another_scheme_is_an_error_value() -> None:
    src = PrometheusSource("api", "ftp://user:secret@127.0.0.1/metrics", METRICS, timeout=5)
    (reading,) = asyncio.run(scrape_all(src, Clock(), 1))
    assert reading == SampleError("not an http:// or https:// URL")


def test_only_the_metrics_asked_for_are_kept(endpoint: str) -> None:
    src = PrometheusSource("api", f"{endpoint}/metrics", {"m": parse("memory_bytes")}, timeout=5)
    assert src.keep == frozenset({"memory_bytes"})


def test_a_process_source_samples_off_the_loop() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], stdout=subprocess.DEVNULL
    )
    try:
        src = ProcessSource("db", pid=child.pid)
        assert src.metrics == PROCESS_METRICS

        async def run() -> list[object]:
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            ticker = asyncio.create_task(tick())
            readings = [await src.sample()]
            await asyncio.sleep(0.1)
            readings.append(await src.sample())
            ticker.cancel()
            await src.close()
            assert ticks > 0  # the loop went on while psutil read /proc
            return readings

        first, second = asyncio.run(run())
        assert isinstance(first, dict) and first["threads"] == 1
        assert first["cpu_percent"] is None
        assert isinstance(second, dict) and second["cpu_percent"] is not None
    finally:
        child.kill()
        child.wait(10)
    gone = asyncio.run(ProcessSource("db", pid=child.pid).sample())
    assert isinstance(gone, SampleError)


def test_a_process_source_by_name_that_matches_nothing_is_an_error_value() -> None:
    reading = asyncio.run(ProcessSource("db", process="no-such-process-x").sample())
    assert reading == SampleError("no process named 'no-such-process-x'")


def test_importing_the_sources_loads_no_aiohttp() -> None:
    code = "import sys, yamlload.monitor.source; assert 'aiohttp' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# `(a|a)*b` against 60 a's backtracks 2**60 ways: it never ends (tests/test_monitor_worker.py
# runs it where a hang would be a failure, not a stuck test run).
CATASTROPHIC = parse('sum(up{path=~"(a|a)*b"})')


def test_selectors_are_evaluated_off_the_loop_and_given_up_after_a_limit(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A selector that takes too long (a catastrophic regex) is an error value after
    EVALUATE_TIMEOUT_SECONDS, while the loop goes on; its worker is killed, and the next
    sample gets a fresh one."""
    monkeypatch.setattr(source, "EVALUATE_TIMEOUT_SECONDS", 0.3)
    src = PrometheusSource("api", f"{endpoint}/stuck", {"m": CATASTROPHIC}, timeout=5)

    async def run() -> tuple[object, object, int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.005)
                ticks += 1

        ticker = asyncio.ensure_future(tick())
        first = await src.sample()
        seen = ticks
        src.url = f"{endpoint}/benign"
        second = await src.sample()
        ticker.cancel()
        await src.close()
        return first, second, seen

    first, second, ticks = asyncio.run(run())
    assert first == SampleError("its selectors took longer than 0.3s to evaluate")
    assert second == {"m": 1.0}
    assert ticks > 0  # the loop ran while the selector was stuck
    assert worker_processes() == []


# multiprocessing's resource tracker, which a `--workers` run in this test process
# started (tests/test_shard.py, in whatever order the suite runs), lives as long as the
# process: a child, but no monitor worker's.
RESOURCE_TRACKER = "multiprocessing.resource_tracker"


def worker_processes() -> list[psutil.Process]:
    """This process's children (the monitor worker, or a zombie nobody reaped)."""
    children = psutil.Process().children(recursive=True)
    return [child for child in children if not _resource_tracker(child)]


def _resource_tracker(process: psutil.Process) -> bool:
    try:
        return any(RESOURCE_TRACKER in part for part in process.cmdline())
    except psutil.Error:  # a zombie, or gone meanwhile: counted
        return False


def test_sources_share_one_worker_and_keep_their_own_rates(endpoint: str) -> None:
    """Two sources (even of one name) sampled at once: one worker between them, one
    request at a time, each source's rate() from its own previous scrape."""
    clock = Clock()
    rate = {"rps": parse("rate(http_requests_total)")}
    one = PrometheusSource("api", f"{endpoint}/metrics", rate, timeout=5, clock=clock)
    other = PrometheusSource("api", f"{endpoint}/steady", rate, timeout=5, clock=clock)

    async def run() -> tuple[list[object], list[int]]:
        readings: list[object] = list(await asyncio.gather(one.sample(), other.sample()))
        workers = [p.pid for p in worker_processes()]
        clock.now += 10
        readings += await asyncio.gather(one.sample(), other.sample())
        await one.close()
        clock.now += 10
        readings.append(await other.sample())  # the worker stays for the source left
        await other.close()
        return readings, workers

    readings, workers = asyncio.run(run())
    assert len(workers) == 1
    assert readings[:2] == [{"rps": None}, {"rps": None}]
    assert readings[2] == {"rps": pytest.approx(52 / 10)}
    assert readings[3] == readings[4] == {"rps": 0.0}  # steady, from its own scrapes
    assert worker_processes() == []


def test_a_worker_that_died_is_an_error_value_and_is_started_again(endpoint: str) -> None:
    clock = Clock()
    rate = {"m": parse("rate(http_requests_total)")}
    src = PrometheusSource("api", f"{endpoint}/steady", rate, timeout=5, clock=clock)

    async def run() -> list[object]:
        readings: list[object] = [await src.sample()]
        (worker,) = worker_processes()
        worker.kill()  # as the kernel's OOM killer would; the source reaps it
        for _ in range(3):
            clock.now += 10
            readings.append(await src.sample())
        await src.close()
        return readings

    first, died, again, then = asyncio.run(run())
    assert first == {"m": None}
    assert died == SampleError("the monitor worker ended (killed by signal 9)")
    assert again == {"m": None}  # a fresh worker: no previous scrape for rate() yet
    assert then == {"m": 0.0}
    assert worker_processes() == []
