"""What the dashboard's server costs the run however it is asked: /metrics and
/state.json built at most once a second whatever the number of pollers, a bounded
number of requests and pages served at once (more are told 503 at once), and a page
that never reads cut off rather than buffered for. No load is made: the dashboard is
told its seconds by hand, on the test's own loop, as the engine would tell it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from yamlload import PlanOptions, load_plan
from yamlload.live import board as board_module
from yamlload.live import dashboard as dashboard_module
from yamlload.live.board import Board
from yamlload.live.dashboard import Dashboard
from yamlload.metrics.histogram import Metrics
from yamlload.metrics.live import LiveSeries, Second
from yamlload.metrics.names import ENDPOINT_LATENCY, endpoint_key
from yamlload.plan.secrets import Redactor
from yamlload.results.run import Progress

PLAN = """config:
  target: http://127.0.0.1:9
  phases: [{duration: 60, arrivalRate: 1}]
scenarios:
  - flow: [{get: {url: /ok}}]
"""
# Every wait here ends: a test that waits longer than this for something has failed.
WAIT_SECONDS = 20.0
POLL_SECONDS = 0.02


class Driven:
    """A dashboard on 127.0.0.1 whose seconds the test gives (`tick`)."""

    def __init__(self, dashboard: Dashboard, endpoints: int) -> None:
        self.dashboard = dashboard
        self.endpoints = endpoints
        self.live = LiveSeries()
        self.at = 0

    @property
    def url(self) -> str:
        return self.dashboard.url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].strip("/"))

    def tick(self) -> None:
        """One more second of traffic: a request to each endpoint."""
        self.at += 1
        second = Second(float(self.at), traffic(self.endpoints, self.at))
        self.live.seconds.append(second)
        self.live.total.merge(second.metrics)
        self.dashboard.second(self.live, Progress(float(self.at), 60.0, "", 1, 0, 0, 0, 0.0))


def traffic(endpoints: int, at: int) -> Metrics:
    metrics = Metrics()
    for n in range(endpoints):
        label = f"GET /endpoint/{n}"
        metrics.count("http.requests")
        metrics.count("http.codes.200")
        metrics.count(endpoint_key(label, "codes.200"))
        metrics.observe("http.response_time", 1.0 + (n + at) % 97)
        metrics.observe(ENDPOINT_LATENCY + label, 1.0 + (n + at) % 97)
    return metrics


@asynccontextmanager
async def driven(tmp_path: Path, endpoints: int = 3) -> AsyncIterator[Driven]:
    path = tmp_path / "plan.yml"
    path.write_text(PLAN, encoding="utf-8")
    plan = load_plan(str(path), PlanOptions())
    dashboard = Dashboard(plan, [], Redactor(), "127.0.0.1", 0, (), lambda line: None)
    await dashboard.start()
    running = Driven(dashboard, endpoints)
    running.tick()
    try:
        yield running
    finally:
        await dashboard.finish(running.live, Progress(float(running.at), 60.0, "", 0, 0, 0, 0, 0.0))


def counting(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """Count the calls of owner.name from now on."""
    calls: list[int] = []
    original: Callable[..., Any] = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(int(WAIT_SECONDS / POLL_SECONDS)):
        if condition():
            return
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError("waited too long")


def stuck_request(port: int, path: str) -> socket.socket:
    """A client that asks for `path` and never reads the answer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    return sock


def test_metrics_and_state_are_built_once_a_second_however_many_poll(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard_module, "REQUESTS_PER_SECOND", 10_000)  # not this test's
    expositions = counting(monkeypatch, board_module, "exposition")
    states = counting(monkeypatch, Board, "_state")
    frames = counting(monkeypatch, Board, "_frame")

    async def poll() -> list[int]:
        async with driven(tmp_path) as run, aiohttp.ClientSession() as session:

            async def get(route: str) -> int:
                async with session.get(run.url + route) as response:
                    await response.read()
                    return response.status

            statuses = []
            at_once = dashboard_module.MAX_REQUESTS  # more would be told 503
            for _ in range(3):  # three seconds, each polled 40 times on both routes
                for _ in range(10):
                    asks = [get(("metrics", "state.json")[n % 2]) for n in range(at_once)]
                    statuses += await asyncio.gather(*asks)
                run.tick()
            return statuses

    statuses = asyncio.run(asyncio.wait_for(poll(), WAIT_SECONDS))
    assert set(statuses) == {200}
    assert len(expositions) == 3 and len(states) == 3
    assert frames == []  # /state.json draws nothing, and no page was open


def test_requests_past_the_limit_are_told_503_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard_module, "MAX_REQUESTS", 2)
    monkeypatch.setattr(dashboard_module, "SEND_BUFFER_BYTES", 4096)  # full sooner

    async def crowd() -> tuple[int, str | None, int]:
        # Enough endpoints that /metrics (about 1 MB) outgrows every buffer on the way.
        async with driven(tmp_path, endpoints=800) as run, aiohttp.ClientSession() as session:
            stuck = [stuck_request(run.port, "/metrics") for _ in range(2)]
            try:
                await until(lambda: run.dashboard.serving == 2)
                async with session.get(run.url + "state.json") as response:
                    busy, retry = response.status, response.headers.get("Retry-After")
            finally:
                for sock in stuck:
                    sock.close()
            await until(lambda: run.dashboard.serving == 0)
            async with session.get(run.url + "state.json") as response:
                return busy, retry, response.status

    busy, retry, after = asyncio.run(asyncio.wait_for(crowd(), WAIT_SECONDS))
    assert (busy, retry, after) == (503, "1", 200)


def test_a_client_that_never_reads_its_answer_is_cut_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard_module, "SEND_BUFFER_BYTES", 4096)
    monkeypatch.setattr(dashboard_module, "REQUEST_SECONDS", 0.2)

    async def stall() -> bytes:
        async with driven(tmp_path, endpoints=800) as run:
            sock = stuck_request(run.port, "/metrics")
            try:
                await until(lambda: run.dashboard.serving == 1)
                await until(lambda: run.dashboard.serving == 0)  # cut, though still open
                sock.setblocking(False)
                return await read_to_the_end(sock)
            finally:
                sock.close()

    received = asyncio.run(asyncio.wait_for(stall(), WAIT_SECONDS))
    assert received.startswith(b"HTTP/1.1 200") and len(received) < 1_000_000


async def read_to_the_end(sock: socket.socket) -> bytes:
    loop = asyncio.get_running_loop()
    received = b""
    try:
        while chunk := await loop.sock_recv(sock, 65536):
            received += chunk
    except ConnectionError:
        pass  # cut off: what came before is the answer's start
    return received


def test_pages_past_the_limit_are_told_503_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard_module, "MAX_PAGES", 2)

    async def crowd() -> tuple[int, str | None, int]:
        async with driven(tmp_path) as run, aiohttp.ClientSession() as session:
            stuck = [stuck_request(run.port, "/events") for _ in range(2)]
            try:
                await until(lambda: len(run.dashboard.clients) == 2)
                async with session.get(run.url + "events") as response:
                    busy, retry = response.status, response.headers.get("Retry-After")
                async with session.get(run.url + "metrics") as response:
                    metrics = response.status  # other routes are not held up
            finally:
                for sock in stuck:
                    sock.close()
            return busy, retry, metrics

    assert asyncio.run(asyncio.wait_for(crowd(), WAIT_SECONDS)) == (503, "1", 200)


def test_a_page_that_never_reads_is_cut_off_and_holds_nothing_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard_module, "SEND_BUFFER_BYTES", 4096)
    monkeypatch.setattr(dashboard_module, "STUCK_SECONDS", 1)
    ticks = 100  # 5 s or more: far more than the page needs to be STUCK_SECONDS behind

    async def stall() -> tuple[int, int, bytes]:
        async with driven(tmp_path, endpoints=50) as run:
            sock = stuck_request(run.port, "/events")
            try:
                await until(lambda: len(run.dashboard.clients) == 1)
                given = 0
                while run.dashboard.clients and given < ticks:
                    run.tick()
                    given += 1
                    await asyncio.sleep(0.05)  # the handler writes what it can
                await until(lambda: not run.dashboard.clients)
                sock.setblocking(False)
                return given, run.dashboard.cut, await read_to_the_end(sock)
            finally:
                sock.close()

    given, cut, received = asyncio.run(asyncio.wait_for(stall(), WAIT_SECONDS))
    assert given < ticks and cut == 1
    assert received.startswith(b"HTTP/1.1 200")


def test_a_flood_of_requests_is_answered_at_the_budgeted_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many ask at once, about REQUESTS_PER_SECOND are answered a second, those
    with a wrong Host too (their 421 waits its turn), and a request that would wait past
    MAX_WAIT_SECONDS has its connection closed unanswered: a flood costs the run's loop
    a bounded number of answers, refusals included."""
    monkeypatch.setattr(dashboard_module, "REQUESTS_PER_SECOND", 2)
    monkeypatch.setattr(dashboard_module, "MAX_WAIT_SECONDS", 1.0)

    async def flood(host: str | None) -> list[int]:
        async with driven(tmp_path) as run, aiohttp.ClientSession() as session:
            headers = {"Host": host} if host else {}

            async def get() -> int:
                try:
                    async with session.get(run.url + "state.json", headers=headers) as response:
                        await response.read()
                        return response.status
                except aiohttp.ClientError:
                    return 0  # closed unanswered

            return list(await asyncio.gather(*(get() for _ in range(40))))

    for host, answer in ((None, 200), ("evil.example", 421)):
        statuses = asyncio.run(asyncio.wait_for(flood(host), WAIT_SECONDS))
        answered = statuses.count(answer)
        # turns at 0, 0.5 and 1 s, and a few more if the 40 took a while to arrive
        assert 1 <= answered <= 10 and statuses.count(0) == 40 - answered, statuses


def test_a_connection_idle_after_an_answer_is_closed_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slowloris on a later request: a connection that was answered once, then sends the
    next request's headers a line at a time, is closed IDLE_SECONDS after that answer."""
    monkeypatch.setattr(dashboard_module, "IDLE_SECONDS", 0.3)

    async def linger() -> bool:
        async with driven(tmp_path) as run:
            loop = asyncio.get_running_loop()
            sock = socket.socket()
            sock.setblocking(False)
            await loop.sock_connect(sock, ("127.0.0.1", run.port))
            try:
                ask = f"GET /state.json HTTP/1.1\r\nHost: 127.0.0.1:{run.port}\r\n\r\n"
                await loop.sock_sendall(sock, ask.encode())
                await asyncio.sleep(0.2)
                sock.recv(1 << 20)  # the first answer
                await loop.sock_sendall(sock, b"GET / HTTP/1.1\r\n")  # and never more
                await asyncio.sleep(0.5)
                run.tick()
                await asyncio.sleep(0.1)
                return _closed(sock)
            finally:
                sock.close()

    assert asyncio.run(asyncio.wait_for(linger(), WAIT_SECONDS))


def test_connections_past_the_limit_are_closed_and_idle_ones_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held connections never take more than MAX_CONNECTIONS file descriptors, and one
    that sends no whole request (slowloris) is closed IDLE_SECONDS after it
    opened, so that the dashboard answers again."""
    monkeypatch.setattr(dashboard_module, "MAX_CONNECTIONS", 4)
    monkeypatch.setattr(dashboard_module, "IDLE_SECONDS", 0.3)

    async def hold() -> tuple[int, int, int]:
        async with driven(tmp_path) as run, aiohttp.ClientSession() as session:
            loop = asyncio.get_running_loop()
            held = []
            for _ in range(7):
                sock = socket.socket()
                sock.setblocking(False)
                await loop.sock_connect(sock, ("127.0.0.1", run.port))
                await loop.sock_sendall(
                    sock, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                )  # never ends
                held.append(sock)
            try:
                await asyncio.sleep(0.1)
                refused = sum(1 for sock in held if _closed(sock))
                await asyncio.sleep(0.5)
                run.tick()  # a second: connections with no whole request are cut
                await asyncio.sleep(0.1)
                cut = sum(1 for sock in held if _closed(sock))
                async with session.get(run.url + "state.json") as response:
                    return refused, cut, response.status
            finally:
                for sock in held:
                    sock.close()

    refused, cut, status = asyncio.run(asyncio.wait_for(hold(), WAIT_SECONDS))
    assert refused == 3 and cut == 7 and status == 200


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


def test_a_page_that_reads_gets_the_place_of_one_that_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard_module, "MAX_PAGES", 2)
    monkeypatch.setattr(dashboard_module, "SEND_BUFFER_BYTES", 4096)

    async def crowd() -> tuple[int, int]:
        async with driven(tmp_path, endpoints=50) as run, aiohttp.ClientSession() as session:
            stuck = [stuck_request(run.port, "/events") for _ in range(2)]
            try:
                await until(lambda: len(run.dashboard.clients) == 2)
                for _ in range(20):  # frames they do not take
                    run.tick()
                    await asyncio.sleep(0.02)
                async with session.get(run.url + "events") as response:
                    return response.status, run.dashboard.cut
            finally:
                for sock in stuck:
                    sock.close()

    status, cut = asyncio.run(asyncio.wait_for(crowd(), WAIT_SECONDS))
    assert status == 200 and cut == 1
